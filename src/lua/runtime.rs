//! The Lua states of a Generation and the calls into them.
//!
//! `lua-load` scripts share one state, used by one call at a time (HAProxy
//! serialises its shared state with a lock too); `lua-load-per-thread`
//! scripts get one state per worker thread, and a transaction stays on the
//! state its first call used (so `txn:set_priv` values are found again).
//! Calls are synchronous: fetches and converters cannot yield in HAProxy
//! either, and actions and services run to completion (their `core.sleep`
//! waits in place, off the async scheduler). A Lua error, a timeout
//! (`tune.lua.session-timeout`/`service-timeout`, checked every
//! `tune.lua.forced-yield` instructions) or `tune.lua.maxmem` costs the
//! call that hit it, never the process.

use super::convert::{from_lua, to_lua};
use super::error::{LuaError, message};
use super::host::{AppletIo, Host, HttpHost, txn_prims};
use super::state::{CallKind, DONE_MARKER, State};
use crate::ir::lua::{LuaConfig, LuaHome, LuaNames, LuaStep};
use crate::runtime::eval::{Txn, Value};
use bytes::Bytes;
use http::{HeaderName, HeaderValue, Response, StatusCode};
use mlua::{IntoLua, MultiValue, Value as LuaValue};
use std::cell::RefCell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

/// What an action asks the rule engine to do next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ActionOutcome {
    /// Go on with the next rule (`act.CONTINUE`, nothing returned, or an error).
    Continue,
    /// Stop evaluating this rule set (`act.STOP`).
    Stop,
    /// Deny the request (`act.DENY`): 403 on requests, 502 on responses.
    Deny,
}

/// The states of one Generation.
pub struct LuaRuntime {
    shared: Mutex<State>,
    per_thread: Vec<Mutex<State>>,
    config: LuaConfig,
    /// Hands out per-thread states to transactions in turn.
    next: AtomicUsize,
}

impl std::fmt::Debug for LuaRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LuaRuntime")
            .field("per_thread", &self.per_thread.len())
            .finish()
    }
}

/// Loads the scripts of `config` into a shared state and `threads`
/// per-thread states (the shared one also gets the per-thread scripts
/// when `threads` is 0: that is how `check` learns their names).
fn build_state(config: &LuaConfig, per_thread: bool, thread: u32) -> Result<State, LuaError> {
    let st = State::new(&config.tune, thread)?;
    for step in &config.steps {
        match step {
            LuaStep::Prepend { path, cpath } => st.prepend_path(path, *cpath)?,
            LuaStep::Load {
                script,
                per_thread: p,
            } if *p == per_thread => st.load_script(&script.path, &script.source)?,
            LuaStep::Load { .. } => {}
        }
    }
    Ok(st)
}

/// What the scripts register, learnt by running them (check time): the
/// names and their kinds, for the IR.
pub fn probe(config: &LuaConfig) -> Result<LuaNames, LuaError> {
    let mut names = LuaNames::default();
    for (per_thread, home) in [(false, LuaHome::Shared), (true, LuaHome::PerThread)] {
        let st = build_state(config, per_thread, u32::from(per_thread))?;
        st.registry(|r| {
            for n in r.fetches.keys() {
                names.fetches.insert(n.clone(), home);
            }
            for n in r.converters.keys() {
                names.converters.insert(n.clone(), home);
            }
            for (n, a) in &r.actions {
                names.actions.insert(
                    n.clone(),
                    crate::ir::lua::LuaActionDef {
                        home,
                        kinds: a.kinds.clone(),
                        nargs: a.nargs,
                    },
                );
            }
            for (n, (_, http)) in &r.services {
                names.services.insert(
                    n.clone(),
                    crate::ir::lua::LuaServiceDef { home, http: *http },
                );
            }
        });
    }
    Ok(names)
}

/// Runs `f` without stalling the async scheduler: Lua may run for up to its
/// timeout or sleep.
fn blocking<R>(f: impl FnOnce() -> R) -> R {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}

fn lock(m: &Mutex<State>) -> MutexGuard<'_, State> {
    // A panic inside a call leaves a consistent Lua state (mlua unwinds it).
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

/// Why a call produced nothing: reported like HAProxy's alerts.
fn report(what: &str, name: &str, e: &mlua::Error) {
    let msg = message(e);
    if msg.contains(DONE_MARKER) {
        return;
    }
    eprintln!("[ALERT] Lua {what} '{name}': runtime error: {msg}");
}

fn is_done(e: &mlua::Error) -> bool {
    message(e).contains(DONE_MARKER)
}

