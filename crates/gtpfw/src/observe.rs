//! What the GTP-C firewall tells operators: `warden_gtp_decisions_total{partner, rule, action}`
//! through the [`metrics`] facade (rendered on `/metrics` by `warden serve`), the same counts in
//! memory for readers in the process ([`Observer::count`]), and a bounded ring of the refusals and
//! detections, also logged with `tracing` and handed to an [`EventSink`] when one is set (`warden
//! serve` writes them into the store's event feed, rate-limited).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
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

/// A decision counter's labels: partner, rule, action.
type DecisionKey = (Arc<str>, Rule, Action);

/// Counters and events.
#[derive(Default)]
pub struct Observer {
    /// Per (partner, rule, action): the count and the facade's counter handle (looked up once, so a
    /// decision costs no allocation and no registry look-up).
    counts: Mutex<HashMap<DecisionKey, (u64, Counter)>>,
    events: Mutex<VecDeque<Event>>,
    sink: std::sync::RwLock<Option<Arc<dyn EventSink>>>,
}

impl std::fmt::Debug for Observer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Observer").finish_non_exhaustive()
    }
}

impl Observer {
    /// Counts a decision (and keeps an event unless it passed).
    pub fn record(&self, partner: &Arc<str>, rule: Rule, action: Action, imsi: Option<ImsiKey>, at: SystemTime) {
        {
            let mut counts = self.counts.lock().expect("counts");
            let entry = counts.entry((partner.clone(), rule, action)).or_insert_with(|| {
                let c = metrics::counter!(DECISIONS, "partner" => partner.to_string(), "rule" => rule.id(), "action" => action.label());
                (0, c)
            });
            entry.0 += 1;
            entry.1.increment(1);
        }
        if action != Action::Passed {
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
        self.counts.lock().expect("counts").get(&(Arc::from(partner), rule, action)).map_or(0, |c| c.0)
    }

    /// The events in the ring, oldest first.
    pub fn events(&self) -> Vec<Event> {
        self.events.lock().expect("events").iter().cloned().collect()
    }
}
