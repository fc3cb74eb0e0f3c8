//! The repository over SQLite (embedded default) and PostgreSQL, through sqlx's `Any` driver with one
//! schema per backend (`migrations/`). Every multi-row write is one transaction: all or nothing.

use std::str::FromStr;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Executor, Row};

use crate::columns::Columns;
use crate::error::{Result, StoreError};
use crate::model::{AlgorithmSpec, EirEntry, EirKey, EirStatus, NewSim, ServiceProfile, ServingNode, Sim, SimStatus};
use crate::seal::Keyring;
use crate::sqlite_native::NativeSqlite;
use ids::{Imei, Imsi, Plmn};

/// Which database is behind the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Embedded SQLite (WAL, synchronous=FULL).
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

/// The subscriber store.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    keys: Arc<Keyring>,
    /// The connection URL (for [`Store::with_own_pool`]).
    url: Arc<str>,
    /// On SQLite (a file), the PCRF's hot operations' native connections, shared by every copy.
    native: Option<Arc<NativeSqlite>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("backend", &self.backend).finish()
    }
}

/// Unix seconds now.
pub fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

fn corrupt(imsi: &str, reason: impl Into<String>) -> StoreError {
    StoreError::Corrupt { imsi: imsi.to_string(), reason: reason.into() }
}

pub(crate) const SIM_COLUMNS: &str =
    "imsi, iccid, msisdn, eid, tenant, status, priority, profile, algorithm, amf, bound_imeis, \
                           serving_host, serving_realm, serving_plmn, serving_since, data_barred";

pub(crate) fn sim_from_row(r: &impl Columns) -> Result<Sim> {
    let imsi = r.text("imsi")?;
    let amf = r.bytes("amf")?;
    let serving = match r.text_opt("serving_host")? {
        Some(origin_host) => Some(ServingNode {
            origin_host,
            origin_realm: r.text_opt("serving_realm")?.unwrap_or_default(),
            plmn: r.text_opt("serving_plmn")?.and_then(|p| p.parse().ok()),
            since: r.int_opt("serving_since")?.unwrap_or(0),
        }),
        None => None,
    };
    Ok(Sim {
        imsi: imsi.parse().map_err(|e: ids::IdError| corrupt(&imsi, e.to_string()))?,
        iccid: r.text_opt("iccid")?,
        msisdn: r.text_opt("msisdn")?,
        eid: r.text_opt("eid")?,
        tenant: r.text("tenant")?,
        status: SimStatus::from_str(&r.text("status")?).map_err(|e| corrupt(&imsi, e))?,
        priority: r.text("priority")?.parse().map_err(|e: String| corrupt(&imsi, e))?,
        profile: r.text_opt("profile")?,
        algorithm: AlgorithmSpec::from_db(&r.text("algorithm")?).map_err(|e| corrupt(&imsi, e))?,
        amf: amf.as_slice().try_into().map_err(|_| corrupt(&imsi, "AMF is not 2 bytes"))?,
        bound_imeis: r.text("bound_imeis")?.split(',').filter(|s| !s.is_empty()).map(str::to_string).collect(),
        serving,
        data_barred: r.int("data_barred")? != 0,
    })
}

/// The SIM of a row with `SIM_COLUMNS`, `k_sealed` and `opc_sealed`, its algorithm keyed from K and
/// OPc/TOPc opened with `keys` (the sealed values are bound to the row's IMSI).
pub(crate) fn keyed_from_row(row: &AnyRow, keys: &Keyring) -> Result<(Sim, auc::AuthAlgorithm)> {
    let sim = sim_from_row(row)?;
    let s = sim.imsi.as_str();
    let k = keys.open(s, "k", &row.try_get::<Vec<u8>, _>("k_sealed")?)?;
    let opc = keys.open(s, "opc", &row.try_get::<Vec<u8>, _>("opc_sealed")?)?;
    let bad = |e: auc::AucError| corrupt(s, e.to_string());
    let key = auc::Key::from_slice(&k).map_err(bad)?;
    let alg: auc::AuthAlgorithm = match sim.algorithm {
        AlgorithmSpec::Milenage => {
            auc::Milenage::new(&key, &auc::Opc::from_slice(&opc).map_err(bad)?).map_err(bad)?.into()
        }
        AlgorithmSpec::Tuak(p) => {
            auc::Tuak::new(&key, &auc::Topc::from_slice(&opc).map_err(bad)?, p).map_err(bad)?.into()
        }
    };
    Ok((sim, alg))
}

