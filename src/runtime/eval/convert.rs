//! Converters: every [`Conv`] the IR can hold, applied as HAProxy 2.6's
//! `sample_conv_*` functions (`sample.c`, `http_conv.c`, `vars.c`). The
//! input is first cast to the converter's input type; a converter that
//! fails ends the chain without a value.

use super::Txn;
use super::regexes;
use super::strftime::strftime;
use super::text::{base64_encode, hex_upper, strncmp};
use super::value::{Value, v6_to_v4};
use crate::ir::expr::{Conv, Converter, JsonInput, RegexSrc, Sha2Bits};
use crate::runtime::calendar::{civil_from_unix, local_from_unix};
use bytes::Bytes;
use sha2::Digest;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Applies a converter chain to a fetched value.
pub(super) fn apply_all(convs: &[Converter], v: Value, t: &mut Txn) -> Option<Value> {
    convs.iter().try_fold(v, |v, c| {
        let input = v.cast(c.conv.in_type())?;
        apply(&c.conv, input, t)
    })
}

/// A string result (HAProxy sets `SMP_T_STR`).
fn str_out(b: Vec<u8>) -> Option<Value> {
    Some(Value::Str(Bytes::from(b)))
}

/// Replaces the bytes of a `Str`/`Bin` sample, keeping its type (the
/// converters that edit in place do not change the type).
fn same_type(v: &Value, b: Bytes) -> Value {
    match v {
        Value::Bin(_) => Value::Bin(b),
        _ => Value::Str(b),
    }
}

fn apply(conv: &Conv, v: Value, t: &mut Txn) -> Option<Value> {
    match conv {
        Conv::Lua { name, args } => {
            let lua = t.conn.lua.clone()?;
            lua.convert(name, args, v, t)
        }
        Conv::Hex => str_out(hex_upper(v.bytes()?)),
        Conv::Lower => {
            let b = v.bytes()?.to_ascii_lowercase();
            Some(same_type(&v, b.into()))
        }
        Conv::Upper => {
            let b = v.bytes()?.to_ascii_uppercase();
            Some(same_type(&v, b.into()))
        }
        Conv::Base64 => str_out(base64_encode(v.bytes()?)),
        Conv::Sha1 => {
            let d = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, v.bytes()?);
            Some(Value::bin(d.as_ref().to_vec()))
        }
        Conv::Sha2(bits) => {
            let data = v.bytes()?;
            let out = match bits {
                Sha2Bits::B224 => sha2::Sha224::digest(data).to_vec(),
                Sha2Bits::B256 => sha2::Sha256::digest(data).to_vec(),
                Sha2Bits::B384 => sha2::Sha384::digest(data).to_vec(),
                Sha2Bits::B512 => sha2::Sha512::digest(data).to_vec(),
            };
            Some(Value::bin(out))
        }
        Conv::Field {
            index,
            delimiters,
            count,
        } => {
            let b = v.bytes()?;
            let (s, e) = field(b, *index, delimiters.as_bytes(), *count)?;
            Some(same_type(&v, b.slice(s..e)))
        }
        Conv::Word {
            index,
            delimiters,
            count,
        } => {
            let b = v.bytes()?;
            let (s, e) = word(b, *index, delimiters.as_bytes(), *count)?;
            Some(same_type(&v, b.slice(s..e)))
        }
        Conv::Strcmp(var) => {
            let other = t.vars.get(var)?.into_text()?;
            let mine = v.bytes()?;
            let max = mine.len().min(other.len());
            let mut result = strncmp(mine, &other, max);
            if result == 0 && mine.len() != other.len() {
                result = if mine.len() < other.len() { -1 } else { 1 };
            }
            Some(Value::Int(result))
        }
        Conv::Regsub {
            regex,
            replacement,
            global,
        } => {
            let out = regsub(v.bytes()?, regex, replacement.as_bytes(), *global)?;
            Some(same_type(&v, out.into()))
        }
        Conv::Json(input) => str_out(json(v.bytes()?, *input)?),
        Conv::UrlDec { in_form } => {
            let out = url_decode(v.bytes()?, *in_form)?;
            Some(same_type(&v, out.into()))
        }
        Conv::Ltime { format, offset } | Conv::Utime { format, offset } => {
            // HAProxy masks the date to 55 bits so it never goes negative.
            let date = (v.int()? & 0x007f_ffff_ffff_ffff).wrapping_add(*offset);
            let tm = if matches!(conv, Conv::Ltime { .. }) {
                local_from_unix(date)
            } else {
                civil_from_unix(date)
            };
            str_out(strftime(format, &tm, date))
        }
        Conv::Length => Some(Value::Int(
            i64::try_from(v.bytes()?.len()).unwrap_or(i64::MAX),
        )),
        Conv::Bytes { offset, length } => {
            let b = v.bytes()?;
            let off = usize::try_from(*offset).unwrap_or(usize::MAX);
            if b.len() <= off {
                return Some(same_type(&v, Bytes::new()));
            }
            let mut end = b.len();
            if let Some(l) = length.and_then(|l| usize::try_from(l).ok()) {
                end = end.min(off.saturating_add(l));
            }
            Some(same_type(&v, b.slice(off..end)))
        }
        Conv::Concat {
            prefix,
            var,
            suffix,
        } => {
            let mut out = v.bytes()?.to_vec();
            out.extend_from_slice(prefix.as_bytes());
            if let Some(text) = var
                .as_ref()
                .and_then(|n| t.vars.get(n))
                .and_then(Value::into_text)
            {
                out.extend_from_slice(&text);
            }
            out.extend_from_slice(suffix.as_bytes());
            str_out(out)
        }
        Conv::IpMask { v4, v6 } => {
            let addr = match v {
                Value::Ip(IpAddr::V6(a)) => v6_to_v4(&a).map_or(IpAddr::V6(a), IpAddr::V4),
                Value::Ip(a) => a,
                _ => return None,
            };
            match addr {
                IpAddr::V4(a) => Some(Value::Ip(IpAddr::V4(Ipv4Addr::from(
                    u32::from(a) & u32::from(*v4),
                )))),
                IpAddr::V6(a) => {
                    let m = (*v6)?;
                    Some(Value::Ip(IpAddr::V6(Ipv6Addr::from(
                        u128::from(a) & u128::from(m),
                    ))))
                }
            }
        }
        Conv::SetVar { var, conditions } => t.vars.set_if(var, v.clone(), conditions).then_some(v),
        Conv::Map(m) => super::maps::apply(m, &v),
    }
}

