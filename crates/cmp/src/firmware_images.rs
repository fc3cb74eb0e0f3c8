//! Firmware images and signing keys, the tenant's use cases (DM-2): registering and removing the
//! public keys a tenant signs its manifests with, and uploading an image, which is stored only when
//! `crates/firmware` verified it with one of the tenant's keys. Every change is audited in the same
//! transaction as the write; tenants act on their own tenant only.

use firmware::{verify_image, PublicKey};
use store::firmware::{FirmwareImageRow, FirmwareKeyRow, NewFirmwareImage};
use store::Store;

use crate::actor::Actor;
use crate::catalogue::tenant_must_exist;
use crate::error::{Error, Result};
use crate::roles::Action;

/// Registers `public_key` (PEM or DER; Ed25519 or P-256) as a signing key of the actor's tenant (or,
/// for the operator, of the named one).
pub async fn add_key(
    store: &Store,
    actor: &Actor,
    tenant: Option<&str>,
    label: &str,
    public_key: &[u8],
) -> Result<FirmwareKeyRow> {
    actor.require(Action::ManageAccess)?;
    let tenant = actor.target_tenant(tenant)?;
    tenant_must_exist(store, &tenant).await?;
    let label = label.trim();
    if label.is_empty() || label.len() > 64 || label.chars().any(char::is_control) {
        return Err(Error::Invalid("label: 1 to 64 characters, no control characters".into()));
    }
    let key = PublicKey::parse(public_key).map_err(|e| Error::Invalid(format!("public_key: {e}")))?;
    let row = FirmwareKeyRow {
        tenant: tenant.clone(),
        fingerprint: key.fingerprint(),
        algorithm: key.algorithm().name().into(),
        public_pem: key.to_pem(),
        label: label.into(),
        created_by: actor.name(),
        created_at: store::now(),
    };
    let summary = serde_json::json!({"fingerprint": row.fingerprint, "algorithm": row.algorithm, "label": row.label});
    let mut tx = store.begin().await?;
    tx.add_firmware_key(&row).await?;
    let resource = format!("firmware/keys/{}", row.fingerprint);
    tx.append_audit(&actor.audit_entry(&tenant, "firmware.key.add", &resource, (), &summary)).await?;
    tx.commit().await?;
    Ok(row)
}

/// Removes a signing key visible to the actor. Images it verified stay (their rows name the key).
pub async fn remove_key(store: &Store, actor: &Actor, fingerprint: &str) -> Result<()> {
    actor.require(Action::ManageAccess)?;
    let mut tx = store.begin().await?;
    let Some(row) = tx.remove_firmware_key(&actor.scope(), fingerprint).await? else {
        return Err(Error::NotFound(format!("firmware key {fingerprint} not found")));
    };
    let before = serde_json::json!({"fingerprint": row.fingerprint, "algorithm": row.algorithm, "label": row.label});
    let resource = format!("firmware/keys/{fingerprint}");
    tx.append_audit(&actor.audit_entry(&row.tenant, "firmware.key.remove", &resource, &before, ())).await?;
    tx.commit().await?;
    Ok(())
}

/// An upload: the manifest as signed, the signature and the image.
pub struct Upload<'a> {
    /// The manifest's exact bytes.
    pub manifest: &'a [u8],
    /// The signature over them.
    pub signature: &'a [u8],
    /// The image.
    pub image: &'a [u8],
}

/// Verifies an image with the tenant's keys and stores it; nothing is stored when any check fails.
pub async fn upload(store: &Store, actor: &Actor, tenant: Option<&str>, up: &Upload<'_>) -> Result<FirmwareImageRow> {
    actor.require(Action::ManageSims)?;
    let tenant = actor.target_tenant(tenant)?;
    tenant_must_exist(store, &tenant).await?;
    let mut keys = Vec::new();
    for row in store.firmware_keys_of(&tenant).await? {
        // A stored key that no longer parses is skipped, not trusted.
        if let Ok(k) = PublicKey::parse(row.public_pem.as_bytes()) {
            keys.push(k);
        }
    }
    let verified =
        verify_image(up.image, up.manifest, up.signature, &keys).map_err(|e| Error::Invalid(e.to_string()))?;
    let m = &verified.manifest;
    let new = NewFirmwareImage {
        tenant: tenant.clone(),
        model: m.model.clone(),
        version: m.version.to_string(),
        size: i64::try_from(m.size).map_err(|_| Error::Invalid("size: too large".into()))?,
        sha256: hex::encode(m.sha256),
        manifest: up.manifest.to_vec(),
        signature: up.signature.to_vec(),
        signed_by: verified.signed_by.clone(),
        image: up.image.to_vec(),
        created_by: actor.name(),
        created_at: store::now(),
    };
    let mut tx = store.begin().await?;
    let id = tx.add_firmware_image(&new).await?;
    let summary = serde_json::json!({"model": new.model, "version": new.version, "size": new.size,
        "sha256": new.sha256, "signed_by": new.signed_by});
    tx.append_audit(&actor.audit_entry(&tenant, "firmware.upload", &format!("firmware/{id}"), (), &summary)).await?;
    tx.commit().await?;
    Ok(FirmwareImageRow {
        id,
        tenant,
        model: new.model,
        version: new.version,
        size: new.size,
        sha256: new.sha256,
        signed_by: new.signed_by,
        created_by: new.created_by,
        created_at: new.created_at,
    })
}