/// Creates the database file's missing directories (mode 0700) and the file itself (mode 0600)
/// before SQLite opens it: it holds sealed keys, token hashes and the audit trail, and SQLite gives
/// its `-wal` and `-shm` files the mode of the database file. An existing file is left as it is.
fn private_file(path: &std::path::Path) -> std::io::Result<()> {
    if path.as_os_str() == ":memory:" || path.exists() {
        return Ok(());
    }
    let mut dirs = std::fs::DirBuilder::new();
    dirs.recursive(true);
    let mut file = std::fs::OpenOptions::new();
    file.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
        dirs.mode(0o700);
        file.mode(0o600);
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        dirs.create(dir)?;
    }
    match file.open(path) {
        Ok(_) => Ok(()),
        // Another process created it at the same moment.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// A pool of at most `max` connections to `url`, with SQLite's settings on each connection.
async fn connect(backend: Backend, url: &str, max: u32) -> Result<AnyPool> {
    let mut options = AnyPoolOptions::new().max_connections(max.max(1));
    if backend == Backend::Postgres {
        // While the database is unreachable (restarting, failing over), a request waits at most this
        // long for a connection and is then answered DIAMETER_UNABLE_TO_COMPLY, instead of queueing
        // behind sqlx's default of 30 s; the pool reconnects by itself when the database is back.
        options = options.acquire_timeout(std::time::Duration::from_secs(2));
    }
    if backend == Backend::Sqlite {
        options = options.after_connect(|conn, _| {
            Box::pin(async move {
                conn.execute("PRAGMA journal_mode = WAL").await?;
                conn.execute("PRAGMA synchronous = FULL").await?;
                conn.execute("PRAGMA foreign_keys = ON").await?;
                conn.execute("PRAGMA busy_timeout = 5000").await?;
                Ok(())
            })
        });
    }
    Ok(options.connect(url).await?)
}

impl Store {
    /// Opens (creating when needed) the database at `url` and brings its schema up to date.
    /// `sqlite://PATH` (relative or absolute) or `postgres://…`.
    pub async fn open(url: &str, keys: Keyring) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let mut native = None;
        let (backend, url) = if let Some(path) = url.strip_prefix("sqlite://") {
            private_file(std::path::Path::new(path)).map_err(|e| StoreError::Db(sqlx::Error::Io(e)))?;
            if path != ":memory:" {
                native = Some(Arc::new(NativeSqlite::new(path)));
            }
            (Backend::Sqlite, format!("sqlite://{path}?mode=rwc"))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            (Backend::Postgres, url.to_string())
        } else {
            return Err(StoreError::BadUrl(url.to_string()));
        };
        let pool = connect(backend, &url, if backend == Backend::Sqlite { 4 } else { 16 }).await?;
        crate::schema::migrator(backend).run(&pool).await?;
        Ok(Self { pool, backend, keys: Arc::new(keys), url: url.into(), native })
    }

    /// The same store over a connection pool of its own, of at most `max` connections. Components
    /// that must not wait behind each other's queries take one each: the platform API's floods of
    /// logins and listings then never hold the connections the HSS needs to answer AIRs.
    pub async fn with_own_pool(&self, max: u32) -> Result<Self> {
        let pool = connect(self.backend, &self.url, max).await?;
        Ok(Self {
            pool,
            backend: self.backend,
            keys: self.keys.clone(),
            url: self.url.clone(),
            native: self.native.clone(),
        })
    }

    /// SQLite's native connections for the PCRF's hot operations; `None` on PostgreSQL.
    pub(crate) fn native(&self) -> Option<&Arc<NativeSqlite>> {
        self.native.as_ref()
    }

    /// The connection URL (for the store's own modules that open a connection of their own).
    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    /// The connection pool (for the store's own modules).
    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// The keyring (for the store's own modules that seal secrets).
    pub(crate) fn keys(&self) -> &Keyring {
        &self.keys
    }

    /// The shared keyring (for transactions).
    pub(crate) fn keyring(&self) -> Arc<Keyring> {
        self.keys.clone()
    }

    /// Which backend this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The database URL on PostgreSQL (for a dedicated `LISTEN` connection); `None` on SQLite.
    pub fn postgres_url(&self) -> Option<&str> {
        (self.backend == Backend::Postgres).then_some(&*self.url)
    }

    /// A service profile by name.
    pub async fn profile(&self, name: &str) -> Result<Option<ServiceProfile>> {
        let row =
            sqlx::query("SELECT body FROM profiles WHERE name = $1").bind(name).fetch_optional(&self.pool).await?;
        row.map(|r| {
            let body: String = r.try_get("body")?;
            serde_json::from_str(&body)
                .map_err(|e| StoreError::Corrupt { imsi: format!("profile {name}"), reason: e.to_string() })
        })
        .transpose()
    }

    /// Every service profile, by name.
    pub async fn list_profiles(&self) -> Result<Vec<ServiceProfile>> {
        let rows = sqlx::query("SELECT name, body FROM profiles ORDER BY name").fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                let name: String = r.try_get("name")?;
                let body: String = r.try_get("body")?;
                serde_json::from_str(&body)
                    .map_err(|e| StoreError::Corrupt { imsi: format!("profile {name}"), reason: e.to_string() })
            })
            .collect()
    }

    /// A SIM without its secrets.
    pub async fn sim(&self, imsi: &Imsi) -> Result<Option<Sim>> {
        let row = sqlx::query(&format!("SELECT {SIM_COLUMNS} FROM sims WHERE imsi = $1"))
            .bind(imsi.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(sim_from_row).transpose()
    }

    /// A SIM with its algorithm keyed from the opened K and OPc/TOPc, ready to compute vectors.
    pub async fn auth_material(&self, imsi: &Imsi) -> Result<Option<(Sim, auc::AuthAlgorithm)>> {
        let row = sqlx::query(&format!("SELECT {SIM_COLUMNS}, k_sealed, opc_sealed FROM sims WHERE imsi = $1"))
            .bind(imsi.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| keyed_from_row(&r, &self.keys)).transpose()
    }

    /// Moves the SQN high-water mark up by `n` SEQ values and returns the new mark: the caller may
    /// issue every SEQ up to and including it. Durable before it returns.
    pub async fn reserve_sqn(&self, imsi: &Imsi, n: i64) -> Result<i64> {
        let row =
            sqlx::query("UPDATE sims SET sqn_reserved = sqn_reserved + $1 WHERE imsi = $2 RETURNING sqn_reserved")
                .bind(n)
                .bind(imsi.as_str())
                .fetch_optional(&self.pool)
                .await?;
        row.map(|r| r.try_get::<i64, _>("sqn_reserved"))
            .transpose()?
            .ok_or_else(|| StoreError::NotFound(format!("IMSI {imsi} not found")))
    }

    /// [`Store::reserve_sqn`] for many subscribers in one statement (one round trip and one disk
    /// flush for all): the group commit behind [`crate::SqnAllocator`]. Each request gets the new
    /// top of its own range. Unknown IMSIs get `NotFound` without failing the rest.
    pub async fn reserve_sqn_many(&self, requests: &[(Imsi, i64)]) -> Result<Vec<Result<i64>>> {
        // One statement for the whole batch: one round trip and one commit. A subscriber asked for
        // twice in the batch is advanced once by the sum, and each request gets its own part.
        let mut totals: std::collections::HashMap<&str, i64> = std::collections::HashMap::new();
        let mut order: Vec<&Imsi> = Vec::new();
        for (imsi, n) in requests {
            let t = totals.entry(imsi.as_str()).or_insert_with(|| {
                order.push(imsi);
                0
            });
            *t += n;
        }
        let totals: Vec<(&Imsi, i64)> = order.into_iter().map(|i| (i, totals[i.as_str()])).collect();
        let mut marks = std::collections::HashMap::with_capacity(totals.len());
        if self.backend == Backend::Postgres {
            // One statement text for every batch (prepared once), the batch as one parameter
            // `imsi:n,imsi:n,…` (IMSIs are digits). The rows are locked in IMSI order before they are
            // updated, so two instances updating overlapping batches at once never deadlock.
            let list: Vec<String> = totals.iter().map(|(imsi, n)| format!("{imsi}:{n}")).collect();
            let rows = sqlx::query(
                "WITH v AS (SELECT split_part(x, ':', 1) AS k, split_part(x, ':', 2)::bigint AS n \
                            FROM unnest(string_to_array($1, ',')) AS x), \
                      locked AS MATERIALIZED (SELECT s.imsi FROM sims s JOIN v ON s.imsi = v.k \
                            ORDER BY s.imsi FOR UPDATE OF s) \
                 UPDATE sims SET sqn_reserved = sims.sqn_reserved + v.n FROM v JOIN locked ON locked.imsi = v.k \
                 WHERE sims.imsi = v.k RETURNING sims.imsi, sims.sqn_reserved",
            )
            .bind(list.join(","))
            .fetch_all(&self.pool)
            .await?;
            for r in rows {
                marks.insert(r.try_get::<String, _>("imsi")?, r.try_get::<i64, _>("sqn_reserved")?);
            }
        } else {
            for chunk in totals.chunks(500) {
                // `SELECT … UNION ALL` rather than `VALUES … AS v(k, n)`: SQLite names no VALUES columns.
                let rows: Vec<String> =
                    (0..chunk.len()).map(|i| format!("SELECT ${} AS k, ${} AS n", 2 * i + 1, 2 * i + 2)).collect();
                let sql = format!(
                    "UPDATE sims SET sqn_reserved = sqn_reserved + v.n FROM ({}) AS v WHERE imsi = v.k \
                     RETURNING imsi, sqn_reserved",
                    rows.join(" UNION ALL ")
                );
                let mut q = sqlx::query(&sql);
                for (imsi, n) in chunk {
                    q = q.bind(imsi.as_str()).bind(*n);
                }
                for r in q.fetch_all(&self.pool).await? {
                    marks.insert(r.try_get::<String, _>("imsi")?, r.try_get::<i64, _>("sqn_reserved")?);
                }
            }
        }
        // Hand each request its part: the last request of a subscriber gets the top of the range.
        let mut after: std::collections::HashMap<&str, i64> = std::collections::HashMap::new();
        let mut out: Vec<Result<i64>> = Vec::with_capacity(requests.len());
        for (imsi, n) in requests.iter().rev() {
            out.push(match marks.get(imsi.as_str()) {
                Some(top) => {
                    let later = after.entry(imsi.as_str()).or_insert(0);
                    let mine = top - *later;
                    *later += n;
                    Ok(mine)
                }
                None => Err(StoreError::NotFound(format!("IMSI {imsi} not found"))),
            });
        }
        out.reverse();
        Ok(out)
    }

    /// Sets the SQN counter to `new` if it still is `expected` (a resynchronisation decided on
    /// `expected`); false when another writer moved it meanwhile.
    pub async fn swap_sqn_reserved(&self, imsi: &Imsi, expected: i64, new: i64) -> Result<bool> {
        let r = sqlx::query("UPDATE sims SET sqn_reserved = $1 WHERE imsi = $2 AND sqn_reserved = $3")
            .bind(new)
            .bind(imsi.as_str())
            .bind(expected)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Sets the SQN high-water mark (after a resynchronisation reset it to SEQ_MS plus a block).
    pub async fn set_sqn_reserved(&self, imsi: &Imsi, mark: i64) -> Result<()> {
        sqlx::query("UPDATE sims SET sqn_reserved = $1 WHERE imsi = $2")
            .bind(mark)
            .bind(imsi.as_str())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The stored SQN high-water mark.
    pub async fn sqn_reserved(&self, imsi: &Imsi) -> Result<Option<i64>> {
        let row = sqlx::query("SELECT sqn_reserved FROM sims WHERE imsi = $1")
            .bind(imsi.as_str())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.try_get::<i64, _>("sqn_reserved")).transpose()?)
    }

    /// Changes a SIM's status; returns the SIM as it was, or `None` when unknown.
    pub async fn set_status(&self, imsi: &Imsi, status: SimStatus) -> Result<Option<Sim>> {
        let before = self.sim(imsi).await?;
        if before.is_some() {
            sqlx::query("UPDATE sims SET status = $1, updated_at = $2 WHERE imsi = $3")
                .bind(status.as_str())
                .bind(now())
                .bind(imsi.as_str())
                .execute(&self.pool)
                .await?;
        }
        Ok(before)
    }

    /// Changes a SIM's profile; returns the SIM as it was.
    pub async fn set_profile(&self, imsi: &Imsi, profile: &str) -> Result<Option<Sim>> {
        let before = self.sim(imsi).await?;
        if before.is_some() {
            sqlx::query("UPDATE sims SET profile = $1, updated_at = $2 WHERE imsi = $3")
                .bind(profile)
                .bind(now())
                .bind(imsi.as_str())
                .execute(&self.pool)
                .await?;
        }
        Ok(before)
    }

    /// Records a registration (ULR): the serving node, its history, and the IMEI seen. Returns the
    /// previous serving node.
    pub async fn register(&self, imsi: &Imsi, node: &ServingNode, imei: Option<&Imei>) -> Result<Option<ServingNode>> {
        let mut tx = self.begin().await?;
        // The previous node is read with the row locked (PostgreSQL; SQLite's write transaction holds
        // the database), so of two registrations at once on two instances each sees the other's.
        let lock = if self.backend == Backend::Postgres { " FOR UPDATE" } else { "" };
        let row = sqlx::query(&format!("SELECT status FROM sims WHERE imsi = $1{lock}"))
            .bind(imsi.as_str())
            .fetch_optional(tx.conn())
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("IMSI {imsi} not found")))?;
        // A suspension committed since the request was admitted wins: no registration of a SIM that
        // is no longer active (its CLR went to the node registered before).
        if row.try_get::<String, _>("status")? != SimStatus::Active.as_str() {
            return Err(StoreError::Conflict(format!("SIM {imsi} is no longer active")));
        }
        let before = tx.serving_node(imsi).await?;
        let plmn = node.plmn.as_ref().map(Plmn::to_string);
        sqlx::query("UPDATE sims SET serving_host = $1, serving_realm = $2, serving_plmn = $3, serving_since = $4 WHERE imsi = $5")
            .bind(&node.origin_host)
            .bind(&node.origin_realm)
            .bind(plmn.clone())
            .bind(node.since)
            .bind(imsi.as_str())
            .execute(tx.conn())
            .await?;
        sqlx::query("INSERT INTO registrations (imsi, origin_host, origin_realm, plmn, imei, at) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(imsi.as_str())
            .bind(&node.origin_host)
            .bind(&node.origin_realm)
            .bind(plmn)
            .bind(imei.map(|i| i.as_str().to_string()))
            .bind(node.since)
            .execute(tx.conn())
            .await?;
        tx.commit().await?;
        Ok(before)
    }

    /// Clears the serving node when `origin_host` is the one registered (PUR). True when cleared.
    pub async fn purge(&self, imsi: &Imsi, origin_host: &str) -> Result<bool> {
        let r = sqlx::query("UPDATE sims SET serving_host = NULL, serving_realm = NULL, serving_plmn = NULL, serving_since = NULL WHERE imsi = $1 AND serving_host = $2")
            .bind(imsi.as_str())
            .bind(origin_host)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected() > 0)
    }

    /// The EIR decision for an IMEI: IMSI–IMEI binding first, then the IMEI, then ranges, then the TAC.
    /// `None` when no list mentions it.
    pub async fn eir_lookup(&self, imsi: Option<&Imsi>, imei: &Imei) -> Result<Option<(EirStatus, String)>> {
        let body = imei.body();
        let tac = imei.tac();
        if let Some(imsi) = imsi {
            let row = sqlx::query("SELECT status, reason FROM imsi_imei_bindings WHERE imsi = $1 AND imei = $2")
                .bind(imsi.as_str())
                .bind(body)
                .fetch_optional(&self.pool)
                .await?;
            if let Some(r) = row {
                return Ok(Some(status_row(&r)?));
            }
        }
        for (sql, key) in [
            ("SELECT status, reason FROM eir_entries WHERE kind = 'imei' AND key_from = $1", body),
            ("SELECT status, reason FROM eir_entries WHERE kind = 'range' AND key_from <= $1 AND key_to >= $1 ORDER BY key_from DESC LIMIT 1", body),
            ("SELECT status, reason FROM eir_entries WHERE kind = 'tac' AND key_from = $1", tac.as_str()),
        ] {
            if let Some(r) = sqlx::query(sql).bind(key).fetch_optional(&self.pool).await? {
                return Ok(Some(status_row(&r)?));
            }
        }
        Ok(None)
    }

    /// Records an event (IMEI lock violation, EIR alert, …).
    pub async fn record_event(&self, imsi: Option<&Imsi>, kind: &str, detail: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO events (imsi, kind, detail, at, tenant) \
             VALUES ($1, $2, $3, $4, (SELECT tenant FROM sims WHERE imsi = $1))",
        )
        .bind(imsi.map(|i| i.as_str().to_string()))
        .bind(kind)
        .bind(detail)
        .bind(now())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Events of a subscriber, oldest first: (kind, detail).
    pub async fn events(&self, imsi: &Imsi) -> Result<Vec<(String, String)>> {
        let rows = sqlx::query("SELECT kind, detail FROM events WHERE imsi = $1 ORDER BY id")
            .bind(imsi.as_str())
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| Ok((r.try_get("kind")?, r.try_get("detail")?))).collect()
    }

    /// Re-seals every row not sealed with the current KEK (SIMs' K and OPc, `batch` rows per
    /// transaction, so a rotation runs while the server keeps serving; then the TOTP secrets, the
    /// analytics pseudonym keys, the OTA keys, the device PSKs and the device CAs' keys). Returns
    /// how many rows were re-sealed.
    pub async fn reseal_all(&self, batch: i64) -> Result<u64> {
        let current = self.keys.current_id();
        let mut done = 0u64;
        let mut after = String::new();
        loop {
            let rows =
                sqlx::query("SELECT imsi, k_sealed, opc_sealed FROM sims WHERE imsi > $1 ORDER BY imsi LIMIT $2")
                    .bind(&after)
                    .bind(batch)
                    .fetch_all(&self.pool)
                    .await?;
            let Some(last) = rows.last() else {
                return Ok(done
                    + self.reseal_mfa_secrets().await?
                    + self.reseal_analytics_keys().await?
                    + self.reseal_ota_keys().await?
                    + self.reseal_device_psks().await?
                    + self.reseal_device_ca_keys().await?);
            };
            after = last.try_get("imsi")?;
            let mut tx = self.pool.begin().await?;
            for r in &rows {
                let imsi: String = r.try_get("imsi")?;
                let k: Vec<u8> = r.try_get("k_sealed")?;
                let opc: Vec<u8> = r.try_get("opc_sealed")?;
                if Keyring::blob_kek(&k) == Some(current) && Keyring::blob_kek(&opc) == Some(current) {
                    continue;
                }
                let k2 = self.keys.seal(&imsi, "k", &self.keys.open(&imsi, "k", &k)?)?;
                let opc2 = self.keys.seal(&imsi, "opc", &self.keys.open(&imsi, "opc", &opc)?)?;
                sqlx::query("UPDATE sims SET k_sealed = $1, opc_sealed = $2 WHERE imsi = $3")
                    .bind(k2)
                    .bind(opc2)
                    .bind(&imsi)
                    .execute(&mut *tx)
                    .await?;
                done += 1;
            }
            tx.commit().await?;
        }
    }

    /// How many notifications wait in the outbox.
    pub async fn pending_notifications(&self) -> Result<usize> {
        let r = sqlx::query("SELECT COUNT(*) AS n FROM outbox").fetch_one(&self.pool).await?;
        Ok(r.try_get::<i64, _>("n")? as usize)
    }

    /// Takes up to `limit` queued notifications (removing them): (IMSI, kind, serving node).
    pub async fn take_notifications(&self, limit: i64) -> Result<Vec<(Imsi, String, ServingNode)>> {
        let mut tx = self.begin().await?;
        let rows = sqlx::query(
            "SELECT id, imsi, kind, serving_host, serving_realm, created_at FROM outbox ORDER BY id LIMIT $1",
        )
        .bind(limit)
        .fetch_all(tx.conn())
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let id: i64 = r.try_get("id")?;
            sqlx::query("DELETE FROM outbox WHERE id = $1").bind(id).execute(tx.conn()).await?;
            let imsi: String = r.try_get("imsi")?;
            let node = ServingNode {
                origin_host: r.try_get("serving_host")?,
                origin_realm: r.try_get("serving_realm")?,
                plmn: None,
                since: r.try_get("created_at")?,
            };
            out.push((
                imsi.parse().map_err(|e: ids::IdError| corrupt(&imsi, e.to_string()))?,
                r.try_get("kind")?,
                node,
            ));
        }
        tx.commit().await?;
        Ok(out)
    }

    /// Raw sealed columns of a SIM (for tests and audits that prove nothing is stored in clear).
    pub async fn sealed_columns(&self, imsi: &Imsi) -> Result<Option<(Vec<u8>, Vec<u8>)>> {
        let row = sqlx::query("SELECT k_sealed, opc_sealed FROM sims WHERE imsi = $1")
            .bind(imsi.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| -> Result<_> { Ok((r.try_get("k_sealed")?, r.try_get("opc_sealed")?)) }).transpose()
    }
}

