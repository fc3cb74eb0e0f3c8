//! Authenticated firmware images for device management (CLP.14 DM-2).
//!
//! A tenant signs a small JSON **manifest** that names the image's model, version, size and SHA-256
//! with its own key (Ed25519 or ECDSA P-256); Warden checks that signature against the keys the tenant
//! registered, checks the image against the manifest, and applies the version policy (no downgrade
//! unless allowed) before any device is offered the image. The signed message is the manifest file's
//! exact bytes, so a tenant can sign with stock tools, e.g. `openssl pkeyutl -sign -rawin` (Ed25519)
//! or `openssl dgst -sha256 -sign` (P-256); see docs/firmware.md.
//!
//! Sans-IO: no storage and no network here; `store` keeps images and keys, the device manager delivers.

pub mod key;
pub mod manifest;
pub mod verify;
pub mod version;

pub use key::{KeyError, PublicKey};
pub use manifest::{Manifest, ManifestError};
pub use verify::{verify_image, VerifiedImage, VerifyError};
pub use version::{UpdatePolicy, Version, VersionError};
