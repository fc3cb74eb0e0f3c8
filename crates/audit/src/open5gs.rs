//! Open5GS YAML configurations: one network function's file (`mme.yaml`, `amf.yaml`, …) or a combined
//! file such as upstream's `configs/sample.yaml` with `mme:`, `amf:`, `smf:` … sections in one document.
//! Every finding carries the line of its own key ([`crate::yaml_lines`]).
//!
//! - `mme.security.{integrity,ciphering}_order` (EIA/EEA) and `amf.security.…` (NIA/NEA), in preference
//!   order; a single name (`ciphering_order: EEA2`) is accepted as Open5GS accepts it.
//! - The SBI of every network function: each `<nf>.sbi.server[i]` (before Open5GS 2.7: `<nf>.sbi[i]`,
//!   with `addr`) is HTTP unless it has
//!   `scheme: https` or `<nf>.default.tls.server.scheme: https` applies (Open5GS `lib/sbi/context.c`:
//!   the per-server scheme, else the default, else http) → `WA-NET-041`.
//! - Diameter peers configured inline (`<nf>.freeDiameter.connect[i]`): Open5GS adds them with
//!   `PI_SEC_NONE` (`lib/diameter/common/config.c`), i.e. without TLS → `WA-NET-040`. A `freeDiameter:`
//!   that names a `.conf` file gets a note: audit that file with `--freediameter`.

use std::path::Path;

use serde_norway::Value;

use crate::checks::{self, Hit};
use crate::model::{Eea, Eia, Nea, Nia};
use crate::report::{Location, Report};
use crate::yaml_lines::line_of;
use crate::AuditError;

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

/// A parsed Open5GS file with its text (for lines).
struct Doc<'a> {
    path: &'a Path,
    file: String,
    text: String,
    value: Value,
}

impl<'a> Doc<'a> {
    fn read(path: &'a Path) -> Result<Self, AuditError> {
        let text = std::fs::read_to_string(path).map_err(|e| AuditError::Io(path.display().to_string(), e))?;
        let value: Value = serde_norway::from_str(&text).map_err(|e| import_error(path, e.to_string()))?;
        Ok(Doc { path, file: path.display().to_string(), text, value })
    }

    fn raise(&self, report: &mut Report, source: &str, at: &[&str], hits: Vec<Hit>) {
        for (id, detail) in hits {
            let location =
                Location { file: Some(self.file.clone()), line: line_of(&self.text, at), path: at.join(".") };
            report.raise(id, source, location, detail);
        }
    }
}

/// Reads the MME or AMF section of an Open5GS configuration (its own file or a combined one): radio
/// security orders, and the SBI and inline Diameter peers of that network function.
pub fn open5gs(path: &Path, kind: Open5gs, report: &mut Report) -> Result<(), AuditError> {
    let doc = Doc::read(path)?;
    let (root, source) = match kind {
        Open5gs::Mme => ("mme", "open5gs-mme"),
        Open5gs::Amf => ("amf", "open5gs-amf"),
    };
    report.input(source, &doc.file);
    let nf = doc.value.get(root).ok_or_else(|| {
        import_error(path, format!("no top-level `{root}:` section (is this an Open5GS {root}.yaml?)"))
    })?;
    if nf.get("security").is_none() {
        return Err(import_error(path, format!("no `{root}.security` section with integrity_order/ciphering_order")));
    }
    security(&doc, root, source, report)?;
    sbi(&doc, root, source, report);
    diameter(&doc, root, source, report);
    Ok(())
}

/// Reads every network function section of an Open5GS configuration (one NF's file or a combined
/// file): the MME/AMF security orders where present, and the SBI and inline Diameter peers of each.
pub fn open5gs_any(path: &Path, report: &mut Report) -> Result<(), AuditError> {
    let doc = Doc::read(path)?;
    let source = "open5gs";
    report.input(source, &doc.file);
    let Some(map) = doc.value.as_mapping() else {
        return Err(import_error(path, "not an Open5GS configuration (expected a YAML mapping at the top)"));
    };
    let roots: Vec<String> = map
        .iter()
        .filter(|(_, v)| v.get("sbi").is_some() || v.get("freeDiameter").is_some() || v.get("security").is_some())
        .filter_map(|(k, _)| k.as_str().map(str::to_string))
        .collect();
    if roots.is_empty() {
        return Err(import_error(
            path,
            "no network function section (`mme:`, `amf:`, `smf:` … with `sbi`, `freeDiameter` or `security`)",
        ));
    }
    for root in &roots {
        if matches!(root.as_str(), "mme" | "amf") {
            if doc.value[root.as_str()].get("security").is_some() {
                security(&doc, root, source, report)?;
            } else {
                report.note(format!(
                    "{}: no `{root}.security` section: Open5GS's built-in orders apply and were not audited",
                    doc.file
                ));
            }
        }
        sbi(&doc, root, source, report);
        diameter(&doc, root, source, report);
    }
    Ok(())
}

