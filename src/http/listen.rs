//! Accepting and keeping HTTP connections (HTTP/1.1, hyper), in place of
//! `axum::serve`, which has no timeouts and accepts without bound: a
//! thousand sockets that send nothing used to take every file descriptor,
//! and with them the SMTP connection that carries a page.
//!
//! - **At most [`Limits::max_connections`] at once.** A permit is taken
//!   before `accept`; at the cap the daemon stops accepting and the kernel's
//!   listen backlog holds the rest until a connection closes. The cap is
//!   below the open-files limit by [`reserve`], kept for what the daemon
//!   opens itself: deliveries (SMTP, SMS, push, webhooks), the store, the
//!   rota files.
//! - **A request's line and headers** must arrive within
//!   `header_read_timeout`: from the accept for a connection's first
//!   request, from the first byte of each later one.
//! - **An idle connection** (kept alive, between requests) is closed after
//!   `idle_timeout` without the next request's first byte; **a request
//!   body** that sends nothing for `idle_timeout` fails (the handler answers
//!   400 and the connection closes).
//! - **Accept errors** (`EMFILE`, ...) are logged once per burst, and
//!   accepting backs off instead of spinning.
//! - **Shutdown**: accepting stops, idle connections close, requests in
//!   flight are answered, then [`serve`] returns.
//!
//! A connection's watchdog (`Watch`) enforces the two waits for a request
//! head (hyper's own `header_read_timeout` starts counting as soon as a
//! kept-alive connection goes idle, so it cannot tell an idle connection
//! from a slow request); `Stalling` times a request body.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use hyper::body::{Body as HttpBody, Bytes, Frame, Incoming, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::time::{Instant, Sleep};

/// How the daemon keeps its inbound connections.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Limits {
    pub header_read_timeout: Duration,
    pub idle_timeout: Duration,
    /// Connections open at once; see [`connection_cap`].
    pub max_connections: usize,
}

/// The descriptors kept out of the inbound cap for what the daemon opens
/// itself under an open-files limit of `limit`: a connection per delivery
/// in flight (an engine pass delivers everything due at once, each SMTP
/// send on a connection of its own), the store's files and connections
/// (SQLite: the database, its WAL and index, the lock, a writer and a few
/// readers; PostgreSQL: a writer and readers), rota and pay files, the
/// runtime's own. A quarter of the limit, and never fewer than 64, so that
/// a page goes out while the inbound side is full.
pub fn reserve(limit: u64) -> u64 {
    (limit / 4).max(64)
}

/// The fewest connections taken, however low the open-files limit.
const MIN_CONNECTIONS: u64 = 8;

/// How many inbound connections to take at once: `wanted` (the setting),
/// but never more than the open-files `limit` less [`reserve`].
pub fn connection_cap(wanted: usize, limit: u64) -> usize {
    let room = limit.saturating_sub(reserve(limit)).max(MIN_CONNECTIONS);
    (wanted as u64).min(room) as usize
}

/// The open-files limit (soft, hard) in force.
pub fn open_files_limit() -> (u64, u64) {
    use rustix::process::{Resource, getrlimit};
    let limit = getrlimit(Resource::Nofile);
    (limit.current.unwrap_or(u64::MAX), limit.maximum.unwrap_or(u64::MAX))
}

/// Raises the soft open-files limit to the hard one (a process may; many
/// start with a soft 1024 under a far higher hard limit), and returns
/// (soft before, soft now). Nothing is asked when they are equal already,
/// as under the shipped systemd unit (`LimitNOFILE=` sets both), whose
/// system-call filter does not allow changing limits.
pub fn raise_open_files_limit() -> std::io::Result<(u64, u64)> {
    use rustix::process::{Resource, Rlimit, setrlimit};
    let (soft, hard) = open_files_limit();
    if soft >= hard {
        return Ok((soft, soft));
    }
    setrlimit(
        Resource::Nofile,
        Rlimit {
            current: Some(hard),
            maximum: Some(hard),
        },
    )?;
    Ok((soft, open_files_limit().0))
}

/// The first pause after an accept error, doubled at each error in a row
/// up to [`ACCEPT_PAUSE_MAX`].
const ACCEPT_PAUSE_MIN: Duration = Duration::from_millis(10);
const ACCEPT_PAUSE_MAX: Duration = Duration::from_secs(1);
/// Accept errors this far apart are two bursts, each logged.
const ACCEPT_QUIET: Duration = Duration::from_secs(10);

