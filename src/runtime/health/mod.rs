//! Health checks: one task per checked server, owned by the Generation (a
//! reload replaces them; dropping the Generation aborts them).
//!
//! HAProxy 2.6's state machine (`set_server_check_status`): a server starts
//! UP with its health at `rise`; a failure lowers the health by one and below
//! `rise` straight to 0 (DOWN, so the first failure at startup takes a server
//! down); a success raises it by one and at `rise` straight to
//! `rise + fall - 1`. Checks run every `inter` when the health is full,
//! `downinter` when it is 0, `fastinter` in between. Changes are logged with
//! HAProxy's texts: "Health check for server b/s failed, reason: …, status:
//! x/y DOWN." with `option log-health-checks`, and in any case "Server b/s is
//! DOWN, reason: … N active and M backup servers left. …" when the state
//! flips — as a `[WARNING]` on stderr and to the backend's log targets.

mod probe;
mod spec;

use super::balance::Lb;
use super::log;
use super::resolve::AddrCell;
use crate::ir::{self, HttpCheckExpect, LogTarget, TcpCheckRule};
pub use probe::{CheckTls, Target};
pub use spec::backend_checks;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// HAProxy's check statuses (the ones portcullis produces).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Ini,
    SockErr,
    L4Ok,
    L4Tout,
    L4Con,
    L6Ok,
    L6Tout,
    L6Rsp,
    L7Tout,
    L7Rsp,
    L7Ok,
    L7Sts,
}

impl Status {
    fn passed(self) -> bool {
        matches!(self, Status::L4Ok | Status::L6Ok | Status::L7Ok)
    }

    /// `get_check_status_description`.
    fn description(self) -> &'static str {
        match self {
            Status::Ini => "Initializing",
            Status::SockErr => "Socket error",
            Status::L4Ok => "Layer4 check passed",
            Status::L4Tout => "Layer4 timeout",
            Status::L4Con => "Layer4 connection problem",
            Status::L6Ok => "Layer6 check passed",
            Status::L6Tout => "Layer6 timeout",
            Status::L6Rsp => "Layer6 invalid response",
            Status::L7Tout => "Layer7 timeout",
            Status::L7Rsp => "Layer7 invalid response",
            Status::L7Ok => "Layer7 check passed",
            Status::L7Sts => "Layer7 wrong status",
        }
    }

    /// Statuses past `L57DATA` carry the HTTP code.
    fn has_code(self) -> bool {
        matches!(self, Status::L7Ok | Status::L7Sts)
    }
}

/// The result of one check.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub status: Status,
    pub code: Option<u16>,
    pub info: String,
}

impl Outcome {
    fn ok(status: Status) -> Outcome {
        Outcome {
            status,
            code: None,
            info: String::new(),
        }
    }

    fn fail(status: Status, info: String) -> Outcome {
        Outcome {
            status,
            code: None,
            info,
        }
    }
}

/// What a check does after connecting.
pub enum CheckKind {
    /// A bare connect (and TLS handshake with `check-ssl`).
    Connect,
    Http(HttpProbe),
    Tcp(Vec<TcpCheckRule>),
    /// `option ssl-hello-chk`.
    SslHello,
}

/// The request of `option httpchk` and its expectations.
pub struct HttpProbe {
    method: http::Method,
    uri: String,
    version: http::Version,
    headers: Vec<(String, String)>,
    body: Option<String>,
    expect: Vec<HttpCheckExpect>,
}

impl HttpProbe {
    /// From the backend's settings. The 2.6 form `option httpchk GET /
    /// "HTTP/1.1\r\nHost: x"` carries headers after the version.
    pub fn new(req: &ir::HttpCheckRequest, expect: &[HttpCheckExpect]) -> HttpProbe {
        let normalized = req.version.replace("\\r\\n", "\r\n");
        let mut parts = normalized.split("\r\n");
        let version = match parts.next().unwrap_or("") {
            "HTTP/1.1" => http::Version::HTTP_11,
            _ => http::Version::HTTP_10,
        };
        let mut headers: Vec<(String, String)> = parts
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
            .collect();
        headers.extend(req.headers.iter().cloned());
        HttpProbe {
            method: http::Method::from_bytes(req.method.as_bytes())
                .unwrap_or(http::Method::OPTIONS),
            uri: req.uri.clone(),
            version,
            headers,
            body: req.body.clone(),
            expect: expect.to_vec(),
        }
    }
}

