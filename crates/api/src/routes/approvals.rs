//! Step-up and second approval over HTTP (SEC-8, SUB-4): `POST /me/step-up` proves a second factor
//! for the next five minutes; `/approvals` lists, asks for, approves and rejects requests to terminate
//! or unprotect a critical SIM. A change that needs approval asked through `PATCH /sims/{imsi}` or
//! `PUT /sims/{imsi}/protection` is answered 202 with the request ([`Requested`]).

use axum::extract::State;
use axum::http::StatusCode;
use cmp::approvals::Kind;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{imsi, next_cursor, IdempotencyKey, PageQuery};
use crate::auth::{Caller, Ctx};
use crate::extract::{Json, OptionalJson, Path, Query};
use crate::problem::{ApiError, ApiResult, Problems};
use crate::state::AppState;

/// A step-up: a second factor proved now.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StepUpRequest {
    /// `totp` (a 6-digit code) or `recovery` (an unused recovery code); the code's form decides.
    #[serde(default)]
    #[schema(pattern = "^(totp|recovery)$")]
    pub method: Option<String>,
    /// The code.
    #[schema(max_length = 64)]
    pub code: String,
}

/// The answer to a step-up.
#[derive(Debug, Serialize, ToSchema)]
pub struct SteppedUp {
    /// The factor proved.
    pub factor: String,
    /// Unix seconds until which sensitive tasks need no new step-up.
    pub fresh_until: i64,
}

/// Proves a second factor for this login session: sensitive tasks (terminating a SIM, lifting
/// protection, approving, big bulk jobs, issuing tokens, webhooks, MFA settings) are then allowed for
/// five minutes. A wrong or replayed code counts toward the account lockout.
#[utoipa::path(post, path = "/me/step-up", tag = "access", request_body = StepUpRequest,
    responses((status = 200, body = SteppedUp), Problems), security(("bearer" = [])))]
pub async fn step_up(
    State(st): State<AppState>,
    caller: Caller,
    Json(req): Json<StepUpRequest>,
) -> ApiResult<axum::Json<SteppedUp>> {
    if let Some(m) = req.method.as_deref().filter(|m| !matches!(*m, "totp" | "recovery")) {
        return Err(ApiError::unprocessable(format!(
            "method: {m:?} is not totp or recovery (passkeys: /me/step-up/webauthn)"
        )));
    }
    let user_id =
        caller.user_id.as_deref().ok_or_else(|| ApiError::forbidden("only a person's login session steps up"))?;
    // Per person, not per address: behind a proxy every client has the proxy's address, and one
    // attacker's login spray must not lock everyone out of stepping up.
    st.0.login_limiter
        .check(&format!("step-up:{user_id}"))
        .map_err(|wait| ApiError::too_many("too many step-up attempts for this person", wait))?;
    let cred = cmp::stepup::Credential { token_id: &caller.token_id, name: &caller.name };
    let up = cmp::stepup::with_code(st.store(), user_id, cred, &req.code, caller.source).await?;
    Ok(axum::Json(SteppedUp { factor: up.factor, fresh_until: up.fresh_until }))
}

/// A request waiting for (or decided by) a second person.
#[derive(Debug, Serialize, ToSchema)]
pub struct Approval {
    /// Id.
    pub id: String,
    /// `sim.terminate`, `sim.lift_protection` or `firmware.campaign` (a campaign's critical devices).
    pub action: String,
    /// `sim/<imsi>`, or `campaigns/<id>` for `firmware.campaign`.
    pub resource: String,
    /// The SIM (for `firmware.campaign`: the campaign id).
    pub imsi: String,
    /// The SIM's tenant.
    pub tenant: String,
    /// Why, in the requester's words.
    pub reason: String,
    /// Who asked (as the audit trail names them).
    pub requested_by: String,
    /// The second factor the requester proved.
    pub requested_factor: Option<String>,
    /// Unix seconds.
    pub requested_at: i64,
    /// Unix seconds after which it can no longer be decided.
    pub expires_at: i64,
    /// `pending`, `approved`, `rejected` or `expired`.
    pub status: String,
    /// Who decided.
    pub decided_by: Option<String>,
    /// The second factor the decider proved.
    pub decided_factor: Option<String>,
    /// Unix seconds of the decision.
    pub decided_at: Option<i64>,
    /// The decider's note.
    pub note: Option<String>,
}

