use super::*;
use crate::observe::SignallingKind;

const T0: u64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z
const MIN: u64 = 60_000;

fn dev(n: u32) -> DeviceKey {
    DeviceKey::new(&format!("0010100000{n:05}"), "acme", "meter")
}

pub(crate) fn flow(d: &DeviceKey, at: u64, remote: &str, port: u16, bytes: u64) -> FlowObservation {
    FlowObservation {
        at,
        device: d.clone(),
        remote: remote.parse().unwrap(),
        remote_port: port,
        proto: proto::TCP,
        octets_up: bytes / 2,
        octets_down: bytes / 2,
        packets: 4,
    }
}

/// A meter reporting every 15 minutes to its server for `hours` from `from`.
fn meter_traffic(e: &mut Engine, d: &DeviceKey, from: u64, hours: u64, out: &mut Vec<Detection>) {
    for q in 0..hours * 4 {
        e.observe_flow(&flow(d, from + q * 15 * MIN, "198.51.100.10", 443, 2_000 + (q % 5) * 100), out);
    }
}

fn kinds(out: &[Detection]) -> Vec<DetectionKind> {
    out.iter().map(|d| d.kind).collect()
}

#[test]
fn memory_per_device_is_within_two_kib() {
    let bytes = std::hint::black_box(ENGINE_BYTES_PER_DEVICE);
    println!("engine bytes per device (bound): {bytes}; baseline {}", crate::baseline::BASELINE_BYTES_PER_DEVICE);
    assert!(bytes <= 2048, "{bytes}");
    assert!(bytes * 1_000_000 <= 2 << 30);
}

#[test]
fn new_destinations_are_reported_after_learning_once_and_not_when_the_cohort_knows_them() {
    let mut e = Engine::new(EngineConfig::default());
    let mut out = Vec::new();
    let (a, b) = (dev(1), dev(2));
    meter_traffic(&mut e, &a, T0, 24, &mut out);
    // During learning anything goes.
    e.observe_flow(&flow(&b, T0, "203.0.113.50", 8883, 500), &mut out);
    meter_traffic(&mut e, &b, T0, 24, &mut out);
    assert!(out.is_empty(), "{out:?}");
    meter_traffic(&mut e, &a, T0 + 24 * HOUR_MS, 2, &mut out);
    assert!(out.is_empty(), "{out:?}");

    let at = T0 + 26 * HOUR_MS;
    e.observe_flow(&flow(&a, at, "192.0.2.77", 4444, 500), &mut out);
    assert_eq!(kinds(&out), [DetectionKind::NewDestination]);
    let d = &out[0];
    assert_eq!(d.window_start, at - at % HOUR_MS);
    assert_eq!(d.score, 0.75);
    match &d.evidence {
        Evidence::NewDestination { remote, port, outside, new_service, .. } => {
            assert_eq!(
                (remote.to_string().as_str(), *port, *outside, *new_service),
                ("192.0.2.77", 4444, Outside::Baseline, true)
            );
        }
        other => panic!("{other:?}"),
    }
    // The same destination later is acknowledged, not reported again.
    out.clear();
    e.observe_flow(&flow(&a, at + 2 * HOUR_MS, "192.0.2.77", 4444, 500), &mut out);
    assert!(out.is_empty(), "{out:?}");
    // A destination another meter used while learning is the cohort's: not new.
    e.observe_flow(&flow(&a, at + 3 * HOUR_MS, "203.0.113.50", 8883, 500), &mut out);
    assert!(out.is_empty(), "{out:?}");
}

#[test]
fn one_detection_per_device_kind_and_window_with_a_stable_id() {
    let mut e = Engine::new(EngineConfig::default());
    let mut out = Vec::new();
    let a = dev(1);
    meter_traffic(&mut e, &a, T0, 25, &mut out);
    let at = T0 + 30 * HOUR_MS;
    for i in 0..20 {
        e.observe_flow(&flow(&a, at + i * MIN, &format!("192.0.2.{}", i * 10), 443, 500), &mut out);
    }
    assert_eq!(kinds(&out), [DetectionKind::NewDestination]);
    let id = out[0].id.clone();
    assert_eq!(id, detection_id(DetectionKind::NewDestination, &a, at));
    assert_eq!(id.len(), 32);
    // The next hour is another window: another id.
    e.observe_flow(&flow(&a, at + HOUR_MS, "203.0.113.250", 443, 500), &mut out);
    assert_eq!(out.len(), 2);
    assert_ne!(out[1].id, id);
}

