//! TLS and mTLS from the proxy to its servers (`server … ssl …`), end to end
//! with HAProxy 2.6's outcomes (haproxy-spec.md §3.1): a proxy started
//! in-process on 127.0.0.1 in front of real HTTPS origins that require a
//! client certificate and report what they saw (client DN, SNI, HTTP
//! version, resumption, PROXY line) in response headers.

#![allow(clippy::expect_used, clippy::unwrap_used)] // a test failing loudly is the point

mod common;

use bytes::Bytes;
use common::runtime::{free_port, get, lower, start, try_start};
use http_body_util::Full;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use portcullis::ir::{self, ServerVerify};
use portcullis::tls::{CaSpec, Loader, provider, subject_oneline};
use rustls::server::WebPkiClientVerifier;
use rustls::sign::SingleCertAndKey;
use rustls::{HandshakeKind, RootCertStore, ServerConfig};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

const PKI: &str = "tests/fixtures/pki";
/// The proxy's client certificate: /CN=scanner/O=warehouse, issued by the
/// intermediate, sent with it.
const CRT: &str = "crt tests/fixtures/pki/client-chain.pem";
const ROOT: &str = "ca-file tests/fixtures/pki/root.crt";

/// How a test origin behaves.
#[derive(Clone, Copy)]
struct Origin {
    /// Its certificate (and key): `server.pem` is test.example, localhost,
    /// *.wild.example; `server2.crt` is open.example, other.example.
    cert: &'static str,
    /// ALPN offers h2 (and http/1.1); otherwise http/1.1 only.
    h2: bool,
    /// Expects a PROXY v1 line before the TLS handshake.
    proxy_protocol: bool,
}

const TEST_EXAMPLE: Origin = Origin {
    cert: "tests/fixtures/pki/server.pem",
    h2: false,
    proxy_protocol: false,
};
const OPEN_EXAMPLE: Origin = Origin {
    cert: "tests/fixtures/pki/server2.crt",
    ..TEST_EXAMPLE
};

/// What one TLS connection to the origin showed.
#[derive(Clone, Default)]
struct Seen {
    client_dn: String,
    sni: String,
    resumed: bool,
    proxy_line: String,
}

/// Starts an HTTPS origin that requires a client certificate issued under
/// the test root and answers with what it saw; `/slow` answers after 2 s.
async fn origin(o: Origin) -> SocketAddr {
    let mut loader = Loader::new();
    let cert = loader.cert_key(Path::new(o.cert)).expect("origin cert");
    let ca = loader
        .ca(&CaSpec::Path(Path::new(PKI).join("root.crt")))
        .expect("root CA");
    let mut roots = RootCertStore::empty();
    roots.add_parsable_certificates(ca.certs.clone());
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
        .build()
        .expect("client verifier");
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_client_cert_verifier(verifier)
        .with_cert_resolver(Arc::new(SingleCertAndKey::from(cert.certified_key())));
    config.alpn_protocols = if o.h2 {
        vec![b"h2".to_vec(), b"http/1.1".to_vec()]
    } else {
        vec![b"http/1.1".to_vec()]
    };
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind origin");
    let addr = listener.local_addr().expect("origin addr");
    tokio::spawn(async move {
        loop {
            let Ok((mut tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let mut seen = Seen::default();
                if o.proxy_protocol {
                    seen.proxy_line = read_proxy_line(&mut tcp).await;
                }
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let conn = tls.get_ref().1;
                seen.sni = conn.server_name().unwrap_or("").to_string();
                seen.resumed = conn.handshake_kind() == Some(HandshakeKind::Resumed);
                seen.client_dn = conn
                    .peer_certificates()
                    .and_then(|c| c.first())
                    .and_then(|leaf| subject_oneline(leaf.as_ref()))
                    .unwrap_or_default();
                let svc = service_fn(move |req: Request<hyper::body::Incoming>| {
                    let seen = seen.clone();
                    async move {
                        if req.uri().path() == "/slow" {
                            tokio::time::sleep(Duration::from_secs(2)).await;
                        }
                        let host = req
                            .uri()
                            .authority()
                            .map(|a| a.to_string())
                            .or_else(|| {
                                req.headers()
                                    .get("host")
                                    .and_then(|h| h.to_str().ok())
                                    .map(str::to_string)
                            })
                            .unwrap_or_default();
                        let res = Response::builder()
                            .header("x-client-dn", seen.client_dn)
                            .header("x-sni", seen.sni)
                            .header("x-resumed", seen.resumed.to_string())
                            .header("x-proxy-line", seen.proxy_line)
                            .header("x-version", format!("{:?}", req.version()))
                            .header("x-host", host)
                            .body(Full::new(Bytes::from_static(b"hello from origin\n")))
                            .expect("response");
                        Ok::<_, Infallible>(res)
                    }
                });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tls), svc)
                    .await;
            });
        }
    });
    addr
}

