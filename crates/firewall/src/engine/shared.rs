//! State shared between several firewall instances on one database (issue #14), sans-IO: what the
//! engine learns locally and others must know — category-3 registrations and risky-network marks —
//! is recorded as [`SharedChange`]s in a bounded queue that the caller drains
//! ([`Engine::take_shared_changes`]) and ships to the other instances, which apply them with
//! [`Engine::apply_shared`] (without queueing them again: no echo). Budgets are not shared but split:
//! [`Engine::set_instance_share`] divides every rate and burst by the number of live instances.
//!
//! Times travel as wall-clock unix milliseconds (instances do not share a monotonic clock) and are
//! turned into the engine's `Instant`s against the [`Now`] given when applying. Recording is off until
//! [`Engine::share_changes`] turns it on, so a single instance queues nothing.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use serde::{Deserialize, Serialize};

use super::{Engine, Now, PlmnHealth, Registration};
use crate::rules::{imsi_key, imsi_string, ImsiKey, Plmn, Rules};

/// Changes kept for the replication task at most; older ones are dropped first (and counted) when it
/// cannot keep up.
pub const SHARED_QUEUE_CAPACITY: usize = 65_536;

/// An IMSI in a [`SharedChange`]: packed in memory, its digits on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SharedImsi(pub ImsiKey);

impl TryFrom<String> for SharedImsi {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        imsi_key(s.as_bytes()).map(Self).ok_or_else(|| format!("not an IMSI (6 to 15 digits): {s:?}"))
    }
}

impl From<SharedImsi> for String {
    fn from(i: SharedImsi) -> String {
        imsi_string(i.0)
    }
}

/// Why a visited network is marked risky.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RiskReason {
    /// By the failure ratio of its answers (`steering.auto`).
    #[serde(rename = "a")]
    Auto,
    /// By an operator.
    #[serde(rename = "m")]
    Manual,
}

/// One change of the shared firewall state, made by one instance. Compact on the wire
/// (`{"t":"r","i":"001010000000001","p":"26201","h":123,"at":1700000000000}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "t")]
pub enum SharedChange {
    /// A ULR succeeded: the subscriber is registered in `plmn` through the node whose Origin-Host
    /// hashes to `host`, since `at_ms`.
    #[serde(rename = "r")]
    Registered {
        /// The subscriber.
        #[serde(rename = "i")]
        imsi: SharedImsi,
        /// Visited PLMN.
        #[serde(rename = "p")]
        plmn: Plmn,
        /// Hash of the serving node's Origin-Host (lower case, FNV-1a).
        #[serde(rename = "h")]
        host: u64,
        /// Wall-clock time, unix milliseconds.
        #[serde(rename = "at")]
        at_ms: u64,
    },
    /// A PUR from the serving node `host` succeeded at `at_ms`: the registration is gone.
    #[serde(rename = "u")]
    Deregistered {
        /// The subscriber.
        #[serde(rename = "i")]
        imsi: SharedImsi,
        /// Hash of the node that purged.
        #[serde(rename = "h")]
        host: u64,
        /// Wall-clock time, unix milliseconds.
        #[serde(rename = "at")]
        at_ms: u64,
    },
    /// A visited network marked risky until `until_ms` (`None`: until cleared).
    #[serde(rename = "m")]
    Risky {
        /// The visited network.
        #[serde(rename = "p")]
        plmn: Plmn,
        /// End of the mark, unix milliseconds.
        #[serde(rename = "u")]
        until_ms: Option<u64>,
        /// Who marked it.
        #[serde(rename = "w")]
        reason: RiskReason,
        /// When, unix milliseconds.
        #[serde(rename = "at")]
        at_ms: u64,
    },
    /// Every mark of a visited network cleared by an operator.
    #[serde(rename = "c")]
    RiskCleared {
        /// The visited network.
        #[serde(rename = "p")]
        plmn: Plmn,
        /// When, unix milliseconds.
        #[serde(rename = "at")]
        at_ms: u64,
    },
}

/// The replication side of the engine: the queue of local changes and the instance share.
#[derive(Debug)]
pub(super) struct Shared {
    recording: AtomicBool,
    queue: Mutex<VecDeque<SharedChange>>,
    dropped: AtomicU64,
    instances: AtomicU32,
}

