//! `/sims`: list, read, change (status, profile) and import SIMs; the operator's protection switch
//! for critical SIMs. Keys can be written on import and are never returned.

use axum::http::StatusCode;
use cmp::provisioning::SimRecord;
use cmp::sims::segment_of;
use cmp::Action;
use serde::{Deserialize, Serialize};
use store::model::SimStatus;
use store::platform::SimRange;
use store::sims_scoped::{ManagedSim, SimFilter};
use utoipa::{IntoParams, ToSchema};

use super::approvals::{ask, needs_approval, Requested};
use super::{imsi, next_cursor, IdempotencyKey, PageQuery};
use crate::auth::{Caller, Ctx};
use crate::extract::{Json, Path, Query};
use crate::problem::{ApiError, ApiResult, Problems};
use crate::state::AppState;
use axum::response::IntoResponse;
use cmp::approvals::Kind;

/// SIM status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Provisioned, not in service.
    Inventory,
    /// In service.
    Active,
    /// Temporarily out of service.
    Suspended,
    /// Permanently out of service.
    Terminated,
}

impl From<SimStatus> for Status {
    fn from(s: SimStatus) -> Self {
        match s {
            SimStatus::Inventory => Status::Inventory,
            SimStatus::Active => Status::Active,
            SimStatus::Suspended => Status::Suspended,
            SimStatus::Terminated => Status::Terminated,
        }
    }
}

impl From<Status> for SimStatus {
    fn from(s: Status) -> Self {
        match s {
            Status::Inventory => SimStatus::Inventory,
            Status::Active => SimStatus::Active,
            Status::Suspended => SimStatus::Suspended,
            Status::Terminated => SimStatus::Terminated,
        }
    }
}

/// Where a SIM is registered.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Serving {
    /// Origin-Host of the serving MME.
    pub origin_host: String,
    /// Origin-Realm of the serving MME.
    pub origin_realm: String,
    /// Visited PLMN (MCC+MNC).
    pub plmn: Option<String>,
    /// Unix seconds of the registration.
    pub since: i64,
}

/// A SIM (never its keys).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Sim {
    /// IMSI.
    pub imsi: String,
    /// ICCID.
    pub iccid: Option<String>,
    /// MSISDN.
    pub msisdn: Option<String>,
    /// EID of the eUICC.
    pub eid: Option<String>,
    /// Owning tenant.
    pub tenant: String,
    /// Lifecycle status.
    pub status: Status,
    /// Priority class: `critical`, `standard` or `low`.
    pub priority: String,
    /// Service profile.
    pub profile: Option<String>,
    /// Authentication algorithm: `milenage` or `tuak`.
    pub algorithm: String,
    /// Segment of its IMSI range: `iot`, `handset` or `unclassified`.
    pub segment: String,
    /// True when an operator admin lifted the termination protection (critical SIMs).
    pub protection_lifted: bool,
    /// Packet data barred (Operator-Determined-Barring), by a rule or a person.
    pub data_barred: bool,
    /// IMEIs bound by an IMEI lock.
    pub bound_imeis: Vec<String>,
    /// Serving MME.
    pub serving: Option<Serving>,
}

/// The view of a stored SIM.
pub fn view(m: &ManagedSim, ranges: &[SimRange]) -> Sim {
    let s = &m.sim;
    Sim {
        imsi: s.imsi.to_string(),
        iccid: s.iccid.clone(),
        msisdn: s.msisdn.clone(),
        eid: s.eid.clone(),
        tenant: s.tenant.clone(),
        status: s.status.into(),
        priority: s.priority.as_str().to_string(),
        profile: s.profile.clone(),
        algorithm: match s.algorithm {
            store::model::AlgorithmSpec::Milenage => "milenage".into(),
            store::model::AlgorithmSpec::Tuak(_) => "tuak".into(),
        },
        segment: segment_of(s.imsi.as_str(), ranges),
        protection_lifted: m.protection_lifted,
        data_barred: s.data_barred,
        bound_imeis: s.bound_imeis.clone(),
        serving: s.serving.as_ref().map(|n| Serving {
            origin_host: n.origin_host.clone(),
            origin_realm: n.origin_realm.clone(),
            plmn: n.plmn.as_ref().map(ToString::to_string),
            since: n.since,
        }),
    }
}

