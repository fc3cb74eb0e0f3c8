//! Security analytics data on both backends (SQLite always, PostgreSQL when
//! `WARDEN_TEST_POSTGRES_URL` is set): a repeated detection counts up and keeps its highest score;
//! reads, lists, counts and changes stay inside the caller's tenant; actions are recorded once and
//! undone once; retention keeps what an undo still needs; policies round-trip; pseudonym keys are
//! made once per tenant and survive a reopen.

use std::collections::BTreeMap;

use store::access::Scope;
use store::analytics::{
    AnalyticsPolicy, DetectionAction, DetectionCursor, DetectionFilter, DetectionStatus, NewDetection,
};
use store::model::{AlgorithmSpec, NewSim, Priority, SimStatus};
use testkit::on_every_backend;

fn report(id: &str, tenant: &str, imsi: &str, kind: &str, score: f64, at: i64) -> NewDetection {
    NewDetection {
        id: id.into(),
        tenant: tenant.into(),
        imsi: imsi.into(),
        kind: kind.into(),
        score,
        evidence: format!(r#"{{"at":{at}}}"#),
        at,
    }
}

fn sim(imsi: &str, tenant: &str, status: SimStatus) -> NewSim {
    NewSim {
        imsi: imsi.parse().unwrap(),
        iccid: None,
        msisdn: None,
        eid: None,
        k: auc::Key::from_slice(&[0x46; 16]).unwrap(),
        opc: auc::SecretBytes::new(&[0xcd; 16]),
        amf: [0x80, 0x00],
        algorithm: AlgorithmSpec::Milenage,
        profile: None,
        priority: Priority::Standard,
        tenant: tenant.into(),
        status,
    }
}

#[tokio::test]
async fn detections_count_up_stay_in_their_tenant_and_are_pruned() {
    on_every_backend(|s, _| async move {
        let alpha = Scope::Tenant("alpha".into());
        let bravo = Scope::Tenant("bravo".into());
        let mut tx = s.begin().await.unwrap();
        let d = tx.upsert_detection(&report("d1", "alpha", "001010000000001", "scanning", 0.6, 1000)).await.unwrap();
        assert_eq!(
            (d.count, d.status, d.action, d.first_seen),
            (1, DetectionStatus::Open, DetectionAction::None, 1000)
        );
        // A repeat: one more, later, the highest score kept, new evidence.
        let d = tx.upsert_detection(&report("d1", "alpha", "001010000000001", "scanning", 0.4, 1100)).await.unwrap();
        assert_eq!((d.count, d.last_seen, d.score, d.first_seen), (2, 1100, 0.6, 1000));
        assert_eq!(d.evidence, r#"{"at":1100}"#);
        let d = tx.upsert_detection(&report("d1", "alpha", "001010000000001", "scanning", 0.9, 1050)).await.unwrap();
        assert_eq!((d.count, d.last_seen, d.score), (3, 1100, 0.9), "an older report does not move last_seen back");
        // The same id from another tenant is refused, and changes nothing.
        let err = tx.upsert_detection(&report("d1", "bravo", "001010000000009", "scanning", 1.0, 1200)).await;
        assert!(err.is_err());
        tx.upsert_detection(&report("d2", "alpha", "001010000000002", "dns_tunnelling", 0.7, 2000)).await.unwrap();
        tx.upsert_detection(&report("d3", "bravo", "001010000000009", "scanning", 0.8, 3000)).await.unwrap();
        tx.commit().await.unwrap();

        // Get: another tenant's id reads as absent.
        assert_eq!(s.detection_in(&alpha, "d1").await.unwrap().unwrap().count, 3);
        assert!(s.detection_in(&bravo, "d1").await.unwrap().is_none());
        assert!(s.detection_in(&Scope::Operator, "d1").await.unwrap().is_some());

        // Lists: newest first, filtered, paged, scoped.
        let ids = |v: Vec<store::analytics::Detection>| v.into_iter().map(|d| d.id).collect::<Vec<_>>();
        let all = DetectionFilter::default();
        assert_eq!(ids(s.list_detections(&alpha, &all, None, 10).await.unwrap()), ["d2", "d1"]);
        assert_eq!(ids(s.list_detections(&Scope::Operator, &all, None, 10).await.unwrap()), ["d3", "d2", "d1"]);
        let page = s.list_detections(&alpha, &all, None, 1).await.unwrap();
        let cursor = DetectionCursor { last_seen: page[0].last_seen, id: page[0].id.clone() };
        assert_eq!(ids(s.list_detections(&alpha, &all, Some(&cursor), 10).await.unwrap()), ["d1"]);
        let f = DetectionFilter { kind: Some("scanning".into()), ..Default::default() };
        assert_eq!(ids(s.list_detections(&alpha, &f, None, 10).await.unwrap()), ["d1"]);
        let f = DetectionFilter { imsi: Some("001010000000002".into()), ..Default::default() };
        assert_eq!(ids(s.list_detections(&alpha, &f, None, 10).await.unwrap()), ["d2"]);
        let f = DetectionFilter { since: Some(1500), ..Default::default() };
        assert_eq!(ids(s.list_detections(&alpha, &f, None, 10).await.unwrap()), ["d2"]);
        // d1 was seen from 1000 to 1100, d2 at 2000: `until` keeps what was first seen by then.
        let f = DetectionFilter { until: Some(1999), ..Default::default() };
        assert_eq!(ids(s.list_detections(&alpha, &f, None, 10).await.unwrap()), ["d1"]);
        let f = DetectionFilter { since: Some(1050), until: Some(2000), ..Default::default() };
        assert_eq!(ids(s.list_detections(&alpha, &f, None, 10).await.unwrap()), ["d2", "d1"]);
        let f = DetectionFilter { since: Some(1101), until: Some(1999), ..Default::default() };
        assert!(s.list_detections(&alpha, &f, None, 10).await.unwrap().is_empty());

        // Status: only within the tenant; a resolved detection opens again when it recurs.
        let mut tx = s.begin().await.unwrap();
        assert!(!tx.set_detection_status(&bravo, "d1", DetectionStatus::Resolved, "b", 5).await.unwrap());
        assert!(tx.set_detection_status(&alpha, "d1", DetectionStatus::Resolved, "a", 5).await.unwrap());
        tx.commit().await.unwrap();
        let f = DetectionFilter { status: Some(DetectionStatus::Resolved), ..Default::default() };
        assert_eq!(ids(s.list_detections(&alpha, &f, None, 10).await.unwrap()), ["d1"]);
        let mut tx = s.begin().await.unwrap();
        let d = tx.upsert_detection(&report("d1", "alpha", "001010000000001", "scanning", 0.5, 1300)).await.unwrap();
        assert_eq!(d.status, DetectionStatus::Open);
        tx.commit().await.unwrap();

        // Actions: once; undone once, within the tenant.
        let mut tx = s.begin().await.unwrap();
        assert!(tx
            .set_detection_action("d1", DetectionAction::Quarantine, "automated:analytics", None, 1300)
            .await
            .unwrap());
        assert!(!tx.set_detection_action("d1", DetectionAction::Suspend, "x", None, 1301).await.unwrap());
        assert!(tx
            .set_detection_action("d2", DetectionAction::Alert, "automated:analytics", None, 2000)
            .await
            .unwrap());
        assert!(!tx.set_detection_undone(&bravo, "d1", "b", 1400).await.unwrap());
        tx.commit().await.unwrap();
        let counts = s.detection_action_counts(&alpha, 0).await.unwrap();
        assert_eq!(counts, vec![(DetectionAction::Alert, 1, 0), (DetectionAction::Quarantine, 1, 0)]);

        // Dashboard counts.
        let by_day = s.detections_by_kind_and_day(&alpha, 0).await.unwrap();
        assert_eq!(
            by_day.iter().map(|k| (k.kind.as_str(), k.count)).collect::<Vec<_>>(),
            [("dns_tunnelling", 1), ("scanning", 1)]
        );
        let top = s.top_detected_devices(&alpha, 0, 10).await.unwrap();
        assert_eq!(top.iter().map(|t| t.imsi.as_str()).collect::<Vec<_>>(), ["001010000000001", "001010000000002"]);
        assert_eq!(top[0].max_score, 0.9);
        let kinds = s.unresolved_detections_by_kind(&alpha).await.unwrap();
        assert_eq!(kinds.len(), 2);
        assert!((kinds[1].score_sum - 0.9).abs() < 1e-9);

        // Retention keeps a quarantine still in force, then drops it once undone.
        assert_eq!(s.prune_detections(Some("alpha"), 10_000).await.unwrap(), 1, "only d2 goes");
        assert!(s.detection_in(&alpha, "d1").await.unwrap().is_some());
        let mut tx = s.begin().await.unwrap();
        assert!(tx.set_detection_undone(&alpha, "d1", "a", 1400).await.unwrap());
        assert!(!tx.set_detection_undone(&alpha, "d1", "a", 1401).await.unwrap(), "undone once");
        tx.commit().await.unwrap();
        assert_eq!(s.detection_action_counts(&alpha, 0).await.unwrap(), vec![(DetectionAction::Quarantine, 1, 1)]);
        assert_eq!(s.prune_detections(Some("alpha"), 10_000).await.unwrap(), 1);
        assert!(s.detection_in(&bravo, "d3").await.unwrap().is_some(), "another tenant's are kept");
        assert_eq!(s.prune_detections(None, 10_000).await.unwrap(), 1);
    })
    .await;
}

#[tokio::test]
async fn policies_keys_and_posture() {
    on_every_backend(|s, url| async move {
        assert!(s.analytics_policy("alpha").await.unwrap().is_none());
        let p = AnalyticsPolicy {
            tenant: "alpha".into(),
            actions: BTreeMap::from([("scanning".to_string(), DetectionAction::Quarantine)]),
            default_action: DetectionAction::Alert,
            min_score: 0.75,
            pseudonymise: false,
            detections_days: 90,
            flows_days: 30,
            dns_days: 7,
            use_flows: true,
            use_dns: true,
            use_signalling: false,
            use_payload: false,
            updated_at: 5,
            updated_by: "token:t(1)".into(),
        };
        let mut tx = s.begin().await.unwrap();
        tx.put_analytics_policy(&p).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(s.analytics_policy("alpha").await.unwrap().as_ref(), Some(&p));
        let changed = AnalyticsPolicy { pseudonymise: true, use_payload: true, min_score: 0.5, ..p.clone() };
        let mut tx = s.begin().await.unwrap();
        tx.put_analytics_policy(&changed).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(s.analytics_policies().await.unwrap(), vec![changed]);

        // One key per tenant, the same on every read and after a reopen; stored sealed.
        let a = s.analytics_key("alpha").await.unwrap();
        assert_eq!(a.len(), 32);
        assert_eq!(*s.analytics_key("alpha").await.unwrap(), *a);
        assert_ne!(*s.analytics_key("bravo").await.unwrap(), *a);
        let again = store::Store::open(&url, testkit::keyring()).await.unwrap();
        assert_eq!(*again.analytics_key("alpha").await.unwrap(), *a);

        // Posture: active SIMs, quarantined ones, and those without allowlists of their own.
        let mut tx = s.begin().await.unwrap();
        tx.create_tenant("alpha").await.unwrap();
        tx.insert_sims(&[
            sim("001010000000001", "alpha", SimStatus::Active),
            sim("001010000000002", "alpha", SimStatus::Active),
            sim("001010000000003", "alpha", SimStatus::Active),
            sim("001010000000004", "alpha", SimStatus::Suspended),
        ])
        .await
        .unwrap();
        let q = store::traffic::Quarantine { since: 1, reason: "scan".into(), by: "x".into() };
        tx.set_sim_quarantine(&"001010000000001".parse().unwrap(), "alpha", Some(&q), 1).await.unwrap();
        let lists =
            store::traffic::SimPolicy { allow_prefixes: vec!["192.0.2.0/24".parse().unwrap()], ..Default::default() };
        tx.set_sim_lists(&"001010000000002".parse().unwrap(), "alpha", &lists).await.unwrap();
        tx.commit().await.unwrap();
        let posture = s.posture_counts("alpha").await.unwrap();
        assert_eq!((posture.active, posture.quarantined), (3, 1));
        assert_eq!(posture.unrestricted_by_profile, vec![(None, 1)]);
        assert_eq!(s.posture_counts("bravo").await.unwrap(), Default::default());
    })
    .await;
}