impl From<store::approvals::Approval> for Approval {
    fn from(a: store::approvals::Approval) -> Self {
        Approval {
            resource: match a.action.as_str() {
                "firmware.campaign" => format!("campaigns/{}", a.imsi),
                _ => format!("sim/{}", a.imsi),
            },
            id: a.id,
            action: a.action,
            imsi: a.imsi,
            tenant: a.tenant,
            reason: a.reason,
            requested_by: a.requested_by,
            requested_factor: a.requested_factor,
            requested_at: a.requested_at,
            expires_at: a.expires_at,
            status: a.status,
            decided_by: a.decided_by,
            decided_factor: a.decided_factor,
            decided_at: a.decided_at,
            note: a.decision_note,
        }
    }
}

/// The answer when a change waits for a second person (status 202).
#[derive(Debug, Serialize, ToSchema)]
pub struct Requested {
    /// The request.
    pub approval: Approval,
}

/// Asks for a second person's approval of `kind` on `imsi` (the caller already stepped up): the 202
/// answer of a change that needs one.
pub(crate) async fn ask(
    st: &AppState,
    actor: &cmp::Actor,
    factor: Option<&str>,
    kind: Kind,
    imsi: &ids::Imsi,
    reason: &str,
) -> ApiResult<(StatusCode, axum::Json<Requested>)> {
    let a = cmp::approvals::request(st.store(), actor, kind, imsi, reason, factor).await?;
    st.events_changed();
    Ok((StatusCode::ACCEPTED, axum::Json(Requested { approval: a.into() })))
}

/// True when `e` is the refusal of a change that needs a second person.
pub(crate) fn needs_approval(e: &cmp::Error) -> bool {
    matches!(e, cmp::Error::Transition(cmp::TransitionError::NeedsApproval(_)))
}

/// A new request.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewApproval {
    /// `sim.terminate` or `sim.lift_protection`.
    #[schema(pattern = "^sim\\.(terminate|lift_protection)$")]
    pub action: String,
    /// The critical SIM.
    #[schema(pattern = "^[0-9]{6,15}$")]
    pub imsi: String,
    /// Why (shown to the approver; at most 500 characters).
    #[serde(default)]
    #[schema(max_length = 500)]
    pub reason: String,
}

/// Asks a second person to approve terminating a critical SIM or lifting its protection. Needs a
/// step-up.
#[utoipa::path(post, path = "/approvals", tag = "approvals", request_body = NewApproval, params(IdempotencyKey),
    responses((status = 202, body = Requested), Problems), security(("bearer" = [])))]
pub async fn create(
    Ctx { st, caller }: Ctx,
    Json(req): Json<NewApproval>,
) -> ApiResult<(StatusCode, axum::Json<Requested>)> {
    let kind: Kind = req.action.parse().map_err(|e: cmp::Error| ApiError::unprocessable(e.to_string()))?;
    let imsi = imsi(&req.imsi)?;
    let (actor, factor) = caller.fresh(&st, "asking for an approval").await?;
    ask(&st, &actor, factor.as_deref(), kind, &imsi, &req.reason).await
}

/// Filters of the list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ApprovalQuery {
    /// Only this status.
    #[param(pattern = "^(pending|approved|rejected|expired)$")]
    pub status: Option<String>,
    /// Cursor from the previous page.
    pub cursor: Option<String>,
    /// Items per page (1–1000, default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
}

/// A page of requests.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApprovalPage {
    /// Newest first.
    pub items: Vec<Approval>,
    /// Cursor of the next page.
    pub next_cursor: Option<String>,
}

fn cursor(text: Option<&str>) -> ApiResult<Option<(i64, String)>> {
    let Some(text) = text.filter(|c| !c.is_empty()) else { return Ok(None) };
    let bad = || ApiError::bad_request("malformed cursor");
    let (at, id) = text.split_once(':').ok_or_else(bad)?;
    if id.is_empty() || id.len() > 64 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad());
    }
    Ok(Some((at.parse().map_err(|_| bad())?, id.to_string())))
}

