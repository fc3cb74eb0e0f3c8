//! Tenant rules and what they decide. Two kinds:
//! - **IMEI lock**: a SIM may only be used in the device it was first seen in (`first_seen`), or in
//!   one of a list of IMEIs (`list`) — SUB-7 (a SIM moved to another device).
//! - **Signalling behaviour**: more than `max_per_hour` AIR/ULR from one SIM in an hour (a device
//!   stuck in a re-attach loop).
//!
//! Each has an action: `event` (only record), `suspend` (suspend the SIM) or `bar_data` (bar packet
//! data with Operator-Determined-Barring; the MME gets IDR). Automated rules never cut off critical
//! SIMs: for those the action becomes an alert event (SUB-4, DM-5).

use serde::{Deserialize, Serialize};
use store::model::{Priority, SimStatus};

use crate::lifecycle::{check_transition, Actor, TransitionError};

/// What a rule does when it fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleAction {
    /// Record an event only.
    Event,
    /// Suspend the SIM.
    Suspend,
    /// Bar packet data (Operator-Determined-Barring).
    BarData,
}

/// How an IMEI lock binds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LockMode {
    /// Bind to the first IMEI seen.
    FirstSeen,
    /// Only the listed IMEIs.
    List,
}

/// A tenant rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Rule {
    /// IMEI lock.
    ImeiLock {
        /// Binding mode.
        mode: LockMode,
        /// Allowed IMEIs (14-digit bodies or 15-digit IMEIs) for `list`.
        #[serde(default)]
        imeis: Vec<String>,
        /// Only these IMSIs (empty: every SIM of the tenant).
        #[serde(default)]
        imsis: Vec<String>,
        /// What to do.
        action: RuleAction,
    },
    /// Signalling behaviour.
    Signalling {
        /// Most AIR+ULR per SIM in one hour.
        max_per_hour: u32,
        /// Only these IMSIs (empty: every SIM of the tenant).
        #[serde(default)]
        imsis: Vec<String>,
        /// What to do.
        action: RuleAction,
    },
}

impl Rule {
    /// The stored kind name.
    pub fn kind(&self) -> &'static str {
        match self {
            Rule::ImeiLock { .. } => "imei_lock",
            Rule::Signalling { .. } => "signalling",
        }
    }

    /// Checks the rule's own consistency.
    pub fn validate(&self) -> Result<(), String> {
        let check_imsis = |imsis: &[String]| {
            imsis.iter().try_for_each(|i| i.parse::<ids::Imsi>().map(|_| ()).map_err(|e| format!("imsis: {i:?}: {e}")))
        };
        match self {
            Rule::ImeiLock { mode, imeis, imsis, .. } => {
                check_imsis(imsis)?;
                if *mode == LockMode::List && imeis.is_empty() {
                    return Err("imeis: a list lock needs at least one IMEI".into());
                }
                for i in imeis {
                    if !(i.len() == 14 || i.len() == 15) || !i.bytes().all(|b| b.is_ascii_digit()) {
                        return Err(format!("imeis: {i:?} is not a 14- or 15-digit IMEI"));
                    }
                }
                Ok(())
            }
            Rule::Signalling { max_per_hour, imsis, .. } => {
                check_imsis(imsis)?;
                if !(1..=1_000_000).contains(max_per_hour) {
                    return Err("max_per_hour must be 1..=1000000".into());
                }
                Ok(())
            }
        }
    }

    /// True when the rule covers `imsi`.
    pub fn covers(&self, imsi: &str) -> bool {
        let list = match self {
            Rule::ImeiLock { imsis, .. } | Rule::Signalling { imsis, .. } => imsis,
        };
        list.is_empty() || list.iter().any(|i| i == imsi)
    }

    /// The configured action.
    pub fn action(&self) -> RuleAction {
        match self {
            Rule::ImeiLock { action, .. } | Rule::Signalling { action, .. } => *action,
        }
    }
}

/// The 14-digit body of an IMEI or IMEISV text.
pub fn imei_body(imei: &str) -> &str {
    imei.get(..14).unwrap_or(imei)
}

/// IMEI-lock verdict for a registration with `imei`, given the IMEIs already bound to the SIM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockVerdict {
    /// Allowed.
    Ok,
    /// First device: bind it.
    Bind,
    /// Not an allowed device.
    Violation,
}

