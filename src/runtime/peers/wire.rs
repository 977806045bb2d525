//! The byte format of HAProxy's peers protocol 2.1 (src/peers.c of HAProxy
//! 2.6): the variable-length integers, the message header, and the
//! stick-table messages (definition, update, acknowledgement).
//!
//! A message is two bytes, class and type; types with the high bit set
//! (stick-table data messages) carry a varint length and that many bytes.

use crate::ir::stick::{StickKey, StickTable, StoreType};
use crate::runtime::stick::{EntrySnapshot, Key, WireValue};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

pub const CLASS_CONTROL: u8 = 0;
pub const CLASS_ERROR: u8 = 1;
pub const CLASS_STICKTABLE: u8 = 10;
pub const CLASS_RESERVED: u8 = 255;

pub const CTRL_RESYNCREQ: u8 = 0;
pub const CTRL_RESYNCFINISHED: u8 = 1;
pub const CTRL_RESYNCPARTIAL: u8 = 2;
pub const CTRL_RESYNCCONFIRM: u8 = 3;
pub const CTRL_HEARTBEAT: u8 = 4;

pub const ERR_PROTOCOL: u8 = 0;
pub const ERR_SIZELIMIT: u8 = 1;

pub const STKT_UPDATE: u8 = 0x80;
pub const STKT_INCUPDATE: u8 = 0x81;
pub const STKT_DEFINE: u8 = 0x82;
pub const STKT_SWITCH: u8 = 0x83;
pub const STKT_ACK: u8 = 0x84;
pub const STKT_UPDATE_TIMED: u8 = 0x85;
pub const STKT_INCUPDATE_TIMED: u8 = 0x86;

/// The largest stick-table message accepted (HAProxy's buffer size).
pub const MAX_MESSAGE: u64 = 16_384;

/// Appends `i` in the protocol's varint encoding: below 240 one byte;
/// above, the low four bits with 0xF0 set, then 7-bit groups, each but the
/// last with the high bit set.
pub fn put_varint(out: &mut Vec<u8>, mut i: u64) {
    if i < 0xF0 {
        out.push(i as u8);
        return;
    }
    out.push((i as u8) | 0xF0);
    i = (i - 0xF0) >> 4;
    while i >= 0x80 {
        out.push((i as u8) | 0x80);
        i = (i - 0x80) >> 7;
    }
    out.push(i as u8);
}

/// Reads a varint at `*pos`; `None` if the buffer ends first.
pub fn get_varint(buf: &[u8], pos: &mut usize) -> Option<u64> {
    let first = *buf.get(*pos)?;
    *pos += 1;
    let mut i = first as u64;
    if i >= 0xF0 {
        let mut shift = 4u32;
        loop {
            let b = *buf.get(*pos)?;
            *pos += 1;
            i = i.wrapping_add((b as u64).checked_shl(shift)?);
            shift += 7;
            if b < 0x80 {
                break;
            }
            if shift > 64 {
                return None;
            }
        }
    }
    Some(i)
}

fn get_u32(buf: &[u8], pos: &mut usize) -> Option<u32> {
    let b = buf.get(*pos..*pos + 4)?;
    *pos += 4;
    Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

fn get_bytes<'a>(buf: &'a [u8], pos: &mut usize, n: usize) -> Option<&'a [u8]> {
    let b = buf.get(*pos..pos.checked_add(n)?)?;
    *pos += n;
    Some(b)
}

/// A stick-table message: header, varint length, body.
pub fn table_message(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![CLASS_STICKTABLE, kind];
    put_varint(&mut out, body.len() as u64);
    out.extend_from_slice(body);
    out
}

/// HAProxy's data type numbers (`STKTABLE_DT_*`).
pub fn data_type_id(t: StoreType) -> u32 {
    match t {
        StoreType::Gpt0 => 1,
        StoreType::Gpc0 => 2,
        StoreType::Gpc0Rate(_) => 3,
        StoreType::ConnCnt => 4,
        StoreType::ConnRate(_) => 5,
        StoreType::ConnCur => 6,
        StoreType::SessCnt => 7,
        StoreType::SessRate(_) => 8,
        StoreType::HttpReqCnt => 9,
        StoreType::HttpReqRate(_) => 10,
        StoreType::HttpErrCnt => 11,
        StoreType::HttpErrRate(_) => 12,
        StoreType::Gpc1 => 17,
        StoreType::Gpc1Rate(_) => 18,
        StoreType::ServerId => 0,
        StoreType::ServerKey => 19,
    }
}

