//! `warden bench s6a` and `warden bench gx`: Diameter load generators — S6a
//! Authentication-Information-Requests, or Gx CCR-Initials (TS 29.212; each a new session with its
//! own Framed-IP-Address, so the PCRF stores one session per request).
//!
//! It opens `--connections` Diameter connections to `--target`, sends AIRs (CCR-Is) for the IMSIs of
//! `--imsi-file` (round-robin over the file and over the connections) at `--rate` requests per second
//! overall for `--duration` seconds, with at most `--window` requests in flight per connection, and
//! reports counts, the achieved rate of successful answers, latency percentiles and the Result-Codes
//! seen.
//!
//! **Where to point it.** It is meant for loopback targets in tests and for an operator's own lab HSS;
//! nothing in the code restricts the target, so do not aim it at a production or partner node.
//!
//! **Peers the server must accept.** With one connection the generator's Origin-Host is
//! `--origin-host`; with more, connection `i` (counted from 0) uses `c{i}.{origin-host}`
//! (`c0.bench.warden.localdomain`, `c1.…`, see [`origin_hosts`]). The HSS authorises peers by exact
//! Origin-Host and Origin-Realm, so every one of these names must be a configured peer (with IMSI
//! prefixes covering the IMSI file), or the capabilities exchange fails with DIAMETER_UNKNOWN_PEER.
//!
//! **Pacing.** Request `k` (counted from 0 over the whole run) is due at `k / rate` seconds after the
//! start and is sent by connection `k mod connections` for IMSI `k mod (number of IMSIs)`. Each
//! connection is one task that drives its Diameter peer state machine itself (no task per request,
//! no channel between the sender and the connection): it wakes on a 1 ms tokio interval or when
//! answers arrive, computes how many of its requests are due by now, and sends all of them in one
//! write; after a late wake-up it catches up with a larger burst, so the rate over the run holds even
//! when single ticks slip. At most `--window` requests are in flight per connection; when the server
//! is slower than the rate, the generator is limited by the window and the backlog is sent as answers
//! free it. Rate 0 sends as fast as the window allows. Latency runs from handing the request to the
//! peer state machine until its answer is read (it does not include time spent waiting for the
//! window).
//!
//! **End of the run.** No request is sent after `--duration` seconds; answers are awaited for up to
//! 5 s more, requests still unanswered then count as timeouts, and every connection is closed with
//! DPR (Disconnect-Cause REBOOTING).
//!
//! Latencies go into a log-linear histogram ([`Histogram`]): 1 µs buckets up to 10 ms, then three
//! significant digits per decade up to 10 s (10 µs, 100 µs, 1 ms buckets), and one bucket above.

use std::collections::{BTreeMap, HashMap};
use std::io::IsTerminal;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use diameter::peer::{Application, Event, IdGenerator, Peer, PeerAuthorizer, PeerConfig, PeerIdentity, PeerState};
use diameter::result_code as rc;
use diameter::transport::{rand_seed, Driver, RequestError};
use diameter::{avp, Avp, Command, Message, MessageView, RawAvp, RawAvps};
use ids::{Imsi, Plmn};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};

use crate::cli::BenchArgs;

/// How long answers are awaited after the last request was sent.
const GRACE: Duration = Duration::from_secs(5);
/// How long opening one connection (TCP and capabilities exchange) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the DPR/DPA exchange may take when closing a connection.
const DISCONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// The pacing tick.
const TICK: Duration = Duration::from_millis(1);
/// Largest `--window` accepted.
const MAX_WINDOW: usize = 65_535;
/// Bytes read at a time: many answers per read.
const READ_BUFFER: usize = 64 * 1024;

/// The outcome of a run.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct BenchReport {
    /// AIRs handed to the connections.
    pub sent: u64,
    /// AIRs answered (any Result-Code).
    pub answered: u64,
    /// Answers with Result-Code 2001 (DIAMETER_SUCCESS).
    pub success: u64,
    /// Answers with any other Result-Code or Experimental-Result-Code (or none).
    pub errors: u64,
    /// AIRs without an answer within the request timeout or by the end of the 5 s grace period.
    pub timeouts: u64,
    /// AIRs that got no answer because their connection closed or refused them (not counted in
    /// `timeouts`); `sent == answered + timeouts + failed`.
    pub failed: u64,
    /// Seconds from the first request until the last answer (or the end of the grace period).
    pub elapsed_secs: f64,
    /// Successful answers per second over `elapsed_secs`.
    pub rate: f64,
    /// Median latency of the answers, in milliseconds.
    pub p50_ms: f64,
    /// 99th percentile latency, in milliseconds.
    pub p99_ms: f64,
    /// 99.9th percentile latency, in milliseconds.
    pub p999_ms: f64,
    /// Largest latency, in milliseconds.
    pub max_ms: f64,
    /// Answers per Result-Code (Experimental-Result-Code when that is what the answer carries; 0 for
    /// an answer with neither).
    pub result_codes: BTreeMap<u32, u64>,
    /// What was sent: `S6a AIR` or `Gx CCR-I`.
    pub requests: &'static str,
    /// Answers slower than [`SLOW`], by the second of the run (from its start) in which they were
    /// answered: whether the tail comes in bursts (a reconnect, a pause of the server) or is spread.
    pub slow_by_second: Vec<u64>,
}

