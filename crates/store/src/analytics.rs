//! Security analytics data (issue #17, AV-1, PR-1, SUB-7): the detections of the analytics engine
//! with what the tenant's policy did about them, the tenants' analytics policies, and the keys of
//! their pseudonyms.
//!
//! Reads for the platform carry the caller's [`Scope`], so a tenant never sees, counts or changes
//! another tenant's detections (another tenant's id reads as absent). The engine's writes
//! ([`Tx::upsert_detection`]) act for the operator and take the tenant from the detection.

use sqlx::Row;
use zeroize::Zeroizing;

use crate::access::Scope;
use crate::db::Store;
use crate::error::{Result, StoreError};
use crate::tx::Tx;

/// Where a detection is in its handling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DetectionStatus {
    /// Nobody looked at it yet.
    Open,
    /// Someone looked at it and is on it.
    Acknowledged,
    /// Handled; a new occurrence opens it again.
    Resolved,
}

impl DetectionStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Acknowledged => "acknowledged",
            Self::Resolved => "resolved",
        }
    }

    /// From the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "open" => Self::Open,
            "acknowledged" => Self::Acknowledged,
            "resolved" => Self::Resolved,
            _ => return None,
        })
    }
}

/// What the tenant's policy did about a detection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DetectionAction {
    /// Nothing (no policy, score below its threshold, or not yet).
    None,
    /// An alert (an event, delivered by webhooks).
    Alert,
    /// The SIM was quarantined (only its management platform stays reachable).
    Quarantine,
    /// The SIM was suspended.
    Suspend,
    /// A firmware update of the device was asked for.
    FirmwareUpdate,
}

impl DetectionAction {
    /// Every action, in order of severity.
    pub const ALL: [DetectionAction; 5] =
        [Self::None, Self::Alert, Self::Quarantine, Self::Suspend, Self::FirmwareUpdate];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Alert => "alert",
            Self::Quarantine => "quarantine",
            Self::Suspend => "suspend",
            Self::FirmwareUpdate => "firmware_update",
        }
    }

    /// From the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

/// A detection as the engine reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct NewDetection {
    /// The engine's stable id (the same finding again has the same id).
    pub id: String,
    /// The SIM's tenant.
    pub tenant: String,
    /// The SIM.
    pub imsi: String,
    /// What was found (`scanning`, `dns_tunnelling`, `imei_change`, …).
    pub kind: String,
    /// How sure, 0.0–1.0.
    pub score: f64,
    /// JSON of what was seen (never payload values).
    pub evidence: String,
    /// Unix seconds.
    pub at: i64,
}

/// A detection as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Detection {
    /// The engine's stable id.
    pub id: String,
    /// The SIM's tenant.
    pub tenant: String,
    /// The SIM.
    pub imsi: String,
    /// What was found.
    pub kind: String,
    /// The highest score reported.
    pub score: f64,
    /// JSON of what was seen at the last report.
    pub evidence: String,
    /// Unix seconds of the first report.
    pub first_seen: i64,
    /// Unix seconds of the last report.
    pub last_seen: i64,
    /// Reports so far.
    pub count: i64,
    /// Where its handling is.
    pub status: DetectionStatus,
    /// Unix seconds of the last status change (by a person).
    pub status_at: Option<i64>,
    /// Who changed the status last.
    pub status_by: Option<String>,
    /// What the policy did.
    pub action: DetectionAction,
    /// Unix seconds of the action.
    pub action_at: Option<i64>,
    /// Who acted (the audit trail's name).
    pub action_by: Option<String>,
    /// What undoing the action needs (JSON).
    pub action_before: Option<String>,
    /// Unix seconds of the undo.
    pub action_undone_at: Option<i64>,
    /// Who undid it.
    pub action_undone_by: Option<String>,
    /// Unix seconds of the last change of the row.
    pub updated_at: i64,
}

