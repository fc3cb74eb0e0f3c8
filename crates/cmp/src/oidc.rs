//! Login with an OpenID Connect identity provider (SEC-8) as use cases: starting a flow (state,
//! nonce and PKCE verifier kept server-side for ten minutes, single use) and completing it with the
//! identity the API layer verified from the ID token.
//!
//! No auto-provisioning: the provider's user must match an existing Warden user of the configured
//! tenant (or of the operator's staff) by username. The provider's subject (`sub`) is bound to that
//! user on first use; a later login of the user with another subject is refused. A provider login
//! that reports a second factor (its `amr` or `acr`, as configured) opens a session whose factor is
//! `oidc`, fresh for step-up; one without goes through Warden's own second factor exactly like a
//! right password (a ticket for TOTP or enrolment), or, when none applies, a session with the
//! factor `password` (not fresh for step-up).

use std::net::IpAddr;

use serde_json::json;
use store::users::User;
use store::Store;
use zeroize::Zeroizing;

use crate::access::{account_actor, open_session_with, source_text, LoginOutcome};
use crate::actor::Actor;
use crate::error::{Error, Result};

/// Seconds an authorization request may take (state, nonce and verifier expire then).
pub const FLOW_SECS: i64 = 600;

/// A started flow: what goes into the authorization request. The verifier never leaves the server.
pub struct Started {
    /// The `state` parameter (256 random bits, hex).
    pub state: String,
    /// The `nonce` parameter (256 random bits, hex).
    pub nonce: String,
    /// The PKCE code verifier (RFC 7636: 64 characters of the unreserved set).
    pub verifier: Zeroizing<String>,
}

impl std::fmt::Debug for Started {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Started([redacted])")
    }
}

fn random_hex(bytes: usize) -> Result<Zeroizing<String>> {
    let mut raw = Zeroizing::new(vec![0u8; bytes]);
    auc::fill_random(&mut raw[..]).map_err(|e| Error::Internal(e.to_string()))?;
    Ok(Zeroizing::new(hex::encode(&raw[..])))
}

/// Starts a flow for a browser at `source`: new state, nonce and verifier, stored for
/// [`FLOW_SECS`]. Flows expired long ago are purged on the way.
pub async fn start(store: &Store, source: Option<IpAddr>) -> Result<Started> {
    let state = random_hex(32)?.to_string();
    let nonce = random_hex(32)?.to_string();
    let verifier = random_hex(32)?;
    let now = store::now();
    store.purge_expired_oidc_flows(now - FLOW_SECS).await?;
    let mut tx = store.begin().await?;
    tx.put_oidc_flow(&state, &nonce, verifier.as_bytes(), &source_text(source), now + FLOW_SECS).await?;
    tx.commit().await?;
    Ok(Started { state, nonce, verifier })
}

/// A flow taken by its callback.
pub struct Pending {
    /// The nonce the ID token must carry.
    pub nonce: String,
    /// The PKCE code verifier.
    pub verifier: Zeroizing<String>,
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pending([redacted])")
    }
}

/// Takes the flow `state` names, once: unknown, replayed, expired, or from another address than
/// the one that started it are all `None`.
pub async fn take(store: &Store, state: &str, source: Option<IpAddr>) -> Result<Option<Pending>> {
    if state.is_empty() || state.len() > 128 {
        return Ok(None);
    }
    let mut tx = store.begin().await?;
    let flow = tx.take_oidc_flow(state).await?;
    tx.commit().await?;
    let Some(flow) = flow.filter(|f| f.source == source_text(source)) else { return Ok(None) };
    let verifier =
        Zeroizing::new(String::from_utf8(flow.verifier.to_vec()).map_err(|e| Error::Internal(e.to_string()))?);
    Ok(Some(Pending { nonce: flow.nonce, verifier }))
}

/// Who the identity provider says logged in (from a verified ID token).
#[derive(Debug, Clone)]
pub struct Identity {
    /// The issuer (`iss`).
    pub issuer: String,
    /// The subject (`sub`).
    pub subject: String,
    /// The username claim's value.
    pub username: String,
    /// Authentication methods (`amr`), as reported.
    pub amr: Vec<String>,
    /// Authentication context class (`acr`), as reported.
    pub acr: Option<String>,
    /// The provider's login counts as a second factor (the API layer decided from `amr`/`acr`).
    pub second_factor: bool,
}

/// Why a provider login was refused (the short code the portal shows; details stay in the audit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No Warden user of that name in the provider's tenant, or the account is locked.
    UnknownUser,
    /// The user is bound to another subject of this provider (or the subject to another user).
    SubjectMismatch,
}

impl Refusal {
    /// The short code.
    pub fn code(self) -> &'static str {
        match self {
            Refusal::UnknownUser => "unknown_user",
            Refusal::SubjectMismatch => "subject_mismatch",
        }
    }
}

