//! Warden's device certificates (issue #19, SEC-7): an embedded issuing CA per tenant or per
//! operator (ECDSA P-256 keys generated here, sealed in the store like K/OPc), an EST server over
//! HTTPS (RFC 7030: `cacerts`, `simpleenroll` with a one-time token, `simplereenroll` with the
//! current certificate as TLS client certificate, `csrattrs`), and revocation published as a CRL
//! (RFC 5280) and by an OCSP responder (RFC 6960).
//!
//! Modules: [`identity`] (what a certificate binds), [`csr`] (request checks), [`ca`] (issuing,
//! CRLs), [`ocsp`], [`pkcs7`] (EST's certs-only answers), [`der`] (the DER pieces needed),
//! [`authorities`] (the CAs in memory), [`enrol`] (the issuing path), [`tokens`] (one-time
//! enrolment tokens), [`throttle`] (failed tokens per source and per endpoint), [`server`] (the
//! listeners) and [`settings`].

pub mod authorities;
pub mod ca;
pub mod csr;
pub mod der;
pub mod enrol;
pub mod identity;
pub mod metrics;
pub mod ocsp;
pub mod pkcs7;
pub mod server;
pub mod settings;
pub mod throttle;
pub mod tls;
pub mod tokens;

pub use enrol::Enroller;
pub use settings::{CaMode, EstSettings, Policy};

/// Why an EST operation failed; each maps to an HTTP status with the reason as its body.
#[derive(Debug, thiserror::Error)]
pub enum EstError {
    /// 400: the request is refused (bad CSR, forbidden subject, …).
    #[error("{0}")]
    BadRequest(String),
    /// 401: no valid credential.
    #[error("{0}")]
    Unauthorized(String),
    /// 403: the credential may not do this (revoked certificate, …).
    #[error("{0}")]
    Forbidden(String),
    /// 404: no such CA.
    #[error("{0}")]
    NotFound(String),
    /// 500: storage.
    #[error("storage: {0}")]
    Store(#[from] store::StoreError),
    /// 500: the CA failed.
    #[error("CA: {0}")]
    Ca(#[from] ca::CaError),
}
