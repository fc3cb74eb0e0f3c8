//! Importers: read the configuration or subscriber data of open-source cores and raise the same checks
//! as the description, located in the file they came from.
//!
//! - Open5GS YAML: see [`crate::open5gs`] (re-exported here).
//! - OsmoBSC/OsmoMSC VTY configuration, `network` node: `encryption a5 <0-4>…` (a set: the BSC/MSC picks
//!   the best the phone supports, so any weak member is offered), `encryption uea <0-2>…` (OsmoMSC) and
//!   `authentication (optional|required)` (OsmoMSC). A missing line is reported as a note, not guessed.
//! - osmo-hlr SQLite database: `auc_2g.algo_id_2g`, `auc_3g.algo_id_3g` (libosmocore numbering: 1-3
//!   COMP128v1-v3, 4 XOR-3G, 5 MILENAGE, 6 XOR-2G, 7 TUAK), key lengths, OP vs OPc.
//!   Key hygiene of its keys: [`crate::key_hygiene`].
//! - PyHSS subscriber data: see [`crate::pyhss`] (re-exported here).
//!
//! Keys are read for their length and compared in memory (key hygiene); they are never reported.

use std::collections::BTreeMap;
use std::path::Path;

use crate::checks::{self, Hit};
use crate::foreign::{self, osmocom_algorithm};
use crate::model::{AuthAlgorithm, Uea, A5};
use crate::report::{Location, Report};
use crate::AuditError;

pub use crate::open5gs::{open5gs, Open5gs};
pub use crate::pyhss::pyhss;

/// Which Osmocom program a VTY configuration belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Osmo {
    /// OsmoBSC.
    Bsc,
    /// OsmoMSC.
    Msc,
}

fn import_error(path: &Path, message: impl Into<String>) -> AuditError {
    AuditError::Import { origin: path.display().to_string(), message: message.into() }
}

fn read(path: &Path) -> Result<String, AuditError> {
    std::fs::read_to_string(path).map_err(|e| AuditError::Io(path.display().to_string(), e))
}

fn raise_all(report: &mut Report, source: &str, file: &str, line: Option<u32>, path: &str, hits: Vec<Hit>) {
    for (id, detail) in hits {
        let location = Location { file: Some(file.to_string()), line, path: path.to_string() };
        report.raise(id, source, location, detail);
    }
}

/// Reads an OsmoBSC or OsmoMSC configuration file.
pub fn osmo_vty(path: &Path, kind: Osmo, report: &mut Report) -> Result<(), AuditError> {
    let text = read(path)?;
    let file = path.display().to_string();
    let source = match kind {
        Osmo::Bsc => "osmo-bsc",
        Osmo::Msc => "osmo-msc",
    };
    report.input(source, &file);
    let mut in_network = false;
    let mut seen_network = false;
    let (mut a5, mut uea, mut auth) = (None, None, None);
    for (i, raw) in text.lines().enumerate() {
        let line_no = i as u32 + 1;
        if raw.trim_start().starts_with('!') || raw.trim().is_empty() {
            continue;
        }
        let indent = raw.len() - raw.trim_start().len();
        let words: Vec<&str> = raw.split_whitespace().collect();
        if indent == 0 {
            in_network = words == ["network"];
            seen_network |= in_network;
            continue;
        }
        // Commands of the network node itself (one level in; deeper levels are bts/trx nodes).
        if !in_network || indent != 1 {
            continue;
        }
        let nums = |rest: &[&str], max: u8| -> Result<Vec<u8>, AuditError> {
            rest.iter()
                .map(|w| match w.parse::<u8>() {
                    Ok(n) if n <= max => Ok(n),
                    _ => Err(import_error(path, format!("line {line_no}: {w:?} is not an algorithm number 0..{max}"))),
                })
                .collect()
        };
        match words.as_slice() {
            ["encryption", "a5", rest @ ..] => a5 = Some((line_no, nums(rest, 4)?)),
            ["encryption", "uea", rest @ ..] => uea = Some((line_no, nums(rest, 2)?)),
            ["authentication", mode] => auth = Some((line_no, mode.to_string())),
            _ => {}
        }
    }
    if !seen_network {
        return Err(import_error(path, "no `network` node: is this an OsmoBSC/OsmoMSC configuration?"));
    }
    match a5 {
        Some((line, set)) => {
            let algs: Vec<A5> = set.iter().map(|n| A5::ALL[*n as usize]).collect();
            raise_all(report, source, &file, Some(line), "network.encryption a5", checks::gsm_ciphering(&algs));
        }
        None => report.note(format!(
            "{file}: no `encryption a5` line in `network`: the program default applies and was not audited"
        )),
    }
    if let Some((line, set)) = uea {
        let algs: Vec<Uea> = set.iter().map(|n| Uea::ALL[*n as usize]).collect();
        // A set, not an order: UEA0 present counts as enabled.
        let hits = if algs.contains(&Uea::Uea0) {
            vec![(
                "WA-ALG-011",
                format!(
                    "UEA set [{}] includes UEA0",
                    set.iter().map(|n| format!("UEA{n}")).collect::<Vec<_>>().join(", ")
                ),
            )]
        } else {
            vec![]
        };
        raise_all(report, source, &file, Some(line), "network.encryption uea", hits);
    }
    match (kind, auth) {
        (_, Some((line, mode))) if mode == "optional" => raise_all(
            report,
            source,
            &file,
            Some(line),
            "network.authentication",
            vec![("WA-ALG-009", "authentication optional".to_string())],
        ),
        (_, Some((_, mode))) if mode == "required" => {}
        (_, Some((line, mode))) => {
            return Err(import_error(
                path,
                format!("line {line}: authentication {mode:?} (expected optional|required)"),
            ))
        }
        (Osmo::Msc, None) => report.note(format!(
            "{file}: no `authentication` line in `network`: the program default applies and was not audited"
        )),
        (Osmo::Bsc, None) => {}
    }
    Ok(())
}

