//! Health checks under `portcullis run`: real origins on 127.0.0.1 that stop
//! listening or answer 500 to their check, a proxy that takes them out of
//! and back into the balancing, and HAProxy's log lines about it.

#![allow(clippy::expect_used, clippy::unwrap_used)] // a test failing loudly is the point

mod common;

use common::origins::Origin;
use common::runtime::{free_port, get, start as proxy};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const DEFAULTS: &str = "defaults\n    mode http\n    timeout client 5s\n    timeout connect 1s\n    timeout server 5s\n";

/// Polls the proxy until `n` answers in a row come from `want` (or are
/// `want` statuses when it starts with a digit); fails after 10 s.
async fn until_only(port: u16, want: &str, n: usize) {
    let mut streak = 0;
    let mut last = Vec::new();
    for _ in 0..400 {
        let r = get(port, "/", &[]).await;
        let got = if r.status == 200 {
            r.header("x-origin").to_string()
        } else {
            r.status.to_string()
        };
        if got == want {
            streak += 1;
            if streak == n {
                return;
            }
        } else {
            streak = 0;
            last.push(got);
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
    panic!("never got {n} answers in a row from {want}; saw {last:?}");
}

/// A syslog receiver: collects lines until one contains `needle` (10 s).
struct LogSink {
    socket: tokio::net::UdpSocket,
    port: u16,
}

impl LogSink {
    async fn bind() -> LogSink {
        let socket = tokio::net::UdpSocket::bind("127.0.0.1:0")
            .await
            .expect("udp sink");
        let port = socket.local_addr().expect("sink addr").port();
        LogSink { socket, port }
    }

    async fn wait_for(&self, needle: &str) -> String {
        let mut seen = Vec::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        let mut buf = vec![0u8; 4096];
        loop {
            match tokio::time::timeout_at(deadline, self.socket.recv(&mut buf)).await {
                Ok(Ok(n)) => {
                    let line = String::from_utf8_lossy(&buf[..n]).into_owned();
                    if line.contains(needle) {
                        return line;
                    }
                    seen.push(line);
                }
                _ => panic!("no log line with {needle:?}; got {seen:#?}"),
            }
        }
    }
}

#[tokio::test]
async fn a_stopped_server_leaves_the_rotation_and_comes_back() {
    let a = Origin::start("a").await;
    let b = Origin::start("b").await;
    let port = free_port();
    let sink = LogSink::bind().await;
    let p = proxy(&format!(
        "{DEFAULTS}frontend fe\n    bind 127.0.0.1:{port}\n    default_backend be\nbackend be\n    log 127.0.0.1:{} local0\n    balance roundrobin\n    server a {} check inter 100 rise 2 fall 2\n    server b {} check inter 100 rise 2 fall 2\n",
        sink.port, a.addr, b.addr
    ))
    .await;
    b.stop();
    until_only(port, "a", 10).await;
    let line = sink.wait_for("Server be/b is DOWN").await;
    assert!(
        line.contains(
            "Server be/b is DOWN, reason: Layer4 connection problem, info: \"Connection refused\", check duration: "
        ) && line.ends_with(
            "ms. 1 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue."
        ),
        "{line}"
    );
    // DOWN is an alert (severity 1): <129> for local0.
    assert!(line.starts_with("<129>"), "{line}");

    b.restart().await;
    let line = sink.wait_for("Server be/b is UP").await;
    assert!(
        line.contains("Server be/b is UP, reason: Layer4 check passed, check duration: ")
            && line.ends_with(
                "ms. 2 active and 0 backup servers online. 0 sessions requeued, 0 total in queue."
            ),
        "{line}"
    );
    let mut seen_b = false;
    for _ in 0..10 {
        seen_b |= get(port, "/", &[]).await.header("x-origin") == "b";
    }
    assert!(seen_b, "b is back in the rotation");
    p.shutdown().await;
}

#[tokio::test]
async fn httpchk_status_decides_and_log_health_checks_reports_each_change() {
    let a = Origin::start("a").await;
    let b = Origin::start("b").await;
    let port = free_port();
    let sink = LogSink::bind().await;
    let p = proxy(&format!(
        "{DEFAULTS}frontend fe\n    bind 127.0.0.1:{port}\n    default_backend be\nbackend be\n    log 127.0.0.1:{} local0\n    option httpchk GET /health\n    option log-health-checks\n    server a {} check inter 100 rise 2 fall 2\n    server b {} check inter 100 rise 2 fall 2\n",
        sink.port, a.addr, b.addr
    ))
    .await;
    b.set_health(500);
    until_only(port, "a", 10).await;
    let line = sink.wait_for("Health check for server be/b failed").await;
    assert!(
        line.contains("Health check for server be/b failed, reason: Layer7 wrong status, code: 500, info: \"Internal Server Error\", check duration: ")
            && line.ends_with("ms, status: 0/2 DOWN."),
        "{line}"
    );
    // With log-health-checks the DOWN line does not repeat the reason.
    let line = sink.wait_for("Server be/b is DOWN").await;
    assert!(
        line.ends_with("Server be/b is DOWN. 1 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue."),
        "{line}"
    );
    b.set_health(200);
    let line = sink
        .wait_for("Health check for server be/b succeeded")
        .await;
    assert!(
        line.contains("reason: Layer7 check passed, code: 200, check duration: ")
            && line.ends_with("ms, status: 1/2 DOWN."),
        "{line}"
    );
    sink.wait_for("Server be/b is UP").await;
    p.shutdown().await;
}

#[tokio::test]
async fn http_check_expect_rules_and_all_servers_down_give_503() {
    let a = Origin::start("a").await;
    let port = free_port();
    let p = proxy(&format!(
        "{DEFAULTS}frontend fe\n    bind 127.0.0.1:{port}\n    default_backend be\nbackend be\n    option httpchk\n    http-check send meth GET uri /health ver HTTP/1.1 hdr Host check.test\n    http-check expect status 200-204\n    http-check expect ! string maintenance\n    server a {} check inter 100 fall 1 rise 1\n",
        a.addr
    ))
    .await;
    until_only(port, "a", 3).await;
    a.set_health(205);
    until_only(port, "503", 3).await;
    a.set_health(204);
    until_only(port, "a", 3).await;
    p.shutdown().await;
}

/// A line-protocol server: answers `PING\r\n` with `+PONG\r\n`.
async fn pong_server(reply: &'static [u8]) -> std::net::SocketAddr {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = l.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut buf = [0u8; 64];
                if let Ok(n) = s.read(&mut buf).await
                    && buf[..n].starts_with(b"PING")
                {
                    let _ = s.write_all(reply).await;
                }
            });
        }
    });
    addr
}

