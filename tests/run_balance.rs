//! `balance` algorithms, weights, `hash-type` and backup servers under
//! `portcullis run`, against real origins on 127.0.0.1. Hash-based outcomes
//! are exact (HAProxy's map: `hash % total weight`); random ones are only
//! checked statistically with wide bounds.

#![allow(clippy::expect_used, clippy::unwrap_used)] // a test failing loudly is the point

mod common;

use common::origins::Origin;
use common::runtime::{free_port, get, start as proxy};
use portcullis::runtime::balance::{crc32, djb2, sdbm};
use std::time::Duration;

const DEFAULTS: &str = "defaults\n    mode http\n    timeout client 5s\n    timeout connect 1s\n    timeout server 5s\n";

/// The origin that answered `path` (with extra headers).
async fn who(port: u16, path: &str, headers: &[(&str, &str)]) -> String {
    let r = get(port, path, headers).await;
    assert_eq!(r.status, 200, "{path}: {}", r.body);
    r.header("x-origin").to_string()
}

async fn sequence(port: u16, n: usize) -> Vec<String> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(who(port, "/", &[]).await);
    }
    out
}

#[tokio::test]
async fn static_rr_and_roundrobin_follow_the_weighted_map() {
    let a = Origin::start("a").await;
    let b = Origin::start("b").await;
    let (p1, p2) = (free_port(), free_port());
    let p = proxy(&format!(
        "{DEFAULTS}frontend f1\n    bind 127.0.0.1:{p1}\n    default_backend srr\nfrontend f2\n    bind 127.0.0.1:{p2}\n    default_backend rr\nbackend srr\n    balance static-rr\n    server a {} weight 2\n    server b {}\nbackend rr\n    balance roundrobin\n    server a {} weight 3\n    server b {}\n",
        a.addr, b.addr, a.addr, b.addr
    ))
    .await;
    // HAProxy's map for weights 2:1 is a, a, b.
    assert_eq!(sequence(p1, 6).await, ["a", "a", "b", "a", "a", "b"]);
    let s = sequence(p2, 8).await;
    assert_eq!(s.iter().filter(|x| *x == "a").count(), 6, "{s:?}");
    assert_eq!(s.iter().filter(|x| *x == "b").count(), 2, "{s:?}");
    p.shutdown().await;
}

#[tokio::test]
async fn hash_algorithms_pick_hash_modulo_total_weight() {
    let a = Origin::start("a").await;
    let b = Origin::start("b").await;
    let c = Origin::start("c").await;
    let names = ["a", "b", "c"];
    let servers = format!(
        "    server a {}\n    server b {}\n    server c {}\n",
        a.addr, b.addr, c.addr
    );
    let (pu, pp, ph, ps, pw, pd, pc) = (
        free_port(),
        free_port(),
        free_port(),
        free_port(),
        free_port(),
        free_port(),
        free_port(),
    );
    let p = proxy(&format!(
        "{DEFAULTS}frontend fu\n    bind 127.0.0.1:{pu}\n    default_backend uri\n\
         frontend fp\n    bind 127.0.0.1:{pp}\n    default_backend param\n\
         frontend fh\n    bind 127.0.0.1:{ph}\n    default_backend hdr\n\
         frontend fs\n    bind 127.0.0.1:{ps}\n    default_backend src\n\
         frontend fw\n    bind 127.0.0.1:{pw}\n    default_backend whole\n\
         frontend fd\n    bind 127.0.0.1:{pd}\n    default_backend djb\n\
         frontend fc\n    bind 127.0.0.1:{pc}\n    default_backend crc\n\
         backend uri\n    balance uri\n{servers}\
         backend param\n    balance url_param user\n{servers}\
         backend hdr\n    balance hdr(x-user)\n{servers}\
         backend src\n    balance source\n{servers}\
         backend whole\n    balance uri whole\n{servers}\
         backend djb\n    balance uri\n    hash-type map-based djb2\n{servers}\
         backend crc\n    balance hdr(host) use_domain_only\n    hash-type map-based crc32\n{servers}"
    ))
    .await;
    let pick = |h: u32| names[(h % 3) as usize];
    for path in ["/", "/a", "/img/logo.png", "/api/v1/users", "/x/y/z", "/zz"] {
        let q = format!("{path}?user=u{}", path.len());
        assert_eq!(
            who(pu, &q, &[]).await,
            pick(sdbm(path.as_bytes())),
            "uri {q}"
        );
        assert_eq!(
            who(pw, &q, &[]).await,
            pick(sdbm(q.as_bytes())),
            "uri whole {q}"
        );
        assert_eq!(
            who(pd, &q, &[]).await,
            pick(djb2(path.as_bytes())),
            "djb2 {q}"
        );
        let user = format!("u{}", path.len());
        assert_eq!(
            who(pp, &q, &[]).await,
            pick(sdbm(user.as_bytes())),
            "url_param {q}"
        );
        let h = format!("user-{path}");
        assert_eq!(
            who(ph, "/", &[("x-user", h.as_str())]).await,
            pick(sdbm(h.as_bytes())),
            "hdr {h}"
        );
    }
    for host in ["www.example.com", "shop.example.org", "a.b.test"] {
        let domain = host.split('.').rev().nth(1).unwrap();
        assert_eq!(
            who(pc, "/", &[("host", host)]).await,
            pick(crc32(domain.as_bytes())),
            "use_domain_only {host}"
        );
    }
    // source: 127.0.0.1 is 0x7f000001, not hashed further.
    assert_eq!(who(ps, "/", &[]).await, pick(0x7f00_0001));
    // Without the parameter or header, HAProxy falls back to round robin.
    let s = [
        who(pp, "/none", &[]).await,
        who(pp, "/none", &[]).await,
        who(pp, "/none", &[]).await,
    ];
    assert_eq!(
        s.iter().collect::<std::collections::BTreeSet<_>>().len(),
        3,
        "{s:?}"
    );
    p.shutdown().await;
}

