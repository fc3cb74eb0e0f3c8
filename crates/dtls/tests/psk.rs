//! DTLS-PSK end to end through the listener, with clients nobody on the project wrote: libcoap's
//! `coap-client` (its GnuTLS and its OpenSSL builds, Debian `libcoap3-bin`) sending a real CoAP GET
//! that the test handler answers with a CoAP ACK, and `openssl s_client -dtls1_2 -psk` for both PSK
//! suites. Wrong keys and unknown identities are refused and leave no session. Without the tools
//! the tests print `SKIPPED: …`, unless `CI` is set.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{have, start};
use dtls::{Limits, Stats};

const KEY: &[u8] = b"secretPSK-0123456789";

/// A wrong key shows only in the client's Finished, which the server cannot decrypt: DTLS drops
/// records that fail authentication (RFC 6347 §4.1.2.7) without an alert, so that handshake ends by
/// its timeout, made short here.
const WRONG_KEY_LIMITS: Limits = Limits {
    max_sessions: 100,
    max_handshakes: 10,
    idle_timeout: Duration::from_secs(60),
    handshake_timeout: Duration::from_millis(800),
    mtu: 1200,
    handshakes_per_source_per_sec: 0,
    handshake_burst_per_source: 1,
    rate_limited_sources: 1,
};

fn coap_get(tool: &str, addr: std::net::SocketAddr, identity: &str, key: &[u8]) -> std::process::Output {
    Command::new(tool)
        .args(["-m", "get", "-B", "3", "-u", identity, "-k"])
        .arg(std::str::from_utf8(key).unwrap())
        .arg(format!("coaps://{addr}/hello"))
        .output()
        .expect("run coap-client")
}