/// `field(index,delimiters[,count])` as `sample_conv_field`: byte offsets of
/// the result; `None` when the field does not exist.
fn field(s: &[u8], index: i64, delims: &[u8], mut count: i64) -> Option<(usize, usize)> {
    if index == 0 {
        return None;
    }
    let is_delim = |c: u8| delims.contains(&c);
    let mut field: i64;
    let (mut start, mut end);
    if index < 0 {
        field = -1;
        start = s.len();
        end = s.len();
        while start > 0 {
            if is_delim(s[start - 1]) {
                if field == index {
                    if count == 1 {
                        return Some((start, end));
                    } else if count > 1 {
                        count -= 1;
                    }
                } else {
                    end = start - 1;
                    field -= 1;
                }
            }
            start -= 1;
        }
    } else {
        field = 1;
        start = 0;
        end = 0;
        while end < s.len() {
            if is_delim(s[end]) {
                if field == index {
                    if count == 1 {
                        return Some((start, end));
                    } else if count > 1 {
                        count -= 1;
                    }
                } else {
                    start = end + 1;
                    field += 1;
                }
            }
            end += 1;
        }
    }
    (field == index).then_some((start, end))
}

/// `word(index,delimiters[,count])` as `sample_conv_word`: empty delimiters
/// runs are skipped; a missing word is an empty string, not a failure.
fn word(s: &[u8], index: i64, delims: &[u8], mut count: i64) -> Option<(usize, usize)> {
    if index == 0 {
        return None;
    }
    let is_delim = |c: u8| delims.contains(&c);
    let mut word: i64 = 0;
    let mut inword = false;
    let (mut start, mut end);
    if index < 0 {
        start = s.len();
        end = s.len();
        while start > 0 {
            let sep = is_delim(s[start - 1]);
            if !inword {
                if !sep {
                    if word != index {
                        word -= 1;
                        end = start;
                    }
                    inword = true;
                }
            } else if sep {
                if word == index {
                    if count == 1 {
                        return Some((start, end));
                    } else if count > 1 {
                        count -= 1;
                    }
                }
                inword = false;
            }
            start -= 1;
        }
    } else {
        start = 0;
        end = 0;
        while end < s.len() {
            let sep = is_delim(s[end]);
            if !inword {
                if !sep {
                    if word != index {
                        word += 1;
                        start = end;
                    }
                    inword = true;
                }
            } else if sep {
                if word == index {
                    if count == 1 {
                        return Some((start, end));
                    } else if count > 1 {
                        count -= 1;
                    }
                }
                inword = false;
            }
            end += 1;
        }
    }
    if word != index {
        return Some((0, 0));
    }
    Some((start, end))
}

