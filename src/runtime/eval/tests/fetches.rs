//! Every fetch: constants, layer 4, TLS and client certificates, HTTP, and
//! variables, with HAProxy's output formats and failure cases.

use super::*;
use crate::runtime::testpki::openssl_x509;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

#[test]
fn constants() {
    let mut w = World::new(conn(None));
    assert_eq!(w.eval("always_true"), Some(Value::Bool(true)));
    assert_eq!(w.eval("always_false"), Some(Value::Bool(false)));
    assert_eq!(w.text("str(hello)").as_deref(), Some("hello"));
    assert_eq!(w.eval("int(-42)"), Some(Value::Int(-42)));
    assert_eq!(w.eval("bool(true)"), Some(Value::Bool(true)));
    assert_eq!(w.eval("bin(00ff)"), Some(Value::bin(vec![0, 0xff])));
    assert_eq!(
        w.eval("ipv4(10.1.2.3)"),
        Some(Value::Ip(IpAddr::V4(Ipv4Addr::new(10, 1, 2, 3))))
    );
    assert_eq!(w.text("ipv6(::1.2.3.4)").as_deref(), Some("::1.2.3.4"));
    assert_eq!(
        w.text("ipv6(::ffff:1.2.3.4)").as_deref(),
        Some("::ffff:1.2.3.4")
    );
    assert_eq!(w.text("meth(PURGE)").as_deref(), Some("PURGE"));
    assert_eq!(w.text("meth(GET)").as_deref(), Some("GET"));
}

#[test]
fn layer4_addresses_and_ports() {
    let mut w = World::new(conn(None));
    assert_eq!(w.text("src").as_deref(), Some("192.0.2.10"));
    assert_eq!(w.text("dst").as_deref(), Some("127.0.0.1"));
    assert_eq!(w.eval("src_port"), Some(Value::Int(40648)));
    assert_eq!(w.eval("dst_port"), Some(Value::Int(8443)));
    w.conn.src = "[2001:db8::7]:1234".parse().unwrap_or(w.conn.src);
    assert_eq!(
        w.eval("src"),
        Some(Value::Ip(IpAddr::V6(
            "2001:db8::7".parse().unwrap_or(Ipv6Addr::UNSPECIFIED)
        )))
    );
    assert_eq!(w.text("src").as_deref(), Some("2001:db8::7"));
}

#[test]
fn tls_session_fetches() {
    let mut w = World::new(conn(Some(mtls())));
    assert_eq!(w.eval("ssl_fc"), Some(Value::Bool(true)));
    assert_eq!(w.text("ssl_fc_sni").as_deref(), Some("api.example"));
    assert_eq!(w.eval("ssl_fc_has_sni"), Some(Value::Bool(true)));
    assert_eq!(w.eval("ssl_fc_has_crt"), Some(Value::Bool(true)));
    assert_eq!(w.text("ssl_fc_protocol").as_deref(), Some("TLSv1.3"));
    assert_eq!(
        w.text("ssl_fc_cipher").as_deref(),
        Some("TLS_AES_256_GCM_SHA384")
    );
    assert_eq!(w.text("ssl_fc_alpn").as_deref(), Some("h2"));
    assert_eq!(w.eval("ssl_fc_is_resumed"), Some(Value::Bool(false)));
    assert_eq!(w.eval("ssl_fc_err"), Some(Value::Int(0)));
    assert_eq!(w.eval("ssl_fc_err_str"), None);
    assert_eq!(w.text("fc_err_str").as_deref(), Some("Success"));
    assert_eq!(w.eval("ssl_c_used"), Some(Value::Bool(true)));
    assert_eq!(w.eval("ssl_c_verify"), Some(Value::Int(0)));
    assert_eq!(w.eval("ssl_c_err"), Some(Value::Int(0)));
    assert_eq!(w.eval("ssl_c_ca_err"), Some(Value::Int(0)));
    assert_eq!(w.eval("ssl_c_ca_err_depth"), Some(Value::Int(0)));
}

