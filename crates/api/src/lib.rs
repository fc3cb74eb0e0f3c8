//! # api — Warden's connectivity-management REST API (issue #5)
//!
//! JSON under `/api/v1`, described by an OpenAPI 3.1 document generated from this code
//! (`/api/v1/openapi.json`, browsable at `/api/v1/docs`). Tenants manage their own SIMs, bulk jobs,
//! rules, webhooks, tokens and users; operator admins manage tenants, profiles, IMSI ranges and the
//! protection of critical SIMs. Every query is scoped to the caller's tenant in the store, every
//! mutating call is appended to the hash-chained audit trail, errors are RFC 9457 problem details.
//!
//! - [`router`] builds the application; [`serve`] runs it on a listener, with TLS when configured,
//!   under the connection limits and timeouts of [`server`].
//! - [`Settings`] is the `[http]` configuration section (its defaults live there).
//! - [`start_background`] hands the caller the platform's long-running work; everything stops on
//!   [`AppState::shutdown_token`] ([`lifecycle`]).
//! - [`hsts`]: `Strict-Transport-Security` on every response when served over HTTPS.
//! - [`auth`]: bearer tokens (and [`session_cookie`]: the portal's cookie sessions with CSRF proof), roles, per-token rate limits; [`idempotency`]: `Idempotency-Key`.
//! - [`portal`]: the web portal's shell at `/` (static, strict CSP).
//! - [`routes`]: the endpoints; [`engine`]: the rule engine; [`openapi`]: the document.

pub mod auth;
pub mod egress;
pub mod engine;
pub mod extract;
pub mod hsts;
pub mod idempotency;
pub mod lifecycle;
pub mod oidc;
pub mod openapi;
pub mod portal;
pub mod problem;
pub mod ratelimit;
pub mod routes;
pub mod server;
pub mod session_cookie;
pub mod state;
pub mod timing;
pub mod tls;

use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderValue};
use axum::response::IntoResponse;
use axum::routing::{get, post, put};
use axum::Router;
use utoipa::OpenApi;

pub use lifecycle::Task;
pub use problem::{ApiError, Problem};
pub use server::serve;
pub use state::{AppState, BreachedFileError, Settings};

use routes::{
    access, analytics, approvals, catalogue, events, fdl, firewall, jobs, mfa, passkey, policy, rules, sessions, sims,
    stats,
};

async fn not_found() -> ApiError {
    ApiError::not_found("no such endpoint; see /api/v1/openapi.json")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(axum::http::StatusCode::METHOD_NOT_ALLOWED, "method-not-allowed", "method not allowed on this path")
}

async fn openapi_json() -> impl IntoResponse {
    let doc = openapi::ApiDoc::openapi().to_json().unwrap_or_default();
    ([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], doc)
}

async fn docs() -> impl IntoResponse {
    axum::response::Html(openapi::DOCS_HTML)
}

