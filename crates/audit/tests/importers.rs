//! The importers on the sample configurations in tests/data: each yields exactly the expected checks,
//! located in its file.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use audit::import::{self, Open5gs, Osmo};
use audit::Report;
use sqlx::ConnectOptions;

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(name)
}

fn set(ids: &[&'static str]) -> BTreeSet<&'static str> {
    ids.iter().copied().collect()
}

/// Loads an SQL script into a new SQLite file.
async fn sqlite_from(sql: &str, dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    let mut conn =
        sqlx::sqlite::SqliteConnectOptions::new().filename(&path).create_if_missing(true).connect().await.unwrap();
    sqlx::raw_sql(&std::fs::read_to_string(data(sql)).unwrap()).execute(&mut conn).await.unwrap();
    path
}

#[test]
fn open5gs_mme_and_amf_default_orders() {
    let mut r = Report::new();
    import::open5gs(&data("open5gs-mme.yaml"), Open5gs::Mme, &mut r).unwrap();
    assert_eq!(r.ids(), set(&["WA-ALG-013", "WA-ALG-016"]));
    let eea0 = r.findings.iter().find(|f| f.check.id == "WA-ALG-013").unwrap();
    assert_eq!(eea0.location.path, "mme.security.ciphering_order");
    assert_eq!(eea0.source, "open5gs-mme");
    let text = std::fs::read_to_string(data("open5gs-mme.yaml")).unwrap();
    assert!(text.lines().nth(eea0.location.line.unwrap() as usize - 1).unwrap().contains("EEA0, EEA1"));

    let mut r = Report::new();
    import::open5gs(&data("open5gs-amf.yaml"), Open5gs::Amf, &mut r).unwrap();
    // The AMF's SBI server has no `scheme: https`: plain HTTP (issue #13).
    assert_eq!(r.ids(), set(&["WA-ALG-017", "WA-ALG-020", "WA-NET-041"]));

    // A hardened MME raises nothing; a wrong file or name is a precise error.
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("mme.yaml");
    std::fs::write(&good, "mme:\n  security:\n    integrity_order: [EIA2, EIA1]\n    ciphering_order: [EEA2, EEA1]\n")
        .unwrap();
    let mut r = Report::new();
    import::open5gs(&good, Open5gs::Mme, &mut r).unwrap();
    assert!(r.findings.is_empty());
    let e = import::open5gs(&good, Open5gs::Amf, &mut r).unwrap_err().to_string();
    assert!(e.contains("no top-level `amf:`"), "{e}");
    std::fs::write(&good, "mme:\n  security:\n    integrity_order: [EIA9]\n    ciphering_order: [EEA2]\n").unwrap();
    let e = import::open5gs(&good, Open5gs::Mme, &mut r).unwrap_err().to_string();
    assert!(e.contains("mme.security.integrity_order") && e.contains("EIA9"), "{e}");
}

#[test]
fn osmo_bsc_and_msc() {
    let mut r = Report::new();
    import::osmo_vty(&data("osmo-bsc.cfg"), Osmo::Bsc, &mut r).unwrap();
    assert_eq!(r.ids(), set(&["WA-ALG-001", "WA-ALG-002"]));
    assert!(r.findings.iter().all(|f| f.location.line == Some(16) && f.source == "osmo-bsc"));

    // `authentication optional` beside A5/3: OsmoMSC authenticates anyway because ciphering needs a key,
    // so this is WA-ALG-060, not WA-ALG-009 (no authentication at all; tests/osmocom.rs).
    let mut r = Report::new();
    import::osmo_vty(&data("osmo-msc.cfg"), Osmo::Msc, &mut r).unwrap();
    assert_eq!(r.ids(), set(&["WA-ALG-001", "WA-ALG-011", "WA-ALG-060"]));

    // Strong settings raise nothing; a missing line is audited at the program default (OsmoMSC:
    // authentication optional), never a mere note.
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("osmo-msc.cfg");
    std::fs::write(&cfg, "network\n encryption a5 3 4\n encryption uea 2 1\n authentication required\n").unwrap();
    let mut r = Report::new();
    import::osmo_vty(&cfg, Osmo::Msc, &mut r).unwrap();
    assert!(r.findings.is_empty() && r.notes.is_empty(), "{:?}", r.findings);
    std::fs::write(&cfg, "network\n encryption a5 3\n").unwrap();
    import::osmo_vty(&cfg, Osmo::Msc, &mut r).unwrap();
    assert_eq!(r.ids(), set(&["WA-ALG-060"]));
    assert!(r.findings[0].detail.contains("implicit") && r.notes.is_empty());
    std::fs::write(&cfg, "network\n encryption a5 3 7\n").unwrap();
    let e = import::osmo_vty(&cfg, Osmo::Bsc, &mut r).unwrap_err().to_string();
    assert!(e.contains("line 2") && e.contains("\"7\""), "{e}");
    std::fs::write(&cfg, "msc\n assign-tmsi\n").unwrap();
    assert!(import::osmo_vty(&cfg, Osmo::Bsc, &mut r).unwrap_err().to_string().contains("no `network` node"));
}

#[tokio::test]
async fn osmo_hlr_database() {
    let dir = tempfile::tempdir().unwrap();
    let db = sqlite_from("osmo-hlr.sql", dir.path(), "hlr.db").await;
    let mut r = Report::new();
    import::osmo_hlr(&db, &mut r).await.unwrap();
    // The sample uses TS 35.208 and sequential example keys: published test keys (issue #13).
    assert_eq!(r.ids(), set(&["WA-ALG-030", "WA-ALG-031", "WA-ALG-032", "WA-ALG-033", "WA-ALG-034", "WA-ALG-073"]));
    let detail = |id: &str| r.findings.iter().find(|f| f.check.id == id).unwrap().detail.clone();
    // One finding per algorithm: COMP128v1 (subscriber 1) and COMP128v3 (subscriber 3).
    let comp: Vec<&str> = r.findings.iter().filter(|f| f.check.id == "WA-ALG-030").map(|f| f.detail.as_str()).collect();
    assert_eq!(comp.len(), 2, "{comp:?}");
    assert!(comp
        .iter()
        .any(|d| d.contains("COMP128v1") && d.contains("901700000000001") && !d.contains("901700000000003")));
    assert!(comp
        .iter()
        .any(|d| d.contains("COMP128v3") && d.contains("901700000000003") && !d.contains("901700000000001")));
    assert!(detail("WA-ALG-031").contains("901700000000004"));
    assert!(detail("WA-ALG-032").contains("901700000000003") && detail("WA-ALG-032").contains("901700000000004"));
    assert!(detail("WA-ALG-033").contains("901700000000004"));
    assert!(detail("WA-ALG-034").contains("901700000000002") && !detail("WA-ALG-034").contains("901700000000005"));
    // No key is ever reported.
    assert!(r.findings.iter().all(|f| !f.detail.contains("465b5ce8")));

    let e = import::osmo_hlr(&dir.path().join("missing.db"), &mut r).await.unwrap_err().to_string();
    assert!(e.contains("no such database file"), "{e}");
    let other = sqlite_from("pyhss.sql", dir.path(), "other.db").await;
    assert!(import::osmo_hlr(&other, &mut r).await.unwrap_err().to_string().contains("not an osmo-hlr database"));
}

#[tokio::test]
async fn pyhss_export_and_database() {
    let mut r = Report::new();
    import::pyhss(&data("pyhss-auc.json"), &mut r).await.unwrap();
    // PyHSS's semantics (issue #13): every record has an OPc, so algo 3, 1 and absent (NULL, run as 3)
    // are MILENAGE USIMs given COMP128 triplets (WA-ALG-070), not COMP128 SIMs; algo "" is not a number
    // PyHSS can run (a note). The keys are TS 35.208 test keys (WA-ALG-073).
    assert_eq!(r.ids(), set(&["WA-ALG-033", "WA-ALG-070", "WA-ALG-073"]));
    let comp = &r.findings.iter().find(|f| f.check.id == "WA-ALG-070").unwrap().detail;
    assert!(
        comp.contains("001010000000101") && comp.contains("001010000000103") && comp.contains("001010000000104"),
        "{comp}"
    );
    assert!(!comp.contains("001010000000102"), "{comp}");
    assert!(r.notes.iter().any(|n| n.contains("001010000000102")), "{:?}", r.notes);

    let dir = tempfile::tempdir().unwrap();
    let db = sqlite_from("pyhss.sql", dir.path(), "hss.db").await;
    let mut from_db = Report::new();
    import::pyhss(&db, &mut from_db).await.unwrap();
    assert_eq!(from_db.ids(), r.ids());

    let bad = dir.path().join("bad.json");
    // PyHSS cannot run a non-numeric algo: a note, not an aborted audit; a record without IMSI is an error.
    std::fs::write(&bad, r#"[{"imsi": "001010000000001", "ki": "00", "algo": "comp129"}]"#).unwrap();
    let mut r = Report::new();
    import::pyhss(&bad, &mut r).await.unwrap();
    assert!(r.notes.iter().any(|n| n.contains("001010000000001") && n.contains("comp129")), "{:?}", r.notes);
    std::fs::write(&bad, r#"[{"ki": "00", "algo": "1"}]"#).unwrap();
    let e = import::pyhss(&bad, &mut r).await.unwrap_err().to_string();
    assert!(e.contains("record 1: no imsi"), "{e}");
}
