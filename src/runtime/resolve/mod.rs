//! Run-time resolution of server names (`resolvers` sections, HAProxy 2.6
//! section 5.3), owned by the Generation like the health checks: its tasks
//! are aborted when the Generation is dropped, so a reload starts afresh and
//! nothing lives in global state.
//!
//! One task per (section, name, preferred family) resolves the name every
//! `timeout resolve` (HAProxy 2.6's pace: `hold valid` only serves
//! `do-resolve`) and hands the answer to every server using it:
//! - a valid answer gives each server an address by HAProxy's score
//!   (`resolv_get_ip_from_response`): the preferred family +8, a
//!   `resolve-net` network +4, an address no other server of the backend
//!   with the same name uses +2 (without `allow-dup-ip` a used address is
//!   not eligible at all), the server's current address +1; the first best
//!   wins. Addresses missing from the answer stay eligible for `hold
//!   obsolete`. No eligible address puts the server in maintenance ("No IP
//!   for server").
//! - an error (NX, refused, timeout, other) takes the address away and puts
//!   the server in maintenance once no valid answer came for the matching
//!   `hold` period.
//!
//! A server's address lives in an [`AddrCell`] shared with the upstream, the
//! health checks and the stats: new connections use the new address (pools
//! are keyed by destination, so idle connections to the old one are no
//! longer used and expire).

pub mod dns;

use super::balance::Lb;
use super::log;
use crate::ir::{self, AddrFamily, IpNet, LogTarget};
use dns::{Failure, Settings};
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// The current address of a server; `None` while it has none (maintenance).
#[derive(Debug, Default)]
pub struct AddrCell(RwLock<Option<SocketAddr>>);

impl AddrCell {
    pub fn new(addr: Option<SocketAddr>) -> AddrCell {
        AddrCell(RwLock::new(addr))
    }

    pub fn get(&self) -> Option<SocketAddr> {
        *self.0.read().unwrap_or_else(|p| p.into_inner())
    }

    pub fn set(&self, addr: Option<SocketAddr>) {
        *self.0.write().unwrap_or_else(|p| p.into_inner()) = addr;
    }
}

/// The startup address by `init-addr` (`last` gives nothing: there is no
/// server-state file): `Ok(None)` for `none`, `Err` when no method gives an
/// address. `prefer` picks among the system resolver's answers.
pub fn init_addr(
    host: &str,
    port: u16,
    methods: &[ir::InitAddr],
    prefer: AddrFamily,
) -> Result<Option<SocketAddr>, NoAddress> {
    for m in methods {
        match m {
            ir::InitAddr::Last => {}
            ir::InitAddr::Libc => {
                if let Ok(ip) = host.parse::<IpAddr>() {
                    return Ok(Some(SocketAddr::new(ip, port)));
                }
                let Ok(addrs) = (host, port).to_socket_addrs() else {
                    continue;
                };
                let addrs: Vec<SocketAddr> = addrs.collect();
                let want_v4 = prefer == AddrFamily::Ipv4;
                if let Some(a) = addrs
                    .iter()
                    .find(|a| a.is_ipv4() == want_v4)
                    .or(addrs.first())
                {
                    return Ok(Some(*a));
                }
            }
            ir::InitAddr::None => return Ok(None),
            ir::InitAddr::Ip(ip) => return Ok(Some(SocketAddr::new(*ip, port))),
        }
    }
    Err(NoAddress)
}

/// No `init-addr` method gave an address.
#[derive(Debug, thiserror::Error)]
#[error("no init-addr method gave an address")]
pub struct NoAddress;

/// One server fed by a resolution.
pub struct Member {
    pub backend: Arc<str>,
    pub server: Arc<str>,
    pub idx: usize,
    pub backup: bool,
    pub port: u16,
    pub cell: Arc<AddrCell>,
    pub lb: Arc<Lb>,
    pub nets: Vec<IpNet>,
    pub allow_dup_ip: bool,
    /// The other servers of the backend resolving the same name.
    pub siblings: Vec<Arc<AddrCell>>,
    pub log: Vec<LogTarget>,
}

