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

/// Score of one area: 100 minus the penalties of its findings (never below 0), capped by its worst
/// finding (see [`score_cap`]).
#[derive(Debug, Clone, Serialize)]
pub struct AreaScore {
    /// The area.
    pub area: Area,
    /// 0..=100; meaningless when `examined` is false.
    pub score: u32,
    /// Findings (deduplicated, see [`Report::groups`]) per severity, info first.
    pub counts: [usize; 5],
    /// False when nothing fed this area (no input covers it): it is shown as "not examined" and left out
    /// of the overall score.
    pub examined: bool,
}

/// The highest score allowed while a finding of severity `worst` stands: 40 with a critical finding, 70
/// with a high one, else 100. It applies to each area (its own worst finding) and to the overall score
/// (the worst finding of the report), so no penalty arithmetic can hide broken protection.
pub fn score_cap(worst: Option<Severity>) -> u32 {
    match worst {
        Some(Severity::Critical) => 40,
        Some(Severity::High) => 70,
        _ => 100,
    }
}

/// The SHA-256 of an input as read, so a report says exactly which files it judged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InputHash {
    /// The file as given.
    pub file: String,
    /// Lowercase hex SHA-256 of its bytes.
    pub sha256: String,
    /// Its length in bytes.
    pub bytes: u64,
}

/// Findings of one check with the same detail, from one or more places: one finding of the report.
#[derive(Debug, Clone)]
pub struct Group<'a> {
    /// The check.
    pub check: &'static Check,
    /// The detail they share.
    pub detail: &'a str,
    /// Every raw finding, in the order raised: each gives a source and a location.
    pub sites: Vec<&'a Finding>,
}

impl<'a> Group<'a> {
    /// The distinct sources, in order of appearance.
    pub fn sources(&self) -> Vec<&'a str> {
        let mut out: Vec<&'a str> = Vec::new();
        for f in &self.sites {
            if !out.contains(&f.source.as_str()) {
                out.push(f.source.as_str());
            }
        }
        out
    }

    /// The sources joined for display (`description + osmo-bsc`).
    pub fn source_label(&self) -> String {
        self.sources().join(" + ")
    }
}

/// One recommended action: a remediation text and what it resolves.
#[derive(Debug, Clone, Serialize)]
pub struct Action {
    /// The worst severity it resolves.
    pub severity: Severity,
    /// What to do (the checks' remediation).
    pub remediation: &'static str,
    /// The check IDs it resolves.
    pub checks: Vec<&'static str>,
    /// How many (deduplicated) findings it resolves.
    pub findings: usize,
    /// At how many locations.
    pub locations: usize,
}

/// A collection of findings with the inputs they came from.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The operator's name from the description.
    pub operator: Option<String>,
    /// Inputs audited (kind and file), in order.
    pub inputs: Vec<(String, String)>,
    /// SHA-256 of the inputs read from files (see [`Report::record_input`]).
    pub input_hashes: Vec<InputHash>,
    /// When the report was made (seconds since the Unix epoch, UTC).
    pub generated_unix: u64,
    /// The Warden version that made it.
    pub warden_version: String,
    /// Findings, in the order raised (see [`Report::sorted`] and [`Report::groups`]).
    pub findings: Vec<Finding>,
    /// Notes about what could not be audited (e.g. a setting absent from a core's configuration).
    pub notes: Vec<String>,
    /// The description's text, to locate the description's side of a contradiction.
    #[serde(skip)]
    pub(crate) description_text: Option<String>,
}

impl Default for Report {
    fn default() -> Self {
        Self::new()
    }
}

/// Input kinds that are not files (nothing to hash).
const NOT_FILES: [&str; 2] = ["store", "tls-probe"];

impl Report {
    /// An empty report, dated now.
    pub fn new() -> Self {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        Report {
            operator: None,
            inputs: Vec::new(),
            input_hashes: Vec::new(),
            generated_unix: now,
            warden_version: env!("CARGO_PKG_VERSION").to_string(),
            findings: Vec::new(),
            notes: Vec::new(),
            description_text: None,
        }
    }

    /// Records an input.
    pub fn input(&mut self, kind: &str, file: &str) {
        self.inputs.push((kind.to_string(), file.to_string()));
    }

