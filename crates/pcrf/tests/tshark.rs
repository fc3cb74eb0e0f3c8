//! Wireshark reads the Gx messages the PCRF writes: a whole life (CCR-I/CCA-I with rules, QoS and
//! usage monitoring, CCR-U/CCA-U with usage, RAR/RAA with a rule change, RAR/RAA releasing a session,
//! ASR/ASA, CCR-T/CCA-T, and the refusals 5005 with Failed-AVP and 5030 DIAMETER_USER_UNKNOWN)
//! is written as one TCP conversation on port 3868 into a pcap file, and `tshark` dissects it: no
//! frame may be malformed or carry an expert marker of warning or error severity, every
//! frame is the command we sent, and the Flow-Descriptions tshark reads are ours.
//!
//! `WARDEN_GX_PCAP=<file>` keeps a copy of the capture. Skipped (with a `SKIPPED` line) when `tshark` is not installed, unless `CI` is set.

mod common;

use std::process::Command as Process;
use std::sync::atomic::Ordering;
use std::time::Duration;

use cmp::Actor;
use common::*;
use diameter::{avp, Command, Message};
use pcrf::PcrfConfig;
use store::model::SimStatus;

/// A minimal pcap writer: raw IPv4 (LINKTYPE_IPV4, 228) TCP segments between 127.0.0.1:40000 (the
/// P-GW) and 127.0.0.2:3868 (the PCRF), with a handshake so that every message is in sequence.
struct Pcap {
    out: Vec<u8>,
    seq: [u32; 2],
    frames: u32,
}

impl Pcap {
    fn new() -> Self {
        let mut out = Vec::new();
        out.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
        out.extend_from_slice(&2u16.to_le_bytes());
        out.extend_from_slice(&4u16.to_le_bytes());
        out.extend_from_slice(&[0; 8]);
        out.extend_from_slice(&65_535u32.to_le_bytes());
        out.extend_from_slice(&228u32.to_le_bytes());
        let mut p = Self { out, seq: [1000, 5000], frames: 0 };
        p.segment(true, 0x02, &[]);
        p.segment(false, 0x12, &[]);
        p.segment(true, 0x10, &[]);
        p
    }

    /// Appends one segment; returns its frame number.
    fn segment(&mut self, from_pgw: bool, tcp_flags: u8, payload: &[u8]) -> u32 {
        let (src, dst, sport, dport) = if from_pgw {
            ([127, 0, 0, 1], [127, 0, 0, 2], 40000u16, 3868u16)
        } else {
            ([127, 0, 0, 2], [127, 0, 0, 1], 3868, 40000)
        };
        let (me, peer) = if from_pgw { (0, 1) } else { (1, 0) };
        let mut tcp = Vec::with_capacity(20 + payload.len());
        tcp.extend_from_slice(&sport.to_be_bytes());
        tcp.extend_from_slice(&dport.to_be_bytes());
        tcp.extend_from_slice(&self.seq[me].to_be_bytes());
        let ack = if tcp_flags & 0x10 != 0 { self.seq[peer] } else { 0 };
        tcp.extend_from_slice(&ack.to_be_bytes());
        tcp.extend_from_slice(&[0x50, tcp_flags]);
        tcp.extend_from_slice(&65_535u16.to_be_bytes());
        tcp.extend_from_slice(&[0, 0, 0, 0]);
        tcp.extend_from_slice(payload);
        let advance = payload.len() as u32 + u32::from(tcp_flags & 0x02 != 0);
        self.seq[me] = self.seq[me].wrapping_add(advance);
        let mut ip = vec![0x45, 0];
        ip.extend_from_slice(&((20 + tcp.len()) as u16).to_be_bytes());
        ip.extend_from_slice(&[0, 0, 0x40, 0, 64, 6, 0, 0]);
        ip.extend_from_slice(&src);
        ip.extend_from_slice(&dst);
        let sum = checksum(&ip);
        ip[10..12].copy_from_slice(&sum.to_be_bytes());
        let mut pseudo = Vec::new();
        pseudo.extend_from_slice(&src);
        pseudo.extend_from_slice(&dst);
        pseudo.extend_from_slice(&[0, 6]);
        pseudo.extend_from_slice(&(tcp.len() as u16).to_be_bytes());
        pseudo.extend_from_slice(&tcp);
        let sum = checksum(&pseudo);
        tcp[16..18].copy_from_slice(&sum.to_be_bytes());
        ip.extend_from_slice(&tcp);
        self.frames += 1;
        self.out.extend_from_slice(&self.frames.to_le_bytes());
        self.out.extend_from_slice(&0u32.to_le_bytes());
        self.out.extend_from_slice(&(ip.len() as u32).to_le_bytes());
        self.out.extend_from_slice(&(ip.len() as u32).to_le_bytes());
        self.out.extend_from_slice(&ip);
        self.frames
    }
}

