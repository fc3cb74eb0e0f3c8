//! IPFIX ingest: datagrams of 24 flow records each (the `V4_FLOW_FIELDS` template, 57 octets a
//! record, about 1.4 KB a datagram as exporters send them), template already known. Throughput is in
//! records. Run: `cargo bench -p analytics --bench ipfix`.

// `criterion_group!` generates a public function without documentation.
#![allow(missing_docs)]

use std::hint::black_box;
use std::net::IpAddr;

use analytics::ipfix::encode::{v4_flow_record, MessageBuilder, V4_FLOW_FIELDS};
use analytics::ipfix::{Collector, CollectorConfig};
use analytics::{FiveTuple, Flow};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

const RECORDS_PER_DATAGRAM: u32 = 24;
const DATAGRAMS: u32 = 256;

fn datagrams(exporter: IpAddr) -> Vec<Vec<u8>> {
    (0..DATAGRAMS)
        .map(|d| {
            let mut records = Vec::new();
            for r in 0..RECORDS_PER_DATAGRAM {
                let n = d * RECORDS_PER_DATAGRAM + r;
                let flow = Flow {
                    exporter,
                    observation_domain: 1,
                    tuple: FiveTuple {
                        src: IpAddr::V4((0x0a00_0000 | (n & 0xffff)).into()),
                        dst: IpAddr::V4((0xc633_6400 | (n % 200)).into()),
                        sport: (n % 60000) as u16 + 1024,
                        dport: [443, 53, 1883, 5683][(n % 4) as usize],
                        proto: if n % 4 == 1 { 17 } else { 6 },
                    },
                    octets: u64::from(n % 9000) + 60,
                    packets: u64::from(n % 30) + 1,
                    start_ms: Some(1_764_000_000_000 + u64::from(n)),
                    end_ms: Some(1_764_000_060_000 + u64::from(n)),
                    tcp_flags: Some(0x1b),
                };
                v4_flow_record(&flow, &mut records).expect("IPv4");
            }
            let mut m = MessageBuilder::ipfix(1, 1_764_000_000, d);
            m.data(300, &records, RECORDS_PER_DATAGRAM as u16);
            m.finish()
        })
        .collect()
}

fn ingest(c: &mut Criterion) {
    let exporter: IpAddr = "192.0.2.100".parse().unwrap();
    let mut collector = Collector::new(CollectorConfig::new([exporter]));
    let mut template = MessageBuilder::ipfix(1, 1_764_000_000, 0);
    template.template(300, &V4_FLOW_FIELDS);
    collector.handle(exporter, &template.finish(), &mut Vec::new());
    let input = datagrams(exporter);
    let mut out = Vec::with_capacity((RECORDS_PER_DATAGRAM * 2) as usize);
    let mut group = c.benchmark_group("ipfix");
    group.throughput(Throughput::Elements(u64::from(RECORDS_PER_DATAGRAM * DATAGRAMS)));
    group.bench_function("ingest_24_records_per_datagram", |b| {
        b.iter(|| {
            for d in &input {
                out.clear();
                collector.handle(exporter, black_box(d), &mut out);
                black_box(&out);
            }
        })
    });
    let stranger: IpAddr = "203.0.113.9".parse().unwrap();
    group.throughput(Throughput::Elements(u64::from(DATAGRAMS)));
    group.bench_function("unknown_exporter_flood_datagrams", |b| {
        b.iter(|| {
            for d in &input {
                collector.handle(stranger, black_box(d), &mut out);
            }
        })
    });
    group.finish();
}

criterion_group!(benches, ingest);
criterion_main!(benches);
