//! ACL criteria (every match method, `-i`, operators, ranges, multi-valued
//! fetches) and conditions (AND/OR, `!`, `unless`, short-circuit, named and
//! predefined ACLs).

use super::*;
use crate::runtime::facts::ContentFacts;

fn api() -> World {
    World::http(
        "POST",
        "/api/v1/Users?id=7",
        &[
            ("host", "www.Example.com:8080"),
            ("x-a", "one, two"),
            ("x-a", "three"),
            ("content-length", "12"),
            ("user-agent", "curl/8.0"),
            ("x-forwarded-for", "10.0.0.1, 203.0.113.9"),
        ],
    )
}

#[test]
fn string_methods_and_ignore_case() {
    let mut w = api();
    assert!(w.acl("path /api/v1/Users"));
    assert!(!w.acl("path /api/v1/users"));
    assert!(w.acl("path -i /api/v1/users"));
    assert!(w.acl("path_beg /api/ /admin/"));
    assert!(!w.acl("path_beg /admin/"));
    assert!(w.acl("path_end -i /USERS"));
    assert!(w.acl("path_sub v1"));
    assert!(w.acl("path_dir v1"));
    assert!(!w.acl("path_dir v"));
    assert!(w.acl("hdr_dom(host) -i example"));
    assert!(!w.acl("hdr_dom(host) exam"));
    assert!(w.acl("hdr_beg(host) -i www."));
    assert!(w.acl("hdr_end(host) :8080"));
    assert!(w.acl("hdr_sub(user-agent) curl"));
    assert!(w.acl("path -m beg /api"));
    assert!(w.acl("url_beg /api"));
    assert!(w.acl("url_sub id=7"));
    assert!(w.acl("base_beg www.Example.com:8080/api"));
    assert!(w.acl("query -m str id=7"));
}

#[test]
fn found_len_bool_int_and_operators() {
    let mut w = api();
    assert!(w.acl("query -m found"));
    assert!(!w.acl("req.hdr(nope) -m found"));
    assert!(w.acl("path_len 13"));
    assert!(w.acl("path_len gt 10"));
    assert!(!w.acl("path_len lt 10"));
    assert!(w.acl("path -m len 10:20"));
    assert!(w.acl("req.hdr_val(content-length) gt 0"));
    assert!(w.acl("req.hdr_val(content-length) 10:20"));
    assert!(w.acl("req.hdr_val(content-length) ge 12"));
    assert!(!w.acl("req.hdr_val(content-length) lt 12"));
    assert!(w.acl("req.hdr_val(content-length) le 12"));
    assert!(w.acl("req.hdr_val(content-length) eq 12"));
    assert!(w.acl("req.hdr_val(content-length) :12"));
    assert!(w.acl("req.hdr_val(content-length) 12:"));
    assert!(w.acl("always_true"));
    assert!(!w.acl("always_false"));
    assert!(w.acl("int(3) -m bool"));
    assert!(!w.acl("int(0) -m bool"));
    assert!(w.acl("req.proto_http"));
    assert!(w.acl("dst_port 8443"));
    assert!(w.acl("hdr_cnt(x-a) 3"));
}

#[test]
fn ip_and_binary_matches() {
    let mut w = api();
    assert!(w.acl("src 192.0.2.0/24"));
    assert!(w.acl("src 10.0.0.0/8 192.0.2.10"));
    assert!(!w.acl("src 10.0.0.0/8"));
    assert!(w.acl("src 192.0.2.0/255.255.255.0"));
    assert!(w.acl("src ::ffff:192.0.2.0/120"));
    assert!(!w.acl("src ::1"));
    // Every X-Forwarded-For value is an address to try.
    assert!(w.acl("req.hdr_ip(x-forwarded-for) 203.0.113.0/24"));
    assert!(w.acl("req.hdr(x-forwarded-for) -m ip 10.0.0.1"));
    assert!(w.acl("bin(00ff) -m bin 00FF"));
    assert!(!w.acl("bin(00ff) -m bin 00"));
    assert!(w.acl("str(abc) -m bin 616263"));
}

#[test]
fn regex_matches() {
    let mut w = api();
    assert!(w.acl("path_reg ^/api/v[0-9]+/"));
    assert!(!w.acl("path_reg ^/v[0-9]+/"));
    assert!(w.acl("path_reg Users"));
    assert!(!w.acl("path_reg users$"));
    assert!(w.acl("path_reg -i users$"));
    assert!(w.acl("url_reg ^[^/:]*/api"));
    // HAProxy's PCRE is not in UTF-8 mode: '.' is one byte.
    let mut w = World::http("GET", "/", &[("x-u", "é")]);
    assert!(w.acl("hdr_reg(x-u) ^..$"));
}

