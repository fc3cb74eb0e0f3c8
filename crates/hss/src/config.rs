//! HSS settings and the peer registry: which MMEs may connect and which subscribers each may ask
//! about (ROAM-1: a partner may not query another operator's subscribers).
//!
//! The `[diameter]`, `[sqn]`, `[eir]` and `[subscription]` sections of `warden.toml` deserialize
//! straight into [`DiameterConfig`], [`SqnConfig`], [`EirConfig`] and [`SubscriptionConfig`]; every
//! default is written once, as the serde default of its field, and each section's `Default` is what
//! an empty section gives. [`HssConfig`] is the sections together with what only a program sets.

use std::net::{IpAddr, SocketAddr};

use diameter::peer::{PeerAuthorizer, PeerIdentity};
use serde::de::DeserializeOwned;
use serde::Deserialize;

/// What an empty section gives: every field at its serde default.
fn defaults<T: DeserializeOwned>() -> T {
    let empty =
        serde::de::value::MapDeserializer::<_, serde::de::value::Error>::new(std::iter::empty::<(&str, &str)>());
    T::deserialize(empty).expect("every field of a section has a default")
}

/// A configuration value the HSS cannot work with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// Tw below the RFC 3539 minimum.
    #[error("diameter.watchdog_secs must be at least 6 (RFC 3539), not {0}")]
    WatchdogTooShort(u64),
    /// A relay named by an empty Origin-Host.
    #[error("diameter.relays: an Origin-Host may not be empty")]
    EmptyRelay,
    /// An IMSI prefix of a peer that is not all digits.
    #[error("peer {peer}: IMSI prefix {prefix:?} must be digits")]
    ImsiPrefix {
        /// The peer's Origin-Host.
        peer: String,
        /// The prefix.
        prefix: String,
    },
}

/// One configured Diameter peer (`[[diameter.peers]]`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeerRule {
    /// Its Origin-Host.
    pub origin_host: String,
    /// Its Origin-Realm.
    pub origin_realm: String,
    /// Source addresses it may connect from (empty: any).
    #[serde(default)]
    pub addresses: Vec<IpAddr>,
    /// IMSI prefixes it may ask about (empty: none).
    #[serde(default)]
    pub imsi_prefixes: Vec<String>,
    /// The Diameter applications it may use: `s6a` and `s13` (an MME, the default), `gx` (a PCEF:
    /// P-GW or SMF), `sgd` (an MME forwarding short messages, with `[sms] sgd = true`). A request of another application is answered DIAMETER_APPLICATION_UNSUPPORTED.
    #[serde(default = "default_applications")]
    pub applications: Vec<PeerApplication>,
}

/// A Diameter application a configured peer may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PeerApplication {
    /// S6a/S6d (TS 29.272), application 16777251.
    S6a,
    /// S13/S13' (TS 29.272), application 16777252.
    S13,
    /// Gx (TS 29.212), application 16777238.
    Gx,
    /// SGd (TS 29.338), application 16777313: an MME forwarding short messages.
    Sgd,
}

impl PeerApplication {
    /// The application id.
    pub fn id(self) -> u32 {
        match self {
            Self::S6a => diameter::dictionary::app::S6A,
            Self::S13 => diameter::dictionary::app::S13,
            Self::Gx => GX_APPLICATION_ID,
            Self::Sgd => diameter::dictionary::app::SGD,
        }
    }
}

/// Gx's application id (TS 29.212 §5.1).
pub const GX_APPLICATION_ID: u32 = 16_777_238;

fn default_applications() -> Vec<PeerApplication> {
    vec![PeerApplication::S6a, PeerApplication::S13]
}

