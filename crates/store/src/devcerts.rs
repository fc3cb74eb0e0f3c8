//! Device certificates over EST (issue #19, SEC-7): the issuing CAs (their private keys sealed like
//! K/OPc, bound to `ca:<scope>` and [`CA_KEY_FIELD`], re-sealed by [`Store::reseal_all`]), every
//! certificate issued with its status and revocation, and the one-time enrolment tokens (only their
//! SHA-256 is stored; a token is consumed in the same transaction that records its certificate, so
//! it issues at most one). Reads and revocations are tenant-scoped ([`Scope`]).

use sha2::{Digest, Sha256};
use sqlx::Row;
use zeroize::Zeroizing;

use crate::access::{random_hex, Scope};
use crate::db::{now, Store};
use crate::error::{Result, StoreError};
use crate::seal::Keyring;
use crate::tx::Tx;

/// The sealing field of a CA's private key.
pub const CA_KEY_FIELD: &str = "device_ca_key";

/// The revocation reasons of RFC 5280 §5.3.1 by name, with their codes.
pub const REVOCATION_REASONS: &[(&str, u8)] = &[
    ("unspecified", 0),
    ("keyCompromise", 1),
    ("cACompromise", 2),
    ("affiliationChanged", 3),
    ("superseded", 4),
    ("cessationOfOperation", 5),
    ("certificateHold", 6),
    ("privilegeWithdrawn", 9),
];

/// The code of a reason name.
pub fn reason_code(name: &str) -> Option<u8> {
    REVOCATION_REASONS.iter().find(|(n, _)| *n == name).map(|(_, c)| *c)
}

/// A serial as stored (lower-case hex, no `:` separators, no `0x`); `None` when it is not hex.
pub fn normalise_serial(text: &str) -> Option<String> {
    let t = text.trim();
    let t = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")).unwrap_or(t);
    let hex: String = t.chars().filter(|c| *c != ':').collect::<String>().to_ascii_lowercase();
    (!hex.is_empty() && hex.len() <= 64 && hex.bytes().all(|b| b.is_ascii_hexdigit())).then_some(hex)
}

fn ca_subject(scope: &str) -> String {
    format!("ca:{scope}")
}

fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// An issuing CA: its certificate and its private key (PKCS#8, wiped on drop, never printed).
pub struct DeviceCa {
    /// `*` for the operator's CA, else the tenant.
    pub scope: String,
    /// The CA certificate, DER.
    pub cert_der: Vec<u8>,
    /// The private key, PKCS#8 DER.
    pub key_pkcs8: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for DeviceCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DeviceCa(scope {:?}, {} certificate bytes, [key redacted])", self.scope, self.cert_der.len())
    }
}

/// What a one-time enrolment token allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrolmentGrant {
    /// The token's hash (to consume it).
    pub hash: String,
    /// The tenant the certificate belongs to (`*`: the operator's).
    pub tenant: String,
    /// The endpoint name the certificate must carry.
    pub endpoint: String,
    /// The IMSI bound in the certificate.
    pub imsi: Option<String>,
    /// The IMEI bound in the certificate.
    pub imei: Option<String>,
    /// Unix seconds.
    pub expires_at: i64,
}

/// Why a token does not allow an enrolment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenRefusal {
    /// No such token (forged or mistyped).
    Unknown,
    /// Already used once.
    Used,
    /// Past its expiry.
    Expired,
}

impl std::fmt::Display for TokenRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TokenRefusal::Unknown => "unknown enrolment token",
            TokenRefusal::Used => "enrolment token already used",
            TokenRefusal::Expired => "enrolment token expired",
        })
    }
}

/// A certificate about to be recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDeviceCert {
    /// Serial, lower-case hex.
    pub serial: String,
    /// The CA's scope.
    pub ca_scope: String,
    /// Tenant.
    pub tenant: String,
    /// Endpoint name.
    pub endpoint: String,
    /// Subject, as text (`CN=…`).
    pub subject: String,
    /// Subject alternative names (URIs).
    pub san: Vec<String>,
    /// Bound IMSI.
    pub imsi: Option<String>,
    /// Bound IMEI.
    pub imei: Option<String>,
    /// Unix seconds.
    pub not_before: i64,
    /// Unix seconds.
    pub not_after: i64,
    /// The serial it re-enrolled from.
    pub replaces: Option<String>,
    /// DER.
    pub cert_der: Vec<u8>,
}

