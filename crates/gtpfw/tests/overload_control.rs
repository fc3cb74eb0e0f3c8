//! Overload Control Information per partner (TS 29.274 §12.3): each partner has its own sequence
//! number, reduction metric and period of validity. Every OCI the firewall sends (in its refusals and
//! in relayed responses) is dissected by PyPI scapy (`scripts/oci_dissect.py`,
//! `scapy.contrib.gtp_v2`), not by the project's codec.
//!
//! Needs python3 with scapy: prints `SKIPPED` without it, unless `CI` is set (`.ci/run` installs
//! it), in which case it fails.

mod common;

use std::io::Write;
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use firewall::Now;
use gtpc::Plmn;
use gtpfw::{Engine, GtpConfig, RegistrationLookup, Rule, Rules, Verdict};
use serde::Deserialize;

use common::{csr, csresp};

/// What scapy read of a response.
#[derive(Debug, Deserialize)]
struct Dissected {
    #[serde(rename = "type")]
    message_type: u8,
    seq: u32,
    cause: Option<u8>,
    oci: Vec<Oci>,
}

#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
struct Oci {
    instance: u8,
    sequence: u32,
    metric: u8,
    timer_unit: u8,
    timer_value: u8,
}

/// scapy's dissection of each datagram; `None` (test skipped) without python3 and scapy.
fn scapy(datagrams: &[Vec<u8>]) -> Option<Vec<Dissected>> {
    let script = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/oci_dissect.py");
    let child = Command::new("python3").arg(script).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn();
    let Ok(mut child) = child else { return skip() };
    let input: String = datagrams.iter().map(|d| hex::encode(d) + "\n").collect();
    // Written from another thread: scapy answers while it reads, and both pipes have limits.
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    if !out.status.success() {
        return skip();
    }
    let lines: Vec<Dissected> =
        String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), datagrams.len());
    Some(lines)
}

fn skip<T>() -> Option<T> {
    assert!(std::env::var_os("CI").is_none(), "python3 with scapy is needed (CI is set): .ci/run installs it");
    println!("SKIPPED: python3 with scapy is not installed");
    None
}

struct Anywhere;
impl RegistrationLookup for Anywhere {
    fn registration(&self, _: &str) -> Option<(Plmn, SystemTime)> {
        Some((Plmn::new("262", "01").unwrap(), SystemTime::UNIX_EPOCH))
    }
}

const STORM: &str = "127.0.0.6:2123";
const CALM: &str = "127.0.0.7:2123";

/// Two partners supporting overload control: "storm" may set up 50 sessions a second, "calm" 1000;
/// the P-GW's capacity is `capacity`.
fn engine(capacity: u32) -> (Engine, Instant) {
    let c = GtpConfig::from_toml(&format!(
        r#"
[home]
imsi_prefixes = ["00101"]
[[partners]]
name = "storm"
addresses = ["127.0.0.6"]
plmns = ["26201"]
setup_rate_per_sec = 50
max_tunnels = 1000000
overload_control = true
[[partners]]
name = "calm"
addresses = ["127.0.0.7"]
plmns = ["26201"]
setup_rate_per_sec = 1000
max_tunnels = 1000000
overload_control = true
[budgets]
imsi_setups_per_min = 1000
imsi_burst = 100
[overload]
capacity_per_sec = {capacity}
validity_secs = 4
"#
    ))
    .unwrap();
    let t0 = Instant::now();
    let e = Engine::new(Rules::compile(&c).unwrap(), t0);
    e.set_registration_lookup(Arc::new(Anywhere));
    (e, t0)
}

/// Offers one Create Session of `partner` at `ms` after the start (the wall clock reading `wall`)
/// and, if relayed, answers it from the P-GW; returns what reached the partner (the firewall's
/// refusal or the relayed response) and the rule.
fn setup(e: &Engine, t0: Instant, wall: SystemTime, partner: &str, i: u32, ms: u64) -> (Vec<u8>, Rule) {
    let now = Now { instant: t0 + Duration::from_millis(ms), wall };
    let src: SocketAddr = partner.parse().unwrap();
    let d = e.uplink(src, &csr(&format!("00101{i:010}"), ("262", "01"), i, i), now);
    match d.verdict {
        Verdict::Answer(a) => (a, d.rule),
        Verdict::Relay(None) => {
            let resp = csresp(i, i, 0x1000_0000 + i);
            match e.downlink(src, &resp, now).verdict {
                Verdict::Relay(None) => (resp, Rule::Relay),
                Verdict::Relay(Some(changed)) => (changed, Rule::Relay),
                other => panic!("{other:?}"),
            }
        }
        other => panic!("{other:?}"),
    }
}

