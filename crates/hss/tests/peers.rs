//! Who a Diameter peer may speak for and ask about (issue #12): a connection speaks for the node it
//! identified as in CER, unless it is a configured relay (then the Route-Record path decides); every
//! live connection of an identity can carry CLR/IDR, whichever of them closes; and S13 answers a peer
//! about an IMSI outside its ranges as if no IMSI had been given.

mod common;

use std::time::Duration;

use cmp::Actor;
use diameter::avp;
use diameter::result_code as rc;
use diameter::{Avp, Command, Message};
use store::model::SimStatus;
use testkit::s6a::{ask, connect_mme, Node, PLMN_00101};
use tokio::time::timeout;

use common::{base, mme, rule, setup, setup_with, ulr, IMSI, REALM, STANDARD, STOLEN_IMEI};

const WAIT: Duration = Duration::from_secs(5);

async fn serving_host(s: &common::Setup, imsi: &str) -> Option<String> {
    let sim = s.hss.store().sim(&imsi.parse().unwrap()).await.unwrap().unwrap();
    sim.serving.map(|n| n.origin_host)
}

async fn suspend(s: &common::Setup, imsi: &str) {
    let imsi = imsi.parse().unwrap();
    cmp::sims::change_status(s.hss.store(), s.hss.as_ref(), &Actor::cli(), &imsi, SimStatus::Suspended).await.unwrap();
}

#[tokio::test]
async fn a_peer_cannot_speak_for_another_node() {
    let s = setup().await;
    let (mme1, _) = mme(s.addr, "mme1.home.example").await.unwrap();
    let (mme2, _) = mme(s.addr, "mme2.home.example").await.unwrap();
    assert_eq!(ask(&mme1, ulr("mme1.home.example", STANDARD, PLMN_00101, None)).await.result_code(), Some(rc::SUCCESS));
    // MME2 purges with MME1's Origin-Host (and a Route-Record naming it: only relays' count).
    let mut pur = base(Command::PUR, "mme1.home.example", STANDARD);
    pur.add(avp::ROUTE_RECORD, "mme1.home.example");
    let a = ask(&mme2, pur).await;
    assert_eq!(a.result_code(), Some(rc::UNABLE_TO_COMPLY), "spoofed Origin-Host refused");
    assert!(a.get_str(avp::ERROR_MESSAGE).is_some_and(|m| m.contains("Origin-Host")), "{a:?}");
    assert!(a.get(avp::PUA_FLAGS).is_none());
    assert_eq!(serving_host(&s, STANDARD).await.as_deref(), Some("mme1.home.example"), "registration kept");
    // Nor may it register or take vectors in MME1's name.
    let a = ask(&mme2, ulr("mme1.home.example", STANDARD, PLMN_00101, None)).await;
    assert_eq!(a.result_code(), Some(rc::UNABLE_TO_COMPLY));
    let a =
        ask(&mme2, testkit::s6a::air(Node::new("mme1.home.example", REALM), REALM, STANDARD, PLMN_00101, 1, "x")).await;
    assert_eq!(a.result_code(), Some(rc::UNABLE_TO_COMPLY));
    assert!(a.get(avp::AUTHENTICATION_INFO).is_none());
    // The Origin-Host is compared without regard to case (DiameterIdentity is a FQDN).
    let a = ask(&mme1, base(Command::PUR, "MME1.Home.Example", STANDARD)).await;
    assert_eq!((a.result_code(), a.get_u32(avp::PUA_FLAGS)), (Some(rc::SUCCESS), Some(1)));
    assert_eq!(s.hss.refusals().of("mme2.home.example").origin_host, 3);
}

/// A request as a relay forwards it: Origin-Host of the node behind the relay, and the Route-Record
/// path (RFC 6733 §6.1.9: each relay appends the identity of the peer it got the request from).
fn relayed(mut m: Message, route: &[&str]) -> Message {
    for r in route {
        m.add(avp::ROUTE_RECORD, *r);
    }
    m
}

fn from_alpha(cmd: Command, host: &str, imsi: &str) -> Message {
    let node = Node::new(host, "alpha.example");
    match cmd {
        Command::ULR => testkit::s6a::ulr(node, REALM, imsi, PLMN_00101, None, "relayed"),
        _ => testkit::s6a::request(cmd, node, REALM, imsi, "relayed"),
    }
}

