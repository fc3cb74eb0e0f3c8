//! Firmware update campaigns, the tenant's use cases (DM-2, SEC-8): creating one (a verified image of
//! the tenant's own, the devices it goes to, the canary share, the failure threshold, the maintenance
//! window, how many devices at once, whether downgrades or reinstalls are allowed), pausing, resuming
//! and cancelling it, and the rules the engine in `warden serve` applies — [`Window::allows`],
//! [`past_threshold`], [`canary_count`].
//!
//! Devices of critical SIMs are skipped unless the campaign includes them *and* a second person
//! approved that (the approvals of [`crate::approvals`], kind `firmware.campaign`): creating such a
//! campaign asks for the approval; approving it releases those devices. Every change is audited in
//! the transaction that makes it, with a `firmware.campaign_*` event.

use serde_json::json;
use store::approvals::{Approval, Decision, NewApproval};
use store::campaigns::{CampaignRow, CampaignSettings, NewCampaign};
use store::Store;

use crate::actor::Actor;
use crate::error::{Error, Result};
use crate::events::EventKind;
use crate::roles::Action;

/// Most devices one campaign names.
pub const MAX_DEVICES: usize = 100_000;

/// A maintenance window: UTC weekdays and hours in which new offers may start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    /// Weekdays, `0` Monday … `6` Sunday.
    pub days: Vec<u8>,
    /// First hour (0–23).
    pub start_hour: u8,
    /// End hour (1–24); at or before `start_hour` the window runs past midnight into the next day.
    pub end_hour: u8,
}

impl Default for Window {
    fn default() -> Self {
        Window { days: (0..7).collect(), start_hour: 0, end_hour: 24 }
    }
}

/// Day names as the API takes them.
pub const DAY_NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

impl Window {
    /// A window from day names (`mon` … `sun`) and hours; refused with the field at fault.
    pub fn new(days: &[String], start_hour: u8, end_hour: u8) -> Result<Window> {
        let mut out = Vec::new();
        for d in days {
            let i = DAY_NAMES
                .iter()
                .position(|n| n.eq_ignore_ascii_case(d))
                .ok_or_else(|| Error::Invalid(format!("window.days: unknown day {d:?} (mon … sun)")))?;
            if !out.contains(&(i as u8)) {
                out.push(i as u8);
            }
        }
        if out.is_empty() {
            return Err(Error::Invalid("window.days: at least one day".into()));
        }
        out.sort_unstable();
        if start_hour > 23 || !(1..=24).contains(&end_hour) {
            return Err(Error::Invalid("window: start_hour 0 to 23, end_hour 1 to 24".into()));
        }
        Ok(Window { days: out, start_hour, end_hour })
    }

    /// The stored form of the days (`"0123456"`).
    pub fn days_text(&self) -> String {
        self.days.iter().map(|d| char::from(b'0' + d)).collect()
    }

    /// From a stored campaign's settings.
    pub fn of(c: &CampaignSettings) -> Window {
        Window {
            days: c.window_days.bytes().filter(u8::is_ascii_digit).map(|b| b - b'0').filter(|d| *d < 7).collect(),
            start_hour: c.window_start_hour.clamp(0, 23) as u8,
            end_hour: c.window_end_hour.clamp(1, 24) as u8,
        }
    }

    /// Whether a new offer may start at `unix` seconds (UTC).
    pub fn allows(&self, unix: i64) -> bool {
        let days = unix.div_euclid(86_400);
        // 1970-01-01 was a Thursday (3 with Monday 0).
        let day = ((days + 3).rem_euclid(7)) as u8;
        let hour = (unix.rem_euclid(86_400) / 3600) as u8;
        if self.start_hour < self.end_hour {
            self.days.contains(&day) && (self.start_hour..self.end_hour).contains(&hour)
        } else {
            // Past midnight: the late hours belong to the day it starts, the early ones to the day before.
            (hour >= self.start_hour && self.days.contains(&day))
                || (hour < self.end_hour && self.days.contains(&((day + 6) % 7)))
        }
    }
}

