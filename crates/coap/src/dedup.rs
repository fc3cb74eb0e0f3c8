//! De-duplication of confirmable requests (RFC 7252 §4.5): a retransmitted CON (same peer, same
//! message id within EXCHANGE_LIFETIME) gets the answer the first copy got, without being handled
//! again. The cache is bounded: when full, the oldest entry goes first.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::time::{Duration, Instant};

/// EXCHANGE_LIFETIME with the default transmission parameters (RFC 7252 §4.8.2): 247 seconds.
pub const EXCHANGE_LIFETIME: Duration = Duration::from_secs(247);

/// What the cache knows of a message id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen<'a> {
    /// First time: handle it, then [`Dedup::answered`].
    New,
    /// A retransmission: send these bytes again (nothing, if it was not answered).
    Again(Option<&'a [u8]>),
}

/// When a message id was first seen, and the answer sent to it.
type Entry = (Instant, Option<Vec<u8>>);

/// The cache, keyed by (peer, message id).
#[derive(Debug)]
pub struct Dedup<P: Eq + Hash + Clone> {
    lifetime: Duration,
    capacity: usize,
    entries: HashMap<(P, u16), Entry>,
    order: VecDeque<(Instant, P, u16)>,
}

impl<P: Eq + Hash + Clone> Dedup<P> {
    /// A cache keeping entries `lifetime`, at most `capacity` of them.
    pub fn new(lifetime: Duration, capacity: usize) -> Self {
        Dedup { lifetime, capacity: capacity.max(1), entries: HashMap::new(), order: VecDeque::new() }
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn expire(&mut self, now: Instant) {
        while let Some((at, p, id)) = self.order.front().cloned() {
            let old = now.saturating_duration_since(at) > self.lifetime;
            if !old && self.entries.len() < self.capacity {
                break;
            }
            self.order.pop_front();
            if self.entries.get(&(p.clone(), id)).is_some_and(|(t, _)| *t == at) {
                self.entries.remove(&(p, id));
            }
        }
    }

    /// Looks a CON up; a new one is remembered (unanswered) from now on.
    pub fn check(&mut self, now: Instant, peer: &P, message_id: u16) -> Seen<'_> {
        self.expire(now);
        let key = (peer.clone(), message_id);
        if self.entries.contains_key(&key) {
            return Seen::Again(self.entries.get(&key).and_then(|(_, a)| a.as_deref()));
        }
        self.entries.insert(key, (now, None));
        self.order.push_back((now, peer.clone(), message_id));
        Seen::New
    }

    /// Remembers the answer sent to a CON.
    pub fn answered(&mut self, peer: &P, message_id: u16, answer: &[u8]) {
        if let Some((_, a)) = self.entries.get_mut(&(peer.clone(), message_id)) {
            *a = Some(answer.to_vec());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retransmission_gets_the_same_answer_until_expiry() {
        let t0 = Instant::now();
        let mut d = Dedup::new(EXCHANGE_LIFETIME, 10);
        assert_eq!(d.check(t0, &1u8, 7), Seen::New);
        assert_eq!(d.check(t0, &1u8, 7), Seen::Again(None));
        d.answered(&1u8, 7, b"ack");
        assert_eq!(d.check(t0, &1u8, 7), Seen::Again(Some(&b"ack"[..])));
        assert_eq!(d.check(t0, &2u8, 7), Seen::New);
        assert_eq!(d.check(t0 + Duration::from_secs(300), &1u8, 7), Seen::New);
    }

    #[test]
    fn bounded() {
        let t0 = Instant::now();
        let mut d = Dedup::new(EXCHANGE_LIFETIME, 3);
        for id in 0..10 {
            d.check(t0, &0u8, id);
        }
        assert!(d.len() <= 3);
        assert_eq!(d.check(t0, &0u8, 9), Seen::Again(None));
        assert_eq!(d.check(t0, &0u8, 0), Seen::New);
    }
}
