//! Passkeys (WebAuthn) over HTTP (SEC-8): the second login step with a passkey
//! (`/auth/login/webauthn/start` and `/finish`, with the login ticket), and a person's own passkeys
//! under `/me/mfa/webauthn` (register with a login session or the enrolment ticket, list, rename,
//! delete), and a step-up with a passkey (`/me/step-up/webauthn/start` and `/finish`, like
//! `POST /me/step-up` with a code). Adding and deleting a passkey from a session needs a fresh step-up.
//! A ceremony's options are what `navigator.credentials.create()` / `.get()` take, binary
//! values in base64url; the browser's answer is sent back as JSON the same way. A failed ceremony is
//! the 401 of a wrong code.

use axum::extract::State;
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use cmp::mfa::Holder;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::approvals::SteppedUp;
use super::mfa::{check_rate, Owner};
use super::sessions::LoginSession;
use crate::auth::{source_of, Caller, Ctx};
use crate::extract::{Json, Path};
use crate::problem::{ApiError, ApiResult, Problems};
use crate::state::AppState;

/// The relying party, or the 409 saying why passkeys are unavailable here.
pub(crate) fn relying_party(st: &AppState) -> ApiResult<&cmp::passkey::RelyingParty> {
    st.0.passkeys.as_deref().map_err(|e| ApiError::new(StatusCode::CONFLICT, "passkeys-unavailable", e.clone()))
}

/// A started WebAuthn ceremony.
#[derive(Debug, Serialize, ToSchema)]
pub struct Ceremony {
    /// Send back with the answer (single use, valid 5 minutes).
    pub ceremony: String,
    /// Unix seconds of the ceremony's expiry.
    pub expires_at: i64,
    /// `{"publicKey": {...}}`: the options of `navigator.credentials.create()` (registration) or
    /// `.get()` (authentication), binary values (challenge, ids) as base64url text.
    #[schema(value_type = Object)]
    pub options: serde_json::Value,
}

impl From<cmp::passkey::Started> for Ceremony {
    fn from(s: cmp::passkey::Started) -> Self {
        Ceremony { ceremony: s.ceremony, expires_at: s.expires_at, options: s.options }
    }
}

/// A login ticket, to start the second step with a passkey.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebauthnLoginStart {
    /// The ticket `POST /auth/login` answered (its `methods` list `webauthn`).
    #[schema(max_length = 200)]
    pub ticket: String,
}

/// Starts the second login step with a passkey: the options for `navigator.credentials.get()`.
/// An unknown, used or foreign ticket, or a person without a passkey, is the 401 of a wrong code.
#[utoipa::path(post, path = "/auth/login/webauthn/start", tag = "access", request_body = WebauthnLoginStart,
    responses((status = 200, body = Ceremony), Problems))]
pub async fn login_start(
    State(st): State<AppState>,
    parts: Parts,
    Json(req): Json<WebauthnLoginStart>,
) -> ApiResult<axum::Json<Ceremony>> {
    check_rate(&st, &parts)?;
    let rp = relying_party(&st)?;
    let started = cmp::passkey::start_login(st.store(), rp, &req.ticket, source_of(&parts)).await?;
    Ok(axum::Json(started.into()))
}

/// The second login step with a passkey.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebauthnLoginFinish {
    /// The ticket `POST /auth/login` answered.
    #[schema(max_length = 200)]
    pub ticket: String,
    /// The ceremony `POST /auth/login/webauthn/start` answered.
    #[schema(max_length = 64)]
    pub ceremony: String,
    /// The `PublicKeyCredential` of `navigator.credentials.get()` as JSON (`id`, `rawId`, `type`,
    /// `response` with `authenticatorData`, `clientDataJSON`, `signature`, `userHandle`), binary
    /// values as base64url text.
    #[schema(value_type = Object)]
    pub credential: serde_json::Value,
    /// Open a portal cookie session instead of a bearer session (see `POST /auth/login`).
    #[serde(default)]
    pub cookie: bool,
}

/// Completes a login with a passkey: the session, as `POST /auth/login/mfa` answers it. A failed
/// ceremony counts toward the account lockout and is the 401 of a wrong code.
#[utoipa::path(post, path = "/auth/login/webauthn/finish", tag = "access", request_body = WebauthnLoginFinish,
    responses((status = 200, body = LoginSession), Problems))]
