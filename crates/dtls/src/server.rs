//! The UDP server: one socket, one task, sessions by peer address.
//!
//! - A datagram from a peer without a session is looked at only if its first record is an
//!   unfragmented epoch-0 ClientHello. Without a valid cookie it is answered with a
//!   HelloVerifyRequest and forgotten; with one, a session starts if the limits allow
//!   ([`Limits::max_handshakes`], [`Limits::max_sessions`]). Anything else is dropped.
//! - A session's datagrams go to OpenSSL; decrypted application datagrams go to the
//!   [`DatagramHandler`] with the peer's authenticated identity, and its answers go back encrypted.
//! - [`Outbound`] sends application datagrams to established peers from elsewhere (notifications).
//! - Every [`TICK`]: handshakes past [`Limits::handshake_timeout`] and sessions idle past
//!   [`Limits::idle_timeout`] are dropped, OpenSSL gets to retransmit a handshake flight, and
//!   sessions whose client certificate expired or was revoked since are closed
//!   ([`crate::revocation`]).
//!
//! A ClientHello with a valid cookie from the address of an established session is a client that
//! started over (RFC 6347 §4.2.8): the old session gives way once the new handshake has begun.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use openssl::ssl::SslContext;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::context::{self, X509Credentials};
use crate::cookie::CookieKey;
use crate::psk::PskResolver;
use crate::record::{client_hello, hello_verify_request, RECORD_HEADER};
use crate::revocation::RevokedSerials;
use crate::session::{End, PeerCert, Session};
use crate::DtlsError;
use coap::ratelimit::SourceBuckets;

/// How often timeouts and retransmissions are looked at.
pub const TICK: Duration = Duration::from_millis(250);
/// The largest datagram read from the socket.
const MAX_DATAGRAM: usize = 65_535;
/// How many application datagrams [`Outbound`] queues.
const OUTBOUND_QUEUE: usize = 1024;

/// Why the session with this client certificate must end, if it must.
fn certificate_refusal(revoked: Option<&RevokedSerials>, cert: Option<&PeerCert>, now: i64) -> Option<&'static str> {
    let cert = cert?;
    if cert.not_after.is_some_and(|t| t <= now) {
        return Some("client certificate expired");
    }
    revoked.filter(|r| r.contains(&cert.serial)).map(|_| "client certificate revoked")
}

fn unix_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// Bounds on what the server holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Sessions at once (established and handshaking); a new one beyond is refused.
    pub max_sessions: usize,
    /// Handshakes in flight at once.
    pub max_handshakes: usize,
    /// An established session with no datagram from its peer for this long is dropped.
    pub idle_timeout: Duration,
    /// A handshake not finished in this time is dropped.
    pub handshake_timeout: Duration,
    /// Largest datagram OpenSSL writes during the handshake (it fragments to fit).
    pub mtu: u32,
    /// New handshakes a second per source IP address (0: no limit; [`coap::ratelimit`]).
    pub handshakes_per_source_per_sec: u32,
    /// New handshakes a source may start at once before the rate applies.
    pub handshake_burst_per_source: u32,
    /// Source addresses the rate limit tracks at once.
    pub rate_limited_sources: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_sessions: 10_000,
            max_handshakes: 256,
            idle_timeout: Duration::from_secs(600),
            handshake_timeout: Duration::from_secs(20),
            mtu: 1200,
            handshakes_per_source_per_sec: 5,
            handshake_burst_per_source: 20,
            rate_limited_sources: 10_000,
        }
    }
}

/// What the server needs.
pub struct DtlsConfig {
    /// Where to listen.
    pub listen: SocketAddr,
    /// Bounds.
    pub limits: Limits,
    /// Pre-shared keys, for the PSK suites.
    pub psk: Option<Arc<dyn PskResolver>>,
    /// Server certificate and client CAs, for the certificate suites.
    pub x509: Option<X509Credentials>,
    /// Client certificates refused in the handshake and cut off when revoked later
    /// ([`crate::revocation`]).
    pub revoked: Option<Arc<RevokedSerials>>,
}

/// Receives the application datagrams of authenticated peers.
pub trait DatagramHandler: Send + Sync + 'static {
    /// One datagram from `peer`, authenticated as `identity` (always `Some` over DTLS); returns the
    /// datagrams to send back to it.
    fn handle(&self, peer: SocketAddr, identity: Option<String>, datagram: &[u8]) -> Vec<Vec<u8>>;

    /// The session with `peer` ended (closed, failed, idle, or replaced).
    fn session_closed(&self, _peer: SocketAddr) {}
}

