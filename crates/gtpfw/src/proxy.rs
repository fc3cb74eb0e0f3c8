//! The tokio shell: one UDP socket where partners send (`[gtp] listen`), and for each partner node
//! (source address and port) one UDP socket toward the P-GW (`upstream`), so that whatever the
//! P-GW sends on it — responses and its own requests — goes back to that node, with no state in the
//! messages themselves (the relayed bytes stay as they came). A second's tick forgets expired
//! requests and publishes the gauges.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio_util::sync::CancellationToken;

use crate::engine::Verdict;
use crate::{clock, Gtp};

/// Partner nodes (address and port) with their own upstream socket at once; datagrams of further
/// ones are dropped.
pub const MAX_PEERS: usize = 4096;
/// Largest datagram read.
const MAX_DATAGRAM: usize = 65_535;

impl Gtp {
    /// Binds the configured listener.
    pub async fn bind(&self) -> std::io::Result<UdpSocket> {
        UdpSocket::bind(self.config().listen).await
    }

    /// Relays between partners on `socket` and the configured upstream until `shutdown`.
    pub async fn run(self: &Arc<Self>, socket: UdpSocket, shutdown: CancellationToken) {
        let upstream = self.config().upstream;
        let listen = Arc::new(socket);
        let mut peers: HashMap<SocketAddr, Arc<UdpSocket>> = HashMap::new();
        let mut buf = vec![0u8; MAX_DATAGRAM];
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tracing::info!(%upstream, "gtp firewall relaying to the P-GW");
        loop {
            let (n, src) = tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tick.tick() => {
                    self.engine().expire(std::time::Instant::now());
                    self.publish_gauges();
                    continue;
                }
                r = listen.recv_from(&mut buf) => match r {
                    Ok(x) => x,
                    Err(e) => {
                        // ICMP errors of earlier sends surface here on some systems: keep going.
                        tracing::debug!(error = %e, "gtp listener receive");
                        continue;
                    }
                },
            };
            let bytes = &buf[..n];
            match self.engine().uplink(src, bytes, clock()).verdict {
                Verdict::Relay(changed) => {
                    let Some(up) = self.peer_socket(&mut peers, src, upstream, &listen, &shutdown).await else {
                        continue;
                    };
                    let _ = up.send(changed.as_deref().unwrap_or(bytes)).await;
                }
                Verdict::Answer(answer) => {
                    let _ = listen.send_to(&answer, src).await;
                }
                Verdict::Drop => {}
            }
        }
    }

    /// The upstream socket of a partner node, opened (with its reader task) on first use.
    async fn peer_socket(
        self: &Arc<Self>,
        peers: &mut HashMap<SocketAddr, Arc<UdpSocket>>,
        src: SocketAddr,
        upstream: SocketAddr,
        listen: &Arc<UdpSocket>,
        shutdown: &CancellationToken,
    ) -> Option<Arc<UdpSocket>> {
        if let Some(s) = peers.get(&src) {
            return Some(s.clone());
        }
        if peers.len() >= MAX_PEERS {
            tracing::warn!(%src, "gtp: too many partner nodes, datagram dropped");
            return None;
        }
        let local = match upstream.ip() {
            IpAddr::V4(a) if a.is_loopback() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        };
        let sock = match UdpSocket::bind(SocketAddr::new(local, 0)).await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "gtp: cannot open an upstream socket");
                return None;
            }
        };
        if let Err(e) = sock.connect(upstream).await {
            tracing::warn!(error = %e, "gtp: cannot reach the upstream");
            return None;
        }
        let sock = Arc::new(sock);
        peers.insert(src, sock.clone());
        let (me, reader, listen, stop) = (self.clone(), sock.clone(), listen.clone(), shutdown.clone());
        tokio::spawn(async move {
            let mut buf = vec![0u8; MAX_DATAGRAM];
            loop {
                let n = tokio::select! {
                    _ = stop.cancelled() => break,
                    r = reader.recv(&mut buf) => match r {
                        Ok(n) => n,
                        Err(_) => continue,
                    },
                };
                let bytes = &buf[..n];
                if let Verdict::Relay(changed) = me.engine().downlink(src, bytes, clock()).verdict {
                    let _ = listen.send_to(changed.as_deref().unwrap_or(bytes), src).await;
                }
            }
        });
        Some(sock)
    }
}
