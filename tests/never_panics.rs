//! Mutation test: `check_source` must never panic, whatever text it is given.
//!
//! `portcullis check` (and reload, which runs the same code) reads files that
//! people edit by hand, so a half-typed line, a stray quote or a file saved in
//! the wrong encoding must end in a diagnostic, never in a crash. This test
//! takes every example and agreement configuration (plus a few seeds of its
//! own, so it never runs on nothing), breaks them in ~2,000 deterministic ways
//! and checks that:
//!
//! * `check_source` returns instead of panicking (or hanging);
//! * every diagnostic it returns has a non-empty message and a span that lies
//!   inside a file of the returned `SourceMap`;
//! * rendering the diagnostics does not panic either.
//!
//! The randomness is a fixed-seed xorshift generator, so a failure reproduces
//! exactly; the failing input is printed and written next to the test binary.
//! `NEVER_PANICS_CASES=N` and `NEVER_PANICS_SEED=S` run a longer or different
//! campaign locally.

use std::backtrace::Backtrace;
use std::cell::{Cell, RefCell};
use std::fmt::Write as _;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use portcullis::diag::{Diagnostics, SourceMap};

/// Mutated inputs checked by default: enough to hit every mutation on every
/// base configuration many times, small enough for a debug build.
const DEFAULT_CASES: usize = 2_000;
const DEFAULT_SEED: u64 = 0x9E37_79B9_7F4A_7C15;
/// Growth mutations stop once an input reaches this size.
const MAX_INPUT: usize = 256 * 1024;
/// A single check taking longer than this is reported as a hang.
const CASE_TIMEOUT: Duration = Duration::from_secs(20);
/// At most this many failures are printed in full.
const MAX_REPORTED: usize = 5;

