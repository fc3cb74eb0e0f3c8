//! The query log: one [`QueryLogEntry`] per answered query, kept in a bounded queue until the
//! analytics side takes them ([`crate::DnsFirewall::take_log`]). When the queue is full the newest
//! entries are dropped and counted, so a slow reader never costs memory or latency.

use std::collections::VecDeque;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// What the firewall decided for a query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verdict {
    /// The name is allowed and was answered (from the cache or upstream; the rcode may be NXDOMAIN).
    Allowed,
    /// The name is outside the SIM's allowlist, or the source has no SIM (`imsi` is empty).
    Refused,
    /// The SIM asked faster than its rate.
    RateLimited,
    /// The name is allowed but no upstream resolver answered usefully (SERVFAIL was sent).
    UpstreamFailed,
}

impl Verdict {
    /// The verdict in lower case (`allowed`, `refused`, `rate_limited`, `upstream_failed`).
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Allowed => "allowed",
            Verdict::Refused => "refused",
            Verdict::RateLimited => "rate_limited",
            Verdict::UpstreamFailed => "upstream_failed",
        }
    }
}

/// One query and what became of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryLogEntry {
    /// When it was answered, in ms since the Unix epoch.
    pub at_ms: i64,
    /// The SIM that asked (empty when the source address has no SIM).
    pub imsi: String,
    /// The SIM's tenant.
    pub tenant: Option<String>,
    /// The name asked, in lower case without the trailing dot (`.` for the root).
    pub name: String,
    /// The query type (1 A, 28 AAAA, ...).
    pub qtype: u16,
    /// The decision.
    pub verdict: Verdict,
    /// The response code sent (0 NOERROR, 2 SERVFAIL, 3 NXDOMAIN, 5 REFUSED, ...).
    pub rcode: u16,
    /// The addresses at the end of the answer's CNAME chain (A/AAAA queries).
    pub answers: Vec<IpAddr>,
    /// The source address of the query.
    pub source: IpAddr,
}

/// A bounded FIFO of log entries that drops the newest when full.
#[derive(Debug)]
pub(crate) struct QueryLog {
    entries: Mutex<VecDeque<QueryLogEntry>>,
    capacity: usize,
    pub(crate) dropped: AtomicU64,
}

impl QueryLog {
    pub(crate) fn new(capacity: usize) -> Self {
        QueryLog {
            entries: Mutex::new(VecDeque::with_capacity(capacity.min(4096))),
            capacity,
            dropped: AtomicU64::new(0),
        }
    }

    /// Appends `entry`, or counts it as dropped when the log is full.
    pub(crate) fn push(&self, entry: QueryLogEntry) {
        let mut q = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if q.len() >= self.capacity {
            drop(q);
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        q.push_back(entry);
    }

    /// Removes and returns up to `max` entries, oldest first.
    pub(crate) fn take(&self, max: usize) -> Vec<QueryLogEntry> {
        let mut q = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let n = max.min(q.len());
        q.drain(..n).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str) -> QueryLogEntry {
        QueryLogEntry {
            at_ms: 1,
            imsi: "001010000000001".into(),
            tenant: None,
            name: name.into(),
            qtype: 1,
            verdict: Verdict::Allowed,
            rcode: 0,
            answers: vec![],
            source: IpAddr::from([127, 0, 0, 2]),
        }
    }

    #[test]
    fn the_log_keeps_the_oldest_and_counts_what_it_drops() {
        let log = QueryLog::new(2);
        for n in ["a", "b", "c", "d"] {
            log.push(entry(n));
        }
        assert_eq!(log.dropped.load(Ordering::Relaxed), 2);
        let first = log.take(1);
        assert_eq!(first[0].name, "a");
        log.push(entry("e"));
        let rest: Vec<String> = log.take(10).into_iter().map(|e| e.name).collect();
        assert_eq!(rest, ["b", "e"]);
        assert!(log.take(10).is_empty());
    }
}
