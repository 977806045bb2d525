//! Listening sockets, owned outside any Generation so a reload can swap the
//! configuration without closing them (no connection is refused during a
//! reload).

use crate::ir::ListenAddr;
use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;

/// The key a socket is reused under across reloads.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum SocketKey {
    Tcp(SocketAddr),
    Unix(PathBuf),
}

impl SocketKey {
    /// The key of a configured address. `:port` (no host) listens on IPv6 `::`
    /// with dual-stack where available, like HAProxy's `bind :port`, falling
    /// back to IPv4 `0.0.0.0`.
    pub fn of(addr: &ListenAddr) -> SocketKey {
        match addr {
            ListenAddr::Inet {
                host: Some(ip),
                port,
            } => SocketKey::Tcp(SocketAddr::new(*ip, *port)),
            ListenAddr::Inet { host: None, port } => {
                SocketKey::Tcp(SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), *port))
            }
            ListenAddr::Unix(p) => SocketKey::Unix(p.clone()),
        }
    }
}

/// How a listening socket is set up: what `bind` lines say about the socket
/// itself rather than about the connections it accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SocketOpts {
    /// The listen queue (`backlog`).
    pub backlog: i32,
    /// `tfo`: TCP Fast Open, queue length = backlog as in HAProxy.
    pub tfo: bool,
}

/// A bound, not yet accepting, socket.
pub enum BoundSocket {
    Tcp(std::net::TcpListener),
    Unix(std::os::unix::net::UnixListener),
}

impl BoundSocket {
    /// The local address (for `:0` binds in tests).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        match self {
            BoundSocket::Tcp(l) => l.local_addr().ok(),
            BoundSocket::Unix(_) => None,
        }
    }

    /// A duplicate handle, so each Generation's accept loop owns one while the
    /// set keeps the original alive across reloads.
    pub fn try_clone(&self) -> io::Result<BoundSocket> {
        Ok(match self {
            BoundSocket::Tcp(l) => BoundSocket::Tcp(l.try_clone()?),
            BoundSocket::Unix(l) => BoundSocket::Unix(l.try_clone()?),
        })
    }
}

/// Every socket the process listens on, keyed by address.
#[derive(Default)]
pub struct SocketSet {
    sockets: HashMap<SocketKey, BoundSocket>,
}

/// Why a socket could not be bound; names the address like HAProxy's
/// "cannot bind socket (Address already in use) [127.0.0.1:443]".
#[derive(Debug, thiserror::Error)]
#[error("cannot bind socket ({source}) [{addr}]")]
pub struct BindError {
    pub addr: String,
    #[source]
    pub source: io::Error,
}

impl SocketSet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Binds `addr` unless a socket for it is already open (reload), and returns
    /// a handle to it.
    pub fn get_or_bind(
        &mut self,
        addr: &ListenAddr,
        opts: SocketOpts,
    ) -> Result<BoundSocket, BindError> {
        let key = SocketKey::of(addr);
        if let Some(s) = self.sockets.get(&key) {
            return s.try_clone().map_err(|e| BindError {
                addr: describe(&key),
                source: e,
            });
        }
        let sock = bind(
            &key,
            matches!(addr, ListenAddr::Inet { host: None, .. }),
            opts,
        )
        .map_err(|e| BindError {
            addr: describe(&key),
            source: e,
        })?;
        let handle = sock.try_clone().map_err(|e| BindError {
            addr: describe(&key),
            source: e,
        })?;
        self.sockets.insert(key, sock);
        Ok(handle)
    }

    /// Closes the sockets no longer in `keep` (a reload removed their bind).
    pub fn retain(&mut self, keep: &[SocketKey]) {
        self.sockets.retain(|k, _| keep.contains(k));
    }
}

fn describe(key: &SocketKey) -> String {
    match key {
        SocketKey::Tcp(a) => a.to_string(),
        SocketKey::Unix(p) => p.display().to_string(),
    }
}

fn bind(key: &SocketKey, any: bool, opts: SocketOpts) -> io::Result<BoundSocket> {
    match key {
        SocketKey::Tcp(addr) => {
            if any {
                // `bind :port`: prefer a dual-stack IPv6 socket, as HAProxy does.
                let v6 = SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), addr.port());
                if let Ok(l) = tcp_listener(v6, opts, false) {
                    return Ok(BoundSocket::Tcp(l));
                }
            }
            Ok(BoundSocket::Tcp(tcp_listener(*addr, opts, true)?))
        }
        SocketKey::Unix(path) => {
            // A stale socket file from a previous run would make bind fail.
            if std::fs::symlink_metadata(path).is_ok_and(|m| {
                use std::os::unix::fs::FileTypeExt;
                m.file_type().is_socket()
            }) {
                let _ = std::fs::remove_file(path);
            }
            let l = std::os::unix::net::UnixListener::bind(path)?;
            l.set_nonblocking(true)?;
            Ok(BoundSocket::Unix(l))
        }
    }
}

fn tcp_listener(
    addr: SocketAddr,
    opts: SocketOpts,
    v6only: bool,
) -> io::Result<std::net::TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let sock = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    if addr.is_ipv6() {
        sock.set_only_v6(v6only)?;
    }
    // Lets a restarted process bind while old connections sit in TIME_WAIT.
    sock.set_reuse_address(true)?;
    sock.set_nonblocking(true)?;
    sock.bind(&addr.into())?;
    let backlog = opts.backlog.max(1);
    if opts.tfo {
        // Before listen(), as HAProxy does; the queue of pending Fast Open
        // requests is the backlog.
        nix::sys::socket::setsockopt(&sock, fastopen::TcpFastOpen, &backlog)
            .map_err(io::Error::from)?;
    }
    sock.listen(backlog)?;
    Ok(sock.into())
}

/// `TCP_FASTOPEN`, which nix knows as a constant but not as a socket option.
mod fastopen {
    use nix::libc;
    use nix::{getsockopt_impl, setsockopt_impl, sockopt_impl};

    sockopt_impl!(
        /// The server-side TCP Fast Open queue length of a listening socket.
        TcpFastOpen,
        Both,
        libc::IPPROTO_TCP,
        libc::TCP_FASTOPEN,
        i32
    );
}

/// The Fast Open queue length of a listening socket (0 when off); lets
/// tests see that `tfo` reached the kernel.
pub fn fast_open_queue(sock: &std::net::TcpListener) -> io::Result<i32> {
    nix::sys::socket::getsockopt(sock, fastopen::TcpFastOpen).map_err(io::Error::from)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn loopback_any_port() -> ListenAddr {
        ListenAddr::Inet {
            host: Some(IpAddr::V4(Ipv4Addr::LOCALHOST)),
            port: 0,
        }
    }

    #[test]
    fn tfo_sets_the_fast_open_queue_to_the_backlog() {
        let mut set = SocketSet::new();
        let opts = SocketOpts {
            backlog: 77,
            tfo: true,
        };
        let BoundSocket::Tcp(l) = set.get_or_bind(&loopback_any_port(), opts).unwrap() else {
            panic!("a TCP address gives a TCP socket");
        };
        assert_eq!(fast_open_queue(&l).unwrap(), 77);
    }

    #[test]
    fn without_tfo_the_fast_open_queue_is_off() {
        let mut set = SocketSet::new();
        let opts = SocketOpts {
            backlog: 77,
            tfo: false,
        };
        let BoundSocket::Tcp(l) = set.get_or_bind(&loopback_any_port(), opts).unwrap() else {
            panic!("a TCP address gives a TCP socket");
        };
        assert_eq!(fast_open_queue(&l).unwrap(), 0);
    }
}
