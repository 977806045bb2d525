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

const DEFAULTS: &str = "defaults\n    mode http\n    timeout client 5s\n    timeout server 5s\n    timeout connect 200ms\n";

#[tokio::test]
async fn insert_indirect_cookie_sticks_to_its_server_and_hides_from_it() {
    let (a, b) = (Origin::start("a").await, Origin::start("b").await);
    let port = free_port();
    let p = proxy(&format!(
        "{DEFAULTS}frontend fe\n    bind 127.0.0.1:{port}\n    default_backend be\n\
         backend be\n    balance roundrobin\n\
         \x20   cookie SRV insert indirect nocache httponly secure domain .example.com attr SameSite=Lax\n\
         \x20   server a {a} cookie ca\n    server b {b} cookie cb\n",
        a = a.addr,
        b = b.addr,
    ))
    .await;
    // No cookie: balanced, and the cookie of the chosen server is inserted
    // (the exact header HAProxy 2.6.12 sends).
    let first = get(port, "/", &[]).await;
    let (srv, val) = if first.body == "origin=a\n" {
        ("a", "ca")
    } else {
        ("b", "cb")
    };
    assert_eq!(
        first.header("set-cookie"),
        format!("SRV={val}; path=/; domain=.example.com; HttpOnly; Secure; SameSite=Lax")
    );
    // Without freshness information HAProxy adds no Cache-Control.
    assert_eq!(first.header("cache-control"), "");
    // With the cookie, every request goes to that server (roundrobin would
    // alternate), which never sees the cookie, and nothing is re-inserted.
    let cookie = format!("x=1; SRV={val}; y=2");
    for _ in 0..4 {
        let r = get(port, "/", &[("cookie", cookie.as_str())]).await;
        assert_eq!(r.body, format!("origin={srv}\n"));
        assert_eq!(r.header("x-cookie"), "x=1; y=2");
        assert_eq!(r.header("set-cookie"), "");
    }
    // A cookie naming no server: balanced and replaced.
    let r = get(port, "/", &[("cookie", "SRV=nope")]).await;
    assert!(
        r.header("set-cookie").starts_with("SRV=c"),
        "{}",
        r.header("set-cookie")
    );
    p.shutdown().await;
}

#[tokio::test]
async fn cookie_for_a_down_server_is_rebalanced_or_kept_with_option_persist() {
    let (a, b) = (Origin::start("a").await, Origin::start("b").await);
    // Server `a` is in maintenance: its cookie names a stopped server.
    let (plain, persist, stuck) = (free_port(), free_port(), free_port());
    let p = proxy(&format!(
        "{DEFAULTS}    retries 1\n\
         frontend fe\n    bind 127.0.0.1:{plain}\n    default_backend be\n\
         frontend fe2\n    bind 127.0.0.1:{persist}\n    default_backend be_persist\n\
         frontend fe3\n    bind 127.0.0.1:{stuck}\n    default_backend be_stuck\n\
         backend be\n    cookie SRV insert indirect\n\
         \x20   server a {a} cookie ca disabled\n    server b {b} cookie cb\n\
         backend be_persist\n    cookie SRV insert indirect\n    option persist\n    option redispatch\n\
         \x20   server a 127.0.0.1:1 cookie ca disabled\n    server b {b} cookie cb\n\
         backend be_stuck\n    cookie SRV insert indirect\n    option persist\n\
         \x20   server a 127.0.0.1:1 cookie ca disabled\n    server b {b} cookie cb\n",
        a = a.addr,
        b = b.addr,
    ))
    .await;
    let r = get(plain, "/", &[("cookie", "SRV=ca")]).await;
    assert_eq!(r.body, "origin=b\n");
    assert_eq!(r.header("set-cookie"), "SRV=cb; path=/");
    // `option persist` tries the stopped server (nothing listens there);
    // `option redispatch` moves the last retry to a running one, which is
    // then not "direct": its cookie is inserted.
    let r = get(persist, "/", &[("cookie", "SRV=ca")]).await;
    assert_eq!(r.body, "origin=b\n");
    assert_eq!(r.header("set-cookie"), "SRV=cb; path=/");
    // Without redispatch the request stays on the stopped server: 503.
    assert_eq!(get(stuck, "/", &[("cookie", "SRV=ca")]).await.status, 503);
    // Without its cookie the stopped server is never chosen.
    assert_eq!(get(stuck, "/", &[]).await.body, "origin=b\n");
    drop(a);
    p.shutdown().await;
}