    /// Records the bytes of input `file` as read: its SHA-256 and length (replacing an earlier record).
    pub fn record_input(&mut self, file: &str, bytes: &[u8]) {
        use sha2::{Digest, Sha256};
        let hash =
            InputHash { file: file.to_string(), sha256: hex::encode(Sha256::digest(bytes)), bytes: bytes.len() as u64 };
        match self.input_hashes.iter_mut().find(|h| h.file == file) {
            Some(h) => *h = hash,
            None => self.input_hashes.push(hash),
        }
    }

    /// Reads and records (see [`Report::record_input`]) every input that is a file and has no record yet.
    /// Directories and non-file inputs (the store, TLS probes) are skipped.
    pub fn record_file_inputs(&mut self) -> Result<(), crate::AuditError> {
        let files: Vec<String> = self
            .inputs
            .iter()
            .filter(|(k, f)| !NOT_FILES.contains(&k.as_str()) && !self.input_hashes.iter().any(|h| &h.file == f))
            .map(|(_, f)| f.clone())
            .collect();
        for file in files {
            if std::path::Path::new(&file).is_dir() {
                continue;
            }
            let bytes = std::fs::read(&file).map_err(|e| crate::AuditError::Io(file.clone(), e))?;
            self.record_input(&file, &bytes);
        }
        Ok(())
    }

    /// The recorded hash of input `file`.
    pub fn input_hash(&self, file: &str) -> Option<&InputHash> {
        self.input_hashes.iter().find(|h| h.file == file)
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

    /// The findings deduplicated: one [`Group`] per check and detail, listing every place it was raised
    /// (in the order raised); sorted by severity (worst first), then ID, then first location.
    pub fn groups(&self) -> Vec<Group<'_>> {
        let mut out: Vec<Group<'_>> = Vec::new();
        for f in &self.findings {
            match out.iter_mut().find(|g| g.check.id == f.check.id && g.detail == f.detail) {
                Some(g) => g.sites.push(f),
                None => out.push(Group { check: f.check, detail: &f.detail, sites: vec![f] }),
            }
        }
        out.sort_by(|a, b| {
            b.check
                .severity
                .cmp(&a.check.severity)
                .then(a.check.id.cmp(b.check.id))
                .then(a.sites[0].location.path.cmp(&b.sites[0].location.path))
                .then(a.detail.cmp(b.detail))
        });
        out
    }

