//! The screening engine, sans-IO: [`Engine::screen`] takes the bytes of one partner request, the
//! partner and the time, and decides — forward, answer (written into a buffer), or drop — reading the
//! message in place with [`MessageView`] (no allocation on the path that
//! forwards). [`Engine::on_answer`] learns from the HSS's answers (registrations, failure ratios,
//! latency). The engine never reads a clock: every call that needs the time is given a [`Now`].
//!
//! Checks, in order (one function each, in `engine/screen.rs`): sinkhole; category 1
//! (application, command, loop); required AVPs; category 2 (origin, destination realm, home IMSI,
//! visited PLMN); category 3 (velocity, serving node); steering of roaming; per-IMSI and per-partner
//! budgets; admission by priority against the HSS's capacity. State (per-subscriber registration and
//! budget, per-PLMN failure counts, the global budget) lives in sharded maps bounded in size.

mod admission;
pub use admission::priority_floor;
mod screen;
mod shared;

pub use shared::{unix_ms, RiskReason, SharedChange, SharedImsi, SHARED_QUEUE_CAPACITY};

use std::collections::HashMap;
use std::hash::Hasher;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime};

use diameter::{avp, Command, MessageView};

use crate::answer::OverloadReport;
use crate::observe::{Action, Event, Observer, PartnerStats};
use crate::rules::{ImsiKey, Plmn, Priority, Rule, Rules};

const SHARDS: usize = 64;
/// Time constant τ of the offered-rate estimate, and how often the DOIC reduction is recomputed.
pub(crate) const RATE_WINDOW: Duration = Duration::from_millis(200);

/// Supplies device priorities from elsewhere (the subscriber store); `None` falls back to the
/// configured lists. Called on the request path: it must answer from memory.
pub trait PriorityLookup: Send + Sync {
    /// The priority of a subscriber, by IMSI digits.
    fn priority(&self, imsi: &str) -> Option<Priority>;
}

/// What the engine decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Forward to the HSS; what the answer path needs is in the [`Meta`].
    Forward(Meta),
    /// Answered by the firewall (the answer was written into the output buffer) because of this rule.
    Answered(Rule),
    /// Discarded (sinkhole).
    Dropped,
}

/// The time of a decision, read once by the caller (per batch of input): the monotonic clock for
/// budgets, windows and deadlines, and the wall clock that events are stamped with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Now {
    /// Monotonic time.
    pub instant: Instant,
    /// Wall-clock time, for events.
    pub wall: SystemTime,
}

/// What the answer path needs to know about a forwarded request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Meta {
    /// The command (one of the inbound matrix).
    pub command: Command,
    /// The subscriber.
    pub imsi: Option<ImsiKey>,
    /// Visited-PLMN-Id.
    pub plmn: Option<Plmn>,
    /// Hash of the Origin-Host (lower case), the node that sent the request.
    pub host: u64,
    /// The partner advertised DOIC (OC-Supported-Features) in the request.
    pub doic: bool,
    /// Device priority.
    pub priority: Priority,
}

/// The partner a connection belongs to, as the engine needs it.
#[derive(Debug, Clone)]
pub struct Ctx<'a> {
    /// The rule set the partner index refers to.
    pub rules: &'a Rules,
    /// Index into `rules.partners`.
    pub partner: usize,
    /// The partner's counters.
    pub stats: &'a PartnerStats,
}

#[derive(Debug, Clone, Copy)]
struct Registration {
    plmn: Plmn,
    host: u64,
    at: Instant,
}

#[derive(Debug, Clone, Copy)]
struct Subscriber {
    tokens: f32,
    refilled: Instant,
    registration: Option<Registration>,
    /// Steering rejections of a critical device in the current rescue window.
    rejections: u32,
    rejections_since: Instant,
}

/// A token bucket: `tokens` refilled at a rate up to a burst. Public so that other screening engines
/// (the GTP-C firewall, crate `gtpfw`) admit by priority the same way ([`priority_floor`]).
#[derive(Debug, Clone, Copy)]
pub struct Bucket {
    /// Tokens now (may be below zero by the critical reserve).
    pub tokens: f64,
    /// When it was last refilled.
    pub refilled: Instant,
}

