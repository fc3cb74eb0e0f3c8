//! The library against an independent implementation (tests/independent/auc_reference.py, written
//! from the specifications without reading this crate) on random inputs: every f-function, OPc/TOPc,
//! AUTN, K_ASME, the GSM conversion and AUTS, for MILENAGE and TUAK of every size.

mod oracle;

use auc::{
    build_auts, c2, c3, kasme, verify_auts, Amf, AuthAlgorithm, Key, Milenage, Op, Opc, Rand, ServingNetwork, Sqn, Top,
    Topc, Tuak, TuakParams,
};
use serde_json::Value;

fn h(v: &Value, key: &str) -> Vec<u8> {
    hex::decode(v[key].as_str().unwrap_or_else(|| panic!("missing {key} in {v}"))).unwrap()
}

fn x(b: &[u8]) -> String {
    hex::encode(b)
}

/// Builds the algorithm a request describes, and returns its OPc/TOPc.
fn algorithm(req: &Value) -> (AuthAlgorithm, Vec<u8>) {
    let k = Key::from_slice(&h(req, "k")).unwrap();
    if req["alg"] == "milenage" {
        let opc = match req.get("op") {
            Some(_) => Milenage::opc(&k, &Op::from_slice(&h(req, "op")).unwrap()).unwrap(),
            None => Opc::from_slice(&h(req, "opc")).unwrap(),
        };
        (Milenage::new(&k, &opc).unwrap().into(), opc.expose().to_vec())
    } else {
        let n = |key: &str| req[key].as_u64().unwrap() as u32;
        let params = TuakParams {
            mac_bits: n("mac_bits"),
            res_bits: n("res_bits"),
            ck_bits: n("ck_bits"),
            ik_bits: n("ik_bits"),
            iterations: n("iterations"),
        };
        let topc = match req.get("top") {
            Some(_) => Tuak::topc(&k, &Top::from_slice(&h(req, "top")).unwrap(), params.iterations).unwrap(),
            None => Topc::from_slice(&h(req, "topc")).unwrap(),
        };
        (Tuak::new(&k, &topc, params).unwrap().into(), topc.expose().to_vec())
    }
}

#[test]
fn library_agrees_with_independent_implementation_on_random_inputs() {
    let seed = 0x5741_5244_454e_0001;
    let mut rng = oracle::Rng(seed);
    let requests: Vec<Value> =
        (0..400).map(|i| oracle::random_request(&mut rng, if i % 2 == 0 { "milenage" } else { "tuak" })).collect();
    let Some(answers) = oracle::ask(&Value::Array(requests.clone())) else { return };
    for (req, want) in requests.iter().zip(&answers) {
        let ctx = format!("seed {seed:#x}, request {req}");
        let (alg, opc) = algorithm(req);
        assert_eq!(x(&opc), want[if req["alg"] == "milenage" { "opc" } else { "topc" }].as_str().unwrap(), "{ctx}");
        let rand = Rand::from_slice(&h(req, "rand")).unwrap();
        let sqn = Sqn::from_slice(&h(req, "sqn")).unwrap();
        let amf = Amf::from_slice(&h(req, "amf")).unwrap();
        let v = alg.umts_vector(rand, sqn, amf);
        assert_eq!(x(v.xres.as_slice()), want["res"], "{ctx}");
        assert_eq!(x(v.ck.expose()), want["ck"], "{ctx}");
        assert_eq!(x(v.ik.expose()), want["ik"], "{ctx}");
        assert_eq!(x(v.autn.as_slice()), want["autn"], "{ctx}");
        assert_eq!(x(alg.f1star(&rand, sqn, amf).as_slice()), want["mac_s"], "{ctx}");
        assert_eq!(x(&alg.f5star(&rand).0), want["ak_star"], "{ctx}");
        let sn = ServingNetwork::from_slice(&h(req, "plmn")).unwrap();
        let ak: [u8; 6] = h(want, "ak").try_into().unwrap();
        assert_eq!(x(kasme(&v.ck, &v.ik, &sn, &sqn.conceal(&auc::Ak(ak))).expose()), want["kasme"], "{ctx}");
        match (c2(&v.xres), c3(&v.ck, &v.ik)) {
            (Ok(sres), Ok(kc)) => {
                assert_eq!(x(&sres), want["sres"], "{ctx}");
                assert_eq!(x(kc.expose()), want["kc"], "{ctx}");
            }
            _ => assert!(want.get("kc").is_none() || want.get("sres").is_none(), "{ctx}"),
        }
        let sqn_ms = Sqn::from_slice(&h(req, "sqn_ms")).unwrap();
        let auts = build_auts(&alg, &rand, sqn_ms);
        assert_eq!(x(auts.as_slice()), want["auts"], "{ctx}");
        let theirs = auc::Auts::from_slice(&h(want, "auts")).unwrap();
        assert_eq!(verify_auts(&alg, &rand, &theirs), Ok(sqn_ms), "{ctx}");
    }
}

/// The oracle itself must reproduce the published 3GPP test sets before its answers count.
#[test]
fn oracle_reproduces_3gpp_test_sets() {
    let Some(_) = oracle::ask(&Value::Array(vec![])) else { return };
    let out = std::process::Command::new(std::env::var("PYTHON").unwrap_or_else(|_| "python3".into()))
        .arg(oracle::script())
        .arg("--self-test")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "oracle self-test failed: {text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains(" 0 failed"), "{text}");
}
