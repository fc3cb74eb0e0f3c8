//! Changing SIMs: the one path every change takes, whoever makes it — the REST API, the command
//! line, a tenant rule, the HSS's IMEI lock. Each use case
//! 1. reads the SIM in the actor's scope and checks the lifecycle, the role and the protection of
//!    critical SIMs;
//! 2. in **one transaction** writes the change (guarded by the state it was read in), its event,
//!    the notification the HSS must send (CLR/IDR, queued in the store's outbox so it is never lost),
//!    and its audit entry — all or nothing;
//! 3. tells the HSS of this process ([`HssNotifier`]) after the commit, so it drops its cached copy
//!    and sends the queued notification at once.

use ids::{Imei, Imsi};
use serde_json::json;
use store::model::{NewSim, ServingNode, Sim, SimStatus};
use store::platform::SimRange;
use store::sims_scoped::ManagedSim;
use store::{Store, Tx};

use crate::actor::Actor;
use crate::error::{Error, Result};
use crate::events::EventKind;
use crate::lifecycle::{check_approved_transition, check_data_barring, check_transition};
use crate::notify::HssNotifier;
use crate::roles::Action;

/// A SIM before and after a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Changed {
    /// As it was read.
    pub before: ManagedSim,
    /// As it is now.
    pub after: ManagedSim,
}

/// What the HSS must tell the network about a change (TS 29.272 §5.2.1.2 and §5.2.2.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notification {
    /// Cancel-Location (SUBSCRIPTION_WITHDRAWAL) to the serving node: an active SIM left service.
    Cancel(ServingNode),
    /// Insert-Subscriber-Data to the serving node: its subscription data changed.
    Update(ServingNode),
    /// Nothing to send; caches drop the SIM.
    Refresh,
}

impl Notification {
    /// After a status change of `before` to `to`.
    pub fn for_status(before: &Sim, to: SimStatus) -> Self {
        match &before.serving {
            Some(node) if before.status == SimStatus::Active && to != SimStatus::Active => {
                Notification::Cancel(node.clone())
            }
            _ => Notification::Refresh,
        }
    }

    /// After a change of the subscription data of `before` (profile, barring, bound IMEIs).
    pub fn for_data(before: &Sim) -> Self {
        before.serving.clone().map_or(Notification::Refresh, Notification::Update)
    }

    /// Queues it in the outbox of `tx`, for the SIM `imsi`.
    pub async fn queue(&self, tx: &mut Tx, imsi: &Imsi) -> store::Result<()> {
        let nowhere = ServingNode { origin_host: String::new(), origin_realm: String::new(), plmn: None, since: 0 };
        match self {
            Notification::Cancel(node) => tx.enqueue_notification(imsi, "clr", node).await,
            Notification::Update(node) => tx.enqueue_notification(imsi, "idr", node).await,
            Notification::Refresh => tx.enqueue_notification(imsi, "refresh", &nowhere).await,
        }
    }
}

/// Everything written with a change besides the change itself.
struct Record<'a> {
    actor: &'a Actor,
    sim: &'a Sim,
    event: EventKind,
    detail: String,
    notification: Notification,
    action: &'static str,
    before: serde_json::Value,
    after: serde_json::Value,
}

