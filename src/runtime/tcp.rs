//! `mode tcp` sessions: after the connection rules (and the PROXY header,
//! handled by `serve`), optional TLS termination on the bind, `tcp-request
//! session` rules, `tcp-request content` rules over the first bytes with
//! `tcp-request inspect-delay`, `use_backend` / `default_backend`, the
//! backend's own content rules, then a connection to a server chosen by the
//! backend's balancing and a bidirectional byte copy with half-close, and
//! the `option tcplog` / `log-format` line at the end — HAProxy 2.6's
//! `tcp_inspect_request`, `process_switching_rules` and tunnel.
//!
//! Content inspection follows HAProxy: every rule is evaluated on what has
//! arrived; a rule whose condition cannot be decided yet (a fetch that says
//! more data may change it, see [`super::clienthello`]) makes the session
//! wait for more data, resuming at that rule, until the delay expires, the
//! client closes or the buffer is full; then the rules run once more on
//! what is there, as final. No matching rule accepts.

use super::eval::{self, Txn, UserAuth, Vars};
use super::facts::{ConnFacts, ContentFacts, FinState, LogFacts, TermCause};
use super::generation::Generation;
use super::http::cond_holds;
use super::log;
use super::tcprules;
use super::upstream::{StreamConnect, StreamEnv};
use crate::ir::{self, NamedAcl, ProxyCommon, TcpAction, TcpRule};
use crate::tls::handshake;
use bytes::{Bytes, BytesMut};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant as TokioInstant;

/// HAProxy's default `tune.bufsize`.
const DEFAULT_BUFSIZE: usize = 16_384;

/// How long content inspection waits for the bytes a client sends along
/// with its connection before evaluating the rules a first time.
const FIRST_DATA_GRACE: Duration = Duration::from_millis(50);

/// Serves one `mode tcp` connection whose connection rules passed.
pub(super) async fn serve(
    stream: TcpStream,
    mut facts: ConnFacts,
    vars: Vars,
    generation: Arc<Generation>,
    frontend: usize,
    bind: usize,
) {
    let started = Instant::now();
    let fe = &generation.config.frontends[frontend];
    let idle = fe.common.timeouts.client.map(Duration::from_millis);
    let tls_rt = generation
        .tls
        .get(frontend)
        .and_then(|b| b.get(bind))
        .cloned()
        .flatten();
    let Some(rt) = tls_rt else {
        session(stream, facts, vars, &generation, frontend, started).await;
        return;
    };
    // The handshake is bounded like any client inactivity.
    let handshake = handshake::accept(stream, &rt);
    let accepted = match idle {
        Some(d) => match tokio::time::timeout(d, handshake).await {
            Ok(r) => r,
            Err(_) => {
                tracing::info!("{}: TLS handshake timed out", facts.src);
                super::serve::log_handshake_failure(&generation, frontend, bind, facts, None);
                return;
            }
        },
        None => handshake.await,
    };
    match accepted {
        Ok((tls_stream, tls_facts, _policy)) => {
            facts.tls = Some(Arc::new(tls_facts));
            session(tls_stream, facts, vars, &generation, frontend, started).await;
        }
        Err(e) => {
            tracing::info!(
                "{}: TLS handshake failed (fc_err {}): {e}",
                facts.src,
                e.fc_err()
            );
            super::serve::log_handshake_failure(&generation, frontend, bind, facts, Some(&e));
        }
    }
}

/// How content inspection ended.
enum Inspected {
    Accept,
    Reject,
}

