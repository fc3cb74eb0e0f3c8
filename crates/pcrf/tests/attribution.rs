//! Which SIM a UE address belongs to, as the DNS firewall asks: two APNs (or two tenants' private
//! pools) may hand the same address to different SIMs, and then the address names no SIM — until
//! one of the sessions ends, when the other is found again. `apn` restricts the question to one
//! APN's sessions.

mod common;

use common::*;
use diameter::result_code as rc;
use diameter::{avp, Message};
use pcrf::AddressUser;

/// A CCR-Initial as [`ccr_i`] makes it, on APN `apn`.
fn ccr_i_on(pgw: &str, session: &str, imsi: &str, ip: [u8; 4], apn: &str) -> Message {
    let mut m = ccr_i(pgw, session, imsi, ip);
    m.avps.retain(|a| !a.is(avp::CALLED_STATION_ID));
    m.add(avp::CALLED_STATION_ID, apn);
    m
}

fn user(a: &AddressUser) -> String {
    match a {
        AddressUser::Nobody => "nobody".into(),
        AddressUser::Sim(asker) => format!("{} of {}", asker.imsi, asker.tenant),
        AddressUser::Ambiguous(n) => format!("{n} SIMs"),
    }
}

#[tokio::test]
async fn an_address_two_sims_hold_names_neither_until_one_session_ends() {
    let s = setup().await;
    let a = s.pcrf.answer(ccr_i_on(PGW, "pgw1;m", METER, [10, 45, 0, 1], "meters.example"), PGW).await;
    assert_eq!(a.result_code(), Some(rc::SUCCESS));
    assert_eq!(s.pcrf.lookup_ip(ip("10.45.0.1")).unwrap().imsi.as_str(), METER);
    // Another APN's pool hands the same address to another SIM.
    let a = s.pcrf.answer(ccr_i_on(PGW, "pgw1;p", PHONE, [10, 45, 0, 1], "phones.example"), PGW).await;
    assert_eq!(a.result_code(), Some(rc::SUCCESS));
    assert_eq!(user(&s.pcrf.lookup_address(ip("10.45.0.1"), None)), "2 SIMs");
    assert!(s.pcrf.lookup_ip(ip("10.45.0.1")).is_none(), "no guess: neither SIM");
    // Asked for one APN, each SIM is found.
    assert_eq!(user(&s.pcrf.lookup_address(ip("10.45.0.1"), Some("METERS.example"))), format!("{METER} of acme"));
    assert_eq!(user(&s.pcrf.lookup_address(ip("10.45.0.1"), Some("phones.example"))), format!("{PHONE} of acme"));
    assert_eq!(user(&s.pcrf.lookup_address(ip("10.45.0.1"), Some("other.example"))), "nobody");
    // The phone's session ends: the meter still holds the address.
    assert_eq!(s.pcrf.answer(ccr(PGW, "pgw1;p", 3, 1), PGW).await.result_code(), Some(rc::SUCCESS));
    assert_eq!(s.pcrf.lookup_ip(ip("10.45.0.1")).unwrap().imsi.as_str(), METER);
    // And the other way round.
    let a = s.pcrf.answer(ccr_i_on(PGW, "pgw1;p2", PHONE, [10, 45, 0, 1], "phones.example"), PGW).await;
    assert_eq!(a.result_code(), Some(rc::SUCCESS));
    assert!(s.pcrf.lookup_ip(ip("10.45.0.1")).is_none());
    assert_eq!(s.pcrf.answer(ccr(PGW, "pgw1;m", 3, 1), PGW).await.result_code(), Some(rc::SUCCESS));
    assert_eq!(s.pcrf.lookup_ip(ip("10.45.0.1")).unwrap().imsi.as_str(), PHONE);
}

#[tokio::test]
async fn stored_sessions_sharing_an_address_stay_ambiguous_after_a_restart() {
    let s = setup().await;
    for (id, sim, apn) in [("pgw1;m", METER, "meters.example"), ("pgw1;p", PHONE, "phones.example")] {
        let a = s.pcrf.answer(ccr_i_on(PGW, id, sim, [10, 45, 0, 1], apn), PGW).await;
        assert_eq!(a.result_code(), Some(rc::SUCCESS));
    }
    s.pcrf.settle().await;
    let again = pcrf::Pcrf::new(fast(), s.temp.store.clone(), PCRF, REALM, home_only()).await.unwrap();
    assert_eq!(user(&again.lookup_address(ip("10.45.0.1"), None)), "2 SIMs");
    assert_eq!(user(&again.lookup_address(ip("10.45.0.1"), Some("phones.example"))), format!("{PHONE} of acme"));
}
