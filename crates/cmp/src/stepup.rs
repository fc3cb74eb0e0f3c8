//! Step-up (SEC-8): sensitive tasks — terminating a SIM, lifting critical protection, approving a
//! second-person request, big bulk jobs, issuing tokens, changing webhooks and MFA settings — need a
//! second factor proved within the last [`FRESH_SECS`] by the person's login session. Logging in with
//! a second factor counts; later, `POST /me/step-up` with a TOTP or recovery code (or a passkey)
//! renews it. A wrong or replayed code counts toward the account lockout like a wrong password.
//!
//! Only login sessions step up. An API token is not a person at a keyboard: a token issued by a
//! person (which itself needed a step-up) carries the role it was given, and the two-person rule of
//! [`crate::approvals`] applies to tokens all the same.

use std::net::IpAddr;

use serde_json::json;
use store::Store;

use crate::access::{account_actor, record_failure, source_text, SESSION_PREFIX, WRONG};
use crate::error::{Error, Result};

/// Seconds a proved second factor stays fresh (the "≤ 5 min").
pub const FRESH_SECS: i64 = 300;

/// What asks for a step-up: the session's token id and name.
#[derive(Debug, Clone, Copy)]
pub struct Credential<'a> {
    /// Token id.
    pub token_id: &'a str,
    /// Token name (`session:<user>` for login sessions).
    pub name: &'a str,
}

impl Credential<'_> {
    /// True for a person's login session (the only credentials that step up).
    pub fn is_session(&self) -> bool {
        self.name.starts_with(SESSION_PREFIX)
    }
}

/// The factor that makes `cred` fresh now, for the audit trail (`None` for API tokens, which do
/// not step up), or [`Error::StepUpRequired`] naming `task`.
pub async fn require_fresh(store: &Store, cred: Credential<'_>, task: &str) -> Result<Option<String>> {
    if !cred.is_session() {
        return Ok(None);
    }
    require_fresh_session(store, cred.token_id, task).await.map(Some)
}

/// Whether Unix second `at` lies within the last [`FRESH_SECS`] (not in the future).
fn recent(at: i64) -> bool {
    let now = store::now();
    (0..=FRESH_SECS).contains(&(now - at))
}

/// The fresh factor of the login session `token_id` (the caller knows it is one), or
/// [`Error::StepUpRequired`] naming `task`.
pub async fn require_fresh_session(store: &Store, token_id: &str, task: &str) -> Result<String> {
    match store.session_freshness(token_id).await? {
        Some((factor, at)) if recent(at) => Ok(factor),
        _ => Err(Error::StepUpRequired(format!(
            "{task} needs a second factor proved within the last {} minutes (POST /api/v1/me/step-up, then retry).",
            FRESH_SECS / 60
        ))),
    }
}

/// What adding a second factor from a login session takes: a person who has one must prove it
/// afresh (else a stolen session could add the thief's factor and then step up with it); a person
/// without any must have logged in with their password within the last [`FRESH_SECS`] (a stolen
/// session of theirs is refused once it is older than that).
pub async fn require_for_new_factor(store: &Store, user_id: &str, token_id: &str) -> Result<()> {
    let has_totp = store.totp_credential(user_id).await?.is_some_and(|c| c.active);
    let has_passkey = store.count_webauthn_credentials(user_id).await? > 0;
    if has_totp || has_passkey {
        return require_fresh_session(store, token_id, "adding a second factor").await.map(|_| ());
    }
    if recent(store.session_opened_at(token_id).await?.unwrap_or(0)) {
        return Ok(());
    }
    Err(Error::StepUpRequired(format!(
        "adding a second factor needs a login within the last {} minutes: log in again, then add it",
        FRESH_SECS / 60
    )))
}

/// A proved step-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SteppedUp {
    /// `totp`, `recovery` or `webauthn`.
    pub factor: String,
    /// Unix seconds until which sensitive tasks are allowed without another step-up.
    pub fresh_until: i64,
}

/// Records that the session `token_id` of `user_id` proved `factor` now (audited as `auth.step_up`).
/// For factors checked elsewhere (a passkey); codes go through [`with_code`].
pub async fn record(
    store: &Store,
    user_id: &str,
    token_id: &str,
    factor: &str,
    source: Option<IpAddr>,
) -> Result<SteppedUp> {
    let rec = store.login_record_by_id(user_id).await?.ok_or_else(|| Error::Unauthorized(WRONG.into()))?;
    let mut tx = store.begin().await?;
    let up = record_in(&mut tx, &rec.user, token_id, factor, source).await?;
    tx.commit().await?;
    Ok(up)
}

async fn record_in(
    tx: &mut store::Tx,
    user: &store::users::User,
    token_id: &str,
    factor: &str,
    source: Option<IpAddr>,
) -> Result<SteppedUp> {
    let now = store::now();
    tx.record_step_up(token_id, factor, now).await?;
    let actor = account_actor(user, &source_text(source));
    let t = user.tenant.as_deref().unwrap_or("*");
    let after = json!({"factor": factor, "session": token_id});
    tx.append_audit(&actor.audit_entry(t, "auth.step_up", &format!("user/{}", user.id), (), after)).await?;
    Ok(SteppedUp { factor: factor.into(), fresh_until: now + FRESH_SECS })
}

/// Steps up the login session `cred` of `user_id` with a TOTP code or an unused recovery code. A
/// wrong, replayed or used code, a locked account, or a person without a factor all get the answer of
/// a wrong password, and the first three count toward the lockout.
pub async fn with_code(
    store: &Store,
    user_id: &str,
    cred: Credential<'_>,
    code: &str,
    source: Option<IpAddr>,
) -> Result<SteppedUp> {
    if !cred.is_session() {
        return Err(Error::Forbidden("only a person's login session steps up; API tokens do not".into()));
    }
    let rec = match store.login_record_by_id(user_id).await? {
        Some(rec) if rec.locked_until <= store::now() => rec,
        _ => return Err(Error::Unauthorized(WRONG.into())),
    };
    let cred_row = match store.totp_credential(user_id).await? {
        Some(c) if c.active => c,
        _ => return Err(Error::Unauthorized(WRONG.into())),
    };
    let mut tx = store.begin().await?;
    let Some(factor) = crate::mfa::consume_code(&mut tx, &cred_row, user_id, code, false).await? else {
        drop(tx);
        return Err(record_failure(store, &rec, source, "auth.step_up").await?);
    };
    let up = record_in(&mut tx, &rec.user, cred.token_id, factor, source).await?;
    tx.commit().await?;
    Ok(up)
}
