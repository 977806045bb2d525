//! `http-after-response`, `set-status`, `capture.req.hdr` / `capture.res.hdr`
//! and the `replace-path|pathq|uri` actions, end to end: a proxy started
//! in-process on 127.0.0.1 in front of a real origin, driven by a real client.

#![allow(clippy::expect_used, clippy::unwrap_used)] // a test failing loudly is the point

mod common;

use bytes::Bytes;
use common::runtime::{free_port, get, start as proxy};
use http_body_util::Full;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// An origin that answers 200 with the request target it received.
async fn origin() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind origin");
    let addr = listener.local_addr().expect("origin addr");
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let svc = service_fn(move |req: Request<hyper::body::Incoming>| async move {
                    let mut text = format!("target={}\n", req.uri());
                    if let Some(c) = req.headers().get("connection") {
                        text.push_str(&format!("connection: {}\n", c.to_str().unwrap_or("?")));
                    }
                    let res = Response::builder()
                        .header("x-origin", "o1")
                        .header("x-secret", "leak")
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

/// The status line of a raw HTTP/1.1 GET (reason phrase included).
async fn status_line(port: u16, path: &str) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    let req = format!("GET {path} HTTP/1.1\r\nhost: t\r\nconnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.expect("write");
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut out))
        .await
        .expect("answer in time")
        .expect("read");
    let text = String::from_utf8_lossy(&out).into_owned();
    text.lines().next().unwrap_or("").to_string()
}

const DEFAULTS: &str = "defaults\n    mode http\n    timeout client 5s\n    timeout connect 1s\n    timeout server 2s\n";

#[tokio::test]
async fn after_response_rules_apply_to_every_response_backend_first() {
    let o = origin().await;
    let dead = free_port();
    let port = free_port();
    let p = proxy(&format!(
        "{DEFAULTS}frontend fe
    bind 127.0.0.1:{port}
    http-request set-var(txn.p) path
    http-request return status 200 content-type text/plain string ret if {{ path /ret }}
    http-request deny if {{ path /deny }}
    http-request redirect location /elsewhere if {{ path /redir }}
    use_backend dead if {{ path /dead }}
    default_backend be
    http-after-response set-header x-order \"%[res.hdr(x-order)],fe\"
    http-after-response set-header x-fe yes
    http-after-response set-status 299 reason \"All Fine\" if {{ var(txn.p) -m str /status }} {{ status eq 200 }}
backend be
    http-response deny if {{ var(txn.p) -m str /resdeny }}
    http-after-response allow if {{ var(txn.p) -m str /allow }}
    http-after-response set-header x-order be
    http-after-response del-header x-secret
    server o {o}
backend dead
    retries 0
    server gone 127.0.0.1:{dead}
"
    ))
    .await;

    // The server's answer: the backend's rules run, then the frontend's.
    let r = get(port, "/", &[]).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-order"), "be,fe");
    assert_eq!(r.header("x-fe"), "yes");
    assert_eq!(r.header("x-secret"), "", "del-header did not run");
    assert_eq!(r.header("x-origin"), "o1");

    // The proxy's own answers: return, deny, redirect (no backend chosen).
    for (path, status) in [("/ret", 200), ("/deny", 403), ("/redir", 302)] {
        let r = get(port, path, &[]).await;
        assert_eq!(r.status, status, "{path}");
        assert_eq!(r.header("x-fe"), "yes", "{path}");
        assert_eq!(r.header("x-order"), ",fe", "{path}: backend rules ran");
    }
    // The 503 of a dead server, and an http-response deny (502).
    for (path, status) in [("/dead", 503), ("/resdeny", 502)] {
        let r = get(port, path, &[]).await;
        assert_eq!(r.status, status, "{path}");
        assert_eq!(r.header("x-fe"), "yes", "{path}");
    }
    assert_eq!(get(port, "/resdeny", &[]).await.header("x-order"), "be,fe");

    // allow ends the backend's rules only; the frontend's still run.
    let r = get(port, "/allow", &[]).await;
    assert_eq!(r.header("x-order"), ",fe");
    assert_eq!(r.header("x-secret"), "leak");
    assert_eq!(r.header("x-fe"), "yes");

    // set-status with its reason phrase, only when the condition holds.
    assert_eq!(status_line(port, "/status").await, "HTTP/1.1 299 All Fine");
    assert_eq!(status_line(port, "/").await, "HTTP/1.1 200 OK");
    p.shutdown().await;
}

#[tokio::test]
async fn captured_headers_are_readable_in_rules() {
    let o = origin().await;
    let port = free_port();
    let p = proxy(&format!(
        "{DEFAULTS}frontend fe
    bind 127.0.0.1:{port}
    capture request header x-unused len 10
    capture request header x-key len 5
    capture response header x-origin len 1
    http-request return status 200 hdr x-cap \"%[capture.req.hdr(1)]\" if {{ path /ret }}
    http-after-response set-header x-rcap \"%[capture.res.hdr(0)]\" if {{ capture.res.hdr(0) -m found }}
    http-after-response set-header x-qcap \"%[capture.req.hdr(1)]\"
    default_backend be
backend be
    server o {o}
"
    ))
    .await;
    let r = get(port, "/ret", &[("x-key", "abcdefgh")]).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-cap"), "abcde");
    assert_eq!(r.header("x-rcap"), "", "no server answered");
    let r = get(port, "/", &[("x-key", "xy")]).await;
    assert_eq!(r.header("x-rcap"), "o");
    assert_eq!(r.header("x-qcap"), "xy");
    p.shutdown().await;
}

