//! What sharding the engine's state could break: a tunnel created through one shard and acted on
//! later (the owner check, Delete Session, the P-GW's Delete Bearer found through the S-GW TEID
//! index that lives in another shard), a restart counter that drops a node's tunnels in every
//! shard, and the per-partner counts and budgets, which must stay exact when two threads screen at
//! once (each test fails if a count is lost or doubled under concurrency).

mod common;

use std::net::SocketAddr;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use common::{csr, csresp};
use firewall::{Action, Now};
use gtpc::v2::values::{cause, Cause};
use gtpc::v2::{Ie, Message, MessageType};
use gtpc::Plmn;
use gtpfw::{Engine, GtpConfig, RegistrationLookup, Rule, Rules, Verdict};

struct Anywhere;
impl RegistrationLookup for Anywhere {
    fn registration(&self, _: &str) -> Option<(Plmn, SystemTime)> {
        Some((Plmn::new("262", "01").unwrap(), SystemTime::UNIX_EPOCH))
    }
}

fn engine(partner: &str, top: &str) -> (Arc<Engine>, Instant) {
    let c = GtpConfig::from_toml(&format!(
        "{top}[home]\nimsi_prefixes = [\"00101\"]\n[overload]\ncapacity_per_sec = 100000000\n\
         [[partners]]\nname = \"visited\"\naddresses = [\"127.0.0.2\"]\nplmns = [\"26201\"]\n{partner}\n\
         [[partners]]\nname = \"other\"\naddresses = [\"127.0.0.3\"]\nplmns = [\"26201\"]\n"
    ))
    .unwrap();
    let t0 = Instant::now();
    let e = Engine::new(Rules::compile(&c).unwrap(), t0);
    e.set_registration_lookup(Arc::new(Anywhere));
    (Arc::new(e), t0)
}

fn at(t0: Instant, ms: u64) -> Now {
    Now { instant: t0 + Duration::from_millis(ms), wall: SystemTime::now() }
}

const VISITED: &str = "127.0.0.2:2123";
const VISITED_2: &str = "127.0.0.2:3386";
const OTHER: &str = "127.0.0.3:2123";

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn imsi(i: u32) -> String {
    format!("00101{i:010}")
}

fn request(t: MessageType, teid: u32, seq: u32) -> Vec<u8> {
    Message::builder(t).teid(teid).sequence(seq).ie(Ie::ebi(5)).build().unwrap().encode()
}

fn response(t: MessageType, teid: u32, seq: u32, c: u8) -> Vec<u8> {
    Message::builder(t).teid(teid).sequence(seq).ie(Ie::cause(&Cause::new(c))).build().unwrap().encode()
}

/// Sets up tunnel `pgw` (S-GW TEID `sgw`) for `imsi` from `node`, with sequence number `seq`.
fn set_up(e: &Engine, node: SocketAddr, imsi: &str, seq: u32, sgw: u32, pgw: u32, now: Now) -> Verdict {
    let v = e.uplink(node, &csr(imsi, ("262", "01"), seq, sgw), now).verdict;
    if v == Verdict::Relay(None) {
        assert_eq!(e.downlink(node, &csresp(seq, sgw, pgw), now).verdict, Verdict::Relay(None));
    }
    v
}

/// Deletes tunnel `pgw` of `node` (Delete Session Request and its accepted response).
fn delete(e: &Engine, node: SocketAddr, sgw: u32, pgw: u32, seq: u32, now: Now) {
    assert_eq!(
        e.uplink(node, &request(MessageType::DELETE_SESSION_REQUEST, pgw, seq), now).verdict,
        Verdict::Relay(None)
    );
    let resp = response(MessageType::DELETE_SESSION_RESPONSE, sgw, seq, cause::REQUEST_ACCEPTED);
    assert_eq!(e.downlink(node, &resp, now).verdict, Verdict::Relay(None));
}