struct DenyAllBut443;
impl Allowlist for DenyAllBut443 {
    fn permits(&self, _: &DeviceKey, _: IpAddr, port: u16, _: u8) -> Option<bool> {
        Some(port == 443)
    }
}

#[test]
fn destinations_outside_the_allowlist_are_reported_even_while_learning() {
    let mut e = Engine::new(EngineConfig::default());
    e.set_allowlist(Some(Arc::new(DenyAllBut443)));
    let mut out = Vec::new();
    let a = dev(1);
    e.observe_flow(&flow(&a, T0, "198.51.100.10", 443, 500), &mut out);
    assert!(out.is_empty());
    e.observe_flow(&flow(&a, T0 + MIN, "198.51.100.10", 22, 500), &mut out);
    assert_eq!(kinds(&out), [DetectionKind::NewDestination]);
    assert!(matches!(out[0].evidence, Evidence::NewDestination { outside: Outside::Allowlist, .. }));
}

#[test]
fn volume_spikes_are_reported_after_learning_and_ordinary_hours_are_not() {
    let mut e = Engine::new(EngineConfig::default());
    let mut out = Vec::new();
    let a = dev(1);
    meter_traffic(&mut e, &a, T0, 72, &mut out);
    assert!(out.is_empty(), "{out:?}");
    // 50 MB in ten chunks to the usual server.
    let at = T0 + 72 * HOUR_MS;
    for i in 0..10 {
        e.observe_flow(&flow(&a, at + i * MIN, "198.51.100.10", 443, 5_000_000), &mut out);
    }
    assert_eq!(kinds(&out), [DetectionKind::VolumeSpike]);
    assert!(out[0].score > 0.8, "{}", out[0].score);
    match out[0].evidence {
        Evidence::VolumeSpike { bytes, bytes_threshold, .. } => {
            assert!(bytes > bytes_threshold);
            assert_eq!(bytes_threshold, 1 << 20);
        }
        ref other => panic!("{other:?}"),
    }
    // The spiked hour was folded in clipped: the next ordinary hours raise nothing.
    out.clear();
    meter_traffic(&mut e, &a, at + HOUR_MS, 24, &mut out);
    assert!(out.is_empty(), "{out:?}");
    assert!(e.baseline(&a).unwrap().bytes_per_hour.mean() < 200_000.0);
}

#[test]
fn telnet_scanning_is_one_detection_not_one_per_flow() {
    let mut e = Engine::new(EngineConfig::default());
    let mut out = Vec::new();
    let a = dev(1);
    meter_traffic(&mut e, &a, T0, 26, &mut out);
    let at = T0 + 26 * HOUR_MS + 20 * MIN;
    for i in 0..500u64 {
        let ip = format!("{}.{}.{}.{}", 11 + i % 200, (i * 7) % 256, (i * 13) % 256, 1 + i % 250);
        let mut f = flow(&a, at + i * 1000, &ip, if i % 3 == 0 { 2323 } else { 23 }, 120);
        f.packets = 2;
        e.observe_flow(&f, &mut out);
    }
    let scans: Vec<&Detection> = out.iter().filter(|d| d.kind == DetectionKind::Scanning).collect();
    assert_eq!(scans.len(), 1, "{:?}", kinds(&out));
    assert!(scans[0].score >= 0.9);
    match scans[0].evidence {
        Evidence::Scanning { telnet_hosts, .. } => assert!(telnet_hosts >= 16),
        ref other => panic!("{other:?}"),
    }
    // The scan's first new host is a new destination too, once per window.
    assert_eq!(out.iter().filter(|d| d.kind == DetectionKind::NewDestination).count(), 1);
}