#[tokio::test]
async fn a_configured_relay_speaks_for_the_node_its_route_record_names() {
    let s = setup_with(|c| {
        c.diameter.peers.push(rule("fw.home.example"));
        c.diameter.relays = vec!["FW.home.example".into()];
    })
    .await;
    let fw = connect_mme(s.addr, Node::new("fw.home.example", REALM), 16).await.unwrap();
    let mut fw_inbox = fw.inbox;
    let fw = fw.peer;
    let alpha = "mme1.alpha.example";
    // Relayed from the node itself, or through the partner's agent in front of it.
    let a = ask(&fw, relayed(from_alpha(Command::ULR, alpha, STANDARD), &[alpha])).await;
    assert_eq!(a.result_code(), Some(rc::SUCCESS));
    assert_eq!(serving_host(&s, STANDARD).await.as_deref(), Some(alpha));
    let a = ask(&fw, relayed(from_alpha(Command::ULR, alpha, STANDARD), &[alpha, "dea.alpha.example"])).await;
    assert_eq!(a.result_code(), Some(rc::SUCCESS));
    // Not relayed (no Route-Record), or a path that does not start at the Origin-Host: refused.
    for route in [&[][..], &["mme9.alpha.example"], &["dea.alpha.example", alpha]] {
        let a = ask(&fw, relayed(from_alpha(Command::PUR, alpha, STANDARD), route)).await;
        assert_eq!(a.result_code(), Some(rc::UNABLE_TO_COMPLY), "{route:?}");
    }
    assert_eq!(serving_host(&s, STANDARD).await.as_deref(), Some(alpha), "nothing purged");
    assert_eq!(s.hss.refusals().of("fw.home.example").origin_host, 3);
    // The relay speaking for itself is a peer like any other.
    let a = ask(&fw, ulr("fw.home.example", IMSI, PLMN_00101, None)).await;
    assert_eq!(a.result_code(), Some(rc::SUCCESS));
    // The CLR to the node behind the relay goes back through the relay's connection.
    suspend(&s, STANDARD).await;
    let clr = timeout(WAIT, fw_inbox.recv()).await.expect("CLR through the relay").unwrap();
    assert_eq!(clr.abbrev(), Some("CLR"));
    assert_eq!((clr.get_str(avp::DESTINATION_HOST), clr.get_str(avp::USER_NAME)), (Some(alpha), Some(STANDARD)));
}

#[tokio::test]
async fn without_configured_relays_no_peer_speaks_for_another() {
    let s = setup().await;
    let (mme1, _) = mme(s.addr, "mme1.home.example").await.unwrap();
    let alpha = "mme1.alpha.example";
    let a = ask(&mme1, relayed(from_alpha(Command::ULR, alpha, STANDARD), &[alpha])).await;
    assert_eq!(a.result_code(), Some(rc::UNABLE_TO_COMPLY));
    assert_eq!(serving_host(&s, STANDARD).await, None);
}

#[tokio::test]
async fn a_second_connection_of_an_mme_closing_leaves_the_first_reachable() {
    let s = setup().await;
    let first = connect_mme(s.addr, Node::new("mme1.home.example", REALM), 16).await.unwrap();
    let mut inbox = first.inbox;
    assert_eq!(
        ask(&first.peer, ulr("mme1.home.example", STANDARD, PLMN_00101, None)).await.result_code(),
        Some(rc::SUCCESS)
    );
    let mut second = connect_mme(s.addr, Node::new("mme1.home.example", REALM), 16).await.unwrap();
    second.peer.disconnect(0).await;
    timeout(WAIT, second.closed.recv()).await.expect("second connection closed").unwrap();
    suspend(&s, STANDARD).await;
    let clr = timeout(WAIT, inbox.recv()).await.expect("CLR on the first, still open connection").unwrap();
    assert_eq!(clr.abbrev(), Some("CLR"));
    assert_eq!((clr.get_str(avp::USER_NAME), clr.get_u32(avp::CANCELLATION_TYPE)), (Some(STANDARD), Some(2)));
}

