//! Log-format rendering: every alias, the flags, samples in logs and in
//! HTTP headers, separators, and the default httplog / tcplog / clf lines.
//! The expected lines were produced by HAProxy 2.6.12 with the same facts.

use super::*;
use crate::runtime::calendar::local_from_unix;
use crate::runtime::facts::{
    CookieState, FinState, LogCounters, LogTimers, SetCookieState, TermCause, Termination,
};

fn facts(w: &World) -> LogFacts {
    let mut l = LogFacts::new(&w.conn);
    l.timers = LogTimers {
        handshake: 5,
        idle: 2,
        request: 10,
        queue: 11,
        connect: 12,
        data: 20,
        close: 25,
    };
    l.backend = "be".into();
    l.backend_is_http = true;
    l.server = Some("s1".into());
    l.status = 200;
    l.bytes_out = 500;
    l.bytes_in = 101;
    l.counters = LogCounters {
        act_conn: 1,
        fe_conn: 1,
        ..LogCounters::default()
    };
    l.request_line = w.req.as_ref().map(request_line);
    l
}

fn txn_var(name: &str) -> crate::ir::expr::VarName {
    crate::ir::expr::VarName {
        scope: crate::ir::expr::VarScope::Txn,
        name: name.to_string(),
    }
}

fn world() -> World {
    let mut w = World::http("GET", "/a?b=1", &[("host", "www.example")]);
    w.log = Some(facts(&w));
    w
}

/// `%t`-style local date of the accept date plus `ms` milliseconds.
fn local_date(ms: u64) -> String {
    let months = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let t = accept_date() + Duration::from_millis(ms);
    let d = t.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
    let c = local_from_unix(d.as_secs() as i64);
    format!(
        "{:02}/{}/{}:{:02}:{:02}:{:02}.{:03}",
        c.day,
        months[(c.month as usize + 11) % 12],
        c.year,
        c.hour,
        c.minute,
        c.second,
        d.subsec_millis()
    )
}

#[test]
fn httplog_line_matches_haproxy() {
    let mut w = world();
    let line = String::from_utf8_lossy(&httplog_line(&mut w.txn())).into_owned();
    assert_eq!(
        line,
        format!(
            "192.0.2.10:40648 [{}] fe be/s1 3/1/1/8/18 200 500 - - ---- 1/1/0/0/0 0/0 \"GET /a?b=1 HTTP/1.1\"",
            local_date(7)
        )
    );
}

#[test]
fn httplog_with_captures_cookies_and_tls() {
    let mut w = World::new(conn(Some(mtls())));
    w.req = Some(request("GET", "/", &[]));
    let mut l = facts(&w);
    l.req_captures = vec![Some(b"www.example".to_vec()), None];
    l.res_captures = vec![Some(b"nginx".to_vec())];
    l.captured_req_cookie = Some("SRV=a".into());
    l.cookie_states = Some((CookieState::Valid, SetCookieState::Inserted));
    l.termination = Termination {
        cause: TermCause::ClientAbort,
        state: FinState::Data,
    };
    l.bytes_final = false;
    l.counters.redispatched = true;
    l.counters.retries = 2;
    w.log = Some(l);
    let line = String::from_utf8_lossy(&httplog_line(&mut w.txn())).into_owned();
    assert_eq!(
        line,
        format!(
            "192.0.2.10:40648 [{}] fe~ be/s1 3/1/1/8/+18 200 +500 SRV=a - CDVI 1/1/0/0/+2 0/0 {{www.example|}} {{nginx}} \"GET / HTTP/1.1\"",
            local_date(7)
        )
    );
}

#[test]
fn tcplog_line_matches_haproxy() {
    let mut w = World::new(conn(None));
    let mut l = facts(&w);
    // TCP streams have no request time: HAProxy then prints Tw = queue + 1.
    l.timers.request = -1;
    l.timers.queue = 0;
    l.timers.connect = 0;
    l.timers.close = 1;
    l.bytes_out = 712;
    l.backend = "betcp".into();
    l.backend_is_http = false;
    w.log = Some(l);
    let line = String::from_utf8_lossy(&tcplog_line(&mut w.txn())).into_owned();
    assert_eq!(
        line,
        format!(
            "192.0.2.10:40648 [{}] fe betcp/s1 1/0/1 712 -- 1/1/0/0/0 0/0",
            local_date(0)
        )
    );
}

#[test]
fn httplog_clf_matches_haproxy() {
    let mut w = world();
    let mut out = Vec::new();
    render_log_format(&httplog_clf_format(), LfTarget::Log, &mut w.txn(), &mut out);
    assert_eq!(
        String::from_utf8_lossy(&out),
        "192.0.2.10 - - [23/Nov/2026:08:43:47 +0000] \"GET /a?b=1 HTTP/1.1\" 200 500 \"\" \"\" 40648 123 \"fe\" \"be\" \"s1\" 3 1 1 8 18 ---- 1 1 0 0 0 0 0 \"\" \"\" "
    );
}

