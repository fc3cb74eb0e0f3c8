//! Several instances on one database, at the store's level: exact SQN allocation shared by
//! allocators of different "instances", and the outbox claimed by the instance that reaches the
//! serving node. Run against SQLite always and PostgreSQL when `WARDEN_TEST_POSTGRES_URL` is set.

use std::sync::Arc;

use ids::Imsi;
use store::cluster::InstanceInfo;
use store::model::{Priority, ServingNode, SimStatus};
use store::{Allocation, SqnAllocator, Store};
use testkit::on_every_backend;

fn imsi(s: &str) -> Imsi {
    s.parse().unwrap()
}

async fn provision(store: &Store, imsis: &[&str]) {
    let mut tx = store.begin().await.unwrap();
    let sims: Vec<_> = imsis.iter().map(|i| testkit::provision::sim(i, None, Priority::Standard, "acme")).collect();
    tx.insert_sims(&sims).await.unwrap();
    tx.commit().await.unwrap();
}

fn instance(id: &str) -> InstanceInfo {
    InstanceInfo {
        id: id.into(),
        name: id.into(),
        diameter: "127.0.0.1:3868".into(),
        http: String::new(),
        version: "test".into(),
        sqn_allocation: "exact".into(),
    }
}

#[tokio::test]
async fn exact_allocation_is_one_counter_for_every_instance() {
    on_every_backend(|store, url| async move {
        provision(&store, &["001010000000001", "001010000000002"]).await;
        let who = imsi("001010000000001");
        // Two "instances": two allocators over two connection pools.
        let other = Store::open(&url, testkit::keyring()).await.unwrap();
        let a = SqnAllocator::with_allocation(Allocation::Exact);
        let b = SqnAllocator::with_allocation(Allocation::Exact);
        let mut seen = Vec::new();
        for i in 0..50 {
            let (alloc, s) = if i % 2 == 0 { (&a, &store) } else { (&b, &other) };
            seen.push(alloc.next(s, &who, 2).await.unwrap());
        }
        // Alternating instances, each request gets the next two values: no regression, no gap.
        assert_eq!(seen, (0..50).map(|i| 1 + 2 * i).collect::<Vec<i64>>());
        assert_eq!(store.sqn_reserved(&who).await.unwrap(), Some(100), "the row is SEQ_HE itself");

        // Concurrent requests from both instances, for two subscribers: every value once.
        let (a, b) = (Arc::new(a), Arc::new(b));
        let mut tasks = Vec::new();
        for i in 0..200 {
            let (alloc, s) = if i % 2 == 0 { (a.clone(), store.clone()) } else { (b.clone(), other.clone()) };
            let who = imsi(if i % 3 == 0 { "001010000000002" } else { "001010000000001" });
            tasks.push(tokio::spawn(async move { (who.clone(), alloc.next(&s, &who, 3).await.unwrap()) }));
        }
        let mut by_imsi: std::collections::HashMap<Imsi, Vec<i64>> = Default::default();
        for t in tasks {
            let (who, first) = t.await.unwrap();
            by_imsi.entry(who).or_default().extend(first..first + 3);
        }
        for (who, mut values) in by_imsi {
            values.sort_unstable();
            let start = if who.as_str().ends_with('1') { 101 } else { 1 };
            let expected: Vec<i64> = (start..start + values.len() as i64).collect();
            assert_eq!(values, expected, "{who}: every SEQ once, none skipped");
        }

        // A resynchronisation decided on a stale SEQ_HE is refused, so it cannot move the counter
        // under another instance's feet.
        let he = store.sqn_reserved(&who).await.unwrap().unwrap();
        assert!(!a.reset_from(&store, &who, he - 1, 5).await.unwrap());
        assert!(a.reset_from(&store, &who, he, 5).await.unwrap());
        assert_eq!(b.next(&other, &who, 1).await.unwrap(), 6);
        assert!(a.next(&store, &imsi("999990000000000"), 1).await.is_err(), "unknown IMSI");
    })
    .await;
}

#[tokio::test]
async fn a_batch_asking_twice_for_one_subscriber_gives_disjoint_ranges() {
    on_every_backend(|store, _| async move {
        provision(&store, &["001010000000001", "001010000000002"]).await;
        let (x, y) = (imsi("001010000000001"), imsi("001010000000002"));
        let r = store
            .reserve_sqn_many(&[(x.clone(), 2), (y.clone(), 5), (x.clone(), 3), (imsi("999990000000000"), 1)])
            .await
            .unwrap();
        // x: 2 then 3 values: tops 2 and 5; y: top 5.
        assert_eq!(r[0].as_ref().unwrap(), &2);
        assert_eq!(r[1].as_ref().unwrap(), &5);
        assert_eq!(r[2].as_ref().unwrap(), &5);
        assert!(r[3].is_err());
        assert_eq!(store.sqn_reserved(&x).await.unwrap(), Some(5));
    })
    .await;
}

