//! What the GTP-C firewall tells operators: `warden_gtp_decisions_total{partner, rule, action}`
//! through the [`metrics`] facade (rendered on `/metrics` by `warden serve`), the same counts in
//! memory for readers in the process ([`Observer::count`]), and a bounded ring of the refusals and
//! detections, also logged with `tracing` and handed to an [`EventSink`] when one is set (`warden
//! serve` writes them into the store's event feed, rate-limited).

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::SystemTime;

use firewall::rules::{imsi_string, ImsiKey};
use firewall::Action;
use metrics::Counter;

use crate::rules::Rule;

/// Name of the decision counter: `{partner, rule, action}`.
pub const DECISIONS: &str = "warden_gtp_decisions_total";
/// Name of the gauge of tunnels held: `{partner}`.
pub const TUNNELS: &str = "warden_gtp_tunnels";
/// Name of the gauge of the overload reduction reported to partners (percent).
pub const REDUCTION: &str = "warden_gtp_overload_reduction_percent";

/// Events kept in memory.
const EVENT_CAPACITY: usize = 1024;

/// Gives the metrics their help text in the installed recorder.
pub fn describe_metrics() {
    metrics::describe_counter!(DECISIONS, "GTP-C firewall decisions by partner, rule and action.");
    metrics::describe_gauge!(TUNNELS, "Tunnels (PDN connections, PDP contexts) partners hold at the P-GW.");
    metrics::describe_gauge!(REDUCTION, "Overload reduction asked of partners in Overload Control Information.");
}

/// A refusal or detection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// When.
    pub at: SystemTime,
    /// The partner (or `unknown`).
    pub partner: String,
    /// The rule.
    pub rule: Rule,
    /// What happened.
    pub action: Action,
    /// The subscriber, when known.
    pub imsi: Option<String>,
}

/// Where refusals and detections go besides the ring (called on the request path: it must not
/// wait, e.g. queue and drop when full).
pub trait EventSink: Send + Sync {
    /// One refusal, drop or detection.
    fn record(&self, e: &Event);
}

/// The partner name of decisions about unknown sources.
pub const UNKNOWN_PARTNER: &str = "unknown";

/// Rules × actions: the size of one partner's table of decision counters.
const SLOTS: usize = Rule::ALL.len() * Action::ALL.len();

/// One partner's decision counters: a fixed table of atomics by (rule, action), registered with the
/// partner, so a decision takes no lock; each also increments the facade's counter, whose handle is
/// looked up on the first decision of that (rule, action) (the series appears then).
pub struct Decisions {
    partner: Arc<str>,
    slots: Box<[(AtomicU64, OnceLock<Counter>)]>,
}

impl std::fmt::Debug for Decisions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decisions").field("partner", &self.partner).finish_non_exhaustive()
    }
}

impl Decisions {
    fn slot(rule: Rule, action: Action) -> usize {
        rule as usize * Action::ALL.len() + action as usize
    }

    fn add(&self, rule: Rule, action: Action) {
        let (n, handle) = &self.slots[Decisions::slot(rule, action)];
        n.fetch_add(1, Ordering::Relaxed);
        let partner = &self.partner;
        handle
            .get_or_init(
                || metrics::counter!(DECISIONS, "partner" => partner.to_string(), "rule" => rule.id(), "action" => action.label()),
            )
            .increment(1);
    }

    /// Decisions so far of this rule and action.
    pub fn get(&self, rule: Rule, action: Action) -> u64 {
        self.slots[Decisions::slot(rule, action)].0.load(Ordering::Relaxed)
    }
}

/// Counters and events.
#[derive(Default)]
pub struct Observer {
    /// Each partner's counters, by name (written when a partner is first seen).
    partners: RwLock<HashMap<Arc<str>, Arc<Decisions>>>,
    events: Mutex<VecDeque<Event>>,
    sink: RwLock<Option<Arc<dyn EventSink>>>,
}

impl std::fmt::Debug for Observer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Observer").finish_non_exhaustive()
    }
}

impl Observer {
    /// The decision counters of `partner`, registered on first use.
    pub fn decisions(&self, partner: &Arc<str>) -> Arc<Decisions> {
        if let Some(d) = self.partners.read().expect("counts").get(partner) {
            return d.clone();
        }
        self.partners
            .write()
            .expect("counts")
            .entry(partner.clone())
            .or_insert_with(|| {
                Arc::new(Decisions {
                    partner: partner.clone(),
                    slots: (0..SLOTS).map(|_| (AtomicU64::new(0), OnceLock::new())).collect(),
                })
            })
            .clone()
    }

    /// Counts a decision (and keeps an event unless it passed).
    pub fn record(&self, partner: &Arc<str>, rule: Rule, action: Action, imsi: Option<ImsiKey>, at: SystemTime) {
        self.record_in(&self.decisions(partner), rule, action, imsi, at);
    }

    /// Counts a decision in counters from [`Observer::decisions`] (and keeps an event unless it
    /// passed).
    pub fn record_in(&self, counts: &Decisions, rule: Rule, action: Action, imsi: Option<ImsiKey>, at: SystemTime) {
        counts.add(rule, action);
        if action != Action::Passed {
            let partner = &counts.partner;
            let imsi = imsi.map(imsi_string);
            tracing::debug!(
                partner = &**partner,
                rule = rule.id(),
                action = action.label(),
                imsi = imsi.as_deref(),
                "gtp decision"
            );
            let event = Event { at, partner: partner.to_string(), rule, action, imsi };
            if let Some(sink) = self.sink.read().expect("sink").as_ref() {
                sink.record(&event);
            }
            let mut ev = self.events.lock().expect("events");
            if ev.len() == EVENT_CAPACITY {
                ev.pop_front();
            }
            ev.push_back(event);
        }
    }

    /// Hands every refusal, drop and detection to `sink` too.
    pub fn set_sink(&self, sink: Arc<dyn EventSink>) {
        *self.sink.write().expect("sink") = Some(sink);
    }

    /// Decisions so far for a partner, rule and action.
    pub fn count(&self, partner: &str, rule: Rule, action: Action) -> u64 {
        self.partners.read().expect("counts").get(partner).map_or(0, |d| d.get(rule, action))
    }

    /// The events in the ring, oldest first.
    pub fn events(&self) -> Vec<Event> {
        self.events.lock().expect("events").iter().cloned().collect()
    }
}
