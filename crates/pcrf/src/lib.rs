//! # pcrf — Warden's Policy and Charging Rules Function on Gx (TS 29.212)
//!
//! The P-GW (PCEF) asks with CCR-Initial/Update/Termination; [`Pcrf`] answers with the SIM's policy
//! as PCC rules: DNS, one rule per allowlisted prefix (or the profile's predefined rules), the
//! addresses the DNS firewall resolved for allowlisted names, and a lowest-precedence deny-all
//! ([`rules`], with Flow-Descriptions from [`ipfilter`]); the default bearer's QCI, ARP and APN-AMBR
//! ([`qos`]); and session-level usage monitoring, whose reports become the SIM's hourly usage.
//! The policy itself is [`cmp::traffic::effective`], computed nowhere else.
//!
//! When a policy changes ([`Pcrf::policy_changed`], [`Pcrf::sim_changed`],
//! [`Pcrf::profile_changed`], [`Pcrf::allow_resolved`]) the PCRF pushes the difference with RAR
//! (Charging-Rule-Remove of the names that went, Charging-Rule-Install of the new ones) over the
//! PCEF's open connection, or releases the session when the SIM is no longer active. A PCEF that does
//! not take a change loses the session ([`PcrfConfig::critical_fail_open`] excepted): a SIM never
//! keeps more access than its policy. A release the PCEF does not confirm is not forgotten: the
//! session stays pending and the release is retried (backoff, and at once when the PCEF connects).
//! Every change bumps a policy generation, so that a CCR-Initial that read the policy before a
//! change neither caches that read over the change's nor keeps its rules.
//!
//! Sessions live in memory, indexed by Session-Id, IMSI and UE address ([`Pcrf::lookup_ip`] serves
//! the DNS firewall; [`Pcrf::binding_at`] answers who held an address at a past time, from a bounded
//! history of ended bindings, for the security analytics), and are written to the store by a background writer in batches; [`Pcrf::new`]
//! loads them again. Domain logic only: no SQL (the store translates) and no sockets (the Diameter
//! transport does); the `warden` binary routes Gx requests to [`Pcrf::dispatch`].
//!
//! ## Wiring (what the binary does)
//! - Advertise [`diameter::peer::Application::GX`] in the CEA and route requests whose application id
//!   is 16777238 to [`Pcrf::dispatch`]; forward the handler's `peer_open`/`peer_closed` to
//!   [`Pcrf::peer_open`]/[`Pcrf::peer_closed`] (RAR needs the open connections).
//! - Build `may_query` from the peer configuration (the IMSI ranges of `[[diameter.peers]]`).
//! - Forward `cmp`'s notifications: `policy_changed` → [`Pcrf::policy_changed`], `status_changed` and
//!   `profile_changed` (of a SIM) → [`Pcrf::sim_changed`]; a profile edited in the catalogue →
//!   [`Pcrf::profile_changed`].
//! - The DNS firewall calls [`Pcrf::lookup_ip`] and [`Pcrf::allow_resolved`].
//! - At shutdown, [`Pcrf::settle`] before and after the Diameter connections close.
//!
//! The PCRF is also a [`diameter::transport::Handler`] of its own, for a listener that serves Gx only.

mod ccr;
mod config;
pub mod ip_history;
pub mod ipfilter;
mod limit;
mod push;
pub mod qos;
mod recheck;
mod retry;
pub mod rules;
mod session;
mod table;
#[cfg(test)]
mod tests;
// The unit tests share tests/common with the integration tests, which name this crate `pcrf`.
#[cfg(test)]
extern crate self as pcrf;
mod usage;
mod writer;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use cmp::traffic::EffectivePolicy;
use diameter::transport::{Handler, PeerHandle};
use diameter::Message;
use ids::{DomainPattern, Imsi};
use store::model::{Priority, ServiceProfile};
use store::Store;
use tokio::sync::mpsc;

pub use config::{PcrfConfig, Release};
pub use ip_history::AddressBinding;

/// The subscriber a Gx request names: the IMSI of its Subscription-Id of type END_USER_IMSI, if it
/// has a valid one.
pub fn subscription_imsi(request: &diameter::Message) -> Option<ids::Imsi> {
    ccr::subscription_imsi(request)
}

