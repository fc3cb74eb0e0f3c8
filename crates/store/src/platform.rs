//! Smaller platform tables: idempotency records of POST requests, webhooks (their HMAC secret sealed
//! like SIM keys), tenant rules, and IMSI ranges marked as IoT or handset (segregation, SUB-5).

use sqlx::Row;
use zeroize::Zeroizing;

use crate::access::{random_hex, Scope};
use crate::db::{now, Store};
use crate::error::{Result, StoreError};

/// A stored answer to a POST with an `Idempotency-Key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotentAnswer {
    /// SHA-256 of the method, path and body of the first request.
    pub request_hash: String,
    /// HTTP status.
    pub status: u16,
    /// Body.
    pub body: String,
}

/// A webhook (its secret is never listed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    /// Public id.
    pub id: String,
    /// Tenant whose events it receives (`*`: all, operator only).
    pub tenant: String,
    /// Target URL.
    pub url: String,
    /// Last event id delivered.
    pub cursor: i64,
    /// Consecutive failed deliveries.
    pub failures: i64,
    /// Last delivery error.
    pub last_error: String,
    /// Unix seconds.
    pub created_at: i64,
}

/// A tenant rule (body is the rule as JSON).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleRow {
    /// Public id.
    pub id: String,
    /// Tenant.
    pub tenant: String,
    /// `imei_lock` or `signalling`.
    pub kind: String,
    /// The rule as JSON.
    pub body: String,
    /// Unix seconds.
    pub created_at: i64,
}

/// An IMSI range and its segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimRange {
    /// Public id.
    pub id: String,
    /// First IMSI.
    pub imsi_from: String,
    /// Last IMSI.
    pub imsi_to: String,
    /// `iot` or `handset`.
    pub segment: String,
    /// Free text.
    pub note: String,
    /// Unix seconds.
    pub created_at: i64,
}

fn webhook_from_row(r: &sqlx::any::AnyRow) -> Result<Webhook> {
    Ok(Webhook {
        id: r.try_get("id")?,
        tenant: r.try_get("tenant")?,
        url: r.try_get("url")?,
        cursor: r.try_get("cursor")?,
        failures: r.try_get("failures")?,
        last_error: r.try_get("last_error")?,
        created_at: r.try_get("created_at")?,
    })
}

fn rule_from_row(r: &sqlx::any::AnyRow) -> Result<RuleRow> {
    Ok(RuleRow {
        id: r.try_get("id")?,
        tenant: r.try_get("tenant")?,
        kind: r.try_get("kind")?,
        body: r.try_get("body")?,
        created_at: r.try_get("created_at")?,
    })
}

/// The sealing context of an idempotent answer (with the caller's scope).
fn idempotency_field(key: &str) -> String {
    format!("idempotency:{key}")
}

impl Store {
    /// The stored answer for (`scope`, `key`). Answers are kept sealed (they may hold a secret that
    /// was shown once, such as a new token), bound to their scope and key.
    pub async fn idempotent_answer(&self, scope: &str, key: &str) -> Result<Option<IdempotentAnswer>> {
        let row = sqlx::query("SELECT request_hash, status, body FROM idempotency_keys WHERE scope = $1 AND key = $2")
            .bind(scope)
            .bind(key)
            .fetch_optional(self.pool())
            .await?;
        row.map(|r| {
            Ok(IdempotentAnswer {
                request_hash: r.try_get("request_hash")?,
                status: u16::try_from(r.try_get::<i64, _>("status")?).unwrap_or(500),
                body: {
                    let sealed =
                        hex::decode(r.try_get::<String, _>("body")?).map_err(|_| crate::seal::SealError::Malformed)?;
                    let plain = self.keys().open(scope, &idempotency_field(key), &sealed)?;
                    String::from_utf8_lossy(&plain).into_owned()
                },
            })
        })
        .transpose()
    }

