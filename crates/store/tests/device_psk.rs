//! Device PSKs on both backends: sealed (never in clear in the database, bound to their endpoint and
//! identity), listed without keys and tenant-scoped through the SIM, identities unique, removal
//! scoped, and re-sealed by a KEK rotation.

use store::access::Scope;
use store::device_psk::NewDevicePsk;
use store::model::Priority;
use store::{Store, StoreError};
use testkit::on_every_backend;
use zeroize::Zeroizing;

fn psk(endpoint: &str, identity: &str, key: u8, imsi: Option<&str>) -> NewDevicePsk {
    NewDevicePsk {
        endpoint: endpoint.into(),
        identity: identity.into(),
        key: Zeroizing::new(vec![key; 16]),
        imsi: imsi.map(|i| i.parse().unwrap()),
    }
}

async fn put(store: &Store, p: NewDevicePsk) -> Result<String, StoreError> {
    let mut tx = store.begin().await.unwrap();
    let r = tx.put_device_psk(&p).await?;
    tx.commit().await.unwrap();
    Ok(r)
}

#[tokio::test]
async fn psks_are_sealed_scoped_unique_and_resealed() {
    on_every_backend(|store, url| async move {
        let mut tx = store.begin().await.unwrap();
        let sims = [
            testkit::provision::sim("001010000000001", None, Priority::Standard, "acme"),
            testkit::provision::sim("001010000000002", None, Priority::Standard, "other"),
        ];
        tx.insert_sims(&sims).await.unwrap();
        tx.commit().await.unwrap();

        assert_eq!(put(&store, psk("ep-1", "id-1", 0x5a, Some("001010000000001"))).await.unwrap(), "acme");
        assert_eq!(put(&store, psk("ep-2", "id-2", 0x6b, Some("001010000000002"))).await.unwrap(), "other");
        assert_eq!(put(&store, psk("lab", "id-lab", 0x7c, None)).await.unwrap(), "*");
        let e = put(&store, psk("ep-3", "id-3", 1, Some("001019999999999"))).await;
        assert!(matches!(e, Err(StoreError::NotFound(_))), "{e:?}");
        let e = put(&store, psk("ep-3", "id-1", 1, None)).await;
        assert!(matches!(&e, Err(StoreError::Conflict(m)) if m.contains("ep-1")), "{e:?}");

        // Listing: scoped by tenant, no keys.
        let all = store.device_psks(&Scope::Operator).await.unwrap();
        assert_eq!(all.iter().map(|p| p.endpoint.as_str()).collect::<Vec<_>>(), ["ep-1", "ep-2", "lab"]);
        let acme = store.device_psks(&Scope::Tenant("acme".into())).await.unwrap();
        assert_eq!(acme.len(), 1);
        assert_eq!((acme[0].identity.as_str(), acme[0].imsi.as_deref()), ("id-1", Some("001010000000001")));

        // Opened for the server; never in clear in the database.
        let keys = store.device_psk_keys().await.unwrap();
        assert_eq!(keys.len(), 3);
        assert_eq!(&**keys[0].key, &[0x5a; 16][..]);
        assert!(!format!("{:?}", keys[0]).contains("5a"), "Debug hides the key");
        let raw = sqlx::AnyPool::connect(&url).await.unwrap();
        use sqlx::Row;
        for r in sqlx::query("SELECT key_sealed FROM device_psks").fetch_all(&raw).await.unwrap() {
            let blob: Vec<u8> = r.try_get("key_sealed").unwrap();
            assert!(!blob.windows(8).any(|w| w == [0x5a; 8] || w == [0x6b; 8] || w == [0x7c; 8]));
        }
        // A sealed key moved to another endpoint's row does not open.
        let r =
            sqlx::query("SELECT key_sealed FROM device_psks WHERE endpoint = 'ep-1'").fetch_one(&raw).await.unwrap();
        let stolen: Vec<u8> = r.try_get("key_sealed").unwrap();
        sqlx::query("UPDATE device_psks SET key_sealed = $1 WHERE endpoint = 'ep-2'")
            .bind(stolen)
            .execute(&raw)
            .await
            .unwrap();
        raw.close().await;
        assert!(store.device_psk_keys().await.is_err(), "bound to its endpoint");
        put(&store, psk("ep-2", "id-2", 0x6b, Some("001010000000002"))).await.unwrap();

        // Removal is scoped: another tenant cannot remove it.
        let mut tx = store.begin().await.unwrap();
        assert!(tx.remove_device_psk(&Scope::Tenant("other".into()), "ep-1").await.unwrap().is_none());
        let gone = tx.remove_device_psk(&Scope::Tenant("acme".into()), "ep-1").await.unwrap().unwrap();
        tx.commit().await.unwrap();
        assert_eq!(gone.identity, "id-1");
        assert_eq!(store.device_psks(&Scope::Operator).await.unwrap().len(), 2);

        // Rotation: both PSKs re-sealed (plus the two SIMs' K/OPc), then only the new KEK opens them.
        let rotated = Store::open(&url, testkit::rotated_keyring(true)).await.unwrap();
        assert_eq!(rotated.reseal_all(100).await.unwrap(), 2 + 2);
        assert_eq!(rotated.reseal_all(100).await.unwrap(), 0, "idempotent");
        let only_new = Store::open(&url, testkit::rotated_keyring(false)).await.unwrap();
        let keys = only_new.device_psk_keys().await.unwrap();
        assert_eq!(&**keys[1].key, &[0x7c; 16][..]);
    })
    .await;
}

