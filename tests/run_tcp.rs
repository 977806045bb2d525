//! `mode tcp` end to end: a proxy started in-process on 127.0.0.1 in front of
//! real origins (TLS ones with rcgen certificates, plain ones that echo),
//! reached by real rustls clients and raw sockets. SNI passthrough, content
//! inspection with `tcp-request inspect-delay`, TLS termination with mTLS in
//! tcp mode, half-close, timeouts, the PROXY protocol on both sides, and the
//! tcplog / log-format line.

#![allow(clippy::expect_used, clippy::unwrap_used)] // a test failing loudly is the point

mod common;

use common::runtime::{free_port, lower, start, try_start};
use portcullis::tls::provider;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, ServerConfig};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::{TlsAcceptor, TlsConnector};

/// Everything a step may take before the test fails.
const STEP: Duration = Duration::from_secs(10);

const DEFAULTS: &str = "defaults\n    mode tcp\n    timeout client 5s\n    timeout connect 2s\n    timeout server 5s\n";

/// A CA made with rcgen, and the files the proxy reads.
struct Pki {
    issuer: Issuer<'static, KeyPair>,
    ca_der: CertificateDer<'static>,
    dir: tempfile::TempDir,
}

/// A certificate and its key, as rustls and as a PEM file for `crt`.
struct Leaf {
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    pem: PathBuf,
}

impl Pki {
    fn new() -> Pki {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, "tcp test root");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = params.self_signed(&key).unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ca.crt"), ca.pem()).unwrap();
        Pki {
            issuer: Issuer::new(params, key),
            ca_der: ca.der().clone(),
            dir,
        }
    }

    fn ca_file(&self) -> String {
        self.dir.path().join("ca.crt").display().to_string()
    }

    /// A leaf for `names` (SANs) with common name `cn`.
    fn leaf(&self, cn: &str, names: &[&str]) -> Leaf {
        let key = KeyPair::generate().unwrap();
        let mut params =
            CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .unwrap();
        params.distinguished_name.push(DnType::CommonName, cn);
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        let pem = self.dir.path().join(format!("{cn}.pem"));
        std::fs::write(&pem, format!("{}{}", cert.pem(), key.serialize_pem())).unwrap();
        Leaf {
            chain: vec![cert.der().clone()],
            key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
            pem,
        }
    }

    fn roots(&self) -> RootCertStore {
        let mut roots = RootCertStore::empty();
        roots.add(self.ca_der.clone()).unwrap();
        roots
    }

    /// A rustls client trusting this CA, presenting `cert` if given.
    fn client(&self, cert: Option<&Leaf>) -> TlsConnector {
        let b = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(self.roots());
        let config = match cert {
            Some(l) => b
                .with_client_auth_cert(l.chain.clone(), l.key.clone_key())
                .unwrap(),
            None => b.with_no_client_auth(),
        };
        TlsConnector::from(Arc::new(config))
    }
}

/// A TLS origin with `leaf`: reads one line, answers `<name>:<line>` and
/// closes.
async fn tls_origin(name: &'static str, leaf: &Leaf) -> SocketAddr {
    let config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(leaf.chain.clone(), leaf.key.clone_key())
        .unwrap();
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let line = read_line(&mut tls).await;
                let _ = tls.write_all(format!("{name}:{line}").as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    addr
}

async fn read_line<R: tokio::io::AsyncRead + Unpin>(r: &mut R) -> String {
    let mut out = Vec::new();
    let mut b = [0u8; 1];
    while let Ok(1) = r.read(&mut b).await {
        if b[0] == b'\n' {
            break;
        }
        out.push(b[0]);
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A plain origin: reads until the client half-closes, then answers
/// `<name>:<what it read>` and closes.
async fn echo_origin(name: &'static str) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut got = Vec::new();
                if tcp.read_to_end(&mut got).await.is_err() {
                    return;
                }
                let mut answer = format!("{name}:").into_bytes();
                answer.extend_from_slice(&got);
                let _ = tcp.write_all(&answer).await;
            });
        }
    });
    addr
}

