//! Several `warden serve` instances on one database (issue #14): the instance registry with its
//! heartbeats, the Diameter nodes each instance reaches, and the outbox of CLR/IDR claimed by the
//! instance that holds the serving node's connection.
//!
//! An outbox row is *claimed* (leased to one instance until `claimed_until`) before it is sent, so two
//! instances connected to the same MME never both send it; it is deleted when the MME answered,
//! released with a back-off when the send failed, and expired (deleted and reported to the caller,
//! who records an event) when it waited longer than the expiry because no instance reached its node.
//! A claim whose instance died is taken over when its lease ends: the one case where a CLR/IDR can be
//! sent twice (both are idempotent at the MME).

use sqlx::Row;

use crate::db::{Backend, Store};
use crate::error::{Result, StoreError};
use crate::model::ServingNode;
use ids::Imsi;

/// Unix milliseconds now.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// An instance as it registers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceInfo {
    /// Unique per process start.
    pub id: String,
    /// A name for people (the host name, or `[cluster] name`).
    pub name: String,
    /// The Diameter listener.
    pub diameter: String,
    /// The HTTP listener, when the platform API runs.
    pub http: String,
    /// Warden's version.
    pub version: String,
    /// `exact` or `block` (SQN allocation): a block-allocating instance must be alone.
    pub sqn_allocation: String,
}

/// An instance as registered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    /// What it registered.
    pub info: InstanceInfo,
    /// Unix ms of its start.
    pub started_at: i64,
    /// Unix ms of its last heartbeat.
    pub heartbeat_at: i64,
    /// Unix ms of its orderly stop, if it stopped.
    pub stopped_at: Option<i64>,
    /// The nodes it reaches: (host, relay or empty).
    pub peers: Vec<(String, String)>,
}

impl Instance {
    /// True when it heartbeat within `max_age_ms` of `now` and has not stopped.
    pub fn is_live(&self, now: i64, max_age_ms: i64) -> bool {
        self.stopped_at.is_none() && now - self.heartbeat_at <= max_age_ms
    }
}

/// A queued CLR/IDR, claimed by this instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxItem {
    /// Row id.
    pub id: i64,
    /// The subscriber.
    pub imsi: Imsi,
    /// `clr`, `idr` or `refresh`.
    pub kind: String,
    /// Where to send it.
    pub node: ServingNode,
    /// Sends tried so far, this one included.
    pub attempts: i64,
}

/// Pending notifications per serving node, for `warden cluster status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backlog {
    /// Serving node (lower case).
    pub host: String,
    /// Rows waiting.
    pub pending: i64,
    /// Unix seconds of the oldest.
    pub oldest: i64,
}

fn item_from_row(r: &sqlx::any::AnyRow) -> Result<OutboxItem> {
    let imsi: String = r.try_get("imsi")?;
    Ok(OutboxItem {
        id: r.try_get("id")?,
        imsi: imsi
            .parse()
            .map_err(|e: ids::IdError| StoreError::Corrupt { imsi: imsi.clone(), reason: e.to_string() })?,
        kind: r.try_get("kind")?,
        node: ServingNode {
            origin_host: r.try_get("serving_host")?,
            origin_realm: r.try_get("serving_realm")?,
            plmn: None,
            since: r.try_get("created_at")?,
        },
        attempts: r.try_get::<i64, _>("attempts").or_else(|_| r.try_get::<i32, _>("attempts").map(i64::from))?,
    })
}

const ITEM_COLUMNS: &str = "id, imsi, kind, serving_host, serving_realm, created_at, attempts";

