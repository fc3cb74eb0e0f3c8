//! Who may use the platform, and how they get in: tenants, API tokens (shown once, hashed, expiring,
//! source-limited, revocable), people with passwords (NIST SP 800-63B, argon2id, a breached-password
//! corpus) and their login with an account lockout. Deny by default: every use case checks the
//! actor's role, refuses escalation (only operator admins grant `operator_admin`), and writes its
//! audit entry in the same transaction as its change.

use std::net::IpAddr;
use std::sync::Arc;

use serde_json::json;
use store::access::{NewToken, TokenInfo};
use store::users::User;
use store::Store;

use crate::actor::Actor;
use crate::breached::BreachedList;
use crate::error::{Error, Result};
use crate::password::{self, PasswordPolicy};
use crate::roles::{Action, Role};

/// The rules a chosen password must pass besides the built-in ones.
#[derive(Debug, Clone, Default)]
pub struct PasswordRules {
    /// The operator's breached-password corpus, when configured.
    pub breached: Option<Arc<BreachedList>>,
}

impl PasswordRules {
    /// NIST SP 800-63B checks of a chosen password: length, the built-in common list, patterns,
    /// context words, and the breached-password corpus. `field` names the request field in errors.
    pub fn check(&self, field: &str, pw: &str, username: &str, tenant: Option<&str>) -> Result<()> {
        let context: Vec<&str> = [username, "warden"].into_iter().chain(tenant).collect();
        password::check_new_password(pw, PasswordPolicy::SINGLE_FACTOR, &context)
            .map_err(|e| Error::Invalid(format!("{field}: {e}")))?;
        if self.breached.as_ref().is_some_and(|b| b.contains(pw)) {
            return Err(Error::Invalid(format!("{field}: this password is known from breaches; choose another")));
        }
        Ok(())
    }
}

/// Checks a tenant name: 1–64 letters, digits, `-` or `_`.
pub fn check_tenant_name(name: &str) -> Result<()> {
    if name.is_empty() || name.len() > 64 || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(Error::Invalid("name: 1–64 letters, digits, '-' or '_'".into()));
    }
    Ok(())
}

/// Creates a tenant (operator only).
pub async fn create_tenant(store: &Store, actor: &Actor, name: &str) -> Result<()> {
    actor.require(Action::Operate)?;
    check_tenant_name(name)?;
    let mut tx = store.begin().await?;
    tx.create_tenant(name).await?;
    tx.append_audit(&actor.audit_entry(name, "tenant.create", &format!("tenant/{name}"), (), name)).await?;
    tx.commit().await?;
    Ok(())
}

/// The tenant a new token or user gets for `role`, refusing escalation.
pub fn grant(actor: &Actor, role: Role, tenant: Option<&str>) -> Result<Option<String>> {
    actor.require(Action::ManageAccess)?;
    if role.is_operator() {
        if !actor.is_operator() {
            return Err(Error::Forbidden("only operator admins grant operator_admin".into()));
        }
        if tenant.is_some() {
            return Err(Error::Invalid("operator_admin belongs to no tenant: drop tenant".into()));
        }
        return Ok(None);
    }
    Ok(Some(actor.target_tenant(tenant)?))
}

/// What a new token should grant.
#[derive(Debug, Clone)]
pub struct TokenRequest {
    /// Human name (1–100 characters).
    pub name: String,
    /// Role.
    pub role: Role,
    /// Tenant (the operator names one; a tenant admin gets its own).
    pub tenant: Option<String>,
    /// Lifetime in days (1–3650; `None`: no expiry).
    pub expires_days: Option<u32>,
    /// Source addresses allowed (empty: any).
    pub allowed_sources: Vec<IpAddr>,
}

/// Most days a token may live.
const MAX_TOKEN_DAYS: u32 = 3650;

/// Issues a token; the secret in the answer exists nowhere else.
pub async fn issue_token(store: &Store, actor: &Actor, req: &TokenRequest) -> Result<(TokenInfo, String)> {
    issue(store, actor, req, "token.issue").await
}

