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
use zeroize::Zeroizing;

use crate::actor::Actor;
use crate::breached::BreachedList;
use crate::error::{Error, Result};
use crate::hashing::HashPool;
use crate::password::{self, PasswordPolicy};
use crate::roles::{Action, Role};
use crate::text::check_label;

/// How passwords are checked and hashed: the rules a chosen password must pass besides the built-in
/// ones, and the bounded pool that runs argon2id off the async workers.
#[derive(Debug, Clone, Default)]
pub struct PasswordRules {
    /// The operator's breached-password corpus, when configured.
    pub breached: Option<Arc<BreachedList>>,
    /// Where hashing runs.
    pub hashing: HashPool,
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

    /// Hashes a chosen password on the pool.
    pub async fn hash(&self, pw: &str) -> Result<String> {
        let pw = Zeroizing::new(pw.to_string());
        self.hashing.run(move || password::hash_password(&pw)).await?.map_err(|e| Error::Internal(e.to_string()))
    }

    /// Verifies a password against a PHC string on the pool.
    pub async fn verify(&self, pw: &str, hash: &str) -> Result<bool> {
        let (pw, hash) = (Zeroizing::new(pw.to_string()), hash.to_string());
        Ok(self.hashing.run(move || password::verify_password(&pw, &hash)).await?)
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

/// Creates a tenant (operator only); its people need a second factor.
pub async fn create_tenant(store: &Store, actor: &Actor, name: &str) -> Result<()> {
    create_tenant_with(store, actor, name, true).await
}

/// Creates a tenant (operator only), saying whether its people need a second factor (SEC-8).
pub async fn create_tenant_with(store: &Store, actor: &Actor, name: &str, mfa_required: bool) -> Result<()> {
    actor.require(Action::Operate)?;
    check_tenant_name(name)?;
    let mut tx = store.begin().await?;
    tx.create_tenant(name).await?;
    if !mfa_required {
        tx.set_mfa_required(name, false).await?;
    }
    let after = json!({"name": name, "mfa_required": mfa_required});
    tx.append_audit(&actor.audit_entry(name, "tenant.create", &format!("tenant/{name}"), (), after)).await?;
    tx.commit().await?;
    Ok(())
}

/// Sets whether a tenant's people need a second factor at login (operator only).
pub async fn set_mfa_required(store: &Store, actor: &Actor, name: &str, required: bool) -> Result<()> {
    actor.require(Action::Operate)?;
    let mut tx = store.begin().await?;
    if !tx.set_mfa_required(name, required).await? {
        return Err(Error::NotFound(format!("tenant {name} not found")));
    }
    let after = json!({ "mfa_required": required });
    tx.append_audit(&actor.audit_entry(name, "tenant.mfa_required", &format!("tenant/{name}"), (), after)).await?;
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
    let mut tx = store.begin().await?;
    let issued = issue_in(&mut tx, actor, req, action).await?;
    tx.commit().await?;
    Ok(issued)
}

/// Issues a token inside `tx`, with its audit entry.
async fn issue_in(tx: &mut store::Tx, actor: &Actor, req: &TokenRequest, action: &str) -> Result<(TokenInfo, String)> {
    let tenant = grant(actor, req.role, req.tenant.as_deref())?;
    check_label("name", &req.name, 100)?;
    if req.name.starts_with(SESSION_PREFIX) {
        return Err(Error::Invalid(format!("name: {SESSION_PREFIX:?} is reserved for login sessions")));
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
        user_id: actor.user_id().map(str::to_string),
    };
    let (info, secret) = tx.issue_token(&new).await?;
    let after = json!({"role": req.role.as_str(), "name": req.name});
    let t = tenant.as_deref().unwrap_or("*");
    tx.append_audit(&actor.audit_entry(t, action, &format!("token/{}", info.id), (), after)).await?;
    Ok((info, secret))
}

/// The first operator admin of an installation: a token for tools and scripts, and a person for the
/// portal. Both secrets exist only in this value.
pub struct FirstAdmin {
    /// The operator admin token (`wdn_…`).
    pub token: String,
    /// The person's login name.
    pub username: String,
    /// The person's initial password: random, 120 bits.
    pub password: Zeroizing<String>,
}

impl std::fmt::Debug for FirstAdmin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FirstAdmin {{ username: {:?}, .. }}", self.username)
    }
}

/// Random bytes of an initial password (120 bits: 24 base32 characters).
const INITIAL_PASSWORD_BYTES: usize = 15;

