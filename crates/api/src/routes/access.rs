//! Who may use the platform: tenants (operator admins create them), API tokens (shown once, hashed,
//! expiring, source-limited, revocable), human users with passwords (NIST SP 800-63B, argon2id) and
//! their rate-limited login, `/me`, and the tenant-scoped audit trail.

use std::net::IpAddr;

use axum::extract::State;
use axum::http::StatusCode;
use cmp::{Action, Role};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::mfa::MfaChallenge;
use super::sessions::LoginSession;
use super::{next_cursor, IdPageQuery, IdempotencyKey, PageQuery};
use crate::auth::{source_of, Ctx};
use crate::extract::{Json, Path, Query};
use crate::problem::{ApiError, ApiResult, Problem, Problems};
use crate::state::AppState;

/// A tenant.
#[derive(Debug, Serialize, ToSchema)]
pub struct Tenant {
    /// Name.
    pub name: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Its people need a second factor at login (SEC-8).
    pub mfa_required: bool,
}

impl From<store::mfa::TenantRow> for Tenant {
    fn from(t: store::mfa::TenantRow) -> Self {
        Tenant { name: t.name, created_at: t.created_at, mfa_required: t.mfa_required }
    }
}

/// A page of tenants.
#[derive(Debug, Serialize, ToSchema)]
pub struct TenantPage {
    /// Tenants.
    pub items: Vec<Tenant>,
    /// Cursor of the next page.
    pub next_cursor: Option<String>,
}

/// A new tenant.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTenant {
    /// Letters, digits, `-` or `_`.
    #[schema(pattern = "^[A-Za-z0-9_-]{1,64}$")]
    pub name: String,
    /// Its people need a second factor at login (default: true).
    #[serde(default)]
    pub mfa_required: Option<bool>,
}

/// Lists tenants (operator admins).
#[utoipa::path(get, path = "/tenants", tag = "access", params(PageQuery),
    responses((status = 200, body = TenantPage), Problems), security(("bearer" = [])))]
pub async fn list_tenants(Ctx { st, caller }: Ctx, Query(q): Query<PageQuery>) -> ApiResult<axum::Json<TenantPage>> {
    caller.require(Action::Operate)?;
    let limit = q.limit()?;
    let t = st.store().tenant_rows(q.cursor(), limit).await?;
    let next = next_cursor(&t, limit, |t| t.name.clone());
    Ok(axum::Json(TenantPage { items: t.into_iter().map(Tenant::from).collect(), next_cursor: next }))
}

/// Creates a tenant (operator admins).
#[utoipa::path(post, path = "/tenants", tag = "access", request_body = NewTenant, params(IdempotencyKey),
    responses((status = 201, body = Tenant), Problems), security(("bearer" = [])))]
pub async fn create_tenant(
    Ctx { st, caller }: Ctx,
    Json(req): Json<NewTenant>,
) -> ApiResult<(StatusCode, axum::Json<Tenant>)> {
    let mfa_required = req.mfa_required.unwrap_or(true);
    cmp::access::create_tenant_with(st.store(), &caller.actor(), &req.name, mfa_required).await?;
    Ok((StatusCode::CREATED, axum::Json(Tenant { name: req.name, created_at: store::now(), mfa_required })))
}

/// A token (never its secret).
#[derive(Debug, Serialize, ToSchema)]
pub struct Token {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Role.
    pub role: String,
    /// Tenant (absent for operator admins).
    pub tenant: Option<String>,
    /// Unix seconds of expiry.
    pub expires_at: Option<i64>,
    /// Unix seconds of issue.
    pub created_at: i64,
    /// Unix seconds of revocation.
    pub revoked_at: Option<i64>,
    /// Source addresses allowed (empty: any).
    pub allowed_sources: Vec<String>,
}

/// A page of tokens.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenPage {
    /// Tokens.
    pub items: Vec<Token>,
    /// Cursor of the next page.
    pub next_cursor: Option<String>,
}

