//! What one Lua call may reach of its transaction (the [`Host`]) and the
//! primitives the prelude builds `txn` and `applet` objects from: fetches
//! and converters by name, variables, the private value, the HTTP head, and
//! an applet's response.

use super::convert::{arg_text, from_lua, to_lua, to_lua_string};
use crate::config::expr::{ExprCtx, Mode, Stage, parse_sample, parse_var_name};
use crate::config::word::Word;
use crate::diag::Diagnostics;
use crate::ir::expr::{Sample, VarCondition};
use crate::ir::lua::LuaNames;
use crate::runtime::eval::{self, Captures, Txn, UserAuth, Vars};
use crate::runtime::facts::ConnFacts;
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue};
use mlua::{Lua, RegistryKey, Scope, Table, Value as LuaValue, Variadic};
use std::cell::RefCell;

/// The Lua side of one transaction: the per-thread state it is pinned to
/// and its private values (`txn:set_priv`), one per kind of state.
#[derive(Debug, Default)]
pub struct TxnSlot {
    pub(crate) thread_state: Option<usize>,
    pub(crate) priv_shared: Option<RegistryKey>,
    pub(crate) priv_thread: Option<RegistryKey>,
}

/// An HTTP transaction an action or a service may change.
pub struct HttpHost<'h> {
    pub conn: &'h ConnFacts,
    pub vars: &'h mut Vars,
    pub auth: &'h dyn UserAuth,
    pub captures: Captures<'h>,
    pub req: &'h mut http::request::Parts,
    /// The response head, for `http-response` actions.
    pub res: Option<&'h mut http::response::Parts>,
}

/// What a call reaches.
pub(crate) enum Host<'h, 'a> {
    /// A sample fetch (read-only, from the expression evaluator).
    Eval(&'h mut Txn<'a>),
    /// An action or service.
    Http(HttpHost<'h>),
}

impl Host<'_, '_> {
    fn with_txn<R>(&mut self, f: impl FnOnce(&mut Txn) -> R) -> R {
        match self {
            Host::Eval(t) => f(t),
            Host::Http(h) => {
                let mut t = Txn::new(h.conn, h.vars);
                t.auth = h.auth;
                t.captures = h.captures;
                t.req = Some(&*h.req);
                t.res = h.res.as_deref();
                f(&mut t)
            }
        }
    }

    pub(crate) fn vars(&mut self) -> &mut Vars {
        match self {
            Host::Eval(t) => t.vars,
            Host::Http(h) => h.vars,
        }
    }

    fn headers(&self, res: bool) -> Option<&HeaderMap> {
        match self {
            Host::Eval(t) if res => t.res.map(|r| &r.headers),
            Host::Eval(t) => t.req.map(|r| &r.headers),
            Host::Http(h) if res => h.res.as_deref().map(|r| &r.headers),
            Host::Http(h) => Some(&h.req.headers),
        }
    }

