//! PyHSS with its own schema (tests/db_schema/latest.sql), its own test fixture row (`algo = "0"`) and
//! its own shipped config.yaml / docker config (tests/data/pyhss, see its README).

use std::path::{Path, PathBuf};

use audit::foreign::{pyhss_algo, PyhssAlgo};
use audit::model::AuthAlgorithm;
use audit::Report;
use sqlx::ConnectOptions;

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/pyhss").join(name)
}

/// PyHSS's schema plus `rows` (SQL) in a new SQLite file.
async fn database(dir: &Path, rows: &str) -> PathBuf {
    let path = dir.join("hss.db");
    let mut conn =
        sqlx::sqlite::SqliteConnectOptions::new().filename(&path).create_if_missing(true).connect().await.unwrap();
    sqlx::raw_sql(&std::fs::read_to_string(data("schema.sql")).unwrap()).execute(&mut conn).await.unwrap();
    sqlx::raw_sql(rows).execute(&mut conn).await.unwrap();
    path
}

fn detail<'a>(r: &'a Report, id: &str) -> &'a str {
    &r.findings.iter().find(|f| f.check.id == id).unwrap_or_else(|| panic!("{id} raised: {:?}", r.findings)).detail
}

#[test]
fn algo_reads_as_pyhss_runs_it() {
    let comp = |a| PyhssAlgo::Comp128 { algorithm: a, from_null: false };
    assert_eq!(pyhss_algo(Some("0")), PyhssAlgo::Milenage(0));
    assert_eq!(pyhss_algo(Some("5")), PyhssAlgo::Milenage(5));
    assert_eq!(pyhss_algo(Some("1")), comp(AuthAlgorithm::Comp128v1));
    assert_eq!(pyhss_algo(Some(" 2 ")), comp(AuthAlgorithm::Comp128v2));
    assert_eq!(pyhss_algo(Some("3")), comp(AuthAlgorithm::Comp128v3));
    assert_eq!(pyhss_algo(None), PyhssAlgo::Comp128 { algorithm: AuthAlgorithm::Comp128v3, from_null: true });
    assert_eq!(pyhss_algo(Some("milenage")), PyhssAlgo::NotANumber("milenage".into()));
    assert_eq!(pyhss_algo(Some("")), PyhssAlgo::NotANumber(String::new()));
}

#[tokio::test]
async fn pyhss_own_fixture_imports_without_error() {
    // Row 1 of fixture.sql alone: PyHSS's conftest subscriber, algo "0".
    let dir = tempfile::tempdir().unwrap();
    let fixture = std::fs::read_to_string(data("fixture.sql")).unwrap();
    let first_row = fixture.split("'0'),").next().unwrap().to_string() + "'0');";
    let db = database(dir.path(), &first_row).await;
    let mut r = Report::new();
    audit::import::pyhss(&db, &mut r).await.unwrap();
    // MILENAGE-derived 2G: no COMP128 finding; its keys are PyHSS's published fixture keys.
    assert_eq!(r.ids().into_iter().collect::<Vec<_>>(), ["WA-ALG-073"]);
    let d = detail(&r, "WA-ALG-073");
    assert!(d.contains("262423403000001") && d.contains("PyHSS's test fixture"), "{d}");
    assert!(!d.contains("3c6e0b8a") && !d.contains("762a2206"), "no key printed: {d}");
}

#[tokio::test]
async fn algo_semantics_on_the_fixture_database() {
    let dir = tempfile::tempdir().unwrap();
    let db = database(dir.path(), &std::fs::read_to_string(data("fixture.sql")).unwrap()).await;
    let mut r = Report::new();
    audit::import::pyhss(&db, &mut r).await.unwrap();
    // USIMs (OPc present) with algo 3, NULL and " 2 ": change the column, not the SIM.
    let usim = detail(&r, "WA-ALG-070");
    assert!(usim.starts_with("3 subscriber(s)"), "{usim}");
    for imsi in ["262423403000002", "262423403000003", "262423403000006"] {
        assert!(usim.contains(imsi), "{imsi} in {usim}");
    }
    assert!(usim.contains("algo NULL (PyHSS runs it as 3, COMP128v3)"), "{usim}");
    for not in ["262423403000001", "262423403000005", "262423403000004"] {
        assert!(!usim.contains(not), "{not} in {usim}");
    }
    let check = audit::catalogue::check("WA-ALG-070").unwrap();
    assert!(check.remediation.contains("Change the `algo` column"), "{}", check.remediation);
    // The one 2G-only SIM (no OPc, algo 1) is a COMP128 SIM: replacing it is the right advice.
    let sim = detail(&r, "WA-ALG-030");
    assert!(sim.starts_with("1 2G-only") && sim.contains("262423403000004") && sim.contains("algo = 1"), "{sim}");
    assert!(detail(&r, "WA-ALG-032").contains("262423403000004"));
    assert!(!r.ids().contains("WA-ALG-033"));
}

