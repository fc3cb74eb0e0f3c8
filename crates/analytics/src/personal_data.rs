//! Personal data found in clear by the DPI, as detections of kind `personal_data` (CLP.14 SEC-2: "an
//! alert to the tenant").
//!
//! [`PersonalDataReports::report`] turns one DPI [`Finding`] in a packet of a device into a
//! [`Detection`] whose [`Evidence::PersonalData`] says what kind was found, which way the packet went,
//! the other side's address, port and protocol, and the offset in the payload — **never the bytes**,
//! not even a part of them. At most one detection per device, finding kind and window (an hour by
//! default): a device that sends a card number in every request is one detection an hour per kind.
//! Its id is stable: the engine's [`detection_id`] of (`personal_data`, device, window start) hashed
//! again with the finding kind, so a card and an e-mail address in the same hour are two detections.
//! Sans-IO: the caller gives the time.

use std::collections::HashMap;

use sha2::{Digest, Sha256};

use crate::baseline::HOUR_MS;
use crate::detect::{detection_id, Detection, DetectionKind, Direction, Evidence};
use crate::dpi::{Finding, FindingKind};
use crate::observe::{DeviceKey, UnixMs};
use crate::FiveTuple;

/// Devices × finding kinds remembered at most; beyond, the memory is cleared (a repeat in the same
/// window then gets the same id again, which the store counts as a repeat).
const MAX_REMEMBERED: usize = 262_144;

/// How serious a finding is: 0.8 for what identifies a person or pays (cards, IBANs, national
/// identity numbers), 0.7 for the operator's own patterns, 0.6 for positions, 0.5 for e-mail
/// addresses. Every one reaches a policy's default threshold (0.5).
pub fn score(kind: &FindingKind) -> f64 {
    match kind {
        FindingKind::PaymentCard | FindingKind::Iban | FindingKind::NationalId(_) => 0.8,
        FindingKind::Pattern(_) => 0.7,
        FindingKind::GpsPosition => 0.6,
        FindingKind::Email => 0.5,
    }
}

/// The stable id of the `personal_data` detection of `device` for `finding` (a finding kind's name)
/// in the window starting at `window_start`.
pub fn personal_data_id(device: &DeviceKey, finding: &str, window_start: UnixMs) -> String {
    let mut h = Sha256::new();
    h.update(detection_id(DetectionKind::PersonalData, device, window_start).as_bytes());
    h.update([0]);
    h.update(finding.as_bytes());
    h.finalize()[..16].iter().map(|b| format!("{b:02x}")).collect()
}

/// The deduplication of `personal_data` detections (see the module documentation).
#[derive(Debug)]
pub struct PersonalDataReports {
    window_ms: u64,
    /// (device, finding kind) → window index of its last detection.
    last: HashMap<(DeviceKey, String), u64>,
    /// The newest window seen; older entries are dropped when it moves on.
    current: u64,
}

impl Default for PersonalDataReports {
    fn default() -> Self {
        Self::new(HOUR_MS)
    }
}

impl PersonalDataReports {
    /// One detection per device and finding kind per `window_ms` (at least 1 ms).
    pub fn new(window_ms: u64) -> Self {
        Self { window_ms: window_ms.max(1), last: HashMap::new(), current: 0 }
    }

