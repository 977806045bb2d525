//! Typed values of keyword arguments: times, integers, addresses, TLS versions.
//!
//! Stricter than HAProxy where HAProxy silently accepts nonsense (`maxconn abc`
//! is 0 there, an error here), identical where HAProxy has an error.

use crate::config::word::Word;
use crate::diag::Diagnostic;
use crate::ir::{IpNet, ListenAddr, Millis, ServerAddr, TlsVersion};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, ToSocketAddrs};
use std::path::PathBuf;

/// Parses a HAProxy time (`100`, `5s`, `1m`, `250ms`, `10us`, `1h`, `2d`) into
/// milliseconds; `what` names the keyword for the message.
pub fn time_ms(w: &Word, what: &str) -> Result<Millis, Diagnostic> {
    let text = w.text.as_str();
    let digits = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    if digits == 0 {
        return Err(Diagnostic::error(format!(
            "'{what}' expects a time value, got '{text}'"
        ))
        .at(w.span)
        .help("write a number with an optional unit: us, ms (default), s, m, h or d (e.g. 30s)"));
    }
    let n: u64 = text[..digits].parse().map_err(|_| overflow(w, what))?;
    let unit = &text[digits..];
    let ms = match unit {
        "" | "ms" => Some(n),
        "us" => Some(n.div_ceil(1000)),
        "s" => n.checked_mul(1000),
        "m" => n.checked_mul(60_000),
        "h" => n.checked_mul(3_600_000),
        "d" => n.checked_mul(86_400_000),
        _ => {
            let bad = unit.chars().next().unwrap_or('?');
            return Err(
                Diagnostic::error(format!("unexpected character '{bad}' in '{what}'"))
                    .at(w.sub_span(digits, digits + bad.len_utf8()))
                    .help("time units are us, ms (default), s, m, h and d"),
            );
        }
    };
    // HAProxy stores timers as signed 32-bit milliseconds.
    match ms {
        Some(v) if v <= i32::MAX as u64 => Ok(v),
        _ => Err(overflow(w, what)),
    }
}

fn overflow(w: &Word, what: &str) -> Diagnostic {
    Diagnostic::error(format!("timer overflow in argument '{}' to '{what}' (maximum value is 2147483647 ms, about 24.8 days)", w.text))
        .at(w.span)
}

/// Parses an unsigned integer, refusing what HAProxy's atoi would turn into 0.
pub fn uint(w: &Word, what: &str) -> Result<u32, Diagnostic> {
    w.text.parse::<u32>().map_err(|_| {
        Diagnostic::error(format!(
            "'{what}' expects a positive integer, got '{}'",
            w.text
        ))
        .at(w.span)
        .help("HAProxy would silently read this as 0; write a number")
    })
}

/// Parses an integer within bounds (e.g. `weight` 0..256).
pub fn uint_in(w: &Word, what: &str, min: u32, max: u32) -> Result<u32, Diagnostic> {
    let v = uint(w, what)?;
    if v < min || v > max {
        return Err(Diagnostic::error(format!(
            "'{what}' must be between {min} and {max}, got {v}"
        ))
        .at(w.span));
    }
    Ok(v)
}

/// `TLSv1.2` / `TLSv1.3` (and the older names rustls cannot speak, refused with
/// a reason). Returns `Ok(None)` for versions below 1.2 when used as a minimum.
pub fn tls_version(w: &Word, what: &str) -> Result<Option<TlsVersion>, Diagnostic> {
    match w.text.as_str() {
        "TLSv1.2" => Ok(Some(TlsVersion::Tls12)),
        "TLSv1.3" => Ok(Some(TlsVersion::Tls13)),
        "SSLv3" | "TLSv1.0" | "TLSv1.1" => Ok(None),
        other => Err(Diagnostic::error(format!(
            "'{what}' : unknown version '{other}'"
        ))
        .at(w.span)
        .help("versions are SSLv3, TLSv1.0, TLSv1.1, TLSv1.2 and TLSv1.3; portcullis speaks TLSv1.2 and TLSv1.3")),
    }
}

