//! The tokio side of the server: [`Service`] holds the sans-IO [`Server`] behind a lock, feeds it
//! datagrams from any transport ([`Service::handle_datagram`], which the plain-CoAP loop
//! [`Service::serve_udp`] and a DTLS transport both call), sends what it must through the
//! [`Outbound`] of the peer's transport, turns operation answers into awaited results
//! ([`Service::execute`]), keeps the last value of each observation, and hands registration events to
//! the caller on a bounded channel.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};

use crate::content::{self, Value};
use crate::path::Path;
use crate::registry::{Device, Profile};
use crate::server::{
    DownloadProgress, Event, OpError, Operation, Output, RequestId, Response, Server, ServerConfig, Transmit,
};

/// Events queued for the caller at most (past it they are dropped and counted).
const EVENT_QUEUE: usize = 65_536;
/// How long [`Service::execute`] waits at most (retransmissions plus a separate response).
const OPERATION_TIMEOUT: Duration = Duration::from_secs(95);

/// Where datagrams to one kind of peer go (the plain UDP socket, a DTLS session table).
pub trait Outbound: Send + Sync {
    /// Sends one datagram; failures are the transport's to log.
    fn send(&self, peer: SocketAddr, datagram: &[u8]);
}

struct UdpOutbound(Arc<UdpSocket>);

impl Outbound for UdpOutbound {
    fn send(&self, peer: SocketAddr, datagram: &[u8]) {
        if let Err(e) = self.0.try_send_to(datagram, peer) {
            tracing::debug!(%peer, error = %e, "CoAP datagram not sent");
        }
    }
}

/// The last notification of an observation.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Observed {
    /// Observed path.
    pub path: String,
    /// Observe sequence number.
    pub sequence: u32,
    /// Notifications received.
    pub count: u64,
    /// Unix seconds of the last one.
    pub at: i64,
    /// Its values.
    pub values: Vec<PathValue>,
}

/// One value read from a device.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PathValue {
    /// Path.
    pub path: String,
    /// Value.
    pub value: Value,
}

/// A device as the API shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DeviceView {
    /// Endpoint client name.
    pub endpoint: String,
    /// Registration location (`/rd/{location}`).
    pub location: String,
    /// Address of its last register/update.
    pub peer: String,
    /// Registered without DTLS (lab setting `allow_unsecured`).
    pub unsecured: bool,
    /// LwM2M version.
    pub version: String,
    /// Binding.
    pub binding: String,
    /// Queue mode.
    pub queue_mode: bool,
    /// Lifetime, seconds.
    pub lifetime: u32,
    /// Unix seconds.
    pub registered_at: i64,
    /// Unix seconds of the last register/update.
    pub updated_at: i64,
    /// Unix seconds at which the registration expires without an update.
    pub expires_at: i64,
    /// Objects and instances (`/3/0`, `/5`).
    pub objects: Vec<String>,
    /// What was read from objects 3 and 4, and the SIM it is linked to.
    pub profile: Profile,
    /// Observations and their last values.
    pub observations: Vec<Observed>,
}

struct Inner {
    server: Server,
    waiters: HashMap<RequestId, oneshot::Sender<Result<Response, OpError>>>,
    observed: HashMap<(Box<str>, Path), Observed>,
    /// Registrations and registration updates seen per endpoint (see [`Service::registrations`]).
    seen: HashMap<Box<str>, u64>,
}

/// The LwM2M server service.
pub struct Service {
    inner: Mutex<Inner>,
    epoch: (Instant, SystemTime),
    events: mpsc::Sender<Event>,
    dropped: std::sync::atomic::AtomicU64,
    plain: Mutex<Option<Arc<dyn Outbound>>>,
    secure: Mutex<Option<Arc<dyn Outbound>>>,
    secure_peers: Mutex<HashSet<SocketAddr>>,
}

