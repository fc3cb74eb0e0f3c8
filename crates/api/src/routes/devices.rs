//! `/devices`: LwM2M devices registered with this process's server (DM-1, docs/devices.md) and the
//! device-management operations on them — read, write, execute, discover, observe. A device belongs
//! to the tenant of the SIM it is linked to; tenants see and act on their own devices only (another
//! tenant's device is answered like one that does not exist), devices not linked to a SIM are the
//! operator's. Writes, executes and observations are audited; executing Reboot (3/0/4) or Factory
//! Reset (3/0/5) needs the same step-up as other sensitive tasks (SEC-8). Answers 503 when this
//! process runs no LwM2M server (`[devices]` not configured).

use std::sync::Arc;

use cmp::Action;
use lwm2m::content::{self, Value};
use lwm2m::runtime::{DeviceView, PathValue, Service};
use lwm2m::server::{OpError, Operation};
use lwm2m::Path as ObjPath;
use serde::{Deserialize, Serialize};
use store::access::Scope;
use utoipa::ToSchema;

use crate::auth::Ctx;
use crate::extract::{Json, Path, Query};
use crate::problem::{ApiError, ApiResult, Problems};
use crate::state::AppState;

fn service(st: &AppState) -> ApiResult<Arc<Service>> {
    st.0.devices
        .get()
        .cloned()
        .ok_or_else(|| ApiError::busy("this instance runs no LwM2M server ([devices] is not configured)", 60))
}

fn tenant(scope: &Scope) -> Option<&str> {
    match scope {
        Scope::Operator => None,
        Scope::Tenant(t) => Some(t),
    }
}

/// Paging of the device list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Endpoint names after this one.
    pub after: Option<String>,
    /// At most this many (1 to 1000, default 100).
    pub limit: Option<usize>,
}

/// A page of devices, in endpoint-name order.
#[derive(Debug, Serialize, ToSchema)]
pub struct DevicePage {
    /// The devices (see `GET /devices/{endpoint}` for the fields).
    #[schema(value_type = Vec<Object>)]
    pub items: Vec<DeviceView>,
    /// Pass as `after` for the next page; absent on the last one.
    pub next: Option<String>,
}

/// Lists the registered devices visible to the caller.
#[utoipa::path(get, path = "/devices", tag = "devices", params(ListQuery),
    responses((status = 200, body = DevicePage), Problems), security(("bearer" = [])))]
pub async fn list(Ctx { st, caller }: Ctx, Query(q): Query<ListQuery>) -> ApiResult<axum::Json<DevicePage>> {
    caller.require(Action::Read)?;
    let svc = service(&st)?;
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::unprocessable("limit: 1 to 1000"));
    }
    let scope = caller.scope();
    let items = svc.devices(tenant(&scope), q.after.as_deref(), limit);
    let next = (items.len() == limit).then(|| items.last().map(|d| d.endpoint.clone())).flatten();
    Ok(axum::Json(DevicePage { items, next }))
}

fn visible_device(svc: &Service, scope: &Scope, endpoint: &str) -> ApiResult<DeviceView> {
    svc.device(tenant(scope), endpoint)
        .ok_or_else(|| ApiError::not_found(format!("device {endpoint} is not registered")))
}

/// A registered device: registration, objects, what was read from objects 3/4, its SIM, and the
/// last value of each observation.
#[utoipa::path(get, path = "/devices/{endpoint}", tag = "devices",
    params(("endpoint" = String, Path, description = "Endpoint client name")),
    responses((status = 200, body = Object), Problems), security(("bearer" = [])))]
pub async fn get(Ctx { st, caller }: Ctx, Path(endpoint): Path<String>) -> ApiResult<axum::Json<DeviceView>> {
    caller.require(Action::Read)?;
    let svc = service(&st)?;
    Ok(axum::Json(visible_device(&svc, &caller.scope(), &endpoint)?))
}

