//! Read-only counts for the portal's dashboard, each one grouped query scoped to the caller's
//! [`Scope`] (a tenant never sees another tenant's numbers): SIMs by status and priority class, and
//! the event feed per minute and per kind over a recent window with its newest events. Migration 0016
//! adds the indexes that keep these cheap at a million SIMs.

use sqlx::Row;

use crate::access::Scope;
use crate::db::Store;
use crate::error::Result;
use crate::events::Event;

/// How many SIMs have one status and one priority class.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimCount {
    /// Lifecycle status.
    pub status: String,
    /// Priority class.
    pub priority: String,
    /// SIMs.
    pub count: i64,
}

/// Events of one kind in one minute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventCount {
    /// Unix seconds of the minute's start.
    pub minute: i64,
    /// Event kind.
    pub kind: String,
    /// Events.
    pub count: i64,
}

/// The tenant condition of `scope` as its own statement text: a tenant's queries name `tenant = $1`
/// (so the planner takes the tenant's index range), the operator's name nothing (`$1 = '*'` stays
/// true and binds the same parameter). A generic `($1 = '*' OR tenant = $1)` would scan every row.
fn tenant_condition(scope: &Scope) -> &'static str {
    match scope {
        Scope::Tenant(_) => "tenant = $1",
        Scope::Operator => "$1 = '*'",
    }
}

impl Store {
    /// SIMs in `scope` counted by status and priority class (only the pairs that occur).
    pub async fn count_sims(&self, scope: &Scope) -> Result<Vec<SimCount>> {
        let rows = sqlx::query(&format!(
            "SELECT status, priority, COUNT(*) AS n FROM sims WHERE {} \
             GROUP BY status, priority ORDER BY status, priority",
            tenant_condition(scope)
        ))
        .bind(scope.key())
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(SimCount { status: r.try_get("status")?, priority: r.try_get("priority")?, count: r.try_get("n")? })
            })
            .collect()
    }

    /// Events in `scope` at or after `since` (Unix seconds), counted per minute and kind.
    pub async fn count_events_per_minute(&self, scope: &Scope, since: i64) -> Result<Vec<EventCount>> {
        let rows = sqlx::query(&format!(
            "SELECT (at / 60) * 60 AS minute, kind, COUNT(*) AS n FROM events \
             WHERE {} AND at >= $2 GROUP BY (at / 60) * 60, kind ORDER BY minute, kind",
            tenant_condition(scope)
        ))
        .bind(scope.key())
        .bind(since)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| Ok(EventCount { minute: r.try_get("minute")?, kind: r.try_get("kind")?, count: r.try_get("n")? }))
            .collect()
    }

    /// The newest `limit` events in `scope`, newest first.
    pub async fn recent_events(&self, scope: &Scope, limit: i64) -> Result<Vec<Event>> {
        let rows = sqlx::query(&format!(
            "SELECT id, at, kind, imsi, tenant, detail FROM events WHERE {} ORDER BY id DESC LIMIT $2",
            tenant_condition(scope)
        ))
        .bind(scope.key())
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Event {
                    id: r.try_get("id")?,
                    at: r.try_get("at")?,
                    kind: r.try_get("kind")?,
                    imsi: r.try_get("imsi")?,
                    tenant: r.try_get("tenant")?,
                    detail: r.try_get("detail")?,
                })
            })
            .collect()
    }
}
