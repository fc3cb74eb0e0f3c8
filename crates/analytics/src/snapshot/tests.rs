use super::*;
use crate::baseline::HOUR_MS;
use crate::detect::{Detection, DetectionKind};
use crate::observe::{DnsObservation, ImeiObservation, Observation, SignallingKind, SignallingObservation};
use proptest::prelude::*;

const T0: u64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z
const MIN: u64 = 60_000;

fn dev(n: u32) -> DeviceKey {
    DeviceKey::new(&format!("0010100000{n:05}"), if n.is_multiple_of(2) { "acme" } else { "globex" }, "meter")
}

fn flow(d: &DeviceKey, at: u64, remote: &str, port: u16, bytes: u64) -> Observation {
    Observation::Flow(crate::detect::tests::flow(d, at, remote, port, bytes))
}

fn dns(d: &DeviceKey, at: u64, name: &str, nxdomain: bool) -> Observation {
    Observation::Dns(DnsObservation { at, device: d.clone(), name: name.into(), qtype: 1, nxdomain, allowed: true })
}

fn signalling(d: &DeviceKey, at: u64) -> Observation {
    Observation::Signalling(SignallingObservation { at, device: d.clone(), kind: SignallingKind::Air, rejected: false })
}

fn imei(d: &DeviceKey, at: u64, imei: &str) -> Observation {
    Observation::Imei(ImeiObservation { at, device: d.clone(), imei: imei.into() })
}

/// A learning day and a bit of a fleet of six meters, with one device already scanning in the hour
/// the snapshot is taken (its dedup state matters to what follows).
fn before() -> Vec<Observation> {
    let mut v = Vec::new();
    for n in 0..6 {
        let d = dev(n);
        v.push(imei(&d, T0, "35209900176148"));
        for q in 0..26 * 4u64 {
            let at = T0 + u64::from(n) * 1000 + q * 15 * MIN;
            v.push(flow(&d, at, "198.51.100.10", 443, 2_000 + (q % 5) * 100));
            if q % 8 == 0 {
                v.push(dns(&d, at + 1, "api.meters.example", false));
                v.push(signalling(&d, at + 2));
            }
        }
    }
    let scanner = dev(5);
    for i in 0..80u64 {
        v.push(flow(&scanner, T0 + 26 * HOUR_MS + i * 100, &format!("203.0.113.{}", i + 1), 23, 60));
    }
    v.sort_by_key(Observation::at);
    v
}

/// What comes after the restart: more scanning in the same hour (deduplicated), a new destination,
/// DNS tunnelling, an IMEI change, a signalling storm and a volume spike.
fn after() -> Vec<Observation> {
    let at = T0 + 26 * HOUR_MS + 10 * MIN;
    let mut v = Vec::new();
    for i in 0..80u64 {
        v.push(flow(&dev(5), at + i * 100, &format!("192.0.2.{}", i + 1), 2323, 60));
    }
    v.push(flow(&dev(0), at, "192.0.2.200", 4444, 500));
    for i in 0..60u64 {
        v.push(dns(&dev(1), at + i, &format!("x{i:03}q7z9k2m4p8r1t6v3w5y0.tunnel.example"), false));
    }
    v.push(imei(&dev(2), at, "86000000000001"));
    for i in 0..70u64 {
        v.push(signalling(&dev(3), at + i));
    }
    for i in 0..100u64 {
        v.push(flow(&dev(4), at + i, "198.51.100.10", 443, 400_000));
    }
    v
}

fn feed(e: &mut Engine, observations: &[Observation]) -> Vec<Detection> {
    let mut out = Vec::new();
    for o in observations {
        e.observe(o, &mut out);
    }
    out
}

fn snapshot_bytes(e: &Engine) -> Vec<u8> {
    let mut bytes = Vec::new();
    write(e, 42, &mut bytes).unwrap();
    bytes
}

#[test]
fn a_reloaded_engine_detects_exactly_what_one_that_never_restarted_does() {
    let mut kept = Engine::new(EngineConfig::default());
    feed(&mut kept, &before());
    let bytes = snapshot_bytes(&kept);
    let loaded = read(&bytes[..], EngineConfig::default()).unwrap();
    assert_eq!(loaded.saved_at, 42);
    let mut restarted = loaded.engine;
    assert_eq!(restarted.device_count(), 6);
    assert_eq!(restarted.last_observation(), kept.last_observation());

    let expected = feed(&mut kept, &after());
    let got = feed(&mut restarted, &after());
    let mut kinds: Vec<DetectionKind> = expected.iter().map(|d| d.kind).collect();
    kinds.sort();
    kinds.dedup();
    // The continuation exercises what only learned state can raise, and the dedup state: the scan
    // raised before the snapshot is not raised again in the same hour.
    assert_eq!(
        kinds,
        [
            DetectionKind::NewDestination,
            DetectionKind::VolumeSpike,
            DetectionKind::DnsTunnelling,
            DetectionKind::ExcessiveSignalling,
            DetectionKind::ImeiChange
        ]
    );
    assert_eq!(got, expected);
    // Without the snapshot the same continuation is not detected the same way (learning again).
    let mut fresh = Engine::new(EngineConfig::default());
    assert_ne!(feed(&mut fresh, &after()), expected);
    // And writing the reloaded engine gives the same state again.
    let mut again = read(&bytes[..], EngineConfig::default()).unwrap().engine;
    assert_eq!(snapshot_bytes(&again).len(), bytes.len());
    assert_eq!(feed(&mut again, &after()), expected);
}

