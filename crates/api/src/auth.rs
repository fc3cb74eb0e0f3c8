//! Authentication and authorisation of API calls: `Authorization: Bearer wdn_…` is verified against
//! the store (hash, expiry, revocation, source address), the caller gets a role and a tenant scope,
//! and each token is rate limited. Deny by default: a handler must ask [`Caller::require`] for the
//! action it performs, and every query takes [`Caller::scope`].

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use cmp::{Action, Role};
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
}

impl Caller {
    /// The data scope of every query this caller makes.
    pub fn scope(&self) -> Scope {
        match (&self.tenant, self.role.is_operator()) {
            (_, true) => Scope::Operator,
            (Some(t), false) => Scope::Tenant(t.clone()),
            // A tenant role without a tenant sees nothing: scope it to an impossible tenant name.
            (None, false) => Scope::Tenant("\u{0}".into()),
        }
    }

    /// Refuses with 403 unless the role allows `action`.
    pub fn require(&self, action: Action) -> ApiResult<()> {
        if self.role.allows(action) {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!("role {} may not {}", self.role, action_text(action))))
        }
    }

    /// Who, for the audit trail.
    pub fn actor(&self) -> String {
        format!("token:{}({})", self.name, self.token_id)
    }

    /// Source, for the audit trail.
    pub fn source_text(&self) -> String {
        self.source.map(|s| s.to_string()).unwrap_or_else(|| "unknown".into())
    }

    /// The tenant of a rule or webhook: the caller's own; operators name one or get `*` (every tenant).
    pub fn tenant_or_all(&self, requested: Option<&str>) -> ApiResult<String> {
        if self.role.is_operator() && requested.is_none() {
            return Ok("*".into());
        }
        self.target_tenant(requested)
    }

    /// The tenant a new resource of this caller belongs to: its own, or for operators the one named.
    pub fn target_tenant(&self, requested: Option<&str>) -> ApiResult<String> {
        match (&self.tenant, self.role.is_operator(), requested) {
            (_, true, Some(t)) => Ok(t.to_string()),
            (_, true, None) => Err(ApiError::unprocessable("operator admins must name the tenant")),
            (Some(own), false, Some(t)) if t != own => Err(ApiError::not_found(format!("tenant {t} not found"))),
            (Some(own), false, _) => Ok(own.clone()),
            (None, false, _) => Err(ApiError::forbidden("this token belongs to no tenant")),
        }
    }
}

fn action_text(a: Action) -> &'static str {
    match a {
        Action::Read => "read",
        Action::ManageSims => "change SIMs or run jobs",
        Action::ManageAccess => "manage users, tokens, webhooks or rules",
        Action::ReadAudit => "read the audit trail",
        Action::Operate => "do operator administration",
        Action::ProtectCritical => "change the protection of critical SIMs",
    }
}

/// The peer address, when the server knows it.
pub fn source_of(parts: &Parts) -> Option<IpAddr> {
    parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip())
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .ok_or_else(|| ApiError::unauthorized("missing Authorization: Bearer <token>"))?;
        let text = header.to_str().map_err(|_| ApiError::unauthorized("malformed Authorization header"))?;
        let token = text
            .strip_prefix("Bearer ")
            .or_else(|| text.strip_prefix("bearer "))
            .ok_or_else(|| ApiError::unauthorized("the Authorization scheme must be Bearer"))?
            .trim();
        let source = source_of(parts);
        let info = match state.store().verify_token(token, source, store::now()).await? {
            Ok(info) => info,
            // One answer for every failure: do not tell a guesser which part was wrong.
            Err(_) => return Err(ApiError::unauthorized("invalid, expired or revoked token")),
        };
        let role: Role = info.role.parse().map_err(|e: String| ApiError::internal(&e))?;
        if let Err(wait) = state.0.limiter.check(&info.id) {
            return Err(ApiError::too_many("rate limit of this token exceeded", wait));
        }
        Ok(Caller { token_id: info.id, name: info.name, role, tenant: info.tenant, source })
    }
}
