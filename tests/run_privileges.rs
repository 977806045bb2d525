//! `user`/`group`/`chroot`: the real binary binds, then drops to the configured
//! identity and confines itself. Needs root to change identity; skipped (with a
//! printed note) otherwise.

#![allow(clippy::expect_used, clippy::unwrap_used)] // a test failing loudly is the point

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// Kills the child when the test ends, pass or fail.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `portcullis run` and waits for its "listening" line.
fn run(cfg: &std::path::Path) -> Running {
    let mut child = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(["run", "-f"])
        .arg(cfg)
        .stderr(Stdio::piped())
        .spawn()
        .expect("portcullis starts");
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = BufReader::new(stderr).lines();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        assert!(Instant::now() < deadline, "no 'listening' line in time");
        match lines.next() {
            Some(Ok(l)) if l.contains("listening on") => break,
            Some(Ok(_)) => continue,
            _ => panic!("portcullis exited before listening"),
        }
    }
    // Keep draining stderr so the child never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Running(child)
}

fn http_get(port: u16) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .expect("write");
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

fn status_ids(pid: u32, field: &str) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find(|l| l.starts_with(field))
        .map(|l| l.split_whitespace().skip(1).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

#[test]
fn drops_to_user_and_group_and_chroots_after_binding() {
    if !nix::unistd::geteuid().is_root() {
        println!("privilege test skipped: not running as root");
        return;
    }
    let (Some(user), Some(group)) = (
        nix::unistd::User::from_name("nobody").ok().flatten(),
        nix::unistd::Group::from_name("nogroup").ok().flatten(),
    ) else {
        println!("privilege test skipped: no nobody/nogroup on this machine");
        return;
    };
    let jail = tempfile::tempdir().expect("jail dir");
    let dir = tempfile::tempdir().expect("cfg dir");
    let port = free_port();
    let cfg = dir.path().join("p.cfg");
    std::fs::write(
        &cfg,
        format!(
            "global\n    user nobody\n    group nogroup\n    chroot {}\ndefaults\n    mode http\n    timeout client 5s\nfrontend fe\n    bind 127.0.0.1:{port}\n    http-request return status 200 content-type text/plain string dropped\n",
            jail.path().display()
        ),
    )
    .expect("write cfg");
    let proxy = run(&cfg);
    let answer = http_get(port);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with("dropped"), "{answer}");
    let pid = proxy.0.id();
    let uid = user.uid.as_raw().to_string();
    let gid = group.gid.as_raw().to_string();
    assert_eq!(status_ids(pid, "Uid:"), format!("{uid} {uid} {uid} {uid}"));
    assert_eq!(status_ids(pid, "Gid:"), format!("{gid} {gid} {gid} {gid}"));
    let root = std::fs::read_link(format!("/proc/{pid}/root")).expect("proc root");
    assert_eq!(
        root.canonicalize().expect("canonical"),
        jail.path().canonicalize().expect("canonical jail")
    );
}