    fn has(&self, res: bool) -> (bool, bool) {
        match self {
            Host::Eval(t) => (t.req.is_some(), t.res.is_some() && res),
            Host::Http(h) => (true, h.res.is_some() && res),
        }
    }
}

fn err(msg: impl Into<String>) -> mlua::Error {
    mlua::Error::RuntimeError(msg.into())
}

/// A fetch's configuration name from its Lua spelling (`req_hdr` → `req.hdr`).
fn fetch_name(lua_name: &str) -> String {
    crate::config::expr::supported_fetches()
        .iter()
        .find(|n| n.replace('.', "_") == lua_name)
        .map_or_else(|| lua_name.to_string(), |n| n.to_string())
}

fn quoted(args: &[String]) -> String {
    args.iter()
        .map(|a| format!("\"{}\"", a.replace('\\', "\\\\").replace('"', "\\\"")))
        .collect::<Vec<_>>()
        .join(",")
}

/// Compiles `text` as a sample expression the way a rule would; Lua
/// functions are not reachable from Lua this way (their state is busy).
fn compile(text: &str, http: bool, response: bool) -> mlua::Result<Sample> {
    let word = Word {
        text: text.to_string(),
        span: crate::diag::Span {
            file: crate::diag::FileId(0),
            start: 0,
            end: text.len() as u32,
        },
        quoted: false,
    };
    let none = |_: &str| false;
    let names = LuaNames::default();
    let stage = match (http, response) {
        (true, true) => Stage::HttpResponse,
        (true, false) => Stage::HttpRequest,
        (false, _) => Stage::TcpContent,
    };
    let ctx = ExprCtx {
        mode: if http { Mode::Http } else { Mode::Tcp },
        stage,
        acl_exists: &none,
        context: "Lua",
        tables: &[],
        own_table: None,
        backends: &[],
        proxy: "",
        lua: &names,
    };
    let mut diags = Diagnostics::new();
    parse_sample(&word, &ctx, &mut diags).ok_or_else(|| {
        let why = diags
            .iter()
            .map(|d| d.message.clone())
            .collect::<Vec<_>>()
            .join("; ");
        err(why)
    })
}

fn args_text(args: &Variadic<LuaValue>) -> mlua::Result<Vec<String>> {
    args.iter().map(arg_text).collect()
}

/// The primitives of `txn` (and of an applet's `txn`-like half).
pub(crate) fn txn_prims<'s>(
    lua: &Lua,
    scope: &'s Scope<'s, '_>,
    host: &'s RefCell<Host<'_, '_>>,
    shared: bool,
) -> mlua::Result<Table> {
    let p = lua.create_table()?;
    p.set(
        "fetch",
        scope.create_function(
            move |lua, (name, as_string, args): (String, bool, Variadic<LuaValue>)| {
                let args = args_text(&args)?;
                let fname = fetch_name(&name);
                let text = if args.is_empty() {
                    fname
                } else {
                    format!("{fname}({})", quoted(&args))
                };
                let mut h = host.borrow_mut();
                let (http, res) = h.has(true);
                let sample = compile(&text, http, res)?;
                let v = h.with_txn(|t| eval::eval_sample(&sample, t));
                if as_string {
                    to_lua_string(lua, v)
                } else {
                    v.map_or(Ok(LuaValue::Nil), |v| to_lua(lua, v))
                }
            },
        )?,
    )?;
    p.set(
        "conv",
        scope.create_function(
            move |lua,
                  (name, as_string, input, args): (
                String,
                bool,
                LuaValue,
                Variadic<LuaValue>,
            )| {
                let args = args_text(&args)?;
                let text = if args.is_empty() {
                    format!("str(),{name}")
                } else {
                    format!("str(),{name}({})", quoted(&args))
                };
                let mut h = host.borrow_mut();
                let (http, res) = h.has(true);
                let sample = compile(&text, http, res)?;
                let input = match &input {
                    LuaValue::Nil => None,
                    v => Some(from_lua(v)),
                };
                let v = input
                    .and_then(|i| h.with_txn(|t| eval::apply_converters(&sample.converters, i, t)));
                if as_string {
                    to_lua_string(lua, v)
                } else {
                    v.map_or(Ok(LuaValue::Nil), |v| to_lua(lua, v))
                }
            },
        )?,
    )?;
    p.set(
        "get_var",
        scope.create_function(move |lua, name: String| {
            let var = parse_var_name(&name).map_err(|e| err(format!("'{name}': {e}")))?;
            match host.borrow_mut().vars().get(&var) {
                Some(v) => to_lua(lua, v),
                None => Ok(LuaValue::Nil),
            }
        })?,
    )?;
    p.set(
        "set_var",
        scope.create_function(
            move |_, (name, value, ifexist): (String, LuaValue, Option<bool>)| {
                let var = parse_var_name(&name).map_err(|e| err(format!("'{name}': {e}")))?;
                let conds: &[VarCondition] = if ifexist == Some(true) {
                    &[VarCondition::IfExists]
                } else {
                    &[]
                };
                Ok(host
                    .borrow_mut()
                    .vars()
                    .set_if(&var, from_lua(&value), conds))
            },
        )?,
    )?;
    p.set(
        "unset_var",
        scope.create_function(move |_, name: String| {
            let var = parse_var_name(&name).map_err(|e| err(format!("'{name}': {e}")))?;
            Ok(host.borrow_mut().vars().unset(&var))
        })?,
    )?;
    p.set(
        "get_priv",
        scope.create_function(move |lua, ()| {
            let mut h = host.borrow_mut();
            let slot = &h.vars().lua;
            let key = if shared {
                &slot.priv_shared
            } else {
                &slot.priv_thread
            };
            match key {
                Some(k) => lua.registry_value::<LuaValue>(k),
                None => Ok(LuaValue::Nil),
            }
        })?,
    )?;
    p.set(
        "set_priv",
        scope.create_function(move |lua, v: LuaValue| {
            let key = lua.create_registry_value(v)?;
            let mut h = host.borrow_mut();
            let slot = &mut h.vars().lua;
            if shared {
                slot.priv_shared = Some(key);
            } else {
                slot.priv_thread = Some(key);
            }
            Ok(())
        })?,
    )?;
    p.set(
        "get_headers",
        scope.create_function(move |lua, side: String| {
            let h = host.borrow();
            let t = lua.create_table()?;
            if let Some(map) = h.headers(side == "res") {
                for name in map.keys() {
                    let vals = lua.create_table()?;
                    for (i, v) in map.get_all(name).iter().enumerate() {
                        vals.set(i, lua.create_string(v.as_bytes())?)?;
                    }
                    t.set(name.as_str(), vals)?;
                }
            }
            Ok(t)
        })?,
    )?;
    p.set(
        "header",
        scope.create_function(
            move |_, (side, op, name, value): (String, String, String, Option<mlua::LuaString>)| {
                let mut h = host.borrow_mut();
                let Host::Http(hh) = &mut *h else {
                    return Err(err("txn.http cannot change headers in a sample fetch"));
                };
                let map = if side == "res" {
                    match hh.res.as_deref_mut() {
                        Some(r) => &mut r.headers,
                        None => {
                            return Err(err(
                                "txn.http:res_* can only be used on a response (http-response actions)",
                            ));
                        }
                    }
                } else {
                    &mut hh.req.headers
                };
                let hn = HeaderName::from_bytes(name.as_bytes())
                    .map_err(|_| err(format!("invalid header name '{name}'")))?;
                let value = match &value {
                    Some(v) => Some(
                        HeaderValue::from_bytes(&v.as_bytes())
                            .map_err(|_| err(format!("invalid value for header '{name}'")))?,
                    ),
                    None => None,
                };
                match (op.as_str(), value) {
                    ("del", _) => {
                        map.remove(&hn);
                    }
                    ("set", Some(v)) => {
                        map.insert(hn, v);
                    }
                    ("add", Some(v)) => {
                        map.append(hn, v);
                    }
                    _ => return Err(err(format!("header '{name}': a value is required"))),
                }
                Ok(())
            },
        )?,
    )?;
    p.set(
        "req_set",
        scope.create_function(move |_, (part, value): (String, String)| {
            let mut h = host.borrow_mut();
            let Host::Http(hh) = &mut *h else {
                return Err(err("txn.http cannot change the request in a sample fetch"));
            };
            set_request_part(hh.req, &part, &value)
        })?,
    )?;
    p.set(
        "res_set_status",
        scope.create_function(move |_, (code, reason): (u16, Option<String>)| {
            let mut h = host.borrow_mut();
            let Host::Http(HttpHost { res: Some(r), .. }) = &mut *h else {
                return Err(err(
                    "txn.http:res_set_status can only be used on a response (http-response actions)",
                ));
            };
            crate::runtime::http::set_status(r, code, reason);
            Ok(())
        })?,
    )?;
    Ok(p)
}

