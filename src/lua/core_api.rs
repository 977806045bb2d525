//! HAProxy's `core` table: the registrations scripts make while they load
//! (`register_fetches`, `register_converters`, `register_action`,
//! `register_service`, `register_init`), logging, `now`, `sleep`/`msleep`,
//! `done`, `yield` and `thread`. Any other member raises "not supported by
//! portcullis" (the script's load fails at check when it calls one).

use super::state::{ActionFn, CallKind, Ctl, DONE_MARKER, Registry};
use crate::ir::lua::LuaActionKind;
use mlua::{Function, Lua, Table};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// syslog levels, as `core.emerg` … `core.debug`.
const LEVELS: [&str; 8] = [
    "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
];

fn err(msg: impl Into<String>) -> mlua::Error {
    mlua::Error::RuntimeError(msg.into())
}

fn kind(lua: &Lua) -> CallKind {
    lua.app_data_ref::<Ctl>()
        .map_or(CallKind::Load, |c| c.kind.get())
}

/// Registration is only possible while the scripts load (HAProxy refuses it
/// at run time too).
fn registering(lua: &Lua, what: &str) -> mlua::Result<()> {
    if kind(lua) == CallKind::Load {
        Ok(())
    } else {
        Err(err(format!(
            "core.{what} can only be called while the script loads"
        )))
    }
}

fn with_registry(lua: &Lua, f: impl FnOnce(&mut Registry)) -> mlua::Result<()> {
    let mut reg = lua
        .app_data_mut::<Registry>()
        .ok_or_else(|| err("Lua registry missing"))?;
    f(&mut reg);
    Ok(())
}

/// Writes a `core.log` message (HAProxy sends it to the logs and stderr).
pub(crate) fn log(level: i64, msg: &str) {
    let name = usize::try_from(level)
        .ok()
        .and_then(|l| LEVELS.get(l))
        .copied()
        .unwrap_or("info");
    eprintln!("[{name}] (lua) {msg}");
}

/// Sleeps in an action or service; the sleep does not count against the
/// call's Lua run-time budget.
fn sleep(lua: &Lua, d: Duration) -> mlua::Result<()> {
    if kind(lua) != CallKind::Action {
        return Err(err(
            "core.sleep/core.msleep cannot be used here: only actions, services and init functions can wait (HAProxy cannot yield in sample fetches and converters)",
        ));
    }
    // Bound a single sleep so a script cannot park a worker forever.
    let d = d.min(Duration::from_secs(3600));
    std::thread::sleep(d);
    if let Some(c) = lua.app_data_ref::<Ctl>()
        && let Some(dl) = c.deadline.get()
    {
        c.deadline.set(Some(dl + d));
    }
    Ok(())
}

fn action_kinds(t: &Table) -> mlua::Result<Vec<LuaActionKind>> {
    let mut out = Vec::new();
    for v in t.sequence_values::<String>() {
        let v = v?;
        out.push(match v.as_str() {
            "tcp-req" => LuaActionKind::TcpReq,
            "tcp-res" => LuaActionKind::TcpRes,
            "http-req" => LuaActionKind::HttpReq,
            "http-res" => LuaActionKind::HttpRes,
            other => {
                return Err(err(format!(
                    "core.register_action: unknown action type '{other}' (expected tcp-req, tcp-res, http-req or http-res)"
                )));
            }
        });
    }
    Ok(out)
}

/// Creates the `core` global of a state.
pub(crate) fn install(lua: &Lua, thread: u32) -> mlua::Result<()> {
    let core = lua.create_table()?;
    for (i, l) in LEVELS.iter().enumerate() {
        core.set(*l, i as i64)?;
    }
    core.set("thread", thread)?;
    core.set(
        "register_fetches",
        lua.create_function(|lua, (name, f): (String, Function)| {
            registering(lua, "register_fetches")?;
            with_registry(lua, |r| {
                r.fetches.insert(name, f);
            })
        })?,
    )?;
    core.set(
        "register_converters",
        lua.create_function(|lua, (name, f): (String, Function)| {
            registering(lua, "register_converters")?;
            with_registry(lua, |r| {
                r.converters.insert(name, f);
            })
        })?,
    )?;
    core.set(
        "register_action",
        lua.create_function(
            |lua, (name, kinds, f, nargs): (String, Table, Function, Option<i64>)| {
                registering(lua, "register_action")?;
                let kinds = action_kinds(&kinds)?;
                let nargs = usize::try_from(nargs.unwrap_or(0))
                    .map_err(|_| err("core.register_action: negative number of arguments"))?;
                with_registry(lua, |r| {
                    r.actions.insert(
                        name,
                        ActionFn {
                            func: f,
                            kinds,
                            nargs,
                        },
                    );
                })
            },
        )?,
    )?;
    core.set(
        "register_service",
        lua.create_function(|lua, (name, mode, f): (String, String, Function)| {
            registering(lua, "register_service")?;
            let http = match mode.as_str() {
                "http" => true,
                "tcp" => false,
                other => {
                    return Err(err(format!(
                        "core.register_service: '{other}' is not a valid mode (expected 'http' or 'tcp')"
                    )));
                }
            };
            with_registry(lua, |r| {
                r.services.insert(name, (f, http));
            })
        })?,
    )?;
    core.set(
        "register_init",
        lua.create_function(|lua, f: Function| {
            registering(lua, "register_init")?;
            with_registry(lua, |r| r.inits.push(f))
        })?,
    )?;
    core.set(
        "log",
        lua.create_function(|_, (level, msg): (i64, String)| {
            log(level, &msg);
            Ok(())
        })?,
    )?;
    for (name, level) in [("Debug", 7), ("Info", 6), ("Warning", 4), ("Alert", 1)] {
        core.set(
            name,
            lua.create_function(move |_, msg: String| {
                log(level, &msg);
                Ok(())
            })?,
        )?;
    }
    core.set(
        "now",
        lua.create_function(|lua, ()| {
            let d = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default();
            let t = lua.create_table()?;
            t.set("sec", d.as_secs())?;
            t.set("usec", d.subsec_micros())?;
            Ok(t)
        })?,
    )?;
    core.set(
        "sleep",
        lua.create_function(|lua, s: u64| sleep(lua, Duration::from_secs(s)))?,
    )?;
    core.set(
        "msleep",
        lua.create_function(|lua, ms: u64| sleep(lua, Duration::from_millis(ms)))?,
    )?;
    core.set(
        "yield",
        lua.create_function(|lua, ()| {
            if kind(lua) == CallKind::Sample {
                return Err(err(
                    "core.yield cannot be used in sample fetches and converters",
                ));
            }
            Ok(())
        })?,
    )?;
    core.set(
        "done",
        lua.create_function(|_, ()| -> mlua::Result<()> { Err(err(DONE_MARKER)) })?,
    )?;
    // The "not supported" metatable is set by the prelude, in Lua, so the
    // error names the script line that used the member.
    lua.globals().set("core", core)?;
    Ok(())
}