/// `regsub` as `sample_conv_regsub`: after the first round `^` no longer
/// matches (`REG_NOTBOL`); an empty match copies one byte and moves on.
fn regsub(input: &[u8], src: &RegexSrc, repl: &[u8], global: bool) -> Option<Vec<u8>> {
    let re = regexes::compiled(src)?;
    let mut out = Vec::with_capacity(input.len());
    let mut start = 0usize;
    let mut first_round = true;
    loop {
        let caps = if global || first_round {
            re.captures_at(input, start)
        } else {
            None
        };
        let Some(caps) = caps else {
            out.extend_from_slice(input.get(start..).unwrap_or(&[]));
            break;
        };
        let (so, eo) = caps.get(0).map_or((start, start), |m| (m.start(), m.end()));
        out.extend_from_slice(input.get(start..so).unwrap_or(&[]));
        expand_replacement(&mut out, input, &caps, repl);
        if start >= input.len() {
            break;
        }
        if eo == start {
            if let Some(b) = input.get(start) {
                out.push(*b);
            }
            start += 1;
        } else {
            start = eo;
        }
        first_round = false;
    }
    Some(out)
}

/// HAProxy's `exp_replace`: `\0`–`\9` insert a group, `\xHH` a byte, `\c`
/// the character `c`. A dangling `\` ends the replacement.
fn expand_replacement(out: &mut Vec<u8>, input: &[u8], caps: &regex::bytes::Captures, repl: &[u8]) {
    let mut i = 0;
    while let Some(&c) = repl.get(i) {
        i += 1;
        if c != b'\\' {
            out.push(c);
            continue;
        }
        let Some(&n) = repl.get(i) else { return };
        i += 1;
        if n.is_ascii_digit() {
            if let Some(m) = caps.get(usize::from(n - b'0')) {
                out.extend_from_slice(input.get(m.start()..m.end()).unwrap_or(&[]));
            }
        } else if n == b'x' {
            let (Some(&h1), Some(&h2)) = (repl.get(i), repl.get(i + 1)) else {
                return;
            };
            i += 2;
            let hex = |h: u8| {
                let v = h.to_ascii_uppercase().wrapping_sub(b'0');
                if v > 9 { v.wrapping_sub(7) } else { v }
            };
            out.push((hex(h1) << 4).wrapping_add(hex(h2)));
        } else {
            out.push(n);
        }
    }
}

/// UTF-8 decoding result codes of HAProxy's `utf8_next`.
const UTF8_OK: u8 = 0x00;
const UTF8_OVERLONG: u8 = 0x10;
const UTF8_INVRANGE: u8 = 0x20;
const UTF8_BADSEQ: u8 = 0x40;