/// An answer slower than this counts in [`BenchReport::slow_by_second`] (the p99 bound).
pub const SLOW: Duration = Duration::from_millis(5);

impl BenchReport {
    /// The report as a JSON object with the field names of this struct (`result_codes` keyed by the
    /// code as a string).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("a report always serialises")
    }

    /// The report for people, a few lines.
    pub fn to_text(&self) -> String {
        let codes = if self.result_codes.is_empty() {
            "none".to_string()
        } else {
            self.result_codes.iter().map(|(c, n)| format!("{c}: {n}")).collect::<Vec<_>>().join(", ")
        };
        let slow = self.slow_by_second.iter().map(u64::to_string).collect::<Vec<_>>().join(" ");
        format!(
            "{}: {} sent in {:.3} s\n\
             answers:      {} (success {}, errors {}), timeouts {}, failed {}\n\
             rate:         {:.1} successful answers/s\n\
             latency (ms): p50 {:.3}  p99 {:.3}  p99.9 {:.3}  max {:.3}\n\
             result codes: {}\n\
             over 5 ms:    {} (answers per second of the run)",
            self.requests,
            self.sent,
            self.elapsed_secs,
            self.answered,
            self.success,
            self.errors,
            self.timeouts,
            self.failed,
            self.rate,
            self.p50_ms,
            self.p99_ms,
            self.p999_ms,
            self.max_ms,
            codes,
            if slow.is_empty() { "none".to_string() } else { slow }
        )
    }
}

// ---------------------------------------------------------------------------------------------------
// Histogram

/// Values below this many microseconds get 1 µs buckets.
const LINEAR_LIMIT: u64 = 10_000;
/// Coarse decades above [`LINEAR_LIMIT`]: 10–100 ms, 100 ms–1 s, 1–10 s.
const DECADES: u32 = 3;
/// Buckets per coarse decade (three significant digits).
const PER_DECADE: usize = 9_000;
/// Values from this many microseconds (10 s) on share the last bucket.
const OVERFLOW_FROM: u64 = LINEAR_LIMIT * 10u64.pow(DECADES);
const BUCKETS: usize = LINEAR_LIMIT as usize + DECADES as usize * PER_DECADE + 1;

/// A log-linear latency histogram in microseconds, in the manner of HDR histograms: exact to 1 µs up
/// to 10 ms, then to three significant digits (10 µs, 100 µs, 1 ms wide buckets) up to 10 s, then one
/// overflow bucket. The largest value is kept exactly; percentiles report the upper edge of their
/// bucket, never above that largest value.
#[derive(Debug, Clone)]
pub struct Histogram {
    counts: Vec<u64>,
    total: u64,
    max: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Self::new()
    }
}

impl Histogram {
    /// An empty histogram.
    pub fn new() -> Self {
        Self { counts: vec![0; BUCKETS], total: 0, max: 0 }
    }

    fn index(us: u64) -> usize {
        if us < LINEAR_LIMIT {
            return us as usize;
        }
        if us >= OVERFLOW_FROM {
            return BUCKETS - 1;
        }
        let mut low = LINEAR_LIMIT;
        let mut step = 10;
        for d in 0..DECADES as usize {
            if us < low * 10 {
                return LINEAR_LIMIT as usize + d * PER_DECADE + ((us - low) / step) as usize;
            }
            low *= 10;
            step *= 10;
        }
        BUCKETS - 1
    }

    /// The largest value that falls into bucket `i`.
    fn upper(i: usize) -> u64 {
        if i < LINEAR_LIMIT as usize {
            return i as u64;
        }
        if i == BUCKETS - 1 {
            return u64::MAX;
        }
        let d = (i - LINEAR_LIMIT as usize) / PER_DECADE;
        let within = ((i - LINEAR_LIMIT as usize) % PER_DECADE) as u64;
        let step = 10u64.pow(d as u32 + 1);
        LINEAR_LIMIT * 10u64.pow(d as u32) + (within + 1) * step - 1
    }

    /// Records one value in microseconds.
    pub fn record(&mut self, us: u64) {
        self.counts[Self::index(us)] += 1;
        self.total += 1;
        self.max = self.max.max(us);
    }

    /// Records a duration, rounded up to the next microsecond.
    pub fn record_duration(&mut self, d: Duration) {
        self.record(u64::try_from(d.as_nanos().div_ceil(1000)).unwrap_or(u64::MAX));
    }

    /// Adds every value of `other`.
    pub fn merge(&mut self, other: &Histogram) {
        self.counts.iter_mut().zip(&other.counts).for_each(|(a, b)| *a += b);
        self.total += other.total;
        self.max = self.max.max(other.max);
    }