#[test]
fn resumed_session_keeps_the_certificate_but_not_has_crt() {
    let mut tls = mtls();
    tls.session.resumed = true;
    tls.cert_presented_this_handshake = false;
    tls.session.alpn = None;
    tls.sni = None;
    let mut w = World::new(conn(Some(tls)));
    assert_eq!(w.eval("ssl_c_used"), Some(Value::Bool(true)));
    assert_eq!(w.eval("ssl_fc_has_crt"), Some(Value::Bool(false)));
    assert_eq!(w.eval("ssl_fc_is_resumed"), Some(Value::Bool(true)));
    assert_eq!(w.eval("ssl_fc_alpn"), None);
    assert_eq!(w.eval("ssl_fc_sni"), None);
    assert_eq!(w.eval("ssl_fc_has_sni"), Some(Value::Bool(false)));
}

#[test]
fn verify_errors_are_reported_as_numbers() {
    let mut tls = mtls();
    tls.verify_result = 21;
    tls.crt_err = 20;
    tls.ca_err = 10;
    tls.ca_err_depth = 1;
    let mut w = World::new(conn(Some(tls)));
    assert_eq!(w.eval("ssl_c_verify"), Some(Value::Int(21)));
    assert_eq!(w.eval("ssl_c_err"), Some(Value::Int(20)));
    assert_eq!(w.eval("ssl_c_ca_err"), Some(Value::Int(10)));
    assert_eq!(w.eval("ssl_c_ca_err_depth"), Some(Value::Int(1)));
}

#[test]
fn tls_without_client_certificate() {
    let mut tls = mtls();
    tls.client = None;
    tls.cert_presented_this_handshake = false;
    let mut w = World::new(conn(Some(tls)));
    assert_eq!(w.eval("ssl_c_used"), Some(Value::Bool(false)));
    // ssl_c_verify is 0 when no certificate was sent.
    assert_eq!(w.eval("ssl_c_verify"), Some(Value::Int(0)));
    assert_eq!(w.eval("ssl_c_s_dn"), None);
    assert_eq!(w.eval("ssl_c_serial"), None);
    assert_eq!(w.eval("ssl_c_chain_der"), None);
    assert_eq!(w.eval("ssl_c_version"), None);
    // The frontend certificate is still there.
    assert_eq!(w.text("ssl_f_s_dn(CN)").as_deref(), Some("Acme Root CA"));
}

#[test]
fn clear_connections_fail_tls_fetches() {
    let mut w = World::new(conn(None));
    assert_eq!(w.eval("ssl_fc"), Some(Value::Bool(false)));
    assert_eq!(w.eval("ssl_fc_has_sni"), Some(Value::Bool(false)));
    assert_eq!(w.eval("ssl_fc_is_resumed"), Some(Value::Bool(false)));
    for f in [
        "ssl_fc_sni",
        "ssl_fc_has_crt",
        "ssl_fc_protocol",
        "ssl_fc_cipher",
        "ssl_fc_alpn",
        "ssl_fc_err",
        "ssl_fc_err_str",
        "ssl_c_used",
        "ssl_c_verify",
        "ssl_c_err",
        "ssl_c_ca_err",
        "ssl_c_ca_err_depth",
        "ssl_c_chain_der",
        "ssl_c_s_dn",
        "ssl_c_i_dn",
        "ssl_c_serial",
        "ssl_c_sha1",
        "ssl_c_der",
        "ssl_c_notbefore",
        "ssl_c_notafter",
        "ssl_c_version",
        "ssl_c_sig_alg",
        "ssl_c_key_alg",
        "ssl_f_s_dn",
        "ssl_f_i_dn",
        "ssl_f_serial",
        "ssl_f_sha1",
        "ssl_f_der",
        "ssl_f_notbefore",
        "ssl_f_notafter",
        "ssl_f_version",
        "ssl_f_sig_alg",
        "ssl_f_key_alg",
    ] {
        assert_eq!(w.eval(f), None, "{f}");
    }
}