impl Record<'_> {
    /// Writes the event, the outbox row and the audit entry (last), then commits.
    async fn commit(self, mut tx: Tx) -> Result<()> {
        let imsi = &self.sim.imsi;
        let detail = match self.actor {
            Actor::Automated { by } => format!("{} ({by})", self.detail),
            _ => self.detail,
        };
        tx.record_tenant_event(&self.sim.tenant, Some(imsi.as_str()), &self.event.name(), &detail).await?;
        self.notification.queue(&mut tx, imsi).await?;
        let entry =
            self.actor.audit_entry(&self.sim.tenant, self.action, &format!("sim/{imsi}"), self.before, self.after);
        tx.append_audit(&entry).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// `sim` with the serving node read in `tx` after its guarded update: the node a registration on
/// another instance may have changed since `sim` was read (the CLR/IDR must go there).
async fn with_current_serving(tx: &mut Tx, sim: &Sim) -> Result<Sim> {
    let mut current = sim.clone();
    current.serving = tx.serving_node(&sim.imsi).await?;
    Ok(current)
}

async fn load(store: &Store, actor: &Actor, imsi: &Imsi) -> Result<ManagedSim> {
    store.sim_in(&actor.scope(), imsi).await?.ok_or_else(|| Error::NotFound(format!("SIM {imsi} not found")))
}

async fn reload(store: &Store, actor: &Actor, before: ManagedSim) -> Result<Changed> {
    let after = load(store, actor, &before.sim.imsi).await?;
    Ok(Changed { before, after })
}

/// Changes a SIM's status (`inventory → active ⇄ suspended → terminated`).
pub async fn change_status(
    store: &Store,
    hss: &dyn HssNotifier,
    actor: &Actor,
    imsi: &Imsi,
    to: SimStatus,
) -> Result<Changed> {
    change_status_as(store, hss, actor, imsi, to, None).await
}

/// A second person's decision on a request, written in the transaction of the change it allows.
pub(crate) struct Approved<'a> {
    pub(crate) request: &'a store::approvals::Approval,
    pub(crate) decision: store::approvals::Decision<'a>,
}

impl Approved<'_> {
    /// Marks the request approved in `tx` with its event and audit entry; refused when someone
    /// decided it first or it expired.
    async fn decide(&self, tx: &mut Tx, actor: &Actor) -> Result<()> {
        let r = self.request;
        if !tx.decide_approval(&actor.scope(), &r.id, &self.decision).await? {
            return Err(Error::Refused(format!("approval {} is no longer pending", r.id)));
        }
        let detail =
            format!("{} approved by {} (asked by {}, request {})", r.action, actor.name(), r.requested_by, r.id);
        tx.record_tenant_event(&r.tenant, Some(&r.imsi), &EventKind::ApprovalApproved.name(), &detail).await?;
        let after = json!({"status": "approved", "action": r.action, "requested_by": r.requested_by,
            "factor": self.decision.decided_factor});
        tx.append_audit(&actor.audit_entry(
            &r.tenant,
            "approval.approve",
            &format!("approval/{}", r.id),
            "pending",
            after,
        ))
        .await?;
        Ok(())
    }
}

/// [`change_status`], or with `approved` the change a second person approved (decided in the same
/// transaction, so the request and the change land together or not at all).
pub(crate) async fn change_status_as(
    store: &Store,
    hss: &dyn HssNotifier,
    actor: &Actor,
    imsi: &Imsi,
    to: SimStatus,
    approved: Option<&Approved<'_>>,
) -> Result<Changed> {
    let before = load(store, actor, imsi).await?;
    let sim = &before.sim;
    let check = if approved.is_some() { check_approved_transition } else { check_transition };
    check(actor.into(), sim.priority, before.protection_lifted, sim.status, to)?;
    let mut tx = store.begin().await?;
    if !tx.set_status_in(&actor.scope(), imsi, sim.status, to).await? {
        return Err(Error::Conflict(format!("SIM {imsi}")));
    }
    if let Some(a) = approved {
        a.decide(&mut tx, actor).await?;
    }
    let current = with_current_serving(&mut tx, sim).await?;
    Record {
        actor,
        sim,
        event: EventKind::SimStatusChanged,
        detail: format!("{} → {to}", sim.status),
        notification: Notification::for_status(&current, to),
        action: "sim.set_status",
        before: json!(sim.status.as_str()),
        after: json!(to.as_str()),
    }
    .commit(tx)
    .await?;
    hss.status_changed(sim, to);
    reload(store, actor, before).await
}

