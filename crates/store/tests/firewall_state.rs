//! The firewall's shared state in the store (issue #14), on every backend: newer rows win, purges
//! and cleared marks stay as tombstones until pruned, the state loads back; on PostgreSQL every batch
//! is announced to listeners in notifications under the size limit, and a listener that lost its
//! connection says so.

use store::firewall_state::{notify_payloads, FeedItem, FwChange, RiskReason, MAX_PAYLOAD};
use store::{Backend, Store};
use testkit::on_every_backend;

const T: i64 = 1_800_000_000_000;

fn reg(imsi: &str, plmn: &str, host: i64, at_ms: i64) -> FwChange {
    FwChange::Registered { imsi: imsi.into(), plmn: plmn.into(), host, at_ms }
}

fn mark(plmn: &str, until_ms: Option<i64>, reason: RiskReason, at_ms: i64) -> FwChange {
    FwChange::Risky { plmn: plmn.into(), until_ms, reason, at_ms }
}

async fn write(store: &Store, changes: &[FwChange]) {
    store.write_firewall_changes("instance-a", changes).await.unwrap();
}

#[tokio::test]
async fn newer_registrations_win_and_purges_only_end_the_purging_nodes() {
    on_every_backend(|store, _| async move {
        let imsi = "001010000000001";
        write(&store, &[reg(imsi, "26201", 1, T), reg("001010000000002", "26201", 1, T)]).await;
        // An older registration (delivered late) loses; a newer one wins, even with a negative hash.
        write(&store, &[reg(imsi, "20801", 2, T - 1)]).await;
        assert_eq!(store.load_firewall_state(T, 0).await.unwrap()[0], reg(imsi, "26201", 1, T));
        write(&store, &[reg(imsi, "20801", -7, T + 10)]).await;
        // A purge by another node, or an older purge, leaves the registration.
        let purge = |host, at_ms| FwChange::Deregistered { imsi: imsi.into(), host, at_ms };
        write(&store, &[purge(1, T + 20), purge(-7, T + 5)]).await;
        let state = store.load_firewall_state(T, 0).await.unwrap();
        assert!(state.contains(&reg(imsi, "20801", -7, T + 10)), "{state:?}");
        // The serving node's purge ends it, and a registration older than the purge stays out.
        write(&store, &[purge(-7, T + 30), reg(imsi, "26201", 1, T + 25)]).await;
        let state = store.load_firewall_state(T, 0).await.unwrap();
        assert_eq!(state, [reg("001010000000002", "26201", 1, T)]);
        // The retention window and pruning.
        assert!(store.load_firewall_state(T, T + 1).await.unwrap().is_empty());
        assert_eq!(store.prune_firewall_state(T + 1, T).await.unwrap(), 1, "the older registration");
        assert_eq!(store.prune_firewall_state(T + 31, T).await.unwrap(), 1, "then the purged one");
    })
    .await;
}

#[tokio::test]
async fn risky_marks_load_until_they_end_or_are_cleared() {
    on_every_backend(|store, _| async move {
        write(
            &store,
            &[
                mark("26201", None, RiskReason::Manual, T),
                mark("20801", Some(T + 60_000), RiskReason::Auto, T),
                mark("23415", Some(T + 60_000), RiskReason::Manual, T),
            ],
        )
        .await;
        let state = store.load_firewall_state(T + 1, 0).await.unwrap();
        assert_eq!(state.len(), 3, "{state:?}");
        assert!(state.contains(&mark("26201", None, RiskReason::Manual, T)));
        assert_eq!(store.load_firewall_state(T + 60_000, 0).await.unwrap().len(), 1, "only the indefinite one");
        // Cleared: both reasons end; a mark made after the clearing stays. The clearings load first,
        // once each, so that an instance that missed them (its notifications lost) applies them.
        let cleared = |plmn: &str, at_ms| FwChange::RiskCleared { plmn: plmn.into(), at_ms };
        write(&store, &[cleared("26201", T + 5)]).await;
        write(&store, &[cleared("20801", T - 5)]).await;
        let state = store.load_firewall_state(T + 10, 0).await.unwrap();
        assert_eq!(
            state,
            [
                cleared("20801", T - 5),
                cleared("26201", T + 5),
                mark("20801", Some(T + 60_000), RiskReason::Auto, T),
                mark("23415", Some(T + 60_000), RiskReason::Manual, T),
            ]
        );
        // Pruned: the timed marks once ended, the clearings (three rows) after the retention.
        assert_eq!(store.prune_firewall_state(0, T + 60_000).await.unwrap(), 2);
        assert_eq!(store.prune_firewall_state(T + 6, T + 60_000).await.unwrap(), 3);
        assert!(store.load_firewall_state(T + 60_000, 0).await.unwrap().is_empty());
    })
    .await;
}

