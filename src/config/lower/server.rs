//! Lowering of `server` and `default-server` lines.
//!
//! `default-server` fills a template; each `server` starts from a copy of it and
//! applies its own options (the `no-<kw>` forms undo inherited flags), then the
//! result is validated and its TLS material loaded.

use super::bind::{cert_warnings, tls_error};
use super::proxy::{ProxyBuilder, silent};
use super::tlsopts;
use super::values::{ip_net, resolve_host, server_address, time_ms, uint, uint_in};
use super::{Lowerer, arg};
use crate::config::expr::{self, Stage};
use crate::config::keywords::{self, Context};
use crate::config::word::{Line, Word};
use crate::diag::Diagnostic;
use crate::ir::{self, ServerCheck, ServerTls, ServerVerify, ServerVerifyDefault, TlsParams};
use crate::tls::CaSpec;

/// Settings of a server before validation; `default-server` builds one too.
#[derive(Clone, Default)]
pub(crate) struct ServerTemplate {
    ssl: Option<Word>,
    verify: Option<(bool, Word)>,
    ca_file: Option<Word>,
    crl_file: Option<Word>,
    crt: Option<Word>,
    sni: Option<Word>,
    verifyhost: Option<String>,
    params: Option<TlsParams>,
    ssl_reuse: Option<bool>,
    check: Option<bool>,
    check_ssl: Option<Word>,
    check_sni: Option<String>,
    inter: Option<u64>,
    fastinter: Option<u64>,
    downinter: Option<u64>,
    rise: Option<u32>,
    fall: Option<u32>,
    port: Option<u16>,
    addr: Option<String>,
    weight: Option<u32>,
    backup: bool,
    maxconn: Option<u32>,
    disabled: bool,
    send_proxy: Option<ir::ProxyVersion>,
    proxy_v2: ir::ProxyV2Options,
    pool: ir::ServerPool,
    /// `cookie <value>`.
    cookie: Option<String>,
    /// `resolvers <name>` (checked once every section is known).
    resolvers: Option<Word>,
    prefer: ir::AddrFamily,
    nets: Vec<ir::IpNet>,
    allow_dup_ip: bool,
    /// `init-addr` methods and the option word (for messages).
    init_addr: Option<Vec<ir::InitAddr>>,
    /// TLS-only options seen, for the "without ssl" warning.
    tls_only: Vec<Word>,
}

/// Lowers a `server` or `default-server` line into the proxy.
pub(crate) fn lower_server(
    cx: &mut Lowerer,
    p: &mut ProxyBuilder,
    line: &Line,
    where_: &str,
) -> Result<(), Diagnostic> {
    let w = &line.words;
    let kw = &w[0];
    if kw.text == "default-server" {
        let mut t = p.default_server.clone();
        apply_options(
            cx,
            &mut t,
            &w[1..],
            &format!("'default-server' in {where_}"),
        )?;
        p.default_server = t;
        return Ok(());
    }
    if kw.text == "server-template" {
        return lower_template(cx, p, line, where_);
    }
    let name = arg(w, 1, kw, "a name and an address")?;
    let addr = arg(w, 2, kw, "an address after the server name")?;
    unique_name(cx, p, &name.text, name.span, where_)?;
    let address = server_address(addr)?;
    let place = format!("'server {}/{}'", p.name, name.text);
    let mut t = p.default_server.clone();
    apply_options(cx, &mut t, &w[3..], &place)?;
    let resolvers = t.resolvers.clone();
    let server = finish(cx, p, t, name, address, &place)?;
    p.server_names.insert(name.text.clone(), name.span);
    if let Some(r) = resolvers {
        p.resolver_refs.push((p.servers.len(), r));
    }
    p.servers.push(server);
    Ok(())
}

