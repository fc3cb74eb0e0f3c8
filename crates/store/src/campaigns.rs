//! Firmware update campaigns (DM-2, SEC-8): a verified image, the devices of one tenant it goes to,
//! and where each device's update stands. Reads are scoped to a tenant (operators see all).
//!
//! Several instances on one PostgreSQL database drive the same campaigns: an instance offers the
//! image to a device only after [`Store::claim_campaign_device`] moved that device's row from
//! `pending` to `offered` under its name — a conditional update, so exactly one instance wins — and
//! only that instance advances the row afterwards ([`Store::advance_campaign_device`]). It renews
//! its lease while it works; a row whose lease ran out (the instance stopped) is failed by
//! [`Store::expire_campaign_leases`], never offered again.

use sqlx::Row;

use crate::access::Scope;
use crate::db::Store;
use crate::error::Result;
use crate::tx::Tx;

/// Device states that are still in progress (claimed by an instance).
pub const IN_FLIGHT: [&str; 4] = ["offered", "downloading", "downloaded", "updating"];
/// The reason a critical SIM's device waits for a second person's approval.
pub const CRITICAL_REASON: &str = "critical SIM: the campaign needs a second person's approval";

/// How the image reaches a device (LwM2M Core, object 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Delivery {
    /// The device downloads it from the Package URI (5/0/1) the server writes, with Block2.
    #[default]
    Pull,
    /// The server writes it into Package (5/0/0) with Block1.
    Push,
}

impl Delivery {
    /// The stored and API name: `pull` or `push`.
    pub fn as_str(self) -> &'static str {
        match self {
            Delivery::Pull => "pull",
            Delivery::Push => "push",
        }
    }

    /// From its name.
    pub fn parse(s: &str) -> Option<Delivery> {
        match s {
            "pull" => Some(Delivery::Pull),
            "push" => Some(Delivery::Push),
            _ => None,
        }
    }
}

/// How a campaign goes about its devices: what the creator chose, stored with the campaign.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CampaignSettings {
    /// Model filter the devices were chosen by, if any.
    pub model: Option<String>,
    /// Canary share, per mille.
    pub canary_permille: i64,
    /// Failure ratio past which the campaign pauses, per mille.
    pub failure_permille: i64,
    /// UTC weekdays offers may start on, `0` Monday … `6` Sunday, as digits (`"01234"`).
    pub window_days: String,
    /// First UTC hour of the window (0–23).
    pub window_start_hour: i64,
    /// UTC hour the window ends at (1–24; a value ≤ start wraps past midnight).
    pub window_end_hour: i64,
    /// Most devices in flight at once.
    pub max_concurrent: i64,
    /// Allow an older version than the device's.
    pub allow_downgrade: bool,
    /// Allow the device's own version.
    pub allow_reinstall: bool,
    /// Whether devices of critical SIMs are included (after a second person's approval).
    pub include_critical: bool,
    /// Pull or push, for devices that support both (5/0/9).
    pub delivery: Delivery,
}

/// A campaign to create, with its devices in offer order (`true`: canary).
#[derive(Debug, Clone)]
pub struct NewCampaign {
    /// Owner.
    pub tenant: String,
    /// Name.
    pub name: String,
    /// The verified image (same tenant).
    pub image_id: String,
    /// How it goes about its devices.
    pub settings: CampaignSettings,
    /// Who created it.
    pub created_by: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Devices: endpoint and whether it is a canary.
    pub devices: Vec<(String, bool)>,
}

/// A stored campaign.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CampaignRow {
    /// Id (`fwc_…`).
    pub id: String,
    /// Owner.
    pub tenant: String,
    /// Name.
    pub name: String,
    /// Image.
    pub image_id: String,
    /// How it goes about its devices.
    pub settings: CampaignSettings,
    /// The approval request for critical devices.
    pub approval_id: Option<String>,
    /// A second person approved the critical devices.
    pub critical_approved: bool,
    /// `running`, `paused`, `cancelled`, `finished`.
    pub status: String,
    /// Why it has its status (an automatic pause names the ratio).
    pub status_reason: String,
    /// Creator.
    pub created_by: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds of the last status change.
    pub updated_at: i64,
}

