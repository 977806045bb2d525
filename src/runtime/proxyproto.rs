//! Receiving the PROXY protocol (`bind … accept-proxy`, `tcp-request
//! connection expect-proxy layer4`): the header a load balancer in front
//! writes before any byte of the client, v1 (text) or v2 (binary), as
//! HAProxy 2.6's `conn_recv_proxy` reads it.
//!
//! The header is read with exact-size reads, never past its end, so the
//! client's first byte (a TLS ClientHello, an HTTP request) stays in the
//! socket for the next layer. A LOCAL (v2) or UNKNOWN (v1) header keeps
//! the connection's own addresses; anything that is not a valid header
//! closes the connection, as HAProxy does.

use super::facts::ProxyHeaderFacts;
use super::proxytlv::{self, TlvError};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use tokio::io::{AsyncRead, AsyncReadExt};

const V2_SIGNATURE: &[u8; 12] = b"\r\n\r\n\0\r\nQUIT\n";

/// The longest v1 line, CRLF included (the specification's 107 bytes).
const V1_MAX: usize = 107;

/// Why a connection's PROXY header was refused.
#[derive(Debug, thiserror::Error)]
pub enum ProxyHeaderError {
    #[error("reading the PROXY header: {0}")]
    Io(#[from] std::io::Error),
    #[error("received something which does not look like a PROXY protocol header")]
    NotProxy,
    #[error("malformed PROXY v1 header")]
    BadV1,
    #[error("malformed PROXY v2 header")]
    BadV2,
    #[error(transparent)]
    Tlv(#[from] TlvError),
}

/// A received header: the client's addresses (`None`: keep the
/// connection's own) and what its TLVs said.
#[derive(Debug, Default)]
pub struct Received {
    pub addrs: Option<(SocketAddr, SocketAddr)>,
    pub facts: ProxyHeaderFacts,
}

/// Reads one PROXY header from `r`.
pub async fn read_header<R: AsyncRead + Unpin>(r: &mut R) -> Result<Received, ProxyHeaderError> {
    let mut head = [0u8; 8];
    r.read_exact(&mut head).await?;
    if head.starts_with(b"PROXY ") {
        let mut line = head.to_vec();
        while !line.ends_with(b"\r\n") {
            if line.len() >= V1_MAX {
                return Err(ProxyHeaderError::BadV1);
            }
            line.push(r.read_u8().await?);
        }
        return Ok(Received {
            addrs: parse_v1(&line)?,
            facts: ProxyHeaderFacts::default(),
        });
    }
    if head[..] != V2_SIGNATURE[..8] {
        return Err(ProxyHeaderError::NotProxy);
    }
    let mut rest = [0u8; 8];
    r.read_exact(&mut rest).await?;
    if rest[..4] != V2_SIGNATURE[8..] {
        return Err(ProxyHeaderError::NotProxy);
    }
    let len = u16::from_be_bytes([rest[6], rest[7]]) as usize;
    let mut header = Vec::with_capacity(16 + len);
    header.extend_from_slice(&head);
    header.extend_from_slice(&rest);
    header.resize(16 + len, 0);
    r.read_exact(&mut header[16..]).await?;
    let addrs = parse_v2(rest[4], rest[5], &header[16..])?;
    // TLVs follow the addresses of a PROXY command over TCP/IP only.
    let tlv_start = match (rest[4] & 0x0F, rest[5]) {
        (1, 0x11) => Some(16 + 12),
        (1, 0x21) => Some(16 + 36),
        _ => None,
    };
    let facts = match tlv_start {
        Some(start) => proxytlv::parse(&header, start)?,
        None => ProxyHeaderFacts::default(),
    };
    Ok(Received { addrs, facts })
}

/// `PROXY TCP4|TCP6 src dst sport dport\r\n` or `PROXY UNKNOWN…\r\n`.
fn parse_v1(line: &[u8]) -> Result<Option<(SocketAddr, SocketAddr)>, ProxyHeaderError> {
    let text = std::str::from_utf8(line).map_err(|_| ProxyHeaderError::BadV1)?;
    let text = text.strip_suffix("\r\n").ok_or(ProxyHeaderError::BadV1)?;
    let fields: Vec<&str> = text.split(' ').collect();
    match fields.as_slice() {
        ["PROXY", "UNKNOWN", ..] => Ok(None),
        ["PROXY", fam @ ("TCP4" | "TCP6"), src, dst, sport, dport] => {
            let v6 = *fam == "TCP6";
            let ip = |s: &str| -> Result<IpAddr, ProxyHeaderError> {
                let a: IpAddr = s.parse().map_err(|_| ProxyHeaderError::BadV1)?;
                if a.is_ipv6() != v6 {
                    return Err(ProxyHeaderError::BadV1);
                }
                Ok(a)
            };
            let port = |s: &str| -> Result<u16, ProxyHeaderError> {
                if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(ProxyHeaderError::BadV1);
                }
                s.parse().map_err(|_| ProxyHeaderError::BadV1)
            };
            Ok(Some((
                SocketAddr::new(ip(src)?, port(sport)?),
                SocketAddr::new(ip(dst)?, port(dport)?),
            )))
        }
        _ => Err(ProxyHeaderError::BadV1),
    }
}

/// The v2 version/command and family bytes and the address block (TLVs
/// after the addresses are skipped).
fn parse_v2(
    ver_cmd: u8,
    fam: u8,
    body: &[u8],
) -> Result<Option<(SocketAddr, SocketAddr)>, ProxyHeaderError> {
    if ver_cmd >> 4 != 2 {
        return Err(ProxyHeaderError::BadV2);
    }
    match ver_cmd & 0x0F {
        // LOCAL: a health check of the proxy in front; keep our addresses.
        0 => return Ok(None),
        1 => {}
        _ => return Err(ProxyHeaderError::BadV2),
    }
    match fam {
        // TCP over IPv4.
        0x11 => {
            let b = body.get(..12).ok_or(ProxyHeaderError::BadV2)?;
            let ip = |i: usize| IpAddr::V4(Ipv4Addr::new(b[i], b[i + 1], b[i + 2], b[i + 3]));
            let port = |i: usize| u16::from_be_bytes([b[i], b[i + 1]]);
            Ok(Some((
                SocketAddr::new(ip(0), port(8)),
                SocketAddr::new(ip(4), port(10)),
            )))
        }
        // TCP over IPv6.
        0x21 => {
            let b = body.get(..36).ok_or(ProxyHeaderError::BadV2)?;
            let ip = |i: usize| {
                let mut o = [0u8; 16];
                o.copy_from_slice(&b[i..i + 16]);
                IpAddr::V6(Ipv6Addr::from(o))
            };
            let port = |i: usize| u16::from_be_bytes([b[i], b[i + 1]]);
            Ok(Some((
                SocketAddr::new(ip(0), port(32)),
                SocketAddr::new(ip(16), port(34)),
            )))
        }
        // UNSPEC and the families HAProxy does not take over (UDP, unix):
        // the connection keeps its own addresses.
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::runtime::upstream_tls::{proxy_v1_line, proxy_v2_header};

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    async fn read(bytes: &[u8]) -> (Result<Option<(SocketAddr, SocketAddr)>, String>, Vec<u8>) {
        let mut r: &[u8] = bytes;
        let out = read_header(&mut r)
            .await
            .map(|h| h.addrs)
            .map_err(|e| e.to_string());
        (out, r.to_vec())
    }

    #[tokio::test]
    async fn v1_and_v2_headers_round_trip_and_leave_the_payload() {
        let (s, d) = (addr("192.0.2.1:56324"), addr("198.51.100.7:443"));
        for header in [proxy_v1_line(s, d), proxy_v2_header(Some((s, d)), &[])] {
            let mut bytes = header.clone();
            bytes.extend_from_slice(b"\x16\x03\x01rest");
            let (out, left) = read(&bytes).await;
            assert_eq!(out.unwrap(), Some((s, d)));
            assert_eq!(left, b"\x16\x03\x01rest");
        }
        let (s6, d6) = (addr("[2001:db8::1]:1000"), addr("[::1]:80"));
        for header in [proxy_v1_line(s6, d6), proxy_v2_header(Some((s6, d6)), &[])] {
            assert_eq!(read(&header).await.0.unwrap(), Some((s6, d6)));
        }
    }

    #[tokio::test]
    async fn local_and_unknown_keep_the_real_addresses() {
        assert_eq!(read(b"PROXY UNKNOWN\r\nGET").await.0.unwrap(), None);
        assert_eq!(read(&proxy_v2_header(None, &[])).await.0.unwrap(), None);
    }

    #[tokio::test]
    async fn garbage_is_refused() {
        for bad in [
            &b"GET / HTTP/1.1\r\n\r\n"[..],
            b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n",
            b"PROXY TCP4 ::1 5.6.7.8 1 2\r\n",
            b"PROXY TCP4 1.2.3.4 5.6.7.8 1 99999\r\n",
            b"PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n",
            b"\r\n\r\n\0\r\nQUIT\n\x21\x11\x00\x04abcd",
            b"\r\n\r\n\0\r\nQUIT\n\x13\x11\x00\x00",
        ] {
            assert!(read(bad).await.0.is_err(), "{bad:?}");
        }
        let long = format!("PROXY TCP4 {}\r\n", "1".repeat(120));
        assert!(read(long.as_bytes()).await.0.is_err());
    }
}
