//! FS.20's sequence-number flood through the UDP proxy, not just the engine: one partner node sends
//! thousands of guessed responses (every sequence number) and thousands of requests that the P-GW
//! never answers. The P-GW receives none of the guessed responses and at most the partner's
//! pending maximum of the requests; the proxy keeps serving: another partner's Create Session
//! during the flood is relayed and its response comes back.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use firewall::Action;
use gtpc::v2::{Ie, Message, MessageType};
use gtpfw::{Gtp, GtpConfig, Rule};
use tokio::net::UdpSocket;

/// Everything that reaches `sock` until it stays quiet for `quiet_ms`.
async fn drain(sock: &UdpSocket, quiet_ms: u64) -> Vec<(Vec<u8>, SocketAddr)> {
    let mut got = Vec::new();
    let mut buf = vec![0u8; 65_535];
    while let Ok(Ok((n, from))) = tokio::time::timeout(Duration::from_millis(quiet_ms), sock.recv_from(&mut buf)).await
    {
        got.push((buf[..n].to_vec(), from));
    }
    got
}

fn echo(t: MessageType, seq: u32) -> Vec<u8> {
    Message::builder(t).sequence(seq).ie(Ie::recovery(1)).build().unwrap().encode()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sequence_number_flood_through_the_proxy_is_bounded() {
    let pgw = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let config = GtpConfig::from_toml(&format!(
        r#"
listen = "127.0.0.1:0"
upstream = "{}"
max_pending_per_partner = 50
[home]
imsi_prefixes = ["00101"]
[overload]
capacity_per_sec = 1000000
[rules]
not-registered = "off"
apn = "off"
[[partners]]
name = "flooder"
addresses = ["127.0.0.2"]
plmns = ["26201"]
[[partners]]
name = "visited"
addresses = ["127.0.0.3"]
plmns = ["20801"]
"#,
        pgw.local_addr().unwrap()
    ))
    .unwrap();
    let gtp = Gtp::new(config).unwrap();
    let (proxy, stop, run) = common::start_proxy(&gtp).await;
    let flooder = UdpSocket::bind("127.0.0.2:0").await.unwrap();
    let visited = UdpSocket::bind("127.0.0.3:0").await.unwrap();

    // 3,000 guessed Echo Responses, then 3,000 Echo Requests the P-GW leaves unanswered, paced a
    // little so that the socket buffers hold them (the point is the firewall's state, not the
    // kernel's drops).
    const N: u32 = 3000;
    for seq in 0..N {
        flooder.send_to(&echo(MessageType::ECHO_RESPONSE, seq), proxy).await.unwrap();
        if seq % 50 == 49 {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
    for seq in 0..N {
        flooder.send_to(&echo(MessageType::ECHO_REQUEST, seq), proxy).await.unwrap();
        if seq % 50 == 49 {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
    // Meanwhile another partner sets up a session: relayed, and its response returns.
    visited.send_to(&common::csr("001010000000007", ("208", "01"), 77, 0x7777), proxy).await.unwrap();

    let at_pgw = drain(&pgw, 500).await;
    let types: Vec<u8> = at_pgw.iter().map(|(b, _)| b[1]).collect();
    assert!(!types.contains(&MessageType::ECHO_RESPONSE.0), "a guessed response reached the P-GW");
    let echoes = types.iter().filter(|&&t| t == MessageType::ECHO_REQUEST.0).count();
    assert_eq!(echoes, 50, "the flooder's requests beyond its pending maximum reached the P-GW");
    let csr = at_pgw.iter().find(|(b, _)| b[1] == MessageType::CREATE_SESSION_REQUEST.0);
    let (_, via) = csr.expect("the other partner's Create Session was relayed during the flood");
    pgw.send_to(&common::csresp(77, 0x7777, 0xabcd), via).await.unwrap();
    let back = drain(&visited, 500).await;
    assert!(
        back.iter().any(|(b, from)| b[1] == MessageType::CREATE_SESSION_RESPONSE.0 && *from == proxy),
        "the other partner's response did not come back"
    );

    let o = &gtp.engine().observer;
    assert_eq!(o.count("flooder", Rule::UnexpectedResponse, Action::Dropped), u64::from(N));
    assert_eq!(o.count("flooder", Rule::PendingFull, Action::Dropped), u64::from(N) - 50);
    assert!(gtp.engine().pending_count() <= 50, "the pending table grew past the maximum");
    stop.cancel();
    run.await.unwrap();
}
