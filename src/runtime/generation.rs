//! A Generation: everything the running proxy needs, built once from the IR and
//! swapped atomically on reload. Connections hold the Generation they started
//! under, so a reload never changes the rules under a request in flight.

use super::auth::Userlists;
use super::errors::default_response;
use super::eval::ProcVars;
use super::health::{self, CheckSpec, HealthTasks};
use super::resolve;
use super::upstream::{BackendRt, UpstreamBuildError};
use crate::ir;
use crate::tls::server::{BindTlsRuntime, PolicyId, TlsBuildError};
use bytes::Bytes;
use http::Response;
use std::sync::Arc;

/// One immutable, ready-to-serve configuration.
pub struct Generation {
    pub config: Arc<ir::Config>,
    /// Same order as `config.backends`.
    pub backends: Vec<BackendRt>,
    /// `proc.*` variables live as long as the Generation.
    pub proc_vars: ProcVars,
    /// Credentials for `http_auth()`.
    pub userlists: Userlists,
    /// TLS of each bind, `tls[frontend][bind]` (`None` for clear binds).
    pub tls: Vec<Vec<Option<Arc<BindTlsRuntime>>>>,
    /// Health checks to start ([`Generation::start_health`]).
    checks: Vec<CheckSpec>,
    /// The running checks: aborted when the Generation is dropped.
    health: HealthTasks,
    /// Run-time DNS resolutions of servers to start.
    resolutions: Vec<resolve::ResolutionSpec>,
    /// The running resolutions: aborted when the Generation is dropped.
    resolve: resolve::ResolveTasks,
    /// Stick tables by proxy name; a reload starts them empty.
    pub stick_tables: crate::runtime::stick::Tables,
    /// Requests received so far, numbering them for `%rt`.
    pub requests: std::sync::atomic::AtomicU64,
    /// The Lua states (`lua-load`, `lua-load-per-thread`), when scripts are loaded.
    pub lua: Option<Arc<crate::lua::LuaRuntime>>,
    /// The `peers` sections synchronising stick tables.
    pub peers: Vec<Arc<super::peers::PeersRt>>,
    /// Their listeners and connectors: aborted when the Generation is dropped.
    peer_tasks: HealthTasks,
}

