//! The HTTP/1 connection guard: HAProxy's request and keep-alive timeouts, and
//! its error pages for requests hyper refuses.
//!
//! hyper has one header-read timeout, closes without a word when it fires, and
//! answers malformed requests with its own bodiless 400/414/431/505. HAProxy
//! 2.6 instead (measured on 2.6.12):
//! - waits for the first request of a connection up to `timeout http-request`
//!   from the accept, then sends its 408 page — even if no byte came;
//! - between requests waits `timeout http-keep-alive` (else `http-request`) for
//!   the first byte of the next one and closes silently when it expires;
//! - gives the next request `timeout http-request` from its first byte, then
//!   sends 408;
//! - answers every request it cannot parse with its 400 page.
//!
//! [`Guard`] sits between the socket (or TLS stream) and hyper and does exactly
//! that. It knows where the connection is from a [`Phase`] it shares with the
//! request handler: the handler marks a request as started when hyper hands it
//! over, and its response body marks the response as done. A write hyper makes
//! while no request is being processed can only be hyper's own error answer, so
//! the guard replaces it with the proxy's 400 page (`errorfile 400` included).
//! h2 connections and upgraded (101) ones pass through untouched.
//!
//! The guard also owns `timeout client` on the read side, because HAProxy
//! applies it only while the client is expected to send: not while a request
//! waits for a slow server (a plain read timeout on the socket would cut it,
//! hyper keeps a read pending to notice the client leaving). While no
//! request is in flight on an h2 (or upgraded) connection, inactivity longer
//! than `timeout client` closes it.

use bytes::Bytes;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::task::Waker;
use std::task::{Context, Poll, ready};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

const WAITING_FIRST: u8 = 0;
const WAITING_NEXT: u8 = 1;
const READING_HEAD: u8 = 2;
const PROCESSING: u8 = 3;
const RESPONSE_DONE: u8 = 4;
const PASSTHROUGH: u8 = 5;

/// Where a connection is, shared by the guard and the request handler.
#[derive(Debug)]
pub struct Phase {
    state: AtomicU8,
    /// Requests handed over and not yet answered (h2 runs several at once).
    active: AtomicUsize,
    /// The guard's task, woken when the last active request ends so that it
    /// arms the idle timer.
    waker: Mutex<Option<Waker>>,
}

impl Phase {
    /// A new connection, waiting for its first request.
    pub fn new() -> Arc<Phase> {
        Arc::new(Phase {
            state: AtomicU8::new(WAITING_FIRST),
            active: AtomicUsize::new(0),
            waker: Mutex::new(None),
        })
    }

    /// hyper handed a request over: the guard's head timers stop.
    pub fn request_started(&self) {
        self.active.fetch_add(1, Ordering::AcqRel);
        let _ = self
            .state
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |p| {
                (p != PASSTHROUGH).then_some(PROCESSING)
            });
    }

    /// The response's last byte went to hyper; the keep-alive wait starts once
    /// hyper has flushed it.
    pub fn response_done(&self) {
        let before = self
            .active
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1))
            .unwrap_or(0);
        let _ = self
            .state
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |p| {
                (p == PROCESSING).then_some(RESPONSE_DONE)
            });
        if before == 1 {
            let waker = match self.waker.lock() {
                Ok(mut w) => w.take(),
                Err(poisoned) => poisoned.into_inner().take(),
            };
            if let Some(w) = waker {
                w.wake();
            }
        }
    }

    fn idle(&self) -> bool {
        self.active.load(Ordering::Acquire) == 0
    }

    fn park(&self, cx: &Context<'_>) {
        let mut slot = match self.waker.lock() {
            Ok(w) => w,
            Err(poisoned) => poisoned.into_inner(),
        };
        *slot = Some(cx.waker().clone());
    }

    /// The connection left HTTP/1 request/response turns (h2, or a 101
    /// upgrade): nothing to guard any more.
    pub fn pass_through(&self) {
        self.state.store(PASSTHROUGH, Ordering::Release);
    }

    fn get(&self) -> u8 {
        self.state.load(Ordering::Acquire)
    }

    fn set(&self, p: u8) {
        self.state.store(p, Ordering::Release);
    }
}

/// The timeouts the guard enforces, resolved with HAProxy's fallbacks.
#[derive(Clone, Copy, Debug)]
pub struct GuardTimeouts {
    /// Complete request head: `timeout http-request`, else `timeout client`.
    pub request: Option<Duration>,
    /// Wait for the next request: `timeout http-keep-alive`, else `request`.
    pub keep_alive: Option<Duration>,
    /// `timeout client`: inactivity of an h2 or upgraded connection with no
    /// request in flight.
    pub client: Option<Duration>,
}