/// Seeds of our own, covering the lexer (quotes, escapes, environment
/// variables, conditional blocks), every common section, sample expressions
/// and the TLS keywords (with files that do not exist, so loading fails).
const SEEDS: &[(&str, &str)] = &[
    (
        "seed-http.cfg",
        "global\n    maxconn 1000\n    log stdout format raw local0\n\n\
         defaults\n    mode http\n    log global\n    option httplog\n    option forwardfor\n\
         \x20   timeout connect 5s\n    timeout client 30s\n    timeout server 30s\n\n\
         frontend fe_main\n    bind 127.0.0.1:8080\n    bind [::1]:8080\n\
         \x20   acl is_api path_beg /api\n    acl is_admin hdr(host) -i admin.example\n\
         \x20   acl local src 127.0.0.0/8 ::1\n\
         \x20   http-request deny if is_admin !local\n\
         \x20   use_backend be_api if is_api\n    default_backend be_web\n\n\
         backend be_api\n    balance roundrobin\n\
         \x20   server api1 127.0.0.1:9001 check weight 10\n\
         \x20   server api2 127.0.0.1:9002 check backup\n\n\
         backend be_web\n    balance leastconn\n    server web1 127.0.0.1:9003 maxconn 100\n",
    ),
    (
        "seed-mtls.cfg",
        "defaults\n    mode http\n    timeout connect 1s\n    timeout client 1s\n    timeout server 1s\n\n\
         frontend fe_tls\n\
         \x20   bind 127.0.0.1:8443 ssl crt /nonexistent/server.pem verify required ca-file /nonexistent/ca.pem crl-file /nonexistent/ca.crl alpn h2,http/1.1\n\
         \x20   bind 127.0.0.1:9443 ssl crt-list /nonexistent/list.txt verify optional ca-verify-file /nonexistent/roots.pem ca-ignore-err all\n\
         \x20   acl cert_ok ssl_c_verify 0\n\
         \x20   acl scanner ssl_c_s_dn(CN) -m str scanner\n\
         \x20   http-request deny deny_status 403 unless cert_ok\n\
         \x20   http-request set-header X-Client-DN %[ssl_c_s_dn]\n\
         \x20   http-request set-header X-Client-Serial %[ssl_c_serial,hex]\n\
         \x20   http-request set-header X-Client-RFC \"%[ssl_c_s_dn(,0,rfc2253)]\"\n\
         \x20   use_backend be_scan if scanner\n    default_backend be_tls\n\n\
         backend be_tls\n\
         \x20   server s1 127.0.0.1:9444 ssl verify required ca-file /nonexistent/ca.pem crt /nonexistent/client.pem sni str(up.example)\n\n\
         backend be_scan\n    server s2 127.0.0.1:9445 ssl verify none\n",
    ),
    (
        "seed-lexer.cfg",
        "# comment line\n\
         .if defined(HOME) && version_atleast(2.4)\n\
         global\n    log \"${LOG_TARGET-stdout}\" format raw local0\n\
         .elif feature(OPENSSL) || streq(\"a\",\"b\")\n\
         .notice \"no home: ${.FILE}:${.LINE}\"\n\
         .else\n.warning 'literal ${X}'\n.endif\n\n\
         defaults web\n    mode http\n    timeout client 5s # trailing comment\n\
         \x20   timeout server 5s\n    timeout connect 5s\n    no option http-server-close\n\n\
         listen \"l1\" from web\n    bind \"${ADDR-127.0.0.1}:8081\" '#not-a-comment'\n\
         \x20   http-request return status 200 content-type text/plain string \"ok\\ there\" if { path /health }\n\
         \x20   log-format \"%ci:%cp [%tr] %ft %{+Q}o %[req.hdr(host),lower]\"\n\
         \x20   server s\\ 1 127.0.0.1:9005\n\n\
         userlist admins\n    user root insecure-password secret\n",
    ),
    (
        "seed-expr.cfg",
        "defaults\n    mode http\n    timeout client 5s\n    timeout server 5s\n    timeout connect 5s\n\n\
         frontend fe\n    bind 127.0.0.1:8082\n\
         \x20   acl a1 req.hdr(host),lower,field(1,:) -m str a.example b.example\n\
         \x20   acl a2 path,regsub(\\\"(foo|bar)\\\",blah,g) -m beg /blah\n\
         \x20   acl a3 hdr_cnt(x-forwarded-for) gt 1\n\
         \x20   acl a4 var(txn.x) -m found\n\
         \x20   acl a5 path_reg ^/v[0-9]+/\n\
         \x20   acl a6 req.ssl_sni -m end .example.com\n\
         \x20   http-request set-var(txn.x) req.hdr(x-id)\n\
         \x20   http-request add-header X-Forwarded-Proto https if { ssl_fc }\n\
         \x20   http-request redirect scheme https code 301 if !{ ssl_fc } a1 || a3 !a4\n\
         \x20   http-response set-header X-Served-By %[env(HOSTNAME)]\n\
         \x20   tcp-request content reject if { src -f /nonexistent/deny.lst }\n\
         \x20   use_backend %[req.hdr(host),lower,map(/nonexistent/hosts.map,be_default)]\n\
         \x20   default_backend be_default\n\n\
         backend be_default\n    http-check expect status 200\n    option httpchk GET /health\n\
         \x20   server d1 127.0.0.1:9006 check inter 2s fall 3 rise 2\n",
    ),
];

/// Fragments inserted at random places: each one is something the lexer or
/// an expression parser treats specially.
const FRAGMENTS: &[&str] = &[
    "\"",
    "'",
    "{",
    "}",
    "{ ",
    " }",
    "\\",
    "\\x",
    "\\x4",
    "\\ ",
    "${",
    "${X",
    "${X-",
    "${X[*]}",
    "\"${UNSET}\"",
    "$",
    "%[",
    "%[]",
    "]",
    "[",
    "(",
    ")",
    "(,",
    ",",
    ",,",
    ".if",
    ".if 1\n",
    ".endif\n",
    ".else\n",
    ".elif\n",
    "#",
    " # ",
    "||",
    " || ",
    "!",
    " ! ",
    "-m",
    " -m reg (",
    " -i ",
    "-f",
    ":",
    ":0",
    ":99999",
    "[::1]",
    "/",
    "//",
    "*",
    "%{+Q}o",
    "%",
    "\t",
    " ",
    "  ",
    "\n",
    "\r\n",
    "\u{feff}",
    "é",
    "\u{1F512}",
    "ssl",
    " crt ",
];

