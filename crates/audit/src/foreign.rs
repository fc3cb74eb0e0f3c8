//! Subscriber data of other HSSes, read as they store it, for both of its uses: the audit judges it
//! ([`crate::import`]) and `warden sim import-from` migrates it. Nothing is interpreted here beyond
//! the source's own numbering ([`osmocom_algorithm`]); keys are handed over as the hex text the
//! source holds and never printed.
//!
//! - osmo-hlr: its SQLite database, tables `subscriber`, `auc_2g` and `auc_3g` (read-only).
//!
//! SQLite files are opened so that neither they nor their directory change ([`open_sqlite`]).
//! - PyHSS: its `auc` records, as the JSON list its API returns or its SQLite database.

use std::path::Path;

use serde_json::Value as Json;
use sqlx::{ConnectOptions, Row};

use crate::model::AuthAlgorithm;
use crate::AuditError;

fn import_error(path: &Path, message: impl Into<String>) -> AuditError {
    AuditError::Import { origin: path.display().to_string(), message: message.into() }
}

/// One osmo-hlr subscriber with its authentication data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OsmoHlrSubscriber {
    /// IMSI.
    pub imsi: String,
    /// MSISDN.
    pub msisdn: Option<String>,
    /// `auc_2g.algo_id_2g` (libosmocore numbering; 0 or absent: none).
    pub algo_2g: Option<i64>,
    /// `auc_2g.ki`.
    pub ki: Option<String>,
    /// `auc_3g.algo_id_3g` (0 or absent: none).
    pub algo_3g: Option<i64>,
    /// `auc_3g.k`.
    pub k: Option<String>,
    /// `auc_3g.op`.
    pub op: Option<String>,
    /// `auc_3g.opc`.
    pub opc: Option<String>,
}

/// One PyHSS `auc` record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PyhssRecord {
    /// IMSI.
    pub imsi: String,
    /// MSISDN (JSON exports that carry one).
    pub msisdn: Option<String>,
    /// `algo`: the 2G algorithm, 1-3 for COMP128v1-v3 or a name; empty: none (PyHSS computes 3G/4G
    /// vectors with MILENAGE).
    pub algo: String,
    /// `ki`.
    pub ki: String,
    /// `opc`.
    pub opc: Option<String>,
    /// `amf`.
    pub amf: Option<String>,
    /// Where the record's fields are, for findings: `auc` (database) or `[]` (JSON).
    pub table: &'static str,
}

/// libosmocore `enum osmo_auth_algo`: 1-3 COMP128v1-v3, 4 XOR-3G, 5 MILENAGE, 6 XOR-2G, 7 TUAK.
pub fn osmocom_algorithm(id: i64) -> Result<AuthAlgorithm, String> {
    match id {
        1 => Ok(AuthAlgorithm::Comp128v1),
        2 => Ok(AuthAlgorithm::Comp128v2),
        3 => Ok(AuthAlgorithm::Comp128v3),
        4 | 6 => Ok(AuthAlgorithm::Xor),
        5 => Ok(AuthAlgorithm::Milenage),
        7 => Ok(AuthAlgorithm::Tuak),
        n => Err(format!("unknown osmocom algorithm {n}")),
    }
}

/// PyHSS `algo`: 1-3 are COMP128v1-v3; names are accepted too; empty means none.
pub fn pyhss_algorithm(v: &str) -> Result<Option<AuthAlgorithm>, String> {
    match v.trim() {
        "" => Ok(None),
        "1" => Ok(Some(AuthAlgorithm::Comp128v1)),
        "2" => Ok(Some(AuthAlgorithm::Comp128v2)),
        "3" => Ok(Some(AuthAlgorithm::Comp128v3)),
        other => other.parse().map(Some),
    }
}

/// An SQLite database opened for reading without touching it or its directory.
pub(crate) struct ReadOnlyDb {
    /// The connection.
    pub(crate) conn: sqlx::SqliteConnection,
    /// Size of the write-ahead log beside the database (0: none), read through a private copy.
    pub(crate) wal_bytes: u64,
    /// The private copy, removed when the database is dropped.
    _copy: Option<tempfile::TempDir>,
}

/// Opens an SQLite file for reading and leaves its directory unchanged: no `-wal`, `-shm` or journal is
/// created beside it. Without a write-ahead log beside it, the file is opened `immutable` (SQLite takes
/// no lock and creates nothing). With a non-empty `-wal` beside it (a live or uncleanly stopped WAL-mode
/// database), the rows it holds are not yet in the file: the database and its log are copied to a private
/// temporary directory and read there, so nothing written before the copy is missed.
pub(crate) async fn open_sqlite(path: &Path) -> Result<ReadOnlyDb, AuditError> {
    if !path.is_file() {
        return Err(import_error(path, "no such database file"));
    }
    let failed = |e: &dyn std::fmt::Display| import_error(path, e.to_string());
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    let wal = std::path::PathBuf::from(wal);
    let wal_bytes = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
    if wal_bytes > 0 {
        let dir = tempfile::tempdir().map_err(|e| failed(&e))?;
        let copy = dir.path().join("db");
        std::fs::copy(path, &copy).map_err(|e| failed(&e))?;
        std::fs::copy(&wal, dir.path().join("db-wal")).map_err(|e| failed(&e))?;
        // Read-write on the copy only, so SQLite can rebuild the WAL index from the log.
        let conn = sqlx::sqlite::SqliteConnectOptions::new().filename(&copy).connect().await.map_err(|e| failed(&e))?;
        return Ok(ReadOnlyDb { conn, wal_bytes, _copy: Some(dir) });
    }
    let conn = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(path)
        .read_only(true)
        .immutable(true)
        .connect()
        .await
        .map_err(|e| failed(&e))?;
    Ok(ReadOnlyDb { conn, wal_bytes: 0, _copy: None })
}