/// Reads a PROXY v1 line (at most 107 bytes, up to CRLF) off the socket.
async fn read_proxy_line(tcp: &mut TcpStream) -> String {
    let mut head = [0u8; 16];
    let Ok(first) = tcp.read_u8().await else {
        return String::new();
    };
    if first == b'\r' {
        // PROXY v2: 12-byte signature, version/command, family, length.
        head[0] = first;
        if tcp.read_exact(&mut head[1..]).await.is_err() || &head[..12] != b"\r\n\r\n\0\r\nQUIT\n" {
            return "bad v2 signature".to_string();
        }
        let len = u16::from_be_bytes([head[14], head[15]]) as usize;
        let mut body = vec![0u8; len];
        if tcp.read_exact(&mut body).await.is_err() {
            return "truncated v2 header".to_string();
        }
        if head[13] == 0x11 && len == 12 {
            let ip = |b: &[u8]| format!("{}.{}.{}.{}", b[0], b[1], b[2], b[3]);
            let port = |b: &[u8]| u16::from_be_bytes([b[0], b[1]]);
            return format!(
                "PROXYv2 {:#04x} TCP4 {} {} {} {}",
                head[12],
                ip(&body[0..4]),
                ip(&body[4..8]),
                port(&body[8..10]),
                port(&body[10..12])
            );
        }
        return format!("PROXYv2 {:#04x} family {:#04x}", head[12], head[13]);
    }
    let mut line = vec![first];
    while line.len() < 107 && !line.ends_with(b"\r\n") {
        let Ok(b) = tcp.read_u8().await else { break };
        line.push(b);
    }
    String::from_utf8_lossy(&line).trim_end().to_string()
}

/// A proxy on a fresh port whose backend has one server, `origin` with
/// `opts` (`retries 1`, `timeout connect 1s`, `timeout server 1s`).
fn config(port: u16, origin: SocketAddr, backend_extra: &str, opts: &str) -> String {
    format!(
        "defaults\n    mode http\n    timeout client 5s\n    timeout connect 1s\n    timeout server 1s\n    retries 1\n\
         frontend fe\n    bind 127.0.0.1:{port}\n    default_backend be\n\
         backend be\n{backend_extra}    server up {origin} {opts}\n"
    )
}

