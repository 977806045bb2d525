//! The Lua part of the IR: the scripts `lua-load` / `lua-load-per-thread`
//! name (read at check time), the `lua-prepend-path` lines between them, the
//! `tune.lua.*` limits, and the names the scripts registered while `check`
//! ran them (so `lua.<name>` in a rule resolves at check time, as HAProxy).

use super::Millis;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

/// Everything the global section says about Lua.
#[derive(Clone, Debug, Default, Serialize)]
pub struct LuaConfig {
    /// `lua-load`, `lua-load-per-thread` and `lua-prepend-path`, in file order.
    pub steps: Vec<LuaStep>,
    pub tune: LuaTune,
    /// What the scripts registered when `check` ran them.
    pub names: Arc<LuaNames>,
}

impl LuaConfig {
    /// Whether any script is loaded.
    pub fn is_empty(&self) -> bool {
        !self.steps.iter().any(|s| matches!(s, LuaStep::Load { .. }))
    }
}

/// One Lua line of the global section.
#[derive(Clone, Debug, Serialize)]
pub enum LuaStep {
    /// `lua-load` (`per_thread` false) or `lua-load-per-thread`.
    Load { script: LuaScript, per_thread: bool },
    /// `lua-prepend-path <path> [path|cpath]`.
    Prepend { path: String, cpath: bool },
}

/// A script file, read at check time.
#[derive(Clone, Debug, Serialize)]
pub struct LuaScript {
    pub path: PathBuf,
    /// `file:line` of the `lua-load` line.
    pub origin: String,
    #[serde(skip)]
    pub source: Arc<Vec<u8>>,
}

/// `tune.lua.*`.
#[derive(Clone, Debug, Serialize)]
pub struct LuaTune {
    /// `tune.lua.forced-yield`: instructions between two checks of the
    /// timeouts (HAProxy yields there; default 10000).
    pub forced_yield: u32,
    /// `tune.lua.maxmem` in bytes; 0 is unlimited (the default).
    pub maxmem: usize,
    /// `tune.lua.session-timeout`: Lua run time allowed to one fetch,
    /// converter or action call (default 4 s).
    pub session_timeout: Millis,
    /// `tune.lua.service-timeout`: the same for a service (default 4 s).
    pub service_timeout: Millis,
    /// `tune.lua.task-timeout`: for `core.register_init` functions (none
    /// by default).
    pub task_timeout: Option<Millis>,
}

impl Default for LuaTune {
    fn default() -> LuaTune {
        LuaTune {
            forced_yield: 10_000,
            maxmem: 0,
            session_timeout: 4000,
            service_timeout: 4000,
            task_timeout: None,
        }
    }
}

/// Which state holds a registered function.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum LuaHome {
    /// Registered by a `lua-load` script (one shared state).
    Shared,
    /// Registered by a `lua-load-per-thread` script (a state per thread).
    PerThread,
}

/// Where a `core.register_action` action may be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum LuaActionKind {
    TcpReq,
    TcpRes,
    HttpReq,
    HttpRes,
}

impl LuaActionKind {
    /// HAProxy's name in `core.register_action`'s list.
    pub fn name(self) -> &'static str {
        match self {
            LuaActionKind::TcpReq => "tcp-req",
            LuaActionKind::TcpRes => "tcp-res",
            LuaActionKind::HttpReq => "http-req",
            LuaActionKind::HttpRes => "http-res",
        }
    }
}

/// A registered action.
#[derive(Clone, Debug, Serialize)]
pub struct LuaActionDef {
    pub home: LuaHome,
    pub kinds: Vec<LuaActionKind>,
    /// How many arguments a rule must give.
    pub nargs: usize,
}

/// A registered service.
#[derive(Clone, Debug, Serialize)]
pub struct LuaServiceDef {
    pub home: LuaHome,
    /// `"http"` (true) or `"tcp"` (false).
    pub http: bool,
}

/// The names registered by the scripts.
#[derive(Clone, Debug, Default, Serialize)]
pub struct LuaNames {
    pub fetches: BTreeMap<String, LuaHome>,
    pub converters: BTreeMap<String, LuaHome>,
    pub actions: BTreeMap<String, LuaActionDef>,
    pub services: BTreeMap<String, LuaServiceDef>,
}
