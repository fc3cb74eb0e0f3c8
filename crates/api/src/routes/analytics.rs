//! Security analytics (issue #17, AV-1, PR-1, SUB-7): the detections of the caller's tenant and what
//! its policy did about them, acknowledging, resolving and undoing, the tenant's analytics policy,
//! its security health check, the portal's dashboard and a STIX 2.1 export. Everything is a
//! `cmp::analytics` use case; another tenant's detection answers 404 like one that does not exist.
//! The dashboard, the health check's devices and the export show keyed pseudonyms of IMSIs unless the
//! tenant opted out in its policy.

use std::collections::BTreeMap;

use axum::http::{header, HeaderValue};
use axum::response::IntoResponse;
use cmp::analytics::{self as an, PolicyInput};
use cmp::Action;
use serde::{Deserialize, Serialize};
use store::analytics::{
    AnalyticsPolicy, Detection, DetectionAction, DetectionCursor, DetectionFilter, DetectionStatus,
};
use utoipa::{IntoParams, ToSchema};

use super::{imsi, next_cursor, present, PageQuery};
use crate::auth::Ctx;
use crate::extract::{Json, Path, Query};
use crate::problem::{ApiError, ApiResult, Problems};

/// A detection.
#[derive(Debug, Serialize, ToSchema)]
pub struct DetectionView {
    /// The engine's stable id.
    pub id: String,
    /// The SIM.
    pub imsi: String,
    /// What was found (`scanning`, `volume_spike`, `new_destination`, `dns_tunnelling`, `dga`,
    /// `threat_intel`, `excessive_signalling`, `imei_change`, `cohort_outlier`, `personal_data`, …).
    pub kind: String,
    /// The highest score reported, 0.0–1.0.
    pub score: f64,
    /// `low`, `medium`, `high` or `critical` (from the score).
    pub band: String,
    /// What was seen (counts, ports, destinations, positions; never payload values).
    #[schema(value_type = Object)]
    pub evidence: serde_json::Value,
    /// Unix seconds of the first report.
    pub first_seen: i64,
    /// Unix seconds of the last report.
    pub last_seen: i64,
    /// Reports.
    pub count: i64,
    /// `open`, `acknowledged` or `resolved`.
    pub status: String,
    /// Who changed the status last.
    pub status_by: Option<String>,
    /// What the tenant's policy did: `none`, `alert`, `quarantine`, `suspend` or `firmware_update`.
    pub action: String,
    /// Unix seconds of the action.
    pub action_at: Option<i64>,
    /// Unix seconds of its undo.
    pub action_undone_at: Option<i64>,
    /// Who undid it.
    pub action_undone_by: Option<String>,
}

fn view(d: Detection) -> DetectionView {
    DetectionView {
        band: an::Band::of(d.score).as_str().into(),
        evidence: serde_json::from_str(&d.evidence).unwrap_or(serde_json::Value::Null),
        status: d.status.as_str().into(),
        action: d.action.as_str().into(),
        id: d.id,
        imsi: d.imsi,
        kind: d.kind,
        score: d.score,
        first_seen: d.first_seen,
        last_seen: d.last_seen,
        count: d.count,
        status_by: d.status_by,
        action_at: d.action_at,
        action_undone_at: d.action_undone_at,
        action_undone_by: d.action_undone_by,
    }
}

/// The paging and filters both detection lists take ([`DetectionQuery`], [`DetectionsQuery`]),
/// flattened into each (unknown parameters are refused by the outer query) and listed first in each
/// path's parameters.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DetectionFilters {
    /// Cursor from the previous page.
    pub cursor: Option<String>,
    /// Items per page (1–1000, default 100).
    #[param(minimum = 1, maximum = 1000)]
    #[serde(default, deserialize_with = "page_size")]
    pub limit: Option<u32>,
    /// Only this kind.
    #[param(pattern = "^[a-z0-9_]{1,48}$")]
    pub kind: Option<String>,
    /// Only this status: `open`, `acknowledged` or `resolved`.
    #[param(pattern = "^(open|acknowledged|resolved)$")]
    pub status: Option<String>,
}

