//! Variables (`var()`, `set-var()`, `unset-var`), scoped as in HAProxy 2.6's
//! `vars.c`: `proc` is shared by the whole process, `sess` lives as long as
//! the client connection, `txn` as long as one transaction, and `req`/`res`
//! only while the request, respectively the response, is processed.

use super::value::Value;
use crate::ir::expr::{VarCondition, VarName, VarScope};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// One scope's variables. `None` is a variable that exists but holds no
/// value (HAProxy's `SMP_T_ANY`: created by a failed conditional set).
pub type VarMap = HashMap<String, Option<Value>>;

/// A scope of variables shared by several holders: the process (`proc.*`,
/// shared by every connection of every generation that gets the handle) or a
/// client connection (`sess.*`, shared by its requests, concurrent h2
/// streams included).
#[derive(Clone, Debug, Default)]
pub struct SharedVars(Arc<Mutex<VarMap>>);

/// The process-wide `proc.*` variables.
pub type ProcVars = SharedVars;

/// One client connection's `sess.*` variables.
pub type SessVars = SharedVars;

impl SharedVars {
    /// An empty set of variables.
    pub fn new() -> SharedVars {
        SharedVars::default()
    }

    fn with<T>(&self, f: impl FnOnce(&mut VarMap) -> T) -> T {
        // A poisoned lock only means another thread panicked mid-update of a
        // map of plain values: the map itself is still consistent.
        let mut guard = match self.0.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        f(&mut guard)
    }
}

/// Which half of the transaction `req.*`/`res.*` variables belong to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ReqRes {
    Request,
    Response,
}

/// All variables visible to one client connection. Create one per
/// connection, call [`Vars::new_transaction`] when a request starts and
/// [`Vars::start_response`] when its response starts.
#[derive(Debug)]
pub struct Vars {
    proc_vars: ProcVars,
    sess: SessVars,
    txn: VarMap,
    reqres: VarMap,
    phase: ReqRes,
    /// The stream's stick counters: they live exactly as long as the
    /// transaction's variables, so they travel with them.
    pub stick: Option<std::sync::Arc<crate::runtime::stick::StickCtx>>,
    /// The request's unique ID (`unique-id-format`), also per transaction.
    pub unique_id: Option<bytes::Bytes>,
    /// The transaction's number in the generation (`%rt`).
    pub request_id: u64,
    /// The transaction is the first of its connection (`http_first_req`).
    pub first_request: bool,
    /// The transaction's Lua state and private values (`txn:set_priv`).
    pub lua: crate::lua::TxnSlot,
}

impl Vars {
    /// Variables of a new connection, sharing `proc_vars` with the process.
    pub fn new(proc_vars: ProcVars) -> Vars {
        Vars::in_session(proc_vars, SessVars::new())
    }

    /// Variables of a transaction on a connection whose `sess.*` variables
    /// already exist (the connection's earlier requests and tcp rules).
    pub fn in_session(proc_vars: ProcVars, sess: SessVars) -> Vars {
        Vars {
            proc_vars,
            sess,
            txn: VarMap::new(),
            reqres: VarMap::new(),
            phase: ReqRes::Request,
            stick: None,
            unique_id: None,
            request_id: 0,
            first_request: true,
            lua: crate::lua::TxnSlot::default(),
        }
    }

    /// A new transaction on the connection: `txn`, `req` and `res` variables
    /// are dropped, `sess` and `proc` ones are kept.
    pub fn new_transaction(&mut self) {
        self.unique_id = None;
        self.lua = crate::lua::TxnSlot::default();
        self.txn.clear();
        self.reqres.clear();
        self.phase = ReqRes::Request;
    }

    /// The response starts: `req.*` variables disappear and `res.*` ones
    /// become usable. Idempotent: the after-response rules call it again
    /// and must not lose the `res.*` variables of the http-response rules.
    pub fn start_response(&mut self) {
        if self.phase != ReqRes::Response {
            self.reqres.clear();
            self.phase = ReqRes::Response;
        }
    }

    /// The connection's `sess.*` variables, to hand to its next transaction.
    pub fn session(&self) -> SessVars {
        self.sess.clone()
    }

    /// Runs `f` on the map of `scope`, when that scope is usable now.
    fn with_scope<T>(&mut self, scope: VarScope, f: impl FnOnce(&mut VarMap) -> T) -> Option<T> {
        match scope {
            VarScope::Proc => Some(self.proc_vars.with(f)),
            VarScope::Sess => Some(self.sess.with(f)),
            VarScope::Txn => Some(f(&mut self.txn)),
            VarScope::Req if self.phase == ReqRes::Request => Some(f(&mut self.reqres)),
            VarScope::Res if self.phase == ReqRes::Response => Some(f(&mut self.reqres)),
            // `check.*` only exists inside health checks.
            VarScope::Req | VarScope::Res | VarScope::Check => None,
        }
    }

    /// The value of a variable; `None` when it is unset or its scope is not
    /// usable here.
    pub fn get(&mut self, var: &VarName) -> Option<Value> {
        self.lookup(var).flatten()
    }

    /// `None` when the variable's scope is not usable here (HAProxy then
    /// fails even `var()` with a default), `Some(None)` when it is unset.
    pub fn lookup(&mut self, var: &VarName) -> Option<Option<Value>> {
        self.with_scope(var.scope, |m| m.get(&var.name).cloned().flatten())
    }

