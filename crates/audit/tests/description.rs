//! The description checks: the weak example raises exactly the expected checks, the strong one none
//! above info, each mutually exclusive check fires on its own variant, and bad descriptions get
//! precise errors.

use std::collections::BTreeSet;
use std::path::PathBuf;

use audit::{checks, model, Report, Severity};

fn example(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples").join(name)
}

fn strong_text() -> String {
    std::fs::read_to_string(example("network-strong.toml")).unwrap()
}

fn ids_of(text: &str) -> BTreeSet<&'static str> {
    let d = model::parse(text, "t.toml").unwrap_or_else(|e| panic!("{e}"));
    let mut r = Report::new();
    checks::check_description(&d, "t.toml", text, &mut r);
    r.ids()
}

fn set(ids: &[&'static str]) -> BTreeSet<&'static str> {
    ids.iter().copied().collect()
}

#[test]
fn weak_description_raises_exactly_the_expected_checks() {
    let (_, report) = audit::audit_description_file(&example("network-weak.toml")).unwrap();
    let expected = set(&[
        // 2G
        "WA-ALG-001",
        "WA-ALG-002",
        "WA-ALG-003",
        "WA-ALG-004",
        "WA-ALG-005",
        "WA-ALG-006",
        "WA-ALG-007",
        "WA-ALG-008",
        "WA-ALG-009",
        // 3G, 4G, 5G, LTE-M
        "WA-ALG-010",
        "WA-ALG-012",
        "WA-ALG-013",
        "WA-ALG-014",
        "WA-ALG-015",
        "WA-ALG-016",
        "WA-ALG-018",
        "WA-ALG-019",
        "WA-ALG-021",
        // AuC
        "WA-ALG-030",
        "WA-ALG-031",
        "WA-ALG-032",
        "WA-ALG-033",
        "WA-ALG-035",
        // LPWA, messaging
        "WA-ALG-040",
        "WA-ALG-041",
        "WA-ALG-042",
        "WA-ALG-043",
        "WA-ALG-044",
        "WA-ALG-045",
        "WA-ALG-050",
        // transport
        "WA-NET-001",
        "WA-NET-002",
        "WA-NET-003",
        "WA-NET-010",
        "WA-NET-011",
        "WA-NET-020",
        "WA-NET-030",
        // UICC
        "WA-SUB-001",
        "WA-SUB-002",
        "WA-SUB-003",
        "WA-SUB-004",
        "WA-SUB-005",
        "WA-SUB-006",
        "WA-SUB-007",
        "WA-SUB-008",
        "WA-SUB-009",
        // roaming
        "WA-ROAM-001",
        "WA-ROAM-006",
        "WA-ROAM-007",
        "WA-ROAM-008",
        "WA-ROAM-009",
        "WA-ROAM-011",
        "WA-ROAM-012",
        // portal
        "WA-SEC-001",
        "WA-SEC-002",
        "WA-SEC-003",
        "WA-SEC-004",
        "WA-SEC-005",
        "WA-SEC-010",
        "WA-SEC-012",
        "WA-SEC-013",
        "WA-SEC-014",
        "WA-SEC-020",
        "WA-SEC-021",
        "WA-SEC-022",
        // operations
        "WA-SEC-030",
        "WA-SEC-031",
        "WA-SEC-032",
        "WA-SEC-034",
        "WA-SEC-035",
        "WA-SEC-040",
        "WA-DM-001",
        "WA-DM-010",
        "WA-DM-011",
    ]);
    let got = report.ids();
    assert_eq!(got, expected, "missing: {:?}, unexpected: {:?}", expected.difference(&got), got.difference(&expected));
    assert_eq!(report.worst(), Some(Severity::Critical));
    // Findings point at the line of the weak value.
    let a50 = report.findings.iter().find(|f| f.check.id == "WA-ALG-001").unwrap();
    assert_eq!(a50.location.path, "radio.gsm.ciphering");
    let text = std::fs::read_to_string(example("network-weak.toml")).unwrap();
    let line = text.lines().nth(a50.location.line.unwrap() as usize - 1).unwrap();
    assert!(line.starts_with("ciphering = [\"A5/1\""), "{line}");
    // The shared AppKey names both devices and never a key.
    let shared = report.findings.iter().find(|f| f.check.id == "WA-ALG-041").unwrap();
    assert!(shared.detail.contains("70b3d57ed0000101") && shared.detail.contains("70b3d57ed0000102"));
}

#[test]
fn strong_description_raises_nothing_above_info() {
    let (_, report) = audit::audit_description_file(&example("network-strong.toml")).unwrap();
    let above: Vec<_> = report.findings.iter().filter(|f| f.check.severity > Severity::Info).collect();
    assert!(above.is_empty(), "{above:#?}");
    assert_eq!(report.exit_code(Some(Severity::Low)), 0);
}

/// Checks that cannot fire together with the weak example's choices, each on a variant of the strong one.
#[test]
fn exclusive_checks_fire_on_their_own_variants() {
    let strong = strong_text();
    let cases: &[(&str, &str, &[&'static str])] = &[
        ("ciphering = [\"UEA2\", \"UEA1\"]", "ciphering = [\"UEA2\", \"UEA0\"]", &["WA-ALG-011"]),
        ("ciphering = [\"NEA2\", \"NEA1\", \"NEA3\"]", "ciphering = [\"NEA0\", \"NEA2\"]", &["WA-ALG-017"]),
        ("integrity = [\"NIA2\", \"NIA1\", \"NIA3\"]", "integrity = [\"NIA2\", \"NIA0\"]", &["WA-ALG-020"]),
        ("operator_key = \"opc\"", "operator_key = \"op\"", &["WA-ALG-034"]),
        ("categories = [1, 2, 3]", "categories = [2]", &["WA-ROAM-002", "WA-ROAM-004"]),
        ("categories = [1, 2, 3]", "categories = [1, 3]", &["WA-ROAM-003"]),
        ("protocols = [\"ss7\", \"diameter\", \"gtp-c\", \"sepp\"]", "protocols = [\"diameter\"]", &["WA-ROAM-005"]),
        ("steering_of_roaming = \"security\"", "steering_of_roaming = \"commercial\"", &["WA-ROAM-010"]),
        ("min_length = 15", "min_length = 10", &[]),
        ("vulnerability_scan_interval_days = 30", "vulnerability_scan_interval_days = 180", &["WA-SEC-033"]),
        ("ceir_connected = true", "ceir_connected = false", &["WA-DM-002"]),
        ("ceir_sync_days = 1", "ceir_sync_days = 30", &["WA-DM-003"]),
        ("algorithms = [\"milenage\", \"tuak\"]", "algorithms = [\"milenage\"]", &["WA-ALG-035"]),
        ("tenant_services = [\"iot-safe\"]", "tenant_services = []", &["WA-SUB-009"]),
    ];
    for (from, to, want) in cases {
        assert!(strong.contains(from), "{from}");
        let text = strong.replacen(from, to, 1);
        assert_eq!(ids_of(&text), set(want), "{from} -> {to}");
    }
    // Short passwords without MFA: 8..14 characters.
    let text = strong.replacen("min_length = 15", "min_length = 10", 1).replacen(
        "[portal.mfa]\nrequired = true",
        "[portal.mfa]\nrequired = false",
        1,
    );
    assert_eq!(ids_of(&text), set(&["WA-SEC-011", "WA-SEC-020"]));
    // No backhaul for a technology in use, and a sole protocol gap on 5G.
    let text = strong.replacen("[backhaul.nr]\nuser_plane = \"ipsec\"\nsignalling_plane = \"ipsec\"\n", "", 1);
    assert_eq!(ids_of(&text), set(&["WA-NET-011"]));
}

fn error_of(text: &str) -> String {
    model::parse(text, "net.toml").unwrap_err().to_string()
}

#[test]
fn bad_descriptions_get_precise_errors() {
    let strong = strong_text();
    let e = error_of(&strong.replacen("[qos]\n", "[qos]\nsurprise = 1\n", 1));
    assert!(
        e.starts_with("net.toml: ") && e.contains("unknown field `surprise`") && e.contains("at `qos.surprise`"),
        "{e}"
    );
    let e = error_of(&strong.replacen("[\"A5/4\", \"A5/3\"]", "[\"A5/4\", \"A5/9\"]", 1));
    assert!(e.contains("A5/9") && e.contains("A5/3") && e.contains("at `radio.gsm.ciphering`"), "{e}");
    let e = error_of(&strong.replacen("categories = [1, 2, 3]", "categories = [1, 4]", 1));
    assert!(e.contains("roaming.signalling_firewall.categories") && e.contains("4"), "{e}");
    let e = error_of(&strong.replacen("version = 1", "version = 2", 1));
    assert!(e.contains("unsupported description version 2"), "{e}");
    let e = error_of(&strong.replacen("version = 1\n", "", 1));
    assert!(e.contains("missing `version = 1`"), "{e}");
    let e = error_of(&strong.replacen("[qos]\ncritical_high_priority = true\n", "", 1));
    assert!(e.contains("missing field `qos`"), "{e}");
    let e = error_of(&strong.replacen("ciphering = [\"EEA2\", \"EEA1\", \"EEA3\"]", "ciphering = []", 1));
    assert!(e.contains("radio.lte.ciphering: list at least one value"), "{e}");
    let e = error_of(&strong.replacen("dev_eui = \"70b3d57ed0000001\"", "dev_eui = \"70b3\"", 1));
    assert!(e.contains("lpwa.lorawan.devices[0].dev_eui"), "{e}");
    let e = error_of(&strong.replacen("v1:1f6a", "v2:1f6a", 1));
    assert!(e.contains("lpwa.lorawan.devices[0].app_key_fingerprint"), "{e}");
    let e = error_of(&strong.replacen("tls_versions = [\"1.2\", \"1.3\"]", "tls_versions = [1.2]", 1));
    assert!(e.contains("at `portal.tls_versions`"), "{e}");
    let e = error_of(&strong.replacen("[[uicc.suppliers]]\nname", "[[uicc.suppliers]]\nnombre = 1\nname", 1));
    assert!(e.contains("at `uicc.suppliers[0].nombre`"), "{e}");
}