/// A read, discover or observe request.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReadRequest {
    /// Object path (`/3/0/9`).
    pub path: String,
    /// Preferred format: `text`, `tlv`, `senml`, `senml-cbor`, `opaque` (absent: the device's choice).
    #[serde(default)]
    pub format: Option<String>,
    /// `read` (default), `discover`, `observe` or `cancel_observe`.
    #[serde(default)]
    pub mode: Option<String>,
}

/// A write request.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WriteRequest {
    /// Resource path (`/1/0/1`).
    pub path: String,
    /// The value: string, number or boolean; opaque values as `{"hex": "…"}`.
    #[schema(value_type = Object)]
    pub value: serde_json::Value,
    /// Format to send it in: `text` (default), `tlv`, `senml`, `senml-cbor`, `opaque`.
    #[serde(default)]
    pub format: Option<String>,
}

/// An execute request.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExecuteRequest {
    /// Resource path (`/3/0/4` reboot).
    pub path: String,
    /// Arguments (`0='x'`).
    #[serde(default)]
    pub args: Option<String>,
}

/// The device's answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct OperationResult {
    /// CoAP response code (`2.05`).
    pub code: String,
    /// Whether it is a success (2.xx).
    pub success: bool,
    /// Content format of the answer.
    pub content_format: Option<u16>,
    /// Values read, when the answer could be decoded.
    #[schema(value_type = Vec<Object>)]
    pub values: Vec<PathValue>,
    /// The answer as text, for link-format (discover) and undecodable answers.
    pub text: Option<String>,
}

fn object_path(s: &str) -> ApiResult<ObjPath> {
    s.parse().map_err(|e: lwm2m::path::PathError| ApiError::unprocessable(format!("path: {e}")))
}

fn format_code(f: Option<&str>) -> ApiResult<Option<u16>> {
    Ok(match f {
        None => None,
        Some("text") => Some(content::TEXT),
        Some("tlv") => Some(content::TLV),
        Some("senml") => Some(content::SENML_JSON),
        Some("senml-cbor") => Some(content::SENML_CBOR),
        Some("opaque") => Some(content::OPAQUE),
        Some(other) => {
            return Err(ApiError::unprocessable(format!(
                "format: {other:?} is not text, tlv, senml, senml-cbor or opaque"
            )))
        }
    })
}

fn op_error(e: OpError) -> ApiError {
    match e {
        OpError::UnknownDevice(ep) => ApiError::not_found(format!("device {ep} is not registered")),
        OpError::NotObserved(p) => ApiError::not_found(format!("no observation of {p}")),
        OpError::Timeout => ApiError::new(axum::http::StatusCode::GATEWAY_TIMEOUT, "device-timeout", e.to_string()),
        other => ApiError::new(axum::http::StatusCode::BAD_GATEWAY, "device-error", other.to_string()),
    }
}

fn result(path: &ObjPath, r: lwm2m::server::Response) -> OperationResult {
    let decoded = if r.code.is_success() && r.content_format != Some(content::LINK_FORMAT) && !r.payload.is_empty() {
        content::decode(r.content_format, path, &r.payload).ok()
    } else {
        None
    };
    let text = decoded.is_none().then(|| String::from_utf8_lossy(&r.payload).into_owned()).filter(|t| !t.is_empty());
    OperationResult {
        code: r.code.to_string(),
        success: r.code.is_success(),
        content_format: r.content_format,
        values: decoded
            .unwrap_or_default()
            .into_iter()
            .map(|(p, value)| PathValue { path: p.to_string(), value })
            .collect(),
        text,
    }
}

/// Reads (or discovers, observes, cancels an observation of) a path on the device and returns its answer.
#[utoipa::path(post, path = "/devices/{endpoint}/read", tag = "devices", request_body = ReadRequest,
    params(("endpoint" = String, Path, description = "Endpoint client name")),
    responses((status = 200, body = OperationResult), Problems), security(("bearer" = [])))]
