//! Who makes a change. Every use case takes an [`Actor`]: it decides what the actor may see (its
//! [`Scope`]) and do ([`Actor::require`]), and it is what the audit trail records (who, in which role,
//! from where).

use serde::Serialize;
use store::access::Scope;
use store::audit::AuditEntry;

use crate::error::{Error, Result};
use crate::roles::{Action, Role};

/// The author of a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// A person or API token, with the role and tenant its credential grants.
    Person {
        /// How the audit trail names it (`token:<name>(<id>)`).
        name: String,
        /// Its role.
        role: Role,
        /// Its tenant (`None` for operator admins).
        tenant: Option<String>,
        /// Where the request came from.
        source: String,
        /// The person's user account, when the credential derives from a login (a session, or a token
        /// issued with one): credentials it issues are revoked with the account.
        user: Option<String>,
    },
    /// The command line on the server: operator rights, source `local`.
    Cli {
        /// The operating-system user.
        user: String,
    },
    /// An automated decision (a tenant rule, the HSS's IMEI lock, security analytics): it may change
    /// SIMs and read them, never cut off a critical one (SUB-4), and nothing else.
    Automated {
        /// What decided, and why (shown in events and the audit trail).
        by: String,
    },
}

impl Actor {
    /// The command line, named after the operating-system user.
    pub fn cli() -> Self {
        let user = std::env::var("USER").or_else(|_| std::env::var("LOGNAME")).unwrap_or_else(|_| "unknown".into());
        Actor::Cli { user }
    }

    /// An automated decision.
    pub fn automated(by: impl Into<String>) -> Self {
        Actor::Automated { by: by.into() }
    }

    /// The user account the actor's credential derives from.
    pub fn user_id(&self) -> Option<&str> {
        match self {
            Actor::Person { user, .. } => user.as_deref(),
            _ => None,
        }
    }

    /// The same actor after a step-up with `factor`: the audit trail names it
    /// `<name> step-up:<factor>`, so each sensitive change records the factor that allowed it.
    pub fn stepped_up(self, factor: &str) -> Actor {
        match self {
            Actor::Person { name, role, tenant, source, user } => {
                Actor::Person { name: format!("{name} step-up:{factor}"), role, tenant, source, user }
            }
            other => other,
        }
    }

    /// Who this actor is for "the requester may not approve": the person's user id, else the name
    /// (a token), without any step-up suffix.
    pub fn identity_key(&self) -> String {
        match self {
            Actor::Person { user: Some(u), .. } => format!("user:{u}"),
            Actor::Person { name, .. } => name.split(" step-up:").next().unwrap_or(name).to_string(),
            other => other.name(),
        }
    }

    /// The role whose rights apply (`None` for automated decisions).
    pub fn role(&self) -> Option<Role> {
        match self {
            Actor::Person { role, .. } => Some(*role),
            Actor::Cli { .. } => Some(Role::OperatorAdmin),
            Actor::Automated { .. } => None,
        }
    }

    /// True for the operator's own staff and tools (not bound to a tenant).
    pub fn is_operator(&self) -> bool {
        self.role().is_some_and(Role::is_operator)
    }

    /// The data this actor sees.
    pub fn scope(&self) -> Scope {
        match self {
            Actor::Person { role, tenant, .. } => match (tenant, role.is_operator()) {
                (_, true) => Scope::Operator,
                (Some(t), false) => Scope::Tenant(t.clone()),
                // A tenant role without a tenant sees nothing: an impossible tenant name.
                (None, false) => Scope::Tenant("\u{0}".into()),
            },
            Actor::Cli { .. } | Actor::Automated { .. } => Scope::Operator,
        }
    }

    /// Refuses unless the actor may perform `action` (automated decisions may only change SIMs, and
    /// read what they change: a use case answers with the SIM as it is now).
    pub fn require(&self, action: Action) -> Result<()> {
        let allowed = match self.role() {
            Some(role) => role.allows(action),
            None => matches!(action, Action::ManageSims | Action::Read),
        };
        if allowed {
            Ok(())
        } else {
            Err(Error::Forbidden(format!("role {} may not {}", self.role_name(), action.describe())))
        }
    }

    /// The tenant a new resource of this actor belongs to: its own, or for the operator the one named.
    pub fn target_tenant(&self, requested: Option<&str>) -> Result<String> {
        match self {
            Actor::Person { tenant, role, .. } if !role.is_operator() => match (tenant, requested) {
                (Some(own), Some(t)) if t != own => Err(Error::NotFound(format!("tenant {t} not found"))),
                (Some(own), _) => Ok(own.clone()),
                (None, _) => Err(Error::Forbidden("this token belongs to no tenant".into())),
            },
            _ => requested
                .map(str::to_string)
                .ok_or_else(|| Error::Invalid("operator admins must name the tenant".into())),
        }
    }

