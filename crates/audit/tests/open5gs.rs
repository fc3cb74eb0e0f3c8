//! Open5GS's own shipped configurations (tests/data/open5gs, see its README): combined `sample.yaml`
//! with each finding on its own key's line, the scalar form of the orders, plain-HTTP SBI and Diameter
//! peers configured in the YAML.

use std::path::PathBuf;

use audit::import::{self, Open5gs};
use audit::open5gs as import_any;
use audit::Report;

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/open5gs").join(name)
}

fn line(path: &PathBuf, n: u32) -> String {
    std::fs::read_to_string(path).unwrap().lines().nth(n as usize - 1).unwrap().to_string()
}

#[test]
fn combined_sample_yaml_points_each_finding_at_its_own_line() {
    let sample = data("sample.yaml");
    let mut r = Report::new();
    import::open5gs(&sample, Open5gs::Amf, &mut r).unwrap();
    let nea0 = r.findings.iter().find(|f| f.check.id == "WA-ALG-017").expect("NEA0 first");
    let nia0 = r.findings.iter().find(|f| f.check.id == "WA-ALG-020").expect("NIA0 allowed");
    // The AMF's own lines, not the MME's `ciphering_order` above them.
    assert!(line(&sample, nea0.location.line.unwrap()).contains("[ NEA0, NEA1, NEA2 ]"));
    assert!(line(&sample, nia0.location.line.unwrap()).contains("[ NIA2, NIA1, NIA0 ]"));
    assert_eq!(nea0.location.path, "amf.security.ciphering_order");

    let mut r = Report::new();
    import::open5gs(&sample, Open5gs::Mme, &mut r).unwrap();
    let eea0 = r.findings.iter().find(|f| f.check.id == "WA-ALG-013").unwrap();
    assert!(line(&sample, eea0.location.line.unwrap()).contains("[ EEA0, EEA1, EEA2 ]"));
    // The MME's inline Diameter peer (hss.localdomain) is connected without TLS.
    let dia = r.findings.iter().find(|f| f.check.id == "WA-NET-040").expect("inline peer without TLS");
    assert!(dia.detail.contains("hss.localdomain") && dia.detail.contains("127.0.0.8"), "{}", dia.detail);
    assert!(line(&sample, dia.location.line.unwrap()).contains("identity: hss.localdomain"));
}

#[test]
fn every_network_function_of_the_combined_file() {
    let sample = data("sample.yaml");
    let mut r = Report::new();
    import_any::open5gs_any(&sample, &mut r).unwrap();
    let sbi: Vec<&str> = r
        .findings
        .iter()
        .filter(|f| f.check.id == "WA-NET-041")
        .map(|f| f.location.path.split('.').next().unwrap())
        .collect();
    assert_eq!(sbi, ["smf", "amf", "nrf", "scp", "ausf", "udm", "pcf", "nssf", "bsf", "udr"]);
    for f in r.findings.iter().filter(|f| f.check.id == "WA-NET-041") {
        assert!(line(&sample, f.location.line.unwrap()).contains("- address: 127.0.0."), "{f:?}");
    }
    let peers: Vec<&str> =
        r.findings.iter().filter(|f| f.check.id == "WA-NET-040").map(|f| f.location.path.as_str()).collect();
    assert_eq!(
        peers,
        [
            "mme.freeDiameter.connect[0]",
            "smf.freeDiameter.connect[0]",
            "hss.freeDiameter.connect[0]",
            "pcrf.freeDiameter.connect[0]"
        ]
    );
    let ids = r.ids();
    assert!(ids.contains("WA-ALG-013") && ids.contains("WA-ALG-017"), "{ids:?}");
}

