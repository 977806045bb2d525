//! Lowering of `stick-table` lines and of the actions that track and update
//! stick counters (`track-sc<n>`, `sc-inc-gpc<n>`, `sc-set-gpt0`).
//!
//! Messages and limits follow HAProxy 2.6.12 (checked with `haproxy -c`):
//! `type` and a non-zero `size` are mandatory, rates need their period, three
//! stick counters exist (sc0 to sc2), and a table is referenced by the name
//! of the proxy that declares it.

use super::values::time_ms;
use super::{Lowerer, arg};
use crate::config::ast::{ConfigAst, SectionKind};
use crate::config::expr::{self, ExprCtx};
use crate::config::word::Word;
use crate::diag::Diagnostic;
use crate::ir::stick::{StickAction, StickKey, StickTable, StoreType};

/// Names of the proxies declaring a `stick-table`, known before any rule is
/// lowered so that rules may refer to tables declared further down.
pub(crate) fn table_names(ast: &ConfigAst) -> Vec<String> {
    ast.sections
        .iter()
        .filter(|s| {
            matches!(
                s.kind,
                SectionKind::Frontend | SectionKind::Backend | SectionKind::Listen
            ) && s
                .lines
                .iter()
                .any(|l| l.words.first().is_some_and(|w| w.text == "stick-table"))
        })
        .map(|s| s.name_str().to_string())
        .collect()
}

fn error(at: &Word, msg: impl Into<String>) -> Diagnostic {
    Diagnostic::error(format!("stick-table: {}.", msg.into())).at(at.span)
}

/// `size`: a count with an optional k/m/g suffix (powers of 1024).
fn size(w: &Word) -> Option<u64> {
    let t = w.text.as_str();
    let (digits, mult) = match t.as_bytes().last() {
        Some(b'k' | b'K') => (&t[..t.len() - 1], 1u64 << 10),
        Some(b'm' | b'M') => (&t[..t.len() - 1], 1 << 20),
        Some(b'g' | b'G') => (&t[..t.len() - 1], 1 << 30),
        _ => (t, 1),
    };
    digits.parse::<u64>().ok()?.checked_mul(mult)
}

/// Parses `stick-table type … size … [expire …] [nopurge] [store …]`.
pub(crate) fn table(name: &str, kw: &Word, args: &[Word]) -> Result<StickTable, Diagnostic> {
    let mut key = None;
    let mut table_size = 0;
    let mut expire = None;
    let mut nopurge = false;
    let mut store = Vec::new();
    let mut peers: Option<Word> = None;
    let mut i = 0;
    while i < args.len() {
        let w = &args[i];
        let value = |what: &str| -> Result<&Word, Diagnostic> {
            args.get(i + 1)
                .ok_or_else(|| error(w, format!("missing {what} after '{}'", w.text)))
        };
        match w.text.as_str() {
            "type" => {
                let t = value("a type")?;
                let mut k = match t.text.as_str() {
                    "ip" => StickKey::Ip,
                    "ipv6" => StickKey::Ipv6,
                    "integer" => StickKey::Integer,
                    // HAProxy's 32 bytes hold 31 characters and the NUL.
                    "string" => StickKey::String { len: 31 },
                    "binary" => StickKey::Binary { len: 32 },
                    other => {
                        return Err(error(t, format!("unknown type '{other}'")).help(
                            "types are ip, ipv6, integer, string [len N] and binary [len N]",
                        ));
                    }
                };
                i += 2;
                if args.get(i).is_some_and(|l| l.text == "len") {
                    let l = args
                        .get(i + 1)
                        .ok_or_else(|| error(&args[i], "missing length after 'len'"))?;
                    let n: usize = l
                        .text
                        .parse()
                        .ok()
                        .filter(|n| *n > 0)
                        .ok_or_else(|| error(l, format!("invalid length '{}'", l.text)))?;
                    k = match k {
                        StickKey::String { .. } => StickKey::String { len: n },
                        StickKey::Binary { .. } => StickKey::Binary { len: n },
                        _ => {
                            return Err(error(
                                &args[i],
                                "'len' only applies to string and binary types",
                            ));
                        }
                    };
                    i += 2;
                }
                key = Some(k);
                continue;
            }
            "size" => {
                let s = value("a size")?;
                table_size =
                    size(s).ok_or_else(|| error(s, format!("invalid size '{}'", s.text)))?;
                i += 2;
            }
            "expire" => {
                expire = Some(time_ms(value("a delay")?, "stick-table expire")?);
                i += 2;
            }
            "nopurge" => {
                nopurge = true;
                i += 1;
            }
            "store" => {
                let list = value("a data type")?;
                for item in split_store(&list.text) {
                    store.push(store_type(list, item)?);
                }
                i += 2;
            }
            "peers" => {
                let v = value("a peers section name")?;
                peers = Some(v.clone());
                i += 2;
            }
            "srvkey" => {
                return Err(Diagnostic::error(format!(
                    "stick-table option '{}' is not supported by portcullis",
                    w.text
                ))
                .at(w.span)
                .help(
                    "tables are local to the process: remove it (no synchronisation between peers)",
                ));
            }
            other => {
                return Err(error(w, format!("unknown argument '{other}'")).help(
                    "write 'stick-table type ip size 100k expire 30s store http_req_rate(10s)'",
                ));
            }
        }
    }
    let key = key.ok_or_else(|| error(kw, "missing type"))?;
    if table_size == 0 {
        return Err(error(kw, "missing size").help("give the most entries kept, e.g. 'size 100k'"));
    }
    Ok(StickTable {
        name: name.to_string(),
        key,
        size: table_size,
        expire,
        nopurge,
        store,
        peers: peers.map(|w| w.text),
    })
}

