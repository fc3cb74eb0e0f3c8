//! Subscriber data of other HSSes, read as they store it, for both of its uses: the audit judges it
//! ([`crate::import`]) and `warden sim import-from` migrates it. Nothing is interpreted here beyond
//! the source's own numbering ([`osmocom_algorithm`]); keys are handed over as the hex text the
//! source holds and never printed.
//!
//! - osmo-hlr: its SQLite database, tables `subscriber`, `auc_2g` and `auc_3g` (read-only).
//! - PyHSS: its `auc` records, as the JSON list its API returns or its SQLite database; [`pyhss_algo`]
//!   reads the `algo` column with PyHSS's own semantics.
//!
//! SQLite files are opened so that neither they nor their directory change ([`open_sqlite`]).

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
    /// `algo` as stored (`None`: NULL, or absent from a JSON record); see [`pyhss_algo`].
    pub algo: Option<String>,
    /// The database has no `algo` column: written by a PyHSS before its GSUP support (releases 1.0.x),
    /// which makes no 2G triplets at all (3G/4G: MILENAGE). Its upgrade adds the column as NULL, which
    /// PyHSS then runs as COMP128v3.
    pub no_algo_column: bool,
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

/// What PyHSS does with a subscriber's `algo` column (PyHSS `lib/database.py`, `Get_Vectors_AuC`
/// action `2g3g`, and `lib/S6a_crypt.py`, `generate_2g3g_vector`). The column only selects how GSM
/// triplets (SRES, Kc) are made; 3G/4G vectors are always MILENAGE over `ki`/`opc`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PyhssAlgo {
    /// 1, 2 or 3: SRES/Kc from COMP128v1/v2/v3 over `ki`. `from_null` when the column is NULL, which
    /// PyHSS runs as 3.
    Comp128 {
        /// COMP128v1, v2 or v3.
        algorithm: AuthAlgorithm,
        /// The column was NULL.
        from_null: bool,
    },
    /// Any other integer (PyHSS's own fixture uses 0): SRES/Kc derived from MILENAGE, as a USIM does.
    Milenage(i64),
    /// Not an integer: PyHSS's `int(algo)` raises, so it cannot make 2G/3G vectors for the subscriber.
    NotANumber(String),
}

impl PyhssAlgo {
    /// The column as PyHSS reads it, for messages: `algo = 3`, `algo NULL (run as 3)`.
    pub fn describe(&self, raw: Option<&str>) -> String {
        match (self, raw) {
            (PyhssAlgo::Comp128 { from_null: true, .. }, _) => "algo NULL (PyHSS runs it as 3, COMP128v3)".into(),
            (PyhssAlgo::Comp128 { algorithm, .. }, Some(r)) => format!("algo = {} ({algorithm})", r.trim()),
            (_, Some(r)) => format!("algo = {r:?}"),
            (_, None) => "algo NULL".into(),
        }
    }
}

/// Reads PyHSS's `algo` column as PyHSS does: NULL is 3; an integer (Python `int()`, surrounding
/// whitespace and a sign allowed) selects COMP128v1-v3 for 1-3 and MILENAGE for any other value.
pub fn pyhss_algo(v: Option<&str>) -> PyhssAlgo {
    let Some(raw) = v else {
        return PyhssAlgo::Comp128 { algorithm: AuthAlgorithm::Comp128v3, from_null: true };
    };
    match raw.trim().strip_prefix('+').unwrap_or(raw.trim()).parse::<i64>() {
        Ok(1) => PyhssAlgo::Comp128 { algorithm: AuthAlgorithm::Comp128v1, from_null: false },
        Ok(2) => PyhssAlgo::Comp128 { algorithm: AuthAlgorithm::Comp128v2, from_null: false },
        Ok(3) => PyhssAlgo::Comp128 { algorithm: AuthAlgorithm::Comp128v3, from_null: false },
        Ok(n) => PyhssAlgo::Milenage(n),
        Err(_) => PyhssAlgo::NotANumber(raw.to_string()),
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
        let columns: Vec<String> = sqlx::query("SELECT name FROM pragma_table_info('auc')")
            .fetch_all(&mut db.conn)
            .await
            .map_err(|e| import_error(path, format!("not a PyHSS database ({e})")))?
            .iter()
            .filter_map(|r| r.try_get::<String, _>("name").ok())
            .collect();
        let no_algo_column = !columns.is_empty() && !columns.iter().any(|c| c == "algo");
        let select = if no_algo_column {
            "SELECT imsi, ki, opc, amf, NULL AS algo FROM auc ORDER BY auc_id"
        } else {
            "SELECT imsi, ki, opc, amf, algo FROM auc ORDER BY auc_id"
        };
        let rows = sqlx::query(select)
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
                let null = r.try_get_raw("algo").map(|v| sqlx::ValueRef::is_null(&v)).unwrap_or(true);
                PyhssRecord {
                    imsi: get("imsi"),
                    msisdn: None,
                    algo: (!null).then(|| get("algo")),
                    no_algo_column,
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
                algo: match r.get("algo") {
                    None | Some(Json::Null) => None,
                    Some(_) => Some(s("algo")),
                },
                no_algo_column: false,
                ki: s("ki"),
                opc: opt("opc"),
                amf: opt("amf"),
                table: "[]",
            })
        })
        .collect()
}
