//! Lowering of `resolvers` sections, and of the implicit `default` section
//! HAProxy 2.6 builds from `/etc/resolv.conf`.
//!
//! Values and messages follow HAProxy 2.6 (`cfg_parse_resolvers`): `nameserver`
//! needs a port and is UDP (a `tcp@` name server is refused as not
//! supported), `parse-resolv-conf` adds the `nameserver` lines of
//! `/etc/resolv.conf` on port 53 (HAProxy 2.6 reads no `options` line, and
//! neither does portcullis), `hold` periods may be 0, `accepted_payload_size`
//! is between 12 and 65535.

use super::values::{resolve_host, split_host_port, time_ms};
use super::{Lowerer, arg, extra_words, place};
use crate::config::ast::Section;
use crate::config::keywords::Context;
use crate::config::word::Word;
use crate::diag::{Diagnostic, Span};
use crate::ir::{Nameserver, Resolvers};
use std::net::{IpAddr, SocketAddr};

/// Where `parse-resolv-conf` and the implicit `default` section read.
pub(crate) const RESOLV_CONF: &str = "/etc/resolv.conf";

/// Lowers a `resolvers` section; `seen` holds the sections already lowered
/// (a name used twice is an error, as in HAProxy).
pub(crate) fn lower_resolvers(
    cx: &mut Lowerer,
    section: &Section,
    seen: &[(Resolvers, Span)],
) -> Option<Resolvers> {
    let name = section.name_str();
    if let Some((prev, _)) = seen.iter().find(|(r, _)| r.name == name) {
        cx.err(
            Diagnostic::error(format!(
                "resolvers '{name}' has same name as another resolvers (declared at {})",
                prev.origin
            ))
            .at(section.name.as_ref().map_or(section.span(), |w| w.span))
            .help("give every resolvers section a distinct name"),
        );
        return None;
    }
    let mut r = Resolvers::new(name, cx.origin(section.span()));
    let mut ns_lines: Vec<Span> = Vec::new();
    let where_ = place(section);
    for line in &section.lines {
        let w = &line.words;
        let kw = &w[0];
        let res: Result<(), Diagnostic> = (|| {
            match kw.text.as_str() {
                "nameserver" => {
                    let id = arg(w, 1, kw, "<name> and <addr>[:<port>] as arguments")?;
                    let addr_w = arg(w, 2, kw, "<name> and <addr>[:<port>] as arguments")?;
                    if let Some(d) = extra_words(line, 3, "nameserver") {
                        return Err(d);
                    }
                    if let Some(i) = r.nameservers.iter().position(|n| n.name == id.text) {
                        let prev = ns_lines.get(i).map(|s| cx.origin(*s)).unwrap_or_default();
                        return Err(Diagnostic::error(format!(
                            "nameserver '{}' has same name as another nameserver (declared at {prev})",
                            id.text
                        ))
                        .at(id.span)
                        .help("give every nameserver of the section a distinct name"));
                    }
                    let addr = nameserver_address(addr_w, &id.text)?;
                    r.nameservers.push(Nameserver {
                        name: id.text.clone(),
                        addr,
                    });
                    ns_lines.push(line.span);
                }
                "parse-resolv-conf" => {
                    if let Some(d) = extra_words(line, 1, "parse-resolv-conf") {
                        return Err(d);
                    }
                    let text = std::fs::read_to_string(RESOLV_CONF).map_err(|e| {
                        Diagnostic::error(format!("failed to open {RESOLV_CONF}: {e}"))
                            .at(kw.span)
                            .help("declare the name servers with 'nameserver <name> <ip>:<port>' lines instead")
                    })?;
                    for (lineno, ip) in resolv_conf_nameservers(&text) {
                        let Some(ip) = ip else {
                            cx.warn(
                                kw.span,
                                format!("parsing [{RESOLV_CONF}:{lineno}] : nameserver line has no usable address, nameserver will be excluded"),
                            );
                            continue;
                        };
                        let id = ip.to_string();
                        if r.nameservers.iter().any(|n| n.name == id) {
                            cx.warn(
                                kw.span,
                                format!("parsing [{RESOLV_CONF}:{lineno}] : generated name for {RESOLV_CONF} nameserver '{id}' conflicts with another nameserver, it appears to be a duplicate and will be excluded"),
                            );
                            continue;
                        }
                        r.nameservers.push(Nameserver {
                            name: id,
                            addr: SocketAddr::new(ip, 53),
                        });
                        ns_lines.push(line.span);
                    }
                }
                "hold" => {
                    let status = arg(w, 1, kw, "an <event> and a <time> as arguments")?;
                    let time = arg(w, 2, kw, "an <event> and a <time> as arguments")?;
                    if let Some(d) = extra_words(line, 3, "hold") {
                        return Err(d);
                    }
                    let ms = time_ms(time, "hold")?;
                    let h = &mut r.hold;
                    let slot = match status.text.as_str() {
                        "nx" => &mut h.nx,
                        "other" => &mut h.other,
                        "refused" => &mut h.refused,
                        "timeout" => &mut h.timeout,
                        "valid" => {
                            cx.warn(
                                status.span,
                                "'hold valid' has no effect: HAProxy 2.6 uses it only for 'do-resolve', which portcullis does not support; servers are resolved again every 'timeout resolve'",
                            );
                            &mut h.valid
                        }
                        "obsolete" => &mut h.obsolete,
                        other => {
                            return Err(Diagnostic::error(format!(
                                "'hold' unknown <event>: '{other}', expects either 'nx', 'timeout', 'valid', 'obsolete' or 'other'"
                            ))
                            .at(status.span)
                            .help("write 'hold nx|other|refused|timeout|valid|obsolete <time>'"));
                        }
                    };
                    *slot = ms;
                }
                "accepted_payload_size" => {
                    let v = arg(w, 1, kw, "<nb> as argument")?;
                    if let Some(d) = extra_words(line, 2, "accepted_payload_size") {
                        return Err(d);
                    }
                    let n = v
                        .text
                        .parse::<u32>()
                        .ok()
                        .filter(|n| (12..=65535).contains(n))
                        .ok_or_else(|| {
                            Diagnostic::error(format!(
                                "'accepted_payload_size' must be between 12 and 65535 inclusive (was {})",
                                v.text
                            ))
                            .at(v.span)
                            .help("512 is the default; 4096 is usual for UDP")
                        })?;
                    r.accepted_payload_size = n as u16;
                }
                "resolve_retries" => {
                    let v = arg(w, 1, kw, "<nb> as argument")?;
                    if let Some(d) = extra_words(line, 2, "resolve_retries") {
                        return Err(d);
                    }
                    // HAProxy reads it with atoi (0 and garbage mean 0, and
                    // one query is still sent); portcullis wants a number.
                    r.resolve_retries = v.text.parse::<u32>().map_err(|_| {
                        Diagnostic::error(format!(
                            "'resolve_retries' expects a number of queries, got '{}'",
                            v.text
                        ))
                        .at(v.span)
                        .help("write e.g. 'resolve_retries 3' (the default)")
                    })?;
                }
                "timeout" => {
                    let expects = || {
                        Diagnostic::error(format!(
                            "'timeout' expects 'retry' or 'resolve' and <time> as arguments got '{}'",
                            w.get(1).map_or("", |x| x.text.as_str())
                        ))
                        .at(w.get(1).map_or(kw.span, |x| x.span))
                    };
                    let which = w.get(1).ok_or_else(expects)?;
                    let slot = match which.text.as_str() {
                        "resolve" => &mut r.timeout_resolve,
                        "retry" => &mut r.timeout_retry,
                        _ => return Err(expects()),
                    };
                    let t = w.get(2).ok_or_else(|| {
                        Diagnostic::error(format!(
                            "'timeout {}' expects <time> as argument",
                            which.text
                        ))
                        .at(which.span)
                    })?;
                    if let Some(d) = extra_words(line, 3, "timeout") {
                        return Err(d);
                    }
                    *slot = time_ms(t, &format!("timeout {}", which.text))?;
                }
                _ => cx.unknown_keyword(Context::Resolvers, kw, &where_),
            }
            Ok(())
        })();
        if let Err(d) = res {
            cx.err(d);
        }
    }
    if r.nameservers.is_empty() {
        cx.warn(
            section.span(),
            format!(
                "resolvers '{}' [{}] has no nameservers configured!",
                r.name, r.origin
            ),
        );
    }
    Some(r)
}

