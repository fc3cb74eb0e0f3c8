//! What the LwM2M server asks the store, on both backends (SQLite always, PostgreSQL when
//! `WARDEN_TEST_POSTGRES_URL` is set): the SIM of an ICCID, and the IMEI of a SIM's latest
//! Update-Location that carried one.

use store::model::{Priority, ServingNode};
use testkit::on_every_backend;

#[tokio::test]
async fn sim_of_an_iccid_and_the_last_imei_the_hss_saw() {
    on_every_backend(|store, _| async move {
        let mut sim = testkit::provision::sim("001010000000001", None, Priority::Standard, "acme");
        sim.iccid = Some("89882806660004909182".parse().unwrap());
        testkit::provision::sims(&store, &[sim]).await;
        assert_eq!(
            store.sim_by_iccid("89882806660004909182").await.unwrap(),
            Some(("001010000000001".to_string(), "acme".to_string()))
        );
        assert_eq!(store.sim_by_iccid("89882806660004909190").await.unwrap(), None);

        let imsi: ids::Imsi = "001010000000001".parse().unwrap();
        assert_eq!(store.last_ulr_imei("001010000000001").await.unwrap(), None);
        let node =
            |since| ServingNode { origin_host: "mme1".into(), origin_realm: "home.example".into(), plmn: None, since };
        store.register(&imsi, &node(10), Some(&"490154203237518".parse().unwrap())).await.unwrap();
        store.register(&imsi, &node(20), Some(&"35209900176148".parse().unwrap())).await.unwrap();
        // A later ULR without terminal information does not hide the last IMEI seen.
        store.register(&imsi, &node(30), None).await.unwrap();
        assert_eq!(store.last_ulr_imei("001010000000001").await.unwrap().as_deref(), Some("35209900176148"));
        assert_eq!(store.last_ulr_imei("001010000000002").await.unwrap(), None);
    })
    .await;
}