/// An IP address or network (`10.0.0.0/8`, `::1`).
pub fn ip_net(w: &Word, what: &str) -> Result<IpNet, Diagnostic> {
    let bad = || {
        Diagnostic::error(format!(
            "'{what}' expects an IP address or network, got '{}'",
            w.text
        ))
        .at(w.span)
        .help("write an address like 10.0.0.1, or a network like 10.0.0.0/8 or 10.0.0.0/255.0.0.0")
    };
    let (addr, prefix) = match w.text.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (w.text.as_str(), None),
    };
    let addr: IpAddr = addr.parse().map_err(|_| bad())?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let prefix = match prefix {
        None => max,
        Some(p) => match p.parse::<u8>() {
            Ok(n) if n <= max => n,
            _ => match p.parse::<Ipv4Addr>() {
                Ok(mask) if addr.is_ipv4() => {
                    let bits = u32::from(mask);
                    if bits.leading_ones() + bits.trailing_zeros() != 32 {
                        return Err(bad());
                    }
                    bits.leading_ones() as u8
                }
                _ => return Err(bad()),
            },
        },
    };
    Ok(IpNet { addr, prefix })
}

/// Parses the address of a `bind` line: a comma-separated list of
/// `[ipv4@|ipv6@]host:port[-port]`, `:port`, `*:port`, `[v6]:port`, or a Unix
/// socket path (`/path`, `unix@path`).
pub fn bind_addresses(w: &Word) -> Result<Vec<ListenAddr>, Diagnostic> {
    let mut out = Vec::new();
    for part in w.text.split(',') {
        out.extend(one_bind_address(w, part)?);
    }
    Ok(out)
}

