//! Findings and the report that collects them: where each finding came from, scores per area, the worst
//! severity, and the exit status the audit gates with.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::catalogue::{self, Area, Check, Severity};

/// Where a finding points.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Location {
    /// The file (description, core configuration, database) as given; `None` for live evidence.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// 1-based line, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    /// Logical path inside it (`radio.lte.ciphering`, `mme.security.ciphering_order`, `IMSI 001010000000001`).
    pub path: String,
}

/// One failed check.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// The check.
    #[serde(serialize_with = "check_id")]
    pub check: &'static Check,
    /// What produced it: `description`, `open5gs-mme`, `osmo-bsc`, `store`, `tls-probe`, ….
    pub source: String,
    /// Where.
    pub location: Location,
    /// The specific finding (values seen).
    pub detail: String,
}

fn check_id<S: serde::Serializer>(c: &&'static Check, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(c.id)
}

/// Score of one area: 100 minus the penalties of its findings, never below 0.
#[derive(Debug, Clone, Serialize)]
pub struct AreaScore {
    /// The area.
    pub area: Area,
    /// 0..=100.
    pub score: u32,
    /// Findings per severity, info first.
    pub counts: [usize; 5],
    /// False when nothing fed this area (the live store was not opened): its score then says nothing.
    pub examined: bool,
}

/// A collection of findings with the inputs they came from.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    /// The operator's name from the description.
    pub operator: Option<String>,
    /// Inputs audited (kind and file), in order.
    pub inputs: Vec<(String, String)>,
    /// Findings, in the order raised (see [`Report::sorted`]).
    pub findings: Vec<Finding>,
    /// Notes about what could not be audited (e.g. a setting absent from a core's configuration).
    pub notes: Vec<String>,
}

impl Report {
    /// An empty report.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records an input.
    pub fn input(&mut self, kind: &str, file: &str) {
        self.inputs.push((kind.to_string(), file.to_string()));
    }

    /// Adds a note.
    pub fn note(&mut self, text: impl Into<String>) {
        self.notes.push(text.into());
    }

    /// Raises check `id`. Panics on an ID missing from the catalogue (a programming error, caught by tests).
    pub fn raise(&mut self, id: &str, source: &str, location: Location, detail: impl Into<String>) {
        let check = catalogue::check(id).unwrap_or_else(|| panic!("check {id} is not in the catalogue"));
        self.findings.push(Finding { check, source: source.to_string(), location, detail: detail.into() });
    }

    /// Findings sorted by severity (worst first), then ID, then location.
    pub fn sorted(&self) -> Vec<&Finding> {
        let mut v: Vec<&Finding> = self.findings.iter().collect();
        v.sort_by(|a, b| {
            b.check
                .severity
                .cmp(&a.check.severity)
                .then(a.check.id.cmp(b.check.id))
                .then(a.location.path.cmp(&b.location.path))
        });
        v
    }

    /// The distinct check IDs raised.
    pub fn ids(&self) -> BTreeSet<&'static str> {
        self.findings.iter().map(|f| f.check.id).collect()
    }

    /// The worst severity raised.
    pub fn worst(&self) -> Option<Severity> {
        self.findings.iter().map(|f| f.check.severity).max()
    }

    /// Scores for every area.
    pub fn scores(&self) -> Vec<AreaScore> {
        Area::ALL
            .iter()
            .map(|&area| {
                let mut counts = [0usize; 5];
                let mut penalty = 0u32;
                for f in self.findings.iter().filter(|f| f.check.area == area) {
                    counts[f.check.severity as usize] += 1;
                    penalty += f.check.severity.penalty();
                }
                // The live-store area has evidence only when the store was opened (`--store`).
                let examined = area != Area::Subscribers
                    || self.inputs.iter().any(|(k, _)| k == "store")
                    || counts.iter().any(|n| *n > 0);
                AreaScore { area, score: 100u32.saturating_sub(penalty), counts, examined }
            })
            .collect()
    }

    /// The overall score: the mean of the examined areas' scores (areas without findings count as 100).
    pub fn overall_score(&self) -> u32 {
        let s: Vec<AreaScore> = self.scores().into_iter().filter(|a| a.examined).collect();
        (s.iter().map(|a| a.score).sum::<u32>() as f64 / s.len().max(1) as f64).round() as u32
    }

    /// Exit status: 0 when no finding is at or above `fail_on` (`None`: never fail); otherwise the code of
    /// the worst severity (3 info, 4 low, 5 medium, 6 high, 7 critical).
    pub fn exit_code(&self, fail_on: Option<Severity>) -> i32 {
        match (self.worst(), fail_on) {
            (Some(w), Some(t)) if w >= t => w.exit_code(),
            _ => 0,
        }
    }
}

