//! The second login factor's data (SEC-8): a person's TOTP credential with its secret sealed like K
//! and OPc (AES-256-GCM under the KEK, bound to the user id and the column; opened only into a
//! zeroizing buffer for `cmp::mfa` to check a code, never returned to a client nor logged), the last
//! accepted step (a replayed code is refused by a conditional update, so two instances cannot both
//! accept one code), recovery codes kept as SHA-256, the short-lived single-use tickets between the
//! password and the second factor, and the per-tenant `mfa_required` setting.

use sha2::{Digest, Sha256};
use sqlx::Row;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::access::random_hex;
use crate::db::{now, Store};
use crate::error::{Result, StoreError};

/// The column name the TOTP secret is sealed for.
const SECRET_FIELD: &str = "mfa_totp.secret_sealed";
/// Prefix of MFA tickets (distinct from API tokens, so no ticket authenticates an API call).
pub const TICKET_PREFIX: &str = "wmt";

/// A TOTP credential, its secret opened.
pub struct TotpCredential {
    /// The opened secret (wiped when dropped).
    pub secret: Zeroizing<Vec<u8>>,
    /// `SHA1`, `SHA256` or `SHA512`.
    pub algorithm: String,
    /// 6 or 8.
    pub digits: u32,
    /// Confirmed by a first code.
    pub active: bool,
    /// Step of the last accepted code (-1: none).
    pub last_step: i64,
}

impl std::fmt::Debug for TotpCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TotpCredential")
            .field("secret", &"[redacted]")
            .field("algorithm", &self.algorithm)
            .field("digits", &self.digits)
            .field("active", &self.active)
            .field("last_step", &self.last_step)
            .finish()
    }
}

/// What a ticket is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TicketPurpose {
    /// The password was right; a second factor completes the login.
    Login,
    /// The password was right, the person must use MFA but has none: only enrolment is allowed.
    Enrol,
}

impl TicketPurpose {
    fn as_str(self) -> &'static str {
        match self {
            TicketPurpose::Login => "login",
            TicketPurpose::Enrol => "enrol",
        }
    }
}

/// A live ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ticket {
    /// Public id.
    pub id: String,
    /// The person who gave the right password.
    pub user_id: String,
    /// What it allows.
    pub purpose: TicketPurpose,
}

/// A tenant with its settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantRow {
    /// Name.
    pub name: String,
    /// Unix seconds of creation.
    pub created_at: i64,
    /// Its people need a second factor.
    pub mfa_required: bool,
}

/// SHA-256 of a secret, hex (tickets and recovery codes carry at least 80 random bits).
pub fn secret_hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

fn tenant_row(r: &sqlx::any::AnyRow) -> Result<TenantRow> {
    Ok(TenantRow {
        name: r.try_get("name")?,
        created_at: r.try_get("created_at")?,
        mfa_required: r.try_get::<i64, _>("mfa_required")? != 0,
    })
}

impl Store {
    /// Unix seconds of the login that opened the session `token_id`.
    pub async fn session_opened_at(&self, token_id: &str) -> Result<Option<i64>> {
        let row = sqlx::query("SELECT created_at FROM api_tokens WHERE id = $1")
            .bind(token_id)
            .fetch_optional(self.pool())
            .await?;
        row.map(|r| r.try_get("created_at").map_err(Into::into)).transpose()
    }

    /// The fresh factor of the login session `token_id` and when it was proved (`None`: none yet).
    pub async fn session_freshness(&self, token_id: &str) -> Result<Option<(String, i64)>> {
        let row = sqlx::query("SELECT fresh_factor, factor_at FROM api_tokens WHERE id = $1")
            .bind(token_id)
            .fetch_optional(self.pool())
            .await?;
        let Some(r) = row else { return Ok(None) };
        let factor: Option<String> = r.try_get("fresh_factor")?;
        let at: Option<i64> = r.try_get("factor_at")?;
        Ok(factor.zip(at))
    }

