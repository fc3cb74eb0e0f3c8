//! The EST server's and OCSP responder's series (`warden_devices_est_*`, `warden_devices_ocsp_*`)
//! through the [`metrics`] facade, rendered on `/metrics` by `warden serve` (docs/devices.md).
//! Labels come from fixed sets only: never an endpoint name, a serial or an address.

/// Certificates issued, by `kind` (`enrol`: `/simpleenroll` with a token; `reenrol`:
/// `/simplereenroll` with the current certificate).
pub const ENROLMENTS: &str = "warden_devices_est_enrolments_total";
/// Enrolments refused, by `kind` and `reason` ([`Refused`]).
pub const REFUSED: &str = "warden_devices_est_refused_total";
/// OCSP answers, by `status` (`good`, `revoked`, `unknown` per certificate asked about;
/// `malformed`, `unauthorized`, `internal_error` for error responses).
pub const OCSP: &str = "warden_devices_ocsp_answers_total";

/// Which enrolment route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `/simpleenroll`.
    Enrol,
    /// `/simplereenroll`.
    Reenrol,
}

impl Kind {
    /// The label value.
    pub fn label(self) -> &'static str {
        match self {
            Kind::Enrol => "enrol",
            Kind::Reenrol => "reenrol",
        }
    }
}

/// Why an enrolment was refused: the `reason` label of [`REFUSED`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// No token, an unknown, used or expired one, one for another endpoint, or (re-enrolment) no
    /// usable client certificate (401).
    BadToken,
    /// The source or endpoint is locked out after failed tokens (429).
    RateLimited,
    /// The CSR is not base64 DER, not `application/pkcs10`, or refused by the policy (400, 415).
    BadCsr,
    /// Re-enrolment with a revoked certificate (403).
    Revoked,
    /// Re-enrolment refused otherwise (expired, not issued here; 403).
    Forbidden,
    /// The body is over the size limit (413).
    Oversized,
    /// Storage or the CA failed (500).
    Internal,
}

impl Refused {
    /// Every reason.
    pub const ALL: [Refused; 7] = [
        Refused::BadToken,
        Refused::RateLimited,
        Refused::BadCsr,
        Refused::Revoked,
        Refused::Forbidden,
        Refused::Oversized,
        Refused::Internal,
    ];

    /// The label value.
    pub fn label(self) -> &'static str {
        match self {
            Refused::BadToken => "bad_token",
            Refused::RateLimited => "rate_limited",
            Refused::BadCsr => "bad_csr",
            Refused::Revoked => "revoked",
            Refused::Forbidden => "forbidden",
            Refused::Oversized => "oversized",
            Refused::Internal => "internal",
        }
    }
}

/// The OCSP `status` label values.
pub const OCSP_STATUSES: [&str; 6] = ["good", "revoked", "unknown", "malformed", "unauthorized", "internal_error"];

/// Counts one certificate issued.
pub fn enrolled(kind: Kind) {
    metrics::counter!(ENROLMENTS, "kind" => kind.label()).increment(1);
}

/// Counts one refused enrolment.
pub fn refused(kind: Kind, why: Refused) {
    metrics::counter!(REFUSED, "kind" => kind.label(), "reason" => why.label()).increment(1);
}

/// Counts one OCSP answer of `status` (one of [`OCSP_STATUSES`]).
pub fn ocsp(status: &'static str) {
    metrics::counter!(OCSP, "status" => status).increment(1);
}

/// Gives the series their help text and shows them at 0.
pub fn describe() {
    metrics::describe_counter!(ENROLMENTS, "EST certificates issued, by kind (enrol, reenrol).");
    metrics::describe_counter!(REFUSED, "EST enrolments refused, by kind and reason.");
    metrics::describe_counter!(OCSP, "OCSP answers, by certificate status or error status.");
    for kind in [Kind::Enrol, Kind::Reenrol] {
        metrics::counter!(ENROLMENTS, "kind" => kind.label()).absolute(0);
        for r in Refused::ALL {
            metrics::counter!(REFUSED, "kind" => kind.label(), "reason" => r.label()).absolute(0);
        }
    }
    for s in OCSP_STATUSES {
        metrics::counter!(OCSP, "status" => s).absolute(0);
    }
}
