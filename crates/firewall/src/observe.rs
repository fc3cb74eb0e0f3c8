//! What the firewall tells operators: a counter per (partner, rule, action) and per (priority,
//! outcome), a few gauges, all rendered as Prometheus text; and a bounded ring of decision events
//! (every block, detection, shed, steering and rescue) that are also logged with `tracing` and handed
//! to an optional [`EventSink`] for persistence.

use std::borrow::Cow;
use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use crate::rules::{format_plmn, imsi_string, ImsiKey, PlmnBytes, Priority, Rule, RULE_COUNT};

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

const ACTIONS: [Action; 4] = [Action::Passed, Action::Blocked, Action::Detected, Action::Dropped];

impl Action {
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

/// Lock-free counters of one partner.
#[derive(Debug)]
pub struct PartnerStats {
    counts: [[AtomicU64; 4]; RULE_COUNT],
}

impl Default for PartnerStats {
    fn default() -> Self {
        Self { counts: std::array::from_fn(|_| std::array::from_fn(|_| AtomicU64::new(0))) }
    }
}

impl PartnerStats {
    /// Counts one decision.
    pub fn count(&self, rule: Rule, action: Action) {
        self.counts[rule as usize][action as usize].fetch_add(1, Ordering::Relaxed);
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
    pub plmn: Option<PlmnBytes>,
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
            write!(f, " plmn={}", format_plmn(p))?;
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
        self.partners.lock().expect("stats").entry(name.clone()).or_default().clone()
    }

    /// Counts an admission decision by priority.
    pub fn admission(&self, p: Priority, admitted: bool) {
        self.admission[p as usize][usize::from(!admitted)].fetch_add(1, Ordering::Relaxed);
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

    /// Counters and gauges as Prometheus text (format 0.0.4), appended to `out`.
    pub fn render(&self, out: &mut String, gauges: &[(&str, &str, f64)]) {
        out.push_str(
            "# HELP warden_firewall_decisions_total Roaming firewall decisions by partner, rule and action.\n",
        );
        out.push_str("# TYPE warden_firewall_decisions_total counter\n");
        for (name, stats) in self.partners.lock().expect("stats").iter() {
            let name = name.replace('\\', "\\\\").replace('"', "\\\"");
            for rule in Rule::ALL {
                for action in ACTIONS {
                    let n = stats.get(rule, action);
                    if n > 0 {
                        let _ = writeln!(
                            out,
                            "warden_firewall_decisions_total{{partner=\"{name}\",rule=\"{}\",action=\"{}\"}} {n}",
                            rule.id(),
                            action.label()
                        );
                    }
                }
            }
        }
        out.push_str("# HELP warden_firewall_admission_total Overload admission by device priority.\n");
        out.push_str("# TYPE warden_firewall_admission_total counter\n");
        for p in [Priority::Critical, Priority::Standard, Priority::Low] {
            for (admitted, label) in [(true, "admitted"), (false, "shed")] {
                let _ = writeln!(
                    out,
                    "warden_firewall_admission_total{{priority=\"{}\",outcome=\"{label}\"}} {}",
                    p.label(),
                    self.admissions(p, admitted)
                );
            }
        }
        for (name, help, v) in gauges {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
        }
    }
}
