//! Lowering of the `global` and `userlist` sections, and `log` targets.

use super::tlsopts;
use super::values::{time_ms, uint, uint_in};
use super::{Lowerer, arg, extra_words, place};
use crate::config::ast::Section;
use crate::config::keywords::Context;
use crate::config::word::{Line, Word};
use crate::diag::Diagnostic;
use crate::ir::{LogAddress, LogTarget, Password, ServerVerifyDefault, TlsParams, User, Userlist};
use std::path::PathBuf;

/// syslog facilities accepted by `log`.
const FACILITIES: &[&str] = &[
    "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "auth2",
    "ftp", "ntp", "audit", "alert", "cron2", "local0", "local1", "local2", "local3", "local4",
    "local5", "local6", "local7",
];
/// syslog levels accepted by `log`.
const LEVELS: &[&str] = &[
    "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
];
/// `log … format` values.
const LOG_FORMATS: &[&str] = &[
    "local", "rfc3164", "rfc5424", "short", "raw", "timed", "iso", "priority",
];

/// Applies one `global` section (several are merged, as in HAProxy).
pub(crate) fn lower_global(cx: &mut Lowerer, section: &Section) {
    let where_ = place(section);
    for line in &section.lines {
        if let Err(d) = global_line(cx, line, &where_) {
            cx.err(d);
        }
    }
}

