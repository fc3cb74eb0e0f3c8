//! The detection engine: observations in, deduplicated detections out.
//!
//! [`Engine`] keeps one [`DeviceBaseline`] per device and, per cohort (tenant and profile), the
//! destinations its devices used while learning. Each `observe_*` call updates the device's state and
//! appends the detections it raises to `out`. Every detection has a [`DetectionKind`], a score in
//! 0..1, structured [`Evidence`] (addresses, ports, counts and thresholds — never payload, never a
//! tunnelled name) and a stable id: SHA-256 of kind, tenant, IMSI and window start. At most one
//! detection per device and kind is raised per dedup window ([`EngineConfig::dedup_window_ms`], an
//! hour by default), so a scan of ten thousand flows is one detection, not ten thousand.
//!
//! | kind | raised when | from |
//! |---|---|---|
//! | `new_destination` | after learning, a remote host outside the device's and its cohort's learned destinations; or, at any time, outside the SIM's allowlist ([`Allowlist`]) | flows |
//! | `volume_spike` | after learning, this hour's bytes or flows above `max(mean + k·sd, ratio·peak, floor)` | flows |
//! | `scanning` | in a short window, many distinct hosts, services, or telnet (23/2323) hosts | flows |
//! | `dns_tunnelling` | in a short window, many distinct subdomains of one domain, many long high-entropy names, or mostly NXDOMAIN (DGA) | DNS |
//! | `threat_intel` | a flow to, or a name under, an [`IntelSet`] indicator | flows, DNS |
//! | `excessive_signalling` | this hour's signalling above `max(limit, ratio·peak)` (AV-1) | signalling |
//! | `imei_change` | the SIM presents another IMEI than before (SUB-7) | IMEI |
//! | `cohort_outlier` | the device's features isolate it from its cohort ([`crate::cohort`]) | features |
//! | `personal_data` | the live DPI found personal data in clear in a packet of the device (raised by [`crate::personal_data`], not by the engine) | mirrored packets |
//!
//! Memory: [`ENGINE_BYTES_PER_DEVICE`] bytes per device at most (the baseline, the dedup state, the
//! map entry with its worst-case load factor, and the IMSI string); 1M devices ≤ 2 GiB.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::Arc;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::baseline::{self, host_key, imei_key, label_entropy, split_base_domain, DeviceBaseline, HOUR_MS};
use crate::intel::IntelSet;
use crate::observe::{
    proto, DeviceKey, DnsObservation, FlowObservation, ImeiObservation, Observation, SignallingObservation, UnixMs,
};

/// What a detection is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DetectionKind {
    /// A destination outside the baseline or the allowlist.
    NewDestination,
    /// Far more bytes or flows than usual in an hour.
    VolumeSpike,
    /// Many hosts, services or telnet hosts in a short window.
    Scanning,
    /// DNS tunnelling or DGA-like names.
    DnsTunnelling,
    /// Traffic to, or a name under, a threat-intelligence indicator.
    ThreatIntel,
    /// Excessive signalling (AV-1).
    ExcessiveSignalling,
    /// The SIM moved to another device (SUB-7).
    ImeiChange,
    /// Unlike the other devices of its tenant and profile.
    CohortOutlier,
    /// Personal data sent in clear, found by the live DPI ([`crate::personal_data`]; never raised by
    /// the [`Engine`], which keeps no state for it).
    PersonalData,
}

impl DetectionKind {
    /// Every kind, in a fixed order.
    pub const ALL: [DetectionKind; 9] = [
        DetectionKind::NewDestination,
        DetectionKind::VolumeSpike,
        DetectionKind::Scanning,
        DetectionKind::DnsTunnelling,
        DetectionKind::ThreatIntel,
        DetectionKind::ExcessiveSignalling,
        DetectionKind::ImeiChange,
        DetectionKind::CohortOutlier,
        DetectionKind::PersonalData,
    ];

