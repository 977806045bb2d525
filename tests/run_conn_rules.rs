//! Rules that act on the client connection itself, end to end on 127.0.0.1:
//! `http-request reject`, `set-dst-port` (with a server without a port, which
//! follows the destination port), `set-src`, the `http_first_req` fetch, and
//! `monitor fail` with `nbsrv`.

#![allow(clippy::expect_used, clippy::unwrap_used)] // a test failing loudly is the point

mod common;

use common::origins::Origin;
use common::runtime::{free_port, get, raw_get, start as proxy};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const DEFAULTS: &str = "defaults\n    mode http\n    timeout connect 2s\n    timeout client 5s\n    timeout server 5s\n";

#[tokio::test]
async fn reject_closes_the_connection_without_an_answer() {
    let port = free_port();
    let _p = proxy(&format!(
        "{DEFAULTS}frontend fe\n    bind 127.0.0.1:{port}\n    http-request reject if {{ path /bad }}\n    http-request return status 200 content-type text/plain string ok\n"
    ))
    .await;
    let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    s.write_all(b"GET /bad HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut out))
        .await
        .expect("the proxy closes the connection")
        .ok();
    assert!(out.is_empty(), "nothing is answered: {out:?}");
    // Only that connection paid.
    let ok = get(port, "/good", &[]).await;
    assert_eq!((ok.status, ok.body.as_str()), (200, "ok"));
}

#[tokio::test]
async fn set_dst_port_chooses_the_port_of_a_server_without_one() {
    let (a, b) = (Origin::start("a").await, Origin::start("b").await);
    let port = free_port();
    let _p = proxy(&format!(
        "{DEFAULTS}listen l\n    bind 127.0.0.1:{port}\n    http-request set-dst-port hdr(x-dst-port) if {{ hdr(x-dst-port) -m found }}\n    http-response set-header x-dst %[dst]:%[dst_port]\n    server s 127.0.0.1:0\n"
    ))
    .await;
    let to_a = get(port, "/", &[("x-dst-port", &a.addr.port().to_string())]).await;
    assert_eq!(to_a.body, "origin=a\n");
    assert_eq!(to_a.header("x-dst"), format!("127.0.0.1:{}", a.addr.port()));
    let to_b = get(port, "/", &[("x-dst-port", &b.addr.port().to_string())]).await;
    assert_eq!(to_b.body, "origin=b\n");
    // The connection itself is changed: its next request, without the
    // header, goes to the same port.
    let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let first = format!(
        "GET / HTTP/1.1\r\nhost: x\r\nx-dst-port: {}\r\n\r\n",
        b.addr.port()
    );
    s.write_all(first.as_bytes()).await.unwrap();
    let mut head = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut head))
        .await
        .unwrap()
        .unwrap();
    assert!(String::from_utf8_lossy(&head[..n]).contains("origin=b"));
    assert_eq!(raw_get(&mut s, "/").await.as_deref(), Some("origin=b\n"));
}

#[tokio::test]
async fn set_src_changes_what_later_rules_and_forwardfor_see() {
    let port = free_port();
    let _p = proxy(&format!(
        "{DEFAULTS}frontend fe\n    bind 127.0.0.1:{port}\n    http-request set-src hdr(x-real-ip)\n    http-request set-src-port int(4242)\n    http-request return status 200 content-type text/plain lf-string \"%[src]:%[src_port] %ci\"\n"
    ))
    .await;
    let r = get(port, "/", &[("x-real-ip", "192.0.2.7")]).await;
    assert_eq!(r.body, "192.0.2.7:4242 192.0.2.7");
    // Not an address: no change.
    let r = get(port, "/", &[("x-real-ip", "nope")]).await;
    assert!(r.body.starts_with("127.0.0.1:4242 "), "{}", r.body);
}

#[tokio::test]
async fn http_first_req_is_true_only_for_the_first_request_of_a_connection() {
    let port = free_port();
    let _p = proxy(&format!(
        "{DEFAULTS}frontend fe\n    bind 127.0.0.1:{port}\n    http-request return status 200 content-type text/plain lf-string \"%[http_first_req]\"\n"
    ))
    .await;
    let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    assert_eq!(raw_get(&mut s, "/").await.as_deref(), Some("1"));
    assert_eq!(raw_get(&mut s, "/").await.as_deref(), Some("0"));
    assert_eq!(raw_get(&mut s, "/").await.as_deref(), Some("0"));
    let mut fresh = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    assert_eq!(raw_get(&mut fresh, "/").await.as_deref(), Some("1"));
}

#[tokio::test]
async fn monitor_fail_answers_503_while_its_condition_holds() {
    let (a, b) = (Origin::start("a").await, Origin::start("b").await);
    let port = free_port();
    let _p = proxy(&format!(
        "{DEFAULTS}backend app\n    option httpchk GET /health\n    server a {} check inter 100 rise 1 fall 1\n    server b {} check inter 100 rise 1 fall 1\nfrontend fe\n    bind 127.0.0.1:{port}\n    monitor-uri /up\n    monitor fail if {{ nbsrv(app) lt 2 }}\n    http-request return status 200 content-type text/plain lf-string \"%[nbsrv(app)]\" if {{ path /count }}\n    default_backend app\n",
        a.addr, b.addr
    ))
    .await;
    assert_eq!(get(port, "/up", &[]).await.status, 200);
    assert_eq!(get(port, "/count", &[]).await.body, "2");
    b.set_health(503);
    let mut status = 0;
    for _ in 0..100 {
        status = get(port, "/up", &[]).await.status;
        if status == 503 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(status, 503, "the probe fails once b is down");
    assert_eq!(get(port, "/count", &[]).await.body, "1");
    b.set_health(200);
    for _ in 0..100 {
        status = get(port, "/up", &[]).await.status;
        if status == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(status, 200, "the probe passes again once b is back");
}
