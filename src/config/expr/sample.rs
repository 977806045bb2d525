//! Sample expressions: a fetch and its converter chain inside one word
//! (`ssl_c_serial,hex,lower`), typed with HAProxy 2.6's cast rules.
//!
//! Mirrors `sample_parse_expr` (`sample.c`): a fetch keyword with optional
//! arguments, then `,converter(args)` repeated; a converter whose input type
//! cannot be reached from the previous output is refused ("converter 'x'
//! cannot be applied"). In an ACL the keyword is first looked up among the ACL
//! keywords (`path_beg`), whose implied match is dropped when a converter follows.

use super::fetches::{self, AclKeyword, ArgKind, ArgVal, Class};
use super::lex::{self, Call};
use super::names::{HAPROXY_ACL_ONLY_KEYWORDS, HAPROXY_CONVERTERS, HAPROXY_FETCHES};
use super::{ExprCtx, ExprError, ExprErrorKind, Stage, converters, stickfetch, sub_span};
use crate::config::word::Word;
use crate::diag::{Diagnostic, Diagnostics, did_you_mean};
use crate::ir::expr::{
    CertField, Conv, Converter, DnSelect, Fetch, HttpDir, Mode, Sample, SampleType,
};
use std::ops::Range;

/// Where an expression sits, which decides how it ends and how its keyword
/// is looked up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Site {
    /// The whole word is the expression.
    Standalone,
    /// Inside `%[…]`: the expression stops at the first character that is not
    /// part of it; the caller checks for `]`.
    Embedded,
    /// An ACL criterion: ACL keywords (`path_beg`) are accepted.
    Acl,
}

/// A parsed expression and what the caller needs to finish checking it.
pub(crate) struct Parsed {
    pub sample: Sample,
    /// The ACL keyword the criterion used, when no converter followed it.
    pub implied: Option<&'static AclKeyword>,
    /// What the fetch needs (availability per stage).
    pub class: Class,
    /// Offset just after the expression.
    pub end: usize,
    /// Where the fetch keyword sits (for availability messages).
    pub fetch_at: Range<usize>,
}

/// Parses a whole word as an expression and checks it can run at `ctx.stage`.
pub(crate) fn parse_standalone(
    word: &Word,
    ctx: &ExprCtx,
    diags: &mut Diagnostics,
) -> Result<Sample, ExprError> {
    let parsed = parse_at(word, 0, Site::Standalone, ctx, diags)?;
    check_available(&parsed, ctx)?;
    Ok(parsed.sample)
}

/// Refuses a fetch that cannot be evaluated at `ctx.stage` (HAProxy: "may not
/// be reliably used here").
pub(crate) fn check_available(parsed: &Parsed, ctx: &ExprCtx) -> Result<(), ExprError> {
    if parsed.class.available_at(ctx.stage) {
        return Ok(());
    }
    Err(ExprError::new(
        ExprErrorKind::NotAvailable {
            kw: parsed.sample.keyword.clone(),
            needs: parsed.class.needs(),
            stage: ctx.stage.describe(),
        },
        parsed.fetch_at.clone(),
    )
    .label("not available here")
    .help(usable_in(parsed.class)))
}

/// "usable in: …" hint listing the stages where a class is available.
pub(crate) fn usable_in(class: Class) -> String {
    let stages: Vec<&str> = Stage::CONCRETE
        .iter()
        .filter(|s| class.available_at(**s))
        .map(|s| s.describe())
        .collect();
    format!("this fetch can be used in: {}", stages.join(", "))
}