    /// The largest value recorded (0 when empty).
    pub fn max(&self) -> u64 {
        self.max
    }

    /// The value at or below which `p` percent of the values lie (0 when empty), in microseconds.
    pub fn percentile(&self, p: f64) -> u64 {
        if self.total == 0 {
            return 0;
        }
        // In parts per million, so that 99.9 % of 1000 values is exactly rank 999.
        let ppm = (p.clamp(0.0, 100.0) * 10_000.0).round() as u128;
        let rank = (ppm * u128::from(self.total)).div_ceil(1_000_000).clamp(1, u128::from(self.total)) as u64;
        let mut seen = 0;
        for (i, n) in self.counts.iter().enumerate() {
            seen += n;
            if seen >= rank {
                return Self::upper(i).min(self.max);
            }
        }
        self.max
    }
}

// ---------------------------------------------------------------------------------------------------
// Inputs

/// Reads an IMSI list: one IMSI per line, blank lines and lines starting with `#` ignored, surrounding
/// white space trimmed. Refuses a list without IMSIs and names the line of a bad IMSI.
pub fn parse_imsis(text: &str) -> Result<Vec<String>, String> {
    let mut imsis = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let imsi: Imsi = line.parse().map_err(|e| format!("line {}: {e}", n + 1))?;
        imsis.push(imsi.as_str().to_string());
    }
    if imsis.is_empty() {
        return Err("no IMSI in the file (it is empty or holds only comments)".to_string());
    }
    Ok(imsis)
}

/// The Origin-Host of each connection: `--origin-host` itself for one connection, `c{i}.{origin-host}`
/// for connection `i` (from 0) when there are more. The server must accept every one of them.
pub fn origin_hosts(args: &BenchArgs) -> Vec<String> {
    if args.connections == 1 {
        vec![args.origin_host.clone()]
    } else {
        (0..args.connections).map(|i| format!("c{i}.{}", args.origin_host)).collect()
    }
}

/// How many of connection `index`'s requests are among the first `total` requests of the run, when
/// request `k` goes to connection `k mod connections`.
fn share(total: u64, index: u64, connections: u64) -> u64 {
    if total > index {
        (total - index).div_ceil(connections)
    } else {
        0
    }
}

/// Requests due overall `elapsed` after the start at `rate` per second.
fn due_overall(rate: u64, elapsed: Duration) -> u64 {
    u64::try_from(u128::from(rate) * elapsed.as_nanos() / 1_000_000_000).unwrap_or(u64::MAX)
}

// ---------------------------------------------------------------------------------------------------
// The run

/// What is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Load {
    /// S6a AIR.
    Air,
    /// Gx CCR-Initial.
    CcrInitial,
}

/// What one connection builds its requests from.
struct AirTemplate {
    load: Load,
    apn: String,
    first_ip: u32,
    origin_host: String,
    origin_realm: String,
    destination_realm: String,
    plmn: [u8; 3],
    /// Distinguishes the Session-Ids of successive runs (seconds since the epoch).
    run_id: u64,
    imsis: Arc<Vec<String>>,
}

impl AirTemplate {
    /// Request `k` of the run.
    fn request(&self, k: u64) -> Message {
        match self.load {
            Load::Air => self.air(k),
            Load::CcrInitial => self.ccr_initial(k),
        }
    }

    /// The CCR-I for request `k` of the run: a new session (unique Session-Id) of IMSI `k mod n`
    /// with Framed-IP-Address `--first-ip` + k (TS 29.212 §5.6.2).
    fn ccr_initial(&self, k: u64) -> Message {
        let imsi = &self.imsis[(k % self.imsis.len() as u64) as usize];
        let ip = std::net::Ipv4Addr::from(self.first_ip.wrapping_add(k as u32)).octets();
        let mut m = Message::request(Command::CCR);
        m.add(avp::SESSION_ID, format!("{};{};{k}", self.origin_host, self.run_id))
            .add(avp::AUTH_APPLICATION_ID, diameter::dictionary::app::GX)
            .add(avp::ORIGIN_HOST, self.origin_host.as_str())
            .add(avp::ORIGIN_REALM, self.origin_realm.as_str())
            .add(avp::DESTINATION_REALM, self.destination_realm.as_str())
            .add(avp::CC_REQUEST_TYPE, 1u32)
            .add(avp::CC_REQUEST_NUMBER, 0u32)
            .add(
                avp::SUBSCRIPTION_ID,
                vec![Avp::new(avp::SUBSCRIPTION_ID_TYPE, 1u32), Avp::new(avp::SUBSCRIPTION_ID_DATA, imsi.as_str())],
            )
            .add(avp::FRAMED_IP_ADDRESS, &ip[..])
            .add(avp::IP_CAN_TYPE, 5u32)
            .add(avp::RAT_TYPE, 1004u32)
            .add(avp::CALLED_STATION_ID, self.apn.as_str());
        m
    }

