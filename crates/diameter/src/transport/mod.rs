//! The tokio shell around the sans-IO [`Peer`] (the `transport` feature, on by default): TCP (and
//! TLS) connections, a server that accepts peers and hands their requests to a [`Handler`], and a
//! client. Back-pressure: a connection stops reading while `max_in_flight` of its requests are being
//! handled, and writes are awaited before more input is taken. The stream type is generic
//! ([`Stream`]), so SCTP can be added beside TCP. Every connection runs on the [`driver`] step.
//!
//! Shutdown is a [`CancellationToken`]: [`serve`] stops accepting at once, every open connection
//! answers the requests it is handling, sends DPR and ends on DPA, and `serve` returns when the last
//! connection has ended.

mod connection;
pub mod driver;
mod tls;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

pub use connection::{drive, ConnectionLimits};
pub use driver::{rand_seed, Driver};
pub use tls::{client_config, server_config, TlsConfig, TlsError, TlsSettings};

use crate::message::Message;
use crate::peer::{Capabilities, CloseReason, Peer, PeerAuthorizer, PeerConfig};

/// A byte stream a Diameter connection runs over (TCP, TLS over TCP, or SCTP later).
pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> Stream for T {}

/// Why a request sent through a [`PeerHandle`] got no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// No answer within the request timeout.
    #[error("no answer within the request timeout")]
    Timeout,
    /// The connection is closed.
    #[error("the peer connection is closed")]
    Closed,
    /// The peer state machine refused the request.
    #[error("{0}")]
    Refused(String),
}

/// What a [`PeerHandle`] asks of its connection.
pub(crate) enum Control {
    Request(Message, oneshot::Sender<Result<Message, RequestError>>),
    Disconnect(u32),
}

/// A handle on one open peer connection: send requests over it (the HSS sends CLR/IDR over the
/// connection an MME opened), or disconnect it. Clones are handles on the same connection; two
/// connections of the same peer identity have handles that are not [`PeerHandle::same_connection`].
#[derive(Clone)]
pub struct PeerHandle {
    commands: mpsc::Sender<Control>,
    remote: Arc<Capabilities>,
    address: Option<SocketAddr>,
    /// False from the moment the connection closed (set before [`Handler::peer_closed`] runs).
    open: Arc<AtomicBool>,
}

impl std::fmt::Debug for PeerHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerHandle").field("remote", &self.remote.origin_host).field("address", &self.address).finish()
    }
}

impl PeerHandle {
    /// The remote's capabilities (Origin-Host, realm, applications, …).
    pub fn remote(&self) -> &Capabilities {
        &self.remote
    }

    /// The remote transport address.
    pub fn address(&self) -> Option<SocketAddr> {
        self.address
    }

    /// True while the connection is open: false once it closed (already when
    /// [`Handler::peer_closed`] is called for it) or its task ended.
    pub fn is_open(&self) -> bool {
        self.open.load(Ordering::Acquire) && !self.commands.is_closed()
    }

    /// True when `other` is a handle on this very connection (not merely one with the same identity).
    pub fn same_connection(&self, other: &PeerHandle) -> bool {
        self.commands.same_channel(&other.commands)
    }

    /// Marks the connection closed.
    pub(crate) fn set_closed(&self) {
        self.open.store(false, Ordering::Release);
    }

    /// Sends a request and waits for its answer.
    pub async fn request(&self, msg: Message) -> Result<Message, RequestError> {
        let (tx, rx) = oneshot::channel();
        self.commands.send(Control::Request(msg, tx)).await.map_err(|_| RequestError::Closed)?;
        rx.await.map_err(|_| RequestError::Closed)?
    }

    /// Starts an orderly disconnect (DPR).
    pub async fn disconnect(&self, cause: u32) {
        let _ = self.commands.send(Control::Disconnect(cause)).await;
    }
}

/// Answers application requests arriving on server connections.
pub trait Handler: Send + Sync + 'static {
    /// Returns the answer to `request` (or `None` to send nothing).
    fn handle(&self, request: Message, peer: PeerHandle) -> impl Future<Output = Option<Message>> + Send;

    /// Called once per connection when the capabilities exchange succeeded.
    fn peer_open(&self, _peer: PeerHandle) {}

    /// Called once per connection when it ends. A handle `peer_open` was given for this connection
    /// reports [`PeerHandle::is_open`] false by then, so a handler that keeps handles can tell which
    /// of several connections with the same identity ended.
    fn peer_closed(&self, _remote: Option<&Capabilities>, _reason: &CloseReason) {}
}

/// Server settings.
#[derive(Clone)]
pub struct ServerConfig {
    /// Template for every accepted connection (seed is varied per connection).
    pub peer: PeerConfig,
    /// Who may connect.
    pub authorizer: Arc<dyn PeerAuthorizer>,
    /// Limits per connection.
    pub limits: ConnectionLimits,
    /// TLS, for inter-operator links (RFC 6733 §13: TLS from the first byte).
    pub tls: Option<Arc<rustls::ServerConfig>>,
}