    /// Sets a variable unconditionally (the `set-var` action); false when
    /// the scope is not usable here.
    pub fn set(&mut self, var: &VarName, value: Value) -> bool {
        self.set_if(var, value, &[])
    }

    /// HAProxy's `var_set` with the `set-var()` conditions: returns whether
    /// the variable was set (the converter fails otherwise).
    pub fn set_if(&mut self, var: &VarName, value: Value, conditions: &[VarCondition]) -> bool {
        let has = |c| conditions.contains(&c);
        self.with_scope(var.scope, |m| {
            let exists = m.contains_key(&var.name);
            if (exists && has(VarCondition::IfNotExists))
                || (!exists && has(VarCondition::IfExists))
            {
                return false;
            }
            let slot = m.entry(var.name.clone()).or_insert(None);
            if (has(VarCondition::IfSet) && slot.is_none())
                || (has(VarCondition::IfNotSet) && slot.is_some())
            {
                return false;
            }
            match &value {
                Value::Str(b) | Value::Bin(b)
                    if (has(VarCondition::IfNotEmpty) && b.is_empty())
                        || (has(VarCondition::IfEmpty) && !b.is_empty()) =>
                {
                    return false;
                }
                Value::Str(_) | Value::Bin(_) => {}
                // A scalar is never empty.
                _ if has(VarCondition::IfEmpty) => return false,
                Value::Int(new) => {
                    if let Some(Value::Int(old)) = slot
                        && ((has(VarCondition::IfGt) && *old <= *new)
                            || (has(VarCondition::IfLt) && *old >= *new))
                    {
                        return false;
                    }
                }
                _ => {}
            }
            *slot = Some(value);
            true
        })
        .unwrap_or(false)
    }

    /// Removes a variable (`unset-var`); false when the scope is not usable.
    pub fn unset(&mut self, var: &VarName) -> bool {
        self.with_scope(var.scope, |m| {
            m.remove(&var.name);
        })
        .is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(scope: VarScope, n: &str) -> VarName {
        VarName {
            scope,
            name: n.to_string(),
        }
    }

    #[test]
    fn scopes_live_as_long_as_haproxy_says() {
        let procs = ProcVars::new();
        let mut a = Vars::new(procs.clone());
        let mut b = Vars::new(procs);
        assert!(a.set(&name(VarScope::Proc, "p"), Value::Int(1)));
        assert_eq!(b.get(&name(VarScope::Proc, "p")), Some(Value::Int(1)));
        assert!(a.set(&name(VarScope::Sess, "s"), Value::Int(2)));
        assert!(a.set(&name(VarScope::Txn, "t"), Value::Int(3)));
        assert!(a.set(&name(VarScope::Req, "q"), Value::Int(4)));
        assert!(!a.set(&name(VarScope::Res, "r"), Value::Int(5)));
        assert!(!a.set(&name(VarScope::Check, "c"), Value::Int(5)));
        a.start_response();
        assert_eq!(a.get(&name(VarScope::Req, "q")), None);
        assert!(a.set(&name(VarScope::Res, "r"), Value::Int(5)));
        assert_eq!(a.get(&name(VarScope::Txn, "t")), Some(Value::Int(3)));
        a.new_transaction();
        assert_eq!(a.get(&name(VarScope::Txn, "t")), None);
        assert_eq!(a.get(&name(VarScope::Res, "r")), None);
        assert_eq!(a.get(&name(VarScope::Sess, "s")), Some(Value::Int(2)));
        assert!(a.unset(&name(VarScope::Sess, "s")));
        assert_eq!(a.get(&name(VarScope::Sess, "s")), None);
    }

    #[test]
    fn conditions_match_var_set() {
        use VarCondition::*;
        let mut v = Vars::new(ProcVars::new());
        let x = name(VarScope::Txn, "x");
        assert!(!v.set_if(&x, Value::Int(1), &[IfExists]));
        assert!(v.set_if(&x, Value::Int(5), &[IfNotExists]));
        assert!(!v.set_if(&x, Value::Int(6), &[IfNotExists]));
        assert!(!v.set_if(&x, Value::Int(6), &[IfGt]));
        assert!(v.set_if(&x, Value::Int(4), &[IfGt]));
        assert!(!v.set_if(&x, Value::Int(3), &[IfLt]));
        assert!(v.set_if(&x, Value::Int(9), &[IfLt]));
        assert!(!v.set_if(&x, Value::str(""), &[IfNotEmpty]));
        assert!(v.set_if(&x, Value::str(""), &[IfEmpty]));
        assert!(!v.set_if(&x, Value::Int(1), &[IfEmpty]));
        // A failed conditional set on a new variable leaves it existing but unset.
        let y = name(VarScope::Txn, "y");
        assert!(!v.set_if(&y, Value::Int(1), &[IfEmpty]));
        assert_eq!(v.get(&y), None);
        assert!(!v.set_if(&y, Value::Int(1), &[IfNotExists]));
        assert!(!v.set_if(&y, Value::Int(1), &[IfSet]));
        assert!(v.set_if(&y, Value::Int(1), &[IfNotSet]));
        assert!(!v.set_if(&y, Value::Int(2), &[IfNotSet]));
        assert!(v.set_if(&y, Value::Int(2), &[IfSet]));
        assert_eq!(v.get(&y), Some(Value::Int(2)));
    }
}
