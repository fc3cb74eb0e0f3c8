//! SIM over-the-air data (issue #18, SUB-6, ROAM-5): OTA key sets per SIM with their keys sealed like
//! K/OPc and a durable replay counter ([`Store::reserve_ota_counter`]: one atomic increment in the
//! database, so counters grow strictly across restarts and across processes on one database), the
//! per-SIM history of OTA commands with their PoR results (tenant-scoped reads), OTA jobs with per-SIM
//! items and progress, and the file contents last confirmed on each card.
//!
//! The keys never leave this module except opened into [`OtaKeys`] (zeroized on drop, `Debug`
//! redacted) for the engine that builds the secured packets.

use sqlx::Row;
use zeroize::Zeroizing;

use crate::access::{random_hex, Scope};
use crate::db::{now, Store};
use crate::error::{Result, StoreError};
use crate::tx::Tx;
use ids::Imsi;

/// The highest value a 5-byte CNTR holds.
pub const MAX_COUNTER: i64 = (1 << 40) - 1;

/// One key set to import for a SIM (keys in clear, sealed by [`Tx::put_ota_keysets`]).
#[derive(Debug)]
pub struct NewOtaKeyset {
    /// The SIM.
    pub imsi: Imsi,
    /// The key set.
    pub keys: OtaKeys,
}

/// A SIM's key set: the keys wipe themselves when dropped and never print.
pub struct OtaKeys {
    /// Key-set number.
    pub keyset: u8,
    /// KIc byte.
    pub kic: u8,
    /// KID byte.
    pub kid: u8,
    /// TARs it may address.
    pub tars: Vec<[u8; 3]>,
    /// Ciphering key.
    pub enc: Zeroizing<Vec<u8>>,
    /// RC/CC key.
    pub mac: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for OtaKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "OtaKeys(keyset {}, kic {:#04x}, kid {:#04x}, [redacted])", self.keyset, self.kic, self.kid)
    }
}

/// A key set as listed (no keys).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtaKeysetInfo {
    /// Key-set number.
    pub keyset: u8,
    /// KIc byte.
    pub kic: u8,
    /// KID byte.
    pub kid: u8,
    /// TARs, hex.
    pub tars: Vec<String>,
    /// The last counter reserved.
    pub counter: i64,
}

fn enc_field(keyset: u8) -> String {
    format!("ota_enc:{keyset}")
}

fn mac_field(keyset: u8) -> String {
    format!("ota_mac:{keyset}")
}

fn tars_text(tars: &[[u8; 3]]) -> String {
    tars.iter().map(hex::encode).collect::<Vec<_>>().join(",")
}

fn parse_tars(imsi: &str, text: &str) -> Result<Vec<[u8; 3]>> {
    text.split(',')
        .filter(|t| !t.is_empty())
        .map(|t| {
            hex::decode(t)
                .ok()
                .and_then(|b| <[u8; 3]>::try_from(b.as_slice()).ok())
                .ok_or_else(|| StoreError::Corrupt { imsi: imsi.into(), reason: format!("OTA TAR {t:?}") })
        })
        .collect()
}

fn byte(imsi: &str, v: i64, what: &str) -> Result<u8> {
    u8::try_from(v).map_err(|_| StoreError::Corrupt { imsi: imsi.into(), reason: format!("{what} {v}") })
}

/// States of an OTA command in the history.
pub mod command_state {
    /// Built, not yet handed to the transport.
    pub const QUEUED: &str = "queued";
    /// Handed to the transport (accepted by the SMSC).
    pub const SENT: &str = "sent";
    /// Delivered to the SIM, PoR awaited.
    pub const DELIVERED: &str = "delivered";
    /// The PoR came back verified without error.
    pub const POR_OK: &str = "por_ok";
    /// The PoR came back with an error status or an error SW.
    pub const POR_ERROR: &str = "por_error";
    /// The transport refused it.
    pub const FAILED: &str = "failed";
    /// No PoR came in time.
    pub const TIMEOUT: &str = "timeout";
}

/// A new OTA command for the history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOtaCommand {
    /// Command id.
    pub id: String,
    /// The job it belongs to.
    pub job_id: Option<String>,
    /// The SIM.
    pub imsi: Imsi,
    /// Key-set number.
    pub keyset: u8,
    /// TAR, hex.
    pub tar: String,
    /// What is sent (no keys), e.g. `update 6F61 (40 bytes), REFRESH`.
    pub summary: String,
    /// Attempt number (1 for the first).
    pub attempt: i64,
}