/// Whether `failed` of `failed + succeeded` finished devices passes the threshold (per mille).
pub fn past_threshold(failed: i64, succeeded: i64, permille: i64) -> bool {
    let finished = failed + succeeded;
    finished > 0 && failed * 1000 > permille * finished
}

/// How many of `n` devices are canaries at `permille`: rounded up, at least one when the share is
/// not zero.
pub fn canary_count(n: usize, permille: i64) -> usize {
    if n == 0 || permille <= 0 {
        return 0;
    }
    (n * permille.min(1000) as usize).div_ceil(1000).clamp(1, n)
}

/// A campaign to create.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Name (1 to 100 characters).
    pub name: String,
    /// The image.
    pub image_id: String,
    /// Devices named, in order.
    pub endpoints: Vec<String>,
    /// Model filter (the devices were chosen by it).
    pub model: Option<String>,
    /// Canary share, per mille.
    pub canary_permille: i64,
    /// Failure threshold, per mille.
    pub failure_permille: i64,
    /// When offers may start.
    pub window: Window,
    /// Devices in flight at most.
    pub max_concurrent: i64,
    /// Allow downgrades.
    pub allow_downgrade: bool,
    /// Allow reinstalls.
    pub allow_reinstall: bool,
    /// Include critical SIMs' devices (after a second person's approval).
    pub include_critical: bool,
    /// Pull or push, for devices that support both.
    pub delivery: store::campaigns::Delivery,
}

/// Creates and starts a campaign of the actor's tenant (or, for the operator, of `tenant`). The
/// image must be one of that tenant's verified images. With `include_critical` a second person's
/// approval is asked (the creator must be a person); `factor`: the step-up the creator proved.
pub async fn create(
    store: &Store,
    actor: &Actor,
    tenant: Option<&str>,
    plan: &Plan,
    factor: Option<&str>,
) -> Result<(CampaignRow, Option<Approval>)> {
    actor.require(Action::ManageSims)?;
    let tenant = actor.target_tenant(tenant)?;
    let name = plan.name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(Error::Invalid("name: 1 to 100 characters, no control characters".into()));
    }
    let image = store
        .firmware_image(&store::access::Scope::Tenant(tenant.clone()), &plan.image_id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("firmware image {} not found", plan.image_id)))?;
    if plan.endpoints.is_empty() {
        return Err(Error::Invalid("no device to update: name endpoints, or a model with registered devices".into()));
    }
    if plan.endpoints.len() > MAX_DEVICES {
        return Err(Error::Invalid(format!("endpoints: at most {MAX_DEVICES}")));
    }
    let mut seen = std::collections::HashSet::new();
    for e in &plan.endpoints {
        if e.is_empty() || e.len() > 255 || e.chars().any(char::is_control) {
            return Err(Error::Invalid("endpoints: names of 1 to 255 characters, no control characters".into()));
        }
        if !seen.insert(e.as_str()) {
            return Err(Error::Invalid(format!("endpoints: {e:?} twice")));
        }
    }
    if !(0..=1000).contains(&plan.canary_permille) || !(0..=1000).contains(&plan.failure_permille) {
        return Err(Error::Invalid("canary_percent 0 to 100, failure_threshold 0 to 1".into()));
    }
    if !(1..=10_000).contains(&plan.max_concurrent) {
        return Err(Error::Invalid("max_concurrent: 1 to 10000".into()));
    }
    if plan.include_critical && actor.user_id().is_none() {
        return Err(Error::Forbidden(
            "including critical SIMs' devices asks a second person's approval: create the campaign from a person's session"
                .into(),
        ));
    }
    let canaries = canary_count(plan.endpoints.len(), plan.canary_permille);
    let new = NewCampaign {
        tenant: tenant.clone(),
        name: name.into(),
        image_id: image.id.clone(),
        settings: CampaignSettings {
            model: plan.model.clone(),
            canary_permille: plan.canary_permille,
            failure_permille: plan.failure_permille,
            window_days: plan.window.days_text(),
            window_start_hour: i64::from(plan.window.start_hour),
            window_end_hour: i64::from(plan.window.end_hour),
            max_concurrent: plan.max_concurrent,
            allow_downgrade: plan.allow_downgrade,
            allow_reinstall: plan.allow_reinstall,
            include_critical: plan.include_critical,
            delivery: plan.delivery,
        },
        created_by: actor.name(),
        created_at: store::now(),
        devices: plan.endpoints.iter().enumerate().map(|(i, e)| (e.clone(), i < canaries)).collect(),
    };
    let mut tx = store.begin().await?;
    let id = tx.insert_campaign(&new).await?;
    let mut approval = None;
    if plan.include_critical {
        let a = tx
            .insert_approval(&NewApproval {
                tenant: &tenant,
                action: crate::approvals::Kind::FirmwareCampaign.as_str(),
                imsi: &id,
                reason: &format!(
                    "firmware {} {} to critical SIMs' devices (campaign {id})",
                    image.model, image.version
                ),
                requested_by: &actor.name(),
                requester_key: &actor.identity_key(),
                requested_factor: factor,
                at: store::now(),
                ttl: crate::approvals::TTL_SECS,
            })
            .await?;
        tx.set_campaign_approval(&id, &a.id).await?;
        let detail = format!("firmware.campaign asked by {} (request {})", actor.name(), a.id);
        tx.record_tenant_event(&tenant, None, &EventKind::ApprovalRequested.name(), &detail).await?;
        approval = Some(a);
    }
    let set = &new.settings;
    let summary = json!({"name": new.name, "image": image.id, "model": image.model, "version": image.version,
        "devices": new.devices.len(), "canaries": canaries, "canary_permille": set.canary_permille,
        "failure_permille": set.failure_permille, "window": {"days": set.window_days,
        "start_hour": set.window_start_hour, "end_hour": set.window_end_hour}, "max_concurrent": set.max_concurrent,
        "allow_downgrade": set.allow_downgrade, "allow_reinstall": set.allow_reinstall,
        "include_critical": set.include_critical, "delivery": set.delivery.as_str(), "factor": factor});
    tx.append_audit(&actor.audit_entry(&tenant, "firmware.campaign.create", &format!("campaigns/{id}"), (), &summary))
        .await?;
    let detail = json!({"campaign": id, "image": image.id, "version": image.version, "devices": new.devices.len()});
    tx.record_tenant_event(&tenant, None, &EventKind::FirmwareCampaignStarted.name(), &detail.to_string()).await?;
    tx.commit().await?;
    let row =
        store.campaign(&actor.scope(), &id).await?.ok_or_else(|| Error::Internal(format!("campaign {id} vanished")))?;
    Ok((row, approval))
}