/// Everything one server's check task needs.
pub struct CheckSpec {
    pub backend: Arc<str>,
    pub server: Arc<str>,
    pub idx: usize,
    pub backup: bool,
    pub lb: Arc<Lb>,
    pub kind: Arc<CheckKind>,
    pub target: Target,
    pub inter: Duration,
    pub fastinter: Option<Duration>,
    pub downinter: Option<Duration>,
    pub rise: u32,
    pub fall: u32,
    pub log_health_checks: bool,
    /// The backend's log targets (its own and, with `log global`, the global ones).
    pub log: Vec<LogTarget>,
    /// The server's address cell, followed before each check when the
    /// check is not redirected by `addr` (with the `port` override): DNS
    /// resolution may change it; without an address no check runs.
    pub follow: Option<(Arc<AddrCell>, Option<u16>)>,
}

/// The running check tasks of a Generation; aborted when dropped.
#[derive(Default)]
pub struct HealthTasks(Vec<JoinHandle<()>>);

impl HealthTasks {
    /// Tasks to abort together (the peers sessions use it too).
    pub fn from_handles(tasks: Vec<JoinHandle<()>>) -> HealthTasks {
        HealthTasks(tasks)
    }
}

impl Drop for HealthTasks {
    fn drop(&mut self) {
        for t in &self.0 {
            t.abort();
        }
    }
}

/// Spawns one task per spec (inside a tokio runtime). The first checks are
/// spread over the first interval, as HAProxy spreads them.
pub fn start(specs: Vec<CheckSpec>) -> HealthTasks {
    let n = specs.len().max(1) as u32;
    let tasks = specs
        .into_iter()
        .enumerate()
        .map(|(k, spec)| {
            let first = spec.inter * k as u32 / n;
            tokio::spawn(run(spec, first))
        })
        .collect();
    HealthTasks(tasks)
}

/// HAProxy's per-check health counter.
struct Health {
    health: u32,
    rise: u32,
    fall: u32,
    status: Status,
    up: bool,
}

impl Health {
    /// Applies one result; returns (report, state flipped).
    fn apply(&mut self, passed: bool, status: Status) -> (bool, bool) {
        let mut report = status != self.status;
        self.status = status;
        let max = self.rise + self.fall - 1;
        if passed {
            if self.health < max {
                report = true;
                self.health += 1;
                if self.health >= self.rise {
                    self.health = max;
                }
            }
        } else if self.health > 0 {
            report = true;
            self.health -= 1;
            if self.health < self.rise {
                self.health = 0;
            }
        }
        let flipped = if self.up && self.health == 0 {
            self.up = false;
            true
        } else if !self.up && self.health >= self.rise {
            self.up = true;
            true
        } else {
            false
        };
        (report, flipped)
    }

    /// `srv_getinter`.
    fn interval(&self, spec: &CheckSpec) -> Duration {
        if self.health == self.rise + self.fall - 1 {
            spec.inter
        } else if !self.up && self.health == 0 {
            spec.downinter.unwrap_or(spec.inter)
        } else {
            spec.fastinter.unwrap_or(spec.inter)
        }
    }

    /// `x/y UP|DOWN` of the log line.
    fn progress(&self) -> String {
        if self.health >= self.rise {
            format!("{}/{} UP", self.health - self.rise + 1, self.fall)
        } else {
            format!("{}/{} DOWN", self.health, self.rise)
        }
    }
}

async fn run(mut spec: CheckSpec, first: Duration) {
    let mut h = Health {
        health: spec.rise,
        rise: spec.rise,
        fall: spec.fall,
        status: Status::Ini,
        up: true,
    };
    let mut next = Instant::now() + first;
    loop {
        tokio::time::sleep_until(next).await;
        if let Some((cell, port)) = &spec.follow {
            let Some(mut addr) = cell.get() else {
                // In maintenance for resolution: HAProxy does not check it.
                next = Instant::now() + spec.inter;
                continue;
            };
            if let Some(p) = port {
                addr.set_port(*p);
            }
            spec.target.addr = addr;
        }
        let target: &Target = &spec.target;
        let started = Instant::now();
        let outcome = probe::run(&spec.kind, target).await;
        let duration = started.elapsed().as_millis();
        let (report, flipped) = h.apply(outcome.status.passed(), outcome.status);
        let reason = reason_text(&outcome, duration);
        if report && spec.log_health_checks {
            let line = format!(
                "Health check for {}server {}/{} {}{}, status: {}",
                if spec.backup { "backup " } else { "" },
                spec.backend,
                spec.server,
                if outcome.status.passed() {
                    "succeeded"
                } else {
                    "failed"
                },
                reason,
                h.progress()
            );
            announce(&spec.log, 5, &line);
        }
        if flipped {
            let (active, backup) = spec.lb.set_up(spec.idx, h.up);
            state_change(&spec, h.up, &reason, active, backup);
        }
        next = Instant::now() + h.interval(&spec);
    }
}

