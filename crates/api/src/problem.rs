//! Errors as RFC 9457 problem details (`application/problem+json`): a stable `type` per kind of
//! problem, the HTTP status, a title and a precise detail. Internal failures are logged and answered
//! with a generic detail, never with internals.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

/// A problem details object (RFC 9457 §3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Problem {
    /// A URI reference identifying the problem type (`urn:warden:problem:<slug>`).
    #[serde(rename = "type")]
    pub kind: String,
    /// Short summary of the problem type.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong with this request.
    pub detail: String,
}

/// The answers of every operation that fails: a problem details object (RFC 9457) with the 4xx
/// status of the failure, `application/problem+json`.
#[derive(utoipa::IntoResponses)]
#[response(
    status = "4XX",
    description = "The request failed: a problem details object (RFC 9457)",
    content_type = "application/problem+json"
)]
#[allow(dead_code)]
pub struct Problems(Problem);

/// An error answer: the problem plus headers some statuses need.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// The body.
    pub problem: Problem,
    /// Seconds for `Retry-After` (429, 503).
    pub retry_after: Option<u64>,
}

impl ApiError {
    /// A problem of `status` with a slug and detail.
    pub fn new(status: StatusCode, slug: &str, detail: impl Into<String>) -> Self {
        ApiError {
            problem: Problem {
                kind: format!("urn:warden:problem:{slug}"),
                title: status.canonical_reason().unwrap_or("Error").to_string(),
                status: status.as_u16(),
                detail: detail.into(),
            },
            retry_after: None,
        }
    }

    /// 400: the request is malformed.
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad-request", detail)
    }

    /// 401: no or a bad credential.
    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", detail)
    }

    /// 403: the caller's role may not do this.
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", detail)
    }

    /// 403 `step-up-required`: the action needs a second factor proved within the last five minutes
    /// (`POST /me/step-up`, then retry).
    pub fn step_up_required(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "step-up-required", detail)
    }

    /// 404: nothing of that name is visible to the caller.
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not-found", detail)
    }

    /// 409: the state of the resource does not allow it.
    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", detail)
    }

    /// 422: well-formed but invalid content.
    pub fn unprocessable(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", detail)
    }

    /// 429 with `Retry-After`.
    pub fn too_many(detail: impl Into<String>, retry_after: u64) -> Self {
        let mut e = Self::new(StatusCode::TOO_MANY_REQUESTS, "rate-limited", detail);
        e.retry_after = Some(retry_after.max(1));
        e
    }

    /// 503 with `Retry-After`: the service is saturated, the request was not run.
    pub fn busy(detail: impl Into<String>, retry_after: u64) -> Self {
        let mut e = Self::new(StatusCode::SERVICE_UNAVAILABLE, "busy", detail);
        e.retry_after = Some(retry_after.max(1));
        e
    }

    /// 500; the cause is logged, not returned.
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error in API request");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error; see the server log")
    }
}

impl From<store::StoreError> for ApiError {
    fn from(e: store::StoreError) -> Self {
        match e {
            store::StoreError::NotFound(m) => ApiError::not_found(m),
            store::StoreError::Conflict(m) => ApiError::conflict(m),
            other => ApiError::internal(&other),
        }
    }
}

impl From<cmp::Error> for ApiError {
    fn from(e: cmp::Error) -> Self {
        use cmp::Error as E;
        match e {
            E::NotFound(m) => ApiError::not_found(m),
            E::Forbidden(m) => ApiError::forbidden(m),
            E::Transition(cmp::TransitionError::Forbidden(_)) => ApiError::forbidden(e.to_string()),
            E::Invalid(m) => ApiError::unprocessable(m),
            E::Transition(_) | E::Refused(_) | E::Conflict(_) => ApiError::conflict(e.to_string()),
            E::Unauthorized(m) => ApiError::unauthorized(m),
            E::StepUpRequired(m) => ApiError::step_up_required(m),
            E::TooMany { reason, retry_after } => ApiError::too_many(reason, retry_after),
            E::Busy(busy) => ApiError::busy(busy.to_string(), 1),
            E::Store(s) => s.into(),
            E::Internal(_) => ApiError::internal(&e),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&self.problem).unwrap_or_default();
        let mut r = (status, body).into_response();
        let h = r.headers_mut();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        if let Some(s) = self.retry_after {
            h.insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        if status == StatusCode::UNAUTHORIZED {
            h.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"warden\""));
        }
        r
    }
}

/// Shorthand for handler results.
pub type ApiResult<T> = Result<T, ApiError>;
