//! Security analytics in `warden serve` (issue 17), with an `[analytics]` section (absent: nothing
//! runs). [`AnalyticsPart::build`] loads the threat-intelligence files and binds the IPFIX/NetFlow v9
//! UDP listener; [`AnalyticsPart::start`] hands the App
//! - the **IPFIX receiver** (edge): datagrams from the configured exporters go through the sans-IO
//!   [`Collector`]; each flow is mapped to a SIM through the PCRF's Gx sessions *as they were when
//!   the flow started* ([`pcrf::Pcrf::binding_at`]: the live session, or an ended binding kept in
//!   the PCRF's address history; the side of the flow whose address a SIM held is the device, the
//!   other the remote); a flow whose address changed owner while it ran is the owner's at its start,
//!   and counted; flows no session explains are counted as unmapped;
//! - the **engine** (flush), on a blocking thread: observations come through one bounded queue
//!   ([`Queue`]; full: dropped and counted, the producers never wait) — flows, the DNS firewall's
//!   query log ([`DnsTap`]) and the signalling the Diameter front end sees ([`SignallingTap`]: AIR,
//!   ULR, PUR, NOR per SIM, and the IMEI of ULR/ECR) — and every detection goes to a
//!   [`DetectionSink`]; the engine's state is loaded at start, snapshotted periodically and at
//!   shutdown, and idle devices are forgotten ([`crate::analytics_state`]);
//! - the **cohort retrain**, every `cohort_retrain_minutes` on a thread of its own: the isolation
//!   forests are trained on the devices' features and the outliers reported back to the engine;
//! - the **signalling resolver** (edge): IMSI → tenant and profile, read from the store and cached.
//!
//! Series on `/metrics`: `warden_analytics_datagrams_total`, `warden_analytics_flows_total`,
//! `warden_analytics_dropped_total{reason}` (the collector's drop reasons),
//! `warden_analytics_unmapped_flows_total`, `warden_analytics_flows_ambiguous_total`,
//! `warden_analytics_observations_total{input}`, `warden_analytics_devices_forgotten_total`,
//! `warden_analytics_queue_dropped_total{input}`, `warden_analytics_detections_total{kind}`,
//! `warden_analytics_devices`. See docs/analytics.md.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender, TryRecvError, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use analytics::cohort::Outlier;
use analytics::ipfix::{Collector, CollectorConfig, Counters, DropReason};
use analytics::{
    CohortConfig, CohortModels, Detection, DeviceKey, DnsObservation, Engine, EngineConfig, Flow, FlowObservation,
    ImeiObservation, IntelSet, Observation, SignallingKind, SignallingObservation,
};
use pcrf::Pcrf;
use serde::Deserialize;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::analytics_state::{self, Upkeep};
use crate::error::ServeError;
use crate::platform::Task;

/// Datagrams received, from any source.
pub const DATAGRAMS: &str = "warden_analytics_datagrams_total";
/// Flow records decoded.
pub const FLOWS: &str = "warden_analytics_flows_total";
/// Datagrams, sets and records dropped, by reason.
pub const DROPPED: &str = "warden_analytics_dropped_total";
/// Flows whose addresses no live Gx session holds (or several SIMs' sessions do).
pub const UNMAPPED: &str = "warden_analytics_unmapped_flows_total";
/// Flows whose device address changed owner while they ran (attributed to the owner at the start).
pub const AMBIGUOUS: &str = "warden_analytics_flows_ambiguous_total";
/// Observations the engine processed, by input.
pub const OBSERVATIONS: &str = "warden_analytics_observations_total";
/// Observations dropped because the engine's queue was full, by input.
pub const QUEUE_DROPPED: &str = "warden_analytics_queue_dropped_total";
/// Detections raised, by kind.
pub const DETECTIONS: &str = "warden_analytics_detections_total";
/// Devices the engine keeps a baseline for.
pub const DEVICES: &str = "warden_analytics_devices";

/// `[analytics]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnalyticsConfig {
    /// UDP address of the IPFIX / NetFlow v9 collector.
    #[serde(default = "default_listen")]
    pub ipfix_listen: SocketAddr,
    /// Source addresses whose datagrams are accepted; others are dropped and counted.
    #[serde(default = "default_exporters")]
    pub exporters: Vec<IpAddr>,
    /// Only this APN's sessions map flow addresses to SIMs (pools overlapping across APNs).
    #[serde(default)]
    pub apn: Option<String>,
    /// Threat-intelligence files (CSV `type,value`, or a STIX 2.1 bundle ending in `.json`), read
    /// at start; a file that cannot be read or parsed stops the start.
    #[serde(default)]
    pub intel_files: Vec<PathBuf>,
    /// Minutes between cohort-model retrains; 0: never.
    #[serde(default = "default_retrain")]
    pub cohort_retrain_minutes: u64,
    /// Observations waiting for the engine at most; more are dropped and counted.
    #[serde(default = "default_queue")]
    pub queue: usize,
    /// Detections kept in memory (the newest).
    #[serde(default = "default_recent")]
    pub recent_detections: usize,
    /// The engine's snapshot file; default `<data_dir>/analytics/engine.snapshot`.
    #[serde(default)]
    pub state_file: Option<PathBuf>,
    /// Minutes between snapshots of the engine's state (also written at shutdown, loaded at start);
    /// 0: no snapshot is written or loaded.
    #[serde(default = "default_snapshot_minutes")]
    pub snapshot_minutes: u64,
    /// Devices not seen for this many days are forgotten (checked hourly); 0: never.
    #[serde(default = "default_idle_days")]
    pub device_idle_days: u64,
    /// `[analytics.engine]`: the detections' thresholds and periods.
    #[serde(default)]
    pub engine: EngineConfig,
    /// `[analytics.cohort]`: the cohort models' parameters.
    #[serde(default)]
    pub cohort: CohortConfig,
    /// Live DPI of mirrored packets (crate::analytics_dpi_run): UDP address; absent: off.
    #[serde(default)]
    pub dpi_listen: Option<SocketAddr>,
    /// How mirrored packets are wrapped: `tzsp` (default) or `ip`.
    #[serde(default)]
    pub dpi_format: analytics::mirror::MirrorFormat,
    /// Source addresses whose mirrored packets are accepted; others are dropped and counted.
    #[serde(default = "default_exporters")]
    pub dpi_sources: Vec<IpAddr>,
    /// `[analytics.dpi]`: what the live DPI looks for.
    #[serde(default)]
    pub dpi: analytics::dpi::DpiConfig,
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 4739))
}

