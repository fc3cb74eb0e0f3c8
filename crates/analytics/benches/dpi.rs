//! DPI over the mixed payload corpus of [`analytics::dpi::corpus`] (seeded, about 4 MiB; the same
//! corpus `warden bench dpi` scans): HTTP requests, JSON telemetry, MQTT-like topic/value text and
//! random binary in payloads of 64–1460 bytes, with a few personal data in clear (about one payload
//! in fifty). Throughput is in bytes. Run: `cargo bench -p analytics --bench dpi`.
//!
//! Two measurements of the same work: wall-clock time (Criterion's default) and the benchmark
//! thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`), which on a shared machine leaves out the time the
//! thread waits for a core, so it says what one core does.

// `criterion_group!` generates a public function without documentation.
#![allow(missing_docs)]

use std::hint::black_box;

use std::time::Duration;

use analytics::dpi::{corpus, DpiConfig, Scanner};
use criterion::measurement::{Measurement, ValueFormatter};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rustix::time::{clock_gettime, ClockId};

/// The benchmark thread's CPU time, in nanoseconds.
struct ThreadCpuTime;

fn cpu_now() -> Duration {
    let t = clock_gettime(ClockId::ThreadCPUTime);
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

impl Measurement for ThreadCpuTime {
    type Intermediate = Duration;
    type Value = Duration;
    fn start(&self) -> Duration {
        cpu_now()
    }
    fn end(&self, start: Duration) -> Duration {
        cpu_now().saturating_sub(start)
    }
    fn add(&self, a: &Duration, b: &Duration) -> Duration {
        *a + *b
    }
    fn zero(&self) -> Duration {
        Duration::ZERO
    }
    fn to_f64(&self, v: &Duration) -> f64 {
        v.as_nanos() as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        &CpuFormatter
    }
}

struct CpuFormatter;

impl ValueFormatter for CpuFormatter {
    fn scale_values(&self, typical_ns: f64, values: &mut [f64]) -> &'static str {
        let (factor, unit) = if typical_ns < 1e3 {
            (1.0, "ns (CPU)")
        } else if typical_ns < 1e6 {
            (1e-3, "µs (CPU)")
        } else {
            (1e-6, "ms (CPU)")
        };
        values.iter_mut().for_each(|v| *v *= factor);
        unit
    }
    fn scale_throughputs(&self, _typical: f64, throughput: &Throughput, values: &mut [f64]) -> &'static str {
        let (per, unit) = match *throughput {
            Throughput::Bytes(n) | Throughput::BytesDecimal(n) => (n as f64 / f64::from(1u32 << 30), "GiB/s per core"),
            Throughput::Elements(n) => (n as f64, "elem/s per core"),
            Throughput::Bits(n) => (n as f64, "bit/s per core"),
        };
        values.iter_mut().for_each(|ns| *ns = per / (*ns * 1e-9));
        unit
    }
    fn scale_for_machines(&self, _values: &mut [f64]) -> &'static str {
        "ns"
    }
}

fn scan<M: Measurement>(c: &mut Criterion<M>, name: &str) {
    let corpus = corpus::mixed(corpus::SEED, corpus::BENCH_BYTES);
    let bytes: usize = corpus.iter().map(Vec::len).sum();
    let scanner = Scanner::new(DpiConfig::default()).unwrap();
    let found: usize = corpus.iter().map(|p| scanner.scan_to_vec(p).len()).sum();
    eprintln!("corpus: {} payloads, {bytes} bytes, {found} findings", corpus.len());
    let mut out = Vec::new();
    let mut group = c.benchmark_group(name);
    group.throughput(Throughput::Bytes(bytes as u64));
    group.bench_function("mixed_payloads_default_kinds", |b| {
        b.iter(|| {
            for p in &corpus {
                out.clear();
                scanner.scan(black_box(p), &mut out);
                black_box(&out);
            }
        })
    });
    group.finish();
}

fn wall_clock(c: &mut Criterion) {
    scan(c, "dpi");
}

fn cpu_time(c: &mut Criterion<ThreadCpuTime>) {
    scan(c, "dpi_cpu_time");
}

criterion_group!(benches, wall_clock);
criterion_group! {
    name = cpu;
    config = Criterion::default().with_measurement(ThreadCpuTime);
    targets = cpu_time
}
criterion_main!(benches, cpu);