/// The error answers the guard may have to send, prepared up front so that
/// sending one allocates nothing and can't fail.
pub struct ErrorPages {
    /// Raw HTTP/1 bytes of the 400 page.
    pub bad_request: Bytes,
    /// Raw HTTP/1 bytes of the 408 page.
    pub timeout: Bytes,
    /// Called once with the status when the guard answers on its own, and
    /// whether any request byte had arrived (for `option dontlognull`).
    pub on_sent: Option<Box<dyn FnOnce(u16, bool) + Send>>,
}

/// What the guard is doing with the bytes beyond forwarding them.
enum Mode {
    Forward,
    /// Writing an error page; then the connection is over.
    Answering {
        page: Bytes,
        written: usize,
    },
    /// The page went out (or the connection failed): reads see EOF, writes
    /// vanish.
    Done,
}

/// An HTTP/1 connection's I/O with HAProxy's request timeouts and error
/// pages in front of hyper.
pub struct Guard<I> {
    inner: I,
    phase: Arc<Phase>,
    timeouts: GuardTimeouts,
    pages: ErrorPages,
    mode: Mode,
    /// Deadline of the current wait, if one is armed.
    timer: Option<Pin<Box<Sleep>>>,
    /// The phase the timer was armed for.
    timer_phase: u8,
    /// Bytes read so far (the first four decide whether this is h2).
    read_total: u64,
    /// The first bytes, to recognise the h2 connection preface.
    head: [u8; 4],
}

impl<I> Guard<I> {
    /// Wraps a fresh connection (waiting for its first request from now).
    pub fn new(inner: I, phase: Arc<Phase>, timeouts: GuardTimeouts, pages: ErrorPages) -> Self {
        let mut g = Guard {
            inner,
            phase,
            timeouts,
            pages,
            mode: Mode::Forward,
            timer: None,
            timer_phase: WAITING_FIRST,
            read_total: 0,
            head: [0; 4],
        };
        if g.phase.get() == PASSTHROUGH {
            g.arm(PASSTHROUGH, g.timeouts.client);
        } else {
            g.arm(WAITING_FIRST, g.timeouts.request);
        }
        g
    }

    fn arm(&mut self, phase: u8, after: Option<Duration>) {
        self.timer_phase = phase;
        self.timer = after.map(|d| Box::pin(tokio::time::sleep_until(Instant::now() + d)));
    }

    /// Starts answering with a page; `read_any` tells whether the client sent
    /// anything.
    fn answer(&mut self, status: u16) {
        let page = if status == 408 {
            self.pages.timeout.clone()
        } else {
            self.pages.bad_request.clone()
        };
        if let Some(f) = self.pages.on_sent.take() {
            f(status, self.read_total > 0);
        }
        self.timer = None;
        self.mode = Mode::Answering { page, written: 0 };
    }

    /// Keeps the timer in step with the phase the handler moved to.
    fn sync_timer(&mut self) {
        let phase = self.phase.get();
        if phase == self.timer_phase {
            return;
        }
        match phase {
            WAITING_NEXT => self.arm(WAITING_NEXT, self.timeouts.keep_alive),
            // The first request keeps counting from the accept.
            READING_HEAD if self.timer_phase == WAITING_FIRST => self.timer_phase = READING_HEAD,
            READING_HEAD => self.arm(READING_HEAD, self.timeouts.request),
            _ => {
                self.timer_phase = phase;
                self.timer = None;
            }
        }
    }

    /// In pass-through, `timeout client` runs only while no request is in
    /// flight; it restarts with every byte read.
    fn sync_idle_timer(&mut self, restart: bool) {
        if !self.phase.idle() {
            self.timer = None;
        } else if restart || self.timer.is_none() || self.timer_phase != PASSTHROUGH {
            self.arm(PASSTHROUGH, self.timeouts.client);
        }
    }
}

impl<I: AsyncWrite + Unpin> Guard<I> {
    /// Writes the rest of the page being sent, then flushes.
    fn poll_answer(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while let Mode::Answering { page, written } = &mut self.mode {
            if *written < page.len() {
                match ready!(Pin::new(&mut self.inner).poll_write(cx, &page[*written..])) {
                    Ok(0) | Err(_) => self.mode = Mode::Done,
                    Ok(n) => *written += n,
                }
            } else {
                let _ = ready!(Pin::new(&mut self.inner).poll_flush(cx));
                self.mode = Mode::Done;
            }
        }
        Poll::Ready(Ok(()))
    }

    /// A write that no request asked for is hyper's own error answer.
    fn unsolicited_write(&self) -> bool {
        matches!(
            self.phase.get(),
            WAITING_FIRST | WAITING_NEXT | READING_HEAD
        )
    }
}

