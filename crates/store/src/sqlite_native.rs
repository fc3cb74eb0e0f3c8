//! SQLite's fast path for the PCRF's two hot operations: the background writer's batches of
//! session rows ([`Store::apply_gx_changes`]) and the load of a subscriber with its own policy on a
//! cache miss ([`Store::sim_with_policy`]).
//!
//! Why it exists: through sqlx's `Any` driver every statement is handed to sqlx-sqlite's worker
//! thread and its result handed back, every parameter is converted twice (to `Any`, then to
//! SQLite's), and the writer built multi-row statements as text for every batch. On the 2-core
//! machine that cost tens of µs of CPU per session row and made the writer the bound of the
//! sustained CCR-Initial rate (docs/performance.md, "PCRF on Gx"). Here the same SQL runs as
//! prepared, cached statements (rusqlite, on the `libsqlite3-sys` sqlx links) on connections of
//! this module: one writer connection (a batch is one `BEGIN IMMEDIATE` transaction, as
//! [`Store::begin`] takes on SQLite) and a few reader connections, each used on a blocking thread so
//! that no runtime worker waits for the disk.
//!
//! The connections get the settings of the sqlx pool (WAL, `synchronous = FULL`, foreign keys,
//! a 5 s busy timeout): a batch is durable when its commit returns, and writers of both paths —
//! and of other instances on the same file — take turns on SQLite's one write lock. PostgreSQL
//! keeps the sqlx path.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, TransactionBehavior};

use crate::columns::Columns;
use crate::error::{Result, StoreError};
use crate::model::Sim;
use crate::traffic::{GxChange, SimPolicy};
use ids::Imsi;

/// Reader connections kept open between reads (more are opened while more reads run at once).
const IDLE_READERS: usize = 4;

/// Statements each connection keeps prepared.
const STATEMENT_CACHE: usize = 16;

/// The native connections to one SQLite database file.
pub(crate) struct NativeSqlite {
    path: PathBuf,
    /// The one connection that writes (`None` until first used).
    writer: Mutex<Option<Connection>>,
    /// Idle reader connections.
    readers: Mutex<Vec<Connection>>,
}