/// What became of an OTA command.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OtaCommandUpdate {
    /// New state ([`command_state`]).
    pub state: &'static str,
    /// The PoR's status name.
    pub por_status: Option<String>,
    /// The last SW of the remote commands, hex.
    pub sw: Option<String>,
    /// Details (an error's reason).
    pub detail: String,
}

/// One OTA command as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtaCommandRow {
    /// Command id.
    pub id: String,
    /// Its job.
    pub job_id: Option<String>,
    /// The SIM.
    pub imsi: String,
    /// Key-set number.
    pub keyset: i64,
    /// TAR, hex.
    pub tar: String,
    /// Counter.
    pub cntr: Option<i64>,
    /// What was sent.
    pub summary: String,
    /// State.
    pub state: String,
    /// PoR status name.
    pub por_status: Option<String>,
    /// SW, hex.
    pub sw: Option<String>,
    /// Attempt number.
    pub attempts: i64,
    /// Details.
    pub detail: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub updated_at: i64,
}

const HISTORY_COLUMNS: &str =
    "id, job_id, imsi, keyset, tar, cntr, summary, state, por_status, sw, attempts, detail, created_at, updated_at";

fn command_from_row(r: &sqlx::any::AnyRow) -> Result<OtaCommandRow> {
    Ok(OtaCommandRow {
        id: r.try_get("id")?,
        job_id: r.try_get("job_id")?,
        imsi: r.try_get("imsi")?,
        keyset: r.try_get("keyset")?,
        tar: r.try_get("tar")?,
        cntr: r.try_get("cntr")?,
        summary: r.try_get("summary")?,
        state: r.try_get("state")?,
        por_status: r.try_get("por_status")?,
        sw: r.try_get("sw")?,
        attempts: r.try_get("attempts")?,
        detail: r.try_get("detail")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

/// An OTA job as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtaJobRow {
    /// Public id.
    pub id: String,
    /// The tenant whose SIMs it targets (`*`: operator-wide).
    pub tenant: String,
    /// `update_file` or `steering`.
    pub kind: String,
    /// The request, JSON.
    pub spec: String,
    /// `queued`, `running`, `succeeded`, `completed_with_errors`.
    pub state: String,
    /// Items.
    pub total: i64,
    /// Items confirmed by a PoR.
    pub done: i64,
    /// Items given up.
    pub failed: i64,
    /// Who created it.
    pub created_by: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub updated_at: i64,
}

impl OtaJobRow {
    /// Items neither done nor failed.
    pub fn pending(&self) -> i64 {
        self.total - self.done - self.failed
    }
}

const JOB_COLUMNS: &str = "id, tenant, kind, spec, state, total, done, failed, created_by, created_at, updated_at";

fn job_from_row(r: &sqlx::any::AnyRow) -> Result<OtaJobRow> {
    Ok(OtaJobRow {
        id: r.try_get("id")?,
        tenant: r.try_get("tenant")?,
        kind: r.try_get("kind")?,
        spec: r.try_get("spec")?,
        state: r.try_get("state")?,
        total: r.try_get("total")?,
        done: r.try_get("done")?,
        failed: r.try_get("failed")?,
        created_by: r.try_get("created_by")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

/// One item of a new job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOtaItem {
    /// The SIM.
    pub imsi: String,
    /// Sending order: lower first (critical SIMs get the highest).
    pub rank: i64,
    /// What this SIM gets (JSON).
    pub payload: String,
}

/// A job item still to be handled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtaItemRow {
    /// The SIM.
    pub imsi: String,
    /// Sending order.
    pub rank: i64,
    /// What this SIM gets (JSON).
    pub payload: String,
    /// `pending`, `done` or `failed`.
    pub state: String,
    /// Attempts so far.
    pub attempts: i64,
    /// Why it failed.
    pub detail: String,
}

fn item_from_row(r: &sqlx::any::AnyRow) -> Result<OtaItemRow> {
    Ok(OtaItemRow {
        imsi: r.try_get("imsi")?,
        rank: r.try_get("rank")?,
        payload: r.try_get("payload")?,
        state: r.try_get("state")?,
        attempts: r.try_get("attempts")?,
        detail: r.try_get("detail")?,
    })
}

/// A SIM that OTA can reach: it has at least one key set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtaTarget {
    /// IMSI.
    pub imsi: String,
    /// Tenant.
    pub tenant: String,
    /// Priority class.
    pub priority: crate::model::Priority,
    /// Profile name.
    pub profile: Option<String>,
}

impl Tx {
    /// Imports key sets, sealing the keys. Every SIM must exist (else `NotFound`, nothing written with
    /// the caller's rollback). A key set imported again gets its new keys and TARs but keeps its
    /// counter, which only ever grows.
    pub async fn put_ota_keysets(&mut self, sets: &[NewOtaKeyset]) -> Result<usize> {
        let t = now();
        for NewOtaKeyset { imsi, keys: s } in sets {
            let imsi = imsi.as_str();
            let known = sqlx::query("SELECT 1 AS one FROM sims WHERE imsi = $1")
                .bind(imsi)
                .fetch_optional(self.conn())
                .await?
                .is_some();
            if !known {
                return Err(StoreError::NotFound(format!("IMSI {imsi} not found")));
            }
            let enc = self.keys().seal(imsi, &enc_field(s.keyset), &s.enc)?;
            let mac = self.keys().seal(imsi, &mac_field(s.keyset), &s.mac)?;
            sqlx::query(
                "INSERT INTO ota_keysets (imsi, keyset, kic, kid, tars, enc_sealed, mac_sealed, counter, created_at, \
                 updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 0, $8, $8) ON CONFLICT (imsi, keyset) DO UPDATE SET \
                 kic = excluded.kic, kid = excluded.kid, tars = excluded.tars, enc_sealed = excluded.enc_sealed, \
                 mac_sealed = excluded.mac_sealed, updated_at = excluded.updated_at",
            )
            .bind(imsi)
            .bind(i64::from(s.keyset))
            .bind(i64::from(s.kic))
            .bind(i64::from(s.kid))
            .bind(tars_text(&s.tars))
            .bind(enc)
            .bind(mac)
            .bind(t)
            .execute(self.conn())
            .await?;
        }
        Ok(sets.len())
    }

    /// Creates a queued OTA job with its items (in chunks, inside this transaction).
    pub async fn create_ota_job(
        &mut self,
        tenant: &str,
        kind: &str,
        spec: &str,
        created_by: &str,
        items: &[NewOtaItem],
    ) -> Result<OtaJobRow> {
        let id = format!("ota_{}", random_hex(8)?);
        let t = now();
        sqlx::query(
            "INSERT INTO ota_jobs (id, tenant, kind, spec, state, total, done, failed, created_by, created_at, \
             updated_at) VALUES ($1, $2, $3, $4, 'queued', $5, 0, 0, $6, $7, $7)",
        )
        .bind(&id)
        .bind(tenant)
        .bind(kind)
        .bind(spec)
        .bind(items.len() as i64)
        .bind(created_by)
        .bind(t)
        .execute(self.conn())
        .await?;
        for chunk in items.chunks(1000) {
            // `$n` placeholders written out: the `Any` driver's query builder does not number them.
            let rows: Vec<String> = (0..chunk.len())
                .map(|i| format!("($1, ${}, ${}, ${}, 'pending', 0, '', $2)", 3 * i + 3, 3 * i + 4, 3 * i + 5))
                .collect();
            let sql = format!(
                "INSERT INTO ota_job_items (job_id, imsi, rank, payload, state, attempts, detail, updated_at) VALUES {}",
                rows.join(", ")
            );
            let mut q = sqlx::query(&sql).bind(&id).bind(t);
            for it in chunk {
                q = q.bind(&it.imsi).bind(it.rank).bind(&it.payload);
            }
            q.execute(self.conn()).await?;
        }
        let row = sqlx::query(&format!("SELECT {JOB_COLUMNS} FROM ota_jobs WHERE id = $1"))
            .bind(&id)
            .fetch_one(self.conn())
            .await?;
        job_from_row(&row)
    }
}

impl Store {
    /// The key set `keyset` of `imsi`, its keys opened.
    pub async fn ota_keys(&self, imsi: &Imsi, keyset: u8) -> Result<Option<OtaKeys>> {
        let row = sqlx::query(
            "SELECT kic, kid, tars, enc_sealed, mac_sealed FROM ota_keysets WHERE imsi = $1 AND keyset = $2",
        )
        .bind(imsi.as_str())
        .bind(i64::from(keyset))
        .fetch_optional(self.pool())
        .await?;
        let Some(r) = row else { return Ok(None) };
        let s = imsi.as_str();
        Ok(Some(OtaKeys {
            keyset,
            kic: byte(s, r.try_get("kic")?, "KIc")?,
            kid: byte(s, r.try_get("kid")?, "KID")?,
            tars: parse_tars(s, &r.try_get::<String, _>("tars")?)?,
            enc: self.keys().open(s, &enc_field(keyset), &r.try_get::<Vec<u8>, _>("enc_sealed")?)?,
            mac: self.keys().open(s, &mac_field(keyset), &r.try_get::<Vec<u8>, _>("mac_sealed")?)?,
        }))
    }

    /// The key sets of `imsi` (no keys), by number.
    pub async fn ota_keysets(&self, imsi: &Imsi) -> Result<Vec<OtaKeysetInfo>> {
        let rows =
            sqlx::query("SELECT keyset, kic, kid, tars, counter FROM ota_keysets WHERE imsi = $1 ORDER BY keyset")
                .bind(imsi.as_str())
                .fetch_all(self.pool())
                .await?;
        let s = imsi.as_str();
        rows.iter()
            .map(|r| {
                Ok(OtaKeysetInfo {
                    keyset: byte(s, r.try_get("keyset")?, "key set")?,
                    kic: byte(s, r.try_get("kic")?, "KIc")?,
                    kid: byte(s, r.try_get("kid")?, "KID")?,
                    tars: r.try_get::<String, _>("tars")?.split(',').map(str::to_string).collect(),
                    counter: r.try_get("counter")?,
                })
            })
            .collect()
    }

    /// Reserves the next replay counter of `imsi`'s key set: one atomic increment, durable before it
    /// returns, so every caller (any process on this database, before or after a restart) gets a
    /// value higher than every one handed out before. `Conflict` when the counter is exhausted
    /// (the key set must be replaced), `NotFound` without such a key set.
    pub async fn reserve_ota_counter(&self, imsi: &Imsi, keyset: u8) -> Result<i64> {
        let row = sqlx::query(
            "UPDATE ota_keysets SET counter = counter + 1, updated_at = $1 WHERE imsi = $2 AND keyset = $3 \
             AND counter < $4 RETURNING counter",
        )
        .bind(now())
        .bind(imsi.as_str())
        .bind(i64::from(keyset))
        .bind(MAX_COUNTER)
        .fetch_optional(self.pool())
        .await?;
        if let Some(r) = row {
            return Ok(r.try_get("counter")?);
        }
        match self.ota_keysets(imsi).await?.iter().any(|k| k.keyset == keyset) {
            true => Err(StoreError::Conflict(format!("OTA counter of {imsi} key set {keyset} is exhausted"))),
            false => Err(StoreError::NotFound(format!("no OTA key set {keyset} for IMSI {imsi}"))),
        }
    }

    /// Re-seals the OTA keys not sealed with the current KEK (part of [`Store::reseal_all`]).
    pub(crate) async fn reseal_ota_keys(&self) -> Result<u64> {
        let keys = self.keyring();
        let current = keys.current_id();
        let mut done = 0;
        let mut after = (String::new(), -1i64);
        loop {
            let rows = sqlx::query(
                "SELECT imsi, keyset, enc_sealed, mac_sealed FROM ota_keysets WHERE imsi > $1 OR (imsi = $1 AND \
                 keyset > $2) ORDER BY imsi, keyset LIMIT 500",
            )
            .bind(&after.0)
            .bind(after.1)
            .fetch_all(self.pool())
            .await?;
            let Some(last) = rows.last() else { return Ok(done) };
            after = (last.try_get("imsi")?, last.try_get("keyset")?);
            let mut tx = self.pool().begin().await?;
            for r in &rows {
                let (imsi, n): (String, i64) = (r.try_get("imsi")?, r.try_get("keyset")?);
                let (enc, mac): (Vec<u8>, Vec<u8>) = (r.try_get("enc_sealed")?, r.try_get("mac_sealed")?);
                let open = |blob: &[u8]| crate::seal::Keyring::blob_kek(blob) == Some(current);
                if open(&enc) && open(&mac) {
                    continue;
                }
                let n8 = byte(&imsi, n, "key set")?;
                let enc2 = keys.seal(&imsi, &enc_field(n8), &keys.open(&imsi, &enc_field(n8), &enc)?)?;
                let mac2 = keys.seal(&imsi, &mac_field(n8), &keys.open(&imsi, &mac_field(n8), &mac)?)?;
                sqlx::query("UPDATE ota_keysets SET enc_sealed = $1, mac_sealed = $2 WHERE imsi = $3 AND keyset = $4")
                    .bind(enc2)
                    .bind(mac2)
                    .bind(&imsi)
                    .bind(n)
                    .execute(&mut *tx)
                    .await?;
                done += 1;
            }
            tx.commit().await?;
        }
    }

    /// Records a command about to be sent, with its freshly reserved counter, in one transaction with
    /// the reservation (and the attempt counted on its job item): returns the counter. A command id
    /// recorded again (a retry) is updated.
    pub async fn record_ota_command(&self, c: &NewOtaCommand) -> Result<i64> {
        let mut tx = self.begin().await?;
        let t = now();
        let row = sqlx::query(
            "UPDATE ota_keysets SET counter = counter + 1, updated_at = $1 WHERE imsi = $2 AND keyset = $3 \
             AND counter < $4 RETURNING counter",
        )
        .bind(t)
        .bind(c.imsi.as_str())
        .bind(i64::from(c.keyset))
        .bind(MAX_COUNTER)
        .fetch_optional(tx.conn())
        .await?;
        let Some(row) = row else {
            drop(tx);
            // Says which: no key set, or an exhausted counter.
            return self.reserve_ota_counter(&c.imsi, c.keyset).await;
        };
        let cntr: i64 = row.try_get("counter")?;
        if let Some(job) = &c.job_id {
            sqlx::query("UPDATE ota_job_items SET attempts = $1, updated_at = $2 WHERE job_id = $3 AND imsi = $4")
                .bind(c.attempt)
                .bind(t)
                .bind(job)
                .bind(c.imsi.as_str())
                .execute(tx.conn())
                .await?;
        }
        sqlx::query(
            "INSERT INTO ota_history (id, job_id, imsi, tenant, keyset, tar, cntr, summary, state, attempts, detail, \
             created_at, updated_at) SELECT $1, $2, $3, tenant, $4, $5, $6, $7, 'queued', $8, '', $9, $9 FROM sims \
             WHERE imsi = $3 ON CONFLICT (id) DO UPDATE SET cntr = excluded.cntr, state = 'queued', \
             attempts = excluded.attempts, por_status = NULL, sw = NULL, detail = '', updated_at = excluded.updated_at",
        )
        .bind(&c.id)
        .bind(&c.job_id)
        .bind(c.imsi.as_str())
        .bind(i64::from(c.keyset))
        .bind(&c.tar)
        .bind(cntr)
        .bind(&c.summary)
        .bind(c.attempt)
        .bind(t)
        .execute(tx.conn())
        .await?;
        tx.commit().await?;
        Ok(cntr)
    }

    /// Sets what became of a command.
    pub async fn update_ota_command(&self, id: &str, u: &OtaCommandUpdate) -> Result<()> {
        sqlx::query(
            "UPDATE ota_history SET state = $1, por_status = COALESCE($2, por_status), sw = COALESCE($3, sw), \
             detail = $4, updated_at = $5 WHERE id = $6",
        )
        .bind(u.state)
        .bind(&u.por_status)
        .bind(&u.sw)
        .bind(&u.detail)
        .bind(now())
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// One command by id (no scope: for the engine).
    pub async fn ota_command(&self, id: &str) -> Result<Option<OtaCommandRow>> {
        let row = sqlx::query(&format!("SELECT {HISTORY_COLUMNS} FROM ota_history WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        row.map(|r| command_from_row(&r)).transpose()
    }

    /// The commands of `imsi` waiting for a PoR (sent or delivered), oldest counter first: what the
    /// engine matches PoRs against after a restart.
    pub async fn ota_commands_waiting(&self, imsi: &Imsi, keyset: u8) -> Result<Vec<OtaCommandRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {HISTORY_COLUMNS} FROM ota_history WHERE imsi = $1 AND keyset = $2 AND state IN ('queued', \
             'sent', 'delivered') ORDER BY cntr"
        ))
        .bind(imsi.as_str())
        .bind(i64::from(keyset))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(command_from_row).collect()
    }

    /// The OTA history of a SIM visible in `scope`, newest first; `None` when the SIM is not visible.
    pub async fn ota_history(&self, scope: &Scope, imsi: &Imsi, limit: i64) -> Result<Option<Vec<OtaCommandRow>>> {
        let visible = sqlx::query("SELECT 1 AS one FROM sims WHERE imsi = $1 AND ($2 = '*' OR tenant = $2)")
            .bind(imsi.as_str())
            .bind(scope.key())
            .fetch_optional(self.pool())
            .await?
            .is_some();
        if !visible {
            return Ok(None);
        }
        let rows = sqlx::query(&format!(
            "SELECT {HISTORY_COLUMNS} FROM ota_history WHERE imsi = $1 AND ($2 = '*' OR tenant = $2) \
             ORDER BY created_at DESC, id DESC LIMIT $3"
        ))
        .bind(imsi.as_str())
        .bind(scope.key())
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(command_from_row).collect::<Result<Vec<_>>>().map(Some)
    }

    /// An OTA job visible in `scope`.
    pub async fn ota_job(&self, scope: &Scope, id: &str) -> Result<Option<OtaJobRow>> {
        let row =
            sqlx::query(&format!("SELECT {JOB_COLUMNS} FROM ota_jobs WHERE id = $1 AND ($2 = '*' OR tenant = $2)"))
                .bind(id)
                .bind(scope.key())
                .fetch_optional(self.pool())
                .await?;
        row.map(|r| job_from_row(&r)).transpose()
    }

    /// OTA jobs queued or running (to resume after a restart), oldest first.
    pub async fn unfinished_ota_jobs(&self) -> Result<Vec<OtaJobRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {JOB_COLUMNS} FROM ota_jobs WHERE state IN ('queued', 'running') ORDER BY created_at, id"
        ))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(job_from_row).collect()
    }

    /// Sets a job's state.
    pub async fn set_ota_job_state(&self, id: &str, state: &str) -> Result<()> {
        sqlx::query("UPDATE ota_jobs SET state = $1, updated_at = $2 WHERE id = $3")
            .bind(state)
            .bind(now())
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// The items of a job still pending, in sending order (rank, then IMSI) after `after` (a
    /// `(rank, imsi)` already read).
    pub async fn pending_ota_items(
        &self,
        job_id: &str,
        after: Option<(i64, &str)>,
        limit: i64,
    ) -> Result<Vec<OtaItemRow>> {
        let (rank, imsi) = after.unwrap_or((i64::MIN, ""));
        let rows = sqlx::query(
            "SELECT imsi, rank, payload, state, attempts, detail FROM ota_job_items WHERE job_id = $1 AND \
             state = 'pending' AND (rank > $2 OR (rank = $2 AND imsi > $3)) ORDER BY rank, imsi LIMIT $4",
        )
        .bind(job_id)
        .bind(rank)
        .bind(imsi)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(item_from_row).collect()
    }

    /// The items of a job visible in `scope` in one state (`pending`, `done`, `failed`), in sending order.
    pub async fn ota_job_items(&self, scope: &Scope, job_id: &str, state: &str, limit: i64) -> Result<Vec<OtaItemRow>> {
        if self.ota_job(scope, job_id).await?.is_none() {
            return Ok(vec![]);
        }
        let rows = sqlx::query(
            "SELECT imsi, rank, payload, state, attempts, detail FROM ota_job_items WHERE job_id = $1 AND \
             state = $2 ORDER BY rank, imsi LIMIT $3",
        )
        .bind(job_id)
        .bind(state)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(item_from_row).collect()
    }

    /// Finishes an item (`done` or `failed`) and counts it in its job, in one transaction with the
    /// file contents the card confirmed (`(fid, content hex)`). An item already finished is left
    /// alone (false), so a resumed job never counts an item twice.
    pub async fn finish_ota_item(
        &self,
        job_id: &str,
        imsi: &str,
        state: &'static str,
        attempts: i64,
        detail: &str,
        confirmed: &[(String, String)],
    ) -> Result<bool> {
        self.finish_ota_item_with(job_id, imsi, state, attempts, detail, confirmed, None).await
    }

    /// [`Store::finish_ota_item`] that also sets what became of the item's last command, in the same
    /// transaction (one commit per confirmed SIM).
    #[allow(clippy::too_many_arguments)]
    pub async fn finish_ota_item_with(
        &self,
        job_id: &str,
        imsi: &str,
        state: &'static str,
        attempts: i64,
        detail: &str,
        confirmed: &[(String, String)],
        command: Option<(&str, &OtaCommandUpdate)>,
    ) -> Result<bool> {
        let mut tx = self.begin().await?;
        if let Some((id, u)) = command {
            sqlx::query(
                "UPDATE ota_history SET state = $1, por_status = COALESCE($2, por_status), sw = COALESCE($3, sw), \
                 detail = $4, updated_at = $5 WHERE id = $6",
            )
            .bind(u.state)
            .bind(&u.por_status)
            .bind(&u.sw)
            .bind(&u.detail)
            .bind(now())
            .bind(id)
            .execute(tx.conn())
            .await?;
        }
        let t = now();
        let r = sqlx::query(
            "UPDATE ota_job_items SET state = $1, attempts = $2, detail = $3, updated_at = $4 WHERE job_id = $5 \
             AND imsi = $6 AND state = 'pending'",
        )
        .bind(state)
        .bind(attempts)
        .bind(detail)
        .bind(t)
        .bind(job_id)
        .bind(imsi)
        .execute(tx.conn())
        .await?;
        if r.rows_affected() != 1 {
            return Ok(false);
        }
        let column = if state == "done" { "done" } else { "failed" };
        sqlx::query(&format!("UPDATE ota_jobs SET {column} = {column} + 1, updated_at = $1 WHERE id = $2"))
            .bind(t)
            .bind(job_id)
            .execute(tx.conn())
            .await?;
        for (fid, content) in confirmed {
            tx.put_ota_sim_file(imsi, fid, content, t).await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Counts an attempt on a pending item.
    pub async fn count_ota_attempt(&self, job_id: &str, imsi: &str, attempts: i64) -> Result<()> {
        sqlx::query("UPDATE ota_job_items SET attempts = $1, updated_at = $2 WHERE job_id = $3 AND imsi = $4")
            .bind(attempts)
            .bind(now())
            .bind(job_id)
            .bind(imsi)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// The content last confirmed on `imsi`'s card for file `fid` (hex), if any.
    pub async fn ota_sim_file(&self, imsi: &str, fid: &str) -> Result<Option<String>> {
        let row = sqlx::query("SELECT content FROM ota_sim_files WHERE imsi = $1 AND fid = $2")
            .bind(imsi)
            .bind(fid)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.map(|r| r.try_get("content")).transpose()?)
    }

    /// Every confirmed content of file `fid`, by IMSI (for planning a steering job in one read).
    pub async fn ota_sim_files(&self, fid: &str) -> Result<std::collections::HashMap<String, String>> {
        let rows = sqlx::query("SELECT imsi, content FROM ota_sim_files WHERE fid = $1")
            .bind(fid)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(|r| Ok((r.try_get("imsi")?, r.try_get("content")?))).collect()
    }

    /// The SIMs with an OTA key set visible in `scope` and not terminated, with what planning needs.
    pub async fn ota_targets(&self, scope: &Scope) -> Result<Vec<OtaTarget>> {
        let rows = sqlx::query(
            "SELECT DISTINCT s.imsi AS imsi, s.tenant AS tenant, s.priority AS priority, s.profile AS profile \
             FROM sims s JOIN ota_keysets k ON k.imsi = s.imsi WHERE ($1 = '*' OR s.tenant = $1) AND \
             s.status <> 'terminated' ORDER BY s.imsi",
        )
        .bind(scope.key())
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                let imsi: String = r.try_get("imsi")?;
                let priority: String = r.try_get("priority")?;
                Ok(OtaTarget {
                    priority: priority
                        .parse()
                        .map_err(|e: String| StoreError::Corrupt { imsi: imsi.clone(), reason: e })?,
                    imsi,
                    tenant: r.try_get("tenant")?,
                    profile: r.try_get("profile")?,
                })
            })
            .collect()
    }
}