impl Bucket {
    /// Adds `rate` tokens per second since the last refill, up to `burst`.
    pub fn refill(&mut self, rate: f64, burst: f64, now: Instant) {
        let dt = now.saturating_duration_since(self.refilled).as_secs_f64();
        self.tokens = (self.tokens + dt * rate).min(burst);
        self.refilled = now;
    }
}

#[derive(Debug)]
struct Overload {
    bucket: Bucket,
    offered_rate: f64,
    rate_at: Instant,
    reported_at: Instant,
}

#[derive(Debug, Clone, Copy)]
struct PlmnHealth {
    since: Instant,
    total: u32,
    failed: u32,
    risky_until: Option<Instant>,
}

/// The screening engine and its state.
pub struct Engine {
    rules: RwLock<Arc<Rules>>,
    /// Counters, gauges and events.
    pub observer: Observer,
    subscribers: Box<[Mutex<HashMap<ImsiKey, Subscriber, ImsiHash>>]>,
    shard_capacity: usize,
    partner_buckets: Mutex<HashMap<Arc<str>, Bucket>>,
    overload: Mutex<Overload>,
    plmn_health: Mutex<HashMap<Plmn, PlmnHealth>>,
    manual_risky: Mutex<HashMap<Plmn, Option<Instant>>>,
    lookup: RwLock<Option<Arc<dyn PriorityLookup>>>,
    /// Requests forwarded and not answered yet (kept by the proxy).
    pub upstream_in_flight: AtomicUsize,
    latency_us: AtomicU64,
    reduction: AtomicU32,
    doic_sequence: AtomicU64,
    /// Milliseconds since `epoch` when the last overload report ended (0: none).
    report_ended_ms: AtomicU64,
    epoch: Instant,
    shared: shared::Shared,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").field("partners", &self.rules().partners.len()).finish()
    }
}

/// FNV-1a over the lower-cased bytes: identifies the MME of a registration (not a security boundary:
/// a collision needs a configured partner host anyway).
fn host_hash(host: &[u8]) -> u64 {
    host.iter()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b.to_ascii_lowercase())).wrapping_mul(0x100_0000_01b3))
}

/// Hasher for packed IMSIs: one multiply (the keys are not chosen by an attacker beyond the home
/// ranges, and each shard is bounded).
#[derive(Debug, Clone, Copy, Default)]
struct ImsiHash;

impl std::hash::BuildHasher for ImsiHash {
    type Hasher = ImsiHasher;
    fn build_hasher(&self) -> ImsiHasher {
        ImsiHasher(0)
    }
}

/// See [`ImsiHash`].
#[derive(Debug, Default)]
struct ImsiHasher(u64);

impl Hasher for ImsiHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (n ^ (n >> 29)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    }
}

fn shard_of(k: ImsiKey) -> usize {
    (k.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 58) as usize % SHARDS
}

/// True when `host` lies in `realm` (equal, or ends with `.realm`), ignoring case.
pub fn host_in_realm_str(host: &str, realm: &str) -> bool {
    screen::host_in_realm(host.as_bytes(), realm.as_bytes())
}

impl Engine {
    /// An engine for a compiled rule set, starting at `now`.
    pub fn new(rules: Rules, event_capacity: usize, max_subscribers: usize, now: Now) -> Self {
        let Now { instant: now, wall } = now;
        let burst = rules.capacity.1;
        Self {
            rules: RwLock::new(Arc::new(rules)),
            observer: Observer::new(event_capacity),
            subscribers: (0..SHARDS).map(|_| Mutex::new(HashMap::with_hasher(ImsiHash))).collect(),
            shard_capacity: (max_subscribers / SHARDS).max(16),
            partner_buckets: Mutex::new(HashMap::new()),
            overload: Mutex::new(Overload {
                bucket: Bucket { tokens: burst, refilled: now },
                offered_rate: 0.0,
                rate_at: now,
                reported_at: now,
            }),
            plmn_health: Mutex::new(HashMap::new()),
            manual_risky: Mutex::new(HashMap::new()),
            lookup: RwLock::new(None),
            upstream_in_flight: AtomicUsize::new(0),
            latency_us: AtomicU64::new(0),
            reduction: AtomicU32::new(0),
            doic_sequence: AtomicU64::new(
                wall.duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(1),
            ),
            report_ended_ms: AtomicU64::new(0),
            epoch: now,
            shared: shared::Shared::default(),
        }
    }