/// `limit` from its query-string text: a flattened field reaches serde as text, which the derived
/// number parsing would refuse, and without its path, so the error names it as the extractor did
/// for a field that is not flattened (`limit: invalid digit found in string`).
fn page_size<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    struct Text;
    impl serde::de::Visitor<'_> for Text {
        type Value = Option<u32>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("an integer")
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
            v.parse().map(Some).map_err(|e| E::custom(format_args!("limit: {e}")))
        }
        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Self::Value, E> {
            u32::try_from(v).map(Some).map_err(|e| E::custom(format_args!("limit: {e}")))
        }
    }
    d.deserialize_any(Text)
}

/// Detection filters.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DetectionQuery {
    /// Paging, kind and status (in the document through `params(DetectionFilters, …)`: utoipa's
    /// `IntoParams` does not follow `flatten`).
    #[serde(flatten)]
    #[param(ignore)]
    pub filters: DetectionFilters,
    /// Only this SIM.
    #[param(pattern = "^[0-9]{6,15}$")]
    pub imsi: Option<String>,
    /// Only those last seen at or after (Unix seconds).
    pub since: Option<i64>,
}

/// A page of detections.
#[derive(Debug, Serialize, ToSchema)]
pub struct DetectionPage {
    /// Newest (by last report) first.
    pub items: Vec<DetectionView>,
    /// Cursor of the next page.
    pub next_cursor: Option<String>,
}

fn cursor(text: Option<&str>) -> ApiResult<Option<DetectionCursor>> {
    let Some(c) = text.filter(|c| !c.is_empty()) else { return Ok(None) };
    let (at, id) = c.split_once('~').ok_or_else(|| ApiError::bad_request("malformed cursor"))?;
    let last_seen = at.parse::<i64>().map_err(|_| ApiError::bad_request("malformed cursor"))?;
    Ok(Some(DetectionCursor { last_seen, id: id.to_string() }))
}

fn valid_kind(k: &str) -> bool {
    (1..=48).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

fn status(text: &str) -> ApiResult<DetectionStatus> {
    DetectionStatus::parse(text)
        .ok_or_else(|| ApiError::bad_request(format!("status {text:?}: open, acknowledged or resolved")))
}

/// The detections of the caller's SIMs, newest first (operator admins see every tenant's).
#[utoipa::path(get, path = "/analytics/detections", tag = "analytics", params(DetectionFilters, DetectionQuery),
    responses((status = 200, body = DetectionPage), Problems), security(("bearer" = [])))]
pub async fn list(Ctx { st, caller }: Ctx, Query(q): Query<DetectionQuery>) -> ApiResult<axum::Json<DetectionPage>> {
    let (limit, filter) = checked(&caller, &q.filters)?;
    let filter = DetectionFilter {
        imsi: q.imsi.as_deref().map(imsi).transpose()?.map(|i| i.to_string()),
        since: q.since,
        ..filter
    };
    page(&st, &caller, &filter, q.filters.cursor.as_deref(), limit).await
}

/// What both detection lists check first: read access, the page size, the kind and the status.
fn checked(caller: &crate::auth::Caller, q: &DetectionFilters) -> ApiResult<(i64, DetectionFilter)> {
    caller.require(Action::Read)?;
    let limit = PageQuery { cursor: None, limit: q.limit }.limit()?;
    let kind = q.kind.as_deref();
    if let Some(k) = kind.filter(|k| !valid_kind(k)) {
        return Err(ApiError::bad_request(format!("kind {k:?}: 1–48 of a-z, 0-9 and _")));
    }
    let status = q.status.as_deref().map(status).transpose()?;
    Ok((limit, DetectionFilter { kind: kind.map(str::to_string), status, ..Default::default() }))
}

