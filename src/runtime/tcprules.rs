//! `tcp-request connection` and `tcp-request content` rules of HTTP frontends.
//!
//! Connection rules run as soon as a connection is accepted (layer 4 facts
//! only); content rules run once the TLS handshake is done, before the first
//! request is read. `accept` ends a rule set, `reject` closes the connection.

use super::eval::{self, Txn, UserAuth, Vars};
use super::facts::ConnFacts;
use super::http::cond_holds;
use crate::ir::{NamedAcl, TcpAction, TcpRule};

/// Runs a rule set; `false` means the connection must be closed.
pub fn allows(
    rules: &[TcpRule],
    acls: &[NamedAcl],
    facts: &ConnFacts,
    auth: &(dyn UserAuth + Sync),
    vars: &mut Vars,
) -> bool {
    for rule in rules {
        if matches!(rule.action, TcpAction::InspectDelay(_)) {
            continue;
        }
        let mut t = Txn::new(facts, vars);
        t.auth = auth;
        if !cond_holds(&rule.cond, acls, &mut t) {
            continue;
        }
        match &rule.action {
            TcpAction::Accept => return true,
            TcpAction::Reject => return false,
            TcpAction::SetVar { var, value } => {
                if let Some(v) = eval::eval_sample(value, &mut t) {
                    vars.set(var, v);
                }
            }
            TcpAction::UnsetVar(var) => {
                vars.unset(var);
            }
            // Refused when the Generation is built (needs accept-proxy support).
            TcpAction::ExpectProxy | TcpAction::InspectDelay(_) => {}
        }
    }
    true
}
