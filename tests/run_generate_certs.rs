//! `generate-certificates` end to end: a proxy in-process on 127.0.0.1 whose
//! bind mints a certificate for an SNI it has no certificate for, signed by
//! the `ca-sign-file` CA (rcgen-made), checked by a real TLS client that
//! trusts only that CA and verifies the name.

#![allow(clippy::expect_used, clippy::unwrap_used)] // a test failing loudly is the point

mod common;

use common::runtime::{free_port, start};
use portcullis::tls::provider;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair,
    PKCS_ECDSA_P256_SHA256,
};
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use x509_parser::prelude::{FromDer, X509Certificate};

/// Writes the signing CA (`ca.pem`: certificate and key) and the bind's
/// default certificate (`default.pem`, for default.test, signed by the CA)
/// into `dir`; returns the CA certificate.
fn pki(dir: &Path) -> CertificateDer<'static> {
    let ca_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.distinguished_name = DistinguishedName::new();
    ca.distinguished_name.push(DnType::CountryName, "FR");
    ca.distinguished_name.push(DnType::CommonName, "Minting CA");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    std::fs::write(
        dir.join("ca.pem"),
        format!("{}{}", ca_cert.pem(), ca_key.serialize_pem()),
    )
    .unwrap();
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let mut leaf = CertificateParams::new(vec!["default.test".to_string()]).unwrap();
    leaf.distinguished_name = DistinguishedName::new();
    leaf.distinguished_name
        .push(DnType::CommonName, "default.test");
    let cert = leaf.signed_by(&key, &issuer).unwrap();
    std::fs::write(
        dir.join("default.pem"),
        format!("{}{}", cert.pem(), key.serialize_pem()),
    )
    .unwrap();
    ca_cert.der().clone()
}

/// Connects with `sni`, trusting only `ca` and verifying the name; sends a
/// request and returns the server's chain and the HTTP answer.
async fn fetch(port: u16, ca: &CertificateDer<'static>, sni: &str) -> (Vec<Vec<u8>>, String) {
    let mut roots = RootCertStore::empty();
    roots.add(ca.clone()).unwrap();
    let config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let name = ServerName::try_from(sni.to_string()).unwrap();
    let mut tls = tokio::time::timeout(
        Duration::from_secs(5),
        TlsConnector::from(Arc::new(config)).connect(name, tcp),
    )
    .await
    .expect("handshake in time")
    .expect("the presented certificate verifies for the SNI under the CA");
    let chain = tls
        .get_ref()
        .1
        .peer_certificates()
        .unwrap()
        .iter()
        .map(|c| c.as_ref().to_vec())
        .collect();
    tls.write_all(b"GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), tls.read_to_end(&mut answer))
        .await
        .expect("answer in time")
        .ok();
    (chain, String::from_utf8_lossy(&answer).into_owned())
}

fn subject_and_issuer(der: &[u8]) -> (String, String) {
    let (_, c) = X509Certificate::from_der(der).unwrap();
    (c.subject().to_string(), c.issuer().to_string())
}

#[tokio::test]
async fn an_unknown_sni_gets_a_certificate_minted_by_the_signing_ca() {
    let dir = tempfile::tempdir().unwrap();
    let ca = pki(dir.path());
    let d = dir.path().display();
    let port = free_port();
    let p = start(&format!(
        "global\n    tune.ssl.ssl-ctx-cache-size 10\ndefaults\n    mode http\n    timeout client 5s\n    timeout connect 1s\n    timeout server 1s\n\
         frontend fe\n    bind 127.0.0.1:{port} ssl crt {d}/default.pem generate-certificates ca-sign-file {d}/ca.pem\n\
         \x20   http-request return status 200 content-type text/plain lf-string \"%[ssl_f_s_dn]|%[ssl_f_i_dn(CN)]|%[ssl_f_serial,hex]\"\n"
    ))
    .await;

    let (chain, body) = fetch(port, &ca, "minted.example.org").await;
    assert_eq!(chain.len(), 2, "the leaf, then the CA");
    assert_eq!(chain[1], ca.as_ref().to_vec());
    let (subject, issuer) = subject_and_issuer(&chain[0]);
    // HAProxy: the CA's subject followed by CN=<sni>.
    assert_eq!(subject, "C=FR, CN=Minting CA, CN=minted.example.org");
    assert_eq!(issuer, "C=FR, CN=Minting CA");
    // ssl_f_* read the minted certificate.
    assert!(
        body.contains("/C=FR/CN=Minting CA/CN=minted.example.org|Minting CA|"),
        "{body}"
    );

    // Cached: the same name gets the same certificate.
    let (again, _) = fetch(port, &ca, "minted.example.org").await;
    assert_eq!(again[0], chain[0]);
    // Another name gets its own, with the next serial.
    let (other, _) = fetch(port, &ca, "other.example.org").await;
    assert_ne!(other[0], chain[0]);
    assert_eq!(
        subject_and_issuer(&other[0]).0,
        "C=FR, CN=Minting CA, CN=other.example.org"
    );
    // A configured name still gets its configured certificate.
    let (configured, _) = fetch(port, &ca, "default.test").await;
    assert_eq!(subject_and_issuer(&configured[0]).0, "CN=default.test");
    p.shutdown().await;
}

#[test]
fn generate_certificates_needs_ca_sign_file() {
    let dir = tempfile::tempdir().unwrap();
    pki(dir.path());
    let d = dir.path().display();
    let text = format!(
        "defaults\n    mode http\n    timeout client 5s\n    timeout connect 1s\n    timeout server 1s\nfrontend fe\n    bind 127.0.0.1:1 ssl crt {d}/default.pem generate-certificates\n    http-request return status 200\n"
    );
    let mut map = portcullis::diag::SourceMap::new();
    let file = map.add("test.cfg", &text);
    let (ir, diags) = portcullis::config::build(
        &mut map,
        &[file],
        &portcullis::config::LowerOptions::default(),
        &|_| None,
    );
    assert!(ir.is_none());
    let text = portcullis::diag::render(&map, &diags);
    assert!(
        text.contains("cannot enable certificate generation, no CA certificate file configured"),
        "{text}"
    );
}
