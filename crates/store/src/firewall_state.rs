//! The roaming firewall's state shared by several Warden instances on one database (issue #14):
//! category-3 registrations (`fw_registrations`) and risky visited networks (`fw_risky`), written in
//! batches of [`FwChange`]s where newer rows win ([`Store::write_firewall_changes`]), read back whole
//! at start or after a lost notification connection ([`Store::load_firewall_state`]), and pruned
//! ([`Store::prune_firewall_state`]). On PostgreSQL each batch is also announced on the channel
//! [`CHANNEL`] in the same transaction (`pg_notify`, delivered at commit), and [`FirewallFeed`]
//! listens for it. Times are unix milliseconds.

use serde::{Deserialize, Serialize};
use sqlx::postgres::PgListener;
use sqlx::Row;

use crate::db::{Backend, Store};
use crate::error::{Result, StoreError};

/// The PostgreSQL notification channel of firewall state changes.
pub const CHANNEL: &str = "warden_firewall";

/// Largest notification payload written (PostgreSQL refuses 8000 bytes and more).
pub const MAX_PAYLOAD: usize = 7_900;

/// Longest instance id accepted (it is repeated in every notification).
const MAX_INSTANCE_ID: usize = 200;

/// Why a visited network is risky.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RiskReason {
    /// By the failure ratio of its answers.
    #[serde(rename = "a")]
    Auto,
    /// By an operator.
    #[serde(rename = "m")]
    Manual,
}

impl RiskReason {
    fn name(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::Manual => "manual",
        }
    }
}

/// One change of the shared firewall state (the wire form of the notifications as well).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "t")]
pub enum FwChange {
    /// The subscriber `imsi` is registered in `plmn` through the node whose Origin-Host hashes to
    /// `host`, since `at_ms`.
    #[serde(rename = "r")]
    Registered {
        /// IMSI digits.
        #[serde(rename = "i")]
        imsi: String,
        /// Visited PLMN (`"26201"`).
        #[serde(rename = "p")]
        plmn: String,
        /// Hash of the serving node's Origin-Host (the firewall's, its bits as a signed integer).
        #[serde(rename = "h")]
        host: i64,
        /// When.
        #[serde(rename = "at")]
        at_ms: i64,
    },
    /// The serving node `host` purged the subscriber at `at_ms`.
    #[serde(rename = "u")]
    Deregistered {
        /// IMSI digits.
        #[serde(rename = "i")]
        imsi: String,
        /// Hash of the node that purged.
        #[serde(rename = "h")]
        host: i64,
        /// When.
        #[serde(rename = "at")]
        at_ms: i64,
    },
    /// A visited network is risky until `until_ms` (`None`: until cleared).
    #[serde(rename = "m")]
    Risky {
        /// Visited PLMN.
        #[serde(rename = "p")]
        plmn: String,
        /// End of the mark.
        #[serde(rename = "u")]
        until_ms: Option<i64>,
        /// Who marked it.
        #[serde(rename = "w")]
        reason: RiskReason,
        /// When.
        #[serde(rename = "at")]
        at_ms: i64,
    },
    /// Every mark of a visited network cleared at `at_ms`.
    #[serde(rename = "c")]
    RiskCleared {
        /// Visited PLMN.
        #[serde(rename = "p")]
        plmn: String,
        /// When.
        #[serde(rename = "at")]
        at_ms: i64,
    },
}

/// One notification: the instance that wrote the batch, and (a part of) the batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FwBatch {
    /// The writing instance's id.
    #[serde(rename = "i")]
    pub instance: String,
    /// The changes, in the order they were written.
    #[serde(rename = "c")]
    pub changes: Vec<FwChange>,
}

/// The notification payloads of a batch: each a [`FwBatch`] in compact JSON of at most
/// [`MAX_PAYLOAD`] bytes, the changes in order.
pub fn notify_payloads(instance: &str, changes: &[FwChange]) -> Result<Vec<String>> {
    if instance.is_empty() || instance.len() > MAX_INSTANCE_ID {
        return Err(StoreError::Conflict(format!(
            "firewall instance id must be 1 to {MAX_INSTANCE_ID} bytes, not {}",
            instance.len()
        )));
    }
    let head = format!("{{\"i\":{},\"c\":[", json(&instance));
    let mut payloads = Vec::new();
    let mut current = head.clone();
    for c in changes {
        let item = json(c);
        let empty = current.len() == head.len();
        if !empty && current.len() + 1 + item.len() + 2 > MAX_PAYLOAD {
            current.push_str("]}");
            payloads.push(std::mem::replace(&mut current, head.clone()));
        }
        if current.len() != head.len() {
            current.push(',');
        }
        current.push_str(&item);
    }
    if current.len() != head.len() {
        current.push_str("]}");
        payloads.push(current);
    }
    Ok(payloads)
}

