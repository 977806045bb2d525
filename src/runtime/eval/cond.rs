//! ACL criteria and conditions, evaluated as HAProxy 2.6's `acl_exec_cond`
//! (`acl.c`): a criterion tries each value its fetch produces until one
//! matches; named ACLs OR their criteria; a condition ORs groups of ANDed,
//! possibly negated terms, left to right with short-circuit, then `unless`
//! inverts the result.

use super::convert::apply_all;
use super::fetch::{fetch, may_change};
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

/// HAProxy's three-valued ACL result (`ACL_TEST_FAIL`, `_MISS`, `_PASS` are
/// 0, 1 and 3, so AND and OR are bitwise).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Tri(u8);

impl Tri {
    const FAIL: Tri = Tri(0);
    const MISS: Tri = Tri(1);
    const PASS: Tri = Tri(3);

    fn neg(self) -> Tri {
        match self {
            Tri::PASS => Tri::FAIL,
            Tri::FAIL => Tri::PASS,
            other => other,
        }
    }

    fn of(b: bool) -> Tri {
        if b { Tri::PASS } else { Tri::FAIL }
    }
}

/// One criterion while content inspection may still wait: a fetch that
/// failed or did not match, and whose result more data could change, is a
/// MISS (HAProxy's `SMP_F_MAY_CHANGE` outside `SMP_OPT_FINAL`).
fn eval_term_partial(term: &AclTerm, t: &mut Txn) -> Tri {
    let miss_or_fail = if may_change(&term.sample.fetch, t) {
        Tri::MISS
    } else {
        Tri::FAIL
    };
    for v in fetch(&term.sample.fetch, t, true) {
        let Some(v) = apply_all(&term.sample.converters, v, t) else {
            return miss_or_fail;
        };
        if matches(&term.matcher, &term.sample, v, t) {
            return Tri::PASS;
        }
    }
    miss_or_fail
}

/// `acl_exec_cond` without `SMP_OPT_FINAL`: `None` when the verdict needs
/// more data (the rule waits), otherwise the verdict with `unless` applied.
pub(super) fn eval_cond_partial<'c>(
    c: &Condition,
    acls: &dyn Fn(&str) -> &'c [AclTerm],
    t: &mut Txn,
) -> Option<bool> {
    let mut cond_res = Tri::FAIL;
    for group in &c.any_of {
        let mut suite = Tri::PASS;
        for term in group {
            let mut r = match &term.acl {
                AclRef::Named(name) => {
                    let mut acc = Tri::FAIL;
                    for x in acls(name) {
                        acc = Tri(acc.0 | eval_term_partial(x, t).0);
                        if acc == Tri::PASS {
                            break;
                        }
                    }
                    acc
                }
                AclRef::Predefined(p) => predefined_partial(*p, t),
                AclRef::Anonymous(x) => eval_term_partial(x, t),
            };
            if term.negated {
                r = r.neg();
            }
            suite = Tri(suite.0 & r.0);
            if suite == Tri::FAIL {
                break;
            }
        }
        cond_res = Tri(cond_res.0 | suite.0);
        if cond_res == Tri::PASS {
            break;
        }
    }
    if cond_res == Tri::MISS {
        return None;
    }
    Some((cond_res == Tri::PASS) != c.unless)
}

/// The predefined ACLs that read the request buffer can wait for data too.
fn predefined_partial(p: PredefinedAcl, t: &mut Txn) -> Tri {
    let waiting = t.content.is_some_and(|c| !c.inspect_done);
    match p {
        PredefinedAcl::WaitEnd if waiting => Tri::MISS,
        // req.len gt 0: req.len may always change.
        PredefinedAcl::ReqContent if waiting => {
            if predefined(p, t) {
                Tri::PASS
            } else {
                Tri::MISS
            }
        }
        other => Tri::of(predefined(other, t)),
    }
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
            Some(c) => !c.data.is_empty(),
            None => t.req.is_some(),
        },
        // wait_end: true once no more data can change the verdict, which is
        // always the case for HTTP rules.
        PredefinedAcl::WaitEnd => t.content.is_none_or(|c| c.inspect_done),
    }
}
