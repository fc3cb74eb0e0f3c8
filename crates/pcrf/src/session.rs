//! Gx sessions in memory, indexed by Session-Id, by IMSI and by the UE's address, and their rows in
//! the store.
//!
//! The address index keeps every session that holds an address: two APNs (or two tenants' private
//! pools) may hand the same UE address to different SIMs, and the DNS firewall must then not guess
//! ([`Sessions::by_address`] says the address is ambiguous). Within one PDN — the same PCEF and APN
//! — an address has one holder at a time, so a new session there supersedes an older one that still
//! holds the address (its CCR-T was lost).

use std::borrow::Cow;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Arc;
use std::time::Instant;

use ids::Imsi;
use store::traffic::GxSession;

use crate::table::ShardedMap;

/// IPv6 UE prefixes are indexed as /64 (TS 23.401 §5.3.1.2.2: one /64 per PDN connection).
const V6_INDEX_LEN: u8 = 64;

/// One IP-CAN session.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    /// The Session-Id, shared by the indexes (by id, IMSI and address) instead of copied into each.
    pub id: Arc<str>,
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
    /// Addresses the DNS firewall resolved for an allowed name.
    pub hosts: Vec<Resolved>,
    /// Released by the PCRF; waiting for the PCEF's CCR-T.
    pub releasing: bool,
}

/// An address the DNS firewall resolved for a name the SIM's policy allowed: a host rule until
/// `until`, kept across a policy change only while the new policy still allows `name`.
#[derive(Debug, Clone)]
pub(crate) struct Resolved {
    pub ip: IpAddr,
    pub until: Instant,
    pub name: std::sync::Arc<str>,
}

fn v6_key(addr: Ipv6Addr) -> IpAddr {
    let bits = u128::from(addr) & (!0u128 << (128 - u32::from(V6_INDEX_LEN)));
    IpAddr::V6(Ipv6Addr::from(bits))
}

/// The address index's key of `ip`: an IPv4-mapped address as IPv4, IPv6 by its /64.
pub(crate) fn index_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => v6_key(v6),
        },
        v4 => v4,
    }
}

/// The key of a PCEF host in the per-host maps: its lower-case form, borrowed when it is lower case
/// already (as Origin-Hosts normally are), so that the per-CCR bookkeeping allocates nothing for it.
pub(crate) fn host_key(host: &str) -> Cow<'_, str> {
    if host.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(host.to_ascii_lowercase())
    } else {
        Cow::Borrowed(host)
    }
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
            session_id: self.id.to_string(),
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
            id: Arc::from(r.session_id),
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

/// Who holds an address.
#[derive(Debug)]
pub(crate) enum Holders<'a> {
    /// Nobody.
    None,
    /// One SIM (this session of it).
    One(&'a Session),
    /// This many SIMs: the address cannot tell which one asks.
    Several(usize),
}

/// Every session, with its indexes. The maps that grow with the sessions are [`ShardedMap`]s: their
/// growth, under the sessions lock, neither rehashes keys nor moves a whole table at once.
#[derive(Default)]
pub(crate) struct Sessions {
    /// Boxed, so that growing the map moves pointers, not sessions (a table of 200,000 sessions
    /// moved in one CCR-Initial, under the lock, was a pause of tens of milliseconds).
    by_id: ShardedMap<Arc<str>, Box<Session>>,
    by_imsi: ShardedMap<Imsi, Vec<Arc<str>>>,
    /// Every live session holding an address (usually one).
    by_ip: ShardedMap<IpAddr, Vec<Arc<str>>>,
    /// The last Origin-State-Id seen per PCEF host (lower case).
    pub pcef_states: HashMap<String, u32>,
    /// The sessions of each PCEF host (lower case; releasing ones included): what a reconnect
    /// re-checks ([`crate::Pcrf::resync_host`]), what a restart of the PCEF drops
    /// ([`Sessions::remove_stale`]) and what `max_sessions_per_pcef` counts, without a scan of every
    /// session.
    by_pcef: HashMap<String, ShardedMap<Arc<str>, ()>>,
    /// Bindings that left the address index ([`crate::ip_history`]).
    pub history: crate::ip_history::IpHistory,
    /// The SIMs given DNS-resolved host rules ([`Session::hosts`]; added by
    /// [`crate::Pcrf::allow_resolved`], the only place that adds any): the sweep of expired ones
    /// looks at their sessions only, and forgets a SIM once none of its sessions has one left.
    pub resolved: std::collections::HashSet<Imsi>,
}

impl Sessions {
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn get(&self, id: &str) -> Option<&Session> {
        self.by_id.get(id).map(|s| &**s)
    }

    pub fn get_mut(&mut self, id: &str) -> Option<&mut Session> {
        self.by_id.get_mut(id).map(|s| &mut **s)
    }

