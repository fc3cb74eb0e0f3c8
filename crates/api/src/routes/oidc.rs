//! OpenID Connect login over HTTP (SEC-8): whether it is offered (`GET /auth/oidc`), the start
//! (`GET /auth/oidc/start`, a redirect to the provider) and the callback (`GET /auth/oidc/callback`,
//! a redirect back into the portal: to the dashboard with a cookie session, to the login page with a
//! second-factor ticket, or to the login page with a short error code and nothing more). The
//! browser never holds the PKCE verifier; state, nonce and verifier stay in the database, and the
//! state is also bound to the starting browser by a short-lived cookie (against login CSRF).

use axum::extract::{Query, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use cmp::access::LoginOutcome;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::source_of;
use crate::oidc::{self, FlowError, OidcSettings};
use crate::problem::{ApiError, ApiResult, Problems};
use crate::state::AppState;

/// Whether the portal offers a login with an identity provider.
#[derive(Debug, Serialize, ToSchema)]
pub struct OidcInfo {
    /// A provider is configured.
    pub enabled: bool,
    /// Its name, for the button ("Log in with <name>"); empty when disabled.
    pub name: String,
}

/// Whether an OpenID Connect login is offered, and the provider's name. Public.
#[utoipa::path(get, path = "/auth/oidc", tag = "access", responses((status = 200, body = OidcInfo)))]
pub async fn info(State(st): State<AppState>) -> axum::Json<OidcInfo> {
    let cfg = st.0.settings.oidc.as_ref();
    axum::Json(OidcInfo { enabled: cfg.is_some(), name: cfg.map(|c| c.name.clone()).unwrap_or_default() })
}

fn redirect(to: &str) -> Response {
    let mut r = axum::http::StatusCode::FOUND.into_response();
    let h = r.headers_mut();
    h.insert(header::LOCATION, HeaderValue::from_str(to).unwrap_or(HeaderValue::from_static("/#/login")));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    r
}

/// The cookie that binds a flow to the browser that started it (its value is the flow's state):
/// without it, someone could start a flow, log in at the provider as themselves, and have another
/// person's browser complete it (login CSRF). `SameSite=Lax`, as the provider's redirect back is a
/// cross-site navigation.
const FLOW_COOKIE: &str = "__Host-warden_oidc";

fn flow_cookie(state: &str) -> HeaderValue {
    HeaderValue::from_str(&format!("{FLOW_COOKIE}={state}; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=600"))
        .unwrap_or(HeaderValue::from_static("__Host-warden_oidc=; Path=/; Secure; HttpOnly; Max-Age=0"))
}

fn flow_cookie_of(parts: &Parts) -> Option<String> {
    parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == FLOW_COOKIE)
        .map(|(_, value)| value.trim().to_string())
}

fn to_login(code: &str) -> Response {
    let mut r = redirect(&format!("/#/login?error={code}"));
    r.headers_mut().append(
        header::SET_COOKIE,
        HeaderValue::from_static("__Host-warden_oidc=; Path=/; Secure; HttpOnly; Max-Age=0"),
    );
    r
}

fn settings(st: &AppState) -> ApiResult<&OidcSettings> {
    st.0.settings.oidc.as_ref().ok_or_else(|| ApiError::not_found("no OpenID Connect provider is configured"))
}

/// The redirect URI: configured, or this server's origin as the browser reached it.
fn redirect_uri(st: &AppState, cfg: &OidcSettings, parts: &Parts) -> String {
    if let Some(r) = &cfg.redirect_uri {
        return r.clone();
    }
    let scheme = if st.0.settings.https() { "https" } else { "http" };
    let host = parts.headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("localhost");
    format!("{scheme}://{host}/api/v1/auth/oidc/callback")
}

fn check_rate(st: &AppState, parts: &Parts) -> ApiResult<()> {
    let key = source_of(parts).map(|s| s.to_string()).unwrap_or_else(|| "unknown".into());
    st.0.login_limiter.check(&key).map_err(|wait| ApiError::too_many("too many login attempts from this address", wait))
}

/// Starts a login at the identity provider: a redirect (302) to its authorization endpoint with
/// state, nonce and a PKCE S256 challenge. Rate-limited per address like the password login.
#[utoipa::path(get, path = "/auth/oidc/start", tag = "access",
    responses((status = 302, description = "To the identity provider (or back to the portal's login page with `error=unavailable`)"), Problems))]
