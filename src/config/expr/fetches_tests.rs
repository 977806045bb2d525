//! The fetch table: names, builders, availability classes.

use super::super::names::{HAPROXY_ACL_ONLY_KEYWORDS, HAPROXY_FETCHES};
use super::*;

#[test]
fn every_supported_name_is_a_haproxy_keyword() {
    for s in FETCH_SPECS {
        assert!(
            HAPROXY_FETCHES.contains(&s.name),
            "{} is not a HAProxy 2.6 fetch",
            s.name
        );
    }
    for k in ACL_KEYWORDS {
        assert!(
            HAPROXY_ACL_ONLY_KEYWORDS.contains(&k.name) || HAPROXY_FETCHES.contains(&k.name),
            "{} is not a HAProxy 2.6 ACL keyword",
            k.name
        );
        assert!(
            spec(k.fetch).is_some(),
            "{} derives from unsupported {}",
            k.name,
            k.fetch
        );
    }
}

#[test]
fn every_supported_fetch_builds_with_default_args() {
    for s in FETCH_SPECS {
        let args: Vec<Option<ArgVal>> = s
            .args
            .iter()
            .take(s.min)
            .map(|k| match k {
                ArgKind::Int => Some(ArgVal::Int(1)),
                ArgKind::Ipv4 => Some(ArgVal::Ipv4(Ipv4Addr::LOCALHOST)),
                ArgKind::Ipv6 => Some(ArgVal::Ipv6(Ipv6Addr::LOCALHOST)),
                ArgKind::Str | ArgKind::Userlist => Some(ArgVal::Str(match s.name {
                    "var" => "txn.x".into(),
                    "bool" => "true".into(),
                    "bin" => "00".into(),
                    _ => "GET".into(),
                })),
            })
            .collect();
        assert!(build(s.name, &args, HttpDir::Request).is_ok(), "{}", s.name);
    }
}

#[test]
fn hdr_cannot_be_logged_but_status_can() {
    let hdr = Fetch::Hdr {
        dir: HttpDir::Request,
        name: None,
        occurrence: None,
        full: false,
    };
    assert!(!class_of_keyword("hdr", &hdr).available_at(Stage::Log));
    assert!(class_of_keyword("hdr", &hdr).available_at(Stage::HttpResponse));
    assert!(class_of(&Fetch::Status).available_at(Stage::Log));
    assert!(!class_of(&Fetch::Path).available_at(Stage::Log));
    assert!(!class_of(&Fetch::SslCUsed).available_at(Stage::TcpConnection));
    assert!(class_of(&Fetch::Src).available_at(Stage::TcpConnection));
    assert!(class_of(&Fetch::Method).available_at(Stage::Log));
}

#[test]
fn var_names_need_a_scope() {
    assert!(var_name("txn.host").is_ok());
    assert!(var_name("check.x").is_ok());
    assert!(var_name("host").is_err());
    assert!(var_name("txn.").is_err());
    assert!(var_name("txn.a-b").is_err());
}

#[test]
fn hex_parsing_matches_haproxy() {
    assert_eq!(parse_hex("0aFF"), Ok(vec![0x0a, 0xff]));
    assert!(parse_hex("0").is_err());
    assert_eq!(
        parse_hex("0g"),
        Err("an hex digit is expected (found 'g')".into())
    );
}
