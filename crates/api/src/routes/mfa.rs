//! The second login factor over HTTP (SEC-8): the second login step (`POST /auth/login/mfa`), a
//! person's TOTP enrolment, confirmation and removal under `/me/mfa/totp`, and the operator's
//! per-tenant `mfa_required` (`PATCH /tenants/{name}`). The enrolment calls accept a login session or
//! the enrolment ticket `POST /auth/login` hands to a person who must use MFA and has none yet; no
//! other call accepts a ticket. Wrong and replayed codes get the answer of a wrong password.

use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use cmp::mfa::Holder;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::access::Tenant;
use super::sessions::LoginSession;
use crate::auth::{source_of, Caller, Ctx};
use crate::extract::{Json, Path};
use crate::problem::{ApiError, ApiResult, Problems};
use crate::state::AppState;

/// The answer to a right password when a second factor follows (status 202).
#[derive(Debug, Serialize, ToSchema)]
pub struct MfaChallenge {
    /// Always true.
    pub mfa_required: bool,
    /// `wmt_<id>_<secret>`: single use, valid 5 minutes, only from the address that logged in.
    pub ticket: String,
    /// Unix seconds of the ticket's expiry.
    pub expires_at: i64,
    /// What completes the login: `totp`, `recovery` (at `POST /auth/login/mfa`), `webauthn` (a
    /// passkey, at `POST /auth/login/webauthn/start` and `/finish`). Empty when the person must first
    /// enrol a factor (`enrolment_required`).
    pub methods: Vec<String>,
    /// The person must use a second factor and has none: the ticket is accepted only as the bearer of
    /// `POST /me/mfa/totp` and `POST /me/mfa/totp/confirm` (or `POST /me/mfa/webauthn/start` and
    /// `/finish`), and the confirmation opens the session.
    pub enrolment_required: bool,
}

impl MfaChallenge {
    pub(crate) fn from_cmp(c: cmp::mfa::Challenge, enrolment_required: bool) -> Self {
        MfaChallenge {
            mfa_required: true,
            ticket: c.ticket,
            expires_at: c.expires_at,
            methods: c.methods.into_iter().map(str::to_string).collect(),
            enrolment_required,
        }
    }
}

/// The second login step.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MfaLogin {
    /// The ticket `POST /auth/login` answered.
    #[schema(max_length = 200)]
    pub ticket: String,
    /// A TOTP code (6 digits) or an unused recovery code (`XXXX-XXXX-XXXX-XXXX`).
    #[schema(max_length = 64)]
    pub code: String,
    /// Open a portal cookie session instead of a bearer session (see `POST /auth/login`).
    #[serde(default)]
    pub cookie: bool,
}

pub(crate) fn check_rate(st: &AppState, parts: &Parts) -> ApiResult<()> {
    let key = source_of(parts).map(|s| s.to_string()).unwrap_or_else(|| "unknown".into());
    st.0.login_limiter.check(&key).map_err(|wait| ApiError::too_many("too many login attempts from this address", wait))
}

/// Completes a login with a second factor: the ticket and a TOTP code or a recovery code yield the
/// session. Rate-limited per address like the password step; failures count toward the lockout.
#[utoipa::path(post, path = "/auth/login/mfa", tag = "access", request_body = MfaLogin,
    responses((status = 200, body = LoginSession), Problems))]
pub async fn login_mfa(
    State(st): State<AppState>,
    parts: Parts,
    Json(req): Json<MfaLogin>,
) -> ApiResult<axum::response::Response> {
    check_rate(&st, &parts)?;
    let secs = super::sessions::session_secs(&st, req.cookie);
    let s = cmp::mfa::complete_login(st.store(), &req.ticket, &req.code, source_of(&parts), secs).await?;
    super::sessions::answer(&st, s, req.cookie).await
}

/// Who acts on their own factor: a person's session, or an enrolment ticket as the bearer.
pub struct Owner {
    pub(crate) st: AppState,
    pub(crate) holder: Holder,
    pub(crate) source: Option<std::net::IpAddr>,
}

impl FromRequestParts<AppState> for Owner {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let source = source_of(parts);
        let bearer = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|h| h.to_str().ok())
            .and_then(|t| t.strip_prefix("Bearer ").or_else(|| t.strip_prefix("bearer ")))
            .map(str::trim);
        let holder = match bearer {
            Some(t) if t.starts_with(store::mfa::TICKET_PREFIX) => {
                cmp::mfa::enrolment_ticket(state.store(), t, source).await?
            }
            _ => {
                let caller = Caller::from_request_parts(parts, state).await?;
                let user_id = caller
                    .user_id
                    .ok_or_else(|| ApiError::forbidden("only a person's login session has a second factor"))?;
                if !caller.name.starts_with(cmp::access::SESSION_PREFIX) {
                    return Err(ApiError::forbidden("only a person's login session has a second factor"));
                }
                Holder::Session { user_id, token_id: caller.token_id }
            }
        };
        Ok(Owner { st: state.clone(), holder, source })
    }
}

