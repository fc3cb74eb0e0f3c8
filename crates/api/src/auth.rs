//! Authentication and authorisation of API calls: `Authorization: Bearer wdn_…` (or, without that
//! header, the portal's session cookie under [`crate::session_cookie`]'s CSRF rule) is verified against
//! the store (hash, expiry, revocation, source address), the caller gets a role and a tenant scope,
//! and each token is rate limited. Deny by default: a handler must ask [`Caller::require`] for the
//! action it performs, every query takes [`Caller::scope`], and every change is made by
//! [`Caller::actor`] through `cmp`.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use cmp::{Action, Actor, Role};
use store::access::Scope;

use crate::problem::{ApiError, ApiResult};
use crate::state::AppState;

/// The authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller {
    /// Token id.
    pub token_id: String,
    /// Token name (sessions: `session:<username>`).
    pub name: String,
    /// Role.
    pub role: Role,
    /// Tenant (`None` for operator admins).
    pub tenant: Option<String>,
    /// Source address.
    pub source: Option<IpAddr>,
    /// The person the token derives from (a login session, or a token issued with one).
    pub user_id: Option<String>,
    /// Authenticated by the portal's session cookie: the session's CSRF token.
    pub csrf_token: Option<String>,
}

impl Caller {
    /// The caller as the author of changes: its role, tenant and source, named `token:<name>(<id>)`
    /// in the audit trail.
    pub fn actor(&self) -> Actor {
        Actor::Person {
            name: format!("token:{}({})", self.name, self.token_id),
            role: self.role,
            tenant: self.tenant.clone(),
            source: self.source.map(|s| s.to_string()).unwrap_or_else(|| "unknown".into()),
            user: self.user_id.clone(),
        }
    }

    /// The caller as the author of a sensitive change (`task`, named in the refusal): a person's login
    /// session must have proved a second factor within the last five minutes, and the audit trail
    /// then names the factor (`… step-up:totp`); API tokens pass as they are ([`cmp::stepup`]).
    /// Returns the actor and the factor.
    pub async fn fresh(&self, st: &AppState, task: &str) -> ApiResult<(Actor, Option<String>)> {
        let cred = cmp::stepup::Credential { token_id: &self.token_id, name: &self.name };
        let factor = cmp::stepup::require_fresh(st.store(), cred, task).await?;
        let actor = match &factor {
            Some(f) => self.actor().stepped_up(f),
            None => self.actor(),
        };
        Ok((actor, factor))
    }

    /// The data scope of every query this caller makes.
    pub fn scope(&self) -> Scope {
        self.actor().scope()
    }

    /// Refuses with 403 unless the role allows `action`.
    pub fn require(&self, action: Action) -> ApiResult<()> {
        Ok(self.actor().require(action)?)
    }
}

/// The peer address, when the server knows it.
pub fn source_of(parts: &Parts) -> Option<IpAddr> {
    parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip())
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let (token, cookie) = match parts.headers.get(axum::http::header::AUTHORIZATION) {
            Some(header) => (bearer(header)?, false),
            None => match crate::session_cookie::from_headers(&parts.headers) {
                Some(token) => (token, true),
                None => return Err(ApiError::unauthorized("missing Authorization: Bearer <token>")),
            },
        };
        let token = token.as_str();
        let source = source_of(parts);
        let info = match state.store().verify_token(token, source, store::now()).await? {
            Ok(info) => info,
            // One answer for every failure: do not tell a guesser which part was wrong.
            Err(_) => return Err(ApiError::unauthorized("invalid, expired or revoked token")),
        };
        let csrf_token = match cookie {
            true => Some(crate::session_cookie::check(state, token, &info.id, &parts.method, &parts.headers).await?),
            false => None,
        };
        let role: Role = info.role.parse().map_err(|e: String| ApiError::internal(&e))?;
        if let Err(wait) = state.0.limiter.check(&info.id) {
            return Err(ApiError::too_many("rate limit of this token exceeded", wait));
        }
        Ok(Caller {
            token_id: info.id,
            name: info.name,
            role,
            tenant: info.tenant,
            source,
            user_id: info.user_id,
            csrf_token,
        })
    }
}

/// The token of an `Authorization: Bearer <token>` header.
fn bearer(header: &axum::http::HeaderValue) -> ApiResult<String> {
    let text = header.to_str().map_err(|_| ApiError::unauthorized("malformed Authorization header"))?;
    let token = text
        .strip_prefix("Bearer ")
        .or_else(|| text.strip_prefix("bearer "))
        .ok_or_else(|| ApiError::unauthorized("the Authorization scheme must be Bearer"))?;
    Ok(token.trim().to_string())
}

/// What nearly every handler takes: the shared state and the authenticated caller, in one extractor.
pub struct Ctx {
    /// The state.
    pub st: AppState,
    /// The caller.
    pub caller: Caller,
}

impl FromRequestParts<AppState> for Ctx {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let caller = Caller::from_request_parts(parts, state).await?;
        Ok(Ctx { st: state.clone(), caller })
    }
}
