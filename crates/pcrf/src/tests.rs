//! Interleavings the integration tests cannot drive from outside: a policy change announced between
//! CCR-Initial's read of the policy and the session it opens (the two halves are called with the
//! change in between), and usage reports while the writer's queue is full.

use std::sync::atomic::Ordering;
use std::time::Duration;

use cmp::Actor;
use diameter::result_code as rc;
use diameter::Message;
use ids::Imsi;
use testkit::gx::Pgw;
use testkit::provision::{self, profile};
use testkit::TempStore;

use crate::{lock, Pcrf, PcrfConfig, MAX_PENDING_WRITES};

/// The integration tests' store, PCRF, Gx server, notifier and CCR builders, shared.
#[path = "../tests/common/mod.rs"]
mod common;

use common::{serve_pcrf, Notifier, PGW, REALM};

/// A meter of profile `meter` (not critical: it may be quarantined).
const IMSI: &str = common::LOW;
/// The first prefix of profile `meter`'s allowlist.
const ALLOWED: &str = common::METER_PREFIXES[0];
/// Its management platform's prefix.
const MGMT: &str = "10.9.0.0/16";

async fn setup() -> (TempStore, std::sync::Arc<Pcrf>) {
    let s = common::setup_with(PcrfConfig::default()).await;
    (s.temp, s.pcrf)
}

fn ccr(session: &str, kind: u32, number: u32) -> Message {
    common::ccr(PGW, session, kind, number)
}

fn ccr_i(session: &str, ip: [u8; 4]) -> Message {
    common::ccr_i(PGW, session, IMSI, ip)
}

fn ccr_u_usage(session: &str, number: u32, up: u64, down: u64) -> Message {
    common::ccr_u_usage(PGW, session, number, up, down)
}

/// True when the encoded message carries `text` (a Flow-Description's prefix).
fn carries(m: &Message, text: &str) -> bool {
    m.encode().windows(text.len()).any(|w| w == text.as_bytes())
}

/// CCR-I reads the policy; the SIM is quarantined (store edit, invalidation, push: no session yet)
/// before the read is cached and the session opened. The old read must not go back into the cache
/// (a later CCR-I would get the old rules), and the session opened on it must get the quarantine by
/// RAR (the quarantine's own push ran before it existed).
#[tokio::test]
async fn a_change_between_the_policy_read_and_the_session_reaches_it() {
    let (temp, pcrf) = setup().await;
    let (addr, _stop) = serve_pcrf(pcrf.clone()).await;
    let pgw = Pgw::connect_with_state(addr, PGW, REALM, REALM, 1).await.unwrap();
    let imsi: Imsi = IMSI.parse().unwrap();
    let old = pcrf.read_subscriber(&imsi).await.unwrap().unwrap();
    let notifier = Notifier(pcrf.clone());
    cmp::traffic::quarantine(&temp.store, &notifier, &Actor::cli(), &imsi, "test").await.unwrap();
    pcrf.settle().await;
    pcrf.remember(&imsi, &old);
    let cached = lock(&pcrf.cache).get(&imsi).map(|s| s.policy.traffic);
    assert_eq!(cached, Some(cmp::traffic::Access::Quarantined), "the old read did not overwrite the cache");
    let cca = pcrf.open(&ccr_i("pgw1;race", [10, 45, 0, 1]), PGW, imsi.clone(), &old);
    assert_eq!(cca.result_code(), Some(rc::SUCCESS));
    assert!(carries(&cca, ALLOWED), "answered with the policy as read");
    let rar = pgw.next_rar(Duration::from_secs(2)).await.expect("the session is brought to the quarantine");
    assert!(carries(&rar, MGMT), "the RAR installs the management platform");
    // A later CCR-I gets the quarantine: the old read did not overwrite the cache.
    let a = pcrf.answer(ccr_i("pgw1;later", [10, 45, 0, 2]), PGW).await;
    assert_eq!(a.result_code(), Some(rc::SUCCESS));
    assert!(carries(&a, MGMT) && !carries(&a, ALLOWED), "the later session has the quarantine");
    assert!(lock(&pcrf.cache).get(&imsi).is_some_and(|s| s.epoch == pcrf.epoch()));
}

