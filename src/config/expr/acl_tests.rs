//! ACL criteria: implied and forced match methods, flags, typed patterns,
//! pattern files, and the warnings for HAProxy's silent traps.

use super::super::testutil::{errors, warnings, with_ctx, words};
use super::super::{Stage, check_named_acl_use, parse_acl_criterion};
use crate::diag::Diagnostics;
use crate::ir::expr::{
    AclTerm, Fetch, HttpDir, HttpMethod, IntRange, IpNet, Matcher, Mode, StrMatch, StrPattern,
};
use std::io::Write;
use std::net::{Ipv4Addr, Ipv6Addr};

/// Parses an `acl` line's criterion; returns the term and all diagnostics.
fn acl_in(mode: Mode, stage: Stage, text: &str) -> (Option<AclTerm>, Diagnostics) {
    let mut diags = Diagnostics::new();
    let ws = words(text);
    let term = with_ctx(mode, stage, &[], |ctx| {
        parse_acl_criterion(&ws, ctx, &mut diags)
    });
    (term, diags)
}

fn acl(text: &str) -> (Option<AclTerm>, Diagnostics) {
    acl_in(Mode::Http, Stage::Acl, text)
}

fn matcher(text: &str) -> Matcher {
    match acl(text) {
        (Some(t), d) if !d.has_errors() => t.matcher,
        (_, d) => panic!("{text}: {d:?}"),
    }
}

fn acl_err(text: &str) -> String {
    let (t, d) = acl(text);
    assert!(t.is_none(), "{text} parsed");
    errors(&d).into_iter().next().unwrap_or_default()
}

fn strs(kind: StrMatch, values: &[&str]) -> Matcher {
    Matcher::Str {
        kind,
        patterns: values
            .iter()
            .map(|v| StrPattern {
                value: v.to_string(),
                ignore_case: false,
            })
            .collect(),
    }
}

#[test]
fn derived_keywords_imply_their_match_method() {
    assert_eq!(matcher("path /a"), strs(StrMatch::Exact, &["/a"]));
    assert_eq!(
        matcher("path_beg /api /admin"),
        strs(StrMatch::Prefix, &["/api", "/admin"])
    );
    assert_eq!(matcher("path_end .php"), strs(StrMatch::Suffix, &[".php"]));
    assert_eq!(matcher("path_sub adm"), strs(StrMatch::Substring, &["adm"]));
    assert_eq!(matcher("path_dir api"), strs(StrMatch::Dir, &["api"]));
    assert_eq!(
        matcher("path_dom example"),
        strs(StrMatch::Dom, &["example"])
    );
    assert_eq!(matcher("url_beg /"), strs(StrMatch::Prefix, &["/"]));
    assert_eq!(matcher("url_end x"), strs(StrMatch::Suffix, &["x"]));
    assert_eq!(matcher("url_sub x"), strs(StrMatch::Substring, &["x"]));
    assert_eq!(
        matcher("base_beg example.com/"),
        strs(StrMatch::Prefix, &["example.com/"])
    );
    assert_eq!(
        matcher("hdr_end(host) .example.com"),
        strs(StrMatch::Suffix, &[".example.com"])
    );
    assert_eq!(
        matcher("hdr_dom(host) example.com"),
        strs(StrMatch::Dom, &["example.com"])
    );
    assert_eq!(
        matcher("hdr_beg(host) www."),
        strs(StrMatch::Prefix, &["www."])
    );
    assert_eq!(
        matcher("hdr_sub(user-agent) curl"),
        strs(StrMatch::Substring, &["curl"])
    );
    assert_eq!(
        matcher("hdr(host) a.example"),
        strs(StrMatch::Exact, &["a.example"])
    );
    assert_eq!(
        matcher("ssl_fc_sni_end .example.com"),
        strs(StrMatch::Suffix, &[".example.com"])
    );
    assert_eq!(
        matcher("req_ssl_sni a.example"),
        strs(StrMatch::Exact, &["a.example"])
    );
    assert_eq!(matcher("req_ver 1.1"), strs(StrMatch::Exact, &["1.1"]));
    assert_eq!(
        matcher("path_len 1 10:20"),
        Matcher::Len(vec![
            IntRange {
                min: Some(1),
                max: Some(1)
            },
            IntRange {
                min: Some(10),
                max: Some(20)
            }
        ])
    );
    assert_eq!(
        matcher("hdr_len(x) gt 3"),
        Matcher::Len(vec![IntRange {
            min: Some(4),
            max: None
        }])
    );
    for text in [
        "path_reg ^/api/v[0-9]+/",
        "url_reg ^[^/:]*://",
        "hdr_reg(host) ^a",
        "ssl_fc_sni_reg ^[a-z]+\\.example$",
    ] {
        assert!(
            matches!(matcher(text), Matcher::Reg(r) if r.len() == 1),
            "{text}"
        );
    }
    assert_eq!(
        matcher("method GET PURGE"),
        Matcher::Method {
            methods: vec![HttpMethod::Get, HttpMethod::Other("PURGE".into())],
            ignore_case: false
        }
    );
    assert_eq!(
        matcher("http_auth_group(L1) admins ops"),
        Matcher::AuthGroup(vec!["admins".into(), "ops".into()])
    );
}

