//! OTA data on both backends: key sets sealed (never stored in clear, re-sealed by a KEK rotation and
//! still opening), durable replay counters (strictly increasing across reopening and across two
//! stores on one database under concurrency), the per-SIM history (tenant-scoped) and OTA jobs with
//! their items and progress.

use std::collections::BTreeSet;

use ids::Imsi;
use store::access::Scope;
use store::model::Priority;
use store::ota::{NewOtaCommand, NewOtaItem, NewOtaKeyset, OtaCommandUpdate, OtaKeys};
use store::Store;
use testkit::on_every_backend;
use zeroize::Zeroizing;

fn sim(imsi: &str, tenant: &str) -> store::model::NewSim {
    testkit::provision::sim(imsi, None, Priority::Standard, tenant)
}

fn keyset(imsi: &str, n: u8, enc: u8) -> NewOtaKeyset {
    let keys = OtaKeys {
        keyset: n,
        kic: 0x20 | n,
        kid: 0x20 | n,
        tars: vec![[0xb0, 0x00, 0x11], [0xb0, 0x00, 0x10]],
        enc: Zeroizing::new(vec![enc; 16]),
        mac: Zeroizing::new(vec![enc ^ 0xff; 16]),
    };
    NewOtaKeyset { imsi: imsi.parse().unwrap(), keys }
}

fn imsi(s: &str) -> Imsi {
    s.parse().unwrap()
}