/// A certificate as stored: what was issued, and what became of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceCertRow {
    /// The certificate as issued.
    pub cert: NewDeviceCert,
    /// `good` or `revoked`.
    pub status: String,
    /// Unix seconds.
    pub revoked_at: Option<i64>,
    /// RFC 5280 reason name (`keyCompromise`, …).
    pub revocation_reason: Option<String>,
    /// Unix seconds.
    pub created_at: i64,
}

/// A revoked certificate as a CRL lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevokedEntry {
    /// Serial, hex.
    pub serial: String,
    /// Unix seconds.
    pub revoked_at: i64,
    /// Reason name.
    pub reason: Option<String>,
}

const CERT_COLUMNS: &str = "serial, ca_scope, tenant, endpoint, subject, san, imsi, imei, not_before, not_after, \
                            status, revoked_at, revocation_reason, replaces, cert_der, created_at";

fn cert_from_row(r: &sqlx::any::AnyRow) -> Result<DeviceCertRow> {
    let san: String = r.try_get("san")?;
    Ok(DeviceCertRow {
        cert: NewDeviceCert {
            serial: r.try_get("serial")?,
            ca_scope: r.try_get("ca_scope")?,
            tenant: r.try_get("tenant")?,
            endpoint: r.try_get("endpoint")?,
            subject: r.try_get("subject")?,
            san: san.split(',').filter(|s| !s.is_empty()).map(str::to_string).collect(),
            imsi: r.try_get("imsi")?,
            imei: r.try_get("imei")?,
            not_before: r.try_get("not_before")?,
            not_after: r.try_get("not_after")?,
            replaces: r.try_get("replaces")?,
            cert_der: r.try_get("cert_der")?,
        },
        status: r.try_get("status")?,
        revoked_at: r.try_get("revoked_at")?,
        revocation_reason: r.try_get("revocation_reason")?,
        created_at: r.try_get("created_at")?,
    })
}

impl Store {
    /// The CA of `scope`, its key opened; `None` before one was created.
    pub async fn device_ca(&self, scope: &str) -> Result<Option<DeviceCa>> {
        let row = sqlx::query("SELECT cert_der, key_sealed FROM device_cas WHERE scope = $1")
            .bind(scope)
            .fetch_optional(self.pool())
            .await?;
        let Some(r) = row else { return Ok(None) };
        let key = self.keys().open(&ca_subject(scope), CA_KEY_FIELD, &r.try_get::<Vec<u8>, _>("key_sealed")?)?;
        Ok(Some(DeviceCa { scope: scope.to_string(), cert_der: r.try_get("cert_der")?, key_pkcs8: key }))
    }

    /// The certificates of every CA (scope, DER), by scope.
    pub async fn device_ca_certs(&self) -> Result<Vec<(String, Vec<u8>)>> {
        let rows = sqlx::query("SELECT scope, cert_der FROM device_cas ORDER BY scope").fetch_all(self.pool()).await?;
        rows.iter().map(|r| Ok((r.try_get("scope")?, r.try_get("cert_der")?))).collect()
    }

    /// Records a new CA for `scope`, sealing its key, unless one exists (a concurrent creator won):
    /// returns the CA that is now the scope's.
    pub async fn put_device_ca(&self, scope: &str, cert_der: &[u8], key_pkcs8: &[u8]) -> Result<DeviceCa> {
        let sealed = self.keys().seal(&ca_subject(scope), CA_KEY_FIELD, key_pkcs8)?;
        sqlx::query(
            "INSERT INTO device_cas (scope, cert_der, key_sealed, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (scope) DO NOTHING",
        )
        .bind(scope)
        .bind(cert_der)
        .bind(sealed)
        .bind(now())
        .execute(self.pool())
        .await?;
        self.device_ca(scope).await?.ok_or_else(|| StoreError::NotFound(format!("device CA {scope}")))
    }

    /// Creates a one-time enrolment token for `endpoint` (valid `ttl_secs`) and returns it: the only
    /// time it is seen in clear; the store keeps its SHA-256.
    pub async fn create_est_token(
        &self,
        tenant: &str,
        endpoint: &str,
        imsi: Option<&str>,
        imei: Option<&str>,
        ttl_secs: i64,
        created_by: &str,
    ) -> Result<Zeroizing<String>> {
        let token = Zeroizing::new(random_hex(24)?);
        let t = now();
        sqlx::query(
            "INSERT INTO est_tokens (hash, tenant, endpoint, imsi, imei, expires_at, used_at, created_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, NULL, $7, $8)",
        )
        .bind(token_hash(&token))
        .bind(tenant)
        .bind(endpoint)
        .bind(imsi)
        .bind(imei)
        .bind(t.saturating_add(ttl_secs))
        .bind(created_by)
        .bind(t)
        .execute(self.pool())
        .await?;
        Ok(token)
    }

