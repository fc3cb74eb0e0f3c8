//! HSS settings and the peer registry: which MMEs may connect and which subscribers each may ask
//! about (ROAM-1: a partner may not query another operator's subscribers).

use std::net::IpAddr;

use diameter::peer::{PeerAuthorizer, PeerIdentity};

/// One configured Diameter peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerRule {
    /// Its Origin-Host.
    pub origin_host: String,
    /// Its Origin-Realm.
    pub origin_realm: String,
    /// Source addresses it may connect from (empty: any).
    pub addresses: Vec<IpAddr>,
    /// IMSI prefixes it may ask about (empty: none).
    pub imsi_prefixes: Vec<String>,
}

/// What to answer for a critical subscription whose device is blacklisted (DM-5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CriticalBlacklist {
    /// GREYLISTED plus an alert event (default: never cut a critical device off by list).
    Greylist,
    /// BLACKLISTED like any other.
    Blacklist,
}

/// HSS settings.
#[derive(Debug, Clone)]
pub struct HssConfig {
    /// Our Origin-Host.
    pub origin_host: String,
    /// Our Origin-Realm.
    pub origin_realm: String,
    /// Most vectors returned for one AIR.
    pub max_vectors: u32,
    /// SQN layout (IND length, Δ).
    pub sqn: auc::SqnScheme,
    /// SEQ values reserved per database write.
    pub sqn_block: i64,
    /// Configured peers.
    pub peers: Vec<PeerRule>,
    /// Critical subscriptions on the black list.
    pub critical_blacklist: CriticalBlacklist,
    /// Equipment-Status for an IMEI on no list: WHITELISTED (true) or DIAMETER_ERROR_EQUIPMENT_UNKNOWN.
    pub unknown_imei_whitelisted: bool,
    /// Development mode without configured peers: every admitted peer may ask about every subscriber
    /// (the transport then admits loopback peers only).
    pub open_imsi_access: bool,
    /// Subscribers kept in memory for the hot path.
    pub cache_capacity: usize,
}

impl HssConfig {
    /// Settings with defaults: 5 vectors at most, 5-bit IND, blocks of 1000 SEQ, no peers.
    pub fn new(origin_host: &str, origin_realm: &str) -> Self {
        Self {
            origin_host: origin_host.into(),
            origin_realm: origin_realm.into(),
            max_vectors: 5,
            sqn: auc::SqnScheme::default(),
            sqn_block: 1000,
            peers: Vec::new(),
            critical_blacklist: CriticalBlacklist::Greylist,
            unknown_imei_whitelisted: true,
            open_imsi_access: false,
            cache_capacity: 200_000,
        }
    }

    /// The rule of a peer by Origin-Host.
    pub fn peer(&self, origin_host: &str) -> Option<&PeerRule> {
        self.peers.iter().find(|p| p.origin_host.eq_ignore_ascii_case(origin_host))
    }

    /// True when `origin_host` may ask about `imsi`.
    pub fn may_query(&self, origin_host: &str, imsi: &str) -> bool {
        self.open_imsi_access
            || self.peer(origin_host).is_some_and(|p| p.imsi_prefixes.iter().any(|pre| imsi.starts_with(pre.as_str())))
    }
}

/// Admits configured peers only: Origin-Host, Origin-Realm and (when listed) source address must match.
#[derive(Debug, Clone)]
pub struct ConfiguredPeers(pub Vec<PeerRule>);

impl PeerAuthorizer for ConfiguredPeers {
    fn authorize(&self, p: &PeerIdentity) -> bool {
        self.0.iter().any(|r| {
            r.origin_host.eq_ignore_ascii_case(&p.origin_host)
                && r.origin_realm.eq_ignore_ascii_case(&p.origin_realm)
                && (r.addresses.is_empty() || p.address.is_some_and(|a| r.addresses.contains(&a)))
        })
    }
}
