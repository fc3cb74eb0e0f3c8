//! A description contradicted by an imported configuration: the description claims A5/3 only, the
//! OsmoBSC configuration of tests/data offers A5/0 and A5/1 (`encryption a5 0 1 3`). The audit must
//! raise a WA-AUD finding naming both sources and both locations, scored in its own area.

use std::path::{Path, PathBuf};

use audit::import::{self, Osmo};
use audit::render::{self, Format};
use audit::{contradiction, Area, Report};
use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The strong example description with its GSM section replaced by `gsm` (empty: no GSM described).
fn description(dir: &Path, gsm: &str) -> PathBuf {
    let strong = std::fs::read_to_string(root().join("../../examples/network-strong.toml")).unwrap();
    let text = strong.replacen("ciphering = [\"A5/4\", \"A5/3\"]\n", gsm, 1);
    assert_ne!(text, strong);
    let path = dir.join("claims.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn with_bsc(desc: &Path) -> Report {
    let (_, mut r) = audit::audit_description_file(desc).unwrap();
    assert!(r.findings.is_empty(), "the description alone passes: {:?}", r.ids());
    import::osmo_vty(&root().join("tests/data/osmo-bsc.cfg"), Osmo::Bsc, &mut r).unwrap();
    contradiction::cross_check(&mut r);
    r
}

#[test]
fn a_description_claiming_a5_3_contradicted_by_an_osmo_bsc_offering_a5_0() {
    let dir = tempfile::tempdir().unwrap();
    let desc = description(dir.path(), "ciphering = [\"A5/3\"]\n");
    let r = with_bsc(&desc);
    let groups = r.groups();
    let aud: Vec<_> = groups.iter().filter(|g| g.check.id == "WA-AUD-001").collect();
    // A5/0 (WA-ALG-001) and A5/1 (WA-ALG-002) are both offered by the BSC and both denied by the description.
    assert_eq!(aud.len(), 2, "{:#?}", r.findings);
    let a50 = aud.iter().find(|g| g.detail.contains("WA-ALG-001")).unwrap();
    assert_eq!(a50.check.requirement, "ALG-2");
    assert_eq!(a50.check.area, Area::Consistency);
    assert_eq!(a50.sources(), ["osmo-bsc", "description"]);
    assert!(a50.detail.contains("states `ciphering = [\"A5/3\"]` (radio.gsm.ciphering, line 8)"), "{}", a50.detail);
    assert!(a50.detail.contains("includes A5/0"), "{}", a50.detail);
    let bsc = &a50.sites[0].location;
    assert!(bsc.file.as_deref().unwrap().ends_with("osmo-bsc.cfg"));
    let cfg = std::fs::read_to_string(root().join("tests/data/osmo-bsc.cfg")).unwrap();
    let a5_line = cfg.lines().position(|l| l.trim_start().starts_with("encryption a5")).unwrap() as u64 + 1;
    assert_eq!((bsc.line, bsc.path.as_str()), (Some(a5_line as u32), "network.encryption a5"));
    let d = &a50.sites[1].location;
    assert_eq!((d.file.as_deref(), d.line), (Some(desc.to_str().unwrap()), Some(8)));
    assert_eq!(d.path, "radio.gsm.ciphering");

    // Its own area: high, capped at 70; the overall score cannot exceed 40 (A5/0 is critical).
    let consistency = r.scores().into_iter().find(|a| a.area == Area::Consistency).unwrap();
    assert!(consistency.examined);
    assert_eq!(consistency.score, 60);
    assert!(r.overall_score() <= 40);

    // Every rendering names it with both locations.
    let json: Value = serde_json::from_str(&render::render(&r, Format::Json)).unwrap();
    let f = json["findings"].as_array().unwrap().iter().find(|f| f["id"] == "WA-AUD-001").unwrap();
    assert_eq!(f["sources"], serde_json::json!(["osmo-bsc", "description"]));
    assert_eq!(f["locations"].as_array().unwrap().len(), 2);
    let html = render::render(&r, Format::Html);
    assert!(html.contains("<h4>Source: osmo-bsc + description</h4>"), "{html}");
    let sarif: Value = serde_json::from_str(&render::render(&r, Format::Sarif)).unwrap();
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    let lines: Vec<u64> = results
        .iter()
        .filter(|x| x["ruleId"] == "WA-AUD-001" && x["message"]["text"].as_str().unwrap().contains("WA-ALG-001"))
        .map(|x| x["locations"][0]["physicalLocation"]["region"]["startLine"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, [a5_line, 8], "one SARIF result per location");
}

#[test]
fn a_description_without_gsm_is_contradicted_by_a_bsc() {
    let dir = tempfile::tempdir().unwrap();
    let strong = std::fs::read_to_string(root().join("../../examples/network-strong.toml")).unwrap();
    let start = strong.find("[radio.gsm]").unwrap();
    let end = start + strong[start..].find("\n\n").unwrap() + 2;
    let desc = dir.path().join("no-gsm.toml");
    std::fs::write(&desc, format!("{}{}", &strong[..start], &strong[end..])).unwrap();
    let (_, mut r) = audit::audit_description_file(&desc).unwrap();
    import::osmo_vty(&root().join("tests/data/osmo-bsc.cfg"), Osmo::Bsc, &mut r).unwrap();
    contradiction::cross_check(&mut r);
    let aud: Vec<_> = r.groups().into_iter().filter(|g| g.check.id == "WA-AUD-001").collect();
    assert_eq!(aud.len(), 2);
    assert!(aud.iter().all(|g| g.detail.contains("does not describe [radio.gsm]")), "{:?}", aud[0].detail);
    assert_eq!(aud[0].sites[1].location.path, "radio.gsm");
}

#[test]
fn no_contradiction_when_the_description_states_the_same_weakness() {
    let dir = tempfile::tempdir().unwrap();
    let desc = description(dir.path(), "ciphering = [\"A5/3\", \"A5/1\", \"A5/0\"]\n");
    let (_, mut r) = audit::audit_description_file(&desc).unwrap();
    import::osmo_vty(&root().join("tests/data/osmo-bsc.cfg"), Osmo::Bsc, &mut r).unwrap();
    contradiction::cross_check(&mut r);
    assert!(r.ids().contains("WA-ALG-001"));
    assert!(!r.ids().iter().any(|id| id.starts_with("WA-AUD-")), "{:?}", r.ids());
}
