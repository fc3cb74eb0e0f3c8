//! Fresh stores for tests: SQLite in a temporary directory (always), PostgreSQL when
//! `WARDEN_TEST_POSTGRES_URL` names a server (`.ci/run` sets it; `cargo test` alone skips those), each
//! PostgreSQL test in a database of its own, dropped after.

use std::future::Future;

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

/// After a rotation: a new current KEK (id 2), with [`keyring`]'s KEK still accepted when `old` is
/// true (while rows are re-sealed) or gone when false (after).
pub fn rotated_keyring(old: bool) -> Keyring {
    let previous = if old { vec![Kek::from_bytes(1, &[9; 32])] } else { vec![] };
    Keyring::new(Kek::from_bytes(2, &[0x43; 32]), previous)
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

/// Runs `test` on a fresh SQLite store and, when configured, on a fresh PostgreSQL database; `test`
/// gets the store and its URL (for a second connection, or a second process).
pub async fn on_every_backend<F, Fut>(test: F)
where
    F: Fn(Store, String) -> Fut,
    Fut: Future<Output = ()>,
{
    let sqlite = TempStore::sqlite().await;
    let url = sqlite.sqlite_url();
    test(sqlite.store.clone(), url).await;

    on_fresh_postgres(|url| async move {
        let store = Store::open(&url, keyring()).await.expect("open PostgreSQL store");
        test(store, url).await;
    })
    .await;
}

/// Runs `test` with two store handles on one database, as two instances of Warden have: one SQLite
/// file, then (with `WARDEN_TEST_POSTGRES_URL`) one fresh PostgreSQL database.
pub async fn on_two_handles_of_every_backend<F, Fut>(test: F)
where
    F: Fn(Store, Store) -> Fut,
    Fut: Future<Output = ()>,
{
    let t = TempStore::sqlite().await;
    let other = Store::open(&t.sqlite_url(), keyring()).await.expect("open the SQLite store again");
    test(t.store.clone(), other).await;
    on_fresh_postgres(|url| async move {
        let open = || Store::open(&url, keyring());
        let (a, b) = (open().await.expect("open PostgreSQL store"), open().await.expect("open it again"));
        test(a, b).await;
    })
    .await;
}

/// Runs `test` with the URL of a new, empty PostgreSQL database (no schema yet), dropped after; when
/// `WARDEN_TEST_POSTGRES_URL` is unset, says so and skips it.
pub async fn on_fresh_postgres<F, Fut>(test: F)
where
    F: FnOnce(String) -> Fut,
    Fut: Future<Output = ()>,
{
    let Some(base) = postgres_url() else {
        eprintln!("WARDEN_TEST_POSTGRES_URL not set: PostgreSQL part of this test skipped");
        return;
    };
    use sqlx::Executor;
    sqlx::any::install_default_drivers();
    let admin = sqlx::AnyPool::connect(&base).await.expect("PostgreSQL server");
    let name = format!("warden_t_{}_{}", std::process::id(), random_suffix());
    admin.execute(format!("CREATE DATABASE {name}").as_str()).await.expect("create test database");
    let url = match base.rfind('/') {
        Some(i) => format!("{}/{name}", &base[..i]),
        None => panic!("WARDEN_TEST_POSTGRES_URL needs a database path"),
    };
    test(url).await;
    let _ = admin.execute(format!("DROP DATABASE {name} WITH (FORCE)").as_str()).await;
}

fn random_suffix() -> u64 {
    let mut b = [0u8; 8];
    auc::fill_random(&mut b).expect("random");
    u64::from_le_bytes(b)
}