    /// The name used in the API and in exports.
    pub fn as_str(self) -> &'static str {
        match self {
            DetectionKind::NewDestination => "new_destination",
            DetectionKind::VolumeSpike => "volume_spike",
            DetectionKind::Scanning => "scanning",
            DetectionKind::DnsTunnelling => "dns_tunnelling",
            DetectionKind::ThreatIntel => "threat_intel",
            DetectionKind::ExcessiveSignalling => "excessive_signalling",
            DetectionKind::ImeiChange => "imei_change",
            DetectionKind::CohortOutlier => "cohort_outlier",
            DetectionKind::PersonalData => "personal_data",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Why a destination is new.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outside {
    /// Not among the destinations the device or its cohort used while learning.
    Baseline,
    /// Not allowed by the SIM's allowlist.
    Allowlist,
}

/// Which way a packet went, seen from the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// The device sent it.
    Uplink,
    /// The device received it.
    Downlink,
}

/// What a detection saw. Metadata only: no payload, no full DNS names (a tunnel's names are its
/// payload), no device address.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Evidence {
    /// A new destination.
    NewDestination {
        /// The remote address.
        remote: IpAddr,
        /// The remote port.
        port: u16,
        /// The IP protocol.
        proto: u8,
        /// Outside what.
        outside: Outside,
        /// The service (protocol, port) was new too.
        new_service: bool,
    },
    /// A volume spike.
    VolumeSpike {
        /// Bytes this hour so far.
        bytes: u64,
        /// Flows this hour so far.
        flows: u32,
        /// The bytes threshold crossed or not.
        bytes_threshold: u64,
        /// The flows threshold.
        flows_threshold: u32,
        /// Mean bytes per active hour.
        mean_bytes_per_hour: u64,
    },
    /// Scanning.
    Scanning {
        /// Distinct hosts in the window (estimate).
        hosts: u32,
        /// Distinct (protocol, port) services in the window (estimate).
        services: u32,
        /// Distinct hosts contacted on TCP 23/2323 (estimate).
        telnet_hosts: u32,
        /// The window length.
        window_ms: u64,
    },
    /// DNS tunnelling or DGA.
    DnsTunnelling {
        /// Queries in the window.
        queries: u32,
        /// NXDOMAIN answers in the window.
        nxdomain: u32,
        /// Long, high-entropy names in the window.
        suspicious_names: u32,
        /// Distinct subdomains under the busiest base domain (estimate).
        distinct_subdomains: u32,
        /// The base domain of the query that crossed the threshold.
        base_domain: String,
        /// Which rule: `subdomains`, `entropy` or `nxdomain`.
        rule: &'static str,
    },
    /// Threat intelligence.
    ThreatIntel {
        /// The indicator matched (`203.0.113.5`, `198.51.100.0/24`, `evil.example`).
        indicator: String,
        /// Its STIX id when it came from STIX.
        stix_id: Option<String>,
        /// The remote address of the flow, if a flow matched.
        remote: Option<IpAddr>,
        /// The remote port of the flow.
        port: Option<u16>,
    },
    /// Excessive signalling.
    ExcessiveSignalling {
        /// Requests this hour so far.
        requests: u32,
        /// Of which rejected.
        rejected: u32,
        /// The threshold crossed.
        threshold: u32,
    },
    /// IMEI change.
    ImeiChange {
        /// The previous TAC (device model).
        previous_tac: u32,
        /// The new TAC.
        tac: u32,
        /// IMEI changes of this SIM so far.
        changes: u16,
    },
    /// Cohort outlier.
    CohortOutlier {
        /// The isolation score (0.5 ordinary, near 1 isolated).
        score: f64,
        /// The threshold.
        threshold: f64,
        /// Devices in the cohort the model was trained on.
        cohort_size: usize,
    },
    /// Personal data in clear: what kind and where — never the bytes, not even partly.
    PersonalData {
        /// The DPI finding's kind: `card`, `iban`, `email`, `gps`, `national_id:<format>`,
        /// `pattern:<name>`.
        finding: String,
        /// Sent or received by the device.
        direction: Direction,
        /// The other side's address.
        remote: IpAddr,
        /// The other side's port.
        port: u16,
        /// The IP protocol (6 or 17).
        proto: u8,
        /// Where the finding starts in the packet's TCP or UDP payload.
        offset: usize,
    },
}