    /// The AIR for request `k` of the run (unique over the run, so the Session-Id is unique).
    fn air(&self, k: u64) -> Message {
        let imsi = &self.imsis[(k % self.imsis.len() as u64) as usize];
        let mut m = Message::request(Command::AIR);
        m.add(avp::SESSION_ID, format!("{};{};{k}", self.origin_host, self.run_id))
            .add(avp::AUTH_SESSION_STATE, 1u32)
            .add(avp::ORIGIN_HOST, self.origin_host.as_str())
            .add(avp::ORIGIN_REALM, self.origin_realm.as_str())
            .add(avp::DESTINATION_REALM, self.destination_realm.as_str())
            .add(avp::USER_NAME, imsi.as_str())
            .add(avp::VISITED_PLMN_ID, &self.plmn)
            .add(
                avp::REQUESTED_EUTRAN_AUTHENTICATION_INFO,
                vec![
                    Avp::new(avp::NUMBER_OF_REQUESTED_VECTORS, 1u32),
                    Avp::new(avp::IMMEDIATE_RESPONSE_PREFERRED, 1u32),
                ],
            );
        m
    }
}

/// Counts of one connection.
#[derive(Debug, Default)]
struct Stats {
    histogram: Histogram,
    answered: u64,
    success: u64,
    errors: u64,
    timeouts: u64,
    failed: u64,
    result_codes: BTreeMap<u32, u64>,
    /// Answers slower than [`SLOW`] per second of the run.
    slow_by_second: Vec<u64>,
}

impl Stats {
    /// Counts an answer with its Result-Code (or a request without one), answered `at` after the
    /// start of the run.
    fn record(&mut self, outcome: Result<u32, RequestError>, latency: Duration, at: Duration) {
        match outcome {
            Ok(code) => {
                self.answered += 1;
                self.histogram.record_duration(latency);
                if latency > SLOW {
                    let second = at.as_secs() as usize;
                    if self.slow_by_second.len() <= second {
                        self.slow_by_second.resize(second + 1, 0);
                    }
                    self.slow_by_second[second] += 1;
                }
                *self.result_codes.entry(code).or_default() += 1;
                if code == rc::SUCCESS {
                    self.success += 1;
                } else {
                    self.errors += 1;
                }
            }
            Err(RequestError::Timeout) => self.timeouts += 1,
            Err(RequestError::Closed | RequestError::Refused(_)) => self.failed += 1,
        }
    }
}

/// Counters the progress bar reads.
#[derive(Default)]
struct Progress {
    sent: AtomicU64,
    answered: AtomicU64,
}

/// One open connection and what its task needs.
struct Connection {
    index: u64,
    driver: Driver<TcpStream>,
    template: Arc<AirTemplate>,
}

/// What a connection task hands back.
struct Outcome {
    sent: u64,
    stats: Stats,
}

/// The timing shared by every connection task.
#[derive(Clone, Copy)]
struct Schedule {
    start: Instant,
    end: Instant,
    rate: u64,
    connections: u64,
    window: usize,
}

/// Runs the benchmark described by `args` and returns its report. Fails before sending anything when
/// the arguments or the IMSI file are wrong or a connection cannot be opened.
pub async fn run(args: &BenchArgs, load: Load) -> Result<BenchReport, String> {
    if args.connections == 0 {
        return Err("--connections must be at least 1".into());
    }
    if args.window == 0 || args.window > MAX_WINDOW {
        return Err(format!("--window must be 1 to {MAX_WINDOW}"));
    }
    if args.duration == 0 {
        return Err("--duration must be at least 1 second".into());
    }
    let plmn: Plmn = args.plmn.parse().map_err(|e| format!("--plmn: {e}"))?;
    let text = std::fs::read_to_string(&args.imsi_file).map_err(|e| format!("{}: {e}", args.imsi_file.display()))?;
    let imsis = Arc::new(parse_imsis(&text).map_err(|e| format!("{}: {e}", args.imsi_file.display()))?);
    let run_id = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);

    let mut connections = Vec::with_capacity(args.connections);
    for (i, host) in origin_hosts(args).into_iter().enumerate() {
        match open(args.target, &host, args, load).await {
            Ok(driver) => connections.push(Connection {
                index: i as u64,
                driver,
                template: Arc::new(AirTemplate {
                    load,
                    apn: args.apn.clone(),
                    first_ip: u32::from(args.first_ip),
                    origin_host: host,
                    origin_realm: args.origin_realm.clone(),
                    destination_realm: args.destination_realm.clone(),
                    plmn: plmn.to_bcd(),
                    run_id,
                    imsis: imsis.clone(),
                }),
            }),
            Err(e) => {
                for c in connections {
                    close(c.driver).await;
                }
                return Err(format!("connection {i} ({host}) to {}: {e}", args.target));
            }
        }
    }

    let start = Instant::now();
    let schedule = Schedule {
        start,
        end: start + Duration::from_secs(args.duration),
        rate: args.rate,
        connections: args.connections as u64,
        window: args.window,
    };
    let progress = Arc::new(Progress::default());
    let bar = (!args.json && std::io::stderr().is_terminal()).then(|| progress_bar(args.duration, &progress, start));

    let tasks: Vec<_> =
        connections.into_iter().map(|c| tokio::spawn(drive_connection(c, schedule, progress.clone()))).collect();
    let mut outcomes = Vec::with_capacity(tasks.len());
    let mut drivers = Vec::with_capacity(tasks.len());
    for t in tasks {
        let (outcome, driver) = t.await.map_err(|e| format!("a connection task failed: {e}"))?;
        outcomes.push(outcome);
        drivers.push(driver);
    }
    let elapsed = start.elapsed();
    if let Some((bar, ticker)) = bar {
        ticker.abort();
        bar.finish_and_clear();
    }
    for driver in drivers {
        close(driver).await;
    }
    Ok(report(outcomes, elapsed, load))
}

