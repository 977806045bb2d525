//! Golden diagnostics: the exact text `portcullis check` prints for the
//! common mistakes, pinned so that a change in wording, location or `help:`
//! line is a reviewed change.
//!
//! For each `tests/golden/X.cfg` the test runs `portcullis check -f
//! tests/golden/X.cfg` from the crate root and compares its stderr with
//! `tests/golden/X.stderr`. Run with `BLESS=1` to (re)write the `.stderr`
//! files instead, then review the diff. Files named `*-warning.cfg` must be
//! valid (exit 0: the diagnostic is a warning); every other one must be
//! invalid (exit 1). Relative ages ("expired 2152 day(s) ago") are
//! compared as "N day(s)" so the files do not rot with the calendar.

mod common;

use common::{excerpt, files_with_ext, portcullis_check};
use std::path::Path;

const DIR: &str = "tests/golden";
const MIN_CASES: usize = 24;

/// Makes relative ages ("expired 2152 day(s) ago") independent of the day
/// the test runs: the digits before " day(s)" become "N".
fn normalize(stderr: &str) -> String {
    const UNIT: &str = " day(s)";
    let mut out = String::with_capacity(stderr.len());
    let mut rest = stderr;
    while let Some(at) = rest.find(UNIT) {
        let (before, after) = rest.split_at(at);
        let digits = before.len() - before.trim_end_matches(|c: char| c.is_ascii_digit()).len();
        if digits > 0 {
            out.push_str(&before[..before.len() - digits]);
            out.push('N');
        } else {
            out.push_str(before);
        }
        out.push_str(UNIT);
        rest = &after[UNIT.len()..];
    }
    out.push_str(rest);
    out
}

fn blessing() -> bool {
    std::env::var_os("BLESS").is_some_and(|v| !v.is_empty() && v != "0")
}

/// The first line where `want` and `got` differ, for a readable failure.
fn first_difference(want: &str, got: &str) -> String {
    let (mut w, mut g) = (want.lines(), got.lines());
    let mut line = 1;
    loop {
        match (w.next(), g.next()) {
            (Some(a), Some(b)) if a == b => line += 1,
            (None, None) => return "only line endings differ".to_string(),
            (a, b) => {
                return format!(
                    "first difference on line {line}:\n    want: {}\n    got:  {}",
                    a.unwrap_or("<end of file>"),
                    b.unwrap_or("<end of output>")
                );
            }
        }
    }
}

#[test]
fn diagnostics_match_golden_files() {
    let cases = files_with_ext(DIR, "cfg");
    assert!(
        cases.len() >= MIN_CASES,
        "{DIR} holds {} cases, expected at least {MIN_CASES}",
        cases.len()
    );
    let bless = blessing();
    let root = common::crate_root();
    let mut failures = Vec::new();
    let mut blessed = 0;

    for cfg in &cases {
        let mut out = portcullis_check(cfg);
        out.stderr = normalize(&out.stderr);
        let golden = cfg.with_extension("stderr");
        let name = cfg.display();

        let warning_only = cfg
            .file_stem()
            .and_then(|s| s.to_str())
            .is_some_and(|s| s.ends_with("-warning"));
        let want_code = if warning_only { 0 } else { 1 };
        if out.code != Some(want_code) {
            failures.push(format!(
                "{name}: exit status {:?}, expected {want_code} ({})\n{}",
                out.code,
                if warning_only {
                    "a warning must not make the configuration invalid"
                } else {
                    "this mistake must make the configuration invalid"
                },
                excerpt(&out.stderr, 30)
            ));
        }

        if bless {
            match std::fs::write(root.join(&golden), &out.stderr) {
                Ok(()) => blessed += 1,
                Err(e) => failures.push(format!("{}: cannot write: {e}", golden.display())),
            }
            continue;
        }
        match std::fs::read_to_string(root.join(&golden)) {
            Ok(want) if want == out.stderr => {}
            Ok(want) => failures.push(format!(
                "{name}: stderr differs from {}\n  {}\n  full output:\n{}",
                golden.display(),
                first_difference(&want, &out.stderr),
                excerpt(&out.stderr, 40)
            )),
            Err(e) => failures.push(format!(
                "{}: {e} (run `BLESS=1 cargo test --test golden` and review the result)\n  output was:\n{}",
                golden.display(),
                excerpt(&out.stderr, 40)
            )),
        }
    }

    // A .stderr without its .cfg is a leftover from a renamed or deleted case.
    for stale in files_with_ext(DIR, "stderr") {
        if !root.join(stale.with_extension("cfg")).is_file() {
            failures.push(format!("{}: no matching .cfg", stale.display()));
        }
    }

    if bless {
        println!("blessed {blessed} golden files in {DIR}");
    } else {
        println!("{} golden diagnostics checked", cases.len());
    }
    assert!(
        failures.is_empty(),
        "{} golden failure(s):\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

#[test]
fn every_golden_case_says_what_it_triggers() {
    let missing: Vec<String> = files_with_ext(DIR, "cfg")
        .into_iter()
        .filter(|cfg| {
            std::fs::read_to_string(common::crate_root().join(cfg))
                .map(|t| !t.starts_with("# golden: "))
                .unwrap_or(true)
        })
        .map(|cfg| Path::new(&cfg).display().to_string())
        .collect();
    assert!(
        missing.is_empty(),
        "golden cases must start with '# golden: <the diagnostic>': {missing:?}"
    );
}

#[test]
fn normalize_hides_only_day_counts() {
    assert_eq!(
        normalize("expired 2152 day(s) ago, 3 days, 7 day(s)"),
        "expired N day(s) ago, 3 days, N day(s)"
    );
    assert_eq!(normalize("no digits day(s)"), "no digits day(s)");
}