/// Filters for listing detections.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DetectionFilter {
    /// Only this kind.
    pub kind: Option<String>,
    /// Only this status.
    pub status: Option<DetectionStatus>,
    /// Only this SIM.
    pub imsi: Option<String>,
    /// Only those seen last at or after (Unix seconds).
    pub since: Option<i64>,
    /// Only those seen first at or before (Unix seconds): with `since`, the detections seen at some
    /// time in the window.
    pub until: Option<i64>,
}

/// Where a page of detections starts: after this (last_seen, id), newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DetectionCursor {
    /// `last_seen` of the last item of the previous page.
    pub last_seen: i64,
    /// Its id.
    pub id: String,
}

/// A tenant's analytics policy: what it agreed to (PR-1).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AnalyticsPolicy {
    /// The tenant.
    pub tenant: String,
    /// The action per detection kind.
    pub actions: std::collections::BTreeMap<String, DetectionAction>,
    /// The action of kinds not named.
    pub default_action: DetectionAction,
    /// Detections scoring below this are recorded but not acted on (0.0–1.0).
    pub min_score: f64,
    /// Dashboards and exports show keyed pseudonyms instead of IMSIs.
    pub pseudonymise: bool,
    /// Days detections are kept after they were last seen.
    pub detections_days: i64,
    /// Days flow summaries are kept.
    pub flows_days: i64,
    /// Days the DNS query log is kept.
    pub dns_days: i64,
    /// The engine may use IPFIX/NetFlow records of the tenant's SIMs.
    pub use_flows: bool,
    /// The engine may use the DNS query log.
    pub use_dns: bool,
    /// The engine may use signalling (attach and authentication rates, IMEI changes).
    pub use_signalling: bool,
    /// The engine may inspect payload samples (DPI for personal data in clear).
    pub use_payload: bool,
    /// Unix seconds of the last change.
    pub updated_at: i64,
    /// Who made it.
    pub updated_by: String,
}

/// Detections of one kind first seen on one day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KindDay {
    /// Unix seconds / 86400.
    pub day: i64,
    /// The kind.
    pub kind: String,
    /// How many.
    pub count: i64,
}

/// The detections of one SIM.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceCount {
    /// The SIM.
    pub imsi: String,
    /// Its tenant.
    pub tenant: String,
    /// Detections not resolved.
    pub detections: i64,
    /// Their highest score.
    pub max_score: f64,
}

/// The detections not resolved of one kind.
#[derive(Debug, Clone, PartialEq)]
pub struct KindSummary {
    /// The kind.
    pub kind: String,
    /// How many.
    pub count: i64,
    /// Their highest score.
    pub max_score: f64,
    /// Their scores added up.
    pub score_sum: f64,
}

/// Counts of a tenant's active SIMs for its security posture.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PostureCounts {
    /// Active SIMs.
    pub active: i64,
    /// Active SIMs in quarantine.
    pub quarantined: i64,
    /// Active SIMs, neither barred nor quarantined, without allowlists of their own, by profile:
    /// those are open when their profile is.
    pub unrestricted_by_profile: Vec<(Option<String>, i64)>,
}

const COLUMNS: &str = "id, tenant, imsi, kind, score, evidence, first_seen, last_seen, count, status, status_at, \
                       status_by, action, action_at, action_by, action_before, action_undone_at, action_undone_by, \
                       updated_at";

const POLICY_COLUMNS: &str = "tenant, actions, default_action, min_score, pseudonymise, detections_days, flows_days, \
                              dns_days, use_flows, use_dns, use_signalling, use_payload, updated_at, updated_by";

/// The sealing field of pseudonym keys.
const KEY_FIELD: &str = "analytics_key";

fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt { imsi: what.to_string(), reason: e.to_string() }
}