/// Opens one connection: TCP, then the capabilities exchange advertising S6a (Gx). The generator
/// drives the peer state machine itself (no connection task, no channel between it and the sender).
async fn open(target: SocketAddr, host: &str, args: &BenchArgs, load: Load) -> Result<Driver<TcpStream>, String> {
    let app = if load == Load::Air { Application::S6A } else { Application::GX };
    let mut config = PeerConfig::new(host, &args.origin_realm, vec![app]);
    config.seed ^= rand_seed();
    // We chose the target ourselves: whoever answers there is the peer we want to measure.
    let any: Arc<dyn PeerAuthorizer> = Arc::new(|_: &PeerIdentity| true);
    let opening = async {
        let stream = TcpStream::connect(target).await.map_err(|e| e.to_string())?;
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        let peer = Peer::initiator(config, any, Some(target.ip()), Instant::now().into_std());
        let mut driver = Driver::new(stream, peer, READ_BUFFER);
        loop {
            driver.transmit().await;
            while let Some(event) = driver.peer_mut().poll_event() {
                match event {
                    Event::Open { .. } => return Ok(driver),
                    Event::Closed(reason) => return Err(format!("{reason:?}")),
                    _ => {}
                }
            }
            driver.step(true).await;
        }
    };
    match tokio::time::timeout(CONNECT_TIMEOUT, opening).await {
        Ok(opened) => opened,
        Err(_) => Err(format!("not open after {} s", CONNECT_TIMEOUT.as_secs())),
    }
}

/// Disconnects with DPR (REBOOTING) and waits briefly for the DPA.
async fn close(mut driver: Driver<TcpStream>) {
    driver.peer_mut().disconnect(0, Instant::now().into_std());
    let closing = async {
        loop {
            driver.transmit().await;
            while driver.peer_mut().poll_event().is_some() {}
            if driver.peer().state() == PeerState::Closed {
                return driver.close().await;
            }
            driver.step(true).await;
        }
    };
    let _ = tokio::time::timeout(DISCONNECT_TIMEOUT, closing).await;
}

/// Sends connection `c`'s share of the requests on schedule (those due, as far as the window
/// allows, go out in one write per wake-up), takes the answers as they come, and ends once every
/// request has its answer or the grace period is over. Hands the connection back for the close.
///
/// Once the connection is open the generator uses the driver's relay step: its requests are
/// encoded straight into the next write with identifiers of its own, and an answer is read in place
/// for its hop-by-hop identifier and Result-Code only (no AVP tree is built for a CCA that carries
/// the whole rule set); base-protocol messages (DWR, DPR) still go to the peer state machine.
async fn drive_connection(mut c: Connection, s: Schedule, progress: Arc<Progress>) -> (Outcome, Driver<TcpStream>) {
    let mut stats = Stats::default();
    // When each request in flight was handed to the connection, by hop-by-hop identifier.
    let mut in_flight: HashMap<u32, Instant> = HashMap::with_capacity(s.window);
    let mut ids = IdGenerator::new(
        rand_seed(),
        (std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0) & 0xfff)
            as u32,
    );
    let mut sent: u64 = 0;
    let mut ticks = tokio::time::interval_at(s.start, TICK);
    // Catching up is done by counting what is due, so missed ticks need not be replayed.
    ticks.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let give_up = s.end + GRACE;
    let (mut closed, mut ended) = (false, false);
    loop {
        let now = Instant::now();
        if !closed && !ended {
            // The first turn at or after the end still sends what was due by the end (the last
            // request is due exactly then), and only that.
            ended = now >= s.end;
            let due = match s.rate {
                0 if ended => sent,
                0 => u64::MAX,
                rate => share(due_overall(rate, now.min(s.end) - s.start), c.index, s.connections),
            };
            let before = sent;
            while sent < due && in_flight.len() < s.window {
                let mut request = c.template.request(c.index + sent * s.connections);
                let (hop_by_hop, end_to_end) = ids.next_pair();
                request.header.hop_by_hop = hop_by_hop;
                request.header.end_to_end = end_to_end;
                request.encode_into(c.driver.out());
                in_flight.insert(hop_by_hop, Instant::now());
                sent += 1;
            }
            progress.sent.fetch_add(sent - before, Ordering::Relaxed);
        }
        c.driver.transmit().await;
        while let Some(event) = c.driver.peer_mut().poll_event() {
            if let Event::Closed(_) = event {
                closed = true;
            }
        }
        if c.driver.peer().state() == PeerState::Closed {
            closed = true;
        }
        let now = Instant::now();
        if closed || (now >= s.end && in_flight.is_empty()) || now >= give_up {
            break;
        }
        let mut answered = 0;
        tokio::select! {
            () = c.driver.step_relay(true, |frame, header, _, _| {
                if header.is_request() {
                    return; // A request of the server's (RAR): not answered, as before.
                }
                if let Some(t0) = in_flight.remove(&header.hop_by_hop) {
                    let now = Instant::now();
                    stats.record(Ok(result_code(frame)), now - t0, now.saturating_duration_since(s.start));
                    answered += 1;
                }
            }) => {}
            _ = ticks.tick(), if !ended => {}
            () = tokio::time::sleep_until(give_up) => {}
        }
        progress.answered.fetch_add(answered, Ordering::Relaxed);
    }
    // Whatever is still in flight got no answer: a timeout, or a failure when the connection closed.
    if closed {
        stats.failed += in_flight.len() as u64;
    } else {
        stats.timeouts += in_flight.len() as u64;
    }
    (Outcome { sent, stats }, c.driver)
}

