//! PyHSS: its subscriber data (the `auc` table, or the JSON list its API returns) and its `config.yaml`.
//!
//! Subscriber data, with PyHSS's own semantics of `algo` ([`crate::foreign::pyhss_algo`]): 3G/4G vectors
//! are always MILENAGE over `ki`/`opc`; `algo` only chooses how GSM triplets are made: 1-3 (and NULL,
//! run as 3) with COMP128v1-v3, any other integer (PyHSS's fixture uses 0) from MILENAGE.
//! - an OPc with a COMP128 `algo`: a MILENAGE USIM that gets COMP128 triplets → `WA-ALG-070` (change the
//!   column, not the SIM);
//! - no OPc: a 2G-only SIM → `WA-ALG-032`, and `WA-ALG-030` when its `algo` is COMP128;
//! - `ki` shorter than 128 bits → `WA-ALG-033`; key hygiene ([`crate::key_hygiene`]) and an empty
//!   database → `WA-ALG-071`…`075`;
//! - an `algo` that is not an integer (PyHSS's `int(algo)` fails for it) → a note.
//!
//! `config.yaml`: `hss.lock_provisioning: False` → `WA-SEC-064`; `hss.provisioning_key` equal to the
//! sample PyHSS ships → `WA-SEC-065`; `hss.bind_ip`, `hss.gsup.bind_ip`, `api.bind_ip`,
//! `metric.bind_ip` or `snmp.listen_address` on every address (`0.0.0.0`, `::`) → `WA-NET-042`.

use std::collections::BTreeMap;
use std::path::Path;

use serde_norway::Value;

use crate::foreign::{self, pyhss_algo, PyhssAlgo};
use crate::key_hygiene::{self, imsi_list, KeyRecord};
use crate::report::{Location, Report};
use crate::yaml_lines::line_of;
use crate::AuditError;

/// The provisioning key PyHSS ships in `config.yaml` (and as the default of `docker/config.yaml`).
pub const SAMPLE_PROVISIONING_KEY: &str = "changeThisKeyInProduction";

/// Reads PyHSS subscriber data: a JSON export of `auc` records, or its SQLite database.
pub async fn pyhss(path: &Path, report: &mut Report) -> Result<(), AuditError> {
    let file = path.display().to_string();
    report.input("pyhss", &file);
    let records = foreign::pyhss(path).await?;
    let table = records.first().map_or("auc", |r| r.table);
    // Per check: the IMSIs, grouped by how `algo` reads, for the detail.
    let mut usim_comp: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut sim_comp: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let (mut no_opc, mut short, mut not_number) = (Vec::new(), Vec::new(), BTreeMap::<String, Vec<String>>::new());
    for r in &records {
        let algo = if r.no_algo_column { PyhssAlgo::Milenage(0) } else { pyhss_algo(r.algo.as_deref()) };
        let described = algo.describe(r.algo.as_deref());
        match (&algo, r.opc.is_some()) {
            (PyhssAlgo::Comp128 { .. }, true) => usim_comp.entry(described).or_default().push(r.imsi.clone()),
            (PyhssAlgo::Comp128 { .. }, false) => {
                sim_comp.entry(described).or_default().push(r.imsi.clone());
                no_opc.push(r.imsi.clone());
            }
            (PyhssAlgo::Milenage(_), false) => no_opc.push(r.imsi.clone()),
            (PyhssAlgo::Milenage(_), true) => {}
            (PyhssAlgo::NotANumber(raw), _) => not_number.entry(format!("{raw:?}")).or_default().push(r.imsi.clone()),
        }
        if !r.ki.is_empty() && r.ki.trim().len() * 4 < 128 {
            short.push(r.imsi.clone());
        }
    }
    if records.first().is_some_and(|r| r.no_algo_column) {
        report.note(format!(
            "{file}: table auc has no `algo` column (PyHSS before its GSUP support, releases 1.0.x): no 2G \
             triplets are served; upgrading PyHSS adds the column as NULL, which it runs as COMP128v3 for every \
             subscriber: set algo to 0 for USIMs after the upgrade"
        ));
    }
    let at = |column: &str| Location { file: Some(file.clone()), line: None, path: format!("{table}.{column}") };
    let grouped = |m: &BTreeMap<String, Vec<String>>| {
        m.iter().map(|(how, who)| format!("{how}: {}", imsi_list(who))).collect::<Vec<_>>().join("; ")
    };
    let count = |m: &BTreeMap<String, Vec<String>>| m.values().map(Vec::len).sum::<usize>();
    if !usim_comp.is_empty() {
        report.raise(
            "WA-ALG-070",
            "pyhss",
            at("algo"),
            format!(
                "{} subscriber(s) with an OPc (MILENAGE USIMs) get COMP128 2G triplets: {}",
                count(&usim_comp),
                grouped(&usim_comp)
            ),
        );
    }
    if !sim_comp.is_empty() {
        report.raise(
            "WA-ALG-030",
            "pyhss",
            at("algo"),
            format!(
                "{} 2G-only subscriber(s) (no OPc) authenticate with COMP128: {}",
                count(&sim_comp),
                grouped(&sim_comp)
            ),
        );
    }
    if !no_opc.is_empty() {
        report.raise(
            "WA-ALG-032",
            "pyhss",
            at("opc"),
            format!("{} subscriber(s) without an OPc (no MILENAGE: 2G only): {}", no_opc.len(), imsi_list(&no_opc)),
        );
    }
    if !short.is_empty() {
        report.raise(
            "WA-ALG-033",
            "pyhss",
            at("ki"),
            format!("{} subscriber(s) with keys shorter than 128 bits: {}", short.len(), imsi_list(&short)),
        );
    }
    for (raw, who) in &not_number {
        report.note(format!(
            "{file}: {} subscriber(s) have algo = {raw}, which is not an integer: PyHSS itself cannot make 2G/3G \
             vectors for them (its int(algo) fails); 4G vectors (MILENAGE) are unaffected: {}",
            who.len(),
            imsi_list(who)
        ));
    }
    let hygiene = key_hygiene::examine(records.iter().map(|r| KeyRecord {
        imsi: &r.imsi,
        k: Some(&r.ki),
        opc: r.opc.as_deref(),
        ..Default::default()
    }));
    hygiene.raise(report, "pyhss", &file, &format!("{table}.ki"), &format!("{table}.opc"));
    Ok(())
}