    /// Whether people of `tenant` need a second factor (`None`: the operator's staff, always).
    pub async fn mfa_required(&self, tenant: Option<&str>) -> Result<bool> {
        let Some(t) = tenant else { return Ok(true) };
        let row =
            sqlx::query("SELECT mfa_required FROM tenants WHERE name = $1").bind(t).fetch_optional(self.pool()).await?;
        Ok(row.map(|r| r.try_get::<i64, _>("mfa_required")).transpose()?.is_none_or(|v| v != 0))
    }

    /// Tenants after `cursor`, in order, with their settings.
    pub async fn tenant_rows(&self, cursor: Option<&str>, limit: i64) -> Result<Vec<TenantRow>> {
        let rows =
            sqlx::query("SELECT name, created_at, mfa_required FROM tenants WHERE name > $1 ORDER BY name LIMIT $2")
                .bind(cursor.unwrap_or(""))
                .bind(limit)
                .fetch_all(self.pool())
                .await?;
        rows.iter().map(tenant_row).collect()
    }

    /// One tenant with its settings.
    pub async fn tenant_row(&self, name: &str) -> Result<Option<TenantRow>> {
        let row = sqlx::query("SELECT name, created_at, mfa_required FROM tenants WHERE name = $1")
            .bind(name)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(tenant_row).transpose()
    }

    /// The user's TOTP credential with its secret opened, if any.
    pub async fn totp_credential(&self, user_id: &str) -> Result<Option<TotpCredential>> {
        let row =
            sqlx::query("SELECT secret_sealed, algorithm, digits, state, last_step FROM mfa_totp WHERE user_id = $1")
                .bind(user_id)
                .fetch_optional(self.pool())
                .await?;
        let Some(r) = row else { return Ok(None) };
        let secret = self.keyring().open(user_id, SECRET_FIELD, &r.try_get::<Vec<u8>, _>("secret_sealed")?)?;
        let digits: i64 = r.try_get("digits")?;
        Ok(Some(TotpCredential {
            secret,
            algorithm: r.try_get("algorithm")?,
            digits: u32::try_from(digits)
                .map_err(|_| StoreError::Conflict(format!("stored TOTP digits {digits} out of range")))?,
            active: r.try_get::<String, _>("state")? == "active",
            last_step: r.try_get("last_step")?,
        }))
    }

