//! The API's HTTP server, under limits that keep slow or greedy clients from holding connections
//! (and file descriptors, which the process shares with Diameter):
//!
//! - connections are admitted under a global cap and a cap per source (an IPv4 address, an IPv6
//!   /64); one beyond either is closed as soon as it is accepted, and a warning says so (at most
//!   every ten seconds);
//! - a client has the header-read timeout to finish its TLS handshake and each request head (the same
//!   timeout ends an idle keep-alive connection), then the connection is closed;
//! - a request body has the body timeout from the end of its head ([`body_deadline`]): then 408 and
//!   the connection is closed.
//!
//! HTTP/1.1 served by hyper. [`serve`] stops on its shutdown future: it stops accepting, lets the
//! requests in flight finish, closes idle connections and returns once every connection is closed.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use http_body::{Frame, SizeHint};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

use crate::problem::ApiError;
use crate::state::{AppState, Settings};

/// The connection limits of [`serve`], from `[http]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Time to finish the TLS handshake and each request head (and the longest idle keep-alive).
    pub header_read_timeout: Duration,
    /// Connections open at once.
    pub max_connections: usize,
    /// Connections open at once from one source.
    pub max_connections_per_source: usize,
}

impl From<&Settings> for Limits {
    fn from(s: &Settings) -> Self {
        Limits {
            header_read_timeout: Duration::from_secs(s.header_read_timeout_secs),
            max_connections: s.max_connections,
            max_connections_per_source: s.max_connections_per_source,
        }
    }
}

impl Default for Limits {
    /// The `[http]` defaults.
    fn default() -> Self {
        Limits::from(&Settings::default())
    }
}

/// What one source is counted as: an IPv4 address (also when it arrives IPv4-mapped on an IPv6
/// socket), or the /64 of an IPv6 address (one host usually has a whole /64).
fn source_of(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(a) => IpAddr::V6(Ipv6Addr::from_bits(a.to_bits() & !u128::from(u64::MAX))),
        v4 => v4,
    }
}

/// The connections open now.
#[derive(Debug, Default)]
struct Open {
    total: usize,
    per_source: HashMap<IpAddr, usize>,
}

/// A connection's place among the open ones, given back when it is dropped.
struct Slot {
    open: Arc<Mutex<Open>>,
    source: IpAddr,
}

/// Which limit refused a connection.
#[derive(Debug, Clone, Copy)]
enum Full {
    Server,
    Source,
}

fn admit(open: &Arc<Mutex<Open>>, peer: IpAddr, limits: &Limits) -> Result<Slot, Full> {
    let source = source_of(peer);
    let mut o = open.lock().unwrap_or_else(PoisonError::into_inner);
    if o.total >= limits.max_connections {
        return Err(Full::Server);
    }
    let n = o.per_source.entry(source).or_insert(0);
    if *n >= limits.max_connections_per_source {
        return Err(Full::Source);
    }
    *n += 1;
    o.total += 1;
    Ok(Slot { open: open.clone(), source })
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut o = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        o.total -= 1;
        if let Some(n) = o.per_source.get_mut(&self.source) {
            *n -= 1;
            if *n == 0 {
                o.per_source.remove(&self.source);
            }
        }
    }
}

/// Connections refused since the last warning; warns at most every ten seconds.
#[derive(Default)]
struct Refusals {
    since_warning: u64,
    warned: Option<Instant>,
}

impl Refusals {
    fn note(&mut self, peer: SocketAddr, full: Full, limits: &Limits) {
        self.since_warning += 1;
        if self.warned.is_some_and(|at| at.elapsed() < Duration::from_secs(10)) {
            return;
        }
        let (limit, max) = match full {
            Full::Server => ("http.max_connections", limits.max_connections),
            Full::Source => ("http.max_connections_per_source", limits.max_connections_per_source),
        };
        tracing::warn!(peer = %peer, limit, max, refused = self.since_warning, "API connections refused at a limit");
        self.since_warning = 0;
        self.warned = Some(Instant::now());
    }
}

