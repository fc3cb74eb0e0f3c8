//! An issuing CA: a self-signed ECDSA P-256 certificate authority (its key generated here, stored
//! sealed by the caller), issuing short-lived device certificates that carry the device's identity
//! ([`crate::identity`]), the CRL distribution point and the OCSP responder's address, and signing
//! CRLs and OCSP responses.

use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, CrlDistributionPoint, CustomExtension,
    DnType, ExtendedKeyUsagePurpose, IsCa, KeyIdMethod, KeyPair, KeyUsagePurpose, PublicKeyData, RevocationReason,
    RevokedCertParams, SanType, SerialNumber, SigningKey, PKCS_ECDSA_P256_SHA256,
};
use ring::rand::SecureRandom as _;
use time::OffsetDateTime;
use zeroize::Zeroizing;

use crate::der;
use crate::identity::DeviceIdentity;

/// How long a CA certificate is valid: ten years.
pub const CA_VALIDITY_SECS: i64 = 10 * 365 * 86_400;

/// Clock skew allowed for: certificates are valid from a minute before they were issued.
pub const BACKDATE_SECS: i64 = 60;

/// Why the CA cannot do something.
#[derive(Debug, thiserror::Error)]
pub enum CaError {
    /// rcgen refused.
    #[error("certificate building: {0}")]
    Build(#[from] rcgen::Error),
    /// The stored CA certificate does not parse.
    #[error("CA certificate: {0}")]
    Certificate(String),
    /// The random generator failed.
    #[error("random generator failed")]
    Rng,
}

pub use store::devcerts::reason_code;

fn rcgen_reason(code: u8) -> RevocationReason {
    match code {
        1 => RevocationReason::KeyCompromise,
        2 => RevocationReason::CaCompromise,
        3 => RevocationReason::AffiliationChanged,
        4 => RevocationReason::Superseded,
        5 => RevocationReason::CessationOfOperation,
        6 => RevocationReason::CertificateHold,
        9 => RevocationReason::PrivilegeWithdrawn,
        _ => RevocationReason::Unspecified,
    }
}

/// Where relying parties find revocation data, written into every certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevocationUrls {
    /// The CRL of this CA.
    pub crl: String,
    /// The OCSP responder.
    pub ocsp: String,
}

/// A device public key: an uncompressed P-256 point.
struct DeviceKey<'a>(&'a [u8]);

impl PublicKeyData for DeviceKey<'_> {
    fn der_bytes(&self) -> &[u8] {
        self.0
    }

    fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
        &PKCS_ECDSA_P256_SHA256
    }
}

/// A certificate just issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issued {
    /// Serial, lower-case hex (16 bytes, positive, as DER encodes it).
    pub serial: String,
    /// DER.
    pub der: Vec<u8>,
    /// Unix seconds.
    pub not_before: i64,
    /// Unix seconds.
    pub not_after: i64,
}

/// An issuing CA ready to sign.
pub struct Authority {
    /// `*` for the operator's, else the tenant.
    pub scope: String,
    /// Its certificate, DER.
    pub cert_der: Vec<u8>,
    issuer: rcgen::Issuer<'static, KeyPair>,
    name_der: Vec<u8>,
    key_bits: Vec<u8>,
}

impl std::fmt::Debug for Authority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Authority(scope {:?}, [key redacted])", self.scope)
    }
}

