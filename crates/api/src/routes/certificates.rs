//! `/certificates`: device certificates issued over EST (issue #19, SEC-7) — listing them within the
//! caller's tenant, and revoking one (SEC-8: a sensitive task, so a person's session needs a fresh
//! step-up; audited). A revoked certificate shows as revoked in the CRL and OCSP at once and cannot
//! re-enrol. Another tenant's certificate is answered like one that does not exist.

use cmp::Action;
use serde::{Deserialize, Serialize};
use store::devcerts::DeviceCertRow;
use utoipa::{IntoParams, ToSchema};

use crate::auth::Ctx;
use crate::extract::{Json, Path, Query};
use crate::problem::{ApiError, ApiResult, Problems};

/// A device certificate.
#[derive(Debug, Serialize, ToSchema)]
pub struct Certificate {
    /// Serial number, lower-case hex.
    pub serial: String,
    /// Tenant (`*`: the operator's).
    pub tenant: String,
    /// The device's endpoint name.
    pub endpoint: String,
    /// Subject (`CN=<endpoint>`).
    pub subject: String,
    /// Subject alternative names (URIs: `urn:imsi:…`, `urn:imei:…`).
    pub san: Vec<String>,
    /// Bound IMSI.
    pub imsi: Option<String>,
    /// Bound IMEI.
    pub imei: Option<String>,
    /// Unix seconds.
    pub not_before: i64,
    /// Unix seconds.
    pub not_after: i64,
    /// `good` or `revoked`.
    pub status: String,
    /// Unix seconds.
    pub revoked_at: Option<i64>,
    /// RFC 5280 reason name.
    pub revocation_reason: Option<String>,
    /// The serial this one re-enrolled from.
    pub replaces: Option<String>,
}

impl From<DeviceCertRow> for Certificate {
    fn from(r: DeviceCertRow) -> Self {
        let c = r.cert;
        Certificate {
            serial: c.serial,
            tenant: c.tenant,
            endpoint: c.endpoint,
            subject: c.subject,
            san: c.san,
            imsi: c.imsi,
            imei: c.imei,
            not_before: c.not_before,
            not_after: c.not_after,
            status: r.status,
            revoked_at: r.revoked_at,
            revocation_reason: r.revocation_reason,
            replaces: c.replaces,
        }
    }
}

/// Filters of the list.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct CertificateQuery {
    /// Only this endpoint's certificates.
    pub endpoint: Option<String>,
    /// At most this many (1–1000, default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
}

/// Device certificates, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct CertificateList {
    /// The certificates.
    pub items: Vec<Certificate>,
}

/// Lists the device certificates of the caller's tenant (all, for the operator), newest first.
#[utoipa::path(get, path = "/certificates", tag = "devices", params(CertificateQuery),
    responses((status = 200, body = CertificateList), Problems), security(("bearer" = [])))]
pub async fn list(
    Ctx { st, caller }: Ctx,
    Query(q): Query<CertificateQuery>,
) -> ApiResult<axum::Json<CertificateList>> {
    caller.require(Action::Read)?;
    let limit = super::PageQuery { cursor: None, limit: q.limit }.limit()?;
    let rows = st.store().device_certs(&caller.scope(), q.endpoint.as_deref().filter(|e| !e.is_empty()), limit).await?;
    Ok(axum::Json(CertificateList { items: rows.into_iter().map(Certificate::from).collect() }))
}

/// Why a certificate is revoked.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeRequest {
    /// RFC 5280 reason name (default `unspecified`): unspecified, keyCompromise, cACompromise,
    /// affiliationChanged, superseded, cessationOfOperation, certificateHold, privilegeWithdrawn.
    #[serde(default)]
    pub reason: Option<String>,
}

/// Revokes a device certificate (needs a fresh step-up from a person's session; audited). Revoking
/// a revoked certificate keeps its first revocation and answers it.
#[utoipa::path(post, path = "/certificates/{serial}/revoke", tag = "devices",
    params(("serial" = String, Path, description = "Serial number, hex")), request_body = RevokeRequest,
    responses((status = 200, body = Certificate), Problems), security(("bearer" = [])))]
pub async fn revoke(
    Ctx { st, caller }: Ctx,
    Path(serial): Path<String>,
    Json(req): Json<RevokeRequest>,
) -> ApiResult<axum::Json<Certificate>> {
    caller.require(Action::ManageSims)?;
    let serial = store::devcerts::normalise_serial(&serial)
        .ok_or_else(|| ApiError::bad_request(format!("serial {serial:?}: hex digits expected")))?;
    let (actor, _) = caller.fresh(&st, "revoking a device certificate").await?;
    let row = cmp::certificates::revoke(st.store(), &actor, &serial, req.reason.as_deref()).await?;
    Ok(axum::Json(row.into()))
}