/// A token request.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTokenRequest {
    /// Name.
    #[schema(min_length = 1, max_length = 100, pattern = "[^ ]")]
    pub name: String,
    /// `tenant_admin`, `tenant_operator`, `tenant_viewer` (operator admins may also issue `operator_admin`).
    #[schema(pattern = "^(operator_admin|tenant_admin|tenant_operator|tenant_viewer)$")]
    pub role: String,
    /// Operator admins: the tenant (tenant admins: their own).
    pub tenant: Option<String>,
    /// Lifetime in days (1–3650; default: no expiry).
    #[schema(minimum = 1, maximum = 3650)]
    pub expires_days: Option<u32>,
    /// Source addresses allowed (default: any).
    #[serde(default)]
    pub allowed_sources: Vec<String>,
}

/// A new token: shown once.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedToken {
    /// The token as stored.
    pub token: Token,
    /// The bearer secret: `wdn_<id>_<secret>`; shown only now.
    pub secret: String,
}

fn parse_role(text: &str) -> ApiResult<Role> {
    text.parse::<Role>().map_err(|e| ApiError::unprocessable(format!("role: {e}")))
}

/// Lists tokens (tenant admins: their tenant's).
#[utoipa::path(get, path = "/tokens", tag = "access", params(PageQuery),
    responses((status = 200, body = TokenPage), Problems), security(("bearer" = [])))]
pub async fn list_tokens(Ctx { st, caller }: Ctx, Query(q): Query<PageQuery>) -> ApiResult<axum::Json<TokenPage>> {
    caller.require(Action::ManageAccess)?;
    let limit = q.limit()?;
    let tokens = st.store().list_tokens(&caller.scope(), q.cursor(), limit).await?;
    let next = next_cursor(&tokens, limit, |t| t.info.id.clone());
    Ok(axum::Json(TokenPage {
        items: tokens
            .into_iter()
            .map(|t| Token {
                id: t.info.id,
                name: t.info.name,
                role: t.info.role,
                tenant: t.info.tenant,
                expires_at: t.info.expires_at,
                created_at: t.created_at,
                revoked_at: t.revoked_at,
                allowed_sources: t.allowed_sources,
            })
            .collect(),
        next_cursor: next,
    }))
}

/// Issues a token; its secret is in this answer only. Needs a step-up from a person's session.
#[utoipa::path(post, path = "/tokens", tag = "access", request_body = NewTokenRequest, params(IdempotencyKey),
    responses((status = 201, body = CreatedToken), Problems), security(("bearer" = [])))]
pub async fn create_token(
    Ctx { st, caller }: Ctx,
    Json(req): Json<NewTokenRequest>,
) -> ApiResult<(StatusCode, axum::Json<CreatedToken>)> {
    let role = parse_role(&req.role)?;
    let allowed_sources = req
        .allowed_sources
        .iter()
        .map(|s| {
            s.parse::<IpAddr>()
                .map_err(|_| ApiError::unprocessable(format!("allowed_sources: {s:?} is not an IP address")))
        })
        .collect::<ApiResult<Vec<_>>>()?;
    let request = cmp::access::TokenRequest {
        name: req.name.clone(),
        role,
        tenant: req.tenant.clone(),
        expires_days: req.expires_days,
        allowed_sources: allowed_sources.clone(),
    };
    let (actor, _) = caller.fresh(&st, "issuing a token").await?;
    let (info, secret) = cmp::access::issue_token(st.store(), &actor, &request).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(CreatedToken {
            token: Token {
                id: info.id,
                name: info.name,
                role: info.role,
                tenant: info.tenant,
                expires_at: info.expires_at,
                created_at: store::now(),
                revoked_at: None,
                allowed_sources: allowed_sources.iter().map(ToString::to_string).collect(),
            },
            secret,
        }),
    ))
}

/// Revokes a token.
#[utoipa::path(delete, path = "/tokens/{id}", tag = "access", params(("id" = String, Path, description = "Token id")),
    responses((status = 204, description = "Revoked"), Problems), security(("bearer" = [])))]
