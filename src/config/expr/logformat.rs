//! Log-format strings (`log-format`, `set-header` values, `use_backend %[…]`),
//! as HAProxy 2.6's `parse_logformat_string` (`log.c`).
//!
//! Text is literal except `%%` (a `%`), `%name` (an alias such as `%ci`,
//! greedy over letters and digits), `%[expr]` (a sample expression) and a
//! `%{+Q,-X}` flag prefix before either. `%o` sets the default flags of the
//! parts that follow. In `log-format` lines (stage [`Stage::Log`]) runs of
//! spaces are merged and empty values print `-` (flag `M`). Stricter than
//! HAProxy: an unknown flag or a `%` followed by a character that cannot
//! start a variable is an error rather than silently dropped.

use super::sample::{Site, check_available, parse_at};
use super::{ExprCtx, ExprError, ExprErrorKind, Stage, fetches::Class, sub_span};
use crate::config::word::Word;
use crate::diag::{Diagnostic, Diagnostics, did_you_mean};
use crate::ir::expr::{LogAlias, LogFlags, LogFormat, LogPart, Mode};

/// Parses `word` as a log-format string.
pub(crate) fn parse(word: &Word, ctx: &ExprCtx, diags: &mut Diagnostics) -> Option<LogFormat> {
    match parse_inner(word, ctx, diags) {
        Ok(f) => Some(f),
        Err(e) => {
            diags.push(e.into_diag(word, ctx));
            None
        }
    }
}

fn lf_err(msg: String, at: std::ops::Range<usize>) -> ExprError {
    ExprError::new(ExprErrorKind::LogFormat(msg), at)
}

fn parse_inner(
    word: &Word,
    ctx: &ExprCtx,
    diags: &mut Diagnostics,
) -> Result<LogFormat, ExprError> {
    let text = word.text.as_str();
    let bytes = text.as_bytes();
    let merge_spaces = ctx.stage == Stage::Log;
    let mut defaults = LogFlags {
        mandatory: ctx.stage == Stage::Log,
        ..LogFlags::default()
    };
    let mut parts: Vec<LogPart> = Vec::new();
    let mut literal = String::new();
    let mut i = 0;
    while i < text.len() {
        let Some(c) = text.get(i..).and_then(|r| r.chars().next()) else {
            break;
        };
        if c != '%' {
            if !(merge_spaces && c == ' ' && literal.ends_with(' ')) {
                literal.push(c);
            }
            i += c.len_utf8();
            continue;
        }
        let pct = i;
        let mut flags = defaults;
        let mut next = i + 1;
        let mut args_at = None;
        if bytes.get(next) == Some(&b'{') {
            let Some(close) = text.get(next..).and_then(|r| r.find('}')) else {
                return Err(lf_err(
                    format!("truncated line after '{}'", &text[next + 1..]),
                    pct..text.len(),
                )
                .help("close the flags with '}', e.g. '%{+Q}r'"));
            };
            let args = &text[next + 1..next + close];
            parse_flags(args, next + 1, &mut flags)?;
            args_at = Some(pct..next + close + 1);
            next += close + 1;
        }
        match bytes.get(next).copied() {
            None if args_at.is_none() => {
                return Err(lf_err("truncated line after '%'".into(), pct..pct + 1)
                    .help("write '%%' for a literal '%'"));
            }
            Some(b'%') if args_at.is_none() => {
                literal.push('%');
                i = next + 1;
            }
            Some(b'[') => {
                let parsed = parse_at(word, next + 1, Site::Embedded, ctx, diags)?;
                let expr_text = &text[next + 1..parsed.end];
                match bytes.get(parsed.end) {
                    Some(b']') => {}
                    Some(_) => {
                        let found = text[parsed.end..].chars().next().unwrap_or(' ');
                        return Err(lf_err(
                            format!("expected ']' after '{expr_text}', but found '{found}'"),
                            parsed.end..parsed.end + found.len_utf8(),
                        )
                        .help("a sample expression has no spaces; converters are added with ','"));
                    }
                    None => {
                        return Err(lf_err(
                            format!("missing ']' after '{expr_text}'"),
                            next..text.len(),
                        )
                        .help("close the expression with ']'"));
                    }
                }
                check_available(&parsed, ctx)?;
                if parsed.class == Class::L6Request
                    && matches!(ctx.stage, Stage::HttpRequest | Stage::HttpResponse)
                {
                    diags.push(
                        Diagnostic::warning(format!(
                            "L6 sample fetch <{expr_text}> ignored in HTTP log-format string in {}",
                            ctx.context
                        ))
                        .at(sub_span(word, &parsed.fetch_at))
                        .help("raw-buffer fetches see nothing once HTTP is parsed; use 'ssl_fc_sni' or 'req.hdr(host)'"),
                    );
                }
                flush(&mut literal, &mut parts);
                parts.push(LogPart::Sample {
                    sample: parsed.sample,
                    flags,
                });
                i = parsed.end + 1;
            }
            Some(b) if b.is_ascii_alphabetic() || (args_at.is_some() && b.is_ascii_digit()) => {
                let end = text[next..]
                    .find(|c: char| !c.is_ascii_alphanumeric())
                    .map_or(text.len(), |e| next + e);
                let name = &text[next..end];
                if name == "o" {
                    defaults = flags;
                } else {
                    let alias = alias(name, next..end, ctx)?;
                    flush(&mut literal, &mut parts);
                    parts.push(LogPart::Alias { alias, flags });
                }
                i = end;
            }
            _ if args_at.is_some() => {
                let at = args_at.unwrap_or(pct..next);
                return Err(lf_err(
                    format!(
                        "parse argument modifier without variable name near '{}'",
                        &text[at.clone()]
                    ),
                    at,
                )
                .help("flags go right before a variable: '%{+Q}r' or '%{+Q}[src]'"));
            }
            Some(b) => {
                let shown = text[next..].chars().next().unwrap_or(b as char);
                return Err(lf_err(
                    format!("unexpected variable name near '{shown}' at position {next}"),
                    pct..next + shown.len_utf8(),
                )
                .help("write '%%' for a literal '%'"));
            }
            None => {
                return Err(lf_err("truncated line after '%'".into(), pct..text.len()));
            }
        }
    }
    flush(&mut literal, &mut parts);
    Ok(LogFormat { parts })
}