#[tokio::test]
async fn consistent_hashing_is_stable_per_key_and_spreads_keys() {
    let a = Origin::start("a").await;
    let b = Origin::start("b").await;
    let port = free_port();
    let p = proxy(&format!(
        "{DEFAULTS}frontend fe\n    bind 127.0.0.1:{port}\n    default_backend be\nbackend be\n    balance uri\n    hash-type consistent wt6 avalanche\n    server a {}\n    server b {}\n",
        a.addr, b.addr
    ))
    .await;
    let mut seen = std::collections::BTreeMap::new();
    for k in 0..40 {
        let path = format!("/item/{k}");
        let first = who(port, &path, &[]).await;
        assert_eq!(who(port, &path, &[]).await, first, "{path} moved");
        *seen.entry(first).or_insert(0) += 1;
    }
    assert_eq!(seen.len(), 2, "both servers get keys: {seen:?}");
    p.shutdown().await;
}

#[tokio::test]
async fn random_uses_every_server() {
    let a = Origin::start("a").await;
    let b = Origin::start("b").await;
    let port = free_port();
    let p = proxy(&format!(
        "{DEFAULTS}frontend fe\n    bind 127.0.0.1:{port}\n    default_backend be\nbackend be\n    balance random(3)\n    server a {}\n    server b {}\n",
        a.addr, b.addr
    ))
    .await;
    let s = sequence(port, 100).await;
    let n_a = s.iter().filter(|x| *x == "a").count();
    assert!((10..=90).contains(&n_a), "a got {n_a} of 100");
    p.shutdown().await;
}

#[tokio::test]
async fn first_fills_the_first_server_and_leastconn_avoids_the_busy_one() {
    let a = Origin::start("a").await;
    let b = Origin::start("b").await;
    let (pf, pl) = (free_port(), free_port());
    let p = proxy(&format!(
        "{DEFAULTS}frontend ff\n    bind 127.0.0.1:{pf}\n    default_backend first\nfrontend fl\n    bind 127.0.0.1:{pl}\n    default_backend lc\nbackend first\n    balance first\n    server a {} maxconn 1\n    server b {}\nbackend lc\n    balance leastconn\n    server a {}\n    server b {}\n",
        a.addr, b.addr, a.addr, b.addr
    ))
    .await;
    assert_eq!(sequence(pf, 4).await, ["a", "a", "a", "a"]);
    // a is full while it holds a slow request: first goes on to b.
    let slow = tokio::spawn(async move { get(pf, "/slow", &[]).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(who(pf, "/", &[]).await, "b");
    assert_eq!(slow.await.unwrap().header("x-origin"), "a");

    let slow = tokio::spawn(async move { get(pl, "/slow", &[]).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let others = sequence(pl, 4).await;
    let busy = slow.await.unwrap().header("x-origin").to_string();
    assert!(
        others.iter().all(|o| *o != busy),
        "leastconn sent requests to the busy server {busy}: {others:?}"
    );
    p.shutdown().await;
}

#[tokio::test]
async fn backups_serve_only_when_every_active_server_is_down() {
    let a = Origin::start("a").await;
    let b1 = Origin::start("b1").await;
    let b2 = Origin::start("b2").await;
    let (p1, p2) = (free_port(), free_port());
    let dead = free_port();
    let p = proxy(&format!(
        "{DEFAULTS}frontend f1\n    bind 127.0.0.1:{p1}\n    default_backend one\nfrontend f2\n    bind 127.0.0.1:{p2}\n    default_backend all\n\
         backend one\n    server a {} check inter 100\n    server b1 {} backup\n    server b2 {} backup\n\
         backend all\n    option allbackups\n    server dead 127.0.0.1:{dead} check inter 100\n    server b1 {} backup\n    server b2 {} backup\n",
        a.addr, b1.addr, b2.addr, b1.addr, b2.addr
    ))
    .await;
    assert_eq!(sequence(p1, 3).await, ["a", "a", "a"]);
    a.stop();
    // The first backup only, once the check has taken a down.
    let mut ok = false;
    for _ in 0..100 {
        let r = get(p1, "/", &[]).await;
        if r.status == 200 && r.header("x-origin") == "b1" {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(ok, "backup b1 never took over");
    assert_eq!(sequence(p1, 4).await, ["b1", "b1", "b1", "b1"]);
    // option allbackups: both backups share the load.
    let mut s = Vec::new();
    for _ in 0..100 {
        let r = get(p2, "/", &[]).await;
        if r.status == 200 {
            s.push(r.header("x-origin").to_string());
        }
        if s.iter().any(|x| x == "b1") && s.iter().any(|x| x == "b2") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        s.iter().any(|x| x == "b1") && s.iter().any(|x| x == "b2"),
        "{s:?}"
    );
    p.shutdown().await;
}