#[test]
fn methods() {
    let mut w = api();
    assert!(w.acl("method POST"));
    assert!(w.acl("method GET POST"));
    assert!(!w.acl("method GET"));
    assert!(!w.acl("method post"));
    // `-i` applies to unknown methods only; "post" is not POST.
    assert!(!w.acl("method -i post"));
    let mut w = World::http("PURGE", "/", &[]);
    assert!(w.acl("method PURGE"));
    assert!(w.acl("method -i purge"));
    assert!(!w.acl("method purge"));
    assert!(w.acl("method -m str PURGE"));
}

#[test]
fn authentication_groups() {
    let cred = format!(
        "Basic {}",
        String::from_utf8_lossy(&text::base64_encode(b"alice:secret"))
    );
    let mut w = World::http("GET", "/", &[("authorization", cred.as_str())]);
    assert!(w.acl("http_auth(L1)"));
    assert!(w.acl("http_auth_group(L1) admins"));
    assert!(w.acl("http_auth_group(L1) users admins"));
    assert!(!w.acl("http_auth_group(L1) users"));
    let cred = format!(
        "Basic {}",
        String::from_utf8_lossy(&text::base64_encode(b"alice:bad"))
    );
    let mut w = World::http("GET", "/", &[("authorization", cred.as_str())]);
    assert!(!w.acl("http_auth(L1)"));
    assert!(!w.acl("http_auth_group(L1) admins"));
}

#[test]
fn every_header_occurrence_is_tried() {
    let mut w = api();
    // hdr() without occurrence iterates all values in an ACL...
    assert!(w.acl("hdr(x-a) one"));
    assert!(w.acl("hdr(x-a) two"));
    assert!(w.acl("hdr(x-a) three"));
    assert!(w.acl("req.fhdr(x-a) -m beg one,"));
    assert!(!w.acl("req.fhdr(x-a) two"));
    // ...but an explicit occurrence is only that one.
    assert!(!w.acl("hdr(x-a,1) three"));
    assert!(w.acl("hdr(x-a,-1) three"));
    assert!(w.acl("req.hdr(x-a),upper THREE"));
}

#[test]
fn a_converter_failure_stops_the_iteration() {
    // HAProxy moves on to the next expression when a converter fails, so the
    // second occurrence is never tried.
    let mut w = World::http("GET", "/", &[("x-p", "nocolon"), ("x-p", "a:b")]);
    assert!(!w.acl("req.hdr(x-p),field(2,:) b"));
    let mut w = World::http("GET", "/", &[("x-p", "a:b"), ("x-p", "nocolon")]);
    assert!(w.acl("req.hdr(x-p),field(2,:) b"));
    // A value that cannot be cast is skipped instead.
    let mut w = World::http("GET", "/", &[("x-p", "nope"), ("x-p", "10.0.0.1")]);
    assert!(w.acl("req.hdr(x-p) -m ip 10.0.0.0/8"));
}

#[test]
fn certificate_acls() {
    let mut w = World::new(conn(Some(mtls())));
    assert!(w.acl("ssl_c_used"));
    assert!(w.acl("ssl_c_verify 0"));
    assert!(w.acl("ssl_fc"));
    assert!(w.acl("ssl_fc_sni_end .example"));
    assert!(w.acl("ssl_fc_sni_reg ^api\\."));
    assert!(w.acl("ssl_c_s_dn(C) FR"));
    assert!(w.acl("ssl_c_s_dn(cn) -m end a,b"));
    assert!(w.acl("ssl_c_serial -m bin 800102"));
    assert!(w.acl("ssl_c_serial,hex 800102"));
    assert!(w.acl("ssl_c_notafter -m beg 51"));
    assert!(w.acl("ssl_c_version 3"));
    let mut w = World::new(conn(None));
    assert!(!w.acl("ssl_c_used"));
    assert!(!w.acl("ssl_c_verify 0"));
    assert!(!w.acl("ssl_fc"));
}

