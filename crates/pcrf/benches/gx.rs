//! CCR-Initial handling on SQLite with a warm policy cache: decode the request, answer it (policy
//! from the cache, rules compiled, session indexed and queued for the background writer, CCA built)
//! and encode the answer. `gx/ccr_initial` is Criterion's per-request time on one task;
//! `ccr_initial_load` then runs 64 concurrent tasks on a 2-worker runtime for 3 s and prints the
//! throughput, the p50/p99 latency and how far the background writer lagged behind (what docs/pcrf.md
//! reports).
#![allow(missing_docs)] // criterion_group! generates an undocumented function.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use diameter::dictionary::app;
use diameter::{avp, Avp, Command, Message};
use pcrf::{Pcrf, PcrfConfig};
use store::model::Priority;
use testkit::provision::{self, profile};

const SIMS: u32 = 1000;
const PGW: &str = "pgw.bench";
const REALM: &str = "epc.mnc001.mcc001.3gppnetwork.org";

fn imsi(i: u32) -> String {
    format!("00101{:010}", i)
}

/// An encoded CCR-I for SIM `i` and session `n`.
fn ccr_i(i: u32, n: u64) -> Vec<u8> {
    let mut m = Message::request(Command::CCR);
    m.add(avp::SESSION_ID, format!("{PGW};{n}"));
    m.add(avp::AUTH_APPLICATION_ID, app::GX);
    m.add(avp::ORIGIN_HOST, PGW);
    m.add(avp::ORIGIN_REALM, REALM);
    m.add(avp::DESTINATION_REALM, REALM);
    m.add(avp::CC_REQUEST_TYPE, 1u32);
    m.add(avp::CC_REQUEST_NUMBER, 0u32);
    m.add(
        avp::SUBSCRIPTION_ID,
        vec![Avp::new(avp::SUBSCRIPTION_ID_TYPE, 1u32), Avp::new(avp::SUBSCRIPTION_ID_DATA, imsi(i))],
    );
    m.add(avp::FRAMED_IP_ADDRESS, (0x0a00_0000u32 + (n as u32 & 0xff_ffff)).to_be_bytes());
    m.add(avp::IP_CAN_TYPE, 5u32);
    m.add(avp::RAT_TYPE, 1004u32);
    m.add(avp::CALLED_STATION_ID, "meters.example");
    m.encode()
}

fn setup(rt: &tokio::runtime::Runtime) -> (Arc<Pcrf>, testkit::TempStore) {
    rt.block_on(async {
        let temp = testkit::TempStore::sqlite().await;
        let meter = profile(serde_json::json!({
            "name": "meter", "services": ["data"],
            "allow_prefixes": ["198.51.100.0/24", "203.0.113.7/32:443/tcp", "192.0.2.0/24:5683-5684/udp"],
            "apn": [{"name": "meters.example", "qci": 7, "ambr_ul": 64000, "ambr_dl": 128000}]
        }));
        provision::profiles(&temp.store, &[meter]).await;
        let sims: Vec<_> =
            (0..SIMS).map(|i| provision::sim(&imsi(i), Some("meter"), Priority::Standard, "acme")).collect();
        provision::sims(&temp.store, &sims).await;
        // Each SIM gets 20 of the 20,000 session ids: no per-SIM cap, or most CCR-I would be refusals.
        let config = PcrfConfig {
            ccr_initial_per_sec: 1_000_000_000,
            max_sessions_per_imsi: usize::MAX,
            ..PcrfConfig::default()
        };
        let pcrf = Pcrf::new(config, temp.store.clone(), "pcrf.bench", REALM, Arc::new(|_: &str, _: &ids::Imsi| true))
            .await
            .unwrap();
        // Warm the policy cache.
        for i in 0..SIMS {
            let a = pcrf.answer(Message::decode(&ccr_i(i, u64::from(i))).unwrap(), PGW).await;
            assert_eq!(a.result_code(), Some(2001));
        }
        (pcrf, temp)
    })
}

async fn one(pcrf: &Pcrf, n: u64) {
    // Sessions cycle over 20,000 ids: a CCR-I for a known id replaces that session, so memory stays flat.
    let bytes = ccr_i((n % u64::from(SIMS)) as u32, n % 20_000);
    let a = pcrf.answer(Message::decode(&bytes).unwrap(), PGW).await;
    debug_assert_eq!(a.result_code(), Some(2001));
    std::hint::black_box(a.encode());
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let (pcrf, _temp) = setup(&rt);
    let counter = AtomicU64::new(0);
    c.bench_function("gx/ccr_initial", |b| {
        b.to_async(&rt).iter(|| one(&pcrf, counter.fetch_add(1, Ordering::Relaxed)));
    });
    // The background writer's store call alone: 1024 new session rows in one transaction.
    let batch_no = AtomicU64::new(0);
    c.bench_function("store/apply_gx_changes_1024", |b| {
        b.to_async(&rt).iter(|| {
            let n = batch_no.fetch_add(1, Ordering::Relaxed);
            let rows: Vec<store::traffic::GxChange> = (0..1024)
                .map(|k| {
                    store::traffic::GxChange::Put(store::traffic::GxSession {
                        session_id: format!("bench;{n};{k}"),
                        imsi: imsi(k % SIMS),
                        tenant: "acme".into(),
                        pcef_host: PGW.into(),
                        pcef_realm: REALM.into(),
                        pcef_state: Some(1),
                        apn: "meters.example".into(),
                        framed_ip: Some("10.0.0.1".into()),
                        framed_ipv6: None,
                        rat_type: Some(1004),
                        plmn: Some("00101".into()),
                        rules: vec!["warden-dns-0123456789abcdef".into(); 5],
                        created_at: 1,
                        updated_at: 1,
                    })
                })
                .collect();
            let store = _temp.store.clone();
            async move { store.apply_gx_changes(&rows).await.unwrap() }
        });
    });
    // Concurrent load with latencies.
    let (rate, p50, p99) = rt.block_on(async {
        let deadline = Instant::now() + Duration::from_secs(3);
        let next = Arc::new(AtomicU64::new(1_000_000));
        let mut tasks = Vec::new();
        for _ in 0..64 {
            let (pcrf, next) = (pcrf.clone(), next.clone());
            tasks.push(tokio::spawn(async move {
                let mut lat = Vec::new();
                while Instant::now() < deadline {
                    let t = Instant::now();
                    one(&pcrf, next.fetch_add(1, Ordering::Relaxed)).await;
                    lat.push(t.elapsed());
                    tokio::task::yield_now().await;
                }
                lat
            }));
        }
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await.unwrap());
        }
        all.sort();
        let pct = |p: f64| all[((all.len() as f64 * p) as usize).min(all.len() - 1)];
        (all.len() as f64 / 3.0, pct(0.50), pct(0.99))
    });
    // What the background writer still had to store when the load stopped.
    let t = Instant::now();
    rt.block_on(pcrf.settle());
    let drain = t.elapsed();
    println!(
        "ccr_initial_load: {rate:.0} CCR-I/s with 64 concurrent tasks on 2 workers; p50 {p50:?}, p99 {p99:?}; \
         the writer stored the rest {drain:?} after the load stopped"
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