/// Per partner, in the order sent: a sequence number never goes back; it changes exactly when the
/// metric does.
fn assert_monotonic(name: &str, ocis: &[Oci]) {
    for w in ocis.windows(2) {
        assert!(w[1].sequence >= w[0].sequence, "{name}: {w:?} went back");
        assert_eq!(w[1].sequence == w[0].sequence, w[1].metric == w[0].metric, "{name}: {w:?}");
    }
}

/// The OCIs scapy read in what each partner was sent: (partner, ms, OCI) in order.
type Sent = Vec<(&'static str, u64, Vec<u8>, Rule)>;

fn ocis(sent: &Sent, partner: &str) -> Option<Vec<(u64, Oci)>> {
    let mine: Vec<_> = sent.iter().filter(|s| s.0 == partner).collect();
    let dissected = scapy(&mine.iter().map(|s| s.2.clone()).collect::<Vec<_>>())?;
    let mut out = Vec::new();
    for (s, d) in mine.iter().zip(dissected) {
        assert_eq!((d.message_type, d.seq), (33, d.seq), "a Create Session Response");
        if s.3 == Rule::PartnerRate {
            assert_eq!(d.cause, Some(73), "No resources available");
        }
        assert!(d.oci.len() <= 1, "{d:?}");
        if let Some(o) = d.oci.first() {
            assert_eq!(o.instance, 0, "PGW's Overload Control Information");
            assert_eq!((o.timer_unit, o.timer_value), (0, 2), "4 s validity: an EPC Timer of 2 × 2 s");
            out.push((s.1, *o));
        }
    }
    Some(out)
}

/// A partner over its own set-up budget is asked to shed its excess while another partner, within
/// its budget and with the P-GW not overloaded, gets no OCI; the storming partner is told 0 for one
/// period of validity after it calms down, then nothing; increases are told at once, decreases at
/// most once a second; numbers stay within 20 s of the wall clock, so a restarted firewall (nothing
/// persisted) numbers above what it sent before.
#[test]
fn a_partner_over_its_budget_is_told_its_own_share() {
    // The wall clock on a whole second, moving with the simulated one.
    let unix = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs();
    let wall = |ms: u64| SystemTime::UNIX_EPOCH + Duration::from_millis(unix * 1000 + ms);
    let (e, t0) = engine(1_000_000);
    let mut sent: Sent = Vec::new();
    let mut i = 0;
    // 0-3 s: "storm" offers 200 set-ups a second (4 × its budget), "calm" 10 a second; then both
    // 10 a second until 12 s.
    for ms in (0..12_000).step_by(5) {
        for (name, addr, every) in [("storm", STORM, if ms < 3000 { 5 } else { 100 }), ("calm", CALM, 100)] {
            if ms % every == 0 {
                i += 1;
                let (b, r) = setup(&e, t0, wall(ms), addr, i, ms);
                sent.push((name, ms, b, r));
            }
        }
    }
    let Some(calm) = ocis(&sent, "calm") else { return };
    let storm = ocis(&sent, "storm").unwrap();
    assert!(sent.iter().any(|s| s.0 == "storm" && s.3 == Rule::PartnerRate), "storm refused over its budget");
    // "calm" kept to its budget and the P-GW had room: never an OCI.
    assert!(calm.is_empty(), "calm partner got {:?}", &calm[..3.min(calm.len())]);
    let only: Vec<Oci> = storm.iter().map(|(_, o)| *o).collect();
    assert_monotonic("storm", &only);
    // Offering 4 × its budget: asked to shed about three quarters.
    let peak = only.iter().map(|o| o.metric).max().unwrap();
    assert!((70..=80).contains(&peak), "storm's peak reduction {peak}");
    assert!(only[0].sequence as u64 >= unix, "numbered from the wall clock");
    // Numbers never ran more than 20 ahead of the wall clock; decreases came at most once a second.
    for (ms, o) in &storm {
        assert!(u64::from(o.sequence) <= unix + ms / 1000 + 20, "{o:?} at {ms} ms");
    }
    let numbers: std::collections::BTreeSet<u32> = only.iter().map(|o| o.sequence).collect();
    let decreases: Vec<u64> = storm.windows(2).filter(|w| w[1].1.metric < w[0].1.metric).map(|w| w[1].0).collect();
    assert!(decreases.windows(2).all(|w| w[1] - w[0] >= 1000), "decreases at {decreases:?} ms");
    assert!(numbers.len() >= 3, "{numbers:?}");
    // After it calmed down (3 s): a reduction of 0 for one period of validity (4 s), then nothing.
    let zero_from = storm.iter().find(|(_, o)| o.metric == 0).expect("shedding's end told").0;
    assert!(storm.iter().filter(|(ms, _)| *ms >= zero_from).all(|(_, o)| o.metric == 0));
    let last = storm.last().unwrap().0;
    assert!((zero_from..zero_from + 4000).contains(&last) && last < 10_000, "0 told until {last} ms");

    // A restart (a new engine, nothing persisted) more than 20 s after the last number numbers
    // above all of them.
    let (e2, t1) = engine(1_000_000);
    let mut after: Sent = Vec::new();
    for ms in (0..1000).step_by(5) {
        i += 1;
        let (b, r) = setup(&e2, t1, wall(33_000 + ms), STORM, i, ms);
        after.push(("storm", ms, b, r));
    }
    let first = ocis(&after, "storm").unwrap().first().expect("OCI after the restart").1;
    assert!(first.sequence > *numbers.last().unwrap(), "{first:?} after {numbers:?}");
}

/// Each partner's sequence numbers rise on their own: with the wall clock standing still, the
/// storming partner's changes number on from its own last, and the calm partner's first OCI (the
/// P-GW's overload share, once the P-GW is over capacity) starts from the wall clock, not after the
/// other partner's numbers; each partner is told the larger of its own and the P-GW's share.
#[test]
fn each_partner_has_its_own_sequence_and_metric() {
    let unix = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs();
    let frozen = SystemTime::UNIX_EPOCH + Duration::from_secs(unix);
    let (e, t0) = engine(100);
    let mut sent: Sent = Vec::new();
    let mut i = 0;
    // "storm" offers 200/s throughout (its budget is 50); "calm" 100/s from 3 s: the door then
    // sees about 150/s against a capacity of 100.
    for ms in (0..6000).step_by(5) {
        i += 1;
        let (b, r) = setup(&e, t0, frozen, STORM, i, ms);
        sent.push(("storm", ms, b, r));
        if ms >= 3000 && ms % 10 == 0 {
            i += 1;
            let (b, r) = setup(&e, t0, frozen, CALM, i, ms);
            sent.push(("calm", ms, b, r));
        }
    }
    let Some(storm) = ocis(&sent, "storm") else { return };
    let calm = ocis(&sent, "calm").unwrap();
    let storm_only: Vec<Oci> = storm.iter().map(|(_, o)| *o).collect();
    let calm_only: Vec<Oci> = calm.iter().map(|(_, o)| *o).collect();
    assert_monotonic("storm", &storm_only);
    assert_monotonic("calm", &calm_only);
    // Storm's metric moved several times before calm was told anything: its numbers ran past the
    // (frozen) wall clock, calm's did not follow them.
    let storm_before = storm.iter().filter(|(ms, _)| *ms < 3000).map(|(_, o)| o.sequence).max().unwrap();
    assert!(storm_before as u64 > unix, "storm's numbers rose: {storm_before}");
    let (first_ms, first) = calm.first().copied().expect("calm told the P-GW's overload");
    assert!(first_ms >= 3000);
    assert_eq!(first.sequence as u64, unix, "calm's own first number");
    // Calm is told the P-GW's share (150 offered against 100: about a third), storm its own larger one.
    let calm_peak = calm_only.iter().map(|o| o.metric).max().unwrap();
    assert!((20..=50).contains(&calm_peak), "calm told the P-GW's share, {calm_peak}");
    let storm_late = storm.iter().filter(|(ms, _)| *ms >= 4000).map(|(_, o)| o.metric).min().unwrap();
    assert!(storm_late >= 70, "storm told its own share, {storm_late}");
}