fn default_exporters() -> Vec<IpAddr> {
    vec![IpAddr::from([127, 0, 0, 1])]
}

fn default_retrain() -> u64 {
    180
}

fn default_snapshot_minutes() -> u64 {
    15
}

fn default_idle_days() -> u64 {
    30
}

fn default_queue() -> usize {
    65_536
}

fn default_recent() -> usize {
    1_000
}

/// Where detections go. Called on the engine's thread, in order, for every detection (and on the
/// live DPI's thread for `personal_data`): it must not block (hand slow work such as writing to the
/// store to a task through a bounded channel).
pub trait DetectionSink: Send + Sync + 'static {
    /// One detection.
    fn detected(&self, detection: &Detection);
}

/// The default sink: a log line at info (kind, id, tenant, profile, score; no evidence) and the
/// newest detections in memory.
#[derive(Debug)]
pub struct RecentDetections {
    capacity: usize,
    recent: Mutex<VecDeque<Detection>>,
}

impl RecentDetections {
    /// Keeps the newest `capacity` detections.
    pub fn new(capacity: usize) -> Self {
        Self { capacity, recent: Mutex::new(VecDeque::new()) }
    }

    /// The detections kept, oldest first.
    #[allow(
        dead_code,
        reason = "the newest detections in memory; read by tests, and by a dashboard of the process when one asks"
    )]
    pub fn recent(&self) -> Vec<Detection> {
        self.recent.lock().unwrap_or_else(|e| e.into_inner()).iter().cloned().collect()
    }
}

impl DetectionSink for RecentDetections {
    fn detected(&self, d: &Detection) {
        tracing::info!(
            kind = d.kind.as_str(),
            id = %d.id,
            tenant = %d.device.tenant,
            profile = %d.device.profile,
            score = d.score,
            "analytics detection"
        );
        if self.capacity == 0 {
            return;
        }
        let mut recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        if recent.len() == self.capacity {
            recent.pop_front();
        }
        recent.push_back(d.clone());
    }
}

/// The SIM using an address now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimRef {
    /// Its IMSI.
    pub imsi: String,
    /// Its tenant.
    pub tenant: String,
    /// Its service profile (empty when unknown).
    pub profile: String,
}

/// The SIM that held an address at a time, and until when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    /// The SIM.
    pub sim: SimRef,
    /// When its binding ended (unix ms); `None` while its session lives.
    pub until_ms: Option<u64>,
}

/// Who used an address at a time: the PCRF's sessions and address history, or a table in tests.
pub trait SimDirectory: Send + Sync + 'static {
    /// The one SIM that held `ip` at `at_ms` (unix ms).
    fn owner_at(&self, ip: IpAddr, at_ms: u64) -> Option<Owner>;
}

/// The PCRF's live sessions, restricted to one APN's when configured.
struct PcrfSessions {
    pcrf: Arc<Pcrf>,
    apn: Option<String>,
}

impl SimDirectory for PcrfSessions {
    fn owner_at(&self, ip: IpAddr, at_ms: u64) -> Option<Owner> {
        let b = self.pcrf.binding_at(ip, at_ms, self.apn.as_deref())?;
        Some(Owner {
            sim: SimRef { imsi: b.imsi.to_string(), tenant: b.tenant, profile: b.profile.unwrap_or_default() },
            until_ms: b.until_ms,
        })
    }
}

/// Device keys by IMSI, so that a key's strings are shared (bounded: cleared when full).
#[derive(Debug, Default)]
struct Keys(HashMap<String, DeviceKey>);

impl Keys {
    const MAX: usize = 100_000;

    fn key(&mut self, sim: SimRef) -> DeviceKey {
        if let Some(k) = self.0.get(&sim.imsi) {
            if *k.tenant == *sim.tenant && *k.profile == *sim.profile {
                return k.clone();
            }
        }
        if self.0.len() >= Self::MAX {
            self.0.clear();
        }
        let key = DeviceKey::new(&sim.imsi, &sim.tenant, &sim.profile);
        self.0.insert(sim.imsi, key.clone());
        key
    }
}