fn global_line(cx: &mut Lowerer, line: &Line, where_: &str) -> Result<(), Diagnostic> {
    let w = &line.words;
    let kw = &w[0];
    let one = |what: &str| -> Result<&Word, Diagnostic> { arg(w, 1, kw, what) };
    let done = |n: usize| extra_words(line, n, &kw.text).map_or(Ok(()), Err);
    match kw.text.as_str() {
        "lua-load" | "lua-load-per-thread" | "lua-prepend-path" => {
            super::lua::global_line(cx, line)
        }
        "tune.lua.forced-yield"
        | "tune.lua.maxmem"
        | "tune.lua.session-timeout"
        | "tune.lua.service-timeout"
        | "tune.lua.task-timeout" => super::lua::tune(cx, line),
        "tune.idle-pool.shared" => {
            let v = one("'on' or 'off'")?;
            if v.text != "on" && v.text != "off" {
                return Err(Diagnostic::error(format!(
                    "'tune.idle-pool.shared' expects either 'on' or 'off' but got '{}'",
                    v.text
                ))
                .at(v.span));
            }
            cx.diags.push(
                Diagnostic::warning(
                    "'tune.idle-pool.shared' has no effect: portcullis keeps one pool of idle server connections per server (and SNI), shared by every worker thread (HAProxy's 'on'); there are no per-thread pools to stop sharing",
                )
                .at(kw.span)
                .help("remove the line"),
            );
            done(2)
        }
        "nbthread" => {
            cx.global.nbthread = Some(uint_in(one("a number of threads")?, "nbthread", 1, 4096)?);
            done(2)
        }
        "cpu-map" => super::cpumap::apply(&mut cx.global.cpu_map, kw, &w[1..]),
        "maxconn" => {
            cx.global.maxconn = Some(uint(one("a connection count")?, "maxconn")?);
            done(2)
        }
        "crt-base" => {
            cx.global.crt_base = Some(PathBuf::from(&one("a directory")?.text));
            done(2)
        }
        "ca-base" => {
            cx.global.ca_base = Some(PathBuf::from(&one("a directory")?.text));
            done(2)
        }
        "localpeer" => {
            let name = one("a peer name")?;
            if cx.local_peer_cmdline {
                cx.warn(
                    kw.span,
                    format!(
                        "'{}' ignored since it is already set by using the '-L' command line argument.",
                        kw.text
                    ),
                );
            } else {
                cx.local_peer = name.text.clone();
            }
            done(2)
        }
        "pidfile" => {
            cx.global.pidfile = Some(PathBuf::from(&one("a file name")?.text));
            done(2)
        }
        // Only names the file `load-server-state-from-file` reads, which
        // portcullis refuses by name: nothing else reads or writes it (the
        // `show servers state` output is saved by an outside script).
        "server-state-file" => {
            one("a file name")?;
            done(2)
        }
        "tune.ssl.default-dh-param" => {
            let v = one("a number of bits")?;
            // HAProxy parses with atoi: anything under 1024 (or not a number) is refused.
            let bits = v
                .text
                .parse::<u32>()
                .ok()
                .filter(|b| *b >= 1024)
                .ok_or_else(|| {
                    Diagnostic::error("'tune.ssl.default-dh-param' expects a value >= 1024.")
                        .at(v.span)
                        .help("give the largest DH group size DHE suites may use, e.g. 2048")
                })?;
            if bits < crate::tls::dh::MIN_BITS {
                cx.diags.push(
                    Diagnostic::warning(format!(
                        "'tune.ssl.default-dh-param {bits}' selects a DH group under 2048 bits, which OpenSSL's security level refuses: DH ciphers won't be available unless a certificate or 'ssl-dh-param-file' brings parameters"
                    ))
                    .at(v.span)
                    .help("use 2048 or more"),
                );
            }
            cx.global.dh_default_bits = Some(bits);
            done(2)
        }
        "ssl-dh-param-file" => {
            let v = one("a file name")?;
            let unable = |why: String| {
                Diagnostic::error(format!(
                    "'ssl-dh-param-file': unable to load DH parameters from file <{}>: {why}",
                    v.text
                ))
                .at(v.span)
                .help("give a PEM file with a 'BEGIN DH PARAMETERS' block ('openssl dhparam -out dh.pem 2048')")
            };
            let bytes = std::fs::read(&v.text).map_err(|e| unable(e.to_string()))?;
            let params = crate::tls::dh::DhParams::from_pem(&bytes)
                .map_err(unable)?
                .ok_or_else(|| unable("no 'DH PARAMETERS' block".into()))?;
            if !params.usable() {
                cx.diags.push(
                    Diagnostic::warning(format!(
                        "unable to use the global {}-bit DH parameters of '{}': DH ciphers won't be available",
                        params.bits, v.text
                    ))
                    .at(v.span)
                    .help("OpenSSL's security level refuses DH groups under 2048 bits; generate larger ones ('openssl dhparam 2048')"),
                );
            }
            cx.global.dh_file = Some(std::sync::Arc::new(params));
            done(2)
        }
        "user" | "group" => {
            let v = one("a name")?;
            let found = if kw.text == "user" {
                nix::unistd::User::from_name(&v.text)
                    .ok()
                    .flatten()
                    .map(|u| u.uid.as_raw())
            } else {
                nix::unistd::Group::from_name(&v.text)
                    .ok()
                    .flatten()
                    .map(|g| g.gid.as_raw())
            };
            let Some(id) = found else {
                return Err(Diagnostic::error(format!(
                    "cannot find {} id for '{}'",
                    kw.text, v.text
                ))
                .at(v.span)
                .help(format!(
                    "create the {} on this machine, or give a numeric '{}'",
                    kw.text,
                    if kw.text == "user" { "uid" } else { "gid" }
                )));
            };
            if kw.text == "user" {
                cx.global.uid = Some(id);
            } else {
                cx.global.gid = Some(id);
            }
            done(2)
        }
        "tune.ssl.capture-buffer-size" | "tune.ssl.capture-cipherlist-size" => {
            uint(one("a size")?, &kw.text)?;
            cx.diags.push(
                Diagnostic::warning(format!(
                    "'{}' has no effect: it only feeds the ssl_fc_cipherlist_* fetches, which portcullis does not implement (check refuses them)",
                    kw.text
                ))
                .at(kw.span)
                .help("remove the line"),
            );
            done(2)
        }
        "tune.ssl.cachesize" => {
            let n = uint(one("a number of entries")?, &kw.text)?;
            cx.global.session_cache.size = n as usize;
            done(2)
        }
        "tune.ssl.ssl-ctx-cache-size" => {
            let n = uint(one("a number of entries")?, &kw.text)?;
            cx.global.ssl_ctx_cache_size = Some(n as usize);
            done(2)
        }
        "tune.ssl.lifetime" => {
            let ms = time_ms(one("a time")?, &kw.text)?;
            // HAProxy's default unit here is the second.
            let v = &w[1];
            let secs = if v.text.chars().all(|c| c.is_ascii_digit()) {
                ms
            } else {
                ms / 1000
            };
            cx.global.session_cache.lifetime_secs = u32::try_from(secs).unwrap_or(u32::MAX);
            done(2)
        }
        "tune.bufsize" | "tune.maxrewrite" | "tune.http.maxhdr" => {
            let v = one("a number")?;
            let (min, max) = match kw.text.as_str() {
                "tune.bufsize" => (1024, 1 << 30),
                "tune.maxrewrite" => (0, 1 << 29),
                _ => (1, 32_767),
            };
            let n = uint_in(v, &kw.text, min, max)?;
            match kw.text.as_str() {
                "tune.bufsize" => cx.global.tune_bufsize = Some(n),
                "tune.maxrewrite" => cx.global.tune_maxrewrite = Some(n),
                _ => cx.global.tune_http_maxhdr = Some(n),
            }
            done(2)
        }
        "daemon" => {
            cx.global.daemon = true;
            done(1)
        }
        "uid" | "gid" => {
            let v = one("a number")?;
            let id = uint(v, &kw.text)?;
            if kw.text == "uid" {
                cx.global.uid = Some(id);
            } else {
                cx.global.gid = Some(id);
            }
            done(2)
        }
        "chroot" => {
            let v = one("a directory")?;
            // HAProxy only fails at start; say it now, as a warning like its verdict.
            if !std::path::Path::new(&v.text).is_dir() {
                cx.diags.push(
                    Diagnostic::warning(format!("chroot directory '{}' does not exist: 'run' will refuse to start", v.text))
                        .at(v.span)
                        .help("create the directory (often an empty one such as /var/empty) or remove the line"),
                );
            }
            cx.global.chroot = Some(PathBuf::from(&v.text));
            done(2)
        }
        "hard-stop-after" => {
            cx.global.hard_stop_after = Some(time_ms(one("a time")?, "hard-stop-after")?);
            done(2)
        }
        "ssl-server-verify" => {
            let v = one("'none' or 'required'")?;
            cx.global.server_verify_default = match v.text.as_str() {
                "none" => ServerVerifyDefault::None,
                "required" => ServerVerifyDefault::Required,
                _ => {
                    return Err(Diagnostic::error(format!(
                        "'ssl-server-verify' : unknown value '{}'",
                        v.text
                    ))
                    .at(v.span)
                    .help("use 'none' or 'required'"));
                }
            };
            done(2)
        }
        "ssl-default-bind-ciphers" | "ssl-default-server-ciphers" => {
            let list = tlsopts::ciphers(one("a cipher list")?, &kw.text)?;
            defaults_of(cx, kw).ciphers = Some(list);
            done(2)
        }
        "ssl-default-bind-ciphersuites" | "ssl-default-server-ciphersuites" => {
            let list = tlsopts::ciphersuites(one("a cipher suite list")?, &kw.text)?;
            defaults_of(cx, kw).ciphersuites = Some(list);
            done(2)
        }
        "ssl-default-bind-curves" => {
            let list = tlsopts::curves(one("a curve list")?, &kw.text)?;
            cx.global.bind_tls_defaults.curves = Some(list);
            done(2)
        }
        "ssl-default-bind-options" | "ssl-default-server-options" => {
            let mut params = defaults_of(cx, kw).clone();
            default_options(&mut params, &w[1..], kw)?;
            tlsopts::check_versions(&params, kw)?;
            *defaults_of(cx, kw) = params;
            Ok(())
        }
        "stats" if w.get(1).is_some_and(|s| s.text == "socket") => {
            let sock = super::statssock::stats_socket(cx, line)?;
            cx.global.stats_sockets.push(sock);
            Ok(())
        }
        "stats" if w.get(1).is_some_and(|s| s.text == "bind-process") => {
            super::compat::stats_bind_process(cx, line)
        }
        "tune.maxaccept" => super::compat::tune_maxaccept(cx, line),
        "ssl-load-extra-del-ext" => {
            cx.loader.set_extra_del_ext(true);
            done(1)
        }
        "stats" if w.get(1).is_some_and(|s| s.text == "timeout") => {
            cx.global.stats_timeout = Some(super::statssock::stats_timeout(line)?);
            extra_words(line, 3, "stats timeout").map_or(Ok(()), Err)
        }
        "log" => {
            let target = log_target(&w[1..], kw)?;
            cx.global.log.push(target);
            Ok(())
        }
        _ => {
            cx.unknown_keyword(Context::Global, kw, where_);
            Ok(())
        }
    }
}

