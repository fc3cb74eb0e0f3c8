//! Per-subscriber signalling counters: AIR and ULR per IMSI in the current hour, so the platform's
//! signalling-behaviour rules can find a device stuck in a re-attach loop. Sharded so the count costs
//! one uncontended lock on the request path.

use std::collections::HashMap;
use std::sync::Mutex;

const SHARDS: usize = 64;
const WINDOW_SECS: i64 = 3600;

/// AIR+ULR counts per IMSI over fixed one-hour windows starting at each IMSI's first request.
#[derive(Debug)]
pub struct SignallingCounter {
    shards: Vec<Mutex<HashMap<String, (i64, u32)>>>,
}

impl Default for SignallingCounter {
    fn default() -> Self {
        SignallingCounter { shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect() }
    }
}

fn shard_of(imsi: &str) -> usize {
    imsi.bytes().fold(0usize, |h, b| h.wrapping_mul(31).wrapping_add(usize::from(b))) % SHARDS
}

impl SignallingCounter {
    /// Counts one request of `imsi` at `now` (Unix seconds).
    pub fn count(&self, imsi: &str, now: i64) {
        let mut m = self.shards[shard_of(imsi)].lock().expect("signalling counter");
        match m.get_mut(imsi) {
            Some((start, n)) if now - *start < WINDOW_SECS => *n = n.saturating_add(1),
            Some(e) => *e = (now, 1),
            None => {
                m.insert(imsi.to_string(), (now, 1));
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
            out.extend(m.iter().filter(|(_, (_, n))| *n >= min).map(|(k, (s, n))| (k.clone(), *s, *n)));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_window() {
        let c = SignallingCounter::default();
        for _ in 0..5 {
            c.count("001010000000001", 1000);
        }
        c.count("001010000000002", 1000);
        assert_eq!(c.at_least(5, 1001), vec![("001010000000001".to_string(), 1000, 5)]);
        c.count("001010000000001", 1000 + WINDOW_SECS);
        assert!(c.at_least(2, 1000 + WINDOW_SECS).is_empty(), "a new window starts from one");
    }
}
