//! `peers` sections: the processes that keep stick tables in sync with
//! HAProxy's peers protocol (2.1), over TCP or TLS.

use super::{Bind, Server};
use serde::Serialize;

/// One enabled `peers` section in which the local peer is named.
#[derive(Clone, Debug, Serialize)]
pub struct Peers {
    pub name: String,
    /// `file:line` of the section header.
    pub origin: String,
    /// The local peer's name (`-L`, `localpeer`, else the host name).
    pub local: String,
    /// Where the local peer listens: its `bind` line, or the address of its
    /// `peer` line. `None` when the local peer has no address (`server
    /// <local>` without a `bind`): it only connects out.
    pub bind: Option<Bind>,
    /// The other peers, each with the address (and TLS) to connect to.
    pub remotes: Vec<Server>,
    /// The stick tables synchronised through this section, by name.
    pub tables: Vec<String>,
}