    /// A finding in a packet (`tuple`) of `device`, the device being the packet's source when
    /// `direction` is uplink: a detection, unless one was raised for the device and kind in this
    /// window already.
    pub fn report(
        &mut self,
        device: &DeviceKey,
        finding: &Finding,
        tuple: &FiveTuple,
        direction: Direction,
        at: UnixMs,
    ) -> Option<Detection> {
        let window = at / self.window_ms;
        if window > self.current {
            self.current = window;
            self.last.retain(|_, w| *w >= window);
        }
        let kind = finding.kind.to_string();
        let key = (device.clone(), kind);
        if self.last.get(&key) == Some(&window) {
            return None;
        }
        if self.last.len() >= MAX_REMEMBERED {
            self.last.clear();
        }
        let window_start = window * self.window_ms;
        let id = personal_data_id(device, &key.1, window_start);
        let (remote, port) = match direction {
            Direction::Uplink => (tuple.dst, tuple.dport),
            Direction::Downlink => (tuple.src, tuple.sport),
        };
        let evidence = Evidence::PersonalData {
            finding: key.1.clone(),
            direction,
            remote,
            port,
            proto: tuple.proto,
            offset: finding.offset,
        };
        self.last.insert(key, window);
        Some(Detection {
            id,
            kind: DetectionKind::PersonalData,
            device: device.clone(),
            window_start,
            at,
            score: score(&finding.kind),
            evidence,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dpi::NationalIdFormat;

    fn tuple() -> FiveTuple {
        FiveTuple {
            src: "10.45.0.2".parse().unwrap(),
            dst: "198.51.100.20".parse().unwrap(),
            sport: 40010,
            dport: 80,
            proto: 6,
        }
    }

    fn finding(kind: FindingKind, offset: usize) -> Finding {
        Finding { kind, offset, len: 19 }
    }

    #[test]
    fn one_detection_per_device_kind_and_hour_with_stable_distinct_ids() {
        let mut r = PersonalDataReports::default();
        let dev = DeviceKey::new("001010000000001", "acme", "meter");
        let other = DeviceKey::new("001010000000002", "acme", "meter");
        let card = finding(FindingKind::PaymentCard, 81);
        let t0 = 10 * HOUR_MS + 5;
        let first = r.report(&dev, &card, &tuple(), Direction::Uplink, t0).expect("first card");
        assert_eq!(first.kind, DetectionKind::PersonalData);
        assert_eq!(first.window_start, 10 * HOUR_MS);
        assert_eq!(first.id, personal_data_id(&dev, "card", 10 * HOUR_MS));
        assert_eq!(first.id.len(), 32);
        assert_ne!(first.id, detection_id(DetectionKind::PersonalData, &dev, 10 * HOUR_MS));
        assert!(r.report(&dev, &card, &tuple(), Direction::Uplink, t0 + 1000).is_none(), "same hour, same kind");
        let email = r.report(&dev, &finding(FindingKind::Email, 3), &tuple(), Direction::Uplink, t0 + 2000).unwrap();
        assert_ne!(email.id, first.id, "another kind is another detection");
        assert_eq!(email.score, 0.5);
        let theirs = r.report(&other, &card, &tuple(), Direction::Uplink, t0 + 3000).unwrap();
        assert_ne!(theirs.id, first.id, "another device");
        let next = r.report(&dev, &card, &tuple(), Direction::Uplink, t0 + HOUR_MS).unwrap();
        assert_ne!(next.id, first.id, "the next hour");
        // A fresh reporter (a restart) gives the same id for the same hour.
        let again = PersonalDataReports::default().report(&dev, &card, &tuple(), Direction::Uplink, t0 + 99).unwrap();
        assert_eq!(again.id, first.id);
    }

    #[test]
    fn the_evidence_is_kind_direction_remote_port_protocol_and_offset_only() {
        let mut r = PersonalDataReports::default();
        let dev = DeviceKey::new("001010000000001", "acme", "meter");
        let ssn = finding(FindingKind::NationalId(NationalIdFormat::UsSsn), 7);
        let up = r.report(&dev, &ssn, &tuple(), Direction::Uplink, 1).unwrap();
        let json = serde_json::to_value(&up.evidence).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"type": "personal_data", "finding": "national_id:us_ssn", "direction": "uplink",
                               "remote": "198.51.100.20", "port": 80, "proto": 6, "offset": 7})
        );
        assert_eq!(up.score, 0.8);
        // Downlink: the remote is the packet's source.
        let down = tuple();
        let down = FiveTuple { src: down.dst, dst: down.src, sport: down.dport, dport: down.sport, proto: 17 };
        let d = r.report(&dev, &finding(FindingKind::GpsPosition, 0), &down, Direction::Downlink, 2).unwrap();
        match d.evidence {
            Evidence::PersonalData { remote, port, direction, proto, .. } => {
                assert_eq!(
                    (remote.to_string(), port, direction, proto),
                    ("198.51.100.20".into(), 80, Direction::Downlink, 17)
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn old_windows_are_forgotten() {
        let mut r = PersonalDataReports::new(1000);
        let card = finding(FindingKind::PaymentCard, 0);
        for i in 0..100 {
            let dev = DeviceKey::new(&format!("0010100000{i:05}"), "acme", "meter");
            r.report(&dev, &card, &tuple(), Direction::Uplink, 10).unwrap();
        }
        assert_eq!(r.last.len(), 100);
        let dev = DeviceKey::new("001010000000001", "acme", "meter");
        r.report(&dev, &card, &tuple(), Direction::Uplink, 2500).unwrap();
        assert_eq!(r.last.len(), 1);
    }
}
