//! Lowering of `http-request`, `http-response` and `tcp-request` rules.

use super::proxy::{ProxyBuilder, silent};
use super::values::uint_in;
use super::{Lowerer, arg};
use crate::config::expr::{self, Stage};
use crate::config::keywords::{self, Context};
use crate::config::word::{Line, Word};
use crate::diag::Diagnostic;
use crate::ir::expr::{Condition, LogFormat, Sample, SampleType, VarName};
use crate::ir::{
    self, HeaderMatch, HttpAction, HttpRule, Redirect, RedirectKind, Reply, ReplyBody, TcpAction,
    TcpRule,
};
use std::sync::Arc;

/// Which rule list a line belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RuleKind {
    HttpRequest,
    HttpResponse,
    HttpAfterResponse,
    TcpConnection,
    TcpSession,
    TcpContent,
}

impl RuleKind {
    fn stage(self) -> Stage {
        match self {
            RuleKind::HttpRequest => Stage::HttpRequest,
            // HAProxy checks these conditions at the response-header
            // checkpoint, like http-response.
            RuleKind::HttpResponse | RuleKind::HttpAfterResponse => Stage::HttpResponse,
            RuleKind::TcpConnection => Stage::TcpConnection,
            RuleKind::TcpSession => Stage::TcpSession,
            RuleKind::TcpContent => Stage::TcpContent,
        }
    }

    fn context(self) -> Context {
        match self {
            RuleKind::HttpRequest => Context::HttpRequest,
            RuleKind::HttpResponse => Context::HttpResponse,
            RuleKind::HttpAfterResponse => Context::HttpAfterResponse,
            RuleKind::TcpConnection => Context::TcpConnection,
            RuleKind::TcpSession => Context::TcpSession,
            RuleKind::TcpContent => Context::TcpContent,
        }
    }

    fn keyword(self) -> &'static str {
        match self {
            RuleKind::HttpRequest => "http-request",
            RuleKind::HttpResponse => "http-response",
            RuleKind::HttpAfterResponse => "http-after-response",
            RuleKind::TcpConnection => "tcp-request connection",
            RuleKind::TcpSession => "tcp-request session",
            RuleKind::TcpContent => "tcp-request content",
        }
    }
}

/// Splits rule words at the first `if` / `unless`.
pub(crate) fn split_cond(words: &[Word]) -> (&[Word], Option<&[Word]>) {
    match words
        .iter()
        .position(|w| !w.quoted && (w.text == "if" || w.text == "unless"))
    {
        Some(i) => (&words[..i], Some(&words[i..])),
        None => (words, None),
    }
}

/// Parses the action name `set-var(txn.x)` into (`set-var`, `txn.x`).
fn action_name(w: &Word) -> (&str, Option<&str>) {
    match w.text.split_once('(') {
        Some((name, rest)) => (name, rest.strip_suffix(')')),
        None => (w.text.as_str(), None),
    }
}

/// `http-request lua.<name> [args]` / `http-response lua.<name> [args]`.
fn lua_action(
    p: &ProxyBuilder,
    kind: RuleKind,
    act: &Word,
    lua: &str,
    args: &[Word],
) -> Result<HttpAction, Diagnostic> {
    use crate::ir::lua::LuaActionKind;
    let want = match kind {
        RuleKind::HttpRequest => LuaActionKind::HttpReq,
        RuleKind::HttpResponse => LuaActionKind::HttpRes,
        _ => {
            return Err(Diagnostic::error(format!(
                "{} action '{}' is not supported by portcullis",
                kind.keyword(),
                act.text
            ))
            .at(act.span)
            .help("Lua actions run in 'http-request' and 'http-response' rules"));
        }
    };
    let Some(def) = p.lua_names.actions.get(lua) else {
        return Err(
            Diagnostic::error(format!("unknown {} action '{}'", kind.keyword(), act.text))
                .at(act.span)
                .help(format!(
                    "no script loaded by 'lua-load' registered '{lua}' with core.register_action"
                )),
        );
    };
    if !def.kinds.contains(&want) {
        return Err(Diagnostic::error(format!(
            "Lua action '{lua}' is not registered for '{}' rules",
            want.name()
        ))
        .at(act.span)
        .help(format!(
            "add \"{}\" to the list given to core.register_action",
            want.name()
        )));
    }
    if args.len() != def.nargs {
        return Err(Diagnostic::error(format!(
            "'{} {}' expects {} argument{}, got {}",
            kind.keyword(),
            act.text,
            def.nargs,
            if def.nargs == 1 { "" } else { "s" },
            args.len()
        ))
        .at(act.span));
    }
    Ok(HttpAction::Lua {
        name: lua.to_string(),
        args: args.iter().map(|a| a.text.clone()).collect(),
    })
}