async fn issue(store: &Store, actor: &Actor, req: &TokenRequest, action: &str) -> Result<(TokenInfo, String)> {
    let tenant = grant(actor, req.role, req.tenant.as_deref())?;
    if req.name.trim().is_empty() || req.name.len() > 100 {
        return Err(Error::Invalid("name: 1–100 characters".into()));
    }
    let expires_at = match req.expires_days {
        None => None,
        Some(d @ 1..=MAX_TOKEN_DAYS) => Some(store::now() + i64::from(d) * 86_400),
        Some(d) => return Err(Error::Invalid(format!("expires_days must be 1..={MAX_TOKEN_DAYS}, got {d}"))),
    };
    let new = NewToken {
        name: req.name.clone(),
        role: req.role.as_str().into(),
        tenant: tenant.clone(),
        expires_at,
        allowed_sources: req.allowed_sources.clone(),
    };
    let mut tx = store.begin().await?;
    let (info, secret) = tx.issue_token(&new).await?;
    let after = json!({"role": req.role.as_str(), "name": req.name});
    let t = tenant.as_deref().unwrap_or("*");
    tx.append_audit(&actor.audit_entry(t, action, &format!("token/{}", info.id), (), after)).await?;
    tx.commit().await?;
    Ok((info, secret))
}

/// The first operator admin token of an installation (no default credentials): refused once a live
/// one exists.
pub async fn init_operator_admin(store: &Store, actor: &Actor, name: &str) -> Result<String> {
    let role = Role::OperatorAdmin;
    if store.count_operator_tokens(role.as_str()).await? > 0 {
        return Err(Error::Refused(
            "an operator admin token already exists; issue more with `warden token issue`".into(),
        ));
    }
    let req = TokenRequest { name: name.into(), role, tenant: None, expires_days: None, allowed_sources: vec![] };
    Ok(issue(store, actor, &req, "admin.init").await?.1)
}

/// Revokes a live token visible to the actor.
pub async fn revoke_token(store: &Store, actor: &Actor, id: &str) -> Result<()> {
    actor.require(Action::ManageAccess)?;
    let scope = actor.scope();
    let mut tx = store.begin().await?;
    if !tx.revoke_token(&scope, id).await? {
        return Err(Error::NotFound(format!("no live token {id}")));
    }
    tx.append_audit(&actor.audit_entry(scope.key(), "token.revoke", &format!("token/{id}"), "live", "revoked")).await?;
    tx.commit().await?;
    Ok(())
}

/// Checks a login name: 3–64 letters, digits, `.`, `-`, `_` or `@`.
pub fn check_username(u: &str) -> Result<()> {
    if (3..=64).contains(&u.len()) && u.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-@".contains(&b)) {
        Ok(())
    } else {
        Err(Error::Invalid("username: 3–64 letters, digits, '.', '-', '_' or '@'".into()))
    }
}

/// A new person.
pub struct NewUser<'a> {
    /// Login name.
    pub username: &'a str,
    /// Chosen password (checked, then only its argon2id hash is kept).
    pub password: &'a str,
    /// Role.
    pub role: Role,
    /// Tenant (the operator names one; a tenant admin gets its own).
    pub tenant: Option<&'a str>,
}

/// Creates a user.
pub async fn create_user(store: &Store, rules: &PasswordRules, actor: &Actor, new: &NewUser<'_>) -> Result<User> {
    let tenant = grant(actor, new.role, new.tenant)?;
    check_username(new.username)?;
    rules.check("password", new.password, new.username, tenant.as_deref())?;
    let hash = password::hash_password(new.password).map_err(|e| Error::Internal(e.to_string()))?;
    let mut tx = store.begin().await?;
    let user = tx.create_user(new.username, &hash, new.role.as_str(), tenant.as_deref()).await?;
    let after = json!({"username": user.username, "role": user.role});
    let t = tenant.as_deref().unwrap_or("*");
    tx.append_audit(&actor.audit_entry(t, "user.create", &format!("user/{}", user.id), (), after)).await?;
    tx.commit().await?;
    Ok(user)
}

