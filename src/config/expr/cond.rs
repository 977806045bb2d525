//! Conditions: `if|unless` followed by ACL terms, as HAProxy 2.6's
//! `parse_acl_cond` (`acl.c`).
//!
//! Terms are juxtaposed for AND, separated by `or` / `||` for OR, negated
//! with `!` (alone or glued to the term); a term is a named ACL (declared
//! earlier in the proxy), a predefined ACL (`TRUE`, `METH_GET`…) or an
//! anonymous `{ criterion … }`. Stricter than HAProxy by design: a condition
//! that is empty, starts or ends with an OR, or ends with a lone `!` is refused.

use super::acl::{self, Origin, available, l6_in_http, never_matches};
use super::fetches::{self, Class};
use super::{DiagExt, ExprCtx, sub_span};
use crate::config::word::Word;
use crate::diag::{Diagnostic, Diagnostics, did_you_mean};
use crate::ir::expr::{AclRef, CondTerm, Condition, Mode, PredefinedAcl};

/// Parses `if|unless <terms>`.
pub(crate) fn parse(words: &[Word], ctx: &ExprCtx, diags: &mut Diagnostics) -> Option<Condition> {
    let Some(head) = words.first() else {
        diags.push(Diagnostic::error(format!(
            "missing condition in {}",
            ctx.context
        )));
        return None;
    };
    let unless = match head.text.as_str() {
        "if" => false,
        "unless" => true,
        _ => {
            diags.push(
                Diagnostic::error(format!(
                    "conditions must start with either 'if' or 'unless' in {}",
                    ctx.context
                ))
                .at(head.span)
                .help("write 'if <acl>' or 'unless <acl>'"),
            );
            return None;
        }
    };
    let rest = words.get(1..).unwrap_or(&[]);
    if rest.is_empty() {
        diags.push(
            Diagnostic::error(format!(
                "missing condition after '{}' in {}",
                head.text, ctx.context
            ))
            .at(head.span)
            .help(format!(
                "write '{} <acl>' or remove '{}'",
                head.text, head.text
            )),
        );
        return None;
    }
    let mut any_of: Vec<Vec<CondTerm>> = Vec::new();
    let mut current: Vec<CondTerm> = Vec::new();
    let mut negated = false;
    let mut pending_not: Option<&Word> = None;
    let mut last_or: Option<&Word> = None;
    let mut ok = true;
    let mut i = 0;
    while let Some(w) = rest.get(i) {
        i += 1;
        let bangs = w.text.len() - w.text.trim_start_matches('!').len();
        let name = &w.text[bangs..];
        if bangs % 2 == 1 {
            negated = !negated;
        }
        if bangs > 0 {
            pending_not = Some(w);
        }
        if name.is_empty() {
            continue;
        }
        if name.eq_ignore_ascii_case("or") || name == "||" {
            if bangs > 0 || pending_not.is_some() {
                diags.push(err(
                    ctx,
                    w,
                    format!("'!' must be followed by an ACL, not '{name}'"),
                ));
                ok = false;
            }
            if current.is_empty() {
                diags.push(
                    err(ctx, w, format!("'{name}' must be between two ACLs"))
                        .help("OR separates groups of ACLs: 'if a b || c'"),
                );
                ok = false;
            } else {
                any_of.push(std::mem::take(&mut current));
            }
            last_or = Some(w);
            negated = false;
            pending_not = None;
            continue;
        }
        last_or = None;
        let acl = if name == "{" {
            let Some(close) = rest.iter().skip(i).position(|x| x.text == "}") else {
                diags.push(
                    err(ctx, w, "missing closing '}' in condition".to_string())
                        .help("anonymous ACLs are written '{ fetch [flags] [patterns] }' with spaces around the braces"),
                );
                return None;
            };
            let inner = rest.get(i..i + close).unwrap_or(&[]);
            let close_word = rest.get(i + close);
            i += close + 1;
            if inner.is_empty() {
                diags.push(
                    err(ctx, w, "empty anonymous ACL '{ }'".to_string())
                        .help("write a criterion between the braces, e.g. '{ ssl_c_used }'"),
                );
                ok = false;
                None
            } else {
                let term = acl::parse_criterion(inner, ctx, diags, Origin::Anonymous);
                if term.is_none() {
                    ok = false;
                }
                term.map(|t| {
                    (
                        AclRef::Anonymous(Box::new(t)),
                        close_word.map_or(w.span, |c| w.span.to(c.span)),
                    )
                })
            }
        } else if name == "}" {
            diags.push(err(
                ctx,
                w,
                "unexpected '}' without a matching '{'".to_string(),
            ));
            ok = false;
            None
        } else {
            let r = named_or_predefined(w, name, bangs, ctx, diags);
            if r.is_none() {
                ok = false;
            }
            r.map(|a| (a, w.span))
        };
        if let Some((acl, span)) = acl {
            current.push(CondTerm { negated, acl, span });
        }
        negated = false;
        pending_not = None;
    }
    if let Some(w) = pending_not {
        diags.push(err(
            ctx,
            w,
            "'!' at the end of the condition is not followed by an ACL".to_string(),
        ));
        ok = false;
    }
    if let Some(w) = last_or {
        diags.push(
            err(ctx, w, format!("condition ends with '{}'", w.text))
                .help("remove the trailing OR or add the ACL it was meant to introduce"),
        );
        ok = false;
    }
    if !current.is_empty() {
        any_of.push(current);
    }
    if !ok {
        return None;
    }
    if any_of.is_empty() {
        diags.push(
            Diagnostic::error(format!(
                "missing condition after '{}' in {}",
                head.text, ctx.context
            ))
            .at(head.span),
        );
        return None;
    }
    let last = words.last().map_or(head.span, |w| w.span);
    Some(Condition {
        unless,
        any_of,
        span: head.span.to(last),
    })
}

