//! The repository test suite, run against SQLite always and against PostgreSQL when
//! `WARDEN_TEST_POSTGRES_URL` is set (`.ci/run` sets it; each test creates and drops its own database).

use ids::{Imei, Imsi};
use store::model::{
    AlgorithmSpec, EirEntry, EirKey, EirStatus, NewSim, Priority, Service, ServiceProfile, ServingNode, SimStatus,
};
use store::seal::{Kek, Keyring};
use store::{SqnAllocator, Store, StoreError};

/// Runs one write of the store in a transaction of its own (committed when it succeeds), as the
/// `cmp` use cases do with several.
macro_rules! tx {
    ($s:expr, $($call:tt)*) => {{
        let mut tx = $s.begin().await.unwrap();
        let r = tx.$($call)*.await;
        if r.is_ok() {
            tx.commit().await.unwrap();
        }
        r
    }};
}

/// The keyring of `on_every_backend`'s stores.
fn keyring() -> Keyring {
    testkit::keyring()
}

use testkit::on_every_backend;

fn profile(name: &str) -> ServiceProfile {
    toml_like(name)
}

fn toml_like(name: &str) -> ServiceProfile {
    serde_json::from_value(serde_json::json!({
        "name": name, "services": ["data"], "allowed_plmns": ["00101"], "forbidden_rats": ["geran"],
        "imei_lock": "first", "apn": [{"name": "meters.example", "pdn_type": "ipv4", "qci": 9}]
    }))
    .unwrap()
}

fn sim(imsi: &str, profile: Option<&str>) -> NewSim {
    NewSim {
        imsi: imsi.parse().unwrap(),
        iccid: None,
        msisdn: None,
        eid: None,
        k: auc::Key::from_slice(&[0x46; 16]).unwrap(),
        opc: auc::SecretBytes::new(&[0xcd; 16]),
        amf: [0x80, 0x00],
        algorithm: AlgorithmSpec::Milenage,
        profile: profile.map(str::to_string),
        priority: Priority::Standard,
        tenant: "acme".into(),
        status: SimStatus::Active,
    }
}

fn imsi(s: &str) -> Imsi {
    s.parse().unwrap()
}

#[tokio::test]
async fn profiles_and_sims_round_trip_with_sealed_keys() {
    on_every_backend(|store, _| async move {
        tx!(store, put_profile(&profile("meter"))).unwrap();
        let p = store.profile("meter").await.unwrap().unwrap();
        assert_eq!(p.services, vec![Service::Data]);
        assert!(p.data_only());
        let mut with_eid = sim("001010000000001", Some("meter"));
        with_eid.eid = Some("89049032123451234512345678901235".parse().unwrap());
        tx!(store, insert_sims(&[with_eid])).unwrap();
        let s = store.sim(&imsi("001010000000001")).await.unwrap().unwrap();
        assert_eq!(s.eid.as_deref(), Some("89049032123451234512345678901235"));
        assert_eq!(
            (s.status, s.priority, s.profile.as_deref(), s.amf),
            (SimStatus::Active, Priority::Standard, Some("meter"), [0x80, 0])
        );
        // Keys are sealed: the raw columns do not contain them.
        let (k, opc) = store.sealed_columns(&s.imsi).await.unwrap().unwrap();
        assert!(!k.windows(16).any(|w| w == [0x46; 16]));
        assert!(!opc.windows(16).any(|w| w == [0xcd; 16]));
        // …and they open into a working algorithm: the vector matches one computed directly.
        let (_, alg) = store.auth_material(&s.imsi).await.unwrap().unwrap();
        let direct: auc::AuthAlgorithm = auc::Milenage::new(
            &auc::Key::from_slice(&[0x46; 16]).unwrap(),
            &auc::Opc::from_slice(&[0xcd; 16]).unwrap(),
        )
        .unwrap()
        .into();
        let v =
            |a: &auc::AuthAlgorithm| a.umts_vector(auc::Rand([1; 16]), auc::Sqn::new(5).unwrap(), auc::Amf([0x80, 0]));
        assert_eq!(v(&alg), v(&direct));
    })
    .await;
}

