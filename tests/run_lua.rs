//! Lua (`lua-load`, `lua-load-per-thread`, `tune.lua.*`): scripts written
//! here, loaded by the real `portcullis run` binary on 127.0.0.1, and driven
//! by a real HTTP/1.1 client. `check` must refuse broken scripts the way
//! `haproxy -c` does.

#![allow(clippy::expect_used, clippy::unwrap_used)] // a test failing loudly is the point

mod common;

use common::runtime::free_port;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
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

/// A directory with `site.cfg` and the scripts of one test.
struct Site {
    dir: tempfile::TempDir,
}

impl Site {
    /// Writes the scripts; `cfg` may name them as `@DIR@/<name>`.
    fn new(scripts: &[(&str, &str)], cfg: &str) -> Site {
        let dir = tempfile::tempdir().expect("tempdir");
        for (name, text) in scripts {
            std::fs::write(dir.path().join(name), text).expect("write script");
        }
        let cfg = cfg.replace("@DIR@", &dir.path().display().to_string());
        std::fs::write(dir.path().join("site.cfg"), cfg).expect("write cfg");
        Site { dir }
    }

    fn cfg(&self) -> PathBuf {
        self.dir.path().join("site.cfg")
    }
}

/// Starts `portcullis run` and waits for its "listening" line.
fn run(cfg: &Path) -> Running {
    let mut child = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(["run", "-f"])
        .arg(cfg)
        .stderr(Stdio::piped())
        .spawn()
        .expect("portcullis starts");
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = BufReader::new(stderr).lines();
    let deadline = Instant::now() + Duration::from_secs(20);
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

/// `portcullis check`: exit code and stderr.
fn check(cfg: &Path) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(["check", "-f"])
        .arg(cfg)
        .output()
        .expect("portcullis check runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// One answer: status code, lowercased header lines, body.
struct Answer {
    status: u16,
    head: String,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<String> {
        let prefix = format!("{}:", name.to_ascii_lowercase());
        self.head
            .lines()
            .find(|l| l.to_ascii_lowercase().starts_with(&prefix))
            .map(|l| l[prefix.len()..].trim().to_string())
    }
}

/// Sends one request (`Connection: close`) and reads the whole answer.
fn request(port: u16, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Answer {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if !body.is_empty() {
        req.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).expect("write");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read answer");
    let (head, body) = out.split_once("\r\n\r\n").expect("a complete head");
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("status code");
    Answer {
        status,
        head: head.to_string(),
        body: body.to_string(),
    }
}

fn get(port: u16, path: &str) -> Answer {
    request(port, "GET", path, &[], "")
}

const DEFAULTS: &str =
    "defaults\n  mode http\n  timeout client 5s\n  timeout server 5s\n  timeout connect 5s\n";

#[test]
fn http_service_answers_with_status_headers_and_body() {
    let port = free_port();
    let script = r#"
core.register_service("echo", "http", function(applet)
  local body = applet:receive()
  local text = applet.method .. " " .. applet.path .. " q=" .. applet.qs
    .. " agent=" .. applet.headers["x-agent"][0] .. " body=" .. body
  applet:set_status(201)
  applet:add_header("x-from", "lua")
  applet:start_response()
  applet:send(text)
  applet:send("!")
end)
core.register_service("silent", "http", function(applet) end)
"#;
    let site = Site::new(
        &[("svc.lua", script)],
        &format!(
            "global\n  lua-load @DIR@/svc.lua\n{DEFAULTS}frontend fe\n  bind 127.0.0.1:{port}\n  http-request use-service lua.silent if {{ path /silent }}\n  http-request use-service lua.echo\n"
        ),
    );
    let _p = run(&site.cfg());
    let a = request(port, "POST", "/in?x=1", &[("x-agent", "t1")], "hello");
    assert_eq!(a.status, 201, "{}", a.head);
    assert_eq!(a.header("x-from").as_deref(), Some("lua"));
    assert_eq!(a.body, "POST /in q=x=1 agent=t1 body=hello!");
    // HAProxy 2.6: an applet that returns without start_response is a 500.
    assert_eq!(get(port, "/silent").status, 500);
}

#[test]
fn lua_fetch_chooses_the_backend_and_nil_is_false() {
    let port = free_port();
    let script = r#"
core.register_fetches("pick", function(txn)
  local want = txn.sf:req_hdr("x-pick")
  if want == "" then return "be_a" end
  return want
end)
core.register_fetches("nothing", function(txn) return nil end)
core.register_fetches("sum", function(txn, a, b) return tonumber(a) + tonumber(b) end)
core.register_converters("rev", function(s) return string.reverse(s) end)
"#;
    let site = Site::new(
        &[("f.lua", script)],
        &format!(
            "global\n  lua-load @DIR@/f.lua\n{DEFAULTS}frontend fe\n  bind 127.0.0.1:{port}\n  use_backend %[lua.pick]\n\
backend be_a\n  http-request return status 200 content-type text/plain lf-string \"a nil=%[lua.nothing] sum=%[lua.sum(2,40)] rev=%[str(abc),lua.rev]\"\n\
backend be_b\n  http-request return status 200 content-type text/plain string b\n"
        ),
    );
    let _p = run(&site.cfg());
    assert_eq!(get(port, "/").body, "a nil=0 sum=42 rev=cba");
    let b = request(port, "GET", "/", &[("x-pick", "be_b")], "");
    assert_eq!(b.body, "b");
}

#[test]
fn actions_set_variables_headers_and_keep_private_data_per_transaction() {
    let port = free_port();
    let script = r#"
core.register_action("tag", {"http-req"}, function(txn, label)
  txn:set_var("txn.tag", label .. ":" .. txn.f:path())
  txn.http:req_set_header("x-lua", "set")
  local p = txn:get_priv()
  if p == nil then p = {calls = 0} end
  p.calls = p.calls + 1
  txn:set_priv(p)
end, 1)
core.register_fetches("calls", function(txn)
  local p = txn:get_priv()
  if p == nil then return -1 end
  return p.calls
end)
core.register_action("stamp", {"http-res"}, function(txn)
  txn.http:res_set_header("x-stamp", txn:get_var("txn.tag"))
end)
"#;
    let site = Site::new(
        &[("a.lua", script)],
        &format!(
            "global\n  lua-load @DIR@/a.lua\n{DEFAULTS}frontend fe\n  bind 127.0.0.1:{port}\n  http-request lua.tag first\n  http-request lua.tag second\n  http-response lua.stamp\n\
  http-request return status 200 content-type text/plain lf-string \"tag=%[var(txn.tag)] hdr=%[req.hdr(x-lua)] calls=%[lua.calls]\"\n"
        ),
    );
    let _p = run(&site.cfg());
    // Two calls in one transaction share the private value…
    assert_eq!(get(port, "/p").body, "tag=second:/p hdr=set calls=2");
    // …and the next transaction starts without it.
    assert_eq!(get(port, "/q").body, "tag=second:/q hdr=set calls=2");
}

#[test]
fn http_response_action_edits_the_server_answer() {
    let port = free_port();
    let origin = free_port();
    let script = r#"
core.register_action("stamp", {"http-res"}, function(txn)
  txn.http:res_set_header("x-stamp", txn:get_var("txn.who"))
  txn.http:res_set_status(202)
end)
"#;
    let site = Site::new(
        &[("r.lua", script)],
        &format!(
            "global\n  lua-load @DIR@/r.lua\n{DEFAULTS}frontend fe\n  bind 127.0.0.1:{port}\n  http-request set-var(txn.who) str(me)\n  default_backend be\n\
backend be\n  http-response lua.stamp\n  server s 127.0.0.1:{origin}\n\
frontend origin\n  bind 127.0.0.1:{origin}\n  http-request return status 200 content-type text/plain string from-origin\n"
        ),
    );
    let _p = run(&site.cfg());
    let a = get(port, "/");
    assert_eq!(a.status, 202, "{}", a.head);
    assert_eq!(a.header("x-stamp").as_deref(), Some("me"));
    assert_eq!(a.body, "from-origin");
}

#[test]
fn a_lua_error_or_a_runaway_script_costs_only_its_request() {
    let port = free_port();
    let script = r#"
core.register_service("svc", "http", function(applet)
  if applet.path == "/boom" then error("boom") end
  if applet.path == "/loop" then while true do end end
  applet:start_response()
  applet:send("fine")
end)
core.register_fetches("bad", function(txn) error("bad fetch") end)
"#;
    let site = Site::new(
        &[("e.lua", script)],
        &format!(
            "global\n  lua-load @DIR@/e.lua\n  tune.lua.service-timeout 300ms\n{DEFAULTS}frontend fe\n  bind 127.0.0.1:{port}\n\
  http-request return status 200 content-type text/plain lf-string \"[%[lua.bad]]\" if {{ path /fetch }}\n  http-request use-service lua.svc\n"
        ),
    );
    let _p = run(&site.cfg());
    assert_eq!(get(port, "/boom").status, 500);
    assert_eq!(get(port, "/ok").body, "fine");
    let started = Instant::now();
    assert_eq!(get(port, "/loop").status, 500);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the runaway script was stopped by its timeout"
    );
    assert_eq!(get(port, "/ok").body, "fine");
    // A failing fetch yields no sample (empty in a log-format), as HAProxy.
    assert_eq!(get(port, "/fetch").body, "[]");
    assert_eq!(get(port, "/ok").body, "fine");
}

#[test]
fn per_thread_scripts_run_in_a_state_per_worker_thread() {
    let port = free_port();
    let script = r#"
loaded_in = core.thread
core.register_service("who", "http", function(applet)
  applet:set_var("txn.n", "x")
  applet:start_response()
  applet:send("thread=" .. loaded_in .. " var=" .. applet:get_var("txn.n"))
end)
"#;
    let site = Site::new(
        &[("t.lua", script)],
        &format!(
            "global\n  nbthread 2\n  lua-load-per-thread @DIR@/t.lua\n{DEFAULTS}frontend fe\n  bind 127.0.0.1:{port}\n  http-request use-service lua.who\n"
        ),
    );
    let _p = run(&site.cfg());
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..6 {
        let a = get(port, "/");
        assert_eq!(a.status, 200);
        seen.insert(a.body);
    }
    // Each state ran the script with its own core.thread (1 and 2); the
    // shared state (thread 0) never served.
    assert_eq!(
        seen.into_iter().collect::<Vec<_>>(),
        vec!["thread=1 var=x".to_string(), "thread=2 var=x".to_string()]
    );
}

#[test]
fn check_refuses_broken_scripts_and_unknown_names_like_haproxy() {
    let cases: [(&str, &str, &str); 5] = [
        (
            "x = = 1\n",
            "",
            "error in Lua file '@DIR@/s.lua': @DIR@/s.lua:1:",
        ),
        (
            "local a = 1\nerror(\"boom\")\n",
            "",
            "Lua runtime error: @DIR@/s.lua:2: boom",
        ),
        (
            "core.register_task(function() end)\n",
            "",
            "@DIR@/s.lua:1: core.register_task is not supported by portcullis",
        ),
        (
            "core.register_fetches(\"f\", function(txn) return 1 end)\n",
            "  http-request set-var(txn.x) lua.nope\n",
            "unknown fetch method 'lua.nope'",
        ),
        (
            "core.register_service(\"s\", \"tcp\", function(applet) end)\n",
            "  http-request use-service lua.s\n",
            "registered in mode 'tcp'",
        ),
    ];
    for (script, rule, want) in cases {
        let site = Site::new(
            &[("s.lua", script)],
            &format!(
                "global\n  lua-load @DIR@/s.lua\n{DEFAULTS}frontend fe\n  bind 127.0.0.1:1\n{rule}"
            ),
        );
        let (code, stderr) = check(&site.cfg());
        let want = want.replace("@DIR@", &site.dir.path().display().to_string());
        assert_eq!(code, 1, "{stderr}");
        assert!(stderr.contains(&want), "want '{want}' in:\n{stderr}");
    }
}

#[test]
fn tune_idle_pool_shared_is_accepted_with_a_warning() {
    let site = Site::new(
        &[],
        &format!(
            "global\n  tune.idle-pool.shared off\n{DEFAULTS}frontend fe\n  bind 127.0.0.1:1\n  http-request return status 200\n"
        ),
    );
    let (code, stderr) = check(&site.cfg());
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("'tune.idle-pool.shared' has no effect"),
        "{stderr}"
    );
}

#[test]
fn lua_fetch_routes_a_tcp_frontend() {
    let port = free_port();
    let origin = free_port();
    let script = r#"
core.register_fetches("auth", function(txn)
  if txn.f:ssl_fc() then return "denied" end
  return "mqtt"
end)
"#;
    let site = Site::new(
        &[("t.lua", script)],
        &format!(
            "global\n  lua-load @DIR@/t.lua\n{DEFAULTS}frontend tcpfe\n  mode tcp\n  bind 127.0.0.1:{port}\n  use_backend %[lua.auth]\n\
backend mqtt\n  mode tcp\n  server s 127.0.0.1:{origin}\n\
frontend origin\n  bind 127.0.0.1:{origin}\n  http-request return status 200 content-type text/plain string via-tcp\n"
        ),
    );
    let _p = run(&site.cfg());
    assert_eq!(get(port, "/").body, "via-tcp");
}
