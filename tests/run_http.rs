//! End-to-end HTTP behaviour of `portcullis run`: a proxy started in-process on
//! 127.0.0.1 in front of real origin servers, driven by a real HTTP client.

#![allow(clippy::expect_used, clippy::unwrap_used)] // a test failing loudly is the point

mod common;

use bytes::Bytes;
use common::runtime::{LogSink, free_port, get, start as proxy};
use http_body_util::Full;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpListener;

/// An origin that answers with its name and the request headers it received,
/// one `name: value` per line; `/slow` answers after 2 s.
async fn origin(name: &'static str) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind origin");
    let addr = listener.local_addr().expect("origin addr");
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let svc = service_fn(move |req: Request<hyper::body::Incoming>| async move {
                    if req.uri().path() == "/slow" {
                        tokio::time::sleep(Duration::from_secs(2)).await;
                    }
                    let mut text = format!("origin={name}\npath={}\n", req.uri());
                    for (k, v) in req.headers() {
                        text.push_str(&format!("{k}: {}\n", v.to_str().unwrap_or("?")));
                    }
                    let res = Response::builder()
                        .header("x-origin", name)
                        .body(Full::new(Bytes::from(text)))
                        .expect("response");
                    Ok::<_, Infallible>(res)
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    addr
}

const DEFAULTS: &str = "defaults\n    mode http\n    timeout client 5s\n    timeout connect 1s\n    timeout server 1s\n";

#[tokio::test]
async fn rules_answer_locally_and_rewrite_forwarded_requests() {
    let a = origin("a").await;
    let port = free_port();
    let p = proxy(&format!(
        "{DEFAULTS}frontend fe\n    bind 127.0.0.1:{port}\n    monitor-uri /health\n    option forwardfor\n    http-request del-header X-Client-DN\n    http-request return status 200 content-type text/plain string hi if {{ path /hello }}\n    http-request deny if {{ path_beg /admin }}\n    http-request redirect scheme https code 301 if {{ path /secure }}\n    http-request set-header X-Client-DN %[ssl_c_s_dn] if {{ ssl_c_used }}\n    http-request set-header X-Route %[path,lower]\n    http-response set-header X-Via portcullis\n    default_backend be\nbackend be\n    server a {a}\n"
    ))
    .await;

    let r = get(port, "/hello", &[]).await;
    assert_eq!((r.status, r.body.as_str()), (200, "hi"));
    assert_eq!(get(port, "/health", &[]).await.status, 200);

    let r = get(port, "/admin/x", &[]).await;
    assert_eq!(r.status, 403);
    assert!(r.body.contains("<h1>403 Forbidden</h1>"), "{}", r.body);

    let r = get(port, "/secure", &[("host", "example.test")]).await;
    assert_eq!(r.status, 301);
    assert_eq!(
        r.headers.get("location").map(|v| v.as_bytes()),
        Some(&b"https://example.test/secure"[..])
    );

    let r = get(port, "/Some/Path?q=1", &[("x-client-dn", "/CN=forged")]).await;
    assert_eq!(r.status, 200);
    assert!(r.body.contains("origin=a"), "{}", r.body);
    assert!(r.body.contains("path=/Some/Path?q=1"), "{}", r.body);
    assert!(r.body.contains("x-route: /some/path"), "{}", r.body);
    assert!(r.body.contains("x-forwarded-for: 127.0.0.1"), "{}", r.body);
    assert!(
        !r.body.contains("forged"),
        "forged identity header reached the origin: {}",
        r.body
    );
    assert_eq!(
        r.headers.get("x-via").map(|v| v.as_bytes()),
        Some(&b"portcullis"[..])
    );
    p.shutdown().await;
}

#[tokio::test]
async fn routing_balancing_and_server_errors_match_haproxy() {
    let a = origin("a").await;
    let b = origin("b").await;
    let dead = free_port();
    let port = free_port();
    let p = proxy(&format!(
        "{DEFAULTS}frontend fe\n    bind 127.0.0.1:{port}\n    use_backend be_dead if {{ path_beg /dead }}\n    use_backend be_%[req.hdr(x-pool)] if {{ req.hdr(x-pool) -m found }}\n    default_backend be_rr\nbackend be_rr\n    balance roundrobin\n    server a {a}\n    server b {b}\nbackend be_b\n    server b {b}\nbackend be_dead\n    retries 1\n    errorfile 503 tests/fixtures/errors/503.http\n    server gone 127.0.0.1:{dead}\n"
    ))
    .await;

    let mut seen = Vec::new();
    for _ in 0..4 {
        let r = get(port, "/", &[]).await;
        assert_eq!(r.status, 200);
        seen.push(
            r.headers
                .get("x-origin")
                .map(|v| v.to_str().unwrap_or("").to_string())
                .unwrap_or_default(),
        );
    }
    assert_eq!(seen.iter().filter(|s| *s == "a").count(), 2, "{seen:?}");
    assert_eq!(seen.iter().filter(|s| *s == "b").count(), 2, "{seen:?}");

    let r = get(port, "/x", &[("x-pool", "b")]).await;
    assert_eq!(
        r.headers.get("x-origin").map(|v| v.as_bytes()),
        Some(&b"b"[..])
    );

    let r = get(port, "/dead", &[]).await;
    assert_eq!(r.status, 503);
    let custom =
        std::fs::read_to_string("tests/fixtures/errors/503.http").expect("errorfile fixture");
    let custom_body = custom
        .split("\r\n\r\n")
        .nth(1)
        .or_else(|| custom.split("\n\n").nth(1))
        .unwrap_or("");
    assert_eq!(
        r.body, custom_body,
        "errorfile 503 replaces the built-in page"
    );

    let r = get(port, "/slow", &[]).await;
    assert_eq!(r.status, 504);
    assert!(r.body.contains("504 Gateway Time-out"), "{}", r.body);
    p.shutdown().await;
}

#[tokio::test]
async fn no_backend_answers_503() {
    let port = free_port();
    let p = proxy(&format!(
        "{DEFAULTS}frontend fe\n    bind 127.0.0.1:{port}\n"
    ))
    .await;
    let r = get(port, "/", &[]).await;
    assert_eq!(r.status, 503);
    assert!(
        r.body
            .contains("No server is available to handle this request.")
    );
    p.shutdown().await;
}

#[tokio::test]
async fn basic_auth_with_a_userlist() {
    let port = free_port();
    let p = proxy(&format!(
        "userlist admins\n    user alice insecure-password s3cret\n{DEFAULTS}frontend fe\n    bind 127.0.0.1:{port}\n    http-request auth realm Admin unless {{ http_auth(admins) }}\n    http-request return status 200 content-type text/plain string welcome\n"
    ))
    .await;
    let r = get(port, "/", &[]).await;
    assert_eq!(r.status, 401);
    assert_eq!(
        r.headers.get("www-authenticate").map(|v| v.as_bytes()),
        Some(&b"Basic realm=\"Admin\""[..])
    );
    // alice:wrong
    let r = get(port, "/", &[("authorization", "Basic YWxpY2U6d3Jvbmc=")]).await;
    assert_eq!(r.status, 401);
    // alice:s3cret
    let r = get(port, "/", &[("authorization", "Basic YWxpY2U6czNjcmV0")]).await;
    assert_eq!((r.status, r.body.as_str()), (200, "welcome"));
    p.shutdown().await;
}

#[tokio::test]
async fn slow_request_headers_are_cut_by_timeout_http_request() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let port = free_port();
    let p = proxy(&format!(
        "defaults\n    mode http\n    timeout client 10s\n    timeout http-request 300ms\nfrontend fe\n    bind 127.0.0.1:{port}\n    http-request return status 200 content-type text/plain string ok\n"
    ))
    .await;
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n")
        .await
        .expect("partial headers");
    let started = std::time::Instant::now();
    let mut buf = Vec::new();
    // The proxy must close the connection long before `timeout client`.
    let read = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut buf)).await;
    assert!(read.is_ok(), "connection still open after 5 s");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "cut after {:?}",
        started.elapsed()
    );
    p.shutdown().await;
}

