//! The seed guides' mTLS scenarios end to end: `portcullis run` started
//! in-process on 127.0.0.1, driven by curl (the client the guides use) with the
//! committed test PKI (`tests/fixtures/pki`, see its `make-pki.sh`).

#![allow(clippy::expect_used, clippy::unwrap_used)] // a test failing loudly is the point

mod common;

use common::runtime::{free_port, start as proxy};
use std::process::Command;

const PKI: &str = "tests/fixtures/pki";

/// What curl saw: its exit code (0 = HTTP exchange done), the status and body.
#[derive(Debug)]
struct Curl {
    exit: i32,
    status: u16,
    body: String,
    stderr: String,
}

/// `curl https://<name>:<port><path>` resolved to 127.0.0.1, trusting the
/// test root, optionally presenting a client certificate.
async fn curl(name: &str, port: u16, path: &str, cert: Option<&str>, extra: &[&str]) -> Curl {
    let mut args: Vec<String> = vec![
        "-sS".into(),
        "--max-time".into(),
        "10".into(),
        "--resolve".into(),
        format!("{name}:{port}:127.0.0.1"),
        "--cacert".into(),
        format!("{PKI}/root.crt"),
        "-o".into(),
        "-".into(),
        "-w".into(),
        "\n%{http_code}".into(),
    ];
    if let Some(c) = cert {
        args.push("--cert".into());
        args.push(format!("{PKI}/{c}"));
    }
    args.extend(extra.iter().map(|s| s.to_string()));
    let scheme = if extra.contains(&"--plain") {
        "http"
    } else {
        "https"
    };
    args.retain(|a| a != "--plain");
    args.push(format!("{scheme}://{name}:{port}{path}"));
    let out = tokio::task::spawn_blocking(move || Command::new("curl").args(&args).output())
        .await
        .expect("join")
        .expect("curl runs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, status) = text.rsplit_once('\n').unwrap_or(("", "0"));
    Curl {
        exit: out.status.code().unwrap_or(-1),
        status: status.trim().parse().unwrap_or(0),
        body: body.to_string(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn openssl(args: &[&str]) -> String {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .expect("openssl runs");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

const DEFAULTS: &str = "defaults\n    mode http\n    timeout client 5s\n    timeout connect 1s\n    timeout server 1s\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn haproxy_blog_verify_required_with_intermediate_ca_file_and_root_ca_verify_file() {
    let tls = free_port();
    let clear = free_port();
    let p = proxy(&format!(
        "{DEFAULTS}frontend api\n    bind 127.0.0.1:{clear}\n    bind 127.0.0.1:{tls} ssl crt {PKI}/server.pem verify required ca-file {PKI}/inter.crt ca-verify-file {PKI}/root.crt\n    http-request redirect scheme https unless {{ ssl_fc }}\n    http-request return status 200 content-type text/plain lf-string \"%[ssl_c_s_dn] verify=%[ssl_c_verify] %[ssl_fc_protocol]\"\n"
    ))
    .await;

    // The client sends only its leaf: the intermediate in ca-file completes it.
    let ok = curl("test.example", tls, "/", Some("client.pem"), &[]).await;
    assert_eq!((ok.exit, ok.status), (0, 200), "{ok:?}");
    assert_eq!(ok.body, "/CN=scanner/O=warehouse verify=0 TLSv1.3");

    // No certificate: the TLS alert certificate_required, never an HTTP answer.
    let none = curl("test.example", tls, "/", None, &[]).await;
    assert_ne!(none.exit, 0, "{none:?}");
    assert_eq!(none.status, 0);
    assert!(
        none.stderr.contains("alert certificate required"),
        "{none:?}"
    );

    for (cert, alert) in [
        ("intruder.pem", "unknown ca"),
        ("expired-client.pem", "certificate expired"),
    ] {
        let r = curl("test.example", tls, "/", Some(cert), &[]).await;
        assert_ne!(r.exit, 0, "{cert}: {r:?}");
        assert!(
            r.stderr.contains(alert),
            "{cert}: expected '{alert}': {r:?}"
        );
    }

    // Clear-text requests are redirected to https (302 without 'code').
    let r = curl(
        "test.example",
        clear,
        "/x",
        None,
        &["--plain", "-D", "/dev/stderr"],
    )
    .await;
    assert_eq!(r.status, 302, "{r:?}");
    assert!(
        r.stderr
            .to_lowercase()
            .contains(&format!("location: https://test.example:{clear}/x")),
        "{r:?}"
    );
    p.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apisix_client_certificate_headers_and_uri_bypass() {
    let port = free_port();
    let p = proxy(&format!(
        "{DEFAULTS}frontend apisix\n    bind 127.0.0.1:{port} ssl crt {PKI}/server.pem verify optional ca-file {PKI}/inter.crt ca-verify-file {PKI}/root.crt ca-ignore-err all crt-ignore-err all alpn h2,http/1.1\n    http-request del-header X-Ssl-Client-Fingerprint\n    http-request del-header X-Ssl-Client-Serial\n    http-request del-header X-Ssl-Client-S-DN\n    acl mtls_skip path_reg ^/anything.*\n    acl has_cert ssl_c_used\n    acl cert_valid ssl_c_verify 0\n    http-request return status 400 content-type text/html string \"<html><body><h1>400 Bad Request</h1></body></html>\" if !mtls_skip !has_cert || !mtls_skip !cert_valid\n    http-request set-header X-Ssl-Client-Fingerprint %[ssl_c_sha1,hex,lower] if has_cert cert_valid\n    http-request set-header X-Ssl-Client-Serial %[ssl_c_serial,hex] if has_cert cert_valid\n    http-request set-header X-Ssl-Client-S-DN %[ssl_c_s_dn(,0,rfc2253)] if has_cert cert_valid\n    http-request return status 200 content-type text/plain lf-string \"fp=%[req.hdr(x-ssl-client-fingerprint)] serial=%[req.hdr(x-ssl-client-serial)] dn=%[req.fhdr(x-ssl-client-s-dn)] alpn=%[ssl_fc_alpn]\"\n"
    ))
    .await;

    let fp = openssl(&[
        "x509",
        "-noout",
        "-fingerprint",
        "-sha1",
        "-in",
        &format!("{PKI}/client.pem"),
    ]);
    let fp = fp
        .rsplit('=')
        .next()
        .unwrap_or("")
        .replace(':', "")
        .to_lowercase();
    let serial = openssl(&[
        "x509",
        "-noout",
        "-serial",
        "-in",
        &format!("{PKI}/client.pem"),
    ]);
    let serial = serial.trim_start_matches("serial=").to_string();
    let dn = openssl(&[
        "x509",
        "-noout",
        "-subject",
        "-nameopt",
        "RFC2253",
        "-in",
        &format!("{PKI}/client.pem"),
    ]);
    let dn = dn.trim_start_matches("subject=").to_string();

    // Valid certificate over h2: the identity headers carry nginx/APISIX's formats,
    // and forged copies sent by the client never survive.
    let r = curl(
        "test.example",
        port,
        "/uuid",
        Some("client.pem"),
        &[
            "--http2",
            "-H",
            "X-Ssl-Client-S-DN: CN=admin",
            "-H",
            "X-Ssl-Client-Serial: 1",
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body, format!("fp={fp} serial={serial} dn={dn} alpn=h2"));

    // No certificate, or an untrusted one: HTTP 400 (not a TLS alert) outside the whitelist…
    let r = curl("test.example", port, "/uuid", None, &[]).await;
    assert_eq!((r.exit, r.status), (0, 400), "{r:?}");
    let r = curl("test.example", port, "/uuid", Some("intruder.pem"), &[]).await;
    assert_eq!((r.exit, r.status), (0, 400), "{r:?}");
    // …and through on the whitelisted URIs, with no identity headers.
    let r = curl(
        "test.example",
        port,
        "/anything/x",
        None,
        &["--http1.1", "-H", "X-Ssl-Client-S-DN: CN=admin"],
    )
    .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body, "fp= serial= dn= alpn=http/1.1");
    p.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_sni_client_ca_via_crt_list_and_421_on_sni_host_mismatch() {
    let port = free_port();
    let lax = free_port();
    let bind = format!("ssl crt-list {PKI}/sites.crtlist");
    let p = proxy(&format!(
        "{DEFAULTS}frontend sites\n    bind 127.0.0.1:{port} {bind}\n    bind 127.0.0.1:{lax} {bind} no-strict-sni-host\n    http-request return status 200 content-type text/plain lf-string \"sni=%[ssl_fc_sni] used=%[ssl_c_used]\"\n"
    ))
    .await;

    // test.example requires a client certificate, open.example asks for none.
    let r = curl("test.example", port, "/", None, &[]).await;
    assert_ne!(r.exit, 0, "{r:?}");
    let r = curl("test.example", port, "/", Some("client.pem"), &[]).await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (200, "sni=test.example used=1"),
        "{r:?}"
    );
    let r = curl("open.example", port, "/", None, &[]).await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (200, "sni=open.example used=0"),
        "{r:?}"
    );

    // Handshake as open.example, then ask for test.example: 421, not the
    // certificate-protected site without a certificate.
    let r = curl(
        "open.example",
        port,
        "/",
        None,
        &["-H", "Host: test.example"],
    )
    .await;
    assert_eq!(r.status, 421, "{r:?}");
    assert!(r.body.contains("421 Misdirected Request"), "{r:?}");
    // Same policy on both names: no 421.
    let r = curl(
        "open.example",
        port,
        "/",
        None,
        &["-H", "Host: other.example"],
    )
    .await;
    assert_eq!(r.status, 200, "{r:?}");
    // The check can be turned off per bind.
    let r = curl(
        "open.example",
        lax,
        "/",
        None,
        &["-H", "Host: test.example"],
    )
    .await;
    assert_eq!(r.status, 200, "{r:?}");
    p.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_request_rules_close_connections_before_http() {
    let (blocked, gated) = (free_port(), free_port());
    let p = proxy(&format!(
        "{DEFAULTS}frontend blocked\n    bind 127.0.0.1:{blocked}\n    tcp-request connection reject if {{ src 127.0.0.0/8 }}\n    http-request return status 200 content-type text/plain string never\nfrontend gated\n    bind 127.0.0.1:{gated} ssl crt {PKI}/server.pem verify optional ca-file {PKI}/inter-root-bundle.crt\n    tcp-request content reject unless {{ ssl_c_used }}\n    http-request return status 200 content-type text/plain string in\n"
    ))
    .await;
    let r = curl("test.example", blocked, "/", None, &["--plain"]).await;
    assert_ne!(r.exit, 0, "{r:?}");
    assert_eq!(r.status, 0, "{r:?}");
    let r = curl("test.example", gated, "/", None, &[]).await;
    assert_eq!(
        r.status, 0,
        "no certificate: closed after the handshake: {r:?}"
    );
    let r = curl("test.example", gated, "/", Some("client.pem"), &[]).await;
    assert_eq!((r.status, r.body.as_str()), (200, "in"), "{r:?}");
    p.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn httpslog_lines_carry_the_tls_fields() {
    let sink = std::net::UdpSocket::bind("127.0.0.1:0").expect("udp sink");
    sink.set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .expect("timeout");
    let sink_port = sink.local_addr().expect("addr").port();
    let (tls, clf) = (free_port(), free_port());
    let p = proxy(&format!(
        "global\n    log 127.0.0.1:{sink_port} format raw local0\n{DEFAULTS}    log global\nfrontend fe\n    bind 127.0.0.1:{tls} ssl crt {PKI}/server.pem\n    option httpslog\n    http-request return status 200 content-type text/plain string s\nfrontend plain\n    bind 127.0.0.1:{clf}\n    option httplog clf\n    http-request return status 200 content-type text/plain string c\n"
    ))
    .await;
    let r = curl("test.example", tls, "/tls", None, &["--http1.1"]).await;
    assert_eq!(r.status, 200, "{r:?}");
    let mut buf = vec![0u8; 2048];
    let n = sink.recv(&mut buf).expect("a log line");
    let line = String::from_utf8_lossy(&buf[..n]).into_owned();
    assert!(line.contains(" fe~ fe/<NOSRV> "), "{line}");
    assert!(line.contains("\"GET /tls HTTP/1.1\" 0/"), "{line}");
    assert!(
        line.ends_with(" test.example/TLSv1.3/TLS_AES_256_GCM_SHA384"),
        "{line}"
    );
    let r = curl("test.example", clf, "/clf", None, &["--plain"]).await;
    assert_eq!(r.status, 200, "{r:?}");
    let n = sink.recv(&mut buf).expect("a log line");
    let line = String::from_utf8_lossy(&buf[..n]).into_owned();
    // CLF: `client - - [date] "request" status bytes …`, then quoted fields.
    assert!(line.starts_with("127.0.0.1 - - ["), "{line}");
    assert!(line.contains(" \"plain\" \"plain\" \"<NOSRV>\" "), "{line}");
    assert!(line.contains("] \"GET /clf HTTP/1.1\" 200 1 "), "{line}");
    p.shutdown().await;
}
