//! Criterion benchmarks of the screening function alone (no sockets): an AIR and a ULR that pass
//! every check, and a ULR blocked by category 2 (answer encoded). IMSIs rotate over 100,000
//! subscribers so that per-subscriber state is looked up as in service.
//!
//! Run: `cargo bench -p firewall --bench screen -- --warm-up-time 1 --measurement-time 3`

// `criterion_group!` generates a public function without documentation.
#![allow(missing_docs)]

use std::hint::black_box;
use std::time::{Instant, SystemTime};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use diameter::avp;
use diameter::{Command, Message};
use firewall::engine::{Ctx, Engine, Now, Outcome};
use firewall::{FirewallConfig, Rules};

const SUBSCRIBERS: usize = 100_000;

fn config() -> FirewallConfig {
    FirewallConfig::from_toml(
        r#"
        origin_host = "fw.home.example"
        origin_realm = "home.example"
        [home]
        realms = ["home.example"]
        plmns = ["00101"]
        imsi_prefixes = ["00101"]
        [[partners]]
        name = "alpha"
        origin_hosts = ["mme1.alpha.example"]
        realms = ["alpha.example"]
        plmns = ["26201"]
        [budgets]
        imsi_rate_per_sec = 1000000
        imsi_burst = 1000000
        [overload]
        capacity_per_sec = 1e12
        max_in_flight = 1000000000
        "#,
    )
    .unwrap()
}

fn request(command: Command, imsi: &str, plmn: &[u8; 3], i: u32) -> Vec<u8> {
    let mut m = Message::request(command);
    m.add(avp::SESSION_ID, format!("mme1.alpha.example;{i};{imsi}"));
    m.add(avp::AUTH_SESSION_STATE, 1u32);
    m.add(avp::ORIGIN_HOST, "mme1.alpha.example");
    m.add(avp::ORIGIN_REALM, "alpha.example");
    m.add(avp::DESTINATION_REALM, "home.example");
    m.add(avp::USER_NAME, imsi);
    if command == Command::ULR {
        m.add(avp::RAT_TYPE, 1004u32);
        m.add(avp::ULR_FLAGS, 2u32);
    }
    m.add(avp::VISITED_PLMN_ID, plmn);
    if command == Command::AIR {
        m.push(diameter::Avp::grouped(
            avp::REQUESTED_EUTRAN_AUTHENTICATION_INFO,
            vec![diameter::Avp::new(avp::NUMBER_OF_REQUESTED_VECTORS, 1u32)],
        ));
    }
    m.header.hop_by_hop = i;
    m.header.end_to_end = i;
    m.encode()
}

fn bench(c: &mut Criterion) {
    // The engine reads no clock: it is given the time. The monotonic clock is read per request, as
    // the relay does per batch of input; the wall clock (event stamps) once.
    let wall = SystemTime::now();
    let now = || Now { instant: Instant::now(), wall };
    let engine = Engine::new(Rules::compile(&config()).unwrap(), 1024, 1_000_000, now());
    let rules = engine.rules();
    let stats = engine.observer.partner(&rules.partners[0].name);
    let ctx = Ctx { rules: &rules, partner: 0, stats: &stats };
    let alpha = [0x62, 0xf2, 0x10];
    let bravo = [0x02, 0xf8, 0x10];
    let imsis: Vec<String> = (0..SUBSCRIBERS).map(|i| format!("00101{i:010}")).collect();
    let airs: Vec<Vec<u8>> =
        imsis.iter().enumerate().map(|(i, s)| request(Command::AIR, s, &alpha, i as u32)).collect();
    let ulrs: Vec<Vec<u8>> =
        imsis.iter().enumerate().map(|(i, s)| request(Command::ULR, s, &alpha, i as u32)).collect();
    let forged = request(Command::ULR, &imsis[0], &bravo, 1);
    let mut out = Vec::with_capacity(1024);
    let mut g = c.benchmark_group("screen");
    g.throughput(Throughput::Elements(1));
    let mut i = 0;
    g.bench_function("air_pass", |b| {
        b.iter(|| {
            i = (i + 1) % SUBSCRIBERS;
            out.clear();
            let o = engine.screen(&ctx, black_box(&airs[i]), now(), &mut out);
            assert!(matches!(o, Outcome::Forward(_)));
            engine.on_lost();
        })
    });
    g.bench_function("ulr_pass", |b| {
        b.iter(|| {
            i = (i + 1) % SUBSCRIBERS;
            out.clear();
            let o = engine.screen(&ctx, black_box(&ulrs[i]), now(), &mut out);
            assert!(matches!(o, Outcome::Forward(_)));
            engine.on_lost();
        })
    });
    g.bench_function("ulr_blocked_visited_plmn", |b| {
        b.iter(|| {
            out.clear();
            let o = engine.screen(&ctx, black_box(&forged), now(), &mut out);
            assert!(matches!(o, Outcome::Answered(_)));
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
