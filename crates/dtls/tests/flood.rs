//! What a UDP server on an open port gets: floods of ClientHellos without cookies (answered with a
//! HelloVerifyRequest, no state kept), forged and replayed cookies, garbage of every shape before and
//! inside sessions, and more handshakes than the limits allow. After all of it the server still
//! completes a real handshake.

mod common;

use std::net::UdpSocket;
use std::time::Duration;

use common::start;
use dtls::{Limits, Stats};

/// A ClientHello as a DTLS 1.2 client sends it (RFC 6347 §4.2.2), offering PSK-AES128-CCM8.
fn client_hello(record_seq: u64, message_seq: u16, random: [u8; 32], cookie: &[u8]) -> Vec<u8> {
    let mut body = vec![0xfe, 0xfd];
    body.extend_from_slice(&random);
    body.push(0);
    body.push(cookie.len() as u8);
    body.extend_from_slice(cookie);
    body.extend_from_slice(&[0, 2, 0xc0, 0xa8, 1, 0]);
    let mut hs = vec![1];
    hs.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    hs.extend_from_slice(&message_seq.to_be_bytes());
    hs.extend_from_slice(&[0, 0, 0]);
    hs.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    hs.extend_from_slice(&body);
    let mut rec = vec![22, 0xfe, 0xfd, 0, 0];
    rec.extend_from_slice(&record_seq.to_be_bytes()[2..]);
    rec.extend_from_slice(&(hs.len() as u16).to_be_bytes());
    rec.extend_from_slice(&hs);
    rec
}

/// The cookie of a HelloVerifyRequest, or `None` if `d` is not one.
fn hvr_cookie(d: &[u8]) -> Option<Vec<u8>> {
    if d.len() < 13 + 12 + 3 || d[0] != 22 || d[13] != 3 {
        return None;
    }
    let n = usize::from(d[13 + 12 + 2]);
    d.get(13 + 12 + 3..13 + 12 + 3 + n).map(<[u8]>::to_vec)
}

fn socket() -> UdpSocket {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
    s
}

fn recv(s: &UdpSocket) -> Option<Vec<u8>> {
    let mut buf = [0u8; 2048];
    s.recv(&mut buf).ok().map(|n| buf[..n].to_vec())
}

