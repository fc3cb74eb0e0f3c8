//! The operator's catalogue: service profiles (owned by the operator, assignable by tenants) and IMSI
//! ranges marked `iot` or `handset`, so IoT SIMs are identified and kept apart from handset SIMs.

use axum::http::StatusCode;
use cmp::Action;
use serde::{Deserialize, Serialize};
use store::model::ServiceProfile;
use utoipa::ToSchema;

use super::IdempotencyKey;
use crate::auth::Ctx;
use crate::extract::{Json, Path};
use crate::problem::{ApiError, ApiResult, Problems};

/// A service profile (the grant of one class of SIMs; see docs/hss.md for the fields).
#[derive(Debug, Serialize, ToSchema)]
pub struct Profile {
    /// Name.
    pub name: String,
    /// True when the profile grants no voice or SMS (data-only IoT).
    pub data_only: bool,
    /// The profile as JSON.
    #[schema(value_type = Object)]
    pub body: serde_json::Value,
}

/// Profiles.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProfileList {
    /// Profiles.
    pub items: Vec<Profile>,
}

fn profile_view(p: &ServiceProfile) -> Profile {
    Profile { name: p.name.clone(), data_only: p.data_only(), body: serde_json::to_value(p).unwrap_or_default() }
}

/// A service (SUB-1).
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum ServiceName {
    /// Packet data.
    Data,
    /// SMS.
    Sms,
    /// Voice.
    Voice,
}

/// A radio access type.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum RatName {
    /// 2G.
    Geran,
    /// 3G.
    Utran,
    /// 4G.
    Eutran,
    /// NB-IoT.
    Nbiot,
    /// 5G.
    Nr,
}

/// A PLMN id, MCC followed by MNC.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[schema(pattern = "^[0-9]{5,6}$")]
#[allow(dead_code)]
pub struct PlmnText(String);

/// An APN of a profile.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[allow(dead_code)]
#[serde(deny_unknown_fields)]
pub struct ApnBody {
    /// APN name.
    #[schema(min_length = 1, max_length = 100, pattern = "^[A-Za-z0-9-]+(\\.[A-Za-z0-9-]+)*$")]
    name: String,
    /// `ipv4`, `ipv6`, `ipv4v6`, `ipv4_or_ipv6` or `non_ip`.
    #[schema(pattern = "^(ipv4|ipv6|ipv4v6|ipv4_or_ipv6|non_ip)$")]
    pdn_type: Option<String>,
    /// QCI.
    #[schema(minimum = 1, maximum = 254)]
    qci: Option<u8>,
    /// ARP priority level.
    #[schema(minimum = 1, maximum = 15)]
    arp_priority: Option<u8>,
    /// APN-AMBR uplink, bit/s.
    #[schema(value_type = Option<u64>, maximum = 4294967295_u64)]
    ambr_ul: Option<u32>,
    /// APN-AMBR downlink, bit/s.
    #[schema(value_type = Option<u64>, maximum = 4294967295_u64)]
    ambr_dl: Option<u32>,
}

/// A service profile as written by the operator (the name comes from the path).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct ProfileBody {
    /// Services granted.
    #[schema(min_items = 1)]
    services: Vec<ServiceName>,
    /// Visited PLMNs allowed (empty: all).
    allowed_plmns: Option<Vec<PlmnText>>,
    /// RATs forbidden.
    forbidden_rats: Option<Vec<RatName>>,
    /// `none`, `first` or `list`.
    #[schema(pattern = "^(none|first|list)$")]
    imei_lock: Option<String>,
    /// `event` or `bar`.
    #[schema(pattern = "^(event|bar)$")]
    imei_lock_action: Option<String>,
    /// UE-AMBR uplink, bit/s.
    #[schema(value_type = Option<u64>, maximum = 4294967295_u64)]
    ambr_ul: Option<u32>,
    /// UE-AMBR downlink, bit/s.
    #[schema(value_type = Option<u64>, maximum = 4294967295_u64)]
    ambr_dl: Option<u32>,
    /// IP ranges or domains the devices may reach.
    ip_allowlist: Option<Vec<String>>,
    /// Fixed dialling list.
    fixed_dialling: Option<Vec<String>>,
    /// APNs.
    /// Steering of roaming: the operator's preferred networks for EF_OPLMNwAcT, `MCCMNC[:rat+rat]`
    /// (docs/ota.md).
    oplmn: Option<Vec<String>>,
    /// Steering: also rewrite EF_PLMNwAcT.
    steer_plmnwact: Option<bool>,
    /// Steering: the card's EF size in 5-byte entries.
    #[schema(maximum = 6553)]
    oplmn_file_entries: Option<u16>,
    /// Steering: a risky network goes last (`demote`) or out of the list (`remove`).
    #[schema(pattern = "^(demote|remove)$")]
    steering: Option<String>,
    apn: Option<Vec<ApnBody>>,
}

