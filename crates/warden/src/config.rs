//! `warden.toml`: one section per component, each section's type owned by the crate that uses it
//! and holding its defaults (serde defaults, written once): `[diameter]`, `[sqn]`, `[eir]`,
//! `[subscription]` → [`hss::DiameterConfig`], [`hss::SqnConfig`], [`hss::EirConfig`],
//! [`hss::SubscriptionConfig`]; `[http]` → [`api::Settings`];
//! `[firewall]` → [`firewall::FirewallConfig`]; `[sms]` → [`sms::SmsConfig`]. What only the binary uses (`data_dir`, `[storage]`,
//! `[keys]`, `[metrics]`) is defined here; `[analytics]` in [`crate::analytics_run`]. With no file, Warden runs on loopback with SQLite under
//! `./warden-data` and accepts only loopback Diameter peers. See docs/configuration.md.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Why a configuration file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML, has an unknown key or a bad value (the message names the line).
    #[error("{}: {source}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// Why, where.
        source: Box<toml::de::Error>,
    },
    /// A value the HSS cannot work with.
    #[error(transparent)]
    Hss(#[from] hss::ConfigError),
    /// A value the SMS router cannot work with.
    #[error("{0}")]
    Sms(String),
    /// A value of `[devices]` that does not hold.
    #[error("{0}")]
    Devices(String),
    /// A value of `[ota]` that does not hold.
    #[error(transparent)]
    Ota(#[from] otajobs::SettingsError),
}

/// The whole configuration.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where the embedded database and generated files live.
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    /// Diameter server and peers (the HSS's).
    #[serde(default)]
    pub diameter: hss::DiameterConfig,
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
    pub sqn: hss::SqnConfig,
    /// EIR behaviour.
    #[serde(default)]
    pub eir: hss::EirConfig,
    /// Subscription-Data defaults (the UE-AMBR of profiles without one).
    #[serde(default)]
    pub subscription: hss::SubscriptionConfig,
    /// The connectivity-management REST API.
    #[serde(default)]
    pub http: api::Settings,
    /// The roaming signalling firewall (docs/firewall.md); absent: not started.
    #[serde(default)]
    pub firewall: Option<firewall::FirewallConfig>,
    /// The GTP-C firewall in front of the home P-GW (docs/gtp.md); absent: not started.
    #[serde(default)]
    pub gtp: Option<gtpfw::GtpConfig>,
    /// The PCRF on Gx (docs/pcrf.md): always answered on the `[diameter]` listener, to peers whose
    /// `applications` include `gx`.
    #[serde(default)]
    pub pcrf: pcrf::PcrfConfig,
    /// The DNS firewall (docs/dns-firewall.md); absent: not started.
    #[serde(default)]
    pub dns: Option<dnsfw::DnsConfig>,
    /// Security analytics (docs/analytics.md): IPFIX collector and detection engine; absent: not
    /// started.
    #[serde(default)]
    pub analytics: Option<crate::analytics_run::AnalyticsConfig>,
    /// The SMS router (docs/sms.md): SGd toward the MMEs with `sgd = true`, SMPP toward the SMSC
    /// with `[sms.smpp]`.
    #[serde(default)]
    pub sms: SmsSection,
    /// SIM over-the-air management (docs/ota.md): the OTA engine, its jobs and steering of roaming;
    /// absent: not started.
    #[serde(default)]
    pub ota: Option<otajobs::settings::OtaSection>,
    /// Device management: the LwM2M server on CoAP and CoAPs/DTLS (docs/devices.md,
    /// docs/devices-dtls.md) and the EST server with its CA, CRL and OCSP (docs/est.md); absent: not
    /// started.
    #[serde(default)]
    pub devices: Option<DevicesSection>,
    /// The file this configuration was read from (for reloads).
    #[serde(skip)]
    pub source: Option<PathBuf>,
}

