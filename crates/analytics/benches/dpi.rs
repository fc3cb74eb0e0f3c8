//! DPI over a mixed payload corpus generated here, deterministically: HTTP requests and responses,
//! JSON telemetry (timestamps, readings, coordinates), MQTT-like topic/value text and random binary,
//! about 4 MiB in payloads of 64–1460 bytes, with a few personal data in clear (about one payload in
//! fifty). Throughput is in bytes. Run: `cargo bench -p analytics --bench dpi`.
//!
//! Two measurements of the same work: wall-clock time (Criterion's default) and the benchmark
//! thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`), which on a shared machine leaves out the time the
//! thread waits for a core, so it says what one core does.

// `criterion_group!` generates a public function without documentation.
#![allow(missing_docs)]

use std::hint::black_box;

use std::time::Duration;

use analytics::dpi::{DpiConfig, Scanner};
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

/// xorshift64*: a fixed sequence, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const SECRETS: [&str; 6] = [
    "card=4111 1111 1111 1111",
    "\"iban\":\"DE89370400440532013000\"",
    "contact: jane.doe@example.org",
    "$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47",
    "\"lat\":48.85837,\"lon\":2.29448",
    "ssn 123-45-6789",
];

fn payload(rng: &mut Rng, i: usize) -> Vec<u8> {
    let mut p = match i % 4 {
        0 => format!(
            "POST /api/v2/devices/{}/telemetry HTTP/1.1\r\nHost: iot.example.net\r\nUser-Agent: meter-fw/3.{}.{}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nX-Request-Id: {:016x}\r\nAccept: */*\r\n\r\n",
            rng.below(1_000_000), rng.below(10), rng.below(100), rng.below(2000), rng.next()
        )
        .into_bytes(),
        1 => {
            let mut s = String::from("{\"device\":\"");
            s += &format!("{:x}", rng.next());
            s += "\",\"readings\":[";
            for k in 0..(4 + rng.below(20)) {
                if k > 0 {
                    s.push(',');
                }
                s += &format!(
                    "{{\"ts\":{},\"temp\":{}.{},\"hum\":{}.{},\"v\":{},\"status\":\"ok\"}}",
                    1_764_000_000_000u64 + rng.below(1_000_000_000),
                    rng.below(40),
                    rng.below(10),
                    rng.below(100),
                    rng.below(100),
                    rng.below(5000)
                );
            }
            s += "],\"fw\":\"2.4.17\",\"seq\":";
            s += &rng.below(100_000_000).to_string();
            s.push('}');
            s.into_bytes()
        }
        2 => {
            let mut s = String::new();
            for _ in 0..(3 + rng.below(12)) {
                s += &format!(
                    "tenant/{}/site-{}/sensor/{}/state {} qos=1 retain=0 t={}\n",
                    rng.below(50),
                    rng.below(300),
                    rng.below(10_000),
                    ["on", "off", "idle", "alarm"][rng.below(4) as usize],
                    rng.below(1_000_000)
                );
            }
            s.into_bytes()
        }
        _ => (0..(64 + rng.below(1396))).map(|_| rng.next() as u8).collect(),
    };
    if i % 50 == 7 {
        let secret = SECRETS[(i / 50) % SECRETS.len()].as_bytes();
        let at = rng.below(p.len() as u64) as usize;
        p.splice(at..at, [b" ", secret, b" "].concat());
    }
    p.truncate(1460);
    p
}

fn corpus() -> Vec<Vec<u8>> {
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let mut out = Vec::new();
    let mut total = 0;
    let mut i = 0;
    while total < 4 << 20 {
        let p = payload(&mut rng, i);
        total += p.len();
        out.push(p);
        i += 1;
    }
    out
}

fn scan<M: Measurement>(c: &mut Criterion<M>, name: &str) {
    let corpus = corpus();
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
