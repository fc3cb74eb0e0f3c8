//! `[sms]` of `warden.toml`: the SMS router. `sgd = true` answers SGd (TS 29.338) on the
//! `[diameter]` listener for peers whose `applications` include `"sgd"` and advertises it in the
//! CEA; `sc_address` is Warden's own service-centre address in the SC-Address of the TFRs it sends;
//! `ota_address` is the address PoRs are sent to (docs/sms.md). The SMPP client's `[sms.smpp]`
//! section is added beside these when it is wired.

use serde::Deserialize;

/// `[sms]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct SmsConfig {
    /// Answer SGd MO-Forward-Short-Message and send MT-Forward-Short-Message (off by default).
    #[serde(default)]
    pub sgd: bool,
    /// Warden's service-centre address (E.164, `+` optional) for SC-Address; required with `sgd`.
    #[serde(default)]
    pub sc_address: Option<String>,
    /// The OTA server's address: MO messages to it with TP-PID 0x7F or a response-packet header
    /// are PoRs for the OTA engine, never screened.
    #[serde(default)]
    pub ota_address: Option<String>,
}

impl SmsConfig {
    /// Checks what serde cannot: `sc_address` is there with `sgd` and both addresses are E.164.
    pub fn validate(&self) -> Result<(), String> {
        let e164 = |key: &str, v: &str| {
            let d = v.strip_prefix('+').unwrap_or(v);
            if d.is_empty() || d.len() > 15 || !d.bytes().all(|b| b.is_ascii_digit()) {
                return Err(format!("sms.{key} must be an E.164 number (1-15 digits, '+' optional), not {v:?}"));
            }
            Ok(())
        };
        if let Some(a) = &self.sc_address {
            e164("sc_address", a)?;
        }
        if let Some(a) = &self.ota_address {
            e164("ota_address", a)?;
        }
        if self.sgd && self.sc_address.is_none() {
            return Err("sms.sgd = true needs sms.sc_address (Warden's service-centre address)".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_checked() {
        let ok = SmsConfig { sgd: true, sc_address: Some("+4910".into()), ota_address: Some("4911".into()) };
        ok.validate().unwrap();
        let e = SmsConfig { sgd: true, ..Default::default() }.validate().unwrap_err();
        assert!(e.contains("sc_address"), "{e}");
        let e = SmsConfig { ota_address: Some("+49 1".into()), ..Default::default() }.validate().unwrap_err();
        assert!(e.contains("sms.ota_address"), "{e}");
        SmsConfig::default().validate().unwrap();
    }
}