#[tokio::test]
async fn the_outbox_goes_to_one_instance_that_reaches_the_node() {
    on_every_backend(|store, url| async move {
        provision(&store, &["001010000000001"]).await;
        let who = imsi("001010000000001");
        let other = Store::open(&url, testkit::keyring()).await.unwrap();
        for (s, id) in [(&store, "a"), (&other, "b"), (&store, "c")] {
            s.register_instance(&instance(id)).await.unwrap();
        }
        // a and b both hold a connection to the MME; c does not.
        store.add_peer("a", "MME1.example", "").await.unwrap();
        other.add_peer("b", "mme1.example", "").await.unwrap();
        let node =
            ServingNode { origin_host: "MME1.Example".into(), origin_realm: "example".into(), plmn: None, since: 0 };
        let mut tx = store.begin().await.unwrap();
        tx.enqueue_notification(&who, "clr", &node).await.unwrap();
        tx.commit().await.unwrap();

        assert!(store.claim_notifications("c", 10, 60_000).await.unwrap().is_empty(), "c does not reach the node");
        let (ra, rb) =
            tokio::join!(store.claim_notifications("a", 10, 60_000), other.claim_notifications("b", 10, 60_000));
        let (ra, rb) = (ra.unwrap(), rb.unwrap());
        assert_eq!(ra.len() + rb.len(), 1, "claimed exactly once: {ra:?} {rb:?}");
        let (holder, item) = if ra.is_empty() { ("b", &rb[0]) } else { ("a", &ra[0]) };
        let loser = if holder == "a" { "b" } else { "a" };
        assert_eq!((item.kind.as_str(), item.attempts, &item.imsi), ("clr", 1, &who));
        assert!(store.claim_notifications(loser, 10, 60_000).await.unwrap().is_empty(), "leased");
        assert!(!store.complete_notification(loser, item.id, 1).await.unwrap(), "only the holder completes");

        // A failed send releases it; then either instance that reaches the node may take it again.
        store.release_notification(holder, item.id, 1, 0).await.unwrap();
        let again = store.claim_notifications(loser, 10, 60_000).await.unwrap();
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].attempts, 2);
        // A late outcome of the first claim (attempt 1) cannot complete or release the second.
        assert!(!store.complete_notification(loser, item.id, 1).await.unwrap(), "stale claim token");
        // Released with a back-off: nobody takes it before its time.
        store.release_notification(loser, item.id, 2, store::cluster::now_ms() + 60_000).await.unwrap();
        assert!(store.claim_notifications(holder, 10, 60_000).await.unwrap().is_empty(), "backing off");
        store.release_notification(holder, item.id, 2, 0).await.unwrap();
        assert!(store.claim_notifications(holder, 10, 60_000).await.unwrap().is_empty(), "released only by its holder");

        // The node leaves every instance: the row waits, then expires exactly once.
        store.remove_peer("a", "mme1.example").await.unwrap();
        other.remove_peer("b", "mme1.example").await.unwrap();
        assert_eq!(store.outbox_backlog().await.unwrap()[0].pending, 1);
        assert!(store.expire_notifications(store::now() - 3600, 20).await.unwrap().is_empty(), "not old yet");
        let (ea, eb) = tokio::join!(
            store.expire_notifications(store::now() + 1, 20),
            other.expire_notifications(store::now() + 1, 20)
        );
        let (ea, eb) = (ea.unwrap(), eb.unwrap());
        assert_eq!(ea.len() + eb.len(), 1, "expired exactly once: {ea:?} {eb:?}");
        assert_eq!(ea.iter().chain(&eb).next().unwrap().attempts, 2);
        assert!(store.outbox_backlog().await.unwrap().is_empty());

        // Instances: registered, heartbeating, stopped.
        assert!(store.heartbeat("a").await.unwrap());
        store.stop_instance("c").await.unwrap();
        assert!(!store.heartbeat("c").await.unwrap(), "a stopped instance does not heartbeat");
        let all = store.instances().await.unwrap();
        assert_eq!(all.len(), 3);
        let now = store::cluster::now_ms();
        assert_eq!(all.iter().filter(|i| i.is_live(now, 5_000)).count(), 2);
    })
    .await;
}

