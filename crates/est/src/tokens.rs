//! One-time enrolment tokens (`warden est token`): a token names the endpoint, optionally binds the
//! SIM's IMSI (the certificate then belongs to the SIM's tenant) and the device's IMEI (15 digits,
//! Luhn-checked), and expires. The token is shown once; the store keeps only its SHA-256. Creating
//! one also creates the tenant's CA, so `cacerts` answers before the first enrolment.

use zeroize::Zeroizing;

use crate::identity::DeviceIdentity;
use crate::{Enroller, EstError};

/// What a new token allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRequest {
    /// The device's identity.
    pub identity: DeviceIdentity,
    /// The tenant (`None`: the SIM's with an IMSI, else the operator's `*`).
    pub tenant: Option<String>,
    /// Validity, seconds.
    pub ttl_secs: i64,
}

/// A token just created.
#[derive(Debug)]
pub struct NewToken {
    /// The token (shown once).
    pub token: Zeroizing<String>,
    /// The tenant its certificate will belong to.
    pub tenant: String,
    /// Unix seconds.
    pub expires_at: i64,
}

/// Creates a token after checking the identity, the SIM and the tenant.
pub async fn create(enroller: &Enroller, req: &TokenRequest, created_by: &str) -> Result<NewToken, EstError> {
    let id = &req.identity;
    id.check().map_err(|e| EstError::BadRequest(e.0))?;
    if let Some(imei) = &id.imei {
        imei.parse::<ids::Imei>().map_err(|e| EstError::BadRequest(e.to_string()))?;
    }
    if !(60..=90 * 86_400).contains(&req.ttl_secs) {
        return Err(EstError::BadRequest(format!("ttl {} s: must be 60 s to 90 days", req.ttl_secs)));
    }
    let store = enroller.store();
    let tenant = match &id.imsi {
        Some(imsi) => {
            let parsed = imsi.parse::<ids::Imsi>().map_err(|e| EstError::BadRequest(e.to_string()))?;
            let sim = store.sim(&parsed).await?.ok_or_else(|| EstError::NotFound(format!("SIM {imsi} not found")))?;
            if let Some(t) = req.tenant.as_deref().filter(|t| *t != sim.tenant) {
                return Err(EstError::BadRequest(format!("SIM {imsi} belongs to tenant {}, not {t}", sim.tenant)));
            }
            sim.tenant
        }
        None => req.tenant.clone().unwrap_or_else(|| "*".into()),
    };
    if tenant != "*" && !store.tenant_exists(&tenant).await? {
        return Err(EstError::NotFound(format!("tenant {tenant} not found")));
    }
    enroller.authorities.get_or_create(&enroller.ca_scope(&tenant)).await?;
    let token = store
        .create_est_token(&tenant, &id.endpoint, id.imsi.as_deref(), id.imei.as_deref(), req.ttl_secs, created_by)
        .await?;
    Ok(NewToken { token, tenant, expires_at: store::now() + req.ttl_secs })
}
