//! What the firewall needs from the rest of Warden: who is asking (from the Gx sessions) and where
//! to report what was resolved or refused (the PCRF). Implementations are called on the query path
//! and must not block: queue the work.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

/// Knows the SIMs behind source addresses and receives the firewall's findings.
pub trait Directory: Send + Sync + 'static {
    /// The SIM using `ip` now (from the Gx sessions), or None.
    fn lookup(&self, ip: IpAddr) -> Option<Asker>;
    /// Who is behind `ip`: what the firewall asks. By default [`Directory::lookup`]'s SIM, or an
    /// unknown source; a directory whose addresses may be held by several SIMs at once (address
    /// pools that overlap across APNs or tenants) says [`Source::Ambiguous`] instead of guessing.
    fn source(&self, ip: IpAddr) -> Source {
        match self.lookup(ip) {
            Some(a) => Source::Sim(a),
            None => Source::Unknown,
        }
    }
    /// An allowed name resolved: these addresses may be reached by the SIM for `ttl`.
    fn resolved(&self, imsi: &ids::Imsi, name: &str, addrs: &[IpAddr], ttl: Duration);
    /// A name outside the SIM's allowlist was asked (called at most once per SIM and name per
    /// minute; the firewall throttles).
    fn refused(&self, asker: &Asker, name: &str);
}

/// Who is behind a source address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// One SIM.
    Sim(Asker),
    /// No SIM.
    Unknown,
    /// Several SIMs hold the address (overlapping pools): answered as refused, logged for no SIM.
    Ambiguous,
}

/// The SIM behind a source address and the names it may resolve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asker {
    /// The SIM.
    pub imsi: ids::Imsi,
    /// Its tenant, if the SIM belongs to one.
    pub tenant: Option<String>,
    /// The names it may resolve.
    pub policy: DomainPolicy,
}

/// Which names a SIM may resolve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DomainPolicy {
    /// Every name.
    Open,
    /// Only names matched by one of the patterns.
    Allow(Arc<[ids::DomainPattern]>),
}

impl DomainPolicy {
    /// True when `name` (any case, with or without the trailing dot) may be resolved.
    pub fn allows(&self, name: &str) -> bool {
        match self {
            DomainPolicy::Open => true,
            DomainPolicy::Allow(patterns) => patterns.iter().any(|p| p.matches(name)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allow_lists_match_exact_names_and_wildcards_only() {
        let patterns: Vec<ids::DomainPattern> =
            ["api.acme.example", "*.ota.acme.example"].iter().map(|p| p.parse().unwrap()).collect();
        let policy = DomainPolicy::Allow(patterns.into());
        assert!(policy.allows("api.acme.example"));
        assert!(policy.allows("API.Acme.Example."));
        assert!(policy.allows("fw1.ota.acme.example"));
        assert!(!policy.allows("ota.acme.example"));
        assert!(!policy.allows("www.acme.example"));
        assert!(!policy.allows("api.acme.example.evil.example"));
        assert!(DomainPolicy::Open.allows("anything.example"));
        assert!(!DomainPolicy::Allow(Arc::from(Vec::new())).allows("api.acme.example"));
    }
}
