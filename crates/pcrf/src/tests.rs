//! Interleavings the integration tests cannot drive from outside: a policy change announced between
//! CCR-Initial's read of the policy and the session it opens (the two halves are called with the
//! change in between), and usage reports while the writer's queue is full.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use cmp::Actor;
use diameter::dictionary::app;
use diameter::peer::{Application, PeerAuthorizer, PeerConfig, PeerIdentity};
use diameter::result_code as rc;
use diameter::transport::{serve, ConnectionLimits, ServerConfig};
use diameter::{avp, Avp, Command, Message};
use ids::Imsi;
use store::model::{Priority, Sim, SimStatus};
use testkit::gx::Pgw;
use testkit::provision::{self, profile};
use testkit::TempStore;

use crate::{lock, Pcrf, PcrfConfig, MAX_PENDING_WRITES};

const REALM: &str = "epc.example";
const PCRF: &str = "pcrf.epc.example";
const PGW: &str = "pgw1.epc.example";
const IMSI: &str = "001010000000001";
const ALLOWED: &str = "198.51.100.0/24";
const MGMT: &str = "10.9.0.0/16";

struct Notifier(Arc<Pcrf>);

impl cmp::HssNotifier for Notifier {
    fn status_changed(&self, before: &Sim, _to: SimStatus) {
        self.0.sim_changed(&before.imsi);
    }
    fn profile_changed(&self, before: &Sim) {
        self.0.sim_changed(&before.imsi);
    }
    fn policy_changed(&self, imsi: &Imsi) {
        self.0.policy_changed(imsi);
    }
}

async fn setup() -> (TempStore, Arc<Pcrf>) {
    let temp = TempStore::sqlite().await;
    let meter = profile(serde_json::json!({
        "name": "meter", "services": ["data"], "allow_prefixes": [ALLOWED],
        "quarantine_prefixes": [format!("{MGMT}:8443/tcp")]
    }));
    provision::profiles(&temp.store, &[meter]).await;
    provision::sims(&temp.store, &[provision::sim(IMSI, Some("meter"), Priority::Standard, "acme")]).await;
    let anyone: crate::MayQuery = Arc::new(|_: &str, _: &Imsi| true);
    let pcrf = Pcrf::new(PcrfConfig::default(), temp.store.clone(), PCRF, REALM, anyone).await.unwrap();
    (temp, pcrf)
}

async fn serve_gx(pcrf: Arc<Pcrf>) -> (SocketAddr, tokio_util::sync::CancellationToken) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = tokio_util::sync::CancellationToken::new();
    let allow: Arc<dyn PeerAuthorizer> = Arc::new(|_: &PeerIdentity| true);
    let server = ServerConfig {
        peer: PeerConfig::new(PCRF, REALM, vec![Application::GX]),
        authorizer: allow,
        limits: ConnectionLimits::default(),
        tls: None,
    };
    tokio::spawn(serve(listener, server, pcrf, stop.clone()));
    (addr, stop)
}

fn ccr(session: &str, kind: u32, number: u32) -> Message {
    let mut m = Message::request(Command::CCR);
    m.add(avp::SESSION_ID, session);
    m.add(avp::AUTH_APPLICATION_ID, app::GX);
    m.add(avp::ORIGIN_HOST, PGW);
    m.add(avp::ORIGIN_REALM, REALM);
    m.add(avp::DESTINATION_REALM, REALM);
    m.add(avp::CC_REQUEST_TYPE, kind);
    m.add(avp::CC_REQUEST_NUMBER, number);
    m
}

fn ccr_i(session: &str, ip: [u8; 4]) -> Message {
    let mut m = ccr(session, 1, 0);
    m.add(
        avp::SUBSCRIPTION_ID,
        vec![Avp::new(avp::SUBSCRIPTION_ID_TYPE, 1u32), Avp::new(avp::SUBSCRIPTION_ID_DATA, IMSI)],
    );
    m.add(avp::FRAMED_IP_ADDRESS, &ip);
    m.add(avp::CALLED_STATION_ID, "meters.example");
    m
}

fn ccr_u_usage(session: &str, number: u32, up: u64, down: u64) -> Message {
    let mut m = ccr(session, 2, number);
    m.add(
        avp::USAGE_MONITORING_INFORMATION,
        vec![
            Avp::new(avp::MONITORING_KEY, b"warden"),
            Avp::new(
                avp::USED_SERVICE_UNIT,
                vec![Avp::new(avp::CC_INPUT_OCTETS, up), Avp::new(avp::CC_OUTPUT_OCTETS, down)],
            ),
        ],
    );
    m
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
    let (addr, _stop) = serve_gx(pcrf.clone()).await;
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
        "quarantine_prefixes": [format!("{MGMT}:8443/tcp")]
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
