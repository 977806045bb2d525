//! Lowering of `stats socket` (the runtime API listeners) and `stats timeout`.
//!
//! HAProxy accepts any `bind` option on a stats socket; portcullis accepts the
//! ones that mean something for a local admin socket and refuses the rest by
//! name. TLS options get a dedicated error: HAProxy 2.6 accepts `ssl` there
//! yet serves the socket in clear text (design.md, "traps").

use super::values::time_ms;
use super::{Lowerer, arg};
use crate::config::word::{Line, Word};
use crate::diag::Diagnostic;
use crate::ir::{StatsAddress, StatsLevel, StatsSocket};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

/// Bind options that configure TLS; on a stats socket they would suggest a
/// protection HAProxy 2.6 does not give.
const TLS_OPTIONS: &[&str] = &[
    "ssl",
    "crt",
    "crt-list",
    "ca-file",
    "crl-file",
    "verify",
    "alpn",
    "npn",
    "ciphers",
    "ciphersuites",
    "curves",
    "ecdhe",
    "ssl-min-ver",
    "ssl-max-ver",
    "no-sslv3",
    "no-tlsv10",
    "no-tlsv11",
    "no-tlsv12",
    "no-tlsv13",
    "force-tlsv12",
    "force-tlsv13",
    "strict-sni",
    "ca-ignore-err",
    "crt-ignore-err",
    "no-tls-tickets",
    "prefer-client-ciphers",
    "ca-sign-file",
    "generate-certificates",
];

/// `stats socket <address> [mode <octal>] [level <l>] [expose-fd listeners]`.
pub(crate) fn stats_socket(cx: &Lowerer, line: &Line) -> Result<StatsSocket, Diagnostic> {
    let w = &line.words;
    let kw = &w[1];
    let addr = arg(w, 2, kw, "a Unix socket path or an ip:port")?;
    let address = socket_address(addr)?;
    if let Some(tls) = w
        .iter()
        .skip(3)
        .find(|x| TLS_OPTIONS.contains(&x.text.as_str()))
    {
        return Err(Diagnostic::error(format!(
            "'{}' on a stats socket gives no protection: HAProxy 2.6 accepts it but serves the runtime API in clear text, without asking for a client certificate",
            tls.text
        ))
        .at(tls.span)
        .help("keep the stats socket on a Unix path (with 'mode 600') or on loopback, and expose admin functions remotely through a 'listen' section whose bind has 'ssl … ca-file … verify required'"));
    }
    let mut sock = StatsSocket {
        address,
        mode: None,
        level: StatsLevel::default(),
        expose_fd_listeners: false,
        origin: cx.origin(line.span),
    };
    let mut i = 3;
    while let Some(opt) = w.get(i) {
        let value = arg(w, i + 1, opt, "a value")?;
        match opt.text.as_str() {
            "mode" => sock.mode = Some(octal_mode(value)?),
            "level" => {
                sock.level = match value.text.as_str() {
                    "user" => StatsLevel::User,
                    "operator" => StatsLevel::Operator,
                    "admin" => StatsLevel::Admin,
                    other => {
                        return Err(Diagnostic::error(format!(
                            "'level' only supports 'user', 'operator', and 'admin' (got '{other}')"
                        ))
                        .at(value.span)
                        .help("'user' reads non-sensitive data, 'operator' (the default) reads everything, 'admin' may change things"));
                    }
                }
            }
            "expose-fd" => {
                if value.text != "listeners" {
                    return Err(Diagnostic::error(format!(
                        "'expose-fd' only supports 'listeners' (got '{}')",
                        value.text
                    ))
                    .at(value.span));
                }
                sock.expose_fd_listeners = true;
            }
            other => {
                return Err(Diagnostic::error(format!(
                    "'stats socket' : option '{other}' is not supported by portcullis"
                ))
                .at(opt.span)
                .help("supported: mode <octal>, level user|operator|admin, expose-fd listeners"));
            }
        }
        i += 2;
    }
    if sock.mode.is_some() && matches!(sock.address, StatsAddress::Tcp(_)) {
        return Err(
            Diagnostic::error("'mode' only applies to a Unix stats socket")
                .at(w[1].span.to(addr.span))
                .help("remove 'mode', or give a Unix socket path"),
        );
    }
    Ok(sock)
}

/// `stats timeout <time>`.
pub(crate) fn stats_timeout(line: &Line) -> Result<u64, Diagnostic> {
    let w = &line.words;
    let v = arg(w, 2, &w[1], "a time")?;
    let ms = time_ms(v, "stats timeout")?;
    if ms == 0 {
        return Err(
            Diagnostic::error("'stats timeout' must be greater than zero")
                .at(v.span)
                .help("HAProxy's default is 10s"),
        );
    }
    Ok(ms)
}