fn defaults_of<'c>(cx: &'c mut Lowerer, kw: &Word) -> &'c mut TlsParams {
    if kw.text.starts_with("ssl-default-bind") {
        &mut cx.global.bind_tls_defaults
    } else {
        &mut cx.global.server_tls_defaults
    }
}

/// `ssl-default-{bind,server}-options <opt>…`.
fn default_options(params: &mut TlsParams, words: &[Word], kw: &Word) -> Result<(), Diagnostic> {
    let mut i = 0;
    while let Some(w) = words.get(i) {
        i += 1;
        if tlsopts::version_flag(params, w)? {
            continue;
        }
        match w.text.as_str() {
            "ssl-min-ver" | "ssl-max-ver" => {
                let v = arg(words, i, w, "a TLS version")?;
                i += 1;
                tlsopts::version_bound(params, w, v)?;
            }
            "no-tls-tickets" => params.no_tls_tickets = true,
            "prefer-client-ciphers" => params.prefer_client_ciphers = true,
            other => {
                return Err(Diagnostic::error(format!(
                    "'{}' : option '{other}' is not supported by portcullis",
                    kw.text
                ))
                .at(w.span)
                .help("supported: ssl-min-ver, ssl-max-ver, no-sslv3, no-tlsv10, no-tlsv11, no-tlsv12, no-tlsv13, force-tlsv12, force-tlsv13, no-tls-tickets, prefer-client-ciphers"));
            }
        }
    }
    Ok(())
}