/// How a data type is encoded, by HAProxy number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum StdType {
    /// One varint (sint, uint, ull).
    Int,
    /// Three varints (freq_ctr).
    Frqp,
    /// A length-prefixed dictionary entry (server_key).
    Dict,
    /// An array of ints / of freq_ctrs (gpt, gpc / gpc_rate).
    IntArray,
    FrqpArray,
}

fn std_type(id: u32) -> Option<StdType> {
    Some(match id {
        0..=2 | 4 | 6 | 7 | 9 | 11 | 13 | 15 | 17 | 20 => StdType::Int,
        3 | 5 | 8 | 10 | 12 | 14 | 16 | 18 | 21 => StdType::Frqp,
        19 => StdType::Dict,
        22 | 23 => StdType::IntArray,
        24 => StdType::FrqpArray,
        _ => return None,
    })
}

/// HAProxy's network key type and key size of a table.
pub fn key_type(key: StickKey) -> (u64, u64) {
    match key {
        StickKey::Integer => (2, 4),
        StickKey::Ip => (4, 4),
        StickKey::Ipv6 => (5, 16),
        StickKey::String { len } => (6, len as u64 + 1),
        StickKey::Binary { len } => (7, len as u64),
    }
}

/// The stored types of a table in HAProxy's data type order.
pub fn wire_order(spec: &StickTable) -> Vec<StoreType> {
    // `server_key` is a dictionary entry on the wire, which portcullis
    // does not speak: it stays local (the numeric `server_id` is synced).
    let mut v: Vec<StoreType> = spec
        .store
        .iter()
        .copied()
        .filter(|t| *t != StoreType::ServerKey)
        .collect();
    v.sort_by_key(|t| data_type_id(*t));
    v
}

/// The table definition message (`PEER_MSG_STKT_DEFINE`).
pub fn define(local_id: u64, wire_name: &str, spec: &StickTable) -> Vec<u8> {
    let mut body = Vec::new();
    put_varint(&mut body, local_id);
    put_varint(&mut body, wire_name.len() as u64);
    body.extend_from_slice(wire_name.as_bytes());
    let (kt, ks) = key_type(spec.key);
    put_varint(&mut body, kt);
    put_varint(&mut body, ks);
    let mut bits = 0u64;
    let mut params = Vec::new();
    for t in wire_order(spec) {
        let id = data_type_id(t);
        bits |= 1 << id;
        if let Some(p) = t.period() {
            put_varint(&mut params, id as u64);
            put_varint(&mut params, p);
        }
    }
    put_varint(&mut body, bits);
    put_varint(&mut body, spec.expire.unwrap_or(0));
    body.extend_from_slice(&params);
    table_message(STKT_DEFINE, &body)
}

/// An update message: with its update number, and (`timed`) the ms left
/// before the entry expires.
pub fn update(spec: &StickTable, e: &EntrySnapshot, timed: bool) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&e.upd.to_be_bytes());
    if timed {
        body.extend_from_slice(&(e.expire_in.min(u32::MAX as u64) as u32).to_be_bytes());
    }
    match (&e.key, spec.key) {
        (Key::Bytes(b), StickKey::String { .. }) => {
            put_varint(&mut body, b.len() as u64);
            body.extend_from_slice(b);
        }
        (Key::Int(i), _) => body.extend_from_slice(&(*i as u32).to_be_bytes()),
        (Key::Ip(IpAddr::V4(a)), StickKey::Ip) => body.extend_from_slice(&a.octets()),
        (Key::Ip(IpAddr::V4(a)), _) => body.extend_from_slice(&a.to_ipv6_mapped().octets()),
        (Key::Ip(IpAddr::V6(a)), _) => body.extend_from_slice(&a.octets()),
        (Key::Bytes(b), _) => body.extend_from_slice(b),
    }
    let mut values = e.values.clone();
    values.retain(|(t, _)| *t != StoreType::ServerKey);
    values.sort_by_key(|(t, _)| data_type_id(*t));
    for (_, v) in values {
        match v {
            WireValue::Count(n) => put_varint(&mut body, n),
            WireValue::Rate {
                elapsed,
                curr,
                prev,
            } => {
                put_varint(&mut body, elapsed.min(u32::MAX as u64));
                put_varint(&mut body, curr);
                put_varint(&mut body, prev);
            }
        }
    }
    let kind = if timed {
        STKT_UPDATE_TIMED
    } else {
        STKT_UPDATE
    };
    table_message(kind, &body)
}