/// The whole application: the API under `/api/v1`, the portal at `/`.
pub fn router(state: AppState) -> Router {
    let max_body = state.0.settings.max_body;
    let max_job_body = state.0.settings.max_job_body;
    let https = state.0.settings.https();
    let v1 = Router::new()
        .route("/openapi.json", get(openapi_json))
        .route("/docs", get(docs))
        .route("/sims", get(sims::list).post(sims::import))
        .route("/sims/{imsi}", get(sims::get).patch(sims::patch))
        .route("/sims/{imsi}/protection", put(sims::protection))
        .route("/sims/{imsi}/policy", get(policy::get).put(policy::put))
        .route("/sims/{imsi}/fdl", get(fdl::get).put(fdl::put))
        .route("/sims/{imsi}/quarantine", post(policy::quarantine).delete(policy::lift))
        .route("/sims/{imsi}/usage", get(policy::usage))
        .route("/dns/queries", get(policy::dns_queries))
        .route("/analytics/detections", get(analytics::list))
        .route("/analytics/detections/{id}", get(analytics::get))
        .route("/analytics/detections/{id}/acknowledge", post(analytics::acknowledge))
        .route("/analytics/detections/{id}/resolve", post(analytics::resolve))
        .route("/analytics/detections/{id}/undo", post(analytics::undo))
        .route("/analytics/policy", get(analytics::get_policy).put(analytics::put_policy))
        .route("/analytics/health", get(analytics::health))
        .route("/analytics/dashboard", get(analytics::dashboard))
        .route("/analytics/export.stix", get(analytics::export_stix))
        .route("/detections", get(analytics::detections))
        .route("/health-check", get(analytics::health_check))
        .route("/indicators", get(analytics::indicators))
        .route("/jobs", get(jobs::list).post(jobs::create).layer(DefaultBodyLimit::max(max_job_body)))
        .route("/jobs/{id}", get(jobs::get))
        .route("/jobs/{id}/cancel", post(jobs::cancel))
        .route("/jobs/{id}/items", get(jobs::items))
        .route("/events", get(events::list))
        .route("/events/stream", get(events::stream))
        .route("/webhooks", get(events::list_webhooks).post(events::create_webhook))
        .route("/webhooks/{id}", axum::routing::delete(events::delete_webhook))
        .route("/rules", get(rules::list).post(rules::create))
        .route("/rules/{id}", axum::routing::delete(rules::delete))
        .route("/profiles", get(catalogue::list_profiles))
        .route("/profiles/{name}", put(catalogue::put_profile))
        .route("/ranges", get(catalogue::list_ranges).post(catalogue::create_range))
        .route("/firewall", get(firewall::overview))
        .route(
            "/firmware",
            get(routes::firmware::list)
                .post(routes::firmware::upload)
                .layer(DefaultBodyLimit::max(routes::firmware::MAX_UPLOAD_BODY)),
        )
        .route("/firmware/keys", get(routes::firmware::list_keys).post(routes::firmware::add_key))
        .route("/firmware/keys/{fingerprint}", axum::routing::delete(routes::firmware::remove_key))
        .route("/firmware/{id}", get(routes::firmware::get))
        .route("/campaigns", get(routes::campaigns::list).post(routes::campaigns::create))
        .route("/campaigns/{id}", get(routes::campaigns::get))
        .route("/campaigns/{id}/pause", post(routes::campaigns::pause))
        .route("/campaigns/{id}/resume", post(routes::campaigns::resume))
        .route("/campaigns/{id}/cancel", post(routes::campaigns::cancel))
        .route("/certificates", get(routes::certificates::list))
        .route("/certificates/{serial}/revoke", post(routes::certificates::revoke))
        .route("/ota/jobs", post(routes::ota::create))
        .route("/ota/jobs/{id}", get(routes::ota::get))
        .route("/sims/{imsi}/ota", get(routes::ota::history))
        .route("/devices", get(routes::devices::list))
        .route("/devices/{endpoint}", get(routes::devices::get))
        .route("/devices/{endpoint}/read", post(routes::devices::read))
        .route("/devices/{endpoint}/write", post(routes::devices::write))
        .route("/devices/{endpoint}/execute", post(routes::devices::execute))
        .route("/devices/{endpoint}/refresh", post(routes::devices::refresh))
        .route("/sims/{imsi}/devices", get(routes::devices::of_sim))
        .route("/tenants", get(access::list_tenants).post(access::create_tenant))
        .route("/tenants/{name}", axum::routing::patch(mfa::patch_tenant))
        .route("/tokens", get(access::list_tokens).post(access::create_token))
        .route("/tokens/{id}", axum::routing::delete(access::revoke_token))
        .route("/users", get(access::list_users).post(access::create_user))
        .route("/users/{id}", axum::routing::delete(access::delete_user))
        .route("/users/{id}/password", put(access::reset_password))
        .route("/auth/login", post(access::login))
        .route("/auth/login/mfa", post(mfa::login_mfa))
        .route("/auth/oidc", get(routes::oidc::info))
        .route("/auth/oidc/start", get(routes::oidc::start))
        .route("/auth/oidc/callback", get(routes::oidc::callback))
        .route("/auth/logout", post(sessions::logout))
        .route("/me/sessions", get(sessions::list).delete(sessions::sign_out_everywhere))
        .route("/me/mfa/totp", post(mfa::start_totp).delete(mfa::remove_totp))
        .route("/me/mfa/totp/confirm", post(mfa::confirm_totp))
        .route("/auth/login/webauthn/start", post(passkey::login_start))
        .route("/auth/login/webauthn/finish", post(passkey::login_finish))
        .route("/me/mfa/webauthn", get(passkey::list))
        .route("/me/mfa/webauthn/start", post(passkey::register_start))
        .route("/me/mfa/webauthn/finish", post(passkey::register_finish))
        .route("/me/mfa/webauthn/{id}", axum::routing::patch(passkey::rename).delete(passkey::delete))
        .route("/auth/password", post(access::change_password))
        .route("/me", get(access::me))
        .route("/me/step-up", post(approvals::step_up))
        .route("/me/step-up/webauthn/start", post(passkey::step_up_start))
        .route("/me/step-up/webauthn/finish", post(passkey::step_up_finish))
        .route("/approvals", get(approvals::list).post(approvals::create))
        .route("/approvals/{id}", get(approvals::get))
        .route("/approvals/{id}/approve", post(approvals::approve))
        .route("/approvals/{id}/reject", post(approvals::reject))
        .route("/audit", get(access::audit_log))
        .route("/audit/verify", get(access::verify_audit))
        .route("/stats/sims", get(stats::sims))
        .route("/stats/events", get(stats::events))
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(state.clone(), idempotency::layer))
        .layer(axum::middleware::from_fn_with_state(state.clone(), lifecycle::end_streams_at_shutdown))
        .layer(DefaultBodyLimit::max(max_body))
        .layer(axum::middleware::from_fn_with_state(state.clone(), server::body_deadline))
        .layer(axum::middleware::from_fn(timing::layer));
    let app = Router::new().nest("/api/v1", v1).merge(portal::routes()).fallback(not_found);
    let app = if https { app.layer(axum::middleware::map_response(hsts::add)) } else { app };
    app.with_state(state)
}

