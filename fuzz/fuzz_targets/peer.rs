//! Fuzzes the sans-IO peer state machine. The input is a little program of operations: raw byte
//! chunks, plausible messages (maybe damaged), time passing, and application calls. It drives a
//! responder waiting for CER and, separately, the HSS side of a pair that has finished the
//! capabilities exchange (whose MME side receives whatever the HSS sends). Nothing may panic and every
//! byte a peer transmits must be a decodable Diameter message.

#![no_main]

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use diameter::avp;
use diameter::peer::{Application, Event, Peer, PeerAuthorizer, PeerConfig, PeerIdentity, PeerState};
use diameter::result_code as rc;
use diameter::{Avp, Command, Message};
use libfuzzer_sys::fuzz_target;

const REALM: &str = "epc.mnc001.mcc001.3gppnetwork.org";

/// The next message `p` transmits, on its own.
fn poll_message(p: &mut Peer) -> Option<Vec<u8>> {
    let mut b = Vec::new();
    p.poll_transmit(&mut b).map(|_| b)
}

fn config(host: &str, apps: Vec<Application>) -> PeerConfig {
    PeerConfig::new(host, REALM, apps)
}

fn allow_all() -> Arc<dyn PeerAuthorizer> {
    Arc::new(|_: &PeerIdentity| true)
}

/// Takes every transmitted message from `p`, checks it decodes, and returns the bytes.
fn transmitted(p: &mut Peer) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while let Some(b) = poll_message(p) {
        if let Err(e) = Message::decode(&b) {
            panic!("peer transmitted undecodable bytes: {e:?}\n{b:02x?}");
        }
        out.push(b);
    }
    out
}

fn pump(a: &mut Peer, b: &mut Peer, now: Instant) {
    loop {
        let from_a = transmitted(a);
        let from_b = transmitted(b);
        if from_a.is_empty() && from_b.is_empty() {
            break;
        }
        from_a.iter().for_each(|m| b.handle_input(m, now));
        from_b.iter().for_each(|m| a.handle_input(m, now));
    }
}

fn template(which: u8, hop_by_hop: u32, end_to_end: u32) -> Message {
    let (abbrev, command, request) = [
        ("CER", Command::CER, true),
        ("DWR", Command::DWR, true),
        ("DWA", Command::DWR, false),
        ("DPR", Command::DPR, true),
        ("DPA", Command::DPR, false),
        ("AIR", Command::AIR, true),
        ("AIA", Command::AIR, false),
        ("CEA", Command::CER, false),
        ("ULR", Command::ULR, true),
        ("ECR", Command::ECR, true),
    ][which as usize % 10];
    let mut m = if request { Message::request(command) } else { Message::answer(command) };
    m.header.hop_by_hop = hop_by_hop;
    m.header.end_to_end = end_to_end;
    if abbrev == "AIR" || abbrev == "AIA" || abbrev == "ULR" || abbrev == "ECR" {
        m.add(avp::SESSION_ID, "mme.example;1;2");
        m.add(avp::AUTH_SESSION_STATE, 1u32);
    }
    m.add(avp::ORIGIN_HOST, "mme.example");
    m.add(avp::ORIGIN_REALM, REALM);
    if m.is_request() && abbrev != "CER" && abbrev != "DWR" && abbrev != "DPR" {
        m.add(avp::DESTINATION_REALM, REALM);
        m.add(avp::USER_NAME, "001010000000001");
    }
    match abbrev {
        "CER" | "CEA" => {
            m.add(avp::HOST_IP_ADDRESS, IpAddr::from([10, 0, 0, 1]));
            m.add(avp::VENDOR_ID, 10415u32);
            m.add(avp::PRODUCT_NAME, "fuzz");
            let vsai =
                vec![Avp::new(avp::VENDOR_ID, 10415u32), Avp::new(avp::AUTH_APPLICATION_ID, 16_777_251u32)];
            m.push(Avp::grouped(avp::VENDOR_SPECIFIC_APPLICATION_ID, vsai));
        }
        "DPR" => {
            m.add(avp::DISCONNECT_CAUSE, 0u32);
        }
        "AIR" => {
            m.add(avp::VISITED_PLMN_ID, &[0x00u8, 0xf1, 0x10]);
        }
        "ULR" => {
            m.add(avp::VISITED_PLMN_ID, &[0x00u8, 0xf1, 0x10]);
            m.add(avp::RAT_TYPE, 1004u32);
            m.add(avp::ULR_FLAGS, 2u32);
        }
        _ => {}
    }
    if !m.is_request() {
        m.add(avp::RESULT_CODE, rc::SUCCESS);
    }
    m
}

