//! Device pre-shared keys for DTLS (CoAPs for LwM2M, issue #19), in two roles ([`PskRole`]): the
//! key a device uses with the LwM2M server (`device_psks`) and the one it uses with the bootstrap
//! server (`device_bootstrap_psks`, migration 0028). Per role, one PSK identity and key per
//! endpoint, the key sealed like K/OPc (bound to the endpoint and the identity, so a sealed key
//! copied to another row does not open), tenant-scoped through the SIM the device carries (or the
//! operator's own, `*`, when no SIM is given). Listing never returns keys; only
//! [`Store::device_psk_keys`] opens them, for the DTLS server's in-memory table.

use sqlx::Row;
use zeroize::Zeroizing;

use crate::access::Scope;
use crate::db::{now, Store};
use crate::error::{Result, StoreError};
use crate::tx::Tx;
use ids::Imsi;

/// A credential to store (key in clear, sealed by [`Tx::put_device_psk`]).
pub struct NewDevicePsk {
    /// LwM2M endpoint name.
    pub endpoint: String,
    /// PSK identity.
    pub identity: String,
    /// The key.
    pub key: Zeroizing<Vec<u8>>,
    /// The SIM in the device, whose tenant owns the credential.
    pub imsi: Option<Imsi>,
}

impl std::fmt::Debug for NewDevicePsk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NewDevicePsk({}, identity {:?}, key redacted)", self.endpoint, self.identity)
    }
}

/// A credential as listed (no key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevicePskInfo {
    /// Endpoint name.
    pub endpoint: String,
    /// PSK identity.
    pub identity: String,
    /// The SIM, when known.
    pub imsi: Option<String>,
    /// Owning tenant (`*`: the operator).
    pub tenant: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub updated_at: i64,
}

/// A credential with its key opened (wiped on drop, never printed).
pub struct DevicePsk {
    /// Endpoint name.
    pub endpoint: String,
    /// PSK identity.
    pub identity: String,
    /// The key.
    pub key: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for DevicePsk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DevicePsk({}, identity {:?}, key redacted)", self.endpoint, self.identity)
    }
}

/// Which server a device's PSK is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PskRole {
    /// The LwM2M server (the CoAPs listener).
    Server,
    /// The bootstrap server (`bootstrap_listen`).
    Bootstrap,
}

impl PskRole {
    fn table(self) -> &'static str {
        match self {
            PskRole::Server => "device_psks",
            PskRole::Bootstrap => "device_bootstrap_psks",
        }
    }

    /// The sealing field: bound to the identity, and different per role so a key copied from one
    /// table to the other does not open.
    fn key_field(self, identity: &str) -> String {
        match self {
            PskRole::Server => format!("psk:{identity}"),
            PskRole::Bootstrap => format!("bspsk:{identity}"),
        }
    }
}

