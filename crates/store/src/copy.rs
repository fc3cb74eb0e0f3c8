//! Copying a whole store from SQLite into an empty PostgreSQL database (`warden storage migrate`).
//!
//! Generic over the schema: the tables are the source's (less sqlx's bookkeeping, SQLite's own and
//! [`RUNTIME_TABLES`]), their columns and types the target's, their order the target's foreign keys
//! (a referenced table first). Rows are read in `rowid` order from one read snapshot of the source and
//! written with bound parameters, many rows per `INSERT`. Everything is written in one PostgreSQL
//! transaction, which is committed only after every check passed inside it:
//! - every target table was empty (locked against writers for the transaction's life);
//! - each table holds as many rows as the source's;
//! - sequences (`BIGSERIAL`) continue above the copied ids;
//! - a sample of SIMs opens with the keyring of the target store (sealed K/OPc are copied as they
//!   are, so the same KEK must open them);
//! - the audit trail's hash chain verifies.
//!
//! Any failure rolls the whole copy back: the target is left as empty as it was.

use std::collections::{BTreeMap, BTreeSet};

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::audit::{verify_chain, ChainBroken};
use crate::db::{keyed_from_row, Backend, Store, SIM_COLUMNS};
use crate::error::StoreError;

/// Tables that describe running instances rather than data (instance registrations, their Diameter
/// peers): neither copied nor required to be empty in the target. A name that no schema version has
/// yet is simply never met.
pub const RUNTIME_TABLES: &[&str] = &["cluster_instances", "cluster_peers"];

/// How many SIMs, picked at random, must open with the keyring after the copy.
const SIMS_TO_OPEN: i64 = 100;

/// Most bound values in one `INSERT` (PostgreSQL allows 65,535).
const VALUES_PER_INSERT: usize = 20_000;

/// Most rows read from the source at once.
const ROWS_PER_READ: usize = 1_000;

/// How far the copy is, for a progress display.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress<'a> {
    /// The source was counted: this many rows will be copied.
    Counted(u64),
    /// A table is being copied.
    Table(&'a str),
    /// This many more rows were written.
    Copied(u64),
    /// Every row is written; the checks run.
    Verifying,
}

/// What was copied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyReport {
    /// Each copied table with its row count, in copy order.
    pub tables: Vec<(String, u64)>,
    /// SIMs whose keys were opened on the target.
    pub sims_opened: u64,
    /// Audit entries whose chain verified on the target.
    pub audit_entries: u64,
}

/// Why nothing was copied.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    /// The source must be SQLite and the target PostgreSQL.
    #[error("copy goes from SQLite to PostgreSQL: the source is {0:?} and the target {1:?}")]
    Backends(Backend, Backend),
    /// The two schemas are at different versions.
    #[error("schema versions differ: the source is at {source_version}, the target at {target_version}")]
    Versions {
        /// The source's.
        source_version: i64,
        /// The target's.
        target_version: i64,
    },
    /// The target holds rows.
    #[error("the target database is not empty ({}); copy only into an empty database", rows(.0))]
    TargetNotEmpty(Vec<(String, i64)>),
    /// A source table the target does not have.
    #[error("table {0} exists in the source but not in the target")]
    MissingTable(String),
    /// A column only one side has.
    #[error("column {table}.{column} exists only in the {side}")]
    MissingColumn {
        /// The table.
        table: String,
        /// The column.
        column: String,
        /// `source` or `target`.
        side: &'static str,
    },
    /// A target column type the copy does not map.
    #[error("column {table}.{column} has PostgreSQL type {data_type}, which the copy does not map")]
    UnsupportedType {
        /// The table.
        table: String,
        /// The column.
        column: String,
        /// Its `information_schema` type.
        data_type: String,
    },
    /// Foreign keys that no table order satisfies.
    #[error("the foreign keys among {0} form a cycle; no copy order satisfies them")]
    Cycle(String),
    /// Reading or writing a table failed (the target refused a row, a value did not decode, …).
    #[error("copying table {table}: {source}")]
    Table {
        /// The table.
        table: String,
        /// Why.
        source: StoreError,
    },
    /// A table's row count differs after the copy.
    #[error("table {table}: {source_rows} rows in the source but {target_rows} in the target after the copy")]
    Count {
        /// The table.
        table: String,
        /// Rows in the source.
        source_rows: i64,
        /// Rows in the target.
        target_rows: i64,
    },
    /// A copied SIM's keys do not open with the keyring.
    #[error("a copied SIM's keys do not open with the configured keyring: {0}")]
    Keys(StoreError),
    /// The audit chain does not verify on the target.
    #[error("the audit trail does not verify on the target: {broken} ({source_state})")]
    Audit {
        /// Where it breaks.
        broken: ChainBroken,
        /// Whether the source's verifies.
        source_state: String,
    },
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for CopyError {
    fn from(e: sqlx::Error) -> Self {
        CopyError::Store(e.into())
    }
}

