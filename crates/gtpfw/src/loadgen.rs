//! A GTP-C load generator and a P-GW responder in one process, to measure the GTP-C firewall end to
//! end on loopback (`warden bench gtp` against `warden serve`, and `tests/udp_bench.rs` against the
//! proxy in the same process).
//!
//! The responder binds `--pgw` (the firewall's `upstream`) and answers every Create Session Request
//! (accepted, with a P-GW control F-TEID), Modify Bearer Request, Delete Session Request and Echo. The
//! generator opens `--sockets` partner nodes on `--source` (an address of a `[[gtp.partners]]`
//! entry), first sets up `--sessions` tunnels (Create Session, paced at 5,000/s), then sends Modify
//! Bearer Requests on those tunnels at `--rate` per second for `--duration` seconds, each
//! timestamped by its sequence number, and measures the time to its response. Every request and
//! every response crosses the firewall and is screened: screened messages per second are twice the
//! answered requests per second. With `--direct` the generator sends to the responder itself: the
//! same measurement without the firewall, so that the added latency is the difference.
//!
//! Point it only at your own test server.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gtpc::v2::values::{cause, interface, Cause, Fteid};
use gtpc::v2::{Ie, Message, MessageType};
use gtpc::Plmn;
use quinn_udp::UdpSocketState;
use tokio::net::UdpSocket;
use tokio_util::sync::CancellationToken;

use crate::proxy::batch::{send_run, Batch, Runs, SLOT};

/// What to run.
#[derive(Debug, Clone)]
pub struct LoadSpec {
    /// The firewall's listener.
    pub target: SocketAddr,
    /// Where the P-GW responder listens (the firewall's `upstream`).
    pub pgw: SocketAddr,
    /// Send to the responder directly (the baseline without the firewall).
    pub direct: bool,
    /// Source address of the generator's nodes (a partner's address).
    pub source: std::net::IpAddr,
    /// Partner nodes (UDP sockets) sending.
    pub sockets: usize,
    /// Tunnels set up first.
    pub sessions: u32,
    /// Modify Bearer Requests per second in the measured phase.
    pub rate: u64,
    /// Length of the measured phase, seconds.
    pub duration: u64,
}

/// Request-to-response times in microseconds.
#[derive(Debug, Clone, Default)]
pub struct Latencies(Vec<u32>);

impl Latencies {
    fn record(&mut self, us: u64) {
        self.0.push(u32::try_from(us).unwrap_or(u32::MAX));
    }

    fn merge(&mut self, other: &Latencies) {
        self.0.extend_from_slice(&other.0);
    }

    /// The value at or below which `p` percent of the values lie (0 when empty).
    pub fn percentile(&self, p: f64) -> u64 {
        if self.0.is_empty() {
            return 0;
        }
        let mut v = self.0.clone();
        let rank = ((p / 100.0 * v.len() as f64).ceil() as usize).clamp(1, v.len());
        let (_, x, _) = v.select_nth_unstable(rank - 1);
        u64::from(*x)
    }

    /// The largest value (0 when empty).
    pub fn max(&self) -> u64 {
        self.0.iter().copied().max().map_or(0, u64::from)
    }
}

/// Send times are kept by sequence number modulo this (a power of two).
const RING: usize = 1 << 20;
/// Tunnels set up per second before the measured phase.
const SETUP_RATE: u64 = 5_000;
/// The P-GW TEID of a tunnel: the S-GW's TEID with this bit set.
const PGW_TEID_BIT: u32 = 0x4000_0000;

/// What a run measured.
#[derive(Debug, Clone)]
pub struct Report {
    /// Tunnels set up (accepted Create Session Responses).
    pub sessions: u64,
    /// Modify Bearer Requests sent in the measured phase.
    pub sent: u64,
    /// Of them answered.
    pub answered: u64,
    /// The measured phase.
    pub elapsed: Duration,
    /// Request to response.
    pub latency: Latencies,
    /// Through the firewall or directly.
    pub direct: bool,
}