fn err(ctx: &ExprCtx, w: &Word, msg: String) -> Diagnostic {
    Diagnostic::error(format!("{msg} in {}", ctx.context)).at(w.span)
}

/// A named ACL (preferred, as HAProxy lets them override predefined ones) or
/// a predefined ACL.
fn named_or_predefined(
    w: &Word,
    name: &str,
    bangs: usize,
    ctx: &ExprCtx,
    diags: &mut Diagnostics,
) -> Option<AclRef> {
    if (ctx.acl_exists)(name) {
        return Some(AclRef::Named(name.to_string()));
    }
    if let Some(p) = PredefinedAcl::from_name(name) {
        let (kw, class) = predefined_fetch(p);
        let at = sub_span(w, &(bangs..w.text.len()));
        if ctx.mode == Mode::Tcp
            && class.needs_http_mode()
            && !matches!(
                ctx.stage,
                super::Stage::HttpRequest | super::Stage::HttpResponse
            )
        {
            diags.push(
                Diagnostic::error(format!(
                    "predefined ACL '{name}' is not supported by portcullis in 'mode tcp' proxies (it needs HTTP, which portcullis only parses in 'mode http'), in {}",
                    ctx.context
                ))
                .at(at)
                .help("set 'mode http' or use a connection or TLS criterion"),
            );
            return None;
        }
        if ctx.mode == Mode::Http && class == Class::L6Request {
            diags.push(l6_in_http(kw, ctx, at));
        }
        if !available(class, ctx.stage) {
            diags.push(never_matches(&format!("acl '{name}'"), kw, class, ctx, at));
        }
        return Some(AclRef::Predefined(p));
    }
    let at = sub_span(w, &(bangs..w.text.len()));
    let looks_like_fetch = fetches::spec(super::lex::keyword(name)).is_some()
        || fetches::acl_keyword(super::lex::keyword(name)).is_some();
    let help = if looks_like_fetch {
        Some(format!(
            "'{name}' is a fetch, not an ACL name: use an anonymous ACL '{{ {name} … }}' or declare it first with 'acl <name> {name} …'"
        ))
    } else {
        let predefined = PredefinedAcl::ALL.iter().map(|p| p.name());
        did_you_mean(name, predefined)
            .map(|s| format!("did you mean '{s}'?"))
            .or_else(|| {
                Some(
                    "ACLs must be declared with 'acl <name> …' before the rules that use them"
                        .to_string(),
                )
            })
    };
    diags.push(
        Diagnostic::error(format!("no such ACL '{name}' in {}", ctx.context))
            .at(at)
            .label("unknown ACL")
            .help_opt(help),
    );
    None
}

/// The fetch a predefined ACL is built on, for availability checks.
fn predefined_fetch(p: PredefinedAcl) -> (&'static str, Class) {
    use PredefinedAcl::*;
    match p {
        True => ("always_true", Class::Const),
        False => ("always_false", Class::Const),
        WaitEnd => ("wait_end", Class::Const),
        Localhost => ("src", Class::L4Client),
        Http => ("req.proto_http", Class::ProtoHttp),
        Http10 | Http11 | Http20 => ("req.ver", Class::HttpReqHeaders),
        HttpContent => ("req.hdr_val", Class::HttpReqHeaders),
        HttpUrlAbs | HttpUrlSlash | HttpUrlStar => ("url", Class::HttpReqHeaders),
        MethConnect | MethDelete | MethGet | MethHead | MethOptions | MethPost | MethPut
        | MethTrace => ("method", Class::HttpRequest),
        RdpCookie => ("req.rdp_cookie_cnt", Class::L6Request),
        ReqContent => ("req.len", Class::L6Request),
    }
}

#[cfg(test)]
#[path = "cond_tests.rs"]
mod tests;