impl LuaRuntime {
    /// Builds the states; `None` when no script is loaded.
    pub fn build(config: &LuaConfig, threads: usize) -> Result<Option<LuaRuntime>, LuaError> {
        if config.is_empty() {
            return Ok(None);
        }
        let shared = build_state(config, false, 0)?;
        let has_per_thread = config.steps.iter().any(|s| {
            matches!(
                s,
                LuaStep::Load {
                    per_thread: true,
                    ..
                }
            )
        });
        let mut per_thread = Vec::new();
        if has_per_thread {
            for i in 0..threads.max(1) {
                per_thread.push(Mutex::new(build_state(config, true, i as u32 + 1)?));
            }
        }
        Ok(Some(LuaRuntime {
            shared: Mutex::new(shared),
            per_thread,
            config: config.clone(),
            next: AtomicUsize::new(0),
        }))
    }

    /// How many per-thread states there are.
    pub fn thread_states(&self) -> usize {
        self.per_thread.len()
    }

    /// Runs the `core.register_init` functions (once, when `run` starts).
    pub fn run_inits(&self) {
        let budget = self.config.tune.task_timeout.map(Duration::from_millis);
        let states = std::iter::once(&self.shared).chain(self.per_thread.iter());
        for m in states {
            let st = lock(m);
            let inits = st.registry(|r| r.inits.clone()).unwrap_or_default();
            for f in inits {
                st.begin(CallKind::Action, budget);
                if let Err(e) = f.call::<()>(()) {
                    report("init", "register_init", &e);
                }
                st.end();
            }
        }
    }

    /// The state for a function living in `home`, for this transaction.
    fn state(&self, home: LuaHome, slot: &mut super::TxnSlot) -> (&Mutex<State>, bool) {
        match home {
            LuaHome::PerThread if !self.per_thread.is_empty() => {
                let i = *slot.thread_state.get_or_insert_with(|| {
                    self.next.fetch_add(1, Ordering::Relaxed) % self.per_thread.len()
                });
                (&self.per_thread[i % self.per_thread.len()], false)
            }
            _ => (&self.shared, true),
        }
    }

    fn session_budget(&self) -> Option<Duration> {
        Some(Duration::from_millis(self.config.tune.session_timeout)).filter(|d| !d.is_zero())
    }

    fn service_budget(&self) -> Option<Duration> {
        Some(Duration::from_millis(self.config.tune.service_timeout)).filter(|d| !d.is_zero())
    }

    /// `lua.<name>(args)` as a sample fetch: `None` when the function fails.
    pub fn fetch(&self, name: &str, args: &[String], t: &mut Txn) -> Option<Value> {
        let home = *self.config.names.fetches.get(name)?;
        let (m, shared) = self.state(home, &mut t.vars.lua);
        blocking(|| {
            let st = lock(m);
            let func = st.registry(|r| r.fetches.get(name).cloned()).flatten()?;
            st.begin(CallKind::Sample, self.session_budget());
            let host = RefCell::new(Host::Eval(t));
            let out = st.lua.scope(|scope| {
                let prims = txn_prims(&st.lua, scope, &host, shared)?;
                let txn: LuaValue = st.make_txn.call((prims, false))?;
                let mut argv = vec![txn];
                for a in args {
                    argv.push(a.as_str().into_lua(&st.lua)?);
                }
                let r: LuaValue = func.call(MultiValue::from_iter(argv))?;
                Ok(from_lua(&r))
            });
            st.end();
            out.map_err(|e| report("sample-fetch", name, &e)).ok()
        })
    }

    /// `lua.<name>(args)` as a converter: the input is given as a string.
    pub fn convert(&self, name: &str, args: &[String], input: Value, t: &mut Txn) -> Option<Value> {
        let home = *self.config.names.converters.get(name)?;
        let (m, _) = self.state(home, &mut t.vars.lua);
        blocking(|| {
            let st = lock(m);
            let func = st.registry(|r| r.converters.get(name).cloned()).flatten()?;
            st.begin(CallKind::Sample, self.session_budget());
            let out = (|| {
                let mut argv = vec![to_lua(&st.lua, input)?];
                for a in args {
                    argv.push(a.as_str().into_lua(&st.lua)?);
                }
                let r: LuaValue = func.call(MultiValue::from_iter(argv))?;
                Ok::<_, mlua::Error>(from_lua(&r))
            })();
            st.end();
            out.map_err(|e| report("converter", name, &e)).ok()
        })
    }