#[tokio::test]
async fn bulk_insert_is_all_or_nothing() {
    on_every_backend(|store, _| async move {
        tx!(store, put_profile(&profile("meter"))).unwrap();
        tx!(store, insert_sims(&[sim("001010000000001", None)])).unwrap();
        // The third row repeats an existing IMSI: nothing of this batch may land.
        let batch = [sim("001010000000002", None), sim("001010000000003", Some("meter")), sim("001010000000001", None)];
        let err = tx!(store, insert_sims(&batch)).unwrap_err();
        assert!(matches!(err, StoreError::Conflict(ref m) if m.contains("001010000000001")), "{err}");
        assert!(store.sim(&imsi("001010000000002")).await.unwrap().is_none());
        assert!(store.sim(&imsi("001010000000003")).await.unwrap().is_none());
        // An unknown profile is refused too.
        let err = tx!(store, insert_sims(&[sim("001010000000004", Some("nope"))])).unwrap_err();
        assert!(matches!(err, StoreError::Conflict(_)), "{err}");
    })
    .await;
}

#[tokio::test]
async fn sqn_reservations_survive_a_new_process() {
    on_every_backend(|store, url| async move {
        tx!(store, insert_sims(&[sim("001010000000001", None)])).unwrap();
        let who = imsi("001010000000001");
        let alloc = SqnAllocator::new(100);
        let mut issued = Vec::new();
        for _ in 0..250 {
            issued.push(alloc.next(&store, &who, 1).await.unwrap());
        }
        assert_eq!(issued.first(), Some(&1));
        assert!(issued.windows(2).all(|w| w[1] == w[0] + 1));
        assert_eq!(store.sqn_reserved(&who).await.unwrap(), Some(300), "three blocks of 100, not 250 writes");
        // "Crash": a new allocator and a new connection start above everything issued.
        let store2 = Store::open(&url, keyring()).await.unwrap();
        let alloc2 = SqnAllocator::new(100);
        let next = alloc2.next(&store2, &who, 5).await.unwrap();
        assert!(next > *issued.last().unwrap(), "{next} reuses an issued SEQ");
        // Resync reset moves the counter down to SEQ_MS and persists a mark above it.
        alloc2.reset(&store2, &who, 40).await.unwrap();
        assert_eq!(alloc2.next(&store2, &who, 1).await.unwrap(), 41);
        assert_eq!(store2.sqn_reserved(&who).await.unwrap(), Some(140));
        assert!(store2.reserve_sqn(&imsi("999990000000000"), 1).await.is_err());
    })
    .await;
}

#[tokio::test]
async fn registration_purge_status_and_events() {
    on_every_backend(|store, _| async move {
        tx!(store, insert_sims(&[sim("001010000000001", None)])).unwrap();
        let who = imsi("001010000000001");
        let n1 = ServingNode {
            origin_host: "mme1.example".into(),
            origin_realm: "example".into(),
            plmn: Some("00101".parse().unwrap()),
            since: 100,
        };
        let n2 = ServingNode { origin_host: "mme2.example".into(), ..n1.clone() };
        let imei: Imei = "49015420323751".parse().unwrap();
        assert_eq!(store.register(&who, &n1, Some(&imei)).await.unwrap(), None);
        assert_eq!(store.register(&who, &n2, None).await.unwrap(), Some(n1.clone()));
        assert!(!store.purge(&who, "mme1.example").await.unwrap(), "only the serving MME may purge");
        assert!(store.purge(&who, "mme2.example").await.unwrap());
        assert_eq!(store.sim(&who).await.unwrap().unwrap().serving, None);
        let before = store.set_status(&who, SimStatus::Suspended).await.unwrap().unwrap();
        assert_eq!(before.status, SimStatus::Active);
        assert_eq!(store.sim(&who).await.unwrap().unwrap().status, SimStatus::Suspended);
        tx!(store, bind_imei(&who, &imei)).unwrap();
        tx!(store, bind_imei(&who, &imei)).unwrap();
        assert_eq!(store.sim(&who).await.unwrap().unwrap().bound_imeis, vec!["49015420323751"]);
        store.record_event(Some(&who), "imei_lock", "IMEI 35... not bound").await.unwrap();
        assert_eq!(store.events(&who).await.unwrap(), vec![("imei_lock".into(), "IMEI 35... not bound".into())]);
    })
    .await;
}

