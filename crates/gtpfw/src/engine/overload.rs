//! Overload Control Information toward partners (TS 29.274 §12.3), **per partner**: an OCI is
//! information of the originating node (the P-GW, which the firewall speaks for) toward one peer
//! (§12.3.5.1.2.1), so each partner has its own sequence number, reduction metric and period of
//! validity ([`PartnerOci`]). A receiver keeps an OCI only if its sequence number is higher than the
//! one it holds, so, per partner:
//!
//! - the reduction metric is the larger of the P-GW's (the share of the offered load above the
//!   P-GW's capacity, shed by every partner alike) and the partner's own (the share of its offered
//!   set-ups above its `setup_rate_per_sec`), in 5 % steps; a partner that keeps to its budget
//!   while another storms is asked for the P-GW's share only;
//! - the sequence number changes only when the content changes, and then becomes
//!   `max(last + 1, wall clock in seconds)`: it never goes back for that partner. An increase of
//!   the metric is told at once; a decrease at most once a second (no flapping while the load
//!   hovers at a step). Numbers run ahead of the wall clock (or of the P-GW's own numbers relayed)
//!   by at most [`MAX_LEAD`] (a change that would go further waits for the clock), so a restarted firewall — nothing is
//!   persisted; it numbers from the wall clock again — is never taken for an older one once it was
//!   down longer than that;
//! - a P-GW OCI that is newer than anything the partner was sent is relayed unchanged and becomes
//!   the reference; one whose number is not above the last sent but whose content differs gets the
//!   next number (rewritten in the relayed response), so an older OCI never replaces a newer one and
//!   newer content is never ignored;
//! - after shedding ends, responses carry a reduction of 0 for one period of validity, so the
//!   partner stops throttling at once instead of when its copy expires.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use firewall::Now;
use gtpc::v2::values::OverloadControl;

use super::refusal::epc_timer;
use super::RATE_WINDOW;
use crate::rules::{Partner, Rules};

/// A decrease of the firewall's own metric toward a partner comes at most this often.
const MIN_DECREASE: Duration = Duration::from_secs(1);
/// How far (seconds) a partner's sequence numbers may run ahead of the wall clock.
const MAX_LEAD: u32 = 20;

/// What one partner was told (and how fast it offers set-ups).
#[derive(Debug, Default, Clone)]
pub(super) struct PartnerOci {
    /// The last sequence number sent and its metric.
    sequence: u32,
    metric: Option<u8>,
    /// When the sequence number last changed.
    changed: Option<Instant>,
    /// The highest P-GW number relayed as it was (the lead is counted from it too).
    pgw: u32,
    /// Responses carry the OCI until then (a reduction of 0 once shedding ended).
    until: Option<Instant>,
    /// Set-ups offered per second (exponential decay, τ = `RATE_WINDOW`), at `offered_at`.
    offered: f64,
    offered_at: Option<Instant>,
}

impl PartnerOci {
    /// The set-up rate offered, decayed to `now`.
    fn offered_at(&self, now: Instant) -> f64 {
        let Some(at) = self.offered_at else { return 0.0 };
        let dt = now.saturating_duration_since(at).as_secs_f64();
        self.offered * (-dt / RATE_WINDOW.as_secs_f64()).exp()
    }
}

/// The share of `offered` above `allowed`, in percent rounded up to 5 % steps (0 when within).
pub(super) fn shed_share(offered: f64, allowed: f64) -> u8 {
    if offered > allowed {
        let pct = (100.0 * (1.0 - allowed / offered)).ceil() as u32;
        (pct.div_ceil(5).clamp(1, 20) * 5) as u8
    } else {
        0
    }
}

fn wall_secs(wall: SystemTime) -> u32 {
    wall.duration_since(UNIX_EPOCH).map_or(0, |d| u32::try_from(d.as_secs()).unwrap_or(u32::MAX))
}

impl PartnerOci {
    /// A set-up (Create Session / Create PDP Context) offered by the partner, for its own share.
    pub(super) fn note_setup(&mut self, now: Instant) {
        let p = self;
        p.offered = p.offered_at(now) + 1.0 / RATE_WINDOW.as_secs_f64();
        p.offered_at = Some(now);
    }

    /// The firewall's OCI to put in a response to `partner` now, if it has one to say (`global`:
    /// the P-GW's overload reduction).
    pub(super) fn oci_now(
        &mut self,
        global: u8,
        rules: &Rules,
        partner: &Partner,
        now: Now,
    ) -> Option<OverloadControl> {
        let p = self;
        let want = global.max(shed_share(p.offered_at(now.instant), partner.setup_rate));
        let wall = wall_secs(now.wall);
        let next = p.sequence.saturating_add(1).max(wall);
        let may_change = match p.metric {
            None => true,
            Some(m) => {
                next <= wall.max(p.pgw).saturating_add(MAX_LEAD)
                    && (want > m || p.changed.is_none_or(|c| now.instant >= c + MIN_DECREASE))
            }
        };
        let metric = match p.metric {
            Some(m) if !may_change => m,
            _ => want,
        };
        if metric > 0 {
            p.until = Some(now.instant + rules.validity);
        } else if p.until.is_none_or(|u| now.instant >= u) {
            return None;
        }
        if p.metric != Some(metric) {
            p.sequence = next;
            p.metric = Some(metric);
            p.changed = Some(now.instant);
        }
        Some(OverloadControl {
            sequence: p.sequence,
            reduction_metric: metric,
            validity: epc_timer(rules.validity),
            apns: vec![],
        })
    }

    /// A P-GW's OCI (sequence number, metric) relayed to the partner: `Some(n)` when its sequence
    /// number must become `n` (its content is new to that partner but its number is not above the
    /// last one the partner was sent).
    pub(super) fn relay_pgw_oci(&mut self, sequence: u32, metric: u8, now: Instant) -> Option<u32> {
        let p = self;
        if p.metric.is_none() || sequence > p.sequence {
            p.sequence = sequence;
            p.pgw = sequence;
            p.metric = Some(metric);
            p.changed = Some(now);
            return None;
        }
        if p.metric == Some(metric) {
            return None;
        }
        p.sequence = p.sequence.saturating_add(1);
        p.metric = Some(metric);
        p.changed = Some(now);
        Some(p.sequence)
    }
}
