//! The device-management series on `/metrics` (`warden_devices_*`, docs/devices.md): the LwM2M
//! server's and DTLS listeners' ([`coap::metrics`], recorded in `lwm2m` and `dtls`), the EST
//! server's and OCSP responder's ([`est::metrics`]), and here the bootstrap server's outcomes and
//! the firmware campaigns' device outcomes. Labels come from fixed sets only.

/// Bootstraps, by `outcome` ([`Bootstrap`]).
pub const BOOTSTRAPS: &str = "warden_devices_bootstraps_total";
/// Firmware campaign device outcomes, by `outcome` (`succeeded`, `failed`, `skipped`).
pub const FIRMWARE: &str = "warden_devices_firmware_updates_total";

/// The firmware `outcome` values (the campaign device states an update ends in).
pub const FIRMWARE_OUTCOMES: [&str; 3] = ["succeeded", "failed", "skipped"];

/// How a bootstrap went: the `outcome` label of [`BOOTSTRAPS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bootstrap {
    /// A Bootstrap-Request was accepted and the sequence started.
    Started,
    /// Bootstrap-Finish was answered 2.04 and the provisioned credential stored.
    Provisioned,
    /// The device failed a step (an error code, a Reset, or no answer in time).
    Failed,
    /// The Bootstrap-Request was refused (4.xx/5.xx).
    Refused,
    /// The device finished but the provisioned credential could not be stored.
    NotStored,
    /// The device finished but another bootstrap of the same endpoint (another instance) had
    /// finished first since this one started: nothing stored, the device bootstraps again.
    Superseded,
}

impl Bootstrap {
    /// Every outcome.
    pub const ALL: [Bootstrap; 6] = [
        Bootstrap::Started,
        Bootstrap::Provisioned,
        Bootstrap::Failed,
        Bootstrap::Refused,
        Bootstrap::NotStored,
        Bootstrap::Superseded,
    ];

    /// The label value.
    pub fn label(self) -> &'static str {
        match self {
            Bootstrap::Started => "started",
            Bootstrap::Provisioned => "provisioned",
            Bootstrap::Failed => "failed",
            Bootstrap::Refused => "refused",
            Bootstrap::NotStored => "not_stored",
            Bootstrap::Superseded => "superseded",
        }
    }
}

/// Counts one bootstrap outcome.
pub fn bootstrap(outcome: Bootstrap) {
    metrics::counter!(BOOTSTRAPS, "outcome" => outcome.label()).increment(1);
}

/// Counts one firmware campaign device outcome (`state`, one of [`FIRMWARE_OUTCOMES`]).
pub fn firmware(state: &'static str) {
    metrics::counter!(FIRMWARE, "outcome" => state).increment(1);
}

/// Gives every device series its help text and shows it at 0.
pub fn describe() {
    coap::metrics::describe();
    est::metrics::describe();
    metrics::describe_counter!(BOOTSTRAPS, "LwM2M bootstraps, by outcome.");
    metrics::describe_counter!(FIRMWARE, "Firmware campaign device outcomes.");
    for b in Bootstrap::ALL {
        metrics::counter!(BOOTSTRAPS, "outcome" => b.label()).absolute(0);
    }
    for o in FIRMWARE_OUTCOMES {
        metrics::counter!(FIRMWARE, "outcome" => o).absolute(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every series is on the exposition from the start, at 0, with its help text.
    #[test]
    fn every_device_series_is_described_at_zero() {
        let recorder = crate::metrics::recorder().unwrap();
        let handle = recorder.handle();
        metrics::with_local_recorder(&recorder, describe);
        let text = handle.render();
        for name in [
            coap::metrics::REGISTRATIONS,
            coap::metrics::UPDATES,
            coap::metrics::DEREGISTRATIONS,
            coap::metrics::EXPIRIES,
            coap::metrics::REGISTERED,
            coap::metrics::REFUSED,
            coap::metrics::HANDSHAKES,
            coap::metrics::HANDSHAKE_FAILURES,
            est::metrics::ENROLMENTS,
            est::metrics::REFUSED,
            est::metrics::OCSP,
            BOOTSTRAPS,
            FIRMWARE,
        ] {
            assert!(text.contains(&format!("# HELP {name} ")), "{name}: {text}");
        }
        assert!(text.contains("warden_devices_refused_total{reason=\"unknown_psk_identity\"} 0"), "{text}");
        assert!(text.contains("warden_devices_est_refused_total{kind=\"enrol\",reason=\"bad_token\"} 0"), "{text}");
        assert!(text.contains("warden_devices_bootstraps_total{outcome=\"provisioned\"} 0"), "{text}");
        assert!(text.contains("warden_devices_registered 0"), "{text}");
    }
}
