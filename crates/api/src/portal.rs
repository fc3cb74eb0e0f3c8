//! The web portal's shell (issue #15): the page at `/` and its script and style sheet under
//! `/portal/`, built into the binary (no external asset, no CDN: the machine may be offline). Every
//! answer carries a strict Content-Security-Policy (no inline script or style, nothing from elsewhere),
//! `nosniff`, no referrer and a same-origin opener policy. The page talks to `/api/v1` with the
//! portal's cookie session and its CSRF token ([`crate::session_cookie`]).

use axum::http::{header, HeaderName, HeaderValue};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

use crate::state::AppState;

/// The policy of every portal answer.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                       connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

const INDEX: &str = include_str!("../portal/index.html");
const APP_JS: &str = include_str!("../portal/app.js");
const PASSKEY_JS: &str = include_str!("../portal/passkey.js");
const APP_CSS: &str = include_str!("../portal/app.css");

fn asset(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    let headers: [(HeaderName, HeaderValue); 6] = [
        (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
        (header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP)),
        (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
        (header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")),
        (HeaderName::from_static("cross-origin-opener-policy"), HeaderValue::from_static("same-origin")),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
    ];
    (headers, body)
}

async fn index() -> impl IntoResponse {
    asset("text/html; charset=utf-8", INDEX)
}

async fn app_js() -> impl IntoResponse {
    asset("text/javascript; charset=utf-8", APP_JS)
}

async fn passkey_js() -> impl IntoResponse {
    asset("text/javascript; charset=utf-8", PASSKEY_JS)
}

async fn app_css() -> impl IntoResponse {
    asset("text/css; charset=utf-8", APP_CSS)
}

/// The portal's routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(index))
        .route("/portal/app.js", get(app_js))
        .route("/portal/passkey.js", get(passkey_js))
        .route("/portal/app.css", get(app_css))
}
