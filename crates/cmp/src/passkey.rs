//! Passkeys (WebAuthn Level 3, through `webauthn-rs`) as a second login factor (SEC-8), beside TOTP:
//! registering one (from a login session, or with the enrolment ticket of a person who must use a
//! second factor and has none, which then opens the session), listing, renaming and deleting one's
//! own, and the second login step with a passkey instead of a code. Each ceremony's state is kept in
//! the store (random id, five minutes, single use, bound to the person and to the ticket or session
//! that started it), so it may finish on another instance. A failed ceremony (unknown, used, expired
//! or someone else's id, a credential that does not verify, a signature counter that went backwards)
//! counts toward the account lockout and gets the answer of a wrong password, like a wrong code.
//!
//! The relying party is the origin the portal is served from (`[http] public_origin`); its host must be
//! a domain name (browsers refuse WebAuthn on IP literals), e.g. `localhost` for a local test.

use std::net::IpAddr;

use serde_json::json;
use sha2::{Digest, Sha256};
use store::mfa::{Ticket, TicketPurpose};
use store::users::User;
use store::webauthn::{CeremonyKind, WebauthnCredential, CEREMONY_SECS};
use store::Store;
use webauthn_rs::prelude::{
    Passkey, PasskeyAuthentication, PasskeyRegistration, PublicKeyCredential, RegisterPublicKeyCredential, Url, Uuid,
};
use webauthn_rs::{Webauthn, WebauthnBuilder};

use crate::access::{account_actor, open_session, record_failure, source_text, Session, WRONG};
use crate::error::{Error, Result};
use crate::mfa::{unlocked, user_of, Holder};
use crate::text::check_label;

/// Passkeys one person may register.
pub const MAX_PASSKEYS: i64 = 10;
/// The factor recorded on sessions and in the audit trail.
pub const FACTOR: &str = "webauthn";

/// The relying party: this installation as WebAuthn sees it.
pub struct RelyingParty {
    webauthn: Webauthn,
    origin: String,
}

impl std::fmt::Debug for RelyingParty {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RelyingParty({})", self.origin)
    }
}

impl RelyingParty {
    /// The relying party of `origin` (`https://portal.example.com`, `http://localhost:8080`): its id
    /// is the origin's host, which must be a domain name.
    pub fn new(origin: &str) -> std::result::Result<Self, String> {
        let url = Url::parse(origin).map_err(|e| format!("public_origin {origin:?}: {e}"))?;
        if !matches!(url.scheme(), "https" | "http") || url.path() != "/" || url.query().is_some() {
            return Err(format!("public_origin {origin:?}: an origin is scheme://host[:port], nothing more"));
        }
        let Some(host) = url.domain() else {
            return Err(format!(
                "public_origin {origin:?}: passkeys need a domain name as host (browsers refuse IP addresses), \
                 e.g. http://localhost:8080"
            ));
        };
        let webauthn = WebauthnBuilder::new(host, &url)
            .and_then(|b| b.rp_name(crate::mfa::ISSUER).build())
            .map_err(|e| format!("public_origin {origin:?}: {e}"))?;
        Ok(RelyingParty { webauthn, origin: url.origin().ascii_serialization() })
    }

    /// The origin, as browsers send it.
    pub fn origin(&self) -> &str {
        &self.origin
    }
}

/// A started ceremony: the options for `navigator.credentials.create()` / `.get()` (as JSON, with
/// binary values in base64url) and the id to finish it with.
#[derive(Debug, Clone)]
pub struct Started {
    /// The ceremony's id.
    pub ceremony: String,
    /// `{"publicKey": {...}}`.
    pub options: serde_json::Value,
    /// Unix seconds of expiry.
    pub expires_at: i64,
}

/// A registered passkey as its owner sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeyInfo {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Unix seconds of the registration.
    pub created_at: i64,
    /// Unix seconds of the last use.
    pub last_used_at: Option<i64>,
}

impl From<WebauthnCredential> for PasskeyInfo {
    fn from(c: WebauthnCredential) -> Self {
        PasskeyInfo { id: c.id, name: c.name, created_at: c.created_at, last_used_at: c.last_used_at }
    }
}

fn internal(e: impl std::fmt::Display) -> Error {
    Error::Internal(e.to_string())
}

