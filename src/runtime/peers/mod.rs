//! Stick-table synchronisation with HAProxy's peers protocol 2.1 (the
//! `peers` section), over TCP or TLS, in both directions: the local peer
//! accepts the other peers on its `bind` and connects to each of them.
//!
//! A session starts with the text handshake (`HAProxyS 2.1`, the peer
//! names, a status code: 200 or 501..504), then exchanges binary messages:
//! table definitions, updates (each entry changed locally is pushed with its
//! update number), acknowledgements, full resynchronisation on request
//! (`RESYNCREQ` → every entry, then `RESYNCFINISHED`), heartbeats every 3 s.
//! A session silent for 10 s is closed; a lost peer is reconnected to every
//! 5 s. When both sides connect at once, the accepting side keeps the
//! incoming session and retries its own after a random delay, as HAProxy.

pub mod wire;

use crate::ir::{self, ListenAddr, ServerAddr};
use crate::runtime::stick::{Table, Tables, WireValue};
use crate::tls::client::ServerTlsConfigs;
use crate::tls::server::BindTlsRuntime;
use rustls::ClientConfig;
use rustls::pki_types::ServerName;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep, sleep_until, timeout};
use tokio_rustls::TlsConnector;
use wire::*;

/// HAProxy's PEER_HEARTBEAT_TIMEOUT: a heartbeat after 3 s without sending.
const HEARTBEAT: Duration = Duration::from_secs(3);
/// HAProxy's PEER_RECONNECT_TIMEOUT: how often a lost peer is retried.
const RECONNECT: Duration = Duration::from_secs(5);
/// A session that received nothing for this long is dead (HAProxy checks
/// aliveness every reconnect period, so it notices within 5 to 10 s).
const SILENCE: Duration = Duration::from_secs(10);
/// HAProxy's PEER_RESYNC_TIMEOUT: how long a fresh process tries to learn
/// the tables from a peer before serving what it has.
const RESYNC_TIMEOUT: Duration = Duration::from_secs(5);
/// The handshake must complete within this delay.
const HANDSHAKE: Duration = Duration::from_secs(5);
const PROTO: &str = "HAProxyS";