/// An origin that reads `n` bytes, then answers its name and closes.
async fn counting_origin(name: &'static str, n: usize) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut got = vec![0u8; n];
                if tcp.read_exact(&mut got).await.is_ok() {
                    let _ = tcp.write_all(name.as_bytes()).await;
                }
            });
        }
    });
    addr
}

/// Connects through a TLS client with SNI `sni`, sends `ping`, returns the
/// answer (or the handshake error).
async fn tls_ping(connector: &TlsConnector, port: u16, sni: &str) -> Result<String, String> {
    let work = async {
        let tcp = TcpStream::connect(("127.0.0.1", port))
            .await
            .map_err(|e| e.to_string())?;
        let name = ServerName::try_from(sni.to_string()).unwrap();
        let mut tls = connector
            .connect(name, tcp)
            .await
            .map_err(|e| e.to_string())?;
        tls.write_all(b"ping\n").await.map_err(|e| e.to_string())?;
        let mut out = String::new();
        let _ = tls.read_to_string(&mut out).await;
        Ok(out)
    };
    tokio::time::timeout(STEP, work).await.expect("in time")
}

/// Sends `data`, half-closes, reads everything back.
async fn exchange(port: u16, data: &[u8]) -> Vec<u8> {
    let work = async {
        let mut tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        tcp.write_all(data).await.unwrap();
        tcp.shutdown().await.unwrap();
        let mut out = Vec::new();
        let _ = tcp.read_to_end(&mut out).await;
        out
    };
    tokio::time::timeout(STEP, work).await.expect("in time")
}

/// The ClientHello a rustls client sends for `sni`.
fn client_hello(sni: &str) -> Vec<u8> {
    let config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(RootCertStore::empty())
        .with_no_client_auth();
    let name = ServerName::try_from(sni.to_string()).unwrap();
    let mut conn = ClientConnection::new(Arc::new(config), name).unwrap();
    let mut out = Vec::new();
    while conn.wants_write() {
        conn.write_tls(&mut out).unwrap();
    }
    out
}

struct LogSink {
    socket: tokio::net::UdpSocket,
    port: u16,
}

impl LogSink {
    async fn bind() -> LogSink {
        let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let port = socket.local_addr().unwrap().port();
        LogSink { socket, port }
    }

    async fn next_line(&self) -> String {
        let mut buf = vec![0u8; 2048];
        let n = tokio::time::timeout(STEP, self.socket.recv(&mut buf))
            .await
            .expect("a log line arrives")
            .unwrap();
        String::from_utf8_lossy(&buf[..n]).into_owned()
    }
}

#[tokio::test]
async fn sni_passthrough_reaches_the_origin_that_owns_the_name() {
    let pki = Pki::new();
    let a = tls_origin("a", &pki.leaf("a", &["a.example"])).await;
    let b = tls_origin("b", &pki.leaf("b", &["b.example"])).await;
    let other = tls_origin("default", &pki.leaf("c", &["c.example"])).await;
    let port = free_port();
    let p = start(&format!(
        "{DEFAULTS}frontend fe\n    bind 127.0.0.1:{port}\n    tcp-request inspect-delay 5s\n    tcp-request content accept if {{ req_ssl_hello_type 1 }}\n    use_backend be_a if {{ req_ssl_sni -i a.example }}\n    use_backend be_b if {{ req.ssl_sni -i b.example }}\n    default_backend be_default\nbackend be_a\n    server a {a}\nbackend be_b\n    server b {b}\nbackend be_default\n    server d {other}\n"
    ))
    .await;
    let client = pki.client(None);
    // The handshake completes with the origin's own certificate: rustls
    // checks it names the SNI, so a wrong route fails the handshake.
    assert_eq!(
        tls_ping(&client, port, "a.example").await.unwrap(),
        "a:ping"
    );
    assert_eq!(
        tls_ping(&client, port, "b.example").await.unwrap(),
        "b:ping"
    );
    assert_eq!(
        tls_ping(&client, port, "c.example").await.unwrap(),
        "default:ping"
    );
    p.shutdown().await;
}

