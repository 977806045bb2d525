//! The HTTP request pipeline of a frontend: `monitor-uri`, `http-request`
//! rules, backend selection, forwarding, `http-response` rules, access log.
//!
//! Rules are evaluated with the IR compiled at check time; nothing here parses
//! configuration text. Rule semantics follow HAProxy 2.6: rules run in order,
//! `allow` ends the rule set, `deny`/`return`/`redirect`/`auth` answer at once,
//! header rewrites apply immediately so later rules see them.

use super::after;
use super::compress;
use super::errors::{default_response, parse_raw_response};
use super::eval::{self, Captures, LfTarget, SessVars, Txn, UserAuth, Vars};
use super::facts::{
    BackendTlsFacts, ConnFacts, CookieState, FinState, LogFacts, SetCookieState, TermCause,
};
use super::generation::{ConnTls, Generation};
use super::h1guard::{Phase, PhaseBody};
use super::logbody::{LoggedBody, PendingLog};
use super::persist;
use super::stats_page;
use super::stick::{Event as StickEvent, Slots, StickCtx};
use super::upstream::Forwarded;
use crate::ir::expr::{AclTerm, Condition, LogFormat};
use crate::ir::{
    self, BackendTarget, HeaderMatch, HttpAction, HttpRule, NamedAcl, ProxyCommon, RedirectKind,
    Reply, ReplyBody,
};
use crate::lua::ActionOutcome;
use bytes::Bytes;
use http::header::{HeaderName, HeaderValue};
use http::{HeaderMap, Request, Response, StatusCode, Uri};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use std::sync::Arc;
use std::time::Instant;

/// Body of every response sent to clients.
pub type ResBody = BoxBody<Bytes, hyper::Error>;

/// What a connection's requests share: the generation they run under, the
/// frontend, and the connection's facts (addresses, TLS, client cert).
pub struct ConnCtx {
    pub generation: Arc<Generation>,
    pub frontend: usize,
    pub facts: Arc<ConnFacts>,
    /// Set on TLS connections: the bind and the negotiated policy.
    pub tls: Option<ConnTls>,
    /// Where the HTTP/1 connection is, for its guard's timeouts.
    pub phase: Arc<Phase>,
    /// The connection's `sess.*` variables, shared by its requests.
    pub sess: SessVars,
    /// Stick counters tracked by `tcp-request` rules for the whole session.
    pub stick_session: Arc<std::sync::Mutex<Slots>>,
    /// The connection's facts as `set-src`/`set-dst` rules left them:
    /// HAProxy rewrites the connection, so its later requests see them too.
    pub moved: std::sync::Mutex<Option<Arc<ConnFacts>>>,
    /// HTTP/1 requests started on the connection (`http_first_req`).
    pub requests: std::sync::atomic::AtomicU64,
}