impl Default for Shared {
    fn default() -> Self {
        Self {
            recording: AtomicBool::new(false),
            queue: Mutex::new(VecDeque::new()),
            dropped: AtomicU64::new(0),
            instances: AtomicU32::new(1),
        }
    }
}

/// Unix milliseconds of a wall-clock time (0 before 1970).
pub fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

/// The engine's instant of a wall-clock time in unix milliseconds, against `now`; `None` when the
/// monotonic clock cannot represent it.
fn instant_of(ms: u64, now: Now) -> Option<Instant> {
    let now_ms = unix_ms(now.wall);
    if ms >= now_ms {
        now.instant.checked_add(Duration::from_millis(ms - now_ms))
    } else {
        now.instant.checked_sub(Duration::from_millis(now_ms - ms))
    }
}

impl Engine {
    /// Starts (or stops) recording local changes for [`Engine::take_shared_changes`]; off by default.
    pub fn share_changes(&self, on: bool) {
        self.shared.recording.store(on, Ordering::Relaxed);
        if !on {
            self.shared.queue.lock().expect("shared queue").clear();
        }
    }

    /// Takes the local changes recorded since the last call, oldest first.
    pub fn take_shared_changes(&self) -> Vec<SharedChange> {
        self.shared.queue.lock().expect("shared queue").drain(..).collect()
    }

    /// Changes dropped because the queue was full (the others miss them until they reload the state).
    pub fn shared_changes_dropped(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }

    /// Records a local change, when recording.
    pub(super) fn record_shared(&self, change: SharedChange) {
        if !self.shared.recording.load(Ordering::Relaxed) {
            return;
        }
        let mut q = self.shared.queue.lock().expect("shared queue");
        if q.len() >= SHARED_QUEUE_CAPACITY {
            q.pop_front();
            self.shared.dropped.fetch_add(1, Ordering::Relaxed);
        }
        q.push_back(change);
    }

    /// Applies a change another instance made, as of `now`; it is not recorded again. A
    /// registration older than the one held for the subscriber, or a purge older than it or from
    /// another node, changes nothing; so does a time the monotonic clock cannot represent.
    pub fn apply_shared(&self, change: SharedChange, now: Now) {
        match change {
            SharedChange::Registered { imsi, plmn, host, at_ms } => {
                // A registration from the future (clocks apart) counts from now.
                let Some(at) = instant_of(at_ms, now).map(|at| at.min(now.instant)) else { return };
                let rules = self.rules();
                let mut shard = self.subscribers[super::shard_of(imsi.0)].lock().expect("subscribers");
                let s = self.subscriber_entry(&mut shard, &rules, imsi.0, now.instant);
                if s.registration.is_none_or(|r| r.at <= at) {
                    s.registration = Some(Registration { plmn, host, at });
                }
            }
            SharedChange::Deregistered { imsi, host, at_ms } => {
                let Some(at) = instant_of(at_ms, now) else { return };
                let mut shard = self.subscribers[super::shard_of(imsi.0)].lock().expect("subscribers");
                if let Some(s) = shard.get_mut(&imsi.0) {
                    if s.registration.is_some_and(|r| r.host == host && r.at <= at) {
                        s.registration = None;
                    }
                }
            }
            SharedChange::Risky { plmn, until_ms, reason, .. } => {
                let until = match until_ms {
                    Some(ms) => match instant_of(ms, now) {
                        Some(u) => Some(u),
                        None => return,
                    },
                    None => None,
                };
                match (reason, until) {
                    (RiskReason::Auto, Some(u)) => {
                        let mut health = self.plmn_health.lock().expect("health");
                        let h = health.entry(plmn).or_insert(PlmnHealth {
                            since: now.instant,
                            total: 0,
                            failed: 0,
                            risky_until: None,
                        });
                        h.risky_until = Some(h.risky_until.map_or(u, |old| old.max(u)));
                    }
                    _ => {
                        self.manual_risky.lock().expect("risky").insert(plmn, until);
                    }
                }
            }
            SharedChange::RiskCleared { plmn, .. } => self.clear_risky(plmn),
        }
    }