#[tokio::test]
async fn eir_precedence_binding_imei_range_tac() {
    on_every_backend(|store, _| async move {
        let e = |key, status, reason: &str| EirEntry { key, status, reason: reason.into(), source: "operator".into() };
        tx!(
            store,
            put_eir(&[
                e(EirKey::Tac("49015420".into()), EirStatus::Grey, "model under investigation"),
                e(EirKey::Range("49015420300000".into(), "49015420399999".into()), EirStatus::Black, "stolen batch"),
                e(EirKey::Imei("49015420323751".into()), EirStatus::White, "returned to owner"),
            ])
        )
        .unwrap();
        let lookup = |s: &str| {
            let store = store.clone();
            let imei: Imei = s.parse().unwrap();
            async move { store.eir_lookup(Some(&imsi("001010000000001")), &imei).await.unwrap().map(|x| x.0) }
        };
        assert_eq!(lookup("49015420323751").await, Some(EirStatus::White), "IMEI beats range");
        assert_eq!(lookup("49015420323752").await, Some(EirStatus::Black), "range beats TAC");
        assert_eq!(lookup("49015420123456").await, Some(EirStatus::Grey), "TAC");
        assert_eq!(lookup("35000000000000").await, None);
        tx!(
            store,
            put_binding(
                &imsi("001010000000001"),
                &"49015420323752".parse().unwrap(),
                EirStatus::White,
                "owner's device",
            )
        )
        .unwrap();
        assert_eq!(lookup("49015420323752").await, Some(EirStatus::White), "binding beats everything");
    })
    .await;
}

#[tokio::test]
async fn key_rotation_reseals_without_losing_keys() {
    on_every_backend(|store, url| async move {
        tx!(store, insert_sims(&[sim("001010000000001", None), sim("001010000000002", None)])).unwrap();
        let rotated =
            Store::open(&url, Keyring::new(Kek::from_bytes(2, &[0x43; 32]), vec![Kek::from_bytes(1, &[9; 32])]))
                .await
                .unwrap();
        assert_eq!(rotated.reseal_all(1).await.unwrap(), 2);
        assert_eq!(rotated.reseal_all(10).await.unwrap(), 0, "idempotent");
        let only_new = Store::open(&url, Keyring::new(Kek::from_bytes(2, &[0x43; 32]), vec![])).await.unwrap();
        assert!(only_new.auth_material(&imsi("001010000000002")).await.unwrap().is_some());
        // The old KEK alone no longer opens anything.
        let old = Store::open(&url, keyring()).await.unwrap();
        assert!(old.auth_material(&imsi("001010000000001")).await.is_err());
    })
    .await;
}

#[tokio::test]
async fn bad_urls_are_refused() {
    assert!(matches!(Store::open("mysql://x", keyring()).await, Err(StoreError::BadUrl(_))));
}

#[tokio::test]
async fn outbox_delivers_each_notification_once() {
    on_every_backend(|store, _| async move {
        tx!(store, insert_sims(&[sim("001010000000001", None)])).unwrap();
        let node = ServingNode { origin_host: "mme1".into(), origin_realm: "r".into(), plmn: None, since: 0 };
        tx!(store, enqueue_notification(&imsi("001010000000001"), "clr", &node)).unwrap();
        tx!(store, enqueue_notification(&imsi("001010000000001"), "idr", &node)).unwrap();
        let got = store.take_notifications(10).await.unwrap();
        assert_eq!(
            got.iter().map(|(_, k, n)| (k.as_str(), n.origin_host.as_str())).collect::<Vec<_>>(),
            vec![("clr", "mme1"), ("idr", "mme1")]
        );
        assert!(store.take_notifications(10).await.unwrap().is_empty());
    })
    .await;
}

#[tokio::test]
async fn concurrent_reservations_are_grouped_and_disjoint() {
    on_every_backend(|store, _| async move {
        let sims: Vec<NewSim> = (0..50).map(|i| sim(&format!("0010100000{i:05}"), None)).collect();
        tx!(store, insert_sims(&sims)).unwrap();
        let alloc = std::sync::Arc::new(SqnAllocator::new(10));
        let mut tasks = Vec::new();
        for i in 0..50 {
            for _ in 0..3 {
                let (store, alloc) = (store.clone(), alloc.clone());
                tasks.push(tokio::spawn(async move {
                    let who = imsi(&format!("0010100000{i:05}"));
                    (i, alloc.next(&store, &who, 4).await.unwrap())
                }));
            }
        }
        let mut by_sim: std::collections::HashMap<i32, Vec<i64>> = Default::default();
        for t in tasks {
            let (i, first) = t.await.unwrap();
            by_sim.entry(i).or_default().push(first);
        }
        for (i, mut firsts) in by_sim {
            firsts.sort();
            assert!(firsts.windows(2).all(|w| w[1] >= w[0] + 4), "SIM {i}: overlapping SEQ ranges {firsts:?}");
            let mark = store.sqn_reserved(&imsi(&format!("0010100000{i:05}"))).await.unwrap().unwrap();
            assert!(*firsts.last().unwrap() + 3 <= mark, "issued beyond the durable mark");
        }
        assert!(store.reserve_sqn_many(&[(imsi("999990000000000"), 1)]).await.unwrap()[0].is_err());
    })
    .await;
}