/// One page of the caller's detections under `filter`.
async fn page(
    st: &crate::state::AppState,
    caller: &crate::auth::Caller,
    filter: &DetectionFilter,
    after: Option<&str>,
    limit: i64,
) -> ApiResult<axum::Json<DetectionPage>> {
    let after = cursor(after)?;
    let items = an::list(st.store(), &caller.actor(), filter, after.as_ref(), limit).await?;
    let next = next_cursor(&items, limit, |d| format!("{}~{}", d.last_seen, d.id));
    Ok(axum::Json(DetectionPage { items: items.into_iter().map(view).collect(), next_cursor: next }))
}

/// Filters of `GET /detections`: times are RFC 3339.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DetectionsQuery {
    /// Paging, kind and status (in the document through `params(DetectionFilters, …)`: utoipa's
    /// `IntoParams` does not follow `flatten`).
    #[serde(flatten)]
    #[param(ignore)]
    pub filters: DetectionFilters,
    /// Only this SIM (its IMSI; `imsi` is the same filter).
    #[param(pattern = "^[0-9]{6,15}$")]
    pub sim: Option<String>,
    /// Only this SIM (the same as `sim`).
    #[param(pattern = "^[0-9]{6,15}$")]
    pub imsi: Option<String>,
    /// Only those last seen at or after this time (RFC 3339, e.g. `2026-12-04T00:00:00Z`).
    #[param(format = DateTime)]
    pub since: Option<String>,
    /// Only those first seen at or before this time (RFC 3339).
    #[param(format = DateTime)]
    pub until: Option<String>,
}

/// An RFC 3339 query parameter as Unix seconds; a 400 naming the parameter when it is not one.
fn instant(name: &str, text: Option<&str>) -> ApiResult<Option<i64>> {
    text.map(|t| utc::parse_rfc3339(t).map_err(|e| ApiError::bad_request(format!("{name}: {e}")))).transpose()
}

/// The detections of the caller's SIMs, newest (by last report) first: the stable path of issue
/// #17, filtered by kind, status, SIM and time window (operator admins see every tenant's).
#[utoipa::path(get, path = "/detections", tag = "analytics", params(DetectionFilters, DetectionsQuery),
    responses((status = 200, body = DetectionPage), Problems), security(("bearer" = [])))]
pub async fn detections(
    Ctx { st, caller }: Ctx,
    Query(q): Query<DetectionsQuery>,
) -> ApiResult<axum::Json<DetectionPage>> {
    let (limit, filter) = checked(&caller, &q.filters)?;
    let sim = match (q.sim.as_deref(), q.imsi.as_deref()) {
        (Some(a), Some(b)) if a != b => {
            return Err(ApiError::bad_request(format!("sim {a:?} and imsi {b:?}: name one SIM")));
        }
        (Some(s), _) => {
            Some(imsi(s).map_err(|_| ApiError::bad_request(format!("sim {s:?}: not an IMSI (6–15 digits)")))?)
        }
        (None, i) => i.map(imsi).transpose()?,
    };
    let since = instant("since", q.since.as_deref())?;
    let until = instant("until", q.until.as_deref())?;
    if let (Some(a), Some(b)) = (since, until) {
        if a > b {
            return Err(ApiError::bad_request("since: after until"));
        }
    }
    let filter = DetectionFilter { imsi: sim.map(|i| i.to_string()), since, until, ..filter };
    page(&st, &caller, &filter, q.filters.cursor.as_deref(), limit).await
}

/// One detection.
#[utoipa::path(get, path = "/analytics/detections/{id}", tag = "analytics",
    params(("id" = String, Path, description = "Detection id")),
    responses((status = 200, body = DetectionView), Problems), security(("bearer" = [])))]
pub async fn get(Ctx { st, caller }: Ctx, Path(id): Path<String>) -> ApiResult<axum::Json<DetectionView>> {
    caller.require(Action::Read)?;
    Ok(axum::Json(view(an::get(st.store(), &caller.actor(), &id).await?)))
}

