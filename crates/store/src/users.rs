//! Human users of the platform: a username, an argon2id password hash (made by `cmp::password`, never
//! returned), a role and a tenant, and the failed-login counter that slows down password guessing.

use sqlx::Row;

use crate::access::{random_hex, Scope};
use crate::db::{now, Store};
use crate::error::{Result, StoreError};

/// A user as shown (no hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Public id.
    pub id: String,
    /// Login name.
    pub username: String,
    /// Role name.
    pub role: String,
    /// Tenant; `None` for operator admins.
    pub tenant: Option<String>,
    /// Unix seconds of creation.
    pub created_at: i64,
}

/// What a login attempt needs.
#[derive(Debug, Clone)]
pub struct LoginRecord {
    /// The user.
    pub user: User,
    /// argon2id PHC string.
    pub password_hash: String,
    /// Consecutive failed attempts.
    pub failed_logins: i64,
    /// Unix seconds until which attempts are refused.
    pub locked_until: i64,
}

fn user_from_row(r: &sqlx::any::AnyRow) -> Result<User> {
    Ok(User {
        id: r.try_get("id")?,
        username: r.try_get("username")?,
        role: r.try_get("role")?,
        tenant: r.try_get("tenant")?,
        created_at: r.try_get("created_at")?,
    })
}

fn login_record(r: &sqlx::any::AnyRow) -> Result<LoginRecord> {
    Ok(LoginRecord {
        user: user_from_row(r)?,
        password_hash: r.try_get("password_hash")?,
        failed_logins: r.try_get("failed_logins")?,
        locked_until: r.try_get("locked_until")?,
    })
}

impl Store {
    /// The login records named `username`: one per tenant at most, and one among the operator's
    /// staff (usernames are unique within a tenant, not across tenants).
    pub async fn login_records(&self, username: &str) -> Result<Vec<LoginRecord>> {
        let rows = sqlx::query(
            "SELECT id, username, role, tenant, created_at, password_hash, failed_logins, locked_until \
             FROM users WHERE username = $1 ORDER BY id",
        )
        .bind(username)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(login_record).collect()
    }

    /// The login record of the user `id` (the second login step counts failures like the first).
    pub async fn login_record_by_id(&self, id: &str) -> Result<Option<LoginRecord>> {
        let row = sqlx::query(
            "SELECT id, username, role, tenant, created_at, password_hash, failed_logins, locked_until \
             FROM users WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        row.map(|r| login_record(&r)).transpose()
    }

    /// Users visible in `scope`, by id after `cursor`.
    pub async fn list_users(&self, scope: &Scope, cursor: Option<&str>, limit: i64) -> Result<Vec<User>> {
        let rows = sqlx::query(
            "SELECT id, username, role, tenant, created_at FROM users WHERE ($1 = '*' OR tenant = $1) AND id > $2 \
             ORDER BY id LIMIT $3",
        )
        .bind(scope.key())
        .bind(cursor.unwrap_or(""))
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(user_from_row).collect()
    }

    /// Number of the operator's staff with `role` (used to refuse a second `admin init`).
    pub async fn count_operator_users(&self, role: &str) -> Result<i64> {
        let r = sqlx::query("SELECT COUNT(*) AS n FROM users WHERE role = $1 AND tenant IS NULL")
            .bind(role)
            .fetch_one(self.pool())
            .await?;
        Ok(r.try_get::<i64, _>("n")?)
    }

    /// A user visible in `scope`.
    pub async fn user_in(&self, scope: &Scope, id: &str) -> Result<Option<User>> {
        let row = sqlx::query(
            "SELECT id, username, role, tenant, created_at FROM users WHERE id = $1 AND ($2 = '*' OR tenant = $2)",
        )
        .bind(id)
        .bind(scope.key())
        .fetch_optional(self.pool())
        .await?;
        row.map(|r| user_from_row(&r)).transpose()
    }
}

impl crate::tx::Tx {
    /// Creates a user; a taken username is a conflict.
    pub async fn create_user(
        &mut self,
        username: &str,
        password_hash: &str,
        role: &str,
        tenant: Option<&str>,
    ) -> Result<User> {
        if let Some(t) = tenant {
            if !self.tenant_exists(t).await? {
                return Err(StoreError::NotFound(format!("tenant {t} does not exist")));
            }
        }
        let id = format!("usr_{}", random_hex(8)?);
        let created_at = now();
        sqlx::query(
            "INSERT INTO users (id, username, password_hash, role, tenant, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&id)
        .bind(username)
        .bind(password_hash)
        .bind(role)
        .bind(tenant.map(str::to_string))
        .bind(created_at)
        .execute(self.conn())
        .await
        .map_err(|e| match &e {
            sqlx::Error::Database(d) if d.is_unique_violation() => {
                StoreError::Conflict(format!("username {username} is taken in this tenant"))
            }
            _ => StoreError::Db(e),
        })?;
        Ok(User { id, username: username.into(), role: role.into(), tenant: tenant.map(str::to_string), created_at })
    }

    /// Records the outcome of a login attempt: success resets the counter, a failure counts and may
    /// lock the account until `locked_until`.
    pub async fn record_login(&mut self, user_id: &str, success: bool, locked_until: i64) -> Result<()> {
        let sql = if success {
            "UPDATE users SET failed_logins = 0, locked_until = $1 WHERE id = $2"
        } else {
            "UPDATE users SET failed_logins = failed_logins + 1, locked_until = $1 WHERE id = $2"
        };
        sqlx::query(sql).bind(locked_until).bind(user_id).execute(self.conn()).await?;
        Ok(())
    }

    /// Replaces a user's password hash.
    pub async fn set_password_hash(&mut self, user_id: &str, hash: &str) -> Result<()> {
        sqlx::query("UPDATE users SET password_hash = $1, failed_logins = 0, locked_until = 0 WHERE id = $2")
            .bind(hash)
            .bind(user_id)
            .execute(self.conn())
            .await?;
        Ok(())
    }

    /// Revokes every live login session of the user (after a password change or reset).
    pub async fn revoke_sessions(&mut self, user_id: &str) -> Result<u64> {
        let r = sqlx::query(
            "UPDATE api_tokens SET revoked_at = $1 WHERE user_id = $2 AND name LIKE 'session:%' AND revoked_at IS NULL",
        )
        .bind(now())
        .bind(user_id)
        .execute(self.conn())
        .await?;
        Ok(r.rows_affected())
    }

    /// Revokes every live credential derived from the user: its sessions and the tokens issued with
    /// them (when the account is deleted).
    pub async fn revoke_user_credentials(&mut self, user_id: &str) -> Result<u64> {
        let r = sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL")
            .bind(now())
            .bind(user_id)
            .execute(self.conn())
            .await?;
        Ok(r.rows_affected())
    }

    /// Deletes a user visible in `scope`; false when there is none.
    pub async fn delete_user(&mut self, scope: &Scope, id: &str) -> Result<bool> {
        let r = sqlx::query("DELETE FROM users WHERE id = $1 AND ($2 = '*' OR tenant = $2)")
            .bind(id)
            .bind(scope.key())
            .execute(self.conn())
            .await?;
        Ok(r.rows_affected() == 1)
    }
}