#[test]
fn scalar_orders_are_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let mme = dir.path().join("mme.yaml");
    let upstream = std::fs::read_to_string(data("mme.yaml")).unwrap();
    let text = upstream
        .replace("ciphering_order : [ EEA0, EEA1, EEA2 ]", "ciphering_order: EEA2")
        .replace("integrity_order : [ EIA2, EIA1, EIA0 ]", "integrity_order: EIA0");
    assert_ne!(text, upstream);
    std::fs::write(&mme, &text).unwrap();
    let mut r = Report::new();
    import::open5gs(&mme, Open5gs::Mme, &mut r).unwrap();
    assert_eq!(r.ids().into_iter().collect::<Vec<_>>(), ["WA-ALG-015"], "EIA0 alone is EIA0 first");
    assert!(line(&mme, r.findings[0].location.line.unwrap()).contains("integrity_order: EIA0"));
    // The `.conf` reference is a note pointing at --freediameter.
    assert!(r.notes.iter().any(|n| n.contains("/etc/freeDiameter/mme.conf") && n.contains("--freediameter")));

    std::fs::write(&mme, upstream.replace("ciphering_order : [ EEA0, EEA1, EEA2 ]", "ciphering_order: 5")).unwrap();
    let e = import::open5gs(&mme, Open5gs::Mme, &mut r).unwrap_err().to_string();
    assert!(e.contains("mme.security.ciphering_order"), "{e}");
    std::fs::write(&mme, upstream.replace("ciphering_order : [ EEA0, EEA1, EEA2 ]", "ciphering_order: EEA7")).unwrap();
    let e = import::open5gs(&mme, Open5gs::Mme, &mut r).unwrap_err().to_string();
    assert!(e.contains("EEA7"), "{e}");
}

#[test]
fn sbi_over_https_raises_nothing() {
    let amf = data("amf.yaml");
    let mut r = Report::new();
    import::open5gs(&amf, Open5gs::Amf, &mut r).unwrap();
    let http = r.findings.iter().find(|f| f.check.id == "WA-NET-041").expect("the shipped AMF serves plain HTTP");
    assert_eq!(http.location.path, "amf.sbi.server[0]");
    assert!(http.detail.contains("127.0.0.5:7777"), "{}", http.detail);
    assert!(line(&amf, http.location.line.unwrap()).contains("- address: 127.0.0.5"));

    let upstream = std::fs::read_to_string(&amf).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("amf.yaml");
    // Per server…
    let per_server = upstream.replacen("        port: 7777\n", "        port: 7777\n        scheme: https\n", 1);
    assert_ne!(per_server, upstream);
    std::fs::write(&f, per_server).unwrap();
    let mut r = Report::new();
    import::open5gs(&f, Open5gs::Amf, &mut r).unwrap();
    assert!(!r.ids().contains("WA-NET-041"), "{:?}", r.findings);
    // …or as the default of the network function.
    let default = upstream.replacen(
        "amf:\n",
        "amf:\n  default:\n    tls:\n      server:\n        scheme: https\n        private_key: /etc/open5gs/tls/amf.key\n        cert: /etc/open5gs/tls/amf.crt\n",
        1,
    );
    std::fs::write(&f, default).unwrap();
    let mut r = Report::new();
    import::open5gs(&f, Open5gs::Amf, &mut r).unwrap();
    assert!(!r.ids().contains("WA-NET-041"), "{:?}", r.findings);
}

#[test]
fn any_nf_file_and_errors() {
    let mut r = Report::new();
    import_any::open5gs_any(&data("nrf.yaml"), &mut r).unwrap();
    assert_eq!(r.ids().into_iter().collect::<Vec<_>>(), ["WA-NET-041"]);
    let mut r = Report::new();
    import_any::open5gs_any(&data("5gc-tls-sepp1-999-70.yaml"), &mut r).unwrap();
    assert!(r.ids().contains("WA-NET-041"));
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("x.yaml");
    std::fs::write(&f, "logger:\n  level: info\n").unwrap();
    let e = import_any::open5gs_any(&f, &mut r).unwrap_err().to_string();
    assert!(e.contains("no network function section"), "{e}");
    std::fs::write(&f, "amf: [unclosed\n").unwrap();
    assert!(import_any::open5gs_any(&f, &mut r).is_err());
}

#[test]
fn pre_2_7_sbi_layout() {
    // Open5GS before 2.7 listed the SBI servers directly under `sbi:` with `addr`.
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("amf.yaml");
    std::fs::write(
        &f,
        "amf:\n    sbi:\n      - addr: 127.0.0.5\n        port: 7777\n    security:\n        integrity_order : [ NIA2, NIA1 ]\n        ciphering_order : [ NEA2, NEA1 ]\n",
    )
    .unwrap();
    let mut r = Report::new();
    import::open5gs(&f, Open5gs::Amf, &mut r).unwrap();
    assert_eq!(r.findings.len(), 1, "{:?}", r.findings);
    let f0 = &r.findings[0];
    assert_eq!((f0.check.id, f0.location.path.as_str(), f0.location.line), ("WA-NET-041", "amf.sbi[0]", Some(3)));
    assert!(f0.detail.contains("127.0.0.5:7777"), "{}", f0.detail);
}
