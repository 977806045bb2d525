//! The runtime API of `portcullis run` (`stats socket`): a proxy started
//! in-process with a Unix socket in a temp dir and a loopback TCP one, driven
//! by plain socket clients the way `socat` or `nc -U` would.

#![allow(clippy::expect_used, clippy::unwrap_used)] // a test failing loudly is the point

mod common;

use common::runtime::{free_port, lower, try_start};
use portcullis::runtime::serve::Proxy;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpStream, UnixStream};

const PKI: &str = "tests/fixtures/pki";

struct Fixture {
    proxy: Proxy,
    _dir: tempfile::TempDir,
    admin: PathBuf,
    user: PathBuf,
    tcp: u16,
}

async fn fixture(timeout: &str) -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let admin = dir.path().join("admin.sock");
    let user = dir.path().join("user.sock");
    let tcp = free_port();
    let web = free_port();
    let text = format!(
        "global
    stats socket {admin} mode 600 level admin
    stats socket unix@{user} level user
    stats socket ipv4@127.0.0.1:{tcp}
    stats timeout {timeout}
    maxconn 500
defaults
    mode http
    timeout client 5s
    timeout server 5s
    timeout connect 5s
frontend web
    bind 127.0.0.1:{web} ssl crt {PKI}/server.pem ca-file {PKI}/root.crt verify optional crl-file {PKI}/root.crl
    default_backend app
backend app
    server s1 127.0.0.1:8081 weight 3
    server s2 127.0.0.1:8082 backup
",
        admin = admin.display(),
        user = user.display(),
    );
    let proxy = try_start(lower(&text)).await.expect("proxy starts");
    Fixture {
        proxy,
        _dir: dir,
        admin,
        user,
        tcp,
    }
}

/// Sends `input` and reads until the server closes (bounded at 10 s).
async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(mut s: S, input: &str) -> String {
    s.write_all(input.as_bytes()).await.expect("write");
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut out))
        .await
        .expect("the session closes")
        .expect("read");
    String::from_utf8(out).expect("utf-8")
}

async fn unix(path: &Path, input: &str) -> String {
    exchange(UnixStream::connect(path).await.expect("connect"), input).await
}

async fn tcp(port: u16, input: &str) -> String {
    let s = TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    exchange(s, input).await
}

#[tokio::test]
async fn show_version_and_info() {
    let f = fixture("10s").await;
    let out = unix(&f.admin, "show version\n").await;
    assert_eq!(out, format!("{}\n\n", env!("CARGO_PKG_VERSION")));
    let out = tcp(f.tcp, "show info\n").await;
    assert!(out.starts_with("Name: portcullis\nVersion: "), "{out}");
    assert!(
        out.contains(&format!("\nPid: {}\n", std::process::id())),
        "{out}"
    );
    assert!(out.contains("\nUptime: 0d 0h00m0"), "{out}");
    assert!(out.contains("\nUptime_sec: "), "{out}");
    assert!(out.contains("\nMaxconn: 500\n"), "{out}");
    assert!(out.contains("\nListeners: 4\n"), "{out}");
    assert!(out.ends_with("\n\n"), "{out}");
    f.proxy.shutdown().await;
}

#[tokio::test]
async fn show_stat_has_haproxy_header_and_rows() {
    let f = fixture("10s").await;
    let out = unix(&f.user, "show stat\n").await;
    let mut lines = out.lines();
    let header = lines.next().unwrap();
    assert!(header.starts_with("# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight,act,bck,"), "{header}");
    let cols: Vec<&str> = header.trim_start_matches("# ").split(',').collect();
    let col = |row: &str, name: &str| -> String {
        let i = cols.iter().position(|c| *c == name).unwrap();
        row.split(',').nth(i).unwrap().to_string()
    };
    let rows: Vec<&str> = lines.filter(|l| !l.is_empty()).collect();
    assert_eq!(rows.len(), 4, "{out}");
    assert!(rows[0].starts_with("web,FRONTEND,"));
    assert_eq!(col(rows[0], "status"), "OPEN");
    assert_eq!(col(rows[0], "type"), "0");
    assert_eq!(col(rows[0], "mode"), "http");
    assert!(rows[1].starts_with("app,s1,"));
    assert_eq!(col(rows[1], "weight"), "3");
    assert_eq!(col(rows[1], "act"), "1");
    assert_eq!(col(rows[1], "bck"), "0");
    assert_eq!(col(rows[1], "type"), "2");
    assert_eq!(col(rows[1], "addr"), "127.0.0.1:8081");
    assert_eq!(col(rows[1], "qcur"), "", "unknown counters stay empty");
    assert_eq!(col(rows[2], "bck"), "1");
    assert!(rows[3].starts_with("app,BACKEND,"));
    assert_eq!(col(rows[3], "status"), "UP");
    assert_eq!(col(rows[3], "weight"), "3");
    assert_eq!(col(rows[3], "algo"), "roundrobin");
    assert_eq!(rows[3].split(',').count(), cols.len());
    f.proxy.shutdown().await;
}