#[test]
fn acl_hdr_keyword_reads_the_request() {
    let (t, _) = acl_in(Mode::Http, Stage::HttpResponse, "hdr(host) a");
    assert!(matches!(
        t.map(|t| t.sample.fetch),
        Some(Fetch::Hdr {
            dir: HttpDir::Request,
            ..
        })
    ));
    let (t, _) = acl("shdr_beg(server) nginx");
    assert!(matches!(
        t.map(|t| t.sample.fetch),
        Some(Fetch::Hdr {
            dir: HttpDir::Response,
            ..
        })
    ));
}

#[test]
fn converter_after_a_derived_keyword_drops_its_implied_method() {
    assert_eq!(matcher("path_beg,lower /a"), strs(StrMatch::Exact, &["/a"]));
    assert_eq!(matcher("method,lower get"), strs(StrMatch::Exact, &["get"]));
}

#[test]
fn default_method_follows_the_sample_type() {
    assert_eq!(matcher("ssl_c_used"), Matcher::Bool);
    assert_eq!(
        matcher("ssl_c_verify 0"),
        Matcher::Int(vec![IntRange {
            min: Some(0),
            max: Some(0)
        }])
    );
    assert_eq!(
        matcher("ssl_fc_sni a.example"),
        strs(StrMatch::Exact, &["a.example"])
    );
    assert_eq!(
        matcher("src 10.0.0.0/8 192.168.1.1 ::1 2001:db8::/32 1.2.3.4/255.255.0.0"),
        Matcher::Ip(vec![
            IpNet::V4 {
                addr: Ipv4Addr::new(10, 0, 0, 0),
                mask: Ipv4Addr::new(255, 0, 0, 0)
            },
            IpNet::V4 {
                addr: Ipv4Addr::new(192, 168, 1, 1),
                mask: Ipv4Addr::BROADCAST
            },
            IpNet::V6 {
                addr: Ipv6Addr::LOCALHOST,
                prefix: 128
            },
            IpNet::V6 {
                addr: "2001:db8::".parse().unwrap_or(Ipv6Addr::UNSPECIFIED),
                prefix: 32
            },
            IpNet::V4 {
                addr: Ipv4Addr::new(1, 2, 3, 4),
                mask: Ipv4Addr::new(255, 255, 0, 0)
            },
        ])
    );
    assert_eq!(
        matcher("ssl_c_serial,hex 0A1B"),
        strs(StrMatch::Exact, &["0A1B"])
    );
}