/// One device of a campaign.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CampaignDevice {
    /// Campaign.
    pub campaign_id: String,
    /// Endpoint name.
    pub endpoint: String,
    /// Offer order.
    pub seq: i64,
    /// Part of the canary share.
    pub canary: bool,
    /// `pending`, `offered`, `downloading`, `downloaded`, `updating`, `succeeded`, `failed`, `skipped`.
    pub state: String,
    /// Why it failed or was skipped.
    pub reason: String,
    /// The instance driving it.
    pub claimed_by: Option<String>,
    /// Unix seconds the claim lasts until.
    pub lease_until: i64,
    /// The version the device reported before the update.
    pub version_before: Option<String>,
    /// Unix seconds.
    pub updated_at: i64,
}

/// A device row as one instance holds it: the campaign, the endpoint, the instance.
#[derive(Debug, Clone, Copy)]
pub struct Claim<'a> {
    /// Campaign id.
    pub campaign: &'a str,
    /// Endpoint name.
    pub endpoint: &'a str,
    /// The instance that claimed it.
    pub instance: &'a str,
}

/// Devices per state, in all and among the canaries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StateCounts {
    /// State → devices.
    pub all: std::collections::BTreeMap<String, i64>,
    /// State → canary devices.
    pub canary: std::collections::BTreeMap<String, i64>,
}

impl StateCounts {
    fn sum(map: &std::collections::BTreeMap<String, i64>, states: &[&str]) -> i64 {
        states.iter().map(|s| map.get(*s).copied().unwrap_or(0)).sum()
    }

    /// Devices pending or in flight.
    pub fn open(&self) -> i64 {
        Self::sum(&self.all, &["pending"]) + Self::sum(&self.all, &IN_FLIGHT)
    }

    /// Canary devices pending or in flight.
    pub fn canary_open(&self) -> i64 {
        Self::sum(&self.canary, &["pending"]) + Self::sum(&self.canary, &IN_FLIGHT)
    }

    /// Devices in flight.
    pub fn in_flight(&self) -> i64 {
        Self::sum(&self.all, &IN_FLIGHT)
    }

    /// Failed and succeeded devices.
    pub fn finished(&self) -> (i64, i64) {
        (Self::sum(&self.all, &["failed"]), Self::sum(&self.all, &["succeeded"]))
    }
}

const COLUMNS: &str = "id, tenant, name, image_id, model, canary_permille, failure_permille, window_days, \
    window_start_hour, window_end_hour, max_concurrent, allow_downgrade, allow_reinstall, include_critical, \
    approval_id, critical_approved, status, status_reason, created_by, created_at, updated_at, delivery";
const DEVICE_COLUMNS: &str =
    "campaign_id, endpoint, seq, canary, state, reason, claimed_by, lease_until, version_before, updated_at";

