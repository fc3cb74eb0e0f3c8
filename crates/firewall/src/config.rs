//! The firewall's TOML configuration (`[firewall]` in `warden.toml`, or a file of its own): identity,
//! listener and upstream, the partner registry, the home network, rule modes and answers, budgets,
//! overload control, steering and priorities. Every field has a default except the partners and the
//! home network. [`crate::rules::Rules::compile`] checks it and turns it into lookup tables.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

use serde::Deserialize;

/// The whole firewall configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FirewallConfig {
    /// Where partners connect (loopback by default; a public address needs partners configured).
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// The protected HSS. `None`: the caller's default (`warden serve` uses its own Diameter listener).
    #[serde(default)]
    pub upstream: Option<SocketAddr>,
    /// Diameter connections opened to the upstream HSS.
    #[serde(default = "default_upstream_connections")]
    pub upstream_connections: usize,
    /// The firewall's Origin-Host (in CEA, its own answers, and toward the HSS).
    #[serde(default = "default_host")]
    pub origin_host: String,
    /// The firewall's Origin-Realm.
    #[serde(default = "default_realm")]
    pub origin_realm: String,
    /// Largest Diameter message accepted, bytes.
    #[serde(default = "default_max_message")]
    pub max_message_size: u32,
    /// Requests of one partner connection being handled at once; reading pauses at this count.
    #[serde(default = "default_in_flight")]
    pub max_in_flight: usize,
    /// How long the upstream HSS has to answer before the partner gets DIAMETER_UNABLE_TO_DELIVER.
    #[serde(default = "default_request_timeout")]
    pub request_timeout_ms: u64,
    /// Device watchdog interval Tw, seconds (RFC 3539; at least 6).
    #[serde(default = "default_watchdog")]
    pub watchdog_secs: u64,
    /// TLS toward partners (TLS from the first byte, RFC 6733 §13).
    #[serde(default)]
    pub tls: Option<TlsConfig>,
    /// Application ids partners may use (default: S6a only; add 16777252 for S13).
    #[serde(default = "default_applications")]
    pub applications: Vec<u32>,
    /// Commands partners may send toward the HSS, by abbreviation. CLR, IDR, DSR and RSR are refused here.
    #[serde(default = "default_inbound")]
    pub inbound_commands: Vec<String>,
    /// Partner nodes' Origin-Host must lie in their Origin-Realm (`mme1.<realm>`), at CER and in
    /// every request. Turn off for partners whose node names are outside their Diameter realm.
    #[serde(default = "default_true")]
    pub host_in_realm: bool,
    /// The home network.
    pub home: HomeConfig,
    /// The partner registry.
    #[serde(default)]
    pub partners: Vec<PartnerConfig>,
    /// Mode per rule id: `"enforce"` (default), `"detect"` (count and report, let pass) or `"off"`.
    #[serde(default)]
    pub rules: BTreeMap<String, String>,
    /// Answer per rule id, overriding the documented default.
    #[serde(default)]
    pub answers: BTreeMap<String, AnswerConfig>,
    /// Location plausibility (velocity).
    #[serde(default)]
    pub velocity: VelocityConfig,
    /// Per-IMSI and per-partner budgets.
    #[serde(default)]
    pub budgets: BudgetConfig,
    /// Overload control and DOIC.
    #[serde(default)]
    pub overload: OverloadConfig,
    /// Security-based steering of roaming.
    #[serde(default)]
    pub steering: SteeringConfig,
    /// Device priorities.
    #[serde(default)]
    pub priority: PriorityConfig,
    /// What sinkholed partners get.
    #[serde(default)]
    pub sinkhole: SinkholeConfig,
    /// Decision events kept in memory (the newest).
    #[serde(default = "default_events")]
    pub event_capacity: usize,
    /// Subscribers whose state (registration, budget) is kept; the oldest are dropped past this.
    #[serde(default = "default_max_subscribers")]
    pub max_subscribers: usize,
}

impl FirewallConfig {
    /// Parses a TOML document holding the fields of `[firewall]` at the top level.
    pub fn from_toml(text: &str) -> Result<Self, toml::de::Error> {
        toml::from_str(text)
    }
}

