//! Forwarding requests to backend servers over HTTP/1.1 (or HTTP/2 when a
//! TLS server's ALPN settles on it), with connection reuse, `balance
//! roundrobin`, `retries`/`option redispatch`, `timeout connect` and
//! `timeout server`, TLS and mTLS to servers (`ssl`, `crt`, `sni`,
//! `verify`…), `send-proxy`, and HAProxy's 502/503/504 outcomes.
//!
//! Built once per Generation. Each server has pooled clients keyed by the
//! SNI its connections carry (HAProxy 2.6 never reuses a connection under
//! another SNI either); `send-proxy` servers get a private connection per
//! request instead, since the PROXY line names one client.
//!
//! Outcomes as in HAProxy: a failure to connect — TCP, the PROXY line, or
//! the TLS handshake including certificate verification — is a connection
//! error, retried per `retries`, then 503; a server that breaks the exchange
//! once the request went out (e.g. TLS 1.3's certificate_required alert
//! when no `crt` was presented) gives 502; no answer within `timeout
//! server` (counted from the moment a connection is available) gives 504.

use super::balance::{Lb, LbInput};
use super::eval::{ProcVars, Txn, UserAuth, Vars, eval_sample};
use super::facts::{BackendTlsFacts, ConnFacts};
use super::proxytlv;
use super::resolve::{AddrCell, init_addr};
use super::upstream_tls::{Dialer, PROXY_UNKNOWN, proxy_v1_line, proxy_v2_header};
use crate::ir::ProxyVersion;
use crate::ir::expr::{Fetch, Sample};
use crate::ir::{self, ServerAddr};
use crate::tls::client::{ClientTlsError, ServerTlsConfigs};
use bytes::Bytes;
use http::uri::Authority;
use http::{Request, Response, Uri};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::capture_connection;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use rustls::pki_types::ServerName;
use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

mod stream;
pub use stream::{StreamConnect, StreamEnv};

/// HAProxy's default `timeout connect` is infinite; a bound keeps a dead server
/// from holding requests forever when the config sets none (check warns).
const FALLBACK_CONNECT: Duration = Duration::from_secs(30);

/// At most this many SNI values keep a pool per server; past it the pools
/// are dropped and rebuilt (a Host-dependent SNI must not grow memory
/// without bound).
const MAX_SNI_POOLS: usize = 256;

/// One server ready to receive requests.
pub struct ServerRt {
    pub name: Arc<str>,
    /// The current address (`None`: in maintenance for DNS resolution);
    /// run-time resolution changes it. Port 0 when the server line gives
    /// none.
    pub cell: Arc<AddrCell>,
    /// No port (or port 0) on the server line: connect to the port the
    /// client connected to (`dst_port`, which `set-dst-port` may change).
    pub map_port: bool,
    pub weight: u32,
    pub backup: bool,
    pub disabled: bool,
    link: Link,
}

/// How requests reach one server.
struct Link {
    connect_timeout: Duration,
    tls: Option<ServerTlsConfigs>,
    sni: Sni,
    send_proxy: Option<ProxyVersion>,
    /// `proxy-v2-options`: the TLVs of a v2 header.
    proxy_v2: ir::ProxyV2Options,
    /// `option http-server-close` / `http-reuse never`: no idle connection
    /// is kept.
    no_reuse: bool,
    /// `pool-max-conn` / `pool-purge-delay`.
    pool: ir::ServerPool,
    /// Pooled clients by SNI (`None`: no SNI sent) and destination (which
    /// varies for a server without a port).
    pools: Mutex<HashMap<PoolKey, UpClient>>,
}

impl ServerRt {
    /// The server's current address.
    pub fn addr(&self) -> Option<SocketAddr> {
        self.cell.get()
    }
}

/// What separates pools of one server: the SNI sent (`None`: none) and the
/// destination.
type PoolKey = (Option<Arc<str>>, SocketAddr);