/// Acknowledges a detection (someone is on it).
#[utoipa::path(post, path = "/analytics/detections/{id}/acknowledge", tag = "analytics",
    params(("id" = String, Path, description = "Detection id")),
    responses((status = 200, body = DetectionView), Problems), security(("bearer" = [])))]
pub async fn acknowledge(Ctx { st, caller }: Ctx, Path(id): Path<String>) -> ApiResult<axum::Json<DetectionView>> {
    caller.require(Action::ManageSims)?;
    let d = an::set_status(st.store(), &caller.actor(), &id, DetectionStatus::Acknowledged).await?;
    st.events_changed();
    Ok(axum::Json(view(d)))
}

/// Resolves a detection (a new report of it opens it again).
#[utoipa::path(post, path = "/analytics/detections/{id}/resolve", tag = "analytics",
    params(("id" = String, Path, description = "Detection id")),
    responses((status = 200, body = DetectionView), Problems), security(("bearer" = [])))]
pub async fn resolve(Ctx { st, caller }: Ctx, Path(id): Path<String>) -> ApiResult<axum::Json<DetectionView>> {
    caller.require(Action::ManageSims)?;
    let d = an::set_status(st.store(), &caller.actor(), &id, DetectionStatus::Resolved).await?;
    st.events_changed();
    Ok(axum::Json(view(d)))
}

/// Undoes what the policy did about a detection: lifts its quarantine, restores the status before
/// its suspension, withdraws its firmware-update request (a step-up for people, like lifting a
/// quarantine). 409 when there is nothing to undo or it was undone already.
#[utoipa::path(post, path = "/analytics/detections/{id}/undo", tag = "analytics",
    params(("id" = String, Path, description = "Detection id")),
    responses((status = 200, body = DetectionView), Problems), security(("bearer" = [])))]
pub async fn undo(Ctx { st, caller }: Ctx, Path(id): Path<String>) -> ApiResult<axum::Json<DetectionView>> {
    caller.require(Action::ManageSims)?;
    // 404 before the step-up: another tenant's id is not found whoever asks.
    an::get(st.store(), &caller.actor(), &id).await?;
    let (actor, _) = caller.fresh(&st, "undoing an analytics action").await?;
    let d = an::undo_action(st.store(), st.0.hss.as_ref(), &actor, &id).await?;
    st.events_changed();
    Ok(axum::Json(view(d)))
}

/// Which tenant (operator admins only; others always get their own).
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct TenantQuery {
    /// The tenant (operator admins must name one).
    pub tenant: Option<String>,
}

/// A tenant's analytics policy: what it agreed to (PR-1).
#[derive(Debug, Serialize, ToSchema)]
pub struct AnalyticsPolicyView {
    /// The tenant.
    pub tenant: String,
    /// False when the tenant agreed to no policy: detections are recorded, nothing is done
    /// automatically, devices are pseudonymised (the values below are what applies).
    pub agreed: bool,
    /// The action per detection kind.
    #[schema(value_type = Object)]
    pub actions: BTreeMap<String, String>,
    /// The action of other kinds.
    pub default_action: String,
    /// Detections scoring below this are not acted on.
    pub min_score: f64,
    /// Dashboards and exports show keyed pseudonyms instead of IMSIs.
    pub pseudonymise: bool,
    /// Days detections are kept after they were last seen.
    pub detections_days: i64,
    /// Days flow summaries are kept.
    pub flows_days: i64,
    /// Days the DNS query log is kept.
    pub dns_days: i64,
    /// The engine may use flow records (IPFIX/NetFlow).
    pub use_flows: bool,
    /// The engine may use the DNS query log.
    pub use_dns: bool,
    /// The engine may use signalling.
    pub use_signalling: bool,
    /// The engine may inspect payload samples (DPI for personal data in clear).
    pub use_payload: bool,
    /// Unix seconds of the last change.
    pub updated_at: i64,
    /// Who made it.
    pub updated_by: String,
}

