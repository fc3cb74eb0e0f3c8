//! Passkeys (WebAuthn) of the second login factor (SEC-8): a person's registered credentials (the
//! serialized webauthn-rs `Passkey`, opaque JSON here, with the signature counter kept in a column so
//! that recording a use is a conditional update: two instances cannot both accept one assertion over
//! the same counter), and the ceremonies under way (registration, login, step-up): their state is kept
//! here rather than in memory so any instance on the database can finish a ceremony, bound to the
//! person and to the ticket or session that started it, expiring, and taken at most once.

use sqlx::Row;

use crate::access::random_hex;
use crate::db::{now, Store};
use crate::error::{Result, StoreError};

/// Seconds a ceremony lives.
pub const CEREMONY_SECS: i64 = 300;

/// A stored passkey.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebauthnCredential {
    /// Public id (what the person names in the API).
    pub id: String,
    /// The person.
    pub user_id: String,
    /// The authenticator's credential id, base64url.
    pub credential_id: String,
    /// The webauthn-rs `Passkey`, JSON.
    pub passkey: String,
    /// The signature counter of the last accepted assertion.
    pub sign_count: i64,
    /// The name the person gave it.
    pub name: String,
    /// Unix seconds of the registration.
    pub created_at: i64,
    /// Unix seconds of the last use.
    pub last_used_at: Option<i64>,
}

/// What a ceremony is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CeremonyKind {
    /// Registering a new passkey.
    Register,
    /// The second step of a login.
    Login,
    /// Proving presence again during a session (step-up).
    StepUp,
}

impl CeremonyKind {
    fn as_str(self) -> &'static str {
        match self {
            CeremonyKind::Register => "register",
            CeremonyKind::Login => "login",
            CeremonyKind::StepUp => "stepup",
        }
    }
}

fn credential(r: &sqlx::any::AnyRow) -> Result<WebauthnCredential> {
    Ok(WebauthnCredential {
        id: r.try_get("id")?,
        user_id: r.try_get("user_id")?,
        credential_id: r.try_get("credential_id")?,
        passkey: r.try_get("passkey")?,
        sign_count: r.try_get("sign_count")?,
        name: r.try_get("name")?,
        created_at: r.try_get("created_at")?,
        last_used_at: r.try_get("last_used_at")?,
    })
}

const COLUMNS: &str = "id, user_id, credential_id, passkey, sign_count, name, created_at, last_used_at";

impl Store {
    /// The person's passkeys, oldest first.
    pub async fn webauthn_credentials(&self, user_id: &str) -> Result<Vec<WebauthnCredential>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM webauthn_credentials WHERE user_id = $1 ORDER BY created_at, id"
        ))
        .bind(user_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(credential).collect()
    }

    /// How many passkeys the person has.
    pub async fn count_webauthn_credentials(&self, user_id: &str) -> Result<i64> {
        let r = sqlx::query("SELECT COUNT(*) AS n FROM webauthn_credentials WHERE user_id = $1")
            .bind(user_id)
            .fetch_one(self.pool())
            .await?;
        Ok(r.try_get("n")?)
    }

    /// Deletes ceremonies that expired before `before`. Returns how many.
    pub async fn purge_expired_ceremonies(&self, before: i64) -> Result<u64> {
        let r = sqlx::query("DELETE FROM webauthn_ceremonies WHERE expires_at < $1")
            .bind(before)
            .execute(self.pool())
            .await?;
        Ok(r.rows_affected())
    }
}

