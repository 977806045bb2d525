//! Pattern matching of one sample against an ACL criterion's patterns, as
//! HAProxy 2.6's `pat_match_*` functions (`pattern.c`, `http_acl.c`,
//! `auth.c`). The sample is first cast to the method's type; a failed cast
//! does not match.

use super::Txn;
use super::regexes;
use super::text::c_eq;
use super::value::Value;
use crate::ir::expr::{Fetch, HttpMethod, IntRange, IpNet, Matcher, Sample, StrMatch, StrPattern};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Whether `v` (one value of `sample`) matches `m`.
pub(super) fn matches(m: &Matcher, sample: &Sample, v: Value, t: &Txn) -> bool {
    if let Matcher::Found = m {
        return true;
    }
    let Some(v) = v.cast(m.expected_type()) else {
        return false;
    };
    match m {
        Matcher::Found => true,
        Matcher::Bool => v.int().is_some_and(|i| i != 0),
        Matcher::Int(ranges) => v.int().is_some_and(|i| in_ranges(ranges, i)),
        Matcher::Len(ranges) => v
            .bytes()
            .is_some_and(|b| in_ranges(ranges, i64::try_from(b.len()).unwrap_or(i64::MAX))),
        Matcher::Ip(nets) => match v {
            Value::Ip(a) => ip_matches(nets, a),
            _ => false,
        },
        Matcher::Bin(pats) => v
            .bytes()
            .is_some_and(|b| pats.iter().any(|p| p[..] == b[..])),
        Matcher::Str { kind, patterns } => v
            .bytes()
            .is_some_and(|b| patterns.iter().any(|p| str_matches(*kind, p, b))),
        Matcher::Reg(regs) => v.bytes().is_some_and(|b| {
            regs.iter()
                .any(|r| regexes::compiled(r).is_some_and(|re| re.is_match(b)))
        }),
        Matcher::Method {
            methods,
            ignore_case,
        } => match &v {
            Value::Meth(m) => methods.iter().any(|p| method_matches(p, m, *ignore_case)),
            _ => false,
        },
        Matcher::AuthGroup(groups) => {
            let Fetch::HttpAuthGroup { userlist } = &sample.fetch else {
                return false;
            };
            let Some(user) = v.bytes() else {
                return false;
            };
            groups
                .iter()
                .any(|g| t.auth.user_in_group(userlist, user, g))
        }
    }
}

pub(super) fn in_ranges(ranges: &[IntRange], i: i64) -> bool {
    ranges
        .iter()
        .any(|r| r.min.is_none_or(|m| m <= i) && r.max.is_none_or(|m| i <= m))
}

/// `pat_match_meth`: known methods compare by identity (case-sensitively
/// classified), other methods by text, with `-i` applying only to those.
fn method_matches(pattern: &HttpMethod, m: &HttpMethod, icase: bool) -> bool {
    match (pattern, m) {
        (HttpMethod::Other(p), HttpMethod::Other(s)) => {
            p.len() == s.len() && c_eq(p.as_bytes(), s.as_bytes(), p.len(), icase)
        }
        (HttpMethod::Other(_), _) => false,
        (known, m) => known == m,
    }
}

/// The string match methods (`str beg end sub dir dom`), with C string
/// comparisons as HAProxy performs them.
pub(super) fn str_matches(kind: StrMatch, p: &StrPattern, s: &[u8]) -> bool {
    let pat = p.value.as_bytes();
    let icase = p.ignore_case;
    match kind {
        StrMatch::Exact => pat.len() == s.len() && c_eq(pat, s, s.len(), icase),
        StrMatch::Prefix => pat.len() <= s.len() && c_eq(pat, s, pat.len(), icase),
        StrMatch::Suffix => {
            pat.len() <= s.len() && c_eq(pat, &s[s.len() - pat.len()..], pat.len(), icase)
        }
        StrMatch::Substring => {
            pat.len() <= s.len()
                && (0..=s.len() - pat.len()).any(|i| c_eq(pat, &s[i..], pat.len(), icase))
        }
        StrMatch::Dir => match_word(s, pat, icase, b"/?"),
        StrMatch::Dom => match_word(s, pat, icase, b"/?.:"),
    }
}

