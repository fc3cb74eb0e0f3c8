//! Storm admission on a simulated clock (ROAM-1, ROAM-3): the engine is sans-IO and runs on the time
//! it is given, so a storm of 20,000 AIR/s for 5 s against a capacity of 2,000/s is replayed exactly,
//! one millisecond at a time, with the HSS answering at once. Deterministic, and about 100,000
//! screenings per storm.
//!
//! Asserted, per mix of device classes: admission is strict priority (critical, standard, low) and
//! work-conserving — whatever the higher classes leave of the capacity goes to the lower ones, so an
//! all-low storm (a meter fleet after a power cut) or an all-standard one uses ≥ 90 % of the
//! capacity; critical devices keep ≥ 99.9 %; no simulated second gets more than the capacity + 10 %
//! (the tolerance of `storm.rs`); at exactly the capacity every request is admitted.
//! The end-to-end version over TCP, on the wall clock, is `storm.rs`.

mod common;

use std::time::{Duration, Instant, SystemTime};

use common::{air, ALPHA, ALPHA_PLMN};
use firewall::{Ctx, Engine, FirewallConfig, Now, Outcome, Priority, Rules};

const CAPACITY: u64 = 2_000;
const SECONDS: u64 = 5;
/// Distinct devices per class (the issue's meter fleet: 60,000 devices).
const DEVICES: u64 = 60_000;
const PREFIXES: [&str; 3] = ["0010199", "0010150", "0010177"];
const NAMES: [&str; 3] = ["critical", "standard", "low"];

/// Per class: requests offered and admitted, in total and per simulated second.
struct Result {
    offered: [u64; 3],
    admitted: [u64; 3],
    per_second: Vec<u64>,
}

impl Result {
    fn total_admitted(&self) -> u64 {
        self.admitted.iter().sum()
    }
}

fn engine(t0: Now) -> Engine {
    let text = format!(
        r#"
        origin_host = "fw.home.example"
        origin_realm = "home.example"
        [home]
        realms = ["home.example"]
        imsi_prefixes = ["00101"]
        [[partners]]
        name = "alpha"
        origin_hosts = ["{}"]
        realms = ["{}"]
        plmns = ["26201"]
        [overload]
        capacity_per_sec = {CAPACITY}
        [budgets]
        imsi_rate_per_sec = 1000
        imsi_burst = 1000
        [priority]
        critical_imsi_prefixes = ["{}"]
        low_imsi_prefixes = ["{}"]
        "#,
        ALPHA.0, ALPHA.1, PREFIXES[0], PREFIXES[2]
    );
    let rules = Rules::compile(&FirewallConfig::from_toml(&text).unwrap()).unwrap();
    Engine::new(rules, 16, 1_000_000, t0)
}

/// One AIR template per class, and where its 8 device digits are (patched per request).
fn templates() -> Vec<(Vec<u8>, Vec<usize>)> {
    PREFIXES
        .iter()
        .map(|p| {
            let imsi = format!("{p}00000000");
            let bytes = air(ALPHA, &imsi, ALPHA_PLMN).encode();
            // In the Session-Id and the User-Name.
            let at: Vec<usize> = (0..bytes.len() - imsi.len())
                .filter(|&i| &bytes[i..i + imsi.len()] == imsi.as_bytes())
                .map(|i| i + p.len())
                .collect();
            assert_eq!(at.len(), 2, "the IMSI in the Session-Id and the User-Name");
            (bytes, at)
        })
        .collect()
}

/// Replays `rate` requests per second for `SECONDS`, spread evenly over each millisecond; the
/// class of request `k` is `class(k)`. The HSS answers every forwarded request at once.
fn simulate(rate: u64, class: impl Fn(u64) -> usize) -> Result {
    let t0 = Now { instant: Instant::now(), wall: SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000) };
    let e = engine(t0);
    let rules = e.rules();
    let stats = e.observer.partner(&rules.partners[0].name);
    let ctx = Ctx { rules: &rules, partner: 0, stats: &stats };
    let mut templates = templates();
    let mut out = Vec::new();
    let mut r = Result { offered: [0; 3], admitted: [0; 3], per_second: vec![0; SECONDS as usize] };
    let mut sent = [0u64; 3];
    let mut k = 0u64;
    for ms in 1..=SECONDS * 1000 {
        let now = Now { instant: t0.instant + Duration::from_millis(ms), ..t0 };
        while k < rate * ms / 1000 {
            let c = class(k);
            let (bytes, digits) = &mut templates[c];
            let device = format!("{:08}", sent[c] % DEVICES);
            for &at in digits.iter() {
                bytes[at..at + 8].copy_from_slice(device.as_bytes());
            }
            sent[c] += 1;
            k += 1;
            r.offered[c] += 1;
            out.clear();
            match e.screen(&ctx, bytes, now, &mut out) {
                Outcome::Forward(meta) => {
                    assert_eq!(meta.priority, [Priority::Critical, Priority::Standard, Priority::Low][c]);
                    e.on_lost();
                    r.admitted[c] += 1;
                    r.per_second[((ms - 1) / 1000) as usize] += 1;
                }
                Outcome::Answered(rule) => assert_eq!(rule, firewall::Rule::OverloadShed, "{} device", NAMES[c]),
                Outcome::Dropped => panic!("nothing is dropped"),
            }
        }
    }
    for (c, name) in NAMES.iter().enumerate() {
        println!("{name:8} offered {:6} admitted {:6}", r.offered[c], r.admitted[c]);
    }
    println!("admitted per second: {:?}", r.per_second);
    r
}

