//! `[devices]` settings of the EST server: where it listens (HTTPS, and plain HTTP for the CRL and
//! OCSP), its TLS certificate, one CA per tenant or one for the operator, certificate lifetimes, the
//! public base URL written into certificates, the request size limit, and how many failed enrolment
//! tokens a source address and an endpoint name may try (SEC-7).

use std::net::SocketAddr;

use serde::Deserialize;

/// One issuing CA per tenant, or one for the whole operator.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CaMode {
    /// Each tenant's devices get certificates from the tenant's own CA.
    #[default]
    Tenant,
    /// Every device gets its certificate from the operator's CA.
    Operator,
}

/// The keys of [`EstSettings`], each a field of it: the `[devices]` keys that belong to the EST
/// server (the section is shared with the LwM2M server, which takes every other key).
pub const KEYS: &[&str] = &[
    "est_listen",
    "revocation_listen",
    "public_url",
    "est_tls",
    "est_ca",
    "cert_days",
    "crl_hours",
    "token_hours",
    "max_body",
    "est_failed_tokens_per_source_per_min",
    "est_failed_tokens_per_source_burst",
    "est_failed_tokens_per_endpoint_per_min",
    "est_failed_tokens_per_endpoint_burst",
];

/// The EST keys of `[devices]` ([`KEYS`]).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EstSettings {
    /// EST over HTTPS (RFC 7030), e.g. `127.0.0.1:8443`; absent: no EST server.
    #[serde(default)]
    pub est_listen: Option<SocketAddr>,
    /// CRL and OCSP over plain HTTP (RFC 5280 §4.2.1.13, RFC 6960 appendix A), default
    /// `127.0.0.1:8089`; they are also served on the HTTPS listener.
    #[serde(default = "default_revocation_listen")]
    pub revocation_listen: SocketAddr,
    /// The base URL of the CRL and OCSP as devices reach it, written into every certificate
    /// (default `http://<revocation_listen>`).
    #[serde(default)]
    pub public_url: Option<String>,
    /// The EST listener's certificate chain and key (PEM); absent: `[http.tls]`'s.
    #[serde(default)]
    pub est_tls: Option<api::tls::TlsFiles>,
    /// `tenant` (default) or `operator`.
    #[serde(default)]
    pub est_ca: CaMode,
    /// Lifetime of device certificates, days (default 30).
    #[serde(default = "default_cert_days")]
    pub cert_days: u32,
    /// How long a CRL is valid (its nextUpdate), hours (default 24).
    #[serde(default = "default_crl_hours")]
    pub crl_hours: u32,
    /// Default lifetime of enrolment tokens, hours (default 24).
    #[serde(default = "default_token_hours")]
    pub token_hours: u32,
    /// Largest request body, bytes (default 16 KiB): larger ones get 413.
    #[serde(default = "default_max_body")]
    pub max_body: usize,
    /// Failed enrolment tokens (wrong, unknown, used, expired) a source IP address may try a minute
    /// (default 2; 0: no limit); past it `simpleenroll` answers 429 with Retry-After before looking
    /// at the token.
    #[serde(default = "default_failed_per_source_per_min")]
    pub est_failed_tokens_per_source_per_min: u32,
    /// Failed tokens a source may try at once before the rate applies (default 5).
    #[serde(default = "default_failed_per_source_burst")]
    pub est_failed_tokens_per_source_burst: u32,
    /// Failed tokens an endpoint name (the HTTP Basic user) may see a minute from all sources
    /// together (default 10; 0: no limit); looser than per source, so that one brute-forcing
    /// address is locked out while the device itself, from another address, still enrols.
    #[serde(default = "default_failed_per_endpoint_per_min")]
    pub est_failed_tokens_per_endpoint_per_min: u32,
    /// Failed tokens an endpoint name may see at once before the rate applies (default 20).
    #[serde(default = "default_failed_per_endpoint_burst")]
    pub est_failed_tokens_per_endpoint_burst: u32,
}

fn default_revocation_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8089))
}

fn default_cert_days() -> u32 {
    30
}

fn default_crl_hours() -> u32 {
    24
}

fn default_token_hours() -> u32 {
    24
}

fn default_max_body() -> usize {
    16 * 1024
}

fn default_failed_per_source_per_min() -> u32 {
    2
}

fn default_failed_per_source_burst() -> u32 {
    5
}

fn default_failed_per_endpoint_per_min() -> u32 {
    10
}

fn default_failed_per_endpoint_burst() -> u32 {
    20
}

impl Default for EstSettings {
    fn default() -> Self {
        Self {
            est_listen: None,
            revocation_listen: default_revocation_listen(),
            public_url: None,
            est_tls: None,
            est_ca: CaMode::default(),
            cert_days: default_cert_days(),
            crl_hours: default_crl_hours(),
            token_hours: default_token_hours(),
            max_body: default_max_body(),
            est_failed_tokens_per_source_per_min: default_failed_per_source_per_min(),
            est_failed_tokens_per_source_burst: default_failed_per_source_burst(),
            est_failed_tokens_per_endpoint_per_min: default_failed_per_endpoint_per_min(),
            est_failed_tokens_per_endpoint_burst: default_failed_per_endpoint_burst(),
        }
    }
}