#[test]
fn client_certificate_dn_formats() {
    let mut w = World::new(conn(Some(mtls())));
    assert_eq!(
        w.text("ssl_c_s_dn").as_deref(),
        Some("/C=FR/ST=Some-State/O=Acme \"Test\"/OU=é ü/CN= a,b/emailAddress=x@y")
    );
    assert_eq!(
        w.text("ssl_c_s_dn(,0,rfc2253)").as_deref(),
        Some(
            "emailAddress=x@y,CN=\\ a\\,b,OU=\\C3\\A9 \\C3\\BC,O=Acme \\\"Test\\\",ST=Some-State,C=FR"
        )
    );
    assert_eq!(w.text("ssl_c_s_dn(CN)").as_deref(), Some(" a,b"));
    assert_eq!(w.text("ssl_c_s_dn(cn,1)").as_deref(), Some(" a,b"));
    assert_eq!(w.text("ssl_c_s_dn(cn,-1)").as_deref(), Some(" a,b"));
    assert_eq!(w.eval("ssl_c_s_dn(cn,2)"), None);
    assert_eq!(w.eval("ssl_c_s_dn(cn,-2)"), None);
    assert_eq!(w.eval("ssl_c_s_dn(cn,0)"), None);
    assert_eq!(w.eval("ssl_c_s_dn(UID)"), None);
    assert_eq!(w.text("ssl_c_s_dn(emailAddress)").as_deref(), Some("x@y"));
    // An entry wins over the format argument.
    assert_eq!(w.text("ssl_c_s_dn(C,1,rfc2253)").as_deref(), Some("FR"));
    assert_eq!(
        w.text("ssl_c_i_dn").as_deref(),
        Some("/CN=Acme Root CA/O=Acme")
    );
    assert_eq!(
        w.text("ssl_c_i_dn(,0,rfc2253)").as_deref(),
        Some("O=Acme,CN=Acme Root CA")
    );
    assert_eq!(w.text("ssl_c_i_dn(o)").as_deref(), Some("Acme"));
    // The frontend presented the CA certificate.
    assert_eq!(
        w.text("ssl_f_s_dn").as_deref(),
        Some("/CN=Acme Root CA/O=Acme")
    );
    assert_eq!(
        w.text("ssl_f_i_dn(,0,rfc2253)").as_deref(),
        Some("O=Acme,CN=Acme Root CA")
    );
}

#[test]
fn multi_occurrence_dn_entries() {
    let pem = crate::runtime::testpki::openssl_self_signed("/OU=first/OU=second/OU=third/CN=x");
    let der = crate::runtime::testpki::pem_to_der(&pem);
    let mut tls = mtls();
    if let Some(c) = tls.client.as_mut() {
        c.leaf = Arc::new(CertFacts::from_der(&der).unwrap_or_else(|| panic!("parse")));
    }
    let mut w = World::new(conn(Some(tls)));
    assert_eq!(w.text("ssl_c_s_dn(OU)").as_deref(), Some("first"));
    assert_eq!(w.text("ssl_c_s_dn(ou,2)").as_deref(), Some("second"));
    assert_eq!(w.text("ssl_c_s_dn(ou,-1)").as_deref(), Some("third"));
    assert_eq!(w.text("ssl_c_s_dn(ou,-3)").as_deref(), Some("first"));
    assert_eq!(w.eval("ssl_c_s_dn(ou,4)"), None);
}

