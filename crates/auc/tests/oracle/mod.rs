//! Runs the independent Python reference implementation (tests/independent/auc_reference.py) as a
//! test oracle, and a small deterministic generator of random test inputs.
//!
//! When Python 3 with the `cryptography` package is missing, tests that need the oracle are skipped
//! with a message, except under CI (`CI` set), where a missing oracle is a failure: `.ci/run`
//! installs it.

#![allow(dead_code)]

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde_json::Value;

/// Path of the oracle script.
pub fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/independent/auc_reference.py")
}

/// Sends `requests` (a JSON array) to the oracle and returns its answers, or `None` when the
/// oracle cannot run outside CI.
pub fn ask(requests: &Value) -> Option<Vec<Value>> {
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let probe = Command::new(&python).args(["-c", "import cryptography"]).output();
    if !matches!(&probe, Ok(o) if o.status.success()) {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must provide python3 with the `cryptography` package for the oracle"
        );
        eprintln!("SKIPPED: python3 with `cryptography` not available; the independent cross-check did not run");
        return None;
    }
    let mut child = Command::new(&python)
        .arg(script())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start python3");
    child.stdin.take().unwrap().write_all(requests.to_string().as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "oracle failed: {}", String::from_utf8_lossy(&out.stderr));
    let answers: Vec<Value> = serde_json::from_slice(&out.stdout).expect("oracle prints a JSON array");
    assert_eq!(answers.len(), requests.as_array().unwrap().len());
    Some(answers)
}

/// SplitMix64: reproducible random inputs (the seed is printed by the tests that use it).
pub struct Rng(pub u64);

impl Rng {
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// `n` random bytes as lowercase hex.
    pub fn hex(&mut self, n: usize) -> String {
        (0..n).map(|_| format!("{:02x}", self.next_u64() as u8)).collect()
    }

    /// One of `choices`.
    pub fn pick<T: Copy>(&mut self, choices: &[T]) -> T {
        choices[(self.next_u64() % choices.len() as u64) as usize]
    }
}

/// A random oracle request for `alg` ("milenage" or "tuak"), with a serving network and SQN_MS.
pub fn random_request(rng: &mut Rng, alg: &str) -> Value {
    let mut r = serde_json::json!({
        "alg": alg,
        "rand": rng.hex(16),
        "sqn": rng.hex(6),
        "amf": rng.hex(2),
        "plmn": rng.hex(3),
        "sqn_ms": rng.hex(6),
    });
    let m = r.as_object_mut().unwrap();
    if alg == "milenage" {
        m.insert("k".into(), rng.hex(16).into());
        m.insert(if rng.next_u64().is_multiple_of(2) { "op" } else { "opc" }.into(), rng.hex(16).into());
    } else {
        let klen = rng.pick(&[16, 32]);
        m.insert("k".into(), rng.hex(klen).into());
        m.insert(if rng.next_u64().is_multiple_of(2) { "top" } else { "topc" }.into(), rng.hex(32).into());
        m.insert("iterations".into(), rng.pick(&[1u32, 1, 2, 3]).into());
        m.insert("mac_bits".into(), rng.pick(&[64u32, 128, 256]).into());
        m.insert("res_bits".into(), rng.pick(&[32u32, 64, 128, 256]).into());
        m.insert("ck_bits".into(), rng.pick(&[128u32, 256]).into());
        m.insert("ik_bits".into(), rng.pick(&[128u32, 256]).into());
    }
    r
}
