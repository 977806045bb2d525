//! The commands of the runtime API and their HAProxy 2.6 output formats.
//!
//! Every command reads the current Generation (the IR with each certificate,
//! CA bundle and CRL already loaded), so nothing here touches the disk.

use super::admin::Started;
use super::calendar::civil_from_unix;
use super::generation::Generation;
use crate::ir::{self, Balance, ClientVerify, ServerVerify, StatsLevel};
use crate::tls::{CaBundle, CertInfo, CertKey, CrlSet};
use std::sync::Arc;

/// What a command produced.
pub(crate) enum Reply {
    /// Text to send (each response is followed by an empty line).
    Text(String),
    /// `quit`: close the session without a word.
    Quit,
}

/// Per-session state: access level and interactive mode.
#[derive(Debug)]
pub(crate) struct Session {
    pub level: StatsLevel,
    pub interactive: bool,
}

impl Session {
    /// A non-interactive session at the socket's level.
    pub fn new(level: StatsLevel) -> Session {
        Session {
            level,
            interactive: false,
        }
    }
}

/// One supported command: its words, usage, description and minimum level.
struct Cmd {
    words: &'static [&'static str],
    usage: &'static str,
    help: &'static str,
    level: StatsLevel,
}

const fn cmd(
    words: &'static [&'static str],
    usage: &'static str,
    help: &'static str,
    level: StatsLevel,
) -> Cmd {
    Cmd {
        words,
        usage,
        help,
        level,
    }
}

/// The commands portcullis implements, alphabetically as HAProxy lists them;
/// `help`, `prompt` and `quit` come last (see [`SESSION_CMDS`]).
const CMDS: &[Cmd] = &[
    cmd(
        &["operator"],
        "operator",
        "lower the level of the current CLI session to operator",
        StatsLevel::User,
    ),
    cmd(
        &["show", "cli", "level"],
        "show cli level",
        "display the level of the current CLI session",
        StatsLevel::User,
    ),
    cmd(
        &["show", "info"],
        "show info",
        "report information about the running process",
        StatsLevel::User,
    ),
    cmd(
        &["show", "ssl", "ca-file"],
        "show ssl ca-file [<cafile>]",
        "display the SSL CA files used in memory, or the details of a <cafile>",
        StatsLevel::Operator,
    ),
    cmd(
        &["show", "ssl", "cert"],
        "show ssl cert [<certfile>]",
        "display the SSL certificates used in memory, or the details of a file",
        StatsLevel::Operator,
    ),
    cmd(
        &["show", "ssl", "crl-file"],
        "show ssl crl-file [<crlfile>]",
        "display the SSL CRL files used in memory, or the details of a <crlfile>",
        StatsLevel::Operator,
    ),
    cmd(
        &["show", "stat"],
        "show stat",
        "report counters for each proxy and server",
        StatsLevel::User,
    ),
    cmd(
        &["show", "version"],
        "show version",
        "show version of the current process",
        StatsLevel::User,
    ),
    cmd(
        &["user"],
        "user",
        "lower the level of the current CLI session to user",
        StatsLevel::User,
    ),
];

/// Always listed at the end of any help output, as in HAProxy.
const SESSION_CMDS: &[(&str, &str)] = &[
    ("help [<command>]", "list matching or all commands"),
    ("prompt", "toggle interactive mode with prompt"),
    ("quit", "disconnect"),
];

/// HAProxy's answer to a refused command.
const DENIED: &str = "Permission denied\n";

fn help_line(out: &mut String, usage: &str, help: &str) {
    out.push_str(&format!("  {usage:<40}: {help}\n"));
}

fn help_text<'a>(header: &str, cmds: impl Iterator<Item = &'a Cmd>) -> String {
    let mut out = format!("{header}\n");
    for c in cmds {
        help_line(&mut out, c.usage, c.help);
    }
    for (usage, help) in SESSION_CMDS {
        help_line(&mut out, usage, help);
    }
    out
}

/// What a non-interactive empty line gets.
pub(crate) fn empty_line_help() -> String {
    help_text(
        "Unknown command. Please enter one of the following commands only:",
        CMDS.iter(),
    )
}

/// An unknown command: the closest commands, HAProxy style.
fn unknown(words: &[String]) -> String {
    let typed = words.join(" ");
    let mut scored: Vec<(f64, &Cmd)> = CMDS
        .iter()
        .map(|c| {
            let name = c.words.join(" ");
            let n = c.words.len().min(words.len()).max(1);
            let prefix = words.iter().take(n).cloned().collect::<Vec<_>>().join(" ");
            let score =
                strsim::jaro_winkler(&typed, &name).max(strsim::jaro_winkler(&prefix, &name));
            (score, c)
        })
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    let best = scored.iter().take(5).map(|(_, c)| *c);
    let mut best: Vec<&Cmd> = best.collect();
    best.sort_by_key(|c| c.usage);
    help_text(
        "Unknown command, but maybe one of the following ones is a better match:",
        best.into_iter(),
    )
}