#[tokio::test]
async fn tcp_check_rules_send_and_expect() {
    let a = Origin::start("a").await;
    let good = pong_server(b"+PONG\r\n").await;
    let bad = pong_server(b"-ERR\r\n").await;
    let (p1, p2) = (free_port(), free_port());
    let sink = LogSink::bind().await;
    let good_sink = LogSink::bind().await;
    let p = proxy(&format!(
        "{DEFAULTS}frontend f1\n    bind 127.0.0.1:{p1}\n    default_backend good\nfrontend f2\n    bind 127.0.0.1:{p2}\n    default_backend bad\n\
         backend good\n    log 127.0.0.1:{} local0\n    option log-health-checks\n    option tcp-check\n    tcp-check connect port {}\n    tcp-check send PING\\r\\n\n    tcp-check expect string +PONG\n    server a {} check inter 100\n\
         backend bad\n    log 127.0.0.1:{} local0\n    option tcp-check\n    tcp-check connect port {}\n    tcp-check send-binary 50494e470d0a\n    tcp-check expect string +PONG\n    server a {} check inter 100\n",
        good_sink.port,
        good.port(),
        a.addr,
        sink.port,
        bad.port(),
        a.addr
    ))
    .await;
    until_only(p2, "503", 3).await;
    let line = sink.wait_for("Server bad/a is DOWN").await;
    assert!(
        line.contains("reason: Layer7 invalid response, info: \"TCPCHK did not match content '+PONG' at step 3\""),
        "{line}"
    );
    let line = good_sink
        .wait_for("Health check for server good/a succeeded")
        .await;
    assert!(
        line.contains(
            "reason: Layer7 check passed, code: 0, info: \"(tcp-check)\", check duration: "
        ) && line.ends_with("ms, status: 3/3 UP."),
        "{line}"
    );
    for _ in 0..5 {
        assert_eq!(get(p1, "/", &[]).await.header("x-origin"), "a");
        tokio::time::sleep(Duration::from_millis(60)).await;
    }
    p.shutdown().await;
}

#[tokio::test]
async fn checks_stop_with_the_proxy() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            drop(s);
        }
    });
    let port = free_port();
    let p = proxy(&format!(
        "{DEFAULTS}frontend fe\n    bind 127.0.0.1:{port}\n    default_backend be\nbackend be\n    server a {addr} check inter 50\n"
    ))
    .await;
    for _ in 0..100 {
        if accepted.load(Ordering::SeqCst) >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        accepted.load(Ordering::SeqCst) >= 3,
        "checks connect every 50 ms"
    );
    p.shutdown().await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let after = accepted.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        after,
        "checks still run after shutdown"
    );
}