    /// Splits the budgets among `n` live instances (`n` below 1 counts as 1): every rate and burst
    /// of the per-IMSI and per-partner budgets and of admission is divided by `n`, a burst never
    /// below what one request of each class needs. See docs/firewall.md, "Several instances", for
    /// the bound this gives.
    pub fn set_instance_share(&self, n: u32) {
        self.shared.instances.store(n.max(1), Ordering::Relaxed);
    }

    /// The number of instances the budgets are split among.
    pub fn instance_share(&self) -> u32 {
        self.shared.instances.load(Ordering::Relaxed)
    }

    /// This instance's share of a (rate, burst) budget: both divided by the instance count, the
    /// burst kept at 1 at least (or the configured burst, if smaller) so a request can pass at all.
    pub(super) fn split(&self, (rate, burst): (f64, f64)) -> (f64, f64) {
        let n = f64::from(self.instance_share());
        (rate / n, (burst / n).max(burst.min(1.0)))
    }

    /// This instance's share of the HSS's capacity: (rate, burst, scale), where `scale` is the
    /// factor applied to the burst and so to the critical reserve and low headroom, which are parts
    /// of it; the burst never drops below what a low-priority request needs.
    pub(super) fn split_capacity(&self, rules: &Rules) -> (f64, f64, f64) {
        let (rate, burst) = rules.capacity;
        let n = f64::from(self.instance_share());
        if n <= 1.0 {
            return (rate, burst, 1.0);
        }
        let reserved = (rules.critical_reserve + rules.low_headroom) / burst;
        let least = 1.0 / (1.0 - reserved);
        let share = (burst / n).max(least).min(burst);
        (rate / n, share, share / burst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Ctx, Meta, Outcome};
    use crate::rules::Rule;
    use diameter::{avp, Command, Message};
    use testkit::roaming::{partner_of, request_bytes as msg, two_partners, ALPHA, ALPHA2, BRAVO, FRANCE, GERMANY};

    const IMSI: &str = "001010000000100";

    fn t0() -> Now {
        Now { instant: Instant::now(), wall: SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000) }
    }

    fn after(t: Now, d: Duration) -> Now {
        Now { instant: t.instant + d, wall: t.wall + d }
    }

    fn engine(extra: &str, now: Now) -> Engine {
        let c = crate::FirewallConfig::from_toml(&two_partners(extra)).unwrap();
        let e = Engine::new(Rules::compile(&c).unwrap(), 64, 10_000, now);
        e.share_changes(true);
        e
    }

    /// Screens one request from the partner of `from` (alpha for ALPHA/ALPHA2, bravo otherwise);
    /// what is forwarded gets a successful answer from the HSS at the same time.
    fn screen(e: &Engine, from: (&str, &str), bytes: &[u8], now: Now) -> Outcome {
        screen_and(e, from, bytes, now, true)
    }

    /// As [`screen`]; without `learn`, what is forwarded is never answered (the engine learns nothing).
    fn screen_and(e: &Engine, from: (&str, &str), bytes: &[u8], now: Now, learn: bool) -> Outcome {
        let rules = e.rules();
        let partner = partner_of(from);
        let stats = e.observer.partner(&rules.partners[partner].name);
        let ctx = Ctx { rules: &rules, partner, stats: &stats };
        let o = e.screen(&ctx, bytes, now, &mut Vec::new());
        match o {
            Outcome::Forward(meta) if learn => answer_ok(e, &meta, now),
            Outcome::Forward(_) => e.on_lost(),
            _ => {}
        }
        o
    }

    fn answer_ok(e: &Engine, meta: &Meta, now: Now) {
        let mut a = Message::answer(meta.command);
        a.add(avp::RESULT_CODE, 2001u32);
        e.on_answer(meta, &a.encode(), Duration::from_millis(1), now);
    }

    /// The category-3 decisions of an engine about IMSI at `now`: a ULR from France (velocity) and a
    /// PUR from another German MME (serving node).
    fn category3(e: &Engine, now: Now) -> (Outcome, Outcome) {
        let ulr = msg(Command::ULR, BRAVO, IMSI, Some(FRANCE));
        let pur = msg(Command::PUR, ALPHA2, IMSI, None);
        (screen_and(e, BRAVO, &ulr, now, false), screen_and(e, ALPHA2, &pur, now, false))
    }

