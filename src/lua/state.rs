//! One Lua state: the standard libraries, `package.path` as the
//! `lua-prepend-path` lines say, the `tune.lua.*` limits, HAProxy's `core`
//! and `act` globals, and the scripts run in order; what they register is
//! kept in the state's [`Registry`].

use super::core_api;
use super::error::{LuaError, message};
use crate::ir::lua::{LuaActionKind, LuaTune};
use mlua::{Function, HookTriggers, Lua, VmState};
use std::cell::Cell;
use std::collections::HashMap;
use std::path::Path;
use std::time::Instant;

/// What Lua code is running now: decides what `core` allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CallKind {
    /// A script's main chunk (`lua-load`): registrations are allowed.
    Load,
    /// A sample fetch or converter: it cannot sleep (HAProxy cannot yield there).
    Sample,
    /// An action, a service or an init function: it may sleep.
    Action,
}

/// Per-state control data, read by `core` and the instruction hook.
pub(crate) struct Ctl {
    pub kind: Cell<CallKind>,
    /// When the running call exceeds its Lua run time (the timeouts count
    /// only Lua execution: `core.sleep` pushes it back).
    pub deadline: Cell<Option<Instant>>,
}

/// A registered action.
pub(crate) struct ActionFn {
    pub func: Function,
    pub kinds: Vec<LuaActionKind>,
    pub nargs: usize,
}

/// What the scripts of a state registered.
#[derive(Default)]
pub(crate) struct Registry {
    pub fetches: HashMap<String, Function>,
    pub converters: HashMap<String, Function>,
    pub actions: HashMap<String, ActionFn>,
    /// name → (function, mode is http).
    pub services: HashMap<String, (Function, bool)>,
    pub inits: Vec<Function>,
}

/// A ready state and its registrations.
pub(crate) struct State {
    pub lua: Lua,
    /// The prelude's `make_txn` and `make_applet`.
    pub make_txn: Function,
    pub make_applet: Function,
}

/// The marker `core.done()` raises to end the running action or service.
pub(crate) const DONE_MARKER: &str = "\u{1}portcullis:core.done";

impl State {
    /// A state with the libraries, limits and globals, no script loaded yet.
    pub fn new(tune: &LuaTune, thread: u32) -> Result<State, LuaError> {
        let lua = Lua::new();
        let ctl = Ctl {
            kind: Cell::new(CallKind::Load),
            deadline: Cell::new(None),
        };
        lua.set_app_data(ctl);
        lua.set_app_data(Registry::default());
        if tune.maxmem > 0 {
            lua.set_memory_limit(tune.maxmem).map_err(LuaError::setup)?;
        }
        // A runaway script costs its own request: every `forced-yield`
        // instructions the running call's deadline is checked.
        let every = tune.forced_yield.max(1);
        lua.set_global_hook(
            HookTriggers::new().every_nth_instruction(every),
            |lua, _| {
                let late = lua
                    .app_data_ref::<Ctl>()
                    .and_then(|c| c.deadline.get())
                    .is_some_and(|d| Instant::now() > d);
                if late {
                    Err(mlua::Error::RuntimeError(
                        "execution timeout (tune.lua.session-timeout / service-timeout)".into(),
                    ))
                } else {
                    Ok(VmState::Continue)
                }
            },
        )
        .map_err(LuaError::setup)?;
        core_api::install(&lua, thread).map_err(LuaError::setup)?;
        let (make_txn, make_applet): (Function, Function) = lua
            .load(include_str!("prelude.lua"))
            .set_name("=portcullis-prelude")
            .call(())
            .map_err(LuaError::setup)?;
        Ok(State {
            lua,
            make_txn,
            make_applet,
        })
    }

    /// `lua-prepend-path`: `<path>;` in front of `package.path` or `cpath`.
    pub fn prepend_path(&self, path: &str, cpath: bool) -> Result<(), LuaError> {
        let package: mlua::Table = self.lua.globals().get("package").map_err(LuaError::setup)?;
        let key = if cpath { "cpath" } else { "path" };
        let old: String = package.get(key).map_err(LuaError::setup)?;
        package
            .set(key, format!("{path};{old}"))
            .map_err(LuaError::setup)
    }

    /// Runs a script's main chunk (where it registers its functions).
    pub fn load_script(&self, path: &Path, source: &[u8]) -> Result<(), LuaError> {
        let file = path.display().to_string();
        let chunk = self.lua.load(source).set_name(format!("@{file}"));
        let func = chunk.into_function().map_err(|e| LuaError::Syntax {
            file: file.clone(),
            message: message(&e),
        })?;
        self.set_kind(CallKind::Load);
        func.call::<()>(()).map_err(|e| LuaError::Runtime {
            file,
            message: message(&e),
        })
    }

    pub fn set_kind(&self, kind: CallKind) {
        if let Some(c) = self.lua.app_data_ref::<Ctl>() {
            c.kind.set(kind);
        }
    }

    /// Starts a call: its kind and Lua run-time budget.
    pub fn begin(&self, kind: CallKind, budget: Option<std::time::Duration>) {
        if let Some(c) = self.lua.app_data_ref::<Ctl>() {
            c.kind.set(kind);
            c.deadline.set(budget.map(|b| Instant::now() + b));
        }
    }

    /// Ends a call: no deadline until the next one.
    pub fn end(&self) {
        if let Some(c) = self.lua.app_data_ref::<Ctl>() {
            c.deadline.set(None);
        }
    }

    /// Runs `f` on the registry.
    pub fn registry<T>(&self, f: impl FnOnce(&Registry) -> T) -> Option<T> {
        self.lua.app_data_ref::<Registry>().map(|r| f(&r))
    }
}
