//! Provisioning from files: SIMs (CSV), service profiles (TOML) and EIR lists (CSV), each validated
//! completely before anything is written and then written in one transaction, so a file with a bad
//! row changes nothing and every bad row is reported with its line number.

use std::path::Path;

use cmp::provisioning::SimRecord;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Deserialize;
use store::model::{EirEntry, EirKey, EirStatus, NewSim, ServiceProfile, SimStatus};
use store::Store;

use crate::Failure;

/// Every problem found in a file, by line.
#[derive(Debug, Default)]
pub struct RowErrors(pub Vec<(u64, String)>);

impl std::fmt::Display for RowErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (line, msg) in &self.0 {
            writeln!(f, "line {line}: {msg}")?;
        }
        write!(f, "{} bad row(s); nothing was imported", self.0.len())
    }
}

fn progress(len: u64, what: &str) -> ProgressBar {
    let pb = if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        ProgressBar::new(len)
    } else {
        ProgressBar::hidden()
    };
    pb.set_style(
        ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} ({per_sec}, {eta})")
            .expect("template")
            .progress_chars("=> "),
    );
    pb.set_message(what.to_string());
    pb
}

/// Opens a CSV file with a header row.
fn csv_reader(path: &Path) -> Result<csv::Reader<std::fs::File>, String> {
    csv::ReaderBuilder::new().trim(csv::Trim::All).from_path(path).map_err(|e| format!("{}: {e}", path.display()))
}

/// Parses every record with `parse`; returns all rows, or every bad row with its line number.
fn parse_rows<T>(
    reader: &mut csv::Reader<std::fs::File>,
    mut parse: impl FnMut(&csv::StringRecord) -> Result<T, String>,
) -> Result<Vec<T>, RowErrors> {
    let mut rows = Vec::new();
    let mut errors = RowErrors::default();
    for record in reader.records() {
        match record {
            Ok(r) => match parse(&r) {
                Ok(row) => rows.push(row),
                Err(e) => errors.0.push((r.position().map_or(0, |p| p.line()), e)),
            },
            Err(e) => errors.0.push((e.position().map_or(0, |p| p.line()), e.to_string())),
        }
    }
    if errors.0.is_empty() {
        Ok(rows)
    } else {
        Err(errors)
    }
}

/// Reads a SIM CSV completely; returns the SIMs or every bad row.
pub fn read_sims(path: &Path) -> Result<Vec<NewSim>, String> {
    let mut reader = csv_reader(path)?;
    let headers = reader.headers().map_err(|e| format!("{}: {e}", path.display()))?.clone();
    for required in ["imsi", "k"] {
        if !headers.iter().any(|h| h == required) {
            return Err(format!("{}: header has no {required:?} column", path.display()));
        }
    }
    let mut seen = std::collections::HashSet::new();
    let sims = parse_rows(&mut reader, |record| {
        let sim = record
            .deserialize::<SimRecord>(Some(&headers))
            .map_err(|e| e.to_string())
            .and_then(|r: SimRecord| r.to_new_sim(SimStatus::Active))?;
        if !seen.insert(sim.imsi.clone()) {
            return Err(format!("IMSI {} appears twice in the file", sim.imsi));
        }
        Ok(sim)
    })
    .map_err(|e| e.to_string())?;
    Ok(sims)
}

/// `warden sim import`: every row is checked before any is written, then all are imported in one
/// transaction through `cmp` (all or nothing, audited).
pub async fn import_sims(store: &Store, path: &Path) -> Result<String, Failure> {
    let sims = read_sims(path)?;
    let pb = progress(sims.len() as u64, "importing SIMs");
    let resource = path.display().to_string();
    let n = cmp::sims::import(store, &cmp::Actor::cli(), &sims, &resource, &|i| pb.set_position(i))
        .await
        .map_err(|e| Failure::Failed(format!("{e}; nothing was imported")))?;
    pb.finish_and_clear();
    Ok(format!("imported {n} SIMs"))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileFile {
    #[serde(default)]
    profile: Vec<ServiceProfile>,
}

/// `warden profile import`: every profile is checked before any is written.
pub async fn import_profiles(store: &Store, path: &Path) -> Result<String, Failure> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let file: ProfileFile = toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let n = cmp::catalogue::put_profiles(store, &cmp::Actor::cli(), &file.profile, &path.display().to_string()).await?;
    Ok(format!("imported {n} profiles"))
}

fn eir_key(s: &str) -> Result<EirKey, String> {
    let digits =
        |x: &str, n: std::ops::RangeInclusive<usize>| x.bytes().all(|b| b.is_ascii_digit()) && n.contains(&x.len());
    if let Some(tac) = s.strip_prefix("tac:") {
        return if digits(tac, 8..=8) {
            Ok(EirKey::Tac(tac.into()))
        } else {
            Err(format!("TAC {tac:?} must be 8 digits"))
        };
    }
    if let Some(range) = s.strip_prefix("range:") {
        let (a, b) = range.split_once('-').ok_or_else(|| format!("range {range:?} must be FROM-TO"))?;
        if !(digits(a, 14..=14) && digits(b, 14..=14) && a <= b) {
            return Err(format!("range {range:?} must be two 14-digit IMEIs, lowest first"));
        }
        return Ok(EirKey::Range(a.into(), b.into()));
    }
    let imei: ids::Imei = s.parse().map_err(|e: ids::IdError| e.to_string())?;
    Ok(EirKey::Imei(imei.body().into()))
}

fn eir_status(s: &str) -> Result<EirStatus, String> {
    match s.to_ascii_lowercase().as_str() {
        "white" | "whitelisted" | "whitelist" => Ok(EirStatus::White),
        "grey" | "gray" | "greylisted" | "greylist" => Ok(EirStatus::Grey),
        "black" | "blacklisted" | "blacklist" => Ok(EirStatus::Black),
        other => Err(format!("status {other:?} must be white, grey or black")),
    }
}

/// `warden eir import`.
pub async fn import_eir(store: &Store, path: &Path, source: &str) -> Result<String, Failure> {
    let mut reader = csv_reader(path)?;
    let entries = parse_rows(&mut reader, |record| {
        let key = eir_key(record.get(0).ok_or("missing imei column")?)?;
        let status = eir_status(record.get(1).ok_or("missing status column")?)?;
        Ok(EirEntry { key, status, reason: record.get(2).unwrap_or("").to_string(), source: source.to_string() })
    })
    .map_err(|e| e.to_string())?;
    let n = cmp::catalogue::import_eir(store, &cmp::Actor::cli(), &entries, &path.display().to_string())
        .await
        .map_err(|e| Failure::Failed(format!("{e}; nothing was imported")))?;
    Ok(format!("imported {n} EIR entries"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eir_keys() {
        assert_eq!(eir_key("tac:35000000"), Ok(EirKey::Tac("35000000".into())));
        assert!(eir_key("tac:3500").is_err());
        assert_eq!(eir_key("490154203237518"), Ok(EirKey::Imei("49015420323751".into())));
        assert!(eir_key("490154203237517").unwrap_err().contains("Luhn"));
        assert!(eir_key("range:49015420000000-49015420999999").is_ok());
        assert!(eir_key("range:2-1").is_err());
    }
}