/// Decides an IMEI lock.
pub fn check_imei_lock(rule: &Rule, bound: &[String], imei: &str) -> LockVerdict {
    let body = imei_body(imei);
    match rule {
        Rule::ImeiLock { mode: LockMode::FirstSeen, .. } => {
            if bound.is_empty() {
                LockVerdict::Bind
            } else if bound.iter().any(|b| imei_body(b) == body) {
                LockVerdict::Ok
            } else {
                LockVerdict::Violation
            }
        }
        Rule::ImeiLock { mode: LockMode::List, imeis, .. } => {
            if imeis.iter().any(|i| imei_body(i) == body) {
                LockVerdict::Ok
            } else {
                LockVerdict::Violation
            }
        }
        Rule::Signalling { .. } => LockVerdict::Ok,
    }
}

/// What to do when a rule fires on a SIM, after the critical-SIM exemption.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enforcement {
    /// Only the rule-hit event.
    EventOnly,
    /// Suspend (the SIM is active).
    Suspend,
    /// Bar packet data.
    Bar,
    /// The SIM is critical: alert instead of acting.
    AlertCritical,
}

/// Applies the lifecycle and SUB-4 to a rule's action.
pub fn enforcement(action: RuleAction, priority: Priority, status: SimStatus) -> Enforcement {
    match action {
        RuleAction::Event => Enforcement::EventOnly,
        RuleAction::Suspend => match check_transition(Actor::Rule, priority, false, status, SimStatus::Suspended) {
            Ok(()) => Enforcement::Suspend,
            Err(TransitionError::CriticalExempt) => Enforcement::AlertCritical,
            Err(_) => Enforcement::EventOnly,
        },
        RuleAction::BarData if priority == Priority::Critical => Enforcement::AlertCritical,
        RuleAction::BarData => Enforcement::Bar,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lock(mode: LockMode, imeis: &[&str]) -> Rule {
        Rule::ImeiLock {
            mode,
            imeis: imeis.iter().map(|s| s.to_string()).collect(),
            imsis: vec![],
            action: RuleAction::Suspend,
        }
    }

    #[test]
    fn first_seen_binds_then_refuses_others() {
        let r = lock(LockMode::FirstSeen, &[]);
        assert_eq!(check_imei_lock(&r, &[], "35693803564380"), LockVerdict::Bind);
        let bound = vec!["35693803564380".to_string()];
        assert_eq!(check_imei_lock(&r, &bound, "356938035643809"), LockVerdict::Ok, "IMEI with check digit");
        assert_eq!(check_imei_lock(&r, &bound, "49015420323751"), LockVerdict::Violation);
    }

    #[test]
    fn list_lock() {
        let r = lock(LockMode::List, &["490154203237518"]);
        assert_eq!(check_imei_lock(&r, &[], "49015420323751"), LockVerdict::Ok);
        assert_eq!(check_imei_lock(&r, &[], "35693803564380"), LockVerdict::Violation);
    }

    #[test]
    fn critical_sims_get_alerts_not_actions() {
        use Priority::*;
        assert_eq!(enforcement(RuleAction::Suspend, Critical, SimStatus::Active), Enforcement::AlertCritical);
        assert_eq!(enforcement(RuleAction::BarData, Critical, SimStatus::Active), Enforcement::AlertCritical);
        assert_eq!(enforcement(RuleAction::Suspend, Standard, SimStatus::Active), Enforcement::Suspend);
        assert_eq!(enforcement(RuleAction::Suspend, Standard, SimStatus::Suspended), Enforcement::EventOnly);
        assert_eq!(enforcement(RuleAction::BarData, Low, SimStatus::Active), Enforcement::Bar);
        assert_eq!(enforcement(RuleAction::Event, Low, SimStatus::Active), Enforcement::EventOnly);
    }

    #[test]
    fn validation_and_parsing() {
        let r: Rule = serde_json::from_str(r#"{"kind":"signalling","max_per_hour":60,"action":"suspend"}"#).unwrap();
        assert!(r.validate().is_ok());
        assert!(r.covers("001010000000001"));
        let bad: Rule = serde_json::from_str(r#"{"kind":"imei_lock","mode":"list","action":"event"}"#).unwrap();
        assert!(bad.validate().unwrap_err().contains("at least one IMEI"));
        assert!(serde_json::from_str::<Rule>(r#"{"kind":"signalling","max_per_hour":1,"action":"x"}"#).is_err());
        assert!(
            serde_json::from_str::<Rule>(r#"{"kind":"signalling","max_per_hour":1,"action":"event","z":1}"#).is_err()
        );
    }
}
