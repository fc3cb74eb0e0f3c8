//! Schema versions: the migrations this binary carries per backend, and the version a database was
//! brought to (the highest successful row of sqlx's `_sqlx_migrations`), read without migrating it —
//! so a command can refuse a database written by a newer Warden before it touches it.

use sqlx::migrate::Migrator;
use sqlx::{AnyConnection, Connection, Row};

use crate::db::{Backend, Store};
use crate::error::Result;

/// The migrations of `backend`, embedded at build time.
pub(crate) fn migrator(backend: Backend) -> Migrator {
    match backend {
        Backend::Sqlite => sqlx::migrate!("./migrations/sqlite"),
        Backend::Postgres => sqlx::migrate!("./migrations/postgres"),
    }
}

/// The newest schema version this binary knows for `backend`.
pub fn latest_version(backend: Backend) -> i64 {
    migrator(backend).iter().map(|m| m.version).max().unwrap_or(0)
}

/// The version recorded in `_sqlx_migrations` through `conn`; `None` when the table does not exist
/// (no Warden schema yet).
async fn recorded_version(conn: &mut AnyConnection, backend: Backend) -> Result<Option<i64>> {
    let exists = match backend {
        Backend::Sqlite => "SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
        Backend::Postgres => {
            "SELECT COUNT(*) AS n FROM pg_catalog.pg_tables \
                              WHERE schemaname = current_schema() AND tablename = '_sqlx_migrations'"
        }
    };
    if sqlx::query(exists).fetch_one(&mut *conn).await?.try_get::<i64, _>("n")? == 0 {
        return Ok(None);
    }
    let row = sqlx::query("SELECT MAX(version) AS v FROM _sqlx_migrations WHERE success").fetch_one(conn).await?;
    Ok(Some(row.try_get::<Option<i64>, _>("v")?.unwrap_or(0)))
}

/// The schema version of the database at `url` (`sqlite://PATH` of an existing file, or
/// `postgres://…`), read without creating or migrating anything. `None`: no Warden schema in it.
pub async fn version_at(url: &str) -> Result<Option<i64>> {
    sqlx::any::install_default_drivers();
    let (backend, url) = match url.strip_prefix("sqlite://") {
        // `mode=rw`: a missing file is an error, not a new empty database.
        Some(path) => (Backend::Sqlite, format!("sqlite://{path}?mode=rw")),
        None => (Backend::Postgres, url.to_string()),
    };
    let mut conn = AnyConnection::connect(&url).await?;
    let version = recorded_version(&mut conn, backend).await;
    let _ = conn.close().await;
    version
}

impl Store {
    /// The schema version this database is at.
    pub async fn schema_version(&self) -> Result<i64> {
        let mut conn = self.pool().acquire().await?;
        Ok(recorded_version(&mut conn, self.backend()).await?.unwrap_or(0))
    }
}