/// One detection.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Detection {
    /// Stable id: hex of the first 16 bytes of SHA-256(kind, tenant, IMSI, window start).
    pub id: String,
    /// What.
    pub kind: DetectionKind,
    /// Whose.
    pub device: DeviceKey,
    /// Start of the dedup window it belongs to (unix ms).
    pub window_start: UnixMs,
    /// The observation that raised it (unix ms).
    pub at: UnixMs,
    /// 0..1, higher is more certain or more severe.
    pub score: f64,
    /// What was seen.
    pub evidence: Evidence,
}

/// The stable id of a detection.
pub fn detection_id(kind: DetectionKind, device: &DeviceKey, window_start: UnixMs) -> String {
    let mut h = Sha256::new();
    h.update(kind.as_str().as_bytes());
    h.update([0]);
    h.update(device.tenant.as_bytes());
    h.update([0]);
    h.update(device.imsi.as_bytes());
    h.update([0]);
    h.update(window_start.to_be_bytes());
    let d = h.finalize();
    d[..16].iter().map(|b| format!("{b:02x}")).collect()
}

/// A SIM's allowlist, as the server knows it (the PCRF's rules).
pub trait Allowlist: Send + Sync {
    /// `Some(true)` allowed, `Some(false)` not allowed, `None` the SIM has no allowlist.
    fn permits(&self, device: &DeviceKey, remote: IpAddr, port: u16, proto: u8) -> Option<bool>;
}

/// Thresholds and periods. The defaults are the ones the evaluation (docs/analytics-detections.md)
/// was run with.
#[derive(Debug, Clone, PartialEq, serde::Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct EngineConfig {
    /// Learning period of device time from the first observation.
    pub learning_ms: u64,
    /// One detection per device and kind per window of this length.
    pub dedup_window_ms: u64,
    /// The scanning and DNS window.
    pub short_window_ms: u64,
    /// Scanning: distinct hosts in the short window.
    pub scan_hosts: u32,
    /// Scanning: distinct services in the short window.
    pub scan_services: u32,
    /// Scanning: distinct telnet hosts in the short window.
    pub scan_telnet_hosts: u32,
    /// Volume: standard deviations above the mean.
    pub spike_sigmas: f64,
    /// Volume: multiple of the peak hour.
    pub spike_peak_ratio: f64,
    /// Volume: never below this many bytes in an hour.
    pub spike_min_bytes: u64,
    /// Volume: never below this many flows in an hour.
    pub spike_min_flows: u32,
    /// DNS: distinct subdomains of one base domain in the short window.
    pub dns_subdomains: u32,
    /// DNS: long, high-entropy names in the short window.
    pub dns_suspicious_names: u32,
    /// DNS: a subdomain part at least this long…
    pub dns_suspicious_length: usize,
    /// … and with at least this entropy (bits per character) is suspicious.
    pub dns_suspicious_entropy: f64,
    /// DNS (DGA): at least this many NXDOMAIN answers in the short window…
    pub dns_nxdomain_min: u32,
    /// … making at least this share of the answers.
    pub dns_nxdomain_ratio: f64,
    /// Signalling: never more than this per hour.
    pub signalling_per_hour: u32,
    /// Signalling: multiple of the peak hour (after learning).
    pub signalling_peak_ratio: f64,
    /// Destinations the cohort learned, at most this many per cohort.
    pub cohort_destinations: usize,
    /// One `cohort_outlier` per device per window of this length (models are rerun every few hours;
    /// a device that stays unusual is reported again once a day, not at every run).
    pub cohort_dedup_window_ms: u64,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            learning_ms: 24 * HOUR_MS,
            dedup_window_ms: HOUR_MS,
            short_window_ms: 10 * 60_000,
            scan_hosts: 64,
            scan_services: 32,
            scan_telnet_hosts: 16,
            spike_sigmas: 6.0,
            spike_peak_ratio: 4.0,
            spike_min_bytes: 1 << 20,
            spike_min_flows: 60,
            dns_subdomains: 40,
            dns_suspicious_names: 10,
            dns_suspicious_length: 24,
            dns_suspicious_entropy: 3.5,
            dns_nxdomain_min: 20,
            dns_nxdomain_ratio: 0.5,
            signalling_per_hour: 60,
            signalling_peak_ratio: 5.0,
            cohort_destinations: 4096,
            cohort_dedup_window_ms: 24 * HOUR_MS,
        }
    }
}