    /// The rule set in force.
    pub fn rules(&self) -> Arc<Rules> {
        self.rules.read().expect("rules").clone()
    }

    /// Swaps in a new rule set; open connections pick it up with their next message.
    pub fn set_rules(&self, rules: Rules) {
        *self.rules.write().expect("rules") = Arc::new(rules);
    }

    /// Sets the priority lookup.
    pub fn set_priority_lookup(&self, lookup: Arc<dyn PriorityLookup>) {
        *self.lookup.write().expect("lookup") = Some(lookup);
    }

    /// Marks a visited PLMN risky by hand (`None`: until cleared), or clears every mark of it, manual
    /// and automatic (`Some(Duration::ZERO)`).
    pub fn mark_risky(&self, plmn: Plmn, for_how_long: Option<Duration>, now: Now) {
        let at_ms = unix_ms(now.wall);
        let change = match for_how_long {
            Some(d) if d.is_zero() => {
                self.clear_risky(plmn);
                SharedChange::RiskCleared { plmn, at_ms }
            }
            until => {
                self.manual_risky.lock().expect("risky").insert(plmn, until.map(|d| now.instant + d));
                let until_ms = until.map(|d| unix_ms(now.wall + d));
                SharedChange::Risky { plmn, until_ms, reason: RiskReason::Manual, at_ms }
            }
        };
        self.record_shared(change);
    }

    /// Clears every mark of a visited PLMN, manual and automatic.
    fn clear_risky(&self, plmn: Plmn) {
        self.manual_risky.lock().expect("risky").remove(&plmn);
        if let Some(h) = self.plmn_health.lock().expect("health").get_mut(&plmn) {
            h.risky_until = None;
        }
    }

