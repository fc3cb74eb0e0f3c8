//! Traffic policy data (SUB-2, AV-1): per-SIM allowlist overrides and quarantine, the PCRF's Gx
//! sessions, per-SIM usage per hour and the DNS firewall's query log.
//!
//! Reads for the platform carry the caller's [`Scope`], so a tenant never sees another tenant's
//! SIMs' policies, usage or queries; the PCRF and the DNS firewall (which act for the operator)
//! read unscoped.

use sqlx::Row;

use crate::access::Scope;
use crate::columns::Columns;
use crate::db::{sim_from_row, Store, SIM_COLUMNS};
use crate::error::{Result, StoreError};
use crate::model::Sim;
use crate::tx::Tx;
use ids::{DomainPattern, Imsi, PrefixRule};

/// How a SIM's own allowlists combine with its profile's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OverrideMode {
    /// The profile's entries and the SIM's (the default).
    #[default]
    Extend,
    /// The SIM's entries only.
    Replace,
}

impl OverrideMode {
    fn as_db(self) -> &'static str {
        match self {
            Self::Extend => "extend",
            Self::Replace => "replace",
        }
    }
}

/// A SIM in quarantine: only its tenant's management platform is reachable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quarantine {
    /// Unix seconds.
    pub since: i64,
    /// Why, in the words of who put it there.
    pub reason: String,
    /// Who, as the audit trail names them.
    pub by: String,
}

/// A SIM's own traffic policy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SimPolicy {
    /// How the lists below combine with the profile's.
    pub mode: OverrideMode,
    /// Extra (or, with [`OverrideMode::Replace`], the only) prefixes.
    pub allow_prefixes: Vec<PrefixRule>,
    /// Extra (or the only) names.
    pub allow_domains: Vec<DomainPattern>,
    /// Set while the SIM is quarantined.
    pub quarantine: Option<Quarantine>,
    /// Unix seconds of the last change.
    pub updated_at: i64,
}

/// A Gx session as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GxSession {
    /// Session-Id.
    pub session_id: String,
    /// The subscriber.
    pub imsi: String,
    /// The SIM's tenant.
    pub tenant: String,
    /// The PCEF's Origin-Host.
    pub pcef_host: String,
    /// The PCEF's Origin-Realm.
    pub pcef_realm: String,
    /// The PCEF's Origin-State-Id when the session began.
    pub pcef_state: Option<u32>,
    /// Called-Station-Id (APN).
    pub apn: String,
    /// Framed-IP-Address.
    pub framed_ip: Option<String>,
    /// Framed-IPv6-Prefix as `addr/len`.
    pub framed_ipv6: Option<String>,
    /// RAT-Type.
    pub rat_type: Option<u32>,
    /// Serving PLMN (3GPP-SGSN-MCC-MNC).
    pub plmn: Option<String>,
    /// Names of the PCC rules installed.
    pub rules: Vec<String>,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub updated_at: i64,
}

/// One change of the PCRF's state, written with others in one transaction
/// ([`Store::apply_gx_changes`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GxChange {
    /// A new or updated session.
    Put(GxSession),
    /// A session that ended.
    Delete(String),
    /// Octets reported for a SIM's hour (added to what is there).
    Usage {
        /// The SIM.
        imsi: String,
        /// Its tenant.
        tenant: String,
        /// Unix seconds / 3600.
        hour: i64,
        /// Uplink octets.
        up: i64,
        /// Downlink octets.
        down: i64,
    },
    /// An event of the SIM's tenant (`gx.session_released`).
    Event {
        /// The tenant.
        tenant: String,
        /// The SIM.
        imsi: String,
        /// The event kind's name.
        kind: String,
        /// Its detail.
        detail: String,
    },
}

/// Octets of one SIM in one hour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    /// Unix seconds / 3600.
    pub hour: i64,
    /// Uplink octets (from the device).
    pub octets_up: i64,
    /// Downlink octets (to the device).
    pub octets_down: i64,
}