/// `nameserver <name> <address>:<port>`: UDP only.
fn nameserver_address(w: &Word, id: &str) -> Result<SocketAddr, Diagnostic> {
    let text = w.text.as_str();
    let rest = match text.split_once('@') {
        Some(("udp" | "udp4" | "udp6" | "ipv4" | "ipv6", r)) => r,
        Some(("tcp" | "tcp4" | "tcp6", _)) => {
            return Err(Diagnostic::error(format!(
                "'nameserver {id}' : DNS over TCP ('{text}') is not supported by portcullis"
            ))
            .at(w.span)
            .help("use a UDP name server (an address without 'tcp@')"));
        }
        Some((prefix, _)) => {
            return Err(Diagnostic::error(format!(
                "'nameserver {id}' : address family '{prefix}@' is not supported for a name server"
            ))
            .at(w.span)
            .help("write <ip>:<port>, e.g. 127.0.0.53:53"));
        }
        None => text,
    };
    let Some((host, port)) = split_host_port(rest).filter(|(_, p)| !p.is_empty()) else {
        return Err(Diagnostic::error(format!(
            "'nameserver {id}' : missing port specification in '{text}'"
        ))
        .at(w.span)
        .help(format!("write '{text}:53'")));
    };
    let port: u16 = port.parse().ok().filter(|p| *p != 0).ok_or_else(|| {
        Diagnostic::error(format!(
            "'nameserver {id}' : invalid port '{port}' in '{text}'"
        ))
        .at(w.span)
    })?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let ip = resolve_host(host).ok_or_else(|| {
        Diagnostic::error(format!(
            "'nameserver {id}' : could not resolve address '{host}'"
        ))
        .at(w.span)
        .help("use an IP address")
    })?;
    Ok(SocketAddr::new(ip, port))
}