#[tokio::test]
async fn audit_chain_detects_tampering() {
    use store::audit::AuditEntry;
    on_every_backend(|store, url| async move {
        let e = |n: u32| AuditEntry {
            actor: "cli:root".into(),
            role: "operator_admin".into(),
            tenant: "acme".into(),
            source: "local".into(),
            action: "sim.set_status".into(),
            resource: format!("sim/00101000000000{n}"),
            before: "active".into(),
            after: "suspended".into(),
        };
        for n in 0..5 {
            store.append_audit(&e(n)).await.unwrap();
        }
        assert_eq!(store.verify_audit().await.unwrap(), Ok(5));
        let tail = store.audit_tail(2).await.unwrap();
        assert_eq!(tail.len(), 2);
        assert_eq!(tail[1].entry.resource, "sim/001010000000004");
        assert_eq!(tail[1].prev_hash, tail[0].hash);
        // Edit a row behind the store's back: the chain breaks there.
        use sqlx::Executor;
        sqlx::any::install_default_drivers();
        let raw =
            sqlx::AnyPool::connect(&if url.starts_with("sqlite") { format!("{url}?mode=rw") } else { url.clone() })
                .await
                .unwrap();
        let third = store.audit_tail(5).await.unwrap()[2].id;
        raw.execute(format!("UPDATE audit_log SET after = 'active' WHERE id = {third}").as_str()).await.unwrap();
        let broken = store.verify_audit().await.unwrap().unwrap_err();
        assert_eq!(broken.id, third);
        // Deleting a row breaks the link of the next one.
        raw.execute(format!("UPDATE audit_log SET after = 'suspended' WHERE id = {third}").as_str()).await.unwrap();
        assert_eq!(store.verify_audit().await.unwrap(), Ok(5));
        raw.execute(format!("DELETE FROM audit_log WHERE id = {third}").as_str()).await.unwrap();
        assert_eq!(store.verify_audit().await.unwrap().unwrap_err().id, third + 1);
        raw.close().await;
    })
    .await;
}

