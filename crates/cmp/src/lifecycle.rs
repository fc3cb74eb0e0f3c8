//! The SIM lifecycle: `inventory → active ⇄ suspended → terminated`, terminated is final, and critical
//! SIMs are protected from suspension, termination and data barring by tenants and by automated rules
//! (SUB-4). Terminating a critical SIM, even by the operator, takes a second person's approval
//! ([`crate::approvals`]); only the command line on the server (break-glass) acts alone.

use store::model::{Priority, SimStatus};

use crate::roles::{Action, Role};

/// With what authority a change is asked for: a role's, or an automated decision's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Authority {
    /// A person, token or the command line, with a role.
    Person(Role),
    /// An automated decision (IMEI lock, signalling behaviour): never cuts off critical SIMs.
    Automated,
    /// The command line on the server: operator rights, and no second approval (whoever has a shell
    /// on the server could change the database anyway; its actions are audited as `cli:<user>`).
    Local,
}

impl From<&crate::Actor> for Authority {
    fn from(a: &crate::Actor) -> Self {
        match a {
            crate::Actor::Cli { .. } => Authority::Local,
            _ => a.role().map_or(Authority::Automated, Authority::Person),
        }
    }
}

/// What [`TransitionError::NeedsApproval`] names for terminations.
pub const TERMINATE_CRITICAL: &str = "terminating a critical SIM";
/// What it names for lifting the protection.
pub const LIFT_PROTECTION: &str = "lifting the termination protection of a critical SIM";

/// Why a status change is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    /// Not a step of the lifecycle.
    #[error("a SIM cannot go from {from} to {to} (allowed: inventory → active ⇄ suspended → terminated)")]
    NotAllowed {
        /// Current status.
        from: SimStatus,
        /// Requested status.
        to: SimStatus,
    },
    /// The role may not change SIMs at all.
    #[error("role {0} may not change SIMs")]
    Forbidden(Role),
    /// A critical SIM under termination protection.
    #[error("SIM is critical and under termination protection: an operator admin must lift it first")]
    Protected,
    /// Automated rules alert instead of acting on critical SIMs.
    #[error("automated rules do not suspend or terminate critical SIMs; an alert is raised instead")]
    CriticalExempt,
    /// Terminating a critical SIM (or lifting its protection) needs a second person's approval.
    #[error("{0} needs a second person's approval: request it, then another person approves")]
    NeedsApproval(&'static str),
}

/// Checks barring (`barred`) or unbarring packet data. Barring a critical SIM's data cuts it off as
/// surely as suspending it (a connected alarm or health monitor goes silent), so it is protected the
/// same way: tenants need the operator to lift the protection first, automated decisions never do
/// it. Unbarring is always allowed.
pub fn check_data_barring(
    actor: Authority,
    priority: Priority,
    protection_lifted: bool,
    barred: bool,
) -> Result<(), TransitionError> {
    if let Authority::Person(role) = actor {
        if !role.allows(Action::ManageSims) {
            return Err(TransitionError::Forbidden(role));
        }
    }
    protect_critical(actor, priority, protection_lifted, barred)
}

/// The protection of critical SIMs against being cut off (`cutting_off`).
fn protect_critical(
    actor: Authority,
    priority: Priority,
    protection_lifted: bool,
    cutting_off: bool,
) -> Result<(), TransitionError> {
    if priority == Priority::Critical && cutting_off {
        match actor {
            Authority::Automated => return Err(TransitionError::CriticalExempt),
            Authority::Person(role) if !role.is_operator() && !protection_lifted => {
                return Err(TransitionError::Protected)
            }
            Authority::Person(_) | Authority::Local => {}
        }
    }
    Ok(())
}

fn step_allowed(from: SimStatus, to: SimStatus) -> bool {
    use SimStatus::*;
    matches!((from, to), (Inventory, Active) | (Active, Suspended) | (Suspended, Active) | (Suspended, Terminated))
}

