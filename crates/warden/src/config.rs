//! `warden.toml`: every setting with its default. With no file, Warden runs on loopback with SQLite
//! under `./warden-data` and accepts only loopback Diameter peers. See docs/configuration.md.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The whole configuration.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where the embedded database and generated files live.
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    /// Diameter server.
    #[serde(default)]
    pub diameter: DiameterConfig,
    /// Database.
    #[serde(default)]
    pub storage: StorageConfig,
    /// Key-encryption keys.
    #[serde(default)]
    pub keys: KeysConfig,
    /// Prometheus metrics.
    #[serde(default)]
    pub metrics: MetricsConfig,
    /// SQN management.
    #[serde(default)]
    pub sqn: SqnConfig,
    /// EIR behaviour.
    #[serde(default)]
    pub eir: EirConfig,
    /// The connectivity-management REST API.
    #[serde(default)]
    pub http: HttpConfig,
    /// The roaming signalling firewall (docs/firewall.md); absent: not started.
    #[serde(default)]
    pub firewall: Option<firewall::FirewallConfig>,
    /// The file this configuration was read from (for reloads).
    #[serde(skip)]
    pub source: Option<PathBuf>,
}

fn default_data_dir() -> PathBuf {
    PathBuf::from("warden-data")
}

/// `[diameter]`
#[derive(Debug, Clone, Deserialize)]
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
    /// Most vectors per AIR.
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
    /// TLS for the listener.
    #[serde(default)]
    pub tls: Option<TlsConfig>,
    /// Peers allowed to connect. Empty: loopback peers only, any subscriber (development).
    #[serde(default)]
    pub peers: Vec<PeerConfig>,
}

impl Default for DiameterConfig {
    fn default() -> Self {
        toml::from_str("").expect("defaults")
    }
}

fn default_listen() -> SocketAddr {
    "127.0.0.1:3868".parse().expect("address")
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

/// `[diameter.tls]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM certificate chain.
    pub cert_file: PathBuf,
    /// PEM private key.
    pub key_file: PathBuf,
    /// PEM CA certificates of partners; when set, peers must present a certificate.
    #[serde(default)]
    pub client_ca_file: Option<PathBuf>,
}

/// `[[diameter.peers]]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeerConfig {
    /// Origin-Host.
    pub origin_host: String,
    /// Origin-Realm.
    pub origin_realm: String,
    /// Source addresses allowed (empty: any).
    #[serde(default)]
    pub addresses: Vec<IpAddr>,
    /// IMSI prefixes this peer may ask about.
    #[serde(default)]
    pub imsi_prefixes: Vec<String>,
}

/// `[storage]`
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct StorageConfig {
    /// `sqlite://PATH` or `postgres://…`; default `sqlite://<data_dir>/warden.db`.
    pub url: Option<String>,
}

/// `[keys]`
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct KeysConfig {
    /// File holding the current KEK as 64 hex characters.
    pub kek_file: Option<PathBuf>,
    /// Environment variable holding the current KEK (used when `kek_file` is absent).
    pub kek_env: Option<String>,
    /// Id of the current KEK (stored in every sealed value).
    #[serde(default = "one")]
    pub kek_id: u32,
    /// Older KEKs still accepted while rows are re-sealed: `{ id = 1, file = "…" }`.
    #[serde(default)]
    pub previous: Vec<PreviousKek>,
}

fn one() -> u32 {
    1
}

/// An older KEK.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreviousKek {
    /// Its id.
    pub id: u32,
    /// Its file.
    pub file: PathBuf,
}

/// `[http]`: the connectivity-management REST API.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// Listen address (loopback by default); the API is off when `enabled = false`.
    #[serde(default = "default_http_listen")]
    pub listen: SocketAddr,
    /// Serve the API at all.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Requests per second per token, on average.
    #[serde(default = "default_rate")]
    pub rate_per_sec: f64,
    /// Burst per token.
    #[serde(default = "default_burst")]
    pub rate_burst: f64,
    /// Largest request body in bytes (bulk job requests: `max_job_body_bytes`).
    #[serde(default = "default_max_body")]
    pub max_body_bytes: usize,
    /// Largest bulk-job request body in bytes (a list of a million IMSIs is about 18 MB).
    #[serde(default = "default_max_job_body")]
    pub max_job_body_bytes: usize,
    /// Lifetime of login sessions in hours.
    #[serde(default = "default_session_hours")]
    pub session_hours: u32,
    /// Login attempts per minute per source address.
    #[serde(default = "default_login_rate")]
    pub login_per_minute: f64,
    /// Allow webhooks to loopback/private addresses and plain http (off: server-side request forgery).
    #[serde(default)]
    pub webhook_allow_private: bool,
    /// Breached-password corpus (SHA-1 per line, Have I Been Pwned format) refused as new passwords.
    pub breached_passwords_file: Option<PathBuf>,
    /// TLS (rustls; TLS 1.3 and 1.2 with AEAD suites only).
    pub tls: Option<HttpTlsConfig>,
}

/// `[http.tls]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpTlsConfig {
    /// PEM certificate chain.
    pub cert_file: PathBuf,
    /// PEM private key.
    pub key_file: PathBuf,
}

impl Default for HttpConfig {
    fn default() -> Self {
        toml::from_str("").expect("defaults")
    }
}

