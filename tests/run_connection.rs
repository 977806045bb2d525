//! Connection-level HTTP/1 behaviour of `portcullis run` measured against
//! HAProxy 2.6.12: `timeout http-request` (408 page, even for a connection that
//! sent nothing), `timeout http-keep-alive` (silent close between requests),
//! HAProxy's 400 page for requests hyper cannot parse, the `<BADREQ>` log
//! lines, and `sess.*` variables living as long as the connection. Raw TCP
//! clients, because the bytes on the wire are the point.

#![allow(clippy::expect_used, clippy::unwrap_used)] // a test failing loudly is the point

mod common;

use common::runtime::{LogSink, free_port, raw_get, start as proxy};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const PAGE_408: &str = "HTTP/1.1 408 Request Time-out\r\nContent-length: 110\r\nCache-Control: no-cache\r\nConnection: close\r\nContent-Type: text/html\r\n\r\n<html><body><h1>408 Request Time-out</h1>\nYour browser didn't send a complete request in time.\n</body></html>\n";
const PAGE_400: &str = "HTTP/1.1 400 Bad request\r\nContent-length: 90\r\nCache-Control: no-cache\r\nConnection: close\r\nContent-Type: text/html\r\n\r\n<html><body><h1>400 Bad request</h1>\nYour browser sent an invalid request.\n</body></html>\n";
const OK: &str = "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 2\r\n";
const REQ: &[u8] = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";

/// A frontend answering `ok` locally, with the given timeouts.
fn config(port: u16, timeouts: &str, extra_global: &str) -> String {
    format!(
        "global\n{extra_global}defaults\n    mode http\n    timeout client 10s\n{timeouts}frontend fe\n    bind 127.0.0.1:{port}\n    http-request return status 200 content-type text/plain string ok\n"
    )
}

/// Reads until EOF (bounded at 8 s); returns the bytes and when EOF came.
async fn read_to_close(s: &mut TcpStream, since: Instant) -> (String, Duration) {
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(8), s.read_to_end(&mut buf))
        .await
        .expect("the proxy closes the connection")
        .expect("read");
    (String::from_utf8_lossy(&buf).into_owned(), since.elapsed())
}

/// Reads exactly one `ok` response.
async fn read_ok(s: &mut TcpStream) {
    read_oks(s, 1).await;
}

/// Reads exactly `count` `ok` responses (pipelined answers may share a read).
async fn read_oks(s: &mut TcpStream, count: usize) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 512];
    while String::from_utf8_lossy(&buf).matches("\r\n\r\nok").count() < count
        || !buf.ends_with(b"ok")
    {
        let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut chunk))
            .await
            .expect("a response in time")
            .expect("read");
        assert!(n > 0, "closed early: {}", String::from_utf8_lossy(&buf));
        buf.extend_from_slice(&chunk[..n]);
    }
    let text = String::from_utf8_lossy(&buf);
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    let _ = OK;
}

fn within(d: Duration, lo_ms: u64, hi_ms: u64) -> bool {
    d >= Duration::from_millis(lo_ms) && d <= Duration::from_millis(hi_ms)
}

/// Asserts that the proxy sends `expected` then closes, between `lo_ms` and
/// `hi_ms` after `since`.
async fn closes_with(s: &mut TcpStream, since: Instant, expected: &str, lo_ms: u64, hi_ms: u64) {
    let (got, after) = read_to_close(s, since).await;
    assert_eq!(got, expected);
    assert!(within(after, lo_ms, hi_ms), "closed after {after:?}");
}

