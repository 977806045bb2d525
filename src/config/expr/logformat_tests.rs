//! Log-format strings: aliases, flags, samples, literals and errors.

use super::super::testutil::{errors, warnings, with_ctx, word};
use super::super::{Stage, parse_log_format};
use crate::diag::Diagnostics;
use crate::ir::expr::{CertField, Conv, Fetch, LogAlias, LogFlags, LogFormat, LogPart, Mode};

fn lf_in(mode: Mode, stage: Stage, text: &str) -> (Option<LogFormat>, Diagnostics) {
    let mut diags = Diagnostics::new();
    let w = word(text);
    let f = with_ctx(mode, stage, &[], |ctx| {
        parse_log_format(&w, ctx, &mut diags)
    });
    (f, diags)
}

fn lf(text: &str) -> LogFormat {
    match lf_in(Mode::Http, Stage::HttpRequest, text) {
        (Some(f), d) if !d.has_errors() => f,
        (_, d) => panic!("{text}: {d:?}"),
    }
}

fn lf_err(mode: Mode, stage: Stage, text: &str) -> String {
    let (f, d) = lf_in(mode, stage, text);
    assert!(f.is_none(), "{text} parsed");
    errors(&d).into_iter().next().unwrap_or_default()
}

const PLAIN: LogFlags = LogFlags {
    quote: false,
    hex: false,
    escape: false,
    mandatory: false,
};

#[test]
fn every_haproxy_26_alias_parses() {
    for name in LogAlias::names() {
        let f = lf(&format!("%{name}"));
        match f.parts.as_slice() {
            [LogPart::Alias { alias, flags }] => {
                assert_eq!(alias.name(), name);
                assert_eq!(*flags, PLAIN);
            }
            other => panic!("{name}: {other:?}"),
        }
    }
}

#[test]
fn text_aliases_and_samples_are_split_into_parts() {
    let f = lf("%ci:%cp [%tr] %[ssl_c_s_dn(cn)] 100%%");
    let kinds: Vec<String> = f
        .parts
        .iter()
        .map(|p| match p {
            LogPart::Text(t) => format!("'{t}'"),
            LogPart::Alias { alias, .. } => format!("%{}", alias.name()),
            LogPart::Sample { sample, .. } => format!("[{}]", sample.keyword),
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "%ci",
            "':'",
            "%cp",
            "' ['",
            "%tr",
            "'] '",
            "[ssl_c_s_dn]",
            "' 100%'"
        ]
    );
    assert!(!f.is_constant());
    assert!(lf("plain text").is_constant());
    // Alias names are greedy over letters and digits, like HAProxy.
    let f = lf("%Tt%Tw/%HPO");
    assert_eq!(f.parts.len(), 4);
}