/// Why a Generation could not be built from a valid IR.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Upstream(#[from] UpstreamBuildError),
    #[error(
        "userlist '{list}', user '{user}': crypt(3) password hashes are not supported by the runtime yet (use insecure-password)"
    )]
    HashedPassword { list: String, user: String },
    #[error(
        "frontend '{frontend}' is in mode tcp and switches to backend '{backend}' in mode http: upgrading a TCP stream to HTTP is not supported by portcullis (put both in the same mode)"
    )]
    TcpToHttp { frontend: String, backend: String },
    #[error(transparent)]
    Lua(#[from] crate::lua::LuaError),
    #[error(transparent)]
    Peers(#[from] super::peers::PeersBuildError),
    #[error("frontend '{frontend}', bind '{bind}' ({origin}): {source}")]
    Tls {
        frontend: String,
        bind: String,
        origin: String,
        #[source]
        source: Box<TlsBuildError>,
    },
}

impl Generation {
    /// Builds the runtime state of a configuration.
    pub fn build(config: ir::Config) -> Result<Generation, BuildError> {
        let mut tls = Vec::new();
        for fe in &config.frontends {
            let mut per_bind = Vec::new();
            for b in &fe.binds {
                per_bind.push(match &b.tls {
                    Some(t) => Some(Arc::new(BindTlsRuntime::build(t).map_err(|source| {
                        BuildError::Tls {
                            frontend: fe.common.name.clone(),
                            bind: b.spec.clone(),
                            origin: b.origin.clone(),
                            source: Box::new(source),
                        }
                    })?)),
                    None => None,
                });
            }
            tls.push(per_bind);
        }
        tcp_to_http(&config)?;
        let userlists = Userlists(config.userlists.clone());
        if let Some((list, user)) = userlists.hashed_user() {
            return Err(BuildError::HashedPassword {
                list: list.to_string(),
                user: user.to_string(),
            });
        }
        let backends = config
            .backends
            .iter()
            .map(BackendRt::build)
            .collect::<Result<Vec<_>, _>>()?;
        let mut checks = Vec::new();
        for (be, rt) in config.backends.iter().zip(&backends) {
            let cells: Vec<_> = rt.servers.iter().map(|s| s.cell.clone()).collect();
            checks.extend(health::backend_checks(
                be,
                &rt.lb,
                &cells,
                &config.global.log,
            )?);
        }
        let resolutions = resolutions(&config, &backends);
        let mut stick_tables = std::collections::HashMap::new();
        let commons = config
            .frontends
            .iter()
            .map(|f| &f.common)
            .chain(config.backends.iter().map(|b| &b.common));
        for common in commons {
            if let Some(t) = &common.stick_table {
                stick_tables
                    .entry(t.name.clone())
                    .or_insert_with(|| crate::runtime::stick::Table::new(t.clone()));
            }
        }
        // One Lua state per worker thread, as many as `run` starts.
        let threads = config.global.nbthread.map_or_else(
            || std::thread::available_parallelism().map_or(1, |n| n.get()),
            |n| n as usize,
        );
        let lua = crate::lua::LuaRuntime::build(&config.global.lua, threads)?.map(Arc::new);
        for t in &config.peer_tables {
            stick_tables
                .entry(t.name.clone())
                .or_insert_with(|| crate::runtime::stick::Table::new(t.clone()));
        }
        let stick_tables: crate::runtime::stick::Tables = Arc::new(stick_tables);
        let peers = config
            .peers
            .iter()
            .map(|p| super::peers::PeersRt::build(p, &stick_tables).map(Arc::new))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Generation {
            lua,
            config: Arc::new(config),
            backends,
            proc_vars: ProcVars::new(),
            userlists,
            tls,
            checks,
            health: HealthTasks::default(),
            resolutions,
            resolve: resolve::ResolveTasks::default(),
            stick_tables,
            requests: std::sync::atomic::AtomicU64::new(0),
            peers,
            peer_tasks: HealthTasks::default(),
        })
    }

    /// Starts the health checks and the DNS resolutions of servers (inside
    /// a tokio runtime). They run until the Generation is dropped.
    pub fn start_health(&mut self) {
        let specs = std::mem::take(&mut self.checks);
        self.health = health::start(specs);
        let resolutions = std::mem::take(&mut self.resolutions);
        self.resolve = resolve::start(resolutions);
        // `core.register_init` functions run once the proxy runs (not at check).
        if let Some(lua) = &self.lua {
            lua.run_inits();
        }
    }

    /// Binds the peers listeners and starts the peers sessions (inside a
    /// tokio runtime). They run until the Generation is dropped.
    pub fn start_peers(&mut self) -> std::io::Result<()> {
        let mut tasks = Vec::new();
        for p in &self.peers {
            let listeners = super::peers::bind(p)?;
            tasks.extend(p.start(listeners));
        }
        self.peer_tasks = HealthTasks::from_handles(tasks);
        Ok(())
    }

    /// The 421 answer for a request whose Host is served under another
    /// client-verification policy than the one its TLS connection negotiated:
    /// a client must not pass a lax SNI's handshake and then ask for a host
    /// that requires a certificate (SNI/Host domain fronting). HAProxy needs
    /// hand-written rules for this; `no-strict-sni-host` on the bind turns it off.
    pub fn misdirected(
        &self,
        conn: &ConnTls,
        parts: &http::request::Parts,
    ) -> Option<Response<Bytes>> {
        let ConnTls {
            frontend,
            bind,
            policy,
        } = *conn;
        let rt = self.tls.get(frontend)?.get(bind)?.as_ref()?;
        let checks = self
            .config
            .frontends
            .get(frontend)?
            .binds
            .get(bind)?
            .tls
            .as_ref()?
            .sni_host_check;
        if !checks || rt.policy_count() < 2 {
            return None;
        }
        let host = parts.headers.get(http::header::HOST)?.to_str().ok()?;
        let name = strip_port(host).to_ascii_lowercase();
        if rt.policy_for_host(&name) == Some(policy) {
            return None;
        }
        Some(default_response(421))
    }
}

