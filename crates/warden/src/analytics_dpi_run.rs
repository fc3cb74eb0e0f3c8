//! Live DPI in `warden serve` (issue 17, CLP.14 SEC-2): with `[analytics] dpi_listen`, a UDP
//! listener takes mirrored packets (`dpi_format`: TZSP, or raw IP in UDP) from the `dpi_sources`,
//! and every piece of personal data found in clear in a packet of a SIM becomes a `personal_data`
//! detection for the SIM's tenant — stored, announced and acted on by the tenant's policy like the
//! engine's detections (through the same [`DetectionSink`]).
//!
//! - The **receiver** (on the runtime) only checks the source and copies the datagram into a
//!   bounded queue ([`QUEUE`] datagrams, [`QUEUE_BYTES`] bytes): when DPI falls behind, datagrams
//!   are dropped and counted (`queue_full`), never queued without limit.
//! - The **worker** (a blocking thread) decodes ([`analytics::mirror`]), finds the SIM the same way
//!   the IPFIX path does — the address a live Gx session holds is the device, the source first
//!   (uplink), else the destination (downlink) — checks that the tenant agreed to payload
//!   inspection (`use_payload` in its analytics policy, PR-1: without it no payload of the tenant's
//!   SIMs is scanned), scans the TCP/UDP payload ([`Scanner`]) and reports each finding through
//!   [`PersonalDataReports`] (one detection per SIM, finding kind and hour).
//! - The **policy reader** (on the runtime) reads the policies the worker asks for; the worker
//!   keeps them [`POLICY_TTL`]. Until a tenant's policy is read its packets are not scanned
//!   (`policy_pending`).
//!
//! What leaves: the finding's kind, direction, remote address and port, protocol and offset. The
//! matched bytes are neither logged, counted nor stored. Series: [`PACKETS`], [`FINDINGS`],
//! [`DROPPED`]. See docs/analytics.md.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use analytics::dpi::{Finding, Scanner};
use analytics::mirror::{self, MirrorFormat};
use analytics::personal_data::PersonalDataReports;
use analytics::{DeviceKey, Direction, FiveTuple};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::analytics_run::{AnalyticsConfig, DetectionSink, SimDirectory, SimRef, DETECTIONS};
use crate::error::ServeError;
use crate::platform::Task;

/// Datagrams received on the DPI listener, from any source.
pub const PACKETS: &str = "warden_analytics_dpi_packets_total";
/// Personal data found in packets of SIMs whose tenant agreed, by finding kind.
pub const FINDINGS: &str = "warden_analytics_dpi_findings_total";
/// Datagrams not scanned, by reason.
pub const DROPPED: &str = "warden_analytics_dpi_dropped_total";

/// Datagrams waiting for the worker, at most.
pub const QUEUE: usize = 4_096;
/// Bytes of datagrams waiting for the worker, at most.
pub const QUEUE_BYTES: usize = 16 << 20;
/// How long a tenant's `use_payload` is trusted before it is read again.
pub const POLICY_TTL: Duration = Duration::from_secs(30);
/// The socket's receive buffer asked for.
const RECEIVE_BUFFER: usize = 8 << 20;

/// Why a datagram was not scanned (the `reason` label of [`DROPPED`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dropped {
    /// Not from a `dpi_sources` address.
    UnknownSource,
    /// The worker's queue was full.
    QueueFull,
    /// Not what `dpi_format` says, or headers shorter than they claim.
    Malformed,
    /// Well formed, nothing to scan: TZSP keepalives, other encapsulations, non-IP, non-TCP/UDP,
    /// non-first fragments.
    Unsupported,
    /// No live session holds either address (or several SIMs' sessions do).
    Unmapped,
    /// The SIM's tenant did not agree to payload inspection.
    NotAgreed,
    /// The SIM's tenant's policy is being read.
    PolicyPending,
}

impl Dropped {
    const ALL: [Dropped; 7] = [
        Dropped::UnknownSource,
        Dropped::QueueFull,
        Dropped::Malformed,
        Dropped::Unsupported,
        Dropped::Unmapped,
        Dropped::NotAgreed,
        Dropped::PolicyPending,
    ];

