//! Completing an OpenID Connect login (`cmp::oidc::login`) on both backends: no account is created
//! for an unknown or other-tenant user; the provider's subject binds on first use and another one is
//! refused; a provider second factor opens an `oidc` session, fresh for step-up; without one, Warden's
//! own second factor follows where it applies, else the session counts as a password login.

use cmp::access::LoginOutcome;
use cmp::oidc::{Identity, Outcome, Refusal};
use testkit::on_every_backend;

fn who(username: &str, subject: &str, second_factor: bool) -> Identity {
    Identity {
        issuer: "https://idp.example".into(),
        subject: subject.into(),
        username: username.into(),
        amr: if second_factor { vec!["pwd".into(), "otp".into()] } else { vec!["pwd".into()] },
        acr: None,
        second_factor,
    }
}

fn session(o: Outcome) -> cmp::access::Session {
    match o {
        Outcome::Login(LoginOutcome::Session(s)) => s,
        other => panic!("expected a session, got {other:?}"),
    }
}

#[tokio::test]
async fn provider_logins_match_bind_and_keep_the_second_factor() {
    on_every_backend(|store, _url| async move {
        let mut tx = store.begin().await.unwrap();
        tx.create_tenant("acme").await.unwrap();
        tx.create_tenant("relaxed").await.unwrap();
        assert!(tx.set_mfa_required("relaxed", false).await.unwrap());
        tx.create_user("alice", "x", "tenant_admin", Some("acme")).await.unwrap();
        tx.create_user("bob", "x", "tenant_viewer", Some("relaxed")).await.unwrap();
        tx.commit().await.unwrap();
        let login = |id: Identity, tenant: &'static str| {
            let store = store.clone();
            async move { cmp::oidc::login(&store, &id, Some(tenant), None, 3600).await.unwrap() }
        };

        // No auto-provisioning, and the provider's tenant only.
        assert!(matches!(login(who("mallory", "sub-m", true), "acme").await, Outcome::Refused(Refusal::UnknownUser)));
        assert!(matches!(login(who("bob", "sub-b", true), "acme").await, Outcome::Refused(Refusal::UnknownUser)));

        // A provider second factor: an `oidc` session, fresh for step-up; the subject is now bound.
        let s = session(login(who("alice", "sub-a", true), "acme").await);
        assert_eq!((s.factor.as_str(), s.tenant.as_deref()), ("oidc", Some("acme")));
        let info = store.verify_token(&s.token, None, store::now()).await.unwrap().expect("a live session");
        let (factor, _) = store.session_freshness(&info.id).await.unwrap().expect("fresh");
        assert_eq!(factor, "oidc");

        // Another subject for alice, or alice's subject as bob: refused.
        let other = login(who("alice", "sub-evil", true), "acme").await;
        assert!(matches!(other, Outcome::Refused(Refusal::SubjectMismatch)), "{other:?}");
        let reused = login(who("bob", "sub-a", true), "relaxed").await;
        assert!(matches!(reused, Outcome::Refused(Refusal::SubjectMismatch)), "{reused:?}");

        // Without a provider second factor where MFA is required: Warden's enrolment ticket, no session.
        let o = login(who("alice", "sub-a", false), "acme").await;
        assert!(matches!(o, Outcome::Login(LoginOutcome::Enrol(_))), "{o:?}");

        // Where no second factor applies: a session that counts as a password login (not fresh).
        let s = session(login(who("bob", "sub-b", false), "relaxed").await);
        assert_eq!(s.factor, "password");
        let info = store.verify_token(&s.token, None, store::now()).await.unwrap().expect("a live session");
        assert!(store.session_freshness(&info.id).await.unwrap().is_none(), "a password is not a fresh factor");
    })
    .await;
}