/// Per-device state: the baseline and, per kind, the last dedup window that raised a detection.
#[derive(Debug, Clone, Copy)]
struct DeviceState {
    baseline: DeviceBaseline,
    /// Window index + 1 of the last detection per kind (0: none).
    last_window: [u32; 8],
}

/// Upper bound of the engine's memory per device, in bytes: the map entry (key and state) plus one
/// control byte, times 16/7 for the worst load factor of a hash map just after it grew (7/16), plus the
/// IMSI's shared string (16-byte header, 15 digits, rounded to 32). The tenant and profile strings are
/// shared by all devices of a cohort and not counted.
pub const ENGINE_BYTES_PER_DEVICE: usize = (std::mem::size_of::<(DeviceKey, DeviceState)>() + 1) * 16 / 7 + 32;

const _: () = assert!(ENGINE_BYTES_PER_DEVICE <= 2048, "the per-device target is 2 KiB");

/// The detection engine. See the module documentation.
pub struct Engine {
    cfg: EngineConfig,
    devices: HashMap<DeviceKey, DeviceState>,
    /// Per cohort (hash of tenant and profile): the destinations its devices used while learning.
    cohorts: HashMap<u64, HashSet<u32>>,
    intel: Arc<IntelSet>,
    allowlist: Option<Arc<dyn Allowlist>>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").field("devices", &self.devices.len()).field("indicators", &self.intel.len()).finish()
    }
}

/// Appends a detection unless one of the same kind was raised for the device in the same window.
#[allow(clippy::too_many_arguments)]
fn emit(
    cfg: &EngineConfig,
    last_window: &mut [u32; 8],
    device: &DeviceKey,
    kind: DetectionKind,
    at: UnixMs,
    score: f64,
    evidence: Evidence,
    out: &mut Vec<Detection>,
) {
    let length =
        if kind == DetectionKind::CohortOutlier { cfg.cohort_dedup_window_ms } else { cfg.dedup_window_ms }.max(1);
    let window = at / length;
    let marker = (window as u32).wrapping_add(1);
    if last_window[kind.index()] == marker {
        return;
    }
    last_window[kind.index()] = marker;
    let window_start = window * length;
    out.push(Detection {
        id: detection_id(kind, device, window_start),
        kind,
        device: device.clone(),
        window_start,
        at,
        score: score.clamp(0.0, 1.0),
        evidence,
    });
}

/// A score for a value that crossed `threshold`: 0.5 at the threshold, 1 at 8 times it.
fn excess_score(value: f64, threshold: f64) -> f64 {
    if threshold <= 0.0 {
        return 1.0;
    }
    (0.5 + (value / threshold).max(1.0).log2() / 6.0).min(1.0)
}