#[test]
fn binary_certificate_fields_and_their_usual_converters() {
    let pki = client_pki();
    let mut w = World::new(conn(Some(mtls_with(&pki))));
    // Binary until converted.
    assert!(matches!(w.eval("ssl_c_serial"), Some(Value::Bin(_))));
    assert_eq!(w.text("ssl_c_serial,hex").as_deref(), Some("800102"));
    let fp = openssl_x509(&pki.client_pem, &["-noout", "-fingerprint", "-sha1"]);
    let fp = fp.rsplit('=').next().unwrap_or_default().replace(':', "");
    assert_eq!(w.text("ssl_c_sha1,hex").as_deref(), Some(fp.as_str()));
    assert_eq!(
        w.text("ssl_c_sha1,hex,lower"),
        Some(fp.to_ascii_lowercase())
    );
    let body: String = pki
        .client_pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    assert_eq!(w.text("ssl_c_der,base64"), Some(body));
    let fp256 = openssl_x509(&pki.client_pem, &["-noout", "-fingerprint", "-sha256"]);
    let fp256 = fp256
        .rsplit('=')
        .next()
        .unwrap_or_default()
        .replace(':', "");
    assert_eq!(
        w.text("ssl_c_der,sha2(256),hex").as_deref(),
        Some(fp256.as_str())
    );
    assert_eq!(w.text("ssl_c_notbefore").as_deref(), Some("240102030405Z"));
    assert_eq!(w.text("ssl_c_notafter").as_deref(), Some("510607080910Z"));
    assert_eq!(w.eval("ssl_c_version"), Some(Value::Int(3)));
    assert_eq!(
        w.text("ssl_c_sig_alg").as_deref(),
        Some("ecdsa-with-SHA256")
    );
    assert_eq!(w.text("ssl_c_key_alg").as_deref(), Some("id-ecPublicKey"));
    // The chain the client sent after its leaf.
    assert_eq!(w.text("ssl_c_chain_der,hex"), Some(hex(&pki.ca_der)));
    assert_eq!(w.text("ssl_f_serial,hex").as_deref(), Some("01"));
    assert_eq!(w.text("ssl_f_der,hex"), Some(hex(&pki.ca_der)));
    let ca_fp = openssl_x509(&pki.ca_pem, &["-noout", "-fingerprint", "-sha1"]);
    let ca_fp = ca_fp
        .rsplit('=')
        .next()
        .unwrap_or_default()
        .replace(':', "");
    assert_eq!(w.text("ssl_f_sha1,hex").as_deref(), Some(ca_fp.as_str()));
    assert_eq!(w.eval("ssl_f_version"), Some(Value::Int(3)));
    assert_eq!(
        w.text("ssl_f_sig_alg").as_deref(),
        Some("ecdsa-with-SHA256")
    );
    assert_eq!(w.text("ssl_f_key_alg").as_deref(), Some("id-ecPublicKey"));
    // rcgen's default validity is 1975 → 4096: a UTCTime in the 1950s–1990s
    // and a GeneralizedTime outside 20xx both make HAProxy's fetch fail.
    assert_eq!(w.eval("ssl_f_notbefore"), None);
    assert_eq!(w.eval("ssl_f_notafter"), None);
}

#[test]
fn empty_client_chain_fails_the_chain_fetch() {
    let mut tls = mtls();
    if let Some(c) = tls.client.as_mut() {
        c.chain_der.clear();
    }
    let mut w = World::new(conn(Some(tls)));
    assert_eq!(w.eval("ssl_c_chain_der"), None);
}

