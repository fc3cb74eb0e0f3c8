//! `/campaigns`: firmware update campaigns (DM-2, SEC-8, docs/firmware.md). A campaign offers one of
//! the tenant's verified images to a list of devices (or the registered devices of a model) over
//! LwM2M object 5, a canary share first, pausing itself when its failure ratio passes the threshold,
//! offering only inside its maintenance window. Creating and resuming one need a step-up; devices of
//! critical SIMs are included only when asked and a second person approves (`/approvals`). Tenant
//! scoped: another tenant's campaign answers 404. Every change is audited.

use axum::http::StatusCode;
use cmp::campaigns::{Change, Plan, Window};
use cmp::Action;
use serde::{Deserialize, Serialize};
use store::access::Scope;
use store::campaigns::{CampaignDevice, CampaignRow, CampaignSettings, Delivery, StateCounts};
use utoipa::ToSchema;

use crate::auth::Ctx;
use crate::extract::{Json, Path, Query};
use crate::problem::{ApiError, ApiResult, Problems};

/// A maintenance window (UTC): the days and hours in which devices may be offered the image.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WindowSpec {
    /// Days: `mon` … `sun`.
    pub days: Vec<String>,
    /// First hour, 0 to 23.
    pub start_hour: u8,
    /// End hour, 1 to 24 (at or before `start_hour`: the window runs past midnight).
    pub end_hour: u8,
}

/// A campaign to create and start.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCampaign {
    /// A name (1 to 100 characters).
    pub name: String,
    /// One of the tenant's verified firmware images (`GET /firmware`).
    pub image_id: String,
    /// Devices by endpoint name.
    #[serde(default)]
    pub endpoints: Vec<String>,
    /// Also every device of this model (3/0/1) registered now and linked to the tenant.
    pub model: Option<String>,
    /// Share of the devices updated first, percent (0 to 100, default 5).
    pub canary_percent: Option<f64>,
    /// Failure ratio (failed / finished, 0 to 1, default 0.1) past which the campaign pauses itself.
    pub failure_threshold: Option<f64>,
    /// When offers may start (default: always).
    pub window: Option<WindowSpec>,
    /// Devices updating at once at most (1 to 10000, default 10).
    pub max_concurrent: Option<i64>,
    /// Allow an image older than the device's firmware (default false).
    #[serde(default)]
    pub allow_downgrade: bool,
    /// Allow the version the device already has (default false).
    #[serde(default)]
    pub allow_reinstall: bool,
    /// Include devices of critical SIMs, after a second person approves (default false: skipped).
    #[serde(default)]
    pub include_critical: bool,
    /// How the image reaches the devices (LwM2M object 5): `pull` (default; the device downloads
    /// it from the Package URI 5/0/1 with Block2) or `push` (Warden writes it into Package 5/0/0
    /// with Block1). A device that reports it supports only the other (5/0/9) gets that one.
    #[schema(pattern = "^(pull|push)$")]
    pub delivery: Option<String>,
    /// Operators: the tenant.
    pub tenant: Option<String>,
}

/// Devices per state.
#[derive(Debug, Serialize, ToSchema, Default)]
pub struct Progress {
    /// All devices.
    pub total: i64,
    /// Waiting for an offer.
    pub pending: i64,
    /// Package URI written.
    pub offered: i64,
    /// Downloading.
    pub downloading: i64,
    /// Downloaded, not yet updating.
    pub downloaded: i64,
    /// Update executed, waiting for the device to come back.
    pub updating: i64,
    /// Updated and reporting the image's version.
    pub succeeded: i64,
    /// Failed (see each device's reason).
    pub failed: i64,
    /// Skipped (policy, critical SIM, another tenant's or model's device, cancelled).
    pub skipped: i64,
}

impl From<&StateCounts> for Progress {
    fn from(c: &StateCounts) -> Self {
        let n = |s: &str| c.all.get(s).copied().unwrap_or(0);
        Progress {
            total: c.all.values().sum(),
            pending: n("pending"),
            offered: n("offered"),
            downloading: n("downloading"),
            downloaded: n("downloaded"),
            updating: n("updating"),
            succeeded: n("succeeded"),
            failed: n("failed"),
            skipped: n("skipped"),
        }
    }
}