fn campaign_from_row(r: &sqlx::any::AnyRow) -> Result<CampaignRow> {
    let flag = |c: &str| -> Result<bool> { Ok(r.try_get::<i64, _>(c)? != 0) };
    Ok(CampaignRow {
        id: r.try_get("id")?,
        tenant: r.try_get("tenant")?,
        name: r.try_get("name")?,
        image_id: r.try_get("image_id")?,
        settings: CampaignSettings {
            model: r.try_get("model")?,
            canary_permille: r.try_get("canary_permille")?,
            failure_permille: r.try_get("failure_permille")?,
            window_days: r.try_get("window_days")?,
            window_start_hour: r.try_get("window_start_hour")?,
            window_end_hour: r.try_get("window_end_hour")?,
            max_concurrent: r.try_get("max_concurrent")?,
            allow_downgrade: flag("allow_downgrade")?,
            allow_reinstall: flag("allow_reinstall")?,
            include_critical: flag("include_critical")?,
            delivery: {
                let d: String = r.try_get("delivery")?;
                Delivery::parse(&d).ok_or_else(|| crate::error::StoreError::Corrupt {
                    imsi: r.try_get::<String, _>("id").unwrap_or_default(),
                    reason: format!("campaign delivery {d:?}"),
                })?
            },
        },
        approval_id: r.try_get("approval_id")?,
        critical_approved: flag("critical_approved")?,
        status: r.try_get("status")?,
        status_reason: r.try_get("status_reason")?,
        created_by: r.try_get("created_by")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

fn device_from_row(r: &sqlx::any::AnyRow) -> Result<CampaignDevice> {
    Ok(CampaignDevice {
        campaign_id: r.try_get("campaign_id")?,
        endpoint: r.try_get("endpoint")?,
        seq: r.try_get("seq")?,
        canary: r.try_get::<i64, _>("canary")? != 0,
        state: r.try_get("state")?,
        reason: r.try_get("reason")?,
        claimed_by: r.try_get("claimed_by")?,
        lease_until: r.try_get("lease_until")?,
        version_before: r.try_get("version_before")?,
        updated_at: r.try_get("updated_at")?,
    })
}

impl Store {
    /// The campaigns visible in `scope`, newest first.
    pub async fn campaigns(&self, scope: &Scope) -> Result<Vec<CampaignRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM firmware_campaigns WHERE ($1 = '*' OR tenant = $1) ORDER BY created_at DESC, id DESC"
        ))
        .bind(scope.key())
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(campaign_from_row).collect()
    }

    /// One campaign visible in `scope`.
    pub async fn campaign(&self, scope: &Scope, id: &str) -> Result<Option<CampaignRow>> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM firmware_campaigns WHERE id = $1 AND ($2 = '*' OR tenant = $2)"
        ))
        .bind(id)
        .bind(scope.key())
        .fetch_optional(self.pool())
        .await?;
        row.map(|r| campaign_from_row(&r)).transpose()
    }

    /// Every running campaign (all tenants), oldest first: the engine's work.
    pub async fn running_campaigns(&self) -> Result<Vec<CampaignRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM firmware_campaigns WHERE status = 'running' ORDER BY created_at, id"
        ))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(campaign_from_row).collect()
    }

    /// Devices per state of campaign `id`.
    pub async fn campaign_counts(&self, id: &str) -> Result<StateCounts> {
        let rows = sqlx::query(
            "SELECT state, canary, COUNT(*) AS n FROM firmware_campaign_devices WHERE campaign_id = $1 \
             GROUP BY state, canary",
        )
        .bind(id)
        .fetch_all(self.pool())
        .await?;
        let mut counts = StateCounts::default();
        for r in rows {
            let state: String = r.try_get("state")?;
            let canary: i64 = r.try_get("canary")?;
            let n: i64 = r.try_get("n")?;
            *counts.all.entry(state.clone()).or_default() += n;
            if canary != 0 {
                *counts.canary.entry(state).or_default() += n;
            }
        }
        Ok(counts)
    }

    /// Devices of campaign `id` in endpoint order after `after`, at most `limit`; `state` filters.
    pub async fn campaign_devices(
        &self,
        id: &str,
        state: Option<&str>,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<CampaignDevice>> {
        let rows = sqlx::query(&format!(
            "SELECT {DEVICE_COLUMNS} FROM firmware_campaign_devices WHERE campaign_id = $1 \
             AND ($2 = '' OR state = $2) AND endpoint > $3 ORDER BY endpoint LIMIT $4"
        ))
        .bind(id)
        .bind(state.unwrap_or(""))
        .bind(after.unwrap_or(""))
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(device_from_row).collect()
    }

    /// Pending devices of campaign `id` in offer order (canaries first), at most `limit`.
    pub async fn pending_campaign_devices(
        &self,
        id: &str,
        canary_only: bool,
        limit: i64,
    ) -> Result<Vec<CampaignDevice>> {
        let rows = sqlx::query(&format!(
            "SELECT {DEVICE_COLUMNS} FROM firmware_campaign_devices WHERE campaign_id = $1 AND state = 'pending' \
             AND ($2 = 0 OR canary = 1) ORDER BY canary DESC, seq LIMIT $3"
        ))
        .bind(id)
        .bind(i64::from(canary_only))
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(device_from_row).collect()
    }

    /// Claims the pending device `endpoint` of the running campaign `id` for `instance` (state
    /// `offered`, leased until `lease_until`): `true` for exactly one of any number of racing
    /// instances, `false` when it is no longer pending or the campaign is not running.
    pub async fn claim_campaign_device(
        &self,
        id: &str,
        endpoint: &str,
        instance: &str,
        lease_until: i64,
    ) -> Result<bool> {
        let r = sqlx::query(
            "UPDATE firmware_campaign_devices SET state = 'offered', claimed_by = $3, lease_until = $4, \
             updated_at = $5 WHERE campaign_id = $1 AND endpoint = $2 AND state = 'pending' \
             AND EXISTS (SELECT 1 FROM firmware_campaigns c WHERE c.id = $1 AND c.status = 'running')",
        )
        .bind(id)
        .bind(endpoint)
        .bind(instance)
        .bind(lease_until)
        .bind(crate::now())
        .execute(self.pool())
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Moves a device `instance` claimed to `state` (with `reason`, the version it had before when
    /// known, and a renewed lease): `false` when the row is not this instance's or already finished.
    pub async fn advance_campaign_device(
        &self,
        claim: &Claim<'_>,
        state: &str,
        reason: &str,
        version_before: Option<&str>,
        lease_until: i64,
    ) -> Result<bool> {
        let r = sqlx::query(
            "UPDATE firmware_campaign_devices SET state = $4, reason = $5, \
             version_before = COALESCE($6, version_before), lease_until = $7, updated_at = $8 \
             WHERE campaign_id = $1 AND endpoint = $2 AND claimed_by = $3 \
             AND state IN ('offered', 'downloading', 'downloaded', 'updating')",
        )
        .bind(claim.campaign)
        .bind(claim.endpoint)
        .bind(claim.instance)
        .bind(state)
        .bind(reason)
        .bind(version_before)
        .bind(lease_until)
        .bind(crate::now())
        .execute(self.pool())
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Renews `instance`'s lease on an in-flight device.
    pub async fn renew_campaign_lease(&self, id: &str, endpoint: &str, instance: &str, lease_until: i64) -> Result<()> {
        sqlx::query(
            "UPDATE firmware_campaign_devices SET lease_until = $4 WHERE campaign_id = $1 AND endpoint = $2 \
             AND claimed_by = $3 AND state IN ('offered', 'downloading', 'downloaded', 'updating')",
        )
        .bind(id)
        .bind(endpoint)
        .bind(instance)
        .bind(lease_until)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Fails every in-flight device whose lease ended before `now` (its instance stopped while it
    /// drove the update): such a device is never offered the image again by this campaign.
    pub async fn expire_campaign_leases(&self, now: i64) -> Result<u64> {
        let r = sqlx::query(
            "UPDATE firmware_campaign_devices SET state = 'failed', \
             reason = 'interrupted: the instance driving the update stopped', updated_at = $1 \
             WHERE state IN ('offered', 'downloading', 'downloaded', 'updating') AND lease_until < $1",
        )
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(r.rows_affected())
    }

    /// Pauses the running campaign `id` (the engine, past the failure threshold): `false` when it
    /// was not running.
    pub async fn pause_campaign_if_running(&self, id: &str, reason: &str) -> Result<bool> {
        self.change_campaign_status(id, &["running"], "paused", reason).await
    }

    /// Marks the running campaign `id` finished: `false` when it was not running.
    pub async fn finish_campaign(&self, id: &str) -> Result<bool> {
        self.change_campaign_status(id, &["running"], "finished", "every device finished").await
    }

    async fn change_campaign_status(&self, id: &str, from: &[&str], to: &str, reason: &str) -> Result<bool> {
        let mut tx = self.begin().await?;
        let changed = tx.change_campaign_status(&Scope::Operator, id, from, to, reason).await?;
        tx.commit().await?;
        Ok(changed.is_some())
    }
}

impl Tx {
    /// Stores a campaign and its devices (all `pending`); the new id (`fwc_…`).
    pub async fn insert_campaign(&mut self, c: &NewCampaign) -> Result<String> {
        let id = format!("fwc_{}", crate::access::random_hex(8)?);
        sqlx::query(&format!(
            "INSERT INTO firmware_campaigns ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, \
             $13, $14, NULL, 0, 'running', '', $15, $16, $16, $17)"
        ))
        .bind(&id)
        .bind(&c.tenant)
        .bind(&c.name)
        .bind(&c.image_id)
        .bind(&c.settings.model)
        .bind(c.settings.canary_permille)
        .bind(c.settings.failure_permille)
        .bind(&c.settings.window_days)
        .bind(c.settings.window_start_hour)
        .bind(c.settings.window_end_hour)
        .bind(c.settings.max_concurrent)
        .bind(i64::from(c.settings.allow_downgrade))
        .bind(i64::from(c.settings.allow_reinstall))
        .bind(i64::from(c.settings.include_critical))
        .bind(&c.created_by)
        .bind(c.created_at)
        .bind(c.settings.delivery.as_str())
        .execute(self.conn())
        .await?;
        for (seq, (endpoint, canary)) in c.devices.iter().enumerate() {
            sqlx::query(&format!(
                "INSERT INTO firmware_campaign_devices ({DEVICE_COLUMNS}) \
                 VALUES ($1, $2, $3, $4, 'pending', '', NULL, 0, NULL, $5)"
            ))
            .bind(&id)
            .bind(endpoint)
            .bind(seq as i64)
            .bind(i64::from(*canary))
            .bind(c.created_at)
            .execute(self.conn())
            .await?;
        }
        Ok(id)
    }

    /// Records the approval request for a campaign's critical devices.
    pub async fn set_campaign_approval(&mut self, id: &str, approval_id: &str) -> Result<()> {
        sqlx::query("UPDATE firmware_campaigns SET approval_id = $2 WHERE id = $1")
            .bind(id)
            .bind(approval_id)
            .execute(self.conn())
            .await?;
        Ok(())
    }

    /// Marks the critical devices of campaign `id` approved: those skipped for want of the approval
    /// become pending again. The number of devices released.
    pub async fn approve_campaign_critical(&mut self, id: &str) -> Result<u64> {
        sqlx::query("UPDATE firmware_campaigns SET critical_approved = 1, updated_at = $2 WHERE id = $1")
            .bind(id)
            .bind(crate::now())
            .execute(self.conn())
            .await?;
        let r = sqlx::query(
            "UPDATE firmware_campaign_devices SET state = 'pending', reason = '', updated_at = $3 \
             WHERE campaign_id = $1 AND state = 'skipped' AND reason = $2",
        )
        .bind(id)
        .bind(CRITICAL_REASON)
        .bind(crate::now())
        .execute(self.conn())
        .await?;
        Ok(r.rows_affected())
    }

    /// Marks a pending device of campaign `id` skipped with `reason`: `false` when it was not pending.
    pub async fn skip_campaign_device(&mut self, id: &str, endpoint: &str, reason: &str) -> Result<bool> {
        let r = sqlx::query(
            "UPDATE firmware_campaign_devices SET state = 'skipped', reason = $3, updated_at = $4 \
             WHERE campaign_id = $1 AND endpoint = $2 AND state IN ('pending', 'offered')",
        )
        .bind(id)
        .bind(endpoint)
        .bind(reason)
        .bind(crate::now())
        .execute(self.conn())
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Changes the status of campaign `id` (visible in `scope`) from one of `from` to `to`: the row
    /// after, or `None` when it was not in one of `from` (or not visible).
    pub async fn change_campaign_status(
        &mut self,
        scope: &Scope,
        id: &str,
        from: &[&str],
        to: &str,
        reason: &str,
    ) -> Result<Option<CampaignRow>> {
        let from = from.join(",");
        let row = sqlx::query(&format!(
            "UPDATE firmware_campaigns SET status = $3, status_reason = $4, updated_at = $5 \
             WHERE id = $1 AND ($2 = '*' OR tenant = $2) AND (',' || $6 || ',') LIKE ('%,' || status || ',%') \
             RETURNING {COLUMNS}"
        ))
        .bind(id)
        .bind(scope.key())
        .bind(to)
        .bind(reason)
        .bind(crate::now())
        .bind(from)
        .fetch_optional(self.conn())
        .await?;
        let row = row.map(|r| campaign_from_row(&r)).transpose()?;
        if row.is_some() && to == "cancelled" {
            sqlx::query(
                "UPDATE firmware_campaign_devices SET state = 'skipped', reason = 'campaign cancelled', \
                 updated_at = $2 WHERE campaign_id = $1 AND state = 'pending'",
            )
            .bind(id)
            .bind(crate::now())
            .execute(self.conn())
            .await?;
        }
        Ok(row)
    }
}
