//! Tenant rules and what they decide. Two kinds:
//! - **IMEI lock**: a SIM may only be used in the device it was first seen in (`first_seen`), or in
//!   one of a list of IMEIs (`list`) — SUB-7 (a SIM moved to another device).
//! - **Signalling behaviour**: more than `max_per_hour` AIR/ULR from one SIM in an hour (a device
//!   stuck in a re-attach loop).
//!
//! Each has an action: `event` (only record), `suspend` (suspend the SIM) or `bar_data` (bar packet
//! data with Operator-Determined-Barring; the MME gets IDR). Automated rules never cut off critical
//! SIMs: for those the action becomes an alert event (SUB-4, DM-5).
//!
//! - [`imei_lock`]: the one IMEI-lock decision, used by these rules and by the HSS for the lock a
//!   service profile carries;
//! - [`evaluate`]: what the rules decide about what the HSS saw — a pure function of its inputs;
//! - [`engine`]: the thin driver that reads those inputs from the store and applies the decisions
//!   through [`crate::sims`].

pub mod engine;
pub mod evaluate;
pub mod imei_lock;

use ids::Imei;
use serde::{Deserialize, Serialize};
use store::model::{Priority, SimStatus};

pub use engine::{RuleEngine, SignallingSource};
pub use evaluate::{evaluate, Decision, Facts, Memory};
pub use imei_lock::{LockMode, LockVerdict};

use crate::lifecycle::{check_transition, Authority, TransitionError};

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

/// A tenant rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Rule {
    /// IMEI lock.
    ImeiLock {
        /// Binding mode.
        mode: LockMode,
        /// Allowed IMEIs (14 digits, or 15 with their Luhn check digit) for `list`.
        #[serde(default)]
        imeis: Vec<Imei>,
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
        RuleAction::Suspend => {
            match check_transition(Authority::Automated, priority, false, status, SimStatus::Suspended) {
                Ok(()) => Enforcement::Suspend,
                Err(TransitionError::CriticalExempt) => Enforcement::AlertCritical,
                Err(_) => Enforcement::EventOnly,
            }
        }
        RuleAction::BarData if priority == Priority::Critical => Enforcement::AlertCritical,
        RuleAction::BarData => Enforcement::Bar,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let luhn = r#"{"kind":"imei_lock","mode":"list","imeis":["490154203237517"],"action":"event"}"#;
        assert!(serde_json::from_str::<Rule>(luhn).unwrap_err().to_string().contains("Luhn"), "IMEIs are checked");
        assert!(serde_json::from_str::<Rule>(r#"{"kind":"signalling","max_per_hour":1,"action":"x"}"#).is_err());
        assert!(
            serde_json::from_str::<Rule>(r#"{"kind":"signalling","max_per_hour":1,"action":"event","z":1}"#).is_err()
        );
    }
}