/// Parses the `scope.name` inside `set-var(...)` / `unset-var(...)`.
pub(crate) fn var_name(w: &Word, text: Option<&str>) -> Result<VarName, Diagnostic> {
    expr::parse_var_name(text.unwrap_or("")).map_err(|e| {
        Diagnostic::error(format!("'{}' : {e}", w.text))
            .at(w.span)
            .help("variables are written <scope>.<name> with scope proc, sess, txn, req, res or check, e.g. set-var(txn.host)")
    })
}

/// Parses one `http-request` / `http-response` line.
pub(crate) fn http_rule(
    cx: &mut Lowerer,
    p: &ProxyBuilder,
    line: &Line,
    kind: RuleKind,
    where_: &str,
) -> Result<HttpRule, Diagnostic> {
    let w = &line.words;
    let kw = &w[0];
    let act = arg(w, 1, kw, "an action")?;
    let (name, paren) = action_name(act);
    let (args, cond_words) = split_cond(&w[2..]);
    let ctx_text = format!("'{} {name}' rule in {where_}", kind.keyword());
    let exists = |n: &str| p.has_acl(n);
    let ctx = p.expr_ctx(kind.stage(), &ctx_text, &exists);
    let cond = match cond_words {
        Some(c) => Some(p.condition(cx, c, &ctx)?),
        None => None,
    };
    if let Some(lua) = name.strip_prefix("lua.") {
        let action = lua_action(p, kind, act, lua, args)?;
        return Ok(HttpRule {
            action,
            cond,
            origin: cx.origin(line.span),
        });
    }
    let supported = keywords::lookup(kind.context(), name).is_some();
    if !supported {
        // Name the action without its arguments (`sc-inc-gpc0(0)` → `sc-inc-gpc0`).
        let bare = Word {
            text: name.to_string(),
            span: act.span,
            quoted: act.quoted,
        };
        cx.unknown_keyword(kind.context(), &bare, where_);
        return Err(silent());
    }
    let exactly = |n: usize| -> Result<(), Diagnostic> {
        if args.len() == n {
            Ok(())
        } else {
            Err(Diagnostic::error(format!(
                "'{} {name}' expects exactly {n} argument{}, got {}",
                kind.keyword(),
                if n == 1 { "" } else { "s" },
                args.len()
            ))
            .at(act.span.to(args.last().map_or(act.span, |a| a.span))))
        }
    };
    if let Some(stick) = super::stick::action(cx, act, name, paren, args, &ctx) {
        return Ok(HttpRule {
            action: HttpAction::Stick(stick?),
            cond,
            origin: cx.origin(line.span),
        });
    }
    let fmt = |cx: &mut Lowerer, word: &Word| -> Result<LogFormat, Diagnostic> {
        expr::parse_log_format(word, &ctx, cx.diags).ok_or_else(silent)
    };
    let regex = |word: &Word| -> Result<String, Diagnostic> {
        regex::Regex::new(&word.text).map_err(|e| {
            Diagnostic::error(format!("invalid regex '{}': {e}", word.text))
                .at(word.span)
                .help("regexes follow PCRE-like syntax; escape special characters with '\\'")
        })?;
        Ok(word.text.clone())
    };
    let action = match name {
        "allow" => {
            exactly(0)?;
            HttpAction::Allow
        }
        "set-header" | "add-header" => {
            exactly(2)?;
            let value = fmt(cx, &args[1])?;
            if name == "add-header" && is_identity_header(&args[0].text, &args[1].text) {
                cx.diags.push(
                    Diagnostic::warning(format!(
                        "identity header '{}' is appended with 'add-header': a client can send its own copy and the server may read that one",
                        args[0].text
                    ))
                    .at(act.span)
                    .help(format!("use 'set-header {}' (it replaces every copy), or 'del-header' it first", args[0].text)),
                );
            }
            let header = args[0].text.clone();
            if name == "set-header" {
                HttpAction::SetHeader {
                    name: header,
                    value,
                }
            } else {
                HttpAction::AddHeader {
                    name: header,
                    value,
                }
            }
        }
        "del-header" => {
            let header = arg(args, 0, act, "a header name")?;
            let method = match args.get(1) {
                None => HeaderMatch::Str,
                Some(m) if m.text == "-m" => {
                    let v = arg(args, 2, m, "a match method")?;
                    if args.len() > 3 {
                        return Err(
                            Diagnostic::error("'del-header' : unexpected extra arguments")
                                .at(args[3].span),
                        );
                    }
                    match v.text.as_str() {
                        "str" => HeaderMatch::Str,
                        "beg" => HeaderMatch::Beg,
                        "end" => HeaderMatch::End,
                        "sub" => HeaderMatch::Sub,
                        "reg" => {
                            regex(header)?;
                            HeaderMatch::Reg
                        }
                        other => {
                            return Err(Diagnostic::error(format!(
                                "'del-header' : unknown match method '{other}'"
                            ))
                            .at(v.span)
                            .help("methods are str, beg, end, sub and reg"));
                        }
                    }
                }
                Some(x) => {
                    return Err(Diagnostic::error(format!(
                        "'del-header' : unexpected argument '{}'",
                        x.text
                    ))
                    .at(x.span)
                    .help("write 'del-header <name> [-m str|beg|end|sub|reg]'"));
                }
            };
            HttpAction::DelHeader {
                name: header.text.clone(),
                method,
            }
        }
        "replace-header" | "replace-value" => {
            exactly(3)?;
            let re = regex(&args[1])?;
            let replacement = fmt(cx, &args[2])?;
            let header = args[0].text.clone();
            if name == "replace-header" {
                HttpAction::ReplaceHeader {
                    name: header,
                    regex: re,
                    replacement,
                }
            } else {
                HttpAction::ReplaceValue {
                    name: header,
                    regex: re,
                    replacement,
                }
            }
        }
        "set-path" => {
            exactly(1)?;
            HttpAction::SetPath(fmt(cx, &args[0])?)
        }
        "set-query" => {
            exactly(1)?;
            HttpAction::SetQuery(fmt(cx, &args[0])?)
        }
        "replace-path" | "replace-pathq" | "replace-uri" => {
            exactly(2)?;
            let re = regex(&args[0])?;
            let replacement = fmt(cx, &args[1])?;
            let part = match name {
                "replace-path" => ir::UriPart::Path,
                "replace-pathq" => ir::UriPart::PathQuery,
                _ => ir::UriPart::Uri,
            };
            HttpAction::ReplaceUri {
                part,
                regex: re,
                replacement,
            }
        }
        "set-status" => {
            let code = arg(args, 0, act, "a status code")?;
            let status = uint_in(code, "set-status", 100, 999)? as u16;
            let reason = match &args[1..] {
                [] => None,
                [r, text] if r.text == "reason" => Some(text.text.clone()),
                _ => {
                    return Err(Diagnostic::error(format!(
                        "'{} set-status' expects '<status> [reason <str>]'",
                        kind.keyword()
                    ))
                    .at(act.span)
                    .help("e.g. 'set-status 503 reason \"Slow Down\"'"));
                }
            };
            HttpAction::SetStatus { status, reason }
        }
        "set-var" => {
            let var = var_name(act, paren)?;
            exactly(1)?;
            let value: Sample = expr::parse_sample(&args[0], &ctx, cx.diags).ok_or_else(silent)?;
            HttpAction::SetVar { var, value }
        }
        "unset-var" => {
            let var = var_name(act, paren)?;
            exactly(0)?;
            HttpAction::UnsetVar(var)
        }
        "set-src" | "set-src-port" | "set-dst" | "set-dst-port" => {
            let (part, wanted) = match name {
                "set-src" => (ir::AddrPart::Src, SampleType::Addr),
                "set-src-port" => (ir::AddrPart::SrcPort, SampleType::Int),
                "set-dst" => (ir::AddrPart::Dst, SampleType::Addr),
                _ => (ir::AddrPart::DstPort, SampleType::Int),
            };
            exactly(1)?;
            let value: Sample = expr::parse_sample(&args[0], &ctx, cx.diags).ok_or_else(silent)?;
            if !value.out_type.can_cast_to(wanted) {
                return Err(Diagnostic::error(format!(
                    "'{name}' : fetch method '{}' gives a {} which cannot be converted to {}",
                    args[0].text,
                    value.out_type.name(),
                    wanted.name()
                ))
                .at(args[0].span));
            }
            HttpAction::SetAddr { part, value }
        }
        "reject" => {
            exactly(0)?;
            HttpAction::Reject
        }
        "deny" => {
            let default = if kind == RuleKind::HttpResponse {
                502
            } else {
                403
            };
            HttpAction::Deny(reply(cx, args, act, default, &ctx, true)?)
        }
        "return" => HttpAction::Return(reply(cx, args, act, 200, &ctx, false)?),
        "redirect" => HttpAction::Redirect(redirect(cx, args, act, &ctx)?),
        "use-service" => {
            exactly(1)?;
            let svc = &args[0];
            let Some(lua) = svc.text.strip_prefix("lua.") else {
                return Err(Diagnostic::error(format!(
                    "'http-request use-service' : unknown service '{}'",
                    svc.text
                ))
                .at(svc.span)
                .help("portcullis has Lua services only: use-service lua.<name>"));
            };
            match p.lua_names.services.get(lua) {
                Some(def) if def.http => HttpAction::UseService(lua.to_string()),
                Some(_) => {
                    return Err(Diagnostic::error(format!(
                        "'http-request use-service' : Lua service '{lua}' is registered in mode 'tcp'"
                    ))
                    .at(svc.span)
                    .help("register it with core.register_service(name, \"http\", fn)"));
                }
                None => {
                    return Err(Diagnostic::error(format!(
                        "'http-request use-service' : unknown service '{}'",
                        svc.text
                    ))
                    .at(svc.span)
                    .help(format!(
                        "no script loaded by 'lua-load' registered '{lua}' with core.register_service"
                    )));
                }
            }
        }
        "auth" => {
            let realm = match args {
                [] => None,
                [r, v] if r.text == "realm" => Some(v.text.clone()),
                _ => {
                    return Err(
                        Diagnostic::error("'auth' expects at most 'realm <realm>'").at(act.span)
                    );
                }
            };
            HttpAction::Auth { realm }
        }
        _ => {
            cx.unknown_keyword(kind.context(), act, where_);
            return Err(silent());
        }
    };
    Ok(HttpRule {
        action,
        cond,
        origin: cx.origin(line.span),
    })
}

