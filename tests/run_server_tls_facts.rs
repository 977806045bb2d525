//! The server side of TLS as rules and logs see it: `ssl_bc*` (the
//! connection to the server that carried the response) and `ssl_s_*` (the
//! certificate that server presented), end to end. A proxy runs in-process
//! on 127.0.0.1 in front of real HTTPS origins holding rcgen certificates;
//! the expected values are computed from those certificates, with the
//! `openssl` command line tool where HAProxy relies on OpenSSL's formats.

#![allow(clippy::expect_used, clippy::unwrap_used)] // a test failing loudly is the point

mod common;

use bytes::Bytes;
use common::runtime::{free_port, get, start};
use http_body_util::Full;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use portcullis::tls::provider;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair,
    PKCS_ECDSA_P256_SHA256, SerialNumber,
};
use rustls::ServerConfig;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::convert::Infallible;
use std::io::Write;
use std::net::SocketAddr;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

/// The origin's PKI: a CA and a leaf it signed, with fixed names, serial
/// and dates so the expected fetch values are known.
struct OriginPki {
    ca_der: Vec<u8>,
    leaf_der: Vec<u8>,
    leaf_pem: String,
    leaf_key: Vec<u8>,
}

fn origin_pki() -> OriginPki {
    let ca_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.distinguished_name = DistinguishedName::new();
    ca.distinguished_name.push(DnType::CountryName, "FR");
    ca.distinguished_name
        .push(DnType::OrganizationName, "Facts, Test & Co");
    ca.distinguished_name.push(DnType::CommonName, "Facts CA");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca, ca_key);

    let leaf_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let mut leaf = CertificateParams::new(vec!["origin.test".to_string()]).unwrap();
    leaf.distinguished_name = DistinguishedName::new();
    leaf.distinguished_name.push(DnType::CountryName, "FR");
    leaf.distinguished_name
        .push(DnType::OrganizationName, "Origin");
    leaf.distinguished_name
        .push(DnType::CommonName, "origin.test");
    leaf.serial_number = Some(SerialNumber::from_slice(&[0x9a, 0x01, 0x02, 0x03]));
    leaf.not_before =
        rcgen::date_time_ymd(2024, 1, 2).replace_time(time::Time::from_hms(3, 4, 5).unwrap());
    leaf.not_after =
        rcgen::date_time_ymd(2049, 12, 31).replace_time(time::Time::from_hms(23, 59, 58).unwrap());
    let leaf_cert = leaf.signed_by(&leaf_key, &issuer).unwrap();
    OriginPki {
        ca_der: ca_cert.der().to_vec(),
        leaf_der: leaf_cert.der().to_vec(),
        leaf_pem: leaf_cert.pem(),
        leaf_key: leaf_key.serialize_der(),
    }
}

/// Starts an HTTPS origin presenting the PKI's leaf then its CA; each
/// response says which of its connections carried it (`x-conn`, from 1).
async fn tls_origin(pki: &OriginPki) -> SocketAddr {
    let chain = vec![
        CertificateDer::from(pki.leaf_der.clone()),
        CertificateDer::from(pki.ca_der.clone()),
    ];
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pki.leaf_key.clone()));
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            let id = count.fetch_add(1, Ordering::SeqCst) + 1;
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let svc = service_fn(move |_req: Request<hyper::body::Incoming>| async move {
                    let res = Response::builder()
                        .header("x-conn", id.to_string())
                        .body(Full::new(Bytes::from_static(b"origin\n")))
                        .unwrap();
                    Ok::<_, Infallible>(res)
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tls), svc)
                    .await;
            });
        }
    });
    addr
}

/// A clear-text origin.
async fn plain_origin() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let svc = service_fn(|_req: Request<hyper::body::Incoming>| async {
                    Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"plain\n"))))
                });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tcp), svc)
                    .await;
            });
        }
    });
    addr
}