/// A flood of usage reports from one SIM costs one writer change; with the writer's queue full the
/// reports are still summed (nothing handed to the writer), CCR-U is still answered, and nothing is
/// dropped; once there is room, one row with the whole sum is written.
#[tokio::test]
async fn usage_is_summed_per_sim_hour_and_respects_the_writer_bound() {
    let (temp, pcrf) = setup().await;
    assert_eq!(pcrf.answer(ccr_i("pgw1;u", [10, 45, 0, 1]), PGW).await.result_code(), Some(rc::SUCCESS));
    for n in 1..=1000 {
        let a = pcrf.answer(ccr_u_usage("pgw1;u", n, 10, 20), PGW).await;
        assert_eq!(a.result_code(), Some(rc::SUCCESS));
    }
    assert_eq!(lock(&pcrf.usage).len(), 1, "one SIM-hour held");
    // The writer's queue is full: CCR-I is refused, CCR-U is answered, usage stays summed in memory.
    pcrf.pending.fetch_add(MAX_PENDING_WRITES, Ordering::AcqRel);
    assert_eq!(pcrf.answer(ccr_i("pgw1;v", [10, 45, 0, 2]), PGW).await.result_code(), Some(rc::TOO_BUSY));
    for n in 1001..=1010 {
        assert_eq!(pcrf.answer(ccr_u_usage("pgw1;u", n, 10, 20), PGW).await.result_code(), Some(rc::SUCCESS));
    }
    pcrf.flush_usage(true);
    assert_eq!((lock(&pcrf.usage).len(), pcrf.counters().usage_rows), (1, 0), "nothing queued beyond the bound");
    pcrf.pending.fetch_sub(MAX_PENDING_WRITES, Ordering::AcqRel);
    pcrf.flush_usage(true);
    pcrf.settle().await;
    let c = pcrf.counters();
    assert_eq!((c.usage_rows, c.usage_dropped, c.sessions), (1, 0, 1));
    let usage = temp.store.usage_in(&store::access::Scope::Operator, &IMSI.parse().unwrap(), 0).await.unwrap();
    assert_eq!(usage.len(), 1);
    assert_eq!((usage[0].octets_up, usage[0].octets_down), (10_100, 20_200));
}

/// Profiles are cached for the policy generation they were read under: an edit announced with
/// `profile_changed` reaches the next CCR-I of a SIM of that profile (no session yet, so no push
/// refreshed anything), while before the announcement the cached profile is what answers.
#[tokio::test]
async fn an_announced_profile_edit_reaches_the_next_ccr_initial() {
    let (temp, pcrf) = setup().await;
    let imsi: Imsi = IMSI.parse().unwrap();
    let a = pcrf.answer(ccr_i("pgw1;one", [10, 45, 0, 1]), PGW).await;
    assert!(carries(&a, ALLOWED));
    pcrf.answer(ccr("pgw1;one", 3, 1), PGW).await;
    lock(&pcrf.cache).remove(&imsi);
    let edited = profile(serde_json::json!({
        "name": "meter", "services": ["data"], "allow_prefixes": ["203.0.113.0/24"],
        "quarantine_prefixes": [common::MGMT]
    }));
    provision::profiles(&temp.store, &[edited]).await;
    let b = pcrf.answer(ccr_i("pgw1;two", [10, 45, 0, 2]), PGW).await;
    assert!(carries(&b, ALLOWED), "not announced yet: the cached profile answers");
    pcrf.answer(ccr("pgw1;two", 3, 1), PGW).await;
    pcrf.profile_changed("meter");
    let c = pcrf.answer(ccr_i("pgw1;three", [10, 45, 0, 3]), PGW).await;
    assert_eq!(c.result_code(), Some(rc::SUCCESS));
    assert!(carries(&c, "203.0.113.0/24") && !carries(&c, ALLOWED), "the edited profile answers");
}
