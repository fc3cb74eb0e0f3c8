//! Changes the PCRF was not told of (the change feed reconnected or fell behind): `recheck_all`
//! reads every SIM with a session again and pushes by RAR only where the rules changed; a SIM whose
//! policy did not change keeps its DNS-resolved rules.

mod common;

use std::time::Duration;

use cmp::Actor;
use common::*;
use diameter::result_code as rc;
use diameter::Command;
use testkit::provision::profile;

#[tokio::test]
async fn missed_changes_are_found_by_reading_every_sim_with_a_session_again() {
    let s = setup().await;
    let (addr, _stop) = serve_pcrf(s.pcrf.clone()).await;
    let mut link = connect_pgw(addr, PGW, 1).await;
    let a = link.ask(ccr_i(PGW, "pgw1;live", LOW, [10, 45, 0, 9])).await;
    assert_eq!(a.result_code(), Some(rc::SUCCESS));
    // A DNS-resolved host rule, pushed by RAR.
    s.pcrf.allow_resolved(&imsi(LOW), NAME, &[ip("192.0.2.99")], Duration::from_secs(600));
    assert!(link.next(Duration::from_secs(2)).await.is_some(), "RAR with the resolved host");
    s.pcrf.settle().await;

    // Nothing changed: nothing pushed, the resolved host stays.
    s.pcrf.recheck_all().await;
    s.pcrf.settle().await;
    assert!(link.next(Duration::from_millis(300)).await.is_none(), "no RAR when nothing changed");

    // The profile's allowlist is edited where the PCRF does not hear of it (another instance whose
    // announcement was missed).
    let meter = profile(serde_json::json!({
        "name": "meter", "services": ["data"], "ambr_ul": 64000, "ambr_dl": 128000,
        "allow_prefixes": ["198.51.100.0/24"], "allow_domains": ["api.acme.example"],
        "quarantine_prefixes": [MGMT],
        "apn": [{"name": "meters.example", "qci": 7, "ambr_ul": 32000, "ambr_dl": 96000}]
    }));
    cmp::catalogue::put_profiles(&s.temp.store, &Actor::cli(), &[meter], "test").await.unwrap();
    s.pcrf.settle().await;
    assert!(link.next(Duration::from_millis(300)).await.is_none(), "not told: nothing yet");
    s.pcrf.recheck_all().await;
    let rar = link.next(Duration::from_secs(2)).await.expect("RAR after the recheck");
    assert_eq!(rar.command(), Some(Command::RAR));
    assert_eq!(rar.session_id(), Some("pgw1;live"));
    let gone = removed(&rar);
    assert!(gone.iter().any(|n| n.starts_with("warden-allow-")), "the prefix that went is removed: {gone:?}");
    s.pcrf.settle().await;
    while link.next(Duration::from_millis(300)).await.is_some() {}
    // Read again once more: now nothing to do.
    s.pcrf.recheck_all().await;
    s.pcrf.settle().await;
    assert!(link.next(Duration::from_millis(300)).await.is_none());

    // A SIM suspended behind the PCRF's back loses its session at the next recheck.
    s.temp.store.set_status(&imsi(LOW), store::model::SimStatus::Suspended).await.unwrap();
    s.pcrf.recheck_all().await;
    let m = link.next(Duration::from_secs(2)).await.expect("release after the recheck");
    assert!(matches!(m.command(), Some(Command::RAR | Command::ASR)));
}