fn at(t: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(t).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// 16 random bytes as a positive DER INTEGER's content (top bit clear, second bit set so that no
/// leading zero octet is ever dropped or added).
fn random_serial() -> Result<[u8; 16], CaError> {
    let mut s = [0u8; 16];
    ring::rand::SystemRandom::new().fill(&mut s).map_err(|_| CaError::Rng)?;
    s[0] = (s[0] & 0x7f) | 0x40;
    Ok(s)
}

fn trim_zeros(b: &[u8]) -> &[u8] {
    let skip = b.iter().take_while(|x| **x == 0).count().min(b.len() - 1);
    &b[skip..]
}

/// The label of a CA scope in URLs: `operator` for `*`, `t-<tenant>` for a tenant.
pub fn label(scope: &str) -> String {
    if scope == "*" {
        "operator".into()
    } else {
        format!("t-{scope}")
    }
}

/// The scope of a URL label ([`label`]'s inverse).
pub fn scope_of_label(label: &str) -> Option<String> {
    if label == "operator" {
        return Some("*".into());
    }
    label.strip_prefix("t-").filter(|t| !t.is_empty()).map(str::to_string)
}

impl Authority {
    /// A new CA for `scope`: a fresh P-256 key and a self-signed certificate. Returns the CA and its
    /// key as PKCS#8 (to be sealed by the store).
    pub fn generate(scope: &str, now: i64) -> Result<(Self, Zeroizing<Vec<u8>>), CaError> {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
        let pkcs8 = Zeroizing::new(key.serialize_der());
        let mut params = CertificateParams::default();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params.distinguished_name.push(DnType::OrganizationName, "Warden");
        let who = if scope == "*" { "operator".to_string() } else { format!("tenant {scope}") };
        params.distinguished_name.push(DnType::CommonName, format!("Warden device CA ({who})"));
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages =
            vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
        params.serial_number = Some(SerialNumber::from_slice(&random_serial()?));
        params.not_before = at(now - BACKDATE_SECS);
        params.not_after = at(now + CA_VALIDITY_SECS);
        let cert = params.self_signed(&key)?;
        let authority = Self::from_parts(scope, cert.der().to_vec(), &pkcs8)?;
        Ok((authority, pkcs8))
    }

    /// The CA of `scope` from its stored certificate and key.
    pub fn from_parts(scope: &str, cert_der: Vec<u8>, pkcs8: &[u8]) -> Result<Self, CaError> {
        let key = KeyPair::from_pkcs8_der_and_sign_algo(
            &rustls::pki_types::PrivatePkcs8KeyDer::from(pkcs8),
            &PKCS_ECDSA_P256_SHA256,
        )?;
        let (name_der, key_bits) = {
            let (_, x) =
                x509_parser::parse_x509_certificate(&cert_der).map_err(|e| CaError::Certificate(e.to_string()))?;
            (
                x.tbs_certificate.subject.as_raw().to_vec(),
                x.tbs_certificate.subject_pki.subject_public_key.data.to_vec(),
            )
        };
        let issuer = rcgen::Issuer::from_ca_cert_der(&cert_der.as_slice().into(), key)?;
        Ok(Self { scope: scope.to_string(), cert_der, issuer, name_der, key_bits })
    }

    /// The DER of the CA's subject name (what OCSP's issuerNameHash hashes).
    pub fn name_der(&self) -> &[u8] {
        &self.name_der
    }

    /// The CA's public key bits (what OCSP's issuerKeyHash hashes).
    pub fn key_bits(&self) -> &[u8] {
        &self.key_bits
    }

    /// Signs `msg` with the CA key (ECDSA P-256 with SHA-256, DER signature).
    pub fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, CaError> {
        Ok(self.issuer.key().sign(msg)?)
    }

    /// Issues a certificate for `id` with the device's `public_key` (an uncompressed P-256 point),
    /// valid `lifetime_secs` from `now`.
    pub fn issue(
        &self,
        id: &DeviceIdentity,
        public_key: &[u8],
        lifetime_secs: i64,
        urls: &RevocationUrls,
        now: i64,
    ) -> Result<Issued, CaError> {
        let serial = random_serial()?;
        let mut params = CertificateParams::default();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params.distinguished_name.push(DnType::CommonName, id.endpoint.as_str());
        params.subject_alt_names =
            id.san_uris().into_iter().map(|u| Ok(SanType::URI(u.try_into()?))).collect::<Result<_, rcgen::Error>>()?;
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params.serial_number = Some(SerialNumber::from_slice(&serial));
        let (not_before, not_after) = (now - BACKDATE_SECS, now + lifetime_secs);
        params.not_before = at(not_before);
        params.not_after = at(not_after);
        params.use_authority_key_identifier_extension = true;
        params.key_identifier_method = KeyIdMethod::Sha256;
        params.crl_distribution_points = vec![CrlDistributionPoint { uris: vec![urls.crl.clone()] }];
        let aia = der::seq(&[&der::seq(&[&der::oid(der::oid::AD_OCSP), &der::tlv(0x86, urls.ocsp.as_bytes())])]);
        params.custom_extensions = vec![CustomExtension::from_oid_content(der::oid::AIA_ARCS, aia)];
        let cert = params.signed_by(&DeviceKey(public_key), &self.issuer)?;
        Ok(Issued { serial: hex::encode(serial), der: cert.der().to_vec(), not_before, not_after })
    }

    /// A CRL listing `revoked` (serial hex, Unix seconds, reason name), valid until
    /// `now + next_update_secs`; its number is `now` (it grows with every CRL).
    pub fn crl(
        &self,
        revoked: &[(String, i64, Option<String>)],
        now: i64,
        next_update_secs: i64,
    ) -> Result<Vec<u8>, CaError> {
        let revoked_certs = revoked
            .iter()
            .filter_map(|(serial, t, reason)| {
                let bytes = hex::decode(serial).ok()?;
                Some(RevokedCertParams {
                    serial_number: SerialNumber::from_slice(&bytes),
                    revocation_time: at(*t),
                    reason_code: reason.as_deref().and_then(reason_code).map(rcgen_reason),
                    invalidity_date: None,
                })
            })
            .collect();
        let params = CertificateRevocationListParams {
            this_update: at(now),
            next_update: at(now + next_update_secs.max(1)),
            crl_number: SerialNumber::from_slice(trim_zeros(&now.max(1).to_be_bytes())),
            issuing_distribution_point: None,
            revoked_certs,
            key_identifier_method: KeyIdMethod::Sha256,
        };
        Ok(params.signed_by(&self.issuer)?.der().to_vec())
    }
}