#[tokio::test]
async fn inspection_waits_for_a_client_hello_sent_in_pieces() {
    let a = counting_origin("A", 1).await;
    let hello = client_hello("b.example");
    let b = counting_origin("B", hello.len()).await;
    let port = free_port();
    let p = start(&format!(
        "{DEFAULTS}frontend fe\n    bind 127.0.0.1:{port}\n    tcp-request inspect-delay 5s\n    tcp-request content accept if {{ req_ssl_hello_type 1 }}\n    use_backend be_b if {{ req_ssl_sni b.example }}\n    default_backend be_a\nbackend be_a\n    server a {a}\nbackend be_b\n    server b {b}\n"
    ))
    .await;
    let work = async {
        let mut tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        // First the record header and a few bytes, then the rest.
        tcp.write_all(&hello[..20]).await.unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        tcp.write_all(&hello[20..]).await.unwrap();
        let mut out = String::new();
        let _ = tcp.read_to_string(&mut out).await;
        out
    };
    // B answers only once it has every byte of the hello.
    assert_eq!(tokio::time::timeout(STEP, work).await.unwrap(), "B");
    p.shutdown().await;
}

#[tokio::test]
async fn a_client_without_tls_is_not_held_by_the_inspect_delay() {
    let ssh = echo_origin("ssh").await;
    let web = echo_origin("web").await;
    let port = free_port();
    let p = start(&format!(
        "{DEFAULTS}frontend fe\n    bind 127.0.0.1:{port}\n    tcp-request inspect-delay 5s\n    tcp-request content reject if {{ req.payload(0,4) -m bin 47455420 }}\n    tcp-request content accept if {{ req_ssl_hello_type 1 }}\n    acl is_ssh payload(0,7) -m bin 5353482d322e30\n    use_backend be_ssh if is_ssh\n    default_backend be_web\nbackend be_ssh\n    server s {ssh}\nbackend be_web\n    server w {web}\n"
    ))
    .await;
    let started = Instant::now();
    assert_eq!(
        exchange(port, b"SSH-2.0-test\r\n").await,
        b"ssh:SSH-2.0-test\r\n"
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "a definitive mismatch must not wait for the 5 s delay"
    );
    // `GET ` is rejected: closed without reaching any origin.
    assert_eq!(exchange(port, b"GET / HTTP/1.0\r\n\r\n").await, b"");
    p.shutdown().await;
}

#[tokio::test]
async fn half_close_and_the_tcplog_line() {
    let echo = echo_origin("echo").await;
    let sink = LogSink::bind().await;
    let port = free_port();
    let p = start(&format!(
        "global\n    log 127.0.0.1:{} local0\n{DEFAULTS}    log global\nfrontend fe\n    bind 127.0.0.1:{port}\n    log-format \"%ci %ft %b/%s %U %B %ts\"\n    default_backend be\nbackend be\n    server s1 {echo}\n",
        sink.port
    ))
    .await;
    // The client's end of stream reaches the origin, which then answers:
    // the other direction stays open after the first one closed.
    assert_eq!(exchange(port, b"hello").await, b"echo:hello");
    let line = sink.next_line().await;
    assert!(line.ends_with("127.0.0.1 fe be/s1 5 10 --"), "{line}");
    p.shutdown().await;
}