/// Headers that carry the client's identity to the server; appending them lets a
/// client smuggle its own value next to the proxy's.
fn is_identity_header(name: &str, value: &str) -> bool {
    let n = name.to_ascii_lowercase();
    value.contains("ssl_c_")
        || n.contains("ssl")
        || n.contains("client-cert")
        || n.contains("client-dn")
        || n.contains("client-verify")
        || n.contains("client-s-dn")
        || n == "x-forwarded-client-cert"
}

/// `deny` / `return` arguments.
fn reply(
    cx: &mut Lowerer,
    args: &[Word],
    act: &Word,
    default_status: u16,
    ctx: &expr::ExprCtx,
    deny: bool,
) -> Result<Reply, Diagnostic> {
    let mut r = Reply {
        status: default_status,
        content_type: None,
        body: ReplyBody::Default,
        headers: Vec::new(),
    };
    let mut explicit_body = false;
    let mut i = 0;
    while let Some(o) = args.get(i) {
        let val = |n: usize, what: &str| arg(args, i + n, o, what);
        match o.text.as_str() {
            "status" | "deny_status" => {
                if o.text == "deny_status" && !deny {
                    return Err(Diagnostic::error("'deny_status' is only valid with 'deny'")
                        .at(o.span)
                        .help("use 'status <code>'"));
                }
                r.status = uint_in(val(1, "a status code")?, &o.text, 200, 599)? as u16;
                i += 2;
            }
            "content-type" => {
                r.content_type = Some(val(1, "a content type")?.text.clone());
                i += 2;
            }
            "string" => {
                r.body = ReplyBody::Text(val(1, "a string")?.text.clone());
                explicit_body = true;
                i += 2;
            }
            "lf-string" => {
                let w = val(1, "a log-format string")?;
                r.body =
                    ReplyBody::Format(expr::parse_log_format(w, ctx, cx.diags).ok_or_else(silent)?);
                explicit_body = true;
                i += 2;
            }
            "file" | "errorfile" => {
                let w = val(1, "a file name")?;
                let content = std::fs::read(&w.text).map_err(|e| {
                    Diagnostic::error(format!(
                        "'{}' : error opening file '{}' : {e}",
                        o.text, w.text
                    ))
                    .at(w.span)
                })?;
                r.body = ReplyBody::File {
                    path: w.text.clone().into(),
                    content: Arc::new(content),
                    raw_response: o.text == "errorfile",
                };
                explicit_body = true;
                i += 2;
            }
            "default-errorfiles" => {
                r.body = ReplyBody::Default;
                i += 1;
            }
            "hdr" => {
                let n = val(1, "a header name and a value")?;
                let v = val(2, "a header value")?;
                let f = expr::parse_log_format(v, ctx, cx.diags).ok_or_else(silent)?;
                r.headers.push((n.text.clone(), f));
                i += 3;
            }
            "lf-file" | "errorfiles" => {
                return Err(Diagnostic::error(format!(
                    "'{} {}' is not supported by portcullis",
                    act.text, o.text
                ))
                .at(o.span)
                .help("use 'string', 'lf-string', 'file' or 'errorfile'"));
            }
            other => {
                return Err(Diagnostic::error(format!("'{}' : unknown argument '{other}'", act.text))
                    .at(o.span)
                    .help("arguments are status <code>, content-type <type>, string|lf-string|file|errorfile <x>, default-errorfiles, hdr <name> <fmt>"));
            }
        }
    }
    if explicit_body
        && r.content_type.is_none()
        && !matches!(
            r.body,
            ReplyBody::File {
                raw_response: true,
                ..
            }
        )
    {
        return Err(Diagnostic::error(format!(
            "'{}' : a 'content-type' is required with a payload",
            act.text
        ))
        .at(act.span)
        .help("add e.g. 'content-type text/plain'"));
    }
    if !explicit_body && !deny && r.content_type.is_none() {
        r.body = ReplyBody::Empty;
    }
    Ok(r)
}

