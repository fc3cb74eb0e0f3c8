//! Tenants' firmware signing keys: public keys read from PEM or DER SubjectPublicKeyInfo (as
//! `openssl pkey -pubout` writes them), Ed25519 or ECDSA P-256, and the signature check itself.

use ring::signature::{UnparsedPublicKey, ECDSA_P256_SHA256_ASN1, ECDSA_P256_SHA256_FIXED, ED25519};
use sha2::{Digest, Sha256};
use spki::{ObjectIdentifier, SubjectPublicKeyInfoRef};

/// id-Ed25519 (RFC 8410).
const ED25519_OID: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
/// id-ecPublicKey (RFC 5480).
const EC_PUBLIC_KEY_OID: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
/// secp256r1 / prime256v1 (RFC 5480).
const P256_OID: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");

/// Why a public key was not accepted.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    /// Not PEM with a `PUBLIC KEY` label, nor DER.
    #[error("not a PEM public key: {0}")]
    Pem(String),
    /// The PEM label is not `PUBLIC KEY` (a private key or a certificate was given).
    #[error("PEM label is {0:?}, expected \"PUBLIC KEY\" (give the public key, e.g. `openssl pkey -pubout`)")]
    Label(String),
    /// The DER is not a SubjectPublicKeyInfo.
    #[error("not a SubjectPublicKeyInfo: {0}")]
    Der(String),
    /// An algorithm or curve other than Ed25519 and P-256.
    #[error("unsupported key algorithm {0}: firmware keys are Ed25519 or ECDSA P-256")]
    Algorithm(String),
    /// The key bytes have the wrong length or form for their algorithm.
    #[error("malformed {alg} public key: {detail}")]
    Malformed {
        /// `ed25519` or `p256`.
        alg: &'static str,
        /// What is wrong.
        detail: String,
    },
}

/// The signature algorithm of a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// Ed25519 (RFC 8032): 64-byte signatures over the message itself.
    Ed25519,
    /// ECDSA over P-256 with SHA-256: signatures DER-encoded (as OpenSSL writes them) or raw `r || s`.
    P256,
}

impl Algorithm {
    /// The name used in the API and the store.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Ed25519 => "ed25519",
            Algorithm::P256 => "p256",
        }
    }
}

/// A firmware signing public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    algorithm: Algorithm,
    /// The raw key: 32 bytes (Ed25519) or the 65-byte uncompressed point (P-256).
    raw: Vec<u8>,
    /// The SubjectPublicKeyInfo DER, kept to re-export and to fingerprint.
    spki_der: Vec<u8>,
}

impl PublicKey {
    /// Reads a key from PEM (`-----BEGIN PUBLIC KEY-----`) or from DER.
    pub fn parse(bytes: &[u8]) -> Result<Self, KeyError> {
        let trimmed = bytes.trim_ascii_start();
        if trimmed.starts_with(b"-----BEGIN") {
            let (label, der) = pem_rfc7468::decode_vec(trimmed).map_err(|e| KeyError::Pem(e.to_string()))?;
            if label != "PUBLIC KEY" {
                return Err(KeyError::Label(label.to_string()));
            }
            Self::from_der(&der)
        } else {
            Self::from_der(bytes)
        }
    }

    /// Reads a key from SubjectPublicKeyInfo DER.
    pub fn from_der(der: &[u8]) -> Result<Self, KeyError> {
        let spki = SubjectPublicKeyInfoRef::try_from(der).map_err(|e| KeyError::Der(e.to_string()))?;
        let (oid, params) = spki.algorithm.oids().map_err(|e| KeyError::Der(e.to_string()))?;
        let bits =
            spki.subject_public_key.as_bytes().ok_or_else(|| KeyError::Der("key bit string has unused bits".into()))?;
        let algorithm = if oid == ED25519_OID {
            if params.is_some() {
                return Err(KeyError::Malformed {
                    alg: "ed25519",
                    detail: "parameters must be absent (RFC 8410)".into(),
                });
            }
            if bits.len() != 32 {
                return Err(KeyError::Malformed {
                    alg: "ed25519",
                    detail: format!("{} key bytes, expected 32", bits.len()),
                });
            }
            Algorithm::Ed25519
        } else if oid == EC_PUBLIC_KEY_OID {
            match params {
                Some(curve) if curve == P256_OID => {}
                Some(curve) => return Err(KeyError::Algorithm(format!("EC curve {curve}"))),
                None => return Err(KeyError::Malformed { alg: "p256", detail: "EC key without a named curve".into() }),
            }
            if bits.len() != 65 || bits[0] != 0x04 {
                return Err(KeyError::Malformed {
                    alg: "p256",
                    detail: format!("{} key bytes, expected a 65-byte uncompressed point", bits.len()),
                });
            }
            Algorithm::P256
        } else {
            return Err(KeyError::Algorithm(oid.to_string()));
        };
        Ok(PublicKey { algorithm, raw: bits.to_vec(), spki_der: der.to_vec() })
    }

    /// The key's algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// SHA-256 of the SubjectPublicKeyInfo DER, lower-case hex: the key's stable id (the same value as
    /// `openssl pkey -pubin -outform DER | sha256sum`).
    pub fn fingerprint(&self) -> String {
        hex::encode(Sha256::digest(&self.spki_der))
    }

    /// The SubjectPublicKeyInfo DER.
    pub fn spki_der(&self) -> &[u8] {
        &self.spki_der
    }

    /// The key as PEM.
    pub fn to_pem(&self) -> String {
        pem_rfc7468::encode_string("PUBLIC KEY", pem_rfc7468::LineEnding::LF, &self.spki_der).unwrap_or_default()
    }

    /// Whether `signature` is this key's signature over `message`. P-256 signatures may be DER (as
    /// OpenSSL writes them) or the 64-byte `r || s` form.
    pub fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        let ok = match self.algorithm {
            Algorithm::Ed25519 => UnparsedPublicKey::new(&ED25519, &self.raw).verify(message, signature),
            Algorithm::P256 if signature.len() == 64 => {
                UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &self.raw).verify(message, signature)
            }
            Algorithm::P256 => UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, &self.raw).verify(message, signature),
        };
        ok.is_ok()
    }
}