/// What holds for every mix: the capacity bound per second (10 % tolerance, as in `storm.rs`) and
/// critical devices served.
fn assert_bounded(r: &Result) {
    for (s, n) in r.per_second.iter().enumerate() {
        assert!(*n as f64 <= CAPACITY as f64 * 1.10, "second {s}: {n} admitted, capacity {CAPACITY}");
    }
    let (offered, admitted) = (r.offered[0], r.admitted[0]);
    assert!(admitted as f64 >= 0.999 * offered as f64, "critical {admitted}/{offered}");
}

/// At least `share` of the capacity was admitted in every simulated second, and overall.
fn assert_capacity_used(r: &Result, share: f64) {
    let total = r.total_admitted() as f64;
    assert!(total >= share * (CAPACITY * SECONDS) as f64, "only {total} admitted of {}", CAPACITY * SECONDS);
    for (s, n) in r.per_second.iter().enumerate() {
        assert!(*n as f64 >= share * CAPACITY as f64, "second {s}: only {n} admitted");
    }
}

/// The issue's meter fleet: 60,000 low-priority devices offering 20,000 AIR/s get the whole capacity
/// (before: 88 of 100,000 admitted while the HSS idled).
#[test]
fn an_all_low_priority_storm_gets_the_whole_capacity() {
    let r = simulate(10 * CAPACITY, |_| 2);
    assert_bounded(&r);
    assert_capacity_used(&r, 0.9);
}

#[test]
fn an_all_standard_storm_gets_the_whole_capacity() {
    let r = simulate(10 * CAPACITY, |_| 1);
    assert_bounded(&r);
    assert_capacity_used(&r, 0.9);
}

/// The storm of `storm.rs`: 5 % critical, 35 % standard, 60 % low. Strict priority: critical devices
/// all pass, standard devices get the rest, low-priority devices (almost) nothing.
#[test]
fn a_mixed_storm_is_admitted_by_strict_priority() {
    let r = simulate(10 * CAPACITY, |k| match k % 20 {
        0 => 0,
        1..=7 => 1,
        _ => 2,
    });
    assert_bounded(&r);
    assert_capacity_used(&r, 0.9);
    assert_eq!(r.admitted[0], r.offered[0], "every critical request admitted");
    let left = CAPACITY * SECONDS - r.offered[0];
    assert!(r.admitted[1] as f64 >= 0.9 * left as f64, "standard got {} of the {left} critical left", r.admitted[1]);
    // Only the initial burst above the standard floor can go to low-priority devices.
    assert!((r.admitted[2] as f64) < 0.05 * r.offered[2] as f64, "low got {} of {}", r.admitted[2], r.offered[2]);
}

/// Work conserving: standard devices offering half the capacity all pass, and low-priority devices
/// get the other half.
#[test]
fn low_priority_devices_get_what_standard_ones_leave() {
    let r = simulate(10 * CAPACITY, |k| if k % 20 == 0 { 1 } else { 2 });
    assert_bounded(&r);
    assert_eq!(r.admitted[1], r.offered[1], "standard devices below capacity all admitted");
    assert_eq!(r.offered[1], CAPACITY / 2 * SECONDS);
    let left = CAPACITY * SECONDS - r.offered[1];
    assert!(r.admitted[2] as f64 >= 0.9 * left as f64, "low got {} of the {left} standard left", r.admitted[2]);
    assert_capacity_used(&r, 0.9);
}

/// Offered at exactly the capacity, every request of every class is admitted (before: low-priority
/// devices were shed as soon as the offered rate passed 90 % of the capacity).
#[test]
fn at_exactly_the_capacity_every_request_is_admitted() {
    for (name, class) in [("all low", (|_| 2) as fn(u64) -> usize), ("mixed", |k| [0, 1, 1, 2, 2, 2][(k % 6) as usize])]
    {
        let r = simulate(CAPACITY, class);
        assert_eq!(r.admitted, r.offered, "{name}: everything admitted at exactly the capacity");
        assert_eq!(r.per_second, vec![CAPACITY; SECONDS as usize], "{name}");
    }
}