/// A page of SIMs.
#[derive(Debug, Serialize, ToSchema)]
pub struct SimPage {
    /// The SIMs.
    pub items: Vec<Sim>,
    /// Cursor of the next page; absent at the end.
    pub next_cursor: Option<String>,
}

/// SIM list filters.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SimQuery {
    /// Opaque cursor from the previous page.
    pub cursor: Option<String>,
    /// Items per page (1–1000, default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
    /// Only this status.
    pub status: Option<Status>,
    /// Only this profile.
    pub profile: Option<String>,
    /// Only IMSIs from this one.
    #[param(pattern = "^[0-9]{6,15}$")]
    pub imsi_from: Option<String>,
    /// Only IMSIs up to this one.
    #[param(pattern = "^[0-9]{6,15}$")]
    pub imsi_to: Option<String>,
    /// Only this priority class.
    pub priority: Option<PriorityClass>,
    /// Only this tenant (operator admins narrowing their list; a tenant's own scope still applies).
    #[param(pattern = "^[A-Za-z0-9_-]{1,64}$")]
    pub tenant: Option<String>,
    /// Only ICCIDs starting with these digits.
    #[param(pattern = "^[0-9]{1,20}$")]
    pub iccid_prefix: Option<String>,
}

/// Priority class of a SIM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PriorityClass {
    /// Never shed, protected from termination.
    Critical,
    /// The default.
    Standard,
    /// Shed first under overload.
    Low,
}

/// Lists the caller's SIMs.
#[utoipa::path(get, path = "/sims", tag = "sims", params(SimQuery),
    responses((status = 200, body = SimPage), Problems), security(("bearer" = [])))]
pub async fn list(Ctx { st, caller }: Ctx, Query(q): Query<SimQuery>) -> ApiResult<axum::Json<SimPage>> {
    caller.require(Action::Read)?;
    let page = PageQuery { cursor: q.cursor.clone(), limit: q.limit };
    let limit = page.limit()?;
    for v in [&q.imsi_from, &q.imsi_to].into_iter().flatten() {
        imsi(v)?;
    }
    let filter = SimFilter {
        status: q.status.map(Into::into),
        profile: q.profile.clone(),
        imsi_from: q.imsi_from.clone(),
        imsi_to: q.imsi_to.clone(),
        priority: q.priority.map(|p| match p {
            PriorityClass::Critical => store::model::Priority::Critical,
            PriorityClass::Standard => store::model::Priority::Standard,
            PriorityClass::Low => store::model::Priority::Low,
        }),
        tenant: q.tenant.clone(),
        iccid_prefix: q.iccid_prefix.clone(),
    };
    if let Some(p) = &q.iccid_prefix {
        if p.is_empty() || p.len() > 20 || !p.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ApiError::bad_request("iccid_prefix: 1 to 20 digits"));
        }
    }
    if let Some(t) = &q.tenant {
        if t.is_empty() || t.len() > 64 || !t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
            return Err(ApiError::bad_request("tenant: 1 to 64 letters, digits, '_' or '-'"));
        }
    }
    let sims = st.store().list_sims(&caller.scope(), &filter, page.cursor(), limit).await?;
    let ranges = st.store().list_ranges().await?;
    let next = next_cursor(&sims, limit, |s| s.sim.imsi.to_string());
    Ok(axum::Json(SimPage { items: sims.iter().map(|s| view(s, &ranges)).collect(), next_cursor: next }))
}

pub(crate) async fn load(st: &AppState, caller: &Caller, text: &str) -> ApiResult<ManagedSim> {
    let imsi = imsi(text)?;
    st.store().sim_in(&caller.scope(), &imsi).await?.ok_or_else(|| ApiError::not_found(format!("SIM {imsi} not found")))
}

/// Reads one SIM.
#[utoipa::path(get, path = "/sims/{imsi}", tag = "sims",
    params(("imsi" = String, Path, description = "IMSI", pattern = "^[0-9]{6,15}$")),
    responses((status = 200, body = Sim), Problems), security(("bearer" = [])))]
pub async fn get(Ctx { st, caller }: Ctx, Path(id): Path<String>) -> ApiResult<axum::Json<Sim>> {
    caller.require(Action::Read)?;
    let sim = load(&st, &caller, &id).await?;
    Ok(axum::Json(view(&sim, &st.store().list_ranges().await?)))
}

