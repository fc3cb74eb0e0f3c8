//! `/jobs`: bulk changes to up to a million SIMs (by list, range or filter), run in the background
//! with progress, per-item results and cancel. Retrying the same request with the same
//! `Idempotency-Key` returns the first job instead of creating another.

use axum::http::StatusCode;
use cmp::jobs::{JobPlan, Selection};
use cmp::Action;
use serde::{Deserialize, Serialize};
use store::jobs::JobRow;
use utoipa::{IntoParams, ToSchema};

use super::sims::Status;
use super::{next_cursor, IdempotencyKey, PageQuery};
use crate::auth::Ctx;
use crate::extract::{Json, Path, Query};
use crate::problem::{ApiError, ApiResult, Problems};
use crate::state::AppState;

/// Which SIMs: either `imsis`, or a range and/or filter (`imsi_from`, `imsi_to`, `status`, `profile`).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JobSelection {
    /// Explicit IMSIs (at most 1,000,000).
    #[serde(default, deserialize_with = "super::present")]
    #[schema(min_items = 1, max_items = 1000000, nullable = false)]
    pub imsis: Option<Vec<String>>,
    /// First IMSI of a range.
    #[serde(default, deserialize_with = "super::present")]
    #[schema(pattern = "^[0-9]{6,15}$", nullable = false)]
    pub imsi_from: Option<String>,
    /// Last IMSI of a range.
    #[serde(default, deserialize_with = "super::present")]
    #[schema(pattern = "^[0-9]{6,15}$", nullable = false)]
    pub imsi_to: Option<String>,
    /// Only SIMs in this status.
    pub status: Option<Status>,
    /// Only SIMs with this profile.
    pub profile: Option<String>,
}

/// A bulk job request: set a status or a profile on the selected SIMs.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JobRequest {
    /// New status (or give `profile`).
    pub status: Option<Status>,
    /// New profile (or give `status`).
    pub profile: Option<String>,
    /// Which SIMs.
    pub selection: JobSelection,
    /// Operator admins: the tenant whose SIMs to change (default: every tenant).
    pub tenant: Option<String>,
}

/// A job and its progress.
#[derive(Debug, Serialize, ToSchema)]
pub struct Job {
    /// Id.
    pub id: String,
    /// Tenant (`*`: every tenant).
    pub tenant: String,
    /// `set_status` or `set_profile`.
    pub action: String,
    /// `queued`, `running`, `succeeded`, `completed_with_errors`, `cancelled` or `failed`.
    pub state: String,
    /// Items seen so far (lists: all).
    pub total: i64,
    /// Items changed.
    pub succeeded: i64,
    /// Items already as requested.
    pub unchanged: i64,
    /// Items refused (see the item results).
    pub failed: i64,
    /// Cancel requested.
    pub cancel_requested: bool,
    /// Who created it.
    pub created_by: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub updated_at: i64,
}

fn view(j: &JobRow) -> Job {
    Job {
        id: j.id.clone(),
        tenant: j.tenant.clone(),
        action: j.action.clone(),
        state: j.state.clone(),
        total: j.total,
        succeeded: j.succeeded,
        unchanged: j.unchanged,
        failed: j.failed,
        cancel_requested: j.cancel,
        created_by: j.created_by.clone(),
        created_at: j.created_at,
        updated_at: j.updated_at,
    }
}

/// Starts a job in the background (and resumes it after a restart through [`resume_jobs`]).
pub fn spawn(st: &AppState, id: String) {
    let st = st.clone();
    st.0.jobs.clone().spawn(async move {
        match cmp::jobs::run_job(st.store(), st.0.hss.as_ref(), &st.0.job_slots, &id).await {
            Ok(j) => {
                tracing::info!(job = %j.id, state = %j.state, succeeded = j.succeeded, failed = j.failed, "job finished")
            }
            Err(e) => {
                tracing::error!(job = %id, error = %e, "job failed");
                st.store().set_job_state(&id, "failed").await.ok();
            }
        }
        st.events_changed();
    });
}

/// Resumes jobs left queued or running by a previous process.
pub async fn resume_jobs(st: &AppState) -> store::Result<usize> {
    let jobs = st.store().unfinished_jobs().await?;
    for j in &jobs {
        spawn(st, j.id.clone());
    }
    Ok(jobs.len())
}

/// Creates a bulk job. From a person's session, a job that terminates, selects by filter or lists more
/// than `[http] step_up_bulk_items` IMSIs needs a step-up.
#[utoipa::path(post, path = "/jobs", tag = "jobs", request_body = JobRequest, params(IdempotencyKey),
    responses((status = 202, body = Job), Problems), security(("bearer" = [])))]
