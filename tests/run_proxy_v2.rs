//! PROXY protocol v2 TLVs end to end on 127.0.0.1: `proxy-v2-options` on a
//! server line (the bytes portcullis sends, checked TLV by TLV), the
//! `fc_pp_unique_id` / `fc_pp_authority` / `fc_rcvd_proxy` fetches on an
//! `accept-proxy` bind, and both directions against HAProxy 2.6 itself.

#![allow(clippy::expect_used, clippy::unwrap_used)] // a test failing loudly is the point

mod common;

use common::runtime::{free_port, get, start as proxy};
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const PKI: &str = "tests/fixtures/pki";
const DEFAULTS: &str = "defaults\n    mode http\n    timeout connect 2s\n    timeout client 5s\n    timeout server 5s\n";

/// Accepts one connection, returns the PROXY v2 header it opened with and
/// answers its request with a 200.
async fn capture_one(listener: TcpListener) -> Vec<u8> {
    let (mut s, _) = tokio::time::timeout(Duration::from_secs(10), listener.accept())
        .await
        .expect("a connection in time")
        .unwrap();
    let mut head = vec![0u8; 16];
    s.read_exact(&mut head).await.unwrap();
    let len = u16::from_be_bytes([head[14], head[15]]) as usize;
    let mut rest = vec![0u8; len];
    s.read_exact(&mut rest).await.unwrap();
    head.extend_from_slice(&rest);
    // Read the request head, then answer.
    let mut req = Vec::new();
    let mut buf = [0u8; 1024];
    while !req.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = s.read(&mut buf).await.unwrap();
        if n == 0 {
            break;
        }
        req.extend_from_slice(&buf[..n]);
    }
    s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok")
        .await
        .unwrap();
    head
}

/// The TLVs of a v2 header with TCP/IPv4 addresses, as (type, value).
fn tlvs(header: &[u8]) -> Vec<(u8, Vec<u8>)> {
    assert_eq!(&header[..12], b"\r\n\r\n\0\r\nQUIT\n");
    assert_eq!(&header[12..14], &[0x21, 0x11]);
    let mut out = Vec::new();
    let mut i = 16 + 12;
    while i < header.len() {
        let len = u16::from_be_bytes([header[i + 1], header[i + 2]]) as usize;
        out.push((header[i], header[i + 3..i + 3 + len].to_vec()));
        i += 3 + len;
    }
    out
}

