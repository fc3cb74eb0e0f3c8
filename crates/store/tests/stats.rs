//! The portal's counts and SIM filters on both backends (SQLite always, PostgreSQL when
//! `WARDEN_TEST_POSTGRES_URL` is set): grouped counts and filters stay inside the caller's scope.

use store::access::Scope;
use store::model::{AlgorithmSpec, NewSim, Priority, SimStatus};
use store::sims_scoped::SimFilter;
use testkit::on_every_backend;

fn sim(imsi: &str, tenant: &str, priority: Priority, status: SimStatus, iccid: Option<&str>) -> NewSim {
    NewSim {
        imsi: imsi.parse().unwrap(),
        iccid: iccid.map(|i| i.parse().unwrap()),
        msisdn: None,
        eid: None,
        k: auc::Key::from_slice(&[0x46; 16]).unwrap(),
        opc: auc::SecretBytes::new(&[0xcd; 16]),
        amf: [0x80, 0x00],
        algorithm: AlgorithmSpec::Milenage,
        profile: None,
        priority,
        tenant: tenant.into(),
        status,
    }
}

#[tokio::test]
async fn counts_and_filters_stay_in_the_scope() {
    on_every_backend(|s, _| async move {
        for t in ["alpha", "bravo"] {
            let mut tx = s.begin().await.unwrap();
            tx.create_tenant(t).await.unwrap();
            tx.commit().await.unwrap();
        }
        let sims = vec![
            sim("001010000000001", "alpha", Priority::Critical, SimStatus::Active, Some("8944000000000000019")),
            sim("001010000000002", "alpha", Priority::Standard, SimStatus::Active, Some("8944000000000000027")),
            sim("001010000000003", "alpha", Priority::Standard, SimStatus::Suspended, None),
            sim("001010000000004", "bravo", Priority::Low, SimStatus::Active, Some("8944000000000000035")),
        ];
        let mut tx = s.begin().await.unwrap();
        tx.insert_sims(&sims).await.unwrap();
        tx.commit().await.unwrap();
        let alpha = Scope::Tenant("alpha".into());

        let counts: Vec<(String, String, i64)> =
            s.count_sims(&alpha).await.unwrap().into_iter().map(|c| (c.status, c.priority, c.count)).collect();
        let want = [("active", "critical", 1), ("active", "standard", 1), ("suspended", "standard", 1)];
        assert_eq!(counts, want.map(|(a, b, n)| (a.to_string(), b.to_string(), n)));
        let all: i64 = s.count_sims(&Scope::Operator).await.unwrap().iter().map(|c| c.count).sum();
        assert_eq!(all, 4);

        let imsis =
            |v: Vec<store::sims_scoped::ManagedSim>| v.into_iter().map(|m| m.sim.imsi.to_string()).collect::<Vec<_>>();
        let f = SimFilter { iccid_prefix: Some("89440000000000000".into()), ..Default::default() };
        assert_eq!(imsis(s.list_sims(&alpha, &f, None, 10).await.unwrap()), ["001010000000001", "001010000000002"]);
        assert_eq!(imsis(s.list_sims(&Scope::Operator, &f, None, 10).await.unwrap()).len(), 3);
        let f = SimFilter { priority: Some(Priority::Low), ..Default::default() };
        assert!(s.list_sims(&alpha, &f, None, 10).await.unwrap().is_empty(), "bravo's low SIM is not alpha's");
        let f = SimFilter { tenant: Some("bravo".into()), ..Default::default() };
        assert!(s.list_sims(&alpha, &f, None, 10).await.unwrap().is_empty());
        assert_eq!(imsis(s.list_sims(&Scope::Operator, &f, None, 10).await.unwrap()), ["001010000000004"]);

        s.record_tenant_event("alpha", Some("001010000000001"), "rule.hit", "a").await.unwrap();
        s.record_tenant_event("bravo", Some("001010000000004"), "roaming.rejected", "b").await.unwrap();
        s.record_tenant_event("alpha", Some("001010000000002"), "rule.hit", "c").await.unwrap();
        let since = store::now() - 120;
        let per_minute = s.count_events_per_minute(&alpha, since).await.unwrap();
        assert_eq!(per_minute.iter().map(|c| c.count).sum::<i64>(), 2, "{per_minute:?}");
        assert!(per_minute.iter().all(|c| c.kind == "rule.hit" && c.minute % 60 == 0), "{per_minute:?}");
        let recent = s.recent_events(&alpha, 10).await.unwrap();
        assert_eq!(
            recent.iter().map(|e| e.detail.as_str()).collect::<Vec<_>>(),
            ["c", "a"],
            "newest first, alpha's only"
        );
        assert_eq!(s.recent_events(&Scope::Operator, 1).await.unwrap()[0].detail, "c");
    })
    .await;
}
