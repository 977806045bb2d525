//! Maps and persistence at run time, with the answers HAProxy 2.6.12 gives
//! on the same configurations (measured with curl): `map*` converters
//! routing with `use_backend %[…]` and in ACLs, cookie persistence, and
//! `stick on` server persistence.

#![allow(clippy::expect_used, clippy::unwrap_used)] // a test failing loudly is the point

mod common;

use common::origins::Origin;
use common::runtime::{free_port, get, start as proxy};
use std::path::PathBuf;

/// A map file in a fresh temporary directory (kept alive by the guard).
fn map_file(content: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.map");
    std::fs::write(&path, content).unwrap();
    (dir, path)
}

#[tokio::test]
async fn use_backend_routes_by_map_reg_and_acls_test_map_hits() {
    let (a, b) = (Origin::start("a").await, Origin::start("b").await);
    let (_d1, routes) = map_file(
        "# host/path regex to backend\n^www\\.example\\.com/a/  be_a\n^[^/]*/b/  be_b\n^[^/]*/c  be_a\n",
    );
    let (_d2, redirects) = map_file("www.example.com/old/ 1\n");
    let port = free_port();
    let p = proxy(&format!(
        "defaults\n    mode http\n    timeout client 5s\n    timeout server 5s\n    timeout connect 5s\n\
         frontend fe\n    bind 127.0.0.1:{port}\n\
         \x20   acl moved base,map_beg({red}) -m found\n\
         \x20   http-request return status 301 hdr location /new if moved\n\
         \x20   use_backend %[base,map_reg({routes})]\n\
         backend be_a\n    server a {a}\n\
         backend be_b\n    server b {b}\n",
        red = redirects.display(),
        routes = routes.display(),
        a = a.addr,
        b = b.addr,
    ))
    .await;
    let host = [("host", "www.example.com")];
    assert_eq!(get(port, "/a/x", &host).await.body, "origin=a\n");
    assert_eq!(get(port, "/b/x", &host).await.body, "origin=b\n");
    assert_eq!(
        get(port, "/c", &[("host", "other")]).await.body,
        "origin=a\n"
    );
    assert_eq!(get(port, "/old/page", &host).await.status, 301);
    // No key matches and no default: no backend, HAProxy's 503.
    assert_eq!(get(port, "/zzz", &host).await.status, 503);
    p.shutdown().await;
}

#[tokio::test]
async fn map_converters_answer_as_haproxy() {
    let (_d1, s) = map_file(
        "# comment\n   # indented\n/a   first value  \n/a   second\n/b\ttabbed\tvalue\n/pre      p1\n/prefix   p2\n/nokey\n",
    );
    let (_d2, r) = map_file("^/r/([a-z]+)/(\\d+)  got-\\2-\\1-\\0-\\3-\\\\-x\n^/q/(a)?b  [\\1]\n");
    let (_d3, ip) = map_file(
        "10.0.0.0/8  tenet\n10.1.0.0/16 tenone\n10.1.2.3    host\n10.1.2.3    host2\n::1  six\n",
    );
    let (_d4, io) = map_file("/one 1\n/two   +2\n/neg -3\n/sp  4 \n");
    let port = free_port();
    let p = proxy(&format!(
        "defaults\n    mode http\n    timeout client 5s\nfrontend fe\n    bind 127.0.0.1:{port}\n\
         \x20   http-request return status 200 content-type text/plain lf-string \"str=[%[path,map_str({s},DEF)]] beg=[%[path,map_beg({s},DEF)]] sub=[%[path,map_sub({s},DEF)]] nodef=[%[path,map({s})]] regm=[%[path,map_regm({r},DEF)]] ip=[%[req.hdr(x-ip),map_ip({ip},DEF)]] int=[%[path,map_str_int({io},42)]]\"\n",
        s = s.display(),
        r = r.display(),
        ip = ip.display(),
        io = io.display(),
    ))
    .await;
    let ask = |path: &'static str, addr: &'static str| async move {
        get(port, path, &[("x-ip", addr)]).await.body
    };
    // The bodies HAProxy 2.6.12 sends for the same requests.
    assert_eq!(
        ask("/a", "10.1.2.3").await,
        "str=[first value] beg=[first value] sub=[first value] nodef=[first value] regm=[DEF] ip=[host] int=[42]"
    );
    assert_eq!(
        ask("/prefix/x", "10.1.9.9").await,
        "str=[DEF] beg=[p2] sub=[p1] nodef=[] regm=[DEF] ip=[tenone] int=[42]"
    );
    assert_eq!(
        ask("/nokey", "::ffff:10.9.9.9").await,
        "str=[] beg=[] sub=[] nodef=[] regm=[DEF] ip=[tenet] int=[42]"
    );
    assert_eq!(
        ask("/r/abc/42", "::1").await,
        "str=[DEF] beg=[DEF] sub=[first value] nodef=[] regm=[got-42-abc-/r/abc/42--\\-x] ip=[six] int=[42]"
    );
    assert_eq!(
        ask("/q/b", "11.0.0.1").await,
        "str=[DEF] beg=[DEF] sub=[tabbed\tvalue] nodef=[] regm=[[]] ip=[DEF] int=[42]"
    );
    assert_eq!(
        ask("/two", "10.1.2.3").await,
        "str=[DEF] beg=[DEF] sub=[DEF] nodef=[] regm=[DEF] ip=[host] int=[2]"
    );
    assert_eq!(
        ask("/neg", "10.1.2.3").await,
        "str=[DEF] beg=[DEF] sub=[DEF] nodef=[] regm=[DEF] ip=[host] int=[-3]"
    );
    p.shutdown().await;
}