/// What [`osmo_hlr_read`] read.
pub struct OsmoHlrRead {
    /// Every subscriber, in the database's order.
    pub subscribers: Vec<OsmoHlrSubscriber>,
    /// Size of the write-ahead log read with the database (0: none).
    pub wal_bytes: u64,
}

/// Reads every subscriber of an osmo-hlr database, in its order.
pub async fn osmo_hlr(path: &Path) -> Result<Vec<OsmoHlrSubscriber>, AuditError> {
    Ok(osmo_hlr_read(path).await?.subscribers)
}

/// Reads every subscriber of an osmo-hlr database, in its order, with what was read beside it.
pub async fn osmo_hlr_read(path: &Path) -> Result<OsmoHlrRead, AuditError> {
    let mut db = open_sqlite(path).await?;
    let rows = sqlx::query(
        "SELECT s.imsi, s.msisdn, a2.algo_id_2g, a2.ki, a3.algo_id_3g, a3.k, a3.op, a3.opc FROM subscriber s \
         LEFT JOIN auc_2g a2 ON a2.subscriber_id = s.id LEFT JOIN auc_3g a3 ON a3.subscriber_id = s.id ORDER BY s.id",
    )
    .fetch_all(&mut db.conn)
    .await
    .map_err(|e| import_error(path, format!("not an osmo-hlr database ({e})")))?;
    let subscribers = rows
        .iter()
        .map(|r| {
            let text = |c: &str| r.try_get::<Option<String>, _>(c).ok().flatten().filter(|s| !s.is_empty());
            let int = |c: &str| r.try_get::<Option<i64>, _>(c).ok().flatten();
            OsmoHlrSubscriber {
                imsi: text("imsi").unwrap_or_default(),
                msisdn: text("msisdn"),
                algo_2g: int("algo_id_2g"),
                ki: text("ki"),
                algo_3g: int("algo_id_3g"),
                k: text("k"),
                op: text("op"),
                opc: text("opc"),
            }
        })
        .collect();
    Ok(OsmoHlrRead { subscribers, wal_bytes: db.wal_bytes })
}

/// Reads PyHSS `auc` records from its SQLite database or a JSON export (told apart by content).
pub async fn pyhss(path: &Path) -> Result<Vec<PyhssRecord>, AuditError> {
    let bytes = std::fs::read(path).map_err(|e| AuditError::Io(path.display().to_string(), e))?;
    if bytes.starts_with(b"SQLite format 3\0") {
        let mut db = open_sqlite(path).await?;
        let rows = sqlx::query("SELECT imsi, ki, opc, amf, algo FROM auc ORDER BY auc_id")
            .fetch_all(&mut db.conn)
            .await
            .map_err(|e| import_error(path, format!("not a PyHSS database ({e})")))?;
        return Ok(rows
            .iter()
            .map(|r| {
                let get = |c: &str| -> String {
                    r.try_get::<Option<String>, _>(c)
                        .ok()
                        .flatten()
                        .or_else(|| r.try_get::<Option<i64>, _>(c).ok().flatten().map(|n| n.to_string()))
                        .unwrap_or_default()
                };
                let opt = |c: &str| Some(get(c)).filter(|s| !s.is_empty());
                PyhssRecord {
                    imsi: get("imsi"),
                    msisdn: None,
                    algo: get("algo"),
                    ki: get("ki"),
                    opc: opt("opc"),
                    amf: opt("amf"),
                    table: "auc",
                }
            })
            .collect());
    }
    let json: Json = serde_json::from_slice(&bytes).map_err(|e| import_error(path, e.to_string()))?;
    let list = json.as_array().ok_or_else(|| import_error(path, "expected a JSON array of PyHSS auc records"))?;
    list.iter()
        .enumerate()
        .map(|(i, r)| {
            let s = |k: &str| match r.get(k) {
                Some(Json::String(x)) => x.clone(),
                Some(Json::Number(n)) => n.to_string(),
                _ => String::new(),
            };
            let opt = |k: &str| Some(s(k)).filter(|v| !v.is_empty());
            if s("imsi").is_empty() {
                return Err(import_error(path, format!("record {}: no imsi", i + 1)));
            }
            Ok(PyhssRecord {
                imsi: s("imsi"),
                msisdn: opt("msisdn"),
                algo: s("algo"),
                ki: s("ki"),
                opc: opt("opc"),
                amf: opt("amf"),
                table: "[]",
            })
        })
        .collect()
}
