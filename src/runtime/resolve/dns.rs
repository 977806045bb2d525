//! One DNS resolution over UDP, as HAProxy 2.6's resolvers run it.
//!
//! Messages are built and parsed with `hickory-proto` (a maintained DNS
//! wire-format library); the exchange itself is ours, because HAProxy's
//! algorithm is specific and a general resolver (hickory-resolver) would add
//! caching, search domains and a different retry policy: the query goes to
//! *every* name server of the section at once and the first valid answer
//! wins; when all of them answered with errors, the query is asked again
//! with the other address family (AAAA ↔ A), then the whole sequence starts
//! over, `resolve_retries` queries in all; each round waits `timeout retry`.

use crate::ir::AddrFamily;
use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, RecordType};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use tokio::net::UdpSocket;
use tokio::time::Instant;

/// Why a resolution gave no address (selects the `hold` period).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// NXDOMAIN.
    Nx,
    Refused,
    /// No answer within the retries.
    Timeout,
    /// Any other error, an empty answer, an answer that cannot be parsed.
    Other,
}

impl Failure {
    /// HAProxy's reason text ("DNS NX status", …).
    pub fn reason(self) -> &'static str {
        match self {
            Failure::Nx => "DNS NX status",
            Failure::Refused => "DNS refused status",
            Failure::Timeout => "DNS timeout status",
            Failure::Other => "unspecified DNS error",
        }
    }
}

/// The settings one resolution reads.
pub struct Settings<'a> {
    pub nameservers: &'a [SocketAddr],
    pub payload: u16,
    pub retries: u32,
    pub retry: Duration,
}

/// Resolves `host`, asking `prefer`'s record type first. Returns the
/// addresses of the first valid answer, in answer order.
pub async fn resolve(
    s: &Settings<'_>,
    host: &str,
    prefer: AddrFamily,
) -> Result<Vec<IpAddr>, Failure> {
    // A server's name is absolute: no search domain is appended.
    let Ok(mut name) = Name::from_ascii(host) else {
        return Err(Failure::Other);
    };
    name.set_fqdn(true);
    let mut sockets = Vec::new();
    for ns in s.nameservers {
        let local: SocketAddr = if ns.is_ipv4() {
            SocketAddr::from(([0, 0, 0, 0], 0))
        } else {
            SocketAddr::from(([0u16; 8], 0))
        };
        if let Ok(sock) = UdpSocket::bind(local).await
            && sock.connect(ns).await.is_ok()
        {
            sockets.push(sock);
        }
    }
    let preferred = match prefer {
        AddrFamily::Ipv4 => RecordType::A,
        AddrFamily::Ipv6 => RecordType::AAAA,
    };
    let other = match prefer {
        AddrFamily::Ipv4 => RecordType::AAAA,
        AddrFamily::Ipv6 => RecordType::A,
    };
    let mut qtype = preferred;
    let mut fallback_done = false;
    // HAProxy decrements before the first send: `resolve_retries` queries.
    let mut tries_left = s.retries.saturating_sub(1);
    let mut last_error = Failure::Timeout;
    'round: loop {
        let id: u16 = rand_id();
        let query = build_query(id, &name, qtype, s.payload);
        let mut sent = vec![false; sockets.len()];
        for (i, sock) in sockets.iter().enumerate() {
            if let Some(q) = &query {
                sent[i] = sock.send(q).await.is_ok();
            }
        }
        let expected = sent.iter().filter(|x| **x).count();
        let mut answered = vec![false; sockets.len()];
        let mut responses = 0usize;
        let deadline = Instant::now() + s.retry;
        while responses < expected {
            let got = tokio::time::timeout_at(deadline, recv_any(&sockets, &answered)).await;
            let Ok((i, buf)) = got else {
                break;
            };
            let Some(outcome) = classify(&buf, id, &name, qtype) else {
                // Not an answer to this query: ignore it.
                continue;
            };
            if let Some(flag) = answered.get_mut(i) {
                *flag = true;
            }
            responses += 1;
            match outcome {
                Ok(ips) => return Ok(ips),
                Err(f) => last_error = f,
            }
        }
        if responses >= expected && expected > 0 {
            // Every name server answered with an error.
            if !fallback_done {
                fallback_done = true;
                qtype = other;
                continue 'round;
            }
            if tries_left == 0 {
                return Err(last_error);
            }
            tries_left -= 1;
            qtype = preferred;
            fallback_done = false;
            continue 'round;
        }
        // `timeout retry` struck.
        if expected == 0 {
            tokio::time::sleep_until(deadline).await;
        }
        if tries_left == 0 {
            return Err(Failure::Timeout);
        }
        tries_left -= 1;
        if qtype == preferred {
            qtype = other;
            fallback_done = true;
        }
    }
}

