//! The issuing path: enrolment with a one-time token (RFC 7030 §4.2.1) and re-enrolment with the
//! current certificate (§4.2.2), each checking the request ([`crate::csr`]) against what the
//! credential allows before anything is signed, and recording the certificate (consuming the
//! token) in one transaction; plus the CRL, OCSP and CA certificate answers.

use std::sync::Arc;

use store::devcerts::{DeviceCertRow, EnrolmentGrant, NewDeviceCert};
use store::{Store, StoreError};

use crate::authorities::Authorities;
use crate::ca::{self, Authority, Issued, RevocationUrls};
use crate::csr::{self, CheckedCsr};
use crate::identity::DeviceIdentity;
use crate::ocsp;
use crate::settings::{CaMode, Policy};
use crate::throttle::FailedTokens;
use crate::EstError;

/// The CA-and-policy side of the EST server.
#[derive(Debug)]
pub struct Enroller {
    store: Store,
    /// The CAs.
    pub authorities: Authorities,
    /// Lifetimes, CA mode, URLs.
    pub policy: Policy,
    /// Failed enrolment tokens per source and per endpoint.
    pub failed_tokens: FailedTokens,
}

/// Checks that `csr` asks for nothing beyond `id`: its common name is the endpoint, and each
/// subject alternative name it requests is one the certificate will carry.
pub fn check_against(csr: &CheckedCsr, id: &DeviceIdentity) -> Result<(), EstError> {
    if csr.common_name != id.endpoint {
        return Err(EstError::BadRequest(format!(
            "forbidden subject: CN={} is not the endpoint this credential allows (CN={})",
            csr.common_name, id.endpoint
        )));
    }
    let allowed = id.san_uris();
    if let Some(extra) = csr.san_uris.iter().find(|u| !allowed.contains(u)) {
        return Err(EstError::BadRequest(format!(
            "forbidden extension: subject alternative name {extra} is not bound to this device (allowed: {})",
            if allowed.is_empty() { "none".to_string() } else { allowed.join(", ") }
        )));
    }
    Ok(())
}

/// Checks `csr_der` and, when it fits `id`, issues its certificate with `ca`: the pure issuing path
/// (no storage), what the benchmark measures.
pub fn issue_for(
    ca: &Authority,
    id: &DeviceIdentity,
    csr_der: &[u8],
    policy: &Policy,
    now: i64,
) -> Result<Issued, EstError> {
    let checked = csr::check(csr_der).map_err(|e| EstError::BadRequest(e.to_string()))?;
    check_against(&checked, id)?;
    Ok(ca.issue(id, &checked.public_key, policy.lifetime_secs, &policy.urls(&ca.scope), now)?)
}

impl Enroller {
    /// Over `store` with `policy`.
    pub fn new(store: Store, policy: Policy) -> Self {
        let failed_tokens = FailedTokens::new(&policy.failed_tokens);
        Self { authorities: Authorities::new(store.clone()), store, policy, failed_tokens }
    }