/// Runs one command (already split into words) for a session.
pub(crate) fn run_command(
    words: &[String],
    session: &mut Session,
    generation: &Generation,
    started: Started,
) -> Reply {
    let w: Vec<&str> = words.iter().map(String::as_str).collect();
    let required = CMDS
        .iter()
        .find(|c| w.starts_with(c.words))
        .map_or(StatsLevel::User, |c| c.level);
    if session.level < required {
        return Reply::Text(DENIED.to_string());
    }
    let text = match w.as_slice() {
        ["quit", ..] => return Reply::Quit,
        ["prompt", ..] => {
            session.interactive = !session.interactive;
            String::new()
        }
        ["help", rest @ ..] => {
            let matching = CMDS.iter().filter(|c| {
                rest.iter()
                    .zip(c.words.iter())
                    .all(|(typed, word)| word.starts_with(typed))
                    && rest.len() <= c.words.len()
            });
            help_text("The following commands are valid at this level:", matching)
        }
        ["user"] => {
            session.level = StatsLevel::User;
            String::new()
        }
        ["operator"] => {
            if session.level < StatsLevel::Operator {
                DENIED.to_string()
            } else {
                session.level = StatsLevel::Operator;
                String::new()
            }
        }
        ["show", "cli", "level"] => format!("{}\n", session.level.as_str()),
        ["show", "version"] => format!("{}\n", env!("CARGO_PKG_VERSION")),
        ["show", "info", ..] => show_info(generation, started),
        ["show", "stat", ..] => show_stat(generation),
        [
            "show",
            "ssl",
            what @ ("cert" | "ca-file" | "crl-file"),
            rest @ ..,
        ] => {
            let material = Material::of(&generation.config);
            match (*what, rest.first()) {
                ("cert", None) => material.cert_list(),
                ("cert", Some(file)) => material.cert_detail(file),
                ("ca-file", None) => material.ca_list(),
                ("ca-file", Some(file)) => material.ca_detail(file),
                (_, None) => material.crl_list(),
                (_, Some(file)) => material.crl_detail(file),
            }
        }
        _ => unknown(words),
    };
    Reply::Text(text)
}

// ---------------------------------------------------------------------------
// show info

fn show_info(generation: &Generation, started: Started) -> String {
    let g = &generation.config.global;
    let up = started.at.elapsed().as_secs();
    let nbthread = g.nbthread.map_or_else(
        || std::thread::available_parallelism().map_or(1, |n| n.get()),
        |n| n as usize,
    );
    let start_unix = started
        .wall
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let listeners: usize = generation
        .config
        .frontends
        .iter()
        .flat_map(|f| &f.binds)
        .map(|b| b.addresses.len())
        .sum::<usize>()
        + g.stats_sockets.len();
    let version = env!("CARGO_PKG_VERSION");
    let mut lines = vec![
        ("Name", "portcullis".to_string()),
        ("Version", version.to_string()),
        ("Nbthread", nbthread.to_string()),
        ("Nbproc", "1".to_string()),
        ("Process_num", "1".to_string()),
        ("Pid", std::process::id().to_string()),
        (
            "Uptime",
            format!(
                "{}d {}h{:02}m{:02}s",
                up / 86400,
                up / 3600 % 24,
                up / 60 % 60,
                up % 60
            ),
        ),
        ("Uptime_sec", up.to_string()),
    ];
    if let Some(m) = g.maxconn {
        lines.push(("Maxconn", m.to_string()));
        lines.push(("Hard_maxconn", m.to_string()));
    }
    lines.push(("node", hostname()));
    lines.push(("Stopping", "0".to_string()));
    lines.push(("Listeners", listeners.to_string()));
    lines.push(("Build info", version.to_string()));
    lines.push(("Start_time_sec", start_unix.to_string()));
    let mut out = String::new();
    for (k, v) in lines {
        out.push_str(&format!("{k}: {v}\n"));
    }
    out
}

pub(crate) fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------
// show stat

