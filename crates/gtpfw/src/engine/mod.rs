//! The screening engine, sans-IO: [`Engine::uplink`] takes one datagram from a partner (its source
//! address and the time) and decides — relay to the P-GW, answer the partner, or drop;
//! [`Engine::downlink`] does the same for a datagram of the P-GW toward a partner and learns from
//! it (tunnels created and deleted). The engine reads no clock: every call is given a [`Now`].
//!
//! State: requests waiting for their response (by peer, direction and sequence number, expiring),
//! the tunnel table (by the P-GW's control-plane TEID, with the partner that created it) and its
//! index by the S-GW's TEID, per-IMSI set-up budgets — all split into shards by a hash of their
//! key, each under its own lock, so that two threads screening messages of different tunnels do
//! not wait for each other; per partner (outside the shards): counts of requests waiting and
//! tunnels held (atomics), its set-up budget and Overload Control Information (small locks of
//! their own); partners' restart counters (a lock taken only for messages with a Recovery IE; a changed
//! one scans the shards); and the priority door in front of the P-GW (the Diameter firewall's
//! admission, [`firewall::engine::Bucket`] and [`firewall::engine::priority_floor`]), one small
//! lock. Every decision is counted without a lock ([`crate::observe::Decisions`]).

mod downlink;
mod overload;
mod refusal;
mod uplink;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::{Duration, Instant, SystemTime};

use firewall::engine::{priority_floor, Bucket};
use firewall::rules::{ImsiKey, Mode};
use firewall::{Action, Now, Priority, PriorityLookup};
use gtpc::Plmn;

use crate::observe::Observer;
use crate::rules::{Partner, Rule, Rules};

/// Where a subscriber is registered by S6a: the visited PLMN and since when. Implemented by
/// `warden` from the store's serving node; called on the request path, it must answer from memory
/// or quickly.
pub trait RegistrationLookup: Send + Sync {
    /// The subscriber's current registration, by IMSI digits; `None`: not registered.
    fn registration(&self, imsi: &str) -> Option<(Plmn, SystemTime)>;
}

/// Whether a SIM's profile allows an APN (its network identifier, lower case, without the operator
/// identifier). `None`: the profile is unknown, the check passes.
pub trait ApnLookup: Send + Sync {
    /// Whether the APN is allowed.
    fn apn_allowed(&self, imsi: &str, apn: &str) -> Option<bool>;
}

/// The subscriber views behind the lookups, when they live in a store that is slow to read: the
/// engine asks [`SubscriberCache::cached`] before it screens a set-up (Create Session / Create PDP
/// Context) of a home subscriber, and when the view is not in memory it answers [`Verdict::Park`]
/// instead of waiting: the caller loads the view ([`SubscriberCache::load`]) off the receive path
/// and screens the parked datagram again with [`Engine::uplink_resumed`] (or refuses it with
/// [`Engine::lookup_failed`] when the load takes too long). Without a cache the lookups are called
/// directly and must answer from memory.
pub trait SubscriberCache: Send + Sync {
    /// Whether the lookups answer this subscriber from memory now (read recently enough).
    fn cached(&self, imsi: &str) -> bool;
    /// Reads the subscriber's view into memory.
    fn load(&self, imsi: &str) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + 'static>>;
}

/// What to do with a datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Relay it on (to the P-GW for [`Engine::uplink`], to the partner for [`Engine::downlink`]):
    /// `None` the bytes as they came, `Some` these bytes instead (a documented change: Overload
    /// Control Information added).
    Relay(Option<Vec<u8>>),
    /// Send this response back to where the datagram came from instead.
    Answer(Vec<u8>),
    /// Discard it.
    Drop,
    /// The subscriber with these IMSI digits is not in the [`SubscriberCache`]: load it, then call
    /// [`Engine::uplink_resumed`] with the same datagram (nothing was counted or changed yet).
    Park(String),
}

/// A decision: the verdict and the rule that made it ([`Rule::Relay`] when none matched).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// What to do.
    pub verdict: Verdict,
    /// Why.
    pub rule: Rule,
}