fn default_listen() -> SocketAddr {
    "127.0.0.1:3869".parse().expect("address")
}
fn default_upstream_connections() -> usize {
    2
}
fn default_host() -> String {
    "firewall.warden.localdomain".into()
}
fn default_realm() -> String {
    "warden.localdomain".into()
}
fn default_max_message() -> u32 {
    64 * 1024
}
fn default_in_flight() -> usize {
    1024
}
fn default_request_timeout() -> u64 {
    5000
}
fn default_watchdog() -> u64 {
    30
}
fn default_applications() -> Vec<u32> {
    vec![diameter::dictionary::app::S6A]
}
fn default_inbound() -> Vec<String> {
    ["AIR", "ULR", "PUR", "NOR"].map(String::from).to_vec()
}
fn default_events() -> usize {
    1024
}
fn default_max_subscribers() -> usize {
    1_000_000
}

/// TLS toward partners (`[firewall.tls]`): the same section as `[diameter.tls]`; with
/// `client_ca_file`, partners' client certificates must chain to those CAs (mutual TLS).
pub use diameter::transport::TlsConfig;

/// The home network the firewall protects.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HomeConfig {
    /// Realms partners may address (Destination-Realm).
    pub realms: Vec<String>,
    /// Home PLMN ids (`"00101"`, MCC then MNC): a Visited-PLMN-Id among them is not roaming.
    #[serde(default)]
    pub plmns: Vec<String>,
    /// IMSI prefixes of home subscribers (User-Name must start with one).
    pub imsi_prefixes: Vec<String>,
}

/// One roaming partner.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartnerConfig {
    /// Name used in metrics and events.
    pub name: String,
    /// Origin-Host values of its MMEs/SGSNs (and DEAs) that may connect and originate requests.
    pub origin_hosts: Vec<String>,
    /// Its realms.
    pub realms: Vec<String>,
    /// Its PLMN ids (`"26201"`).
    pub plmns: Vec<String>,
    /// Source addresses it connects from; empty: any.
    #[serde(default)]
    pub addresses: Vec<IpAddr>,
    /// Requests per second it may send (non-critical devices); absent: no partner budget.
    #[serde(default)]
    pub rate_per_sec: Option<f64>,
    /// Burst of the partner budget (default: one second's worth).
    #[serde(default)]
    pub burst: Option<f64>,
    /// Sinkhole everything it sends (an attacking peer).
    #[serde(default)]
    pub sinkhole: bool,
}

/// An answer: exactly one of `result_code` or `experimental_result_code`.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct AnswerConfig {
    /// A Result-Code (RFC 6733 §7.1; 3xxx go with the E bit).
    #[serde(default)]
    pub result_code: Option<u32>,
    /// An Experimental-Result-Code with Vendor-Id 10415 (TS 29.272 §7.4.3).
    #[serde(default)]
    pub experimental_result_code: Option<u32>,
}

/// `[velocity]`: a subscriber cannot register in two countries (MCC) closer in time than this.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VelocityConfig {
    /// Minimum minutes between registrations in two different countries.
    #[serde(default = "default_velocity")]
    pub min_minutes: f64,
    /// Exceptions for pairs of countries (neighbours: shorter).
    #[serde(default)]
    pub pairs: Vec<VelocityPair>,
}

impl Default for VelocityConfig {
    fn default() -> Self {
        Self { min_minutes: default_velocity(), pairs: Vec::new() }
    }
}

fn default_velocity() -> f64 {
    60.0
}

/// A pair of MCCs with its own minimum (either direction).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VelocityPair {
    /// The two MCCs, e.g. `["262", "208"]`.
    pub mcc: [String; 2],
    /// Minimum minutes between them.
    pub min_minutes: f64,
}

/// `[budgets]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BudgetConfig {
    /// Requests per second one IMSI may cause (sustained).
    #[serde(default = "default_imsi_rate")]
    pub imsi_rate_per_sec: f64,
    /// Burst one IMSI may cause.
    #[serde(default = "default_imsi_burst")]
    pub imsi_burst: f64,
}

impl Default for BudgetConfig {
    fn default() -> Self {
        Self { imsi_rate_per_sec: default_imsi_rate(), imsi_burst: default_imsi_burst() }
    }
}

fn default_imsi_rate() -> f64 {
    0.5
}
fn default_imsi_burst() -> f64 {
    10.0
}