/// HAProxy 2.6's `show stat` columns, in order.
const STAT_COLUMNS: &str = "pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight,act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,throttle,lbtot,tracked,type,rate,rate_lim,rate_max,check_status,check_code,check_duration,hrsp_1xx,hrsp_2xx,hrsp_3xx,hrsp_4xx,hrsp_5xx,hrsp_other,hanafail,req_rate,req_rate_max,req_tot,cli_abrt,srv_abrt,comp_in,comp_out,comp_byp,comp_rsp,lastsess,last_chk,last_agt,qtime,ctime,rtime,ttime,agent_status,agent_code,agent_duration,check_desc,agent_desc,check_rise,check_fall,check_health,agent_rise,agent_fall,agent_health,addr,cookie,mode,algo,conn_rate,conn_rate_max,conn_tot,intercepted,dcon,dses,wrew,connect,reuse,cache_lookups,cache_hits,srv_icur,src_ilim,qtime_max,ctime_max,rtime_max,ttime_max,eint,idle_conn_cur,safe_conn_cur,used_conn_cur,need_conn_est,uweight,agg_server_status,agg_server_check_status,agg_check_status,-,ssl_sess,ssl_reused_sess,ssl_failed_handshake,h2_headers_rcvd,h2_data_rcvd,h2_settings_rcvd,h2_rst_stream_rcvd,h2_goaway_rcvd,h2_detected_conn_protocol_errors,h2_detected_strm_protocol_errors,h2_rst_stream_resp,h2_goaway_resp,h2_open_connections,h2_backend_open_streams,h2_total_connections,h2_backend_total_streams,h1_open_connections,h1_open_streams,h1_total_connections,h1_total_streams,h1_bytes_in,h1_bytes_out,h1_spliced_bytes_in,h1_spliced_bytes_out,";

/// One CSV row, filled by column name; unknown values stay empty (n/a).
struct Row {
    names: Vec<&'static str>,
    cells: Vec<String>,
}

impl Row {
    fn new() -> Row {
        let names: Vec<&'static str> = STAT_COLUMNS.split(',').filter(|s| !s.is_empty()).collect();
        let cells = vec![String::new(); names.len()];
        Row { names, cells }
    }

    fn set(&mut self, name: &str, value: impl ToString) -> &mut Row {
        if let Some(i) = self.names.iter().position(|n| *n == name)
            && let Some(cell) = self.cells.get_mut(i)
        {
            *cell = csv_escape(&value.to_string());
        }
        self
    }

    fn line(&self) -> String {
        let mut s = self.cells.join(",");
        s.push_str(",\n");
        s
    }
}

fn csv_escape(v: &str) -> String {
    if v.contains([',', '"', '\n']) {
        format!("\"{}\"", v.replace('"', "\"\""))
    } else {
        v.to_string()
    }
}

fn mode_name(mode: ir::expr::Mode) -> &'static str {
    match mode {
        ir::expr::Mode::Http => "http",
        ir::expr::Mode::Tcp => "tcp",
    }
}

fn algo_name(b: &Balance) -> &'static str {
    match b {
        Balance::RoundRobin => "roundrobin",
        Balance::StaticRr => "static-rr",
        Balance::LeastConn => "leastconn",
        Balance::First => "first",
        Balance::Source => "source",
        Balance::Uri { .. } => "uri",
        Balance::UrlParam { .. } => "url_param",
        Balance::Random { .. } => "random",
        _ => "hdr",
    }
}