/// Parses an expression starting at byte `start` of `word`.
pub(crate) fn parse_at(
    word: &Word,
    start: usize,
    site: Site,
    ctx: &ExprCtx,
    diags: &mut Diagnostics,
) -> Result<Parsed, ExprError> {
    let text = word.text.as_str();
    let (call, mut pos) = lex::call(text, start)?;
    if call.name.is_empty() {
        let at = start..(start + 1).min(text.len().max(start + 1));
        return Err(ExprError::new(ExprErrorKind::MissingFetch, at)
            .help("an expression starts with a fetch, e.g. 'src' or 'req.hdr(host)'"));
    }
    let acl_kw = if site == Site::Acl {
        fetches::acl_keyword(call.name)
    } else {
        None
    };
    let fetch_name = acl_kw.map_or(call.name, |k| k.fetch);
    let mut fetch = if let Some(lua) = lua_call(&call, &ctx.lua.fetches) {
        Fetch::Lua {
            name: lua.0,
            args: lua.1,
        }
    } else {
        let stick = stickfetch::spec(fetch_name);
        let spec = fetches::spec(fetch_name)
            .or(stick)
            .ok_or_else(|| unknown_fetch(&call, site))?;
        let args = type_args(&call, spec.args, spec.min, "fetch method")?;
        let dir = if ctx.stage.is_response() {
            HttpDir::Response
        } else {
            HttpDir::Request
        };
        if stick.is_some() {
            stickfetch::build(fetch_name, &args, ctx)
        } else {
            fetches::build(fetch_name, &args, dir)
        }
        .map_err(|(i, msg)| bad_arg(&call, i, msg))?
    };
    if let Fetch::Nbsrv(proxy) = &mut fetch {
        if proxy.is_empty() {
            if !ctx.backends.iter().any(|b| b == ctx.proxy) {
                return Err(bad_arg(
                    &call,
                    0,
                    format!(
                        "proxy '{}' has no backend capability: name a backend",
                        ctx.proxy
                    ),
                ));
            }
            *proxy = ctx.proxy.to_string();
        } else if !ctx.backends.contains(proxy) {
            return Err(bad_arg(
                &call,
                0,
                format!("unable to find backend '{proxy}'"),
            ));
        }
    }
    warn_fetch_args(&fetch, word, &call, ctx, diags);
    let class = fetches::class_of_keyword(fetch_name, &fetch);
    // `tcp-request content` of a `mode tcp` proxy reads the buffered
    // request as HTTP/1, as HAProxy 2.6 does; other TCP stages cannot.
    let tcp_content_request = ctx.stage == Stage::TcpContent
        && matches!(
            class,
            Class::HttpReqHeaders | Class::HttpRequest | Class::HttpAnyHeaders
        );
    if ctx.mode == Mode::Tcp
        && class.needs_http_mode()
        && !tcp_content_request
        && !matches!(ctx.stage, Stage::HttpRequest | Stage::HttpResponse)
    {
        return Err(ExprError::new(ExprErrorKind::NeedsHttpMode(call.name.to_string()), call.name_at.clone())
            .label("HTTP fetch in a 'mode tcp' proxy")
            .help("set 'mode http', or use a connection or TLS fetch (src, ssl_fc_sni, req.ssl_sni, ssl_c_*)"));
    }
    let mut prev_type = fetch.out_type();
    let mut prev_name = call.name.to_string();
    let mut converters_out = Vec::new();
    loop {
        let rest = text.get(pos..).unwrap_or("");
        if rest.is_empty() {
            break;
        }
        if !rest.starts_with(',') {
            if site == Site::Embedded {
                break;
            }
            return Err(
                ExprError::new(ExprErrorKind::MissingComma(prev_name), pos..text.len())
                    .label("unexpected text")
                    .help("converters are separated by commas: fetch,conv1,conv2(arg)"),
            );
        }
        // HAProxy tolerates repeated commas between converters.
        pos += rest.len() - rest.trim_start_matches(',').len();
        let (conv_call, end) = lex::call(text, pos)?;
        if conv_call.name.is_empty() {
            return Err(ExprError::new(
                ExprErrorKind::MissingConverter,
                pos.saturating_sub(1)..pos,
            )
            .help("remove the trailing ',' or name a converter after it"));
        }
        let conv = if let Some((name, args)) = lua_call(&conv_call, &ctx.lua.converters) {
            Conv::Lua { name, args }
        } else {
            let conv_spec =
                converters::spec(conv_call.name).ok_or_else(|| unknown_converter(&conv_call))?;
            let conv_args = type_args(&conv_call, conv_spec.args, conv_spec.min, "converter")?;
            converters::build(conv_call.name, &conv_args)
                .map_err(|(i, msg)| bad_arg(&conv_call, i, msg))?
        };
        if !prev_type.can_cast_to(conv.in_type()) {
            return Err(cannot_apply(
                &conv_call,
                prev_type,
                conv.in_type(),
                &prev_name,
            ));
        }
        prev_type = conv.out_type();
        prev_name = conv_call.name.to_string();
        converters_out.push(Converter {
            conv,
            span: sub_span(word, &conv_call.at),
        });
        pos = end;
    }
    let implied = if converters_out.is_empty() {
        acl_kw
    } else {
        None
    };
    let sample = Sample {
        fetch,
        converters: converters_out,
        keyword: call.name.to_string(),
        out_type: prev_type,
        span: sub_span(word, &(start..pos)),
    };
    Ok(Parsed {
        sample,
        implied,
        class,
        end: pos,
        fetch_at: call.name_at,
    })
}

/// `lua.<name>(args…)` when a script registered `<name>` in `registered`:
/// the name and the string arguments (`lua.f()` has none).
fn lua_call<V>(
    call: &Call,
    registered: &std::collections::BTreeMap<String, V>,
) -> Option<(String, Vec<String>)> {
    let name = call.name.strip_prefix("lua.")?;
    registered.get(name)?;
    let mut args: Vec<String> = call.args.iter().flatten().map(|a| a.text.clone()).collect();
    if args.len() == 1 && args[0].is_empty() {
        args.clear();
    }
    Some((name.to_string(), args))
}

