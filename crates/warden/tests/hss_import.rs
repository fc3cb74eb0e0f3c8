//! Importing other HSSes' subscriber data: PyHSS, Open5GS and osmo-hlr. COMP128/XOR subscribers are
//! refused by name; a refusal means nothing is imported unless --skip-refused; imported keys produce the
//! same vectors as the source's keys. Key hygiene: published test keys and a shared K refuse the import
//! unless --allow-test-keys (these tests use the TS 35.208 set 1 key, so they pass it); an empty source
//! is an error.

mod common;

use common::warden;

use std::path::Path;

const K: &str = "465b5ce8b199b49faa5f0a2ee238a6bc";
const OP: &str = "cdc202d5123e20f62b6d676ac72cb318";
const OPC: &str = "cd63cb71954a9f4e48a5994e37a02baf";

fn dir() -> tempfile::TempDir {
    common::workspace("11")
}

async fn store(dir: &Path) -> store::Store {
    let keys = store::seal::Keyring::new(store::seal::Kek::from_hex(1, &"11".repeat(32)).unwrap(), vec![]);
    store::Store::open(&format!("sqlite://{}/data/warden.db", dir.display()), keys).await.unwrap()
}

/// The imported SIM computes the TS 35.208 set 1 vector.
async fn assert_keys(dir: &Path, imsi: &str) {
    let (_, alg) = store(dir)
        .await
        .auth_material(&imsi.parse().unwrap())
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("{imsi} imported"));
    let rand = auc::Rand::from_slice(&hex::decode("23553cbe9637a89d218ae64dae47bf35").unwrap()).unwrap();
    let (_, res, _, _, _) = alg.vector_outputs(&rand, auc::Sqn::new(0).unwrap(), auc::Amf([0, 0]));
    assert_eq!(hex::encode(res.as_slice()), "a54211d5e3ba50bf");
}