impl Decision {
    fn relay() -> Decision {
        Decision { verdict: Verdict::Relay(None), rule: Rule::Relay }
    }
    fn drop(rule: Rule) -> Decision {
        Decision { verdict: Verdict::Drop, rule }
    }
}

/// Which way a request went, for matching its response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Dir {
    /// Partner to P-GW.
    Up,
    /// P-GW to partner.
    Down,
}

#[derive(Debug, Clone)]
struct Pending {
    message_type: u8,
    expires: Instant,
    /// The partner that sent it.
    state: Arc<PartnerState>,
    imsi: Option<ImsiKey>,
    priority: Priority,
    /// The tunnel a Delete Session Request (or a P-GW's Delete Bearer Request for the default
    /// bearer) names: the P-GW's TEID; 0 for none.
    teid: u32,
    /// Create Session: the S-GW's control-plane TEID and the default bearer's EBI, kept with the
    /// tunnel so that the P-GW's Delete Bearer Request for that bearer is recognised.
    sgw: (u32, u8),
}

impl Pending {
    /// The tunnel an accepted Create Session / Create PDP Context Response to this request creates
    /// for the partner node `peer`.
    fn tunnel(&self, peer: SocketAddr) -> Tunnel {
        Tunnel {
            partner: self.state.name.clone(),
            state: self.state.clone(),
            peer,
            imsi: self.imsi,
            priority: self.priority,
            sgw_teid: self.sgw.0,
            default_ebi: self.sgw.1,
        }
    }
}

/// A PDN connection (GTPv2) or PDP context (GTPv1) at the P-GW, by the P-GW's control-plane TEID.
#[derive(Debug, Clone)]
pub struct Tunnel {
    /// The partner that created it.
    pub partner: Arc<str>,
    /// The partner node's address.
    pub peer: SocketAddr,
    /// The subscriber.
    pub imsi: Option<ImsiKey>,
    /// Its priority.
    pub priority: Priority,
    /// The S-GW's control-plane TEID (the header TEID of the P-GW's requests on this tunnel).
    pub sgw_teid: u32,
    /// The default bearer's EPS Bearer ID (0: not known).
    pub default_ebi: u8,
    /// The partner's counts (the tunnel is counted there while it is held).
    state: Arc<PartnerState>,
}

/// Shards of the per-message state: a TEID, a pending request's key, an S-GW TEID's index entry
/// and an IMSI budget each belong to one shard by hash, so that messages of different tunnels are
/// screened in parallel. No code path holds two shard locks at once.
const SHARDS: usize = 16;

/// The shard of a hashed key (Fibonacci hashing: the top bits of the product).
fn shard_of(x: u64) -> usize {
    (x.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - SHARDS.trailing_zeros())) as usize
}

fn peer_bits(peer: SocketAddr) -> u64 {
    let ip = match peer.ip() {
        std::net::IpAddr::V4(a) => u64::from(u32::from(a)),
        std::net::IpAddr::V6(a) => {
            let x = u128::from(a);
            (x as u64) ^ ((x >> 64) as u64)
        }
    };
    ip.rotate_left(16) ^ u64::from(peer.port())
}

/// A table of a shard: hashed with foldhash, seeded at random per table (SipHash, the default,
/// was a fifth of the proxy's CPU time per message; foldhash is meant to resist flooding too).
type Table<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// One shard: the part of each table whose keys hash to it.
#[derive(Debug, Default)]
struct Shard {
    pending: Table<(SocketAddr, Dir, u32), Pending>,
    tunnels: Table<u32, Tunnel>,
    /// The P-GW's TEID by partner node and S-GW TEID (sharded by that key, not by the TEID).
    by_sgw: Table<(SocketAddr, u32), u32>,
    imsi_budget: Table<ImsiKey, Bucket>,
}

/// What one partner holds across the shards, kept by name across rule reloads: counts (atomics,
/// reserved with a compare-and-swap against their maximum, so exact under concurrency), its set-up
/// budget and its Overload Control Information (small locks of their own), and its decision
/// counters.
#[derive(Debug)]
pub(crate) struct PartnerState {
    name: Arc<str>,
    pending: AtomicUsize,
    tunnels: AtomicUsize,
    /// Whether it ever held a tunnel (its gauge is published from then on).
    had_tunnels: AtomicBool,
    budget: Mutex<Option<Bucket>>,
    oci: Mutex<overload::PartnerOci>,
    decisions: Arc<crate::observe::Decisions>,
}

