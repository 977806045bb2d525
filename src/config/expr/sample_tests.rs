//! Sample expressions: every supported fetch and converter, types, errors.

use super::super::testutil::{errors, sample_err, sample_in, sample_ok, warnings, with_ctx, word};
use super::super::{Stage, parse_sample};
use crate::diag::Diagnostics;
use crate::ir::expr::{
    CertField, CertOf, Conv, DnFormat, DnSelect, Fetch, HttpDir, HttpMethod, JsonInput, Mode,
    SampleType, Sha2Bits, VarCondition, VarName, VarScope,
};
use std::net::{Ipv4Addr, Ipv6Addr};

fn client(field: CertField) -> Fetch {
    Fetch::Cert {
        of: CertOf::Client,
        field,
    }
}

fn front(field: CertField) -> Fetch {
    Fetch::Cert {
        of: CertOf::Frontend,
        field,
    }
}

fn server(field: CertField) -> Fetch {
    Fetch::Cert {
        of: CertOf::Server,
        field,
    }
}

#[test]
fn every_tls_fetch_parses_with_its_type() {
    use SampleType::*;
    let cases: Vec<(&str, Fetch, SampleType)> = vec![
        ("ssl_c_used", Fetch::SslCUsed, Bool),
        ("ssl_c_verify", Fetch::SslCVerify, Int),
        ("ssl_c_err", Fetch::SslCErr, Int),
        ("ssl_c_ca_err", Fetch::SslCCaErr, Int),
        ("ssl_c_ca_err_depth", Fetch::SslCCaErrDepth, Int),
        ("ssl_c_chain_der", Fetch::SslCChainDer, Bin),
        (
            "ssl_c_s_dn",
            client(CertField::SubjectDn(DnSelect::Whole(DnFormat::OneLine))),
            Str,
        ),
        (
            "ssl_c_i_dn",
            client(CertField::IssuerDn(DnSelect::Whole(DnFormat::OneLine))),
            Str,
        ),
        ("ssl_c_serial", client(CertField::Serial), Bin),
        ("ssl_c_sha1", client(CertField::Sha1), Bin),
        ("ssl_c_der", client(CertField::Der), Bin),
        ("ssl_c_notbefore", client(CertField::NotBefore), Str),
        ("ssl_c_notafter", client(CertField::NotAfter), Str),
        ("ssl_c_version", client(CertField::Version), Int),
        ("ssl_c_sig_alg", client(CertField::SigAlg), Str),
        ("ssl_c_key_alg", client(CertField::KeyAlg), Str),
        (
            "ssl_f_s_dn",
            front(CertField::SubjectDn(DnSelect::Whole(DnFormat::OneLine))),
            Str,
        ),
        (
            "ssl_f_i_dn",
            front(CertField::IssuerDn(DnSelect::Whole(DnFormat::OneLine))),
            Str,
        ),
        ("ssl_f_serial", front(CertField::Serial), Bin),
        ("ssl_f_sha1", front(CertField::Sha1), Bin),
        ("ssl_f_der", front(CertField::Der), Bin),
        ("ssl_f_notbefore", front(CertField::NotBefore), Str),
        ("ssl_f_notafter", front(CertField::NotAfter), Str),
        ("ssl_f_version", front(CertField::Version), Int),
        ("ssl_f_sig_alg", front(CertField::SigAlg), Str),
        ("ssl_f_key_alg", front(CertField::KeyAlg), Str),
        ("ssl_fc", Fetch::SslFc, Bool),
        ("ssl_fc_sni", Fetch::SslFcSni, Str),
        ("ssl_fc_has_sni", Fetch::SslFcHasSni, Bool),
        ("ssl_fc_has_crt", Fetch::SslFcHasCrt, Bool),
        ("ssl_fc_protocol", Fetch::SslFcProtocol, Str),
        ("ssl_fc_cipher", Fetch::SslFcCipher, Str),
        ("ssl_fc_alpn", Fetch::SslFcAlpn, Str),
        ("ssl_fc_is_resumed", Fetch::SslFcIsResumed, Bool),
        ("ssl_fc_err", Fetch::SslFcErr, Int),
        (
            "ssl_s_s_dn(CN,-1)",
            server(CertField::SubjectDn(DnSelect::Entry {
                entry: "CN".into(),
                occurrence: -1,
            })),
            Str,
        ),
        (
            "ssl_s_i_dn(,0,rfc2253)",
            server(CertField::IssuerDn(DnSelect::Whole(DnFormat::Rfc2253))),
            Str,
        ),
        ("ssl_s_serial", server(CertField::Serial), Bin),
        ("ssl_s_sha1", server(CertField::Sha1), Bin),
        ("ssl_s_der", server(CertField::Der), Bin),
        ("ssl_s_chain_der", Fetch::SslSChainDer, Bin),
        ("ssl_s_notbefore", server(CertField::NotBefore), Str),
        ("ssl_s_notafter", server(CertField::NotAfter), Str),
        ("ssl_s_version", server(CertField::Version), Int),
        ("ssl_s_sig_alg", server(CertField::SigAlg), Str),
        ("ssl_s_key_alg", server(CertField::KeyAlg), Str),
        ("req.ssl_sni", Fetch::ReqSslSni, Str),
        ("req_ssl_sni", Fetch::ReqSslSni, Str),
    ];
    for (text, fetch, ty) in cases {
        let s = sample_ok(text);
        assert_eq!(s.fetch, fetch, "{text}");
        assert_eq!(s.out_type, ty, "{text}");
        assert_eq!(s.keyword, text.split('(').next().unwrap_or(text));
        assert!(s.converters.is_empty());
    }
    // The server connection's fetches exist on the response side only.
    let server_side: Vec<(&str, Fetch, SampleType)> = vec![
        ("ssl_bc", Fetch::SslBc, Bool),
        ("ssl_bc_is_resumed", Fetch::SslBcIsResumed, Bool),
        ("ssl_bc_protocol", Fetch::SslBcProtocol, Str),
        ("ssl_bc_cipher", Fetch::SslBcCipher, Str),
        ("ssl_bc_alpn", Fetch::SslBcAlpn, Str),
    ];
    for (text, fetch, ty) in server_side {
        let s =
            sample_in(Mode::Http, Stage::HttpResponse, text).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!((s.fetch, s.out_type), (fetch, ty), "{text}");
    }
}

