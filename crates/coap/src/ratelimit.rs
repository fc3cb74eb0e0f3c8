//! Requests per source address: a token bucket per IP address (refilled at a steady rate up to a
//! burst), in a map of bounded size. The DTLS listener counts handshakes with it (only ClientHellos
//! with a valid cookie, so spoofed sources cannot spend another address's budget), the LwM2M server
//! plain-CoAP registrations (answered 5.03 with Max-Age, the seconds until a token is back).
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

    /// Whether `ip` may go on now (taking a token if so).
    pub fn allow(&mut self, ip: IpAddr, now: Instant) -> bool {
        self.check(ip, now).is_ok()
    }

    /// Takes a token of `ip`, or says how long until it has one (a full map: until a source is
    /// forgotten, at most the time a bucket takes to refill).
    pub fn check(&mut self, ip: IpAddr, now: Instant) -> Result<(), std::time::Duration> {
        if self.rate <= 0.0 {
            return Ok(());
        }
        let (rate, burst) = (self.rate, self.burst);
        if !self.buckets.contains_key(&ip) && self.buckets.len() >= self.max_sources {
            self.forget_full(now);
            if self.buckets.len() >= self.max_sources {
                return Err(std::time::Duration::from_secs_f64(burst / rate));
            }
        }
        let (tokens, last) = self.buckets.entry(ip).or_insert((burst, now));
        *tokens = (*tokens + now.saturating_duration_since(*last).as_secs_f64() * rate).min(burst);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(std::time::Duration::from_secs_f64((1.0 - *tokens) / rate))
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
        let wait = b.check(a, t0 + Duration::from_millis(100)).unwrap_err();
        assert!(wait > Duration::from_millis(350) && wait <= Duration::from_millis(400), "{wait:?}");
        assert!(b.allow(a, t0 + Duration::from_millis(500)), "one token after half a second at 2/s");
        assert!(!b.allow(a, t0 + Duration::from_millis(500)));
        // After 2 s every bucket is full again: quiet sources are forgotten to make room.
        assert!(b.allow(d, t0 + Duration::from_secs(3)));
        assert!(b.len() <= 2);
        let mut off = SourceBuckets::new(0, 1, 1);
        assert!((0..100).all(|_| off.allow(a, t0)), "rate 0: no limit");
    }
}