/// Why the peers of a configuration cannot run.
#[derive(Debug, thiserror::Error)]
pub enum PeersBuildError {
    #[error("peers section '{section}', peer '{peer}': cannot resolve '{host}'")]
    Resolve {
        section: String,
        peer: String,
        host: String,
    },
    #[error("peers section '{section}', peer '{peer}': {what} is not supported by portcullis")]
    Unsupported {
        section: String,
        peer: String,
        what: &'static str,
    },
    #[error("peers section '{section}': {0}", section = .1)]
    ClientTls(#[source] crate::tls::client::ClientTlsError, String),
    #[error("peers section '{section}': bind: {0}", section = .1)]
    BindTls(#[source] Box<crate::tls::server::TlsBuildError>, String),
}

/// A table as one peers section shares it.
struct Shared {
    table: Arc<Table>,
    /// The name on the wire: the table's name, without the `<section>/`
    /// prefix of tables declared in the section.
    wire_name: String,
}

/// What is kept about a remote peer across its sessions.
#[derive(Default)]
struct PeerState {
    /// The current session: its id and what stops it.
    session: Option<(u64, Arc<Notify>)>,
    /// Per table: the last update the peer acknowledged (pushes resume there).
    acked: Vec<u32>,
    /// No connection attempt before this instant.
    reconnect_at: Option<Instant>,
}

struct RemotePeer {
    name: String,
    addr: SocketAddr,
    tls: Option<Arc<ClientConfig>>,
    state: Mutex<PeerState>,
}

/// Learning the tables from a peer when the process starts.
struct Resync {
    done: bool,
    /// The session asked to teach us.
    assigned: Option<u64>,
    deadline: Instant,
}

/// One running `peers` section.
pub struct PeersRt {
    spec: ir::peers::Peers,
    tables: Vec<Shared>,
    remotes: Vec<Arc<RemotePeer>>,
    bind_tls: Option<Arc<BindTlsRuntime>>,
    resync: Mutex<Resync>,
    next_session: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A random delay in [50, 2050) ms, HAProxy's back-off after a collision.
fn collision_delay() -> Duration {
    use ring::rand::SecureRandom;
    let mut b = [0u8; 2];
    let _ = ring::rand::SystemRandom::new().fill(&mut b);
    Duration::from_millis(50 + (u16::from_be_bytes(b) % 2000) as u64)
}

impl PeersRt {
    /// Prepares a section: resolves the peers, builds their TLS configs.
    pub fn build(spec: &ir::peers::Peers, tables: &Tables) -> Result<PeersRt, PeersBuildError> {
        let prefix = format!("{}/", spec.name);
        let shared: Vec<Shared> = spec
            .tables
            .iter()
            .filter_map(|n| tables.get(n))
            .map(|t| Shared {
                table: t.clone(),
                wire_name: t
                    .spec
                    .name
                    .strip_prefix(&prefix)
                    .unwrap_or(&t.spec.name)
                    .to_string(),
            })
            .collect();
        let mut remotes = Vec::new();
        for s in &spec.remotes {
            let (host, port) = match &s.address {
                ServerAddr::Inet { host, port } => (host.clone(), port.unwrap_or(0)),
                ServerAddr::Unix(_) => {
                    return Err(PeersBuildError::Unsupported {
                        section: spec.name.clone(),
                        peer: s.name.clone(),
                        what: "a Unix socket peer",
                    });
                }
            };
            let addr = (host.as_str(), port)
                .to_socket_addrs()
                .ok()
                .and_then(|mut a| a.next())
                .ok_or_else(|| PeersBuildError::Resolve {
                    section: spec.name.clone(),
                    peer: s.name.clone(),
                    host: host.clone(),
                })?;
            let tls = match &s.tls {
                None => None,
                Some(t) => {
                    let at = format!("peer '{}' ({})", s.name, s.origin);
                    let c = ServerTlsConfigs::build(t, &at)
                        .map_err(|e| PeersBuildError::ClientTls(e, spec.name.clone()))?;
                    Some(c.config(t.sni.is_some()).clone())
                }
            };
            remotes.push(Arc::new(RemotePeer {
                name: s.name.clone(),
                addr,
                tls,
                state: Mutex::new(PeerState {
                    acked: vec![0; shared.len()],
                    ..PeerState::default()
                }),
            }));
        }
        let bind_tls = match spec.bind.as_ref().and_then(|b| b.tls.as_ref()) {
            Some(t) => Some(Arc::new(BindTlsRuntime::build(t).map_err(|e| {
                PeersBuildError::BindTls(Box::new(e), spec.name.clone())
            })?)),
            None => None,
        };
        Ok(PeersRt {
            spec: spec.clone(),
            tables: shared,
            remotes,
            bind_tls,
            resync: Mutex::new(Resync {
                done: false,
                assigned: None,
                deadline: Instant::now() + RESYNC_TIMEOUT,
            }),
            next_session: AtomicU64::new(1),
        })
    }

    /// The addresses the local peer listens on.
    pub fn listen_addrs(&self) -> Vec<SocketAddr> {
        let Some(b) = &self.spec.bind else {
            return Vec::new();
        };
        b.addresses
            .iter()
            .filter_map(|a| match a {
                ListenAddr::Inet { host, port } => Some(SocketAddr::new(
                    host.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
                    *port,
                )),
                ListenAddr::Unix(_) => None,
            })
            .collect()
    }

    /// Starts the listener (on already bound sockets) and the connectors.
    pub fn start(self: &Arc<Self>, listeners: Vec<TcpListener>) -> Vec<JoinHandle<()>> {
        let mut tasks = Vec::new();
        for l in listeners {
            let me = self.clone();
            tasks.push(tokio::spawn(async move { me.accept_loop(l).await }));
        }
        for r in &self.remotes {
            let me = self.clone();
            let r = r.clone();
            tasks.push(tokio::spawn(async move { me.connect_loop(r).await }));
        }
        tasks
    }

    async fn accept_loop(self: Arc<Self>, l: TcpListener) {
        loop {
            let Ok((tcp, from)) = l.accept().await else {
                sleep(Duration::from_millis(100)).await;
                continue;
            };
            let _ = tcp.set_nodelay(true);
            let me = self.clone();
            tokio::spawn(async move {
                match me.bind_tls.clone() {
                    None => me.accepted(tcp).await,
                    Some(t) => {
                        match timeout(HANDSHAKE, crate::tls::handshake::accept(tcp, &t)).await {
                            Ok(Ok((s, _, _))) => me.accepted(s).await,
                            Ok(Err(e)) => {
                                tracing::warn!(peers = %me.spec.name, %from, error = %e, "peer TLS handshake failed")
                            }
                            Err(_) => {}
                        }
                    }
                }
            });
        }
    }

    /// The accepting side of the handshake, then the session.
    async fn accepted<S: AsyncRead + AsyncWrite + Unpin>(self: Arc<Self>, s: S) {
        let mut c = Conn::new(s);
        let lines = timeout(HANDSHAKE, async {
            let a = c.line().await?;
            let b = c.line().await?;
            let d = c.line().await?;
            Some((a, b, d))
        })
        .await;
        let Ok(Some((version, host, from))) = lines else {
            return;
        };
        let status = self.check_hello(&version, &host, &from);
        let peer = match status {
            Ok(p) => p,
            Err(code) => {
                let _ = c.s.write_all(format!("{code}\n").as_bytes()).await;
                let _ = c.s.shutdown().await;
                return;
            }
        };
        let sid = self.next_session.fetch_add(1, Ordering::Relaxed);
        let kill = Arc::new(Notify::new());
        {
            let mut st = lock(&peer.state);
            if let Some((_, old)) = st.session.take() {
                // Both sides connected: keep this one, retry ours later.
                old.notify_one();
                st.reconnect_at = Some(Instant::now() + collision_delay());
            }
            st.session = Some((sid, kill.clone()));
        }
        if c.s.write_all(b"200\n").await.is_ok() {
            self.session(&peer, sid, &kill, c).await;
        }
        self.unregister(&peer, sid);
    }

    /// Checks the three hello lines; the peer, or the status code refusing it.
    fn check_hello(&self, version: &str, host: &str, from: &str) -> Result<Arc<RemotePeer>, u16> {
        let Some(v) = version
            .strip_prefix(PROTO)
            .and_then(|v| v.strip_prefix(' '))
        else {
            return Err(501);
        };
        let (maj, min) = v.split_once('.').ok_or(502u16)?;
        if maj.parse::<u32>() != Ok(2) || min.parse::<u32>().map_or(true, |m| m > 1) {
            return Err(502);
        }
        if host != self.spec.local {
            return Err(503);
        }
        let (name, _) = from.split_once(' ').ok_or(501u16)?;
        self.remotes
            .iter()
            .find(|r| r.name == name)
            .cloned()
            .ok_or(504)
    }

    fn unregister(&self, peer: &RemotePeer, sid: u64) {
        let mut st = lock(&peer.state);
        if st.session.as_ref().is_some_and(|(id, _)| *id == sid) {
            st.session = None;
        }
        let mut r = lock(&self.resync);
        if r.assigned == Some(sid) {
            r.assigned = None;
        }
    }

    /// Connects to a remote peer whenever no session with it is up.
    async fn connect_loop(self: Arc<Self>, peer: Arc<RemotePeer>) {
        loop {
            let wait = {
                let st = lock(&peer.state);
                if st.session.is_some() {
                    Some(Instant::now() + Duration::from_millis(200))
                } else {
                    st.reconnect_at.filter(|t| *t > Instant::now())
                }
            };
            if let Some(t) = wait {
                sleep_until(t).await;
                continue;
            }
            let sid = self.next_session.fetch_add(1, Ordering::Relaxed);
            let kill = Arc::new(Notify::new());
            {
                let mut st = lock(&peer.state);
                if st.session.is_some() {
                    continue;
                }
                st.session = Some((sid, kill.clone()));
                st.reconnect_at = Some(Instant::now() + RECONNECT);
            }
            tokio::select! {
                _ = kill.notified() => {}
                _ = self.clone().connect_once(&peer, sid, &kill) => {}
            }
            self.unregister(&peer, sid);
        }
    }

    async fn connect_once(self: Arc<Self>, peer: &Arc<RemotePeer>, sid: u64, kill: &Arc<Notify>) {
        let tcp = match timeout(HANDSHAKE, TcpStream::connect(peer.addr)).await {
            Ok(Ok(t)) => t,
            _ => return,
        };
        let _ = tcp.set_nodelay(true);
        match &peer.tls {
            None => self.connected(peer, sid, kill, tcp).await,
            Some(cfg) => {
                let name = ServerName::IpAddress(peer.addr.ip().into());
                match timeout(
                    HANDSHAKE,
                    TlsConnector::from(cfg.clone()).connect(name, tcp),
                )
                .await
                {
                    Ok(Ok(s)) => self.connected(peer, sid, kill, s).await,
                    Ok(Err(e)) => {
                        tracing::warn!(peers = %self.spec.name, peer = %peer.name, error = %e, "TLS handshake with peer failed")
                    }
                    Err(_) => {}
                }
            }
        }
    }

    /// The connecting side of the handshake, then the session.
    async fn connected<S: AsyncRead + AsyncWrite + Unpin>(
        &self,
        peer: &Arc<RemotePeer>,
        sid: u64,
        kill: &Arc<Notify>,
        s: S,
    ) {
        let mut c = Conn::new(s);
        let hello = format!(
            "{PROTO} 2.1\n{}\n{} {} 1\n",
            peer.name,
            self.spec.local,
            std::process::id()
        );
        if c.s.write_all(hello.as_bytes()).await.is_err() {
            return;
        }
        let status = match timeout(HANDSHAKE, c.line()).await {
            Ok(Some(l)) => l,
            _ => return,
        };
        if status.trim() != "200" {
            tracing::warn!(peers = %self.spec.name, peer = %peer.name, %status, "peer refused the session");
            return;
        }
        self.session(peer, sid, kill, c).await;
    }

    /// Exchanges messages until the peer goes, falls silent, errs or the
    /// session is replaced.
    async fn session<S: AsyncRead + AsyncWrite + Unpin>(
        &self,
        peer: &Arc<RemotePeer>,
        sid: u64,
        kill: &Arc<Notify>,
        mut c: Conn<S>,
    ) {
        tracing::debug!(peers = %self.spec.name, peer = %peer.name, "peer session established");
        let mut s = Session {
            last_pushed: lock(&peer.state).acked.clone(),
            tx_table: None,
            remote: Vec::new(),
            rx_table: None,
            confirms: 0,
            out: Vec::new(),
        };
        let mut last_rx = Instant::now();
        let mut last_tx = Instant::now();
        let mut poll = tokio::time::interval(Duration::from_millis(50));
        loop {
            self.request_resync(&mut s, sid);
            self.push_updates(&mut s);
            s.flush_acks();
            while s.confirms > 0 {
                s.out
                    .extend_from_slice(&[CLASS_CONTROL, CTRL_RESYNCCONFIRM]);
                s.confirms -= 1;
            }
            if Instant::now() >= last_tx + HEARTBEAT && s.out.is_empty() {
                s.out.extend_from_slice(&[CLASS_CONTROL, CTRL_HEARTBEAT]);
            }
            if !s.out.is_empty() {
                if c.s.write_all(&s.out).await.is_err() || c.s.flush().await.is_err() {
                    return;
                }
                s.out.clear();
                last_tx = Instant::now();
            }
            let mut tmp = [0u8; 8192];
            tokio::select! {
                _ = kill.notified() => return,
                r = c.s.read(&mut tmp) => match r {
                    Ok(0) | Err(_) => return,
                    Ok(n) => {
                        last_rx = Instant::now();
                        c.buf.extend_from_slice(&tmp[..n]);
                        loop {
                            match next_message(&c.buf) {
                                Parsed::Incomplete => break,
                                Parsed::TooBig => {
                                    let _ = c.s.write_all(&[CLASS_ERROR, ERR_SIZELIMIT]).await;
                                    return;
                                }
                                Parsed::Message { class, kind, body, len } => {
                                    let body = body.to_vec();
                                    c.buf.drain(..len);
                                    if !self.handle(peer, sid, &mut s, class, kind, &body) {
                                        s.out.extend_from_slice(&[CLASS_ERROR, ERR_PROTOCOL]);
                                        let _ = c.s.write_all(&s.out).await;
                                        return;
                                    }
                                }
                            }
                        }
                    }
                },
                _ = poll.tick() => {}
                _ = sleep_until(last_rx + SILENCE) => return,
            }
        }
    }

    /// Asks this session's peer for a full resync when the process has not
    /// learnt the tables yet and nobody else is teaching.
    fn request_resync(&self, s: &mut Session, sid: u64) {
        let mut r = lock(&self.resync);
        if r.done || self.tables.is_empty() {
            return;
        }
        if Instant::now() >= r.deadline && r.assigned.is_none() {
            r.done = true;
            return;
        }
        if r.assigned.is_none() {
            r.assigned = Some(sid);
            s.out.extend_from_slice(&[CLASS_CONTROL, CTRL_RESYNCREQ]);
        }
    }

    /// Queues the entries changed locally since the last push.
    fn push_updates(&self, s: &mut Session) {
        for (i, t) in self.tables.iter().enumerate() {
            let now = *t.table.watch_updates().borrow();
            if now == s.last_pushed[i] {
                continue;
            }
            let changed = t.table.changed_since(s.last_pushed[i], now, 1000);
            if changed.is_empty() {
                s.last_pushed[i] = now;
                continue;
            }
            s.switch_to(i, t);
            for e in &changed {
                s.out.extend_from_slice(&update(&t.table.spec, e, false));
                s.last_pushed[i] = e.upd;
            }
        }
    }

    /// Handles one message; `false` on a protocol error.
    fn handle(
        &self,
        peer: &Arc<RemotePeer>,
        sid: u64,
        s: &mut Session,
        class: u8,
        kind: u8,
        body: &[u8],
    ) -> bool {
        match (class, kind) {
            (CLASS_CONTROL, CTRL_RESYNCREQ) => {
                // Teach everything, then say so.
                for (i, t) in self.tables.iter().enumerate() {
                    let upto = *t.table.watch_updates().borrow();
                    s.tx_table = None;
                    s.switch_to(i, t);
                    for e in t.table.all_entries() {
                        s.out.extend_from_slice(&update(&t.table.spec, &e, true));
                    }
                    s.last_pushed[i] = upto;
                }
                s.out
                    .extend_from_slice(&[CLASS_CONTROL, CTRL_RESYNCFINISHED]);
            }
            (CLASS_CONTROL, CTRL_RESYNCFINISHED | CTRL_RESYNCPARTIAL) => {
                let mut r = lock(&self.resync);
                if r.assigned == Some(sid) {
                    r.assigned = None;
                    r.done = true;
                }
                s.confirms += 1;
            }
            (CLASS_CONTROL, _) => {}
            (CLASS_ERROR, _) => return false,
            (CLASS_STICKTABLE, STKT_DEFINE) => {
                let Some(rt) = parse_define(body) else {
                    return false;
                };
                s.remote.retain(|r| r.def.remote_id != rt.remote_id);
                let local = self.tables.iter().position(|t| {
                    t.wire_name.as_bytes() == rt.name.as_slice()
                        && key_type(t.table.spec.key) == (rt.key_type, rt.key_size)
                });
                s.rx_table = local.map(|_| rt.remote_id);
                s.remote.push(RemoteState {
                    def: rt,
                    local,
                    last_get: 0,
                    last_acked: 0,
                });
            }
            (CLASS_STICKTABLE, STKT_SWITCH) => {
                let Some(id) = parse_switch(body) else {
                    return false;
                };
                s.rx_table = s
                    .remote
                    .iter()
                    .find(|r| r.def.remote_id == id && r.local.is_some())
                    .map(|r| r.def.remote_id);
            }
            (
                CLASS_STICKTABLE,
                STKT_UPDATE | STKT_INCUPDATE | STKT_UPDATE_TIMED | STKT_INCUPDATE_TIMED,
            ) => {
                let Some(rs) = s
                    .rx_table
                    .and_then(|id| s.remote.iter_mut().find(|r| r.def.remote_id == id))
                else {
                    return true;
                };
                let Some(li) = rs.local else {
                    return true;
                };
                let table = &self.tables[li].table;
                let Some(u) = parse_update(body, kind, &rs.def, table.spec.key) else {
                    return false;
                };
                rs.last_get = u.upd.unwrap_or(rs.last_get.wrapping_add(1));
                let values: Vec<_> = u
                    .values
                    .iter()
                    .filter_map(|(id, v)| {
                        let st = table
                            .spec
                            .store
                            .iter()
                            .copied()
                            .find(|t| data_type_id(*t) == *id)?;
                        let same_shape = matches!(
                            (st.period().is_some(), v),
                            (true, WireValue::Rate { .. }) | (false, WireValue::Count(_))
                        );
                        same_shape.then_some((st, *v))
                    })
                    .collect();
                table.apply_remote(u.key, &values, u.expire_in);
            }
            (CLASS_STICKTABLE, STKT_ACK) => {
                let Some((id, last)) = parse_ack(body) else {
                    return false;
                };
                if let Some(i) = (id as usize).checked_sub(1)
                    && let Some(a) = lock(&peer.state).acked.get_mut(i)
                {
                    *a = last;
                }
            }
            (CLASS_STICKTABLE, _) => {}
            (CLASS_RESERVED, _) => return false,
            _ => {}
        }
        true
    }
}

struct RemoteState {
    def: RemoteTable,
    /// The local table it maps to (same name, key type and size).
    local: Option<usize>,
    last_get: u32,
    last_acked: u32,
}

/// The state of one session.
struct Session {
    /// Per local table: the last update number sent.
    last_pushed: Vec<u32>,
    /// The local table the peer believes updates are for.
    tx_table: Option<usize>,
    remote: Vec<RemoteState>,
    /// The remote table received updates are for.
    rx_table: Option<u64>,
    /// RESYNCCONFIRM messages owed.
    confirms: u32,
    out: Vec<u8>,
}

impl Session {
    /// Defines table `i` to the peer before updates for it (HAProxy sends
    /// the definition each time it switches tables).
    fn switch_to(&mut self, i: usize, t: &Shared) {
        if self.tx_table != Some(i) {
            self.out
                .extend_from_slice(&define(i as u64 + 1, &t.wire_name, &t.table.spec));
            self.tx_table = Some(i);
        }
    }

    fn flush_acks(&mut self) {
        for r in &mut self.remote {
            if r.last_get != r.last_acked {
                self.out
                    .extend_from_slice(&ack(r.def.remote_id, r.last_get));
                r.last_acked = r.last_get;
            }
        }
    }
}

/// A connection with its unread bytes.
struct Conn<S> {
    s: S,
    buf: Vec<u8>,
}

impl<S: AsyncRead + Unpin> Conn<S> {
    fn new(s: S) -> Self {
        Conn { s, buf: Vec::new() }
    }

    /// One handshake line, without its `\n`; `None` on EOF or a line over
    /// 1 KiB.
    async fn line(&mut self) -> Option<String> {
        loop {
            if let Some(i) = self.buf.iter().position(|b| *b == b'\n') {
                let l: Vec<u8> = self.buf.drain(..=i).collect();
                let l = String::from_utf8_lossy(&l[..i]);
                return Some(l.trim_end_matches('\r').to_string());
            }
            if self.buf.len() > 1024 {
                return None;
            }
            let mut tmp = [0u8; 1024];
            match self.s.read(&mut tmp).await {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.buf.extend_from_slice(&tmp[..n]),
            }
        }
    }
}

enum Parsed<'a> {
    Incomplete,
    TooBig,
    Message {
        class: u8,
        kind: u8,
        body: &'a [u8],
        /// Bytes the whole message takes.
        len: usize,
    },
}

/// Splits the next message off a buffer.
fn next_message(buf: &[u8]) -> Parsed<'_> {
    let (Some(&class), Some(&kind)) = (buf.first(), buf.get(1)) else {
        return Parsed::Incomplete;
    };
    if kind & 0x80 == 0 {
        return Parsed::Message {
            class,
            kind,
            body: &[],
            len: 2,
        };
    }
    let mut pos = 2;
    let Some(n) = get_varint(buf, &mut pos) else {
        return if buf.len() > 12 {
            Parsed::TooBig
        } else {
            Parsed::Incomplete
        };
    };
    if n > MAX_MESSAGE {
        return Parsed::TooBig;
    }
    let end = pos + n as usize;
    match buf.get(pos..end) {
        Some(body) => Parsed::Message {
            class,
            kind,
            body,
            len: end,
        },
        None => Parsed::Incomplete,
    }
}

/// Binds the peers listeners (before privileges are dropped).
pub fn bind(p: &PeersRt) -> io::Result<Vec<TcpListener>> {
    p.listen_addrs()
        .into_iter()
        .map(|a| {
            let l = std::net::TcpListener::bind(a)?;
            l.set_nonblocking(true)?;
            TcpListener::from_std(l)
        })
        .collect()
}
