//! What the tenant rules decide about what the HSS saw: a pure function from facts (new
//! registrations with the IMEI they reported, subscribers with many AIR/ULR this hour, the SIMs they
//! concern, the rules) to [`Decision`]s. No store, no clock, no HSS: the [`super::engine`] reads the
//! facts and applies the decisions, and tests give facts and read decisions.

use std::collections::{HashMap, HashSet};

use ids::{Imei, Imsi};
use store::model::{Priority, SimStatus};

use super::imei_lock::{self, LockVerdict};
use super::{enforcement, Enforcement, Rule};

/// What a rule needs to know about a SIM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimFacts {
    /// Owning tenant.
    pub tenant: String,
    /// Priority class.
    pub priority: Priority,
    /// Lifecycle status.
    pub status: SimStatus,
    /// IMEIs bound by a lock (14-digit bodies).
    pub bound_imeis: Vec<String>,
}

/// A registration (ULR) that reported a device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registered {
    /// Subscriber.
    pub imsi: Imsi,
    /// The device it reported.
    pub imei: Imei,
}

/// A subscriber's AIR+ULR count in its current hour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Busy {
    /// Subscriber.
    pub imsi: Imsi,
    /// Start of the hour (Unix seconds).
    pub window: i64,
    /// Requests in it.
    pub count: u32,
}

/// Everything [`evaluate`] looks at.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// Rules by tenant (`*`: rules of the operator, for every tenant).
    pub rules: HashMap<String, Vec<Rule>>,
    /// New registrations, oldest first.
    pub registrations: Vec<Registered>,
    /// Busy subscribers.
    pub busy: Vec<Busy>,
    /// The SIMs these concern (absent: unknown SIM, nothing to decide).
    pub sims: HashMap<Imsi, SimFacts>,
}

/// What evaluation remembers between runs: which signalling rules fired in which hour, so each fires
/// once per subscriber, rule and hour.
#[derive(Debug, Clone, Default)]
pub struct Memory {
    fired: HashSet<(Imsi, i64, String)>,
}

/// Most remembered firings; past it the memory starts afresh (a rule may then fire once more).
const MEMORY_LIMIT: usize = 100_000;

/// One decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Bind the device to the SIM (first registration under a `first_seen` lock).
    Bind {
        /// Subscriber.
        imsi: Imsi,
        /// Device.
        imei: Imei,
    },
    /// A rule fired: record the hit and enforce its action.
    Fire {
        /// Subscriber.
        imsi: Imsi,
        /// Tenant of the SIM.
        tenant: String,
        /// The rule's kind (`imei_lock`, `signalling`).
        rule: &'static str,
        /// Why, in words.
        why: String,
        /// What to do, after the lifecycle and the critical-SIM exemption.
        enforcement: Enforcement,
    },
}

/// The tenant's own rules and the operator-wide ones (`*`).
fn rules_for<'a>(rules: &'a HashMap<String, Vec<Rule>>, tenant: &str) -> impl Iterator<Item = &'a Rule> {
    rules.get(tenant).into_iter().chain(rules.get("*")).flatten()
}

fn fire(imsi: &Imsi, sim: &SimFacts, rule: &Rule, why: String) -> Decision {
    Decision::Fire {
        imsi: imsi.clone(),
        tenant: sim.tenant.clone(),
        rule: rule.kind(),
        why,
        enforcement: enforcement(rule.action(), sim.priority, sim.status),
    }
}

/// Decides, in order: IMEI locks for each registration (a device bound by an earlier registration of
/// the same run counts as bound), then signalling limits for each busy subscriber.
pub fn evaluate(facts: &Facts, memory: &mut Memory) -> Vec<Decision> {
    let mut out = Vec::new();
    let mut bound: HashMap<&Imsi, Vec<String>> = HashMap::new();
    for reg in &facts.registrations {
        let Some(sim) = facts.sims.get(&reg.imsi) else { continue };
        for rule in rules_for(&facts.rules, &sim.tenant).filter(|r| r.covers(reg.imsi.as_str())) {
            let Rule::ImeiLock { mode, imeis, .. } = rule else { continue };
            let devices = bound.entry(&reg.imsi).or_insert_with(|| sim.bound_imeis.clone());
            match imei_lock::check(*mode, imeis, devices, &reg.imei) {
                LockVerdict::Ok => {}
                LockVerdict::Bind => {
                    devices.push(reg.imei.body().to_string());
                    out.push(Decision::Bind { imsi: reg.imsi.clone(), imei: reg.imei.clone() });
                }
                LockVerdict::Violation => {
                    let why = format!("IMEI {} is not allowed (bound: {})", reg.imei, devices.join(","));
                    out.push(fire(&reg.imsi, sim, rule, why));
                }
            }
        }
    }
    for b in &facts.busy {
        let Some(sim) = facts.sims.get(&b.imsi) else { continue };
        for rule in rules_for(&facts.rules, &sim.tenant) {
            let Rule::Signalling { max_per_hour, .. } = rule else { continue };
            if b.count <= *max_per_hour || !rule.covers(b.imsi.as_str()) {
                continue;
            }
            let key = (b.imsi.clone(), b.window, serde_json::to_string(rule).unwrap_or_default());
            if memory.fired.insert(key) {
                out.push(fire(&b.imsi, sim, rule, format!("{} AIR/ULR this hour (limit {max_per_hour})", b.count)));
            }
        }
    }
    if memory.fired.len() > MEMORY_LIMIT {
        memory.fired.clear();
    }
    out
}