/// `[diameter]`: the HSS's Diameter server and its peers.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiameterConfig {
    /// Listen address (loopback by default).
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// Our Origin-Host.
    #[serde(default = "default_host")]
    pub origin_host: String,
    /// Our Origin-Realm.
    #[serde(default = "default_realm")]
    pub origin_realm: String,
    /// Most vectors returned for one AIR.
    #[serde(default = "default_max_vectors")]
    pub max_vectors: u32,
    /// Device watchdog interval Tw in seconds (RFC 3539; at least 6).
    #[serde(default = "default_watchdog")]
    pub watchdog_secs: u64,
    /// Largest Diameter message accepted, bytes.
    #[serde(default = "default_max_message")]
    pub max_message_size: u32,
    /// Requests handled at once per connection.
    #[serde(default = "default_in_flight")]
    pub max_in_flight: usize,
    /// TLS for the listener (`[diameter.tls]`).
    #[serde(default)]
    pub tls: Option<diameter::transport::TlsConfig>,
    /// Peers allowed to connect. Empty: loopback peers only, any subscriber (development).
    #[serde(default)]
    pub peers: Vec<PeerRule>,
    /// Origin-Hosts of the peers that relay requests of other nodes (a roaming firewall, a DEA).
    /// A request on a relay's connection may carry another node's Origin-Host when its Route-Record
    /// path starts at that node; on any other connection the Origin-Host must be the connection's
    /// own identity (from CER). Empty (the default): every connection speaks only for itself.
    /// `warden serve` adds its own `[firewall]` when that forwards to this HSS.
    #[serde(default)]
    pub relays: Vec<String>,
    /// How long a queued CLR/IDR waits for an instance that reaches its serving node, seconds;
    /// then it is given up with a `hss.notification_expired` event.
    #[serde(default = "default_notification_expiry")]
    pub notification_expiry_secs: u64,
    /// Sends of one CLR/IDR tried (the serving node did not answer, or answered "busy") before it is
    /// given up like an expired one.
    #[serde(default = "default_notification_attempts")]
    pub notification_max_attempts: u32,
}

fn default_notification_expiry() -> u64 {
    3600
}
fn default_notification_attempts() -> u32 {
    20
}

impl Default for DiameterConfig {
    fn default() -> Self {
        defaults()
    }
}

impl DiameterConfig {
    /// Checks what serde cannot: Tw's minimum and the IMSI prefixes.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.watchdog_secs < 6 {
            return Err(ConfigError::WatchdogTooShort(self.watchdog_secs));
        }
        for p in &self.peers {
            if let Some(bad) = p.imsi_prefixes.iter().find(|x| x.is_empty() || !x.bytes().all(|b| b.is_ascii_digit())) {
                return Err(ConfigError::ImsiPrefix { peer: p.origin_host.clone(), prefix: bad.clone() });
            }
        }
        if self.relays.iter().any(|r| r.trim().is_empty()) {
            return Err(ConfigError::EmptyRelay);
        }
        Ok(())
    }
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 3868))
}
fn default_host() -> String {
    "hss.warden.localdomain".into()
}
fn default_realm() -> String {
    "warden.localdomain".into()
}
fn default_max_vectors() -> u32 {
    5
}
fn default_watchdog() -> u64 {
    30
}
fn default_max_message() -> u32 {
    64 * 1024
}
fn default_in_flight() -> usize {
    256
}

/// `[sqn]`: SQN layout and reservation. Only valid values exist: the IND length is checked when the
/// section is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "SqnFields")]
pub struct SqnConfig {
    scheme: auc::SqnScheme,
    block: i64,
    allocation: Option<SqnAllocation>,
}

/// `[sqn] allocation`: how SEQ values are reserved (store::Allocation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub enum SqnAllocation {
    /// `"block"`: `block` values per database write, handed out from memory (one instance per database).
    Block,
    /// `"exact"`: every SEQ from the database, batched (several instances on one database).
    Exact,
}

impl TryFrom<String> for SqnAllocation {
    type Error = BadWord;
    fn try_from(s: String) -> Result<Self, BadWord> {
        match s.as_str() {
            "block" => Ok(Self::Block),
            "exact" => Ok(Self::Exact),
            _ => Err(BadWord { key: "sqn.allocation", allowed: "\"exact\" or \"block\"", value: s }),
        }
    }
}

