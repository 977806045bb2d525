//! Stick-table synchronisation with the peers protocol: a real HAProxy 2.6
//! and portcullis as two peers on 127.0.0.1 (plain TCP and TLS), and two
//! portcullis peers. An increment made in one process is read in the other:
//! on HAProxy through `show table` on its stats socket, on portcullis
//! through `%[sc_get_gpc0(0)]` in an HTTP answer after tracking the key.

#![allow(clippy::expect_used, clippy::unwrap_used)] // a test failing loudly is the point

mod common;

use common::runtime::{free_port, get, start as proxy};
use rcgen::{CertificateParams, KeyPair};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// `/inc` tracks the client's address and counts in its gpc0; every path
/// shows that gpc0, read without tracking (`src_get_gpc0`): a read must not
/// itself become an update racing the other peer's.
fn frontend(port: u16, table: &str) -> String {
    format!(
        "frontend fe\n    bind 127.0.0.1:{port}\n    http-request track-sc0 src table {table} if {{ path /inc }}\n    http-request sc-inc-gpc0(0) if {{ path /inc }}\n    http-request return status 200 content-type text/plain lf-string \"gpc0=%[src_get_gpc0({table})]\"\n"
    )
}

const DEFAULTS: &str = "defaults\n    mode http\n    timeout client 5s\n    timeout server 5s\n    timeout connect 5s\n";
const TABLE: &str = "backend stkt\n    stick-table type ip size 1k expire 60s store gpc0,conn_cnt,http_req_rate(10s) peers mesh\n";

/// A HAProxy process, killed when dropped.
struct Hap(Child);

impl Drop for Hap {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_haproxy(dir: &Path, cfg: &str, local: &str) -> Option<Hap> {
    let h = match common::reference_haproxy() {
        Ok(h) => h,
        Err(why) => {
            eprintln!("skipped: {why}");
            return None;
        }
    };
    let path = dir.join("haproxy.cfg");
    std::fs::write(&path, cfg).unwrap();
    let child = Command::new(h.program())
        .arg("-f")
        .arg(&path)
        .arg("-L")
        .arg(local)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("haproxy starts");
    Some(Hap(child))
}

/// `show table <t>` on HAProxy's stats socket.
async fn show_table(sock: &Path, table: &str) -> String {
    let Ok(mut s) = tokio::net::UnixStream::connect(sock).await else {
        return String::new();
    };
    s.write_all(format!("show table {table}\n").as_bytes())
        .await
        .unwrap();
    let mut out = String::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_string(&mut out)).await;
    out
}

