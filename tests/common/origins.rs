//! Origin servers for the balance and health-check tests: each answers with
//! its name (body and `x-origin`), answers `/health` with a status the test
//! sets, holds `/slow` for a while, and can stop listening (connections are
//! then refused) and listen again on the same port.
#![allow(clippy::expect_used)]

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// A controllable origin.
pub struct Origin {
    pub name: &'static str,
    pub addr: SocketAddr,
    /// Status of `/health` answers.
    health: Arc<AtomicU16>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl Origin {
    /// Starts listening on a fresh port.
    pub async fn start(name: &'static str) -> Origin {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind origin");
        let addr = listener.local_addr().expect("origin addr");
        let health = Arc::new(AtomicU16::new(200));
        let task = tokio::spawn(serve(listener, name, health.clone()));
        Origin {
            name,
            addr,
            health,
            task: Mutex::new(Some(task)),
        }
    }

    /// Makes `/health` answer `status`.
    pub fn set_health(&self, status: u16) {
        self.health.store(status, Ordering::SeqCst);
    }

    /// Closes the listening socket: new connections are refused.
    pub fn stop(&self) {
        if let Some(t) = self.task.lock().expect("lock").take() {
            t.abort();
        }
    }

    /// Listens again on the same port.
    pub async fn restart(&self) {
        self.stop();
        let mut tries = 0;
        let listener = loop {
            match TcpListener::bind(self.addr).await {
                Ok(l) => break l,
                Err(e) => {
                    tries += 1;
                    assert!(tries < 50, "cannot listen again on {}: {e}", self.addr);
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        };
        let task = tokio::spawn(serve(listener, self.name, self.health.clone()));
        *self.task.lock().expect("lock") = Some(task);
    }
}

impl Drop for Origin {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn serve(listener: TcpListener, name: &'static str, health: Arc<AtomicU16>) {
    let mut conns = tokio::task::JoinSet::new();
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            return;
        };
        let health = health.clone();
        // Owned by this task: stopping the origin also drops its connections.
        conns.spawn(async move {
            let svc = service_fn(move |req: Request<hyper::body::Incoming>| {
                let health = health.clone();
                async move {
                    let mut status = 200;
                    match req.uri().path() {
                        "/health" => status = health.load(Ordering::SeqCst),
                        "/slow" => tokio::time::sleep(Duration::from_millis(1500)).await,
                        _ => {}
                    }
                    // The Cookie headers the origin received, for the
                    // persistence tests.
                    let cookies: Vec<&str> = req
                        .headers()
                        .get_all("cookie")
                        .iter()
                        .filter_map(|v| v.to_str().ok())
                        .collect();
                    let mut res = Response::builder()
                        .status(status)
                        .header("x-origin", name)
                        .header("x-cookie", cookies.join(" | "));
                    // `x-set-cookie` in the request: the origin sets that cookie.
                    if let Some(v) = req.headers().get("x-set-cookie") {
                        res = res.header("set-cookie", v.clone());
                    }
                    let res = res
                        .body(Full::new(Bytes::from(format!("origin={name}\n"))))
                        .expect("response");
                    Ok::<_, Infallible>(res)
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}
