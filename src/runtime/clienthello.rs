//! The layer-6 request fetches: what `tcp-request content` rules read in the
//! first bytes of a `mode tcp` connection before anything is forwarded
//! (`req.len`, `req.payload`, `req.payload_lv`, and the TLS ClientHello
//! fetches `req.ssl_hello_type`, `req.ssl_ver`, `req.ssl_sni`,
//! `req.ssl_alpn`, `req.ssl_ec_ext`, `req.ssl_st_ext`).
//!
//! Each function mirrors HAProxy 2.6's `payload.c`: the same checks in the
//! same order, so a buffer that HAProxy calls "too short" (more data may
//! still make the fetch succeed: `SMP_F_MAY_CHANGE`) or "not a hello" (the
//! fetch fails for good) is classified the same way here. That distinction
//! drives `tcp-request inspect-delay`: a rule whose verdict may still change
//! waits for more data. Unlike HAProxy's C, every read is bounds-checked: a
//! field lying past the buffered bytes counts as "too short".

use super::eval::Value;
use crate::ir::expr::{L6Fetch, LvOffset};
use bytes::Bytes;

/// The result of an L6 fetch over the current buffer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct L6Out {
    /// The values (several only for `req.ssl_alpn`, one per protocol).
    pub values: Vec<Value>,
    /// More data could change the outcome (`SMP_F_MAY_CHANGE`).
    pub may_change: bool,
}

impl L6Out {
    fn one(v: Value) -> L6Out {
        L6Out {
            values: vec![v],
            may_change: false,
        }
    }

    /// The fetch failed for good (`not_ssl_hello`, "will never match").
    fn fail() -> L6Out {
        L6Out::default()
    }

    /// Not enough data yet (`too_short`).
    fn short() -> L6Out {
        L6Out {
            values: Vec::new(),
            may_change: true,
        }
    }
}

/// Evaluates an L6 fetch over `data`; `limit` is the most the buffer can
/// hold (HAProxy's `tune.bufsize`).
pub fn fetch(f: &L6Fetch, data: &Bytes, limit: usize) -> L6Out {
    match *f {
        L6Fetch::Len => L6Out {
            values: vec![Value::Int(data.len() as i64)],
            may_change: true,
        },
        L6Fetch::Payload { offset, len } => payload(data, limit, offset as usize, len as usize),
        L6Fetch::PayloadLv {
            len_offset,
            len_size,
            buf_offset,
        } => payload_lv(
            data,
            limit,
            len_offset as usize,
            len_size as usize,
            buf_offset,
        ),
        L6Fetch::SslHelloType => hello_type(data),
        L6Fetch::SslVer => ssl_ver(data, limit),
        L6Fetch::SslAlpn => match extensions(data) {
            Err(out) => out,
            Ok(exts) => match find_ext(exts, 16) {
                Err(()) => L6Out::fail(),
                Ok(None) => L6Out::fail(),
                Ok(Some(body)) => alpn(body),
            },
        },
        L6Fetch::SslEcExt => match extensions(data) {
            Err(out) => out,
            Ok(exts) => match find_ext(exts, 10) {
                Ok(Some(_)) => L6Out::one(Value::Bool(true)),
                _ => L6Out::fail(),
            },
        },
        L6Fetch::SslStExt => match extensions(data) {
            Err(out) => out,
            Ok(exts) => match find_ext(exts, 35) {
                Err(()) => L6Out::fail(),
                Ok(None) => L6Out::one(Value::Int(0)),
                Ok(Some(body)) => L6Out::one(Value::Int(if body.is_empty() { 1 } else { 2 })),
            },
        },
    }
}

/// `req.ssl_sni`: the first host_name of the server_name extension.
pub fn sni(data: &Bytes) -> L6Out {
    let exts = match extensions(data) {
        Ok(e) => e,
        Err(out) => return out,
    };
    let Ok(Some(body)) = find_ext(exts, 0) else {
        return L6Out::fail();
    };
    // server_name_list length (≥ 4: one entry), then type, length, name.
    let (Some(list_len), Some(&name_type), Some(name_len)) =
        (be16(body, 0), body.get(2), be16(body, 3))
    else {
        return L6Out::fail();
    };
    if list_len < 4 || list_len + 2 > body.len() || name_type != 0 {
        return L6Out::fail();
    }
    match body.get(5..5 + name_len) {
        Some(name) => L6Out::one(Value::Str(Bytes::copy_from_slice(name))),
        None => L6Out::fail(),
    }
}

