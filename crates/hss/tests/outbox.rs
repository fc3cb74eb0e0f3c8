//! CLR/IDR through the outbox when the serving MME is not connected at the moment of the change: the
//! notification waits and is sent when the MME connects again; when no instance reaches the MME in
//! time it is given up with a `hss.notification_expired` event, and never sent afterwards.

mod common;

use std::time::Duration;

use cmp::Actor;
use diameter::avp;
use diameter::result_code as rc;
use store::model::SimStatus;
use tokio::time::timeout;

use common::{mme, setup_with, ulr};
use testkit::s6a::{ask, PLMN_00101};

const WHO: &str = "001010000000002";

/// Registers `WHO` at mme1, then closes mme1's connection.
async fn registered_then_gone(s: &common::Setup) {
    let (mme1, _) = mme(s.addr, "mme1.home.example").await.unwrap();
    assert_eq!(ask(&mme1, ulr("mme1.home.example", WHO, PLMN_00101, None)).await.result_code(), Some(rc::SUCCESS));
    mme1.disconnect(0).await;
    for _ in 0..100 {
        if s.hss.store().instances().await.unwrap().iter().all(|i| i.peers.is_empty()) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the HSS still records mme1 as reachable");
}

async fn suspend(s: &common::Setup) {
    let imsi = WHO.parse().unwrap();
    cmp::sims::change_status(s.hss.store(), s.hss.as_ref(), &Actor::cli(), &imsi, SimStatus::Suspended).await.unwrap();
}

#[tokio::test]
async fn a_clr_waits_for_the_mme_to_connect_again() {
    let s = setup_with(|_| {}).await;
    registered_then_gone(&s).await;
    suspend(&s).await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(s.hss.store().pending_notifications().await.unwrap(), 1, "kept while nobody reaches mme1");
    let (_back, mut inbox) = mme(s.addr, "mme1.home.example").await.unwrap();
    let clr = timeout(Duration::from_secs(5), inbox.recv()).await.expect("CLR once mme1 is back").unwrap();
    assert_eq!((clr.abbrev(), clr.get_str(avp::USER_NAME)), (Some("CLR"), Some(WHO)));
    for _ in 0..100 {
        if s.hss.store().pending_notifications().await.unwrap() == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the delivered CLR is still in the outbox");
}

#[tokio::test]
async fn a_clr_nobody_can_send_expires_with_an_event() {
    let s = setup_with(|c| c.diameter.notification_expiry_secs = 0).await;
    registered_then_gone(&s).await;
    suspend(&s).await;
    let imsi = WHO.parse().unwrap();
    let mut expired = None;
    for _ in 0..300 {
        let events = s.hss.store().events(&imsi).await.unwrap();
        if let Some((_, detail)) = events.into_iter().find(|(k, _)| k == "hss.notification_expired") {
            expired = Some(detail);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let detail = expired.expect("hss.notification_expired within 15 s");
    assert!(detail.contains("CLR to mme1.home.example"), "{detail}");
    assert_eq!(s.hss.store().pending_notifications().await.unwrap(), 0);
    let (_back, mut inbox) = mme(s.addr, "mme1.home.example").await.unwrap();
    assert!(timeout(Duration::from_secs(1), inbox.recv()).await.is_err(), "an expired CLR is never sent");
}