#[test]
fn server_side_fetches_read_the_connection_that_carried_the_response() {
    let pki = client_pki();
    let mut w = World::new(conn(Some(mtls_with(&pki))));
    // Before a server answered (or over a clear connection): `ssl_bc` and
    // `ssl_bc_is_resumed` are false, the others fail.
    assert_eq!(w.eval_res("ssl_bc"), Some(Value::Bool(false)));
    assert_eq!(w.eval_res("ssl_bc_is_resumed"), Some(Value::Bool(false)));
    assert_eq!(w.eval_res("ssl_bc_protocol"), None);
    assert_eq!(w.eval_res("ssl_s_sha1"), None);
    assert_eq!(w.eval_res("ssl_s_chain_der"), None);
    w.backend_tls = Some(BackendTlsFacts {
        session: SessionFacts {
            protocol: "TLSv1.2",
            cipher: "ECDHE-ECDSA-AES128-GCM-SHA256",
            alpn: None,
            resumed: true,
        },
        server: Some(PeerCertFacts {
            leaf: Arc::new(pki.client()),
            chain_der: vec![pki.ca_der.clone()],
        }),
    });
    assert_eq!(w.eval_res("ssl_bc"), Some(Value::Bool(true)));
    assert_eq!(w.eval_res("ssl_bc_is_resumed"), Some(Value::Bool(true)));
    assert_eq!(w.text_res("ssl_bc_protocol").as_deref(), Some("TLSv1.2"));
    assert_eq!(
        w.text_res("ssl_bc_cipher").as_deref(),
        Some("ECDHE-ECDSA-AES128-GCM-SHA256")
    );
    assert_eq!(w.eval_res("ssl_bc_alpn"), None);
    // The same fields as `ssl_c_*`, read from the server's certificate.
    assert!(
        w.text_res("ssl_s_s_dn")
            .is_some_and(|dn| dn.starts_with("/C=FR/"))
    );
    assert_eq!(
        w.text_res("ssl_s_s_dn"),
        w.text_res("ssl_c_s_dn"),
        "the test client certificate stands in for the server's"
    );
    assert_eq!(w.text_res("ssl_s_sha1,hex"), w.text_res("ssl_c_sha1,hex"));
    assert_eq!(w.text_res("ssl_s_i_dn(CN)"), w.text_res("ssl_c_i_dn(CN)"));
    // The client-side peer chain starts with the leaf.
    let mut chain = pki.client_der.clone();
    chain.extend_from_slice(&pki.ca_der);
    assert_eq!(w.eval_res("ssl_s_chain_der"), Some(Value::bin(chain)));
    assert_eq!(
        w.eval_res("ssl_c_chain_der"),
        Some(Value::bin(pki.ca_der.clone()))
    );
}

#[test]
fn raw_client_hello_sni() {
    let mut w = World::new(conn(None));
    assert_eq!(w.eval("req.ssl_sni"), None);
    w.content = Some(ContentFacts {
        data: crate::runtime::clienthello::tests::client_hello("passthrough.example", &[]),
        ..ContentFacts::default()
    });
    assert_eq!(
        w.text("req.ssl_sni").as_deref(),
        Some("passthrough.example")
    );
    assert_eq!(
        w.text("req_ssl_sni").as_deref(),
        Some("passthrough.example")
    );
}

#[test]
fn request_line_fetches() {
    let mut w = World::http("GET", "/p/a%20b?x=1&y=2", &[("host", "www.example")]);
    assert_eq!(w.text("path").as_deref(), Some("/p/a%20b"));
    assert_eq!(w.text("query").as_deref(), Some("x=1&y=2"));
    assert_eq!(w.text("url").as_deref(), Some("/p/a%20b?x=1&y=2"));
    assert_eq!(w.text("base").as_deref(), Some("www.example/p/a%20b"));
    assert_eq!(
        w.eval("method"),
        Some(Value::Meth(crate::ir::expr::HttpMethod::Get))
    );
    assert_eq!(w.text("method").as_deref(), Some("GET"));
    assert_eq!(w.text("req.ver").as_deref(), Some("1.1"));
    assert_eq!(w.text("req_ver").as_deref(), Some("1.1"));
    assert_eq!(w.eval("req.proto_http"), Some(Value::Bool(true)));
    // No query string: the fetch fails.
    let mut w = World::http("PURGE", "/x", &[]);
    assert_eq!(w.eval("query"), None);
    assert_eq!(w.text("method").as_deref(), Some("PURGE"));
    // No Host: base is the path.
    assert_eq!(w.text("base").as_deref(), Some("/x"));
}