/// `[devices]`: one section for the LwM2M server (CoAP and CoAPs/DTLS listeners) and the EST server.
/// Each part refuses keys it does not know; the EST keys ([`est::settings::KEYS`]) go to the EST part.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DevicesSection {
    /// The LwM2M server and its CoAP/CoAPs listeners.
    pub lwm2m: crate::devices_run::DevicesConfig,
    /// The EST server, its CA, CRL and OCSP.
    pub est: est::EstSettings,
}

impl<'de> Deserialize<'de> for DevicesSection {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error as _;
        let mut lwm2m = toml::Table::deserialize(d)?;
        let mut est = toml::Table::new();
        for key in est::settings::KEYS {
            if let Some(v) = lwm2m.remove(*key) {
                est.insert((*key).to_string(), v);
            }
        }
        Ok(DevicesSection {
            lwm2m: crate::devices_run::DevicesConfig::deserialize(toml::Value::Table(lwm2m))
                .map_err(D::Error::custom)?,
            est: est::EstSettings::deserialize(toml::Value::Table(est)).map_err(D::Error::custom)?,
        })
    }
}

/// `[sms]`: the router's own keys (as [`sms::SmsConfig`]) and the SMPP client's `[sms.smpp]`
/// ([`smpp::SmppConfig`]). The `sms` crate cannot hold the SMPP section itself (the SMPP client
/// depends on `sms`), so the binary puts the two together.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmsSection {
    /// See [`sms::SmsConfig::sgd`].
    #[serde(default)]
    pub sgd: bool,
    /// See [`sms::SmsConfig::sc_address`].
    #[serde(default)]
    pub sc_address: Option<String>,
    /// See [`sms::SmsConfig::ota_address`].
    #[serde(default)]
    pub ota_address: Option<String>,
    /// The operator's SMSC over SMPP 3.4: MT messages when SGd cannot deliver them (or SGd is off),
    /// and screened MO messages forwarded.
    #[serde(default)]
    pub smpp: Option<smpp::SmppConfig>,
}

impl SmsSection {
    /// The router's part.
    pub fn core(&self) -> sms::SmsConfig {
        sms::SmsConfig { sgd: self.sgd, sc_address: self.sc_address.clone(), ota_address: self.ota_address.clone() }
    }

    /// Checks the router's keys and the SMPP section (without reading its files).
    fn validate(&self) -> Result<(), String> {
        self.core().validate()?;
        if let Some(s) = &self.smpp {
            s.validate().map_err(|e| e.to_string())?;
        }
        Ok(())
    }
}

fn default_data_dir() -> PathBuf {
    PathBuf::from("warden-data")
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

/// `[metrics]`
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// Listen address of the Prometheus endpoint (`/metrics`); absent: no endpoint.
    pub listen: Option<SocketAddr>,
}

impl Config {
    /// Reads a file, or the defaults when `path` is `None`.
    pub fn load(path: Option<&Path>) -> Result<Self, ConfigError> {
        let Some(path) = path else { return Ok(Self { data_dir: default_data_dir(), ..Self::default() }) };
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.into(), source })?;
        let mut c: Config =
            toml::from_str(&text).map_err(|e| ConfigError::Parse { path: path.into(), source: Box::new(e) })?;
        if c.data_dir.as_os_str().is_empty() {
            c.data_dir = default_data_dir();
        }
        c.source = Some(path.to_path_buf());
        c.validate()?;
        Ok(c)
    }

    /// Checks what the sections' types cannot check as they are read.
    fn validate(&self) -> Result<(), ConfigError> {
        self.diameter.validate()?;
        self.sms.validate().map_err(ConfigError::Sms)?;
        if let Some(ota) = &self.ota {
            ota.check()?;
        }
        if let Some(d) = &self.devices {
            d.lwm2m.check().map_err(ConfigError::Devices)?;
            d.est.validate().map_err(ConfigError::Devices)?;
        }
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
        assert!(c.validate().unwrap_err().to_string().contains("watchdog"));
    }
}

