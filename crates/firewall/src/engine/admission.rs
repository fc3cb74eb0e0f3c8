//! Admission by priority against the HSS's capacity (ROAM-1, ROAM-3), strict priority and
//! work-conserving: one token bucket refilled at `capacity_per_sec` (burst `overload.burst`) is the
//! only door to the HSS, and every admitted request takes one token, whatever its class. The classes
//! differ only in how full the bucket must be for them:
//!
//! | class | admitted while the bucket holds at least |
//! |---|---|
//! | critical | 1 − reserve (it may run the bucket into a debt of the reserve) |
//! | standard | 1 + reserve |
//! | low | 1 + reserve + low headroom, and the HSS is not slow (in flight, answer time) |
//!
//! (reserve = `critical_reserve` × burst, low headroom = `low_headroom` × burst.) The bucket measures
//! the *admitted* load, not the offered one: while a higher class uses the whole capacity, the bucket
//! never refills past that class's floor and lower classes get nothing; whatever the higher classes
//! leave lifts the bucket above the lower floors, and lower classes take it. So any class gets what
//! the higher classes leave, and a storm of low-priority devices alone gets the whole capacity.

use std::sync::atomic::Ordering;
use std::time::Instant;

use super::{Engine, RATE_WINDOW};
use crate::rules::{Priority, Rules};

/// Tokens the global bucket must hold for a request of priority `p` to be admitted, the reserve and
/// headroom scaled by `scale` (this instance's part of the burst, 1 for a single instance).
pub(super) fn floor(rules: &Rules, p: Priority, scale: f64) -> f64 {
    priority_floor(p, rules.critical_reserve * scale, rules.low_headroom * scale)
}

/// Tokens a priority door's bucket must hold to admit a request of priority `p`, given the critical
/// reserve and the low headroom in tokens (see the module documentation). Shared with the GTP-C
/// firewall (crate `gtpfw`), which guards the P-GW the same way.
pub fn priority_floor(p: Priority, reserve: f64, low_headroom: f64) -> f64 {
    match p {
        Priority::Critical => 1.0 - reserve,
        Priority::Standard => 1.0 + reserve,
        Priority::Low => 1.0 + reserve + low_headroom,
    }
}

impl Engine {
    /// Admission against the HSS's capacity (see the module documentation). Also keeps the
    /// offered-rate estimate and the DOIC reduction up to date.
    pub(super) fn admit(&self, rules: &Rules, p: Priority, now: Instant) -> bool {
        let (rate, burst, scale) = self.split_capacity(rules);
        let mut o = self.overload.lock().expect("overload");
        // Offered rate (for DOIC only): every request adds 1/τ, and the sum decays as e^(-t/τ);
        // exact for a steady rate, and it forgets a storm within a few τ of silence.
        let dt = now.saturating_duration_since(o.rate_at).as_secs_f64();
        o.offered_rate = o.offered_rate * (-dt / RATE_WINDOW.as_secs_f64()).exp() + 1.0 / RATE_WINDOW.as_secs_f64();
        o.rate_at = now;
        if now.saturating_duration_since(o.reported_at) >= RATE_WINDOW {
            o.reported_at = now;
            self.update_reduction(rules, rate, o.offered_rate, now);
        }
        o.bucket.refill(rate, burst, now);
        if p == Priority::Low && self.hss_slow(rules) {
            return false;
        }
        if o.bucket.tokens >= floor(rules, p, scale) {
            o.bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// The HSS itself says it is struggling: requests in flight above `high_water` ×
    /// `max_in_flight`, or its smoothed answer time above `max_latency_ms`.
    fn hss_slow(&self, rules: &Rules) -> bool {
        self.upstream_in_flight.load(Ordering::Relaxed) as f64 > rules.upstream_max_in_flight as f64 * rules.high_water
            || self.upstream_latency() > rules.upstream_max_latency
    }

    /// Approaching capacity, for DOIC: the offered rate above `high_water` × this instance's
    /// capacity, or the HSS slow.
    fn approaching_capacity(&self, rules: &Rules, capacity: f64, offered: f64) -> bool {
        offered > capacity * rules.high_water || self.hss_slow(rules)
    }

    fn update_reduction(&self, rules: &Rules, capacity: f64, offered: f64, now: Instant) {
        let target = capacity * rules.high_water;
        let new = if offered > target {
            // The share of the offered traffic to shed, rounded up to 5 % steps to keep reports stable.
            let pct = (100.0 * (1.0 - target / offered)).ceil() as u32;
            pct.div_ceil(5).clamp(1, 20) * 5
        } else if self.approaching_capacity(rules, capacity, offered) {
            10
        } else {
            0
        };
        let old = self.reduction.swap(new, Ordering::Relaxed);
        if old != new {
            self.doic_sequence.fetch_add(1, Ordering::Relaxed);
            if new == 0 {
                let ms = now.saturating_duration_since(self.epoch).as_millis() as u64;
                self.report_ended_ms.store(ms.max(1), Ordering::Relaxed);
            }
        }
    }
}
