//! `filter trace`: `portcullis run` prints each stream's steps on standard
//! error with the filter's name, and nothing for a `quiet` filter.

#![allow(clippy::expect_used, clippy::unwrap_used)] // a test failing loudly is the point

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::Duration;

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

#[test]
fn trace_lines_follow_a_stream_from_start_to_end() {
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("t.cfg");
    std::fs::write(
        &cfg,
        format!(
            "defaults\n    mode http\n    timeout connect 2s\n    timeout client 5s\n    timeout server 5s\nlisten l\n    bind 127.0.0.1:{port}\n    filter trace name T1\n    filter trace name HUSH quiet\n    http-request return status 200 content-type text/plain string hi\n"
        ),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(["run", "-f"])
        .arg(&cfg)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut answered = false;
    for _ in 0..100 {
        let out = Command::new("curl")
            .args([
                "-s",
                "--max-time",
                "5",
                &format!("http://127.0.0.1:{port}/x?y"),
            ])
            .output()
            .unwrap();
        if out.stdout == b"hi" {
            answered = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(200));
    let _ = child.kill();
    let _ = child.wait();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(answered, "the proxy answered: {err}");
    let traced: Vec<&str> = err.lines().filter(|l| l.contains("[T1/l")).collect();
    let events: Vec<&str> = traced
        .iter()
        .filter_map(|l| l.split("] ").nth(2))
        .filter_map(|e| e.split_whitespace().next())
        .filter(|e| e.starts_with("trace_"))
        .collect();
    assert_eq!(
        events,
        [
            "trace_attach",
            "trace_stream_start",
            "trace_http_headers",
            "trace_http_headers",
            "trace_stream_stop",
            "trace_detach"
        ],
        "{err}"
    );
    assert!(
        err.contains("channel=REQUEST    - mode=HTTP\tGET /x?y HTTP/1.1"),
        "{err}"
    );
    assert!(
        err.contains("channel=RESPONSE   - mode=HTTP\tHTTP/1.1 200 OK"),
        "{err}"
    );
    assert!(err.contains("\tcontent-type: text/plain"), "{err}");
    assert!(
        !err.contains("HUSH"),
        "a quiet filter prints nothing: {err}"
    );
    // `http-request return` answered before any backend was chosen: no
    // trace_stream_set_backend, as in HAProxy.
}