#[test]
fn every_connection_http_and_constant_fetch_parses() {
    use SampleType::*;
    let req = HttpDir::Request;
    let cases: Vec<(&str, Fetch, SampleType)> = vec![
        ("src", Fetch::Src, Ipv4),
        ("dst", Fetch::Dst, Ipv4),
        ("src_port", Fetch::SrcPort, Int),
        ("dst_port", Fetch::DstPort, Int),
        ("path", Fetch::Path, Str),
        ("url", Fetch::Url, Str),
        ("method", Fetch::Method, Meth),
        ("query", Fetch::Query, Str),
        ("base", Fetch::Base, Str),
        ("req.ver", Fetch::ReqVer, Str),
        ("req.proto_http", Fetch::ReqProtoHttp, Bool),
        (
            "hdr(host)",
            Fetch::Hdr {
                dir: req,
                name: Some("host".into()),
                occurrence: None,
                full: false,
            },
            Str,
        ),
        (
            "req.hdr(x-forwarded-for,-1)",
            Fetch::Hdr {
                dir: req,
                name: Some("x-forwarded-for".into()),
                occurrence: Some(-1),
                full: false,
            },
            Str,
        ),
        (
            "req.fhdr(user-agent)",
            Fetch::Hdr {
                dir: req,
                name: Some("user-agent".into()),
                occurrence: None,
                full: true,
            },
            Str,
        ),
        (
            "req.hdr",
            Fetch::Hdr {
                dir: req,
                name: None,
                occurrence: None,
                full: false,
            },
            Str,
        ),
        (
            "hdr_cnt(host)",
            Fetch::HdrCnt {
                dir: req,
                name: Some("host".into()),
                full: false,
            },
            Int,
        ),
        (
            "req.hdr_cnt",
            Fetch::HdrCnt {
                dir: req,
                name: None,
                full: false,
            },
            Int,
        ),
        (
            "req.fhdr_cnt(a)",
            Fetch::HdrCnt {
                dir: req,
                name: Some("a".into()),
                full: true,
            },
            Int,
        ),
        (
            "req.hdr_val(content-length)",
            Fetch::HdrVal {
                dir: req,
                name: Some("content-length".into()),
                occurrence: None,
            },
            Int,
        ),
        (
            "hdr_ip(x-real-ip,1)",
            Fetch::HdrIp {
                dir: req,
                name: Some("x-real-ip".into()),
                occurrence: Some(1),
            },
            Ipv4,
        ),
        (
            "http_auth(L1)",
            Fetch::HttpAuth {
                userlist: "L1".into(),
            },
            Bool,
        ),
        (
            "http_auth_group(L1)",
            Fetch::HttpAuthGroup {
                userlist: "L1".into(),
            },
            Str,
        ),
        ("always_true", Fetch::AlwaysTrue, Bool),
        ("always_false", Fetch::AlwaysFalse, Bool),
        ("str(hello)", Fetch::ConstStr("hello".into()), Str),
        ("int(-42)", Fetch::ConstInt(-42), Int),
        ("bool(true)", Fetch::ConstBool(true), Bool),
        ("bool(0)", Fetch::ConstBool(false), Bool),
        ("bin(00ff)", Fetch::ConstBin(vec![0, 255]), Bin),
        (
            "ipv4(10.0.0.1)",
            Fetch::ConstIpv4(Ipv4Addr::new(10, 0, 0, 1)),
            Ipv4,
        ),
        ("ipv6(::1)", Fetch::ConstIpv6(Ipv6Addr::LOCALHOST), Ipv6),
        ("meth(GET)", Fetch::ConstMeth(HttpMethod::Get), Meth),
        (
            "meth(PURGE)",
            Fetch::ConstMeth(HttpMethod::Other("PURGE".into())),
            Meth,
        ),
    ];
    for (text, fetch, ty) in cases {
        let s = sample_ok(text);
        assert_eq!(s.fetch, fetch, "{text}");
        assert_eq!(s.out_type, ty, "{text}");
    }
    let s = sample_ok("http_auth(L1)");
    assert_eq!(s.userlists().collect::<Vec<_>>(), vec!["L1"]);
}