#[tokio::test]
async fn json_export_not_a_number_and_empty_database() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("auc.json");
    std::fs::write(
        &json,
        r#"[{"imsi": "001010000000001", "ki": "5f1d7a3c9e2b4f60a8c1d3e5f7092b4d", "opc": "9a7c5e3f1d2b4c6a8e0f1a3b5c7d9e2f", "algo": null},
            {"imsi": "001010000000002", "ki": "2b4d6f8a0c1e3a5c7e9b1d3f5a7c9e0b", "opc": "c4e6a8b0d2f4a6c8e0b2d4f6a8c0e2b4", "algo": "milenage"},
            {"imsi": "001010000000003", "ki": "7e9c1a3f5d7b9e1c3a5f7d9b1e3c5a7f", "opc": "e2f4a6c8b0d2e4f6a8c0b2d4e6f8a0c2", "algo": 0}]"#,
    )
    .unwrap();
    let mut r = Report::new();
    audit::import::pyhss(&json, &mut r).await.unwrap();
    assert_eq!(r.ids().into_iter().collect::<Vec<_>>(), ["WA-ALG-070"]);
    assert!(detail(&r, "WA-ALG-070").contains("001010000000001"));
    assert!(r.notes.iter().any(|n| n.contains("\"milenage\"") && n.contains("001010000000002")), "{:?}", r.notes);

    // A copy without its WAL: the schema is there, the subscribers are not.
    let empty = tempfile::tempdir().unwrap();
    let db = database(empty.path(), "SELECT 1;").await;
    let mut r = Report::new();
    audit::import::pyhss(&db, &mut r).await.unwrap();
    assert_eq!(r.ids().into_iter().collect::<Vec<_>>(), ["WA-ALG-075"]);
    assert!(detail(&r, "WA-ALG-075").contains("-wal"));
}

#[test]
fn shipped_config_yaml() {
    let config = data("config.yaml");
    let mut r = Report::new();
    audit::pyhss::pyhss_config(&config, &mut r).unwrap();
    // config.yaml binds to loopback: only the provisioning findings.
    assert_eq!(r.ids().into_iter().collect::<Vec<_>>(), ["WA-SEC-064", "WA-SEC-065"]);
    let text = std::fs::read_to_string(&config).unwrap();
    for f in &r.findings {
        let line = text.lines().nth(f.location.line.unwrap() as usize - 1).unwrap();
        let key = f.location.path.rsplit('.').next().unwrap();
        assert!(line.trim_start().starts_with(key), "{f:?} at {line:?}");
    }

    // The docker config with its defaults binds everything to 0.0.0.0.
    let mut r = Report::new();
    audit::pyhss::pyhss_config(&data("docker-config.yaml"), &mut r).unwrap();
    let bound: Vec<&str> =
        r.findings.iter().filter(|f| f.check.id == "WA-NET-042").map(|f| f.location.path.as_str()).collect();
    assert_eq!(bound, ["hss.bind_ip", "hss.gsup.bind_ip", "api.bind_ip", "metric.bind_ip"]);

    // Locked with an own key: nothing.
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("config.yaml");
    std::fs::write(
        &f,
        text.replace("lock_provisioning: False", "lock_provisioning: True")
            .replace("changeThisKeyInProduction", "b7f0c2a9e4d15e8a3c6f9b2d7e1a4c8f"),
    )
    .unwrap();
    let mut r = Report::new();
    audit::pyhss::pyhss_config(&f, &mut r).unwrap();
    assert!(r.findings.is_empty(), "{:?}", r.findings);
    std::fs::write(&f, "api:\n  bind_ip: 0.0.0.0\n").unwrap();
    let e = audit::pyhss::pyhss_config(&f, &mut r).unwrap_err().to_string();
    assert!(e.contains("no top-level `hss:`"), "{e}");
}

/// PyHSS release 1.0.0's schema (tests/db_schema/20231009_release_1.0.0.sql) has no `algo` column.
#[tokio::test]
async fn release_1_0_database_without_algo_column() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    let mut conn =
        sqlx::sqlite::SqliteConnectOptions::new().filename(&path).create_if_missing(true).connect().await.unwrap();
    sqlx::raw_sql(&std::fs::read_to_string(data("schema-1.0.0.sql")).unwrap()).execute(&mut conn).await.unwrap();
    sqlx::raw_sql(
        "INSERT INTO auc (auc_id, ki, opc, amf, sqn, imsi) VALUES \
         (1, '5f1d7a3c9e2b4f60a8c1d3e5f7092b4d', '9a7c5e3f1d2b4c6a8e0f1a3b5c7d9e2f', '8000', 0, '262423403000021');",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    let mut r = Report::new();
    audit::import::pyhss(&path, &mut r).await.unwrap();
    assert!(r.findings.is_empty(), "{:?}", r.findings);
    assert!(r.notes.iter().any(|n| n.contains("no `algo` column") && n.contains("COMP128v3")), "{:?}", r.notes);
}