/// Serves `router` on `listener` until `shutdown` completes, then waits for
/// the connections to finish (idle ones close at once, requests in flight
/// are answered).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let max = limits.max_connections.max(1);
    let permits = Arc::new(Semaphore::new(max));
    let (closing, closing_seen) = watch::channel(false);
    let mut shutdown = std::pin::pin!(shutdown);
    let mut at_cap = false;
    let mut errors: Option<Burst> = None;
    loop {
        let permit = match permits.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                if !at_cap {
                    at_cap = true;
                    tracing::warn!(
                        max_connections = max,
                        "at the connection cap: new connections wait in the listen backlog until one closes"
                    );
                }
                tokio::select! {
                    permit = permits.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
                    _ = &mut shutdown => break,
                }
            }
        };
        // One burst at the cap is over once a quarter of the connections
        // are free again, so that a cap reached, left and reached again
        // one connection at a time says so once.
        if at_cap && permits.available_permits() >= (max / 4).max(1) {
            at_cap = false;
            tracing::info!(max_connections = max, "below the connection cap again");
        }
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = &mut shutdown => break,
        };
        match accepted {
            Ok((stream, _)) => {
                if errors.as_ref().is_some_and(|b| b.last.elapsed() >= ACCEPT_QUIET) {
                    let burst = errors.take().expect("checked");
                    tracing::info!(errors = burst.count, "accepting connections again");
                }
                if let Some(burst) = &mut errors {
                    burst.pause = ACCEPT_PAUSE_MIN;
                }
                // Answers are small and written whole: no reason to wait
                // for more to fill a packet.
                let _ = stream.set_nodelay(true);
                tokio::spawn(connection(stream, router.clone(), limits, closing_seen.clone(), permit));
            }
            // The peer gave up before its connection was taken: nothing
            // wrong here.
            Err(e) if per_connection(&e) => {}
            Err(e) => {
                // Out of descriptors or memory: accepting again at once
                // would fail again at once. Said once a burst, then a pause.
                let fresh = errors.as_ref().is_none_or(|b| b.last.elapsed() >= ACCEPT_QUIET);
                if fresh {
                    tracing::error!(error = %e, "accept error: new connections wait in the listen backlog; retrying");
                    errors = Some(Burst {
                        count: 0,
                        last: Instant::now(),
                        pause: ACCEPT_PAUSE_MIN,
                    });
                }
                let burst = errors.as_mut().expect("set above");
                burst.count += 1;
                burst.last = Instant::now();
                let pause = burst.pause;
                burst.pause = (burst.pause * 2).min(ACCEPT_PAUSE_MAX);
                drop(permit);
                tokio::select! {
                    _ = tokio::time::sleep(pause) => {}
                    _ = &mut shutdown => break,
                }
            }
        }
    }
    drop(listener);
    let _ = closing.send(true);
    // Every connection holds a permit until it is done.
    let _ = permits.acquire_many(max as u32).await;
}

/// Accept errors in a row.
struct Burst {
    count: u64,
    last: Instant,
    pause: Duration,
}

/// An accept error about that one connection (gone before it was taken),
/// not about the daemon.
fn per_connection(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        e.kind(),
        ConnectionAborted | ConnectionReset | ConnectionRefused | Interrupted
    )
}

/// Serves one connection until it ends, its watchdog closes it, or the
/// daemon stops (then the request in flight, if any, is answered first).
async fn connection(
    stream: TcpStream,
    router: Router,
    limits: Limits,
    mut closing: watch::Receiver<bool>,
    _permit: OwnedSemaphorePermit,
) {
    let watch = Arc::new(Watch::new(limits));
    // Each request carries its client's address, as axum's `ConnectInfo`
    // (the intake's budget of wrong keys counts by it: `http::Peer`).
    let peer = stream.peer_addr().ok();
    let io = hyper_util::rt::TokioIo::new(Watched {
        stream,
        watch: watch.clone(),
    });
    let service = {
        let watch = watch.clone();
        let router = hyper_util::service::TowerToHyperService::new(router);
        hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
            use hyper::service::Service as _;
            let open = Open::new(watch.clone());
            let mut request = request.map(|body| Stalling::new(body, limits.idle_timeout));
            if let Some(peer) = peer {
                request.extensions_mut().insert(axum::extract::ConnectInfo(peer));
            }
            let answer = router.call(request);
            async move {
                let response = answer.await?;
                Ok::<_, std::convert::Infallible>(response.map(|body| Answer { body, _open: open }))
            }
        })
    };
    let conn = hyper::server::conn::http1::Builder::new().serve_connection(io, service);
    let mut conn = std::pin::pin!(conn);
    let mut told = false;
    loop {
        tokio::select! {
            done = conn.as_mut() => {
                if let Err(e) = done {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                return;
            }
            why = watch.expired() => {
                tracing::debug!("connection closed: {why}");
                return;
            }
            _ = closing.wait_for(|c| *c), if !told => {
                told = true;
                conn.as_mut().graceful_shutdown();
            }
        }
    }
}

/// What a connection is waiting for, and since when: the watchdog of the
/// waits for a request head.
///
/// Nothing tells the watchdog when the state changes (that woke the
/// connection's task and moved a timer twice for every request): it looks
/// again at its deadline, or after the shorter of the two timeouts if that
/// comes first. No change can bring the deadline before that time: each one
/// starts a wait of at least the shorter timeout from the moment it happens
/// (see [`Watch::expired`]).
struct Watch {
    limits: Limits,
    state: Mutex<Waiting>,
}

struct Waiting {
    /// Requests taken whose answer is not yet written.
    open: usize,
    /// Whether a request has been taken on this connection.
    served: bool,
    /// When the wait for the next request began: the accept, or the end of
    /// the last answer.
    since: Instant,
    /// When the first byte of the next request came.
    started: Option<Instant>,
}

