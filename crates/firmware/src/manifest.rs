//! The signed manifest: which image this is (model, version), how big it is and its SHA-256.
//! It is JSON with a fixed set of fields; unknown fields are refused so that nothing a device or an
//! operator reads can sit outside what the signature was checked for.

use serde::Deserialize;

use crate::version::{Version, VersionError};

/// The largest manifest accepted, in bytes.
pub const MAX_MANIFEST_BYTES: usize = 16 * 1024;

/// Why a manifest was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ManifestError {
    /// Larger than [`MAX_MANIFEST_BYTES`].
    #[error("manifest is {0} bytes, at most {MAX_MANIFEST_BYTES} are accepted")]
    TooLarge(usize),
    /// Not the JSON object described in docs/firmware.md.
    #[error("manifest is not valid: {0}")]
    Json(String),
    /// A format other than 1.
    #[error("manifest format {0} is not supported (only 1)")]
    Format(u32),
    /// A field is empty, too long or has characters outside its set.
    #[error("manifest field `{field}`: {detail}")]
    Field {
        /// The field.
        field: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// The version does not parse.
    #[error("manifest field `version`: {0}")]
    Version(#[from] VersionError),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    format: u32,
    model: String,
    version: String,
    size: u64,
    sha256: String,
    #[serde(default)]
    vendor: Option<String>,
    #[serde(default)]
    notes: Option<String>,
}

/// A parsed and checked manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// The device model the image is for (compared with LwM2M object 3 resource 1).
    pub model: String,
    /// The image's version.
    pub version: Version,
    /// The image size in bytes.
    pub size: u64,
    /// SHA-256 of the image.
    pub sha256: [u8; 32],
    /// The vendor, free text.
    pub vendor: Option<String>,
    /// Release notes, free text.
    pub notes: Option<String>,
}

fn text(field: &'static str, value: &str, max: usize, printable_only: bool) -> Result<(), ManifestError> {
    if value.is_empty() {
        return Err(ManifestError::Field { field, detail: "is empty".into() });
    }
    if value.len() > max {
        return Err(ManifestError::Field { field, detail: format!("is {} bytes, at most {max}", value.len()) });
    }
    if printable_only && !value.bytes().all(|b| b.is_ascii_graphic() || b == b' ') {
        return Err(ManifestError::Field { field, detail: "holds characters other than printable ASCII".into() });
    }
    if value.chars().any(|c| c.is_control() && c != '\n') {
        return Err(ManifestError::Field { field, detail: "holds control characters".into() });
    }
    Ok(())
}

impl Manifest {
    /// Parses and checks a manifest's bytes.
    pub fn parse(bytes: &[u8]) -> Result<Self, ManifestError> {
        if bytes.len() > MAX_MANIFEST_BYTES {
            return Err(ManifestError::TooLarge(bytes.len()));
        }
        let raw: Raw = serde_json::from_slice(bytes).map_err(|e| ManifestError::Json(e.to_string()))?;
        if raw.format != 1 {
            return Err(ManifestError::Format(raw.format));
        }
        text("model", &raw.model, 128, true)?;
        if let Some(vendor) = &raw.vendor {
            text("vendor", vendor, 128, true)?;
        }
        if let Some(notes) = &raw.notes {
            text("notes", notes, 4096, false)?;
        }
        let version = Version::parse(&raw.version)?;
        if raw.size == 0 {
            return Err(ManifestError::Field { field: "size", detail: "is 0".into() });
        }
        let digest = hex::decode(&raw.sha256)
            .ok()
            .filter(|d| d.len() == 32 && raw.sha256.bytes().all(|b| !b.is_ascii_uppercase()))
            .ok_or_else(|| ManifestError::Field {
                field: "sha256",
                detail: "must be 64 lower-case hex digits".into(),
            })?;
        let mut sha256 = [0u8; 32];
        sha256.copy_from_slice(&digest);
        Ok(Manifest { model: raw.model, version, size: raw.size, sha256, vendor: raw.vendor, notes: raw.notes })
    }
}