/// How a campaign goes about its devices, as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct SettingsView {
    /// Model filter it was created with.
    pub model: Option<String>,
    /// Canary share, percent.
    pub canary_percent: f64,
    /// Failure threshold (ratio).
    pub failure_threshold: f64,
    /// Maintenance window.
    pub window: WindowSpec,
    /// Devices at once at most.
    pub max_concurrent: i64,
    /// Downgrades allowed.
    pub allow_downgrade: bool,
    /// Reinstalls allowed.
    pub allow_reinstall: bool,
    /// Critical SIMs' devices included once approved.
    pub include_critical: bool,
    /// `pull` or `push` (devices that support only the other get that one).
    pub delivery: String,
}

impl From<&Window> for WindowSpec {
    fn from(w: &Window) -> Self {
        WindowSpec {
            days: w.days.iter().map(|d| cmp::campaigns::DAY_NAMES[usize::from(*d)].to_string()).collect(),
            start_hour: w.start_hour,
            end_hour: w.end_hour,
        }
    }
}

impl From<CampaignSettings> for SettingsView {
    fn from(c: CampaignSettings) -> Self {
        SettingsView {
            window: (&Window::of(&c)).into(),
            model: c.model,
            canary_percent: c.canary_permille as f64 / 10.0,
            failure_threshold: c.failure_permille as f64 / 1000.0,
            max_concurrent: c.max_concurrent,
            allow_downgrade: c.allow_downgrade,
            allow_reinstall: c.allow_reinstall,
            include_critical: c.include_critical,
            delivery: c.delivery.as_str().into(),
        }
    }
}

/// A campaign.
#[derive(Debug, Serialize, ToSchema)]
pub struct Campaign {
    /// Id.
    pub id: String,
    /// Owning tenant.
    pub tenant: String,
    /// Name.
    pub name: String,
    /// The image.
    pub image_id: String,
    /// How it goes about its devices.
    #[serde(flatten)]
    pub settings: SettingsView,
    /// The approval request for them (`/approvals/{id}`).
    pub approval_id: Option<String>,
    /// A second person approved them.
    pub critical_approved: bool,
    /// `running`, `paused`, `cancelled` or `finished`.
    pub status: String,
    /// Why (who paused it, or the failure ratio that did).
    pub status_reason: String,
    /// Creator.
    pub created_by: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds of the last status change.
    pub updated_at: i64,
    /// Devices per state.
    pub progress: Progress,
}

impl Campaign {
    fn of(c: CampaignRow, counts: &StateCounts) -> Campaign {
        Campaign {
            id: c.id,
            tenant: c.tenant,
            name: c.name,
            image_id: c.image_id,
            settings: c.settings.into(),
            approval_id: c.approval_id,
            critical_approved: c.critical_approved,
            status: c.status,
            status_reason: c.status_reason,
            created_by: c.created_by,
            created_at: c.created_at,
            updated_at: c.updated_at,
            progress: counts.into(),
        }
    }
}

/// One device of a campaign.
#[derive(Debug, Serialize, ToSchema)]
pub struct CampaignDeviceView {
    /// Endpoint name.
    pub endpoint: String,
    /// Part of the canary share.
    pub canary: bool,
    /// `pending`, `offered`, `downloading`, `downloaded`, `updating`, `succeeded`, `failed`, `skipped`.
    pub state: String,
    /// Why it failed or was skipped.
    pub reason: String,
    /// Firmware version it reported before the update.
    pub version_before: Option<String>,
    /// Unix seconds of its last change.
    pub updated_at: i64,
}

impl From<CampaignDevice> for CampaignDeviceView {
    fn from(d: CampaignDevice) -> Self {
        CampaignDeviceView {
            endpoint: d.endpoint,
            canary: d.canary,
            state: d.state,
            reason: d.reason,
            version_before: d.version_before,
            updated_at: d.updated_at,
        }
    }
}

/// The campaigns.
#[derive(Debug, Serialize, ToSchema)]
pub struct CampaignList {
    /// Newest first.
    pub items: Vec<Campaign>,
}

/// A campaign with a page of its devices.
#[derive(Debug, Serialize, ToSchema)]
pub struct CampaignDetail {
    /// The campaign and its progress.
    pub campaign: Campaign,
    /// Devices in endpoint order.
    pub devices: Vec<CampaignDeviceView>,
    /// Pass as `after` for the next page; absent on the last one.
    pub next: Option<String>,
}

/// Paging and filtering of a campaign's devices.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct DeviceQuery {
    /// Only devices in this state.
    #[param(pattern = "^(pending|offered|downloading|downloaded|updating|succeeded|failed|skipped)$")]
    pub state: Option<String>,
    /// Endpoint names after this one.
    pub after: Option<String>,
    /// At most this many (1 to 1000, default 100).
    pub limit: Option<i64>,
}

