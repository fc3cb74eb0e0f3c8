//! A steering job over many SIMs with the in-process SMS network of cards (docs/performance.md):
//! plans the job for one risky network and runs it at the configured send rate, then reports how long
//! planning and sending took against the time the rate allows (SIMs / rate). One run, not a Criterion
//! sampling loop: `OTA_BENCH_SIMS` (default 100000) SIMs, `OTA_BENCH_RATE` (default 1000) messages a
//! second.
//!
//! `cargo bench -p otajobs --bench steering`

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

fn env(name: &str, default: f64) -> f64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn main() {
    let sims = env("OTA_BENCH_SIMS", 100_000.0) as u32;
    let rate = env("OTA_BENCH_RATE", 1000.0);
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    rt.block_on(async move {
        let setup = Instant::now();
        let mut settings = common::settings(rate);
        settings.por_timeout = Duration::from_secs(30);
        settings.window = 512;
        let p = common::platform(sims, &[0, 1, 2], settings).await;
        eprintln!("provisioned {sims} SIMs with OTA keys and cards in {:.1} s", setup.elapsed().as_secs_f64());
        let plan = Instant::now();
        let job = p
            .engine
            .mark_risky(&["26201".parse().expect("PLMN")], &[], None, "bench")
            .await
            .expect("plan")
            .expect("a job");
        let planned = plan.elapsed();
        let send = Instant::now();
        let job = p.engine.run_job(&job.id).await.expect("run");
        let sent = send.elapsed();
        let allowed = Duration::from_secs_f64(f64::from(sims) / rate);
        println!(
            "steering job: {} SIMs planned in {:.2} s; sent and confirmed in {:.2} s at a configured {rate} msg/s \
             (the rate allows {:.2} s; {:.0} SIMs/s achieved); done {}, failed {}; {}",
            job.total,
            planned.as_secs_f64(),
            sent.as_secs_f64(),
            allowed.as_secs_f64(),
            f64::from(sims) / sent.as_secs_f64(),
            job.done,
            job.failed,
            if sent <= allowed.mul_f64(1.10) { "within the rate" } else { "SLOWER than the rate" }
        );
        let sent = p.network.sent();
        let last: std::collections::BTreeSet<&String> = sent[sent.len() - 3..].iter().collect();
        let critical = [common::imsi(0), common::imsi(1), common::imsi(2)];
        assert_eq!(last, critical.iter().collect(), "the three critical SIMs are sent last");
    });
}