/// `server-template <prefix> <n | first-last> <addr>[:port] [options]`:
/// servers `<prefix><id>` for each id, all alike (HAProxy 2.6's
/// `_srv_parse_tmpl_init`; their addresses only differ once DNS resolution
/// assigns them, and a literal address gives identical servers).
fn lower_template(
    cx: &mut Lowerer,
    p: &mut ProxyBuilder,
    line: &Line,
    where_: &str,
) -> Result<(), Diagnostic> {
    let w = &line.words;
    let kw = &w[0];
    let (Some(prefix), Some(range), Some(addr)) = (w.get(1), w.get(2), w.get(3)) else {
        return Err(Diagnostic::error(
            "'server-template' expects <prefix> <nb | range> <addr>[:<port>] as arguments",
        )
        .at(kw.span)
        .help("e.g. 'server-template web 1-5 10.0.0.1:80 check'"));
    };
    let ids = template_ids(&range.text).ok_or_else(|| {
        Diagnostic::error(format!(
            "wrong server-template number or range arg '{}'",
            range.text
        ))
        .at(range.span)
        .help("give a count from 1 ('5') or a range 'first-last' with 0 < first <= last")
    })?;
    let address = server_address(addr)?;
    let place = format!("'server-template {}/{}'", p.name, prefix.text);
    let mut t = p.default_server.clone();
    apply_options(cx, &mut t, &w[4..], &place)?;
    for id in ids {
        let name = Word {
            text: format!("{}{id}", prefix.text),
            span: prefix.span,
            quoted: prefix.quoted,
        };
        unique_name(cx, p, &name.text, prefix.span, where_)?;
        let place = format!("'server {}/{}'", p.name, name.text);
        let server = finish(cx, p, t.clone(), &name, address.clone(), &place)?;
        p.server_names.insert(name.text.clone(), prefix.span);
        if let Some(r) = &t.resolvers {
            p.resolver_refs.push((p.servers.len(), r.clone()));
        }
        p.servers.push(server);
    }
    Ok(())
}

/// HAProxy's error for a server name already used in the proxy.
fn unique_name(
    cx: &Lowerer,
    p: &ProxyBuilder,
    name: &str,
    at: crate::diag::Span,
    where_: &str,
) -> Result<(), Diagnostic> {
    match p.server_names.get(name) {
        None => Ok(()),
        Some(prev) => {
            let line_no = cx.map.location(*prev).line;
            Err(Diagnostic::error(format!(
                "{where_}, another server named '{name}' was already defined at line {line_no}, please use distinct names"
            ))
            .at(at)
            .help("server names must be unique within a backend"))
        }
    }
}

/// The ids of a `server-template`: `n` is 1..=n, `a-b` is a..=b (a > 0).
fn template_ids(text: &str) -> Option<std::ops::RangeInclusive<u32>> {
    let (first, last) = match text.split_once('-') {
        Some((a, b)) => (a.parse::<u32>().ok()?, b.parse::<u32>().ok()?),
        None => (1, text.parse::<u32>().ok()?),
    };
    (first > 0 && first <= last).then_some(first..=last)
}

