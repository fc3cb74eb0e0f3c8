//! Importers for other HSSes' subscriber data: PyHSS (the JSON list of its `auc` records, as its API
//! returns them, with optional `msisdn` and `algo`, or its SQLite database), Open5GS (`mongoexport
//! --jsonArray` of the `subscribers` collection) and osmo-hlr (its SQLite database file). The PyHSS and
//! osmo-hlr readers are the network audit's (`audit::foreign`): one reader, two uses.
//!
//! COMP128 and XOR subscribers are refused by name, with the IMSI and the algorithm in the report. By
//! default any refused or malformed subscriber means nothing is imported; `--skip-refused` imports
//! the rest and lists what was left out. Keys never appear in messages.
//!
//! PyHSS's `algo` is read as PyHSS runs it (`audit::foreign::pyhss_algo`): it only selects how GSM
//! triplets are made, 3G/4G being MILENAGE over `ki`/`opc` whatever it says. A subscriber with an OPc
//! is imported as MILENAGE whatever its `algo`; when `algo` is 1-3 or NULL (COMP128), the report notes
//! that Warden derives the triplets from MILENAGE instead. A subscriber without an OPc (a 2G-only SIM)
//! with a COMP128 `algo` is refused.
//!
//! Key hygiene (`audit::key_hygiene`) runs on every source before anything is written: a source with no
//! subscriber is an error (a live SQLite file copied without its `-wal` file looks like this);
//! published test keys and one K shared by several IMSIs refuse the whole import unless
//! `--allow-test-keys`; an OPc shared over different keys and K = OPc are warned about in the report.

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
    /// Import despite published test keys or a K shared by several IMSIs.
    pub allow_test_keys: bool,
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
    use audit::foreign::PyhssAlgo;
    let records = audit::foreign::pyhss(path).await.map_err(|e| e.to_string())?;
    Ok(records
        .into_iter()
        .map(|r| {
            let algo =
                if r.no_algo_column { PyhssAlgo::Milenage(0) } else { audit::foreign::pyhss_algo(r.algo.as_deref()) };
            let how = algo.describe(r.algo.as_deref());
            let (algorithm, note) = match (&algo, r.opc.is_some()) {
                (PyhssAlgo::Comp128 { algorithm, .. }, true) => (
                    Ok(AlgorithmKind::Milenage),
                    Some(format!(
                        "{how}: PyHSS made its 2G triplets with {}; Warden derives them from MILENAGE as a USIM \
                         does (a card whose SIM application really runs COMP128 fails 2G authentication)",
                        named(*algorithm)
                    )),
                ),
                (PyhssAlgo::Comp128 { algorithm, .. }, false) => (
                    Err(format!(
                        "no OPc: a 2G-only SIM with {} ({how}), which is refused (ALG-1: COMP128 is never used)",
                        named(*algorithm)
                    )),
                    None,
                ),
                (PyhssAlgo::NotANumber(_), _) => (
                    Ok(AlgorithmKind::Milenage),
                    Some(format!(
                        "{how} is not a number (PyHSS itself cannot make 2G/3G vectors for it); imported as MILENAGE"
                    )),
                ),
                (PyhssAlgo::Milenage(_), _) => (Ok(AlgorithmKind::Milenage), None),
            };
            Raw { algorithm, imsi: r.imsi, msisdn: r.msisdn, k: r.ki, op: None, opc: r.opc, amf: r.amf, note }
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

/// An osmocom algorithm number as the report names it (libosmocore's names: XOR-3G and XOR-2G differ).
fn osmo_name(id: i64) -> String {
    match audit::foreign::osmocom_algorithm(id) {
        Ok(_) => audit::osmo_hlr::algorithm_name(id),
        Err(_) => format!("osmocom algorithm {id}"),
    }
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
    if raws.is_empty() {
        return Err(Failure::Failed(format!(
            "{}: no subscriber in the source; nothing was imported (a live SQLite database copied without its \
             -wal file looks like this: copy it with `sqlite3 FILE '.backup copy.db'` or together with FILE-wal)",
            path.display()
        )));
    }
    let hygiene = audit::key_hygiene::examine(raws.iter().map(|r| audit::key_hygiene::KeyRecord {
        imsi: &r.imsi,
        k: Some(r.k.as_str()),
        opc: r.opc.as_deref(),
        op: r.op.as_deref(),
        ki: None,
    }));
    let mut warnings = Vec::new();
    let mut blocking = Vec::new();
    for (id, problem) in hygiene.problems() {
        if matches!(id, "WA-ALG-071" | "WA-ALG-073") {
            blocking.push(format!("{problem} ({id})"));
        } else {
            warnings.push(format!("warning: {problem} ({id})"));
        }
    }
    if !blocking.is_empty() && !d.allow_test_keys {
        return Err(Failure::Failed(format!(
            "{}\nnothing was imported (use --allow-test-keys for a lab or test network)",
            blocking.join("\n")
        )));
    }
    warnings.extend(blocking.into_iter().map(|b| format!("warning: {b}")));
    let mut sims = Vec::new();
    let mut refused = Vec::new();
    let mut notes = warnings;
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
        let comp = audit::foreign::pyhss_algo(Some("3"));
        assert!(matches!(comp, audit::foreign::PyhssAlgo::Comp128 { from_null: false, .. }));
        assert!(usable(audit::model::AuthAlgorithm::Comp128v3).unwrap_err().contains("comp128v3"));
        assert_eq!(usable(audit::model::AuthAlgorithm::Milenage), Ok(AlgorithmKind::Milenage));
        assert_eq!(osmo_name(2), "COMP128v2");
        assert_eq!(osmo_name(5), "MILENAGE");
        assert_eq!((osmo_name(4), osmo_name(6)), ("XOR-3G".to_string(), "XOR-2G".to_string()));
        assert_eq!(osmo_name(9), "osmocom algorithm 9");
    }
}