impl Watch {
    fn new(limits: Limits) -> Watch {
        Watch {
            limits,
            state: Mutex::new(Waiting {
                open: 0,
                served: false,
                since: Instant::now(),
                started: None,
            }),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, Waiting> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// When the connection is to be closed if nothing changes, and why;
    /// `None` while a request is being served (a stalled body is
    /// [`Stalling`]'s).
    fn deadline(&self) -> Option<(Instant, &'static str)> {
        let s = self.state();
        if s.open > 0 {
            return None;
        }
        let Limits {
            header_read_timeout: header,
            idle_timeout: idle,
            ..
        } = self.limits;
        Some(match (s.served, s.started) {
            (false, _) => (s.since + header, "no complete request within header_read_timeout"),
            (true, Some(at)) => (at + header, "request headers not complete within header_read_timeout"),
            (true, None) => (s.since + idle, "idle for idle_timeout"),
        })
    }

    /// Completes when a deadline passes. Looks again at the deadline (or,
    /// while a request is served, after the shorter timeout) rather than
    /// being told of each change: a change made after a look starts a wait
    /// that ends no sooner than the look's time plus the shorter timeout,
    /// so sleeping until then never oversleeps a deadline.
    async fn expired(&self) -> &'static str {
        let Limits {
            header_read_timeout: header,
            idle_timeout: idle,
            ..
        } = self.limits;
        let shorter = header.min(idle);
        loop {
            let now = Instant::now();
            let look_again = match self.deadline() {
                Some((at, why)) if now >= at => return why,
                Some((at, _)) => at.min(now + shorter),
                None => now + shorter,
            };
            tokio::time::sleep_until(look_again).await;
        }
    }

    /// Bytes came in: the wait for a request's head, from its first byte.
    fn read(&self) {
        let mut s = self.state();
        if s.open == 0 && s.started.is_none() {
            s.started = Some(Instant::now());
        }
    }
}

/// A request taken and not yet answered; dropped when its answer's body is
/// (written, or given up).
struct Open(Arc<Watch>);

impl Open {
    fn new(watch: Arc<Watch>) -> Open {
        let mut s = watch.state();
        s.open += 1;
        s.served = true;
        s.started = None;
        drop(s);
        Open(watch)
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        let mut s = self.0.state();
        s.open -= 1;
        if s.open == 0 {
            s.since = Instant::now();
            s.started = None;
        }
    }
}

/// The socket, telling its [`Watch`] when bytes come in.
struct Watched {
    stream: TcpStream,
    watch: Arc<Watch>,
}

impl AsyncRead for Watched {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let read = Pin::new(&mut self.stream).poll_read(cx, buf);
        if matches!(read, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.watch.read();
        }
        read
    }
}

impl AsyncWrite for Watched {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// An answer's body, holding its request [`Open`] until it is dropped.
struct Answer {
    body: axum::body::Body,
    _open: Open,
}

impl HttpBody for Answer {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// A request body that fails when the sender sends nothing for `idle`
/// while it is read.
struct Stalling<B> {
    body: B,
    idle: Duration,
    /// Running while a read waits.
    timer: Option<Pin<Box<Sleep>>>,
}

impl<B> Stalling<B> {
    fn new(body: B, idle: Duration) -> Stalling<B> {
        Stalling {
            body,
            idle,
            timer: None,
        }
    }
}

/// Why a request body failed: nothing came for this long.
#[derive(Debug)]
struct Stalled(Duration);

impl std::fmt::Display for Stalled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the body stopped: nothing came for {} s (idle_timeout)",
            self.0.as_secs_f64()
        )
    }
}

impl std::error::Error for Stalled {}

impl<B> HttpBody for Stalling<B>
where
    B: HttpBody + Unpin,
    B::Error: Into<axum::BoxError>,
{
    type Data = B::Data;
    type Error = axum::BoxError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<B::Data>, Self::Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.body).poll_frame(cx) {
            Poll::Ready(frame) => {
                this.timer = None;
                Poll::Ready(frame.map(|f| f.map_err(Into::into)))
            }
            Poll::Pending => {
                let idle = this.idle;
                let timer = this.timer.get_or_insert_with(|| Box::pin(tokio::time::sleep(idle)));
                match timer.as_mut().poll(cx) {
                    Poll::Ready(()) => {
                        this.timer = None;
                        Poll::Ready(Some(Err(Box::new(Stalled(idle)))))
                    }
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_keeps_a_reserve_below_the_open_files_limit() {
        // A quarter, at least 64, kept for deliveries and the store.
        assert_eq!(connection_cap(4096, 1024), 768);
        assert_eq!(connection_cap(4096, 256), 192);
        assert_eq!(connection_cap(4096, 100), 36);
        assert_eq!(connection_cap(4096, 20), MIN_CONNECTIONS as usize);
        // The setting, when it is lower.
        assert_eq!(connection_cap(4096, 1 << 20), 4096);
        assert_eq!(connection_cap(100, 1024), 100);
    }
}
