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
//! [`HssConfig`] is made of the `[diameter]`, `[sqn]` and `[eir]` configuration sections
//! ([`DiameterConfig`], [`SqnConfig`], [`EirConfig`]), whose defaults are written here, once.
//! Domain logic only: no SQL here (the store translates) and no sockets (the transport does).

mod air;
mod answer;
mod cache;
mod config;
mod ecr;
mod originate;
mod purge;
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
    BadWord, ConfigError, ConfiguredPeers, CriticalBlacklist, DiameterConfig, EirConfig, HssConfig, PeerRule,
    SqnConfig, SqnError, UnknownImei,
};
pub use originate::OriginateError;
pub use signalling::SignallingCounter;

/// The HSS.
pub struct Hss {
    config: HssConfig,
    store: Store,
    sqn: SqnAllocator,
    cache: cache::Cache,
    /// Open connections by peer identity (lower case), oldest first, for CLR/IDR: every live
    /// connection of an identity is kept, so one closing never orphans another.
    peers: Mutex<HashMap<String, Vec<PeerHandle>>>,
    /// AIR/ULR per IMSI in the current hour.
    signalling: SignallingCounter,
    /// Nodes behind a relay (a roaming firewall, a DEA): node Origin-Host → the connection's host.
    routes: Mutex<HashMap<String, String>>,
    /// Woken when a change of this process queued a notification in the outbox.
    outbox_wake: tokio::sync::Notify,
    /// CLR/IDR sent and waiting for their answers.
    originated: tokio_util::task::TaskTracker,
}

impl std::fmt::Debug for Hss {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hss").field("origin_host", &self.config.origin_host()).field("store", &self.store).finish()
    }
}

impl Hss {
    /// An HSS over `store`.
    pub fn new(config: HssConfig, store: Store) -> Arc<Self> {
        let sqn = SqnAllocator::new(config.sqn.block());
        let cache = cache::Cache::new(config.cache_capacity);
        Arc::new(Self {
            config,
            store,
            sqn,
            cache,
            peers: Mutex::new(HashMap::new()),
            signalling: Default::default(),
            routes: Mutex::new(HashMap::new()),
            outbox_wake: tokio::sync::Notify::new(),
            originated: tokio_util::task::TaskTracker::new(),
        })
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

    /// The node that sent `req`: its Origin-Host when a relay (the connection's peer, `connection`)
    /// forwarded it, remembered so CLR/IDR to that node go back through the same connection.
    pub(crate) fn node_of<'a>(&self, req: &'a Message, connection: &'a str) -> &'a str {
        match req.get_str(avp::ORIGIN_HOST) {
            Some(node) if !node.eq_ignore_ascii_case(connection) => {
                let mut routes = self.routes.lock().expect("routes");
                let key = node.to_ascii_lowercase();
                if routes.get(&key).map(String::as_str) != Some(connection) {
                    routes.insert(key, connection.to_ascii_lowercase());
                }
                node
            }
            _ => connection,
        }
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

    /// Drops a subscriber from the cache after a change.
    pub(crate) fn forget(&self, imsi: &ids::Imsi) {
        self.cache.invalidate(imsi);
    }

    fn answer(&self, req: &Message, outcome: Outcome) -> Message {
        answer::answer(req, self.config.origin_host(), self.config.origin_realm(), outcome)
    }

    /// Answers one request; store failures become DIAMETER_UNABLE_TO_COMPLY, never a crash.
    pub async fn dispatch(&self, req: Message, peer: &PeerHandle) -> Message {
        let origin = peer.remote().origin_host.clone();
        let command = req.command().filter(|_| req.is_request());
        if matches!(command, Some(Command::AIR | Command::ULR)) {
            if let Some(imsi) = req.get_str(avp::USER_NAME) {
                self.signalling.count(imsi, store::now());
            }
        }
        let result = match command {
            Some(Command::AIR) => self.air(&req, &origin).await,
            Some(Command::ULR) => self.ulr(&req, &origin).await,
            Some(Command::PUR) => self.pur(&req, &origin).await,
            Some(Command::NOR) => self.nor(&req, &origin).await,
            Some(Command::ECR) => self.ecr(&req).await,
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
        let live = peers.entry(host).or_default();
        live.retain(PeerHandle::is_open);
        live.push(peer);
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
            }
        }
    }
}
