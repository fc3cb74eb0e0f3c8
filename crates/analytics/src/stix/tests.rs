use super::*;
use crate::detect::{detection_id, Outside};
use crate::observe::DeviceKey;

fn detection(kind: DetectionKind, evidence: Evidence) -> Detection {
    let device = DeviceKey::new("001010000000042", "acme", "meter");
    Detection {
        id: detection_id(kind, &device, 1_767_225_600_000),
        kind,
        device,
        window_start: 1_767_225_600_000,
        at: 1_767_225_660_123,
        score: 0.9,
        evidence,
    }
}

#[test]
fn timestamps_and_uuids_follow_the_specs() {
    assert_eq!(timestamp(0), "1970-01-01T00:00:00.000Z");
    assert_eq!(timestamp(951_782_400_007), "2000-02-29T00:00:00.007Z");
    assert_eq!(timestamp(1_767_225_660_123), "2026-01-01T00:01:00.123Z");
    // RFC 9562 Appendix A.4: UUIDv5 of "www.example.com" in the DNS namespace.
    let dns_ns = [0x6b, 0xa7, 0xb8, 0x10, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8];
    assert_eq!(uuid_v5(&dns_ns, "www.example.com"), "2ed6657d-e927-568b-95e1-2665a8aea6a2");
    assert!(is_valid_stix_id(&stix_id("indicator", "x")));
    assert!(!is_valid_stix_id("indicator--2ed6657d-e927-168b-95e1-2665a8aea6a2"));
    assert!(!is_valid_stix_id("Indicator--2ed6657d-e927-568b-95e1-2665a8aea6a2"));
    // Version 4 in shape, the same bits as the name's UUIDv5 otherwise.
    assert_eq!(uuid_v4_from_name(&dns_ns, "www.example.com"), "2ed6657d-e927-468b-95e1-2665a8aea6a2");
    assert!(is_valid_stix_id(DETECTION_EXTENSION));
}

#[test]
fn a_bundle_has_identity_indicators_attack_patterns_and_sightings_with_pseudonyms() {
    let intel = IntelSet::from_csv("ipv4,203.0.113.66\n").unwrap();
    let detections = [
        detection(
            DetectionKind::ThreatIntel,
            Evidence::ThreatIntel {
                indicator: "203.0.113.66".into(),
                stix_id: None,
                remote: Some("203.0.113.66".parse().unwrap()),
                port: Some(4444),
            },
        ),
        detection(
            DetectionKind::NewDestination,
            Evidence::NewDestination {
                remote: "192.0.2.7".parse().unwrap(),
                port: 443,
                proto: 6,
                outside: Outside::Baseline,
                new_service: false,
            },
        ),
        detection(
            DetectionKind::Scanning,
            Evidence::Scanning { hosts: 300, services: 2, telnet_hosts: 290, window_ms: 600_000 },
        ),
    ];
    let pseudonyms = Pseudonymizer::new(b"tenant key");
    let options =
        ExportOptions { identity_name: "Example Operator".into(), opted_in: false, created: 1_767_300_000_000 };
    let b = bundle(&detections, &intel, &pseudonyms, &options);
    assert_eq!(b["type"], "bundle");
    assert!(is_valid_stix_id(b["id"].as_str().unwrap()));
    let objects = b["objects"].as_array().unwrap();
    let of = |t: &str| objects.iter().filter(|o| o["type"] == t).collect::<Vec<_>>();
    assert_eq!(of("identity").len(), 1);
    assert_eq!(of("indicator").len(), 1, "new destinations are not shared without opt-in");
    assert_eq!(of("attack-pattern").len(), 2);
    assert_eq!(of("sighting").len(), 3);
    assert_eq!(of("extension-definition").len(), 1);
    for o in objects {
        assert!(is_valid_stix_id(o["id"].as_str().unwrap()), "{o}");
        assert_eq!(o["spec_version"], "2.1");
        assert!(o["created"].as_str().unwrap().ends_with('Z'));
        assert!(o["id"].as_str().unwrap().starts_with(o["type"].as_str().unwrap()));
    }
    let indicator = of("indicator")[0];
    assert_eq!(indicator["pattern"], "[ipv4-addr:value = '203.0.113.66']");
    let ids: Vec<&str> = objects.iter().map(|o| o["id"].as_str().unwrap()).collect();
    for s in of("sighting") {
        assert!(ids.contains(&s["sighting_of_ref"].as_str().unwrap()));
        assert_eq!(s["where_sighted_refs"][0], of("identity")[0]["id"]);
        assert_eq!(s["extensions"][DETECTION_EXTENSION]["device"], pseudonyms.imsi("001010000000042"));
        assert_eq!(s["first_seen"], "2026-01-01T00:01:00.123Z");
    }
    let text = b.to_string();
    assert!(!text.contains("001010000000042"));
    assert!(!text.contains("192.0.2.7"));
    assert_eq!(shown_remotes(&b), ["203.0.113.66".to_string(), pseudonyms.ip("192.0.2.7".parse().unwrap())]);
    // Deterministic.
    assert_eq!(bundle(&detections, &intel, &pseudonyms, &options), b);

    // Opted in: real identities, and the new destination is shared as an indicator.
    let open = bundle(&detections, &intel, &pseudonyms, &ExportOptions { opted_in: true, ..options.clone() });
    let text = open.to_string();
    assert!(text.contains("001010000000042") && text.contains("[ipv4-addr:value = '192.0.2.7']"));

    // The indicators alone (no sightings, no extension definition).
    let only = indicators_bundle(&intel, &options);
    assert_eq!(only["objects"].as_array().unwrap().len(), 2);
    // What we export, we can import again.
    let back = IntelSet::from_stix(&only.to_string()).unwrap();
    assert_eq!(back.len(), 1);
}
