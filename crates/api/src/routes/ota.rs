//! `/ota/jobs` and `/sims/{imsi}/ota`: SIM over-the-air jobs (update a file on SIMs, steering of
//! roaming) with their progress, and a SIM's OTA history with PoR results (SUB-6, ROAM-5). Creating
//! a job needs the same step-up as other sensitive tasks and is audited; tenants see and target only
//! their own SIMs (another tenant's SIM is answered like one that does not exist); steering is the
//! operator's. Answers 503 when this process runs no OTA engine (`[ota]` not configured).

use axum::http::StatusCode;
use cmp::Action;
use serde::{Deserialize, Serialize};
use store::ota::{OtaCommandRow, OtaJobRow};
use utoipa::ToSchema;

use crate::auth::Ctx;
use crate::extract::{Json, Path};
use crate::problem::{ApiError, ApiResult, Problems};
use crate::state::AppState;

/// An OTA job request: `kind` `update_file` (with `imsis`, `path`, `offset`, `data`) or `steering`
/// (with `mark`, `clear`, `for_secs`).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OtaJobRequest {
    /// `update_file` or `steering`.
    pub kind: String,
    /// update_file: the SIMs (1 to 100,000).
    #[serde(default)]
    pub imsis: Option<Vec<String>>,
    /// update_file: the file's path from the MF, FIDs in hex joined by `/` (`3F00/7FFF/6F61`).
    #[serde(default)]
    pub path: Option<String>,
    /// update_file: offset in the file.
    #[serde(default)]
    pub offset: Option<u16>,
    /// update_file: the bytes, hex.
    #[serde(default)]
    pub data: Option<String>,
    /// steering: networks to mark risky (`"26201"`).
    #[serde(default)]
    pub mark: Option<Vec<String>>,
    /// steering: manual marks to clear.
    #[serde(default)]
    pub clear: Option<Vec<String>>,
    /// steering: how long the marks last, seconds (absent: until cleared).
    #[serde(default)]
    pub for_secs: Option<u64>,
}

/// An OTA job and its progress.
#[derive(Debug, Serialize, ToSchema)]
pub struct OtaJob {
    /// Id.
    pub id: String,
    /// Tenant (`*`: operator-wide).
    pub tenant: String,
    /// `update_file` or `steering`.
    pub kind: String,
    /// `queued`, `running`, `succeeded` or `completed_with_errors`.
    pub state: String,
    /// SIMs in the job.
    pub total: i64,
    /// SIMs whose PoR confirmed the change.
    pub done: i64,
    /// SIMs given up (see their history).
    pub failed: i64,
    /// SIMs still in progress.
    pub pending: i64,
    /// Who created it.
    pub created_by: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub updated_at: i64,
}

/// What a steering request changed: the job, when any SIM's list changes.
#[derive(Debug, Serialize, ToSchema)]
pub struct OtaJobCreated {
    /// The job; absent when no SIM needed a change.
    pub job: Option<OtaJob>,
}

fn view(j: &OtaJobRow) -> OtaJob {
    OtaJob {
        id: j.id.clone(),
        tenant: j.tenant.clone(),
        kind: j.kind.clone(),
        state: j.state.clone(),
        total: j.total,
        done: j.done,
        failed: j.failed,
        pending: j.pending(),
        created_by: j.created_by.clone(),
        created_at: j.created_at,
        updated_at: j.updated_at,
    }
}

fn engine(st: &AppState) -> ApiResult<&otajobs::Engine> {
    st.0.ota.get().ok_or_else(|| ApiError::busy("this instance runs no OTA engine ([ota] is not configured)", 60))
}

fn request(r: OtaJobRequest) -> ApiResult<otajobs::JobRequest> {
    let missing = |f: &str| ApiError::unprocessable(format!("{f}: required for kind {}", r.kind));
    match r.kind.as_str() {
        "update_file" => {
            if r.mark.is_some() || r.clear.is_some() || r.for_secs.is_some() {
                return Err(ApiError::unprocessable("mark/clear/for_secs: only for kind steering"));
            }
            Ok(otajobs::JobRequest::UpdateFile {
                imsis: r.imsis.clone().ok_or_else(|| missing("imsis"))?,
                path: r.path.clone().ok_or_else(|| missing("path"))?,
                offset: r.offset.unwrap_or(0),
                data: r.data.clone().ok_or_else(|| missing("data"))?,
            })
        }
        "steering" => {
            if r.imsis.is_some() || r.path.is_some() || r.offset.is_some() || r.data.is_some() {
                return Err(ApiError::unprocessable("imsis/path/offset/data: only for kind update_file"));
            }
            Ok(otajobs::JobRequest::Steering {
                mark: r.mark.unwrap_or_default(),
                clear: r.clear.unwrap_or_default(),
                for_secs: r.for_secs,
            })
        }
        other => Err(ApiError::unprocessable(format!("kind: {other:?} is neither update_file nor steering"))),
    }
}