fn unix(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

impl Service {
    /// A service and the receiving end of its events (registrations, updates, de-registrations,
    /// expiries, refusals, notifications; operation answers go to their callers instead).
    pub fn new(config: ServerConfig) -> (Arc<Service>, mpsc::Receiver<Event>) {
        let now = Instant::now();
        let (tx, rx) = mpsc::channel(EVENT_QUEUE);
        let svc = Service {
            inner: Mutex::new(Inner {
                server: Server::new(config, now),
                waiters: HashMap::new(),
                observed: HashMap::new(),
                seen: HashMap::new(),
            }),
            epoch: (now, SystemTime::now()),
            events: tx,
            dropped: Default::default(),
            plain: Mutex::new(None),
            secure: Mutex::new(None),
            secure_peers: Mutex::new(HashSet::new()),
        };
        (Arc::new(svc), rx)
    }

    /// Sets where datagrams to plain-CoAP peers go ([`Service::serve_udp`] sets its socket).
    pub fn set_plain_outbound(&self, out: Arc<dyn Outbound>) {
        *self.plain.lock().expect("outbound") = Some(out);
    }

    /// Sets where datagrams to DTLS peers go (the DTLS transport's session table).
    pub fn set_secure_outbound(&self, out: Arc<dyn Outbound>) {
        *self.secure.lock().expect("outbound") = Some(out);
    }

    /// Events dropped because the caller did not keep up.
    pub fn dropped_events(&self) -> u64 {
        self.dropped.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn unix_of(&self, server: &Server, secs: u32) -> i64 {
        let at = server.instant_of(secs);
        unix(self.epoch.1 + at.saturating_duration_since(self.epoch.0))
    }

    /// Handles a datagram from `peer` (with its DTLS identity, `None` on plain CoAP) and returns the
    /// datagrams to send back to it over the same transport.
    pub fn handle_datagram(&self, peer: SocketAddr, identity: Option<&str>, datagram: &[u8]) -> Vec<Transmit> {
        if identity.is_some() {
            let mut s = self.secure_peers.lock().expect("peers");
            if s.len() < 4_000_000 {
                s.insert(peer);
            }
        }
        let mut inner = self.inner.lock().expect("lwm2m server");
        let Output { transmits, events } = inner.server.handle(Instant::now(), peer, identity, datagram);
        self.dispatch(&mut inner, events);
        transmits
    }

    /// Answers operations, records notifications, forwards the rest.
    fn dispatch(&self, inner: &mut Inner, events: Vec<Event>) {
        for e in events {
            match e {
                Event::Response { id, result, .. } => {
                    if let Some(w) = inner.waiters.remove(&id) {
                        let _ = w.send(result);
                    }
                }
                Event::Notification { endpoint, path, sequence, response } => {
                    let values = content::decode(response.content_format, &path, &response.payload)
                        .map(|v| v.into_iter().map(|(p, value)| PathValue { path: p.to_string(), value }).collect())
                        .unwrap_or_default();
                    let key = (endpoint.clone().into_boxed_str(), path);
                    let at = unix(SystemTime::now());
                    let o = inner.observed.entry(key).or_insert_with(|| Observed {
                        path: path.to_string(),
                        sequence,
                        count: 0,
                        at,
                        values: Vec::new(),
                    });
                    o.sequence = sequence;
                    o.count += 1;
                    o.at = at;
                    o.values = values;
                    self.forward(Event::Notification { endpoint, path, sequence, response });
                }
                Event::Deregistered { ref endpoint } | Event::Expired { ref endpoint } => {
                    inner.observed.retain(|(ep, _), _| &**ep != endpoint.as_str());
                    self.forward(e);
                }
                Event::Registered { ref endpoint, .. } | Event::Updated { ref endpoint, .. } => {
                    if inner.seen.len() < 4_000_000 || inner.seen.contains_key(endpoint.as_str()) {
                        *inner.seen.entry(endpoint.as_str().into()).or_default() += 1;
                    }
                    self.forward(e);
                }
                other => self.forward(other),
            }
        }
    }

    fn forward(&self, e: Event) {
        if self.events.try_send(e).is_err() {
            self.dropped.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }

    fn outbound(&self, peer: SocketAddr) -> Option<Arc<dyn Outbound>> {
        if self.secure_peers.lock().expect("peers").contains(&peer) {
            self.secure.lock().expect("outbound").clone()
        } else {
            self.plain.lock().expect("outbound").clone()
        }
    }

    fn send_all(&self, transmits: Vec<Transmit>) {
        for t in transmits {
            if let Some(o) = self.outbound(t.peer) {
                o.send(t.peer, &t.datagram);
            }
        }
    }

    /// Runs one operation on a registered device and waits for its answer.
    pub async fn execute(&self, endpoint: &str, op: Operation) -> Result<Response, OpError> {
        let (rx, transmit) = {
            let mut inner = self.inner.lock().expect("lwm2m server");
            let (id, t) = inner.server.request(Instant::now(), endpoint, op.clone())?;
            let (tx, rx) = oneshot::channel();
            inner.waiters.insert(id, tx);
            if let Operation::CancelObserve { path } = op {
                inner.observed.remove(&(endpoint.into(), path));
            }
            (rx, t)
        };
        self.send_all(vec![transmit]);
        match tokio::time::timeout(OPERATION_TIMEOUT, rx).await {
            Ok(Ok(r)) => r,
            _ => Err(OpError::Timeout),
        }
    }

    /// One round of lifetimes and retransmissions.
    pub fn tick(&self) {
        let transmits = {
            let mut inner = self.inner.lock().expect("lwm2m server");
            let Output { transmits, events } = inner.server.tick(Instant::now());
            self.dispatch(&mut inner, events);
            transmits
        };
        self.send_all(transmits);
    }

    /// How many times `endpoint` registered or updated its registration since this service started:
    /// a change tells that the device came back (after a firmware update, say).
    pub fn registrations(&self, endpoint: &str) -> u64 {
        self.inner.lock().expect("lwm2m server").seen.get(endpoint).copied().unwrap_or(0)
    }

    /// The values of the last notification of `path` observed on `endpoint`, with its count.
    pub fn observed(&self, endpoint: &str, path: Path) -> Option<(u64, Vec<PathValue>)> {
        let inner = self.inner.lock().expect("lwm2m server");
        inner.observed.get(&(endpoint.into(), path)).map(|o| (o.count, o.values.clone()))
    }

    /// Offers `image` to `endpoint` at `/fw/{token}` (see [`Server::offer_download`]).
    pub fn offer_download(&self, token: &str, endpoint: &str, image: Arc<[u8]>) -> bool {
        self.inner.lock().expect("lwm2m server").server.offer_download(token, endpoint, image)
    }

    /// How far the device got with the offer `token`.
    pub fn download(&self, token: &str) -> Option<DownloadProgress> {
        self.inner.lock().expect("lwm2m server").server.download(token)
    }

    /// Withdraws the offer `token`; its last progress.
    pub fn withdraw_download(&self, token: &str) -> Option<DownloadProgress> {
        self.inner.lock().expect("lwm2m server").server.withdraw_download(token)
    }

    /// Records what was learned of a device; `false` when it is no longer registered.
    pub fn set_profile(&self, endpoint: &str, change: impl FnOnce(&mut Profile)) -> bool {
        let mut inner = self.inner.lock().expect("lwm2m server");
        match inner.server.registry_mut().device_mut(endpoint) {
            Some(d) => {
                change(d.profile.get_or_insert_with(Default::default));
                true
            }
            None => false,
        }
    }

    fn view(&self, inner: &Inner, d: &Device) -> DeviceView {
        let observations =
            inner.observed.iter().filter(|((ep, _), _)| **ep == *d.endpoint).map(|(_, o)| o.clone()).collect();
        DeviceView {
            endpoint: d.endpoint.to_string(),
            location: d.location_str(),
            peer: d.peer.to_string(),
            unsecured: d.unsecured(),
            version: d.version_str().to_string(),
            binding: d.binding_str().to_string(),
            queue_mode: d.queue_mode,
            lifetime: d.lifetime,
            registered_at: self.unix_of(&inner.server, d.registered_at),
            updated_at: self.unix_of(&inner.server, d.updated_at),
            expires_at: self.unix_of(&inner.server, d.updated_at) + i64::from(d.lifetime),
            objects: d.objects.iter().map(|o| o.path().to_string()).collect(),
            profile: d.profile.as_deref().cloned().unwrap_or_default(),
            observations,
        }
    }

    /// A device, when registered and visible to `tenant` (`None`: the operator, who sees all).
    pub fn device(&self, tenant: Option<&str>, endpoint: &str) -> Option<DeviceView> {
        let inner = self.inner.lock().expect("lwm2m server");
        let d = inner.server.registry().get(endpoint)?;
        if !visible(d, tenant) {
            return None;
        }
        Some(self.view(&inner, d))
    }

    /// Devices visible to `tenant` with an endpoint name after `after`, in name order, at most `limit`.
    pub fn devices(&self, tenant: Option<&str>, after: Option<&str>, limit: usize) -> Vec<DeviceView> {
        let inner = self.inner.lock().expect("lwm2m server");
        let mut names: Vec<&Device> = inner
            .server
            .registry()
            .iter()
            .filter(|d| visible(d, tenant) && after.is_none_or(|a| &*d.endpoint > a))
            .collect();
        names.sort_by(|a, b| a.endpoint.cmp(&b.endpoint));
        names.into_iter().take(limit).map(|d| self.view(&inner, d)).collect()
    }

    /// Devices registered.
    pub fn len(&self) -> usize {
        self.inner.lock().expect("lwm2m server").server.registry().len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Serves plain CoAP on `socket` until `stop` resolves, with the lifetime/retransmission clock.
    pub async fn serve_udp(self: Arc<Self>, socket: UdpSocket, stop: impl Future<Output = ()>) {
        let socket = Arc::new(socket);
        *self.plain.lock().expect("outbound") = Some(Arc::new(UdpOutbound(socket.clone())));
        let mut buf = vec![0u8; 65_535];
        let mut ticker = tokio::time::interval(Duration::from_millis(250));
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        tokio::pin!(stop);
        loop {
            tokio::select! {
                _ = &mut stop => break,
                _ = ticker.tick() => self.tick(),
                r = socket.recv_from(&mut buf) => match r {
                    Ok((n, peer)) => {
                        for t in self.handle_datagram(peer, None, &buf[..n]) {
                            if let Err(e) = socket.send_to(&t.datagram, t.peer).await {
                                tracing::debug!(peer = %t.peer, error = %e, "CoAP answer not sent");
                            }
                        }
                    }
                    Err(e) => tracing::debug!(error = %e, "CoAP receive failed"),
                },
            }
        }
    }
}

fn visible(d: &Device, tenant: Option<&str>) -> bool {
    match tenant {
        None => true,
        Some(t) => d.profile.as_ref().and_then(|p| p.tenant.as_deref()) == Some(t),
    }
}