fn apply_options(
    cx: &mut Lowerer,
    t: &mut ServerTemplate,
    words: &[Word],
    place: &str,
) -> Result<(), Diagnostic> {
    let mut i = 0;
    while let Some(o) = words.get(i) {
        let name = o.text.as_str();
        let value = || arg(words, i + 1, o, "an argument");
        let mut next = i + 2;
        let params = |t: &mut ServerTemplate, cx: &Lowerer| -> TlsParams {
            t.params
                .clone()
                .unwrap_or_else(|| cx.global.server_tls_defaults.clone())
        };
        match name {
            "ssl" => {
                t.ssl = Some(o.clone());
                next = i + 1;
            }
            "no-ssl" => {
                t.ssl = None;
                next = i + 1;
            }
            "verify" => {
                let v = value()?;
                let required = match v.text.as_str() {
                    "required" => true,
                    "none" => false,
                    other => {
                        return Err(Diagnostic::error(format!(
                            "'verify' : unknown verify method '{other}', only 'none' and 'required' are supported"
                        ))
                        .at(v.span));
                    }
                };
                t.verify = Some((required, v.clone()));
                t.tls_only.push(o.clone());
            }
            "ca-file" => {
                t.ca_file = Some(value()?.clone());
                t.tls_only.push(o.clone());
            }
            "crl-file" => {
                t.crl_file = Some(value()?.clone());
                t.tls_only.push(o.clone());
            }
            "crt" => {
                t.crt = Some(value()?.clone());
                t.tls_only.push(o.clone());
            }
            "sni" => {
                t.sni = Some(value()?.clone());
                t.tls_only.push(o.clone());
            }
            "verifyhost" => {
                t.verifyhost = Some(value()?.text.clone());
                t.tls_only.push(o.clone());
            }
            "no-verifyhost" => {
                t.verifyhost = None;
                next = i + 1;
            }
            "alpn" => {
                let mut p = params(t, cx);
                p.alpn = Some(tlsopts::alpn(value()?, name)?);
                t.params = Some(p);
            }
            "ssl-min-ver" | "ssl-max-ver" => {
                let mut p = params(t, cx);
                tlsopts::version_bound(&mut p, o, value()?)?;
                t.params = Some(p);
            }
            "ciphers" => {
                let mut p = params(t, cx);
                p.ciphers = Some(tlsopts::ciphers(value()?, name)?);
                t.params = Some(p);
            }
            "ciphersuites" => {
                let mut p = params(t, cx);
                p.ciphersuites = Some(tlsopts::ciphersuites(value()?, name)?);
                t.params = Some(p);
            }
            "no-tls-tickets" => {
                let mut p = params(t, cx);
                p.no_tls_tickets = true;
                t.params = Some(p);
                next = i + 1;
            }
            "no-sslv3" | "no-tlsv10" | "no-tlsv11" | "no-tlsv12" | "no-tlsv13" | "force-sslv3"
            | "force-tlsv10" | "force-tlsv11" | "force-tlsv12" | "force-tlsv13" => {
                let mut p = params(t, cx);
                tlsopts::version_flag(&mut p, o)?;
                t.params = Some(p);
                next = i + 1;
            }
            "no-ssl-reuse" | "ssl-reuse" => {
                t.ssl_reuse = Some(name == "ssl-reuse");
                next = i + 1;
            }
            "check" | "no-check" => {
                t.check = Some(name == "check");
                next = i + 1;
            }
            "check-ssl" | "no-check-ssl" => {
                t.check_ssl = (name == "check-ssl").then(|| o.clone());
                next = i + 1;
            }
            "check-sni" => t.check_sni = Some(value()?.text.clone()),
            "inter" => t.inter = Some(positive_time(value()?, name)?),
            "fastinter" => t.fastinter = Some(positive_time(value()?, name)?),
            "downinter" => t.downinter = Some(positive_time(value()?, name)?),
            "rise" => t.rise = Some(uint_in(value()?, name, 1, u32::MAX)?),
            "fall" => t.fall = Some(uint_in(value()?, name, 1, u32::MAX)?),
            "port" => t.port = Some(uint_in(value()?, name, 1, 65535)? as u16),
            "addr" => t.addr = Some(value()?.text.clone()),
            "weight" => {
                let v = value()?;
                t.weight = Some(uint(v, name).and_then(|n| {
                    if n > 256 {
                        Err(Diagnostic::error(format!(
                            "weight of server is not within 0 and 256 ({n})"
                        ))
                        .at(v.span)
                        .help("weights go from 0 (no load balancing) to 256"))
                    } else {
                        Ok(n)
                    }
                })?);
            }
            "cookie" => t.cookie = Some(value()?.text.clone()),
            "backup" | "no-backup" => {
                t.backup = name == "backup";
                next = i + 1;
            }
            "maxconn" => t.maxconn = Some(uint(value()?, name)?),
            "disabled" | "enabled" => {
                t.disabled = name == "disabled";
                next = i + 1;
            }
            "pool-max-conn" => {
                let v = value()?;
                let n: i64 = v.text.parse().map_err(|_| {
                    Diagnostic::error(format!("'{name}' expects an integer, got '{}'", v.text))
                        .at(v.span)
                })?;
                if n < -1 {
                    return Err(Diagnostic::error(format!("'{name}' must be >= -1"))
                        .at(v.span)
                        .help("-1 keeps any number of idle connections, 0 none"));
                }
                t.pool.max_idle = usize::try_from(n).ok();
            }
            "pool-purge-delay" => t.pool.purge_delay = Some(time_ms(value()?, name)?),
            "pool-low-conn" => {
                let v = value()?;
                uint(v, name)?;
                cx.diags.push(
                    Diagnostic::warning(format!(
                        "'pool-low-conn' has no effect in {place}: HAProxy uses it to stop threads stealing each other's idle connections; portcullis keeps one idle pool per server shared by all threads"
                    ))
                    .at(o.span)
                    .help("remove it, or use 'pool-max-conn' to bound the idle connections"),
                );
            }
            "send-proxy" | "send-proxy-v2" | "no-send-proxy" | "no-send-proxy-v2" => {
                t.send_proxy = match name {
                    "send-proxy" => Some(ir::ProxyVersion::V1),
                    "send-proxy-v2" => Some(ir::ProxyVersion::V2),
                    _ => None,
                };
                next = i + 1;
            }
            "send-proxy-v2-ssl" | "send-proxy-v2-ssl-cn" => {
                t.send_proxy = Some(ir::ProxyVersion::V2);
                t.proxy_v2.ssl = true;
                t.proxy_v2.cert_cn |= name == "send-proxy-v2-ssl-cn";
                next = i + 1;
            }
            "proxy-v2-options" => {
                let list = value()?;
                for opt in list.text.split(',') {
                    let o2 = &mut t.proxy_v2;
                    match opt {
                        "ssl" => o2.ssl = true,
                        "cert-cn" => o2.cert_cn = true,
                        "ssl-cipher" => o2.ssl_cipher = true,
                        "cert-sig" => o2.cert_sig = true,
                        "cert-key" => o2.cert_key = true,
                        "authority" => o2.authority = true,
                        "crc32c" => o2.crc32c = true,
                        "unique-id" => o2.unique_id = true,
                        other => {
                            return Err(Diagnostic::error(format!(
                                "{place} : '{other}' : proxy v2 option not implemented"
                            ))
                            .at(list.span)
                            .help("options are ssl, cert-cn, ssl-cipher, cert-sig, cert-key, authority, crc32c and unique-id"));
                        }
                    }
                }
            }
            "resolvers" => t.resolvers = Some(value()?.clone()),
            "resolve-prefer" => {
                let v = value()?;
                t.prefer = match v.text.as_str() {
                    "ipv4" => ir::AddrFamily::Ipv4,
                    "ipv6" => ir::AddrFamily::Ipv6,
                    _ => {
                        return Err(Diagnostic::error(format!(
                            "{place} : 'resolve-prefer' expects either ipv4 or ipv6 as argument"
                        ))
                        .at(v.span));
                    }
                };
            }
            "resolve-opts" => {
                let v = value()?;
                for opt in v.text.split(',') {
                    match opt {
                        "allow-dup-ip" => t.allow_dup_ip = true,
                        "prevent-dup-ip" => t.allow_dup_ip = false,
                        // Weights come from SRV records, which portcullis does
                        // not query: nothing to ignore.
                        "ignore-weight" => cx.warn(
                            v.span,
                            format!("'resolve-opts ignore-weight' has no effect on {place}: it ignores the weights of SRV records, which portcullis does not query"),
                        ),
                        _ => {
                            return Err(Diagnostic::error(format!(
                                "{place} : 'resolve-opts' : unknown resolve-opts option '{opt}', supported methods are 'allow-dup-ip', 'ignore-weight', and 'prevent-dup-ip'"
                            ))
                            .at(v.span));
                        }
                    }
                }
            }
            "resolve-net" => {
                let v = value()?;
                let mut nets = Vec::new();
                for (k, part) in v.text.split(',').enumerate() {
                    if k >= 5 {
                        return Err(Diagnostic::error(format!(
                            "{place} : 'resolve-net' exceed 5 networks"
                        ))
                        .at(v.span));
                    }
                    let sub = Word {
                        text: part.to_string(),
                        span: v.span,
                        quoted: v.quoted,
                    };
                    nets.push(ip_net(&sub, name).map_err(|_| {
                        Diagnostic::error(format!(
                            "{place} : 'resolve-net' invalid network '{part}'"
                        ))
                        .at(v.span)
                        .help("write networks like 10.0.0.0/8, separated by commas")
                    })?);
                }
                t.nets = nets;
            }
            "init-addr" => {
                let v = value()?;
                let mut methods = Vec::new();
                for m in v.text.split(',') {
                    methods.push(match m {
                        "last" => ir::InitAddr::Last,
                        "libc" => ir::InitAddr::Libc,
                        "none" => ir::InitAddr::None,
                        _ => match m.parse() {
                            Ok(ip) => ir::InitAddr::Ip(ip),
                            Err(_) => {
                                return Err(Diagnostic::error(format!(
                                    "{place} : 'init-addr' : unknown init-addr method '{m}', supported methods are 'libc', 'last', 'none'"
                                ))
                                .at(v.span)
                                .help("or give an IP address"));
                            }
                        },
                    });
                }
                t.init_addr = Some(methods);
            }
            _ => {
                if keywords::lookup(Context::Server, name).is_none() {
                    cx.unknown_keyword(Context::Server, o, place);
                    return Err(silent());
                }
                return Err(
                    Diagnostic::error(format!("server option '{name}' is not handled")).at(o.span),
                );
            }
        }
        i = next;
    }
    Ok(())
}