/// Creates an OTA job (202), or for steering that changes nothing, answers 200 without one.
#[utoipa::path(post, path = "/ota/jobs", tag = "ota", request_body = OtaJobRequest,
    responses((status = 202, body = OtaJobCreated), (status = 200, body = OtaJobCreated), Problems),
    security(("bearer" = [])))]
pub async fn create(
    Ctx { st, caller }: Ctx,
    Json(req): Json<OtaJobRequest>,
) -> ApiResult<(StatusCode, axum::Json<OtaJobCreated>)> {
    caller.require(Action::ManageSims)?;
    let request = request(req)?;
    let engine = engine(&st)?;
    let (actor, _) = caller.fresh(&st, "an OTA job").await?;
    let scope = caller.scope();
    let job = engine.submit(&scope, &caller.name, &request).await.map_err(|e| match e {
        otajobs::RequestError::Invalid(m) => ApiError::unprocessable(m),
        otajobs::RequestError::UnknownSim(i) => ApiError::not_found(format!("SIM {i} not found or without OTA keys")),
        otajobs::RequestError::Forbidden => ApiError::forbidden(e.to_string()),
        otajobs::RequestError::Engine(e) => ApiError::internal(&e),
    })?;
    let summary = serde_json::json!({"job": job.as_ref().map(|j| &j.id), "kind": job.as_ref().map(|j| &j.kind)});
    let entry = actor.audit_entry(scope.key(), "ota.job.create", "ota/jobs", (), &summary);
    st.store().append_audit(&entry).await?;
    let status = if job.is_some() { StatusCode::ACCEPTED } else { StatusCode::OK };
    Ok((status, axum::Json(OtaJobCreated { job: job.as_ref().map(view) })))
}

/// Reads an OTA job's progress.
#[utoipa::path(get, path = "/ota/jobs/{id}", tag = "ota", params(("id" = String, Path, description = "OTA job id")),
    responses((status = 200, body = OtaJob), Problems), security(("bearer" = [])))]
pub async fn get(Ctx { st, caller }: Ctx, Path(id): Path<String>) -> ApiResult<axum::Json<OtaJob>> {
    caller.require(Action::Read)?;
    let job = st
        .store()
        .ota_job(&caller.scope(), &id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("OTA job {id} not found")))?;
    Ok(axum::Json(view(&job)))
}

/// One OTA command sent to a SIM and what became of it.
#[derive(Debug, Serialize, ToSchema)]
pub struct OtaCommand {
    /// Command id.
    pub id: String,
    /// Its job.
    pub job_id: Option<String>,
    /// Key-set number.
    pub keyset: i64,
    /// TAR, hex.
    pub tar: String,
    /// Replay counter of the last attempt.
    pub cntr: Option<i64>,
    /// What was sent (no keys, no data bytes).
    pub summary: String,
    /// `queued`, `sent`, `delivered`, `por_ok`, `por_error`, `failed` or `timeout`.
    pub state: String,
    /// The PoR's status (`por_ok`, `cntr_low`, …).
    pub por_status: Option<String>,
    /// The last status word of the remote commands, hex.
    pub sw: Option<String>,
    /// Attempts.
    pub attempts: i64,
    /// Why it failed.
    pub detail: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub updated_at: i64,
}

/// A SIM's OTA history, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct OtaHistory {
    /// The commands.
    pub items: Vec<OtaCommand>,
}

fn command(c: OtaCommandRow) -> OtaCommand {
    OtaCommand {
        id: c.id,
        job_id: c.job_id,
        keyset: c.keyset,
        tar: c.tar,
        cntr: c.cntr,
        summary: c.summary,
        state: c.state,
        por_status: c.por_status,
        sw: c.sw,
        attempts: c.attempts,
        detail: c.detail,
        created_at: c.created_at,
        updated_at: c.updated_at,
    }
}

/// A SIM's OTA history with PoR results (the last 200 commands).
#[utoipa::path(get, path = "/sims/{imsi}/ota", tag = "ota", params(("imsi" = String, Path, description = "IMSI")),
    responses((status = 200, body = OtaHistory), Problems), security(("bearer" = [])))]
pub async fn history(Ctx { st, caller }: Ctx, Path(imsi): Path<String>) -> ApiResult<axum::Json<OtaHistory>> {
    caller.require(Action::Read)?;
    let imsi = super::imsi(&imsi)?;
    let rows = st
        .store()
        .ota_history(&caller.scope(), &imsi, 200)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("SIM {imsi} not found")))?;
    Ok(axum::Json(OtaHistory { items: rows.into_iter().map(command).collect() }))
}
