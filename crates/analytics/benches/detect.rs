//! Observations per second through the detection engine with 100,000 devices past their learning
//! period, the memory per device, and the engine's snapshot of those devices (bytes; time to write
//! it whole, to take its keys, to encode one chunk on the engine thread, to read it). Reproduce:
//! `cargo bench -p analytics --bench detect -- --warm-up-time 1 --measurement-time 5`

// `criterion_group!` generates a public function without documentation.
#![allow(missing_docs)]

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};

use analytics::baseline::HOUR_MS;
use analytics::detect::ENGINE_BYTES_PER_DEVICE;
use analytics::observe::{proto, DnsObservation};
use analytics::snapshot::{self, SnapshotJob};
use analytics::{CohortConfig, CohortModels, DeviceKey, Engine, EngineConfig, FlowObservation};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

const DEVICES: usize = 100_000;
const T0: u64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z

fn flow(device: &DeviceKey, i: usize, at: u64) -> FlowObservation {
    // Each device talks to one of eight hosts of its cohort's service, mostly on 443.
    let host = Ipv4Addr::new(198, 51, (i % 4) as u8, (i % 8) as u8 + 1);
    FlowObservation {
        at,
        device: device.clone(),
        remote: IpAddr::V4(host),
        remote_port: if i.is_multiple_of(16) { 123 } else { 443 },
        proto: if i.is_multiple_of(16) { proto::UDP } else { proto::TCP },
        octets_up: 400 + (i % 300) as u64,
        octets_down: 1200 + (i % 500) as u64,
        packets: 8,
    }
}

fn engine_with_learned_devices() -> (Engine, Vec<DeviceKey>) {
    let mut engine = Engine::new(EngineConfig::default());
    let devices: Vec<DeviceKey> = (0..DEVICES)
        .map(|i| {
            DeviceKey::new(
                &format!("00101{i:010}"),
                &format!("tenant{}", i % 10),
                ["meter", "tracker", "camera"][i % 3],
            )
        })
        .collect();
    let mut out = Vec::new();
    // A learning day: a flow every two hours per device.
    for h in (0..24).step_by(2) {
        for (i, d) in devices.iter().enumerate() {
            engine.observe_flow(&flow(d, i + h, T0 + h as u64 * HOUR_MS + (i as u64 % 1000)), &mut out);
        }
        out.clear();
    }
    (engine, devices)
}

fn bench(c: &mut Criterion) {
    eprintln!(
        "engine memory per device (bound): {ENGINE_BYTES_PER_DEVICE} bytes; 1M devices ≤ {} MiB",
        (ENGINE_BYTES_PER_DEVICE * 1_000_000) >> 20
    );
    let (mut engine, devices) = engine_with_learned_devices();
    let start = T0 + 48 * HOUR_MS;
    // One million observations spread over the devices, 3.6 ms of device time apart (one hour in all).
    let flows: Vec<FlowObservation> =
        (0..1_000_000).map(|i| flow(&devices[(i * 7919) % DEVICES], i, start + i as u64 * 36 / 10)).collect();
    let dns: Vec<DnsObservation> = (0..100_000)
        .map(|i| DnsObservation {
            at: start + i as u64 * 36,
            device: devices[(i * 7919) % DEVICES].clone(),
            name: format!("api{}.service.example", i % 4),
            qtype: 1,
            nxdomain: false,
            allowed: true,
        })
        .collect();
    let mut group = c.benchmark_group("engine_100k_devices");
    group.throughput(Throughput::Elements(1));
    let mut out = Vec::new();
    let mut i = 0usize;
    group.bench_function("flow", |b| {
        b.iter(|| {
            engine.observe_flow(black_box(&flows[i % flows.len()]), &mut out);
            i += 1;
            out.clear();
        })
    });
    let mut j = 0usize;
    group.bench_function("dns", |b| {
        b.iter(|| {
            engine.observe_dns(black_box(&dns[j % dns.len()]), &mut out);
            j += 1;
            out.clear();
        })
    });
    group.finish();
    assert_eq!(engine.device_count(), DEVICES);

    // Cohort models: features of the 100,000 devices (10 tenants × 3 profiles, ~3,333 each), trained
    // and scored as the server does it in the background.
    let features = engine.cohort_features(start + HOUR_MS);
    let mut cohort = c.benchmark_group("cohort_100k_devices");
    cohort.sample_size(10);
    let cfg = CohortConfig::default();
    cohort.bench_function("features", |b| b.iter(|| black_box(engine.cohort_features(start + HOUR_MS)).len()));
    cohort.bench_function("train", |b| b.iter(|| black_box(CohortModels::train(&features, &cfg)).len()));
    let models = CohortModels::train(&features, &cfg);
    cohort.bench_function("score", |b| b.iter(|| black_box(models.outliers(&features)).len()));
    cohort.finish();

    // The snapshot of the 100,000 devices: in memory (no disk), SHA-256 included.
    let mut bytes = Vec::new();
    snapshot::write(&engine, start, &mut bytes).unwrap();
    eprintln!("engine snapshot of {DEVICES} devices: {} bytes ({} per device)", bytes.len(), bytes.len() / DEVICES);
    let mut snap = c.benchmark_group("snapshot_100k_devices");
    snap.sample_size(10);
    snap.bench_function("write_whole", |b| {
        b.iter(|| {
            let mut out = Vec::with_capacity(bytes.len());
            snapshot::write(&engine, start, &mut out).unwrap();
            out.len()
        })
    });
    let mut header = Vec::new();
    snap.bench_function("begin_keys_and_header", |b| {
        b.iter(|| {
            header.clear();
            black_box(SnapshotJob::begin(&engine, start, &mut header)).devices()
        })
    });
    let mut chunk = Vec::new();
    snap.bench_function("encode_chunk_4096", |b| {
        let mut job = SnapshotJob::begin(&engine, start, &mut Vec::new());
        b.iter(|| {
            chunk.clear();
            if job.next_chunk(&engine, 4096, &mut chunk).unwrap() {
                job = SnapshotJob::begin(&engine, start, &mut Vec::new());
            }
            chunk.len()
        })
    });
    snap.bench_function("read", |b| {
        b.iter(|| snapshot::read(&bytes[..], EngineConfig::default()).unwrap().engine.device_count())
    });
    snap.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
