//! A slow subscriber store does not hold up the proxy: set-ups of subscribers not in memory are
//! parked while their view loads, the receive path goes on with everyone else's messages, the
//! parked ones are screened once the view is there (relayed byte-identical, or refused with the
//! rule's Cause), and a load that takes longer than `lookup_timeout_ms` is refused with "No
//! resources available" (`lookup-timeout`).

mod common;

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use firewall::Action;
use gtpc::v2::values::cause;
use gtpc::v2::Message;
use gtpc::Plmn;
use gtpfw::{Gtp, GtpConfig, RegistrationLookup, Rule, SubscriberCache};
use tokio::net::UdpSocket;

const SLOW: &str = "001010000000001"; // registered in 262 01, its view takes 800 ms to read
const FAST: &str = "001010000000002"; // registered in 262 01, read at once
const UNREGISTERED: &str = "001010000000003"; // registered nowhere, 300 ms to read
const STUCK: &str = "001010000000004"; // its read never returns

/// A store whose reads sleep: what it has read is in memory; the lookups answer only from memory.
#[derive(Default)]
struct SleepyStore {
    held: Arc<Mutex<HashSet<String>>>,
    loads: Mutex<HashMap<String, usize>>,
    calls_not_in_memory: AtomicUsize,
}

impl SubscriberCache for SleepyStore {
    fn cached(&self, imsi: &str) -> bool {
        self.held.lock().unwrap().contains(imsi)
    }
    fn load(&self, imsi: &str) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>> {
        *self.loads.lock().unwrap().entry(imsi.to_owned()).or_default() += 1;
        let delay = match imsi {
            SLOW => Duration::from_millis(800),
            UNREGISTERED => Duration::from_millis(300),
            STUCK => Duration::from_secs(3600),
            _ => Duration::ZERO,
        };
        let (imsi, held) = (imsi.to_owned(), self.held.clone());
        Box::pin(async move {
            tokio::time::sleep(delay).await;
            held.lock().unwrap().insert(imsi);
        })
    }
}

impl RegistrationLookup for SleepyStore {
    fn registration(&self, imsi: &str) -> Option<(Plmn, SystemTime)> {
        if !self.cached(imsi) {
            self.calls_not_in_memory.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        (imsi != UNREGISTERED).then(|| (Plmn::new("262", "01").unwrap(), SystemTime::UNIX_EPOCH))
    }
}

async fn recv(s: &UdpSocket, wait_ms: u64) -> Option<(Vec<u8>, SocketAddr)> {
    let mut buf = vec![0u8; 65535];
    match tokio::time::timeout(Duration::from_millis(wait_ms), s.recv_from(&mut buf)).await {
        Ok(Ok((n, from))) => Some((buf[..n].to_vec(), from)),
        _ => None,
    }
}

fn cause_of(b: &[u8]) -> (u32, u8) {
    let m = Message::decode(b).unwrap();
    (m.header.sequence, m.cause().unwrap().unwrap().value)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_store_read_holds_up_only_its_own_subscriber() {
    let store = Arc::new(SleepyStore::default());
    let pgw = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let config = GtpConfig::from_toml(&format!(
        "listen = \"127.0.0.1:0\"\nupstream = \"{}\"\nlookup_timeout_ms = 1500\n[home]\nimsi_prefixes = [\"00101\"]\n\
         [[partners]]\nname = \"visited\"\naddresses = [\"127.0.0.2\"]\nplmns = [\"26201\"]\n",
        pgw.local_addr().unwrap()
    ))
    .unwrap();
    let gtp = Gtp::new(config).unwrap();
    gtp.engine().set_subscriber_cache(store.clone());
    gtp.engine().set_registration_lookup(store.clone());
    let (proxy, stop, run) = common::start_proxy(&gtp).await;
    let visited = UdpSocket::bind("127.0.0.2:0").await.unwrap();

    let slow = common::csr(SLOW, ("262", "01"), 1, 0x11);
    let fast = common::csr(FAST, ("262", "01"), 2, 0x22);
    let unregistered = common::csr(UNREGISTERED, ("262", "01"), 3, 0x33);
    let stuck = common::csr(STUCK, ("262", "01"), 4, 0x44);
    let started = Instant::now();
    for m in [&slow, &stuck, &unregistered] {
        visited.send_to(m, proxy).await.unwrap();
    }
    // The S-GW retransmits the slow one (same sequence number) while it waits: one read only.
    visited.send_to(&slow, proxy).await.unwrap();
    visited.send_to(&fast, proxy).await.unwrap();

    // The other subscriber's set-up reaches the P-GW at once, ahead of the parked ones.
    let (got, _) = recv(&pgw, 2000).await.expect("the fast subscriber's set-up relayed");
    let fast_after = started.elapsed();
    assert_eq!(got, fast, "the first datagram at the P-GW is the fast subscriber's");
    assert!(fast_after < Duration::from_millis(400), "held up by another subscriber's read: {fast_after:?}");

    // The subscriber registered nowhere: refused as not registered once its view is read (300 ms).
    let (got, _) = recv(&visited, 2000).await.expect("the unregistered subscriber refused");
    assert_eq!(cause_of(&got), (3, cause::USER_AUTHENTICATION_FAILED));
    assert!(started.elapsed() >= Duration::from_millis(300));

    // The slow one (and its retransmission) relayed byte-identical after its read (800 ms).
    for _ in 0..2 {
        let (got, _) = recv(&pgw, 2000).await.expect("the slow subscriber's set-up relayed after its read");
        assert_eq!(got, slow);
        assert!(started.elapsed() >= Duration::from_millis(800));
    }

    // The stuck read: "No resources available" after lookup_timeout_ms.
    let (got, _) = recv(&visited, 3000).await.expect("the stuck subscriber refused on timeout");
    assert_eq!(cause_of(&got), (4, cause::NO_RESOURCES_AVAILABLE));
    assert!(started.elapsed() >= Duration::from_millis(1500));
    assert!(recv(&pgw, 200).await.is_none(), "nothing else reached the P-GW");

    let loads = store.loads.lock().unwrap().clone();
    assert_eq!(loads.get(SLOW), Some(&1), "one read per subscriber: {loads:?}");
    assert_eq!(loads.len(), 4, "every subscriber read once: {loads:?}");
    let obs = &gtp.engine().observer;
    assert_eq!(obs.count("visited", Rule::LookupTimeout, Action::Blocked), 1);
    assert_eq!(obs.count("visited", Rule::NotRegistered, Action::Blocked), 1);
    assert_eq!(obs.count("visited", Rule::Relay, Action::Passed), 3);
    // A subscriber now in memory is screened at once, without a read.
    visited.send_to(&common::csr(SLOW, ("262", "01"), 5, 0x11), proxy).await.unwrap();
    let t = Instant::now();
    recv(&pgw, 2000).await.expect("relayed");
    assert!(t.elapsed() < Duration::from_millis(400));
    assert_eq!(store.loads.lock().unwrap().get(SLOW), Some(&1));
    // No set-up was screened with its subscriber not in memory (the stuck one was refused by the
    // timeout rule, not as unregistered).
    assert_eq!(store.calls_not_in_memory.load(Ordering::Relaxed), 0);
    stop.cancel();
    run.await.unwrap();
}
