//! OpenID Connect login data on both backends: flows are single use, expire, and keep the PKCE
//! verifier sealed; a provider subject binds to one user, and a deleted user's binding is freed.

use store::access::Scope;
use testkit::on_every_backend;

#[tokio::test]
async fn flows_are_single_use_and_subjects_bind_once() {
    on_every_backend(|store, _url| async move {
        let mut tx = store.begin().await.unwrap();
        tx.put_oidc_flow("state-1", "nonce-1", b"verifier-1", "127.0.0.1", store::now() + 600).await.unwrap();
        tx.put_oidc_flow("state-old", "nonce-2", b"verifier-2", "127.0.0.1", store::now() - 1).await.unwrap();
        tx.commit().await.unwrap();

        let mut tx = store.begin().await.unwrap();
        let f = tx.take_oidc_flow("state-1").await.unwrap().expect("the flow");
        assert_eq!(
            (f.nonce.as_str(), &f.verifier[..], f.source.as_str()),
            ("nonce-1", &b"verifier-1"[..], "127.0.0.1")
        );
        assert!(!format!("{f:?}").contains("verifier-1"), "Debug hides the verifier");
        assert!(tx.take_oidc_flow("state-1").await.unwrap().is_none(), "single use");
        assert!(tx.take_oidc_flow("state-old").await.unwrap().is_none(), "expired");
        assert!(tx.take_oidc_flow("state-unknown").await.unwrap().is_none());
        tx.commit().await.unwrap();

        let mut tx = store.begin().await.unwrap();
        let alice = tx.create_user("alice", "x", "operator_admin", None).await.unwrap();
        let bob = tx.create_user("bob", "x", "operator_admin", None).await.unwrap();
        assert!(tx.bind_oidc_subject(&alice.id, "https://idp", "sub-a").await.unwrap());
        assert!(!tx.bind_oidc_subject(&bob.id, "https://idp", "sub-a").await.unwrap(), "one user per subject");
        assert!(tx.bind_oidc_subject(&bob.id, "https://other-idp", "sub-a").await.unwrap(), "per issuer");
        tx.commit().await.unwrap();
        assert_eq!(store.oidc_subject(&alice.id, "https://idp").await.unwrap().as_deref(), Some("sub-a"));
        assert_eq!(store.oidc_subject(&bob.id, "https://idp").await.unwrap(), None);

        let mut tx = store.begin().await.unwrap();
        assert!(tx.delete_user(&Scope::Operator, &alice.id).await.unwrap());
        assert!(tx.bind_oidc_subject(&bob.id, "https://idp", "sub-a").await.unwrap(), "freed by the deletion");
        tx.commit().await.unwrap();
    })
    .await;
}
