//! Duplicate request detection (RFC 6733 §5.1 and §6.1.9): requests are identified by Origin-Host and
//! End-to-End Identifier; a repeated request is answered from the cache (or dropped while the first
//! is still being handled) instead of reaching the application twice.

use std::collections::{HashMap, VecDeque};

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
#[derive(Debug)]
pub struct DedupCache {
    capacity: usize,
    entries: HashMap<(String, u32), Option<Vec<u8>>>,
    order: VecDeque<(String, u32)>,
}

impl DedupCache {
    /// Keeps the last `capacity` requests.
    pub fn new(capacity: usize) -> Self {
        Self { capacity: capacity.max(1), entries: HashMap::new(), order: VecDeque::new() }
    }

    /// Looks up a request and records it when new.
    pub fn check(&mut self, origin_host: &str, end_to_end: u32) -> Seen {
        let key = (origin_host.to_string(), end_to_end);
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
        if let Some(slot) = self.entries.get_mut(&(origin_host.to_string(), end_to_end)) {
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
}