    fn as_str(self) -> &'static str {
        match self {
            Dropped::UnknownSource => "unknown_source",
            Dropped::QueueFull => "queue_full",
            Dropped::Malformed => "malformed",
            Dropped::Unsupported => "unsupported",
            Dropped::Unmapped => "unmapped",
            Dropped::NotAgreed => "not_agreed",
            Dropped::PolicyPending => "policy_pending",
        }
    }

    fn count(self) {
        metrics::counter!(DROPPED, "reason" => self.as_str()).increment(1);
    }
}

fn describe_metrics() {
    metrics::describe_counter!(PACKETS, "Datagrams received by the live DPI listener, from any source.");
    metrics::describe_counter!(FINDINGS, "Personal data found in clear by the live DPI, by finding kind.");
    metrics::describe_counter!(DROPPED, "Mirrored packets the live DPI did not scan, by reason.");
    metrics::counter!(PACKETS).absolute(0);
    for d in Dropped::ALL {
        metrics::counter!(DROPPED, "reason" => d.as_str()).absolute(0);
    }
}

/// Which tenants agreed to payload inspection, as last read, and which are being read.
#[derive(Default)]
struct Agreements {
    known: HashMap<String, (Instant, bool)>,
    asking: HashSet<String>,
}

/// The tenants' `use_payload`, for the worker: read by the policy reader, never waited for.
struct Consent {
    state: Mutex<Agreements>,
    ask: mpsc::Sender<String>,
}

impl Consent {
    /// `Some(agreed)` as last read (asking again when older than [`POLICY_TTL`]), `None` while
    /// the first read is under way.
    fn of(&self, tenant: &str) -> Option<bool> {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let known = s.known.get(tenant).copied();
        if known.is_none_or(|(at, _)| at.elapsed() >= POLICY_TTL) && !s.asking.contains(tenant) {
            // Full: asked again with a later packet.
            if self.ask.try_send(tenant.to_string()).is_ok() {
                s.asking.insert(tenant.to_string());
            }
        }
        known.map(|(_, agreed)| agreed)
    }

    fn set(&self, tenant: String, agreed: Option<bool>) {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        s.asking.remove(&tenant);
        if let Some(agreed) = agreed {
            s.known.insert(tenant, (Instant::now(), agreed));
        }
    }
}

/// Reads the policies the worker asks for until `stop`.
async fn read_policies(
    store: store::Store,
    consent: Arc<Consent>,
    mut asked: mpsc::Receiver<String>,
    stop: CancellationToken,
) {
    loop {
        let tenant = tokio::select! {
            t = asked.recv() => match t { Some(t) => t, None => return },
            () = stop.cancelled() => return,
        };
        match cmp::analytics::policy_of(&store, &tenant).await {
            Ok(view) => consent.set(tenant, Some(view.policy.use_payload)),
            Err(e) => {
                tracing::debug!(tenant = %tenant, error = %e, "live DPI: policy not read");
                consent.set(tenant, None);
            }
        }
    }
}

/// The SIM a packet seen at `at_ms` belongs to and which way it went: the SIM holding the source
/// address first (uplink), then the destination's (downlink) — as the IPFIX path maps flows.
fn device_of(tuple: &FiveTuple, directory: &dyn SimDirectory, at_ms: u64) -> Option<(SimRef, Direction)> {
    match directory.owner_at(tuple.src, at_ms) {
        Some(o) => Some((o.sim, Direction::Uplink)),
        None => directory.owner_at(tuple.dst, at_ms).map(|o| (o.sim, Direction::Downlink)),
    }
}

/// The live DPI, bound, ready to run.
pub struct DpiPart {
    socket: tokio::net::UdpSocket,
    sources: Vec<IpAddr>,
    format: MirrorFormat,
    scanner: Scanner,
}