/// A random initial password that passes `rules` for `username` (a random string can, very rarely,
/// contain the username or another refused word: then another is drawn).
fn initial_password(rules: &PasswordRules, username: &str) -> Result<Zeroizing<String>> {
    for _ in 0..16 {
        let pw = Zeroizing::new(crate::mfa::random_code(INITIAL_PASSWORD_BYTES)?.to_ascii_lowercase());
        if rules.check("password", &pw, username, None).is_ok() {
            return Ok(pw);
        }
    }
    Err(Error::Internal("no random password passed the password rules".into()))
}

/// The first operator admin of an installation (no default credentials): an operator admin token
/// named `token_name` and an operator admin person `username` with a random initial password, made in
/// one transaction. Refused once a live operator admin token or an operator admin person exists.
/// The person has no second factor yet, and the operator's staff always need one: their first login
/// yields an enrolment ticket, so the password alone never opens a session.
pub async fn init_operator_admin(
    store: &Store,
    rules: &PasswordRules,
    actor: &Actor,
    token_name: &str,
    username: &str,
) -> Result<FirstAdmin> {
    let role = Role::OperatorAdmin;
    if store.count_operator_tokens(role.as_str()).await? > 0 || store.count_operator_users(role.as_str()).await? > 0 {
        return Err(Error::Refused(
            "an operator admin already exists; issue more tokens with `warden token issue`, add people with \
             POST /api/v1/users"
                .into(),
        ));
    }
    check_username(username)?;
    let password = initial_password(rules, username)?;
    let hash = rules.hash(&password).await?;
    let req = TokenRequest { name: token_name.into(), role, tenant: None, expires_days: None, allowed_sources: vec![] };
    let mut tx = store.begin().await?;
    let (_, token) = issue_in(&mut tx, actor, &req, "admin.init").await?;
    insert_user(&mut tx, actor, username, &hash, role, None).await?;
    tx.commit().await?;
    Ok(FirstAdmin { token, username: username.into(), password })
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

/// An audit record as `scope` may read it. Tenants see who of their own people did what, but the
/// operator's staff and tools only as `operator`: the names, token ids and source addresses of the
/// operator's credentials are not theirs to collect. The chain hashes stay those of the stored record.
pub fn audit_view(scope: &store::access::Scope, mut entry: store::audit::AuditEntry) -> store::audit::AuditEntry {
    let operator = entry.role.parse::<Role>().is_ok_and(Role::is_operator);
    if operator && matches!(scope, store::access::Scope::Tenant(_)) {
        entry.actor = "operator".into();
        entry.source = "operator".into();
    }
    entry
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

/// Creates a user. Usernames are unique within a tenant (and among the operator's staff), so a
/// tenant cannot learn which names other tenants use.
pub async fn create_user(store: &Store, rules: &PasswordRules, actor: &Actor, new: &NewUser<'_>) -> Result<User> {
    let tenant = grant(actor, new.role, new.tenant)?;
    check_username(new.username)?;
    rules.check("password", new.password, new.username, tenant.as_deref())?;
    let hash = rules.hash(new.password).await?;
    let mut tx = store.begin().await?;
    let user = insert_user(&mut tx, actor, new.username, &hash, new.role, tenant.as_deref()).await?;
    tx.commit().await?;
    Ok(user)
}

/// Stores a checked user inside `tx`, with its audit entry.
async fn insert_user(
    tx: &mut store::Tx,
    actor: &Actor,
    username: &str,
    hash: &str,
    role: Role,
    tenant: Option<&str>,
) -> Result<User> {
    let user = tx.create_user(username, hash, role.as_str(), tenant).await?;
    let after = json!({"username": user.username, "role": user.role});
    let t = tenant.unwrap_or("*");
    tx.append_audit(&actor.audit_entry(t, "user.create", &format!("user/{}", user.id), (), after)).await?;
    Ok(user)
}

/// Deletes a user visible to the actor, and revokes every credential derived from the account: its
/// login sessions and the tokens issued with them. Returns how many were revoked.
pub async fn delete_user(store: &Store, actor: &Actor, id: &str) -> Result<u64> {
    actor.require(Action::ManageAccess)?;
    let scope = actor.scope();
    let user = store.user_in(&scope, id).await?.ok_or_else(|| Error::NotFound(format!("user {id} not found")))?;
    if Role::OperatorAdmin.as_str() == user.role && !actor.is_operator() {
        return Err(Error::Forbidden("only operator admins delete operator admins".into()));
    }
    let mut tx = store.begin().await?;
    if !tx.delete_user(&scope, id).await? {
        return Err(Error::NotFound(format!("user {id} not found")));
    }
    let revoked = tx.revoke_user_credentials(id).await?;
    tx.delete_mfa(id).await?;
    let t = user.tenant.as_deref().unwrap_or("*");
    let after = json!({ "credentials_revoked": revoked });
    tx.append_audit(&actor.audit_entry(t, "user.delete", &format!("user/{id}"), &user.username, after)).await?;
    tx.commit().await?;
    Ok(revoked)
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
    let hash = rules.hash(new_password).await?;
    let mut tx = store.begin().await?;
    tx.set_password_hash(&user.id, &hash).await?;
    let revoked = tx.revoke_sessions(&user.id).await?;
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
    /// The factor the login was completed with: `password`, `totp`, `recovery` or `webauthn`.
    pub factor: String,
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

/// The name prefix of login sessions (reserved: issued tokens may not use it).
pub const SESSION_PREFIX: &str = "session:";

/// An argon2id hash verified for unknown users and locked accounts, so the time taken does not
/// reveal who exists or who is locked.
async fn dummy_hash(rules: &PasswordRules) -> Result<&'static str> {
    static DUMMY: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();
    let hash = DUMMY
        .get_or_try_init(|| async {
            rules.hashing.run(|| password::hash_password("not-a-real-account-password").unwrap_or_default()).await
        })
        .await?;
    Ok(hash.as_str())
}

/// The actor of a person acting on their own account (login, password change).
pub(crate) fn account_actor(user: &User, source: &str) -> Actor {
    Actor::Person {
        name: format!("user:{}", user.username),
        role: user.role.parse().unwrap_or(Role::TenantViewer),
        tenant: user.tenant.clone(),
        source: source.to_string(),
        user: Some(user.id.clone()),
    }
}

pub(crate) fn source_text(source: Option<IpAddr>) -> String {
    source.map_or_else(|| "unknown".into(), |s| s.to_string())
}

/// The one answer to every failed login or password change: unknown user, wrong password, locked
/// account. A 401 with the same text and the same work, so a guesser learns nothing about accounts.
pub(crate) const WRONG: &str = "wrong tenant, username or password, or too many failed attempts (then wait and retry)";

/// Who logs in: a username, and the tenant it belongs to.
#[derive(Debug, Clone, Copy)]
pub struct Account<'a> {
    /// The tenant (`None`: the operator's staff, or the only user of that name).
    pub tenant: Option<&'a str>,
    /// The login name.
    pub username: &'a str,
}

impl Account<'_> {
    /// The user this names: in its tenant when one is given; without one, the operator's user of that
    /// name, or else the only user of that name (a name used in several tenants needs the tenant).
    fn pick(&self, records: Vec<store::users::LoginRecord>) -> Option<store::users::LoginRecord> {
        if let Some(t) = self.tenant {
            return records.into_iter().find(|r| r.user.tenant.as_deref() == Some(t));
        }
        if let Some(i) = records.iter().position(|r| r.user.tenant.is_none()) {
            return records.into_iter().nth(i);
        }
        let mut it = records.into_iter();
        match (it.next(), it.next()) {
            (Some(only), None) => Some(only),
            _ => None,
        }
    }
}

