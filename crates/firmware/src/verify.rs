//! Verifying an uploaded image: the manifest's signature by one of the tenant's keys, then the image
//! against the manifest (size, SHA-256). Nothing is returned as verified unless every check passed.

use sha2::{Digest, Sha256};

use crate::key::PublicKey;
use crate::manifest::{Manifest, ManifestError};

/// Why an image was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VerifyError {
    /// The tenant has no firmware signing key.
    #[error("no firmware signing key is registered for this tenant")]
    NoKeys,
    /// No registered key verifies the signature over the manifest bytes.
    #[error("the manifest's signature does not verify with any of the tenant's {0} signing key(s)")]
    BadSignature(usize),
    /// The manifest is malformed (only checked once its signature verified).
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// The image's size differs from the manifest's.
    #[error("image is {actual} bytes but the manifest says {expected}")]
    Size {
        /// From the manifest.
        expected: u64,
        /// Of the upload.
        actual: u64,
    },
    /// The image's SHA-256 differs from the manifest's.
    #[error("image SHA-256 {actual} differs from the manifest's {expected}")]
    Hash {
        /// From the manifest, hex.
        expected: String,
        /// Of the upload, hex.
        actual: String,
    },
}

/// An image whose manifest signature and contents were checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedImage {
    /// The manifest.
    pub manifest: Manifest,
    /// The fingerprint of the key that signed it ([`PublicKey::fingerprint`]).
    pub signed_by: String,
}

/// Checks `signature` over `manifest` with the tenant's `keys`, then `image` against the manifest.
/// The signature is checked first, so an unsigned manifest is never parsed beyond its size.
pub fn verify_image(
    image: &[u8],
    manifest: &[u8],
    signature: &[u8],
    keys: &[PublicKey],
) -> Result<VerifiedImage, VerifyError> {
    if keys.is_empty() {
        return Err(VerifyError::NoKeys);
    }
    if manifest.len() > crate::manifest::MAX_MANIFEST_BYTES {
        return Err(ManifestError::TooLarge(manifest.len()).into());
    }
    let signer = keys.iter().find(|k| k.verifies(manifest, signature)).ok_or(VerifyError::BadSignature(keys.len()))?;
    let parsed = Manifest::parse(manifest)?;
    if image.len() as u64 != parsed.size {
        return Err(VerifyError::Size { expected: parsed.size, actual: image.len() as u64 });
    }
    let digest: [u8; 32] = Sha256::digest(image).into();
    if digest != parsed.sha256 {
        return Err(VerifyError::Hash { expected: hex::encode(parsed.sha256), actual: hex::encode(digest) });
    }
    Ok(VerifiedImage { manifest: parsed, signed_by: signer.fingerprint() })
}