impl PartnerState {
    /// Takes one of `max` places of `count`; `false` when all are taken.
    fn reserve(count: &AtomicUsize, max: usize) -> bool {
        count.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < max).then_some(n + 1)).is_ok()
    }

    fn release(count: &AtomicUsize) {
        let _ = count.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| Some(n.saturating_sub(1)));
    }
}

/// The priority door in front of the P-GW and the offered-rate estimate behind the overload
/// reduction: one per engine, under a small lock of its own.
#[derive(Debug)]
struct Door {
    bucket: Bucket,
    offered_rate: f64,
    rate_at: Instant,
}

/// The rules in force with each partner's state (same index as `rules.partners`).
struct Loaded {
    rules: Arc<Rules>,
    partners: Vec<Arc<PartnerState>>,
}

/// The screening engine and its state.
pub struct Engine {
    loaded: RwLock<Arc<Loaded>>,
    shards: Box<[Mutex<Shard>]>,
    /// Every partner's state by name (also the ones no longer in the rules, whose tunnels remain).
    partner_states: Mutex<HashMap<Arc<str>, Arc<PartnerState>>>,
    /// Partners' restart counters by node (rarely changed: its lock is taken before any shard's).
    restart: Mutex<HashMap<SocketAddr, u8>>,
    door: Mutex<Door>,
    reduction: AtomicU8,
    last_sweep: Mutex<Instant>,
    registrations: RwLock<Option<Arc<dyn RegistrationLookup>>>,
    apns: RwLock<Option<Arc<dyn ApnLookup>>>,
    priorities: RwLock<Option<Arc<dyn PriorityLookup>>>,
    cache: RwLock<Option<Arc<dyn SubscriberCache>>>,
    /// Counters and events.
    pub observer: Observer,
    unknown: Arc<crate::observe::Decisions>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").field("tunnels", &self.tunnel_count()).finish_non_exhaustive()
    }
}

/// Time constant of the offered-rate estimate behind the overload reduction.
const RATE_WINDOW: Duration = Duration::from_millis(500);

impl Engine {
    /// An engine with these rules, its door full at `now`.
    pub fn new(rules: Rules, now: Instant) -> Engine {
        let door = Door { bucket: Bucket { tokens: rules.burst, refilled: now }, offered_rate: 0.0, rate_at: now };
        let observer = Observer::default();
        let unknown = observer.decisions(&Arc::from(crate::observe::UNKNOWN_PARTNER));
        let engine = Engine {
            loaded: RwLock::new(Arc::new(Loaded { rules: Arc::new(rules), partners: vec![] })),
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            partner_states: Mutex::new(HashMap::new()),
            restart: Mutex::new(HashMap::new()),
            door: Mutex::new(door),
            reduction: AtomicU8::new(0),
            last_sweep: Mutex::new(now),
            registrations: RwLock::new(None),
            apns: RwLock::new(None),
            priorities: RwLock::new(None),
            cache: RwLock::new(None),
            observer,
            unknown,
        };
        let rules = engine.rules();
        let partners = rules.partners.iter().map(|p| engine.partner_state(&p.name)).collect();
        *engine.loaded.write().expect("rules") = Arc::new(Loaded { rules, partners });
        engine
    }

    /// The rules in force.
    pub fn rules(&self) -> Arc<Rules> {
        self.loaded().rules.clone()
    }

    fn loaded(&self) -> Arc<Loaded> {
        self.loaded.read().expect("rules").clone()
    }

    /// Replaces the rules (hot reload); state is kept (a partner's by its name).
    pub fn set_rules(&self, rules: Rules) {
        let partners = rules.partners.iter().map(|p| self.partner_state(&p.name)).collect();
        *self.loaded.write().expect("rules") = Arc::new(Loaded { rules: Arc::new(rules), partners });
    }