fn one_bind_address(w: &Word, part: &str) -> Result<Vec<ListenAddr>, Diagnostic> {
    let err = |msg: String| Diagnostic::error(msg).at(w.span);
    if let Some(path) = part.strip_prefix("unix@") {
        return Ok(vec![ListenAddr::Unix(PathBuf::from(path))]);
    }
    if part.starts_with('/') {
        return Ok(vec![ListenAddr::Unix(PathBuf::from(part))]);
    }
    let (family, rest) = match part.split_once('@') {
        Some(("ipv4", r)) => (Some(4), r),
        Some(("ipv6", r)) => (Some(6), r),
        Some((prefix, _)) => {
            return Err(err(format!(
                "address family '{prefix}@' of '{part}' is not supported by portcullis"
            ))
            .help("portcullis listens on TCP (ipv4@, ipv6@ or a plain address) and Unix sockets (unix@ or /path)"));
        }
        None => (None, part),
    };
    let (host, ports) = split_host_port(rest).ok_or_else(|| {
        err(format!("missing port specification in '{part}'"))
            .help("write host:port, :port for all addresses, or a port range like :8000-8010")
    })?;
    let (lo, hi) = port_range(ports).ok_or_else(|| {
        err(format!("invalid port '{ports}' in '{part}'"))
            .help("ports are 1..65535; a range is written low-high")
    })?;
    let host_ip: Option<IpAddr> = match host {
        "" | "*" => match family {
            Some(6) => Some(IpAddr::V6(Ipv6Addr::UNSPECIFIED)),
            Some(_) => Some(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
            None => None,
        },
        h => Some(resolve_host(h).ok_or_else(|| {
            err(format!("could not resolve address '{h}'"))
                .help("use an IP address, or a name /etc/hosts can resolve")
        })?),
    };
    Ok((lo..=hi)
        .map(|port| ListenAddr::Inet {
            host: host_ip,
            port,
        })
        .collect())
}

/// Parses a server address: `host[:port]`, `ipv4@…`, `ipv6@…`, `unix@path`, `/path`.
pub fn server_address(w: &Word) -> Result<ServerAddr, Diagnostic> {
    let text = w.text.as_str();
    let err = |msg: String| Diagnostic::error(msg).at(w.span);
    if let Some(path) = text.strip_prefix("unix@") {
        return Ok(ServerAddr::Unix(PathBuf::from(path)));
    }
    if text.starts_with('/') {
        return Ok(ServerAddr::Unix(PathBuf::from(text)));
    }
    let rest = match text.split_once('@') {
        Some(("ipv4" | "ipv6", r)) => r,
        Some((prefix, _)) => {
            return Err(err(format!(
                "address family '{prefix}@' of server address '{text}' is not supported by portcullis"
            )));
        }
        None => text,
    };
    let (host, port) = match split_host_port(rest) {
        Some((h, p)) => {
            if p.starts_with('+') || p.starts_with('-') {
                return Err(err(format!(
                    "relative server port '{p}' in '{text}' is not supported by portcullis"
                ))
                .help("give the server an absolute port"));
            }
            // Port 0 means "the port the client connected to", as no port.
            if p == "0" {
                (h, None)
            } else {
                let port = port_range(p)
                    .filter(|(lo, hi)| lo == hi)
                    .map(|(lo, _)| lo)
                    .ok_or_else(|| err(format!("invalid port '{p}' in server address '{text}'")))?;
                (h, Some(port))
            }
        }
        None => (rest, None),
    };
    if host.is_empty() {
        return Err(err(format!("missing address in '{text}'")).help("write host:port"));
    }
    // Whether the name resolves is `init-addr`'s business (server.rs).
    Ok(ServerAddr::Inet {
        host: host.to_string(),
        port,
    })
}

/// Splits `host:port`, `[v6]:port` and HAProxy's `v6:port` (last colon).
pub(crate) fn split_host_port(s: &str) -> Option<(&str, &str)> {
    if let Some(rest) = s.strip_prefix('[') {
        let (h, after) = rest.split_once(']')?;
        let p = after.strip_prefix(':')?;
        return Some((h, p));
    }
    let i = s.rfind(':')?;
    Some((&s[..i], &s[i + 1..]))
}

fn port_range(p: &str) -> Option<(u16, u16)> {
    let (lo, hi) = match p.split_once('-') {
        Some((a, b)) => (a.parse::<u16>().ok()?, b.parse::<u16>().ok()?),
        None => {
            let v = p.parse::<u16>().ok()?;
            (v, v)
        }
    };
    (lo >= 1 && hi >= lo).then_some((lo, hi))
}

pub(crate) fn resolve_host(h: &str) -> Option<IpAddr> {
    if let Ok(ip) = h.parse::<IpAddr>() {
        return Some(ip);
    }
    (h, 0u16).to_socket_addrs().ok()?.next().map(|sa| sa.ip())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::{FileId, Span};

    fn w(s: &str) -> Word {
        Word {
            text: s.into(),
            span: Span {
                file: FileId(0),
                start: 0,
                end: s.len() as u32,
            },
            quoted: false,
        }
    }

    #[test]
    fn times() {
        assert_eq!(time_ms(&w("100"), "t").ok(), Some(100));
        assert_eq!(time_ms(&w("5s"), "t").ok(), Some(5000));
        assert_eq!(time_ms(&w("2m"), "t").ok(), Some(120_000));
        assert_eq!(time_ms(&w("1500us"), "t").ok(), Some(2));
        assert_eq!(time_ms(&w("1d"), "t").ok(), Some(86_400_000));
        let e = time_ms(&w("5x"), "timeout client").err().map(|d| d.message);
        assert_eq!(
            e.as_deref(),
            Some("unexpected character 'x' in 'timeout client'")
        );
        assert!(time_ms(&w("abc"), "t").is_err());
        assert!(time_ms(&w("30d"), "t").is_err());
    }

    #[test]
    fn bind_address_forms() {
        let a = bind_addresses(&w(":443")).ok();
        assert_eq!(
            a,
            Some(vec![ListenAddr::Inet {
                host: None,
                port: 443
            }])
        );
        let a = bind_addresses(&w("127.0.0.1:8000-8002,[::1]:9000")).unwrap_or_default();
        assert_eq!(a.len(), 4);
        let a = bind_addresses(&w("ipv6@:::80")).unwrap_or_default();
        assert_eq!(
            a,
            vec![ListenAddr::Inet {
                host: Some(IpAddr::V6(Ipv6Addr::UNSPECIFIED)),
                port: 80
            }]
        );
        assert!(bind_addresses(&w("127.0.0.1")).is_err());
        assert!(bind_addresses(&w("${MULTI}")).is_err());
        assert!(bind_addresses(&w("quic4@:443")).is_err());
        assert!(bind_addresses(&w(":0")).is_err());
        assert!(matches!(
            bind_addresses(&w("/run/x.sock")).ok().as_deref(),
            Some([ListenAddr::Unix(_)])
        ));
    }

    #[test]
    fn server_address_forms() {
        assert_eq!(
            server_address(&w("127.0.0.1:8080")).ok(),
            Some(ServerAddr::Inet {
                host: "127.0.0.1".into(),
                port: Some(8080)
            })
        );
        assert_eq!(
            server_address(&w("127.0.0.1")).ok(),
            Some(ServerAddr::Inet {
                host: "127.0.0.1".into(),
                port: None
            })
        );
        assert!(server_address(&w("127.0.0.1:+1")).is_err());
    }

    #[test]
    fn networks() {
        assert_eq!(
            ip_net(&w("10.0.0.0/8"), "x").map(|n| n.prefix).ok(),
            Some(8)
        );
        assert_eq!(
            ip_net(&w("10.0.0.0/255.255.0.0"), "x")
                .map(|n| n.prefix)
                .ok(),
            Some(16)
        );
        assert_eq!(ip_net(&w("::1"), "x").map(|n| n.prefix).ok(), Some(128));
        assert!(ip_net(&w("10.0.0.0/33"), "x").is_err());
    }
}
