//! What each LwM2M device last showed of itself (issue #19, DM-1, docs/devices.md), persisted so that
//! the SIM page and `GET /sims/{imsi}/devices` answer after a restart and on any instance: the SIM it
//! is linked to and that SIM's tenant, what objects 3 and 4 said, when it registered and was last
//! heard from, which instance holds its registration and whether it is registered now, and the IMEI
//! mismatch with the HSS, if any.
//!
//! The LwM2M server writes (one row per endpoint, migration 0029); readers go through
//! [`Store::device_snapshot_in`] and [`Store::device_snapshots_of_sim`], which carry the caller's
//! [`Scope`]: a tenant's query only ever returns the tenant's own rows. A device not linked to a SIM
//! belongs to the operator (tenant `*`).

use sqlx::Row;

use crate::access::Scope;
use crate::db::Store;
use crate::error::Result;

/// The tenant value of a device no SIM claims: only the operator sees it.
pub const OPERATOR_TENANT: &str = "*";

/// Most devices listed for one SIM.
pub const MAX_PER_SIM: i64 = 100;

/// One device's persisted state.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DeviceSnapshot {
    /// Endpoint client name.
    pub endpoint: String,
    /// The SIM it is linked to.
    pub imsi: Option<String>,
    /// That SIM's tenant (`*`: not linked, the operator's).
    pub tenant: String,
    /// What objects 3 and 4 said at the last read (all `None` before the first).
    #[serde(flatten)]
    pub objects: DeviceObjects,
    /// Unix seconds of the last read of objects 3/4; `None` before the first.
    pub objects_read_at: Option<i64>,
    /// The IMEI the device reports (its endpoint name or an IMEI serial).
    pub reported_imei: Option<String>,
    /// The IMEI the HSS last saw for the SIM when it differs from the reported one (a
    /// `device.imei_mismatch` event was recorded); `None` when they agree or were not compared.
    pub hss_imei: Option<String>,
    /// Unix seconds of its latest registration.
    pub registered_at: i64,
    /// Unix seconds it was last heard from (coalesced by the writer, see docs/devices.md).
    pub last_seen: i64,
    /// The instance (Diameter origin host) that holds or held the registration.
    pub instance: String,
    /// Registered now.
    pub registered: bool,
    /// Unix seconds of the row's last write.
    pub updated_at: i64,
}

/// A registration as the server recorded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRegistration<'a> {
    /// Endpoint client name.
    pub endpoint: &'a str,
    /// The SIM it is linked to, with the SIM's tenant.
    pub link: Option<(&'a str, &'a str)>,
    /// Unix seconds.
    pub at: i64,
    /// The instance holding it.
    pub instance: &'a str,
}

/// What one read of objects 3 and 4 gave (and so what a snapshot holds of them).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct DeviceObjects {
    /// Manufacturer (3/0/0).
    pub manufacturer: Option<String>,
    /// Model number (3/0/1).
    pub model: Option<String>,
    /// Serial number (3/0/2).
    pub serial: Option<String>,
    /// Firmware version (3/0/3).
    pub firmware: Option<String>,
    /// Battery level, percent (3/0/9).
    pub battery: Option<i64>,
    /// Radio signal strength, dBm (4/0/2).
    pub signal_dbm: Option<i64>,
}

const COLUMNS: &str = "endpoint, imsi, tenant, manufacturer, model, serial, firmware, battery, signal_dbm, \
                       objects_read_at, reported_imei, hss_imei, registered_at, last_seen, instance, registered, \
                       updated_at";

fn from_row(r: &sqlx::any::AnyRow) -> Result<DeviceSnapshot> {
    Ok(DeviceSnapshot {
        endpoint: r.try_get("endpoint")?,
        imsi: r.try_get("imsi")?,
        tenant: r.try_get("tenant")?,
        objects: DeviceObjects {
            manufacturer: r.try_get("manufacturer")?,
            model: r.try_get("model")?,
            serial: r.try_get("serial")?,
            firmware: r.try_get("firmware")?,
            battery: r.try_get("battery")?,
            signal_dbm: r.try_get("signal_dbm")?,
        },
        objects_read_at: r.try_get("objects_read_at")?,
        reported_imei: r.try_get("reported_imei")?,
        hss_imei: r.try_get("hss_imei")?,
        registered_at: r.try_get("registered_at")?,
        last_seen: r.try_get("last_seen")?,
        instance: r.try_get("instance")?,
        registered: r.try_get::<i64, _>("registered")? != 0,
        updated_at: r.try_get("updated_at")?,
    })
}

