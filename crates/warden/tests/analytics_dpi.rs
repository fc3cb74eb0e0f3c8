//! `warden analytics dpi` end to end on captures made by scapy (crates/analytics/tests/data): the
//! findings, their packet numbers and offsets, the exit codes, and a capture cut short.

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../analytics/tests/data").join(name)
}

fn warden(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_warden")).args(args).output().expect("run warden")
}

fn json_lines(out: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect()
}

fn have_scapy() -> bool {
    let ok = Command::new("python3").args(["-c", "import scapy.all"]).output().is_ok_and(|o| o.status.success());
    if !ok {
        assert!(std::env::var_os("CI").is_none(), "scapy is missing (python3 -m pip install scapy) and CI is set");
        eprintln!("SKIPPED: scapy is missing; install it with `python3 -m pip install scapy`");
    }
    ok
}

#[test]
fn the_fixtures_are_what_the_scapy_script_writes() {
    if !have_scapy() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let status = Command::new("python3")
        .arg(data("make_dpi_pcaps.py"))
        .arg(dir.path())
        .status()
        .expect("run the fixture script");
    assert!(status.success());
    for name in ["dpi.pcap", "clean.pcap"] {
        assert_eq!(std::fs::read(dir.path().join(name)).unwrap(), std::fs::read(data(name)).unwrap(), "{name}");
    }
}

#[test]
fn finds_each_kind_in_its_packet_without_the_value_and_exits_3() {
    let out = warden(&["analytics", "dpi", data("dpi.pcap").to_str().unwrap(), "--json"]);
    assert_eq!(out.status.code(), Some(3), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    let lines = json_lines(&out);
    let got: Vec<(String, u64)> =
        lines.iter().map(|l| (l["kind"].as_str().unwrap().to_owned(), l["packet"].as_u64().unwrap())).collect();
    let expected = [("card", 3), ("gps", 4), ("email", 5), ("iban", 6), ("gps", 7)];
    assert_eq!(got, expected.iter().map(|(k, p)| (k.to_string(), *p)).collect::<Vec<_>>());

    let form =
        "POST /checkout HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\n\r\ncard=4111 1111 1111 1111";
    assert_eq!(lines[0]["offset"], form.find("4111").unwrap());
    assert_eq!(lines[0]["len"], 19);
    assert_eq!(
        lines[0]["flow"],
        serde_json::json!({"src": "10.45.0.7", "dst": "198.51.100.20", "sport": 40010, "dport": 80, "proto": "tcp"})
    );
    assert_eq!(lines[1]["offset"], 0);
    assert_eq!(lines[2]["offset"], "{\"owner\":\"".len());
    assert_eq!(lines[3]["flow"]["src"], "2001:db8:45::7");
    assert_eq!(lines[3]["flow"]["proto"], "udp");
    assert_eq!(lines[4]["offset"], "tracker/42/pos ".len());

    let stdout = String::from_utf8_lossy(&out.stdout);
    for value in ["4111", "jane", "DE89", "4807", "48.8584"] {
        assert!(!stdout.contains(value), "the output shows {value}: {stdout}");
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("10 packets, 10 payloads scanned, 5 findings"), "{stderr}");
}

#[test]
fn the_text_form_has_one_line_per_finding() {
    let out = warden(&["analytics", "dpi", data("dpi.pcap").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3));
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 5);
    assert!(
        lines[0].starts_with("packet 3 offset 81 len 19 card tcp 10.45.0.7:40010 -> 198.51.100.20:80"),
        "{}",
        lines[0]
    );
}

#[test]
fn a_capture_without_personal_data_exits_0_with_no_output() {
    let out = warden(&["analytics", "dpi", data("clean.pcap").to_str().unwrap(), "--json"]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    assert!(out.stdout.is_empty());
}

#[test]
fn a_truncated_capture_gives_the_findings_before_the_cut_and_says_so() {
    let full = std::fs::read(data("dpi.pcap")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    // Cut in the middle of the fifth packet (the e-mail): the card and the NMEA sentence remain.
    let mut offset = 24;
    for _ in 0..4 {
        let captured = u32::from_le_bytes(full[offset + 8..offset + 12].try_into().unwrap()) as usize;
        offset += 16 + captured;
    }
    let cut = dir.path().join("cut.pcap");
    std::fs::write(&cut, &full[..offset + 30]).unwrap();
    let out = warden(&["analytics", "dpi", cut.to_str().unwrap(), "--json"]);
    assert_eq!(out.status.code(), Some(3));
    let kinds: Vec<String> = json_lines(&out).iter().map(|l| l["kind"].as_str().unwrap().to_owned()).collect();
    assert_eq!(kinds, ["card", "gps"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("truncated after 4 records"), "{stderr}");

    // Cut before any finding: nothing found, but the scan was incomplete: exit 1.
    std::fs::write(&cut, &full[..40]).unwrap();
    let out = warden(&["analytics", "dpi", cut.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn unreadable_input_and_a_wrong_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.pcap");
    std::fs::write(&junk, b"this is not a capture at all").unwrap();
    let out = warden(&["analytics", "dpi", junk.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a pcap file"));
    let out = warden(&["analytics", "dpi", dir.path().join("missing.pcap").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let clean = data("clean.pcap");
    let out = warden(&["analytics", "dpi", clean.to_str().unwrap(), "--national-id", "xx_nope"]);
    assert_eq!(out.status.code(), Some(2));
    let out = warden(&["analytics", "dpi", clean.to_str().unwrap(), "--pattern", "broken=(x"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn operator_patterns_and_national_id_formats_from_the_command_line() {
    // The DNS query in packet 1 names api.meters.example.
    let out = warden(&[
        "analytics",
        "dpi",
        data("clean.pcap").to_str().unwrap(),
        "--json",
        "--pattern",
        r"meters=meters\x07example",
    ]);
    assert_eq!(out.status.code(), Some(3), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["kind"], "pattern:meters");
    assert_eq!(lines[0]["packet"], 1);
}