fn default_http_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8080))
}
fn yes() -> bool {
    true
}
fn default_rate() -> f64 {
    50.0
}
fn default_burst() -> f64 {
    100.0
}
fn default_max_body() -> usize {
    1 << 20
}
fn default_max_job_body() -> usize {
    32 << 20
}
fn default_session_hours() -> u32 {
    8
}
fn default_login_rate() -> f64 {
    10.0
}

/// `[metrics]`
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// Listen address of the Prometheus endpoint (`/metrics`); absent: no endpoint.
    pub listen: Option<SocketAddr>,
}

/// `[sqn]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SqnConfig {
    /// IND length in bits (TS 33.102 Annex C).
    #[serde(default = "default_ind")]
    pub ind_bits: u8,
    /// SEQ values reserved per database write.
    #[serde(default = "default_block")]
    pub block: i64,
}

impl Default for SqnConfig {
    fn default() -> Self {
        Self { ind_bits: default_ind(), block: default_block() }
    }
}

fn default_ind() -> u8 {
    5
}
fn default_block() -> i64 {
    1000
}

/// `[eir]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EirConfig {
    /// Equipment-Status for an IMEI on no list: `white` or `unknown` (DIAMETER_ERROR_EQUIPMENT_UNKNOWN).
    #[serde(default = "default_unknown")]
    pub unknown: String,
    /// Critical subscriptions on the black list: `greylist` (default, plus an alert) or `blacklist`.
    #[serde(default = "default_critical")]
    pub critical_blacklisted: String,
}

impl Default for EirConfig {
    fn default() -> Self {
        Self { unknown: default_unknown(), critical_blacklisted: default_critical() }
    }
}

fn default_unknown() -> String {
    "white".into()
}
fn default_critical() -> String {
    "greylist".into()
}

impl Config {
    /// Reads a file, or the defaults when `path` is `None`.
    pub fn load(path: Option<&Path>) -> Result<Self, String> {
        let Some(path) = path else { return Ok(Self { data_dir: default_data_dir(), ..Self::default() }) };
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut c: Config = toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        if c.data_dir.as_os_str().is_empty() {
            c.data_dir = default_data_dir();
        }
        c.source = Some(path.to_path_buf());
        c.validate()?;
        Ok(c)
    }

    fn validate(&self) -> Result<(), String> {
        if self.diameter.watchdog_secs < 6 {
            return Err("diameter.watchdog_secs must be at least 6 (RFC 3539)".into());
        }
        if !["white", "unknown"].contains(&self.eir.unknown.as_str()) {
            return Err(format!("eir.unknown must be \"white\" or \"unknown\", not {:?}", self.eir.unknown));
        }
        if !["greylist", "blacklist"].contains(&self.eir.critical_blacklisted.as_str()) {
            return Err(format!(
                "eir.critical_blacklisted must be \"greylist\" or \"blacklist\", not {:?}",
                self.eir.critical_blacklisted
            ));
        }
        for p in &self.diameter.peers {
            if let Some(bad) = p.imsi_prefixes.iter().find(|x| x.is_empty() || !x.bytes().all(|b| b.is_ascii_digit())) {
                return Err(format!("peer {}: IMSI prefix {bad:?} must be digits", p.origin_host));
            }
        }
        auc::SqnScheme::new(self.sqn.ind_bits, 1 << 28).map_err(|e| format!("sqn.ind_bits: {e}"))?;
        Ok(())
    }

    /// The storage URL, defaulting to SQLite in the data directory.
    pub fn storage_url(&self) -> String {
        self.storage.url.clone().unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("warden.db").display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issue_example_parses() {
        let c: Config = toml::from_str(
            r#"
            [diameter]
            listen = "127.0.0.1:3868"
            origin_host = "hss.home.example"
            origin_realm = "home.example"
            [[diameter.peers]]
            origin_host = "mme1.partner.example"
            origin_realm = "partner.example"
            imsi_prefixes = ["00101"]
            [storage]
            url = "sqlite:///var/lib/warden/warden.db"
            [keys]
            kek_file = "/etc/warden/kek.hex"
            [metrics]
            listen = "127.0.0.1:9464"
            "#,
        )
        .unwrap();
        c.validate().unwrap();
        assert_eq!(c.diameter.peers[0].imsi_prefixes, vec!["00101"]);
        assert_eq!(c.storage_url(), "sqlite:///var/lib/warden/warden.db");
    }

    #[test]
    fn defaults_are_loopback_and_sqlite() {
        let c = Config::load(None).unwrap();
        assert!(c.diameter.listen.ip().is_loopback());
        assert!(c.storage_url().starts_with("sqlite://warden-data"));
        assert!(c.diameter.peers.is_empty());
    }

    #[test]
    fn unknown_keys_and_bad_values_are_refused() {
        assert!(toml::from_str::<Config>("[diameter]\nlisten_addr = \"x\"").is_err());
        let c: Config = toml::from_str("[diameter]\nwatchdog_secs = 2").unwrap();
        assert!(c.validate().unwrap_err().contains("watchdog"));
    }
}

#[cfg(test)]
mod http_tests {
    use super::*;

    #[test]
    fn example_file_parses_and_http_defaults_to_loopback() {
        let c: Config = toml::from_str(include_str!("../../../examples/warden.toml")).unwrap();
        assert_eq!(c.http.listen, "127.0.0.1:8080".parse().unwrap());
        let d = Config::default();
        assert!(d.http.enabled && d.http.listen.ip().is_loopback() && !d.http.webhook_allow_private);
        assert!(toml::from_str::<Config>("[http]\nlisten_on = \"0.0.0.0:1\"\n").is_err(), "unknown keys refused");
    }
}
