//! `tcp-request connection` rules, and the `tcp-request content` rules of
//! HTTP frontends (`mode tcp` content inspection lives in [`super::tcp`]).
//!
//! Connection rules run as soon as a connection is accepted (layer 4 facts
//! only, before any PROXY header); content rules of HTTP frontends run once
//! the TLS handshake is done, before the first request is read. `accept`
//! ends a rule set, `reject` closes the connection, `expect-proxy layer4`
//! asks for a PROXY header and goes on.

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
    connection(rules, acls, facts, auth, vars).is_some()
}

/// Runs the `tcp-request connection` rules: `None` when the connection must
/// be closed, otherwise whether an `expect-proxy layer4` rule matched (a
/// PROXY header must then be read before anything else).
pub fn connection(
    rules: &[TcpRule],
    acls: &[NamedAcl],
    facts: &ConnFacts,
    auth: &(dyn UserAuth + Sync),
    vars: &mut Vars,
) -> Option<bool> {
    let mut expect_proxy = false;
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
            TcpAction::Accept => return Some(expect_proxy),
            TcpAction::Reject => return None,
            TcpAction::SetVar { var, value } => {
                if let Some(v) = eval::eval_sample(value, &mut t) {
                    vars.set(var, v);
                }
            }
            TcpAction::UnsetVar(var) => {
                vars.unset(var);
            }
            TcpAction::Stick(action) => super::stickrules::apply(action, &mut t, false),
            // Not final: the rules go on (HAProxy's `tcp_exec_l4_rules`).
            TcpAction::ExpectProxy => expect_proxy = true,
            TcpAction::InspectDelay(_) => {}
        }
    }
    Some(expect_proxy)
}