impl EstSettings {
    /// Checks the values.
    pub fn validate(&self) -> Result<(), String> {
        if !(1..=825).contains(&self.cert_days) {
            return Err(format!("devices.cert_days = {}: must be 1 to 825", self.cert_days));
        }
        if self.crl_hours == 0 || self.crl_hours > 24 * 31 {
            return Err(format!("devices.crl_hours = {}: must be 1 to 744", self.crl_hours));
        }
        if self.token_hours == 0 || self.token_hours > 24 * 90 {
            return Err(format!("devices.token_hours = {}: must be 1 to 2160", self.token_hours));
        }
        if !(1024..=1 << 20).contains(&self.max_body) {
            return Err(format!("devices.max_body = {}: must be 1024 to 1048576", self.max_body));
        }
        for (key, v) in [
            ("est_failed_tokens_per_source_per_min", self.est_failed_tokens_per_source_per_min),
            ("est_failed_tokens_per_source_burst", self.est_failed_tokens_per_source_burst),
            ("est_failed_tokens_per_endpoint_per_min", self.est_failed_tokens_per_endpoint_per_min),
            ("est_failed_tokens_per_endpoint_burst", self.est_failed_tokens_per_endpoint_burst),
        ] {
            if v > 10_000 {
                return Err(format!("devices.{key} = {v}: must be 0 to 10000"));
            }
        }
        if let Some(u) = &self.public_url {
            if !(u.starts_with("http://") || u.starts_with("https://")) {
                return Err(format!("devices.public_url = {u:?}: must be an http:// or https:// URL"));
            }
        }
        Ok(())
    }

    /// The issuing policy these settings give.
    pub fn policy(&self) -> Policy {
        Policy {
            ca_mode: self.est_ca,
            lifetime_secs: i64::from(self.cert_days) * 86_400,
            public_url: self.public_url.clone().unwrap_or_else(|| format!("http://{}", self.revocation_listen)),
            crl_next_update_secs: i64::from(self.crl_hours) * 3600,
            ocsp_next_update_secs: 3600,
            max_body: self.max_body,
            failed_tokens: FailedTokenLimits {
                per_source_per_min: self.est_failed_tokens_per_source_per_min,
                per_source_burst: self.est_failed_tokens_per_source_burst,
                per_endpoint_per_min: self.est_failed_tokens_per_endpoint_per_min,
                per_endpoint_burst: self.est_failed_tokens_per_endpoint_burst,
            },
        }
    }
}

/// What the CA writes into certificates and revocation data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Per tenant or per operator.
    pub ca_mode: CaMode,
    /// Certificate lifetime, seconds.
    pub lifetime_secs: i64,
    /// Base URL of the CRL and OCSP.
    pub public_url: String,
    /// CRL nextUpdate − thisUpdate, seconds.
    pub crl_next_update_secs: i64,
    /// OCSP nextUpdate − thisUpdate, seconds.
    pub ocsp_next_update_secs: i64,
    /// Largest request body, bytes.
    pub max_body: usize,
    /// How many failed enrolment tokens a source and an endpoint may try.
    pub failed_tokens: FailedTokenLimits,
}

/// Failed enrolment tokens allowed a minute (0: no limit) and at once, per source IP address and
/// per endpoint name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailedTokenLimits {
    /// A minute per source address.
    pub per_source_per_min: u32,
    /// At once per source address.
    pub per_source_burst: u32,
    /// A minute per endpoint name.
    pub per_endpoint_per_min: u32,
    /// At once per endpoint name.
    pub per_endpoint_burst: u32,
}

impl Policy {
    /// The revocation URLs of the CA of `scope`.
    pub fn urls(&self, scope: &str) -> crate::ca::RevocationUrls {
        crate::enrol::revocation_urls(&self.public_url, scope)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A value of each key that deserializes.
    fn sample(key: &str) -> Option<toml::Value> {
        let text = match key {
            "est_listen" | "revocation_listen" => "\"127.0.0.1:1\"",
            "public_url" => "\"http://pki.example\"",
            "est_tls" => "{ cert_file = \"c.pem\", key_file = \"k.pem\" }",
            "est_ca" => "\"operator\"",
            "cert_days" | "crl_hours" | "token_hours" => "2",
            "max_body" => "2048",
            "est_failed_tokens_per_source_per_min"
            | "est_failed_tokens_per_source_burst"
            | "est_failed_tokens_per_endpoint_per_min"
            | "est_failed_tokens_per_endpoint_burst" => "7",
            _ => return None,
        };
        toml::from_str::<toml::Table>(&format!("v = {text}")).ok()?.remove("v")
    }

    #[test]
    fn keys_are_exactly_the_fields() {
        // Every key is a field (unknown fields are refused) and changes it from its default.
        let mut all = toml::Table::new();
        for key in KEYS {
            let v = sample(key).unwrap_or_else(|| panic!("no sample for {key}"));
            let one: EstSettings = toml::Value::Table([(key.to_string(), v.clone())].into_iter().collect())
                .try_into()
                .unwrap_or_else(|e| panic!("{key}: {e}"));
            assert_ne!(one, EstSettings::default(), "{key} is read");
            all.insert(key.to_string(), v);
        }
        let s: EstSettings = toml::Value::Table(all).try_into().unwrap();
        // Every field is a key: this pattern stops compiling when a field is added; the keys are
        // distinct fields (above), as many as the fields, so they are exactly the fields.
        let EstSettings {
            est_listen: _,
            revocation_listen: _,
            public_url: _,
            est_tls: _,
            est_ca: _,
            cert_days: _,
            crl_hours: _,
            token_hours: _,
            max_body: _,
            est_failed_tokens_per_source_per_min: _,
            est_failed_tokens_per_source_burst: _,
            est_failed_tokens_per_endpoint_per_min: _,
            est_failed_tokens_per_endpoint_burst: _,
        } = s;
        let distinct: std::collections::HashSet<_> = KEYS.iter().collect();
        assert_eq!((distinct.len(), KEYS.len()), (13, 13), "one key per field of the pattern above");
    }
}