/// `[sqn]` as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SqnFields {
    /// IND length in bits (TS 33.102 Annex C).
    #[serde(default = "default_ind")]
    ind_bits: u8,
    /// SEQ values reserved per database write.
    #[serde(default = "default_block")]
    block: i64,
    /// `"exact"` or `"block"`; unset: exact on PostgreSQL, block on SQLite.
    #[serde(default)]
    allocation: Option<SqnAllocation>,
}

fn default_ind() -> u8 {
    5
}
fn default_block() -> i64 {
    1000
}

/// An IND length the AuC does not accept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("sqn.ind_bits: {0}")]
pub struct SqnError(auc::AucError);

impl TryFrom<SqnFields> for SqnConfig {
    type Error = SqnError;
    fn try_from(f: SqnFields) -> Result<Self, SqnError> {
        Ok(SqnConfig { allocation: f.allocation, ..SqnConfig::new(f.ind_bits, f.block)? })
    }
}

impl Default for SqnConfig {
    fn default() -> Self {
        defaults()
    }
}

impl SqnConfig {
    /// IND of `ind_bits` (Δ = 2^28) and `block` SEQ values reserved per database write.
    pub fn new(ind_bits: u8, block: i64) -> Result<Self, SqnError> {
        Ok(Self { scheme: auc::SqnScheme::new(ind_bits, 1 << 28).map_err(SqnError)?, block, allocation: None })
    }

    /// The allocation for a store of `backend`: as configured, else exact on PostgreSQL (any number
    /// of instances may share it) and blocks on SQLite (one instance).
    pub fn allocation_for(&self, backend: store::Backend) -> store::Allocation {
        match (self.allocation, backend) {
            (Some(SqnAllocation::Exact), _) | (None, store::Backend::Postgres) => store::Allocation::Exact,
            (Some(SqnAllocation::Block), _) | (None, store::Backend::Sqlite) => store::Allocation::Block(self.block),
        }
    }

    /// The SQN layout (IND length, Δ).
    pub fn scheme(&self) -> &auc::SqnScheme {
        &self.scheme
    }

    /// SEQ values reserved per database write.
    pub fn block(&self) -> i64 {
        self.block
    }
}

/// A value outside the accepted words, named the way the file names it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key} must be {allowed}, not {value:?}")]
pub struct BadWord {
    key: &'static str,
    allowed: &'static str,
    value: String,
}

/// Equipment-Status for an IMEI on no list (`[eir] unknown`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(try_from = "String")]
pub enum UnknownImei {
    /// WHITELISTED (`"white"`, the default).
    #[default]
    White,
    /// DIAMETER_ERROR_EQUIPMENT_UNKNOWN, 5422 (`"unknown"`).
    Unknown,
}

impl TryFrom<String> for UnknownImei {
    type Error = BadWord;
    fn try_from(s: String) -> Result<Self, BadWord> {
        match s.as_str() {
            "white" => Ok(Self::White),
            "unknown" => Ok(Self::Unknown),
            _ => Err(BadWord { key: "eir.unknown", allowed: "\"white\" or \"unknown\"", value: s }),
        }
    }
}

/// What to answer for a critical subscription whose device is blacklisted (DM-5;
/// `[eir] critical_blacklisted`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(try_from = "String")]
pub enum CriticalBlacklist {
    /// GREYLISTED plus an alert event (`"greylist"`, the default: never cut a critical device off by list).
    #[default]
    Greylist,
    /// BLACKLISTED like any other (`"blacklist"`).
    Blacklist,
}

impl TryFrom<String> for CriticalBlacklist {
    type Error = BadWord;
    fn try_from(s: String) -> Result<Self, BadWord> {
        match s.as_str() {
            "greylist" => Ok(Self::Greylist),
            "blacklist" => Ok(Self::Blacklist),
            _ => Err(BadWord { key: "eir.critical_blacklisted", allowed: "\"greylist\" or \"blacklist\"", value: s }),
        }
    }
}

/// `[eir]`: EIR behaviour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EirConfig {
    /// Equipment-Status for an IMEI on no list.
    #[serde(default)]
    pub unknown: UnknownImei,
    /// Critical subscriptions on the black list.
    #[serde(default)]
    pub critical_blacklisted: CriticalBlacklist,
}

