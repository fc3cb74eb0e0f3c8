//! A change and its record are one: the SIM's new state, its event, the CLR queued for the HSS and
//! the audit entry commit together or not at all. A second connection injects a failure into the
//! last write (the audit entry) or an earlier one (the event) with a trigger, as a crash or a full
//! disk would between two writes; nothing of the change may survive. On SQLite and, when
//! configured, PostgreSQL.

use std::sync::Mutex;

use cmp::{Actor, HssNotifier};
use ids::Imsi;
use sqlx::Executor;
use store::model::{Priority, ServingNode, Sim, SimStatus};
use store::Store;
use testkit::provision;

/// What the HSS was told.
#[derive(Default)]
struct Told(Mutex<Vec<String>>);

impl HssNotifier for Told {
    fn status_changed(&self, before: &Sim, to: SimStatus) {
        self.0.lock().unwrap().push(format!("{}->{to}", before.status));
    }
    fn profile_changed(&self, _: &Sim) {
        self.0.lock().unwrap().push("profile".into());
    }
}

/// Makes every insert into `table` fail, through a connection of its own.
async fn break_inserts(url: &str, table: &str) -> sqlx::AnyPool {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(url).await.unwrap();
    if url.starts_with("sqlite:") {
        let sql = format!(
            "CREATE TRIGGER fail_{table} BEFORE INSERT ON {table} BEGIN SELECT RAISE(ABORT, 'injected failure'); END"
        );
        pool.execute(sql.as_str()).await.unwrap();
    } else {
        pool.execute(
            "CREATE OR REPLACE FUNCTION injected_failure() RETURNS trigger AS $$ \
             BEGIN RAISE EXCEPTION 'injected failure'; END $$ LANGUAGE plpgsql",
        )
        .await
        .unwrap();
        let sql = format!(
            "CREATE TRIGGER fail_{table} BEFORE INSERT ON {table} FOR EACH ROW EXECUTE FUNCTION injected_failure()"
        );
        pool.execute(sql.as_str()).await.unwrap();
    }
    pool
}

async fn repair(pool: &sqlx::AnyPool, url: &str, table: &str) {
    let on = if url.starts_with("sqlite:") { String::new() } else { format!(" ON {table}") };
    pool.execute(format!("DROP TRIGGER fail_{table}{on}").as_str()).await.unwrap();
}

/// Everything a status change writes, as it stands: status, events, audit entries, outbox rows.
async fn written(store: &Store, imsi: &Imsi) -> (SimStatus, usize, usize, usize) {
    let status = store.sim(imsi).await.unwrap().unwrap().status;
    let events = store.events(imsi).await.unwrap().len();
    let audit = store.audit_tail(1000).await.unwrap().iter().filter(|r| r.entry.action == "sim.set_status").count();
    let outbox = store.pending_notifications().await.unwrap();
    (status, events, audit, outbox)
}

#[tokio::test]
async fn a_change_and_its_audit_entry_commit_or_roll_back_together() {
    testkit::on_every_backend(|store, url| async move {
        let imsi: Imsi = "001010000000001".parse().unwrap();
        provision::sims(&store, &[provision::sim(imsi.as_str(), None, Priority::Standard, "acme")]).await;
        let node = ServingNode { origin_host: "mme1".into(), origin_realm: "r".into(), plmn: None, since: 1 };
        store.register(&imsi, &node, None).await.unwrap();
        let told = Told::default();
        let start = written(&store, &imsi).await;
        assert_eq!(start, (SimStatus::Active, 0, 0, 0));

        for table in ["audit_log", "events"] {
            let faults = break_inserts(&url, table).await;
            let e = cmp::sims::change_status(&store, &told, &Actor::cli(), &imsi, SimStatus::Suspended)
                .await
                .expect_err("the injected failure must surface");
            assert!(e.to_string().contains("injected failure"), "{table}: {e}");
            assert_eq!(written(&store, &imsi).await, start, "{table} failed: nothing of the change is left");
            assert!(told.0.lock().unwrap().is_empty(), "the HSS hears only of committed changes");
            repair(&faults, &url, table).await;
        }

        let changed =
            cmp::sims::change_status(&store, &told, &Actor::cli(), &imsi, SimStatus::Suspended).await.unwrap();
        assert_eq!(changed.after.sim.status, SimStatus::Suspended);
        assert_eq!(written(&store, &imsi).await, (SimStatus::Suspended, 1, 1, 1), "all four writes, once");
        assert_eq!(*told.0.lock().unwrap(), ["active->suspended"]);
        let queued = store.take_notifications(10).await.unwrap();
        assert_eq!((queued[0].1.as_str(), queued[0].2.origin_host.as_str()), ("clr", "mme1"), "CLR to the serving MME");
        assert_eq!(store.verify_audit().await.unwrap().unwrap(), 2, "import and change, chain intact");
    })
    .await;
}

