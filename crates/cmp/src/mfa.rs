//! The second login factor (SEC-8) as use cases: TOTP enrolment (a secret, its `otpauth://` URI and
//! a QR code rendered here), its confirmation by a first code (which returns ten recovery codes, once),
//! its removal (needs a code; the person's other sessions are revoked), and the second step of the
//! login: a right password yields a short-lived single-use ticket, and the ticket with a TOTP code or
//! a recovery code yields the session. Wrong and replayed codes count toward the account lockout like
//! wrong passwords and get the same answer.
//!
//! A person who must use a second factor (their tenant requires one, or they are operator staff) but
//! has none enrolled gets, after the password, an *enrolment* ticket: it is accepted only by the
//! enrolment calls, and confirming the enrolment with it opens the session. So an account never gets
//! a session on its password alone where MFA is required, and no administrator has to hand out
//! second-factor secrets.

use std::net::IpAddr;

use serde_json::json;
use store::mfa::{secret_hash, Ticket, TicketPurpose};
use store::users::User;
use store::Store;
use zeroize::Zeroizing;

use crate::access::{account_actor, open_session, record_failure, source_text, LoginOutcome, Session, WRONG};
use crate::error::{Error, Result};
use crate::totp::{self, Algorithm, Params};

/// Seconds a ticket between the password and the second factor lives.
pub const TICKET_SECS: i64 = 300;
/// Recovery codes per person.
pub const RECOVERY_CODES: usize = 10;
/// Random bytes per recovery code (80 bits).
const RECOVERY_BYTES: usize = 10;
/// The issuer shown by authenticator apps.
pub const ISSUER: &str = "Warden";

/// The answer to a right password when a second factor follows.
#[derive(Debug, Clone)]
pub struct Challenge {
    /// `wmt_<id>_<secret>`: single use, bound to the login's source address.
    pub ticket: String,
    /// Unix seconds of expiry.
    pub expires_at: i64,
    /// What completes the login: `totp`, `recovery`, `webauthn` (a passkey; empty for an enrolment
    /// ticket).
    pub methods: Vec<&'static str>,
}

/// The ticket or login outcome for `user` after a right password, or `None` when no second factor
/// applies (the tenant does not require one and the person has none).
pub(crate) async fn challenge(store: &Store, user: &User, source: Option<IpAddr>) -> Result<Option<LoginOutcome>> {
    let totp = store.totp_credential(&user.id).await?.is_some_and(|c| c.active);
    let passkeys = store.count_webauthn_credentials(&user.id).await? > 0;
    let active = totp || passkeys;
    if !active && !store.mfa_required(user.tenant.as_deref()).await? {
        return Ok(None);
    }
    let purpose = if active { TicketPurpose::Login } else { TicketPurpose::Enrol };
    let expires_at = store::now() + TICKET_SECS;
    let actor = account_actor(user, &source_text(source));
    let t = user.tenant.as_deref().unwrap_or("*");
    let mut tx = store.begin().await?;
    let ticket = tx.issue_mfa_ticket(&user.id, purpose, &source_text(source), expires_at).await?;
    let next = if active { "second_factor" } else { "enrolment" };
    let after = json!({"result": "password_accepted", "next": next});
    tx.append_audit(&actor.audit_entry(t, "auth.login", &format!("user/{}", user.id), (), after)).await?;
    tx.commit().await?;
    Ok(Some(if active {
        let mut methods = if totp { vec!["totp", "recovery"] } else { vec![] };
        if passkeys {
            methods.push("webauthn");
        }
        LoginOutcome::SecondFactor(Challenge { ticket, expires_at, methods })
    } else {
        LoginOutcome::Enrol(Challenge { ticket, expires_at, methods: vec![] })
    }))
}

/// Who acts on their own second factor.
#[derive(Debug, Clone)]
pub enum Holder {
    /// A logged-in person: their user id and the session's token id (kept when others are revoked).
    Session {
        /// The person.
        user_id: String,
        /// The token presented.
        token_id: String,
    },
    /// A person holding an enrolment ticket (password right, no factor yet).
    Enrolling(Ticket),
}

