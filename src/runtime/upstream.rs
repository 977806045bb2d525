//! Forwarding requests to backend servers over HTTP/1.1 with connection reuse,
//! `balance roundrobin`, `retries`/`option redispatch`, `timeout connect` and
//! `timeout server`, and HAProxy's 502/503/504 outcomes.
//!
//! Built once per Generation: one pooled client per backend (the pool is keyed
//! by server address, so each server has its own idle connections).

use crate::ir::{self, ServerAddr};
use bytes::Bytes;
use http::{Request, Response, Uri};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// HAProxy's default `timeout connect` is infinite; a bound keeps a dead server
/// from holding requests forever when the config sets none (check warns).
const FALLBACK_CONNECT: Duration = Duration::from_secs(30);

/// One server ready to receive requests.
pub struct ServerRt {
    pub name: Arc<str>,
    pub addr: SocketAddr,
    /// `scheme://addr` prefix for request URIs.
    authority: String,
    pub weight: u32,
    pub backup: bool,
    pub disabled: bool,
}

/// One backend: its servers, balancing state and pooled client.
pub struct BackendRt {
    pub name: Arc<str>,
    pub servers: Vec<ServerRt>,
    next: AtomicUsize,
    client: Client<HttpConnector, UpBody>,
    retries: u32,
    redispatch: bool,
    server_timeout: Option<Duration>,
}

/// Why a backend cannot be built (a server name that no longer resolves).
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
}

/// The outcome of forwarding one request.
pub enum Forwarded {
    /// The server answered.
    Response {
        res: Response<Incoming>,
        server: Arc<str>,
        addr: SocketAddr,
    },
    /// No server could be reached: HAProxy answers 503.
    NoServer { server: Option<Arc<str>> },
    /// The server did not answer in time: 504.
    Timeout { server: Arc<str> },
    /// The server's answer was not valid HTTP: 502.
    BadResponse { server: Arc<str> },
}

impl BackendRt {
    /// Prepares a backend; resolves server names once, as HAProxy does at startup.
    pub fn build(be: &ir::Backend) -> Result<BackendRt, UpstreamBuildError> {
        let name: Arc<str> = Arc::from(be.common.name.as_str());
        let mut servers = Vec::new();
        for s in &be.servers {
            if s.tls.is_some() {
                return Err(UpstreamBuildError::Unsupported {
                    backend: be.common.name.clone(),
                    server: s.name.clone(),
                    what: "TLS to servers ('ssl')",
                });
            }
            if s.send_proxy {
                return Err(UpstreamBuildError::Unsupported {
                    backend: be.common.name.clone(),
                    server: s.name.clone(),
                    what: "'send-proxy'",
                });
            }
            let addr = match &s.address {
                ServerAddr::Inet { host, port } => {
                    let port = port.unwrap_or(80);
                    (host.as_str(), port)
                        .to_socket_addrs()
                        .ok()
                        .and_then(|mut a| a.next())
                        .ok_or_else(|| UpstreamBuildError::Resolve {
                            backend: be.common.name.clone(),
                            server: s.name.clone(),
                            host: host.clone(),
                        })?
                }
                ServerAddr::Unix(_) => {
                    return Err(UpstreamBuildError::Unsupported {
                        backend: be.common.name.clone(),
                        server: s.name.clone(),
                        what: "Unix socket servers",
                    });
                }
            };
            servers.push(ServerRt {
                name: Arc::from(s.name.as_str()),
                addr,
                authority: format!("http://{addr}"),
                weight: s.weight,
                backup: s.backup,
                disabled: s.disabled,
            });
        }
        let t = &be.common.timeouts;
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(
            t.connect
                .map(Duration::from_millis)
                .unwrap_or(FALLBACK_CONNECT),
        ));
        connector.set_nodelay(true);
        let mut builder = Client::builder(TokioExecutor::new());
        builder
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(Duration::from_secs(30));
        if be.common.http_server_close {
            builder.pool_max_idle_per_host(0);
        }
        Ok(BackendRt {
            name,
            servers,
            next: AtomicUsize::new(0),
            client: builder.build(connector),
            retries: be.retries,
            redispatch: be.redispatch.is_some(),
            server_timeout: t.server.map(Duration::from_millis),
        })
    }

    /// Picks the next usable server, round robin weighted by position (servers
    /// with weight 0, disabled ones and backups while a normal one exists are
    /// skipped, as HAProxy does).
    fn pick(&self) -> Option<&ServerRt> {
        let usable = |backup: bool| -> Vec<&ServerRt> {
            self.servers
                .iter()
                .filter(|s| !s.disabled && s.weight > 0 && s.backup == backup)
                .collect()
        };
        let mut pool = usable(false);
        if pool.is_empty() {
            // Only the first backup is used, as HAProxy does without `option allbackups`.
            pool = usable(true).into_iter().take(1).collect();
        }
        if pool.is_empty() {
            return None;
        }
        let total: u32 = pool.iter().map(|s| s.weight).sum();
        let mut slot =
            (self.next.fetch_add(1, Ordering::Relaxed) as u64 % total.max(1) as u64) as u32;
        for s in &pool {
            if slot < s.weight {
                return Some(s);
            }
            slot -= s.weight;
        }
        pool.first().copied()
    }

    /// Sends a request to a server of this backend. Connection failures are
    /// retried up to `retries` times (on another server with `option
    /// redispatch`) when the request has no body to replay.
    pub async fn forward(&self, parts: http::request::Parts, body: UpBody) -> Forwarded {
        let Some(mut server) = self.pick() else {
            return Forwarded::NoServer { server: None };
        };
        let replayable = is_bodiless(&parts);
        let mut body = Some(body);
        let mut attempt = 0u32;
        loop {
            let b = body.take().unwrap_or_else(empty_body);
            let mut req = Request::from_parts(parts.clone(), b);
            *req.uri_mut() = upstream_uri(&server.authority, req.uri());
            // Servers are spoken to in HTTP/1.1 whatever the client used.
            *req.version_mut() = http::Version::HTTP_11;
            let fut = self.client.request(req);
            let res = match self.server_timeout {
                Some(t) => match tokio::time::timeout(t, fut).await {
                    Ok(r) => r,
                    Err(_) => {
                        return Forwarded::Timeout {
                            server: server.name.clone(),
                        };
                    }
                },
                None => fut.await,
            };
            match res {
                Ok(res) => {
                    return Forwarded::Response {
                        res,
                        server: server.name.clone(),
                        addr: server.addr,
                    };
                }
                Err(e) if e.is_connect() => {
                    attempt += 1;
                    if attempt > self.retries || !replayable {
                        return Forwarded::NoServer {
                            server: Some(server.name.clone()),
                        };
                    }
                    // HAProxy redispatches on the last retry only by default.
                    if self.redispatch
                        && attempt == self.retries
                        && let Some(other) = self.pick()
                    {
                        server = other;
                    }
                }
                Err(_) => {
                    return Forwarded::BadResponse {
                        server: server.name.clone(),
                    };
                }
            }
        }
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

/// Rebuilds the request URI for the server: origin-form path and query on the
/// server's authority (absolute-form client URIs are reduced the same way).
fn upstream_uri(authority: &str, uri: &Uri) -> Uri {
    let pq = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    format!("{authority}{pq}")
        .parse()
        .unwrap_or_else(|_| Uri::from_static("/"))
}
