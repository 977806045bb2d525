//! The HTTP statistics page (`stats enable|uri|auth|refresh|show-node|
//! show-desc|show-legends|hide-version`), served by `portcullis run`.

#![allow(clippy::expect_used, clippy::unwrap_used)] // a test failing loudly is the point

mod common;

use common::runtime::{free_port, get, start as proxy};

const DEFAULTS: &str = "defaults\n    mode http\n    timeout client 5s\n    timeout connect 1s\n    timeout server 1s\n";
/// `admin:pw`.
const AUTH: (&str, &str) = ("authorization", "Basic YWRtaW46cHc=");

#[tokio::test]
async fn stats_page_is_served_behind_auth_with_haproxy_csv() {
    let port = free_port();
    let plain = free_port();
    let p = proxy(&format!(
        "{DEFAULTS}listen stats
    bind 127.0.0.1:{port}
    http-request deny if {{ req.hdr(x-block) -m found }}
    stats enable
    stats uri /st
    stats refresh 2s
    stats show-node mynode
    stats show-desc \"Testing h2\"
    stats show-legends
    stats hide-version
    stats auth admin:pw
listen open
    bind 127.0.0.1:{plain}
    stats uri /
backend be
    server s1 127.0.0.1:1 backup
"
    ))
    .await;

    let r = get(port, "/st", &[]).await;
    assert_eq!(r.status, 401);
    assert_eq!(
        r.header("www-authenticate"),
        "Basic realm=\"HAProxy Statistics\""
    );
    let wrong = get(port, "/st", &[("authorization", "Basic YWRtaW46eHg=")]).await;
    assert_eq!(wrong.status, 401);

    let r = get(port, "/st", &[AUTH]).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), "text/html");
    assert_eq!(r.header("refresh"), "2");
    assert!(r.body.contains("on mynode: Testing h2</h2>"), "{}", r.body);
    assert!(r.body.contains("General process information"), "{}", r.body);
    assert!(!r.body.contains("version"), "hide-version: {}", r.body);
    assert!(r.body.contains(">s1</td>"), "{}", r.body);

    let r = get(port, "/st;csv;norefresh", &[AUTH]).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), "text/plain");
    assert_eq!(r.header("refresh"), "", ";norefresh");
    let mut lines = r.body.lines();
    assert!(
        lines
            .next()
            .unwrap()
            .starts_with("# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,")
    );
    let rows: Vec<String> = lines
        .map(|l| l.split(',').take(2).collect::<Vec<_>>().join(","))
        .collect();
    for want in ["stats,FRONTEND", "stats,BACKEND", "be,s1", "be,BACKEND"] {
        assert!(rows.iter().any(|r| r == want), "{want} missing: {rows:?}");
    }

    // The proxy's http-request rules run first; other paths are not stats.
    assert_eq!(
        get(port, "/st", &[AUTH, ("x-block", "1")]).await.status,
        403
    );
    assert_eq!(get(port, "/other", &[AUTH]).await.status, 503);

    // No auth, no show-* and no hide-version: the version is shown.
    let r = get(plain, "/", &[]).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("refresh"), "");
    assert!(
        r.body
            .contains(&format!("portcullis version {}", env!("CARGO_PKG_VERSION"))),
        "{}",
        r.body
    );
    assert!(!r.body.contains("General process information"));
    p.shutdown().await;
}