use session::{Holders, Session, Sessions};
use writer::Write;

/// How long a SIM's policy read from the store serves CCR-Initial before it is read again (changes
/// made through `cmp` in this process are applied at once; this bounds how late a change made by
/// another process on the same database is seen by a new session).
const CACHE_TTL: Duration = Duration::from_secs(60);
/// SIMs whose policy is cached at most; beyond, those without a session are dropped.
const MAX_CACHED: usize = 500_000;
/// A service profile (or its absence) as read under a policy generation.
type CachedProfile = (u64, Option<Arc<store::model::ServiceProfile>>);

/// Most service profiles cached (operators have tens; the cache is dropped whole beyond this).
const MAX_CACHED_PROFILES: usize = 4_096;
/// Changes waiting for the background writer beyond which CCR-Initial is answered
/// DIAMETER_TOO_BUSY: the database is slower than the PCEFs, and what a crash can lose stays bounded.
pub const MAX_PENDING_WRITES: usize = 100_000;

/// Decides whether the PCEF connected as `host` may ask about `imsi` (the `[[diameter.peers]]`
/// IMSI ranges).
pub type MayQuery = Arc<dyn Fn(&str, &Imsi) -> bool + Send + Sync>;

/// The SIM behind a UE address, for the DNS firewall.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asker {
    /// The SIM.
    pub imsi: Imsi,
    /// Its tenant.
    pub tenant: String,
    /// True when every name may be resolved (an open profile).
    pub any_domain: bool,
    /// The names it may resolve otherwise.
    pub domains: Arc<[DomainPattern]>,
}

/// Who uses a UE address, for the DNS firewall ([`Pcrf::lookup_address`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddressUser {
    /// No live session holds it.
    Nobody,
    /// One SIM.
    Sim(Asker),
    /// Live sessions of this many SIMs hold it (pools that overlap across APNs or tenants): the
    /// address does not tell which SIM asks.
    Ambiguous(usize),
}

/// What the PCRF has done since it started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PcrfCounters {
    /// Sessions now.
    pub sessions: usize,
    /// CCR-Initial answered (whatever the result).
    pub ccr_initial: u64,
    /// CCR-Update answered.
    pub ccr_update: u64,
    /// CCR-Termination answered.
    pub ccr_termination: u64,
    /// RAR attempts sent with a rule change.
    pub rar_sent: u64,
    /// Rule changes that no attempt delivered.
    pub rar_failed: u64,
    /// Sessions released by the PCRF (RAR with Session-Release-Cause, or ASR).
    pub asr: u64,
    /// CCR-Initial refused with DIAMETER_TOO_BUSY (the PCEF's rate, or the writer's backlog).
    pub rate_limited: u64,
    /// Changes waiting for the background writer now.
    pub pending_writes: usize,
    /// CCR-Initial refused because the PCEF may not ask about the IMSI.
    pub refused_imsi: u64,
    /// Critical SIMs that kept their last rules because a change did not reach the PCEF.
    pub fail_open: u64,
    /// PCC rules the PCEF reported as not installed (Charging-Rule-Report).
    pub rule_failures: u64,
    /// CCR-Initial refused because the SIM or the PCEF host has `max_sessions_per_imsi` or
    /// `max_sessions_per_pcef` sessions.
    pub session_cap_refused: u64,
    /// Sessions whose PCEF has not confirmed their release (or a critical SIM's rule change) yet;
    /// they are tried again.
    pub unconfirmed: usize,
    /// Usage reports dropped because 500,000 other SIM-hours were waiting for the writer (a report
    /// of a SIM-hour already waiting is always added to it).
    pub usage_dropped: u64,
    /// Usage changes handed to the writer: one per SIM-hour and flush, however many reports it sums.
    pub usage_rows: u64,
    /// Re-checks of a PCEF's sessions when it connected ([`Pcrf::peer_open`]), made only when it
    /// may have missed a change.
    pub resyncs: u64,
    /// SIMs whose DNS-resolved host rule expired, pushed by the expiry sweep (only for sessions
    /// whose PCEF is connected here; one without a connection is marked as having missed it).
    pub expiry_pushes: u64,
}