/// The acknowledgement of the updates received up to `last` for the
/// remote's table `remote_id`.
pub fn ack(remote_id: u64, last: u32) -> Vec<u8> {
    let mut body = Vec::new();
    put_varint(&mut body, remote_id);
    body.extend_from_slice(&last.to_be_bytes());
    table_message(STKT_ACK, &body)
}

/// A remote table definition, as far as receiving updates needs it.
#[derive(Clone, Debug)]
pub struct RemoteTable {
    pub remote_id: u64,
    pub name: Vec<u8>,
    pub key_type: u64,
    pub key_size: u64,
    pub data: u64,
    /// Element counts of array data types, by data type number.
    pub nbelem: Vec<(u32, u64)>,
}

/// Parses a definition; `None` if malformed.
pub fn parse_define(body: &[u8]) -> Option<RemoteTable> {
    let mut pos = 0;
    let remote_id = get_varint(body, &mut pos)?;
    let len = get_varint(body, &mut pos)? as usize;
    if len == 0 {
        return None;
    }
    let name = get_bytes(body, &mut pos, len)?.to_vec();
    let key_type = get_varint(body, &mut pos)?;
    let key_size = get_varint(body, &mut pos)?;
    let data = get_varint(body, &mut pos)?;
    let mut nbelem = Vec::new();
    // The expire and the parameters were added later: optional.
    if get_varint(body, &mut pos).is_some() {
        for id in 0..64u32 {
            if data & (1 << id) == 0 {
                continue;
            }
            match std_type(id) {
                Some(StdType::IntArray) | Some(StdType::FrqpArray) => {
                    let t = get_varint(body, &mut pos)?;
                    if t != id as u64 {
                        return None;
                    }
                    nbelem.push((id, get_varint(body, &mut pos)?));
                    if std_type(id) == Some(StdType::FrqpArray) {
                        get_varint(body, &mut pos)?;
                    }
                }
                Some(StdType::Frqp) => {
                    let t = get_varint(body, &mut pos)?;
                    if t != id as u64 {
                        return None;
                    }
                    get_varint(body, &mut pos)?;
                }
                _ => {}
            }
        }
    }
    Some(RemoteTable {
        remote_id,
        name,
        key_type,
        key_size,
        data,
        nbelem,
    })
}

/// A received update.
#[derive(Clone, Debug)]
pub struct Update {
    /// The update number, when the message carries one.
    pub upd: Option<u32>,
    pub expire_in: Option<u64>,
    pub key: Key,
    /// Values of the data types portcullis stores.
    pub values: Vec<(u32, WireValue)>,
}