    /// Every change through its wire form, as the replication task ships it.
    fn ship(from: &Engine, to: &Engine, now: Now) -> usize {
        let changes = from.take_shared_changes();
        for c in &changes {
            let wire = serde_json::to_string(c).unwrap();
            to.apply_shared(serde_json::from_str(&wire).unwrap(), now);
        }
        changes.len()
    }

    #[test]
    fn a_registration_learned_on_one_instance_decides_category3_on_another() {
        let t = t0();
        let (one, two, alone) = (engine("", t), engine("", t), engine("", t));
        let registered = screen(&one, ALPHA, &msg(Command::ULR, ALPHA, IMSI, Some(GERMANY)), t);
        assert!(matches!(registered, Outcome::Forward(_)));
        let changes = one.take_shared_changes();
        assert!(
            matches!(changes[..], [SharedChange::Registered { plmn, at_ms: 1_800_000_000_000, .. }] if plmn.to_string() == "26201"),
            "{changes:?}"
        );
        for c in changes {
            two.apply_shared(c, after(t, Duration::from_millis(300)));
        }
        assert!(two.take_shared_changes().is_empty(), "an applied change is not shared again");
        let later = after(t, Duration::from_secs(60));
        let expected = (Outcome::Answered(Rule::Velocity), Outcome::Answered(Rule::ServingNode));
        assert_eq!(category3(&one, later), expected);
        assert_eq!(category3(&two, later), expected, "the second instance decides as the first");
        assert!(matches!(category3(&alone, later), (Outcome::Forward(_), Outcome::Forward(_))), "without it, nothing");
        // The velocity window counts from the first instance's registration time, not from when the
        // change arrived.
        let past = after(t, Duration::from_secs(3601));
        assert!(matches!(category3(&two, past).0, Outcome::Forward(_)));
    }

    #[test]
    fn a_purge_is_shared_and_a_stale_registration_does_not_overwrite_a_newer_one() {
        let t = t0();
        let (one, two) = (engine("", t), engine("", t));
        screen(&one, ALPHA, &msg(Command::ULR, ALPHA, IMSI, Some(GERMANY)), t);
        assert_eq!(ship(&one, &two, t), 1);
        let imsi = SharedImsi(imsi_key(IMSI.as_bytes()).unwrap());
        let bravo = super::super::host_hash(BRAVO.0.as_bytes());
        let at_ms = unix_ms(t.wall);
        let france: Plmn = "20801".parse().unwrap();
        // An older registration in France (delivered late) and an older purge change nothing.
        two.apply_shared(SharedChange::Registered { imsi, plmn: france, host: bravo, at_ms: at_ms - 10_000 }, t);
        let alpha = super::super::host_hash(ALPHA.0.as_bytes());
        two.apply_shared(SharedChange::Deregistered { imsi, host: alpha, at_ms: at_ms - 1 }, t);
        let pur_bravo = msg(Command::PUR, BRAVO, IMSI, None);
        assert_eq!(screen(&two, BRAVO, &pur_bravo, t), Outcome::Answered(Rule::ServingNode), "still served by alpha");
        // The purge by the serving MME on the first instance ends the registration on the second.
        let purged = after(t, Duration::from_secs(5));
        assert!(matches!(screen(&one, ALPHA, &msg(Command::PUR, ALPHA, IMSI, None), purged), Outcome::Forward(_)));
        assert_eq!(ship(&one, &two, purged), 1);
        assert!(matches!(screen(&two, BRAVO, &pur_bravo, purged), Outcome::Forward(_)));
    }

