//! The event feed of the platform (SIM state changes, IMEI changes, rule hits, authentication
//! failures, roaming rejects): tenant-scoped listing after a cursor, for the paginated API, the live
//! stream and webhook delivery.

use sqlx::Row;

use crate::access::Scope;
use crate::db::Store;
use crate::error::Result;

/// One event.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Event {
    /// Increasing id (the cursor).
    pub id: i64,
    /// Unix seconds.
    pub at: i64,
    /// Kind (`sim.status_changed`, `imei_lock_violation`, `auts_rejected`, …).
    pub kind: String,
    /// Subscriber concerned.
    pub imsi: Option<String>,
    /// Tenant the subscriber belongs to.
    pub tenant: Option<String>,
    /// Details (never secrets).
    pub detail: String,
}

/// Filters for listing events.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFilter {
    /// Only this kind.
    pub kind: Option<String>,
    /// Only this subscriber.
    pub imsi: Option<String>,
}

/// An event row (`id, at, kind, imsi, tenant, detail`).
pub(crate) fn event_from_row(r: &sqlx::any::AnyRow) -> Result<Event> {
    Ok(Event {
        id: r.try_get("id")?,
        at: r.try_get("at")?,
        kind: r.try_get("kind")?,
        imsi: r.try_get("imsi")?,
        tenant: r.try_get("tenant")?,
        detail: r.try_get("detail")?,
    })
}

impl Store {
    /// Events visible in `scope` with an id above `after`, oldest first, at most `limit`. The
    /// statement names only the conditions that apply, so one SIM's events come from the
    /// `(imsi, id)` index however large the feed is.
    pub async fn list_events(&self, scope: &Scope, filter: &EventFilter, after: i64, limit: i64) -> Result<Vec<Event>> {
        let mut conditions = vec![];
        let mut values: Vec<&str> = vec![];
        if let Scope::Tenant(t) = scope {
            values.push(t);
            conditions.push(format!("tenant = ${}", values.len()));
        }
        if let Some(k) = &filter.kind {
            values.push(k);
            conditions.push(format!("kind = ${}", values.len()));
        }
        if let Some(i) = &filter.imsi {
            values.push(i);
            conditions.push(format!("imsi = ${}", values.len()));
        }
        conditions.push(format!("id > ${}", values.len() + 1));
        let sql = format!(
            "SELECT id, at, kind, imsi, tenant, detail FROM events WHERE {} ORDER BY id LIMIT ${}",
            conditions.join(" AND "),
            values.len() + 2
        );
        let mut q = sqlx::query(&sql);
        for v in values {
            q = q.bind(v);
        }
        let rows = q.bind(after).bind(limit).fetch_all(self.pool()).await?;
        rows.iter().map(event_from_row).collect()
    }

    /// The highest event id (0 when there are none).
    pub async fn last_event_id(&self) -> Result<i64> {
        let r = sqlx::query("SELECT COALESCE(MAX(id), 0) AS m FROM events").fetch_one(self.pool()).await?;
        Ok(r.try_get::<i64, _>("m")?)
    }
}

/// A registration (ULR) as the rule engine reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    /// Row id (the cursor).
    pub id: i64,
    /// Subscriber.
    pub imsi: String,
    /// IMEI reported in Terminal-Information.
    pub imei: Option<String>,
    /// Serving MME.
    pub origin_host: String,
}

impl Store {
    /// Registrations with an id above `after`, oldest first.
    pub async fn registrations_after(&self, after: i64, limit: i64) -> Result<Vec<Registration>> {
        let rows =
            sqlx::query("SELECT id, imsi, imei, origin_host FROM registrations WHERE id > $1 ORDER BY id LIMIT $2")
                .bind(after)
                .bind(limit)
                .fetch_all(self.pool())
                .await?;
        rows.iter()
            .map(|r| {
                Ok(Registration {
                    id: r.try_get("id")?,
                    imsi: r.try_get("imsi")?,
                    imei: r.try_get("imei")?,
                    origin_host: r.try_get("origin_host")?,
                })
            })
            .collect()
    }

    /// The highest registration id (0 when there are none).
    pub async fn last_registration_id(&self) -> Result<i64> {
        let r = sqlx::query("SELECT COALESCE(MAX(id), 0) AS m FROM registrations").fetch_one(self.pool()).await?;
        Ok(r.try_get::<i64, _>("m")?)
    }
}

/// Appends an event (also the SQLite fast path's statement, `sqlite_native`).
pub(crate) const INSERT_EVENT_SQL: &str =
    "INSERT INTO events (imsi, kind, detail, at, tenant) VALUES ($1, $2, $3, $4, $5)";

async fn insert_event<'e>(
    ex: impl sqlx::Executor<'e, Database = sqlx::Any>,
    tenant: &str,
    imsi: Option<&str>,
    kind: &str,
    detail: &str,
) -> Result<()> {
    sqlx::query(INSERT_EVENT_SQL)
        .bind(imsi.map(str::to_string))
        .bind(kind)
        .bind(detail)
        .bind(crate::now())
        .bind(tenant)
        .execute(ex)
        .await?;
    Ok(())
}

impl crate::tx::Tx {
    /// Records an event for a tenant's subscriber as part of a change.
    pub async fn record_tenant_event(
        &mut self,
        tenant: &str,
        imsi: Option<&str>,
        kind: &str,
        detail: &str,
    ) -> Result<()> {
        insert_event(self.conn(), tenant, imsi, kind, detail).await
    }
}

impl Store {
    /// Records an event that goes with no change (a rule hit, an alert).
    pub async fn record_tenant_event(&self, tenant: &str, imsi: Option<&str>, kind: &str, detail: &str) -> Result<()> {
        insert_event(self.pool(), tenant, imsi, kind, detail).await
    }
}
