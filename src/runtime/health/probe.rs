//! One health check against one server: a connect (layer 4), optionally a
//! TLS handshake (layer 6), then the HTTP exchange of `option httpchk` or the
//! `tcp-check` rules (layer 7). The outcome carries HAProxy's check status
//! (`L4OK`, `L4CON`, `L7STS`…), code and info text, which the state machine
//! turns into health changes and log lines.

use super::{CheckKind, HttpProbe, Outcome, Status};
use crate::ir::{HttpCheckExpect, ProxyVersion, TcpCheckMatch, TcpCheckRule};
use crate::runtime::upstream_tls::{PROXY_UNKNOWN, proxy_v2_header};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use rustls::ClientConfig;
use rustls::pki_types::ServerName;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout, timeout_at};
use tokio_rustls::TlsConnector;

/// A check connection, clear or TLS.
trait CheckStream: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> CheckStream for T {}
type Upstream = Box<dyn CheckStream>;

/// The most response bytes a check reads (HAProxy's check buffer).
const MAX_READ: usize = 16_384;

/// TLS of a check connection.
#[derive(Clone)]
pub struct CheckTls {
    pub config: Arc<ClientConfig>,
    pub name: ServerName<'static>,
}

/// Where and how a check connects.
pub struct Target {
    pub addr: SocketAddr,
    pub tls: Option<CheckTls>,
    /// TLS settings a `tcp-check connect ssl` may use.
    pub tls_for_rules: Option<CheckTls>,
    pub send_proxy: Option<ProxyVersion>,
    pub connect_timeout: Duration,
    /// The whole check must end by then (`timeout check` after connecting,
    /// or `inter` in all).
    pub read_timeout: Duration,
}

/// Runs one check.
pub async fn run(kind: &CheckKind, target: &Target) -> Outcome {
    match kind {
        CheckKind::Connect => match connect(target, target.addr, target.tls.as_ref()).await {
            Ok(_) => Outcome::ok(if target.tls.is_some() {
                Status::L6Ok
            } else {
                Status::L4Ok
            }),
            Err(o) => o,
        },
        CheckKind::Http(probe) => {
            let conn = match connect(target, target.addr, target.tls.as_ref()).await {
                Ok(c) => c,
                Err(o) => return o,
            };
            http(probe, conn, target.read_timeout).await
        }
        CheckKind::Tcp(rules) => tcp_rules(rules, target).await,
        CheckKind::SslHello => ssl_hello(target).await,
    }
}

/// `option ssl-hello-chk`: an SSLv3 ClientHello over the clear connection;
/// any TLS handshake (0x16) or alert (0x15) record back is a live TLS
/// server (Layer6), anything else an invalid response.
async fn ssl_hello(target: &Target) -> Outcome {
    let mut conn = match connect(target, target.addr, None).await {
        Ok(c) => c,
        Err(o) => return o,
    };
    let hello = sslv3_client_hello();
    let exchange = async {
        conn.write_all(&hello).await.ok()?;
        let mut first = [0u8; 1];
        match conn.read(&mut first).await {
            Ok(1) => Some(first[0]),
            _ => None,
        }
    };
    match timeout(target.read_timeout, exchange).await {
        Err(_) => Outcome::fail(Status::L6Tout, String::new()),
        Ok(Some(0x15 | 0x16)) => Outcome::ok(Status::L6Ok),
        Ok(_) => Outcome::fail(Status::L6Rsp, String::new()),
    }
}

/// A minimal SSLv3 ClientHello: version 3.0, no session, a few RSA suites,
/// null compression.
fn sslv3_client_hello() -> Vec<u8> {
    let suites: [u16; 5] = [0x0035, 0x002f, 0x000a, 0x0005, 0x0004];
    let mut body = vec![0x03, 0x00];
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as u32);
    body.extend_from_slice(&now.to_be_bytes());
    body.extend((0u8..28).map(|i| i.wrapping_mul(37).wrapping_add(11)));
    body.push(0); // no session id
    body.extend_from_slice(&((suites.len() * 2) as u16).to_be_bytes());
    for s in suites {
        body.extend_from_slice(&s.to_be_bytes());
    }
    body.extend_from_slice(&[0x01, 0x00]); // null compression
    let mut hs = vec![0x01];
    hs.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    hs.extend_from_slice(&body);
    let mut rec = vec![0x16, 0x03, 0x00];
    rec.extend_from_slice(&(hs.len() as u16).to_be_bytes());
    rec.extend_from_slice(&hs);
    rec
}

