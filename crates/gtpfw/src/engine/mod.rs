//! The screening engine, sans-IO: [`Engine::uplink`] takes one datagram from a partner (its source
//! address and the time) and decides — relay to the P-GW, answer the partner, or drop;
//! [`Engine::downlink`] does the same for a datagram of the P-GW toward a partner and learns from
//! it (tunnels created and deleted). The engine reads no clock: every call is given a [`Now`].
//!
//! State, under one lock: requests waiting for their response (by peer, direction and sequence
//! number, expiring), the tunnel table (by the P-GW's control-plane TEID, with the partner that
//! created it), partners' restart counters, per-partner and per-IMSI set-up budgets, and the
//! priority door in front of the P-GW (the Diameter firewall's admission, [`firewall::engine::Bucket`]
//! and [`firewall::engine::priority_floor`]).

mod downlink;
mod overload;
mod refusal;
mod uplink;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime};

use firewall::engine::{priority_floor, Bucket};
use firewall::rules::{ImsiKey, Mode};
use firewall::{Action, Now, Priority, PriorityLookup};
use gtpc::Plmn;

use crate::observe::Observer;
use crate::rules::{Rule, Rules};

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
    partner: Arc<str>,
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
            partner: self.partner.clone(),
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
}

#[derive(Debug)]
struct State {
    pending: HashMap<(SocketAddr, Dir, u32), Pending>,
    pending_per_partner: HashMap<Arc<str>, usize>,
    tunnels: HashMap<u32, Tunnel>,
    /// The P-GW's TEID by partner node and S-GW TEID.
    by_sgw: HashMap<(SocketAddr, u32), u32>,
    tunnels_per_partner: HashMap<Arc<str>, usize>,
    restart: HashMap<SocketAddr, u8>,
    partner_budget: HashMap<Arc<str>, Bucket>,
    imsi_budget: HashMap<ImsiKey, Bucket>,
    door: Bucket,
    offered_rate: f64,
    rate_at: Instant,
    reduction: u8,
    /// Overload Control Information per partner (see `overload`).
    oci: HashMap<Arc<str>, overload::PartnerOci>,
    last_sweep: Instant,
}

/// The screening engine and its state.
pub struct Engine {
    rules: RwLock<Arc<Rules>>,
    state: Mutex<State>,
    registrations: RwLock<Option<Arc<dyn RegistrationLookup>>>,
    apns: RwLock<Option<Arc<dyn ApnLookup>>>,
    priorities: RwLock<Option<Arc<dyn PriorityLookup>>>,
    cache: RwLock<Option<Arc<dyn SubscriberCache>>>,
    /// Counters and events.
    pub observer: Observer,
    unknown: Arc<str>,
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
        let door = Bucket { tokens: rules.burst, refilled: now };
        Engine {
            rules: RwLock::new(Arc::new(rules)),
            state: Mutex::new(State {
                pending: HashMap::new(),
                pending_per_partner: HashMap::new(),
                tunnels: HashMap::new(),
                by_sgw: HashMap::new(),
                tunnels_per_partner: HashMap::new(),
                restart: HashMap::new(),
                partner_budget: HashMap::new(),
                imsi_budget: HashMap::new(),
                door,
                offered_rate: 0.0,
                rate_at: now,
                reduction: 0,
                oci: HashMap::new(),
                last_sweep: now,
            }),
            registrations: RwLock::new(None),
            apns: RwLock::new(None),
            priorities: RwLock::new(None),
            cache: RwLock::new(None),
            observer: Observer::default(),
            unknown: crate::observe::UNKNOWN_PARTNER.into(),
        }
    }

    /// The rules in force.
    pub fn rules(&self) -> Arc<Rules> {
        self.rules.read().expect("rules").clone()
    }

    /// Replaces the rules (hot reload); state is kept.
    pub fn set_rules(&self, rules: Rules) {
        *self.rules.write().expect("rules") = Arc::new(rules);
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
        self.state.lock().expect("state").tunnels.len()
    }

    /// The tunnel with this P-GW TEID.
    pub fn tunnel(&self, teid: u32) -> Option<Tunnel> {
        self.state.lock().expect("state").tunnels.get(&teid).cloned()
    }

    /// Requests waiting for a response now.
    pub fn pending_count(&self) -> usize {
        self.state.lock().expect("state").pending.len()
    }

    /// The P-GW's overload reduction (percent of the offered load above its capacity) now; each
    /// partner is told at least this much (see `overload`).
    pub fn reduction(&self) -> u8 {
        self.state.lock().expect("state").reduction
    }

    /// Forgets requests whose response did not come in time (call every second or so; also done
    /// when a partner's pending requests reach their maximum).
    pub fn expire(&self, now: Instant) {
        let mut st = self.state.lock().expect("state");
        sweep(&mut st, now);
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
    fn enforced(&self, rules: &Rules, partner: &Arc<str>, rule: Rule, imsi: Option<ImsiKey>, now: Now) -> bool {
        match rules.mode(rule) {
            Mode::Enforce => true,
            Mode::Detect => {
                self.observer.record(partner, rule, Action::Detected, imsi, now.wall);
                false
            }
            Mode::Off => false,
        }
    }
}

