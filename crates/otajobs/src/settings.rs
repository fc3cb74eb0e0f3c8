//! The engine's settings: the `[ota]` section of the configuration, checked once into [`OtaSettings`].

use std::time::Duration;

use ota::{ScriptFormat, Spi};
use serde::Deserialize;

/// A setting that does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("ota.{field}: {reason}")]
pub struct SettingsError {
    /// The setting.
    pub field: &'static str,
    /// What is wrong.
    pub reason: String,
}

fn err(field: &'static str, reason: impl Into<String>) -> SettingsError {
    SettingsError { field, reason: reason.into() }
}

/// `[ota]` as written.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OtaSection {
    /// TP-OA of the command SMS and the address PoRs are sent to (digits, optional `+`).
    pub originator: String,
    /// SPI, 4 hex digits (default `1639`: counter must be higher, ciphered, CC; PoR always, ciphered
    /// with CC, sent by SMS-SUBMIT).
    #[serde(default = "default_spi")]
    pub spi: String,
    /// The key set used (its number, 1-15).
    #[serde(default = "default_keyset")]
    pub keyset: u8,
    /// TAR of the RFM application addressed, 6 hex digits (default `b00011`, USIM RFM).
    #[serde(default = "default_tar")]
    pub tar: String,
    /// `compact` or `expanded` remote-command format.
    #[serde(default = "default_format")]
    pub format: String,
    /// Messages (SMS segments) per second, over every job.
    #[serde(default = "default_rate")]
    pub rate: f64,
    /// Seconds to wait for a PoR.
    #[serde(default = "default_timeout")]
    pub por_timeout_secs: u64,
    /// Attempts per SIM before it is reported failed.
    #[serde(default = "default_attempts")]
    pub max_attempts: u32,
    /// Seconds before the first retry (doubled for each further one).
    #[serde(default = "default_backoff")]
    pub retry_backoff_secs: u64,
    /// SIMs in progress at once (waiting for their PoR).
    #[serde(default = "default_window")]
    pub window: usize,
    /// Seconds between looks at the firewall's risky networks for steering.
    #[serde(default = "default_poll")]
    pub steering_poll_secs: u64,
}

fn default_spi() -> String {
    "1639".into()
}
fn default_keyset() -> u8 {
    1
}
fn default_tar() -> String {
    "b00011".into()
}
fn default_format() -> String {
    "compact".into()
}
fn default_rate() -> f64 {
    20.0
}
fn default_timeout() -> u64 {
    120
}
fn default_attempts() -> u32 {
    3
}
fn default_backoff() -> u64 {
    60
}
fn default_window() -> usize {
    256
}
fn default_poll() -> u64 {
    10
}

/// Checked settings.
#[derive(Debug, Clone, PartialEq)]
pub struct OtaSettings {
    /// TP-OA, and where PoRs are addressed.
    pub originator: String,
    /// SPI of every command.
    pub spi: Spi,
    /// Key-set number.
    pub keyset: u8,
    /// TAR addressed.
    pub tar: [u8; 3],
    /// Remote-command format.
    pub format: ScriptFormat,
    /// Messages per second.
    pub rate: f64,
    /// Wait for a PoR.
    pub por_timeout: Duration,
    /// Attempts per SIM.
    pub max_attempts: u32,
    /// First retry delay.
    pub retry_backoff: Duration,
    /// SIMs in progress at once.
    pub window: usize,
    /// Steering's look at the risky networks.
    pub steering_poll: Duration,
}

impl OtaSection {
    /// Checks every value.
    pub fn check(&self) -> Result<OtaSettings, SettingsError> {
        ota::sms::Address::parse(&self.originator).map_err(|e| err("originator", e.to_string()))?;
        let spi_bytes: [u8; 2] = hex::decode(&self.spi)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| err("spi", format!("{:?} is not 4 hex digits", self.spi)))?;
        let spi = Spi::from_bytes(spi_bytes).map_err(|e| err("spi", e.to_string()))?;
        let tar: [u8; 3] = hex::decode(&self.tar)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| err("tar", format!("{:?} is not 6 hex digits", self.tar)))?;
        let format = match self.format.as_str() {
            "compact" => ScriptFormat::Compact,
            "expanded" => ScriptFormat::Expanded,
            other => return Err(err("format", format!("{other:?} is neither compact nor expanded"))),
        };
        if !(1..=15).contains(&self.keyset) {
            return Err(err("keyset", format!("{} is outside 1-15", self.keyset)));
        }
        if !(self.rate.is_finite() && self.rate > 0.0 && self.rate <= 100_000.0) {
            return Err(err("rate", format!("{} is not a rate above 0 and at most 100000 a second", self.rate)));
        }
        if self.por_timeout_secs == 0 || self.max_attempts == 0 || self.window == 0 || self.steering_poll_secs == 0 {
            return Err(err("por_timeout_secs", "timeouts, attempts, window and poll interval must be above 0"));
        }
        if self.max_attempts > 20 {
            return Err(err("max_attempts", format!("{} is more than 20", self.max_attempts)));
        }
        Ok(OtaSettings {
            originator: self.originator.clone(),
            spi,
            keyset: self.keyset,
            tar,
            format,
            rate: self.rate,
            por_timeout: Duration::from_secs(self.por_timeout_secs),
            max_attempts: self.max_attempts,
            retry_backoff: Duration::from_secs(self.retry_backoff_secs),
            window: self.window,
            steering_poll: Duration::from_secs(self.steering_poll_secs),
        })
    }
}

impl OtaSettings {
    /// Settings for tests and benchmarks: `originator`, defaults elsewhere.
    pub fn with_originator(originator: &str) -> Result<OtaSettings, SettingsError> {
        OtaSection {
            originator: originator.into(),
            spi: default_spi(),
            keyset: default_keyset(),
            tar: default_tar(),
            format: default_format(),
            rate: default_rate(),
            por_timeout_secs: default_timeout(),
            max_attempts: default_attempts(),
            retry_backoff_secs: default_backoff(),
            window: default_window(),
            steering_poll_secs: default_poll(),
        }
        .check()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_check_and_bad_values_name_their_field() {
        let s = OtaSettings::with_originator("+4912345").unwrap();
        assert_eq!((s.tar, s.spi.to_bytes(), s.keyset), ([0xb0, 0x00, 0x11], [0x16, 0x39], 1));
        let base: OtaSection = serde_json::from_value(serde_json::json!({"originator": "12345"})).unwrap();
        for (patch, field) in [
            (serde_json::json!({"spi": "16"}), "spi"),
            (serde_json::json!({"tar": "zz0011"}), "tar"),
            (serde_json::json!({"rate": 0.0}), "rate"),
            (serde_json::json!({"format": "xml"}), "format"),
            (serde_json::json!({"originator": "12-34"}), "originator"),
            (serde_json::json!({"keyset": 16}), "keyset"),
        ] {
            let mut v = serde_json::to_value(serde_json::json!({"originator": base.originator})).unwrap();
            v.as_object_mut().unwrap().extend(patch.as_object().unwrap().clone());
            let section: OtaSection = serde_json::from_value(v).unwrap();
            assert_eq!(section.check().unwrap_err().field, field);
        }
    }
}
