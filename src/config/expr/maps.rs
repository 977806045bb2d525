//! The `map*` converters: `map(<file>[,<default>])`, `map_<match>(…)` and
//! `map_<match>_<output>(…)`, with the map file read and every key and
//! value parsed at check time (HAProxy 2.6's `map.c` and
//! `pat_ref_read_from_file2`). Keys are parsed by the ACL pattern parsers,
//! so a key is valid in a map exactly when it is valid in an ACL file.

use super::acl::parse_map_key;
use super::converters::ConvSpec;
use super::fetches::{ArgKind, ArgVal};
use crate::ir::expr::{Conv, MapConv, MapEntry, MapMatch, MapOut, MapValue, StrMatch};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

const STR_DEFAULT: ConvSpec = ConvSpec {
    name: "map",
    args: &[ArgKind::Str, ArgKind::Str],
    min: 1,
};
const INT_DEFAULT: ConvSpec = ConvSpec {
    name: "map_int_out",
    args: &[ArgKind::Str, ArgKind::Int],
    min: 1,
};

/// `map_<match>[_<output>]` → its match and output; `map` is `map_str`.
pub(crate) fn parse_name(name: &str) -> Option<(MapMatch, MapOut)> {
    if name == "map" {
        return Some((MapMatch::Str(StrMatch::Exact), MapOut::Str));
    }
    let rest = name.strip_prefix("map_")?;
    let (m, out) = match rest.split_once('_') {
        Some((m, "int")) => (m, MapOut::Int),
        Some((m, "ip")) => (m, MapOut::Ip),
        Some(_) => return None,
        None => (rest, MapOut::Str),
    };
    let matching = match m {
        "str" => MapMatch::Str(StrMatch::Exact),
        "beg" => MapMatch::Str(StrMatch::Prefix),
        "sub" => MapMatch::Str(StrMatch::Substring),
        "dir" => MapMatch::Str(StrMatch::Dir),
        "dom" => MapMatch::Str(StrMatch::Dom),
        "end" => MapMatch::Str(StrMatch::Suffix),
        "reg" => MapMatch::Reg,
        "regm" => MapMatch::Regm,
        "ip" => MapMatch::Ip,
        "int" => MapMatch::Int,
        _ => return None,
    };
    // HAProxy 2.6 has no `map_regm_int` / `map_regm_ip`.
    if matching == MapMatch::Regm && out != MapOut::Str {
        return None;
    }
    Some((matching, out))
}

/// The argument list of a map converter (the default is typed like the
/// values: an integer for `_int`).
pub(crate) fn spec(name: &str) -> Option<&'static ConvSpec> {
    match parse_name(name)? {
        (_, MapOut::Int) => Some(&INT_DEFAULT),
        _ => Some(&STR_DEFAULT),
    }
}

/// Builds a map converter: loads the file and parses the default.
pub(crate) fn build(name: &str, args: &[Option<ArgVal>]) -> Result<Conv, (usize, String)> {
    let (matching, output) = parse_name(name).ok_or((0, format!("'{name}' is not a map")))?;
    let path = match args.first() {
        Some(Some(ArgVal::Str(p))) => p.clone(),
        _ => String::new(),
    };
    let default = match args.get(1) {
        Some(Some(ArgVal::Str(d))) => Some(match output {
            MapOut::Ip => MapValue::Ip(
                parse_ip(d).ok_or((1, format!("map: cannot parse default ip <{d}>.")))?,
            ),
            _ => MapValue::Str(d.clone()),
        }),
        Some(Some(ArgVal::Int(i))) => Some(MapValue::Int(*i)),
        _ => None,
    };
    let content = std::fs::read(&path).map_err(|e| {
        (
            0,
            format!("failed to open pattern file <{path}> ({})", io_reason(&e)),
        )
    })?;
    let entries = parse_file(&content, matching, output)
        .map_err(|(line, msg)| (0, format!("{msg} at line {line} of file '{path}'")))?;
    Ok(Conv::Map(Arc::new(MapConv {
        path,
        matching,
        output,
        entries,
        default,
    })))
}

fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

