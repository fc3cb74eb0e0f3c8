//! What feeds the tenants' signalling rules (issue #12): a User-Name that is not an IMSI is refused
//! before any per-IMSI state exists.

mod common;

use diameter::avp;
use diameter::result_code as rc;
use diameter::Message;
use testkit::s6a::{ask, Node, PLMN_00101};

use common::{mme, setup, REALM, STANDARD};

fn air(host: &'static str, imsi: &str, i: usize) -> Message {
    testkit::s6a::air(Node::new(host, REALM), REALM, imsi, PLMN_00101, 1, &format!("air-{i}"))
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
    // An IMSI is counted.
    assert_eq!(ask(&mme1, air("mme1.home.example", STANDARD, 0)).await.result_code(), Some(rc::SUCCESS));
    assert_eq!(s.hss.signalling().len(), 1);
}