impl Store {
    /// At an engine's start: the commands still waiting for a PoR were sent by a process that is
    /// gone (their items are sent again with fresh counters); they become `timeout`. Returns how many.
    pub async fn expire_waiting_ota_commands(&self, detail: &str) -> Result<u64> {
        let r = sqlx::query(
            "UPDATE ota_history SET state = 'timeout', detail = $1, updated_at = $2 WHERE state IN ('queued', \
             'sent', 'delivered')",
        )
        .bind(detail)
        .bind(now())
        .execute(self.pool())
        .await?;
        Ok(r.rows_affected())
    }

    /// The state of a job's item (`pending`, `done`, `failed`, `superseded`).
    pub async fn ota_item_state(&self, job_id: &str, imsi: &str) -> Result<Option<String>> {
        let row = sqlx::query("SELECT state FROM ota_job_items WHERE job_id = $1 AND imsi = $2")
            .bind(job_id)
            .bind(imsi)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.map(|r| r.try_get("state")).transpose()?)
    }

    /// The payloads of the pending items of unfinished jobs of `kind`, by IMSI (the newest job's when
    /// several).
    pub async fn pending_ota_payloads(&self, kind: &str) -> Result<std::collections::HashMap<String, String>> {
        let rows = sqlx::query(
            "SELECT i.imsi AS imsi, i.payload AS payload FROM ota_job_items i JOIN ota_jobs j ON j.id = i.job_id \
             WHERE j.kind = $1 AND j.state IN ('queued', 'running') AND i.state = 'pending' \
             ORDER BY j.created_at, j.id",
        )
        .bind(kind)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(|r| Ok((r.try_get("imsi")?, r.try_get("payload")?))).collect()
    }

    /// The IMSI of the SIM with this MSISDN (digits), when exactly one has it.
    pub async fn imsi_by_msisdn(&self, msisdn: &str) -> Result<Option<Imsi>> {
        let rows = sqlx::query("SELECT imsi FROM sims WHERE msisdn = $1 LIMIT 2")
            .bind(msisdn.trim_start_matches('+'))
            .fetch_all(self.pool())
            .await?;
        match rows.as_slice() {
            [one] => {
                let imsi: String = one.try_get("imsi")?;
                Ok(Some(
                    imsi.parse()
                        .map_err(|e: ids::IdError| StoreError::Corrupt { imsi: imsi.clone(), reason: e.to_string() })?,
                ))
            }
            _ => Ok(None),
        }
    }
}

