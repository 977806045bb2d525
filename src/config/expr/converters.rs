//! The converter table: every converter portcullis supports, its arguments and
//! their validation (HAProxy 2.6 `sample.c`, `ssl_sample.c`, `http_conv.c`,
//! `vars.c` check functions, with the same messages where they exist).

use super::fetches::{ArgKind, ArgVal, var_name};
use crate::ir::expr::{Conv, JsonInput, RegexSrc, Sha2Bits, VarCondition};
use std::net::{Ipv4Addr, Ipv6Addr};

/// Argument list of a supported converter.
pub(crate) struct ConvSpec {
    pub name: &'static str,
    pub args: &'static [ArgKind],
    pub min: usize,
}

const NONE: &[ArgKind] = &[];
const STR: &[ArgKind] = &[ArgKind::Str];
const FIELD: &[ArgKind] = &[ArgKind::Int, ArgKind::Str, ArgKind::Int];
const TIME: &[ArgKind] = &[ArgKind::Str, ArgKind::Int];
const STR3: &[ArgKind] = &[ArgKind::Str, ArgKind::Str, ArgKind::Str];

macro_rules! specs {
    ($($name:literal => $args:expr, $min:literal;)*) => {
        /// Every supported converter with its arguments.
        pub(crate) const CONV_SPECS: &[ConvSpec] = &[$(ConvSpec { name: $name, args: $args, min: $min },)*];
        /// Every supported converter name.
        pub(crate) const SUPPORTED_NAMES: &[&str] = &[$($name,)*];
    };
}

specs! {
    "hex" => NONE, 0;
    "lower" => NONE, 0;
    "upper" => NONE, 0;
    "base64" => NONE, 0;
    "sha1" => NONE, 0;
    "sha2" => &[ArgKind::Int], 0;
    "field" => FIELD, 2;
    "word" => FIELD, 2;
    "strcmp" => STR, 1;
    "regsub" => STR3, 2;
    "json" => STR, 0;
    "url_dec" => &[ArgKind::Int], 0;
    "ltime" => TIME, 1;
    "utime" => TIME, 1;
    "length" => NONE, 0;
    "bytes" => &[ArgKind::Int, ArgKind::Int], 1;
    "concat" => STR3, 0;
    "ipmask" => &[ArgKind::Str, ArgKind::Str], 1;
    "set-var" => &[ArgKind::Str, ArgKind::Str, ArgKind::Str, ArgKind::Str, ArgKind::Str], 1;
}

/// The map converters (`map`, `map_<match>`, `map_<match>_<output>`).
pub(crate) const MAP_NAMES: &[&str] = &[
    "map",
    "map_str",
    "map_str_int",
    "map_str_ip",
    "map_beg",
    "map_beg_int",
    "map_beg_ip",
    "map_sub",
    "map_sub_int",
    "map_sub_ip",
    "map_dir",
    "map_dir_int",
    "map_dir_ip",
    "map_dom",
    "map_dom_int",
    "map_dom_ip",
    "map_end",
    "map_end_int",
    "map_end_ip",
    "map_reg",
    "map_reg_int",
    "map_reg_ip",
    "map_regm",
    "map_ip",
    "map_ip_int",
    "map_ip_ip",
    "map_int",
    "map_int_int",
    "map_int_ip",
];

/// Every supported converter name, maps included.
pub(crate) fn all_names() -> &'static [&'static str] {
    static ALL: std::sync::LazyLock<Vec<&'static str>> = std::sync::LazyLock::new(|| {
        SUPPORTED_NAMES
            .iter()
            .chain(MAP_NAMES.iter())
            .copied()
            .collect()
    });
    &ALL
}

/// The spec of a supported converter.
pub(crate) fn spec(name: &str) -> Option<&'static ConvSpec> {
    CONV_SPECS
        .iter()
        .find(|s| s.name == name)
        .or_else(|| super::maps::spec(name))
}

