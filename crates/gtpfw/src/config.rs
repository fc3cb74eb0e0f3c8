//! The declarative configuration of the GTP-C firewall (`[gtp]` in `warden serve`'s file): listener,
//! upstream P-GW, home network, partner registry, budgets, overload and rule modes. Checked and
//! compiled into [`crate::rules::Rules`].

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use serde::Deserialize;

/// `[gtp]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GtpConfig {
    /// Where partners' S-GWs/SGSNs send GTP-C (loopback by default).
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// The protected P-GW/GGSN.
    #[serde(default = "default_upstream")]
    pub upstream: SocketAddr,
    /// The home network.
    pub home: HomeNetwork,
    /// The partner registry; a source address not listed is dropped.
    #[serde(default)]
    pub partners: Vec<PartnerEntry>,
    /// Mode per rule id: `"enforce"` (default), `"detect"` (count and report, let pass) or `"off"`.
    #[serde(default)]
    pub rules: BTreeMap<String, String>,
    /// Per-subscriber budgets.
    #[serde(default)]
    pub budgets: BudgetConfig,
    /// The P-GW's capacity and overload control.
    #[serde(default)]
    pub overload: OverloadConfig,
    /// Device priorities by IMSI prefix (the subscriber store's priorities come first).
    #[serde(default)]
    pub priority: PriorityConfig,
    /// A Create Session from a network the subscriber left less than this many seconds ago (by its
    /// S6a registration) still passes: the move and the session set-up race.
    #[serde(default = "default_grace")]
    pub registration_grace_secs: u64,
    /// How long a relayed request waits for its response before it is forgotten (its response is
    /// then unexpected), milliseconds.
    #[serde(default = "default_request_timeout")]
    pub request_timeout_ms: u64,
    /// Requests of one partner waiting for a response at once; more are dropped (sequence floods).
    #[serde(default = "default_max_pending")]
    pub max_pending_per_partner: usize,
    /// Subscribers whose per-IMSI budget is kept at once.
    #[serde(default = "default_max_subscribers")]
    pub max_subscribers: usize,
    /// How long a request waits for its subscriber's view to be read from the store (a cache miss)
    /// before it is refused with "No resources available" (`lookup-timeout`), milliseconds.
    #[serde(default = "default_lookup_timeout")]
    pub lookup_timeout_ms: u64,
    /// Requests waiting for a subscriber's view at once; more are refused at once (`lookup-timeout`).
    #[serde(default = "default_max_parked")]
    pub max_parked: usize,
    /// Tasks receiving from partners on the listener (each reads batches of datagrams).
    #[serde(default = "default_workers")]
    pub workers: usize,
    /// What happens to a device that keeps exceeding its set-up budget (`warden serve`).
    #[serde(default)]
    pub offenders: OffenderConfig,
}

/// `[gtp.offenders]`: a device refused by `imsi-rate` at least `refusals` times within
/// `window_secs` gets `action`, through the same use case an operator's API call runs (audited, an
/// event in the feed, undone the same way). Critical devices never.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OffenderConfig {
    /// `"none"` (default), `"bar-data"` (Operator-Determined-Barring of packet data) or
    /// `"profile"` (move the SIM to `profile`).
    #[serde(default = "default_offender_action")]
    pub action: String,
    /// The restrictive service profile for `action = "profile"`.
    #[serde(default)]
    pub profile: Option<String>,
    /// Budget refusals that make a device an offender.
    #[serde(default = "default_offender_refusals")]
    pub refusals: u32,
    /// Within this many seconds.
    #[serde(default = "default_offender_window")]
    pub window_secs: u64,
}

impl Default for OffenderConfig {
    fn default() -> Self {
        OffenderConfig {
            action: default_offender_action(),
            profile: None,
            refusals: default_offender_refusals(),
            window_secs: default_offender_window(),
        }
    }
}

fn default_offender_action() -> String {
    "none".into()
}

fn default_offender_refusals() -> u32 {
    20
}

fn default_offender_window() -> u64 {
    600
}

fn default_lookup_timeout() -> u64 {
    1000
}

fn default_max_parked() -> usize {
    10_000
}

fn default_workers() -> usize {
    2
}

/// `[gtp.home]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HomeNetwork {
    /// Home PLMN ids (`"00101"`), for reference in reports.
    #[serde(default)]
    pub plmns: Vec<String>,
    /// IMSI prefixes of home subscribers: the IMSI of a Create Session / Create PDP Context must
    /// start with one.
    pub imsi_prefixes: Vec<String>,
}

