//! Gx sessions in memory, indexed by Session-Id, by IMSI and by the UE's address, and their rows in
//! the store.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::time::Instant;

use ids::Imsi;
use store::traffic::GxSession;

/// IPv6 UE prefixes are indexed as /64 (TS 23.401 §5.3.1.2.2: one /64 per PDN connection).
const V6_INDEX_LEN: u8 = 64;

/// One IP-CAN session.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    pub id: String,
    pub imsi: Imsi,
    pub tenant: String,
    pub pcef_host: String,
    pub pcef_realm: String,
    pub pcef_state: Option<u32>,
    pub apn: String,
    pub framed_ip: Option<IpAddr>,
    /// Framed-IPv6-Prefix as (network, length).
    pub framed_ipv6: Option<(Ipv6Addr, u8)>,
    pub rat_type: Option<u32>,
    pub plmn: Option<String>,
    /// Names of the PCC rules installed on the PCEF.
    pub rules: Vec<String>,
    pub created_at: i64,
    pub updated_at: i64,
    /// Addresses the DNS firewall resolved for an allowed name, until when.
    pub hosts: Vec<(IpAddr, Instant)>,
    /// Released by the PCRF; waiting for the PCEF's CCR-T.
    pub releasing: bool,
}

fn v6_key(addr: Ipv6Addr) -> IpAddr {
    let bits = u128::from(addr) & (!0u128 << (128 - u32::from(V6_INDEX_LEN)));
    IpAddr::V6(Ipv6Addr::from(bits))
}

/// Parses `addr/len`.
pub(crate) fn parse_v6_prefix(s: &str) -> Option<(Ipv6Addr, u8)> {
    let (a, l) = s.split_once('/')?;
    Some((a.parse().ok()?, l.parse().ok().filter(|l| *l <= 128)?))
}

impl Session {
    /// The row stored for it.
    pub fn row(&self) -> GxSession {
        GxSession {
            session_id: self.id.clone(),
            imsi: self.imsi.to_string(),
            tenant: self.tenant.clone(),
            pcef_host: self.pcef_host.clone(),
            pcef_realm: self.pcef_realm.clone(),
            pcef_state: self.pcef_state,
            apn: self.apn.clone(),
            framed_ip: self.framed_ip.map(|i| i.to_string()),
            framed_ipv6: self.framed_ipv6.map(|(a, l)| format!("{a}/{l}")),
            rat_type: self.rat_type,
            plmn: self.plmn.clone(),
            rules: self.rules.clone(),
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }

    /// The session of a stored row (`None` when the row is not readable: an IMSI that no longer
    /// parses).
    pub fn from_row(r: GxSession) -> Option<Self> {
        Some(Self {
            imsi: r.imsi.parse().ok()?,
            framed_ip: r.framed_ip.as_deref().and_then(|s| s.parse().ok()),
            framed_ipv6: r.framed_ipv6.as_deref().and_then(parse_v6_prefix),
            id: r.session_id,
            tenant: r.tenant,
            pcef_host: r.pcef_host,
            pcef_realm: r.pcef_realm,
            pcef_state: r.pcef_state,
            apn: r.apn,
            rat_type: r.rat_type,
            plmn: r.plmn,
            rules: r.rules,
            created_at: r.created_at,
            updated_at: r.updated_at,
            hosts: Vec::new(),
            releasing: false,
        })
    }

    fn addresses(&self) -> impl Iterator<Item = IpAddr> + '_ {
        self.framed_ip.into_iter().chain(self.framed_ipv6.map(|(a, _)| v6_key(a)))
    }
}

/// Every session, with its indexes.
#[derive(Default)]
pub(crate) struct Sessions {
    by_id: HashMap<String, Session>,
    by_imsi: HashMap<Imsi, Vec<String>>,
    by_ip: HashMap<IpAddr, String>,
    /// The last Origin-State-Id seen per PCEF host (lower case).
    pub pcef_states: HashMap<String, u32>,
    /// Sessions per PCEF host (lower case), for `max_sessions_per_pcef`.
    per_pcef: HashMap<String, usize>,
}

impl Sessions {
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn get(&self, id: &str) -> Option<&Session> {
        self.by_id.get(id)
    }

    pub fn get_mut(&mut self, id: &str) -> Option<&mut Session> {
        self.by_id.get_mut(id)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Session> {
        self.by_id.values()
    }

    /// Adds (or replaces) a session.
    pub fn insert(&mut self, s: Session) {
        self.remove(&s.id);
        self.by_imsi.entry(s.imsi.clone()).or_default().push(s.id.clone());
        *self.per_pcef.entry(s.pcef_host.to_ascii_lowercase()).or_default() += 1;
        if !s.releasing {
            for ip in s.addresses() {
                self.by_ip.insert(ip, s.id.clone());
            }
        }
        self.by_id.insert(s.id.clone(), s);
    }

    /// Drops the session's addresses from the address index (it is being released).
    pub fn unindex_addresses(&mut self, id: &str) {
        let Some(s) = self.by_id.get(id) else { return };
        for ip in s.addresses() {
            if self.by_ip.get(&ip).is_some_and(|owner| owner == id) {
                self.by_ip.remove(&ip);
            }
        }
    }

    /// Removes a session.
    pub fn remove(&mut self, id: &str) -> Option<Session> {
        self.unindex_addresses(id);
        let s = self.by_id.remove(id)?;
        let host = s.pcef_host.to_ascii_lowercase();
        if let Some(n) = self.per_pcef.get_mut(&host) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.per_pcef.remove(&host);
            }
        }
        if let Some(ids) = self.by_imsi.get_mut(&s.imsi) {
            ids.retain(|i| i != id);
            if ids.is_empty() {
                self.by_imsi.remove(&s.imsi);
            }
        }
        Some(s)
    }

    /// The Session-Ids of a SIM.
    pub fn of_imsi(&self, imsi: &Imsi) -> Vec<String> {
        self.by_imsi.get(imsi).cloned().unwrap_or_default()
    }

    /// How many sessions the PCEF `host` has.
    pub fn count_of_pcef(&self, host: &str) -> usize {
        self.per_pcef.get(&host.to_ascii_lowercase()).copied().unwrap_or(0)
    }

    /// The IMSIs that have sessions.
    pub fn imsis(&self) -> Vec<Imsi> {
        self.by_imsi.keys().cloned().collect()
    }

    /// The session using `ip` now.
    pub fn by_address(&self, ip: IpAddr) -> Option<&Session> {
        let key = match ip {
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => v6_key(v6),
            },
            v4 => v4,
        };
        self.by_ip.get(&key).and_then(|id| self.by_id.get(id))
    }

    /// Removes the sessions of `host` begun under another Origin-State-Id than `state`.
    pub fn remove_stale(&mut self, host: &str, state: u32) -> Vec<Session> {
        let stale: Vec<String> = self
            .by_id
            .values()
            .filter(|s| s.pcef_host.eq_ignore_ascii_case(host) && s.pcef_state.is_some_and(|st| st != state))
            .map(|s| s.id.clone())
            .collect();
        stale.iter().filter_map(|id| self.remove(id)).collect()
    }
}