fn socket_address(w: &Word) -> Result<StatsAddress, Diagnostic> {
    let t = w.text.as_str();
    if let Some(p) = t.strip_prefix("unix@") {
        return unix_path(w, p);
    }
    if t.starts_with('/') || t.starts_with('.') {
        return unix_path(w, t);
    }
    let (family, rest) = match t.split_once('@') {
        Some((f, r)) => (Some(f), r),
        None => (None, t),
    };
    match family {
        None | Some("ipv4") | Some("ipv6") | Some("tcp") | Some("tcp4") | Some("tcp6") => {}
        Some(f) => {
            return Err(Diagnostic::error(format!(
                "stats socket address family '{f}@' is not supported by portcullis"
            ))
            .at(w.span)
            .help("use a Unix socket path, unix@<path>, ipv4@<ip>:<port> or <ip>:<port>"));
        }
    }
    let bad = || {
        Diagnostic::error(format!("invalid stats socket address '{t}'"))
            .at(w.span)
            .help("use a Unix socket path (e.g. /run/portcullis.sock) or <ip>:<port>")
    };
    let (host, port) = rest.rsplit_once(':').ok_or_else(bad)?;
    let port: u16 = port.parse().ok().filter(|p| *p > 0).ok_or_else(bad)?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let ip: IpAddr = if host.is_empty() || host == "*" {
        IpAddr::from([0, 0, 0, 0])
    } else {
        host.parse().map_err(|_| bad())?
    };
    Ok(StatsAddress::Tcp(SocketAddr::new(ip, port)))
}

fn unix_path(w: &Word, p: &str) -> Result<StatsAddress, Diagnostic> {
    if p.is_empty() {
        return Err(Diagnostic::error("missing path after 'unix@'").at(w.span));
    }
    // sun_path holds 108 bytes including the terminating NUL.
    if p.len() > 107 {
        return Err(Diagnostic::error(format!(
            "stats socket path is {} bytes long; a Unix socket path is limited to 107",
            p.len()
        ))
        .at(w.span)
        .help("use a shorter path"));
    }
    Ok(StatsAddress::Unix(PathBuf::from(p)))
}

fn octal_mode(w: &Word) -> Result<u32, Diagnostic> {
    u32::from_str_radix(&w.text, 8)
        .ok()
        .filter(|m| *m <= 0o7777)
        .ok_or_else(|| {
            Diagnostic::error(format!(
                "'mode' expects an octal permission, got '{}'",
                w.text
            ))
            .at(w.span)
            .help("e.g. 'mode 600' for owner-only access")
        })
}

#[cfg(test)]
mod tests {
    use crate::config::{LowerOptions, build};
    use crate::diag::{SourceMap, render};
    use crate::ir::{Config, StatsAddress, StatsLevel};

    fn run(global: &str) -> (Option<Config>, String) {
        let text = format!("global\n{global}\n");
        let mut map = SourceMap::new();
        let f = map.add("t.cfg", &text);
        let (ir, diags) = build(&mut map, &[f], &LowerOptions::default(), &|_| None);
        let ir = if diags.has_errors() { None } else { ir };
        (ir, render(&map, &diags))
    }

    fn error(global: &str, needle: &str) -> String {
        let (ir, rendered) = run(global);
        assert!(ir.is_none(), "expected an error for {global:?}");
        assert!(
            rendered.contains(needle),
            "expected {needle:?} in:\n{rendered}"
        );
        rendered
    }

    #[test]
    fn several_sockets_with_options() {
        let (ir, rendered) = run(
            "    stats socket /run/a.sock mode 600 level admin expose-fd listeners\n    stats socket ipv4@127.0.0.1:9999 level user\n    stats socket unix@/run/b.sock\n    stats timeout 30s",
        );
        let Some(ir) = ir else { panic!("{rendered}") };
        let s = &ir.global.stats_sockets;
        assert_eq!(s.len(), 3);
        assert_eq!(s[0].address, StatsAddress::Unix("/run/a.sock".into()));
        assert_eq!(s[0].mode, Some(0o600));
        assert_eq!(s[0].level, StatsLevel::Admin);
        assert!(s[0].expose_fd_listeners);
        assert_eq!(
            s[1].address,
            StatsAddress::Tcp("127.0.0.1:9999".parse().unwrap_or_else(|_| unreachable!()))
        );
        assert_eq!(s[1].level, StatsLevel::User);
        assert_eq!(s[2].level, StatsLevel::Operator, "HAProxy's default");
        assert_eq!(ir.global.stats_timeout, Some(30_000));
    }

    #[test]
    fn tls_options_point_to_an_mtls_listen() {
        let r = error(
            "    stats socket 127.0.0.1:9999 ssl crt /x.pem",
            "'ssl' on a stats socket gives no protection",
        );
        assert!(r.contains("verify required"), "{r}");
        error(
            "    stats socket /run/a.sock verify required",
            "'verify' on a stats socket",
        );
    }

    #[test]
    fn other_options_and_bad_values_are_refused() {
        error(
            "    stats socket /run/a.sock user haproxy",
            "option 'user' is not supported",
        );
        error(
            "    stats socket /run/a.sock level root",
            "'level' only supports 'user', 'operator', and 'admin'",
        );
        error("    stats socket /run/a.sock mode 999", "expects an octal");
        error(
            "    stats socket 127.0.0.1:9999 mode 600",
            "'mode' only applies to a Unix stats socket",
        );
        error(
            "    stats socket 127.0.0.1:x",
            "invalid stats socket address",
        );
        error(
            "    stats socket abns@foo",
            "address family 'abns@' is not supported",
        );
        error("    stats socket", "stats socket");
        error("    stats timeout 0", "greater than zero");
        error("    stats timeout 5s extra", "extra");
    }
}
