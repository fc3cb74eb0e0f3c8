//! Test harness: a firewall on loopback between a raw partner (which writes exact bytes and reads
//! exact bytes) and a recording HSS stand-in (which keeps every request frame as received and counts
//! arrivals per second). Both sides use the sans-IO peer only for CER/CEA and the watchdog, so the
//! bytes compared are the bytes on the wire.

#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use diameter::avp;
use diameter::header::{next_frame_len, Header};
use diameter::peer::{Application, Event, Peer, PeerConfig, PeerIdentity, PeerState};
use diameter::Command;
use diameter::Message;
use firewall::{Firewall, FirewallConfig};
use testkit::sansio::poll_message;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

pub const HOME: &str = "home.example";
pub const FW_HOST: &str = "fw.home.example";
pub const ALPHA: (&str, &str) = ("mme1.alpha.example", "alpha.example");
pub const ALPHA2: (&str, &str) = ("mme2.alpha.example", "alpha.example");
pub const BRAVO: (&str, &str) = ("mme.bravo.example", "bravo.example");
/// Alpha is in Germany (262 01), Bravo in France (208 01), home is 001 01.
pub const ALPHA_PLMN: &[u8; 3] = &[0x62, 0xf2, 0x10];
pub const BRAVO_PLMN: &[u8; 3] = &[0x02, 0xf8, 0x10];

/// The base configuration: two partners, home 00101, everything else default.
pub fn base_config(upstream: SocketAddr, extra_tables: &str) -> FirewallConfig {
    let text = format!(
        r#"
        origin_host = "{FW_HOST}"
        origin_realm = "{HOME}"
        upstream = "{upstream}"
        upstream_connections = 1
        [home]
        realms = ["{HOME}"]
        plmns = ["00101"]
        imsi_prefixes = ["00101"]
        [[partners]]
        name = "alpha"
        origin_hosts = ["{}", "{}"]
        realms = ["alpha.example"]
        plmns = ["26201"]
        addresses = ["127.0.0.1"]
        [[partners]]
        name = "bravo"
        origin_hosts = ["{}"]
        realms = ["bravo.example"]
        plmns = ["20801"]
        {extra_tables}
        "#,
        ALPHA.0, ALPHA2.0, BRAVO.0
    );
    FirewallConfig::from_toml(&text).unwrap()
}

/// A running firewall.
pub struct Running {
    pub fw: Arc<Firewall>,
    pub addr: SocketAddr,
    pub stop: CancellationToken,
}

pub async fn start_firewall(config: FirewallConfig) -> Running {
    let fw = Firewall::new(config).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = CancellationToken::new();
    let shutdown = stop.clone();
    let f = fw.clone();
    tokio::spawn(async move { f.run(listener, "127.0.0.1:1".parse().unwrap(), shutdown).await.unwrap() });
    Running { fw, addr, stop }
}

/// What the recording HSS saw.
#[derive(Default)]
pub struct Seen {
    /// Application request frames, as received.
    pub requests: Vec<Vec<u8>>,
    /// Arrival times of application requests.
    pub arrivals: Vec<Instant>,
    /// Connections that completed CER.
    pub opened: usize,
    /// Requests to send toward the firewall (CLR, IDR, …), taken by the next connection loop.
    pub outbox: Vec<Message>,
    /// Answers received to those requests.
    pub answers: Vec<Message>,
}

/// The HSS stand-in: answers every application request with 2001 (or what `answer` says).
pub struct Upstream {
    pub addr: SocketAddr,
    pub seen: Arc<Mutex<Seen>>,
}

pub type AnswerFn = Arc<dyn Fn(&Message) -> u32 + Send + Sync>;

pub async fn start_upstream(answer: Option<AnswerFn>) -> Upstream {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let s = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { return };
            tokio::spawn(upstream_conn(stream, s.clone(), answer.clone()));
        }
    });
    Upstream { addr, seen }
}

