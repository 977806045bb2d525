//! The man pages render cleanly and say what the program does.
//!
//! `man/portcullis.1` and `man/portcullis.cfg.5` are roff written by hand.
//! These tests render both with `groff -man -Tutf8 -ww -z` and fail on any
//! warning (a typo in a macro or escape shows up as a warning, not as an
//! error), check that each page has the sections its readers look for, and
//! compare the command page with the real program: its options, whether
//! `run` exists, and the diagnostic format shown under DIAGNOSTICS. The
//! groff tests are skipped, with a notice, only when groff is not installed
//! (CI installs `groff-base`).

use std::path::{Path, PathBuf};
use std::process::Command;

const PAGES: [&str; 2] = ["man/portcullis.1", "man/portcullis.cfg.5"];

fn repo_path(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn read(rel: &str) -> String {
    let path = repo_path(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

fn groff_available() -> bool {
    Command::new("groff")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Runs groff on a page; `None` (after a notice) when groff is missing.
fn groff(rel: &str, extra: &[&str]) -> Option<std::process::Output> {
    if !groff_available() {
        eprintln!(
            "notice: groff is not installed, skipping the rendering of {rel} (apt-get install groff-base)"
        );
        return None;
    }
    let out = Command::new("groff")
        .args(["-man", "-Tutf8", "-ww"])
        .args(extra)
        .arg(repo_path(rel))
        .output()
        .unwrap_or_else(|e| panic!("cannot run groff: {e}"));
    Some(out)
}

#[test]
fn man_pages_render_without_warnings() {
    for page in PAGES {
        let Some(out) = groff(page, &["-z"]) else {
            return;
        };
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "groff failed on {page} ({}):\n{stderr}",
            out.status
        );
        assert!(
            stderr.trim().is_empty(),
            "groff warnings on {page}:\n{stderr}"
        );
    }
}

#[test]
fn rendered_pages_have_no_hyphenated_option_names() {
    // The pages turn hyphenation off so that option names such as
    // ca-verify-file are never split at a line end (a reader copies them).
    for page in PAGES {
        let Some(out) = groff(page, &[]) else { return };
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            !text.contains('\u{2010}'),
            "{page}: the rendered text contains a hyphenation point (U+2010); keep '.nr HY 0' and '.nh' after .TH"
        );
    }
}

/// The `.SH` titles of a page.
fn sections(rel: &str) -> Vec<String> {
    read(rel)
        .lines()
        .filter_map(|l| l.strip_prefix(".SH "))
        .map(|t| t.trim().trim_matches('"').to_string())
        .collect()
}

#[test]
fn pages_have_the_expected_sections() {
    let expected: [(&str, &[&str]); 2] = [
        (
            "man/portcullis.1",
            &[
                "NAME",
                "SYNOPSIS",
                "DESCRIPTION",
                "OPTIONS",
                "EXIT STATUS",
                "DIAGNOSTICS",
                "SIGNALS",
                "ENVIRONMENT",
                "FILES",
                "SEE ALSO",
            ],
        ),
        (
            "man/portcullis.cfg.5",
            &[
                "NAME",
                "DESCRIPTION",
                "LEXICAL RULES",
                "SECTIONS",
                "KEYWORDS",
                "EXTENSIONS",
                "DIFFERENCES FROM HAPROXY",
                "SECURITY DEFAULTS",
                "EXAMPLES",
                "SEE ALSO",
            ],
        ),
    ];
    for (page, want) in expected {
        let have = sections(page);
        let missing: Vec<&&str> = want
            .iter()
            .filter(|w| !have.iter().any(|h| h == **w))
            .collect();
        assert!(
            missing.is_empty(),
            "{page} lacks sections {missing:?} (has {have:?})"
        );
    }
}

/// The text a reader sees for a roff source line (escapes resolved, font
/// changes dropped) — enough to compare option names and examples.
fn roff_plain(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('f') => {
                chars.next();
            }
            Some('(') => {
                let name: String = chars.by_ref().take(2).collect();
                out.push_str(match name.as_str() {
                    "aq" => "'",
                    "dq" => "\"",
                    _ => "?",
                });
            }
            Some('-') => out.push('-'),
            Some('e') | Some('\\') => out.push('\\'),
            Some('&') => {}
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}

/// Runs the portcullis binary.
fn portcullis(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run portcullis: {e}"))
}

/// Subcommands listed by `portcullis --help`.
fn subcommands() -> Vec<String> {
    let out = portcullis(&["--help"]);
    let help = String::from_utf8_lossy(&out.stdout);
    help.lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next().map(String::from))
        .filter(|c| c != "help")
        .collect()
}

#[test]
fn command_page_is_honest_about_run() {
    let page = read("man/portcullis.1");
    let commands = subcommands();
    assert!(
        commands.iter().any(|c| c == "check"),
        "portcullis --help lists no 'check': {commands:?}"
    );
    let has_run = commands.iter().any(|c| c == "run");
    let says_missing = page.contains("not yet available");
    assert_eq!(
        has_run,
        !says_missing,
        "man/portcullis.1 says run is {} but the binary {} a 'run' subcommand: update DESCRIPTION and SIGNALS",
        if says_missing {
            "not yet available"
        } else {
            "available"
        },
        if has_run { "has" } else { "has no" }
    );
}

#[test]
fn command_page_documents_every_option_of_check() {
    let out = portcullis(&["check", "--help"]);
    let help = String::from_utf8_lossy(&out.stdout);
    let page: String = read("man/portcullis.1")
        .lines()
        .map(roff_plain)
        .collect::<Vec<_>>()
        .join("\n");
    let options: Vec<&str> = help
        .split_whitespace()
        .map(|w| w.trim_end_matches([',', '.']))
        .filter(|w| w.starts_with("--") && w.len() > 2)
        .filter(|w| {
            w.chars()
                .skip(2)
                .all(|c| c.is_ascii_lowercase() || c == '-')
        })
        .collect();
    assert!(
        options.contains(&"--file"),
        "unexpected `check --help` output:\n{help}"
    );
    let missing: Vec<&&str> = options.iter().filter(|o| !page.contains(**o)).collect();
    assert!(
        missing.is_empty(),
        "man/portcullis.1 does not document {missing:?} of `portcullis check`"
    );
}

/// The example under DIAGNOSTICS, as a reader sees it.
fn diagnostics_example() -> Vec<String> {
    let page = read("man/portcullis.1");
    let after = page.split(".SH DIAGNOSTICS").nth(1).unwrap_or("");
    let block = after.split(".EX\n").nth(1).unwrap_or("");
    let block = block.split(".EE").next().unwrap_or("");
    block
        .lines()
        .map(|l| roff_plain(l).trim_end().to_string())
        .collect()
}

#[test]
fn diagnostics_example_is_what_check_prints() {
    // The configuration the example shows: line 7 is the faulty one.
    let text = "global\n    maxconn 100\n\ndefaults\n    mode http\nfrontend fe\n    bindd :443 ssl crt site.pem\n";
    let (map, diags) = portcullis::check_source("site.cfg", text);
    let first = diags
        .iter()
        .next()
        .unwrap_or_else(|| panic!("no diagnostic for an unknown keyword"));
    let rendered: Vec<String> = portcullis::diag::render_one(&map, first)
        .lines()
        .map(|l| l.trim_end().to_string())
        .collect();
    let rendered: Vec<String> = trim_blank_ends(rendered);
    let example = trim_blank_ends(diagnostics_example());
    assert_eq!(
        example,
        rendered,
        "the DIAGNOSTICS example of man/portcullis.1 differs from what portcullis prints:\n{}",
        rendered.join("\n")
    );
}

fn trim_blank_ends(mut lines: Vec<String>) -> Vec<String> {
    while lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    while lines.first().is_some_and(|l| l.is_empty()) {
        lines.remove(0);
    }
    lines
}
