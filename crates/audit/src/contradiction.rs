//! Contradictions between the description and the imported evidence.
//!
//! The description's own checks and the importers raise findings through the same [`Report`], each
//! with its source (`description`, `osmo-bsc`, `open5gs-mme`, …) and location. When an importer raises
//! a radio or AuC check that the description could have raised but did not — the description states a
//! setting that the imported file does not apply, or does not describe the technology at all — the
//! description is contradicted: [`cross_check`] raises a WA-AUD finding naming both sources and
//! listing both locations. It works on check IDs and sources only, so it needs no knowledge of the
//! importers. Only contradictions in the weaker direction are raised (the evidence is worse than the
//! statement); a description stricter than reality is what the underlying finding already says.

use std::collections::BTreeSet;

use crate::catalogue::Check;
use crate::report::{toml_line, Location, Report};

/// The source name of the description's own findings.
pub const DESCRIPTION: &str = "description";

/// Where the description states what check `id` judges: the key paths (alternatives, first preferred),
/// or `None` when the description makes no statement that check could contradict.
fn described_at(id: &str) -> Option<&'static [&'static str]> {
    const EPS_CIPHERING: &[&str] = &["radio.lte.ciphering", "radio.nb-iot.ciphering", "radio.lte-m.ciphering"];
    const EPS_INTEGRITY: &[&str] = &["radio.lte.integrity", "radio.nb-iot.integrity", "radio.lte-m.integrity"];
    Some(match id {
        "WA-ALG-001" | "WA-ALG-002" | "WA-ALG-003" | "WA-ALG-004" => &["radio.gsm.ciphering"],
        "WA-ALG-005" | "WA-ALG-006" | "WA-ALG-007" => &["radio.gsm.gprs_ciphering"],
        "WA-ALG-008" => &["radio.gsm.false_base_station_detection"],
        "WA-ALG-009" => &["radio.gsm.authentication_required"],
        "WA-ALG-010" | "WA-ALG-011" => &["radio.umts.ciphering"],
        "WA-ALG-012" => &["radio.umts.integrity"],
        "WA-ALG-013" | "WA-ALG-014" => EPS_CIPHERING,
        "WA-ALG-015" | "WA-ALG-016" => EPS_INTEGRITY,
        "WA-ALG-017" | "WA-ALG-018" => &["radio.nr.ciphering"],
        "WA-ALG-019" | "WA-ALG-020" => &["radio.nr.integrity"],
        "WA-ALG-021" => &["radio.nb-iot.remote_sim_provisioning", "radio.lte-m.remote_sim_provisioning"],
        "WA-ALG-030" | "WA-ALG-031" | "WA-ALG-032" | "WA-ALG-035" => &["auc.algorithms"],
        "WA-ALG-033" => &["auc.min_key_bits"],
        "WA-ALG-034" => &["auc.operator_key"],
        _ => return None,
    })
}

/// The description's check that states at least as much as `id`: a null algorithm preferred (first)
/// implies it is enabled.
fn implied_by(id: &str) -> Option<&'static str> {
    match id {
        "WA-ALG-011" => Some("WA-ALG-010"),
        "WA-ALG-014" => Some("WA-ALG-013"),
        "WA-ALG-016" => Some("WA-ALG-015"),
        "WA-ALG-018" => Some("WA-ALG-017"),
        "WA-ALG-020" => Some("WA-ALG-019"),
        _ => None,
    }
}

/// The contradiction check for a contradicted check: the same requirement.
fn contradiction_id(contradicted: &Check) -> Option<&'static str> {
    match contradicted.requirement {
        "ALG-2" => Some("WA-AUD-001"),
        "ALG-3" => Some("WA-AUD-002"),
        "ALG-4" => Some("WA-AUD-003"),
        "ALG-1" => Some("WA-AUD-004"),
        _ => None,
    }
}

fn is_header(line: &str) -> bool {
    line.trim_start().starts_with('[')
}

/// The description's side: (key path, line, what it states).
fn statement(text: Option<&str>, paths: &[&str]) -> (String, Option<u32>, String) {
    let Some(text) = text else {
        return (paths[0].to_string(), None, format!("states `{}` otherwise", paths[0]));
    };
    let line_text = |n: u32| text.lines().nth(n as usize - 1).unwrap_or("").trim().to_string();
    for path in paths {
        let (table, key) = path.rsplit_once('.').unwrap_or(("", path));
        if toml_line(text, table).is_none() {
            continue;
        }
        return match toml_line(text, path) {
            Some(n) if !is_header(&line_text(n)) => {
                (path.to_string(), Some(n), format!("states `{}` ({path}, line {n})", line_text(n)))
            }
            n => (table.to_string(), n, format!("has no `{key}` in [{table}]")),
        };
    }
    let tables: Vec<String> = paths.iter().map(|p| format!("[{}]", p.rsplit_once('.').map_or(*p, |x| x.0))).collect();
    let (table, _) = paths[0].rsplit_once('.').unwrap_or((paths[0], ""));
    (table.to_string(), None, format!("does not describe {} (so states it is not run)", tables.join(" or ")))
}

