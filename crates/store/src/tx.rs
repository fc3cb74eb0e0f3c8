//! A write transaction ([`Tx`]): every change the platform makes — a SIM's status, a token, a rule —
//! is written together with its event, its outbox notification and its audit entry through one `Tx`,
//! so they commit or roll back together (ID-2: no unaudited change survives a crash between two
//! writes). The write methods of the platform's tables are defined on `Tx` only; `cmp` opens one per
//! use case. Dropping a `Tx` without [`Tx::commit`] rolls it back.

use std::sync::Arc;

use sqlx::{Any, AnyConnection, Transaction};

use crate::db::{Backend, Store};
use crate::error::Result;
use crate::seal::Keyring;

/// An open write transaction.
pub struct Tx {
    inner: Transaction<'static, Any>,
    backend: Backend,
    keys: Arc<Keyring>,
}

impl std::fmt::Debug for Tx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tx").field("backend", &self.backend).finish()
    }
}

impl Store {
    /// Opens a write transaction.
    /// On SQLite it is `BEGIN IMMEDIATE`: the write lock is taken at once, so a transaction that reads
    /// before it writes never fails on upgrading its lock.
    pub async fn begin(&self) -> Result<Tx> {
        let inner = match self.backend() {
            Backend::Sqlite => self.pool().begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool().begin().await?,
        };
        Ok(Tx { inner, backend: self.backend(), keys: self.keyring() })
    }
}

impl Tx {
    /// Makes every write of this transaction durable at once.
    pub async fn commit(self) -> Result<()> {
        Ok(self.inner.commit().await?)
    }

    /// Which backend this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The transaction's connection, for the store's own modules.
    pub(crate) fn conn(&mut self) -> &mut AnyConnection {
        &mut self.inner
    }

    /// The keyring, for sealing secrets written in this transaction.
    pub(crate) fn keys(&self) -> &Keyring {
        &self.keys
    }
}
