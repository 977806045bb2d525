//! Differential test against HAProxy 2.6: `portcullis check` must reach the
//! same valid/invalid verdict as `haproxy -c` on every configuration of
//! `tests/agreement/`.
//!
//! Each file starts with `# expect: valid|invalid` — HAProxy 2.6.12's verdict,
//! recorded by running `haproxy -c -f FILE` from the crate root — and a
//! `# covers: …` line saying what it exercises. The test checks portcullis
//! against the header and, when a HAProxy 2.6 binary is available (`haproxy` on
//! PATH or `$PORTCULLIS_HAPROXY`; CI installs it), HAProxy against the header
//! too, so a header can never silently rot. All files are checked before the
//! test fails, and the report names each file with both verdicts and
//! portcullis' diagnostics.

mod common;

use common::{Outcome, Verdict, excerpt, files_with_ext, portcullis_check, reference_haproxy};
use std::path::{Path, PathBuf};

const CORPUS: &str = "tests/agreement";
/// The corpus must stay large enough to mean something.
const MIN_CONFIGS: usize = 70;

/// The `# expect:` and `# covers:` header of a corpus file.
struct Header {
    expect: Verdict,
}

fn read_header(file: &Path) -> Result<Header, String> {
    let text = std::fs::read_to_string(common::crate_root().join(file))
        .map_err(|e| format!("cannot read: {e}"))?;
    let mut lines = text.lines();
    let expect = match lines.next().and_then(|l| l.strip_prefix("# expect: ")) {
        Some("valid") => Verdict::Valid,
        Some("invalid") => Verdict::Invalid,
        Some(other) => return Err(format!("unknown expectation '{other}' on line 1")),
        None => return Err("line 1 must be '# expect: valid' or '# expect: invalid'".into()),
    };
    match lines.next().and_then(|l| l.strip_prefix("# covers: ")) {
        Some(covers) if !covers.trim().is_empty() => Ok(Header { expect }),
        _ => Err("line 2 must be '# covers: <what this file exercises>'".into()),
    }
}

fn corpus() -> Vec<PathBuf> {
    let files = files_with_ext(CORPUS, "cfg");
    assert!(
        files.len() >= MIN_CONFIGS,
        "{CORPUS} holds {} configurations, expected at least {MIN_CONFIGS}",
        files.len()
    );
    files
}

fn describe(outcome: &Outcome) -> String {
    match Verdict::from_exit(outcome.code) {
        Some(v) => v.name().to_string(),
        None => match outcome.code {
            Some(code) => format!("no verdict (exit {code})"),
            None => "no verdict (killed by a signal)".to_string(),
        },
    }
}

#[test]
fn every_agreement_config_declares_its_verdict_and_coverage() {
    let problems: Vec<String> = corpus()
        .iter()
        .filter_map(|f| {
            read_header(f)
                .err()
                .map(|e| format!("{}: {e}", f.display()))
        })
        .collect();
    assert!(problems.is_empty(), "bad headers:\n{}", problems.join("\n"));
}

#[test]
fn portcullis_and_haproxy_agree_on_every_config() {
    let files = corpus();
    let haproxy = match reference_haproxy() {
        Ok(h) => {
            println!("cross-checking the headers with HAProxy {}", h.version);
            Some(h)
        }
        Err(why) => {
            println!("not cross-checking the headers with HAProxy: {why}");
            None
        }
    };

    let mut failures = Vec::new();
    let (mut valid, mut invalid) = (0, 0);
    for file in &files {
        let header = match read_header(file) {
            Ok(h) => h,
            Err(e) => {
                failures.push(format!("{}: {e}", file.display()));
                continue;
            }
        };
        match header.expect {
            Verdict::Valid => valid += 1,
            Verdict::Invalid => invalid += 1,
        }
        let expected = header.expect.name();

        let theirs = haproxy.as_ref().map(|h| h.check(file));
        let haproxy_line = match &theirs {
            Some(t) => describe(t),
            None => "not run".to_string(),
        };

        let ours = portcullis_check(file);
        if Verdict::from_exit(ours.code) != Some(header.expect) {
            failures.push(format!(
                "{}\n  header (HAProxy 2.6.12): {expected}\n  haproxy -c:              {haproxy_line}\n  portcullis check:        {}\n  portcullis stderr:\n{}",
                file.display(),
                describe(&ours),
                excerpt(&ours.stderr, 40)
            ));
        }

        if let Some(theirs) = &theirs
            && Verdict::from_exit(theirs.code) != Some(header.expect)
        {
            failures.push(format!(
                "{}\n  header says:             {expected}\n  haproxy -c:              {} (the header is stale)\n  haproxy output:\n{}",
                file.display(),
                describe(theirs),
                excerpt(&format!("{}{}", theirs.stdout, theirs.stderr), 20)
            ));
        }
    }

    println!(
        "agreement corpus: {} configurations ({valid} valid, {invalid} invalid){}",
        files.len(),
        if haproxy.is_some() {
            ", each also checked with haproxy -c"
        } else {
            ""
        }
    );
    assert!(
        failures.is_empty(),
        "{} disagreement(s) over {} configurations:\n\n{}",
        failures.len(),
        files.len(),
        failures.join("\n\n")
    );
}

