//! Firmware campaigns on both backends (SQLite always, PostgreSQL when `WARDEN_TEST_POSTGRES_URL`
//! is set): rows round-trip inside their tenant, status changes are conditional, a pending device
//! is claimed by exactly one of several racing instances (two stores on one database stand for two
//! instances), expired leases fail the device instead of offering it again, and critical devices
//! come back to pending only through the approval.

use std::sync::Arc;

use store::access::Scope;
use store::campaigns::{Claim, NewCampaign, CRITICAL_REASON};
use store::Store;
use testkit::on_every_backend;

fn campaign(tenant: &str, devices: &[&str]) -> NewCampaign {
    NewCampaign {
        tenant: tenant.into(),
        name: "spring rollout".into(),
        image_id: "fw_0011223344556677".into(),
        settings: store::campaigns::CampaignSettings {
            model: Some("meter".into()),
            canary_permille: 100,
            failure_permille: 200,
            window_days: "0123456".into(),
            window_start_hour: 0,
            window_end_hour: 24,
            max_concurrent: 5,
            allow_downgrade: false,
            allow_reinstall: true,
            include_critical: false,
            delivery: store::campaigns::Delivery::Push,
        },
        created_by: "alice".into(),
        created_at: 100,
        devices: devices.iter().enumerate().map(|(i, d)| (d.to_string(), i == 0)).collect(),
    }
}

async fn insert(store: &Store, c: &NewCampaign) -> String {
    let mut tx = store.begin().await.unwrap();
    let id = tx.insert_campaign(c).await.unwrap();
    tx.commit().await.unwrap();
    id
}

