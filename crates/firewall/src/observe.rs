//! What the firewall tells operators: a counter per (partner, rule, action) and per (priority,
//! outcome) and a few gauges, published through the [`metrics`] facade (the process's recorder —
//! `warden serve`'s Prometheus exporter — renders them) and also kept in memory for readers in the
//! process ([`PartnerStats::get`], [`Observer::admissions`]); and a bounded ring of decision events
//! (every block, detection, shed, steering and rescue) that are also logged with `tracing` and handed
//! to an optional [`EventSink`] for persistence.

use std::borrow::Cow;
use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::SystemTime;

use metrics::Counter;

use crate::rules::{imsi_string, ImsiKey, Plmn, Priority, Rule, RULE_COUNT};

/// What happened to a request because of a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Forwarded to the HSS.
    Passed,
    /// Answered by the firewall with the rule's answer.
    Blocked,
    /// The rule matched in detection mode; the request went on.
    Detected,
    /// Read and discarded (sinkhole).
    Dropped,
}

impl Action {
    /// Every action, in the order of its index.
    pub const ALL: [Action; 4] = [Action::Passed, Action::Blocked, Action::Detected, Action::Dropped];

    /// Label for metrics and logs.
    pub fn label(self) -> &'static str {
        match self {
            Action::Passed => "passed",
            Action::Blocked => "blocked",
            Action::Detected => "detected",
            Action::Dropped => "dropped",
        }
    }
}

/// Name of the decision counter: `{partner, rule, action}`.
pub const DECISIONS: &str = "warden_firewall_decisions_total";
/// Name of the admission counter: `{priority, outcome}`.
pub const ADMISSION: &str = "warden_firewall_admission_total";

/// Gives the firewall's metrics their help text in the installed recorder (call once it is installed).
pub fn describe_metrics() {
    metrics::describe_counter!(DECISIONS, "Roaming firewall decisions by partner, rule and action.");
    metrics::describe_counter!(ADMISSION, "Overload admission by device priority.");
    for (name, help) in GAUGES {
        metrics::describe_gauge!(*name, *help);
    }
}

/// The gauges and their help text, published by `Firewall::publish_gauges`.
pub(crate) const GAUGES: &[(&str, &str)] = &[
    ("warden_firewall_partner_connections", "Partner connections open."),
    ("warden_firewall_upstream_connections", "Connections to the HSS open."),
    ("warden_firewall_upstream_in_flight", "Requests forwarded to the HSS and not answered yet."),
    ("warden_firewall_upstream_latency_seconds", "Smoothed HSS answer time."),
    ("warden_firewall_offered_rate", "Requests per second reaching admission (smoothed)."),
    ("warden_firewall_doic_reduction_percent", "OC-Reduction-Percentage reported to DOIC partners."),
    ("warden_firewall_risky_plmns", "Visited networks judged risky now."),
];

/// Lock-free counters of one partner, mirrored to the metrics facade (a series appears with its
/// first decision).
#[derive(Debug)]
pub struct PartnerStats {
    name: Arc<str>,
    counts: [[AtomicU64; 4]; RULE_COUNT],
    published: [[OnceLock<Counter>; 4]; RULE_COUNT],
}

impl PartnerStats {
    /// Counters of the partner called `name` (`-` before one is known).
    pub fn new(name: Arc<str>) -> Self {
        Self {
            name,
            counts: std::array::from_fn(|_| std::array::from_fn(|_| AtomicU64::new(0))),
            published: std::array::from_fn(|_| std::array::from_fn(|_| OnceLock::new())),
        }
    }

    /// Counts one decision.
    pub fn count(&self, rule: Rule, action: Action) {
        self.counts[rule as usize][action as usize].fetch_add(1, Ordering::Relaxed);
        self.published[rule as usize][action as usize]
            .get_or_init(|| {
                metrics::counter!(DECISIONS, "partner" => self.name.to_string(), "rule" => rule.id(), "action" => action.label())
            })
            .increment(1);
    }

    /// The count of one (rule, action).
    pub fn get(&self, rule: Rule, action: Action) -> u64 {
        self.counts[rule as usize][action as usize].load(Ordering::Relaxed)
    }
}

/// One decision worth reporting.
#[derive(Debug, Clone)]
pub struct Event {
    /// When.
    pub at: SystemTime,
    /// Which rule.
    pub rule: Rule,
    /// What was done.
    pub action: Action,
    /// The partner (or `-` before one is known).
    pub partner: Arc<str>,
    /// The subscriber, when known.
    pub imsi: Option<ImsiKey>,
    /// The visited PLMN, when known.
    pub plmn: Option<Plmn>,
    /// The Result-Code or Experimental-Result-Code answered (0 when none).
    pub code: u32,
    /// Why, in words.
    pub reason: Cow<'static, str>,
}

impl std::fmt::Display for Event {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} partner={}", self.rule.id(), self.action.label(), self.partner)?;
        if let Some(i) = self.imsi {
            write!(f, " imsi={}", imsi_string(i))?;
        }
        if let Some(p) = &self.plmn {
            write!(f, " plmn={p}")?;
        }
        if self.code != 0 {
            write!(f, " code={}", self.code)?;
        }
        write!(f, ": {}", self.reason)
    }
}

