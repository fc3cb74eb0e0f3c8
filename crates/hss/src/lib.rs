//! # hss — Warden's Home Subscriber Server front end
//!
//! Answers S6a (TS 29.272: AIR, ULR, PUR, NOR) and S13 (ECR) requests arriving over
//! [`diameter::transport`], using the [`store`] for subscribers and the [`auc`] for vectors, and
//! originates CLR and IDR over the connection the serving MME opened when a SIM is suspended,
//! terminated or changes profile: SIM changes go through `cmp`, which queues them in the store's
//! outbox and tells the HSS of its process ([`cmp::HssNotifier`] is implemented by [`Hss`]).
//!
//! Requests are dispatched on the dictionary's [`diameter::Command`], and every AVP is built and read
//! through its typed handle (`diameter::avp::USER_NAME`), so no name is looked up at run time.
//!
//! [`Hss`] is the [`diameter::transport::Handler`]; [`ConfiguredPeers`] is the peer authoriser.
//! Before any command is handled, the request's Origin-Host must be the connection's own identity,
//! or a node a configured relay vouches for with its Route-Record path ([`Hss::dispatch`]); each
//! command then checks that the User-Name is an IMSI the peer may ask about. Those refusals are
//! counted per peer ([`PeerRefusals`]), never per IMSI.
//! [`HssConfig`] is made of the `[diameter]`, `[sqn]`, `[eir]` and `[subscription]` configuration
//! sections ([`DiameterConfig`], [`SqnConfig`], [`EirConfig`], [`SubscriptionConfig`]), whose defaults
//! are written here, once. Every request the HSS originates gets a fresh RFC 6733 Session-Id
//! ([`SessionIds`]).
//! Domain logic only: no SQL here (the store translates) and no sockets (the transport does).

mod air;
mod answer;
mod cache;
mod config;
mod ecr;
mod member;
mod originate;
mod purge;
mod rat_type;
mod refusals;
mod session_id;
mod signalling;
mod subscription;
mod ulr;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use diameter::avp;
use diameter::result_code as rc;
use diameter::transport::{Handler, PeerHandle};
use diameter::{Command, Message};
use store::{SqnAllocator, Store};

pub use answer::Outcome;
pub use config::{
    BadWord, ConfigError, ConfiguredPeers, CriticalBlacklist, DiameterConfig, EirConfig, HssConfig, PeerApplication,
    PeerRule, SqnAllocation, SqnConfig, SqnError, SubscriptionConfig, UnknownImei, GX_APPLICATION_ID,
};
pub use member::LIVE_WITHIN_MS;
pub use originate::OriginateError;
pub use refusals::{describe_metrics, PeerRefusals, Refusal, RefusalCounts, REFUSED_METRIC};
pub use session_id::SessionIds;
pub use signalling::SignallingCounter;

/// Nodes behind relays remembered for CLR/IDR at most; when full, a new node takes an arbitrary
/// one's place (that node's CLR/IDR then find no route until it registers again).
const MAX_ROUTES: usize = 100_000;

/// Who sent a request: the connection's peer (its CER identity, to which peer authorisation and
/// IMSI ranges apply) and the node that originated it — the same, or a node behind a relay.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sender<'a> {
    /// The connection's peer.
    pub connection: &'a str,
    /// The node that sent the request.
    pub node: &'a str,
}

impl Sender<'_> {
    /// True when a relay forwarded the request for another node.
    pub fn relayed(&self) -> bool {
        !self.node.eq_ignore_ascii_case(self.connection)
    }
}

/// The node `req` speaks for on a connection with `connection`'s identity, or why it may not
/// speak at all. A connection speaks for itself; a relay's (`relay`) also for the node its
/// Route-Record path starts at (RFC 6733 §6.1.9: each relay appends the identity of the peer it
/// received the request from, so the first Route-Record names the originator's own peer
/// connection, and the last the peer the relay on this connection took it from).
fn speaker<'a>(req: &'a Message, connection: &'a str, relay: bool) -> Result<Sender<'a>, &'static str> {
    let Some(origin) = req.get_str(avp::ORIGIN_HOST) else { return Err("no Origin-Host") };
    if origin.eq_ignore_ascii_case(connection) {
        return Ok(Sender { connection, node: connection });
    }
    if !relay {
        return Err("Origin-Host is not this connection's peer");
    }
    match req.get_str(avp::ROUTE_RECORD) {
        Some(first) if first.eq_ignore_ascii_case(origin) => Ok(Sender { connection, node: origin }),
        Some(_) => Err("the relayed request's first Route-Record does not name its Origin-Host"),
        None => Err("Origin-Host is not the relay's and no Route-Record names it"),
    }
}