/// Whole lines inserted at random places: section starts and keywords in the
/// wrong place, or with missing arguments.
const LINES: &[&str] = &[
    "frontend",
    "frontend x",
    "backend",
    "backend x",
    "listen",
    "defaults",
    "global",
    "defaults from nowhere",
    "frontend y from nowhere",
    "    bind",
    "    bind :",
    "    bind 127.0.0.1:0 ssl",
    "    bind 127.0.0.1:0 ssl crt",
    "    server",
    "    server s",
    "    server s 127.0.0.1",
    "    server s 127.0.0.1:1 ssl verify required",
    "    acl",
    "    acl x",
    "    acl x path_beg",
    "    use_backend",
    "    use_backend x if",
    "    http-request",
    "    http-request deny if",
    "    http-request set-header",
    "    http-request set-header X %[",
    "    timeout",
    "    timeout client",
    "    timeout client 99999999999999999999d",
    "    balance",
    "    mode",
    "    mode tcp",
    "    option",
    "no option",
    ".if",
    ".elif 1",
    ".else",
    ".endif",
    ".notice",
    ".alert x",
    ".diag",
    "    default_backend",
    "    crt-list",
    "    verify required",
];

/// Words for the 70-word lines.
const WORDS: &[&str] = &[
    "bind",
    "server",
    "acl",
    "ssl",
    "crt",
    "verify",
    "required",
    "if",
    "unless",
    "{",
    "}",
    "||",
    "!",
    "path_beg",
    "/x",
    "127.0.0.1:1",
    "check",
    "-i",
    "%[src]",
    "\"q\"",
    "'s'",
];