/// TCP connect (+ PROXY line) then TLS handshake, each failure reported at
/// its layer as HAProxy does.
async fn connect(
    target: &Target,
    addr: SocketAddr,
    tls: Option<&CheckTls>,
) -> Result<Upstream, Outcome> {
    let tcp = match timeout(target.connect_timeout, TcpStream::connect(addr)).await {
        Err(_) => return Err(Outcome::fail(Status::L4Tout, String::new())),
        Ok(Err(e)) => return Err(Outcome::fail(Status::L4Con, errno_text(&e))),
        Ok(Ok(s)) => s,
    };
    let _ = tcp.set_nodelay(true);
    let mut tcp = tcp;
    if let Some(v) = target.send_proxy {
        let line = match v {
            ProxyVersion::V1 => PROXY_UNKNOWN.as_bytes().to_vec(),
            ProxyVersion::V2 => proxy_v2_header(None, &[]),
        };
        if let Err(e) = tcp.write_all(&line).await {
            return Err(Outcome::fail(Status::SockErr, errno_text(&e)));
        }
    }
    let Some(tls) = tls else {
        return Ok(Box::new(tcp));
    };
    let hs = TlsConnector::from(tls.config.clone()).connect(tls.name.clone(), tcp);
    match timeout(target.connect_timeout, hs).await {
        Err(_) => Err(Outcome::fail(Status::L6Tout, String::new())),
        Ok(Err(_)) => Err(Outcome::fail(
            Status::L6Rsp,
            "SSL handshake failure".to_string(),
        )),
        Ok(Ok(s)) => Ok(Box::new(s)),
    }
}

/// The system's text for an I/O error (`Connection refused`), as strerror.
fn errno_text(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(code) => nix::errno::Errno::from_raw(code).desc().to_string(),
        None => e.to_string(),
    }
}

/// `option httpchk`: one request, the answer judged by the `http-check
/// expect` rules (or 2xx/3xx when there are none).
async fn http(probe: &HttpProbe, conn: Upstream, read_timeout: Duration) -> Outcome {
    let deadline = Instant::now() + read_timeout;
    let work = async {
        let (mut sender, driver) = hyper::client::conn::http1::handshake(TokioIo::new(conn))
            .await
            .map_err(|_| Outcome::fail(Status::SockErr, String::new()))?;
        tokio::spawn(async move {
            let _ = driver.await;
        });
        let res = sender
            .send_request(probe.request())
            .await
            .map_err(|_| Outcome::fail(Status::L7Rsp, String::new()))?;
        let code = res.status().as_u16();
        let reason = res
            .extensions()
            .get::<hyper::ext::ReasonPhrase>()
            .map(|r| String::from_utf8_lossy(r.as_bytes()).into_owned())
            .or_else(|| res.status().canonical_reason().map(str::to_string))
            .unwrap_or_default();
        let mut body = Vec::new();
        if probe.reads_body() {
            let mut b = res.into_body();
            while body.len() < MAX_READ {
                match b.frame().await {
                    Some(Ok(f)) => {
                        if let Ok(d) = f.into_data() {
                            body.extend_from_slice(&d);
                        }
                    }
                    _ => break,
                }
            }
            body.truncate(MAX_READ);
        }
        Ok::<_, Outcome>((code, reason, body))
    };
    let (code, reason, body) = match timeout_at(deadline, work).await {
        Err(_) => return Outcome::fail(Status::L7Tout, String::new()),
        Ok(Err(o)) => return o,
        Ok(Ok(r)) => r,
    };
    judge_http(&probe.expect, code, &reason, &body)
}

