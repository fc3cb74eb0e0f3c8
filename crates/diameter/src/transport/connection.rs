//! One connection: the loop that moves bytes between a stream and the [`Peer`] state machine,
//! delivers requests to the handler and answers to waiting callers.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;

use super::{Command, Handler, PeerHandle, RequestError, Stream};
use crate::peer::{CloseReason, Event, Peer, PeerState, SendError};

/// Limits of one connection.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// Requests being handled at once; reading pauses at this count (back-pressure).
    pub max_in_flight: usize,
    /// Read buffer size.
    pub read_buffer: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self { max_in_flight: 256, read_buffer: 16 * 1024 }
    }
}

/// Runs a connection to its end. `opened` (client side) learns when the capabilities exchange
/// finished, or why it failed.
pub async fn drive<S: Stream, H: Handler>(
    stream: S,
    mut peer: Peer,
    address: Option<SocketAddr>,
    handler: Arc<H>,
    limits: ConnectionLimits,
    mut shutdown: watch::Receiver<bool>,
    mut opened: Option<oneshot::Sender<Result<PeerHandle, CloseReason>>>,
) {
    let (mut reader, mut writer) = tokio::io::split(stream);
    let (cmd_tx, mut cmd_rx) = mpsc::channel::<Command>(limits.max_in_flight.max(1));
    let mut waiting: HashMap<u32, oneshot::Sender<Result<crate::message::Message, RequestError>>> = HashMap::new();
    let mut handle: Option<PeerHandle> = None;
    let mut in_flight = 0usize;
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<crate::message::Message>();
    let mut buf = vec![0u8; limits.read_buffer];
    let mut out: Vec<u8> = Vec::with_capacity(limits.read_buffer);
    loop {
        // Everything queued goes out in one write: one system call for a burst of answers.
        out.clear();
        while peer.poll_transmit(&mut out).is_some() {}
        if !out.is_empty() && writer.write_all(&out).await.is_err() {
            peer.transport_closed();
        }
        while let Some(event) = peer.poll_event() {
            match event {
                Event::Open { remote, .. } => {
                    let h = PeerHandle { commands: cmd_tx.clone(), remote: Arc::new(remote), address };
                    handler.peer_open(h.clone());
                    if let Some(tx) = opened.take() {
                        let _ = tx.send(Ok(h.clone()));
                    }
                    handle = Some(h);
                }
                Event::Request(req) => {
                    let (handler, peer_handle, done) = (handler.clone(), handle.clone(), done_tx.clone());
                    in_flight += 1;
                    tokio::spawn(async move {
                        let answer = match peer_handle {
                            Some(p) => handler.handle(req, p).await,
                            None => None,
                        };
                        // An empty answer still releases the in-flight slot.
                        let _ = done.send(answer.unwrap_or_else(empty_marker));
                    });
                }
                Event::Answer(a) => {
                    if let Some(tx) = waiting.remove(&a.header.hop_by_hop) {
                        let _ = tx.send(Ok(a));
                    }
                }
                Event::RequestTimedOut { hop_by_hop, .. } => {
                    if let Some(tx) = waiting.remove(&hop_by_hop) {
                        let _ = tx.send(Err(RequestError::Timeout));
                    }
                }
                Event::Rejected { result_code, reason } => {
                    tracing::debug!(?address, result_code, %reason, "request rejected")
                }
                Event::Suspect => tracing::info!(?address, "peer suspect: no DWA"),
                Event::Closed(reason) => {
                    tracing::info!(?address, ?reason, "peer connection closed");
                    handler.peer_closed(peer.remote(), &reason);
                    if let Some(tx) = opened.take() {
                        let _ = tx.send(Err(reason));
                    }
                }
            }
        }
        if peer.state() == PeerState::Closed {
            let _ = writer.shutdown().await;
            for (_, tx) in waiting.drain() {
                let _ = tx.send(Err(RequestError::Closed));
            }
            return;
        }
        let deadline = peer.poll_timeout().map(Instant::from_std);
        tokio::select! {
            read = reader.read(&mut buf), if in_flight < limits.max_in_flight => match read {
                Ok(0) | Err(_) => peer.transport_closed(),
                Ok(n) => peer.handle_input(&buf[..n], Instant::now().into_std()),
            },
            Some(answer) = done_rx.recv() => {
                // Take every answer that is ready, so they leave in one write.
                let mut next = Some(answer);
                while let Some(answer) = next {
                    in_flight -= 1;
                    if !is_empty_marker(&answer) {
                        let (header, session) = (answer.header, answer.session_id().map(str::to_string));
                        if let Err(SendError::TooLarge(len)) = peer.send_answer(answer) {
                            // The handler's answer cannot be sent: answer DIAMETER_UNABLE_TO_COMPLY instead.
                            tracing::warn!(?address, len, "answer too large; sending 5012");
                            let mut a = crate::message::Message::answer_to(&header, session.as_deref());
                            let (host, realm) = (peer.config().origin_host.clone(), peer.config().origin_realm.clone());
                            a.set_error(crate::result_code::UNABLE_TO_COMPLY, &host, &realm, None, Some("answer too large"));
                            let _ = peer.send_answer(a);
                        }
                    }
                    next = done_rx.try_recv().ok();
                }
            }
            Some(cmd) = cmd_rx.recv() => match cmd {
                Command::Request(msg, tx) => match peer.send_request(msg, Instant::now().into_std()) {
                    Ok((hop_by_hop, _)) => { waiting.insert(hop_by_hop, tx); }
                    Err(e) => { let _ = tx.send(Err(RequestError::Refused(e.to_string()))); }
                },
                Command::Disconnect(cause) => peer.disconnect(cause, Instant::now().into_std()),
            },
            _ = sleep_until(deadline) => peer.handle_timeout(Instant::now().into_std()),
            changed = shutdown.changed(), if peer.state() == PeerState::Open => {
                if changed.is_err() || *shutdown.borrow() {
                    // REBOOTING (0): orderly shutdown of the node.
                    peer.disconnect(0, Instant::now().into_std());
                }
            }
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// A handler that answers nothing still needs to release its slot: this marker carries that.
fn empty_marker() -> crate::message::Message {
    let mut m = crate::message::Message::answer_to(
        &crate::header::Header { version: 0, length: 0, flags: 0, code: 0, app_id: 0, hop_by_hop: 0, end_to_end: 0 },
        None,
    );
    m.header.version = 0;
    m
}

fn is_empty_marker(m: &crate::message::Message) -> bool {
    m.header.version == 0
}