fn ecr(host: &str, imsi: &str, imei: &str) -> Message {
    let mut m = base(Command::ECR, host, imsi);
    m.push(Avp::grouped(avp::TERMINAL_INFORMATION, vec![Avp::new(avp::IMEI, imei)]));
    m
}

#[tokio::test]
async fn ecr_about_an_imsi_outside_the_peers_ranges_is_answered_from_the_imei_lists_alone() {
    let s = setup().await;
    let (partner, _) = mme(s.addr, "partner.example").await.unwrap();
    let (mme1, _) = mme(s.addr, "mme1.home.example").await.unwrap();
    // The partner may not ask about our IMSIs: the critical SIM's exemption is not revealed.
    let status = |a: Message| (a.result_code(), a.get_u32(avp::EQUIPMENT_STATUS));
    let blacklisted = (Some(rc::SUCCESS), Some(1));
    assert_eq!(status(ask(&partner, ecr("partner.example", IMSI, STOLEN_IMEI)).await), blacklisted);
    assert_eq!(status(ask(&partner, ecr("partner.example", STANDARD, STOLEN_IMEI)).await), blacklisted);
    assert_eq!(status(ask(&partner, ecr("partner.example", "", STOLEN_IMEI)).await), blacklisted);
    assert_eq!(s.hss.refusals().of("partner.example").imsi_range, 2);
    // A peer allowed for the range still gets the exemption (GREYLISTED).
    assert_eq!(status(ask(&mme1, ecr("mme1.home.example", IMSI, STOLEN_IMEI)).await), (Some(rc::SUCCESS), Some(2)));
}

#[tokio::test]
async fn ecr_about_an_imsi_outside_the_peers_ranges_writes_nothing_into_the_tenants_feed() {
    let s = setup().await;
    let (partner, _) = mme(s.addr, "partner.example").await.unwrap();
    for _ in 0..3 {
        ask(&partner, ecr("partner.example", IMSI, STOLEN_IMEI)).await;
    }
    let events = s.hss.store().events(&IMSI.parse().unwrap()).await.unwrap();
    assert!(events.iter().all(|(k, _)| !k.starts_with("eir.")), "{events:?}");
}

#[tokio::test]
async fn a_peer_uses_only_the_applications_it_is_configured_for() {
    let s = setup_with(|c| {
        let mut pcef = rule("pgw.home.example");
        pcef.applications = vec![hss::PeerApplication::Gx];
        c.diameter.peers.push(pcef);
    })
    .await;
    let (pgw, _) = mme(s.addr, "pgw.home.example").await.unwrap();
    let a = ask(&pgw, ulr("pgw.home.example", STANDARD, PLMN_00101, None)).await;
    assert_eq!(a.result_code(), Some(rc::APPLICATION_UNSUPPORTED), "{a:?}");
    assert!(a.get(avp::SUBSCRIPTION_DATA).is_none());
    assert_eq!(serving_host(&s, STANDARD).await, None, "nothing registered");
    assert_eq!(s.hss.refusals().of("pgw.home.example").application, 1);
    // An MME (the default applications) still registers.
    let (mme1, _) = mme(s.addr, "mme1.home.example").await.unwrap();
    assert_eq!(ask(&mme1, ulr("mme1.home.example", STANDARD, PLMN_00101, None)).await.result_code(), Some(rc::SUCCESS));
}

/// What the HSS is told of a SIM change it makes itself (through `cmp`, as the IMEI lock does) is
/// passed on to whoever else must know: the PCRF of the process.
#[tokio::test]
async fn sim_changes_the_hss_makes_are_passed_on() {
    #[derive(Default)]
    struct Told(std::sync::Mutex<Vec<String>>);
    impl cmp::HssNotifier for Told {
        fn status_changed(&self, before: &store::model::Sim, to: SimStatus) {
            self.0.lock().unwrap().push(format!("{} {to}", before.imsi));
        }
        fn profile_changed(&self, before: &store::model::Sim) {
            self.0.lock().unwrap().push(format!("{} profile", before.imsi));
        }
    }
    let s = setup().await;
    let told = std::sync::Arc::new(Told::default());
    s.hss.also_notify(told.clone());
    suspend(&s, STANDARD).await;
    assert_eq!(*told.0.lock().unwrap(), vec![format!("{STANDARD} suspended")]);
}