pub async fn create(Ctx { st, caller }: Ctx, Json(req): Json<JobRequest>) -> ApiResult<(StatusCode, axum::Json<Job>)> {
    caller.require(Action::ManageSims)?;
    let s = &req.selection;
    let selection = match &s.imsis {
        Some(list) => {
            if s.imsi_from.is_some() || s.imsi_to.is_some() || s.status.is_some() || s.profile.is_some() {
                return Err(ApiError::unprocessable("selection: give imsis or a range/filter, not both"));
            }
            Selection::List(list.clone())
        }
        None => {
            for (name, v) in [("imsi_from", &s.imsi_from), ("imsi_to", &s.imsi_to)] {
                if let Some(v) = v {
                    super::imsi(v)
                        .map_err(|e| ApiError::unprocessable(format!("selection.{name}: {}", e.problem.detail)))?;
                }
            }
            if s.imsi_from.is_none() && s.imsi_to.is_none() && s.status.is_none() && s.profile.is_none() {
                return Err(ApiError::unprocessable("selection: give imsis, a range or a filter"));
            }
            Selection::Filter {
                imsi_from: s.imsi_from.clone(),
                imsi_to: s.imsi_to.clone(),
                status: s.status.map(Into::into),
                profile: s.profile.clone(),
            }
        }
    };
    let plan = JobPlan {
        status: req.status.map(Into::into),
        profile: req.profile.clone(),
        selection,
        role: caller.role.as_str().to_string(),
    };
    let limits = st.0.settings.job_limits();
    let big = match &plan.selection {
        Selection::List(list) => list.len() > st.0.settings.step_up_bulk_items,
        Selection::Filter { .. } => true,
    };
    let actor = if big || plan.status == Some(store::model::SimStatus::Terminated) {
        caller.fresh(&st, "a bulk job that terminates SIMs, covers a filter or is this big").await?.0
    } else {
        caller.actor()
    };
    let job = cmp::jobs::create(st.store(), &actor, req.tenant.as_deref(), &plan, limits).await?;
    spawn(&st, job.id.clone());
    Ok((StatusCode::ACCEPTED, axum::Json(view(&job))))
}

/// A page of jobs.
#[derive(Debug, Serialize, ToSchema)]
pub struct JobPage {
    /// The jobs.
    pub items: Vec<Job>,
    /// Cursor of the next page.
    pub next_cursor: Option<String>,
}

/// Lists the caller's jobs.
#[utoipa::path(get, path = "/jobs", tag = "jobs", params(PageQuery),
    responses((status = 200, body = JobPage), Problems), security(("bearer" = [])))]
pub async fn list(Ctx { st, caller }: Ctx, Query(q): Query<PageQuery>) -> ApiResult<axum::Json<JobPage>> {
    caller.require(Action::Read)?;
    let limit = q.limit()?;
    let jobs = st.store().list_jobs(&caller.scope(), q.cursor(), limit).await?;
    let next = next_cursor(&jobs, limit, |j| j.id.clone());
    Ok(axum::Json(JobPage { items: jobs.iter().map(view).collect(), next_cursor: next }))
}

/// Reads a job's progress.
#[utoipa::path(get, path = "/jobs/{id}", tag = "jobs", params(("id" = String, Path, description = "Job id")),
    responses((status = 200, body = Job), Problems), security(("bearer" = [])))]
pub async fn get(Ctx { st, caller }: Ctx, Path(id): Path<String>) -> ApiResult<axum::Json<Job>> {
    caller.require(Action::Read)?;
    let job = st
        .store()
        .job_in(&caller.scope(), &id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("job {id} not found")))?;
    Ok(axum::Json(view(&job)))
}

/// Asks a queued or running job to stop after its current batch.
#[utoipa::path(post, path = "/jobs/{id}/cancel", tag = "jobs", params(("id" = String, Path, description = "Job id")),
    responses((status = 202, body = Job), Problems), security(("bearer" = [])))]
pub async fn cancel(Ctx { st, caller }: Ctx, Path(id): Path<String>) -> ApiResult<(StatusCode, axum::Json<Job>)> {
    let job = cmp::jobs::cancel(st.store(), &caller.actor(), &id).await?;
    Ok((StatusCode::ACCEPTED, axum::Json(view(&job))))
}

/// Item result filter.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ItemQuery {
    /// Opaque cursor from the previous page.
    pub cursor: Option<String>,
    /// Items per page (1–1000, default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
    /// Only `succeeded`, `unchanged` or `failed` items.
    pub outcome: Option<Outcome>,
}

/// Result of one item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Changed.
    Succeeded,
    /// Already as requested.
    Unchanged,
    /// Refused.
    Failed,
}

/// One item's result.
#[derive(Debug, Serialize, ToSchema)]
pub struct Item {
    /// IMSI (as given).
    pub imsi: String,
    /// Outcome.
    pub outcome: Outcome,
    /// Why it failed.
    pub detail: String,
}

/// A page of item results.
#[derive(Debug, Serialize, ToSchema)]
pub struct ItemPage {
    /// The items.
    pub items: Vec<Item>,
    /// Cursor of the next page.
    pub next_cursor: Option<String>,
}

/// Per-item results of a job.
#[utoipa::path(get, path = "/jobs/{id}/items", tag = "jobs",
    params(("id" = String, Path, description = "Job id"), ItemQuery),
    responses((status = 200, body = ItemPage), Problems), security(("bearer" = [])))]
pub async fn items(
    Ctx { st, caller }: Ctx,
    Path(id): Path<String>,
    Query(q): Query<ItemQuery>,
) -> ApiResult<axum::Json<ItemPage>> {
    caller.require(Action::Read)?;
    let page = PageQuery { cursor: q.cursor.clone(), limit: q.limit };
    let limit = page.limit()?;
    let outcome = q.outcome.map(|o| match o {
        Outcome::Succeeded => "succeeded",
        Outcome::Unchanged => "unchanged",
        Outcome::Failed => "failed",
    });
    let items = st
        .store()
        .job_items(&caller.scope(), &id, outcome, page.cursor(), limit)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("job {id} not found")))?;
    let next = next_cursor(&items, limit, |i| i.imsi.clone());
    let items = items
        .into_iter()
        .map(|i| Item {
            outcome: match i.outcome {
                "succeeded" => Outcome::Succeeded,
                "unchanged" => Outcome::Unchanged,
                _ => Outcome::Failed,
            },
            imsi: i.imsi,
            detail: i.detail,
        })
        .collect();
    Ok(axum::Json(ItemPage { items, next_cursor: next }))
}