/// Builds a converter from its name and typed arguments. Errors carry the
/// 0-based index of the faulty argument and the reason.
pub(crate) fn build(name: &str, args: &[Option<ArgVal>]) -> Result<Conv, (usize, String)> {
    let s = |i: usize| match args.get(i) {
        Some(Some(ArgVal::Str(v))) => Some(v.clone()),
        _ => None,
    };
    let n = |i: usize| match args.get(i) {
        Some(Some(ArgVal::Int(v))) => Some(*v),
        _ => None,
    };
    let conv = match name {
        "hex" => Conv::Hex,
        "lower" => Conv::Lower,
        "upper" => Conv::Upper,
        "base64" => Conv::Base64,
        "sha1" => Conv::Sha1,
        "length" => Conv::Length,
        "sha2" => Conv::Sha2(match n(0) {
            None | Some(256) => Sha2Bits::B256,
            Some(224) => Sha2Bits::B224,
            Some(384) => Sha2Bits::B384,
            Some(512) => Sha2Bits::B512,
            Some(other) => return Err((0, format!("Unsupported number of bits: '{other}'"))),
        }),
        "field" | "word" => {
            let index = n(0).unwrap_or_default();
            if index == 0 {
                return Err((0, "Unexpected value 0 for index".into()));
            }
            let delimiters = s(1).unwrap_or_default();
            if delimiters.is_empty() {
                return Err((1, "Empty separators list".into()));
            }
            let count = n(2).unwrap_or(1);
            if name == "field" {
                Conv::Field {
                    index,
                    delimiters,
                    count,
                }
            } else {
                Conv::Word {
                    index,
                    delimiters,
                    count,
                }
            }
        }
        "strcmp" => {
            let v = s(0).unwrap_or_default();
            if v.is_empty() {
                return Err((0, "missing variable name".into()));
            }
            Conv::Strcmp(var_name(&v).map_err(|e| (0, e))?)
        }
        "regsub" => {
            let mut global = false;
            let mut icase = false;
            for c in s(2).unwrap_or_default().chars() {
                match c {
                    'g' => global = true,
                    'i' => icase = true,
                    other => {
                        return Err((
                            2,
                            format!("invalid regex flag '{other}', only 'i' and 'g' are supported"),
                        ));
                    }
                }
            }
            let regex = regex_src(&s(0).unwrap_or_default(), icase).map_err(|e| (0, e))?;
            Conv::Regsub {
                regex,
                replacement: s(1).unwrap_or_default(),
                global,
            }
        }
        "json" => Conv::Json(match s(0).unwrap_or_default().as_str() {
            "" | "ascii" => JsonInput::Ascii,
            "utf8" => JsonInput::Utf8,
            "utf8s" => JsonInput::Utf8s,
            "utf8p" => JsonInput::Utf8p,
            "utf8ps" => JsonInput::Utf8ps,
            _ => {
                return Err((
                    0,
                    "Unexpected input code type. Allowed value are 'ascii', 'utf8', 'utf8s', 'utf8p' and 'utf8ps'".into(),
                ));
            }
        }),
        "url_dec" => Conv::UrlDec {
            in_form: n(0).is_some_and(|v| v != 0),
        },
        "ltime" | "utime" => {
            let format = s(0).unwrap_or_default();
            check_strftime(&format).map_err(|e| (0, e))?;
            let offset = n(1).unwrap_or(0);
            if name == "ltime" {
                Conv::Ltime { format, offset }
            } else {
                Conv::Utime { format, offset }
            }
        }
        "bytes" => {
            let offset = n(0).unwrap_or_default();
            if offset < 0 {
                return Err((0, "offset must not be negative".into()));
            }
            let length = n(1);
            if length.is_some_and(|l| l < 0) {
                return Err((1, "length must not be negative".into()));
            }
            Conv::Bytes { offset, length }
        }
        "concat" => {
            let var = match s(1).filter(|v| !v.is_empty()) {
                Some(v) => Some(
                    var_name(&v)
                        .map_err(|e| (1, format!("failed to register variable name '{v}': {e}")))?,
                ),
                None => None,
            };
            Conv::Concat {
                prefix: s(0).unwrap_or_default(),
                var,
                suffix: s(2).unwrap_or_default(),
            }
        }
        "ipmask" => {
            let v4 = mask4(&s(0).unwrap_or_default())
                .ok_or((0, "expects an IPv4 mask (bits or dotted)".to_string()))?;
            let v6 = match s(1) {
                Some(m) if !m.is_empty() => Some(
                    mask6(&m)
                        .ok_or((1, "expects an IPv6 mask (bits or address form)".to_string()))?,
                ),
                _ => None,
            };
            Conv::IpMask { v4, v6 }
        }
        "set-var" => {
            let var = var_name(&s(0).unwrap_or_default()).map_err(|e| (0, e))?;
            let mut conditions = Vec::new();
            for i in 1..args.len() {
                if let Some(c) = s(i) {
                    conditions
                        .push(var_condition(&c).ok_or((i, format!("unknown condition \"{c}\"")))?);
                }
            }
            Conv::SetVar { var, conditions }
        }
        other if super::maps::parse_name(other).is_some() => {
            return super::maps::build(other, args);
        }
        other => return Err((0, format!("'{other}' has no builder"))),
    };
    Ok(conv)
}

