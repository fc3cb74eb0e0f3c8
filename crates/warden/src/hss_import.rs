//! Importers for other HSSes' subscriber data: PyHSS (the JSON list of its `auc` records, as its API
//! returns them, with optional `msisdn` and `algo`, or its SQLite database), Open5GS (`mongoexport
//! --jsonArray` of the `subscribers` collection) and osmo-hlr (its SQLite database file). The PyHSS and
//! osmo-hlr readers are the network audit's (`audit::foreign`): one reader, two uses.
//!
//! COMP128 and XOR subscribers are refused by name, with the IMSI and the algorithm in the report. By
//! default any refused or malformed subscriber means nothing is imported; `--skip-refused` imports
//! the rest and lists what was left out. Keys never appear in messages.

use std::path::Path;

use auc::{AlgorithmKind, Key, Milenage, Op, Opc};
use ids::{Imsi, Msisdn};
use serde_json::Value;
use store::model::{AlgorithmSpec, NewSim, Priority, SimStatus};
use store::Store;

use crate::Failure;

/// Which system an export comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Source {
    /// PyHSS `auc` records (JSON array).
    Pyhss,
    /// Open5GS `subscribers` collection (mongoexport JSON array).
    Open5gs,
    /// osmo-hlr SQLite database.
    OsmoHlr,
}

/// Settings applied to every imported SIM.
#[derive(Debug, Clone)]
pub struct Defaults {
    /// Profile to assign.
    pub profile: Option<String>,
    /// Tenant.
    pub tenant: String,
    /// Import the acceptable subscribers even when others are refused.
    pub skip_refused: bool,
}

/// One subscriber read from an export, before checks.
struct Raw {
    imsi: String,
    msisdn: Option<String>,
    /// The algorithm as named or numbered by the source, for messages.
    algorithm: Result<AlgorithmKind, String>,
    k: String,
    op: Option<String>,
    opc: Option<String>,
    amf: Option<String>,
    /// Notes about data dropped (e.g. a COMP128 2G key beside MILENAGE).
    note: Option<String>,
}

