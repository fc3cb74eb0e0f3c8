//! Per-subscriber signalling counters: AIR and ULR per IMSI in the current hour, so the platform's
//! signalling-behaviour rules can find a device stuck in a re-attach loop. Sharded so the count costs
//! one uncontended lock on the request path.
//!
//! Only parsed IMSIs are counted (the HSS counts a request once the peer was allowed to ask about the
//! IMSI and the IMSI names a provisioned SIM), each held as one `u64`, and the number of IMSIs held is
//! capped: when a shard is full, a new IMSI takes the place of the quietest of a few entries sampled
//! from it (an expired window first), so a device in a loop keeps its count while one-off requests
//! make room.

use std::collections::HashMap;
use std::sync::Mutex;

use ids::Imsi;

const SHARDS: usize = 64;
const WINDOW_SECS: i64 = 3600;
/// Entries looked at to choose the one a new IMSI displaces from a full shard.
const SAMPLE: usize = 8;

/// An IMSI (6 to 15 digits) as a number: its digits, then its length in the low four bits (leading
/// zeros are significant).
type Key = u64;

fn key(imsi: &Imsi) -> Key {
    let digits = imsi.as_str();
    let value = digits.bytes().fold(0u64, |v, b| v * 10 + u64::from(b - b'0'));
    (value << 4) | digits.len() as u64
}

fn imsi_of(k: Key) -> String {
    format!("{:0width$}", k >> 4, width = (k & 0xf) as usize)
}

/// AIR+ULR counts per IMSI over fixed one-hour windows starting at each IMSI's first request, for at
/// most [`SignallingCounter::capacity`] IMSIs.
#[derive(Debug)]
pub struct SignallingCounter {
    shards: Vec<Mutex<HashMap<Key, (i64, u32)>>>,
    per_shard: usize,
}

impl Default for SignallingCounter {
    /// Room for [`SignallingCounter::DEFAULT_CAPACITY`] IMSIs.
    fn default() -> Self {
        Self::with_capacity(Self::DEFAULT_CAPACITY)
    }
}

impl SignallingCounter {
    /// IMSIs held by default: about 25 MiB when full (64 hash tables of 16,384 slots of 25 bytes).
    pub const DEFAULT_CAPACITY: usize = 500_000;

    /// A counter holding at most about `capacity` IMSIs (rounded up to a multiple of 64 shards).
    pub fn with_capacity(capacity: usize) -> Self {
        SignallingCounter {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            per_shard: capacity.div_ceil(SHARDS).max(1),
        }
    }

    /// The most IMSIs held at once.
    pub fn capacity(&self) -> usize {
        self.per_shard * SHARDS
    }

    /// IMSIs held now (windows that ended are dropped by [`SignallingCounter::at_least`]).
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| s.lock().expect("signalling counter").len()).sum()
    }

    /// True when no IMSI is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Counts one request of `imsi` at `now` (Unix seconds).
    pub fn count(&self, imsi: &Imsi, now: i64) {
        let k = key(imsi);
        let mut m = self.shards[(k >> 4) as usize % SHARDS].lock().expect("signalling counter");
        match m.get_mut(&k) {
            Some((start, n)) if now - *start < WINDOW_SECS => *n = n.saturating_add(1),
            Some(e) => *e = (now, 1),
            None => {
                if m.len() >= self.per_shard {
                    // An ended window first, else the lowest count among the sampled entries.
                    let victim = m
                        .iter()
                        .take(SAMPLE)
                        .min_by_key(|(_, (start, n))| if now - start >= WINDOW_SECS { 0 } else { *n })
                        .map(|(k, _)| *k);
                    if let Some(v) = victim {
                        m.remove(&v);
                    }
                }
                m.insert(k, (now, 1));
            }
        }
    }

    /// IMSIs with at least `min` requests in their current window: (IMSI, window start, count).
    /// Windows older than an hour are dropped on the way.
    pub fn at_least(&self, min: u32, now: i64) -> Vec<(String, i64, u32)> {
        let mut out = Vec::new();
        for shard in &self.shards {
            let mut m = shard.lock().expect("signalling counter");
            m.retain(|_, (start, _)| now - *start < WINDOW_SECS);
            out.extend(m.iter().filter(|(_, (_, n))| *n >= min).map(|(k, (s, n))| (imsi_of(*k), *s, *n)));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn imsi(s: &str) -> Imsi {
        s.parse().unwrap()
    }

    #[test]
    fn counts_per_window() {
        let c = SignallingCounter::default();
        for _ in 0..5 {
            c.count(&imsi("001010000000001"), 1000);
        }
        c.count(&imsi("001010000000002"), 1000);
        assert_eq!(c.at_least(5, 1001), vec![("001010000000001".to_string(), 1000, 5)]);
        c.count(&imsi("001010000000001"), 1000 + WINDOW_SECS);
        assert!(c.at_least(2, 1000 + WINDOW_SECS).is_empty(), "a new window starts from one");
    }

    #[test]
    fn imsis_keep_their_digits_and_leading_zeros() {
        let c = SignallingCounter::default();
        for s in ["001010000000001", "01010000000001", "123456", "999999999999999", "000000"] {
            c.count(&imsi(s), 0);
        }
        let mut got: Vec<String> = c.at_least(1, 1).into_iter().map(|(i, _, _)| i).collect();
        got.sort();
        assert_eq!(got, ["000000", "001010000000001", "01010000000001", "123456", "999999999999999"]);
    }

    #[test]
    fn the_number_of_imsis_is_capped_and_busy_ones_stay() {
        let c = SignallingCounter::with_capacity(640);
        assert_eq!(c.capacity(), 640);
        let busy = imsi("001010000000007");
        for _ in 0..50 {
            c.count(&busy, 100);
        }
        for i in 0..20_000u64 {
            c.count(&imsi(&format!("00102{i:010}")), 100);
            assert!(c.len() <= c.capacity());
        }
        assert_eq!(c.len(), c.capacity(), "full, not beyond");
        assert_eq!(c.at_least(2, 101), vec![("001010000000007".to_string(), 100, 50)], "the busy IMSI kept its count");
    }
}
