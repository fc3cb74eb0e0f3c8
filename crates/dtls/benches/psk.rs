//! DTLS-PSK throughput of the listener on loopback (docs/performance.md): full handshakes per second
//! (cookie exchange included; a new client socket each, PSK-AES128-CCM8), and application records
//! per second over one established session, both as request/answer round trips (two records each,
//! through the handler) and one-way in windows of 32. The clients are OpenSSL over blocking UDP
//! sockets in this process, so the figures include the client's share of the CPU. Last, the memory
//! an established session holds on the server.
//!
//! `cargo bench -p dtls --bench psk` (`DTLS_BENCH_HANDSHAKES`, `DTLS_BENCH_RECORDS`, `DTLS_BENCH_SESSIONS` change the counts).

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::Instant;

use dtls::{Limits, Stats};

fn count(var: &str, default: usize) -> usize {
    std::env::var(var).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn main() {
    let handshakes = count("DTLS_BENCH_HANDSHAKES", 2000);
    let records = count("DTLS_BENCH_RECORDS", 50_000);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let server = rt.block_on(common::start(&[("bench", b"bench-key-0123456789")], None, Limits::default()));
    let addr = server.addr;
    let ctx = common::psk_client_context("bench", b"bench-key-0123456789", "PSK-AES128-CCM8");

    // Handshakes: two client threads, each connecting again and again.
    let started = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                for _ in 0..handshakes / 2 {
                    let c = common::connect(&ctx, addr).expect("handshake");
                    drop(c);
                }
            });
        }
    });
    let hs_time = started.elapsed();
    let done = Stats::get(&server.stats.handshakes_completed);
    println!(
        "dtls psk handshakes: {done} in {:.2} s = {:.0} handshakes/s (2 client threads)",
        hs_time.as_secs_f64(),
        done as f64 / hs_time.as_secs_f64()
    );

    // Round trips over one session.
    let mut c = common::connect(&ctx, addr).expect("handshake");
    let payload = [0x42u8; 64];
    let started = Instant::now();
    for _ in 0..records / 2 {
        common::roundtrip(&mut c, &payload).expect("answer");
    }
    let t = started.elapsed();
    println!(
        "dtls psk round trips (64-byte datagram + answer): {} in {:.2} s = {:.0} records/s through the server",
        records / 2,
        t.as_secs_f64(),
        records as f64 / t.as_secs_f64()
    );

    // One way, in windows: the server decrypts and hands each datagram to the handler.
    let before = Stats::get(&server.stats.app_datagrams);
    let started = Instant::now();
    let mut buf = [0u8; 512];
    let mut sent = 0;
    while sent < records {
        for _ in 0..32 {
            c.ssl_write(&payload).unwrap();
        }
        sent += 32;
        for _ in 0..32 {
            if c.ssl_read(&mut buf).is_err() {
                break;
            }
        }
    }
    let t = started.elapsed();
    let got = Stats::get(&server.stats.app_datagrams) - before;
    println!(
        "dtls psk records in windows of 32: {got} of {sent} in {:.2} s = {:.0} records/s decrypted and handled \
         (plus as many answers encrypted)",
        t.as_secs_f64(),
        got as f64 / t.as_secs_f64()
    );
    // Memory per established session: sessions the server keeps (clients gone without closing),
    // measured as the growth of this process's resident memory (client state is freed again).
    let sessions = count("DTLS_BENCH_SESSIONS", 2000);
    let before_rss = rss_bytes();
    let held_before = Stats::get(&server.stats.sessions);
    for _ in 0..sessions {
        drop(common::connect(&ctx, addr).expect("handshake"));
    }
    let held = Stats::get(&server.stats.sessions) - held_before;
    let grown = rss_bytes().saturating_sub(before_rss);
    println!(
        "dtls psk sessions held: {held}, resident memory grew by {:.1} MiB = about {:.1} KiB per established session",
        grown as f64 / (1 << 20) as f64,
        grown as f64 / 1024.0 / held.max(1) as f64
    );
    drop(server);
}

/// This process's resident set size (Linux `/proc/self/statm`, pages of 4 KiB).
fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1).and_then(|p| p.parse::<u64>().ok()))
        .map_or(0, |pages| pages * 4096)
}