impl Report {
    /// Answered requests per second.
    pub fn answered_per_sec(&self) -> f64 {
        self.answered as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// As JSON.
    pub fn to_json(&self) -> serde_json::Value {
        let l = &self.latency;
        serde_json::json!({
            "direct": self.direct, "sessions": self.sessions, "sent": self.sent, "answered": self.answered,
            "lost": self.sent - self.answered.min(self.sent), "elapsed_ms": self.elapsed.as_millis() as u64,
            "answered_per_sec": self.answered_per_sec().round(),
            "screened_messages_per_sec": if self.direct { 0.0 } else { (2.0 * self.answered_per_sec()).round() },
            "p50_us": l.percentile(50.0), "p90_us": l.percentile(90.0), "p99_us": l.percentile(99.0),
            "p999_us": l.percentile(99.9), "max_us": l.max(),
        })
    }

    /// One line per figure.
    pub fn to_text(&self) -> String {
        let l = &self.latency;
        let mut s = format!(
            "{}: {} tunnels set up; {} Modify Bearer Requests sent in {:.2} s, {} answered ({} lost): {:.0} answered/s\n",
            if self.direct { "direct to the P-GW" } else { "through the firewall" },
            self.sessions,
            self.sent,
            self.elapsed.as_secs_f64(),
            self.answered,
            self.sent - self.answered.min(self.sent),
            self.answered_per_sec(),
        );
        if !self.direct {
            s += &format!("screened GTP-C messages (requests + responses): {:.0}/s\n", 2.0 * self.answered_per_sec());
        }
        s += &format!(
            "request to response: p50 {} µs, p90 {} µs, p99 {} µs, p99.9 {} µs, max {} µs\n",
            l.percentile(50.0),
            l.percentile(90.0),
            l.percentile(99.0),
            l.percentile(99.9),
            l.max()
        );
        s
    }
}

/// One partner node of the generator.
struct Node {
    sock: UdpSocket,
    state: UdpSocketState,
    /// Send time (ns since the start, + 1) by sequence number modulo [`RING`]; 0: none waiting.
    sent_at: Vec<AtomicU64>,
    /// P-GW TEIDs of the tunnels this node set up.
    tunnels: Mutex<Vec<u32>>,
    latency: Mutex<Latencies>,
}

/// Runs the responder and the generator.
pub async fn run(a: &LoadSpec) -> Result<Report, String> {
    if a.sockets == 0 || a.sockets > 64 || a.sessions == 0 || a.rate == 0 || a.duration == 0 {
        return Err("--sockets (1 to 64), --sessions, --rate and --duration must be positive".into());
    }
    let pgw = UdpSocket::bind(a.pgw).await.map_err(|e| format!("P-GW responder on {}: {e}", a.pgw))?;
    let pgw_state = batched(&pgw)?;
    let stop = CancellationToken::new();
    let responder = tokio::spawn(respond(pgw, pgw_state, stop.clone()));
    let target = if a.direct { a.pgw } else { a.target };
    let mut nodes = Vec::new();
    for _ in 0..a.sockets {
        let sock =
            UdpSocket::bind(SocketAddr::new(a.source, 0)).await.map_err(|e| format!("bind {}: {e}", a.source))?;
        sock.connect(target).await.map_err(|e| format!("{target}: {e}"))?;
        let state = batched(&sock)?;
        nodes.push(Arc::new(Node {
            sock,
            state,
            sent_at: (0..RING).map(|_| AtomicU64::new(0)).collect(),
            tunnels: Mutex::new(Vec::new()),
            latency: Mutex::new(Latencies::default()),
        }));
    }
    let start = Instant::now();
    let measuring = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(AtomicU64::new(0));
    let readers: Vec<_> = nodes
        .iter()
        .map(|n| tokio::spawn(read(n.clone(), start, measuring.clone(), answered.clone(), stop.clone())))
        .collect();

    // Set-up: the sessions, spread over the nodes, paced.
    let k = nodes.len() as u64;
    let per_node = u64::from(a.sessions).div_ceil(k);
    let setups: Vec<_> = nodes
        .iter()
        .enumerate()
        .map(|(j, n)| {
            let n = n.clone();
            let first = j as u64 * per_node;
            let last = (first + per_node).min(u64::from(a.sessions));
            tokio::spawn(async move { set_up(&n, first..last, SETUP_RATE / k, start).await })
        })
        .collect();
    for s in setups {
        s.await.map_err(|e| e.to_string())??;
    }
    let wanted = u64::from(a.sessions);
    let deadline = Instant::now() + Duration::from_secs(10);
    while tunnels(&nodes) < wanted && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let sessions = tunnels(&nodes);
    if sessions == 0 {
        stop.cancel();
        return Err(format!("no tunnel set up through {target}: is the firewall's upstream {}?", a.pgw));
    }

    // The measured phase: one sending thread for all nodes, paced finely (see [`modify`]).
    measuring.store(true, Ordering::Relaxed);
    let begun = Instant::now();
    let length = Duration::from_secs(a.duration);
    let sender = {
        let (nodes, rate) = (nodes.clone(), a.rate);
        tokio::task::spawn_blocking(move || modify(&nodes, rate, begun, length, start))
    };
    let sent = sender.await.map_err(|e| e.to_string())??;
    let elapsed = begun.elapsed();
    // Responses still on their way.
    let settle = Instant::now() + Duration::from_secs(1);
    while answered.load(Ordering::Relaxed) < sent && Instant::now() < settle {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stop.cancel();
    for r in readers {
        r.abort();
    }
    responder.abort();
    let mut latency = Latencies::default();
    for n in &nodes {
        latency.merge(&n.latency.lock().expect("histogram"));
    }
    Ok(Report { sessions, sent, answered: answered.load(Ordering::Relaxed), elapsed, latency, direct: a.direct })
}

/// Prepares a socket for batched receives ([`Batch`]) and segmented sends, with buffers of 4 MB
/// (capped by the kernel's maximum): bursts wait instead of being dropped.
fn batched(sock: &UdpSocket) -> Result<UdpSocketState, String> {
    let state = UdpSocketState::new(sock.into()).map_err(|e| format!("socket options: {e}"))?;
    let _ = state.set_recv_buffer_size(sock.into(), 4 << 20);
    let _ = state.set_send_buffer_size(sock.into(), 4 << 20);
    Ok(state)
}

fn tunnels(nodes: &[Arc<Node>]) -> u64 {
    nodes.iter().map(|n| n.tunnels.lock().expect("tunnels").len() as u64).sum()
}

fn nanos(start: Instant) -> u64 {
    u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX - 1) + 1
}

async fn send(sock: &UdpSocket, bytes: &[u8]) -> Result<(), String> {
    match sock.try_send(bytes) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
            sock.send(bytes).await.map(|_| ()).map_err(|e| e.to_string())
        }
        // ICMP "port unreachable" of an earlier datagram: the target is not there (yet).
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => Ok(()),
        Err(e) => Err(e.to_string()),
    }
}

