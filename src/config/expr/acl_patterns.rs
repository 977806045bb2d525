//! Typed ACL patterns: integers and ranges with HAProxy's operators, IP
//! networks, hex, strings, regexes, methods, and `-f` pattern files
//! (`pattern.c`'s parsers and `pat_ref_read_from_file`).

use super::{Kind, Pat, State};
use crate::config::expr::converters::{mask4, regex_src};
use crate::config::expr::fetches::parse_hex;
use crate::config::expr::sample::parse_int;
use crate::config::expr::{DiagExt, ExprCtx};
use crate::config::word::Word;
use crate::diag::{Diagnostic, Diagnostics};
use crate::ir::expr::{HttpMethod, IntRange, IpNet, StrPattern};
use std::net::{Ipv4Addr, Ipv6Addr};

pub(super) fn pattern_help(kind: Kind, text: &str) -> Option<String> {
    match kind {
        Kind::Ip if text.chars().any(|c| c.is_ascii_alphabetic()) && !text.contains(':') => {
            Some("portcullis does not resolve host names in ACL patterns: write the address".into())
        }
        Kind::DottedVer => Some("versions are written major.minor, e.g. '3.1' for TLS 1.0".into()),
        Kind::Int | Kind::Len => {
            Some("integer patterns are N, N:M, :M, N: or an operator (eq ge gt le lt) and N".into())
        }
        Kind::Bin => Some("binary patterns are written as an even number of hex digits".into()),
        _ => None,
    }
}

/// `gt 5` → `6:` and friends (HAProxy's operator compatibility layer).
pub(super) fn operator_range(op: &str, text: &str, kind: Kind) -> Result<Pat, String> {
    let v = if kind == Kind::DottedVer {
        dotted(text).ok_or_else(|| format!("'{text}' is not a dotted number"))?
    } else {
        parse_int(text)
            .ok_or_else(|| format!("'{text}' is neither a number nor a supported operator"))?
    };
    let range = match op {
        "gt" => IntRange {
            min: Some(v.saturating_add(1)),
            max: None,
        },
        "ge" => IntRange {
            min: Some(v),
            max: None,
        },
        "lt" => IntRange {
            min: None,
            max: Some(v.saturating_sub(1)),
        },
        _ => IntRange {
            min: None,
            max: Some(v),
        },
    };
    Ok(Pat::Range(range))
}

pub(super) fn parse_pattern(kind: Kind, text: &str, ignore_case: bool) -> Result<Pat, String> {
    Ok(match kind {
        Kind::Found | Kind::Bool => Pat::Ignored,
        Kind::Int | Kind::Len => Pat::Range(int_range(text)?),
        Kind::DottedVer => Pat::Range(dotted_range(text)?),
        Kind::Ip => Pat::Ip(
            ip_net(text).ok_or_else(|| format!("'{text}' is not a valid IPv4 or IPv6 address"))?,
        ),
        Kind::Bin => Pat::Bin(parse_hex(text)?),
        Kind::Str(_) => Pat::Str(StrPattern {
            value: text.to_string(),
            ignore_case,
        }),
        Kind::Reg => Pat::Reg(regex_src(text, ignore_case)?),
        Kind::Method => Pat::Method(HttpMethod::parse(text)),
        Kind::AuthGroup => Pat::Group(text.to_string()),
    })
}

/// `N`, `N:M`, `:M`, `N:` (or `-` as separator), as HAProxy's `pat_parse_int`.
pub(super) fn int_range(text: &str) -> Result<IntRange, String> {
    let not_range = || format!("'{text}' is not a valid number range");
    let Some(sep) = text.find([':', '-']) else {
        let v = parse_int(text).ok_or_else(|| format!("'{text}' is not a number"))?;
        return Ok(IntRange {
            min: Some(v),
            max: Some(v),
        });
    };
    let (lo, hi) = (&text[..sep], &text[sep + 1..]);
    let num = |s: &str| -> Result<Option<i64>, String> {
        if s.is_empty() {
            Ok(None)
        } else {
            parse_int(s).map(Some).ok_or_else(not_range)
        }
    };
    let (min, max) = (num(lo)?, num(hi)?);
    if min.is_none() && max.is_none() {
        return Err(not_range());
    }
    if let (Some(a), Some(b)) = (min, max)
        && a > b
    {
        return Err(not_range());
    }
    Ok(IntRange { min, max })
}