fn status_row(r: &AnyRow) -> Result<(EirStatus, String)> {
    let s: String = r.try_get("status")?;
    Ok((s.parse().map_err(|e: String| corrupt("eir", e))?, r.try_get("reason")?))
}

impl crate::tx::Tx {
    /// Creates or replaces a service profile.
    pub async fn put_profile(&mut self, p: &ServiceProfile) -> Result<()> {
        p.validate().map_err(StoreError::Conflict)?;
        let body = serde_json::to_string(p).map_err(|e| StoreError::Conflict(e.to_string()))?;
        sqlx::query(
            "INSERT INTO profiles (name, body, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at",
        )
        .bind(&p.name)
        .bind(body)
        .bind(now())
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Inserts SIMs in one transaction: either all are stored or none. K and OPc/TOPc are sealed here.
    pub async fn insert_sims(&mut self, sims: &[NewSim]) -> Result<usize> {
        self.insert_sims_with_progress(sims, &|_| {}).await
    }

    /// [`Store::insert_sims`], calling `progress` with the number of rows written so far.
    pub async fn insert_sims_with_progress(
        &mut self,
        sims: &[NewSim],
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<usize> {
        let t = now();
        for (i, s) in sims.iter().enumerate() {
            if i % 1000 == 0 {
                progress(i as u64);
            }
            let imsi = s.imsi.as_str();
            let k = self.keys().seal(imsi, "k", s.k.expose())?;
            let opc = self.keys().seal(imsi, "opc", s.opc.expose())?;
            sqlx::query(
                "INSERT INTO sims (imsi, iccid, msisdn, tenant, status, priority, profile, algorithm, amf, k_sealed, \
                 opc_sealed, created_at, updated_at, eid) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12, $13)",
            )
            .bind(imsi)
            .bind(s.iccid.as_ref().map(|x| x.as_str().to_string()))
            .bind(s.msisdn.as_ref().map(|x| x.as_str().to_string()))
            .bind(&s.tenant)
            .bind(s.status.as_str())
            .bind(s.priority.as_str())
            .bind(s.profile.clone())
            .bind(s.algorithm.to_db())
            .bind(s.amf.to_vec())
            .bind(k)
            .bind(opc)
            .bind(t)
            .bind(s.eid.as_ref().map(|x| x.as_str().to_string()))
            .execute(self.conn())
            .await
            .map_err(|e| match &e {
                sqlx::Error::Database(d) if d.is_unique_violation() => {
                    StoreError::Conflict(format!("IMSI {imsi} or its ICCID already exists"))
                }
                sqlx::Error::Database(d) if d.is_foreign_key_violation() => StoreError::Conflict(format!(
                    "IMSI {imsi}: profile {:?} does not exist",
                    s.profile.as_deref().unwrap_or("")
                )),
                _ => StoreError::Db(e),
            })?;
        }
        Ok(sims.len())
    }

    /// Adds an IMEI to the SIM's bound list (IMEI lock).
    pub async fn bind_imei(&mut self, imsi: &Imsi, imei: &Imei) -> Result<()> {
        let row = sqlx::query("SELECT bound_imeis FROM sims WHERE imsi = $1")
            .bind(imsi.as_str())
            .fetch_optional(self.conn())
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("IMSI {imsi} not found")))?;
        let bound: String = row.try_get("bound_imeis")?;
        let mut list: Vec<&str> = bound.split(',').filter(|s| !s.is_empty()).collect();
        if list.contains(&imei.body()) {
            return Ok(());
        }
        list.push(imei.body());
        sqlx::query("UPDATE sims SET bound_imeis = $1 WHERE imsi = $2")
            .bind(list.join(","))
            .bind(imsi.as_str())
            .execute(self.conn())
            .await?;
        Ok(())
    }