/// `redirect location|prefix|scheme <x> [code N] [drop-query] [append-slash]`.
pub(crate) fn redirect(
    cx: &mut Lowerer,
    args: &[Word],
    act: &Word,
    ctx: &expr::ExprCtx,
) -> Result<Redirect, Diagnostic> {
    let how = arg(args, 0, act, "'location', 'prefix' or 'scheme' and a value")?;
    let target = arg(args, 1, how, "a value")?;
    let f = expr::parse_log_format(target, ctx, cx.diags).ok_or_else(silent)?;
    let kind = match how.text.as_str() {
        "location" => RedirectKind::Location(f),
        "prefix" => RedirectKind::Prefix(f),
        "scheme" => RedirectKind::Scheme(f),
        other => {
            return Err(
                Diagnostic::error(format!("'redirect' : unknown type '{other}'"))
                    .at(how.span)
                    .help("use 'location', 'prefix' or 'scheme'"),
            );
        }
    };
    let mut r = Redirect {
        kind,
        code: 302,
        drop_query: false,
        append_slash: false,
    };
    let mut i = 2;
    while let Some(o) = args.get(i) {
        match o.text.as_str() {
            "code" => {
                let c = arg(args, i + 1, o, "a status code")?;
                r.code = match c.text.parse::<u16>() {
                    Ok(v @ (301 | 302 | 303 | 307 | 308)) => v,
                    _ => {
                        return Err(Diagnostic::error(format!(
                            "'redirect' : unsupported HTTP code '{}'",
                            c.text
                        ))
                        .at(c.span)
                        .help("codes are 301, 302, 303, 307 and 308"));
                    }
                };
                i += 2;
            }
            "drop-query" => {
                r.drop_query = true;
                i += 1;
            }
            "append-slash" => {
                r.append_slash = true;
                i += 1;
            }
            "set-cookie" | "clear-cookie" | "ignore-empty" => {
                return Err(Diagnostic::error(format!(
                    "'redirect {}' is not supported by portcullis",
                    o.text
                ))
                .at(o.span));
            }
            other => {
                return Err(
                    Diagnostic::error(format!("'redirect' : unknown argument '{other}'"))
                        .at(o.span)
                        .help("arguments are code <n>, drop-query and append-slash"),
                );
            }
        }
    }
    Ok(r)
}