/// One resolution task to start.
pub struct ResolutionSpec {
    pub section: String,
    pub nameservers: Vec<SocketAddr>,
    /// Name of the name server credited in the log ("by dns/a").
    pub first_ns: String,
    pub payload: u16,
    pub retries: u32,
    pub timeout_resolve: Duration,
    pub timeout_retry: Duration,
    pub hold: ir::ResolverHold,
    pub host: String,
    pub prefer: AddrFamily,
    pub members: Vec<Member>,
}

/// The running resolutions of a Generation; aborted when dropped.
#[derive(Default)]
pub struct ResolveTasks(Vec<JoinHandle<()>>);

impl Drop for ResolveTasks {
    fn drop(&mut self) {
        for t in &self.0 {
            t.abort();
        }
    }
}

/// Spawns the resolutions (inside a tokio runtime).
pub fn start(specs: Vec<ResolutionSpec>) -> ResolveTasks {
    ResolveTasks(specs.into_iter().map(|s| tokio::spawn(run(s))).collect())
}

async fn run(spec: ResolutionSpec) {
    let mut last_valid = Instant::now();
    // Addresses seen in answers, with when they were last seen (`hold obsolete`).
    let mut seen: Vec<(IpAddr, Instant)> = Vec::new();
    let settings = Settings {
        nameservers: &spec.nameservers,
        payload: spec.payload,
        retries: spec.retries,
        retry: spec.timeout_retry,
    };
    loop {
        let result = dns::resolve(&settings, &spec.host, spec.prefer).await;
        let now = Instant::now();
        match result {
            Ok(ips) => {
                last_valid = now;
                for ip in &ips {
                    match seen.iter_mut().find(|(s, _)| s == ip) {
                        Some(e) => e.1 = now,
                        None => seen.push((*ip, now)),
                    }
                }
                let obsolete = Duration::from_millis(spec.hold.obsolete);
                seen.retain(|(_, t)| now.duration_since(*t) <= obsolete);
                let candidates: Vec<IpAddr> = seen.iter().map(|(ip, _)| *ip).collect();
                for m in &spec.members {
                    apply_answer(&spec, m, &candidates);
                }
            }
            Err(f) => {
                let hold = match f {
                    Failure::Nx => spec.hold.nx,
                    Failure::Refused => spec.hold.refused,
                    Failure::Timeout => spec.hold.timeout,
                    Failure::Other => spec.hold.other,
                };
                if now.duration_since(last_valid) >= Duration::from_millis(hold) {
                    seen.clear();
                    for m in &spec.members {
                        take_address(m, f.reason());
                    }
                }
            }
        }
        tokio::time::sleep(spec.timeout_resolve).await;
    }
}

/// HAProxy's choice among the answer's addresses for one server.
pub fn pick(
    candidates: &[IpAddr],
    prefer: AddrFamily,
    nets: &[IpNet],
    allow_dup_ip: bool,
    used_by_others: &[IpAddr],
    current: Option<IpAddr>,
) -> Option<IpAddr> {
    let mut best: Option<(u32, IpAddr)> = None;
    for ip in candidates {
        let mut score = 0;
        if ip.is_ipv4() == (prefer == AddrFamily::Ipv4) {
            score += 8;
        }
        if nets.iter().any(|n| in_net(*ip, n)) {
            score += 4;
        }
        if used_by_others.contains(ip) {
            if !allow_dup_ip {
                continue;
            }
        } else {
            score += 2;
        }
        if current == Some(*ip) {
            score += 1;
        }
        if best.is_none_or(|(b, _)| score > b) {
            best = Some((score, *ip));
        }
    }
    best.map(|(_, ip)| ip)
}