fn detection_from_row(r: &sqlx::any::AnyRow) -> Result<Detection> {
    let id: String = r.try_get("id")?;
    let status: String = r.try_get("status")?;
    let action: String = r.try_get("action")?;
    Ok(Detection {
        status: DetectionStatus::parse(&status).ok_or_else(|| corrupt(&id, format!("status {status:?}")))?,
        action: DetectionAction::parse(&action).ok_or_else(|| corrupt(&id, format!("action {action:?}")))?,
        tenant: r.try_get("tenant")?,
        imsi: r.try_get("imsi")?,
        kind: r.try_get("kind")?,
        score: r.try_get("score")?,
        evidence: r.try_get("evidence")?,
        first_seen: r.try_get("first_seen")?,
        last_seen: r.try_get("last_seen")?,
        count: r.try_get("count")?,
        status_at: r.try_get("status_at")?,
        status_by: r.try_get("status_by")?,
        action_at: r.try_get("action_at")?,
        action_by: r.try_get("action_by")?,
        action_before: r.try_get("action_before")?,
        action_undone_at: r.try_get("action_undone_at")?,
        action_undone_by: r.try_get("action_undone_by")?,
        updated_at: r.try_get("updated_at")?,
        id,
    })
}

fn policy_from_row(r: &sqlx::any::AnyRow) -> Result<AnalyticsPolicy> {
    let tenant: String = r.try_get("tenant")?;
    let actions: String = r.try_get("actions")?;
    let default_action: String = r.try_get("default_action")?;
    let flag = |c: &str| -> Result<bool> { Ok(r.try_get::<i64, _>(c)? != 0) };
    Ok(AnalyticsPolicy {
        actions: serde_json::from_str(&actions).map_err(|e| corrupt(&tenant, e))?,
        default_action: DetectionAction::parse(&default_action)
            .ok_or_else(|| corrupt(&tenant, format!("action {default_action:?}")))?,
        min_score: r.try_get("min_score")?,
        pseudonymise: flag("pseudonymise")?,
        detections_days: r.try_get("detections_days")?,
        flows_days: r.try_get("flows_days")?,
        dns_days: r.try_get("dns_days")?,
        use_flows: flag("use_flows")?,
        use_dns: flag("use_dns")?,
        use_signalling: flag("use_signalling")?,
        use_payload: flag("use_payload")?,
        updated_at: r.try_get("updated_at")?,
        updated_by: r.try_get("updated_by")?,
        tenant,
    })
}

