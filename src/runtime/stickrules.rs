//! Stick-counter actions and fetches over a stream's [`StickCtx`]: what
//! `track-sc<n>`, `sc-inc-gpc<n>`, `sc-set-gpt0` do, and what `sc_*`,
//! `sc<n>_*` and `src_*` read.

use super::eval::{self, Txn, Value};
use super::stick::{Event, Key, Table};
use crate::ir::stick::{StickAction, StickEntry, StickRead};
use std::sync::Arc;

/// Runs a stick action; `on_stream` for `http-request` rules (the tracker
/// ends with the stream), false for `tcp-request` ones (the session).
pub(super) fn apply(action: &StickAction, t: &mut Txn, on_stream: bool) {
    let Some(stick) = t.vars.stick.clone() else {
        return;
    };
    match action {
        StickAction::Track { slot, key, table } => {
            if let Some(k) = eval::eval_sample(key, t) {
                stick.track(*slot, table, k, on_stream);
            }
        }
        StickAction::IncGpc { slot, which } => {
            if let Some((table, key)) = stick.tracked(*slot) {
                table.record(&key, Event::IncGpc(*which));
            }
        }
        StickAction::SetGpt0 { slot, value } => {
            let v = eval::eval_sample(value, t).and_then(|v| match v {
                Value::Int(i) => u64::try_from(i).ok(),
                Value::Bool(b) => Some(u64::from(b)),
                _ => None,
            });
            if let (Some(v), Some((table, key))) = (v, stick.tracked(*slot)) {
                table.set_gpt0(&key, v);
            }
        }
    }
}

/// Evaluates a stick-counter fetch; `None` (no sample) when the counter is
/// not tracked or its table does not store the value, as in HAProxy.
pub(super) fn fetch(
    entry: &StickEntry,
    read: StickRead,
    table: Option<&str>,
    t: &Txn,
) -> Option<Value> {
    let stick = t.vars.stick.clone()?;
    let named = |name: &str| stick.tables.get(name).cloned();
    let (tbl, key): (Arc<Table>, Key) = match entry {
        StickEntry::Tracked(slot) => {
            let (tracked_table, key) = match stick.tracked(*slot) {
                Some(x) => x,
                None if read == StickRead::Tracked => return Some(Value::Bool(false)),
                None => return None,
            };
            match table {
                // The tracked key, looked up in another table.
                Some(name) => (named(name)?, key),
                None => (tracked_table, key),
            }
        }
        StickEntry::Src => {
            let tbl = named(table?)?;
            let key = tbl.key_of(Value::Ip(t.conn.src.ip()))?;
            (tbl, key)
        }
    };
    let n = match read {
        StickRead::Tracked => return Some(Value::Bool(true)),
        StickRead::Get(c) => tbl.get(&key, c)?,
        StickRead::Inc(c) => tbl.inc_or_clear(&key, c, false)?,
        StickRead::Clear(c) => tbl.inc_or_clear(&key, c, true)?,
    };
    Some(Value::Int(i64::try_from(n).unwrap_or(i64::MAX)))
}
