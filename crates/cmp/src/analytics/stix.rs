//! Detections as a STIX 2.1 bundle for threat sharing (AV-1; OASIS STIX 2.1, §3 common properties,
//! §4 patterning, §5.7 indicator, §5.1 attack pattern, §5.8 identity, §6.3 sighting).
//!
//! Each detection becomes a `sighting` (count, first and last seen, confidence = score × 100) of
//! either an `indicator` — when its evidence names a remote destination (`destination_ip` or
//! `domain`), with the pattern `[ipv4-addr:value = '…']`, `[ipv6-addr:value = '…']` or
//! `[domain-name:value = '…']` — or else an `attack-pattern` named after its kind. The device is
//! named in the sighting's property extension (STIX 2.1 §7.3, an `extension-definition` in the
//! bundle): `device` is its keyed pseudonym unless the tenant opted out, when `detection` also names
//! the detection's id. Ids are RFC 4122 UUIDs (version 4 layout, as STIX recommends for objects other
//! than observables) derived with the tenant's key from the detection, so exporting again gives the
//! same ids and nothing in them can be reversed. The bundle passes `stix2_validator --strict`.

use std::net::IpAddr;

use serde_json::{json, Value};
use store::analytics::Detection;

use super::pseudonym::Pseudonyms;

/// A STIX id `<type>--<uuid>` derived from `parts` with the tenant's key.
fn stix_id(p: &Pseudonyms, kind: &str, parts: &[&str]) -> String {
    let d = p.digest(&format!("stix:{kind}"), &parts.join("\u{0}"));
    let mut b: [u8; 16] = d[..16].try_into().expect("16 bytes");
    b[6] = (b[6] & 0x0f) | 0x40; // version 4 layout: the bits are a keyed hash, as good as random
    b[8] = (b[8] & 0x3f) | 0x80; // RFC 4122 variant
    let h = hex::encode(b);
    format!("{kind}--{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..])
}

/// Unix seconds as a STIX timestamp: RFC 3339 in UTC with millisecond precision
/// (`2026-12-03T12:00:00.000Z`, as `created` and `modified` require; crate `utc`). Before 1970
/// reads as 1970, after 9999 as the last second of 9999.
pub fn timestamp(secs: i64) -> String {
    utc::rfc3339_millis(secs.clamp(0, utc::MAX_SECS)).unwrap_or_default()
}

/// A STIX pattern string literal: `'` and `\` escaped (STIX 2.1 §9.2).
fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// A domain name as a pattern may hold it: letters, digits, hyphens and dots only.
fn domain(s: &str) -> Option<&str> {
    let ok = !s.is_empty()
        && s.len() <= 253
        && s.split('.')
            .all(|l| !l.is_empty() && l.len() <= 63 && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
    ok.then_some(s)
}

/// The pattern of a detection's remote destination, if its evidence names one.
fn observable(evidence: &Value) -> Option<(String, String)> {
    if let Some(ip) = evidence.get("destination_ip").and_then(Value::as_str).and_then(|s| s.parse::<IpAddr>().ok()) {
        let t = if ip.is_ipv4() { "ipv4-addr" } else { "ipv6-addr" };
        return Some((format!("[{t}:value = {}]", literal(&ip.to_string())), ip.to_string()));
    }
    let name = evidence.get("domain").and_then(Value::as_str).and_then(domain)?;
    Some((format!("[domain-name:value = {}]", literal(name)), name.to_string()))
}

/// A detection kind in words (`dns_tunnelling` → `dns tunnelling`).
fn words(kind: &str) -> String {
    kind.replace('_', " ")
}

/// The STIX 2.1 bundle of `detections` of `tenant`, made at `now` (Unix seconds).
pub fn bundle(tenant: &str, detections: &[Detection], p: &Pseudonyms, now: i64) -> Value {
    let identity = stix_id(p, "identity", &[tenant, "warden"]);
    let extension = stix_id(p, "extension-definition", &[tenant, "warden-device"]);
    let made = timestamp(now);
    let mut objects = vec![
        json!({
            "type": "identity", "spec_version": "2.1", "id": identity, "created": made, "modified": made,
            "name": "Warden security analytics", "identity_class": "system",
        }),
        json!({
            "type": "extension-definition", "spec_version": "2.1", "id": extension, "created": made,
            "modified": made, "created_by_ref": identity, "name": "Warden device of a sighting",
            "description": "The cellular IoT device a Warden detection is about.",
            "schema": "device (string): the device's keyed pseudonym (dev-<20 hex>), or its IMSI when the tenant \
                       opted out of pseudonyms; detection (string, only without pseudonyms): Warden's detection id.",
            "version": "1.0.0", "extension_types": ["property-extension"],
        }),
    ];
    let mut patterns_seen = std::collections::BTreeSet::new();
    for d in detections {
        let (first, last) = (timestamp(d.first_seen), timestamp(d.last_seen.max(d.first_seen)));
        let evidence: Value = serde_json::from_str(&d.evidence).unwrap_or(Value::Null);
        let of = match observable(&evidence) {
            Some((pattern, value)) => {
                let id = stix_id(p, "indicator", &[tenant, &d.kind, &value]);
                if patterns_seen.insert(id.clone()) {
                    objects.push(json!({
                        "type": "indicator", "spec_version": "2.1", "id": id, "created": first, "modified": last,
                        "created_by_ref": identity, "name": format!("{} destination", words(&d.kind)),
                        "description": format!("A destination of devices' {}, seen by Warden's analytics.", words(&d.kind)),
                        "indicator_types": ["anomalous-activity"], "pattern": pattern, "pattern_type": "stix",
                        "valid_from": first,
                    }));
                }
                id
            }
            None => {
                let id = stix_id(p, "attack-pattern", &[tenant, &d.kind]);
                if patterns_seen.insert(id.clone()) {
                    objects.push(json!({
                        "type": "attack-pattern", "spec_version": "2.1", "id": id, "created": first,
                        "modified": first, "created_by_ref": identity, "name": words(&d.kind),
                    }));
                }
                id
            }
        };
        let mut sighting = json!({
            "type": "sighting", "spec_version": "2.1", "id": stix_id(p, "sighting", &[tenant, &d.id]),
            "created": first, "modified": last, "created_by_ref": identity, "sighting_of_ref": of,
            "first_seen": first, "last_seen": last, "count": d.count.clamp(0, 999_999_999),
            "confidence": (d.score * 100.0).round().clamp(0.0, 100.0) as i64,
            "description": format!("{} ({})", words(&d.kind), d.status.as_str()),
        });
        let mut device = json!({"extension_type": "property-extension", "device": p.imsi(&d.imsi)});
        if !p.enabled() {
            device["detection"] = json!(d.id);
        }
        sighting["extensions"] = json!({ extension.clone(): device });
        objects.push(sighting);
    }
    json!({"type": "bundle", "id": stix_id(p, "bundle", &[tenant, &made]), "objects": objects})
}

#[cfg(test)]
mod tests {
    use super::*;
    use store::analytics::{DetectionAction, DetectionStatus};
    use zeroize::Zeroizing;

    fn detection(id: &str, kind: &str, evidence: &str) -> Detection {
        Detection {
            id: id.into(),
            tenant: "acme".into(),
            imsi: "001010000000001".into(),
            kind: kind.into(),
            score: 0.874,
            evidence: evidence.into(),
            first_seen: 1_764_763_200,
            last_seen: 1_764_766_800,
            count: 3,
            status: DetectionStatus::Open,
            status_at: None,
            status_by: None,
            action: DetectionAction::None,
            action_at: None,
            action_by: None,
            action_before: None,
            action_undone_at: None,
            action_undone_by: None,
            updated_at: 0,
        }
    }

    #[test]
    fn timestamps_are_rfc3339_utc_with_milliseconds() {
        assert_eq!(timestamp(0), "1970-01-01T00:00:00.000Z");
        // 2026-12-03T12:00:00Z (date -u -d @1796299200).
        assert_eq!(timestamp(1_796_299_200), "2026-12-03T12:00:00.000Z");
        assert_eq!(timestamp(951_782_400), "2000-02-29T00:00:00.000Z", "a leap day");
        assert_eq!(timestamp(1_709_251_199), "2024-02-29T23:59:59.000Z");
    }

    #[test]
    fn the_bundle_holds_spec_valid_ids_and_no_identifier_when_pseudonymised() {
        let re = regex_lite_uuid();
        let p = Pseudonyms::new(Zeroizing::new(vec![7; 32]), true);
        let ds = [
            detection("det-001010000000001-scan", "scanning", r#"{"ports":[23,2323]}"#),
            detection("det-2", "new_destination", r#"{"destination_ip":"203.0.113.9"}"#),
            detection("det-3", "dns_tunnelling", r#"{"domain":"x.bad.example"}"#),
            detection("det-4", "new_destination", r#"{"destination_ip":"2001:db8::1"}"#),
            detection("det-5", "new_destination", r#"{"domain":"a'b"}"#),
        ];
        let b = bundle("acme", &ds, &p, 1_796_299_200);
        let text = b.to_string();
        assert!(!text.contains("001010000000001"), "the IMSI never appears: {text}");
        assert_eq!(b["type"], "bundle");
        let objects = b["objects"].as_array().unwrap();
        for o in objects {
            let id = o["id"].as_str().unwrap();
            assert!(re(id), "{id}");
            assert_eq!(id.split("--").next().unwrap(), o["type"].as_str().unwrap());
            assert_eq!(o["spec_version"], "2.1");
        }
        let of_type = |t: &str| objects.iter().filter(|o| o["type"] == t).collect::<Vec<_>>();
        assert_eq!(of_type("sighting").len(), 5);
        let patterns: Vec<&str> = of_type("indicator").iter().map(|o| o["pattern"].as_str().unwrap()).collect();
        assert_eq!(
            patterns,
            [
                "[ipv4-addr:value = '203.0.113.9']",
                "[domain-name:value = 'x.bad.example']",
                "[ipv6-addr:value = '2001:db8::1']"
            ]
        );
        // Not a domain: an attack pattern of its kind (shared with the scanning one's? no: per kind).
        assert_eq!(of_type("attack-pattern").len(), 2);
        let s = of_type("sighting")[0];
        assert_eq!((s["count"].as_i64(), s["confidence"].as_i64()), (Some(3), Some(87)));
        assert_eq!(s["first_seen"], "2025-12-03T12:00:00.000Z");
        let ext = s["extensions"].as_object().unwrap().values().next().unwrap();
        assert!(ext["device"].as_str().unwrap().starts_with("dev-"));
        assert!(ext.get("detection").is_none());
        // Stable ids; the tenant's key decides them.
        assert_eq!(bundle("acme", &ds, &p, 1_796_299_200), b);
        let other = Pseudonyms::new(Zeroizing::new(vec![8; 32]), false);
        let o = bundle("acme", &ds, &other, 1_796_299_200);
        assert_ne!(o["objects"][1]["id"], b["objects"][1]["id"]);
        assert!(o.to_string().contains("001010000000001"), "opted out: the IMSI is shown");
    }

    /// `<type>--<RFC 4122 UUID>` as the STIX 2.1 JSON schemas check it.
    fn regex_lite_uuid() -> impl Fn(&str) -> bool {
        |id: &str| {
            let Some((t, u)) = id.split_once("--") else { return false };
            let groups: Vec<&str> = u.split('-').collect();
            let hex = |s: &str| s.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase());
            !t.is_empty()
                && t.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && groups.iter().map(|g| g.len()).collect::<Vec<_>>() == [8, 4, 4, 4, 12]
                && groups.iter().all(|g| hex(g))
                && groups[2].starts_with('4')
                && groups[3].starts_with(['8', '9', 'a', 'b'])
        }
    }
}
