//! Read-only queries for the network audit (`warden audit run --store`): every SIM's settings and the
//! services its profile grants, with the algorithm exactly as stored. Never a key.

use sqlx::Row;

use crate::error::Result;
use crate::model::ServiceProfile;
use crate::Store;

/// One SIM as the audit reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditSim {
    /// IMSI.
    pub imsi: String,
    /// Tenant.
    pub tenant: String,
    /// Status as stored.
    pub status: String,
    /// Priority class as stored.
    pub priority: String,
    /// Profile name.
    pub profile: Option<String>,
    /// Services of the profile (`None` without a profile, or when the profile cannot be read).
    pub services: Option<Vec<String>>,
    /// Algorithm as stored (not parsed, so refused or unknown values show up).
    pub algorithm: String,
    /// An MSISDN is set.
    pub has_msisdn: bool,
}

impl Store {
    /// Every SIM, for the audit.
    pub async fn audit_sims(&self) -> Result<Vec<AuditSim>> {
        let profiles = sqlx::query("SELECT name, body FROM profiles").fetch_all(self.pool()).await?;
        let services: std::collections::HashMap<String, Vec<String>> = profiles
            .iter()
            .filter_map(|r| {
                let name: String = r.try_get("name").ok()?;
                let body: String = r.try_get("body").ok()?;
                let p: ServiceProfile = serde_json::from_str(&body).ok()?;
                Some((name, p.services.iter().map(|s| s.as_str().to_string()).collect()))
            })
            .collect();
        let rows =
            sqlx::query("SELECT imsi, tenant, status, priority, profile, algorithm, msisdn FROM sims ORDER BY imsi")
                .fetch_all(self.pool())
                .await?;
        rows.iter()
            .map(|r| {
                let profile: Option<String> = r.try_get("profile")?;
                Ok(AuditSim {
                    imsi: r.try_get("imsi")?,
                    tenant: r.try_get("tenant")?,
                    status: r.try_get("status")?,
                    priority: r.try_get("priority")?,
                    services: profile.as_ref().and_then(|p| services.get(p).cloned()),
                    profile,
                    algorithm: r.try_get("algorithm")?,
                    has_msisdn: r.try_get::<Option<String>, _>("msisdn")?.is_some_and(|m| !m.is_empty()),
                })
            })
            .collect()
    }
}