/// Finds the 1-based line of a dotted key path in a TOML text: the line of the key inside its table
/// (`[a.b]` or `[[a.b]]`, the `n`th for array tables when the path has `[n]`), else the table header.
pub fn toml_line(text: &str, path: &str) -> Option<u32> {
    let lines: Vec<&str> = text.lines().collect();
    let header_of = |l: &str| -> Option<String> {
        let t = l.split('#').next().unwrap_or("").trim();
        if let Some(x) = t.strip_prefix("[[").and_then(|x| x.strip_suffix("]]")) {
            return Some(x.trim().to_string());
        }
        t.strip_prefix('[').and_then(|x| x.strip_suffix(']')).map(|x| x.trim().to_string())
    };
    // The line of table `name`, the `index`th when it is an array of tables.
    let table_line = |name: &str| -> Option<usize> {
        let (name, index) = match name.strip_suffix(']').and_then(|n| n.rsplit_once('[')) {
            Some((t, i)) => (t, i.parse::<usize>().ok()),
            None => (name, None),
        };
        lines
            .iter()
            .enumerate()
            .filter(|(_, l)| header_of(l).as_deref() == Some(name))
            .nth(index.unwrap_or(0))
            .map(|x| x.0)
    };
    if let Some(i) = table_line(path) {
        return Some(i as u32 + 1);
    }
    let Some((table, key)) = path.rsplit_once('.') else {
        // A top-level key: before the first table header.
        return lines
            .iter()
            .take_while(|l| header_of(l).is_none())
            .position(|l| l.trim_start().strip_prefix(path).is_some_and(|r| r.trim_start().starts_with('=')))
            .map(|i| i as u32 + 1);
    };
    let start = table_line(table)?;
    for (i, l) in lines.iter().enumerate().skip(start + 1) {
        if header_of(l).is_some() {
            break;
        }
        if l.trim_start().strip_prefix(key).is_some_and(|r| r.trim_start().starts_with('=')) {
            return Some(i as u32 + 1);
        }
    }
    Some(start as u32 + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_store_area_counts_only_when_the_store_was_examined() {
        let mut r = Report::new();
        r.input("description", "n.toml");
        let subs = |r: &Report| r.scores().into_iter().find(|a| a.area == Area::Subscribers).unwrap();
        assert!(!subs(&r).examined);
        r.raise("WA-ALG-001", "description", Location { file: None, line: None, path: "radio.gsm".into() }, "A5/0");
        let radio = r.scores().into_iter().find(|a| a.area == Area::Radio).unwrap().score;
        let examined = Area::ALL.len() as u32 - 1;
        assert_eq!(r.overall_score(), ((radio + 100 * (examined - 1)) as f64 / examined as f64).round() as u32);
        r.input("store", "sqlite://x");
        assert!(subs(&r).examined);
    }

    #[test]
    fn toml_lines() {
        let t = "version = 1\n[radio.lte]\nintegrity = []\nciphering = [\"EEA0\"]\n[[uicc.suppliers]]\nname = \"a\"\n[[uicc.suppliers]]\nname = \"b\"\n";
        assert_eq!(toml_line(t, "radio.lte.ciphering"), Some(4));
        assert_eq!(toml_line(t, "radio.lte"), Some(2));
        assert_eq!(toml_line(t, "uicc.suppliers[1].name"), Some(8));
        assert_eq!(toml_line(t, "version"), Some(1));
        assert_eq!(toml_line(t, "radio.gsm.ciphering"), None);
    }

    #[test]
    fn exit_codes_follow_the_worst_finding() {
        let mut r = Report::new();
        assert_eq!(r.exit_code(Some(Severity::Info)), 0);
        let loc = Location { file: None, line: None, path: "x".into() };
        r.raise("WA-ALG-044", "t", loc.clone(), "");
        assert_eq!(r.exit_code(Some(Severity::High)), 0);
        assert_eq!(r.exit_code(Some(Severity::Low)), 4);
        r.raise("WA-ALG-001", "t", loc, "");
        assert_eq!(r.exit_code(Some(Severity::High)), 7);
        assert_eq!(r.exit_code(None), 0);
        assert_eq!(r.scores()[0].score, 60);
    }
}