/// `openssl x509 <args>` on a PEM certificate, its standard output trimmed.
fn openssl_x509(pem: &str, args: &[&str]) -> String {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(pem.as_bytes()).unwrap();
    let out = Command::new("openssl")
        .arg("x509")
        .arg("-in")
        .arg(file.path())
        .args(args)
        .output()
        .expect("the openssl command line tool is needed by this test");
    assert!(out.status.success(), "openssl x509 {args:?}");
    String::from_utf8_lossy(&out.stdout).trim_end().to_string()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

const DEFAULTS: &str = "defaults\n    mode http\n    timeout client 5s\n    timeout connect 2s\n    timeout server 5s\n";

/// `http-response set-header` lines, one per fetch.
fn header_rules(rules: &[(&str, &str)]) -> String {
    rules
        .iter()
        .map(|(h, f)| format!("    http-response set-header {h} \"{f}\"\n"))
        .collect()
}

#[tokio::test]
async fn server_certificate_fetches_give_haproxy_formats() {
    let pki = origin_pki();
    let up = tls_origin(&pki).await;
    let port = free_port();
    let rules = header_rules(&[
        ("x-sha1", "%[ssl_s_sha1,hex]"),
        ("x-der", "%[ssl_s_der,hex]"),
        ("x-chain", "%[ssl_s_chain_der,hex]"),
        ("x-s-dn", "%[ssl_s_s_dn]"),
        ("x-s-dn-rfc", "%[ssl_s_s_dn(,0,rfc2253)]"),
        ("x-s-cn", "%[ssl_s_s_dn(CN)]"),
        ("x-i-dn", "%[ssl_s_i_dn]"),
        ("x-i-o", "%[ssl_s_i_dn(O,1)]"),
        ("x-serial", "%[ssl_s_serial,hex]"),
        ("x-key", "%[ssl_s_key_alg]"),
        ("x-sig", "%[ssl_s_sig_alg]"),
        ("x-nb", "%[ssl_s_notbefore]"),
        ("x-na", "%[ssl_s_notafter]"),
        ("x-version", "%[ssl_s_version]"),
        ("x-bc", "%[ssl_bc]"),
        ("x-bc-proto", "%[ssl_bc_protocol]"),
        ("x-bc-cipher", "%[ssl_bc_cipher]"),
        ("x-bc-alpn", "%[ssl_bc_alpn]"),
        ("x-bc-resumed", "%[ssl_bc_is_resumed]"),
    ]);
    let p = start(&format!(
        "{DEFAULTS}frontend fe\n    bind 127.0.0.1:{port}\n    default_backend be\nbackend be\n{rules}    server s1 {up} ssl verify none sni str(origin.test) alpn http/1.1\n"
    ))
    .await;
    let r = get(port, "/", &[]).await;
    p.shutdown().await;
    assert_eq!(r.status, 200, "{}", r.body);

    let digest = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, &pki.leaf_der);
    assert_eq!(r.header("x-sha1"), hex(digest.as_ref()));
    let fingerprint = openssl_x509(&pki.leaf_pem, &["-noout", "-fingerprint", "-sha1"]);
    assert_eq!(
        fingerprint.rsplit('=').next().unwrap().replace(':', ""),
        r.header("x-sha1")
    );
    assert_eq!(r.header("x-der"), hex(&pki.leaf_der));
    // OpenSSL's client-side peer chain starts with the leaf.
    assert_eq!(
        r.header("x-chain"),
        hex(&[pki.leaf_der.clone(), pki.ca_der.clone()].concat())
    );
    let subject = |nameopt: &str| {
        let s = openssl_x509(&pki.leaf_pem, &["-noout", "-subject", "-nameopt", nameopt]);
        s.trim_start_matches("subject=").to_string()
    };
    assert_eq!(r.header("x-s-dn"), subject("compat"));
    assert_eq!(r.header("x-s-dn"), "/C=FR/O=Origin/CN=origin.test");
    assert_eq!(r.header("x-s-dn-rfc"), subject("RFC2253"));
    assert_eq!(r.header("x-s-dn-rfc"), "CN=origin.test,O=Origin,C=FR");
    assert_eq!(r.header("x-s-cn"), "origin.test");
    let issuer = openssl_x509(&pki.leaf_pem, &["-noout", "-issuer", "-nameopt", "compat"]);
    assert_eq!(r.header("x-i-dn"), issuer.trim_start_matches("issuer="));
    assert_eq!(r.header("x-i-o"), "Facts, Test & Co");
    let serial = openssl_x509(&pki.leaf_pem, &["-noout", "-serial"]);
    assert_eq!(r.header("x-serial"), serial.trim_start_matches("serial="));
    assert_eq!(r.header("x-serial"), "9A010203");
    assert_eq!(r.header("x-key"), "id-ecPublicKey");
    assert_eq!(r.header("x-sig"), "ecdsa-with-SHA256");
    assert_eq!(r.header("x-nb"), "240102030405Z");
    assert_eq!(r.header("x-na"), "491231235958Z");
    assert_eq!(r.header("x-version"), "3");
    assert_eq!(r.header("x-bc"), "1");
    assert_eq!(r.header("x-bc-proto"), "TLSv1.3");
    assert!(
        r.header("x-bc-cipher").starts_with("TLS_"),
        "{}",
        r.header("x-bc-cipher")
    );
    assert_eq!(r.header("x-bc-alpn"), "http/1.1");
    assert_eq!(r.header("x-bc-resumed"), "0");
}

