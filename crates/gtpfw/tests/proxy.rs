//! End to end through the UDP proxy with messages built by PyPI scapy (`scripts/proxy_messages.py`,
//! `scapy.contrib.gtp_v2`): a registered roamer's Create Session, its response, Echo and Delete
//! Session pass byte-identical both ways; a spoofed Serving Network, another partner's Delete
//! Session and a malformed IE length are answered with the documented Cause; a response without a
//! request and an unknown source get nothing, and the P-GW sees none of them. tshark dissects
//! everything the proxy sent (relayed and its own refusals) without expert warnings or errors.
//!
//! Needs python3 with scapy (and tshark for the last part): prints `SKIPPED` without them, unless
//! `CI` is set (`.ci/run` installs both), in which case it fails.

mod common;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use firewall::Action;
use gtpc::v2::values::cause;
use gtpc::v2::Message;
use gtpc::Plmn;
use gtpfw::{Gtp, GtpConfig, RegistrationLookup, Rule};
use tokio::net::UdpSocket;

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/proxy_messages.py")
}

fn scapy_messages() -> Option<HashMap<String, Vec<u8>>> {
    let out = Command::new("python3").arg(script()).output();
    let ok = out.as_ref().is_ok_and(|o| o.status.success());
    if !ok {
        assert!(std::env::var_os("CI").is_none(), "python3 with scapy is needed (CI is set): .ci/run installs it");
        println!("SKIPPED: python3 with scapy is not installed");
        return None;
    }
    let map: HashMap<String, String> = serde_json::from_slice(&out.unwrap().stdout).unwrap();
    Some(map.into_iter().map(|(k, v)| (k, hex::decode(v).unwrap())).collect())
}

struct Roamer;
impl RegistrationLookup for Roamer {
    fn registration(&self, imsi: &str) -> Option<(Plmn, SystemTime)> {
        (imsi == "001010123456789").then(|| (Plmn::new("262", "01").unwrap(), SystemTime::UNIX_EPOCH))
    }
}

async fn recv(s: &UdpSocket, wait_ms: u64) -> Option<(Vec<u8>, SocketAddr)> {
    let mut buf = vec![0u8; 65535];
    match tokio::time::timeout(Duration::from_millis(wait_ms), s.recv_from(&mut buf)).await {
        Ok(Ok((n, from))) => Some((buf[..n].to_vec(), from)),
        _ => None,
    }
}