/// What a provider login leads to.
#[derive(Debug)]
pub enum Outcome {
    /// A session, or a second-factor or enrolment ticket, as after a right password.
    Login(LoginOutcome),
    /// Refused (audited).
    Refused(Refusal),
}

/// Completes a provider login for `identity` in `tenant` (`None`: the operator's staff): the
/// matching user, the subject binding, then the session or Warden's own second factor.
pub async fn login(
    store: &Store,
    identity: &Identity,
    tenant: Option<&str>,
    source: Option<IpAddr>,
    session_secs: i64,
) -> Result<Outcome> {
    let now = store::now();
    let rec = store
        .login_records(&identity.username)
        .await?
        .into_iter()
        .find(|r| r.user.tenant.as_deref() == tenant && r.locked_until <= now);
    let Some(rec) = rec else {
        refused_unknown(store, identity, tenant, source).await?;
        return Ok(Outcome::Refused(Refusal::UnknownUser));
    };
    let user = rec.user;
    let bound = store.oidc_subject(&user.id, &identity.issuer).await?;
    let mut tx = store.begin().await?;
    let ok = match bound {
        Some(sub) => sub == identity.subject,
        None => tx.bind_oidc_subject(&user.id, &identity.issuer, &identity.subject).await?,
    };
    if !ok {
        drop(tx);
        audit_refusal(store, &user, identity, source, Refusal::SubjectMismatch).await?;
        return Ok(Outcome::Refused(Refusal::SubjectMismatch));
    }
    let via = json!({"via": "oidc", "amr": identity.amr, "acr": identity.acr});
    if identity.second_factor {
        let session = open_session_with(&mut tx, &user, source, session_secs, "oidc", via).await?;
        tx.commit().await?;
        return Ok(Outcome::Login(LoginOutcome::Session(session)));
    }
    // The provider's part is recorded; Warden's own second factor (or none) decides the rest.
    let actor = account_actor(&user, &source_text(source));
    let t = user.tenant.as_deref().unwrap_or("*");
    let mut after = via.clone();
    after["result"] = json!("provider_accepted");
    tx.append_audit(&actor.audit_entry(t, "auth.login", &format!("user/{}", user.id), (), after)).await?;
    tx.commit().await?;
    if let Some(outcome) = crate::mfa::challenge(store, &user, source).await? {
        return Ok(Outcome::Login(outcome));
    }
    let mut tx = store.begin().await?;
    let session = open_session_with(&mut tx, &user, source, session_secs, "password", via).await?;
    tx.commit().await?;
    Ok(Outcome::Login(LoginOutcome::Session(session)))
}

async fn audit_refusal(
    store: &Store,
    user: &User,
    identity: &Identity,
    source: Option<IpAddr>,
    why: Refusal,
) -> Result<()> {
    let actor = account_actor(user, &source_text(source));
    let t = user.tenant.as_deref().unwrap_or("*");
    let after = json!({"result": "refused", "via": "oidc", "reason": why.code(), "issuer": identity.issuer});
    let mut tx = store.begin().await?;
    tx.append_audit(&actor.audit_entry(t, "auth.login", &format!("user/{}", user.id), (), after)).await?;
    tx.commit().await?;
    Ok(())
}

async fn refused_unknown(
    store: &Store,
    identity: &Identity,
    tenant: Option<&str>,
    source: Option<IpAddr>,
) -> Result<()> {
    let actor = Actor::Person {
        name: format!("oidc:{}", printable(&identity.username)),
        role: crate::roles::Role::TenantViewer,
        tenant: tenant.map(str::to_string),
        source: source_text(source),
        user: None,
    };
    let after =
        json!({"result": "refused", "via": "oidc", "reason": Refusal::UnknownUser.code(), "issuer": identity.issuer});
    let mut tx = store.begin().await?;
    tx.append_audit(&actor.audit_entry(tenant.unwrap_or("*"), "auth.login", "user/unknown", (), after)).await?;
    tx.commit().await?;
    Ok(())
}

/// The claimed username as the audit trail may show it: at most 64 plain characters.
fn printable(name: &str) -> String {
    name.chars().filter(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '@')).take(64).collect()
}

/// Audits a provider login that failed before a user was known (an error from the provider, a bad
/// or replayed state, an ID token that did not verify): `reason` is the short code.
pub async fn audit_failure(store: &Store, tenant: Option<&str>, source: Option<IpAddr>, reason: &str) -> Result<()> {
    let actor = Actor::Person {
        name: "oidc:unknown".into(),
        role: crate::roles::Role::TenantViewer,
        tenant: tenant.map(str::to_string),
        source: source_text(source),
        user: None,
    };
    let after = json!({"result": "failed", "via": "oidc", "reason": reason});
    let mut tx = store.begin().await?;
    tx.append_audit(&actor.audit_entry(tenant.unwrap_or("*"), "auth.login", "oidc/callback", (), after)).await?;
    tx.commit().await?;
    Ok(())
}
