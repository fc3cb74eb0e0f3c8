//! The second factor's data on both backends: the sealed TOTP secret (opens only for its user, survives
//! a KEK rotation), the conditional step update that refuses a replay, single-use recovery codes and
//! tickets (bound to their source, expiring), and the per-tenant `mfa_required`.

use store::mfa::TicketPurpose;
use store::seal::{Kek, Keyring};
use store::Store;
use testkit::on_every_backend;

#[tokio::test]
async fn totp_credentials_recovery_codes_and_tickets() {
    on_every_backend(|store, url| async move {
        let mut tx = store.begin().await.unwrap();
        tx.create_tenant("acme").await.unwrap();
        let user = tx.create_user("alice", "x", "tenant_admin", Some("acme")).await.unwrap();
        tx.commit().await.unwrap();
        assert!(store.mfa_required(Some("acme")).await.unwrap(), "required by default");
        assert!(store.mfa_required(None).await.unwrap(), "always for the operator's staff");
        let mut tx = store.begin().await.unwrap();
        assert!(tx.set_mfa_required("acme", false).await.unwrap());
        assert!(!tx.set_mfa_required("nope", false).await.unwrap());
        tx.commit().await.unwrap();
        assert!(!store.mfa_required(Some("acme")).await.unwrap());

        let secret = b"0123456789abcdefghij";
        let mut tx = store.begin().await.unwrap();
        tx.put_pending_totp(&user.id, secret, "SHA1", 6).await.unwrap();
        assert!(!tx.accept_totp_step(&user.id, 10, false).await.unwrap(), "a pending credential logs nobody in");
        assert!(tx.accept_totp_step(&user.id, 10, true).await.unwrap());
        assert!(!tx.accept_totp_step(&user.id, 10, false).await.unwrap(), "the same step again is a replay");
        assert!(!tx.accept_totp_step(&user.id, 9, false).await.unwrap(), "an earlier step too");
        assert!(tx.accept_totp_step(&user.id, 11, false).await.unwrap());
        tx.commit().await.unwrap();
        let mut tx = store.begin().await.unwrap();
        assert!(matches!(tx.put_pending_totp(&user.id, secret, "SHA1", 6).await, Err(store::StoreError::Conflict(_))));
        drop(tx);
        let c = store.totp_credential(&user.id).await.unwrap().unwrap();
        assert_eq!((&**c.secret, c.active, c.last_step, c.digits), (&secret[..], true, 11, 6));
        assert!(!format!("{c:?}").contains("0123"), "Debug hides the secret");

        let mut tx = store.begin().await.unwrap();
        tx.replace_recovery_codes(&user.id, &["h1".into(), "h2".into()]).await.unwrap();
        assert!(tx.use_recovery_code(&user.id, "h1").await.unwrap());
        assert!(!tx.use_recovery_code(&user.id, "h1").await.unwrap(), "single use");
        assert!(!tx.use_recovery_code("usr_other", "h2").await.unwrap(), "another user's code");
        let ticket = tx.issue_mfa_ticket(&user.id, TicketPurpose::Login, "10.0.0.1", store::now() + 300).await.unwrap();
        let old = tx.issue_mfa_ticket(&user.id, TicketPurpose::Login, "10.0.0.1", store::now() - 1).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(store.recovery_codes_left(&user.id).await.unwrap(), 1);
        let t = store.mfa_ticket(&ticket, "10.0.0.1", store::now()).await.unwrap().unwrap();
        assert_eq!((t.user_id.as_str(), t.purpose), (user.id.as_str(), TicketPurpose::Login));
        assert!(store.mfa_ticket(&ticket, "10.0.0.2", store::now()).await.unwrap().is_none(), "bound to the source");
        assert!(store.mfa_ticket(&old, "10.0.0.1", store::now()).await.unwrap().is_none(), "expired");
        // The last character changed (to another one: a random ticket may already end in `0`).
        let last = if ticket.ends_with('0') { '1' } else { '0' };
        let forged = format!("{}{last}", &ticket[..ticket.len() - 1]);
        assert!(store.mfa_ticket(&forged, "10.0.0.1", store::now()).await.unwrap().is_none(), "wrong secret");
        let mut tx = store.begin().await.unwrap();
        assert!(tx.use_mfa_ticket(&t.id).await.unwrap());
        assert!(!tx.use_mfa_ticket(&t.id).await.unwrap(), "single use");
        tx.commit().await.unwrap();
        assert!(store.mfa_ticket(&ticket, "10.0.0.1", store::now()).await.unwrap().is_none());
        assert_eq!(store.purge_expired_tickets(store::now()).await.unwrap(), 1);

        // A KEK rotation re-seals the secret; the old KEK can then be dropped.
        let rotated =
            Store::open(&url, Keyring::new(Kek::from_bytes(2, &[0x43; 32]), vec![Kek::from_bytes(1, &[9; 32])]))
                .await
                .unwrap();
        assert_eq!(rotated.reseal_all(100).await.unwrap(), 1);
        let only_new = Store::open(&url, Keyring::new(Kek::from_bytes(2, &[0x43; 32]), vec![])).await.unwrap();
        assert_eq!(&**only_new.totp_credential(&user.id).await.unwrap().unwrap().secret, &secret[..]);

        let mut tx = store.begin().await.unwrap();
        assert!(tx.delete_mfa(&user.id).await.unwrap());
        tx.commit().await.unwrap();
        assert!(store.totp_credential(&user.id).await.unwrap().is_none());
        assert_eq!(store.recovery_codes_left(&user.id).await.unwrap(), 0);
    })
    .await;
}