/// The response's type, sequence number and Cause.
fn refusal(b: &[u8]) -> (u8, u32, u8) {
    let m = Message::decode(b).unwrap();
    (m.header.message_type.0, m.header.sequence, m.cause().unwrap().unwrap().value)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scapy_messages_through_the_udp_proxy() {
    let Some(msg) = scapy_messages() else { return };
    let pgw = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let config = GtpConfig::from_toml(&format!(
        r#"
listen = "127.0.0.1:0"
upstream = "{}"
[home]
imsi_prefixes = ["00101"]
[[partners]]
name = "visited"
addresses = ["127.0.0.2"]
plmns = ["26201"]
[[partners]]
name = "other"
addresses = ["127.0.0.3"]
plmns = ["20801"]
"#,
        pgw.local_addr().unwrap()
    ))
    .unwrap();
    let gtp = Gtp::new(config).unwrap();
    gtp.engine().set_registration_lookup(Arc::new(Roamer));
    let (proxy, stop, run) = common::start_proxy(&gtp).await;
    let visited = UdpSocket::bind("127.0.0.2:0").await.unwrap();
    let other = UdpSocket::bind("127.0.0.3:0").await.unwrap();
    let stranger = UdpSocket::bind("127.0.0.9:0").await.unwrap();
    let mut sent_by_proxy: Vec<Vec<u8>> = Vec::new();

    // A registered roamer's Create Session: byte-identical to the P-GW and back.
    visited.send_to(&msg["create_session_request"], proxy).await.unwrap();
    let Some((got, via)) = recv(&pgw, 2000).await else {
        panic!("not relayed to the P-GW: {:?}", gtp.engine().observer.events())
    };
    assert_eq!(got, msg["create_session_request"]);
    sent_by_proxy.push(got);
    pgw.send_to(&msg["create_session_response"], via).await.unwrap();
    let (got, from) = recv(&visited, 2000).await.expect("response relayed");
    assert_eq!((got.as_slice(), from), (msg["create_session_response"].as_slice(), proxy));
    sent_by_proxy.push(got);
    assert_eq!(gtp.engine().tunnel_count(), 1);

    // Spoofed Serving Network: Create Session Response "Request rejected".
    visited.send_to(&msg["spoofed_serving_network"], proxy).await.unwrap();
    let (got, _) = recv(&visited, 2000).await.expect("refused");
    assert_eq!(refusal(&got), (33, 0x102, cause::REQUEST_REJECTED));
    sent_by_proxy.push(got);

    // Another partner's Delete Session for the roamer's tunnel: "Context not found".
    other.send_to(&msg["foreign_delete_session_request"], proxy).await.unwrap();
    let (got, _) = recv(&other, 2000).await.expect("refused");
    assert_eq!(refusal(&got), (37, 0x103, cause::CONTEXT_NOT_FOUND));
    sent_by_proxy.push(got);

    // Malformed IE length: "Invalid message format".
    visited.send_to(&msg["malformed_ie_length"], proxy).await.unwrap();
    let (got, _) = recv(&visited, 2000).await.expect("refused");
    assert_eq!(refusal(&got), (33, 0x105, cause::INVALID_MESSAGE_FORMAT));
    sent_by_proxy.push(got);

    // A response without a request, and an unknown source: nothing back, nothing to the P-GW.
    visited.send_to(&msg["unsolicited_create_bearer_response"], proxy).await.unwrap();
    stranger.send_to(&msg["create_session_request"], proxy).await.unwrap();
    assert!(recv(&stranger, 300).await.is_none());

    // A second PDN connection, deleted by the P-GW's Delete Bearer Request for its default bearer:
    // relayed byte-identical both ways, and the partner's accepted response removes the tunnel.
    visited.send_to(&msg["create_session_request_2"], proxy).await.unwrap();
    let (got, via) = recv(&pgw, 2000).await.expect("second Create Session relayed");
    assert_eq!(got, msg["create_session_request_2"]);
    pgw.send_to(&msg["create_session_response_2"], via).await.unwrap();
    recv(&visited, 2000).await.expect("second response relayed");
    assert_eq!(gtp.engine().tunnel_count(), 2);
    pgw.send_to(&msg["delete_bearer_request"], via).await.unwrap();
    let (got, from) = recv(&visited, 2000).await.expect("Delete Bearer Request relayed to the partner");
    assert_eq!((got.as_slice(), from), (msg["delete_bearer_request"].as_slice(), proxy));
    sent_by_proxy.push(got);
    visited.send_to(&msg["delete_bearer_response"], proxy).await.unwrap();
    let (got, _) = recv(&pgw, 2000).await.expect("Delete Bearer Response relayed to the P-GW");
    assert_eq!(got, msg["delete_bearer_response"]);
    sent_by_proxy.push(got);
    assert_eq!(gtp.engine().tunnel_count(), 1, "the default bearer's deletion removed its tunnel");
    assert!(gtp.engine().tunnel(0x0E0F1011).is_none());

    // Echo, then the roamer's own Delete Session: byte-identical both ways, the tunnel gone.
    for (req, resp) in [("echo_request", "echo_response"), ("delete_session_request", "delete_session_response")] {
        visited.send_to(&msg[req], proxy).await.unwrap();
        let (got, via) = recv(&pgw, 2000).await.expect("relayed to the P-GW");
        assert_eq!(got, msg[req], "{req}");
        sent_by_proxy.push(got);
        pgw.send_to(&msg[resp], via).await.unwrap();
        let (got, _) = recv(&visited, 2000).await.expect("response relayed");
        assert_eq!(got, msg[resp], "{resp}");
        sent_by_proxy.push(got);
    }
    assert_eq!(gtp.engine().tunnel_count(), 0);
    assert!(recv(&pgw, 300).await.is_none(), "the P-GW got a message it should not have");
    assert!(recv(&visited, 100).await.is_none());

    let obs = &gtp.engine().observer;
    assert_eq!(obs.count("visited", Rule::ServingNetwork, Action::Blocked), 1);
    assert_eq!(obs.count("other", Rule::ForeignTunnel, Action::Blocked), 1);
    assert_eq!(obs.count("visited", Rule::UnexpectedResponse, Action::Dropped), 1);
    assert_eq!(obs.count("unknown", Rule::UnknownSource, Action::Dropped), 1);
    assert_eq!(obs.count("visited", Rule::Relay, Action::Passed), 5);
    stop.cancel();
    run.await.unwrap();

    common::tshark_reads_without_expert_errors(&sent_by_proxy, &[]);
}
