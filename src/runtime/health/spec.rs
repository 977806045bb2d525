//! From a backend's IR to the specs of its check tasks: where each check
//! connects (`addr`, `port`), whether it speaks TLS (`check-ssl`, or the
//! server's `ssl` when neither `port` nor `addr` redirects the checks, as in
//! HAProxy), what it sends, and its timing.

use super::{CheckKind, CheckSpec, CheckTls, HttpProbe, Target};
use crate::diag::{FileId, Span};
use crate::ir::expr::{Fetch, Sample, SampleType};
use crate::ir::{self, ServerTls, TcpCheckRule};
use crate::runtime::balance::Lb;
use crate::runtime::resolve::AddrCell;
use crate::runtime::upstream::UpstreamBuildError;
use crate::tls::client::{ClientTlsError, ServerTlsConfigs};
use rustls::pki_types::ServerName;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

/// The check tasks of one backend; `cells` are its servers' addresses
/// (declaration order), `global_log` the global log targets.
pub fn backend_checks(
    be: &ir::Backend,
    lb: &Arc<Lb>,
    cells: &[Arc<AddrCell>],
    global_log: &[ir::LogTarget],
) -> Result<Vec<CheckSpec>, UpstreamBuildError> {
    let hc = &be.health_check;
    let kind = Arc::new(if hc.ssl_hello {
        CheckKind::SslHello
    } else if hc.tcp_check {
        CheckKind::Tcp(hc.tcp_rules.clone())
    } else if hc.httpchk
        && let Some(req) = &hc.http
    {
        CheckKind::Http(HttpProbe::new(req, &hc.expect))
    } else {
        CheckKind::Connect
    });
    let mut log = be.common.log.targets.clone();
    if be.common.log.global {
        log.extend(global_log.iter().cloned());
    }
    let t = &be.common.timeouts;
    let mut out = Vec::new();
    for (idx, (s, cell)) in be.servers.iter().zip(cells).enumerate() {
        let Some(c) = &s.check else { continue };
        if s.disabled {
            continue;
        }
        let at = format!(
            "backend '{}', server '{}' ({})",
            be.common.name, s.name, s.origin
        );
        // Without an address yet (`init-addr none`), a placeholder until
        // the resolution gives one (`follow` below).
        let port = match &s.address {
            ir::ServerAddr::Inet { port, .. } => port.unwrap_or(0),
            ir::ServerAddr::Unix(_) => 0,
        };
        let mut target_addr = cell
            .get()
            .unwrap_or_else(|| SocketAddr::new(IpAddr::from([0, 0, 0, 0]), port));
        if let Some(host) = &c.addr {
            target_addr.set_ip(resolve(host).ok_or_else(|| UpstreamBuildError::Resolve {
                backend: be.common.name.clone(),
                server: s.name.clone(),
                host: host.clone(),
            })?);
        }
        if let Some(p) = c.port {
            target_addr.set_port(p);
        }
        let redirected = c.port.is_some() || c.addr.is_some();
        let tls_settings: Option<&ServerTls> = s.tls.as_deref().or(c.tls.as_deref());
        let use_ssl = c.ssl || (s.tls.is_some() && !redirected);
        let tls = match (use_ssl, tls_settings) {
            (true, Some(settings)) => {
                Some(check_tls(settings, c.sni.as_deref(), &at, target_addr)?)
            }
            _ => None,
        };
        let rules_want_tls = hc.tcp_check
            && hc
                .tcp_rules
                .iter()
                .any(|r| matches!(r, TcpCheckRule::Connect { ssl: true, .. }));
        if rules_want_tls && tls_settings.is_none() {
            return Err(UpstreamBuildError::Unsupported {
                backend: be.common.name.clone(),
                server: s.name.clone(),
                what: "'tcp-check connect ssl' without 'ssl' or 'check-ssl' on the server line",
            });
        }
        let rule_sni = hc.tcp_rules.iter().find_map(|r| match r {
            TcpCheckRule::Connect { sni: Some(n), .. } => Some(n.as_str()),
            _ => None,
        });
        let tls_for_rules = match tls_settings {
            Some(settings) => Some(check_tls(
                settings,
                rule_sni.or(c.sni.as_deref()),
                &at,
                target_addr,
            )?),
            None => None,
        };
        let inter = Duration::from_millis(c.inter.max(1));
        // HAProxy: without `timeout check`, `inter` bounds the whole check;
        // with it, min(`timeout connect`, `inter`) bounds the connect and
        // `timeout check` the rest.
        let (connect_timeout, read_timeout) = match t.check {
            None => (inter, inter),
            Some(chk) => (
                t.connect
                    .map_or(inter, |ct| inter.min(Duration::from_millis(ct))),
                Duration::from_millis(chk.max(1)),
            ),
        };
        out.push(CheckSpec {
            backend: Arc::from(be.common.name.as_str()),
            server: Arc::from(s.name.as_str()),
            idx,
            backup: s.backup,
            lb: lb.clone(),
            kind: kind.clone(),
            target: Target {
                addr: target_addr,
                tls,
                tls_for_rules,
                send_proxy: if redirected { None } else { s.send_proxy },
                connect_timeout,
                read_timeout,
            },
            inter,
            fastinter: c.fastinter.map(|m| Duration::from_millis(m.max(1))),
            downinter: c.downinter.map(|m| Duration::from_millis(m.max(1))),
            rise: c.rise.max(1),
            fall: c.fall.max(1),
            log_health_checks: hc.log_health_checks,
            log: log.clone(),
            follow: c.addr.is_none().then(|| (cell.clone(), c.port)),
        });
    }
    Ok(out)
}

fn resolve(host: &str) -> Option<IpAddr> {
    if let Ok(ip) = host.parse() {
        return Some(ip);
    }
    (host, 0).to_socket_addrs().ok()?.next().map(|a| a.ip())
}

/// The TLS of a check: the server's settings, with `sni` (check-sni or a
/// `tcp-check connect sni`) sent when given.
fn check_tls(
    settings: &ServerTls,
    sni: Option<&str>,
    at: &str,
    addr: SocketAddr,
) -> Result<CheckTls, ClientTlsError> {
    let mut t = settings.clone();
    t.sni = sni.map(|name| Sample {
        fetch: Fetch::ConstStr(name.to_string()),
        converters: Vec::new(),
        keyword: "str".to_string(),
        out_type: SampleType::Str,
        span: Span {
            file: FileId(0),
            start: 0,
            end: 0,
        },
    });
    let configs = ServerTlsConfigs::build(&t, at)?;
    let name = sni
        .and_then(|s| ServerName::try_from(s.to_string()).ok())
        .unwrap_or_else(|| ServerName::IpAddress(addr.ip().into()));
    let sends = sni.is_some_and(|s| ServerName::try_from(s.to_string()).is_ok());
    Ok(CheckTls {
        config: configs.config(sends).clone(),
        name,
    })
}