/// Reads `key value` lines as `pat_ref_read_from_file2`: a line starting
/// with `#` is a comment (only in the first column), leading blanks are
/// skipped, the key ends at the first blank, the value is the rest of the
/// line without its surrounding blanks (possibly empty).
pub(crate) fn parse_file(
    content: &[u8],
    matching: MapMatch,
    output: MapOut,
) -> Result<Vec<MapEntry>, (usize, String)> {
    let mut entries = Vec::new();
    for (n, raw) in content.split(|b| *b == b'\n').enumerate() {
        let line = n + 1;
        // fgets + C strings: the line ends at the first CR or NUL too.
        let raw = raw.split(|b| *b == b'\r' || *b == 0).next().unwrap_or(&[]);
        if raw.first() == Some(&b'#') {
            continue;
        }
        let blank = |b: &u8| *b == b' ' || *b == b'\t';
        let start = raw.iter().position(|b| !blank(b)).unwrap_or(raw.len());
        let rest = &raw[start..];
        if rest.is_empty() {
            continue;
        }
        let key_end = rest.iter().position(blank).unwrap_or(rest.len());
        let key = String::from_utf8_lossy(&rest[..key_end]).into_owned();
        let after = &rest[key_end..];
        let vstart = after.iter().position(|b| !blank(b)).unwrap_or(after.len());
        let mut value = &after[vstart..];
        while let [head @ .., last] = value {
            if !blank(last) {
                break;
            }
            value = head;
        }
        let value = String::from_utf8_lossy(value).into_owned();
        let key = parse_map_key(matching, &key).map_err(|m| (line, m))?;
        let value = parse_value(&value, output)
            .ok_or_else(|| (line, format!("unable to parse '{value}'")))?;
        entries.push(MapEntry { key, value, line });
    }
    Ok(entries)
}

/// A value for the output type (`map_parse_int`, `map_parse_ip`).
fn parse_value(text: &str, output: MapOut) -> Option<MapValue> {
    Some(match output {
        MapOut::Str => MapValue::Str(text.to_string()),
        MapOut::Int => MapValue::Int(read_int64(text)?),
        MapOut::Ip => MapValue::Ip(parse_ip(text)?),
    })
}

/// HAProxy's `read_int64` over the whole text: an optional sign and digits
/// (none gives 0); anything left over is an error.
fn read_int64(text: &str) -> Option<i64> {
    let (neg, digits) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let mut v: i64 = 0;
    for b in digits.bytes() {
        if !b.is_ascii_digit() {
            return None;
        }
        v = v.wrapping_mul(10).wrapping_add(i64::from(b - b'0'));
    }
    Some(if neg { v.wrapping_neg() } else { v })
}

fn parse_ip(text: &str) -> Option<IpAddr> {
    if let Ok(v4) = text.parse::<Ipv4Addr>() {
        return Some(IpAddr::V4(v4));
    }
    text.parse::<Ipv6Addr>().ok().map(IpAddr::V6)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::expect_used, clippy::unwrap_used)]
    use super::*;
    use crate::ir::expr::MapKey;

    #[test]
    fn names_decode_like_haproxy() {
        assert_eq!(
            parse_name("map"),
            Some((MapMatch::Str(StrMatch::Exact), MapOut::Str))
        );
        assert_eq!(parse_name("map_regm"), Some((MapMatch::Regm, MapOut::Str)));
        assert_eq!(parse_name("map_ip_int"), Some((MapMatch::Ip, MapOut::Int)));
        assert_eq!(
            parse_name("map_dom_ip"),
            Some((MapMatch::Str(StrMatch::Dom), MapOut::Ip))
        );
        assert_eq!(parse_name("map_str_bin"), None);
        assert_eq!(parse_name("map_regm_int"), None);
        assert_eq!(parse_name("map_foo"), None);
    }

    #[test]
    fn file_lines_parse_like_pat_ref_read_from_file2() {
        let text =
            b"# comment\n   # indented\n/a   first value  \r\n\n/nokey\n\t/b\ttabbed\tvalue\n";
        let e = parse_file(text, MapMatch::Str(StrMatch::Exact), MapOut::Str).unwrap();
        let pairs: Vec<(String, MapValue, usize)> = e
            .into_iter()
            .map(|e| match e.key {
                MapKey::Str(p) => (p.value, e.value, e.line),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            pairs,
            vec![
                ("#".into(), MapValue::Str("indented".into()), 2),
                ("/a".into(), MapValue::Str("first value".into()), 3),
                ("/nokey".into(), MapValue::Str(String::new()), 5),
                ("/b".into(), MapValue::Str("tabbed\tvalue".into()), 6),
            ]
        );
    }

    #[test]
    fn bad_keys_and_values_name_the_line() {
        let e = parse_file(b"10.0.0.0/8 a\nfoo b\n", MapMatch::Ip, MapOut::Str).unwrap_err();
        assert_eq!(
            e,
            (2, "'foo' is not a valid IPv4 or IPv6 address".to_string())
        );
        let e = parse_file(
            b"/one 1\n/two 2x\n",
            MapMatch::Str(StrMatch::Exact),
            MapOut::Int,
        )
        .unwrap_err();
        assert_eq!(e, (2, "unable to parse '2x'".to_string()));
        let ok = parse_file(
            b"/two +2\n/neg -3\n",
            MapMatch::Str(StrMatch::Exact),
            MapOut::Int,
        )
        .unwrap();
        assert_eq!(ok[0].value, MapValue::Int(2));
        assert_eq!(ok[1].value, MapValue::Int(-3));
    }
}
