//! Changes the PCRF hears of from the database rather than from this process: a SIM announced as
//! changed ([`Pcrf::sim_announced`]), and the case where announcements may have been missed (the
//! change feed reconnected or fell behind), when every SIM with a session is read again
//! ([`Pcrf::recheck_all`]).

use std::collections::HashSet;

use ids::Imsi;

use crate::{lock, Pcrf, Subscriber};

/// True when two readings of a SIM give the same rules and QoS.
fn same_policy(a: &Subscriber, b: &Subscriber) -> bool {
    a.policy == b.policy
        && a.priority == b.priority
        && a.tenant == b.tenant
        && a.profile_name == b.profile_name
        && a.profile == b.profile
}

impl Pcrf {
    /// The database announced that `imsi` changed (made by another process or instance, or by this
    /// one): its sessions are re-evaluated as with [`Pcrf::sim_changed`]; a SIM without a session
    /// only loses its cached policy, so that its next CCR-Initial reads it again.
    pub fn sim_announced(&self, imsi: &Imsi) {
        if lock(&self.sessions).count_of_imsi(imsi) == 0 {
            lock(&self.cache).remove(imsi);
        } else {
            self.sim_changed(imsi);
        }
    }

    /// Changes may have been missed (the change feed reconnected or fell behind): the cached
    /// policies of SIMs without a session are dropped, every SIM with a session is read again, and
    /// its sessions are brought to the policy read — by RAR where their rules differ (or released
    /// when the SIM is no longer active). A SIM whose policy is unchanged keeps its DNS-resolved
    /// rules; one whose policy changed loses them, as with [`Pcrf::sim_changed`]. Returns when every
    /// SIM was read (the pushes go on in the background, as [`Pcrf::settle`] tracks).
    pub async fn recheck_all(&self) {
        let imsis = lock(&self.sessions).imsis();
        // Profiles are read again too: a missed change may have been a profile's.
        lock(&self.profiles).clear();
        {
            let with_sessions: HashSet<&Imsi> = imsis.iter().collect();
            lock(&self.cache).retain(|imsi, _| with_sessions.contains(imsi));
        }
        let mut failed = 0usize;
        for imsi in imsis {
            let before = lock(&self.cache).get(&imsi).cloned();
            match self.subscriber(&imsi, true).await {
                Ok(now) => {
                    let unchanged = matches!((&before, &now), (Some(b), Some(n)) if same_policy(b, n));
                    // Unchanged: only sessions whose rules differ from it (a change the cache had
                    // seen before them) get a RAR, and keep their DNS-resolved rules.
                    self.spawn_push(imsi, !unchanged);
                }
                Err(e) => {
                    failed += 1;
                    // The next CCR-Initial reads it again; the sessions keep their rules.
                    lock(&self.cache).remove(&imsi);
                    tracing::debug!(%imsi, error = %e, "policy could not be read again");
                }
            }
        }
        if failed > 0 {
            tracing::warn!(
                failed,
                "PCRF: after missed changes, some SIMs' policies could not be read; their sessions keep their rules"
            );
        }
    }
}