fn be16(b: &[u8], at: usize) -> Option<usize> {
    Some(((*b.get(at)? as usize) << 8) | *b.get(at + 1)? as usize)
}

fn be24(b: &[u8], at: usize) -> Option<usize> {
    Some(((*b.get(at)? as usize) << 16) | be16(b, at + 1)?)
}

/// `payload(offset,len)`: `len` 0 means "to the end of the buffer", a value
/// that may still grow.
fn payload(data: &Bytes, limit: usize, offset: usize, len: usize) -> L6Out {
    if len > limit || offset.saturating_add(len) > limit {
        return L6Out::fail();
    }
    if offset + len > data.len() {
        return L6Out::short();
    }
    let end = if len == 0 { data.len() } else { offset + len };
    L6Out {
        values: vec![Value::Bin(data.slice(offset..end))],
        may_change: len == 0,
    }
}

/// `payload_lv(len_offset,len_size[,buf_offset])`.
fn payload_lv(
    data: &Bytes,
    limit: usize,
    len_offset: usize,
    len_size: usize,
    buf_offset: Option<LvOffset>,
) -> L6Out {
    let Some(field) = data.get(len_offset..len_offset + len_size) else {
        return L6Out::short();
    };
    let size = field.iter().fold(0usize, |acc, b| (acc << 8) | *b as usize);
    let start = match buf_offset {
        None => Some((len_offset + len_size) as i64),
        Some(LvOffset::Relative(v)) => Some((len_offset + len_size) as i64 + v),
        Some(LvOffset::Absolute(v)) => Some(v),
    };
    let Some(start) = start.and_then(|s| usize::try_from(s).ok()) else {
        return L6Out::fail();
    };
    if size == 0 || size > limit || start.saturating_add(size) > limit {
        return L6Out::fail();
    }
    if start + size > data.len() {
        return L6Out::short();
    }
    L6Out::one(Value::Bin(data.slice(start..start + size)))
}

/// `req.ssl_hello_type`: the handshake type of a complete first record
/// (1 = ClientHello).
fn hello_type(data: &[u8]) -> L6Out {
    let Some(&first) = data.first() else {
        return L6Out::short();
    };
    if !((0x14..=0x17).contains(&first) || first == 0xFF) {
        return L6Out::fail();
    }
    if data.len() < 9 {
        return L6Out::short();
    }
    if ((data[1] as usize) << 16) + (data[2] as usize) < 0x0003_0000 {
        return L6Out::fail();
    }
    if be16(data, 3).unwrap_or(0) < 4 {
        return L6Out::fail();
    }
    let hs_type = data[5];
    let hs_len = be24(data, 6).unwrap_or(usize::MAX);
    if data.len() < 9 + hs_len {
        return L6Out::short();
    }
    L6Out::one(Value::Int(hs_type as i64))
}

/// `req.ssl_ver`: the ClientHello's version as `(major << 16) | minor`
/// (0x30003 for TLS 1.2 and 1.3 hellos), once the whole first message is
/// there; SSLv2-format hellos are understood too.
fn ssl_ver(data: &[u8], limit: usize) -> L6Out {
    let Some(&first) = data.first() else {
        return L6Out::short();
    };
    let (version, msg_len, rest) = if (0x14..=0x17).contains(&first) || first == 0xFF {
        if data.len() < 11 {
            return L6Out::short();
        }
        let record_version = ((data[1] as usize) << 16) + data[2] as usize;
        let msg_len = be16(data, 3).unwrap_or(0);
        if record_version < 0x0003_0000 || !(6..=(1 << 14) + 2048).contains(&msg_len) {
            return L6Out::fail();
        }
        let version = ((data[9] as usize) << 16) + data[10] as usize;
        (version, msg_len, data.len() - 5)
    } else {
        // SSLv2 header: short (2 bytes, 15-bit length) or long (3 bytes).
        let (rlen, plen, header) = if first & 0x80 != 0 {
            if data.len() < 3 {
                return L6Out::short();
            }
            ((((first & 0x7F) as usize) << 8) | data[1] as usize, 0, 2)
        } else {
            if data.len() < 4 {
                return L6Out::short();
            }
            (
                (((first & 0x3F) as usize) << 8) | data[1] as usize,
                data[2] as usize,
                3,
            )
        };
        if data[header] != 0x01 {
            return L6Out::fail();
        }
        let Some(h) = data.get(header + 1..header + 9) else {
            return L6Out::short();
        };
        let version = ((h[0] as usize) << 16) + h[1] as usize;
        let (cilen, silen, chlen) = (
            be16(h, 2).unwrap_or(0),
            be16(h, 4).unwrap_or(0),
            be16(h, 6).unwrap_or(0),
        );
        if cilen % 3 != 0
            || (silen != 0 && silen != 16)
            || !(16..=32).contains(&chlen)
            || rlen != 9 + cilen + silen + chlen
        {
            return L6Out::fail();
        }
        (
            version,
            cilen + silen + chlen + plen,
            data.len() - (header + 9),
        )
    };
    // HAProxy only waits for what fits in a buffer.
    if rest < msg_len.min(limit) {
        return L6Out::short();
    }
    L6Out::one(Value::Int(version as i64))
}

