//! The SMS router over the store (SUB-3) on both backends: the sender is found by IMSI or, for SMPP,
//! by MSISDN; its effective list is its profile's and its own; a barred message is an
//! `sms.mo_barred` event in its tenant's feed, an admitted one reaches the forwarder.

use std::sync::{Arc, Mutex};

use cmp::fdl::StoreSubscribers;
use cmp::Actor;
use serde_json::json;
use sms::{BoxFuture, MoForwarder, MoHandler, MoMessage, MoVerdict, Router, Via};
use store::access::Scope;
use store::events::EventFilter;
use store::model::Priority;
use store::traffic::OverrideMode;
use testkit::on_every_backend;
use testkit::provision::{profile, profiles, sim, sims};

struct Forwarded(Mutex<Vec<String>>);

impl MoForwarder for Forwarded {
    fn forward<'a>(&'a self, m: &'a MoMessage) -> BoxFuture<'a, MoVerdict> {
        self.0.lock().unwrap().push(m.destination.clone());
        Box::pin(async { MoVerdict::Accepted })
    }
}

fn mo(imsi: Option<&str>, msisdn: Option<&str>, dest: &str) -> MoMessage {
    MoMessage {
        imsi: imsi.map(|i| i.parse().unwrap()),
        msisdn: msisdn.map(str::to_string),
        destination: dest.into(),
        pid: 0,
        dcs: 4,
        udhi: false,
        user_data: b"hi".to_vec(),
        via: Via::Smpp,
    }
}

#[tokio::test]
async fn the_router_screens_with_the_store() {
    on_every_backend(|store, _| async move {
        profiles(&store, &[profile(json!({"name": "m", "services": ["sms"], "fixed_dialling": ["+4917*"]}))]).await;
        let mut tx = store.begin().await.unwrap();
        tx.create_tenant("acme").await.unwrap();
        tx.commit().await.unwrap();
        sims(&store, &[sim("001010000000001", Some("m"), Priority::Standard, "acme")]).await;
        let fwd = Arc::new(Forwarded(Mutex::default()));
        let router = Router::new(Arc::new(StoreSubscribers(store.clone())), Some("+4911")).with_forwarder(fwd.clone());

        assert_eq!(router.received(&mo(Some("001010000000001"), None, "+491711")).await, MoVerdict::Accepted);
        assert_eq!(
            router.received(&mo(None, Some("+491701234567"), "+491722")).await,
            MoVerdict::Accepted,
            "by MSISDN"
        );
        let barred = router.received(&mo(None, Some("491701234567"), "+33612")).await;
        assert!(matches!(barred, MoVerdict::Barred { .. }), "{barred:?}");
        let unknown = router.received(&mo(None, Some("4999"), "+491711")).await;
        assert!(matches!(unknown, MoVerdict::Failed { retry: false, .. }), "{unknown:?}");
        assert_eq!(*fwd.0.lock().unwrap(), ["+491711", "+491722"]);

        let filter = EventFilter { kind: Some("sms.mo_barred".into()), imsi: None };
        let acme = Scope::Tenant("acme".into());
        let events = store.list_events(&acme, &filter, 0, 10).await.unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].imsi.as_deref(), Some("001010000000001"));
        assert!(events[0].detail.contains("+33612"), "{}", events[0].detail);

        // The SIM's own list replaces the profile's.
        let imsi = "001010000000001".parse().unwrap();
        cmp::fdl::put(&store, &Actor::cli(), &imsi, OverrideMode::Replace, &["+33*".into()]).await.unwrap();
        assert_eq!(router.received(&mo(Some("001010000000001"), None, "+33612")).await, MoVerdict::Accepted);
        assert!(matches!(
            router.received(&mo(Some("001010000000001"), None, "+491711")).await,
            MoVerdict::Barred { .. }
        ));
        let bad = cmp::fdl::put(&store, &Actor::cli(), &imsi, OverrideMode::Extend, &["+33 6".into()]).await;
        assert!(matches!(bad, Err(cmp::Error::Invalid(ref e)) if e.contains("[0]")), "{bad:?}");
    })
    .await;
}
