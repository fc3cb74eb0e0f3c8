//! Messages the engine tests send, built with the `gtpc` builder.
#![allow(dead_code)]

use std::net::Ipv4Addr;

use gtpc::v2::values::{cause, interface, Cause, Fteid};
use gtpc::v2::{Ie, Message, MessageType};
use gtpc::Plmn;

/// Binds the firewall's listener and runs the proxy on a task: its address, the token that stops it,
/// and the task.
pub async fn start_proxy(
    gtp: &std::sync::Arc<gtpfw::Gtp>,
) -> (std::net::SocketAddr, tokio_util::sync::CancellationToken, tokio::task::JoinHandle<()>) {
    let sock = gtp.bind().await.unwrap();
    let proxy = sock.local_addr().unwrap();
    let stop = tokio_util::sync::CancellationToken::new();
    let run = tokio::spawn({
        let (gtp, stop) = (gtp.clone(), stop.clone());
        async move { gtp.run(sock, stop).await }
    });
    (proxy, stop, run)
}

/// A Create Session Request with every IE the firewall requires.
pub fn csr(imsi: &str, plmn: (&str, &str), seq: u32, sgw_teid: u32) -> Vec<u8> {
    let f = Fteid {
        interface_type: interface::S5S8_SGW_GTPC,
        teid: sgw_teid,
        ipv4: Some(Ipv4Addr::new(10, 0, 0, 1)),
        ipv6: None,
    };
    Message::builder(MessageType::CREATE_SESSION_REQUEST)
        .sequence(seq)
        .ie(Ie::imsi(imsi).unwrap())
        .ie(Ie::serving_network(Plmn::new(plmn.0, plmn.1).unwrap()))
        .ie(Ie::rat_type(6))
        .ie(Ie::fteid(0, &f))
        .ie(Ie::apn("internet").unwrap())
        .ie(Ie::bearer_context(0, vec![Ie::ebi(5)]))
        .build()
        .unwrap()
        .encode()
}

/// An accepted Create Session Response with the P-GW's control F-TEID.
pub fn csresp(seq: u32, sgw_teid: u32, pgw_teid: u32) -> Vec<u8> {
    let f = Fteid {
        interface_type: interface::S5S8_PGW_GTPC,
        teid: pgw_teid,
        ipv4: Some(Ipv4Addr::new(10, 9, 9, 9)),
        ipv6: None,
    };
    Message::builder(MessageType::CREATE_SESSION_RESPONSE)
        .teid(sgw_teid)
        .sequence(seq)
        .ie(Ie::cause(&Cause::new(cause::REQUEST_ACCEPTED)))
        .ie(Ie::fteid(1, &f))
        .build()
        .unwrap()
        .encode()
}

/// A Modify Bearer Request on the P-GW's tunnel `teid`.
pub fn mbr(teid: u32, seq: u32) -> Vec<u8> {
    Message::builder(MessageType::MODIFY_BEARER_REQUEST)
        .teid(teid)
        .sequence(seq)
        .ie(Ie::bearer_context(0, vec![Ie::ebi(5)]))
        .build()
        .unwrap()
        .encode()
}

/// An accepted Modify Bearer Response toward the S-GW's TEID `sgw_teid`.
pub fn mbresp(sgw_teid: u32, seq: u32) -> Vec<u8> {
    Message::builder(MessageType::MODIFY_BEARER_RESPONSE)
        .teid(sgw_teid)
        .sequence(seq)
        .ie(Ie::cause(&Cause::new(cause::REQUEST_ACCEPTED)))
        .build()
        .unwrap()
        .encode()
}

/// tshark dissects every datagram (written into a pcap by `scripts/proxy_messages.py`, so python3
/// with scapy is needed too) as GTPv2 with no expert warning or error, and each `(field, value)` of
/// `fields` is in every datagram's dissection. Skips without tshark unless `CI` is set.
pub fn tshark_reads_without_expert_errors(datagrams: &[Vec<u8>], fields_wanted: &[(&str, &str)]) {
    if !std::process::Command::new("tshark").arg("--version").output().is_ok_and(|o| o.status.success()) {
        assert!(std::env::var_os("CI").is_none(), "tshark is needed (CI is set): .ci/run installs it");
        println!("SKIPPED: tshark is not installed");
        return;
    }
    let pcap = std::env::temp_dir().join(format!("gtpfw-proxy-{}.pcap", std::process::id()));
    let status = std::process::Command::new("python3")
        .arg(std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/proxy_messages.py"))
        .arg("--pcap")
        .arg(&pcap)
        .args(datagrams.iter().map(hex::encode))
        .status()
        .unwrap();
    assert!(status.success());
    let fields = |filter: &str| {
        let out = std::process::Command::new("tshark")
            .args(["-n", "-r"])
            .arg(&pcap)
            .args(["-Y", filter, "-T", "fields", "-e", "frame.number", "-e", "_ws.expert.message"])
            .output()
            .unwrap();
        assert!(out.status.success(), "tshark: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap().lines().map(str::to_owned).collect::<Vec<_>>()
    };
    assert_eq!(fields("gtpv2").len(), datagrams.len(), "every datagram dissected as GTPv2");
    let bad = fields("_ws.malformed || _ws.expert.severity >= 0x00600000");
    assert!(bad.is_empty(), "tshark expert warnings or errors: {bad:?}");
    for (field, value) in fields_wanted {
        let with = fields(&format!("{field} == {value}"));
        assert_eq!(with.len(), datagrams.len(), "{field} == {value} in every datagram");
    }
    std::fs::remove_file(&pcap).ok();
}
