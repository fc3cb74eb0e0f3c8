//! Firmware images and signing keys on both backends (SQLite always, PostgreSQL when
//! `WARDEN_TEST_POSTGRES_URL` is set): bytes come back exactly, duplicates are conflicts, and every
//! read and delete stays inside the tenant's scope.

use store::access::Scope;
use store::firmware::{FirmwareKeyRow, NewFirmwareImage};
use store::{Store, StoreError};
use testkit::on_every_backend;

fn key(tenant: &str, fp: &str) -> FirmwareKeyRow {
    FirmwareKeyRow {
        tenant: tenant.into(),
        fingerprint: fp.into(),
        algorithm: "ed25519".into(),
        public_pem: "-----BEGIN PUBLIC KEY-----\n…\n".into(),
        label: "release".into(),
        created_by: "alice".into(),
        created_at: 10,
    }
}

fn image(tenant: &str, version: &str) -> NewFirmwareImage {
    NewFirmwareImage {
        tenant: tenant.into(),
        model: "meter".into(),
        version: version.into(),
        size: 4,
        sha256: "00".repeat(32),
        manifest: b"{\"format\":1}".to_vec(),
        signature: vec![0, 1, 2, 255],
        signed_by: "fp1".into(),
        image: vec![0xde, 0xad, 0x00, 0xef],
        created_by: "alice".into(),
        created_at: 20,
    }
}

async fn add_key(store: &Store, k: &FirmwareKeyRow) -> store::Result<()> {
    let mut tx = store.begin().await?;
    tx.add_firmware_key(k).await?;
    tx.commit().await
}

async fn remove_key(store: &Store, scope: &Scope, fp: &str) -> store::Result<Option<FirmwareKeyRow>> {
    let mut tx = store.begin().await?;
    let removed = tx.remove_firmware_key(scope, fp).await?;
    tx.commit().await?;
    Ok(removed)
}

async fn add_image(store: &Store, i: &NewFirmwareImage) -> store::Result<String> {
    let mut tx = store.begin().await?;
    let id = tx.add_firmware_image(i).await?;
    tx.commit().await?;
    Ok(id)
}

#[tokio::test]
async fn keys_and_images_round_trip_inside_their_tenant() {
    on_every_backend(|store, _| async move {
        let acme = Scope::Tenant("acme".into());
        let other = Scope::Tenant("other".into());
        add_key(&store, &key("acme", "fp1")).await.unwrap();
        add_key(&store, &key("other", "fp1")).await.unwrap();
        assert!(matches!(add_key(&store, &key("acme", "fp1")).await, Err(StoreError::Conflict(_))));
        assert_eq!(store.firmware_keys(&acme).await.unwrap(), vec![key("acme", "fp1")]);
        assert_eq!(store.firmware_keys(&Scope::Operator).await.unwrap().len(), 2);
        assert_eq!(store.firmware_keys_of("acme").await.unwrap().len(), 1);

        let img1 = add_image(&store, &image("acme", "1.0")).await.unwrap();
        assert!(img1.starts_with("fw_"), "{img1}");
        let dup = add_image(&store, &image("acme", "1.0")).await;
        assert!(matches!(dup, Err(StoreError::Conflict(m)) if m.contains("meter version 1.0")));
        add_image(&store, &image("other", "1.0")).await.unwrap();
        let listed = store.firmware_images(&acme).await.unwrap();
        assert_eq!(listed.iter().map(|i| i.id.as_str()).collect::<Vec<_>>(), [img1.as_str()]);
        assert_eq!(store.firmware_image(&other, &img1).await.unwrap(), None, "tenant isolation");
        assert_eq!(store.firmware_image_parts(&other, &img1).await.unwrap(), None, "tenant isolation");
        let (m, s, i) = store.firmware_image_parts(&acme, &img1).await.unwrap().unwrap();
        assert_eq!((m, s, i), (b"{\"format\":1}".to_vec(), vec![0, 1, 2, 255], vec![0xde, 0xad, 0x00, 0xef]));
        assert_eq!(store.firmware_images(&Scope::Operator).await.unwrap().len(), 2);

        // Another tenant cannot remove acme's key; acme can, once.
        assert_eq!(remove_key(&store, &Scope::Tenant("third".into()), "fp1").await.unwrap(), None);
        assert_eq!(remove_key(&store, &acme, "fp1").await.unwrap(), Some(key("acme", "fp1")));
        assert_eq!(remove_key(&store, &acme, "fp1").await.unwrap(), None);
        assert_eq!(store.firmware_keys(&Scope::Operator).await.unwrap(), vec![key("other", "fp1")]);
    })
    .await;
}