#[test]
fn integer_operators_and_ranges_follow_haproxy() {
    let r = |min, max| IntRange { min, max };
    assert_eq!(
        matcher("ssl_c_verify gt 5 lt 2 3:4 :9 7:"),
        Matcher::Int(vec![
            r(Some(6), None),
            r(None, Some(1)),
            r(Some(3), Some(4)),
            r(None, Some(9)),
            r(Some(7), None)
        ])
    );
    assert_eq!(
        matcher("dst_port eq 443 ge 8000"),
        Matcher::Int(vec![r(Some(443), Some(443)), r(Some(8000), None)])
    );
    assert_eq!(
        matcher("dst_port le 1023"),
        Matcher::Int(vec![r(None, Some(1023))])
    );
    assert_eq!(
        matcher("dst_port 80-90"),
        Matcher::Int(vec![r(Some(80), Some(90))])
    );
    assert_eq!(
        acl_err("ssl_c_verify abc"),
        "'abc' is not a number in test rule"
    );
    assert_eq!(
        acl_err("ssl_c_verify 5:2"),
        "'5:2' is not a valid number range in test rule"
    );
    assert_eq!(
        acl_err("ssl_c_verify gt x"),
        "'x' is neither a number nor a supported operator in test rule"
    );
    assert!(acl_err("ssl_c_verify gt").contains("operator 'gt' is not followed by a value"));
}

#[test]
fn ip_patterns_are_addresses_not_names() {
    let e = acl_err("src nosuchhost.invalid");
    assert_eq!(
        e,
        "'nosuchhost.invalid' is not a valid IPv4 or IPv6 address in test rule"
    );
    let (_, d) = acl("src -n foo");
    let help = d
        .iter()
        .next()
        .and_then(|d| d.help.clone())
        .unwrap_or_default();
    assert!(help.contains("does not resolve host names"), "{help}");
    assert!(acl_err("src 10.0.0.0/33").contains("is not a valid IPv4 or IPv6 address"));
}

#[test]
fn binary_fetch_needs_a_match_method() {
    let e = acl_err("ssl_c_serial 01");
    assert_eq!(
        e,
        "matching method must be specified first (using '-m') when using a sample fetch of this type ('ssl_c_serial') in test rule"
    );
    let (_, d) = acl("ssl_c_serial 01");
    let help = d
        .iter()
        .next()
        .and_then(|d| d.help.clone())
        .unwrap_or_default();
    assert!(help.starts_with("binary fetch needs -m"), "{help}");
    assert_eq!(
        matcher("ssl_c_serial -m bin 01aB"),
        Matcher::Bin(vec![vec![0x01, 0xab]])
    );
    assert_eq!(
        acl_err("ssl_c_serial -m bin 0g"),
        "an hex digit is expected (found 'g') in test rule"
    );
    // Variables have no static type either.
    assert!(acl_err("var(txn.x) foo").starts_with("matching method must be specified first"));
    assert_eq!(
        matcher("var(txn.x) -m str foo"),
        strs(StrMatch::Exact, &["foo"])
    );
    assert_eq!(matcher("var(txn.x) -m found"), Matcher::Found);
}

#[test]
fn flags_are_parsed_in_order() {
    assert_eq!(
        matcher("hdr(host) -i A.example"),
        Matcher::Str {
            kind: StrMatch::Exact,
            patterns: vec![StrPattern {
                value: "A.example".into(),
                ignore_case: true
            }]
        }
    );
    assert!(matches!(matcher("path -i -m reg ^/A"), Matcher::Reg(r) if r[0].case_insensitive));
    assert_eq!(
        matcher("path -m beg -- -x"),
        strs(StrMatch::Prefix, &["-x"])
    );
    assert_eq!(matcher("path -m sub x"), strs(StrMatch::Substring, &["x"]));
    assert_eq!(matcher("path -m dir x"), strs(StrMatch::Dir, &["x"]));
    assert_eq!(matcher("path -m dom x"), strs(StrMatch::Dom, &["x"]));
    assert_eq!(matcher("path -m end x"), strs(StrMatch::Suffix, &["x"]));
    assert_eq!(
        matcher("path -m len 4"),
        Matcher::Len(vec![IntRange {
            min: Some(4),
            max: Some(4)
        }])
    );
    assert_eq!(matcher("path -m found"), Matcher::Found);
    assert_eq!(matcher("ssl_c_verify -m bool"), Matcher::Bool);
    assert!(matches!(matcher("hdr(x-ip) -m ip 10.0.0.0/8"), Matcher::Ip(v) if v.len() == 1));
    assert!(matches!(matcher("hdr(x) -m int 3"), Matcher::Int(v) if v.len() == 1));
    assert!(matches!(
        matcher("src -m str 127.0.0.1"),
        Matcher::Str { .. }
    ));
    assert!(matches!(matcher("path -u 7 -n /x"), Matcher::Str { .. }));
    assert_eq!(
        acl_err("path -m foo bar"),
        "unknown matching method 'foo' when parsing ACL expression in test rule"
    );
    assert_eq!(
        acl_err("ssl_c_used -m ip 1.2.3.4"),
        "matching method 'ip' cannot be used with fetch keyword 'ssl_c_used' in test rule"
    );
    assert_eq!(
        acl_err("ssl_c_serial -m int 3"),
        "matching method 'int' cannot be used with fetch keyword 'ssl_c_serial' in test rule"
    );
    assert_eq!(
        acl_err("path -z"),
        "'-z' is not a valid ACL option. Please use '--' before any pattern beginning with a '-' in test rule"
    );
    assert!(acl_err("path -u x /a").contains("the argument of -u must be an integer"));
    assert!(acl_err("path -m").contains("missing matching method after '-m'"));
}