/// The next datagram from any socket that has not answered yet.
async fn recv_any(sockets: &[UdpSocket], answered: &[bool]) -> (usize, Vec<u8>) {
    loop {
        let mut futs = Vec::new();
        for (i, sock) in sockets.iter().enumerate() {
            if answered.get(i).copied().unwrap_or(true) {
                continue;
            }
            futs.push(Box::pin(async move {
                let mut buf = vec![0u8; 65_535];
                let r = sock.recv(&mut buf).await;
                (
                    i,
                    r.map(|n| {
                        buf.truncate(n);
                        buf
                    }),
                )
            }));
        }
        if futs.is_empty() {
            std::future::pending::<()>().await;
        }
        let ((i, r), _, _) = futures_select_all(futs).await;
        if let Ok(buf) = r {
            return (i, buf);
        }
        // A send error reported on the socket (ICMP port unreachable):
        // that name server gives nothing this round.
    }
}

/// `select_all` over boxed futures without another dependency.
async fn futures_select_all<F>(mut futs: Vec<std::pin::Pin<Box<F>>>) -> (F::Output, usize, ())
where
    F: std::future::Future,
{
    std::future::poll_fn(move |cx| {
        for (i, f) in futs.iter_mut().enumerate() {
            if let std::task::Poll::Ready(v) = f.as_mut().poll(cx) {
                return std::task::Poll::Ready((v, i, ()));
            }
        }
        std::task::Poll::Pending
    })
    .await
}

fn rand_id() -> u16 {
    let mut b = [0u8; 2];
    if ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut b).is_err() {
        return 0x1234;
    }
    u16::from_be_bytes(b)
}

/// A recursive query with an EDNS0 OPT record announcing `payload`, as
/// HAProxy sends.
fn build_query(id: u16, name: &Name, qtype: RecordType, payload: u16) -> Option<Vec<u8>> {
    let mut msg = Message::new(id, MessageType::Query, OpCode::Query);
    msg.metadata.recursion_desired = true;
    msg.add_query(Query::query(name.clone(), qtype));
    let mut edns = Edns::new();
    edns.set_max_payload(payload);
    msg.set_edns(edns);
    msg.to_vec().ok()
}

/// `None` when the datagram is not an answer to this query; otherwise the
/// addresses of the asked type, or why there are none.
fn classify(
    buf: &[u8],
    id: u16,
    name: &Name,
    qtype: RecordType,
) -> Option<Result<Vec<IpAddr>, Failure>> {
    let Ok(msg) = Message::from_vec(buf) else {
        // Garbage with our id still counts as an invalid answer.
        let same_id = buf.len() >= 2 && u16::from_be_bytes([buf[0], buf[1]]) == id;
        return same_id.then_some(Err(Failure::Other));
    };
    if msg.metadata.id != id || msg.metadata.message_type != MessageType::Response {
        return None;
    }
    let q_ok = msg
        .queries
        .first()
        .is_some_and(|q| q.query_type() == qtype && q.name().eq_ignore_root(name));
    if !q_ok {
        return Some(Err(Failure::Other));
    }
    match msg.metadata.response_code {
        ResponseCode::NoError => {}
        ResponseCode::NXDomain => return Some(Err(Failure::Nx)),
        ResponseCode::Refused => return Some(Err(Failure::Refused)),
        _ => return Some(Err(Failure::Other)),
    }
    if msg.metadata.truncation {
        return Some(Err(Failure::Other));
    }
    // Records of the asked type anywhere in the answer section (a CNAME
    // chain ends in them).
    let ips: Vec<IpAddr> = msg
        .answers
        .iter()
        .filter_map(|r| match (&r.data, qtype) {
            (RData::A(a), RecordType::A) => Some(IpAddr::V4(a.0)),
            (RData::AAAA(a), RecordType::AAAA) => Some(IpAddr::V6(a.0)),
            _ => None,
        })
        .collect();
    if ips.is_empty() {
        return Some(Err(Failure::Other));
    }
    Some(Ok(ips))
}
