//! Opening connections to backend servers: TCP bounded by `timeout
//! connect`, the PROXY v1 line of `send-proxy`, then the TLS handshake of
//! `ssl` servers (with the server's SNI, client certificate and verifier
//! from [`crate::tls::client`]).
//!
//! A [`Dialer`] knows one server and one SNI; it is the connector of
//! hyper-util's pooled client (one client per server and SNI, so a pooled
//! connection is never reused under another SNI) and also opens the private,
//! unpooled connections of `send-proxy` servers. Everything up to the end of
//! the TLS handshake counts as connecting: its failures are connection
//! errors (503 after `retries`), as in HAProxy.

use crate::runtime::facts::{BackendTlsFacts, PeerCertFacts};
use crate::tls::handshake::session_facts;
use http::Uri;
use hyper_util::client::legacy::connect::{Connected, Connection};
use hyper_util::rt::TokioIo;
use rustls::ClientConfig;
use rustls::pki_types::ServerName;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

/// How to open a connection to one server under one SNI.
#[derive(Clone)]
pub struct Dialer {
    addr: SocketAddr,
    connect_timeout: Duration,
    tls: Option<TlsDial>,
}

#[derive(Clone)]
struct TlsDial {
    config: Arc<ClientConfig>,
    /// The SNI sent (the config decides whether it is sent at all) and the
    /// session-cache key.
    name: ServerName<'static>,
}

impl Dialer {
    /// A clear-text server.
    pub fn plain(addr: SocketAddr, connect_timeout: Duration) -> Dialer {
        Dialer {
            addr,
            connect_timeout,
            tls: None,
        }
    }

    /// A TLS server: `config` is the server's config for this SNI case,
    /// `name` the SNI (or, when none is sent, the server's address).
    pub fn tls(
        addr: SocketAddr,
        connect_timeout: Duration,
        config: Arc<ClientConfig>,
        name: ServerName<'static>,
    ) -> Dialer {
        Dialer {
            addr,
            connect_timeout,
            tls: Some(TlsDial { config, name }),
        }
    }

    /// Connects, writes `proxy_line` (PROXY protocol, before any TLS byte)
    /// and completes the TLS handshake, all within `timeout connect`.
    pub async fn dial(&self, proxy_line: Option<&[u8]>) -> io::Result<Upstream> {
        let work = async {
            let mut tcp = TcpStream::connect(self.addr).await?;
            tcp.set_nodelay(true)?;
            if let Some(line) = proxy_line {
                tcp.write_all(line).await?;
            }
            let Some(tls) = &self.tls else {
                return Ok(Upstream::Plain(tcp));
            };
            let stream = TlsConnector::from(tls.config.clone())
                .connect(tls.name.clone(), tcp)
                .await
                .map_err(|e| {
                    tracing::warn!(server = %self.addr, sni = ?tls.name, error = %e, "TLS handshake with server failed");
                    e
                })?;
            let facts = Arc::new(backend_tls_facts(stream.get_ref().1));
            Ok(Upstream::Tls(Box::new(stream), facts))
        };
        match tokio::time::timeout(self.connect_timeout, work).await {
            Ok(r) => r,
            Err(_) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("connection to {} timed out", self.addr),
            )),
        }
    }
}

impl tower_service::Service<Uri> for Dialer {
    type Response = TokioIo<Upstream>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<TokioIo<Upstream>>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    /// The URI is ignored: a dialer always reaches its own server.
    fn call(&mut self, _uri: Uri) -> Self::Future {
        let dialer = self.clone();
        Box::pin(async move { dialer.dial(None).await.map(TokioIo::new) })
    }
}

/// The facts of a finished handshake with a server (`ssl_bc_*`, `ssl_s_*`).
fn backend_tls_facts(conn: &rustls::ClientConnection) -> BackendTlsFacts {
    BackendTlsFacts {
        session: session_facts(conn),
        server: match conn.peer_certificates() {
            Some([leaf, rest @ ..]) => {
                PeerCertFacts::from_ders(leaf.as_ref(), rest.iter().map(|c| c.as_ref()))
            }
            _ => None,
        },
    }
}

/// An open connection to a server; a TLS one carries the facts of its
/// handshake.
pub enum Upstream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>, Arc<BackendTlsFacts>),
}

impl Upstream {
    /// ALPN settled on HTTP/2.
    pub fn is_h2(&self) -> bool {
        match self {
            Upstream::Plain(_) => false,
            Upstream::Tls(s, _) => s.get_ref().1.alpn_protocol() == Some(b"h2"),
        }
    }

    /// The TLS facts of this connection, `None` when it is clear text.
    pub fn tls_facts(&self) -> Option<Arc<BackendTlsFacts>> {
        match self {
            Upstream::Plain(_) => None,
            Upstream::Tls(_, f) => Some(f.clone()),
        }
    }
}

impl Connection for Upstream {
    /// The pool keeps what this returns with the connection and copies its
    /// extra into every response the connection carries: the TLS facts
    /// reach the response rules of reused connections too.
    fn connected(&self) -> Connected {
        let mut c = Connected::new();
        if let Some(facts) = self.tls_facts() {
            c = c.extra(facts);
        }
        if self.is_h2() { c.negotiated_h2() } else { c }
    }
}

