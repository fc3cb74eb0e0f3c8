//! What feeds the tenants' signalling rules (issue #12): only AIR/ULR that passed peer authorisation
//! and name a provisioned SIM count per IMSI; refused ones count per peer, as a security signal; a
//! User-Name that is not an IMSI is refused before any per-IMSI state exists.

mod common;

use std::sync::Arc;

use cmp::rules::{Rule, RuleAction, RuleEngine, SignallingSource};
use cmp::Actor;
use diameter::avp;
use diameter::result_code as rc;
use diameter::Message;
use hss::Hss;
use store::model::SimStatus;
use testkit::s6a::{ask, Node, PLMN_00101};

use common::{mme, setup, LOW, REALM, STANDARD};

/// The HSS's counters as `warden serve` hands them to the rule engine.
struct Counts(Arc<Hss>);

impl SignallingSource for Counts {
    fn at_least(&self, min: u32) -> Vec<(String, i64, u32)> {
        self.0.signalling().at_least(min, store::now())
    }
}

fn air(host: &'static str, imsi: &str, i: usize) -> Message {
    testkit::s6a::air(Node::new(host, REALM), REALM, imsi, PLMN_00101, 1, &format!("air-{i}"))
}

async fn status(hss: &Hss, imsi: &str) -> SimStatus {
    hss.store().sim(&imsi.parse().unwrap()).await.unwrap().unwrap().status
}

#[tokio::test]
async fn requests_refused_by_peer_authorisation_feed_no_signalling_rule() {
    let s = setup().await;
    let store = s.hss.store();
    cmp::access::create_tenant(store, &Actor::cli(), "acme").await.unwrap();
    let loops = Rule::Signalling { max_per_hour: 20, imsis: vec![], action: RuleAction::Suspend };
    cmp::catalogue::create_rule(store, &Actor::cli(), Some("acme"), &loops).await.unwrap();
    let mut engine = RuleEngine::starting_now(store).await.unwrap();
    let counts = Counts(s.hss.clone());

    // A partner allowed only for 99999… asks 25 times about our standard SIM: 5003 each time.
    let (partner, _) = mme(s.addr, "partner.example").await.unwrap();
    for i in 0..25 {
        assert_eq!(
            ask(&partner, air("partner.example", STANDARD, i)).await.result_code(),
            Some(rc::AUTHORIZATION_REJECTED)
        );
    }
    engine.tick(store, s.hss.as_ref(), &counts).await.unwrap();
    assert_eq!(status(&s.hss, STANDARD).await, SimStatus::Active, "refused requests suspended the SIM");
    assert!(s.hss.signalling().at_least(1, store::now()).is_empty());
    // They are counted against the peer instead.
    let refused = s.hss.refusals().of("partner.example");
    assert_eq!((refused.imsi_range, refused.origin_host, refused.invalid_user_name), (25, 0, 0));
    assert_eq!(s.hss.refusals().of("mme1.home.example").imsi_range, 0);

    // The same rule still acts on what an authorised MME asks.
    let (mme1, _) = mme(s.addr, "mme1.home.example").await.unwrap();
    for i in 0..25 {
        assert_eq!(ask(&mme1, air("mme1.home.example", LOW, i)).await.result_code(), Some(rc::SUCCESS));
    }
    engine.tick(store, s.hss.as_ref(), &counts).await.unwrap();
    assert_eq!(status(&s.hss, LOW).await, SimStatus::Suspended, "an authorised loop is caught");
}

#[tokio::test]
async fn user_names_that_are_not_imsis_leave_no_per_imsi_state() {
    let s = setup().await;
    let (mme1, _) = mme(s.addr, "mme1.home.example").await.unwrap();
    let big = "9".repeat(40_000);
    for i in 0..300 {
        let name = match i % 5 {
            0 => format!("{big}{i}"),                  // far too long
            1 => format!("0010100000{i:06}"),          // 16 digits
            2 => format!("00{}", i % 10),              // 3 digits: too short
            3 => format!("00101000000{i:03}x"),        // not digits
            _ => format!("{}{i}", "é".repeat(20_000)), // not ASCII
        };
        let a = ask(&mme1, air("mme1.home.example", &name, i)).await;
        assert_eq!(a.result_code(), Some(rc::INVALID_AVP_VALUE), "{}", &name[..name.len().min(20)]);
        // Failed-AVP's content is opaque to the decoder: the User-Name comes back as bytes.
        let failed = a.get(avp::FAILED_AVP).and_then(|f| f.child(avp::USER_NAME)).and_then(diameter::Avp::as_bytes);
        assert!(failed == Some(name.as_bytes()), "Failed-AVP carries the User-Name");
    }
    assert_eq!(s.hss.signalling().len(), 0);
    assert!(s.hss.signalling().at_least(1, store::now()).is_empty());
    assert_eq!(s.hss.refusals().of("mme1.home.example").invalid_user_name, 300);
    // A well-formed IMSI of no SIM is 5001 and is not counted either; a provisioned one is.
    let a = ask(&mme1, air("mme1.home.example", "001019999999999", 0)).await;
    assert_eq!(a.result_code(), Some(rc::EXP_USER_UNKNOWN));
    assert_eq!(ask(&mme1, air("mme1.home.example", STANDARD, 0)).await.result_code(), Some(rc::SUCCESS));
    assert_eq!(s.hss.signalling().len(), 1);
}