impl Tx {
    /// Takes the pending items of `imsis` out of unfinished jobs of `kind` (state `superseded`, no
    /// longer counted in their job's total): a newer job writes those SIMs. Returns how many.
    pub async fn supersede_ota_items(&mut self, kind: &str, imsis: &[String]) -> Result<u64> {
        let mut n = 0;
        for imsi in imsis {
            let rows = sqlx::query(
                "SELECT i.job_id AS job_id FROM ota_job_items i JOIN ota_jobs j ON j.id = i.job_id WHERE \
                 j.kind = $1 AND j.state IN ('queued', 'running') AND i.state = 'pending' AND i.imsi = $2",
            )
            .bind(kind)
            .bind(imsi)
            .fetch_all(self.conn())
            .await?;
            for r in rows {
                let job: String = r.try_get("job_id")?;
                sqlx::query(
                    "UPDATE ota_job_items SET state = 'superseded', updated_at = $1 WHERE job_id = $2 AND imsi = $3",
                )
                .bind(now())
                .bind(&job)
                .bind(imsi)
                .execute(self.conn())
                .await?;
                sqlx::query("UPDATE ota_jobs SET total = total - 1, updated_at = $1 WHERE id = $2")
                    .bind(now())
                    .bind(&job)
                    .execute(self.conn())
                    .await?;
                n += 1;
            }
        }
        Ok(n)
    }

    /// Records `content` as confirmed on `imsi`'s card for file `fid`.
    pub async fn put_ota_sim_file(&mut self, imsi: &str, fid: &str, content: &str, at: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO ota_sim_files (imsi, fid, content, confirmed_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (imsi, fid) DO UPDATE SET content = excluded.content, confirmed_at = excluded.confirmed_at",
        )
        .bind(imsi)
        .bind(fid)
        .bind(content)
        .bind(at)
        .execute(self.conn())
        .await?;
        Ok(())
    }
}