fn dns(d: &DeviceKey, at: u64, name: &str, nxdomain: bool) -> DnsObservation {
    DnsObservation { at, device: d.clone(), name: name.into(), qtype: 16, nxdomain, allowed: true }
}

#[test]
fn dns_tunnelling_dga_and_ordinary_names() {
    let mut e = Engine::new(EngineConfig::default());
    let mut out = Vec::new();
    let (a, b, c) = (dev(1), dev(2), dev(3));
    for i in 0..200u64 {
        e.observe_dns(&dns(&c, T0 + i * 30_000, &format!("api{}.meters.example.com", i % 3), false), &mut out);
    }
    assert!(out.is_empty(), "{out:?}");
    // A tunnel: base32-ish chunks under one domain.
    for i in 0..60u64 {
        let chunk = format!("{:016x}{:016x}", crate::baseline::mix64(i), crate::baseline::mix64(i + 1000));
        e.observe_dns(&dns(&a, T0 + i * 5_000, &format!("{chunk}.{i}.t.exfil.example"), false), &mut out);
    }
    assert_eq!(kinds(&out), [DetectionKind::DnsTunnelling]);
    match &out[0].evidence {
        Evidence::DnsTunnelling { base_domain, rule, .. } => {
            assert_eq!(base_domain, "exfil.example");
            assert_eq!(*rule, "entropy");
        }
        other => panic!("{other:?}"),
    }
    // The evidence never carries the tunnelled names.
    let json = serde_json::to_string(&out[0]).unwrap();
    assert!(!json.contains(&format!("{:016x}", crate::baseline::mix64(0))), "{json}");
    // DGA: many random names, mostly NXDOMAIN, each under its own domain.
    out.clear();
    for i in 0..40u64 {
        let name = format!("{:x}.com", crate::baseline::mix64(i) >> 20);
        e.observe_dns(&dns(&b, T0 + i * 5_000, &name, i % 10 != 0), &mut out);
    }
    assert_eq!(kinds(&out), [DetectionKind::DnsTunnelling]);
    assert!(matches!(out[0].evidence, Evidence::DnsTunnelling { rule: "nxdomain", .. }));
}

#[test]
fn threat_intel_matches_flows_and_names() {
    let mut e = Engine::new(EngineConfig::default());
    e.set_intel(Arc::new(IntelSet::from_csv("ipv4,203.0.113.66\ndomain,c2.example\n").unwrap()));
    let mut out = Vec::new();
    let a = dev(1);
    e.observe_flow(&flow(&a, T0, "203.0.113.66", 4444, 300), &mut out);
    e.observe_flow(&flow(&a, T0 + MIN, "203.0.113.66", 4444, 300), &mut out);
    e.observe_dns(&dns(&a, T0 + 2 * HOUR_MS, "x.C2.example.", false), &mut out);
    assert_eq!(kinds(&out), [DetectionKind::ThreatIntel, DetectionKind::ThreatIntel]);
    assert!(
        matches!(&out[0].evidence, Evidence::ThreatIntel { indicator, port: Some(4444), .. } if indicator == "203.0.113.66")
    );
    assert!(
        matches!(&out[1].evidence, Evidence::ThreatIntel { indicator, remote: None, .. } if indicator == "c2.example")
    );
    assert_eq!(out[0].score, 1.0);
}

#[test]
fn signalling_storms_are_reported_and_ordinary_rates_are_not() {
    let mut e = Engine::new(EngineConfig::default());
    let mut out = Vec::new();
    let a = dev(1);
    let sig = |at, rejected| SignallingObservation { at, device: a.clone(), kind: SignallingKind::Air, rejected };
    for h in 0..48 {
        for k in 0..3 {
            e.observe_signalling(&sig(T0 + h * HOUR_MS + k * 10 * MIN, false), &mut out);
        }
    }
    assert!(out.is_empty(), "{out:?}");
    let at = T0 + 50 * HOUR_MS;
    for k in 0..600 {
        e.observe_signalling(&sig(at + k * 5_000, k % 2 == 0), &mut out);
    }
    assert_eq!(kinds(&out), [DetectionKind::ExcessiveSignalling]);
    match out[0].evidence {
        Evidence::ExcessiveSignalling { requests, rejected, threshold } => {
            assert_eq!(threshold, 60);
            assert_eq!(requests, 61);
            assert_eq!(rejected, 31);
        }
        ref other => panic!("{other:?}"),
    }
}