fn in_net(ip: IpAddr, net: &IpNet) -> bool {
    match (ip, net.addr) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let bits = u32::from(net.prefix.min(32));
            let mask = if bits == 0 {
                0
            } else {
                u32::MAX << (32 - bits)
            };
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let bits = u32::from(net.prefix.min(128));
            let mask = if bits == 0 {
                0
            } else {
                u128::MAX << (128 - bits)
            };
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

fn apply_answer(spec: &ResolutionSpec, m: &Member, candidates: &[IpAddr]) {
    let current = m.cell.get();
    let used: Vec<IpAddr> = m
        .siblings
        .iter()
        .filter_map(|c| c.get().map(|a| a.ip()))
        .collect();
    let Some(ip) = pick(
        candidates,
        spec.prefer,
        &m.nets,
        m.allow_dup_ip,
        &used,
        current.map(|a| a.ip()),
    ) else {
        take_address(m, "No IP for server ");
        return;
    };
    let new = SocketAddr::new(ip, m.port);
    if current == Some(new) {
        return;
    }
    let from = current.map_or_else(|| "(none)".to_string(), |a| a.ip().to_string());
    announce(
        &m.log,
        4,
        &format!(
            "{}/{} changed its IP from {from} to {ip} by {}/{}",
            m.backend, m.server, spec.section, spec.first_ns
        ),
    );
    m.cell.set(Some(new));
    if current.is_none() {
        m.lb.set_has_addr(m.idx, true);
        let who = format!(
            "{}Server {}/{}",
            if m.backup { "Backup " } else { "" },
            m.backend,
            m.server
        );
        announce(
            &m.log,
            5,
            &format!("{who} ('{}') is UP/READY (resolves again)", spec.host),
        );
        announce(
            &m.log,
            5,
            &format!("{who} administratively READY thanks to valid DNS answer"),
        );
    }
}

/// Puts a server in maintenance without an address (`SRV_ADMF_RMAINT`).
fn take_address(m: &Member, reason: &str) {
    if m.cell.get().is_none() && !m.lb.has_addr(m.idx) {
        return;
    }
    m.cell.set(None);
    let (active, backup) = m.lb.set_has_addr(m.idx, false);
    announce(
        &m.log,
        1,
        &format!(
            "{}Server {}/{} is going DOWN for maintenance ({}). {active} active and {backup} backup servers left. {} sessions active, 0 requeued, 0 remaining in queue",
            if m.backup { "Backup " } else { "" },
            m.backend,
            m.server,
            reason.trim_end(),
            m.lb.inflight(m.idx)
        ),
    );
    if active == 0 && backup == 0 {
        eprintln!(
            "[ALERT]    ({}) : backend '{}' has no server available!",
            std::process::id(),
            m.backend
        );
        log::event(
            &m.log,
            0,
            format!("backend {} has no server available!", m.backend).as_bytes(),
        );
    }
}

/// As HAProxy: a `[WARNING]` on stderr and a log line at `severity`.
fn announce(targets: &[LogTarget], severity: u8, line: &str) {
    eprintln!("[WARNING]  ({}) : {line}.", std::process::id());
    log::event(targets, severity, format!("{line}.").as_bytes());
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn preferred_family_then_network_then_unused_then_current() {
        let c = [ip("10.0.0.1"), ip("::1"), ip("192.168.0.1")];
        assert_eq!(
            pick(&c, AddrFamily::Ipv6, &[], false, &[], None),
            Some(ip("::1"))
        );
        assert_eq!(
            pick(&c, AddrFamily::Ipv4, &[], false, &[], None),
            Some(ip("10.0.0.1"))
        );
        let net = IpNet {
            addr: ip("192.168.0.0"),
            prefix: 16,
        };
        assert_eq!(
            pick(&c, AddrFamily::Ipv4, &[net], false, &[], None),
            Some(ip("192.168.0.1"))
        );
        // The current address wins a tie, so servers do not flap.
        assert_eq!(
            pick(
                &c,
                AddrFamily::Ipv4,
                &[],
                false,
                &[],
                Some(ip("192.168.0.1"))
            ),
            Some(ip("192.168.0.1"))
        );
    }

    #[test]
    fn duplicate_addresses_need_allow_dup_ip() {
        let c = [ip("10.0.0.1")];
        let used = [ip("10.0.0.1")];
        assert_eq!(pick(&c, AddrFamily::Ipv4, &[], false, &used, None), None);
        assert_eq!(
            pick(&c, AddrFamily::Ipv4, &[], true, &used, None),
            Some(ip("10.0.0.1"))
        );
        let two = [ip("10.0.0.1"), ip("10.0.0.2")];
        assert_eq!(
            pick(&two, AddrFamily::Ipv4, &[], true, &used, None),
            Some(ip("10.0.0.2"))
        );
    }
}