#[tokio::test]
async fn rewrite_and_prefix_modes_edit_the_servers_cookie() {
    let a = Origin::start("a").await;
    let (rw, pfx) = (free_port(), free_port());
    let p = proxy(&format!(
        "{DEFAULTS}frontend rw\n    bind 127.0.0.1:{rw}\n    default_backend be_rw\n\
         frontend pfx\n    bind 127.0.0.1:{pfx}\n    default_backend be_pfx\n\
         backend be_rw\n    cookie SRV rewrite\n    server a {a} cookie ca\n\
         backend be_pfx\n    cookie JSESSIONID prefix\n    server a {a} cookie ca\n",
        a = a.addr,
    ))
    .await;
    let r = get(rw, "/", &[("x-set-cookie", "SRV = app; path=/")]).await;
    assert_eq!(r.header("set-cookie"), "SRV=ca; path=/");
    let r = get(pfx, "/", &[("x-set-cookie", "JSESSIONID=abc123; path=/")]).await;
    assert_eq!(r.header("set-cookie"), "JSESSIONID=ca~abc123; path=/");
    // The prefix is removed before the server sees its cookie.
    let r = get(pfx, "/", &[("cookie", "JSESSIONID=ca~abc123; t=1")]).await;
    assert_eq!(r.header("x-cookie"), "JSESSIONID=abc123; t=1");
    p.shutdown().await;
}

#[tokio::test]
async fn termination_state_logs_the_cookie_states() {
    let sink = common::runtime::LogSink::bind().await;
    let sink_port = sink.port;
    let (a, b) = (Origin::start("a").await, Origin::start("b").await);
    let port = free_port();
    let p = proxy(&format!(
        "global\n    log 127.0.0.1:{sink_port} format raw local0\n{DEFAULTS}    log global\n    log-format \"%s %tsc\"\n\
         frontend fe\n    bind 127.0.0.1:{port}\n    default_backend be\n\
         backend be\n    cookie SRV insert indirect\n    server a {a} cookie ca\n    server b {b} cookie cb\n",
        a = a.addr,
        b = b.addr,
    ))
    .await;
    // The states HAProxy 2.6.12 logs for the same requests.
    get(port, "/", &[("cookie", "SRV=cb")]).await;
    assert_eq!(sink.next_line().await, "b --VN");
    get(port, "/", &[("cookie", "SRV=zz")]).await;
    let line = sink.next_line().await;
    assert!(line.ends_with(" --II"), "{line}");
    get(port, "/", &[]).await;
    let line = sink.next_line().await;
    assert!(line.ends_with(" --NI"), "{line}");
    p.shutdown().await;
}

#[tokio::test]
async fn stick_on_src_pins_the_client_to_one_server_in_http_and_tcp() {
    let (a, b) = (Origin::start("a").await, Origin::start("b").await);
    let (http, tcp, plain) = (free_port(), free_port(), free_port());
    let p = proxy(&format!(
        "{DEFAULTS}frontend fe\n    bind 127.0.0.1:{http}\n    default_backend be\n\
         frontend plain\n    bind 127.0.0.1:{plain}\n    default_backend be_plain\n\
         listen tcp\n    mode tcp\n    bind 127.0.0.1:{tcp}\n    balance roundrobin\n\
         \x20   stick-table type ip size 100k expire 30m store server_id\n    stick on src\n\
         \x20   server a {a}\n    server b {b}\n\
         backend be\n    balance roundrobin\n    stick-table type ip size 100k expire 30m\n    stick on src\n\
         \x20   server a {a}\n    server b {b}\n\
         backend be_plain\n    balance roundrobin\n    server a {a}\n    server b {b}\n",
        a = a.addr,
        b = b.addr,
    ))
    .await;
    // Without stickiness roundrobin alternates...
    let mut seen = Vec::new();
    for _ in 0..4 {
        seen.push(get(plain, "/", &[]).await.body);
    }
    assert_ne!(seen[0], seen[1]);
    // ...with it, every request (each on a new connection) goes where the
    // first one went.
    for port in [http, tcp] {
        let first = get(port, "/", &[]).await.body;
        for _ in 0..4 {
            assert_eq!(get(port, "/", &[]).await.body, first);
        }
    }
    p.shutdown().await;
}

#[tokio::test]
async fn stick_store_response_and_match_follow_a_session_id() {
    let (a, b) = (Origin::start("a").await, Origin::start("b").await);
    let port = free_port();
    let p = proxy(&format!(
        "{DEFAULTS}frontend fe\n    bind 127.0.0.1:{port}\n    default_backend be\n\
         backend be\n    balance roundrobin\n    stick-table type string len 32 size 1k expire 30m\n\
         \x20   stick match req.hdr(x-sid)\n\
         \x20   stick store-response res.hdr(set-cookie),field(1,;) if {{ res.hdr(set-cookie) -m found }}\n\
         \x20   server a {a}\n    server b {b}\n",
        a = a.addr,
        b = b.addr,
    ))
    .await;
    // The server that set the session id keeps every request carrying it,
    // while requests without it keep alternating.
    let login = get(port, "/", &[("x-set-cookie", "sid=42; path=/")])
        .await
        .body;
    for _ in 0..3 {
        assert_eq!(get(port, "/", &[("x-sid", "sid=42")]).await.body, login);
        let other = get(port, "/", &[]).await.body;
        let again = get(port, "/", &[]).await.body;
        assert_ne!(other, again);
    }
    // An unknown id is balanced.
    let x = get(port, "/", &[("x-sid", "sid=7")]).await.body;
    let y = get(port, "/", &[("x-sid", "sid=7")]).await.body;
    assert_ne!(x, y);
    p.shutdown().await;
}