/// hyper-util's pooled client over our connector.
type UpClient = Client<Dialer, UpBody>;

/// The `sni` of a TLS server.
enum Sni {
    /// No `sni`: none is sent (HAProxy 2.6 default).
    Absent,
    /// `sni str(name)`: fixed.
    Fixed(Arc<str>),
    /// Any other expression, evaluated on each request (`req.hdr(host)`).
    Expr(Box<Sample>),
}

/// One backend: its servers and balancing state.
pub struct BackendRt {
    pub name: Arc<str>,
    pub servers: Vec<ServerRt>,
    /// Server selection (`balance`, health states), shared with the checks.
    pub lb: Arc<Lb>,
    retries: u32,
    redispatch: bool,
    server_timeout: Option<Duration>,
    /// Cookie persistence (`cookie`), with each server's value.
    pub cookie: Option<crate::runtime::persist::CookieRt>,
}

/// Why a backend cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamBuildError {
    #[error("backend '{backend}', server '{server}': cannot resolve '{host}'")]
    Resolve {
        backend: String,
        server: String,
        host: String,
    },
    #[error("backend '{backend}', server '{server}': {what} is not supported by the runtime yet")]
    Unsupported {
        backend: String,
        server: String,
        what: &'static str,
    },
    #[error(transparent)]
    Tls(#[from] ClientTlsError),
    #[error("{at}: 'sni' gives '{value}', which is not a host name or an IP address")]
    BadSni { at: String, value: String },
}

/// The outcome of forwarding one request.
pub enum Forwarded {
    /// The server answered; `tls` describes the TLS connection that carried
    /// the answer (`ssl_bc_*`, `ssl_s_*`), `None` for a clear one.
    Response {
        res: Response<Incoming>,
        server: Arc<str>,
        /// Index of that server in the backend.
        idx: usize,
        addr: SocketAddr,
        tls: Option<Arc<BackendTlsFacts>>,
    },
    /// No server could be reached: HAProxy answers 503.
    NoServer { server: Option<Arc<str>> },
    /// The server did not answer in time: 504.
    Timeout { server: Arc<str> },
    /// The server's answer was not valid HTTP: 502.
    BadResponse { server: Arc<str> },
}

/// What request-dependent server settings read: `sni <expr>` is evaluated
/// like any sample of the request, `send-proxy` names the client's
/// addresses.
struct ReqEnv<'a> {
    conn: &'a ConnFacts,
    vars: &'a mut Vars,
    auth: &'a (dyn UserAuth + Sync),
}

/// One try at one server.
enum Attempt {
    /// Boxed: a response head is large next to `ConnectFailed`.
    Done(Box<Forwarded>),
    /// Connecting failed (TCP, PROXY line, TLS handshake or verification):
    /// retried per `retries`.
    ConnectFailed,
}

impl Attempt {
    fn done(outcome: Forwarded) -> Attempt {
        Attempt::Done(Box::new(outcome))
    }
}

