//! Bulk jobs: a job row with progress counters and a resume cursor, and per-item results. A batch of
//! items is applied in one transaction (SIM updates, item results, events and counters together), so
//! a crash or a failing item never leaves a batch half-applied, and a restarted job resumes after the
//! last committed batch.

use sqlx::Row;

use crate::access::{random_hex, Scope};
use crate::db::{now, Store};
use crate::error::{Result, StoreError};
use crate::model::{ServingNode, SimStatus};
use ids::Imsi;

/// A job as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRow {
    /// Public id.
    pub id: String,
    /// Tenant whose SIMs the job changes (`*`: operator-wide).
    pub tenant: String,
    /// Action name.
    pub action: String,
    /// The request, as JSON.
    pub spec: String,
    /// `queued`, `running`, `succeeded`, `completed_with_errors`, `cancelled`, `failed`.
    pub state: String,
    /// Items selected so far (lists: all of them).
    pub total: i64,
    /// Items changed.
    pub succeeded: i64,
    /// Items already in the requested state.
    pub unchanged: i64,
    /// Items refused (with a reason in their item result).
    pub failed: i64,
    /// Last IMSI handled (resume point).
    pub cursor: String,
    /// Cancellation requested.
    pub cancel: bool,
    /// Who created it.
    pub created_by: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub updated_at: i64,
}

/// Result for one item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemResult {
    /// The IMSI (or the text given, when it is not a valid IMSI).
    pub imsi: String,
    /// `succeeded`, `unchanged` or `failed`.
    pub outcome: &'static str,
    /// Why (empty on success).
    pub detail: String,
}

/// The change a job applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobChange {
    /// New status.
    Status(SimStatus),
    /// New profile.
    Profile(String),
}

/// One batch, applied atomically.
#[derive(Debug, Clone, Default)]
pub struct Batch {
    /// SIMs to change, grouped by the status they must still have (optimistic check).
    pub changes: Vec<(SimStatus, Vec<String>)>,
    /// Result of every item in the batch.
    pub results: Vec<ItemResult>,
    /// Events to record: (imsi, kind, detail).
    pub events: Vec<(String, String, String)>,
    /// Resume point after this batch.
    pub cursor: String,
    /// Items to add to `total` (range and filter selections learn it as they go).
    pub add_total: i64,
    /// Notifications for the HSS's outbox: (imsi, `clr` or `idr`, serving node).
    pub notifications: Vec<(Imsi, &'static str, ServingNode)>,
}

/// Returned when a SIM changed under a batch: the caller re-reads and retries.
pub const RACE: &str = "a SIM changed while the batch was applied";

const COLUMNS: &str =
    "id, tenant, action, spec, state, total, succeeded, unchanged, failed, cursor, cancel, created_by, created_at, updated_at";

fn job_from_row(r: &sqlx::any::AnyRow) -> Result<JobRow> {
    Ok(JobRow {
        id: r.try_get("id")?,
        tenant: r.try_get("tenant")?,
        action: r.try_get("action")?,
        spec: r.try_get("spec")?,
        state: r.try_get("state")?,
        total: r.try_get("total")?,
        succeeded: r.try_get("succeeded")?,
        unchanged: r.try_get("unchanged")?,
        failed: r.try_get("failed")?,
        cursor: r.try_get("cursor")?,
        cancel: r.try_get::<i64, _>("cancel")? != 0,
        created_by: r.try_get("created_by")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

impl Store {
    /// A job by id (no scope: for the runner).
    pub async fn job(&self, id: &str) -> Result<Option<JobRow>> {
        self.job_in(&Scope::Operator, id).await
    }

    /// A job visible in `scope`.
    pub async fn job_in(&self, scope: &Scope, id: &str) -> Result<Option<JobRow>> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM jobs WHERE id = $1 AND ($2 = '*' OR tenant = $2)"))
            .bind(id)
            .bind(scope.key())
            .fetch_optional(self.pool())
            .await?;
        row.map(|r| job_from_row(&r)).transpose()
    }

    /// Jobs visible in `scope`, newest id order after `cursor`.
    pub async fn list_jobs(&self, scope: &Scope, cursor: Option<&str>, limit: i64) -> Result<Vec<JobRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM jobs WHERE ($1 = '*' OR tenant = $1) AND id > $2 ORDER BY id LIMIT $3"
        ))
        .bind(scope.key())
        .bind(cursor.unwrap_or(""))
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(job_from_row).collect()
    }