#[test]
fn response_fetches_parse_in_response_rules() {
    let res = HttpDir::Response;
    let parse = |t: &str| sample_in(Mode::Http, Stage::HttpResponse, t);
    let s = parse("res.hdr(server)").unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(
        s.fetch,
        Fetch::Hdr {
            dir: res,
            name: Some("server".into()),
            occurrence: None,
            full: false
        }
    );
    // `hdr` reads the response in a response rule, the request elsewhere.
    let s = parse("hdr(server)").unwrap_or_else(|e| panic!("{e:?}"));
    assert!(matches!(
        s.fetch,
        Fetch::Hdr {
            dir: HttpDir::Response,
            ..
        }
    ));
    assert!(matches!(
        sample_ok("hdr(host)").fetch,
        Fetch::Hdr {
            dir: HttpDir::Request,
            ..
        }
    ));
    assert_eq!(parse("status").map(|s| s.fetch), Ok(Fetch::Status));
    assert_eq!(parse("res.ver").map(|s| s.fetch), Ok(Fetch::ResVer));
    assert!(matches!(
        parse("res.hdr_cnt(x)").map(|s| s.fetch),
        Ok(Fetch::HdrCnt {
            dir: HttpDir::Response,
            ..
        })
    ));
    assert!(matches!(
        parse("shdr(x)").map(|s| s.fetch),
        Ok(Fetch::Hdr {
            dir: HttpDir::Response,
            ..
        })
    ));
    assert!(matches!(
        parse("res.fhdr(x)").map(|s| s.fetch),
        Ok(Fetch::Hdr { full: true, .. })
    ));
    // `method` stays available after the request.
    assert!(parse("method").is_ok());
}