/// Compact JSON of a value made of strings, numbers and unit enums (which always serialise).
fn json<T: Serialize + ?Sized>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

/// What [`FirewallFeed::next`] yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedItem {
    /// A batch another instance (or this one: compare the id) committed.
    Batch(FwBatch),
    /// The connection was lost and is back: notifications in between are lost, reload the state.
    Reconnected,
}

/// Listens for the batches of every instance (PostgreSQL only).
pub struct FirewallFeed {
    url: String,
    listener: Option<PgListener>,
}

impl std::fmt::Debug for FirewallFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FirewallFeed").field("connected", &self.listener.is_some()).finish()
    }
}

async fn listen(url: &str) -> Result<PgListener> {
    let mut l = PgListener::connect(url).await?;
    l.listen(CHANNEL).await?;
    Ok(l)
}

impl FirewallFeed {
    /// The next batch, or [`FeedItem::Reconnected`] after a lost connection came back. An error
    /// means the connection is down: call again (after a pause) to reconnect. A notification that
    /// does not decode is skipped with a warning.
    pub async fn next(&mut self) -> Result<FeedItem> {
        loop {
            let Some(listener) = self.listener.as_mut() else {
                self.listener = Some(listen(&self.url).await?);
                return Ok(FeedItem::Reconnected);
            };
            match listener.try_recv().await {
                Ok(Some(n)) => match serde_json::from_str::<FwBatch>(n.payload()) {
                    Ok(batch) => return Ok(FeedItem::Batch(batch)),
                    Err(e) => tracing::warn!(error = %e, "firewall state notification skipped: not a batch"),
                },
                // sqlx reconnected (and listens again) by itself.
                Ok(None) => return Ok(FeedItem::Reconnected),
                Err(e) => {
                    self.listener = None;
                    return Err(e.into());
                }
            }
        }
    }
}

impl Store {
    /// Listens on [`CHANNEL`]: `None` on SQLite (one instance, nothing to hear). Open it before
    /// [`Store::load_firewall_state`] so that no batch falls between the two.
    pub async fn firewall_feed(&self) -> Result<Option<FirewallFeed>> {
        let Some(url) = self.postgres_url() else { return Ok(None) };
        Ok(Some(FirewallFeed { url: url.to_string(), listener: Some(listen(url).await?) }))
    }

    /// Writes a batch of changes made by `instance` in one transaction, newer rows winning (a purge
    /// only ends the registration of the node that purged); on PostgreSQL the batch is announced on
    /// [`CHANNEL`] at commit.
    pub async fn write_firewall_changes(&self, instance: &str, changes: &[FwChange]) -> Result<()> {
        let payloads = notify_payloads(instance, changes)?;
        let mut tx = self.begin().await?;
        for c in changes {
            write_change(tx.conn(), c).await?;
        }
        if tx.backend() == Backend::Postgres {
            for p in &payloads {
                sqlx::query("SELECT pg_notify($1, $2)").bind(CHANNEL).bind(p).execute(tx.conn()).await?;
            }
        }
        tx.commit().await
    }

