//! Lowering of the health-check and hashing keywords that have their own
//! small grammars: `tcp-check …` rules, `hash-type`, and the status lists of
//! `http-check expect status`.

use super::proxy::ProxyBuilder;
use super::values::uint_in;
use super::{Lowerer, arg};
use crate::config::keywords::Context;
use crate::config::word::{Line, Word};
use crate::diag::Diagnostic;
use crate::ir::{HashFunction, HashType, TcpCheckMatch, TcpCheckRule};

/// `hash-type <map-based|consistent> [sdbm|djb2|wt6|crc32] [avalanche]`.
pub(super) fn hash_type(w: &[Word], kw: &Word) -> Result<HashType, Diagnostic> {
    let method = arg(w, 1, kw, "'map-based' or 'consistent'")?;
    let consistent = match method.text.as_str() {
        "map-based" => false,
        "consistent" => true,
        other => {
            return Err(
                Diagnostic::error(format!("'hash-type' : unknown method '{other}'"))
                    .at(method.span)
                    .help("write 'hash-type map-based' or 'hash-type consistent'"),
            );
        }
    };
    let mut h = HashType {
        consistent,
        ..HashType::default()
    };
    let mut rest = &w[2..];
    if let Some(f) = rest.first() {
        let function = match f.text.as_str() {
            "sdbm" => HashFunction::Sdbm,
            "djb2" => HashFunction::Djb2,
            "wt6" => HashFunction::Wt6,
            "crc32" => HashFunction::Crc32,
            _ => {
                return Err(Diagnostic::error(format!(
                    "'hash-type' : unknown function '{}'",
                    f.text
                ))
                .at(f.span)
                .help("functions are sdbm, djb2, wt6 and crc32; 'avalanche' comes after one"));
            }
        };
        h.function = function;
        rest = &rest[1..];
    }
    match rest {
        [] => Ok(h),
        [m] if m.text == "avalanche" => {
            h.avalanche = true;
            Ok(h)
        }
        [m, ..] => Err(
            Diagnostic::error(format!("'hash-type' : unknown argument '{}'", m.text))
                .at(m.span)
                .help("functions are sdbm, djb2, wt6 and crc32, the only modifier is avalanche"),
        ),
    }
}

/// Checks the code list of `http-check expect status` (`200`, `200-299`,
/// `200,301-302`).
pub(super) fn status_list(w: &Word) -> Result<(), Diagnostic> {
    let bad = || {
        Diagnostic::error(format!(
            "'http-check expect status' : invalid status list '{}'",
            w.text
        ))
        .at(w.span)
        .help("write codes or ranges separated by commas: 200,301-302")
    };
    for part in w.text.split(',') {
        let (lo, hi) = part.split_once('-').unwrap_or((part, part));
        let lo: u16 = lo.parse().map_err(|_| bad())?;
        let hi: u16 = hi.parse().map_err(|_| bad())?;
        if lo > hi {
            return Err(bad());
        }
    }
    Ok(())
}