impl std::fmt::Debug for NativeSqlite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NativeSqlite").field("path", &self.path).finish()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl NativeSqlite {
    /// The fast path to the database file at `path` (the schema is the sqlx migrator's, already run);
    /// connections are opened when first needed.
    pub(crate) fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into(), writer: Mutex::new(None), readers: Mutex::new(Vec::new()) }
    }

    fn open(&self) -> rusqlite::Result<Connection> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&self.path, flags)?;
        // The sqlx pool's settings (db.rs, `connect`).
        // `journal_mode` answers with the mode now in force.
        conn.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(Duration::from_secs(5))?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        Ok(conn)
    }

    /// Runs `f` on the writer connection, on a blocking thread.
    async fn write<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let this = self.clone();
        blocking(move || {
            let mut writer = lock(&this.writer);
            let conn = match writer.as_mut() {
                Some(c) => c,
                None => writer.insert(this.open()?),
            };
            f(conn)
        })
        .await
    }

    /// Runs `f` on an idle reader connection (a new one if none is idle), on a blocking thread.
    async fn read<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let this = self.clone();
        blocking(move || {
            let idle = lock(&this.readers).pop();
            let conn = match idle {
                Some(c) => c,
                None => this.open()?,
            };
            let out = f(&conn);
            let mut readers = lock(&this.readers);
            if readers.len() < IDLE_READERS {
                readers.push(conn);
            }
            out
        })
        .await
    }

    /// [`Store::apply_gx_changes`] on SQLite: every change in order, one prepared statement per kind,
    /// one transaction.
    pub(crate) async fn apply_gx_changes(self: &Arc<Self>, changes: Vec<GxChange>) -> Result<()> {
        self.write(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            {
                let mut put = tx.prepare_cached(crate::traffic::put_gx_sql(1).as_str())?;
                let mut delete = tx.prepare_cached(crate::traffic::DELETE_GX_SQL)?;
                let mut usage = tx.prepare_cached(crate::traffic::add_usage_sql(1).as_str())?;
                let mut event = tx.prepare_cached(crate::events::INSERT_EVENT_SQL)?;
                let now = crate::now();
                for change in &changes {
                    match change {
                        GxChange::Put(s) => {
                            let rules =
                                serde_json::to_string(&s.rules).map_err(|e| StoreError::Conflict(e.to_string()))?;
                            put.execute(rusqlite::params![
                                s.session_id,
                                s.imsi,
                                s.tenant,
                                s.pcef_host,
                                s.pcef_realm,
                                s.pcef_state.map(i64::from),
                                s.apn,
                                s.framed_ip,
                                s.framed_ipv6,
                                s.rat_type.map(i64::from),
                                s.plmn,
                                rules,
                                s.created_at,
                                s.updated_at,
                            ])?;
                        }
                        GxChange::Delete(id) => {
                            delete.execute([id])?;
                        }
                        GxChange::Usage { imsi, tenant, hour, up, down } => {
                            usage.execute(rusqlite::params![imsi, hour, tenant, up, down])?;
                        }
                        GxChange::Event { tenant, imsi, kind, detail } => {
                            event.execute(rusqlite::params![imsi, kind, detail, now, tenant])?;
                        }
                    }
                }
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }

    /// [`Store::sim_with_policy`] on SQLite.
    pub(crate) async fn sim_with_policy(self: &Arc<Self>, imsi: &Imsi) -> Result<Option<(Sim, Option<SimPolicy>)>> {
        let key = imsi.as_str().to_string();
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(crate::traffic::sim_with_policy_sql())?;
            let mut rows = stmt.query([key])?;
            match rows.next()? {
                Some(row) => Ok(Some(crate::traffic::sim_with_policy_from_row(row)?)),
                None => Ok(None),
            }
        })
        .await
    }
}

/// Runs `f` on the runtime's blocking threads.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f).await.map_err(|e| StoreError::Conflict(format!("a database task failed: {e}")))?
}

impl Columns for rusqlite::Row<'_> {
    fn text(&self, col: &str) -> Result<String> {
        Ok(self.get(col)?)
    }

    fn text_opt(&self, col: &str) -> Result<Option<String>> {
        Ok(self.get(col)?)
    }

    fn int(&self, col: &str) -> Result<i64> {
        Ok(self.get(col)?)
    }

    fn int_opt(&self, col: &str) -> Result<Option<i64>> {
        Ok(self.get(col)?)
    }

    fn bytes(&self, col: &str) -> Result<Vec<u8>> {
        Ok(self.get(col)?)
    }
}

#[cfg(test)]
mod tests {
    use crate::model::{NewSim, Priority, ServingNode};
    use crate::seal::{Kek, Keyring};
    use crate::traffic::{GxChange, GxSession, OverrideMode, Quarantine, SimPolicy};
    use crate::Store;

    async fn open(dir: &tempfile::TempDir) -> Store {
        let url = format!("sqlite://{}/warden.db", dir.path().display());
        Store::open(&url, Keyring::new(Kek::from_bytes(1, &[9; 32]), vec![])).await.unwrap()
    }

    fn new_sim(imsi: &str) -> NewSim {
        NewSim {
            imsi: imsi.parse().unwrap(),
            iccid: None,
            msisdn: Some("491701234567".parse().unwrap()),
            eid: None,
            k: auc::Key::from_slice(&[1; 16]).unwrap(),
            opc: auc::SecretBytes::new(&[2; 16]),
            amf: [0x80, 0x00],
            algorithm: crate::model::AlgorithmSpec::Milenage,
            profile: None,
            priority: Priority::Critical,
            tenant: "acme".into(),
            status: crate::model::SimStatus::Active,
        }
    }

    fn session(id: &str) -> GxSession {
        crate::traffic::tests::session(id, &["r1", "r2"])
    }