impl Engine {
    /// An engine with no devices, no indicators and no allowlists.
    pub fn new(cfg: EngineConfig) -> Self {
        Self {
            cfg,
            devices: HashMap::new(),
            cohorts: HashMap::new(),
            intel: Arc::new(IntelSet::new()),
            allowlist: None,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &EngineConfig {
        &self.cfg
    }

    /// Replaces the threat-intelligence indicators.
    pub fn set_intel(&mut self, intel: Arc<IntelSet>) {
        self.intel = intel;
    }

    /// Sets the allowlist predicate (None: no allowlist detections).
    pub fn set_allowlist(&mut self, allowlist: Option<Arc<dyn Allowlist>>) {
        self.allowlist = allowlist;
    }

    /// Number of devices with state.
    pub fn device_count(&self) -> usize {
        self.devices.len()
    }

    /// The baseline of a device.
    pub fn baseline(&self, device: &DeviceKey) -> Option<&DeviceBaseline> {
        self.devices.get(device).map(|s| &s.baseline)
    }

    /// Forgets what the engine learned about a device (after it was cleaned up or replaced): its next
    /// observation starts a new learning period. Returns whether it was known.
    pub fn reset_device(&mut self, device: &DeviceKey) -> bool {
        self.devices.remove(device).is_some()
    }

    /// Forgets devices not seen since `before` (retention, PR-1); returns how many.
    pub fn forget_idle(&mut self, before: UnixMs) -> usize {
        let n = self.devices.len();
        self.devices.retain(|_, s| s.baseline.last_seen >= before);
        n - self.devices.len()
    }

    /// The newest observation time of any device (its `last_seen`); 0 without devices.
    pub fn last_observation(&self) -> UnixMs {
        self.devices.values().map(|s| s.baseline.last_seen).max().unwrap_or(0)
    }

    /// Every device's key (for [`crate::snapshot`]).
    pub(crate) fn device_keys(&self) -> impl Iterator<Item = &DeviceKey> {
        self.devices.keys()
    }

    /// A device's baseline and last detection window per kind (for [`crate::snapshot`]).
    pub(crate) fn device_state(&self, device: &DeviceKey) -> Option<(&DeviceBaseline, &[u32; 8])> {
        self.devices.get(device).map(|s| (&s.baseline, &s.last_window))
    }

    /// Every cohort's learned destinations (for [`crate::snapshot`]).
    pub(crate) fn cohort_destinations(&self) -> impl Iterator<Item = (u64, &HashSet<u32>)> {
        self.cohorts.iter().map(|(k, v)| (*k, v))
    }

    /// Restores a device from a snapshot; false when it is already there.
    pub(crate) fn restore_device(
        &mut self,
        device: DeviceKey,
        baseline: DeviceBaseline,
        last_window: [u32; 8],
    ) -> bool {
        match self.devices.entry(device) {
            std::collections::hash_map::Entry::Occupied(_) => false,
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(DeviceState { baseline, last_window });
                true
            }
        }
    }

    /// Restores a cohort's learned destinations from a snapshot; false when it is already there.
    pub(crate) fn restore_cohort(&mut self, cohort: u64, destinations: HashSet<u32>) -> bool {
        match self.cohorts.entry(cohort) {
            std::collections::hash_map::Entry::Occupied(_) => false,
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(destinations);
                true
            }
        }
    }

    /// Any observation.
    pub fn observe(&mut self, observation: &Observation, out: &mut Vec<Detection>) {
        match observation {
            Observation::Flow(o) => self.observe_flow(o, out),
            Observation::Dns(o) => self.observe_dns(o, out),
            Observation::Signalling(o) => self.observe_signalling(o, out),
            Observation::Imei(o) => self.observe_imei(o, out),
        }
    }