/// Splits `gpc0,conn_rate(10s),http_req_cnt` at the commas outside parentheses.
fn split_store(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&text[start..]);
    out
}

fn store_type(at: &Word, item: &str) -> Result<StoreType, Diagnostic> {
    let (name, arg) = match item.split_once('(') {
        Some((n, rest)) => (n, Some(rest.trim_end_matches(')'))),
        None => (item, None),
    };
    let period = || -> Result<u64, Diagnostic> {
        let a =
            arg.ok_or_else(|| error(at, format!("missing argument to store option '{name}'")))?;
        let w = Word {
            text: a.to_string(),
            span: at.span,
            quoted: false,
        };
        time_ms(&w, name)
    };
    let plain = |t: StoreType| -> Result<StoreType, Diagnostic> {
        match arg {
            None => Ok(t),
            Some(_) => Err(error(
                at,
                format!("store option '{name}' takes no argument"),
            )),
        }
    };
    Ok(match name {
        "gpc0" => plain(StoreType::Gpc0)?,
        "gpc1" => plain(StoreType::Gpc1)?,
        "gpt0" => plain(StoreType::Gpt0)?,
        "conn_cnt" => plain(StoreType::ConnCnt)?,
        "conn_cur" => plain(StoreType::ConnCur)?,
        "sess_cnt" => plain(StoreType::SessCnt)?,
        "http_req_cnt" => plain(StoreType::HttpReqCnt)?,
        "http_err_cnt" => plain(StoreType::HttpErrCnt)?,
        "gpc0_rate" => StoreType::Gpc0Rate(period()?),
        "gpc1_rate" => StoreType::Gpc1Rate(period()?),
        "conn_rate" => StoreType::ConnRate(period()?),
        "sess_rate" => StoreType::SessRate(period()?),
        "http_req_rate" => StoreType::HttpReqRate(period()?),
        "http_err_rate" => StoreType::HttpErrRate(period()?),
        "server_id" => plain(StoreType::ServerId)?,
        "server_key" => plain(StoreType::ServerKey)?,
        "server_name" | "gpc" | "gpc_rate" | "gpt" | "http_fail_cnt" | "http_fail_rate"
        | "bytes_in_cnt" | "bytes_in_rate" | "bytes_out_cnt" | "bytes_out_rate" | "glitch_cnt"
        | "glitch_rate" => {
            return Err(Diagnostic::error(format!(
                "stick-table data type '{name}' is not supported by portcullis"
            ))
            .at(at.span)
            .help("supported: gpc0, gpc1, gpc0_rate, gpc1_rate, gpt0, conn_cnt, conn_cur, conn_rate, sess_cnt, sess_rate, http_req_cnt, http_req_rate, http_err_cnt, http_err_rate, server_id, server_key"));
        }
        other => return Err(error(at, format!("unknown store option '{other}'"))),
    })
}