pub async fn revoke_token(Ctx { st, caller }: Ctx, Path(id): Path<String>) -> ApiResult<StatusCode> {
    cmp::access::revoke_token(st.store(), &caller.actor(), &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A user (never the password hash).
#[derive(Debug, Serialize, ToSchema)]
pub struct User {
    /// Id.
    pub id: String,
    /// Login name.
    pub username: String,
    /// Role.
    pub role: String,
    /// Tenant.
    pub tenant: Option<String>,
    /// Unix seconds.
    pub created_at: i64,
}

fn user_view(u: store::users::User) -> User {
    User { id: u.id, username: u.username, role: u.role, tenant: u.tenant, created_at: u.created_at }
}

/// A page of users.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserPage {
    /// Users.
    pub items: Vec<User>,
    /// Cursor of the next page.
    pub next_cursor: Option<String>,
}

/// A new user.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    /// Login name (3–64 letters, digits, `.`, `-`, `_`, `@`).
    #[schema(pattern = "^[A-Za-z0-9._@-]{3,64}$")]
    pub username: String,
    /// At least 15 characters (NIST SP 800-63B, single factor); checked against common and breached passwords.
    #[schema(min_length = 15, max_length = 256)]
    pub password: String,
    /// Role.
    #[schema(pattern = "^(operator_admin|tenant_admin|tenant_operator|tenant_viewer)$")]
    pub role: String,
    /// Operator admins: the tenant.
    pub tenant: Option<String>,
}

/// Lists users.
#[utoipa::path(get, path = "/users", tag = "access", params(PageQuery),
    responses((status = 200, body = UserPage), Problems), security(("bearer" = [])))]
pub async fn list_users(Ctx { st, caller }: Ctx, Query(q): Query<PageQuery>) -> ApiResult<axum::Json<UserPage>> {
    caller.require(Action::ManageAccess)?;
    let limit = q.limit()?;
    let users = st.store().list_users(&caller.scope(), q.cursor(), limit).await?;
    let next = next_cursor(&users, limit, |u| u.id.clone());
    Ok(axum::Json(UserPage { items: users.into_iter().map(user_view).collect(), next_cursor: next }))
}

/// Creates a user.
#[utoipa::path(post, path = "/users", tag = "access", request_body = NewUser, params(IdempotencyKey),
    responses((status = 201, body = User), Problems), security(("bearer" = [])))]
pub async fn create_user(
    Ctx { st, caller }: Ctx,
    Json(req): Json<NewUser>,
) -> ApiResult<(StatusCode, axum::Json<User>)> {
    let role = parse_role(&req.role)?;
    let new =
        cmp::access::NewUser { username: &req.username, password: &req.password, role, tenant: req.tenant.as_deref() };
    let (actor, _) = caller.fresh(&st, "creating a user").await?;
    let user = cmp::access::create_user(st.store(), &st.0.passwords, &actor, &new).await?;
    Ok((StatusCode::CREATED, axum::Json(user_view(user))))
}

/// Deletes a user.
#[utoipa::path(delete, path = "/users/{id}", tag = "access", params(("id" = String, Path, description = "User id")),
    responses((status = 204, description = "Deleted"), Problems), security(("bearer" = [])))]
pub async fn delete_user(Ctx { st, caller }: Ctx, Path(id): Path<String>) -> ApiResult<StatusCode> {
    let (actor, _) = caller.fresh(&st, "deleting a user").await?;
    cmp::access::delete_user(st.store(), &actor, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Login credentials.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Login {
    /// The user's tenant. Usernames are unique within a tenant: a tenant's people give it; the
    /// operator's staff leave it out. Without it, the name must be an operator account's or used in
    /// one tenant only.
    #[serde(default)]
    pub tenant: Option<String>,
    /// Login name.
    pub username: String,
    /// Password.
    pub password: String,
    /// Open a portal cookie session (`__Host-warden_session`, with a CSRF token in the answer)
    /// instead of a bearer session.
    #[serde(default)]
    pub cookie: bool,
}

/// A session: a short-lived token bound to the login's source address.
#[derive(Debug, Serialize, ToSchema)]
pub struct Session {
    /// Bearer token.
    pub token: String,
    /// Unix seconds of expiry.
    pub expires_at: i64,
    /// Role.
    pub role: String,
    /// Tenant.
    pub tenant: Option<String>,
    /// The factor the login was completed with: `password`, `totp`, `recovery` or `webauthn`.
    pub factor: String,
}

impl From<cmp::access::Session> for Session {
    fn from(s: cmp::access::Session) -> Self {
        Session { token: s.token, expires_at: s.expires_at, role: s.role, tenant: s.tenant, factor: s.factor }
    }
}

/// Logs a person in; attempts are limited per source address and per account. When no second factor
/// applies, 200 with the session. When one does (the tenant requires MFA — the default, and always
/// for the operator's staff — or the person has one), 202 with a ticket for `POST /auth/login/mfa`,
/// or, for a person who must use MFA and has none yet, an enrolment ticket.
#[utoipa::path(post, path = "/auth/login", tag = "access", request_body = Login,
    responses((status = 200, body = LoginSession),
        (status = 202, description = "Password accepted; a second factor (or its enrolment) follows", body = MfaChallenge),
        Problems,
        (status = 503, description = "Password checks are saturated; retry after Retry-After", body = Problem,
         content_type = "application/problem+json")))]