fn info_from_row(r: &sqlx::any::AnyRow) -> Result<DevicePskInfo> {
    Ok(DevicePskInfo {
        endpoint: r.try_get("endpoint")?,
        identity: r.try_get("identity")?,
        imsi: r.try_get("imsi")?,
        tenant: r.try_get("tenant")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

impl Tx {
    /// Stores (or replaces) the credential of an endpoint, sealing its key; returns the owning
    /// tenant. `NotFound` when the SIM does not exist, `Conflict` when another endpoint already uses
    /// the identity.
    pub async fn put_device_psk(&mut self, p: &NewDevicePsk) -> Result<String> {
        self.put_psk(PskRole::Server, p, None).await
    }

    /// [`Tx::put_device_psk`] for the bootstrap server's credential.
    pub async fn put_bootstrap_psk(&mut self, p: &NewDevicePsk) -> Result<String> {
        self.put_psk(PskRole::Bootstrap, p, None).await
    }

    /// Stores the LwM2M-server PSK a bootstrap provisioned to `endpoint`, with the SIM of its
    /// bootstrap credential; returns the owning tenant and that SIM. A compare-and-set: it replaces
    /// the endpoint's PSK only while that is still `previous` (the identity the endpoint had when the
    /// bootstrap started, `None`: it had none), so of two bootstraps of one endpoint that overlap
    /// (two instances on one database) the first to finish is stored and the other gets
    /// `Conflict` and stores nothing — in one statement, so it holds under concurrent writers.
    pub async fn put_bootstrapped_psk(
        &mut self,
        endpoint: &str,
        identity: &str,
        key: Zeroizing<Vec<u8>>,
        previous: Option<&str>,
    ) -> Result<(String, Option<Imsi>)> {
        let imsi: Option<String> = sqlx::query("SELECT imsi FROM device_bootstrap_psks WHERE endpoint = $1")
            .bind(endpoint)
            .fetch_optional(self.conn())
            .await?
            .map(|r| r.try_get("imsi"))
            .transpose()?
            .flatten();
        let imsi = imsi
            .map(|i| i.parse::<Imsi>().map_err(|e| StoreError::Corrupt { imsi: i.clone(), reason: e.to_string() }))
            .transpose()?;
        let p = NewDevicePsk { endpoint: endpoint.into(), identity: identity.into(), key, imsi };
        let tenant = self.put_psk(PskRole::Server, &p, Some(previous)).await?;
        Ok((tenant, p.imsi))
    }

    /// Upserts `p`; with `only_over`, a replacement happens only while the stored identity is
    /// `only_over`'s (`Some(None)`: only when there is none), else `Conflict`.
    async fn put_psk(&mut self, role: PskRole, p: &NewDevicePsk, only_over: Option<Option<&str>>) -> Result<String> {
        let table = role.table();
        let tenant = match &p.imsi {
            Some(imsi) => sqlx::query("SELECT tenant FROM sims WHERE imsi = $1")
                .bind(imsi.as_str())
                .fetch_optional(self.conn())
                .await?
                .map(|r| r.try_get::<String, _>("tenant"))
                .transpose()?
                .ok_or_else(|| StoreError::NotFound(format!("IMSI {imsi} not found")))?,
            None => Scope::Operator.key().to_string(),
        };
        let taken = sqlx::query(&format!("SELECT endpoint FROM {table} WHERE identity = $1 AND endpoint <> $2"))
            .bind(&p.identity)
            .bind(&p.endpoint)
            .fetch_optional(self.conn())
            .await?;
        if let Some(r) = taken {
            let other: String = r.try_get("endpoint")?;
            return Err(StoreError::Conflict(format!(
                "PSK identity {:?} is already used by endpoint {other}",
                p.identity
            )));
        }
        let sealed = self.keys().seal(&p.endpoint, &role.key_field(&p.identity), &p.key)?;
        let t = now();
        // The guard compares with NULL when there was no identity: no replacement at all then.
        let guard = if only_over.is_some() { format!(" WHERE {table}.identity = $7") } else { String::new() };
        let sql = format!(
            "INSERT INTO {table} (endpoint, identity, key_sealed, imsi, tenant, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT (endpoint) DO UPDATE SET identity = excluded.identity, \
             key_sealed = excluded.key_sealed, imsi = excluded.imsi, tenant = excluded.tenant, \
             updated_at = excluded.updated_at{guard}"
        );
        let mut q = sqlx::query(&sql)
            .bind(&p.endpoint)
            .bind(&p.identity)
            .bind(sealed)
            .bind(p.imsi.as_ref().map(|i| i.as_str().to_string()))
            .bind(&tenant)
            .bind(t);
        if let Some(previous) = only_over {
            q = q.bind(previous.map(str::to_string));
        }
        let done = q.execute(self.conn()).await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Conflict(format!(
                "the PSK of endpoint {} changed since this bootstrap started (another bootstrap finished first)",
                p.endpoint
            )));
        }
        Ok(tenant)
    }

    /// Removes an endpoint's credential within `scope`; returns the removed entry (`None` when the
    /// scope holds no such endpoint).
    pub async fn remove_device_psk(&mut self, scope: &Scope, endpoint: &str) -> Result<Option<DevicePskInfo>> {
        self.remove_psk(PskRole::Server, scope, endpoint).await
    }

    /// [`Tx::remove_device_psk`] for the bootstrap server's credential.
    pub async fn remove_bootstrap_psk(&mut self, scope: &Scope, endpoint: &str) -> Result<Option<DevicePskInfo>> {
        self.remove_psk(PskRole::Bootstrap, scope, endpoint).await
    }

    async fn remove_psk(&mut self, role: PskRole, scope: &Scope, endpoint: &str) -> Result<Option<DevicePskInfo>> {
        let table = role.table();
        let row = sqlx::query(&format!(
            "SELECT endpoint, identity, imsi, tenant, created_at, updated_at FROM {table} WHERE endpoint = $1 \
             AND ($2 = '*' OR tenant = $2)"
        ))
        .bind(endpoint)
        .bind(scope.key())
        .fetch_optional(self.conn())
        .await?;
        let Some(r) = row else { return Ok(None) };
        let info = info_from_row(&r)?;
        sqlx::query(&format!("DELETE FROM {table} WHERE endpoint = $1")).bind(endpoint).execute(self.conn()).await?;
        Ok(Some(info))
    }
}

impl Store {
    /// The credentials within `scope` (no keys), by endpoint.
    pub async fn device_psks(&self, scope: &Scope) -> Result<Vec<DevicePskInfo>> {
        self.psks(PskRole::Server, scope).await
    }

    /// The bootstrap credentials within `scope` (no keys), by endpoint.
    pub async fn bootstrap_psks(&self, scope: &Scope) -> Result<Vec<DevicePskInfo>> {
        self.psks(PskRole::Bootstrap, scope).await
    }

    async fn psks(&self, role: PskRole, scope: &Scope) -> Result<Vec<DevicePskInfo>> {
        let rows = sqlx::query(&format!(
            "SELECT endpoint, identity, imsi, tenant, created_at, updated_at FROM {} \
             WHERE $1 = '*' OR tenant = $1 ORDER BY endpoint",
            role.table()
        ))
        .bind(scope.key())
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(info_from_row).collect()
    }

    /// The identity of `endpoint`'s LwM2M-server PSK, if it has one (what a bootstrap replaces).
    pub async fn device_psk_identity(&self, endpoint: &str) -> Result<Option<String>> {
        let row = sqlx::query("SELECT identity FROM device_psks WHERE endpoint = $1")
            .bind(endpoint)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.map(|r| r.try_get("identity")).transpose()?)
    }

    /// Every credential with its key opened, for the DTLS server.
    pub async fn device_psk_keys(&self) -> Result<Vec<DevicePsk>> {
        self.psk_keys(PskRole::Server).await
    }

    /// Every bootstrap credential with its key opened, for the bootstrap server's DTLS listener.
    pub async fn bootstrap_psk_keys(&self) -> Result<Vec<DevicePsk>> {
        self.psk_keys(PskRole::Bootstrap).await
    }

    async fn psk_keys(&self, role: PskRole) -> Result<Vec<DevicePsk>> {
        let rows =
            sqlx::query(&format!("SELECT endpoint, identity, key_sealed FROM {} ORDER BY endpoint", role.table()))
                .fetch_all(self.pool())
                .await?;
        rows.iter()
            .map(|r| {
                let (endpoint, identity): (String, String) = (r.try_get("endpoint")?, r.try_get("identity")?);
                let key =
                    self.keys().open(&endpoint, &role.key_field(&identity), &r.try_get::<Vec<u8>, _>("key_sealed")?)?;
                Ok(DevicePsk { endpoint, identity, key })
            })
            .collect()
    }

    /// Re-seals the device PSKs of both roles not sealed with the current KEK (part of
    /// [`Store::reseal_all`]).
    pub(crate) async fn reseal_device_psks(&self) -> Result<u64> {
        Ok(self.reseal_psks(PskRole::Server).await? + self.reseal_psks(PskRole::Bootstrap).await?)
    }

    async fn reseal_psks(&self, role: PskRole) -> Result<u64> {
        let table = role.table();
        let keys = self.keyring();
        let current = keys.current_id();
        let mut done = 0;
        let mut after = String::new();
        loop {
            let rows = sqlx::query(&format!(
                "SELECT endpoint, identity, key_sealed FROM {table} WHERE endpoint > $1 ORDER BY endpoint LIMIT 500"
            ))
            .bind(&after)
            .fetch_all(self.pool())
            .await?;
            let Some(last) = rows.last() else { return Ok(done) };
            after = last.try_get("endpoint")?;
            let mut tx = self.pool().begin().await?;
            for r in &rows {
                let (endpoint, identity): (String, String) = (r.try_get("endpoint")?, r.try_get("identity")?);
                let sealed: Vec<u8> = r.try_get("key_sealed")?;
                if crate::seal::Keyring::blob_kek(&sealed) == Some(current) {
                    continue;
                }
                let field = role.key_field(&identity);
                let resealed = keys.seal(&endpoint, &field, &keys.open(&endpoint, &field, &sealed)?)?;
                sqlx::query(&format!("UPDATE {table} SET key_sealed = $1 WHERE endpoint = $2"))
                    .bind(resealed)
                    .bind(&endpoint)
                    .execute(&mut *tx)
                    .await?;
                done += 1;
            }
            tx.commit().await?;
        }
    }
}