/// HAProxy's `utf8_next`: (code point, length, status flags).
fn utf8_next(s: &[u8]) -> (u32, usize, u8) {
    let Some(&first) = s.first() else {
        return (0, 0, UTF8_OK);
    };
    let (mut c, dec) = match first {
        0x00..=0x7f => return (u32::from(first), 1, UTF8_OK),
        0x80..=0xbf => return (u32::from(first), 1, UTF8_BADSEQ),
        0xc0..=0xdf => (u32::from(first & 0x1f), 1),
        0xe0..=0xef => (u32::from(first & 0x0f), 2),
        0xf0..=0xf7 => (u32::from(first & 0x07), 3),
        0xf8..=0xfb => (u32::from(first & 0x03), 4),
        0xfc..=0xfd => (u32::from(first & 0x01), 5),
        _ => return (u32::from(first), 1, UTF8_BADSEQ),
    };
    if s.len() < dec + 1 {
        return (u32::from(first), 1, UTF8_BADSEQ);
    }
    for (k, &b) in s.iter().enumerate().take(dec + 1).skip(1) {
        if b & 0xc0 != 0x80 {
            return (c, k, UTF8_BADSEQ);
        }
        c = (c << 6) | u32::from(b & 0x3f);
    }
    let len = dec + 1;
    let mut code = UTF8_OK;
    if (c <= 0x7f && len > 1)
        || ((0x80..=0x7ff).contains(&c) && len > 2)
        || ((0x800..=0xffff).contains(&c) && len > 3)
        || ((0x10000..=0x1f_ffff).contains(&c) && len > 4)
    {
        code |= UTF8_OVERLONG;
    }
    if (0xd800..=0xdfff).contains(&c) || (0xfffe..=0xffff).contains(&c) {
        code |= UTF8_INVRANGE;
    }
    (c, len, code)
}

/// `json([input])` as `sample_conv_json`: escapes for a JSON string; `None`
/// where the strict UTF-8 modes refuse the input.
fn json(s: &[u8], input: JsonInput) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len());
    let mut p = 0usize;
    while p < s.len() {
        let c = if input == JsonInput::Ascii {
            p += 1;
            u32::from(s[p - 1])
        } else {
            let (c, len, code) = utf8_next(&s[p..]);
            p += len.max(1);
            let bad_any = code != UTF8_OK;
            let bad_strict = code & (UTF8_INVRANGE | UTF8_BADSEQ) != 0;
            match input {
                JsonInput::Utf8 if bad_any => return None,
                JsonInput::Utf8s if bad_any => continue,
                JsonInput::Utf8p if bad_strict => return None,
                JsonInput::Utf8ps if bad_strict => continue,
                _ => {}
            }
            if c > 0xffff {
                if matches!(input, JsonInput::Utf8 | JsonInput::Utf8p) {
                    return None;
                }
                continue;
            }
            c
        };
        match c {
            0x22 => out.extend_from_slice(b"\\\""),
            0x5c => out.extend_from_slice(b"\\\\"),
            0x2f => out.extend_from_slice(b"\\/"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            0x0d => out.extend_from_slice(b"\\r"),
            0x0a => out.extend_from_slice(b"\\n"),
            0x09 => out.extend_from_slice(b"\\t"),
            0x20..=0x7e => out.push(c as u8),
            _ => out.extend_from_slice(format!("\\u{c:04x}").as_bytes()),
        }
    }
    Some(out)
}

