//! Evaluation of the IR's sample expressions, ACLs, conditions and
//! log-format strings against a client's facts, with HAProxy 2.6's exact
//! semantics: the same fetch failures, casts, converter and matcher
//! behaviour (quirks included) and the same text in logs and headers.
//!
//! The rule engine builds a [`Txn`] per evaluation point (connection facts,
//! the request and response heads when there are some, the variables) and
//! calls [`eval_sample`], [`eval_acl_term`], [`eval_condition`] or
//! [`render_log_format`]. Nothing here performs I/O.
//!
//! Layout: `value` (sample types and casts), `text` (C-compatible parsing
//! and printing), `headers` (header value splitting), `fetch`, `convert`
//! (with `strftime` and `regexes`), `matcher`, `cond`, `vars`, `logformat`
//! (with `logalias` and `logdefaults`).

mod cond;
mod convert;
mod fetch;
mod headers;
mod logalias;
mod logdefaults;
mod logformat;
mod maps;
mod matcher;
mod regexes;
mod strftime;
mod text;
mod value;
mod vars;

use crate::ir::expr::{AclTerm, Condition, Sample};
use crate::runtime::facts::{BackendTlsFacts, ConnFacts, ContentFacts, LogFacts};

pub use fetch::basic_auth;
pub use logdefaults::{
    conn_error_line, httplog_clf_format, httplog_format, httplog_line, request_line, tcplog_format,
    tcplog_line,
};
pub use logformat::{LfTarget, render_log_format};
pub use value::Value;
pub use vars::{ProcVars, SessVars, SharedVars, VarMap, Vars};

/// Credentials checks against the configuration's userlists, provided by the
/// layer that owns them (HAProxy's `check_user` and group membership).
pub trait UserAuth {
    /// `user` exists in `userlist` and `pass` is its password (clear or
    /// crypt(3) hash, as the userlist declares it).
    fn check_user(&self, userlist: &str, user: &[u8], pass: &[u8]) -> bool;
    /// `user` exists in `userlist` and belongs to `group`.
    fn user_in_group(&self, userlist: &str, user: &[u8], group: &str) -> bool;
    /// `nbsrv`: the usable servers of proxy `name` now (0 for a proxy
    /// without servers). The running generation knows; others say 0.
    fn usable_servers(&self, _proxy: &str) -> i64 {
        0
    }
}

/// A [`UserAuth`] for proxies without userlists: nobody authenticates.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoUserlists;

impl UserAuth for NoUserlists {
    fn check_user(&self, _: &str, _: &[u8], _: &[u8]) -> bool {
        false
    }

    fn user_in_group(&self, _: &str, _: &[u8], _: &str) -> bool {
        false
    }
}

/// Everything an evaluation can read, and the variables it can change.
pub struct Txn<'a> {
    /// The client connection (addresses, TLS, client certificate).
    pub conn: &'a ConnFacts,
    /// The request head, in HTTP proxies once it has been received.
    pub req: Option<&'a http::request::Parts>,
    /// The response head, while the response is processed and in logs.
    pub res: Option<&'a http::response::Parts>,
    /// Variables of the connection and transaction.
    pub vars: &'a mut Vars,
    /// Userlists for `http_auth` / `http_auth_group`.
    pub auth: &'a dyn UserAuth,
    /// Raw request buffer facts (`tcp-request content` rules).
    pub content: Option<&'a ContentFacts>,
    /// Stream facts for log-format aliases (`%b`, `%ST`, `%Tt`…).
    pub log: Option<&'a LogFacts>,
    /// TLS of the connection to the server that carried the response
    /// (`ssl_bc*`, `ssl_s_*`); `None` before a server answered or when
    /// that connection is clear text.
    pub backend_tls: Option<&'a BackendTlsFacts>,
    /// `capture request|response header` slots, for `capture.req.hdr(N)`
    /// and `capture.res.hdr(N)` in rules (logs read them from `log`).
    pub captures: Captures<'a>,
}

/// The captured header values of the frontend, by slot.
#[derive(Clone, Copy, Debug, Default)]
pub struct Captures<'a> {
    pub req: &'a [Option<Vec<u8>>],
    pub res: &'a [Option<Vec<u8>>],
}

impl<'a> Txn<'a> {
    /// An evaluation context with only connection facts; set the other
    /// fields as the stream progresses.
    pub fn new(conn: &'a ConnFacts, vars: &'a mut Vars) -> Txn<'a> {
        Txn {
            conn,
            req: None,
            res: None,
            vars,
            auth: &NoUserlists,
            content: None,
            log: None,
            backend_tls: None,
            captures: Captures::default(),
        }
    }
}

/// Evaluates a sample expression: the fetch, then each converter. `None`
/// when the fetch or a converter fails (HAProxy: no sample), which a
/// log-format prints as empty and an action treats as "not found".
pub fn eval_sample(s: &Sample, t: &mut Txn) -> Option<Value> {
    let v = fetch::fetch(&s.fetch, t, false).next()?;
    convert::apply_all(&s.converters, v, t)
}

/// Applies a converter chain to a value (Lua's `txn.c`).
pub fn apply_converters(
    convs: &[crate::ir::expr::Converter],
    v: Value,
    t: &mut Txn,
) -> Option<Value> {
    convert::apply_all(convs, v, t)
}

/// Whether more request data could change what the sample's fetch gives
/// (HAProxy's `SMP_F_MAY_CHANGE`) while content inspection still waits.
pub fn sample_may_change(s: &Sample, t: &Txn) -> bool {
    fetch::may_change(&s.fetch, t)
}

/// Whether an ACL criterion matches: every value of a multi-valued fetch
/// (each header occurrence) is tried until one matches.
pub fn eval_acl_term(term: &AclTerm, t: &mut Txn) -> bool {
    cond::eval_term(term, t)
}

/// Evaluates an `if`/`unless` condition: an OR of ANDs of (possibly
/// negated) named, predefined or anonymous ACLs, short-circuited left to
/// right. `acls` returns the criteria of a named ACL (several `acl` lines
/// with one name are ORed).
pub fn eval_condition<'c>(
    c: &Condition,
    acls: &dyn Fn(&str) -> &'c [AclTerm],
    t: &mut Txn,
) -> bool {
    cond::eval_cond(c, acls, t)
}

/// Evaluates a condition of a `tcp-request content` rule while the request
/// buffer may still grow (`tcp-request inspect-delay`): `None` when more
/// data could change the verdict, so the rule must wait (HAProxy's
/// `ACL_TEST_MISS`). Once `t.content` says inspection is over this is
/// [`eval_condition`].
pub fn eval_condition_partial<'c>(
    c: &Condition,
    acls: &dyn Fn(&str) -> &'c [AclTerm],
    t: &mut Txn,
) -> Option<bool> {
    cond::eval_cond_partial(c, acls, t)
}

#[cfg(test)]
mod tests;
