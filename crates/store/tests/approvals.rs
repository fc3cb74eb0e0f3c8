//! Step-up freshness and second-person approvals on both backends: a login with a second factor is
//! fresh, a password login is not, a step-up renews it; one open request per SIM and action (an
//! expired one gives way), decisions scoped to the tenant and made once, the list filtered by status
//! with pending/expired told apart, and cursor paging.

use store::access::{NewToken, Scope};
use store::approvals::{Decision, NewApproval};
use testkit::on_every_backend;

fn request<'a>(imsi: &'a str, tenant: &'a str, at: i64, ttl: i64) -> NewApproval<'a> {
    NewApproval {
        tenant,
        action: "sim.terminate",
        imsi,
        reason: "device returned",
        requested_by: "token:session:alice(1)",
        requester_key: "user:usr_1",
        requested_factor: Some("totp"),
        at,
        ttl,
    }
}

fn decision(status: &str, at: i64) -> Decision<'_> {
    Decision { status, decided_by: "token:session:bob(2)", decided_factor: Some("webauthn"), note: "ok", at }
}

#[tokio::test]
async fn step_up_freshness_and_approvals() {
    on_every_backend(|store, _url| async move {
        let mut tx = store.begin().await.unwrap();
        tx.create_tenant("acme").await.unwrap();
        tx.create_tenant("globex").await.unwrap();
        let user = tx.create_user("alice", "x", "tenant_admin", Some("acme")).await.unwrap();
        let mut ids = vec![];
        for _ in 0..2 {
            let (info, _) = tx
                .issue_token(&NewToken {
                    name: "session:alice".into(),
                    role: "tenant_admin".into(),
                    tenant: Some("acme".into()),
                    expires_at: None,
                    allowed_sources: vec![],
                    user_id: Some(user.id.clone()),
                })
                .await
                .unwrap();
            ids.push(info.id);
        }
        tx.set_session_factor(&ids[0], "totp").await.unwrap();
        tx.set_session_factor(&ids[1], "password").await.unwrap();
        tx.commit().await.unwrap();
        let (factor, at) = store.session_freshness(&ids[0]).await.unwrap().expect("a second factor is fresh");
        assert_eq!(factor, "totp");
        assert!((store::now() - at).abs() <= 2);
        assert_eq!(store.session_freshness(&ids[1]).await.unwrap(), None, "a password is no second factor");
        let mut tx = store.begin().await.unwrap();
        tx.record_step_up(&ids[1], "recovery", 1234).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(store.session_freshness(&ids[1]).await.unwrap(), Some(("recovery".into(), 1234)));

        let now = store::now();
        let mut tx = store.begin().await.unwrap();
        let first = tx.insert_approval(&request("001010000000001", "acme", now, 3600)).await.unwrap();
        assert!(matches!(
            tx.insert_approval(&request("001010000000001", "acme", now, 3600)).await,
            Err(store::StoreError::Conflict(_))
        ));
        tx.commit().await.unwrap();
        let mut tx = store.begin().await.unwrap();
        let lapsed = tx.insert_approval(&request("001010000000002", "acme", now - 100, 50)).await.unwrap();
        // The expired request gives way to a new one for the same SIM and action.
        let fresh = tx.insert_approval(&request("001010000000002", "acme", now, 3600)).await.unwrap();
        let foreign = tx.insert_approval(&request("001010000000003", "globex", now, 3600)).await.unwrap();
        tx.commit().await.unwrap();

        let acme = Scope::Tenant("acme".into());
        let globex = Scope::Tenant("globex".into());
        assert_eq!(store.approval_in(&globex, &first.id, now).await.unwrap(), None);
        assert_eq!(store.approval_in(&acme, &lapsed.id, now).await.unwrap().unwrap().status, "expired");
        let pending = store.list_approvals(&acme, Some("pending"), None, 10, now).await.unwrap();
        let mut got: Vec<&str> = pending.iter().map(|a| a.id.as_str()).collect();
        got.sort();
        let mut want = vec![first.id.as_str(), fresh.id.as_str()];
        want.sort();
        assert_eq!(got, want);
        assert_eq!(store.list_approvals(&Scope::Operator, Some("pending"), None, 10, now).await.unwrap().len(), 3);
        let expired = store.list_approvals(&acme, Some("expired"), None, 10, now).await.unwrap();
        assert_eq!(expired.len(), 1, "the lapsed request, closed as expired when its SIM was asked again");
        let page1 = store.list_approvals(&Scope::Operator, None, None, 2, now).await.unwrap();
        let last = page1.last().unwrap();
        let page2 =
            store.list_approvals(&Scope::Operator, None, Some((last.requested_at, &last.id)), 10, now).await.unwrap();
        assert_eq!(page1.len() + page2.len(), 4);
        assert!(page2.iter().all(|a| !page1.iter().any(|b| b.id == a.id)), "no overlap between pages");

        let mut tx = store.begin().await.unwrap();
        assert!(!tx.decide_approval(&globex, &first.id, &decision("approved", now)).await.unwrap(), "other tenant");
        assert!(!tx.decide_approval(&acme, &lapsed.id, &decision("approved", now)).await.unwrap(), "expired");
        assert!(tx.decide_approval(&acme, &first.id, &decision("approved", now)).await.unwrap());
        assert!(!tx.decide_approval(&Scope::Operator, &first.id, &decision("rejected", now)).await.unwrap(), "once");
        assert!(tx.decide_approval(&Scope::Operator, &foreign.id, &decision("rejected", now)).await.unwrap());
        tx.commit().await.unwrap();
        let a = store.approval_in(&acme, &first.id, now).await.unwrap().unwrap();
        assert_eq!(
            (a.status.as_str(), a.decided_factor.as_deref(), a.decision_note.as_deref()),
            ("approved", Some("webauthn"), Some("ok"))
        );
        // With the first request decided, the SIM may be asked about again.
        let mut tx = store.begin().await.unwrap();
        tx.insert_approval(&request("001010000000001", "acme", now, 3600)).await.unwrap();
        tx.commit().await.unwrap();
    })
    .await;
}