impl ConnCtx {
    /// A connection's context before any request.
    pub fn new(
        generation: Arc<Generation>,
        frontend: usize,
        facts: ConnFacts,
        tls: Option<ConnTls>,
        sess: SessVars,
        stick_session: Arc<std::sync::Mutex<Slots>>,
    ) -> ConnCtx {
        ConnCtx {
            generation,
            frontend,
            facts: Arc::new(facts),
            tls,
            phase: Phase::new(),
            sess,
            stick_session,
            moved: std::sync::Mutex::new(None),
            requests: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// The facts the next request starts from.
    pub fn current_facts(&self) -> Arc<ConnFacts> {
        let moved = self.moved.lock().unwrap_or_else(|p| p.into_inner());
        moved.clone().unwrap_or_else(|| self.facts.clone())
    }

    /// Keeps what rules changed in the connection's facts for its next requests.
    fn remember(&self, facts: &Arc<ConnFacts>) {
        if !Arc::ptr_eq(facts, &self.facts) {
            let mut moved = self.moved.lock().unwrap_or_else(|p| p.into_inner());
            if !moved.as_ref().is_some_and(|m| Arc::ptr_eq(m, facts)) {
                *moved = Some(facts.clone());
            }
        }
    }
}

/// Outcome of a rule set.
enum Verdict {
    /// Go on with the next step.
    Continue,
    /// Answer now with this response.
    Reply(Response<Bytes>),
    /// `http-request reject`: no answer at all.
    Reject,
    /// Answer with this Lua service (`use-service lua.<name>`).
    Service(String),
}

/// `filter trace`: the steps of a stream up to its response head (its end
/// is traced with its log line).
fn trace_stream(
    generation: &Generation,
    frontend: usize,
    chosen: Option<usize>,
    stream: u64,
    req: &http::request::Parts,
    res: &http::response::Parts,
) {
    use super::tracefilter::{active, event, head_lines};
    let filters = active(&generation.config, frontend, chosen);
    if filters.is_empty() {
        return;
    }
    let fe = &generation.config.frontends[frontend].common.name;
    event(
        &filters,
        stream,
        "trace_attach",
        &[format!("filter-type=frontend ({fe})")],
    );
    event(&filters, stream, "trace_stream_start", &[]);
    if let Some(be) = chosen.and_then(|b| generation.config.backends.get(b)) {
        event(
            &filters,
            stream,
            "trace_stream_set_backend",
            &[format!("backend={}", be.common.name)],
        );
    }
    let request_line = format!(
        "channel=REQUEST    - mode=HTTP\t{} {} {:?}",
        req.method,
        req.uri.path_and_query().map_or("/", |p| p.as_str()),
        req.version
    );
    event(
        &filters,
        stream,
        "trace_http_headers",
        &head_lines(request_line, &req.headers),
    );
    let status_line = format!(
        "channel=RESPONSE   - mode=HTTP\tHTTP/1.1 {} {}",
        res.status.as_u16(),
        res.status.canonical_reason().unwrap_or("")
    );
    event(
        &filters,
        stream,
        "trace_http_headers",
        &head_lines(status_line, &res.headers),
    );
}

/// What the pipeline decided about a request besides its answer: the
/// backend it chose, and the connection facts as rules left them.
struct Routed {
    chosen: Option<usize>,
    facts: Arc<ConnFacts>,
}

/// The service's error: an `http-request reject` rule matched. hyper closes
/// an HTTP/1 connection without writing anything, and resets an HTTP/2
/// stream, which is what HAProxy does.
#[derive(Debug, thiserror::Error)]
#[error("request rejected by an 'http-request reject' rule")]
pub struct Rejected;

/// hyper service entry point: never fails, every problem is an HTTP answer.
pub async fn handle(
    ctx: Arc<ConnCtx>,
    req: Request<Incoming>,
) -> Result<Response<ResBody>, Rejected> {
    ctx.phase.request_started();
    let started = Instant::now();
    let (mut parts, body) = req.into_parts();
    let facts = ctx.current_facts();
    normalize_host(&mut parts);
    let generation = ctx.generation.clone();
    let fe = &generation.config.frontends[ctx.frontend];
    let mut vars = Vars::in_session(generation.proc_vars.clone(), ctx.sess.clone());
    vars.new_transaction();
    // HAProxy 2.6's HTTP/2 streams are never a connection's first request.
    vars.first_request = parts.version != http::Version::HTTP_2
        && ctx
            .requests
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            == 0;
    let stick = StickCtx::new(generation.stick_tables.clone(), ctx.stick_session.clone());
    stick.count_request_on_session();
    vars.stick = Some(Arc::new(stick));
    let mut log = LogFacts::new(&facts);
    log.request_line = Some(eval::request_line(&parts));
    log.backend_is_http = true;
    // Timers count from the moment the request headers were complete: hyper
    // hands the request over then, so the header reception time is not seen.
    log.accept_date = std::time::SystemTime::now();
    log.timers.handshake = 0;
    log.timers.idle = 0;
    log.timers.request = 0;
    log.req_captures = capture(&fe.request_captures, &parts.headers);
    let request_id = generation
        .requests
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    log.counters.request_id = request_id;
    vars.request_id = request_id;
    if let Some(format) = &fe.common.unique_id_format {
        let mut t = Txn::new(&facts, &mut vars);
        t.req = Some(&parts);
        t.log = Some(&log);
        let id = Bytes::from(render(format, LfTarget::Log, &mut t));
        log.unique_id = Some(String::from_utf8_lossy(&id).into_owned());
        vars.unique_id = Some(id);
    }

    let mut routed = Routed {
        chosen: None,
        facts,
    };
    let outcome = pipeline(
        &ctx,
        &mut parts,
        body,
        &mut vars,
        &mut log,
        started,
        &mut routed,
    )
    .await;
    let Routed { chosen, facts } = routed;
    let response = match outcome {
        Ok(r) => r,
        Err(rejected) => {
            // Logged as HAProxy does: no status, `PR--`, no request timer.
            log.status = -1;
            log.timers.request = -1;
            log.termination.cause = TermCause::ProxyCond;
            log.termination.state = FinState::Request;
            PendingLog {
                generation: generation.clone(),
                frontend: ctx.frontend,
                facts,
                request: parts,
                vars,
                log,
                started,
            }
            .emit(0, true);
            return Err(rejected);
        }
    };
    let (mut res_parts, mut body) = response.into_parts();
    // Every response, the proxy's own included, goes through them last.
    let caps = Captures {
        req: &log.req_captures,
        res: &log.res_captures,
    };
    after::run(
        &ctx,
        &facts,
        chosen,
        &parts,
        &mut res_parts,
        &mut vars,
        caps,
    );
    trace_stream(
        &generation,
        ctx.frontend,
        chosen,
        request_id,
        &parts,
        &res_parts,
    );
    log.status = res_parts.status.as_u16() as i64;
    if res_parts.status.is_client_error()
        && let Some(stick) = &vars.stick
    {
        stick.record_all(StickEvent::HttpError);
    }
    let pending = PendingLog {
        generation: generation.clone(),
        frontend: ctx.frontend,
        facts: facts.clone(),
        request: parts,
        vars,
        log,
        started,
    };
    // compression: the backend's settings, else the frontend's, as HAProxy.
    let compression = chosen
        .and_then(|i| generation.config.backends[i].common.compression.as_ref())
        .or(fe.common.compression.as_ref());
    if let Some(cfg) = compression
        && pending.request.method != http::Method::HEAD
        && let Some(algo) = compress::choose(
            cfg,
            &pending.request.headers,
            res_parts.status.as_u16(),
            &res_parts.headers,
        )
    {
        compress::mark(&mut res_parts.headers, algo);
        body = compress::Compressed::new(body, algo).boxed();
    }
    // `option httpclose` (frontend or backend): this response ends the connection.
    let close = fe.common.http_close
        || chosen.is_some_and(|i| generation.config.backends[i].common.http_close);
    if close {
        res_parts
            .headers
            .insert(http::header::CONNECTION, HeaderValue::from_static("close"));
    }
    let body = if fe.common.log.logasap {
        // `option logasap`: log now; %B and %Tt are partial ("+" prefix).
        let announced = hyper::body::Body::size_hint(&body).exact().unwrap_or(0);
        pending.emit(announced, false);
        LoggedBody::new(body, None)
    } else {
        LoggedBody::new(body, Some(pending))
    };
    // After a 101 the connection is a tunnel, no longer HTTP/1 turns.
    if res_parts.status == StatusCode::SWITCHING_PROTOCOLS {
        ctx.phase.pass_through();
    }
    let body = PhaseBody::new(body, ctx.phase.clone());
    Ok(Response::from_parts(res_parts, body.boxed()))
}

async fn pipeline(
    ctx: &ConnCtx,
    parts: &mut http::request::Parts,
    body: Incoming,
    vars: &mut Vars,
    log: &mut LogFacts,
    started: Instant,
    routed: &mut Routed,
) -> Result<Response<ResBody>, Rejected> {
    let Routed { chosen, facts } = routed;
    let fe = &ctx.generation.config.frontends[ctx.frontend];
    let generation = &ctx.generation;
    if let Some(uri) = &fe.monitor_uri
        && parts.uri.path() == uri
    {
        log.termination.cause = TermCause::Local;
        let mut t = Txn::new(facts, vars);
        t.auth = &**generation;
        t.req = Some(parts);
        let failing = fe
            .monitor_fail
            .iter()
            .any(|c| condition_holds(c, &fe.common.acls, &mut t));
        return Ok(boxed(default_response(if failing { 503 } else { 200 })));
    }
    if let Some(conn) = &ctx.tls
        && let Some(r) = generation.misdirected(conn, parts)
    {
        log.termination.cause = TermCause::Local;
        return Ok(boxed(r));
    }
    let auth: &(dyn UserAuth + Sync) = &**generation;
    let caps = Captures {
        req: &log.req_captures,
        res: &[],
    };
    let verdict = request_rules(&fe.common, facts, auth, parts, vars, caps);
    ctx.remember(facts);
    match verdict {
        Verdict::Continue => {}
        Verdict::Reply(r) => {
            log.termination.cause = TermCause::Local;
            return Ok(boxed(r));
        }
        Verdict::Reject => return Err(Rejected),
        Verdict::Service(name) => {
            log.termination.cause = TermCause::Local;
            return Ok(boxed(
                lua_service(&name, facts, auth, parts, body, vars, &log.req_captures).await,
            ));
        }
    }
    if let Some(r) = redirect_rules(&fe.common, facts, auth, parts, vars) {
        log.termination.cause = TermCause::Local;
        return Ok(boxed(r));
    }
    if let Some(r) = fe
        .common
        .stats
        .as_ref()
        .and_then(|s| stats_page::serve(s, generation, parts))
    {
        log.termination.cause = TermCause::Local;
        return Ok(boxed(r));
    }
    let chosen_backend = {
        let mut t = Txn::new(facts, vars);
        t.auth = auth;
        t.req = Some(parts);
        choose_backend(fe, &generation.config, &mut t)
    };
    let Some(be_idx) = chosen_backend else {
        log.termination.cause = TermCause::Local;
        return Ok(boxed(error_page(&fe.common, 503)));
    };
    let be = &generation.config.backends[be_idx];
    if be.common.disabled {
        // A disabled backend is stopped: no rule of it runs, no server is
        // tried; HAProxy answers 503.
        log.backend = Arc::from(be.common.name.as_str());
        log.termination.cause = TermCause::Local;
        return Ok(boxed(error_page(&fe.common, 503)));
    }
    *chosen = Some(be_idx);
    log.backend = Arc::from(be.common.name.as_str());
    // A listen's backend half is the same proxy: its rules already ran.
    let same_proxy = be.common.name == fe.common.name && be.common.origin == fe.common.origin;
    if !same_proxy {
        let caps = Captures {
            req: &log.req_captures,
            res: &[],
        };
        let verdict = request_rules(&be.common, facts, auth, parts, vars, caps);
        ctx.remember(facts);
        let verdict = match verdict {
            Verdict::Reply(r) => Some(r),
            Verdict::Reject => return Err(Rejected),
            Verdict::Service(name) => {
                log.termination.cause = TermCause::Local;
                let caps = log.req_captures.clone();
                return Ok(boxed(
                    lua_service(&name, facts, auth, parts, body, vars, &caps).await,
                ));
            }
            Verdict::Continue => redirect_rules(&be.common, facts, auth, parts, vars),
        };
        if let Some(r) = verdict {
            log.termination.cause = TermCause::Local;
            return Ok(boxed(r));
        }
        if let Some(r) = be
            .common
            .stats
            .as_ref()
            .and_then(|s| stats_page::serve(s, generation, parts))
        {
            log.termination.cause = TermCause::Local;
            return Ok(boxed(r));
        }
    }
    forwarded_for(fe, be, facts, parts);
    if let (Some(name), Some(id)) = (&fe.common.unique_id_header, &vars.unique_id)
        && let (Some(hn), Ok(v)) = (header_name(name), HeaderValue::from_bytes(id))
    {
        parts.headers.append(hn, v);
    }
    let offload = be
        .common
        .compression
        .as_ref()
        .or(fe.common.compression.as_ref())
        .is_some_and(|c| c.offload);
    // `compression offload`: servers must send identity so the proxy compresses.
    let saved_ae = offload
        .then(|| parts.headers.remove(http::header::ACCEPT_ENCODING))
        .flatten();
    let up_body = body.boxed();
    log.timers.queue = elapsed_ms(started);
    let be_rt = &generation.backends[be_idx];
    let now = persist::now_secs();
    // A server in maintenance (`disabled`) is as stopped as a DOWN one.
    let usable = |i: usize| be_rt.lb.is_up(i) && be_rt.servers.get(i).is_some_and(|s| !s.disabled);
    let cookie = be_rt.cookie.as_ref().map(|c| {
        let r = c.request(&mut parts.headers, &usable, now);
        if c.logged() {
            log.cookie_states = Some((r.state.unwrap_or(CookieState::None), SetCookieState::None));
        }
        r
    });
    // The server a cookie or a stick table assigns (HAProxy's SF_ASSIGNED).
    let mut assigned = cookie.and_then(|c| c.target);
    let mut stick_stores = Vec::new();
    if !be.persist.stick.is_empty() {
        let mut t = Txn::new(facts, vars);
        t.auth = auth;
        t.req = Some(parts);
        let matched = persist::stick_request(
            &be.persist.stick,
            &generation.stick_tables,
            &be.common.acls,
            &mut t,
            assigned.is_some(),
            &usable,
            be.persist.force_down,
            &mut stick_stores,
        );
        assigned = assigned.or(matched);
    }
    let outcome = be_rt
        .forward_in(parts.clone(), up_body, facts, vars, auth, assigned)
        .await;
    // The client's Accept-Encoding still decides the compression of the answer.
    if let Some(v) = saved_ae {
        parts.headers.insert(http::header::ACCEPT_ENCODING, v);
    }
    // The pooled client does not report connect and response separately.
    log.timers.connect = log.timers.queue;
    log.timers.data = elapsed_ms(started);
    match outcome {
        Forwarded::Response {
            res,
            server,
            idx,
            addr,
            tls,
        } => {
            log.server = Some(server);
            log.backend_conn = Some((addr, addr));
            log.backend_tls = tls.clone();
            let (mut res_parts, res_body) = res.into_parts();
            if !be.persist.stick.is_empty() {
                let mut t = Txn::new(facts, vars);
                t.auth = auth;
                t.req = Some(parts);
                t.res = Some(&res_parts);
                persist::stick_response(
                    &be.persist.stick,
                    &generation.stick_tables,
                    &be.common.acls,
                    &mut t,
                    std::mem::take(&mut stick_stores),
                    idx,
                );
            }
            if let (Some(c), Some(req)) = (&be_rt.cookie, &cookie) {
                // A redispatched request is no longer "direct" (HAProxy
                // clears SF_DIRECT when it moves the request).
                let direct = assigned == Some(idx);
                let sck = c.response(
                    req,
                    Some(idx),
                    direct,
                    &parts.method,
                    res_parts.status,
                    &mut res_parts.headers,
                    now,
                );
                if let Some((_, s)) = log.cookie_states.as_mut() {
                    *s = sck;
                }
            }
            log.res_captures = capture(&fe.response_captures, &res_parts.headers);
            vars.start_response();
            let mut rules: Vec<&ProxyCommon> = vec![&be.common];
            if !same_proxy {
                rules.push(&fe.common);
            }
            let caps = Captures {
                req: &log.req_captures,
                res: &log.res_captures,
            };
            for common in rules {
                let server = ServerSide {
                    res: &mut res_parts,
                    tls: tls.as_deref(),
                };
                if let Verdict::Reply(r) =
                    response_rules(common, facts, auth, parts, server, vars, caps)
                {
                    return Ok(boxed(r));
                }
            }
            Ok(Response::from_parts(res_parts, res_body.boxed()))
        }
        Forwarded::NoServer { server } => {
            log.server = server;
            Ok(boxed(error_page(&be.common, 503)))
        }
        Forwarded::Timeout { server } => {
            log.server = Some(server);
            Ok(boxed(error_page(&be.common, 504)))
        }
        Forwarded::BadResponse { server } => {
            log.server = Some(server);
            Ok(boxed(error_page(&be.common, 502)))
        }
    }
}

/// The most request body a Lua service receives (`applet:receive`).
const SERVICE_BODY_LIMIT: usize = 16 * 1024 * 1024;

/// `use-service lua.<name>`: reads the request body, then the service
/// builds the whole answer (500 on a Lua error, as HAProxy).
async fn lua_service(
    name: &str,
    facts: &ConnFacts,
    auth: &(dyn UserAuth + Sync),
    parts: &mut http::request::Parts,
    body: Incoming,
    vars: &mut Vars,
    req_captures: &[Option<Vec<u8>>],
) -> Response<Bytes> {
    let Some(lua) = facts.lua.clone() else {
        return default_response(500);
    };
    let body = match http_body_util::Limited::new(body, SERVICE_BODY_LIMIT)
        .collect()
        .await
    {
        Ok(b) => b.to_bytes(),
        Err(_) => return default_response(400),
    };
    let host = crate::lua::HttpHost {
        conn: facts,
        vars,
        auth,
        captures: Captures {
            req: req_captures,
            res: &[],
        },
        req: parts,
        res: None,
    };
    lua.service(name, host, body)
}

/// `capture request|response header`: the last occurrence of each header, cut
/// to its length (`None` when absent), as `%hr` / `%hs` show them.
fn capture(captures: &[ir::HeaderCapture], headers: &HeaderMap) -> Vec<Option<Vec<u8>>> {
    captures
        .iter()
        .map(|c| {
            headers
                .get_all(c.name.as_str())
                .iter()
                .next_back()
                .map(|v| {
                    let b = v.as_bytes();
                    b[..b.len().min(c.len)].to_vec()
                })
        })
        .collect()
}

fn elapsed_ms(since: Instant) -> i64 {
    since.elapsed().as_millis() as i64
}

/// HAProxy 2.6 turns an h2 `:authority` into a `host` header; later rules and
/// fetches (`hdr(host)`, `base`) see it the same way on h1 and h2.
fn normalize_host(parts: &mut http::request::Parts) {
    if !parts.headers.contains_key(http::header::HOST)
        && let Some(auth) = parts.uri.authority()
        && let Ok(v) = HeaderValue::from_str(auth.as_str())
    {
        parts.headers.insert(http::header::HOST, v);
    }
}

fn boxed(r: Response<Bytes>) -> Response<ResBody> {
    r.map(|b| Full::new(b).map_err(|never| match never {}).boxed())
}

/// The proxy's `errorfile` for a status, or HAProxy's built-in page.
pub fn error_page(common: &ProxyCommon, status: u16) -> Response<Bytes> {
    if let Some(ef) = common.errorfiles.iter().find(|e| e.status == status)
        && let Some(r) = parse_raw_response(&ef.content)
    {
        return r;
    }
    default_response(status)
}

/// Evaluates a rule's optional condition against the proxy's named ACLs
/// (shared by the HTTP and the tcp-request rule sets).
pub(super) fn cond_holds(cond: &Option<Condition>, acls: &[NamedAcl], t: &mut Txn) -> bool {
    cond.as_ref().is_none_or(|c| condition_holds(c, acls, t))
}

/// Evaluates a condition against the proxy's named ACLs.
fn condition_holds(c: &Condition, acls: &[NamedAcl], t: &mut Txn) -> bool {
    let lookup = |name: &str| -> &[AclTerm] {
        acls.iter()
            .find(|a| a.name == name)
            .map(|a| a.terms.as_slice())
            .unwrap_or(&[])
    };
    eval::eval_condition(c, &lookup, t)
}

fn render(f: &LogFormat, target: LfTarget, t: &mut Txn) -> Vec<u8> {
    let mut out = Vec::new();
    eval::render_log_format(f, target, t, &mut out);
    out
}

/// Runs a proxy's `http-request` rules.
fn request_rules(
    common: &ProxyCommon,
    facts: &mut Arc<ConnFacts>,
    auth: &(dyn UserAuth + Sync),
    parts: &mut http::request::Parts,
    vars: &mut Vars,
    caps: Captures,
) -> Verdict {
    for rule in &common.http_request {
        let step = {
            let mut t = Txn::new(facts, vars);
            t.auth = auth;
            t.captures = caps;
            t.req = Some(parts);
            if !cond_holds(&rule.cond, &common.acls, &mut t) {
                continue;
            }
            plan(rule, common, &mut t, parts)
        };
        match step {
            Step::Stop => return Verdict::Continue,
            Step::Reply(r) => return Verdict::Reply(r),
            Step::Service(name) => return Verdict::Service(name),
            Step::Lua(name, args) => {
                let Some(lua) = facts.lua.clone() else {
                    continue;
                };
                let host = crate::lua::HttpHost {
                    conn: facts,
                    vars: &mut *vars,
                    auth,
                    captures: caps,
                    req: &mut *parts,
                    res: None,
                };
                match lua.action(&name, &args, host) {
                    ActionOutcome::Continue => {}
                    ActionOutcome::Stop => return Verdict::Continue,
                    ActionOutcome::Deny => return Verdict::Reply(error_page(common, 403)),
                }
            }
            Step::Headers(edit) => edit.apply(&mut parts.headers),
            Step::Uri(uri) => parts.uri = uri,
            Step::SetVar(var, value) => {
                if let Some(v) = value {
                    vars.set(&var, v);
                }
            }
            Step::UnsetVar(var) => {
                vars.unset(&var);
            }
            Step::SetAddr(part, value) => {
                if let Some(v) = value {
                    move_connection(Arc::make_mut(facts), part, v);
                }
            }
            Step::Reject => return Verdict::Reject,
            Step::Status(..) | Step::Nothing => {}
        }
    }
    Verdict::Continue
}

/// `set-src|dst[-port]`: HAProxy rewrites the connection's address with the
/// sample cast to an address (the port is kept) or to an integer port.
fn move_connection(facts: &mut ConnFacts, part: ir::AddrPart, value: eval::Value) {
    use crate::ir::expr::SampleType;
    let addr = match part {
        ir::AddrPart::Src | ir::AddrPart::SrcPort => &mut facts.src,
        ir::AddrPart::Dst | ir::AddrPart::DstPort => &mut facts.dst,
    };
    match part {
        ir::AddrPart::Src | ir::AddrPart::Dst => {
            if let Some(eval::Value::Ip(ip)) = value.cast(SampleType::Addr) {
                addr.set_ip(ip);
            }
        }
        ir::AddrPart::SrcPort | ir::AddrPart::DstPort => {
            if let Some(eval::Value::Int(port)) = value.cast(SampleType::Int) {
                // A C `htons((int)port)`: the low 16 bits.
                addr.set_port(port as u16);
            }
        }
    }
}

/// The classic `redirect` rules: the first whose condition holds answers.
fn redirect_rules(
    common: &ProxyCommon,
    facts: &ConnFacts,
    auth: &(dyn UserAuth + Sync),
    parts: &http::request::Parts,
    vars: &mut Vars,
) -> Option<Response<Bytes>> {
    for rule in &common.redirects {
        let mut t = Txn::new(facts, vars);
        t.auth = auth;
        t.req = Some(parts);
        if cond_holds(&rule.cond, &common.acls, &mut t) {
            return Some(redirect(&rule.redirect, &mut t, parts));
        }
    }
    None
}

/// What `http-response` rules see of the server side: the response head
/// (which they may rewrite) and the TLS of the connection that carried it.
struct ServerSide<'a> {
    res: &'a mut http::response::Parts,
    tls: Option<&'a BackendTlsFacts>,
}

/// Runs a proxy's `http-response` rules on a server response.
fn response_rules(
    common: &ProxyCommon,
    facts: &ConnFacts,
    auth: &(dyn UserAuth + Sync),
    req: &http::request::Parts,
    server: ServerSide<'_>,
    vars: &mut Vars,
    caps: Captures,
) -> Verdict {
    let ServerSide { res, tls } = server;
    for rule in &common.http_response {
        let step = {
            let mut t = Txn::new(facts, vars);
            t.auth = auth;
            t.captures = caps;
            t.req = Some(req);
            t.res = Some(res);
            t.backend_tls = tls;
            if !cond_holds(&rule.cond, &common.acls, &mut t) {
                continue;
            }
            plan(rule, common, &mut t, req)
        };
        match step {
            Step::Stop => return Verdict::Continue,
            Step::Reply(r) => return Verdict::Reply(r),
            Step::Lua(name, args) => {
                let Some(lua) = facts.lua.clone() else {
                    continue;
                };
                let mut req = req.clone();
                let host = crate::lua::HttpHost {
                    conn: facts,
                    vars: &mut *vars,
                    auth,
                    captures: caps,
                    req: &mut req,
                    res: Some(&mut *res),
                };
                match lua.action(&name, &args, host) {
                    ActionOutcome::Continue => {}
                    ActionOutcome::Stop => return Verdict::Continue,
                    ActionOutcome::Deny => return Verdict::Reply(error_page(common, 502)),
                }
            }
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
            // Request-only steps: check refuses them in response rules.
            Step::Uri(_) | Step::SetAddr(..) | Step::Reject | Step::Service(_) | Step::Nothing => {}
        }
    }
    Verdict::Continue
}

/// `set-status`: the code, and the reason phrase HTTP/1 sends (the
/// standard one for the code unless a `reason` is given, as HAProxy).
pub(crate) fn set_status(res: &mut http::response::Parts, code: u16, reason: Option<String>) {
    if let Ok(s) = StatusCode::from_u16(code) {
        res.status = s;
    }
    res.extensions.remove::<hyper::ext::ReasonPhrase>();
    if let Some(r) = reason
        && let Ok(p) = hyper::ext::ReasonPhrase::try_from(r.into_bytes())
    {
        res.extensions.insert(p);
    }
}

/// What one matching rule does, computed while the transaction is borrowed.
pub(super) enum Step {
    Stop,
    Reply(Response<Bytes>),
    Headers(HeaderEdit),
    Status(u16, Option<String>),
    Uri(Uri),
    SetVar(crate::ir::expr::VarName, Option<eval::Value>),
    UnsetVar(crate::ir::expr::VarName),
    SetAddr(ir::AddrPart, Option<eval::Value>),
    Reject,
    /// `lua.<name> [args]`: run with the head editable, after planning.
    Lua(String, Vec<String>),
    /// `use-service lua.<name>`.
    Service(String),
    Nothing,
}

/// A header rewrite, applied to the request or the response.
pub(super) enum HeaderEdit {
    Set(HeaderName, Option<HeaderValue>),
    Add(HeaderName, Option<HeaderValue>),
    Del(String, HeaderMatch),
    Replace {
        name: HeaderName,
        re: regex::bytes::Regex,
        with: Vec<u8>,
        per_value: bool,
    },
}

impl HeaderEdit {
    pub(super) fn apply(self, headers: &mut HeaderMap) {
        match self {
            HeaderEdit::Set(name, value) => {
                headers.remove(&name);
                if let Some(v) = value {
                    headers.insert(name, v);
                }
            }
            HeaderEdit::Add(name, value) => {
                if let Some(v) = value {
                    headers.append(name, v);
                }
            }
            HeaderEdit::Del(pattern, method) => {
                let p = pattern.to_ascii_lowercase();
                let re = match method {
                    HeaderMatch::Reg => regex::Regex::new(&pattern).ok(),
                    _ => None,
                };
                let doomed: Vec<HeaderName> = headers
                    .keys()
                    .filter(|k| {
                        let k = k.as_str();
                        match method {
                            HeaderMatch::Str => k == p,
                            HeaderMatch::Beg => k.starts_with(&p),
                            HeaderMatch::End => k.ends_with(&p),
                            HeaderMatch::Sub => k.contains(&p),
                            HeaderMatch::Reg => re.as_ref().is_some_and(|r| r.is_match(k)),
                        }
                    })
                    .cloned()
                    .collect();
                for k in doomed {
                    headers.remove(k);
                }
            }
            HeaderEdit::Replace {
                name,
                re,
                with,
                per_value,
            } => {
                let old: Vec<HeaderValue> = headers.get_all(&name).iter().cloned().collect();
                if old.is_empty() {
                    return;
                }
                headers.remove(&name);
                for v in old {
                    let bytes = v.as_bytes();
                    let new = if per_value {
                        let parts: Vec<Vec<u8>> = bytes
                            .split(|b| *b == b',')
                            .map(|item| {
                                let trimmed = trim(item);
                                replace_all_anchored(&re, trimmed, &with)
                            })
                            .collect();
                        parts.join(&b", "[..])
                    } else {
                        replace_all_anchored(&re, bytes, &with)
                    };
                    if let Ok(v) = HeaderValue::from_bytes(&new) {
                        headers.append(name.clone(), v);
                    }
                }
            }
        }
    }
}

fn trim(b: &[u8]) -> &[u8] {
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &b[start..end]
}

/// HAProxy's replace-header: when the regex matches the value, the value is
/// replaced by the format with `\N` references to the groups.
fn replace_all_anchored(re: &regex::bytes::Regex, value: &[u8], with: &[u8]) -> Vec<u8> {
    let Some(caps) = re.captures(value) else {
        return value.to_vec();
    };
    let mut out = Vec::new();
    let mut i = 0;
    while i < with.len() {
        if with[i] == b'\\' && i + 1 < with.len() && with[i + 1].is_ascii_digit() {
            let n = (with[i + 1] - b'0') as usize;
            if let Some(m) = caps.get(n) {
                out.extend_from_slice(m.as_bytes());
            }
            i += 2;
        } else {
            out.push(with[i]);
            i += 1;
        }
    }
    out
}

fn header_name(name: &str) -> Option<HeaderName> {
    HeaderName::from_bytes(name.as_bytes()).ok()
}

/// Computes what a matching rule does.
pub(super) fn plan(
    rule: &HttpRule,
    common: &ProxyCommon,
    t: &mut Txn,
    req: &http::request::Parts,
) -> Step {
    match &rule.action {
        HttpAction::Lua { name, args } => Step::Lua(name.clone(), args.clone()),
        HttpAction::UseService(name) => Step::Service(name.clone()),
        HttpAction::Allow => Step::Stop,
        HttpAction::SetHeader { name, value } | HttpAction::AddHeader { name, value } => {
            let Some(hn) = header_name(name) else {
                return Step::Nothing;
            };
            let v = HeaderValue::from_bytes(&render(value, LfTarget::Http, t)).ok();
            if matches!(rule.action, HttpAction::SetHeader { .. }) {
                Step::Headers(HeaderEdit::Set(hn, v))
            } else {
                Step::Headers(HeaderEdit::Add(hn, v))
            }
        }
        HttpAction::DelHeader { name, method } => {
            Step::Headers(HeaderEdit::Del(name.clone(), *method))
        }
        HttpAction::ReplaceHeader {
            name,
            regex,
            replacement,
        }
        | HttpAction::ReplaceValue {
            name,
            regex,
            replacement,
        } => {
            let (Some(hn), Ok(re)) = (header_name(name), regex::bytes::Regex::new(regex)) else {
                return Step::Nothing;
            };
            Step::Headers(HeaderEdit::Replace {
                name: hn,
                re,
                with: render(replacement, LfTarget::Http, t),
                per_value: matches!(rule.action, HttpAction::ReplaceValue { .. }),
            })
        }
        HttpAction::SetPath(f) => {
            let path = String::from_utf8_lossy(&render(f, LfTarget::Http, t)).into_owned();
            let query = req.uri.query().map(|q| format!("?{q}")).unwrap_or_default();
            rebuild_uri(&req.uri, &format!("{path}{query}"))
        }
        HttpAction::SetQuery(f) => {
            let q = String::from_utf8_lossy(&render(f, LfTarget::Http, t)).into_owned();
            let pq = if q.is_empty() {
                req.uri.path().to_string()
            } else {
                format!("{}?{q}", req.uri.path())
            };
            rebuild_uri(&req.uri, &pq)
        }
        HttpAction::ReplaceUri {
            part,
            regex,
            replacement,
        } => {
            let Ok(re) = regex::bytes::Regex::new(regex) else {
                return Step::Nothing;
            };
            let with = render(replacement, LfTarget::Http, t);
            replace_uri(&req.uri, *part, &re, &with)
        }
        HttpAction::SetStatus { status, reason } => Step::Status(*status, reason.clone()),
        HttpAction::SetVar { var, value } => Step::SetVar(var.clone(), eval::eval_sample(value, t)),
        HttpAction::Stick(action) => {
            super::stickrules::apply(action, t, true);
            Step::Nothing
        }
        HttpAction::UnsetVar(var) => Step::UnsetVar(var.clone()),
        HttpAction::SetAddr { part, value } => Step::SetAddr(*part, eval::eval_sample(value, t)),
        HttpAction::Reject => Step::Reject,
        HttpAction::Deny(reply) | HttpAction::Return(reply) => {
            Step::Reply(build_reply(reply, common, t))
        }
        HttpAction::Redirect(r) => Step::Reply(redirect(r, t, req)),
        HttpAction::Auth { realm } => {
            let mut res = error_page(common, 401);
            let realm = realm.clone().unwrap_or_else(|| common.name.clone());
            if let Ok(v) = HeaderValue::from_str(&format!("Basic realm=\"{realm}\"")) {
                res.headers_mut().insert(http::header::WWW_AUTHENTICATE, v);
            }
            Step::Reply(res)
        }
    }
}

/// `replace-path|pathq|uri`: when the regex matches the part, the part
/// becomes the replacement with its `\N` references (HAProxy's exp_replace).
fn replace_uri(uri: &Uri, part: ir::UriPart, re: &regex::bytes::Regex, with: &[u8]) -> Step {
    let pq = uri.path_and_query().map_or("/", |p| p.as_str());
    let subject = match part {
        ir::UriPart::Path => uri.path().to_string(),
        ir::UriPart::PathQuery => pq.to_string(),
        ir::UriPart::Uri => uri.to_string(),
    };
    if !re.is_match(subject.as_bytes()) {
        return Step::Nothing;
    }
    let new =
        String::from_utf8_lossy(&replace_all_anchored(re, subject.as_bytes(), with)).into_owned();
    match part {
        ir::UriPart::Path => {
            let query = uri.query().map(|q| format!("?{q}")).unwrap_or_default();
            rebuild_uri(uri, &format!("{new}{query}"))
        }
        ir::UriPart::PathQuery => rebuild_uri(uri, &new),
        ir::UriPart::Uri => match new.parse::<Uri>() {
            Ok(u) => Step::Uri(u),
            Err(_) => Step::Nothing,
        },
    }
}

fn rebuild_uri(old: &Uri, path_and_query: &str) -> Step {
    let mut parts = old.clone().into_parts();
    match path_and_query.parse() {
        Ok(pq) => {
            parts.path_and_query = Some(pq);
            match Uri::from_parts(parts) {
                Ok(u) => Step::Uri(u),
                Err(_) => Step::Nothing,
            }
        }
        Err(_) => Step::Nothing,
    }
}

/// The response of `deny` / `return`.
fn build_reply(reply: &Reply, common: &ProxyCommon, t: &mut Txn) -> Response<Bytes> {
    let mut res = match &reply.body {
        ReplyBody::Default => error_page(common, reply.status),
        ReplyBody::Empty => Response::new(Bytes::new()),
        ReplyBody::Text(s) => Response::new(Bytes::from(s.clone())),
        ReplyBody::Format(f) => Response::new(Bytes::from(render(f, LfTarget::Http, t))),
        ReplyBody::File {
            content,
            raw_response,
            ..
        } => {
            if *raw_response {
                parse_raw_response(content).unwrap_or_else(|| default_response(reply.status))
            } else {
                Response::new(Bytes::copy_from_slice(content))
            }
        }
    };
    if let Ok(s) = StatusCode::from_u16(reply.status) {
        *res.status_mut() = s;
    }
    if let Some(ct) = &reply.content_type
        && let Ok(v) = HeaderValue::from_str(ct)
    {
        res.headers_mut().insert(http::header::CONTENT_TYPE, v);
    }
    for (name, f) in &reply.headers {
        if let (Some(hn), Ok(v)) = (
            header_name(name),
            HeaderValue::from_bytes(&render(f, LfTarget::Http, t)),
        ) {
            res.headers_mut().append(hn, v);
        }
    }
    res
}

/// `redirect location|prefix|scheme`, answered as HAProxy does (no body,
/// `cache-control: no-cache`).
fn redirect(r: &ir::Redirect, t: &mut Txn, req: &http::request::Parts) -> Response<Bytes> {
    let path = req.uri.path();
    let query = if r.drop_query { None } else { req.uri.query() };
    let mut pq = path.to_string();
    if r.append_slash && !pq.ends_with('/') {
        pq.push('/');
    }
    if let Some(q) = query {
        pq.push('?');
        pq.push_str(q);
    }
    let location = match &r.kind {
        RedirectKind::Location(f) => {
            String::from_utf8_lossy(&render(f, LfTarget::Http, t)).into_owned()
        }
        RedirectKind::Prefix(f) => {
            let prefix = String::from_utf8_lossy(&render(f, LfTarget::Http, t)).into_owned();
            format!("{}{pq}", prefix.trim_end_matches('/'))
        }
        RedirectKind::Scheme(f) => {
            let scheme = String::from_utf8_lossy(&render(f, LfTarget::Http, t)).into_owned();
            let host = req
                .headers
                .get(http::header::HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or("");
            format!("{scheme}://{host}{pq}")
        }
    };
    let mut res = Response::new(Bytes::new());
    *res.status_mut() = StatusCode::from_u16(r.code).unwrap_or(StatusCode::FOUND);
    let h = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&location) {
        h.insert(http::header::LOCATION, v);
    }
    h.insert(
        http::header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache"),
    );
    res
}

/// `use_backend` rules in order, then `default_backend` (HTTP and TCP
/// frontends alike; `t` carries what the conditions may read).
pub(super) fn choose_backend(fe: &ir::Frontend, config: &ir::Config, t: &mut Txn) -> Option<usize> {
    for u in &fe.use_backend {
        if !cond_holds(&u.cond, &fe.common.acls, t) {
            continue;
        }
        match &u.target {
            BackendTarget::Static(i) => return Some(*i),
            BackendTarget::Dynamic(f) => {
                let name = render(f, LfTarget::Plain, t);
                if let Some(i) = config
                    .backends
                    .iter()
                    .position(|b| b.common.name.as_bytes() == name.as_slice())
                {
                    return Some(i);
                }
            }
        }
    }
    fe.default_backend
}

/// `option forwardfor` (set on the frontend or the backend, as HAProxy).
fn forwarded_for(
    fe: &ir::Frontend,
    be: &ir::Backend,
    facts: &ConnFacts,
    parts: &mut http::request::Parts,
) {
    let Some(ff) = fe
        .common
        .forward_for
        .as_ref()
        .or(be.common.forward_for.as_ref())
    else {
        return;
    };
    let ip = facts.src.ip();
    if let Some(net) = &ff.except
        && in_net(ip, net)
    {
        return;
    }
    let Some(name) = header_name(&ff.header) else {
        return;
    };
    if ff.if_none && parts.headers.contains_key(&name) {
        return;
    }
    if let Ok(v) = HeaderValue::from_str(&ip.to_string()) {
        parts.headers.append(name, v);
    }
}

fn in_net(ip: std::net::IpAddr, net: &ir::IpNet) -> bool {
    use std::net::IpAddr;
    match (ip, net.addr) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = if net.prefix == 0 {
                0
            } else {
                u32::MAX << (32 - net.prefix as u32)
            };
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = if net.prefix == 0 {
                0
            } else {
                u128::MAX << (128 - net.prefix as u32)
            };
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}