/// Texts a device reports are cut to this many characters before they are stored.
const MAX_TEXT: usize = 128;

fn cut(s: &Option<String>) -> Option<String> {
    s.as_ref().map(|s| s.chars().take(MAX_TEXT).collect())
}

impl Store {
    /// Records a (re-)registration: the device is registered now, at `instance`, linked as given
    /// (what objects 3/4 said before stays until they are read again).
    pub async fn device_registered(&self, r: &DeviceRegistration<'_>) -> Result<()> {
        let (imsi, tenant) = match r.link {
            Some((i, t)) => (Some(i), t),
            None => (None, OPERATOR_TENANT),
        };
        sqlx::query(
            "INSERT INTO device_snapshots (endpoint, imsi, tenant, registered_at, last_seen, instance, registered, \
             updated_at) VALUES ($1, $2, $3, $4, $4, $5, 1, $6) \
             ON CONFLICT (endpoint) DO UPDATE SET imsi = excluded.imsi, tenant = excluded.tenant, \
             registered_at = excluded.registered_at, last_seen = excluded.last_seen, instance = excluded.instance, \
             registered = 1, updated_at = excluded.updated_at",
        )
        .bind(r.endpoint)
        .bind(imsi)
        .bind(tenant)
        .bind(r.at)
        .bind(r.instance)
        .bind(crate::now())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Links a registered device to a SIM and its tenant (found after it registered, by an ICCID
    /// serial number). `false` when no row exists.
    pub async fn link_device(&self, endpoint: &str, imsi: &str, tenant: &str) -> Result<bool> {
        let r = sqlx::query("UPDATE device_snapshots SET imsi = $2, tenant = $3, updated_at = $4 WHERE endpoint = $1")
            .bind(endpoint)
            .bind(imsi)
            .bind(tenant)
            .bind(crate::now())
            .execute(self.pool())
            .await?;
        Ok(r.rows_affected() > 0)
    }

    /// Records what a read of objects 3/4 gave at `at` (texts cut to 128 characters); `false` when
    /// no row exists.
    pub async fn device_objects_read(&self, endpoint: &str, o: &DeviceObjects, at: i64) -> Result<bool> {
        let r = sqlx::query(
            "UPDATE device_snapshots SET manufacturer = $2, model = $3, serial = $4, firmware = $5, battery = $6, \
             signal_dbm = $7, objects_read_at = $8, last_seen = $8, updated_at = $9 WHERE endpoint = $1",
        )
        .bind(endpoint)
        .bind(cut(&o.manufacturer))
        .bind(cut(&o.model))
        .bind(cut(&o.serial))
        .bind(cut(&o.firmware))
        .bind(o.battery)
        .bind(o.signal_dbm)
        .bind(at)
        .bind(crate::now())
        .execute(self.pool())
        .await?;
        Ok(r.rows_affected() > 0)
    }

    /// Records the IMEI comparison: the reported IMEI and, when it differs, the HSS's. The row is
    /// written only when that pair is not the one it already holds, in one conditional UPDATE, so
    /// `true` (the pair changed) is answered to exactly one of the callers that record the same new
    /// pair, whichever instance they run on: the one that records a `device.imei_mismatch` event.
    /// `false` when the row already holds the pair or no row exists.
    pub async fn device_imei_checked(&self, endpoint: &str, reported: &str, hss_differs: Option<&str>) -> Result<bool> {
        // `IS DISTINCT FROM`: NULL-safe inequality, in PostgreSQL and in SQLite since 3.39 (the
        // bundled libsqlite3-sys 0.30 brings 3.46).
        let sql = "UPDATE device_snapshots SET reported_imei = $2, hss_imei = $3, updated_at = $4 \
                   WHERE endpoint = $1 AND (reported_imei IS DISTINCT FROM $2 OR hss_imei IS DISTINCT FROM $3)";
        self.update_snapshot(sql, endpoint, reported.to_string(), hss_differs.map(str::to_string)).await
    }

    /// The device was heard from at `at` (a registration update) through `instance`.
    pub async fn device_seen(&self, endpoint: &str, instance: &str, at: i64) -> Result<()> {
        let sql = "UPDATE device_snapshots SET last_seen = $2, instance = $3, registered = 1, updated_at = $4 \
                   WHERE endpoint = $1 AND last_seen <= $2";
        self.update_snapshot(sql, endpoint, at, instance.to_string()).await.map(drop)
    }

    /// The device de-registered or expired at `instance`: no longer registered, unless another
    /// instance holds it by now.
    pub async fn device_gone(&self, endpoint: &str, instance: &str, at: i64) -> Result<()> {
        let sql = "UPDATE device_snapshots SET registered = 0, last_seen = $3, updated_at = $4 \
                   WHERE endpoint = $1 AND instance = $2";
        self.update_snapshot(sql, endpoint, instance.to_string(), at).await.map(drop)
    }

    /// Runs `sql`, an UPDATE of one device's row: `$1` its endpoint, `$2` and `$3` the values, `$4`
    /// the time of the write. `true` when it changed the row.
    async fn update_snapshot<A, B>(&self, sql: &str, endpoint: &str, a: A, b: B) -> Result<bool>
    where
        A: for<'q> sqlx::Encode<'q, sqlx::Any> + sqlx::Type<sqlx::Any> + Send,
        B: for<'q> sqlx::Encode<'q, sqlx::Any> + sqlx::Type<sqlx::Any> + Send,
    {
        let r = sqlx::query(sql).bind(endpoint).bind(a).bind(b).bind(crate::now()).execute(self.pool()).await?;
        Ok(r.rows_affected() > 0)
    }

    /// Marks every device `instance` held as no longer registered (it starts afresh: registrations
    /// live in its memory). Returns how many.
    pub async fn release_devices_of(&self, instance: &str) -> Result<u64> {
        let r = sqlx::query(
            "UPDATE device_snapshots SET registered = 0, updated_at = $2 WHERE instance = $1 AND registered = 1",
        )
        .bind(instance)
        .bind(crate::now())
        .execute(self.pool())
        .await?;
        Ok(r.rows_affected())
    }

    /// One device, when visible in `scope`.
    pub async fn device_snapshot_in(&self, scope: &Scope, endpoint: &str) -> Result<Option<DeviceSnapshot>> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM device_snapshots WHERE endpoint = $1 AND ($2 = '*' OR tenant = $2)"
        ))
        .bind(endpoint)
        .bind(scope.key())
        .fetch_optional(self.pool())
        .await?;
        row.map(|r| from_row(&r)).transpose()
    }

    /// The devices linked to the SIM `imsi` that `scope` may see, registered ones first, then by
    /// latest registration, at most [`MAX_PER_SIM`].
    pub async fn device_snapshots_of_sim(&self, scope: &Scope, imsi: &str) -> Result<Vec<DeviceSnapshot>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM device_snapshots WHERE imsi = $1 AND ($2 = '*' OR tenant = $2) \
             ORDER BY registered DESC, registered_at DESC, endpoint LIMIT $3"
        ))
        .bind(imsi)
        .bind(scope.key())
        .bind(MAX_PER_SIM)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(from_row).collect()
    }

    /// The endpoints of `tenant`'s devices of `model` (object 3/0/1 as last read) registered now
    /// with any instance, in name order, at most `limit`: what a firmware campaign by model targets,
    /// whichever instance holds each registration.
    pub async fn registered_devices_of_model(&self, tenant: &str, model: &str, limit: i64) -> Result<Vec<String>> {
        let rows = sqlx::query(
            "SELECT endpoint FROM device_snapshots WHERE tenant = $1 AND model = $2 AND registered = 1 \
             ORDER BY endpoint LIMIT $3",
        )
        .bind(tenant)
        .bind(model)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(|r| Ok(r.try_get::<String, _>("endpoint")?)).collect()
    }
}