/// Raises a WA-AUD finding for every imported finding that contradicts the description (see the module
/// documentation). Run it once every input is in; running it again recomputes (it first drops earlier
/// WA-AUD findings). Does nothing without a description input.
pub fn cross_check(report: &mut Report) {
    report.findings.retain(|f| !f.check.id.starts_with("WA-AUD-"));
    let Some(description) = report.inputs.iter().find(|(k, _)| k == DESCRIPTION).map(|(_, f)| f.clone()) else {
        return;
    };
    let stated: BTreeSet<&str> =
        report.findings.iter().filter(|f| f.source == DESCRIPTION).map(|f| f.check.id).collect();
    let text = report.description_text.as_deref();
    let mut raised: Vec<(&'static str, String, Location, String)> = Vec::new();
    for g in report.groups() {
        let id = g.check.id;
        if stated.contains(id) || implied_by(id).is_some_and(|s| stated.contains(s)) {
            continue;
        }
        let (Some(paths), Some(aud)) = (described_at(id), contradiction_id(g.check)) else { continue };
        let (path, line, says) = statement(text, paths);
        let detail = format!(
            "{} raises {id} ({}: {}), but the description {says} and raises no {id}",
            g.source_label(),
            g.check.title,
            g.detail
        );
        for f in &g.sites {
            raised.push((aud, f.source.clone(), f.location.clone(), detail.clone()));
        }
        let at = Location { file: Some(description.clone()), line, path };
        raised.push((aud, DESCRIPTION.to_string(), at, detail));
    }
    for (id, source, location, detail) in raised {
        report.raise(id, &source, location, detail);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(file: &str, line: u32, path: &str) -> Location {
        Location { file: Some(file.into()), line: Some(line), path: path.into() }
    }

    #[test]
    fn statements_name_the_key_or_its_absence() {
        let t = "version = 1\n[radio.gsm]\nciphering = [\"A5/3\"]\n[radio.lte-m]\nintegrity = [\"EIA2\"]\n";
        let (p, l, s) = statement(Some(t), &["radio.gsm.ciphering"]);
        assert_eq!((p.as_str(), l), ("radio.gsm.ciphering", Some(3)));
        assert_eq!(s, "states `ciphering = [\"A5/3\"]` (radio.gsm.ciphering, line 3)");
        let (p, l, s) = statement(Some(t), &["radio.gsm.gprs_ciphering"]);
        assert_eq!((p.as_str(), l, s.as_str()), ("radio.gsm", Some(2), "has no `gprs_ciphering` in [radio.gsm]"));
        let (_, l, s) = statement(Some(t), &["radio.lte.integrity", "radio.lte-m.integrity"]);
        assert_eq!((l, s.contains("radio.lte-m.integrity, line 5")), (Some(5), true), "{s}");
        let (p, l, s) = statement(Some(t), &["radio.nr.ciphering"]);
        assert_eq!((p.as_str(), l), ("radio.nr", None));
        assert!(s.contains("does not describe [radio.nr]"), "{s}");
    }

    #[test]
    fn only_checks_the_description_did_not_raise_are_contradictions_and_reruns_do_not_repeat() {
        let mut r = Report::new();
        r.input(DESCRIPTION, "net.toml");
        r.input("osmo-bsc", "a.cfg");
        r.raise(
            "WA-ALG-002",
            DESCRIPTION,
            at("net.toml", 3, "radio.gsm.ciphering"),
            "A5 set [A5/1, A5/3] includes A5/1",
        );
        r.raise("WA-ALG-002", "osmo-bsc", at("a.cfg", 9, "network.encryption a5"), "A5 set [A5/0, A5/1] includes A5/1");
        r.raise("WA-ALG-001", "osmo-bsc", at("a.cfg", 9, "network.encryption a5"), "A5 set [A5/0, A5/1] includes A5/0");
        // The description states worse (UEA0 preferred) than the import (UEA0 enabled): no contradiction.
        r.raise("WA-ALG-010", DESCRIPTION, at("net.toml", 5, "radio.umts.ciphering"), "UEA0 first");
        r.raise("WA-ALG-011", "osmo-msc", at("m.cfg", 4, "network.encryption uea"), "UEA set includes UEA0");
        // Not a statement of the description: no contradiction.
        r.raise("WA-ALG-036", "store", at("db", 1, "sims.algorithm"), "TUAK with a 32-bit RES");
        cross_check(&mut r);
        cross_check(&mut r);
        let aud: Vec<_> = r.findings.iter().filter(|f| f.check.id.starts_with("WA-AUD-")).collect();
        assert_eq!(aud.len(), 2, "{aud:#?}");
        assert!(aud.iter().all(|f| f.check.id == "WA-AUD-001" && f.detail.contains("WA-ALG-001")));
        assert_eq!(aud[0].source, "osmo-bsc");
        assert_eq!(aud[1].source, DESCRIPTION);
        assert_eq!(aud[1].location.file.as_deref(), Some("net.toml"));
        let g = r.groups().into_iter().find(|g| g.check.id == "WA-AUD-001").unwrap();
        assert_eq!(g.source_label(), "osmo-bsc + description");
        // Without a description nothing is contradicted.
        let mut r = Report::new();
        r.raise("WA-ALG-001", "osmo-bsc", at("a.cfg", 9, "network.encryption a5"), "A5/0");
        cross_check(&mut r);
        assert_eq!(r.findings.len(), 1);
    }
}