async fn upstream_conn(mut stream: TcpStream, seen: Arc<Mutex<Seen>>, answer: Option<AnswerFn>) {
    let config = PeerConfig::new("hss.home.example", HOME, vec![Application::S6A, Application::S13]);
    let mut peer = Peer::responder(config, Arc::new(|_: &PeerIdentity| true), None, Instant::now());
    let mut buf = Vec::new();
    let mut tmp = vec![0u8; 65536];
    loop {
        let mut out = Vec::new();
        while peer.poll_transmit(&mut out).is_some() {}
        if !out.is_empty() && stream.write_all(&out).await.is_err() {
            return;
        }
        let mut answers = Vec::new();
        while let Some(ev) = peer.poll_event() {
            match ev {
                Event::Open { .. } => seen.lock().unwrap().opened += 1,
                Event::Answer(a) => seen.lock().unwrap().answers.push(a),
                Event::Request(req) => {
                    let code = answer.as_ref().map_or(2001, |f| f(&req));
                    let mut a = Message::answer_to(&req.header, req.session_id());
                    a.add(avp::AUTH_SESSION_STATE, 1u32);
                    a.set_error(code, "hss.home.example", HOME, None, None);
                    answers.push(a);
                }
                _ => {}
            }
        }
        let mut sent = false;
        if peer.state() == PeerState::Open {
            let outbox = std::mem::take(&mut seen.lock().unwrap().outbox);
            for m in outbox {
                peer.send_request(m, Instant::now()).unwrap();
                sent = true;
            }
        }
        if !answers.is_empty() || sent {
            for a in answers {
                let _ = peer.send_answer(a);
            }
            continue;
        }
        if peer.state() == PeerState::Closed {
            return;
        }
        let n = match tokio::time::timeout(Duration::from_millis(200), stream.read(&mut tmp)).await {
            Err(_) => {
                peer.handle_timeout(Instant::now());
                continue;
            }
            Ok(Ok(0)) | Ok(Err(_)) => return,
            Ok(Ok(n)) => n,
        };
        buf.extend_from_slice(&tmp[..n]);
        let mut off = 0;
        while let Ok(Some(len)) = next_frame_len(&buf[off..], 1 << 20) {
            if buf.len() - off < len {
                break;
            }
            let frame = &buf[off..off + len];
            let h = Header::parse(frame).unwrap();
            if h.app_id != 0 && h.is_request() {
                let mut s = seen.lock().unwrap();
                s.requests.push(frame.to_vec());
                s.arrivals.push(Instant::now());
            }
            peer.handle_input(frame, Instant::now());
            off += len;
        }
        buf.drain(..off);
    }
}

/// A partner node speaking raw bytes after CER/CEA.
pub struct Partner {
    pub stream: TcpStream,
    peer: Peer,
    buf: Vec<u8>,
    next_id: u32,
    pub host: String,
    pub realm: String,
}

/// Connects and runs the capabilities exchange; `Err` with the close reason when refused.
pub async fn connect(addr: SocketAddr, host: &str, realm: &str) -> Result<Partner, String> {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.set_nodelay(true).unwrap();
    let config = PeerConfig::new(host, realm, vec![Application::S6A]);
    let mut peer = Peer::initiator(config, Arc::new(|_: &PeerIdentity| true), None, Instant::now());
    let mut buf = Vec::new();
    let mut tmp = vec![0u8; 65536];
    loop {
        while let Some(b) = poll_message(&mut peer) {
            stream.write_all(&b).await.unwrap();
        }
        while let Some(ev) = peer.poll_event() {
            match ev {
                Event::Open { .. } => {
                    return Ok(Partner { stream, peer, buf, next_id: 1000, host: host.into(), realm: realm.into() })
                }
                Event::Closed(r) => return Err(format!("{r:?}")),
                _ => {}
            }
        }
        let n = match tokio::time::timeout(Duration::from_secs(5), stream.read(&mut tmp)).await {
            Ok(Ok(n)) if n > 0 => n,
            _ => return Err("closed".into()),
        };
        buf.extend_from_slice(&tmp[..n]);
        peer.handle_input(&buf, Instant::now());
        buf.clear();
    }
}