/// `[overload]`: what the protected HSS can take.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OverloadConfig {
    /// Requests per second the HSS is given at most (the global budget).
    #[serde(default = "default_capacity")]
    pub capacity_per_sec: f64,
    /// Burst of the global budget (default: 1/20 of a second's capacity).
    #[serde(default)]
    pub burst: Option<f64>,
    /// Requests outstanding at the HSS above which (× `high_water`) it counts as slow: low-priority
    /// devices are refused and DOIC reports a reduction.
    #[serde(default = "default_upstream_in_flight")]
    pub max_in_flight: usize,
    /// Smoothed HSS answer time above which it counts as slow (as `max_in_flight`), milliseconds.
    #[serde(default = "default_latency")]
    pub max_latency_ms: f64,
    /// Offered rate, as a fraction of the capacity, above which DOIC reports a reduction (admission
    /// does not look at the offered rate); also the fraction of `max_in_flight` that counts as slow.
    #[serde(default = "default_high_water")]
    pub high_water: f64,
    /// Share of the global burst only critical devices may use.
    #[serde(default = "default_reserve")]
    pub critical_reserve: f64,
    /// Share of the global burst low-priority devices leave to standard ones: a low-priority device
    /// is admitted only while the budget holds this much more than a standard one needs, so that
    /// standard devices come first and low-priority ones get what they leave.
    #[serde(default = "default_low_headroom")]
    pub low_headroom: f64,
    /// OC-Validity-Duration of the overload reports sent to DOIC partners, seconds.
    #[serde(default = "default_validity")]
    pub doic_validity_secs: u32,
}

impl Default for OverloadConfig {
    fn default() -> Self {
        toml::from_str("").expect("defaults")
    }
}

fn default_capacity() -> f64 {
    20_000.0
}
fn default_upstream_in_flight() -> usize {
    2048
}
fn default_latency() -> f64 {
    200.0
}
fn default_high_water() -> f64 {
    0.9
}
fn default_reserve() -> f64 {
    0.5
}
fn default_low_headroom() -> f64 {
    0.25
}
fn default_validity() -> u32 {
    5
}

/// `[steering]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SteeringConfig {
    /// Visited PLMNs judged risky by hand.
    #[serde(default)]
    pub risky_plmns: Vec<String>,
    /// Mark a visited PLMN risky automatically when the failure ratio of its AIR/ULR answers is high.
    #[serde(default = "default_true")]
    pub auto: bool,
    /// Failure ratio (0–1) that makes a PLMN risky.
    #[serde(default = "default_failure_ratio")]
    pub failure_ratio: f64,
    /// Answers needed in a window before the ratio counts.
    #[serde(default = "default_min_samples")]
    pub min_samples: u32,
    /// Window over which failures are counted, seconds.
    #[serde(default = "default_window")]
    pub window_secs: u64,
    /// How long an automatically marked PLMN stays risky, seconds.
    #[serde(default = "default_hold")]
    pub hold_secs: u64,
    /// A critical device rejected this many times within the rescue window is admitted anyway.
    #[serde(default = "default_rescue_after")]
    pub critical_rescue_after: u32,
    /// The rescue window, seconds.
    #[serde(default = "default_rescue_window")]
    pub critical_rescue_window_secs: u64,
}

impl Default for SteeringConfig {
    fn default() -> Self {
        toml::from_str("").expect("defaults")
    }
}

fn default_true() -> bool {
    true
}
fn default_failure_ratio() -> f64 {
    0.5
}
fn default_min_samples() -> u32 {
    100
}
fn default_window() -> u64 {
    60
}
fn default_hold() -> u64 {
    900
}
fn default_rescue_after() -> u32 {
    3
}
fn default_rescue_window() -> u64 {
    900
}

/// `[priority]`: devices not listed are standard.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriorityConfig {
    /// IMSI prefixes of critical devices.
    #[serde(default)]
    pub critical_imsi_prefixes: Vec<String>,
    /// Critical IMSIs.
    #[serde(default)]
    pub critical_imsis: Vec<String>,
    /// IMSI prefixes of low-priority devices.
    #[serde(default)]
    pub low_imsi_prefixes: Vec<String>,
    /// Low-priority IMSIs.
    #[serde(default)]
    pub low_imsis: Vec<String>,
}

/// `[sinkhole]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SinkholeConfig {
    /// `"drop"`: read and discard every request (the partner sees timeouts); `"answer"`: answer every
    /// request with the `sinkhole` answer (default DIAMETER_UNABLE_TO_COMPLY), whatever it is.
    #[serde(default = "default_sinkhole_mode")]
    pub mode: String,
}

impl Default for SinkholeConfig {
    fn default() -> Self {
        Self { mode: default_sinkhole_mode() }
    }
}

fn default_sinkhole_mode() -> String {
    "drop".into()
}