/// Bootstrap credentials (migration 0028) on both backends: their own table and sealing field (a key
/// copied to the CoAPs table does not open), listed without keys, re-sealed by a rotation; the PSK a
/// bootstrap provisions replaces the endpoint's CoAPs PSK and inherits the bootstrap credential's SIM.
#[tokio::test]
async fn bootstrap_psks_are_separate_sealed_resealed_and_provision_the_server_psk() {
    on_every_backend(|store, url| async move {
        let mut tx = store.begin().await.unwrap();
        tx.insert_sims(&[testkit::provision::sim("001010000000001", None, Priority::Standard, "acme")]).await.unwrap();
        let tenant = tx.put_bootstrap_psk(&psk("ep-1", "bs-1", 0x11, Some("001010000000001"))).await.unwrap();
        assert_eq!(tenant, "acme");
        tx.put_bootstrap_psk(&psk("ep-2", "bs-2", 0x12, None)).await.unwrap();
        // The same identity may exist in the other role's table; not twice in this one.
        tx.put_device_psk(&psk("ep-2", "bs-1", 0x13, None)).await.unwrap();
        let e = tx.put_bootstrap_psk(&psk("ep-3", "bs-1", 0x14, None)).await;
        assert!(matches!(&e, Err(StoreError::Conflict(m)) if m.contains("ep-1")), "{e:?}");
        tx.commit().await.unwrap();
        let listed = store.bootstrap_psks(&Scope::Tenant("acme".into())).await.unwrap();
        assert_eq!(listed.iter().map(|p| p.identity.as_str()).collect::<Vec<_>>(), ["bs-1"]);
        let keys = store.bootstrap_psk_keys().await.unwrap();
        assert_eq!((keys.len(), &**keys[0].key), (2, &[0x11u8; 16][..]));

        // A bootstrap provisions ep-1: its CoAPs PSK, with the bootstrap credential's SIM and tenant.
        let mut tx = store.begin().await.unwrap();
        let (tenant, imsi) =
            tx.put_bootstrapped_psk("ep-1", "wd-0123456789abcdef", Zeroizing::new(vec![0x21; 16]), None).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!((tenant.as_str(), imsi.map(|i| i.to_string())), ("acme", Some("001010000000001".into())));
        let server = store.device_psks(&Scope::Operator).await.unwrap();
        assert_eq!(server.iter().map(|p| p.identity.as_str()).collect::<Vec<_>>(), ["wd-0123456789abcdef", "bs-1"]);
        assert_eq!(server[0].tenant, "acme");
        assert_eq!(store.bootstrap_psk_keys().await.unwrap().len(), 2, "the bootstrap credential stays");

        // A bootstrap key copied into the CoAPs table does not open there.
        let raw = sqlx::AnyPool::connect(&url).await.unwrap();
        use sqlx::Row;
        let r = sqlx::query("SELECT key_sealed FROM device_bootstrap_psks WHERE endpoint = 'ep-2'")
            .fetch_one(&raw)
            .await
            .unwrap();
        let blob: Vec<u8> = r.try_get("key_sealed").unwrap();
        assert!(!blob.windows(8).any(|w| w == [0x12; 8]), "sealed");
        sqlx::query("UPDATE device_psks SET key_sealed = $1 WHERE endpoint = 'ep-2'")
            .bind(blob)
            .execute(&raw)
            .await
            .unwrap();
        raw.close().await;
        assert!(store.device_psk_keys().await.is_err(), "bound to its role");
        let mut tx = store.begin().await.unwrap();
        tx.put_device_psk(&psk("ep-2", "bs-1", 0x13, None)).await.unwrap();
        assert!(tx.remove_bootstrap_psk(&Scope::Tenant("other".into()), "ep-1").await.unwrap().is_none());
        assert!(tx.remove_bootstrap_psk(&Scope::Operator, "ep-2").await.unwrap().is_some());
        tx.commit().await.unwrap();

        // Rotation re-seals both tables (1 SIM, 2 CoAPs PSKs, 1 bootstrap PSK).
        let rotated = Store::open(&url, testkit::rotated_keyring(true)).await.unwrap();
        assert_eq!(rotated.reseal_all(100).await.unwrap(), 1 + 2 + 1);
        let only_new = Store::open(&url, testkit::rotated_keyring(false)).await.unwrap();
        assert_eq!(&**only_new.bootstrap_psk_keys().await.unwrap()[0].key, &[0x11; 16][..]);
    })
    .await;
}