#[test]
fn written_in_chunks_it_is_the_same_snapshot() {
    let mut e = Engine::new(EngineConfig::default());
    feed(&mut e, &before());
    let mut buf = Vec::new();
    let mut job = SnapshotJob::begin(&e, 42, &mut buf);
    assert_eq!((job.devices(), job.remaining()), (6, 6));
    let mut sealer = Sealer::new(Vec::new());
    sealer.write_part(&buf).unwrap();
    let mut chunks = 0;
    loop {
        buf.clear();
        let done = job.next_chunk(&e, 1, &mut buf).unwrap();
        sealer.write_part(&buf).unwrap();
        chunks += 1;
        if done {
            break;
        }
    }
    assert_eq!(chunks, 6);
    let (bytes, n) = sealer.finish().unwrap();
    assert_eq!(n as usize, bytes.len());
    let loaded = read(&bytes[..], EngineConfig::default()).unwrap().engine;
    assert_eq!(loaded.device_count(), 6);
    // A device removed while the job runs abandons the job.
    let mut job = SnapshotJob::begin(&e, 42, &mut Vec::new());
    assert!(e.reset_device(&dev(0)));
    assert!(matches!(job.next_chunk(&e, 100, &mut Vec::new()), Err(SnapshotError::DeviceGone)));
}

fn fleet_snapshot() -> Vec<u8> {
    let mut e = Engine::new(EngineConfig::default());
    feed(&mut e, &before());
    snapshot_bytes(&e)
}

#[test]
fn every_damage_is_refused_with_its_reason() {
    let good = fleet_snapshot();
    let cfg = EngineConfig::default;
    assert!(matches!(read(&[][..], cfg()), Err(SnapshotError::Empty)));
    assert!(matches!(read(&b"{\"json\": true}"[..], cfg()), Err(SnapshotError::NotASnapshot)));
    assert!(matches!(read(&good[..5], cfg()), Err(SnapshotError::Truncated(w)) if w == "the header"));
    // Cut anywhere: truncated, never loaded.
    for cut in 1..good.len() {
        match read(&good[..cut], cfg()) {
            Err(SnapshotError::Truncated(_)) => {}
            other => panic!("cut at {cut}: {other:?}"),
        }
    }
    let e = read(&good[..good.len() - 40], cfg()).unwrap_err();
    assert!(e.to_string().starts_with("truncated: the file ends inside device record 6 of 6"), "{e}");
    let mut other_version = good.clone();
    other_version[8..12].copy_from_slice(&2u32.to_le_bytes());
    let e = read(&other_version[..], cfg()).unwrap_err();
    assert_eq!(e.to_string(), "format version 2; this build reads version 1");
    // A flipped bit in a statistic is caught by the checksum.
    let mut flipped = good.clone();
    let at = good.len() - 100;
    flipped[at] ^= 0x10;
    assert!(matches!(read(&flipped[..], cfg()), Err(SnapshotError::Checksum | SnapshotError::Corrupt { .. })));
    let mut longer = good.clone();
    longer.extend_from_slice(b"xx");
    assert_eq!(read(&longer[..], cfg()).unwrap_err().to_string(), "2 unexpected bytes after the checksum");
    assert!(read(&good[..], cfg()).is_ok());
}

/// A snapshot whose content is replaced by `body` and sealed again with a valid checksum: the
/// record parser sees arbitrary input.
fn resealed(header: &[u8], body: &[u8]) -> Vec<u8> {
    let mut s = Sealer::new(Vec::new());
    s.write_part(header).unwrap();
    s.write_part(body).unwrap();
    s.finish().unwrap().0
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic_and_never_load(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
        prop_assert!(read(&bytes[..], EngineConfig::default()).is_err());
        let mut with_magic = MAGIC.to_vec();
        with_magic.extend_from_slice(&1u32.to_le_bytes());
        with_magic.extend_from_slice(&bytes);
        prop_assert!(read(&with_magic[..], EngineConfig::default()).is_err());
    }

    #[test]
    fn damaged_but_resealed_snapshots_load_whole_or_not_at_all(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
        do_cut in any::<bool>(),
    ) {
        let good = fleet_snapshot();
        let mut body = good[12..good.len() - 32].to_vec();
        for (i, v) in &edits {
            let i = i.index(body.len());
            body[i] = *v;
        }
        if do_cut {
            body.truncate(cut.index(body.len()));
        }
        let bytes = resealed(&good[..12], &body);
        if let Ok(loaded) = read(&bytes[..], EngineConfig::default()) {
            // Loaded only when every record the header announced is there.
            let announced = u64::from_le_bytes(body[8..16].try_into().unwrap());
            prop_assert_eq!(loaded.engine.device_count() as u64, announced);
        }
    }
}
