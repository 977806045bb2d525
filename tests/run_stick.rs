//! Stick tables at run time, against the values HAProxy 2.6.12 gives on the
//! same configuration (measured with curl): rate limiting with
//! `track-sc0 src` + `sc_http_req_rate`, the request/error counters,
//! `sc-inc-gpc0`, and `src_*` lookups in another proxy's table.

#![allow(clippy::expect_used, clippy::unwrap_used)] // a test failing loudly is the point

mod common;

use common::runtime::{free_port, get, raw_get, start as proxy};

const LINE: &str = "rate=%[sc_http_req_rate(0)] cnt=%[sc0_http_req_cnt] src=%[src_http_req_cnt] gpc0=%[sc_get_gpc0(0)] err=%[sc0_http_err_cnt] t=%[sc_tracked(1)]";

#[tokio::test]
async fn track_sc0_src_limits_the_request_rate_as_haproxy() {
    let port = free_port();
    let p = proxy(&format!(
        "defaults\n    mode http\n    timeout client 5s\nfrontend f\n    bind 127.0.0.1:{port}\n    stick-table type ip size 100k expire 30s store http_req_rate(10s),http_req_cnt,gpc0,http_err_cnt\n    http-request track-sc0 src\n    http-request sc-inc-gpc0(0) if {{ path /mark }}\n    http-request deny if {{ path /forbidden }}\n    http-request deny deny_status 429 if {{ sc_http_req_rate(0) gt 6 }}\n    http-request return status 200 content-type text/plain lf-string \"{LINE}\"\n"
    ))
    .await;
    // The bodies HAProxy 2.6.12 sends for the same sequence.
    assert_eq!(
        get(port, "/", &[]).await.body,
        "rate=1 cnt=1 src=1 gpc0=0 err=0 t=0"
    );
    assert_eq!(
        get(port, "/mark", &[]).await.body,
        "rate=2 cnt=2 src=2 gpc0=1 err=0 t=0"
    );
    assert_eq!(get(port, "/forbidden", &[]).await.status, 403);
    assert_eq!(get(port, "/forbidden", &[]).await.status, 403);
    assert_eq!(
        get(port, "/", &[]).await.body,
        "rate=5 cnt=5 src=5 gpc0=1 err=2 t=0"
    );
    assert_eq!(get(port, "/", &[]).await.status, 200);
    // The 7th request in 10 s is over the limit, and so are the next ones.
    assert_eq!(get(port, "/", &[]).await.status, 429);
    assert_eq!(get(port, "/", &[]).await.status, 429);
    p.shutdown().await;
}

#[tokio::test]
async fn src_fetches_read_another_proxys_table_without_tracking() {
    let (counted, reader) = (free_port(), free_port());
    let p = proxy(&format!(
        "defaults\n    mode http\n    timeout client 5s\nbackend limits\n    stick-table type ip size 1k store http_req_cnt,conn_cur\nfrontend counted\n    bind 127.0.0.1:{counted}\n    http-request track-sc1 src table limits\n    http-request return status 200 content-type text/plain lf-string \"n=%[sc1_http_req_cnt] cur=%[sc_conn_cur(1)]\"\nfrontend reader\n    bind 127.0.0.1:{reader}\n    http-request deny deny_status 429 if {{ src_http_req_cnt(limits) ge 3 }}\n    http-request return status 200 content-type text/plain lf-string \"seen=%[src_http_req_cnt(limits)] tracked=%[sc_tracked(1)]\"\n"
    ))
    .await;
    assert_eq!(get(reader, "/", &[]).await.body, "seen=0 tracked=0");
    assert_eq!(get(counted, "/", &[]).await.body, "n=1 cur=1");
    assert_eq!(get(counted, "/", &[]).await.body, "n=2 cur=1");
    // Reading does not count.
    assert_eq!(get(reader, "/", &[]).await.body, "seen=2 tracked=0");
    assert_eq!(get(reader, "/", &[]).await.body, "seen=2 tracked=0");
    assert_eq!(get(counted, "/", &[]).await.body, "n=3 cur=1");
    assert_eq!(get(reader, "/", &[]).await.status, 429);
    p.shutdown().await;
}

/// Sends the requests on one keep-alive connection and returns the bodies;
/// `None` when the proxy closes the connection without answering.
async fn on_one_connection(port: u16, paths: &[&str]) -> Option<Vec<String>> {
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .ok()?;
    let mut out = Vec::new();
    for path in paths {
        out.push(raw_get(&mut s, path).await?);
    }
    Some(out)
}

#[tokio::test]
async fn tcp_request_connection_tracking_counts_the_session_and_limits_connections() {
    let port = free_port();
    let p = proxy(&format!(
        "defaults\n    mode http\n    timeout client 5s\nfrontend f\n    bind 127.0.0.1:{port}\n    stick-table type ip size 1k expire 30s store conn_cnt,conn_cur,conn_rate(10s),http_req_cnt,sess_cnt\n    tcp-request connection track-sc0 src\n    tcp-request connection reject if {{ sc_conn_rate(0) gt 3 }}\n    http-request return status 200 content-type text/plain lf-string \"req=%[sc_http_req_cnt(0)] cur=%[sc_conn_cur(0)] cnt=%[sc_conn_cnt(0)] sess=%[sc_sess_cnt(0)] rate=%[sc0_conn_rate]\"\n"
    ))
    .await;
    // What HAProxy 2.6.12 answers for the same connections and requests:
    // the session counter counts every request of the connection.
    assert_eq!(
        on_one_connection(port, &["/a", "/b"]).await,
        Some(vec![
            "req=1 cur=1 cnt=1 sess=1 rate=1".to_string(),
            "req=2 cur=1 cnt=1 sess=1 rate=1".to_string(),
        ])
    );
    assert_eq!(
        on_one_connection(port, &["/c"]).await,
        Some(vec!["req=3 cur=1 cnt=2 sess=2 rate=2".to_string()])
    );
    assert_eq!(
        on_one_connection(port, &["/d"]).await,
        Some(vec!["req=4 cur=1 cnt=3 sess=3 rate=3".to_string()])
    );
    // The fourth connection in 10 s is over the rate: closed unanswered.
    assert_eq!(on_one_connection(port, &["/e"]).await, None);
    p.shutdown().await;
}