/// Parses an update for a table defined by `rt`, whose local key is `key`.
/// `None` if malformed.
pub fn parse_update(body: &[u8], kind: u8, rt: &RemoteTable, key: StickKey) -> Option<Update> {
    let mut pos = 0;
    let with_id = matches!(kind, STKT_UPDATE | STKT_UPDATE_TIMED);
    let timed = matches!(kind, STKT_UPDATE_TIMED | STKT_INCUPDATE_TIMED);
    let upd = if with_id {
        Some(get_u32(body, &mut pos)?)
    } else {
        None
    };
    let expire_in = if timed {
        Some(get_u32(body, &mut pos)? as u64)
    } else {
        None
    };
    let k = match key {
        StickKey::String { len } => {
            let n = get_varint(body, &mut pos)? as usize;
            let b = get_bytes(body, &mut pos, n)?;
            Key::Bytes(b[..n.min(len)].to_vec())
        }
        StickKey::Integer => Key::Int(get_u32(body, &mut pos)? as i32 as i64),
        StickKey::Ip => {
            let b = get_bytes(body, &mut pos, 4)?;
            Key::Ip(IpAddr::V4(Ipv4Addr::new(b[0], b[1], b[2], b[3])))
        }
        StickKey::Ipv6 => {
            let b = get_bytes(body, &mut pos, 16)?;
            let mut a = [0u8; 16];
            a.copy_from_slice(b);
            Key::Ip(IpAddr::V6(Ipv6Addr::from(a)))
        }
        StickKey::Binary { len } => Key::Bytes(get_bytes(body, &mut pos, len)?.to_vec()),
    };
    let mut values = Vec::new();
    for id in 0..64u32 {
        if rt.data & (1 << id) == 0 {
            continue;
        }
        let n = || {
            rt.nbelem
                .iter()
                .find(|(i, _)| *i == id)
                .map_or(0, |(_, n)| *n)
        };
        match std_type(id)? {
            StdType::Int => values.push((id, WireValue::Count(get_varint(body, &mut pos)?))),
            StdType::Frqp => {
                let elapsed = get_varint(body, &mut pos)?;
                let curr = get_varint(body, &mut pos)?;
                let prev = get_varint(body, &mut pos)?;
                values.push((
                    id,
                    WireValue::Rate {
                        elapsed,
                        curr,
                        prev,
                    },
                ));
            }
            StdType::Dict => {
                let len = get_varint(body, &mut pos)? as usize;
                get_bytes(body, &mut pos, len)?;
            }
            StdType::IntArray => {
                for _ in 0..n() {
                    get_varint(body, &mut pos)?;
                }
            }
            StdType::FrqpArray => {
                for _ in 0..n() * 3 {
                    get_varint(body, &mut pos)?;
                }
            }
        }
    }
    Some(Update {
        upd,
        expire_in,
        key: k,
        values,
    })
}

/// Parses an acknowledgement: (our table id, last update received).
pub fn parse_ack(body: &[u8]) -> Option<(u64, u32)> {
    let mut pos = 0;
    let id = get_varint(body, &mut pos)?;
    let last = get_u32(body, &mut pos)?;
    Some((id, last))
}

/// Parses a switch message: the remote table id.
pub fn parse_switch(body: &[u8]) -> Option<u64> {
    let mut pos = 0;
    get_varint(body, &mut pos)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn varints_round_trip_at_haproxy_boundaries() {
        for (i, len) in [
            (0u64, 1usize),
            (239, 1),
            (240, 2),
            (2287, 2),
            (2288, 3),
            (264_431, 3),
            (264_432, 4),
            (33_818_864, 5),
            (u32::MAX as u64, 5),
        ] {
            let mut b = Vec::new();
            put_varint(&mut b, i);
            assert_eq!(b.len(), len, "{i}");
            let mut pos = 0;
            assert_eq!(get_varint(&b, &mut pos), Some(i));
            assert_eq!(pos, len);
        }
        // 240 is 0xF0 0x00, as HAProxy's intencode writes it.
        let mut b = Vec::new();
        put_varint(&mut b, 240);
        assert_eq!(b, [0xF0, 0x00]);
        assert_eq!(get_varint(&[0xF5], &mut 0), None, "truncated");
    }

    #[test]
    fn a_definition_parses_back() {
        let spec = StickTable {
            name: "stkt".into(),
            key: StickKey::String { len: 31 },
            size: 100,
            expire: Some(60_000),
            nopurge: false,
            store: vec![StoreType::ConnRate(50_000), StoreType::Gpc0],
            peers: None,
        };
        let m = define(1, "stkt", &spec);
        assert_eq!(&m[..2], &[CLASS_STICKTABLE, STKT_DEFINE]);
        let mut pos = 2;
        let len = get_varint(&m, &mut pos).unwrap() as usize;
        let rt = parse_define(&m[pos..pos + len]).unwrap();
        assert_eq!(rt.name, b"stkt");
        assert_eq!((rt.key_type, rt.key_size), (6, 32));
        assert_eq!(rt.data, (1 << 2) | (1 << 5));
    }
}
