//! CPU time per message of decode and decode+encode of the scapy Create Session Request, read from the
//! thread's own CPU clock (`/proc/thread-self/stat`) rather than the wall clock, so that a number taken
//! on a machine shared with other work is still the codec's own cost. Ignored by default (it measures,
//! it asserts nothing): `cargo test --release -p gtpc --test cpu_time -- --ignored --nocapture`.
//! Criterion's wall-clock numbers are in `benches/codec.rs`.

use std::hint::black_box;

/// User + system CPU time of this thread, in clock ticks (1/100 s on Linux).
fn cpu_ticks() -> u64 {
    let s = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
    let f: Vec<&str> = s.rsplit(')').next().unwrap().split_whitespace().collect();
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

#[test]
#[ignore = "a measurement, run by hand with --release"]
fn cpu_time_per_create_session_request() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/v2_create_session_request.hex");
    let csr = hex::decode(std::fs::read_to_string(path).unwrap().trim()).unwrap();
    let mut out = Vec::with_capacity(512);
    for (name, encode) in [("decode", false), ("decode+encode", true)] {
        let n = 3_000_000u64;
        let (t0, w0) = (cpu_ticks(), std::time::Instant::now());
        for _ in 0..n {
            let m = gtpc::v2::Message::decode(black_box(&csr)).unwrap();
            if encode {
                out.clear();
                m.encode_into(&mut out);
                black_box(&out);
            }
            black_box(m);
        }
        let cpu_ns = (cpu_ticks() - t0) as f64 * 1e7 / n as f64;
        let wall_ns = w0.elapsed().as_secs_f64() * 1e9 / n as f64;
        println!("{name}: {cpu_ns:.0} ns CPU ({:.2} M msg/s per core), {wall_ns:.0} ns wall", 1e3 / cpu_ns);
    }
}
