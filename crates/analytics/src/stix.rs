//! Detections and indicators exported as a STIX 2.1 bundle, for threat sharing (AV-1).
//!
//! The bundle holds:
//! - one `identity` (the exporting operator or tenant), referenced as `created_by_ref` and as the
//!   place of every sighting;
//! - one `indicator` per threat-intelligence indicator the detections matched (keeping its STIX id
//!   when it came from STIX), and, when the tenant opted in, one per new destination;
//! - one `attack-pattern` per kind of behaviour detection (scanning, DNS tunnelling…), since a
//!   `sighting` must point at an SDO;
//! - one `extension-definition` ([`DETECTION_EXTENSION`]) describing Warden's detection properties;
//! - one `sighting` per detection: `first_seen`/`last_seen`, `count`, `where_sighted_refs`, and under
//!   `extensions` (a STIX 2.1 property extension) the kind, score, device and evidence.
//!
//! Devices (IMSIs) and addresses in the evidence are keyed pseudonyms ([`Pseudonymizer`]) unless the
//! tenant opted in (PR-1). STIX 2.1 §2.9 asks SDOs, SROs, meta objects and bundles to use UUIDv4; ours
//! are version-4 UUIDs whose 122 "random" bits are the SHA-1 of a stable name in the STIX namespace
//! `00abedb4-aa42-466c-9c01-fed23315a9b7` (as UUIDv5 computes them, [`uuid_v5`]), so exporting the same
//! detections twice gives the same ids and nobody can tell them from random ones. Timestamps are RFC 3339
//! UTC with milliseconds. The bundles pass OASIS's validator in strict mode
//! (`tests/stix_validator.rs`).

use std::collections::BTreeMap;

use serde_json::{json, Value};
use sha1::{Digest, Sha1};

use crate::detect::{Detection, DetectionKind, Evidence};
use crate::intel::{IndicatorValue, IntelSet};
use crate::observe::UnixMs;
use crate::pseudonym::Pseudonymizer;

/// The STIX 2.1 namespace for deterministic identifiers (STIX 2.1 §2.9).
pub const STIX_NAMESPACE: [u8; 16] =
    [0x00, 0xab, 0xed, 0xb4, 0xaa, 0x42, 0x46, 0x6c, 0x9c, 0x01, 0xfe, 0xd2, 0x33, 0x15, 0xa9, 0xb7];

/// A name-based UUID (version 5, RFC 9562 §5.5) in `namespace`.
pub fn uuid_v5(namespace: &[u8; 16], name: &str) -> String {
    let mut h = Sha1::new();
    h.update(namespace);
    h.update(name.as_bytes());
    let d = h.finalize();
    let mut u = [0u8; 16];
    u.copy_from_slice(&d[..16]);
    u[6] = (u[6] & 0x0f) | 0x50;
    u[8] = (u[8] & 0x3f) | 0x80;
    let hex: String = u.iter().map(|b| format!("{b:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..])
}

/// A version-4-shaped UUID whose random bits come from SHA-1(namespace ‖ name): deterministic, and
/// indistinguishable from a random UUIDv4 for whoever reads it.
pub fn uuid_v4_from_name(namespace: &[u8; 16], name: &str) -> String {
    let v5 = uuid_v5(namespace, name);
    // Same bits, version nibble 4 instead of 5.
    format!("{}4{}", &v5[..14], &v5[15..])
}

/// A STIX id `type--uuid`, the UUID derived from `type:name` ([`uuid_v4_from_name`]).
pub fn stix_id(kind: &str, name: &str) -> String {
    format!("{kind}--{}", uuid_v4_from_name(&STIX_NAMESPACE, &format!("{kind}:{name}")))
}

/// The id of the extension definition of Warden's detection properties on sightings.
pub const DETECTION_EXTENSION: &str = "extension-definition--6f1a2c64-1b0e-4b8e-9c3d-5a7e2f9b4d11";

/// Unix milliseconds as an RFC 3339 UTC timestamp with milliseconds, `2026-01-05T00:00:00.000Z`.
pub fn timestamp(ms: UnixMs) -> String {
    let secs = ms / 1000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Days to civil date (proleptic Gregorian), the era-based algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60,
        ms % 1000
    )
}

/// What goes into an export.
#[derive(Debug, Clone)]
pub struct ExportOptions {
    /// The exporting organisation's name (the `identity`).
    pub identity_name: String,
    /// The tenant agreed to share real IMSIs and addresses (otherwise pseudonyms).
    pub opted_in: bool,
    /// The export's creation time.
    pub created: UnixMs,
}

fn behaviour_name(kind: DetectionKind) -> &'static str {
    match kind {
        DetectionKind::NewDestination => "Connection to a destination outside the device's baseline or allowlist",
        DetectionKind::VolumeSpike => "Traffic volume far above the device's baseline",
        DetectionKind::Scanning => "Network scanning (many hosts, services or telnet hosts)",
        DetectionKind::DnsTunnelling => "DNS tunnelling or algorithmically generated domains",
        DetectionKind::ThreatIntel => "Traffic to a threat-intelligence indicator",
        DetectionKind::ExcessiveSignalling => "Excessive mobile-network signalling",
        DetectionKind::ImeiChange => "SIM moved to another device (IMEI change)",
        DetectionKind::CohortOutlier => "Behaviour unlike the device's cohort",
    }
}

