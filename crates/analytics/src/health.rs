//! Per-tenant security health check: a score from 0 (bad) to 100 (good), the reasons for every point
//! taken off, and the top risks.
//!
//! Penalties (each capped, the total at 100):
//! - `open_traffic_policy`: SIMs without a restrictive traffic policy, up to 30 points (30 × share);
//! - `devices_with_detections`: SIMs with open detections, up to 40 points (4 points per percent);
//! - one penalty per kind of open detection, weighted by severity and by the highest score of that kind
//!   (threat intelligence 15, scanning and DNS tunnelling 12, signalling 8, volume and IMEI change 6,
//!   new destination 5, cohort outlier 4);
//! - `quarantined`: SIMs in quarantine, up to 10 points (contained, but still to be cleaned up).
//!
//! Top risks are the detection kinds ordered by affected devices × highest score.

use std::collections::{HashMap, HashSet};

use serde::Serialize;

use crate::detect::{Detection, DetectionKind};

/// What the health check looks at, for one tenant.
#[derive(Debug, Clone, Copy)]
pub struct HealthInputs<'a> {
    /// SIMs of the tenant.
    pub sims: u64,
    /// SIMs whose traffic policy is open (no allowlist).
    pub sims_open_policy: u64,
    /// SIMs in quarantine.
    pub sims_quarantined: u64,
    /// The tenant's open detections.
    pub detections: &'a [Detection],
}

/// One reason points were taken off.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reason {
    /// Stable code.
    pub code: String,
    /// Points taken off.
    pub penalty: u8,
    /// For people.
    pub text: String,
}

/// One risk.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Risk {
    /// The detection kind.
    pub kind: DetectionKind,
    /// Devices affected.
    pub devices: usize,
    /// Open detections.
    pub detections: usize,
    /// Highest score.
    pub max_score: f64,
}

/// The health check's answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HealthReport {
    /// 0..=100, higher is healthier.
    pub score: u8,
    /// Why points were taken off, largest first.
    pub reasons: Vec<Reason>,
    /// At most five risks, largest first.
    pub top_risks: Vec<Risk>,
}

fn weight(kind: DetectionKind) -> f64 {
    match kind {
        DetectionKind::ThreatIntel => 15.0,
        DetectionKind::Scanning | DetectionKind::DnsTunnelling => 12.0,
        DetectionKind::ExcessiveSignalling => 8.0,
        DetectionKind::VolumeSpike | DetectionKind::ImeiChange => 6.0,
        DetectionKind::NewDestination => 5.0,
        DetectionKind::CohortOutlier => 4.0,
    }
}

/// Computes the health report.
pub fn health_check(inputs: &HealthInputs<'_>) -> HealthReport {
    let sims = inputs.sims.max(1) as f64;
    let mut reasons = Vec::new();
    let open_share = (inputs.sims_open_policy as f64 / sims).min(1.0);
    if inputs.sims_open_policy > 0 {
        reasons.push(Reason {
            code: "open_traffic_policy".into(),
            penalty: (30.0 * open_share).round() as u8,
            text: format!(
                "{} of {} SIMs have an open traffic policy (no allowlist)",
                inputs.sims_open_policy, inputs.sims
            ),
        });
    }
    let mut by_kind: HashMap<DetectionKind, (HashSet<&str>, usize, f64)> = HashMap::new();
    let mut devices: HashSet<&str> = HashSet::new();
    for d in inputs.detections {
        devices.insert(&d.device.imsi);
        let e = by_kind.entry(d.kind).or_default();
        e.0.insert(&d.device.imsi);
        e.1 += 1;
        e.2 = e.2.max(d.score);
    }
    if !devices.is_empty() {
        let share = (devices.len() as f64 / sims).min(1.0);
        reasons.push(Reason {
            code: "devices_with_detections".into(),
            penalty: (400.0 * share).min(40.0).round() as u8,
            text: format!("{} of {} SIMs have open detections", devices.len(), inputs.sims),
        });
    }
    let mut risks: Vec<Risk> = by_kind
        .iter()
        .map(|(kind, (devs, n, max))| Risk { kind: *kind, devices: devs.len(), detections: *n, max_score: *max })
        .collect();
    risks.sort_by(|a, b| {
        (b.devices as f64 * b.max_score).total_cmp(&(a.devices as f64 * a.max_score)).then(a.kind.cmp(&b.kind))
    });
    for r in &risks {
        reasons.push(Reason {
            code: r.kind.as_str().into(),
            penalty: (weight(r.kind) * r.max_score).round() as u8,
            text: format!("{} open {} detection(s) on {} SIM(s)", r.detections, r.kind.as_str(), r.devices),
        });
    }
    if inputs.sims_quarantined > 0 {
        reasons.push(Reason {
            code: "quarantined".into(),
            penalty: (100.0 * inputs.sims_quarantined as f64 / sims).min(10.0).round() as u8,
            text: format!("{} SIMs are quarantined and need cleaning up", inputs.sims_quarantined),
        });
    }
    reasons.retain(|r| r.penalty > 0);
    reasons.sort_by(|a, b| b.penalty.cmp(&a.penalty).then(a.code.cmp(&b.code)));
    let total: u32 = reasons.iter().map(|r| u32::from(r.penalty)).sum();
    risks.truncate(5);
    HealthReport { score: 100u32.saturating_sub(total) as u8, reasons, top_risks: risks }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::{detection_id, Evidence};
    use crate::observe::DeviceKey;

    fn detection(imsi: &str, kind: DetectionKind, score: f64) -> Detection {
        let device = DeviceKey::new(imsi, "t", "p");
        Detection {
            id: detection_id(kind, &device, 0),
            kind,
            device,
            window_start: 0,
            at: 0,
            score,
            evidence: Evidence::ImeiChange { previous_tac: 1, tac: 2, changes: 1 },
        }
    }

    #[test]
    fn a_clean_restricted_tenant_scores_100() {
        let r = health_check(&HealthInputs { sims: 100, sims_open_policy: 0, sims_quarantined: 0, detections: &[] });
        assert_eq!(r.score, 100);
        assert!(r.reasons.is_empty() && r.top_risks.is_empty());
    }

    #[test]
    fn posture_and_detections_take_points_with_reasons_and_risks() {
        let detections = [
            detection("1", DetectionKind::Scanning, 1.0),
            detection("2", DetectionKind::Scanning, 0.5),
            detection("3", DetectionKind::ThreatIntel, 1.0),
        ];
        let r = health_check(&HealthInputs {
            sims: 100,
            sims_open_policy: 50,
            sims_quarantined: 1,
            detections: &detections,
        });
        // 15 (open policy) + 12 (3 % with detections) + 12 (scanning) + 15 (intel) + 1 (quarantined).
        assert_eq!(r.score, 100 - 15 - 12 - 12 - 15 - 1);
        assert_eq!(r.reasons[0].code, "open_traffic_policy");
        assert_eq!(r.top_risks[0].kind, DetectionKind::Scanning);
        assert_eq!(r.top_risks[0].devices, 2);
        assert_eq!(r.top_risks[1].kind, DetectionKind::ThreatIntel);
        // A tenant with everything wrong bottoms out at 0, not below.
        let many: Vec<Detection> =
            DetectionKind::ALL.iter().enumerate().map(|(i, k)| detection(&i.to_string(), *k, 1.0)).collect();
        let r = health_check(&HealthInputs { sims: 8, sims_open_policy: 8, sims_quarantined: 8, detections: &many });
        assert_eq!(r.score, 0);
    }
}