#[test]
fn custom_log_format_matches_haproxy_run() {
    // frontend fe2 with `http-request set-var(txn.e) req.hdr(x-e)` and
    // `http-request return`, requested with X-E: a"b]c\d.
    let mut w = World::http("GET", "/x%20y?q=1", &[]);
    w.conn.frontend = "fe2".into();
    w.conn.src = "127.0.0.1:51818".parse().unwrap_or(w.conn.src);
    let mut l = LogFacts::new(&w.conn);
    l.timers = LogTimers {
        handshake: 0,
        idle: 0,
        request: 0,
        queue: -1,
        connect: -1,
        data: -1,
        close: 0,
    };
    l.backend_is_http = true;
    l.status = 200;
    l.bytes_out = 73;
    l.bytes_in = 101;
    l.termination = Termination {
        cause: TermCause::Local,
        state: FinState::Request,
    };
    l.counters.act_conn = 1;
    l.counters.fe_conn = 1;
    l.request_line = w.req.as_ref().map(request_line);
    w.log = Some(l);
    w.vars.set(&txn_var("e"), Value::str("a\"b]c\\d"));
    let out = w.render(
        Stage::Log,
        LfTarget::Log,
        "A %{+Q}[str(x)] %[str()] %{+Q}[var(txn.nope)] %{+E}[var(txn.e)] %{+Q,+E}[var(txn.e)] %[bin(410a42)] %[var(txn.e)]  %hr  %ST %{+X}ci %{+X}cp %{+Q}b %{+Q}ID %ID %HM %HU %HP %HPO %HQ %HV %{+Q}r %ts %tsc %B %U %Tt %Ta %TR %Tw %Tc %Tr %Td %Tq %Th %Ti %Tu %rc %sq %bq %ac %fc %bc %sc %s %f %ft end ",
    );
    assert_eq!(
        out,
        "A \"x\" - \"\" a\\\"b\\]c\\\\d \"a\\\"b\\]c\\\\d\" A\nB a\"b]c\\d 200 7F000001 CA6A \"fe2\" \"\" - GET /x%20y?q=1 /x%20y /x%20y ?q=1 HTTP/1.1 \"GET /x%20y?q=1 HTTP/1.1\" LR LR-- 73 101 0 0 0 -1 -1 -1 -1 0 0 0 0 0 0 0 1 1 0 0 <NOSRV> fe2 fe2 end "
    );
}

#[test]
fn header_captures_match_haproxy_run() {
    let mut w = world();
    if let Some(l) = w.log.as_mut() {
        l.req_captures = vec![
            Some(b"127.0.0.1:28408".to_vec()),
            None,
            Some(b"a|b{c}\"#\\]".to_vec()),
        ];
        l.res_captures = vec![Some(b"SimpleHTTP/0.6 Pytho".to_vec())];
        l.request_line = Some(b"GET /p\"q HTTP/1.1".to_vec());
    }
    let out = w.render(
        Stage::Log,
        LfTarget::Log,
        "%hr|%{+Q}hr|%hrl|%{+Q}hrl|%hs|%hsl|%{+E}hr|%HP|%HPO|%HQ|%HV|%r",
    );
    assert_eq!(
        out,
        "{127.0.0.1:28408||a#7Cb#7Bc#7D#22#23\\]}|\"{127.0.0.1:28408||a#7Cb#7Bc#7D#22#23\\]}\"|127.0.0.1:28408 - a#7Cb#7Bc#7D#22#23\\]|\"127.0.0.1:28408\" \"\" \"a#7Cb#7Bc#7D#22#23\\]\"|{SimpleHTTP/0.6 Pytho}|SimpleHTTP/0.6 Pytho|{127.0.0.1:28408||a#7Cb#7Bc#7D#22#23\\\\\\]}|/p#22q|/p#22q||HTTP/1.1|GET /p#22q HTTP/1.1"
    );
}