    /// The subscriber's state in its (locked) shard, created with a full budget when absent; the
    /// shard stays bounded (idle subscribers forgotten first, then everything in it).
    fn subscriber_entry<'s>(
        &self,
        shard: &'s mut HashMap<ImsiKey, Subscriber, ImsiHash>,
        rules: &Rules,
        k: ImsiKey,
        now: Instant,
    ) -> &'s mut Subscriber {
        if shard.len() >= self.shard_capacity && !shard.contains_key(&k) {
            shard.retain(|_, s| now.saturating_duration_since(s.refilled) < Duration::from_secs(3600));
            if shard.len() >= self.shard_capacity {
                shard.clear();
            }
        }
        let burst = self.split(rules.imsi_budget).1;
        shard.entry(k).or_insert(Subscriber {
            tokens: burst as f32,
            refilled: now,
            registration: None,
            rejections: 0,
            rejections_since: now,
        })
    }

    /// True when a visited PLMN is risky now (configured, marked by hand, or marked automatically).
    pub fn is_risky(&self, rules: &Rules, plmn: &Plmn, now: Instant) -> bool {
        if rules.risky_plmns.contains(plmn) {
            return true;
        }
        if let Some(until) = self.manual_risky.lock().expect("risky").get(plmn) {
            if until.is_none_or(|u| now < u) {
                return true;
            }
        }
        self.plmn_health.lock().expect("health").get(plmn).and_then(|h| h.risky_until).is_some_and(|u| now < u)
    }

    /// Visited PLMNs risky now.
    pub fn risky_plmns(&self, now: Instant) -> Vec<String> {
        let rules = self.rules();
        let mut v: Vec<Plmn> = rules.risky_plmns.iter().copied().collect();
        v.extend(
            self.manual_risky.lock().expect("risky").iter().filter(|(_, u)| u.is_none_or(|u| now < u)).map(|(p, _)| *p),
        );
        v.extend(
            self.plmn_health
                .lock()
                .expect("health")
                .iter()
                .filter(|(_, h)| h.risky_until.is_some_and(|u| now < u))
                .map(|(p, _)| *p),
        );
        let mut s: Vec<String> = v.iter().map(ToString::to_string).collect();
        s.sort();
        s.dedup();
        s
    }

    #[allow(clippy::too_many_arguments)]
    fn record(
        &self,
        ctx: &Ctx<'_>,
        rule: Rule,
        action: Action,
        meta: (Option<ImsiKey>, Option<Plmn>),
        code: u32,
        reason: &'static str,
        wall: SystemTime,
    ) {
        ctx.stats.count(rule, action);
        self.observer.event(Event {
            at: wall,
            rule,
            action,
            partner: ctx.rules.partners[ctx.partner].name.clone(),
            imsi: meta.0,
            plmn: meta.1,
            code,
            reason: reason.into(),
        });
    }

    /// The current DOIC overload report: `Some` while the HSS is overloaded (and for the validity
    /// period after, with validity 0, to end the report).
    pub fn overload_report(&self, rules: &Rules, now: Instant) -> Option<OverloadReport> {
        let reduction = self.reduction.load(Ordering::Relaxed);
        let sequence = self.doic_sequence.load(Ordering::Relaxed);
        if reduction > 0 {
            return Some(OverloadReport { sequence, reduction, validity_secs: rules.doic_validity_secs });
        }
        let ended = self.report_ended_ms.load(Ordering::Relaxed);
        let now_ms = now.saturating_duration_since(self.epoch).as_millis() as u64;
        (ended != 0 && now_ms < ended + u64::from(rules.doic_validity_secs) * 1000).then_some(OverloadReport {
            sequence,
            reduction: 0,
            validity_secs: 0,
        })
    }

    /// Offered rate (requests per second reaching admission) at `now`, smoothed.
    pub fn offered_rate(&self, now: Instant) -> f64 {
        let o = self.overload.lock().expect("overload");
        let dt = now.saturating_duration_since(o.rate_at).as_secs_f64();
        o.offered_rate * (-dt / RATE_WINDOW.as_secs_f64()).exp()
    }

    /// Smoothed HSS answer time.
    pub fn upstream_latency(&self) -> Duration {
        Duration::from_micros(self.latency_us.load(Ordering::Relaxed))
    }

    /// Current DOIC reduction percentage.
    pub fn reduction(&self) -> u32 {
        self.reduction.load(Ordering::Relaxed)
    }

    fn record_shed(&self, ctx: &Ctx<'_>, meta: (Option<ImsiKey>, Option<Plmn>), p: Priority, wall: SystemTime) {
        self.observer.event(Event {
            at: wall,
            rule: Rule::OverloadShed,
            action: Action::Blocked,
            partner: ctx.rules.partners[ctx.partner].name.clone(),
            imsi: meta.0,
            plmn: meta.1,
            code: ctx.rules.answer(Rule::OverloadShed).code(),
            reason: match p {
                Priority::Critical => "HSS capacity used up (critical device)".into(),
                Priority::Standard => "HSS capacity used up (standard device)".into(),
                Priority::Low => "HSS capacity used up by higher priorities, or HSS slow (low-priority device)".into(),
            },
        });
    }

    /// Learns from an answer of the HSS to a forwarded request: answer time, registrations (ULR
    /// success sets the serving node, PUR success clears it), failure ratios per visited PLMN.
    pub fn on_answer(&self, meta: &Meta, answer: &[u8], took: Duration, now: Now) {
        let Now { instant: now, wall } = now;
        self.upstream_in_flight.fetch_sub(1, Ordering::Relaxed);
        let us = took.as_micros().min(u128::from(u32::MAX)) as u64;
        let old = self.latency_us.load(Ordering::Relaxed);
        self.latency_us.store(if old == 0 { us } else { (old * 15 + us) / 16 }, Ordering::Relaxed);
        let code = result_code(answer).unwrap_or(0);
        let success = (2000..3000).contains(&code);
        if let Some(k) = meta.imsi {
            if success && matches!(meta.command, Command::ULR | Command::PUR) {
                let mut shard = self.subscribers[shard_of(k)].lock().expect("subscribers");
                let (imsi, host, at_ms) = (shared::SharedImsi(k), meta.host, unix_ms(wall));
                let mut change = None;
                if let Some(s) = shard.get_mut(&k) {
                    if meta.command == Command::ULR {
                        if let Some(plmn) = meta.plmn {
                            s.registration = Some(Registration { plmn, host, at: now });
                            change = Some(SharedChange::Registered { imsi, plmn, host, at_ms });
                        }
                    } else if s.registration.is_some_and(|r| r.host == host) {
                        s.registration = None;
                        change = Some(SharedChange::Deregistered { imsi, host, at_ms });
                    }
                }
                drop(shard);
                if let Some(c) = change {
                    self.record_shared(c);
                }
            }
        }
        if let (Some(plmn), true) = (meta.plmn, matches!(meta.command, Command::ULR | Command::AIR)) {
            let rules = self.rules();
            if !rules.steering.auto {
                return;
            }
            let window = Duration::from_secs(rules.steering.window_secs);
            let mut health = self.plmn_health.lock().expect("health");
            if health.len() >= 10_000 && !health.contains_key(&plmn) {
                health.retain(|_, h| h.risky_until.is_some_and(|u| now < u));
            }
            let h = health.entry(plmn).or_insert(PlmnHealth { since: now, total: 0, failed: 0, risky_until: None });
            if now.saturating_duration_since(h.since) > window {
                h.since = now;
                h.total = 0;
                h.failed = 0;
            }
            h.total += 1;
            h.failed += u32::from(!success);
            if h.total >= rules.steering.min_samples
                && f64::from(h.failed) >= rules.steering.failure_ratio * f64::from(h.total)
                && h.risky_until.is_none_or(|u| now >= u)
            {
                let hold = Duration::from_secs(rules.steering.hold_secs);
                h.risky_until = Some(now + hold);
                drop(health);
                let until_ms = Some(unix_ms(wall + hold));
                let reason = RiskReason::Auto;
                self.record_shared(SharedChange::Risky { plmn, until_ms, reason, at_ms: unix_ms(wall) });
                self.observer.event(Event {
                    at: wall,
                    rule: Rule::RiskyPlmn,
                    action: Action::Detected,
                    partner: "-".into(),
                    imsi: None,
                    plmn: Some(plmn),
                    code: 0,
                    reason: "visited network marked risky: failure ratio above threshold".into(),
                });
            }
        }
    }

    /// An answer will never come (timeout, connection lost): releases the in-flight slot.
    pub fn on_lost(&self) {
        self.upstream_in_flight.fetch_sub(1, Ordering::Relaxed);
    }

    /// Counts an upstream failure answered locally (at wall-clock time `wall`).
    pub fn upstream_unavailable(&self, ctx: &Ctx<'_>, meta: &Meta, wall: SystemTime) {
        let code = diameter::result_code::UNABLE_TO_DELIVER;
        let reason = "no answer from the HSS";
        self.record(ctx, Rule::UpstreamUnavailable, Action::Blocked, (meta.imsi, meta.plmn), code, reason, wall);
    }
}

