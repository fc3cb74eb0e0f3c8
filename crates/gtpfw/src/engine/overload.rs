//! Overload Control Information toward partners (TS 29.274 §12.3): the firewall speaks for the
//! P-GW, so every OCI a partner receives through it — the firewall's own and the P-GW's relayed —
//! comes from one sequence-number space. A receiver keeps an OCI only if its sequence number is
//! higher than the one it holds (§12.3.5.1.2.1), so:
//!
//! - the sequence number changes only when the content (the reduction metric) changes, and then
//!   rises above every number sent before (the firewall's and the P-GW's), starting no lower than
//!   the wall clock in seconds so that a restarted firewall is not taken for an older one;
//! - a P-GW OCI that is newer than anything sent is relayed unchanged and becomes the reference;
//!   one whose number is not above the last sent but whose content differs gets the next number
//!   (rewritten in the relayed response), so an older OCI never replaces a newer one and newer
//!   content is never ignored;
//! - after shedding ends, responses carry a reduction of 0 for one period of validity, so
//!   partners stop throttling at once instead of when their copy expires.

use std::time::{SystemTime, UNIX_EPOCH};

use firewall::Now;
use gtpc::v2::values::OverloadControl;

use super::refusal::epc_timer;
use super::State;
use crate::rules::Rules;

impl State {
    /// The firewall's own OCI to put in a response now, if it has one to say.
    pub(super) fn oci_now(&mut self, rules: &Rules, now: Now) -> Option<OverloadControl> {
        if self.reduction > 0 {
            self.oci_until = Some(now.instant + rules.validity);
        } else if self.oci_until.is_none_or(|u| now.instant >= u) {
            return None;
        }
        let sequence = self.oci_sequence_for(self.reduction, now.wall);
        Some(OverloadControl {
            sequence,
            reduction_metric: self.reduction,
            validity: epc_timer(rules.validity),
            apns: vec![],
        })
    }

    /// The sequence number for an OCI with this metric: the last one sent when the content is the
    /// same, else a higher one.
    fn oci_sequence_for(&mut self, metric: u8, wall: SystemTime) -> u32 {
        if self.oci_metric == Some(metric) {
            return self.oci_sequence;
        }
        let floor = wall.duration_since(UNIX_EPOCH).map_or(0, |d| u32::try_from(d.as_secs()).unwrap_or(u32::MAX));
        self.oci_sequence = self.oci_sequence.saturating_add(1).max(floor);
        self.oci_metric = Some(metric);
        self.oci_sequence
    }

    /// A P-GW's OCI (sequence number, metric) relayed to a partner: `Some(n)` when its sequence
    /// number must become `n` (its content is new but its number is not above the last sent).
    pub(super) fn relay_pgw_oci(&mut self, sequence: u32, metric: u8) -> Option<u32> {
        if self.oci_metric.is_none() || sequence > self.oci_sequence {
            self.oci_sequence = sequence;
            self.oci_metric = Some(metric);
            return None;
        }
        if self.oci_metric == Some(metric) {
            return None;
        }
        self.oci_sequence = self.oci_sequence.saturating_add(1);
        self.oci_metric = Some(metric);
        Some(self.oci_sequence)
    }
}
