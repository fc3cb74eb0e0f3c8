//! The I/O step around a sans-IO [`Peer`], written once for every Diameter connection in Warden
//! (the transport's server and client connections, the roaming firewall's partner and upstream
//! connections): what the peer queued leaves in one write ([`Driver::transmit`]), and one wait
//! ([`Driver::step`]) reads bytes into the peer and sleeps until its timer. Relays that forward
//! application messages as bytes take them from [`Driver::step_relay`] instead of the peer. An
//! orderly shutdown is written once too: [`Driver::begin_shutdown`] lets an open connection answer
//! what it is handling (at most a drain time), then [`Driver::settle`] sends DPR.
//!
//! The caller keeps the loop and its own sources of work, each beside the step in a
//! `tokio::select!`:
//!
//! ```no_run
//! use diameter::peer::{Event, PeerState};
//! use diameter::transport::{Driver, Stream};
//! use std::time::Duration;
//! use tokio::sync::mpsc;
//! use tokio_util::sync::CancellationToken;
//!
//! async fn run<S: Stream>(mut driver: Driver<S>, shutdown: CancellationToken, mut relayed: mpsc::Receiver<Vec<u8>>) {
//!     let in_flight = 0;
//!     loop {
//!         driver.settle(in_flight > 0);
//!         driver.transmit().await;
//!         while let Some(event) = driver.peer_mut().poll_event() {
//!             if let Event::Request(_request) = event {
//!                 // Hand it to the application; its answer goes to driver.peer_mut().send_answer(…).
//!             }
//!         }
//!         if driver.peer().state() == PeerState::Closed {
//!             return driver.close().await;
//!         }
//!         tokio::select! {
//!             () = driver.step(true) => {}
//!             Some(bytes) = relayed.recv() => driver.out().extend_from_slice(&bytes),
//!             () = shutdown.cancelled(), if !driver.stopping() => driver.begin_shutdown(Duration::from_secs(1)),
//!         }
//!     }
//! }
//! ```

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::Stream;
use crate::dictionary::app;
use crate::header::{next_frame_len, Header};
use crate::peer::{Peer, PeerState};

/// A peer and the stream it runs over.
#[derive(Debug)]
pub struct Driver<S> {
    stream: S,
    peer: Peer,
    /// What the next write sends: the peer's messages, then the caller's bytes.
    out: Vec<u8>,
    read_buf: Vec<u8>,
    /// Bytes read and not yet framed (relays only).
    rx: Vec<u8>,
    /// Shutdown has begun.
    stopping: bool,
    /// Until when the requests being handled may finish before DPR (an open connection shutting down).
    draining: Option<Instant>,
}

impl<S: Stream> Driver<S> {
    /// Drives `peer` over `stream`, reading up to `read_buffer` bytes at a time.
    pub fn new(stream: S, peer: Peer, read_buffer: usize) -> Self {
        Self {
            stream,
            peer,
            out: Vec::with_capacity(read_buffer),
            read_buf: vec![0; read_buffer.max(1)],
            rx: Vec::new(),
            stopping: false,
            draining: None,
        }
    }

    /// The peer state machine.
    pub fn peer(&self) -> &Peer {
        &self.peer
    }

    /// The peer state machine, to send requests and answers and to take its events.
    pub fn peer_mut(&mut self) -> &mut Peer {
        &mut self.peer
    }

    /// Bytes for the next write (messages a relay forwards); the peer's own messages follow them.
    pub fn out(&mut self) -> &mut Vec<u8> {
        &mut self.out
    }

    /// Writes everything appended to [`Driver::out`] since the last write, then everything the peer
    /// queued, in one write (one system call for a burst of answers). A failed write closes the
    /// peer.
    pub async fn transmit(&mut self) {
        while self.peer.poll_transmit(&mut self.out).is_some() {}
        if !self.out.is_empty() {
            if self.stream.write_all(&self.out).await.is_err() {
                self.peer.transport_closed();
            }
            self.out.clear();
        }
    }

    /// True once [`Driver::begin_shutdown`] was called.
    pub fn stopping(&self) -> bool {
        self.stopping
    }