impl DpiPart {
    /// Compiles `[analytics.dpi]` and binds `dpi_listen`; `None` without `dpi_listen`.
    pub async fn build(c: &AnalyticsConfig) -> Result<Option<DpiPart>, ServeError> {
        let Some(listen) = c.dpi_listen else { return Ok(None) };
        let scanner = Scanner::new(c.dpi.clone()).map_err(|e| ServeError::Analytics(format!("analytics.dpi: {e}")))?;
        describe_metrics();
        let socket = tokio::net::UdpSocket::bind(listen).await.map_err(|source| ServeError::Bind {
            key: "analytics.dpi_listen",
            addr: listen,
            source,
        })?;
        if let Err(e) = rustix::net::sockopt::set_socket_recv_buffer_size(&socket, RECEIVE_BUFFER) {
            tracing::debug!(error = %e, "live DPI: receive buffer size not set");
        }
        let at = socket.local_addr().unwrap_or(listen);
        let format = c.dpi_format;
        eprintln!("warden: live DPI on {at} (UDP, {})", if format == MirrorFormat::Tzsp { "TZSP" } else { "raw IP" });
        tracing::info!(listen = %at, sources = ?c.dpi_sources, ?format, "live DPI listening");
        let sources = c.dpi_sources.iter().map(|a| a.to_canonical()).collect();
        Ok(Some(DpiPart { socket, sources, format, scanner }))
    }

    /// The receiver, the worker and the policy reader (edge tasks): they end on `stop`, the worker
    /// after what is queued.
    pub fn start(
        self,
        store: store::Store,
        directory: Arc<dyn SimDirectory>,
        sink: Arc<dyn DetectionSink>,
        stop: CancellationToken,
    ) -> Vec<Task> {
        let DpiPart { socket, sources, format, scanner } = self;
        let (tx, rx) = sync_channel(QUEUE);
        let queued = Arc::new(AtomicUsize::new(0));
        let (ask, asked) = mpsc::channel(1024);
        let consent = Arc::new(Consent { state: Mutex::default(), ask });
        let receiver = receive(socket, sources, tx, queued.clone(), stop.clone());
        let reader = read_policies(store, consent.clone(), asked, stop);
        let dpi = Worker { format, scanner, directory, sink, consent, queued, reports: PersonalDataReports::default() };
        let worker = async move {
            if let Err(e) = tokio::task::spawn_blocking(move || dpi.run(rx)).await {
                tracing::error!(error = %e, "live DPI worker stopped");
            }
        };
        vec![
            ("live DPI receiver", Box::pin(receiver)),
            ("live DPI", Box::pin(worker)),
            ("live DPI policy reader", Box::pin(reader)),
        ]
    }
}

/// Receives datagrams until `stop`: the source check, then the bounded queue.
async fn receive(
    socket: tokio::net::UdpSocket,
    sources: Vec<IpAddr>,
    queue: SyncSender<Vec<u8>>,
    queued: Arc<AtomicUsize>,
    stop: CancellationToken,
) {
    let mut buf = vec![0u8; 65_536];
    loop {
        let (n, from) = tokio::select! {
            r = socket.recv_from(&mut buf) => match r {
                Ok(r) => r,
                Err(e) => {
                    tracing::debug!(error = %e, "live DPI receive failed");
                    continue;
                }
            },
            () = stop.cancelled() => return,
        };
        metrics::counter!(PACKETS).increment(1);
        if !sources.contains(&from.ip().to_canonical()) {
            Dropped::UnknownSource.count();
            continue;
        }
        if queued.fetch_add(n, Ordering::Relaxed) + n > QUEUE_BYTES {
            queued.fetch_sub(n, Ordering::Relaxed);
            Dropped::QueueFull.count();
            continue;
        }
        match queue.try_send(buf[..n].to_vec()) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                queued.fetch_sub(n, Ordering::Relaxed);
                Dropped::QueueFull.count();
            }
            Err(TrySendError::Disconnected(_)) => return,
        }
    }
}

/// The blocking side: decode, map, consent, scan, report.
struct Worker {
    format: MirrorFormat,
    scanner: Scanner,
    directory: Arc<dyn SimDirectory>,
    sink: Arc<dyn DetectionSink>,
    consent: Arc<Consent>,
    queued: Arc<AtomicUsize>,
    reports: PersonalDataReports,
}

impl Worker {
    /// Until the receiver ends (and what it queued is done).
    fn run(mut self, queue: Receiver<Vec<u8>>) {
        let mut findings = Vec::new();
        while let Ok(datagram) = queue.recv() {
            self.queued.fetch_sub(datagram.len(), Ordering::Relaxed);
            if let Err(d) = self.inspect(&datagram, &mut findings) {
                d.count();
            }
        }
    }