/// Deletes a user visible to the actor.
pub async fn delete_user(store: &Store, actor: &Actor, id: &str) -> Result<()> {
    actor.require(Action::ManageAccess)?;
    let scope = actor.scope();
    let user = store.user_in(&scope, id).await?.ok_or_else(|| Error::NotFound(format!("user {id} not found")))?;
    let mut tx = store.begin().await?;
    tx.delete_user(&scope, id).await?;
    let t = user.tenant.as_deref().unwrap_or("*");
    tx.append_audit(&actor.audit_entry(t, "user.delete", &format!("user/{id}"), &user.username, ())).await?;
    tx.commit().await?;
    Ok(())
}

/// Resets a user's password (tenant admins for their tenant's users, never an operator admin's); the
/// user's sessions are revoked. Returns how many.
pub async fn reset_password(
    store: &Store,
    rules: &PasswordRules,
    actor: &Actor,
    id: &str,
    new_password: &str,
) -> Result<u64> {
    actor.require(Action::ManageAccess)?;
    let user =
        store.user_in(&actor.scope(), id).await?.ok_or_else(|| Error::NotFound(format!("user {id} not found")))?;
    if Role::OperatorAdmin.as_str() == user.role && !actor.is_operator() {
        return Err(Error::Forbidden("only operator admins reset operator admins".into()));
    }
    rules.check("new_password", new_password, &user.username, user.tenant.as_deref())?;
    let hash = password::hash_password(new_password).map_err(|e| Error::Internal(e.to_string()))?;
    let mut tx = store.begin().await?;
    tx.set_password_hash(&user.id, &hash).await?;
    let revoked = tx.revoke_sessions(&user.username).await?;
    let t = user.tenant.as_deref().unwrap_or("*");
    let after = json!({ "sessions_revoked": revoked });
    tx.append_audit(&actor.audit_entry(t, "user.reset_password", &format!("user/{id}"), (), after)).await?;
    tx.commit().await?;
    Ok(revoked)
}

/// A login session: a short-lived token bound to the login's source address.
#[derive(Debug, Clone)]
pub struct Session {
    /// Bearer token.
    pub token: String,
    /// Unix seconds of expiry.
    pub expires_at: i64,
    /// Role.
    pub role: String,
    /// Tenant.
    pub tenant: Option<String>,
}

/// Seconds an account stays locked after `failures` consecutive failures (5 free, then doubling from
/// 30 s up to 15 minutes).
pub fn lockout_secs(failures: i64) -> i64 {
    if failures < 5 {
        0
    } else {
        (30i64 << (failures - 5).min(5)).min(900)
    }
}

/// An argon2id hash verified for unknown users, so timing does not reveal who exists.
fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| password::hash_password("not-a-real-account-password").unwrap_or_default())
}

/// The actor of a person acting on their own account (login, password change).
fn account_actor(user: &User, source: &str) -> Actor {
    Actor::Person {
        name: format!("user:{}", user.username),
        role: user.role.parse().unwrap_or(Role::TenantViewer),
        tenant: user.tenant.clone(),
        source: source.to_string(),
    }
}

fn source_text(source: Option<IpAddr>) -> String {
    source.map_or_else(|| "unknown".into(), |s| s.to_string())
}

const WRONG: &str = "wrong username or password";

