//! `Idempotency-Key` on POST: the first successful (2xx) answer to a key is kept for 24 hours and
//! returned again, with `Idempotent-Replayed: true`, when the same caller retries the same request;
//! the same key with a different request is refused with 422. Keys are scoped to the verified token,
//! so a key cannot be used to read another caller's answers. Two concurrent first uses of one key may
//! both run (the first stored answer wins): retry after an answer, not in parallel.

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use store::platform::IdempotentAnswer;

use crate::auth::source_of;
use crate::problem::ApiError;
use crate::state::AppState;

/// How long answers are kept.
pub const KEEP_SECS: i64 = 24 * 3600;

/// The middleware.
pub async fn layer(State(st): State<AppState>, req: Request, next: Next) -> Response {
    if req.method() != Method::POST {
        return next.run(req).await;
    }
    let Some(key) = req.headers().get("idempotency-key").cloned() else { return next.run(req).await };
    let key = match key.to_str() {
        Ok(k) if (1..=255).contains(&k.len()) && k.bytes().all(|b| (0x21..=0x7e).contains(&b)) => k.to_string(),
        _ => return ApiError::bad_request("Idempotency-Key must be 1–255 visible ASCII characters").into_response(),
    };
    let bearer = req
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_string);
    let Some(bearer) = bearer else { return next.run(req).await };
    let (parts, body) = req.into_parts();
    let token = match st.store().verify_token(bearer.trim(), source_of(&parts), store::now()).await {
        Ok(Ok(info)) => info,
        // Let the handler give the usual 401.
        _ => return next.run(Request::from_parts(parts, body)).await,
    };
    let bytes = match to_bytes(body, st.0.settings.max_job_body).await {
        Ok(b) => b,
        Err(_) => {
            return ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "too-large", "request body is larger than allowed")
                .into_response()
        }
    };
    let mut h = Sha256::new();
    h.update(parts.method.as_str().as_bytes());
    h.update([0]);
    h.update(parts.uri.path().as_bytes());
    h.update([0]);
    h.update(&bytes);
    let request_hash = hex::encode(h.finalize());
    let scope = format!("token:{}", token.id);
    match st.store().idempotent_answer(&scope, &key).await {
        Ok(Some(a)) if a.request_hash != request_hash => {
            return ApiError::unprocessable("Idempotency-Key was already used with a different request").into_response()
        }
        Ok(Some(a)) => {
            let status = StatusCode::from_u16(a.status).unwrap_or(StatusCode::OK);
            let mut r = (status, a.body).into_response();
            r.headers_mut().insert(axum::http::header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
            r.headers_mut().insert("idempotent-replayed", HeaderValue::from_static("true"));
            return r;
        }
        Ok(None) => {}
        Err(e) => return ApiError::internal(&e).into_response(),
    }
    let response = next.run(Request::from_parts(parts, Body::from(bytes))).await;
    if !response.status().is_success() {
        return response;
    }
    let (rparts, rbody) = response.into_parts();
    let Ok(out) = to_bytes(rbody, 16 << 20).await else {
        return ApiError::internal(&"answer too large to keep for Idempotency-Key").into_response();
    };
    let answer = IdempotentAnswer {
        request_hash,
        status: rparts.status.as_u16(),
        body: String::from_utf8_lossy(&out).into_owned(),
    };
    if let Err(e) = st.store().put_idempotent_answer(&scope, &key, &answer).await {
        tracing::warn!(error = %e, "idempotency record not stored");
    }
    Response::from_parts(rparts, Body::from(out))
}