/// `major[.minor]` → `(major << 16) | minor`, each below 65536 (HAProxy's
/// `strl2llrc_dotted`).
fn dotted(text: &str) -> Option<i64> {
    let (major, minor) = match text.split_once('.') {
        Some((a, b)) => (a, Some(b)),
        None => (text, None),
    };
    let num = |s: &str| -> Option<i64> {
        let v = parse_int(s)?;
        (0..65536).contains(&v).then_some(v)
    };
    let major = num(major)?;
    let minor = match minor {
        Some(m) => num(m)?,
        None => 0,
    };
    Some((major << 16) | minor)
}

/// `x.y`, `x.y:z.w`, `:x.y`, `x.y:` (or `-` as separator), as HAProxy's
/// `pat_parse_dotted_ver`.
pub(super) fn dotted_range(text: &str) -> Result<IntRange, String> {
    let bad = || format!("'{text}' is not a dotted number");
    let Some(sep) = text.find([':', '-']) else {
        let v = dotted(text).ok_or_else(bad)?;
        return Ok(IntRange {
            min: Some(v),
            max: Some(v),
        });
    };
    let (lo, hi) = (&text[..sep], &text[sep + 1..]);
    let side = |s: &str| -> Result<Option<i64>, String> {
        if s.is_empty() {
            Ok(None)
        } else {
            dotted(s).map(Some).ok_or_else(bad)
        }
    };
    let (min, max) = (side(lo)?, side(hi)?);
    if min.is_none() && max.is_none() {
        return Err(bad());
    }
    Ok(IntRange { min, max })
}

/// `addr[/mask]` for IPv4 (mask as bits or dotted) or IPv6 (bits).
pub(super) fn ip_net(text: &str) -> Option<IpNet> {
    let (addr, mask) = match text.split_once('/') {
        Some((a, m)) => (a, Some(m)),
        None => (text, None),
    };
    if let Ok(v4) = addr.parse::<Ipv4Addr>() {
        let mask = match mask {
            Some(m) => mask4(m)?,
            None => Ipv4Addr::BROADCAST,
        };
        return Some(IpNet::V4 { addr: v4, mask });
    }
    let v6 = addr.parse::<Ipv6Addr>().ok()?;
    let prefix = match mask {
        Some(m) => m.parse::<u8>().ok().filter(|p| *p <= 128)?,
        None => 128,
    };
    Some(IpNet::V6 { addr: v6, prefix })
}

/// Reads `-f <file>`: one pattern per line, lines starting with `#` skipped,
/// leading blanks stripped, empty lines ignored (HAProxy's
/// `pat_ref_read_from_file`); with `-M`, only the key column is used.
pub(super) fn load_file(
    st: &mut State,
    kind: Kind,
    file: &Word,
    ctx: &ExprCtx,
    diags: &mut Diagnostics,
) -> bool {
    let content = match std::fs::read_to_string(&file.text) {
        Ok(c) => c,
        Err(e) => {
            diags.push(
                Diagnostic::error(format!(
                    "failed to open pattern file <{}> in {}",
                    file.text, ctx.context
                ))
                .at(file.span)
                .label(e.to_string())
                .help("pattern file paths are relative to the directory portcullis runs in"),
            );
            return false;
        }
    };
    let mut ok = true;
    for (n, raw) in content.split('\n').enumerate() {
        if raw.starts_with('#') {
            continue;
        }
        let line = raw.trim_start_matches([' ', '\t']);
        let line = line.split(['\r', '\n']).next().unwrap_or("");
        let line = if st.map_file {
            line.split([' ', '\t']).next().unwrap_or("")
        } else {
            line
        };
        if line.is_empty() {
            continue;
        }
        if line.ends_with([' ', '\t']) {
            diags.push(
                Diagnostic::warning(format!(
                    "pattern at line {} of file '{}' ends with a blank, which is part of the pattern, in {}",
                    n + 1,
                    file.text,
                    ctx.context
                ))
                .at(file.span)
                .help("remove trailing blanks from the pattern file"),
            );
        }
        match parse_pattern(kind, line, st.ignore_case) {
            Ok(Pat::Ignored) => st.ignored.push(file.span),
            Ok(p) => st.patterns.push(p),
            Err(msg) => {
                diags.push(
                    Diagnostic::error(format!(
                        "{msg} at line {} of file '{}' in {}",
                        n + 1,
                        file.text,
                        ctx.context
                    ))
                    .at(file.span)
                    .help_opt(pattern_help(kind, line)),
                );
                ok = false;
            }
        }
    }
    ok
}
