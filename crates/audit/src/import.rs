//! Importers: read the configuration or subscriber data of open-source cores and raise the same checks
//! as the description, located in the file they came from.
//!
//! - Open5GS MME/AMF YAML: `mme.security.{integrity,ciphering}_order` (EIA/EEA) and
//!   `amf.security.{integrity,ciphering}_order` (NIA/NEA), in preference order.
//! - Osmocom: VTY configurations of OsmoBSC, OsmoMSC, osmo-sgsn and osmo-hlr ([`crate::osmo_cfg`], with
//!   the program defaults of absent settings) and the osmo-hlr database ([`crate::osmo_hlr`]); re-exported
//!   here as [`osmo_vty`] and [`osmo_hlr`].
//! - PyHSS: the JSON list of its `auc` records (as its API returns them) or its SQLite database (table
//!   `auc`): `algo` is the 2G algorithm (1-3 COMP128v1-v3; PyHSS computes 3G/4G vectors with MILENAGE),
//!   key lengths.
//!
//! Keys are read only for their length and never reported.

use std::collections::BTreeMap;
use std::path::Path;

use crate::checks::{self, Hit};
use crate::foreign::{self, pyhss_algorithm};
use crate::model::{AuthAlgorithm, Eea, Eia, Nea, Nia};
use crate::report::{Location, Report};
use crate::AuditError;

pub use crate::osmo_cfg::{osmo_vty, Osmo};
pub use crate::osmo_hlr::osmo_hlr;

/// Which core configuration an Open5GS YAML file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Open5gs {
    /// `mme.yaml` (4G: EEA/EIA).
    Mme,
    /// `amf.yaml` (5G: NEA/NIA).
    Amf,
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

/// Reads an Open5GS MME or AMF configuration.
pub fn open5gs(path: &Path, kind: Open5gs, report: &mut Report) -> Result<(), AuditError> {
    let text = read(path)?;
    let file = path.display().to_string();
    let (root, source) = match kind {
        Open5gs::Mme => ("mme", "open5gs-mme"),
        Open5gs::Amf => ("amf", "open5gs-amf"),
    };
    report.input(source, &file);
    let doc: serde_norway::Value = serde_norway::from_str(&text).map_err(|e| import_error(path, e.to_string()))?;
    let security = doc
        .get(root)
        .ok_or_else(|| import_error(path, format!("no top-level `{root}:` section (is this an Open5GS {root}.yaml?)")))?
        .get("security")
        .ok_or_else(|| {
            import_error(path, format!("no `{root}.security` section with integrity_order/ciphering_order"))
        })?;
    let names = |key: &str| -> Result<Vec<String>, AuditError> {
        let at = format!("{root}.security.{key}");
        let seq = security
            .get(key)
            .ok_or_else(|| import_error(path, format!("{at} is missing")))?
            .as_sequence()
            .ok_or_else(|| import_error(path, format!("{at} must be a list of algorithm names")))?;
        seq.iter()
            .map(|v| {
                v.as_str().map(str::to_string).ok_or_else(|| import_error(path, format!("{at}: {v:?} is not a name")))
            })
            .collect()
    };
    let line = |key: &str| text.lines().position(|l| l.trim_start().starts_with(key)).map(|i| i as u32 + 1);
    fn parse<T: std::str::FromStr<Err = String>>(v: &[String], path: &Path, at: &str) -> Result<Vec<T>, AuditError> {
        v.iter().map(|s| s.parse::<T>().map_err(|e| import_error(path, format!("{at}: {e}")))).collect()
    }
    let (ci, ii) = ("ciphering_order", "integrity_order");
    let (cat, iat) = (format!("{root}.security.{ci}"), format!("{root}.security.{ii}"));
    let (c_hits, i_hits) = match kind {
        Open5gs::Mme => (
            checks::eps_ciphering(&parse::<Eea>(&names(ci)?, path, &cat)?),
            checks::eps_integrity(&parse::<Eia>(&names(ii)?, path, &iat)?),
        ),
        Open5gs::Amf => (
            checks::nr_ciphering(&parse::<Nea>(&names(ci)?, path, &cat)?),
            checks::nr_integrity(&parse::<Nia>(&names(ii)?, path, &iat)?),
        ),
    };
    raise_all(report, source, &file, line(ci), &cat, c_hits);
    raise_all(report, source, &file, line(ii), &iat, i_hits);
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

/// Reads PyHSS subscriber data: a JSON export of `auc` records, or its SQLite database.
pub async fn pyhss(path: &Path, report: &mut Report) -> Result<(), AuditError> {
    let file = path.display().to_string();
    report.input("pyhss", &file);
    let records = foreign::pyhss(path).await?;
    let mut subs = Subscribers::default();
    let mut what = BTreeMap::new();
    for r in &records {
        let (imsi, algo) = (&r.imsi, &r.algo);
        let alg = pyhss_algorithm(algo).map_err(|e| import_error(path, format!("IMSI {imsi}: algo: {e}")))?;
        if let Some(alg) = alg {
            algorithm_hits(&mut subs, &format!("{}.algo", r.table), imsi, alg);
            if alg.is_comp128() {
                what.insert("WA-ALG-030", format!(" with 2G algorithm {alg} (algo = {algo})"));
            }
        }
        if !r.ki.is_empty() && key_bits(&r.ki) < 128 {
            subs.add("WA-ALG-033", &format!("{}.ki", r.table), imsi);
        }
    }
    what.insert("WA-ALG-033", " with keys shorter than 128 bits".to_string());
    subs.raise(report, "pyhss", &file, &what);
    Ok(())
}
