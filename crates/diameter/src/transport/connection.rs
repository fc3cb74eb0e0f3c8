//! One connection: the [`Driver`] step plus what a server or client connection adds — requests
//! delivered to the handler (an answer that is ready at once is made on the connection's task; one
//! that waits gets a task of its own, at most `max_in_flight` at once), their answers sent back (all
//! that are ready in one write), and requests of the local side sent through a [`PeerHandle`] with
//! their answers returned to the callers (all the requests queued in one write). On shutdown an
//! open connection keeps reading and answering until none of its requests is being handled (at most
//! [`ConnectionLimits::drain_timeout`]), then sends DPR and ends on DPA.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::{Control, Driver, Handler, PeerHandle, RequestError, Stream};
use crate::message::Message;
use crate::peer::{CloseReason, Event, Peer, PeerState, SendError};

/// Limits of one connection.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// Requests being handled at once; reading pauses at this count (back-pressure).
    pub max_in_flight: usize,
    /// Read buffer size.
    pub read_buffer: usize,
    /// On shutdown, how long requests being handled may take before DPR is sent anyway.
    pub drain_timeout: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self { max_in_flight: 256, read_buffer: 16 * 1024, drain_timeout: Duration::from_secs(1) }
    }
}

/// Runs a connection to its end. `opened` (client side) learns when the capabilities exchange
/// finished, or why it failed. When `shutdown` is cancelled, an open connection drains (see the
/// module documentation) and disconnects with DPR (Disconnect-Cause REBOOTING); one still in the
/// capabilities exchange is closed at once.
pub async fn drive<S: Stream, H: Handler>(
    stream: S,
    peer: Peer,
    address: Option<SocketAddr>,
    handler: Arc<H>,
    limits: ConnectionLimits,
    shutdown: CancellationToken,
    mut opened: Option<oneshot::Sender<Result<PeerHandle, CloseReason>>>,
) {
    let mut driver = Driver::new(stream, peer, limits.read_buffer);
    let (cmd_tx, mut cmd_rx) = mpsc::channel::<Control>(limits.max_in_flight.max(1));
    let mut waiting: HashMap<u32, oneshot::Sender<Result<Message, RequestError>>> = HashMap::new();
    let mut handle: Option<PeerHandle> = None;
    let mut in_flight = 0usize;
    // The handler's answer, or `None` when it answers nothing; either way the slot is released.
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<Option<Message>>();
    // The handlers of requests in flight; those still running when the connection ends are aborted.
    let mut handlers = JoinSet::new();
    loop {
        driver.settle(in_flight > 0);
        while handlers.try_join_next().is_some() {}
        driver.transmit().await;
        // Answers made on this task while taking the events, to write before waiting again.
        let mut answered = false;
        while let Some(event) = driver.peer_mut().poll_event() {
            match event {
                Event::Open { remote, .. } => {
                    let h = PeerHandle {
                        commands: cmd_tx.clone(),
                        remote: Arc::new(remote),
                        address,
                        open: Arc::new(AtomicBool::new(true)),
                    };
                    handler.peer_open(h.clone());
                    if let Some(tx) = opened.take() {
                        let _ = tx.send(Ok(h.clone()));
                    }
                    handle = Some(h);
                }
                Event::Request(req) => {
                    let (handler, peer_handle) = (handler.clone(), handle.clone());
                    let answering = async move {
                        match peer_handle {
                            Some(p) => handler.handle(req, p).await,
                            None => None,
                        }
                    };
                    // Most answers need nothing to wait for (a cached policy, an error): they are
                    // made here and leave with the others of this read, without a task of their own.
                    match first_poll(Box::pin(answering)) {
                        Ok(answer) => {
                            if let Some(answer) = answer {
                                send_answer(driver.peer_mut(), answer, address);
                                answered = true;
                            }
                        }
                        Err(answering) => {
                            let done = done_tx.clone();
                            in_flight += 1;
                            handlers.spawn(async move {
                                let _ = done.send(answering.await);
                            });
                        }
                    }
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
                    if let Some(h) = &handle {
                        h.set_closed();
                    }
                    handler.peer_closed(driver.peer().remote(), &reason);
                    if let Some(tx) = opened.take() {
                        let _ = tx.send(Err(reason));
                    }
                }
            }
        }
        if answered {
            continue;
        }
        if driver.peer().state() == PeerState::Closed {
            driver.close().await;
            for (_, tx) in waiting.drain() {
                let _ = tx.send(Err(RequestError::Closed));
            }
            return;
        }
        tokio::select! {
            () = driver.step(in_flight < limits.max_in_flight) => {}
            Some(answer) = done_rx.recv() => {
                // Take every answer that is ready, so they leave in one write.
                let mut next = Some(answer);
                while let Some(answer) = next {
                    in_flight -= 1;
                    if let Some(answer) = answer {
                        send_answer(driver.peer_mut(), answer, address);
                    }
                    next = done_rx.try_recv().ok();
                }
            }
            Some(cmd) = cmd_rx.recv() => {
                // Take every request that is queued, so they leave in one write.
                let now = Instant::now().into_std();
                let mut next = Some(cmd);
                while let Some(cmd) = next {
                    match cmd {
                        Control::Request(msg, tx) => match driver.peer_mut().send_request(msg, now) {
                            Ok((hop_by_hop, _)) => { waiting.insert(hop_by_hop, tx); }
                            Err(e) => { let _ = tx.send(Err(RequestError::Refused(e.to_string()))); }
                        },
                        Control::Disconnect(cause) => driver.peer_mut().disconnect(cause, now),
                    }
                    next = cmd_rx.try_recv().ok();
                }
            }
            () = shutdown.cancelled(), if !driver.stopping() => driver.begin_shutdown(limits.drain_timeout),
        }
    }
}

/// A handler's answer future polled once, on the connection's own task: its answer when it needed
/// nothing to wait for, else the future (to be awaited on a task of its own, which polls it again
/// with a waker that works — every future re-registers its waker on each poll).
fn first_poll<F: Future + ?Sized>(mut answering: Pin<Box<F>>) -> Result<F::Output, Pin<Box<F>>> {
    let mut cx = Context::from_waker(Waker::noop());
    match answering.as_mut().poll(&mut cx) {
        Poll::Ready(answer) => Ok(answer),
        Poll::Pending => Err(answering),
    }
}

/// Queues a handler's answer; one too large to send becomes DIAMETER_UNABLE_TO_COMPLY.
fn send_answer(peer: &mut Peer, answer: Message, address: Option<SocketAddr>) {
    let (header, session) = (answer.header, answer.session_id().map(str::to_string));
    if let Err(SendError::TooLarge(len)) = peer.send_answer(answer) {
        tracing::warn!(?address, len, "answer too large; sending 5012");
        let mut a = Message::answer_to(&header, session.as_deref());
        let (host, realm) = (peer.config().origin_host.clone(), peer.config().origin_realm.clone());
        a.set_error(crate::result_code::UNABLE_TO_COMPLY, &host, &realm, None, Some("answer too large"));
        let _ = peer.send_answer(a);
    }
}