#[cfg(test)]
mod section_tests {
    use super::*;

    fn load(text: &str) -> Result<Config, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("warden.toml");
        std::fs::write(&path, text).unwrap();
        Config::load(Some(&path))
    }

    #[test]
    fn sections_land_in_their_crates_types() {
        let c = load("[sqn]\nind_bits = 4\nblock = 50\n[eir]\nunknown = \"unknown\"\n[http]\nsession_hours = 2\nmax_body_bytes = 10\n")
            .unwrap();
        assert_eq!((c.sqn.scheme().ind_bits(), c.sqn.block()), (4, 50));
        assert_eq!(c.eir.unknown, hss::UnknownImei::Unknown);
        assert_eq!(c.eir.critical_blacklisted, hss::CriticalBlacklist::Greylist);
        assert_eq!((c.http.session_secs, c.http.max_body, c.http.max_job_body), (7200, 10, 32 << 20));
        let c = load("[subscription]\nambr_ul = 64000\n").unwrap();
        assert_eq!((c.subscription.ambr_ul, c.subscription.ambr_dl), (64000, 1_000_000_000));
        let d = Config::load(None).unwrap();
        assert_eq!((d.http.session_secs, d.http.rate_per_sec, d.http.login_per_minute), (8 * 3600, 50.0, 10.0));
        assert_eq!((d.sqn.scheme().ind_bits(), d.sqn.block(), d.diameter.max_vectors), (5, 1000, 5));
    }

    #[test]
    fn bad_values_name_the_file_the_key_and_the_accepted_words() {
        let e = load("[eir]\nunknown = \"grey\"\n").unwrap_err().to_string();
        assert!(
            e.contains("warden.toml") && e.contains("eir.unknown must be \"white\" or \"unknown\", not \"grey\""),
            "{e}"
        );
        let e = load("[eir]\ncritical_blacklisted = \"off\"\n").unwrap_err().to_string();
        assert!(e.contains("eir.critical_blacklisted must be \"greylist\" or \"blacklist\", not \"off\""), "{e}");
        let e = load("[sqn]\nind_bits = 12\n").unwrap_err().to_string();
        assert!(e.contains("sqn.ind_bits"), "{e}");
        let e = load("[diameter]\nwatchdog_secs = 3\n").unwrap_err().to_string();
        assert!(e.contains("diameter.watchdog_secs must be at least 6"), "{e}");
        let e =
            load("[http.tls]\ncert_file = \"c\"\nkey_file = \"k\"\nclient_ca_file = \"x\"\n").unwrap_err().to_string();
        assert!(e.contains("client_ca_file"), "[http.tls] has no client CA: {e}");
    }
}

#[cfg(test)]
mod sms_tests {
    use super::*;

    #[test]
    fn sms_section_is_read_and_checked() {
        let c: Config = toml::from_str("[sms]\nsgd = true\nsc_address = \"+4910\"\nota_address = \"+4911\"\n").unwrap();
        c.validate().unwrap();
        assert!(c.sms.sgd && c.sms.sc_address.as_deref() == Some("+4910"));
        assert!(!Config::default().sms.sgd, "off by default");
        let c: Config = toml::from_str("[sms]\nsgd = true\n").unwrap();
        assert!(c.validate().unwrap_err().to_string().contains("sms.sc_address"));
        assert!(toml::from_str::<Config>("[sms]\nsgd_enabled = true\n").is_err(), "unknown keys refused");
    }

