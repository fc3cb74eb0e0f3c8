//! What a PCEF still owes: a release it did not confirm, or (a critical SIM under
//! `critical_fail_open`) a rule change it did not take. Such a session is never forgotten: it stays
//! pending and is tried again with a bounded backoff (`retry_min_ms`, doubling up to
//! `retry_max_ms`), and at once when its PCEF connects again ([`crate::Pcrf::peer_open`]). The
//! pending entry goes when the PCEF confirms (or says it no longer has the session), or when the
//! session ends otherwise (CCR-T, a PCEF restart).

use std::time::{Duration, Instant};

use ids::Imsi;

use crate::push::Target;
use crate::{lock, Pcrf};

/// What the PCEF has not confirmed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Owed {
    /// The session's release (it keeps whatever rules the PCEF still has until then).
    Release,
    /// The session's current rules (a critical SIM kept its last ones).
    Rules,
}

/// A session whose PCEF owes a confirmation.
#[derive(Debug, Clone)]
pub(crate) struct Pending {
    pub owed: Owed,
    pub imsi: Imsi,
    pub target: Target,
    /// Failed deliveries so far.
    pub failures: u32,
    /// When it is tried again.
    pub due: Instant,
    /// A retry is under way.
    pub busy: bool,
}

/// The wait after `failures` failed deliveries: `min`, doubled each time, at most `max`.
pub(crate) fn backoff(failures: u32, min: Duration, max: Duration) -> Duration {
    let doublings = failures.saturating_sub(1).min(20);
    min.saturating_mul(1 << doublings).min(max)
}

impl Pcrf {
    fn backoff_after(&self, failures: u32) -> Duration {
        let c = &self.config;
        backoff(failures, Duration::from_millis(c.retry_min_ms.max(1)), Duration::from_millis(c.retry_max_ms.max(1)))
    }

    /// Records that the PCEF of `target` did not confirm `owed` (a release outranks a rule change).
    pub(crate) fn owe(&self, imsi: &Imsi, target: &Target, owed: Owed) {
        let mut pending = lock(&self.unconfirmed);
        let p = pending.entry(target.session.clone()).or_insert_with(|| Pending {
            owed,
            imsi: imsi.clone(),
            target: target.clone(),
            failures: 0,
            due: Instant::now(),
            busy: false,
        });
        if owed == Owed::Release {
            p.owed = Owed::Release;
        }
        p.failures = p.failures.saturating_add(1);
        p.due = Instant::now() + self.backoff_after(p.failures);
        p.busy = false;
    }

    /// The PCEF confirmed (or the session is gone): nothing is owed for `session`.
    pub(crate) fn settled(&self, session: &str) {
        lock(&self.unconfirmed).remove(session);
    }

    /// Retries what is due at `now` (the sweep calls it).
    pub(crate) fn retry_due(&self, now: Instant) {
        self.retry_where(|p| p.due <= now);
    }

    /// Retries what `host` owes at once (it connected again): releases and unconfirmed rule
    /// changes (which [`Pcrf::peer_open`]'s re-check, when it runs, finds too: a second push of
    /// the same policy changes nothing).
    pub(crate) fn retry_host(&self, host: &str) {
        self.retry_where(|p| p.target.host.eq_ignore_ascii_case(host));
    }

    fn retry_where(&self, which: impl Fn(&Pending) -> bool) {
        let due: Vec<Pending> = {
            let mut pending = lock(&self.unconfirmed);
            pending
                .values_mut()
                .filter(|p| !p.busy && which(p))
                .map(|p| {
                    p.busy = true;
                    p.clone()
                })
                .collect()
        };
        for p in due {
            let Some(me) = self.me.upgrade() else { return };
            self.tasks.spawn(async move {
                match p.owed {
                    Owed::Release => me.confirm_release(&p.imsi, &p.target).await,
                    Owed::Rules => me.push(&p.imsi, false).await,
                }
                // Neither owed again nor settled: nothing is owed any more (the session ended, the
                // policy no longer differs, or its PCEF has no connection here and gets the current
                // rules when it connects).
                let mut pending = lock(&me.unconfirmed);
                if pending.get(&p.target.session).is_some_and(|q| q.busy) {
                    pending.remove(&p.target.session);
                }
            });
        }
    }

    /// Sessions whose PCEF owes a confirmation now.
    pub(crate) fn unconfirmed_count(&self) -> usize {
        lock(&self.unconfirmed).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_bound() {
        let (min, max) = (Duration::from_secs(5), Duration::from_secs(60));
        let waits: Vec<u64> = (1..=7).map(|f| backoff(f, min, max).as_secs()).collect();
        assert_eq!(waits, [5, 10, 20, 40, 60, 60, 60]);
        assert_eq!(backoff(u32::MAX, min, max), max);
        assert_eq!(backoff(0, min, max), min);
        // A maximum below the minimum wins.
        assert_eq!(backoff(3, max, min), min);
    }
}
