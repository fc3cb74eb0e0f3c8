//! Requests refused because of who asked, counted per peer connection identity as a security signal:
//! a peer asking about IMSIs outside its ranges, speaking for a node it is not, or sending
//! User-Names that are not IMSIs. These are never per-IMSI input to the tenants' rules (a peer
//! must not be able to make the platform act on another operator's subscribers); they are for the
//! operator, through [`PeerRefusals`] and the `warden_hss_refused_total{peer, reason}` counter.
//!
//! Bounded: at most [`PeerRefusals::MAX_PEERS`] peers are counted by name (configured peers are far
//! fewer); refusals of any further peer are counted together under `other`.

use std::collections::HashMap;
use std::sync::Mutex;

/// The metric: refused requests by peer and reason.
pub const REFUSED_METRIC: &str = "warden_hss_refused_total";

/// Describes this crate's metrics to the installed recorder.
pub fn describe_metrics() {
    metrics::describe_counter!(
        REFUSED_METRIC,
        "S6a/S13 requests refused because of the peer that sent them, by peer and reason \
         (imsi_range, origin_host, invalid_user_name)."
    );
}

/// Why a peer's request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The IMSI is outside the peer's ranges (5003; S13: the IMSI was ignored).
    ImsiRange,
    /// The Origin-Host is not the connection's peer, nor a node a configured relay vouches for (5012).
    OriginHost,
    /// The User-Name is not an IMSI (5004).
    InvalidUserName,
    /// The peer is not configured for the request's application (3007).
    Application,
}

impl Refusal {
    /// The metric label.
    pub fn name(self) -> &'static str {
        match self {
            Refusal::ImsiRange => "imsi_range",
            Refusal::OriginHost => "origin_host",
            Refusal::InvalidUserName => "invalid_user_name",
            Refusal::Application => "application",
        }
    }
}

/// Refusals of one peer, by reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RefusalCounts {
    /// IMSI outside the peer's ranges.
    pub imsi_range: u64,
    /// Origin-Host not the peer's.
    pub origin_host: u64,
    /// User-Name not an IMSI.
    pub invalid_user_name: u64,
    /// Application the peer is not configured for.
    pub application: u64,
}

impl RefusalCounts {
    fn add(&mut self, r: Refusal) {
        let n = match r {
            Refusal::ImsiRange => &mut self.imsi_range,
            Refusal::OriginHost => &mut self.origin_host,
            Refusal::InvalidUserName => &mut self.invalid_user_name,
            Refusal::Application => &mut self.application,
        };
        *n = n.saturating_add(1);
    }
}

/// Refusals per peer (by the identity of its connection, lower case), since the start.
#[derive(Debug, Default)]
pub struct PeerRefusals {
    peers: Mutex<(HashMap<String, RefusalCounts>, RefusalCounts)>,
}

impl PeerRefusals {
    /// Peers counted by name; any further peer is counted under `other`.
    pub const MAX_PEERS: usize = 256;

    /// Counts one refusal of a request from `peer`.
    pub fn count(&self, peer: &str, why: Refusal) {
        let key = peer.to_ascii_lowercase();
        let mut guard = self.peers.lock().expect("refusals");
        let (named, other) = &mut *guard;
        let label = if let Some(c) = named.get_mut(&key) {
            c.add(why);
            key
        } else if named.len() < Self::MAX_PEERS {
            named.entry(key.clone()).or_default().add(why);
            key
        } else {
            other.add(why);
            "other".to_string()
        };
        drop(guard);
        metrics::counter!(REFUSED_METRIC, "peer" => label, "reason" => why.name()).increment(1);
    }

    /// The refusals of `peer` (zero when it has none, or is counted under `other`).
    pub fn of(&self, peer: &str) -> RefusalCounts {
        self.peers.lock().expect("refusals").0.get(&peer.to_ascii_lowercase()).copied().unwrap_or_default()
    }

    /// Every peer counted by name, and the refusals of all others together.
    pub fn snapshot(&self) -> (Vec<(String, RefusalCounts)>, RefusalCounts) {
        let guard = self.peers.lock().expect("refusals");
        (guard.0.iter().map(|(k, v)| (k.clone(), *v)).collect(), guard.1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_peer_and_reason_for_a_bounded_number_of_peers() {
        let r = PeerRefusals::default();
        r.count("Partner.example", Refusal::ImsiRange);
        r.count("partner.example", Refusal::ImsiRange);
        r.count("partner.example", Refusal::OriginHost);
        assert_eq!(
            r.of("PARTNER.example"),
            RefusalCounts { imsi_range: 2, origin_host: 1, invalid_user_name: 0, application: 0 }
        );
        for i in 0..PeerRefusals::MAX_PEERS + 10 {
            r.count(&format!("peer{i}.example"), Refusal::InvalidUserName);
        }
        let (named, other) = r.snapshot();
        assert_eq!(named.len(), PeerRefusals::MAX_PEERS);
        assert_eq!(other.invalid_user_name, 11, "beyond the bound, counted together");
        assert_eq!(r.of("partner.example").imsi_range, 2, "peers counted before stay counted");
    }
}