const STATES: [&str; 8] =
    ["pending", "offered", "downloading", "downloaded", "updating", "succeeded", "failed", "skipped"];

fn permille(name: &str, v: Option<f64>, default: i64, scale: f64) -> ApiResult<i64> {
    match v {
        None => Ok(default),
        Some(x) if x.is_finite() && (0.0..=1000.0 / scale).contains(&x) => Ok((x * scale).round() as i64),
        Some(_) => Err(ApiError::unprocessable(format!("{name}: 0 to {}", 1000.0 / scale))),
    }
}

/// The devices of `model` linked to `tenant` and registered now, in name order: from the store's
/// device snapshots (registered with any instance: each instance's engine offers the image to the
/// devices it holds), and those registered with this instance whose snapshot is not written yet.
async fn devices_of_model(st: &crate::state::AppState, tenant: &str, model: &str) -> ApiResult<Vec<String>> {
    let limit = cmp::campaigns::MAX_DEVICES as i64 + 1;
    let mut out: std::collections::BTreeSet<String> =
        st.store().registered_devices_of_model(tenant, model, limit).await?.into_iter().collect();
    if let Some(svc) = st.0.devices.get() {
        let mut after: Option<String> = None;
        loop {
            let page = svc.devices(Some(tenant), after.as_deref(), 1000);
            let last = page.last().map(|d| d.endpoint.clone());
            out.extend(page.into_iter().filter(|d| d.profile.model.as_deref() == Some(model)).map(|d| d.endpoint));
            match last {
                Some(l) if out.len() <= cmp::campaigns::MAX_DEVICES => after = Some(l),
                _ => break,
            }
        }
    }
    Ok(out.into_iter().collect())
}

/// Creates and starts a firmware campaign (needs a step-up, SEC-8). With `include_critical` the
/// answer names the approval request a second person must approve before critical SIMs' devices
/// are offered the image.
#[utoipa::path(post, path = "/campaigns", tag = "campaigns", request_body = NewCampaign,
    responses((status = 201, body = Campaign), Problems), security(("bearer" = [])))]
pub async fn create(
    Ctx { st, caller }: Ctx,
    Json(req): Json<NewCampaign>,
) -> ApiResult<(StatusCode, axum::Json<Campaign>)> {
    caller.require(Action::ManageSims)?;
    let tenant = caller.actor().target_tenant(req.tenant.as_deref())?;
    let window = match &req.window {
        Some(w) => Window::new(&w.days, w.start_hour, w.end_hour)?,
        None => Window::default(),
    };
    let mut endpoints = req.endpoints.clone();
    if let Some(model) = req.model.as_deref() {
        if model.is_empty() || model.len() > 128 {
            return Err(ApiError::unprocessable("model: 1 to 128 characters"));
        }
        for e in devices_of_model(&st, &tenant, model).await? {
            if !endpoints.contains(&e) {
                endpoints.push(e);
            }
        }
    }
    let plan = Plan {
        name: req.name.clone(),
        image_id: req.image_id.clone(),
        endpoints,
        model: req.model.clone(),
        canary_permille: permille("canary_percent", req.canary_percent, 50, 10.0)?,
        failure_permille: permille("failure_threshold", req.failure_threshold, 100, 1000.0)?,
        window,
        max_concurrent: req.max_concurrent.unwrap_or(10),
        allow_downgrade: req.allow_downgrade,
        allow_reinstall: req.allow_reinstall,
        include_critical: req.include_critical,
        delivery: match req.delivery.as_deref() {
            None => Delivery::Pull,
            Some(d) => Delivery::parse(d).ok_or_else(|| ApiError::unprocessable("delivery: pull or push"))?,
        },
    };
    let (actor, factor) = caller.fresh(&st, "starting a firmware campaign").await?;
    let (row, _) = cmp::campaigns::create(st.store(), &actor, Some(&tenant), &plan, factor.as_deref()).await?;
    st.events_changed();
    let counts = st.store().campaign_counts(&row.id).await?;
    Ok((StatusCode::CREATED, axum::Json(Campaign::of(row, &counts))))
}

/// Lists the campaigns visible to the caller, newest first, with their progress.
#[utoipa::path(get, path = "/campaigns", tag = "campaigns",
    responses((status = 200, body = CampaignList), Problems), security(("bearer" = [])))]
