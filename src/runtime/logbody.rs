//! The response body that writes the access-log line when it ends.
//!
//! HAProxy logs a stream when it ends, with the bytes really sent and the total
//! time; this wrapper counts what goes through and emits the line when the body
//! finishes or is dropped (client gone). With `option logasap` the line is
//! written as soon as the headers leave instead, marked with `+` like HAProxy.

use super::eval::{Txn, Vars};
use super::facts::{ConnFacts, LogFacts};
use super::generation::Generation;
use super::log;
use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use hyper::body::{Body, Frame, SizeHint};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

/// Everything needed to write one access-log line later.
pub struct PendingLog {
    pub generation: Arc<Generation>,
    pub frontend: usize,
    pub facts: Arc<ConnFacts>,
    pub request: http::request::Parts,
    pub vars: Vars,
    pub log: LogFacts,
    pub started: Instant,
}

impl PendingLog {
    /// Writes the line now.
    pub fn emit(mut self, sent: u64, complete: bool) {
        self.log.bytes_out = sent;
        self.log.bytes_final = complete;
        self.log.timers.close = self.started.elapsed().as_millis() as i64;
        let fe = &self.generation.config.frontends[self.frontend];
        let config = &self.generation.config;
        let chosen = config
            .backends
            .iter()
            .position(|b| b.common.name == *self.log.backend);
        let traced = super::tracefilter::active(config, self.frontend, chosen);
        let stream = self.log.counters.request_id;
        super::tracefilter::event(&traced, stream, "trace_stream_stop", &[]);
        super::tracefilter::event(&traced, stream, "trace_detach", &[]);
        let mut txn = Txn::new(&self.facts, &mut self.vars);
        txn.req = Some(&self.request);
        txn.log = Some(&self.log);
        txn.backend_tls = self.log.backend_tls.as_deref();
        log::access(&self.generation, &fe.common, &mut txn);
    }
}

/// A response body that logs at its end.
pub struct LoggedBody {
    inner: BoxBody<Bytes, hyper::Error>,
    sent: u64,
    pending: Option<PendingLog>,
}

impl LoggedBody {
    /// Wraps a body; `pending` is written when it ends.
    pub fn new(inner: BoxBody<Bytes, hyper::Error>, pending: Option<PendingLog>) -> Self {
        LoggedBody {
            inner,
            sent: 0,
            pending,
        }
    }

    fn finish(&mut self) {
        if let Some(p) = self.pending.take() {
            p.emit(self.sent, true);
        }
    }
}

impl Body for LoggedBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(d) = frame.data_ref() {
                    self.sent += d.len() as u64;
                }
                if self.inner.is_end_stream() {
                    self.finish();
                }
            }
            Poll::Ready(None) | Poll::Ready(Some(Err(_))) => self.finish(),
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for LoggedBody {
    fn drop(&mut self) {
        // A body dropped before its end (client gone, HEAD, empty body never
        // polled) is still logged, with what was sent.
        self.finish();
    }
}