fn pattern_file(content: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().unwrap_or_else(|e| panic!("{e}"));
    f.write_all(content.as_bytes())
        .unwrap_or_else(|e| panic!("{e}"));
    f
}

#[test]
fn pattern_files_are_loaded_at_check_time() {
    let f = pattern_file("a.example\n# comment\n  \tb.example\n\n #not a comment\r\n");
    let path = f.path().display().to_string();
    let m = matcher(&format!("hdr(host) -i -f {path} c.example"));
    let values: Vec<(String, bool)> = match m {
        Matcher::Str { patterns, .. } => patterns
            .into_iter()
            .map(|p| (p.value, p.ignore_case))
            .collect(),
        other => panic!("{other:?}"),
    };
    assert_eq!(
        values,
        vec![
            ("a.example".to_string(), true),
            ("b.example".to_string(), true),
            ("#not a comment".to_string(), true),
            ("c.example".to_string(), true),
        ]
    );
    let nets = pattern_file("10.0.0.0/8\n192.168.0.0/16\n");
    let m = matcher(&format!("src -f {}", nets.path().display()));
    assert!(matches!(m, Matcher::Ip(v) if v.len() == 2));
    // A map file contributes its keys.
    let map = pattern_file("/api backend_api\n/static\tstatic\n");
    assert_eq!(
        matcher(&format!("path_beg -M -f {}", map.path().display())),
        strs(StrMatch::Prefix, &["/api", "/static"])
    );
}

#[test]
fn pattern_file_errors_name_the_file_and_line() {
    let e = acl_err("path -f /nonexistent/patterns.lst");
    assert_eq!(
        e,
        "failed to open pattern file </nonexistent/patterns.lst> in test rule"
    );
    let f = pattern_file("10.0.0.0/8\nnot-an-ip\n");
    let e = acl_err(&format!("src -f {}", f.path().display()));
    assert_eq!(
        e,
        format!(
            "'not-an-ip' is not a valid IPv4 or IPv6 address at line 2 of file '{}' in test rule",
            f.path().display()
        )
    );
    let e = acl_err(&format!("path -f {} -m beg", f.path().display()));
    assert!(
        e.contains("'-m' must only be specified before patterns and files"),
        "{e}"
    );
    let e = acl_err(&format!("ssl_c_serial -f {}", f.path().display()));
    assert!(
        e.starts_with("matching method must be specified first"),
        "{e}"
    );
    assert!(acl_err("path -f").contains("missing file name after '-f'"));
    let blank = pattern_file("/a \n");
    let (t, d) = acl(&format!("path -f {}", blank.path().display()));
    assert!(t.is_some());
    assert!(
        warnings(&d).iter().any(|w| w.contains("ends with a blank")),
        "{d:?}"
    );
}