#[derive(Default)]
struct Counters {
    ccr_initial: AtomicU64,
    ccr_update: AtomicU64,
    ccr_termination: AtomicU64,
    rar_sent: AtomicU64,
    rar_failed: AtomicU64,
    asr: AtomicU64,
    rate_limited: AtomicU64,
    refused_imsi: AtomicU64,
    fail_open: AtomicU64,
    rule_failures: AtomicU64,
    session_cap_refused: AtomicU64,
    usage_dropped: AtomicU64,
    usage_rows: AtomicU64,
    resyncs: AtomicU64,
    expiry_pushes: AtomicU64,
}

fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

/// A SIM as the PCRF needs it: its policy and what its QoS depends on.
pub(crate) struct Subscriber {
    pub tenant: String,
    pub priority: Priority,
    pub profile_name: Option<String>,
    pub profile: Option<Arc<ServiceProfile>>,
    pub policy: EffectivePolicy,
    pub domains: Arc<[DomainPattern]>,
    pub loaded: Instant,
    /// The policy generation ([`Pcrf::invalidate`]) when it was read: it reflects every change
    /// announced up to that generation.
    pub epoch: u64,
    /// The rules of a new session, compiled once for this read of the policy (by bearer QoS, which
    /// depends on the APN: the last one asked for).
    pub compiled: Mutex<Option<(qos::BearerQos, Arc<rules::Compiled>)>>,
}

impl Subscriber {
    /// The PCC rules a new session gets under bearer `qos` (no DNS-resolved hosts yet): compiled on
    /// first use, then reused while this read of the policy serves CCR-Initial.
    pub(crate) fn session_rules(&self, qos: &qos::BearerQos, dns_servers: &[IpAddr]) -> Arc<rules::Compiled> {
        if let Some((q, c)) = &*lock(&self.compiled) {
            if q == qos {
                return c.clone();
            }
        }
        let compiled = Arc::new(rules::Compiled::new(rules::compile(&self.policy, dns_servers, &[], qos)));
        *lock(&self.compiled) = Some((*qos, compiled.clone()));
        compiled
    }

    /// True when the policy lets the SIM resolve `name` (and so reach what it resolves to).
    pub(crate) fn allows_name(&self, name: &str) -> bool {
        self.policy.any_domain() || self.domains.iter().any(|d| d.matches(name))
    }
}

/// A poisoned lock is still used: every critical section leaves the maps consistent.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The PCEF connections, and the hosts that had one and lost it.
#[derive(Default)]
struct Peers {
    live: HashMap<String, Vec<PeerHandle>>,
    away: HashMap<String, Away>,
}

/// A PCEF host whose last connection closed: the policy generation then, and whether a change of
/// one of its sessions found it unreachable since. When it connects again its sessions are
/// re-checked only if either says it may have missed something; a host this process never saw
/// connected (after a restart, say) is always re-checked.
#[derive(Debug, Clone, Copy)]
struct Away {
    epoch: u64,
    missed: bool,
}

/// The PCRF.
pub struct Pcrf {
    config: PcrfConfig,
    store: Store,
    origin_host: String,
    origin_realm: String,
    may_query: MayQuery,
    sessions: Mutex<Sessions>,
    cache: Mutex<HashMap<Imsi, Arc<Subscriber>>>,
    /// Service profiles by name, each with the policy generation it was read under (used only
    /// while that generation is current), so that a subscriber's load is one store read.
    profiles: Mutex<HashMap<String, CachedProfile>>,
    /// Open connections by PCEF host (lower case), oldest first, and what each host without one
    /// may have missed since its last closed ([`Away`]). One lock, so that a change that finds a
    /// host unreachable and a connection of that host opening cannot miss each other.
    peers: Mutex<Peers>,
    limiter: limit::Limiter,
    writer: mpsc::UnboundedSender<Write>,
    /// Changes queued for the writer and not yet written.
    pending: Arc<std::sync::atomic::AtomicUsize>,
    /// RAR and releases in flight.
    tasks: tokio_util::task::TaskTracker,
    /// One rule push at a time per SIM.
    imsi_locks: Mutex<HashMap<Imsi, Arc<tokio::sync::Mutex<()>>>>,
    counters: Counters,
    /// The policy generation: bumped by every change announced (policy, SIM or profile changed),
    /// before the store is read again. A policy read under an older generation is not cached, and a
    /// session begun on one is re-evaluated.
    epoch: AtomicU64,
    /// Sessions whose PCEF owes a confirmation, by Session-Id ([`retry`]).
    unconfirmed: Mutex<HashMap<String, retry::Pending>>,
    /// Usage not yet handed to the writer ([`usage`]).
    usage: Mutex<usage::Coalescer>,
    me: Weak<Pcrf>,
}