/// Accepts connections on `listener` until `shutdown` is cancelled; each connection runs its own
/// task. Then the listener is closed and every connection winds down (requests being handled are
/// answered, then DPR, then the close on DPA; see [`drive`]); `serve` returns when the last one has
/// ended. Dropping the future instead aborts every connection.
pub async fn serve<H: Handler>(
    listener: TcpListener,
    config: ServerConfig,
    handler: Arc<H>,
    shutdown: CancellationToken,
) {
    let mut seed_counter: u64 = rand_seed();
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, addr)) = accepted else { continue };
                let _ = stream.set_nodelay(true);
                seed_counter = seed_counter.wrapping_add(0x9E37_79B9_7F4A_7C15);
                let mut peer_config = config.peer.clone();
                peer_config.seed = seed_counter;
                let (config, handler, shutdown) = (config.clone(), handler.clone(), shutdown.clone());
                connections.spawn(async move {
                    let peer = Peer::responder(peer_config, config.authorizer.clone(), Some(addr.ip()), tokio::time::Instant::now().into_std());
                    match &config.tls {
                        None => drive(stream, peer, Some(addr), handler, config.limits, shutdown, None).await,
                        Some(tls) => {
                            let accepted = tokio::select! {
                                accepted = tokio_rustls::TlsAcceptor::from(tls.clone()).accept(stream) => accepted,
                                _ = shutdown.cancelled() => return,
                            };
                            match accepted {
                                Ok(s) => drive(s, peer, Some(addr), handler, config.limits, shutdown, None).await,
                                Err(e) => tracing::info!(%addr, error = %e, "TLS handshake failed"),
                            }
                        }
                    }
                });
            }
            // Finished connections leave the set as they end.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            _ = shutdown.cancelled() => break,
        }
    }
    drop(listener);
    if !connections.is_empty() {
        tracing::info!(connections = connections.len(), "Diameter listener closed; disconnecting peers");
    }
    while connections.join_next().await.is_some() {}
}

/// A handler for client connections that refuses requests from the server side with nothing.
struct NoRequests;
impl Handler for NoRequests {
    async fn handle(&self, _request: Message, _peer: PeerHandle) -> Option<Message> {
        None
    }
}

/// Connects to a peer over TCP (or TLS when `tls` is given with the server name), runs the
/// capabilities exchange and returns a handle once the connection is open. Requests the remote sends
/// over this connection are left unanswered; use [`connect_with`] to answer them.
pub async fn connect(
    addr: SocketAddr,
    peer_config: PeerConfig,
    authorizer: Arc<dyn PeerAuthorizer>,
    limits: ConnectionLimits,
    tls: Option<(Arc<rustls::ClientConfig>, rustls::pki_types::ServerName<'static>)>,
) -> std::io::Result<(PeerHandle, tokio::task::JoinHandle<()>)> {
    connect_with(addr, peer_config, authorizer, limits, tls, Arc::new(NoRequests)).await
}

/// Like [`connect`], with a handler for requests the remote sends (an MME answering CLR/IDR).
pub async fn connect_with<H: Handler>(
    addr: SocketAddr,
    mut peer_config: PeerConfig,
    authorizer: Arc<dyn PeerAuthorizer>,
    limits: ConnectionLimits,
    tls: Option<(Arc<rustls::ClientConfig>, rustls::pki_types::ServerName<'static>)>,
    handler: Arc<H>,
) -> std::io::Result<(PeerHandle, tokio::task::JoinHandle<()>)> {
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    peer_config.seed ^= rand_seed();
    let peer = Peer::initiator(peer_config, authorizer, Some(addr.ip()), tokio::time::Instant::now().into_std());
    let (open_tx, open_rx) = oneshot::channel();
    // A client connection ends by `PeerHandle::disconnect`, by the remote, or when its task is aborted.
    let shutdown = CancellationToken::new();
    let task = match tls {
        None => tokio::spawn(drive(stream, peer, Some(addr), handler, limits, shutdown, Some(open_tx))),
        Some((cfg, name)) => {
            let s = tokio_rustls::TlsConnector::from(cfg).connect(name, stream).await?;
            tokio::spawn(drive(s, peer, Some(addr), handler, limits, shutdown, Some(open_tx)))
        }
    };
    match open_rx.await {
        Ok(Ok(handle)) => Ok((handle, task)),
        Ok(Err(reason)) => Err(std::io::Error::new(std::io::ErrorKind::ConnectionRefused, format!("{reason:?}"))),
        Err(_) => Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionAborted,
            "connection ended during capabilities exchange",
        )),
    }
}
