//! The device-management series of the LwM2M server and its DTLS listeners (`warden_devices_*`),
//! recorded through the [`metrics`] facade by the crates that serve devices (`lwm2m`, `dtls`) and
//! rendered on `/metrics` by `warden serve` (docs/devices.md lists them). Without an installed
//! recorder recording costs nothing.
//!
//! Every label value is one of a fixed set ([`Refusal::label`], [`Transport`], [`handshake_failure`]):
//! never an endpoint name, a PSK identity, an IMSI or an address.

/// LwM2M registrations accepted, by transport (`coap`, `coaps`); a re-registration counts.
pub const REGISTRATIONS: &str = "warden_devices_registrations_total";
/// Registration updates accepted.
pub const UPDATES: &str = "warden_devices_updates_total";
/// De-registrations.
pub const DEREGISTRATIONS: &str = "warden_devices_deregistrations_total";
/// Registrations whose lifetime ran out.
pub const EXPIRIES: &str = "warden_devices_expiries_total";
/// Devices registered now (gauge).
pub const REGISTERED: &str = "warden_devices_registered";
/// Device requests and handshakes refused, by [`Refusal`].
pub const REFUSED: &str = "warden_devices_refused_total";
/// DTLS handshakes completed.
pub const HANDSHAKES: &str = "warden_devices_dtls_handshakes_total";
/// DTLS handshakes that failed, by reason ([`handshake_failure`]).
pub const HANDSHAKE_FAILURES: &str = "warden_devices_dtls_handshake_failures_total";

/// How a device reached the LwM2M server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// Plain CoAP (lab, `allow_unsecured`).
    Coap,
    /// CoAP over DTLS.
    Coaps,
}

impl Transport {
    /// The label value.
    pub fn label(self) -> &'static str {
        match self {
            Transport::Coap => "coap",
            Transport::Coaps => "coaps",
        }
    }
}

/// Why a device's request or handshake was refused: the `reason` label of [`REFUSED`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// A registration without DTLS while `allow_unsecured` is off.
    Unauthenticated,
    /// A registration under an endpoint name other than the one its credential was stored for.
    EndpointMismatch,
    /// An update or de-registration of a registration that belongs to another identity.
    WrongIdentity,
    /// A DTLS handshake with a PSK identity the listener does not hold.
    UnknownPskIdentity,
    /// A DTLS handshake that failed otherwise (wrong key, bad certificate, time-out, …; the reason
    /// is in [`HANDSHAKE_FAILURES`]).
    HandshakeFailed,
    /// A DTLS ClientHello dropped by the per-source handshake rate.
    HandshakeRateLimited,
    /// A DTLS ClientHello dropped because the listener is at its session or handshake bound.
    HandshakeBusy,
    /// A client certificate that is revoked (in the handshake or cut off afterwards).
    RevokedCertificate,
    /// A datagram that is not CoAP.
    Malformed,
    /// A request body over the size limit (4.13).
    Oversized,
    /// A plain-CoAP registration over the per-source rate (5.03 with Max-Age).
    RateLimited,
    /// A registration while the registry is full, or too many uploads at once (5.03).
    Busy,
    /// Any other refused request (bad parameters, options or content format, no such resource).
    BadRequest,
}

impl Refusal {
    /// Every reason, for describing the series at 0.
    pub const ALL: [Refusal; 13] = [
        Refusal::Unauthenticated,
        Refusal::EndpointMismatch,
        Refusal::WrongIdentity,
        Refusal::UnknownPskIdentity,
        Refusal::HandshakeFailed,
        Refusal::HandshakeRateLimited,
        Refusal::HandshakeBusy,
        Refusal::RevokedCertificate,
        Refusal::Malformed,
        Refusal::Oversized,
        Refusal::RateLimited,
        Refusal::Busy,
        Refusal::BadRequest,
    ];

    /// The label value.
    pub fn label(self) -> &'static str {
        match self {
            Refusal::Unauthenticated => "unauthenticated",
            Refusal::EndpointMismatch => "endpoint_mismatch",
            Refusal::WrongIdentity => "wrong_identity",
            Refusal::UnknownPskIdentity => "unknown_psk_identity",
            Refusal::HandshakeFailed => "handshake_failed",
            Refusal::HandshakeRateLimited => "handshake_rate_limited",
            Refusal::HandshakeBusy => "handshake_busy",
            Refusal::RevokedCertificate => "revoked_certificate",
            Refusal::Malformed => "malformed",
            Refusal::Oversized => "oversized",
            Refusal::RateLimited => "rate_limited",
            Refusal::Busy => "busy",
            Refusal::BadRequest => "bad_request",
        }
    }
}

/// The `reason` values of [`HANDSHAKE_FAILURES`], from OpenSSL's reason for the failure (its
/// alert or error) as [`handshake_failure`] maps it; anything else is `other`.
pub const HANDSHAKE_FAILURE_REASONS: [&str; 10] = [
    "unknown_psk_identity",
    "bad_record_mac",
    "decrypt_error",
    "certificate_verify_failed",
    "revoked_certificate",
    "no_certificate",
    "no_shared_cipher",
    "peer_alert",
    "timeout",
    "other",
];