/// Algorithm names: a list, or one name as a scalar.
fn names(doc: &Doc, root: &str, key: &str) -> Result<Vec<String>, AuditError> {
    let at = format!("{root}.security.{key}");
    let v = doc.value[root]["security"].get(key).ok_or_else(|| import_error(doc.path, format!("{at} is missing")))?;
    let one = |v: &Value| -> Result<String, AuditError> {
        v.as_str().map(str::to_string).ok_or_else(|| import_error(doc.path, format!("{at}: {v:?} is not a name")))
    };
    match v {
        Value::Sequence(seq) if !seq.is_empty() => seq.iter().map(one).collect(),
        Value::Sequence(_) => Err(import_error(doc.path, format!("{at} is an empty list"))),
        Value::String(_) => Ok(vec![one(v)?]),
        other => {
            Err(import_error(doc.path, format!("{at}: {other:?} is neither an algorithm name nor a list of them")))
        }
    }
}

fn parse<T: std::str::FromStr<Err = String>>(doc: &Doc, v: &[String], at: &str) -> Result<Vec<T>, AuditError> {
    v.iter().map(|s| s.parse::<T>().map_err(|e| import_error(doc.path, format!("{at}: {e}")))).collect()
}

fn security(doc: &Doc, root: &str, source: &str, report: &mut Report) -> Result<(), AuditError> {
    let (ci, ii) = ("ciphering_order", "integrity_order");
    let (cat, iat) = (format!("{root}.security.{ci}"), format!("{root}.security.{ii}"));
    let (c_hits, i_hits) = if root == "mme" {
        (
            checks::eps_ciphering(&parse::<Eea>(doc, &names(doc, root, ci)?, &cat)?),
            checks::eps_integrity(&parse::<Eia>(doc, &names(doc, root, ii)?, &iat)?),
        )
    } else {
        (
            checks::nr_ciphering(&parse::<Nea>(doc, &names(doc, root, ci)?, &cat)?),
            checks::nr_integrity(&parse::<Nia>(doc, &names(doc, root, ii)?, &iat)?),
        )
    };
    doc.raise(report, source, &[root, "security", ci], c_hits);
    doc.raise(report, source, &[root, "security", ii], i_hits);
    Ok(())
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Plain-HTTP SBI servers of one network function.
fn sbi(doc: &Doc, root: &str, source: &str, report: &mut Report) {
    let nf = &doc.value[root];
    // Open5GS 2.7+: `sbi.server[]`; before: `sbi[]` itself (items with `addr`), HTTP only.
    let (servers, list) = match nf.get("sbi") {
        Some(Value::Sequence(old)) => (old, "sbi"),
        Some(s) => match s.get("server").and_then(Value::as_sequence) {
            Some(v) => (v, "server"),
            None => return,
        },
        None => return,
    };
    let default = nf["default"]["tls"]["server"]["scheme"].as_str().map(str::to_ascii_lowercase);
    for (i, server) in servers.iter().enumerate() {
        let own = server.get("scheme").and_then(Value::as_str).map(str::to_ascii_lowercase);
        let scheme = own.clone().or(default.clone()).unwrap_or_else(|| "http".to_string());
        if scheme == "https" {
            continue;
        }
        let host =
            ["address", "addr", "dev", "name"].iter().find_map(|k| server.get(*k).and_then(scalar)).unwrap_or_default();
        let port = server.get("port").and_then(scalar).map(|p| format!(":{p}")).unwrap_or_default();
        let why = match (own, default.clone()) {
            (Some(s), _) => format!("`scheme: {s}`"),
            (None, Some(d)) => format!("{root}.default.tls.server.scheme is {d}"),
            (None, None) => format!("no `scheme: https` on the server or in {root}.default.tls.server"),
        };
        let item = format!("{list}[{i}]");
        let at: Vec<&str> = if list == "sbi" { vec![root, &item] } else { vec![root, "sbi", &item] };
        doc.raise(
            report,
            source,
            &at,
            vec![("WA-NET-041", format!("{root} SBI server {host}{port} is served over plain HTTP ({why})"))],
        );
    }
}

/// Diameter peers configured in the YAML (always without TLS), or a note for a `.conf` reference.
fn diameter(doc: &Doc, root: &str, source: &str, report: &mut Report) {
    match doc.value[root].get("freeDiameter") {
        Some(Value::String(conf)) => report.note(format!(
            "{}: {root}.freeDiameter is {conf}: its Diameter peers are configured there (audit it with --freediameter)",
            doc.file
        )),
        Some(fd) => {
            let Some(peers) = fd.get("connect").and_then(Value::as_sequence) else { return };
            for (i, peer) in peers.iter().enumerate() {
                let id = peer.get("identity").and_then(scalar).unwrap_or_default();
                let addr = peer.get("address").and_then(scalar).unwrap_or_default();
                let item = format!("connect[{i}]");
                doc.raise(
                    report,
                    source,
                    &[root, "freeDiameter", &item],
                    vec![(
                        "WA-NET-040",
                        format!(
                            "{root} connects to Diameter peer {id} at {addr} without TLS (Open5GS sets no TLS on \
                             peers configured in its YAML)"
                        ),
                    )],
                );
            }
        }
        None => {}
    }
}