/// HAProxy's `match_word`: the pattern (stripped of delimiters at both
/// ends) appears in the sample between delimiters or the string's ends.
fn match_word(s: &[u8], pat: &[u8], icase: bool, delims: &[u8]) -> bool {
    let is_delim = |c: u8| delims.contains(&c);
    let mut ps = pat;
    while let [first, rest @ ..] = ps {
        if !is_delim(*first) {
            break;
        }
        ps = rest;
    }
    while let [rest @ .., last] = ps {
        if !is_delim(*last) {
            break;
        }
        ps = rest;
    }
    let pl = ps.len();
    if pl > s.len() {
        return false;
    }
    // The sample as a C string: a NUL follows its last byte.
    let at = |i: usize| s.get(i).copied().unwrap_or(0);
    let first = ps.first().copied().unwrap_or(0);
    let end = s.len() - pl;
    let mut may_match = true;
    for c in 0..=end {
        let ch = at(c);
        if is_delim(ch) {
            may_match = true;
            continue;
        }
        if !may_match {
            continue;
        }
        let same_first = if icase {
            ch.eq_ignore_ascii_case(&first)
        } else {
            ch == first
        };
        if same_first
            && c_eq(ps, s.get(c..).unwrap_or(&[]), pl, icase)
            && (c == end || is_delim(at(c + pl)))
        {
            return true;
        }
        may_match = false;
    }
    false
}

/// `pat_match_ip`: an IPv4 sample matches IPv4 networks, or IPv6 networks
/// through `::ffff:a.b.c.d`; an IPv6 sample matches IPv6 networks, or IPv4
/// networks when it embeds an IPv4 address (`::ffff:a.b.c.d`, `::a.b.c.d`,
/// 6to4 `2002:AABB:CCDD::`).
pub(super) fn ip_matches(nets: &[IpNet], addr: IpAddr) -> bool {
    match addr {
        IpAddr::V4(a) => {
            nets.iter().any(|n| v4_in(n, a)) || nets.iter().any(|n| v6_in(n, &a.to_ipv6_mapped()))
        }
        IpAddr::V6(a) => {
            nets.iter().any(|n| v6_in(n, &a))
                || embedded_v4(&a).is_some_and(|v4| nets.iter().any(|n| v4_in(n, v4)))
        }
    }
}

pub(super) fn v4_in(n: &IpNet, a: Ipv4Addr) -> bool {
    match n {
        IpNet::V4 { addr, mask } => (u32::from(a) ^ u32::from(*addr)) & u32::from(*mask) == 0,
        IpNet::V6 { .. } => false,
    }
}

pub(super) fn v6_in(n: &IpNet, a: &Ipv6Addr) -> bool {
    match n {
        IpNet::V6 { addr, prefix } => {
            let mask = match *prefix {
                0 => 0,
                p => u128::MAX << (128 - u32::from(p.min(128))),
            };
            (u128::from(*a) ^ u128::from(*addr)) & mask == 0
        }
        IpNet::V4 { .. } => false,
    }
}