#[test]
fn conditions_or_and_not_unless() {
    let mut w = api();
    w.declare("is_api", "path_beg /api/");
    w.declare("is_admin", "path_beg /admin/");
    w.declare("is_admin", "hdr(host) -i admin.example");
    w.declare("local", "src 127.0.0.0/8");
    assert!(w.cond("if is_api"));
    assert!(!w.cond("if is_admin"));
    assert!(w.cond("if !is_admin"));
    assert!(w.cond("unless is_admin"));
    assert!(!w.cond("unless is_api"));
    assert!(w.cond("if is_api !local"));
    assert!(!w.cond("if is_api local"));
    assert!(w.cond("if local || is_api"));
    assert!(w.cond("if local or is_api"));
    assert!(!w.cond("if local || is_admin"));
    assert!(w.cond("if is_admin || is_api !local"));
    assert!(w.cond("if { path_beg /api/ } { method POST }"));
    assert!(!w.cond("if { path_beg /api/ } !{ method POST }"));
    assert!(!w.cond("unless { path_beg /api/ } || is_admin"));
    // Several lines of one ACL are ORed.
    let mut w = World::http("GET", "/", &[("host", "admin.example")]);
    w.declare("is_admin", "path_beg /admin/");
    w.declare("is_admin", "hdr(host) -i ADMIN.example");
    assert!(w.cond("if is_admin"));
}

#[test]
fn conditions_short_circuit_left_to_right() {
    let mut w = api();
    // The set-var converter records whether a term was evaluated.
    assert!(!w.cond("if FALSE { str(x),set-var(txn.and) -m found }"));
    assert_eq!(w.eval("var(txn.and)"), None);
    assert!(w.cond("if TRUE || { str(x),set-var(txn.or) -m found }"));
    assert_eq!(w.eval("var(txn.or)"), None);
    assert!(w.cond("if FALSE || { str(x),set-var(txn.second) -m found }"));
    assert_eq!(w.text("var(txn.second)").as_deref(), Some("x"));
}

#[test]
fn predefined_acls() {
    let mut w = api();
    for (name, want) in [
        ("TRUE", true),
        ("FALSE", false),
        ("HTTP", true),
        ("HTTP_1.0", false),
        ("HTTP_1.1", true),
        ("HTTP_2.0", false),
        ("HTTP_CONTENT", true),
        ("HTTP_URL_ABS", false),
        ("HTTP_URL_SLASH", true),
        ("HTTP_URL_STAR", false),
        ("LOCALHOST", false),
        ("METH_CONNECT", false),
        ("METH_DELETE", false),
        ("METH_GET", false),
        ("METH_HEAD", false),
        ("METH_OPTIONS", false),
        ("METH_POST", true),
        ("METH_PUT", false),
        ("METH_TRACE", false),
        ("RDP_COOKIE", false),
        ("REQ_CONTENT", true),
        ("WAIT_END", true),
    ] {
        assert_eq!(w.cond(&format!("if {name}")), want, "{name}");
    }
    let mut w = World::http("HEAD", "http://h.example/x", &[("content-length", "0")]);
    if let Some(r) = w.req.as_mut() {
        r.version = http::Version::HTTP_10;
    }
    w.conn.src = "127.0.0.2:5000".parse().unwrap_or(w.conn.src);
    assert!(w.cond("if METH_GET METH_HEAD HTTP_1.0 HTTP_URL_ABS LOCALHOST"));
    assert!(!w.cond("if HTTP_CONTENT"));
    assert!(!w.cond("if HTTP_URL_SLASH"));
    let mut w = World::http("OPTIONS", "*", &[]);
    if let Some(r) = w.req.as_mut() {
        r.version = http::Version::HTTP_2;
    }
    w.conn.src = "[::1]:5000".parse().unwrap_or(w.conn.src);
    assert!(w.cond("if METH_OPTIONS HTTP_URL_STAR HTTP_2.0 LOCALHOST"));
    for (m, acl) in [
        ("CONNECT", "METH_CONNECT"),
        ("DELETE", "METH_DELETE"),
        ("GET", "METH_GET"),
        ("PUT", "METH_PUT"),
        ("TRACE", "METH_TRACE"),
    ] {
        let mut w = World::http(m, "/", &[]);
        assert!(w.cond(&format!("if {acl}")), "{acl}");
    }
}

#[test]
fn raw_buffer_predefined_acls() {
    let mut w = World::new(conn(None));
    assert!(!w.cond("if HTTP"));
    assert!(!w.cond("if REQ_CONTENT"));
    w.content = Some(ContentFacts::default());
    assert!(!w.cond("if REQ_CONTENT"));
    assert!(!w.cond("if WAIT_END"));
    assert!(!w.cond("if RDP_COOKIE"));
    w.content = Some(ContentFacts {
        data: bytes::Bytes::from_static(b"0123456789"),
        rdp_cookie_count: 1,
        inspect_done: true,
        ..ContentFacts::default()
    });
    assert!(w.cond("if REQ_CONTENT WAIT_END RDP_COOKIE"));
}
