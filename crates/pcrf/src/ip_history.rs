//! Who held a UE address *at a given time*: the live sessions and a bounded history of the bindings
//! that ended.
//!
//! Flow exporters report a flow seconds to minutes after it started (active and idle timeouts); by
//! then the session that held the address may have ended and the P-GW may have given the address to
//! another SIM. [`IpHistory`] remembers, per address (IPv6 by /64, as the session index), the bindings
//! that ended in the last `binding_history_minutes` ([`crate::PcrfConfig`]): SIM, tenant, APN, from,
//! until. It is fed where a session leaves the address index (CCR-T, release, a stale PCEF's
//! sessions, a new holder in the same PDN superseding a session whose CCR-T was lost) and bounded in
//! entries, the oldest evicted first.
//!
//! [`Pcrf::binding_at`] answers for an address and a time: the live session if it held the address
//! then (it started before, and after every ended binding of the address), else the ended binding
//! that covered that time, else nobody. As for the live sessions, an address that several SIMs held
//! at that time is nobody's.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;

use ids::Imsi;

use crate::session::{index_key, Holders, Session, Sessions};
use crate::{lock, Pcrf};

/// A session is taken to hold its address from this long before its recorded start, never before the
/// address's previous binding ended: the start is stored in whole seconds, NetFlow v9 places flow
/// times with the export header's whole seconds, and exporters' clocks drift a little.
pub const START_SLACK_MS: u64 = 5_000;

/// When a session of `created_at` (unix seconds) is taken to hold its address.
fn held_from(created_at: i64) -> u64 {
    u64::try_from(created_at).unwrap_or(0).saturating_mul(1000).saturating_sub(START_SLACK_MS)
}

/// One binding that ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Ended {
    pub imsi: Imsi,
    pub tenant: String,
    pub apn: String,
    /// When the session started (unix ms; the session's start is stored in seconds).
    pub from_ms: u64,
    /// When the session left the address (unix ms).
    pub until_ms: u64,
}

impl Ended {
    /// The binding of `s` ending at `until_ms`.
    pub fn of(s: &Session, until_ms: u64) -> Self {
        Ended {
            imsi: s.imsi.clone(),
            tenant: s.tenant.clone(),
            apn: s.apn.clone(),
            from_ms: held_from(s.created_at),
            until_ms,
        }
    }

    fn of_apn(&self, apn: Option<&str>) -> bool {
        apn.is_none_or(|a| self.apn.eq_ignore_ascii_case(a))
    }
}

/// Bindings that ended, per address, bounded in age and number.
#[derive(Debug)]
pub(crate) struct IpHistory {
    retention_ms: u64,
    max_entries: usize,
    by_ip: HashMap<IpAddr, VecDeque<Ended>>,
    /// Every entry's address, oldest first (eviction order).
    order: VecDeque<(IpAddr, u64)>,
}

impl Default for IpHistory {
    fn default() -> Self {
        Self::new(60 * 60_000, 100_000)
    }
}

impl IpHistory {
    /// Keeps bindings that ended less than `retention_ms` ago, at most `max_entries` (0 either:
    /// nothing is kept).
    pub fn new(retention_ms: u64, max_entries: usize) -> Self {
        Self { retention_ms, max_entries, by_ip: HashMap::new(), order: VecDeque::new() }
    }

    /// Entries kept.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// The binding of `ip` (an index key) ended.
    pub fn record(&mut self, ip: IpAddr, ended: Ended) {
        if self.retention_ms == 0 || self.max_entries == 0 {
            return;
        }
        self.expire(ended.until_ms);
        while self.order.len() >= self.max_entries {
            self.evict_oldest();
        }
        let mut ended = ended;
        // Not before the previous holder (of the same APN) left.
        if let Some(previous) = self.last_end(ip, Some(&ended.apn)) {
            ended.from_ms = ended.from_ms.max(previous.min(ended.until_ms));
        }
        self.order.push_back((ip, ended.until_ms));
        self.by_ip.entry(ip).or_default().push_back(ended);
    }

    /// Forgets the bindings that ended more than the retention before `now_ms`.
    pub fn expire(&mut self, now_ms: u64) {
        while self.order.front().is_some_and(|(_, until)| until.saturating_add(self.retention_ms) < now_ms) {
            self.evict_oldest();
        }
    }