/// Per-check lists of subscribers, raised as one finding per check.
#[derive(Default)]
pub(crate) struct Subscribers(BTreeMap<&'static str, (String, Vec<String>)>);

impl Subscribers {
    pub(crate) fn add(&mut self, id: &'static str, path: &str, who: &str) {
        self.0.entry(id).or_insert_with(|| (path.to_string(), Vec::new())).1.push(who.to_string());
    }

    pub(crate) fn raise(self, report: &mut Report, source: &str, file: &str, what: &BTreeMap<&'static str, String>) {
        for (id, (path, who)) in self.0 {
            let shown: Vec<&str> = who.iter().take(10).map(String::as_str).collect();
            let more = if who.len() > 10 { format!(" and {} more", who.len() - 10) } else { String::new() };
            let why = what.get(id).map(String::as_str).unwrap_or("");
            let detail = format!("{} subscriber(s){why}: IMSI {}{more}", who.len(), shown.join(", "));
            report.raise(id, source, Location { file: Some(file.to_string()), line: None, path }, detail);
        }
    }
}

fn key_bits(hex: &str) -> usize {
    hex.trim().len() * 4
}

fn algorithm_hits(subs: &mut Subscribers, table: &str, who: &str, alg: AuthAlgorithm) {
    if alg.is_comp128() {
        subs.add("WA-ALG-030", table, who);
    } else if alg == AuthAlgorithm::Xor {
        subs.add("WA-ALG-031", table, who);
    }
}

/// Reads an osmo-hlr database (read-only).
pub async fn osmo_hlr(path: &Path, report: &mut Report) -> Result<(), AuditError> {
    let file = path.display().to_string();
    report.input("osmo-hlr", &file);
    let rows = foreign::osmo_hlr(path).await?;
    let mut subs = Subscribers::default();
    let mut what = BTreeMap::new();
    for r in &rows {
        let imsi = &r.imsi;
        if let Some(a2) = r.algo_2g.filter(|a| *a != 0) {
            let alg = osmocom_algorithm(a2).map_err(|e| import_error(path, format!("IMSI {imsi}: auc_2g: {e}")))?;
            algorithm_hits(&mut subs, "auc_2g.algo_id_2g", imsi, alg);
            what.insert(if alg.is_comp128() { "WA-ALG-030" } else { "WA-ALG-031" }, format!(" with 2G {alg}"));
            if r.ki.as_deref().is_some_and(|k| key_bits(k) < 128) {
                subs.add("WA-ALG-033", "auc_2g.ki", imsi);
            }
        }
        match r.algo_3g.filter(|a| *a != 0) {
            Some(a3) => {
                let alg = osmocom_algorithm(a3).map_err(|e| import_error(path, format!("IMSI {imsi}: auc_3g: {e}")))?;
                algorithm_hits(&mut subs, "auc_3g.algo_id_3g", imsi, alg);
                if r.k.as_deref().is_some_and(|k| key_bits(k) < 128) {
                    subs.add("WA-ALG-033", "auc_3g.k", imsi);
                }
                if alg == AuthAlgorithm::Milenage && r.opc.is_none() && r.op.is_some() {
                    subs.add("WA-ALG-034", "auc_3g.op", imsi);
                }
            }
            None => subs.add("WA-ALG-032", "auc_3g", imsi),
        }
    }
    what.insert("WA-ALG-032", " without MILENAGE/TUAK data (2G authentication only)".to_string());
    what.insert("WA-ALG-033", " with keys shorter than 128 bits".to_string());
    what.insert("WA-ALG-034", " with OP instead of OPc".to_string());
    subs.raise(report, "osmo-hlr", &file, &what);
    crate::key_hygiene::examine(rows.iter().map(|r| crate::key_hygiene::KeyRecord {
        imsi: &r.imsi,
        k: r.k.as_deref(),
        ki: r.ki.as_deref(),
        opc: r.opc.as_deref(),
        op: r.op.as_deref(),
    }))
    .raise(report, "osmo-hlr", &file, "auc_3g.k", "auc_3g.opc");
    Ok(())
}