impl Holder {
    pub(crate) fn user_id(&self) -> &str {
        match self {
            Holder::Session { user_id, .. } => user_id,
            Holder::Enrolling(t) => &t.user_id,
        }
    }
}

/// Resolves a presented enrolment ticket; anything else (a login ticket, an expired, used or foreign
/// one) is the same 401.
pub async fn enrolment_ticket(store: &Store, text: &str, source: Option<IpAddr>) -> Result<Holder> {
    match store.mfa_ticket(text, &source_text(source), store::now()).await? {
        Some(t) if t.purpose == TicketPurpose::Enrol => Ok(Holder::Enrolling(t)),
        _ => Err(Error::Unauthorized("invalid, expired or used ticket".into())),
    }
}

pub(crate) async fn user_of(store: &Store, holder: &Holder) -> Result<User> {
    store
        .user_in(&store::access::Scope::Operator, holder.user_id())
        .await?
        .ok_or_else(|| Error::Unauthorized("the account no longer exists".into()))
}

/// A started enrolment: shown once to the person, to put into an authenticator app.
pub struct Enrolment {
    /// The secret, base32 (RFC 4648, no padding).
    pub secret: Zeroizing<String>,
    /// The `otpauth://totp/Warden:<user>?…` URI.
    pub uri: Zeroizing<String>,
    /// The URI as a QR code, an SVG document.
    pub qr_svg: String,
}

impl std::fmt::Debug for Enrolment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Enrolment([redacted])")
    }
}

/// Starts a TOTP enrolment: a new random secret, stored sealed and pending until a first code confirms
/// it (a pending one is replaced; an active one must be removed first).
pub async fn start_totp(store: &Store, holder: &Holder, source: Option<IpAddr>) -> Result<Enrolment> {
    let user = user_of(store, holder).await?;
    if store.totp_credential(&user.id).await?.is_some_and(|c| c.active) {
        return Err(Error::Conflict("a one-time-code factor is already active; remove it first".into()));
    }
    if let Holder::Session { user_id, token_id } = holder {
        crate::stepup::require_for_new_factor(store, user_id, token_id).await?;
    }
    let mut secret = Zeroizing::new([0u8; totp::SECRET_LEN]);
    auc::fill_random(&mut secret[..]).map_err(|e| Error::Internal(e.to_string()))?;
    let params = Params::DEFAULT;
    let account = match &user.tenant {
        Some(t) => format!("{}@{t}", user.username),
        None => user.username.clone(),
    };
    let uri = Zeroizing::new(totp::otpauth_uri(ISSUER, &account, &secret[..], params));
    let qr_svg = totp::qr_svg(&uri).map_err(Error::Internal)?;
    let actor = account_actor(&user, &source_text(source));
    let t = user.tenant.as_deref().unwrap_or("*");
    let mut tx = store.begin().await?;
    tx.put_pending_totp(&user.id, &secret[..], params.algorithm.as_str(), params.digits).await?;
    let after = json!({"state": "pending", "algorithm": params.algorithm.as_str(), "digits": params.digits});
    tx.append_audit(&actor.audit_entry(t, "mfa.totp.start", &format!("user/{}", user.id), (), after)).await?;
    tx.commit().await?;
    Ok(Enrolment { secret: Zeroizing::new(totp::base32_encode(&secret[..])), uri, qr_svg })
}

/// What a confirmed enrolment returns, once.
#[derive(Debug)]
pub struct Confirmed {
    /// Ten recovery codes (`XXXX-XXXX-XXXX-XXXX`), each usable once instead of a TOTP code.
    pub recovery_codes: Vec<String>,
    /// With an enrolment ticket: the session the login completes with.
    pub session: Option<Session>,
}

/// `bytes` random bytes as base32 in groups of four characters (`XXXX-XXXX-…`), easy to copy by hand.
pub(crate) fn random_code(bytes: usize) -> Result<String> {
    let mut raw = Zeroizing::new(vec![0u8; bytes]);
    auc::fill_random(&mut raw[..]).map_err(|e| Error::Internal(e.to_string()))?;
    let text = Zeroizing::new(totp::base32_encode(&raw[..]));
    Ok(text.as_bytes().chunks(4).map(|c| String::from_utf8_lossy(c).into_owned()).collect::<Vec<_>>().join("-"))
}

