//! The tokio shell: one UDP socket where partners send (`[gtp] listen`), read by `workers` tasks in
//! batches (`recvmmsg` through `quinn-udp`), and for each partner node (source address and port) one
//! UDP socket toward the P-GW (`upstream`), so that whatever the P-GW sends on it — responses and
//! its own requests — goes back to that node, with no state in the messages themselves (the relayed
//! bytes stay as they came). A second's tick forgets expired requests and publishes the gauges.
//!
//! A set-up whose subscriber view is not in memory ([`Verdict::Park`]) waits off the receive path
//! ([`parking`]), so a slow store read for one subscriber never holds up anyone else's messages.

pub(crate) mod batch;
mod parking;

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use quinn_udp::{UdpSocketState, BATCH_SIZE};
use tokio::net::UdpSocket;
use tokio_util::sync::CancellationToken;

use self::batch::{send_run, Batch, Runs, MAX_SEGMENTS, SLOT};
use crate::engine::Verdict;
use crate::{clock, Gtp};

/// Partner nodes (address and port) with their own upstream socket at once; datagrams of further
/// ones are dropped.
pub const MAX_PEERS: usize = 4096;

impl Gtp {
    /// Binds the configured listener.
    pub async fn bind(&self) -> std::io::Result<UdpSocket> {
        UdpSocket::bind(self.config().listen).await
    }

    /// Relays between partners on `socket` and the configured upstream until `shutdown`.
    pub async fn run(self: &Arc<Self>, socket: UdpSocket, shutdown: CancellationToken) {
        let config = self.config();
        let listen_state = match UdpSocketState::new((&socket).into()) {
            Ok(s) => {
                let _ = s.set_recv_buffer_size((&socket).into(), SOCKET_BUFFER);
                let _ = s.set_send_buffer_size((&socket).into(), SOCKET_BUFFER);
                s
            }
            Err(e) => {
                tracing::error!(error = %e, "gtp: listener not usable");
                return;
            }
        };
        let relay = Arc::new(Relay {
            gtp: self.clone(),
            listen: socket,
            listen_state,
            upstream: config.upstream,
            peers: Mutex::new(HashMap::default()),
            parked: parking::Parked::new(config.max_parked, Duration::from_millis(config.lookup_timeout_ms)),
            shutdown: shutdown.clone(),
        });
        tracing::info!(upstream = %config.upstream, workers = config.workers, "gtp firewall relaying to the P-GW");
        let workers: Vec<_> = (0..config.workers.max(1)).map(|_| tokio::spawn(relay.clone().from_partners())).collect();
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tick.tick() => {
                    self.engine().expire(std::time::Instant::now());
                    self.publish_gauges();
                }
            }
        }
        for w in workers {
            let _ = w.await;
        }
    }
}

/// The relay's sockets and the requests parked for a subscriber view.
pub(crate) struct Relay {
    gtp: Arc<Gtp>,
    listen: UdpSocket,
    listen_state: UdpSocketState,
    upstream: SocketAddr,
    peers: Mutex<HashMap<SocketAddr, Arc<Peer>, foldhash::fast::RandomState>>,
    parked: parking::Parked,
    shutdown: CancellationToken,
}

/// The upstream socket of one partner node.
pub(crate) struct Peer {
    sock: UdpSocket,
    state: UdpSocketState,
}

/// Socket buffers asked for (the kernel caps them at `net.core.rmem_max` / `wmem_max`): a burst
/// waits in the kernel while the tasks are busy instead of being dropped.
const SOCKET_BUFFER: usize = 4 << 20;

/// Sends without waiting when the socket has room (nearly always), else waits for room.
async fn send_to(sock: &UdpSocket, bytes: &[u8], to: SocketAddr) {
    match sock.try_send_to(bytes, to) {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
            let _ = sock.send_to(bytes, to).await;
        }
        _ => {}
    }
}

async fn send(sock: &UdpSocket, bytes: &[u8]) {
    match sock.try_send(bytes) {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
            let _ = sock.send(bytes).await;
        }
        _ => {}
    }
}

impl Relay {
    /// One receiving task on the listener: screens every datagram and relays, answers or parks it.
    /// What is relayed as it came goes out in runs per partner node ([`Runs`]): a batch is grouped
    /// by node first, since only the order within a node matters.
    async fn from_partners(self: Arc<Self>) {
        let mut batch = Batch::new();
        let mut decided: Vec<(SocketAddr, Verdict, std::ops::Range<usize>)> = Vec::with_capacity(BATCH_SIZE);
        let mut copies: Vec<u8> = Vec::with_capacity(SLOT);
        let mut runs = Runs::default();
        loop {
            decided.clear();
            copies.clear();
            let mut now = None;
            let engine = self.gtp.engine();
            let got = batch
                .receive(&self.listen, &self.listen_state, &self.shutdown, |src, bytes| {
                    // One clock read per batch, once it has arrived.
                    let now = *now.get_or_insert_with(clock);
                    let verdict = engine.uplink(src, bytes, now).verdict;
                    // The bytes stay in the batch's slot only until the next read: what is relayed
                    // as it came is copied once into one buffer for the sends below.
                    let at = copies.len();
                    if matches!(verdict, Verdict::Relay(None) | Verdict::Park(_)) {
                        copies.extend_from_slice(bytes);
                    }
                    decided.push((src, verdict, at..copies.len()));
                })
                .await;
            if got.is_none() {
                return;
            }
            // Grouped by partner node, each node's datagrams in the order they came (a stable sort):
            // nodes whose datagrams arrived interleaved still get one segmented send each.
            decided.sort_by_key(|d| d.0);
            for (src, verdict, range) in decided.drain(..) {
                if verdict == Verdict::Relay(None) {
                    runs.push(src, range, MAX_SEGMENTS);
                    continue;
                }
                self.send_runs(&mut runs, &copies).await;
                self.act_uplink(src, &copies[range], verdict).await;
            }
            self.send_runs(&mut runs, &copies).await;
        }
    }

