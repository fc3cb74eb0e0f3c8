//! `DnsFirewall::answer` for a cached allowed name: parsing, source lookup, rate limit, allowlist,
//! cache hit, render, report throttle and log — everything but the socket.

// `criterion_group!` generates a public function without documentation.
#![allow(missing_docs)]

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use dnsfw::authority::Authority;
use dnsfw::{Asker, CancellationToken, Directory, DnsConfig, DnsFirewall, DomainPolicy};
use hickory_proto::op::{Message, MessageType, OpCode, Query};
use hickory_proto::rr::{Name, RecordType};

struct OneSim(Asker);

impl Directory for OneSim {
    fn lookup(&self, _ip: IpAddr) -> Option<Asker> {
        Some(self.0.clone())
    }
    fn resolved(&self, _imsi: &ids::Imsi, _name: &str, _addrs: &[IpAddr], _ttl: Duration) {}
    fn refused(&self, _asker: &Asker, _name: &str) {}
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let stop = CancellationToken::new();
    let zone =
        Arc::new(Authority::new("acme.example.", 30).addr("api.acme.example.", 3600, "192.0.2.10".parse().unwrap()));
    let up = rt.block_on(zone.serve("127.0.0.1:0".parse().unwrap(), stop.clone())).unwrap();
    let patterns: Vec<ids::DomainPattern> = ["api.acme.example", "*.ota.acme.example", "telemetry.acme.example"]
        .iter()
        .map(|p| p.parse().unwrap())
        .collect();
    let asker = Asker {
        imsi: "001010000000001".parse().unwrap(),
        tenant: Some("acme".into()),
        policy: DomainPolicy::Allow(patterns.into()),
    };
    let config = DnsConfig { upstream: vec![up], queries_per_sec_per_sim: 0, ..DnsConfig::default() };
    let fw = DnsFirewall::new(config, Arc::new(OneSim(asker)));
    let mut m = Message::new(7, MessageType::Query, OpCode::Query);
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(Name::from_ascii("api.acme.example.").unwrap(), RecordType::A));
    let query = m.to_vec().unwrap();
    let source: IpAddr = "127.0.0.2".parse().unwrap();
    // Warm the cache.
    assert!(rt.block_on(fw.answer(source, &query, false)).is_some());
    let mut group = c.benchmark_group("dnsfw");
    group.throughput(Throughput::Elements(1));
    group.bench_function("answer_cached", |b| {
        b.iter(|| {
            let a = rt.block_on(fw.answer(source, &query, false)).unwrap();
            // Keep the log from filling (and measuring the drop path instead).
            if fw.counters().queries.is_multiple_of(50_000) {
                fw.take_log(usize::MAX);
            }
            a
        })
    });
    group.finish();
    assert_eq!(fw.counters().upstream_failures, 0);
    stop.cancel();
}

criterion_group!(benches, bench);
criterion_main!(benches);