#[tokio::test]
async fn tls_termination_with_client_certificates_in_tcp_mode() {
    let pki = Pki::new();
    let server = pki.leaf("proxy", &["proxy.example"]);
    let alice = pki.leaf("alice", &[]);
    let bob = pki.leaf("bob", &[]);
    let for_alice = echo_origin("alice-only").await;
    let others = echo_origin("others").await;
    let sink = LogSink::bind().await;
    let port = free_port();
    let p = start(&format!(
        "global\n    log 127.0.0.1:{} local0\n{DEFAULTS}    log global\nfrontend fe\n    bind 127.0.0.1:{port} ssl crt {} verify required ca-file {}\n    log-format \"%[ssl_c_s_dn(cn)] %[var(sess.via)] %b\"\n    tcp-request session set-var(sess.via) ssl_fc_sni\n    tcp-request content reject unless {{ ssl_c_verify 0 }}\n    use_backend be_alice if {{ ssl_c_s_dn(cn) -m str alice }}\n    default_backend be_other\nbackend be_alice\n    server a {for_alice}\nbackend be_other\n    server o {others}\n",
        sink.port,
        server.pem.display(),
        pki.ca_file()
    ))
    .await;
    let talk = |cert: Option<&Leaf>| {
        let connector = pki.client(cert);
        async move {
            let tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
            let name = ServerName::try_from("proxy.example").unwrap();
            let mut tls = connector
                .connect(name, tcp)
                .await
                .map_err(|e| e.to_string())?;
            tls.write_all(b"hi").await.map_err(|e| e.to_string())?;
            tls.shutdown().await.map_err(|e| e.to_string())?;
            let mut out = String::new();
            tls.read_to_string(&mut out)
                .await
                .map_err(|e| e.to_string())?;
            Ok::<String, String>(out)
        }
    };
    let r = tokio::time::timeout(STEP, talk(Some(&alice)))
        .await
        .unwrap();
    assert_eq!(r.unwrap(), "alice-only:hi");
    let line = sink.next_line().await;
    // The session rule saw the TLS session (SNI proxy.example).
    assert!(line.ends_with(": alice proxy.example be_alice"), "{line}");
    let r = tokio::time::timeout(STEP, talk(Some(&bob))).await.unwrap();
    assert_eq!(r.unwrap(), "others:hi");
    let line = sink.next_line().await;
    assert!(line.ends_with(": bob proxy.example be_other"), "{line}");
    // Without a certificate the handshake is refused: nothing gets through.
    let r = tokio::time::timeout(STEP, talk(None)).await.unwrap();
    assert!(r.is_err(), "{r:?}");
    p.shutdown().await;
}

#[tokio::test]
async fn session_rules_run_before_any_data() {
    let echo = echo_origin("echo").await;
    let (open, closed) = (free_port(), free_port());
    let p = start(&format!(
        "{DEFAULTS}frontend open\n    bind 127.0.0.1:{open}\n    tcp-request session reject if {{ src 10.0.0.0/8 }}\n    default_backend be\nfrontend closed\n    bind 127.0.0.1:{closed}\n    tcp-request session reject if {{ src 127.0.0.0/8 }}\n    default_backend be\nbackend be\n    server s {echo}\n"
    ))
    .await;
    assert_eq!(exchange(open, b"x").await, b"echo:x");
    assert_eq!(exchange(closed, b"x").await, b"");
    p.shutdown().await;
}

#[tokio::test]
async fn no_usable_server_closes_the_connection() {
    let sink = LogSink::bind().await;
    let port = free_port();
    let dead = free_port();
    let p = start(&format!(
        "global\n    log 127.0.0.1:{} local0\n{DEFAULTS}    log global\n    option tcplog\nfrontend fe\n    bind 127.0.0.1:{port}\n    default_backend be\nbackend be\n    retries 1\n    server gone 127.0.0.1:{dead}\n",
        sink.port
    ))
    .await;
    assert_eq!(exchange(port, b"anyone?").await, b"");
    let line = sink.next_line().await;
    // tcplog: `be/gone`, no byte sent back, termination state SC.
    assert!(line.contains(" fe be/gone "), "{line}");
    assert!(line.contains(" 0 SC "), "{line}");
    // One retry, counted in %rc.
    assert!(line.contains("/0/1 0/0"), "{line}");
    p.shutdown().await;
}