/// The HSS.
pub struct Hss {
    config: HssConfig,
    store: Store,
    sqn: SqnAllocator,
    cache: cache::Cache,
    /// Open connections by peer identity (lower case), oldest first, for CLR/IDR: every live
    /// connection of an identity is kept, so one closing never orphans another.
    peers: Mutex<HashMap<String, Vec<PeerHandle>>>,
    /// AIR/ULR per IMSI in the current hour (authorised requests for provisioned SIMs only).
    signalling: SignallingCounter,
    /// Requests refused because of who asked, per peer.
    refusals: PeerRefusals,
    /// Nodes behind a relay (a roaming firewall, a DEA): node Origin-Host → the connection's host.
    routes: Mutex<HashMap<String, String>>,
    /// Woken when a change of this process queued a notification in the outbox.
    outbox_wake: tokio::sync::Notify,
    /// CLR/IDR sent and waiting for their answers.
    originated: tokio_util::task::TaskTracker,
    /// Session-Ids of the requests the HSS originates (RFC 6733 §8.8).
    session_ids: SessionIds,
    /// This instance among the others on the same database.
    member: member::Member,
    /// Told of every SIM change the HSS itself makes (an IMEI lock barring a SIM), besides the HSS's
    /// own caches: the PCRF of the process, which must release or narrow the SIM's data sessions.
    also: std::sync::OnceLock<Arc<dyn cmp::HssNotifier>>,
}

impl std::fmt::Debug for Hss {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hss").field("origin_host", &self.config.origin_host()).field("store", &self.store).finish()
    }
}

impl Hss {
    /// An HSS over `store`.
    pub fn new(config: HssConfig, store: Store) -> Arc<Self> {
        let sqn = SqnAllocator::with_allocation(config.sqn.allocation_for(store.backend()));
        let cache = cache::Cache::new(config.cache_capacity);
        let signalling = SignallingCounter::with_capacity(config.signalling_capacity);
        let session_ids = SessionIds::new(config.origin_host());
        let member = member::Member::new(config.origin_host(), sqn.allocation());
        Arc::new(Self {
            config,
            store,
            sqn,
            cache,
            peers: Mutex::new(HashMap::new()),
            signalling,
            refusals: PeerRefusals::default(),
            routes: Mutex::new(HashMap::new()),
            outbox_wake: tokio::sync::Notify::new(),
            originated: tokio_util::task::TaskTracker::new(),
            session_ids,
            member,
            also: std::sync::OnceLock::new(),
        })
    }

    /// Tells `other` of every SIM change the HSS makes itself (once; later calls are ignored).
    pub fn also_notify(&self, other: Arc<dyn cmp::HssNotifier>) {
        let _ = self.also.set(other);
    }

    /// Whom else to tell of a SIM change.
    pub(crate) fn also(&self) -> Option<&Arc<dyn cmp::HssNotifier>> {
        self.also.get()
    }

    /// Waits until every CLR and IDR sent so far has its answer (or failed: its connection closed,
    /// its request timed out). Used at shutdown, before and after the Diameter connections close.
    pub async fn settle(&self) {
        self.originated.close();
        self.originated.wait().await;
        self.originated.reopen();
    }

