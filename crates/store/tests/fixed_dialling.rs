//! A SIM's own fixed dialling list (SUB-3) on both backends (SQLite always, PostgreSQL when
//! `WARDEN_TEST_POSTGRES_URL` is set): written in a transaction or not at all, read back as written,
//! and only inside the SIM's tenant's scope.

use store::access::Scope;
use store::fixed_dialling::SimFixedDialling;
use store::traffic::OverrideMode;
use testkit::on_every_backend;

#[tokio::test]
async fn lists_round_trip_in_their_tenants_scope() {
    on_every_backend(|store, _| async move {
        let imsi: ids::Imsi = "001010000000001".parse().unwrap();
        assert_eq!(store.sim_fixed_dialling(&imsi).await.unwrap(), None);
        let l = SimFixedDialling {
            mode: OverrideMode::Replace,
            entries: vec!["+4917*".into(), "1234".into()],
            updated_at: 5,
        };
        let mut tx = store.begin().await.unwrap();
        tx.put_sim_fixed_dialling(&imsi, "acme", &l).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(store.sim_fixed_dialling(&imsi).await.unwrap(), Some(l.clone()));
        let acme = Scope::Tenant("acme".into());
        let other = Scope::Tenant("other".into());
        assert_eq!(store.sim_fixed_dialling_in(&acme, &imsi).await.unwrap(), Some(l.clone()));
        assert_eq!(store.sim_fixed_dialling_in(&other, &imsi).await.unwrap(), None, "tenant isolation");
        assert_eq!(store.sim_fixed_dialling_in(&Scope::Operator, &imsi).await.unwrap(), Some(l.clone()));
        let l2 = SimFixedDialling { mode: OverrideMode::Extend, entries: vec![], updated_at: 6 };
        let mut tx = store.begin().await.unwrap();
        tx.put_sim_fixed_dialling(&imsi, "acme", &l2).await.unwrap();
        drop(tx);
        assert_eq!(store.sim_fixed_dialling(&imsi).await.unwrap(), Some(l), "an uncommitted change writes nothing");
        let mut tx = store.begin().await.unwrap();
        tx.put_sim_fixed_dialling(&imsi, "acme", &l2).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(store.sim_fixed_dialling(&imsi).await.unwrap(), Some(l2));
    })
    .await;
}