    /// The state of the partner called `name`, created on first use.
    fn partner_state(&self, name: &Arc<str>) -> Arc<PartnerState> {
        self.partner_states
            .lock()
            .expect("partners")
            .entry(name.clone())
            .or_insert_with(|| {
                Arc::new(PartnerState {
                    name: name.clone(),
                    pending: AtomicUsize::new(0),
                    tunnels: AtomicUsize::new(0),
                    had_tunnels: AtomicBool::new(false),
                    budget: Mutex::new(None),
                    oci: Mutex::new(overload::PartnerOci::default()),
                    decisions: self.observer.decisions(name),
                })
            })
            .clone()
    }

    /// Takes S6a registrations from `lookup`. Without one the registration check is skipped.
    pub fn set_registration_lookup(&self, lookup: Arc<dyn RegistrationLookup>) {
        *self.registrations.write().expect("lookup") = Some(lookup);
    }

    /// Takes SIM profiles' APNs from `lookup`. Without one the APN check is skipped.
    pub fn set_apn_lookup(&self, lookup: Arc<dyn ApnLookup>) {
        *self.apns.write().expect("lookup") = Some(lookup);
    }

    /// Takes device priorities from `lookup` (falling back to `[gtp.priority]`).
    pub fn set_priority_lookup(&self, lookup: Arc<dyn PriorityLookup>) {
        *self.priorities.write().expect("lookup") = Some(lookup);
    }

    /// Parks set-ups of subscribers `cache` does not hold ([`Verdict::Park`]).
    pub fn set_subscriber_cache(&self, cache: Arc<dyn SubscriberCache>) {
        *self.cache.write().expect("lookup") = Some(cache);
    }

    /// The subscriber cache, if any.
    pub fn subscriber_cache(&self) -> Option<Arc<dyn SubscriberCache>> {
        self.cache.read().expect("lookup").clone()
    }

    /// Whether a set-up of `imsi` must wait for its view: a cache is set and does not hold it.
    fn must_park(&self, imsi: &str) -> bool {
        self.cache.read().expect("lookup").as_ref().is_some_and(|c| !c.cached(imsi))
    }

    /// Tunnels held now.
    pub fn tunnel_count(&self) -> usize {
        self.shards.iter().map(|sh| sh.lock().expect("shard").tunnels.len()).sum()
    }

    /// The tunnel with this P-GW TEID.
    pub fn tunnel(&self, teid: u32) -> Option<Tunnel> {
        self.tunnel_shard(teid).tunnels.get(&teid).cloned()
    }

    /// Requests waiting for a response now.
    pub fn pending_count(&self) -> usize {
        self.shards.iter().map(|sh| sh.lock().expect("shard").pending.len()).sum()
    }

    /// The P-GW's overload reduction (percent of the offered load above its capacity) now; each
    /// partner is told at least this much (see `overload`).
    pub fn reduction(&self) -> u8 {
        self.reduction.load(Ordering::Relaxed)
    }

    /// Forgets requests whose response did not come in time (call every second or so; also done
    /// when a partner's pending requests reach their maximum).
    pub fn expire(&self, now: Instant) {
        *self.last_sweep.lock().expect("sweep") = now;
        for shard in self.shards.iter() {
            shard.lock().expect("shard").pending.retain(|_, p| {
                let keep = p.expires > now;
                if !keep {
                    PartnerState::release(&p.state.pending);
                }
                keep
            });
        }
    }

    fn priority_of(&self, rules: &Rules, imsi: &str) -> Priority {
        self.priorities
            .read()
            .expect("lookup")
            .as_ref()
            .and_then(|l| l.priority(imsi))
            .unwrap_or_else(|| rules.priority(imsi))
    }

    /// Applies a rule's mode: `true` when the request is to be refused, counting a detection otherwise.
    fn enforced(&self, rules: &Rules, partner: &PartnerState, rule: Rule, imsi: Option<ImsiKey>, now: Now) -> bool {
        match rules.mode(rule) {
            Mode::Enforce => true,
            Mode::Detect => {
                self.observer.record_in(&partner.decisions, rule, Action::Detected, imsi, now.wall);
                false
            }
            Mode::Off => false,
        }
    }