#[tokio::test]
async fn idle_sessions_end_at_the_client_or_tunnel_timeout() {
    // An origin that accepts and never says anything.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((tcp, _)) = listener.accept().await {
            held.push(tcp);
        }
    });
    let sink = LogSink::bind().await;
    let port = free_port();
    let tunnel_port = free_port();
    let p = start(&format!(
        "global\n    log 127.0.0.1:{} local0\ndefaults\n    mode tcp\n    log global\n    log-format \"%f %ts\"\n    timeout connect 2s\nfrontend fe\n    bind 127.0.0.1:{port}\n    timeout client 300ms\n    default_backend be\nbackend be\n    timeout server 10s\n    server s {silent}\nfrontend fe_tunnel\n    bind 127.0.0.1:{tunnel_port}\n    timeout client 10s\n    default_backend be_tunnel\nbackend be_tunnel\n    timeout server 10s\n    timeout tunnel 400ms\n    server s {silent}\n",
        sink.port
    ))
    .await;
    for (port, name) in [(port, "fe"), (tunnel_port, "fe_tunnel")] {
        let started = Instant::now();
        let mut tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        tcp.write_all(b"x").await.unwrap();
        let mut buf = Vec::new();
        let r = tokio::time::timeout(STEP, tcp.read_to_end(&mut buf)).await;
        assert!(r.is_ok(), "{name}: the proxy closes the idle session");
        assert!(started.elapsed() < Duration::from_secs(5), "{name}");
        let line = sink.next_line().await;
        assert!(line.ends_with(&format!(": {name} cD")), "{line}");
    }
    p.shutdown().await;
}

#[tokio::test]
async fn proxy_protocol_in_and_out() {
    // The origin reports the PROXY line it received, then what followed.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut got = Vec::new();
                let _ = tcp.read_to_end(&mut got).await;
                let _ = tcp.write_all(&got).await;
            });
        }
    });
    let sink = LogSink::bind().await;
    let port = free_port();
    let expect_port = free_port();
    let http_port = free_port();
    let p = start(&format!(
        "global\n    log 127.0.0.1:{} local0\n{DEFAULTS}    log global\nfrontend fe\n    bind 127.0.0.1:{port} accept-proxy\n    log-format \"%ci:%cp %fi:%fp\"\n    default_backend be\nfrontend fe_expect\n    bind 127.0.0.1:{expect_port}\n    tcp-request connection expect-proxy layer4 if {{ src 127.0.0.1 }}\n    default_backend be\nbackend be\n    server s {origin} send-proxy\nfrontend fe_http\n    mode http\n    bind 127.0.0.1:{http_port} accept-proxy\n    http-request return status 200 content-type text/plain lf-string \"%[src]:%[src_port]\"\n",
        sink.port
    ))
    .await;
    let header = b"PROXY TCP4 192.0.2.7 198.51.100.9 4321 443\r\n";
    for port in [port, expect_port] {
        let mut data = header.to_vec();
        data.extend_from_slice(b"payload");
        let got = exchange(port, &data).await;
        assert_eq!(
            String::from_utf8_lossy(&got),
            "PROXY TCP4 192.0.2.7 198.51.100.9 4321 443\r\npayload"
        );
    }
    let line = sink.next_line().await;
    assert!(
        line.ends_with(": 192.0.2.7:4321 198.51.100.9:443"),
        "{line}"
    );
    // v2 on an HTTP frontend: the request sees the announced client.
    let v2 = {
        let mut h = b"\r\n\r\n\0\r\nQUIT\n\x21\x11\x00\x0c".to_vec();
        h.extend_from_slice(&[203, 0, 113, 5, 127, 0, 0, 1, 0x30, 0x39, 0x01, 0xBB]);
        h.extend_from_slice(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        h
    };
    let got = String::from_utf8_lossy(&exchange(http_port, &v2).await).into_owned();
    assert!(got.starts_with("HTTP/1.1 200"), "{got}");
    assert!(got.ends_with("203.0.113.5:12345"), "{got}");
    // Garbage instead of a header closes the connection.
    assert_eq!(exchange(port, b"hello there, no header\r\n").await, b"");
    p.shutdown().await;
}