    /// The native read of a SIM with its policy is what the sqlx path reads column by column: every
    /// optional field set (serving node, bound IMEI, MSISDN, quarantine) and none.
    #[tokio::test]
    async fn the_native_read_matches_the_sqlx_read() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(&dir).await;
        assert!(store.native().is_some(), "a SQLite file gets the native path");
        let (full, bare): (ids::Imsi, ids::Imsi) =
            ("001010000000001".parse().unwrap(), "001010000000002".parse().unwrap());
        let mut tx = store.begin().await.unwrap();
        let mut second = new_sim(bare.as_str());
        second.msisdn = None;
        tx.insert_sims(&[new_sim(full.as_str()), second]).await.unwrap();
        tx.bind_imei(&full, &"490154203237518".parse().unwrap()).await.unwrap();
        let own = SimPolicy {
            mode: OverrideMode::Replace,
            allow_prefixes: vec!["198.51.100.0/24".parse().unwrap()],
            allow_domains: vec!["*.acme.example".parse().unwrap()],
            quarantine: Some(Quarantine { since: 3, reason: "scan".into(), by: "analytics".into() }),
            updated_at: 4,
        };
        tx.put_sim_policy(&full, "acme", &own).await.unwrap();
        tx.commit().await.unwrap();
        let node = ServingNode {
            origin_host: "mme1".into(),
            origin_realm: "epc".into(),
            plmn: Some("00101".parse().unwrap()),
            since: 5,
        };
        store.register(&full, &node, None).await.unwrap();

        for imsi in [&full, &bare] {
            let native = store.sim_with_policy(imsi).await.unwrap().unwrap();
            let sqlx = (store.sim(imsi).await.unwrap().unwrap(), store.sim_policy(imsi).await.unwrap());
            assert_eq!(native, sqlx);
        }
        let (sim, policy) = store.sim_with_policy(&full).await.unwrap().unwrap();
        assert_eq!(
            (sim.serving.unwrap(), sim.bound_imeis, policy),
            (node, vec!["49015420323751".to_string()], Some(own))
        );
        assert!(store.sim_with_policy(&"001010000000099".parse().unwrap()).await.unwrap().is_none());
    }

    /// A batch is all or nothing: a change the database refuses rolls back the changes before it.
    #[tokio::test]
    async fn a_refused_change_rolls_back_its_batch() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(&dir).await;
        sqlx::query(
            "CREATE TRIGGER refuse BEFORE INSERT ON gx_sessions WHEN NEW.session_id = 'bad' \
             BEGIN SELECT RAISE(ABORT, 'refused'); END",
        )
        .execute(store.pool())
        .await
        .unwrap();
        let batch = [GxChange::Put(session("a")), GxChange::Put(session("bad"))];
        assert!(store.apply_gx_changes(&batch).await.is_err());
        assert_eq!(store.gx_sessions().await.unwrap(), vec![]);
        // The writer connection is usable again.
        store.apply_gx_changes(&[GxChange::Put(session("a"))]).await.unwrap();
        assert_eq!(store.gx_sessions().await.unwrap(), vec![session("a")]);
    }

    /// Two instances on one file (two stores, two native writers, and the sqlx path beside them)
    /// write at once: every batch lands, none fails on the write lock.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_instances_write_one_file_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let (one, two) = (open(&dir).await, open(&dir).await);
        let mut tasks = Vec::new();
        for (n, store) in [one.clone(), two.clone()].into_iter().enumerate() {
            tasks.push(tokio::spawn(async move {
                for b in 0..20 {
                    let batch: Vec<GxChange> =
                        (0..100).map(|k| GxChange::Put(session(&format!("{n};{b};{k}")))).collect();
                    store.apply_gx_changes(&batch).await.unwrap();
                    store.put_gx_session(&session(&format!("{n};{b};sqlx"))).await.unwrap();
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(one.gx_sessions().await.unwrap().len(), 2 * 20 * 101);
        assert_eq!(two.gx_sessions().await.unwrap().len(), 2 * 20 * 101);
    }
}