    fn inspect(&mut self, datagram: &[u8], findings: &mut Vec<Finding>) -> Result<(), Dropped> {
        let packet = mirror::decode(self.format, datagram).map_err(|u| match u {
            mirror::Unscanned::Malformed => Dropped::Malformed,
            mirror::Unscanned::Unsupported => Dropped::Unsupported,
        })?;
        if packet.payload.is_empty() {
            return Ok(());
        }
        let now = store::cluster::now_ms().max(0) as u64;
        let (sim, direction) = device_of(&packet.tuple, self.directory.as_ref(), now).ok_or(Dropped::Unmapped)?;
        match self.consent.of(&sim.tenant) {
            Some(true) => {}
            Some(false) => return Err(Dropped::NotAgreed),
            None => return Err(Dropped::PolicyPending),
        }
        findings.clear();
        self.scanner.scan(packet.payload, findings);
        if findings.is_empty() {
            return Ok(());
        }
        let device = DeviceKey::new(&sim.imsi, &sim.tenant, &sim.profile);
        for f in findings.iter() {
            metrics::counter!(FINDINGS, "kind" => f.kind.to_string()).increment(1);
            if let Some(d) = self.reports.report(&device, f, &packet.tuple, direction, now) {
                metrics::counter!(DETECTIONS, "kind" => d.kind.as_str()).increment(1);
                self.sink.detected(&d);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics_run::Owner;
    use analytics::Detection;

    struct Table(Vec<(IpAddr, SimRef)>);

    impl SimDirectory for Table {
        fn owner_at(&self, ip: IpAddr, _at_ms: u64) -> Option<Owner> {
            self.0.iter().find(|(a, _)| *a == ip).map(|(_, s)| Owner { sim: s.clone(), until_ms: None })
        }
    }

    #[derive(Default)]
    struct Collect(Mutex<Vec<Detection>>);

    impl DetectionSink for Collect {
        fn detected(&self, d: &Detection) {
            self.0.lock().unwrap().push(d.clone());
        }
    }

    fn sim() -> SimRef {
        SimRef { imsi: "001010000000001".into(), tenant: "acme".into(), profile: "meter".into() }
    }

    /// RFC 791 IPv4 + RFC 768 UDP, checksums zero (not checked).
    fn udp(src: [u8; 4], dst: [u8; 4], payload: &[u8]) -> Vec<u8> {
        let total = (28 + payload.len()) as u16;
        let mut p = vec![0x45, 0, (total >> 8) as u8, total as u8, 0, 1, 0, 0, 64, 17, 0, 0];
        p.extend(src);
        p.extend(dst);
        let len = (8 + payload.len()) as u16;
        p.extend([0x9c, 0x40, 0x00, 0x50, (len >> 8) as u8, len as u8, 0, 0]);
        p.extend(payload);
        p
    }

    fn worker(agreed: Option<bool>) -> (Worker, Arc<Collect>, mpsc::Receiver<String>) {
        let (ask, asked) = mpsc::channel(8);
        let consent = Arc::new(Consent { state: Mutex::default(), ask });
        if agreed.is_some() {
            consent.set("acme".into(), agreed);
        }
        let sink = Arc::new(Collect::default());
        let w = Worker {
            format: MirrorFormat::Ip,
            scanner: Scanner::new(Default::default()).unwrap(),
            directory: Arc::new(Table(vec![("10.45.0.2".parse().unwrap(), sim())])),
            sink: sink.clone(),
            consent,
            queued: Arc::default(),
            reports: PersonalDataReports::default(),
        };
        (w, sink, asked)
    }

    #[test]
    fn the_dpi_keys_have_their_defaults_and_refuse_what_they_do_not_know() {
        let c: AnalyticsConfig = toml::from_str("").unwrap();
        assert_eq!((c.dpi_listen, c.dpi_format), (None, MirrorFormat::Tzsp));
        assert_eq!(c.dpi_sources, vec![IpAddr::from([127, 0, 0, 1])]);
        assert_eq!(c.dpi, analytics::dpi::DpiConfig::default());
        let c: AnalyticsConfig = toml::from_str(
            "dpi_listen = \"127.0.0.1:37008\"\ndpi_format = \"ip\"\ndpi_sources = [\"::1\"]\n[dpi]\n\
             national_ids = [\"nl_bsn\"]\nemails = false\n\
             patterns = [{ name = \"meter-serial\", regex = \"MTR-[0-9]{10}\" }]\n",
        )
        .unwrap();
        assert_eq!(c.dpi_listen.map(|a| a.port()), Some(37008));
        assert_eq!((c.dpi_format, c.dpi_sources[0].to_string().as_str()), (MirrorFormat::Ip, "::1"));
        assert_eq!(c.dpi.national_ids, [analytics::dpi::NationalIdFormat::NlBsn]);
        assert!(!c.dpi.emails && c.dpi.cards);
        assert_eq!(c.dpi.patterns[0].name, "meter-serial");
        for bad in ["dpi_format = \"pcap\"\n", "[dpi]\nssn = true\n", "[dpi]\nnational_ids = [\"xx_id\"]\n"] {
            assert!(toml::from_str::<AnalyticsConfig>(bad).is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn a_pattern_that_does_not_compile_stops_the_start_with_its_name() {
        let c: AnalyticsConfig =
            toml::from_str("dpi_listen = \"127.0.0.1:0\"\n[dpi]\npatterns = [{ name = \"broken\", regex = \"(\" }]\n")
                .unwrap();
        let e = DpiPart::build(&c).await.err().expect("refused").to_string();
        assert!(e.contains("analytics.dpi: pattern broken"), "{e}");
        let off: AnalyticsConfig = toml::from_str("").unwrap();
        assert!(DpiPart::build(&off).await.unwrap().is_none(), "no dpi_listen, no live DPI");
    }

    const CARD: &[u8] = b"POST /pay HTTP/1.1\r\n\r\ncard=4111 1111 1111 1111&x=1";

    #[test]
    fn a_card_sent_by_a_sim_of_an_agreeing_tenant_is_one_detection_an_hour() {
        let (mut w, sink, _asked) = worker(Some(true));
        let mut f = Vec::new();
        let up = udp([10, 45, 0, 2], [198, 51, 100, 20], CARD);
        w.inspect(&up, &mut f).unwrap();
        w.inspect(&up, &mut f).unwrap();
        let down = udp([198, 51, 100, 20], [10, 45, 0, 2], CARD);
        w.inspect(&down, &mut f).unwrap();
        let got = sink.0.lock().unwrap().clone();
        assert_eq!(got.len(), 1, "one per SIM, kind and hour: {got:?}");
        let json = serde_json::to_string(&got[0].evidence).unwrap();
        assert_eq!(got[0].device.imsi.as_ref(), "001010000000001");
        assert!(json.contains("\"finding\":\"card\"") && json.contains("\"direction\":\"uplink\""), "{json}");
        assert!(!json.contains("4111") && !json.contains("1111"), "{json}");
    }

    #[test]
    fn without_agreement_nothing_is_scanned_and_the_policy_is_asked_for() {
        let (mut w, sink, mut asked) = worker(None);
        let mut f = Vec::new();
        let up = udp([10, 45, 0, 2], [198, 51, 100, 20], CARD);
        assert_eq!(w.inspect(&up, &mut f), Err(Dropped::PolicyPending));
        assert_eq!(asked.try_recv().unwrap(), "acme");
        assert_eq!(w.inspect(&up, &mut f), Err(Dropped::PolicyPending));
        assert!(asked.try_recv().is_err(), "asked once");
        w.consent.set("acme".into(), Some(false));
        assert_eq!(w.inspect(&up, &mut f), Err(Dropped::NotAgreed));
        assert!(sink.0.lock().unwrap().is_empty());
        let stranger = udp([10, 9, 9, 9], [198, 51, 100, 20], CARD);
        assert_eq!(w.inspect(&stranger, &mut f), Err(Dropped::Unmapped));
        assert_eq!(w.inspect(b"garbage", &mut f), Err(Dropped::Malformed));
    }
}