pub async fn read(
    Ctx { st, caller }: Ctx,
    Path(endpoint): Path<String>,
    Json(req): Json<ReadRequest>,
) -> ApiResult<axum::Json<OperationResult>> {
    let svc = service(&st)?;
    let path = object_path(&req.path)?;
    let accept = format_code(req.format.as_deref())?;
    let scope = caller.scope();
    let mode = req.mode.as_deref().unwrap_or("read");
    let op = match mode {
        "read" => Operation::Read { path, accept },
        "discover" => Operation::Discover { path },
        "observe" => Operation::Observe { path, accept },
        "cancel_observe" => Operation::CancelObserve { path },
        other => {
            return Err(ApiError::unprocessable(format!(
                "mode: {other:?} is not read, discover, observe or cancel_observe"
            )))
        }
    };
    caller.require(if matches!(mode, "observe" | "cancel_observe") { Action::ManageSims } else { Action::Read })?;
    visible_device(&svc, &scope, &endpoint)?;
    let r = svc.execute(&endpoint, op).await.map_err(op_error)?;
    if matches!(mode, "observe" | "cancel_observe") {
        let entry = caller.actor().audit_entry(
            scope.key(),
            &format!("device.{mode}"),
            &format!("devices/{endpoint}{path}"),
            (),
            serde_json::json!({"code": r.code.to_string()}),
        );
        st.store().append_audit(&entry).await?;
    }
    Ok(axum::Json(result(&path, r)))
}

fn json_value(v: &serde_json::Value) -> ApiResult<Value> {
    Ok(match v {
        serde_json::Value::String(s) => Value::String(s.clone()),
        serde_json::Value::Bool(b) => Value::Boolean(*b),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => Value::Integer(i),
            None => Value::Float(n.as_f64().unwrap_or(0.0)),
        },
        serde_json::Value::Object(o) if o.len() == 1 && o.get("hex").is_some_and(|h| h.is_string()) => {
            let h = o["hex"].as_str().unwrap_or_default();
            Value::Opaque(hex::decode(h).map_err(|_| ApiError::unprocessable("value.hex: not hexadecimal"))?)
        }
        _ => return Err(ApiError::unprocessable("value: a string, number, boolean or {\"hex\": \"…\"}")),
    })
}

/// Writes one resource on the device (PUT, replace) and returns its answer. Audited.
#[utoipa::path(post, path = "/devices/{endpoint}/write", tag = "devices", request_body = WriteRequest,
    params(("endpoint" = String, Path, description = "Endpoint client name")),
    responses((status = 200, body = OperationResult), Problems), security(("bearer" = [])))]
pub async fn write(
    Ctx { st, caller }: Ctx,
    Path(endpoint): Path<String>,
    Json(req): Json<WriteRequest>,
) -> ApiResult<axum::Json<OperationResult>> {
    caller.require(Action::ManageSims)?;
    let svc = service(&st)?;
    let path = object_path(&req.path)?;
    if path.resource.is_none() {
        return Err(ApiError::unprocessable("path: a write names a resource (/object/instance/resource)"));
    }
    let format = format_code(req.format.as_deref())?.unwrap_or(content::TEXT);
    let value = json_value(&req.value)?;
    let payload =
        content::encode_resource(format, &path, &value).map_err(|e| ApiError::unprocessable(e.to_string()))?;
    let scope = caller.scope();
    visible_device(&svc, &scope, &endpoint)?;
    let r =
        svc.execute(&endpoint, Operation::Write { path, format, payload, replace: true }).await.map_err(op_error)?;
    let summary = serde_json::json!({"path": path.to_string(), "format": format, "code": r.code.to_string()});
    let entry =
        caller.actor().audit_entry(scope.key(), "device.write", &format!("devices/{endpoint}{path}"), (), &summary);
    st.store().append_audit(&entry).await?;
    Ok(axum::Json(result(&path, r)))
}

/// Whether executing `path` is a sensitive task (SEC-8): Reboot 3/0/4 and Factory Reset 3/0/5.
pub fn execute_needs_step_up(path: &ObjPath) -> bool {
    path.object == 3 && matches!(path.resource, Some(4) | Some(5))
}

