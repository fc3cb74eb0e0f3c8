//! The terminal report: provenance (date, version, input hashes), summary, top actions, a score per
//! area, deduplicated findings worst first with every location, then notes.

use std::fmt::Write as _;

use super::{cap_note, counts_line, total_counts, utc_timestamp, where_, TOP_ACTIONS};
use crate::report::Report;

/// The terminal report.
pub fn text(report: &Report) -> String {
    let mut out = String::new();
    let title = report.operator.as_deref().map(|o| format!(" — {o}")).unwrap_or_default();
    let _ = writeln!(out, "Warden network security audit (GSMA CLP.14){title}");
    let _ = writeln!(out, "  generated {} by Warden {}", utc_timestamp(report.generated_unix), report.warden_version);
    for (kind, file) in &report.inputs {
        match report.input_hash(file) {
            Some(h) => {
                let _ = writeln!(out, "  input: {kind} {file} (sha256 {}, {} bytes)", h.sha256, h.bytes);
            }
            None => {
                let _ = writeln!(out, "  input: {kind} {file}");
            }
        }
    }
    let groups = report.groups();
    let worst = report.worst().map_or("none".to_string(), |w| w.to_string());
    let cap = cap_note(report).map(|c| format!(" ({c})")).unwrap_or_default();
    let _ = writeln!(
        out,
        "\nOverall score {}/100{cap} · worst finding: {worst} · {} finding(s): {}\n",
        report.overall_score(),
        groups.len(),
        counts_line(&total_counts(report))
    );
    let actions = report.top_actions(TOP_ACTIONS);
    if !actions.is_empty() {
        let _ = writeln!(out, "Top actions");
        for (i, a) in actions.iter().enumerate() {
            let _ = writeln!(
                out,
                "  {}. [{}] {} ({}; {} finding(s) at {} location(s))",
                i + 1,
                a.severity.as_str().to_uppercase(),
                a.remediation,
                a.checks.join(", "),
                a.findings,
                a.locations
            );
        }
        out.push('\n');
    }
    let _ = writeln!(out, "Score per area");
    for a in report.scores() {
        if !a.examined {
            let _ = writeln!(out, "  {:<38} not examined (no input covers it)", a.area.title());
            continue;
        }
        let filled = (a.score as usize).div_ceil(10);
        let bar = format!("{}{}", "#".repeat(filled), ".".repeat(10 - filled));
        let _ = writeln!(out, "  {:<38} {:>3}/100 [{bar}] {}", a.area.title(), a.score, counts_line(&a.counts));
    }
    let _ = writeln!(out, "\nFindings (worst first)");
    if groups.is_empty() {
        let _ = writeln!(out, "  none");
    }
    for g in &groups {
        let c = g.check;
        let _ = writeln!(
            out,
            "\n[{}] {}  {}  ({}, {})",
            c.severity.as_str().to_uppercase(),
            c.id,
            c.title,
            c.requirement,
            c.clause()
        );
        for f in &g.sites {
            let _ = writeln!(out, "    where: {} ({})", where_(&f.location), f.source);
        }
        let _ = writeln!(out, "    found: {}", g.detail);
        let _ = writeln!(out, "    risk:  {}", c.risk);
        let _ = writeln!(out, "    fix:   {}", c.remediation);
    }
    if !report.notes.is_empty() {
        let _ = writeln!(out, "\nNotes");
        for n in &report.notes {
            let _ = writeln!(out, "  - {n}");
        }
    }
    out
}