/// One DNS query as logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsQuery {
    /// Unix milliseconds.
    pub at_ms: i64,
    /// The SIM's tenant.
    pub tenant: String,
    /// The SIM.
    pub imsi: String,
    /// The name asked.
    pub name: String,
    /// The query type (1 A, 28 AAAA, …).
    pub qtype: u16,
    /// `allowed`, `refused`, `rate_limited` or `upstream_failed`.
    pub verdict: String,
    /// The answer's RCODE.
    pub rcode: u16,
    /// The addresses answered.
    pub answers: Vec<String>,
}

const GX_COLUMNS: &str = "session_id, imsi, tenant, pcef_host, pcef_realm, pcef_state, apn, framed_ip, framed_ipv6, \
                          rat_type, plmn, rules, created_at, updated_at";

fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt { imsi: what.to_string(), reason: e.to_string() }
}

fn policy_from_row(r: &sqlx::any::AnyRow) -> Result<SimPolicy> {
    policy_from_columns(r, "")
}

/// A policy from its columns named with `prefix` (the joined read of [`Store::sim_with_policy`]
/// names them `p_…` beside the SIM's own).
fn policy_from_columns(r: &impl Columns, prefix: &str) -> Result<SimPolicy> {
    let col = |name: &str| format!("{prefix}{name}");
    let imsi = r.text(&col("imsi"))?;
    let mode = match r.text(&col("mode"))?.as_str() {
        "extend" => OverrideMode::Extend,
        "replace" => OverrideMode::Replace,
        other => return Err(corrupt(&imsi, format!("policy mode {other:?}"))),
    };
    let prefixes = r.text(&col("allow_prefixes"))?;
    let domains = r.text(&col("allow_domains"))?;
    let at = r.int_opt(&col("quarantined_at"))?;
    Ok(SimPolicy {
        mode,
        allow_prefixes: serde_json::from_str(&prefixes).map_err(|e| corrupt(&imsi, e))?,
        allow_domains: serde_json::from_str(&domains).map_err(|e| corrupt(&imsi, e))?,
        quarantine: match at {
            Some(since) => Some(Quarantine {
                since,
                reason: r.text_opt(&col("quarantine_reason"))?.unwrap_or_default(),
                by: r.text_opt(&col("quarantined_by"))?.unwrap_or_default(),
            }),
            None => None,
        },
        updated_at: r.int(&col("updated_at"))?,
    })
}

/// The statement of [`Store::sim_with_policy`]: the SIM's columns and its own policy's, named `p_…`.
pub(crate) fn sim_with_policy_sql() -> &'static str {
    static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        let sims: Vec<String> = SIM_COLUMNS.split(',').map(|c| format!("s.{}", c.trim())).collect();
        let policies: Vec<String> = POLICY_COLUMNS.split(',').map(|c| format!("p.{0} AS p_{0}", c.trim())).collect();
        format!(
            "SELECT {}, {} FROM sims s LEFT JOIN sim_policies p ON p.imsi = s.imsi WHERE s.imsi = $1",
            sims.join(", "),
            policies.join(", ")
        )
    });
    SQL.as_str()
}

/// The SIM and its own policy (if it has one) of a row of [`sim_with_policy_sql`].
pub(crate) fn sim_with_policy_from_row(row: &impl Columns) -> Result<(Sim, Option<SimPolicy>)> {
    let sim = sim_from_row(row)?;
    let policy = match row.text_opt("p_imsi")? {
        Some(_) => Some(policy_from_columns(row, "p_")?),
        None => None,
    };
    Ok((sim, policy))
}

