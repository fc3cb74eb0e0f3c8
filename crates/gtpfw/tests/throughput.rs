//! Wall-clock cost of screening, single thread: Create Session Request + Response pairs of
//! registered roamers, and Modify Bearer Request + Response pairs on an owned tunnel, through
//! `Engine::uplink` / `Engine::downlink`. Ignored by default (it measures, it asserts nothing):
//! `cargo test --release -p gtpfw --test throughput -- --ignored --nocapture`.

mod common;

use std::hint::black_box;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use firewall::Now;
use gtpc::Plmn;
use gtpfw::{Engine, GtpConfig, RegistrationLookup, Rules};

struct Anywhere;
impl RegistrationLookup for Anywhere {
    fn registration(&self, _: &str) -> Option<(Plmn, SystemTime)> {
        Some((Plmn::new("262", "01").unwrap(), SystemTime::UNIX_EPOCH))
    }
}

#[test]
#[ignore = "a measurement, run by hand with --release"]
fn screened_messages_per_second() {
    let c = GtpConfig::from_toml(
        "[home]\nimsi_prefixes = [\"00101\"]\n[overload]\ncapacity_per_sec = 100000000\n[budgets]\nimsi_setups_per_min = 1000000\n\
         [[partners]]\nname = \"p\"\naddresses = [\"127.0.0.2\"]\nplmns = [\"26201\"]\nsetup_rate_per_sec = 100000000\nmax_tunnels = 100000000\n",
    )
    .unwrap();
    let t0 = Instant::now();
    let e = Engine::new(Rules::compile(&c).unwrap(), t0);
    e.set_registration_lookup(Arc::new(Anywhere));
    let peer: SocketAddr = "127.0.0.2:2123".parse().unwrap();
    let n = 200_000u32;
    let csrs: Vec<(Vec<u8>, Vec<u8>)> = (0..n)
        .map(|i| (common::csr(&format!("00101{i:010}"), ("262", "01"), i, i), common::csresp(i, i, 1_000_000 + i)))
        .collect();
    let started = Instant::now();
    for (i, (req, resp)) in csrs.iter().enumerate() {
        let now = Now { instant: t0 + Duration::from_micros(i as u64), wall: SystemTime::now() };
        black_box(e.uplink(peer, black_box(req), now));
        black_box(e.downlink(peer, black_box(resp), now));
    }
    let per = started.elapsed().as_secs_f64() * 1e9 / f64::from(2 * n);
    println!("Create Session request+response: {per:.0} ns per message ({:.0} msg/s per core)", 1e9 / per);
    let mbr: Vec<(Vec<u8>, Vec<u8>)> =
        (0..n).map(|i| (common::mbr(1_000_000 + (i % n), n + i), common::mbresp(i, n + i))).collect();
    let started = Instant::now();
    for (i, (req, resp)) in mbr.iter().enumerate() {
        let now = Now { instant: t0 + Duration::from_micros(u64::from(n) + i as u64), wall: SystemTime::now() };
        black_box(e.uplink(peer, black_box(req), now));
        black_box(e.downlink(peer, black_box(resp), now));
    }
    let per = started.elapsed().as_secs_f64() * 1e9 / f64::from(2 * n);
    println!("Modify Bearer request+response: {per:.0} ns per message ({:.0} msg/s per core)", 1e9 / per);
    println!("tunnels {}, pending {}", e.tunnel_count(), e.pending_count());
}