/// Counters, readable while the server runs.
#[derive(Debug, Default)]
pub struct Stats {
    /// HelloVerifyRequests sent (ClientHellos without a valid cookie; no state kept).
    pub hello_verify_sent: AtomicU64,
    /// Handshakes finished.
    pub handshakes_completed: AtomicU64,
    /// Handshakes that failed or timed out.
    pub handshakes_failed: AtomicU64,
    /// New sessions refused by the limits.
    pub refused_busy: AtomicU64,
    /// ClientHellos with a valid cookie dropped by the per-source handshake rate.
    pub refused_rate: AtomicU64,
    /// Datagrams dropped (not a ClientHello from an unknown peer, or dropped by OpenSSL).
    pub dropped: AtomicU64,
    /// Application datagrams handed to the handler.
    pub app_datagrams: AtomicU64,
    /// Sessions now held.
    pub sessions: AtomicU64,
    /// Handshakes now in flight.
    pub handshaking: AtomicU64,
    /// Sessions closed because their client certificate was revoked or expired after (or during)
    /// the handshake.
    pub certificate_cutoffs: AtomicU64,
}

impl Stats {
    fn bump(c: &AtomicU64) {
        c.fetch_add(1, Ordering::Relaxed);
    }

    /// A counter's value.
    pub fn get(c: &AtomicU64) -> u64 {
        c.load(Ordering::Relaxed)
    }
}

/// Sends application datagrams to established peers.
#[derive(Debug, Clone)]
pub struct Outbound(mpsc::Sender<(SocketAddr, Vec<u8>)>);

impl Outbound {
    /// Queues `datagram` for `peer`; `false` when the queue is full or the server stopped. A
    /// datagram for a peer without an established session is dropped.
    pub fn send(&self, peer: SocketAddr, datagram: Vec<u8>) -> bool {
        self.0.try_send((peer, datagram)).is_ok()
    }
}

/// A bound server, ready to [`DtlsServer::run`].
pub struct DtlsServer {
    socket: UdpSocket,
    ctx: SslContext,
    cookies: CookieKey,
    limits: Limits,
    handler: Arc<dyn DatagramHandler>,
    sessions: HashMap<SocketAddr, Session>,
    outbound_tx: mpsc::Sender<(SocketAddr, Vec<u8>)>,
    outbound_rx: mpsc::Receiver<(SocketAddr, Vec<u8>)>,
    stats: Arc<Stats>,
    revoked: Option<Arc<RevokedSerials>>,
    rate: SourceBuckets,
    /// The [`RevokedSerials::generation`] established sessions were last checked against.
    revoked_seen: u64,
}

impl DtlsServer {
    /// Builds the TLS context and binds the socket.
    pub async fn bind(config: DtlsConfig, handler: Arc<dyn DatagramHandler>) -> Result<DtlsServer, DtlsError> {
        let ctx = context::build(config.psk, config.x509.as_ref(), config.revoked.clone())?;
        let socket =
            UdpSocket::bind(config.listen).await.map_err(|source| DtlsError::Bind { addr: config.listen, source })?;
        let (outbound_tx, outbound_rx) = mpsc::channel(OUTBOUND_QUEUE);
        Ok(DtlsServer {
            socket,
            ctx,
            cookies: CookieKey::random()?,
            limits: config.limits,
            handler,
            sessions: HashMap::new(),
            outbound_tx,
            outbound_rx,
            stats: Arc::default(),
            rate: SourceBuckets::new(
                config.limits.handshakes_per_source_per_sec,
                config.limits.handshake_burst_per_source,
                config.limits.rate_limited_sources,
            ),
            revoked_seen: config.revoked.as_ref().map_or(0, |r| r.generation()),
            revoked: config.revoked,
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.socket.local_addr()
    }

    /// A handle to send application datagrams.
    pub fn outbound(&self) -> Outbound {
        Outbound(self.outbound_tx.clone())
    }

    /// The counters.
    pub fn stats(&self) -> Arc<Stats> {
        self.stats.clone()
    }

    /// Serves until `cancel`; then sends close_notify to every established peer.
    pub async fn run(mut self, cancel: CancellationToken) {
        let mut buf = vec![0u8; MAX_DATAGRAM];
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                _ = cancel.cancelled() => break,
                r = self.socket.recv_from(&mut buf) => match r {
                    Ok((n, peer)) => {
                        let out = self.on_datagram(peer, &buf[..n]);
                        self.send_all(peer, out).await;
                    }
                    // ICMP errors of earlier sends surface here on some systems; the socket is fine.
                    Err(e) => tracing::debug!(error = %e, "DTLS socket receive error"),
                },
                Some((peer, d)) = self.outbound_rx.recv() => {
                    let out = self.send_app(peer, &d);
                    self.send_all(peer, out).await;
                }
                _ = tick.tick() => self.sweep().await,
            }
        }
        let peers: Vec<SocketAddr> = self.sessions.keys().copied().collect();
        for peer in peers {
            if let Some(mut s) = self.remove(peer) {
                s.close();
                let out = s.take_outgoing();
                self.send_all(peer, out).await;
            }
        }
    }

