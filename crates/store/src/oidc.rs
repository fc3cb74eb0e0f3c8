//! OpenID Connect login data (SEC-8): the authorization requests in flight (state, nonce and the
//! PKCE verifier, kept server-side, single use, short-lived, shared by every instance on the
//! database) and the binding of a Warden user to the identity provider's subject (`sub`) it first
//! logged in with.

use sqlx::Row;
use zeroize::Zeroizing;

use crate::db::{now, Store};
use crate::error::Result;
use crate::mfa::secret_hash;

/// The column name the PKCE verifier is sealed for.
const VERIFIER_FIELD: &str = "oidc_flows.verifier_sealed";

/// An authorization request in flight, as the callback takes it.
pub struct Flow {
    /// The nonce the ID token must carry.
    pub nonce: String,
    /// The PKCE code verifier (wiped when dropped).
    pub verifier: Zeroizing<Vec<u8>>,
    /// The address that started the flow.
    pub source: String,
}

impl std::fmt::Debug for Flow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Flow").field("verifier", &"[redacted]").field("source", &self.source).finish()
    }
}

impl Store {
    /// The subject bound to `user_id` for `issuer`, if any.
    pub async fn oidc_subject(&self, user_id: &str, issuer: &str) -> Result<Option<String>> {
        let row = sqlx::query("SELECT subject FROM oidc_subjects WHERE user_id = $1 AND issuer = $2")
            .bind(user_id)
            .bind(issuer)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.map(|r| r.try_get("subject")).transpose()?)
    }

    /// Deletes flows that expired before `before`. Returns how many.
    pub async fn purge_expired_oidc_flows(&self, before: i64) -> Result<u64> {
        let r = sqlx::query("DELETE FROM oidc_flows WHERE expires_at < $1").bind(before).execute(self.pool()).await?;
        Ok(r.rows_affected())
    }
}

impl crate::tx::Tx {
    /// Stores a new flow under the SHA-256 of its `state`.
    pub async fn put_oidc_flow(
        &mut self,
        state: &str,
        nonce: &str,
        verifier: &[u8],
        source: &str,
        expires_at: i64,
    ) -> Result<()> {
        let hash = secret_hash(state);
        let sealed = self.keys().seal(&hash, VERIFIER_FIELD, verifier)?;
        sqlx::query(
            "INSERT INTO oidc_flows (state_hash, nonce, verifier_sealed, source, expires_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&hash)
        .bind(nonce)
        .bind(sealed)
        .bind(source)
        .bind(expires_at)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Takes the flow `state` names: deleted whatever happens next, so it is used once; `None` when
    /// unknown, already taken (by this or another instance) or expired.
    pub async fn take_oidc_flow(&mut self, state: &str) -> Result<Option<Flow>> {
        let hash = secret_hash(state);
        let row =
            sqlx::query("SELECT nonce, verifier_sealed, source, expires_at FROM oidc_flows WHERE state_hash = $1")
                .bind(&hash)
                .fetch_optional(self.conn())
                .await?;
        let Some(r) = row else { return Ok(None) };
        let deleted =
            sqlx::query("DELETE FROM oidc_flows WHERE state_hash = $1").bind(&hash).execute(self.conn()).await?;
        if deleted.rows_affected() != 1 || now() >= r.try_get::<i64, _>("expires_at")? {
            return Ok(None);
        }
        let verifier = self.keys().open(&hash, VERIFIER_FIELD, &r.try_get::<Vec<u8>, _>("verifier_sealed")?)?;
        Ok(Some(Flow { nonce: r.try_get("nonce")?, verifier, source: r.try_get("source")? }))
    }

    /// Binds `subject` of `issuer` to `user_id` (first use). Bindings of deleted users are dropped
    /// first, so a subject freed by a deleted account can be bound again. False when the subject is
    /// already bound to another user.
    pub async fn bind_oidc_subject(&mut self, user_id: &str, issuer: &str, subject: &str) -> Result<bool> {
        sqlx::query("DELETE FROM oidc_subjects WHERE issuer = $1 AND user_id NOT IN (SELECT id FROM users)")
            .bind(issuer)
            .execute(self.conn())
            .await?;
        let taken = sqlx::query("SELECT user_id FROM oidc_subjects WHERE issuer = $1 AND subject = $2")
            .bind(issuer)
            .bind(subject)
            .fetch_optional(self.conn())
            .await?;
        if taken.is_some() {
            return Ok(false);
        }
        sqlx::query("INSERT INTO oidc_subjects (user_id, issuer, subject, bound_at) VALUES ($1, $2, $3, $4)")
            .bind(user_id)
            .bind(issuer)
            .bind(subject)
            .bind(now())
            .execute(self.conn())
            .await?;
        Ok(true)
    }
}
