//! Usage reports (Usage-Monitoring-Information of CCR-U/CCR-T) summed per (IMSI, hour) in memory
//! before they reach the session writer: a flood of CCR-U from one SIM costs one row per flush,
//! and the writer's queue never holds more usage than [`crate::MAX_PENDING_WRITES`] leaves room for.
//! The sums are handed to the writer by the sweep (every 500 ms) as far as that bound allows, and all
//! of them by [`crate::Pcrf::settle`]. A key already held always absorbs a report; a new key beyond
//! [`MAX_USAGE_KEYS`] is dropped and counted (`usage_dropped`), never a session.

use std::collections::HashMap;

use ids::Imsi;
use store::traffic::GxChange;

/// (IMSI, hour) sums held at most: SIMs reporting in the same flush interval while the writer is
/// behind. Beyond, reports of a SIM not already held are dropped (counted).
pub(crate) const MAX_USAGE_KEYS: usize = 500_000;

struct Sum {
    tenant: String,
    up: i64,
    down: i64,
}

/// Usage not yet handed to the writer.
#[derive(Default)]
pub(crate) struct Coalescer {
    sums: HashMap<(Imsi, i64), Sum>,
}

impl Coalescer {
    /// Adds `up`/`down` octets to `imsi`'s `hour`; false (nothing added) when that is a new key and
    /// [`MAX_USAGE_KEYS`] are held.
    pub fn add(&mut self, imsi: &Imsi, tenant: &str, hour: i64, up: i64, down: i64) -> bool {
        let key = (imsi.clone(), hour);
        if let Some(s) = self.sums.get_mut(&key) {
            s.up = s.up.saturating_add(up);
            s.down = s.down.saturating_add(down);
            return true;
        }
        if self.sums.len() >= MAX_USAGE_KEYS {
            return false;
        }
        self.sums.insert(key, Sum { tenant: tenant.to_string(), up, down });
        true
    }

    /// Takes at most `n` sums, as writer changes.
    pub fn take(&mut self, n: usize) -> Vec<GxChange> {
        let keys: Vec<(Imsi, i64)> = self.sums.keys().take(n).cloned().collect();
        keys.into_iter()
            .filter_map(|k| {
                let s = self.sums.remove(&k)?;
                Some(GxChange::Usage { imsi: k.0.to_string(), tenant: s.tenant, hour: k.1, up: s.up, down: s.down })
            })
            .collect()
    }

    /// Sums held.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.sums.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_of_one_sim_and_hour_become_one_change() {
        let mut c = Coalescer::default();
        let a: Imsi = "001010000000001".parse().unwrap();
        let b: Imsi = "001010000000002".parse().unwrap();
        for _ in 0..10_000 {
            assert!(c.add(&a, "acme", 7, 10, 20));
        }
        assert!(c.add(&a, "acme", 8, 1, 1));
        assert!(c.add(&b, "acme", 7, 5, 5));
        assert_eq!(c.len(), 3);
        let mut taken = c.take(2);
        taken.extend(c.take(10));
        assert_eq!(c.len(), 0);
        assert_eq!(taken.len(), 3);
        let of = |imsi: &Imsi, h: i64| {
            taken.iter().find_map(|t| match t {
                GxChange::Usage { imsi: i, hour, up, down, .. } if *i == imsi.to_string() && *hour == h => {
                    Some((*up, *down))
                }
                _ => None,
            })
        };
        assert_eq!(of(&a, 7), Some((100_000, 200_000)));
        assert_eq!((of(&a, 8), of(&b, 7)), (Some((1, 1)), Some((5, 5))));
    }

    #[test]
    fn a_full_table_still_absorbs_the_keys_it_holds() {
        let mut c = Coalescer::default();
        let base = 1_010_000_000_000u64;
        for i in 0..MAX_USAGE_KEYS as u64 {
            assert!(c.add(&format!("00{}", base + i).parse().unwrap(), "t", 1, 1, 1));
        }
        let held: Imsi = format!("00{base}").parse().unwrap();
        assert!(c.add(&held, "t", 1, 1, 1), "a held key absorbs");
        assert!(!c.add(&held, "t", 2, 1, 1), "a new key is refused");
        assert_eq!(c.len(), MAX_USAGE_KEYS);
    }
}
