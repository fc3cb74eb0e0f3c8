//! A person's own login sessions (issue #15, SEC-8): a session turned into a portal cookie session
//! (with its CSRF token), signing out of the current session, and signing out everywhere. Both
//! sign-outs are audited; the list of one's sessions is a plain store query.

use serde_json::json;
use store::Store;

use crate::access::Session;
use crate::error::{Error, Result};
use crate::Actor;

/// The most a cookie session lives, whatever the configured session lifetime (AAL2: 12 hours).
pub const COOKIE_ABSOLUTE_SECS: i64 = 12 * 3600;

/// Makes a just-opened login session a cookie session; returns its CSRF token (shown to the page,
/// stored sealed with the session).
pub async fn make_cookie(store: &Store, session: &Session) -> Result<String> {
    let mut tx = store.begin().await?;
    let csrf = tx.make_cookie_session(&session.token).await?;
    tx.commit().await?;
    Ok(csrf)
}

fn tenant_key(actor: &Actor) -> String {
    actor.scope().key().to_string()
}

/// Signs the person out of the session `token_id` (their own).
pub async fn logout(store: &Store, actor: &Actor, user_id: &str, token_id: &str) -> Result<()> {
    let mut tx = store.begin().await?;
    if !tx.revoke_session(user_id, token_id).await? {
        return Err(Error::NotFound("no such live session".into()));
    }
    let entry = actor.audit_entry(&tenant_key(actor), "auth.logout", &format!("user/{user_id}"), (), ());
    tx.append_audit(&entry).await?;
    tx.commit().await?;
    Ok(())
}

/// Signs the person out of every session they have (this one included). Returns how many.
pub async fn sign_out_everywhere(store: &Store, actor: &Actor, user_id: &str) -> Result<u64> {
    let mut tx = store.begin().await?;
    let revoked = tx.revoke_sessions(user_id).await?;
    let after = json!({ "sessions_revoked": revoked });
    tx.append_audit(&actor.audit_entry(
        &tenant_key(actor),
        "auth.logout_everywhere",
        &format!("user/{user_id}"),
        (),
        after,
    ))
    .await?;
    tx.commit().await?;
    Ok(revoked)
}