/// A cursor over the fuzz input.
struct Input<'a>(&'a [u8]);

impl<'a> Input<'a> {
    fn byte(&mut self) -> Option<u8> {
        let (b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(*b)
    }

    fn u32(&mut self) -> u32 {
        u32::from_be_bytes([0; 4].map(|_| self.byte().unwrap_or(0)))
    }

    fn take(&mut self, n: usize) -> &'a [u8] {
        let (a, b) = self.0.split_at(n.min(self.0.len()));
        self.0 = b;
        a
    }
}

/// Runs the program in `data` against `peer`; `remote` (if any) receives what `peer` sends.
fn run(data: &[u8], mut peer: Peer, mut remote: Option<Peer>, start: Instant) {
    let mut input = Input(data);
    let mut now = start;
    let mut requests: Vec<Message> = Vec::new();
    let mut sent: Vec<u32> = Vec::new();
    while let Some(op) = input.byte() {
        match op % 8 {
            // Raw bytes.
            0 | 1 => {
                let n = input.byte().unwrap_or(0) as usize;
                peer.handle_input(input.take(n), now);
            }
            // A plausible message, maybe with one byte changed, delivered in two pieces.
            2 | 3 => {
                let which = input.byte().unwrap_or(0);
                let mut m = template(which, input.u32(), input.u32());
                if op & 0x80 != 0 && !m.is_request() {
                    if let Some(h) = sent.last() {
                        m.header.hop_by_hop = *h;
                    }
                }
                let mut b = m.encode();
                let (pos, x) = (input.byte().unwrap_or(0) as usize, input.byte().unwrap_or(0));
                if op & 0x40 != 0 {
                    let i = pos % b.len();
                    b[i] ^= x;
                }
                let split = (input.byte().unwrap_or(0) as usize).min(b.len());
                peer.handle_input(&b[..split], now);
                peer.handle_input(&b[split..], now);
            }
            // Time passes.
            4 => {
                now += Duration::from_millis(u64::from(input.byte().unwrap_or(0)) * 250);
                peer.handle_timeout(now);
                if let Some(r) = remote.as_mut() {
                    r.handle_timeout(now);
                }
                let _ = peer.poll_timeout();
            }
            // The application answers what it was given.
            5 => {
                for r in requests.drain(..) {
                    let mut a = Message::answer_to(&r.header, r.session_id());
                    a.add(avp::RESULT_CODE, rc::SUCCESS);
                    a.add(avp::ORIGIN_HOST, "hss.example");
                    a.add(avp::ORIGIN_REALM, REALM);
                    let _ = peer.send_answer(a);
                }
            }
            6 => {
                let _ = peer.send_request(template(5, 0, 0), now);
            }
            _ => peer.disconnect(u32::from(op >> 3), now),
        }
        for b in transmitted(&mut peer) {
            let m = Message::decode(&b).expect("checked");
            if m.is_request() {
                sent.push(m.header.hop_by_hop);
            }
            if let Some(r) = remote.as_mut() {
                r.handle_input(&b, now);
            }
        }
        if let Some(r) = remote.as_mut() {
            pump(r, &mut peer, now);
            while r.poll_event().is_some() {}
        }
        while let Some(ev) = peer.poll_event() {
            if let Event::Request(r) = ev {
                requests.push(r);
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let now = Instant::now();

    let hss = Peer::responder(config("hss.example", vec![Application::S6A]), allow_all(), None, now);
    run(data, hss, None, now);

    let mut mme = Peer::initiator(config("mme.example", vec![Application::S6A]), allow_all(), None, now);
    let mut hss = Peer::responder(config("hss.example", vec![Application::S6A]), allow_all(), None, now);
    pump(&mut mme, &mut hss, now);
    assert_eq!((mme.state(), hss.state()), (PeerState::Open, PeerState::Open));
    while mme.poll_event().is_some() {}
    while hss.poll_event().is_some() {}
    run(data, hss, Some(mme), now);
});
