//! Per-SIM bookkeeping that keeps the firewall and the PCRF from being flooded: the token bucket
//! per SIM, the throttle on `Directory::resolved` reports, and the once-a-minute refusal events;
//! and the once-per-address warning about ambiguous sources.
//! All maps are bounded; when one is full, stale entries go first, then arbitrary ones (the cost of
//! forgetting is one extra report or one early query, never a wrong answer).

use std::net::IpAddr;
use std::time::{Duration, Instant};

use crate::shards::Sharded;

/// How often a refusal event for the same SIM and name is passed on.
pub(crate) const REFUSAL_EVERY: Duration = Duration::from_secs(60);

/// A token bucket per SIM: `rate` tokens a second, at most `2 * rate` saved up.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    rate: f64,
    buckets: Sharded<ids::Imsi, Bucket>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl RateLimiter {
    /// `rate` queries per second per SIM (0: unlimited), for about `sims` SIMs at once.
    pub(crate) fn new(rate: u32, sims: usize) -> Self {
        RateLimiter { rate: f64::from(rate), buckets: Sharded::new(sims) }
    }

    /// Takes a token for `imsi`; false when its bucket is empty.
    pub(crate) fn allow(&self, imsi: &ids::Imsi, now: Instant) -> bool {
        if self.rate == 0.0 {
            return true;
        }
        let burst = 2.0 * self.rate;
        let mut shard = self.buckets.shard(imsi);
        if let Some(b) = shard.get_mut(imsi) {
            let elapsed = now.saturating_duration_since(b.at).as_secs_f64();
            b.tokens = (b.tokens + elapsed * self.rate).min(burst);
            b.at = now;
            if b.tokens >= 1.0 {
                b.tokens -= 1.0;
                return true;
            }
            return false;
        }
        // A bucket that has been idle long enough to refill is the same as a new one.
        let full_after = Duration::from_secs_f64(burst / self.rate);
        let per_shard = self.buckets.per_shard;
        Sharded::insert_bounded(&mut shard, per_shard, imsi.clone(), Bucket { tokens: burst - 1.0, at: now }, |b| {
            now.saturating_duration_since(b.at) >= full_after
        });
        true
    }
}

/// What was last reported to the directory for a SIM, name and type.
#[derive(Debug, Clone)]
struct Report {
    /// Until then the report is still valid for more than half its TTL.
    half_life: Instant,
    /// When it runs out.
    until: Instant,
    addrs: Vec<IpAddr>,
}

/// Decides whether addresses resolved for a SIM must be reported again.
#[derive(Debug)]
pub(crate) struct ReportThrottle {
    reports: Sharded<(ids::Imsi, String, u16), Report>,
}

impl ReportThrottle {
    pub(crate) fn new(entries: usize) -> Self {
        ReportThrottle { reports: Sharded::new(entries) }
    }

    /// True (and remembered) when `addrs` for `ttl` must be reported: nothing valid was reported,
    /// the last report is within the last half of its TTL, or it lacks one of `addrs`.
    pub(crate) fn should_report(
        &self,
        imsi: &ids::Imsi,
        name: &str,
        qtype: u16,
        addrs: &[IpAddr],
        ttl: Duration,
        now: Instant,
    ) -> bool {
        let key = (imsi.clone(), name.to_string(), qtype);
        let mut shard = self.reports.shard(&key);
        if let Some(r) = shard.get(&key) {
            if now < r.half_life && addrs.iter().all(|a| r.addrs.contains(a)) {
                return false;
            }
        }
        let report = Report { half_life: now + ttl / 2, until: now + ttl, addrs: addrs.to_vec() };
        let per_shard = self.reports.per_shard;
        Sharded::insert_bounded(&mut shard, per_shard, key, report, |r| r.until <= now);
        true
    }
}

/// Passes on a refusal for the same SIM and name at most once per [`REFUSAL_EVERY`].
#[derive(Debug)]
pub(crate) struct RefusalThrottle {
    last: Sharded<(ids::Imsi, String), Instant>,
}

impl RefusalThrottle {
    pub(crate) fn new(entries: usize) -> Self {
        RefusalThrottle { last: Sharded::new(entries) }
    }

    /// True (and remembered) when no refusal for `imsi` and `name` was passed on in the last minute.
    pub(crate) fn should_tell(&self, imsi: &ids::Imsi, name: &str, now: Instant) -> bool {
        let key = (imsi.clone(), name.to_string());
        let mut shard = self.last.shard(&key);
        if shard.get(&key).is_some_and(|at| now.saturating_duration_since(*at) < REFUSAL_EVERY) {
            return false;
        }
        let per_shard = self.last.per_shard;
        Sharded::insert_bounded(&mut shard, per_shard, key, now, |at| {
            now.saturating_duration_since(*at) >= REFUSAL_EVERY
        });
        true
    }
}