/// The session once the client side is established (clear or deciphered).
async fn session<S>(
    mut client: S,
    facts: ConnFacts,
    mut vars: Vars,
    generation: &Arc<Generation>,
    frontend: usize,
    started: Instant,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    let config = &generation.config;
    let fe = &config.frontends[frontend];
    let auth: &(dyn UserAuth + Sync) = &**generation;
    let mut log = LogFacts::new(&facts);
    log.timers.handshake = elapsed_ms(started);
    // `tcp-request session` rules: after the handshakes, before any data
    // (a reject is not logged, as in HAProxy).
    if !tcprules::allows(
        &fe.common.tcp_request_session,
        &fe.common.acls,
        &facts,
        auth,
        &mut vars,
    ) {
        return;
    }
    let limit = config
        .global
        .tune_bufsize
        .map_or(DEFAULT_BUFSIZE, |b| b as usize);
    let mut buf = BytesMut::new();
    let mut client_closed = false;
    let mut ctx = Inspect {
        facts: &facts,
        auth,
        limit,
    };
    let verdict = ctx
        .run(
            &fe.common,
            &mut client,
            &mut buf,
            &mut client_closed,
            &mut vars,
        )
        .await;
    // Backend switching sees what inspection buffered, as final.
    let backend = match verdict {
        Inspected::Reject => None,
        Inspected::Accept => {
            let content = ctx.content(&buf, true);
            let mut t = Txn::new(&facts, &mut vars);
            t.auth = auth;
            t.content = Some(&content);
            super::http::choose_backend(fe, config, &mut t)
        }
    };
    let mut verdict = verdict;
    // A listen's backend half is the same proxy: its rules already ran.
    if let Some(b) = backend
        && config.backends[b].common.name != fe.common.name
        && matches!(verdict, Inspected::Accept)
    {
        verdict = ctx
            .run(
                &config.backends[b].common,
                &mut client,
                &mut buf,
                &mut client_closed,
                &mut vars,
            )
            .await;
    }
    // The stream starts after the handshakes: `%Tw` covers the inspection.
    log.timers.request = log.timers.handshake;
    log.bytes_in = buf.len() as u64;
    if matches!(verdict, Inspected::Reject) {
        log.termination.cause = TermCause::ProxyCond;
        log.termination.state = FinState::Request;
        finish(generation, fe, &facts, &mut vars, &mut log, started);
        return;
    }
    let Some(b) = backend else {
        // No backend: HAProxy closes the connection (its 503 in TCP).
        log.termination.cause = TermCause::Internal;
        log.termination.state = FinState::Request;
        finish(generation, fe, &facts, &mut vars, &mut log, started);
        return;
    };
    let be = &config.backends[b];
    if be.common.mode == ir::expr::Mode::Http {
        // Only a dynamic `use_backend` gets here (static ones are refused
        // when the Generation is built): no TCP-to-HTTP upgrade.
        log.backend = generation.backends[b].name.clone();
        log.termination.cause = TermCause::Internal;
        log.termination.state = FinState::Request;
        finish(generation, fe, &facts, &mut vars, &mut log, started);
        return;
    }
    let be_rt = &generation.backends[b];
    log.backend = be_rt.name.clone();
    log.timers.queue = elapsed_ms(started);
    let content = ctx.content(&buf, true);
    // The stream's unique ID, for `%ID` and `proxy-v2-options unique-id`.
    if let Some(format) = &fe.common.unique_id_format {
        let mut id = Vec::new();
        let mut t = Txn::new(&facts, &mut vars);
        t.auth = auth;
        t.content = Some(&content);
        t.log = Some(&log);
        eval::render_log_format(format, eval::LfTarget::Log, &mut t, &mut id);
        log.unique_id = Some(String::from_utf8_lossy(&id).into_owned());
        vars.unique_id = Some(Bytes::from(id));
    }
    // `stick match|on|store-request` on the inspected session.
    let mut stick_stores = Vec::new();
    let assigned = if be.persist.stick.is_empty() {
        None
    } else {
        let usable =
            |i: usize| be_rt.lb.is_up(i) && be_rt.servers.get(i).is_some_and(|s| !s.disabled);
        let mut t = Txn::new(&facts, &mut vars);
        t.auth = auth;
        t.content = Some(&content);
        super::persist::stick_request(
            &be.persist.stick,
            &generation.stick_tables,
            &be.common.acls,
            &mut t,
            false,
            &usable,
            be.persist.force_down,
            &mut stick_stores,
        )
    };
    let connected = be_rt
        .connect_stream(
            StreamEnv {
                conn: &facts,
                vars: &mut vars,
                auth,
                content: &content,
            },
            assigned,
        )
        .await;
    let (server_io, server, retries, _in_flight) = match connected {
        StreamConnect::Connected {
            io,
            server,
            idx,
            addr,
            retries,
            in_flight,
        } => {
            log.backend_conn = Some((addr, addr));
            // The session reached a server: its keys now point to it
            // (`stick store-response` is refused in TCP proxies).
            for (table, key) in std::mem::take(&mut stick_stores) {
                table.store_server(key, idx);
            }
            (io, server, retries, in_flight)
        }
        StreamConnect::NoServer { server, retries } => {
            log.server = server;
            log.counters.retries = retries as u64;
            log.termination.cause = TermCause::ServerError;
            log.termination.state = FinState::Connect;
            finish(generation, fe, &facts, &mut vars, &mut log, started);
            return;
        }
    };
    log.server = Some(server);
    log.counters.retries = retries as u64;
    log.timers.connect = elapsed_ms(started);
    log.timers.data = log.timers.connect;
    let timeouts = Idle::of(&fe.common, &be.common);
    let (up, down, end) = tunnel(client, server_io, buf.freeze(), client_closed, timeouts).await;
    log.bytes_in = up;
    log.bytes_out = down;
    log.termination.cause = end;
    if end != TermCause::None {
        log.termination.state = FinState::Data;
    }
    finish(generation, fe, &facts, &mut vars, &mut log, started);
}