    /// The distinct check IDs raised.
    pub fn ids(&self) -> BTreeSet<&'static str> {
        self.findings.iter().map(|f| f.check.id).collect()
    }

    /// The worst severity raised.
    pub fn worst(&self) -> Option<Severity> {
        self.findings.iter().map(|f| f.check.severity).max()
    }

    fn has_input(&self, pred: impl Fn(&str) -> bool) -> bool {
        self.inputs.iter().any(|(k, _)| pred(k))
    }

    /// Whether an input covers `area`: the description covers every area but the live store and the
    /// consistency check; the store covers the live store; a TLS probe covers the portal; the consistency
    /// check needs the description and at least one imported configuration or database.
    fn covered(&self, area: Area) -> bool {
        let description = self.has_input(|k| k == "description");
        match area {
            Area::Subscribers => self.has_input(|k| k == "store"),
            Area::Consistency => description && self.has_input(|k| k != "description" && !NOT_FILES.contains(&k)),
            Area::Portal => description || self.has_input(|k| k == "tls-probe"),
            _ => description,
        }
    }

    /// Scores for every area (deduplicated findings, see [`Report::groups`]).
    pub fn scores(&self) -> Vec<AreaScore> {
        let groups = self.groups();
        Area::ALL
            .iter()
            .map(|&area| {
                let mut counts = [0usize; 5];
                let mut penalty = 0u32;
                let mut worst = None;
                for g in groups.iter().filter(|g| g.check.area == area) {
                    counts[g.check.severity as usize] += 1;
                    penalty += g.check.severity.penalty();
                    worst = worst.max(Some(g.check.severity));
                }
                let examined = self.covered(area) || counts.iter().any(|n| *n > 0);
                let score = 100u32.saturating_sub(penalty).min(score_cap(worst));
                AreaScore { area, score, counts, examined }
            })
            .collect()
    }

    /// The overall score: the mean of the examined areas' scores, capped by the report's worst finding
    /// (see [`score_cap`]); 0 when no area was examined.
    pub fn overall_score(&self) -> u32 {
        let s: Vec<AreaScore> = self.scores().into_iter().filter(|a| a.examined).collect();
        if s.is_empty() {
            return 0;
        }
        let mean = (s.iter().map(|a| a.score).sum::<u32>() as f64 / s.len() as f64).round() as u32;
        mean.min(score_cap(self.worst()))
    }

    /// The `n` most important actions: findings grouped by remediation, ordered by worst severity, then
    /// number of findings, then number of locations. Info findings need no action.
    pub fn top_actions(&self, n: usize) -> Vec<Action> {
        let mut actions: Vec<Action> = Vec::new();
        for g in self.groups().iter().filter(|g| g.check.severity > Severity::Info) {
            let c = g.check;
            match actions.iter_mut().find(|a| a.remediation == c.remediation) {
                Some(a) => {
                    a.severity = a.severity.max(c.severity);
                    if !a.checks.contains(&c.id) {
                        a.checks.push(c.id);
                    }
                    a.findings += 1;
                    a.locations += g.sites.len();
                }
                None => actions.push(Action {
                    severity: c.severity,
                    remediation: c.remediation,
                    checks: vec![c.id],
                    findings: 1,
                    locations: g.sites.len(),
                }),
            }
        }
        actions.sort_by(|a, b| {
            b.severity
                .cmp(&a.severity)
                .then(b.findings.cmp(&a.findings))
                .then(b.locations.cmp(&a.locations))
                .then(a.checks[0].cmp(b.checks[0]))
        });
        actions.truncate(n);
        actions
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

    fn loc(file: &str, line: u32) -> Location {
        Location { file: Some(file.into()), line: Some(line), path: "network.encryption a5".into() }
    }

    fn area(r: &Report, a: Area) -> AreaScore {
        r.scores().into_iter().find(|s| s.area == a).unwrap()
    }

    #[test]
    fn the_store_area_counts_only_when_the_store_was_examined() {
        let mut r = Report::new();
        r.input("description", "n.toml");
        assert!(!area(&r, Area::Subscribers).examined);
        assert!(!area(&r, Area::Consistency).examined, "no imported file to compare the description with");
        r.raise("WA-ALG-044", "description", Location { file: None, line: None, path: "lpwa".into() }, "x");
        let iot = area(&r, Area::IotAccess).score;
        assert_eq!(iot, 96);
        // Only the examined areas count: 8 areas, 7 of them at 100.
        assert_eq!(r.overall_score(), ((iot + 100 * 7) as f64 / 8.0).round() as u32);
        r.input("store", "sqlite://x");
        assert!(area(&r, Area::Subscribers).examined);
        r.input("osmo-bsc", "bsc.cfg");
        assert!(area(&r, Area::Consistency).examined);
        assert_eq!(r.overall_score(), ((iot + 100 * 9) as f64 / 10.0).round() as u32);
    }

    #[test]
    fn nothing_examined_scores_nothing() {
        let r = Report::new();
        assert!(r.scores().iter().all(|a| !a.examined));
        assert_eq!(r.overall_score(), 0);
    }

    #[test]
    fn critical_and_high_findings_cap_area_and_overall_scores() {
        // Issue #13: a strong description plus seven critical findings from imported files gave 75/100.
        let mut r = Report::new();
        r.input("description", "n.toml");
        r.input("osmo-bsc", "bsc.cfg");
        for (i, id) in
            ["WA-ALG-001", "WA-ALG-003", "WA-ALG-009", "WA-ALG-013", "WA-ALG-030", "WA-ALG-031"].iter().enumerate()
        {
            r.raise(id, "import", loc("x.cfg", i as u32 + 1), format!("finding {i}"));
        }
        r.raise("WA-ALG-017", "import", loc("amf.yaml", 1), "NEA0 first");
        assert_eq!(area(&r, Area::Radio).score, 0);
        assert_eq!(r.overall_score(), 40, "seven critical findings must not give a good score");

        // One critical finding: the area loses 40 (60) but is capped at 40, and so is the overall score.
        let mut r = Report::new();
        r.input("description", "n.toml");
        r.raise("WA-ALG-001", "description", loc("n.toml", 3), "A5/0");
        assert_eq!(area(&r, Area::Radio).score, 40);
        assert_eq!(area(&r, Area::Authentication).score, 100);
        assert_eq!(r.overall_score(), 40);
        assert_eq!(score_cap(r.worst()), 40);

        // One high finding: area 80 capped at 70, overall (mean 96) capped at 70.
        let mut r = Report::new();
        r.input("description", "n.toml");
        r.raise("WA-ALG-002", "description", loc("n.toml", 3), "A5/1");
        assert_eq!(area(&r, Area::Radio).score, 70);
        assert_eq!(r.overall_score(), 70);

        // Medium and low findings do not cap: plain arithmetic.
        let mut r = Report::new();
        r.input("description", "n.toml");
        r.raise("WA-ALG-007", "description", loc("n.toml", 4), "GEA2");
        assert_eq!(area(&r, Area::Radio).score, 90);
        assert_eq!(r.overall_score(), ((90 + 700) as f64 / 8.0).round() as u32);
    }

    #[test]
    fn the_same_finding_at_several_places_is_one_finding_with_all_its_locations() {
        let mut r = Report::new();
        r.input("description", "n.toml");
        for (file, line) in [("a.cfg", 3), ("b.cfg", 7), ("c.cfg", 9)] {
            r.raise("WA-ALG-007", "osmo-bsc", loc(file, line), "GEA set [GEA2] includes GEA2 (weak)");
        }
        r.raise("WA-ALG-007", "description", loc("n.toml", 2), "GEA set [GEA1, GEA2] includes GEA2 (weak)");
        let g = r.groups();
        assert_eq!(g.len(), 2);
        let three = g.iter().find(|g| g.sites.len() == 3).unwrap();
        let files: Vec<_> = three.sites.iter().map(|f| f.location.file.as_deref().unwrap()).collect();
        assert_eq!(files, ["a.cfg", "b.cfg", "c.cfg"]);
        assert_eq!(three.source_label(), "osmo-bsc");
        // Scored once per finding, not per location: 100 - 2 x 10.
        assert_eq!(area(&r, Area::Radio).score, 80);
        assert_eq!(area(&r, Area::Radio).counts[Severity::Medium as usize], 2);
    }

    #[test]
    fn top_actions_come_by_severity_then_number_of_findings() {
        let mut r = Report::new();
        let at = |p: &str| Location { file: None, line: None, path: p.into() };
        r.raise("WA-ALG-007", "d", at("a"), "GEA2 a");
        r.raise("WA-ALG-007", "d", at("b"), "GEA2 b");
        r.raise("WA-ALG-007", "d", at("c"), "GEA2 c");
        r.raise("WA-ALG-002", "d", at("a"), "A5/1");
        r.raise("WA-ROAM-001", "d", at("a"), "none");
        r.raise("WA-ROAM-001", "d", at("b"), "none");
        r.raise("WA-ALG-011", "d", at("a"), "UEA0 a");
        r.raise("WA-ALG-011", "d", at("b"), "UEA0 b");
        r.raise("WA-ALG-035", "d", at("a"), "info only");
        let a = r.top_actions(3);
        let ids: Vec<_> = a.iter().map(|a| a.checks[0]).collect();
        assert_eq!(ids, ["WA-ROAM-001", "WA-ALG-011", "WA-ALG-002"]);
        assert_eq!((a[0].findings, a[0].locations), (1, 2));
        assert_eq!((a[1].findings, a[1].locations), (2, 2));
        assert!(r.top_actions(10).iter().all(|a| a.severity > Severity::Info));
        assert_eq!(r.top_actions(10).len(), 4);
    }

    #[test]
    fn inputs_are_hashed_as_read() {
        let mut r = Report::new();
        r.record_input("n.toml", b"abc");
        assert_eq!(
            r.input_hash("n.toml").unwrap().sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        r.record_input("n.toml", b"");
        assert_eq!(r.input_hashes.len(), 1);
        assert_eq!(r.input_hash("n.toml").unwrap().bytes, 0);
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("bsc.cfg");
        std::fs::write(&f, "network\n").unwrap();
        r.input("osmo-bsc", f.to_str().unwrap());
        r.input("store", "sqlite://nowhere");
        r.input("osmo-cfg-tree", dir.path().to_str().unwrap());
        r.record_file_inputs().unwrap();
        assert_eq!(r.input_hash(f.to_str().unwrap()).unwrap().bytes, 8);
        assert!(r.input_hash("sqlite://nowhere").is_none());
        r.input("osmo-msc", dir.path().join("gone.cfg").to_str().unwrap());
        assert!(r.record_file_inputs().unwrap_err().to_string().contains("gone.cfg"));
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
        // Radio: one critical finding, 100 - 40 = 60, capped at 40.
        assert_eq!(r.scores()[0].score, 40);
    }
}