/// Tunnels spread over every shard (TEIDs 1..=256, sequence numbers and S-GW TEIDs unrelated to
/// them): another partner's Modify Bearer and Delete Session are refused for each, the owner's pass,
/// and the owner's Delete Session removes each one.
#[test]
fn tunnels_in_every_shard_keep_their_owner() {
    let (e, t0) = engine("max_tunnels = 1000\nsetup_rate_per_sec = 100000\n", "");
    let (visited, other) = (addr(VISITED), addr(OTHER));
    for i in 1..=256u32 {
        let v = set_up(&e, visited, &imsi(i), 10_000 + i * 7, 0x5000 + i * 3, i, at(t0, 0));
        assert_eq!(v, Verdict::Relay(None));
    }
    assert_eq!(e.tunnel_count(), 256);
    for i in 1..=256u32 {
        let d = e.uplink(other, &request(MessageType::MODIFY_BEARER_REQUEST, i, 40_000 + i), at(t0, 1));
        assert_eq!(d.rule, Rule::ForeignTunnel, "tunnel {i}");
        let d = e.uplink(other, &request(MessageType::DELETE_SESSION_REQUEST, i, 50_000 + i), at(t0, 1));
        assert_eq!(d.rule, Rule::ForeignTunnel, "tunnel {i}");
        let d = e.uplink(visited, &request(MessageType::MODIFY_BEARER_REQUEST, i, 60_000 + i), at(t0, 2));
        assert_eq!(d.verdict, Verdict::Relay(None), "tunnel {i}");
        let resp = response(MessageType::MODIFY_BEARER_RESPONSE, 0x5000 + i * 3, 60_000 + i, cause::REQUEST_ACCEPTED);
        assert_eq!(e.downlink(visited, &resp, at(t0, 2)).verdict, Verdict::Relay(None));
    }
    assert_eq!(e.observer.count("other", Rule::ForeignTunnel, Action::Blocked), 512);
    assert_eq!(e.tunnel_count(), 256);
    for i in 1..=256u32 {
        assert_eq!(e.tunnel(i).unwrap().partner.as_ref(), "visited");
        delete(&e, visited, 0x5000 + i * 3, i, 70_000 + i, at(t0, 3));
        assert!(e.tunnel(i).is_none());
    }
    assert_eq!((e.tunnel_count(), e.pending_count()), (0, 0));
}

/// The P-GW's Delete Bearer Request names the S-GW's TEID: the tunnel is found through the index in
/// another shard than the tunnel's, for every one of many tunnels, and removed once the partner
/// accepts.
#[test]
fn delete_bearer_finds_tunnels_in_every_shard() {
    let (e, t0) = engine("max_tunnels = 1000\nsetup_rate_per_sec = 100000\n", "");
    let visited = addr(VISITED);
    for i in 1..=128u32 {
        set_up(&e, visited, &imsi(i), i, 0x9000 + i, 0x100 + i * 13, at(t0, 0));
    }
    for i in 1..=128u32 {
        let dbr = Message::builder(MessageType::DELETE_BEARER_REQUEST)
            .teid(0x9000 + i)
            .sequence(0x10_0000 + i)
            .ie(Ie::ebi(5))
            .build()
            .unwrap()
            .encode();
        assert_eq!(e.downlink(visited, &dbr, at(t0, 1)).verdict, Verdict::Relay(None));
        let resp =
            response(MessageType::DELETE_BEARER_RESPONSE, 0x100 + i * 13, 0x10_0000 + i, cause::REQUEST_ACCEPTED);
        assert_eq!(e.uplink(visited, &resp, at(t0, 1)).verdict, Verdict::Relay(None));
        assert!(e.tunnel(0x100 + i * 13).is_none(), "tunnel {i}");
    }
    assert_eq!(e.tunnel_count(), 0);
}

/// A node whose restart counter changes loses its tunnels in every shard, and only its own: the
/// partner's other node keeps its tunnels, and the partner's tunnel count (its cap) is exact after.
#[test]
fn a_restart_drops_the_nodes_tunnels_in_every_shard() {
    let (e, t0) = engine("max_tunnels = 200\nsetup_rate_per_sec = 100000\n", "");
    let (n1, n2) = (addr(VISITED), addr(VISITED_2));
    let echo = |seq, r| {
        Message::builder(MessageType::ECHO_REQUEST).sequence(seq).ie(Ie::recovery(r)).build().unwrap().encode()
    };
    e.uplink(n1, &echo(1, 4), at(t0, 0));
    e.uplink(n2, &echo(1, 9), at(t0, 0));
    for i in 0..100u32 {
        set_up(&e, n1, &imsi(i), 100 + i, 0x1000 + i, 1 + i, at(t0, 1));
        set_up(&e, n2, &imsi(1000 + i), 100 + i, 0x2000 + i, 1001 + i, at(t0, 1));
    }
    assert_eq!(e.tunnel_count(), 200);
    // The cap is reached.
    let d = e.uplink(n1, &csr(&imsi(5000), ("262", "01"), 999, 0x3000), at(t0, 2));
    assert_eq!(d.rule, Rule::TunnelCap);
    e.uplink(n1, &echo(2, 5), at(t0, 3));
    assert_eq!(e.tunnel_count(), 100);
    for i in 0..100u32 {
        assert!(e.tunnel(1 + i).is_none());
        assert_eq!(e.tunnel(1001 + i).map(|t| t.peer), Some(n2));
        let d = e.uplink(n1, &request(MessageType::MODIFY_BEARER_REQUEST, 1 + i, 3000 + i), at(t0, 4));
        assert_eq!(d.rule, Rule::ForeignTunnel, "tunnel {i}");
    }
    // Exactly 100 places are free again.
    for i in 0..100u32 {
        assert_eq!(set_up(&e, n1, &imsi(2000 + i), 5000 + i, 0x4000 + i, 3001 + i, at(t0, 5)), Verdict::Relay(None));
    }
    let d = e.uplink(n1, &csr(&imsi(5001), ("262", "01"), 6000, 0x5000), at(t0, 6));
    assert_eq!(d.rule, Rule::TunnelCap);
    // The same counter again changes nothing.
    e.uplink(n2, &echo(2, 9), at(t0, 7));
    assert_eq!(e.tunnel_count(), 200);
}

