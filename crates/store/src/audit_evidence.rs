//! Read-only queries for the network audit (`warden audit run --store`): every SIM's settings and the
//! services its profile grants, with the algorithm exactly as stored, as records the audit reads into
//! its own fact type. Never a key.

use sqlx::Row;

use crate::error::{Result, StoreError};
use crate::model::ServiceProfile;
use crate::Store;

impl Store {
    /// Every SIM as the network audit reads it, handed over as a record the caller deserialises into
    /// its own type (`audit::evidence::SimFact`; the store knows no audit types). Its fields: `imsi`,
    /// `tenant`, `status`, `priority`, `profile`, `services` (the profile's, `null` without one),
    /// `algorithm` (as stored, unparsed, so refused or unknown values show), `has_msisdn`. Never a key.
    pub async fn audit_sims<T: serde::de::DeserializeOwned>(&self) -> Result<Vec<T>> {
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
                let imsi: String = r.try_get("imsi")?;
                let record = serde_json::json!({
                    "imsi": imsi,
                    "tenant": r.try_get::<String, _>("tenant")?,
                    "status": r.try_get::<String, _>("status")?,
                    "priority": r.try_get::<String, _>("priority")?,
                    "services": profile.as_ref().and_then(|p| services.get(p)),
                    "profile": profile,
                    "algorithm": r.try_get::<String, _>("algorithm")?,
                    "has_msisdn": r.try_get::<Option<String>, _>("msisdn")?.is_some_and(|m| !m.is_empty()),
                });
                serde_json::from_value(record).map_err(|e| StoreError::Corrupt { imsi, reason: e.to_string() })
            })
            .collect()
    }
}
