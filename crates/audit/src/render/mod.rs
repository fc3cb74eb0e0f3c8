//! Renderings of a report: terminal text, JSON, SARIF 2.1.0 and a self-contained HTML page (inline CSS
//! and one inline SVG bar chart per area; no scripts, no external resources).
//!
//! Text, JSON and HTML show deduplicated findings ([`Report::groups`]: one finding per check and
//! detail, with all its locations); SARIF keeps one result per location so that every line is annotated.

mod charts;
mod html;
mod machine;
mod text;

use std::fmt::Write as _;

pub use charts::chart;
pub use html::{escape, html};
pub use machine::{json_value, sarif};
pub use text::text;

use crate::catalogue::Severity;
use crate::report::{Location, Report};

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

/// How many actions the reports put first.
pub const TOP_ACTIONS: usize = 5;

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

/// Deduplicated findings per severity, info first.
fn total_counts(report: &Report) -> [usize; 5] {
    let mut c = [0usize; 5];
    for g in report.groups() {
        c[g.check.severity as usize] += 1;
    }
    c
}

/// `file:line path`.
fn where_(l: &Location) -> String {
    let mut s = String::new();
    if let Some(file) = &l.file {
        s.push_str(file);
        if let Some(line) = l.line {
            let _ = write!(s, ":{line}");
        }
        s.push(' ');
    }
    s.push_str(&l.path);
    s
}

/// `YYYY-MM-DDTHH:MM:SSZ` for seconds since the Unix epoch (UTC; crate `utc`), `@secs` past 9999.
pub fn utc_timestamp(secs: u64) -> String {
    i64::try_from(secs).ok().and_then(utc::rfc3339).unwrap_or_else(|| format!("@{secs}"))
}

/// Why the overall score is lower than the mean of the areas, if it is.
fn cap_note(report: &Report) -> Option<String> {
    let cap = crate::report::score_cap(report.worst());
    (cap < 100).then(|| format!("capped at {cap} while a {} finding stands", report.worst().map_or("", |w| w.as_str())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_utc_calendar_dates() {
        assert_eq!(utc_timestamp(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc_timestamp(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(utc_timestamp(1_796_186_096), "2026-12-02T04:34:56Z");
        assert_eq!(utc_timestamp(4_107_542_399), "2100-02-28T23:59:59Z");
        assert_eq!(utc_timestamp(u64::MAX), format!("@{}", u64::MAX));
    }
}