#[tokio::test]
async fn show_ssl_cert_ca_file_crl_file() {
    let f = fixture("10s").await;
    let list = tcp(f.tcp, "show ssl cert\n").await;
    assert_eq!(list, format!("# filename\n{PKI}/server.pem\n\n"));
    let out = unix(&f.admin, &format!("show ssl cert {PKI}/server.pem\n")).await;
    let expected_head = format!("Filename: {PKI}/server.pem\nStatus: Used\nSerial: 1003\n");
    assert!(out.starts_with(&expected_head), "{out}");
    assert!(
        out.contains("\nnotAfter: May  5 09:01:07 2095 GMT\n"),
        "{out}"
    );
    assert!(
        out.contains(
            "\nSubject Alternative Name: DNS:localhost, DNS:test.example, DNS:*.wild.example, \n"
        ),
        "{out}"
    );
    assert!(out.contains("\nAlgorithm: RSA2048\n"), "{out}");
    assert!(
        out.contains("\nSHA1 FingerPrint: 13554F939A8DFFED238C71E5B8CF8DC82E2E8ECE\n"),
        "{out}"
    );
    assert!(
        out.contains("\nSubject: /CN=test.example\nIssuer: /CN=portcullis-test-root/O=Acme\n"),
        "{out}"
    );
    let out = unix(&f.admin, "show ssl cert nope.pem\n").await;
    assert_eq!(
        out,
        "Can't display the certificate: Not found or the certificate is a bundle!\n\n"
    );
    let out = unix(&f.admin, "show ssl ca-file\n").await;
    assert_eq!(
        out,
        format!("# filename\n{PKI}/root.crt - 1 certificate(s)\n\n")
    );
    let out = unix(&f.admin, "show ssl crl-file\n").await;
    assert_eq!(out, format!("# filename\n{PKI}/root.crl\n\n"));
    let out = unix(&f.admin, &format!("show ssl crl-file {PKI}/root.crl\n")).await;
    assert!(
        out.contains("Issuer: /CN=portcullis-test-root/O=Acme\n"),
        "{out}"
    );
    f.proxy.shutdown().await;
}

#[tokio::test]
async fn help_and_unknown_command() {
    let f = fixture("10s").await;
    let out = unix(&f.admin, "help\n").await;
    assert!(
        out.starts_with("The following commands are valid at this level:\n"),
        "{out}"
    );
    assert!(
        out.contains(
            "\n  show version                            : show version of the current process\n"
        ),
        "{out}"
    );
    assert!(
        out.ends_with("  quit                                    : disconnect\n\n"),
        "{out}"
    );
    let out = unix(&f.admin, "show versoin\n").await;
    assert!(
        out.starts_with(
            "Unknown command, but maybe one of the following ones is a better match:\n"
        ),
        "{out}"
    );
    assert!(out.contains("  show version "), "{out}");
    f.proxy.shutdown().await;
}

#[tokio::test]
async fn prompt_mode_semicolons_and_quit() {
    let f = fixture("10s").await;
    let v = env!("CARGO_PKG_VERSION");
    let out = unix(&f.admin, "prompt\nshow version\nshow cli level\nquit\n").await;
    assert_eq!(out, format!("\n> {v}\n\n> admin\n\n> "));
    let out = unix(&f.admin, "show version; show cli level\n").await;
    assert_eq!(out, format!("{v}\n\nadmin\n\n"));
    f.proxy.shutdown().await;
}

#[tokio::test]
async fn levels_are_enforced() {
    let f = fixture("10s").await;
    assert_eq!(unix(&f.user, "show cli level\n").await, "user\n\n");
    assert_eq!(
        unix(&f.user, "show ssl cert\n").await,
        "Permission denied\n\n"
    );
    assert_eq!(unix(&f.user, "operator\n").await, "Permission denied\n\n");
    assert_eq!(tcp(f.tcp, "show cli level\n").await, "operator\n\n");
    let out = unix(&f.admin, "user; show ssl ca-file\n").await;
    assert_eq!(out, "\nPermission denied\n\n");
    f.proxy.shutdown().await;
}

#[tokio::test]
async fn socket_file_mode_is_applied() {
    let f = fixture("10s").await;
    let mode = std::fs::metadata(&f.admin).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    f.proxy.shutdown().await;
}

#[tokio::test]
async fn stats_timeout_closes_an_idle_prompt_session() {
    let f = fixture("300ms").await;
    let mut s = UnixStream::connect(&f.admin).await.unwrap();
    s.write_all(b"prompt\n").await.unwrap();
    let start = Instant::now();
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut out))
        .await
        .expect("closed by stats timeout")
        .unwrap();
    assert_eq!(out, b"\n> ");
    assert!(start.elapsed() >= Duration::from_millis(250));
    f.proxy.shutdown().await;
}

#[tokio::test]
async fn socat_talks_to_the_unix_socket() {
    let f = fixture("10s").await;
    let path = f.admin.clone();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("socat")
            .arg("-")
            .arg(format!("UNIX-CONNECT:{}", path.display()))
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut child| {
                use std::io::Write;
                if let Some(mut stdin) = child.stdin.take() {
                    stdin.write_all(b"show version\n")?;
                }
                child.wait_with_output()
            })
    })
    .await
    .unwrap();
    match out {
        Ok(o) => assert_eq!(
            String::from_utf8_lossy(&o.stdout),
            format!("{}\n\n", env!("CARGO_PKG_VERSION"))
        ),
        Err(e) => eprintln!("note: socat not runnable ({e}); skipping the socat check"),
    }
    f.proxy.shutdown().await;
}