#[tokio::test]
async fn httplog_lines_go_to_a_syslog_udp_target() {
    let a = origin("a").await;
    let sink = LogSink::bind().await;
    let sink_port = sink.port;
    let port = free_port();
    let p = proxy(&format!(
        "global\n    log 127.0.0.1:{sink_port} local0\n{DEFAULTS}    log global\n    option httplog\nfrontend fe\n    bind 127.0.0.1:{port}\n    default_backend be\nbackend be\n    server s1 {a}\n"
    ))
    .await;
    assert_eq!(get(port, "/logged?x=1", &[]).await.status, 200);
    let line = sink.next_line().await;
    // <local0.info> header, then HAProxy's httplog fields.
    assert!(line.starts_with("<134>"), "{line}");
    assert!(line.contains(" fe be/s1 "), "{line}");
    assert!(line.contains(" 200 "), "{line}");
    assert!(line.ends_with("\"GET /logged?x=1 HTTP/1.1\""), "{line}");
    p.shutdown().await;
}

#[tokio::test]
async fn classic_redirect_rules_run_after_http_request_rules() {
    let port = free_port();
    let p = proxy(&format!(
        "{DEFAULTS}frontend fe\n    bind 127.0.0.1:{port}\n    http-request return status 200 content-type text/plain string early if {{ path /early }}\n    redirect scheme https code 301 if !{{ ssl_fc }} {{ path_beg /app }}\n    redirect prefix http://new.example drop-query if {{ path_beg /old }}\n    redirect location /elsewhere\n"
    ))
    .await;
    assert_eq!(get(port, "/early", &[]).await.body, "early");
    let r = get(port, "/app/x?q=1", &[("host", "a.example")]).await;
    assert_eq!(r.status, 301);
    assert_eq!(
        r.headers.get("location").map(|v| v.as_bytes()),
        Some(&b"https://a.example/app/x?q=1"[..])
    );
    let r = get(port, "/old/page?x=1", &[]).await;
    assert_eq!(r.status, 302);
    assert_eq!(
        r.headers.get("location").map(|v| v.as_bytes()),
        Some(&b"http://new.example/old/page"[..])
    );
    let r = get(port, "/anything", &[]).await;
    assert_eq!(
        r.headers.get("location").map(|v| v.as_bytes()),
        Some(&b"/elsewhere"[..])
    );
    p.shutdown().await;
}