/// Receives every event (for example to persist it); called on the request path, so it must be quick.
pub trait EventSink: Send + Sync {
    /// One event.
    fn record(&self, event: &Event);
}

/// Counters, gauges and the event ring.
pub struct Observer {
    partners: Mutex<BTreeMap<Arc<str>, Arc<PartnerStats>>>,
    admission: [[AtomicU64; 2]; 3],
    admission_published: [[Counter; 2]; 3],
    events: Mutex<VecDeque<Event>>,
    capacity: usize,
    sink: Mutex<Option<Arc<dyn EventSink>>>,
    /// Partner connections open.
    pub open_partners: AtomicU64,
    /// Upstream connections open.
    pub open_upstreams: AtomicU64,
}

impl std::fmt::Debug for Observer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Observer").field("capacity", &self.capacity).finish()
    }
}

impl Observer {
    /// An observer keeping the newest `capacity` events.
    pub fn new(capacity: usize) -> Self {
        Self {
            partners: Mutex::new(BTreeMap::new()),
            admission: std::array::from_fn(|_| std::array::from_fn(|_| AtomicU64::new(0))),
            // Registered now: every (priority, outcome) series is there from the start, at 0.
            admission_published: [Priority::Critical, Priority::Standard, Priority::Low].map(|p| {
                ["admitted", "shed"]
                    .map(|outcome| metrics::counter!(ADMISSION, "priority" => p.label(), "outcome" => outcome))
            }),
            events: Mutex::new(VecDeque::with_capacity(capacity.min(65_536))),
            capacity: capacity.max(1),
            sink: Mutex::new(None),
            open_partners: AtomicU64::new(0),
            open_upstreams: AtomicU64::new(0),
        }
    }

    /// Sets the event sink.
    pub fn set_sink(&self, sink: Arc<dyn EventSink>) {
        *self.sink.lock().expect("sink") = Some(sink);
    }

    /// The counters of a partner (created on first use).
    pub fn partner(&self, name: &Arc<str>) -> Arc<PartnerStats> {
        self.partners
            .lock()
            .expect("stats")
            .entry(name.clone())
            .or_insert_with(|| Arc::new(PartnerStats::new(name.clone())))
            .clone()
    }

    /// Counts an admission decision by priority.
    pub fn admission(&self, p: Priority, admitted: bool) {
        self.admission[p as usize][usize::from(!admitted)].fetch_add(1, Ordering::Relaxed);
        self.admission_published[p as usize][usize::from(!admitted)].increment(1);
    }

    /// Admissions (`admitted` true) or sheds of a priority so far.
    pub fn admissions(&self, p: Priority, admitted: bool) -> u64 {
        self.admission[p as usize][usize::from(!admitted)].load(Ordering::Relaxed)
    }

    /// Records an event: ring, log line, sink.
    pub fn event(&self, e: Event) {
        match e.rule {
            Rule::OverloadShed | Rule::ImsiRate | Rule::PartnerRate | Rule::Sinkhole => {
                tracing::debug!(target: "warden::firewall", "{e}")
            }
            Rule::CriticalRescue | Rule::UpstreamUnavailable => tracing::info!(target: "warden::firewall", "{e}"),
            _ => tracing::warn!(target: "warden::firewall", "{e}"),
        }
        if let Some(s) = self.sink.lock().expect("sink").clone() {
            s.record(&e);
        }
        let mut ring = self.events.lock().expect("events");
        if ring.len() >= self.capacity {
            ring.pop_front();
        }
        ring.push_back(e);
    }

    /// The events in the ring, oldest first.
    pub fn events(&self) -> Vec<Event> {
        self.events.lock().expect("events").iter().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_reach_the_recorder_with_their_names_and_labels() {
        let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        metrics::with_local_recorder(&recorder, || {
            describe_metrics();
            let o = Observer::new(4);
            let alpha = o.partner(&Arc::from("al\"pha"));
            alpha.count(Rule::Pass, Action::Passed);
            alpha.count(Rule::Pass, Action::Passed);
            alpha.count(Rule::Command, Action::Blocked);
            o.admission(Priority::Low, false);
            assert_eq!(alpha.get(Rule::Pass, Action::Passed), 2);
            assert_eq!(o.admissions(Priority::Low, false), 1);
        });
        let text = handle.render();
        assert!(text.contains("# TYPE warden_firewall_decisions_total counter"), "{text}");
        let pass = format!(
            "warden_firewall_decisions_total{{partner=\"al\\\"pha\",rule=\"{}\",action=\"passed\"}} 2",
            Rule::Pass.id()
        );
        assert!(text.contains(&pass), "{text}");
        let command = format!("rule=\"{}\",action=\"blocked\"}} 1", Rule::Command.id());
        assert!(text.contains(&command), "{text}");
        assert!(!text.contains("action=\"detected\""), "series appear with their first decision: {text}");
        assert!(text.contains("warden_firewall_admission_total{priority=\"low\",outcome=\"shed\"} 1"), "{text}");
        assert!(
            text.contains("warden_firewall_admission_total{priority=\"critical\",outcome=\"admitted\"} 0"),
            "{text}"
        );
    }
}