/// Assigns an existing service profile to a SIM (profiles are the operator's; tenants pick them).
pub async fn change_profile(
    store: &Store,
    hss: &dyn HssNotifier,
    actor: &Actor,
    imsi: &Imsi,
    profile: &str,
) -> Result<Changed> {
    actor.require(Action::ManageSims)?;
    let before = load(store, actor, imsi).await?;
    let sim = &before.sim;
    if sim.status == SimStatus::Terminated {
        return Err(Error::Refused(format!("SIM {imsi} is terminated")));
    }
    if store.profile(profile).await?.is_none() {
        return Err(Error::Refused(format!("profile {profile:?} does not exist")));
    }
    let mut tx = store.begin().await?;
    if !tx.set_profile_in(&actor.scope(), imsi, profile).await? {
        return Err(Error::NotFound(format!("SIM {imsi} not found")));
    }
    let current = with_current_serving(&mut tx, sim).await?;
    Record {
        actor,
        sim,
        event: EventKind::SimProfileChanged,
        detail: format!("{} → {profile}", sim.profile.as_deref().unwrap_or("(none)")),
        notification: Notification::for_data(&current),
        action: "sim.set_profile",
        before: json!(sim.profile),
        after: json!(profile),
    }
    .commit(tx)
    .await?;
    hss.profile_changed(sim);
    reload(store, actor, before).await
}

/// Bars or unbars packet data of a SIM (Operator-Determined-Barring); the MME gets IDR. Barring is
/// how an investigation starts (DM-4); unbarring ends it. Asking for the state the SIM is already in
/// changes and records nothing.
pub async fn set_data_barring(
    store: &Store,
    hss: &dyn HssNotifier,
    actor: &Actor,
    imsi: &Imsi,
    barred: bool,
) -> Result<Changed> {
    actor.require(Action::ManageSims)?;
    let before = load(store, actor, imsi).await?;
    let sim = &before.sim;
    if sim.data_barred == barred {
        return Ok(Changed { before: before.clone(), after: before });
    }
    check_data_barring(actor.into(), sim.priority, before.protection_lifted, barred)?;
    let mut tx = store.begin().await?;
    if !tx.set_data_barred(&actor.scope(), imsi, barred).await? {
        return Err(Error::NotFound(format!("SIM {imsi} not found")));
    }
    let current = with_current_serving(&mut tx, sim).await?;
    Record {
        actor,
        sim,
        event: if barred { EventKind::SimDataBarred } else { EventKind::SimDataUnbarred },
        detail: "packet data (Operator-Determined-Barring)".into(),
        notification: Notification::for_data(&current),
        action: "sim.set_data_barring",
        before: json!(sim.data_barred),
        after: json!(barred),
    }
    .commit(tx)
    .await?;
    hss.profile_changed(sim);
    reload(store, actor, before).await
}

/// Lifts or restores the termination protection of a critical SIM (operator admins only). Lifting
/// the protection of a critical SIM takes a second person's approval ([`crate::approvals`]) unless
/// the command line does it; restoring it never does.
pub async fn set_protection(store: &Store, actor: &Actor, imsi: &Imsi, lifted: bool) -> Result<Changed> {
    set_protection_as(store, actor, imsi, lifted, None).await
}