#[tokio::test]
async fn the_log_line_is_written_at_the_end_or_asap() {
    let a = origin("a").await;
    let sink = LogSink::bind().await;
    let sink_port = sink.port;
    let (end, asap) = (free_port(), free_port());
    let p = proxy(&format!(
        "global\n    log 127.0.0.1:{sink_port} format raw local0\n{DEFAULTS}    log global\n    log-format \"%f bytes=%B status=%ST\"\nfrontend end\n    bind 127.0.0.1:{end}\n    default_backend be\nfrontend asap\n    bind 127.0.0.1:{asap}\n    option logasap\n    http-request return status 200 content-type text/plain string 12345\nbackend be\n    server s1 {a}\n"
    ))
    .await;
    let body = get(end, "/counted", &[]).await.body;
    let line = sink.next_line().await;
    assert_eq!(line, format!("end bytes={} status=200", body.len()));
    get(asap, "/", &[]).await;
    let line = sink.next_line().await;
    assert_eq!(line, "asap bytes=+5 status=200");
    p.shutdown().await;
}

#[tokio::test]
async fn request_heads_are_bounded_by_the_tune_limits() {
    let port = free_port();
    let p = proxy(&format!(
        "global\n    tune.bufsize 9216\n    tune.maxrewrite 512\n    tune.http.maxhdr 10\n{DEFAULTS}frontend fe\n    bind 127.0.0.1:{port}\n    http-request return status 200 content-type text/plain string ok\n"
    ))
    .await;
    let fits = "x".repeat(6000);
    assert_eq!(get(port, "/", &[("x-big", &fits)]).await.status, 200);
    // The limit is checked while the head is incomplete, so it is exact to
    // within one read; far past it, the answer is always HAProxy's 400.
    let too_big = "x".repeat(40_000);
    assert_eq!(get(port, "/", &[("x-big", &too_big)]).await.status, 400);
    let many: Vec<(String, &str)> = (0..12).map(|i| (format!("x-h{i}"), "v")).collect();
    let many: Vec<(&str, &str)> = many.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    assert_eq!(get(port, "/", &many).await.status, 400);
    p.shutdown().await;
}