#[test]
fn imei_changes_are_reported_with_the_model_change() {
    let mut e = Engine::new(EngineConfig::default());
    let mut out = Vec::new();
    let a = dev(1);
    let imei = |at, imei: &str| ImeiObservation { at, device: a.clone(), imei: imei.into() };
    e.observe_imei(&imei(T0, "35693803564380"), &mut out);
    e.observe_imei(&imei(T0 + HOUR_MS, "356938035643809"), &mut out); // same, with check digit
    e.observe_imei(&imei(T0 + HOUR_MS, "not an imei"), &mut out);
    assert!(out.is_empty(), "{out:?}");
    e.observe_imei(&imei(T0 + 2 * HOUR_MS, "35693803999999"), &mut out);
    e.observe_imei(&imei(T0 + 3 * HOUR_MS, "49015420323751"), &mut out);
    assert_eq!(kinds(&out), [DetectionKind::ImeiChange, DetectionKind::ImeiChange]);
    assert_eq!(out[0].score, 0.6);
    assert_eq!(out[1].score, 0.9);
    assert_eq!(out[1].evidence, Evidence::ImeiChange { previous_tac: 35693803, tac: 49015420, changes: 2 });
}

#[test]
fn cohort_outliers_flow_from_features_to_detections() {
    let mut e = Engine::new(EngineConfig::default());
    let mut out = Vec::new();
    for n in 0..30 {
        meter_traffic(&mut e, &dev(n), T0 + u64::from(n) * 1000, 30, &mut out);
    }
    // One "meter" behaves like a phone: many destinations and services, far more bytes.
    let phone = dev(99);
    for q in 0..30 * 60u64 {
        let ip = format!("203.0.{}.{}", q % 40, 1 + q % 200);
        e.observe_flow(&flow(&phone, T0 + q * MIN, &ip, 443 + (q % 30) as u16, 200_000), &mut out);
    }
    out.clear();
    let at = T0 + 30 * HOUR_MS;
    let features = e.cohort_features(at);
    assert_eq!(features.len(), 31);
    let models = crate::cohort::CohortModels::train(&features, &crate::cohort::CohortConfig::default());
    let outliers = models.outliers(&features);
    assert_eq!(outliers.iter().map(|o| o.device.clone()).collect::<Vec<_>>(), std::slice::from_ref(&phone));
    e.report_cohort_outliers(&outliers, at, &mut out);
    e.report_cohort_outliers(&outliers, at + 6 * HOUR_MS, &mut out);
    assert_eq!(kinds(&out), [DetectionKind::CohortOutlier], "once a day, not at every run");
    assert_eq!(out[0].device, phone);
    assert_eq!(out[0].window_start % (24 * HOUR_MS), 0);
    // Reset after remediation: the device learns again and is no outlier until it has.
    assert!(e.reset_device(&phone));
    assert!(e.cohort_features(at).iter().all(|(k, _)| *k != phone));
}

#[test]
fn idle_devices_are_forgotten() {
    let mut e = Engine::new(EngineConfig::default());
    let mut out = Vec::new();
    e.observe_flow(&flow(&dev(1), T0, "198.51.100.10", 443, 100), &mut out);
    e.observe_flow(&flow(&dev(2), T0 + 10 * HOUR_MS, "198.51.100.10", 443, 100), &mut out);
    assert_eq!(e.forget_idle(T0 + HOUR_MS), 1);
    assert_eq!(e.device_count(), 1);
    assert!(e.baseline(&dev(2)).is_some());
}
