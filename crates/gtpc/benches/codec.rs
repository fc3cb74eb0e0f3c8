//! Codec benchmarks on the Create Session Request that scapy builds (`tests/data`, 16 IEs with a
//! Bearer Context): decode, encode, and decode followed by encode (what a relaying firewall does),
//! and the same for a GTPv1 Create PDP Context Request.
//!
//! Run: `cargo bench -p gtpc --bench codec -- --warm-up-time 1 --measurement-time 3`

// `criterion_group!` generates a public function without documentation.
#![allow(missing_docs)]

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use gtpc::{v1, v2};

fn vector(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/data/{name}.hex", env!("CARGO_MANIFEST_DIR"));
    hex::decode(std::fs::read_to_string(path).unwrap().trim()).unwrap()
}

fn codec(c: &mut Criterion) {
    let csr = vector("v2_create_session_request");
    let msg = v2::Message::decode(&csr).unwrap();
    let mut g = c.benchmark_group("gtpv2_create_session_request");
    g.throughput(Throughput::Elements(1));
    g.bench_function("decode", |b| b.iter(|| v2::Message::decode(black_box(&csr)).unwrap()));
    let mut out = Vec::with_capacity(512);
    g.bench_function("encode_into", |b| {
        b.iter(|| {
            out.clear();
            black_box(&msg).encode_into(&mut out);
            out.len()
        })
    });
    g.bench_function("decode_then_encode", |b| {
        b.iter(|| {
            let m = v2::Message::decode(black_box(&csr)).unwrap();
            out.clear();
            m.encode_into(&mut out);
            out.len()
        })
    });
    g.finish();

    let pdp = vector("v1_create_pdp_context_request");
    let mut g = c.benchmark_group("gtpv1_create_pdp_context_request");
    g.throughput(Throughput::Elements(1));
    g.bench_function("decode_then_encode", |b| b.iter(|| v1::Message::decode(black_box(&pdp)).unwrap().encode()));
    g.finish();
}

criterion_group!(benches, codec);
criterion_main!(benches);
