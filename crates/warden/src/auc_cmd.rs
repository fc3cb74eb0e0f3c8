//! `warden auc milenage|tuak`: compute every f-function output for given inputs, or verify an AUTS.

use auc::{
    verify_auts, AlgorithmKind, Amf, AucError, AuthAlgorithm, Auts, Key, Milenage, Op, Opc, Rand, Sqn, Top, Topc, Tuak,
    TuakParams,
};
use serde_json::{json, Map, Value};

use crate::cli::{AucCommand, Common, MilenageArgs, TuakArgs};
use crate::Failure;

/// Names the flag an input came from in usage errors.
fn arg<T>(flag: &'static str, r: Result<T, AucError>) -> Result<T, Failure> {
    r.map_err(|e| Failure::Usage(format!("--{flag}: {e}")))
}

fn hex(b: &[u8]) -> Value {
    Value::String(::hex::encode(b))
}

/// Runs one `warden auc` subcommand and returns the JSON to print.
pub fn run(cmd: AucCommand) -> Result<Value, Failure> {
    match cmd {
        AucCommand::Milenage(a) => milenage(a),
        AucCommand::Tuak(a) => tuak(a),
        AucCommand::Other(words) => {
            let name = words.first().map(String::as_str).unwrap_or_default();
            match name.parse::<AlgorithmKind>() {
                Err(e) => Err(Failure::Usage(e.to_string())),
                Ok(kind) => Err(Failure::Usage(format!("use `warden auc {kind}`"))),
            }
        }
    }
}

fn milenage(a: MilenageArgs) -> Result<Value, Failure> {
    if a.common.k.len() != 16 {
        return Err(Failure::Usage(format!("--k: K must be 16 bytes for MILENAGE, got {} bytes", a.common.k.len())));
    }
    let k = arg("k", Key::from_slice(&a.common.k))?;
    let opc = match (&a.op, &a.opc) {
        (Some(op), _) => arg("k", Milenage::opc(&k, &arg("op", Op::from_slice(op))?))?,
        (None, Some(opc)) => arg("opc", Opc::from_slice(opc))?,
        (None, None) => unreachable!("clap requires --op or --opc"),
    };
    let m = arg("k", Milenage::new(&k, &opc))?;
    let mut out = Map::new();
    out.insert("opc".into(), hex(opc.expose()));
    finish(out, &m.into(), &a.common)
}

fn tuak(a: TuakArgs) -> Result<Value, Failure> {
    let k = arg("k", Key::from_slice(&a.common.k))?;
    let params = TuakParams {
        mac_bits: a.mac_bits,
        res_bits: a.res_bits,
        ck_bits: a.ck_bits,
        ik_bits: a.ik_bits,
        iterations: a.iterations,
    };
    params
        .validate()
        .map_err(|e| Failure::Usage(flag_of(&e).map(|f| format!("--{f}: {e}")).unwrap_or_else(|| e.to_string())))?;
    let topc = match (&a.top, &a.topc) {
        (Some(top), _) => arg("top", Tuak::topc(&k, &arg("top", Top::from_slice(top))?, a.iterations))?,
        (None, Some(topc)) => arg("topc", Topc::from_slice(topc))?,
        (None, None) => unreachable!("clap requires --top or --topc"),
    };
    let t = arg("k", Tuak::new(&k, &topc, params))?;
    let mut out = Map::new();
    out.insert("topc".into(), hex(topc.expose()));
    finish(out, &t.into(), &a.common)
}

/// The flag behind a TUAK parameter error.
fn flag_of(e: &AucError) -> Option<&'static str> {
    match e {
        AucError::InvalidParameter { what, .. } => Some(match *what {
            "MAC length (bits)" => "mac-bits",
            "RES length (bits)" => "res-bits",
            "CK length (bits)" => "ck-bits",
            "IK length (bits)" => "ik-bits",
            _ => "iterations",
        }),
        _ => None,
    }
}

/// Adds the f-function outputs (or, with --auts, replaces everything by SQN_MS).
fn finish(mut out: Map<String, Value>, alg: &AuthAlgorithm, c: &Common) -> Result<Value, Failure> {
    let rand = arg("rand", Rand::from_slice(&c.rand))?;
    if let Some(auts) = &c.auts {
        let auts = arg("auts", Auts::from_slice(auts))?;
        let sqn_ms = verify_auts(alg, &rand, &auts).map_err(|e| Failure::Failed(e.to_string()))?;
        return Ok(json!({ "sqn_ms": ::hex::encode(sqn_ms.to_bytes()) }));
    }
    let sqn = arg("sqn", Sqn::from_slice(c.sqn.as_deref().unwrap_or_default()))?;
    let amf = arg("amf", Amf::from_slice(c.amf.as_deref().unwrap_or_default()))?;
    let (mac_a, res, ck, ik, ak) = alg.vector_outputs(&rand, sqn, amf);
    let mac_s = alg.f1star(&rand, sqn, amf);
    let ak_star = alg.f5star(&rand);
    let autn = auc::autn(sqn, &ak, amf, &mac_a);
    for (key, value) in [
        ("mac_a", mac_a.as_slice()),
        ("mac_s", mac_s.as_slice()),
        ("res", res.as_slice()),
        ("ck", ck.expose()),
        ("ik", ik.expose()),
        ("ak", &ak.0),
        ("ak_star", &ak_star.0),
        ("autn", autn.as_slice()),
    ] {
        out.insert(key.into(), hex(value));
    }
    Ok(Value::Object(out))
}