fn new_recovery_code() -> Result<String> {
    random_code(RECOVERY_BYTES)
}

/// A recovery code as typed, normalised (upper case, no separators), when it has the shape of one.
fn normalise_recovery(code: &str) -> Option<String> {
    let text: String = code.chars().filter(|c| !matches!(c, '-' | ' ')).collect::<String>().to_ascii_uppercase();
    (text.len() == 16 && totp::base32_decode(&text).is_ok_and(|b| b.len() == RECOVERY_BYTES)).then_some(text)
}

fn params_of(cred: &store::mfa::TotpCredential) -> Result<Params> {
    let alg: Algorithm = cred.algorithm.parse().map_err(Error::Internal)?;
    Params::new(alg, cred.digits).map_err(Error::Internal)
}

/// Checks `code` for `user_id` inside `tx` and consumes it: a TOTP code (its step recorded, so it
/// cannot be used again) or an unused recovery code. `activate`: the code confirms a pending
/// credential. Returns the factor used, or `None` (wrong, replayed, or nothing to check against).
pub(crate) async fn consume_code(
    tx: &mut store::Tx,
    cred: &store::mfa::TotpCredential,
    user_id: &str,
    code: &str,
    activate: bool,
) -> Result<Option<&'static str>> {
    if cred.active == activate {
        return Ok(None);
    }
    let code = code.trim();
    if !activate {
        if let Some(rc) = normalise_recovery(code) {
            return Ok(tx.use_recovery_code(user_id, &secret_hash(&rc)).await?.then_some("recovery"));
        }
    }
    let last = (cred.last_step >= 0).then_some(cred.last_step);
    match totp::verify(params_of(cred)?, &cred.secret, code, store::now(), last) {
        // The conditional update refuses a step a concurrent call has just accepted.
        Ok(step) => Ok(tx.accept_totp_step(user_id, step, activate).await?.then_some("totp")),
        Err(_) => Ok(None),
    }
}

/// The person's login record, refusing a locked account with the one answer.
pub(crate) async fn unlocked(store: &Store, user_id: &str) -> Result<store::users::LoginRecord> {
    match store.login_record_by_id(user_id).await? {
        Some(rec) if rec.locked_until <= store::now() => Ok(rec),
        _ => Err(Error::Unauthorized(WRONG.into())),
    }
}

/// Confirms a pending enrolment with a first valid code: the credential turns active, ten recovery
/// codes are made (returned now, stored as SHA-256 only), and the person's other sessions are revoked.
/// With an enrolment ticket, the ticket is used up and the login completes with a session.
pub async fn confirm_totp(
    store: &Store,
    holder: &Holder,
    code: &str,
    source: Option<IpAddr>,
    session_secs: i64,
) -> Result<Confirmed> {
    if let Holder::Session { user_id, token_id } = holder {
        crate::stepup::require_for_new_factor(store, user_id, token_id).await?;
    }
    let rec = unlocked(store, holder.user_id()).await?;
    let cred = match store.totp_credential(&rec.user.id).await? {
        Some(c) if !c.active => c,
        _ => return Err(Error::Conflict("no pending enrolment: start one first".into())),
    };
    let mut tx = store.begin().await?;
    if consume_code(&mut tx, &cred, &rec.user.id, code, true).await?.is_none() {
        drop(tx);
        return Err(record_failure(store, &rec, source, "mfa.totp.confirm").await?);
    }
    let recovery_codes = (0..RECOVERY_CODES).map(|_| new_recovery_code()).collect::<Result<Vec<_>>>()?;
    let hashes: Vec<String> = recovery_codes.iter().map(|c| secret_hash(&c.replace('-', ""))).collect();
    tx.replace_recovery_codes(&rec.user.id, &hashes).await?;
    let keep = match holder {
        Holder::Session { token_id, .. } => token_id.as_str(),
        Holder::Enrolling(_) => "",
    };
    let revoked = tx.revoke_other_sessions(&rec.user.id, keep).await?;
    let session = match holder {
        Holder::Session { .. } => None,
        Holder::Enrolling(ticket) => {
            if !tx.use_mfa_ticket(&ticket.id).await? {
                return Err(Error::Unauthorized("invalid, expired or used ticket".into()));
            }
            Some(open_session(&mut tx, &rec.user, source, session_secs, "totp").await?)
        }
    };
    let actor = account_actor(&rec.user, &source_text(source));
    let t = rec.user.tenant.as_deref().unwrap_or("*");
    let after = json!({"state": "active", "recovery_codes": RECOVERY_CODES, "sessions_revoked": revoked});
    tx.append_audit(&actor.audit_entry(t, "mfa.totp.confirm", &format!("user/{}", rec.user.id), "pending", after))
        .await?;
    tx.commit().await?;
    Ok(Confirmed { recovery_codes, session })
}