#[test]
fn boolean_criterion_with_patterns_warns() {
    let (t, d) = acl("ssl_c_used ssl_c_verify 0");
    assert_eq!(t.map(|t| t.matcher), Some(Matcher::Bool));
    assert!(!d.has_errors());
    let w: Vec<_> = d.iter().filter(|d| !d.is_error()).collect();
    assert_eq!(w.len(), 1);
    assert_eq!(
        w[0].message,
        "'ssl_c_used' is a boolean criterion: the words after it are ignored in test rule"
    );
    assert_eq!(
        w[0].help.as_deref(),
        Some(
            "one criterion per acl line: `acl has_cert ssl_c_used` then `acl cert_ok ssl_c_verify 0`, and `if has_cert cert_ok`"
        )
    );
    // The label covers the ignored words.
    let span = w[0].span.unwrap_or_else(|| panic!("no span"));
    assert_eq!((span.start, span.end), (11, 25));
    let (_, d) = acl("path -m found /x");
    assert!(
        warnings(&d)
            .iter()
            .any(|w| w.starts_with("'-m found' takes no patterns"))
    );
}

#[test]
fn criterion_without_patterns_warns() {
    let (t, d) = acl("ssl_c_verify");
    assert!(t.is_some());
    assert_eq!(
        warnings(&d),
        vec![
            "no pattern to match against was provided for 'ssl_c_verify' in test rule, so this ACL will never match"
        ]
    );
    for quiet in ["ssl_c_used", "ssl_fc", "path -m found", "path --"] {
        let (_, d) = acl(quiet);
        assert!(d.is_empty(), "{quiet}: {d:?}");
    }
}

#[test]
fn unknown_and_unsupported_criteria() {
    assert_eq!(
        acl_err("ssl_c_foo"),
        "unknown fetch method 'ssl_c_foo' in test rule"
    );
    assert_eq!(
        acl_err("path_foo /a"),
        "unknown fetch method 'path_foo' in test rule"
    );
    assert_eq!(
        acl_err("cook_beg(a) x"),
        "fetch 'cook_beg' is not supported by portcullis in test rule"
    );
    assert_eq!(
        acl_err("req.rdp_cookie_cnt(a) 1"),
        "fetch 'req.rdp_cookie_cnt' is not supported by portcullis in test rule"
    );
    let (_, d) = acl("path_bge /a");
    assert_eq!(
        d.iter().next().and_then(|d| d.help.clone()).as_deref(),
        Some("did you mean 'path_beg'?")
    );
}

#[test]
fn mode_tcp_refuses_http_criteria() {
    let (t, d) = acl_in(Mode::Tcp, Stage::Acl, "path_beg /a");
    assert!(t.is_none());
    assert_eq!(
        errors(&d),
        vec![
            "fetch 'path_beg' is not supported by portcullis in 'mode tcp' proxies (it needs HTTP, which portcullis only parses in 'mode http') in test rule"
        ]
    );
    let (t, _) = acl_in(Mode::Tcp, Stage::Acl, "req.ssl_sni -m end .example.com");
    assert!(t.is_some());
}

#[test]
fn named_acl_used_where_its_fetch_is_unavailable_warns() {
    let (t, _) = acl("path_beg /admin");
    let terms = vec![t.unwrap_or_else(|| panic!("no term"))];
    let mut diags = Diagnostics::new();
    let at = crate::diag::Span {
        file: crate::diag::FileId(0),
        start: 0,
        end: 5,
    };
    with_ctx(Mode::Http, Stage::TcpConnection, &[], |ctx| {
        check_named_acl_use("admin", &terms, ctx, at, &mut diags)
    });
    assert_eq!(
        warnings(&diags),
        vec![
            "acl 'admin' will never match in test rule because it uses keyword 'path_beg' which is not available in a 'tcp-request connection' rule"
        ]
    );
    let mut diags = Diagnostics::new();
    with_ctx(Mode::Http, Stage::HttpRequest, &[], |ctx| {
        check_named_acl_use("admin", &terms, ctx, at, &mut diags)
    });
    assert!(diags.is_empty());
}

#[test]
fn raw_buffer_criteria_in_http_mode_warn() {
    let (t, d) = acl_in(Mode::Http, Stage::Acl, "req_ssl_sni a.example");
    assert!(t.is_some());
    assert_eq!(
        warnings(&d),
        vec!["L6 sample fetch 'req_ssl_sni' is ignored in 'mode http' proxies, in test rule"]
    );
    let (_, d) = acl_in(Mode::Tcp, Stage::Acl, "req_ssl_sni a.example");
    assert!(d.is_empty(), "{d:?}");
}
