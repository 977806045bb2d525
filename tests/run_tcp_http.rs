//! HTTP sample fetches in `tcp-request content` rules of `mode tcp`
//! proxies, with raw sockets: the buffered bytes are read as an HTTP/1
//! request, as HAProxy 2.6 does. What HAProxy 2.6.12 does on the same
//! configuration (measured): a complete request is tracked by its `url` at
//! once; bytes that are not HTTP make the fetch fail at once (nothing
//! tracked, the stream goes on); an incomplete head waits for the inspect
//! delay, then the fetch fails.

#![allow(clippy::expect_used, clippy::unwrap_used)] // a test failing loudly is the point

mod common;

use common::runtime::{free_port, get, start};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// An origin answering `echo:` + what it received.
async fn echo_origin() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            tokio::spawn(async move {
                let mut b = vec![0u8; 4096];
                while let Ok(n) = s.read(&mut b).await {
                    if n == 0 || s.write_all(&[b"echo:", &b[..n]].concat()).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    addr
}

/// Sends `data`, returns the first answer and how long it took.
async fn send(port: u16, data: &[u8]) -> (Vec<u8>, Duration) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    s.write_all(data).await.unwrap();
    let t = Instant::now();
    let mut b = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(10), s.read(&mut b))
        .await
        .unwrap()
        .unwrap_or(0);
    (b[..n].to_vec(), t.elapsed())
}

#[tokio::test]
async fn url_tracks_http_requests_in_mode_tcp_as_haproxy() {
    let origin = echo_origin().await;
    let (port, stats) = (free_port(), free_port());
    // The counters are read through an HTTP frontend tracking the same
    // url in the same table.
    let p = start(&format!(
        "defaults\n    timeout client 5s\n    timeout connect 5s\n    timeout server 5s\nbackend stkt\n    stick-table type string size 1k store gpc0\nfrontend fe\n    mode tcp\n    bind 127.0.0.1:{port}\n    tcp-request inspect-delay 1s\n    tcp-request content reject if {{ path_beg /deny }}\n    tcp-request content track-sc0 url table stkt\n    tcp-request content sc-inc-gpc0(0)\n    default_backend be\nbackend be\n    mode tcp\n    server s {origin}\nfrontend read\n    mode http\n    bind 127.0.0.1:{stats}\n    http-request track-sc1 url table stkt\n    http-request return status 200 content-type text/plain lf-string \"gpc0=%[sc_get_gpc0(1)] method=%[method]\"\n"
    ))
    .await;
    let req = b"GET /foo?x=1 HTTP/1.1\r\nHost: a\r\n\r\n";
    let (answer, took) = send(port, req).await;
    assert_eq!(answer, [b"echo:".as_slice(), req].concat());
    assert!(took < Duration::from_millis(500), "{took:?}");
    // Not HTTP: forwarded at once, nothing tracked.
    let (answer, took) = send(port, b"hello world\r\n\r\n").await;
    assert_eq!(answer, b"echo:hello world\r\n\r\n");
    assert!(took < Duration::from_millis(500), "{took:?}");
    // An incomplete head waits for the inspect delay, then goes on untracked.
    let (answer, took) = send(port, b"GET /bar HTTP/1.1\r\nHost: x").await;
    assert_eq!(answer, b"echo:GET /bar HTTP/1.1\r\nHost: x");
    assert!(took >= Duration::from_millis(800), "{took:?}");
    // path in a condition.
    let (answer, _) = send(port, b"GET /deny HTTP/1.1\r\n\r\n").await;
    assert!(answer.is_empty(), "{answer:?}");
    // Read back through the HTTP frontend (which does not increment).
    assert_eq!(get(stats, "/foo?x=1", &[]).await.body, "gpc0=1 method=GET");
    assert_eq!(get(stats, "/bar", &[]).await.body, "gpc0=0 method=GET");
    p.shutdown().await;
}