fn evidence_for_export(evidence: &Evidence, pseudonyms: &Pseudonymizer, opted_in: bool) -> Value {
    let mut value = serde_json::to_value(evidence).unwrap_or(Value::Null);
    let remote = match evidence {
        Evidence::NewDestination { remote, .. } => Some(*remote),
        Evidence::ThreatIntel { remote, .. } => *remote,
        _ => None,
    };
    if let (Some(ip), Some(obj)) = (remote, value.as_object_mut()) {
        // An address that matched a shared indicator is already public; others are the device's.
        let public = matches!(evidence, Evidence::ThreatIntel { .. });
        let shown = if public { ip.to_string() } else { pseudonyms.ip_for_export(ip, opted_in) };
        obj.insert("remote".into(), Value::String(shown));
    }
    value
}

struct Builder {
    created: String,
    identity: String,
    objects: BTreeMap<String, Value>,
}

impl Builder {
    fn new(options: &ExportOptions) -> Self {
        let created = timestamp(options.created);
        let identity = stix_id("identity", &options.identity_name);
        let mut objects = BTreeMap::new();
        objects.insert(
            identity.clone(),
            json!({
                "type": "identity", "spec_version": "2.1", "id": identity, "created": created, "modified": created,
                "name": options.identity_name, "identity_class": "organization",
            }),
        );
        Self { created, identity, objects }
    }

    fn indicator(
        &mut self,
        value: &IndicatorValue,
        stix: Option<&str>,
        name: Option<&str>,
        types: &str,
        valid_from: &str,
    ) -> String {
        let pattern = value.stix_pattern();
        let id = stix.map(str::to_string).unwrap_or_else(|| stix_id("indicator", &pattern));
        let (created, identity) = (&self.created, &self.identity);
        self.objects.entry(id.clone()).or_insert_with(|| {
            json!({
                "type": "indicator", "spec_version": "2.1", "id": id, "created": created, "modified": created,
                "created_by_ref": identity, "name": name.map(str::to_string).unwrap_or_else(|| value.to_string()),
                "description": format!("{} traffic seen by Warden's security analytics", if types == "malicious-activity" { "Malicious" } else { "Anomalous" }),
                "indicator_types": [types], "pattern": pattern, "pattern_type": "stix", "valid_from": valid_from,
            })
        });
        id
    }

    fn attack_pattern(&mut self, kind: DetectionKind) -> String {
        let id = stix_id("attack-pattern", kind.as_str());
        let (created, identity) = (&self.created, &self.identity);
        self.objects.entry(id.clone()).or_insert_with(|| {
            json!({
                "type": "attack-pattern", "spec_version": "2.1", "id": id, "created": created, "modified": created,
                "created_by_ref": identity, "name": behaviour_name(kind),
                "description": format!("Warden detection kind `{}`", kind.as_str()),
            })
        });
        id
    }

    fn extension_definition(&mut self) {
        let (created, identity) = (&self.created, &self.identity);
        self.objects.insert(
            DETECTION_EXTENSION.to_string(),
            json!({
                "type": "extension-definition", "spec_version": "2.1", "id": DETECTION_EXTENSION,
                "created": created, "modified": created, "created_by_ref": identity,
                "name": "Warden detection",
                "description": "The detection behind a sighting: id, kind, score 0..1, device (IMSI or its keyed pseudonym), tenant, profile, window start and evidence (metadata only)",
                "schema": "https://example.invalid/warden/docs/analytics-detections.md",
                "version": "1.0.0",
                "extension_types": ["property-extension"],
            }),
        );
    }