fn s(v: &Value, key: &str) -> Option<String> {
    match v.get(key)? {
        Value::String(x) if !x.is_empty() => Some(x.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The name of an algorithm as the importer reports it (osmo-hlr's numbering and PyHSS's alike).
fn named(alg: audit::model::AuthAlgorithm) -> &'static str {
    use audit::model::AuthAlgorithm as A;
    match alg {
        A::Milenage => "milenage",
        A::Tuak => "tuak",
        A::Comp128v1 => "COMP128v1",
        A::Comp128v2 => "COMP128v2",
        A::Comp128v3 => "COMP128v3",
        A::Xor => "XOR",
    }
}

/// What Warden computes vectors with, or why a subscriber's algorithm is refused (ALG-1).
fn usable(alg: audit::model::AuthAlgorithm) -> Result<AlgorithmKind, String> {
    use audit::model::AuthAlgorithm as A;
    match alg {
        A::Milenage => Ok(AlgorithmKind::Milenage),
        A::Tuak => Ok(AlgorithmKind::Tuak),
        other => {
            Err(format!("{} is refused (ALG-1: COMP128 and XOR are never used)", named(other).to_ascii_lowercase()))
        }
    }
}

fn read_json(path: &Path) -> Result<Vec<Value>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    match serde_json::from_str::<Value>(&text).map_err(|e| format!("{}: {e}", path.display()))? {
        Value::Array(a) => Ok(a),
        _ => Err(format!("{}: expected a JSON array of subscribers", path.display())),
    }
}

async fn pyhss(path: &Path) -> Result<Vec<Raw>, String> {
    let records = audit::foreign::pyhss(path).await.map_err(|e| e.to_string())?;
    Ok(records
        .into_iter()
        .map(|r| Raw {
            algorithm: audit::foreign::pyhss_algorithm(&r.algo)
                .and_then(|a| a.map_or(Ok(AlgorithmKind::Milenage), usable)),
            imsi: r.imsi,
            msisdn: r.msisdn,
            k: r.ki,
            op: None,
            opc: r.opc,
            amf: r.amf,
            note: None,
        })
        .collect())
}

fn open5gs(path: &Path) -> Result<Vec<Raw>, String> {
    Ok(read_json(path)?
        .iter()
        .map(|r| {
            let sec = r.get("security").cloned().unwrap_or(Value::Null);
            let msisdn = r
                .get("msisdn")
                .and_then(|m| m.as_array())
                .and_then(|a| a.first())
                .and_then(|m| m.as_str())
                .map(str::to_string);
            Raw {
                imsi: s(r, "imsi").unwrap_or_default(),
                msisdn,
                // Open5GS implements MILENAGE only.
                algorithm: Ok(AlgorithmKind::Milenage),
                k: s(&sec, "k").unwrap_or_default(),
                op: s(&sec, "op"),
                opc: s(&sec, "opc"),
                amf: s(&sec, "amf"),
                note: None,
            }
        })
        .collect())
}

/// An osmocom algorithm number as the report names it.
fn osmo_name(id: i64) -> String {
    audit::foreign::osmocom_algorithm(id).map_or_else(|_| format!("osmocom algorithm {id}"), |a| named(a).into())
}

async fn osmo_hlr(path: &Path) -> Result<Vec<Raw>, String> {
    let subscribers = audit::foreign::osmo_hlr(path).await.map_err(|e| e.to_string())?;
    Ok(subscribers
        .into_iter()
        .map(|r| {
            let (algorithm, note) = match (r.algo_3g.filter(|&a| a != 0), r.algo_2g.filter(|&a| a != 0)) {
                (Some(a3), a2) => {
                    let kind = audit::foreign::osmocom_algorithm(a3)
                        .ok()
                        .and_then(|a| usable(a).ok())
                        .ok_or_else(|| format!("3G algorithm {} is refused", osmo_name(a3)));
                    let note =
                        a2.map(|x| format!("2G algorithm {} dropped; GSM triplets come from c2/c3", osmo_name(x)));
                    (kind, note)
                }
                (None, Some(a2)) => (Err(format!("only a 2G key with {}, which is refused", osmo_name(a2))), None),
                (None, None) => (Err("no authentication data".to_string()), None),
            };
            Raw {
                imsi: r.imsi,
                msisdn: r.msisdn,
                algorithm,
                k: r.k.unwrap_or_default(),
                op: r.op,
                opc: r.opc,
                amf: None,
                note,
            }
        })
        .collect())
}

fn to_sim(r: &Raw, d: &Defaults) -> Result<NewSim, String> {
    let imsi: Imsi = r.imsi.parse().map_err(|e: ids::IdError| e.to_string())?;
    let kind = r.algorithm.clone()?;
    if kind != AlgorithmKind::Milenage {
        return Err(format!("{kind} subscribers need their TUAK sizes; import them with `warden sim import`"));
    }
    let hex = |name: &str, v: &str| hex::decode(v.trim()).map_err(|e| format!("{name}: {e}"));
    let k = Key::from_slice(&hex("K", &r.k)?).map_err(|e| e.to_string())?;
    let opc = match (&r.opc, &r.op) {
        (Some(opc), _) => Opc::from_slice(&hex("OPc", opc)?).map_err(|e| e.to_string())?,
        (None, Some(op)) => Milenage::opc(&k, &Op::from_slice(&hex("OP", op)?).map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?,
        (None, None) => return Err("neither OP nor OPc".into()),
    };
    let amf = match &r.amf {
        Some(a) => hex("AMF", a)?.try_into().map_err(|_| "AMF must be 2 bytes".to_string())?,
        None => [0x80, 0x00],
    };
    let msisdn = match &r.msisdn {
        Some(m) => Some(m.trim_start_matches('+').parse::<Msisdn>().map_err(|e| e.to_string())?),
        None => None,
    };
    Ok(NewSim {
        imsi,
        iccid: None,
        msisdn,
        eid: None,
        k,
        opc: auc::SecretBytes::new(opc.expose()),
        amf,
        algorithm: AlgorithmSpec::Milenage,
        profile: d.profile.clone(),
        priority: Priority::Standard,
        tenant: d.tenant.clone(),
        status: SimStatus::Active,
    })
}

/// Reads an export and imports it through `cmp` (one transaction, audited); returns the report.
pub async fn import(store: &Store, source: Source, path: &Path, d: &Defaults) -> Result<String, Failure> {
    let raws = match source {
        Source::Pyhss => pyhss(path).await?,
        Source::Open5gs => open5gs(path)?,
        Source::OsmoHlr => osmo_hlr(path).await?,
    };
    let mut sims = Vec::new();
    let mut refused = Vec::new();
    let mut notes = Vec::new();
    for (i, r) in raws.iter().enumerate() {
        let who = if r.imsi.is_empty() { format!("record {}", i + 1) } else { format!("IMSI {}", r.imsi) };
        match to_sim(r, d) {
            Ok(sim) => {
                if let Some(n) = &r.note {
                    notes.push(format!("{who}: {n}"));
                }
                sims.push(sim);
            }
            Err(e) => refused.push(format!("{who}: {e}")),
        }
    }
    let mut report = String::new();
    for line in refused.iter().chain(&notes) {
        report.push_str(line);
        report.push('\n');
    }
    if !refused.is_empty() && !d.skip_refused {
        return Err(Failure::Failed(format!(
            "{report}{} subscriber(s) refused; nothing was imported (use --skip-refused to import the rest)",
            refused.len()
        )));
    }
    let n = cmp::sims::import(store, &cmp::Actor::cli(), &sims, &path.display().to_string(), &|_| {})
        .await
        .map_err(|e| Failure::Failed(format!("{e}; nothing was imported")))?;
    report.push_str(&format!("imported {n} subscribers, refused {}", refused.len()));
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn algorithm_names_and_numbers() {
        assert_eq!(
            audit::foreign::pyhss_algorithm("milenage").map(|a| a.map(usable)),
            Ok(Some(Ok(AlgorithmKind::Milenage)))
        );
        let comp = audit::foreign::pyhss_algorithm("3").unwrap().unwrap();
        assert!(usable(comp).unwrap_err().contains("comp128v3"));
        assert_eq!(osmo_name(2), "COMP128v2");
        assert_eq!(osmo_name(5), "milenage");
        assert_eq!(osmo_name(9), "osmocom algorithm 9");
    }
}