pub async fn login(
    State(st): State<AppState>,
    parts: axum::http::request::Parts,
    Json(req): Json<Login>,
) -> ApiResult<axum::response::Response> {
    use axum::response::IntoResponse;
    let source = source_of(&parts);
    let key = source.map(|s| s.to_string()).unwrap_or_else(|| "unknown".into());
    if let Err(wait) = st.0.login_limiter.check(&key) {
        return Err(ApiError::too_many("too many login attempts from this address", wait));
    }
    let session_secs = super::sessions::session_secs(&st, req.cookie);
    let account = cmp::access::Account { tenant: req.tenant.as_deref(), username: &req.username };
    let outcome = cmp::access::login(st.store(), &st.0.passwords, account, &req.password, source, session_secs).await?;
    Ok(match outcome {
        cmp::access::LoginOutcome::Session(s) => super::sessions::answer(&st, s, req.cookie).await?,
        cmp::access::LoginOutcome::SecondFactor(c) => {
            (StatusCode::ACCEPTED, axum::Json(MfaChallenge::from_cmp(c, false))).into_response()
        }
        cmp::access::LoginOutcome::Enrol(c) => {
            (StatusCode::ACCEPTED, axum::Json(MfaChallenge::from_cmp(c, true))).into_response()
        }
    })
}

/// A password change.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    /// The user's tenant (as for login).
    #[serde(default)]
    pub tenant: Option<String>,
    /// Login name.
    pub username: String,
    /// The current password.
    pub current_password: String,
    /// The new password (same rules as on creation).
    pub new_password: String,
}

/// Changes a person's own password (needs the current one; rate-limited like login).
#[utoipa::path(post, path = "/auth/password", tag = "access", request_body = PasswordChange,
    responses((status = 204, description = "Changed"), Problems,
        (status = 503, description = "Password checks are saturated; retry after Retry-After", body = Problem,
         content_type = "application/problem+json")))]
pub async fn change_password(
    State(st): State<AppState>,
    parts: axum::http::request::Parts,
    Json(req): Json<PasswordChange>,
) -> ApiResult<StatusCode> {
    let source = source_of(&parts);
    let key = source.map(|s| s.to_string()).unwrap_or_else(|| "unknown".into());
    if let Err(wait) = st.0.login_limiter.check(&key) {
        return Err(ApiError::too_many("too many attempts from this address", wait));
    }
    let account = cmp::access::Account { tenant: req.tenant.as_deref(), username: &req.username };
    cmp::access::change_password(
        st.store(),
        &st.0.passwords,
        account,
        &req.current_password,
        &req.new_password,
        source,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A password reset by an administrator.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordReset {
    /// The new password (same rules as on creation); tell it to the person out of band.
    #[schema(min_length = 15, max_length = 256)]
    pub new_password: String,
}

/// Resets a user's password (tenant admins for their tenant's users); the user's sessions are revoked.
#[utoipa::path(put, path = "/users/{id}/password", tag = "access",
    params(("id" = String, Path, description = "User id")), request_body = PasswordReset,
    responses((status = 204, description = "Reset"), Problems), security(("bearer" = [])))]