pub(crate) fn show_stat(generation: &Generation) -> String {
    let config = &generation.config;
    let mut out = format!("# {STAT_COLUMNS}\n");
    let mut iid = 0usize;
    let mut done_backends = vec![false; config.backends.len()];
    let backend_rows = |bi: usize, iid: usize, out: &mut String| {
        let Some(be) = config.backends.get(bi) else {
            return;
        };
        let rt = generation.backends.get(bi);
        let mut weight = 0u32;
        let (mut act, mut bck) = (0u32, 0u32);
        for (si, srv) in be.servers.iter().enumerate() {
            // What the health checks say (servers without `check` are up).
            let up = rt.is_none_or(|r| r.lb.is_up(si));
            let has_addr = rt.is_none_or(|r| r.lb.has_addr(si));
            let status = match (srv.disabled, &srv.check, up) {
                (true, _, _) => "MAINT",
                // No address (DNS resolution, `init-addr none`): HAProxy's
                // SRV_ADMF_RMAINT.
                _ if !has_addr => "MAINT (resolution)",
                (false, None, _) => "no check",
                (false, Some(_), true) => "UP",
                (false, Some(_), false) => "DOWN",
            };
            let mut row = Row::new();
            row.set("pxname", &be.common.name)
                .set("svname", &srv.name)
                .set("status", status)
                .set("weight", srv.weight)
                .set("act", u32::from(!srv.backup))
                .set("bck", u32::from(srv.backup))
                .set("pid", 1)
                .set("iid", iid)
                .set("sid", si + 1)
                .set("type", 2)
                .set("mode", mode_name(be.common.mode))
                .set("uweight", srv.weight);
            if let Some(addr) = rt.and_then(|r| r.servers.get(si)).and_then(|s| s.addr()) {
                row.set("addr", addr);
            }
            if let Some(m) = srv.maxconn {
                row.set("slim", m);
            }
            out.push_str(&row.line());
            if !srv.disabled && up && has_addr {
                if srv.backup {
                    bck += 1;
                } else {
                    act += 1;
                    weight += srv.weight;
                }
            }
        }
        let mut row = Row::new();
        row.set("pxname", &be.common.name)
            .set("svname", "BACKEND")
            .set("status", if act + bck > 0 { "UP" } else { "DOWN" })
            .set("weight", weight)
            .set("act", act)
            .set("bck", bck)
            .set("pid", 1)
            .set("iid", iid)
            .set("sid", 0)
            .set("type", 1)
            .set("mode", mode_name(be.common.mode))
            .set("algo", algo_name(&be.balance))
            .set("uweight", weight);
        out.push_str(&row.line());
    };
    for fe in &config.frontends {
        iid += 1;
        let mut row = Row::new();
        row.set("pxname", &fe.common.name)
            .set("svname", "FRONTEND")
            .set("status", "OPEN")
            .set("pid", 1)
            .set("iid", iid)
            .set("sid", 0)
            .set("type", 0)
            .set("mode", mode_name(fe.common.mode));
        if let Some(m) = fe.maxconn.or(config.global.maxconn) {
            row.set("slim", m);
        }
        out.push_str(&row.line());
        // A `listen` is both: its servers and BACKEND line follow.
        if let Some(bi) = config
            .backends
            .iter()
            .position(|b| b.common.name == fe.common.name && b.common.origin == fe.common.origin)
        {
            backend_rows(bi, iid, &mut out);
            if let Some(d) = done_backends.get_mut(bi) {
                *d = true;
            }
        }
    }
    for (bi, done) in done_backends.iter().enumerate() {
        if !done {
            iid += 1;
            backend_rows(bi, iid, &mut out);
        }
    }
    out
}

// ---------------------------------------------------------------------------
// show ssl cert / ca-file / crl-file

/// Every TLS file of a configuration, each once, in first-use order.
struct Material {
    certs: Vec<Arc<CertKey>>,
    cas: Vec<Arc<CaBundle>>,
    crls: Vec<Arc<CrlSet>>,
}

fn push_unique<T>(list: &mut Vec<Arc<T>>, item: &Arc<T>, same: impl Fn(&T, &T) -> bool) {
    if !list.iter().any(|x| same(x, item)) {
        list.push(item.clone());
    }
}

impl Material {
    fn of(config: &ir::Config) -> Material {
        let mut m = Material {
            certs: Vec::new(),
            cas: Vec::new(),
            crls: Vec::new(),
        };
        let same_cert = |a: &CertKey, b: &CertKey| a.path == b.path;
        let same_ca = |a: &CaBundle, b: &CaBundle| a.source == b.source;
        let same_crl = |a: &CrlSet, b: &CrlSet| a.path == b.path;
        for tls in config
            .frontends
            .iter()
            .flat_map(|f| &f.binds)
            .filter_map(|b| b.tls.as_ref())
        {
            for sni in &tls.certs {
                push_unique(&mut m.certs, &sni.cert, same_cert);
                if let ClientVerify::Optional(t) | ClientVerify::Required(t) = &sni.policy.verify {
                    for ca in t.ca_file.iter().chain(t.ca_verify_file.iter()) {
                        push_unique(&mut m.cas, ca, same_ca);
                    }
                    if let Some(crl) = &t.crl {
                        push_unique(&mut m.crls, crl, same_crl);
                    }
                }
            }
        }
        for srv in config.backends.iter().flat_map(|b| &b.servers) {
            let Some(tls) = &srv.tls else { continue };
            if let Some(c) = &tls.client_cert {
                push_unique(&mut m.certs, c, same_cert);
            }
            if let ServerVerify::Required { ca, crl, .. } = &tls.verify {
                push_unique(&mut m.cas, ca, same_ca);
                if let Some(crl) = crl {
                    push_unique(&mut m.crls, crl, same_crl);
                }
            }
        }
        m
    }

    fn cert_list(&self) -> String {
        let mut out = "# filename\n".to_string();
        for c in &self.certs {
            out.push_str(&format!("{}\n", c.path.display()));
        }
        out
    }

