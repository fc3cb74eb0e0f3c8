//! `/firmware` and `/firmware/keys`: a tenant's firmware signing keys and its verified firmware
//! images (DM-2). Keys are public keys (Ed25519 or ECDSA P-256, PEM); adding or removing one needs a
//! step-up, since a key decides what firmware devices will accept. An upload carries the manifest
//! exactly as signed, the signature and the image (base64) and is stored only when the signature
//! verifies with one of the tenant's keys and the image matches the manifest (docs/firmware.md).

use axum::http::StatusCode;
use base64::Engine as _;
use cmp::Action;
use serde::{Deserialize, Serialize};
use store::firmware::{FirmwareImageRow, FirmwareKeyRow};
use utoipa::ToSchema;

use crate::auth::Ctx;
use crate::extract::{Json, Path};
use crate::problem::{ApiError, ApiResult, Problems};

/// The largest upload body accepted on `POST /firmware` (base64 JSON, so about 48 MiB of image).
pub const MAX_UPLOAD_BODY: usize = 64 << 20;

/// A firmware signing key.
#[derive(Debug, Serialize, ToSchema)]
pub struct FirmwareKey {
    /// Owning tenant.
    pub tenant: String,
    /// SHA-256 of the SubjectPublicKeyInfo DER, hex: the key's id.
    pub fingerprint: String,
    /// `ed25519` or `p256`.
    pub algorithm: String,
    /// The public key, PEM.
    pub public_key: String,
    /// The tenant's name for it.
    pub label: String,
    /// Who registered it.
    pub created_by: String,
    /// Unix seconds.
    pub created_at: i64,
}

impl From<FirmwareKeyRow> for FirmwareKey {
    fn from(k: FirmwareKeyRow) -> Self {
        FirmwareKey {
            tenant: k.tenant,
            fingerprint: k.fingerprint,
            algorithm: k.algorithm,
            public_key: k.public_pem,
            label: k.label,
            created_by: k.created_by,
            created_at: k.created_at,
        }
    }
}

/// The signing keys.
#[derive(Debug, Serialize, ToSchema)]
pub struct FirmwareKeyList {
    /// Keys, oldest first.
    pub items: Vec<FirmwareKey>,
}

/// A key to register.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewFirmwareKey {
    /// The public key, PEM (`-----BEGIN PUBLIC KEY-----`, as `openssl pkey -pubout` writes it).
    pub public_key: String,
    /// A name for it (1 to 64 characters).
    pub label: String,
    /// Operator admins: the tenant it signs for.
    pub tenant: Option<String>,
}

/// A verified firmware image (without its bytes).
#[derive(Debug, Serialize, ToSchema)]
pub struct FirmwareImage {
    /// Id.
    pub id: String,
    /// Owning tenant.
    pub tenant: String,
    /// Device model (from the manifest).
    pub model: String,
    /// Version (from the manifest).
    pub version: String,
    /// Bytes.
    pub size: i64,
    /// SHA-256, hex.
    pub sha256: String,
    /// Fingerprint of the key whose signature verified.
    pub signed_by: String,
    /// Who uploaded it.
    pub created_by: String,
    /// Unix seconds.
    pub created_at: i64,
}

impl From<FirmwareImageRow> for FirmwareImage {
    fn from(i: FirmwareImageRow) -> Self {
        FirmwareImage {
            id: i.id,
            tenant: i.tenant,
            model: i.model,
            version: i.version,
            size: i.size,
            sha256: i.sha256,
            signed_by: i.signed_by,
            created_by: i.created_by,
            created_at: i.created_at,
        }
    }
}

/// The images.
#[derive(Debug, Serialize, ToSchema)]
pub struct FirmwareImageList {
    /// Images, newest first.
    pub items: Vec<FirmwareImage>,
}

/// An image to upload.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FirmwareUpload {
    /// The manifest exactly as signed, base64.
    pub manifest: String,
    /// The signature over the manifest's bytes, base64 (Ed25519, or ECDSA P-256 DER or `r || s`).
    pub signature: String,
    /// The image, base64.
    pub image: String,
    /// Operator admins: the tenant it belongs to.
    pub tenant: Option<String>,
}

fn base64_field(name: &str, value: &str) -> ApiResult<Vec<u8>> {
    base64::engine::general_purpose::STANDARD
        .decode(value)
        .map_err(|e| ApiError::unprocessable(format!("{name}: not base64 ({e})")))
}