/// `txn.http:req_set_method/path/query/uri`.
fn set_request_part(req: &mut http::request::Parts, part: &str, value: &str) -> mlua::Result<()> {
    let bad = |what: &str| err(format!("invalid {what} '{value}'"));
    match part {
        "method" => {
            req.method = http::Method::from_bytes(value.as_bytes()).map_err(|_| bad("method"))?;
            return Ok(());
        }
        "uri" => {
            req.uri = value.parse().map_err(|_| bad("URI"))?;
            return Ok(());
        }
        _ => {}
    }
    let path = req.uri.path().to_string();
    let query = req.uri.query().map(str::to_string);
    let pq = match part {
        "path" => match &query {
            Some(q) => format!("{value}?{q}"),
            None => value.to_string(),
        },
        // HAProxy's set-query: the new query string, without its '?'.
        _ => format!("{path}?{}", value.strip_prefix('?').unwrap_or(value)),
    };
    let mut parts = req.uri.clone().into_parts();
    parts.path_and_query = Some(pq.parse().map_err(|_| bad(part))?);
    req.uri = http::Uri::from_parts(parts).map_err(|_| bad(part))?;
    Ok(())
}

/// An HTTP applet's I/O: the request body it reads, the response it builds.
pub(crate) struct AppletIo {
    pub body: Bytes,
    pub read: usize,
    pub status: u16,
    pub reason: Option<String>,
    pub headers: Vec<(String, Vec<u8>)>,
    pub started: bool,
    pub out: Vec<u8>,
}

