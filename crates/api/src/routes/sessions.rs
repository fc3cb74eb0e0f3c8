//! A person's login sessions over HTTP (issue #15, SEC-8): how a login answers (a bearer session, or
//! with `"cookie": true` the portal's `__Host-` session cookie and a CSRF token in the body), signing
//! out (`POST /auth/logout`, the current session), the list of one's live sessions and signing out
//! everywhere (`/me/sessions`). Sign-outs clear the cookie.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use super::access::Session;
use crate::auth::{Caller, Ctx};
use crate::problem::{ApiError, ApiResult, Problems};
use crate::session_cookie;
use crate::state::AppState;

/// A portal login: the session is in the `__Host-warden_session` cookie (HttpOnly), never here.
#[derive(Debug, Serialize, ToSchema)]
pub struct CookieSession {
    /// Send as `X-CSRF-Token` on every request other than GET and HEAD (128 random bits, hex).
    pub csrf_token: String,
    /// Unix seconds of the absolute expiry (at most 12 hours after login); the session also ends
    /// after `session_idle_minutes` without use.
    pub expires_at: i64,
    /// Role.
    pub role: String,
    /// Tenant.
    pub tenant: Option<String>,
    /// The factor the login was completed with: `password`, `totp`, `recovery` or `webauthn`.
    pub factor: String,
}

/// What a completed login answers: a bearer session, or (asked with `"cookie": true`) a cookie session.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum LoginSession {
    /// A bearer session.
    Bearer(Session),
    /// A portal cookie session.
    Cookie(CookieSession),
}

/// The lifetime of a new login session: cookie sessions live at most 12 hours.
pub fn session_secs(st: &AppState, cookie: bool) -> i64 {
    let secs = st.0.settings.session_secs;
    if cookie {
        secs.min(cmp::sessions::COOKIE_ABSOLUTE_SECS)
    } else {
        secs
    }
}

/// The answer to a completed login: the bearer session, or the cookie and the CSRF token.
pub async fn answer(st: &AppState, s: cmp::access::Session, cookie: bool) -> ApiResult<Response> {
    let (set_cookie, body) = login_session(st, s, cookie).await?;
    Ok((set_cookie.map(|v| [(header::SET_COOKIE, v)]), axum::Json(body)).into_response())
}

/// A completed login as answered: the bearer session, or the cookie session and its `Set-Cookie`.
pub async fn login_session(
    st: &AppState,
    s: cmp::access::Session,
    cookie: bool,
) -> ApiResult<(Option<HeaderValue>, LoginSession)> {
    if !cookie {
        return Ok((None, LoginSession::Bearer(Session::from(s))));
    }
    let csrf_token = cmp::sessions::make_cookie(st.store(), &s).await?;
    let set = session_cookie::set(&s.token)?;
    let body = CookieSession { csrf_token, expires_at: s.expires_at, role: s.role, tenant: s.tenant, factor: s.factor };
    Ok((Some(set), LoginSession::Cookie(body)))
}

fn person(caller: &Caller) -> ApiResult<String> {
    match &caller.user_id {
        Some(id) if caller.name.starts_with(cmp::access::SESSION_PREFIX) => Ok(id.clone()),
        _ => Err(ApiError::forbidden("only a person's login session has sessions")),
    }
}

fn cleared(status: StatusCode) -> Response {
    (status, [(header::SET_COOKIE, session_cookie::clear())]).into_response()
}

/// Signs out of the current login session (cookie or bearer) and clears the session cookie.
#[utoipa::path(post, path = "/auth/logout", tag = "access",
    responses((status = 204, description = "Signed out; the cookie is cleared"), Problems), security(("bearer" = [])))]
pub async fn logout(Ctx { st, caller }: Ctx) -> ApiResult<Response> {
    let user_id = person(&caller)?;
    cmp::sessions::logout(st.store(), &caller.actor(), &user_id, &caller.token_id).await?;
    Ok(cleared(StatusCode::NO_CONTENT))
}

/// One of a person's live login sessions (never its secret).
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionInfo {
    /// Session id.
    pub id: String,
    /// Unix seconds of the login.
    pub created_at: i64,
    /// Unix seconds of the last recorded use (cookie sessions; written at most once a minute).
    pub last_used_at: Option<i64>,
    /// Unix seconds of the absolute expiry.
    pub expires_at: Option<i64>,
    /// The factor of the login: `password`, `totp`, `recovery` or `webauthn`.
    pub factor: Option<String>,
    /// The address the session is bound to (empty: any).
    pub source: String,
    /// `cookie` (the portal) or `bearer`.
    pub kind: String,
    /// The session of this request.
    pub current: bool,
}

/// A person's live sessions.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionList {
    /// Sessions, oldest first.
    pub items: Vec<SessionInfo>,
}

/// Lists one's live login sessions.
#[utoipa::path(get, path = "/me/sessions", tag = "access",
    responses((status = 200, body = SessionList), Problems), security(("bearer" = [])))]
pub async fn list(Ctx { st, caller }: Ctx) -> ApiResult<axum::Json<SessionList>> {
    let user_id = person(&caller)?;
    let now = store::now();
    let idle = st.0.settings.session_idle_secs;
    let rows = st.store().list_sessions(&user_id, now).await?;
    let items = rows
        .into_iter()
        .filter(|r| !(r.cookie && r.last_used_at.is_some_and(|t| now - t > idle)))
        .map(|r| SessionInfo {
            current: r.id == caller.token_id,
            id: r.id,
            created_at: r.created_at,
            last_used_at: r.last_used_at,
            expires_at: r.expires_at,
            factor: r.factor,
            source: r.source,
            kind: if r.cookie { "cookie" } else { "bearer" }.into(),
        })
        .collect();
    Ok(axum::Json(SessionList { items }))
}

/// Signs out everywhere: every login session of the caller's account, this one included.
#[utoipa::path(delete, path = "/me/sessions", tag = "access",
    responses((status = 204, description = "Every session revoked; the cookie is cleared"), Problems),
    security(("bearer" = [])))]
pub async fn sign_out_everywhere(Ctx { st, caller }: Ctx) -> ApiResult<Response> {
    let user_id = person(&caller)?;
    cmp::sessions::sign_out_everywhere(st.store(), &caller.actor(), &user_id).await?;
    Ok(cleared(StatusCode::NO_CONTENT))
}