    fn evict_oldest(&mut self) {
        let Some((ip, _)) = self.order.pop_front() else { return };
        if let Some(list) = self.by_ip.get_mut(&ip) {
            // Entries of one address are in the global order too: its oldest is this one.
            list.pop_front();
            if list.is_empty() {
                self.by_ip.remove(&ip);
            }
        }
    }

    /// The latest end of a binding of `ip` (of `apn`'s sessions when given).
    pub fn last_end(&self, ip: IpAddr, apn: Option<&str>) -> Option<u64> {
        self.by_ip.get(&ip)?.iter().filter(|e| e.of_apn(apn)).map(|e| e.until_ms).max()
    }

    /// The one SIM whose ended binding of `ip` covered `at_ms` (`from <= at < until`); `None` when no
    /// binding or bindings of several SIMs did.
    pub fn at(&self, ip: IpAddr, at_ms: u64, apn: Option<&str>) -> Option<&Ended> {
        let mut covering =
            self.by_ip.get(&ip)?.iter().rev().filter(|e| e.of_apn(apn) && e.from_ms <= at_ms && at_ms < e.until_ms);
        let newest = covering.next()?;
        covering.all(|e| e.imsi == newest.imsi).then_some(newest)
    }
}

/// Who held an address at a time ([`Pcrf::binding_at`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressBinding {
    /// The SIM.
    pub imsi: Imsi,
    /// Its tenant.
    pub tenant: String,
    /// Its service profile, as the PCRF's cache of the SIM has it (`None` when not cached or none).
    pub profile: Option<String>,
    /// Since when it held the address (unix ms).
    pub from_ms: u64,
    /// Until when (unix ms); `None` for a live session.
    pub until_ms: Option<u64>,
}

/// Unix milliseconds now.
pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

/// Who held `ip` at `at_ms` (see [`Pcrf::binding_at`]): SIM, tenant, from, until (`None`: live).
pub(crate) fn holder_at(
    sessions: &mut Sessions,
    ip: IpAddr,
    at_ms: u64,
    apn: Option<&str>,
    now_ms: u64,
) -> Option<(Imsi, String, u64, Option<u64>)> {
    sessions.history.expire(now_ms);
    let key = index_key(ip);
    let live = match sessions.by_address(ip, apn) {
        Holders::One(s) => {
            let started = held_from(s.created_at);
            // The address was someone else's until its last binding ended.
            let from = sessions.history.last_end(key, apn).map_or(started, |end| end.max(started));
            Some((s.imsi.clone(), s.tenant.clone(), from))
        }
        Holders::None | Holders::Several(_) => None,
    };
    match live {
        Some((imsi, tenant, from)) if from <= at_ms => Some((imsi, tenant, from, None)),
        _ => {
            let e = sessions.history.at(key, at_ms, apn)?;
            Some((e.imsi.clone(), e.tenant.clone(), e.from_ms, Some(e.until_ms)))
        }
    }
}