fn positive_time(w: &Word, what: &str) -> Result<u64, Diagnostic> {
    let v = time_ms(w, what)?;
    if v == 0 {
        return Err(Diagnostic::error(format!(
            "'{what}' expects a positive time, got '{}'",
            w.text
        ))
        .at(w.span));
    }
    Ok(v)
}

/// Validates a server and loads its TLS material.
fn finish(
    cx: &mut Lowerer,
    p: &ProxyBuilder,
    t: ServerTemplate,
    name: &Word,
    address: ir::ServerAddr,
    place: &str,
) -> Result<ir::Server, Diagnostic> {
    let checked = t.check.unwrap_or(false);
    if checked && t.port.is_none() && matches!(address, ir::ServerAddr::Inet { port: None, .. }) {
        return Err(
            Diagnostic::error(format!("{place} has neither service port nor check port"))
                .at(name.span)
                .help("give the server address a port, or add 'port <n>' for its checks"),
        );
    }
    // `check-ssl` on a clear-text server: the checks alone speak TLS, with
    // the TLS settings of the line (HAProxy verifies them like `ssl`).
    let check_tls = match (&t.check_ssl, &t.ssl) {
        (Some(w), None) if checked => Some(Box::new(server_tls(cx, p, &t, w, place)?)),
        _ => None,
    };
    let check = checked.then(|| {
        Box::new(ServerCheck {
            inter: t.inter.unwrap_or(2000),
            fastinter: t.fastinter,
            downinter: t.downinter,
            rise: t.rise.unwrap_or(2),
            fall: t.fall.unwrap_or(3),
            port: t.port,
            addr: t.addr.clone(),
            ssl: t.check_ssl.is_some(),
            sni: t.check_sni.clone(),
            tls: check_tls,
        })
    });
    let tls = match &t.ssl {
        None => {
            if let Some(first) = t.tls_only.first().filter(|_| t.check_ssl.is_none()) {
                cx.diags.push(
                    Diagnostic::warning(format!(
                        "'{}' has no effect on {place}: without 'ssl' the connection to the server is clear text",
                        first.text
                    ))
                    .at(first.span)
                    .help("add 'ssl' to the server line to speak TLS to it"),
                );
            }
            None
        }
        Some(ssl_word) => Some(Box::new(server_tls(cx, p, &t, ssl_word, place)?)),
    };
    let init_addr = t
        .init_addr
        .clone()
        .unwrap_or_else(|| vec![ir::InitAddr::Last, ir::InitAddr::Libc]);
    if let ir::ServerAddr::Inet { host, .. } = &address {
        if let Some(r) = &t.resolvers
            && host.starts_with('_')
        {
            return Err(Diagnostic::error(format!(
                "{place} : resolving the SRV label '{host}' is not supported by portcullis"
            ))
            .at(r.span)
            .help("name the server by a host name (A/AAAA records) instead of an SRV label"));
        }
        check_init_addr(cx, host, &init_addr, name, place)?;
    }
    let resolve = t.resolvers.as_ref().map(|_| {
        Box::new(ir::ServerResolve {
            // Set by `ProxySet::finish` once every section is known.
            resolvers: usize::MAX,
            prefer: t.prefer,
            nets: t.nets.clone(),
            allow_dup_ip: t.allow_dup_ip,
        })
    });
    Ok(ir::Server {
        init_addr,
        resolve,
        name: name.text.clone(),
        origin: cx.origin(name.span),
        address,
        weight: t.weight.unwrap_or(1),
        backup: t.backup,
        disabled: t.disabled,
        maxconn: t.maxconn,
        send_proxy: t.send_proxy,
        proxy_v2: t.proxy_v2,
        pool: t.pool,
        check,
        tls,
        cookie: t.cookie,
    })
}

