//! Checking a PKCS#10 certificate request (RFC 2986) before anything is issued: it must parse with
//! nothing after it, carry an ECDSA P-256 key (uncompressed point), be signed with ecdsa-with-SHA256
//! by that key (proof of possession), name exactly `CN=<endpoint>` as its subject, and request no
//! subject alternative name other than the URIs the device may have, and no CA rights. Every
//! refusal says precisely why ([`CsrError`]).

use x509_parser::certification_request::X509CertificationRequest;
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::oid_registry::{OID_KEY_TYPE_EC_PUBLIC_KEY, OID_SIG_ECDSA_WITH_SHA256, OID_X509_COMMON_NAME};
use x509_parser::prelude::FromDer;

/// A request that passed the syntactic and cryptographic checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedCsr {
    /// The subject's common name.
    pub common_name: String,
    /// The subject alternative names it asks for (URIs).
    pub san_uris: Vec<String>,
    /// The public key: the uncompressed P-256 point (65 bytes).
    pub public_key: Vec<u8>,
}

/// Why a request is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CsrError {
    /// Not a PKCS#10 request.
    #[error("not a PKCS#10 certification request: {0}")]
    Malformed(String),
    /// Bytes after the request.
    #[error("trailing bytes after the certification request")]
    Trailing,
    /// A key type other than ECDSA P-256.
    #[error("key type not allowed: {0} (an ECDSA P-256 key is required)")]
    KeyType(String),
    /// A signature algorithm other than ecdsa-with-SHA256.
    #[error("signature algorithm {0} not allowed (ecdsa-with-SHA256 is required)")]
    SignatureAlgorithm(String),
    /// The signature does not verify with the request's own key.
    #[error("the request's signature does not verify with its public key (no proof of possession)")]
    BadSignature,
    /// The subject is not a single common name.
    #[error("forbidden subject: {0}")]
    Subject(String),
    /// A subject alternative name or extension the device may not have.
    #[error("forbidden extension: {0}")]
    Extension(String),
}

/// Parses and checks `der` (see the module documentation).
pub fn check(der: &[u8]) -> Result<CheckedCsr, CsrError> {
    let (rest, csr) = X509CertificationRequest::from_der(der).map_err(|e| CsrError::Malformed(e.to_string()))?;
    if !rest.is_empty() {
        return Err(CsrError::Trailing);
    }
    let info = &csr.certification_request_info;
    let spki = &info.subject_pki;
    if spki.algorithm.algorithm != OID_KEY_TYPE_EC_PUBLIC_KEY {
        return Err(CsrError::KeyType(format!("algorithm {}", spki.algorithm.algorithm)));
    }
    let curve = spki.algorithm.parameters.as_ref().and_then(|p| p.as_oid().ok());
    if curve.as_ref().map(|c| c.to_id_string()).as_deref() != Some("1.2.840.10045.3.1.7") {
        let named = curve.map(|c| c.to_id_string()).unwrap_or_else(|| "none".into());
        return Err(CsrError::KeyType(format!("EC curve {named}")));
    }
    let point = spki.subject_public_key.data.to_vec();
    if point.len() != 65 || point[0] != 4 {
        return Err(CsrError::KeyType("P-256 point is not uncompressed (65 bytes, 0x04 …)".into()));
    }
    if csr.signature_algorithm.algorithm != OID_SIG_ECDSA_WITH_SHA256 {
        return Err(CsrError::SignatureAlgorithm(csr.signature_algorithm.algorithm.to_id_string()));
    }
    csr.verify_signature().map_err(|_| CsrError::BadSignature)?;
    let common_name = subject_common_name(&info.subject)?;
    let mut san_uris = Vec::new();
    for ext in csr.requested_extensions().into_iter().flatten() {
        match ext {
            ParsedExtension::SubjectAlternativeName(san) => {
                for name in &san.general_names {
                    match name {
                        GeneralName::URI(u) => san_uris.push(u.to_string()),
                        other => {
                            return Err(CsrError::Extension(format!(
                                "subject alternative name {other} (only the device's URIs are allowed)"
                            )))
                        }
                    }
                }
            }
            ParsedExtension::BasicConstraints(bc) if bc.ca => {
                return Err(CsrError::Extension("basicConstraints cA=TRUE: devices get no CA rights".into()))
            }
            ParsedExtension::UnsupportedExtension { .. } | ParsedExtension::ParseError { .. } => {
                return Err(CsrError::Extension("an unknown or unparseable extension is requested".into()))
            }
            // Key usages and the like: the CA sets its own.
            _ => {}
        }
    }
    Ok(CheckedCsr { common_name, san_uris, public_key: point })
}

fn subject_common_name(subject: &x509_parser::x509::X509Name<'_>) -> Result<String, CsrError> {
    let attrs: Vec<_> = subject.iter_attributes().collect();
    let [only] = attrs.as_slice() else {
        return Err(CsrError::Subject(format!(
            "{:?}: the subject must be exactly CN=<endpoint name>, this has {} attributes",
            subject.to_string(),
            attrs.len()
        )));
    };
    if *only.attr_type() != OID_X509_COMMON_NAME {
        return Err(CsrError::Subject(format!("{:?}: only a common name (CN) is allowed", subject.to_string())));
    }
    let cn = only.as_str().map_err(|_| CsrError::Subject("the common name is not a string".into()))?;
    crate::identity::check_endpoint(cn).map_err(|e| CsrError::Subject(e.0))?;
    Ok(cn.to_string())
}