/// A deterministic xorshift generator: the same garbage on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// Paces a burst: a pause every 50 datagrams, so the server's socket buffer does not overflow and
/// drop the datagrams that the checks after the burst send (loopback UDP drops what does not fit).
fn pace(i: usize) {
    if i % 50 == 49 {
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Lets the server work through what was sent.
fn settle() {
    std::thread::sleep(Duration::from_millis(300));
}

/// A real PSK handshake and round trip still work.
async fn still_serves(addr: std::net::SocketAddr) {
    tokio::task::spawn_blocking(move || {
        let ctx = common::psk_client_context("dev", b"k3y-k3y-k3y", "PSK-AES128-CCM8");
        let mut s = common::connect(&ctx, addr).expect("handshake after the abuse");
        assert_eq!(common::roundtrip(&mut s, b"ok?").unwrap(), b"dev:ok?");
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_hellos_without_cookies_keeps_no_state() {
    let server = start(&[("dev", b"k3y-k3y-k3y")], None, Limits::default()).await;
    let addr = server.addr;
    let answered = tokio::task::spawn_blocking(move || {
        let s = socket();
        s.connect(addr).unwrap();
        let mut answered = 0;
        for burst in 0..40u8 {
            for i in 0..50u8 {
                s.send(&client_hello(0, 0, [burst ^ i; 32], b"")).unwrap();
                // A forged cookie is no better than none.
                s.send(&client_hello(1, 1, [i; 32], &[burst; 32])).unwrap();
            }
            while let Some(d) = recv(&s) {
                assert!(hvr_cookie(&d).is_some_and(|c| c.len() == 32), "only HelloVerifyRequests: {d:?}");
                answered += 1;
                s.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
            }
        }
        // Whatever a busy machine answered late.
        s.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
        while let Some(d) = recv(&s) {
            assert!(hvr_cookie(&d).is_some());
            answered += 1;
        }
        answered
    })
    .await
    .unwrap();
    assert!(answered >= 3600, "most of the 4000 hellos were answered: {answered}");
    assert_eq!(Stats::get(&server.stats.sessions), 0, "no session from a hello without a valid cookie");
    assert_eq!(Stats::get(&server.stats.handshaking), 0);
    assert_eq!(Stats::get(&server.stats.hello_verify_sent), answered as u64);
    still_serves(addr).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cookie_works_only_for_its_own_hello_and_address() {
    let server = start(&[("dev", b"k3y-k3y-k3y")], None, Limits::default()).await;
    let addr = server.addr;
    tokio::task::spawn_blocking(move || {
        let (a, b) = (socket(), socket());
        a.send_to(&client_hello(0, 0, [1; 32], b""), addr).unwrap();
        let cookie = hvr_cookie(&recv(&a).unwrap()).unwrap();
        // From another address, or with another random: a new HelloVerifyRequest, no session.
        b.send_to(&client_hello(1, 1, [1; 32], &cookie), addr).unwrap();
        assert!(hvr_cookie(&recv(&b).unwrap()).is_some());
        a.send_to(&client_hello(1, 1, [2; 32], &cookie), addr).unwrap();
        assert!(hvr_cookie(&recv(&a).unwrap()).is_some());
        // The right one starts the handshake: OpenSSL's ServerHello comes back.
        a.send_to(&client_hello(1, 1, [1; 32], &cookie), addr).unwrap();
        let d = recv(&a).unwrap();
        assert_eq!((d[0], d[13]), (22, 2), "a ServerHello");
    })
    .await
    .unwrap();
    assert_eq!(Stats::get(&server.stats.handshaking), 1);
    assert_eq!(Stats::get(&server.stats.sessions), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_never_hurts() {
    let server = start(&[("dev", b"k3y-k3y-k3y")], None, Limits::default()).await;
    let addr = server.addr;
    tokio::task::spawn_blocking(move || {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let s = socket();
        s.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
        // Random datagrams of every length, and every truncation and many bit flips of a hello
        // with a valid cookie (a handshake in progress gets them too).
        for i in 0..2000 {
            let n = (rng.next() % 1500) as usize;
            s.send_to(&rng.bytes(n), addr).unwrap();
            pace(i);
        }
        settle();
        s.send_to(&client_hello(0, 0, [9; 32], b""), addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let cookie = recv(&s).and_then(|d| hvr_cookie(&d));
        s.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
        let good = client_hello(1, 1, [9; 32], &cookie.expect("a cookie"));
        for n in 0..good.len() {
            s.send_to(&good[..n], addr).unwrap();
            pace(n);
        }
        for i in 0..2000 {
            let mut d = good.clone();
            let at = (rng.next() as usize) % d.len();
            d[at] ^= 1 << (rng.next() % 8);
            s.send_to(&d, addr).unwrap();
            pace(i);
        }
        s.send_to(&[], addr).unwrap();
    })
    .await
    .unwrap();
    // Garbage inside an established session: dropped, the session goes on.
    tokio::task::spawn_blocking(move || {
        let ctx = common::psk_client_context("dev", b"k3y-k3y-k3y", "PSK-AES128-GCM-SHA256");
        let mut c = common::connect(&ctx, addr).unwrap();
        let raw = c.get_ref().0.try_clone().unwrap();
        let mut rng = Rng(42);
        for i in 0..500 {
            // Empty ones too: OpenSSL would take an empty read for the end of the stream.
            let n = (rng.next() % 300) as usize;
            let mut d = rng.bytes(n);
            if rng.next().is_multiple_of(2) && d.len() > 13 {
                // Looks like an application-data record of epoch 1.
                d[..5].copy_from_slice(&[23, 0xfe, 0xfd, 0, 1]);
            }
            raw.send(&d).unwrap();
            pace(i);
        }
        settle();
        assert_eq!(common::roundtrip(&mut c, b"still here").unwrap(), b"dev:still here");
    })
    .await
    .unwrap();
    assert_eq!(server.handler.got.lock().unwrap().len(), 1, "only the real datagram reached the handler");
    still_serves(addr).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handshakes_and_sessions_are_bounded() {
    let limits = Limits {
        max_handshakes: 2,
        max_sessions: 3,
        handshake_timeout: Duration::from_millis(700),
        ..Limits::default()
    };
    let server = start(&[("dev", b"k3y-k3y-k3y")], None, limits).await;
    let addr = server.addr;
    // Three peers start handshakes and never finish them: the third is refused.
    let half_open = move |random: u8| {
        let s = socket();
        s.send_to(&client_hello(0, 0, [random; 32], b""), addr).unwrap();
        let cookie = hvr_cookie(&recv(&s).unwrap()).unwrap();
        s.send_to(&client_hello(1, 1, [random; 32], &cookie), addr).unwrap();
        (recv(&s).is_some(), s)
    };
    let (answered, _keep) = tokio::task::spawn_blocking(move || {
        let r: Vec<_> = (1..=3).map(half_open).collect();
        (r.iter().map(|(a, _)| *a).collect::<Vec<_>>(), r)
    })
    .await
    .unwrap();
    assert_eq!(answered, [true, true, false], "the third handshake is refused");
    assert_eq!(Stats::get(&server.stats.refused_busy), 1);
    assert_eq!(Stats::get(&server.stats.handshaking), 2);
    // Unfinished handshakes time out and free their places.
    assert!(common::eventually(|| Stats::get(&server.stats.handshaking) == 0).await);
    assert_eq!(Stats::get(&server.stats.sessions), 0);
    // Three established sessions fill the server; a fourth peer is refused.
    let clients = tokio::task::spawn_blocking(move || {
        let ctx = common::psk_client_context("dev", b"k3y-k3y-k3y", "PSK-AES128-CCM8");
        let ok: Vec<_> = (0..3).map(|_| common::connect(&ctx, addr).unwrap()).collect();
        assert!(common::connect(&ctx, addr).is_err(), "a fourth session is refused");
        ok
    })
    .await
    .unwrap();
    assert_eq!(Stats::get(&server.stats.sessions), 3);
    drop(clients);
}

/// Handshakes per source: a source starting handshakes in a loop (valid cookies, so it does receive
/// at its address) gets its burst and then the rate; the rest are dropped and counted. A device at
/// another address still completes its handshake and is served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handshakes_per_source_are_rate_limited() {
    let limits = Limits {
        handshakes_per_source_per_sec: 2,
        handshake_burst_per_source: 5,
        max_handshakes: 1000,
        ..Limits::default()
    };
    let server = start(&[("dev", b"k3y-k3y-k3y")], None, limits).await;
    let addr = server.addr;
    let answered = tokio::task::spawn_blocking(move || {
        let s = socket();
        s.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
        let mut answered = 0;
        for i in 0..40u8 {
            s.send_to(&client_hello(0, 0, [i; 32], b""), addr).unwrap();
            let cookie = hvr_cookie(&recv(&s).unwrap()).unwrap();
            s.send_to(&client_hello(1, 1, [i; 32], &cookie), addr).unwrap();
            if recv(&s).is_some() {
                answered += 1;
                // The rest of the server's flight.
                while recv(&s).is_some() {}
            }
        }
        answered
    })
    .await
    .unwrap();
    // 5 at once, then about 2 a second while the loop runs (each refused hello waits for recv's timeout).
    assert!((5..=20).contains(&answered), "{answered} of 40 handshakes started");
    assert!(Stats::get(&server.stats.refused_rate) >= 20, "{:?}", server.stats);
    let mut s = tokio::task::spawn_blocking(move || {
        let ctx = common::psk_client_context("dev", b"k3y-k3y-k3y", "PSK-AES128-CCM8");
        common::connect_from(&ctx, addr, "127.0.0.2").expect("another source is served")
    })
    .await
    .unwrap();
    let answer = tokio::task::spawn_blocking(move || common::roundtrip(&mut s, b"ping")).await.unwrap();
    assert!(answer.is_ok(), "{answer:?}");
}