#[test]
fn samples_carry_their_converters() {
    let f = lf("%[ssl_c_serial,hex,lower]");
    match f.parts.as_slice() {
        [LogPart::Sample { sample, flags }] => {
            assert!(matches!(
                sample.fetch,
                Fetch::Cert {
                    field: CertField::Serial,
                    ..
                }
            ));
            let convs: Vec<Conv> = sample.converters.iter().map(|c| c.conv.clone()).collect();
            assert_eq!(convs, vec![Conv::Hex, Conv::Lower]);
            assert_eq!(*flags, PLAIN);
        }
        other => panic!("{other:?}"),
    }
    // A quoted argument may hold ']' and spaces.
    let f = lf(r#"%[req.hdr(x),regsub("[] ]",_,g)]"#);
    assert_eq!(f.parts.len(), 1);
}

#[test]
fn flags_apply_per_part_and_o_sets_defaults() {
    let f = lf("%{+Q}r %{+X}ci %{+Q,+E}[src] %{-M}b");
    let flags: Vec<LogFlags> = f
        .parts
        .iter()
        .filter_map(|p| match p {
            LogPart::Alias { flags, .. } | LogPart::Sample { flags, .. } => Some(*flags),
            LogPart::Text(_) => None,
        })
        .collect();
    assert_eq!(
        flags,
        vec![
            LogFlags {
                quote: true,
                ..PLAIN
            },
            LogFlags { hex: true, ..PLAIN },
            LogFlags {
                quote: true,
                escape: true,
                ..PLAIN
            },
            PLAIN,
        ]
    );
    let f = lf("%{+Q}o %b %{-Q}s");
    let flags: Vec<bool> = f
        .parts
        .iter()
        .filter_map(|p| match p {
            LogPart::Alias { flags, .. } => Some(flags.quote),
            _ => None,
        })
        .collect();
    assert_eq!(flags, vec![true, false]);
}

#[test]
fn log_lines_merge_spaces_and_print_dashes() {
    let (f, d) = lf_in(Mode::Http, Stage::Log, "%ci   %b");
    let f = f.unwrap_or_else(|| panic!("{d:?}"));
    assert!(matches!(&f.parts[1], LogPart::Text(t) if t == " "));
    assert!(matches!(&f.parts[0], LogPart::Alias { flags, .. } if flags.mandatory));
    // Header values keep their spaces.
    let f = lf("a   b");
    assert!(matches!(&f.parts[0], LogPart::Text(t) if t == "a   b"));
}

#[test]
fn syntax_errors_follow_haproxy() {
    let e = |t: &str| lf_err(Mode::Http, Stage::HttpRequest, t);
    assert_eq!(
        e("%ci:%cp %cip"),
        "no such format variable 'cip'. If you wanted to emit the '%' character verbatim, you need to use '%%' in test rule"
    );
    assert_eq!(e("100%"), "truncated line after '%' in test rule");
    assert_eq!(
        e("50% x"),
        "unexpected variable name near ' ' at position 3 in test rule"
    );
    assert_eq!(e("%[src"), "missing ']' after 'src' in test rule");
    assert_eq!(
        e("%[src,lower x]"),
        "expected ']' after 'src,lower', but found ' ' in test rule"
    );
    assert_eq!(e("%{+Q"), "truncated line after '+Q' in test rule");
    assert_eq!(
        e("%{+Q}"),
        "parse argument modifier without variable name near '%{+Q}' in test rule"
    );
    assert_eq!(
        e("%{+Q} b"),
        "parse argument modifier without variable name near '%{+Q}' in test rule"
    );
    assert_eq!(e("%[]"), "missing fetch method in test rule");
    assert_eq!(
        e("%[ssl_c_used,]"),
        "missing converter name after ',' in test rule"
    );
    assert_eq!(
        e("%[ssl_c_used(1)]"),
        "'ssl_c_used' does not take arguments in test rule"
    );
    // Stricter than HAProxy, which ignores these silently.
    assert_eq!(e("%{+Z}b"), "unknown log-format flag 'Z' in test rule");
    assert_eq!(
        e("%{Q}b"),
        "log-format flag 'Q' must start with '+' or '-' in test rule"
    );
    assert!(e("%-x").starts_with("unexpected variable name near '-'"));
}

#[test]
fn error_spans_point_inside_the_word() {
    let (_, d) = lf_in(Mode::Http, Stage::HttpRequest, "%ci %[ssl_c_foo,lower]");
    let span = d
        .iter()
        .next()
        .and_then(|d| d.span)
        .unwrap_or_else(|| panic!("no span"));
    assert_eq!((span.start, span.end), (6, 15));
    let (_, d) = lf_in(Mode::Http, Stage::HttpRequest, "x %cip");
    let span = d
        .iter()
        .next()
        .and_then(|d| d.span)
        .unwrap_or_else(|| panic!("no span"));
    assert_eq!((span.start, span.end), (3, 6));
}

#[test]
fn http_aliases_need_mode_http() {
    assert_eq!(
        lf_err(Mode::Tcp, Stage::Log, "%r %HM"),
        "format variable 'r' is reserved for HTTP mode in test rule"
    );
    let (f, d) = lf_in(Mode::Tcp, Stage::Log, "%ci %ts %sslv %[ssl_c_s_dn]");
    assert!(f.is_some() && d.is_empty(), "{d:?}");
}

#[test]
fn samples_must_be_available_where_the_string_is_rendered() {
    let e = lf_err(Mode::Http, Stage::Log, "%[path] %[status]");
    assert_eq!(
        e,
        "fetch 'path' needs 'HTTP request headers', which is not available in a log-format string in test rule"
    );
    let e = lf_err(Mode::Http, Stage::Log, "%[hdr(host)]");
    assert!(
        e.contains("needs 'HTTP request headers,HTTP response headers'"),
        "{e}"
    );
    let (f, d) = lf_in(
        Mode::Http,
        Stage::Log,
        "%[method] %[status] %[var(txn.x)] %[ssl_c_s_dn] %[src]",
    );
    assert!(f.is_some() && d.is_empty(), "{d:?}");
    let e = lf_err(Mode::Http, Stage::HttpRequest, "%[res.hdr(foo)]");
    assert!(
        e.starts_with("fetch 'res.hdr' needs 'HTTP response headers'"),
        "{e}"
    );
}

#[test]
fn raw_buffer_fetch_in_an_http_format_warns() {
    let (f, d) = lf_in(Mode::Http, Stage::HttpRequest, "%[req.ssl_sni]");
    assert!(f.is_some());
    assert_eq!(
        warnings(&d),
        vec!["L6 sample fetch <req.ssl_sni> ignored in HTTP log-format string in test rule"]
    );
}
