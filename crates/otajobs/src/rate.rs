//! The global send rate limit: messages (SMS segments) per second across every job, spaced evenly
//! (no bursts), shared by every task that sends.

use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

/// Spaces sends to at most `per_second` messages a second.
#[derive(Debug)]
pub struct RateLimiter {
    interval: Duration,
    next: Mutex<Option<Instant>>,
}

impl RateLimiter {
    /// A limiter of `per_second` messages a second (at least 0.001).
    pub fn new(per_second: f64) -> Self {
        let interval = Duration::from_secs_f64(1.0 / per_second.max(0.001));
        RateLimiter { interval, next: Mutex::new(None) }
    }

    /// Waits for the slot of `n` messages.
    pub async fn acquire(&self, n: usize) {
        let slot = {
            let mut next = self.next.lock().await;
            let now = Instant::now();
            let slot = match *next {
                Some(t) if t > now => t,
                _ => now,
            };
            *next = Some(slot + self.interval * n.max(1) as u32);
            slot
        };
        tokio::time::sleep_until(slot).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn sends_are_spaced_to_the_rate() {
        let l = RateLimiter::new(10.0);
        let start = Instant::now();
        for _ in 0..5 {
            l.acquire(1).await;
        }
        l.acquire(3).await;
        // 5 single messages take slots 0, 100, …, 400 ms; the 3-segment one starts at 500 ms.
        assert_eq!(start.elapsed(), Duration::from_millis(500));
        l.acquire(1).await;
        assert_eq!(start.elapsed(), Duration::from_millis(800));
    }
}