impl From<an::PolicyView> for AnalyticsPolicyView {
    fn from(v: an::PolicyView) -> Self {
        // Every field by name, none left to `..`: a field added to the stored policy does not compile
        // here until the view shows it.
        let AnalyticsPolicy {
            tenant,
            actions,
            default_action,
            min_score,
            pseudonymise,
            detections_days,
            flows_days,
            dns_days,
            use_flows,
            use_dns,
            use_signalling,
            use_payload,
            updated_at,
            updated_by,
        } = v.policy;
        AnalyticsPolicyView {
            tenant,
            agreed: v.agreed,
            actions: actions.into_iter().map(|(k, a)| (k, a.as_str().to_string())).collect(),
            default_action: default_action.as_str().into(),
            min_score,
            pseudonymise,
            detections_days,
            flows_days,
            dns_days,
            use_flows,
            use_dns,
            use_signalling,
            use_payload,
            updated_at,
            updated_by,
        }
    }
}

/// A new analytics policy; what is left out gets the default of a first agreement.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnalyticsPolicyBody {
    /// The action per detection kind: `none`, `alert`, `quarantine`, `suspend` or `firmware_update`.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub actions: BTreeMap<String, String>,
    /// The action of other kinds (default `alert`).
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false, pattern = "^(none|alert|quarantine|suspend|firmware_update)$")]
    pub default_action: Option<String>,
    /// Least score that acts, 0.0–1.0 (default 0.5).
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false, minimum = 0.0, maximum = 1.0)]
    pub min_score: Option<f64>,
    /// Pseudonyms in dashboards and exports (default true).
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false)]
    pub pseudonymise: Option<bool>,
    /// Days detections are kept, 1–730 (default 90).
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false, minimum = 1, maximum = 730)]
    pub detections_days: Option<i64>,
    /// Days flow summaries are kept, 1–730 (default 30).
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false, minimum = 1, maximum = 730)]
    pub flows_days: Option<i64>,
    /// Days the DNS log is kept, 1–730 (default 30).
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false, minimum = 1, maximum = 730)]
    pub dns_days: Option<i64>,
    /// The engine may use flow records (default true).
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false)]
    pub use_flows: Option<bool>,
    /// The engine may use the DNS query log (default true).
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false)]
    pub use_dns: Option<bool>,
    /// The engine may use signalling (default true).
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false)]
    pub use_signalling: Option<bool>,
    /// The engine may inspect payload samples (default false).
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false)]
    pub use_payload: Option<bool>,
}

fn action(field: &str, text: &str) -> ApiResult<DetectionAction> {
    DetectionAction::parse(text).ok_or_else(|| {
        ApiError::unprocessable(format!(
            "{field}: {text:?} is not one of none, alert, quarantine, suspend, firmware_update"
        ))
    })
}

impl TryFrom<AnalyticsPolicyBody> for PolicyInput {
    type Error = ApiError;

    /// The body as the use case's input; 422 naming the field of an unknown action. Every field by
    /// name on both sides, so neither can gain one the other lacks and still compile.
    fn try_from(body: AnalyticsPolicyBody) -> ApiResult<PolicyInput> {
        let AnalyticsPolicyBody {
            actions,
            default_action,
            min_score,
            pseudonymise,
            detections_days,
            flows_days,
            dns_days,
            use_flows,
            use_dns,
            use_signalling,
            use_payload,
        } = body;
        Ok(PolicyInput {
            actions: actions
                .iter()
                .map(|(k, a)| Ok((k.clone(), action(&format!("actions.{k}"), a)?)))
                .collect::<ApiResult<BTreeMap<_, _>>>()?,
            default_action: default_action.as_deref().map(|a| action("default_action", a)).transpose()?,
            min_score,
            pseudonymise,
            detections_days,
            flows_days,
            dns_days,
            use_flows,
            use_dns,
            use_signalling,
            use_payload,
        })
    }
}

