//! CCR-Initial admission per PCEF host: a token bucket of `rate` per second holding up to twice
//! that, so a PCEF restarting with all its subscribers at once is slowed down, not its neighbours.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

/// Hosts remembered at most; beyond, the table is cleared (every host starts with a full bucket).
const MAX_HOSTS: usize = 10_000;

struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Token buckets per PCEF host.
pub(crate) struct Limiter {
    rate: f64,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl Limiter {
    pub fn new(rate: u32) -> Self {
        Self { rate: f64::from(rate.max(1)), buckets: Mutex::new(HashMap::new()) }
    }

    /// Takes one token of `host`'s bucket at `now`; false when it is empty.
    pub fn admit(&self, host: &str, now: Instant) -> bool {
        let burst = self.rate * 2.0;
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() >= MAX_HOSTS && !buckets.contains_key(host) {
            buckets.clear();
        }
        let b = buckets.entry(host.to_ascii_lowercase()).or_insert(Bucket { tokens: burst, at: now });
        let elapsed = now.saturating_duration_since(b.at).as_secs_f64();
        b.tokens = (b.tokens + elapsed * self.rate).min(burst);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn burst_then_rate_per_host() {
        let l = Limiter::new(10);
        let t = Instant::now();
        assert_eq!((0..25).filter(|_| l.admit("pgw1", t)).count(), 20);
        assert!(l.admit("PGW2", t), "another host has its own bucket");
        assert!(!l.admit("pgw1", t + Duration::from_millis(50)));
        assert!(l.admit("pgw1", t + Duration::from_millis(150)));
    }
}