/// Polls until `f` gives the wanted value (at most 15 s: a first
/// connection attempt may wait for HAProxy's socket, then 5 s back-off).
async fn eventually<F, Fut>(what: &str, mut f: F, want: impl Fn(&str) -> bool)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = String>,
{
    let mut last = String::new();
    for _ in 0..150 {
        last = f().await;
        if want(&last) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{what}: last seen {last:?}");
}

fn cert(dir: &Path) -> String {
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["peer.test".to_string()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let pem = dir.join("peer.pem");
    std::fs::write(&pem, format!("{}{}", cert.pem(), key.serialize_pem())).unwrap();
    pem.display().to_string()
}

async fn haproxy_and_portcullis_share_increments(tls: bool) {
    let dir = tempfile::tempdir().unwrap();
    let (pc_peer, hap_peer, pc_http, hap_http) =
        (free_port(), free_port(), free_port(), free_port());
    let sock = dir.path().join("hap.sock");
    let (ssl_server, ssl_bind) = if tls {
        let pem = cert(dir.path());
        (
            format!("    default-server ssl crt {pem} verify none\n"),
            format!(" ssl crt {pem}"),
        )
    } else {
        (String::new(), String::new())
    };
    // Each side names itself with a server line without address and
    // listens on its bind line, as HAProxy's reg-tests do.
    let section = |me: &str, my_port: u16, other: &str, other_port: u16| {
        format!(
            "peers mesh\n{ssl_server}    bind 127.0.0.1:{my_port}{ssl_bind}\n    server {me}\n    server {other} 127.0.0.1:{other_port}\n"
        )
    };
    let hap_cfg = format!(
        "global\n    stats socket {} level admin\n{DEFAULTS}{}{TABLE}{}",
        sock.display(),
        section("hap", hap_peer, "pc", pc_peer),
        frontend(hap_http, "stkt")
    );
    let Some(_hap) = start_haproxy(dir.path(), &hap_cfg, "hap") else {
        return;
    };
    let p = proxy(&format!(
        "global\n    localpeer pc\n{DEFAULTS}{}{TABLE}{}",
        section("pc", pc_peer, "hap", hap_peer),
        frontend(pc_http, "stkt")
    ))
    .await;
    // portcullis → HAProxy.
    assert_eq!(get(pc_http, "/inc", &[]).await.body, "gpc0=1");
    assert_eq!(get(pc_http, "/inc", &[]).await.body, "gpc0=2");
    eventually(
        "HAProxy learns portcullis's increments",
        || show_table(&sock, "stkt"),
        |t| t.contains("key=127.0.0.1 ") && t.contains(" gpc0=2 "),
    )
    .await;
    // HAProxy → portcullis: HAProxy counts on from 2, portcullis reads 3.
    assert_eq!(get(hap_http, "/inc", &[]).await.body, "gpc0=3");
    eventually(
        "portcullis learns HAProxy's increment",
        || async { get(pc_http, "/", &[]).await.body },
        |b| b == "gpc0=3",
    )
    .await;
    assert_eq!(get(pc_http, "/inc", &[]).await.body, "gpc0=4");
    eventually(
        "HAProxy learns the 4th increment",
        || show_table(&sock, "stkt"),
        |t| t.contains(" gpc0=4 "),
    )
    .await;
    p.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn haproxy_and_portcullis_peers_share_counters_over_tcp() {
    haproxy_and_portcullis_share_increments(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn haproxy_and_portcullis_peers_share_counters_over_tls() {
    haproxy_and_portcullis_share_increments(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_haproxy_learns_the_table_by_full_resync() {
    let dir = tempfile::tempdir().unwrap();
    let (pc_peer, hap_peer, pc_http, hap_http) =
        (free_port(), free_port(), free_port(), free_port());
    let sock = dir.path().join("hap.sock");
    let peers = |me: &str| {
        format!(
            "peers mesh\n    peer pc 127.0.0.1:{pc_peer}\n    peer hap 127.0.0.1:{hap_peer}\n# {me}\n"
        )
    };
    let p = proxy(&format!(
        "global\n    localpeer pc\n{DEFAULTS}{}{TABLE}{}",
        peers("pc"),
        frontend(pc_http, "stkt")
    ))
    .await;
    for _ in 0..5 {
        get(pc_http, "/inc", &[]).await;
    }
    // HAProxy starts after the increments: it asks for a full resync.
    let hap_cfg = format!(
        "global\n    stats socket {} level admin\n{DEFAULTS}{}{TABLE}{}",
        sock.display(),
        peers("hap"),
        frontend(hap_http, "stkt")
    );
    let Some(_hap) = start_haproxy(dir.path(), &hap_cfg, "hap") else {
        p.shutdown().await;
        return;
    };
    eventually(
        "HAProxy learns the whole table when it starts",
        || show_table(&sock, "stkt"),
        |t| t.contains("key=127.0.0.1 ") && t.contains(" gpc0=5 "),
    )
    .await;
    p.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_portcullis_peers_share_counters_both_ways() {
    let (a_peer, b_peer, a_http, b_http) = (free_port(), free_port(), free_port(), free_port());
    let cfg = |me: &str, http: u16| {
        format!(
            "global\n    localpeer {me}\n{DEFAULTS}peers mesh\n    peer a 127.0.0.1:{a_peer}\n    peer b 127.0.0.1:{b_peer}\n    table stkt type ip size 1k store gpc0,gpc1,conn_cnt\n{}",
            frontend(http, "mesh/stkt")
        )
    };
    let a = proxy(&cfg("a", a_http)).await;
    let b = proxy(&cfg("b", b_http)).await;
    assert_eq!(get(a_http, "/inc", &[]).await.body, "gpc0=1");
    eventually(
        "b learns a's increment",
        || async { get(b_http, "/", &[]).await.body },
        |x| x == "gpc0=1",
    )
    .await;
    assert_eq!(get(b_http, "/inc", &[]).await.body, "gpc0=2");
    eventually(
        "a learns b's increment",
        || async { get(a_http, "/", &[]).await.body },
        |x| x == "gpc0=2",
    )
    .await;
    a.shutdown().await;
    b.shutdown().await;
}
