//! `resolvers` sections under `portcullis run`: a tiny DNS server inside the
//! test (UDP on 127.0.0.1, answering A records it is told to), servers
//! addressed by a name only that DNS server knows, and requests that follow
//! the answer as it changes — as HAProxy 2.6 re-resolves servers every
//! `timeout resolve`. Also the check-time errors of the section.

#![allow(clippy::expect_used, clippy::unwrap_used)] // a test failing loudly is the point

mod common;

use common::runtime::{free_port, get, start as proxy};
use hickory_proto::op::{Message, MessageType, ResponseCode};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{RData, Record, RecordType};
use portcullis::config::{self, LowerOptions};
use portcullis::diag::{SourceMap, render};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};
use tokio::task::JoinHandle;

/// What the DNS server answers to A queries.
#[derive(Clone, Debug)]
enum Answer {
    Ips(Vec<Ipv4Addr>),
    Nx,
}

/// A DNS server on 127.0.0.1 answering A queries for any name with the
/// current [`Answer`] (AAAA: an empty NOERROR answer).
struct TinyDns {
    addr: SocketAddr,
    answer: Arc<Mutex<Answer>>,
    queries: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl TinyDns {
    async fn start(answer: Answer) -> TinyDns {
        let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = sock.local_addr().unwrap();
        let answer = Arc::new(Mutex::new(answer));
        let queries = Arc::new(AtomicUsize::new(0));
        let (a, q) = (answer.clone(), queries.clone());
        let task = tokio::spawn(async move {
            let mut buf = vec![0u8; 4096];
            loop {
                let Ok((n, peer)) = sock.recv_from(&mut buf).await else {
                    continue;
                };
                let Ok(query) = Message::from_vec(&buf[..n]) else {
                    continue;
                };
                q.fetch_add(1, Ordering::SeqCst);
                let mut res = Message::response(query.metadata.id, query.metadata.op_code);
                res.metadata.recursion_desired = true;
                res.metadata.recursion_available = true;
                res.add_queries(query.queries.clone());
                let current = a.lock().unwrap().clone();
                match (current, query.queries.first()) {
                    (Answer::Nx, _) => res.metadata.response_code = ResponseCode::NXDomain,
                    (Answer::Ips(ips), Some(question))
                        if question.query_type() == RecordType::A =>
                    {
                        for ip in ips {
                            res.add_answer(Record::from_rdata(
                                question.name().clone(),
                                1,
                                RData::A(A(ip)),
                            ));
                        }
                    }
                    _ => {}
                }
                assert_eq!(res.metadata.message_type, MessageType::Response);
                let _ = sock.send_to(&res.to_vec().unwrap(), peer).await;
            }
        });
        TinyDns {
            addr,
            answer,
            queries,
            task,
        }
    }

    fn set(&self, answer: Answer) {
        *self.answer.lock().unwrap() = answer;
    }
}

impl Drop for TinyDns {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// An HTTP origin on `ip:port` answering its name to every request.
fn origin(listener: TcpListener, name: &'static str) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                continue;
            };
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let mut got = Vec::new();
                while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => got.extend_from_slice(&buf[..n]),
                    }
                }
                let res = format!(
                    "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{name}",
                    name.len()
                );
                let _ = s.write_all(res.as_bytes()).await;
            });
        }
    })
}

/// Two origins on the same port of 127.0.0.2 ("a") and 127.0.0.3 ("b").
async fn two_origins() -> (u16, JoinHandle<()>, JoinHandle<()>) {
    for _ in 0..50 {
        let a = TcpListener::bind("127.0.0.2:0").await.unwrap();
        let port = a.local_addr().unwrap().port();
        if let Ok(b) = TcpListener::bind(("127.0.0.3", port)).await {
            return (port, origin(a, "a"), origin(b, "b"));
        }
    }
    panic!("no port free on both 127.0.0.2 and 127.0.0.3");
}