impl std::fmt::Debug for Pcrf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pcrf")
            .field("origin_host", &self.origin_host)
            .field("sessions", &lock(&self.sessions).len())
            .finish()
    }
}

impl Pcrf {
    /// A PCRF over `store`, answering as `origin_host`/`origin_realm`, with the sessions stored by a
    /// previous run. Must be called inside a tokio runtime (it starts the writer and the sweeper of
    /// expired DNS-resolved rules).
    pub async fn new(
        config: PcrfConfig,
        store: Store,
        origin_host: &str,
        origin_realm: &str,
        may_query: MayQuery,
    ) -> store::Result<Arc<Self>> {
        let mut sessions = Sessions::default();
        sessions.history =
            ip_history::IpHistory::new(config.binding_history_minutes * 60_000, config.binding_history_entries);
        for row in store.gx_sessions().await? {
            let id = row.session_id.clone();
            match Session::from_row(row) {
                Some(s) => sessions.insert(s),
                None => tracing::warn!(session = %id, "stored Gx session not readable; ignored"),
            }
        }
        let pending = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let writer = writer::spawn(store.clone(), pending.clone());
        let limiter = limit::Limiter::new(config.ccr_initial_per_sec);
        let pcrf = Arc::new_cyclic(|me| Pcrf {
            config,
            store,
            origin_host: origin_host.to_string(),
            origin_realm: origin_realm.to_string(),
            may_query,
            sessions: Mutex::new(sessions),
            cache: Mutex::new(HashMap::new()),
            profiles: Mutex::new(HashMap::new()),
            peers: Mutex::new(Peers::default()),
            limiter,
            writer,
            pending,
            tasks: tokio_util::task::TaskTracker::new(),
            imsi_locks: Mutex::new(HashMap::new()),
            counters: Counters::default(),
            epoch: AtomicU64::new(0),
            unconfirmed: Mutex::new(HashMap::new()),
            usage: Mutex::new(usage::Coalescer::default()),
            me: me.clone(),
        });
        let imsis = lock(&pcrf.sessions).imsis();
        for imsi in imsis {
            pcrf.subscriber(&imsi, true).await?;
        }
        tokio::spawn(push::sweep(Arc::downgrade(&pcrf)));
        Ok(pcrf)
    }

    /// The configuration.
    pub fn config(&self) -> &PcrfConfig {
        &self.config
    }

    /// Answers a Gx request (CCR) that arrived over `peer`'s connection.
    pub async fn dispatch(&self, req: Message, peer: &PeerHandle) -> Message {
        self.answer(req, &peer.remote().origin_host).await
    }

    /// Registers an open connection (for RAR); a PCEF whose CER carries a new Origin-State-Id loses
    /// the sessions it began under the old one. A connection of a host that may have missed
    /// something brings that host's sessions to their policy as it is now, RAR where they differ:
    /// a host this process has not seen connected (DNS-resolved rules forgotten in a restart), or
    /// one that had no connection while a change was announced or one of its sessions' rules
    /// changed ([`Away`]). A second connection of a connected host, or a reconnect after nothing
    /// happened, re-checks nothing: at 80,000 sessions that re-check was most of the slow answers
    /// of a CCR burst right after the connections opened (docs/performance.md).
    pub fn peer_open(&self, peer: PeerHandle) {
        let host = peer.remote().origin_host.to_ascii_lowercase();
        if let Some(state) = peer.remote().origin_state_id {
            self.pcef_restarted(&host, state);
        }
        let resync = {
            let mut peers = lock(&self.peers);
            let away = peers.away.remove(&host);
            let live = peers.live.entry(host.clone()).or_default();
            live.retain(PeerHandle::is_open);
            let connected = !live.is_empty();
            live.push(peer);
            // Another connection of the host was open: every change since went through it.
            !connected && away.is_none_or(|a| a.missed || a.epoch != self.epoch())
        };
        // Changes made while the PCEF had no connection here were left alone: bring its sessions to
        // their current policy now, in the background ([`Pcrf::resync_host`]).
        if resync {
            self.spawn_resync(host.clone());
        }
        // Releases it did not confirm: at once.
        self.retry_host(&host);
    }