    /// The live ticket `text` presented from `source` at `at`: right secret, not expired, not used,
    /// and from the address it was issued to. `None` for every failure alike.
    pub async fn mfa_ticket(&self, text: &str, source: &str, at: i64) -> Result<Option<Ticket>> {
        let mut parts = text.splitn(3, '_');
        let (Some(TICKET_PREFIX), Some(id), Some(secret)) = (parts.next(), parts.next(), parts.next()) else {
            return Ok(None);
        };
        let row = sqlx::query(
            "SELECT id, secret_hash, user_id, purpose, source, expires_at, used_at FROM mfa_tickets WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        let Some(r) = row else { return Ok(None) };
        let stored: String = r.try_get("secret_hash")?;
        if !bool::from(stored.as_bytes().ct_eq(secret_hash(secret).as_bytes()))
            || r.try_get::<Option<i64>, _>("used_at")?.is_some()
            || at >= r.try_get::<i64, _>("expires_at")?
            || r.try_get::<String, _>("source")? != source
        {
            return Ok(None);
        }
        let purpose = match r.try_get::<String, _>("purpose")?.as_str() {
            "login" => TicketPurpose::Login,
            "enrol" => TicketPurpose::Enrol,
            _ => return Ok(None),
        };
        Ok(Some(Ticket { id: r.try_get("id")?, user_id: r.try_get("user_id")?, purpose }))
    }

    /// Recovery codes of the user not used yet.
    pub async fn recovery_codes_left(&self, user_id: &str) -> Result<i64> {
        let r = sqlx::query("SELECT COUNT(*) AS n FROM mfa_recovery_codes WHERE user_id = $1 AND used_at IS NULL")
            .bind(user_id)
            .fetch_one(self.pool())
            .await?;
        Ok(r.try_get("n")?)
    }

    /// Re-seals the TOTP secrets not sealed with the current KEK (part of [`Store::reseal_all`]).
    pub(crate) async fn reseal_mfa_secrets(&self) -> Result<u64> {
        let keys = self.keyring();
        let rows = sqlx::query("SELECT user_id, secret_sealed FROM mfa_totp").fetch_all(self.pool()).await?;
        let mut tx = self.pool().begin().await?;
        let mut done = 0;
        for r in &rows {
            let (user, blob): (String, Vec<u8>) = (r.try_get("user_id")?, r.try_get("secret_sealed")?);
            if crate::seal::Keyring::blob_kek(&blob) == Some(keys.current_id()) {
                continue;
            }
            let sealed = keys.seal(&user, SECRET_FIELD, &keys.open(&user, SECRET_FIELD, &blob)?)?;
            sqlx::query("UPDATE mfa_totp SET secret_sealed = $1 WHERE user_id = $2")
                .bind(sealed)
                .bind(&user)
                .execute(&mut *tx)
                .await?;
            done += 1;
        }
        tx.commit().await?;
        Ok(done)
    }

    /// Deletes tickets that expired before `before`. Returns how many.
    pub async fn purge_expired_tickets(&self, before: i64) -> Result<u64> {
        let r = sqlx::query("DELETE FROM mfa_tickets WHERE expires_at < $1").bind(before).execute(self.pool()).await?;
        Ok(r.rows_affected())
    }
}

impl crate::tx::Tx {
    /// Sets whether a tenant's people need a second factor; false when the tenant does not exist.
    pub async fn set_mfa_required(&mut self, tenant: &str, required: bool) -> Result<bool> {
        let r = sqlx::query("UPDATE tenants SET mfa_required = $1 WHERE name = $2")
            .bind(i64::from(required))
            .bind(tenant)
            .execute(self.conn())
            .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Stores a new pending TOTP credential (replacing a pending one). An active one is a conflict:
    /// it must be removed first.
    pub async fn put_pending_totp(&mut self, user_id: &str, secret: &[u8], algorithm: &str, digits: u32) -> Result<()> {
        sqlx::query("DELETE FROM mfa_totp WHERE user_id = $1 AND state = 'pending'")
            .bind(user_id)
            .execute(self.conn())
            .await?;
        let sealed = self.keys().seal(user_id, SECRET_FIELD, secret)?;
        sqlx::query(
            "INSERT INTO mfa_totp (user_id, secret_sealed, algorithm, digits, state, last_step, created_at) \
             VALUES ($1, $2, $3, $4, 'pending', -1, $5)",
        )
        .bind(user_id)
        .bind(sealed)
        .bind(algorithm)
        .bind(i64::from(digits))
        .bind(now())
        .execute(self.conn())
        .await
        .map_err(|e| match &e {
            sqlx::Error::Database(d) if d.is_unique_violation() => {
                StoreError::Conflict("a one-time-code factor is already active; remove it first".into())
            }
            _ => StoreError::Db(e),
        })?;
        Ok(())
    }

    /// Records `step` as the last accepted one, only if it is after the stored one; with `activate`,
    /// also turns a pending credential active (and requires it to be pending). False: a replay, or no
    /// such credential.
    pub async fn accept_totp_step(&mut self, user_id: &str, step: i64, activate: bool) -> Result<bool> {
        let sql = if activate {
            "UPDATE mfa_totp SET last_step = $1, state = 'active', confirmed_at = $2 \
             WHERE user_id = $3 AND state = 'pending' AND last_step < $1"
        } else {
            "UPDATE mfa_totp SET last_step = $1, confirmed_at = COALESCE(confirmed_at, $2) \
             WHERE user_id = $3 AND state = 'active' AND last_step < $1"
        };
        let r = sqlx::query(sql).bind(step).bind(now()).bind(user_id).execute(self.conn()).await?;
        Ok(r.rows_affected() == 1)
    }

    /// Replaces the user's recovery codes by these SHA-256 hashes.
    pub async fn replace_recovery_codes(&mut self, user_id: &str, hashes: &[String]) -> Result<()> {
        sqlx::query("DELETE FROM mfa_recovery_codes WHERE user_id = $1").bind(user_id).execute(self.conn()).await?;
        for h in hashes {
            sqlx::query("INSERT INTO mfa_recovery_codes (user_id, code_hash) VALUES ($1, $2)")
                .bind(user_id)
                .bind(h)
                .execute(self.conn())
                .await?;
        }
        Ok(())
    }

    /// Uses the unused recovery code of this hash; false when there is none.
    pub async fn use_recovery_code(&mut self, user_id: &str, hash: &str) -> Result<bool> {
        let r = sqlx::query(
            "UPDATE mfa_recovery_codes SET used_at = $1 WHERE user_id = $2 AND code_hash = $3 AND used_at IS NULL",
        )
        .bind(now())
        .bind(user_id)
        .bind(hash)
        .execute(self.conn())
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Removes the user's TOTP credential and recovery codes; false when there was no credential.
    pub async fn delete_mfa(&mut self, user_id: &str) -> Result<bool> {
        let r = sqlx::query("DELETE FROM mfa_totp WHERE user_id = $1").bind(user_id).execute(self.conn()).await?;
        sqlx::query("DELETE FROM mfa_recovery_codes WHERE user_id = $1").bind(user_id).execute(self.conn()).await?;
        Ok(r.rows_affected() == 1)
    }

    /// Issues a ticket for `user_id`, bound to `source`, and returns it in full (`wmt_<id>_<secret>`).
    pub async fn issue_mfa_ticket(
        &mut self,
        user_id: &str,
        purpose: TicketPurpose,
        source: &str,
        expires_at: i64,
    ) -> Result<String> {
        let id = random_hex(8)?;
        let secret = random_hex(32)?;
        sqlx::query(
            "INSERT INTO mfa_tickets (id, secret_hash, user_id, purpose, source, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&id)
        .bind(secret_hash(&secret))
        .bind(user_id)
        .bind(purpose.as_str())
        .bind(source)
        .bind(expires_at)
        .execute(self.conn())
        .await?;
        Ok(format!("{TICKET_PREFIX}_{id}_{secret}"))
    }

    /// Uses a ticket up; false when it was already used (single use even under concurrent calls).
    pub async fn use_mfa_ticket(&mut self, id: &str) -> Result<bool> {
        let r = sqlx::query("UPDATE mfa_tickets SET used_at = $1 WHERE id = $2 AND used_at IS NULL")
            .bind(now())
            .bind(id)
            .execute(self.conn())
            .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Records the factor a login session was opened with; a second factor (anything but `password`)
    /// also counts as the session's fresh factor, now (step-up, [`Store::session_freshness`]).
    pub async fn set_session_factor(&mut self, token_id: &str, factor: &str) -> Result<()> {
        let second = factor != "password";
        sqlx::query(
            "UPDATE api_tokens SET factor = $1, fresh_factor = CASE WHEN $2 THEN $1 ELSE fresh_factor END, \
             factor_at = CASE WHEN $2 THEN $3 ELSE factor_at END WHERE id = $4",
        )
        .bind(factor)
        .bind(second)
        .bind(now())
        .bind(token_id)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Records a step-up: the login session `token_id` proved `factor` at `at`.
    pub async fn record_step_up(&mut self, token_id: &str, factor: &str, at: i64) -> Result<()> {
        sqlx::query("UPDATE api_tokens SET fresh_factor = $1, factor_at = $2 WHERE id = $3")
            .bind(factor)
            .bind(at)
            .bind(token_id)
            .execute(self.conn())
            .await?;
        Ok(())
    }

    /// Revokes the user's live login sessions except `keep` (after an MFA change). Returns how many.
    pub async fn revoke_other_sessions(&mut self, user_id: &str, keep: &str) -> Result<u64> {
        let r = sqlx::query(
            "UPDATE api_tokens SET revoked_at = $1 WHERE user_id = $2 AND id <> $3 AND name LIKE 'session:%' \
             AND revoked_at IS NULL",
        )
        .bind(now())
        .bind(user_id)
        .bind(keep)
        .execute(self.conn())
        .await?;
        Ok(r.rows_affected())
    }
}