/// Removes the person's TOTP factor and recovery codes; needs a valid TOTP code or an unused recovery
/// code. The person's other sessions are revoked. Returns how many.
pub async fn remove_totp(
    store: &Store,
    user_id: &str,
    token_id: &str,
    code: &str,
    source: Option<IpAddr>,
) -> Result<u64> {
    let rec = unlocked(store, user_id).await?;
    let cred = match store.totp_credential(user_id).await? {
        Some(c) if c.active => c,
        _ => return Err(Error::NotFound("no active one-time-code factor".into())),
    };
    let mut tx = store.begin().await?;
    let Some(factor) = consume_code(&mut tx, &cred, user_id, code, false).await? else {
        drop(tx);
        return Err(record_failure(store, &rec, source, "mfa.totp.remove").await?);
    };
    tx.delete_mfa(user_id).await?;
    let revoked = tx.revoke_other_sessions(user_id, token_id).await?;
    let actor = account_actor(&rec.user, &source_text(source));
    let t = rec.user.tenant.as_deref().unwrap_or("*");
    let after = json!({"factor": factor, "sessions_revoked": revoked});
    tx.append_audit(&actor.audit_entry(t, "mfa.totp.remove", &format!("user/{user_id}"), "active", after)).await?;
    tx.commit().await?;
    Ok(revoked)
}

/// The second login step: a login ticket and a TOTP code or a recovery code yield the session. A
/// wrong, replayed or used-up code counts toward the lockout and gets the answer of a wrong password;
/// an unknown, expired, used or foreign ticket (another address) gets it too.
pub async fn complete_login(
    store: &Store,
    ticket: &str,
    code: &str,
    source: Option<IpAddr>,
    session_secs: i64,
) -> Result<Session> {
    let ticket = match store.mfa_ticket(ticket, &source_text(source), store::now()).await? {
        Some(t) if t.purpose == TicketPurpose::Login => t,
        _ => return Err(Error::Unauthorized(WRONG.into())),
    };
    let rec = unlocked(store, &ticket.user_id).await?;
    let Some(cred) = store.totp_credential(&rec.user.id).await? else {
        return Err(record_failure(store, &rec, source, "auth.login_mfa").await?);
    };
    let mut tx = store.begin().await?;
    let Some(factor) = consume_code(&mut tx, &cred, &rec.user.id, code, false).await? else {
        drop(tx);
        return Err(record_failure(store, &rec, source, "auth.login_mfa").await?);
    };
    if !tx.use_mfa_ticket(&ticket.id).await? {
        return Err(Error::Unauthorized(WRONG.into()));
    }
    let session = open_session(&mut tx, &rec.user, source, session_secs, factor).await?;
    tx.commit().await?;
    Ok(session)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovery_codes_have_80_bits_and_normalise() {
        let a = new_recovery_code().unwrap();
        assert_eq!(a.len(), 19, "{a}");
        assert_eq!(a.split('-').count(), 4);
        assert_ne!(a, new_recovery_code().unwrap());
        let plain = a.replace('-', "");
        assert_eq!(normalise_recovery(&a).as_deref(), Some(plain.as_str()));
        assert_eq!(normalise_recovery(&a.to_lowercase()).as_deref(), Some(plain.as_str()));
        assert_eq!(totp::base32_decode(&plain).unwrap().len(), RECOVERY_BYTES);
        assert_eq!(normalise_recovery("123456"), None, "a TOTP code is not a recovery code");
        assert_eq!(normalise_recovery("ABCD-EFGH-IJKL-MNO1"), None);
    }
}
