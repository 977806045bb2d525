//! Connection error logs, end to end: `error-log-format` with `fc_err`,
//! `fc_err_str` and `ssl_fc_err_str`, and HAProxy's fixed error line
//! without it. Real handshakes from `openssl s_client` against a proxy
//! running in-process on 127.0.0.1; lines read from a UDP syslog sink. The
//! expected strings are what HAProxy 2.6 on OpenSSL 3 logs for the same
//! failures.

#![allow(clippy::expect_used, clippy::unwrap_used)] // a test failing loudly is the point

mod common;

use common::runtime::{LogSink, free_port, start};
use std::process::{Command, Stdio};
use tokio::io::AsyncWriteExt;

const PKI: &str = "tests/fixtures/pki";
const DEFAULTS: &str = "defaults\n    mode http\n    timeout client 5s\n    timeout connect 2s\n    timeout server 5s\n";
const FORMAT: &str = r#"error-log-format "ERR %[fc_err]:%[fc_err_str] %{+Q}[ssl_fc_err_str] %[ssl_fc_err] sni=%[ssl_fc_sni]""#;

async fn s_client(port: u16, args: &[&str]) -> String {
    let mut all: Vec<String> = vec![
        "10".into(),
        "openssl".into(),
        "s_client".into(),
        "-connect".into(),
        format!("127.0.0.1:{port}"),
        "-servername".into(),
        "test.example".into(),
    ];
    all.extend(args.iter().map(|s| s.to_string()));
    let out = tokio::task::spawn_blocking(move || {
        Command::new("timeout")
            .args(&all)
            .stdin(Stdio::null())
            .output()
    })
    .await
    .expect("join")
    .expect("openssl runs");
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The message part of a syslog line (after `portcullis[pid]: `).
fn message(line: &str) -> &str {
    line.split_once("]: ").map_or(line, |(_, m)| m)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_log_format_reports_handshake_failures_as_haproxy() {
    let sink = LogSink::bind().await;
    let (dhe, mtls, plain) = (free_port(), free_port(), free_port());
    let _p = start(&format!(
        "{DEFAULTS}frontend fe\n    log 127.0.0.1:{} local0\n    {FORMAT}\n    bind 127.0.0.1:{dhe} ssl crt {PKI}/server.pem ciphers DHE-RSA-AES256-GCM-SHA384 ssl-max-ver TLSv1.2\n    bind 127.0.0.1:{mtls} ssl crt {PKI}/server.pem verify required ca-file {PKI}/root.crt ca-verify-file {PKI}/inter.crt\n    bind 127.0.0.1:{plain}\n    http-request return status 200\n",
        sink.port
    ))
    .await;

    // No DH parameters: the DHE-only bind has no usable suite.
    s_client(dhe, &["-tls1_2"]).await;
    assert_eq!(
        message(&sink.next_line().await),
        r#"ERR 34:SSL handshake failure "error:0A0000C1:SSL routines::no shared cipher" 167772353 sni=test.example"#
    );
    // verify required and no certificate.
    s_client(mtls, &["-tls1_3"]).await;
    assert_eq!(
        message(&sink.next_line().await),
        r#"ERR 34:SSL handshake failure "error:0A0000C7:SSL routines::peer did not return a certificate" 167772359 sni=test.example"#
    );
    // A certificate from an unknown CA.
    s_client(mtls, &["-tls1_3", "-cert", &format!("{PKI}/intruder.pem")]).await;
    assert_eq!(
        message(&sink.next_line().await),
        r#"ERR 31:SSL client certificate not trusted "error:0A000086:SSL routines::certificate verify failed" 167772294 sni=test.example"#
    );
    // Closed before the ClientHello.
    drop(
        tokio::net::TcpStream::connect(("127.0.0.1", dhe))
            .await
            .unwrap(),
    );
    assert_eq!(
        message(&sink.next_line().await),
        r#"ERR 24:Connection closed during SSL handshake "" 0 sni=-"#
    );
    // A request the HTTP layer refuses is logged with the error format too.
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", plain))
        .await
        .unwrap();
    s.write_all(b"GARBAGE\r\n\r\n").await.unwrap();
    assert_eq!(
        message(&sink.next_line().await),
        r#"ERR 0:Success "" - sni=-"#
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_error_log_format_the_fixed_line_names_the_bind() {
    let sink = LogSink::bind().await;
    let (first, named) = (free_port(), free_port());
    let _p = start(&format!(
        "{DEFAULTS}frontend fe\n    log 127.0.0.1:{} local0\n    bind 127.0.0.1:{first} ssl crt {PKI}/server.pem curves P-384\n    bind 127.0.0.1:{named} ssl crt {PKI}/server.pem curves P-384 name secure\n    http-request return status 200\n",
        sink.port
    ))
    .await;
    s_client(first, &["-tls1_3", "-curves", "P-256"]).await;
    let line = sink.next_line().await;
    let m = message(&line);
    assert!(m.starts_with("127.0.0.1:"), "{line}");
    assert!(m.ends_with("] fe/1: SSL handshake failure"), "{line}");
    assert!(m.contains(" ["), "{line}");
    s_client(named, &["-tls1_2", "-curves", "P-256"]).await;
    let line = sink.next_line().await;
    assert!(
        message(&line).ends_with("] fe/secure: SSL handshake failure"),
        "{line}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dontlognull_skips_connections_that_sent_nothing() {
    let sink = LogSink::bind().await;
    let port = free_port();
    let _p = start(&format!(
        "{DEFAULTS}frontend fe\n    log 127.0.0.1:{} local0\n    option dontlognull\n    {FORMAT}\n    bind 127.0.0.1:{port} ssl crt {PKI}/server.pem curves P-384\n    http-request return status 200\n",
        sink.port
    ))
    .await;
    drop(
        tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap(),
    );
    s_client(port, &["-tls1_3", "-curves", "P-256"]).await;
    // The first line is the key-share failure, not the empty connection.
    assert_eq!(
        message(&sink.next_line().await),
        r#"ERR 34:SSL handshake failure "error:0A000065:SSL routines::no suitable key share" 167772261 sni=test.example"#
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls12_client_certificate_on_a_curve_outside_curves_is_a_wrong_curve() {
    // HAProxy's ssl_curves test: an ECDSA P-256 client certificate on a
    // bind limited to P-384 fails in TLS 1.2 (OpenSSL checks the curve of
    // the CertificateVerify key), passes in TLS 1.3.
    let sink = LogSink::bind().await;
    let port = free_port();
    let _p = start(&format!(
        "{DEFAULTS}frontend fe\n    log 127.0.0.1:{} local0\n    {FORMAT}\n    bind 127.0.0.1:{port} ssl crt {PKI}/server.pem verify optional ca-file {PKI}/inter-root-bundle.crt curves P-384\n    http-request return status 200\n",
        sink.port
    ))
    .await;
    let cert = format!("{PKI}/client.pem");
    s_client(port, &["-tls1_2", "-cert", &cert]).await;
    assert_eq!(
        message(&sink.next_line().await),
        r#"ERR 34:SSL handshake failure "error:0A00017A:SSL routines::wrong curve" 167772538 sni=test.example"#
    );
    // TLS 1.3 carries the curve in the signature scheme: accepted.
    let out = s_client(port, &["-tls1_3", "-cert", &cert]).await;
    assert!(out.contains("Server Temp Key: ECDH, secp384r1"), "{out}");
    assert!(!out.contains("alert"), "{out}");
}