/// Lists the firmware signing keys.
#[utoipa::path(get, path = "/firmware/keys", tag = "firmware",
    responses((status = 200, body = FirmwareKeyList), Problems), security(("bearer" = [])))]
pub async fn list_keys(Ctx { st, caller }: Ctx) -> ApiResult<axum::Json<FirmwareKeyList>> {
    caller.require(Action::Read)?;
    let rows = st.store().firmware_keys(&caller.scope()).await?;
    Ok(axum::Json(FirmwareKeyList { items: rows.into_iter().map(Into::into).collect() }))
}

/// Registers a firmware signing key. Needs a step-up from a person's session.
#[utoipa::path(post, path = "/firmware/keys", tag = "firmware", request_body = NewFirmwareKey,
    responses((status = 201, body = FirmwareKey), Problems), security(("bearer" = [])))]
pub async fn add_key(
    Ctx { st, caller }: Ctx,
    Json(req): Json<NewFirmwareKey>,
) -> ApiResult<(StatusCode, axum::Json<FirmwareKey>)> {
    caller.require(Action::ManageAccess)?;
    let (actor, _) = caller.fresh(&st, "changing firmware signing keys").await?;
    let row =
        cmp::firmware_images::add_key(st.store(), &actor, req.tenant.as_deref(), &req.label, req.public_key.as_bytes())
            .await?;
    Ok((StatusCode::CREATED, axum::Json(row.into())))
}

/// Removes a firmware signing key (images it verified stay). Needs a step-up from a person's session.
#[utoipa::path(delete, path = "/firmware/keys/{fingerprint}", tag = "firmware",
    params(("fingerprint" = String, Path, description = "Key fingerprint, hex")),
    responses((status = 204, description = "Removed"), Problems), security(("bearer" = [])))]
pub async fn remove_key(Ctx { st, caller }: Ctx, Path(fingerprint): Path<String>) -> ApiResult<StatusCode> {
    caller.require(Action::ManageAccess)?;
    let (actor, _) = caller.fresh(&st, "changing firmware signing keys").await?;
    cmp::firmware_images::remove_key(st.store(), &actor, &fingerprint).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Lists the verified firmware images.
#[utoipa::path(get, path = "/firmware", tag = "firmware",
    responses((status = 200, body = FirmwareImageList), Problems), security(("bearer" = [])))]
pub async fn list(Ctx { st, caller }: Ctx) -> ApiResult<axum::Json<FirmwareImageList>> {
    caller.require(Action::Read)?;
    let rows = st.store().firmware_images(&caller.scope()).await?;
    Ok(axum::Json(FirmwareImageList { items: rows.into_iter().map(Into::into).collect() }))
}

/// Reads one firmware image's record.
#[utoipa::path(get, path = "/firmware/{id}", tag = "firmware", params(("id" = String, Path, description = "Image id")),
    responses((status = 200, body = FirmwareImage), Problems), security(("bearer" = [])))]
pub async fn get(Ctx { st, caller }: Ctx, Path(id): Path<String>) -> ApiResult<axum::Json<FirmwareImage>> {
    caller.require(Action::Read)?;
    let row = st
        .store()
        .firmware_image(&caller.scope(), &id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("firmware image {id} not found")))?;
    Ok(axum::Json(row.into()))
}

/// Uploads a firmware image: stored (201) only when its manifest's signature verifies with one of the
/// tenant's keys and the image matches the manifest; 422 names the check that failed.
#[utoipa::path(post, path = "/firmware", tag = "firmware", request_body = FirmwareUpload,
    responses((status = 201, body = FirmwareImage), Problems), security(("bearer" = [])))]
pub async fn upload(
    Ctx { st, caller }: Ctx,
    Json(req): Json<FirmwareUpload>,
) -> ApiResult<(StatusCode, axum::Json<FirmwareImage>)> {
    caller.require(Action::ManageSims)?;
    let manifest = base64_field("manifest", &req.manifest)?;
    let signature = base64_field("signature", &req.signature)?;
    let image = base64_field("image", &req.image)?;
    let up = cmp::firmware_images::Upload { manifest: &manifest, signature: &signature, image: &image };
    let row = cmp::firmware_images::upload(st.store(), &caller.actor(), req.tenant.as_deref(), &up).await?;
    Ok((StatusCode::CREATED, axum::Json(row.into())))
}