impl Pcrf {
    /// The SIM that held `ip` at `at_ms` (unix ms), among `apn`'s sessions when given: the live
    /// session if it held the address then, else the ended binding that covered `at_ms` (kept for
    /// `binding_history_minutes`), else `None` (also when several SIMs held it then).
    pub fn binding_at(&self, ip: IpAddr, at_ms: u64, apn: Option<&str>) -> Option<AddressBinding> {
        let (imsi, tenant, from_ms, until_ms) = holder_at(&mut lock(&self.sessions), ip, at_ms, apn, now_ms())?;
        let profile = self.profile_name(&imsi);
        Some(AddressBinding { imsi, tenant, profile, from_ms, until_ms })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "001010000000001";
    const B: &str = "001010000000002";

    fn ended(imsi: &str, from_ms: u64, until_ms: u64) -> Ended {
        Ended { imsi: imsi.parse().unwrap(), tenant: "acme".into(), apn: "iot".into(), from_ms, until_ms }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn owner(h: &IpHistory, addr: &str, at: u64) -> Option<String> {
        h.at(ip(addr), at, None).map(|e| e.imsi.to_string())
    }

    #[test]
    fn an_address_reused_by_a_second_sim_answers_each_for_its_own_time() {
        let mut h = IpHistory::new(60 * 60_000, 100);
        h.record(ip("10.0.0.1"), ended(A, 1_000, 5_000));
        h.record(ip("10.0.0.1"), ended(B, 6_000, 9_000));
        assert_eq!(owner(&h, "10.0.0.1", 999), None, "before the first");
        assert_eq!(owner(&h, "10.0.0.1", 1_000).as_deref(), Some(A));
        assert_eq!(owner(&h, "10.0.0.1", 4_999).as_deref(), Some(A));
        assert_eq!(owner(&h, "10.0.0.1", 5_500), None, "between the two");
        assert_eq!(owner(&h, "10.0.0.1", 6_000).as_deref(), Some(B));
        assert_eq!(owner(&h, "10.0.0.1", 9_000), None, "after the second ended");
        assert_eq!(owner(&h, "10.0.0.2", 2_000), None, "another address");
        assert_eq!(h.last_end(ip("10.0.0.1"), None), Some(9_000));
        assert_eq!(h.last_end(ip("10.0.0.1"), Some("other")), None);
        // Overlapping bindings of two SIMs (pools of two APNs, asked without an APN): nobody's.
        let mut other = ended(A, 6_500, 7_000);
        other.apn = "cameras".into();
        h.record(ip("10.0.0.1"), other);
        assert_eq!(owner(&h, "10.0.0.1", 6_700), None);
        assert_eq!(h.at(ip("10.0.0.1"), 6_700, Some("IoT")).map(|e| e.imsi.to_string()).as_deref(), Some(B));
    }

    #[test]
    fn a_flow_of_the_first_session_maps_to_the_first_sim_after_the_address_went_to_another() {
        let mut s = Sessions::default();
        let now = now_ms();
        let secs = (now / 1000) as i64;
        let mut a = crate::session::tests::session("a", A, "pgw1", "iot", "10.0.0.1");
        a.created_at = secs - 600;
        s.insert(a);
        let during_a = now - 300_000;
        let who = |s: &mut Sessions, at: u64| holder_at(s, ip("10.0.0.1"), at, None, now).map(|h| h.0.to_string());
        assert_eq!(who(&mut s, during_a).as_deref(), Some(A), "live");
        assert_eq!(who(&mut s, now - 700_000), None, "before it started");
        let recorded_start = (secs as u64 - 600) * 1000;
        assert_eq!(who(&mut s, recorded_start - 2_000).as_deref(), Some(A), "within the start slack");
        // A's session ends (CCR-T) and the P-GW gives the address to B.
        s.remove("a");
        let mut b = crate::session::tests::session("b", B, "pgw1", "iot", "10.0.0.1");
        b.created_at = secs;
        s.insert(b);
        assert_eq!(who(&mut s, during_a).as_deref(), Some(A), "a flow reported late is still A's");
        let (imsi, _, from, until) = holder_at(&mut s, ip("10.0.0.1"), now + 5, None, now).unwrap();
        assert_eq!((imsi.to_string().as_str(), until), (B, None), "B's from its start");
        assert!(from >= now, "B held it only after A left: {from}");
        assert_eq!(who(&mut s, now + 5).as_deref(), Some(B));
        // A lost CCR-T: a new holder in the same PDN supersedes B, whose binding is kept too.
        let mut c = crate::session::tests::session("c", A, "PGW1", "iot", "10.0.0.1");
        c.created_at = secs + 1;
        s.insert(c);
        assert_eq!(s.history.len(), 2);
        assert_eq!(who(&mut s, during_a).as_deref(), Some(A));
    }

    #[test]
    fn the_history_is_bounded_in_entries_and_in_age() {
        let mut h = IpHistory::new(1_000_000, 3);
        for i in 0..5u64 {
            h.record(ip(&format!("10.0.0.{}", i % 2 + 1)), ended(A, i * 100, i * 100 + 50));
        }
        assert_eq!(h.len(), 3, "the two oldest were evicted");
        assert_eq!(owner(&h, "10.0.0.1", 10), None, "the oldest is gone");
        assert_eq!(owner(&h, "10.0.0.2", 110), None);
        assert_eq!(owner(&h, "10.0.0.1", 210).as_deref(), Some(A));
        assert_eq!(owner(&h, "10.0.0.1", 410).as_deref(), Some(A));
        // Older than the retention: forgotten.
        h.expire(1_000_000 + 400);
        assert_eq!(h.len(), 1);
        assert_eq!(owner(&h, "10.0.0.1", 410).as_deref(), Some(A));
        h.expire(2_000_000);
        assert_eq!(h.len(), 0);
        assert!(h.by_ip.is_empty());
        // Off: nothing kept.
        let mut off = IpHistory::new(0, 3);
        off.record(ip("10.0.0.1"), ended(A, 0, 10));
        assert_eq!(off.len(), 0);
    }
}
