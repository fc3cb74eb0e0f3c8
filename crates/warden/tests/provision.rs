//! Provisioning files with bad rows: every bad row is reported with its line number and nothing of
//! the file is written; a good file lands completely.

mod common;

use common::warden;

fn setup() -> tempfile::TempDir {
    common::workspace("22")
}

const K: &str = "465b5ce8b199b49faa5f0a2ee238a6bc";
const OPC: &str = "cd63cb71954a9f4e48a5994e37a02baf";

#[test]
fn sim_csv_with_bad_rows_imports_nothing() {
    let d = setup();
    let csv = format!(
        "imsi,k,opc,amf,algorithm,priority\n\
         001010000000001,{K},{OPC},8000,milenage,standard\n\
         00101000000000x,{K},{OPC},8000,milenage,standard\n\
         001010000000003,{K},zz,8000,milenage,standard\n\
         001010000000004,{K},{OPC},80,milenage,standard\n\
         001010000000005,{K},{OPC},8000,comp128v2,standard\n\
         001010000000006,{K},{OPC},8000,milenage,urgent\n\
         001010000000001,{K},{OPC},8000,milenage,standard\n"
    );
    std::fs::write(d.path().join("sims.csv"), csv).unwrap();
    let out = warden(d.path(), &["sim", "import", "sims.csv"]);
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(1), "{err}");
    for needle in [
        "line 3: IMSI",
        "line 4: opc:",
        "line 5: amf: must be 2 bytes",
        "line 6: algorithm: authentication algorithm \"comp128v2\" is refused",
        "line 7: priority:",
        "line 8: IMSI 001010000000001 appears twice",
        "6 bad row(s); nothing was imported",
    ] {
        assert!(err.contains(needle), "missing {needle:?} in {err}");
    }
    assert!(!err.contains(K) && !err.contains(OPC), "keys never echoed");
    assert!(
        !warden(d.path(), &["sim", "show", "001010000000001"]).status.success(),
        "the good row was not written either"
    );

    std::fs::write(
        d.path().join("good.csv"),
        format!("imsi,k,opc\n001010000000001,{K},{OPC}\n001010000000002,{K},{OPC}\n"),
    )
    .unwrap();
    let out = warden(d.path(), &["sim", "import", "good.csv"]);
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "imported 2 SIMs");
    // Importing it again conflicts as a whole.
    let out = warden(d.path(), &["sim", "import", "good.csv"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("already exists; nothing was imported"));
}

#[test]
fn eir_csv_with_bad_rows_imports_nothing() {
    let d = setup();
    std::fs::write(d.path().join("eir.csv"), "imei,status,reason\n490154203237518,black,stolen\n490154203237517,black,bad luhn\ntac:123,grey,short\n35693803564380,purple,x\n").unwrap();
    let out = warden(d.path(), &["eir", "import", "eir.csv"]);
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(1));
    assert!(err.contains("line 3: IMEI") && err.contains("Luhn"), "{err}");
    assert!(err.contains("line 4: TAC \"123\" must be 8 digits"), "{err}");
    assert!(err.contains("line 5: status \"purple\""), "{err}");
    assert!(err.contains("3 bad row(s); nothing was imported"), "{err}");
}

#[test]
fn profile_file_with_an_invalid_profile_imports_nothing() {
    let d = setup();
    std::fs::write(
        d.path().join("p.toml"),
        "[[profile]]\nname = \"ok\"\nservices = [\"data\"]\n[[profile]]\nname = \"bad\"\nservices = []\n",
    )
    .unwrap();
    let out = warden(d.path(), &["profile", "import", "p.toml"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("profile bad: no services"));
    std::fs::write(d.path().join("s.csv"), format!("imsi,k,opc,profile\n001010000000001,{K},{OPC},ok\n")).unwrap();
    let out = warden(d.path(), &["sim", "import", "s.csv"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("profile \"ok\" does not exist"),
        "the valid profile was not written either"
    );
    std::fs::write(d.path().join("q.toml"), "[[profile]]\nname = \"x\"\nservices = [\"fax\"]\n").unwrap();
    let out = warden(d.path(), &["profile", "import", "q.toml"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("fax"));
}

#[tokio::test]
async fn cli_changes_land_in_a_verifiable_audit_trail() {
    let d = setup();
    std::fs::write(d.path().join("good.csv"), format!("imsi,k,opc\n001010000000001,{K},{OPC}\n")).unwrap();
    assert!(warden(d.path(), &["sim", "import", "good.csv"]).status.success());
    assert!(warden(d.path(), &["sim", "set-status", "001010000000001", "suspended"]).status.success());
    let out = warden(d.path(), &["audit-log", "show"]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let rows: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(rows.len(), 2, "{text}");
    assert_eq!(
        (rows[0]["action"].as_str(), rows[0]["resource"].as_str(), rows[0]["after"].as_str()),
        (Some("sim.import"), Some("good.csv"), Some(r#"{"imported":1}"#))
    );
    assert_eq!(
        (
            rows[1]["action"].as_str(),
            rows[1]["resource"].as_str(),
            rows[1]["before"].as_str(),
            rows[1]["after"].as_str()
        ),
        (Some("sim.set_status"), Some("sim/001010000000001"), Some(r#""active""#), Some(r#""suspended""#))
    );
    assert!(rows[1]["actor"].as_str().unwrap().starts_with("cli:"));
    assert!(!text.contains(K) && !text.contains(OPC), "no secrets in the trail");
    let out = warden(d.path(), &["audit-log", "verify"]);
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("audit log intact: 2 entries"));

    // Tamper with the database directly: verify fails naming the row.
    let pool =
        sqlx::SqlitePool::connect(&format!("sqlite://{}/data/warden.db?mode=rw", d.path().display())).await.unwrap();
    sqlx::query("UPDATE audit_log SET before = 'inventory' WHERE action = 'sim.set_status'")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let out = warden(d.path(), &["audit-log", "verify"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("audit log broken at row 2"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn set_status_follows_the_lifecycle() {
    let d = setup();
    std::fs::write(d.path().join("s.csv"), format!("imsi,k,opc\n001010000000001,{K},{OPC}\n")).unwrap();
    assert!(warden(d.path(), &["sim", "import", "s.csv"]).status.success());
    // active → terminated skips suspension: refused with the allowed path.
    let out = warden(d.path(), &["sim", "set-status", "001010000000001", "terminated"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("inventory → active ⇄ suspended → terminated"));
    assert!(warden(d.path(), &["sim", "set-status", "001010000000001", "suspended"]).status.success());
    assert!(warden(d.path(), &["sim", "set-status", "001010000000001", "terminated"]).status.success());
    let out = warden(d.path(), &["sim", "set-status", "001010000000001", "active"]);
    assert_eq!(out.status.code(), Some(1), "terminated is final");
    let out = warden(d.path(), &["sim", "set-status", "001019999999999", "active"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("not found"));
}

#[test]
fn host_reports_are_recorded_and_checked() {
    let d = setup();
    let out = warden(d.path(), &["eir", "host-report", "490154203237517", "Acme Meter 3"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Luhn"));
    let out = warden(d.path(), &["eir", "host-report", "490154203237518", "Acme Meter 3 fw 1.2"]);
    assert!(out.status.success());
    let out = warden(d.path(), &["audit-log", "show"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("Acme Meter 3 fw 1.2"));
}