fn checksum(bytes: &[u8]) -> u16 {
    let mut sum: u32 = bytes.chunks(2).map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]))).sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// The messages of a Gx life, in order, and whether the P-GW sent each.
async fn conversation() -> Vec<(bool, Message)> {
    let mut out = Vec::new();
    let s = setup().await;
    let p = &s.pcrf;
    let mut exchange = |req: Message, ans: Message| {
        out.push((true, req));
        out.push((false, ans));
    };
    let req = ccr_i(PGW, "pgw1;1", METER, [10, 45, 0, 1]);
    exchange(req.clone(), p.answer(req, PGW).await);
    let req = ccr_u_usage(PGW, "pgw1;1", 1, 1000, 2000);
    exchange(req.clone(), p.answer(req, PGW).await);
    let req = ccr(PGW, "pgw1;1", 3, 2);
    exchange(req.clone(), p.answer(req, PGW).await);
    let mut req = ccr_i(PGW, "pgw1;2", METER, [10, 45, 0, 2]);
    req.avps.retain(|a| !a.is(avp::CC_REQUEST_NUMBER));
    exchange(req.clone(), p.answer(req, PGW).await);
    let req = ccr_i(PGW, "pgw1;3", "001019999999999", [10, 45, 0, 3]);
    exchange(req.clone(), p.answer(req, PGW).await);
    // RAR with a rule change and RAR releasing, then ASR, over loopback to the stand-in P-GW.
    for release in [pcrf::Release::Rar, pcrf::Release::Asr] {
        let s = setup_with(PcrfConfig { release, ..fast() }).await;
        let (addr, _stop) = serve_pcrf(s.pcrf.clone()).await;
        let mut link = connect_pgw(addr, PGW, 1).await;
        link.mode.store(ANSWER_SUCCESS, Ordering::SeqCst);
        let a = link.ask(ccr_i(PGW, "pgw1;live", LOW, [10, 45, 0, 9])).await;
        assert_eq!(a.result_code(), Some(2001));
        let notifier = Notifier(s.pcrf.clone());
        if release == pcrf::Release::Rar {
            cmp::traffic::quarantine(&s.temp.store, &notifier, &Actor::cli(), &imsi(LOW), "scan").await.unwrap();
            let rar = link.next(Duration::from_secs(2)).await.expect("RAR");
            out.push((false, rar.clone()));
            out.push((true, raa(&rar)));
        }
        cmp::sims::change_status(&s.temp.store, &notifier, &Actor::cli(), &imsi(LOW), SimStatus::Suspended)
            .await
            .unwrap();
        let m = link.next(Duration::from_secs(2)).await.expect("release");
        out.push((false, m.clone()));
        out.push((true, raa(&m)));
    }
    out
}

/// The answer the stand-in P-GW gives.
fn raa(req: &Message) -> Message {
    let mut a = Message::answer_to(&req.header, req.session_id());
    a.add(avp::RESULT_CODE, 2001u32);
    a.add(avp::ORIGIN_HOST, PGW);
    a.add(avp::ORIGIN_REALM, REALM);
    a
}