/// The resolutions of servers with `resolvers` and a host name (an IP
/// address is never resolved), one per (section, name, preferred family),
/// shared by the servers using it, as HAProxy shares them.
fn resolutions(config: &ir::Config, backends: &[BackendRt]) -> Vec<resolve::ResolutionSpec> {
    let mut specs: Vec<resolve::ResolutionSpec> = Vec::new();
    for (be, rt) in config.backends.iter().zip(backends) {
        let mut log = be.common.log.targets.clone();
        if be.common.log.global {
            log.extend(config.global.log.iter().cloned());
        }
        let host_of = |s: &ir::Server| match &s.address {
            ir::ServerAddr::Inet { host, port } if host.parse::<std::net::IpAddr>().is_err() => {
                Some((host.to_ascii_lowercase(), port.unwrap_or(0)))
            }
            _ => None,
        };
        for (si, (s, srt)) in be.servers.iter().zip(&rt.servers).enumerate() {
            let (Some(r), Some((host, port))) = (&s.resolve, host_of(s)) else {
                continue;
            };
            let Some(section) = config.resolvers.get(r.resolvers) else {
                continue;
            };
            let siblings = be
                .servers
                .iter()
                .zip(&rt.servers)
                .enumerate()
                .filter(|(j, (o, _))| *j != si && host_of(o).is_some_and(|(h, _)| h == host))
                .map(|(_, (_, ort))| ort.cell.clone())
                .collect();
            let member = resolve::Member {
                backend: rt.name.clone(),
                server: srt.name.clone(),
                idx: si,
                backup: s.backup,
                port,
                cell: srt.cell.clone(),
                lb: rt.lb.clone(),
                nets: r.nets.clone(),
                allow_dup_ip: r.allow_dup_ip,
                siblings,
                log: log.clone(),
            };
            match specs
                .iter_mut()
                .find(|sp| sp.section == section.name && sp.host == host && sp.prefer == r.prefer)
            {
                Some(sp) => sp.members.push(member),
                None => specs.push(resolve::ResolutionSpec {
                    section: section.name.clone(),
                    nameservers: section.nameservers.iter().map(|n| n.addr).collect(),
                    first_ns: section
                        .nameservers
                        .first()
                        .map_or_else(String::new, |n| n.name.clone()),
                    payload: section.accepted_payload_size,
                    retries: section.resolve_retries,
                    timeout_resolve: std::time::Duration::from_millis(section.timeout_resolve),
                    timeout_retry: std::time::Duration::from_millis(section.timeout_retry),
                    hold: section.hold,
                    host,
                    prefer: r.prefer,
                    members: vec![member],
                }),
            }
        }
    }
    specs
}

/// HAProxy 2.6 upgrades a `mode tcp` stream to HTTP when it switches to a
/// `mode http` backend (so `check` accepts it, as `haproxy -c` does);
/// portcullis does not, and must not splice HTTP bytes past the backend's
/// HTTP rules, so `run` refuses such a configuration by name.
fn tcp_to_http(config: &ir::Config) -> Result<(), BuildError> {
    for fe in &config.frontends {
        if fe.common.mode != ir::expr::Mode::Tcp {
            continue;
        }
        let targets = fe
            .use_backend
            .iter()
            .filter_map(|u| match u.target {
                ir::BackendTarget::Static(i) => Some(i),
                ir::BackendTarget::Dynamic(_) => None,
            })
            .chain(fe.default_backend);
        for i in targets {
            if let Some(be) = config.backends.get(i)
                && be.common.mode == ir::expr::Mode::Http
            {
                return Err(BuildError::TcpToHttp {
                    frontend: fe.common.name.clone(),
                    backend: be.common.name.clone(),
                });
            }
        }
    }
    Ok(())
}

/// Where a TLS connection was accepted and which policy it negotiated.
#[derive(Clone, Copy, Debug)]
pub struct ConnTls {
    pub frontend: usize,
    pub bind: usize,
    pub policy: PolicyId,
}

/// `host:port` → `host` (IPv6 literals keep their brackets).
fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host
            .split_once(']')
            .map_or(host, |(h, _)| h)
            .trim_start_matches('[');
    }
    host.split_once(':').map_or(host, |(h, _)| h)
}

/// What rules may ask the running configuration: its userlists
/// (`http_auth`) and its servers' state (`nbsrv`).
impl super::eval::UserAuth for Generation {
    fn check_user(&self, userlist: &str, user: &[u8], pass: &[u8]) -> bool {
        self.userlists.check_user(userlist, user, pass)
    }

    fn user_in_group(&self, userlist: &str, user: &[u8], group: &str) -> bool {
        self.userlists.user_in_group(userlist, user, group)
    }

    fn usable_servers(&self, proxy: &str) -> i64 {
        self.backends
            .iter()
            .find(|b| &*b.name == proxy)
            .map_or(0, |b| b.lb.usable_servers() as i64)
    }
}