#[tokio::test]
async fn campaigns_round_trip_inside_their_tenant() {
    on_every_backend(|store, _| async move {
        let id = insert(&store, &campaign("acme", &["ep-1", "ep-2", "ep-3"])).await;
        let acme = Scope::Tenant("acme".into());
        let other = Scope::Tenant("other".into());
        let c = store.campaign(&acme, &id).await.unwrap().unwrap();
        assert_eq!((c.status.as_str(), c.settings.canary_permille, c.settings.failure_permille), ("running", 100, 200));
        assert_eq!(
            (c.settings.allow_downgrade, c.settings.allow_reinstall, c.settings.model.as_deref()),
            (false, true, Some("meter"))
        );
        assert_eq!(c.settings.delivery, store::campaigns::Delivery::Push);
        assert!(store.campaign(&other, &id).await.unwrap().is_none());
        assert_eq!(store.campaigns(&other).await.unwrap().len(), 0);
        assert_eq!(store.campaigns(&Scope::Operator).await.unwrap().len(), 1);
        let counts = store.campaign_counts(&id).await.unwrap();
        assert_eq!(counts.all.get("pending"), Some(&3));
        assert_eq!(counts.canary.get("pending"), Some(&1));
        assert_eq!((counts.open(), counts.canary_open(), counts.in_flight()), (3, 1, 0));
        let canaries = store.pending_campaign_devices(&id, true, 10).await.unwrap();
        assert_eq!(canaries.iter().map(|d| d.endpoint.as_str()).collect::<Vec<_>>(), ["ep-1"]);
        let page = store.campaign_devices(&id, None, Some("ep-1"), 1).await.unwrap();
        assert_eq!(page[0].endpoint, "ep-2");

        // Pause and resume are conditional; another tenant cannot change it.
        let mut tx = store.begin().await.unwrap();
        assert!(tx.change_campaign_status(&other, &id, &["running"], "paused", "x").await.unwrap().is_none());
        let paused = tx.change_campaign_status(&acme, &id, &["running"], "paused", "by alice").await.unwrap();
        assert_eq!(paused.unwrap().status, "paused");
        assert!(tx.change_campaign_status(&acme, &id, &["running"], "paused", "again").await.unwrap().is_none());
        tx.commit().await.unwrap();
        // A paused campaign's devices cannot be claimed.
        assert!(!store.claim_campaign_device(&id, "ep-1", "i1", 1_000).await.unwrap());
        let mut tx = store.begin().await.unwrap();
        tx.change_campaign_status(&acme, &id, &["paused"], "running", "").await.unwrap().unwrap();
        tx.commit().await.unwrap();

        // Claim, advance, finish.
        assert!(store.claim_campaign_device(&id, "ep-1", "i1", 1_000).await.unwrap());
        assert!(!store.claim_campaign_device(&id, "ep-1", "i2", 1_000).await.unwrap(), "claimed once only");
        assert!(!store
            .advance_campaign_device(
                &Claim { campaign: &id, endpoint: "ep-1", instance: "i2" },
                "downloading",
                "",
                None,
                2_000
            )
            .await
            .unwrap());
        assert!(store
            .advance_campaign_device(
                &Claim { campaign: &id, endpoint: "ep-1", instance: "i1" },
                "downloading",
                "",
                Some("1.0"),
                2_000
            )
            .await
            .unwrap());
        assert!(store
            .advance_campaign_device(
                &Claim { campaign: &id, endpoint: "ep-1", instance: "i1" },
                "failed",
                "cut off",
                None,
                2_000
            )
            .await
            .unwrap());
        assert!(
            !store
                .advance_campaign_device(
                    &Claim { campaign: &id, endpoint: "ep-1", instance: "i1" },
                    "succeeded",
                    "",
                    None,
                    2_000
                )
                .await
                .unwrap(),
            "a finished device stays finished"
        );
        let d = store.campaign_devices(&id, Some("failed"), None, 10).await.unwrap();
        assert_eq!((d[0].reason.as_str(), d[0].version_before.as_deref()), ("cut off", Some("1.0")));

        // An expired lease fails the device; it is never pending again.
        assert!(store.claim_campaign_device(&id, "ep-2", "i1", 50).await.unwrap());
        assert_eq!(store.expire_campaign_leases(49).await.unwrap(), 0);
        assert_eq!(store.expire_campaign_leases(51).await.unwrap(), 1);
        let d = store.campaign_devices(&id, None, Some("ep-1"), 1).await.unwrap();
        assert_eq!(d[0].state, "failed");
        assert!(d[0].reason.contains("interrupted"), "{}", d[0].reason);

        // Critical devices come back only with the approval; cancelling skips what is pending.
        let mut tx = store.begin().await.unwrap();
        assert!(tx.skip_campaign_device(&id, "ep-3", CRITICAL_REASON).await.unwrap());
        tx.commit().await.unwrap();
        assert!(!store.claim_campaign_device(&id, "ep-3", "i1", 1_000).await.unwrap());
        let mut tx = store.begin().await.unwrap();
        assert_eq!(tx.approve_campaign_critical(&id).await.unwrap(), 1);
        tx.commit().await.unwrap();
        assert!(store.campaign(&acme, &id).await.unwrap().unwrap().critical_approved);
        let mut tx = store.begin().await.unwrap();
        let c = tx.change_campaign_status(&acme, &id, &["running", "paused"], "cancelled", "").await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(c.unwrap().status, "cancelled");
        let counts = store.campaign_counts(&id).await.unwrap();
        assert_eq!((counts.all.get("skipped"), counts.open()), (Some(&1), 0));
        assert!(store.running_campaigns().await.unwrap().is_empty());
    })
    .await;
}

#[tokio::test]
async fn racing_instances_never_claim_one_device_twice() {
    on_every_backend(|store, url| async move {
        let endpoints: Vec<String> = (0..40).map(|i| format!("dev-{i:02}")).collect();
        let refs: Vec<&str> = endpoints.iter().map(String::as_str).collect();
        let id = insert(&store, &campaign("acme", &refs)).await;
        // A second store on the same database is a second instance.
        let other = Store::open(&url, testkit::keyring()).await.unwrap();
        let stores = [store.clone(), other];
        let wins = Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for (n, s) in stores.iter().enumerate() {
            for worker in 0..3 {
                let (s, id, endpoints, wins) = (s.clone(), id.clone(), endpoints.clone(), wins.clone());
                tasks.push(tokio::spawn(async move {
                    let me = format!("instance-{n}-{worker}");
                    for e in &endpoints {
                        if s.claim_campaign_device(&id, e, &me, 10_000).await.unwrap() {
                            wins.lock().unwrap().push(e.clone());
                        }
                    }
                }));
            }
        }
        for t in tasks {
            t.await.unwrap();
        }
        let mut wins = wins.lock().unwrap().clone();
        wins.sort();
        assert_eq!(wins, endpoints, "every device claimed exactly once");
        assert_eq!(store.campaign_counts(&id).await.unwrap().all.get("offered"), Some(&40));
    })
    .await;
}