/// Logs a person in: one answer for an unknown user and a wrong password (with the same work), a
/// lockout after repeated failures, a session bound to `source`. Every attempt is audited.
pub async fn login(
    store: &Store,
    username: &str,
    pw: &str,
    source: Option<IpAddr>,
    session_secs: i64,
) -> Result<Session> {
    let now = store::now();
    let Some(rec) = store.login_record(username).await? else {
        let _ = password::verify_password(pw, dummy_hash());
        return Err(Error::Unauthorized(WRONG.into()));
    };
    if rec.locked_until > now {
        let retry_after = (rec.locked_until - now) as u64;
        return Err(Error::TooMany { reason: "account temporarily locked after failed attempts".into(), retry_after });
    }
    let actor = account_actor(&rec.user, &source_text(source));
    let t = rec.user.tenant.as_deref().unwrap_or("*");
    let resource = format!("user/{}", rec.user.id);
    let mut tx = store.begin().await?;
    if !password::verify_password(pw, &rec.password_hash) {
        let lock = lockout_secs(rec.failed_logins + 1);
        tx.record_login(&rec.user.id, false, if lock > 0 { now + lock } else { 0 }).await?;
        tx.append_audit(&actor.audit_entry(t, "auth.login", &resource, (), "failed")).await?;
        tx.commit().await?;
        return Err(Error::Unauthorized(WRONG.into()));
    }
    tx.record_login(&rec.user.id, true, 0).await?;
    let expires_at = now + session_secs;
    let (_, token) = tx
        .issue_token(&NewToken {
            name: format!("session:{}", rec.user.username),
            role: rec.user.role.clone(),
            tenant: rec.user.tenant.clone(),
            expires_at: Some(expires_at),
            allowed_sources: source.into_iter().collect(),
        })
        .await?;
    tx.append_audit(&actor.audit_entry(t, "auth.login", &resource, (), "succeeded")).await?;
    tx.commit().await?;
    Ok(Session { token, expires_at, role: rec.user.role, tenant: rec.user.tenant })
}

/// A person changes their own password (the current one is needed; a locked account cannot); their
/// sessions are revoked.
pub async fn change_password(
    store: &Store,
    rules: &PasswordRules,
    username: &str,
    current: &str,
    new_password: &str,
    source: Option<IpAddr>,
) -> Result<()> {
    let rec = store.login_record(username).await?;
    let Some(rec) =
        rec.filter(|r| r.locked_until <= store::now() && password::verify_password(current, &r.password_hash))
    else {
        return Err(Error::Unauthorized(WRONG.into()));
    };
    rules.check("new_password", new_password, username, rec.user.tenant.as_deref())?;
    let hash = password::hash_password(new_password).map_err(|e| Error::Internal(e.to_string()))?;
    let actor = account_actor(&rec.user, &source_text(source));
    let t = rec.user.tenant.as_deref().unwrap_or("*");
    let mut tx = store.begin().await?;
    tx.set_password_hash(&rec.user.id, &hash).await?;
    tx.revoke_sessions(&rec.user.username).await?;
    tx.append_audit(&actor.audit_entry(t, "auth.password_change", &format!("user/{}", rec.user.id), (), ())).await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lockout_doubles_to_fifteen_minutes() {
        assert_eq!((0..5).map(lockout_secs).collect::<Vec<_>>(), vec![0; 5]);
        assert_eq!(lockout_secs(5), 30);
        assert_eq!(lockout_secs(6), 60);
        assert_eq!(lockout_secs(9), 480);
        assert_eq!(lockout_secs(10), 900);
        assert_eq!(lockout_secs(40), 900);
    }

    #[test]
    fn grants_refuse_escalation() {
        let admin = Actor::Person {
            name: "t".into(),
            role: Role::TenantAdmin,
            tenant: Some("acme".into()),
            source: "x".into(),
        };
        assert!(matches!(grant(&admin, Role::OperatorAdmin, None), Err(Error::Forbidden(_))));
        assert_eq!(grant(&admin, Role::TenantViewer, None).unwrap().as_deref(), Some("acme"));
        assert!(matches!(grant(&admin, Role::TenantViewer, Some("other")), Err(Error::NotFound(_))));
        let op = Actor::Cli { user: "ops".into() };
        assert!(matches!(grant(&op, Role::OperatorAdmin, Some("acme")), Err(Error::Invalid(_))));
        assert_eq!(grant(&op, Role::OperatorAdmin, None).unwrap(), None);
        let viewer = Actor::Person {
            name: "t".into(),
            role: Role::TenantViewer,
            tenant: Some("acme".into()),
            source: "x".into(),
        };
        assert!(matches!(grant(&viewer, Role::TenantViewer, None), Err(Error::Forbidden(_))));
    }
}