    /// `http-request lua.<name>` / `http-response lua.<name>`.
    pub fn action(&self, name: &str, args: &[String], host: HttpHost) -> ActionOutcome {
        let Some(def) = self.config.names.actions.get(name) else {
            return ActionOutcome::Continue;
        };
        let (m, shared) = self.state(def.home, &mut host.vars.lua);
        blocking(|| {
            let st = lock(m);
            let Some(func) = st
                .registry(|r| r.actions.get(name).map(|a| a.func.clone()))
                .flatten()
            else {
                return ActionOutcome::Continue;
            };
            st.begin(CallKind::Action, self.session_budget());
            let host = RefCell::new(Host::Http(host));
            let out = st.lua.scope(|scope| {
                let prims = txn_prims(&st.lua, scope, &host, shared)?;
                let txn: LuaValue = st.make_txn.call((prims, true))?;
                let mut argv = vec![txn];
                for a in args {
                    argv.push(a.as_str().into_lua(&st.lua)?);
                }
                func.call::<LuaValue>(MultiValue::from_iter(argv))
            });
            st.end();
            match out {
                Ok(LuaValue::Integer(1)) => ActionOutcome::Stop,
                Ok(LuaValue::Integer(5)) => ActionOutcome::Deny,
                Ok(LuaValue::Nil | LuaValue::Integer(0)) => ActionOutcome::Continue,
                Ok(other) => {
                    eprintln!(
                        "[ALERT] Lua action '{name}': return value {other:?} is not supported by portcullis (use act.CONTINUE, act.STOP or act.DENY)"
                    );
                    ActionOutcome::Continue
                }
                Err(e) => {
                    report("action", name, &e);
                    ActionOutcome::Continue
                }
            }
        })
    }

    /// `http-request use-service lua.<name>`: the applet's response. A Lua
    /// error, a timeout, or returning without `start_response` answers 500
    /// (HAProxy does the same).
    pub fn service(&self, name: &str, host: HttpHost, body: Bytes) -> Response<Bytes> {
        let Some(def) = self.config.names.services.get(name) else {
            return crate::runtime::errors::default_response(500);
        };
        let (m, shared) = self.state(def.home, &mut host.vars.lua);
        blocking(|| {
            let st = lock(m);
            let Some(func) = st
                .registry(|r| r.services.get(name).map(|s| s.0.clone()))
                .flatten()
            else {
                return crate::runtime::errors::default_response(500);
            };
            let info = applet_info(&host);
            st.begin(CallKind::Action, self.service_budget());
            let io = RefCell::new(AppletIo::new(body));
            let host = RefCell::new(Host::Http(host));
            let out = st.lua.scope(|scope| {
                let prims = txn_prims(&st.lua, scope, &host, shared)?;
                super::host::applet_prims(scope, &prims, &io)?;
                let info = info.into_table(&st.lua)?;
                let applet: LuaValue = st.make_applet.call((prims, info))?;
                func.call::<()>(applet)
            });
            st.end();
            if let Err(e) = &out
                && !is_done(e)
            {
                report("applet http", name, e);
                return crate::runtime::errors::default_response(500);
            }
            applet_response(io.into_inner())
        })
    }
}

/// The request as an applet sees it (`applet.method`, `.path`, …).
struct AppletInfo {
    method: String,
    path: String,
    qs: String,
    version: String,
    headers: Vec<(String, Vec<Vec<u8>>)>,
}

impl AppletInfo {
    fn into_table(self, lua: &mlua::Lua) -> mlua::Result<mlua::Table> {
        let t = lua.create_table()?;
        t.set("method", self.method)?;
        t.set("path", self.path)?;
        t.set("qs", self.qs)?;
        t.set("version", self.version)?;
        let h = lua.create_table()?;
        for (name, vals) in self.headers {
            let v = lua.create_table()?;
            for (i, x) in vals.iter().enumerate() {
                v.set(i, lua.create_string(x)?)?;
            }
            h.set(name, v)?;
        }
        t.set("headers", h)?;
        Ok(t)
    }
}

fn applet_info(host: &HttpHost) -> AppletInfo {
    let req = &*host.req;
    let version = match req.version {
        http::Version::HTTP_10 => "1.0",
        http::Version::HTTP_2 => "2.0",
        _ => "1.1",
    };
    AppletInfo {
        method: req.method.to_string(),
        path: req.uri.path().to_string(),
        qs: req.uri.query().unwrap_or("").to_string(),
        version: version.to_string(),
        headers: req
            .headers
            .keys()
            .map(|k| {
                (
                    k.as_str().to_string(),
                    req.headers
                        .get_all(k)
                        .iter()
                        .map(|v| v.as_bytes().to_vec())
                        .collect(),
                )
            })
            .collect(),
    }
}

fn applet_response(io: AppletIo) -> Response<Bytes> {
    if !io.started {
        // HAProxy 2.6: an HTTP applet that returns without starting its
        // response is an internal error.
        return crate::runtime::errors::default_response(500);
    }
    let mut res = Response::new(Bytes::from(io.out));
    *res.status_mut() = StatusCode::from_u16(io.status).unwrap_or(StatusCode::OK);
    if let Some(r) = io.reason
        && let Ok(p) = hyper::ext::ReasonPhrase::try_from(r.into_bytes())
    {
        res.extensions_mut().insert(p);
    }
    for (n, v) in io.headers {
        // The body is sent whole: hyper writes its own content-length.
        if n.eq_ignore_ascii_case("content-length") || n.eq_ignore_ascii_case("transfer-encoding") {
            continue;
        }
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(n.as_bytes()),
            HeaderValue::from_bytes(&v),
        ) {
            res.headers_mut().append(n, v);
        }
    }
    res
}
