//! IR of server persistence in a backend: `cookie` (with the servers'
//! `cookie` values and `dynamic-cookie-key`), `option persist`, and the
//! `stick` rules that pin a client to a server through a stick table.
//! Produced by `config::lower`; applied by `runtime::persist`.

use super::expr::{Condition, Sample};
use serde::Serialize;

/// How the persistence cookie is handled (`cookie <name> <mode>`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub enum CookieMode {
    /// No mode word: the cookie is only read (the server sets it).
    #[default]
    Passive,
    /// `rewrite`: the server's Set-Cookie value becomes the server's id.
    Rewrite,
    /// `insert`: the proxy sets the cookie in responses.
    Insert,
    /// `prefix`: the server id is prefixed to the server's own cookie.
    Prefix,
}

/// `cookie <name> …` of a backend (HAProxy 2.6's `ck_opts` and friends).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CookiePersist {
    pub name: String,
    pub mode: CookieMode,
    pub indirect: bool,
    pub nocache: bool,
    pub postonly: bool,
    pub preserve: bool,
    pub httponly: bool,
    pub secure: bool,
    /// `domain` values in order (each becomes a `; domain=` attribute).
    pub domains: Vec<String>,
    /// `maxidle` / `maxlife` in seconds (0: not set).
    pub maxidle: u32,
    pub maxlife: u32,
    /// `dynamic`: servers without a `cookie` get one derived from
    /// `dynamic-cookie-key`, their address and port.
    pub dynamic: bool,
    /// `attr` values, appended in order.
    pub attrs: Vec<String>,
}

/// What a `stick` rule does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum StickRuleKind {
    /// `stick match`: a table entry for the key sends the request to its server.
    Match,
    /// `stick on`: match, then store the server that answered.
    On,
    /// `stick store-request`: store the server under a request key.
    StoreRequest,
    /// `stick store-response`: store the server under a response key.
    StoreResponse,
}

impl StickRuleKind {
    pub fn matches(self) -> bool {
        matches!(self, StickRuleKind::Match | StickRuleKind::On)
    }

    /// Stores at request time (the key is read from the request).
    pub fn stores_request(self) -> bool {
        matches!(self, StickRuleKind::On | StickRuleKind::StoreRequest)
    }
}

/// `stick match|on|store-request|store-response <key> [table <t>] [cond]`.
#[derive(Clone, Debug, Serialize)]
pub struct StickRule {
    pub kind: StickRuleKind,
    pub key: Sample,
    /// The table's proxy (this backend's own when no `table` is given).
    pub table: String,
    pub cond: Option<Condition>,
}

/// Persistence settings of a backend.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Persistence {
    pub cookie: Option<CookiePersist>,
    /// `dynamic-cookie-key`.
    pub dynamic_cookie_key: Option<String>,
    /// `option persist`: a cookie or table entry naming a DOWN server still
    /// sends the request to it.
    pub force_down: bool,
    /// `stick` rules in order.
    pub stick: Vec<StickRule>,
}
