//! A row's columns read by name, whichever driver read the row: sqlx's `Any` rows and, on SQLite's
//! native path ([`crate::sqlite_native`]), rusqlite's rows share one mapping of SIMs and policies to
//! the model.

use sqlx::any::AnyRow;
use sqlx::Row;

use crate::error::Result;

/// Typed reads of a row's columns by name.
pub(crate) trait Columns {
    /// A TEXT column that is never NULL.
    fn text(&self, col: &str) -> Result<String>;
    /// A TEXT column.
    fn text_opt(&self, col: &str) -> Result<Option<String>>;
    /// An INTEGER column that is never NULL.
    fn int(&self, col: &str) -> Result<i64>;
    /// An INTEGER column.
    fn int_opt(&self, col: &str) -> Result<Option<i64>>;
    /// A BLOB column that is never NULL.
    fn bytes(&self, col: &str) -> Result<Vec<u8>>;
}

impl Columns for AnyRow {
    fn text(&self, col: &str) -> Result<String> {
        Ok(self.try_get(col)?)
    }

    fn text_opt(&self, col: &str) -> Result<Option<String>> {
        Ok(self.try_get(col)?)
    }

    fn int(&self, col: &str) -> Result<i64> {
        Ok(self.try_get(col)?)
    }

    fn int_opt(&self, col: &str) -> Result<Option<i64>> {
        Ok(self.try_get(col)?)
    }

    fn bytes(&self, col: &str) -> Result<Vec<u8>> {
        Ok(self.try_get(col)?)
    }
}
