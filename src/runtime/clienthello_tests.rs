#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::tls::provider;
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, RootCertStore};
use std::sync::Arc;

/// A real ClientHello as rustls sends it, with SNI and ALPN.
pub(crate) fn client_hello(sni: &str, alpn: &[&[u8]]) -> Bytes {
    let mut config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(RootCertStore::empty())
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    let name = ServerName::try_from(sni.to_string()).unwrap();
    let mut conn = ClientConnection::new(Arc::new(config), name).unwrap();
    let mut out = Vec::new();
    while conn.wants_write() {
        conn.write_tls(&mut out).unwrap();
    }
    Bytes::from(out)
}

fn run(f: L6Fetch, data: &[u8]) -> L6Out {
    fetch(&f, &Bytes::copy_from_slice(data), 16_384)
}

fn text(v: &Value) -> String {
    match v {
        Value::Str(b) | Value::Bin(b) => String::from_utf8_lossy(b).into_owned(),
        other => format!("{other:?}"),
    }
}

#[test]
fn a_real_client_hello_gives_haproxys_values() {
    let hello = client_hello("a.example", &[b"h2", b"http/1.1"]);
    let sni_out = sni(&hello);
    assert_eq!(
        sni_out.values.iter().map(text).collect::<Vec<_>>(),
        ["a.example"]
    );
    assert!(!sni_out.may_change);
    let alpn = fetch(&L6Fetch::SslAlpn, &hello, 16_384);
    assert_eq!(
        alpn.values.iter().map(text).collect::<Vec<_>>(),
        ["h2", "http/1.1"]
    );
    assert_eq!(run(L6Fetch::SslHelloType, &hello).values, [Value::Int(1)]);
    // legacy_version 3.3 of a TLS 1.2/1.3 hello: (3 << 16) | 3.
    assert_eq!(run(L6Fetch::SslVer, &hello).values, [Value::Int(0x30003)]);
    assert_eq!(run(L6Fetch::SslEcExt, &hello).values, [Value::Bool(true)]);
    // rustls offers session tickets: an empty SessionTicket extension.
    assert_eq!(run(L6Fetch::SslStExt, &hello).values, [Value::Int(1)]);
    assert_eq!(
        run(L6Fetch::Len, &hello).values,
        [Value::Int(hello.len() as i64)]
    );
}

#[test]
fn every_truncated_hello_waits_for_more_data() {
    let hello = client_hello("b.example", &[b"h2"]);
    for cut in 0..hello.len() {
        let part = hello.slice(..cut);
        let out = sni(&part);
        assert!(out.values.is_empty() && out.may_change, "cut at {cut}");
        for f in [L6Fetch::SslAlpn, L6Fetch::SslStExt, L6Fetch::SslEcExt] {
            let out = fetch(&f, &part, 16_384);
            assert!(
                out.values.is_empty() && out.may_change,
                "{f:?} cut at {cut}"
            );
        }
        let t = run(L6Fetch::SslHelloType, &part);
        assert!(
            t.values.is_empty() && t.may_change,
            "hello type cut at {cut}"
        );
    }
}

#[test]
fn other_protocols_fail_for_good() {
    let get = Bytes::from_static(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    for f in [
        L6Fetch::SslHelloType,
        L6Fetch::SslVer,
        L6Fetch::SslAlpn,
        L6Fetch::SslEcExt,
        L6Fetch::SslStExt,
    ] {
        assert_eq!(fetch(&f, &get, 16_384), L6Out::default(), "{f:?}");
    }
    assert_eq!(sni(&get), L6Out::default());
}

#[test]
fn a_hello_without_sni_or_alpn_has_none() {
    // An IP address as server name: rustls sends no SNI, and no ALPN here.
    let hello = client_hello("127.0.0.1", &[]);
    assert_eq!(sni(&hello), L6Out::default());
    assert_eq!(run(L6Fetch::SslAlpn, &hello), L6Out::default());
    assert_eq!(run(L6Fetch::SslHelloType, &hello).values, [Value::Int(1)]);
}

#[test]
fn corrupted_lengths_never_read_out_of_bounds() {
    let hello = client_hello("c.example", &[b"h2"]).to_vec();
    for i in 0..hello.len() {
        for v in [0x00, 0x01, 0x7F, 0xFF] {
            let mut bad = hello.clone();
            bad[i] = v;
            let bad = Bytes::from(bad);
            let _ = sni(&bad);
            for f in [
                L6Fetch::SslAlpn,
                L6Fetch::SslStExt,
                L6Fetch::SslEcExt,
                L6Fetch::SslVer,
                L6Fetch::SslHelloType,
            ] {
                let _ = fetch(&f, &bad, 16_384);
            }
        }
    }
}

#[test]
fn sslv2_hello_version() {
    // Short header, CLIENT-HELLO, version 3.1, 3 bytes of ciphers, no
    // session id, 16 bytes of challenge.
    let mut v2 = vec![0x80, 28, 0x01, 0x03, 0x01, 0, 3, 0, 0, 0, 16];
    v2.extend_from_slice(&[0x00, 0x00, 0x04]);
    v2.extend_from_slice(&[0xAA; 16]);
    assert_eq!(run(L6Fetch::SslVer, &v2).values, [Value::Int(0x30001)]);
    let short = run(L6Fetch::SslVer, &v2[..20]);
    assert!(short.values.is_empty() && short.may_change);
}

#[test]
fn payload_and_payload_lv() {
    let p = |offset, len| L6Fetch::Payload { offset, len };
    assert_eq!(text(&run(p(0, 3), b"GET /").values[0]), "GET");
    let short = run(p(0, 3), b"GE");
    assert!(short.values.is_empty() && short.may_change);
    let all = run(p(1, 0), b"abc");
    assert_eq!(text(&all.values[0]), "bc");
    assert!(all.may_change, "len 0 reads a buffer that may grow");
    assert_eq!(run(p(0, 20_000), b"abc"), L6Out::default());

    let lv = |len_offset, len_size, buf_offset| L6Fetch::PayloadLv {
        len_offset,
        len_size,
        buf_offset,
    };
    let data = b"\x00\x03abcdef";
    assert_eq!(text(&run(lv(0, 2, None), data).values[0]), "abc");
    let rel = run(lv(0, 2, Some(LvOffset::Relative(1))), data);
    assert_eq!(text(&rel.values[0]), "bcd");
    let abs = run(lv(0, 2, Some(LvOffset::Absolute(5))), data);
    assert_eq!(text(&abs.values[0]), "def");
    let short = run(lv(0, 2, None), b"\x00\x09abc");
    assert!(short.values.is_empty() && short.may_change);
    assert!(run(lv(0, 2, None), b"\x00").may_change);
    assert_eq!(run(lv(0, 2, None), b"\x00\x00abc"), L6Out::default());
}
