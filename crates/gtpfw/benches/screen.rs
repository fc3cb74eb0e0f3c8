//! The engine's screen path: a Modify Bearer Request on a tunnel the partner owns (owner check,
//! priority admission, the request remembered) and its response (matched and forgotten), through
//! `Engine::uplink` and `Engine::downlink`, on one thread and on two threads at once (each thread a
//! partner node of its own, on its own tunnels, as the proxy's two receiving tasks would be).
//!
//! Run: `cargo bench -p gtpfw --bench screen -- --warm-up-time 1 --measurement-time 3`. The
//! throughput is in screened messages (two per iteration on one thread, four on two threads).
//! `gtpfw_screen_modify_bearer` measures wall-clock time (on an idle machine, two threads should
//! take about as long as one for twice the messages); `gtpfw_screen_modify_bearer_cpu` the threads'
//! CPU time added up (what a message costs whatever else runs on a shared machine: lock contention
//! shows as more CPU per message on two threads).

// `criterion_group!` generates a public function without documentation.
#![allow(missing_docs)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::hint::black_box;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use firewall::Now;
use gtpc::Plmn;
use gtpfw::{Engine, GtpConfig, RegistrationLookup, Rules, Verdict};

/// Tunnels per partner node.
const TUNNELS: u32 = 10_000;

struct Anywhere;
impl RegistrationLookup for Anywhere {
    fn registration(&self, _: &str) -> Option<(Plmn, SystemTime)> {
        Some((Plmn::new("262", "01").unwrap(), SystemTime::UNIX_EPOCH))
    }
}

/// One partner node's traffic: Modify Bearer Requests and their responses, one per tunnel.
struct Node {
    addr: SocketAddr,
    pairs: Vec<(Vec<u8>, Vec<u8>)>,
}

/// An engine with `nodes` nodes of one partner, each with its tunnels set up.
fn engine(nodes: u16) -> (Arc<Engine>, Vec<Node>, Instant) {
    let c = GtpConfig::from_toml(
        "max_pending_per_partner = 1000000\n[home]\nimsi_prefixes = [\"00101\"]\n[overload]\ncapacity_per_sec = 1000000000\n\
         [budgets]\nimsi_setups_per_min = 1000000\n[[partners]]\nname = \"p\"\naddresses = [\"127.0.0.2\"]\nplmns = [\"26201\"]\n\
         setup_rate_per_sec = 100000000\nmax_tunnels = 100000000\n",
    )
    .unwrap();
    let t0 = Instant::now();
    let e = Engine::new(Rules::compile(&c).unwrap(), t0);
    e.set_registration_lookup(Arc::new(Anywhere));
    let now = Now { instant: t0, wall: SystemTime::now() };
    let nodes = (0..nodes)
        .map(|k| {
            let addr = SocketAddr::from(([127, 0, 0, 2], 2123 + k));
            let pairs = (0..TUNNELS)
                .map(|i| {
                    let n = u32::from(k) * TUNNELS + i;
                    let (sgw, pgw) = (n + 1, 0x100_0000 + n);
                    let imsi = format!("00101{n:010}");
                    assert_eq!(
                        e.uplink(addr, &common::csr(&imsi, ("262", "01"), i, sgw), now).verdict,
                        Verdict::Relay(None)
                    );
                    e.downlink(addr, &common::csresp(i, sgw, pgw), now);
                    let seq = TUNNELS + i;
                    (common::mbr(pgw, seq), common::mbresp(sgw, seq))
                })
                .collect();
            Node { addr, pairs }
        })
        .collect();
    (Arc::new(e), nodes, t0)
}

/// The calling thread's CPU time so far.
fn thread_cpu() -> Duration {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

/// Screens `iters` request/response pairs of `node`, its clock running from `t0`: the wall-clock
/// and the thread's CPU time taken.
fn run(e: &Engine, node: &Node, t0: Instant, iters: u64) -> (Duration, Duration) {
    let wall = SystemTime::now();
    let cpu = thread_cpu();
    let started = Instant::now();
    for i in 0..iters {
        let (req, resp) = &node.pairs[(i % u64::from(TUNNELS)) as usize];
        let now = Now { instant: t0 + Duration::from_nanos(i), wall };
        let up = e.uplink(node.addr, black_box(req), now);
        debug_assert_eq!(up.verdict, Verdict::Relay(None));
        black_box(up);
        black_box(e.downlink(node.addr, black_box(resp), now));
    }
    (started.elapsed(), thread_cpu() - cpu)
}

/// Runs `iters` pairs on one thread per node at once: the wall-clock time, and the threads' CPU
/// time added up.
fn on_threads(e: &Engine, nodes: &[Node], t0: Instant, iters: u64) -> (Duration, Duration) {
    let started = Instant::now();
    let cpu = std::thread::scope(|s| {
        let threads: Vec<_> = nodes.iter().map(|node| s.spawn(move || run(e, node, t0, iters).1)).collect();
        threads.into_iter().map(|t| t.join().unwrap()).sum()
    });
    (started.elapsed(), cpu)
}

fn screen(c: &mut Criterion) {
    let (e, nodes, t0) = engine(2);
    for (group, cpu) in [("gtpfw_screen_modify_bearer", false), ("gtpfw_screen_modify_bearer_cpu", true)] {
        let pick = move |(wall, used): (Duration, Duration)| if cpu { used } else { wall };
        let mut g = c.benchmark_group(group);
        g.throughput(Throughput::Elements(2));
        g.bench_function("one_thread", |b| b.iter_custom(|iters| pick(run(&e, &nodes[0], t0, iters))));
        g.throughput(Throughput::Elements(4));
        g.bench_function("two_threads", |b| b.iter_custom(|iters| pick(on_threads(&e, &nodes, t0, iters))));
        g.finish();
    }
}

criterion_group!(benches, screen);
criterion_main!(benches);