/// Rounds of each concurrent test: a race shows in some runs only (a mutant with a load-then-store
/// count failed in one run of three with one round).
const ROUNDS: usize = 4;

/// Runs `f(thread)` on two threads at once (started together), and waits for both.
fn on_two_threads(f: impl Fn(u32) + Send + Sync + 'static) {
    let f = Arc::new(f);
    let start = Arc::new(Barrier::new(2));
    let threads: Vec<_> = (0..2u32)
        .map(|k| {
            let (f, start) = (f.clone(), start.clone());
            thread::spawn(move || {
                start.wait();
                f(k);
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

/// Two threads set up tunnels at once up to the partner's cap, then delete them all at once: the
/// partner's count is exact after each (the cap refuses exactly the next set-up; after the deletes
/// exactly the cap's worth of set-ups passes again), and every decision was counted.
#[test]
fn tunnel_cap_is_exact_under_two_threads() {
    for _ in 0..ROUNDS {
        tunnel_cap_round();
    }
}

fn tunnel_cap_round() {
    const EACH: u32 = 2000;
    let (e, t0) = engine(
        &format!("max_tunnels = {}\nsetup_rate_per_sec = 100000000\n", 2 * EACH),
        "max_pending_per_partner = 1000000\n[budgets]\nimsi_setups_per_min = 1000000\n",
    );
    let now = at(t0, 0);
    let en = e.clone();
    on_two_threads(move |k| {
        let node = addr(if k == 0 { VISITED } else { VISITED_2 });
        for i in 0..EACH {
            let n = k * EACH + i;
            assert_eq!(set_up(&en, node, &imsi(n), n, 0x10_0000 + n, 0x20_0000 + n, now), Verdict::Relay(None));
        }
    });
    assert_eq!(e.tunnel_count(), (2 * EACH) as usize);
    let d = e.uplink(addr(VISITED), &csr(&imsi(90_000), ("262", "01"), 90_000, 1), now);
    assert_eq!(d.rule, Rule::TunnelCap);
    let en = e.clone();
    on_two_threads(move |k| {
        let node = addr(if k == 0 { VISITED } else { VISITED_2 });
        for i in 0..EACH {
            let n = k * EACH + i;
            delete(&en, node, 0x10_0000 + n, 0x20_0000 + n, 100_000 + n, now);
        }
    });
    assert_eq!((e.tunnel_count(), e.pending_count()), (0, 0));
    for n in 0..2 * EACH {
        let v = set_up(&e, addr(VISITED), &imsi(n), 200_000 + n, 0x30_0000 + n, 0x40_0000 + n, now);
        assert_eq!(v, Verdict::Relay(None), "set-up {n} of {}", 2 * EACH);
    }
    assert_eq!(e.uplink(addr(VISITED), &csr(&imsi(90_001), ("262", "01"), 90_001, 1), now).rule, Rule::TunnelCap);
    // Set-ups: 2 × EACH twice and the two refused; deletes: 2 × EACH (responses are not counted).
    let passed = e.observer.count("visited", Rule::Relay, Action::Passed);
    assert_eq!(passed, u64::from(2 * EACH * 3));
    assert_eq!(e.observer.count("visited", Rule::TunnelCap, Action::Blocked), 2);
}

/// An engine with these settings after two threads offered `each` Create Sessions at the same
/// instant, the `n`th of them of the subscriber `subscriber(n)`.
fn set_ups_on_two_threads(partner: &str, top: &str, each: u32, subscriber: fn(u32) -> String) -> Arc<Engine> {
    let (e, t0) = engine(partner, top);
    let now = at(t0, 0);
    let en = e.clone();
    on_two_threads(move |k| {
        for i in 0..each {
            let n = k * each + i;
            en.uplink(addr(VISITED), &csr(&subscriber(n), ("262", "01"), n, n), now);
        }
    });
    e
}

/// The partner's set-up budget, a subscriber's budget and the partner's maximum of waiting requests
/// hold exactly when two threads spend them at the same instant (no refill).
#[test]
fn budgets_and_pending_are_exact_under_two_threads() {
    for _ in 0..ROUNDS {
        budgets_and_pending_round();
    }
}

fn budgets_and_pending_round() {
    // The partner's budget: 3000 set-ups (a bucket created full, no time passes).
    let e = set_ups_on_two_threads(
        "setup_rate_per_sec = 3000\nmax_tunnels = 100000\n",
        "max_pending_per_partner = 1000000\n[budgets]\nimsi_setups_per_min = 1000000\n",
        4000,
        imsi,
    );
    assert_eq!(e.observer.count("visited", Rule::Relay, Action::Passed), 3000);
    assert_eq!(e.observer.count("visited", Rule::PartnerRate, Action::Blocked), 5000);
    assert_eq!(e.pending_count(), 3000);

    // One subscriber's budget: a burst of 1500.
    let e = set_ups_on_two_threads(
        "setup_rate_per_sec = 100000000\nmax_tunnels = 100000\n",
        "max_pending_per_partner = 1000000\n[budgets]\nimsi_setups_per_min = 1\nimsi_burst = 1500\n",
        3000,
        |_| imsi(7),
    );
    assert_eq!(e.observer.count("visited", Rule::Relay, Action::Passed), 1500);
    assert_eq!(e.observer.count("visited", Rule::ImsiRate, Action::Blocked), 4500);

    // Waiting requests: at most 2500 for the partner, from two of its nodes at once.
    let (e, t0) = engine("", "max_pending_per_partner = 2500\n");
    let now = at(t0, 0);
    let en = e.clone();
    on_two_threads(move |k| {
        let node = addr(if k == 0 { VISITED } else { VISITED_2 });
        for seq in 0..3000u32 {
            let echo = Message::builder(MessageType::ECHO_REQUEST).sequence(seq).build().unwrap().encode();
            en.uplink(node, &echo, now);
        }
    });
    assert_eq!(e.pending_count(), 2500);
    assert_eq!(e.observer.count("visited", Rule::Relay, Action::Passed), 2500);
    assert_eq!(e.observer.count("visited", Rule::PendingFull, Action::Dropped), 3500);
    // Their responses free exactly as many places (from both threads again).
    let en = e.clone();
    on_two_threads(move |k| {
        let node = addr(if k == 0 { VISITED } else { VISITED_2 });
        for seq in 0..3000u32 {
            let echo = Message::builder(MessageType::ECHO_RESPONSE)
                .sequence(seq)
                .ie(Ie::recovery(1))
                .build()
                .unwrap()
                .encode();
            en.downlink(node, &echo, now);
        }
    });
    assert_eq!(e.pending_count(), 0);
    for seq in 0..2500u32 {
        let echo = Message::builder(MessageType::ECHO_REQUEST).sequence(10_000 + seq).build().unwrap().encode();
        assert_eq!(e.uplink(addr(VISITED), &echo, now).verdict, Verdict::Relay(None), "request {seq}");
    }
    let echo = Message::builder(MessageType::ECHO_REQUEST).sequence(20_000).build().unwrap().encode();
    assert_eq!(e.uplink(addr(VISITED), &echo, now).rule, Rule::PendingFull);
}

/// At the partner's maximum of waiting requests, a retransmission (same node and sequence number)
/// still replaces its original, and the count stays exact.
#[test]
fn a_retransmission_at_the_maximum_replaces_its_original() {
    let (e, t0) = engine("", "max_pending_per_partner = 2\n");
    let echo = |seq| Message::builder(MessageType::ECHO_REQUEST).sequence(seq).build().unwrap().encode();
    let node = addr(VISITED);
    for seq in [1, 2, 2, 1, 2] {
        assert_eq!(e.uplink(node, &echo(seq), at(t0, 0)).verdict, Verdict::Relay(None), "sequence number {seq}");
    }
    assert_eq!(e.pending_count(), 2);
    assert_eq!(e.uplink(node, &echo(3), at(t0, 0)).rule, Rule::PendingFull);
    // The same sequence number from another node of the partner is another request.
    assert_eq!(e.uplink(addr(VISITED_2), &echo(1), at(t0, 0)).rule, Rule::PendingFull);
    let resp = Message::builder(MessageType::ECHO_RESPONSE).sequence(1).ie(Ie::recovery(1)).build().unwrap().encode();
    assert_eq!(e.downlink(node, &resp, at(t0, 1)).verdict, Verdict::Relay(None));
    assert_eq!(e.uplink(node, &echo(3), at(t0, 1)).verdict, Verdict::Relay(None));
    assert_eq!(e.pending_count(), 2);
}