/// A flow mapped to its SIM.
#[derive(Debug, Clone, PartialEq)]
pub struct Mapped {
    /// The SIM that held the device's address when the flow started.
    pub sim: SimRef,
    /// The flow as the engine sees it (its `device` is filled in by the caller).
    pub observation: FlowObservation,
    /// The address changed owner while the flow ran (it is attributed to the owner at its start).
    pub ambiguous: bool,
}

/// A flow as the engine sees it: the side a SIM held *when the flow started* is the device (the
/// source first), the other the remote; `None` when neither side was a SIM's. Flows without a start
/// time are placed at `now_ms` (the time they arrived).
pub fn map_flow(flow: &Flow, directory: &dyn SimDirectory, now_ms: u64) -> Option<Mapped> {
    let t = &flow.tuple;
    let at = flow.start_ms.filter(|&ms| ms > 0).unwrap_or(now_ms);
    let (owner, device_ip, up, remote, remote_port) = if let Some(o) = directory.owner_at(t.src, at) {
        (o, t.src, true, t.dst, t.dport)
    } else {
        (directory.owner_at(t.dst, at)?, t.dst, false, t.src, t.sport)
    };
    // Still running after its owner's binding ended: did another SIM hold the address by its end?
    let ambiguous = match (owner.until_ms, flow.end_ms) {
        (Some(until), Some(end)) if end >= until => {
            directory.owner_at(device_ip, end).is_some_and(|o| o.sim.imsi != owner.sim.imsi)
        }
        _ => false,
    };
    let observation = FlowObservation {
        at,
        device: DeviceKey::new("", "", ""),
        remote,
        remote_port,
        proto: t.proto,
        octets_up: if up { flow.octets } else { 0 },
        octets_down: if up { 0 } else { flow.octets },
        packets: flow.packets,
    };
    Some(Mapped { sim: owner.sim, observation, ambiguous })
}

fn input(o: &Observation) -> &'static str {
    match o {
        Observation::Flow(_) => "flow",
        Observation::Dns(_) => "dns",
        Observation::Signalling(_) => "signalling",
        Observation::Imei(_) => "imei",
    }
}

/// The engine's bounded queue, for every producer: [`Queue::offer`] never waits.
#[derive(Clone, Debug)]
pub struct Queue(SyncSender<Observation>);

impl Queue {
    /// Queues `o` for the engine; `false` (counted) when the queue is full or the engine stopped.
    pub fn offer(&self, o: Observation) -> bool {
        match self.0.try_send(o) {
            Ok(()) => true,
            Err(TrySendError::Full(o)) => {
                metrics::counter!(QUEUE_DROPPED, "input" => input(&o)).increment(1);
                false
            }
            Err(TrySendError::Disconnected(_)) => false,
        }
    }
}

/// The DNS firewall's query log into the engine: queries of known SIMs only.
#[derive(Clone)]
pub struct DnsTap {
    queue: Queue,
    pcrf: Arc<Pcrf>,
}

impl DnsTap {
    /// One logged query.
    pub fn logged(&self, e: &dnsfw::QueryLogEntry) {
        let Some(tenant) = e.tenant.as_deref().filter(|_| !e.imsi.is_empty()) else { return };
        let profile = e.imsi.parse().ok().and_then(|imsi| self.pcrf.profile_name(&imsi)).unwrap_or_default();
        self.queue.offer(Observation::Dns(DnsObservation {
            at: e.at_ms.max(0) as u64,
            device: DeviceKey::new(&e.imsi, tenant, &profile),
            name: e.name.clone(),
            qtype: e.qtype,
            // RFC 1035 §4.1.1: RCODE 3 is NXDOMAIN.
            nxdomain: e.rcode == 3,
            allowed: e.verdict == dnsfw::Verdict::Allowed,
        }));
    }
}

/// One signalling request seen by the Diameter front end, before its SIM is known.
#[derive(Debug, Clone)]
pub struct Signalled {
    at: u64,
    imsi: String,
    kind: SignallingKind,
    rejected: bool,
    imei: Option<String>,
}

/// The S6a/S13/Gx requests the Diameter front end answers (and those the roaming firewall refused), per SIM: a cheap non-blocking send to the
/// signalling resolver (which reads the SIM's tenant and profile); full: dropped and counted.
#[derive(Clone, Debug)]
pub struct SignallingTap(mpsc::Sender<Signalled>);

impl SignallingTap {
    /// What the analytics need of a request (`command` as [`diameter::Message::abbrev`] names it):
    /// `None` for procedures they do not count or requests without a User-Name.
    pub fn seen(&self, command: &str, request: &diameter::Message) -> Option<Signalled> {
        let kind = match command {
            "AIR" => SignallingKind::Air,
            "ULR" => SignallingKind::Ulr,
            "PUR" => SignallingKind::Pur,
            "NOR" => SignallingKind::Nor,
            "ECR" => SignallingKind::Other,
            "CCR" => SignallingKind::Ccr,
            _ => return None,
        };
        let imsi = match kind {
            // Gx names the subscriber in Subscription-Id (TS 29.212 §5.3.1), not in User-Name.
            SignallingKind::Ccr => pcrf::subscription_imsi(request)?.to_string(),
            _ => request.get_str(diameter::avp::USER_NAME)?.to_string(),
        };
        let imei = matches!(command, "ULR" | "ECR")
            .then(|| request.get(diameter::avp::TERMINAL_INFORMATION))
            .flatten()
            .and_then(|t| t.child(diameter::avp::IMEI))
            .and_then(diameter::Avp::as_str)
            .map(str::to_string);
        let at = store::cluster::now_ms().max(0) as u64;
        Some(Signalled { at, imsi, kind, rejected: false, imei })
    }

