//! Lowering of cookie persistence: `cookie <name> [options]`,
//! `dynamic-cookie-key` and `option persist` (the server side, `cookie
//! <value>`, is a server option). Messages and rules follow HAProxy 2.6's
//! `cfgparse-listen.c` (checked with `haproxy -c`).

use super::arg;
use crate::config::word::Word;
use crate::diag::Diagnostic;
use crate::ir::persist::{CookieMode, CookiePersist};

const OPTIONS: &str = "'cookie' supports 'rewrite', 'insert', 'prefix', 'indirect', 'nocache', 'postonly', 'domain', 'maxidle', 'dynamic', 'maxlife' and 'attr' options";

/// Parses `cookie <name> [options…]`. Warnings (a domain without a dot)
/// are returned alongside.
pub(crate) fn cookie(w: &[Word]) -> Result<(CookiePersist, Vec<Diagnostic>), Diagnostic> {
    let kw = &w[0];
    let name = arg(w, 1, kw, "<cookie_name>")?;
    let mut c = CookiePersist {
        name: name.text.clone(),
        ..CookiePersist::default()
    };
    let mut warnings = Vec::new();
    let mut modes: Vec<&Word> = Vec::new();
    let mut i = 2;
    while let Some(o) = w.get(i) {
        match o.text.as_str() {
            "rewrite" | "insert" | "prefix" => {
                let m = match o.text.as_str() {
                    "rewrite" => CookieMode::Rewrite,
                    "insert" => CookieMode::Insert,
                    _ => CookieMode::Prefix,
                };
                if !modes.iter().any(|p| p.text == o.text) {
                    modes.push(o);
                }
                c.mode = m;
            }
            "indirect" => c.indirect = true,
            "nocache" => c.nocache = true,
            "postonly" => c.postonly = true,
            "preserve" => c.preserve = true,
            "httponly" => c.httponly = true,
            "secure" => c.secure = true,
            "dynamic" => c.dynamic = true,
            "domain" => {
                let d = arg(w, i + 1, o, "<domain>")?;
                if !d.text.contains('.') {
                    warnings.push(
                        Diagnostic::warning(format!(
                            "domain '{}' contains no embedded dot, this configuration may not work properly (see RFC6265#5.2.3)",
                            d.text
                        ))
                        .at(d.span),
                    );
                }
                if let Some(bad) = d.text.chars().find(|ch| !valid_domain_char(*ch)) {
                    return Err(Diagnostic::error(format!(
                        "character '{bad}' is not permitted in domain name '{}'",
                        d.text
                    ))
                    .at(d.span)
                    .help("domain names use letters, digits, '-', '_' and '.'"));
                }
                c.domains.push(d.text.clone());
                i += 1;
            }
            "maxidle" | "maxlife" => {
                let what = if o.text == "maxidle" {
                    "<idletime> in seconds"
                } else {
                    "<lifetime> in seconds"
                };
                let v = arg(w, i + 1, o, what)?;
                let secs = seconds(v, &o.text)?;
                if o.text == "maxidle" {
                    c.maxidle = secs;
                } else {
                    c.maxlife = secs;
                }
                i += 1;
            }
            "attr" => {
                let v = arg(w, i + 1, o, "<value>")?;
                if let Some(bad) = v.text.chars().find(|ch| ch.is_control() || *ch == ';') {
                    return Err(Diagnostic::error(format!(
                        "character '%x{:02X}' is not permitted in attribute value",
                        u32::from(bad)
                    ))
                    .at(v.span)
                    .help("an attribute value cannot hold ';' or control characters"));
                }
                c.attrs.push(v.text.clone());
                i += 1;
            }
            _ => {
                return Err(Diagnostic::error(OPTIONS.to_string())
                    .at(o.span)
                    .label("unknown cookie option"));
            }
        }
        i += 1;
    }
    if c.mode == CookieMode::Rewrite && c.indirect {
        return Err(
            Diagnostic::error("cookie 'rewrite' and 'indirect' modes are incompatible")
                .at(kw.span)
                .help("drop 'indirect', or use 'insert indirect'"),
        );
    }
    if modes.len() > 1 {
        return Err(Diagnostic::error(
            "cookie 'rewrite', 'insert' and 'prefix' modes are incompatible",
        )
        .at(modes[0].span.to(modes[modes.len() - 1].span))
        .help("choose one of 'rewrite', 'insert' and 'prefix'"));
    }
    if c.preserve && c.mode != CookieMode::Insert && !c.indirect {
        return Err(Diagnostic::error(
            "cookie 'preserve' requires at least 'insert' or 'indirect'",
        )
        .at(kw.span));
    }
    Ok((c, warnings))
}

/// HAProxy's `invalid_domainchar`: letters, digits, `-`, `_` and `.`.
fn valid_domain_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')
}

/// A time in seconds (`parse_time_err` with seconds as the default unit).
fn seconds(w: &Word, what: &str) -> Result<u32, Diagnostic> {
    let text = w.text.as_str();
    let digits = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let bad_char = |c: char| {
        Diagnostic::error(format!(
            "unexpected character '{c}' in argument to <{what}>"
        ))
        .at(w.span)
        .help("write a number of seconds with an optional unit: ms, s, m, h or d")
    };
    if digits == 0 {
        return Err(bad_char(text.chars().next().unwrap_or(' ')));
    }
    let n: u64 = text[..digits].parse().unwrap_or(u64::MAX);
    let ms = match &text[digits..] {
        "" | "s" => n.checked_mul(1000),
        "us" => Some(n / 1000),
        "ms" => Some(n),
        "m" => n.checked_mul(60_000),
        "h" => n.checked_mul(3_600_000),
        "d" => n.checked_mul(86_400_000),
        other => return Err(bad_char(other.chars().next().unwrap_or(' '))),
    };
    let secs = ms.map(|m| m / 1000).filter(|s| *s <= 2_147_483_647);
    match secs {
        None => Err(Diagnostic::error(format!(
            "timer overflow in argument <{text}> to <{what}>, maximum value is 2147483647 s (~68 years)"
        ))
        .at(w.span)),
        Some(0) if n != 0 => Err(Diagnostic::error(format!(
            "timer underflow in argument <{text}> to <{what}>, minimum non-null value is 1 s"
        ))
        .at(w.span)),
        Some(s) => Ok(u32::try_from(s).unwrap_or(u32::MAX)),
    }
}
