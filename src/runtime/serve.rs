//! Accepting connections and serving HTTP/1.1 and h2 on them with hyper.
//!
//! The listening sockets are owned by [`SocketSet`] (outside any Generation);
//! each accepted connection takes the current Generation once and keeps it to
//! the end, so a reload swaps configurations without touching connections in
//! flight.

use super::errors::raw_page;
use super::eval::{Txn, UserAuth, Vars};
use super::facts::ConnFacts;
use super::facts::{FinState, LogFacts, TermCause};
use super::generation::ConnTls;
use super::generation::Generation;
use super::h1guard::{ErrorPages, Guard, GuardTimeouts};
use super::http::{ConnCtx, handle};
use super::listener::{BindError, BoundSocket, SocketOpts, SocketSet};
use super::proxyproto;
use super::tcprules;
use crate::ir;
use crate::tls::handshake;
use arc_swap::ArcSwap;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinHandle;

/// The listen backlog when neither the bind nor its frontend sets `backlog`.
pub const BACKLOG: i32 = 1024;

/// The socket setup of a bind. The listen queue is its `backlog`, else its
/// frontend's, else [`BACKLOG`] (the kernel caps it at `net.core.somaxconn`,
/// as for HAProxy).
pub fn socket_opts(bind: &ir::Bind) -> SocketOpts {
    SocketOpts {
        backlog: bind
            .backlog
            .and_then(|n| i32::try_from(n).ok())
            .unwrap_or(BACKLOG),
        tfo: bind.tfo,
    }
}

/// A running proxy: its listeners and the current Generation.
pub struct Proxy {
    current: Arc<ArcSwap<Generation>>,
    /// Address each listener is bound to (frontend name, address).
    pub local_addrs: Vec<(String, SocketAddr)>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

/// Why the proxy could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Build(#[from] super::generation::BuildError),
    #[error(transparent)]
    Admin(#[from] super::admin::AdminError),
    #[error("frontend '{frontend}': {source}")]
    Bind {
        frontend: String,
        #[source]
        source: BindError,
    },
    #[error("frontend '{frontend}': {source}")]
    Io {
        frontend: String,
        #[source]
        source: std::io::Error,
    },
}

impl Proxy {
    /// Builds the first Generation, binds every `bind` and starts accepting.
    /// Must be called inside a tokio runtime.
    pub async fn start(config: ir::Config, sockets: &mut SocketSet) -> Result<Proxy, StartError> {
        let mut generation = Generation::build(config)?;
        generation.start_health();
        generation.start_peers().map_err(|source| StartError::Io {
            frontend: "peers".to_string(),
            source,
        })?;
        let config = generation.config.clone();
        let current = Arc::new(ArcSwap::from_pointee(generation));
        let (stop, stop_rx) = watch::channel(false);
        let global_limit = config
            .global
            .maxconn
            .map(|n| Arc::new(Semaphore::new(n as usize)));
        let mut tasks = Vec::new();
        let mut local_addrs = Vec::new();
        for (fi, fe) in config.frontends.iter().enumerate() {
            let fe_limit = fe.maxconn.map(|n| Arc::new(Semaphore::new(n as usize)));
            for (bi, bind) in fe.binds.iter().enumerate() {
                for addr in &bind.addresses {
                    let sock = sockets
                        .get_or_bind(addr, socket_opts(bind))
                        .map_err(|source| StartError::Bind {
                            frontend: fe.common.name.clone(),
                            source,
                        })?;
                    let BoundSocket::Tcp(std_listener) = sock else {
                        return Err(StartError::Io {
                            frontend: fe.common.name.clone(),
                            source: std::io::Error::other(
                                "Unix listeners are not supported by the runtime yet",
                            ),
                        });
                    };
                    let listener =
                        TcpListener::from_std(std_listener).map_err(|source| StartError::Io {
                            frontend: fe.common.name.clone(),
                            source,
                        })?;
                    if let Ok(a) = listener.local_addr() {
                        local_addrs.push((fe.common.name.clone(), a));
                    }
                    let limits = Limits {
                        global: global_limit.clone(),
                        frontend: fe_limit.clone(),
                        bind: bind.maxconn.map(|n| Arc::new(Semaphore::new(n as usize))),
                    };
                    tasks.push(tokio::spawn(accept_loop(
                        listener,
                        current.clone(),
                        (fi, bi),
                        limits,
                        stop_rx.clone(),
                    )));
                }
            }
        }
        tasks.extend(super::admin::start(
            &config.global,
            current.clone(),
            stop_rx.clone(),
        )?);
        Ok(Proxy {
            current,
            local_addrs,
            stop,
            tasks,
        })
    }