pub async fn login_finish(
    State(st): State<AppState>,
    parts: Parts,
    Json(req): Json<WebauthnLoginFinish>,
) -> ApiResult<axum::response::Response> {
    check_rate(&st, &parts)?;
    let rp = relying_party(&st)?;
    let secs = super::sessions::session_secs(&st, req.cookie);
    let s = cmp::passkey::finish_login(
        st.store(),
        rp,
        &req.ticket,
        &req.ceremony,
        &req.credential,
        source_of(&parts),
        secs,
    )
    .await?;
    super::sessions::answer(&st, s, req.cookie).await
}

/// Starts registering a passkey: the options for `navigator.credentials.create()`. Bearer: a login
/// session or an enrolment ticket.
#[utoipa::path(post, path = "/me/mfa/webauthn/start", tag = "access",
    responses((status = 200, body = Ceremony), Problems), security(("bearer" = [])))]
pub async fn register_start(owner: Owner) -> ApiResult<axum::Json<Ceremony>> {
    let rp = relying_party(&owner.st)?;
    Ok(axum::Json(cmp::passkey::start_registration(owner.st.store(), rp, &owner.holder).await?.into()))
}

/// The browser's answer to a registration.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebauthnRegisterFinish {
    /// The ceremony `POST /me/mfa/webauthn/start` answered.
    #[schema(max_length = 64)]
    pub ceremony: String,
    /// The `PublicKeyCredential` of `navigator.credentials.create()` as JSON (`id`, `rawId`, `type`,
    /// `response` with `attestationObject` and `clientDataJSON`), binary values as base64url text.
    #[schema(value_type = Object)]
    pub credential: serde_json::Value,
    /// A name for the passkey (1–64 characters), to tell one's passkeys apart.
    #[schema(min_length = 1, max_length = 64)]
    pub name: String,
    /// With an enrolment ticket as the bearer: open the login's session as a portal cookie session.
    #[serde(default)]
    pub cookie: bool,
}

/// A registered passkey (never its key material).
#[derive(Debug, Serialize, ToSchema)]
pub struct PasskeyInfo {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Unix seconds of the registration.
    pub created_at: i64,
    /// Unix seconds of the last use (login or step-up).
    pub last_used_at: Option<i64>,
}

impl From<cmp::passkey::PasskeyInfo> for PasskeyInfo {
    fn from(p: cmp::passkey::PasskeyInfo) -> Self {
        PasskeyInfo { id: p.id, name: p.name, created_at: p.created_at, last_used_at: p.last_used_at }
    }
}

/// A registered passkey, and with an enrolment ticket the session.
#[derive(Debug, Serialize, ToSchema)]
pub struct PasskeyRegistered {
    /// The new passkey.
    pub passkey: PasskeyInfo,
    /// With an enrolment ticket as the bearer: the session the login completes with.
    pub session: Option<LoginSession>,
}

/// Finishes registering a passkey; the person's other sessions are revoked. A failed ceremony counts
/// toward the account lockout and is the 401 of a wrong code.
#[utoipa::path(post, path = "/me/mfa/webauthn/finish", tag = "access", request_body = WebauthnRegisterFinish,
    responses((status = 201, body = PasskeyRegistered), Problems), security(("bearer" = [])))]
pub async fn register_finish(
    owner: Owner,
    parts: Parts,
    Json(req): Json<WebauthnRegisterFinish>,
) -> ApiResult<axum::response::Response> {
    check_rate(&owner.st, &parts)?;
    let rp = relying_party(&owner.st)?;
    let secs = super::sessions::session_secs(&owner.st, req.cookie);
    let r = cmp::passkey::finish_registration(
        owner.st.store(),
        rp,
        &owner.holder,
        &req.ceremony,
        &req.credential,
        &req.name,
        owner.source,
        secs,
    )
    .await?;
    let (set_cookie, session) = match r.session {
        Some(s) => {
            let (set, session) = super::sessions::login_session(&owner.st, s, req.cookie).await?;
            (set, Some(session))
        }
        None => (None, None),
    };
    let headers = set_cookie.map(|v| [(axum::http::header::SET_COOKIE, v)]);
    let body = PasskeyRegistered { passkey: r.passkey.into(), session };
    Ok((StatusCode::CREATED, headers, axum::Json(body)).into_response())
}

fn session_owner(owner: &Owner) -> ApiResult<(&str, &str)> {
    match &owner.holder {
        Holder::Session { user_id, token_id } => Ok((user_id, token_id)),
        Holder::Enrolling(_) => Err(ApiError::unauthorized("invalid, expired or revoked token")),
    }
}

/// One's passkeys.
#[derive(Debug, Serialize, ToSchema)]
pub struct PasskeyList {
    /// Passkeys, oldest first.
    pub items: Vec<PasskeyInfo>,
}