impl<I: AsyncRead + AsyncWrite + Unpin> AsyncRead for Guard<I> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match this.mode {
            Mode::Forward => {}
            Mode::Answering { .. } => {
                ready!(this.poll_answer(cx))?;
                return Poll::Ready(Ok(()));
            }
            Mode::Done => return Poll::Ready(Ok(())),
        }
        let passthrough = this.phase.get() == PASSTHROUGH;
        if passthrough {
            this.phase.park(cx);
            this.sync_idle_timer(false);
        } else {
            this.sync_timer();
        }
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                let got = &buf.filled()[before..];
                if !got.is_empty() {
                    if passthrough {
                        this.sync_idle_timer(true);
                    } else {
                        this.on_bytes(got);
                    }
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => {
                let Some(timer) = this.timer.as_mut() else {
                    return Poll::Pending;
                };
                ready!(timer.as_mut().poll(cx));
                this.timer = None;
                match this.phase.get() {
                    PASSTHROUGH => {
                        this.mode = Mode::Done;
                        Poll::Ready(Err(io::Error::new(
                            io::ErrorKind::TimedOut,
                            "timeout client",
                        )))
                    }
                    // The keep-alive wait ended with nothing: close quietly.
                    WAITING_NEXT => {
                        this.mode = Mode::Done;
                        Poll::Ready(Ok(()))
                    }
                    WAITING_FIRST | READING_HEAD => {
                        this.answer(408);
                        ready!(this.poll_answer(cx))?;
                        Poll::Ready(Ok(()))
                    }
                    _ => Poll::Pending,
                }
            }
        }
    }
}

impl<I> Guard<I> {
    /// Request bytes arrived: the head timer of a new request starts, and the
    /// first bytes of the connection tell h2 (prior knowledge) from HTTP/1.
    fn on_bytes(&mut self, got: &[u8]) {
        let start = self.read_total as usize;
        for (i, b) in got.iter().enumerate() {
            if start + i >= self.head.len() {
                break;
            }
            self.head[start + i] = *b;
        }
        self.read_total += got.len() as u64;
        if start < 4 && self.read_total >= 4 && &self.head == b"PRI " {
            self.phase.pass_through();
            self.sync_idle_timer(true);
            return;
        }
        let phase = self.phase.get();
        if matches!(phase, WAITING_FIRST | WAITING_NEXT) {
            self.phase.set(READING_HEAD);
            self.sync_timer();
        }
    }
}

impl<I: AsyncRead + AsyncWrite + Unpin> AsyncWrite for Guard<I> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match this.mode {
            Mode::Forward if this.unsolicited_write() => {
                this.answer(400);
                Poll::Ready(Ok(buf.len()))
            }
            Mode::Forward => Pin::new(&mut this.inner).poll_write(cx, buf),
            Mode::Answering { .. } | Mode::Done => Poll::Ready(Ok(buf.len())),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let total = bufs.iter().map(|b| b.len()).sum();
        match this.mode {
            Mode::Forward if this.unsolicited_write() => {
                this.answer(400);
                Poll::Ready(Ok(total))
            }
            Mode::Forward => Pin::new(&mut this.inner).poll_write_vectored(cx, bufs),
            Mode::Answering { .. } | Mode::Done => Poll::Ready(Ok(total)),
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match this.mode {
            Mode::Forward => {
                ready!(Pin::new(&mut this.inner).poll_flush(cx))?;
                // Everything hyper buffered before this flush has been written:
                // if the response was complete, the keep-alive wait starts now.
                if this.phase.get() == RESPONSE_DONE {
                    this.phase.set(WAITING_NEXT);
                    this.sync_timer();
                    // hyper may already be parked on a read that saw no
                    // timer: register this one so its expiry wakes the task.
                    if let Some(t) = this.timer.as_mut() {
                        let _ = t.as_mut().poll(cx);
                    }
                }
                Poll::Ready(Ok(()))
            }
            Mode::Answering { .. } => this.poll_answer(cx),
            Mode::Done => Poll::Ready(Ok(())),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if let Mode::Answering { .. } = this.mode {
            ready!(this.poll_answer(cx))?;
        }
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}

/// A response body that tells the guard when the response is complete (its
/// end was read, or hyper dropped it: HEAD, 204, 304, client gone).
pub struct PhaseBody<B> {
    inner: B,
    phase: Option<Arc<Phase>>,
}

impl<B> PhaseBody<B> {
    /// Wraps a response body of the connection whose phase is `phase`.
    pub fn new(inner: B, phase: Arc<Phase>) -> Self {
        PhaseBody {
            inner,
            phase: Some(phase),
        }
    }

    fn done(&mut self) {
        if let Some(p) = self.phase.take() {
            p.response_done();
        }
    }
}

impl<B: hyper::body::Body + Unpin> hyper::body::Body for PhaseBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<B::Data>, B::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(_))) if self.inner.is_end_stream() => self.done(),
            Poll::Ready(None) | Poll::Ready(Some(Err(_))) => self.done(),
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}

impl<B> Drop for PhaseBody<B> {
    fn drop(&mut self) {
        self.done();
    }
}
