//! The machine-readable renderings: JSON (deduplicated findings with all their locations) and SARIF
//! 2.1.0 (one result per location, the inputs as artifacts with their SHA-256).

use std::fmt::Write as _;

use serde_json::{json, Value};

use super::{total_counts, utc_timestamp, TOP_ACTIONS};
use crate::catalogue::{Severity, CHECKS};
use crate::report::{score_cap, Report};

fn severity_counts(counts: &[usize; 5]) -> Value {
    let mut m = serde_json::Map::new();
    for s in Severity::ALL.iter().rev() {
        m.insert(s.as_str().into(), json!(counts[*s as usize]));
    }
    Value::Object(m)
}

fn inputs(report: &Report) -> Vec<Value> {
    report
        .inputs
        .iter()
        .map(|(k, f)| {
            let mut v = json!({"kind": k, "file": f});
            if let Some(h) = report.input_hash(f) {
                v["sha256"] = json!(h.sha256);
                v["bytes"] = json!(h.bytes);
            }
            v
        })
        .collect()
}

/// The JSON document (see docs/audit.md for its fields).
pub fn json_value(report: &Report) -> Value {
    let groups = report.groups();
    json!({
        "tool": "warden-audit",
        "tool_version": env!("CARGO_PKG_VERSION"),
        "warden_version": report.warden_version,
        "generated": utc_timestamp(report.generated_unix),
        "description_format": crate::model::FORMAT_VERSION,
        "operator": report.operator,
        "inputs": inputs(report),
        "summary": {
            "overall_score": report.overall_score(),
            "score_cap": score_cap(report.worst()),
            "worst": report.worst(),
            "findings": groups.len(),
            "locations": report.findings.len(),
            "counts": severity_counts(&total_counts(report)),
        },
        "top_actions": report.top_actions(TOP_ACTIONS),
        "areas": report.scores().iter().map(|a| json!({
            "area": a.area.key(), "title": a.area.title(),
            "score": if a.examined { json!(a.score) } else { Value::Null },
            "counts": severity_counts(&a.counts),
            "examined": a.examined,
        })).collect::<Vec<_>>(),
        "findings": groups.iter().map(|g| json!({
            "id": g.check.id,
            "severity": g.check.severity,
            "requirement": g.check.requirement,
            "clause": g.check.clause(),
            "area": g.check.area.key(),
            "title": g.check.title,
            "detail": g.detail,
            "risk": g.check.risk,
            "remediation": g.check.remediation,
            "source": g.sites[0].source,
            "sources": g.sources(),
            "location": g.sites[0].location,
            "locations": g.sites.iter().map(|f| {
                let mut l = serde_json::to_value(&f.location).expect("JSON");
                l["source"] = json!(f.source);
                l
            }).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "notes": report.notes,
    })
}

fn security_severity(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "9.5",
        Severity::High => "8.0",
        Severity::Medium => "5.5",
        Severity::Low => "3.0",
        Severity::Info => "0.0",
    }
}

/// Percent-encodes what a relative URI reference cannot hold as is.
fn uri(path: &str) -> String {
    let mut out = String::new();
    for b in path.replace('\\', "/").bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/:@!$&'()*+,;=".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// The SARIF 2.1.0 log: every catalogue check as a rule, every finding as a result at its location
/// (a finding raised at several places gives one result per place, so each is annotated), the hashed
/// inputs as artifacts.
pub fn sarif(report: &Report) -> Value {
    let rules: Vec<Value> = CHECKS
        .iter()
        .map(|c| {
            json!({
                "id": c.id,
                "name": c.id.replace('-', ""),
                "shortDescription": {"text": c.title},
                "fullDescription": {"text": format!("{} ({}, {})", c.risk, c.requirement, c.clause())},
                "help": {
                    "text": format!("{}\nRisk: {}\nRemediation: {}", c.title, c.risk, c.remediation),
                    "markdown": format!("**{}** ({}, {})\n\n*Risk:* {}\n\n*Remediation:* {}", c.title, c.requirement, c.clause(), c.risk, c.remediation),
                },
                "defaultConfiguration": {"level": c.severity.sarif_level()},
                "properties": {
                    "requirement": c.requirement,
                    "clause": c.clause(),
                    "severity": c.severity,
                    "area": c.area.key(),
                    "security-severity": security_severity(c.severity),
                    "tags": ["security", "clp14", c.requirement],
                },
            })
        })
        .collect();
    let results: Vec<Value> = report
        .sorted()
        .iter()
        .map(|f| {
            let index = CHECKS.iter().position(|c| c.id == f.check.id).expect("catalogue");
            let mut location = json!({
                "logicalLocations": [{"fullyQualifiedName": f.location.path, "kind": "member"}],
            });
            if let Some(file) = &f.location.file {
                let mut physical = json!({"artifactLocation": {"uri": uri(file)}});
                if let Some(line) = f.location.line {
                    physical["region"] = json!({"startLine": line});
                }
                location["physicalLocation"] = physical;
            }
            json!({
                "ruleId": f.check.id,
                "ruleIndex": index,
                "level": f.check.severity.sarif_level(),
                "message": {"text": format!("{}: {}", f.check.title, f.detail)},
                "locations": [location],
                "properties": {"severity": f.check.severity, "source": f.source, "requirement": f.check.requirement},
            })
        })
        .collect();
    let artifacts: Vec<Value> = report
        .input_hashes
        .iter()
        .map(|h| json!({"location": {"uri": uri(&h.file)}, "length": h.bytes, "hashes": {"sha-256": h.sha256}}))
        .collect();
    json!({
        "$schema": "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "warden-audit",
                "version": report.warden_version,
                "rules": rules,
            }},
            "artifacts": artifacts,
            "results": results,
            "properties": {
                "overallScore": report.overall_score(),
                "generated": utc_timestamp(report.generated_unix),
                "notes": report.notes,
            },
        }],
    })
}