/// Lists the requests the caller can see (a tenant's own; the operator's all), newest first.
#[utoipa::path(get, path = "/approvals", tag = "approvals", params(ApprovalQuery),
    responses((status = 200, body = ApprovalPage), Problems), security(("bearer" = [])))]
pub async fn list(Ctx { st, caller }: Ctx, Query(q): Query<ApprovalQuery>) -> ApiResult<axum::Json<ApprovalPage>> {
    caller.require(cmp::Action::Read)?;
    if let Some(s) = q.status.as_deref().filter(|s| !matches!(*s, "pending" | "approved" | "rejected" | "expired")) {
        return Err(ApiError::bad_request(format!("status: unknown status {s:?}")));
    }
    let limit = PageQuery { cursor: None, limit: q.limit }.limit()?;
    let c = cursor(q.cursor.as_deref())?;
    let rows = st
        .store()
        .list_approvals(
            &caller.scope(),
            q.status.as_deref(),
            c.as_ref().map(|(a, i)| (*a, i.as_str())),
            limit,
            store::now(),
        )
        .await?;
    let next = next_cursor(&rows, limit, |a| format!("{}:{}", a.requested_at, a.id));
    Ok(axum::Json(ApprovalPage { items: rows.into_iter().map(Into::into).collect(), next_cursor: next }))
}

/// Reads one request.
#[utoipa::path(get, path = "/approvals/{id}", tag = "approvals", params(("id" = String, Path, description = "Request id")),
    responses((status = 200, body = Approval), Problems), security(("bearer" = [])))]
pub async fn get(Ctx { st, caller }: Ctx, Path(id): Path<String>) -> ApiResult<axum::Json<Approval>> {
    caller.require(cmp::Action::Read)?;
    let a = st.store().approval_in(&caller.scope(), &id, store::now()).await?;
    Ok(axum::Json(a.ok_or_else(|| ApiError::not_found(format!("approval {id} not found")))?.into()))
}

/// A decision (the body may be left out).
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct DecisionRequest {
    /// A note for the record (a rejection's reason).
    #[serde(default)]
    #[schema(max_length = 500)]
    pub note: String,
}

/// The answer to an approval: the request and the SIM as it is now.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApprovedChange {
    /// The request, approved.
    pub approval: Approval,
    /// The SIM after the change (absent for a firmware campaign's approval: its critical devices
    /// are released instead).
    pub sim: Option<super::sims::Sim>,
}

/// Approves a pending request and makes the change (a second person: not the requester; needs a
/// step-up).
#[utoipa::path(post, path = "/approvals/{id}/approve", tag = "approvals", request_body = Option<DecisionRequest>,
    params(("id" = String, Path, description = "Request id")),
    responses((status = 200, body = ApprovedChange), Problems), security(("bearer" = [])))]
pub async fn approve(
    Ctx { st, caller }: Ctx,
    Path(id): Path<String>,
    OptionalJson(req): OptionalJson<DecisionRequest>,
) -> ApiResult<axum::Json<ApprovedChange>> {
    let (actor, factor) = caller.fresh(&st, "approving a request").await?;
    let hss = st.0.hss.as_ref();
    let (a, changed) = cmp::approvals::approve(st.store(), hss, &actor, &id, &req.note, factor.as_deref()).await?;
    st.events_changed();
    let sim = match changed {
        Some(c) => Some(super::sims::view(&c.after, &st.store().list_ranges().await?)),
        None => None,
    };
    Ok(axum::Json(ApprovedChange { approval: a.into(), sim }))
}

/// Rejects a pending request (a second person; needs a step-up).
#[utoipa::path(post, path = "/approvals/{id}/reject", tag = "approvals", request_body = Option<DecisionRequest>,
    params(("id" = String, Path, description = "Request id")),
    responses((status = 200, body = Approval), Problems), security(("bearer" = [])))]
pub async fn reject(
    Ctx { st, caller }: Ctx,
    Path(id): Path<String>,
    OptionalJson(req): OptionalJson<DecisionRequest>,
) -> ApiResult<axum::Json<Approval>> {
    let (actor, factor) = caller.fresh(&st, "rejecting a request").await?;
    let a = cmp::approvals::reject(st.store(), &actor, &id, &req.note, factor.as_deref()).await?;
    st.events_changed();
    Ok(axum::Json(a.into()))
}
