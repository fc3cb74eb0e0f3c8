//! Passkeys' data on both backends: credentials per person (a credential id registered once across
//! everyone, renamed and deleted only by their owner, gone with the person), the use recorded only
//! over the counter checked (two instances cannot both accept one counter value), and ceremonies
//! taken once, only by their person and binding, only while live.

use store::access::Scope;
use store::webauthn::CeremonyKind;
use store::StoreError;
use testkit::on_every_backend;

#[tokio::test]
async fn passkeys_and_ceremonies() {
    on_every_backend(|store, _url| async move {
        let mut tx = store.begin().await.unwrap();
        tx.create_tenant("acme").await.unwrap();
        let alice = tx.create_user("alice", "x", "tenant_admin", Some("acme")).await.unwrap();
        let bob = tx.create_user("bob", "x", "tenant_admin", Some("acme")).await.unwrap();
        tx.commit().await.unwrap();

        let mut tx = store.begin().await.unwrap();
        let id = tx.insert_webauthn_credential(&alice.id, "Y3JlZC0x", "{\"k\":1}", 0, "laptop").await.unwrap();
        tx.commit().await.unwrap();
        let mut tx = store.begin().await.unwrap();
        let dup = tx.insert_webauthn_credential(&bob.id, "Y3JlZC0x", "{}", 0, "stolen").await;
        assert!(matches!(dup, Err(StoreError::Conflict(_))), "a credential id is registered once: {dup:?}");
        drop(tx);
        assert_eq!(store.count_webauthn_credentials(&alice.id).await.unwrap(), 1);
        assert_eq!(store.count_webauthn_credentials(&bob.id).await.unwrap(), 0);

        let mut tx = store.begin().await.unwrap();
        assert!(!tx.rename_webauthn_credential(&bob.id, &id, "mine").await.unwrap(), "not bob's");
        assert!(!tx.delete_webauthn_credential(&bob.id, &id).await.unwrap(), "not bob's");
        assert!(tx.rename_webauthn_credential(&alice.id, &id, "work laptop").await.unwrap());
        assert!(tx.record_webauthn_use(&id, "{\"k\":2}", 0, 5).await.unwrap());
        assert!(!tx.record_webauthn_use(&id, "{\"k\":3}", 0, 6).await.unwrap(), "checked against a stale counter");
        tx.commit().await.unwrap();
        let c = &store.webauthn_credentials(&alice.id).await.unwrap()[0];
        assert_eq!((c.name.as_str(), c.passkey.as_str(), c.sign_count), ("work laptop", "{\"k\":2}", 5));
        assert!(c.last_used_at.is_some());

        let now = store::now();
        let mut tx = store.begin().await.unwrap();
        let cer =
            tx.put_webauthn_ceremony(CeremonyKind::Login, &alice.id, "ticket-1", "state-1", now + 300).await.unwrap();
        let old =
            tx.put_webauthn_ceremony(CeremonyKind::Login, &alice.id, "ticket-1", "state-0", now - 1).await.unwrap();
        assert_eq!(cer.len(), 32, "128 random bits");
        assert!(tx
            .take_webauthn_ceremony(&cer, CeremonyKind::Login, &bob.id, "ticket-1", now)
            .await
            .unwrap()
            .is_none());
        assert!(tx
            .take_webauthn_ceremony(&cer, CeremonyKind::Login, &alice.id, "ticket-2", now)
            .await
            .unwrap()
            .is_none());
        assert!(tx
            .take_webauthn_ceremony(&cer, CeremonyKind::StepUp, &alice.id, "ticket-1", now)
            .await
            .unwrap()
            .is_none());
        assert!(tx
            .take_webauthn_ceremony(&old, CeremonyKind::Login, &alice.id, "ticket-1", now)
            .await
            .unwrap()
            .is_none());
        let state = tx.take_webauthn_ceremony(&cer, CeremonyKind::Login, &alice.id, "ticket-1", now).await.unwrap();
        assert_eq!(state.as_deref(), Some("state-1"), "the failed attempts above did not use it up");
        assert!(
            tx.take_webauthn_ceremony(&cer, CeremonyKind::Login, &alice.id, "ticket-1", now).await.unwrap().is_none(),
            "taken once"
        );
        tx.commit().await.unwrap();
        assert_eq!(store.purge_expired_ceremonies(now).await.unwrap(), 1, "the expired one");

        // Deleting the person deletes their passkeys and ceremonies.
        let mut tx = store.begin().await.unwrap();
        tx.put_webauthn_ceremony(CeremonyKind::Register, &alice.id, "tok", "s", now + 300).await.unwrap();
        assert!(tx.delete_user(&Scope::Tenant("acme".into()), &alice.id).await.unwrap());
        tx.commit().await.unwrap();
        assert!(store.webauthn_credentials(&alice.id).await.unwrap().is_empty());
        assert_eq!(store.purge_expired_ceremonies(now + 10_000).await.unwrap(), 0, "none left");
    })
    .await;
}
