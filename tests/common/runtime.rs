//! Helpers of the `portcullis run` tests: lower a configuration text, start
//! the proxy in-process on 127.0.0.1, and send it requests with a real HTTP
//! client under a bounded timeout.
#![allow(clippy::expect_used)] // a test failing loudly is the point

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use portcullis::config::{self, LowerOptions};
use portcullis::diag::{SourceMap, render};
use portcullis::ir;
use portcullis::runtime::listener::SocketSet;
use portcullis::runtime::serve::{Proxy, StartError};
use std::time::Duration;

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().expect("local addr").port()
}

/// Lowers configuration text (named `test.cfg`; relative paths resolve from
/// the crate root, where cargo runs tests); panics with the rendered
/// diagnostics when it is rejected.
pub fn lower(text: &str) -> ir::Config {
    let mut map = SourceMap::new();
    let file = map.add("test.cfg", text);
    let (ir, diags) = config::build(&mut map, &[file], &LowerOptions::default(), &|_| None);
    ir.unwrap_or_else(|| panic!("config rejected:\n{}", render(&map, &diags)))
}

/// Starts a proxy from a lowered configuration.
pub async fn try_start(ir: ir::Config) -> Result<Proxy, StartError> {
    let mut sockets = SocketSet::new();
    Proxy::start(ir, &mut sockets).await
}

/// Starts a proxy from configuration text.
pub async fn start(text: &str) -> Proxy {
    try_start(lower(text)).await.expect("proxy starts")
}

/// What the proxy answered.
pub struct Answer {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: String,
}

impl Answer {
    /// A response header as text ("" when absent).
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

/// GET `path` from the proxy on `port` with extra request headers; the
/// answer must come within 10 s.
pub async fn get(port: u16, path: &str, headers: &[(&str, &str)]) -> Answer {
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let mut req = Request::get(format!("http://127.0.0.1:{port}{path}"));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = req.body(Full::new(Bytes::new())).expect("request");
    let res = tokio::time::timeout(Duration::from_secs(10), client.request(req))
        .await
        .expect("answer in time")
        .expect("http answer");
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let body = res.into_body().collect().await.expect("body").to_bytes();
    Answer {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

/// A syslog receiver on 127.0.0.1 for the log tests.
pub struct LogSink {
    pub socket: tokio::net::UdpSocket,
    pub port: u16,
}

impl LogSink {
    pub async fn bind() -> LogSink {
        let socket = tokio::net::UdpSocket::bind("127.0.0.1:0")
            .await
            .expect("udp sink");
        let port = socket.local_addr().expect("sink addr").port();
        LogSink { socket, port }
    }

    /// The next datagram as text; fails after 5 s.
    pub async fn next_line(&self) -> String {
        let mut buf = vec![0u8; 2048];
        let n = tokio::time::timeout(
            std::time::Duration::from_secs(5),
            self.socket.recv(&mut buf),
        )
        .await
        .expect("a log line arrives")
        .expect("udp recv");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    }
}

/// Sends `GET <path>` on a raw keep-alive connection and returns the body of
/// the answer (`Content-Length` framed); `None` when the proxy closes the
/// connection (or stays silent 5 s) instead of answering.
pub async fn raw_get(s: &mut tokio::net::TcpStream, path: &str) -> Option<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
        .await
        .ok()?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    loop {
        let text = String::from_utf8_lossy(&buf).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length: "))
                .and_then(|v| v.trim().parse().ok())?;
            if body.len() >= len {
                return Some(body[..len].to_string());
            }
        }
        let n = tokio::time::timeout(std::time::Duration::from_secs(5), s.read(&mut chunk))
            .await
            .ok()?
            .ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}