fn unknown_fetch(call: &Call, site: Site) -> ExprError {
    let name = call.name;
    let at = call.name_at.clone();
    if let Some(lua) = name.strip_prefix("lua.") {
        // HAProxy: "unknown fetch method 'lua.x'" when no script registered it.
        return ExprError::new(ExprErrorKind::UnknownFetch(name.to_string()), at)
            .label("no Lua script registered it")
            .help(format!(
                "register it in a script loaded by 'lua-load': core.register_fetches(\"{lua}\", function(txn) … end)"
            ));
    }
    let acl_only = HAPROXY_ACL_ONLY_KEYWORDS.contains(&name);
    if HAPROXY_FETCHES.contains(&name) || (acl_only && site == Site::Acl) {
        return ExprError::new(ExprErrorKind::UnsupportedFetch(name.to_string()), at)
            .label("not supported")
            .help_opt(suggest(name, site).map(|s| format!("supported fetches include '{s}'")));
    }
    if acl_only {
        let base = fetches::acl_keyword(name).map_or("the base fetch", |k| k.fetch);
        return ExprError::new(ExprErrorKind::UnknownFetch(name.to_string()), at)
            .label("ACL keyword, not a fetch")
            .help(format!(
                "'{name}' only exists in ACLs; in an expression use '{base}'"
            ));
    }
    ExprError::new(ExprErrorKind::UnknownFetch(name.to_string()), at)
        .label("unknown fetch")
        .help_opt(suggest(name, site).map(|s| format!("did you mean '{s}'?")))
}

/// The closest supported keyword, else the closest HAProxy one.
fn suggest(name: &str, site: Site) -> Option<&'static str> {
    let mut supported: Vec<&'static str> = fetches::SUPPORTED_NAMES.to_vec();
    if site == Site::Acl {
        supported.extend(fetches::ACL_KEYWORDS.iter().map(|k| k.name));
    }
    let supported = supported.into_iter().filter(|s| *s != name);
    did_you_mean(name, supported)
        .or_else(|| did_you_mean(name, HAPROXY_FETCHES.iter().copied().filter(|s| *s != name)))
}

fn unknown_converter(call: &Call) -> ExprError {
    let name = call.name;
    let at = call.name_at.clone();
    if let Some(lua) = name.strip_prefix("lua.") {
        return ExprError::new(ExprErrorKind::UnknownConverter(name.to_string()), at)
            .label("no Lua script registered it")
            .help(format!(
                "register it in a script loaded by 'lua-load': core.register_converters(\"{lua}\", function(s) … end)"
            ));
    }
    if HAPROXY_CONVERTERS.contains(&name) {
        return ExprError::new(ExprErrorKind::UnsupportedConverter(name.to_string()), at)
            .label("not supported")
            .help(format!(
                "supported converters: {}",
                converters::SUPPORTED_NAMES.join(", ")
            ));
    }
    let others = converters::SUPPORTED_NAMES.iter().copied();
    let hint = did_you_mean(name, others)
        .or_else(|| did_you_mean(name, HAPROXY_CONVERTERS.iter().copied()));
    let mut e = ExprError::new(ExprErrorKind::UnknownConverter(name.to_string()), at)
        .label("unknown converter");
    if let Some(h) = hint {
        e = e.help(format!("did you mean '{h}'?"));
    } else if fetches::spec(name).is_some() {
        e = e.help(format!(
            "'{name}' is a fetch; an expression has one fetch followed by converters"
        ));
    }
    e
}

fn cannot_apply(call: &Call, from: SampleType, to: SampleType, prev: &str) -> ExprError {
    let help = match from {
        SampleType::Bin => format!(
            "'{prev}' returns binary data; turn it into text first with ',hex' or ',base64'"
        ),
        _ => format!(
            "'{}' expects a '{}' sample and a '{}' cannot be converted to it",
            call.name,
            to.name(),
            from.name()
        ),
    };
    ExprError::new(
        ExprErrorKind::CannotApply {
            conv: call.name.to_string(),
            from: from.name(),
        },
        call.name_at.clone(),
    )
    .label(format!("expects '{}'", to.name()))
    .help(help)
}

fn bad_arg(call: &Call, index: usize, msg: String) -> ExprError {
    let at = call.args.as_ref().and_then(|a| a.get(index)).map_or_else(
        || call.at.clone(),
        |a| {
            if a.at.is_empty() {
                call.at.clone()
            } else {
                a.at.clone()
            }
        },
    );
    ExprError::new(
        ExprErrorKind::BadArg {
            kw: call.name.to_string(),
            pos: index + 1,
            msg,
        },
        at,
    )
}