/// Runs one request through a proxy whose server line has `opts`, in front
/// of an origin behaving as `o`.
async fn through(
    o: Origin,
    opts: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> common::runtime::Answer {
    let up = origin(o).await;
    let port = free_port();
    let p = start(&config(port, up, "", opts)).await;
    let r = get(port, path, headers).await;
    p.shutdown().await;
    r
}

#[tokio::test]
async fn mtls_with_sni_presents_the_proxy_certificate() {
    let r = through(
        TEST_EXAMPLE,
        &format!("ssl verify required {ROOT} {CRT} sni str(test.example)"),
        "/",
        &[],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("x-client-dn"), "/CN=scanner/O=warehouse");
    assert_eq!(r.header("x-sni"), "test.example");
    assert_eq!(r.header("x-version"), "HTTP/1.1");
    assert_eq!(r.body, "hello from origin\n");
}

#[tokio::test]
async fn no_client_certificate_gets_502_after_the_tls13_alert() {
    // TLS 1.3: the proxy's handshake completes, the origin's
    // certificate_required alert comes after the request went out.
    let r = through(
        TEST_EXAMPLE,
        &format!("ssl verify required {ROOT} sni str(test.example)"),
        "/",
        &[],
    )
    .await;
    assert_eq!(r.status, 502, "{}", r.body);
}

#[tokio::test]
async fn sni_not_in_the_certificate_is_a_connection_error() {
    let r = through(
        TEST_EXAMPLE,
        &format!("ssl verify required {ROOT} {CRT} sni str(wrong.example)"),
        "/",
        &[],
    )
    .await;
    assert_eq!(r.status, 503, "{}", r.body);
}

#[tokio::test]
async fn verifyhost_is_the_name_checked_when_no_sni_is_sent() {
    let r = through(
        TEST_EXAMPLE,
        &format!("ssl verify required {ROOT} {CRT} verifyhost test.example"),
        "/",
        &[],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("x-sni"), "", "no SNI is sent without 'sni'");
    assert_eq!(r.header("x-client-dn"), "/CN=scanner/O=warehouse");

    let r = through(
        TEST_EXAMPLE,
        &format!("ssl verify required {ROOT} {CRT} verifyhost wrong.example"),
        "/",
        &[],
    )
    .await;
    assert_eq!(r.status, 503, "{}", r.body);
}

#[tokio::test]
async fn without_sni_or_verifyhost_the_name_is_not_checked() {
    // HAProxy: "When no name is found, the certificate's names are ignored".
    let r = through(
        OPEN_EXAMPLE,
        &format!("ssl verify required {ROOT} {CRT}"),
        "/",
        &[],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("x-sni"), "");
}

#[tokio::test]
async fn a_server_certificate_from_another_ca_is_refused() {
    let r = through(
        TEST_EXAMPLE,
        &format!("ssl verify required ca-file {PKI}/rogue-ca.crt {CRT} sni str(test.example)"),
        "/",
        &[],
    )
    .await;
    assert_eq!(r.status, 503, "{}", r.body);
    // An intermediate alone anchors nothing (no partial chains, as OpenSSL).
    let r = through(
        TEST_EXAMPLE,
        &format!("ssl verify required ca-file {PKI}/inter.crt {CRT}"),
        "/",
        &[],
    )
    .await;
    assert_eq!(r.status, 503, "{}", r.body);
}

#[tokio::test]
async fn verify_none_accepts_any_certificate_and_name() {
    let r = through(
        OPEN_EXAMPLE,
        &format!("ssl verify none {CRT} sni str(test.example)"),
        "/",
        &[],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("x-client-dn"), "/CN=scanner/O=warehouse");
    assert_eq!(r.header("x-sni"), "test.example");
}

/// Replaces the trust store of the (only) server with `@system-ca` as read
/// from `SSL_CERT_FILE=<file>` — through the loader, never by changing this
/// process's environment.
fn with_system_ca(ir: &mut ir::Config, file: &Path) {
    let ca = Loader::with_system_ca_env(Some(file.as_os_str().to_owned()), None)
        .ca(&CaSpec::System)
        .expect("system CA bundle");
    let tls = ir.backends[0].servers[0].tls.as_mut().expect("ssl server");
    tls.verify = ServerVerify::Required {
        ca,
        crl: None,
        verifyhost: None,
    };
}

#[tokio::test]
async fn system_ca_does_not_trust_a_private_ca() {
    let up = origin(TEST_EXAMPLE).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let public = dir.path().join("system.pem");
    std::fs::copy(format!("{PKI}/rogue-ca.crt"), &public).expect("copy");
    let private = dir.path().join("private.pem");
    std::fs::copy(format!("{PKI}/root.crt"), &private).expect("copy");

    for (store, want) in [(&public, 503), (&private, 200)] {
        let port = free_port();
        let mut ir = lower(&config(
            port,
            up,
            "",
            &format!("ssl verify required ca-file {PKI}/root.crt {CRT} sni str(test.example)"),
        ));
        with_system_ca(&mut ir, store);
        let p = try_start(ir).await.expect("proxy starts");
        let r = get(port, "/", &[]).await;
        assert_eq!(
            r.status,
            want,
            "system store {}: {}",
            store.display(),
            r.body
        );
        p.shutdown().await;
    }
}

#[tokio::test]
async fn system_ca_of_the_environment_is_used_by_the_config() {
    // `ca-file @system-ca` as written, loaded from this machine's store (as
    // exported to the test): the private test root is not in it.
    let r = through(
        TEST_EXAMPLE,
        &format!("ssl verify required ca-file @system-ca {CRT} sni str(test.example)"),
        "/",
        &[],
    )
    .await;
    assert_eq!(r.status, 503, "{}", r.body);
}

#[tokio::test]
async fn alpn_h2_speaks_http2_to_the_server() {
    let h2_origin = Origin {
        h2: true,
        ..TEST_EXAMPLE
    };
    let r = through(
        h2_origin,
        &format!("ssl verify required {ROOT} {CRT} sni str(test.example) alpn h2"),
        "/h2",
        &[("host", "api.test")],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("x-version"), "HTTP/2.0");
    // `:authority` comes from the request's Host, as HAProxy builds it.
    assert_eq!(r.header("x-host"), "api.test");
    assert_eq!(r.header("x-client-dn"), "/CN=scanner/O=warehouse");

    // Offering both to an HTTP/1.1-only server falls back to HTTP/1.1.
    let r = through(
        TEST_EXAMPLE,
        &format!("ssl verify required {ROOT} {CRT} sni str(test.example) alpn h2,http/1.1"),
        "/",
        &[],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("x-version"), "HTTP/1.1");
}

#[tokio::test]
async fn sni_from_the_host_header_is_evaluated_per_request() {
    let up = origin(TEST_EXAMPLE).await;
    let port = free_port();
    let p = start(&config(
        port,
        up,
        "",
        &format!("ssl verify required {ROOT} {CRT} sni req.hdr(host)"),
    ))
    .await;
    let r = get(port, "/", &[("host", "test.example")]).await;
    assert_eq!(
        (r.status, r.header("x-sni")),
        (200, "test.example"),
        "{}",
        r.body
    );
    let r = get(port, "/", &[("host", "a.wild.example")]).await;
    assert_eq!(
        (r.status, r.header("x-sni")),
        (200, "a.wild.example"),
        "{}",
        r.body
    );
    // The certificate does not cover this host: no connection.
    let r = get(port, "/", &[("host", "nope.example")]).await;
    assert_eq!(r.status, 503, "{}", r.body);
    // Pools are per SNI: the first host still reaches the origin.
    let r = get(port, "/", &[("host", "test.example")]).await;
    assert_eq!(
        (r.status, r.header("x-sni")),
        (200, "test.example"),
        "{}",
        r.body
    );
    p.shutdown().await;
}

#[tokio::test]
async fn sessions_resume_unless_no_ssl_reuse() {
    for (opt, resumed) in [("", "true"), ("no-ssl-reuse", "false")] {
        let up = origin(TEST_EXAMPLE).await;
        let port = free_port();
        // No idle connection is kept: each request opens a connection.
        let p = start(&config(
            port,
            up,
            "    option http-server-close\n",
            &format!("ssl verify required {ROOT} {CRT} sni str(test.example) {opt}"),
        ))
        .await;
        let first = get(port, "/", &[]).await;
        assert_eq!((first.status, first.header("x-resumed")), (200, "false"));
        let second = get(port, "/", &[]).await;
        assert_eq!(second.status, 200, "{}", second.body);
        assert_eq!(second.header("x-resumed"), resumed, "with '{opt}'");
        assert_eq!(second.header("x-client-dn"), "/CN=scanner/O=warehouse");
        p.shutdown().await;
    }
}

#[tokio::test]
async fn crl_file_needs_a_crl_for_every_level() {
    let r = through(
        TEST_EXAMPLE,
        &format!(
            "ssl verify required {ROOT} crl-file {PKI}/crl-bundle.pem {CRT} sni str(test.example)"
        ),
        "/",
        &[],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    // inter.crl says nothing about certificates the root issued.
    let r = through(
        TEST_EXAMPLE,
        &format!("ssl verify required {ROOT} crl-file {PKI}/inter.crl {CRT} sni str(test.example)"),
        "/",
        &[],
    )
    .await;
    assert_eq!(r.status, 503, "{}", r.body);
}

#[tokio::test]
async fn send_proxy_writes_the_client_addresses_before_the_handshake() {
    let o = Origin {
        proxy_protocol: true,
        ..TEST_EXAMPLE
    };
    let up = origin(o).await;
    let port = free_port();
    let p = start(&config(
        port,
        up,
        "",
        &format!("ssl verify required {ROOT} {CRT} sni str(test.example) send-proxy"),
    ))
    .await;
    let r = get(port, "/", &[]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let line = r.header("x-proxy-line");
    assert!(
        line.starts_with("PROXY TCP4 127.0.0.1 127.0.0.1 ") && line.ends_with(&format!(" {port}")),
        "{line}"
    );
    assert_eq!(r.header("x-client-dn"), "/CN=scanner/O=warehouse");
    p.shutdown().await;
}

#[tokio::test]
async fn send_proxy_v2_writes_a_binary_header() {
    let o = Origin {
        proxy_protocol: true,
        ..TEST_EXAMPLE
    };
    let up = origin(o).await;
    let port = free_port();
    let p = start(&config(
        port,
        up,
        "",
        &format!("ssl verify required {ROOT} {CRT} sni str(test.example) send-proxy-v2"),
    ))
    .await;
    let r = get(port, "/", &[]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let line = r.header("x-proxy-line");
    assert!(
        line.starts_with("PROXYv2 0x21 TCP4 127.0.0.1 127.0.0.1 ")
            && line.ends_with(&format!(" {port}")),
        "{line}"
    );
    assert_eq!(r.header("x-client-dn"), "/CN=scanner/O=warehouse");
    p.shutdown().await;
}

#[tokio::test]
async fn slow_answers_are_504_and_stuck_handshakes_are_503() {
    let r = through(
        TEST_EXAMPLE,
        &format!("ssl verify required {ROOT} {CRT} sni str(test.example)"),
        "/slow",
        &[],
    )
    .await;
    assert_eq!(r.status, 504, "{}", r.body);

    // A server that accepts TCP and never answers the ClientHello: the
    // handshake is part of connecting, bounded by `timeout connect`.
    let silent = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = silent.local_addr().expect("addr");
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = silent.accept().await {
            held.push(s);
        }
    });
    let port = free_port();
    let text = format!(
        "defaults\n    mode http\n    timeout client 5s\n    timeout connect 300ms\n    timeout server 5s\n    retries 1\n\
         frontend fe\n    bind 127.0.0.1:{port}\n    default_backend be\n\
         backend be\n    server up {addr} ssl verify required {ROOT} {CRT}\n"
    );
    let p = start(&text).await;
    let began = Instant::now();
    let r = get(port, "/", &[]).await;
    assert_eq!(r.status, 503, "{}", r.body);
    assert!(
        began.elapsed() < Duration::from_secs(3),
        "{:?}",
        began.elapsed()
    );
    p.shutdown().await;
    hold.abort();
}

#[tokio::test]
async fn an_sni_that_is_not_a_host_name_is_refused_at_start() {
    let up = origin(TEST_EXAMPLE).await;
    let ir = lower(&config(
        free_port(),
        up,
        "",
        &format!("ssl verify required {ROOT} sni str(bad_name!)"),
    ));
    let err = match try_start(ir).await {
        Ok(p) => {
            p.shutdown().await;
            panic!("a proxy started with an impossible SNI")
        }
        Err(e) => e.to_string(),
    };
    assert!(err.contains("'sni' gives 'bad_name!'"), "{err}");
    assert!(err.contains("server 'up'"), "{err}");
}
