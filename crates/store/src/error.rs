//! Store errors.

/// What can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database failed or refused a statement.
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    /// The database failed or refused a statement on SQLite's fast path (`sqlite_native`).
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A migration failed.
    #[error("migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// Sealing or opening a secret failed.
    #[error("{0}")]
    Seal(#[from] crate::seal::SealError),
    /// A stored value is not what the schema promises.
    #[error("corrupt row for {imsi}: {reason}")]
    Corrupt {
        /// Subscriber.
        imsi: String,
        /// What is wrong.
        reason: String,
    },
    /// The URL names no supported backend.
    #[error("unsupported storage URL {0:?} (use sqlite://PATH or postgres://…)")]
    BadUrl(String),
    /// A referenced row does not exist.
    #[error("{0}")]
    NotFound(String),
    /// A write would break a rule (duplicate IMSI, unknown profile, …).
    #[error("{0}")]
    Conflict(String),
}

/// Shorthand.
pub type Result<T> = std::result::Result<T, StoreError>;