    fn shard(&self, i: usize) -> MutexGuard<'_, Shard> {
        self.shards[i].lock().expect("shard")
    }

    fn tunnel_shard(&self, teid: u32) -> MutexGuard<'_, Shard> {
        self.shard(shard_of(u64::from(teid)))
    }

    fn pending_shard(&self, key: &(SocketAddr, Dir, u32)) -> MutexGuard<'_, Shard> {
        self.shard(shard_of(peer_bits(key.0) ^ (u64::from(key.2) << 24)))
    }

    fn index_shard(&self, peer: SocketAddr, sgw_teid: u32) -> MutexGuard<'_, Shard> {
        self.shard(shard_of(peer_bits(peer) ^ (u64::from(sgw_teid) << 24)))
    }

    /// Removes the pending request with this key: it, if it had not expired.
    fn take_pending(&self, key: (SocketAddr, Dir, u32), now: Instant) -> Option<Pending> {
        let p = self.pending_shard(&key).pending.remove(&key)?;
        PartnerState::release(&p.state.pending);
        (p.expires > now).then_some(p)
    }

    /// Records a request; `false` when its partner has its maximum waiting (after forgetting the
    /// expired ones).
    fn add_pending(&self, rules: &Rules, key: (SocketAddr, Dir, u32), p: Pending, now: Instant) -> bool {
        let count = &p.state.pending;
        let mut shard = self.pending_shard(&key);
        if PartnerState::reserve(count, rules.max_pending) {
            // One probe of the table: a retransmission (same peer and sequence number, TS 29.274
            // §7.6) replaces the original.
            if let Some(old) = shard.pending.insert(key, p) {
                PartnerState::release(&old.state.pending);
            }
            return true;
        }
        // At the maximum: the original of a retransmission makes room first.
        if let Some(old) = shard.pending.remove(&key) {
            PartnerState::release(&old.state.pending);
        }
        if !PartnerState::reserve(count, rules.max_pending) {
            drop(shard);
            if now <= *self.last_sweep.lock().expect("sweep") {
                return false;
            }
            self.expire(now);
            if !PartnerState::reserve(count, rules.max_pending) {
                return false;
            }
            shard = self.pending_shard(&key);
        }
        if let Some(old) = shard.pending.insert(key, p) {
            // The same request again from another thread in the meantime.
            PartnerState::release(&old.state.pending);
        }
        true
    }

    fn add_tunnel(&self, teid: u32, t: Tunnel) {
        let key = (t.peer, t.sgw_teid);
        PartnerState::reserve(&t.state.tunnels, usize::MAX);
        t.state.had_tunnels.store(true, Ordering::Relaxed);
        // A TEID the P-GW hands out again replaces the tunnel it named.
        let old = self.tunnel_shard(teid).tunnels.insert(teid, t);
        if let Some(old) = old {
            self.forget(teid, &old);
        }
        self.index_shard(key.0, key.1).by_sgw.insert(key, teid);
    }

    fn remove_tunnel(&self, teid: u32) -> Option<Tunnel> {
        let t = self.tunnel_shard(teid).tunnels.remove(&teid)?;
        self.forget(teid, &t);
        Some(t)
    }

    /// A tunnel taken out of its shard: uncounted, and out of the S-GW TEID index.
    fn forget(&self, teid: u32, t: &Tunnel) {
        PartnerState::release(&t.state.tunnels);
        let mut index = self.index_shard(t.peer, t.sgw_teid);
        if index.by_sgw.get(&(t.peer, t.sgw_teid)) == Some(&teid) {
            index.by_sgw.remove(&(t.peer, t.sgw_teid));
        }
    }

    /// The P-GW's TEID of the tunnel whose S-GW side is `sgw_teid` at `peer`, and its default
    /// bearer's EBI.
    fn by_sgw(&self, peer: SocketAddr, sgw_teid: u32) -> Option<(u32, u8)> {
        let pgw = *self.index_shard(peer, sgw_teid).by_sgw.get(&(peer, sgw_teid))?;
        let ebi = self.tunnel_shard(pgw).tunnels.get(&pgw).map_or(0, |t| t.default_ebi);
        Some((pgw, ebi))
    }

    /// A peer's restart counter: when it changed, the peer lost its tunnels (TS 23.007 §16.1.1), so
    /// they are dropped here too (every shard is scanned). Returns how many.
    fn restart_counter(&self, peer: SocketAddr, counter: u8) -> usize {
        let mut restart = self.restart.lock().expect("restart");
        match restart.insert(peer, counter) {
            Some(old) if old != counter => {
                let mut gone = Vec::new();
                for i in 0..SHARDS {
                    let mut shard = self.shard(i);
                    let teids: Vec<u32> =
                        shard.tunnels.iter().filter(|(_, t)| t.peer == peer).map(|(k, _)| *k).collect();
                    gone.extend(teids.into_iter().filter_map(|teid| Some((teid, shard.tunnels.remove(&teid)?))));
                }
                for (teid, t) in &gone {
                    self.forget(*teid, t);
                }
                gone.len()
            }
            _ => 0,
        }
    }

    /// Priority admission at the P-GW's door (critical first, work-conserving), also keeping the
    /// offered rate and the overload reduction up to date.
    fn admit(&self, rules: &Rules, p: Priority, now: Instant) -> bool {
        let mut door = self.door.lock().expect("door");
        let dt = now.saturating_duration_since(door.rate_at).as_secs_f64();
        let tau = RATE_WINDOW.as_secs_f64();
        door.offered_rate = door.offered_rate * (-dt / tau).exp() + 1.0 / tau;
        door.rate_at = now;
        self.reduction.store(overload::shed_share(door.offered_rate, rules.capacity), Ordering::Relaxed);
        door.bucket.refill(rules.door_rate(), rules.burst, now);
        if door.bucket.tokens >= priority_floor(p, rules.reserve, rules.low_headroom) {
            door.bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// The partner's set-up budget: one token taken (the bucket is created full), `false` when it
    /// is empty.
    fn spend_partner(&self, partner: &Partner, state: &PartnerState, now: Instant) -> bool {
        let mut b = state.budget.lock().expect("budget");
        let b = b.get_or_insert(Bucket { tokens: partner.setup_rate, refilled: now });
        spend(b, partner.setup_rate, partner.setup_rate, now)
    }

    /// The subscriber's set-up budget: one token taken, `false` when it is empty. Buckets that
    /// refilled completely are forgotten (as good as new) when a shard holds its share of
    /// `max_subscribers`.
    fn spend_imsi(&self, rules: &Rules, key: ImsiKey, now: Instant) -> bool {
        let (rate, burst) = rules.imsi_rate;
        let mut shard = self.shard(shard_of(key));
        if shard.imsi_budget.len() >= rules.max_subscribers.div_ceil(SHARDS) {
            shard.imsi_budget.retain(|_, b| now.saturating_duration_since(b.refilled).as_secs_f64() * rate < burst);
        }
        let b = shard.imsi_budget.entry(key).or_insert(Bucket { tokens: burst, refilled: now });
        spend(b, rate, burst, now)
    }

    /// Sets the gauges in the metrics facade: tunnels per partner, overload reduction.
    pub fn publish_gauges(&self) {
        let partners = self.partner_states.lock().expect("partners");
        for (partner, state) in partners.iter().filter(|(_, s)| s.had_tunnels.load(Ordering::Relaxed)) {
            let n = state.tunnels.load(Ordering::Relaxed);
            metrics::gauge!(crate::observe::TUNNELS, "partner" => partner.to_string()).set(n as f64);
        }
        metrics::gauge!(crate::observe::REDUCTION).set(f64::from(self.reduction()));
    }
}

/// Takes one token of a budget bucket; `false` when it is empty.
fn spend(bucket: &mut Bucket, rate: f64, burst: f64, now: Instant) -> bool {
    bucket.refill(rate, burst, now);
    if bucket.tokens >= 1.0 {
        bucket.tokens -= 1.0;
        true
    } else {
        false
    }
}

impl Engine {
    /// The firewall's Overload Control Information for a response to `partner` now, if any.
    fn oci_now(
        &self,
        rules: &Rules,
        partner: &Partner,
        state: &PartnerState,
        now: Now,
    ) -> Option<gtpc::v2::values::OverloadControl> {
        state.oci.lock().expect("oci").oci_now(self.reduction(), rules, partner, now)
    }
}