/// The caller's tenant's analytics policy (tenant admins; operator admins name the tenant).
#[utoipa::path(get, path = "/analytics/policy", tag = "analytics", params(TenantQuery),
    responses((status = 200, body = AnalyticsPolicyView), Problems), security(("bearer" = [])))]
pub async fn get_policy(
    Ctx { st, caller }: Ctx,
    Query(q): Query<TenantQuery>,
) -> ApiResult<axum::Json<AnalyticsPolicyView>> {
    caller.require(Action::ManageAccess)?;
    Ok(axum::Json(an::policy(st.store(), &caller.actor(), q.tenant.as_deref()).await?.into()))
}

/// Sets the caller's tenant's analytics policy (tenant admins; operator admins name the tenant),
/// audited.
#[utoipa::path(put, path = "/analytics/policy", tag = "analytics", params(TenantQuery), request_body = AnalyticsPolicyBody,
    responses((status = 200, body = AnalyticsPolicyView), Problems), security(("bearer" = [])))]
pub async fn put_policy(
    Ctx { st, caller }: Ctx,
    Query(q): Query<TenantQuery>,
    Json(body): Json<AnalyticsPolicyBody>,
) -> ApiResult<axum::Json<AnalyticsPolicyView>> {
    caller.require(Action::ManageAccess)?;
    let v = an::put_policy(st.store(), &caller.actor(), q.tenant.as_deref(), body.try_into()?).await?;
    Ok(axum::Json(v.into()))
}

/// A reason of the health score.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReasonView {
    /// `detections:<kind>`, `open_traffic` or `quarantined`.
    pub code: String,
    /// Points taken off.
    pub penalty: u32,
    /// In words.
    pub text: String,
}

/// A risk: the detections of one kind not resolved.
#[derive(Debug, Serialize, ToSchema)]
pub struct RiskView {
    /// The kind.
    pub kind: String,
    /// How many.
    pub detections: i64,
    /// Their highest score.
    pub max_score: f64,
}

/// A device with detections not resolved.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeviceView {
    /// Its keyed pseudonym (`dev-…`), or its IMSI when the tenant opted out.
    pub device: String,
    /// Detections not resolved.
    pub detections: i64,
    /// Their highest score.
    pub max_score: f64,
}

/// A tenant's security health check.
#[derive(Debug, Serialize, ToSchema)]
pub struct HealthView {
    /// The tenant.
    pub tenant: String,
    /// 0 (bad) – 100 (docs/analytics-actions.md gives the formula).
    pub score: u32,
    /// Why points were taken off, largest first.
    pub reasons: Vec<ReasonView>,
    /// Detection kinds by the points they cost.
    pub top_risks: Vec<RiskView>,
    /// Devices with the most serious detections.
    pub top_devices: Vec<DeviceView>,
    /// Active SIMs.
    pub active_sims: i64,
    /// Active SIMs whose traffic is `open`.
    pub open_sims: i64,
    /// Active SIMs in quarantine.
    pub quarantined_sims: i64,
    /// True when devices are shown by pseudonym.
    pub pseudonymised: bool,
}

fn device(d: an::TopDevice) -> DeviceView {
    DeviceView { device: d.device, detections: d.detections, max_score: d.max_score }
}

/// The security health check of the caller's tenant (operator admins name the tenant).
#[utoipa::path(get, path = "/analytics/health", tag = "analytics", params(TenantQuery),
    responses((status = 200, body = HealthView), Problems), security(("bearer" = [])))]
pub async fn health(Ctx { st, caller }: Ctx, Query(q): Query<TenantQuery>) -> ApiResult<axum::Json<HealthView>> {
    caller.require(Action::Read)?;
    let h = an::health(st.store(), &caller.actor(), q.tenant.as_deref()).await?;
    Ok(axum::Json(health_view(h)))
}

/// The security health check of the caller's tenant: a score 0–100 with its reasons and top risks
/// (the stable path of issue #17; the same as `/analytics/health`).
#[utoipa::path(get, path = "/health-check", tag = "analytics", params(TenantQuery),
    responses((status = 200, body = HealthView), Problems), security(("bearer" = [])))]