/// Executes a resource on the device and returns its answer. Reboot (3/0/4) and Factory Reset
/// (3/0/5) need a fresh step-up. Audited.
#[utoipa::path(post, path = "/devices/{endpoint}/execute", tag = "devices", request_body = ExecuteRequest,
    params(("endpoint" = String, Path, description = "Endpoint client name")),
    responses((status = 200, body = OperationResult), Problems), security(("bearer" = [])))]
pub async fn execute(
    Ctx { st, caller }: Ctx,
    Path(endpoint): Path<String>,
    Json(req): Json<ExecuteRequest>,
) -> ApiResult<axum::Json<OperationResult>> {
    caller.require(Action::ManageSims)?;
    let svc = service(&st)?;
    let path = object_path(&req.path)?;
    if path.resource.is_none() || path.resource_instance.is_some() {
        return Err(ApiError::unprocessable("path: an execute names a resource (/object/instance/resource)"));
    }
    if req.args.as_ref().is_some_and(|a| a.len() > 1024) {
        return Err(ApiError::unprocessable("args: at most 1024 characters"));
    }
    let scope = caller.scope();
    visible_device(&svc, &scope, &endpoint)?;
    let actor = if execute_needs_step_up(&path) {
        caller.fresh(&st, "a device reboot or factory reset").await?.0
    } else {
        caller.actor()
    };
    let r = svc.execute(&endpoint, Operation::Execute { path, args: req.args.clone() }).await.map_err(op_error)?;
    let summary = serde_json::json!({"path": path.to_string(), "code": r.code.to_string()});
    let entry = actor.audit_entry(scope.key(), "device.execute", &format!("devices/{endpoint}{path}"), (), &summary);
    st.store().append_audit(&entry).await?;
    Ok(axum::Json(result(&path, r)))
}

/// Re-reads a registered device's objects 3 and 4 and writes what it said to its snapshot (the LwM2M
/// server of this process implements it).
pub trait DeviceRefresh: Send + Sync {
    /// Reads `endpoint` now; an error when it is not registered here or did not answer.
    fn refresh<'a>(
        &'a self,
        endpoint: &'a str,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), OpError>> + Send + 'a>>;
}

/// What the store knows of a device (DM-1): the last values it reported in objects 3 and 4, and its
/// registration. Kept across restarts and the same on every instance.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeviceSnapshotView {
    /// Endpoint client name.
    pub endpoint: String,
    /// The SIM it is linked to.
    pub imsi: Option<String>,
    /// The SIM's tenant; absent for a device linked to no SIM (the operator's).
    pub tenant: Option<String>,
    /// Manufacturer (3/0/0).
    pub manufacturer: Option<String>,
    /// Model number (3/0/1).
    pub model: Option<String>,
    /// Serial number (3/0/2).
    pub serial: Option<String>,
    /// Firmware version (3/0/3).
    pub firmware_version: Option<String>,
    /// Battery level, percent (3/0/9).
    pub battery: Option<i64>,
    /// Radio signal strength, dBm (4/0/2).
    pub signal_dbm: Option<i64>,
    /// Unix seconds of the last read of objects 3/4; absent before the first.
    pub objects_read_at: Option<i64>,
    /// Unix seconds of its latest registration.
    pub registered_at: i64,
    /// Unix seconds it was last heard from (written at most once a minute between other changes).
    pub last_seen: i64,
    /// Whether it is registered now.
    pub registered: bool,
    /// The instance (Diameter origin host) holding (or that last held) its registration.
    pub instance: String,
    /// The IMEI the device reports (endpoint name or serial), when it reports one.
    pub reported_imei: Option<String>,
    /// Present when the reported IMEI is not the one the HSS saw in the SIM's last Update-Location
    /// (a `device.imei_mismatch` event was recorded): the HSS's IMEI.
    pub imei_mismatch: Option<String>,
}