/// Checks a person's password, with the account lockout: unknown accounts, locked accounts and wrong
/// passwords all cost one argon2id verification and get the same error. A wrong password counts
/// toward the lockout and is audited as `action` `failed`.
async fn authenticate(
    store: &Store,
    rules: &PasswordRules,
    account: Account<'_>,
    pw: &str,
    source: Option<IpAddr>,
    action: &str,
) -> Result<store::users::LoginRecord> {
    let now = store::now();
    let Some(rec) = account.pick(store.login_records(account.username).await?) else {
        let _ = rules.verify(pw, dummy_hash(rules).await?).await?;
        return Err(Error::Unauthorized(WRONG.into()));
    };
    if rec.locked_until > now {
        let _ = rules.verify(pw, dummy_hash(rules).await?).await?;
        return Err(Error::Unauthorized(WRONG.into()));
    }
    if rules.verify(pw, &rec.password_hash).await? {
        return Ok(rec);
    }
    Err(record_failure(store, &rec, source, action).await?)
}

/// Counts a failed attempt (a wrong password, or a wrong or replayed second-factor code) toward the
/// account lockout and audits it as `action` `failed`; returns the one answer to every failure.
pub(crate) async fn record_failure(
    store: &Store,
    rec: &store::users::LoginRecord,
    source: Option<IpAddr>,
    action: &str,
) -> Result<Error> {
    let actor = account_actor(&rec.user, &source_text(source));
    let t = rec.user.tenant.as_deref().unwrap_or("*");
    let lock = lockout_secs(rec.failed_logins + 1);
    let mut tx = store.begin().await?;
    tx.record_login(&rec.user.id, false, if lock > 0 { store::now() + lock } else { 0 }).await?;
    tx.append_audit(&actor.audit_entry(t, action, &format!("user/{}", rec.user.id), (), "failed")).await?;
    tx.commit().await?;
    Ok(Error::Unauthorized(WRONG.into()))
}