    /// Stores the answer for (`scope`, `key`), sealed; the first answer wins.
    pub async fn put_idempotent_answer(&self, scope: &str, key: &str, a: &IdempotentAnswer) -> Result<()> {
        let sealed = hex::encode(self.keys().seal(scope, &idempotency_field(key), a.body.as_bytes())?);
        sqlx::query(
            "INSERT INTO idempotency_keys (scope, key, request_hash, status, body, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (scope, key) DO NOTHING",
        )
        .bind(scope)
        .bind(key)
        .bind(&a.request_hash)
        .bind(i64::from(a.status))
        .bind(sealed)
        .bind(now())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Forgets idempotency records older than `max_age` seconds.
    pub async fn expire_idempotency(&self, max_age: i64) -> Result<u64> {
        let r = sqlx::query("DELETE FROM idempotency_keys WHERE created_at < $1")
            .bind(now() - max_age)
            .execute(self.pool())
            .await?;
        Ok(r.rows_affected())
    }

    /// Webhooks visible in `scope`.
    pub async fn list_webhooks(&self, scope: &Scope) -> Result<Vec<Webhook>> {
        let rows = sqlx::query(
            "SELECT id, tenant, url, cursor, failures, last_error, created_at FROM webhooks \
             WHERE ($1 = '*' OR tenant = $1) ORDER BY id",
        )
        .bind(scope.key())
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(webhook_from_row).collect()
    }

    /// The secret of a webhook (for signing deliveries only).
    pub async fn webhook_secret(&self, id: &str) -> Result<Zeroizing<Vec<u8>>> {
        let row = sqlx::query("SELECT secret_sealed FROM webhooks WHERE id = $1")
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("webhook {id}")))?;
        let blob: Vec<u8> = row.try_get("secret_sealed")?;
        Ok(self.keys().open(&format!("webhook:{id}"), "secret", &blob)?)
    }

    /// Records a delivery outcome: success moves the cursor and clears the failure count.
    pub async fn webhook_delivered(&self, id: &str, outcome: std::result::Result<i64, String>) -> Result<()> {
        match outcome {
            Ok(cursor) => {
                sqlx::query("UPDATE webhooks SET cursor = $1, failures = 0, last_error = '' WHERE id = $2")
                    .bind(cursor)
                    .bind(id)
                    .execute(self.pool())
                    .await?
            }
            Err(e) => {
                sqlx::query("UPDATE webhooks SET failures = failures + 1, last_error = $1 WHERE id = $2")
                    .bind(e)
                    .bind(id)
                    .execute(self.pool())
                    .await?
            }
        };
        Ok(())
    }

    /// Rules visible in `scope`.
    pub async fn list_rules(&self, scope: &Scope) -> Result<Vec<RuleRow>> {
        let rows = sqlx::query(
            "SELECT id, tenant, kind, body, created_at FROM rules WHERE ($1 = '*' OR tenant = $1) ORDER BY id",
        )
        .bind(scope.key())
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(rule_from_row).collect()
    }

    /// Every IMSI range.
    pub async fn list_ranges(&self) -> Result<Vec<SimRange>> {
        let rows =
            sqlx::query("SELECT id, imsi_from, imsi_to, segment, note, created_at FROM sim_ranges ORDER BY imsi_from")
                .fetch_all(self.pool())
                .await?;
        rows.iter()
            .map(|r| {
                Ok(SimRange {
                    id: r.try_get("id")?,
                    imsi_from: r.try_get("imsi_from")?,
                    imsi_to: r.try_get("imsi_to")?,
                    segment: r.try_get("segment")?,
                    note: r.try_get("note")?,
                    created_at: r.try_get("created_at")?,
                })
            })
            .collect()
    }
}

impl crate::tx::Tx {
    /// Creates a webhook starting after event `cursor`; its secret is sealed.
    pub async fn create_webhook(&mut self, tenant: &str, url: &str, secret: &[u8], cursor: i64) -> Result<Webhook> {
        let id = format!("whk_{}", random_hex(8)?);
        let sealed = self.keys().seal(&format!("webhook:{id}"), "secret", secret)?;
        let t = now();
        sqlx::query(
            "INSERT INTO webhooks (id, tenant, url, secret_sealed, cursor, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&id)
        .bind(tenant)
        .bind(url)
        .bind(sealed)
        .bind(cursor)
        .bind(t)
        .execute(self.conn())
        .await?;
        Ok(Webhook {
            id,
            tenant: tenant.into(),
            url: url.into(),
            cursor,
            failures: 0,
            last_error: String::new(),
            created_at: t,
        })
    }

    /// Deletes a webhook visible in `scope`.
    pub async fn delete_webhook(&mut self, scope: &Scope, id: &str) -> Result<bool> {
        let r = sqlx::query("DELETE FROM webhooks WHERE id = $1 AND ($2 = '*' OR tenant = $2)")
            .bind(id)
            .bind(scope.key())
            .execute(self.conn())
            .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Stores a rule for `tenant`.
    pub async fn create_rule(&mut self, tenant: &str, kind: &str, body: &str) -> Result<RuleRow> {
        let id = format!("rul_{}", random_hex(8)?);
        let t = now();
        sqlx::query("INSERT INTO rules (id, tenant, kind, body, created_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(&id)
            .bind(tenant)
            .bind(kind)
            .bind(body)
            .bind(t)
            .execute(self.conn())
            .await?;
        Ok(RuleRow { id, tenant: tenant.into(), kind: kind.into(), body: body.into(), created_at: t })
    }

    /// Deletes a rule visible in `scope`.
    pub async fn delete_rule(&mut self, scope: &Scope, id: &str) -> Result<bool> {
        let r = sqlx::query("DELETE FROM rules WHERE id = $1 AND ($2 = '*' OR tenant = $2)")
            .bind(id)
            .bind(scope.key())
            .execute(self.conn())
            .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Adds an IMSI range; overlapping an existing range is a conflict.
    pub async fn create_range(&mut self, from: &str, to: &str, segment: &str, note: &str) -> Result<SimRange> {
        let overlap = sqlx::query("SELECT id FROM sim_ranges WHERE imsi_from <= $1 AND imsi_to >= $2")
            .bind(to)
            .bind(from)
            .fetch_optional(self.conn())
            .await?;
        if let Some(r) = overlap {
            let id: String = r.try_get("id")?;
            return Err(StoreError::Conflict(format!("range overlaps {id}")));
        }
        let id = format!("rng_{}", random_hex(8)?);
        let t = now();
        sqlx::query(
            "INSERT INTO sim_ranges (id, imsi_from, imsi_to, segment, note, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&id)
        .bind(from)
        .bind(to)
        .bind(segment)
        .bind(note)
        .bind(t)
        .execute(self.conn())
        .await?;
        Ok(SimRange {
            id,
            imsi_from: from.into(),
            imsi_to: to.into(),
            segment: segment.into(),
            note: note.into(),
            created_at: t,
        })
    }
}
