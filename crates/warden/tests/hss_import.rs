//! Importing other HSSes' subscriber data: PyHSS, Open5GS and osmo-hlr. COMP128/XOR subscribers are
//! refused by name; a refusal means nothing is imported unless --skip-refused; imported keys produce the
//! same vectors as the source's keys.

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
    let rows = serde_json::json!([
        {"auc_id": 1, "imsi": "001010000000001", "ki": K, "opc": OPC, "amf": "8000", "sqn": 1, "msisdn": "491700000001"},
        {"auc_id": 2, "imsi": "001010000000002", "ki": K, "opc": OPC, "amf": "8000", "sqn": 1, "algo": "3"}
    ]);
    std::fs::write(d.path().join("pyhss.json"), rows.to_string()).unwrap();
    let out = warden(d.path(), &["sim", "import-from", "pyhss", "pyhss.json"]);
    assert_eq!(out.status.code(), Some(1));
    let t = text(&out);
    assert!(t.contains("IMSI 001010000000002") && t.contains("comp128v3") && t.contains("nothing was imported"), "{t}");
    assert!(store(d.path()).await.sim(&"001010000000001".parse().unwrap()).await.unwrap().is_none(), "all or nothing");
    let out = warden(d.path(), &["sim", "import-from", "pyhss", "pyhss.json", "--skip-refused"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("imported 1 subscribers, refused 1"));
    assert_keys(d.path(), "001010000000001").await;
    assert!(!text(&out).contains(K), "keys never echoed");
}

#[tokio::test]
async fn open5gs_export() {
    let d = dir();
    let rows = serde_json::json!([
        {"_id": {"$oid": "x"}, "imsi": "001010000000011", "msisdn": ["491700000011"], "security": {"k": K, "op": OP, "opc": null, "amf": "8000", "sqn": {"$numberLong": "97"}}},
        {"imsi": "001010000000012", "security": {"k": K, "op": null, "opc": OPC, "amf": "8000"}}
    ]);
    std::fs::write(d.path().join("o5gs.json"), rows.to_string()).unwrap();
    let out = warden(d.path(), &["sim", "import-from", "open5gs", "o5gs.json", "--tenant", "acme"]);
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
        "INSERT INTO subscriber VALUES (1, '001010000000021', '1001'), (2, '001010000000022', '1002'), (3, '001010000000023', NULL)",
        "INSERT INTO auc_2g VALUES (1, 1, '000102030405060708090a0b0c0d0e0f'), (2, 2, '000102030405060708090a0b0c0d0e0f')",
        &format!("INSERT INTO auc_3g VALUES (2, 5, '{K}', '{OP}', NULL, 0, 5), (3, 5, '{K}', NULL, '{OPC}', 0, 5)"),
    ] {
        sqlx::query(sql).execute(&pool).await.unwrap();
    }
    pool.close().await;
    let out = warden(d.path(), &["sim", "import-from", "osmo-hlr", "hlr.db"]);
    assert_eq!(out.status.code(), Some(1));
    let t = text(&out);
    assert!(t.contains("IMSI 001010000000021: only a 2G key with COMP128v1"), "{t}");
    let out = warden(d.path(), &["sim", "import-from", "osmo-hlr", "hlr.db", "--skip-refused"]);
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(t.contains("IMSI 001010000000022: 2G algorithm COMP128v2 dropped"), "{t}");
    assert_keys(d.path(), "001010000000022").await;
    assert_keys(d.path(), "001010000000023").await;
}