#[tokio::test]
async fn tshark_dissects_every_gx_message_without_errors() {
    let Some(tshark) = testkit::tshark::find("Gx dissection") else { return };
    let messages = conversation().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gx.pcap");
    let mut pcap = Pcap::new();
    let mut frames = Vec::new();
    for (i, (from_pgw, m)) in messages.iter().enumerate() {
        let mut m = m.clone();
        m.header.hop_by_hop = 0x100 + (i as u32 / 2);
        m.header.end_to_end = 0x200 + (i as u32 / 2);
        frames.push(pcap.segment(*from_pgw, 0x18, &m.encode()));
    }
    std::fs::write(&path, &pcap.out).unwrap();
    if let Some(keep) = std::env::var_os("WARDEN_GX_PCAP") {
        std::fs::write(keep, &pcap.out).unwrap();
    }
    let names = [
        "frame.number",
        "diameter.cmd.code",
        "diameter.flags.request",
        "diameter.applicationId",
        "_ws.malformed",
        "_ws.expert.severity",
        "_ws.expert.message",
        "diameter.Flow-Description",
    ];
    let rows = testkit::tshark::fields(&tshark, &path, &names);
    let mut problems = Vec::new();
    let mut seen = Vec::new();
    for row in &rows {
        let frame: u32 = row[0].parse().unwrap();
        let Some(i) = frames.iter().position(|f| *f == frame) else { continue };
        let (_, m) = &messages[i];
        seen.push(frame);
        if row[1] != m.header.code.to_string() || row[3] != m.header.app_id.to_string() {
            problems.push(format!("frame {frame}: tshark sees command {} app {}", row[1], row[3]));
        }
        if !row[4].is_empty() {
            problems.push(format!("frame {frame}: malformed: {}", row[6]));
        }
        let severities: Vec<u32> = row[5].split(';').filter(|s| !s.is_empty()).map(|s| s.parse().unwrap()).collect();
        let texts: Vec<&str> = row[6].split(';').collect();
        for (k, sev) in severities.iter().enumerate() {
            // PI_WARN (0x00600000) and above: the capture is a clean TCP stream, so any warning is
            // about a message.
            if *sev >= 0x0060_0000 {
                problems.push(format!("frame {frame}: expert {sev:#x}: {}", texts.get(k).copied().unwrap_or("?")));
            }
        }
        let ours: Vec<String> = flow_descriptions(m);
        let theirs: Vec<String> = row[7].split(';').filter(|s| !s.is_empty()).map(str::to_string).collect();
        if ours != theirs {
            problems.push(format!("frame {frame}: Flow-Descriptions {theirs:?}, sent {ours:?}"));
        }
    }
    assert_eq!(seen, frames, "every message is a Diameter frame");
    let commands: Vec<u32> = messages.iter().map(|(_, m)| m.header.code).collect();
    assert!(commands.contains(&Command::ASR.code()) && commands.contains(&Command::RAR.code()));
    assert!(messages.iter().any(|(_, m)| !flow_descriptions(m).is_empty()));
    if !problems.is_empty() {
        let verbose = Process::new(&tshark)
            .arg("-r")
            .arg(&path)
            .args(["-n", "-d", "tcp.port==3868,diameter", "-V"])
            .output()
            .unwrap();
        panic!("{problems:#?}\n{}", String::from_utf8_lossy(&verbose.stdout));
    }
}

/// The Flow-Descriptions of `m` as it goes on the wire.
fn flow_descriptions(m: &Message) -> Vec<String> {
    fn walk(avps: &[diameter::Avp], out: &mut Vec<String>) {
        for a in avps {
            if a.is(avp::FLOW_DESCRIPTION) {
                out.push(a.as_str().unwrap().to_string());
            } else if let Some(inner) = a.as_grouped() {
                walk(inner, out);
            }
        }
    }
    // As sent: a CCA's Charging-Rule-Install is made as encoded bytes, read back by decoding.
    let sent = Message::decode(&m.encode()).expect("the message decodes");
    let mut out = Vec::new();
    walk(&sent.avps, &mut out);
    out
}