/// Create Session Requests for sessions `range` (IMSI 00101 + the index, S-GW TEID index + 1).
async fn set_up(n: &Node, range: std::ops::Range<u64>, rate: u64, start: Instant) -> Result<(), String> {
    let begun = Instant::now();
    for (done, i) in range.enumerate() {
        let due = begun + Duration::from_nanos(done as u64 * 1_000_000_000 / rate.max(1));
        if due > Instant::now() {
            tokio::time::sleep_until(due.into()).await;
        }
        let seq = (i as u32 % 0xff_ffff) + 1;
        let f = Fteid {
            interface_type: interface::S5S8_SGW_GTPC,
            teid: i as u32 + 1,
            ipv4: Some(Ipv4Addr::LOCALHOST),
            ipv6: None,
        };
        let imsi = format!("00101{i:010}");
        let m = Message::builder(MessageType::CREATE_SESSION_REQUEST)
            .sequence(seq)
            .ie(Ie::imsi(&imsi).map_err(|e| e.to_string())?)
            .ie(Ie::serving_network(Plmn::new("262", "01").map_err(|e| e.to_string())?))
            .ie(Ie::rat_type(6))
            .ie(Ie::fteid(0, &f))
            .ie(Ie::apn("internet").map_err(|e| e.to_string())?)
            .ie(Ie::bearer_context(0, vec![Ie::ebi(5)]))
            .build()
            .map_err(|e| e.to_string())?
            .encode();
        n.sent_at[seq as usize % RING].store(nanos(start), Ordering::Relaxed);
        send(&n.sock, &m).await?;
    }
    Ok(())
}