    /// Re-checks `host`'s sessions in the background ([`Pcrf::resync_host`]).
    pub(crate) fn spawn_resync(&self, host: String) {
        if let Some(me) = self.me.upgrade() {
            bump(&self.counters.resyncs);
            self.tasks.spawn(async move { me.resync_host(&host).await });
        }
    }

    /// Drops the connections of `remote` that closed; a host left without one is remembered as
    /// away from the policy generation now.
    pub fn peer_closed(&self, remote: Option<&diameter::peer::Capabilities>) {
        let Some(r) = remote else { return };
        let host = r.origin_host.to_ascii_lowercase();
        let mut peers = lock(&self.peers);
        if let Some(live) = peers.live.get_mut(&host) {
            live.retain(PeerHandle::is_open);
            if live.is_empty() {
                peers.live.remove(&host);
                peers.away.insert(host, Away { epoch: self.epoch(), missed: false });
            }
        }
    }

    /// Changes of sessions of `hosts` were left alone because these hosts had no connection: each
    /// is re-checked when it connects, or now if a connection opened meanwhile.
    pub(crate) fn missed_by(&self, hosts: std::collections::HashSet<String>) {
        let mut now_live = Vec::new();
        {
            let mut peers = lock(&self.peers);
            for host in hosts {
                if peers.live.get(&host).is_some_and(|v| v.iter().any(PeerHandle::is_open)) {
                    now_live.push(host);
                } else if let Some(a) = peers.away.get_mut(&host) {
                    a.missed = true;
                }
            }
        }
        for host in now_live {
            self.spawn_resync(host);
        }
    }

    /// The open connections to `host`, newest first.
    pub(crate) fn connections_to(&self, host: &str) -> Vec<PeerHandle> {
        let peers = lock(&self.peers);
        peers
            .live
            .get(&host.to_ascii_lowercase())
            .map(|v| v.iter().rev().filter(|p| p.is_open()).cloned().collect())
            .unwrap_or_default()
    }

    /// The SIM using `ip` now (an IPv6 address is looked up by its /64), for the DNS firewall;
    /// `None` also when the address is ambiguous ([`Pcrf::lookup_address`] tells the cases apart).
    pub fn lookup_ip(&self, ip: IpAddr) -> Option<Asker> {
        match self.lookup_address(ip, None) {
            AddressUser::Sim(a) => Some(a),
            AddressUser::Nobody | AddressUser::Ambiguous(_) => None,
        }
    }

    /// Who uses `ip` now (an IPv6 address is looked up by its /64), among the sessions of `apn`
    /// when given (the APN as the PCEF reported it, any case): a SIM only when exactly one SIM's
    /// live sessions hold the address.
    pub fn lookup_address(&self, ip: IpAddr, apn: Option<&str>) -> AddressUser {
        let (imsi, tenant) = {
            let sessions = lock(&self.sessions);
            match sessions.by_address(ip, apn) {
                Holders::None => return AddressUser::Nobody,
                Holders::Several(n) => return AddressUser::Ambiguous(n),
                Holders::One(s) => (s.imsi.clone(), s.tenant.clone()),
            }
        };
        let sub = lock(&self.cache).get(&imsi).cloned();
        AddressUser::Sim(match sub {
            Some(sub) => Asker { imsi, tenant, any_domain: sub.policy.any_domain(), domains: sub.domains.clone() },
            // Not known (yet): nothing may be resolved.
            None => Asker { imsi, tenant, any_domain: false, domains: Arc::from(Vec::new()) },
        })
    }

    /// The service profile of `imsi` as last read (a SIM with a live session has been read), for the
    /// security analytics' cohorts; `None` when the SIM is not cached or has no profile.
    pub fn profile_name(&self, imsi: &Imsi) -> Option<String> {
        lock(&self.cache).get(imsi).and_then(|s| s.profile_name.clone())
    }