    async fn send_all(&self, peer: SocketAddr, datagrams: Vec<Vec<u8>>) {
        for d in datagrams {
            if let Err(e) = self.socket.send_to(&d, peer).await {
                tracing::debug!(%peer, error = %e, "DTLS send failed");
            }
        }
    }

    fn insert(&mut self, peer: SocketAddr, s: Session) {
        if !s.is_established() {
            self.stats.handshaking.fetch_add(1, Ordering::Relaxed);
        }
        if let Some(old) = self.sessions.insert(peer, s) {
            self.forget(peer, &old);
        }
        self.stats.sessions.fetch_add(1, Ordering::Relaxed);
    }

    fn forget(&self, peer: SocketAddr, s: &Session) {
        self.stats.sessions.fetch_sub(1, Ordering::Relaxed);
        if s.is_established() {
            self.handler.session_closed(peer);
        } else {
            self.stats.handshaking.fetch_sub(1, Ordering::Relaxed);
        }
    }

    fn remove(&mut self, peer: SocketAddr) -> Option<Session> {
        let s = self.sessions.remove(&peer)?;
        self.forget(peer, &s);
        Some(s)
    }

    /// Handles one received datagram; returns what to send to the peer.
    fn on_datagram(&mut self, peer: SocketAddr, datagram: &[u8]) -> Vec<Vec<u8>> {
        // Shorter than one record header: never DTLS. OpenSSL would read an empty datagram as the
        // end of its stream, and partial headers stall its record layer, so they never reach it.
        if datagram.len() < RECORD_HEADER {
            Stats::bump(&self.stats.dropped);
            return Vec::new();
        }
        let hello = client_hello(datagram);
        if let Some(h) = &hello {
            if !self.cookies.verify(peer, h) {
                Stats::bump(&self.stats.hello_verify_sent);
                return vec![hello_verify_request(h, &self.cookies.cookie(peer, h))];
            }
        }
        let restart = match (&hello, self.sessions.get(&peer)) {
            (Some(h), Some(s)) => !s.same_hello(h),
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => {
                Stats::bump(&self.stats.dropped);
                return Vec::new();
            }
        };
        if let (true, Some(h)) = (restart, &hello) {
            if !self.rate.allow(peer.ip(), std::time::Instant::now()) {
                Stats::bump(&self.stats.refused_rate);
                coap::metrics::refused(coap::metrics::Refusal::HandshakeRateLimited);
                return Vec::new();
            }
            let replacing = self.sessions.contains_key(&peer);
            let handshakes = Stats::get(&self.stats.handshaking) as usize;
            if handshakes >= self.limits.max_handshakes
                || (!replacing && self.sessions.len() >= self.limits.max_sessions)
            {
                Stats::bump(&self.stats.refused_busy);
                coap::metrics::refused(coap::metrics::Refusal::HandshakeBusy);
                return Vec::new();
            }
            return match Session::start(&self.ctx, h, datagram, self.limits.mtu) {
                Ok(mut s) => {
                    let out = s.take_outgoing();
                    self.insert(peer, s);
                    out
                }
                Err(e) => {
                    Stats::bump(&self.stats.handshakes_failed);
                    coap::metrics::handshake_failed(&e.reason());
                    tracing::debug!(%peer, reason = ?e, "DTLS handshake refused");
                    Vec::new()
                }
            };
        }
        let Some(s) = self.sessions.get_mut(&peer) else { return Vec::new() };
        let was_established = s.is_established();
        let result = s.feed(datagram);
        let mut out = s.take_outgoing();
        match result {
            Ok(app) => {
                let Some(identity) = s.identity().map(str::to_string) else { return out };
                if !was_established {
                    Stats::bump(&self.stats.handshakes_completed);
                    coap::metrics::handshake_completed();
                    self.stats.handshaking.fetch_sub(1, Ordering::Relaxed);
                    tracing::debug!(%peer, identity, "DTLS session established");
                    // The set may have changed between the verify callback and the last flight.
                    if let Some(why) = certificate_refusal(self.revoked.as_deref(), s.certificate(), unix_now()) {
                        return self.cut_off(peer, why, out);
                    }
                }
                for d in app {
                    Stats::bump(&self.stats.app_datagrams);
                    for answer in self.call_handler(peer, &identity, &d) {
                        out.extend(self.send_app(peer, &answer));
                    }
                }
                out
            }
            Err(end) => {
                if !was_established {
                    Stats::bump(&self.stats.handshakes_failed);
                    coap::metrics::handshake_failed(&end.reason());
                }
                tracing::debug!(%peer, reason = ?end, "DTLS session ended");
                self.remove(peer);
                out
            }
        }
    }