    /// Stores EIR entries in one transaction (replacing entries with the same key).
    pub async fn put_eir(&mut self, entries: &[EirEntry]) -> Result<usize> {
        for e in entries {
            let (kind, from, to) = match &e.key {
                EirKey::Imei(i) => ("imei", i.clone(), i.clone()),
                EirKey::Tac(t) => ("tac", t.clone(), t.clone()),
                EirKey::Range(a, b) => ("range", a.clone(), b.clone()),
            };
            sqlx::query(
                "INSERT INTO eir_entries (kind, key_from, key_to, status, reason, source) VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (kind, key_from, key_to) DO UPDATE SET status = excluded.status, reason = excluded.reason, source = excluded.source",
            )
            .bind(kind)
            .bind(from)
            .bind(to)
            .bind(e.status.as_str())
            .bind(&e.reason)
            .bind(&e.source)
            .execute(self.conn())
            .await?;
        }
        Ok(entries.len())
    }

    /// Binds an IMSI to an IMEI with a status (checked before the IMEI lists).
    pub async fn put_binding(&mut self, imsi: &Imsi, imei: &Imei, status: EirStatus, reason: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO imsi_imei_bindings (imsi, imei, status, reason) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (imsi, imei) DO UPDATE SET status = excluded.status, reason = excluded.reason",
        )
        .bind(imsi.as_str())
        .bind(imei.body())
        .bind(status.as_str())
        .bind(reason)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Stores a Device Host Identity report.
    pub async fn record_host_identity(&mut self, imei: &Imei, host: &str) -> Result<()> {
        sqlx::query("INSERT INTO host_identities (imei, host, reported_at) VALUES ($1, $2, $3)")
            .bind(imei.as_str())
            .bind(host)
            .bind(now())
            .execute(self.conn())
            .await?;
        Ok(())
    }

    /// Queues a notification (`clr`, `clr-moved` or `idr`) for the instance that reaches `node` to
    /// send. `refresh` (drop cached copies) is queued on SQLite only: on PostgreSQL the change itself
    /// is announced to every instance (migration 0010's triggers).
    pub async fn enqueue_notification(&mut self, imsi: &Imsi, kind: &str, node: &ServingNode) -> Result<()> {
        if kind == "refresh" && self.backend() == Backend::Postgres {
            return Ok(());
        }
        sqlx::query(
            "INSERT INTO outbox (imsi, kind, serving_host, serving_realm, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(imsi.as_str())
        .bind(kind)
        .bind(&node.origin_host)
        .bind(&node.origin_realm)
        .bind(now())
        .execute(self.conn())
        .await?;
        Ok(())
    }
}
