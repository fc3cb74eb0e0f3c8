//! Tenants and API tokens (issue #5): a token is shown once when issued and stored only as the SHA-256
//! of its secret part (tokens carry 256 random bits, so a fast hash suffices; passwords will use
//! argon2id). Tokens may expire, may be limited to source addresses, and can be revoked. Every lookup
//! that a tenant makes is scoped to that tenant here, in the data layer.

use std::net::IpAddr;

use sha2::{Digest, Sha256};
use sqlx::Row;
use subtle::ConstantTimeEq;

use crate::db::{now, Store};
use crate::error::{Result, StoreError};

/// Prefix of every Warden API token.
pub const TOKEN_PREFIX: &str = "wdn";

/// What a verified token grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    /// Public id.
    pub id: String,
    /// Human name.
    pub name: String,
    /// Role name (see `cmp::Role`).
    pub role: String,
    /// Tenant; `None` for operator-wide tokens.
    pub tenant: Option<String>,
    /// Unix seconds of expiry.
    pub expires_at: Option<i64>,
    /// The person this credential derives from (a login session, or a token issued with one).
    pub user_id: Option<String>,
}

/// Why a token is refused. Deliberately coarse toward callers: every variant means "401".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// Not of the token format.
    #[error("malformed token")]
    Malformed,
    /// Unknown id or wrong secret.
    #[error("invalid token")]
    Invalid,
    /// Revoked.
    #[error("token revoked")]
    Revoked,
    /// Past its expiry.
    #[error("token expired")]
    Expired,
    /// Used from an address it is not allowed from.
    #[error("token not allowed from this address")]
    Source,
    /// Derived from a person whose account no longer exists.
    #[error("token of a deleted user")]
    UserGone,
}

/// Who is asking: the operator, or one tenant (every tenant-facing query takes this).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Operator-wide.
    Operator,
    /// One tenant.
    Tenant(String),
}

impl Scope {
    /// The value the scoped queries compare with: `*` for the operator (tenant names cannot be `*`).
    pub fn key(&self) -> &str {
        match self {
            Scope::Operator => "*",
            Scope::Tenant(t) => t,
        }
    }
}

fn hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

pub(crate) fn random_hex(n: usize) -> Result<String> {
    let mut b = vec![0u8; n];
    auc::fill_random(&mut b).map_err(|e| StoreError::Conflict(e.to_string()))?;
    Ok(hex::encode(b))
}

/// Settings of a new token.
#[derive(Debug, Clone)]
pub struct NewToken {
    /// Human name.
    pub name: String,
    /// Role name.
    pub role: String,
    /// Tenant (`None`: operator-wide).
    pub tenant: Option<String>,
    /// Unix seconds of expiry.
    pub expires_at: Option<i64>,
    /// Source addresses allowed (empty: any).
    pub allowed_sources: Vec<IpAddr>,
    /// The person it derives from (revoked with that person's account).
    pub user_id: Option<String>,
}

impl Store {
    /// True when the tenant exists.
    pub async fn tenant_exists(&self, name: &str) -> Result<bool> {
        Ok(sqlx::query("SELECT name FROM tenants WHERE name = $1")
            .bind(name)
            .fetch_optional(self.pool())
            .await?
            .is_some())
    }

    /// Number of live operator-wide tokens of `role` (used to refuse a second `admin init`).
    pub async fn count_operator_tokens(&self, role: &str) -> Result<i64> {
        let r = sqlx::query(
            "SELECT COUNT(*) AS n FROM api_tokens WHERE role = $1 AND tenant IS NULL AND revoked_at IS NULL",
        )
        .bind(role)
        .fetch_one(self.pool())
        .await?;
        Ok(r.try_get::<i64, _>("n")?)
    }

