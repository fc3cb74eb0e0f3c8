//! OCSP (RFC 6960): parsing requests (unsigned; signed requests' signatures are not needed and are
//! ignored) and building BasicOCSPResponses signed by the issuing CA itself, with the responder
//! named by key hash, each certificate's status good / revoked (time and reason) / unknown, and the
//! request's nonce extension echoed unchanged (§4.4.1).

use ring::digest;

use crate::ca::{Authority, CaError};
use crate::der::{self, oid, tag, DerError, Reader};

/// The hash a CertID uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdHash {
    /// SHA-1 (what most clients send).
    Sha1,
    /// SHA-256.
    Sha256,
}

/// One certificate asked about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertRef {
    /// The CertID as received (echoed in the answer).
    pub raw: Vec<u8>,
    /// Its hash algorithm; `None` when unsupported (answered unknown).
    pub hash: Option<IdHash>,
    /// Hash of the issuer's name.
    pub name_hash: Vec<u8>,
    /// Hash of the issuer's key.
    pub key_hash: Vec<u8>,
    /// Serial, lower-case hex of the INTEGER's content.
    pub serial: String,
}

/// A parsed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OcspRequest {
    /// The certificates asked about.
    pub certs: Vec<CertRef>,
    /// The nonce extension, whole (to echo).
    pub nonce: Option<Vec<u8>>,
}

/// A certificate's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Issued and not revoked.
    Good,
    /// Revoked at Unix seconds, with the RFC 5280 reason code.
    Revoked {
        /// Unix seconds.
        at: i64,
        /// Reason code.
        reason: Option<u8>,
    },
    /// Not a certificate this responder knows.
    Unknown,
}

/// OCSPResponseStatus values (RFC 6960 §4.2.1).
pub mod response_status {
    /// The request did not parse.
    pub const MALFORMED_REQUEST: u8 = 1;
    /// The server failed.
    pub const INTERNAL_ERROR: u8 = 2;
    /// No CA here issued the certificates asked about.
    pub const UNAUTHORIZED: u8 = 6;
}

fn hash(alg: IdHash, data: &[u8]) -> Vec<u8> {
    let alg = match alg {
        IdHash::Sha1 => &digest::SHA1_FOR_LEGACY_USE_ONLY,
        IdHash::Sha256 => &digest::SHA256,
    };
    digest::digest(alg, data).as_ref().to_vec()
}

impl CertRef {
    /// True when `ca` is the issuer this CertID names.
    pub fn issued_by(&self, ca: &Authority) -> bool {
        let Some(alg) = self.hash else { return false };
        hash(alg, ca.name_der()) == self.name_hash && hash(alg, ca.key_bits()) == self.key_hash
    }
}

fn cert_id(raw: &[u8]) -> Result<CertRef, DerError> {
    let mut outer = Reader::new(raw);
    let seq = outer.expect(tag::SEQUENCE, "CertID is not a SEQUENCE")?;
    let mut r = Reader::new(seq.content);
    let alg = r.expect(tag::SEQUENCE, "hashAlgorithm is not a SEQUENCE")?;
    let alg_oid = Reader::new(alg.content).expect(tag::OID, "hashAlgorithm without an OID")?;
    let hash = match alg_oid.content {
        o if o == oid::SHA1 => Some(IdHash::Sha1),
        o if o == oid::SHA256 => Some(IdHash::Sha256),
        _ => None,
    };
    let name_hash = r.expect(tag::OCTET_STRING, "issuerNameHash is not an OCTET STRING")?.content.to_vec();
    let key_hash = r.expect(tag::OCTET_STRING, "issuerKeyHash is not an OCTET STRING")?.content.to_vec();
    let serial = r.expect(tag::INTEGER, "serialNumber is not an INTEGER")?;
    if serial.content.is_empty() || serial.content.len() > 40 {
        return Err(DerError("serialNumber length"));
    }
    Ok(CertRef { raw: seq.raw.to_vec(), hash, name_hash, key_hash, serial: hex::encode(serial.content) })
}