fn flush(literal: &mut String, parts: &mut Vec<LogPart>) {
    if !literal.is_empty() {
        parts.push(LogPart::Text(std::mem::take(literal)));
    }
}

/// `+Q,-X,…` inside `%{…}`; `start` is the offset of the first character.
fn parse_flags(args: &str, start: usize, flags: &mut LogFlags) -> Result<(), ExprError> {
    let mut pos = start;
    for item in args.split(',') {
        let at = pos..pos + item.len().max(1);
        pos += item.len() + 1;
        if item.is_empty() {
            continue;
        }
        let (on, name) = if let Some(n) = item.strip_prefix('+') {
            (true, n)
        } else if let Some(n) = item.strip_prefix('-') {
            (false, n)
        } else {
            return Err(lf_err(format!("log-format flag '{item}' must start with '+' or '-'"), at).help(
                "flags are +Q (quote), +X (hex), +E (escape), +M (dash when empty), or '-' to remove",
            ));
        };
        let slot = match name {
            "Q" => &mut flags.quote,
            "X" => &mut flags.hex,
            "E" => &mut flags.escape,
            "M" => &mut flags.mandatory,
            _ => {
                return Err(lf_err(format!("unknown log-format flag '{name}'"), at)
                    .help("flags are Q (quote), X (hex), E (escape) and M (dash when empty)"));
            }
        };
        *slot = on;
    }
    Ok(())
}

fn alias(name: &str, at: std::ops::Range<usize>, ctx: &ExprCtx) -> Result<LogAlias, ExprError> {
    let Some(alias) = LogAlias::from_name(name) else {
        let hint = did_you_mean(name, LogAlias::names().chain(["o"]));
        let help = match hint {
            Some(h) => format!("did you mean '%{h}'? A literal '%' is written '%%'"),
            None => "a literal '%' is written '%%'".to_string(),
        };
        return Err(lf_err(
            format!(
                "no such format variable '{name}'. If you wanted to emit the '%' character verbatim, you need to use '%%'"
            ),
            at,
        )
        .label("unknown variable")
        .help(help));
    };
    if alias.http_only() && ctx.mode == Mode::Tcp {
        return Err(lf_err(
            format!("format variable '{name}' is reserved for HTTP mode"),
            at,
        )
        .help("set 'mode http', or log HTTP details only from HTTP proxies"));
    }
    Ok(alias)
}

#[cfg(test)]
#[path = "logformat_tests.rs"]
mod tests;
