//! Fixed dialling lists (SUB-3): a SIM's own list, which extends or replaces its profile's
//! `fixed_dialling`. The entries are stored as written; their syntax is checked by the use case
//! that writes them (`cmp::fdl`), and the SMS router reads them unscoped (it acts for the operator),
//! finding the sender by IMSI or, for SMPP, by MSISDN.

use sqlx::Row;

use crate::access::Scope;
use crate::db::{sim_from_row, Store, SIM_COLUMNS};
use crate::error::{Result, StoreError};
use crate::model::Sim;
use crate::traffic::OverrideMode;
use crate::tx::Tx;
use ids::Imsi;

/// A SIM's own fixed dialling list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SimFixedDialling {
    /// How it combines with the profile's list.
    pub mode: OverrideMode,
    /// The entries as written.
    pub entries: Vec<String>,
    /// Unix seconds of the last change.
    pub updated_at: i64,
}

fn from_row(r: &sqlx::any::AnyRow) -> Result<SimFixedDialling> {
    let mode: String = r.try_get("mode")?;
    let entries: String = r.try_get("entries")?;
    Ok(SimFixedDialling {
        mode: match mode.as_str() {
            "replace" => OverrideMode::Replace,
            _ => OverrideMode::Extend,
        },
        entries: serde_json::from_str(&entries)
            .map_err(|e| StoreError::Conflict(format!("sim_fixed_dialling.entries: {e}")))?,
        updated_at: r.try_get("updated_at")?,
    })
}

impl Store {
    /// A SIM's own list (for the SMS router, which acts for the operator).
    pub async fn sim_fixed_dialling(&self, imsi: &Imsi) -> Result<Option<SimFixedDialling>> {
        let row = sqlx::query("SELECT mode, entries, updated_at FROM sim_fixed_dialling WHERE imsi = $1")
            .bind(imsi.as_str())
            .fetch_optional(self.pool())
            .await?;
        row.map(|r| from_row(&r)).transpose()
    }

    /// The one SIM with this MSISDN (digits, a leading `+` ignored); `None` when no SIM or more
    /// than one has it (the sender of an SMPP MO message, which names only its MSISDN).
    pub async fn sim_by_msisdn(&self, msisdn: &str) -> Result<Option<Sim>> {
        let rows = sqlx::query(&format!("SELECT {SIM_COLUMNS} FROM sims WHERE msisdn = $1 LIMIT 2"))
            .bind(msisdn.trim_start_matches('+'))
            .fetch_all(self.pool())
            .await?;
        match rows.as_slice() {
            [one] => sim_from_row(one).map(Some),
            _ => Ok(None),
        }
    }

    /// A SIM's own list if the SIM is visible in `scope`.
    pub async fn sim_fixed_dialling_in(&self, scope: &Scope, imsi: &Imsi) -> Result<Option<SimFixedDialling>> {
        let row = sqlx::query(
            "SELECT mode, entries, updated_at FROM sim_fixed_dialling WHERE imsi = $1 AND ($2 = '*' OR tenant = $2)",
        )
        .bind(imsi.as_str())
        .bind(scope.key())
        .fetch_optional(self.pool())
        .await?;
        row.map(|r| from_row(&r)).transpose()
    }
}

impl Tx {
    /// Creates or replaces a SIM's own list.
    pub async fn put_sim_fixed_dialling(&mut self, imsi: &Imsi, tenant: &str, l: &SimFixedDialling) -> Result<()> {
        let entries = serde_json::to_string(&l.entries).map_err(|e| StoreError::Conflict(e.to_string()))?;
        let mode = match l.mode {
            OverrideMode::Extend => "extend",
            OverrideMode::Replace => "replace",
        };
        sqlx::query(
            "INSERT INTO sim_fixed_dialling (imsi, tenant, mode, entries, updated_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (imsi) DO UPDATE SET tenant = excluded.tenant, mode = excluded.mode, \
             entries = excluded.entries, updated_at = excluded.updated_at",
        )
        .bind(imsi.as_str())
        .bind(tenant)
        .bind(mode)
        .bind(entries)
        .bind(l.updated_at)
        .execute(self.conn())
        .await?;
        Ok(())
    }
}