    /// The state now (`now_ms`): registrations since `since_ms` (not purged), the clearings of
    /// marks not pruned yet (first, so that a mark made after its clearing stays), and the marks not
    /// expired.
    pub async fn load_firewall_state(&self, now_ms: i64, since_ms: i64) -> Result<Vec<FwChange>> {
        let regs =
            sqlx::query("SELECT imsi, plmn, host, at_ms FROM fw_registrations WHERE plmn IS NOT NULL AND at_ms >= $1")
                .bind(since_ms)
                .fetch_all(self.pool())
                .await?;
        let mut out = Vec::with_capacity(regs.len());
        for r in &regs {
            out.push(FwChange::Registered {
                imsi: r.try_get("imsi")?,
                plmn: r.try_get("plmn")?,
                host: r.try_get("host")?,
                at_ms: r.try_get("at_ms")?,
            });
        }
        let marks = sqlx::query(
            "SELECT plmn, reason, until_ms, at_ms FROM fw_risky WHERE until_ms IS NULL OR until_ms > $1 \
             OR until_ms = at_ms ORDER BY CASE WHEN until_ms = at_ms THEN 0 ELSE 1 END, plmn, reason",
        )
        .bind(now_ms)
        .fetch_all(self.pool())
        .await?;
        for r in &marks {
            let (plmn, at_ms): (String, i64) = (r.try_get("plmn")?, r.try_get("at_ms")?);
            let until_ms: Option<i64> = r.try_get("until_ms")?;
            let change = if until_ms == Some(at_ms) {
                FwChange::RiskCleared { plmn, at_ms }
            } else {
                let reason: String = r.try_get("reason")?;
                let reason = if reason == "auto" { RiskReason::Auto } else { RiskReason::Manual };
                FwChange::Risky { plmn, until_ms, reason, at_ms }
            };
            // One clearing writes a row per reason: announce it once.
            if out.last() != Some(&change) {
                out.push(change);
            }
        }
        Ok(out)
    }

    /// Deletes registrations, purges and clearings of marks older than `before_ms`, and marks ended
    /// by `now_ms`; the number of rows deleted.
    pub async fn prune_firewall_state(&self, before_ms: i64, now_ms: i64) -> Result<u64> {
        let mut tx = self.begin().await?;
        let regs =
            sqlx::query("DELETE FROM fw_registrations WHERE at_ms < $1").bind(before_ms).execute(tx.conn()).await?;
        let marks = sqlx::query(
            "DELETE FROM fw_risky WHERE until_ms IS NOT NULL AND until_ms <= $1 AND (until_ms <> at_ms OR at_ms < $2)",
        )
        .bind(now_ms)
        .bind(before_ms)
        .execute(tx.conn())
        .await?;
        tx.commit().await?;
        Ok(regs.rows_affected() + marks.rows_affected())
    }
}

/// Upserts one change; the `WHERE` of each upsert keeps the newer row.
async fn write_change(conn: &mut sqlx::AnyConnection, c: &FwChange) -> Result<()> {
    const REGISTRATION: &str = "INSERT INTO fw_registrations (imsi, plmn, host, at_ms) VALUES ($1, $2, $3, $4) \
        ON CONFLICT (imsi) DO UPDATE SET plmn = excluded.plmn, host = excluded.host, at_ms = excluded.at_ms \
        WHERE excluded.at_ms >= fw_registrations.at_ms \
        AND (excluded.plmn IS NOT NULL OR fw_registrations.host = excluded.host)";
    const MARK: &str = "INSERT INTO fw_risky (plmn, reason, until_ms, at_ms) VALUES ($1, $2, $3, $4) \
        ON CONFLICT (plmn, reason) DO UPDATE SET until_ms = excluded.until_ms, at_ms = excluded.at_ms \
        WHERE excluded.at_ms >= fw_risky.at_ms";
    match c {
        FwChange::Registered { imsi, plmn, host, at_ms } => {
            sqlx::query(REGISTRATION).bind(imsi).bind(plmn).bind(host).bind(at_ms).execute(&mut *conn).await?;
        }
        FwChange::Deregistered { imsi, host, at_ms } => {
            // A tombstone (plmn NULL), so that an older registration arriving later stays out.
            let none: Option<&str> = None;
            sqlx::query(REGISTRATION).bind(imsi).bind(none).bind(host).bind(at_ms).execute(&mut *conn).await?;
        }
        FwChange::Risky { plmn, until_ms, reason, at_ms } => {
            sqlx::query(MARK).bind(plmn).bind(reason.name()).bind(*until_ms).bind(at_ms).execute(&mut *conn).await?;
        }
        FwChange::RiskCleared { plmn, at_ms } => {
            // Both marks end now (a mark made after the clearing stays).
            for reason in [RiskReason::Auto, RiskReason::Manual] {
                sqlx::query(MARK)
                    .bind(plmn)
                    .bind(reason.name())
                    .bind(Some(*at_ms))
                    .bind(at_ms)
                    .execute(&mut *conn)
                    .await?;
            }
        }
    }
    Ok(())
}