/// Serves `app` on `listener` (TLS when `tls` is given) under `limits` until `shutdown` resolves;
/// returns once every connection is closed.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    tls: Option<Arc<rustls::ServerConfig>>,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let acceptor = tls.map(TlsAcceptor::from);
    let open = Arc::new(Mutex::new(Open::default()));
    let connections = TaskTracker::new();
    let closing = CancellationToken::new();
    let mut refusals = Refusals::default();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(c) => c,
                Err(e) => {
                    // Out of file descriptors, most likely: wait a little rather than spin.
                    tracing::warn!(error = %e, "API accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let slot = match admit(&open, peer.ip(), &limits) {
            Ok(slot) => slot,
            Err(full) => {
                refusals.note(peer, full, &limits);
                drop(tcp);
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let (app, acceptor, closing) = (app.clone(), acceptor.clone(), closing.clone());
        connections.spawn(connection(tcp, peer, slot, app, acceptor, limits.header_read_timeout, closing));
    }
    drop(listener);
    closing.cancel();
    connections.close();
    connections.wait().await;
    Ok(())
}

/// One connection: the TLS handshake (when configured) within the header timeout, then HTTP/1.1.
async fn connection(
    tcp: TcpStream,
    peer: SocketAddr,
    _slot: Slot,
    app: Router,
    tls: Option<TlsAcceptor>,
    header_timeout: Duration,
    closing: CancellationToken,
) {
    let Some(acceptor) = tls else {
        return http1(tcp, peer, app, header_timeout, closing).await;
    };
    let handshake = tokio::select! {
        done = tokio::time::timeout(header_timeout, acceptor.accept(tcp)) => done,
        _ = closing.cancelled() => return,
    };
    match handshake {
        Ok(Ok(stream)) => http1(stream, peer, app, header_timeout, closing).await,
        Ok(Err(e)) => tracing::debug!(peer = %peer, error = %e, "API TLS handshake failed"),
        Err(_) => tracing::debug!(peer = %peer, "API TLS handshake timed out"),
    }
}

/// Serves HTTP/1.1 on `io` until the client or the server closes it; when `closing` is cancelled,
/// the request in flight is answered and the connection closed.
pub async fn http1<I>(io: I, peer: SocketAddr, app: Router, header_timeout: Duration, closing: CancellationToken)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
        // What axum's `ConnectInfo` extractor and `auth::source_of` read.
        req.extensions_mut().insert(ConnectInfo(peer));
        app.clone().oneshot(req)
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(header_timeout);
    let conn = builder.serve_connection(TokioIo::new(io), service);
    let mut conn = std::pin::pin!(conn);
    let ended = tokio::select! {
        ended = conn.as_mut() => ended,
        _ = closing.cancelled() => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = ended {
        tracing::debug!(peer = %peer, error = %e, "API connection ended");
    }
}

/// The request body did not arrive within the body timeout.
#[derive(Debug, thiserror::Error)]
#[error("request body timed out")]
struct BodyTimedOut;

/// A request body that fails with [`BodyTimedOut`] once its deadline passes.
struct Deadline {
    body: Body,
    sleep: Pin<Box<tokio::time::Sleep>>,
    expired: Arc<AtomicBool>,
}

impl http_body::Body for Deadline {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = &mut *self;
        if let Poll::Ready(frame) = Pin::new(&mut this.body).poll_frame(cx) {
            return Poll::Ready(frame);
        }
        if this.sleep.as_mut().poll(cx).is_ready() {
            this.expired.store(true, Ordering::Release);
            return Poll::Ready(Some(Err(axum::Error::new(BodyTimedOut))));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        http_body::Body::is_end_stream(&self.body)
    }

    fn size_hint(&self) -> SizeHint {
        http_body::Body::size_hint(&self.body)
    }
}

/// Middleware: each request body must arrive within `body_read_timeout_secs` of the end of its head;
/// if it does not, whoever reads it gets an error and the client gets 408 (problem details) with
/// `Connection: close`, whatever the reader made of the error.
pub async fn body_deadline(State(st): State<AppState>, req: Request, next: Next) -> Response {
    if http_body::Body::is_end_stream(req.body()) {
        return next.run(req).await;
    }
    let limit = Duration::from_secs(st.0.settings.body_read_timeout_secs);
    let expired = Arc::new(AtomicBool::new(false));
    let flag = expired.clone();
    let req = req.map(|body| Body::new(Deadline { body, sleep: Box::pin(tokio::time::sleep(limit)), expired: flag }));
    let response = next.run(req).await;
    if !expired.load(Ordering::Acquire) {
        return response;
    }
    let detail = format!("the request body did not arrive within {} s", limit.as_secs());
    let mut timed_out = ApiError::new(StatusCode::REQUEST_TIMEOUT, "request-timeout", detail).into_response();
    timed_out.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    timed_out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(total: usize, per_source: usize) -> Limits {
        Limits {
            header_read_timeout: Duration::from_secs(1),
            max_connections: total,
            max_connections_per_source: per_source,
        }
    }

    #[test]
    fn sources_are_ipv4_addresses_and_ipv6_64s() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(source_of(ip("192.0.2.7")), ip("192.0.2.7"));
        assert_eq!(source_of(ip("::ffff:192.0.2.7")), ip("192.0.2.7"), "IPv4-mapped on a dual-stack socket");
        assert_eq!(source_of(ip("2001:db8:1:2:aaaa:bbbb:cccc:dddd")), ip("2001:db8:1:2::"));
        assert_ne!(source_of(ip("2001:db8:1:2::1")), source_of(ip("2001:db8:1:3::1")));
    }

    #[test]
    fn slots_are_counted_per_source_and_in_total_and_given_back() {
        let open = Arc::new(Mutex::new(Open::default()));
        let l = limits(3, 2);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "2001:db8::1".parse().unwrap();
        let b_same_64: IpAddr = "2001:db8::2".parse().unwrap();
        let a1 = admit(&open, a, &l).unwrap();
        let _a2 = admit(&open, a, &l).unwrap();
        assert!(matches!(admit(&open, a, &l), Err(Full::Source)));
        let b1 = admit(&open, b, &l).unwrap();
        assert!(matches!(admit(&open, b_same_64, &l), Err(Full::Server)));
        drop(b1);
        let _b2 = admit(&open, b_same_64, &l).unwrap();
        drop(a1);
        let _a3 = admit(&open, a, &l).unwrap();
        let o = open.lock().unwrap();
        assert_eq!(o.total, 3);
        assert_eq!(o.per_source.len(), 2);
    }
}
