//! `warden bench dpi` end to end: the JSON report over a small generated corpus and over the scapy
//! captures of crates/analytics/tests/data (one with personal data in clear, one without).

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../analytics/tests/data").join(name)
}

fn warden(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_warden")).args(args).output().expect("run warden")
}

fn report(args: &[&str]) -> Value {
    let out = warden(args);
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("one JSON object")
}

fn check_numbers(r: &Value) {
    for field in ["payloads", "bytes", "passes", "bytes_scanned", "findings"] {
        assert!(r[field].is_u64(), "{field}: {r}");
    }
    for field in ["cpu_seconds", "wall_seconds", "mib_per_s", "gib_per_s_per_core", "wall_mib_per_s"] {
        assert!(r[field].as_f64().is_some_and(|v| v.is_finite() && v >= 0.0), "{field}: {r}");
    }
    assert!(r["passes"].as_u64().unwrap() >= 1);
    assert_eq!(r["bytes_scanned"].as_u64().unwrap(), r["bytes"].as_u64().unwrap() * r["passes"].as_u64().unwrap());
    let mib = r["mib_per_s"].as_f64().unwrap();
    let gib = r["gib_per_s_per_core"].as_f64().unwrap();
    assert!((mib / 1024.0 - gib).abs() <= 1e-9 * gib.max(1.0), "{r}");
    let by_kind: u64 = r["findings_by_kind"].as_object().unwrap().values().map(|v| v.as_u64().unwrap()).sum();
    assert_eq!(by_kind, r["findings"].as_u64().unwrap(), "{r}");
}

#[test]
fn reports_throughput_and_findings_over_a_small_corpus() {
    let r = report(&["bench", "dpi", "--bytes", "65536", "--seconds", "0.2", "--json"]);
    check_numbers(&r);
    assert_eq!(r["source"], "corpus");
    assert!(r["bytes"].as_u64().unwrap() >= 65536);
    assert!(r["cpu_seconds"].as_f64().unwrap() >= 0.2, "{r}");
    // The corpus puts a Luhn-valid card number in its eighth payload.
    assert!(r["findings_by_kind"]["card"].as_u64().unwrap_or(0) >= 1, "{r}");
    // Another seed, another corpus; the same seed, the same findings.
    let again = report(&["bench", "dpi", "--bytes", "65536", "--seconds", "0", "--json"]);
    assert_eq!((&again["bytes"], &again["findings"]), (&r["bytes"], &r["findings"]));
    let text = warden(&["bench", "dpi", "--bytes", "65536", "--seconds", "0"]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("GiB/s per core") && text.contains("card"), "{text}");
}

#[test]
fn scans_a_capture_and_counts_its_findings() {
    let with = report(&["bench", "dpi", "--pcap", data("dpi.pcap").to_str().unwrap(), "--seconds", "0", "--json"]);
    check_numbers(&with);
    assert_eq!(with["source"], "pcap");
    assert_eq!(with["payloads"], 10);
    assert_eq!(with["findings"], 5, "{with}");
    assert_eq!(with["findings_by_kind"]["card"], 1, "the checkout form's Luhn-valid card");
    assert_eq!(with["findings_by_kind"]["gps"], 2);
    let clean = report(&["bench", "dpi", "--pcap", data("clean.pcap").to_str().unwrap(), "--seconds", "0", "--json"]);
    assert_eq!(clean["findings"], 0, "{clean}");
    assert!(clean["bytes"].as_u64().unwrap() > 0);
}

#[test]
fn bad_input_is_an_error_not_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let cut = dir.path().join("cut.pcap");
    let whole = std::fs::read(data("dpi.pcap")).unwrap();
    std::fs::write(&cut, &whole[..whole.len() - 7]).unwrap();
    for (args, says) in [
        (vec!["bench", "dpi", "--pcap", "/nonexistent/none.pcap"], "none.pcap"),
        (vec!["bench", "dpi", "--pcap", cut.to_str().unwrap(), "--seconds", "0"], "cut.pcap"),
        (vec!["bench", "dpi", "--bytes", "0"], "--bytes"),
        (vec!["bench", "dpi", "--seconds=-1"], "--seconds"),
    ] {
        let out = warden(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(matches!(out.status.code(), Some(1 | 2)), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
}