    /// What `token` allows, without consuming it: refused when unknown, used or expired.
    pub async fn est_grant(&self, token: &str) -> Result<std::result::Result<EnrolmentGrant, TokenRefusal>> {
        let row = sqlx::query(
            "SELECT hash, tenant, endpoint, imsi, imei, expires_at, used_at FROM est_tokens WHERE hash = $1",
        )
        .bind(token_hash(token))
        .fetch_optional(self.pool())
        .await?;
        let Some(r) = row else { return Ok(Err(TokenRefusal::Unknown)) };
        if r.try_get::<Option<i64>, _>("used_at")?.is_some() {
            return Ok(Err(TokenRefusal::Used));
        }
        let expires_at: i64 = r.try_get("expires_at")?;
        if expires_at <= now() {
            return Ok(Err(TokenRefusal::Expired));
        }
        Ok(Ok(EnrolmentGrant {
            hash: r.try_get("hash")?,
            tenant: r.try_get("tenant")?,
            endpoint: r.try_get("endpoint")?,
            imsi: r.try_get("imsi")?,
            imei: r.try_get("imei")?,
            expires_at,
        }))
    }

    /// Records an issued certificate; with `token_hash`, consumes that token in the same transaction
    /// (`Conflict` when it was used or expired meanwhile: nothing is recorded). With `replaces`, the
    /// certificate it re-enrols from must still be good (`Conflict` otherwise).
    pub async fn record_device_cert(&self, cert: &NewDeviceCert, token_hash: Option<&str>) -> Result<()> {
        let mut tx = self.pool().begin().await?;
        let t = now();
        if let Some(h) = token_hash {
            let used = sqlx::query(
                "UPDATE est_tokens SET used_at = $1 WHERE hash = $2 AND used_at IS NULL AND expires_at > $1",
            )
            .bind(t)
            .bind(h)
            .execute(&mut *tx)
            .await?;
            if used.rows_affected() != 1 {
                return Err(StoreError::Conflict("enrolment token already used or expired".into()));
            }
        }
        if let Some(old) = &cert.replaces {
            let good = sqlx::query("SELECT 1 AS one FROM device_certs WHERE serial = $1 AND status = 'good'")
                .bind(old)
                .fetch_optional(&mut *tx)
                .await?;
            if good.is_none() {
                return Err(StoreError::Conflict(format!("certificate {old} is revoked or unknown")));
            }
        }
        sqlx::query(&format!(
            "INSERT INTO device_certs ({CERT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'good', NULL, \
             NULL, $11, $12, $13)"
        ))
        .bind(&cert.serial)
        .bind(&cert.ca_scope)
        .bind(&cert.tenant)
        .bind(&cert.endpoint)
        .bind(&cert.subject)
        .bind(cert.san.join(","))
        .bind(&cert.imsi)
        .bind(&cert.imei)
        .bind(cert.not_before)
        .bind(cert.not_after)
        .bind(&cert.replaces)
        .bind(&cert.cert_der)
        .bind(t)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The certificate with `serial` (hex), whoever owns it: for the EST and OCSP servers.
    pub async fn device_cert(&self, serial: &str) -> Result<Option<DeviceCertRow>> {
        let row = sqlx::query(&format!("SELECT {CERT_COLUMNS} FROM device_certs WHERE serial = $1"))
            .bind(serial)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(cert_from_row).transpose()
    }

    /// The certificates `scope` may see, newest first, at most `limit`; only `endpoint`'s when given.
    pub async fn device_certs(&self, scope: &Scope, endpoint: Option<&str>, limit: i64) -> Result<Vec<DeviceCertRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {CERT_COLUMNS} FROM device_certs WHERE ($1 = '*' OR tenant = $1) AND ($2 = '' OR endpoint = $2) \
             ORDER BY created_at DESC, serial LIMIT $3"
        ))
        .bind(scope.key())
        .bind(endpoint.unwrap_or(""))
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(cert_from_row).collect()
    }

    /// Revokes the certificate `serial` if `scope` may see it: `None` when it does not exist for this
    /// scope; a certificate revoked before keeps its first revocation time and reason.
    pub async fn revoke_device_cert(&self, scope: &Scope, serial: &str, reason: &str) -> Result<Option<DeviceCertRow>> {
        let mut tx = self.begin().await?;
        let row = tx.revoke_device_cert(scope, serial, reason).await?;
        tx.commit().await?;
        Ok(row)
    }

    /// The revoked certificates of the CA of `ca_scope` that have not expired, for its CRL.
    pub async fn revoked_device_certs(&self, ca_scope: &str) -> Result<Vec<RevokedEntry>> {
        let rows = sqlx::query(
            "SELECT serial, revoked_at, revocation_reason FROM device_certs WHERE ca_scope = $1 \
             AND status = 'revoked' AND not_after > $2 ORDER BY serial",
        )
        .bind(ca_scope)
        .bind(now())
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(RevokedEntry {
                    serial: r.try_get("serial")?,
                    revoked_at: r.try_get::<Option<i64>, _>("revoked_at")?.unwrap_or(0),
                    reason: r.try_get("revocation_reason")?,
                })
            })
            .collect()
    }

    /// The serials of every CA's revoked certificates that have not expired (what the CoAPs listener
    /// refuses; an expired one is refused by its validity already).
    pub async fn revoked_device_cert_serials(&self) -> Result<Vec<String>> {
        let rows = sqlx::query("SELECT serial FROM device_certs WHERE status = 'revoked' AND not_after > $1")
            .bind(now())
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(|r| r.try_get("serial").map_err(Into::into)).collect()
    }

    /// Re-seals the device CAs' keys not sealed with the current KEK (part of [`Store::reseal_all`]).
    pub(crate) async fn reseal_device_ca_keys(&self) -> Result<u64> {
        let keys = self.keyring();
        let rows = sqlx::query("SELECT scope, key_sealed FROM device_cas").fetch_all(self.pool()).await?;
        let mut tx = self.pool().begin().await?;
        let mut done = 0;
        for r in &rows {
            let (scope, blob): (String, Vec<u8>) = (r.try_get("scope")?, r.try_get("key_sealed")?);
            if Keyring::blob_kek(&blob) == Some(keys.current_id()) {
                continue;
            }
            let subject = ca_subject(&scope);
            let sealed = keys.seal(&subject, CA_KEY_FIELD, &keys.open(&subject, CA_KEY_FIELD, &blob)?)?;
            sqlx::query("UPDATE device_cas SET key_sealed = $1 WHERE scope = $2")
                .bind(sealed)
                .bind(&scope)
                .execute(&mut *tx)
                .await?;
            done += 1;
        }
        tx.commit().await?;
        Ok(done)
    }

    /// The raw sealed key of a CA (tests: prove it is not stored in clear and is re-sealed).
    #[doc(hidden)]
    pub async fn device_ca_sealed_key(&self, scope: &str) -> Result<Option<Vec<u8>>> {
        let row = sqlx::query("SELECT key_sealed FROM device_cas WHERE scope = $1")
            .bind(scope)
            .fetch_optional(self.pool())
            .await?;
        row.map(|r| r.try_get("key_sealed")).transpose().map_err(Into::into)
    }
}

impl Tx {
    /// [`Store::revoke_device_cert`] inside a transaction (the caller audits it in the same one).
    pub async fn revoke_device_cert(
        &mut self,
        scope: &Scope,
        serial: &str,
        reason: &str,
    ) -> Result<Option<DeviceCertRow>> {
        sqlx::query(
            "UPDATE device_certs SET status = 'revoked', revoked_at = $1, revocation_reason = $2 \
             WHERE serial = $3 AND ($4 = '*' OR tenant = $4) AND status = 'good'",
        )
        .bind(now())
        .bind(reason)
        .bind(serial)
        .bind(scope.key())
        .execute(self.conn())
        .await?;
        let row = sqlx::query(&format!(
            "SELECT {CERT_COLUMNS} FROM device_certs WHERE serial = $1 AND ($2 = '*' OR tenant = $2)"
        ))
        .bind(serial)
        .bind(scope.key())
        .fetch_optional(self.conn())
        .await?;
        row.as_ref().map(cert_from_row).transpose()
    }
}