    /// True when `imsi`'s current policy (as cached) lets it resolve `name`: an answer that was
    /// allowed under an older policy (a quarantine pushed while it was in flight) must not open the
    /// addresses it resolved to.
    pub fn may_resolve(&self, imsi: &Imsi, name: &str) -> bool {
        let Some(sub) = lock(&self.cache).get(imsi).cloned() else { return false };
        sub.allows_name(name)
    }

    /// Waits until every RAR and release sent so far has its answer (or gave up), then until every
    /// session change queued so far is stored. Used at shutdown, and by tests.
    pub async fn settle(&self) {
        self.tasks.close();
        self.tasks.wait().await;
        self.tasks.reopen();
        self.flush_usage(false);
        self.flush().await;
    }

    /// Hands the usage summed so far to the writer: when `bounded`, only as much as
    /// [`MAX_PENDING_WRITES`] leaves room for (the rest waits for the next sweep).
    pub(crate) fn flush_usage(&self, bounded: bool) {
        let room =
            if bounded { MAX_PENDING_WRITES.saturating_sub(self.pending.load(Ordering::Acquire)) } else { usize::MAX };
        let changes = lock(&self.usage).take(room);
        self.counters.usage_rows.fetch_add(changes.len() as u64, Ordering::Relaxed);
        for c in changes {
            self.write(c);
        }
    }

    /// Adds a usage report to its SIM-hour ([`usage`]); counted in `usage_dropped` when it cannot be.
    pub(crate) fn add_usage(&self, imsi: &Imsi, tenant: &str, hour: i64, up: i64, down: i64) {
        if !lock(&self.usage).add(imsi, tenant, hour, up, down) {
            bump(&self.counters.usage_dropped);
        }
    }