/// The Result-Code of an encoded answer, or the Experimental-Result-Code inside its
/// Experimental-Result; 0 when it has neither (or is not a well-formed message).
fn result_code(frame: &[u8]) -> u32 {
    let u32_of = |a: RawAvp<'_>| <[u8; 4]>::try_from(a.data).ok().map(u32::from_be_bytes);
    let Ok(view) = MessageView::parse(frame) else { return 0 };
    if let Some(code) = view.find(avp::RESULT_CODE).and_then(u32_of) {
        return code;
    }
    view.find(avp::EXPERIMENTAL_RESULT)
        .and_then(|er| {
            RawAvps::new(er.data)
                .map_while(Result::ok)
                .find(|a| a.code == avp::EXPERIMENTAL_RESULT_CODE.code() && a.vendor() == 0)
        })
        .and_then(u32_of)
        .unwrap_or(0)
}

/// A progress bar on stderr over the run's duration, refreshed by a task every 100 ms.
fn progress_bar(duration: u64, progress: &Arc<Progress>, start: Instant) -> (indicatif::ProgressBar, JoinHandle<()>) {
    let bar = indicatif::ProgressBar::new(duration * 1000);
    if let Ok(style) = indicatif::ProgressStyle::with_template("{spinner} [{elapsed_precise}] {wide_bar} {msg}") {
        bar.set_style(style);
    }
    let (b, p) = (bar.clone(), progress.clone());
    let ticker = tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_millis(100));
        loop {
            every.tick().await;
            b.set_position((start.elapsed().as_millis() as u64).min(duration * 1000));
            b.set_message(format!(
                "sent {}, answered {}",
                p.sent.load(Ordering::Relaxed),
                p.answered.load(Ordering::Relaxed)
            ));
        }
    });
    (bar, ticker)
}

