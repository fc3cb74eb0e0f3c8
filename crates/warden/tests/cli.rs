//! `warden auc …` driven as other tools drive it: every 3GPP conformance set through the CLI, AUTS
//! verification, exit codes and one-line errors naming the argument, and agreement with the
//! independent implementation on random inputs.

#[path = "../../auc/tests/oracle/mod.rs"]
mod oracle;

use std::process::{Command, Output};

use serde_json::Value;

fn warden(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_warden")).args(args).output().expect("run warden")
}

fn json(out: &Output) -> Value {
    assert!(out.status.success(), "warden failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("one JSON object on stdout")
}

fn data(name: &str) -> Value {
    let path = format!("{}/../auc/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or_else(|| panic!("missing {key} in {v}"))
}

/// Compares the CLI's output keys with a test set's f1..f5* values.
fn assert_f_outputs(out: &Value, t: &Value) {
    let pairs = [
        ("mac_a", "f1"),
        ("mac_s", "f1star"),
        ("res", "f2"),
        ("ck", "f3"),
        ("ik", "f4"),
        ("ak", "f5"),
        ("ak_star", "f5star"),
    ];
    for (key, want) in pairs {
        assert_eq!(out[key], t[want], "set {} (spec {}): {key}", t["set"], t["spec"]);
    }
}

const KEYS: [&str; 8] = ["mac_a", "mac_s", "res", "ck", "ik", "ak", "ak_star", "autn"];

#[test]
fn milenage_conformance_sets_through_the_cli() {
    let d = data("milenage_ts35208.json");
    let sets = d["sets"].as_array().unwrap().iter().chain(d["ts35207_sets"].as_array().unwrap());
    for t in sets {
        for (flag, value) in [("--op", s(t, "op")), ("--opc", s(t, "opc"))] {
            let out = auc_cli("milenage", t, flag, value, &[]);
            let keys: Vec<&str> = out.as_object().unwrap().keys().map(String::as_str).collect();
            assert_eq!(keys, ["opc", "mac_a", "mac_s", "res", "ck", "ik", "ak", "ak_star", "autn"]);
            assert_eq!(out["opc"], t["opc"]);
            assert_f_outputs(&out, t);
            let sqn = u64::from_str_radix(s(t, "sqn"), 16).unwrap() ^ u64::from_str_radix(s(t, "f5"), 16).unwrap();
            assert_eq!(s(&out, "autn"), format!("{sqn:012x}{}{}", s(t, "amf"), s(t, "f1")));
        }
    }
}

/// `warden auc <algorithm>` on a conformance set, with `flag value` (OP, OPc, TOP or TOPc) and `extra`.
fn auc_cli(algorithm: &str, t: &serde_json::Value, flag: &str, value: &str, extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["auc", algorithm, "--k", s(t, "k"), flag, value, "--rand", s(t, "rand")];
    args.extend(["--sqn", s(t, "sqn"), "--amf", s(t, "amf")]);
    args.extend_from_slice(extra);
    json(&warden(&args))
}

#[test]
fn tuak_conformance_sets_through_the_cli() {
    for t in data("tuak.json")["sets"].as_array().unwrap() {
        let n = |k: &str| t[k].to_string();
        let (mac, res, ck, ik, it) = (n("mac_bits"), n("res_bits"), n("ck_bits"), n("ik_bits"), n("iterations"));
        for (flag, value) in [("--top", s(t, "top")), ("--topc", s(t, "topc"))] {
            let sizes =
                ["--mac-bits", &mac, "--res-bits", &res, "--ck-bits", &ck, "--ik-bits", &ik, "--iterations", &it];
            let out = auc_cli("tuak", t, flag, value, &sizes);
            assert_eq!(out["topc"], t["topc"]);
            assert_f_outputs(&out, t);
        }
    }
}

const SET1: [&str; 10] = [
    "--k",
    "465b5ce8b199b49faa5f0a2ee238a6bc",
    "--opc",
    "cd63cb71954a9f4e48a5994e37a02baf",
    "--rand",
    "23553cbe9637a89d218ae64dae47bf35",
    "--sqn",
    "ff9bb4d0b607",
    "--amf",
    "b9b9",
];

#[test]
fn auts_is_verified_and_forgery_refused() {
    let k = auc::Key::from_slice(&hex::decode(SET1[1]).unwrap()).unwrap();
    let opc = auc::Opc::from_slice(&hex::decode(SET1[3]).unwrap()).unwrap();
    let alg: auc::AuthAlgorithm = auc::Milenage::new(&k, &opc).unwrap().into();
    let rand = auc::Rand::from_slice(&hex::decode(SET1[5]).unwrap()).unwrap();
    let auts = auc::build_auts(&alg, &rand, auc::Sqn::new(0x0000_0000_4321).unwrap());
    let good = hex::encode(auts.as_slice());
    let out = json(&warden(&["auc", "milenage", "--k", SET1[1], "--opc", SET1[3], "--rand", SET1[5], "--auts", &good]));
    assert_eq!(out, serde_json::json!({ "sqn_ms": "000000004321" }));

    let mut bad = auts.as_slice().to_vec();
    bad[9] ^= 0x40;
    let out =
        warden(&["auc", "milenage", "--k", SET1[1], "--opc", SET1[3], "--rand", SET1[5], "--auts", &hex::encode(bad)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("MAC-S failed"));
}

#[test]
fn tuak_auts_with_long_mac() {
    let t = &data("tuak.json")["sets"][2];
    let params = auc::TuakParams { mac_bits: 256, ..auc::TuakParams::default() };
    let k = auc::Key::from_slice(&hex::decode(s(t, "k")).unwrap()).unwrap();
    let topc = auc::Topc::from_slice(&hex::decode(s(t, "topc")).unwrap()).unwrap();
    let alg: auc::AuthAlgorithm = auc::Tuak::new(&k, &topc, params).unwrap().into();
    let rand = auc::Rand::from_slice(&hex::decode(s(t, "rand")).unwrap()).unwrap();
    let auts = hex::encode(auc::build_auts(&alg, &rand, auc::Sqn::new(77).unwrap()).as_slice());
    let out = json(&warden(&[
        "auc",
        "tuak",
        "--k",
        s(t, "k"),
        "--topc",
        s(t, "topc"),
        "--rand",
        s(t, "rand"),
        "--mac-bits",
        "256",
        "--auts",
        &auts,
    ]));
    assert_eq!(out["sqn_ms"], "00000000004d");
}

/// Asserts exit code 2 and a single stderr line that contains every needle.
fn usage_error(args: &[&str], needles: &[&str]) {
    let out = warden(args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
    assert!(out.stdout.is_empty());
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    for n in needles {
        assert!(err.contains(n), "{args:?}: {err:?} should mention {n}");
    }
}

fn replaced(flag: &str, value: &str) -> Vec<String> {
    let mut v: Vec<String> = ["auc", "milenage"].iter().chain(SET1.iter()).map(|s| s.to_string()).collect();
    let i = v.iter().position(|a| a == flag).unwrap();
    v[i + 1] = value.to_string();
    v
}

fn without(flag: &str) -> Vec<String> {
    let mut v: Vec<String> = ["auc", "milenage"].iter().chain(SET1.iter()).map(|s| s.to_string()).collect();
    let i = v.iter().position(|a| a == flag).unwrap();
    v.drain(i..i + 2);
    v
}

fn refs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

#[test]
fn bad_command_lines_exit_2_naming_the_argument() {
    for flag in ["--k", "--opc", "--rand", "--sqn", "--amf"] {
        usage_error(&refs(&replaced(flag, "12zz")), &[flag, "not a hex digit"]);
        usage_error(&refs(&replaced(flag, "123")), &[flag, "odd number"]);
        usage_error(&refs(&replaced(flag, "010203")), &[flag, "must be"]);
    }
    for flag in ["--k", "--rand", "--sqn", "--amf"] {
        usage_error(&refs(&without(flag)), &[flag, "required"]);
    }
    usage_error(&refs(&without("--opc")), &["--op", "--opc", "required"]);
    let mut both = replaced("--k", SET1[1]);
    both.extend(["--op".to_string(), SET1[3].to_string()]);
    usage_error(&refs(&both), &["--op"]);
    usage_error(&refs(&replaced("--k", &"ab".repeat(32))), &["--k", "16 bytes for MILENAGE"]);
    let mut auts = without("--sqn");
    auts.extend(["--auts".to_string(), "0011".to_string()]);
    usage_error(&refs(&auts), &["--auts", "AUTS must be"]);
}

#[test]
fn tuak_sizes_are_checked_by_flag() {
    let base = [
        "auc",
        "tuak",
        "--k",
        &"ab".repeat(16),
        "--topc",
        &"cd".repeat(32),
        "--rand",
        &"00".repeat(16),
        "--sqn",
        &"00".repeat(6),
        "--amf",
        "0000",
    ]
    .map(String::from);
    for (flag, value) in
        [("--mac-bits", "32"), ("--res-bits", "48"), ("--ck-bits", "64"), ("--ik-bits", "512"), ("--iterations", "0")]
    {
        let mut args = base.to_vec();
        args.extend([flag.to_string(), value.to_string()]);
        usage_error(&refs(&args), &[flag, value, "TS 35.231"]);
    }
    let mut args = base.to_vec();
    args[5] = "cd".repeat(16);
    usage_error(&refs(&args), &["--topc", "32 bytes"]);
    let mut args = base.to_vec();
    args.extend(["--mac-bits".to_string(), "lots".to_string()]);
    usage_error(&refs(&args), &["--mac-bits"]);
}

#[test]
fn comp128_and_xor_are_refused_by_name() {
    for name in ["comp128v1", "comp128", "COMP128-3", "xor", "xor-2g"] {
        usage_error(&["auc", name, "--k", "00"], &["refused"]);
    }
    usage_error(&["auc", "aes"], &["unknown authentication algorithm"]);
}

#[test]
fn cli_agrees_with_independent_implementation_on_random_inputs() {
    let seed = 0x5741_5244_454e_0002;
    let mut rng = oracle::Rng(seed);
    let requests: Vec<Value> =
        (0..80).map(|i| oracle::random_request(&mut rng, if i % 2 == 0 { "milenage" } else { "tuak" })).collect();
    let Some(answers) = oracle::ask(&Value::Array(requests.clone())) else { return };
    for (req, want) in requests.iter().zip(&answers) {
        let alg = s(req, "alg");
        let mut args: Vec<String> = vec!["auc".into(), alg.into()];
        for key in ["k", "op", "opc", "top", "topc", "rand", "sqn", "amf"] {
            if let Some(v) = req.get(key) {
                args.extend([format!("--{key}"), v.as_str().unwrap().to_string()]);
            }
        }
        for key in ["mac_bits", "res_bits", "ck_bits", "ik_bits", "iterations"] {
            if let Some(v) = req.get(key) {
                args.extend([format!("--{}", key.replace('_', "-")), v.to_string()]);
            }
        }
        let out = json(&warden(&refs(&args)));
        let id = if alg == "milenage" { "opc" } else { "topc" };
        for key in KEYS.iter().chain([&id]) {
            assert_eq!(out[*key], want[*key], "seed {seed:#x}: {key} for {req}");
        }
    }
}