/// Startup resolution as HAProxy 2.6 does it: the `init-addr` methods in
/// turn (`last` never gives an address here: portcullis keeps no state
/// file); none succeeding is an error.
fn check_init_addr(
    cx: &mut Lowerer,
    host: &str,
    methods: &[ir::InitAddr],
    name: &Word,
    place: &str,
) -> Result<(), Diagnostic> {
    let mut libc_failed = false;
    for m in methods {
        match m {
            ir::InitAddr::Last => {}
            ir::InitAddr::Libc => {
                if resolve_host(host).is_some() {
                    return Ok(());
                }
                libc_failed = true;
            }
            ir::InitAddr::None => {
                if libc_failed {
                    cx.warn(
                        name.span,
                        format!("{place} : could not resolve address '{host}', disabling server"),
                    );
                }
                return Ok(());
            }
            ir::InitAddr::Ip(_) => return Ok(()),
        }
    }
    Err(
        Diagnostic::error(format!("{place} : could not resolve address '{host}'"))
            .at(name.span)
            .help("use an IP address or a name this machine resolves, or add 'init-addr last,libc,none' to start without an address"),
    )
}

fn server_tls(
    cx: &mut Lowerer,
    p: &ProxyBuilder,
    t: &ServerTemplate,
    ssl_word: &Word,
    place: &str,
) -> Result<ServerTls, Diagnostic> {
    let params = t
        .params
        .clone()
        .unwrap_or_else(|| cx.global.server_tls_defaults.clone());
    tlsopts::check_versions(&params, ssl_word)?;
    let (required, explicit) = match &t.verify {
        Some((r, w)) => (*r, Some(w.clone())),
        None => (
            cx.global.server_verify_default == ServerVerifyDefault::Required,
            None,
        ),
    };
    let verify = if required {
        let Some(ca_word) = &t.ca_file else {
            let d = match explicit {
                Some(w) => Diagnostic::error(format!("{place} : verify is enabled but no CA file specified"))
                    .at(w.span)
                    .help("add 'ca-file <CA bundle>' (or 'ca-file @system-ca' for publicly trusted servers)"),
                None => Diagnostic::error(format!(
                    "{place} : verify is enabled by default but no CA file specified"
                ))
                .at(ssl_word.span)
                .help("add 'ca-file <CA bundle>' (or '@system-ca'); if you are certain to trust the network, set an explicit 'verify none' on the server line or 'ssl-server-verify none' in the global section"),
            };
            return Err(d);
        };
        let spec = if ca_word.text == "@system-ca" {
            CaSpec::System
        } else {
            CaSpec::Path(cx.ca_path(ca_word))
        };
        let ca = cx
            .loader
            .ca(&spec)
            .map_err(|e| tls_error(&e, ca_word, place))?;
        let crl = match &t.crl_file {
            Some(w) => {
                let path = cx.ca_path(w);
                Some(cx.loader.crls(&path).map_err(|e| tls_error(&e, w, place))?)
            }
            None => None,
        };
        ServerVerify::Required {
            ca,
            crl,
            verifyhost: t.verifyhost.clone(),
        }
    } else {
        ServerVerify::None
    };
    let client_cert = match &t.crt {
        Some(w) => {
            let path = cx.crt_path(w);
            let cert = cx
                .loader
                .cert_key(&path)
                .map_err(|e| tls_error(&e, w, place))?;
            cert_warnings(cx, &cert, w.span);
            Some(cert)
        }
        None => None,
    };
    let sni = match &t.sni {
        Some(w) => {
            let ctx_text = format!("'sni' of {place}");
            let exists = |_: &str| false;
            let ctx = p.expr_ctx(Stage::ServerSni, &ctx_text, &exists);
            Some(expr::parse_sample(w, &ctx, cx.diags).ok_or_else(silent)?)
        }
        None => None,
    };
    Ok(ServerTls {
        verify,
        client_cert,
        sni,
        params,
        session_reuse: t.ssl_reuse.unwrap_or(true),
    })
}