#[tokio::test]
async fn a_refused_change_writes_nothing() {
    let t = testkit::TempStore::sqlite().await;
    let imsi: Imsi = "001010000000002".parse().unwrap();
    provision::sims(&t.store, &[provision::sim(imsi.as_str(), None, Priority::Critical, "acme")]).await;
    let told = Told::default();
    let rule = Actor::automated("signalling rule: 500 AIR/ULR this hour");
    let e = cmp::sims::change_status(&t.store, &told, &rule, &imsi, SimStatus::Suspended).await.unwrap_err();
    assert!(matches!(e, cmp::Error::Transition(cmp::TransitionError::CriticalExempt)), "{e}");
    assert_eq!(written(&t.store, &imsi).await, (SimStatus::Active, 0, 0, 0));
    assert!(told.0.lock().unwrap().is_empty());
}

/// Revoking a device certificate (SEC-7, `cmp::certificates::revoke`, the path of the API and of
/// `warden est revoke`): the revocation and its audit entry commit together; a bad reason or a
/// certificate out of the actor's scope changes nothing.
#[tokio::test]
async fn a_certificate_revocation_and_its_audit_entry_commit_together() {
    testkit::on_every_backend(|store, url| async move {
        let cert = store::devcerts::NewDeviceCert {
            serial: "7c01".into(),
            ca_scope: "acme".into(),
            tenant: "acme".into(),
            endpoint: "meter-7".into(),
            subject: "CN=meter-7".into(),
            san: vec![],
            imsi: None,
            imei: None,
            not_before: store::now() - 60,
            not_after: store::now() + 3600,
            replaces: None,
            cert_der: vec![0x30, 0x00],
        };
        store.record_device_cert(&cert, None).await.unwrap();
        let audited = |s: Store| async move {
            s.audit_tail(100).await.unwrap().iter().filter(|r| r.entry.action == "certificate.revoke").count()
        };
        let status = |s: Store| async move { s.device_cert("7c01").await.unwrap().unwrap().status };

        let e = cmp::certificates::revoke(&store, &Actor::cli(), "7c01", Some("bored")).await.unwrap_err();
        assert!(matches!(e, cmp::Error::Invalid(_)), "{e}");
        let faults = break_inserts(&url, "audit_log").await;
        let e = cmp::certificates::revoke(&store, &Actor::cli(), "7c01", Some("keyCompromise")).await.unwrap_err();
        assert!(e.to_string().contains("injected failure"), "{e}");
        assert_eq!((status(store.clone()).await, audited(store.clone()).await), ("good".to_string(), 0));
        repair(&faults, &url, "audit_log").await;

        let e = cmp::certificates::revoke(&store, &Actor::cli(), "7c02", None).await.unwrap_err();
        assert!(matches!(e, cmp::Error::NotFound(_)), "{e}");
        let row = cmp::certificates::revoke(&store, &Actor::cli(), "7c01", Some("keyCompromise")).await.unwrap();
        assert_eq!(row.revocation_reason.as_deref(), Some("keyCompromise"));
        assert_eq!((status(store.clone()).await, audited(store.clone()).await), ("revoked".to_string(), 1));
    })
    .await;
}