    /// The largest request body accepted.
    pub fn policy_max_body(&self) -> usize {
        self.policy.max_body
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The CA scope for a tenant's devices.
    pub fn ca_scope(&self, tenant: &str) -> String {
        match self.policy.ca_mode {
            CaMode::Operator => "*".into(),
            CaMode::Tenant => tenant.to_string(),
        }
    }

    async fn record(
        &self,
        ca: &Authority,
        tenant: &str,
        id: &DeviceIdentity,
        issued: &Issued,
        replaces: Option<&str>,
        token_hash: Option<&str>,
    ) -> Result<(), EstError> {
        let row = NewDeviceCert {
            serial: issued.serial.clone(),
            ca_scope: ca.scope.clone(),
            tenant: tenant.to_string(),
            endpoint: id.endpoint.clone(),
            subject: id.subject(),
            san: id.san_uris(),
            imsi: id.imsi.clone(),
            imei: id.imei.clone(),
            not_before: issued.not_before,
            not_after: issued.not_after,
            replaces: replaces.map(str::to_string),
            cert_der: issued.der.clone(),
        };
        match self.store.record_device_cert(&row, token_hash).await {
            Ok(()) => Ok(()),
            Err(StoreError::Conflict(m)) if token_hash.is_some() => Err(EstError::Unauthorized(m)),
            Err(StoreError::Conflict(m)) => Err(EstError::Forbidden(m)),
            Err(e) => Err(e.into()),
        }
    }

    /// `simpleenroll` with a one-time `token` (and, with HTTP Basic, the user name, which must be the
    /// endpoint name): returns the certificate issued.
    pub async fn enrol(&self, token: &str, user: Option<&str>, csr_der: &[u8]) -> Result<Issued, EstError> {
        let grant: EnrolmentGrant =
            self.store.est_grant(token).await?.map_err(|r| EstError::Unauthorized(r.to_string()))?;
        if let Some(u) = user.filter(|u| *u != grant.endpoint) {
            return Err(EstError::Unauthorized(format!("user {u:?} is not the endpoint this token was issued for")));
        }
        let id =
            DeviceIdentity { endpoint: grant.endpoint.clone(), imsi: grant.imsi.clone(), imei: grant.imei.clone() };
        let ca = self.authorities.get_or_create(&self.ca_scope(&grant.tenant)).await?;
        let issued = issue_for(&ca, &id, csr_der, &self.policy, store::now())?;
        self.record(&ca, &grant.tenant, &id, &issued, None, Some(&grant.hash)).await?;
        tracing::info!(endpoint = %id.endpoint, serial = %issued.serial, "device certificate enrolled");
        Ok(issued)
    }

    /// The stored, good, unexpired certificate the TLS client presented (`client_der`).
    pub async fn current_certificate(&self, client_der: &[u8]) -> Result<DeviceCertRow, EstError> {
        let (_, x) = x509_parser::parse_x509_certificate(client_der)
            .map_err(|_| EstError::Unauthorized("the client certificate does not parse".into()))?;
        let serial = hex::encode(x.tbs_certificate.raw_serial());
        let row = self.store.device_cert(&serial).await?;
        let Some(row) = row.filter(|r| r.cert.cert_der == client_der) else {
            return Err(EstError::Forbidden(format!("certificate {serial} was not issued by this EST server")));
        };
        if row.status != "revoked" && row.cert.not_after > store::now() {
            return Ok(row);
        }
        if row.status == "revoked" {
            return Err(EstError::Forbidden(format!("certificate {serial} is revoked: it cannot re-enrol")));
        }
        Err(EstError::Forbidden(format!("certificate {serial} has expired: enrol again with a token")))
    }

    /// `simplereenroll` authenticated by the device's current certificate (`client_der`, proved by
    /// the TLS handshake): the new certificate has the same identity.
    pub async fn reenrol(&self, client_der: &[u8], csr_der: &[u8]) -> Result<Issued, EstError> {
        let old = self.current_certificate(client_der).await?.cert;
        let id = DeviceIdentity { endpoint: old.endpoint.clone(), imsi: old.imsi.clone(), imei: old.imei.clone() };
        let ca = self.authorities.get_or_create(&old.ca_scope).await?;
        let issued = issue_for(&ca, &id, csr_der, &self.policy, store::now())?;
        self.record(&ca, &old.tenant, &id, &issued, Some(&old.serial), None).await?;
        tracing::info!(endpoint = %id.endpoint, serial = %issued.serial, old = %old.serial, "device certificate re-enrolled");
        Ok(issued)
    }

    /// The CA for an EST label: none, the operator's CA (created on first use); a tenant's name, that
    /// tenant's CA once it exists (a label never creates a CA: 404 until the tenant's first token).
    pub async fn ca_for_label(&self, label: Option<&str>) -> Result<Arc<Authority>, EstError> {
        let scope = self.ca_scope(label.unwrap_or("*"));
        if scope == "*" {
            return self.authorities.get_or_create("*").await;
        }
        self.authorities.get(&scope).await?.ok_or_else(|| EstError::NotFound(format!("no CA for label {scope:?}")))
    }

    /// The current CRL of the CA with URL label `label` ([`ca::label`]).
    pub async fn crl(&self, label: &str) -> Result<Vec<u8>, EstError> {
        let scope = ca::scope_of_label(label).ok_or_else(|| EstError::NotFound(format!("no CA {label:?}")))?;
        let ca = self.authorities.get(&scope).await?.ok_or_else(|| EstError::NotFound(format!("no CA {label:?}")))?;
        let revoked: Vec<_> = self
            .store
            .revoked_device_certs(&scope)
            .await?
            .into_iter()
            .map(|r| (r.serial, r.revoked_at, r.reason))
            .collect();
        Ok(ca.crl(&revoked, store::now(), self.policy.crl_next_update_secs)?)
    }

    /// Answers an OCSP request (DER in, DER out: errors are OCSP error statuses).
    pub async fn ocsp(&self, request: &[u8]) -> Vec<u8> {
        match self.ocsp_answer(request).await {
            Ok(answer) => answer,
            Err(EstError::BadRequest(m)) => {
                tracing::debug!(reason = %m, "malformed OCSP request");
                crate::metrics::ocsp("malformed");
                ocsp::error_response(ocsp::response_status::MALFORMED_REQUEST)
            }
            Err(EstError::NotFound(_)) => {
                crate::metrics::ocsp("unauthorized");
                ocsp::error_response(ocsp::response_status::UNAUTHORIZED)
            }
            Err(e) => {
                tracing::warn!(error = %e, "OCSP responder failed");
                crate::metrics::ocsp("internal_error");
                ocsp::error_response(ocsp::response_status::INTERNAL_ERROR)
            }
        }
    }

    async fn ocsp_answer(&self, request: &[u8]) -> Result<Vec<u8>, EstError> {
        let req = ocsp::parse_request(request, 16).map_err(|e| EstError::BadRequest(e.to_string()))?;
        let cas = self.authorities.all().await?;
        let ca = cas
            .iter()
            .find(|ca| req.certs.iter().any(|c| c.issued_by(ca)))
            .ok_or_else(|| EstError::NotFound("no CA here issued these certificates".into()))?;
        let mut answers = Vec::with_capacity(req.certs.len());
        for c in &req.certs {
            let status = match self.store.device_cert(&c.serial).await? {
                Some(row) if c.issued_by(ca) && row.cert.ca_scope == ca.scope => match row.status.as_str() {
                    "revoked" => ocsp::Status::Revoked {
                        at: row.revoked_at.unwrap_or(0),
                        reason: row.revocation_reason.as_deref().and_then(ca::reason_code),
                    },
                    _ => ocsp::Status::Good,
                },
                _ => ocsp::Status::Unknown,
            };
            answers.push((c, status));
        }
        let der = ocsp::response(ca, &answers, req.nonce.as_deref(), store::now(), self.policy.ocsp_next_update_secs)?;
        for (_, status) in &answers {
            crate::metrics::ocsp(match status {
                ocsp::Status::Good => "good",
                ocsp::Status::Revoked { .. } => "revoked",
                ocsp::Status::Unknown => "unknown",
            });
        }
        Ok(der)
    }
}

/// Where the revocation data of the CA of `scope` is published under `base`.
pub fn revocation_urls(base: &str, scope: &str) -> RevocationUrls {
    let base = base.trim_end_matches('/');
    RevocationUrls { crl: format!("{base}/crl/{}.crl", ca::label(scope)), ocsp: format!("{base}/ocsp") }
}
