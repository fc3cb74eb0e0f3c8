//! Device certificates (SEC-7): revoking one. The one path for the API (`POST
//! /api/v1/certificates/{serial}/revoke`, after its step-up) and `warden est revoke`: the actor
//! must be allowed to change SIMs, the reason must be an RFC 5280 name, the certificate must be
//! visible to the actor's scope, and the revocation and its audit entry are written in one
//! transaction. A certificate revoked before keeps its first time and reason.

use store::devcerts::DeviceCertRow;
use store::Store;

use crate::actor::Actor;
use crate::error::{Error, Result};
use crate::roles::Action;

/// Revokes the certificate `serial` (stored form, lower-case hex) for `reason` (default
/// `unspecified`), audited as `certificate.revoke` in the same transaction.
pub async fn revoke(store: &Store, actor: &Actor, serial: &str, reason: Option<&str>) -> Result<DeviceCertRow> {
    actor.require(Action::ManageSims)?;
    let reason = reason.unwrap_or("unspecified");
    if store::devcerts::reason_code(reason).is_none() {
        return Err(Error::Invalid(format!("reason: {reason:?} is not an RFC 5280 reason name")));
    }
    let mut tx = store.begin().await?;
    let Some(row) = tx.revoke_device_cert(&actor.scope(), serial, reason).await? else {
        return Err(Error::NotFound(format!("certificate {serial} not found")));
    };
    let after = serde_json::json!({"serial": row.cert.serial, "endpoint": row.cert.endpoint, "status": row.status,
        "reason": row.revocation_reason, "revoked_at": row.revoked_at});
    let entry =
        actor.audit_entry(&row.cert.tenant, "certificate.revoke", &format!("certificates/{serial}"), (), &after);
    tx.append_audit(&entry).await?;
    tx.commit().await?;
    Ok(row)
}