/// A change to one SIM: a new status, a new profile, data barring, or several (in that order).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SimPatch {
    /// New lifecycle status.
    #[serde(default, deserialize_with = "super::present")]
    #[schema(nullable = false)]
    pub status: Option<Status>,
    /// New service profile (one of the operator's profiles).
    #[serde(default, deserialize_with = "super::present")]
    #[schema(nullable = false)]
    pub profile: Option<String>,
    /// Bar (`true`) or unbar packet data (Operator-Determined-Barring; the MME gets IDR).
    #[serde(default, deserialize_with = "super::present")]
    #[schema(nullable = false)]
    pub data_barred: Option<bool>,
}

/// Changes a SIM's status, profile or data barring; the HSS is told at once (CLR/IDR to the serving
/// MME). Terminating needs a step-up; terminating a critical SIM is answered 202 with a request for a
/// second person's approval (send it alone, without other changes).
#[utoipa::path(patch, path = "/sims/{imsi}", tag = "sims",
    params(("imsi" = String, Path, description = "IMSI", pattern = "^[0-9]{6,15}$")), request_body = SimPatch,
    responses((status = 200, body = Sim), (status = 202, body = Requested), Problems), security(("bearer" = [])))]
pub async fn patch(
    Ctx { st, caller }: Ctx,
    Path(id): Path<String>,
    Json(p): Json<SimPatch>,
) -> ApiResult<axum::response::Response> {
    caller.require(Action::ManageSims)?;
    // An empty patch changes nothing and answers the SIM as it is.
    let imsi = imsi(&id)?;
    let (store, hss) = (st.store(), st.0.hss.as_ref());
    let (actor, factor) = match p.status {
        Some(Status::Terminated) => caller.fresh(&st, "terminating a SIM").await?,
        _ => (caller.actor(), None),
    };
    if let Some(to) = p.status {
        match cmp::sims::change_status(store, hss, &actor, &imsi, to.into()).await {
            Ok(_) => {}
            Err(e) if needs_approval(&e) => {
                if p.profile.is_some() || p.data_barred.is_some() {
                    return Err(ApiError::unprocessable(
                        "terminating a critical SIM needs a second person's approval: send the status change alone",
                    ));
                }
                return Ok(ask(&st, &actor, factor.as_deref(), Kind::Terminate, &imsi, "").await?.into_response());
            }
            Err(e) => return Err(e.into()),
        }
    }
    if let Some(profile) = &p.profile {
        cmp::sims::change_profile(store, hss, &actor, &imsi, profile).await?;
    }
    if let Some(barred) = p.data_barred {
        cmp::sims::set_data_barring(store, hss, &actor, &imsi, barred).await?;
    }
    st.events_changed();
    let sim = load(&st, &caller, &id).await?;
    Ok(axum::Json(view(&sim, &st.store().list_ranges().await?)).into_response())
}

/// Lift or restore termination protection.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Protection {
    /// True lifts the protection (the tenant may then suspend or terminate the critical SIM).
    pub lifted: bool,
}

/// Lifts or restores the termination protection of a critical SIM (operator admins only). Lifting
/// needs a step-up, and is answered 202 with a request for a second person's approval.
#[utoipa::path(put, path = "/sims/{imsi}/protection", tag = "sims",
    params(("imsi" = String, Path, description = "IMSI", pattern = "^[0-9]{6,15}$")), request_body = Protection,
    responses((status = 200, body = Sim), (status = 202, body = Requested), Problems), security(("bearer" = [])))]
pub async fn protection(
    Ctx { st, caller }: Ctx,
    Path(id): Path<String>,
    Json(p): Json<Protection>,
) -> ApiResult<axum::response::Response> {
    caller.require(Action::ProtectCritical)?;
    let imsi = imsi(&id)?;
    let (actor, factor) = match p.lifted {
        true => caller.fresh(&st, "lifting critical protection").await?,
        false => (caller.actor(), None),
    };
    let changed = match cmp::sims::set_protection(st.store(), &actor, &imsi, p.lifted).await {
        Ok(c) => c,
        Err(e) if needs_approval(&e) => {
            return Ok(ask(&st, &actor, factor.as_deref(), Kind::LiftProtection, &imsi, "").await?.into_response())
        }
        Err(e) => return Err(e.into()),
    };
    st.events_changed();
    Ok(axum::Json(view(&changed.after, &st.store().list_ranges().await?)).into_response())
}

