//! Tenant-scoped SIM reads and writes for the connectivity-management platform: every query carries
//! the caller's [`Scope`], so a tenant cannot read or change another tenant's SIMs even if a handler
//! forgets to check. Also the termination protection of critical SIMs and SIM listing with filters.

use sqlx::Row;

use crate::access::Scope;
use crate::db::{now, sim_from_row, Store, SIM_COLUMNS};
use crate::error::Result;
use crate::model::{Sim, SimStatus};
use ids::Imsi;

/// A SIM with the platform's own fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagedSim {
    /// The SIM (no secrets).
    pub sim: Sim,
    /// True when an operator admin lifted the termination protection of this critical SIM.
    pub protection_lifted: bool,
}

/// Filters for listing SIMs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SimFilter {
    /// Only this status.
    pub status: Option<SimStatus>,
    /// Only this profile.
    pub profile: Option<String>,
    /// Only IMSIs ≥ this.
    pub imsi_from: Option<String>,
    /// Only IMSIs ≤ this.
    pub imsi_to: Option<String>,
    /// Only this priority class.
    pub priority: Option<crate::model::Priority>,
    /// Only this tenant (narrows an operator's list; within a tenant's scope another tenant's name
    /// finds nothing).
    pub tenant: Option<String>,
    /// Only ICCIDs starting with these digits (a range on the ICCID's unique index).
    pub iccid_prefix: Option<String>,
}

pub(crate) const MANAGED_COLUMNS: &str = "protection_lifted";

pub(crate) fn managed_from_row(r: &sqlx::any::AnyRow) -> Result<ManagedSim> {
    Ok(ManagedSim { sim: sim_from_row(r)?, protection_lifted: r.try_get::<i64, _>("protection_lifted")? != 0 })
}

impl Store {
    /// One SIM if it is visible in `scope`.
    pub async fn sim_in(&self, scope: &Scope, imsi: &Imsi) -> Result<Option<ManagedSim>> {
        let row = sqlx::query(&format!(
            "SELECT {SIM_COLUMNS}, {MANAGED_COLUMNS} FROM sims WHERE imsi = $1 AND ($2 = '*' OR tenant = $2)"
        ))
        .bind(imsi.as_str())
        .bind(scope.key())
        .fetch_optional(self.pool())
        .await?;
        row.map(|r| managed_from_row(&r)).transpose()
    }

    /// SIMs visible in `scope` that match `filter`, in IMSI order after `cursor`, at most `limit`.
    /// The statement names only the conditions that apply, so the planner can walk the index that
    /// matches them (`(tenant, status, imsi)`, `(priority, imsi)`, …) in IMSI order and stop after
    /// `limit` rows, at a million SIMs as at ten.
    pub async fn list_sims(
        &self,
        scope: &Scope,
        filter: &SimFilter,
        cursor: Option<&str>,
        limit: i64,
    ) -> Result<Vec<ManagedSim>> {
        let mut conditions = vec!["imsi > $1".to_string()];
        let mut values: Vec<String> = vec![cursor.unwrap_or("").to_string()];
        let mut add = |condition: &str, value: String| {
            values.push(value);
            conditions.push(condition.replace('?', &format!("${}", values.len())));
        };
        if let Scope::Tenant(t) = scope {
            add("tenant = ?", t.clone());
        }
        if let Some(t) = &filter.tenant {
            add("tenant = ?", t.clone());
        }
        if let Some(s) = filter.status {
            add("status = ?", s.as_str().to_string());
        }
        if let Some(p) = filter.priority {
            add("priority = ?", p.as_str().to_string());
        }
        if let Some(p) = &filter.profile {
            add("profile = ?", p.clone());
        }
        if let Some(from) = &filter.imsi_from {
            add("imsi >= ?", from.clone());
        }
        if let Some(to) = &filter.imsi_to {
            add("imsi <= ?", to.clone());
        }
        if let Some(prefix) = &filter.iccid_prefix {
            add("iccid >= ?", prefix.clone());
            // ':' sorts right after '9': every ICCID with the prefix is below prefix + ':'.
            add("iccid < ?", format!("{prefix}:"));
        }
        let sql = format!(
            "SELECT {SIM_COLUMNS}, {MANAGED_COLUMNS} FROM sims WHERE {} ORDER BY imsi LIMIT ${}",
            conditions.join(" AND "),
            values.len() + 1
        );
        let mut q = sqlx::query(&sql);
        for v in &values {
            q = q.bind(v.as_str());
        }
        let rows = q.bind(limit).fetch_all(self.pool()).await?;
        rows.iter().map(managed_from_row).collect()
    }