    #[test]
    fn risky_marks_are_shared_and_cleared() {
        let t = t0();
        let (one, two) = (engine("", t), engine("", t));
        let france: Plmn = "20801".parse().unwrap();
        one.mark_risky(france, None, t);
        assert_eq!(ship(&one, &two, t), 1);
        let later = after(t, Duration::from_secs(86_400));
        assert_eq!(two.risky_plmns(later.instant), ["20801"], "indefinitely");
        one.mark_risky(france, Some(Duration::ZERO), later);
        assert_eq!(ship(&one, &two, later), 1);
        assert!(two.risky_plmns(later.instant).is_empty());
        // A mark for a time ends at the same wall-clock time on both.
        one.mark_risky(france, Some(Duration::from_secs(600)), later);
        assert_eq!(ship(&one, &two, after(later, Duration::from_secs(100))), 1);
        assert_eq!(two.risky_plmns(after(later, Duration::from_secs(599)).instant), ["20801"]);
        assert!(two.risky_plmns(after(later, Duration::from_secs(601)).instant).is_empty());
        // An automatic mark likewise, and it is not shared back.
        let uk: Plmn = "23415".parse().unwrap();
        let (until_ms, at_ms) = (Some(unix_ms(t.wall) + 60_000), unix_ms(t.wall));
        two.apply_shared(SharedChange::Risky { plmn: uk, until_ms, reason: RiskReason::Auto, at_ms }, t);
        assert!(two.is_risky(&two.rules(), &uk, after(t, Duration::from_secs(59)).instant));
        assert!(!two.is_risky(&two.rules(), &uk, after(t, Duration::from_secs(61)).instant));
        assert!(two.take_shared_changes().is_empty());
    }

    #[test]
    fn the_wire_form_is_compact_and_refuses_bad_input() {
        let imsi = SharedImsi(imsi_key(IMSI.as_bytes()).unwrap());
        let c = SharedChange::Registered { imsi, plmn: "26201".parse().unwrap(), host: 7, at_ms: 1 };
        assert_eq!(serde_json::to_string(&c).unwrap(), r#"{"t":"r","i":"001010000000100","p":"26201","h":7,"at":1}"#);
        let bad = serde_json::from_str::<SharedChange>(r#"{"t":"r","i":"0010x","p":"26201","h":7,"at":1}"#);
        assert!(bad.unwrap_err().to_string().contains("not an IMSI"));
        assert!(serde_json::from_str::<SharedChange>(r#"{"t":"c","p":"2620","at":1}"#).is_err());
    }

    /// Requests admitted in 10 simulated seconds, one every millisecond from `from` (in `plmn`), with
    /// the budgets split among `n` instances; `imsi(i)` is the subscriber of request `i`.
    fn admitted(extra: &str, n: u32, (from, plmn): ((&str, &str), [u8; 3]), imsi: impl Fn(u32) -> String) -> u32 {
        let t = t0();
        let e = engine(extra, t);
        e.set_instance_share(n);
        (0..10_000u32)
            .filter(|&i| {
                let now = after(t, Duration::from_millis(u64::from(i)));
                matches!(screen(&e, from, &msg(Command::AIR, from, &imsi(i), Some(plmn)), now), Outcome::Forward(_))
            })
            .count() as u32
    }

    fn many(i: u32) -> String {
        format!("00101{i:010}")
    }

    #[test]
    fn two_instances_each_admit_half_of_every_budget() {
        let one = |_| IMSI.to_string();
        // Rate × 10 s + burst, within one request (the last millisecond is 9.999 s).
        let near = |got: u32, want: u32| assert!(got.abs_diff(want) <= 1, "admitted {got}, expected {want}");
        // Per IMSI: 10/s and a burst of 10, then half of both.
        let imsi = "[budgets]\nimsi_rate_per_sec = 10.0\nimsi_burst = 10.0";
        near(admitted(imsi, 1, (ALPHA, GERMANY), one), 110);
        near(admitted(imsi, 2, (ALPHA, GERMANY), one), 55);
        // Per partner (the extra lines land in bravo's table): 50/s and a burst of 50.
        let partner = "rate_per_sec = 50.0\nburst = 50.0\n[budgets]\nimsi_rate_per_sec = 1000.0";
        near(admitted(partner, 1, (BRAVO, FRANCE), many), 550);
        near(admitted(partner, 2, (BRAVO, FRANCE), many), 275);
        // Admission against the HSS's capacity: 200/s and a burst of 40, of which standard devices
        // leave the critical reserve.
        let capacity = "[budgets]\nimsi_rate_per_sec = 1000.0\n[overload]\ncapacity_per_sec = 200.0\nburst = 40.0";
        let full = admitted(capacity, 1, (ALPHA, GERMANY), many);
        let half = admitted(capacity, 2, (ALPHA, GERMANY), many);
        assert!((2000..=2040).contains(&full), "{full}");
        assert!((1000..=1020).contains(&half), "{half}");
    }
}
