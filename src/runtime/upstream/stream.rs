//! Server connections for `mode tcp`: the backend's balancing picks a
//! server, then one private connection carries the client's bytes as they
//! are (plain, or TLS / mTLS to the server, with `send-proxy` /
//! `send-proxy-v2` first). Connection failures are retried per `retries`
//! (on another server with `option redispatch`, on the last retry), as for
//! HTTP: nothing has been sent yet, so every try is safe. A retry waits
//! HAProxy's turn-around time first.

use super::{BackendRt, ServerRt, Sni};
use crate::ir::ProxyVersion;
use crate::runtime::balance::{InFlight, LbInput};
use crate::runtime::eval::{Txn, UserAuth, Vars, eval_sample};
use crate::runtime::facts::{ConnFacts, ContentFacts};
use crate::runtime::upstream_tls::{Upstream, proxy_v1_line, proxy_v2_header};
use rustls::pki_types::ServerName;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// The outcome of connecting a TCP session to its backend.
pub enum StreamConnect {
    Connected {
        io: Upstream,
        server: Arc<str>,
        /// Index of that server in the backend.
        idx: usize,
        addr: SocketAddr,
        /// Connection retries that were needed (`%rc`).
        retries: u32,
        /// Keeps the session counted against its server (`leastconn`).
        in_flight: InFlight,
    },
    /// No usable server, or every try failed: the session is closed
    /// (HAProxy's 503 in TCP terms).
    NoServer {
        server: Option<Arc<str>>,
        retries: u32,
    },
}

/// What a server connection of a TCP session reads: `sni <expr>` is
/// evaluated on the session (its buffered request bytes included),
/// `send-proxy` names the client's addresses.
pub struct StreamEnv<'a> {
    pub conn: &'a ConnFacts,
    pub vars: &'a mut Vars,
    pub auth: &'a (dyn UserAuth + Sync),
    pub content: &'a ContentFacts,
}

impl StreamEnv<'_> {
    fn eval_sni(&mut self, sample: &crate::ir::expr::Sample) -> Option<bytes::Bytes> {
        let mut t = Txn::new(self.conn, self.vars);
        t.auth = self.auth;
        t.content = Some(self.content);
        eval_sample(sample, &mut t).and_then(|v| v.into_text())
    }
}

impl BackendRt {
    /// The server `balance` picks for a TCP session: `source` hashes the
    /// client address; the algorithms that read HTTP (`uri`, `hdr`,
    /// `url_param`) have nothing to hash and fall back as HAProxy does.
    fn pick_stream(&self, env: &StreamEnv<'_>, avoid: Option<usize>) -> Option<usize> {
        let input = LbInput {
            src: Some(env.conn.src.ip()),
            uri: None,
            headers: None,
        };
        self.lb.pick(&input, avoid)
    }

    /// Connects to a server of this backend on behalf of a TCP session;
    /// `persist` is the server a stick table assigned (tried first).
    pub async fn connect_stream(
        &self,
        mut env: StreamEnv<'_>,
        persist: Option<usize>,
    ) -> StreamConnect {
        let first = persist
            .filter(|i| *i < self.servers.len())
            .or_else(|| self.pick_stream(&env, None));
        let Some(mut idx) = first else {
            return StreamConnect::NoServer {
                server: None,
                retries: 0,
            };
        };
        let mut attempt = 0u32;
        loop {
            let server = &self.servers[idx];
            // Counted for `leastconn` for as long as the session lasts.
            let in_flight = self.lb.take(idx);
            if let Some((io, addr)) = self.dial_stream(server, &mut env).await {
                return StreamConnect::Connected {
                    io,
                    server: server.name.clone(),
                    idx,
                    addr,
                    retries: attempt,
                    in_flight,
                };
            }
            drop(in_flight);
            attempt += 1;
            if attempt > self.retries {
                return StreamConnect::NoServer {
                    server: Some(server.name.clone()),
                    retries: attempt - 1,
                };
            }
            // HAProxy's turn-around timer before a retry: min(timeout
            // connect, 1 s), so a restarting server is not hammered.
            let link = &server.link;
            tokio::time::sleep(link.connect_timeout.min(Duration::from_secs(1))).await;
            if self.redispatch
                && attempt == self.retries
                && let Some(other) = self.pick_stream(&env, Some(idx))
            {
                idx = other;
            }
        }
    }

    async fn dial_stream(
        &self,
        server: &ServerRt,
        t: &mut StreamEnv<'_>,
    ) -> Option<(Upstream, std::net::SocketAddr)> {
        let link = &server.link;
        // No address: in maintenance for DNS resolution.
        let addr = server.target(Some(t.conn.dst))?;
        let sni = match (&link.tls, &link.sni) {
            (None, _) | (_, Sni::Absent) => None,
            (_, Sni::Fixed(name)) => Some(name.clone()),
            (_, Sni::Expr(sample)) => {
                let text = t.eval_sni(sample);
                // HAProxy hands OpenSSL a C string; empty means no SNI.
                let text = text
                    .as_deref()
                    .and_then(|b| b.split(|c| *c == 0).next())
                    .filter(|b| !b.is_empty())
                    .map(|b| String::from_utf8_lossy(b).into_owned());
                match text {
                    None => None,
                    Some(name) if ServerName::try_from(name.as_str()).is_ok() => {
                        Some(Arc::from(name.as_str()))
                    }
                    Some(name) => {
                        tracing::warn!(server = %server.name, sni = %name, "the server's 'sni' expression gave a value that is not a host name; not connecting");
                        return None;
                    }
                }
            }
        };
        let dialer = link.dialer(addr, sni.as_ref());
        let line = link.send_proxy.map(|v| match v {
            ProxyVersion::V1 => proxy_v1_line(t.conn.src, t.conn.dst),
            ProxyVersion::V2 => {
                let tlvs = crate::runtime::proxytlv::build(
                    &link.proxy_v2,
                    t.conn,
                    t.vars.unique_id.as_deref(),
                );
                proxy_v2_header(Some((t.conn.src, t.conn.dst)), &tlvs)
            }
        });
        match dialer.dial(line.as_deref()).await {
            Ok(io) => Some((io, addr)),
            Err(e) => {
                tracing::debug!(server = %server.name, error = %e, "connection to server failed");
                None
            }
        }
    }
}
