//! Fresh stores for tests: SQLite in a temporary directory (always), PostgreSQL when
//! `WARDEN_TEST_POSTGRES_URL` names a server (`.ci/run` sets it; `cargo test` alone skips those).

use store::seal::{Kek, Keyring};
use store::Store;

/// A store that lives as long as this value (its directory is removed after).
pub struct TempStore {
    /// The store.
    pub store: Store,
    /// The directory of the SQLite file (and anything else the test writes).
    pub dir: tempfile::TempDir,
}

/// The key-encryption key of test stores.
pub fn keyring() -> Keyring {
    Keyring::new(Kek::from_bytes(1, &[9; 32]), vec![])
}

impl TempStore {
    /// A new SQLite store in a new temporary directory.
    pub async fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let url = format!("sqlite://{}/warden.db", dir.path().display());
        let store = Store::open(&url, keyring()).await.expect("open SQLite store");
        Self { store, dir }
    }

    /// The SQLite file's URL (for a second process, or a second connection that injects faults).
    pub fn sqlite_url(&self) -> String {
        format!("sqlite://{}/warden.db", self.dir.path().display())
    }
}

/// The PostgreSQL URL for backend tests, when one is configured.
pub fn postgres_url() -> Option<String> {
    std::env::var("WARDEN_TEST_POSTGRES_URL").ok().filter(|u| !u.is_empty())
}