/// The WebAuthn user handle of a person: derived from the user id (no personal data, stable).
fn user_handle(user: &User) -> Uuid {
    let digest = Sha256::digest(format!("warden-user:{}", user.id).as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    Uuid::from_bytes(bytes)
}

fn account_name(user: &User) -> String {
    match &user.tenant {
        Some(t) => format!("{}@{t}", user.username),
        None => user.username.clone(),
    }
}

fn passkey_of(c: &WebauthnCredential) -> Result<Passkey> {
    serde_json::from_str(&c.passkey).map_err(|e| internal(format!("stored passkey {}: {e}", c.id)))
}

/// The credential id as stored: base64url without padding (what browsers show as `rawId`).
fn credential_id_text(pk: &Passkey) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(pk.cred_id())
}

/// Changing one's passkeys from a session needs a second factor proved within the last five minutes
/// ([`crate::stepup`]): a stolen session alone cannot add the thief's passkey or remove the owner's.
/// A `Holder::Session` is always a person's login session (the API checks it).
async fn require_fresh(store: &Store, token_id: &str, task: &str) -> Result<()> {
    crate::stepup::require_fresh_session(store, token_id, task).await.map(|_| ())
}

fn binding(holder: &Holder) -> &str {
    match holder {
        Holder::Session { token_id, .. } => token_id,
        Holder::Enrolling(t) => &t.id,
    }
}

async fn put_ceremony(
    store: &Store,
    kind: CeremonyKind,
    user_id: &str,
    bound: &str,
    state: String,
) -> Result<(String, i64)> {
    let expires_at = store::now() + CEREMONY_SECS;
    let mut tx = store.begin().await?;
    let id = tx.put_webauthn_ceremony(kind, user_id, bound, &state, expires_at).await?;
    tx.commit().await?;
    Ok((id, expires_at))
}

/// Takes (uses up) a ceremony in a transaction of its own, so a failed attempt cannot retry it.
async fn take_ceremony(
    store: &Store,
    id: &str,
    kind: CeremonyKind,
    user_id: &str,
    bound: &str,
) -> Result<Option<String>> {
    let mut tx = store.begin().await?;
    let state = tx.take_webauthn_ceremony(id, kind, user_id, bound, store::now()).await?;
    tx.commit().await?;
    Ok(state)
}

/// Starts registering a passkey for the holder (a session, or an enrolment ticket). Passkeys the
/// person already has are excluded, so one authenticator is not registered twice.
pub async fn start_registration(store: &Store, rp: &RelyingParty, holder: &Holder) -> Result<Started> {
    if let Holder::Session { token_id, .. } = holder {
        require_fresh(store, token_id, "adding a passkey").await?;
    }
    let user = user_of(store, holder).await?;
    let existing = store.webauthn_credentials(&user.id).await?;
    if existing.len() as i64 >= MAX_PASSKEYS {
        return Err(Error::Refused(format!("at most {MAX_PASSKEYS} passkeys per person: delete one first")));
    }
    let exclude = existing.iter().map(|c| passkey_of(c).map(|p| p.cred_id().clone())).collect::<Result<Vec<_>>>()?;
    let name = account_name(&user);
    let (options, state) =
        rp.webauthn.start_passkey_registration(user_handle(&user), &name, &name, Some(exclude)).map_err(internal)?;
    let state = serde_json::to_string(&state).map_err(internal)?;
    let (ceremony, expires_at) = put_ceremony(store, CeremonyKind::Register, &user.id, binding(holder), state).await?;
    Ok(Started { ceremony, options: serde_json::to_value(options).map_err(internal)?, expires_at })
}

/// A registered passkey, and with an enrolment ticket the session the login completes with.
#[derive(Debug)]
pub struct Registered {
    /// The new passkey.
    pub passkey: PasskeyInfo,
    /// With an enrolment ticket: the session.
    pub session: Option<Session>,
}

