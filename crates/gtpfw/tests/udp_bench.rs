//! End to end through the UDP proxy on loopback: the load generator and P-GW responder of
//! `gtpfw::loadgen` (what `warden bench gtp` runs) against the proxy in this process, on its own
//! runtime (as `warden serve` would be a process of its own): first directly to the responder, then
//! through the proxy at the same rate; the added latency is the difference. Ignored by default (it
//! measures; it asserts only that the run worked):
//! `GTP_BENCH_RATE=100000 cargo test --release -p gtpfw --test udp_bench -- --ignored --nocapture`
//! (`GTP_BENCH_RATE` Modify Bearer Requests/s, each answered: twice as many screened messages;
//! `GTP_BENCH_SECS`, `GTP_BENCH_SOCKETS`, `GTP_BENCH_WORKERS` the proxy's receiving tasks).

use std::net::SocketAddr;
use std::time::Duration;

use gtpfw::loadgen::{self, LoadSpec};
use gtpfw::{Gtp, GtpConfig};
use tokio_util::sync::CancellationToken;

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// CPU seconds (user + system) the threads named `name` used so far (Linux: /proc/self/task).
fn cpu_secs(name: &str) -> f64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else { return 0.0 };
    let mut ticks = 0u64;
    for t in tasks.flatten() {
        let comm = std::fs::read_to_string(t.path().join("comm")).unwrap_or_default();
        if comm.trim() != name {
            continue;
        }
        let stat = std::fs::read_to_string(t.path().join("stat")).unwrap_or_default();
        // Fields after the command name (which ends with ')'), from the state: utime and stime are
        // the 12th and 13th (fields 14 and 15 of proc(5)).
        let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
        let f: Vec<&str> = rest.split_whitespace().collect();
        let field = |i: usize| f.get(i).and_then(|x| x.parse::<u64>().ok()).unwrap_or(0);
        ticks += field(11) + field(12);
    }
    ticks as f64 / 100.0
}

fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[test]
#[ignore = "a measurement, run by hand with --release"]
fn screened_messages_through_the_udp_proxy() {
    let (rate, secs, sockets, workers) = (
        env("GTP_BENCH_RATE", 100_000),
        env("GTP_BENCH_SECS", 5),
        env("GTP_BENCH_SOCKETS", 4),
        env("GTP_BENCH_WORKERS", 2),
    );
    let pgw: SocketAddr = format!("127.0.0.1:{}", free_udp_port()).parse().unwrap();
    let config = GtpConfig::from_toml(&format!(
        "listen = \"127.0.0.1:0\"\nupstream = \"{pgw}\"\nworkers = {workers}\nmax_pending_per_partner = 1000000\n\
         [home]\nimsi_prefixes = [\"00101\"]\n[overload]\ncapacity_per_sec = 100000000\n\
         [budgets]\nimsi_setups_per_min = 1000000\nimsi_burst = 1000\n\
         [[partners]]\nname = \"bench\"\naddresses = [\"127.0.0.2\"]\nplmns = [\"26201\"]\n\
         setup_rate_per_sec = 100000000\nmax_tunnels = 100000000\n"
    ))
    .unwrap();
    let gtp = Gtp::new(config).unwrap();
    // The proxy on a runtime of its own, two threads.
    let proxy_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("gtp-proxy")
        .enable_all()
        .build()
        .unwrap();
    let sock = proxy_rt.block_on(gtp.bind()).unwrap();
    let listen = sock.local_addr().unwrap();
    let stop = CancellationToken::new();
    let run = proxy_rt.spawn({
        let (gtp, stop) = (gtp.clone(), stop.clone());
        async move { gtp.run(sock, stop).await }
    });
    let load_rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let spec = |direct: bool| LoadSpec {
        target: listen,
        pgw,
        direct,
        source: "127.0.0.2".parse().unwrap(),
        sockets: sockets as usize,
        sessions: 10_000,
        rate,
        duration: secs,
    };
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("load average before: {}", load.trim());
    let direct = load_rt.block_on(loadgen::run(&spec(true))).unwrap();
    print!("{}", direct.to_text());
    std::thread::sleep(Duration::from_millis(500));
    let cpu_before = cpu_secs("gtp-proxy");
    let through = load_rt.block_on(loadgen::run(&spec(false))).unwrap();
    let cpu = cpu_secs("gtp-proxy") - cpu_before;
    print!("{}", through.to_text());
    // Requests the proxy screened and relayed (set-up included), and the responses that came back
    // through it: what the CPU time above was spent on, at least.
    let screened = gtp.engine().observer.count("bench", gtpfw::Rule::Relay, firewall::Action::Passed)
        + through.answered
        + through.sessions;
    println!(
        "proxy CPU: {cpu:.2} s for {screened} screened messages (set-up included): {:.2} µs per message, \
         {:.0} messages/s per core",
        cpu * 1e6 / screened.max(1) as f64,
        screened as f64 / cpu.max(1e-9)
    );
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("load average after: {}", load.trim());
    for p in [50.0, 90.0, 99.0, 99.9] {
        println!(
            "added latency p{p}: {} µs",
            through.latency.percentile(p) as i64 - direct.latency.percentile(p) as i64
        );
    }
    println!("json direct: {}\njson proxy: {}", direct.to_json(), through.to_json());
    assert!(through.sessions > 0 && through.answered > 0, "the run worked");
    stop.cancel();
    proxy_rt.block_on(run).unwrap();
}
