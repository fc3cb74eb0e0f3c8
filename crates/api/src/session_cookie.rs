//! Portal cookie sessions (issue #15, SEC-8): the `__Host-warden_session` cookie that carries a login
//! session's token, and what a request authenticated by it must also prove. Such a request may read
//! (GET, HEAD); anything else needs `X-CSRF-Token` equal to the session's CSRF token. A cookie session
//! ends after [`crate::Settings::session_idle_secs`] without use (each use extends it; the last use is
//! written at most once a minute) and 12 hours after login at the latest. Cookies are ignored when the
//! request has an `Authorization` header.

use axum::http::{header, HeaderMap, HeaderValue, Method};

use crate::problem::{ApiError, ApiResult};
use crate::state::AppState;

/// The cookie's name: `__Host-` binds it to this host, path `/`, and HTTPS.
pub const NAME: &str = "__Host-warden_session";
/// The header carrying the CSRF token.
pub const CSRF_HEADER: &str = "x-csrf-token";

const ATTRIBUTES: &str = "Path=/; Secure; HttpOnly; SameSite=Strict";

/// The session token in the request's cookies, if any.
pub fn from_headers(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == NAME)
        .map(|(_, value)| value.trim().to_string())
}

/// `Set-Cookie` for a new session.
pub fn set(token: &str) -> ApiResult<HeaderValue> {
    HeaderValue::from_str(&format!("{NAME}={token}; {ATTRIBUTES}")).map_err(|_| ApiError::internal(&"session token"))
}

/// `Set-Cookie` that clears the session cookie.
pub fn clear() -> HeaderValue {
    HeaderValue::from_static("__Host-warden_session=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0")
}

/// Checks a request authenticated by the cookie session `token` (already verified as a live token):
/// it must be a cookie session, not idle for too long, and carry the CSRF token unless it only reads.
/// Records the use. Returns the session's CSRF token.
pub async fn check(
    state: &AppState,
    token: &str,
    token_id: &str,
    method: &Method,
    headers: &HeaderMap,
) -> ApiResult<String> {
    let refused = || ApiError::unauthorized("invalid, expired or revoked token");
    let cookie = state.store().cookie_state(token).await?.ok_or_else(refused)?;
    let now = store::now();
    let idle = state.0.settings.session_idle_secs;
    if now - cookie.last_used_at > idle {
        return Err(refused());
    }
    if !(method == Method::GET || method == Method::HEAD) {
        let presented = headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()).unwrap_or_default();
        if !cookie.csrf_matches(presented) {
            return Err(ApiError::forbidden("a cookie session needs X-CSRF-Token with the session's CSRF token"));
        }
    }
    state.store().touch_session(token_id, now, (idle / 4).min(60)).await?;
    Ok(cookie.csrf_token)
}