#[tokio::test]
async fn captured_headers_appear_in_the_httplog_line() {
    let a = origin("a").await;
    let sink = LogSink::bind().await;
    let sink_port = sink.port;
    let port = free_port();
    let p = proxy(&format!(
        "global\n    log 127.0.0.1:{sink_port} format raw local0\n{DEFAULTS}    log global\n    option httplog\nfrontend fe\n    bind 127.0.0.1:{port}\n    capture request header Host len 8\n    capture request header X-Absent len 10\n    capture response header X-Origin len 20\n    default_backend be\nbackend be\n    server s1 {a}\n"
    ))
    .await;
    assert_eq!(
        get(port, "/c", &[("host", "captured.example")])
            .await
            .status,
        200
    );
    let line = sink.next_line().await;
    // Host cut to 8 bytes, the absent header empty, the response header from the origin.
    assert!(
        line.contains(" {captured|} {a} \"GET /c HTTP/1.1\""),
        "{line}"
    );
    p.shutdown().await;
}

#[tokio::test]
async fn httpclose_ends_each_connection_and_http_keep_alive_cancels_it() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (closing, keeping) = (free_port(), free_port());
    let p = proxy(&format!(
        "{DEFAULTS}    option httpclose\nfrontend closing\n    bind 127.0.0.1:{closing}\n    http-request return status 200 content-type text/plain string c\nfrontend keeping\n    bind 127.0.0.1:{keeping}\n    option http-keep-alive\n    http-request return status 200 content-type text/plain string k\n"
    ))
    .await;
    for (port, closes) in [(closing, true), (keeping, false)] {
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .expect("connect");
        s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .expect("write");
        let mut buf = vec![0u8; 4096];
        let mut got = Vec::new();
        // Read the whole response; with httpclose the server then closes.
        let outcome = tokio::time::timeout(Duration::from_secs(2), async {
            loop {
                let n = s.read(&mut buf).await.expect("read");
                if n == 0 {
                    return true;
                }
                got.extend_from_slice(&buf[..n]);
            }
        })
        .await;
        let text = String::from_utf8_lossy(&got).to_lowercase();
        assert!(text.starts_with("http/1.1 200"), "{text}");
        assert_eq!(outcome.is_ok(), closes, "port {port}: {text}");
        assert_eq!(text.contains("connection: close"), closes, "{text}");
    }
    p.shutdown().await;
}

/// GET returning the raw body bytes (compressed answers are not text).
async fn get_bytes(port: u16, path: &str, headers: &[(&str, &str)]) -> (http::HeaderMap, Vec<u8>) {
    use http_body_util::BodyExt;
    let client: hyper_util::client::legacy::Client<_, Full<Bytes>> =
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build_http();
    let mut req = Request::get(format!("http://127.0.0.1:{port}{path}"));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let res = tokio::time::timeout(
        Duration::from_secs(10),
        client.request(req.body(Full::new(Bytes::new())).expect("req")),
    )
    .await
    .expect("in time")
    .expect("answer");
    let headers = res.headers().clone();
    (
        headers,
        res.into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes()
            .to_vec(),
    )
}