/// xorshift64*: tiny, fixed-seed, good enough to pick mutations.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed.max(1))
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n` (0 when `n` is 0).
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Byte ranges of the whitespace-separated words of `buf`.
fn word_ranges(buf: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, b) in buf.iter().enumerate() {
        let space = matches!(b, b' ' | b'\t' | b'\n' | b'\r');
        match (space, start) {
            (true, Some(s)) => {
                out.push((s, i));
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push((s, buf.len()));
    }
    out
}

/// Byte ranges of the lines of `buf`, without their `\n`.
fn line_ranges(buf: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, b) in buf.iter().enumerate() {
        if *b == b'\n' {
            out.push((start, i));
            start = i + 1;
        }
    }
    if start < buf.len() {
        out.push((start, buf.len()));
    }
    out
}

/// Start of a random line (0 for an empty buffer).
fn line_start(rng: &mut Rng, buf: &[u8]) -> usize {
    let lines = line_ranges(buf);
    if lines.is_empty() {
        0
    } else {
        rng.pick(&lines).0
    }
}

/// Applies one random mutation to `buf`, returning its name for the report.
fn mutate(rng: &mut Rng, buf: &mut Vec<u8>, donors: &[Vec<u8>]) -> &'static str {
    let grow = buf.len() < MAX_INPUT;
    match rng.below(16) {
        0 => {
            let words = word_ranges(buf);
            if let Some(&(s, e)) = words.get(rng.below(words.len())) {
                buf.drain(s..e);
            }
            "delete word"
        }
        1 if grow => {
            let words = word_ranges(buf);
            if let Some(&(s, e)) = words.get(rng.below(words.len())) {
                let mut word = buf[s..e].to_vec();
                word.insert(0, b' ');
                buf.splice(e..e, word);
            }
            "duplicate word"
        }
        2 => {
            let words = word_ranges(buf);
            if words.len() >= 2 {
                let i = rng.below(words.len());
                let j = rng.below(words.len());
                let (a, b) = (words[i.min(j)], words[i.max(j)]);
                if a != b {
                    let mut out = Vec::with_capacity(buf.len());
                    out.extend_from_slice(&buf[..a.0]);
                    out.extend_from_slice(&buf[b.0..b.1]);
                    out.extend_from_slice(&buf[a.1..b.0]);
                    out.extend_from_slice(&buf[a.0..a.1]);
                    out.extend_from_slice(&buf[b.1..]);
                    *buf = out;
                }
            }
            "swap words"
        }
        3 | 4 if grow => {
            let at = rng.below(buf.len() + 1);
            let frag = rng.pick(FRAGMENTS).as_bytes();
            buf.splice(at..at, frag.iter().copied());
            "insert fragment"
        }
        5 => {
            let lines = line_ranges(buf);
            if let Some(&(s, e)) = lines.get(rng.below(lines.len())) {
                let cut = s + rng.below(e - s + 1);
                buf.drain(cut..e);
            }
            "truncate line"
        }
        6 => {
            if !buf.is_empty() {
                let at = rng.below(buf.len());
                buf[at] = 0x20 + rng.below(0x5f) as u8; // printable ASCII
            }
            "flip byte to ASCII"
        }
        7 if grow => {
            let at = rng.below(buf.len() + 1);
            let junk: &[&[u8]] = &[
                b"\0",
                b"\xff",
                b"\xc3",
                b"\xe2\x82",
                b"\xed\xa0\x80",
                b"\x00\x00\xfe",
            ];
            buf.splice(at..at, rng.pick(junk).iter().copied());
            "insert NUL / invalid UTF-8"
        }
        8 if grow => {
            let lines = line_ranges(buf);
            if let Some(&(s, e)) = lines.get(rng.below(lines.len())) {
                let mut line = buf[s..e].to_vec();
                line.push(b'\n');
                let repeated = line.repeat(100);
                buf.splice(s..s, repeated);
            }
            "repeat line 100x"
        }
        9 if grow => {
            let at = line_start(rng, buf);
            let mut line = String::from("    ");
            for i in 0..70 {
                if i > 0 {
                    line.push(' ');
                }
                let word = *rng.pick(WORDS);
                line.push_str(word);
            }
            line.push('\n');
            buf.splice(at..at, line.into_bytes());
            "70-word line"
        }
        10 if grow => {
            let at = line_start(rng, buf);
            let mut line = rng.pick(LINES).as_bytes().to_vec();
            line.push(b'\n');
            buf.splice(at..at, line);
            "insert keyword line"
        }
        11 => {
            let cut = rng.below(buf.len() + 1);
            buf.truncate(cut);
            "truncate file"
        }
        12 => {
            let lines = line_ranges(buf);
            if let Some(&(s, e)) = lines.get(rng.below(lines.len())) {
                let end = (e + 1).min(buf.len());
                buf.drain(s..end);
            }
            "delete line"
        }
        13 if grow => {
            let donor = rng.pick(donors);
            let lines = line_ranges(donor);
            if let Some(&(s, e)) = lines.get(rng.below(lines.len())) {
                let mut line = donor[s..e].to_vec();
                line.push(b'\n');
                let at = line_start(rng, buf);
                buf.splice(at..at, line);
            }
            "splice line from another config"
        }
        14 => {
            // Indentation matters to nobody but people; removing or adding it
            // must not change parsing, only the columns in diagnostics.
            let lines = line_ranges(buf);
            if let Some(&(s, e)) = lines.get(rng.below(lines.len())) {
                let indent = buf[s..e]
                    .iter()
                    .take_while(|b| **b == b' ' || **b == b'\t')
                    .count();
                if indent > 0 {
                    buf.drain(s..s + indent);
                } else if grow {
                    buf.splice(s..s, *b"\t  ");
                }
            }
            "change indentation"
        }
        _ => {
            // Remove a random span (a few bytes to a few lines).
            if !buf.is_empty() {
                let s = rng.below(buf.len());
                let len = 1 + rng.below(64.min(buf.len() - s));
                buf.drain(s..s + len);
            }
            "delete bytes"
        }
    }
}

/// Loads `*.cfg` files of a directory of the package, sorted by name so the
/// campaign is the same on every machine. A missing directory is no error.
fn load_dir(rel: &str) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(rel);
    let mut paths: Vec<PathBuf> = match std::fs::read_dir(&dir) {
        Ok(rd) => rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "cfg"))
            .collect(),
        Err(_) => Vec::new(),
    };
    paths.sort();
    paths
        .into_iter()
        .filter_map(|p| {
            let bytes = std::fs::read(&p).ok()?;
            Some((format!("{rel}/{}", p.file_name()?.to_string_lossy()), bytes))
        })
        .collect()
}

/// What went wrong with one mutated input.
struct Failure {
    case: usize,
    base: String,
    mutations: Vec<&'static str>,
    problem: String,
    input: String,
}

thread_local! {
    /// True while this thread runs code under test: its panics are expected
    /// to be caught and reported with the input, not printed one by one.
    static CATCHING: Cell<bool> = const { Cell::new(false) };
    /// Where the last caught panic happened, with a backtrace.
    static LAST_PANIC: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Routes panics of code under test into `LAST_PANIC` (so the report can
/// say where they happened) and leaves every other panic to the default hook,
/// which is how the test's own failure message gets printed.
fn install_panic_hook() {
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if CATCHING.with(Cell::get) {
            let location = info
                .location()
                .map_or_else(|| "unknown location".to_string(), ToString::to_string);
            // The frames of the code under test; those of this harness and
            // of the standard library's thread start add nothing.
            let backtrace: String = Backtrace::force_capture()
                .to_string()
                .lines()
                .take_while(|l| !l.contains("never_panics::catching"))
                .map(|l| format!("{l}\n"))
                .collect();
            LAST_PANIC.with(|p| *p.borrow_mut() = format!("at {location}\n{backtrace}"));
        } else {
            default_hook(info);
        }
    }));
}

/// Runs `f`, turning a panic into a description of it and of where it happened.
fn catching<T>(what: &str, f: impl FnOnce() -> T) -> Result<T, String> {
    CATCHING.with(|c| c.set(true));
    let result = catch_unwind(AssertUnwindSafe(f));
    CATCHING.with(|c| c.set(false));
    result.map_err(|payload| {
        let place = LAST_PANIC.with(|p| std::mem::take(&mut *p.borrow_mut()));
        let place: String = place.chars().take(8_000).collect();
        format!("{what} panicked: {}\n{place}", panic_message(&*payload))
    })
}

/// Checks one input; `Ok(true)` when it was found to have errors, `Err`
/// describes the broken promise.
fn check_one(name: &str, text: &str) -> Result<bool, String> {
    let (map, diags) = catching("check_source", || portcullis::check_source(name, text))?;
    validate(&map, &diags)?;
    let rendered = catching("render", || portcullis::diag::render(&map, &diags))?;
    if !diags.is_empty() && rendered.trim().is_empty() {
        return Err(format!("{} diagnostics rendered as nothing", diags.len()));
    }
    Ok(diags.has_errors())
}

/// Every diagnostic says something and points inside a known file.
fn validate(map: &SourceMap, diags: &Diagnostics) -> Result<(), String> {
    for d in diags.iter() {
        if d.message.trim().is_empty() {
            return Err(format!(
                "{:?} diagnostic with an empty message: {d:?}",
                d.severity
            ));
        }
        if let Some(span) = d.span {
            let len = map.text(span.file).len();
            if span.start > span.end || span.end as usize > len {
                return Err(format!(
                    "span {}..{} outside its file ({} bytes): {d:?}",
                    span.start, span.end, len
                ));
            }
        }
    }
    Ok(())
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(non-string panic payload)".to_string()
    }
}

fn env_number(name: &str) -> Option<u64> {
    let v = std::env::var(name).ok()?;
    let v = v.trim();
    match v.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => v.parse().ok(),
    }
}

/// Writes a failing input where `portcullis check -f` can be pointed at it.
fn save_input(case: usize, input: &str) -> Option<PathBuf> {
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("never_panics-case-{case}.cfg"));
    std::fs::write(&path, input).ok()?;
    Some(path)
}

/// Progress messages from the worker thread, so a hang can be reported with
/// the input that caused it.
enum Event {
    Start {
        case: usize,
        base: String,
        mutations: Vec<&'static str>,
        input: String,
    },
    Done {
        failure: Option<Failure>,
        had_errors: bool,
    },
}

#[test]
fn mutated_configs_never_panic_and_always_explain_errors() {
    let cases = env_number("NEVER_PANICS_CASES").map_or(DEFAULT_CASES, |n| n as usize);
    let seed = env_number("NEVER_PANICS_SEED").unwrap_or(DEFAULT_SEED);
    install_panic_hook();

    let mut corpus: Vec<(String, Vec<u8>)> = SEEDS
        .iter()
        .map(|(n, t)| ((*n).to_string(), t.as_bytes().to_vec()))
        .collect();
    corpus.extend(load_dir("examples"));
    corpus.extend(load_dir("tests/agreement"));
    let donors: Vec<Vec<u8>> = corpus.iter().map(|(_, b)| b.clone()).collect();
    println!(
        "never_panics: {} base configs, {cases} mutated inputs, seed {seed:#x}",
        corpus.len()
    );

    // The unmutated configurations must not panic either (they may have errors:
    // the agreement corpus holds configurations HAProxy rejects on purpose).
    for (name, bytes) in &corpus {
        let text = String::from_utf8_lossy(bytes);
        if let Err(problem) = check_one(name, &text) {
            panic!("unmutated {name}: {problem}");
        }
    }

    let (tx, rx) = mpsc::channel::<Event>();
    let worker = std::thread::spawn(move || {
        let mut rng = Rng::new(seed);
        for case in 0..cases {
            let (base, bytes) = &corpus[case % corpus.len()];
            let mut buf = bytes.clone();
            let mut mutations = Vec::new();
            for _ in 0..1 + rng.below(3) {
                mutations.push(mutate(&mut rng, &mut buf, &donors));
            }
            // Lossy conversion, as `check` does for a file that is not UTF-8.
            let input = String::from_utf8_lossy(&buf).into_owned();
            let start = Event::Start {
                case,
                base: base.clone(),
                mutations: mutations.clone(),
                input: input.clone(),
            };
            if tx.send(start).is_err() {
                return;
            }
            let done = match check_one(&format!("case-{case}.cfg"), &input) {
                Ok(had_errors) => Event::Done {
                    failure: None,
                    had_errors,
                },
                Err(problem) => Event::Done {
                    failure: Some(Failure {
                        case,
                        base: base.clone(),
                        mutations,
                        problem,
                        input,
                    }),
                    had_errors: false,
                },
            };
            if tx.send(done).is_err() {
                return;
            }
        }
    });

    let mut failures: Vec<Failure> = Vec::new();
    let mut with_errors = 0usize;
    let mut current: Option<(usize, String, Vec<&'static str>, String)> = None;
    loop {
        match rx.recv_timeout(CASE_TIMEOUT) {
            Ok(Event::Start {
                case,
                base,
                mutations,
                input,
            }) => current = Some((case, base, mutations, input)),
            Ok(Event::Done {
                failure,
                had_errors,
            }) => {
                current = None;
                with_errors += usize::from(had_errors);
                failures.extend(failure);
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if let Some((case, base, mutations, input)) = current.take() {
                    // The worker is stuck inside check_source; it is left
                    // behind and dies with the test process.
                    failures.push(Failure {
                        case,
                        base,
                        mutations,
                        problem: format!(
                            "check_source did not return within {CASE_TIMEOUT:?} (hang?)"
                        ),
                        input,
                    });
                    break;
                }
            }
        }
    }
    if failures.is_empty() {
        // Surface a panic of the harness itself (not of check_source).
        if let Err(payload) = worker.join() {
            panic!("mutation harness panicked: {}", panic_message(&*payload));
        }
        println!("never_panics: {with_errors} of {cases} mutated inputs were rejected with errors");
        // Unmatched quotes, NULs and keywords out of place are errors: if
        // hardly anything is rejected, the pipeline was not really exercised.
        assert!(
            with_errors * 10 >= cases,
            "only {with_errors} of {cases} mutated inputs had errors: is check_source checking anything?"
        );
        return;
    }

    let mut report = format!(
        "{} of {cases} mutated inputs broke a promise:\n",
        failures.len()
    );
    for f in failures.iter().take(MAX_REPORTED) {
        let saved = save_input(f.case, &f.input)
            .map_or_else(String::new, |p| format!(" (saved to {})", p.display()));
        let _ = write!(
            report,
            "\n--- case {} from {} after {:?}{saved}\n{}\n--- input ({} bytes, debug-escaped):\n{:?}\n",
            f.case,
            f.base,
            f.mutations,
            f.problem,
            f.input.len(),
            f.input
        );
    }
    if failures.len() > MAX_REPORTED {
        let _ = write!(report, "\n… and {} more", failures.len() - MAX_REPORTED);
    }
    panic!("{report}");
}