fn truthy(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "yes" | "on" | "1" => Some(true),
            "false" | "no" | "off" | "0" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

fn all_addresses(v: &Value) -> Vec<String> {
    let one = |v: &Value| v.as_str().map(str::trim).map(str::to_string);
    let list: Vec<String> = match v {
        Value::Sequence(s) => s.iter().filter_map(one).collect(),
        other => one(other).into_iter().collect(),
    };
    list.into_iter().filter(|a| matches!(a.as_str(), "0.0.0.0" | "::" | "[::]" | "*" | "")).collect()
}

/// Reads a PyHSS `config.yaml`.
pub fn pyhss_config(path: &Path, report: &mut Report) -> Result<(), AuditError> {
    let text = std::fs::read_to_string(path).map_err(|e| AuditError::Io(path.display().to_string(), e))?;
    let file = path.display().to_string();
    let error = |m: String| AuditError::Import { origin: file.clone(), message: m };
    let doc: Value = serde_norway::from_str(&text).map_err(|e| error(e.to_string()))?;
    let hss =
        doc.get("hss").ok_or_else(|| error("no top-level `hss:` section (is this PyHSS's config.yaml?)".into()))?;
    report.input("pyhss-config", &file);
    let at = |path: &[&str]| Location { file: Some(file.clone()), line: line_of(&text, path), path: path.join(".") };
    match hss.get("lock_provisioning") {
        Some(v) => match truthy(v) {
            Some(false) => report.raise(
                "WA-SEC-064",
                "pyhss-config",
                at(&["hss", "lock_provisioning"]),
                "hss.lock_provisioning is False: the API accepts changes without a Provisioning-Key",
            ),
            Some(true) => {}
            None => return Err(error(format!("hss.lock_provisioning: {v:?} is not a boolean"))),
        },
        None => report.raise(
            "WA-SEC-064",
            "pyhss-config",
            at(&["hss"]),
            "hss.lock_provisioning is absent (PyHSS then does not require a Provisioning-Key)",
        ),
    }
    if hss.get("provisioning_key").and_then(Value::as_str).map(str::trim) == Some(SAMPLE_PROVISIONING_KEY) {
        report.raise(
            "WA-SEC-065",
            "pyhss-config",
            at(&["hss", "provisioning_key"]),
            format!("hss.provisioning_key is PyHSS's sample {SAMPLE_PROVISIONING_KEY:?}"),
        );
    }
    let listeners: [(&[&str], &str); 5] = [
        (&["hss", "bind_ip"], "Diameter"),
        (&["hss", "gsup", "bind_ip"], "GSUP"),
        (&["api", "bind_ip"], "the provisioning API"),
        (&["metric", "bind_ip"], "metrics"),
        (&["snmp", "listen_address"], "SNMP"),
    ];
    for (keys, what) in listeners {
        let Some(v) = keys.iter().try_fold(&doc, |v, k| v.get(*k)) else { continue };
        let any = all_addresses(v);
        if let Some(a) = any.first() {
            report.raise(
                "WA-NET-042",
                "pyhss-config",
                at(keys),
                format!("{what} listens on {a:?} ({}): every interface", keys.join(".")),
            );
        }
    }
    Ok(())
}