/// Result-Code, or the Experimental-Result-Code inside Experimental-Result, of an encoded answer.
pub fn result_code(answer: &[u8]) -> Option<u32> {
    const RESULT_CODE: (u32, Option<u32>) = avp::RESULT_CODE.id();
    const EXPERIMENTAL_RESULT: (u32, Option<u32>) = avp::EXPERIMENTAL_RESULT.id();
    let view = MessageView::parse(answer).ok()?;
    for a in view.avps() {
        let a = a.ok()?;
        match (a.code, a.vendor_id) {
            RESULT_CODE => return a.data.try_into().ok().map(u32::from_be_bytes),
            EXPERIMENTAL_RESULT => {
                for inner in diameter::RawAvps::new(a.data) {
                    let inner = inner.ok()?;
                    if avp::EXPERIMENTAL_RESULT_CODE.matches(inner.code, inner.vendor_id) {
                        return inner.data.try_into().ok().map(u32::from_be_bytes);
                    }
                }
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use diameter::Message;

    fn now() -> Now {
        Now { instant: Instant::now(), wall: SystemTime::now() }
    }

    fn engine_with(extra: &str, now: Now) -> Engine {
        let c = crate::FirewallConfig::from_toml(&format!(
            r#"
            [home]
            realms = ["home.example"]
            imsi_prefixes = ["00101"]
            [[partners]]
            name = "alpha"
            origin_hosts = ["mme1.alpha.example"]
            realms = ["alpha.example"]
            plmns = ["26201"]
            {extra}
            "#,
        ))
        .unwrap();
        Engine::new(Rules::compile(&c).unwrap(), 16, 10_000, now)
    }

    fn engine() -> Engine {
        engine_with("", now())
    }

    fn air(imsi: &str) -> Message {
        let mut m = Message::request(Command::AIR);
        m.add(avp::SESSION_ID, "mme1.alpha.example;1");
        m.add(avp::AUTH_SESSION_STATE, 1u32);
        m.add(avp::ORIGIN_HOST, "mme1.alpha.example");
        m.add(avp::ORIGIN_REALM, "alpha.example");
        m.add(avp::DESTINATION_REALM, "home.example");
        m.add(avp::USER_NAME, imsi);
        m.add(avp::VISITED_PLMN_ID, &[0x62u8, 0xf2, 0x10]);
        m
    }

    /// The engine runs on the time it is given, not on a clock: a subscriber's budget refills with
    /// the instants passed in, and events carry the wall-clock time passed in.
    #[test]
    fn decisions_and_events_follow_the_time_given() {
        let t0 = Now { instant: Instant::now(), wall: SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000) };
        let e = engine_with("[budgets]\nimsi_rate_per_sec = 1.0\nimsi_burst = 2.0", t0);
        let rules = e.rules();
        let stats = e.observer.partner(&rules.partners[0].name);
        let ctx = Ctx { rules: &rules, partner: 0, stats: &stats };
        let bytes = air("001010000000001").encode();
        let mut out = Vec::new();
        let mut screen = |now: Now| {
            out.clear();
            let o = e.screen(&ctx, &bytes, now, &mut out);
            if matches!(o, Outcome::Forward(_)) {
                e.on_lost();
            }
            o
        };
        assert!(matches!(screen(t0), Outcome::Forward(_)));
        assert!(matches!(screen(t0), Outcome::Forward(_)));
        assert_eq!(screen(t0), Outcome::Answered(Rule::ImsiRate), "burst of 2 used up at the same instant");
        let half = Now { instant: t0.instant + Duration::from_millis(500), ..t0 };
        assert_eq!(screen(half), Outcome::Answered(Rule::ImsiRate), "half a token after 0.5 s");
        let later = Now { instant: t0.instant + Duration::from_millis(1600), ..t0 };
        assert!(matches!(screen(later), Outcome::Forward(_)), "refilled by the instants given");
        let events = e.observer.events();
        assert_eq!(events.len(), 2);
        assert!(events.iter().all(|ev| ev.rule == Rule::ImsiRate && ev.at == t0.wall));
    }

    /// Random corruptions of a valid AIR (bytes flipped, truncated, lengths rewritten) never panic,
    /// and whatever the engine writes back is one decodable answer with the request's identifiers.
    #[test]
    fn corrupted_requests_never_panic_and_get_decodable_answers() {
        let e = engine();
        let rules = e.rules();
        let stats = e.observer.partner(&rules.partners[0].name);
        let ctx = Ctx { rules: &rules, partner: 0, stats: &stats };
        let mut m = air("001010000000001");
        m.header.hop_by_hop = 0x1234;
        m.header.end_to_end = 0x5678;
        let good = m.encode();
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut out = Vec::new();
        for _ in 0..20_000 {
            let mut b = good.clone();
            for _ in 0..(next() % 4 + 1) {
                let i = (next() as usize) % b.len();
                match next() % 3 {
                    0 => b[i] ^= 1 << (next() % 8),
                    1 => b[i] = next() as u8,
                    _ => b.truncate(i.max(20)),
                }
            }
            // Keep the frame self-consistent in length, as framing guarantees.
            let len = b.len() as u32;
            b[1..4].copy_from_slice(&len.to_be_bytes()[1..]);
            out.clear();
            match e.screen(&ctx, &b, now(), &mut out) {
                Outcome::Forward(_) => {
                    assert!(out.is_empty());
                    e.on_lost();
                }
                Outcome::Answered(_) => {
                    let a = Message::decode(&out).expect("answers decode");
                    assert!(!a.is_request());
                    assert_eq!(&out[12..20], &b[12..20]);
                }
                Outcome::Dropped => assert!(out.is_empty()),
            }
        }
    }
}
