//! The `[sms.smpp]` configuration section and what is read from the files it names.
//!
//! SMPP has no standard TLS port (SMPP 3.4 predates TLS; SMSCs that offer it pick a port of their
//! own, often 3550 or 8775, or put a TLS terminator in front of 2775): with `[sms.smpp.tls]` set,
//! `port` must be the SMSC's TLS port.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use zeroize::Zeroizing;

/// `[sms.smpp]`: how to reach and bind to the operator's SMSC.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmppConfig {
    /// The SMSC's host name or address.
    pub host: String,
    /// Its port (2775 is customary for plain TCP; see the module doc for TLS).
    #[serde(default = "default_port")]
    pub port: u16,
    /// The `system_id` Warden binds with (at most 15 characters).
    pub system_id: String,
    /// A file holding the bind password (at most 8 characters; a trailing newline is dropped).
    pub password_file: PathBuf,
    /// The `system_type` (at most 12 characters; empty by default).
    #[serde(default)]
    pub system_type: String,
    /// TLS toward the SMSC; plain TCP when absent.
    #[serde(default)]
    pub tls: Option<SmppTlsConfig>,
    /// The most `submit_sm` requests awaiting their response at once.
    #[serde(default = "default_window")]
    pub window: usize,
    /// Seconds between `enquire_link` keep-alives.
    #[serde(default = "default_enquire_link_secs")]
    pub enquire_link_secs: u64,
    /// Milliseconds to wait for a response (bind, `submit_sm`, `enquire_link`) or for the link to
    /// be bound before a send fails.
    #[serde(default = "default_response_timeout_ms")]
    pub response_timeout_ms: u64,
    /// The first delay before reconnecting after a failed connection or bind, in milliseconds; it
    /// doubles on each further failure up to `reconnect_max_ms`.
    #[serde(default = "default_reconnect_min_ms")]
    pub reconnect_min_ms: u64,
    /// The longest delay between reconnection attempts, in milliseconds.
    #[serde(default = "default_reconnect_max_ms")]
    pub reconnect_max_ms: u64,
    /// How often a `submit_sm` answered with `ESME_RTHROTTLED` or `ESME_RMSGQFUL` is sent again
    /// before the send fails with `retry: true`.
    #[serde(default = "default_throttle_retries")]
    pub throttle_retries: u32,
    /// Milliseconds to wait before sending a throttled `submit_sm` again.
    #[serde(default = "default_throttle_delay_ms")]
    pub throttle_delay_ms: u64,
}

/// `[sms.smpp.tls]`: TLS toward the SMSC with rustls.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmppTlsConfig {
    /// PEM CA certificates the SMSC's certificate must chain to.
    pub ca_file: PathBuf,
    /// The name the SMSC's certificate must carry; `host` when absent.
    #[serde(default)]
    pub server_name: Option<String>,
}

fn default_port() -> u16 {
    2775
}
fn default_window() -> usize {
    10
}
fn default_enquire_link_secs() -> u64 {
    30
}
fn default_response_timeout_ms() -> u64 {
    10_000
}
fn default_reconnect_min_ms() -> u64 {
    1_000
}
fn default_reconnect_max_ms() -> u64 {
    60_000
}
fn default_throttle_retries() -> u32 {
    3
}
fn default_throttle_delay_ms() -> u64 {
    1_000
}

/// Why the configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A value out of range.
    #[error("sms.smpp.{field}: {problem}")]
    Invalid {
        /// The key.
        field: &'static str,
        /// What is wrong.
        problem: String,
    },
    /// A file could not be read.
    #[error("sms.smpp.{field}: {path}: {source}")]
    File {
        /// The key naming the file.
        field: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The CA file holds no usable certificate, or rustls refused it.
    #[error("sms.smpp.tls.ca_file: {path}: {problem}")]
    Tls {
        /// The file.
        path: PathBuf,
        /// Why.
        problem: String,
    },
}

fn invalid(field: &'static str, problem: impl Into<String>) -> ConfigError {
    ConfigError::Invalid { field, problem: problem.into() }
}

fn check_cstr(field: &'static str, value: &str, max: usize) -> Result<(), ConfigError> {
    if value.len() > max {
        return Err(invalid(field, format!("has {} characters, SMPP allows at most {max}", value.len())));
    }
    if value.bytes().any(|b| b == 0 || !b.is_ascii()) {
        return Err(invalid(field, "must be ASCII without NUL"));
    }
    Ok(())
}

impl SmppConfig {
    /// A configuration with the defaults for everything but the SMSC and the credentials.
    pub fn new(host: impl Into<String>, port: u16, system_id: impl Into<String>, password_file: PathBuf) -> Self {
        SmppConfig {
            host: host.into(),
            port,
            system_id: system_id.into(),
            password_file,
            system_type: String::new(),
            tls: None,
            window: default_window(),
            enquire_link_secs: default_enquire_link_secs(),
            response_timeout_ms: default_response_timeout_ms(),
            reconnect_min_ms: default_reconnect_min_ms(),
            reconnect_max_ms: default_reconnect_max_ms(),
            throttle_retries: default_throttle_retries(),
            throttle_delay_ms: default_throttle_delay_ms(),
        }
    }