impl Store {
    /// A detection if it is visible in `scope` (another tenant's id reads as absent).
    pub async fn detection_in(&self, scope: &Scope, id: &str) -> Result<Option<Detection>> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM detections WHERE id = $1 AND ($2 = '*' OR tenant = $2)"))
            .bind(id)
            .bind(scope.key())
            .fetch_optional(self.pool())
            .await?;
        row.map(|r| detection_from_row(&r)).transpose()
    }

    /// Detections visible in `scope`, newest (by last report) first, after `cursor`, at most
    /// `limit`. The statement names only the conditions that apply.
    pub async fn list_detections(
        &self,
        scope: &Scope,
        filter: &DetectionFilter,
        cursor: Option<&DetectionCursor>,
        limit: i64,
    ) -> Result<Vec<Detection>> {
        enum V<'a> {
            T(&'a str),
            I(i64),
        }
        let mut conditions: Vec<String> = vec![];
        let mut values: Vec<V<'_>> = vec![];
        if let Scope::Tenant(t) = scope {
            values.push(V::T(t));
            conditions.push(format!("tenant = ${}", values.len()));
        }
        if let Some(k) = &filter.kind {
            values.push(V::T(k));
            conditions.push(format!("kind = ${}", values.len()));
        }
        if let Some(s) = filter.status {
            values.push(V::T(s.as_str()));
            conditions.push(format!("status = ${}", values.len()));
        }
        if let Some(i) = &filter.imsi {
            values.push(V::T(i));
            conditions.push(format!("imsi = ${}", values.len()));
        }
        if let Some(since) = filter.since {
            values.push(V::I(since));
            conditions.push(format!("last_seen >= ${}", values.len()));
        }
        if let Some(until) = filter.until {
            values.push(V::I(until));
            conditions.push(format!("first_seen <= ${}", values.len()));
        }
        if let Some(c) = cursor {
            values.push(V::I(c.last_seen));
            let n = values.len();
            values.push(V::T(&c.id));
            conditions.push(format!("(last_seen < ${n} OR (last_seen = ${n} AND id < ${}))", n + 1));
        }
        let filter_sql =
            if conditions.is_empty() { String::new() } else { format!("WHERE {}", conditions.join(" AND ")) };
        let sql = format!(
            "SELECT {COLUMNS} FROM detections {filter_sql} ORDER BY last_seen DESC, id DESC LIMIT ${}",
            values.len() + 1
        );
        let mut q = sqlx::query(&sql);
        for v in values {
            q = match v {
                V::T(t) => q.bind(t),
                V::I(i) => q.bind(i),
            };
        }
        let rows = q.bind(limit).fetch_all(self.pool()).await?;
        rows.iter().map(detection_from_row).collect()
    }

    /// Detections visible in `scope` first seen at or after `since`, counted per kind and day.
    pub async fn detections_by_kind_and_day(&self, scope: &Scope, since: i64) -> Result<Vec<KindDay>> {
        let rows = sqlx::query(
            "SELECT first_seen / 86400 AS day, kind, COUNT(*) AS n FROM detections \
             WHERE ($1 = '*' OR tenant = $1) AND first_seen >= $2 GROUP BY first_seen / 86400, kind ORDER BY day, kind",
        )
        .bind(scope.key())
        .bind(since)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| Ok(KindDay { day: r.try_get("day")?, kind: r.try_get("kind")?, count: r.try_get("n")? }))
            .collect()
    }

    /// The SIMs with the most serious detections not resolved and seen at or after `since`, visible in
    /// `scope`: highest score first, then most detections, at most `limit`.
    pub async fn top_detected_devices(&self, scope: &Scope, since: i64, limit: i64) -> Result<Vec<DeviceCount>> {
        let rows = sqlx::query(
            "SELECT imsi, tenant, COUNT(*) AS n, MAX(score) AS s FROM detections \
             WHERE ($1 = '*' OR tenant = $1) AND last_seen >= $2 AND status <> 'resolved' \
             GROUP BY imsi, tenant ORDER BY s DESC, n DESC, imsi LIMIT $3",
        )
        .bind(scope.key())
        .bind(since)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(DeviceCount {
                    imsi: r.try_get("imsi")?,
                    tenant: r.try_get("tenant")?,
                    detections: r.try_get("n")?,
                    max_score: r.try_get("s")?,
                })
            })
            .collect()
    }

    /// Actions taken at or after `since` on detections visible in `scope`, counted per action; the
    /// second count is how many of them were undone.
    pub async fn detection_action_counts(&self, scope: &Scope, since: i64) -> Result<Vec<(DetectionAction, i64, i64)>> {
        let rows = sqlx::query(
            "SELECT action, COUNT(*) AS n, COUNT(action_undone_at) AS undone FROM detections \
             WHERE ($1 = '*' OR tenant = $1) AND action <> 'none' AND action_at >= $2 GROUP BY action ORDER BY action",
        )
        .bind(scope.key())
        .bind(since)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                let a: String = r.try_get("action")?;
                let action =
                    DetectionAction::parse(&a).ok_or_else(|| corrupt("detections", format!("action {a:?}")))?;
                Ok((action, r.try_get("n")?, r.try_get("undone")?))
            })
            .collect()
    }

    /// The detections not resolved visible in `scope`, summed up per kind.
    pub async fn unresolved_detections_by_kind(&self, scope: &Scope) -> Result<Vec<KindSummary>> {
        let rows = sqlx::query(
            "SELECT kind, COUNT(*) AS n, MAX(score) AS s, SUM(score) AS total FROM detections \
             WHERE ($1 = '*' OR tenant = $1) AND status <> 'resolved' GROUP BY kind ORDER BY kind",
        )
        .bind(scope.key())
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(KindSummary {
                    kind: r.try_get("kind")?,
                    count: r.try_get("n")?,
                    max_score: r.try_get("s")?,
                    score_sum: r.try_get("total")?,
                })
            })
            .collect()
    }

    /// The counts of a tenant's security posture (see [`PostureCounts`]).
    pub async fn posture_counts(&self, tenant: &str) -> Result<PostureCounts> {
        let one = |sql: &'static str| async move {
            let r = sqlx::query(sql).bind(tenant).fetch_one(self.pool()).await?;
            Ok::<i64, StoreError>(r.try_get("n")?)
        };
        let active = one("SELECT COUNT(*) AS n FROM sims WHERE tenant = $1 AND status = 'active'").await?;
        let quarantined = one("SELECT COUNT(*) AS n FROM sim_policies p JOIN sims s ON s.imsi = p.imsi \
             WHERE s.tenant = $1 AND s.status = 'active' AND p.quarantined_at IS NOT NULL")
        .await?;
        let rows = sqlx::query(
            "SELECT s.profile AS profile, COUNT(*) AS n FROM sims s LEFT JOIN sim_policies p ON p.imsi = s.imsi \
             WHERE s.tenant = $1 AND s.status = 'active' AND s.data_barred = 0 AND (p.imsi IS NULL OR \
             (p.quarantined_at IS NULL AND p.allow_prefixes = '[]' AND p.allow_domains = '[]')) \
             GROUP BY s.profile ORDER BY s.profile",
        )
        .bind(tenant)
        .fetch_all(self.pool())
        .await?;
        let unrestricted_by_profile =
            rows.iter().map(|r| Ok((r.try_get("profile")?, r.try_get("n")?))).collect::<Result<_>>()?;
        Ok(PostureCounts { active, quarantined, unrestricted_by_profile })
    }

    /// Deletes the detections of `tenant` (every tenant when `None`) last seen before `before`,
    /// except those whose quarantine or suspension is still in force (undoing it needs the row);
    /// returns how many.
    pub async fn prune_detections(&self, tenant: Option<&str>, before: i64) -> Result<u64> {
        let n = sqlx::query(
            "DELETE FROM detections WHERE last_seen < $1 AND ($2 = '*' OR tenant = $2) \
             AND NOT (action IN ('quarantine', 'suspend') AND action_undone_at IS NULL)",
        )
        .bind(before)
        .bind(tenant.unwrap_or("*"))
        .execute(self.pool())
        .await?
        .rows_affected();
        Ok(n)
    }

    /// A tenant's analytics policy; `None` when it agreed to none.
    pub async fn analytics_policy(&self, tenant: &str) -> Result<Option<AnalyticsPolicy>> {
        let row = sqlx::query(&format!("SELECT {POLICY_COLUMNS} FROM analytics_policies WHERE tenant = $1"))
            .bind(tenant)
            .fetch_optional(self.pool())
            .await?;
        row.map(|r| policy_from_row(&r)).transpose()
    }

    /// Every tenant's analytics policy (for retention).
    pub async fn analytics_policies(&self) -> Result<Vec<AnalyticsPolicy>> {
        let rows = sqlx::query(&format!("SELECT {POLICY_COLUMNS} FROM analytics_policies ORDER BY tenant"))
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(policy_from_row).collect()
    }

    /// The key of `tenant`'s pseudonyms, made (random, sealed under the KEK) on first use; every
    /// instance on the database gets the same key.
    pub async fn analytics_key(&self, tenant: &str) -> Result<Zeroizing<Vec<u8>>> {
        let read = || async {
            let row = sqlx::query("SELECT key_sealed FROM analytics_keys WHERE tenant = $1")
                .bind(tenant)
                .fetch_optional(self.pool())
                .await?;
            row.map(|r| r.try_get::<Vec<u8>, _>("key_sealed")).transpose().map_err(StoreError::from)
        };
        if let Some(blob) = read().await? {
            return Ok(self.keys().open(tenant, KEY_FIELD, &blob)?);
        }
        let mut key = Zeroizing::new(vec![0u8; 32]);
        auc::fill_random(&mut key).map_err(|e| StoreError::Conflict(e.to_string()))?;
        let sealed = self.keys().seal(tenant, KEY_FIELD, &key)?;
        sqlx::query(
            "INSERT INTO analytics_keys (tenant, key_sealed, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (tenant) DO NOTHING",
        )
        .bind(tenant)
        .bind(sealed)
        .bind(crate::now())
        .execute(self.pool())
        .await?;
        let blob = read().await?.ok_or_else(|| StoreError::NotFound(format!("analytics key of {tenant}")))?;
        Ok(self.keys().open(tenant, KEY_FIELD, &blob)?)
    }

    /// Re-seals the pseudonym keys not sealed with the current KEK (part of [`Store::reseal_all`]).
    pub(crate) async fn reseal_analytics_keys(&self) -> Result<u64> {
        let keys = self.keyring();
        let rows = sqlx::query("SELECT tenant, key_sealed FROM analytics_keys").fetch_all(self.pool()).await?;
        let mut tx = self.pool().begin().await?;
        let mut done = 0;
        for r in &rows {
            let (tenant, blob): (String, Vec<u8>) = (r.try_get("tenant")?, r.try_get("key_sealed")?);
            if crate::seal::Keyring::blob_kek(&blob) == Some(keys.current_id()) {
                continue;
            }
            let sealed = keys.seal(&tenant, KEY_FIELD, &keys.open(&tenant, KEY_FIELD, &blob)?)?;
            sqlx::query("UPDATE analytics_keys SET key_sealed = $1 WHERE tenant = $2")
                .bind(sealed)
                .bind(&tenant)
                .execute(&mut *tx)
                .await?;
            done += 1;
        }
        tx.commit().await?;
        Ok(done)
    }
}

