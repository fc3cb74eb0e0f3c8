//! Duplicate request detection (RFC 6733 §5.1 and §6.1.9): requests are identified by Origin-Host and
//! End-to-End Identifier; a repeated request is answered from the cache (or dropped while the first
//! is still being handled) instead of reaching the application twice.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

/// What the cache knows of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    /// Never seen: deliver it.
    New,
    /// Seen and not answered yet: drop the copy.
    InProgress,
    /// Seen and answered: send this answer again.
    Answered(Vec<u8>),
}

/// A bounded cache of recent requests and their answers.
///
/// Origin-Hosts are interned: a connection's requests nearly all come from one host, whose name is
/// then shared by every entry instead of copied into each (three allocations per request before).
#[derive(Debug)]
pub struct DedupCache {
    capacity: usize,
    entries: HashMap<(Arc<str>, u32), Option<Vec<u8>>>,
    order: VecDeque<(Arc<str>, u32)>,
    /// The Origin-Host seen last.
    last_host: Option<Arc<str>>,
}

impl DedupCache {
    /// Keeps the last `capacity` requests.
    pub fn new(capacity: usize) -> Self {
        Self { capacity: capacity.max(1), entries: HashMap::new(), order: VecDeque::new(), last_host: None }
    }

    /// `origin_host` as the cache keys it: the name seen last is shared, not copied.
    pub fn host(&mut self, origin_host: &str) -> Arc<str> {
        match &self.last_host {
            Some(h) if h.as_ref() == origin_host => h.clone(),
            _ => self.last_host.insert(Arc::from(origin_host)).clone(),
        }
    }

    /// Looks up a request and records it when new.
    pub fn check(&mut self, origin_host: &str, end_to_end: u32) -> Seen {
        let host = self.host(origin_host);
        self.check_host(host, end_to_end)
    }

    /// [`DedupCache::check`] with the host as [`DedupCache::host`] gave it.
    pub fn check_host(&mut self, host: Arc<str>, end_to_end: u32) -> Seen {
        let key = (host, end_to_end);
        match self.entries.get(&key) {
            Some(Some(answer)) => Seen::Answered(answer.clone()),
            Some(None) => Seen::InProgress,
            None => {
                if self.order.len() == self.capacity {
                    if let Some(old) = self.order.pop_front() {
                        self.entries.remove(&old);
                    }
                }
                self.order.push_back(key.clone());
                self.entries.insert(key, None);
                Seen::New
            }
        }
    }

    /// Stores the answer sent for a request.
    pub fn answered(&mut self, origin_host: &str, end_to_end: u32, answer: &[u8]) {
        let host = self.host(origin_host);
        self.answered_host(host, end_to_end, answer);
    }

    /// [`DedupCache::answered`] with the host as [`DedupCache::host`] gave it.
    pub fn answered_host(&mut self, host: Arc<str>, end_to_end: u32, answer: &[u8]) {
        if let Some(slot) = self.entries.get_mut(&(host, end_to_end)) {
            *slot = Some(answer.to_vec());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifecycle_and_eviction() {
        let mut c = DedupCache::new(2);
        assert_eq!(c.check("a", 1), Seen::New);
        assert_eq!(c.check("a", 1), Seen::InProgress);
        c.answered("a", 1, b"ans");
        assert_eq!(c.check("a", 1), Seen::Answered(b"ans".to_vec()));
        assert_eq!(c.check("b", 1), Seen::New, "origin host is part of the key");
        assert_eq!(c.check("c", 1), Seen::New);
        assert_eq!(c.check("a", 1), Seen::New, "oldest evicted");
    }

    /// Interned hosts key the same entries as the names they stand for, whichever host came last.
    #[test]
    fn interned_hosts_are_the_same_keys() {
        let mut c = DedupCache::new(8);
        let a = c.host("a");
        assert!(Arc::ptr_eq(&a, &c.host("a")), "the last host is shared");
        assert_eq!(c.check_host(a.clone(), 7), Seen::New);
        assert_eq!(c.check("b", 7), Seen::New);
        assert_eq!(c.check("a", 7), Seen::InProgress);
        c.answered_host(a, 7, b"x");
        let again = c.host("a");
        assert_eq!(c.check_host(again, 7), Seen::Answered(b"x".to_vec()));
        assert_eq!(c.check("b", 7), Seen::InProgress);
    }
}
