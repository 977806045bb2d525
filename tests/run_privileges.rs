//! Process keywords (`user`/`group`/`chroot`, `daemon`, `pidfile`, `cpu-map`): the real
//! binary binds, then goes to the background, drops to the configured identity
//! and confines itself. Changing identity needs root; that test is skipped
//! (with a printed note) otherwise.

#![allow(clippy::expect_used, clippy::unwrap_used)] // a test failing loudly is the point

mod common;

use common::runtime::free_port;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

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

/// Waits until `path` holds a pid, or gives up.
fn read_pid(path: &std::path::Path) -> u32 {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(t) = std::fs::read_to_string(path)
            && let Ok(pid) = t.trim().parse()
        {
            return pid;
        }
        assert!(Instant::now() < deadline, "no pid in {}", path.display());
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Kills a daemonized process when the test ends.
struct Daemon(u32);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg(self.0.to_string()).status();
    }
}

#[test]
fn daemon_goes_to_the_background_after_binding_and_writes_its_pid() {
    let dir = tempfile::tempdir().expect("dir");
    for (how, extra) in [("keyword", "    daemon\n"), ("flag", "")] {
        let port = free_port();
        let pidfile = dir.path().join(format!("{how}.pid"));
        let cfg = dir.path().join(format!("{how}.cfg"));
        let global_pid = if how == "keyword" {
            format!("    pidfile {}\n", pidfile.display())
        } else {
            String::new()
        };
        std::fs::write(
            &cfg,
            format!(
                "global\n{extra}{global_pid}defaults\n    mode http\n    timeout client 5s\nfrontend fe\n    bind 127.0.0.1:{port}\n    http-request return status 200 content-type text/plain string bg\n"
            ),
        )
        .expect("cfg");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_portcullis"));
        cmd.args(["run", "-f"]).arg(&cfg);
        if how == "flag" {
            cmd.arg("-D").arg("-p").arg(&pidfile);
        }
        // The foreground command returns once the server is in the background.
        let status = cmd.stderr(Stdio::null()).status().expect("runs");
        assert!(status.success(), "{how}: {status}");
        let daemon = Daemon(read_pid(&pidfile));
        assert!(
            std::path::Path::new(&format!("/proc/{}", daemon.0)).exists(),
            "{how}: pid not alive"
        );
        let deadline = Instant::now() + Duration::from_secs(10);
        let answer = loop {
            let a = TcpStream::connect(("127.0.0.1", port)).map(|_| http_get(port));
            if let Ok(a) = a {
                break a;
            }
            assert!(Instant::now() < deadline, "{how}: never answered");
            std::thread::sleep(Duration::from_millis(50));
        };
        assert!(answer.ends_with("bg"), "{how}: {answer}");
    }
}

#[test]
fn a_bind_error_is_reported_before_going_to_the_background() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port();
    let dir = tempfile::tempdir().expect("dir");
    let cfg = dir.path().join("busy.cfg");
    std::fs::write(
        &cfg,
        format!("global\n    daemon\ndefaults\n    mode http\n    timeout client 5s\nfrontend fe\n    bind 127.0.0.1:{port}\n"),
    )
    .expect("cfg");
    let out = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(["run", "-f"])
        .arg(&cfg)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot bind socket") && err.contains(&port.to_string()),
        "{err}"
    );
}

/// The `Cpus_allowed_list` of each runtime thread of a process.
fn thread_cpus(pid: u32) -> Vec<String> {
    let mut out = Vec::new();
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).expect("tasks") {
        let dir = task.expect("task").path();
        let comm = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
        if !comm.starts_with("tokio-") {
            continue;
        }
        let status = std::fs::read_to_string(dir.join("status")).unwrap_or_default();
        if let Some(l) = status.lines().find(|l| l.starts_with("Cpus_allowed_list:")) {
            out.push(l["Cpus_allowed_list:".len()..].trim().to_string());
        }
    }
    out
}

#[test]
fn cpu_map_pins_each_worker_thread() {
    let own = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let allowed = own
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    if allowed != "0-1" && !allowed.starts_with("0-") {
        println!("cpu-map test skipped: this process may only use CPUs {allowed:?}");
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let (pinned, free) = (free_port(), free_port());
    let cfg = |port: u16, map: &str| {
        let path = dir.path().join(format!("{port}.cfg"));
        std::fs::write(
            &path,
            format!(
                "global\n    nbthread 2\n{map}defaults\n    mode http\n    timeout client 5s\nfrontend fe\n    bind 127.0.0.1:{port}\n    http-request return status 200 content-type text/plain string ok\n"
            ),
        )
        .expect("write cfg");
        path
    };
    let p = run(&cfg(pinned, "    cpu-map auto:1/1-2 0-1\n"));
    assert!(http_get(pinned).contains("200 OK"));
    let cpus = thread_cpus(p.0.id());
    assert!(
        cpus.iter().any(|c| c == "0") && cpus.iter().any(|c| c == "1"),
        "worker threads pinned one per CPU: {cpus:?}"
    );
    // Without cpu-map no thread is confined to one CPU.
    let q = run(&cfg(free, ""));
    assert!(http_get(free).contains("200 OK"));
    let cpus = thread_cpus(q.0.id());
    assert!(
        !cpus.is_empty() && cpus.iter().all(|c| c == &allowed),
        "{cpus:?}"
    );
}