impl BackendRt {
    /// Prepares a backend; resolves server names once, as HAProxy does at
    /// startup, and builds every TLS client config (so `check` and reload
    /// report TLS problems).
    pub fn build(be: &ir::Backend) -> Result<BackendRt, UpstreamBuildError> {
        let name: Arc<str> = Arc::from(be.common.name.as_str());
        let t = &be.common.timeouts;
        let connect_timeout = t
            .connect
            .map(Duration::from_millis)
            .unwrap_or(FALLBACK_CONNECT);
        let mut servers = Vec::new();
        for s in &be.servers {
            let addr = match &s.address {
                ServerAddr::Inet { host, port } => {
                    let port = port.unwrap_or(0);
                    let prefer = s.resolve.as_ref().map(|r| r.prefer).unwrap_or_default();
                    match init_addr(host, port, &s.init_addr, prefer) {
                        Ok(a) => a,
                        Err(_) => {
                            return Err(UpstreamBuildError::Resolve {
                                backend: be.common.name.clone(),
                                server: s.name.clone(),
                                host: host.clone(),
                            });
                        }
                    }
                }
                ServerAddr::Unix(_) => {
                    return Err(UpstreamBuildError::Unsupported {
                        backend: be.common.name.clone(),
                        server: s.name.clone(),
                        what: "Unix socket servers",
                    });
                }
            };
            let at = format!(
                "backend '{}', server '{}' ({})",
                be.common.name, s.name, s.origin
            );
            let (tls, sni) = match &s.tls {
                None => (None, Sni::Absent),
                Some(t) => (
                    Some(ServerTlsConfigs::build(t, &at)?),
                    match &t.sni {
                        None => Sni::Absent,
                        Some(sample) => sni_of(sample, &at)?,
                    },
                ),
            };
            servers.push(ServerRt {
                name: Arc::from(s.name.as_str()),
                cell: Arc::new(AddrCell::new(addr)),
                map_port: matches!(s.address, ServerAddr::Inet { port: None, .. }),
                weight: s.weight,
                backup: s.backup,
                disabled: s.disabled,
                link: Link {
                    connect_timeout,
                    tls,
                    sni,
                    send_proxy: s.send_proxy,
                    proxy_v2: s.proxy_v2,
                    no_reuse: no_reuse(be),
                    pool: s.pool,
                    pools: Mutex::new(HashMap::new()),
                },
            });
        }
        let lb = Arc::new(Lb::new(
            be.balance.clone(),
            be.lb,
            be.servers
                .iter()
                .map(|s| (s.weight, s.backup, s.disabled, s.maxconn))
                .collect(),
        ));
        // `init-addr none`: in maintenance until a resolution gives one.
        for (i, s) in servers.iter().enumerate() {
            if s.addr().is_none() {
                lb.set_has_addr(i, false);
            }
        }
        // HAProxy recomputes a dynamic cookie when DNS changes the address;
        // portcullis computes it once, so it refuses the combination.
        if let Some(c) = &be.persist.cookie
            && c.dynamic
            && let Some(s) = be.servers.iter().find(|s| s.resolve.is_some())
        {
            return Err(UpstreamBuildError::Unsupported {
                backend: be.common.name.clone(),
                server: s.name.clone(),
                what: "a dynamic cookie on a server resolved at run time ('resolvers')",
            });
        }
        let cookie = be.persist.cookie.as_ref().map(|c| {
            // HAProxy hashes the port of the server line (0 when it has none).
            let per_server: Vec<(Option<String>, SocketAddr)> = be
                .servers
                .iter()
                .zip(&servers)
                .map(|(s, rt)| {
                    let port = match &s.address {
                        ServerAddr::Inet { port, .. } => port.unwrap_or(0),
                        ServerAddr::Unix(_) => 0,
                    };
                    (
                        s.cookie.clone(),
                        // No address yet (`init-addr none`): unspecified.
                        SocketAddr::new(
                            rt.addr()
                                .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |a| a.ip()),
                            port,
                        ),
                    )
                })
                .collect();
            crate::runtime::persist::CookieRt::new(
                c,
                be.persist.force_down,
                be.persist.dynamic_cookie_key.as_deref(),
                &per_server,
            )
        });
        Ok(BackendRt {
            name,
            servers,
            lb,
            retries: be.retries,
            redispatch: be.redispatch.is_some(),
            server_timeout: t.server.map(Duration::from_millis),
            cookie,
        })
    }

    /// The server `balance` picks for this request among those the health
    /// checks consider up (see [`super::balance`]).
    fn pick(
        &self,
        parts: &http::request::Parts,
        env: Option<&ReqEnv<'_>>,
        avoid: Option<usize>,
    ) -> Option<usize> {
        let input = LbInput {
            src: env.map(|e| e.conn.src.ip()),
            uri: Some(parts.uri.path_and_query().map_or("/", |p| p.as_str())),
            headers: Some(&parts.headers),
        };
        self.lb.pick(&input, avoid)
    }

    /// Sends a request to a server of this backend without client context:
    /// a request-dependent `sni` sees no connection facts and `send-proxy`
    /// sends `PROXY UNKNOWN`. The proxy itself uses [`BackendRt::forward_in`].
    pub async fn forward(&self, parts: http::request::Parts, body: UpBody) -> Forwarded {
        self.forward_with(parts, body, None, None).await
    }

    /// Sends a request to a server of this backend on behalf of a client
    /// (`conn`, `vars` and `auth` are what a request-dependent `sni` reads;
    /// `send-proxy` names `conn`'s addresses). Connection failures are
    /// retried up to `retries` times (on another server with `option
    /// redispatch`) when the request has no body to replay.
    pub async fn forward_in(
        &self,
        parts: http::request::Parts,
        body: UpBody,
        conn: &ConnFacts,
        vars: &mut Vars,
        auth: &(dyn UserAuth + Sync),
        persist: Option<usize>,
    ) -> Forwarded {
        let env = ReqEnv { conn, vars, auth };
        self.forward_with(parts, body, Some(env), persist).await
    }

    /// `persist`: the server a persistence cookie or stick table assigned
    /// (tried first, whatever `balance` would pick; `option redispatch`
    /// may still move the last retry elsewhere).
    async fn forward_with(
        &self,
        parts: http::request::Parts,
        body: UpBody,
        mut env: Option<ReqEnv<'_>>,
        persist: Option<usize>,
    ) -> Forwarded {
        let first = persist
            .filter(|i| *i < self.servers.len())
            .or_else(|| self.pick(&parts, env.as_ref(), None));
        let Some(mut idx) = first else {
            return Forwarded::NoServer { server: None };
        };
        let replayable = is_bodiless(&parts);
        let mut body = Some(body);
        let mut attempt = 0u32;
        loop {
            let b = body.take().unwrap_or_else(empty_body);
            let server = &self.servers[idx];
            let in_flight = self.lb.take(idx);
            let outcome = self.attempt(server, &parts, b, env.as_mut()).await;
            drop(in_flight);
            match outcome {
                Attempt::Done(mut outcome) => {
                    if let Forwarded::Response { idx: served, .. } = outcome.as_mut() {
                        *served = idx;
                    }
                    return *outcome;
                }
                Attempt::ConnectFailed => {
                    attempt += 1;
                    if attempt > self.retries || !replayable {
                        return Forwarded::NoServer {
                            server: Some(server.name.clone()),
                        };
                    }
                    // HAProxy redispatches on the last retry only by default.
                    if self.redispatch
                        && attempt == self.retries
                        && let Some(other) = self.pick(&parts, env.as_ref(), Some(idx))
                    {
                        idx = other;
                    }
                }
            }
        }
    }

    async fn attempt(
        &self,
        server: &ServerRt,
        parts: &http::request::Parts,
        body: UpBody,
        env: Option<&mut ReqEnv<'_>>,
    ) -> Attempt {
        let link = &server.link;
        let conn_addrs = env.as_ref().map(|e| (e.conn.src, e.conn.dst));
        let tlvs = match (link.send_proxy, env.as_ref()) {
            (Some(ProxyVersion::V2), Some(e)) => {
                proxytlv::build(&link.proxy_v2, e.conn, e.vars.unique_id.as_deref())
            }
            _ => Vec::new(),
        };
        // No address: in maintenance for DNS resolution (not picked, unless
        // it lost it since).
        let Some(addr) = server.target(conn_addrs.map(|(_, dst)| dst)) else {
            return Attempt::ConnectFailed;
        };
        let sni = match link.sni_value(parts, env) {
            Ok(v) => v,
            Err(value) => {
                tracing::warn!(server = %server.name, sni = %value, "the server's 'sni' expression gave a value that is not a host name; not connecting");
                return Attempt::ConnectFailed;
            }
        };
        let dialer = link.dialer(addr, sni.as_ref());
        let mut req = Request::from_parts(parts.clone(), body);
        // Servers are spoken to in HTTP/1.1 (or h2 by ALPN) whatever the client used.
        *req.version_mut() = http::Version::HTTP_11;
        if let Some(version) = link.send_proxy {
            let line = match (version, conn_addrs) {
                (ProxyVersion::V1, Some((src, dst))) => proxy_v1_line(src, dst),
                (ProxyVersion::V1, None) => PROXY_UNKNOWN.as_bytes().to_vec(),
                (ProxyVersion::V2, addrs) => proxy_v2_header(addrs, &tlvs),
            };
            return self
                .private_exchange(server, addr, &dialer, &line, req, parts)
                .await;
        }
        *req.uri_mut() = link.uri(addr, parts);
        let client = link.client(sni, addr, dialer);
        self.pooled_exchange(server, addr, &client, req).await
    }

    /// Through the server's pool: `timeout server` runs from the moment a
    /// connection (new or idle) is assigned to the request.
    async fn pooled_exchange(
        &self,
        server: &ServerRt,
        addr: SocketAddr,
        client: &UpClient,
        mut req: Request<UpBody>,
    ) -> Attempt {
        let mut captured = capture_connection(&mut req);
        let fut = client.request(req);
        tokio::pin!(fut);
        let early = tokio::select! {
            biased;
            r = &mut fut => Some(r),
            _ = captured.wait_for_connection_metadata() => None,
        };
        let res = match early {
            Some(r) => r,
            None => match self.within_server_timeout(fut).await {
                Some(r) => r,
                None => {
                    return Attempt::done(Forwarded::Timeout {
                        server: server.name.clone(),
                    });
                }
            },
        };
        match res {
            Ok(res) => Attempt::done(Forwarded::Response {
                // The pool copies each connection's facts into the responses
                // it carries (see `Upstream::connected`).
                tls: res.extensions().get::<Arc<BackendTlsFacts>>().cloned(),
                res,
                server: server.name.clone(),
                // Set by `forward_with`, which knows the index.
                idx: 0,
                addr,
            }),
            Err(e) if e.is_connect() => {
                tracing::debug!(server = %server.name, error = ?e, "connection to server failed");
                Attempt::ConnectFailed
            }
            Err(e) => {
                tracing::debug!(server = %server.name, error = ?e, "server broke the exchange");
                Attempt::done(Forwarded::BadResponse {
                    server: server.name.clone(),
                })
            }
        }
    }

    /// A connection of its own (`send-proxy`): closed after this exchange.
    async fn private_exchange(
        &self,
        server: &ServerRt,
        addr: SocketAddr,
        dialer: &Dialer,
        proxy_line: &[u8],
        mut req: Request<UpBody>,
        parts: &http::request::Parts,
    ) -> Attempt {
        let conn = match dialer.dial(Some(proxy_line)).await {
            Ok(c) => c,
            Err(e) => {
                tracing::debug!(server = %server.name, error = %e, "connection to server failed");
                return Attempt::ConnectFailed;
            }
        };
        let h2 = conn.is_h2();
        let tls = conn.tls_facts();
        let io = TokioIo::new(conn);
        let res = if h2 {
            *req.uri_mut() = server.link.uri(addr, parts);
            let Ok((mut sender, conn)) =
                hyper::client::conn::http2::handshake(TokioExecutor::new(), io).await
            else {
                return Attempt::ConnectFailed;
            };
            tokio::spawn(async move {
                let _ = conn.await;
            });
            self.within_server_timeout(sender.send_request(req)).await
        } else {
            let pq = req.uri().path_and_query().map_or("/", |p| p.as_str());
            *req.uri_mut() = pq.parse().unwrap_or_else(|_| Uri::from_static("/"));
            let Ok((mut sender, conn)) = hyper::client::conn::http1::handshake(io).await else {
                return Attempt::ConnectFailed;
            };
            tokio::spawn(async move {
                let _ = conn.await;
            });
            self.within_server_timeout(sender.send_request(req)).await
        };
        match res {
            None => Attempt::done(Forwarded::Timeout {
                server: server.name.clone(),
            }),
            Some(Ok(res)) => Attempt::done(Forwarded::Response {
                res,
                server: server.name.clone(),
                // Set by `forward_with`, which knows the index.
                idx: 0,
                addr,
                tls,
            }),
            Some(Err(e)) => {
                tracing::debug!(server = %server.name, error = %e, "server broke the exchange");
                Attempt::done(Forwarded::BadResponse {
                    server: server.name.clone(),
                })
            }
        }
    }

    /// `None` when `timeout server` expires first.
    async fn within_server_timeout<F: Future>(&self, fut: F) -> Option<F::Output> {
        match self.server_timeout {
            Some(t) => tokio::time::timeout(t, fut).await.ok(),
            None => Some(fut.await),
        }
    }
}