    /// Verifies a presented token from `source` at `at` (Unix seconds).
    pub async fn verify_token(
        &self,
        token: &str,
        source: Option<IpAddr>,
        at: i64,
    ) -> Result<std::result::Result<TokenInfo, AuthError>> {
        let mut parts = token.splitn(3, '_');
        let (Some(TOKEN_PREFIX), Some(id), Some(secret)) = (parts.next(), parts.next(), parts.next()) else {
            return Ok(Err(AuthError::Malformed));
        };
        if id.len() != 16 || secret.len() != 64 {
            return Ok(Err(AuthError::Malformed));
        }
        // `user_ok` is 0 when the token derives from a person whose account is gone.
        let row = sqlx::query(
            "SELECT t.id, t.secret_hash, t.name, t.role, t.tenant, t.expires_at, t.allowed_sources, t.revoked_at, \
             t.user_id, CAST(CASE WHEN t.user_id IS NULL OR u.id IS NOT NULL THEN 1 ELSE 0 END AS BIGINT) AS user_ok \
             FROM api_tokens t LEFT JOIN users u ON u.id = t.user_id WHERE t.id = $1",
        )
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        let Some(r) = row else { return Ok(Err(AuthError::Invalid)) };
        let stored: String = r.try_get("secret_hash")?;
        if !bool::from(stored.as_bytes().ct_eq(hash(secret).as_bytes())) {
            return Ok(Err(AuthError::Invalid));
        }
        if r.try_get::<Option<i64>, _>("revoked_at")?.is_some() {
            return Ok(Err(AuthError::Revoked));
        }
        if r.try_get::<i64, _>("user_ok")? == 0 {
            return Ok(Err(AuthError::UserGone));
        }
        let expires_at: Option<i64> = r.try_get("expires_at")?;
        if expires_at.is_some_and(|e| at >= e) {
            return Ok(Err(AuthError::Expired));
        }
        let sources: String = r.try_get("allowed_sources")?;
        if !sources.is_empty() {
            let allowed = source.is_some_and(|s| sources.split(',').any(|a| a.parse::<IpAddr>().ok() == Some(s)));
            if !allowed {
                return Ok(Err(AuthError::Source));
            }
        }
        Ok(Ok(TokenInfo {
            id: r.try_get("id")?,
            name: r.try_get("name")?,
            role: r.try_get("role")?,
            tenant: r.try_get("tenant")?,
            expires_at,
            user_id: r.try_get("user_id")?,
        }))
    }

    /// IMSIs visible in `scope`, in order, after `cursor`, at most `limit` (cursor pagination).
    pub async fn list_imsis(&self, scope: &Scope, cursor: Option<&str>, limit: i64) -> Result<Vec<String>> {
        let after = cursor.unwrap_or("");
        let rows = match scope {
            Scope::Operator => {
                sqlx::query("SELECT imsi FROM sims WHERE imsi > $1 ORDER BY imsi LIMIT $2")
                    .bind(after)
                    .bind(limit)
                    .fetch_all(self.pool())
                    .await?
            }
            Scope::Tenant(t) => {
                sqlx::query("SELECT imsi FROM sims WHERE tenant = $1 AND imsi > $2 ORDER BY imsi LIMIT $3")
                    .bind(t)
                    .bind(after)
                    .bind(limit)
                    .fetch_all(self.pool())
                    .await?
            }
        };
        rows.iter().map(|r| Ok(r.try_get::<String, _>("imsi")?)).collect()
    }
}

/// A token as listed (never its secret or hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenSummary {
    /// What the token grants.
    pub info: TokenInfo,
    /// Unix seconds of issue.
    pub created_at: i64,
    /// Unix seconds of revocation.
    pub revoked_at: Option<i64>,
    /// Source addresses allowed (empty: any).
    pub allowed_sources: Vec<String>,
}