/// The `nameserver` lines of a resolv.conf: (line number, address), the
/// address `None` when the line has none or it is not an IP address.
pub(crate) fn resolv_conf_nameservers(text: &str) -> Vec<(usize, Option<IpAddr>)> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        // HAProxy: the line must start with "nameserver" followed by blanks.
        let Some(rest) = line.strip_prefix("nameserver") else {
            continue;
        };
        if !rest.starts_with([' ', '\t']) && !rest.is_empty() {
            continue;
        }
        let addr = rest.split_whitespace().next();
        // An IPv6 address may carry a zone (`fe80::1%eth0`): not usable here.
        out.push((i + 1, addr.and_then(|a| a.parse::<IpAddr>().ok())));
    }
    out
}

/// HAProxy 2.6's implicit `default` section: `parse-resolv-conf` when no
/// section is named `default`; it does not exist when resolv.conf gives no
/// name server.
pub(crate) fn implicit_default(resolv_conf: &str) -> Option<Resolvers> {
    let mut r = Resolvers::new("default", RESOLV_CONF.to_string());
    for (_, ip) in resolv_conf_nameservers(resolv_conf) {
        let Some(ip) = ip else { continue };
        let name = ip.to_string();
        if r.nameservers.iter().any(|n| n.name == name) {
            continue;
        }
        r.nameservers.push(Nameserver {
            name,
            addr: SocketAddr::new(ip, 53),
        });
    }
    (!r.nameservers.is_empty()).then_some(r)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn resolv_conf_lines() {
        let text = "# c\nnameserver 10.0.0.1\nnameserver\tfe80::1\nnameservers 1.2.3.4\nnameserver\noptions timeout:2\nnameserver bad\n";
        let got = resolv_conf_nameservers(text);
        assert_eq!(
            got,
            vec![
                (2, Some("10.0.0.1".parse().unwrap())),
                (3, Some("fe80::1".parse().unwrap())),
                (5, None),
                (7, None),
            ]
        );
    }

    #[test]
    fn implicit_default_needs_a_nameserver() {
        assert!(implicit_default("search x\noptions attempts:2\n").is_none());
        let d = implicit_default("nameserver 10.0.0.1\nnameserver 10.0.0.1\n").unwrap();
        assert_eq!(d.name, "default");
        assert_eq!(d.nameservers.len(), 1);
        assert_eq!(d.nameservers[0].addr, "10.0.0.1:53".parse().unwrap());
    }
}