/// Finishes a registration: the ceremony must be the holder's (taken once), the authenticator's
/// answer must verify. The passkey is stored under `name`, the person's other sessions are revoked
/// (as when TOTP is enrolled), and with an enrolment ticket the ticket is used up and the login
/// completes with a session. Audited as `mfa.webauthn.enrol`.
#[allow(clippy::too_many_arguments)]
pub async fn finish_registration(
    store: &Store,
    rp: &RelyingParty,
    holder: &Holder,
    ceremony: &str,
    credential: &serde_json::Value,
    name: &str,
    source: Option<IpAddr>,
    session_secs: i64,
) -> Result<Registered> {
    check_label("name", name, 64)?;
    let rec = unlocked(store, holder.user_id()).await?;
    let fail = || record_failure(store, &rec, source, "mfa.webauthn.enrol");
    let Some(state) = take_ceremony(store, ceremony, CeremonyKind::Register, &rec.user.id, binding(holder)).await?
    else {
        return Err(fail().await?);
    };
    let state: PasskeyRegistration = serde_json::from_str(&state).map_err(internal)?;
    let Ok(answer) = serde_json::from_value::<RegisterPublicKeyCredential>(credential.clone()) else {
        return Err(fail().await?);
    };
    let Ok(passkey) = rp.webauthn.finish_passkey_registration(&answer, &state) else {
        return Err(fail().await?);
    };
    let json = serde_json::to_string(&passkey).map_err(internal)?;
    let mut tx = store.begin().await?;
    let id = tx.insert_webauthn_credential(&rec.user.id, &credential_id_text(&passkey), &json, 0, name).await?;
    let revoked = tx.revoke_other_sessions(&rec.user.id, binding(holder)).await?;
    let session = match holder {
        Holder::Session { .. } => None,
        Holder::Enrolling(ticket) => {
            if !tx.use_mfa_ticket(&ticket.id).await? {
                return Err(Error::Unauthorized("invalid, expired or used ticket".into()));
            }
            Some(open_session(&mut tx, &rec.user, source, session_secs, FACTOR).await?)
        }
    };
    let actor = account_actor(&rec.user, &source_text(source));
    let t = rec.user.tenant.as_deref().unwrap_or("*");
    let after = json!({"passkey": id, "name": name, "sessions_revoked": revoked});
    tx.append_audit(&actor.audit_entry(t, "mfa.webauthn.enrol", &format!("user/{}", rec.user.id), (), after)).await?;
    tx.commit().await?;
    let passkey = store
        .webauthn_credentials(&rec.user.id)
        .await?
        .into_iter()
        .find(|c| c.id == id)
        .map(PasskeyInfo::from)
        .ok_or_else(|| internal("the new passkey vanished"))?;
    Ok(Registered { passkey, session })
}

/// The person's passkeys, oldest first.
pub async fn list(store: &Store, user_id: &str) -> Result<Vec<PasskeyInfo>> {
    Ok(store.webauthn_credentials(user_id).await?.into_iter().map(PasskeyInfo::from).collect())
}

/// Renames one of the person's passkeys (audited as `mfa.webauthn.rename`).
pub async fn rename(store: &Store, user_id: &str, id: &str, name: &str, source: Option<IpAddr>) -> Result<PasskeyInfo> {
    check_label("name", name, 64)?;
    let rec = unlocked(store, user_id).await?;
    let mut tx = store.begin().await?;
    if !tx.rename_webauthn_credential(user_id, id, name).await? {
        return Err(Error::NotFound(format!("no passkey {id}")));
    }
    let actor = account_actor(&rec.user, &source_text(source));
    let t = rec.user.tenant.as_deref().unwrap_or("*");
    let after = json!({"passkey": id, "name": name});
    tx.append_audit(&actor.audit_entry(t, "mfa.webauthn.rename", &format!("user/{user_id}"), (), after)).await?;
    tx.commit().await?;
    list(store, user_id)
        .await?
        .into_iter()
        .find(|p| p.id == id)
        .ok_or_else(|| Error::NotFound(format!("no passkey {id}")))
}