impl AsyncRead for Upstream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Upstream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Upstream::Tls(s, _) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Upstream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Upstream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Upstream::Tls(s, _) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Upstream::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Upstream::Tls(s, _) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Upstream::Plain(s) => s.is_write_vectored(),
            Upstream::Tls(s, _) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Upstream::Plain(s) => Pin::new(s).poll_flush(cx),
            Upstream::Tls(s, _) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Upstream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Upstream::Tls(s, _) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// The PROXY protocol v1 line HAProxy's `send-proxy` writes for a client
/// connection from `src` to `dst`: `TCP4`/`TCP6` when both addresses are of
/// one family, `UNKNOWN` otherwise.
pub fn proxy_v1_line(src: SocketAddr, dst: SocketAddr) -> Vec<u8> {
    match (src, dst) {
        (SocketAddr::V4(s), SocketAddr::V4(d)) => format!(
            "PROXY TCP4 {} {} {} {}\r\n",
            s.ip(),
            d.ip(),
            s.port(),
            d.port()
        ),
        (SocketAddr::V6(s), SocketAddr::V6(d)) => format!(
            "PROXY TCP6 {} {} {} {}\r\n",
            s.ip(),
            d.ip(),
            s.port(),
            d.port()
        ),
        _ => PROXY_UNKNOWN.to_string(),
    }
    .into_bytes()
}

/// The PROXY protocol v2 header (binary): PROXY command with the client's
/// TCP addresses and `tlvs` (see [`super::proxytlv::build`]), or LOCAL
/// when they are unknown or of different families.
pub fn proxy_v2_header(addrs: Option<(SocketAddr, SocketAddr)>, tlvs: &[u8]) -> Vec<u8> {
    const SIGNATURE: &[u8; 12] = b"\r\n\r\n\0\r\nQUIT\n";
    let mut out = SIGNATURE.to_vec();
    let (cmd_fam, ips, ports): (_, Vec<u8>, _) = match addrs {
        Some((SocketAddr::V4(s), SocketAddr::V4(d))) => (
            [0x21, 0x11],
            [s.ip().octets(), d.ip().octets()].concat(),
            (s.port(), d.port()),
        ),
        Some((SocketAddr::V6(s), SocketAddr::V6(d))) => (
            [0x21, 0x21],
            [s.ip().octets(), d.ip().octets()].concat(),
            (s.port(), d.port()),
        ),
        _ => {
            out.extend_from_slice(&[0x20, 0x00, 0, 0]);
            return out;
        }
    };
    let len = ips.len() + 4 + tlvs.len();
    out.extend_from_slice(&cmd_fam);
    out.extend_from_slice(&(len.min(u16::MAX as usize) as u16).to_be_bytes());
    out.extend_from_slice(&ips);
    out.extend_from_slice(&ports.0.to_be_bytes());
    out.extend_from_slice(&ports.1.to_be_bytes());
    let tlv_start = out.len();
    out.extend_from_slice(tlvs);
    super::proxytlv::seal_crc32c(&mut out, tlv_start);
    out
}

/// The PROXY v1 line when the client's addresses are not known.
pub const PROXY_UNKNOWN: &str = "PROXY UNKNOWN\r\n";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_v2_headers_follow_the_spec() {
        let a: SocketAddr = "192.0.2.1:56324".parse().unwrap_or_else(|_| unreachable!());
        let b: SocketAddr = "198.51.100.7:443"
            .parse()
            .unwrap_or_else(|_| unreachable!());
        let h = proxy_v2_header(Some((a, b)), &[]);
        assert_eq!(&h[..12], b"\r\n\r\n\0\r\nQUIT\n");
        assert_eq!(&h[12..16], &[0x21, 0x11, 0, 12]);
        assert_eq!(&h[16..20], &[192, 0, 2, 1]);
        assert_eq!(&h[20..24], &[198, 51, 100, 7]);
        assert_eq!(&h[24..28], &[0xDC, 0x04, 0x01, 0xBB]);
        assert_eq!(h.len(), 28);
        assert_eq!(&proxy_v2_header(None, &[])[12..], &[0x20, 0x00, 0, 0]);
    }

    #[test]
    fn proxy_lines_follow_the_v1_format() {
        let v4 = |s: &str| {
            s.parse::<SocketAddr>()
                .unwrap_or_else(|e| panic!("{s}: {e}"))
        };
        assert_eq!(
            proxy_v1_line(v4("192.0.2.1:56324"), v4("198.51.100.7:443")),
            b"PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\r\n".to_vec()
        );
        assert_eq!(
            proxy_v1_line(v4("[2001:db8::1]:1000"), v4("[::1]:80")),
            b"PROXY TCP6 2001:db8::1 ::1 1000 80\r\n".to_vec()
        );
        assert_eq!(
            proxy_v1_line(v4("192.0.2.1:1"), v4("[::1]:80")),
            b"PROXY UNKNOWN\r\n".to_vec()
        );
    }
}