#[test]
fn absolute_and_asterisk_uris() {
    // HTTP/2 requests carry an absolute URI, as in HAProxy's HTX.
    let mut w = World::http(
        "GET",
        "https://api.example/v1/x?q=1",
        &[("host", "api.example")],
    );
    if let Some(r) = w.req.as_mut() {
        r.version = http::Version::HTTP_2;
    }
    assert_eq!(w.text("path").as_deref(), Some("/v1/x"));
    assert_eq!(
        w.text("url").as_deref(),
        Some("https://api.example/v1/x?q=1")
    );
    assert_eq!(w.text("query").as_deref(), Some("q=1"));
    assert_eq!(w.text("base").as_deref(), Some("api.example/v1/x"));
    assert_eq!(w.text("req.ver").as_deref(), Some("2.0"));
    let mut w = World::http("OPTIONS", "*", &[("host", "h")]);
    assert_eq!(w.eval("path"), None);
    assert_eq!(w.text("url").as_deref(), Some("*"));
    assert_eq!(w.text("base").as_deref(), Some("h"));
    let mut w = World::http("CONNECT", "api.example:443", &[]);
    assert_eq!(w.eval("path"), None);
    assert_eq!(w.text("url").as_deref(), Some("api.example:443"));
}

#[test]
fn response_fetches() {
    let mut w = World::http("GET", "/", &[("x-q", "req")])
        .with_response(404, &[("x-r", "a, b"), ("x-r", "c"), ("x-n", "7")]);
    assert_eq!(w.eval_res("status"), Some(Value::Int(404)));
    assert_eq!(w.text_res("res.ver").as_deref(), Some("1.1"));
    assert_eq!(w.text_res("resp_ver").as_deref(), Some("1.1"));
    assert_eq!(w.text_res("res.hdr(x-r)").as_deref(), Some("c"));
    assert_eq!(w.text_res("shdr(x-r,1)").as_deref(), Some("a"));
    // `hdr` reads the response in response rules.
    assert_eq!(w.text_res("hdr(x-r,2)").as_deref(), Some("b"));
    assert_eq!(w.eval_res("hdr(x-q)"), None);
    assert_eq!(w.text_res("res.fhdr(x-r,1)").as_deref(), Some("a, b"));
    assert_eq!(w.eval_res("res.hdr_cnt(x-r)"), Some(Value::Int(3)));
    assert_eq!(w.eval_res("shdr_cnt(x-r)"), Some(Value::Int(3)));
    assert_eq!(w.eval_res("res.fhdr_cnt(x-r)"), Some(Value::Int(2)));
    assert_eq!(w.eval_res("res.hdr_val(x-n)"), Some(Value::Int(7)));
    assert_eq!(w.eval_res("shdr_val(x-n)"), Some(Value::Int(7)));
    assert_eq!(w.eval_res("res.hdr_ip(x-n)"), None);
    assert_eq!(w.eval_res("shdr_ip(x-n)"), None);
    let mut w = World::http("GET", "/", &[]);
    assert_eq!(w.eval_res("status"), None);
    assert_eq!(w.eval_res("res.hdr(x-r)"), None);
}

#[test]
fn header_occurrences() {
    let mut w = World::http(
        "GET",
        "/",
        &[
            ("x-a", "a, \"b,c\" , d"),
            ("x-a", "e"),
            ("X-Forwarded-For", "10.0.0.1, 10.0.0.2"),
        ],
    );
    // The last value by default, commas split values.
    assert_eq!(w.text("hdr(x-a)").as_deref(), Some("e"));
    assert_eq!(w.text("req.hdr(X-A)").as_deref(), Some("e"));
    assert_eq!(w.text("hdr(x-a,1)").as_deref(), Some("a"));
    assert_eq!(w.text("hdr(x-a,2)").as_deref(), Some("\"b,c\""));
    assert_eq!(w.text("hdr(x-a,-2)").as_deref(), Some("d"));
    assert_eq!(w.eval("hdr(x-a,5)"), None);
    assert_eq!(w.eval("hdr(x-a,-5)"), None);
    assert_eq!(
        w.text("req.hdr(x-forwarded-for,1)").as_deref(),
        Some("10.0.0.1")
    );
    // Full lines.
    assert_eq!(w.text("req.fhdr(x-a)").as_deref(), Some("e"));
    assert_eq!(w.text("req.fhdr(x-a,1)").as_deref(), Some("a, \"b,c\" , d"));
    // Counts.
    assert_eq!(w.eval("hdr_cnt(x-a)"), Some(Value::Int(4)));
    assert_eq!(w.eval("req.hdr_cnt(x-a)"), Some(Value::Int(4)));
    assert_eq!(w.eval("req.fhdr_cnt(x-a)"), Some(Value::Int(2)));
    assert_eq!(w.eval("hdr_cnt(nope)"), Some(Value::Int(0)));
    assert_eq!(w.eval("hdr_cnt"), Some(Value::Int(6)));
    assert_eq!(w.eval("req.fhdr_cnt"), Some(Value::Int(3)));
    assert_eq!(w.eval("hdr(nope)"), None);
}