    /// The configuration.
    pub fn config(&self) -> &HssConfig {
        &self.config
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The subscriber with its profile and keyed algorithm, from the cache or the store.
    pub(crate) async fn subscriber(&self, imsi: &ids::Imsi) -> store::Result<Option<Arc<cache::Subscriber>>> {
        if let Some(s) = self.cache.subscriber(imsi) {
            return Ok(Some(s));
        }
        let Some((sim, alg)) = self.store.auth_material(imsi).await? else { return Ok(None) };
        let profile = match &sim.profile {
            Some(name) => match self.cache.profile(name) {
                Some(p) => p,
                None => {
                    let p = self.store.profile(name).await?.map(Arc::new);
                    self.cache.put_profile(name, p.clone());
                    p
                }
            },
            None => None,
        };
        let s = Arc::new(cache::Subscriber { sim, profile, alg });
        self.cache.put_subscriber(imsi.clone(), s.clone());
        Ok(Some(s))
    }

    /// AIR/ULR counts per subscriber (for signalling-behaviour rules).
    pub fn signalling(&self) -> &SignallingCounter {
        &self.signalling
    }

    /// Requests refused because of the peer that sent them, per peer.
    pub fn refusals(&self) -> &PeerRefusals {
        &self.refusals
    }

    /// Remembers that `node` is reached through the relay `connection` (CLR/IDR go back that way),
    /// here and, when it is new, in the database for every instance and after restarts.
    pub(crate) fn remember_route(&self, node: &str, connection: &str) {
        if self.learn_route(node, connection) {
            let (node, via) = (node.to_ascii_lowercase(), connection.to_ascii_lowercase());
            self.member.announce(member::PeerEvent::Route { node, via });
        }
    }

    /// Remembers a route in this instance only; true when it is new or changed.
    pub(crate) fn learn_route(&self, node: &str, connection: &str) -> bool {
        let mut routes = self.routes.lock().expect("routes");
        let key = node.to_ascii_lowercase();
        if routes.get(&key).is_some_and(|c| c.eq_ignore_ascii_case(connection)) {
            return false;
        }
        if routes.len() >= MAX_ROUTES && !routes.contains_key(&key) {
            // The node's route stays in the database; it is looked up again when needed.
            if let Some(victim) = routes.keys().next().cloned() {
                routes.remove(&victim);
            }
        }
        routes.insert(key, connection.to_ascii_lowercase());
        true
    }

    /// The identities of the peers this instance has an open connection to.
    pub(crate) fn reachable_now(&self) -> Vec<String> {
        let peers = self.peers.lock().expect("peer registry");
        peers.iter().filter(|(_, v)| v.iter().any(PeerHandle::is_open)).map(|(h, _)| h.clone()).collect()
    }

    /// The open connections to `node`, newest first: its own, or else those of the relay it last
    /// came through.
    pub(crate) fn connections_to(&self, node: &str) -> Vec<PeerHandle> {
        let key = node.to_ascii_lowercase();
        let peers = self.peers.lock().expect("peer registry");
        let open = |host: &str| -> Vec<PeerHandle> {
            peers.get(host).map(|v| v.iter().rev().filter(|p| p.is_open()).cloned().collect()).unwrap_or_default()
        };
        let direct = open(&key);
        if !direct.is_empty() {
            return direct;
        }
        match self.routes.lock().expect("routes").get(&key) {
            Some(via) => open(via),
            None => Vec::new(),
        }
    }

    /// The open connections to `node`, newest first (its own, or those of the relay it last came
    /// through): for requests other components originate toward an MME (SGd MT short messages).
    pub fn open_connections(&self, node: &str) -> Vec<PeerHandle> {
        self.connections_to(node)
    }

    /// Drops a subscriber from the cache after a change.
    pub(crate) fn forget(&self, imsi: &ids::Imsi) {
        self.cache.invalidate(imsi);
    }

    fn answer(&self, req: &Message, outcome: Outcome) -> Message {
        answer::answer(req, self.config.origin_host(), self.config.origin_realm(), outcome)
    }

    /// The IMSI a request names, or the answer that refuses it: DIAMETER_INVALID_AVP_VALUE (5004,
    /// with the User-Name as Failed-AVP, RFC 6733 §7.5) when the User-Name is not an IMSI of 6 to 15
    /// digits, counted against the peer; nothing about the User-Name is kept.
    pub(crate) fn imsi_of(&self, req: &Message, from: Sender<'_>) -> Result<ids::Imsi, Message> {
        let user_name = req.get(avp::USER_NAME);
        match user_name.and_then(diameter::Avp::as_str).and_then(|s| s.parse::<ids::Imsi>().ok()) {
            Some(imsi) => Ok(imsi),
            None => {
                self.refusals.count(from.connection, Refusal::InvalidUserName);
                let mut a = self.answer(req, Outcome::Result(rc::INVALID_AVP_VALUE));
                if let Some(u) = user_name {
                    a.add(avp::FAILED_AVP, vec![u.clone()]);
                }
                Err(a)
            }
        }
    }

    /// True when the peer on `from`'s connection may ask about `imsi`; a refusal is counted against
    /// the peer.
    pub(crate) fn may_query(&self, from: Sender<'_>, imsi: &ids::Imsi) -> bool {
        let ok = self.config.may_query(from.connection, imsi.as_str());
        if !ok {
            self.refusals.count(from.connection, Refusal::ImsiRange);
        }
        ok
    }

    /// Answers one request; store failures become DIAMETER_UNABLE_TO_COMPLY, never a crash.
    ///
    /// A request whose Origin-Host is not the connection's peer is refused with
    /// DIAMETER_UNABLE_TO_COMPLY (5012) and an Error-Message, unless the connection's peer is a
    /// configured relay and the Route-Record path starts at that Origin-Host.
    pub async fn dispatch(&self, req: Message, peer: &PeerHandle) -> Message {
        let connection = peer.remote().origin_host.as_str();
        let command = req.command().filter(|_| req.is_request());
        let from = match speaker(&req, connection, self.config.is_relay(connection)) {
            Ok(s) => s,
            Err(why) => {
                // Counted (per peer, and in the metric) rather than logged at a level a flood could fill.
                tracing::debug!(peer = %connection, origin_host = ?req.get_str(avp::ORIGIN_HOST), why, "request refused");
                self.refusals.count(connection, Refusal::OriginHost);
                let mut a = self.answer(&req, Outcome::Result(rc::UNABLE_TO_COMPLY));
                a.add(avp::ERROR_MESSAGE, why);
                return a;
            }
        };
        if !self.config.may_use(connection, req.header.app_id) {
            self.refusals.count(connection, Refusal::Application);
            let mut a = self.answer(&req, Outcome::Result(rc::APPLICATION_UNSUPPORTED));
            a.add(avp::ERROR_MESSAGE, "this peer is not configured for this application");
            return a;
        }
        let result = match command {
            Some(Command::AIR) => self.air(&req, from).await,
            Some(Command::ULR) => self.ulr(&req, from).await,
            Some(Command::PUR) => self.pur(&req, from).await,
            Some(Command::NOR) => self.nor(&req, from).await,
            Some(Command::ECR) => self.ecr(&req, from).await,
            _ => Ok(self.answer(&req, Outcome::Result(rc::COMMAND_UNSUPPORTED))),
        };
        result.unwrap_or_else(|e| {
            tracing::warn!(error = %e, command = ?req.abbrev(), "request failed");
            self.answer(&req, Outcome::Result(rc::UNABLE_TO_COMPLY))
        })
    }
}

/// A refusal of a domain use case the HSS started (an IMEI lock's binding) as a store error, so the
/// request is answered DIAMETER_UNABLE_TO_COMPLY like any other failure.
pub(crate) fn domain(e: cmp::Error) -> store::StoreError {
    match e {
        cmp::Error::Store(s) => s,
        other => store::StoreError::Conflict(other.to_string()),
    }
}

impl Handler for Hss {
    async fn handle(&self, request: Message, peer: PeerHandle) -> Option<Message> {
        Some(self.dispatch(request, &peer).await)
    }

