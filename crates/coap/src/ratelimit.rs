//! Requests per source: a token bucket per key (an IP address by default; anything hashable, e.g.
//! an endpoint name), refilled at a steady rate (per second, or fractional per minute) up to a
//! burst, in a map of bounded size. The DTLS listener counts handshakes with it (only ClientHellos
//! with a valid cookie, so spoofed sources cannot spend another address's budget), the LwM2M server
//! plain-CoAP registrations (answered 5.03 with Max-Age, the seconds until a token is back), the EST
//! server failed enrolment tokens per address and per endpoint name (only failures are charged:
//! [`SourceBuckets::wait`] looks without taking, [`SourceBuckets::charge`] takes).
//!
//! When the map is full, buckets that have refilled completely (sources quiet for a while) are
//! forgotten; if it is still full, new sources are refused until room is made, so the memory stays
//! bounded under any traffic.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Token buckets by source (an IP address unless `K` says otherwise).
#[derive(Debug)]
pub struct SourceBuckets<K = IpAddr> {
    /// Tokens a second.
    rate: f64,
    burst: f64,
    max_sources: usize,
    buckets: HashMap<K, (f64, Instant)>,
}

impl<K: Hash + Eq> SourceBuckets<K> {
    /// `rate` handshakes a second per source, up to `burst` at once, for at most `max_sources`
    /// sources at a time. A rate of 0 turns the limit off.
    pub fn new(rate: u32, burst: u32, max_sources: usize) -> Self {
        Self::with_rate(f64::from(rate), burst, max_sources)
    }

    /// `per_minute` tokens a minute per source (so less than one a second), up to `burst` at once,
    /// for at most `max_sources` sources. A rate of 0 turns the limit off.
    pub fn per_minute(per_minute: u32, burst: u32, max_sources: usize) -> Self {
        Self::with_rate(f64::from(per_minute) / 60.0, burst, max_sources)
    }

    fn with_rate(rate: f64, burst: u32, max_sources: usize) -> Self {
        SourceBuckets { rate, burst: f64::from(burst.max(1)), max_sources: max_sources.max(1), buckets: HashMap::new() }
    }

    /// Whether the limit is off (rate 0).
    pub fn is_off(&self) -> bool {
        self.rate <= 0.0
    }

    /// Whether `key` may go on now (taking a token if so).
    pub fn allow(&mut self, key: K, now: Instant) -> bool {
        self.check(key, now).is_ok()
    }

    /// Takes a token of `key`, or says how long until it has one (a full map: until a source is
    /// forgotten, at most the time a bucket takes to refill).
    pub fn check(&mut self, key: K, now: Instant) -> Result<(), Duration> {
        if self.is_off() {
            return Ok(());
        }
        let rate = self.rate;
        let tokens = self.refill(key, now)?;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - *tokens) / rate))
        }
    }

    /// How long until `key` has a token, without taking one: `None` when it has one now (or the
    /// limit is off). A key not tracked has a full bucket and is not added.
    pub fn wait(&self, key: &K, now: Instant) -> Option<Duration> {
        if self.is_off() {
            return None;
        }
        let (tokens, last) = self.buckets.get(key)?;
        let tokens = (tokens + now.saturating_duration_since(*last).as_secs_f64() * self.rate).min(self.burst);
        (tokens < 1.0).then(|| Duration::from_secs_f64((1.0 - tokens) / self.rate))
    }

    /// Takes a token of `key` if it has one (what happened is charged even when it raced past
    /// [`Self::wait`]: the bucket stays at zero). A full map with nobody quiet charges nothing.
    pub fn charge(&mut self, key: K, now: Instant) {
        if self.is_off() {
            return;
        }
        if let Ok(tokens) = self.refill(key, now) {
            *tokens = (*tokens - 1.0).max(0.0);
        }
    }

    /// The bucket of `key` refilled up to `now` (created full when there is room), or the wait when
    /// there is none. Only with the limit on.
    fn refill(&mut self, key: K, now: Instant) -> Result<&mut f64, Duration> {
        let (rate, burst) = (self.rate, self.burst);
        if !self.buckets.contains_key(&key) && self.buckets.len() >= self.max_sources {
            self.forget_full(now);
            if self.buckets.len() >= self.max_sources {
                return Err(Duration::from_secs_f64(burst / rate));
            }
        }
        let (tokens, last) = self.buckets.entry(key).or_insert((burst, now));
        *tokens = (*tokens + now.saturating_duration_since(*last).as_secs_f64() * rate).min(burst);
        *last = now;
        Ok(tokens)
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

    #[test]
    fn per_minute_keyed_by_name_charging_only_what_is_charged() {
        let t0 = Instant::now();
        let mut b: SourceBuckets<String> = SourceBuckets::per_minute(6, 2, 10);
        let k = "meter-1".to_string();
        assert_eq!(b.wait(&k, t0), None, "an unknown key has a full bucket");
        assert!(b.is_empty(), "looking adds nothing");
        b.charge(k.clone(), t0);
        assert_eq!(b.wait(&k, t0), None, "one token left of the burst of 2");
        b.charge(k.clone(), t0);
        // 6 a minute: one token every 10 s.
        let near = |w: Option<Duration>, secs: f64| w.is_some_and(|w| (w.as_secs_f64() - secs).abs() < 1e-6);
        assert!(near(b.wait(&k, t0), 10.0), "{:?}", b.wait(&k, t0));
        assert!(near(b.wait(&k, t0 + Duration::from_secs(4)), 6.0));
        assert_eq!(b.wait(&"meter-2".to_string(), t0), None, "another name has its own bucket");
        b.charge(k.clone(), t0 + Duration::from_secs(4));
        assert!(near(b.wait(&k, t0 + Duration::from_secs(4)), 10.0), "charged from 0.4: back at zero, not below");
        assert_eq!(b.wait(&k, t0 + Duration::from_secs(15)), None, "a token back 10 s after the last charge");
        let mut off: SourceBuckets<String> = SourceBuckets::per_minute(0, 1, 1);
        (0..10).for_each(|_| off.charge(k.clone(), t0));
        assert_eq!(off.wait(&k, t0), None, "rate 0: no limit");
    }
}