    /// A request about `imsi` that the roaming firewall refused before it reached the HSS: one
    /// rejected signalling request of that device.
    pub fn refused_upstream(&self, imsi: String) {
        let at = store::cluster::now_ms().max(0) as u64;
        self.queue(Signalled { at, imsi, kind: SignallingKind::Other, rejected: true, imei: None });
    }

    /// The request's answer was sent with `result_code`: queued for the resolver.
    pub fn answered(&self, mut s: Signalled, result_code: u32) {
        // RFC 6733 §7.1: 2xxx is success.
        s.rejected = !(2000..3000).contains(&result_code);
        self.queue(s);
    }

    fn queue(&self, s: Signalled) {
        if let Err(mpsc::error::TrySendError::Full(_)) = self.0.try_send(s) {
            metrics::counter!(QUEUE_DROPPED, "input" => "signalling").increment(1);
        }
    }
}

/// The collector socket's receive buffer asked for.
const RECEIVE_BUFFER: usize = 8 << 20;

/// How long a SIM's tenant and profile are trusted before they are read again.
const SIM_CACHE_TTL: Duration = Duration::from_secs(300);

/// Reads each signalling request's SIM (tenant, profile; cached for [`SIM_CACHE_TTL`]) and queues
/// the observations until `stop`. Unknown IMSIs are not observed.
async fn resolve_signalling(
    store: store::Store,
    mut rx: mpsc::Receiver<Signalled>,
    queue: Queue,
    stop: CancellationToken,
) {
    let mut cache: HashMap<String, (Instant, Option<DeviceKey>)> = HashMap::new();
    loop {
        let s = tokio::select! {
            s = rx.recv() => match s { Some(s) => s, None => return },
            _ = stop.cancelled() => return,
        };
        let fresh = cache.get(&s.imsi).filter(|(at, _)| at.elapsed() < SIM_CACHE_TTL).map(|(_, k)| k.clone());
        let key = match fresh {
            Some(k) => k,
            None => {
                let Ok(imsi) = s.imsi.parse::<ids::Imsi>() else { continue };
                let key = match store.sim(&imsi).await {
                    Ok(sim) => {
                        sim.map(|sim| DeviceKey::new(&s.imsi, &sim.tenant, sim.profile.as_deref().unwrap_or("")))
                    }
                    Err(e) => {
                        tracing::debug!(error = %e, "analytics: SIM not read; signalling not observed");
                        continue;
                    }
                };
                if cache.len() >= Keys::MAX {
                    cache.clear();
                }
                cache.insert(s.imsi.clone(), (Instant::now(), key.clone()));
                key
            }
        };
        let Some(device) = key else { continue };
        if let Some(imei) = s.imei {
            queue.offer(Observation::Imei(ImeiObservation { at: s.at, device: device.clone(), imei }));
        }
        queue.offer(Observation::Signalling(SignallingObservation {
            at: s.at,
            device,
            kind: s.kind,
            rejected: s.rejected,
        }));
    }
}

/// Reads the threat-intelligence files: a `.json` file is a STIX 2.1 bundle, anything else CSV.
pub fn load_intel(files: &[PathBuf]) -> Result<IntelSet, String> {
    let mut set = IntelSet::new();
    for path in files {
        let text =
            std::fs::read_to_string(path).map_err(|e| format!("analytics.intel_files: {}: {e}", path.display()))?;
        let stix = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("json"));
        let parsed = if stix { IntelSet::from_stix(&text) } else { IntelSet::from_csv(&text) };
        set.merge(parsed.map_err(|e| format!("analytics.intel_files: {}: {e}", path.display()))?);
    }
    Ok(set)
}

/// Describes the series and shows the counters at 0.
pub fn describe_metrics() {
    metrics::describe_counter!(DATAGRAMS, "IPFIX/NetFlow v9 datagrams received, from any source.");
    metrics::describe_counter!(FLOWS, "Flow records decoded.");
    metrics::describe_counter!(DROPPED, "IPFIX/NetFlow v9 datagrams, sets and records dropped, by reason.");
    metrics::describe_counter!(
        UNMAPPED,
        "Flows no Gx session (live, or ended in the address history) maps to one SIM."
    );
    metrics::describe_counter!(AMBIGUOUS, "Flows whose device address changed owner while they ran.");
    metrics::describe_counter!(
        crate::analytics_state::DEVICES_FORGOTTEN,
        "Devices the analytics engine forgot because they were idle for device_idle_days."
    );
    metrics::describe_counter!(OBSERVATIONS, "Observations the analytics engine processed, by input.");
    metrics::describe_counter!(QUEUE_DROPPED, "Observations dropped because the engine's queue was full.");
    metrics::describe_counter!(DETECTIONS, "Security detections raised, by kind.");
    metrics::describe_gauge!(DEVICES, "Devices the analytics engine keeps a baseline for.");
    for name in [DATAGRAMS, FLOWS, UNMAPPED, AMBIGUOUS, crate::analytics_state::DEVICES_FORGOTTEN] {
        metrics::counter!(name).absolute(0);
    }
}