impl ServerRt {
    /// Where to connect for a client connection whose destination is `dst`
    /// (`None`: no client, as for a check).
    /// `None` while the server has no address (DNS resolution).
    pub fn target(&self, dst: Option<SocketAddr>) -> Option<SocketAddr> {
        let addr = self.addr()?;
        Some(match dst {
            Some(dst) if self.map_port => SocketAddr::new(addr.ip(), dst.port()),
            _ => addr,
        })
    }
}

impl Link {
    /// The SNI of the next connection: `Ok(None)` when none is sent (no
    /// `sni`, or an expression giving nothing or an empty string, as
    /// HAProxy); `Err(value)` when the value cannot be sent.
    fn sni_value(
        &self,
        parts: &http::request::Parts,
        env: Option<&mut ReqEnv<'_>>,
    ) -> Result<Option<Arc<str>>, String> {
        if self.tls.is_none() {
            return Ok(None);
        }
        let sample = match &self.sni {
            Sni::Absent => return Ok(None),
            Sni::Fixed(name) => return Ok(Some(name.clone())),
            Sni::Expr(sample) => sample,
        };
        let value = match env {
            Some(env) => {
                let mut txn = Txn::new(env.conn, env.vars);
                txn.auth = env.auth;
                txn.req = Some(parts);
                eval_sample(sample, &mut txn)
            }
            None => {
                let conn = unknown_client();
                let mut vars = Vars::new(ProcVars::new());
                let mut txn = Txn::new(&conn, &mut vars);
                txn.req = Some(parts);
                eval_sample(sample, &mut txn)
            }
        };
        let Some(text) = value.and_then(|v| v.into_text()) else {
            return Ok(None);
        };
        // HAProxy hands OpenSSL a C string: it ends at the first NUL.
        let text = text.split(|b| *b == 0).next().unwrap_or_default();
        if text.is_empty() {
            return Ok(None);
        }
        let text = String::from_utf8_lossy(text);
        if ServerName::try_from(text.as_ref()).is_err() {
            return Err(text.into_owned());
        }
        Ok(Some(Arc::from(text.as_ref())))
    }

