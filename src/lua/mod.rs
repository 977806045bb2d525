//! Lua: HAProxy 2.6's `lua-load` / `lua-load-per-thread` scripts and the
//! part of its Lua API portcullis implements (see `man portcullis.cfg`,
//! section LUA).
//!
//! Check time: lowering reads the scripts and [`probe`] runs them to learn
//! what they register, so `lua.<name>` fetches, converters, actions and
//! services resolve like any other keyword. Run time: the Generation builds
//! its own states ([`LuaRuntime`]) from the same IR; nothing is global.
//!
//! Layout: `state` (one state: libraries, limits, hook, scripts,
//! registry), `core_api` (the `core` table), `prelude.lua` (the `txn`,
//! `applet` and `act` objects, in Lua), `host` (the primitives those objects
//! call, over one transaction), `convert` (samples ↔ Lua values), `runtime`
//! (the states of a Generation and the calls into them), `error`.

mod convert;
mod core_api;
mod error;
mod host;
mod runtime;
mod state;

pub use error::LuaError;
pub use host::{HttpHost, TxnSlot};
pub use runtime::{ActionOutcome, LuaRuntime, probe};
