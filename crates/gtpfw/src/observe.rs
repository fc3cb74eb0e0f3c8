//! What the GTP-C firewall tells operators: `warden_gtp_decisions_total{partner, rule, action}`
//! through the [`metrics`] facade (rendered on `/metrics` by `warden serve`), the same counts in
//! memory for readers in the process ([`Observer::count`]), and a bounded ring of the refusals and
//! detections, also logged with `tracing`.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::SystemTime;

use firewall::rules::{imsi_string, ImsiKey};
use firewall::Action;

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

/// Counters and events.
#[derive(Debug, Default)]
pub struct Observer {
    counts: Mutex<HashMap<(String, Rule, Action), u64>>,
    events: Mutex<VecDeque<Event>>,
}

impl Observer {
    /// Counts a decision (and keeps an event unless it passed).
    pub fn record(&self, partner: &str, rule: Rule, action: Action, imsi: Option<ImsiKey>, at: SystemTime) {
        *self.counts.lock().expect("counts").entry((partner.to_owned(), rule, action)).or_insert(0) += 1;
        metrics::counter!(DECISIONS, "partner" => partner.to_owned(), "rule" => rule.id(), "action" => action.label())
            .increment(1);
        if action != Action::Passed {
            let imsi = imsi.map(imsi_string);
            tracing::debug!(partner, rule = rule.id(), action = action.label(), imsi = imsi.as_deref(), "gtp decision");
            let mut ev = self.events.lock().expect("events");
            if ev.len() == EVENT_CAPACITY {
                ev.pop_front();
            }
            ev.push_back(Event { at, partner: partner.to_owned(), rule, action, imsi });
        }
    }

    /// Decisions so far for a partner, rule and action.
    pub fn count(&self, partner: &str, rule: Rule, action: Action) -> u64 {
        self.counts.lock().expect("counts").get(&(partner.to_owned(), rule, action)).copied().unwrap_or(0)
    }

    /// The events in the ring, oldest first.
    pub fn events(&self) -> Vec<Event> {
        self.events.lock().expect("events").iter().cloned().collect()
    }
}