/// A status change a person asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Running → paused.
    Pause,
    /// Paused → running.
    Resume,
    /// Running or paused → cancelled (pending devices are skipped; devices in flight finish).
    Cancel,
}

/// Pauses, resumes or cancels campaign `id` visible to the actor.
pub async fn change(store: &Store, actor: &Actor, id: &str, what: Change) -> Result<CampaignRow> {
    actor.require(Action::ManageSims)?;
    let scope = actor.scope();
    let before =
        store.campaign(&scope, id).await?.ok_or_else(|| Error::NotFound(format!("campaign {id} not found")))?;
    let (from, to, verb, action, event): (&[&str], &str, &str, &str, EventKind) = match what {
        Change::Pause => {
            (&["running"], "paused", "paused", "firmware.campaign.pause", EventKind::FirmwareCampaignPaused)
        }
        Change::Resume => {
            (&["paused"], "running", "resumed", "firmware.campaign.resume", EventKind::FirmwareCampaignResumed)
        }
        Change::Cancel => (
            &["running", "paused"],
            "cancelled",
            "cancelled",
            "firmware.campaign.cancel",
            EventKind::FirmwareCampaignCancelled,
        ),
    };
    let mut tx = store.begin().await?;
    let after = tx
        .change_campaign_status(&scope, id, from, to, &format!("{verb} by {}", actor.name()))
        .await?
        .ok_or_else(|| Error::Refused(format!("campaign {id} is {}", before.status)))?;
    tx.append_audit(&actor.audit_entry(
        &after.tenant,
        action,
        &format!("campaigns/{id}"),
        json!({"status": before.status}),
        json!({"status": after.status}),
    ))
    .await?;
    let detail = json!({"campaign": id, "by": actor.name()});
    tx.record_tenant_event(&after.tenant, None, &event.name(), &detail.to_string()).await?;
    tx.commit().await?;
    Ok(after)
}