    /// A change was announced: policies read before now are of an older generation.
    pub(crate) fn invalidate(&self) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
    }

    /// The policy generation now.
    pub(crate) fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::SeqCst)
    }

    /// Waits until every change queued so far is stored.
    pub(crate) async fn flush(&self) {
        let (tx, rx) = tokio::sync::oneshot::channel();
        if self.writer.send(Write::Flush(tx)).is_ok() {
            let _ = rx.await;
        }
    }

    /// The counters.
    pub fn counters(&self) -> PcrfCounters {
        let c = &self.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        PcrfCounters {
            sessions: lock(&self.sessions).len(),
            ccr_initial: get(&c.ccr_initial),
            ccr_update: get(&c.ccr_update),
            ccr_termination: get(&c.ccr_termination),
            rar_sent: get(&c.rar_sent),
            rar_failed: get(&c.rar_failed),
            asr: get(&c.asr),
            rate_limited: get(&c.rate_limited),
            pending_writes: self.pending.load(Ordering::Acquire),
            refused_imsi: get(&c.refused_imsi),
            fail_open: get(&c.fail_open),
            rule_failures: get(&c.rule_failures),
            session_cap_refused: get(&c.session_cap_refused),
            unconfirmed: self.unconfirmed_count(),
            usage_dropped: get(&c.usage_dropped),
            usage_rows: get(&c.usage_rows),
            resyncs: get(&c.resyncs),
            expiry_pushes: get(&c.expiry_pushes),
        }
    }

    /// Queues a change for the store.
    pub(crate) fn write(&self, change: store::traffic::GxChange) {
        self.pending.fetch_add(1, Ordering::AcqRel);
        if self.writer.send(Write::Change(change)).is_err() {
            self.pending.fetch_sub(1, Ordering::AcqRel);
            tracing::error!("the Gx session writer stopped; change not stored");
        }
    }

    /// The SIM's policy, from the cache unless `fresh`, older than [`CACHE_TTL`] or read under an
    /// older policy generation; `None` for an IMSI that is not provisioned.
    pub(crate) async fn subscriber(&self, imsi: &Imsi, fresh: bool) -> store::Result<Option<Arc<Subscriber>>> {
        if !fresh {
            let epoch = self.epoch();
            let cached =
                lock(&self.cache).get(imsi).filter(|s| s.loaded.elapsed() < CACHE_TTL && s.epoch == epoch).cloned();
            if cached.is_some() {
                return Ok(cached);
            }
        }
        let sub = self.read_subscriber(imsi).await?;
        match &sub {
            Some(s) => self.remember(imsi, s),
            None => {
                lock(&self.cache).remove(imsi);
            }
        }
        Ok(sub)
    }

    /// The SIM's policy read from the store, stamped with the policy generation of before the read.
    pub(crate) async fn read_subscriber(&self, imsi: &Imsi) -> store::Result<Option<Arc<Subscriber>>> {
        let epoch = self.epoch();
        let Some((sim, own)) = self.store.sim_with_policy(imsi).await? else { return Ok(None) };
        let profile = match &sim.profile {
            Some(name) => self.profile(name, epoch).await?,
            None => None,
        };
        let policy = cmp::traffic::effective(&sim, profile.as_deref(), own.as_ref());
        Ok(Some(Arc::new(Subscriber {
            tenant: sim.tenant.clone(),
            priority: sim.priority,
            profile_name: sim.profile.clone(),
            domains: Arc::from(policy.allow_domains.clone()),
            profile,
            policy,
            loaded: Instant::now(),
            epoch,
            compiled: Mutex::new(None),
        })))
    }

    /// The service profile `name`, from the cache when it was read under the current policy
    /// generation `epoch`, else from the store (and cached, stamped with `epoch`, unless a read under
    /// a later generation is there already).
    async fn profile(&self, name: &str, epoch: u64) -> store::Result<Option<Arc<store::model::ServiceProfile>>> {
        if let Some((e, p)) = lock(&self.profiles).get(name) {
            if *e == epoch {
                return Ok(p.clone());
            }
        }
        let read = self.store.profile(name).await?.map(Arc::new);
        let mut profiles = lock(&self.profiles);
        if profiles.len() >= MAX_CACHED_PROFILES {
            profiles.clear();
        }
        if profiles.get(name).is_none_or(|(e, _)| *e <= epoch) {
            profiles.insert(name.to_string(), (epoch, read.clone()));
        }
        Ok(read)
    }

    /// Caches a policy read by [`Pcrf::read_subscriber`], unless one read under a later policy
    /// generation is cached already: a read that began before a change was announced may predate
    /// it, and must not overwrite what the change's own push read. Such a read is still cached when
    /// nothing newer is (the DNS firewall's view until the push reads again), but stamped with its
    /// generation, which CCR-Initial does not take from the cache ([`Pcrf::subscriber`]).
    pub(crate) fn remember(&self, imsi: &Imsi, sub: &Arc<Subscriber>) {
        let full = lock(&self.cache).len() >= MAX_CACHED;
        if full {
            let with_sessions: std::collections::HashSet<Imsi> = lock(&self.sessions).imsis().into_iter().collect();
            lock(&self.cache).retain(|i, _| with_sessions.contains(i));
        }
        let mut cache = lock(&self.cache);
        if cache.get(imsi).is_some_and(|c| c.epoch > sub.epoch) {
            return;
        }
        cache.insert(imsi.clone(), sub.clone());
    }

    /// A PCEF announced `state` as its Origin-State-Id: the sessions it began under another one are
    /// gone (RFC 6733 §8.16), here and in the store.
    pub(crate) fn pcef_restarted(&self, host: &str, state: u32) {
        let stale = {
            let mut sessions = lock(&self.sessions);
            let key = session::host_key(host);
            // The same state as before (every CCR that carries it): nothing to look up or allocate.
            if sessions.pcef_states.get(key.as_ref()) == Some(&state) {
                return;
            }
            sessions.pcef_states.insert(key.into_owned(), state);
            sessions.remove_stale(host, state)
        };
        if !stale.is_empty() {
            tracing::info!(pcef = %host, state, sessions = stale.len(), "PCEF restarted; its earlier sessions are dropped");
        }
        for s in stale {
            self.settled(&s.id);
            self.write(store::traffic::GxChange::Delete(s.id.to_string()));
        }
    }
}

impl Handler for Pcrf {
    async fn handle(&self, request: Message, peer: PeerHandle) -> Option<Message> {
        Some(self.dispatch(request, &peer).await)
    }

    fn peer_open(&self, peer: PeerHandle) {
        Pcrf::peer_open(self, peer);
    }

    fn peer_closed(&self, remote: Option<&diameter::peer::Capabilities>, _reason: &diameter::peer::CloseReason) {
        Pcrf::peer_closed(self, remote);
    }
}