/// The bounded reason of a failed handshake from OpenSSL's text of it (`SSL routines::…`, the
/// alert received, or this crate's own `handshake timeout`).
pub fn handshake_failure(openssl_reason: &str) -> &'static str {
    let r = openssl_reason.to_ascii_lowercase();
    let has = |s: &str| r.contains(s);
    if has("psk identity not found") || has("unknown psk identity") {
        "unknown_psk_identity"
    } else if has("bad record mac") || has("decryption failed") {
        "bad_record_mac"
    } else if has("decrypt error") || has("digest check failed") {
        "decrypt_error"
    } else if has("revoked") || has("application verification") {
        "revoked_certificate"
    } else if has("certificate verify failed") {
        "certificate_verify_failed"
    } else if has("peer did not return a certificate") || has("no certificate") {
        "no_certificate"
    } else if has("no shared cipher") || has("no suitable") {
        "no_shared_cipher"
    } else if has("alert") {
        "peer_alert"
    } else if has("timeout") || has("timed out") {
        "timeout"
    } else {
        "other"
    }
}

/// Counts one refusal.
pub fn refused(why: Refusal) {
    metrics::counter!(REFUSED, "reason" => why.label()).increment(1);
}

/// Counts one failed DTLS handshake: by its reason, and as a refusal (an unknown PSK identity and
/// a revoked certificate under their own reasons, anything else as `handshake_failed`).
pub fn handshake_failed(openssl_reason: &str) {
    let reason = handshake_failure(openssl_reason);
    metrics::counter!(HANDSHAKE_FAILURES, "reason" => reason).increment(1);
    refused(match reason {
        "unknown_psk_identity" => Refusal::UnknownPskIdentity,
        "revoked_certificate" => Refusal::RevokedCertificate,
        _ => Refusal::HandshakeFailed,
    });
}

/// Counts one completed DTLS handshake.
pub fn handshake_completed() {
    metrics::counter!(HANDSHAKES).increment(1);
}

/// Counts one accepted registration.
pub fn registered(transport: Transport) {
    metrics::counter!(REGISTRATIONS, "transport" => transport.label()).increment(1);
}

/// Counts one registration update.
pub fn updated() {
    metrics::counter!(UPDATES).increment(1);
}

/// Counts one de-registration.
pub fn deregistered() {
    metrics::counter!(DEREGISTRATIONS).increment(1);
}

/// Counts one expiry.
pub fn expired() {
    metrics::counter!(EXPIRIES).increment(1);
}

/// Sets the gauge of devices registered now.
pub fn registered_now(n: usize) {
    metrics::gauge!(REGISTERED).set(n as f64);
}

/// Gives the series their help text and shows every counter at 0 (so a rate is defined from the
/// first scrape).
pub fn describe() {
    metrics::describe_counter!(REGISTRATIONS, "LwM2M registrations accepted, by transport (coap, coaps).");
    metrics::describe_counter!(UPDATES, "LwM2M registration updates accepted.");
    metrics::describe_counter!(DEREGISTRATIONS, "LwM2M de-registrations.");
    metrics::describe_counter!(EXPIRIES, "LwM2M registrations whose lifetime ran out.");
    metrics::describe_gauge!(REGISTERED, "LwM2M devices registered now.");
    metrics::describe_counter!(REFUSED, "Device requests and DTLS handshakes refused, by reason.");
    metrics::describe_counter!(HANDSHAKES, "DTLS handshakes completed (CoAPs and bootstrap listeners).");
    metrics::describe_counter!(
        HANDSHAKE_FAILURES,
        "DTLS handshakes that failed, by reason (OpenSSL's alert or error)."
    );
    for t in [Transport::Coap, Transport::Coaps] {
        metrics::counter!(REGISTRATIONS, "transport" => t.label()).absolute(0);
    }
    for name in [UPDATES, DEREGISTRATIONS, EXPIRIES, HANDSHAKES] {
        metrics::counter!(name).absolute(0);
    }
    for r in Refusal::ALL {
        metrics::counter!(REFUSED, "reason" => r.label()).absolute(0);
    }
    for r in HANDSHAKE_FAILURE_REASONS {
        metrics::counter!(HANDSHAKE_FAILURES, "reason" => r).absolute(0);
    }
    metrics::gauge!(REGISTERED).set(0.0);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openssl_reasons_map_to_a_bounded_set() {
        let cases = [
            ("error:0A000133:SSL routines::psk identity not found", "unknown_psk_identity"),
            ("error:0A000119:SSL routines::decryption failed or bad record mac", "bad_record_mac"),
            ("error:0A000086:SSL routines::certificate verify failed", "certificate_verify_failed"),
            ("error:0A0000C7:SSL routines::peer did not return a certificate", "no_certificate"),
            ("error:0A0000C1:SSL routines::no shared cipher", "no_shared_cipher"),
            ("error:0A000418:SSL routines::tlsv1 alert unknown ca", "peer_alert"),
            ("handshake timeout", "timeout"),
            ("something new", "other"),
        ];
        for (text, want) in cases {
            assert_eq!(handshake_failure(text), want, "{text}");
            assert!(HANDSHAKE_FAILURE_REASONS.contains(&want));
        }
        let labels: std::collections::HashSet<_> = Refusal::ALL.iter().map(|r| r.label()).collect();
        assert_eq!(labels.len(), Refusal::ALL.len(), "labels are distinct");
    }
}