    /// Relays the runs collected toward the P-GW, each on its partner node's upstream socket.
    async fn send_runs(self: &Arc<Self>, runs: &mut Runs, copies: &[u8]) {
        for (src, range, size) in runs.runs.drain(..) {
            if let Some(up) = self.peer_socket(src) {
                let max = up.state.max_gso_segments();
                if max > 1 || range.len() == size {
                    send_run(&up.sock, &up.state, self.upstream, &copies[range], size).await;
                } else {
                    for d in copies[range].chunks(size) {
                        send(&up.sock, d).await;
                    }
                }
            }
        }
    }

    /// Carries out the verdict on a partner's datagram.
    async fn act_uplink(self: &Arc<Self>, src: SocketAddr, bytes: &[u8], verdict: Verdict) {
        match verdict {
            Verdict::Park(imsi) => self.park(src, bytes, imsi).await,
            other => self.deliver(src, bytes, other).await,
        }
    }

    /// Relays or answers a partner's datagram (a parked one is not parked twice: dropped).
    async fn deliver(self: &Arc<Self>, src: SocketAddr, bytes: &[u8], verdict: Verdict) {
        match verdict {
            Verdict::Relay(changed) => {
                if let Some(up) = self.peer_socket(src) {
                    send(&up.sock, changed.as_deref().unwrap_or(bytes)).await;
                }
            }
            Verdict::Answer(answer) => send_to(&self.listen, &answer, src).await,
            Verdict::Drop | Verdict::Park(_) => {}
        }
    }

    /// The upstream socket of a partner node, opened (with its reader task) on first use.
    fn peer_socket(self: &Arc<Self>, src: SocketAddr) -> Option<Arc<Peer>> {
        let mut peers = self.peers.lock().expect("peers");
        if let Some(s) = peers.get(&src) {
            return Some(s.clone());
        }
        if peers.len() >= MAX_PEERS {
            tracing::warn!(%src, "gtp: too many partner nodes, datagram dropped");
            return None;
        }
        let local = match self.upstream.ip() {
            IpAddr::V4(a) if a.is_loopback() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        };
        let open = || -> std::io::Result<(UdpSocket, UdpSocketState)> {
            let s = std::net::UdpSocket::bind(SocketAddr::new(local, 0))?;
            s.connect(self.upstream)?;
            s.set_nonblocking(true)?;
            let s = UdpSocket::from_std(s)?;
            let state = UdpSocketState::new((&s).into())?;
            let _ = state.set_recv_buffer_size((&s).into(), SOCKET_BUFFER);
            let _ = state.set_send_buffer_size((&s).into(), SOCKET_BUFFER);
            Ok((s, state))
        };
        let (sock, state) = match open() {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!(error = %e, "gtp: cannot open an upstream socket");
                return None;
            }
        };
        let peer = Arc::new(Peer { sock, state });
        peers.insert(src, peer.clone());
        tokio::spawn(self.clone().from_pgw(src, peer.clone()));
        Some(peer)
    }

    /// The reader of one upstream socket: what the P-GW sends toward the partner node `peer`, relayed
    /// in runs of equal size ([`Runs`]).
    async fn from_pgw(self: Arc<Self>, peer: SocketAddr, up: Arc<Peer>) {
        let mut batch = Batch::new();
        let mut out: Vec<u8> = Vec::with_capacity(SLOT);
        let mut runs = Runs::default();
        let max = self.listen_state.max_gso_segments();
        loop {
            out.clear();
            let mut now = None;
            let engine = self.gtp.engine();
            let got = batch
                .receive(&up.sock, &up.state, &self.shutdown, |_, bytes| {
                    let now = *now.get_or_insert_with(clock);
                    if let Verdict::Relay(changed) = engine.downlink(peer, bytes, now).verdict {
                        let at = out.len();
                        out.extend_from_slice(changed.as_deref().unwrap_or(bytes));
                        runs.push(peer, at..out.len(), max);
                    }
                })
                .await;
            if got.is_none() {
                return;
            }
            for (to, range, size) in runs.runs.drain(..) {
                send_run(&self.listen, &self.listen_state, to, &out[range], size).await;
            }
        }
    }
}
