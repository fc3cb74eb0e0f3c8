//! A bounded UDP load generator for the firewall (and any DNS server on loopback): `queries`
//! questions from several loopback source addresses, a window of outstanding questions per source,
//! reporting the rate and latency percentiles. It refuses targets and sources off loopback and
//! stops by itself (every question is sent once; a silent server costs at most `timeout` a window).

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
use hickory_proto::rr::{Name, RecordType};
use tokio::net::UdpSocket;

/// What to send.
#[derive(Debug, Clone)]
pub struct LoadSpec {
    /// The server (must be loopback).
    pub target: SocketAddr,
    /// The source addresses, one socket each (must be loopback, e.g. 127.0.0.2..).
    pub sources: Vec<IpAddr>,
    /// Questions in all (split evenly over the sources).
    pub queries: u64,
    /// The names asked, in turn.
    pub names: Vec<String>,
    /// The query type (1 A, 28 AAAA, ...).
    pub qtype: u16,
    /// Questions outstanding per source.
    pub window: usize,
    /// How long an outstanding window is waited for before its questions count as lost.
    pub timeout: Duration,
    /// Send an EDNS OPT record (payload 1232).
    pub edns: bool,
}

impl LoadSpec {
    /// `queries` A questions for `names` from `sources` to `target`, window 32, timeout 1 s.
    pub fn new(target: SocketAddr, sources: Vec<IpAddr>, queries: u64, names: Vec<String>) -> Self {
        LoadSpec { target, sources, queries, names, qtype: 1, window: 32, timeout: Duration::from_secs(1), edns: false }
    }
}

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LoadReport {
    /// Questions sent.
    pub sent: u64,
    /// Answers received.
    pub answered: u64,
    /// Answers with NOERROR.
    pub noerror: u64,
    /// Questions without an answer before the timeout.
    pub lost: u64,
    /// Wall time from the first question to the last answer.
    pub elapsed: Duration,
    /// Answers per second.
    pub qps: f64,
    /// Latency percentiles of the answered questions.
    pub p50: Duration,
    /// 90th percentile.
    pub p90: Duration,
    /// 99th percentile.
    pub p99: Duration,
    /// The slowest answer.
    pub max: Duration,
}

impl std::fmt::Display for LoadReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} sent, {} answered ({} NOERROR), {} lost in {:.2?}: {:.0} q/s; latency p50 {:?} p90 {:?} p99 {:?} max {:?}",
            self.sent, self.answered, self.noerror, self.lost, self.elapsed, self.qps, self.p50, self.p90, self.p99, self.max
        )
    }
}

/// Runs `spec` and reports. Errors: a non-loopback address, nothing to ask, or a socket error.
pub async fn run(spec: &LoadSpec) -> io::Result<LoadReport> {
    let invalid = |m: &str| io::Error::new(io::ErrorKind::InvalidInput, m.to_string());
    if !spec.target.ip().is_loopback() || spec.sources.iter().any(|s| !s.is_loopback()) {
        return Err(invalid("load: target and sources must be loopback addresses"));
    }
    if spec.sources.is_empty() || spec.names.is_empty() || spec.window == 0 {
        return Err(invalid("load: needs at least one source, one name and a window of 1 or more"));
    }
    let mut templates = Vec::new();
    for n in &spec.names {
        let name = Name::from_ascii(n).map_err(|e| invalid(&format!("load: name {n:?}: {e}")))?;
        let mut m = Message::new(0, MessageType::Query, OpCode::Query);
        m.metadata.recursion_desired = true;
        m.add_query(Query::query(name, RecordType::from(spec.qtype)));
        if spec.edns {
            let mut e = Edns::new();
            e.set_max_payload(1232);
            m.set_edns(e);
        }
        templates.push(m.to_vec().map_err(|e| invalid(&format!("load: {e}")))?);
    }
    let k = spec.sources.len() as u64;
    let mut sockets = Vec::new();
    for (i, src) in spec.sources.iter().enumerate() {
        let s = UdpSocket::bind(SocketAddr::new(*src, 0)).await?;
        s.connect(spec.target).await?;
        let share = spec.queries / k + u64::from((i as u64) < spec.queries % k);
        sockets.push((s, share));
    }
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for (i, (sock, share)) in sockets.into_iter().enumerate() {
        let (templates, window, timeout) = (templates.clone(), spec.window, spec.timeout);
        tasks.spawn(async move { one_source(sock, share, templates, i, window, timeout).await });
    }
    let mut total = Tally::default();
    while let Some(r) = tasks.join_next().await {
        let t = r.map_err(io::Error::other)??;
        total.sent += t.sent;
        total.noerror += t.noerror;
        total.lost += t.lost;
        total.latencies.extend(t.latencies);
    }
    let elapsed = started.elapsed();
    let mut lat = total.latencies;
    lat.sort_unstable();
    let pct = |p: f64| -> Duration {
        if lat.is_empty() {
            return Duration::ZERO;
        }
        let i = ((lat.len() as f64 * p).ceil() as usize).clamp(1, lat.len()) - 1;
        Duration::from_nanos(lat[i])
    };
    let answered = lat.len() as u64;
    Ok(LoadReport {
        sent: total.sent,
        answered,
        noerror: total.noerror,
        lost: total.lost,
        elapsed,
        qps: answered as f64 / elapsed.as_secs_f64().max(1e-9),
        p50: pct(0.50),
        p90: pct(0.90),
        p99: pct(0.99),
        max: pct(1.0),
    })
}

#[derive(Default)]
struct Tally {
    sent: u64,
    noerror: u64,
    lost: u64,
    latencies: Vec<u64>,
}

async fn one_source(
    sock: UdpSocket,
    share: u64,
    templates: Vec<Vec<u8>>,
    offset: usize,
    window: usize,
    timeout: Duration,
) -> io::Result<Tally> {
    let mut t = Tally { latencies: Vec::with_capacity(share as usize), ..Tally::default() };
    let mut sent_at: Vec<Option<Instant>> = vec![None; 65536];
    let mut outstanding = 0usize;
    let mut next_id: u16 = 0;
    let mut buf = vec![0u8; 65535];
    let mut turn = offset;
    while t.sent < share || outstanding > 0 {
        while outstanding < window && t.sent < share {
            let mut q = templates[turn % templates.len()].clone();
            turn += 1;
            next_id = next_id.wrapping_add(1);
            q[0..2].copy_from_slice(&next_id.to_be_bytes());
            sock.send(&q).await?;
            sent_at[next_id as usize] = Some(Instant::now());
            outstanding += 1;
            t.sent += 1;
        }
        // Most of the time an answer is waiting: take it without arming a timer.
        let received = match sock.try_recv(&mut buf) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => tokio::time::timeout(timeout, sock.recv(&mut buf)).await,
            r => Ok(r),
        };
        match received {
            Ok(Ok(n)) if n >= 12 => {
                let id = u16::from_be_bytes([buf[0], buf[1]]) as usize;
                if let Some(at) = sent_at[id].take() {
                    t.latencies.push(at.elapsed().as_nanos() as u64);
                    outstanding -= 1;
                    if buf[3] & 0x0f == 0 {
                        t.noerror += 1;
                    }
                }
            }
            Ok(Ok(_)) => {}
            Ok(Err(e)) => return Err(e),
            Err(_) => {
                // The whole window is given up on.
                t.lost += outstanding as u64;
                outstanding = 0;
                sent_at.iter_mut().for_each(|s| *s = None);
            }
        }
    }
    Ok(t)
}