/// The shortest sleep of the sending thread between sends: at most this many wake-ups per second
/// (each sends what has become due since the last one).
const TICK: Duration = Duration::from_micros(100);

/// Modify Bearer Requests at `rate` per second in all, on the nodes' tunnels in turn (message `i`
/// from node `i` modulo their number), for `length`; returns how many were sent.
///
/// A thread of its own, sleeping with a 1 µs timer slack until the next message is due (at least
/// [`TICK`]): arrivals are spread as evenly as the kernel's timers allow, as from many independent
/// S-GWs, instead of in bursts at the runtime timer's 1 ms granularity — a burst of a millisecond's
/// messages waits in every queue on its way, with or without the firewall, and would be measured
/// as latency of the firewall.
fn modify(nodes: &[Arc<Node>], rate: u64, begun: Instant, length: Duration, start: Instant) -> Result<u64, String> {
    #[cfg(target_os = "linux")]
    let _ = rustix::thread::set_current_timer_slack(std::num::NonZeroU64::new(1_000));
    let tunnels: Vec<Vec<u32>> = nodes.iter().map(|n| n.tunnels.lock().expect("tunnels").clone()).collect();
    let active: Vec<usize> = (0..nodes.len()).filter(|&j| !tunnels[j].is_empty()).collect();
    if active.is_empty() {
        return Ok(0);
    }
    let mut m = Message::builder(MessageType::MODIFY_BEARER_REQUEST)
        .teid(0)
        .sequence(1)
        .ie(Ie::bearer_context(0, vec![Ie::ebi(5)]))
        .build()
        .map_err(|e| e.to_string())?
        .encode();
    let mut sent = 0u64;
    // Sequence numbers above the set-up's, one series per node.
    let mut seqs = vec![0x80_0000u32; nodes.len()];
    loop {
        let elapsed = begun.elapsed();
        if elapsed >= length {
            return Ok(sent);
        }
        let due = u64::try_from(elapsed.as_nanos() * u128::from(rate) / 1_000_000_000).unwrap_or(u64::MAX);
        while sent < due {
            let j = active[sent as usize % active.len()];
            let (n, t) = (&nodes[j], &tunnels[j]);
            let teid = t[(sent as usize / active.len()) % t.len()];
            m[4..8].copy_from_slice(&teid.to_be_bytes());
            let seq = &mut seqs[j];
            *seq = if *seq >= 0xff_ffff { 0x80_0000 } else { *seq + 1 };
            m[8..11].copy_from_slice(&seq.to_be_bytes()[1..]);
            n.sent_at[*seq as usize % RING].store(nanos(start), Ordering::Relaxed);
            send_blocking(&n.sock, &m)?;
            sent += 1;
        }
        let next = Duration::from_nanos(((sent + 1) as u128 * 1_000_000_000 / u128::from(rate)) as u64);
        std::thread::sleep(next.saturating_sub(begun.elapsed()).max(TICK));
    }
}

/// Sends on a node's (non-blocking) socket from the sending thread, waiting briefly while its
/// buffer is full.
fn send_blocking(sock: &UdpSocket, bytes: &[u8]) -> Result<(), String> {
    let s = socket2::SockRef::from(sock);
    loop {
        match s.send(bytes) {
            Ok(_) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => std::thread::sleep(TICK),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.to_string()),
        }
    }
}

/// Reads one node's responses, in batches: Create Session Responses give tunnels, every response
/// in the measured phase a latency.
async fn read(
    n: Arc<Node>,
    start: Instant,
    measuring: Arc<AtomicBool>,
    answered: Arc<AtomicU64>,
    stop: CancellationToken,
) {
    let mut batch = Batch::new();
    let mut local = Latencies::default();
    loop {
        let mut count = 0u64;
        let got = batch
            .receive(&n.sock, &n.state, &stop, |_, b| {
                if b.len() < 12 || b[0] >> 5 != 2 || b[0] & 0x08 == 0 {
                    return;
                }
                let seq = u32::from_be_bytes([0, b[8], b[9], b[10]]);
                let at = n.sent_at[seq as usize % RING].swap(0, Ordering::Relaxed);
                if b[1] == MessageType::CREATE_SESSION_RESPONSE.0 {
                    if let Ok(m) = Message::decode(b) {
                        if matches!(m.cause(), Some(Ok(c)) if c.is_accepted()) {
                            if let Some(f) = m.find(gtpc::v2::IeType::FTEID, 1).and_then(|i| i.as_fteid().ok()) {
                                n.tunnels.lock().expect("tunnels").push(f.teid);
                            }
                        }
                    }
                } else if b[1] == MessageType::MODIFY_BEARER_RESPONSE.0 && at != 0 && measuring.load(Ordering::Relaxed)
                {
                    local.record(nanos(start).saturating_sub(at).div_ceil(1000));
                    count += 1;
                }
            })
            .await;
        if got.is_none() {
            return;
        }
        if count > 0 {
            n.latency.lock().expect("histogram").merge(&local);
            local.0.clear();
            answered.fetch_add(count, Ordering::Relaxed);
        }
    }
}

