//! ACL criteria and conditions, evaluated as HAProxy 2.6's `acl_exec_cond`
//! (`acl.c`): a criterion tries each value its fetch produces until one
//! matches; named ACLs OR their criteria; a condition ORs groups of ANDed,
//! possibly negated terms, left to right with short-circuit, then `unless`
//! inverts the result.

use super::convert::apply_all;
use super::fetch::fetch;
use super::matcher::{ip_matches, matches};
use super::text::strl2ic;
use super::value::method_from_bytes;
use super::{Txn, headers};
use crate::ir::expr::{AclRef, AclTerm, Condition, HttpMethod, IpNet, PredefinedAcl};
use http::Version;
use std::net::{Ipv4Addr, Ipv6Addr};

/// Whether one ACL criterion matches. A converter failing on a value ends
/// the criterion (HAProxy moves on to the next expression), a value that
/// cannot be cast to the match type is skipped.
pub(super) fn eval_term(term: &AclTerm, t: &mut Txn) -> bool {
    for v in fetch(&term.sample.fetch, t, true) {
        let Some(v) = apply_all(&term.sample.converters, v, t) else {
            return false;
        };
        if matches(&term.matcher, &term.sample, v, t) {
            return true;
        }
    }
    false
}

pub(super) fn eval_cond<'c>(
    c: &Condition,
    acls: &dyn Fn(&str) -> &'c [AclTerm],
    t: &mut Txn,
) -> bool {
    let any = c.any_of.iter().any(|group| {
        group.iter().all(|term| {
            let hit = match &term.acl {
                AclRef::Named(name) => acls(name).iter().any(|x| eval_term(x, t)),
                AclRef::Predefined(p) => predefined(*p, t),
                AclRef::Anonymous(x) => eval_term(x, t),
            };
            hit != term.negated
        })
    });
    any != c.unless
}

/// HAProxy's predefined ACLs, with their definitions from `acl.c`.
pub(super) fn predefined(p: PredefinedAcl, t: &mut Txn) -> bool {
    let method_is = |t: &Txn, wanted: &[HttpMethod]| {
        t.req.is_some_and(|r| {
            let m = method_from_bytes(r.method.as_str().as_bytes());
            wanted.contains(&m)
        })
    };
    let version_is = |t: &Txn, v: Version| t.req.is_some_and(|r| r.version == v);
    let url = |t: &Txn| t.req.map(|r| r.uri.to_string());
    match p {
        PredefinedAcl::True => true,
        PredefinedAcl::False => false,
        PredefinedAcl::Http => t.req.is_some(),
        PredefinedAcl::Http10 => version_is(t, Version::HTTP_10),
        PredefinedAcl::Http11 => version_is(t, Version::HTTP_11),
        PredefinedAcl::Http20 => version_is(t, Version::HTTP_2),
        // req.hdr_val(content-length) gt 0, over every occurrence.
        PredefinedAcl::HttpContent => t.req.is_some_and(|r| {
            headers::values(&r.headers, Some("content-length"), false)
                .iter()
                .any(|v| strl2ic(v) > 0)
        }),
        // url_reg ^[^/:]*://
        PredefinedAcl::HttpUrlAbs => url(t).is_some_and(|u| {
            let b = u.as_bytes();
            let head = b.iter().take_while(|c| **c != b'/' && **c != b':').count();
            b.get(head..head + 3) == Some(b"://")
        }),
        PredefinedAcl::HttpUrlSlash => url(t).is_some_and(|u| u.starts_with('/')),
        PredefinedAcl::HttpUrlStar => url(t).is_some_and(|u| u == "*"),
        // src 127.0.0.1/8 ::1
        PredefinedAcl::Localhost => {
            let nets = [
                IpNet::V4 {
                    addr: Ipv4Addr::new(127, 0, 0, 1),
                    mask: Ipv4Addr::new(255, 0, 0, 0),
                },
                IpNet::V6 {
                    addr: Ipv6Addr::LOCALHOST,
                    prefix: 128,
                },
            ];
            ip_matches(&nets, t.conn.src.ip())
        }
        PredefinedAcl::MethConnect => method_is(t, &[HttpMethod::Connect]),
        PredefinedAcl::MethDelete => method_is(t, &[HttpMethod::Delete]),
        PredefinedAcl::MethGet => method_is(t, &[HttpMethod::Get, HttpMethod::Head]),
        PredefinedAcl::MethHead => method_is(t, &[HttpMethod::Head]),
        PredefinedAcl::MethOptions => method_is(t, &[HttpMethod::Options]),
        PredefinedAcl::MethPost => method_is(t, &[HttpMethod::Post]),
        PredefinedAcl::MethPut => method_is(t, &[HttpMethod::Put]),
        PredefinedAcl::MethTrace => method_is(t, &[HttpMethod::Trace]),
        // req.rdp_cookie_cnt gt 0: only a raw TCP buffer holds RDP cookies.
        PredefinedAcl::RdpCookie => t.content.is_some_and(|c| c.rdp_cookie_count > 0),
        // req.len gt 0: a parsed HTTP request always has content.
        PredefinedAcl::ReqContent => match t.content {
            Some(c) => c.len > 0,
            None => t.req.is_some(),
        },
        // wait_end: true once no more data can change the verdict, which is
        // always the case for HTTP rules.
        PredefinedAcl::WaitEnd => t.content.is_none_or(|c| c.inspect_done),
    }
}
