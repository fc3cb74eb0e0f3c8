//! Login sessions as the people who own them see them (issue #15): the cookie sessions of the web
//! portal with their CSRF token and last use (idle timeout), the list of one's live sessions, and
//! revocation of one session. A session is an `api_tokens` row named `session:<user>`.
//!
//! The CSRF token is 128 random bits. It is stored sealed with the session: XOR-ed with a pad derived
//! from the session's secret (SHA-256 of a label and the secret), which the store never keeps — only
//! whoever holds the cookie can open it, so the database alone reveals neither.

use sha2::{Digest, Sha256};
use sqlx::Row;
use subtle::ConstantTimeEq;

use crate::db::{now, Store};
use crate::error::{Result, StoreError};
use crate::tx::Tx;

/// Bytes of a CSRF token (128 bits).
const CSRF_BYTES: usize = 16;

/// The pad that seals a session's CSRF token, derived from the token's secret part.
fn pad(token: &str) -> [u8; CSRF_BYTES] {
    let secret = token.rsplit('_').next().unwrap_or_default();
    let digest = Sha256::new().chain_update(b"warden-csrf-seal\0").chain_update(secret.as_bytes()).finalize();
    let mut out = [0u8; CSRF_BYTES];
    out.copy_from_slice(&digest[..CSRF_BYTES]);
    out
}

fn xor(a: &[u8], b: &[u8; CSRF_BYTES]) -> Vec<u8> {
    a.iter().zip(b.iter()).map(|(x, y)| x ^ y).collect()
}

/// The id part of a token `wdn_<id>_<secret>`.
fn token_id(token: &str) -> Option<&str> {
    token.split('_').nth(1)
}

/// The state of a cookie session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CookieState {
    /// The CSRF token, opened with the session's secret.
    pub csrf_token: String,
    /// Unix seconds of the last recorded use.
    pub last_used_at: i64,
}

impl CookieState {
    /// Whether `presented` is this session's CSRF token (constant-time).
    pub fn csrf_matches(&self, presented: &str) -> bool {
        bool::from(self.csrf_token.as_bytes().ct_eq(presented.as_bytes()))
    }
}

/// A live login session, without its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    /// Token id.
    pub id: String,
    /// Unix seconds of the login.
    pub created_at: i64,
    /// Unix seconds of the last recorded use (cookie sessions; bearer sessions: `None`).
    pub last_used_at: Option<i64>,
    /// Unix seconds of expiry.
    pub expires_at: Option<i64>,
    /// The factor of the login: `password`, `totp` or `recovery`.
    pub factor: Option<String>,
    /// The address the session is bound to (empty: any).
    pub source: String,
    /// A portal cookie session (else a bearer session).
    pub cookie: bool,
}

impl Tx {
    /// Makes the login session `token` a cookie session: a new CSRF token is stored sealed with the
    /// session's secret and the session counts as used now. Returns the CSRF token (hex).
    pub async fn make_cookie_session(&mut self, token: &str) -> Result<String> {
        let id = token_id(token).ok_or_else(|| StoreError::Conflict("malformed session token".into()))?;
        let mut csrf = [0u8; CSRF_BYTES];
        auc::fill_random(&mut csrf).map_err(|e| StoreError::Conflict(e.to_string()))?;
        let sealed = hex::encode(xor(&csrf, &pad(token)));
        sqlx::query("UPDATE api_tokens SET csrf_sealed = $1, last_used_at = $2 WHERE id = $3")
            .bind(sealed)
            .bind(now())
            .bind(id)
            .execute(self.conn())
            .await?;
        Ok(hex::encode(csrf))
    }

    /// Revokes one live login session of `user_id`; false when there is none.
    pub async fn revoke_session(&mut self, user_id: &str, id: &str) -> Result<bool> {
        let r = sqlx::query(
            "UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND user_id = $3 AND name LIKE 'session:%' \
             AND revoked_at IS NULL",
        )
        .bind(now())
        .bind(id)
        .bind(user_id)
        .execute(self.conn())
        .await?;
        Ok(r.rows_affected() == 1)
    }
}

impl Store {
    /// The cookie state of the (already verified) token; `None` when it is not a cookie session.
    pub async fn cookie_state(&self, token: &str) -> Result<Option<CookieState>> {
        let Some(id) = token_id(token) else { return Ok(None) };
        let row = sqlx::query("SELECT csrf_sealed, last_used_at FROM api_tokens WHERE id = $1")
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        let Some(r) = row else { return Ok(None) };
        let (Some(sealed), Some(last_used_at)) =
            (r.try_get::<Option<String>, _>("csrf_sealed")?, r.try_get::<Option<i64>, _>("last_used_at")?)
        else {
            return Ok(None);
        };
        let sealed = hex::decode(sealed).map_err(|e| StoreError::Conflict(format!("csrf_sealed: {e}")))?;
        Ok(Some(CookieState { csrf_token: hex::encode(xor(&sealed, &pad(token))), last_used_at }))
    }

    /// Records a use of the cookie session `id` at `at`, unless one was recorded within `every`
    /// seconds (so a busy page writes at most that often).
    pub async fn touch_session(&self, id: &str, at: i64, every: i64) -> Result<()> {
        sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE id = $2 AND last_used_at <= $3")
            .bind(at)
            .bind(id)
            .bind(at - every)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// The live login sessions of `user_id` at `at`, oldest first.
    pub async fn list_sessions(&self, user_id: &str, at: i64) -> Result<Vec<SessionRow>> {
        let rows = sqlx::query(
            "SELECT id, created_at, last_used_at, expires_at, factor, allowed_sources, csrf_sealed FROM api_tokens \
             WHERE user_id = $1 AND name LIKE 'session:%' AND revoked_at IS NULL \
             AND (expires_at IS NULL OR expires_at > $2) ORDER BY created_at, id",
        )
        .bind(user_id)
        .bind(at)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(SessionRow {
                    id: r.try_get("id")?,
                    created_at: r.try_get("created_at")?,
                    last_used_at: r.try_get("last_used_at")?,
                    expires_at: r.try_get("expires_at")?,
                    factor: r.try_get("factor")?,
                    source: r.try_get("allowed_sources")?,
                    cookie: r.try_get::<Option<String>, _>("csrf_sealed")?.is_some(),
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pad_depends_on_the_secret_only() {
        let a = pad("wdn_0123456789abcdef_aaaa");
        assert_eq!(a, pad("wdn_fedcba9876543210_aaaa"));
        assert_ne!(a, pad("wdn_0123456789abcdef_aaab"));
        let csrf = [7u8; CSRF_BYTES];
        assert_eq!(xor(&xor(&csrf, &a), &a), csrf.to_vec());
    }
}