impl Store {
    /// Tokens visible in `scope` (a tenant sees only its own), by id after `cursor`.
    pub async fn list_tokens(&self, scope: &Scope, cursor: Option<&str>, limit: i64) -> Result<Vec<TokenSummary>> {
        let rows = sqlx::query(
            "SELECT id, name, role, tenant, expires_at, allowed_sources, revoked_at, created_at, user_id FROM api_tokens \
             WHERE ($1 = '*' OR tenant = $1) AND id > $2 ORDER BY id LIMIT $3",
        )
        .bind(scope.key())
        .bind(cursor.unwrap_or(""))
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                let sources: String = r.try_get("allowed_sources")?;
                Ok(TokenSummary {
                    info: TokenInfo {
                        id: r.try_get("id")?,
                        name: r.try_get("name")?,
                        role: r.try_get("role")?,
                        tenant: r.try_get("tenant")?,
                        expires_at: r.try_get("expires_at")?,
                        user_id: r.try_get("user_id")?,
                    },
                    created_at: r.try_get("created_at")?,
                    revoked_at: r.try_get("revoked_at")?,
                    allowed_sources: sources.split(',').filter(|s| !s.is_empty()).map(str::to_string).collect(),
                })
            })
            .collect()
    }

    /// Deletes login sessions that expired before `before` (API tokens stay, revoked or not, as a
    /// record). Returns how many were deleted.
    pub async fn purge_expired_sessions(&self, before: i64) -> Result<u64> {
        let r = sqlx::query(
            "DELETE FROM api_tokens WHERE name LIKE 'session:%' AND user_id IS NOT NULL AND expires_at IS NOT NULL \
             AND expires_at < $1",
        )
        .bind(before)
        .execute(self.pool())
        .await?;
        Ok(r.rows_affected())
    }

    /// Tenant names after `cursor`, in order.
    pub async fn list_tenants(&self, cursor: Option<&str>, limit: i64) -> Result<Vec<(String, i64)>> {
        let rows = sqlx::query("SELECT name, created_at FROM tenants WHERE name > $1 ORDER BY name LIMIT $2")
            .bind(cursor.unwrap_or(""))
            .bind(limit)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(|r| Ok((r.try_get("name")?, r.try_get("created_at")?))).collect()
    }
}

impl crate::tx::Tx {
    /// True when the tenant exists (read inside the transaction).
    pub async fn tenant_exists(&mut self, name: &str) -> Result<bool> {
        Ok(sqlx::query("SELECT name FROM tenants WHERE name = $1")
            .bind(name)
            .fetch_optional(self.conn())
            .await?
            .is_some())
    }

    /// Creates a tenant; an existing name is a conflict.
    pub async fn create_tenant(&mut self, name: &str) -> Result<()> {
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
            return Err(StoreError::Conflict(format!("tenant name {name:?} must be letters, digits, '-' or '_'")));
        }
        sqlx::query("INSERT INTO tenants (name, created_at) VALUES ($1, $2)")
            .bind(name)
            .bind(now())
            .execute(self.conn())
            .await
            .map_err(|e| match &e {
                sqlx::Error::Database(d) if d.is_unique_violation() => {
                    StoreError::Conflict(format!("tenant {name} already exists"))
                }
                _ => StoreError::Db(e),
            })?;
        Ok(())
    }

    /// Issues a token and returns it in full, the only time it exists outside the caller's hands.
    pub async fn issue_token(&mut self, t: &NewToken) -> Result<(TokenInfo, String)> {
        if let Some(tenant) = &t.tenant {
            if !self.tenant_exists(tenant).await? {
                return Err(StoreError::NotFound(format!("tenant {tenant} does not exist")));
            }
        }
        let id = random_hex(8)?;
        let secret = random_hex(32)?;
        let sources = t.allowed_sources.iter().map(IpAddr::to_string).collect::<Vec<_>>().join(",");
        sqlx::query(
            "INSERT INTO api_tokens (id, secret_hash, name, role, tenant, expires_at, allowed_sources, created_at, \
             user_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&id)
        .bind(hash(&secret))
        .bind(&t.name)
        .bind(&t.role)
        .bind(t.tenant.clone())
        .bind(t.expires_at)
        .bind(sources)
        .bind(now())
        .bind(t.user_id.clone())
        .execute(self.conn())
        .await?;
        let info = TokenInfo {
            id: id.clone(),
            name: t.name.clone(),
            role: t.role.clone(),
            tenant: t.tenant.clone(),
            expires_at: t.expires_at,
            user_id: t.user_id.clone(),
        };
        Ok((info, format!("{TOKEN_PREFIX}_{id}_{secret}")))
    }

    /// Revokes a token visible in `scope`; false when no such token is visible.
    pub async fn revoke_token(&mut self, scope: &Scope, id: &str) -> Result<bool> {
        let r = match scope {
            Scope::Operator => {
                sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                    .bind(now())
                    .bind(id)
                    .execute(self.conn())
                    .await?
            }
            Scope::Tenant(t) => {
                sqlx::query(
                    "UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND tenant = $3 AND revoked_at IS NULL",
                )
                .bind(now())
                .bind(id)
                .bind(t)
                .execute(self.conn())
                .await?
            }
        };
        Ok(r.rows_affected() > 0)
    }
}