/// Remembers the addresses already warned about, so that a warning is logged once per address, not
/// once per query (bounded: beyond `entries` addresses an arbitrary one is forgotten, and may be
/// warned about again).
#[derive(Debug)]
pub(crate) struct WarnOnce {
    seen: Sharded<IpAddr, ()>,
}

impl WarnOnce {
    pub(crate) fn new(entries: usize) -> Self {
        WarnOnce { seen: Sharded::new(entries) }
    }

    /// True (and remembered) the first time `ip` is seen.
    pub(crate) fn first_time(&self, ip: IpAddr) -> bool {
        let mut shard = self.seen.shard(&ip);
        if shard.contains_key(&ip) {
            return false;
        }
        let per_shard = self.seen.per_shard;
        Sharded::insert_bounded(&mut shard, per_shard, ip, (), |_| false);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn imsi(n: u32) -> ids::Imsi {
        format!("00101{n:010}").parse().unwrap()
    }

    #[test]
    fn the_bucket_allows_a_burst_of_twice_the_rate_then_the_rate() {
        let l = RateLimiter::new(10, 100);
        let t0 = Instant::now();
        let allowed = (0..50).filter(|_| l.allow(&imsi(1), t0)).count();
        assert_eq!(allowed, 20);
        // Another SIM has its own bucket.
        assert!(l.allow(&imsi(2), t0));
        // 0.5 s later: 5 more tokens.
        let t1 = t0 + Duration::from_millis(500);
        assert_eq!((0..50).filter(|_| l.allow(&imsi(1), t1)).count(), 5);
        // Much later the bucket is full again, not fuller.
        let t2 = t1 + Duration::from_secs(3600);
        assert_eq!((0..50).filter(|_| l.allow(&imsi(1), t2)).count(), 20);
        assert!((0..10_000).all(|_| RateLimiter::new(0, 1).allow(&imsi(3), t0)));
    }

    #[test]
    fn reports_repeat_only_after_half_the_ttl_or_with_new_addresses() {
        let r = ReportThrottle::new(100);
        let t0 = Instant::now();
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let ttl = Duration::from_secs(60);
        assert!(r.should_report(&imsi(1), "x.example", 1, &[a], ttl, t0));
        assert!(!r.should_report(&imsi(1), "x.example", 1, &[a], ttl, t0 + Duration::from_secs(29)));
        assert!(r.should_report(&imsi(1), "x.example", 1, &[a, b], ttl, t0 + Duration::from_secs(29)));
        assert!(r.should_report(&imsi(2), "x.example", 1, &[a], ttl, t0));
        assert!(r.should_report(&imsi(1), "x.example", 28, &[a], ttl, t0));
        // After half of the new report's TTL it is repeated.
        assert!(!r.should_report(&imsi(1), "x.example", 1, &[a], ttl, t0 + Duration::from_secs(58)));
        assert!(r.should_report(&imsi(1), "x.example", 1, &[a], ttl, t0 + Duration::from_secs(60)));
    }

    #[test]
    fn refusals_are_passed_on_once_a_minute() {
        let r = RefusalThrottle::new(100);
        let t0 = Instant::now();
        assert!(r.should_tell(&imsi(1), "evil.example", t0));
        assert!(!r.should_tell(&imsi(1), "evil.example", t0 + Duration::from_secs(59)));
        assert!(r.should_tell(&imsi(1), "other.example", t0));
        assert!(r.should_tell(&imsi(1), "evil.example", t0 + Duration::from_secs(61)));
    }

    #[test]
    fn an_address_is_warned_about_once() {
        let w = WarnOnce::new(100);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        assert!(w.first_time(a));
        assert!(!w.first_time(a));
        assert!(w.first_time("10.0.0.2".parse().unwrap()));
        let small = WarnOnce::new(16);
        for n in 0..1000u32 {
            small.first_time(IpAddr::from(n.to_be_bytes()));
        }
        assert!(small.seen.len() <= 16);
    }

    #[test]
    fn full_maps_forget_stale_entries_first() {
        let r = RefusalThrottle::new(16); // one entry per shard
        let t0 = Instant::now();
        for n in 0..1000 {
            assert!(r.should_tell(&imsi(n), "evil.example", t0));
        }
        assert!(r.last.len() <= 16);
    }
}