    fn cert_detail(&self, file: &str) -> String {
        let found = self
            .certs
            .iter()
            .find(|c| c.path.as_os_str() == std::ffi::OsStr::new(file));
        let Some((c, leaf)) = found.and_then(|c| c.infos.first().map(|l| (c, l))) else {
            return "Can't display the certificate: Not found or the certificate is a bundle!\n"
                .to_string();
        };
        let mut out = format!("Filename: {}\nStatus: Used\n", c.path.display());
        cert_fields(&mut out, leaf);
        for chain in c.infos.iter().skip(1) {
            out.push_str(&format!(
                "Chain Subject: {}\nChain Issuer: {}\n",
                chain.subject_oneline, chain.issuer_oneline
            ));
        }
        out.push_str("OCSP Response Key: \n");
        out
    }

    fn ca_list(&self) -> String {
        let mut out = "# filename\n".to_string();
        for ca in &self.cas {
            out.push_str(&format!(
                "{} - {} certificate(s)\n",
                ca.source,
                ca.infos.len()
            ));
        }
        out
    }

    fn ca_detail(&self, file: &str) -> String {
        let Some(ca) = self.cas.iter().find(|c| c.source == file) else {
            return "Can't display the CA file : Not found!\n".to_string();
        };
        let mut out = format!("Filename: {}\nStatus: Used\n", ca.source);
        for (i, info) in ca.infos.iter().enumerate() {
            out.push_str(&format!(" \nCertificate #{}:\n", i + 1));
            cert_fields(&mut out, info);
        }
        out
    }

    fn crl_list(&self) -> String {
        let mut out = "# filename\n".to_string();
        for crl in &self.crls {
            out.push_str(&format!("{}\n", crl.path.display()));
        }
        out
    }

    fn crl_detail(&self, file: &str) -> String {
        let found = self
            .crls
            .iter()
            .find(|c| c.path.as_os_str() == std::ffi::OsStr::new(file));
        let Some(crl) = found else {
            return "Can't display the CRL file : Not found!\n".to_string();
        };
        let mut out = format!("Filename: {}\nStatus: Used\n", crl.path.display());
        for (i, info) in crl.infos.iter().enumerate() {
            out.push_str(&format!(" \nCertificate Revocation List #{}:\n", i + 1));
            out.push_str(&format!("Issuer: {}\n", info.issuer_oneline));
            out.push_str(&format!("Last Update: {}\n", asn1_time(info.this_update)));
            if let Some(next) = info.next_update {
                out.push_str(&format!("Next Update: {}\n", asn1_time(next)));
            }
            if info.revoked == 0 {
                out.push_str("No Revoked Certificates.\n");
            } else {
                out.push_str(&format!("Revoked Certificates: {}\n", info.revoked));
            }
        }
        out
    }
}

/// The per-certificate lines shared by `show ssl cert` and `show ssl ca-file`.
fn cert_fields(out: &mut String, info: &CertInfo) {
    let mut san = String::new();
    for d in &info.dns_names {
        san.push_str(&format!("DNS:{d}, "));
    }
    out.push_str(&format!(
        "Serial: {}\nnotBefore: {}\nnotAfter: {}\nSubject Alternative Name: {san}\nAlgorithm: {}\nSHA1 FingerPrint: {}\nSubject: {}\nIssuer: {}\n",
        info.serial_hex,
        asn1_time(info.not_before),
        asn1_time(info.not_after),
        info.key_alg,
        info.sha1_hex,
        info.subject_oneline,
        info.issuer_oneline,
    ));
}

/// OpenSSL's `ASN1_TIME_print`: `May  5 09:01:07 2095 GMT`.
pub(crate) fn asn1_time(ts: i64) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let c = civil_from_unix(ts);
    let month = MONTHS
        .get((c.month as usize).saturating_sub(1))
        .copied()
        .unwrap_or("???");
    format!(
        "{month} {:>2} {:02}:{:02}:{:02} {} GMT",
        c.day, c.hour, c.minute, c.second, c.year
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asn1_time_pads_the_day_like_openssl() {
        // 2095-05-05 09:01:07 UTC
        assert_eq!(asn1_time(3_955_424_467), "May  5 09:01:07 2095 GMT");
        assert_eq!(asn1_time(0), "Jan  1 00:00:00 1970 GMT");
    }

    #[test]
    fn help_lines_are_padded_to_forty_columns() {
        let h = help_text("x", std::iter::empty());
        assert!(h.contains(
            "  help [<command>]                        : list matching or all commands\n"
        ));
    }

    #[test]
    fn stat_header_has_haproxy_column_count() {
        assert_eq!(Row::new().cells.len(), 128);
    }
}
