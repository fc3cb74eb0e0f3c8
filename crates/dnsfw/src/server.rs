//! The sockets: UDP on several `SO_REUSEPORT` sockets (one task each; cache hits are answered
//! inline, misses in a task of their own) and TCP (RFC 7766: length-prefixed messages, several per
//! connection, answered concurrently, idle connections closed).

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::{Mutex, Semaphore};
use tokio_util::sync::CancellationToken;

use crate::{Decision, DnsFirewall};

/// Upstream resolutions waiting at once; beyond that a miss gets SERVFAIL at once.
const MAX_PENDING: usize = 10_000;
/// TCP connections open at once.
const MAX_TCP: usize = 1024;
/// Queries of one TCP connection answered at once.
const TCP_PIPELINE: usize = 16;
/// A TCP connection with no new query for this long is closed (RFC 7766 §6.2.3 suggests seconds).
const TCP_IDLE: Duration = Duration::from_secs(10);

/// The firewall with its sockets bound, not serving yet: learn the address, then [`Bound::serve`].
#[derive(Debug)]
pub struct Bound {
    firewall: Arc<DnsFirewall>,
    udp: Vec<UdpSocket>,
    tcp: TcpListener,
    addr: SocketAddr,
}

impl DnsFirewall {
    /// Binds UDP and TCP on `config.listen` (port 0: a free port, the same for both).
    pub async fn bind(self: &Arc<Self>) -> io::Result<Bound> {
        let listen = self.config.listen;
        let sockets = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).clamp(1, 8);
        let mut last_err = None;
        // With port 0 the UDP port may be taken for TCP: try a few.
        for _ in 0..8 {
            let first = udp_socket(listen)?;
            let addr = first.local_addr()?;
            let tcp = match TcpListener::bind(addr).await {
                Ok(t) => t,
                Err(e) if listen.port() == 0 => {
                    last_err = Some(e);
                    continue;
                }
                Err(e) => return Err(e),
            };
            let mut udp = vec![first];
            for _ in 1..sockets {
                match udp_socket(addr) {
                    Ok(s) => udp.push(s),
                    Err(_) => break, // no SO_REUSEPORT here: one socket serves.
                }
            }
            return Ok(Bound { firewall: self.clone(), udp, tcp, addr });
        }
        Err(last_err.unwrap_or_else(|| io::Error::other("no free port")))
    }

    /// Serves UDP and TCP on `config.listen` until `shutdown` is cancelled.
    pub async fn serve(self: Arc<Self>, shutdown: CancellationToken) -> io::Result<()> {
        self.bind().await?.serve(shutdown).await
    }
}

fn udp_socket(addr: SocketAddr) -> io::Result<UdpSocket> {
    let s = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    #[cfg(all(unix, not(any(target_os = "solaris", target_os = "illumos"))))]
    s.set_reuse_port(true)?;
    let _ = s.set_recv_buffer_size(4 << 20);
    let _ = s.set_send_buffer_size(4 << 20);
    s.set_nonblocking(true)?;
    s.bind(&addr.into())?;
    UdpSocket::from_std(s.into())
}

impl Bound {
    /// The address served (UDP and TCP).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves until `shutdown` is cancelled; queries being answered are abandoned then.
    pub async fn serve(self, shutdown: CancellationToken) -> io::Result<()> {
        let Bound { firewall, udp, tcp, addr } = self;
        tracing::info!(%addr, udp_sockets = udp.len(), "dns firewall serving");
        let pending = Arc::new(Semaphore::new(MAX_PENDING));
        let mut tasks = tokio::task::JoinSet::new();
        for sock in udp {
            tasks.spawn(serve_udp(firewall.clone(), Arc::new(sock), pending.clone(), shutdown.clone()));
        }
        tasks.spawn(serve_tcp(firewall, tcp, shutdown.clone()));
        shutdown.cancelled().await;
        tasks.abort_all();
        while tasks.join_next().await.is_some() {}
        Ok(())
    }
}

/// Sends `bytes` to `peer`, trying without waiting first (the socket is almost always writable).
async fn send(sock: &UdpSocket, bytes: &[u8], peer: SocketAddr) {
    match sock.try_send_to(bytes, peer) {
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
            let _ = sock.send_to(bytes, peer).await;
        }
        _ => {}
    }
}

/// One UDP socket's loop; it ends when its task is aborted at shutdown.
async fn serve_udp(fw: Arc<DnsFirewall>, sock: Arc<UdpSocket>, pending: Arc<Semaphore>, stop: CancellationToken) {
    let mut buf = vec![0u8; 65535];
    loop {
        let (n, peer) = match sock.recv_from(&mut buf).await {
            Ok(x) => x,
            // ICMP errors from earlier sends surface here on some systems: keep serving.
            Err(e) => {
                tracing::debug!("dns udp recv: {e}");
                continue;
            }
        };
        match fw.decide(peer.ip(), &buf[..n], false) {
            Decision::Reply(Some(answer)) => send(&sock, &answer, peer).await,
            Decision::Reply(None) => {}
            Decision::Resolve(p) => match pending.clone().try_acquire_owned() {
                Ok(permit) => {
                    let (fw, sock, stop) = (fw.clone(), sock.clone(), stop.clone());
                    tokio::spawn(async move {
                        tokio::select! {
                            _ = stop.cancelled() => {}
                            answer = fw.resolve(*p) => send(&sock, &answer, peer).await,
                        }
                        drop(permit);
                    });
                }
                Err(_) => send(&sock, &fw.overloaded(&p), peer).await,
            },
        }
    }
}

async fn serve_tcp(fw: Arc<DnsFirewall>, listener: TcpListener, stop: CancellationToken) {
    let connections = Arc::new(Semaphore::new(MAX_TCP));
    loop {
        let (stream, peer) = tokio::select! {
            _ = stop.cancelled() => return,
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => { tracing::debug!("dns tcp accept: {e}"); tokio::time::sleep(Duration::from_millis(10)).await; continue; }
            },
        };
        let Ok(permit) = connections.clone().try_acquire_owned() else {
            drop(stream); // at the limit: close at once
            continue;
        };
        let (fw, stop) = (fw.clone(), stop.clone());
        tokio::spawn(async move {
            tokio::select! {
                _ = stop.cancelled() => {}
                _ = serve_connection(fw, stream, peer) => {}
            }
            drop(permit);
        });
    }
}

async fn serve_connection(fw: Arc<DnsFirewall>, stream: TcpStream, peer: SocketAddr) {
    let _ = stream.set_nodelay(true);
    let (mut rd, wr) = stream.into_split();
    let wr = Arc::new(Mutex::new(wr));
    let pipeline = Arc::new(Semaphore::new(TCP_PIPELINE));
    loop {
        let len = match tokio::time::timeout(TCP_IDLE, rd.read_u16()).await {
            Ok(Ok(len)) => len as usize,
            _ => return,
        };
        let mut msg = vec![0u8; len];
        match tokio::time::timeout(TCP_IDLE, rd.read_exact(&mut msg)).await {
            Ok(Ok(_)) => {}
            _ => return,
        }
        let Ok(permit) = pipeline.clone().acquire_owned().await else { return };
        let (fw, wr) = (fw.clone(), wr.clone());
        tokio::spawn(async move {
            if let Some(answer) = fw.answer(peer.ip(), &msg, true).await {
                let mut framed = Vec::with_capacity(answer.len() + 2);
                framed.extend_from_slice(&(answer.len().min(u16::MAX as usize) as u16).to_be_bytes());
                framed.extend_from_slice(&answer);
                let _ = wr.lock().await.write_all(&framed).await;
            }
            drop(permit);
        });
    }
}