    /// Replaces the running configuration; connections already accepted keep
    /// the Generation they started with.
    pub fn swap(&self, mut generation: Generation) {
        generation.start_health();
        self.current.store(Arc::new(generation));
    }

    /// Stops accepting and waits for the accept loops to end.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

/// `maxconn` at the process, frontend and bind levels.
#[derive(Clone)]
struct Limits {
    global: Option<Arc<Semaphore>>,
    frontend: Option<Arc<Semaphore>>,
    bind: Option<Arc<Semaphore>>,
}

async fn accept_loop(
    listener: TcpListener,
    current: Arc<ArcSwap<Generation>>,
    (frontend, bind): (usize, usize),
    limits: Limits,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        // Wait for a slot first: excess connections wait in the kernel backlog
        // as with HAProxy's maxconn.
        let mut permits = Vec::new();
        for sem in [&limits.global, &limits.frontend, &limits.bind]
            .into_iter()
            .flatten()
        {
            match sem.clone().acquire_owned().await {
                Ok(p) => permits.push(p),
                Err(_) => return,
            }
        }
        let accepted = tokio::select! {
            r = listener.accept() => r,
            _ = stop.changed() => return,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!("accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let generation = current.load_full();
        tokio::spawn(async move {
            let _permits = permits;
            serve_connection(stream, peer, generation, frontend, bind).await;
        });
    }
}

/// Serves one client connection until it closes: TLS handshake when the bind
/// has `ssl`, then HTTP/1.1 or h2.
async fn serve_connection(
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    generation: Arc<Generation>,
    frontend: usize,
    bind: usize,
) {
    let _ = stream.set_nodelay(true);
    let local = stream.local_addr().unwrap_or(peer);
    let fe = &generation.config.frontends[frontend];
    let t = &fe.common.timeouts;
    let idle = t.client.map(Duration::from_millis);
    let mut facts = ConnFacts {
        src: peer,
        dst: local,
        frontend: Arc::from(fe.common.name.as_str()),
        tls: None,
        accept_date: SystemTime::now(),
        conn_error: 0,
        proxy_header: None,
        lua: generation.lua.clone(),
    };
    // `tcp-request connection` rules see only layer-4 facts.
    let auth: &(dyn UserAuth + Sync) = &*generation;
    let mut conn_vars = Vars::new(generation.proc_vars.clone());
    // Stick counters tracked by tcp-request rules last as long as the session.
    let stick_session: Arc<std::sync::Mutex<super::stick::Slots>> = Arc::default();
    conn_vars.stick = Some(Arc::new(super::stick::StickCtx::new(
        generation.stick_tables.clone(),
        stick_session.clone(),
    )));
    let Some(expect_proxy) = tcprules::connection(
        &fe.common.tcp_request_connection,
        &fe.common.acls,
        &facts,
        auth,
        &mut conn_vars,
    ) else {
        return;
    };
    let mut stream = stream;
    let accept_proxy = fe.binds.get(bind).is_some_and(|b| b.accept_proxy);
    if (accept_proxy || expect_proxy) && !read_proxy_header(&mut stream, &mut facts, idle).await {
        return;
    }
    if fe.common.mode == ir::expr::Mode::Tcp {
        super::tcp::serve(stream, facts, conn_vars, generation, frontend, bind).await;
        return;
    }
    // `timeout client` on writes: a client that stops reading is cut. On
    // reads it is applied by the HTTP guard, which knows when the client is
    // expected to send.
    let mut timed = tokio_io_timeout::TimeoutStream::new(stream);
    timed.set_write_timeout(idle);
    let timed = Box::pin(timed);
    let tls_rt = generation
        .tls
        .get(frontend)
        .and_then(|b| b.get(bind))
        .cloned()
        .flatten();
    match tls_rt {
        None => {
            if !tcprules::allows(
                &fe.common.tcp_request_session,
                &fe.common.acls,
                &facts,
                auth,
                &mut conn_vars,
            ) {
                return;
            }
            if !tcprules::allows(
                &fe.common.tcp_request_content,
                &fe.common.acls,
                &facts,
                auth,
                &mut conn_vars,
            ) {
                return;
            }
            let ctx = Arc::new(ConnCtx::new(
                generation.clone(),
                frontend,
                facts,
                None,
                conn_vars.session(),
                stick_session.clone(),
            ));
            serve_http(timed, ctx, peer).await;
        }
        Some(rt) => {
            // The handshake is bounded like any client inactivity.
            let handshake = handshake::accept(timed, &rt);
            let accepted = match idle {
                Some(d) => match tokio::time::timeout(d, handshake).await {
                    Ok(r) => r,
                    Err(_) => {
                        tracing::info!("{peer}: TLS handshake timed out");
                        log_handshake_failure(&generation, frontend, bind, facts, None);
                        return;
                    }
                },
                None => handshake.await,
            };
            let (tls_stream, tls_facts, policy) = match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::info!("{peer}: TLS handshake failed (fc_err {}): {e}", e.fc_err());
                    log_handshake_failure(&generation, frontend, bind, facts, Some(&e));
                    return;
                }
            };
            facts.tls = Some(Arc::new(tls_facts));
            if !tcprules::allows(
                &fe.common.tcp_request_session,
                &fe.common.acls,
                &facts,
                auth,
                &mut conn_vars,
            ) {
                return;
            }
            if !tcprules::allows(
                &fe.common.tcp_request_content,
                &fe.common.acls,
                &facts,
                auth,
                &mut conn_vars,
            ) {
                return;
            }
            let ctx = Arc::new(ConnCtx::new(
                generation.clone(),
                frontend,
                facts,
                Some(ConnTls {
                    frontend,
                    bind,
                    policy,
                }),
                conn_vars.session(),
                stick_session.clone(),
            ));
            if tls_stream.get_ref().1.alpn_protocol() == Some(b"h2") {
                ctx.phase.pass_through();
            }
            serve_http(tls_stream, ctx, peer).await;
        }
    }
}

/// Reads the PROXY header of a connection (`accept-proxy`, `expect-proxy
/// layer4`) within `timeout client` (10 s without one), and takes the
/// addresses it names; `false` when the connection must be closed.
async fn read_proxy_header(
    stream: &mut tokio::net::TcpStream,
    facts: &mut ConnFacts,
    idle: Option<Duration>,
) -> bool {
    let limit = idle.unwrap_or(Duration::from_secs(10));
    match tokio::time::timeout(limit, proxyproto::read_header(stream)).await {
        Ok(Ok(received)) => {
            if let Some((src, dst)) = received.addrs {
                facts.src = src;
                facts.dst = dst;
            }
            facts.proxy_header = Some(Arc::new(received.facts));
            true
        }
        Ok(Err(e)) => {
            tracing::info!("{}: {e}", facts.src);
            false
        }
        Err(_) => {
            tracing::info!("{}: timed out waiting for the PROXY header", facts.src);
            false
        }
    }
}

/// Runs hyper's HTTP/1.1 + h2 server on a connection, behind the guard that
/// gives HTTP/1 HAProxy's request timeouts and error pages.
async fn serve_http<I>(io: I, ctx: Arc<ConnCtx>, peer: SocketAddr)
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let fe = &ctx.generation.config.frontends[ctx.frontend];
    let t = &fe.common.timeouts;
    let ms = |v: Option<u64>| v.map(Duration::from_millis);
    let request = ms(t.http_request.or(t.client));
    let timeouts = GuardTimeouts {
        request,
        keep_alive: ms(t.http_keep_alive).or(request),
        client: ms(t.client),
    };
    let errorfile = |status| {
        fe.common
            .errorfiles
            .iter()
            .find(|e| e.status == status)
            .map(|e| e.content.as_slice())
    };
    let pages = ErrorPages {
        bad_request: raw_page(errorfile(400), 400),
        timeout: raw_page(errorfile(408), 408),
        on_sent: Some(Box::new(log_refused_request(&ctx))),
    };
    let io = TokioIo::new(Guard::new(io, ctx.phase.clone(), timeouts, pages));
    let mut builder = auto::Builder::new(TokioExecutor::new());
    {
        let mut h1 = builder.http1();
        h1.timer(TokioTimer::new());
        // tune.bufsize - tune.maxrewrite and tune.http.maxhdr bound the request
        // head as in HAProxy (hyper's own floor for the buffer is 8 KiB).
        let global = &ctx.generation.config.global;
        h1.max_buf_size(global.max_request_head().max(8192));
        h1.max_headers(global.max_request_headers());
        // The guard owns the request timeouts (hyper's would close silently).
        h1.header_read_timeout(None);
    }
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(ctx.generation.config.global.max_request_head().max(8192) as u32);
    let service = {
        let ctx = ctx.clone();
        service_fn(move |req| handle(ctx.clone(), req))
    };
    if let Err(e) = builder.serve_connection_with_upgrades(io, service).await {
        tracing::debug!("connection from {peer} ended: {e}");
    }
}

