//! Renderings of a report: terminal text, JSON, SARIF 2.1.0 and a self-contained HTML page (inline CSS
//! and one inline SVG bar chart per area; no scripts, no external resources).

use std::fmt::Write as _;

use serde_json::{json, Value};

use crate::catalogue::{Area, Severity, CHECKS};
use crate::report::{Finding, Report};

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Terminal text.
    Text,
    /// JSON.
    Json,
    /// SARIF 2.1.0.
    Sarif,
    /// Self-contained HTML.
    Html,
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "text" => Ok(Self::Text),
            "json" => Ok(Self::Json),
            "sarif" => Ok(Self::Sarif),
            "html" => Ok(Self::Html),
            _ => Err(format!("unknown format {s:?} (allowed: text json sarif html)")),
        }
    }
}

/// Renders `report` in `format`.
pub fn render(report: &Report, format: Format) -> String {
    match format {
        Format::Text => text(report),
        Format::Json => serde_json::to_string_pretty(&json_value(report)).expect("JSON"),
        Format::Sarif => serde_json::to_string_pretty(&sarif(report)).expect("JSON"),
        Format::Html => html(report),
    }
}

fn counts_line(counts: &[usize; 5]) -> String {
    let parts: Vec<String> = Severity::ALL
        .iter()
        .rev()
        .filter(|s| counts[**s as usize] > 0)
        .map(|s| format!("{} {}", counts[*s as usize], s))
        .collect();
    if parts.is_empty() {
        "no findings".into()
    } else {
        parts.join(", ")
    }
}

fn total_counts(report: &Report) -> [usize; 5] {
    let mut c = [0usize; 5];
    for f in &report.findings {
        c[f.check.severity as usize] += 1;
    }
    c
}

fn where_(f: &Finding) -> String {
    let mut s = String::new();
    if let Some(file) = &f.location.file {
        s.push_str(file);
        if let Some(l) = f.location.line {
            let _ = write!(s, ":{l}");
        }
        s.push(' ');
    }
    s.push_str(&f.location.path);
    s
}