/// Parses the words after `log` (not `log global`): `<target> [len <n>]
/// [format <f>] <facility> [<level> [<minlevel>]]`.
pub(crate) fn log_target(words: &[Word], kw: &Word) -> Result<LogTarget, Diagnostic> {
    let target = arg(words, 0, kw, "a target address and a facility")?;
    let address = match target.text.as_str() {
        "stdout" | "fd@1" => LogAddress::Stdout,
        "stderr" | "fd@2" => LogAddress::Stderr,
        t if t.starts_with('/') => LogAddress::Unix(PathBuf::from(t)),
        t if t.starts_with("unix@") => LogAddress::Unix(PathBuf::from(&t[5..])),
        t if t.starts_with("ring@") || t.starts_with("fd@") => {
            return Err(Diagnostic::error(format!(
                "log target '{t}' is not supported by portcullis"
            ))
            .at(target.span)
            .help(
                "log to stdout, stderr, a Unix socket such as /dev/log, or udp syslog host:port",
            ));
        }
        t => {
            let t = t
                .strip_prefix("udp@")
                .or_else(|| t.strip_prefix("ipv4@"))
                .unwrap_or(t);
            let (host, port) = match t.rsplit_once(':') {
                Some((h, p)) => (h, p.parse::<u16>().ok().filter(|p| *p > 0)),
                None => (t, Some(514)),
            };
            let Some(port) = port else {
                return Err(Diagnostic::error(format!(
                    "invalid port in log target '{}'",
                    target.text
                ))
                .at(target.span));
            };
            if host.is_empty() {
                return Err(Diagnostic::error(format!(
                    "missing host in log target '{}'",
                    target.text
                ))
                .at(target.span));
            }
            LogAddress::Udp {
                host: host.to_string(),
                port,
            }
        }
    };
    let mut i = 1;
    let mut max_len = None;
    let mut format = None;
    loop {
        match words.get(i).map(|w| w.text.as_str()) {
            Some("len") => {
                max_len = Some(uint(arg(words, i + 1, &words[i], "a length")?, "len")?);
                i += 2;
            }
            Some("format") => {
                let f = arg(words, i + 1, &words[i], "a log format name")?;
                if !LOG_FORMATS.contains(&f.text.as_str()) {
                    return Err(
                        Diagnostic::error(format!("unknown log format '{}'", f.text))
                            .at(f.span)
                            .help(format!("formats: {}", LOG_FORMATS.join(", "))),
                    );
                }
                format = Some(f.text.clone());
                i += 2;
            }
            Some("sample") => {
                return Err(Diagnostic::error(
                    "log sampling ('sample') is not supported by portcullis",
                )
                .at(words[i].span));
            }
            _ => break,
        }
    }
    let facility = arg(words, i, kw, "a syslog facility")?;
    if !FACILITIES.contains(&facility.text.as_str()) {
        let mut d = Diagnostic::error(format!("unknown log facility '{}'", facility.text))
            .at(facility.span);
        if let Some(s) = crate::diag::did_you_mean(&facility.text, FACILITIES.iter().copied()) {
            d = d.help(format!("did you mean '{s}'?"));
        }
        return Err(d);
    }
    let mut levels = Vec::new();
    for w in &words[i + 1..] {
        if !LEVELS.contains(&w.text.as_str()) || levels.len() == 2 {
            return Err(Diagnostic::error(format!("unknown log level '{}'", w.text))
                .at(w.span)
                .help(format!("levels: {}", LEVELS.join(", "))));
        }
        levels.push(w.text.clone());
    }
    let mut levels = levels.into_iter();
    Ok(LogTarget {
        address,
        max_len,
        format,
        facility: facility.text.clone(),
        level: levels.next(),
        min_level: levels.next(),
    })
}