    #[cfg(test)]
    pub fn iter(&self) -> impl Iterator<Item = &Session> {
        self.by_id.iter().map(|(_, s)| &**s)
    }

    /// Adds (or replaces) a session.
    pub fn insert(&mut self, s: Session) {
        self.remove(&s.id);
        match self.by_imsi.get_mut(&s.imsi) {
            Some(ids) => ids.push(s.id.clone()),
            None => {
                self.by_imsi.insert(s.imsi.clone(), vec![s.id.clone()]);
            }
        }
        let host = host_key(&s.pcef_host);
        match self.by_pcef.get_mut(host.as_ref()) {
            Some(ids) => {
                ids.insert(s.id.clone(), ());
            }
            None => {
                let mut ids = ShardedMap::default();
                ids.insert(s.id.clone(), ());
                self.by_pcef.insert(host.into_owned(), ids);
            }
        }
        if !s.releasing {
            for ip in s.addresses() {
                let holders = self.by_ip.get_or_insert_with(ip, Vec::new);
                // The same PDN (PCEF and APN) gives an address to one UE at a time: an older holder
                // there is gone, whatever became of its CCR-T.
                let history = &mut self.history;
                holders.retain(|h| {
                    let superseded = self.by_id.get(h.as_ref()).filter(|o| {
                        o.pcef_host.eq_ignore_ascii_case(&s.pcef_host) && o.apn.eq_ignore_ascii_case(&s.apn)
                    });
                    if let Some(o) = superseded {
                        history.record(ip, crate::ip_history::Ended::of(o, crate::ip_history::now_ms()));
                    }
                    superseded.is_none()
                });
                holders.push(s.id.clone());
            }
        }
        self.by_id.insert(s.id.clone(), Box::new(s));
    }

    /// Drops the session from the address index (it is being released); the other holders of its
    /// addresses stay.
    pub fn unindex_addresses(&mut self, id: &str) {
        let Some(s) = self.by_id.get(id) else { return };
        for ip in s.addresses() {
            if let Some(holders) = self.by_ip.get_mut(&ip) {
                if holders.iter().any(|h| h.as_ref() == id) {
                    self.history.record(ip, crate::ip_history::Ended::of(s, crate::ip_history::now_ms()));
                }
                holders.retain(|h| h.as_ref() != id);
                if holders.is_empty() {
                    self.by_ip.remove(&ip);
                }
            }
        }
    }

    /// Removes a session.
    pub fn remove(&mut self, id: &str) -> Option<Session> {
        self.unindex_addresses(id);
        let s = *self.by_id.remove(id)?;
        let host = host_key(&s.pcef_host);
        if let Some(ids) = self.by_pcef.get_mut(host.as_ref()) {
            ids.remove(id);
            if ids.is_empty() {
                self.by_pcef.remove(host.as_ref());
            }
        }
        if let Some(ids) = self.by_imsi.get_mut(&s.imsi) {
            ids.retain(|i| i.as_ref() != id);
            if ids.is_empty() {
                self.by_imsi.remove(&s.imsi);
            }
        }
        Some(s)
    }

    /// The Session-Ids of a SIM.
    pub fn of_imsi(&self, imsi: &Imsi) -> Vec<Arc<str>> {
        self.by_imsi.get(imsi).cloned().unwrap_or_default()
    }

    /// How many sessions `imsi` has (without copying their ids).
    pub fn count_of_imsi(&self, imsi: &Imsi) -> usize {
        self.by_imsi.get(imsi).map_or(0, Vec::len)
    }

    /// How many sessions the PCEF `host` has.
    pub fn count_of_pcef(&self, host: &str) -> usize {
        self.by_pcef.get(host_key(host).as_ref()).map_or(0, ShardedMap::len)
    }

    /// The Session-Ids of the PCEF `host` (any case), those being released included.
    pub fn of_pcef(&self, host: &str) -> Vec<Arc<str>> {
        self.by_pcef.get(host_key(host).as_ref()).map(|ids| ids.keys().cloned().collect()).unwrap_or_default()
    }

    /// The IMSIs that have sessions.
    pub fn imsis(&self) -> Vec<Imsi> {
        self.by_imsi.keys().cloned().collect()
    }