/// Approves the critical devices of the campaign whose approval request is `request` (a second
/// person, in the transaction that marks the request approved): they become pending again.
pub(crate) async fn approve_critical(
    store: &Store,
    actor: &Actor,
    request: &Approval,
    decision: &Decision<'_>,
) -> Result<()> {
    let id = &request.imsi;
    let mut tx = store.begin().await?;
    if !tx.decide_approval(&actor.scope(), &request.id, decision).await? {
        return Err(Error::Refused(format!("approval {} is no longer pending", request.id)));
    }
    let released = tx.approve_campaign_critical(id).await?;
    let detail = format!(
        "{} approved by {} (asked by {}, request {})",
        request.action,
        actor.name(),
        request.requested_by,
        request.id
    );
    tx.record_tenant_event(&request.tenant, None, &EventKind::ApprovalApproved.name(), &detail).await?;
    tx.append_audit(&actor.audit_entry(
        &request.tenant,
        "approval.approve",
        &format!("approval/{}", request.id),
        "pending",
        json!({"status": "approved", "action": request.action, "campaign": id, "released": released,
            "requested_by": request.requested_by, "factor": decision.decided_factor}),
    ))
    .await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-12-07 00:00:00 UTC, a Monday.
    const MONDAY: i64 = 1_796_601_600;

    #[test]
    fn the_window_opens_on_its_days_and_hours_only() {
        assert!(Window::default().allows(MONDAY) && Window::default().allows(MONDAY + 5 * 86_400 + 3_599));
        let w = Window::new(&["mon".into(), "WED".into()], 2, 5).unwrap();
        assert_eq!(w.days_text(), "02");
        let at = |day: i64, h: i64, m: i64| MONDAY + day * 86_400 + h * 3600 + m * 60;
        assert!(!w.allows(at(0, 1, 59)));
        assert!(w.allows(at(0, 2, 0)) && w.allows(at(0, 4, 59)));
        assert!(!w.allows(at(0, 5, 0)));
        assert!(!w.allows(at(1, 3, 0)), "Tuesday is not a window day");
        assert!(w.allows(at(2, 3, 0)));
        // Past midnight: Friday 22:00 to Saturday 04:00.
        let night = Window::new(&["fri".into()], 22, 4).unwrap();
        assert!(night.allows(at(4, 22, 0)) && night.allows(at(4, 23, 59)) && night.allows(at(5, 3, 59)));
        assert!(!night.allows(at(5, 4, 0)) && !night.allows(at(4, 21, 59)) && !night.allows(at(5, 22, 0)));
        assert!(!night.allows(at(4, 2, 0)), "Friday's early hours belong to Thursday");
        // Bad windows are refused by field.
        assert!(Window::new(&[], 0, 24).is_err());
        assert!(Window::new(&["someday".into()], 0, 24).unwrap_err().to_string().contains("someday"));
        assert!(Window::new(&["mon".into()], 24, 24).is_err());
        assert!(Window::new(&["mon".into()], 0, 0).is_err());
    }

    #[test]
    fn thresholds_and_canaries() {
        assert!(!past_threshold(0, 0, 0));
        assert!(past_threshold(1, 0, 500), "one failure of one passes 50 %");
        assert!(!past_threshold(1, 1, 500), "half is not past half");
        assert!(past_threshold(2, 1, 500));
        assert!(!past_threshold(0, 10, 0));
        assert_eq!(canary_count(100, 50), 5);
        assert_eq!(canary_count(10, 50), 1, "rounded up");
        assert_eq!(canary_count(3, 0), 0);
        assert_eq!(canary_count(3, 1000), 3);
        assert_eq!(canary_count(0, 50), 0);
    }
}