/// Writes the session's log line (`option tcplog`, `log-format`…), unless
/// `option dontlognull` and the client sent nothing.
fn finish(
    generation: &Generation,
    fe: &ir::Frontend,
    facts: &ConnFacts,
    vars: &mut Vars,
    log: &mut LogFacts,
    started: Instant,
) {
    if fe.common.log.dont_log_null && log.bytes_in == 0 {
        return;
    }
    log.timers.close = elapsed_ms(started);
    let mut t = Txn::new(facts, vars);
    t.log = Some(log);
    log::access(generation, &fe.common, &mut t);
}

fn elapsed_ms(since: Instant) -> i64 {
    i64::try_from(since.elapsed().as_millis()).unwrap_or(i64::MAX)
}

/// What content inspection reads.
struct Inspect<'a> {
    facts: &'a ConnFacts,
    auth: &'a (dyn UserAuth + Sync),
    limit: usize,
}

impl Inspect<'_> {
    fn content(&self, buf: &BytesMut, done: bool) -> ContentFacts {
        ContentFacts {
            data: Bytes::copy_from_slice(buf),
            limit: self.limit,
            rdp_cookie_count: 0,
            inspect_done: done,
        }
    }

    /// Runs one proxy's `tcp-request content` rules, reading from the
    /// client while a rule waits for data.
    async fn run<S: AsyncRead + Unpin>(
        &mut self,
        common: &ProxyCommon,
        client: &mut S,
        buf: &mut BytesMut,
        closed: &mut bool,
        vars: &mut Vars,
    ) -> Inspected {
        let rules = &common.tcp_request_content;
        let delay = rules.iter().find_map(|r| match r.action {
            TcpAction::InspectDelay(ms) => Some(ms),
            _ => None,
        });
        let deadline = delay.map(|ms| TokioInstant::now() + Duration::from_millis(ms));
        // HAProxy's first analysis already sees what arrived with the
        // connection (it reads before analysing); a client that speaks first
        // has its bytes there within a round trip. Give them that long, so
        // unconditional actions before a waiting rule (`set-var(…)
        // req.ssl_sni`) see them as in HAProxy; a server-first protocol pays
        // this once.
        if let Some(deadline) = deadline
            && buf.is_empty()
            && !*closed
        {
            let grace = (TokioInstant::now() + FIRST_DATA_GRACE).min(deadline);
            read_some(client, buf, self.limit, closed, grace).await;
        }
        let mut next = 0;
        loop {
            let done = deadline.is_none_or(|d| TokioInstant::now() >= d)
                || *closed
                || buf.len() >= self.limit;
            let content = self.content(buf, done);
            match self.evaluate(rules, &common.acls, next, &content, vars) {
                Step::Accept => return Inspected::Accept,
                Step::Reject => return Inspected::Reject,
                Step::Wait(at) => next = at,
            }
            // Wait for more data, at most until the deadline.
            let Some(deadline) = deadline else {
                return Inspected::Accept;
            };
            read_some(client, buf, self.limit, closed, deadline).await;
        }
    }

    /// Evaluates the rules from index `from`.
    fn evaluate(
        &self,
        rules: &[TcpRule],
        acls: &[NamedAcl],
        from: usize,
        content: &ContentFacts,
        vars: &mut Vars,
    ) -> Step {
        // HTTP fetches read the buffer as an HTTP/1 request, as HAProxy 2.6
        // does in `mode tcp`.
        let head = super::h1head::parse(&content.data);
        for (i, rule) in rules.iter().enumerate().skip(from) {
            if matches!(rule.action, TcpAction::InspectDelay(_)) {
                continue;
            }
            let mut t = Txn::new(self.facts, vars);
            t.auth = self.auth;
            t.content = Some(content);
            t.req = head.parts();
            let holds = match &rule.cond {
                None => true,
                Some(_) if content.inspect_done => cond_holds(&rule.cond, acls, &mut t),
                Some(c) => {
                    let lookup = |name: &str| -> &[ir::expr::AclTerm] {
                        acls.iter()
                            .find(|a| a.name == name)
                            .map(|a| a.terms.as_slice())
                            .unwrap_or(&[])
                    };
                    match eval::eval_condition_partial(c, &lookup, &mut t) {
                        Some(b) => b,
                        None => return Step::Wait(i),
                    }
                }
            };
            if !holds {
                continue;
            }
            match &rule.action {
                TcpAction::Accept => return Step::Accept,
                TcpAction::Reject => return Step::Reject,
                TcpAction::SetVar { var, value } => {
                    if let Some(v) = eval::eval_sample(value, &mut t) {
                        vars.set(var, v);
                    }
                }
                TcpAction::UnsetVar(var) => {
                    vars.unset(var);
                }
                TcpAction::Stick(action) => {
                    // A key that more data could still give waits for it
                    // (HAProxy's track-sc with SMP_F_MAY_CHANGE).
                    if let ir::stick::StickAction::Track { key, .. } = action
                        && !content.inspect_done
                        && eval::sample_may_change(key, &t)
                        && eval::eval_sample(key, &mut t).is_none()
                    {
                        return Step::Wait(i);
                    }
                    super::stickrules::apply(action, &mut t, false)
                }
                // Connection-level only (refused elsewhere by lowering).
                TcpAction::ExpectProxy | TcpAction::InspectDelay(_) => {}
            }
        }
        // Nothing matched and nothing waits: the default is to accept.
        Step::Accept
    }
}

