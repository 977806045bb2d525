//! Stick-counter fetches: `sc_<x>(<ctr>[,<table>])`, `sc<n>_<x>([<table>])`
//! and `src_<x>([<table>])` over the counters a `stick-table` stores.
//!
//! They are recognised by shape rather than listed one by one in the fetch
//! table: HAProxy 2.6 names every counter three ways (five with sc0..sc2).

use super::ExprCtx;
use super::fetches::{ArgKind, ArgVal, FetchSpec};
use crate::ir::expr::Fetch;
use crate::ir::stick::{StickCounter, StickEntry, StickRead};

/// Most stick counters per stream (HAProxy's default `MAX_SESS_STKCTR`).
pub(crate) const SLOTS: u8 = 3;

const SC_ARGS: FetchSpec = FetchSpec {
    name: "sc_*",
    args: &[ArgKind::Int, ArgKind::Str],
    min: 1,
};
const TABLE_ARG: FetchSpec = FetchSpec {
    name: "sc<n>_*",
    args: &[ArgKind::Str],
    min: 0,
};

/// Counter suffixes, as fetches spell them.
const READS: &[(&str, StickRead)] = &[
    ("conn_cnt", StickRead::Get(StickCounter::ConnCnt)),
    ("conn_cur", StickRead::Get(StickCounter::ConnCur)),
    ("conn_rate", StickRead::Get(StickCounter::ConnRate)),
    ("sess_cnt", StickRead::Get(StickCounter::SessCnt)),
    ("sess_rate", StickRead::Get(StickCounter::SessRate)),
    ("http_req_cnt", StickRead::Get(StickCounter::HttpReqCnt)),
    ("http_req_rate", StickRead::Get(StickCounter::HttpReqRate)),
    ("http_err_cnt", StickRead::Get(StickCounter::HttpErrCnt)),
    ("http_err_rate", StickRead::Get(StickCounter::HttpErrRate)),
    ("get_gpc0", StickRead::Get(StickCounter::Gpc0)),
    ("get_gpc1", StickRead::Get(StickCounter::Gpc1)),
    ("gpc0_rate", StickRead::Get(StickCounter::Gpc0Rate)),
    ("gpc1_rate", StickRead::Get(StickCounter::Gpc1Rate)),
    ("get_gpt0", StickRead::Get(StickCounter::Gpt0)),
    ("inc_gpc0", StickRead::Inc(StickCounter::Gpc0)),
    ("inc_gpc1", StickRead::Inc(StickCounter::Gpc1)),
    ("clr_gpc0", StickRead::Clear(StickCounter::Gpc0)),
    ("clr_gpc1", StickRead::Clear(StickCounter::Gpc1)),
    ("tracked", StickRead::Tracked),
];

/// The shape of a stick-counter fetch name.
enum Shape {
    /// `sc_<x>`: the counter number is the first argument.
    Numbered(StickRead),
    /// `sc<n>_<x>`.
    Slot(u8, StickRead),
    /// `src_<x>`.
    Src(StickRead),
}

fn shape(name: &str) -> Option<Shape> {
    let read = |suffix: &str| READS.iter().find(|(n, _)| *n == suffix).map(|(_, r)| *r);
    if let Some(rest) = name.strip_prefix("sc_") {
        return read(rest).map(Shape::Numbered);
    }
    if let Some(rest) = name.strip_prefix("src_") {
        return read(rest)
            .filter(|r| *r != StickRead::Tracked)
            .map(Shape::Src);
    }
    let rest = name.strip_prefix("sc")?;
    let digit = rest.as_bytes().first().copied()?;
    let slot = digit.checked_sub(b'0').filter(|d| *d < SLOTS)?;
    let suffix = rest.get(1..)?.strip_prefix('_')?;
    read(suffix).map(|r| Shape::Slot(slot, r))
}

/// The argument list of a stick-counter fetch, if `name` is one.
pub(crate) fn spec(name: &str) -> Option<&'static FetchSpec> {
    match shape(name)? {
        Shape::Numbered(_) => Some(&SC_ARGS),
        Shape::Slot(..) | Shape::Src(_) => Some(&TABLE_ARG),
    }
}

/// Builds the fetch; the table, when named, must be a proxy's stick-table,
/// and `src_*` without one needs the current proxy to have a table.
pub(crate) fn build(
    name: &str,
    args: &[Option<ArgVal>],
    ctx: &ExprCtx,
) -> Result<Fetch, (usize, String)> {
    let table_at = |i: usize| -> Result<Option<String>, (usize, String)> {
        match args.get(i) {
            Some(Some(ArgVal::Str(t))) if !t.is_empty() => {
                if ctx.tables.contains(t) {
                    Ok(Some(t.clone()))
                } else {
                    Err((i, format!("unable to find table '{t}'")))
                }
            }
            _ => Ok(None),
        }
    };
    let (entry, read, table) = match shape(name).ok_or((0, "unknown fetch".to_string()))? {
        Shape::Numbered(read) => {
            let slot = match args.first() {
                Some(Some(ArgVal::Int(n))) if (0..i64::from(SLOTS)).contains(n) => *n as u8,
                _ => {
                    return Err((
                        0,
                        format!("invalid stick counter number, must be 0 to {}", SLOTS - 1),
                    ));
                }
            };
            (StickEntry::Tracked(slot), read, table_at(1)?)
        }
        Shape::Slot(slot, read) => (StickEntry::Tracked(slot), read, table_at(0)?),
        Shape::Src(read) => {
            let table = table_at(0)?;
            if table.is_none() && ctx.own_table.is_none() {
                return Err((
                    0,
                    "this proxy has no stick-table: name one, e.g. src_http_req_rate(<proxy>)"
                        .to_string(),
                ));
            }
            (
                StickEntry::Src,
                read,
                table.or(ctx.own_table.map(str::to_string)),
            )
        }
    };
    Ok(Fetch::Stick { entry, read, table })
}

/// Every name the module accepts.
#[cfg(test)]
fn all_names() -> Vec<String> {
    let mut out = Vec::new();
    for (suffix, read) in READS {
        out.push(format!("sc_{suffix}"));
        for n in 0..SLOTS {
            out.push(format!("sc{n}_{suffix}"));
        }
        if *read != StickRead::Tracked {
            out.push(format!("src_{suffix}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_documented_shape_is_recognised() {
        let names = all_names();
        assert_eq!(names.len(), 19 * 4 + 18);
        for n in &names {
            assert!(spec(n).is_some(), "{n}");
        }
        for bad in [
            "sc3_http_req_rate",
            "src_tracked",
            "sc_bogus",
            "sc0http_req_rate",
            "sc_",
        ] {
            assert!(spec(bad).is_none(), "{bad}");
        }
    }
}