    /// The dialer of a connection carrying `sni`.
    fn dialer(&self, addr: SocketAddr, sni: Option<&Arc<str>>) -> Dialer {
        let Some(tls) = &self.tls else {
            return Dialer::plain(addr, self.connect_timeout);
        };
        // Checked by `sni_value`; without SNI the name only keys the session
        // cache (and is never sent: that config has SNI off).
        let name = sni
            .and_then(|s| ServerName::try_from(s.to_string()).ok())
            .unwrap_or_else(|| ServerName::IpAddress(addr.ip().into()));
        Dialer::tls(
            addr,
            self.connect_timeout,
            tls.config(sni.is_some()).clone(),
            name,
        )
    }

    /// The pooled client of connections to `addr` carrying `sni`.
    fn client(&self, sni: Option<Arc<str>>, addr: SocketAddr, dialer: Dialer) -> UpClient {
        let mut pools = self
            .pools
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let key = (sni, addr);
        if let Some(c) = pools.get(&key) {
            return c.clone();
        }
        if pools.len() >= MAX_SNI_POOLS {
            pools.clear();
        }
        let mut builder = Client::builder(TokioExecutor::new());
        let idle = self
            .pool
            .purge_delay
            .map_or(Duration::from_secs(30), Duration::from_millis);
        builder
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(idle);
        match (self.no_reuse, self.pool.max_idle) {
            (true, _) => {
                builder.pool_max_idle_per_host(0);
            }
            (false, Some(n)) => {
                builder.pool_max_idle_per_host(n);
            }
            (false, None) => {}
        }
        let client = builder.build(dialer);
        pools.insert(key, client.clone());
        client
    }