/// The lowest signalling limit of all rules: subscribers at or below it need not be looked at.
pub fn lowest_signalling_limit(rules: &HashMap<String, Vec<Rule>>) -> Option<u32> {
    rules
        .values()
        .flatten()
        .filter_map(|r| match r {
            Rule::Signalling { max_per_hour, .. } => Some(*max_per_hour),
            Rule::ImeiLock { .. } => None,
        })
        .min()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::{LockMode, RuleAction};

    fn imsi(s: &str) -> Imsi {
        s.parse().unwrap()
    }

    fn sim(priority: Priority) -> SimFacts {
        SimFacts { tenant: "acme".into(), priority, status: SimStatus::Active, bound_imeis: vec![] }
    }

    fn facts(rules: Vec<Rule>) -> Facts {
        let mut f = Facts::default();
        f.rules.insert("acme".into(), rules);
        f.sims.insert(imsi("001010000000001"), sim(Priority::Standard));
        f.sims.insert(imsi("001010000000009"), sim(Priority::Critical));
        f
    }

    fn registered(i: &str, imei: &str) -> Registered {
        Registered { imsi: imsi(i), imei: imei.parse().unwrap() }
    }

    #[test]
    fn first_seen_binds_once_then_suspends_another_device() {
        let lock =
            Rule::ImeiLock { mode: LockMode::FirstSeen, imeis: vec![], imsis: vec![], action: RuleAction::Suspend };
        let mut f = facts(vec![lock]);
        f.registrations = vec![
            registered("001010000000001", "356938035643809"),
            registered("001010000000001", "356938035643809"),
            registered("001010000000001", "490154203237518"),
            registered("001010000000009", "490154203237518"),
            registered("001010000000009", "356938035643809"),
            registered("001010000000777", "356938035643809"),
        ];
        let d = evaluate(&f, &mut Memory::default());
        assert_eq!(d.len(), 4, "{d:?}");
        assert!(matches!(&d[0], Decision::Bind { imei, .. } if imei.body() == "35693803564380"));
        assert!(
            matches!(&d[1], Decision::Fire { enforcement: Enforcement::Suspend, why, .. } if why.contains("bound: 35693803564380"))
        );
        assert!(matches!(&d[2], Decision::Bind { .. }), "the critical SIM binds its first device");
        assert!(
            matches!(&d[3], Decision::Fire { enforcement: Enforcement::AlertCritical, .. }),
            "a critical SIM is never cut off by a rule"
        );
    }

    #[test]
    fn signalling_fires_once_per_hour_and_rule() {
        let loops = Rule::Signalling { max_per_hour: 100, imsis: vec![], action: RuleAction::BarData };
        let mut f = facts(vec![loops]);
        f.busy = vec![
            Busy { imsi: imsi("001010000000001"), window: 3600, count: 250 },
            Busy { imsi: imsi("001010000000009"), window: 3600, count: 100 },
        ];
        let mut memory = Memory::default();
        let d = evaluate(&f, &mut memory);
        assert_eq!(d.len(), 1, "at the limit is not over it: {d:?}");
        assert!(matches!(&d[0], Decision::Fire { enforcement: Enforcement::Bar, rule: "signalling", .. }));
        assert!(evaluate(&f, &mut memory).is_empty(), "once per hour");
        f.busy[0].window = 7200;
        assert_eq!(evaluate(&f, &mut memory).len(), 1, "again the next hour");
        assert_eq!(lowest_signalling_limit(&f.rules), Some(100));
    }

    #[test]
    fn rules_only_cover_their_imsis_and_unknown_sims_are_skipped() {
        let lock = Rule::ImeiLock {
            mode: LockMode::List,
            imeis: vec!["490154203237518".parse().unwrap()],
            imsis: vec!["001010000000009".into()],
            action: RuleAction::Event,
        };
        let mut f = facts(vec![lock]);
        f.registrations =
            vec![registered("001010000000001", "356938035643809"), registered("001010000000002", "356938035643809")];
        assert!(evaluate(&f, &mut Memory::default()).is_empty());
    }
}