/// Checks a requested status change. `protection_lifted` is true when an operator admin has lifted a
/// critical SIM's termination protection. A person terminating a critical SIM is refused with
/// [`TransitionError::NeedsApproval`] even when everything else allows it.
pub fn check_transition(
    actor: Authority,
    priority: Priority,
    protection_lifted: bool,
    from: SimStatus,
    to: SimStatus,
) -> Result<(), TransitionError> {
    check_approved_transition(actor, priority, protection_lifted, from, to)?;
    if priority == Priority::Critical && to == SimStatus::Terminated && matches!(actor, Authority::Person(_)) {
        return Err(TransitionError::NeedsApproval(TERMINATE_CRITICAL));
    }
    Ok(())
}

/// [`check_transition`] for a change a second person has approved (or that needs no approval).
pub fn check_approved_transition(
    actor: Authority,
    priority: Priority,
    protection_lifted: bool,
    from: SimStatus,
    to: SimStatus,
) -> Result<(), TransitionError> {
    if let Authority::Person(role) = actor {
        if !role.allows(Action::ManageSims) {
            return Err(TransitionError::Forbidden(role));
        }
    }
    if !step_allowed(from, to) {
        return Err(TransitionError::NotAllowed { from, to });
    }
    let cutting_off = matches!(to, SimStatus::Suspended | SimStatus::Terminated);
    protect_critical(actor, priority, protection_lifted, cutting_off)
}

#[cfg(test)]
mod tests {
    use super::*;
    use SimStatus::*;

    const OP: Authority = Authority::Person(Role::TenantOperator);

    #[test]
    fn lifecycle_steps() {
        assert!(check_transition(OP, Priority::Standard, false, Inventory, Active).is_ok());
        assert!(check_transition(OP, Priority::Standard, false, Active, Suspended).is_ok());
        assert!(check_transition(OP, Priority::Standard, false, Suspended, Active).is_ok());
        assert!(check_transition(OP, Priority::Standard, false, Suspended, Terminated).is_ok());
        for (from, to) in
            [(Active, Terminated), (Terminated, Active), (Inventory, Suspended), (Active, Inventory), (Active, Active)]
        {
            assert_eq!(
                check_transition(OP, Priority::Standard, false, from, to),
                Err(TransitionError::NotAllowed { from, to })
            );
        }
    }

    #[test]
    fn viewers_cannot_change_anything() {
        let v = Authority::Person(Role::TenantViewer);
        assert_eq!(
            check_transition(v, Priority::Low, false, Inventory, Active),
            Err(TransitionError::Forbidden(Role::TenantViewer))
        );
    }

    #[test]
    fn critical_sims_are_protected() {
        assert_eq!(check_transition(OP, Priority::Critical, false, Active, Suspended), Err(TransitionError::Protected));
        assert!(
            check_transition(OP, Priority::Critical, true, Active, Suspended).is_ok(),
            "after an operator admin lifted protection"
        );
        assert!(check_transition(Authority::Person(Role::OperatorAdmin), Priority::Critical, false, Active, Suspended)
            .is_ok());
        assert!(
            check_transition(OP, Priority::Critical, false, Suspended, Active).is_ok(),
            "reactivation is never blocked"
        );
        assert_eq!(
            check_transition(Authority::Automated, Priority::Critical, true, Active, Suspended),
            Err(TransitionError::CriticalExempt)
        );
        let admin = Authority::Person(Role::OperatorAdmin);
        assert_eq!(
            check_transition(admin, Priority::Critical, false, Suspended, Terminated),
            Err(TransitionError::NeedsApproval(TERMINATE_CRITICAL)),
            "even the operator needs a second person to terminate a critical SIM"
        );
        assert_eq!(
            check_transition(OP, Priority::Critical, true, Suspended, Terminated),
            Err(TransitionError::NeedsApproval(TERMINATE_CRITICAL))
        );
        assert!(check_approved_transition(OP, Priority::Critical, true, Suspended, Terminated).is_ok());
        assert_eq!(
            check_approved_transition(OP, Priority::Critical, false, Suspended, Terminated),
            Err(TransitionError::Protected),
            "an approval does not replace the lifted protection"
        );
        assert!(check_transition(Authority::Local, Priority::Critical, false, Suspended, Terminated).is_ok());
        assert!(check_transition(OP, Priority::Standard, false, Suspended, Terminated).is_ok());
        assert!(check_transition(Authority::Automated, Priority::Standard, false, Active, Suspended).is_ok());
    }
}
