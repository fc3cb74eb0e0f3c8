//! Failed enrolment tokens per source IP address and per endpoint name (SEC-7): only failures
//! (a wrong, unknown, used or expired token, or a user that is not the token's endpoint) are
//! charged, to a token bucket of the source and one of the endpoint named by the HTTP Basic user;
//! while either is empty, `simpleenroll` is refused with 429 and Retry-After before the token is
//! looked at, so a locked-out source learns nothing. The per-source limit is the tighter one: a
//! brute-forcing address is locked out while the device, from elsewhere, still enrols.

use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use coap::ratelimit::SourceBuckets;

use crate::settings::FailedTokenLimits;

/// Sources and endpoint names tracked at most (each map).
pub const MAX_TRACKED: usize = 65_536;

/// The buckets of failed tokens.
#[derive(Debug)]
pub struct FailedTokens {
    by_source: Mutex<SourceBuckets<IpAddr>>,
    by_endpoint: Mutex<SourceBuckets<String>>,
}

impl FailedTokens {
    /// With `limits`.
    pub fn new(limits: &FailedTokenLimits) -> Self {
        Self {
            by_source: Mutex::new(SourceBuckets::per_minute(
                limits.per_source_per_min,
                limits.per_source_burst,
                MAX_TRACKED,
            )),
            by_endpoint: Mutex::new(SourceBuckets::per_minute(
                limits.per_endpoint_per_min,
                limits.per_endpoint_burst,
                MAX_TRACKED,
            )),
        }
    }

    /// How long `source` (or `endpoint`) must wait before it may try a token again, if it is
    /// locked out now; with the reason.
    pub fn locked(&self, source: IpAddr, endpoint: Option<&str>, now: Instant) -> Option<(Duration, &'static str)> {
        if let Some(w) = lock(&self.by_source).wait(&source, now) {
            return Some((w, "too many failed enrolment tokens from this address"));
        }
        let endpoint = endpoint?;
        lock(&self.by_endpoint)
            .wait(&endpoint.to_string(), now)
            .map(|w| (w, "too many failed enrolment tokens for this endpoint"))
    }

    /// Counts a failed token from `source` for `endpoint`.
    pub fn failed(&self, source: IpAddr, endpoint: Option<&str>, now: Instant) {
        lock(&self.by_source).charge(source, now);
        if let Some(e) = endpoint {
            lock(&self.by_endpoint).charge(e.to_string(), now);
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic elsewhere while holding it leaves the buckets usable.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_source_is_locked_before_the_endpoint_and_others_go_on() {
        let limits = FailedTokenLimits {
            per_source_per_min: 1,
            per_source_burst: 2,
            per_endpoint_per_min: 1,
            per_endpoint_burst: 3,
        };
        let f = FailedTokens::new(&limits);
        let (a, b): (IpAddr, IpAddr) = ("192.0.2.1".parse().unwrap(), "192.0.2.2".parse().unwrap());
        let t = Instant::now();
        assert!(f.locked(a, Some("m"), t).is_none());
        f.failed(a, Some("m"), t);
        f.failed(a, Some("m"), t);
        let (wait, why) = f.locked(a, Some("m"), t).expect("the source is locked");
        assert!(why.contains("address") && wait <= Duration::from_secs(60) && wait > Duration::from_secs(59));
        assert!(f.locked(b, Some("m"), t).is_none(), "another source for the same endpoint goes on");
        f.failed(b, Some("m"), t);
        let (_, why) = f.locked(b, Some("m"), t).expect("the endpoint has had 3 failures");
        assert!(why.contains("endpoint"));
        assert!(f.locked(b, Some("other"), t).is_none() && f.locked(b, None, t).is_none());
        assert!(f.locked(a, Some("m"), t + Duration::from_secs(61)).is_none(), "a token back after a minute");
    }
}