fn gx_from_row(r: &sqlx::any::AnyRow) -> Result<GxSession> {
    let session_id: String = r.try_get("session_id")?;
    let rules: String = r.try_get("rules")?;
    Ok(GxSession {
        rules: serde_json::from_str(&rules).map_err(|e| corrupt(&session_id, e))?,
        imsi: r.try_get("imsi")?,
        tenant: r.try_get("tenant")?,
        pcef_host: r.try_get("pcef_host")?,
        pcef_realm: r.try_get("pcef_realm")?,
        pcef_state: r.try_get::<Option<i64>, _>("pcef_state")?.map(|v| v as u32),
        apn: r.try_get("apn")?,
        framed_ip: r.try_get("framed_ip")?,
        framed_ipv6: r.try_get("framed_ipv6")?,
        rat_type: r.try_get::<Option<i64>, _>("rat_type")?.map(|v| v as u32),
        plmn: r.try_get("plmn")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        session_id,
    })
}

/// Rows per multi-row statement of the batched writer (14 parameters each for sessions).
const ROWS_PER_STATEMENT: usize = 64;

/// `($1, …, $n), ($n+1, …)`: `rows` groups of `width` numbered placeholders.
fn placeholders(rows: usize, width: usize) -> String {
    (0..rows)
        .map(|r| {
            let cols: Vec<String> = (1..=width).map(|c| format!("${}", r * width + c)).collect();
            format!("({})", cols.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The statement that inserts or updates `rows` sessions with distinct Session-Ids (14 parameters
/// each, in [`GX_COLUMNS`] order).
pub(crate) fn put_gx_sql(rows: usize) -> String {
    format!(
        "INSERT INTO gx_sessions ({GX_COLUMNS}) VALUES {} \
         ON CONFLICT (session_id) DO UPDATE SET imsi = excluded.imsi, tenant = excluded.tenant, \
         pcef_host = excluded.pcef_host, pcef_realm = excluded.pcef_realm, pcef_state = excluded.pcef_state, \
         apn = excluded.apn, framed_ip = excluded.framed_ip, framed_ipv6 = excluded.framed_ipv6, \
         rat_type = excluded.rat_type, plmn = excluded.plmn, rules = excluded.rules, updated_at = excluded.updated_at",
        placeholders(rows, 14)
    )
}

/// Forgets one session.
pub(crate) const DELETE_GX_SQL: &str = "DELETE FROM gx_sessions WHERE session_id = $1";

/// Inserts or updates sessions with distinct Session-Ids in one statement.
async fn put_gx_rows(conn: &mut sqlx::AnyConnection, rows: &[&GxSession]) -> Result<()> {
    let sql = put_gx_sql(rows.len());
    let mut q = sqlx::query(&sql);
    for s in rows {
        let rules = serde_json::to_string(&s.rules).map_err(|e| StoreError::Conflict(e.to_string()))?;
        q = q
            .bind(s.session_id.clone())
            .bind(s.imsi.clone())
            .bind(s.tenant.clone())
            .bind(s.pcef_host.clone())
            .bind(s.pcef_realm.clone())
            .bind(s.pcef_state.map(i64::from))
            .bind(s.apn.clone())
            .bind(s.framed_ip.clone())
            .bind(s.framed_ipv6.clone())
            .bind(s.rat_type.map(i64::from))
            .bind(s.plmn.clone())
            .bind(rules)
            .bind(s.created_at)
            .bind(s.updated_at);
    }
    q.execute(conn).await?;
    Ok(())
}

async fn put_gx(conn: &mut sqlx::AnyConnection, s: &GxSession) -> Result<()> {
    put_gx_rows(conn, &[s]).await
}

/// One SIM-hour's octets to add.
struct UsageRow<'a> {
    imsi: &'a str,
    tenant: &'a str,
    hour: i64,
    up: i64,
    down: i64,
}

/// The statement that adds octets to `rows` distinct SIM-hours (5 parameters each: IMSI, hour,
/// tenant, up, down).
pub(crate) fn add_usage_sql(rows: usize) -> String {
    format!(
        "INSERT INTO sim_usage (imsi, hour, tenant, octets_up, octets_down) VALUES {} \
         ON CONFLICT (imsi, hour) DO UPDATE SET octets_up = sim_usage.octets_up + excluded.octets_up, \
         octets_down = sim_usage.octets_down + excluded.octets_down",
        placeholders(rows, 5)
    )
}

/// Adds octets to SIM-hours (distinct (IMSI, hour) pairs) in one statement.
async fn add_usage_rows(conn: &mut sqlx::AnyConnection, rows: &[UsageRow<'_>]) -> Result<()> {
    let sql = add_usage_sql(rows.len());
    let mut q = sqlx::query(&sql);
    for r in rows {
        q = q.bind(r.imsi.to_string()).bind(r.hour).bind(r.tenant.to_string()).bind(r.up).bind(r.down);
    }
    q.execute(conn).await?;
    Ok(())
}

async fn add_usage(
    conn: &mut sqlx::AnyConnection,
    imsi: &str,
    tenant: &str,
    hour: i64,
    up: i64,
    down: i64,
) -> Result<()> {
    add_usage_rows(conn, &[UsageRow { imsi, tenant, hour, up, down }]).await
}

const POLICY_COLUMNS: &str =
    "imsi, mode, allow_prefixes, allow_domains, quarantined_at, quarantine_reason, quarantined_by, updated_at";

impl Store {
    /// A SIM's own policy (for the PCRF and the DNS firewall, which act for the operator).
    pub async fn sim_policy(&self, imsi: &Imsi) -> Result<Option<SimPolicy>> {
        let row = sqlx::query(&format!("SELECT {POLICY_COLUMNS} FROM sim_policies WHERE imsi = $1"))
            .bind(imsi.as_str())
            .fetch_optional(self.pool())
            .await?;
        row.map(|r| policy_from_row(&r)).transpose()
    }

    /// A SIM and its own policy in one read (the PCRF's load of a subscriber on a cache miss: one
    /// round trip instead of two).
    /// On SQLite through the native connections (`sqlite_native`).
    pub async fn sim_with_policy(&self, imsi: &Imsi) -> Result<Option<(Sim, Option<SimPolicy>)>> {
        if let Some(native) = self.native() {
            return native.sim_with_policy(imsi).await;
        }
        let row = sqlx::query(sim_with_policy_sql()).bind(imsi.as_str()).fetch_optional(self.pool()).await?;
        row.as_ref().map(sim_with_policy_from_row).transpose()
    }

    /// A SIM's own policy if the SIM is visible in `scope`.
    pub async fn sim_policy_in(&self, scope: &Scope, imsi: &Imsi) -> Result<Option<SimPolicy>> {
        let row = sqlx::query(&format!(
            "SELECT {POLICY_COLUMNS} FROM sim_policies WHERE imsi = $1 AND ($2 = '*' OR tenant = $2)"
        ))
        .bind(imsi.as_str())
        .bind(scope.key())
        .fetch_optional(self.pool())
        .await?;
        row.map(|r| policy_from_row(&r)).transpose()
    }

    /// Every Gx session (loaded when the PCRF starts).
    pub async fn gx_sessions(&self) -> Result<Vec<GxSession>> {
        let rows = sqlx::query(&format!("SELECT {GX_COLUMNS} FROM gx_sessions ORDER BY created_at, session_id"))
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(gx_from_row).collect()
    }

    /// The Gx sessions of a SIM visible in `scope`.
    pub async fn gx_sessions_in(&self, scope: &Scope, imsi: &Imsi) -> Result<Vec<GxSession>> {
        let rows = sqlx::query(&format!(
            "SELECT {GX_COLUMNS} FROM gx_sessions WHERE imsi = $1 AND ($2 = '*' OR tenant = $2) ORDER BY created_at"
        ))
        .bind(imsi.as_str())
        .bind(scope.key())
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(gx_from_row).collect()
    }

    /// Stores a new or updated Gx session.
    pub async fn put_gx_session(&self, s: &GxSession) -> Result<()> {
        let mut conn = self.pool().acquire().await?;
        put_gx(&mut conn, s).await
    }

    /// Writes a batch of PCRF changes in one transaction, in order (the PCRF's background writer):
    /// either all of them are written or none. Consecutive changes of one kind go in multi-row
    /// statements: the last row of each session, the sum of each SIM-hour's octets. On SQLite the
    /// changes go one by one through prepared statements on the native writer connection
    /// (`sqlite_native`), which costs less than building the multi-row statements.
    pub async fn apply_gx_changes(&self, changes: &[GxChange]) -> Result<()> {
        if let Some(native) = self.native() {
            return native.apply_gx_changes(changes.to_vec()).await;
        }
        self.apply_gx_changes_sqlx(changes).await
    }

    /// [`Store::apply_gx_changes`] of a batch the caller hands over: on SQLite it is moved to the
    /// writer connection's thread instead of copied.
    pub async fn apply_gx_batch(&self, changes: Vec<GxChange>) -> Result<()> {
        if let Some(native) = self.native() {
            return native.apply_gx_changes(changes).await;
        }
        self.apply_gx_changes_sqlx(&changes).await
    }

    async fn apply_gx_changes_sqlx(&self, changes: &[GxChange]) -> Result<()> {
        let mut tx = self.begin().await?;
        let mut i = 0;
        while i < changes.len() {
            match &changes[i] {
                GxChange::Put(_) => {
                    let run: Vec<&GxSession> = changes[i..]
                        .iter()
                        .map_while(|c| if let GxChange::Put(s) = c { Some(s) } else { None })
                        .collect();
                    i += run.len();
                    // The last row of each session wins (one statement may not update a row twice).
                    let mut seen = std::collections::HashSet::new();
                    let mut rows: Vec<&GxSession> =
                        run.into_iter().rev().filter(|s| seen.insert(s.session_id.as_str())).collect();
                    rows.reverse();
                    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
                        put_gx_rows(tx.conn(), chunk).await?;
                    }
                }
                GxChange::Delete(_) => {
                    let ids: Vec<&str> = changes[i..]
                        .iter()
                        .map_while(|c| if let GxChange::Delete(id) = c { Some(id.as_str()) } else { None })
                        .collect();
                    i += ids.len();
                    for chunk in ids.chunks(ROWS_PER_STATEMENT * 4) {
                        let list: Vec<String> = (1..=chunk.len()).map(|n| format!("${n}")).collect();
                        let sql = format!("DELETE FROM gx_sessions WHERE session_id IN ({})", list.join(", "));
                        let mut q = sqlx::query(&sql);
                        for id in chunk {
                            q = q.bind(id.to_string());
                        }
                        q.execute(tx.conn()).await?;
                    }
                }
                GxChange::Usage { .. } => {
                    let mut sums: Vec<UsageRow<'_>> = Vec::new();
                    while let Some(GxChange::Usage { imsi, tenant, hour, up, down }) = changes.get(i) {
                        match sums.iter_mut().find(|r| r.imsi == imsi.as_str() && r.hour == *hour) {
                            Some(r) => {
                                r.up = r.up.saturating_add(*up);
                                r.down = r.down.saturating_add(*down);
                            }
                            None => sums.push(UsageRow { imsi, tenant, hour: *hour, up: *up, down: *down }),
                        }
                        i += 1;
                    }
                    for chunk in sums.chunks(ROWS_PER_STATEMENT) {
                        add_usage_rows(tx.conn(), chunk).await?;
                    }
                }
                GxChange::Event { tenant, imsi, kind, detail } => {
                    tx.record_tenant_event(tenant, Some(imsi), kind, detail).await?;
                    i += 1;
                }
            }
        }
        tx.commit().await
    }

    /// Forgets a Gx session; true when it was stored.
    pub async fn delete_gx_session(&self, session_id: &str) -> Result<bool> {
        let n = sqlx::query("DELETE FROM gx_sessions WHERE session_id = $1")
            .bind(session_id)
            .execute(self.pool())
            .await?
            .rows_affected();
        Ok(n > 0)
    }

    /// Forgets every session of a PCEF that began under another Origin-State-Id than `state` (the
    /// PCEF restarted and lost them, RFC 6733 §8.16); returns their Session-Ids.
    pub async fn delete_stale_gx_sessions(&self, pcef_host: &str, state: u32) -> Result<Vec<String>> {
        let mut tx = self.pool().begin().await?;
        let rows = sqlx::query(
            "SELECT session_id FROM gx_sessions WHERE lower(pcef_host) = lower($1) \
             AND pcef_state IS NOT NULL AND pcef_state <> $2",
        )
        .bind(pcef_host)
        .bind(i64::from(state))
        .fetch_all(&mut *tx)
        .await?;
        let ids: Vec<String> = rows.iter().map(|r| r.try_get("session_id")).collect::<std::result::Result<_, _>>()?;
        sqlx::query(
            "DELETE FROM gx_sessions WHERE lower(pcef_host) = lower($1) AND pcef_state IS NOT NULL AND pcef_state <> $2",
        )
        .bind(pcef_host)
        .bind(i64::from(state))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(ids)
    }

    /// Adds reported octets to a SIM's hour.
    pub async fn add_usage(&self, imsi: &str, tenant: &str, hour: i64, up: i64, down: i64) -> Result<()> {
        let mut conn = self.pool().acquire().await?;
        add_usage(&mut conn, imsi, tenant, hour, up, down).await
    }

    /// A SIM's usage per hour since `since_hour`, oldest first, if the SIM is visible in `scope`.
    pub async fn usage_in(&self, scope: &Scope, imsi: &Imsi, since_hour: i64) -> Result<Vec<Usage>> {
        let rows = sqlx::query(
            "SELECT hour, octets_up, octets_down FROM sim_usage WHERE imsi = $1 AND hour >= $2 \
             AND ($3 = '*' OR tenant = $3) ORDER BY hour",
        )
        .bind(imsi.as_str())
        .bind(since_hour)
        .bind(scope.key())
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Usage {
                    hour: r.try_get("hour")?,
                    octets_up: r.try_get("octets_up")?,
                    octets_down: r.try_get("octets_down")?,
                })
            })
            .collect()
    }

    /// Appends DNS queries to the log, in one transaction.
    pub async fn insert_dns_queries(&self, queries: &[DnsQuery]) -> Result<()> {
        let mut tx = self.pool().begin().await?;
        for q in queries {
            let answers = serde_json::to_string(&q.answers).map_err(|e| StoreError::Conflict(e.to_string()))?;
            sqlx::query(
                "INSERT INTO dns_queries (at, tenant, imsi, name, qtype, verdict, rcode, answers) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(q.at_ms)
            .bind(&q.tenant)
            .bind(&q.imsi)
            .bind(&q.name)
            .bind(i64::from(q.qtype))
            .bind(&q.verdict)
            .bind(i64::from(q.rcode))
            .bind(answers)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The newest DNS queries of the SIMs visible in `scope` (of one SIM when `imsi` is given),
    /// newest first.
    pub async fn dns_queries_in(&self, scope: &Scope, imsi: Option<&Imsi>, limit: i64) -> Result<Vec<DnsQuery>> {
        let rows = sqlx::query(
            "SELECT at, tenant, imsi, name, qtype, verdict, rcode, answers FROM dns_queries \
             WHERE ($1 = '*' OR tenant = $1) AND ($2 = '' OR imsi = $2) ORDER BY at DESC LIMIT $3",
        )
        .bind(scope.key())
        .bind(imsi.map(Imsi::as_str).unwrap_or(""))
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                let answers: String = r.try_get("answers")?;
                Ok(DnsQuery {
                    at_ms: r.try_get("at")?,
                    tenant: r.try_get("tenant")?,
                    imsi: r.try_get("imsi")?,
                    name: r.try_get("name")?,
                    qtype: r.try_get::<i64, _>("qtype")? as u16,
                    verdict: r.try_get("verdict")?,
                    rcode: r.try_get::<i64, _>("rcode")? as u16,
                    answers: serde_json::from_str(&answers).map_err(|e| corrupt("dns query", e))?,
                })
            })
            .collect()
    }

    /// Deletes the DNS queries of `tenant` (every tenant when `None`) logged before `before_ms`;
    /// returns how many.
    pub async fn prune_dns_queries(&self, tenant: Option<&str>, before_ms: i64) -> Result<u64> {
        let n = sqlx::query("DELETE FROM dns_queries WHERE at < $1 AND ($2 = '*' OR tenant = $2)")
            .bind(before_ms)
            .bind(tenant.unwrap_or("*"))
            .execute(self.pool())
            .await?
            .rows_affected();
        Ok(n)
    }
}

impl Tx {
    /// A SIM's own policy, read inside the transaction.
    pub async fn sim_policy(&mut self, imsi: &Imsi) -> Result<Option<SimPolicy>> {
        let row = sqlx::query(&format!("SELECT {POLICY_COLUMNS} FROM sim_policies WHERE imsi = $1"))
            .bind(imsi.as_str())
            .fetch_optional(self.conn())
            .await?;
        row.map(|r| policy_from_row(&r)).transpose()
    }

    /// Sets a SIM's own allowlists, leaving its quarantine as it is (a quarantine set at the same
    /// time by someone else is kept).
    pub async fn set_sim_lists(&mut self, imsi: &Imsi, tenant: &str, p: &SimPolicy) -> Result<()> {
        let prefixes = serde_json::to_string(&p.allow_prefixes).map_err(|e| StoreError::Conflict(e.to_string()))?;
        let domains = serde_json::to_string(&p.allow_domains).map_err(|e| StoreError::Conflict(e.to_string()))?;
        sqlx::query(
            "INSERT INTO sim_policies (imsi, tenant, mode, allow_prefixes, allow_domains, updated_at)              VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (imsi) DO UPDATE SET tenant = excluded.tenant,              mode = excluded.mode, allow_prefixes = excluded.allow_prefixes, allow_domains = excluded.allow_domains,              updated_at = excluded.updated_at",
        )
        .bind(imsi.as_str())
        .bind(tenant)
        .bind(p.mode.as_db())
        .bind(prefixes)
        .bind(domains)
        .bind(p.updated_at)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Sets or clears a SIM's quarantine, leaving its allowlists as they are.
    pub async fn set_sim_quarantine(
        &mut self,
        imsi: &Imsi,
        tenant: &str,
        q: Option<&Quarantine>,
        at: i64,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO sim_policies (imsi, tenant, mode, allow_prefixes, allow_domains, quarantined_at,              quarantine_reason, quarantined_by, updated_at) VALUES ($1, $2, 'extend', '[]', '[]', $3, $4, $5, $6)              ON CONFLICT (imsi) DO UPDATE SET tenant = excluded.tenant, quarantined_at = excluded.quarantined_at,              quarantine_reason = excluded.quarantine_reason, quarantined_by = excluded.quarantined_by,              updated_at = excluded.updated_at",
        )
        .bind(imsi.as_str())
        .bind(tenant)
        .bind(q.map(|q| q.since))
        .bind(q.map(|q| q.reason.clone()))
        .bind(q.map(|q| q.by.clone()))
        .bind(at)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Creates or replaces a SIM's own policy (its quarantine included).
    pub async fn put_sim_policy(&mut self, imsi: &Imsi, tenant: &str, p: &SimPolicy) -> Result<()> {
        let prefixes = serde_json::to_string(&p.allow_prefixes).map_err(|e| StoreError::Conflict(e.to_string()))?;
        let domains = serde_json::to_string(&p.allow_domains).map_err(|e| StoreError::Conflict(e.to_string()))?;
        let q = p.quarantine.as_ref();
        sqlx::query(
            "INSERT INTO sim_policies (imsi, tenant, mode, allow_prefixes, allow_domains, quarantined_at, \
             quarantine_reason, quarantined_by, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             ON CONFLICT (imsi) DO UPDATE SET tenant = excluded.tenant, mode = excluded.mode, \
             allow_prefixes = excluded.allow_prefixes, allow_domains = excluded.allow_domains, \
             quarantined_at = excluded.quarantined_at, quarantine_reason = excluded.quarantine_reason, \
             quarantined_by = excluded.quarantined_by, updated_at = excluded.updated_at",
        )
        .bind(imsi.as_str())
        .bind(tenant)
        .bind(p.mode.as_db())
        .bind(prefixes)
        .bind(domains)
        .bind(q.map(|q| q.since))
        .bind(q.map(|q| q.reason.clone()))
        .bind(q.map(|q| q.by.clone()))
        .bind(p.updated_at)
        .execute(self.conn())
        .await?;
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::seal::{Kek, Keyring};

    /// A session of SIM 001010000000001 at PCEF `pgw1` with `rules` installed.
    pub(crate) fn session(id: &str, rules: &[&str]) -> GxSession {
        GxSession {
            session_id: id.into(),
            imsi: "001010000000001".into(),
            tenant: "acme".into(),
            pcef_host: "pgw1".into(),
            pcef_realm: "epc".into(),
            pcef_state: Some(7),
            apn: "meters.example".into(),
            framed_ip: Some("10.45.0.1".into()),
            framed_ipv6: None,
            rat_type: Some(1004),
            plmn: Some("00101".into()),
            rules: rules.iter().map(|r| r.to_string()).collect(),
            created_at: 1,
            updated_at: 2,
        }
    }

    /// A batch writes sessions, usage and events in order, in one transaction.
    #[tokio::test]
    async fn gx_changes_are_applied_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/t.db", dir.path().display());
        let store = Store::open(&url, Keyring::new(Kek::from_bytes(1, &[9; 32]), vec![])).await.unwrap();
        let usage =
            |up, down| GxChange::Usage { imsi: "001010000000001".into(), tenant: "acme".into(), hour: 10, up, down };
        store
            .apply_gx_changes(&[
                GxChange::Put(session("a", &["r1"])),
                GxChange::Put(session("b", &["r1"])),
                GxChange::Put(session("a", &["r1", "r2"])),
                GxChange::Delete("b".into()),
                usage(5, 7),
                usage(1, 1),
                GxChange::Event {
                    tenant: "acme".into(),
                    imsi: "001010000000001".into(),
                    kind: "gx.session_released".into(),
                    detail: "d".into(),
                },
            ])
            .await
            .unwrap();
        let all = store.gx_sessions().await.unwrap();
        assert_eq!(all, vec![session("a", &["r1", "r2"])]);
        let imsi: Imsi = "001010000000001".parse().unwrap();
        let u = store.usage_in(&Scope::Operator, &imsi, 0).await.unwrap();
        assert_eq!((u.len(), u[0].octets_up, u[0].octets_down), (1, 6, 8));
        let filter = crate::events::EventFilter { kind: Some("gx.session_released".into()), imsi: None };
        assert_eq!(store.list_events(&Scope::Operator, &filter, 0, 10).await.unwrap().len(), 1);
        // The single-row writers share the batch's SQL.
        store.put_gx_session(&session("c", &[])).await.unwrap();
        store.add_usage("001010000000001", "acme", 10, 1, 2).await.unwrap();
        assert_eq!(store.gx_sessions().await.unwrap().len(), 2);
        assert_eq!(store.usage_in(&Scope::Operator, &imsi, 0).await.unwrap()[0].octets_down, 10);
        // Runs longer than one statement's rows.
        let many: Vec<GxChange> = (0..300).map(|n| GxChange::Put(session(&format!("s{n}"), &["r"]))).collect();
        store.apply_gx_changes(&many).await.unwrap();
        let gone: Vec<GxChange> = (0..300).step_by(2).map(|n| GxChange::Delete(format!("s{n}"))).collect();
        store.apply_gx_changes(&gone).await.unwrap();
        assert_eq!(store.gx_sessions().await.unwrap().len(), 2 + 150);
    }
}