pub async fn start(State(st): State<AppState>, parts: Parts) -> ApiResult<Response> {
    let cfg = settings(&st)?;
    check_rate(&st, &parts)?;
    let meta = match oidc::discover(cfg).await {
        Ok(m) => m,
        Err(e) => return Ok(to_login(e.code())),
    };
    let started = cmp::oidc::start(st.store(), source_of(&parts)).await?;
    match oidc::authorization_url(cfg, &meta, &redirect_uri(&st, cfg, &parts), &started) {
        Ok(url) => {
            let mut r = redirect(url.as_str());
            r.headers_mut().insert(header::SET_COOKIE, flow_cookie(&started.state));
            Ok(r)
        }
        Err(e) => Ok(to_login(e.code())),
    }
}

/// What the provider sends back.
#[derive(Debug, Deserialize)]
pub struct Callback {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// The provider's answer: the code is exchanged (with the PKCE verifier), the ID token verified, and
/// the login completed — a redirect (302) to `/#/dashboard` with the session cookie, to
/// `/#/login?ticket=…&methods=…` when Warden's own second factor follows, or to `/#/login?error=<code>`.
#[utoipa::path(get, path = "/auth/oidc/callback", tag = "access",
    params(("code" = Option<String>, Query, description = "Authorization code"),
           ("state" = Option<String>, Query, description = "The state of the request"),
           ("error" = Option<String>, Query, description = "The provider's error code")),
    responses((status = 302, description = "Back into the portal"), Problems))]
pub async fn callback(State(st): State<AppState>, parts: Parts, Query(q): Query<Callback>) -> ApiResult<Response> {
    let cfg = settings(&st)?;
    check_rate(&st, &parts)?;
    let source = source_of(&parts);
    let tenant = cfg.tenant.as_deref();
    let fail = |code: &'static str| {
        let st = st.clone();
        async move {
            cmp::oidc::audit_failure(st.store(), tenant, source, code).await?;
            Ok::<_, ApiError>(to_login(code))
        }
    };
    // The state is taken (and so used up) first, whatever else the answer says.
    let pending = match &q.state {
        Some(s) => cmp::oidc::take(st.store(), s, source).await?,
        None => None,
    };
    if q.error.is_some() {
        return fail("idp").await;
    }
    let same_browser = q.state.is_some() && flow_cookie_of(&parts) == q.state;
    let (Some(pending), Some(code), true) = (pending, q.code.as_deref(), same_browser) else {
        return fail("state").await;
    };
    let (claims, username) = match oidc::redeem(cfg, code, &redirect_uri(&st, cfg, &parts), &pending).await {
        Ok(done) => done,
        Err(e) => {
            if let FlowError::IdToken(why) = e {
                tracing::warn!(reason = %why, "oidc ID token refused");
            }
            return fail(e.code()).await;
        }
    };
    if !cfg.acr_accepted(claims.acr.as_deref()) {
        return fail("acr").await;
    }
    let identity = cmp::oidc::Identity {
        second_factor: cfg.second_factor(&claims.amr, claims.acr.as_deref()),
        issuer: claims.issuer,
        subject: claims.subject,
        username,
        amr: claims.amr,
        acr: claims.acr,
    };
    let secs = super::sessions::session_secs(&st, true);
    match cmp::oidc::login(st.store(), &identity, tenant, source, secs).await? {
        cmp::oidc::Outcome::Refused(why) => Ok(to_login(why.code())),
        cmp::oidc::Outcome::Login(LoginOutcome::Session(s)) => {
            let (set_cookie, _) = super::sessions::login_session(&st, s, true).await?;
            let mut r = redirect("/#/dashboard");
            if let Some(c) = set_cookie {
                r.headers_mut().insert(header::SET_COOKIE, c);
            }
            r.headers_mut().append(
                header::SET_COOKIE,
                HeaderValue::from_static("__Host-warden_oidc=; Path=/; Secure; HttpOnly; Max-Age=0"),
            );
            Ok(r)
        }
        cmp::oidc::Outcome::Login(LoginOutcome::SecondFactor(c)) => {
            let methods = c.methods.join(",");
            Ok(redirect(&format!("/#/login?ticket={}&methods={methods}&expires_at={}", c.ticket, c.expires_at)))
        }
        cmp::oidc::Outcome::Login(LoginOutcome::Enrol(c)) => {
            Ok(redirect(&format!("/#/login?ticket={}&enrol=1&expires_at={}", c.ticket, c.expires_at)))
        }
    }
}