/// Compile-checks a regex with the engine the runtime uses.
pub(crate) fn regex_src(source: &str, case_insensitive: bool) -> Result<RegexSrc, String> {
    regex::RegexBuilder::new(source)
        .case_insensitive(case_insensitive)
        .build()
        .map_err(|e| {
            format!(
                "regex '{source}' is invalid: {}",
                first_line(&e.to_string())
            )
        })?;
    Ok(RegexSrc {
        source: source.to_string(),
        case_insensitive,
    })
}

/// The `regex` crate's messages span several lines with a caret; keep the reason.
fn first_line(msg: &str) -> String {
    msg.lines()
        .rev()
        .find(|l| l.starts_with("error:"))
        .map(|l| l.trim_start_matches("error:").trim().to_string())
        .unwrap_or_else(|| msg.lines().next().unwrap_or("").to_string())
}

fn var_condition(text: &str) -> Option<VarCondition> {
    Some(match text {
        "ifexists" => VarCondition::IfExists,
        "ifnotexists" => VarCondition::IfNotExists,
        "ifempty" => VarCondition::IfEmpty,
        "ifnotempty" => VarCondition::IfNotEmpty,
        "ifset" => VarCondition::IfSet,
        "ifnotset" => VarCondition::IfNotSet,
        "ifgt" => VarCondition::IfGt,
        "iflt" => VarCondition::IfLt,
        _ => return None,
    })
}

/// An IPv4 mask: dotted (`255.255.0.0`) or a prefix length (HAProxy `str2mask`).
pub(crate) fn mask4(text: &str) -> Option<Ipv4Addr> {
    if text.contains('.') {
        return text.parse().ok();
    }
    let bits: u32 = text.parse().ok().filter(|b| *b <= 32)?;
    let mask = if bits == 0 {
        0
    } else {
        u32::MAX << (32 - bits)
    };
    Some(Ipv4Addr::from(mask))
}

/// An IPv6 mask: address form or a prefix length (HAProxy `str2mask6`).
pub(crate) fn mask6(text: &str) -> Option<Ipv6Addr> {
    if text.contains(':') {
        return text.parse().ok();
    }
    let bits: u32 = text.parse().ok().filter(|b| *b <= 128)?;
    let mask = if bits == 0 {
        0
    } else {
        u128::MAX << (128 - bits)
    };
    Some(Ipv6Addr::from(mask))
}

/// Conversions the runtime's strftime implements (C99 + common GNU ones).
const STRFTIME: &str = "aAbBcCdDeFgGhHIjklmMnprRsStTuUVwWxXyYzZ%+P";

/// Refuses strftime formats the runtime could not render exactly.
fn check_strftime(format: &str) -> Result<(), String> {
    if format.is_empty() {
        return Err("missing time format".into());
    }
    let mut chars = format.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            continue;
        }
        let mut conv = chars.next();
        if matches!(conv, Some('E' | 'O')) {
            conv = chars.next();
        }
        match conv {
            Some(k) if STRFTIME.contains(k) => {}
            Some(k) => return Err(format!("unsupported time format conversion '%{k}'")),
            None => return Err("time format ends with a lone '%'".into()),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::names::HAPROXY_CONVERTERS;
    use super::*;

    #[test]
    fn every_supported_converter_is_a_haproxy_one() {
        for s in CONV_SPECS {
            assert!(HAPROXY_CONVERTERS.contains(&s.name), "{}", s.name);
        }
    }

    #[test]
    fn every_map_name_is_a_haproxy_one_and_decodes() {
        for n in MAP_NAMES {
            assert!(HAPROXY_CONVERTERS.contains(n), "{n}");
            assert!(super::super::maps::parse_name(n).is_some(), "{n}");
        }
    }

    #[test]
    fn masks_parse_like_haproxy() {
        assert_eq!(mask4("24"), Some(Ipv4Addr::new(255, 255, 255, 0)));
        assert_eq!(mask4("0"), Some(Ipv4Addr::new(0, 0, 0, 0)));
        assert_eq!(mask4("255.255.0.0"), Some(Ipv4Addr::new(255, 255, 0, 0)));
        assert_eq!(mask4("33"), None);
        assert_eq!(mask6("64"), "ffff:ffff:ffff:ffff::".parse().ok());
        assert_eq!(mask6("129"), None);
    }

    #[test]
    fn strftime_formats_are_checked() {
        assert!(check_strftime("%Y-%m-%dT%H:%M:%S%z").is_ok());
        assert!(check_strftime("%Ey").is_ok());
        assert!(check_strftime("%Q").is_err());
        assert!(check_strftime("100%").is_err());
        assert!(check_strftime("").is_err());
    }

    #[test]
    fn regex_errors_are_one_line() {
        let e = regex_src("^/(foo", false).err().unwrap_or_default();
        assert!(e.starts_with("regex '^/(foo' is invalid: "), "{e}");
        assert!(!e.contains('\n'), "{e}");
    }
}