pub async fn reset_password(
    Ctx { st, caller }: Ctx,
    Path(id): Path<String>,
    Json(req): Json<PasswordReset>,
) -> ApiResult<StatusCode> {
    let (actor, _) = caller.fresh(&st, "resetting a password").await?;
    cmp::access::reset_password(st.store(), &st.0.passwords, &actor, &id, &req.new_password).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The caller.
#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    /// Token id.
    pub token_id: String,
    /// Token name.
    pub name: String,
    /// Role.
    pub role: String,
    /// Tenant.
    pub tenant: Option<String>,
    /// With the portal's session cookie: the session's CSRF token (so a reloaded page gets it back).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub csrf_token: Option<String>,
}

/// Who am I.
#[utoipa::path(get, path = "/me", tag = "access", responses((status = 200, body = Me), Problems),
    security(("bearer" = [])))]
pub async fn me(Ctx { caller, .. }: Ctx) -> ApiResult<axum::Json<Me>> {
    Ok(axum::Json(Me {
        token_id: caller.token_id,
        name: caller.name,
        role: caller.role.to_string(),
        tenant: caller.tenant,
        csrf_token: caller.csrf_token,
    }))
}

/// An audit record.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditRecord {
    /// Sequence number.
    pub id: i64,
    /// Unix seconds.
    pub at: i64,
    /// Who.
    pub actor: String,
    /// Role.
    pub role: String,
    /// Tenant (`*`: operator-wide).
    pub tenant: String,
    /// Source address.
    pub source: String,
    /// Action.
    pub action: String,
    /// Resource.
    pub resource: String,
    /// State before.
    pub before: String,
    /// State after.
    pub after: String,
    /// Hash of the previous record.
    pub prev_hash: String,
    /// Hash of this record (SHA-256 chain).
    pub hash: String,
}

/// A page of audit records.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    /// Records, oldest first.
    pub items: Vec<AuditRecord>,
    /// Cursor of the next page.
    pub next_cursor: Option<String>,
}

/// Reads the audit trail (tenant admins: their tenant's records).
#[utoipa::path(get, path = "/audit", tag = "access", params(IdPageQuery),
    responses((status = 200, body = AuditPage), Problems), security(("bearer" = [])))]
pub async fn audit_log(Ctx { st, caller }: Ctx, Query(q): Query<PageQuery>) -> ApiResult<axum::Json<AuditPage>> {
    caller.require(Action::ReadAudit)?;
    let limit = q.limit()?;
    let rows = st.store().list_audit(&caller.scope(), q.numeric_cursor()?, limit).await?;
    let next = next_cursor(&rows, limit, |r| r.id.to_string());
    let scope = caller.scope();
    Ok(axum::Json(AuditPage {
        items: rows
            .into_iter()
            .map(|r| {
                let entry = cmp::access::audit_view(&scope, r.entry);
                AuditRecord {
                    id: r.id,
                    at: r.at,
                    actor: entry.actor,
                    role: entry.role,
                    tenant: entry.tenant,
                    source: entry.source,
                    action: entry.action,
                    resource: entry.resource,
                    before: entry.before,
                    after: entry.after,
                    prev_hash: r.prev_hash,
                    hash: r.hash,
                }
            })
            .collect(),
        next_cursor: next,
    }))
}

/// The result of walking the audit trail's hash chain.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditVerification {
    /// True when every record's hash matches its fields and its predecessor's hash.
    pub intact: bool,
    /// Records checked (when intact).
    pub records: Option<u64>,
    /// First record that does not verify (when broken).
    pub broken_at: Option<i64>,
    /// What is wrong with it (when broken).
    pub reason: Option<String>,
}

/// Verifies the whole audit trail's hash chain (operator admins: the chain links every tenant's
/// records, so only the operator checks it). Removing records at the end is not visible in the chain:
/// compare the count with a copy kept elsewhere (`warden audit-log verify`).
#[utoipa::path(get, path = "/audit/verify", tag = "access",
    responses((status = 200, body = AuditVerification), Problems), security(("bearer" = [])))]
pub async fn verify_audit(Ctx { st, caller }: Ctx) -> ApiResult<axum::Json<AuditVerification>> {
    caller.require(Action::Operate)?;
    Ok(axum::Json(match st.store().verify_audit().await? {
        Ok(n) => AuditVerification { intact: true, records: Some(n), broken_at: None, reason: None },
        Err(b) => AuditVerification { intact: false, records: None, broken_at: Some(b.id), reason: Some(b.reason) },
    }))
}