/// A bootstrapped PSK is a compare-and-set on the endpoint's identity: it replaces the PSK only
/// while that is still the one the bootstrap started from (none, or a given identity); otherwise
/// `Conflict` and nothing changes.
#[tokio::test]
async fn a_bootstrapped_psk_replaces_only_the_psk_it_started_from() {
    on_every_backend(|store, _url| async move {
        let boot = |identity: &'static str, key: u8, previous: Option<&'static str>| {
            let store = store.clone();
            async move {
                let mut tx = store.begin().await.unwrap();
                let r = tx.put_bootstrapped_psk("ep-9", identity, Zeroizing::new(vec![key; 16]), previous).await;
                if r.is_ok() {
                    tx.commit().await.unwrap();
                }
                r.map(|_| ())
            }
        };
        let current = || async { store.device_psk_identity("ep-9").await.unwrap() };
        assert_eq!(current().await, None);
        // Two bootstraps started from "no PSK": the first to finish is stored, the second refused.
        boot("wd-a", 0x0a, None).await.unwrap();
        let e = boot("wd-b", 0x0b, None).await;
        assert!(matches!(&e, Err(StoreError::Conflict(m)) if m.contains("ep-9")), "{e:?}");
        assert_eq!(current().await.as_deref(), Some("wd-a"));
        // One started from wd-a replaces it; a late one that started from wd-a too is refused.
        boot("wd-c", 0x0c, Some("wd-a")).await.unwrap();
        let e = boot("wd-d", 0x0d, Some("wd-a")).await;
        assert!(matches!(&e, Err(StoreError::Conflict(_))), "{e:?}");
        assert_eq!(current().await.as_deref(), Some("wd-c"));
        let keys = store.device_psk_keys().await.unwrap();
        assert_eq!((keys.len(), keys[0].identity.as_str(), &**keys[0].key), (1, "wd-c", &[0x0c; 16][..]));
        // The CLI's put is not guarded.
        put(&store, psk("ep-9", "id-manual", 0x33, None)).await.unwrap();
        assert_eq!(current().await.as_deref(), Some("id-manual"));
    })
    .await;
}