    /// Begins an orderly shutdown: an open connection goes on reading and answering until nothing is
    /// being handled or `drain` has passed (see [`Driver::settle`]), then sends DPR with
    /// Disconnect-Cause REBOOTING; one still in the capabilities exchange closes at once (no DPR
    /// before CEA).
    pub fn begin_shutdown(&mut self, drain: Duration) {
        if std::mem::replace(&mut self.stopping, true) {
            return;
        }
        let now = now();
        match self.peer.state() {
            PeerState::Open => self.draining = Some(now + drain),
            PeerState::WaitCer | PeerState::WaitCea => self.peer.disconnect(0, now),
            PeerState::Closing | PeerState::Closed => {}
        }
    }

    /// During a shutdown's drain, sends DPR once nothing is being handled (`busy` false) or the drain
    /// time is over. Call it at the top of every turn of the loop.
    pub fn settle(&mut self, busy: bool) {
        let Some(deadline) = self.draining else { return };
        if self.peer.state() != PeerState::Open {
            self.draining = None;
        } else if !busy || now() >= deadline {
            self.draining = None;
            // REBOOTING (0): orderly shutdown of the node.
            self.peer.disconnect(0, now());
        }
    }

    /// Waits for the peer's next input and hands it over: bytes read (only while `read` is true —
    /// back-pressure) to [`Peer::handle_input`], the end of the stream or a read error to
    /// [`Peer::transport_closed`], its timer to [`Peer::handle_timeout`]; it also wakes when a
    /// shutdown's drain time is over.
    pub async fn step(&mut self, read: bool) {
        if let Some((n, now)) = self.wait(read).await {
            self.peer.handle_input(&self.read_buf[..n], now);
        }
    }

    /// [`Driver::step`] for relays that forward application messages as bytes: once the connection
    /// is open, every whole application frame (application id other than 0) goes to `app` with its
    /// header and the time it was read, and anything `app` appends to its buffer is written next.
    /// Base-protocol frames, and every frame before the connection is open, go to the peer, in the
    /// order they came. A length field that breaks framing hands the rest to the peer, which closes
    /// the connection with the reason.
    pub async fn step_relay<F>(&mut self, read: bool, app: F)
    where
        F: FnMut(&[u8], Header, Instant, &mut Vec<u8>),
    {
        if let Some((n, now)) = self.wait(read).await {
            self.rx.extend_from_slice(&self.read_buf[..n]);
            self.frames(now, app);
        }
    }

    /// Shuts the stream down once the peer is closed (after the last [`Driver::transmit`]).
    pub async fn close(&mut self) {
        let _ = self.stream.shutdown().await;
    }

    /// Waits for bytes, the peer's timer or the end of a drain; handles the timer and returns how
    /// many bytes were read and when.
    async fn wait(&mut self, read: bool) -> Option<(usize, Instant)> {
        let deadline = self.peer.poll_timeout();
        tokio::select! {
            r = self.stream.read(&mut self.read_buf), if read => match r {
                Ok(0) | Err(_) => self.peer.transport_closed(),
                Ok(n) => return Some((n, now())),
            },
            () = sleep_until(deadline) => self.peer.handle_timeout(now()),
            () = sleep_until(self.draining), if self.draining.is_some() => {}
        }
        None
    }

    /// Takes every whole frame out of the read buffer, to the peer or to `app`.
    fn frames<F>(&mut self, now: Instant, mut app: F)
    where
        F: FnMut(&[u8], Header, Instant, &mut Vec<u8>),
    {
        let max_message = self.peer.config().max_message_size;
        let mut off = 0;
        loop {
            match next_frame_len(&self.rx[off..], max_message) {
                Ok(Some(len)) if self.rx.len() - off >= len => {
                    let frame = &self.rx[off..off + len];
                    off += len;
                    match Header::parse(frame) {
                        Ok(h) if self.peer.state() == PeerState::Open && h.app_id != app::COMMON => {
                            app(frame, h, now, &mut self.out)
                        }
                        _ => self.peer.handle_input(frame, now),
                    }
                }
                Ok(_) => break,
                Err(_) => {
                    self.peer.handle_input(&self.rx[off..], now);
                    off = self.rx.len();
                    break;
                }
            }
        }
        self.rx.drain(..off);
    }
}

/// The time now, from tokio's clock (which tests may pause).
fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(tokio::time::Instant::from_std(d)).await,
        None => std::future::pending().await,
    }
}

/// A seed for identifiers from the OS clock and address-space randomness (no extra dependency);
/// identifiers need uniqueness, not secrecy.
pub fn rand_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0));
    h.finish()
}
