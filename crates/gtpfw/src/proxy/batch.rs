//! Batched UDP I/O shared by the proxy and the load generator: [`Batch`] reads as many datagrams
//! as are waiting with one `recvmmsg` (through `quinn-udp`, with UDP GRO where the kernel coalesces
//! a flow), and [`Runs`] / [`send_run`] send runs of equal-sized datagrams to one destination as
//! one UDP GSO send.

use std::io::IoSliceMut;
use std::net::SocketAddr;

use quinn_udp::{RecvMeta, Transmit, UdpSocketState, BATCH_SIZE};
use tokio::io::Interest;
use tokio::net::UdpSocket;
use tokio_util::sync::CancellationToken;

/// Room for one received buffer: a whole datagram, or several of one flow coalesced by the kernel
/// (UDP GRO, which `quinn-udp` turns on; their size is the `stride`). Pages never written to are
/// never touched, so a batch of them costs little memory.
pub(crate) const SLOT: usize = 65_535;

/// Datagrams in one segmented send at most, and bytes.
pub(crate) const MAX_SEGMENTS: usize = 64;
const MAX_SEND: usize = 65_000;

/// Runs of datagrams with the same destination and the same size, in order, as one send each
/// (UDP GSO where the system has it: one system call instead of one per datagram; the kernel cuts
/// them into the same datagrams on the way out).
#[derive(Default)]
pub(crate) struct Runs {
    pub(crate) runs: Vec<(SocketAddr, std::ops::Range<usize>, usize)>,
}

impl Runs {
    /// Adds the datagram at `range` of the output buffer for `to`.
    pub(crate) fn push(&mut self, to: SocketAddr, range: std::ops::Range<usize>, max_segments: usize) {
        let len = range.len();
        if let Some((dest, r, size)) = self.runs.last_mut() {
            if *dest == to
                && *size == len
                && r.end == range.start
                && r.len() / len.max(1) < max_segments.min(MAX_SEGMENTS)
                && r.len() + len <= MAX_SEND
            {
                r.end = range.end;
                return;
            }
        }
        self.runs.push((to, range, len));
    }
}

/// Sends `bytes`, datagrams of `size` octets, to `to`: segmented when there are several.
pub(crate) async fn send_run(sock: &UdpSocket, state: &UdpSocketState, to: SocketAddr, bytes: &[u8], size: usize) {
    let t = Transmit {
        destination: to,
        ecn: None,
        contents: bytes,
        segment_size: (bytes.len() > size).then_some(size),
        src_ip: None,
    };
    loop {
        match sock.try_io(Interest::WRITABLE, || state.send(sock.into(), &t)) {
            Ok(()) => return,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if sock.writable().await.is_err() {
                    return;
                }
            }
            Err(e) => {
                tracing::debug!(error = %e, "gtp send");
                return;
            }
        }
    }
}

/// Receive buffers for one task: [`BATCH_SIZE`] slots and their metadata.
pub(crate) struct Batch {
    slots: Vec<u8>,
    meta: Vec<RecvMeta>,
}

impl Batch {
    pub(crate) fn new() -> Batch {
        Batch { slots: vec![0u8; SLOT * BATCH_SIZE], meta: vec![RecvMeta::default(); BATCH_SIZE] }
    }

    /// Waits for datagrams on `sock` and reads as many as are there (up to the batch); `None` on
    /// shutdown. Each datagram goes to `each` with its source.
    pub(crate) async fn receive(
        &mut self,
        sock: &UdpSocket,
        state: &UdpSocketState,
        stop: &CancellationToken,
        mut each: impl FnMut(SocketAddr, &[u8]),
    ) -> Option<()> {
        tokio::select! {
            _ = stop.cancelled() => return None,
            r = sock.readable() => if r.is_err() { return Some(()) },
        }
        let Batch { slots, meta } = self;
        let mut iovs: [IoSliceMut<'_>; BATCH_SIZE] = {
            let mut chunks = slots.chunks_mut(SLOT);
            std::array::from_fn(|_| IoSliceMut::new(chunks.next().unwrap_or_default()))
        };
        let n = match sock.try_io(Interest::READABLE, || state.recv(sock.into(), &mut iovs, meta)) {
            Ok(n) => n,
            Err(e) => {
                // WouldBlock (another task read them first), or ICMP errors of earlier sends.
                if e.kind() != std::io::ErrorKind::WouldBlock {
                    tracing::debug!(error = %e, "gtp receive");
                }
                return Some(());
            }
        };
        for (m, buf) in meta.iter().zip(iovs.iter()).take(n) {
            let data = &buf[..m.len.min(buf.len())];
            let stride = if m.stride == 0 { data.len().max(1) } else { m.stride };
            for datagram in data.chunks(stride) {
                each(m.addr, datagram);
            }
        }
        Some(())
    }
}