impl Store {
    /// Registers this instance (or re-registers it after its row was pruned).
    pub async fn register_instance(&self, info: &InstanceInfo) -> Result<()> {
        let now = now_ms();
        sqlx::query(
            "INSERT INTO cluster_instances (id, name, diameter, http, version, sqn_allocation, started_at, heartbeat_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at, \
             stopped_at = NULL",
        )
        .bind(&info.id)
        .bind(&info.name)
        .bind(&info.diameter)
        .bind(&info.http)
        .bind(&info.version)
        .bind(&info.sqn_allocation)
        .bind(now)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Records a heartbeat; false when the row is gone (pruned: register again).
    pub async fn heartbeat(&self, id: &str) -> Result<bool> {
        let r = sqlx::query("UPDATE cluster_instances SET heartbeat_at = $1 WHERE id = $2 AND stopped_at IS NULL")
            .bind(now_ms())
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Marks this instance stopped and forgets the nodes it reached.
    pub async fn stop_instance(&self, id: &str) -> Result<()> {
        let mut tx = self.pool().begin().await?;
        sqlx::query("DELETE FROM cluster_peers WHERE instance_id = $1").bind(id).execute(&mut *tx).await?;
        sqlx::query("UPDATE cluster_instances SET stopped_at = $1 WHERE id = $2")
            .bind(now_ms())
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Deletes instances (and their nodes) whose last heartbeat is older than `older_than_ms`.
    pub async fn prune_instances(&self, older_than_ms: i64) -> Result<u64> {
        let cut = now_ms() - older_than_ms;
        let mut tx = self.pool().begin().await?;
        sqlx::query(
            "DELETE FROM cluster_peers WHERE instance_id IN (SELECT id FROM cluster_instances WHERE heartbeat_at < $1)",
        )
        .bind(cut)
        .execute(&mut *tx)
        .await?;
        let r =
            sqlx::query("DELETE FROM cluster_instances WHERE heartbeat_at < $1").bind(cut).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(r.rows_affected())
    }

    /// How many instances heartbeat within `within_ms` and have not stopped.
    pub async fn count_live_instances(&self, within_ms: i64) -> Result<i64> {
        let r =
            sqlx::query("SELECT COUNT(*) AS n FROM cluster_instances WHERE stopped_at IS NULL AND heartbeat_at >= $1")
                .bind(now_ms() - within_ms)
                .fetch_one(self.pool())
                .await?;
        Ok(r.try_get("n")?)
    }

    /// Every registered instance with the nodes it reaches, oldest first.
    pub async fn instances(&self) -> Result<Vec<Instance>> {
        let rows = sqlx::query(
            "SELECT id, name, diameter, http, version, sqn_allocation, started_at, heartbeat_at, stopped_at \
             FROM cluster_instances ORDER BY started_at, id",
        )
        .fetch_all(self.pool())
        .await?;
        let peers = sqlx::query("SELECT instance_id, host, via FROM cluster_peers ORDER BY host")
            .fetch_all(self.pool())
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let id: String = r.try_get("id")?;
            let mut mine = Vec::new();
            for p in &peers {
                if p.try_get::<String, _>("instance_id")? == id {
                    mine.push((p.try_get("host")?, p.try_get("via")?));
                }
            }
            out.push(Instance {
                info: InstanceInfo {
                    id,
                    name: r.try_get("name")?,
                    diameter: r.try_get("diameter")?,
                    http: r.try_get("http")?,
                    version: r.try_get("version")?,
                    sqn_allocation: r.try_get("sqn_allocation")?,
                },
                started_at: r.try_get("started_at")?,
                heartbeat_at: r.try_get("heartbeat_at")?,
                stopped_at: r.try_get("stopped_at")?,
                peers: mine,
            });
        }
        Ok(out)
    }

    /// Records that instance `id` reaches `host` (directly when `via` is empty, else through the
    /// relay `via`). Host names are kept in lower case.
    pub async fn add_peer(&self, id: &str, host: &str, via: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO cluster_peers (instance_id, host, via, since) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (instance_id, host) DO UPDATE SET via = excluded.via, since = excluded.since",
        )
        .bind(id)
        .bind(host.to_ascii_lowercase())
        .bind(via.to_ascii_lowercase())
        .bind(now_ms())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Replaces the nodes instance `id` reaches by `hosts` (its peers' identities), in one
    /// transaction: the registry then matches the connections whatever was lost before.
    pub async fn replace_peers(&self, id: &str, hosts: &[String]) -> Result<()> {
        let mut tx = self.pool().begin().await?;
        sqlx::query("DELETE FROM cluster_peers WHERE instance_id = $1").bind(id).execute(&mut *tx).await?;
        for host in hosts {
            sqlx::query("INSERT INTO cluster_peers (instance_id, host, via, since) VALUES ($1, $2, '', $3)")
                .bind(id)
                .bind(host.to_ascii_lowercase())
                .bind(now_ms())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Records that `node` registered through the relay `via` (both lower-cased).
    pub async fn set_relay_route(&self, node: &str, via: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO relay_routes (node, via, at) VALUES ($1, $2, $3) \
             ON CONFLICT (node) DO UPDATE SET via = excluded.via, at = excluded.at",
        )
        .bind(node.to_ascii_lowercase())
        .bind(via.to_ascii_lowercase())
        .bind(now_ms())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Records that `node` registered directly (no longer through a relay).
    pub async fn clear_relay_route(&self, node: &str) -> Result<()> {
        sqlx::query("DELETE FROM relay_routes WHERE node = $1")
            .bind(node.to_ascii_lowercase())
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// The relay `node` last registered through, if any.
    pub async fn relay_route(&self, node: &str) -> Result<Option<String>> {
        let r = sqlx::query("SELECT via FROM relay_routes WHERE node = $1")
            .bind(node.to_ascii_lowercase())
            .fetch_optional(self.pool())
            .await?;
        Ok(r.map(|r| r.try_get("via")).transpose()?)
    }

    /// Every relayed node with its relay.
    pub async fn relay_routes(&self) -> Result<Vec<(String, String)>> {
        let rows = sqlx::query("SELECT node, via FROM relay_routes ORDER BY node").fetch_all(self.pool()).await?;
        rows.iter().map(|r| Ok((r.try_get("node")?, r.try_get("via")?))).collect()
    }

    /// Records that instance `id` no longer reaches `host`, nor anything through it.
    pub async fn remove_peer(&self, id: &str, host: &str) -> Result<()> {
        let host = host.to_ascii_lowercase();
        sqlx::query("DELETE FROM cluster_peers WHERE instance_id = $1 AND (host = $2 OR via = $2)")
            .bind(id)
            .bind(host)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Claims up to `limit` notifications for nodes instance `id` reaches — its peers, and nodes whose
    /// last registration came through a relay among its peers — (and `refresh` rows, which any
    /// instance may take), leasing each for `lease_ms`. Rows claimed by another instance whose
    /// lease has not ended, or waiting for their retry time, are left alone.
    pub async fn claim_notifications(&self, id: &str, limit: i64, lease_ms: i64) -> Result<Vec<OutboxItem>> {
        let now = now_ms();
        let lock = if self.backend() == Backend::Postgres { "FOR UPDATE SKIP LOCKED" } else { "" };
        let sql = format!(
            "UPDATE outbox SET claimed_by = $1, claimed_until = $2, attempts = attempts + 1 WHERE id IN (\
               SELECT o.id FROM outbox o WHERE o.not_before <= $3 AND o.claimed_until <= $3 AND (o.kind = 'refresh' \
               OR lower(o.serving_host) IN (SELECT p.host FROM cluster_peers p WHERE p.instance_id = $1) \
               OR lower(o.serving_host) IN (SELECT r.node FROM relay_routes r JOIN cluster_peers p ON p.host = r.via \
                                            WHERE p.instance_id = $1)) \
               ORDER BY o.id LIMIT $4 {lock}) RETURNING {ITEM_COLUMNS}"
        );
        let rows = sqlx::query(&sql).bind(id).bind(now + lease_ms).bind(now).bind(limit).fetch_all(self.pool()).await?;
        let mut items = rows.iter().map(item_from_row).collect::<Result<Vec<_>>>()?;
        items.sort_by_key(|i| i.id);
        Ok(items)
    }

    /// The notification was delivered (the node answered): deletes it, if this instance still holds
    /// the claim it made as attempt `attempt` (a late answer to an older claim changes nothing).
    pub async fn complete_notification(&self, id: &str, row: i64, attempt: i64) -> Result<bool> {
        let r = sqlx::query("DELETE FROM outbox WHERE id = $1 AND claimed_by = $2 AND attempts = $3")
            .bind(row)
            .bind(id)
            .bind(attempt)
            .execute(self.pool())
            .await?;
        Ok(r.rows_affected() == 1)
    }

    /// The send failed: releases the claim made as attempt `attempt`; the row may be claimed again
    /// (by any instance that reaches the node) from `not_before` (unix ms).
    pub async fn release_notification(&self, id: &str, row: i64, attempt: i64, not_before: i64) -> Result<()> {
        sqlx::query(
            "UPDATE outbox SET claimed_by = NULL, claimed_until = 0, not_before = $1 \
             WHERE id = $2 AND claimed_by = $3 AND attempts = $4",
        )
        .bind(not_before)
        .bind(row)
        .bind(id)
        .bind(attempt)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Deletes and returns the notifications queued before `created_before` (unix seconds) that no
    /// instance holds a claim on now, or that were tried `max_attempts` times: no instance reached
    /// their node in time. Each row is returned to exactly one caller.
    pub async fn expire_notifications(&self, created_before: i64, max_attempts: i64) -> Result<Vec<OutboxItem>> {
        let sql = format!(
            "DELETE FROM outbox WHERE kind <> 'refresh' AND claimed_until <= $1 AND (created_at < $2 OR attempts >= $3) \
             RETURNING {ITEM_COLUMNS}"
        );
        let rows =
            sqlx::query(&sql).bind(now_ms()).bind(created_before).bind(max_attempts).fetch_all(self.pool()).await?;
        rows.iter().map(item_from_row).collect()
    }

    /// Pending notifications per serving node.
    pub async fn outbox_backlog(&self) -> Result<Vec<Backlog>> {
        let rows = sqlx::query(
            "SELECT lower(serving_host) AS host, COUNT(*) AS n, MIN(created_at) AS oldest FROM outbox \
             WHERE kind <> 'refresh' GROUP BY lower(serving_host) ORDER BY 1",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| Ok(Backlog { host: r.try_get("host")?, pending: r.try_get("n")?, oldest: r.try_get("oldest")? }))
            .collect()
    }
}