/// Reads what the client sends next into `buf` (at most up to `limit`),
/// waiting no later than `until`.
async fn read_some<S: AsyncRead + Unpin>(
    client: &mut S,
    buf: &mut BytesMut,
    limit: usize,
    closed: &mut bool,
    until: TokioInstant,
) {
    let room = limit.saturating_sub(buf.len()).max(1);
    let mut chunk = vec![0u8; room.min(DEFAULT_BUFSIZE)];
    match tokio::time::timeout_at(until, client.read(&mut chunk)).await {
        Err(_) => {}
        Ok(Ok(0)) | Ok(Err(_)) => *closed = true,
        Ok(Ok(n)) => buf.extend_from_slice(&chunk[..n]),
    }
}

/// The outcome of one pass over the content rules.
enum Step {
    Accept,
    Reject,
    /// A rule needs more data; resume at this index.
    Wait(usize),
}

/// Inactivity limits of the tunnel.
#[derive(Clone, Copy)]
struct Idle {
    /// `None`: no limit.
    limit: Option<Duration>,
    /// Who is blamed when it expires (`%ts` `cD` or `sD`).
    cause: TermCause,
}

impl Idle {
    /// `timeout tunnel` (the backend's) supersedes `timeout client` and
    /// `timeout server` once data flows; otherwise the shorter of the two
    /// bounds the time without any byte in either direction.
    fn of(fe: &ProxyCommon, be: &ProxyCommon) -> Idle {
        let tunnel = be.timeouts.tunnel.or(fe.timeouts.tunnel);
        if let Some(ms) = tunnel {
            return Idle {
                limit: Some(Duration::from_millis(ms)),
                cause: TermCause::ClientTimeout,
            };
        }
        match (fe.timeouts.client, be.timeouts.server) {
            (None, None) => Idle {
                limit: None,
                cause: TermCause::None,
            },
            (Some(c), s) if s.is_none_or(|s| c <= s) => Idle {
                limit: Some(Duration::from_millis(c)),
                cause: TermCause::ClientTimeout,
            },
            (_, s) => Idle {
                limit: s.map(Duration::from_millis),
                cause: TermCause::ServerTimeout,
            },
        }
    }
}