    /// Jobs that were queued or running (to resume after a restart).
    pub async fn unfinished_jobs(&self) -> Result<Vec<JobRow>> {
        let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM jobs WHERE state IN ('queued', 'running') ORDER BY id"))
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(job_from_row).collect()
    }

    /// Sets a job's state.
    pub async fn set_job_state(&self, id: &str, state: &str) -> Result<()> {
        sqlx::query("UPDATE jobs SET state = $1, updated_at = $2 WHERE id = $3")
            .bind(state)
            .bind(now())
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// `(SELECT value FROM <the JSON array of strings in parameter n>)` for this backend: one parameter
    /// carries a whole batch of IMSIs, so a batch costs a few statements, not one per item.
    fn json_list(&self, n: usize) -> String {
        match self.backend() {
            crate::Backend::Sqlite => format!("(SELECT value FROM json_each(${n}))"),
            crate::Backend::Postgres => format!("(SELECT value FROM json_array_elements_text(${n}::json) AS j(value))"),
        }
    }

    /// Applies one batch in one transaction. `Err(Conflict(RACE))` when a SIM changed status since it
    /// was read; nothing of the batch is then written.
    pub async fn apply_job_batch(&self, job: &JobRow, change: &JobChange, batch: &Batch) -> Result<()> {
        let clock = std::time::Instant::now();
        let json = |v: Vec<&str>| serde_json::to_string(&v).unwrap_or_else(|_| "[]".into());
        let mut tx = self.begin().await?;
        let t = now();
        let (set_col, value) = match change {
            JobChange::Status(s) => ("status", s.as_str().to_string()),
            JobChange::Profile(p) => ("profile", p.clone()),
        };
        let update = format!(
            "UPDATE sims SET {set_col} = $1, updated_at = $2 WHERE status = $3 AND ($4 = '*' OR tenant = $4) \
             AND imsi IN {}",
            self.json_list(5)
        );
        for (from, imsis) in &batch.changes {
            if imsis.is_empty() {
                continue;
            }
            let r = sqlx::query(&update)
                .bind(&value)
                .bind(t)
                .bind(from.as_str())
                .bind(&job.tenant)
                .bind(json(imsis.iter().map(String::as_str).collect()))
                .execute(tx.conn())
                .await?;
            if r.rows_affected() != imsis.len() as u64 {
                return Err(StoreError::Conflict(RACE.into()));
            }
        }
        let updated = clock.elapsed();
        // Items and events, grouped by their shared values.
        let mut items: std::collections::BTreeMap<(&str, &str), Vec<&str>> = Default::default();
        for it in &batch.results {
            items.entry((it.outcome, it.detail.as_str())).or_default().push(it.imsi.as_str());
        }
        let insert_items = format!(
            "INSERT INTO job_items (job_id, imsi, outcome, detail) SELECT $1, value, $2, $3 FROM {} AS l WHERE true \
             ON CONFLICT (job_id, imsi) DO UPDATE SET outcome = excluded.outcome, detail = excluded.detail",
            self.json_list(4)
        );
        for ((outcome, detail), imsis) in items {
            sqlx::query(&insert_items)
                .bind(&job.id)
                .bind(outcome)
                .bind(detail)
                .bind(json(imsis))
                .execute(tx.conn())
                .await?;
        }
        let mut events: std::collections::BTreeMap<(&str, &str), Vec<&str>> = Default::default();
        for (imsi, kind, detail) in &batch.events {
            events.entry((kind.as_str(), detail.as_str())).or_default().push(imsi.as_str());
        }
        let insert_events = format!(
            "INSERT INTO events (imsi, kind, detail, at, tenant) \
             SELECT l.value, $1, $2, $3, (SELECT tenant FROM sims WHERE sims.imsi = l.value) FROM {} AS l",
            self.json_list(4)
        );
        for ((kind, detail), imsis) in events {
            sqlx::query(&insert_events).bind(kind).bind(detail).bind(t).bind(json(imsis)).execute(tx.conn()).await?;
        }
        for (imsi, kind, node) in &batch.notifications {
            tx.enqueue_notification(imsi, kind, node).await?;
        }
        let written = clock.elapsed();
        let count = |o: &str| batch.results.iter().filter(|r| r.outcome == o).count() as i64;
        sqlx::query(
            "UPDATE jobs SET succeeded = succeeded + $1, unchanged = unchanged + $2, failed = failed + $3, \
             total = total + $4, cursor = $5, state = 'running', updated_at = $6 WHERE id = $7",
        )
        .bind(count("succeeded"))
        .bind(count("unchanged"))
        .bind(count("failed"))
        .bind(batch.add_total)
        .bind(&batch.cursor)
        .bind(t)
        .bind(&job.id)
        .execute(tx.conn())
        .await?;
        tx.commit().await?;
        tracing::debug!(?updated, ?written, committed = ?clock.elapsed(), "job batch written");
        Ok(())
    }

    /// Item results of a job visible in `scope`, by IMSI after `cursor`, optionally one outcome only.
    pub async fn job_items(
        &self,
        scope: &Scope,
        job_id: &str,
        outcome: Option<&str>,
        cursor: Option<&str>,
        limit: i64,
    ) -> Result<Option<Vec<ItemResult>>> {
        if self.job_in(scope, job_id).await?.is_none() {
            return Ok(None);
        }
        let rows = sqlx::query(
            "SELECT imsi, outcome, detail FROM job_items WHERE job_id = $1 AND imsi > $2 AND ($3 = '' OR outcome = $3) \
             ORDER BY imsi LIMIT $4",
        )
        .bind(job_id)
        .bind(cursor.unwrap_or(""))
        .bind(outcome.unwrap_or(""))
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        let out = rows
            .iter()
            .map(|r| {
                let outcome: String = r.try_get("outcome")?;
                Ok(ItemResult {
                    imsi: r.try_get("imsi")?,
                    outcome: match outcome.as_str() {
                        "succeeded" => "succeeded",
                        "unchanged" => "unchanged",
                        _ => "failed",
                    },
                    detail: r.try_get("detail")?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Some(out))
    }
}

impl crate::tx::Tx {
    /// How many of `tenant`'s jobs are queued or running (read inside the transaction that may add
    /// one, for the per-tenant quota).
    pub async fn count_unfinished_jobs(&mut self, tenant: &str) -> Result<i64> {
        let r = sqlx::query("SELECT COUNT(*) AS n FROM jobs WHERE tenant = $1 AND state IN ('queued', 'running')")
            .bind(tenant)
            .fetch_one(self.conn())
            .await?;
        Ok(r.try_get::<i64, _>("n")?)
    }

    /// Creates a queued job.
    pub async fn create_job(
        &mut self,
        tenant: &str,
        action: &str,
        spec: &str,
        created_by: &str,
        total: i64,
    ) -> Result<JobRow> {
        let id = format!("job_{}", random_hex(8)?);
        let t = now();
        sqlx::query(
            "INSERT INTO jobs (id, tenant, action, spec, state, total, created_by, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, 'queued', $5, $6, $7, $7)",
        )
        .bind(&id)
        .bind(tenant)
        .bind(action)
        .bind(spec)
        .bind(total)
        .bind(created_by)
        .bind(t)
        .execute(self.conn())
        .await?;
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM jobs WHERE id = $1"))
            .bind(&id)
            .fetch_optional(self.conn())
            .await?
            .ok_or_else(|| StoreError::NotFound(id))?;
        job_from_row(&row)
    }

    /// Asks a queued or running job visible in `scope` to stop; false when there is no such job.
    pub async fn request_job_cancel(&mut self, scope: &Scope, id: &str) -> Result<bool> {
        let r = sqlx::query(
            "UPDATE jobs SET cancel = 1, updated_at = $1 WHERE id = $2 AND ($3 = '*' OR tenant = $3) \
             AND state IN ('queued', 'running')",
        )
        .bind(now())
        .bind(id)
        .bind(scope.key())
        .execute(self.conn())
        .await?;
        Ok(r.rows_affected() == 1)
    }
}