#[test]
fn header_integers_and_addresses() {
    let mut w = World::http(
        "GET",
        "/",
        &[
            ("x-n", "1.5"),
            ("x-n", "-12"),
            ("x-ip", "10.0.0.1:8080"),
            ("x-ip", "2001:db8::1"),
            ("x-ip", "not-an-ip"),
            ("x-ip", "10.0.0.2:99999"),
        ],
    );
    // HAProxy's strl2ic reads "1.5" as 85.
    assert_eq!(w.eval("hdr_val(x-n,1)"), Some(Value::Int(85)));
    assert_eq!(w.eval("req.hdr_val(x-n)"), Some(Value::Int(-12)));
    assert_eq!(w.text("hdr_ip(x-ip,1)").as_deref(), Some("10.0.0.1"));
    assert_eq!(w.text("req.hdr_ip(x-ip,2)").as_deref(), Some("2001:db8::1"));
    assert_eq!(w.eval("hdr_ip(x-ip,3)"), None);
    // An out-of-range port makes it not an address.
    assert_eq!(w.eval("hdr_ip(x-ip)"), None);
}

#[test]
fn basic_authentication() {
    let basic = |cred: &str| {
        format!(
            "Basic {}",
            String::from_utf8_lossy(&text::base64_encode(cred.as_bytes()))
        )
    };
    let good = basic("alice:secret");
    let mut w = World::http("GET", "/", &[("authorization", good.as_str())]);
    assert_eq!(w.eval("http_auth(L1)"), Some(Value::Bool(true)));
    assert_eq!(w.text("http_auth_group(L1)").as_deref(), Some("alice"));
    let bad = basic("alice:nope");
    let mut w = World::http("GET", "/", &[("authorization", bad.as_str())]);
    assert_eq!(w.eval("http_auth(L1)"), Some(Value::Bool(false)));
    assert_eq!(w.eval("http_auth_group(L1)"), None);
    // The scheme is compared over its own length, case-insensitively.
    let lower = good.replace("Basic", "basic   ");
    let mut w = World::http("GET", "/", &[("authorization", lower.as_str())]);
    assert_eq!(w.eval("http_auth(L1)"), Some(Value::Bool(true)));
    for broken in [
        "Bearer abc",
        "Basic",
        "Basic !!!!",
        "Basic YWxpY2U=",
        " Basic x",
    ] {
        let mut w = World::http("GET", "/", &[("authorization", broken)]);
        assert_eq!(w.eval("http_auth(L1)"), None, "{broken}");
    }
    let mut w = World::http("GET", "/", &[]);
    assert_eq!(w.eval("http_auth(L1)"), None);
}

#[test]
fn variables_and_defaults() {
    let mut w = World::http("GET", "/", &[("host", "www.example")]);
    assert_eq!(w.eval("var(txn.host)"), None);
    assert_eq!(w.text("var(txn.host,none)").as_deref(), Some("none"));
    assert_eq!(
        w.text("req.hdr(host),set-var(txn.host)").as_deref(),
        Some("www.example")
    );
    assert_eq!(w.text("var(txn.host)").as_deref(), Some("www.example"));
    assert_eq!(w.text("var(txn.host,none)").as_deref(), Some("www.example"));
    assert_eq!(w.eval("int(7),set-var(sess.n)"), Some(Value::Int(7)));
    assert_eq!(w.eval("var(sess.n)"), Some(Value::Int(7)));
    assert_eq!(w.eval("var(res.x)"), None);
    assert_eq!(w.text("var(res.x,d)").as_deref(), None);
}