    /// Checks the values (not the files).
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.host.is_empty() {
            return Err(invalid("host", "must not be empty"));
        }
        if self.port == 0 {
            return Err(invalid("port", "must not be 0"));
        }
        check_cstr("system_id", &self.system_id, 15)?;
        check_cstr("system_type", &self.system_type, 12)?;
        if self.window == 0 {
            return Err(invalid("window", "must be at least 1"));
        }
        if self.enquire_link_secs == 0 {
            return Err(invalid("enquire_link_secs", "must be at least 1"));
        }
        if self.response_timeout_ms == 0 {
            return Err(invalid("response_timeout_ms", "must be at least 1"));
        }
        if self.reconnect_min_ms == 0 || self.reconnect_min_ms > self.reconnect_max_ms {
            return Err(invalid("reconnect_min_ms", "must be at least 1 and at most reconnect_max_ms"));
        }
        Ok(())
    }

    /// Reads the bind password (at most 8 ASCII characters; one trailing newline is dropped). The
    /// file's content is zeroized once read.
    pub fn read_password(&self) -> Result<Zeroizing<String>, ConfigError> {
        let raw = Zeroizing::new(std::fs::read_to_string(&self.password_file).map_err(|source| ConfigError::File {
            field: "password_file",
            path: self.password_file.clone(),
            source,
        })?);
        let trimmed = raw.strip_suffix('\n').unwrap_or(&raw);
        let trimmed = trimmed.strip_suffix('\r').unwrap_or(trimmed);
        if trimmed.len() > 8 || trimmed.bytes().any(|b| b == 0 || !b.is_ascii()) {
            // The password itself is never part of the message.
            return Err(invalid("password_file", "the password must be at most 8 ASCII characters (SMPP 3.4 §4.1.1)"));
        }
        Ok(Zeroizing::new(trimmed.to_string()))
    }

    pub(crate) fn response_timeout(&self) -> Duration {
        Duration::from_millis(self.response_timeout_ms)
    }
}

impl SmppTlsConfig {
    /// The rustls client configuration and the name to check, for `host`.
    pub fn connector(&self, host: &str) -> Result<(tokio_rustls::TlsConnector, ServerName<'static>), ConfigError> {
        let tls_error = |problem: String| ConfigError::Tls { path: self.ca_file.clone(), problem };
        let mut roots = rustls::RootCertStore::empty();
        for cert in pem_certs(&self.ca_file).map_err(|e| tls_error(e.to_string()))? {
            roots.add(cert).map_err(|e| tls_error(e.to_string()))?;
        }
        if roots.is_empty() {
            return Err(tls_error("holds no certificate".into()));
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| tls_error(e.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let name = self.server_name.clone().unwrap_or_else(|| host.to_string());
        let name = ServerName::try_from(name.clone())
            .map_err(|_| invalid("tls.server_name", format!("{name:?} is not a DNS name or IP address")))?;
        Ok((tokio_rustls::TlsConnector::from(Arc::new(config)), name))
    }
}

fn pem_certs(file: &Path) -> Result<Vec<CertificateDer<'static>>, rustls::pki_types::pem::Error> {
    CertificateDer::pem_file_iter(file)?.collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_limits() {
        let c: SmppConfig =
            toml::from_str("host = \"smsc\"\nsystem_id = \"warden\"\npassword_file = \"/x\"\n").unwrap();
        assert_eq!((c.port, c.window, c.enquire_link_secs, c.throttle_retries), (2775, 10, 30, 3));
        c.validate().unwrap();
        let mut bad = c.clone();
        bad.system_id = "a-system-id-too-long".into();
        assert_eq!(
            bad.validate().unwrap_err().to_string(),
            "sms.smpp.system_id: has 20 characters, SMPP allows at most 15"
        );
        let mut bad = c;
        bad.window = 0;
        assert!(bad.validate().unwrap_err().to_string().contains("sms.smpp.window"));
        assert!(toml::from_str::<SmppConfig>("host = \"h\"\nsystem_id = \"s\"\npassword_file = \"/x\"\nbogus = 1\n")
            .is_err());
    }

    #[test]
    fn the_password_is_read_trimmed_and_never_echoed() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pw");
        std::fs::write(&file, "s3cret\n").unwrap();
        let c = SmppConfig::new("h", 2775, "w", file.clone());
        assert_eq!(c.read_password().unwrap().as_str(), "s3cret");
        std::fs::write(&file, "much-too-long-secret").unwrap();
        let e = c.read_password().unwrap_err().to_string();
        assert!(e.contains("at most 8"), "{e}");
        assert!(!e.contains("much-too-long-secret"), "{e}");
    }
}