    /// Ends an established session over its certificate: close_notify after `out`, the handler told.
    fn cut_off(&mut self, peer: SocketAddr, why: &str, mut out: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
        Stats::bump(&self.stats.certificate_cutoffs);
        if why.contains("revoked") {
            coap::metrics::refused(coap::metrics::Refusal::RevokedCertificate);
        }
        tracing::info!(%peer, reason = why, "DTLS session closed");
        if let Some(mut s) = self.remove(peer) {
            s.close();
            out.extend(s.take_outgoing());
        }
        out
    }

    fn call_handler(&self, peer: SocketAddr, identity: &str, datagram: &[u8]) -> Vec<Vec<u8>> {
        let handler = &self.handler;
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            handler.handle(peer, Some(identity.to_string()), datagram)
        }))
        .unwrap_or_else(|_| {
            tracing::error!(%peer, "the CoAPs datagram handler panicked; datagram dropped");
            Vec::new()
        })
    }

    /// Encrypts an application datagram for `peer`: the records to send.
    fn send_app(&mut self, peer: SocketAddr, datagram: &[u8]) -> Vec<Vec<u8>> {
        let Some(s) = self.sessions.get_mut(&peer).filter(|s| s.is_established()) else {
            return Vec::new();
        };
        match s.send(datagram) {
            Ok(()) => s.take_outgoing(),
            Err(e) => {
                tracing::debug!(%peer, reason = ?e, "DTLS send failed; session dropped");
                self.remove(peer);
                Vec::new()
            }
        }
    }

    /// Established certificate sessions whose certificate expired, and, when the revocation set
    /// changed since the last look, those whose certificate is now revoked.
    fn certificates_to_cut(&mut self) -> Vec<(SocketAddr, &'static str)> {
        let generation = self.revoked.as_ref().map_or(0, |r| r.generation());
        let changed = generation != self.revoked_seen;
        self.revoked_seen = generation;
        let now = unix_now();
        let mut cut = Vec::new();
        for (peer, s) in &self.sessions {
            let Some(cert) = s.certificate() else { continue };
            let expired = cert.not_after.is_some_and(|t| t <= now);
            if expired || changed {
                if let Some(why) = certificate_refusal(self.revoked.as_deref(), Some(cert), now) {
                    cut.push((*peer, why));
                }
            }
        }
        cut
    }

    async fn sweep(&mut self) {
        for (peer, why) in self.certificates_to_cut() {
            let out = self.cut_off(peer, why, Vec::new());
            self.send_all(peer, out).await;
        }
        let mut expired = Vec::new();
        let mut retransmit = Vec::new();
        for (peer, s) in self.sessions.iter_mut() {
            if s.is_established() {
                if s.last_seen.elapsed() > self.limits.idle_timeout {
                    expired.push((*peer, End::Closed));
                }
            } else if s.started.elapsed() > self.limits.handshake_timeout {
                expired.push((*peer, End::Failed("handshake timeout".into())));
            } else if let Err(e) = s.poke() {
                expired.push((*peer, e));
            } else {
                let out = s.take_outgoing();
                if !out.is_empty() {
                    retransmit.push((*peer, out));
                }
            }
        }
        for (peer, why) in expired {
            if let Some(mut s) = self.remove(peer) {
                if s.is_established() {
                    s.close();
                    let out = s.take_outgoing();
                    self.send_all(peer, out).await;
                } else {
                    Stats::bump(&self.stats.handshakes_failed);
                    coap::metrics::handshake_failed(&why.reason());
                }
                tracing::debug!(%peer, reason = ?why, "DTLS session expired");
            }
        }
        for (peer, out) in retransmit {
            self.send_all(peer, out).await;
        }
    }
}