fn rows(tables: &[(String, i64)]) -> String {
    tables.iter().map(|(t, n)| format!("{t} has {n} rows")).collect::<Vec<_>>().join(", ")
}

/// A quoted identifier (the same quoting in SQLite and PostgreSQL).
fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// How a target column's values are read and bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Integer,
    Real,
    Bytes,
}

impl Kind {
    fn of(data_type: &str) -> Option<Kind> {
        match data_type {
            "text" | "character varying" | "character" => Some(Kind::Text),
            "bigint" | "integer" | "smallint" => Some(Kind::Integer),
            "double precision" | "real" => Some(Kind::Real),
            "bytea" => Some(Kind::Bytes),
            _ => None,
        }
    }
}

/// One table to copy.
#[derive(Debug)]
struct Table {
    name: String,
    columns: Vec<(String, Kind)>,
    /// Columns whose default is a sequence.
    serial: Vec<String>,
    /// Tables it references.
    parents: BTreeSet<String>,
}

/// Copies every table of `source` (SQLite) into `target` (PostgreSQL, every table empty) in one
/// transaction of the target, checked before it commits; see the module's documentation.
pub async fn sqlite_to_postgres(
    source: &Store,
    target: &Store,
    progress: &(dyn Fn(Progress<'_>) + Sync),
) -> Result<CopyReport, CopyError> {
    if source.backend() != Backend::Sqlite || target.backend() != Backend::Postgres {
        return Err(CopyError::Backends(source.backend(), target.backend()));
    }
    let (source_version, target_version) = (source.schema_version().await?, target.schema_version().await?);
    if source_version != target_version {
        return Err(CopyError::Versions { source_version, target_version });
    }
    // One read snapshot of the source for every table.
    let mut src = source.pool().begin().await?;
    let mut tx = target.begin().await?;
    let dst = tx.conn();
    sqlx::query("SET LOCAL lock_timeout = '10s'").execute(&mut *dst).await?;

    let tables = plan(&mut src, dst).await?;
    let mut counts = Vec::with_capacity(tables.len());
    for t in &tables {
        let n = count(&mut src, &t.name).await?;
        counts.push(n);
    }
    progress(Progress::Counted(counts.iter().sum::<i64>() as u64));
    for t in &tables {
        progress(Progress::Table(&t.name));
        copy_table(&mut src, dst, t, progress)
            .await
            .map_err(|source| CopyError::Table { table: t.name.clone(), source })?;
    }

    progress(Progress::Verifying);
    for (t, &source_rows) in tables.iter().zip(&counts) {
        let target_rows = count(dst, &t.name).await?;
        if target_rows != source_rows {
            return Err(CopyError::Count { table: t.name.clone(), source_rows, target_rows });
        }
        for column in &t.serial {
            let next = format!("COALESCE((SELECT MAX({}) FROM {}), 0) + 1", ident(column), ident(&t.name));
            sqlx::query(&format!("SELECT setval(pg_get_serial_sequence($1, $2)::regclass, {next}, false)"))
                .bind(ident(&t.name))
                .bind(column)
                .execute(&mut *dst)
                .await?;
        }
    }
    let sims_opened = if tables.iter().any(|t| t.name == "sims") { open_sample(dst, target).await? } else { 0 };
    let audit_entries = match verify_chain(dst).await? {
        Ok(n) => n,
        Err(broken) => {
            let source_state = match verify_chain(&mut src).await? {
                Ok(_) => "the source's chain verifies: the copy changed it".to_string(),
                Err(b) => format!("the source's chain is broken too: {b}"),
            };
            return Err(CopyError::Audit { broken, source_state });
        }
    };
    tx.commit().await?;
    let tables = tables.into_iter().zip(counts).map(|(t, n)| (t.name, n as u64)).collect();
    Ok(CopyReport { tables, sims_opened, audit_entries })
}

/// The tables to copy, in an order that satisfies the target's foreign keys, after checking that the
/// target's tables are empty (and locking them against writers until the transaction ends).
async fn plan(src: &mut AnyConnection, dst: &mut AnyConnection) -> Result<Vec<Table>, CopyError> {
    let runtime = |name: &str| RUNTIME_TABLES.contains(&name);
    let source_tables: Vec<String> = names(
        src,
        "SELECT name AS n FROM sqlite_master WHERE type = 'table' AND name <> '_sqlx_migrations' \
         AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name",
    )
    .await?
    .into_iter()
    .filter(|n| !runtime(n))
    .collect();
    let target_tables: Vec<String> = names(
        dst,
        "SELECT table_name::text AS n FROM information_schema.tables WHERE table_schema = current_schema() \
         AND table_type = 'BASE TABLE' AND table_name <> '_sqlx_migrations' ORDER BY table_name",
    )
    .await?
    .into_iter()
    .filter(|n| !runtime(n))
    .collect();
    if let Some(missing) = source_tables.iter().find(|t| !target_tables.contains(t)) {
        return Err(CopyError::MissingTable(missing.clone()));
    }
    if !target_tables.is_empty() {
        let list = target_tables.iter().map(|t| ident(t)).collect::<Vec<_>>().join(", ");
        sqlx::query(&format!("LOCK TABLE {list} IN EXCLUSIVE MODE")).execute(&mut *dst).await?;
    }
    let mut filled = Vec::new();
    for t in &target_tables {
        let n = count(dst, t).await?;
        if n > 0 {
            filled.push((t.clone(), n));
        }
    }
    if !filled.is_empty() {
        return Err(CopyError::TargetNotEmpty(filled));
    }

    let mut parents = foreign_keys(dst).await?;
    let mut tables = Vec::with_capacity(source_tables.len());
    for name in source_tables {
        let (columns, serial) = columns(src, dst, &name).await?;
        let parents = parents.remove(&name).unwrap_or_default();
        tables.push(Table { name, columns, serial, parents });
    }
    order(tables)
}

/// The first column (`n`) of every row of `sql`.
async fn names(conn: &mut AnyConnection, sql: &str) -> Result<Vec<String>, CopyError> {
    let rows = sqlx::query(sql).fetch_all(conn).await?;
    Ok(rows.iter().map(|r| r.try_get::<String, _>("n")).collect::<Result<_, _>>()?)
}

async fn count(conn: &mut AnyConnection, table: &str) -> Result<i64, CopyError> {
    let row = sqlx::query(&format!("SELECT COUNT(*) AS n FROM {}", ident(table))).fetch_one(conn).await?;
    Ok(row.try_get::<i64, _>("n")?)
}

/// Each target table's referenced tables (other than itself).
async fn foreign_keys(dst: &mut AnyConnection) -> Result<BTreeMap<String, BTreeSet<String>>, CopyError> {
    let rows = sqlx::query(
        "SELECT c.relname::text AS child, p.relname::text AS parent FROM pg_catalog.pg_constraint k \
         JOIN pg_catalog.pg_class c ON c.oid = k.conrelid JOIN pg_catalog.pg_class p ON p.oid = k.confrelid \
         JOIN pg_catalog.pg_namespace s ON s.oid = c.relnamespace \
         WHERE k.contype = 'f' AND s.nspname = current_schema()",
    )
    .fetch_all(dst)
    .await?;
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for r in &rows {
        let (child, parent): (String, String) = (r.try_get("child")?, r.try_get("parent")?);
        if child != parent {
            out.entry(child).or_default().insert(parent);
        }
    }
    Ok(out)
}

/// The target's columns of `table` with how each is copied, and those fed by a sequence; both sides
/// must have the same columns.
async fn columns(
    src: &mut AnyConnection,
    dst: &mut AnyConnection,
    table: &str,
) -> Result<(Vec<(String, Kind)>, Vec<String>), CopyError> {
    let rows = sqlx::query(
        "SELECT column_name::text AS n, data_type::text AS t, \
         COALESCE(column_default LIKE 'nextval(%' OR is_identity = 'YES', false) AS serial \
         FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1 \
         ORDER BY ordinal_position",
    )
    .bind(table)
    .fetch_all(dst)
    .await?;
    let source = sqlx::query("SELECT name FROM pragma_table_info($1)").bind(table).fetch_all(src).await?;
    let source: BTreeSet<String> = source.iter().map(|r| r.try_get("name")).collect::<Result<_, _>>()?;
    let missing = |column: &str, side| CopyError::MissingColumn { table: table.into(), column: column.into(), side };
    let (mut columns, mut serial) = (Vec::with_capacity(rows.len()), Vec::new());
    for r in &rows {
        let (name, data_type): (String, String) = (r.try_get("n")?, r.try_get("t")?);
        if !source.contains(&name) {
            return Err(missing(&name, "target"));
        }
        let kind = Kind::of(&data_type).ok_or_else(|| CopyError::UnsupportedType {
            table: table.into(),
            column: name.clone(),
            data_type,
        })?;
        if r.try_get::<bool, _>("serial")? {
            serial.push(name.clone());
        }
        columns.push((name, kind));
    }
    if let Some(extra) = source.iter().find(|c| !columns.iter().any(|(n, _)| n == *c)) {
        return Err(missing(extra, "source"));
    }
    Ok((columns, serial))
}

/// `tables` with every referenced table before the tables that reference it (ties by name).
fn order(mut pending: Vec<Table>) -> Result<Vec<Table>, CopyError> {
    let names: BTreeSet<String> = pending.iter().map(|t| t.name.clone()).collect();
    let mut done: BTreeSet<String> = BTreeSet::new();
    let mut out = Vec::with_capacity(pending.len());
    while !pending.is_empty() {
        let ready = pending.iter().position(|t| t.parents.iter().all(|p| done.contains(p) || !names.contains(p)));
        let Some(i) = ready else {
            return Err(CopyError::Cycle(pending.iter().map(|t| t.name.as_str()).collect::<Vec<_>>().join(", ")));
        };
        let t = pending.remove(i);
        done.insert(t.name.clone());
        out.push(t);
    }
    Ok(out)
}

/// Copies one table's rows, a batch at a time.
async fn copy_table(
    src: &mut AnyConnection,
    dst: &mut AnyConnection,
    t: &Table,
    progress: &(dyn Fn(Progress<'_>) + Sync),
) -> Result<(), StoreError> {
    let list = t.columns.iter().map(|(c, _)| ident(c)).collect::<Vec<_>>().join(", ");
    let select = format!(
        "SELECT rowid AS warden_rowid, {list} FROM {} WHERE rowid > $1 ORDER BY rowid LIMIT $2",
        ident(&t.name)
    );
    let per_insert = (VALUES_PER_INSERT / t.columns.len().max(1)).clamp(1, ROWS_PER_READ);
    let mut after = i64::MIN;
    loop {
        let batch = sqlx::query(&select).bind(after).bind(ROWS_PER_READ as i64).fetch_all(&mut *src).await?;
        let Some(last) = batch.last() else { return Ok(()) };
        after = last.try_get("warden_rowid")?;
        for chunk in batch.chunks(per_insert) {
            insert(dst, t, &list, chunk).await?;
            progress(Progress::Copied(chunk.len() as u64));
        }
    }
}

/// One multi-row `INSERT` of `rows`, every value bound.
async fn insert(dst: &mut AnyConnection, t: &Table, list: &str, rows: &[AnyRow]) -> Result<(), StoreError> {
    let width = t.columns.len();
    let tuples = (0..rows.len())
        .map(|r| format!("({})", (1..=width).map(|c| format!("${}", r * width + c)).collect::<Vec<_>>().join(", ")))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!("INSERT INTO {} ({list}) VALUES {tuples}", ident(&t.name));
    let mut q = sqlx::query(&sql);
    for row in rows {
        for (column, kind) in &t.columns {
            let c = column.as_str();
            q = match kind {
                Kind::Text => q.bind(row.try_get::<Option<String>, _>(c)?),
                Kind::Integer => q.bind(row.try_get::<Option<i64>, _>(c)?),
                Kind::Real => q.bind(row.try_get::<Option<f64>, _>(c)?),
                Kind::Bytes => q.bind(row.try_get::<Option<Vec<u8>>, _>(c)?),
            };
        }
    }
    q.execute(dst).await?;
    Ok(())
}

/// Opens the keys of up to [`SIMS_TO_OPEN`] copied SIMs, picked at random, with the target's keyring.
async fn open_sample(dst: &mut AnyConnection, target: &Store) -> Result<u64, CopyError> {
    let rows = sqlx::query(&format!(
        "SELECT {SIM_COLUMNS}, k_sealed, opc_sealed FROM sims ORDER BY random() LIMIT {SIMS_TO_OPEN}"
    ))
    .fetch_all(dst)
    .await?;
    for r in &rows {
        keyed_from_row(r, target.keys()).map_err(CopyError::Keys)?;
    }
    Ok(rows.len() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(name: &str, parents: &[&str]) -> Table {
        Table {
            name: name.into(),
            columns: vec![],
            serial: vec![],
            parents: parents.iter().map(|p| p.to_string()).collect(),
        }
    }

    fn names(tables: &[Table]) -> Vec<&str> {
        tables.iter().map(|t| t.name.as_str()).collect()
    }

    #[test]
    fn referenced_tables_come_first() {
        let ordered = order(vec![table("a_sims", &["profiles"]), table("events", &[]), table("profiles", &[])]);
        assert_eq!(names(&ordered.unwrap()), ["events", "profiles", "a_sims"]);
    }

    #[test]
    fn a_reference_to_a_table_not_copied_does_not_block() {
        let ordered = order(vec![table("sims", &["cluster_instances"])]).unwrap();
        assert_eq!(names(&ordered), ["sims"]);
    }

    #[test]
    fn a_cycle_is_refused_by_name() {
        let err = order(vec![table("a", &["b"]), table("b", &["a"]), table("c", &[])]).unwrap_err();
        assert_eq!(err.to_string(), "the foreign keys among a, b form a cycle; no copy order satisfies them");
    }

    #[test]
    fn only_known_types_are_mapped() {
        assert_eq!(Kind::of("bigint"), Some(Kind::Integer));
        assert_eq!(Kind::of("bytea"), Some(Kind::Bytes));
        assert_eq!(Kind::of("text"), Some(Kind::Text));
        assert_eq!(Kind::of("double precision"), Some(Kind::Real));
        assert_eq!(Kind::of("jsonb"), None);
    }

    #[test]
    fn identifiers_are_quoted() {
        assert_eq!(ident("a\"b"), "\"a\"\"b\"");
    }
}