/// Lists service profiles (every tenant may read them to pick one).
#[utoipa::path(get, path = "/profiles", tag = "catalogue", responses((status = 200, body = ProfileList), Problems),
    security(("bearer" = [])))]
pub async fn list_profiles(Ctx { st, caller }: Ctx) -> ApiResult<axum::Json<ProfileList>> {
    caller.require(Action::Read)?;
    let profiles = st.store().list_profiles().await?;
    Ok(axum::Json(ProfileList { items: profiles.iter().map(profile_view).collect() }))
}

/// Creates or replaces a service profile (operator admins); SIMs using it get IDR.
#[utoipa::path(put, path = "/profiles/{name}", tag = "catalogue",
    params(("name" = String, Path, description = "Profile name", pattern = "^[A-Za-z0-9_.-]{1,64}$")),
    request_body(content = ProfileBody, description = "The profile, as in profiles.toml (docs/hss.md)"),
    responses((status = 200, body = Profile), Problems), security(("bearer" = [])))]
pub async fn put_profile(
    Ctx { st, caller }: Ctx,
    Path(name): Path<String>,
    Json(body): Json<serde_json::Value>,
) -> ApiResult<axum::Json<Profile>> {
    caller.require(Action::Operate)?;
    if name.is_empty() || name.len() > 64 || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b)) {
        return Err(ApiError::bad_request("profile name: 1–64 letters, digits, '_', '.' or '-'"));
    }
    let mut body = body;
    super::integral_floats(&mut body);
    match body.as_object_mut() {
        Some(o) => {
            o.insert("name".into(), serde_json::Value::String(name.clone()));
        }
        None => return Err(ApiError::unprocessable("the profile must be a JSON object")),
    }
    let p: ServiceProfile =
        serde_json::from_value(body).map_err(|e| ApiError::unprocessable(format!("profile: {e}")))?;
    cmp::catalogue::put_profiles(st.store(), &caller.actor(), std::slice::from_ref(&p), &format!("profile/{name}"))
        .await?;
    st.0.hss.profile_edited(&name);
    Ok(axum::Json(profile_view(&p)))
}

/// An IMSI range.
#[derive(Debug, Serialize, ToSchema)]
pub struct Range {
    /// Id.
    pub id: String,
    /// First IMSI.
    pub imsi_from: String,
    /// Last IMSI.
    pub imsi_to: String,
    /// `iot` or `handset`.
    pub segment: String,
    /// Note.
    pub note: String,
    /// Unix seconds.
    pub created_at: i64,
}

/// Ranges.
#[derive(Debug, Serialize, ToSchema)]
pub struct RangeList {
    /// Ranges.
    pub items: Vec<Range>,
}

/// A new range.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRange {
    /// First IMSI.
    #[schema(pattern = "^[0-9]{6,15}$")]
    pub imsi_from: String,
    /// Last IMSI (same length, not below `imsi_from`).
    #[schema(pattern = "^[0-9]{6,15}$")]
    pub imsi_to: String,
    /// `iot` or `handset`.
    #[schema(pattern = "^(iot|handset)$")]
    pub segment: String,
    /// Note.
    #[serde(default)]
    #[schema(max_length = 200)]
    pub note: String,
}

fn range_view(r: store::platform::SimRange) -> Range {
    Range {
        id: r.id,
        imsi_from: r.imsi_from,
        imsi_to: r.imsi_to,
        segment: r.segment,
        note: r.note,
        created_at: r.created_at,
    }
}

/// Lists IMSI ranges.
#[utoipa::path(get, path = "/ranges", tag = "catalogue", responses((status = 200, body = RangeList), Problems),
    security(("bearer" = [])))]
pub async fn list_ranges(Ctx { st, caller }: Ctx) -> ApiResult<axum::Json<RangeList>> {
    caller.require(Action::Read)?;
    Ok(axum::Json(RangeList { items: st.store().list_ranges().await?.into_iter().map(range_view).collect() }))
}

/// Marks an IMSI range as IoT or handset (operator admins).
#[utoipa::path(post, path = "/ranges", tag = "catalogue", request_body = NewRange, params(IdempotencyKey),
    responses((status = 201, body = Range), Problems), security(("bearer" = [])))]
pub async fn create_range(
    Ctx { st, caller }: Ctx,
    Json(r): Json<NewRange>,
) -> ApiResult<(StatusCode, axum::Json<Range>)> {
    let range =
        cmp::catalogue::create_range(st.store(), &caller.actor(), &r.imsi_from, &r.imsi_to, &r.segment, &r.note)
            .await?;
    Ok((StatusCode::CREATED, axum::Json(range_view(range))))
}