#[tokio::test]
async fn a_reused_server_connection_still_reports_its_tls() {
    let pki = origin_pki();
    let up = tls_origin(&pki).await;
    let port = free_port();
    let rules = header_rules(&[
        ("x-sha1", "%[ssl_s_sha1,hex]"),
        ("x-bc-proto", "%[ssl_bc_protocol]"),
    ]);
    let p = start(&format!(
        "{DEFAULTS}frontend fe\n    bind 127.0.0.1:{port}\n    default_backend be\nbackend be\n{rules}    server s1 {up} ssl verify none\n"
    ))
    .await;
    let first = get(port, "/", &[]).await;
    let second = get(port, "/", &[]).await;
    p.shutdown().await;
    let digest = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, &pki.leaf_der);
    for r in [&first, &second] {
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.header("x-conn"), "1", "the pooled connection is reused");
        assert_eq!(r.header("x-sha1"), hex(digest.as_ref()));
        assert_eq!(r.header("x-bc-proto"), "TLSv1.3");
    }
}

#[tokio::test]
async fn a_resumed_server_session_is_reported() {
    let pki = origin_pki();
    let up = tls_origin(&pki).await;
    let port = free_port();
    let rules = header_rules(&[("x-bc-resumed", "%[ssl_bc_is_resumed]")]);
    // `option httpclose`: a new server connection per request, which
    // resumes the session of the previous one.
    let p = start(&format!(
        "{DEFAULTS}    option httpclose\nfrontend fe\n    bind 127.0.0.1:{port}\n    default_backend be\nbackend be\n{rules}    server s1 {up} ssl verify none sni str(origin.test)\n"
    ))
    .await;
    let mut seen = Vec::new();
    for _ in 0..3 {
        let r = get(port, "/", &[]).await;
        assert_eq!(r.status, 200, "{}", r.body);
        seen.push((
            r.header("x-conn").to_string(),
            r.header("x-bc-resumed").to_string(),
        ));
    }
    p.shutdown().await;
    let expected: Vec<(String, String)> = [("1", "0"), ("2", "1"), ("3", "1")]
        .iter()
        .map(|(c, r)| (c.to_string(), r.to_string()))
        .collect();
    assert_eq!(seen, expected);
}

#[tokio::test]
async fn a_clear_server_connection_has_no_tls_facts() {
    let up = plain_origin().await;
    let port = free_port();
    let rules = header_rules(&[
        ("x-bc", "%[ssl_bc]"),
        ("x-bc-resumed", "%[ssl_bc_is_resumed]"),
        ("x-proto", "[%[ssl_bc_protocol]]"),
        ("x-sha1", "[%[ssl_s_sha1,hex]]"),
    ]);
    let p = start(&format!(
        "{DEFAULTS}frontend fe\n    bind 127.0.0.1:{port}\n    default_backend be\nbackend be\n{rules}    server s1 {up}\n"
    ))
    .await;
    let r = get(port, "/", &[]).await;
    p.shutdown().await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("x-bc"), "0");
    assert_eq!(r.header("x-bc-resumed"), "0");
    assert_eq!(r.header("x-proto"), "[]");
    assert_eq!(r.header("x-sha1"), "[]");
}

#[tokio::test]
async fn log_format_reads_the_server_connection() {
    let pki = origin_pki();
    let up = tls_origin(&pki).await;
    let sink = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let sink_port = sink.local_addr().unwrap().port();
    let port = free_port();
    let p = start(&format!(
        "global\n    log 127.0.0.1:{sink_port} local0\n{DEFAULTS}    log global\nfrontend fe\n    bind 127.0.0.1:{port}\n    log-format \"bc=%[ssl_bc] cn=%[ssl_s_s_dn(CN)] proto=%[ssl_bc_protocol]\"\n    default_backend be\nbackend be\n    server s1 {up} ssl verify none\n"
    ))
    .await;
    assert_eq!(get(port, "/", &[]).await.status, 200);
    let mut buf = vec![0u8; 2048];
    let n = tokio::time::timeout(Duration::from_secs(5), sink.recv(&mut buf))
        .await
        .expect("a log line arrives")
        .unwrap();
    p.shutdown().await;
    let line = String::from_utf8_lossy(&buf[..n]).into_owned();
    assert!(
        line.ends_with("bc=1 cn=origin.test proto=TLSv1.3"),
        "{line}"
    );
}
