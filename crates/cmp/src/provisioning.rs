//! Provisioning records: one SIM as a CSV row or an API request gives it, checked completely and turned
//! into a [`NewSim`] (OP/TOP converted to OPc/TOPc here, so the store only ever sees OPc/TOPc).

use auc::{AlgorithmKind, Key, Milenage, Op, Opc, Top, Topc, Tuak, TuakParams};
use ids::{Iccid, Imsi, Msisdn};
use serde::Deserialize;
use store::model::{AlgorithmSpec, NewSim, Priority, SimStatus};

/// One SIM as provisioning files and the API give it (`op` or `opc`; the rest optional but `imsi` and
/// `k`). Deliberately not `Debug`: it holds keys.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimRecord {
    /// `imsi`.
    pub imsi: String,
    #[serde(default)]
    /// `iccid`.
    pub iccid: String,
    #[serde(default)]
    /// `msisdn`.
    pub msisdn: String,
    #[serde(default)]
    /// `eid`.
    pub eid: String,
    /// `k`.
    pub k: String,
    #[serde(default)]
    /// `opc`.
    pub opc: String,
    #[serde(default)]
    /// `op`.
    pub op: String,
    #[serde(default)]
    /// `amf`.
    pub amf: String,
    #[serde(default)]
    /// `algorithm`.
    pub algorithm: String,
    #[serde(default)]
    /// `profile`.
    pub profile: String,
    #[serde(default)]
    /// `priority`.
    pub priority: String,
    #[serde(default)]
    /// `tenant`.
    pub tenant: String,
    #[serde(default)]
    /// `status`.
    pub status: String,
}

fn hex_field(name: &str, value: &str) -> Result<Vec<u8>, String> {
    hex::decode(value.trim()).map_err(|e| format!("{name}: {e}"))
}

fn opt<T: std::str::FromStr>(v: &str) -> Result<Option<T>, T::Err> {
    if v.trim().is_empty() {
        Ok(None)
    } else {
        v.trim().parse().map(Some)
    }
}

impl SimRecord {
    /// Parses and checks the record; keys never appear in messages. `default_status` applies when
    /// the record has none.
    pub fn to_new_sim(&self, default_status: SimStatus) -> Result<NewSim, String> {
        sim_from_record(self, default_status)
    }
}

fn sim_from_record(r: &SimRecord, default_status: SimStatus) -> Result<NewSim, String> {
    let imsi: Imsi = r.imsi.trim().parse().map_err(|e: ids::IdError| e.to_string())?;
    let iccid: Option<Iccid> = opt(&r.iccid).map_err(|e: ids::IdError| e.to_string())?;
    let msisdn: Option<Msisdn> = opt(&r.msisdn).map_err(|e: ids::IdError| e.to_string())?;
    let eid: Option<ids::Eid> = opt(&r.eid).map_err(|e: ids::IdError| e.to_string())?;
    let kind: AlgorithmKind = if r.algorithm.trim().is_empty() {
        AlgorithmKind::Milenage
    } else {
        r.algorithm.trim().parse().map_err(|e: auc::AucError| format!("algorithm: {e}"))?
    };
    let k = Key::from_slice(&hex_field("k", &r.k)?).map_err(|e| format!("k: {e}"))?;
    let (op, opc) = (r.op.trim(), r.opc.trim());
    if op.is_empty() == opc.is_empty() {
        return Err("exactly one of op and opc must be given".into());
    }
    let (opc, algorithm) = match kind {
        AlgorithmKind::Milenage => {
            let opc = if opc.is_empty() {
                Milenage::opc(&k, &Op::from_slice(&hex_field("op", op)?).map_err(|e| format!("op: {e}"))?)
                    .map_err(|e| format!("k: {e}"))?
            } else {
                Opc::from_slice(&hex_field("opc", opc)?).map_err(|e| format!("opc: {e}"))?
            };
            (auc::SecretBytes::new(opc.expose()), AlgorithmSpec::Milenage)
        }
        AlgorithmKind::Tuak => {
            let params = TuakParams::default();
            let topc = if opc.is_empty() {
                Tuak::topc(
                    &k,
                    &Top::from_slice(&hex_field("op", op)?).map_err(|e| format!("op (TOP): {e}"))?,
                    params.iterations,
                )
                .map_err(|e| e.to_string())?
            } else {
                Topc::from_slice(&hex_field("opc", opc)?).map_err(|e| format!("opc (TOPc): {e}"))?
            };
            (auc::SecretBytes::new(topc.expose()), AlgorithmSpec::Tuak(params))
        }
    };
    let amf = if r.amf.trim().is_empty() { vec![0, 0] } else { hex_field("amf", &r.amf)? };
    let amf: [u8; 2] = amf.as_slice().try_into().map_err(|_| format!("amf: must be 2 bytes, got {}", amf.len()))?;
    Ok(NewSim {
        imsi,
        iccid,
        msisdn,
        eid,
        k,
        opc,
        amf,
        algorithm,
        profile: opt::<String>(&r.profile).unwrap_or(None),
        priority: opt::<Priority>(&r.priority).map_err(|e| format!("priority: {e}"))?.unwrap_or(Priority::Standard),
        tenant: if r.tenant.trim().is_empty() { "default".into() } else { r.tenant.trim().into() },
        status: opt::<SimStatus>(&r.status).map_err(|e| format!("status: {e}"))?.unwrap_or(default_status),
    })
}