    /// Who uses `ip` now, among the sessions of `apn` when given (any APN otherwise): one SIM, or
    /// several (an address of overlapping pools), or none. Sessions being released do not count;
    /// several sessions of one SIM are that SIM.
    pub fn by_address(&self, ip: IpAddr, apn: Option<&str>) -> Holders<'_> {
        let key = index_key(ip);
        let mut live = self
            .by_ip
            .get(&key)
            .into_iter()
            .flatten()
            .filter_map(|id| self.get(id))
            .filter(|s| !s.releasing && apn.is_none_or(|a| s.apn.eq_ignore_ascii_case(a)));
        let Some(first) = live.next() else { return Holders::None };
        // Other SIMs holding it (no allocation in the usual case of one holder).
        let mut others: Vec<&Imsi> = Vec::new();
        for s in live {
            if s.imsi != first.imsi && !others.contains(&&s.imsi) {
                others.push(&s.imsi);
            }
        }
        if others.is_empty() {
            Holders::One(first)
        } else {
            Holders::Several(others.len() + 1)
        }
    }

    /// Removes the sessions of `host` begun under another Origin-State-Id than `state`.
    pub fn remove_stale(&mut self, host: &str, state: u32) -> Vec<Session> {
        let stale: Vec<Arc<str>> = self
            .of_pcef(host)
            .into_iter()
            .filter(|id| self.get(id).is_some_and(|s| s.pcef_state.is_some_and(|st| st != state)))
            .collect();
        stale.iter().filter_map(|id| self.remove(id)).collect()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn session(id: &str, imsi: &str, pcef: &str, apn: &str, ip: &str) -> Session {
        Session {
            id: Arc::from(id),
            imsi: imsi.parse().unwrap(),
            tenant: format!("tenant-of-{imsi}"),
            pcef_host: pcef.into(),
            pcef_realm: "epc.example".into(),
            pcef_state: None,
            apn: apn.into(),
            framed_ip: Some(ip.parse().unwrap()),
            framed_ipv6: None,
            rat_type: None,
            plmn: None,
            rules: Vec::new(),
            created_at: 0,
            updated_at: 0,
            hosts: Vec::new(),
            releasing: false,
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn holder(sessions: &Sessions, addr: &str, apn: Option<&str>) -> Option<String> {
        match sessions.by_address(ip(addr), apn) {
            Holders::One(s) => Some(s.imsi.to_string()),
            Holders::None => None,
            Holders::Several(n) => Some(format!("{n} SIMs")),
        }
    }

    const A: &str = "001010000000001";
    const B: &str = "001010000000002";

    #[test]
    fn an_address_held_by_two_sims_is_ambiguous_until_one_goes() {
        let mut s = Sessions::default();
        s.insert(session("a", A, "pgw1", "meters.example", "10.0.0.1"));
        assert_eq!(holder(&s, "10.0.0.1", None).as_deref(), Some(A));
        // Another APN's pool hands out the same address to another SIM.
        s.insert(session("b", B, "pgw1", "cameras.example", "10.0.0.1"));
        assert_eq!(holder(&s, "10.0.0.1", None).as_deref(), Some("2 SIMs"));
        // Restricted to one APN, each is found.
        assert_eq!(holder(&s, "10.0.0.1", Some("Meters.Example")).as_deref(), Some(A));
        assert_eq!(holder(&s, "10.0.0.1", Some("cameras.example")).as_deref(), Some(B));
        assert_eq!(holder(&s, "10.0.0.1", Some("other.example")), None);
        // Removing one holder leaves the other indexed.
        s.remove("b");
        assert_eq!(holder(&s, "10.0.0.1", None).as_deref(), Some(A));
        s.insert(session("b", B, "pgw1", "cameras.example", "10.0.0.1"));
        s.remove("a");
        assert_eq!(holder(&s, "10.0.0.1", None).as_deref(), Some(B));
        s.remove("b");
        assert_eq!(holder(&s, "10.0.0.1", None), None);
        assert!(s.by_ip.is_empty());
    }

    #[test]
    fn a_released_holder_no_longer_counts() {
        let mut s = Sessions::default();
        s.insert(session("a", A, "pgw1", "meters.example", "10.0.0.1"));
        s.insert(session("b", B, "pgw2", "meters.example", "10.0.0.1"));
        assert_eq!(holder(&s, "10.0.0.1", None).as_deref(), Some("2 SIMs"));
        s.unindex_addresses("b");
        s.get_mut("b").unwrap().releasing = true;
        assert_eq!(holder(&s, "10.0.0.1", None).as_deref(), Some(A));
        // A releasing session left in the index (a stored row loaded as such) is not counted either.
        let mut late = session("c", B, "pgw3", "meters.example", "10.0.0.1");
        late.releasing = true;
        s.insert(late);
        s.by_ip.get_mut(&ip("10.0.0.1")).unwrap().push("c".into());
        assert_eq!(holder(&s, "10.0.0.1", None).as_deref(), Some(A));
    }

    #[test]
    fn two_sessions_of_one_sim_are_that_sim() {
        let mut s = Sessions::default();
        s.insert(session("a1", A, "pgw1", "meters.example", "10.0.0.1"));
        s.insert(session("a2", A, "pgw2", "meters.example", "10.0.0.1"));
        assert_eq!(holder(&s, "10.0.0.1", None).as_deref(), Some(A));
    }

    #[test]
    fn a_new_session_of_the_same_pdn_supersedes_the_old_holder() {
        let mut s = Sessions::default();
        s.insert(session("a", A, "pgw1", "meters.example", "10.0.0.1"));
        // The P-GW handed the address to another UE: the first session's CCR-T was lost.
        s.insert(session("b", B, "PGW1", "meters.example", "10.0.0.1"));
        assert_eq!(holder(&s, "10.0.0.1", None).as_deref(), Some(B));
        // The stale session ending does not take the address from its new holder.
        s.remove("a");
        assert_eq!(holder(&s, "10.0.0.1", None).as_deref(), Some(B));
    }

    #[test]
    fn ipv6_prefixes_and_mapped_addresses_are_found() {
        let mut s = Sessions::default();
        let mut v6 = session("a", A, "pgw1", "meters.example", "10.0.0.1");
        v6.framed_ipv6 = Some(("2001:db8:1:2::".parse().unwrap(), 64));
        s.insert(v6);
        assert_eq!(holder(&s, "2001:db8:1:2::99", None).as_deref(), Some(A));
        assert_eq!(holder(&s, "::ffff:10.0.0.1", None).as_deref(), Some(A));
        assert_eq!(holder(&s, "2001:db8:1:3::1", None), None);
    }

    /// The Session-Ids of `host` by a scan of every session (what `resync_host` and `remove_stale`
    /// did before the index), sorted.
    fn scanned(s: &Sessions, host: &str) -> Vec<String> {
        let mut ids: Vec<String> =
            s.iter().filter(|x| x.pcef_host.eq_ignore_ascii_case(host)).map(|x| x.id.to_string()).collect();
        ids.sort();
        ids
    }

    fn indexed(s: &Sessions, host: &str) -> Vec<String> {
        let mut ids: Vec<String> = s.of_pcef(host).iter().map(|i| i.to_string()).collect();
        ids.sort();
        ids
    }

    /// The host index holds exactly each PCEF's sessions (any case of its name), through inserts,
    /// replacements that move a session to another PCEF, releases and removals; after a PCEF restart
    /// exactly its sessions of the old Origin-State-Id go, released ones included, and the other
    /// PCEFs' stay.
    #[test]
    fn the_host_index_is_exactly_each_pcefs_sessions() {
        let mut s = Sessions::default();
        let hosts = ["pgw1", "PGW1", "pgw2", "pgw3.Example"];
        let mut x: u64 = 7;
        for step in 0..3_000u32 {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let id = format!("s{}", (x >> 40) % 500);
            match (x >> 20) % 6 {
                0 => {
                    s.remove(&id);
                }
                1 => {
                    // Released: out of the address index, still the PCEF's until it is removed.
                    s.unindex_addresses(&id);
                    if let Some(r) = s.get_mut(&id) {
                        r.releasing = true;
                        r.rules.clear();
                    }
                }
                _ => {
                    let host = hosts[((x >> 30) % 4) as usize];
                    let mut new =
                        session(&id, A, host, "meters.example", &format!("10.0.{}.{}", step % 200, step % 250));
                    new.pcef_state = Some(1);
                    s.insert(new);
                }
            }
            if step % 100 == 0 {
                for h in ["pgw1", "Pgw1", "pgw2", "PGW3.example", "pgw4"] {
                    assert_eq!(indexed(&s, h), scanned(&s, h), "host {h} after step {step}");
                    assert_eq!(s.count_of_pcef(h), scanned(&s, h).len());
                }
            }
        }
        let before_2 = scanned(&s, "pgw2");
        let before_3 = scanned(&s, "pgw3.example");
        let released_1 = s.iter().filter(|x| x.releasing && x.pcef_host.eq_ignore_ascii_case("pgw1")).count();
        assert!(released_1 > 0 && !before_2.is_empty() && !before_3.is_empty());
        // pgw1 restarted: a session it began under the new state stays.
        let mut fresh = session("new-on-pgw1", B, "pgw1", "meters.example", "10.1.0.1");
        fresh.pcef_state = Some(2);
        s.insert(fresh);
        let gone: Vec<String> = {
            let mut g: Vec<String> = s.remove_stale("PGW1", 2).iter().map(|x| x.id.to_string()).collect();
            g.sort();
            g
        };
        assert!(gone.len() >= released_1, "released sessions of the old state go too");
        assert!(gone.iter().all(|id| s.get(id).is_none()));
        assert_eq!(indexed(&s, "pgw1"), ["new-on-pgw1"]);
        assert_eq!(scanned(&s, "pgw1"), ["new-on-pgw1"]);
        assert_eq!(indexed(&s, "pgw2"), before_2);
        assert_eq!(indexed(&s, "pgw3.example"), before_3);
        s.remove("new-on-pgw1");
        assert!(s.of_pcef("pgw1").is_empty());
        assert!(!s.by_pcef.contains_key("pgw1"), "an empty host leaves the index");
    }
}