#[tokio::test]
async fn the_first_request_gets_408_after_timeout_http_request_even_if_nothing_came() {
    let sink = LogSink::bind().await;
    let port = free_port();
    let p = proxy(&format!(
        "global\n    log 127.0.0.1:{} format raw local0\ndefaults\n    mode http\n    log global\n    option httplog\n    timeout client 10s\n    timeout http-request 400ms\nfrontend fe\n    bind 127.0.0.1:{port}\n    http-request return status 200 content-type text/plain string ok\n",
        sink.port
    ))
    .await;
    // Nothing at all.
    let t = Instant::now();
    let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    closes_with(&mut s, t, PAGE_408, 350, 3000).await;
    let line = sink.next_line().await;
    assert!(line.contains(" fe fe/<NOSRV> -1/-1/-1/-1/"), "{line}");
    assert!(line.contains(" 408 0 - - cR-- "), "{line}");
    assert!(line.ends_with("\"<BADREQ>\""), "{line}");
    // A head dripping in byte by byte still counts from the accept.
    let t = Instant::now();
    let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    for b in b"GET / HT" {
        s.write_all(&[*b]).await.unwrap();
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    closes_with(&mut s, t, PAGE_408, 350, 3000).await;
    p.shutdown().await;
}

#[tokio::test]
async fn an_idle_keep_alive_connection_closes_silently_after_timeout_http_keep_alive() {
    let port = free_port();
    let p = proxy(&config(
        port,
        "    timeout http-request 3s\n    timeout http-keep-alive 300ms\n",
        "",
    ))
    .await;
    let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    s.write_all(REQ).await.unwrap();
    read_ok(&mut s).await;
    let t = Instant::now();
    // Well before `timeout http-request` (3 s): the keep-alive timeout rules.
    closes_with(&mut s, t, "", 250, 2500).await;
    p.shutdown().await;
}

#[tokio::test]
async fn without_http_keep_alive_the_idle_wait_is_timeout_http_request() {
    let port = free_port();
    let p = proxy(&config(port, "    timeout http-request 300ms\n", "")).await;
    let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    s.write_all(REQ).await.unwrap();
    read_ok(&mut s).await;
    let t = Instant::now();
    closes_with(&mut s, t, "", 250, 5000).await;
    p.shutdown().await;
}

#[tokio::test]
async fn the_next_request_has_timeout_http_request_from_its_first_byte() {
    let port = free_port();
    let p = proxy(&config(
        port,
        "    timeout http-request 600ms\n    timeout http-keep-alive 5s\n",
        "",
    ))
    .await;
    let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    s.write_all(REQ).await.unwrap();
    read_ok(&mut s).await;
    // Idle longer than http-request: the keep-alive timeout applies.
    tokio::time::sleep(Duration::from_millis(900)).await;
    s.write_all(b"GET / HT").await.unwrap();
    let t = Instant::now();
    closes_with(&mut s, t, PAGE_408, 500, 4000).await;
    p.shutdown().await;
}

#[tokio::test]
async fn keep_alive_and_pipelining_still_work_behind_the_guard() {
    let port = free_port();
    let p = proxy(&config(
        port,
        "    timeout http-request 2s\n    timeout http-keep-alive 2s\n",
        "",
    ))
    .await;
    let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    for _ in 0..3 {
        s.write_all(REQ).await.unwrap();
        read_ok(&mut s).await;
    }
    // Two requests in one segment, then a third after a pause shorter than
    // the keep-alive timeout.
    s.write_all(&[REQ, REQ].concat()).await.unwrap();
    read_oks(&mut s, 2).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    s.write_all(REQ).await.unwrap();
    read_ok(&mut s).await;
    // A HEAD (hyper drops its body unpolled) must also end the turn.
    s.write_all(b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0u8; 512];
    let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200 OK\r\n"));
    s.write_all(REQ).await.unwrap();
    read_ok(&mut s).await;
    p.shutdown().await;
}

#[tokio::test]
async fn requests_hyper_cannot_parse_get_haproxys_400_page() {
    let sink = LogSink::bind().await;
    let port = free_port();
    let p = proxy(&format!(
        "global\n    log 127.0.0.1:{} format raw local0\ndefaults\n    mode http\n    log global\n    option httplog\n    timeout client 10s\n    timeout http-request 2s\nfrontend fe\n    bind 127.0.0.1:{port}\n    http-request return status 200 content-type text/plain string ok\n",
        sink.port
    ))
    .await;
    let big = format!(
        "GET / HTTP/1.1\r\nHost: x\r\nX: {}\r\n\r\n",
        "a".repeat(70_000)
    );
    for bad in [
        &b"GARBAGE\r\n\r\n"[..],
        b"GET / HTTP/1.1\r\nHost: x\r\nbad header\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        big.as_bytes(),
    ] {
        let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        let _ = s.write_all(bad).await;
        let (got, _) = read_to_close(&mut s, Instant::now()).await;
        assert_eq!(
            got,
            PAGE_400,
            "for {:?}",
            String::from_utf8_lossy(&bad[..20])
        );
        let line = sink.next_line().await;
        assert!(line.contains(" 400 0 - - PR-- "), "{line}");
        assert!(line.ends_with("\"<BADREQ>\""), "{line}");
    }
    // A bad request after a good one on the same connection.
    let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    s.write_all(REQ).await.unwrap();
    read_ok(&mut s).await;
    let _ = sink.next_line().await;
    s.write_all(b"GARBAGE\r\n\r\n").await.unwrap();
    let (got, _) = read_to_close(&mut s, Instant::now()).await;
    assert_eq!(got, PAGE_400);
    p.shutdown().await;
}

#[tokio::test]
async fn errorfile_400_and_408_replace_the_built_in_pages() {
    let dir = tempfile::tempdir().unwrap();
    let e400 = dir.path().join("400.http");
    let e408 = dir.path().join("408.http");
    std::fs::write(
        &e400,
        "HTTP/1.0 400 Nope\r\nContent-Type: text/plain\r\n\r\nbad one\n",
    )
    .unwrap();
    std::fs::write(
        &e408,
        "HTTP/1.0 408 Slow\r\nContent-Type: text/plain\r\n\r\ntoo slow\n",
    )
    .unwrap();
    let port = free_port();
    let p = proxy(&format!(
        "defaults\n    mode http\n    timeout client 10s\n    timeout http-request 300ms\n    errorfile 400 {}\n    errorfile 408 {}\nfrontend fe\n    bind 127.0.0.1:{port}\n    http-request return status 200 content-type text/plain string ok\n",
        e400.display(),
        e408.display()
    ))
    .await;
    let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    s.write_all(b"GARBAGE\r\n\r\n").await.unwrap();
    let (got, _) = read_to_close(&mut s, Instant::now()).await;
    assert_eq!(
        got,
        "HTTP/1.0 400 Nope\r\nContent-Type: text/plain\r\n\r\nbad one\n"
    );
    let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let (got, _) = read_to_close(&mut s, Instant::now()).await;
    assert_eq!(
        got,
        "HTTP/1.0 408 Slow\r\nContent-Type: text/plain\r\n\r\ntoo slow\n"
    );
    p.shutdown().await;
}

#[tokio::test]
async fn dontlognull_skips_the_408_of_a_connection_that_sent_nothing() {
    let sink = LogSink::bind().await;
    let port = free_port();
    let p = proxy(&format!(
        "global\n    log 127.0.0.1:{} format raw local0\ndefaults\n    mode http\n    log global\n    option httplog\n    option dontlognull\n    timeout client 10s\n    timeout http-request 300ms\nfrontend fe\n    bind 127.0.0.1:{port}\n    http-request return status 200 content-type text/plain string ok\n",
        sink.port
    ))
    .await;
    let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let (got, _) = read_to_close(&mut s, Instant::now()).await;
    assert_eq!(got, PAGE_408);
    // The next connection sends a partial head: that one is logged, and it
    // is the first line the sink sees.
    let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    s.write_all(b"GET /x HT").await.unwrap();
    let (got, _) = read_to_close(&mut s, Instant::now()).await;
    assert_eq!(got, PAGE_408);
    let line = sink.next_line().await;
    assert!(line.contains(" 408 0 - - cR-- "), "{line}");
    p.shutdown().await;
}

#[tokio::test]
async fn h2_with_prior_knowledge_passes_the_guard() {
    use http_body_util::{BodyExt, Empty};
    let port = free_port();
    let p = proxy(&config(
        port,
        "    timeout http-request 300ms\n    timeout http-keep-alive 300ms\n",
        "",
    ))
    .await;
    let tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let (mut send, conn) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(tcp),
    )
    .await
    .expect("h2 handshake");
    tokio::spawn(conn);
    // Longer than both HTTP/1 timeouts: h2 is not cut by them.
    tokio::time::sleep(Duration::from_millis(600)).await;
    for _ in 0..2 {
        let req = hyper::Request::get(format!("http://127.0.0.1:{port}/"))
            .body(Empty::<bytes::Bytes>::new())
            .unwrap();
        let res = tokio::time::timeout(Duration::from_secs(5), send.send_request(req))
            .await
            .expect("in time")
            .expect("h2 response");
        assert_eq!(res.status(), 200);
        let body = res.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(&body[..], b"ok");
    }
    p.shutdown().await;
}