/// What a right password leads to.
#[derive(Debug, Clone)]
pub enum LoginOutcome {
    /// No second factor applies: the session.
    Session(Session),
    /// A second factor is needed: a short-lived single-use ticket for [`crate::mfa::complete_login`].
    SecondFactor(crate::mfa::Challenge),
    /// The person must use a second factor but has none: a ticket that allows only enrolment.
    Enrol(crate::mfa::Challenge),
}

/// Logs a person in: one answer for an unknown user, a wrong password and a locked account (with the
/// same work), a lockout after repeated failures. Without a second factor to check, a session bound
/// to `source`; when the person's tenant requires one (the operator's staff always do) or the person
/// has one, a ticket for the second step instead, and the failure counter is reset only once that
/// step succeeds (so a known password does not buy fresh guesses at the code). Every attempt on an
/// existing account is audited.
pub async fn login(
    store: &Store,
    rules: &PasswordRules,
    account: Account<'_>,
    pw: &str,
    source: Option<IpAddr>,
    session_secs: i64,
) -> Result<LoginOutcome> {
    let rec = authenticate(store, rules, account, pw, source, "auth.login").await?;
    if let Some(outcome) = crate::mfa::challenge(store, &rec.user, source).await? {
        return Ok(outcome);
    }
    let mut tx = store.begin().await?;
    let session = open_session(&mut tx, &rec.user, source, session_secs, "password").await?;
    tx.commit().await?;
    Ok(LoginOutcome::Session(session))
}

/// Opens a login session of `user` bound to `source` after a successful login with `factor`
/// (`password`, `totp` or `recovery`): resets the failure counter, records the factor on the session
/// and in the `auth.login` audit entry.
pub(crate) async fn open_session(
    tx: &mut store::Tx,
    user: &User,
    source: Option<IpAddr>,
    session_secs: i64,
    factor: &str,
) -> Result<Session> {
    open_session_with(tx, user, source, session_secs, factor, json!({})).await
}

/// [`open_session`] with more facts for the `auth.login` audit entry (`extra`, a JSON object merged
/// into it: how an OpenID Connect login was proved, for instance).
pub(crate) async fn open_session_with(
    tx: &mut store::Tx,
    user: &User,
    source: Option<IpAddr>,
    session_secs: i64,
    factor: &str,
    extra: serde_json::Value,
) -> Result<Session> {
    let actor = account_actor(user, &source_text(source));
    let t = user.tenant.as_deref().unwrap_or("*");
    tx.record_login(&user.id, true, 0).await?;
    let expires_at = store::now() + session_secs;
    let (info, token) = tx
        .issue_token(&NewToken {
            name: format!("{SESSION_PREFIX}{}", user.username),
            role: user.role.clone(),
            tenant: user.tenant.clone(),
            expires_at: Some(expires_at),
            allowed_sources: source.into_iter().collect(),
            user_id: Some(user.id.clone()),
        })
        .await?;
    tx.set_session_factor(&info.id, factor).await?;
    let mut after = json!({"result": "succeeded", "factor": factor, "session": info.id});
    if let (Some(a), serde_json::Value::Object(more)) = (after.as_object_mut(), extra) {
        a.extend(more);
    }
    tx.append_audit(&actor.audit_entry(t, "auth.login", &format!("user/{}", user.id), (), after)).await?;
    Ok(Session { token, expires_at, role: user.role.clone(), tenant: user.tenant.clone(), factor: factor.into() })
}

/// A person changes their own password (the current one is needed, a wrong one counts toward the
/// account lockout, and a locked account cannot); their sessions are revoked.
pub async fn change_password(
    store: &Store,
    rules: &PasswordRules,
    account: Account<'_>,
    current: &str,
    new_password: &str,
    source: Option<IpAddr>,
) -> Result<()> {
    let rec = authenticate(store, rules, account, current, source, "auth.password_change").await?;
    rules.check("new_password", new_password, &rec.user.username, rec.user.tenant.as_deref())?;
    let hash = rules.hash(new_password).await?;
    let actor = account_actor(&rec.user, &source_text(source));
    let t = rec.user.tenant.as_deref().unwrap_or("*");
    let mut tx = store.begin().await?;
    tx.set_password_hash(&rec.user.id, &hash).await?;
    tx.revoke_sessions(&rec.user.id).await?;
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
            user: None,
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
            user: None,
        };
        assert!(matches!(grant(&viewer, Role::TenantViewer, None), Err(Error::Forbidden(_))));
    }
}