#[test]
fn dn_arguments_select_an_entry_or_a_format() {
    let dn = |t: &str| match sample_ok(t).fetch {
        Fetch::Cert {
            field: CertField::SubjectDn(d) | CertField::IssuerDn(d),
            ..
        } => d,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        dn("ssl_c_s_dn(cn)"),
        DnSelect::Entry {
            entry: "cn".into(),
            occurrence: 1
        }
    );
    assert_eq!(
        dn("ssl_c_i_dn(CN,-1)"),
        DnSelect::Entry {
            entry: "CN".into(),
            occurrence: -1
        }
    );
    assert_eq!(
        dn("ssl_c_s_dn(,0,rfc2253)"),
        DnSelect::Whole(DnFormat::Rfc2253)
    );
    // HAProxy stops at an empty integer: "expected ')' before ',rfc2253)'".
    assert!(
        sample_err("ssl_f_s_dn(,,rfc2253)").contains("expected type 'integer', but got nothing")
    );
    assert_eq!(dn("ssl_c_s_dn()"), DnSelect::Whole(DnFormat::OneLine));
    // With an entry, the format is irrelevant (HAProxy ignores it).
    assert_eq!(
        dn("ssl_c_s_dn(O,2,rfc2253)"),
        DnSelect::Entry {
            entry: "O".into(),
            occurrence: 2
        }
    );
}

#[test]
fn dn_format_other_than_rfc2253_is_refused() {
    let e = sample_err("ssl_c_s_dn(cn,1,xx)");
    assert_eq!(
        e,
        "invalid argument 3 to 'ssl_c_s_dn': only rfc2253 or a blank value are currently supported as the format argument in test rule"
    );
    let e = sample_err("ssl_c_s_dn(cn,x)");
    assert!(e.contains("failed to parse 'x' as type 'integer'"), "{e}");
}

#[test]
fn dn_occurrence_zero_warns() {
    let mut diags = Diagnostics::new();
    let w = word("ssl_c_s_dn(cn,0)");
    let s = with_ctx(Mode::Http, Stage::HttpRequest, &[], |ctx| {
        parse_sample(&w, ctx, &mut diags)
    });
    assert!(s.is_some());
    assert_eq!(warnings(&diags).len(), 1, "{diags:?}");
}

#[test]
fn var_takes_a_scoped_name_and_a_default() {
    let s = sample_ok("var(txn.host,none)");
    assert_eq!(
        s.fetch,
        Fetch::Var {
            var: VarName {
                scope: VarScope::Txn,
                name: "host".into()
            },
            default: Some("none".into())
        }
    );
    assert_eq!(s.out_type, SampleType::Any);
    for scope in ["proc", "sess", "txn", "req", "res"] {
        assert!(
            sample_in(Mode::Http, Stage::HttpRequest, &format!("var({scope}.x)")).is_ok(),
            "{scope}"
        );
    }
    let e = sample_err("var(foo)");
    assert!(
        e.contains("invalid variable name 'foo'. A variable name must be start by its scope"),
        "{e}"
    );
    let e = sample_err("var()");
    assert!(e.contains("Empty variable name"), "{e}");
    // As in HAProxy, a missing mandatory string is an empty string.
    let e = sample_err("var");
    assert!(e.contains("Empty variable name"), "{e}");
    assert_eq!(sample_ok("str").fetch, Fetch::ConstStr(String::new()));
}