    /// The request URI for the server. The authority keys the pool and, on
    /// HTTP/2, becomes `:authority`: for servers whose ALPN offers h2 it is
    /// the request's Host (HAProxy builds `:authority` from it), otherwise
    /// the server's address.
    fn uri(&self, addr: SocketAddr, parts: &http::request::Parts) -> Uri {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        let offers_h2 = self.tls.as_ref().is_some_and(|t| t.offers_h2());
        let host = parts
            .headers
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .and_then(|h| h.parse::<Authority>().ok())
            .filter(|a| !a.as_str().contains('@'));
        let authority = match host {
            Some(a) if offers_h2 => a.to_string(),
            _ => addr.to_string(),
        };
        let pq = parts.uri.path_and_query().map_or("/", |p| p.as_str());
        format!("{scheme}://{authority}{pq}")
            .parse()
            .unwrap_or_else(|_| Uri::from_static("/"))
    }
}

/// The `sni` of a server: a fixed `str(name)` is checked once here.
/// Whether a backend keeps no idle server connection: a close mode, or
/// `http-reuse never` (HAProxy would still let the same client's next
/// request use the connection; portcullis closes it after the response).
fn no_reuse(be: &ir::Backend) -> bool {
    be.common.http_server_close
        || be.common.http_close
        || be.common.http_reuse == ir::HttpReuse::Never
}