/// `[subscription]`: what Subscription-Data carries when a service profile leaves it out.
///
/// A profile without `ambr_ul`/`ambr_dl` still gets the subscription's UE-AMBR (TS 29.272 §7.3.41):
/// MMEs such as Open5GS's refuse a ULA whose Subscription-Data has no AMBR, so the SIMs could not
/// attach. The defaults are those `open5gs-dbctl add` gives a new subscriber (1 Gbit/s each way).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionConfig {
    /// UE-AMBR uplink, bit/s, for profiles without `ambr_ul`.
    #[serde(default = "default_ambr")]
    pub ambr_ul: u32,
    /// UE-AMBR downlink, bit/s, for profiles without `ambr_dl`.
    #[serde(default = "default_ambr")]
    pub ambr_dl: u32,
}

impl Default for SubscriptionConfig {
    fn default() -> Self {
        defaults()
    }
}

fn default_ambr() -> u32 {
    1_000_000_000
}

/// HSS settings: the configuration sections and what only a program sets.
#[derive(Debug, Clone)]
pub struct HssConfig {
    /// `[diameter]`: identity, vector cap, configured peers (and the listener, for the caller).
    pub diameter: DiameterConfig,
    /// `[sqn]`.
    pub sqn: SqnConfig,
    /// `[eir]`.
    pub eir: EirConfig,
    /// `[subscription]` (defaults unless the program sets it: [`HssConfig::from_sections`] leaves it
    /// at its defaults).
    pub subscription: SubscriptionConfig,
    /// Development mode without configured peers: every admitted peer may ask about every subscriber
    /// (the transport then admits loopback peers only).
    pub open_imsi_access: bool,
    /// Subscribers kept in memory for the hot path.
    pub cache_capacity: usize,
    /// IMSIs whose AIR/ULR count of the hour is kept for the signalling rules (then the quietest
    /// make room: [`crate::SignallingCounter`]).
    pub signalling_capacity: usize,
}

impl HssConfig {
    /// The HSS a configuration file describes. Without `[[diameter.peers]]` it runs in the
    /// development mode ([`HssConfig::open_imsi_access`]).
    pub fn from_sections(diameter: DiameterConfig, sqn: SqnConfig, eir: EirConfig) -> Self {
        let open_imsi_access = diameter.peers.is_empty();
        Self {
            diameter,
            sqn,
            eir,
            subscription: SubscriptionConfig::default(),
            open_imsi_access,
            cache_capacity: 200_000,
            signalling_capacity: crate::SignallingCounter::DEFAULT_CAPACITY,
        }
    }

    /// Defaults with this identity and no peers (and no open access): 5 vectors at most, 5-bit IND,
    /// blocks of 1000 SEQ.
    pub fn new(origin_host: &str, origin_realm: &str) -> Self {
        let diameter =
            DiameterConfig { origin_host: origin_host.into(), origin_realm: origin_realm.into(), ..defaults() };
        Self { open_imsi_access: false, ..Self::from_sections(diameter, defaults(), defaults()) }
    }

    /// Our Origin-Host.
    pub fn origin_host(&self) -> &str {
        &self.diameter.origin_host
    }

    /// Our Origin-Realm.
    pub fn origin_realm(&self) -> &str {
        &self.diameter.origin_realm
    }

    /// The rule of a peer by Origin-Host.
    pub fn peer(&self, origin_host: &str) -> Option<&PeerRule> {
        self.diameter.peers.iter().find(|p| p.origin_host.eq_ignore_ascii_case(origin_host))
    }

    /// True when the peer `origin_host` (a connection's identity) relays requests of other nodes.
    pub fn is_relay(&self, origin_host: &str) -> bool {
        self.diameter.relays.iter().any(|r| r.eq_ignore_ascii_case(origin_host))
    }

    /// Makes `origin_host` a relay (once).
    pub fn add_relay(&mut self, origin_host: &str) {
        if !self.is_relay(origin_host) {
            self.diameter.relays.push(origin_host.to_string());
        }
    }