    #[test]
    fn devices_section_defaults_to_loopback_coaps_and_checks_its_files() {
        assert!(Config::default().devices.is_none(), "no CoAPs listener without [devices]");
        let c: Config = toml::from_str("[devices]\n").unwrap();
        c.validate().unwrap();
        let d = c.devices.unwrap().lwm2m;
        assert_eq!(d.coaps_listen, "127.0.0.1:5684".parse().unwrap());
        assert_eq!((d.coaps_max_sessions, d.coaps_max_handshakes, d.coaps_psk_refresh_secs), (10_000, 256, 5));
        assert_eq!(d.coaps_revocation_refresh_secs, 5);
        assert_eq!((d.coaps_handshakes_per_source_per_sec, d.coaps_handshake_burst_per_source), (5, 20));
        assert_eq!(d.coaps_limits().handshakes_per_source_per_sec, 5);
        let c: Config = toml::from_str("[devices]\ncoaps_cert = \"c.pem\"\n").unwrap();
        assert!(c.validate().unwrap_err().to_string().contains("all three or none"));
        let c: Config = toml::from_str("[devices]\ncoaps_max_handshakes = 0\n").unwrap();
        assert!(c.validate().is_err());
        assert!(toml::from_str::<Config>("[devices]\ncoaps_port = 5684\n").is_err(), "unknown keys refused");
        // The EST keys go to the EST part, and are checked there.
        let c: Config = toml::from_str("[devices]\nest_listen = \"127.0.0.1:8443\"\ncert_days = 7\n").unwrap();
        let d = c.devices.clone().unwrap();
        assert_eq!((d.est.est_listen, d.est.cert_days), (Some("127.0.0.1:8443".parse().unwrap()), 7));
        assert_eq!(d.lwm2m, crate::devices_run::DevicesConfig::default());
        let c: Config = toml::from_str("[devices]\ncert_days = 0\n").unwrap();
        assert!(c.validate().unwrap_err().to_string().contains("cert_days"));
    }

    #[test]
    fn devices_bootstrap_keys_are_checked() {
        let d = toml::from_str::<Config>("[devices]\n").unwrap().devices.unwrap().lwm2m;
        assert_eq!((d.bootstrap_listen, d.bootstrap_lifetime, d.bootstrap_max_sessions), (None, 86_400, 1024));
        let c: Config = toml::from_str("[devices]\nbootstrap_listen = \"127.0.0.1:5783\"\n").unwrap();
        c.validate().unwrap();
        let c: Config = toml::from_str("[devices]\nbootstrap_coap_listen = \"127.0.0.1:5784\"\n").unwrap();
        assert!(c.validate().unwrap_err().to_string().contains("needs allow_unsecured"));
        let lab = "[devices]\nallow_unsecured = true\nbootstrap_coap_listen = \"127.0.0.1:5784\"\n";
        toml::from_str::<Config>(lab).unwrap().validate().unwrap();
        let c: Config = toml::from_str("[devices]\nbootstrap_server_uri = \"coap://x:5683\"\n").unwrap();
        assert!(c.validate().unwrap_err().to_string().contains("coaps://"));
        let c: Config = toml::from_str("[devices]\nbootstrap_lifetime = 0\n").unwrap();
        assert!(c.validate().unwrap_err().to_string().contains("bootstrap_lifetime"));
    }

    #[test]
    fn the_smpp_section_is_read_beside_the_router_keys_and_checked() {
        let c: Config = toml::from_str(
            "[sms]\nsgd = true\nsc_address = \"+4910\"\n[sms.smpp]\nhost = \"127.0.0.1\"\nsystem_id = \"warden\"\n\
             password_file = \"/nonexistent\"\n",
        )
        .unwrap();
        c.validate().unwrap();
        assert_eq!(c.sms.smpp.as_ref().map(|s| s.system_id.as_str()), Some("warden"));
        assert!(c.sms.core().sgd);
        let c: Config = toml::from_str(
            "[sms.smpp]\nhost = \"127.0.0.1\"\nsystem_id = \"a-system-id-too-long\"\npassword_file = \"p\"\n",
        )
        .unwrap();
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("system_id"), "{e}");
        assert!(toml::from_str::<Config>(
            "[sms.smpp]\nhost = \"h\"\nsystem_id = \"w\"\npassword_file = \"p\"\npasswd = \"x\"\n"
        )
        .is_err());
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
