//! Access logs: `option httplog`, `option tcplog` or `log-format` lines sent to
//! the proxy's `log` targets (stdout, stderr, syslog over UDP).

use super::eval::{self, LfTarget, Txn, Vars};
use super::facts::{ConnFacts, LogFacts};
use super::generation::Generation;
use crate::ir::{Frontend, ListenAddr, LogAddress, LogStyle, LogTarget, ProxyCommon};
use std::io::Write;
use std::net::UdpSocket;

/// syslog facility numbers, in `log` keyword order.
const FACILITIES: &[&str] = &[
    "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "auth2",
    "ftp", "ntp", "audit", "alert", "cron2", "local0", "local1", "local2", "local3", "local4",
    "local5", "local6", "local7",
];

/// Emits the access-log line of a finished transaction, if the proxy logs.
pub fn access(generation: &Generation, common: &ProxyCommon, t: &mut Txn) {
    let mut targets: Vec<&LogTarget> = common.log.targets.iter().collect();
    if common.log.global {
        targets.extend(generation.config.global.log.iter());
    }
    if targets.is_empty() {
        return;
    }
    let line = match &common.log.format {
        LogStyle::Http => eval::httplog_line(t),
        LogStyle::HttpClf => {
            let mut out = Vec::new();
            eval::render_log_format(&eval::httplog_clf_format(), LfTarget::Log, t, &mut out);
            out
        }
        LogStyle::Custom(f) => {
            let mut out = Vec::new();
            eval::render_log_format(f, LfTarget::Log, t, &mut out);
            out
        }
        // HAProxy's default format is the tcplog one without `%ft`'s TLS mark.
        LogStyle::Tcp | LogStyle::Default => eval::tcplog_line(t),
    };
    for target in targets {
        emit(target, &line);
    }
}

/// Emits the line of a request refused before any stream (`sess_log`):
/// `error-log-format` when the proxy has one, else the access-log format.
pub fn access_or_error(generation: &Generation, common: &ProxyCommon, t: &mut Txn) {
    let Some(f) = &common.log.error_format else {
        return access(generation, common, t);
    };
    let mut targets: Vec<&LogTarget> = common.log.targets.iter().collect();
    if common.log.global {
        targets.extend(generation.config.global.log.iter());
    }
    let mut out = Vec::new();
    eval::render_log_format(f, LfTarget::Log, t, &mut out);
    for target in targets {
        emit(target, &out);
    }
}

/// Emits the error-log line of a client connection that failed before any
/// stream (`facts.conn_error` says why): `error-log-format` when set, else
/// HAProxy's fixed line naming the bind. Under `option dontlognull`,
/// connections that sent nothing (closed or aborted during the handshake)
/// are not logged.
pub fn conn_error(generation: &Generation, common: &ProxyCommon, facts: &ConnFacts, bind: &str) {
    if common.log.dont_log_null && matches!(facts.conn_error, 0 | 24 | 25) {
        return;
    }
    let mut targets: Vec<&LogTarget> = common.log.targets.iter().collect();
    if common.log.global {
        targets.extend(generation.config.global.log.iter());
    }
    if targets.is_empty() {
        return;
    }
    let log = LogFacts::new(facts);
    let mut vars = Vars::new(generation.proc_vars.clone());
    let mut txn = Txn::new(facts, &mut vars);
    txn.log = Some(&log);
    let line = match &common.log.error_format {
        Some(f) => {
            let mut out = Vec::new();
            eval::render_log_format(f, LfTarget::Log, &mut txn, &mut out);
            out
        }
        None => {
            let message = crate::tls::errors::fc_err_str(facts.conn_error)
                .unwrap_or("Unknown connection error");
            eval::conn_error_line(&mut txn, bind, message)
        }
    };
    for target in targets {
        emit(target, &line);
    }
}

/// The name HAProxy's error line gives a listener: the bind's `name`, else
/// its number among the proxy's listeners (from 1; a bind with several
/// addresses has one listener per address).
pub fn listener_name(fe: &Frontend, bind: usize, dst: std::net::SocketAddr) -> String {
    let Some(b) = fe.binds.get(bind) else {
        return String::new();
    };
    if let Some(n) = &b.name {
        return n.clone();
    }
    let before: usize = fe.binds[..bind].iter().map(|b| b.addresses.len()).sum();
    let pos = b
        .addresses
        .iter()
        .position(|a| matches!(a, ListenAddr::Inet { port, .. } if *port == dst.port()))
        .unwrap_or(0);
    (before + pos + 1).to_string()
}

/// syslog severities, by number.
const SEVERITIES: &[&str] = &[
    "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
];

/// Sends an event (a server going down…) at `severity` (0 = emerg … 7 =
/// debug) to targets whose `level` lets it through.
pub fn event(targets: &[LogTarget], severity: u8, msg: &[u8]) {
    let rank = |l: &Option<String>| {
        l.as_deref()
            .and_then(|l| SEVERITIES.iter().position(|s| *s == l))
    };
    for t in targets {
        if rank(&t.level).is_some_and(|max| severity as usize > max) {
            continue;
        }
        // `minlevel` caps more severe messages to it.
        let sev = rank(&t.min_level).map_or(severity as usize, |min| min.max(severity as usize));
        emit_at(t, sev, msg);
    }
}

/// Sends one line (info level) to a target.
fn emit(target: &LogTarget, msg: &[u8]) {
    emit_at(target, 6, msg);
}

fn emit_at(target: &LogTarget, severity: usize, msg: &[u8]) {
    let facility = FACILITIES
        .iter()
        .position(|f| *f == target.facility)
        .unwrap_or(16);
    let pri = facility * 8 + severity;
    let raw = target.format.as_deref() == Some("raw");
    let mut line = Vec::with_capacity(msg.len() + 48);
    if !raw {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        let c = super::calendar::civil_from_unix(now);
        const MONTHS: [&str; 12] = [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ];
        let month = MONTHS
            .get(c.month.saturating_sub(1) as usize)
            .unwrap_or(&"Jan");
        let _ = write!(
            line,
            "<{pri}>{month} {:>2} {:02}:{:02}:{:02} portcullis[{}]: ",
            c.day,
            c.hour,
            c.minute,
            c.second,
            std::process::id()
        );
    }
    line.extend_from_slice(msg);
    if let Some(max) = target.max_len {
        line.truncate(max as usize);
    }
    match &target.address {
        LogAddress::Stdout => {
            line.push(b'\n');
            let _ = std::io::stdout().write_all(&line);
        }
        LogAddress::Stderr => {
            line.push(b'\n');
            let _ = std::io::stderr().write_all(&line);
        }
        LogAddress::Udp { host, port } => {
            if let Ok(sock) = UdpSocket::bind(("0.0.0.0", 0)) {
                let _ = sock.send_to(&line, (host.as_str(), *port));
            }
        }
        LogAddress::Unix(path) => {
            if let Ok(sock) = std::os::unix::net::UnixDatagram::unbound() {
                let _ = sock.send_to(&line, path);
            }
        }
    }
}