#[tokio::test]
async fn replace_path_pathq_and_uri_rewrite_the_target() {
    let o = origin().await;
    let port = free_port();
    let p = proxy(&format!(
        "{DEFAULTS}frontend fe
    bind 127.0.0.1:{port}
    http-request replace-path /api(/)?(.*) /\\2 if {{ path_beg /api }}
    http-request replace-pathq /q/([^?]*)\\?(.*) /\\2/\\1 if {{ path_beg /q/ }}
    http-request replace-uri ^/u/(.*) /v/\\1 if {{ path_beg /u/ }}
    default_backend be
backend be
    server o {o}
"
    ))
    .await;
    let r = get(port, "/api/items?x=1", &[]).await;
    assert_eq!(r.body.trim(), "target=/items?x=1");
    let r = get(port, "/q/abc?def", &[]).await;
    assert_eq!(r.body.trim(), "target=/def/abc");
    let r = get(port, "/u/w?z", &[]).await;
    assert_eq!(r.body.trim(), "target=/v/w?z");
    // No match: unchanged.
    let r = get(port, "/other", &[]).await;
    assert_eq!(r.body.trim(), "target=/other");
    p.shutdown().await;
}

#[tokio::test]
async fn disabled_proxies_are_not_started_and_disabled_backends_answer_503() {
    let o = origin().await;
    let port = free_port();
    let off_port = free_port();
    let p = proxy(&format!(
        "defaults d\n    mode http\n    timeout client 5s\n    timeout connect 1s\n    timeout server 2s\n    disabled
frontend off from d
    bind 127.0.0.1:{off_port}
    default_backend be
frontend fe from d
    enabled
    bind 127.0.0.1:{port}
    use_backend stopped if {{ path /stopped }}
    default_backend be
backend be from d
    enabled
    server o {o}
backend stopped from d
    http-request return status 200
    server o {o}
"
    ))
    .await;
    let r = get(port, "/", &[]).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-origin"), "o1");
    // The stopped backend's own rules do not run either.
    assert_eq!(get(port, "/stopped", &[]).await.status, 503);
    // The disabled frontend was never bound.
    assert!(
        TcpStream::connect(("127.0.0.1", off_port)).await.is_err(),
        "a disabled frontend listens"
    );
    p.shutdown().await;
}

/// An origin that counts the TCP connections it accepted.
async fn counting_origin() -> (SocketAddr, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind origin");
    let addr = listener.local_addr().expect("origin addr");
    let count = std::sync::Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            seen.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let svc = service_fn(|_req: Request<hyper::body::Incoming>| async {
                    Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"ok"))))
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    (addr, count)
}

/// Server connections opened for three sequential requests through a
/// backend with `settings` (on the backend) and `server_opts`.
async fn connections_for(settings: &str, server_opts: &str, pause: Duration) -> usize {
    let (o, count) = counting_origin().await;
    let port = free_port();
    let p = proxy(&format!(
        "{DEFAULTS}frontend fe\n    bind 127.0.0.1:{port}\n    default_backend be\nbackend be\n{settings}    server o {o} {server_opts}\n"
    ))
    .await;
    for _ in 0..3 {
        assert_eq!(get(port, "/", &[]).await.status, 200);
        tokio::time::sleep(pause).await;
    }
    p.shutdown().await;
    count.load(std::sync::atomic::Ordering::SeqCst)
}

#[tokio::test]
async fn http_reuse_and_pool_settings_decide_server_connection_reuse() {
    let short = Duration::from_millis(50);
    assert_eq!(connections_for("", "", short).await, 1, "default reuses");
    assert_eq!(
        connections_for("    http-reuse always\n", "", short).await,
        1
    );
    assert_eq!(
        connections_for("    http-reuse never\n", "", short).await,
        3
    );
    assert_eq!(connections_for("", "pool-max-conn 0", short).await, 3);
    assert_eq!(
        connections_for("", "pool-max-conn 1 pool-low-conn 2", short).await,
        1
    );
    // Idle connections older than the purge delay are closed.
    let (fresh, stale) = (
        connections_for("", "pool-purge-delay 2s", Duration::from_millis(300)).await,
        connections_for("", "pool-purge-delay 100ms", Duration::from_millis(600)).await,
    );
    assert_eq!((fresh, stale), (1, 3));
}

/// The listen queue length the kernel reports for a listening port (`ss`
/// shows it as Send-Q); `None` when `ss` is not installed.
fn listen_queue(port: u16) -> Option<u32> {
    let out = std::process::Command::new("ss")
        .args(["-Hltn", &format!("sport = :{port}")])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let line = text.lines().next()?;
    line.split_whitespace().nth(2)?.parse().ok()
}