/// [`set_protection`], or with `approved` the lifting a second person approved.
pub(crate) async fn set_protection_as(
    store: &Store,
    actor: &Actor,
    imsi: &Imsi,
    lifted: bool,
    approved: Option<&Approved<'_>>,
) -> Result<Changed> {
    actor.require(Action::ProtectCritical)?;
    let before = load(store, actor, imsi).await?;
    let needs_approval = lifted
        && before.sim.priority == store::model::Priority::Critical
        && !before.protection_lifted
        && !matches!(actor, Actor::Cli { .. });
    if needs_approval && approved.is_none() {
        return Err(crate::TransitionError::NeedsApproval(crate::lifecycle::LIFT_PROTECTION).into());
    }
    let mut tx = store.begin().await?;
    tx.set_protection_lifted(imsi, lifted).await?;
    if let Some(a) = approved {
        a.decide(&mut tx, actor).await?;
    }
    Record {
        actor,
        sim: &before.sim,
        event: if lifted { EventKind::SimProtectionLifted } else { EventKind::SimProtectionRestored },
        detail: "by operator admin".into(),
        notification: Notification::Refresh,
        action: "sim.protection",
        before: json!(before.protection_lifted),
        after: json!(lifted),
    }
    .commit(tx)
    .await?;
    reload(store, actor, before).await
}

/// Binds a device to a SIM (an IMEI lock's first registration). Binding a bound IMEI again changes
/// and records nothing.
pub async fn bind_imei(
    store: &Store,
    hss: &dyn HssNotifier,
    actor: &Actor,
    imsi: &Imsi,
    imei: &Imei,
) -> Result<Changed> {
    actor.require(Action::ManageSims)?;
    let before = load(store, actor, imsi).await?;
    let sim = &before.sim;
    if sim.bound_imeis.iter().any(|b| b == imei.body()) {
        return Ok(Changed { before: before.clone(), after: before });
    }
    let mut tx = store.begin().await?;
    tx.bind_imei(imsi, imei).await?;
    let mut bound = sim.bound_imeis.clone();
    bound.push(imei.body().to_string());
    Record {
        actor,
        sim,
        event: EventKind::ImeiBound,
        detail: format!("IMEI {imei}"),
        notification: Notification::Refresh,
        action: "sim.bind_imei",
        before: json!(sim.bound_imeis),
        after: json!(bound),
    }
    .commit(tx)
    .await?;
    hss.status_changed(sim, sim.status);
    reload(store, actor, before).await
}

/// The segment of `imsi` among `ranges`: `iot`, `handset` or `unclassified`.
pub fn segment_of(imsi: &str, ranges: &[SimRange]) -> String {
    ranges
        .iter()
        .find(|r| r.imsi_from.as_str() <= imsi && imsi <= r.imsi_to.as_str())
        .map(|r| r.segment.clone())
        .unwrap_or_else(|| "unclassified".into())
}

/// Most SIMs in one error message of an import.
const MAX_REPORTED: usize = 20;

/// Imports SIMs with their keys (operator only), all or nothing: no SIM may lie in a range marked
/// `handset` (IoT segregation, SUB-5), and a duplicate IMSI or ICCID refuses the whole import. `resource` names what was imported
/// in the audit trail (a file, or the IMSI span); `progress` hears how many rows are written.
pub async fn import(
    store: &Store,
    actor: &Actor,
    sims: &[NewSim],
    resource: &str,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<usize> {
    actor.require(Action::Operate)?;
    let ranges = store.list_ranges().await?;
    let mut errors: Vec<String> = sims
        .iter()
        .filter(|s| segment_of(s.imsi.as_str(), &ranges) == "handset")
        .map(|s| format!("IMSI {} is in a handset range", s.imsi))
        .collect();
    let mut tenants: Vec<&str> = sims.iter().map(|s| s.tenant.as_str()).collect();
    tenants.sort_unstable();
    tenants.dedup();
    if !errors.is_empty() {
        let n = errors.len();
        errors.truncate(MAX_REPORTED);
        return Err(Error::Invalid(format!("{n} invalid SIM(s), nothing imported: {}", errors.join("; "))));
    }
    let mut tx = store.begin().await?;
    let n = tx.insert_sims_with_progress(sims, progress).await?;
    let tenant = if tenants.len() == 1 { tenants[0] } else { "*" };
    tx.append_audit(&actor.audit_entry(tenant, "sim.import", resource, (), json!({ "imported": n }))).await?;
    tx.commit().await?;
    Ok(n)
}