#[tokio::test]
async fn instances_reserving_overlapping_batches_at_once_never_deadlock() {
    on_every_backend(|store, url| async move {
        let imsis: Vec<String> = (0..60).map(|i| format!("0010100000{i:05}")).collect();
        provision(&store, &imsis.iter().map(String::as_str).collect::<Vec<_>>()).await;
        let other = Store::open(&url, testkit::keyring()).await.unwrap();
        let forward: Vec<(Imsi, i64)> = imsis.iter().map(|i| (imsi(i), 1)).collect();
        let backward: Vec<(Imsi, i64)> = forward.iter().rev().cloned().collect();
        for _ in 0..25 {
            // The same rows, in opposite orders, from two connections pools at once.
            let (a, b) = tokio::join!(store.reserve_sqn_many(&forward), other.reserve_sqn_many(&backward));
            for r in a.unwrap().into_iter().chain(b.unwrap()) {
                r.unwrap();
            }
        }
        for i in &imsis {
            assert_eq!(store.sqn_reserved(&imsi(i)).await.unwrap(), Some(50), "{i}");
        }
    })
    .await;
}

#[tokio::test]
async fn a_node_behind_a_relay_is_claimed_by_whoever_holds_the_relay() {
    on_every_backend(|store, _| async move {
        provision(&store, &["001010000000001"]).await;
        for id in ["a", "b"] {
            store.register_instance(&instance(id)).await.unwrap();
        }
        // The partner's MME registered through the firewall; only instance b holds the firewall.
        store.set_relay_route("MME9.Partner.Example", "FW.home.example").await.unwrap();
        store.add_peer("b", "fw.home.example", "").await.unwrap();
        store.add_peer("a", "mme1.home.example", "").await.unwrap();
        let node = ServingNode {
            origin_host: "mme9.partner.example".into(),
            origin_realm: "partner.example".into(),
            plmn: None,
            since: 0,
        };
        let mut tx = store.begin().await.unwrap();
        tx.enqueue_notification(&imsi("001010000000001"), "idr", &node).await.unwrap();
        tx.commit().await.unwrap();
        assert!(store.claim_notifications("a", 10, 60_000).await.unwrap().is_empty());
        assert_eq!(store.claim_notifications("b", 10, 60_000).await.unwrap().len(), 1);
        assert_eq!(store.relay_route("mme9.partner.example").await.unwrap().as_deref(), Some("fw.home.example"));
        // Reconciled peers replace what was recorded.
        store.replace_peers("b", &["mme2.home.example".into()]).await.unwrap();
        let b = store.instances().await.unwrap().into_iter().find(|i| i.info.id == "b").unwrap();
        assert_eq!(b.peers, vec![("mme2.home.example".to_string(), String::new())]);
    })
    .await;
}

#[tokio::test]
async fn a_registration_of_a_sim_no_longer_active_is_refused_and_the_previous_node_is_current() {
    on_every_backend(|store, url| async move {
        provision(&store, &["001010000000001"]).await;
        let who = imsi("001010000000001");
        let other = Store::open(&url, testkit::keyring()).await.unwrap();
        let node =
            |h: &str| ServingNode { origin_host: h.into(), origin_realm: "home.example".into(), plmn: None, since: 1 };
        assert_eq!(store.register(&who, &node("mme1"), None).await.unwrap(), None);
        // Another instance registers the SIM elsewhere: the next registration sees it as previous.
        assert_eq!(
            other.register(&who, &node("mme2"), None).await.unwrap().map(|n| n.origin_host),
            Some("mme1".into())
        );
        // A suspension reads the node registered now inside its own transaction.
        let mut tx = store.begin().await.unwrap();
        let scope = store::access::Scope::Operator;
        assert!(tx.set_status_in(&scope, &who, SimStatus::Active, SimStatus::Suspended).await.unwrap());
        assert_eq!(tx.serving_node(&who).await.unwrap().map(|n| n.origin_host), Some("mme2".into()));
        tx.commit().await.unwrap();
        // A registration admitted before the suspension and arriving after it is refused.
        assert!(matches!(other.register(&who, &node("mme3"), None).await, Err(store::StoreError::Conflict(_))));
        assert_eq!(store.sim(&who).await.unwrap().unwrap().serving.map(|n| n.origin_host), Some("mme2".into()));
    })
    .await;
}