#[tokio::test]
async fn tokens_are_hashed_scoped_expiring_and_revocable() {
    use store::access::{AuthError, NewToken, Scope};
    on_every_backend(|store, url| async move {
        tx!(store, create_tenant("acme")).unwrap();
        tx!(store, create_tenant("globex")).unwrap();
        assert!(matches!(tx!(store, create_tenant("acme")), Err(StoreError::Conflict(_))));
        assert!(matches!(tx!(store, create_tenant("a b")), Err(StoreError::Conflict(_))));
        let new = |tenant: Option<&str>, expires_at, sources: Vec<std::net::IpAddr>| NewToken {
            name: "ci".into(),
            role: "tenant_operator".into(),
            tenant: tenant.map(str::to_string),
            expires_at,
            allowed_sources: sources,
            user_id: None,
        };
        let (info, token) = tx!(store, issue_token(&new(Some("acme"), None, vec![]))).unwrap();
        assert!(token.starts_with("wdn_"));
        let ok = store.verify_token(&token, None, 0).await.unwrap().unwrap();
        assert_eq!((ok.tenant.as_deref(), ok.role.as_str()), (Some("acme"), "tenant_operator"));
        // Only the hash is stored.
        use sqlx::Executor;
        sqlx::any::install_default_drivers();
        let raw =
            sqlx::AnyPool::connect(&if url.starts_with("sqlite") { format!("{url}?mode=ro") } else { url.clone() })
                .await
                .unwrap();
        let secret = token.rsplit('_').next().unwrap();
        let dump: Vec<String> = sqlx::query("SELECT secret_hash FROM api_tokens")
            .fetch_all(&raw)
            .await
            .unwrap()
            .iter()
            .map(|r| sqlx::Row::get(r, 0))
            .collect();
        assert!(dump.iter().all(|h| !h.contains(secret)));
        let _ = raw.execute("SELECT 1").await;
        raw.close().await;
        // Forged, malformed, expired, wrong-source and revoked tokens are refused.
        let mut forged = token.clone();
        forged.pop();
        forged.push(if token.ends_with('0') { '1' } else { '0' });
        assert_eq!(store.verify_token(&forged, None, 0).await.unwrap(), Err(AuthError::Invalid));
        assert_eq!(store.verify_token("Bearer x", None, 0).await.unwrap(), Err(AuthError::Malformed));
        let (_, expiring) = tx!(store, issue_token(&new(Some("acme"), Some(1000), vec![]))).unwrap();
        assert!(store.verify_token(&expiring, None, 999).await.unwrap().is_ok());
        assert_eq!(store.verify_token(&expiring, None, 1000).await.unwrap(), Err(AuthError::Expired));
        let lo: std::net::IpAddr = "127.0.0.1".parse().unwrap();
        let (_, pinned) = tx!(store, issue_token(&new(Some("acme"), None, vec![lo]))).unwrap();
        assert!(store.verify_token(&pinned, Some(lo), 0).await.unwrap().is_ok());
        assert_eq!(
            store.verify_token(&pinned, Some("127.0.0.2".parse().unwrap()), 0).await.unwrap(),
            Err(AuthError::Source)
        );
        assert_eq!(store.verify_token(&pinned, None, 0).await.unwrap(), Err(AuthError::Source));
        // Tenant isolation in the data layer: globex cannot revoke acme's token, acme can.
        assert!(!tx!(store, revoke_token(&Scope::Tenant("globex".into()), &info.id)).unwrap());
        assert!(tx!(store, revoke_token(&Scope::Tenant("acme".into()), &info.id)).unwrap());
        assert_eq!(store.verify_token(&token, None, 0).await.unwrap(), Err(AuthError::Revoked));
        assert!(matches!(tx!(store, issue_token(&new(Some("nobody"), None, vec![]))), Err(StoreError::NotFound(_))));
        // SIM listing is scoped too.
        let mut a = sim("001010000000001", None);
        a.tenant = "acme".into();
        let mut b = sim("001010000000002", None);
        b.tenant = "globex".into();
        tx!(store, insert_sims(&[a, b])).unwrap();
        assert_eq!(store.list_imsis(&Scope::Tenant("acme".into()), None, 10).await.unwrap(), vec!["001010000000001"]);
        assert_eq!(store.list_imsis(&Scope::Operator, None, 10).await.unwrap().len(), 2);
        assert_eq!(
            store.list_imsis(&Scope::Operator, Some("001010000000001"), 10).await.unwrap(),
            vec!["001010000000002"]
        );
    })
    .await;
}