#[test]
fn dates_counters_and_identities() {
    let mut w = World::new(conn(Some(mtls())));
    w.req = Some(request("GET", "/", &[]));
    let mut l = facts(&w);
    l.unique_id = Some("abc".into());
    l.counters.log_count = 26;
    l.counters.request_id = 300;
    l.backend_conn = Some((
        "10.0.0.1:33000".parse().unwrap_or(w.conn.src),
        "10.0.0.2:8080".parse().unwrap_or(w.conn.src),
    ));
    l.pid = 4242;
    l.hostname = "lb1".into();
    w.log = Some(l);
    let out = w.render(
        Stage::Log,
        LfTarget::Log,
        "%T|%trg|%Ts|%{+X}Ts|%ms|%{+X}ms|%ID|%lc|%{+X}lc|%rt|%{+X}rt|%pid|%{+X}pid|%H|%bi:%bp|%si:%sp|%{+X}si|%{+X}sp|%fi:%fp|%sslv|%sslc|%ft|%{+Q}ft|%Td|%Tu|%U",
    );
    assert_eq!(
        out,
        "23/Nov/2026:08:43:47 +0000|23/Nov/2026:08:43:47 +0000|1795423427|6B03FCC3|123|7B|abc|26|001A|300|012C|4242|1092|lb1|10.0.0.1:33000|10.0.0.2:8080|0A000002|1F90|127.0.0.1:8443|TLSv1.3|TLS_AES_256_GCM_SHA384|fe~|\"fe~\"|5|23|101"
    );
    // Local-time dates.
    let t = w.render(Stage::Log, LfTarget::Log, "%t %tr");
    assert_eq!(t, format!("{} {}", local_date(0), local_date(7)));
    for alias in ["%Tl", "%trl"] {
        let tl = w.render(Stage::Log, LfTarget::Log, alias);
        assert!(
            tl.starts_with(&local_date(0)[..20]) && tl.len() == 26,
            "{alias}: {tl}"
        );
        assert!(tl[21..].starts_with(['+', '-']), "{alias}: {tl}");
    }
}

#[test]
fn missing_facts_print_dashes_or_nothing() {
    let mut w = World::new(conn(None));
    let out = w.render(
        Stage::Log,
        LfTarget::Log,
        "%bi %{+Q}bi %si %sslv %{+Q}sslc %CC %ID %b %s %ST %r %HM %HU %HP %HPO %HQ %HV %Tw %ts",
    );
    assert_eq!(
        out,
        "- \"\" - - \"\" - - fe <NOSRV> -1 <BADREQ> <BADREQ> <BADREQ> <BADREQ> <BADREQ> <BADREQ> <BADREQ> -1 --"
    );
}

#[test]
fn separators_merge_in_logs_only() {
    let mut w = world();
    assert_eq!(
        w.render(Stage::Log, LfTarget::Log, "  a   %hr  %hs   b  "),
        "a b "
    );
    assert_eq!(
        w.render(Stage::HttpRequest, LfTarget::Http, "a  %hr  b"),
        "a    b"
    );
    assert_eq!(
        w.render(Stage::HttpRequest, LfTarget::UniqueId, "a  %hr  b"),
        "a b"
    );
    assert_eq!(
        w.render(Stage::HttpRequest, LfTarget::Plain, "a  b"),
        "a  b"
    );
}

#[test]
fn samples_in_headers_are_percent_encoded_and_never_quoted() {
    // Observed: `http-request return … lf-string` on HAProxy 2.6.12.
    let mut w = world();
    w.vars.set(&txn_var("q"), Value::str("a\"b"));
    let out = w.render(
        Stage::HttpRequest,
        LfTarget::Http,
        "q=[%{+Q}[src]] b1=[%[bin(41004243)]] b2=[%[bin(410a42)]] n=[%[req.hdr(nope)]] e=[%{+E}[var(txn.q)]] h=[%[req.hdr(host)]]",
    );
    assert_eq!(
        out,
        "q=[192.0.2.10] b1=[A] b2=[A%0AB] n=[] e=[a\\\"b] h=[www.example]"
    );
    // Aliases keep their flags in headers.
    assert_eq!(
        w.render(Stage::HttpRequest, LfTarget::Http, "%{+Q}ci:%cp"),
        "\"192.0.2.10\":40648"
    );
    // Binary values are written raw up to their first NUL.
    let serial = w.render(Stage::HttpRequest, LfTarget::Plain, "%[bin(800102)]");
    assert_eq!(serial.as_bytes(), "\u{FFFD}\u{1}\u{2}".as_bytes());
}

#[test]
fn request_line_is_capped_like_haproxy() {
    let long = format!("/{}", "a".repeat(2000));
    let r = request("GET", &long, &[]);
    let line = request_line(&r);
    assert_eq!(line.len(), 1023);
    assert!(line.starts_with(b"GET /aaa"));
    let mut r = request("GET", "https://h.example/x", &[]);
    r.version = http::Version::HTTP_2;
    assert_eq!(
        request_line(&r),
        b"GET https://h.example/x HTTP/2.0".to_vec()
    );
}

#[test]
fn http_parts_of_odd_request_lines() {
    let mut w = world();
    if let Some(l) = w.log.as_mut() {
        l.request_line = Some(b"GET".to_vec());
    }
    assert_eq!(
        w.render(Stage::Log, LfTarget::Log, "%HM|%HU|%HP|%HV|%HQ"),
        "<BADREQ>|<BADREQ>|<BADREQ>|<BADREQ>|"
    );
    if let Some(l) = w.log.as_mut() {
        l.request_line = Some(b"GET /x?y".to_vec());
    }
    assert_eq!(
        w.render(Stage::Log, LfTarget::Log, "%HM|%HU|%HP|%HPO|%HV|%HQ"),
        "GET|/x?y|/x|/x|HTTP/0.9|?y"
    );
}