#[tokio::test]
async fn check_ssl_speaks_tls_with_the_server_settings_and_check_sni() {
    let clear = Origin::start("clear").await;
    let (tls_port, p_ok, p_sni, p_clear) = (free_port(), free_port(), free_port(), free_port());
    let sink = LogSink::bind().await;
    let ca = "ca-file tests/fixtures/pki/root.crt";
    let p = proxy(&format!(
        "{DEFAULTS}frontend tls\n    bind 127.0.0.1:{tls_port} ssl crt tests/fixtures/pki/server.pem\n    http-request return status 200 hdr x-origin tls\n\
         frontend f1\n    bind 127.0.0.1:{p_ok}\n    default_backend ok\n\
         frontend f2\n    bind 127.0.0.1:{p_sni}\n    default_backend badsni\n\
         frontend f3\n    bind 127.0.0.1:{p_clear}\n    default_backend clear\n\
         backend ok\n    server s 127.0.0.1:{tls_port} ssl verify required {ca} sni str(test.example) check check-sni test.example inter 100\n\
         backend badsni\n    log 127.0.0.1:{} local0\n    server s 127.0.0.1:{tls_port} ssl verify required {ca} sni str(test.example) check check-sni nope.example inter 100\n\
         backend clear\n    server s {} check check-ssl verify none inter 100\n",
        sink.port, clear.addr
    ))
    .await;
    // A check-sni the certificate does not carry fails verification: DOWN.
    until_only(p_sni, "503", 3).await;
    let line = sink.wait_for("Server badsni/s is DOWN").await;
    assert!(
        line.contains("reason: Layer6 invalid response, info: \"SSL handshake failure\""),
        "{line}"
    );
    // check-ssl towards a clear-text server: the handshake fails.
    until_only(p_clear, "503", 3).await;
    // The right name: the TLS checks pass and traffic flows.
    for _ in 0..5 {
        assert_eq!(get(p_ok, "/", &[]).await.header("x-origin"), "tls");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    p.shutdown().await;
}

#[tokio::test]
async fn show_stat_reports_what_the_checks_say() {
    let a = Origin::start("a").await;
    let (port, api) = (free_port(), free_port());
    let dead = free_port();
    let p = proxy(&format!(
        "global\n    stats socket ipv4@127.0.0.1:{api} level admin\n{DEFAULTS}frontend fe\n    bind 127.0.0.1:{port}\n    default_backend be\nbackend be\n    server a {} check inter 100\n    server gone 127.0.0.1:{dead} check inter 100\n    server plain {}\n",
        a.addr, a.addr
    ))
    .await;
    let mut rows = String::new();
    for _ in 0..100 {
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", api))
            .await
            .unwrap();
        s.write_all(b"show stat\n").await.unwrap();
        rows.clear();
        tokio::time::timeout(Duration::from_secs(5), s.read_to_string(&mut rows))
            .await
            .unwrap()
            .unwrap();
        if rows.contains("be,gone,") && status_of(&rows, "gone") == "DOWN" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(status_of(&rows, "a"), "UP", "{rows}");
    assert_eq!(status_of(&rows, "gone"), "DOWN", "{rows}");
    assert_eq!(status_of(&rows, "plain"), "no check", "{rows}");
    p.shutdown().await;
}

/// The `status` column of a server's `show stat` row.
fn status_of(rows: &str, server: &str) -> String {
    let header: Vec<&str> = rows
        .lines()
        .next()
        .unwrap_or("")
        .trim_start_matches("# ")
        .split(',')
        .collect();
    let col = header.iter().position(|c| *c == "status").unwrap();
    rows.lines()
        .find(|l| l.starts_with(&format!("be,{server},")))
        .and_then(|l| l.split(',').nth(col))
        .unwrap_or("")
        .to_string()
}

#[tokio::test]
async fn ssl_hello_chk_wants_a_tls_answer() {
    let clear = Origin::start("clear").await;
    let (tls_port, p_tls, p_clear) = (free_port(), free_port(), free_port());
    let sink = LogSink::bind().await;
    let p = proxy(&format!(
        "{DEFAULTS}frontend tls\n    bind 127.0.0.1:{tls_port} ssl crt tests/fixtures/pki/server.pem\n    http-request return status 200 hdr x-origin tls\n\
         frontend f1\n    bind 127.0.0.1:{p_tls}\n    default_backend tlsok\n\
         frontend f2\n    bind 127.0.0.1:{p_clear}\n    default_backend plain\n\
         backend tlsok\n    option ssl-hello-chk\n    server s 127.0.0.1:{tls_port} ssl verify none check inter 100\n\
         backend plain\n    log 127.0.0.1:{} local0\n    option ssl-hello-chk\n    option log-health-checks\n    server s {} check inter 100\n",
        sink.port, clear.addr
    ))
    .await;
    until_only(p_clear, "503", 3).await;
    let line = sink
        .wait_for("Health check for server plain/s failed")
        .await;
    assert!(
        line.contains("reason: Layer6 invalid response, check duration: ")
            && line.ends_with("ms, status: 0/2 DOWN."),
        "{line}"
    );
    for _ in 0..5 {
        assert_eq!(get(p_tls, "/", &[]).await.header("x-origin"), "tls");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    p.shutdown().await;
}
