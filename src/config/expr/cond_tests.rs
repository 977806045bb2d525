//! Conditions: if/unless, AND/OR/NOT, named, predefined and anonymous ACLs.

use super::super::testutil::{errors, warnings, with_ctx, words};
use super::super::{Stage, parse_condition};
use crate::diag::Diagnostics;
use crate::ir::expr::{AclRef, Condition, Matcher, Mode, PredefinedAcl};

fn cond_in(
    mode: Mode,
    stage: Stage,
    known: &[&str],
    text: &str,
) -> (Option<Condition>, Diagnostics) {
    let mut diags = Diagnostics::new();
    let ws = words(text);
    let c = with_ctx(mode, stage, known, |ctx| {
        parse_condition(&ws, ctx, &mut diags)
    });
    (c, diags)
}

fn cond(text: &str) -> Condition {
    match cond_in(
        Mode::Http,
        Stage::HttpRequest,
        &["a", "b", "c", "TRUE"],
        text,
    ) {
        (Some(c), d) if !d.has_errors() => c,
        (_, d) => panic!("{text}: {d:?}"),
    }
}

fn cond_err(text: &str) -> String {
    let (c, d) = cond_in(Mode::Http, Stage::HttpRequest, &["a", "b"], text);
    assert!(c.is_none(), "{text} parsed");
    errors(&d).into_iter().next().unwrap_or_default()
}

