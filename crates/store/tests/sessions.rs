//! Portal cookie sessions on both backends: the CSRF token opens only with the session's own token
//! (the database holds it sealed, not in clear), uses are recorded at most once per interval, one's
//! live sessions are listed without secrets, and one session is revoked without touching the others.

use store::access::NewToken;
use testkit::on_every_backend;

fn session(user_id: &str) -> NewToken {
    NewToken {
        name: "session:alice".into(),
        role: "tenant_admin".into(),
        tenant: Some("acme".into()),
        expires_at: Some(store::now() + 3600),
        allowed_sources: vec![],
        user_id: Some(user_id.into()),
    }
}

#[tokio::test]
async fn cookie_state_listing_touch_and_revocation() {
    on_every_backend(|store, _url| async move {
        let mut tx = store.begin().await.unwrap();
        tx.create_tenant("acme").await.unwrap();
        let user = tx.create_user("alice", "x", "tenant_admin", Some("acme")).await.unwrap();
        let (cookie_info, cookie) = tx.issue_token(&session(&user.id)).await.unwrap();
        let (bearer_info, bearer) = tx.issue_token(&session(&user.id)).await.unwrap();
        let csrf = tx.make_cookie_session(&cookie).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(csrf.len(), 32);

        let state = store.cookie_state(&cookie).await.unwrap().unwrap();
        assert_eq!(state.csrf_token, csrf);
        assert!(state.csrf_matches(&csrf) && !state.csrf_matches("") && !state.csrf_matches(&csrf[1..]));
        assert_eq!(store.cookie_state(&bearer).await.unwrap(), None, "a bearer session has no cookie state");
        let (id, _) = cookie[4..].split_once('_').unwrap();
        let wrong_secret = format!("wdn_{id}_{}", "0".repeat(64));
        let opened = store.cookie_state(&wrong_secret).await.unwrap().unwrap();
        assert_ne!(opened.csrf_token, csrf, "the token opens only with the session's secret");
        assert!(!format!("{:?}", store.list_sessions(&user.id, store::now()).await.unwrap()).contains(&csrf));

        let t0 = state.last_used_at;
        store.touch_session(&cookie_info.id, t0 + 30, 60).await.unwrap();
        assert_eq!(store.cookie_state(&cookie).await.unwrap().unwrap().last_used_at, t0, "within the interval");
        store.touch_session(&cookie_info.id, t0 + 60, 60).await.unwrap();
        assert_eq!(store.cookie_state(&cookie).await.unwrap().unwrap().last_used_at, t0 + 60);

        let list = store.list_sessions(&user.id, store::now()).await.unwrap();
        let mut kinds: Vec<(String, bool)> = list.iter().map(|s| (s.id.clone(), s.cookie)).collect();
        kinds.sort();
        let mut want = vec![(cookie_info.id.clone(), true), (bearer_info.id.clone(), false)];
        want.sort();
        assert_eq!(kinds, want);

        let mut tx = store.begin().await.unwrap();
        assert!(!tx.revoke_session("usr_other", &cookie_info.id).await.unwrap(), "only one's own");
        assert!(tx.revoke_session(&user.id, &cookie_info.id).await.unwrap());
        assert!(!tx.revoke_session(&user.id, &cookie_info.id).await.unwrap(), "already revoked");
        tx.commit().await.unwrap();
        let left: Vec<String> =
            store.list_sessions(&user.id, store::now()).await.unwrap().into_iter().map(|s| s.id).collect();
        assert_eq!(left, vec![bearer_info.id]);
    })
    .await;
}
