//! Firmware images and the tenants' firmware signing keys (DM-2). Images are stored only after
//! `crates/firmware` verified their signed manifest; the rows keep the manifest and the signature as
//! they came, so a verification can be repeated later. Every read and delete is scoped to a tenant
//! (operators see all); keys are public keys, nothing here is secret.

use sqlx::Row;

use crate::access::Scope;
use crate::db::Store;
use crate::tx::Tx;

use crate::error::{Result, StoreError};

/// A tenant's firmware signing key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirmwareKeyRow {
    /// Owner.
    pub tenant: String,
    /// SHA-256 of the SubjectPublicKeyInfo DER, hex.
    pub fingerprint: String,
    /// `ed25519` or `p256`.
    pub algorithm: String,
    /// The public key, PEM.
    pub public_pem: String,
    /// The tenant's name for it.
    pub label: String,
    /// Who registered it.
    pub created_by: String,
    /// Unix seconds.
    pub created_at: i64,
}

/// A verified firmware image to store.
#[derive(Debug, Clone)]
pub struct NewFirmwareImage {
    /// Owner.
    pub tenant: String,
    /// Device model from the manifest.
    pub model: String,
    /// Version from the manifest.
    pub version: String,
    /// Bytes.
    pub size: i64,
    /// SHA-256, hex.
    pub sha256: String,
    /// The manifest as signed.
    pub manifest: Vec<u8>,
    /// The signature over it.
    pub signature: Vec<u8>,
    /// Fingerprint of the key that verified it.
    pub signed_by: String,
    /// The image.
    pub image: Vec<u8>,
    /// Who uploaded it.
    pub created_by: String,
    /// Unix seconds.
    pub created_at: i64,
}

/// A stored image, without its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirmwareImageRow {
    /// Id.
    pub id: String,
    /// Owner.
    pub tenant: String,
    /// Device model.
    pub model: String,
    /// Version.
    pub version: String,
    /// Bytes.
    pub size: i64,
    /// SHA-256, hex.
    pub sha256: String,
    /// Fingerprint of the key that verified it.
    pub signed_by: String,
    /// Who uploaded it.
    pub created_by: String,
    /// Unix seconds.
    pub created_at: i64,
}

const KEY_COLUMNS: &str = "tenant, fingerprint, algorithm, public_pem, label, created_by, created_at";
const IMAGE_COLUMNS: &str = "id, tenant, model, version, size, sha256, signed_by, created_by, created_at";

fn key_from_row(r: &sqlx::any::AnyRow) -> Result<FirmwareKeyRow> {
    Ok(FirmwareKeyRow {
        tenant: r.try_get("tenant")?,
        fingerprint: r.try_get("fingerprint")?,
        algorithm: r.try_get("algorithm")?,
        public_pem: r.try_get("public_pem")?,
        label: r.try_get("label")?,
        created_by: r.try_get("created_by")?,
        created_at: r.try_get("created_at")?,
    })
}

fn image_from_row(r: &sqlx::any::AnyRow) -> Result<FirmwareImageRow> {
    Ok(FirmwareImageRow {
        id: r.try_get("id")?,
        tenant: r.try_get("tenant")?,
        model: r.try_get("model")?,
        version: r.try_get("version")?,
        size: r.try_get("size")?,
        sha256: r.try_get("sha256")?,
        signed_by: r.try_get("signed_by")?,
        created_by: r.try_get("created_by")?,
        created_at: r.try_get("created_at")?,
    })
}

fn conflict(what: String) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |e| match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => StoreError::Conflict(what),
        _ => StoreError::Db(e),
    }
}