    /// True when the peer `origin_host` may send requests of application `app_id` (the base
    /// protocol's own, application 0, always; every application in the development mode).
    pub fn may_use(&self, origin_host: &str, app_id: u32) -> bool {
        app_id == diameter::dictionary::app::COMMON
            || self.open_imsi_access
            || self.peer(origin_host).is_some_and(|p| p.applications.iter().any(|a| a.id() == app_id))
    }

    /// True when `origin_host` may ask about `imsi`.
    pub fn may_query(&self, origin_host: &str, imsi: &str) -> bool {
        self.open_imsi_access
            || self.peer(origin_host).is_some_and(|p| p.imsi_prefixes.iter().any(|pre| imsi.starts_with(pre.as_str())))
    }
}

/// Admits configured peers only: Origin-Host, Origin-Realm and (when listed) source address must match.
#[derive(Debug, Clone)]
pub struct ConfiguredPeers(pub Vec<PeerRule>);

impl PeerAuthorizer for ConfiguredPeers {
    fn authorize(&self, p: &PeerIdentity) -> bool {
        self.0.iter().any(|r| {
            r.origin_host.eq_ignore_ascii_case(&p.origin_host)
                && r.origin_realm.eq_ignore_ascii_case(&p.origin_realm)
                && (r.addresses.is_empty() || p.address.is_some_and(|a| r.addresses.contains(&a)))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_sections_give_the_documented_defaults() {
        let d = DiameterConfig::default();
        assert_eq!(d.listen, "127.0.0.1:3868".parse().unwrap());
        assert_eq!((d.origin_host.as_str(), d.origin_realm.as_str()), ("hss.warden.localdomain", "warden.localdomain"));
        assert_eq!((d.max_vectors, d.watchdog_secs, d.max_message_size, d.max_in_flight), (5, 30, 65536, 256));
        assert!(d.tls.is_none() && d.peers.is_empty() && d.relays.is_empty());
        let s = SqnConfig::default();
        assert_eq!((s.scheme().ind_bits(), s.scheme().delta(), s.block()), (5, 1 << 28, 1000));
        let e = EirConfig::default();
        assert_eq!((e.unknown, e.critical_blacklisted), (UnknownImei::White, CriticalBlacklist::Greylist));
        let sub = SubscriptionConfig::default();
        assert_eq!((sub.ambr_ul, sub.ambr_dl), (1_000_000_000, 1_000_000_000));
    }

    #[test]
    fn sections_read_from_toml() {
        let d: DiameterConfig = toml::from_str(
            "origin_host = \"hss.home.example\"\n[tls]\ncert_file = \"c.pem\"\nkey_file = \"k.pem\"\n\
             [[peers]]\norigin_host = \"mme1\"\norigin_realm = \"r\"\naddresses = [\"127.0.0.1\"]\nimsi_prefixes = [\"00101\"]\n",
        )
        .unwrap();
        assert_eq!(d.origin_host, "hss.home.example");
        assert_eq!(d.tls.unwrap().cert_file, std::path::PathBuf::from("c.pem"));
        assert_eq!(d.peers[0].addresses, vec!["127.0.0.1".parse::<IpAddr>().unwrap()]);
        let r: DiameterConfig = toml::from_str("relays = [\"fw.home.example\"]").unwrap();
        let mut h = HssConfig::from_sections(r, SqnConfig::default(), EirConfig::default());
        assert!(h.is_relay("FW.home.example") && !h.is_relay("mme1.home.example"));
        h.add_relay("fw.HOME.example");
        h.add_relay("dea.home.example");
        assert_eq!(h.diameter.relays, ["fw.home.example", "dea.home.example"]);
        let s: SqnConfig = toml::from_str("ind_bits = 0\nblock = 50").unwrap();
        assert_eq!((s.scheme().ind_bits(), s.block()), (0, 50));
        let e: EirConfig = toml::from_str("unknown = \"unknown\"\ncritical_blacklisted = \"blacklist\"").unwrap();
        assert_eq!((e.unknown, e.critical_blacklisted), (UnknownImei::Unknown, CriticalBlacklist::Blacklist));
        let sub: SubscriptionConfig = toml::from_str("ambr_ul = 64000").unwrap();
        assert_eq!((sub.ambr_ul, sub.ambr_dl), (64000, 1_000_000_000));
        assert!(toml::from_str::<SubscriptionConfig>("ambr = 1").is_err(), "unknown keys refused");
        assert!(toml::from_str::<SubscriptionConfig>("ambr_ul = 5000000000").is_err(), "beyond Unsigned32");
    }

    #[test]
    fn bad_values_are_refused_with_the_key_and_the_accepted_words() {
        let err = toml::from_str::<EirConfig>("unknown = \"grey\"").unwrap_err().to_string();
        assert!(err.contains("eir.unknown must be \"white\" or \"unknown\", not \"grey\""), "{err}");
        let err = toml::from_str::<EirConfig>("critical_blacklisted = \"white\"").unwrap_err().to_string();
        assert!(err.contains("eir.critical_blacklisted must be \"greylist\" or \"blacklist\", not \"white\""), "{err}");
        let err = toml::from_str::<SqnConfig>("ind_bits = 11").unwrap_err().to_string();
        assert!(err.contains("sqn.ind_bits"), "{err}");
        assert!(toml::from_str::<SqnConfig>("ind_bit = 4").is_err(), "unknown keys refused");
        assert!(toml::from_str::<DiameterConfig>("listen_addr = \"x\"").is_err(), "unknown keys refused");
        let short: DiameterConfig = toml::from_str("watchdog_secs = 2").unwrap();
        assert_eq!(short.validate(), Err(ConfigError::WatchdogTooShort(2)));
        let bad: DiameterConfig =
            toml::from_str("[[peers]]\norigin_host = \"m\"\norigin_realm = \"r\"\nimsi_prefixes = [\"001a\"]").unwrap();
        assert!(bad.validate().unwrap_err().to_string().contains("IMSI prefix \"001a\" must be digits"));
        let empty: DiameterConfig = toml::from_str("relays = [\" \"]").unwrap();
        assert_eq!(empty.validate(), Err(ConfigError::EmptyRelay));
    }

    #[test]
    fn development_mode_only_without_peers() {
        let mut d = DiameterConfig::default();
        assert!(HssConfig::from_sections(d.clone(), SqnConfig::default(), EirConfig::default()).open_imsi_access);
        d.peers.push(PeerRule {
            origin_host: "m".into(),
            origin_realm: "r".into(),
            addresses: vec![],
            imsi_prefixes: vec![],
            applications: vec![PeerApplication::Gx],
        });
        let c = HssConfig::from_sections(d, SqnConfig::default(), EirConfig::default());
        assert!(!c.open_imsi_access);
        assert!(c.may_use("M", GX_APPLICATION_ID) && c.may_use("m", 0));
        assert!(!c.may_use("m", diameter::dictionary::app::S6A) && !c.may_use("other", GX_APPLICATION_ID));
        assert!(!HssConfig::new("h", "r").open_imsi_access);
    }

    #[test]
    fn peers_are_mmes_unless_they_say_otherwise() {
        let d: DiameterConfig = toml::from_str(
            "[[peers]]\norigin_host = \"mme\"\norigin_realm = \"r\"\n\
             [[peers]]\norigin_host = \"pgw\"\norigin_realm = \"r\"\napplications = [\"gx\"]\n",
        )
        .unwrap();
        assert_eq!(d.peers[0].applications, vec![PeerApplication::S6a, PeerApplication::S13]);
        assert_eq!(d.peers[1].applications, vec![PeerApplication::Gx]);
        let bad = toml::from_str::<DiameterConfig>(
            "[[peers]]\norigin_host = \"p\"\norigin_realm = \"r\"\napplications = [\"gy\"]\n",
        );
        assert!(bad.unwrap_err().to_string().contains("gy"));
    }
}
