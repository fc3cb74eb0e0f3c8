//! Who a Diameter peer may speak for and ask about (issue #12): every live connection of an identity
//! can carry CLR/IDR, whichever of them closes.

mod common;

use std::time::Duration;

use cmp::Actor;
use diameter::avp;
use diameter::result_code as rc;
use store::model::SimStatus;
use testkit::s6a::{ask, connect_mme, Node, PLMN_00101};
use tokio::time::timeout;

use common::{setup, ulr, REALM, STANDARD};

const WAIT: Duration = Duration::from_secs(5);

async fn suspend(s: &common::Setup, imsi: &str) {
    let imsi = imsi.parse().unwrap();
    cmp::sims::change_status(s.hss.store(), s.hss.as_ref(), &Actor::cli(), &imsi, SimStatus::Suspended).await.unwrap();
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
