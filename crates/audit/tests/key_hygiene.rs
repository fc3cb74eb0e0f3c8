//! Key hygiene on the HSS imports: the published values are what their sources say (checked with
//! MILENAGE), and osmo-hlr and PyHSS imports raise the hygiene findings.

use std::path::{Path, PathBuf};

use audit::key_hygiene::{well_known, WELL_KNOWN};
use audit::Report;
use sqlx::ConnectOptions;

/// TS 35.208 test sets 1-6: (K, OP, OPc) as listed in key_hygiene.
#[test]
fn published_op_and_opc_values_are_the_ts_35_208_ones() {
    let value = |what: &str| WELL_KNOWN.iter().find(|(_, w)| *w == what).map(|(v, _)| *v).unwrap();
    for set in 1..=6 {
        let k = WELL_KNOWN
            .iter()
            .find(|(_, w)| w.starts_with(&format!("the K of 3GPP TS 35.208 test set {set}")))
            .unwrap()
            .0;
        let op = value(&format!("the OP of 3GPP TS 35.208 test set {set}"));
        let opc = value(&format!("the OPc of 3GPP TS 35.208 test set {set}"));
        let key = auc::Key::from_slice(&hex::decode(k).unwrap()).unwrap();
        let op = auc::Op::from_slice(&hex::decode(op).unwrap()).unwrap();
        let derived = auc::Milenage::opc(&key, &op).unwrap();
        assert_eq!(hex::encode(derived.expose()), opc, "test set {set}");
    }
    assert!(well_known("465B5CE8B199B49FAA5F0A2EE238A6BC ").is_some());
    assert!(well_known("ffffffffffffffffffffffffffffffff").is_some());
    assert!(well_known("5f1d7a3c9e2b4f60a8c1d3e5f7092b4d").is_none());
}

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(name)
}

async fn sqlite(dir: &Path, name: &str, sql: &str) -> PathBuf {
    let path = dir.join(name);
    let mut conn =
        sqlx::sqlite::SqliteConnectOptions::new().filename(&path).create_if_missing(true).connect().await.unwrap();
    sqlx::raw_sql(sql).execute(&mut conn).await.unwrap();
    path
}

#[tokio::test]
async fn pyhss_shared_keys_and_k_equal_opc() {
    let dir = tempfile::tempdir().unwrap();
    let schema = std::fs::read_to_string(data("pyhss/schema.sql")).unwrap();
    let rows = "INSERT INTO auc (auc_id, ki, opc, amf, sqn, imsi, algo) VALUES \
        (1, '5f1d7a3c9e2b4f60a8c1d3e5f7092b4d', '9a7c5e3f1d2b4c6a8e0f1a3b5c7d9e2f', '8000', 0, '262423403000011', '0'), \
        (2, '5F1D7A3C9E2B4F60A8C1D3E5F7092B4D', '9a7c5e3f1d2b4c6a8e0f1a3b5c7d9e2f', '8000', 0, '262423403000012', '0'), \
        (3, '2b4d6f8a0c1e3a5c7e9b1d3f5a7c9e0b', 'c4e6a8b0d2f4a6c8e0b2d4f6a8c0e2b4', '8000', 0, '262423403000013', '0'), \
        (4, '7e9c1a3f5d7b9e1c3a5f7d9b1e3c5a7f', 'c4e6a8b0d2f4a6c8e0b2d4f6a8c0e2b4', '8000', 0, '262423403000014', '0'), \
        (5, 'd1e3f5a7c9b1d3e5f7a9c1b3d5e7f9a1', 'd1e3f5a7c9b1d3e5f7a9c1b3d5e7f9a1', '8000', 0, '262423403000015', '0');";
    let db = sqlite(dir.path(), "hss.db", &format!("{schema}\n{rows}")).await;
    let mut r = Report::new();
    audit::import::pyhss(&db, &mut r).await.unwrap();
    assert_eq!(r.ids().into_iter().collect::<Vec<_>>(), ["WA-ALG-071", "WA-ALG-072", "WA-ALG-074"]);
    let d = |id: &str| r.findings.iter().find(|f| f.check.id == id).unwrap().detail.clone();
    assert!(d("WA-ALG-071").contains("[IMSI 262423403000011, 262423403000012]"), "{}", d("WA-ALG-071"));
    assert!(d("WA-ALG-072").contains("[IMSI 262423403000013, 262423403000014]"), "{}", d("WA-ALG-072"));
    assert!(d("WA-ALG-074").contains("262423403000015"));
    for f in &r.findings {
        for key in ["5f1d7a3c", "9a7c5e3f", "c4e6a8b0", "d1e3f5a7"] {
            assert!(!f.detail.to_ascii_lowercase().contains(key), "{}", f.detail);
        }
    }
}

#[tokio::test]
async fn osmo_hlr_hygiene_and_empty_database() {
    let dir = tempfile::tempdir().unwrap();
    let db = sqlite(dir.path(), "hlr.db", &std::fs::read_to_string(data("osmo-hlr.sql")).unwrap()).await;
    let mut r = Report::new();
    audit::import::osmo_hlr(&db, &mut r).await.unwrap();
    // osmo-hlr.sql uses TS 35.208 keys: reported as published test keys.
    let known = r.findings.iter().find(|f| f.check.id == "WA-ALG-073").expect("published keys");
    assert!(known.detail.contains("3GPP TS 35.208"), "{}", known.detail);

    // The schema without rows (a copy without its WAL): WA-ALG-075, not silence.
    let schema: String = std::fs::read_to_string(data("osmo-hlr.sql"))
        .unwrap()
        .split(';')
        .filter(|s| s.trim_start().to_ascii_uppercase().contains("CREATE TABLE"))
        .map(|s| format!("{s};"))
        .collect();
    let empty = sqlite(dir.path(), "empty.db", &schema).await;
    let mut r = Report::new();
    audit::import::osmo_hlr(&empty, &mut r).await.unwrap();
    assert_eq!(r.ids().into_iter().collect::<Vec<_>>(), ["WA-ALG-075"]);
}