#[tokio::test]
async fn tls_to_the_server_from_a_tcp_backend() {
    let pki = Pki::new();
    let a = tls_origin("a", &pki.leaf("a", &["a.example"])).await;
    let port = free_port();
    let p = start(&format!(
        "{DEFAULTS}frontend fe\n    bind 127.0.0.1:{port}\n    default_backend be\nbackend be\n    server a {a} ssl verify required ca-file {} sni str(a.example)\n",
        pki.ca_file()
    ))
    .await;
    assert_eq!(exchange(port, b"clear\n").await, b"a:clear");
    p.shutdown().await;
}

#[tokio::test]
async fn the_shipped_sni_passthrough_example_routes_by_sni() {
    let root = common::crate_root();
    let text = std::fs::read_to_string(root.join("examples/sni-passthrough.cfg")).unwrap();
    let (router, api, default) = (free_port(), free_port(), free_port());
    let text = text
        .replace("127.0.0.1:8553", &format!("127.0.0.1:{router}"))
        .replace("127.0.0.1:8554", &format!("127.0.0.1:{api}"))
        .replace("127.0.0.1:8555", &format!("127.0.0.1:{default}"))
        .replace("    log stderr format raw local0\n", "");
    let p = start(&text).await;
    let mut roots = RootCertStore::empty();
    let ca = std::fs::read(root.join("examples/pki/ca.crt")).unwrap();
    for c in rustls_pki_types_pem(&ca) {
        roots.add(c).unwrap();
    }
    let config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = TlsConnector::from(Arc::new(config));
    for (sni, expected) in [
        ("api.example", "origin api for SNI api.example"),
        ("default.example", "origin default for SNI default.example"),
    ] {
        let work = async {
            let tcp = TcpStream::connect(("127.0.0.1", router)).await.unwrap();
            let name = ServerName::try_from(sni.to_string()).unwrap();
            let mut tls = connector.connect(name, tcp).await.unwrap();
            let req = format!("GET / HTTP/1.1\r\nHost: {sni}\r\nConnection: close\r\n\r\n");
            tls.write_all(req.as_bytes()).await.unwrap();
            let mut out = String::new();
            let _ = tls.read_to_string(&mut out).await;
            out
        };
        let out = tokio::time::timeout(STEP, work).await.unwrap();
        assert!(out.starts_with("HTTP/1.1 200"), "{out}");
        assert!(out.contains(expected), "{out}");
    }
    p.shutdown().await;
}

/// The certificates of a PEM file.
fn rustls_pki_types_pem(pem: &[u8]) -> Vec<CertificateDer<'static>> {
    use rustls::pki_types::pem::PemObject;
    CertificateDer::pem_slice_iter(pem)
        .map(|c| c.unwrap())
        .collect()
}

#[tokio::test]
async fn run_refuses_a_tcp_frontend_switching_to_an_http_backend() {
    let port = free_port();
    let ir = lower(&format!(
        "{DEFAULTS}frontend fe\n    bind 127.0.0.1:{port}\n    default_backend be\nbackend be\n    mode http\n    server s 127.0.0.1:1\n"
    ));
    let Err(e) = try_start(ir).await else {
        panic!("a tcp frontend with an http backend must not start");
    };
    assert!(
        e.to_string()
            .contains("upgrading a TCP stream to HTTP is not supported by portcullis"),
        "{e}"
    );
}
