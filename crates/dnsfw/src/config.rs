//! The `[dns]` configuration section: where to listen, which resolvers to ask, how to refuse, and
//! the limits (rate per SIM, cache and log sizes, TTL clamp, upstream timeout).

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// How a name outside the SIM's allowlist is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RefusedAnswer {
    /// RCODE 5 REFUSED: the client knows it was policy (default).
    #[default]
    Refused,
    /// RCODE 3 NXDOMAIN: the name looks as if it did not exist.
    Nxdomain,
}

/// `[dns]`: the DNS firewall's settings. Every field has a default; unknown fields are refused.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DnsConfig {
    /// The address served over UDP and TCP (default `127.0.0.1:5353`).
    pub listen: SocketAddr,
    /// The recursive resolvers asked for allowed names, in order: `"192.0.2.53"` (port 53) or
    /// `"192.0.2.53:5353"`, `"2001:db8::53"` or `"[2001:db8::53]:5353"`.
    #[serde(deserialize_with = "upstreams")]
    pub upstream: Vec<SocketAddr>,
    /// The answer to a name outside the allowlist (default `refused`). Queries from an address
    /// with no SIM are always REFUSED.
    pub answer_refused: RefusedAnswer,
    /// Queries per second each SIM may make (token bucket, burst twice this; default 50;
    /// 0 means unlimited).
    pub queries_per_sec_per_sim: u32,
    /// Cached answers kept at most (default 100 000).
    pub cache_entries: usize,
    /// Query-log entries kept until taken (default 100 000); newer entries are dropped and
    /// counted when it is full.
    pub log_capacity: usize,
    /// The shortest TTL cached and reported to the PCRF, in seconds (default 5).
    pub min_ttl_secs: u32,
    /// The longest TTL cached and reported to the PCRF, in seconds (default 3600).
    pub max_ttl_secs: u32,
    /// How long one upstream resolver is waited for before the next is tried, in ms (default 2000).
    pub upstream_timeout_ms: u64,
    /// How long the query log keeps a query, in hours (default 168, a week), unless the tenant has
    /// its own retention below (PR-1: kept no longer than agreed).
    pub log_retention_hours: u64,
    /// Shorter retention of the query log for some tenants, in hours (`{ acme = 24 }`); the
    /// default above is the ceiling (a longer value here keeps nothing longer).
    pub tenant_log_retention_hours: std::collections::BTreeMap<String, u64>,
    /// Only the Gx sessions of this APN identify who asks (the APN as the P-GW reports it, any
    /// case); unset: every session. An operator whose APNs' address pools overlap runs one
    /// firewall per APN with this set; without it an address held by SIMs of two APNs is refused.
    pub apn: Option<String>,
}

impl Default for DnsConfig {
    fn default() -> Self {
        DnsConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 5353)),
            upstream: Vec::new(),
            answer_refused: RefusedAnswer::Refused,
            queries_per_sec_per_sim: 50,
            cache_entries: 100_000,
            log_capacity: 100_000,
            min_ttl_secs: 5,
            max_ttl_secs: 3600,
            upstream_timeout_ms: 2000,
            log_retention_hours: 168,
            tenant_log_retention_hours: std::collections::BTreeMap::new(),
            apn: None,
        }
    }
}

/// A configuration value that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// `min_ttl_secs` is above `max_ttl_secs`.
    #[error("dns.min_ttl_secs ({min}) must not be above dns.max_ttl_secs ({max})")]
    TtlClamp {
        /// The minimum.
        min: u32,
        /// The maximum.
        max: u32,
    },
    /// The upstream timeout is zero.
    #[error("dns.upstream_timeout_ms must be at least 1")]
    Timeout,
}

impl DnsConfig {
    /// Checks the values that serde cannot (the TTL clamp and the timeout).
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.min_ttl_secs > self.max_ttl_secs {
            return Err(ConfigError::TtlClamp { min: self.min_ttl_secs, max: self.max_ttl_secs });
        }
        if self.upstream_timeout_ms == 0 {
            return Err(ConfigError::Timeout);
        }
        Ok(())
    }

    /// The upstream timeout as a duration.
    pub fn upstream_timeout(&self) -> Duration {
        Duration::from_millis(self.upstream_timeout_ms)
    }

    /// `ttl` clamped to `[min_ttl_secs, max_ttl_secs]`.
    pub fn clamp_ttl(&self, ttl: u32) -> u32 {
        ttl.clamp(self.min_ttl_secs, self.max_ttl_secs.max(self.min_ttl_secs))
    }
}

/// Parses one upstream: an IP address (port 53) or a socket address.
pub fn parse_upstream(text: &str) -> Result<SocketAddr, String> {
    let t = text.trim();
    if let Ok(ip) = t.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, 53));
    }
    t.parse::<SocketAddr>().map_err(|_| {
        format!("dns.upstream {text:?}: expected an IP address (port 53) or ADDRESS:PORT ([v6]:PORT for IPv6)")
    })
}

fn upstreams<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<SocketAddr>, D::Error> {
    let texts = Vec::<String>::deserialize(d)?;
    texts.iter().map(|t| parse_upstream(t).map_err(serde::de::Error::custom)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_apply_to_an_empty_section() {
        let c: DnsConfig = toml::from_str("").unwrap();
        assert_eq!(c, DnsConfig::default());
        assert_eq!(c.listen.to_string(), "127.0.0.1:5353");
        assert_eq!(c.queries_per_sec_per_sim, 50);
        assert_eq!((c.min_ttl_secs, c.max_ttl_secs), (5, 3600));
    }

    #[test]
    fn upstreams_take_a_bare_address_or_one_with_a_port() {
        let c: DnsConfig = toml::from_str(
            r#"upstream = ["192.0.2.53", "192.0.2.54:5353", "2001:db8::53", "[2001:db8::54]:5300"]
               answer_refused = "nxdomain""#,
        )
        .unwrap();
        let got: Vec<String> = c.upstream.iter().map(|a| a.to_string()).collect();
        assert_eq!(got, ["192.0.2.53:53", "192.0.2.54:5353", "[2001:db8::53]:53", "[2001:db8::54]:5300"]);
        assert_eq!(c.answer_refused, RefusedAnswer::Nxdomain);
        assert_eq!(c.apn, None);
        let c: DnsConfig = toml::from_str(r#"apn = "meters.example""#).unwrap();
        assert_eq!(c.apn.as_deref(), Some("meters.example"));
    }

    #[test]
    fn bad_values_are_refused_with_the_field_named() {
        let e = toml::from_str::<DnsConfig>(r#"upstream = ["resolver.example"]"#).unwrap_err().to_string();
        assert!(e.contains("dns.upstream \"resolver.example\""), "{e}");
        assert!(toml::from_str::<DnsConfig>("listen_port = 53").is_err());
        assert!(toml::from_str::<DnsConfig>(r#"answer_refused = "drop""#).is_err());
        let c = DnsConfig { min_ttl_secs: 10, max_ttl_secs: 5, ..DnsConfig::default() };
        assert!(matches!(c.validate(), Err(ConfigError::TtlClamp { .. })));
        assert_eq!(DnsConfig::default().clamp_ttl(1), 5);
        assert_eq!(DnsConfig::default().clamp_ttl(86400), 3600);
    }
}