#[test]
fn payloads_stay_under_the_limit_and_keep_every_change_in_order() {
    let changes: Vec<FwChange> = (0..500).map(|i| reg(&format!("00101{i:010}"), "26201", i, T + i)).collect();
    let payloads = notify_payloads("instance-a", &changes).unwrap();
    assert!(payloads.len() >= 4, "{} payloads", payloads.len());
    assert!(payloads.iter().all(|p| p.len() <= MAX_PAYLOAD));
    let back: Vec<FwChange> = payloads
        .iter()
        .flat_map(|p| serde_json::from_str::<store::firewall_state::FwBatch>(p).unwrap().changes)
        .collect();
    assert_eq!(back, changes);
    assert!(notify_payloads("instance-a", &[]).unwrap().is_empty());
    assert!(notify_payloads("", &changes).is_err());
    assert!(notify_payloads(&"x".repeat(201), &changes).is_err());
}

#[tokio::test]
async fn postgres_announces_each_batch_at_commit_and_reports_a_lost_connection() {
    on_every_backend(|store, url| async move {
        let Some(mut feed) = store.firewall_feed().await.unwrap() else {
            assert_eq!(store.backend(), Backend::Sqlite, "no feed on SQLite only");
            return;
        };
        let changes: Vec<FwChange> = (0..300).map(|i| reg(&format!("00101{i:010}"), "26201", i, T)).collect();
        store.write_firewall_changes("instance-b", &changes).await.unwrap();
        let mut heard = Vec::new();
        while heard.len() < changes.len() {
            let next = tokio::time::timeout(std::time::Duration::from_secs(5), feed.next()).await;
            match next.expect("notified within 5 s").unwrap() {
                FeedItem::Batch(b) => {
                    assert_eq!(b.instance, "instance-b");
                    heard.extend(b.changes);
                }
                FeedItem::Reconnected => panic!("connection not lost"),
            }
        }
        assert_eq!(heard, changes);
        // The listening connection is killed: the feed says so once it is back.
        sqlx::any::install_default_drivers();
        let admin = sqlx::AnyPool::connect(&url).await.unwrap();
        sqlx::query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() \
             AND query LIKE 'LISTEN%'",
        )
        .execute(&admin)
        .await
        .unwrap();
        let mut reconnected = false;
        for _ in 0..5 {
            match tokio::time::timeout(std::time::Duration::from_secs(5), feed.next()).await.expect("within 5 s") {
                Ok(FeedItem::Reconnected) => {
                    reconnected = true;
                    break;
                }
                Ok(FeedItem::Batch(b)) => panic!("unexpected batch {b:?}"),
                Err(_) => tokio::time::sleep(std::time::Duration::from_millis(100)).await,
            }
        }
        assert!(reconnected);
        store.write_firewall_changes("instance-b", &changes[..1]).await.unwrap();
        let next = tokio::time::timeout(std::time::Duration::from_secs(5), feed.next()).await.unwrap().unwrap();
        assert!(matches!(next, FeedItem::Batch(b) if b.changes == changes[..1]));
    })
    .await;
}
