//! Registration-interface throughput of the sans-IO server (one core, no sockets): register and
//! update datagrams handled per second, and the registry's memory per device measured as the growth
//! of the process's resident set while 100,000 devices register (printed once, Linux only).

// `criterion_group!` generates a public function without documentation.
#![allow(missing_docs)]

use std::net::SocketAddr;
use std::time::Instant;

use coap::{Code, Message, MessageType, OptionNumber};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use lwm2m::server::{Server, ServerConfig};

fn register(mid: u16, ep: &str) -> Vec<u8> {
    let mut m = Message::new(MessageType::Con, Code::POST, mid, mid.to_be_bytes().to_vec());
    m.set_uri_path("/rd");
    m.push_option(OptionNumber::URI_QUERY, format!("ep={ep}").into_bytes());
    m.push_option(OptionNumber::URI_QUERY, *b"lt=86400");
    m.push_option(OptionNumber::URI_QUERY, *b"lwm2m=1.1");
    m.push_option(OptionNumber::URI_QUERY, *b"b=U");
    m.payload = b"</>;rt=\"oma.lwm2m\";ct=110,</1/0>,</3/0>,</4/0>,</5/0>".to_vec();
    m.encode()
}

fn peer(i: u32) -> SocketAddr {
    SocketAddr::from(([127, (i >> 16) as u8, (i >> 8) as u8, i as u8], 40000))
}

fn resident_bytes() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = s.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

/// Registers `n` devices and returns the server and the location of each.
fn fill(n: u32) -> (Server, Vec<String>) {
    let now = Instant::now();
    let mut s = Server::new(
        ServerConfig {
            allow_unsecured: true,
            unsecured_registrations_per_source_per_sec: 0,
            ..ServerConfig::default()
        },
        now,
    );
    let mut locs = Vec::with_capacity(n as usize);
    for i in 0..n {
        let out = s.handle(
            now,
            peer(i),
            None,
            &register(i as u16, &format!("urn:imei:{:015}", 350_000_000_000_000u64 + u64::from(i))),
        );
        let ans = Message::decode(&out.transmits[0].datagram).unwrap();
        let loc =
            ans.options_of(OptionNumber::LOCATION_PATH).nth(1).map(|o| String::from_utf8(o.value.clone()).unwrap());
        locs.push(loc.unwrap());
    }
    (s, locs)
}

fn memory_per_device() {
    let before = resident_bytes();
    let (s, locs) = fill(100_000);
    let after = resident_bytes();
    if let (Some(b), Some(a)) = (before, after) {
        let locs_bytes = locs.iter().map(|l| l.capacity() + 24).sum::<usize>() as u64;
        println!(
            "registry: {} devices, resident set grew by {} bytes: {} bytes per device (server incl. de-duplication cache)",
            s.registry().len(),
            a - b - locs_bytes.min(a - b),
            (a - b - locs_bytes.min(a - b)) / 100_000
        );
    }
}

fn bench(c: &mut Criterion) {
    memory_per_device();
    let mut g = c.benchmark_group("registration");
    g.throughput(Throughput::Elements(1000));
    g.bench_function("register 1000 new devices", |b| {
        b.iter_batched(
            || {
                let now = Instant::now();
                let s = Server::new(
                    ServerConfig {
                        allow_unsecured: true,
                        unsecured_registrations_per_source_per_sec: 0,
                        ..ServerConfig::default()
                    },
                    now,
                );
                let reqs: Vec<Vec<u8>> = (0..1000).map(|i| register(i as u16, &format!("dev-{i}"))).collect();
                (s, reqs, now)
            },
            |(mut s, reqs, now)| {
                for (i, r) in reqs.iter().enumerate() {
                    let out = s.handle(now, peer(i as u32), None, r);
                    assert_eq!(out.transmits.len(), 1);
                }
                s
            },
            BatchSize::LargeInput,
        )
    });
    let (mut s, locs) = fill(100_000);
    let mut k: u32 = 0;
    g.bench_function("update 1000 of 100,000 devices", |b| {
        b.iter(|| {
            let now = Instant::now();
            for _ in 0..1000 {
                k = k.wrapping_add(1);
                let i = k % 100_000;
                let mut m = Message::new(MessageType::Con, Code::POST, k as u16, vec![1]);
                m.set_uri_path(&format!("/rd/{}", locs[i as usize]));
                m.push_option(OptionNumber::URI_QUERY, *b"lt=86400");
                let out = s.handle(now, peer(i), None, &m.encode());
                assert_eq!(out.transmits.len(), 1);
            }
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