/// The `http-check expect` rules in order; the first that fails decides.
fn judge_http(rules: &[HttpCheckExpect], code: u16, reason: &str, body: &[u8]) -> Outcome {
    let with_code = |mut o: Outcome| {
        o.code = Some(code);
        o
    };
    if rules.is_empty() {
        return if (200..400).contains(&code) {
            with_code(Outcome::ok(Status::L7Ok))
        } else {
            with_code(Outcome::fail(Status::L7Sts, reason.to_string()))
        };
    }
    for r in rules {
        let (matched, on_status) = match r.kind.as_str() {
            "status" => (status_in(&r.pattern, code), true),
            "rstatus" => (
                regex::Regex::new(&r.pattern).is_ok_and(|re| re.is_match(&code.to_string())),
                true,
            ),
            "string" => (contains(body, r.pattern.as_bytes()), false),
            _ => (
                regex::bytes::Regex::new(&r.pattern).is_ok_and(|re| re.is_match(body)),
                false,
            ),
        };
        if matched == r.negate {
            let o = if on_status {
                Outcome::fail(Status::L7Sts, reason.to_string())
            } else if body.is_empty() {
                Outcome::fail(
                    Status::L7Rsp,
                    "HTTP content check could not find a response body".to_string(),
                )
            } else if r.negate {
                Outcome::fail(
                    Status::L7Rsp,
                    "HTTP check matched unwanted content".to_string(),
                )
            } else {
                Outcome::fail(
                    Status::L7Rsp,
                    "HTTP content check did not match".to_string(),
                )
            };
            return with_code(o);
        }
    }
    with_code(Outcome::ok(Status::L7Ok))
}

/// `200`, `200-299`, `200,301-302`.
pub fn status_in(list: &str, code: u16) -> bool {
    list.split(',').any(|part| {
        let (lo, hi) = part.split_once('-').unwrap_or((part, part));
        match (lo.parse::<u16>(), hi.parse::<u16>()) {
            (Ok(lo), Ok(hi)) => (lo..=hi).contains(&code),
            _ => false,
        }
    })
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || hay.windows(needle.len()).any(|w| w == needle)
}

/// `option tcp-check`: the rules in order over one connection (a `connect`
/// rule opens it; without one first, the server's own connect is implied).
async fn tcp_rules(rules: &[TcpCheckRule], target: &Target) -> Outcome {
    let deadline = Instant::now() + target.connect_timeout + target.read_timeout;
    let mut conn: Option<Upstream> = None;
    let mut buf: Vec<u8> = Vec::new();
    let mut last_ok = Outcome::ok(Status::L7Ok);
    last_ok.info = "(tcp-check)".to_string();
    let implicit = !matches!(rules.first(), Some(TcpCheckRule::Connect { .. }));
    if implicit {
        match connect(target, target.addr, target.tls.as_ref()).await {
            Ok(c) => conn = Some(c),
            Err(mut o) => {
                o.info.push_str(" at initial connection step of tcp-check");
                return o;
            }
        }
        last_ok = Outcome::ok(if target.tls.is_some() {
            Status::L6Ok
        } else {
            Status::L4Ok
        });
    }
    for (n, rule) in rules.iter().enumerate() {
        let step = n + 1;
        match rule {
            TcpCheckRule::Connect { port, ssl, sni } => {
                let mut addr = target.addr;
                if let Some(p) = port {
                    addr.set_port(*p);
                }
                let tls = if *ssl {
                    let Some(mut t) = target.tls_for_rules.clone() else {
                        return Outcome::fail(
                            Status::L6Rsp,
                            format!("no TLS settings for 'ssl' at step {step} of tcp-check"),
                        );
                    };
                    if let Some(name) = sni
                        .as_ref()
                        .and_then(|s| ServerName::try_from(s.clone()).ok())
                    {
                        t.name = name;
                    }
                    Some(t)
                } else {
                    None
                };
                match connect(target, addr, tls.as_ref()).await {
                    Ok(c) => conn = Some(c),
                    Err(mut o) => {
                        let what = match port {
                            Some(p) => format!(" (connect port {p})"),
                            None => " (connect)".to_string(),
                        };
                        o.info
                            .push_str(&format!(" at step {step} of tcp-check{what}"));
                        return o;
                    }
                }
                buf.clear();
                last_ok = Outcome::ok(if tls.is_some() {
                    Status::L6Ok
                } else {
                    Status::L4Ok
                });
                last_ok.info = "(tcp-check)".to_string();
            }
            TcpCheckRule::Send(data) => {
                let Some(c) = conn.as_mut() else {
                    return Outcome::fail(Status::SockErr, String::new());
                };
                if timeout_at(deadline, c.write_all(data)).await.is_err() {
                    return Outcome::fail(
                        Status::L7Tout,
                        format!(" at step {step} of tcp-check (send)"),
                    );
                }
                last_ok = Outcome::ok(Status::L7Ok);
                last_ok.info = "(tcp-check)".to_string();
            }
            TcpCheckRule::Expect { negate, matcher } => {
                let Some(c) = conn.as_mut() else {
                    return Outcome::fail(Status::SockErr, String::new());
                };
                let what = match matcher {
                    TcpCheckMatch::String(s) => format!(" (expect string '{s}')"),
                    TcpCheckMatch::Rstring(_) => " (expect regex)".to_string(),
                    TcpCheckMatch::Binary(_) => " (expect binary)".to_string(),
                };
                let regex = match matcher {
                    TcpCheckMatch::Rstring(r) => regex::bytes::Regex::new(r).ok(),
                    _ => None,
                };
                let found = |b: &[u8]| match matcher {
                    TcpCheckMatch::String(s) => contains(b, s.as_bytes()),
                    TcpCheckMatch::Binary(x) => contains(b, x),
                    TcpCheckMatch::Rstring(_) => regex.as_ref().is_some_and(|re| re.is_match(b)),
                };
                // Wait for more data while the pattern is not there yet.
                let mut closed = false;
                while !found(&buf) && !closed && buf.len() < MAX_READ {
                    let mut chunk = [0u8; 4096];
                    match timeout_at(deadline, c.read(&mut chunk)).await {
                        Err(_) => {
                            if *negate {
                                break;
                            }
                            return Outcome::fail(
                                Status::L7Tout,
                                format!(" at step {step} of tcp-check{what}"),
                            );
                        }
                        Ok(Ok(0)) | Ok(Err(_)) => closed = true,
                        Ok(Ok(k)) => buf.extend_from_slice(&chunk[..k]),
                    }
                }
                let matched = found(&buf);
                if matched == *negate {
                    let info = if buf.is_empty() {
                        format!("TCPCHK got an empty response at step {step}")
                    } else {
                        let head = if matched {
                            "TCPCHK matched unwanted content"
                        } else {
                            "TCPCHK did not match content"
                        };
                        let tail = match matcher {
                            TcpCheckMatch::String(s) => format!(" '{s}' at step {step}"),
                            TcpCheckMatch::Rstring(_) => format!(" (regex) at step {step}"),
                            TcpCheckMatch::Binary(_) => format!(" (binary) at step {step}"),
                        };
                        format!("{head}{tail}")
                    };
                    return Outcome::fail(Status::L7Rsp, info);
                }
                last_ok = Outcome::ok(Status::L7Ok);
                last_ok.info = "(tcp-check)".to_string();
            }
        }
    }
    if implicit && rules.is_empty() {
        last_ok.info.clear();
    }
    last_ok
}

