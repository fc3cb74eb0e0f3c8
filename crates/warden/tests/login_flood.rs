//! A flood of logins does not starve the HSS (issue #12): 120 clients, each from its own loopback
//! address so the per-source limiter does not stop them, keep sending logins (argon2id each) while
//! an MME measures its AIR round trips. Password hashing runs on a bounded pool apart from the
//! async workers that serve Diameter, so the AIR p99 under the flood stays within a small multiple
//! of the p99 without it. Before the fix argon2id ran on those workers and the p99 rose about a
//! hundredfold. The test compares the two runs on the same machine (a ratio, not a time limit), and
//! checks that the flood really filled the hashing pool.

mod common;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::REALM;
use diameter::result_code as rc;
use testkit::s6a::{self, ask, connect_mme, Node, PLMN_00101};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpSocket;

const CLIENTS: u8 = 120;
const AIRS: usize = 300;

/// AIR round trips, one at a time; returns the 99th percentile.
async fn air_p99(peer: &diameter::transport::PeerHandle, round: &str) -> Duration {
    let mut rtts = Vec::with_capacity(AIRS);
    for i in 0..AIRS {
        let air = s6a::air(
            Node::new("mme1.home.example", REALM),
            REALM,
            "001010000000001",
            PLMN_00101,
            1,
            &format!("{round};{i}"),
        );
        let t = Instant::now();
        let a = ask(peer, air).await;
        rtts.push(t.elapsed());
        assert_eq!(a.result_code(), Some(rc::SUCCESS));
    }
    rtts.sort();
    eprintln!(
        "{round}: p50 {:?} p90 {:?} p99 {:?} max {:?}",
        rtts[AIRS / 2],
        rtts[AIRS * 9 / 10],
        rtts[AIRS * 99 / 100],
        rtts[AIRS - 1]
    );
    rtts[AIRS * 99 / 100]
}

/// One login from `source`; returns the HTTP status.
async fn login(http: SocketAddr, source: IpAddr, n: u64) -> Option<u16> {
    let socket = TcpSocket::new_v4().ok()?;
    socket.bind(SocketAddr::new(source, 0)).ok()?;
    let mut s = socket.connect(http).await.ok()?;
    let body = format!(r#"{{"username":"nobody{n}","password":"not the right password at all"}}"#);
    let req = format!(
        "POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.ok()?;
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.ok()?;
    String::from_utf8_lossy(&out).split(' ').nth(1)?.parse().ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hss_keeps_its_latency_under_a_login_flood() {
    let n = common::node("7c", &["mme1.home.example"], "login_per_minute = 1000000.0\n", "[sqn]\nblock = 50\n");
    n.import_examples(&["profiles.toml", "sims.csv"]);
    let _server = n.start().await;
    let mme = connect_mme(n.diameter, Node::new("mme1.home.example", REALM), 16).await.unwrap();
    air_p99(&mme.peer, "warm-up").await;
    let quiet = air_p99(&mme.peer, "quiet").await;

    let stop = Arc::new(AtomicBool::new(false));
    let (hashed, busy) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    // The attackers get a runtime of their own: on the MME's, their 120 busy tasks would delay the
    // MME's own reading of its answers and the test would measure itself. In the field they run on
    // other machines; here they share this one, so their threads run at a lower CPU priority: the
    // HSS competes with the server's work for them, not with their own.
    let flood = {
        let (stop, hashed, busy, http) = (stop.clone(), hashed.clone(), busy.clone(), n.http);
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .on_thread_start(|| {
                    let _ = rustix::process::setpriority_process(Some(rustix::thread::gettid()), 15);
                })
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let mut clients = tokio::task::JoinSet::new();
                for c in 0..CLIENTS {
                    let (stop, hashed, busy) = (stop.clone(), hashed.clone(), busy.clone());
                    let source = IpAddr::V4(Ipv4Addr::new(127, 0, 1, c + 1));
                    clients.spawn(async move {
                        let mut i = 0u64;
                        while !stop.load(Ordering::Relaxed) {
                            i += 1;
                            match login(http, source, i).await {
                                Some(401) => hashed.fetch_add(1, Ordering::Relaxed),
                                Some(503) => busy.fetch_add(1, Ordering::Relaxed),
                                other => panic!("login answered {other:?}"),
                            };
                        }
                    });
                }
                while let Some(c) = clients.join_next().await {
                    c.unwrap();
                }
            });
        })
    };
    // Let the flood fill the hashing pool first.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let answered = || hashed.load(Ordering::Relaxed) + busy.load(Ordering::Relaxed);
    let before = answered();
    let flooded = air_p99(&mme.peer, "flood").await;
    let during = answered() - before;
    stop.store(true, Ordering::Relaxed);
    tokio::task::spawn_blocking(move || flood.join()).await.unwrap().expect("the flood stops cleanly");

    let (hashed, busy) = (hashed.load(Ordering::Relaxed), busy.load(Ordering::Relaxed));
    eprintln!("AIR p99 quiet {quiet:?}, under the flood {flooded:?}; {during} logins answered meanwhile; in all {hashed} hashed, {busy} refused as busy");
    let bound = quiet.max(Duration::from_millis(2)) * 10;
    assert!(flooded <= bound, "AIR p99 {flooded:?} under the login flood, {quiet:?} without: more than tenfold");
    // Every client keeps one login in flight throughout; how many are answered during the window
    // depends on how much CPU the HSS leaves (the point), so it is reported, not asserted. That the
    // flood saturated the hashing pool is: some logins were hashed, others refused as busy.
    assert!(hashed > 0 && busy > 0, "the flood filled the hashing pool ({hashed} hashed, {busy} busy)");
}