/// Sends one request on `s` and returns its body.
async fn body_of(s: &mut TcpStream, path: &str) -> String {
    raw_get(s, path).await.expect("an answer")
}

#[tokio::test]
async fn sess_variables_live_as_long_as_the_connection() {
    let port = free_port();
    let p = proxy(&format!(
        "defaults\n    mode http\n    timeout client 10s\nfrontend fe\n    bind 127.0.0.1:{port}\n    tcp-request content set-var(sess.conn) str(tcp)\n    http-request set-var(sess.seen) path if {{ path /first }}\n    http-request set-var(txn.t) str(t) if {{ path /first }}\n    http-request return status 200 content-type text/plain lf-string \"seen=%[var(sess.seen)] conn=%[var(sess.conn)] txn=%[var(txn.t)]\"\n"
    ))
    .await;
    let mut a = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    assert_eq!(
        body_of(&mut a, "/first").await,
        "seen=/first conn=tcp txn=t"
    );
    // Same connection: sess.* survives, txn.* does not.
    assert_eq!(
        body_of(&mut a, "/second").await,
        "seen=/first conn=tcp txn="
    );
    // Another connection starts with its own session.
    let mut b = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    assert_eq!(body_of(&mut b, "/second").await, "seen= conn=tcp txn=");
    p.shutdown().await;
}