#[tokio::test]
async fn responses_are_compressed_when_the_client_accepts_it() {
    use std::io::Read;
    let a = origin("a").await;
    let (port, typed) = (free_port(), free_port());
    let p = proxy(&format!(
        "{DEFAULTS}frontend fe\n    bind 127.0.0.1:{port}\n    default_backend be\nfrontend typed\n    bind 127.0.0.1:{typed}\n    default_backend be_html\nbackend be\n    compression algo gzip deflate\n    compression offload\n    server a {a}\nbackend be_html\n    compression algo gzip\n    compression type text/html\n    server a {a}\n"
    ))
    .await;
    let (h, body) = get_bytes(port, "/z", &[("accept-encoding", "br, gzip;q=0.8")]).await;
    assert_eq!(
        h.get("content-encoding").map(|v| v.as_bytes()),
        Some(&b"gzip"[..])
    );
    assert_eq!(
        h.get("vary").map(|v| v.as_bytes()),
        Some(&b"Accept-Encoding"[..])
    );
    let mut text = String::new();
    flate2::read::GzDecoder::new(body.as_slice())
        .read_to_string(&mut text)
        .expect("valid gzip");
    assert!(text.contains("origin=a"), "{text}");
    assert!(
        !text.contains("accept-encoding"),
        "offload keeps Accept-Encoding from the server: {text}"
    );

    let (h, body) = get_bytes(port, "/z", &[("accept-encoding", "deflate")]).await;
    assert_eq!(
        h.get("content-encoding").map(|v| v.as_bytes()),
        Some(&b"deflate"[..])
    );
    let mut text = String::new();
    flate2::read::ZlibDecoder::new(body.as_slice())
        .read_to_string(&mut text)
        .expect("valid zlib");
    assert!(text.contains("origin=a"), "{text}");

    let (h, body) = get_bytes(port, "/z", &[]).await;
    assert!(h.get("content-encoding").is_none());
    assert!(String::from_utf8_lossy(&body).contains("origin=a"));
    // The origin's answer has no text/html type: left alone.
    let (h, _) = get_bytes(typed, "/z", &[("accept-encoding", "gzip")]).await;
    assert!(h.get("content-encoding").is_none());
    p.shutdown().await;
}

#[tokio::test]
async fn unique_id_format_names_each_request_for_the_server_the_rules_and_the_log() {
    let a = origin("a").await;
    let sink = LogSink::bind().await;
    let sink_port = sink.port;
    let (port, local) = (free_port(), free_port());
    // 060's format, as HAProxy 2.6.12 renders it: hex client/frontend
    // address:port, the request counter, the pid.
    let p = proxy(&format!(
        "global\n    log 127.0.0.1:{sink_port} format raw local0\n{DEFAULTS}    log global\n    log-format \"id=%ID\"\n    unique-id-format %{{+X}}o\\ %ci:%cp_%fi:%fp_%rt:%pid\n    unique-id-header X-Request-ID\nfrontend fe\n    bind 127.0.0.1:{port}\n    default_backend be\nfrontend local\n    bind 127.0.0.1:{local}\n    http-request return status 200 content-type text/plain lf-string \"fetch=%[unique-id] alias=%ID\"\nbackend be\n    server s1 {a}\n"
    ))
    .await;
    let body = get(port, "/", &[]).await.body;
    let sent = body
        .lines()
        .find_map(|l| l.strip_prefix("x-request-id: "))
        .expect("the origin received X-Request-ID")
        .to_string();
    let pid = format!("{:04X}", std::process::id());
    assert!(sent.starts_with("7F000001:"), "{sent}");
    assert!(sent.contains(&format!("_7F000001:{:04X}_", port)), "{sent}");
    assert!(sent.ends_with(&format!(":{pid}")), "{sent}");
    assert_eq!(sink.next_line().await, format!("id={sent}"));
    // A second request gets the next counter value.
    let r = get(local, "/", &[]).await.body;
    let (fetch, alias) = r.split_once(' ').expect("two fields");
    let fetch = fetch.strip_prefix("fetch=").expect("fetch");
    assert_eq!(alias, format!("alias={fetch}"));
    assert!(fetch.contains("_0001:"), "{fetch}");
    assert_ne!(fetch, sent);
    p.shutdown().await;
}