/// A compact rendering: `!a b | c` for (!a AND b) OR c.
fn shape(c: &Condition) -> String {
    let groups: Vec<String> = c
        .any_of
        .iter()
        .map(|g| {
            g.iter()
                .map(|t| {
                    let name = match &t.acl {
                        AclRef::Named(n) => n.clone(),
                        AclRef::Predefined(p) => format!("@{}", p.name()),
                        AclRef::Anonymous(a) => format!("{{{}}}", a.sample.keyword),
                    };
                    if t.negated { format!("!{name}") } else { name }
                })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    format!(
        "{}{}",
        if c.unless { "unless " } else { "" },
        groups.join(" | ")
    )
}

#[test]
fn and_or_not_build_an_or_of_ands() {
    assert_eq!(shape(&cond("if a")), "a");
    assert_eq!(shape(&cond("unless a")), "unless a");
    assert_eq!(shape(&cond("if a b")), "a b");
    assert_eq!(shape(&cond("if a || b")), "a | b");
    assert_eq!(shape(&cond("if a or b OR c")), "a | b | c");
    assert_eq!(shape(&cond("if !a b || !c")), "!a b | !c");
    assert_eq!(shape(&cond("if ! a")), "!a");
    assert_eq!(shape(&cond("if !!a")), "a");
    assert_eq!(shape(&cond("if a !b c or b")), "a !b c | b");
}

#[test]
fn anonymous_acls_sit_between_braces() {
    let c = cond("if METH_POST { req.hdr_cnt(content-length) eq 0 }");
    assert_eq!(shape(&c), "@METH_POST {req.hdr_cnt}");
    let c = cond("unless { ssl_c_used } { ssl_c_verify 0 }");
    assert_eq!(shape(&c), "unless {ssl_c_used} {ssl_c_verify}");
    let c = cond("if !{ ssl_fc } || a");
    assert_eq!(shape(&c), "!{ssl_fc} | a");
    match &c.any_of[0][0].acl {
        AclRef::Anonymous(t) => assert_eq!(t.matcher, Matcher::Bool),
        other => panic!("{other:?}"),
    }
    // The term's span covers both braces.
    let span = c.any_of[0][0].span;
    assert_eq!((span.start, span.end), (3, 14));
}

#[test]
fn every_predefined_acl_is_known() {
    for p in PredefinedAcl::ALL {
        let (c, d) = cond_in(
            Mode::Http,
            Stage::HttpRequest,
            &[],
            &format!("if {}", p.name()),
        );
        let c = c.unwrap_or_else(|| panic!("{}: {d:?}", p.name()));
        assert!(matches!(c.any_of[0][0].acl, AclRef::Predefined(q) if q == p));
        assert!(!d.has_errors());
    }
}

#[test]
fn named_acls_override_predefined_ones() {
    assert_eq!(shape(&cond("if TRUE")), "TRUE");
    assert_eq!(shape(&cond("if FALSE")), "@FALSE");
}

#[test]
fn unknown_acl_names_are_errors_with_hints() {
    assert_eq!(cond_err("if nope"), "no such ACL 'nope' in test rule");
    let (_, d) = cond_in(Mode::Http, Stage::HttpRequest, &[], "if METH_GETT");
    assert_eq!(
        d.iter().next().and_then(|d| d.help.clone()).as_deref(),
        Some("did you mean 'METH_GET'?")
    );
    let (_, d) = cond_in(Mode::Http, Stage::HttpRequest, &[], "if ssl_c_used");
    let help = d
        .iter()
        .next()
        .and_then(|d| d.help.clone())
        .unwrap_or_default();
    assert!(
        help.starts_with("'ssl_c_used' is a fetch, not an ACL name"),
        "{help}"
    );
    // The caret skips the '!'.
    let (_, d) = cond_in(Mode::Http, Stage::HttpRequest, &[], "if !nope");
    let span = d
        .iter()
        .next()
        .and_then(|d| d.span)
        .unwrap_or_else(|| panic!("no span"));
    assert_eq!((span.start, span.end), (4, 8));
}

#[test]
fn malformed_conditions_are_refused() {
    assert_eq!(
        cond_err("when a"),
        "conditions must start with either 'if' or 'unless' in test rule"
    );
    assert_eq!(cond_err("if"), "missing condition after 'if' in test rule");
    assert_eq!(cond_err("if a ||"), "condition ends with '||' in test rule");
    assert_eq!(cond_err("if a or"), "condition ends with 'or' in test rule");
    assert_eq!(
        cond_err("if || a"),
        "'||' must be between two ACLs in test rule"
    );
    assert_eq!(
        cond_err("if a || || b"),
        "'||' must be between two ACLs in test rule"
    );
    assert_eq!(
        cond_err("if a !"),
        "'!' at the end of the condition is not followed by an ACL in test rule"
    );
    assert_eq!(
        cond_err("if ! || a"),
        "'!' must be followed by an ACL, not '||' in test rule"
    );
    assert_eq!(
        cond_err("if { ssl_c_used"),
        "missing closing '}' in condition in test rule"
    );
    assert_eq!(cond_err("if { }"), "empty anonymous ACL '{ }' in test rule");
    assert_eq!(
        cond_err("if a }"),
        "unexpected '}' without a matching '{' in test rule"
    );
    assert_eq!(
        cond_err("if { ssl_c_foo }"),
        "unknown fetch method 'ssl_c_foo' in test rule"
    );
}

#[test]
fn all_errors_of_a_condition_are_reported() {
    let (c, d) = cond_in(Mode::Http, Stage::HttpRequest, &[], "if x { nope } y");
    assert!(c.is_none());
    assert_eq!(errors(&d).len(), 3, "{d:?}");
}

#[test]
fn anonymous_acl_unavailable_at_the_stage_warns() {
    let (c, d) = cond_in(Mode::Http, Stage::TcpConnection, &[], "if { path /x }");
    assert!(c.is_some());
    assert_eq!(
        warnings(&d),
        vec![
            "anonymous ACL will never match in test rule because it uses keyword 'path' which is not available in a 'tcp-request connection' rule"
        ]
    );
    let (_, d) = cond_in(Mode::Http, Stage::TcpConnection, &[], "if { ssl_c_used }");
    assert_eq!(warnings(&d).len(), 1);
    let (_, d) = cond_in(Mode::Http, Stage::TcpSession, &[], "if { ssl_c_used }");
    assert!(d.is_empty());
    let (_, d) = cond_in(
        Mode::Http,
        Stage::HttpRequest,
        &[],
        "if { res.hdr(x) -m found }",
    );
    assert_eq!(warnings(&d).len(), 1);
}

#[test]
fn predefined_acls_follow_stage_and_mode_rules() {
    let (c, d) = cond_in(Mode::Http, Stage::TcpConnection, &[], "if METH_GET");
    assert!(c.is_some());
    assert_eq!(
        warnings(&d),
        vec![
            "acl 'METH_GET' will never match in test rule because it uses keyword 'method' which is not available in a 'tcp-request connection' rule"
        ]
    );
    let (c, d) = cond_in(Mode::Tcp, Stage::TcpContent, &[], "if HTTP");
    assert!(c.is_some() && d.is_empty(), "{d:?}");
    let (c, d) = cond_in(Mode::Tcp, Stage::TcpContent, &[], "if METH_GET");
    assert!(c.is_none());
    assert_eq!(
        errors(&d),
        vec![
            "predefined ACL 'METH_GET' is not supported by portcullis in 'mode tcp' proxies (it needs HTTP, which portcullis only parses in 'mode http'), in test rule"
        ]
    );
    let (_, d) = cond_in(Mode::Tcp, Stage::TcpConnection, &[], "if LOCALHOST || TRUE");
    assert!(d.is_empty());
}

#[test]
fn raw_buffer_predefined_acls_in_http_mode_warn() {
    let (c, d) = cond_in(Mode::Http, Stage::HttpRequest, &[], "if REQ_CONTENT");
    assert!(c.is_some());
    assert_eq!(
        warnings(&d),
        vec!["L6 sample fetch 'req.len' is ignored in 'mode http' proxies, in test rule"]
    );
    let (_, d) = cond_in(
        Mode::Tcp,
        Stage::TcpContent,
        &[],
        "if REQ_CONTENT RDP_COOKIE",
    );
    assert!(d.is_empty(), "{d:?}");
}