/// Polls the proxy until `n` answers in a row are `want` (a body, or a
/// status when it starts with a digit); fails after 10 s.
async fn until(port: u16, want: &str, n: usize) {
    let mut streak = 0;
    let mut seen = Vec::new();
    for _ in 0..200 {
        let r = get(port, "/", &[]).await;
        let got = if r.status == 200 {
            r.body.clone()
        } else {
            r.status.to_string()
        };
        if got == want {
            streak += 1;
            if streak == n {
                return;
            }
        } else {
            streak = 0;
            if seen.last() != Some(&got) {
                seen.push(got);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    panic!("never got {n} answers in a row of {want}; saw {seen:?}");
}

fn config(dns: SocketAddr, fe: u16, origin_port: u16, server_opts: &str) -> String {
    format!(
        "defaults\n    mode http\n    timeout client 5s\n    timeout connect 1s\n    timeout server 5s\n\
resolvers dns\n    nameserver local {dns}\n    timeout resolve 100ms\n    timeout retry 200ms\n    hold nx 300ms\n    hold valid 1h\n\
frontend fe\n    bind 127.0.0.1:{fe}\n    default_backend be\n\
backend be\n    server app app.portcullis.test:{origin_port} resolvers dns resolve-prefer ipv4 {server_opts}\n"
    )
}

#[tokio::test]
async fn requests_follow_the_dns_answer_when_it_changes() {
    let (port, _a, _b) = two_origins().await;
    let dns = TinyDns::start(Answer::Ips(vec![Ipv4Addr::new(127, 0, 0, 2)])).await;
    let fe = free_port();
    let _p = proxy(&config(dns.addr, fe, port, "init-addr none")).await;
    until(fe, "a", 3).await;
    dns.set(Answer::Ips(vec![Ipv4Addr::new(127, 0, 0, 3)]));
    // `hold valid 1h` does not delay it: servers are resolved every
    // `timeout resolve` in HAProxy 2.6.
    until(fe, "b", 3).await;
    assert!(dns.queries.load(Ordering::SeqCst) >= 2);
}

#[tokio::test]
async fn init_addr_none_starts_in_maintenance_until_the_name_resolves() {
    let (port, _a, _b) = two_origins().await;
    let dns = TinyDns::start(Answer::Nx).await;
    let fe = free_port();
    let _p = proxy(&config(dns.addr, fe, port, "init-addr none")).await;
    // No address: the server is in maintenance, the backend has no server.
    until(fe, "503", 3).await;
    dns.set(Answer::Ips(vec![Ipv4Addr::new(127, 0, 0, 3)]));
    until(fe, "b", 3).await;
}

#[tokio::test]
async fn nxdomain_past_hold_nx_takes_the_server_down_and_a_valid_answer_brings_it_back() {
    let (port, _a, _b) = two_origins().await;
    let dns = TinyDns::start(Answer::Ips(vec![Ipv4Addr::new(127, 0, 0, 2)])).await;
    let fe = free_port();
    // The initial address is a fixed one (the origin "b"), replaced by the
    // DNS answer.
    let _p = proxy(&config(dns.addr, fe, port, "init-addr 127.0.0.3")).await;
    until(fe, "a", 3).await;
    dns.set(Answer::Nx);
    until(fe, "503", 3).await;
    dns.set(Answer::Ips(vec![Ipv4Addr::new(127, 0, 0, 2)]));
    until(fe, "a", 3).await;
}

#[tokio::test]
async fn servers_of_one_name_take_distinct_addresses() {
    let (port, _a, _b) = two_origins().await;
    let dns = TinyDns::start(Answer::Ips(vec![
        Ipv4Addr::new(127, 0, 0, 2),
        Ipv4Addr::new(127, 0, 0, 3),
    ]))
    .await;
    let fe = free_port();
    let text = format!(
        "{}    server app2 app.portcullis.test:{port} resolvers dns resolve-prefer ipv4 init-addr none\n",
        config(dns.addr, fe, port, "init-addr none")
    );
    let _p = proxy(&text).await;
    // Round robin over two servers on two addresses: both origins answer.
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..200 {
        let r = get(fe, "/", &[]).await;
        if r.status == 200 {
            seen.insert(r.body);
        }
        if seen.len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(seen.into_iter().collect::<Vec<_>>(), vec!["a", "b"]);
}

/// The diagnostics of a configuration `check` rejects.
fn rejected(text: &str) -> String {
    let mut map = SourceMap::new();
    let file = map.add("test.cfg", text);
    let (ir, diags) = config::build(&mut map, &[file], &LowerOptions::default(), &|_| None);
    assert!(ir.is_none(), "accepted:\n{text}");
    render(&map, &diags)
}

const BE: &str = "defaults\n    mode http\n    timeout client 5s\n    timeout connect 1s\n    timeout server 5s\nfrontend fe\n    bind 127.0.0.1:1\n    default_backend be\n";

#[test]
fn check_time_errors_match_haproxy() {
    let cases = [
        (
            "backend be\n    server s 127.0.0.1:80 resolvers nope\n",
            "backend 'be', server 's': unable to find required resolvers 'nope'",
        ),
        (
            "resolvers dns\n    nameserver a 127.0.0.1:53\nresolvers dns\n    nameserver a 127.0.0.1:53\nbackend be\n    server s 127.0.0.1:80\n",
            "resolvers 'dns' has same name as another resolvers (declared at test.cfg:",
        ),
        (
            "resolvers dns\n    nameserver a 127.0.0.1:53\n    nameserver a 127.0.0.1:54\nbackend be\n    server s 127.0.0.1:80\n",
            "nameserver 'a' has same name as another nameserver",
        ),
        (
            "resolvers dns\n    nameserver a 127.0.0.1\nbackend be\n    server s 127.0.0.1:80\n",
            "missing port specification in '127.0.0.1'",
        ),
        (
            "resolvers dns\n    nameserver a tcp@127.0.0.1:53\nbackend be\n    server s 127.0.0.1:80\n",
            "DNS over TCP ('tcp@127.0.0.1:53') is not supported by portcullis",
        ),
        (
            "resolvers dns\n    hold foo 1s\nbackend be\n    server s 127.0.0.1:80\n",
            "'hold' unknown <event>: 'foo'",
        ),
        (
            "resolvers dns\n    accepted_payload_size 70000\nbackend be\n    server s 127.0.0.1:80\n",
            "'accepted_payload_size' must be between 12 and 65535 inclusive (was 70000)",
        ),
        (
            "resolvers dns\n    timeout foo 1s\nbackend be\n    server s 127.0.0.1:80\n",
            "'timeout' expects 'retry' or 'resolve' and <time> as arguments got 'foo'",
        ),
        (
            "backend be\n    server s no-such-host.invalid:80\n",
            "'server be/s' : could not resolve address 'no-such-host.invalid'",
        ),
        (
            "backend be\n    server s 127.0.0.1:80 init-addr foo\n",
            "unknown init-addr method 'foo'",
        ),
        (
            "backend be\n    server s 127.0.0.1:80 resolve-prefer ipv5\n",
            "'resolve-prefer' expects either ipv4 or ipv6 as argument",
        ),
        (
            "backend be\n    server s 127.0.0.1:80 resolve-opts foo\n",
            "unknown resolve-opts option 'foo'",
        ),
        (
            "backend be\n    server s 127.0.0.1:80 resolve-net foo\n",
            "'resolve-net' invalid network 'foo'",
        ),
        (
            "resolvers dns\n    nameserver a 127.0.0.1:53\nbackend be\n    server s _http._tcp.example:80 resolvers dns init-addr none\n",
            "resolving the SRV label '_http._tcp.example' is not supported by portcullis",
        ),
    ];
    for (body, want) in cases {
        let out = rejected(&format!("{BE}{body}"));
        assert!(
            out.contains(want),
            "for:\n{body}\nwanted '{want}' in:\n{out}"
        );
    }
}

#[test]
fn unresolvable_names_pass_check_with_init_addr_none_as_in_haproxy() {
    let text = format!(
        "{BE}resolvers dns\n    nameserver a 127.0.0.1:53\n    parse-resolv-conf\n    resolve_retries 2\n    hold other 1s\n    hold obsolete 5s\n    hold valid 1s\nbackend be\n    default-server init-addr last,libc,none resolvers dns\n    server s no-such-host.invalid:80 resolve-net 10.0.0.0/8 resolve-opts allow-dup-ip,ignore-weight\n"
    );
    let mut map = SourceMap::new();
    let file = map.add("test.cfg", &text);
    let (ir, diags) = config::build(&mut map, &[file], &LowerOptions::default(), &|_| None);
    let out = render(&map, &diags);
    let ir = ir.unwrap_or_else(|| panic!("rejected:\n{out}"));
    assert!(
        out.contains("could not resolve address 'no-such-host.invalid', disabling server"),
        "{out}"
    );
    assert!(
        out.contains("'resolve-opts ignore-weight' has no effect"),
        "{out}"
    );
    assert!(out.contains("'hold valid' has no effect"), "{out}");
    let s = &ir.backends[0].servers[0];
    let r = s.resolve.as_ref().unwrap();
    assert_eq!(ir.resolvers[r.resolvers].name, "dns");
    assert!(r.allow_dup_ip);
    assert_eq!(ir.resolvers[0].resolve_retries, 2);
    assert_eq!(ir.resolvers[0].hold.obsolete, 5000);
}

#[tokio::test]
async fn a_dynamic_cookie_on_a_resolved_server_is_refused() {
    let text = format!(
        "{BE}resolvers dns\n    nameserver a 127.0.0.1:53\nbackend be\n    cookie SRV insert dynamic\n    dynamic-cookie-key k\n    server s app.portcullis.test:80 resolvers dns init-addr none\n"
    );
    let Err(err) = common::runtime::try_start(common::runtime::lower(&text)).await else {
        panic!("started");
    };
    let msg = err.to_string();
    assert!(
        msg.contains("a dynamic cookie on a server resolved at run time"),
        "{msg}"
    );
}

#[tokio::test]
async fn a_server_template_spreads_over_the_answer() {
    let (port, _a, _b) = two_origins().await;
    let dns = TinyDns::start(Answer::Ips(vec![
        Ipv4Addr::new(127, 0, 0, 2),
        Ipv4Addr::new(127, 0, 0, 3),
    ]))
    .await;
    let fe = free_port();
    let text = format!(
        "defaults\n    mode http\n    timeout client 5s\n    timeout connect 1s\n    timeout server 5s\n\
resolvers dns\n    nameserver local {}\n    timeout resolve 100ms\n\
frontend fe\n    bind 127.0.0.1:{fe}\n    default_backend be\n\
backend be\n    server-template app 3 app.portcullis.test:{port} resolvers dns resolve-prefer ipv4 init-addr none\n",
        dns.addr
    );
    let _p = proxy(&text).await;
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..200 {
        let r = get(fe, "/", &[]).await;
        if r.status == 200 {
            seen.insert(r.body);
        }
        if seen.len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(seen.into_iter().collect::<Vec<_>>(), vec!["a", "b"]);
}