/// The error-log line of a TLS handshake that failed (`None`: timed out,
/// fc_err 26), with the TLS facts HAProxy's fetches see on it.
pub(super) fn log_handshake_failure(
    generation: &Generation,
    frontend: usize,
    bind: usize,
    mut facts: ConnFacts,
    err: Option<&handshake::HandshakeError>,
) {
    let fe = &generation.config.frontends[frontend];
    facts.conn_error = err.map_or(26, handshake::HandshakeError::fc_err);
    facts.tls = Some(Arc::new(err.map(|e| e.facts()).unwrap_or_default()));
    let name = super::log::listener_name(fe, bind, facts.dst);
    super::log::conn_error(generation, &fe.common, &facts, &name);
}

/// The access-log line of a request the guard answered itself: HAProxy logs
/// `<BADREQ>` with 408 (`cR--`) or 400 (`PR--`), no timers but the total, and
/// skips connections that sent nothing under `option dontlognull`.
fn log_refused_request(ctx: &Arc<ConnCtx>) -> impl FnOnce(u16, bool) + Send + 'static {
    let generation = ctx.generation.clone();
    let frontend = ctx.frontend;
    let facts = ctx.facts.clone();
    let started = std::time::Instant::now();
    move |status, read_any| {
        let fe = &generation.config.frontends[frontend];
        if !read_any && fe.common.log.dont_log_null {
            return;
        }
        let mut log = LogFacts::new(&facts);
        log.status = i64::from(status);
        log.backend_is_http = true;
        log.timers.request = -1;
        log.timers.queue = -1;
        log.timers.connect = -1;
        log.timers.data = -1;
        log.timers.close = started.elapsed().as_millis() as i64;
        log.termination.cause = if status == 408 {
            TermCause::ClientTimeout
        } else {
            TermCause::ProxyCond
        };
        log.termination.state = FinState::Request;
        let mut vars = Vars::new(generation.proc_vars.clone());
        let mut txn = Txn::new(&facts, &mut vars);
        txn.log = Some(&log);
        // HAProxy logs these from the H1 mux with sess_log(), which prefers
        // the error-log-format.
        super::log::access_or_error(&generation, &fe.common, &mut txn);
    }
}