fn sni_of(sample: &Sample, at: &str) -> Result<Sni, UpstreamBuildError> {
    match (&sample.fetch, sample.converters.is_empty()) {
        (Fetch::ConstStr(name), true) => {
            if name.is_empty() {
                return Ok(Sni::Absent);
            }
            if ServerName::try_from(name.as_str()).is_err() {
                return Err(UpstreamBuildError::BadSni {
                    at: at.to_string(),
                    value: name.clone(),
                });
            }
            Ok(Sni::Fixed(Arc::from(name.as_str())))
        }
        _ => Ok(Sni::Expr(Box::new(sample.clone()))),
    }
}

/// Connection facts when the client is unknown ([`BackendRt::forward`]).
fn unknown_client() -> ConnFacts {
    let none = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0);
    ConnFacts {
        src: none,
        dst: none,
        frontend: Arc::from(""),
        tls: None,
        accept_date: SystemTime::now(),
        conn_error: 0,
        proxy_header: None,
        lua: None,
    }
}

/// Body type sent to servers: the client's streamed body, or an empty one.
pub type UpBody = BoxBody<Bytes, hyper::Error>;

fn empty_body() -> UpBody {
    Empty::<Bytes>::new()
        .map_err(|never| match never {})
        .boxed()
}

fn is_bodiless(parts: &http::request::Parts) -> bool {
    !parts.headers.contains_key(http::header::CONTENT_LENGTH)
        && !parts.headers.contains_key(http::header::TRANSFER_ENCODING)
}