/// Lowers a `userlist` section.
pub(crate) fn lower_userlist(cx: &mut Lowerer, section: &Section) -> Option<Userlist> {
    let name = section.name_str().to_string();
    let mut list = Userlist {
        name,
        users: Vec::new(),
        groups: Vec::new(),
    };
    let where_ = place(section);
    for line in &section.lines {
        let w = &line.words;
        let kw = &w[0];
        let res: Result<(), Diagnostic> = (|| {
            match kw.text.as_str() {
                "group" => {
                    let g = arg(w, 1, kw, "a group name")?;
                    let mut members = Vec::new();
                    let mut i = 2;
                    while let Some(opt) = w.get(i) {
                        if opt.text != "users" {
                            return Err(Diagnostic::error(format!(
                                "'group' : unexpected '{}'",
                                opt.text
                            ))
                            .at(opt.span)
                            .help("write 'group <name> [users <user>,<user>…]'"));
                        }
                        let users = arg(w, i + 1, opt, "a comma-separated user list")?;
                        members.extend(users.text.split(',').map(String::from));
                        i += 2;
                    }
                    list.groups.push((g.text.clone(), members));
                }
                "user" => {
                    let u = arg(w, 1, kw, "a user name")?;
                    let mut password = None;
                    let mut groups = Vec::new();
                    let mut i = 2;
                    while let Some(opt) = w.get(i) {
                        let v = arg(w, i + 1, opt, "a value")?;
                        match opt.text.as_str() {
                            "password" => password = Some(Password::Hashed(v.text.clone())),
                            "insecure-password" => {
                                password = Some(Password::Insecure(v.text.clone()))
                            }
                            "groups" => groups.extend(v.text.split(',').map(String::from)),
                            _ => {
                                return Err(Diagnostic::error(format!("'user' : unexpected '{}'", opt.text))
                                    .at(opt.span)
                                    .help("write 'user <name> password <hash>|insecure-password <pw> [groups <g>,…]'"));
                            }
                        }
                        i += 2;
                    }
                    let Some(password) = password else {
                        return Err(Diagnostic::error(format!(
                            "user '{}' has no password",
                            u.text
                        ))
                        .at(u.span)
                        .help("add 'password <crypt hash>' or 'insecure-password <password>'"));
                    };
                    list.users.push(User {
                        name: u.text.clone(),
                        password,
                        groups,
                    });
                }
                _ => cx.unknown_keyword(Context::Userlist, kw, &where_),
            }
            Ok(())
        })();
        if let Err(d) = res {
            cx.err(d);
        }
    }
    Some(list)
}
