//! `http-after-response` rules: the last step of the HTTP pipeline, run on
//! every response the client gets — the server's, and the proxy's own ones
//! (`return`, `deny`, redirects, error pages, the 503 when no backend or
//! server is left) — after the `http-response` rules, as HAProxy 2.6 does.
//!
//! The backend's rules run first, then the frontend's; `allow` stops the
//! rules of the current proxy only.

use super::eval::{Captures, Txn, UserAuth, Vars};
use super::facts::ConnFacts;
use super::http::{ConnCtx, Step, cond_holds, plan, set_status};
use crate::ir::ProxyCommon;

/// Runs the after-response rules of the backend that handled the request
/// (`chosen`, when one was selected) and of the frontend on `res`.
pub(super) fn run(
    ctx: &ConnCtx,
    facts: &ConnFacts,
    chosen: Option<usize>,
    req: &http::request::Parts,
    res: &mut http::response::Parts,
    vars: &mut Vars,
    caps: Captures,
) {
    let config = &ctx.generation.config;
    let fe = &config.frontends[ctx.frontend].common;
    let mut proxies: Vec<&ProxyCommon> = Vec::with_capacity(2);
    if let Some(be) = chosen.map(|i| &config.backends[i].common)
        // A listen's backend half is the same proxy: its rules run once.
        && !(be.name == fe.name && be.origin == fe.origin)
    {
        proxies.push(be);
    }
    proxies.push(fe);
    if proxies.iter().all(|p| p.http_after_response.is_empty()) {
        return;
    }
    vars.start_response();
    let auth: &(dyn UserAuth + Sync) = &*ctx.generation;
    for common in proxies {
        proxy_rules(facts, common, auth, req, res, vars, caps);
    }
}

fn proxy_rules(
    facts: &ConnFacts,
    common: &ProxyCommon,
    auth: &(dyn UserAuth + Sync),
    req: &http::request::Parts,
    res: &mut http::response::Parts,
    vars: &mut Vars,
    caps: Captures,
) {
    for rule in &common.http_after_response {
        let step = {
            let mut t = Txn::new(facts, vars);
            t.auth = auth;
            t.captures = caps;
            t.req = Some(req);
            t.res = Some(res);
            if !cond_holds(&rule.cond, &common.acls, &mut t) {
                continue;
            }
            plan(rule, common, &mut t, req)
        };
        match step {
            Step::Stop => return,
            Step::Headers(edit) => edit.apply(&mut res.headers),
            Step::Status(code, reason) => set_status(res, code, reason),
            Step::SetVar(var, value) => {
                if let Some(v) = value {
                    vars.set(&var, v);
                }
            }
            Step::UnsetVar(var) => {
                vars.unset(&var);
            }
            // Lowering admits no other action here.
            // Request-only steps: check refuses them in after-response rules.
            Step::Reply(_)
            | Step::Uri(_)
            | Step::SetAddr(..)
            | Step::Reject
            | Step::Lua(..)
            | Step::Service(_)
            | Step::Nothing => {}
        }
    }
}