fn text(o: &std::process::Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

#[tokio::test]
async fn pyhss_export() {
    let d = dir();
    // Both records have an OPc: record 1 has no `algo` (NULL: PyHSS runs COMP128v3 for 2G), record 2
    // has "3". Both are MILENAGE USIMs and import as such; both use the TS 35.208 set 1 key.
    let rows = serde_json::json!([
        {"auc_id": 1, "imsi": "001010000000001", "ki": K, "opc": OPC, "amf": "8000", "sqn": 1, "msisdn": "491700000001"},
        {"auc_id": 2, "imsi": "001010000000002", "ki": K, "opc": OPC, "amf": "8000", "sqn": 1, "algo": "3"}
    ]);
    std::fs::write(d.path().join("pyhss.json"), rows.to_string()).unwrap();
    let out = warden(d.path(), &["sim", "import-from", "pyhss", "pyhss.json"]);
    assert_eq!(out.status.code(), Some(1));
    let t = text(&out);
    assert!(t.contains("published test key") && t.contains("3GPP TS 35.208 test set 1"), "{t}");
    assert!(t.contains("share one K") && t.contains("--allow-test-keys") && t.contains("nothing was imported"), "{t}");
    assert!(store(d.path()).await.sim(&"001010000000001".parse().unwrap()).await.unwrap().is_none(), "all or nothing");
    assert!(!t.contains(K) && !t.contains(OPC), "keys never echoed");
    let out = warden(d.path(), &["sim", "import-from", "pyhss", "pyhss.json", "--allow-test-keys"]);
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(t.contains("imported 2 subscribers, refused 0"), "{t}");
    assert!(t.contains("IMSI 001010000000002: algo = 3 (comp128v3): PyHSS made its 2G triplets with COMP128v3"), "{t}");
    assert!(t.contains("IMSI 001010000000001: algo NULL (PyHSS runs it as 3, COMP128v3)"), "{t}");
    assert!(t.contains("warning:") && t.contains("WA-ALG-073"), "{t}");
    assert_keys(d.path(), "001010000000001").await;
    assert_keys(d.path(), "001010000000002").await;
    assert!(!t.contains(K), "keys never echoed");
}

/// PyHSS's own schema and fixture row (algo "0", tests/conftest.py), and the other `algo` cases.
#[tokio::test]
async fn pyhss_database_with_its_own_fixture() {
    let d = dir();
    let audit_data = |n: &str| {
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../audit/tests/data/pyhss").join(n))
            .unwrap()
    };
    let db = d.path().join("hss.db");
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}?mode=rwc", db.display())).await.unwrap();
    sqlx::raw_sql(&audit_data("schema.sql")).execute(&pool).await.unwrap();
    pool.close().await;
    // An empty source (a copy without its WAL) is an error, not "imported 0".
    let out = warden(d.path(), &["sim", "import-from", "pyhss", "hss.db"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("no subscriber in the source"), "{}", text(&out));

    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", db.display())).await.unwrap();
    sqlx::raw_sql(&audit_data("fixture.sql")).execute(&pool).await.unwrap();
    pool.close().await;
    // Row 1 has PyHSS's published fixture keys: refused unless --allow-test-keys.
    let out = warden(d.path(), &["sim", "import-from", "pyhss", "hss.db"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(t.contains("IMSI 262423403000001 (K is the K of PyHSS's test fixture"), "{t}");
    let out = warden(d.path(), &["sim", "import-from", "pyhss", "hss.db", "--allow-test-keys", "--skip-refused"]);
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    // algo "0" imports cleanly; the 2G-only COMP128 SIM (no OPc, algo 1) is the only refusal.
    assert!(t.contains("imported 5 subscribers, refused 1"), "{t}");
    assert!(t.contains("IMSI 262423403000004: no OPc: a 2G-only SIM with COMP128v1"), "{t}");
    assert!(!t.contains("IMSI 262423403000001:") && !t.contains("IMSI 262423403000005:"), "{t}");
    assert!(store(d.path()).await.sim(&"262423403000001".parse().unwrap()).await.unwrap().is_some());
}

/// An OPc shared over different keys and K = OPc warn without blocking.
#[tokio::test]
async fn hygiene_warnings_do_not_block() {
    let d = dir();
    let rows = serde_json::json!([
        {"imsi": "001010000000031", "ki": "5f1d7a3c9e2b4f60a8c1d3e5f7092b4d", "opc": "9a7c5e3f1d2b4c6a8e0f1a3b5c7d9e2f", "amf": "8000", "algo": "0"},
        {"imsi": "001010000000032", "ki": "2b4d6f8a0c1e3a5c7e9b1d3f5a7c9e0b", "opc": "9a7c5e3f1d2b4c6a8e0f1a3b5c7d9e2f", "amf": "8000", "algo": "0"},
        {"imsi": "001010000000033", "ki": "d1e3f5a7c9b1d3e5f7a9c1b3d5e7f9a1", "opc": "d1e3f5a7c9b1d3e5f7a9c1b3d5e7f9a1", "amf": "8000", "algo": "0"}
    ]);
    std::fs::write(d.path().join("pyhss.json"), rows.to_string()).unwrap();
    let out = warden(d.path(), &["sim", "import-from", "pyhss", "pyhss.json"]);
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(t.contains("imported 3 subscribers"), "{t}");
    assert!(t.contains("share one OPc over different keys: [IMSI 001010000000031, 001010000000032]"), "{t}");
    assert!(t.contains("K equal to OPc: IMSI 001010000000033"), "{t}");
    assert!(!t.contains("9a7c5e3f") && !t.contains("d1e3f5a7"), "{t}");
}

#[tokio::test]
async fn open5gs_export() {
    let d = dir();
    let rows = serde_json::json!([
        {"_id": {"$oid": "x"}, "imsi": "001010000000011", "msisdn": ["491700000011"], "security": {"k": K, "op": OP, "opc": null, "amf": "8000", "sqn": {"$numberLong": "97"}}},
        {"imsi": "001010000000012", "security": {"k": K, "op": null, "opc": OPC, "amf": "8000"}}
    ]);
    std::fs::write(d.path().join("o5gs.json"), rows.to_string()).unwrap();
    // The TS 35.208 set 1 key on both: a lab import (--allow-test-keys).
    let out = warden(d.path(), &["sim", "import-from", "open5gs", "o5gs.json", "--tenant", "acme"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let out =
        warden(d.path(), &["sim", "import-from", "open5gs", "o5gs.json", "--tenant", "acme", "--allow-test-keys"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_keys(d.path(), "001010000000011").await;
    assert_keys(d.path(), "001010000000012").await;
    let sim = store(d.path()).await.sim(&"001010000000011".parse().unwrap()).await.unwrap().unwrap();
    assert_eq!((sim.tenant.as_str(), sim.msisdn.as_deref()), ("acme", Some("491700000011")));
}

#[tokio::test]
async fn osmo_hlr_database() {
    let d = dir();
    let db = d.path().join("hlr.db");
    // The columns of osmo-hlr's schema that the importer reads.
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}?mode=rwc", db.display())).await.unwrap();
    for sql in [
        "CREATE TABLE subscriber (id INTEGER PRIMARY KEY, imsi VARCHAR(15) UNIQUE NOT NULL, msisdn VARCHAR(15) UNIQUE)",
        "CREATE TABLE auc_2g (subscriber_id INTEGER PRIMARY KEY, algo_id_2g INTEGER NOT NULL, ki VARCHAR NOT NULL)",
        "CREATE TABLE auc_3g (subscriber_id INTEGER PRIMARY KEY, algo_id_3g INTEGER NOT NULL, k VARCHAR NOT NULL, op VARCHAR, opc VARCHAR, sqn INTEGER NOT NULL DEFAULT 0, ind_bitlen INTEGER NOT NULL DEFAULT 5)",
        "INSERT INTO subscriber VALUES (1, '001010000000021', '1001'), (2, '001010000000022', '1002'), (3, '001010000000023', NULL), \
         (4, '001010000000024', NULL), (5, '001010000000025', NULL)",
        "INSERT INTO auc_2g VALUES (1, 1, '000102030405060708090a0b0c0d0e0f'), (2, 2, '000102030405060708090a0b0c0d0e0f'), \
         (5, 6, '000102030405060708090a0b0c0d0e0f')",
        &format!(
            "INSERT INTO auc_3g VALUES (2, 5, '{K}', '{OP}', NULL, 0, 5), (3, 5, '{K}', NULL, '{OPC}', 0, 5), \
             (4, 4, '{K}', NULL, '{OPC}', 0, 5)"
        ),
    ] {
        sqlx::query(sql).execute(&pool).await.unwrap();
    }
    pool.close().await;
    let out = warden(d.path(), &["sim", "import-from", "osmo-hlr", "hlr.db", "--allow-test-keys"]);
    assert_eq!(out.status.code(), Some(1));
    let t = text(&out);
    assert!(t.contains("IMSI 001010000000021: only a 2G key with COMP128v1"), "{t}");
    // libosmocore's names: 4 is the 3G XOR, 6 the 2G one.
    assert!(t.contains("IMSI 001010000000024: 3G algorithm XOR-3G is refused"), "{t}");
    assert!(t.contains("IMSI 001010000000025: only a 2G key with XOR-2G"), "{t}");
    let out = warden(d.path(), &["sim", "import-from", "osmo-hlr", "hlr.db", "--skip-refused", "--allow-test-keys"]);
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(t.contains("IMSI 001010000000022: 2G algorithm COMP128v2 dropped"), "{t}");
    assert_keys(d.path(), "001010000000022").await;
    assert_keys(d.path(), "001010000000023").await;
}