/// Deletes one of the person's passkeys. Refused when it is their last second factor and they must
/// use one (their tenant requires it, or they are operator staff): they add another factor first.
/// The person's other sessions are revoked, as when TOTP is removed. Audited as `mfa.webauthn.remove`.
/// Returns how many sessions were revoked.
pub async fn delete(store: &Store, user_id: &str, token_id: &str, id: &str, source: Option<IpAddr>) -> Result<u64> {
    require_fresh(store, token_id, "deleting a passkey").await?;
    let rec = unlocked(store, user_id).await?;
    let creds = store.webauthn_credentials(user_id).await?;
    let Some(cred) = creds.iter().find(|c| c.id == id) else {
        return Err(Error::NotFound(format!("no passkey {id}")));
    };
    let totp = store.totp_credential(user_id).await?.is_some_and(|c| c.active);
    if creds.len() == 1 && !totp && store.mfa_required(rec.user.tenant.as_deref()).await? {
        return Err(Error::Refused(
            "this is your last second factor and your account must use one: add another passkey or an \
             authenticator app first"
                .into(),
        ));
    }
    let mut tx = store.begin().await?;
    if !tx.delete_webauthn_credential(user_id, id).await? {
        return Err(Error::NotFound(format!("no passkey {id}")));
    }
    let revoked = tx.revoke_other_sessions(user_id, token_id).await?;
    let actor = account_actor(&rec.user, &source_text(source));
    let t = rec.user.tenant.as_deref().unwrap_or("*");
    let after = json!({"passkey": id, "name": cred.name, "sessions_revoked": revoked});
    tx.append_audit(&actor.audit_entry(t, "mfa.webauthn.remove", &format!("user/{user_id}"), (), after)).await?;
    tx.commit().await?;
    Ok(revoked)
}

/// Starts an assertion over the person's passkeys, bound to `bound`.
async fn start_assertion(
    store: &Store,
    rp: &RelyingParty,
    user_id: &str,
    kind: CeremonyKind,
    bound: &str,
) -> Result<Option<Started>> {
    let creds = store.webauthn_credentials(user_id).await?;
    if creds.is_empty() {
        return Ok(None);
    }
    let passkeys = creds.iter().map(passkey_of).collect::<Result<Vec<_>>>()?;
    let (options, state) = rp.webauthn.start_passkey_authentication(&passkeys).map_err(internal)?;
    let state = serde_json::to_string(&state).map_err(internal)?;
    let (ceremony, expires_at) = put_ceremony(store, kind, user_id, bound, state).await?;
    Ok(Some(Started { ceremony, options: serde_json::to_value(options).map_err(internal)?, expires_at }))
}

/// Checks an assertion against a taken ceremony's state and records the use inside `tx` (the
/// updated passkey and counter, conditional on the counter checked). `false`: it does not verify, the
/// passkey is not the person's, its counter shows a clone, or a concurrent use won.
async fn verify_assertion(
    tx: &mut store::Tx,
    store: &Store,
    rp: &RelyingParty,
    user_id: &str,
    state: &str,
    credential: &serde_json::Value,
) -> Result<bool> {
    let state: PasskeyAuthentication = serde_json::from_str(state).map_err(internal)?;
    let Ok(answer) = serde_json::from_value::<PublicKeyCredential>(credential.clone()) else {
        return Ok(false);
    };
    // webauthn-rs checks the signature, the challenge, the origin, user verification, that the
    // credential is one of those the ceremony allowed, and that a nonzero counter went up.
    let Ok(result) = rp.webauthn.finish_passkey_authentication(&answer, &state) else {
        return Ok(false);
    };
    for cred in store.webauthn_credentials(user_id).await? {
        let mut pk = passkey_of(&cred)?;
        if pk.cred_id() != result.cred_id() {
            continue;
        }
        let counter = i64::from(result.counter());
        if (counter > 0 || cred.sign_count > 0) && counter <= cred.sign_count {
            return Ok(false);
        }
        pk.update_credential(&result);
        let json = serde_json::to_string(&pk).map_err(internal)?;
        return Ok(tx.record_webauthn_use(&cred.id, &json, cred.sign_count, counter).await?);
    }
    Ok(false)
}

async fn login_ticket(store: &Store, ticket: &str, source: Option<IpAddr>) -> Result<Ticket> {
    match store.mfa_ticket(ticket, &source_text(source), store::now()).await? {
        Some(t) if t.purpose == TicketPurpose::Login => Ok(t),
        _ => Err(Error::Unauthorized(WRONG.into())),
    }
}

/// Starts the second login step with a passkey: the login ticket must be live, from the address it
/// was issued to, and the person must have a passkey; anything else is the answer of a wrong password.
pub async fn start_login(store: &Store, rp: &RelyingParty, ticket: &str, source: Option<IpAddr>) -> Result<Started> {
    let ticket = login_ticket(store, ticket, source).await?;
    let rec = unlocked(store, &ticket.user_id).await?;
    start_assertion(store, rp, &rec.user.id, CeremonyKind::Login, &ticket.id)
        .await?
        .ok_or_else(|| Error::Unauthorized(WRONG.into()))
}