pub async fn list(Ctx { st, caller }: Ctx) -> ApiResult<axum::Json<CampaignList>> {
    caller.require(Action::Read)?;
    let mut items = Vec::new();
    for c in st.store().campaigns(&caller.scope()).await? {
        let counts = st.store().campaign_counts(&c.id).await?;
        items.push(Campaign::of(c, &counts));
    }
    Ok(axum::Json(CampaignList { items }))
}

async fn visible(st: &crate::state::AppState, scope: &Scope, id: &str) -> ApiResult<CampaignRow> {
    st.store().campaign(scope, id).await?.ok_or_else(|| ApiError::not_found(format!("campaign {id} not found")))
}

/// A campaign, its progress, and a page of its devices with their states.
#[utoipa::path(get, path = "/campaigns/{id}", tag = "campaigns", params(("id" = String, Path, description = "Campaign id"), DeviceQuery),
    responses((status = 200, body = CampaignDetail), Problems), security(("bearer" = [])))]
pub async fn get(
    Ctx { st, caller }: Ctx,
    Path(id): Path<String>,
    Query(q): Query<DeviceQuery>,
) -> ApiResult<axum::Json<CampaignDetail>> {
    caller.require(Action::Read)?;
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::unprocessable("limit: 1 to 1000"));
    }
    if let Some(s) = q.state.as_deref().filter(|s| !STATES.contains(s)) {
        return Err(ApiError::unprocessable(format!("state: unknown state {s:?}")));
    }
    let row = visible(&st, &caller.scope(), &id).await?;
    let counts = st.store().campaign_counts(&id).await?;
    let devices = st.store().campaign_devices(&id, q.state.as_deref(), q.after.as_deref(), limit).await?;
    let next = (devices.len() as i64 == limit).then(|| devices.last().map(|d| d.endpoint.clone())).flatten();
    Ok(axum::Json(CampaignDetail {
        campaign: Campaign::of(row, &counts),
        devices: devices.into_iter().map(Into::into).collect(),
        next,
    }))
}

async fn change(
    st: crate::state::AppState,
    actor: cmp::Actor,
    id: &str,
    what: Change,
) -> ApiResult<axum::Json<Campaign>> {
    let row = cmp::campaigns::change(st.store(), &actor, id, what).await?;
    st.events_changed();
    let counts = st.store().campaign_counts(id).await?;
    Ok(axum::Json(Campaign::of(row, &counts)))
}

/// Pauses a running campaign: no new offers (devices already updating finish).
#[utoipa::path(post, path = "/campaigns/{id}/pause", tag = "campaigns", params(("id" = String, Path, description = "Campaign id")),
    responses((status = 200, body = Campaign), Problems), security(("bearer" = [])))]
pub async fn pause(Ctx { st, caller }: Ctx, Path(id): Path<String>) -> ApiResult<axum::Json<Campaign>> {
    caller.require(Action::ManageSims)?;
    visible(&st, &caller.scope(), &id).await?;
    let actor = caller.actor();
    change(st, actor, &id, Change::Pause).await
}

/// Resumes a paused campaign (needs a step-up, SEC-8).
#[utoipa::path(post, path = "/campaigns/{id}/resume", tag = "campaigns", params(("id" = String, Path, description = "Campaign id")),
    responses((status = 200, body = Campaign), Problems), security(("bearer" = [])))]
pub async fn resume(Ctx { st, caller }: Ctx, Path(id): Path<String>) -> ApiResult<axum::Json<Campaign>> {
    caller.require(Action::ManageSims)?;
    visible(&st, &caller.scope(), &id).await?;
    let (actor, _) = caller.fresh(&st, "resuming a firmware campaign").await?;
    change(st, actor, &id, Change::Resume).await
}

/// Cancels a campaign: its pending devices are skipped (devices already updating finish).
#[utoipa::path(post, path = "/campaigns/{id}/cancel", tag = "campaigns", params(("id" = String, Path, description = "Campaign id")),
    responses((status = 200, body = Campaign), Problems), security(("bearer" = [])))]
pub async fn cancel(Ctx { st, caller }: Ctx, Path(id): Path<String>) -> ApiResult<axum::Json<Campaign>> {
    caller.require(Action::ManageSims)?;
    visible(&st, &caller.scope(), &id).await?;
    let actor = caller.actor();
    change(st, actor, &id, Change::Cancel).await
}