/// An origin on 127.0.0.1 that answers `late` after `delay`.
async fn slow_origin(delay: Duration) -> std::net::SocketAddr {
    use http_body_util::Full;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |_req| async move {
                    tokio::time::sleep(delay).await;
                    Ok::<_, std::convert::Infallible>(hyper::Response::new(Full::new(
                        bytes::Bytes::from_static(b"late"),
                    )))
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

#[tokio::test]
async fn timeout_client_does_not_cut_a_request_waiting_for_a_slow_server() {
    // HAProxy 2.6.12 answers this (client 1s, server 3s late, timeout server
    // 10s); a read timeout on the client socket would cut it.
    let origin = slow_origin(Duration::from_millis(1200)).await;
    let port = free_port();
    let p = proxy(&format!(
        "defaults\n    mode http\n    timeout connect 1s\n    timeout client 400ms\n    timeout server 5s\nfrontend fe\n    bind 127.0.0.1:{port}\n    default_backend be\nbackend be\n    server s1 {origin}\n"
    ))
    .await;
    let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    assert_eq!(body_of(&mut s, "/").await, "late");
    // Then the idle connection is closed by the keep-alive wait (client).
    let (got, _) = read_to_close(&mut s, Instant::now()).await;
    assert_eq!(got, "");
    p.shutdown().await;
}

#[tokio::test]
async fn an_idle_h2_connection_is_closed_after_timeout_client() {
    let port = free_port();
    let p = proxy(&format!(
        "defaults\n    mode http\n    timeout client 400ms\nfrontend fe\n    bind 127.0.0.1:{port}\n    http-request return status 200 content-type text/plain string ok\n"
    ))
    .await;
    let tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let (mut send, conn) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(tcp),
    )
    .await
    .expect("h2 handshake");
    let conn = tokio::spawn(conn);
    let req = hyper::Request::get(format!("http://127.0.0.1:{port}/"))
        .body(http_body_util::Empty::<bytes::Bytes>::new())
        .unwrap();
    assert_eq!(send.send_request(req).await.unwrap().status(), 200);
    // No request in flight: the proxy closes the connection after 400 ms.
    let t = Instant::now();
    let ended = tokio::time::timeout(Duration::from_secs(5), conn).await;
    assert!(
        ended.is_ok(),
        "the idle h2 connection is still open after 5 s"
    );
    assert!(within(t.elapsed(), 300, 4000), "{:?}", t.elapsed());
    p.shutdown().await;
}