fn sweep(st: &mut State, now: Instant) {
    st.last_sweep = now;
    let State { pending, pending_per_partner, .. } = st;
    pending.retain(|_, p| {
        let keep = p.expires > now;
        if !keep {
            if let Some(n) = pending_per_partner.get_mut(&p.partner) {
                *n = n.saturating_sub(1);
            }
        }
        keep
    });
}

impl State {
    fn take_pending(&mut self, key: (SocketAddr, Dir, u32), now: Instant) -> Option<Pending> {
        let p = self.pending.remove(&key)?;
        if let Some(n) = self.pending_per_partner.get_mut(&p.partner) {
            *n = n.saturating_sub(1);
        }
        (p.expires > now).then_some(p)
    }

    /// Records a request; `false` when the partner has its maximum waiting (after forgetting the
    /// expired ones).
    fn add_pending(&mut self, rules: &Rules, key: (SocketAddr, Dir, u32), p: Pending, now: Instant) -> bool {
        if let Some(old) = self.pending.remove(&key) {
            // A retransmission (same peer and sequence number, TS 29.274 §7.6) replaces the original.
            if let Some(n) = self.pending_per_partner.get_mut(&old.partner) {
                *n = n.saturating_sub(1);
            }
        }
        let mut n = self.pending_per_partner.get(&p.partner).copied().unwrap_or(0);
        if n >= rules.max_pending && now > self.last_sweep {
            sweep(self, now);
            n = self.pending_per_partner.get(&p.partner).copied().unwrap_or(0);
        }
        if n >= rules.max_pending {
            return false;
        }
        *self.pending_per_partner.entry(p.partner.clone()).or_insert(0) += 1;
        self.pending.insert(key, p);
        true
    }

    fn add_tunnel(&mut self, teid: u32, t: Tunnel) {
        // A TEID the P-GW hands out again replaces the tunnel it named.
        self.remove_tunnel(teid);
        self.by_sgw.insert((t.peer, t.sgw_teid), teid);
        *self.tunnels_per_partner.entry(t.partner.clone()).or_insert(0) += 1;
        self.tunnels.insert(teid, t);
    }

    fn remove_tunnel(&mut self, teid: u32) -> Option<Tunnel> {
        let t = self.tunnels.remove(&teid)?;
        if let Some(n) = self.tunnels_per_partner.get_mut(&t.partner) {
            *n = n.saturating_sub(1);
        }
        if self.by_sgw.get(&(t.peer, t.sgw_teid)) == Some(&teid) {
            self.by_sgw.remove(&(t.peer, t.sgw_teid));
        }
        Some(t)
    }

    /// A peer's restart counter: when it changed, the peer lost its tunnels (TS 23.007 §16.1.1), so
    /// they are dropped here too. Returns how many.
    fn restart_counter(&mut self, peer: SocketAddr, counter: u8) -> usize {
        match self.restart.insert(peer, counter) {
            Some(old) if old != counter => {
                let gone: Vec<u32> = self.tunnels.iter().filter(|(_, t)| t.peer == peer).map(|(k, _)| *k).collect();
                for teid in &gone {
                    self.remove_tunnel(*teid);
                }
                gone.len()
            }
            _ => 0,
        }
    }

    /// Priority admission at the P-GW's door (critical first, work-conserving), also keeping the
    /// offered rate and the overload reduction up to date.
    fn admit(&mut self, rules: &Rules, p: Priority, now: Instant) -> bool {
        let dt = now.saturating_duration_since(self.rate_at).as_secs_f64();
        let tau = RATE_WINDOW.as_secs_f64();
        self.offered_rate = self.offered_rate * (-dt / tau).exp() + 1.0 / tau;
        self.rate_at = now;
        self.reduction = overload::shed_share(self.offered_rate, rules.capacity);
        self.door.refill(rules.door_rate(), rules.burst, now);
        if self.door.tokens >= priority_floor(p, rules.reserve, rules.low_headroom) {
            self.door.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Takes one token of a budget bucket (created full); `false` when it is empty.
    fn spend(bucket: &mut Bucket, rate: f64, burst: f64, now: Instant) -> bool {
        bucket.refill(rate, burst, now);
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

impl Engine {
    /// Sets the gauges in the metrics facade: tunnels per partner, overload reduction.
    pub fn publish_gauges(&self) {
        let st = self.state.lock().expect("state");
        for (partner, n) in &st.tunnels_per_partner {
            metrics::gauge!(crate::observe::TUNNELS, "partner" => partner.to_string()).set(*n as f64);
        }
        metrics::gauge!(crate::observe::REDUCTION).set(f64::from(st.reduction));
    }
}