impl Partner {
    /// Sets identifiers, encodes and writes; returns the bytes sent.
    pub async fn send(&mut self, mut m: Message) -> Vec<u8> {
        self.next_id += 1;
        m.header.hop_by_hop = self.next_id;
        m.header.end_to_end = 0x5000_0000 | self.next_id;
        let bytes = m.encode();
        self.stream.write_all(&bytes).await.unwrap();
        bytes
    }

    /// Writes bytes as they are.
    pub async fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.unwrap();
    }

    /// The next application answer (raw bytes), answering watchdogs on the way; `None` after `wait`.
    pub async fn recv_raw(&mut self, wait: Duration) -> Option<Vec<u8>> {
        let deadline = tokio::time::Instant::now() + wait;
        let mut tmp = vec![0u8; 65536];
        loop {
            if let Ok(Some(len)) = next_frame_len(&self.buf, 1 << 20) {
                if self.buf.len() >= len {
                    let frame: Vec<u8> = self.buf.drain(..len).collect();
                    let h = Header::parse(&frame).unwrap();
                    if h.app_id == 0 {
                        self.peer.handle_input(&frame, Instant::now());
                        while let Some(b) = poll_message(&mut self.peer) {
                            self.stream.write_all(&b).await.unwrap();
                        }
                        continue;
                    }
                    return Some(frame);
                }
            }
            let n = match tokio::time::timeout_at(deadline, self.stream.read(&mut tmp)).await {
                Ok(Ok(n)) if n > 0 => n,
                _ => return None,
            };
            self.buf.extend_from_slice(&tmp[..n]);
        }
    }

    /// Sends a request and decodes its answer.
    pub async fn request(&mut self, m: Message) -> Option<Message> {
        self.send(m).await;
        self.recv_raw(Duration::from_secs(3)).await.map(|b| Message::decode(&b).unwrap())
    }

    /// Closes with DPR and waits for DPA.
    pub async fn close(mut self) {
        self.peer.disconnect(0, Instant::now());
        while let Some(b) = poll_message(&mut self.peer) {
            let _ = self.stream.write_all(&b).await;
        }
    }
}

fn base(command: Command, from: (&str, &str), imsi: &str, session: &str) -> Message {
    testkit::s6a::request(command, testkit::s6a::Node::new(from.0, from.1), HOME, imsi, session)
}

pub fn air(from: (&str, &str), imsi: &str, plmn: &[u8; 3]) -> Message {
    let mut m = base(Command::AIR, from, imsi, &format!("air;{imsi}"));
    m.add(avp::VISITED_PLMN_ID, plmn);
    m
}

pub fn ulr(from: (&str, &str), imsi: &str, plmn: &[u8; 3]) -> Message {
    let mut m = base(Command::ULR, from, imsi, &format!("ulr;{imsi}"));
    m.add(avp::RAT_TYPE, 1004u32);
    m.add(avp::ULR_FLAGS, 2u32);
    m.add(avp::VISITED_PLMN_ID, plmn);
    m
}

pub fn pur(from: (&str, &str), imsi: &str) -> Message {
    base(Command::PUR, from, imsi, &format!("pur;{imsi}"))
}

/// The code of an answer: Result-Code or Experimental-Result-Code.
pub fn code(m: &Message) -> u32 {
    m.result_code().unwrap_or(0)
}

/// Counts arrivals per whole second since the first one.
pub fn per_second(arrivals: &[Instant]) -> HashMap<u64, u64> {
    let mut m = HashMap::new();
    if let Some(first) = arrivals.first() {
        for a in arrivals {
            *m.entry(a.duration_since(*first).as_secs()).or_default() += 1;
        }
    }
    m
}