/// The terminal report: summary, a score per area, findings worst first.
pub fn text(report: &Report) -> String {
    let mut out = String::new();
    let title = report.operator.as_deref().map(|o| format!(" — {o}")).unwrap_or_default();
    let _ = writeln!(out, "Warden network security audit (GSMA CLP.14){title}");
    for (kind, file) in &report.inputs {
        let _ = writeln!(out, "  input: {kind} {file}");
    }
    let worst = report.worst().map_or("none".to_string(), |w| w.to_string());
    let _ = writeln!(
        out,
        "\nOverall score {}/100 · worst finding: {worst} · {} finding(s): {}\n",
        report.overall_score(),
        report.findings.len(),
        counts_line(&total_counts(report))
    );
    let _ = writeln!(out, "Score per area");
    for a in report.scores() {
        if !a.examined {
            let _ = writeln!(out, "  {:<38} not examined (add --store)", a.area.title());
            continue;
        }
        let filled = (a.score as usize).div_ceil(10);
        let bar = format!("{}{}", "#".repeat(filled), ".".repeat(10 - filled));
        let _ = writeln!(out, "  {:<38} {:>3}/100 [{bar}] {}", a.area.title(), a.score, counts_line(&a.counts));
    }
    let _ = writeln!(out, "\nFindings (worst first)");
    if report.findings.is_empty() {
        let _ = writeln!(out, "  none");
    }
    for f in report.sorted() {
        let c = f.check;
        let _ = writeln!(
            out,
            "\n[{}] {}  {}  ({}, {})",
            c.severity.as_str().to_uppercase(),
            c.id,
            c.title,
            c.requirement,
            c.clause()
        );
        let _ = writeln!(out, "    where: {} ({})", where_(f), f.source);
        let _ = writeln!(out, "    found: {}", f.detail);
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

fn severity_counts(counts: &[usize; 5]) -> Value {
    let mut m = serde_json::Map::new();
    for s in Severity::ALL.iter().rev() {
        m.insert(s.as_str().into(), json!(counts[*s as usize]));
    }
    Value::Object(m)
}

/// The JSON document (see docs/audit.md for its fields).
pub fn json_value(report: &Report) -> Value {
    json!({
        "tool": "warden-audit",
        "tool_version": env!("CARGO_PKG_VERSION"),
        "description_format": crate::model::FORMAT_VERSION,
        "operator": report.operator,
        "inputs": report.inputs.iter().map(|(k, f)| json!({"kind": k, "file": f})).collect::<Vec<_>>(),
        "summary": {
            "overall_score": report.overall_score(),
            "worst": report.worst(),
            "findings": report.findings.len(),
            "counts": severity_counts(&total_counts(report)),
        },
        "areas": report.scores().iter().map(|a| json!({
            "area": a.area.key(), "title": a.area.title(), "score": a.score, "counts": severity_counts(&a.counts),
            "examined": a.examined,
        })).collect::<Vec<_>>(),
        "findings": report.sorted().iter().map(|f| json!({
            "id": f.check.id,
            "severity": f.check.severity,
            "requirement": f.check.requirement,
            "clause": f.check.clause(),
            "area": f.check.area.key(),
            "title": f.check.title,
            "detail": f.detail,
            "risk": f.check.risk,
            "remediation": f.check.remediation,
            "source": f.source,
            "location": f.location,
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

/// The SARIF 2.1.0 log: every catalogue check as a rule, every finding as a result.
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
    json!({
        "$schema": "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "warden-audit",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules,
            }},
            "results": results,
            "properties": {"overallScore": report.overall_score(), "notes": report.notes},
        }],
    })
}

/// Escapes text for HTML element content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const COLOURS: [&str; 5] = ["#6c757d", "#2f7fc1", "#d9a300", "#e06c00", "#c0262d"];

fn chart(area: Area, score: u32, counts: &[usize; 5]) -> String {
    let max = counts.iter().copied().max().unwrap_or(0).max(1);
    let (w, h, top, base) = (260, 150, 28, 120);
    let mut svg = format!(
        "<svg class=\"chart\" role=\"img\" aria-label=\"{} findings by severity\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\">",
        escape(area.title())
    );
    let _ = write!(svg, "<text x=\"4\" y=\"16\" class=\"score\">score {score}/100</text>");
    let _ = write!(svg, "<line x1=\"0\" y1=\"{base}\" x2=\"{w}\" y2=\"{base}\" stroke=\"#999\"/>");
    for (i, sev) in Severity::ALL.iter().rev().enumerate() {
        let n = counts[*sev as usize];
        let bar = (n * (base - top)) / max;
        let x = 10 + i * 50;
        let _ = write!(
            svg,
            "<rect x=\"{x}\" y=\"{}\" width=\"36\" height=\"{bar}\" fill=\"{}\"><title>{n} {}</title></rect>",
            base - bar,
            COLOURS[*sev as usize],
            sev.as_str()
        );
        let _ = write!(svg, "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{n}</text>", x + 18, base - bar - 3);
        let _ = write!(
            svg,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" class=\"axis\">{}</text>",
            x + 18,
            base + 16,
            sev.as_str()
        );
    }
    svg.push_str("</svg>");
    svg
}

/// The self-contained HTML report.
pub fn html(report: &Report) -> String {
    let mut out = String::new();
    let title = match &report.operator {
        Some(o) => format!("Network security audit — {}", escape(o)),
        None => "Network security audit".to_string(),
    };
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title><style>\n\
         body{{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:1100px}}\n\
         .areas{{display:flex;flex-wrap:wrap;gap:1em}} .area{{border:1px solid #ddd;border-radius:6px;padding:.6em}}\n\
         .area h3{{margin:.2em 0;font-size:1em}} .chart text{{font-size:11px}} .chart .score{{font-weight:bold;font-size:13px}}\n\
         .chart .axis{{fill:#555}} table{{border-collapse:collapse;width:100%}} td,th{{border-bottom:1px solid #eee;padding:.4em;text-align:left;vertical-align:top}}\n\
         .sev{{font-weight:bold;color:#fff;border-radius:3px;padding:0 .4em}} .critical{{background:{}}} .high{{background:{}}}\n\
         .medium{{background:{}}} .low{{background:{}}} .info{{background:{}}} code{{background:#f4f4f4}}\n\
         </style></head><body>\n<h1>{title}</h1>\n",
        COLOURS[4], COLOURS[3], COLOURS[2], COLOURS[1], COLOURS[0]
    );
    let worst = report.worst().map_or("none".to_string(), |w| w.to_string());
    let _ = write!(
        out,
        "<p>GSMA CLP.14 checks by Warden. Overall score <strong>{}/100</strong>; worst finding: <strong>{worst}</strong>; {} finding(s): {}.</p>\n<ul>",
        report.overall_score(),
        report.findings.len(),
        counts_line(&total_counts(report))
    );
    for (kind, file) in &report.inputs {
        let _ = write!(out, "<li>{}: <code>{}</code></li>", escape(kind), escape(file));
    }
    out.push_str("</ul>\n<h2>Score per area</h2>\n<div class=\"areas\">\n");
    for a in report.scores() {
        let _ = writeln!(
            out,
            "<div class=\"area\" id=\"area-{}\"><h3>{}{}</h3>{}</div>",
            a.area.key(),
            escape(a.area.title()),
            if a.examined { "" } else { " (not examined)" },
            chart(a.area, a.score, &a.counts)
        );
    }
    out.push_str("</div>\n<h2>Findings</h2>\n");
    if report.findings.is_empty() {
        out.push_str("<p>None.</p>\n");
    } else {
        out.push_str(
            "<table><thead><tr><th>Severity</th><th>Check</th><th>Finding</th><th>Where</th><th>Risk and remediation</th></tr></thead><tbody>\n",
        );
        for f in report.sorted() {
            let c = f.check;
            let _ = writeln!(
                out,
                "<tr><td><span class=\"sev {s}\">{s}</span></td><td><code>{}</code><br>{} · {}</td><td><strong>{}</strong><br>{}</td>\
                 <td><code>{}</code><br>{}</td><td>{}<br><em>Fix:</em> {}</td></tr>",
                c.id,
                c.requirement,
                escape(c.clause()),
                escape(c.title),
                escape(&f.detail),
                escape(&where_(f)),
                escape(&f.source),
                escape(c.risk),
                escape(c.remediation),
                s = c.severity.as_str(),
            );
        }
        out.push_str("</tbody></table>\n");
    }
    if !report.notes.is_empty() {
        out.push_str("<h2>Notes</h2><ul>");
        for n in &report.notes {
            let _ = write!(out, "<li>{}</li>", escape(n));
        }
        out.push_str("</ul>\n");
    }
    out.push_str("</body></html>\n");
    out
}