    fn state<'a>(
        devices: &'a mut HashMap<DeviceKey, DeviceState>,
        device: &DeviceKey,
        at: UnixMs,
    ) -> &'a mut DeviceState {
        if !devices.contains_key(device) {
            devices.insert(device.clone(), DeviceState { baseline: DeviceBaseline::new(at), last_window: [0; 8] });
        }
        let state = devices.get_mut(device).expect("inserted above");
        state.baseline.last_seen = state.baseline.last_seen.max(at);
        state
    }

    /// The bytes and flows thresholds of a device's current hour.
    fn volume_thresholds(cfg: &EngineConfig, b: &DeviceBaseline) -> (f64, f64) {
        let mut bytes = cfg.spike_min_bytes as f64;
        let mut flows = f64::from(cfg.spike_min_flows);
        bytes = bytes.max(cfg.spike_peak_ratio * f64::from(b.peak_hour_bytes));
        flows = flows.max(cfg.spike_peak_ratio * f64::from(b.peak_hour_flows));
        if b.bytes_per_hour.count() >= 3 {
            bytes = bytes.max(b.bytes_per_hour.mean() + cfg.spike_sigmas * b.bytes_per_hour.sd());
            flows = flows.max(b.flows_per_hour.mean() + cfg.spike_sigmas * b.flows_per_hour.sd());
        }
        (bytes, flows)
    }

    fn roll_window(cfg: &EngineConfig, b: &mut DeviceBaseline, at: UnixMs) {
        let len = cfg.short_window_ms.max(1);
        if at >= b.window.start.saturating_add(len) || at < b.window.start {
            b.window.restart(at - at % len);
        }
    }

    /// A flow.
    pub fn observe_flow(&mut self, f: &FlowObservation, out: &mut Vec<Detection>) {
        let cfg = &self.cfg;
        let state = Self::state(&mut self.devices, &f.device, f.at);
        let b = &mut state.baseline;
        let (clip, _) = Self::volume_thresholds(cfg, b);
        b.roll_hour(f.at, clip);
        Self::roll_window(cfg, b, f.at);
        let learned = b.learned(f.at, cfg.learning_ms);
        b.mark_active(f.at);
        b.hour_bytes = b.hour_bytes.saturating_add(f.octets_up.saturating_add(f.octets_down));
        b.hour_bytes_up = b.hour_bytes_up.saturating_add(f.octets_up);
        b.hour_flows = b.hour_flows.saturating_add(1);

        if let Some(indicator) = self.intel.match_ip(f.remote) {
            let evidence = Evidence::ThreatIntel {
                indicator: indicator.value.to_string(),
                stix_id: indicator.stix_id.clone(),
                remote: Some(f.remote),
                port: Some(f.remote_port),
            };
            emit(cfg, &mut state.last_window, &f.device, DetectionKind::ThreatIntel, f.at, 1.0, evidence, out);
        }

        let service = u32::from(f.proto) << 16 | u32::from(f.remote_port);
        let new_service = !b.services.contains(service) && !b.hosts_overflow.contains(u64::from(service) | 1 << 40);
        if let Some(false) =
            self.allowlist.as_ref().and_then(|a| a.permits(&f.device, f.remote, f.remote_port, f.proto))
        {
            let evidence = Evidence::NewDestination {
                remote: f.remote,
                port: f.remote_port,
                proto: f.proto,
                outside: Outside::Allowlist,
                new_service,
            };
            emit(cfg, &mut state.last_window, &f.device, DetectionKind::NewDestination, f.at, 0.8, evidence, out);
        }

        let cohort_key = || {
            baseline::mix64(
                baseline::hash_bytes(f.device.tenant.as_bytes())
                    ^ baseline::hash_bytes(f.device.profile.as_bytes()).rotate_left(17),
            )
        };
        let host = host_key(f.remote);
        if !learned {
            b.learn_destination(f.remote);
            let cohort = self.cohorts.entry(cohort_key()).or_default();
            if cohort.len() < cfg.cohort_destinations {
                cohort.insert(host);
                cohort.insert(baseline::prefix_key(f.remote) ^ 0x8000_0000);
            }
        } else if !b.knows_destination(f.remote) {
            let cohort_knows = self
                .cohorts
                .get(&cohort_key())
                .is_some_and(|c| c.contains(&host) || c.contains(&(baseline::prefix_key(f.remote) ^ 0x8000_0000)));
            if !cohort_knows {
                let evidence = Evidence::NewDestination {
                    remote: f.remote,
                    port: f.remote_port,
                    proto: f.proto,
                    outside: Outside::Baseline,
                    new_service,
                };
                let score = if new_service { 0.75 } else { 0.6 };
                emit(cfg, &mut state.last_window, &f.device, DetectionKind::NewDestination, f.at, score, evidence, out);
            }
            // Acknowledged: the same destination is not reported again.
            b.learn_destination(f.remote);
        }
        b.learn_service(f.proto, f.remote_port);

        let w = &mut b.window;
        w.hosts.insert(u64::from(host));
        w.services.insert(u64::from(service));
        if f.proto == proto::TCP && (f.remote_port == 23 || f.remote_port == 2323) {
            w.telnet_hosts.insert(u64::from(host));
        }
        let (hosts, services, telnet) = (w.hosts.estimate(), w.services.estimate(), w.telnet_hosts.estimate());
        let ratios = [
            hosts / f64::from(cfg.scan_hosts.max(1)),
            services / f64::from(cfg.scan_services.max(1)),
            telnet / f64::from(cfg.scan_telnet_hosts.max(1)),
        ];
        let worst = ratios.iter().copied().fold(0.0, f64::max);
        if worst >= 1.0 {
            let score = excess_score(worst, 1.0).max(if ratios[2] >= 1.0 { 0.9 } else { 0.0 });
            let evidence = Evidence::Scanning {
                hosts: hosts.round() as u32,
                services: services.round() as u32,
                telnet_hosts: telnet.round() as u32,
                window_ms: cfg.short_window_ms,
            };
            emit(cfg, &mut state.last_window, &f.device, DetectionKind::Scanning, f.at, score, evidence, out);
        }

        if learned {
            let (tb, tf) = Self::volume_thresholds(cfg, b);
            let (bytes, flows) = (b.hour_bytes as f64, f64::from(b.hour_flows));
            if bytes > tb || flows > tf {
                b.hour_spiked = true;
                let score = excess_score(bytes, tb).max(excess_score(flows, tf));
                let evidence = Evidence::VolumeSpike {
                    bytes: b.hour_bytes,
                    flows: b.hour_flows,
                    bytes_threshold: tb as u64,
                    flows_threshold: tf as u32,
                    mean_bytes_per_hour: b.bytes_per_hour.mean() as u64,
                };
                emit(cfg, &mut state.last_window, &f.device, DetectionKind::VolumeSpike, f.at, score, evidence, out);
            }
        }
    }

    /// A DNS query.
    pub fn observe_dns(&mut self, q: &DnsObservation, out: &mut Vec<Detection>) {
        let cfg = &self.cfg;
        let state = Self::state(&mut self.devices, &q.device, q.at);
        let b = &mut state.baseline;
        Self::roll_window(cfg, b, q.at);
        if let Some(indicator) = self.intel.match_domain(&q.name) {
            let evidence = Evidence::ThreatIntel {
                indicator: indicator.value.to_string(),
                stix_id: indicator.stix_id.clone(),
                remote: None,
                port: None,
            };
            emit(cfg, &mut state.last_window, &q.device, DetectionKind::ThreatIntel, q.at, 1.0, evidence, out);
        }
        let (sub, base) = split_base_domain(&q.name);
        let (entropy, sub_len) = label_entropy(sub);
        let longest_label = sub.split('.').map(str::len).max().unwrap_or(0);
        let suspicious =
            (sub_len >= cfg.dns_suspicious_length && entropy >= cfg.dns_suspicious_entropy) || longest_label >= 52;
        // A device that usually gets many NXDOMAINs needs more to count as DGA; the ratio it had before
        // this query is the one that counts, and only once it was learned.
        let usual_nxdomain = if b.learned(q.at, cfg.learning_ms) { b.dns_nxdomain_ratio.mean() } else { 0.0 };
        b.dns_nxdomain_ratio.update(if q.nxdomain { 1.0 } else { 0.0 }, 0.02);
        if !sub.is_empty() {
            b.dns_entropy.update(entropy, 0.02);
        }
        let base_hash = (baseline::hash_lowercase(base) >> 32) as u32 | 1;
        let _ = b.dns_bases.insert(base_hash);

        let w = &mut b.window;
        w.dns_queries = w.dns_queries.saturating_add(1);
        w.dns_nxdomain = w.dns_nxdomain.saturating_add(u16::from(q.nxdomain));
        w.dns_suspicious = w.dns_suspicious.saturating_add(u16::from(suspicious));
        let slot = w
            .dns_bases
            .iter()
            .position(|(h, _)| *h == base_hash)
            .or_else(|| w.dns_bases.iter().position(|(h, _)| *h == 0));
        if let Some(slot) = slot {
            w.dns_bases[slot].0 = base_hash;
            if !sub.is_empty() {
                w.dns_bases[slot].1.insert(baseline::hash_lowercase(sub));
            }
        }
        let subdomains = w.dns_bases.iter().map(|(_, c)| c.estimate()).fold(0.0, f64::max);
        let (queries, nx) = (f64::from(w.dns_queries), f64::from(w.dns_nxdomain));
        let nx_ratio_needed = cfg.dns_nxdomain_ratio.max(usual_nxdomain + 0.3).min(0.95);
        let rule = if subdomains >= f64::from(cfg.dns_subdomains) {
            Some(("subdomains", excess_score(subdomains, f64::from(cfg.dns_subdomains))))
        } else if u32::from(w.dns_suspicious) >= cfg.dns_suspicious_names {
            Some(("entropy", excess_score(f64::from(w.dns_suspicious), f64::from(cfg.dns_suspicious_names))))
        } else if nx >= f64::from(cfg.dns_nxdomain_min) && nx / queries >= nx_ratio_needed {
            Some(("nxdomain", excess_score(nx, f64::from(cfg.dns_nxdomain_min))))
        } else {
            None
        };
        if let Some((rule, score)) = rule {
            let evidence = Evidence::DnsTunnelling {
                queries: u32::from(w.dns_queries),
                nxdomain: u32::from(w.dns_nxdomain),
                suspicious_names: u32::from(w.dns_suspicious),
                distinct_subdomains: subdomains.round() as u32,
                base_domain: base.to_ascii_lowercase(),
                rule,
            };
            emit(cfg, &mut state.last_window, &q.device, DetectionKind::DnsTunnelling, q.at, score, evidence, out);
        }
    }

    /// A signalling request.
    pub fn observe_signalling(&mut self, s: &SignallingObservation, out: &mut Vec<Detection>) {
        let cfg = &self.cfg;
        let state = Self::state(&mut self.devices, &s.device, s.at);
        let b = &mut state.baseline;
        let (clip, _) = Self::volume_thresholds(cfg, b);
        b.roll_hour(s.at, clip);
        b.hour_signalling = b.hour_signalling.saturating_add(1);
        b.hour_signalling_rejected = b.hour_signalling_rejected.saturating_add(u32::from(s.rejected));
        let mut threshold = f64::from(cfg.signalling_per_hour);
        if b.learned(s.at, cfg.learning_ms) {
            threshold = threshold.max(cfg.signalling_peak_ratio * f64::from(b.peak_hour_signalling));
        }
        if f64::from(b.hour_signalling) > threshold {
            b.hour_spiked = true;
            let evidence = Evidence::ExcessiveSignalling {
                requests: b.hour_signalling,
                rejected: b.hour_signalling_rejected,
                threshold: threshold as u32,
            };
            let score = excess_score(f64::from(b.hour_signalling), threshold);
            emit(
                cfg,
                &mut state.last_window,
                &s.device,
                DetectionKind::ExcessiveSignalling,
                s.at,
                score,
                evidence,
                out,
            );
        }
    }

    /// An IMEI presented by the SIM.
    pub fn observe_imei(&mut self, i: &ImeiObservation, out: &mut Vec<Detection>) {
        let Some(key) = imei_key(&i.imei) else { return };
        let cfg = &self.cfg;
        let state = Self::state(&mut self.devices, &i.device, i.at);
        let b = &mut state.baseline;
        if b.last_imei != 0 && b.last_imei != key {
            b.imei_changes = b.imei_changes.saturating_add(1);
            let (previous_tac, tac) = ((b.last_imei / 1_000_000) as u32, (key / 1_000_000) as u32);
            // Another model is a SIM moved into another kind of device; the same model is more often a
            // replacement unit.
            let score = if previous_tac != tac { 0.9 } else { 0.6 };
            let evidence = Evidence::ImeiChange { previous_tac, tac, changes: b.imei_changes };
            emit(cfg, &mut state.last_window, &i.device, DetectionKind::ImeiChange, i.at, score, evidence, out);
        }
        b.last_imei = key;
    }

    /// The cohort feature vectors of every device past its learning period at `at`
    /// ([`crate::cohort::features`]), for training and scoring cohort models in the background.
    pub fn cohort_features(&self, at: UnixMs) -> Vec<(DeviceKey, crate::cohort::Features)> {
        self.devices
            .iter()
            .filter(|(_, s)| s.baseline.learned(at, self.cfg.learning_ms))
            .map(|(k, s)| (k.clone(), crate::cohort::features(&s.baseline)))
            .collect()
    }

    /// Raises `cohort_outlier` detections for outliers found by [`crate::cohort::CohortModels::outliers`].
    pub fn report_cohort_outliers(
        &mut self,
        outliers: &[crate::cohort::Outlier],
        at: UnixMs,
        out: &mut Vec<Detection>,
    ) {
        for o in outliers {
            let Some(state) = self.devices.get_mut(&o.device) else { continue };
            let evidence =
                Evidence::CohortOutlier { score: o.score, threshold: o.threshold, cohort_size: o.cohort_size };
            emit(
                &self.cfg,
                &mut state.last_window,
                &o.device,
                DetectionKind::CohortOutlier,
                at,
                o.score,
                evidence,
                out,
            );
        }
    }
}

#[cfg(test)]
pub(crate) mod tests;
