//! The layer-6 request fetches through the expression and ACL engine, and
//! the three-valued evaluation behind `tcp-request inspect-delay`.

use super::*;
use crate::runtime::clienthello::tests::client_hello;
use bytes::Bytes;

fn with_data(data: Bytes, done: bool) -> World {
    let mut w = World::new(conn(None));
    w.content = Some(ContentFacts {
        data,
        inspect_done: done,
        ..ContentFacts::default()
    });
    w
}

#[test]
fn client_hello_fetches_and_acl_keywords() {
    let hello = client_hello("a.example", &[b"h2", b"acme-tls/1"]);
    let mut w = with_data(hello.clone(), false);
    assert_eq!(w.text("req.ssl_sni").as_deref(), Some("a.example"));
    assert_eq!(w.eval("req_ssl_hello_type"), Some(Value::Int(1)));
    assert_eq!(w.eval("req.ssl_ver"), Some(Value::Int(0x30003)));
    assert_eq!(w.eval("req.len"), Some(Value::Int(hello.len() as i64)));
    // A sample takes the first protocol; an ACL tries each of them.
    assert_eq!(w.text("req.ssl_alpn").as_deref(), Some("h2"));
    assert!(w.acl("req.ssl_alpn acme-tls/1"));
    assert!(w.acl("req_ssl_sni -i A.EXAMPLE"));
    assert!(w.acl("req.ssl_sni -m end .example"));
    // `req_ssl_ver` / `req.ssl_ver` take dotted versions in ACLs.
    assert!(w.acl("req_ssl_ver 3.3"));
    assert!(w.acl("req.ssl_ver ge 3.1"));
    assert!(!w.acl("req.ssl_ver lt 3.1"));
    assert!(w.acl("req.ssl_ec_ext"));
    // payload(0,1) is the record type 0x16; the ACL keyword matches binary.
    assert!(w.acl("payload(0,1) 16"));
    assert!(w.acl("req.payload(0,3) -m bin 160301"));
    assert_eq!(w.text("req.payload(0,1),hex").as_deref(), Some("16"));
}

#[test]
fn an_undecidable_condition_waits_until_inspection_is_over() {
    let hello = client_hello("a.example", &[]);
    let half = hello.slice(..hello.len() / 2);
    let mut w = with_data(half.clone(), false);
    assert_eq!(w.cond_partial("if { req_ssl_hello_type 1 }"), None);
    assert_eq!(w.cond_partial("unless { req.ssl_sni a.example }"), None);
    // A term that fails for good decides an AND; one that passes decides an OR.
    assert_eq!(
        w.cond_partial("if FALSE { req_ssl_hello_type 1 }"),
        Some(false)
    );
    assert_eq!(
        w.cond_partial("if TRUE || { req_ssl_hello_type 1 }"),
        Some(true)
    );
    assert_eq!(w.cond_partial("if !{ req_ssl_hello_type 1 }"), None);
    // req.len may always change: only a match decides.
    assert_eq!(w.cond_partial("if { req.len gt 10 }"), Some(true));
    assert_eq!(w.cond_partial("if { req.len gt 100000 }"), None);
    assert_eq!(w.cond_partial("if WAIT_END"), None);
    assert_eq!(w.cond_partial("if REQ_CONTENT"), Some(true));

    // The whole hello decides.
    let mut w = with_data(hello.clone(), false);
    assert_eq!(w.cond_partial("if { req_ssl_hello_type 1 }"), Some(true));
    assert_eq!(w.cond_partial("if { req.ssl_sni b.example }"), Some(false));

    // Once inspection is over nothing waits: missing data fails.
    let mut w = with_data(half, true);
    assert_eq!(w.cond_partial("if { req_ssl_hello_type 1 }"), Some(false));
    assert_eq!(
        w.cond_partial("unless { req_ssl_hello_type 1 }"),
        Some(true)
    );
    assert_eq!(w.cond_partial("if WAIT_END"), Some(true));
}

#[test]
fn a_non_tls_client_is_decided_at_once() {
    let mut w = with_data(Bytes::from_static(b"SSH-2.0-OpenSSH_9.2\r\n"), false);
    assert_eq!(w.cond_partial("if { req_ssl_hello_type 1 }"), Some(false));
    assert_eq!(
        w.cond_partial("if { payload(0,7) -m bin 5353482d322e30 }"),
        Some(true)
    );
    let mut w = with_data(Bytes::from_static(b"SSH"), false);
    assert_eq!(
        w.cond_partial("if { payload(0,7) -m bin 5353482d322e30 }"),
        None
    );
}

#[test]
fn http_proxies_have_no_raw_buffer() {
    let mut w = World::http("GET", "/", &[]);
    assert_eq!(w.eval("req.ssl_sni"), None);
    assert_eq!(w.eval("req.len"), None);
    assert_eq!(w.cond_partial("if { req_ssl_hello_type 1 }"), Some(false));
}
