//! HTTP header lookups as HAProxy's `http_find_header` performs them: values
//! of list headers split on commas outside quoted strings, each trimmed of
//! linear white space; full-line values trimmed only at both ends.

use http::HeaderMap;

fn is_lws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

fn trim_lws(mut v: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = v {
        if !is_lws(*first) {
            break;
        }
        v = rest;
    }
    while let [rest @ .., last] = v {
        if !is_lws(*last) {
            break;
        }
        v = rest;
    }
    v
}

/// End of one list element starting at `from`: the first comma outside a
/// quoted string (`http_find_hdr_value_end`).
fn value_end(v: &[u8], from: usize) -> usize {
    let (mut quoted, mut qdpair) = (false, false);
    for (i, &c) in v.iter().enumerate().skip(from) {
        if qdpair {
            qdpair = false;
        } else if quoted {
            if c == b'\\' {
                qdpair = true;
            } else if c == b'"' {
                quoted = false;
            }
        } else if c == b'"' {
            quoted = true;
        } else if c == b',' {
            return i;
        }
    }
    v.len()
}

/// Splits one header line into its list elements.
fn split_line<'h>(line: &'h [u8], out: &mut Vec<&'h [u8]>) {
    let mut pos = 0;
    loop {
        let mut start = pos;
        while line.get(start).is_some_and(|b| is_lws(*b)) {
            start += 1;
        }
        let end = value_end(line, start);
        out.push(trim_lws(line.get(start..end).unwrap_or(&[])));
        if end >= line.len() {
            break;
        }
        pos = end + 1;
    }
}

/// Every value of header `name` (every header when `None`), in order: one
/// per comma-separated element, or one per header line when `full`.
pub(super) fn values<'h>(map: &'h HeaderMap, name: Option<&str>, full: bool) -> Vec<&'h [u8]> {
    let mut out = Vec::new();
    let mut push = |line: &'h [u8]| {
        if full {
            out.push(trim_lws(line));
        } else {
            split_line(line, &mut out);
        }
    };
    match name {
        Some(n) => map.get_all(n).iter().for_each(|v| push(v.as_bytes())),
        None => map.values().for_each(|v| push(v.as_bytes())),
    }
    out
}

/// Number of header lines named `name` (all lines when `None`).
pub(super) fn line_count(map: &HeaderMap, name: Option<&str>) -> usize {
    match name {
        Some(n) => map.get_all(n).iter().count(),
        None => map.len(),
    }
}

/// Picks occurrence `occ` among `values` as `http_get_htx_hdr`: 0 and 1 are
/// the first, positive counts from the start, negative from the end (at most
/// 10 back, HAProxy's `MAX_HDR_HISTORY`).
pub(super) fn occurrence<'h>(values: &[&'h [u8]], occ: i64) -> Option<&'h [u8]> {
    if occ >= 0 {
        let idx = usize::try_from(occ.max(1) - 1).ok()?;
        values.get(idx).copied()
    } else {
        let back = usize::try_from(occ.checked_neg()?).ok()?;
        if back > 10 || back > values.len() {
            return None;
        }
        values.get(values.len() - back).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn map(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for (k, v) in pairs {
            m.append(*k, HeaderValue::from_static(v));
        }
        m
    }

    #[test]
    fn list_values_split_on_unquoted_commas() {
        let m = map(&[
            ("x-a", "a, \"b,c\" , d"),
            ("x-a", "e"),
            ("x-b", "1,"),
            ("x-c", ""),
        ]);
        assert_eq!(
            values(&m, Some("X-A"), false),
            vec![&b"a"[..], b"\"b,c\"", b"d", b"e"]
        );
        assert_eq!(
            values(&m, Some("x-a"), true),
            vec![&b"a, \"b,c\" , d"[..], b"e"]
        );
        assert_eq!(values(&m, Some("x-b"), false), vec![&b"1"[..], b""]);
        assert_eq!(values(&m, Some("x-c"), false), vec![&b""[..]]);
        assert_eq!(values(&m, None, false).len(), 7);
        assert_eq!(line_count(&m, Some("x-a")), 2);
        assert_eq!(line_count(&m, None), 4);
        let quoted = map(&[("x", "\"a\\\",b\",c")]);
        assert_eq!(
            values(&quoted, Some("x"), false),
            vec![&b"\"a\\\",b\""[..], b"c"]
        );
    }

    #[test]
    fn occurrences_count_from_both_ends() {
        let v: Vec<&[u8]> = vec![b"1", b"2", b"3"];
        assert_eq!(occurrence(&v, 0), Some(&b"1"[..]));
        assert_eq!(occurrence(&v, 1), Some(&b"1"[..]));
        assert_eq!(occurrence(&v, 3), Some(&b"3"[..]));
        assert_eq!(occurrence(&v, 4), None);
        assert_eq!(occurrence(&v, -1), Some(&b"3"[..]));
        assert_eq!(occurrence(&v, -3), Some(&b"1"[..]));
        assert_eq!(occurrence(&v, -4), None);
        let many: Vec<&[u8]> = vec![b"x"; 12];
        assert_eq!(occurrence(&many, -10), Some(&b"x"[..]));
        assert_eq!(occurrence(&many, -11), None);
    }
}