/// A started TOTP enrolment: shown once.
#[derive(Serialize, ToSchema)]
pub struct TotpEnrolment {
    /// The secret, base32 (for typing into an authenticator app).
    pub secret: String,
    /// `otpauth://totp/Warden:<user>?secret=…&issuer=Warden&algorithm=SHA1&digits=6&period=30`.
    pub otpauth_uri: String,
    /// The URI as a QR code: an SVG document rendered by the server.
    pub qr_svg: String,
}

/// Starts a TOTP enrolment (pending until confirmed with a first code). Bearer: a login session or
/// an enrolment ticket.
#[utoipa::path(post, path = "/me/mfa/totp", tag = "access",
    responses((status = 201, body = TotpEnrolment), Problems), security(("bearer" = [])))]
pub async fn start_totp(owner: Owner) -> ApiResult<(StatusCode, axum::Json<TotpEnrolment>)> {
    let e = cmp::mfa::start_totp(owner.st.store(), &owner.holder, owner.source).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(TotpEnrolment { secret: e.secret.to_string(), otpauth_uri: e.uri.to_string(), qr_svg: e.qr_svg }),
    ))
}

/// A one-time code.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Code {
    /// A TOTP code (6 digits); to remove the factor, a recovery code also does.
    #[schema(max_length = 64)]
    pub code: String,
}

/// The first code of an enrolment.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Confirmation {
    /// A TOTP code (6 digits).
    #[schema(max_length = 64)]
    pub code: String,
    /// With an enrolment ticket as the bearer: open the login's session as a portal cookie session
    /// (see `POST /auth/login`) instead of a bearer session.
    #[serde(default)]
    pub cookie: bool,
}

/// A confirmed enrolment: recovery codes shown once.
#[derive(Serialize, ToSchema)]
pub struct TotpConfirmed {
    /// Ten recovery codes, each usable once instead of a TOTP code; store them safely.
    pub recovery_codes: Vec<String>,
    /// With an enrolment ticket as the bearer: the session the login completes with (a bearer
    /// session, or with `"cookie": true` the cookie session's CSRF token, the cookie being set).
    pub session: Option<LoginSession>,
}

/// Confirms a TOTP enrolment with a first valid code; the person's other sessions are revoked.
#[utoipa::path(post, path = "/me/mfa/totp/confirm", tag = "access", request_body = Confirmation,
    responses((status = 200, body = TotpConfirmed), Problems), security(("bearer" = [])))]
pub async fn confirm_totp(
    owner: Owner,
    parts: Parts,
    Json(req): Json<Confirmation>,
) -> ApiResult<axum::response::Response> {
    use axum::response::IntoResponse;
    check_rate(&owner.st, &parts)?;
    let secs = super::sessions::session_secs(&owner.st, req.cookie);
    let c = cmp::mfa::confirm_totp(owner.st.store(), &owner.holder, &req.code, owner.source, secs).await?;
    let (set_cookie, session) = match c.session {
        Some(s) => {
            let (set, session) = super::sessions::login_session(&owner.st, s, req.cookie).await?;
            (set, Some(session))
        }
        None => (None, None),
    };
    let headers = set_cookie.map(|v| [(axum::http::header::SET_COOKIE, v)]);
    Ok((headers, axum::Json(TotpConfirmed { recovery_codes: c.recovery_codes, session })).into_response())
}

/// Removes the TOTP factor (needs a valid TOTP code or a recovery code); the person's other sessions
/// are revoked. Bearer: a login session.
#[utoipa::path(delete, path = "/me/mfa/totp", tag = "access", request_body = Code,
    responses((status = 204, description = "Removed"), Problems), security(("bearer" = [])))]
pub async fn remove_totp(owner: Owner, parts: Parts, Json(req): Json<Code>) -> ApiResult<StatusCode> {
    check_rate(&owner.st, &parts)?;
    let Holder::Session { user_id, token_id } = &owner.holder else {
        return Err(ApiError::unauthorized("invalid, expired or revoked token"));
    };
    cmp::mfa::remove_totp(owner.st.store(), user_id, token_id, &req.code, owner.source).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A tenant's settings.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TenantPatch {
    /// Its people need a second factor at login.
    pub mfa_required: Option<bool>,
}

/// Changes a tenant's settings (operator admins).
#[utoipa::path(patch, path = "/tenants/{name}", tag = "access", params(("name" = String, Path, description = "Tenant")),
    request_body = TenantPatch, responses((status = 200, body = Tenant), Problems), security(("bearer" = [])))]
pub async fn patch_tenant(
    Ctx { st, caller }: Ctx,
    Path(name): Path<String>,
    Json(req): Json<TenantPatch>,
) -> ApiResult<axum::Json<Tenant>> {
    caller.require(cmp::Action::Operate)?;
    if let Some(required) = req.mfa_required {
        let (actor, _) = caller.fresh(&st, "changing MFA settings").await?;
        cmp::access::set_mfa_required(st.store(), &actor, &name, required).await?;
    }
    let row =
        st.store().tenant_row(&name).await?.ok_or_else(|| ApiError::not_found(format!("tenant {name} not found")))?;
    Ok(axum::Json(Tenant::from(row)))
}