impl crate::tx::Tx {
    /// Stores a new passkey of `user_id` and returns its public id. A credential id already
    /// registered (by anyone) is a conflict.
    pub async fn insert_webauthn_credential(
        &mut self,
        user_id: &str,
        credential_id: &str,
        passkey: &str,
        sign_count: i64,
        name: &str,
    ) -> Result<String> {
        let id = random_hex(8)?;
        sqlx::query(
            "INSERT INTO webauthn_credentials (id, user_id, credential_id, passkey, sign_count, name, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&id)
        .bind(user_id)
        .bind(credential_id)
        .bind(passkey)
        .bind(sign_count)
        .bind(name)
        .bind(now())
        .execute(self.conn())
        .await
        .map_err(|e| match &e {
            sqlx::Error::Database(d) if d.is_unique_violation() => {
                StoreError::Conflict("this passkey is already registered".into())
            }
            _ => StoreError::Db(e),
        })?;
        Ok(id)
    }

    /// Records a use of passkey `id`: its updated `Passkey` and counter, only if the stored counter is
    /// still `checked_count` (the one the assertion was checked against). False: a concurrent use won.
    pub async fn record_webauthn_use(
        &mut self,
        id: &str,
        passkey: &str,
        checked_count: i64,
        new_count: i64,
    ) -> Result<bool> {
        let r = sqlx::query(
            "UPDATE webauthn_credentials SET passkey = $1, sign_count = $2, last_used_at = $3 \
             WHERE id = $4 AND sign_count = $5",
        )
        .bind(passkey)
        .bind(new_count)
        .bind(now())
        .bind(id)
        .bind(checked_count)
        .execute(self.conn())
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Renames the person's passkey `id`; false when they have no such passkey.
    pub async fn rename_webauthn_credential(&mut self, user_id: &str, id: &str, name: &str) -> Result<bool> {
        let r = sqlx::query("UPDATE webauthn_credentials SET name = $1 WHERE id = $2 AND user_id = $3")
            .bind(name)
            .bind(id)
            .bind(user_id)
            .execute(self.conn())
            .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Deletes the person's passkey `id`; false when they have no such passkey.
    pub async fn delete_webauthn_credential(&mut self, user_id: &str, id: &str) -> Result<bool> {
        let r = sqlx::query("DELETE FROM webauthn_credentials WHERE id = $1 AND user_id = $2")
            .bind(id)
            .bind(user_id)
            .execute(self.conn())
            .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Stores a ceremony's state, bound to `user_id` and `binding` (a ticket id or a session's token
    /// id), expiring at `expires_at`. Returns its random id.
    pub async fn put_webauthn_ceremony(
        &mut self,
        kind: CeremonyKind,
        user_id: &str,
        binding: &str,
        state: &str,
        expires_at: i64,
    ) -> Result<String> {
        let id = random_hex(16)?;
        sqlx::query(
            "INSERT INTO webauthn_ceremonies (id, kind, user_id, binding, state, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&id)
        .bind(kind.as_str())
        .bind(user_id)
        .bind(binding)
        .bind(state)
        .bind(expires_at)
        .execute(self.conn())
        .await?;
        Ok(id)
    }

    /// Takes the ceremony `id` of this kind, person and binding, live at `at` and not taken before:
    /// marks it used and returns its state. `None` for every failure alike (unknown, expired, used,
    /// someone else's); a failed attempt by someone else does not use it up.
    pub async fn take_webauthn_ceremony(
        &mut self,
        id: &str,
        kind: CeremonyKind,
        user_id: &str,
        binding: &str,
        at: i64,
    ) -> Result<Option<String>> {
        let r = sqlx::query(
            "UPDATE webauthn_ceremonies SET used_at = $1 WHERE id = $2 AND kind = $3 AND user_id = $4 \
             AND binding = $5 AND used_at IS NULL AND expires_at > $1",
        )
        .bind(at)
        .bind(id)
        .bind(kind.as_str())
        .bind(user_id)
        .bind(binding)
        .execute(self.conn())
        .await?;
        if r.rows_affected() != 1 {
            return Ok(None);
        }
        let row =
            sqlx::query("SELECT state FROM webauthn_ceremonies WHERE id = $1").bind(id).fetch_one(self.conn()).await?;
        Ok(Some(row.try_get("state")?))
    }
}