/// Publishes the collector's counters (absolute values).
fn publish(c: &Counters) {
    metrics::counter!(DATAGRAMS).absolute(c.datagrams);
    metrics::counter!(FLOWS).absolute(c.flows);
    for reason in DropReason::ALL {
        let n = c.dropped(reason);
        if n > 0 {
            metrics::counter!(DROPPED, "reason" => reason.as_str()).absolute(n);
        }
    }
}

/// The analytics, built and bound, ready to run.
pub struct AnalyticsPart {
    socket: tokio::net::UdpSocket,
    collector: Collector,
    engine: Engine,
    cohort: CohortConfig,
    retrain: Option<Duration>,
    upkeep: Upkeep,
    /// The engine was loaded from a snapshot: the cohort models are trained at once.
    restored: bool,
    queue: Queue,
    observations: Receiver<Observation>,
    signalling: (SignallingTap, mpsc::Receiver<Signalled>),
    sink: Arc<dyn DetectionSink>,
    recent: Arc<RecentDetections>,
    directory: Arc<dyn SimDirectory>,
    pcrf: Arc<Pcrf>,
    dpi: Option<crate::analytics_dpi_run::DpiPart>,
}

impl AnalyticsPart {
    /// Loads the intelligence files and the engine's snapshot, and binds the collector's socket.
    pub async fn build(c: &AnalyticsConfig, pcrf: Arc<Pcrf>, data_dir: &Path) -> Result<AnalyticsPart, ServeError> {
        let intel = load_intel(&c.intel_files).map_err(ServeError::Analytics)?;
        describe_metrics();
        let socket = tokio::net::UdpSocket::bind(c.ipfix_listen).await.map_err(|source| ServeError::Bind {
            key: "analytics.ipfix_listen",
            addr: c.ipfix_listen,
            source,
        })?;
        // Bursts of datagrams wait in the kernel while the receiver works: a larger buffer than the
        // default (the kernel caps it at net.core.rmem_max).
        if let Err(e) = rustix::net::sockopt::set_socket_recv_buffer_size(&socket, RECEIVE_BUFFER) {
            tracing::debug!(error = %e, "analytics: receive buffer size not set");
        }
        let at = socket.local_addr().unwrap_or(c.ipfix_listen);
        eprintln!("warden: IPFIX/NetFlow v9 collector on {at} (UDP), {} intelligence indicators", intel.len());
        tracing::info!(listen = %at, exporters = ?c.exporters, indicators = intel.len(), "analytics collecting");
        let state = analytics_state::state_path(c.state_file.as_deref(), c.snapshot_minutes, data_dir);
        let loaded = match state.clone() {
            Some(path) => {
                let cfg = c.engine.clone();
                tokio::task::spawn_blocking(move || analytics_state::load(&path, cfg)).await.ok().flatten()
            }
            None => None,
        };
        let restored = loaded.as_ref().is_some_and(|e| e.device_count() > 0);
        let mut engine = loaded.unwrap_or_else(|| Engine::new(c.engine.clone()));
        engine.set_intel(Arc::new(intel));
        let upkeep =
            Upkeep::new(state, Duration::from_secs(c.snapshot_minutes * 60), c.device_idle_days, Instant::now());
        let (tx, observations) = sync_channel(c.queue.max(1));
        let (stx, srx) = mpsc::channel(c.queue.clamp(1, 65_536));
        let recent = Arc::new(RecentDetections::new(c.recent_detections));
        let directory = Arc::new(PcrfSessions { pcrf: pcrf.clone(), apn: c.apn.clone() });
        Ok(AnalyticsPart {
            socket,
            collector: Collector::new(CollectorConfig::new(c.exporters.iter().map(|a| a.to_canonical()))),
            engine,
            cohort: c.cohort.clone(),
            retrain: (c.cohort_retrain_minutes > 0).then(|| Duration::from_secs(c.cohort_retrain_minutes * 60)),
            upkeep,
            restored,
            queue: Queue(tx),
            observations,
            signalling: (SignallingTap(stx), srx),
            sink: recent.clone(),
            recent,
            directory,
            pcrf,
            dpi: crate::analytics_dpi_run::DpiPart::build(c).await?,
        })
    }

    /// The DNS firewall's query-log tap.
    pub fn dns_tap(&self) -> DnsTap {
        DnsTap { queue: self.queue.clone(), pcrf: self.pcrf.clone() }
    }

    /// The Diameter front end's signalling tap.
    pub fn signalling_tap(&self) -> SignallingTap {
        self.signalling.0.clone()
    }

    /// Replaces the default sink ([`RecentDetections`], still reachable through [`Self::recent`]).
    pub fn set_sink(&mut self, sink: Arc<dyn DetectionSink>) {
        self.sink = sink;
    }

    /// The newest detections (the default sink).
    pub fn recent(&self) -> Arc<RecentDetections> {
        self.recent.clone()
    }