#[test]
fn every_converter_parses_with_its_arguments() {
    let txn = |n: &str| VarName {
        scope: VarScope::Txn,
        name: n.into(),
    };
    let cases: Vec<(&str, Conv)> = vec![
        ("ssl_c_serial,hex", Conv::Hex),
        ("path,lower", Conv::Lower),
        ("path,upper", Conv::Upper),
        ("ssl_c_der,base64", Conv::Base64),
        ("ssl_c_der,sha1", Conv::Sha1),
        ("ssl_c_der,sha2", Conv::Sha2(Sha2Bits::B256)),
        ("ssl_c_der,sha2(224)", Conv::Sha2(Sha2Bits::B224)),
        ("ssl_c_der,sha2(384)", Conv::Sha2(Sha2Bits::B384)),
        ("ssl_c_der,sha2(512)", Conv::Sha2(Sha2Bits::B512)),
        (
            "req.hdr(host),field(1,:)",
            Conv::Field {
                index: 1,
                delimiters: ":".into(),
                count: 1,
            },
        ),
        (
            "req.hdr(host),field(-2,.,2)",
            Conv::Field {
                index: -2,
                delimiters: ".".into(),
                count: 2,
            },
        ),
        (
            "path,word(1,/)",
            Conv::Word {
                index: 1,
                delimiters: "/".into(),
                count: 1,
            },
        ),
        ("ssl_fc_sni,strcmp(txn.host)", Conv::Strcmp(txn("host"))),
        ("json", Conv::Json(JsonInput::Ascii)),
        ("json(utf8s)", Conv::Json(JsonInput::Utf8s)),
        ("url_dec", Conv::UrlDec { in_form: false }),
        ("url_dec(1)", Conv::UrlDec { in_form: true }),
        (
            "int(0),ltime(%Y-%m-%d)",
            Conv::Ltime {
                format: "%Y-%m-%d".into(),
                offset: 0,
            },
        ),
        (
            "int(0),utime(%H:%M,3600)",
            Conv::Utime {
                format: "%H:%M".into(),
                offset: 3600,
            },
        ),
        ("path,length", Conv::Length),
        (
            "ssl_c_der,bytes(2)",
            Conv::Bytes {
                offset: 2,
                length: None,
            },
        ),
        (
            "ssl_c_der,bytes(0,8)",
            Conv::Bytes {
                offset: 0,
                length: Some(8),
            },
        ),
        (
            "concat",
            Conv::Concat {
                prefix: String::new(),
                var: None,
                suffix: String::new(),
            },
        ),
        (
            "concat(<,txn.x,>)",
            Conv::Concat {
                prefix: "<".into(),
                var: Some(txn("x")),
                suffix: ">".into(),
            },
        ),
        (
            "src,ipmask(24)",
            Conv::IpMask {
                v4: Ipv4Addr::new(255, 255, 255, 0),
                v6: None,
            },
        ),
        (
            "src,ipmask(255.255.0.0,64)",
            Conv::IpMask {
                v4: Ipv4Addr::new(255, 255, 0, 0),
                v6: "ffff:ffff:ffff:ffff::".parse().ok(),
            },
        ),
        (
            "path,set-var(txn.p)",
            Conv::SetVar {
                var: txn("p"),
                conditions: vec![],
            },
        ),
        (
            "path,set-var(txn.p,ifnotexists,ifnotempty)",
            Conv::SetVar {
                var: txn("p"),
                conditions: vec![VarCondition::IfNotExists, VarCondition::IfNotEmpty],
            },
        ),
    ];
    for (text, conv) in cases {
        let text = if text.starts_with("json")
            || text.starts_with("url_dec")
            || text.starts_with("concat")
        {
            format!("path,{text}")
        } else {
            text.to_string()
        };
        let s = sample_ok(&text);
        assert_eq!(
            s.converters.last().map(|c| c.conv.clone()),
            Some(conv),
            "{text}"
        );
        assert_eq!(
            Some(s.out_type),
            s.converters.last().map(|c| c.conv.out_type()),
            "{text}"
        );
    }
}

