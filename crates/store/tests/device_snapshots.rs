//! Device snapshots (migration 0029) on both backends: a registration, an objects read, updates,
//! de-registration at the holding instance only, an instance's release at start; reads scoped so that
//! a tenant only ever gets its own devices (another tenant's is answered like a missing one).

use store::access::Scope;
use store::device_snapshots::{DeviceObjects, DeviceRegistration};
use testkit::{on_every_backend, on_two_handles_of_every_backend};

fn reg<'a>(endpoint: &'a str, link: Option<(&'a str, &'a str)>, at: i64, instance: &'a str) -> DeviceRegistration<'a> {
    DeviceRegistration { endpoint, link, at, instance }
}

#[tokio::test]
async fn snapshots_follow_the_device_and_stay_in_their_tenant() {
    on_every_backend(|store, _url| async move {
        let acme = Scope::Tenant("acme".into());
        let other = Scope::Tenant("other".into());
        store.device_registered(&reg("ep-a", Some(("001010000000001", "acme")), 1000, "hss-1")).await.unwrap();
        store.device_registered(&reg("ep-b", Some(("001010000000002", "other")), 1001, "hss-1")).await.unwrap();
        store.device_registered(&reg("lab", None, 1002, "hss-2")).await.unwrap();

        // Fresh: registered, nothing read yet.
        let a = store.device_snapshot_in(&acme, "ep-a").await.unwrap().unwrap();
        assert_eq!((a.imsi.as_deref(), a.tenant.as_str(), a.registered), (Some("001010000000001"), "acme", true));
        assert_eq!((a.registered_at, a.last_seen, a.instance.as_str()), (1000, 1000, "hss-1"));
        assert_eq!((a.objects.model, a.objects_read_at), (None, None));

        // Isolation in the data layer: the other tenant's device and the operator's are not found.
        assert!(store.device_snapshot_in(&acme, "ep-b").await.unwrap().is_none());
        assert!(store.device_snapshot_in(&acme, "lab").await.unwrap().is_none());
        assert!(store.device_snapshot_in(&other, "ep-a").await.unwrap().is_none());
        assert!(store.device_snapshots_of_sim(&other, "001010000000001").await.unwrap().is_empty());
        assert_eq!(store.device_snapshot_in(&Scope::Operator, "lab").await.unwrap().unwrap().tenant, "*");

        // Objects 3/4 read (a long text is cut), then the IMEI compared.
        let objects = DeviceObjects {
            manufacturer: Some("Acme".into()),
            model: Some("M".repeat(300)),
            serial: Some("490154203237518".into()),
            firmware: Some("1.2.3".into()),
            battery: Some(87),
            signal_dbm: Some(-71),
        };
        assert!(store.device_objects_read("ep-a", &objects, 1010).await.unwrap());
        assert!(!store.device_objects_read("nobody", &objects, 1010).await.unwrap());
        assert!(store.device_imei_checked("ep-a", "490154203237518", Some("356938035643809")).await.unwrap());
        let a = store.device_snapshot_in(&acme, "ep-a").await.unwrap().unwrap();
        assert_eq!((a.objects.manufacturer.as_deref(), a.objects.firmware.as_deref()), (Some("Acme"), Some("1.2.3")));
        // Serialized flat, as before the objects were a struct of their own.
        let json = serde_json::to_value(&a).unwrap();
        assert_eq!((json["firmware"].as_str(), json["signal_dbm"].as_i64()), (Some("1.2.3"), Some(-71)));
        assert!(json.get("objects").is_none(), "{json}");
        assert_eq!(a.objects.model.unwrap().chars().count(), 128);
        assert_eq!(
            (a.objects.battery, a.objects.signal_dbm, a.objects_read_at, a.last_seen),
            (Some(87), Some(-71), Some(1010), 1010)
        );
        assert_eq!(
            (a.reported_imei.as_deref(), a.hss_imei.as_deref()),
            (Some("490154203237518"), Some("356938035643809"))
        );

        // An update moves last_seen forward, never back.
        store.device_seen("ep-a", "hss-1", 1100).await.unwrap();
        store.device_seen("ep-a", "hss-1", 1050).await.unwrap();
        assert_eq!(store.device_snapshot_in(&acme, "ep-a").await.unwrap().unwrap().last_seen, 1100);

        // The device moved to hss-2: hss-1's late expiry does not mark it gone; hss-2's de-registration does.
        store.device_registered(&reg("ep-a", Some(("001010000000001", "acme")), 1200, "hss-2")).await.unwrap();
        store.device_gone("ep-a", "hss-1", 1201).await.unwrap();
        let a = store.device_snapshot_in(&acme, "ep-a").await.unwrap().unwrap();
        assert!(a.registered && a.instance == "hss-2");
        assert_eq!(a.objects.firmware.as_deref(), Some("1.2.3"), "a re-registration keeps what was read");
        store.device_gone("ep-a", "hss-2", 1300).await.unwrap();
        let a = store.device_snapshot_in(&acme, "ep-a").await.unwrap().unwrap();
        assert_eq!((a.registered, a.last_seen), (false, 1300));

        // An instance that starts afresh releases what it held.
        assert_eq!(store.release_devices_of("hss-1").await.unwrap(), 1, "ep-b");
        assert!(!store.device_snapshot_in(&Scope::Operator, "ep-b").await.unwrap().unwrap().registered);
        assert!(store.device_snapshot_in(&Scope::Operator, "lab").await.unwrap().unwrap().registered);

        // Linked later (an ICCID serial): the row moves into the SIM's tenant.
        assert!(store.link_device("lab", "001010000000001", "acme").await.unwrap());
        store.device_registered(&reg("ep-c", Some(("001010000000001", "acme")), 1400, "hss-2")).await.unwrap();
        let of_sim = store.device_snapshots_of_sim(&acme, "001010000000001").await.unwrap();
        let names: Vec<_> = of_sim.iter().map(|d| d.endpoint.as_str()).collect();
        assert_eq!(names, ["ep-c", "lab", "ep-a"], "registered first, then the latest registration");
        assert_eq!(store.device_snapshots_of_sim(&Scope::Operator, "001010000000001").await.unwrap().len(), 3);
    })
    .await;
}

