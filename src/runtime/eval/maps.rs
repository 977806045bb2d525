//! The `map*` converters at run time: which entry of a loaded map file a
//! sample selects, as HAProxy 2.6's `pat_match_*` over its indexes
//! (`pattern.c`), and the value it returns (`sample_conv_map`, `map.c`).
//!
//! HAProxy indexes exact strings, prefixes (`beg`) and addresses in trees
//! and the other methods in lists: the trees give the exact match (first
//! line of duplicates) or the longest prefix, the lists the first matching
//! line. The matching itself is the ACL matcher's ([`super::matcher`]).

use super::matcher::{embedded_v4, in_ranges, str_matches, v4_in, v6_in};
use super::regexes;
use super::value::Value;
use crate::ir::expr::{IpNet, MapConv, MapEntry, MapKey, MapMatch, MapValue, StrMatch};
use bytes::Bytes;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Applies a map converter to its (already cast) input.
pub(super) fn apply(m: &MapConv, v: &Value) -> Option<Value> {
    let found = match m.matching {
        MapMatch::Str(kind) => {
            let b = v.bytes()?;
            if kind == StrMatch::Prefix {
                longest_prefix(m, b)
            } else {
                m.entries.iter().find(|e| match &e.key {
                    MapKey::Str(p) => str_matches(kind, p, b),
                    _ => false,
                })
            }
        }
        MapMatch::Reg => {
            let b = v.bytes()?;
            m.entries.iter().find(|e| match &e.key {
                MapKey::Reg(r) => regexes::compiled(r).is_some_and(|re| re.is_match(b)),
                _ => false,
            })
        }
        MapMatch::Regm => return regm(m, v.bytes()?),
        MapMatch::Ip => match v {
            Value::Ip(a) => ip_lookup(m, *a),
            _ => return None,
        },
        MapMatch::Int => {
            let i = v.int()?;
            m.entries.iter().find(|e| match &e.key {
                MapKey::Int(r) => in_ranges(std::slice::from_ref(r), i),
                _ => false,
            })
        }
    };
    match found {
        Some(e) => Some(value(&e.value)),
        None => m.default.as_ref().map(value),
    }
}

fn value(v: &MapValue) -> Value {
    match v {
        MapValue::Str(s) => Value::Str(Bytes::from(s.clone())),
        MapValue::Int(i) => Value::Int(*i),
        MapValue::Ip(a) => Value::Ip(*a),
    }
}

/// `beg`: the prefix tree's longest match (the first line among equals).
fn longest_prefix<'a>(m: &'a MapConv, b: &[u8]) -> Option<&'a MapEntry> {
    let mut best: Option<(&MapEntry, usize)> = None;
    for e in &m.entries {
        if let MapKey::Str(p) = &e.key
            && str_matches(StrMatch::Prefix, p, b)
            && best.is_none_or(|(_, len)| p.value.len() > len)
        {
            best = Some((e, p.value.len()));
        }
    }
    best.map(|(e, _)| e)
}

/// `regm`: the first matching regex; `\N` in the value become its groups
/// (HAProxy's `exp_replace`; a trailing `\` makes the converter fail).
fn regm(m: &MapConv, b: &Bytes) -> Option<Value> {
    for e in &m.entries {
        let MapKey::Reg(r) = &e.key else { continue };
        let Some(re) = regexes::compiled(r) else {
            continue;
        };
        let Some(caps) = re.captures(b) else { continue };
        // `map_regm` only exists with string values.
        let MapValue::Str(template) = &e.value else {
            return Some(value(&e.value));
        };
        return exp_replace(template.as_bytes(), |n| caps.get(n).map(|g| g.as_bytes()))
            .map(|out| Value::Str(Bytes::from(out)));
    }
    m.default.as_ref().map(value)
}

/// HAProxy's `exp_replace`: `\0`..`\9` insert a group (nothing if it did
/// not participate), `\xHH` a byte, `\c` the character c.
pub(super) fn exp_replace<'a>(
    template: &[u8],
    group: impl Fn(usize) -> Option<&'a [u8]>,
) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(template.len());
    let mut i = 0;
    while let Some(&c) = template.get(i) {
        i += 1;
        if c != b'\\' {
            out.push(c);
            continue;
        }
        let &n = template.get(i)?;
        i += 1;
        if n.is_ascii_digit() {
            if let Some(g) = group(usize::from(n - b'0')) {
                out.extend_from_slice(g);
            }
        } else if n == b'x' {
            let hex = |c: u8| {
                let v = c.to_ascii_uppercase().wrapping_sub(b'0');
                if v > 9 {
                    v.wrapping_sub(b'A' - b'9' - 1)
                } else {
                    v
                }
            };
            let h1 = hex(*template.get(i)?);
            let h2 = hex(*template.get(i + 1)?);
            i += 2;
            out.push(h1.wrapping_shl(4).wrapping_add(h2));
        } else {
            out.push(n);
        }
    }
    Some(out)
}

/// Whether an IPv4 mask is contiguous (HAProxy puts those in its tree,
/// the others in a list searched after it).
fn contiguous(mask: Ipv4Addr) -> bool {
    let m = u32::from(mask);
    m.leading_ones() + m.trailing_zeros() == 32
}