/// Starts the background work of the platform and hands it to the caller to run: resumes
/// unfinished jobs (they run on the state's job runner), and returns the webhook delivery, the rule
/// engine, the purge of idempotency records and login sessions a day after they expire and of what the
/// tenants' analytics retention ends, and the wait
/// for the bulk jobs. Each returned task ends once [`AppState::shutdown_token`] is cancelled.
#[must_use = "the tasks do nothing until spawned"]
pub async fn start_background(state: &AppState, signalling: std::sync::Arc<dyn engine::SignallingSource>) -> Vec<Task> {
    match routes::jobs::resume_jobs(state).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(jobs = n, "resuming unfinished bulk jobs"),
        Err(e) => tracing::error!(error = %e, "could not resume bulk jobs"),
    }
    let stop = state.shutdown_token().clone();
    let from = state.store().last_registration_id().await.unwrap_or(0);
    let st = state.clone();
    let purge = async move {
        loop {
            if let Err(e) = st.store().expire_idempotency(idempotency::KEEP_SECS).await {
                tracing::warn!(error = %e, "expiring idempotency keys failed");
            }
            if let Err(e) = st.store().purge_expired_sessions(store::now() - 86_400).await {
                tracing::warn!(error = %e, "purging expired sessions failed");
            }
            if let Err(e) = st.store().purge_expired_tickets(store::now() - 86_400).await {
                tracing::warn!(error = %e, "purging expired login tickets failed");
            }
            if let Err(e) = st.store().purge_expired_ceremonies(store::now() - 86_400).await {
                tracing::warn!(error = %e, "purging expired passkey ceremonies failed");
            }
            match cmp::analytics::apply_retention(st.store(), store::now()).await {
                Ok(p) if p.detections + p.dns_queries > 0 => {
                    tracing::info!(
                        detections = p.detections,
                        dns_queries = p.dns_queries,
                        "analytics retention applied"
                    )
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "applying analytics retention failed"),
            }
            tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
        }
    };
    vec![
        Task::until("webhook delivery", stop.clone(), routes::events::deliver_forever(state.clone())),
        Task::until("rule engine", stop.clone(), engine::run_forever(state.clone(), signalling, from)),
        Task::until("idempotency and session purge", stop, purge),
        Task { name: "bulk jobs", future: Box::pin(state.0.jobs.clone().stopped()) },
    ]
}
