//! Roles and what each may do (deny by default).

use std::fmt;
use std::str::FromStr;

/// A caller's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// The operator's administrators: every tenant, profiles, protection of critical SIMs.
    OperatorAdmin,
    /// A tenant's administrator: its SIMs, users and tokens.
    TenantAdmin,
    /// A tenant's operator: its SIMs, not its users or tokens.
    TenantOperator,
    /// Read-only access to its tenant.
    TenantViewer,
}

/// Something a caller wants to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Read SIMs, jobs, events of the tenant.
    Read,
    /// Change SIM status or profile, run bulk jobs.
    ManageSims,
    /// Manage the tenant's users and API tokens.
    ManageAccess,
    /// Read the tenant's audit records.
    ReadAudit,
    /// Create tenants, edit service profiles, import SIM inventory.
    Operate,
    /// Lift or restore the termination protection of a critical SIM.
    ProtectCritical,
}

impl Action {
    /// What the action is, in words (for refusals).
    pub fn describe(self) -> &'static str {
        match self {
            Action::Read => "read",
            Action::ManageSims => "change SIMs or run jobs",
            Action::ManageAccess => "manage users, tokens, webhooks or rules",
            Action::ReadAudit => "read the audit trail",
            Action::Operate => "do operator administration",
            Action::ProtectCritical => "change the protection of critical SIMs",
        }
    }
}

impl Role {
    /// True when this role may perform `action` (within its tenant; operator admins in every tenant).
    pub fn allows(self, action: Action) -> bool {
        use Action::*;
        match self {
            Role::OperatorAdmin => true,
            Role::TenantAdmin => matches!(action, Read | ManageSims | ManageAccess | ReadAudit),
            Role::TenantOperator => matches!(action, Read | ManageSims),
            Role::TenantViewer => matches!(action, Read),
        }
    }

    /// True for the operator's own role (not bound to a tenant).
    pub fn is_operator(self) -> bool {
        self == Role::OperatorAdmin
    }

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::OperatorAdmin => "operator_admin",
            Role::TenantAdmin => "tenant_admin",
            Role::TenantOperator => "tenant_operator",
            Role::TenantViewer => "tenant_viewer",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "operator_admin" => Ok(Role::OperatorAdmin),
            "tenant_admin" => Ok(Role::TenantAdmin),
            "tenant_operator" => Ok(Role::TenantOperator),
            "tenant_viewer" => Ok(Role::TenantViewer),
            other => {
                Err(format!("unknown role {other:?} (operator_admin, tenant_admin, tenant_operator, tenant_viewer)"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn least_privilege() {
        assert!(Role::TenantViewer.allows(Action::Read));
        for a in [Action::ManageSims, Action::ManageAccess, Action::ReadAudit, Action::Operate, Action::ProtectCritical]
        {
            assert!(!Role::TenantViewer.allows(a), "viewer must not {a:?}");
        }
        assert!(Role::TenantOperator.allows(Action::ManageSims));
        assert!(!Role::TenantOperator.allows(Action::ManageAccess));
        assert!(!Role::TenantAdmin.allows(Action::Operate));
        assert!(!Role::TenantAdmin.allows(Action::ProtectCritical));
        assert!(Role::OperatorAdmin.allows(Action::ProtectCritical));
        for r in [Role::OperatorAdmin, Role::TenantAdmin, Role::TenantOperator, Role::TenantViewer] {
            assert_eq!(r.as_str().parse::<Role>(), Ok(r));
        }
        assert!("root".parse::<Role>().is_err());
    }
}