/// HAProxy's `url_decode`: `%XX` decoded (an invalid escape fails), `+`
/// becomes a space in form mode, and a `?` switches to form mode; the
/// input ends at a NUL.
fn url_decode(s: &[u8], mut in_form: bool) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while let Some(&c) = s.get(i) {
        if c == 0 {
            break;
        }
        match c {
            b'+' => out.push(if in_form { b' ' } else { b'+' }),
            b'%' => {
                let hi = s.get(i + 1).and_then(|b| (*b as char).to_digit(16))?;
                let lo = s.get(i + 2).and_then(|b| (*b as char).to_digit(16))?;
                out.push((hi * 16 + lo) as u8);
                i += 2;
            }
            b'?' => {
                in_form = true;
                out.push(c);
            }
            _ => out.push(c),
        }
        i += 1;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(s: &str, i: i64, d: &str, c: i64) -> Option<String> {
        field(s.as_bytes(), i, d.as_bytes(), c).map(|(a, b)| s[a..b].to_string())
    }

    fn w(s: &str, i: i64, d: &str, c: i64) -> Option<String> {
        word(s.as_bytes(), i, d.as_bytes(), c).map(|(a, b)| s[a..b].to_string())
    }

    #[test]
    fn field_and_word_match_haproxy() {
        // Values observed with HAProxy 2.6.12.
        assert_eq!(f("a:b::c:d", 2, ":", 1).as_deref(), Some("b"));
        assert_eq!(f("a:b::c:d", -2, ":", 1).as_deref(), Some("c"));
        assert_eq!(f("a:b::c:d", 2, ":", 2).as_deref(), Some("b:"));
        assert_eq!(f("a:b::c:d", 2, ":", 0).as_deref(), Some("b::c:d"));
        assert_eq!(f("a:b", 5, ":", 1), None);
        assert_eq!(f("a:b::c:d", 3, ":", 1).as_deref(), Some(""));
        assert_eq!(w("a:b::c:d", 3, ":", 1).as_deref(), Some("c"));
        assert_eq!(w("a:b::c:d", -1, ":", 2).as_deref(), Some("c:d"));
        assert_eq!(w("a:b", 5, ":", 1).as_deref(), Some(""));
        assert_eq!(w("::a", 1, ":", 1).as_deref(), Some("a"));
    }

    #[test]
    fn regsub_matches_haproxy_rounds() {
        let re = |s: &str| RegexSrc {
            source: s.to_string(),
            case_insensitive: false,
        };
        let r = |s: &str, p: &str, rep: &str, g: bool| {
            String::from_utf8_lossy(
                &regsub(s.as_bytes(), &re(p), rep.as_bytes(), g).unwrap_or_default(),
            )
            .into_owned()
        };
        assert_eq!(r("abc", "b*", "-", true), "-a--c-");
        assert_eq!(r("abcabc", "b", "X", false), "aXcabc");
        assert_eq!(r("hello", "l", "L", true), "heLLo");
        assert_eq!(r("hello", "(l+)", "<\\1>", true), "he<ll>o");
        assert_eq!(r("aaa", "^a", "b", true), "baa");
        assert_eq!(r("a.b", "\\.", "\\x2d", true), "a-b");
        assert_eq!(r("abc", "z", "y", true), "abc");
    }

    #[test]
    fn json_escapes_like_haproxy() {
        let j = |s: &[u8], m| json(s, m).map(|v| String::from_utf8_lossy(&v).into_owned());
        let input = "a\"b/é\\".as_bytes();
        assert_eq!(
            j(input, JsonInput::Ascii).as_deref(),
            Some("a\\\"b\\/\\u00c3\\u00a9\\\\")
        );
        assert_eq!(
            j(input, JsonInput::Utf8s).as_deref(),
            Some("a\\\"b\\/\\u00e9\\\\")
        );
        assert_eq!(j(b"a\xffb", JsonInput::Utf8), None);
        assert_eq!(j(b"a\xffb", JsonInput::Utf8s).as_deref(), Some("ab"));
        assert_eq!(j(b"\xc0\x80", JsonInput::Utf8p).as_deref(), Some("\\u0000"));
        assert_eq!(j(b"\xc0\x80", JsonInput::Utf8), None);
        assert_eq!(j("😀".as_bytes(), JsonInput::Utf8), None);
        assert_eq!(j("😀x".as_bytes(), JsonInput::Utf8s).as_deref(), Some("x"));
        assert_eq!(
            j(b"\t\n\r\x08\x0c\x01", JsonInput::Ascii).as_deref(),
            Some("\\t\\n\\r\\b\\f\\u0001")
        );
    }

    #[test]
    fn url_decoding_matches_haproxy() {
        let d = |s: &str, form| {
            url_decode(s.as_bytes(), form).map(|v| String::from_utf8_lossy(&v).into_owned())
        };
        assert_eq!(d("a+b%41?c+d", false).as_deref(), Some("a+bA?c d"));
        assert_eq!(d("a+b", true).as_deref(), Some("a b"));
        assert_eq!(d("a%4", false), None);
        assert_eq!(d("a%zz", false), None);
        assert_eq!(d("%2F", false).as_deref(), Some("/"));
    }
}
