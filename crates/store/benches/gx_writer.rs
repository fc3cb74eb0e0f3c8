//! The PCRF's background writer's store call on SQLite ([`store::Store::apply_gx_changes`]): rows
//! per second for batches of 1024 changes in one transaction, built outside the measurement.
//! - `gx_writer/new_sessions_1024`: 1024 new session rows (sustained CCR-Initial);
//! - `gx_writer/churn_1024`: 512 new sessions, the 512 of the batch before ended, as a PCRF with
//!   CCR-Initial and CCR-Termination in balance writes them.
//!
//! docs/pcrf.md (Performance) reports these numbers.
#![allow(missing_docs)] // criterion_group! generates an undocumented function.

use std::sync::atomic::{AtomicU64, Ordering};

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use store::traffic::{GxChange, GxSession};

const BATCH: u64 = 1024;

/// A session row as the PCRF writes it for a CCR-Initial of the bench script's SIMs.
fn session(id: String, k: u64) -> GxSession {
    GxSession {
        session_id: id,
        imsi: format!("00101{:010}", k % 10_000),
        tenant: "acme".into(),
        pcef_host: "pgw1.bench.example".into(),
        pcef_realm: "epc.mnc001.mcc001.3gppnetwork.org".into(),
        pcef_state: Some(1),
        apn: "meters.example".into(),
        framed_ip: Some(std::net::Ipv4Addr::from(0x0a00_0000 + k as u32).to_string()),
        framed_ipv6: None,
        rat_type: Some(1004),
        plmn: Some("00101".into()),
        rules: vec!["warden-dns-0123456789abcdef".into(); 5],
        created_at: 1_700_000_000,
        updated_at: 1_700_000_000,
    }
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let temp = rt.block_on(testkit::TempStore::sqlite());
    let store = temp.store.clone();
    let mut group = c.benchmark_group("gx_writer");
    group.throughput(Throughput::Elements(BATCH));

    let next = AtomicU64::new(0);
    group.bench_function("new_sessions_1024", |b| {
        b.iter_batched(
            || {
                (0..BATCH)
                    .map(|_| {
                        let k = next.fetch_add(1, Ordering::Relaxed);
                        GxChange::Put(session(format!("new;{k}"), k))
                    })
                    .collect::<Vec<_>>()
            },
            |rows| rt.block_on(store.apply_gx_changes(&rows)).unwrap(),
            BatchSize::PerIteration,
        );
    });

    let round = AtomicU64::new(0);
    group.bench_function("churn_1024", |b| {
        b.iter_batched(
            || {
                let r = round.fetch_add(1, Ordering::Relaxed);
                let half = BATCH / 2;
                let mut rows: Vec<GxChange> =
                    (0..half).map(|i| GxChange::Put(session(format!("churn;{r};{i}"), i))).collect();
                if r > 0 {
                    rows.extend((0..half).map(|i| GxChange::Delete(format!("churn;{};{i}", r - 1))));
                }
                rows
            },
            |rows| rt.block_on(store.apply_gx_changes(&rows)).unwrap(),
            BatchSize::PerIteration,
        );
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