impl AppletIo {
    pub fn new(body: Bytes) -> AppletIo {
        AppletIo {
            body,
            read: 0,
            status: 200,
            reason: None,
            headers: Vec::new(),
            started: false,
            out: Vec::new(),
        }
    }
}

/// The applet primitives (response building and request body reading).
pub(crate) fn applet_prims<'s>(
    scope: &'s Scope<'s, '_>,
    p: &Table,
    io: &'s RefCell<AppletIo>,
) -> mlua::Result<()> {
    p.set(
        "set_status",
        scope.create_function(move |_, (code, reason): (u16, Option<String>)| {
            let mut io = io.borrow_mut();
            if !(100..=999).contains(&code) {
                return Err(err(format!("invalid status code {code}")));
            }
            io.status = code;
            io.reason = reason;
            Ok(())
        })?,
    )?;
    p.set(
        "add_header",
        scope.create_function(move |_, (name, value): (String, mlua::LuaString)| {
            io.borrow_mut()
                .headers
                .push((name, value.as_bytes().to_vec()));
            Ok(())
        })?,
    )?;
    p.set(
        "start_response",
        scope.create_function(move |_, ()| {
            io.borrow_mut().started = true;
            Ok(())
        })?,
    )?;
    p.set(
        "send",
        scope.create_function(move |_, data: mlua::LuaString| {
            let mut io = io.borrow_mut();
            if !io.started {
                return Err(err("applet:send called before applet:start_response"));
            }
            io.out.extend_from_slice(&data.as_bytes());
            Ok(())
        })?,
    )?;
    p.set(
        "receive",
        scope.create_function(move |lua, size: Option<i64>| {
            let mut io = io.borrow_mut();
            let rest = io.body.len() - io.read;
            let n = match size {
                Some(n) if n >= 0 => (n as usize).min(rest),
                _ => rest,
            };
            let start = io.read;
            io.read += n;
            lua.create_string(&io.body[start..start + n])
        })?,
    )?;
    p.set(
        "getline",
        scope.create_function(move |lua, ()| {
            let mut io = io.borrow_mut();
            let rest = &io.body[io.read..];
            let n = rest
                .iter()
                .position(|b| *b == b'\n')
                .map_or(rest.len(), |i| i + 1);
            let start = io.read;
            io.read += n;
            lua.create_string(&io.body[start..start + n])
        })?,
    )?;
    Ok(())
}