async fn provision(store: &Store) {
    let mut tx = store.begin().await.unwrap();
    tx.insert_sims(&[sim("001010000000001", "acme"), sim("001010000000002", "other")]).await.unwrap();
    tx.put_ota_keysets(&[keyset("001010000000001", 1, 0x5a), keyset("001010000000002", 1, 0x6b)]).await.unwrap();
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn keys_are_sealed_opened_and_resealed_by_a_rotation() {
    on_every_backend(|store, url| async move {
        provision(&store).await;
        // An unknown SIM refuses the whole import.
        let mut tx = store.begin().await.unwrap();
        let e = tx.put_ota_keysets(&[keyset("001010000000001", 2, 1), keyset("001019999999999", 1, 1)]).await;
        assert!(matches!(e, Err(store::StoreError::NotFound(_))), "{e:?}");
        drop(tx);
        assert_eq!(store.ota_keysets(&imsi("001010000000001")).await.unwrap().len(), 1, "nothing written");

        let k = store.ota_keys(&imsi("001010000000001"), 1).await.unwrap().unwrap();
        assert_eq!((k.kic, k.kid, &**k.enc, &**k.mac), (0x21, 0x21, &[0x5a; 16][..], &[0xa5; 16][..]));
        assert_eq!(k.tars, vec![[0xb0, 0x00, 0x11], [0xb0, 0x00, 0x10]]);
        assert!(!format!("{k:?}").contains("5a") && !format!("{k:?}").contains("90"), "Debug hides the keys");
        let info = store.ota_keysets(&imsi("001010000000001")).await.unwrap();
        assert_eq!(info[0].tars, vec!["b00011", "b00010"]);

        // The key bytes are nowhere in the database in clear.
        let raw = sqlx::AnyPool::connect(&url).await.unwrap();
        use sqlx::Row;
        for r in sqlx::query("SELECT enc_sealed, mac_sealed FROM ota_keysets").fetch_all(&raw).await.unwrap() {
            for col in ["enc_sealed", "mac_sealed"] {
                let blob: Vec<u8> = r.try_get(col).unwrap();
                assert!(!blob.windows(8).any(|w| w == [0x5a; 8] || w == [0xa5; 8] || w == [0x6b; 8]));
            }
        }
        raw.close().await;

        // A sealed key moved to another SIM's row does not open.
        let stolen: Vec<u8> = {
            let raw = sqlx::AnyPool::connect(&url).await.unwrap();
            let r = sqlx::query("SELECT enc_sealed FROM ota_keysets WHERE imsi = '001010000000001'")
                .fetch_one(&raw)
                .await
                .unwrap();
            let b: Vec<u8> = r.try_get("enc_sealed").unwrap();
            sqlx::query("UPDATE ota_keysets SET enc_sealed = $1 WHERE imsi = '001010000000002'")
                .bind(b.clone())
                .execute(&raw)
                .await
                .unwrap();
            raw.close().await;
            b
        };
        assert!(!stolen.is_empty());
        assert!(store.ota_keys(&imsi("001010000000002"), 1).await.is_err(), "bound to its IMSI");
        let mut tx = store.begin().await.unwrap();
        tx.put_ota_keysets(&[keyset("001010000000002", 1, 0x6b)]).await.unwrap();
        tx.commit().await.unwrap();

        // Rotation: every OTA key re-sealed (2 key sets; SIMs' K/OPc are counted too), then the old KEK
        // can go and the keys still open.
        let rotated = Store::open(&url, testkit::rotated_keyring(true)).await.unwrap();
        assert_eq!(rotated.reseal_all(100).await.unwrap(), 2 + 2);
        assert_eq!(rotated.reseal_all(100).await.unwrap(), 0, "idempotent");
        let only_new = Store::open(&url, testkit::rotated_keyring(false)).await.unwrap();
        let k = only_new.ota_keys(&imsi("001010000000002"), 1).await.unwrap().unwrap();
        assert_eq!(&**k.enc, &[0x6b; 16][..]);
        let old = Store::open(&url, testkit::keyring()).await.unwrap();
        assert!(old.ota_keys(&imsi("001010000000001"), 1).await.is_err(), "the old KEK opens nothing");
    })
    .await;
}

#[tokio::test]
async fn counters_grow_strictly_across_reopening_and_two_concurrent_stores() {
    on_every_backend(|store, url| async move {
        provision(&store).await;
        let i = imsi("001010000000001");
        assert_eq!(store.reserve_ota_counter(&i, 1).await.unwrap(), 1);
        assert_eq!(store.reserve_ota_counter(&i, 1).await.unwrap(), 2);
        assert!(matches!(store.reserve_ota_counter(&i, 7).await, Err(store::StoreError::NotFound(_))));
        // A re-import keeps the counter.
        let mut tx = store.begin().await.unwrap();
        tx.put_ota_keysets(&[keyset("001010000000001", 1, 0x11)]).await.unwrap();
        tx.commit().await.unwrap();
        // Another process on the same database (a second store, reopened) continues above.
        let second = Store::open(&url, testkit::keyring()).await.unwrap();
        assert_eq!(second.reserve_ota_counter(&i, 1).await.unwrap(), 3);

        // Both stores reserve concurrently: no value twice, all of 4..=203 handed out.
        let mut tasks = Vec::new();
        for s in [store.clone(), second.clone()] {
            for _ in 0..4 {
                let (s, i) = (s.clone(), i.clone());
                tasks.push(tokio::spawn(async move {
                    let mut got = Vec::new();
                    for _ in 0..25 {
                        got.push(s.reserve_ota_counter(&i, 1).await.unwrap());
                    }
                    got
                }));
            }
        }
        let mut all = Vec::new();
        for t in tasks {
            let got = t.await.unwrap();
            assert!(got.windows(2).all(|w| w[0] < w[1]), "each caller sees its values increase");
            all.extend(got);
        }
        let set: BTreeSet<i64> = all.iter().copied().collect();
        assert_eq!(set.len(), all.len(), "no duplicate counter");
        assert_eq!(set, (4..=203).collect::<BTreeSet<i64>>());

        // Recording a command reserves its counter in the same transaction.
        let cmd = NewOtaCommand {
            id: "cmd1".into(),
            job_id: None,
            imsi: i.clone(),
            keyset: 1,
            tar: "b00011".into(),
            summary: "update 6F61".into(),
            attempt: 1,
        };
        assert_eq!(store.record_ota_command(&cmd).await.unwrap(), 204);
        assert!(store.record_ota_command(&NewOtaCommand { keyset: 9, ..cmd }).await.is_err());
        // Exhaustion is refused, not wrapped.
        let raw = sqlx::AnyPool::connect(&url).await.unwrap();
        sqlx::query("UPDATE ota_keysets SET counter = $1").bind(store::ota::MAX_COUNTER).execute(&raw).await.unwrap();
        raw.close().await;
        assert!(matches!(store.reserve_ota_counter(&i, 1).await, Err(store::StoreError::Conflict(_))));
    })
    .await;
}

#[tokio::test]
async fn history_is_tenant_scoped_and_jobs_count_each_item_once() {
    on_every_backend(|store, _url| async move {
        provision(&store).await;
        let i = imsi("001010000000001");
        let cmd = |id: &str| NewOtaCommand {
            id: id.into(),
            job_id: Some("ota_x".into()),
            imsi: i.clone(),
            keyset: 1,
            tar: "b00011".into(),
            summary: "update 6F61 (10 bytes)".into(),
            attempt: 1,
        };
        let c1 = store.record_ota_command(&cmd("a")).await.unwrap();
        store.update_ota_command("a", &OtaCommandUpdate { state: "timeout", ..Default::default() }).await.unwrap();
        let c2 = store.record_ota_command(&NewOtaCommand { attempt: 2, ..cmd("a") }).await.unwrap();
        assert!(c2 > c1, "a retry gets a fresh counter");
        assert_eq!(store.ota_commands_waiting(&i, 1).await.unwrap().len(), 1);
        store
            .update_ota_command(
                "a",
                &OtaCommandUpdate {
                    state: "por_ok",
                    por_status: Some("por_ok".into()),
                    sw: Some("9000".into()),
                    detail: String::new(),
                },
            )
            .await
            .unwrap();
        assert!(store.ota_commands_waiting(&i, 1).await.unwrap().is_empty());
        let h = store.ota_history(&Scope::Tenant("acme".into()), &i, 10).await.unwrap().unwrap();
        assert_eq!(h.len(), 1);
        assert_eq!(
            (h[0].state.as_str(), h[0].sw.as_deref(), h[0].cntr, h[0].attempts),
            ("por_ok", Some("9000"), Some(c2), 2)
        );
        assert!(store.ota_history(&Scope::Tenant("other".into()), &i, 10).await.unwrap().is_none());
        assert!(store.ota_history(&Scope::Operator, &i, 10).await.unwrap().is_some());

        let items: Vec<NewOtaItem> = (0..1500)
            .map(|n| NewOtaItem {
                imsi: format!("0010100000{n:05}"),
                rank: i64::from(n % 3 == 0),
                payload: "{}".into(),
            })
            .collect();
        let mut tx = store.begin().await.unwrap();
        let job = tx.create_ota_job("acme", "steering", "{}", "alice", &items).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!((job.total, job.pending()), (1500, 1500));
        assert!(store.ota_job(&Scope::Tenant("other".into()), &job.id).await.unwrap().is_none());
        let first = store.pending_ota_items(&job.id, None, 2000).await.unwrap();
        assert_eq!(first.len(), 1500);
        assert!(first[..1000].iter().all(|it| it.rank == 0), "rank 0 first");
        let next = store.pending_ota_items(&job.id, Some((0, &first[0].imsi)), 1).await.unwrap();
        assert_eq!(next[0].imsi, first[1].imsi);
        let fid = vec![("6F61".to_string(), "00ff".to_string())];
        assert!(store.finish_ota_item(&job.id, &first[0].imsi, "done", 1, "", &fid).await.unwrap());
        assert!(!store.finish_ota_item(&job.id, &first[0].imsi, "done", 1, "", &fid).await.unwrap(), "once");
        assert!(store.finish_ota_item(&job.id, &first[1].imsi, "failed", 3, "por_error", &[]).await.unwrap());
        let job = store.ota_job(&Scope::Operator, &job.id).await.unwrap().unwrap();
        assert_eq!((job.done, job.failed, job.pending()), (1, 1, 1498));
        assert_eq!(store.ota_sim_file(&first[0].imsi, "6F61").await.unwrap().as_deref(), Some("00ff"));
        assert_eq!(store.ota_sim_files("6F61").await.unwrap().len(), 1);
        let failed = store.ota_job_items(&Scope::Operator, &job.id, "failed", 10).await.unwrap();
        assert_eq!((failed[0].attempts, failed[0].detail.as_str()), (3, "por_error"));
        assert_eq!(store.unfinished_ota_jobs().await.unwrap().len(), 1);
        let targets = store.ota_targets(&Scope::Tenant("acme".into())).await.unwrap();
        assert_eq!(targets.iter().map(|t| t.imsi.as_str()).collect::<Vec<_>>(), vec!["001010000000001"]);
    })
    .await;
}