pub(super) fn embedded_v4(a: &Ipv6Addr) -> Option<Ipv4Addr> {
    let o = a.octets();
    let v4_tail = Ipv4Addr::new(o[12], o[13], o[14], o[15]);
    if o[..8].iter().all(|b| *b == 0)
        && (o[8..12] == [0, 0, 0, 0] || o[8..12] == [0, 0, 0xff, 0xff])
    {
        Some(v4_tail)
    } else if o[0] == 0x20 && o[1] == 0x02 {
        Some(Ipv4Addr::new(o[2], o[3], o[4], o[5]))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sp(v: &str, icase: bool) -> StrPattern {
        StrPattern {
            value: v.to_string(),
            ignore_case: icase,
        }
    }

    #[test]
    fn string_methods_match_like_haproxy() {
        use StrMatch::*;
        assert!(str_matches(Exact, &sp("abc", false), b"abc"));
        assert!(!str_matches(Exact, &sp("abc", false), b"ABC"));
        assert!(str_matches(Exact, &sp("abc", true), b"ABC"));
        assert!(str_matches(Prefix, &sp("/api", false), b"/api/v1"));
        assert!(!str_matches(Prefix, &sp("/api/v1/x", false), b"/api/v1"));
        assert!(str_matches(
            Suffix,
            &sp(".example.com", true),
            b"www.EXAMPLE.com"
        ));
        assert!(str_matches(Substring, &sp("min", false), b"/admin/x"));
        assert!(!str_matches(Substring, &sp("max", false), b"/admin/x"));
        assert!(str_matches(Dir, &sp("admin", false), b"/x/admin/y"));
        assert!(str_matches(Dir, &sp("/admin/", false), b"/x/admin"));
        assert!(!str_matches(Dir, &sp("admin", false), b"/x/administrator"));
        assert!(str_matches(Dir, &sp("a/b", false), b"/x/a/b?q"));
        assert!(str_matches(
            Dom,
            &sp("example", false),
            b"www.example.com:80"
        ));
        assert!(!str_matches(
            Dom,
            &sp("example", false),
            b"www.myexample.com"
        ));
        assert!(str_matches(
            Dom,
            &sp("EXAMPLE.com", true),
            b"www.example.com"
        ));
    }

    #[test]
    fn methods_compare_like_pat_match_meth() {
        assert!(method_matches(&HttpMethod::Get, &HttpMethod::Get, false));
        assert!(!method_matches(
            &HttpMethod::Get,
            &HttpMethod::Other("get".into()),
            true
        ));
        assert!(method_matches(
            &HttpMethod::Other("purge".into()),
            &HttpMethod::Other("PURGE".into()),
            true
        ));
        assert!(!method_matches(
            &HttpMethod::Other("purge".into()),
            &HttpMethod::Other("PURGE".into()),
            false
        ));
        // `-i get` is an unknown method and never matches a real GET.
        assert!(!method_matches(
            &HttpMethod::Other("get".into()),
            &HttpMethod::Get,
            true
        ));
    }

    #[test]
    fn ip_networks_match_across_families() {
        let v4 = |a: [u8; 4], m: [u8; 4]| IpNet::V4 {
            addr: Ipv4Addr::from(a),
            mask: Ipv4Addr::from(m),
        };
        let nets = [v4([10, 0, 0, 0], [255, 0, 0, 0])];
        assert!(ip_matches(&nets, IpAddr::V4(Ipv4Addr::new(10, 1, 2, 3))));
        assert!(!ip_matches(&nets, IpAddr::V4(Ipv4Addr::new(11, 1, 2, 3))));
        let mapped = Ipv4Addr::new(10, 9, 9, 9).to_ipv6_mapped();
        assert!(ip_matches(&nets, IpAddr::V6(mapped)));
        let sixtofour: Ipv6Addr = "2002:0a01:0203::1".parse().unwrap_or(Ipv6Addr::UNSPECIFIED);
        assert!(ip_matches(&nets, IpAddr::V6(sixtofour)));
        let v6net = [IpNet::V6 {
            addr: "2001:db8::".parse().unwrap_or(Ipv6Addr::UNSPECIFIED),
            prefix: 32,
        }];
        assert!(ip_matches(
            &v6net,
            IpAddr::V6("2001:db8:1::5".parse().unwrap_or(Ipv6Addr::UNSPECIFIED))
        ));
        assert!(!ip_matches(
            &v6net,
            IpAddr::V6("2001:db9::5".parse().unwrap_or(Ipv6Addr::UNSPECIFIED))
        ));
        // A non-contiguous IPv4 mask.
        let odd = [v4([10, 0, 0, 1], [255, 0, 0, 255])];
        assert!(ip_matches(&odd, IpAddr::V4(Ipv4Addr::new(10, 7, 7, 1))));
        assert!(!ip_matches(&odd, IpAddr::V4(Ipv4Addr::new(10, 7, 7, 2))));
        // An IPv4 sample against an IPv6 pattern written as mapped.
        let mapped_net = [IpNet::V6 {
            addr: Ipv4Addr::new(192, 168, 0, 0).to_ipv6_mapped(),
            prefix: 112,
        }];
        assert!(ip_matches(
            &mapped_net,
            IpAddr::V4(Ipv4Addr::new(192, 168, 4, 4))
        ));
    }
}