#[tokio::test]
async fn platform_data_is_scoped_and_bulk_batches_are_atomic() {
    use store::access::Scope;
    use store::jobs::{Batch, ItemResult, JobChange, RACE};
    use store::sims_scoped::SimFilter;
    on_every_backend(|s, _| async move {
        tx!(s, put_profile(&profile("meter"))).unwrap();
        for t in ["alpha", "bravo"] {
            tx!(s, create_tenant(t)).unwrap();
        }
        let mut sims: Vec<NewSim> = (1..=5).map(|i| sim(&format!("00101000000000{i}"), Some("meter"))).collect();
        sims.extend((6..=7).map(|i| sim(&format!("00101000000000{i}"), Some("meter"))));
        for (i, x) in sims.iter_mut().enumerate() {
            x.status = SimStatus::Inventory;
            x.tenant = if i < 5 { "alpha".into() } else { "bravo".into() };
        }
        sims[0].priority = Priority::Critical;
        sims[6].priority = Priority::Low;
        tx!(s, insert_sims(&sims)).unwrap();
        let mut exceptions = s.priority_exceptions().await.unwrap();
        exceptions.sort_by(|x, y| x.0.cmp(&y.0));
        assert_eq!(
            exceptions,
            vec![("001010000000001".to_string(), Priority::Critical), ("001010000000007".to_string(), Priority::Low)]
        );
        let a = Scope::Tenant("alpha".into());
        let b = Scope::Tenant("bravo".into());
        assert_eq!(s.list_sims(&a, &SimFilter::default(), None, 100).await.unwrap().len(), 5);
        assert_eq!(s.list_sims(&Scope::Operator, &SimFilter::default(), None, 100).await.unwrap().len(), 7);
        let page = s.list_sims(&a, &SimFilter::default(), Some("001010000000002"), 2).await.unwrap();
        assert_eq!(
            page.iter().map(|m| m.sim.imsi.to_string()).collect::<Vec<_>>(),
            ["001010000000003", "001010000000004"]
        );
        assert!(s.sim_in(&b, &imsi("001010000000001")).await.unwrap().is_none(), "bravo cannot see alpha's SIM");
        assert!(!tx!(s, set_status_in(&b, &imsi("001010000000001"), SimStatus::Inventory, SimStatus::Active)).unwrap());
        let among = s.sims_among(&a, &["001010000000001".into(), "001010000000006".into()]).await.unwrap();
        assert_eq!(among.len(), 1);

        let job = tx!(s, create_job("alpha", "set_status", "{}", "test", 0)).unwrap();
        let batch = Batch {
            changes: vec![(SimStatus::Inventory, vec!["001010000000001".into(), "001010000000002".into()])],
            results: vec![
                ItemResult { imsi: "001010000000001".into(), outcome: "succeeded", detail: String::new() },
                ItemResult { imsi: "001010000000002".into(), outcome: "succeeded", detail: String::new() },
                ItemResult { imsi: "001010000000099".into(), outcome: "failed", detail: "SIM not found".into() },
            ],
            events: vec![
                ("001010000000001".into(), "sim.status_changed".into(), "inventory → active".into()),
                ("001010000000002".into(), "sim.status_changed".into(), "inventory → active".into()),
            ],
            cursor: "001010000000002".into(),
            notifications: vec![],
            add_total: 3,
        };
        s.apply_job_batch(&job, &JobChange::Status(SimStatus::Active), &batch).await.unwrap();
        let j = s.job_in(&a, &job.id).await.unwrap().unwrap();
        assert_eq!((j.total, j.succeeded, j.failed, j.cursor.as_str()), (3, 2, 1, "001010000000002"));
        assert!(s.job_in(&b, &job.id).await.unwrap().is_none());
        assert!(s.job_items(&b, &job.id, None, None, 10).await.unwrap().is_none());
        let failed = s.job_items(&a, &job.id, Some("failed"), None, 10).await.unwrap().unwrap();
        assert_eq!(
            failed,
            vec![ItemResult { imsi: "001010000000099".into(), outcome: "failed", detail: "SIM not found".into() }]
        );
        assert_eq!(s.sim(&imsi("001010000000002")).await.unwrap().unwrap().status, SimStatus::Active);

        // The same batch again: the SIMs are no longer in inventory, so nothing of it is written.
        let again = s.apply_job_batch(&j, &JobChange::Status(SimStatus::Active), &batch).await;
        assert!(matches!(again, Err(StoreError::Conflict(ref m)) if m == RACE), "{again:?}");
        let j2 = s.job(&job.id).await.unwrap().unwrap();
        assert_eq!((j2.succeeded, j2.failed), (2, 1), "a refused batch leaves the counters alone");

        let ev_a = s.list_events(&a, &Default::default(), 0, 100).await.unwrap();
        assert_eq!(ev_a.len(), 2);
        assert!(ev_a.iter().all(|e| e.tenant.as_deref() == Some("alpha")));
        assert!(s.list_events(&b, &Default::default(), 0, 100).await.unwrap().is_empty());
        assert!(tx!(s, request_job_cancel(&a, &job.id)).unwrap());
        assert!(!tx!(s, request_job_cancel(&b, &job.id)).unwrap());

        for (name, exp) in [("session:alice", Some(100)), ("session:bob", Some(i64::MAX / 2)), ("ci", Some(100))] {
            let t = store::access::NewToken {
                name: name.into(),
                role: "tenant_viewer".into(),
                tenant: Some("alpha".into()),
                expires_at: exp,
                allowed_sources: vec![],
                user_id: name.starts_with("session:").then(|| format!("usr_{name}")),
            };
            tx!(s, issue_token(&t)).unwrap();
        }
        assert_eq!(s.purge_expired_sessions(1000).await.unwrap(), 1, "only the expired session goes");
        let names: Vec<String> = s.list_tokens(&a, None, 10).await.unwrap().into_iter().map(|t| t.info.name).collect();
        assert!(names.contains(&"ci".to_string()) && names.contains(&"session:bob".to_string()) && names.len() == 2);
        let u = tx!(s, create_user("alice", "$argon2id$fake", "tenant_viewer", Some("alpha"))).unwrap();
        assert!(matches!(
            tx!(s, create_user("alice", "h", "tenant_viewer", Some("alpha"))),
            Err(StoreError::Conflict(_))
        ));
        tx!(s, record_login(&u.id, false, 0)).unwrap();
        tx!(s, record_login(&u.id, false, 99)).unwrap();
        let rec = s.login_records("alice").await.unwrap().remove(0);
        assert_eq!((rec.failed_logins, rec.locked_until), (2, 99));
        assert_eq!(s.list_users(&b, None, 10).await.unwrap().len(), 0);
        // Usernames are unique within a tenant only: another tenant may use "alice" too.
        let other = tx!(s, create_user("alice", "h", "tenant_viewer", Some("bravo"))).unwrap();
        assert_eq!(s.login_records("alice").await.unwrap().len(), 2);
        // A credential derived from a user stops verifying once the user is gone, and deleting the
        // user revokes it.
        let derived = store::access::NewToken {
            name: "session:alice".into(),
            role: "tenant_viewer".into(),
            tenant: Some("alpha".into()),
            expires_at: None,
            allowed_sources: vec![],
            user_id: Some(u.id.clone()),
        };
        let (_, secret) = tx!(s, issue_token(&derived)).unwrap();
        assert!(s.verify_token(&secret, None, 0).await.unwrap().is_ok());
        assert_eq!(tx!(s, revoke_sessions(&other.id)).unwrap(), 0, "sessions are revoked by user id, not by name");
        assert!(s.verify_token(&secret, None, 0).await.unwrap().is_ok());
        assert!(!tx!(s, delete_user(&b, &u.id)).unwrap());
        assert!(tx!(s, delete_user(&a, &u.id)).unwrap());
        assert_eq!(s.verify_token(&secret, None, 0).await.unwrap(), Err(store::access::AuthError::UserGone));
        assert_eq!(tx!(s, revoke_user_credentials(&u.id)).unwrap(), 1);
        assert_eq!(s.verify_token(&secret, None, 0).await.unwrap(), Err(store::access::AuthError::Revoked));

        let ans = store::platform::IdempotentAnswer { request_hash: "h1".into(), status: 201, body: "{}".into() };
        s.put_idempotent_answer("token:x", "k", &ans).await.unwrap();
        let other = store::platform::IdempotentAnswer { request_hash: "h2".into(), status: 200, body: "[]".into() };
        s.put_idempotent_answer("token:x", "k", &other).await.unwrap();
        assert_eq!(s.idempotent_answer("token:x", "k").await.unwrap(), Some(ans), "the first answer wins");
        assert_eq!(s.idempotent_answer("token:y", "k").await.unwrap(), None, "keys are scoped");

        let w = tx!(s, create_webhook("alpha", "https://h.example/x", b"secret-bytes", 0)).unwrap();
        assert_eq!(s.webhook_secret(&w.id).await.unwrap().as_slice(), b"secret-bytes");
        assert!(s.list_webhooks(&b).await.unwrap().is_empty());
        s.webhook_delivered(&w.id, Err("HTTP 500".into())).await.unwrap();
        s.webhook_delivered(&w.id, Ok(7)).await.unwrap();
        let w = &s.list_webhooks(&a).await.unwrap()[0];
        assert_eq!((w.cursor, w.failures), (7, 0));

        tx!(s, create_range("001010000000000", "001010000000999", "iot", "")).unwrap();
        assert!(matches!(
            tx!(s, create_range("001010000000500", "001010000001500", "handset", "")),
            Err(StoreError::Conflict(_))
        ));
        let r = tx!(s, create_rule("alpha", "signalling", "{}")).unwrap();
        assert!(!tx!(s, delete_rule(&b, &r.id)).unwrap());
        assert_eq!(s.list_rules(&a).await.unwrap().len(), 1);
    })
    .await;
}