pub async fn health_check(ctx: Ctx, q: Query<TenantQuery>) -> ApiResult<axum::Json<HealthView>> {
    health(ctx, q).await
}

fn health_view(h: an::Health) -> HealthView {
    HealthView {
        tenant: h.tenant,
        score: h.score,
        reasons: h.reasons.into_iter().map(|r| ReasonView { code: r.code, penalty: r.penalty, text: r.text }).collect(),
        top_risks: h
            .top_risks
            .into_iter()
            .map(|r| RiskView { kind: r.kind, detections: r.detections, max_score: r.max_score })
            .collect(),
        top_devices: h.top_devices.into_iter().map(device).collect(),
        active_sims: h.active_sims,
        open_sims: h.open_sims,
        quarantined_sims: h.quarantined_sims,
        pseudonymised: h.pseudonymised,
    }
}

/// Which tenant and how many days.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DashboardQuery {
    /// The tenant (operator admins must name one).
    pub tenant: Option<String>,
    /// Days up to today (1–366, default 30).
    #[param(minimum = 1, maximum = 366)]
    pub days: Option<i64>,
}

/// Detections of one kind first seen on one day.
#[derive(Debug, Serialize, ToSchema)]
pub struct DayCountView {
    /// `YYYY-MM-DD` (UTC).
    pub day: String,
    /// The kind.
    pub kind: String,
    /// How many.
    pub count: i64,
}

/// Actions of one kind.
#[derive(Debug, Serialize, ToSchema)]
pub struct ActionCountView {
    /// `alert`, `quarantine`, `suspend` or `firmware_update`.
    pub action: String,
    /// Taken.
    pub count: i64,
    /// Of which undone.
    pub undone: i64,
}

/// The portal's analytics dashboard.
#[derive(Debug, Serialize, ToSchema)]
pub struct DashboardView {
    /// The tenant.
    pub tenant: String,
    /// Days covered.
    pub days: i64,
    /// Detections first seen per day and kind.
    pub by_kind_day: Vec<DayCountView>,
    /// Devices with the most serious detections not resolved (at most ten).
    pub top_devices: Vec<DeviceView>,
    /// Actions taken.
    pub actions: Vec<ActionCountView>,
    /// True when devices are shown by pseudonym.
    pub pseudonymised: bool,
}

/// Dashboard data of the caller's tenant: detections per kind and day, the top devices (by
/// pseudonym unless the tenant opted out) and the actions taken.
#[utoipa::path(get, path = "/analytics/dashboard", tag = "analytics", params(DashboardQuery),
    responses((status = 200, body = DashboardView), Problems), security(("bearer" = [])))]
pub async fn dashboard(
    Ctx { st, caller }: Ctx,
    Query(q): Query<DashboardQuery>,
) -> ApiResult<axum::Json<DashboardView>> {
    caller.require(Action::Read)?;
    let d = an::dashboard(st.store(), &caller.actor(), q.tenant.as_deref(), q.days.unwrap_or(30)).await?;
    Ok(axum::Json(DashboardView {
        tenant: d.tenant,
        days: d.days,
        by_kind_day: d
            .by_kind_day
            .into_iter()
            .map(|c| DayCountView { day: c.day, kind: c.kind, count: c.count })
            .collect(),
        top_devices: d.top_devices.into_iter().map(device).collect(),
        actions: d
            .actions
            .into_iter()
            .map(|a| ActionCountView { action: a.action.as_str().into(), count: a.count, undone: a.undone })
            .collect(),
        pseudonymised: d.pseudonymised,
    }))
}

/// The caller's tenant's detections (the newest 10,000) as a STIX 2.1 bundle (`sighting`s of
/// `indicator`s or `attack-pattern`s), devices by pseudonym unless the tenant opted out.
#[utoipa::path(get, path = "/analytics/export.stix", tag = "analytics", params(TenantQuery),
    responses((status = 200, description = "STIX 2.1 bundle", content_type = "application/stix+json;version=2.1", body = Object), Problems),
    security(("bearer" = [])))]