impl Store {
    /// The signing keys visible in `scope`, oldest first.
    pub async fn firmware_keys(&self, scope: &Scope) -> Result<Vec<FirmwareKeyRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {KEY_COLUMNS} FROM firmware_keys WHERE ($1 = '*' OR tenant = $1) ORDER BY created_at, fingerprint"
        ))
        .bind(scope.key())
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(key_from_row).collect()
    }

    /// The signing keys of exactly `tenant` (what its uploads are verified with).
    pub async fn firmware_keys_of(&self, tenant: &str) -> Result<Vec<FirmwareKeyRow>> {
        let rows =
            sqlx::query(&format!("SELECT {KEY_COLUMNS} FROM firmware_keys WHERE tenant = $1 ORDER BY created_at"))
                .bind(tenant)
                .fetch_all(self.pool())
                .await?;
        rows.iter().map(key_from_row).collect()
    }

    /// The images visible in `scope`, newest first (no bytes).
    pub async fn firmware_images(&self, scope: &Scope) -> Result<Vec<FirmwareImageRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {IMAGE_COLUMNS} FROM firmware_images WHERE ($1 = '*' OR tenant = $1) \
             ORDER BY created_at DESC, id DESC"
        ))
        .bind(scope.key())
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(image_from_row).collect()
    }

    /// One image visible in `scope` (no bytes).
    pub async fn firmware_image(&self, scope: &Scope, id: &str) -> Result<Option<FirmwareImageRow>> {
        let row = sqlx::query(&format!(
            "SELECT {IMAGE_COLUMNS} FROM firmware_images WHERE id = $1 AND ($2 = '*' OR tenant = $2)"
        ))
        .bind(id)
        .bind(scope.key())
        .fetch_optional(self.pool())
        .await?;
        row.map(|r| image_from_row(&r)).transpose()
    }

    /// An image's manifest, signature and bytes, when visible in `scope` (for delivery and re-checks).
    pub async fn firmware_image_parts(&self, scope: &Scope, id: &str) -> Result<Option<(Vec<u8>, Vec<u8>, Vec<u8>)>> {
        let row = sqlx::query(
            "SELECT manifest, signature, image FROM firmware_images WHERE id = $1 AND ($2 = '*' OR tenant = $2)",
        )
        .bind(id)
        .bind(scope.key())
        .fetch_optional(self.pool())
        .await?;
        row.map(|r| Ok((r.try_get("manifest")?, r.try_get("signature")?, r.try_get("image")?))).transpose()
    }
}

impl Tx {
    /// Registers a signing key for `k.tenant`; a key already registered for that tenant is a conflict.
    pub async fn add_firmware_key(&mut self, k: &FirmwareKeyRow) -> Result<()> {
        sqlx::query(&format!("INSERT INTO firmware_keys ({KEY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"))
            .bind(&k.tenant)
            .bind(&k.fingerprint)
            .bind(&k.algorithm)
            .bind(&k.public_pem)
            .bind(&k.label)
            .bind(&k.created_by)
            .bind(k.created_at)
            .execute(self.conn())
            .await
            .map_err(conflict(format!("key {} is already registered for tenant {}", k.fingerprint, k.tenant)))?;
        Ok(())
    }

    /// Removes a key visible in `scope`; the removed row, or `None` when there was none.
    pub async fn remove_firmware_key(&mut self, scope: &Scope, fingerprint: &str) -> Result<Option<FirmwareKeyRow>> {
        let row = sqlx::query(&format!(
            "DELETE FROM firmware_keys WHERE fingerprint = $1 AND ($2 = '*' OR tenant = $2) RETURNING {KEY_COLUMNS}"
        ))
        .bind(fingerprint)
        .bind(scope.key())
        .fetch_optional(self.conn())
        .await?;
        row.map(|r| key_from_row(&r)).transpose()
    }

    /// Stores a verified image and returns its new id (`fw_…`); the same model and version twice for
    /// one tenant is a conflict.
    pub async fn add_firmware_image(&mut self, i: &NewFirmwareImage) -> Result<String> {
        let id = format!("fw_{}", crate::access::random_hex(8)?);
        sqlx::query(
            "INSERT INTO firmware_images (id, tenant, model, version, size, sha256, manifest, signature, signed_by, \
             image, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(&id)
        .bind(&i.tenant)
        .bind(&i.model)
        .bind(&i.version)
        .bind(i.size)
        .bind(&i.sha256)
        .bind(&i.manifest)
        .bind(&i.signature)
        .bind(&i.signed_by)
        .bind(&i.image)
        .bind(&i.created_by)
        .bind(i.created_at)
        .execute(self.conn())
        .await
        .map_err(conflict(format!("tenant {} already has {} version {}", i.tenant, i.model, i.version)))?;
        Ok(id)
    }
}