/// One `tcp-check` line.
pub(super) fn tcp_check(
    cx: &mut Lowerer,
    p: &mut ProxyBuilder,
    line: &Line,
    where_: &str,
) -> Result<(), Diagnostic> {
    let w = &line.words;
    let kw = &w[0];
    let sub = arg(w, 1, kw, "'connect', 'send' or 'expect'")?;
    let unsupported = |x: &Word, what: &str| {
        Diagnostic::error(format!("'tcp-check {what}' is not supported by portcullis")).at(x.span)
    };
    let rule = match sub.text.as_str() {
        "connect" => {
            let (mut port, mut ssl, mut sni) = (None, false, None);
            let mut i = 2;
            while let Some(o) = w.get(i) {
                match o.text.as_str() {
                    "port" => {
                        let v = arg(w, i + 1, o, "a port number")?;
                        port = Some(uint_in(v, "tcp-check connect port", 1, 65535)? as u16);
                        i += 1;
                    }
                    "ssl" => ssl = true,
                    "sni" => {
                        sni = Some(arg(w, i + 1, o, "a server name")?.text.clone());
                        i += 1;
                    }
                    "default" | "addr" | "send-proxy" | "via-socks4" | "alpn" | "linger"
                    | "proto" | "comment" => {
                        return Err(unsupported(o, &format!("connect {}", o.text)));
                    }
                    other => {
                        return Err(Diagnostic::error(format!(
                            "'tcp-check connect' : unknown parameter '{other}'"
                        ))
                        .at(o.span)
                        .help("portcullis supports port <n>, ssl and sni <name>"));
                    }
                }
                i += 1;
            }
            TcpCheckRule::Connect { port, ssl, sni }
        }
        "send" => {
            let data = arg(w, 2, sub, "the data to send")?;
            if let Some(x) = w.get(3) {
                return Err(unsupported(x, &format!("send {}", x.text)));
            }
            TcpCheckRule::Send(data.text.as_bytes().to_vec())
        }
        "send-binary" => {
            let data = arg(w, 2, sub, "hexadecimal data to send")?;
            let bytes = hex(data).ok_or_else(|| {
                Diagnostic::error(format!(
                    "'tcp-check send-binary' : '{}' is not an even-length hexadecimal string",
                    data.text
                ))
                .at(data.span)
            })?;
            if let Some(x) = w.get(3) {
                return Err(unsupported(x, &format!("send-binary {}", x.text)));
            }
            TcpCheckRule::Send(bytes)
        }
        "expect" => {
            let mut i = 2;
            let negate = w.get(i).is_some_and(|x| x.text == "!");
            if negate {
                i += 1;
            }
            let kind = arg(w, i, sub, "a match type and a pattern")?;
            let pattern = arg(w, i + 1, kind, "a pattern")?;
            let matcher = match kind.text.as_str() {
                "string" => TcpCheckMatch::String(pattern.text.clone()),
                "rstring" => {
                    if let Err(e) = regex::bytes::Regex::new(&pattern.text) {
                        return Err(Diagnostic::error(format!(
                            "'tcp-check expect rstring' : invalid regex: {e}"
                        ))
                        .at(pattern.span));
                    }
                    TcpCheckMatch::Rstring(pattern.text.clone())
                }
                "binary" => TcpCheckMatch::Binary(hex(pattern).ok_or_else(|| {
                    Diagnostic::error(format!(
                        "'tcp-check expect binary' : '{}' is not an even-length hexadecimal string",
                        pattern.text
                    ))
                    .at(pattern.span)
                })?),
                other => {
                    return Err(Diagnostic::error(format!(
                        "'tcp-check expect {other}' is not supported by portcullis"
                    ))
                    .at(kind.span)
                    .help("portcullis supports [!] string, rstring and binary"));
                }
            };
            if let Some(x) = w.get(i + 2) {
                return Err(Diagnostic::error(format!(
                    "'tcp-check expect' : unexpected extra argument '{}'",
                    x.text
                ))
                .at(x.span)
                .help("options such as min-recv or comment are not supported by portcullis"));
            }
            TcpCheckRule::Expect { negate, matcher }
        }
        "comment" | "send-lf" | "send-binary-lf" | "set-var" | "unset-var" => {
            return Err(unsupported(sub, &sub.text));
        }
        _ => {
            let combined = Word {
                text: format!("tcp-check {}", sub.text),
                span: kw.span.to(sub.span),
                quoted: false,
            };
            cx.unknown_keyword(Context::Proxy, &combined, where_);
            return Ok(());
        }
    };
    p.tcp_check_used = Some(kw.span);
    p.health.tcp_rules.push(rule);
    Ok(())
}

fn hex(w: &Word) -> Option<Vec<u8>> {
    let t = w.text.as_bytes();
    if t.is_empty() || !t.len().is_multiple_of(2) {
        return None;
    }
    t.chunks(2)
        .map(|c| {
            let s = std::str::from_utf8(c).ok()?;
            u8::from_str_radix(s, 16).ok()
        })
        .collect()
}