    /// The tenant of a rule or webhook: the actor's own; the operator names one or gets `*` (all).
    pub fn tenant_or_all(&self, requested: Option<&str>) -> Result<String> {
        if self.is_operator() && requested.is_none() {
            return Ok("*".into());
        }
        self.target_tenant(requested)
    }

    /// Who, as the audit trail records it.
    pub fn name(&self) -> String {
        match self {
            Actor::Person { name, .. } => name.clone(),
            Actor::Cli { user } => format!("cli:{user}"),
            Actor::Automated { by } => format!("automated:{by}"),
        }
    }

    /// The role as the audit trail records it (`automated` for automated decisions).
    pub fn role_name(&self) -> &'static str {
        self.role().map_or("automated", Role::as_str)
    }

    /// Where from, as the audit trail records it.
    pub fn source(&self) -> &str {
        match self {
            Actor::Person { source, .. } => source,
            Actor::Cli { .. } | Actor::Automated { .. } => "local",
        }
    }

    /// The audit entry of an action of this actor; `before` and `after` are recorded as compact JSON
    /// (`null` as empty). Never pass secrets.
    pub fn audit_entry(
        &self,
        tenant: &str,
        action: &str,
        resource: &str,
        before: impl Serialize,
        after: impl Serialize,
    ) -> AuditEntry {
        AuditEntry {
            actor: self.name(),
            role: self.role_name().to_string(),
            tenant: tenant.to_string(),
            source: self.source().to_string(),
            action: action.to_string(),
            resource: resource.to_string(),
            before: json_text(&before),
            after: json_text(&after),
        }
    }
}

fn json_text(v: &impl Serialize) -> String {
    match serde_json::to_string(v) {
        Ok(s) if s == "null" => String::new(),
        Ok(s) => s,
        Err(_) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person(role: Role, tenant: Option<&str>) -> Actor {
        Actor::Person {
            name: "token:t(1)".into(),
            role,
            tenant: tenant.map(Into::into),
            source: "10.0.0.1".into(),
            user: None,
        }
    }

    #[test]
    fn scopes_and_tenants() {
        assert_eq!(person(Role::OperatorAdmin, None).scope(), Scope::Operator);
        assert_eq!(person(Role::TenantAdmin, Some("acme")).scope(), Scope::Tenant("acme".into()));
        assert_eq!(person(Role::TenantAdmin, None).scope(), Scope::Tenant("\u{0}".into()));
        assert_eq!(Actor::cli().scope(), Scope::Operator);
        let t = person(Role::TenantOperator, Some("acme"));
        assert_eq!(t.target_tenant(None).unwrap(), "acme");
        assert!(matches!(t.target_tenant(Some("other")), Err(Error::NotFound(_))));
        assert!(matches!(person(Role::OperatorAdmin, None).target_tenant(None), Err(Error::Invalid(_))));
        assert_eq!(person(Role::OperatorAdmin, None).tenant_or_all(None).unwrap(), "*");
    }

    #[test]
    fn automated_actors_only_change_sims() {
        let a = Actor::automated("signalling rule");
        assert!(a.require(Action::ManageSims).is_ok());
        assert!(a.require(Action::Read).is_ok(), "a use case answers with what it changed");
        for action in [Action::ManageAccess, Action::Operate, Action::ProtectCritical, Action::ReadAudit] {
            assert!(a.require(action).is_err(), "{action:?}");
        }
        let e = a.audit_entry("acme", "sim.set_status", "sim/1", "active", "suspended");
        assert_eq!(
            (e.actor.as_str(), e.role.as_str(), e.source.as_str()),
            ("automated:signalling rule", "automated", "local")
        );
        assert_eq!((e.before.as_str(), e.after.as_str()), ("\"active\"", "\"suspended\""));
    }

    #[test]
    fn the_command_line_acts_as_operator() {
        let c = Actor::Cli { user: "ops".into() };
        assert!(c.require(Action::ProtectCritical).is_ok());
        let e = c.audit_entry("*", "sim.import", "sims.csv", (), serde_json::json!({"imported": 3}));
        assert_eq!((e.actor.as_str(), e.role.as_str(), e.before.as_str()), ("cli:ops", "operator_admin", ""));
    }
}
