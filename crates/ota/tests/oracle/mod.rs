//! Runs the independent Python reference (tests/oracle/ota_reference.py, written from TS 102 225 /
//! TS 31.115 without the Rust code) as a test oracle.
//!
//! Without Python 3 and its `cryptography` package the tests that need the oracle are skipped with a
//! message, except under CI (`CI` set), where that is a failure: `.ci/run` installs it.

#![allow(dead_code)]

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde_json::Value;

/// Path of the oracle script.
pub fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/oracle/ota_reference.py")
}

/// Path of the pySim vectors the oracle must reproduce.
pub fn vectors() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/pysim_ota.json")
}

fn python() -> String {
    std::env::var("PYTHON").unwrap_or_else(|_| "python3".into())
}

/// True when the oracle can run; outside CI a missing Python or `cryptography` skips (with a note).
pub fn available() -> bool {
    let probe = Command::new(python()).args(["-c", "import cryptography"]).output();
    if matches!(&probe, Ok(o) if o.status.success()) {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI must provide python3 with the `cryptography` package for the OTA oracle"
    );
    eprintln!("SKIPPED: python3 with `cryptography` not available; the independent OTA cross-check did not run");
    false
}

/// Sends `requests` to the oracle and returns its answers (`None` when it cannot run outside CI).
pub fn ask(requests: &[Value]) -> Option<Vec<Value>> {
    if !available() {
        return None;
    }
    let mut child = Command::new(python())
        .arg(script())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start python3");
    child.stdin.take().unwrap().write_all(Value::Array(requests.to_vec()).to_string().as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "oracle failed: {}", String::from_utf8_lossy(&out.stderr));
    let answers: Vec<Value> = serde_json::from_slice(&out.stdout).expect("oracle prints a JSON array");
    assert_eq!(answers.len(), requests.len());
    Some(answers)
}
