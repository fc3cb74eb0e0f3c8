//! 3GPP conformance data run through the library: every MILENAGE test set of TS 35.208 (and the
//! TS 35.207 implementors' sets), every TUAK test set of TS 35.232 and TS 35.233, and the
//! Keccak-f[1600] permutation vectors. The data files name their sources.

use auc::{keccak_f1600_bytes, Amf, Key, Milenage, Op, Opc, Rand, Sqn, Top, Topc, Tuak, TuakParams};
use serde::Deserialize;

#[derive(Deserialize)]
struct MilenageFile {
    sets: Vec<MilenageSet>,
    ts35207_sets: Vec<MilenageSet>,
}

#[derive(Deserialize)]
struct MilenageSet {
    set: u32,
    k: String,
    rand: String,
    sqn: String,
    amf: String,
    op: String,
    opc: String,
    #[serde(flatten)]
    out: Expected,
}

/// f1, f1*, f2, f3, f4, f5 and f5* as a test set gives them (hex).
#[derive(Deserialize)]
struct Expected {
    f1: String,
    f1star: String,
    f2: String,
    f3: String,
    f4: String,
    f5: String,
    f5star: String,
}

impl Expected {
    /// Compares with what an algorithm computed (f1 … f5* in hex), naming the function that differs.
    fn check(&self, got: [String; 7], label: &str) {
        let want = [&self.f1, &self.f1star, &self.f2, &self.f3, &self.f4, &self.f5, &self.f5star];
        for (name, (g, w)) in ["f1", "f1*", "f2", "f3", "f4", "f5", "f5*"].iter().zip(got.iter().zip(want)) {
            assert_eq!(g, w, "{label}: {name}");
        }
    }
}

#[derive(Deserialize)]
struct TuakFile {
    sets: Vec<TuakSet>,
    keccak_f1600: Vec<KeccakVector>,
}

#[derive(Deserialize)]
struct TuakSet {
    spec: String,
    set: u32,
    k: String,
    rand: String,
    sqn: String,
    amf: String,
    top: String,
    topc: String,
    iterations: u32,
    mac_bits: u32,
    res_bits: u32,
    ck_bits: u32,
    ik_bits: u32,
    #[serde(flatten)]
    out: Expected,
}

#[derive(Deserialize)]
struct KeccakVector {
    source: String,
    input: String,
    output: String,
    iterations: u32,
}

fn h(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap_or_else(|e| panic!("bad hex {s}: {e}"))
}

fn x(b: &[u8]) -> String {
    hex::encode(b)
}

fn load<T: for<'de> Deserialize<'de>>(name: &str) -> T {
    let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn check_milenage(label: &str, t: &MilenageSet) {
    let k = Key::from_slice(&h(&t.k)).unwrap();
    let opc = Milenage::opc(&k, &Op::from_slice(&h(&t.op)).unwrap()).unwrap();
    assert_eq!(x(opc.expose()), t.opc, "{label} set {}: OPc", t.set);
    let by_op = Milenage::with_op(&k, &Op::from_slice(&h(&t.op)).unwrap()).unwrap();
    let by_opc = Milenage::new(&k, &Opc::from_slice(&h(&t.opc)).unwrap()).unwrap();
    let rand = Rand::from_slice(&h(&t.rand)).unwrap();
    let sqn = Sqn::from_slice(&h(&t.sqn)).unwrap();
    let amf = Amf::from_slice(&h(&t.amf)).unwrap();
    for m in [by_op, by_opc] {
        let o = m.outputs(&rand, sqn, amf);
        let got =
            [x(&o.mac_a), x(&o.mac_s), x(&o.res), x(o.ck.expose()), x(o.ik.expose()), x(&o.ak.0), x(&o.ak_star.0)];
        t.out.check(got, &format!("{label} set {}", t.set));
    }
}

#[test]
fn milenage_ts_35_208_all_test_sets() {
    let f: MilenageFile = load("milenage_ts35208.json");
    assert_eq!(f.sets.len(), 20, "TS 35.208 has 20 test sets");
    for t in &f.sets {
        check_milenage("TS 35.208", t);
    }
}

#[test]
fn milenage_ts_35_207_test_sets() {
    let f: MilenageFile = load("milenage_ts35208.json");
    assert_eq!(f.ts35207_sets.len(), 6);
    for t in &f.ts35207_sets {
        check_milenage("TS 35.207", t);
    }
}

#[test]
fn tuak_ts_35_232_and_35_233_all_test_sets() {
    let f: TuakFile = load("tuak.json");
    assert_eq!(f.sets.iter().filter(|s| s.spec == "35.232").count(), 6);
    assert_eq!(f.sets.iter().filter(|s| s.spec == "35.233").count(), 6);
    for t in &f.sets {
        let label = format!("TS {} set {}", t.spec, t.set);
        let k = Key::from_slice(&h(&t.k)).unwrap();
        let top = Top::from_slice(&h(&t.top)).unwrap();
        let topc = Tuak::topc(&k, &top, t.iterations).unwrap();
        assert_eq!(x(topc.expose()), t.topc, "{label}: TOPc");
        let params = TuakParams {
            mac_bits: t.mac_bits,
            res_bits: t.res_bits,
            ck_bits: t.ck_bits,
            ik_bits: t.ik_bits,
            iterations: t.iterations,
        };
        let by_top = Tuak::with_top(&k, &top, params).unwrap();
        let by_topc = Tuak::new(&k, &Topc::from_slice(&h(&t.topc)).unwrap(), params).unwrap();
        let rand = Rand::from_slice(&h(&t.rand)).unwrap();
        let sqn = Sqn::from_slice(&h(&t.sqn)).unwrap();
        let amf = Amf::from_slice(&h(&t.amf)).unwrap();
        for tuak in [by_top, by_topc] {
            let o = tuak.outputs(&rand, sqn, amf);
            let (mac_a, mac_s, res) = (x(o.mac_a.as_slice()), x(o.mac_s.as_slice()), x(o.res.as_slice()));
            t.out.check([mac_a, mac_s, res, x(o.ck.expose()), x(o.ik.expose()), x(&o.ak.0), x(&o.ak_star.0)], &label);
        }
    }
}

#[test]
fn keccak_f1600_permutation_vectors() {
    let f: TuakFile = load("tuak.json");
    assert!(f.keccak_f1600.len() >= 6);
    for v in &f.keccak_f1600 {
        let mut state: [u8; 200] = h(&v.input).try_into().expect("200-byte state");
        keccak_f1600_bytes(&mut state, v.iterations);
        assert_eq!(x(&state), v.output, "{}", v.source);
    }
}