/// Lists one's passkeys. Bearer: a login session.
#[utoipa::path(get, path = "/me/mfa/webauthn", tag = "access",
    responses((status = 200, body = PasskeyList), Problems), security(("bearer" = [])))]
pub async fn list(owner: Owner) -> ApiResult<axum::Json<PasskeyList>> {
    let (user_id, _) = session_owner(&owner)?;
    let items = cmp::passkey::list(owner.st.store(), user_id).await?.into_iter().map(PasskeyInfo::from).collect();
    Ok(axum::Json(PasskeyList { items }))
}

/// A passkey's new name.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasskeyRename {
    /// 1–64 characters.
    #[schema(min_length = 1, max_length = 64)]
    pub name: String,
}

/// Renames one of one's passkeys. Bearer: a login session.
#[utoipa::path(patch, path = "/me/mfa/webauthn/{id}", tag = "access",
    params(("id" = String, Path, description = "Passkey id")), request_body = PasskeyRename,
    responses((status = 200, body = PasskeyInfo), Problems), security(("bearer" = [])))]
pub async fn rename(
    owner: Owner,
    Path(id): Path<String>,
    Json(req): Json<PasskeyRename>,
) -> ApiResult<axum::Json<PasskeyInfo>> {
    let (user_id, _) = session_owner(&owner)?;
    let p = cmp::passkey::rename(owner.st.store(), user_id, &id, &req.name, owner.source).await?;
    Ok(axum::Json(p.into()))
}

/// Deletes one of one's passkeys; the person's other sessions are revoked. Refused (409) when it is
/// the last second factor of a person who must use one. Bearer: a login session.
#[utoipa::path(delete, path = "/me/mfa/webauthn/{id}", tag = "access",
    params(("id" = String, Path, description = "Passkey id")),
    responses((status = 204, description = "Deleted"), Problems), security(("bearer" = [])))]
pub async fn delete(owner: Owner, Path(id): Path<String>) -> ApiResult<StatusCode> {
    let (user_id, token_id) = session_owner(&owner)?;
    cmp::passkey::delete(owner.st.store(), user_id, token_id, &id, owner.source).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn stepping_person(caller: &Caller) -> ApiResult<&str> {
    caller.user_id.as_deref().ok_or_else(|| ApiError::forbidden("only a person's login session steps up"))
}

/// Starts a step-up with a passkey: the options for `navigator.credentials.get()`. Bearer: a login
/// session (of a person with a passkey).
#[utoipa::path(post, path = "/me/step-up/webauthn/start", tag = "access",
    responses((status = 200, body = Ceremony), Problems), security(("bearer" = [])))]
pub async fn step_up_start(Ctx { st, caller }: Ctx) -> ApiResult<axum::Json<Ceremony>> {
    let rp = relying_party(&st)?;
    let user_id = stepping_person(&caller)?;
    let cred = cmp::stepup::Credential { token_id: &caller.token_id, name: &caller.name };
    Ok(axum::Json(cmp::passkey::start_step_up(st.store(), rp, user_id, cred).await?.into()))
}

/// The browser's answer to a step-up.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebauthnStepUpFinish {
    /// The ceremony `POST /me/step-up/webauthn/start` answered.
    #[schema(max_length = 64)]
    pub ceremony: String,
    /// The `PublicKeyCredential` of `navigator.credentials.get()` as JSON, binary values as base64url.
    #[schema(value_type = Object)]
    pub credential: serde_json::Value,
}

/// Proves a passkey for this login session, like `POST /me/step-up` with a code: sensitive tasks are
/// then allowed for five minutes. A failed ceremony counts toward the account lockout and is the 401
/// of a wrong code.
#[utoipa::path(post, path = "/me/step-up/webauthn/finish", tag = "access", request_body = WebauthnStepUpFinish,
    responses((status = 200, body = SteppedUp), Problems), security(("bearer" = [])))]
pub async fn step_up_finish(
    Ctx { st, caller }: Ctx,
    parts: Parts,
    Json(req): Json<WebauthnStepUpFinish>,
) -> ApiResult<axum::Json<SteppedUp>> {
    check_rate(&st, &parts)?;
    let rp = relying_party(&st)?;
    let user_id = stepping_person(&caller)?;
    let cred = cmp::stepup::Credential { token_id: &caller.token_id, name: &caller.name };
    let up =
        cmp::passkey::step_up(st.store(), rp, user_id, cred, &req.ceremony, &req.credential, caller.source).await?;
    Ok(axum::Json(SteppedUp { factor: up.factor, fresh_until: up.fresh_until }))
}