    fn finish(self, sightings: Vec<Value>) -> Value {
        let mut all: Vec<Value> = self.objects.into_values().collect();
        all.extend(sightings);
        let names: Vec<&str> = all.iter().filter_map(|o| o["id"].as_str()).collect();
        let bundle_id = format!(
            "bundle--{}",
            uuid_v4_from_name(&STIX_NAMESPACE, &format!("bundle:{}:{}", self.created, names.join(",")))
        );
        json!({ "type": "bundle", "id": bundle_id, "objects": all })
    }
}

/// Builds the bundle of detections (see the module documentation).
pub fn bundle(
    detections: &[Detection],
    intel: &IntelSet,
    pseudonyms: &Pseudonymizer,
    options: &ExportOptions,
) -> Value {
    let mut b = Builder::new(options);
    let mut sightings = Vec::new();
    for d in detections {
        let seen = timestamp(d.at);
        let target = match &d.evidence {
            Evidence::ThreatIntel { indicator: text, stix_id: sid, .. } => {
                let found = intel.indicators().iter().find(|i| i.value.to_string() == *text);
                found.map(|i| b.indicator(&i.value, sid.as_deref(), i.name.as_deref(), "malicious-activity", &seen))
            }
            Evidence::NewDestination { remote, .. } if options.opted_in => {
                Some(b.indicator(&IndicatorValue::Ip(*remote), None, None, "anomalous-activity", &seen))
            }
            _ => None,
        };
        let target = target.unwrap_or_else(|| b.attack_pattern(d.kind));
        sightings.push(json!({
            "type": "sighting", "spec_version": "2.1", "id": stix_id("sighting", &d.id),
            "created": b.created, "modified": b.created, "created_by_ref": b.identity,
            "first_seen": seen, "last_seen": seen, "count": 1,
            "sighting_of_ref": target, "where_sighted_refs": [b.identity],
            "extensions": { DETECTION_EXTENSION: {
                "extension_type": "property-extension",
                "id": d.id, "kind": d.kind.as_str(), "score": d.score,
                "device": pseudonyms.imsi_for_export(&d.device.imsi, options.opted_in),
                "tenant": &*d.device.tenant, "profile": &*d.device.profile,
                "window_start": timestamp(d.window_start),
                "evidence": evidence_for_export(&d.evidence, pseudonyms, options.opted_in),
            }},
        }));
    }
    if !sightings.is_empty() {
        b.extension_definition();
    }
    b.finish(sightings)
}

/// The indicators of an intel set as a bundle (for `GET /api/v1/indicators`).
pub fn indicators_bundle(intel: &IntelSet, options: &ExportOptions) -> Value {
    let mut b = Builder::new(options);
    let created = b.created.clone();
    for i in intel.indicators() {
        b.indicator(&i.value, i.stix_id.as_deref(), i.name.as_deref(), "malicious-activity", &created);
    }
    b.finish(Vec::new())
}

/// Whether `id` is a spec-valid STIX identifier: `type--` and a lowercase RFC 9562 UUID of version 4 or 5.
pub fn is_valid_stix_id(id: &str) -> bool {
    let Some((kind, uuid)) = id.split_once("--") else { return false };
    let kind_ok = !kind.is_empty() && kind.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    let parts: Vec<&str> = uuid.split('-').collect();
    let shape = parts.len() == 5
        && [8, 4, 4, 4, 12]
            .iter()
            .zip(&parts)
            .all(|(n, p)| p.len() == *n && p.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
    shape && matches!(&parts[2][..1], "4" | "5") && matches!(&parts[3][..1], "8" | "9" | "a" | "b") && kind_ok
}

/// The IP addresses a bundle's detection evidence shows, for checks.
pub fn shown_remotes(bundle: &Value) -> Vec<String> {
    bundle["objects"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|o| o["extensions"][DETECTION_EXTENSION]["evidence"]["remote"].as_str().map(str::to_string))
        .collect()
}

#[cfg(test)]
mod tests;