impl Tx {
    /// A detection by id, whatever its tenant (the engine's and the use cases' own reads).
    pub async fn detection(&mut self, id: &str) -> Result<Option<Detection>> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM detections WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.conn())
            .await?;
        row.map(|r| detection_from_row(&r)).transpose()
    }

    /// Records a report: a new id is stored open with no action; a known one counts one more, moves
    /// `last_seen` forward, keeps the highest score, takes the new evidence and, when it was resolved,
    /// opens again. An id already stored for another tenant is refused (the ids of two tenants never
    /// merge). Returns the row as it is now.
    pub async fn upsert_detection(&mut self, d: &NewDetection) -> Result<Detection> {
        let n = sqlx::query(
            "INSERT INTO detections (id, tenant, imsi, kind, score, evidence, first_seen, last_seen, count, status, \
             action, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7, 1, 'open', 'none', $7) \
             ON CONFLICT (id) DO UPDATE SET count = detections.count + 1, \
             last_seen = CASE WHEN excluded.last_seen > detections.last_seen THEN excluded.last_seen \
             ELSE detections.last_seen END, \
             score = CASE WHEN excluded.score > detections.score THEN excluded.score ELSE detections.score END, \
             evidence = excluded.evidence, \
             status = CASE WHEN detections.status = 'resolved' THEN 'open' ELSE detections.status END, \
             updated_at = excluded.updated_at \
             WHERE detections.tenant = excluded.tenant AND detections.imsi = excluded.imsi",
        )
        .bind(&d.id)
        .bind(&d.tenant)
        .bind(&d.imsi)
        .bind(&d.kind)
        .bind(d.score)
        .bind(&d.evidence)
        .bind(d.at)
        .execute(self.conn())
        .await?
        .rows_affected();
        if n == 0 {
            return Err(StoreError::Conflict(format!("detection {} belongs to another SIM", d.id)));
        }
        self.detection(&d.id).await?.ok_or_else(|| StoreError::NotFound(format!("detection {}", d.id)))
    }

    /// Sets a detection's status if it is visible in `scope`; false when it is not.
    pub async fn set_detection_status(
        &mut self,
        scope: &Scope,
        id: &str,
        status: DetectionStatus,
        by: &str,
        at: i64,
    ) -> Result<bool> {
        let n = sqlx::query(
            "UPDATE detections SET status = $1, status_at = $2, status_by = $3, updated_at = $2 \
             WHERE id = $4 AND ($5 = '*' OR tenant = $5)",
        )
        .bind(status.as_str())
        .bind(at)
        .bind(by)
        .bind(id)
        .bind(scope.key())
        .execute(self.conn())
        .await?
        .rows_affected();
        Ok(n > 0)
    }

    /// Records the action taken on a detection that had none (guarded: false when another writer
    /// acted first). `before` is what undoing it needs.
    pub async fn set_detection_action(
        &mut self,
        id: &str,
        action: DetectionAction,
        by: &str,
        before: Option<&str>,
        at: i64,
    ) -> Result<bool> {
        let n = sqlx::query(
            "UPDATE detections SET action = $1, action_at = $2, action_by = $3, action_before = $4, \
             action_undone_at = NULL, action_undone_by = NULL, updated_at = $2 WHERE id = $5 AND action = 'none'",
        )
        .bind(action.as_str())
        .bind(at)
        .bind(by)
        .bind(before)
        .bind(id)
        .execute(self.conn())
        .await?
        .rows_affected();
        Ok(n > 0)
    }

    /// Marks a detection's action undone if it is visible in `scope` and not undone yet (guarded:
    /// false otherwise).
    pub async fn set_detection_undone(&mut self, scope: &Scope, id: &str, by: &str, at: i64) -> Result<bool> {
        let n = sqlx::query(
            "UPDATE detections SET action_undone_at = $1, action_undone_by = $2, updated_at = $1 \
             WHERE id = $3 AND ($4 = '*' OR tenant = $4) AND action <> 'none' AND action_undone_at IS NULL",
        )
        .bind(at)
        .bind(by)
        .bind(id)
        .bind(scope.key())
        .execute(self.conn())
        .await?
        .rows_affected();
        Ok(n > 0)
    }

    /// Creates or replaces a tenant's analytics policy.
    pub async fn put_analytics_policy(&mut self, p: &AnalyticsPolicy) -> Result<()> {
        let actions = serde_json::to_string(&p.actions).map_err(|e| StoreError::Conflict(e.to_string()))?;
        sqlx::query(&format!(
            "INSERT INTO analytics_policies ({POLICY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, \
             $12, $13, $14) ON CONFLICT (tenant) DO UPDATE SET actions = excluded.actions, \
             default_action = excluded.default_action, min_score = excluded.min_score, \
             pseudonymise = excluded.pseudonymise, detections_days = excluded.detections_days, \
             flows_days = excluded.flows_days, dns_days = excluded.dns_days, use_flows = excluded.use_flows, \
             use_dns = excluded.use_dns, use_signalling = excluded.use_signalling, \
             use_payload = excluded.use_payload, updated_at = excluded.updated_at, updated_by = excluded.updated_by"
        ))
        .bind(&p.tenant)
        .bind(actions)
        .bind(p.default_action.as_str())
        .bind(p.min_score)
        .bind(i64::from(p.pseudonymise))
        .bind(p.detections_days)
        .bind(p.flows_days)
        .bind(p.dns_days)
        .bind(i64::from(p.use_flows))
        .bind(i64::from(p.use_dns))
        .bind(i64::from(p.use_signalling))
        .bind(i64::from(p.use_payload))
        .bind(p.updated_at)
        .bind(&p.updated_by)
        .execute(self.conn())
        .await?;
        Ok(())
    }
}