/// A campaign by model's targets: the tenant's devices of that model registered now, whichever
/// instance holds them, in name order and at most the limit.
#[tokio::test]
async fn registered_devices_of_a_model_across_instances() {
    on_every_backend(|store, _url| async move {
        let model = |m: &str| DeviceObjects { model: Some(m.into()), ..Default::default() };
        for (ep, tenant, instance, m) in [
            ("c", "acme", "hss-2", "m1"),
            ("a", "acme", "hss-1", "m1"),
            ("b", "acme", "hss-1", "m2"),
            ("d", "acme", "hss-2", "m1"),
            ("e", "other", "hss-1", "m1"),
        ] {
            store.device_registered(&reg(ep, Some(("001010000000001", tenant)), 1000, instance)).await.unwrap();
            assert!(store.device_objects_read(ep, &model(m), 1001).await.unwrap());
        }
        store.device_gone("d", "hss-2", 1002).await.unwrap();
        assert_eq!(store.registered_devices_of_model("acme", "m1", 10).await.unwrap(), ["a", "c"]);
        assert_eq!(store.registered_devices_of_model("acme", "m1", 1).await.unwrap(), ["a"]);
        assert_eq!(store.registered_devices_of_model("other", "m1", 10).await.unwrap(), ["e"]);
        assert!(store.registered_devices_of_model("acme", "m3", 10).await.unwrap().is_empty());
    })
    .await;
}

/// The IMEI check writes only a new (reported, HSS) pair and says whether it did, so one mismatch
/// gives one `device.imei_mismatch` event however often it is found again, and however many
/// instances find it at once.
#[tokio::test]
async fn an_imei_pair_is_recorded_once_even_by_two_instances_at_once() {
    const REPORTED: &str = "490154203237518";
    on_two_handles_of_every_backend(|one, two| async move {
        one.device_registered(&reg("ep-a", Some(("001010000000001", "acme")), 1000, "hss-1")).await.unwrap();
        let pair = |s: store::device_snapshots::DeviceSnapshot| (s.reported_imei, s.hss_imei);
        let stored = || async { pair(one.device_snapshot_in(&Scope::Operator, "ep-a").await.unwrap().unwrap()) };

        // The first mismatch changes the row; the same pair again does not, from either handle.
        assert!(one.device_imei_checked("ep-a", REPORTED, Some("356938035643809")).await.unwrap());
        assert!(!one.device_imei_checked("ep-a", REPORTED, Some("356938035643809")).await.unwrap());
        assert!(!two.device_imei_checked("ep-a", REPORTED, Some("356938035643809")).await.unwrap());
        assert_eq!(stored().await, (Some(REPORTED.into()), Some("356938035643809".into())));

        // The HSS saw another IMEI: a new mismatch.
        assert!(two.device_imei_checked("ep-a", REPORTED, Some("35209900176148")).await.unwrap());
        assert_eq!(stored().await, (Some(REPORTED.into()), Some("35209900176148".into())));

        // They agree now (NULL compared as a value: the change is seen once), then disagree again.
        assert!(one.device_imei_checked("ep-a", REPORTED, None).await.unwrap());
        assert!(!two.device_imei_checked("ep-a", REPORTED, None).await.unwrap());
        assert_eq!(stored().await, (Some(REPORTED.into()), None));

        // Two instances record the same new pair at the same moment: exactly one changes the row.
        for (round, hss) in ["356938035643809", "35209900176148", "356938035643809"].into_iter().enumerate() {
            let (a, b) = tokio::join!(
                one.device_imei_checked("ep-a", REPORTED, Some(hss)),
                two.device_imei_checked("ep-a", REPORTED, Some(hss)),
            );
            let changed = [a.unwrap(), b.unwrap()];
            assert_eq!(changed.iter().filter(|c| **c).count(), 1, "round {round}: {changed:?}");
            assert_eq!(stored().await, (Some(REPORTED.into()), Some(hss.into())));
        }

        // No row: nothing to change.
        assert!(!one.device_imei_checked("nobody", REPORTED, Some("356938035643809")).await.unwrap());
    })
    .await;
}