    /// The long-running work: `(edge tasks, flush tasks)`.
    pub fn start(
        self,
        store: store::Store,
        edge: CancellationToken,
        flush: CancellationToken,
    ) -> (Vec<Task>, Vec<Task>) {
        let AnalyticsPart {
            socket,
            collector,
            engine,
            cohort,
            retrain,
            upkeep,
            restored,
            queue,
            observations,
            signalling,
            sink,
            directory,
            dpi,
            ..
        } = self;
        let dpi = dpi.map(|d| d.start(store.clone(), directory.clone(), sink.clone(), edge.clone()));
        let receiver = receive(socket, collector, directory, queue.clone(), edge.clone());
        let resolver = resolve_signalling(store, signalling.1, queue, edge);
        // The taps hold senders until the Diameter server ends: the engine stops on `flush`.
        drop(signalling.0);
        let engine = async move {
            let schedule = Schedule { retrain, cohort, upkeep, restored };
            let run = tokio::task::spawn_blocking(move || run_engine(engine, observations, sink, schedule, flush));
            if let Err(e) = run.await {
                tracing::error!(error = %e, "analytics engine stopped");
            }
        };
        let mut edge_tasks: Vec<Task> =
            vec![("IPFIX collector", Box::pin(receiver)), ("analytics signalling resolver", Box::pin(resolver))];
        edge_tasks.extend(dpi.into_iter().flatten());
        (edge_tasks, vec![("analytics engine", Box::pin(engine))])
    }
}

/// Receives datagrams until `stop`: collector, SIM mapping, queue.
async fn receive(
    socket: tokio::net::UdpSocket,
    mut collector: Collector,
    directory: Arc<dyn SimDirectory>,
    queue: Queue,
    stop: CancellationToken,
) {
    let mut buf = vec![0u8; 65_536];
    let mut flows = Vec::new();
    let mut keys = Keys::default();
    loop {
        let first = tokio::select! {
            r = socket.recv_from(&mut buf) => r,
            _ = stop.cancelled() => return,
        };
        let mut next = Some(first);
        // What is already waiting is read without going back to the scheduler, then counted once.
        let mut batch = 0;
        while let Some(r) = next.take() {
            match r {
                Ok((n, from)) => {
                    flows.clear();
                    collector.handle(from.ip().to_canonical(), &buf[..n], &mut flows);
                    let now = store::cluster::now_ms().max(0) as u64;
                    let (mut unmapped, mut ambiguous) = (0, 0);
                    for f in &flows {
                        match map_flow(f, directory.as_ref(), now) {
                            Some(Mapped { sim, mut observation, ambiguous: crossed }) => {
                                ambiguous += u64::from(crossed);
                                observation.device = keys.key(sim);
                                queue.offer(Observation::Flow(observation));
                            }
                            None => unmapped += 1,
                        }
                    }
                    if unmapped > 0 {
                        metrics::counter!(UNMAPPED).increment(unmapped);
                    }
                    if ambiguous > 0 {
                        metrics::counter!(AMBIGUOUS).increment(ambiguous);
                    }
                }
                Err(e) => tracing::debug!(error = %e, "IPFIX receive failed"),
            }
            batch += 1;
            if batch < 256 {
                match socket.try_recv_from(&mut buf) {
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    r => next = Some(r),
                }
            }
        }
        publish(collector.counters());
    }
}

/// The engine thread's periodic work.
struct Schedule {
    /// Cohort retrain period.
    retrain: Option<Duration>,
    cohort: CohortConfig,
    /// Snapshots and idle devices.
    upkeep: Upkeep,
    /// The engine was restored from a snapshot: the first retrain is at once.
    restored: bool,
}

/// The engine's loop, on a blocking thread: observations in, detections to `sink`, a cohort retrain
/// every `retrain` on a thread of its own, snapshots and idle devices ([`Upkeep`]); ends when `stop`
/// is cancelled, after what is queued, with a last snapshot.
fn run_engine(
    mut engine: Engine,
    observations: Receiver<Observation>,
    sink: Arc<dyn DetectionSink>,
    schedule: Schedule,
    stop: CancellationToken,
) {
    let Schedule { retrain, cohort, mut upkeep, restored } = schedule;
    let mut out = Vec::new();
    let mut latest = engine.last_observation();
    let first_retrain = if restored { Duration::ZERO } else { retrain.unwrap_or_default() };
    let mut next_retrain = retrain.map(|_| Instant::now() + first_retrain);
    let mut training: Option<Receiver<Vec<Outlier>>> = None;
    let emit = |out: &mut Vec<Detection>| {
        for d in out.drain(..) {
            metrics::counter!(DETECTIONS, "kind" => d.kind.as_str()).increment(1);
            sink.detected(&d);
        }
    };
    let observe = |engine: &mut Engine, o: Observation, latest: &mut u64, out: &mut Vec<Detection>| {
        *latest = (*latest).max(o.at());
        metrics::counter!(OBSERVATIONS, "input" => input(&o)).increment(1);
        engine.observe(&o, out);
    };
    loop {
        match observations.recv_timeout(Duration::from_millis(50)) {
            Ok(o) => observe(&mut engine, o, &mut latest, &mut out),
            Err(RecvTimeoutError::Timeout) => metrics::gauge!(DEVICES).set(engine.device_count() as f64),
            Err(RecvTimeoutError::Disconnected) => break,
        }
        emit(&mut out);
        if stop.is_cancelled() {
            while let Ok(o) = observations.try_recv() {
                observe(&mut engine, o, &mut latest, &mut out);
                emit(&mut out);
            }
            break;
        }
        upkeep.tick(&mut engine, Instant::now(), store::cluster::now_ms().max(0) as u64, latest);
        if let (Some(every), Some(due)) = (retrain, next_retrain) {
            if Instant::now() >= due {
                next_retrain = Some(Instant::now() + every);
                if training.is_none() {
                    training = start_training(engine.cohort_features(latest), cohort.clone());
                }
            }
        }
        if let Some(rx) = &training {
            match rx.try_recv() {
                Ok(outliers) => {
                    engine.report_cohort_outliers(&outliers, latest, &mut out);
                    emit(&mut out);
                    training = None;
                }
                Err(TryRecvError::Empty) => {}
                Err(TryRecvError::Disconnected) => training = None,
            }
        }
    }
    upkeep.final_snapshot(&engine, latest);
}

