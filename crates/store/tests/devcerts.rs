//! Device certificates on both backends: CA keys sealed (never in clear, re-sealed by a KEK rotation
//! and still opening, the first CA of a scope kept when two are written), one-time tokens (stored
//! hashed, refused when unknown, used or expired, consumed with the certificate in one transaction
//! so a token issues at most one), tenant-scoped listing and revocation, re-enrolment only from a
//! good certificate, and the revoked list of a CA.

use store::access::Scope;
use store::devcerts::{NewDeviceCert, TokenRefusal};
use store::seal::{Kek, Keyring};
use store::{Store, StoreError};
use testkit::on_every_backend;

fn cert(serial: &str, tenant: &str, replaces: Option<&str>) -> NewDeviceCert {
    NewDeviceCert {
        serial: serial.into(),
        ca_scope: tenant.into(),
        tenant: tenant.into(),
        endpoint: format!("ep-{serial}"),
        subject: format!("CN=ep-{serial}"),
        san: vec!["urn:imsi:001010000000001".into(), "urn:imei:49015420-323751-8".into()],
        imsi: Some("001010000000001".into()),
        imei: Some("490154203237518".into()),
        not_before: store::now() - 60,
        not_after: store::now() + 3600,
        replaces: replaces.map(str::to_string),
        cert_der: vec![0x30, 0x03, 0x02, 0x01, 0x05],
    }
}

#[tokio::test]
async fn ca_keys_are_sealed_and_resealed() {
    on_every_backend(|store, url| async move {
        let key = b"-----PKCS8 private key bytes of the CA-----".to_vec();
        let ca = store.put_device_ca("acme", b"cert", &key).await.unwrap();
        assert_eq!(&**ca.key_pkcs8, key.as_slice());
        assert!(!format!("{ca:?}").contains("PKCS8"), "the key never prints");
        let sealed = store.device_ca_sealed_key("acme").await.unwrap().unwrap();
        assert!(!sealed.windows(5).any(|w| w == b"PKCS8"), "not stored in clear");
        // A second writer does not replace the first CA.
        let again = store.put_device_ca("acme", b"other cert", b"other key").await.unwrap();
        assert_eq!((again.cert_der.as_slice(), &**again.key_pkcs8), (&b"cert"[..], key.as_slice()));
        assert_eq!(store.device_ca_certs().await.unwrap(), vec![("acme".to_string(), b"cert".to_vec())]);

        let rotated =
            Store::open(&url, Keyring::new(Kek::from_bytes(2, &[0x44; 32]), vec![Kek::from_bytes(1, &[9; 32])]))
                .await
                .unwrap();
        assert!(rotated.reseal_all(100).await.unwrap() >= 1);
        let only_new = Store::open(&url, Keyring::new(Kek::from_bytes(2, &[0x44; 32]), vec![])).await.unwrap();
        assert_eq!(&**only_new.device_ca("acme").await.unwrap().unwrap().key_pkcs8, key.as_slice());
        let old = Store::open(&url, testkit::keyring()).await.unwrap();
        assert!(old.device_ca("acme").await.is_err(), "the old KEK no longer opens it");
    })
    .await;
}

#[tokio::test]
async fn tokens_are_hashed_single_use_and_expire() {
    on_every_backend(|store: Store, _| async move {
        let token = store.create_est_token("acme", "meter-1", Some("001010000000001"), None, 600, "cli").await.unwrap();
        let grant = store.est_grant(&token).await.unwrap().unwrap();
        assert_eq!((grant.tenant.as_str(), grant.endpoint.as_str()), ("acme", "meter-1"));
        assert_ne!(grant.hash, *token, "only the hash is kept");
        assert_eq!(store.est_grant("not-a-token").await.unwrap(), Err(TokenRefusal::Unknown));

        store.record_device_cert(&cert("4a01", "acme", None), Some(&grant.hash)).await.unwrap();
        assert_eq!(store.est_grant(&token).await.unwrap(), Err(TokenRefusal::Used));
        // A second certificate on the same token: refused, nothing recorded.
        let e = store.record_device_cert(&cert("4a02", "acme", None), Some(&grant.hash)).await.unwrap_err();
        assert!(matches!(e, StoreError::Conflict(_)), "{e}");
        assert!(store.device_cert("4a02").await.unwrap().is_none());

        let expired = store.create_est_token("acme", "meter-2", None, None, -1, "cli").await.unwrap();
        assert_eq!(store.est_grant(&expired).await.unwrap(), Err(TokenRefusal::Expired));
    })
    .await;
}

#[tokio::test]
async fn listing_and_revocation_are_tenant_scoped() {
    on_every_backend(|store: Store, _| async move {
        store.record_device_cert(&cert("4b01", "acme", None), None).await.unwrap();
        store.record_device_cert(&cert("4b02", "other", None), None).await.unwrap();
        let acme = Scope::Tenant("acme".into());
        let mine = store.device_certs(&acme, None, 100).await.unwrap();
        assert_eq!(mine.iter().map(|c| c.cert.serial.as_str()).collect::<Vec<_>>(), ["4b01"]);
        assert_eq!(mine[0].cert.san.len(), 2);
        assert_eq!(store.device_certs(&Scope::Operator, None, 100).await.unwrap().len(), 2);
        assert_eq!(store.device_certs(&Scope::Operator, Some("ep-4b02"), 100).await.unwrap().len(), 1);

        assert!(store.revoke_device_cert(&acme, "4b02", "keyCompromise").await.unwrap().is_none());
        assert_eq!(store.device_cert("4b02").await.unwrap().unwrap().status, "good", "another tenant's: untouched");
        let r = store.revoke_device_cert(&acme, "4b01", "keyCompromise").await.unwrap().unwrap();
        assert_eq!((r.status.as_str(), r.revocation_reason.as_deref()), ("revoked", Some("keyCompromise")));
        let again = store.revoke_device_cert(&Scope::Operator, "4b01", "superseded").await.unwrap().unwrap();
        assert_eq!((again.revocation_reason, again.revoked_at), (r.revocation_reason, r.revoked_at), "first stands");
        let revoked = store.revoked_device_certs("acme").await.unwrap();
        assert_eq!(revoked.iter().map(|r| r.serial.as_str()).collect::<Vec<_>>(), ["4b01"]);
        assert!(store.revoked_device_certs("other").await.unwrap().is_empty());
        assert_eq!(store.revoked_device_cert_serials().await.unwrap(), ["4b01"], "every CA's, for the CoAPs listener");

        // Re-enrolment from a revoked certificate: refused, nothing recorded; from a good one: fine.
        let e = store.record_device_cert(&cert("4b03", "acme", Some("4b01")), None).await.unwrap_err();
        assert!(matches!(e, StoreError::Conflict(_)), "{e}");
        assert!(store.device_cert("4b03").await.unwrap().is_none());
        store.record_device_cert(&cert("4b04", "other", Some("4b02")), None).await.unwrap();
        assert_eq!(store.device_cert("4b04").await.unwrap().unwrap().cert.replaces.as_deref(), Some("4b02"));
    })
    .await;
}

#[test]
fn serials_are_normalised() {
    assert_eq!(store::devcerts::normalise_serial("4A:01:ff").as_deref(), Some("4a01ff"));
    assert_eq!(store::devcerts::normalise_serial("0x4A01").as_deref(), Some("4a01"));
    assert_eq!(store::devcerts::normalise_serial("xyz"), None);
    assert_eq!(store::devcerts::normalise_serial(""), None);
    assert_eq!(store::devcerts::reason_code("keyCompromise"), Some(1));
    assert_eq!(store::devcerts::reason_code("bored"), None);
}