/// Merges the connections' outcomes into the report.
fn report(outcomes: Vec<Outcome>, elapsed: Duration, load: Load) -> BenchReport {
    let mut all = Stats::default();
    let mut sent = 0;
    for o in outcomes {
        sent += o.sent;
        all.histogram.merge(&o.stats.histogram);
        all.answered += o.stats.answered;
        all.success += o.stats.success;
        all.errors += o.stats.errors;
        all.timeouts += o.stats.timeouts;
        all.failed += o.stats.failed;
        for (code, n) in o.stats.result_codes {
            *all.result_codes.entry(code).or_default() += n;
        }
        if all.slow_by_second.len() < o.stats.slow_by_second.len() {
            all.slow_by_second.resize(o.stats.slow_by_second.len(), 0);
        }
        for (all, n) in all.slow_by_second.iter_mut().zip(&o.stats.slow_by_second) {
            *all += n;
        }
    }
    let secs = elapsed.as_secs_f64();
    let ms = |us: u64| us as f64 / 1000.0;
    let h = &all.histogram;
    BenchReport {
        sent,
        answered: all.answered,
        success: all.success,
        errors: all.errors,
        timeouts: all.timeouts,
        failed: all.failed,
        elapsed_secs: (secs * 1e6).round() / 1e6,
        rate: if secs > 0.0 { (all.success as f64 / secs * 100.0).round() / 100.0 } else { 0.0 },
        p50_ms: ms(h.percentile(50.0)),
        p99_ms: ms(h.percentile(99.0)),
        p999_ms: ms(h.percentile(99.9)),
        max_ms: ms(h.max()),
        result_codes: all.result_codes,
        requests: if load == Load::Air { "S6a AIR" } else { "Gx CCR-I" },
        slow_by_second: all.slow_by_second,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use diameter::transport::{serve, ConnectionLimits, Handler, PeerHandle, ServerConfig};
    use tokio::net::TcpListener;
    use tokio_util::sync::CancellationToken;

    /// Answers over 5 ms are counted by the second of the run they came in, and merged across
    /// connections; faster ones and requests without an answer are not.
    #[test]
    fn slow_answers_are_counted_per_second() {
        let ms = Duration::from_millis;
        let mut a = Stats::default();
        a.record(Ok(rc::SUCCESS), ms(6), ms(2_500));
        a.record(Ok(rc::SUCCESS), ms(5), ms(2_600));
        a.record(Ok(rc::SUCCESS), ms(1), ms(100));
        a.record(Err(RequestError::Timeout), ms(9_000), ms(100));
        assert_eq!(a.slow_by_second, [0, 0, 1]);
        let mut b = Stats::default();
        b.record(Ok(rc::TOO_BUSY), ms(50), ms(0));
        b.record(Ok(rc::SUCCESS), ms(7), ms(4_000));
        let r = report(vec![Outcome { sent: 4, stats: a }, Outcome { sent: 2, stats: b }], ms(5_000), Load::CcrInitial);
        assert_eq!(r.slow_by_second, [1, 0, 1, 0, 1]);
        assert!(r.to_text().contains("over 5 ms:    1 0 1 0 1"), "{}", r.to_text());
        assert_eq!(report(Vec::new(), ms(1), Load::CcrInitial).slow_by_second, Vec::<u64>::new());
    }

    #[test]
    fn histogram_percentiles_exact_below_10ms() {
        let mut h = Histogram::new();
        assert_eq!(h.percentile(50.0), 0);
        for us in 1..=1000 {
            h.record(us);
        }
        assert_eq!(h.total, 1000);
        assert_eq!(h.percentile(50.0), 500);
        assert_eq!(h.percentile(99.0), 990);
        assert_eq!(h.percentile(99.9), 999);
        assert_eq!(h.percentile(100.0), 1000);
        assert_eq!(h.percentile(0.0), 1);
        assert_eq!(h.max(), 1000);
    }

    #[test]
    fn histogram_coarse_buckets_and_overflow() {
        // Bucket edges: linear, then 10 µs, 100 µs, 1 ms steps, then overflow.
        assert_eq!(Histogram::index(9_999), 9_999);
        assert_eq!(Histogram::index(10_000), 10_000);
        assert_eq!(Histogram::index(10_009), 10_000);
        assert_eq!(Histogram::index(10_010), 10_001);
        assert_eq!(Histogram::index(99_999), 10_000 + PER_DECADE - 1);
        assert_eq!(Histogram::index(100_000), 10_000 + PER_DECADE);
        assert_eq!(Histogram::index(9_999_999), BUCKETS - 2);
        assert_eq!(Histogram::index(10_000_000), BUCKETS - 1);
        for i in LINEAR_LIMIT as usize..BUCKETS - 1 {
            assert_eq!(Histogram::index(Histogram::upper(i)), i);
            assert_eq!(Histogram::index(Histogram::upper(i) + 1), i + 1);
        }
        let mut h = Histogram::new();
        for _ in 0..90 {
            h.record(200);
        }
        for _ in 0..9 {
            h.record(25_004); // 25.000–25.009 ms bucket
        }
        h.record(12_000_000); // 12 s, overflow
        assert_eq!(h.percentile(50.0), 200);
        assert_eq!(h.percentile(90.0), 200);
        assert_eq!(h.percentile(99.0), 25_009);
        assert_eq!(h.percentile(99.9), 12_000_000);
        assert_eq!(h.max(), 12_000_000);
        // A percentile never exceeds the largest value recorded.
        let mut one = Histogram::new();
        one.record(123_456);
        assert_eq!(one.percentile(50.0), 123_456);
        // Sub-microsecond durations round up to 1 µs; merging adds counts.
        let mut a = Histogram::new();
        a.record_duration(Duration::from_nanos(300));
        a.merge(&one);
        assert_eq!((a.total, a.percentile(50.0), a.max()), (2, 1, 123_456));
    }

    #[test]
    fn imsi_file_parsing() {
        let imsis = parse_imsis("# lab SIMs\n001010000000001\n\n  001010000000002  \r\n#001010000000003\n").unwrap();
        assert_eq!(imsis, ["001010000000001", "001010000000002"]);
        let e = parse_imsis("001010000000001\n# x\n00101000000000a\n").unwrap_err();
        assert!(e.starts_with("line 3: ") && e.contains("not a digit"), "{e}");
        let e = parse_imsis("001010000000001\n0010100000000011\n").unwrap_err();
        assert!(e.starts_with("line 2: "), "{e}");
        assert!(parse_imsis("").unwrap_err().contains("no IMSI"));
        assert!(parse_imsis("# only\n\n   \n").unwrap_err().contains("no IMSI"));
    }

    #[test]
    fn pacing_shares_add_up() {
        for connections in 1..=5u64 {
            for total in 0..40u64 {
                let sum: u64 = (0..connections).map(|i| share(total, i, connections)).sum();
                assert_eq!(sum, total);
            }
        }
        assert_eq!(due_overall(500, Duration::from_millis(1)), 0);
        assert_eq!(due_overall(500, Duration::from_millis(2)), 1);
        assert_eq!(due_overall(500, Duration::from_secs(1)), 500);
        assert_eq!(due_overall(3, Duration::from_millis(999)), 2);
    }

    /// Answers every AIR with 2001.
    struct Hss;
    impl Handler for Hss {
        async fn handle(&self, req: Message, _peer: PeerHandle) -> Option<Message> {
            assert!(req.get(avp::REQUESTED_EUTRAN_AUTHENTICATION_INFO).is_some());
            assert_eq!(req.get(avp::VISITED_PLMN_ID).and_then(|a| a.as_bytes()), Some(&[0x00, 0xf1, 0x10][..]));
            let mut a = Message::answer_to(&req.header, req.session_id());
            a.add(avp::AUTH_SESSION_STATE, 1u32);
            a.add(avp::ORIGIN_HOST, "hss.bench.test");
            a.add(avp::ORIGIN_REALM, "bench.test");
            a.add(avp::RESULT_CODE, rc::SUCCESS);
            Some(a)
        }
    }

    fn args(target: SocketAddr, imsi_file: std::path::PathBuf) -> BenchArgs {
        BenchArgs {
            target,
            imsi_file,
            rate: 500,
            duration: 1,
            connections: 2,
            window: 16,
            origin_host: "bench.bench.test".into(),
            origin_realm: "bench.test".into(),
            destination_realm: "bench.test".into(),
            plmn: "00101".into(),
            apn: "internet".into(),
            first_ip: std::net::Ipv4Addr::new(10, 0, 0, 1),
            json: true,
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn paced_run_against_a_local_server() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("imsis.txt");
        let list: String = (1..=50).map(|i| format!("0010100000{i:05}\n")).collect();
        std::fs::write(&file, format!("# bench IMSIs\n{list}")).unwrap();

        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let a = args(listener.local_addr().unwrap(), file);
        let allowed = origin_hosts(&a);
        assert_eq!(allowed, ["c0.bench.bench.test", "c1.bench.bench.test"]);
        let authorizer: Arc<dyn PeerAuthorizer> =
            Arc::new(move |p: &PeerIdentity| p.origin_realm == "bench.test" && allowed.contains(&p.origin_host));
        let shutdown = CancellationToken::new();
        let config = ServerConfig {
            peer: PeerConfig::new("hss.bench.test", "bench.test", vec![Application::S6A]),
            authorizer,
            limits: ConnectionLimits::default(),
            tls: None,
        };
        tokio::spawn(serve(listener, config, Arc::new(Hss), shutdown));

        let r = tokio::time::timeout(Duration::from_secs(20), run(&a, Load::Air)).await.expect("run in time").unwrap();
        eprintln!("{}", r.to_text());
        // 500/s for 1 s: every request is sent, the last one due at the end itself.
        assert_eq!(r.sent, 500, "{r:?}");
        assert_eq!(r.errors, 0, "{r:?}");
        assert_eq!((r.timeouts, r.failed), (0, 0), "{r:?}");
        assert_eq!(r.sent, r.answered);
        assert_eq!(r.success, r.answered);
        assert_eq!(r.result_codes, BTreeMap::from([(rc::SUCCESS, r.answered)]));
        assert!(r.p50_ms > 0.0 && r.p50_ms <= r.p99_ms && r.p99_ms <= r.p999_ms && r.p999_ms <= r.max_ms, "{r:?}");
        assert!(r.rate > 0.0);
        let j = r.to_json();
        assert_eq!(j["answered"], r.answered);
        assert_eq!(j["result_codes"]["2001"], r.answered);

        // An origin host the server does not know: refused before anything is sent.
        let mut bad = a.clone();
        bad.connections = 1;
        let e = run(&bad, Load::Air).await.unwrap_err();
        assert!(e.contains("connection 0 (bench.bench.test)") && e.contains("3010"), "{e}");
    }

    #[tokio::test]
    async fn bad_inputs_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("imsis.txt");
        std::fs::write(&file, "001010000000001\nnot-an-imsi\n").unwrap();
        let target: SocketAddr = "127.0.0.1:9".parse().unwrap();
        let e = run(&args(target, file.clone()), Load::Air).await.unwrap_err();
        assert!(e.contains("line 2: "), "{e}");
        std::fs::write(&file, "# nothing\n").unwrap();
        assert!(run(&args(target, file.clone()), Load::Air).await.unwrap_err().contains("no IMSI"));
        let mut a = args(target, file);
        a.plmn = "0010".into();
        assert!(run(&a, Load::Air).await.unwrap_err().starts_with("--plmn"));
        a.window = 0;
        assert!(run(&a, Load::Air).await.unwrap_err().contains("--window"));
    }
}