async fn coap_client_psk(tool: &'static str) {
    if !have(tool, "libcoap3-bin") {
        return;
    }
    let server = start(&[("dev-1", KEY)], None, Limits::default()).await;
    let addr = server.addr;
    let out = tokio::task::spawn_blocking(move || coap_get(tool, addr, "dev-1", KEY)).await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("identity=dev-1"),
        "{tool}: stdout {stdout:?}, stderr {:?}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got = server.handler.got.lock().unwrap().clone();
    let req = got.iter().find(|r| r.datagram.first().is_some_and(|b| b >> 4 == 4)).expect("a CoAP CON request");
    assert_eq!(req.identity.as_deref(), Some("dev-1"));
    assert_eq!(req.datagram[1], 0x01, "GET");
    assert!(req.datagram.windows(5).any(|w| w == b"hello"), "Uri-Path hello in {:?}", req.datagram);
    assert_eq!(Stats::get(&server.stats.handshakes_completed), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coap_client_gnutls_gets_an_answer_over_dtls_psk() {
    coap_client_psk("coap-client-gnutls").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coap_client_openssl_gets_an_answer_over_dtls_psk() {
    coap_client_psk("coap-client-openssl").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coap_client_with_a_wrong_key_or_identity_is_refused() {
    if !have("coap-client-gnutls", "libcoap3-bin") {
        return;
    }
    let server = start(&[("dev-1", KEY)], None, WRONG_KEY_LIMITS).await;
    let addr = server.addr;
    for (identity, key) in [("dev-1", &b"wrong-key-0123456789"[..]), ("nobody", KEY), ("dev-", KEY)] {
        let out =
            tokio::task::spawn_blocking(move || coap_get("coap-client-gnutls", addr, identity, key)).await.unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(!stdout.contains("identity="), "{identity}: answered {stdout:?}");
    }
    assert!(server.handler.got.lock().unwrap().is_empty(), "nothing reached the handler");
    assert_eq!(Stats::get(&server.stats.handshakes_completed), 0);
    assert!(common::eventually(|| Stats::get(&server.stats.sessions) == 0).await, "no session kept");
    assert!(Stats::get(&server.stats.handshakes_failed) >= 3, "{:?}", server.stats);
}

/// `openssl s_client` with `args`, `line` written to it: its stdout once it holds `expect` (or
/// after five seconds, or when it exits).
fn s_client(args: &[String], line: &str, expect: &str) -> String {
    let mut child = Command::new("openssl")
        .arg("s_client")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run openssl");
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(line.as_bytes()).unwrap();
    let seen = Arc::new(Mutex::new(String::new()));
    let reader = {
        let seen = seen.clone();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for l in BufReader::new(stdout).lines() {
                let Ok(l) = l else { break };
                let mut s = seen.lock().unwrap();
                s.push_str(&l);
                s.push('\n');
            }
        })
    };
    let until = Instant::now() + Duration::from_secs(5);
    while Instant::now() < until && !seen.lock().unwrap().contains(expect) {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    drop(stdin);
    let _ = reader.join();
    let out = seen.lock().unwrap().clone();
    out
}

fn psk_args(addr: std::net::SocketAddr, identity: &str, key: &[u8], cipher: &str) -> Vec<String> {
    ["-dtls1_2", "-connect", &addr.to_string(), "-psk", &hex::encode(key), "-psk_identity", identity]
        .into_iter()
        .chain(["-cipher", cipher, "-ign_eof"])
        .map(str::to_string)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openssl_s_client_psk_both_suites() {
    if !have("openssl", "openssl") {
        return;
    }
    let server = start(&[("dev-2", KEY)], None, Limits::default()).await;
    let addr = server.addr;
    for cipher in ["PSK-AES128-CCM8", "PSK-AES128-GCM-SHA256"] {
        let out = tokio::task::spawn_blocking(move || {
            s_client(&psk_args(addr, "dev-2", KEY, cipher), "ping over dtls\n", "dev-2:ping over dtls")
        })
        .await
        .unwrap();
        assert!(out.contains("dev-2:ping over dtls"), "{cipher}: {out}");
        assert!(out.contains(&format!("Cipher is {cipher}")), "{cipher} negotiated: {out}");
    }
    assert_eq!(Stats::get(&server.stats.handshakes_completed), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openssl_s_client_with_a_wrong_key_or_unknown_identity_is_refused() {
    if !have("openssl", "openssl") {
        return;
    }
    let server = start(&[("dev-2", KEY)], None, WRONG_KEY_LIMITS).await;
    let addr = server.addr;
    for (identity, key) in [("dev-2", &[0x55u8; 20][..]), ("dev-3", KEY)] {
        let out = tokio::task::spawn_blocking(move || {
            s_client(&psk_args(addr, identity, key, "PSK-AES128-CCM8"), "ping\n", "ping")
        })
        .await
        .unwrap();
        assert!(!out.contains(":ping"), "{identity}: {out}");
    }
    assert!(server.handler.got.lock().unwrap().is_empty());
    assert_eq!(Stats::get(&server.stats.handshakes_completed), 0);
    assert!(common::eventually(|| Stats::get(&server.stats.sessions) == 0).await);
    assert_eq!(Stats::get(&server.stats.handshakes_failed), 2, "{:?}", server.stats);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_are_per_peer_and_the_server_can_send_first() {
    let server = start(&[("a", b"key-a"), ("b", b"key-b")], None, Limits::default()).await;
    let addr = server.addr;
    let (mut a, mut b) = tokio::task::spawn_blocking(move || {
        let a = common::connect(&common::psk_client_context("a", b"key-a", "PSK-AES128-CCM8"), addr).unwrap();
        let b = common::connect(&common::psk_client_context("b", b"key-b", "PSK-AES128-GCM-SHA256"), addr).unwrap();
        (a, b)
    })
    .await
    .unwrap();
    let (a, b, a_peer) = tokio::task::spawn_blocking(move || {
        assert_eq!(common::roundtrip(&mut a, b"one").unwrap(), b"a:one");
        assert_eq!(common::roundtrip(&mut b, b"two").unwrap(), b"b:two");
        assert_eq!(common::roundtrip(&mut a, b"three").unwrap(), b"a:three");
        let peer = a.get_ref().0.local_addr().unwrap();
        (a, b, peer)
    })
    .await
    .unwrap();
    assert_eq!(Stats::get(&server.stats.sessions), 2);
    // A notification the core sends on its own reaches the right peer, encrypted.
    assert!(server.outbound.send(a_peer, b"notify".to_vec()));
    let mut a = a;
    let got = tokio::task::spawn_blocking(move || {
        let mut buf = [0u8; 64];
        let n = a.ssl_read(&mut buf).unwrap();
        buf[..n].to_vec()
    })
    .await
    .unwrap();
    assert_eq!(got, b"notify");
    drop(b);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_sessions_are_dropped() {
    let limits = Limits { idle_timeout: Duration::from_millis(600), ..Limits::default() };
    let server = start(&[("a", b"key-a")], None, limits).await;
    let addr = server.addr;
    let mut a = tokio::task::spawn_blocking(move || {
        let mut a = common::connect(&common::psk_client_context("a", b"key-a", "PSK-AES128-CCM8"), addr).unwrap();
        common::roundtrip(&mut a, b"hi").unwrap();
        a
    })
    .await
    .unwrap();
    assert_eq!(Stats::get(&server.stats.sessions), 1);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(Stats::get(&server.stats.sessions), 0, "idle session dropped");
    assert_eq!(server.handler.closed.lock().unwrap().len(), 1, "the handler is told");
    // The client got close_notify; a datagram on the old session reaches nobody.
    let r = tokio::task::spawn_blocking(move || common::roundtrip(&mut a, b"late")).await.unwrap();
    assert!(r.is_err(), "{r:?}");
    assert_eq!(server.handler.got.lock().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_restarts_on_the_same_port_gets_a_new_session() {
    let server = start(&[("a", b"key-a")], None, Limits::default()).await;
    let addr = server.addr;
    let (old_peer, new_answer) = tokio::task::spawn_blocking(move || {
        let ctx = common::psk_client_context("a", b"key-a", "PSK-AES128-CCM8");
        let mut first = common::connect(&ctx, addr).unwrap();
        assert_eq!(common::roundtrip(&mut first, b"before").unwrap(), b"a:before");
        // The device reboots: same address and port, a fresh handshake (RFC 6347 §4.2.8).
        let sock = first.get_ref().0.try_clone().unwrap();
        let peer = sock.local_addr().unwrap();
        let mut again = match openssl::ssl::Ssl::new(&ctx).unwrap().connect(common::UdpStream(sock)) {
            Ok(s) => s,
            Err(openssl::ssl::HandshakeError::WouldBlock(mid)) => mid.handshake().unwrap(),
            Err(e) => panic!("{e:?}"),
        };
        (peer, common::roundtrip(&mut again, b"after").unwrap())
    })
    .await
    .unwrap();
    assert_eq!(new_answer, b"a:after");
    assert_eq!(Stats::get(&server.stats.sessions), 1, "the new session replaced the old");
    assert_eq!(Stats::get(&server.stats.handshakes_completed), 2);
    assert_eq!(*server.handler.closed.lock().unwrap(), vec![old_peer], "the core is told the old one ended");
}