/// Copies bytes both ways until both sides have closed; a side's end of
/// stream becomes a shutdown of its peer's write side (half-close), an
/// error on either side ends both. Returns the bytes sent to the server
/// (the buffered `first` bytes included), to the client, and how it ended.
async fn tunnel<C, U>(
    client: C,
    server: U,
    first: Bytes,
    client_closed: bool,
    idle: Idle,
) -> (u64, u64, TermCause)
where
    C: AsyncRead + AsyncWrite + Unpin + Send,
    U: AsyncRead + AsyncWrite + Unpin + Send,
{
    let (mut cr, mut cw) = tokio::io::split(client);
    let (mut sr, mut sw) = tokio::io::split(server);
    let activity = Activity {
        base: Instant::now(),
        last_ms: AtomicU64::new(0),
    };
    let up = AtomicU64::new(0);
    let down = AtomicU64::new(0);
    let upstream = async {
        if !first.is_empty() {
            sw.write_all(&first)
                .await
                .map_err(|_| TermCause::ServerError)?;
            up.store(first.len() as u64, Ordering::Relaxed);
        }
        if !client_closed {
            let errs = (TermCause::ClientAbort, TermCause::ServerError);
            pump(&mut cr, &mut sw, &up, &activity, errs).await?;
        }
        let _ = sw.shutdown().await;
        Ok::<(), TermCause>(())
    };
    let downstream = async {
        let errs = (TermCause::ServerError, TermCause::ClientAbort);
        pump(&mut sr, &mut cw, &down, &activity, errs).await?;
        let _ = cw.shutdown().await;
        Ok::<(), TermCause>(())
    };
    let watchdog = async {
        let Some(limit) = idle.limit else {
            return std::future::pending::<TermCause>().await;
        };
        loop {
            let due = activity.last() + limit;
            if Instant::now() >= due {
                return idle.cause;
            }
            tokio::time::sleep_until(TokioInstant::from_std(due)).await;
        }
    };
    let end = tokio::select! {
        r = async { tokio::try_join!(upstream, downstream) } => match r {
            Ok(_) => TermCause::None,
            Err(cause) => cause,
        },
        cause = watchdog => cause,
    };
    (
        up.load(Ordering::Relaxed),
        down.load(Ordering::Relaxed),
        end,
    )
}

/// When bytes last moved in either direction.
struct Activity {
    base: Instant,
    last_ms: AtomicU64,
}

impl Activity {
    fn touch(&self) {
        let ms = u64::try_from(self.base.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    fn last(&self) -> Instant {
        self.base + Duration::from_millis(self.last_ms.load(Ordering::Relaxed))
    }
}

/// One direction: read, write, count, note the activity.
async fn pump<R, W>(
    r: &mut R,
    w: &mut W,
    count: &AtomicU64,
    activity: &Activity,
    (read_err, write_err): (TermCause, TermCause),
) -> Result<(), TermCause>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut buf = vec![0u8; DEFAULT_BUFSIZE];
    loop {
        let n = r.read(&mut buf).await.map_err(|_| read_err)?;
        if n == 0 {
            return Ok(());
        }
        activity.touch();
        w.write_all(&buf[..n]).await.map_err(|_| write_err)?;
        count.fetch_add(n as u64, Ordering::Relaxed);
        activity.touch();
    }
}