/// The extensions block of a complete ClientHello at the start of `data`,
/// with HAProxy's checks; `Err` holds the failed outcome.
fn extensions(data: &[u8]) -> Result<&[u8], L6Out> {
    let Some(&first) = data.first() else {
        return Err(L6Out::short());
    };
    if first != 0x16 {
        return Err(L6Out::fail());
    }
    if data.len() < 3 {
        return Err(L6Out::short());
    }
    if data[1] < 0x03 {
        return Err(L6Out::fail());
    }
    let Some(record_len) = be16(data, 3) else {
        return Err(L6Out::short());
    };
    if record_len < 1 + 3 + 2 + 32 + 1 + 2 + 2 + 1 + 1 + 2 + 2 {
        return Err(L6Out::fail());
    }
    let hs = &data[5..];
    let Some(&msg_type) = hs.first() else {
        return Err(L6Out::short());
    };
    if msg_type != 0x01 {
        return Err(L6Out::fail());
    }
    let Some(hs_len) = be24(hs, 1) else {
        return Err(L6Out::short());
    };
    if hs_len < 2 + 32 + 1 + 2 + 2 + 1 + 1 + 2 + 2 {
        return Err(L6Out::fail());
    }
    // The whole message (HAProxy compares against the bytes after the
    // record header; the 4-byte handshake header is checked too here).
    let Some(hello) = hs.get(4..4 + hs_len) else {
        return Err(L6Out::short());
    };
    if hello[0] < 0x03 || hello[1] < 0x01 {
        return Err(L6Out::fail());
    }
    let bad = || L6Out::fail();
    let sid_len = hello[34] as usize;
    if sid_len > 32 || sid_len > hs_len - 35 {
        return Err(bad());
    }
    let rest = &hello[35 + sid_len..];
    let ciphers = be16(rest, 0).ok_or_else(bad)?;
    if rest.len() < 4 || ciphers < 2 || ciphers > rest.len() {
        return Err(bad());
    }
    let rest = rest.get(2 + ciphers..).ok_or_else(bad)?;
    let comp = *rest.first().ok_or_else(bad)? as usize;
    if rest.len() < 2 || comp < 1 || comp > rest.len() {
        return Err(bad());
    }
    let rest = rest.get(1 + comp..).ok_or_else(bad)?;
    let ext_len = be16(rest, 0).ok_or_else(bad)?;
    if ext_len > rest.len() - 2 {
        return Err(bad());
    }
    Ok(&rest[2..2 + ext_len])
}

/// The body of the first extension of type `wanted`; `Err` when the list
/// is malformed before it is found.
fn find_ext(mut exts: &[u8], wanted: usize) -> Result<Option<&[u8]>, ()> {
    while exts.len() >= 4 {
        let ty = be16(exts, 0).ok_or(())?;
        let len = be16(exts, 2).ok_or(())?;
        if len > exts.len() - 4 {
            return Err(());
        }
        if ty == wanted {
            return Ok(Some(&exts[4..4 + len]));
        }
        exts = &exts[4 + len..];
    }
    Ok(None)
}

/// The protocol names of an ALPN extension body, in the client's order.
fn alpn(body: &[u8]) -> L6Out {
    if body.len() < 3 {
        return L6Out::fail();
    }
    let mut values = Vec::new();
    let mut at = 2;
    while at < body.len() {
        let n = body[at] as usize;
        let Some(name) = body.get(at + 1..at + 1 + n) else {
            break;
        };
        values.push(Value::Str(Bytes::copy_from_slice(name)));
        at += 1 + n;
    }
    if values.is_empty() {
        return L6Out::fail();
    }
    L6Out {
        values,
        may_change: false,
    }
}

#[cfg(test)]
#[path = "clienthello_tests.rs"]
pub(crate) mod tests;
