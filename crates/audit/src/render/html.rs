//! The self-contained HTML report: provenance (date, Warden version, SHA-256 of every input), summary,
//! top actions, one chart per area, then the deduplicated findings grouped by area and by source. All
//! text is escaped; inline CSS only, no scripts and no external resources.

use std::fmt::Write as _;

use super::charts::{chart, COLOURS};
use super::{cap_note, counts_line, total_counts, utc_timestamp, where_, TOP_ACTIONS};
use crate::catalogue::Area;
use crate::report::{Group, Report};

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

fn head(out: &mut String, title: &str) {
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title><style>\n\
         body{{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:1100px}}\n\
         .areas{{display:flex;flex-wrap:wrap;gap:1em}} .area{{border:1px solid #ddd;border-radius:6px;padding:.6em}}\n\
         .area h3{{margin:.2em 0;font-size:1em}} .area.unexamined{{background:#f6f6f6}}\n\
         table{{border-collapse:collapse;width:100%}} td,th{{border-bottom:1px solid #eee;padding:.4em;text-align:left;vertical-align:top}}\n\
         .sev{{font-weight:bold;color:#fff;border-radius:3px;padding:0 .4em}} .critical{{background:{}}} .high{{background:{}}}\n\
         .medium{{background:{}}} .low{{background:{}}} .info{{background:{}}} code{{background:#f4f4f4;overflow-wrap:anywhere}}\n\
         .meta{{color:#555}} td ul{{margin:0;padding-left:1.1em}} h4{{margin:1em 0 .3em}}\n\
         </style></head><body>\n<h1>{title}</h1>\n",
        COLOURS[4], COLOURS[3], COLOURS[2], COLOURS[1], COLOURS[0]
    );
}

fn provenance(out: &mut String, report: &Report) {
    let _ = writeln!(
        out,
        "<p class=\"meta\">Generated <time>{}</time> by Warden {} (description format {}).</p>",
        utc_timestamp(report.generated_unix),
        escape(&report.warden_version),
        crate::model::FORMAT_VERSION
    );
    out.push_str("<table class=\"inputs\"><thead><tr><th>Input</th><th>File</th><th>SHA-256</th><th>Bytes</th></tr></thead><tbody>\n");
    for (kind, file) in &report.inputs {
        let (hash, bytes) = match report.input_hash(file) {
            Some(h) => (format!("<code>{}</code>", h.sha256), h.bytes.to_string()),
            None => ("not a file".to_string(), String::new()),
        };
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td><code>{}</code></td><td>{hash}</td><td>{bytes}</td></tr>",
            escape(kind),
            escape(file)
        );
    }
    out.push_str("</tbody></table>\n");
}

fn summary(out: &mut String, report: &Report, findings: usize) {
    let worst = report.worst().map_or("none".to_string(), |w| w.to_string());
    let cap = cap_note(report).map(|c| format!(" ({})", escape(&c))).unwrap_or_default();
    let _ = writeln!(
        out,
        "<p>GSMA CLP.14 checks by Warden. Overall score <strong>{}/100</strong>{cap}; worst finding: <strong>{worst}</strong>; {findings} finding(s): {}.</p>",
        report.overall_score(),
        counts_line(&total_counts(report))
    );
}

fn top_actions(out: &mut String, report: &Report) {
    out.push_str("<h2 id=\"top-actions\">Top actions</h2>\n");
    let actions = report.top_actions(TOP_ACTIONS);
    if actions.is_empty() {
        out.push_str("<p>Nothing to do.</p>\n");
        return;
    }
    out.push_str("<ol class=\"actions\">\n");
    for a in actions {
        let _ = writeln!(
            out,
            "<li><span class=\"sev {s}\">{s}</span> {} <span class=\"meta\">({}; {} finding(s) at {} location(s))</span></li>",
            escape(a.remediation),
            escape(&a.checks.join(", ")),
            a.findings,
            a.locations,
            s = a.severity.as_str(),
        );
    }
    out.push_str("</ol>\n");
}

fn charts(out: &mut String, report: &Report) {
    out.push_str("<h2>Score per area</h2>\n<div class=\"areas\">\n");
    let scores = report.scores();
    // One scale for every card: the largest count of any examined area.
    let scale_max =
        scores.iter().filter(|a| a.examined).flat_map(|a| a.counts.iter().copied()).max().unwrap_or(0).max(1);
    for a in &scores {
        let _ = writeln!(
            out,
            "<div class=\"area{}\" id=\"area-{}\"><h3>{}</h3>{}</div>",
            if a.examined { "" } else { " unexamined" },
            a.area.key(),
            escape(a.area.title()),
            chart(a, scale_max)
        );
    }
    out.push_str("</div>\n");
}

fn finding_row(out: &mut String, g: &Group<'_>) {
    let c = g.check;
    let mut places = String::from("<ul>");
    for f in &g.sites {
        let _ = write!(places, "<li><code>{}</code> ({})</li>", escape(&where_(&f.location)), escape(&f.source));
    }
    places.push_str("</ul>");
    let _ = writeln!(
        out,
        "<tr><td><span class=\"sev {s}\">{s}</span></td><td><code>{}</code><br>{} · {}</td><td><strong>{}</strong><br>{}</td>\
         <td>{places}</td><td>{}<br><em>Fix:</em> {}</td></tr>",
        c.id,
        c.requirement,
        escape(c.clause()),
        escape(c.title),
        escape(g.detail),
        escape(c.risk),
        escape(c.remediation),
        s = c.severity.as_str(),
    );
}

fn findings(out: &mut String, report: &Report, groups: &[Group<'_>]) {
    out.push_str("<h2>Findings</h2>\n");
    if groups.is_empty() {
        out.push_str("<p>None.</p>\n");
        return;
    }
    let scores = report.scores();
    for area in Area::ALL {
        let in_area: Vec<&Group<'_>> = groups.iter().filter(|g| g.check.area == area).collect();
        if in_area.is_empty() {
            continue;
        }
        let score = scores.iter().find(|a| a.area == area).map_or(0, |a| a.score);
        let _ = writeln!(
            out,
            "<section id=\"findings-{}\"><h3>{} — score {score}/100, {} finding(s)</h3>",
            area.key(),
            escape(area.title()),
            in_area.len()
        );
        // Sources in the order of their worst finding (groups are sorted worst first).
        let mut sources: Vec<String> = Vec::new();
        for g in &in_area {
            let label = g.source_label();
            if !sources.contains(&label) {
                sources.push(label);
            }
        }
        for source in sources {
            let _ = writeln!(
                out,
                "<h4>Source: {}</h4>\n<table><thead><tr><th>Severity</th><th>Check</th><th>Finding</th><th>Where</th><th>Risk and remediation</th></tr></thead><tbody>",
                escape(&source)
            );
            for g in in_area.iter().filter(|g| g.source_label() == source) {
                finding_row(out, g);
            }
            out.push_str("</tbody></table>\n");
        }
        out.push_str("</section>\n");
    }
}

/// The self-contained HTML report.
pub fn html(report: &Report) -> String {
    let mut out = String::new();
    let title = match &report.operator {
        Some(o) => format!("Network security audit — {}", escape(o)),
        None => "Network security audit".to_string(),
    };
    head(&mut out, &title);
    let groups = report.groups();
    provenance(&mut out, report);
    summary(&mut out, report, groups.len());
    top_actions(&mut out, report);
    charts(&mut out, report);
    findings(&mut out, report, &groups);
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