#[test]
fn regsub_takes_a_checked_regex_and_flags() {
    let s = sample_ok(r#"path,regsub("^/api(/v[0-9]+)?",/,gi)"#);
    match &s.converters[0].conv {
        Conv::Regsub {
            regex,
            replacement,
            global,
        } => {
            assert_eq!(regex.source, "^/api(/v[0-9]+)?");
            assert!(regex.case_insensitive);
            assert!(*global);
            assert_eq!(replacement, "/");
        }
        other => panic!("{other:?}"),
    }
    // Backreferences survive argument unescaping (a lone backslash is kept).
    let s = sample_ok(r#"path,regsub("^/(a)/",\1)"#);
    assert!(
        matches!(&s.converters[0].conv, Conv::Regsub { replacement, .. } if replacement == r"\1")
    );
    // A quoted comma is part of the argument.
    let s = sample_ok(r#"req.hdr(x),regsub(",",;,g)"#);
    assert!(matches!(&s.converters[0].conv, Conv::Regsub { regex, .. } if regex.source == ","));
    let e = sample_err("path,regsub(^/(foo,x)");
    assert!(e.contains("regex '^/(foo' is invalid"), "{e}");
    let e = sample_err("path,regsub(a,b,x)");
    assert!(
        e.contains("invalid regex flag 'x', only 'i' and 'g' are supported"),
        "{e}"
    );
}

#[test]
fn converter_chains_follow_haproxy_casts() {
    // Accepted by HAProxy 2.6 (`haproxy -c`).
    for ok in [
        "ssl_c_used,lower",
        "src,hex",
        "ssl_c_serial,lower",
        "path,sha1",
        "ssl_c_verify,ipmask(24)",
        "ssl_c_der,length",
        "ssl_c_serial,field(1,:)",
        "src,ltime(%Y)",
        "ssl_c_der,sha2(256),hex,lower",
        "ssl_c_serial,hex,lower",
        "var(txn.x),ipmask(8)",
        "path,set-var(txn.x),ipmask(8)",
    ] {
        assert!(
            sample_in(Mode::Http, Stage::HttpRequest, ok).is_ok(),
            "{ok}"
        );
    }
    assert_eq!(sample_ok("ssl_c_serial,hex").out_type, SampleType::Str);
    assert_eq!(sample_ok("ssl_c_der,sha2(256)").out_type, SampleType::Bin);
    assert_eq!(sample_ok("path,strcmp(txn.x)").out_type, SampleType::Int);
    assert_eq!(sample_ok("src,ipmask(24)").out_type, SampleType::Ipv4);
    assert_eq!(sample_ok("path,set-var(txn.x)").out_type, SampleType::Any);
}

#[test]
fn converter_on_incompatible_type_is_refused() {
    // Refused by HAProxy 2.6 with "converter 'x' cannot be applied".
    let e = sample_err("ssl_c_serial,ipmask(24)");
    assert_eq!(
        e,
        "converter 'ipmask' cannot be applied to a 'bin' sample in test rule"
    );
    let e = sample_err("method,ltime(%Y)");
    assert_eq!(
        e,
        "converter 'ltime' cannot be applied to a 'meth' sample in test rule"
    );
    assert!(sample_err("ssl_c_used,ipmask(8)").contains("cannot be applied to a 'bool' sample"));
    assert!(sample_in(Mode::Http, Stage::HttpRequest, "src,ipmask(8),lower").is_ok());
    assert!(sample_err("ssl_c_der,utime(%Y)").contains("cannot be applied to a 'bin' sample"));
    assert!(sample_err("ipv6(::1),utime(%Y)").contains("cannot be applied to an 'ipv6' sample"));
}

#[test]
fn converter_argument_errors_follow_haproxy() {
    assert!(sample_err("path,sha2(100)").contains("Unsupported number of bits: '100'"));
    assert!(sample_err("path,field(0,:)").contains("Unexpected value 0 for index"));
    assert!(sample_err("path,field(1,)").contains("Empty separators list"));
    assert!(
        sample_err("path,field")
            .contains("missing arguments to 'field' (got 0/2), type 'integer' expected")
    );
    assert!(sample_err("path,word(x,/)").contains("failed to parse 'x' as type 'integer'"));
    assert!(sample_err("path,strcmp()").contains("missing variable name"));
    assert!(sample_err("path,strcmp").contains("missing variable name"));
    assert!(sample_err("path,strcmp(x)").contains("invalid variable name 'x'"));
    assert!(sample_err("path,json(latin1)").contains("Unexpected input code type"));
    assert!(sample_err("int(1),ltime").contains("missing time format"));
    assert!(sample_err("int(1),ltime(%Q)").contains("unsupported time format conversion '%Q'"));
    assert!(sample_err("path,bytes(-1)").contains("offset must not be negative"));
    assert!(sample_err("path,concat(a,foo,b)").contains("failed to register variable name 'foo'"));
    assert!(sample_err("src,ipmask(33)").contains("expects an IPv4 mask"));
    assert!(sample_err("path,set-var(txn.x,ifmaybe)").contains("unknown condition \"ifmaybe\""));
    assert!(sample_err("path,lower(1)").contains("'lower' does not take arguments"));
    assert!(sample_err("path,sha2(256,1)").contains("too many arguments to 'sha2' (at most 1)"));
}

#[test]
fn unknown_and_unsupported_keywords_are_named() {
    let e = sample_err("ssl_c_foo");
    assert_eq!(e, "unknown fetch method 'ssl_c_foo' in test rule");
    let e = sample_err("cook(session)");
    assert_eq!(
        e,
        "fetch 'cook' is not supported by portcullis in test rule"
    );
    let e = sample_err("path,foo");
    assert_eq!(e, "unknown converter 'foo' in test rule");
    let e = sample_err("path,hex2i");
    assert_eq!(
        e,
        "converter 'hex2i' is not supported by portcullis in test rule"
    );
    // ACL-only keywords are not fetches.
    assert_eq!(
        sample_err("path_beg"),
        "unknown fetch method 'path_beg' in test rule"
    );
}

#[test]
fn did_you_mean_hints_prefer_supported_names() {
    let mut diags = Diagnostics::new();
    let w = word("ssl_c_verfy");
    with_ctx(Mode::Http, Stage::HttpRequest, &[], |ctx| {
        parse_sample(&w, ctx, &mut diags)
    });
    let d = diags
        .iter()
        .next()
        .cloned()
        .unwrap_or_else(|| panic!("no diagnostic"));
    assert_eq!(d.help.as_deref(), Some("did you mean 'ssl_c_verify'?"));
    let mut diags = Diagnostics::new();
    let w = word("path,lowr");
    with_ctx(Mode::Http, Stage::HttpRequest, &[], |ctx| {
        parse_sample(&w, ctx, &mut diags)
    });
    let d = diags
        .iter()
        .next()
        .cloned()
        .unwrap_or_else(|| panic!("no diagnostic"));
    assert_eq!(d.help.as_deref(), Some("did you mean 'lower'?"));
    // The caret sits under the converter inside the word.
    let span = d.span.unwrap_or_else(|| panic!("no span"));
    assert_eq!((span.start, span.end), (5, 9));
}

#[test]
fn syntax_errors_are_reported() {
    assert!(sample_err("").starts_with("missing fetch method"));
    assert!(sample_err(",lower").starts_with("missing fetch method"));
    assert!(sample_err("path,").starts_with("missing converter name after ','"));
    assert!(sample_err("path lower").starts_with("missing comma after 'path'"));
    assert!(
        sample_err("req.hdr(host").starts_with("missing ')' to close the arguments of 'req.hdr'")
    );
    assert!(
        sample_err("req.hdr(\"host)")
            .starts_with("unterminated quote in the arguments of 'req.hdr'")
    );
    assert!(sample_err("ssl_c_used(1)").starts_with("'ssl_c_used' does not take arguments"));
    assert!(
        sample_err("req.hdr(a,1,2)").starts_with("too many arguments to 'req.hdr' (at most 2)")
    );
    assert!(sample_err("http_auth").starts_with("missing arguments to 'http_auth'"));
    assert!(sample_err("http_auth()").contains("missing user list name"));
    assert!(sample_err("bool(maybe)").contains("expects 'true', 'false', '0' or '1'"));
    assert!(sample_err("bin(0g)").contains("an hex digit is expected (found 'g')"));
    assert!(sample_err("ipv4(1.2.3)").contains("failed to parse '1.2.3' as type 'IPv4 address'"));
    assert!(sample_err("req.hdr(a,-11)").contains("header occurrence must be >= -10"));
    assert!(
        sample_err("ssl_c_s_dn(cn,,rfc2253)").contains("expected type 'integer', but got nothing")
    );
    // Empty parentheses and repeated commas are accepted as in HAProxy.
    assert!(sample_in(Mode::Http, Stage::HttpRequest, "ssl_c_used()").is_ok());
    assert_eq!(sample_ok("ssl_c_used,,,lower").converters.len(), 1);
}

#[test]
fn quoted_arguments_are_unescaped() {
    let s = sample_ok(r#"str("a,b)c")"#);
    assert_eq!(s.fetch, Fetch::ConstStr("a,b)c".into()));
    let s = sample_ok(r"str('x\ny')");
    assert_eq!(s.fetch, Fetch::ConstStr(r"x\ny".into()));
    let s = sample_ok(r#"str("x\ty")"#);
    assert_eq!(s.fetch, Fetch::ConstStr("x\ty".into()));
    let s = sample_ok(r"str(a\ b)");
    assert_eq!(s.fetch, Fetch::ConstStr("a b".into()));
}

#[test]
fn fetches_unavailable_at_the_stage_are_errors() {
    let e = sample_in(Mode::Http, Stage::HttpRequest, "res.hdr(foo)")
        .err()
        .unwrap_or_default();
    assert_eq!(
        e,
        vec![
            "fetch 'res.hdr' needs 'HTTP response headers', which is not available in an 'http-request' rule in test rule"
        ]
    );
    let e = sample_in(Mode::Http, Stage::TcpConnection, "path")
        .err()
        .unwrap_or_default();
    assert!(e[0].contains("needs 'HTTP request headers'"), "{e:?}");
    let e = sample_in(Mode::Http, Stage::TcpConnection, "ssl_c_used")
        .err()
        .unwrap_or_default();
    assert!(e[0].contains("needs 'client-side connection'"), "{e:?}");
    assert!(sample_in(Mode::Http, Stage::TcpConnection, "src").is_ok());
    assert!(sample_in(Mode::Http, Stage::TcpSession, "ssl_c_used").is_ok());
    assert!(sample_in(Mode::Http, Stage::HttpResponse, "path").is_err());
    assert!(sample_in(Mode::Http, Stage::HttpResponse, "status").is_ok());
    assert!(sample_in(Mode::Http, Stage::HttpRequest, "status").is_err());
    assert!(sample_in(Mode::Http, Stage::ServerSni, "req.hdr(host)").is_ok());
    assert!(sample_in(Mode::Http, Stage::TcpContent, "req.ssl_sni").is_ok());
    assert!(sample_in(Mode::Http, Stage::HttpResponse, "req.ssl_sni").is_err());
    // `ssl_bc*` need the server connection (HAProxy: response side and
    // logs); `ssl_s_*` are declared like `ssl_c_*` and fail at run time
    // before a server answered.
    let e = sample_in(Mode::Http, Stage::HttpRequest, "ssl_bc_protocol")
        .err()
        .unwrap_or_default();
    assert!(e[0].contains("needs 'server-side connection'"), "{e:?}");
    assert!(sample_in(Mode::Http, Stage::HttpResponse, "ssl_bc_is_resumed").is_ok());
    assert!(sample_in(Mode::Http, Stage::Log, "ssl_bc").is_ok());
    assert!(sample_in(Mode::Http, Stage::TcpSession, "ssl_bc").is_err());
    assert!(sample_in(Mode::Http, Stage::HttpRequest, "ssl_s_sha1").is_ok());
    assert!(sample_in(Mode::Http, Stage::TcpConnection, "ssl_s_der").is_err());
}

#[test]
fn http_fetches_need_mode_http() {
    // tcp-request content reads the buffered request as HTTP/1 (HAProxy
    // 2.6); the response side is not parsed.
    assert!(sample_in(Mode::Tcp, Stage::TcpContent, "path").is_ok());
    assert!(sample_in(Mode::Tcp, Stage::TcpContent, "req.hdr(host)").is_ok());
    let e = sample_in(Mode::Tcp, Stage::TcpResponse, "status")
        .err()
        .unwrap_or_default();
    assert_eq!(
        e,
        vec![
            "fetch 'status' is not supported by portcullis in 'mode tcp' proxies (it needs HTTP, which portcullis only parses in 'mode http') in test rule"
        ]
    );
    assert!(sample_in(Mode::Tcp, Stage::TcpContent, "req.ssl_sni").is_ok());
    assert!(sample_in(Mode::Tcp, Stage::TcpContent, "req.proto_http").is_ok());
    assert!(sample_in(Mode::Tcp, Stage::TcpSession, "ssl_c_s_dn(cn)").is_ok());
    let diags_of = |text: &str| {
        let mut diags = Diagnostics::new();
        let w = word(text);
        with_ctx(Mode::Tcp, Stage::Log, &[], |ctx| {
            parse_sample(&w, ctx, &mut diags)
        });
        errors(&diags)
    };
    assert_eq!(diags_of("req.hdr(host)").len(), 1);
}