/// `, reason: …[, code: …][, info: "…"], check duration: Nms`.
fn reason_text(o: &Outcome, duration: u128) -> String {
    let mut s = format!(", reason: {}", o.status.description());
    if o.status.has_code() {
        s.push_str(&format!(", code: {}", o.code.unwrap_or(0)));
    }
    if !o.info.is_empty() {
        s.push_str(&format!(", info: \"{}\"", ascii_encode(&o.info)));
    }
    s.push_str(&format!(", check duration: {duration}ms"));
    s
}

/// HAProxy's `chunk_asciiencode` with `"` quoted: non-printable bytes,
/// `<`, `>` and `"` become `<XX>`.
fn ascii_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if !(0x20..0x7f).contains(&b) || matches!(b, b'<' | b'>' | b'"') {
            out.push_str(&format!("<{b:02X}>"));
        } else {
            out.push(b as char);
        }
    }
    out
}

/// "Server b/s is DOWN/UP …" (the check reason only without
/// `log-health-checks`, which already said it), and HAProxy's alert when a
/// backend has no server left.
fn state_change(spec: &CheckSpec, up: bool, reason: &str, active: usize, backup: usize) {
    let who = format!(
        "{}Server {}/{}",
        if spec.backup { "Backup " } else { "" },
        spec.backend,
        spec.server
    );
    let reason = if spec.log_health_checks { "" } else { reason };
    let on_backup = if backup > 0 && active == 0 {
        " Running on backup."
    } else {
        ""
    };
    if up {
        let line = format!(
            "{who} is UP{reason}. {active} active and {backup} backup servers online.{on_backup} 0 sessions requeued, 0 total in queue"
        );
        announce(&spec.log, 5, &line);
    } else {
        let line = format!(
            "{who} is DOWN{reason}. {active} active and {backup} backup servers left.{on_backup} {} sessions active, 0 requeued, 0 remaining in queue",
            spec.lb.inflight(spec.idx)
        );
        announce(&spec.log, 1, &line);
        if active == 0 && backup == 0 {
            let line = format!("backend {} has no server available!", spec.backend);
            eprintln!(
                "[ALERT]    ({}) : backend '{}' has no server available!",
                std::process::id(),
                spec.backend
            );
            log::event(&spec.log, 0, line.as_bytes());
        }
    }
}

/// As HAProxy: a `[WARNING]` on stderr and a log line at `severity`.
fn announce(targets: &[LogTarget], severity: u8, line: &str) {
    eprintln!("[WARNING]  ({}) : {line}.", std::process::id());
    log::event(targets, severity, format!("{line}.").as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(rise: u32, fall: u32) -> Health {
        Health {
            health: rise,
            rise,
            fall,
            status: Status::Ini,
            up: true,
        }
    }

    #[test]
    fn httpchk_version_may_carry_headers() {
        let req = ir::HttpCheckRequest {
            method: "HEAD".into(),
            uri: "/ping".into(),
            version: "HTTP/1.1\\r\\nHost: www.example.test".into(),
            headers: vec![("X-A".into(), "1".into())],
            body: None,
        };
        let p = HttpProbe::new(&req, &[]);
        assert_eq!(p.method, http::Method::HEAD);
        assert_eq!(p.version, http::Version::HTTP_11);
        assert_eq!(
            p.headers,
            vec![
                ("Host".to_string(), "www.example.test".to_string()),
                ("X-A".to_string(), "1".to_string())
            ]
        );
    }

    #[test]
    fn first_failure_at_startup_takes_the_server_down() {
        let mut s = h(2, 3);
        assert_eq!(s.apply(false, Status::L4Con), (true, true));
        assert!(!s.up);
        assert_eq!(s.progress(), "0/2 DOWN");
    }

    #[test]
    fn rise_successes_bring_it_back_and_fall_failures_take_it_down() {
        let mut s = h(2, 3);
        assert_eq!(s.apply(true, Status::L4Ok), (true, false));
        assert_eq!(s.progress(), "3/3 UP");
        assert_eq!(s.apply(false, Status::L4Con), (true, false));
        assert_eq!(s.progress(), "2/3 UP");
        assert_eq!(s.apply(false, Status::L4Con), (true, false));
        assert_eq!(s.apply(false, Status::L4Con), (true, true));
        assert_eq!(s.apply(true, Status::L4Ok), (true, false));
        assert_eq!(s.progress(), "1/2 DOWN");
        assert_eq!(s.apply(true, Status::L4Ok), (true, true));
        assert!(s.up);
        // Full health and the same status: nothing to report.
        assert_eq!(s.apply(true, Status::L4Ok), (false, false));
    }
}