impl HttpProbe {
    fn request(&self) -> http::Request<Full<Bytes>> {
        let mut b = http::Request::builder()
            .method(self.method.clone())
            .uri(self.uri.clone())
            .version(self.version);
        for (n, v) in &self.headers {
            b = b.header(n, v);
        }
        let body = self.body.clone().unwrap_or_default();
        b.body(Full::new(Bytes::from(body)))
            .unwrap_or_else(|_| http::Request::new(Full::new(Bytes::new())))
    }

    fn reads_body(&self) -> bool {
        self.expect
            .iter()
            .any(|r| matches!(r.kind.as_str(), "string" | "rstring"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lists() {
        assert!(status_in("200", 200));
        assert!(status_in("200-299", 204));
        assert!(status_in("200,301-302", 302));
        assert!(!status_in("200,301-302", 303));
    }

    #[test]
    fn default_expectation_is_2xx_or_3xx() {
        assert_eq!(judge_http(&[], 302, "Found", b"").status, Status::L7Ok);
        let o = judge_http(&[], 500, "Internal Server Error", b"");
        assert_eq!(o.status, Status::L7Sts);
        assert_eq!(o.info, "Internal Server Error");
        assert_eq!(o.code, Some(500));
    }

    #[test]
    fn negated_string_expectation() {
        let rule = HttpCheckExpect {
            negate: true,
            kind: "string".into(),
            pattern: "maintenance".into(),
        };
        let o = judge_http(std::slice::from_ref(&rule), 200, "OK", b"in maintenance");
        assert_eq!(o.status, Status::L7Rsp);
        assert_eq!(o.info, "HTTP check matched unwanted content");
        assert_eq!(judge_http(&[rule], 200, "OK", b"fine").status, Status::L7Ok);
    }
}