    /// SIMs visible in `scope` among `imsis` (others are simply absent from the result).
    pub async fn sims_among(&self, scope: &Scope, imsis: &[String]) -> Result<Vec<ManagedSim>> {
        if imsis.is_empty() {
            return Ok(vec![]);
        }
        let marks: Vec<String> = (0..imsis.len()).map(|i| format!("${}", i + 2)).collect();
        let sql = format!(
            "SELECT {SIM_COLUMNS}, {MANAGED_COLUMNS} FROM sims WHERE ($1 = '*' OR tenant = $1) AND imsi IN ({})",
            marks.join(", ")
        );
        let mut q = sqlx::query(&sql).bind(scope.key());
        for i in imsis {
            q = q.bind(i.as_str());
        }
        q.fetch_all(self.pool()).await?.iter().map(managed_from_row).collect()
    }

    /// Every SIM whose priority class is not `standard`, with its class (what storm admission needs,
    /// without reading whole SIM rows).
    pub async fn priority_exceptions(&self) -> Result<Vec<(String, crate::model::Priority)>> {
        let rows =
            sqlx::query("SELECT imsi, priority FROM sims WHERE priority <> 'standard'").fetch_all(self.pool()).await?;
        rows.iter()
            .map(|r| {
                let imsi: String = r.try_get("imsi")?;
                let p: String = r.try_get("priority")?;
                let p = p.parse().map_err(|e: String| crate::StoreError::Corrupt { imsi: imsi.clone(), reason: e })?;
                Ok((imsi, p))
            })
            .collect()
    }
}

impl crate::tx::Tx {
    /// Changes the status of a SIM in `scope` if it still is `from` (a concurrent change loses
    /// nothing: the caller sees `false` and re-reads).
    pub async fn set_status_in(&mut self, scope: &Scope, imsi: &Imsi, from: SimStatus, to: SimStatus) -> Result<bool> {
        let r = sqlx::query(
            "UPDATE sims SET status = $1, updated_at = $2 WHERE imsi = $3 AND status = $4 AND ($5 = '*' OR tenant = $5)",
        )
        .bind(to.as_str())
        .bind(now())
        .bind(imsi.as_str())
        .bind(from.as_str())
        .bind(scope.key())
        .execute(self.conn())
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// The serving node of a SIM as this transaction sees it: after a guarded update of the row in the
    /// same transaction, the latest committed one (the row is locked), so a registration committed
    /// by another instance in the meantime is not missed.
    pub async fn serving_node(&mut self, imsi: &Imsi) -> Result<Option<crate::model::ServingNode>> {
        let row =
            sqlx::query("SELECT serving_host, serving_realm, serving_plmn, serving_since FROM sims WHERE imsi = $1")
                .bind(imsi.as_str())
                .fetch_optional(self.conn())
                .await?;
        let Some(r) = row else { return Ok(None) };
        let Some(origin_host) = r.try_get::<Option<String>, _>("serving_host")? else { return Ok(None) };
        Ok(Some(crate::model::ServingNode {
            origin_host,
            origin_realm: r.try_get::<Option<String>, _>("serving_realm")?.unwrap_or_default(),
            plmn: r.try_get::<Option<String>, _>("serving_plmn")?.and_then(|p| p.parse().ok()),
            since: r.try_get::<Option<i64>, _>("serving_since")?.unwrap_or(0),
        }))
    }

    /// Changes the profile of a SIM in `scope`.
    pub async fn set_profile_in(&mut self, scope: &Scope, imsi: &Imsi, profile: &str) -> Result<bool> {
        self.set_column_in(scope, imsi, "profile", profile.to_string()).await
    }

    /// Bars (`true`) or unbars packet data of a SIM in `scope`.
    pub async fn set_data_barred(&mut self, scope: &Scope, imsi: &Imsi, barred: bool) -> Result<bool> {
        self.set_column_in(scope, imsi, "data_barred", i64::from(barred)).await
    }

    /// Sets one column of a SIM in `scope` (a fixed name of this module, never input); false when the
    /// SIM is not there.
    async fn set_column_in<V>(&mut self, scope: &Scope, imsi: &Imsi, column: &'static str, value: V) -> Result<bool>
    where
        V: for<'q> sqlx::Encode<'q, sqlx::Any> + sqlx::Type<sqlx::Any> + Send,
    {
        let sql =
            format!("UPDATE sims SET {column} = $1, updated_at = $2 WHERE imsi = $3 AND ($4 = '*' OR tenant = $4)");
        let r = sqlx::query(&sql)
            .bind(value)
            .bind(now())
            .bind(imsi.as_str())
            .bind(scope.key())
            .execute(self.conn())
            .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Lifts (`true`) or restores (`false`) the termination protection of a SIM (operator only; the
    /// caller checks the role, the store records it).
    pub async fn set_protection_lifted(&mut self, imsi: &Imsi, lifted: bool) -> Result<bool> {
        let r = sqlx::query("UPDATE sims SET protection_lifted = $1, updated_at = $2 WHERE imsi = $3")
            .bind(i64::from(lifted))
            .bind(now())
            .bind(imsi.as_str())
            .execute(self.conn())
            .await?;
        Ok(r.rows_affected() == 1)
    }
}