/// `[[gtp.partners]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartnerEntry {
    /// Name in metrics and events.
    pub name: String,
    /// Its PLMN ids (`"26201"`): a Serving Network must be one of them.
    pub plmns: Vec<String>,
    /// Source addresses of its S-GWs/SGSNs (GTP-C); datagrams from any other address are dropped.
    pub addresses: Vec<IpAddr>,
    /// `"s8"` (GTPv2-C, default) or `"gp"` (GTPv1-C).
    #[serde(default = "default_interface")]
    pub interface: String,
    /// Session set-ups (Create Session / Create PDP Context) per second; burst one second's worth.
    #[serde(default = "default_setup_rate")]
    pub setup_rate_per_sec: f64,
    /// Tunnels (PDN connections) it may hold at the P-GW at once.
    #[serde(default = "default_max_tunnels")]
    pub max_tunnels: usize,
    /// It supports GTP-C overload control (TS 29.274 §12.3): responses toward it carry the P-GW's
    /// Overload Control Information while the firewall sheds.
    #[serde(default)]
    pub overload_control: bool,
    /// Message types it may send (numbers), replacing the interface's default allowlist.
    #[serde(default)]
    pub allow: Option<Vec<u8>>,
}

/// `[gtp.budgets]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BudgetConfig {
    /// Session set-ups one IMSI may make per minute (non-critical devices).
    #[serde(default = "default_imsi_rate")]
    pub imsi_setups_per_min: f64,
    /// Burst of the per-IMSI budget.
    #[serde(default = "default_imsi_burst")]
    pub imsi_burst: f64,
}

impl Default for BudgetConfig {
    fn default() -> Self {
        Self { imsi_setups_per_min: default_imsi_rate(), imsi_burst: default_imsi_burst() }
    }
}

/// `[gtp.overload]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OverloadConfig {
    /// Requests per second the P-GW takes (every request except Echo passes this door). No second
    /// (sliding) sees more.
    #[serde(default = "default_capacity")]
    pub capacity_per_sec: f64,
    /// The door's burst as a share of a second's capacity.
    #[serde(default = "default_burst_share")]
    pub burst_share: f64,
    /// Share of the burst only critical devices may use.
    #[serde(default = "default_reserve")]
    pub critical_reserve: f64,
    /// Share of the burst low-priority devices leave to standard ones.
    #[serde(default = "default_headroom")]
    pub low_headroom: f64,
    /// PGW Back-Off Time sent with "APN congestion", seconds (rounded to the EPC Timer's units).
    #[serde(default = "default_backoff")]
    pub backoff_secs: u32,
    /// Period of validity of Overload Control Information, seconds.
    #[serde(default = "default_validity")]
    pub validity_secs: u32,
}

impl Default for OverloadConfig {
    fn default() -> Self {
        Self {
            capacity_per_sec: default_capacity(),
            burst_share: default_burst_share(),
            critical_reserve: default_reserve(),
            low_headroom: default_headroom(),
            backoff_secs: default_backoff(),
            validity_secs: default_validity(),
        }
    }
}

/// `[gtp.priority]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriorityConfig {
    /// IMSI prefixes of critical devices.
    #[serde(default)]
    pub critical: Vec<String>,
    /// IMSI prefixes of low-priority devices.
    #[serde(default)]
    pub low: Vec<String>,
}

impl GtpConfig {
    /// Parses a TOML document holding the fields of `[gtp]` at the top level.
    pub fn from_toml(text: &str) -> Result<Self, toml::de::Error> {
        toml::from_str(text)
    }
}

fn default_listen() -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 2123)
}
fn default_upstream() -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 2124)
}
fn default_interface() -> String {
    "s8".into()
}
fn default_setup_rate() -> f64 {
    100.0
}
fn default_max_tunnels() -> usize {
    100_000
}
fn default_imsi_rate() -> f64 {
    10.0
}
fn default_imsi_burst() -> f64 {
    5.0
}
fn default_capacity() -> f64 {
    1000.0
}
fn default_burst_share() -> f64 {
    0.02
}
fn default_reserve() -> f64 {
    0.5
}
fn default_headroom() -> f64 {
    0.1
}
fn default_backoff() -> u32 {
    60
}
fn default_validity() -> u32 {
    10
}
fn default_grace() -> u64 {
    10
}
fn default_request_timeout() -> u64 {
    5000
}
fn default_max_pending() -> usize {
    10_000
}
fn default_max_subscribers() -> usize {
    1_000_000
}
