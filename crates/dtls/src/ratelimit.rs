//! Handshakes per source address: a token bucket per IP address (refilled at a steady rate up to a
//! burst), in a map of bounded size. It is consulted only for a ClientHello with a valid cookie — a
//! source that proved it receives at its address — so spoofed floods (answered statelessly by
//! HelloVerifyRequests) cannot spend another address's budget. A refused ClientHello is dropped
//! without an answer: the client retransmits later, with its own back-off.
//!
//! When the map is full, buckets that have refilled completely (sources quiet for a while) are
//! forgotten; if it is still full, new sources are refused until room is made, so the memory stays
//! bounded under any traffic.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Instant;

/// Token buckets by source IP address.
#[derive(Debug)]
pub struct SourceBuckets {
    rate: f64,
    burst: f64,
    max_sources: usize,
    buckets: HashMap<IpAddr, (f64, Instant)>,
}

impl SourceBuckets {
    /// `rate` handshakes a second per source, up to `burst` at once, for at most `max_sources`
    /// sources at a time. A rate of 0 turns the limit off.
    pub fn new(rate: u32, burst: u32, max_sources: usize) -> Self {
        SourceBuckets {
            rate: f64::from(rate),
            burst: f64::from(burst.max(1)),
            max_sources: max_sources.max(1),
            buckets: HashMap::new(),
        }
    }

    /// Whether `ip` may start a handshake now (taking a token if so).
    pub fn allow(&mut self, ip: IpAddr, now: Instant) -> bool {
        if self.rate <= 0.0 {
            return true;
        }
        if !self.buckets.contains_key(&ip) && self.buckets.len() >= self.max_sources {
            self.forget_full(now);
            if self.buckets.len() >= self.max_sources {
                return false;
            }
        }
        let (rate, burst) = (self.rate, self.burst);
        let (tokens, last) = self.buckets.entry(ip).or_insert((burst, now));
        *tokens = (*tokens + now.saturating_duration_since(*last).as_secs_f64() * rate).min(burst);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Sources tracked now.
    pub fn len(&self) -> usize {
        self.buckets.len()
    }

    /// Whether none is tracked.
    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty()
    }

    fn forget_full(&mut self, now: Instant) {
        let (rate, burst) = (self.rate, self.burst);
        self.buckets
            .retain(|_, (tokens, last)| *tokens + now.saturating_duration_since(*last).as_secs_f64() * rate < burst);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_burst_then_the_rate_per_source_in_a_bounded_map() {
        let t0 = Instant::now();
        let mut b = SourceBuckets::new(2, 3, 2);
        let (a, c, d): (IpAddr, IpAddr, IpAddr) =
            ("127.0.0.1".parse().unwrap(), "127.0.0.2".parse().unwrap(), "127.0.0.3".parse().unwrap());
        assert_eq!((0..5).map(|_| b.allow(a, t0)).collect::<Vec<_>>(), [true, true, true, false, false]);
        assert!(b.allow(c, t0), "another source has its own bucket");
        assert!(!b.allow(d, t0), "the map is full and nobody is quiet");
        assert!(b.allow(a, t0 + Duration::from_millis(500)), "one token after half a second at 2/s");
        assert!(!b.allow(a, t0 + Duration::from_millis(500)));
        // After 2 s every bucket is full again: quiet sources are forgotten to make room.
        assert!(b.allow(d, t0 + Duration::from_secs(3)));
        assert!(b.len() <= 2);
        let mut off = SourceBuckets::new(0, 1, 1);
        assert!((0..100).all(|_| off.allow(a, t0)), "rate 0: no limit");
    }
}