/// SIMs to import into a tenant (all or nothing).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SimImport {
    /// Tenant that will own the SIMs.
    #[schema(pattern = "^[A-Za-z0-9_-]{1,64}$")]
    pub tenant: String,
    /// The SIMs (at most 10,000 per request). `k` and `opc`/`op` are hex; they are sealed at once
    /// and never returned. Status defaults to `inventory`.
    #[schema(min_items = 1, max_items = 10000, value_type = Vec<SimRecordSchema>)]
    pub sims: Vec<SimRecord>,
}

/// One SIM of an import, as the OpenAPI document describes it (the request is read into
/// `cmp::provisioning::SimRecord`, which keeps no schema of its own: the API owns its contract).
#[derive(ToSchema)]
#[schema(as = SimRecord)]
#[allow(dead_code)]
pub struct SimRecordSchema {
    /// IMSI, 6–15 digits.
    imsi: String,
    /// ICCID (18–20 digits with its Luhn check digit).
    #[schema(required = false)]
    iccid: String,
    /// MSISDN (E.164 digits).
    #[schema(required = false)]
    msisdn: String,
    /// EID of the eUICC (32 digits).
    #[schema(required = false)]
    eid: String,
    /// K, 32 or 64 hex digits.
    k: String,
    /// OPc (TOPc for TUAK), hex; give this or `op`.
    #[schema(required = false)]
    opc: String,
    /// OP (TOP for TUAK), hex; converted to OPc at once and never stored.
    #[schema(required = false)]
    op: String,
    /// AMF, 4 hex digits (default `0000`).
    #[schema(required = false)]
    amf: String,
    /// `milenage` (default) or `tuak`.
    #[schema(required = false)]
    algorithm: String,
    /// Service profile.
    #[schema(required = false)]
    profile: String,
    /// `critical`, `standard` (default) or `low`.
    #[schema(required = false)]
    priority: String,
    /// Tenant (must be the request's, or absent).
    #[schema(required = false)]
    tenant: String,
    /// Initial status (default `inventory`).
    #[schema(required = false)]
    status: String,
}

/// Outcome of an import.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportResult {
    /// SIMs stored.
    pub imported: usize,
}

/// Most SIMs per import request.
pub const MAX_IMPORT: usize = 10_000;

/// Imports SIMs with their keys into a tenant (operator admins). Nothing is stored unless every SIM is
/// valid; SIMs in a range marked `handset` are refused (IoT segregation).
#[utoipa::path(post, path = "/sims", tag = "sims", request_body = SimImport, params(IdempotencyKey),
    responses((status = 201, body = ImportResult), Problems), security(("bearer" = [])))]
pub async fn import(
    Ctx { st, caller }: Ctx,
    Json(req): Json<SimImport>,
) -> ApiResult<(StatusCode, axum::Json<ImportResult>)> {
    caller.require(Action::Operate)?;
    if req.sims.is_empty() || req.sims.len() > MAX_IMPORT {
        return Err(ApiError::unprocessable(format!("sims: give 1..={MAX_IMPORT} SIMs")));
    }
    if !st.store().tenant_exists(&req.tenant).await? {
        return Err(ApiError::unprocessable(format!("tenant {} does not exist", req.tenant)));
    }
    let mut errors = Vec::new();
    let mut sims = Vec::with_capacity(req.sims.len());
    for (i, r) in req.sims.iter().enumerate() {
        match r.to_new_sim(SimStatus::Inventory) {
            Ok(mut s) => {
                if !r.tenant.trim().is_empty() && r.tenant.trim() != req.tenant {
                    errors.push(format!("sims[{i}]: tenant differs from the request's"));
                    continue;
                }
                s.tenant = req.tenant.clone();
                sims.push(s);
            }
            Err(e) => errors.push(format!("sims[{i}]: {e}")),
        }
    }
    if !errors.is_empty() {
        let n = errors.len();
        errors.truncate(20);
        return Err(ApiError::unprocessable(format!("{n} invalid SIM(s), nothing imported: {}", errors.join("; "))));
    }
    let first = sims.first().map(|s| s.imsi.to_string()).unwrap_or_default();
    let last = sims.last().map(|s| s.imsi.to_string()).unwrap_or_default();
    let resource = format!("sims/{first}..{last}");
    let n = cmp::sims::import(st.store(), &caller.actor(), &sims, &resource, &|_| {}).await?;
    Ok((StatusCode::CREATED, axum::Json(ImportResult { imported: n })))
}