fn curl(args: &[String]) -> String {
    let out = Command::new("curl").args(args).output().expect("curl runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test]
async fn proxy_v2_options_send_the_tlvs_haproxy_sends() {
    let capture = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let cap_port = capture.local_addr().unwrap().port();
    let port = free_port();
    let _p = proxy(&format!(
        "{DEFAULTS}listen tls\n    bind 127.0.0.1:{port} ssl crt {PKI}/server.pem alpn http/1.1 verify optional ca-file {PKI}/inter-root-bundle.crt\n    server cap 127.0.0.1:{cap_port} send-proxy-v2 proxy-v2-options ssl,cert-cn,ssl-cipher,cert-sig,cert-key,authority,crc32c\n"
    ))
    .await;
    let captured = tokio::spawn(capture_one(capture));
    let args: Vec<String> = [
        "-s",
        "--max-time",
        "10",
        "--http1.1",
        "--resolve",
        &format!("test.example:{port}:127.0.0.1"),
        "--cacert",
        &format!("{PKI}/root.crt"),
        "--cert",
        &format!("{PKI}/client.pem"),
        "--tlsv1.3",
        &format!("https://test.example:{port}/"),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let body = tokio::task::spawn_blocking(move || curl(&args))
        .await
        .unwrap();
    assert_eq!(body, "ok");
    let header = captured.await.unwrap();
    // The checksum covers the whole header, as the receiving side checks.
    portcullis::runtime::proxytlv::parse(&header, 28).expect("a valid CRC32C");
    let t = tlvs(&header);
    let kinds: Vec<u8> = t.iter().map(|(k, _)| *k).collect();
    // CRC32C, ALPN, AUTHORITY, SSL: HAProxy's order.
    assert_eq!(kinds, [0x03, 0x01, 0x02, 0x20]);
    assert_eq!(t[1].1, b"http/1.1");
    assert_eq!(t[2].1, b"test.example");
    let ssl = &t[3].1;
    // SSL | CERT_CONN | CERT_SESS, verify result 0.
    assert_eq!(&ssl[..5], &[0x07, 0, 0, 0, 0]);
    let sub = tlvs_of(&ssl[5..]);
    assert_eq!(
        sub,
        vec![
            (0x21, b"TLSv1.3".to_vec()),
            (0x22, b"scanner".to_vec()),
            (0x25, b"EC256".to_vec()),
            (0x24, b"ecdsa-with-SHA256".to_vec()),
            (0x23, b"TLS_AES_256_GCM_SHA384".to_vec()),
        ]
    );
}

fn tlvs_of(mut b: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut out = Vec::new();
    while b.len() >= 3 {
        let len = u16::from_be_bytes([b[1], b[2]]) as usize;
        out.push((b[0], b[3..3 + len].to_vec()));
        b = &b[3 + len..];
    }
    out
}

#[tokio::test]
async fn a_unique_id_crosses_a_proxy_v2_hop_like_corpus_007() {
    // Corpus 007: the sender's unique ID travels in the header over TLS.
    let (sender, receiver) = (free_port(), free_port());
    let _p = proxy(&format!(
        "{DEFAULTS}    unique-id-format %{{+X}}o\\ TEST-%[req.hdr(in)]\nlisten sender\n    bind 127.0.0.1:{sender}\n    server example 127.0.0.1:{receiver} send-proxy-v2 proxy-v2-options unique-id ssl alpn XXX verify none\nlisten receiver\n    bind 127.0.0.1:{receiver} ssl crt {PKI}/server.pem accept-proxy\n    http-request set-var(txn.proxy_unique_id) fc_pp_unique_id\n    http-after-response set-header proxy_unique_id %[var(txn.proxy_unique_id)]\n    http-after-response set-header rcvd %[fc_rcvd_proxy]\n    http-request return status 200\n"
    ))
    .await;
    let r = get(sender, "/", &[("in", "abc")]).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("proxy_unique_id"), "TEST-abc");
    assert_eq!(r.header("rcvd"), "1");
}

/// A running HAProxy, killed when dropped.
struct Haproxy(Child);

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn haproxy(cfg: &str) -> Option<Haproxy> {
    if common::reference_haproxy().is_err() {
        println!("haproxy 2.6 is not installed: interoperability not checked");
        return None;
    }
    let dir = tempfile::tempdir().unwrap().keep();
    let path = dir.join("h.cfg");
    std::fs::write(&path, cfg).unwrap();
    let child = Command::new("haproxy")
        .args(["-db", "-f"])
        .arg(&path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("haproxy starts");
    Some(Haproxy(child))
}

async fn wait_listening(port: u16) {
    for _ in 0..100 {
        if TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("nothing listens on {port}");
}

#[tokio::test]
async fn haproxy_and_portcullis_understand_each_others_tlvs() {
    let (h_front, p_front, h_back) = (free_port(), free_port(), free_port());
    // portcullis reads what HAProxy sends (/read), and sends its own
    // unique ID with a checksum to HAProxy (anything else).
    let _p = proxy(&format!(
        "{DEFAULTS}    unique-id-format PC-%[req.hdr(in)]\nlisten middle\n    bind 127.0.0.1:{p_front} accept-proxy\n    http-request return status 200 content-type text/plain lf-string \"%[fc_rcvd_proxy] %[fc_pp_unique_id]\" if {{ path /read }}\n    server h 127.0.0.1:{h_back} send-proxy-v2 proxy-v2-options unique-id,crc32c\n"
    ))
    .await;
    let Some(_h) = haproxy(&format!(
        "defaults\n    mode http\n    timeout connect 2s\n    timeout client 5s\n    timeout server 5s\n    unique-id-format HX-%[req.hdr(in)]\nlisten front\n    bind 127.0.0.1:{h_front}\n    server p 127.0.0.1:{p_front} send-proxy-v2 proxy-v2-options unique-id,crc32c\nlisten back\n    bind 127.0.0.1:{h_back} accept-proxy\n    http-request return status 200 content-type text/plain lf-string \"haproxy read %[fc_pp_unique_id]\"\n"
    )) else {
        return;
    };
    wait_listening(h_front).await;
    wait_listening(h_back).await;
    let r = get(h_front, "/read", &[("in", "abc")]).await;
    assert_eq!(r.body, "1 HX-abc", "portcullis reads HAProxy's TLV and CRC");
    let r = get(h_front, "/fwd", &[("in", "abc")]).await;
    assert_eq!(
        r.body, "haproxy read PC-abc",
        "HAProxy reads portcullis' TLV and CRC"
    );
}