#[tokio::test]
async fn backlog_sets_the_listen_queue_of_binds() {
    let (a, b, c) = (free_port(), free_port(), free_port());
    let p = proxy(&format!(
        "{DEFAULTS}frontend fe\n    backlog 37\n    bind 127.0.0.1:{a}\n    bind 127.0.0.1:{b} backlog 11\n    http-request return status 200\nfrontend plain\n    bind 127.0.0.1:{c}\n    http-request return status 200\n"
    ))
    .await;
    if listen_queue(c).is_none() {
        eprintln!("skipped: `ss` is not available to read listen queues");
        p.shutdown().await;
        return;
    }
    assert_eq!(listen_queue(a), Some(37));
    assert_eq!(listen_queue(b), Some(11));
    assert_eq!(listen_queue(c), Some(1024.min(somaxconn())));
    p.shutdown().await;
}

fn somaxconn() -> u32 {
    std::fs::read_to_string("/proc/sys/net/core/somaxconn")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(4096)
}

/// A raw origin that reads one request head, then reports whether the proxy
/// closed the connection (true) or kept waiting for the answer (false)
/// within 3 s.
async fn abort_watching_origin() -> (SocketAddr, tokio::sync::oneshot::Receiver<bool>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind origin");
    let addr = listener.local_addr().expect("origin addr");
    let (tx, rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let Ok((mut s, _)) = listener.accept().await else {
            return;
        };
        let mut head = Vec::new();
        let mut buf = [0u8; 1024];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => head.extend_from_slice(&buf[..n]),
            }
        }
        let closed = matches!(
            tokio::time::timeout(Duration::from_secs(3), s.read(&mut buf)).await,
            Ok(Ok(0)) | Ok(Err(_))
        );
        let _ = tx.send(closed);
    });
    (addr, rx)
}

#[tokio::test]
async fn abortonclose_a_client_that_closes_aborts_the_server_exchange() {
    for half_close in [false, true] {
        let (o, closed) = abort_watching_origin().await;
        let port = free_port();
        let p = proxy(&format!(
            "{DEFAULTS}    timeout server 10s\nfrontend fe\n    bind 127.0.0.1:{port}\n    default_backend be\nbackend be\n    option abortonclose\n    server o {o}\n"
        ))
        .await;
        let mut c = TcpStream::connect(("127.0.0.1", port))
            .await
            .expect("connect");
        c.write_all(b"GET / HTTP/1.1\r\nhost: t\r\n\r\n")
            .await
            .expect("write");
        tokio::time::sleep(Duration::from_millis(300)).await;
        if half_close {
            c.shutdown().await.expect("shutdown");
        } else {
            drop(c);
        }
        let aborted = tokio::time::timeout(Duration::from_secs(5), closed)
            .await
            .expect("origin reports")
            .expect("origin result");
        assert!(
            aborted,
            "server exchange kept after the client closed (half_close={half_close})"
        );
        p.shutdown().await;
    }
}

#[tokio::test]
async fn pretend_keepalive_servers_never_see_connection_close() {
    let (o, count) = counting_origin().await;
    let echo = origin().await;
    let port = free_port();
    let p = proxy(&format!(
        "{DEFAULTS}frontend fe\n    bind 127.0.0.1:{port}\n    use_backend echo if {{ path /echo }}\n    default_backend be\nbackend be\n    option http-server-close\n    option http-pretend-keepalive\n    server o {o}\nbackend echo\n    option http-server-close\n    option http-pretend-keepalive\n    server e {echo}\n"
    ))
    .await;
    for _ in 0..2 {
        assert_eq!(get(port, "/", &[]).await.status, 200);
    }
    // Still closed after each response.
    assert_eq!(count.load(std::sync::atomic::Ordering::SeqCst), 2);
    let r = get(port, "/echo", &[]).await;
    assert!(
        !r.body.to_ascii_lowercase().contains("connection"),
        "server was told about the connection: {}",
        r.body
    );
    p.shutdown().await;
}

#[tokio::test]
async fn uuid_gives_a_fresh_version_4_uuid_each_time() {
    let port = free_port();
    let p = proxy(&format!(
        "{DEFAULTS}frontend fe\n    bind 127.0.0.1:{port}\n    http-request return status 200 hdr x-id \"%[uuid]\" hdr x-id4 \"%[uuid(4)]\"\n"
    ))
    .await;
    let a = get(port, "/", &[]).await;
    let b = get(port, "/", &[]).await;
    for id in [a.header("x-id"), a.header("x-id4"), b.header("x-id")] {
        let groups: Vec<usize> = id.split('-').map(str::len).collect();
        assert_eq!(groups, [8, 4, 4, 4, 12], "{id}");
        assert!(
            id.chars()
                .all(|c| c == '-' || c.is_ascii_digit() || ('a'..='f').contains(&c))
        );
        assert_eq!(&id[14..15], "4", "version nibble: {id}");
        assert!("89ab".contains(&id[19..20]), "variant: {id}");
    }
    assert_ne!(a.header("x-id"), b.header("x-id"));
    assert_ne!(a.header("x-id"), a.header("x-id4"));
    p.shutdown().await;
}