/// The stick-counter slot of `track-sc<n>` / `sc-…(<n>)`.
fn slot(at: &Word, what: &str, n: &str) -> Result<u8, Diagnostic> {
    match n.parse::<u8>() {
        Ok(v) if v < expr::stickfetch::SLOTS => Ok(v),
        _ => Err(Diagnostic::error(format!(
            "'{what}' : {n} track-sc number exceeding 2 (MAX_SESS_STKCTR-1) value"
        ))
        .at(at.span)
        .help("three stick counters exist: 0, 1 and 2")),
    }
}

/// Lowers a stick-counter action, if `name` is one (`None` otherwise).
/// `own_table` is the proxy's table name when it declares one.
pub(crate) fn action(
    cx: &mut Lowerer,
    act: &Word,
    name: &str,
    paren: Option<&str>,
    args: &[Word],
    ctx: &ExprCtx,
) -> Option<Result<StickAction, Diagnostic>> {
    let result = if let Some(n) = name.strip_prefix("track-sc") {
        track(cx, act, name, n, args, ctx)
    } else {
        match name {
            "sc-inc-gpc0" | "sc-inc-gpc1" => (|| {
                let which = if name.ends_with('0') { 0 } else { 1 };
                let slot = slot(act, name, paren.unwrap_or("0"))?;
                if let Some(x) = args.first() {
                    return Err(Diagnostic::error(format!(
                        "'{name}' : unexpected argument '{}'",
                        x.text
                    ))
                    .at(x.span));
                }
                Ok(StickAction::IncGpc { slot, which })
            })(),
            "sc-set-gpt0" => (|| {
                let slot = slot(act, name, paren.unwrap_or("0"))?;
                let v = arg(args, 0, act, "an integer or an expression")?;
                // HAProxy reads an integer literal first, else an expression.
                let value = match v.text.parse::<i64>() {
                    Ok(n) => crate::ir::expr::Sample {
                        fetch: crate::ir::expr::Fetch::ConstInt(n),
                        converters: Vec::new(),
                        keyword: "int".to_string(),
                        out_type: crate::ir::expr::SampleType::Int,
                        span: v.span,
                    },
                    Err(_) => {
                        expr::parse_sample(v, ctx, cx.diags).ok_or_else(super::proxy::silent)?
                    }
                };
                Ok(StickAction::SetGpt0 { slot, value })
            })(),
            _ => return None,
        }
    };
    Some(result)
}

fn track(
    cx: &mut Lowerer,
    act: &Word,
    name: &str,
    n: &str,
    args: &[Word],
    ctx: &ExprCtx,
) -> Result<StickAction, Diagnostic> {
    let slot = slot(act, name, n)?;
    let k = arg(args, 0, act, "a key expression, e.g. 'src'")?;
    let key = expr::parse_sample(k, ctx, cx.diags).ok_or_else(super::proxy::silent)?;
    let table = match args.get(1) {
        None => None,
        Some(t) if t.text == "table" => {
            let table_name = arg(args, 2, t, "a table name")?;
            if let Some(x) = args.get(3) {
                return Err(Diagnostic::error(format!(
                    "'{name}' : unexpected argument '{}'",
                    x.text
                ))
                .at(x.span));
            }
            Some(table_name)
        }
        Some(x) => {
            return Err(Diagnostic::error(format!(
                "'{}' : unexpected argument '{}'",
                name, x.text
            ))
            .at(x.span)
            .help("write 'track-sc0 <key> [table <name>]'"));
        }
    };
    let table = match table {
        Some(t) if ctx.tables.contains(&t.text) => t.text.clone(),
        Some(t) => {
            return Err(Diagnostic::error(format!(
                "unable to find table '{}' referenced by {name}",
                t.text
            ))
            .at(t.span)
            .help("a table is named after the proxy whose 'stick-table' line declares it"));
        }
        None => match ctx.own_table {
            Some(own) => own.to_string(),
            None => {
                return Err(Diagnostic::error(format!(
                    "this proxy has no stick-table for {name}"
                ))
                .at(act.span)
                .help("add a 'stick-table' line to this proxy, or name another proxy's: 'table <proxy>'"));
            }
        },
    };
    Ok(StickAction::Track { slot, key, table })
}