/// The P-GW: answers Create Session (accepted, P-GW TEID = the S-GW's with [`PGW_TEID_BIT`]),
/// Modify Bearer, Delete Session and Echo Requests. Reads in batches (`recvmmsg`), to spend little
/// of the shared CPU, and answers each request with a datagram of its own, as a P-GW would (so the
/// firewall's upstream sockets get no kernel-coalesced runs that a real P-GW would not send).
async fn respond(sock: UdpSocket, state: UdpSocketState, stop: CancellationToken) {
    let accepted = Cause::new(cause::REQUEST_ACCEPTED);
    let template = |t: MessageType| -> Vec<u8> {
        Message::builder(t).teid(0).sequence(0).ie(Ie::cause(&accepted)).build().map(|m| m.encode()).unwrap_or_default()
    };
    let (mbr, dsr) = (template(MessageType::MODIFY_BEARER_RESPONSE), template(MessageType::DELETE_SESSION_RESPONSE));
    let mut batch = Batch::new();
    let mut out = Vec::with_capacity(SLOT);
    let mut runs = Runs::default();
    loop {
        out.clear();
        let got = batch
            .receive(&sock, &state, &stop, |from, b| {
                let at = out.len();
                if answer(b, &mbr, &dsr, &accepted, &mut out) {
                    // One datagram per run: never segmented.
                    runs.push(from, at..out.len(), 1);
                } else {
                    out.truncate(at);
                }
            })
            .await;
        if got.is_none() {
            return;
        }
        for (to, range, size) in runs.runs.drain(..) {
            send_run(&sock, &state, to, &out[range], size).await;
        }
    }
}

/// Appends to `out` the responder's answer to the request `b`; `false` when it has none.
fn answer(b: &[u8], mbr: &[u8], dsr: &[u8], accepted: &Cause, out: &mut Vec<u8>) -> bool {
    if b.len() < 8 || b[0] >> 5 != 2 {
        return false;
    }
    let built = match MessageType(b[1]) {
        MessageType::MODIFY_BEARER_REQUEST | MessageType::DELETE_SESSION_REQUEST if b.len() >= 12 => {
            let at = out.len();
            out.extend_from_slice(if b[1] == MessageType::MODIFY_BEARER_REQUEST.0 { mbr } else { dsr });
            out[at + 8..at + 11].copy_from_slice(&b[8..11]);
            return true;
        }
        MessageType::CREATE_SESSION_REQUEST => {
            let Ok(m) = Message::decode(b) else { return false };
            let Some(Ok(s)) = m.sender_fteid() else { return false };
            let f = Fteid {
                interface_type: interface::S5S8_PGW_GTPC,
                teid: s.teid | PGW_TEID_BIT,
                ipv4: Some(Ipv4Addr::LOCALHOST),
                ipv6: None,
            };
            Message::builder(MessageType::CREATE_SESSION_RESPONSE)
                .teid(s.teid)
                .sequence(m.header.sequence)
                .ie(Ie::cause(accepted))
                .ie(Ie::fteid(1, &f))
                .build()
        }
        MessageType::ECHO_REQUEST => {
            let Ok(m) = Message::decode(b) else { return false };
            Message::builder(MessageType::ECHO_RESPONSE).sequence(m.header.sequence).ie(Ie::recovery(1)).build()
        }
        _ => return false,
    };
    match built {
        Ok(r) => {
            out.extend_from_slice(&r.encode());
            true
        }
        Err(_) => false,
    }
}