impl From<store::device_snapshots::DeviceSnapshot> for DeviceSnapshotView {
    fn from(s: store::device_snapshots::DeviceSnapshot) -> Self {
        DeviceSnapshotView {
            endpoint: s.endpoint,
            imsi: s.imsi,
            tenant: (s.tenant != store::device_snapshots::OPERATOR_TENANT).then_some(s.tenant),
            manufacturer: s.objects.manufacturer,
            model: s.objects.model,
            serial: s.objects.serial,
            firmware_version: s.objects.firmware,
            battery: s.objects.battery,
            signal_dbm: s.objects.signal_dbm,
            objects_read_at: s.objects_read_at,
            registered_at: s.registered_at,
            last_seen: s.last_seen,
            registered: s.registered,
            instance: s.instance,
            reported_imei: s.reported_imei,
            imei_mismatch: s.hss_imei,
        }
    }
}

/// The devices linked to one SIM.
#[derive(Debug, Serialize, ToSchema)]
pub struct SimDevices {
    /// Registered devices first, then by latest registration (at most 100).
    pub items: Vec<DeviceSnapshotView>,
}

/// The devices linked to a SIM, from the stored snapshots (so the same after a restart and on every
/// instance): what objects 3/4 reported, registration, last seen, IMEI mismatch. A SIM of another
/// tenant is answered 404 like a missing one.
#[utoipa::path(get, path = "/sims/{imsi}/devices", tag = "devices",
    params(("imsi" = String, Path, description = "IMSI", pattern = "^[0-9]{6,15}$")),
    responses((status = 200, body = SimDevices), Problems), security(("bearer" = [])))]
pub async fn of_sim(Ctx { st, caller }: Ctx, Path(imsi): Path<String>) -> ApiResult<axum::Json<SimDevices>> {
    caller.require(Action::Read)?;
    let sim = super::sims::load(&st, &caller, &imsi).await?;
    let rows = st.store().device_snapshots_of_sim(&caller.scope(), sim.sim.imsi.as_str()).await?;
    Ok(axum::Json(SimDevices { items: rows.into_iter().map(Into::into).collect() }))
}

/// Re-reads the device's objects 3/0 and 4/0 now and answers its updated snapshot. Only the instance
/// holding the registration can: elsewhere 409 `device-elsewhere` names that instance; a device not
/// registered now is 409 `device-not-registered`. Audited (`device.refresh`).
#[utoipa::path(post, path = "/devices/{endpoint}/refresh", tag = "devices",
    params(("endpoint" = String, Path, description = "Endpoint client name")),
    responses((status = 200, body = DeviceSnapshotView), Problems), security(("bearer" = [])))]
pub async fn refresh(
    Ctx { st, caller }: Ctx,
    Path(endpoint): Path<String>,
) -> ApiResult<axum::Json<DeviceSnapshotView>> {
    caller.require(Action::ManageSims)?;
    let scope = caller.scope();
    let missing = || ApiError::not_found(format!("device {endpoint} not found"));
    let snapshot = st.store().device_snapshot_in(&scope, &endpoint).await?.ok_or_else(missing)?;
    let here = st.0.devices.get().is_some_and(|svc| svc.device(None, &endpoint).is_some());
    let refresher = st.0.device_refresh.get().filter(|_| here);
    let Some(refresher) = refresher else {
        return Err(if snapshot.registered {
            ApiError::new(
                axum::http::StatusCode::CONFLICT,
                "device-elsewhere",
                format!(
                    "device {endpoint} is registered with instance {}, not this one; send the refresh to that \
                     instance",
                    snapshot.instance
                ),
            )
        } else {
            ApiError::new(
                axum::http::StatusCode::CONFLICT,
                "device-not-registered",
                format!(
                    "device {endpoint} is not registered (last seen at {}); it is read again when it registers",
                    snapshot.last_seen
                ),
            )
        });
    };
    let outcome = refresher.refresh(&endpoint).await;
    let summary =
        serde_json::json!({"outcome": match &outcome { Ok(()) => "read".to_string(), Err(e) => e.to_string() }});
    let entry = caller.actor().audit_entry(scope.key(), "device.refresh", &format!("devices/{endpoint}"), (), &summary);
    st.store().append_audit(&entry).await?;
    outcome.map_err(op_error)?;
    let snapshot = st.store().device_snapshot_in(&scope, &endpoint).await?.ok_or_else(missing)?;
    Ok(axum::Json(snapshot.into()))
}