/// Parses a classic `redirect location|prefix|scheme <x> [code N] [options]
/// [if|unless cond]` line.
pub(crate) fn redirect_rule(
    cx: &mut Lowerer,
    p: &ProxyBuilder,
    line: &Line,
    where_: &str,
) -> Result<ir::RedirectRule, Diagnostic> {
    let w = &line.words;
    let kw = &w[0];
    let (args, cond_words) = split_cond(&w[1..]);
    let ctx_text = format!("'redirect' rule in {where_}");
    let exists = |n: &str| p.has_acl(n);
    let ctx = p.expr_ctx(Stage::HttpRequest, &ctx_text, &exists);
    let cond = match cond_words {
        Some(c) => Some(p.condition(cx, c, &ctx)?),
        None => None,
    };
    let redirect = redirect(cx, args, kw, &ctx)?;
    Ok(ir::RedirectRule {
        redirect,
        cond,
        origin: cx.origin(line.span),
    })
}

/// Parses one `tcp-request connection|session|content` line.
pub(crate) fn tcp_rule(
    cx: &mut Lowerer,
    p: &ProxyBuilder,
    line: &Line,
    kind: RuleKind,
    where_: &str,
) -> Result<TcpRule, Diagnostic> {
    let w = &line.words;
    let sub = &w[1];
    let act = arg(w, 2, sub, "an action")?;
    let (name, paren) = action_name(act);
    let (args, cond_words) = split_cond(&w[3..]);
    let ctx_text = format!("'{} {name}' rule in {where_}", kind.keyword());
    let exists = |n: &str| p.has_acl(n);
    let ctx = p.expr_ctx(kind.stage(), &ctx_text, &exists);
    if name.starts_with("lua.") || name == "use-service" {
        return Err(Diagnostic::error(format!(
            "{} action '{name}' is not supported by portcullis (in {where_})",
            kind.keyword()
        ))
        .at(act.span)
        .help("Lua actions and services run in 'http-request' / 'http-response' rules of 'mode http' proxies"));
    }
    if keywords::lookup(kind.context(), name).is_none() {
        // Name the action without its arguments (`sc-inc-gpc0(0)` → `sc-inc-gpc0`).
        let bare = Word {
            text: name.to_string(),
            span: act.span,
            quoted: act.quoted,
        };
        cx.unknown_keyword(kind.context(), &bare, where_);
        return Err(silent());
    }
    let cond: Option<Condition> = match cond_words {
        Some(c) => Some(p.condition(cx, c, &ctx)?),
        None => None,
    };
    let no_args = || -> Result<(), Diagnostic> {
        match args.first() {
            Some(x) => Err(Diagnostic::error(format!(
                "'{} {name}' : unexpected argument '{}'",
                kind.keyword(),
                x.text
            ))
            .at(x.span)
            .help("conditions start with 'if' or 'unless'")),
            None => Ok(()),
        }
    };
    if let Some(stick) = super::stick::action(cx, act, name, paren, args, &ctx) {
        return Ok(TcpRule {
            action: TcpAction::Stick(stick?),
            cond,
            origin: cx.origin(line.span),
        });
    }
    let action = match name {
        "accept" => {
            no_args()?;
            TcpAction::Accept
        }
        "reject" => {
            no_args()?;
            TcpAction::Reject
        }
        "expect-proxy" => {
            match args {
                [l] if l.text == "layer4" => {}
                _ => {
                    return Err(Diagnostic::error("'expect-proxy' expects 'layer4'")
                        .at(act.span)
                        .help("write 'tcp-request connection expect-proxy layer4'"));
                }
            }
            TcpAction::ExpectProxy
        }
        "set-var" => {
            let var = var_name(act, paren)?;
            let v = arg(args, 0, act, "a sample expression")?;
            let value = expr::parse_sample(v, &ctx, cx.diags).ok_or_else(silent)?;
            TcpAction::SetVar { var, value }
        }
        "unset-var" => {
            let var = var_name(act, paren)?;
            no_args()?;
            TcpAction::UnsetVar(var)
        }
        _ => {
            cx.unknown_keyword(kind.context(), act, where_);
            return Err(silent());
        }
    };
    Ok(TcpRule {
        action,
        cond,
        origin: cx.origin(line.span),
    })
}