    /// Adds the connection beside any other of the same identity (RFC 6733 §5.6.4's election is for
    /// two peers connecting to each other at once; the HSS only accepts, so every connection an MME
    /// opens is kept while it lives).
    fn peer_open(&self, peer: PeerHandle) {
        let host = peer.remote().origin_host.to_ascii_lowercase();
        let mut peers = self.peers.lock().expect("peer registry");
        let live = peers.entry(host.clone()).or_default();
        live.retain(PeerHandle::is_open);
        let first = live.is_empty();
        live.push(peer);
        // Announced under the lock, so an Up and the Down of a connection closing at once are
        // recorded in the order they happened.
        if first {
            self.member.announce(member::PeerEvent::Up { host });
        }
    }

    /// Drops the connection that closed (its handle is no longer open), and only that one.
    fn peer_closed(&self, remote: Option<&diameter::peer::Capabilities>, _reason: &diameter::peer::CloseReason) {
        let Some(r) = remote else { return };
        let host = r.origin_host.to_ascii_lowercase();
        let mut peers = self.peers.lock().expect("peer registry");
        if let Some(live) = peers.get_mut(&host) {
            live.retain(PeerHandle::is_open);
            if live.is_empty() {
                peers.remove(&host);
                self.member.announce(member::PeerEvent::Down { host });
            }
        }
    }
}