/// Checks the argument count and converts each argument to its declared type.
/// Absent optional arguments are `None`; empty strings are kept.
pub(crate) fn type_args(
    call: &Call,
    kinds: &[ArgKind],
    min: usize,
    what: &str,
) -> Result<Vec<Option<ArgVal>>, ExprError> {
    let mut raw = call.args.clone().unwrap_or_default();
    if kinds.is_empty()
        && raw.len() == 1
        && raw.iter().all(|a| a.text.is_empty() && a.at.is_empty())
    {
        // `ssl_c_used()`: empty parentheses are accepted by HAProxy.
        raw.clear();
    }
    if kinds.is_empty() && !raw.is_empty() {
        return Err(ExprError::new(
            ExprErrorKind::NoArgs(call.name.to_string()),
            call.at.clone(),
        )
        .help(format!("write '{}' without parentheses", call.name)));
    }
    if let Some(extra) = raw.get(kinds.len()) {
        return Err(ExprError::new(
            ExprErrorKind::TooManyArgs {
                kw: call.name.to_string(),
                max: kinds.len(),
            },
            extra.at.clone(),
        ));
    }
    let mut out = Vec::with_capacity(kinds.len());
    for (i, kind) in kinds.iter().enumerate() {
        let Some(arg) = raw.get(i) else {
            if i < min && call.args.is_none() && *kind == ArgKind::Str {
                // HAProxy: without parentheses a mandatory string argument is
                // an empty string (`str` is `str()`); builders validate it.
                out.push(Some(ArgVal::Str(String::new())));
                continue;
            }
            if i < min {
                return Err(ExprError::new(
                    ExprErrorKind::MissingArgs {
                        kw: call.name.to_string(),
                        got: raw.len(),
                        min,
                        expected: kind.name(),
                    },
                    call.at.clone(),
                )
                .help(format!(
                    "'{}' is a {what} that needs {min} argument(s)",
                    call.name
                )));
            }
            out.push(None);
            continue;
        };
        let bad = |msg: String| {
            ExprError::new(
                ExprErrorKind::BadArg {
                    kw: call.name.to_string(),
                    pos: i + 1,
                    msg,
                },
                if arg.at.is_empty() {
                    call.at.clone()
                } else {
                    arg.at.clone()
                },
            )
        };
        if arg.text.is_empty() {
            match kind {
                ArgKind::Str => out.push(Some(ArgVal::Str(String::new()))),
                ArgKind::Userlist => return Err(bad("missing user list name".into())),
                _ => {
                    let later = raw.iter().skip(i + 1).any(|a| !a.text.is_empty());
                    if i < min || later {
                        return Err(bad(format!(
                            "expected type '{}', but got nothing",
                            kind.name()
                        )));
                    }
                    out.push(None);
                }
            }
            continue;
        }
        let value =
            match kind {
                ArgKind::Str | ArgKind::Userlist => ArgVal::Str(arg.text.clone()),
                ArgKind::Int => ArgVal::Int(parse_int(&arg.text).ok_or_else(|| {
                    bad(format!("failed to parse '{}' as type 'integer'", arg.text))
                })?),
                ArgKind::Ipv4 => ArgVal::Ipv4(arg.text.parse().map_err(|_| {
                    bad(format!(
                        "failed to parse '{}' as type 'IPv4 address'",
                        arg.text
                    ))
                })?),
                ArgKind::Ipv6 => ArgVal::Ipv6(arg.text.parse().map_err(|_| {
                    bad(format!(
                        "failed to parse '{}' as type 'IPv6 address'",
                        arg.text
                    ))
                })?),
            };
        out.push(Some(value));
    }
    Ok(out)
}

/// A decimal integer with an optional sign.
pub(crate) fn parse_int(text: &str) -> Option<i64> {
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// Warnings about arguments HAProxy accepts but that can never produce a value.
fn warn_fetch_args(
    fetch: &Fetch,
    word: &Word,
    call: &Call,
    ctx: &ExprCtx,
    diags: &mut Diagnostics,
) {
    if let Fetch::Cert {
        field:
            CertField::SubjectDn(DnSelect::Entry { occurrence: 0, .. })
            | CertField::IssuerDn(DnSelect::Entry { occurrence: 0, .. }),
        ..
    } = fetch
    {
        let at = call
            .args
            .as_ref()
            .and_then(|a| a.get(1))
            .map_or(call.at.clone(), |a| a.at.clone());
        diags.push(
            Diagnostic::warning(format!(
                "'{}' with occurrence 0 never returns a value in {}",
                call.name, ctx.context
            ))
            .at(sub_span(word, &at))
            .label("occurrence 0")
            .help("occurrences count from 1 (first) or from -1 (last)"),
        );
    }
}

#[cfg(test)]
#[path = "sample_tests.rs"]
mod tests;