/// Keywords, options and syntax the corpus must exercise in a configuration
/// HAProxy accepts (the portcullis first-support list). A needle matches
/// when it occurs on a non-comment line of a `# expect: valid` file.
const MUST_COVER_VALID: &[&str] = &[
    // global
    "nbthread ",
    "maxconn ",
    "crt-base ",
    "ca-base ",
    "ssl-default-bind-ciphers ",
    "ssl-default-bind-ciphersuites ",
    "ssl-default-bind-options ",
    "ssl-default-bind-curves ",
    "ssl-default-server-ciphers ",
    "ssl-default-server-options ",
    "ssl-server-verify required",
    "ssl-server-verify none",
    "log stdout",
    "pidfile ",
    "hard-stop-after ",
    // proxies
    "mode http",
    "mode tcp",
    "default-server ",
    "default_backend ",
    "use_backend ",
    "acl ",
    "http-request ",
    "http-response ",
    "tcp-request connection ",
    "tcp-request content ",
    "balance roundrobin",
    "balance static-rr",
    "balance leastconn",
    "balance first",
    "balance source",
    "balance uri",
    "balance hdr(",
    "timeout client ",
    "timeout connect ",
    "timeout server ",
    "timeout http-request ",
    "timeout http-keep-alive ",
    "timeout queue ",
    "timeout tunnel ",
    "timeout client-fin ",
    "timeout server-fin ",
    "timeout check ",
    "timeout tarpit ",
    "option httplog",
    "option tcplog",
    "option forwardfor",
    "option http-server-close",
    "option httpchk",
    "option redispatch",
    "option dontlognull",
    "http-check send",
    "http-check expect",
    "retries ",
    "log global",
    "log-format ",
    "stats enable",
    "stats uri ",
    "stats realm ",
    "stats auth ",
    "stats admin ",
    "stats refresh ",
    "errorfile ",
    "monitor-uri ",
    "defaults base",
    " from ",
    "listen ",
    // bind
    " ssl crt ",
    "crts/",
    ".crt ",
    "crt-list ",
    " ca-file ",
    "ca-verify-file ",
    "ca-ignore-err ",
    "crt-ignore-err ",
    "crl-file ",
    "verify none",
    "verify optional",
    "verify required",
    "alpn ",
    "ssl-min-ver ",
    "ssl-max-ver ",
    "ciphers ",
    "ciphersuites ",
    "curves ",
    "strict-sni",
    "no-tls-tickets",
    "no-tlsv10",
    "no-tlsv11",
    "force-tlsv12",
    "force-tlsv13",
    "accept-proxy",
    " name ",
    // server
    "@system-ca",
    "sni str(",
    "sni req.hdr(",
    "verifyhost ",
    " check",
    "check-ssl",
    "check-sni ",
    "inter ",
    "fastinter ",
    "downinter ",
    "rise ",
    "fall ",
    "weight ",
    "backup",
    "disabled",
    "send-proxy",
    "no-ssl-reuse",
    " port ",
    " addr ",
    // ACLs, samples
    " -i ",
    " -m str",
    " -m sub",
    " -m beg",
    " -m end",
    " -m reg",
    " -m dir",
    " -m dom",
    " -m len",
    " -m found",
    " -m int",
    " -m ip",
    " -- ",
    "{ ",
    " || ",
    " or ",
    "!",
    "ssl_c_used",
    "ssl_c_verify",
    "ssl_c_s_dn(",
    "ssl_c_i_dn(",
    "ssl_c_serial,hex",
    "ssl_c_sha1,hex,lower",
    "ssl_c_der,base64",
    "ssl_c_notafter",
    "ssl_c_err",
    "ssl_c_ca_err",
    "ssl_fc_sni",
    "ssl_fc ",
    ",0,rfc2253)",
    // lexer
    "\\ ",
    "\"",
    "'",
    "${PORTCULLIS_TEST_NEVER_SET",
    "${.LINE}",
    ".if ",
    ".elif ",
    ".else",
    ".endif",
    "defined(",
    "streq(",
    "version_atleast(",
    ".notice ",
    ".warning ",
];

/// Mistakes the corpus must show HAProxy refusing (file name fragments of
/// `# expect: invalid` configurations).
const MUST_COVER_INVALID: &[&str] = &[
    "typo-bindd",
    "typo-verfy",
    "verify-bad-method",
    "missing-crt-file",
    "key-mismatch",
    "unknown-default-backend",
    "from-missing-defaults",
    "duplicate-server",
    "ssl-bind-without-crt",
    "server-ssl-no-ca-file",
    "bind-verify-required-no-ca",
    "unmatched-quote",
    "unknown-fetch",
    "bad-time-unit",
    "weight-out-of-range",
    "http-frontend-tcp-backend",
    "lone-endif",
    "alert",
];

#[test]
fn the_corpus_covers_the_first_support_list() {
    let mut valid_text = String::new();
    let mut invalid_names = Vec::new();
    for file in corpus() {
        let text = std::fs::read_to_string(common::crate_root().join(&file)).unwrap_or_default();
        match read_header(&file).map(|h| h.expect) {
            Ok(Verdict::Valid) => {
                for line in text.lines().filter(|l| !l.trim_start().starts_with('#')) {
                    valid_text.push_str(line);
                    valid_text.push('\n');
                }
            }
            Ok(Verdict::Invalid) => invalid_names.push(file.display().to_string()),
            Err(_) => {}
        }
    }
    let missing_valid: Vec<&str> = MUST_COVER_VALID
        .iter()
        .copied()
        .filter(|needle| !valid_text.contains(needle))
        .collect();
    let missing_invalid: Vec<&str> = MUST_COVER_INVALID
        .iter()
        .copied()
        .filter(|frag| !invalid_names.iter().any(|n| n.contains(frag)))
        .collect();
    assert!(
        missing_valid.is_empty() && missing_invalid.is_empty(),
        "not covered by a valid config: {missing_valid:?}\nno invalid config for: {missing_invalid:?}"
    );
}
