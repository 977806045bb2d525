//! Lowering of cookie persistence: `cookie <name> [options]`,
//! `dynamic-cookie-key` and `option persist` (the server side, `cookie
//! <value>`, is a server option). Messages and rules follow HAProxy 2.6's
//! `cfgparse-listen.c` (checked with `haproxy -c`).

use super::arg;
use crate::config::word::Word;
use crate::diag::Diagnostic;
use crate::ir::persist::{CookieMode, CookiePersist, StickRule, StickRuleKind};

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

/// Parses `stick match|on|store-request|store-response <pattern> [table
/// <name>] [{if|unless} <cond>]` (`store` is `store-request`).
pub(crate) fn stick_rule(
    cx: &mut super::Lowerer,
    p: &super::proxy::ProxyBuilder,
    line: &crate::config::word::Line,
    where_: &str,
) -> Result<StickRule, Diagnostic> {
    use crate::config::expr::{self, Mode, Stage};
    let w = &line.words;
    let kw = &w[0];
    let what = arg(w, 1, kw, "'on', 'match', or 'store'")?;
    let kind = match what.text.as_str() {
        "match" => StickRuleKind::Match,
        "on" => StickRuleKind::On,
        "store" | "store-request" => StickRuleKind::StoreRequest,
        "store-response" => StickRuleKind::StoreResponse,
        _ => {
            return Err(Diagnostic::error("'stick' expects 'on', 'match', or 'store'")
                .at(what.span)
                .help("write 'stick on src', 'stick match …', 'stick store-request …' or 'stick store-response …'"));
        }
    };
    let pattern = arg(w, 2, what, "a fetch method")?;
    let (rest, cond_words) = super::rules::split_cond(&w[3..]);
    let response = kind == StickRuleKind::StoreResponse;
    if response && p.mode == Mode::Tcp {
        return Err(Diagnostic::error(
            "'stick store-response' is not supported by portcullis in 'mode tcp' proxies",
        )
        .at(what.span)
        .help(
            "portcullis does not inspect TCP responses: use 'stick on' or 'stick store-request'",
        ));
    }
    let stage = match (p.mode, response) {
        (Mode::Http, false) => Stage::HttpRequest,
        (Mode::Http, true) => Stage::HttpResponse,
        (Mode::Tcp, false) => Stage::TcpContent,
        (Mode::Tcp, true) => Stage::TcpResponse,
    };
    let ctx_text = format!("'stick {}' rule in {where_}", what.text);
    let exists = |n: &str| p.has_acl(n);
    let ctx = p.expr_ctx(stage, &ctx_text, &exists);
    let key = expr::parse_sample(pattern, &ctx, cx.diags).ok_or_else(super::proxy::silent)?;
    let table = match rest {
        [] => p.name.clone(),
        [t, name] if t.text == "table" => name.text.clone(),
        [t] if t.text == "table" => {
            return Err(Diagnostic::error("'stick': 'table' expects a table name")
                .at(t.span)
                .help("name the proxy that declares the table"));
        }
        [other, ..] => {
            return Err(
                Diagnostic::error(format!("'stick': unknown keyword '{}'", other.text))
                    .at(other.span)
                    .help("after the pattern come 'table <name>' and an 'if'/'unless' condition"),
            );
        }
    };
    if !p.table_names.contains(&table) {
        let at = rest.get(1).map_or(kw.span, |t| t.span);
        return Err(Diagnostic::error(format!(
            "Proxy '{}': unable to find stick-table '{table}'",
            p.name
        ))
        .at(at)
        .help(
            "declare 'stick-table type … size …' in this proxy, or name one with 'table <proxy>'",
        ));
    }
    let cond = match cond_words {
        Some(c) => Some(p.condition(cx, c, &ctx)?),
        None => None,
    };
    Ok(StickRule {
        kind,
        key,
        table,
        cond,
    })
}

/// `stktable_compatible_sample`: the rule's key must convert to the type of
/// the table it names (checked once every table is known).
pub(crate) fn check_stick_types(
    cx: &mut super::Lowerer,
    backends: &[crate::ir::Backend],
    frontends: &[crate::ir::Frontend],
) {
    use crate::ir::expr::SampleType;
    use crate::ir::stick::StickKey;
    let tables = backends
        .iter()
        .map(|b| &b.common)
        .chain(frontends.iter().map(|f| &f.common))
        .filter_map(|c| c.stick_table.as_ref());
    let tables: Vec<_> = tables.collect();
    for be in backends {
        for r in &be.persist.stick {
            let Some(t) = tables.iter().find(|t| t.name == r.table) else {
                continue;
            };
            let want = match t.key {
                StickKey::Ip => SampleType::Ipv4,
                StickKey::Ipv6 => SampleType::Ipv6,
                StickKey::Integer => SampleType::Int,
                StickKey::String { .. } => SampleType::Str,
                StickKey::Binary { .. } => SampleType::Bin,
            };
            if !r.key.out_type.can_cast_to(want) {
                cx.err(
                    Diagnostic::error(format!(
                        "Proxy '{}': type of fetch not usable with type of stick-table '{}'",
                        be.common.name, r.table
                    ))
                    .at(r.key.span)
                    .help(format!(
                        "'{}' gives a '{}' sample, the table is keyed by '{}'",
                        r.key.keyword,
                        r.key.out_type.name(),
                        want.name()
                    )),
                );
            }
        }
    }
}