/// Parses an OCSPRequest (DER); at most `max_certs` certificates.
pub fn parse_request(data: &[u8], max_certs: usize) -> Result<OcspRequest, DerError> {
    let mut outer = Reader::new(data);
    let req = outer.expect(tag::SEQUENCE, "OCSPRequest is not a SEQUENCE")?;
    if !outer.is_empty() {
        return Err(DerError("bytes after the OCSPRequest"));
    }
    let mut r = Reader::new(req.content);
    let tbs = r.expect(tag::SEQUENCE, "tbsRequest is not a SEQUENCE")?;
    let mut t = Reader::new(tbs.content);
    t.optional(0xa0)?; // version
    t.optional(0xa1)?; // requestorName
    let list = t.expect(tag::SEQUENCE, "requestList is not a SEQUENCE")?;
    let mut certs = Vec::new();
    let mut items = Reader::new(list.content);
    while !items.is_empty() {
        let one = items.expect(tag::SEQUENCE, "Request is not a SEQUENCE")?;
        let mut fields = Reader::new(one.content);
        let id = fields.expect(tag::SEQUENCE, "reqCert is not a SEQUENCE")?;
        certs.push(cert_id(id.raw)?);
        if certs.len() > max_certs {
            return Err(DerError("too many certificates in one request"));
        }
    }
    if certs.is_empty() {
        return Err(DerError("empty requestList"));
    }
    let mut nonce = None;
    if let Some(exts) = t.optional(0xa2)? {
        let list = Reader::new(exts.content).expect(tag::SEQUENCE, "requestExtensions is not a SEQUENCE")?;
        let mut r = Reader::new(list.content);
        while !r.is_empty() {
            let ext = r.expect(tag::SEQUENCE, "Extension is not a SEQUENCE")?;
            let id = Reader::new(ext.content).expect(tag::OID, "Extension without an OID")?;
            if id.content == oid::OCSP_NONCE {
                nonce = Some(ext.raw.to_vec());
            }
        }
    }
    Ok(OcspRequest { certs, nonce })
}

/// An OCSPResponse carrying only an error status.
pub fn error_response(status: u8) -> Vec<u8> {
    der::seq(&[&der::tlv(tag::ENUMERATED, &[status])])
}

fn status_der(s: Status) -> Vec<u8> {
    match s {
        Status::Good => vec![0x80, 0x00],
        Status::Unknown => vec![0x82, 0x00],
        Status::Revoked { at, reason } => {
            let reason =
                reason.map(|c| der::constructed(0xa0, &[&der::tlv(tag::ENUMERATED, &[c])])).unwrap_or_default();
            der::constructed(0xa1, &[&der::generalized_time(at), &reason])
        }
    }
}

/// A successful response signed by `ca`: each answer's CertID with its status, this update `now`,
/// next update `now + next_update_secs`, and the nonce when the request had one.
pub fn response(
    ca: &Authority,
    answers: &[(&CertRef, Status)],
    nonce: Option<&[u8]>,
    now: i64,
    next_update_secs: i64,
) -> Result<Vec<u8>, CaError> {
    let singles: Vec<Vec<u8>> = answers
        .iter()
        .map(|(c, s)| {
            der::seq(&[
                &c.raw,
                &status_der(*s),
                &der::generalized_time(now),
                &der::constructed(0xa0, &[&der::generalized_time(now + next_update_secs)]),
            ])
        })
        .collect();
    let singles: Vec<&[u8]> = singles.iter().map(Vec::as_slice).collect();
    let responder = der::constructed(0xa2, &[&der::tlv(tag::OCTET_STRING, &hash(IdHash::Sha1, ca.key_bits()))]);
    let extensions = nonce.map(|n| der::constructed(0xa1, &[&der::seq(&[n])])).unwrap_or_default();
    let tbs = der::seq(&[&responder, &der::generalized_time(now), &der::seq(&singles), &extensions]);
    let signature = ca.sign(&tbs)?;
    let mut bits = vec![0u8];
    bits.extend_from_slice(&signature);
    let basic = der::seq(&[&tbs, &der::seq(&[&der::oid(oid::ECDSA_SHA256)]), &der::tlv(tag::BIT_STRING, &bits)]);
    let bytes = der::seq(&[&der::oid(oid::OCSP_BASIC), &der::tlv(tag::OCTET_STRING, &basic)]);
    Ok(der::seq(&[&der::tlv(tag::ENUMERATED, &[0]), &der::constructed(0xa0, &[&bytes])]))
}
