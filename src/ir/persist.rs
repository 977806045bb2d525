//! IR of server persistence in a backend: `cookie` (with the servers'
//! `cookie` values and `dynamic-cookie-key`), `option persist`, and the
//! `stick` rules that pin a client to a server through a stick table.
//! Produced by `config::lower`; applied by `runtime::persist`.

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

/// Persistence settings of a backend.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Persistence {
    pub cookie: Option<CookiePersist>,
    /// `dynamic-cookie-key`.
    pub dynamic_cookie_key: Option<String>,
    /// `option persist`: a cookie naming a DOWN server still goes to it.
    pub force_down: bool,
}