/// Completes a login with a passkey: the ticket, the ceremony it started and the authenticator's
/// assertion yield the session (factor `webauthn`, audited as `auth.login` like a code). Failures count
/// toward the lockout (audited as `auth.login_mfa` `failed`) and get the answer of a wrong password.
pub async fn finish_login(
    store: &Store,
    rp: &RelyingParty,
    ticket: &str,
    ceremony: &str,
    credential: &serde_json::Value,
    source: Option<IpAddr>,
    session_secs: i64,
) -> Result<Session> {
    let ticket = login_ticket(store, ticket, source).await?;
    let rec = unlocked(store, &ticket.user_id).await?;
    let fail = || record_failure(store, &rec, source, "auth.login_mfa");
    let Some(state) = take_ceremony(store, ceremony, CeremonyKind::Login, &rec.user.id, &ticket.id).await? else {
        return Err(fail().await?);
    };
    let mut tx = store.begin().await?;
    if !verify_assertion(&mut tx, store, rp, &rec.user.id, &state, credential).await? {
        drop(tx);
        return Err(fail().await?);
    }
    if !tx.use_mfa_ticket(&ticket.id).await? {
        return Err(Error::Unauthorized(WRONG.into()));
    }
    let session = open_session(&mut tx, &rec.user, source, session_secs, FACTOR).await?;
    tx.commit().await?;
    Ok(session)
}

/// Starts a step-up with a passkey for the person in login session `cred`: the options for
/// `navigator.credentials.get()`. A person without a passkey gets the answer of a wrong password.
pub async fn start_step_up(
    store: &Store,
    rp: &RelyingParty,
    user_id: &str,
    cred: crate::stepup::Credential<'_>,
) -> Result<Started> {
    if !cred.is_session() {
        return Err(Error::Forbidden("only a person's login session steps up; API tokens do not".into()));
    }
    let rec = unlocked(store, user_id).await?;
    start_assertion(store, rp, &rec.user.id, CeremonyKind::StepUp, cred.token_id)
        .await?
        .ok_or_else(|| Error::Unauthorized(WRONG.into()))
}

/// Steps up login session `cred` with a passkey: the ceremony that session started (taken once) and
/// a verifying assertion; the passkey's use is recorded, then the step-up (factor `webauthn`, audited
/// as `auth.step_up`). Failures count toward the lockout (audited as `auth.step_up` `failed`) and get
/// the answer of a wrong password.
pub async fn step_up(
    store: &Store,
    rp: &RelyingParty,
    user_id: &str,
    cred: crate::stepup::Credential<'_>,
    ceremony: &str,
    credential: &serde_json::Value,
    source: Option<IpAddr>,
) -> Result<crate::stepup::SteppedUp> {
    if !cred.is_session() {
        return Err(Error::Forbidden("only a person's login session steps up; API tokens do not".into()));
    }
    let rec = unlocked(store, user_id).await?;
    if let Some(state) = take_ceremony(store, ceremony, CeremonyKind::StepUp, user_id, cred.token_id).await? {
        let mut tx = store.begin().await?;
        if verify_assertion(&mut tx, store, rp, user_id, &state, credential).await? {
            tx.commit().await?;
            return crate::stepup::record(store, user_id, cred.token_id, FACTOR, source).await;
        }
    }
    Err(record_failure(store, &rec, source, "auth.step_up").await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_relying_party_needs_a_domain_origin() {
        let rp = RelyingParty::new("http://localhost:8080").unwrap();
        assert_eq!(rp.origin(), "http://localhost:8080");
        assert_eq!(RelyingParty::new("https://portal.example.com/").unwrap().origin(), "https://portal.example.com");
        for bad in
            ["https://127.0.0.1:8443", "http://[::1]:8080", "ftp://example.com", "https://example.com/portal", "nope"]
        {
            assert!(RelyingParty::new(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn user_handles_are_stable_and_distinct() {
        let user = |id: &str| User {
            id: id.into(),
            username: "alice".into(),
            role: "tenant_admin".into(),
            tenant: Some("acme".into()),
            created_at: 0,
        };
        assert_eq!(user_handle(&user("u1")), user_handle(&user("u1")));
        assert_ne!(user_handle(&user("u1")), user_handle(&user("u2")));
    }
}
