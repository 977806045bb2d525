//! Lowering of the keywords added for real-world configs: `http-after-response`,
//! `set-status`, `replace-*`, compatibility keywords and proxy switches.

use crate::config::{LowerOptions, build};
use crate::diag::{SourceMap, render};
use crate::ir::{Config, HttpAction, UriPart};

fn run(text: &str) -> (Option<Config>, String) {
    let mut map = SourceMap::new();
    let f = map.add("t.cfg", text);
    let (ir, diags) = build(&mut map, &[f], &LowerOptions::default(), &|_| None);
    let ir = if diags.has_errors() { None } else { ir };
    (ir, render(&map, &diags))
}

const FE: &str = "frontend fe\n    mode http\n    bind 127.0.0.1:8080\n    timeout client 5s\n";

#[test]
fn after_response_rules_are_lowered_with_their_actions() {
    let (ir, out) = run(&format!(
        "{FE}    http-after-response set-header x-a b\n    http-after-response set-status 503 reason \"Slow down\" if {{ status eq 200 }}\n    http-after-response allow\n    http-response set-status 201\n    http-request replace-path /a(.*) /b\\1\n    http-request replace-uri ^(.*)$ \\1\n    http-request replace-pathq x y\n"
    ));
    let ir = ir.unwrap_or_else(|| panic!("{out}"));
    let c = &ir.frontends[0].common;
    assert_eq!(c.http_after_response.len(), 3);
    assert!(matches!(
        &c.http_after_response[1].action,
        HttpAction::SetStatus { status: 503, reason: Some(r) } if r == "Slow down"
    ));
    assert!(c.http_after_response[1].cond.is_some());
    assert!(matches!(
        c.http_response[0].action,
        HttpAction::SetStatus {
            status: 201,
            reason: None
        }
    ));
    let parts: Vec<UriPart> = c
        .http_request
        .iter()
        .filter_map(|r| match &r.action {
            HttpAction::ReplaceUri { part, .. } => Some(*part),
            _ => None,
        })
        .collect();
    assert_eq!(parts, [UriPart::Path, UriPart::Uri, UriPart::PathQuery]);
}

#[test]
fn after_response_refuses_what_haproxy_refuses() {
    for (rule, needle) in [
        // Not an after-response action in HAProxy 2.6 either.
        (
            "http-after-response deny",
            "unknown http-after-response action",
        ),
        (
            "http-after-response strict-mode on",
            "not supported by portcullis",
        ),
        ("http-after-response set-status 99", "between 100 and 999"),
        ("http-after-response set-status 200 why x", "reason"),
        (
            "http-after-response bogus",
            "unknown http-after-response action",
        ),
        ("http-request replace-path ( /x", "invalid regex"),
    ] {
        let (ir, out) = run(&format!("{FE}    {rule}\n"));
        assert!(ir.is_none(), "{rule} accepted");
        assert!(out.contains(needle), "{rule}: {out}");
    }
}

#[test]
fn rules_are_refused_in_anonymous_defaults_like_haproxy() {
    for kw in ["http-request", "http-response", "http-after-response"] {
        let (ir, out) = run(&format!(
            "defaults\n    mode http\n    {kw} set-header x y\n{FE}"
        ));
        assert!(ir.is_none(), "{kw} accepted in anonymous defaults");
        assert!(
            out.contains(&format!(
                "'{kw}' not allowed in anonymous 'defaults' section"
            )),
            "{out}"
        );
        // A named defaults section passes them on.
        let (ir, out) = run(&format!(
            "defaults d\n    mode http\n    {kw} set-header x y\nfrontend fe from d\n    bind 127.0.0.1:8080\n    timeout client 5s\n"
        ));
        assert!(ir.is_some(), "{out}");
    }
}

#[test]
fn stats_bind_process_accepts_only_process_one_like_haproxy() {
    for ok in ["1", "all", "odd", "even", "1-1", "1 1"] {
        let (ir, out) = run(&format!("global\n    stats bind-process {ok}\n{FE}"));
        assert!(ir.is_some(), "{ok}: {out}");
        assert!(out.contains("'stats bind-process' has no effect"), "{out}");
    }
    for (bad, needle) in [
        ("2", "It supports numbers from 1 to 1"),
        ("1-2", "It supports numbers from 1 to 1"),
        ("0", "It supports numbers from 1 to 1"),
        ("x", "'x' is not a valid number/range"),
    ] {
        let (ir, out) = run(&format!("global\n    stats bind-process {bad}\n{FE}"));
        assert!(ir.is_none(), "{bad} accepted");
        assert!(out.contains(needle), "{bad}: {out}");
    }
}

#[test]
fn tune_maxaccept_is_parsed_and_warned_about() {
    let (ir, out) = run(&format!("global\n    tune.maxaccept -1\n{FE}"));
    assert!(ir.is_some(), "{out}");
    assert!(out.contains("'tune.maxaccept' has no effect"), "{out}");
    for bad in ["abc", "-2"] {
        let (ir, _) = run(&format!("global\n    tune.maxaccept {bad}\n{FE}"));
        assert!(ir.is_none(), "{bad} accepted");
    }
}

#[test]
fn uuid_accepts_only_version_4() {
    let (ir, out) = run(&format!("{FE}    http-request set-header x %[uuid(4)]\n"));
    assert!(ir.is_some(), "{out}");
    let (ir, out) = run(&format!("{FE}    http-request set-header x %[uuid(1)]\n"));
    assert!(ir.is_none());
    assert!(out.contains("Unsupported UUID version"), "{out}");
}
