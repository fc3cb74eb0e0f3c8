//! The audit trail (ID-2): every mutating action is appended with who did it, in which role and
//! tenant, from where, on what, and the state before and after (never secrets). Rows are chained:
//! `hash = SHA-256(prev_hash ‖ fields)`, so a changed, inserted or deleted row is found by
//! [`Store::verify_audit`].

use sha2::{Digest, Sha256};
use sqlx::Row;

use crate::db::{now, Store};
use crate::error::{Result, StoreError};

/// The hash before the first row.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One action to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// Who (user, token name, or `cli:<os user>`).
    pub actor: String,
    /// In which role.
    pub role: String,
    /// Tenant concerned (`*` for operator-wide actions).
    pub tenant: String,
    /// Source address or `local`.
    pub source: String,
    /// What (`sim.set_status`, `sim.import`, …).
    pub action: String,
    /// On what (`sim/001010000000001`, a file name, …).
    pub resource: String,
    /// State before (JSON or text; never secrets).
    pub before: String,
    /// State after.
    pub after: String,
}

/// A stored row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    /// Sequence number.
    pub id: i64,
    /// Unix seconds.
    pub at: i64,
    /// The action.
    pub entry: AuditEntry,
    /// Hash of the previous row.
    pub prev_hash: String,
    /// Hash of this row.
    pub hash: String,
}

/// Why the chain does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("audit log broken at row {id}: {reason}")]
pub struct ChainBroken {
    /// First row that does not verify.
    pub id: i64,
    /// What is wrong.
    pub reason: String,
}

fn field(h: &mut Sha256, s: &str) {
    h.update((s.len() as u64).to_be_bytes());
    h.update(s.as_bytes());
}

/// The hash of a row given the previous hash.
pub fn chain_hash(prev: &str, at: i64, e: &AuditEntry) -> String {
    let mut h = Sha256::new();
    field(&mut h, prev);
    h.update(at.to_be_bytes());
    for s in [&e.actor, &e.role, &e.tenant, &e.source, &e.action, &e.resource, &e.before, &e.after] {
        field(&mut h, s);
    }
    hex::encode(h.finalize())
}

fn record(r: &sqlx::any::AnyRow) -> Result<AuditRecord> {
    Ok(AuditRecord {
        id: r.try_get("id")?,
        at: r.try_get("at")?,
        entry: AuditEntry {
            actor: r.try_get("actor")?,
            role: r.try_get("role")?,
            tenant: r.try_get("tenant")?,
            source: r.try_get("source")?,
            action: r.try_get("action")?,
            resource: r.try_get("resource")?,
            before: r.try_get("before")?,
            after: r.try_get("after")?,
        },
        prev_hash: r.try_get("prev_hash")?,
        hash: r.try_get("hash")?,
    })
}

const COLUMNS: &str = "id, at, actor, role, tenant, source, action, resource, before, after, prev_hash, hash";

impl Store {
    /// Appends one entry in a transaction of its own (for actions that change nothing in the
    /// database, such as a key rotation reported after its batches).
    pub async fn append_audit(&self, e: &AuditEntry) -> Result<AuditRecord> {
        let mut tx = self.begin().await?;
        let r = tx.append_audit(e).await?;
        tx.commit().await?;
        Ok(r)
    }

    /// Entries visible in `scope` (a tenant sees the rows recorded for it) with an id above `after`,
    /// oldest first.
    pub async fn list_audit(&self, scope: &crate::access::Scope, after: i64, limit: i64) -> Result<Vec<AuditRecord>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM audit_log WHERE ($1 = '*' OR tenant = $1) AND id > $2 ORDER BY id LIMIT $3"
        ))
        .bind(scope.key())
        .bind(after)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(record).collect()
    }

    /// The last `limit` entries, oldest first.
    pub async fn audit_tail(&self, limit: i64) -> Result<Vec<AuditRecord>> {
        let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM audit_log ORDER BY id DESC LIMIT $1"))
            .bind(limit)
            .fetch_all(self.pool())
            .await?;
        let mut out: Vec<AuditRecord> = rows.iter().map(record).collect::<Result<_>>()?;
        out.reverse();
        Ok(out)
    }

    /// Walks the whole chain: every row's hash must match its fields and the previous row's hash (a
    /// changed, inserted or deleted row breaks a link; ids may have gaps, PostgreSQL sequences skip
    /// values on rollback). Removing rows at the end is not visible in the chain itself: compare the
    /// count and last hash with a copy kept elsewhere (`warden audit-log verify` prints both).
    /// Returns the number of rows, or the first break.
    pub async fn verify_audit(&self) -> Result<std::result::Result<u64, ChainBroken>> {
        verify_chain(&mut *self.pool().acquire().await?).await
    }
}

/// [`Store::verify_audit`] through one connection (inside a transaction, it sees that transaction's rows).
pub(crate) async fn verify_chain(conn: &mut sqlx::AnyConnection) -> Result<std::result::Result<u64, ChainBroken>> {
    let mut prev = GENESIS.to_string();
    let mut count = 0u64;
    let mut after = 0i64;
    loop {
        let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM audit_log WHERE id > $1 ORDER BY id LIMIT 1000"))
            .bind(after)
            .fetch_all(&mut *conn)
            .await?;
        if rows.is_empty() {
            return Ok(Ok(count));
        }
        for r in &rows {
            let rec = record(r)?;
            let broken = |reason: String| Ok(Err(ChainBroken { id: rec.id, reason }));
            if rec.prev_hash != prev {
                return broken("previous-hash link does not match the row before".into());
            }
            if chain_hash(&prev, rec.at, &rec.entry) != rec.hash {
                return broken("contents do not match the row's hash".into());
            }
            prev = rec.hash.clone();
            after = rec.id;
            count += 1;
        }
    }
}

impl From<ChainBroken> for StoreError {
    fn from(c: ChainBroken) -> Self {
        StoreError::Conflict(c.to_string())
    }
}

impl crate::tx::Tx {
    /// Appends an entry to the chain as the last write of this transaction (serialised: the chain
    /// head is read under the write lock, which the transaction then holds until it commits; data
    /// rows are always written before the audit row, so lock order is the same everywhere).
    pub async fn append_audit(&mut self, e: &AuditEntry) -> Result<AuditRecord> {
        // SQLite transactions hold the write lock from their start (`BEGIN IMMEDIATE`).
        if self.backend() == crate::Backend::Postgres {
            sqlx::query("LOCK TABLE audit_log IN EXCLUSIVE MODE").execute(self.conn()).await?;
        }
        let prev: String = sqlx::query("SELECT hash FROM audit_log ORDER BY id DESC LIMIT 1")
            .fetch_optional(self.conn())
            .await?
            .map(|r| r.try_get::<String, _>("hash"))
            .transpose()?
            .unwrap_or_else(|| GENESIS.to_string());
        let at = now();
        let hash = chain_hash(&prev, at, e);
        let row = sqlx::query(&format!(
            "INSERT INTO audit_log (at, actor, role, tenant, source, action, resource, before, after, prev_hash, hash) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING {COLUMNS}"
        ))
        .bind(at)
        .bind(&e.actor)
        .bind(&e.role)
        .bind(&e.tenant)
        .bind(&e.source)
        .bind(&e.action)
        .bind(&e.resource)
        .bind(&e.before)
        .bind(&e.after)
        .bind(&prev)
        .bind(&hash)
        .fetch_one(self.conn())
        .await?;
        record(&row)
    }
}