pub async fn export_stix(Ctx { st, caller }: Ctx, Query(q): Query<TenantQuery>) -> ApiResult<impl IntoResponse> {
    caller.require(Action::Read)?;
    let bundle = an::export_stix(st.store(), &caller.actor(), q.tenant.as_deref()).await?;
    Ok(([(header::CONTENT_TYPE, HeaderValue::from_static("application/stix+json;version=2.1"))], bundle.to_string()))
}

/// Indicators for threat sharing (AV-1): the caller's tenant's detections as a STIX 2.1 bundle
/// (`application/stix+json;version=2.1`; the stable path of issue #17, the same as
/// `/analytics/export.stix`).
#[utoipa::path(get, path = "/indicators", tag = "analytics", params(TenantQuery),
    responses((status = 200, description = "STIX 2.1 bundle", content_type = "application/stix+json;version=2.1", body = Object), Problems),
    security(("bearer" = [])))]
pub async fn indicators(ctx: Ctx, q: Query<TenantQuery>) -> ApiResult<impl IntoResponse> {
    export_stix(ctx, q).await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stored policy with no field at its default.
    fn stored() -> AnalyticsPolicy {
        AnalyticsPolicy {
            tenant: "acme".into(),
            actions: [("scanning".to_string(), DetectionAction::Quarantine), ("dga".into(), DetectionAction::Suspend)]
                .into(),
            default_action: DetectionAction::FirmwareUpdate,
            min_score: 0.75,
            pseudonymise: false,
            detections_days: 11,
            flows_days: 12,
            dns_days: 13,
            use_flows: false,
            use_dns: false,
            use_signalling: false,
            use_payload: true,
            updated_at: 1_796_299_200,
            updated_by: "alice".into(),
        }
    }

    #[test]
    fn the_view_shows_every_field_of_the_stored_policy() {
        let p = stored();
        let view = AnalyticsPolicyView::from(an::PolicyView { policy: p.clone(), agreed: true });
        let mut shown = serde_json::to_value(&view).unwrap();
        assert_eq!(shown.as_object_mut().unwrap().remove("agreed"), Some(serde_json::Value::Bool(true)));
        assert_eq!(shown, serde_json::to_value(&p).unwrap(), "the same fields, the same values");
    }

    #[test]
    fn the_body_takes_every_field_the_stored_policy_has_but_who_and_when() {
        let mut text = serde_json::to_value(stored()).unwrap();
        for k in ["tenant", "updated_at", "updated_by"] {
            text.as_object_mut().unwrap().remove(k);
        }
        // deny_unknown_fields: a stored field the body lacks fails here.
        let body: AnalyticsPolicyBody = serde_json::from_value(text).unwrap();
        let i = PolicyInput::try_from(body).unwrap();
        let p = stored();
        assert_eq!(i.actions, p.actions);
        assert_eq!(
            (i.default_action, i.min_score, i.pseudonymise, i.detections_days, i.flows_days, i.dns_days),
            (Some(p.default_action), Some(p.min_score), Some(p.pseudonymise), Some(11), Some(12), Some(13))
        );
        assert_eq!(
            (i.use_flows, i.use_dns, i.use_signalling, i.use_payload),
            (Some(p.use_flows), Some(p.use_dns), Some(p.use_signalling), Some(p.use_payload))
        );
        // Left out: left to the use case's defaults.
        let empty = PolicyInput::try_from(AnalyticsPolicyBody::default()).unwrap();
        assert!(empty.actions.is_empty() && empty.default_action.is_none() && empty.use_payload.is_none());
        // An unknown action names its field.
        let bad = AnalyticsPolicyBody { actions: [("scanning".into(), "nuke".into())].into(), ..Default::default() };
        let e = PolicyInput::try_from(bad).unwrap_err();
        assert!(format!("{e:?}").contains("actions.scanning"), "{e:?}");
    }
}