/// `pat_match_ip`: the longest IPv4 prefix, then (for an IPv4 sample) the
/// longest IPv6 prefix of its `::ffff:` form, or (for an IPv6 sample) the
/// longest IPv6 prefix then the IPv4 tree with its embedded IPv4 address;
/// finally the non-contiguous IPv4 masks in file order.
fn ip_lookup(m: &MapConv, a: IpAddr) -> Option<&MapEntry> {
    let v4_longest = |a: Ipv4Addr| {
        best_by(m, |n| match n {
            IpNet::V4 { mask, .. } if contiguous(*mask) && v4_in(n, a) => {
                Some(u32::from(*mask).leading_ones())
            }
            _ => None,
        })
    };
    let v6_longest = |a: &Ipv6Addr| {
        best_by(m, |n| match n {
            IpNet::V6 { prefix, .. } if v6_in(n, a) => Some(u32::from(*prefix)),
            _ => None,
        })
    };
    let tree = match a {
        IpAddr::V4(v4) => v4_longest(v4).or_else(|| v6_longest(&v4.to_ipv6_mapped())),
        IpAddr::V6(v6) => v6_longest(&v6).or_else(|| embedded_v4(&v6).and_then(v4_longest)),
    };
    if tree.is_some() {
        return tree;
    }
    let v4 = match a {
        IpAddr::V4(v4) => Some(v4),
        IpAddr::V6(v6) => embedded_v4(&v6),
    }?;
    m.entries.iter().find(|e| match &e.key {
        MapKey::Ip(n @ IpNet::V4 { mask, .. }) => !contiguous(*mask) && v4_in(n, v4),
        _ => false,
    })
}

/// The entry with the greatest score (the first among equals).
fn best_by(m: &MapConv, score: impl Fn(&IpNet) -> Option<u32>) -> Option<&MapEntry> {
    let mut best: Option<(&MapEntry, u32)> = None;
    for e in &m.entries {
        if let MapKey::Ip(n) = &e.key
            && let Some(s) = score(n)
            && best.is_none_or(|(_, b)| s > b)
        {
            best = Some((e, s));
        }
    }
    best.map(|(e, _)| e)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::expect_used, clippy::unwrap_used)]
    use super::*;
    use crate::ir::expr::{MapOut, StrPattern};

    fn str_map(kind: StrMatch, lines: &[(&str, &str)]) -> MapConv {
        MapConv {
            path: "t.map".into(),
            matching: MapMatch::Str(kind),
            output: MapOut::Str,
            entries: lines
                .iter()
                .enumerate()
                .map(|(i, (k, v))| MapEntry {
                    key: MapKey::Str(StrPattern {
                        value: (*k).into(),
                        ignore_case: false,
                    }),
                    value: MapValue::Str((*v).into()),
                    line: i + 1,
                })
                .collect(),
            default: Some(MapValue::Str("DEF".into())),
        }
    }

    fn get(m: &MapConv, s: &str) -> Option<Value> {
        apply(m, &Value::str(s.to_string()))
    }

    #[test]
    fn exact_keys_take_the_first_duplicate_and_prefixes_the_longest() {
        let lines = [
            ("/a", "first"),
            ("/a", "second"),
            ("/pre", "p1"),
            ("/prefix", "p2"),
        ];
        let exact = str_map(StrMatch::Exact, &lines);
        assert_eq!(get(&exact, "/a"), Some(Value::str("first")));
        assert_eq!(get(&exact, "/prefix/x"), Some(Value::str("DEF")));
        let beg = str_map(StrMatch::Prefix, &lines);
        assert_eq!(get(&beg, "/prefix/x"), Some(Value::str("p2")));
        assert_eq!(get(&beg, "/prex"), Some(Value::str("p1")));
        let sub = str_map(StrMatch::Substring, &lines);
        assert_eq!(get(&sub, "x/prefix"), Some(Value::str("p1")));
    }

    #[test]
    fn exp_replace_inserts_groups_like_haproxy() {
        let groups = [Some(&b"/r/abc/42"[..]), Some(b"abc"), Some(b"42")];
        let g = |n: usize| groups.get(n).copied().flatten();
        assert_eq!(
            exp_replace(br"got-\2-\1-\0-\3-\\-x\x41", g),
            Some(b"got-42-abc-/r/abc/42--\\-xA".to_vec())
        );
        assert_eq!(exp_replace(b"bad\\", g), None);
    }

    #[test]
    fn addresses_take_the_longest_prefix_across_families() {
        let net = |s: &str| {
            let (a, p) = s.split_once('/').unwrap_or((s, ""));
            match a.parse::<IpAddr>().unwrap() {
                IpAddr::V4(addr) => IpNet::V4 {
                    addr,
                    mask: Ipv4Addr::from(if p.is_empty() {
                        u32::MAX
                    } else {
                        p.parse::<u32>()
                            .map(|b| u32::MAX.checked_shl(32 - b).unwrap_or(0))
                            .unwrap()
                    }),
                },
                IpAddr::V6(addr) => IpNet::V6 {
                    addr,
                    prefix: p.parse().unwrap_or(128),
                },
            }
        };
        let lines = [
            ("10.0.0.0/8", "tenet"),
            ("10.1.0.0/16", "tenone"),
            ("10.1.2.3", "host"),
            ("10.1.2.3", "host2"),
            ("::1", "six"),
        ];
        let m = MapConv {
            path: "ip.map".into(),
            matching: MapMatch::Ip,
            output: MapOut::Str,
            entries: lines
                .iter()
                .enumerate()
                .map(|(i, (k, v))| MapEntry {
                    key: MapKey::Ip(net(k)),
                    value: MapValue::Str((*v).into()),
                    line: i + 1,
                })
                .collect(),
            default: None,
        };
        let ip = |s: &str| apply(&m, &Value::Ip(s.parse().unwrap()));
        assert_eq!(ip("10.1.2.3"), Some(Value::str("host")));
        assert_eq!(ip("10.1.9.9"), Some(Value::str("tenone")));
        assert_eq!(ip("10.9.9.9"), Some(Value::str("tenet")));
        assert_eq!(ip("::ffff:10.1.2.3"), Some(Value::str("host")));
        assert_eq!(ip("::1"), Some(Value::str("six")));
        assert_eq!(ip("11.0.0.1"), None);
    }
}