/// Trains the cohort models on a thread of its own and scores the same devices; the outliers come
/// back through the returned channel.
fn start_training(
    features: Vec<(DeviceKey, analytics::Features)>,
    cfg: CohortConfig,
) -> Option<Receiver<Vec<Outlier>>> {
    let (tx, rx) = sync_channel(1);
    let spawned = std::thread::Builder::new().name("analytics-cohort".into()).spawn(move || {
        let started = Instant::now();
        let models = CohortModels::train(&features, &cfg);
        let outliers = models.outliers(&features);
        tracing::info!(
            devices = features.len(),
            cohorts = models.len(),
            outliers = outliers.len(),
            took_ms = started.elapsed().as_millis() as u64,
            "analytics cohort models retrained"
        );
        let _ = tx.send(outliers);
    });
    match spawned {
        Ok(_) => Some(rx),
        Err(e) => {
            tracing::warn!(error = %e, "analytics cohort retrain not started");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use analytics::FiveTuple;

    /// Bindings: address, SIM, from, until (exclusive; `None` live).
    struct Table(Vec<(IpAddr, SimRef, u64, Option<u64>)>);

    impl SimDirectory for Table {
        fn owner_at(&self, ip: IpAddr, at_ms: u64) -> Option<Owner> {
            self.0
                .iter()
                .find(|(a, _, from, until)| *a == ip && *from <= at_ms && until.is_none_or(|u| at_ms < u))
                .map(|(_, s, _, until)| Owner { sim: s.clone(), until_ms: *until })
        }
    }

    fn sim(n: u8) -> SimRef {
        SimRef { imsi: format!("00101000000000{n}"), tenant: format!("tenant{n}"), profile: "meter".into() }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn flow(src: &str, sport: u16, dst: &str, dport: u16, start_ms: Option<u64>) -> Flow {
        Flow {
            exporter: ip("127.0.0.1"),
            observation_domain: 0,
            tuple: FiveTuple { src: ip(src), dst: ip(dst), sport, dport, proto: 6 },
            octets: 1200,
            packets: 3,
            start_ms,
            end_ms: None,
            tcp_flags: None,
        }
    }

    #[test]
    fn the_side_a_session_holds_is_the_device_and_the_direction_splits_the_bytes() {
        let sim = sim(1);
        let dir = Table(vec![(ip("10.45.0.2"), sim.clone(), 0, None)]);
        let m = map_flow(&flow("10.45.0.2", 40000, "198.51.100.7", 23, Some(5)), &dir, 99).unwrap();
        assert_eq!((&m.sim, m.ambiguous), (&sim, false));
        let up = m.observation;
        assert_eq!(
            (up.remote, up.remote_port, up.octets_up, up.octets_down, up.at),
            (ip("198.51.100.7"), 23, 1200, 0, 5)
        );
        let down = map_flow(&flow("198.51.100.7", 23, "10.45.0.2", 40000, None), &dir, 99).unwrap().observation;
        assert_eq!(
            (down.remote, down.remote_port, down.octets_up, down.octets_down, down.at),
            (ip("198.51.100.7"), 23, 0, 1200, 99)
        );
        assert!(map_flow(&flow("10.9.9.9", 1, "198.51.100.7", 2, None), &dir, 99).is_none(), "no session: unmapped");
    }

    #[test]
    fn a_flow_is_the_sims_that_held_the_address_when_it_started() {
        // 10.45.0.2 was SIM 1's until 10,000, then SIM 2's from 12,000.
        let dir = Table(vec![(ip("10.45.0.2"), sim(1), 1_000, Some(10_000)), (ip("10.45.0.2"), sim(2), 12_000, None)]);
        let mut f = flow("10.45.0.2", 40000, "198.51.100.7", 443, Some(5_000));
        f.end_ms = Some(9_000);
        // Reported at 60,000, after the address went to SIM 2: still SIM 1's.
        let m = map_flow(&f, &dir, 60_000).unwrap();
        assert_eq!((m.sim, m.observation.at, m.ambiguous), (sim(1), 5_000, false));
        // A flow without times is placed at its arrival: SIM 2's.
        assert_eq!(map_flow(&flow("10.45.0.2", 1, "198.51.100.7", 2, None), &dir, 60_000).unwrap().sim, sim(2));
        // Between the two owners: nobody's.
        assert!(map_flow(&flow("10.45.0.2", 1, "198.51.100.7", 2, Some(11_000)), &dir, 60_000).is_none());
        // Started under SIM 1, still running under SIM 2: SIM 1's, counted as ambiguous.
        f.end_ms = Some(15_000);
        let m = map_flow(&f, &dir, 60_000).unwrap();
        assert_eq!((m.sim, m.ambiguous), (sim(1), true));
        // Ran past SIM 1's end while nobody else held it: not ambiguous.
        f.end_ms = Some(11_000);
        assert!(!map_flow(&f, &dir, 60_000).unwrap().ambiguous);
    }

    #[test]
    fn a_full_queue_drops_instead_of_waiting() {
        let (tx, rx) = sync_channel(1);
        let q = Queue(tx);
        let o = Observation::Imei(ImeiObservation { at: 1, device: DeviceKey::new("1", "t", "p"), imei: "35".into() });
        assert!(q.offer(o.clone()));
        assert!(!q.offer(o.clone()), "full");
        drop(rx);
        assert!(!q.offer(o), "engine gone");
    }

    /// A Gx CCR counts for the SIM its Subscription-Id names; an S6a AIR for its User-Name; a
    /// request the firewall refused is a rejected one; others are not counted.
    #[test]
    fn the_tap_counts_gx_s6a_and_what_the_firewall_refused() {
        use diameter::{avp, Avp, Command, Message};
        let (tx, mut rx) = mpsc::channel(8);
        let tap = SignallingTap(tx);
        let mut ccr = Message::request(Command::CCR);
        ccr.add(
            avp::SUBSCRIPTION_ID,
            vec![Avp::new(avp::SUBSCRIPTION_ID_TYPE, 2u32), Avp::new(avp::SUBSCRIPTION_ID_DATA, "46000")],
        );
        assert!(tap.seen("CCR", &ccr).is_none(), "no END_USER_IMSI: not counted");
        ccr.add(
            avp::SUBSCRIPTION_ID,
            vec![Avp::new(avp::SUBSCRIPTION_ID_TYPE, 1u32), Avp::new(avp::SUBSCRIPTION_ID_DATA, "001010000000042")],
        );
        let seen = tap.seen("CCR", &ccr).expect("a CCR with an IMSI");
        assert_eq!((seen.imsi.as_str(), seen.kind), ("001010000000042", SignallingKind::Ccr));
        tap.answered(seen, 5030);
        let mut air = Message::request(Command::AIR);
        air.add(avp::USER_NAME, "001010000000043");
        let seen = tap.seen("AIR", &air).expect("an AIR with a User-Name");
        tap.answered(seen, 2001);
        assert!(tap.seen("DWR", &air).is_none());
        tap.refused_upstream("001010000000044".into());
        let got: Vec<_> = std::iter::from_fn(|| rx.try_recv().ok()).map(|s| (s.imsi, s.kind, s.rejected)).collect();
        assert_eq!(
            got,
            [
                ("001010000000042".to_string(), SignallingKind::Ccr, true),
                ("001010000000043".to_string(), SignallingKind::Air, false),
                ("001010000000044".to_string(), SignallingKind::Other, true),
            ]
        );
    }

    #[test]
    fn the_default_sink_keeps_the_newest() {
        let sink = RecentDetections::new(2);
        let device = DeviceKey::new("001010000000001", "acme", "meter");
        for at in 0..3 {
            sink.detected(&Detection {
                id: format!("{at}"),
                kind: analytics::DetectionKind::Scanning,
                device: device.clone(),
                window_start: 0,
                at,
                score: 1.0,
                evidence: analytics::Evidence::ImeiChange { previous_tac: 1, tac: 2, changes: 1 },
            });
        }
        assert_eq!(sink.recent().iter().map(|d| d.at).collect::<Vec<_>>(), [1, 2]);
    }

    #[test]
    fn a_broken_intelligence_file_names_itself_and_why() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("good.csv");
        std::fs::write(&good, "type,value\nipv4,203.0.113.66\n").unwrap();
        assert_eq!(load_intel(std::slice::from_ref(&good)).unwrap().len(), 1);
        let bad = dir.path().join("bad.json");
        std::fs::write(&bad, "{not json").unwrap();
        let e = load_intel(&[good, bad.clone()]).unwrap_err();
        assert!(e.starts_with(&format!("analytics.intel_files: {}: ", bad.display())), "{e}");
        let missing = dir.path().join("missing.csv");
        assert!(load_intel(&[missing]).unwrap_err().contains("missing.csv"));
    }

    #[test]
    fn the_section_has_loopback_defaults_and_refuses_unknown_keys() {
        let c: AnalyticsConfig = toml::from_str("[engine]\nscan_telnet_hosts = 8\n").unwrap();
        assert_eq!(c.ipfix_listen, default_listen());
        assert_eq!(c.exporters, vec![ip("127.0.0.1")]);
        assert_eq!((c.engine.scan_telnet_hosts, c.engine.scan_hosts), (8, EngineConfig::default().scan_hosts));
        assert!(toml::from_str::<AnalyticsConfig>("ipfix_port = 1\n").is_err());
        assert!(toml::from_str::<AnalyticsConfig>("[engine]\nscan = 1\n").is_err());
        assert_eq!((c.state_file, c.snapshot_minutes, c.device_idle_days), (None, 15, 30));
        let c: AnalyticsConfig =
            toml::from_str("state_file = \"/var/lib/w/e.snap\"\nsnapshot_minutes = 0\ndevice_idle_days = 7\n").unwrap();
        assert_eq!(
            (c.state_file.unwrap(), c.snapshot_minutes, c.device_idle_days),
            (PathBuf::from("/var/lib/w/e.snap"), 0, 7)
        );
    }
}
