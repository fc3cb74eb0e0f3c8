//! Second-person approval of critical changes (SUB-4, SEC-8): terminating a critical SIM or lifting
//! its termination protection is asked by one person ([`request`]) and made only when another person
//! approves ([`approve`]); the requester cannot approve their own request (by user account, so not
//! with another of their tokens either), and a request is open for [`TTL_SECS`]. Approving makes the
//! change in the same transaction that marks the request approved; two approvers racing, or an
//! approver and a rejecter, cannot both decide it. Requests, decisions and the change itself land in
//! the audit trail with the factor each person proved.
//!
//! Only people take part: a request or decision from an API token that no person issued is refused,
//! since such a token could be anyone's second key.
//!
//! Who may decide: for a termination, anyone who may manage the SIM (its tenant's admins and
//! operators, the operator's staff); for lifting protection, the operator's admins. The command line
//! on the server is the break-glass path and acts alone (see [`crate::Authority::Local`]).

use ids::Imsi;
use serde_json::json;
use store::approvals::{Approval, Decision, NewApproval};
use store::model::{Priority, SimStatus};
use store::Store;

use crate::error::{Error, Result};
use crate::events::EventKind;
use crate::lifecycle::check_approved_transition;
use crate::notify::HssNotifier;
use crate::roles::Action;
use crate::sims::{self, Approved, Changed};
use crate::Actor;

/// Seconds a request stays open (a day).
pub const TTL_SECS: i64 = 24 * 3600;

/// What a request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Terminate a critical SIM.
    Terminate,
    /// Lift a critical SIM's termination protection.
    LiftProtection,
    /// Offer a firmware campaign's image to the devices of critical SIMs (the request's subject is
    /// the campaign id; asked by creating the campaign, see [`crate::campaigns`]).
    FirmwareCampaign,
}

impl Kind {
    /// The stored and shown name.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Terminate => "sim.terminate",
            Kind::LiftProtection => "sim.lift_protection",
            Kind::FirmwareCampaign => "firmware.campaign",
        }
    }

    /// The role right that asking for and deciding on it takes.
    fn right(self) -> Action {
        match self {
            Kind::Terminate => Action::ManageSims,
            Kind::LiftProtection => Action::ProtectCritical,
            Kind::FirmwareCampaign => Action::ManageSims,
        }
    }
}

impl std::str::FromStr for Kind {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "sim.terminate" => Ok(Kind::Terminate),
            "sim.lift_protection" => Ok(Kind::LiftProtection),
            "firmware.campaign" => Ok(Kind::FirmwareCampaign),
            other => Err(Error::Invalid(format!("unknown approval action {other:?}"))),
        }
    }
}

fn text(reason: &str) -> Result<&str> {
    let reason = reason.trim();
    if reason.chars().count() > 500 || reason.chars().any(char::is_control) {
        return Err(Error::Invalid("reason: at most 500 characters, no control characters".into()));
    }
    Ok(reason)
}

/// Asks for a second person's approval of `kind` on the critical SIM `imsi`. The change must be
/// possible now (a termination needs a suspended SIM, and for tenants the protection lifted); a SIM
/// that is not critical needs no approval (the change is made directly instead). `factor`: the second
/// factor the requester proved, for the record.
pub async fn request(
    store: &Store,
    actor: &Actor,
    kind: Kind,
    imsi: &Imsi,
    reason: &str,
    factor: Option<&str>,
) -> Result<Approval> {
    actor.require(kind.right())?;
    person(actor)?;
    if kind == Kind::FirmwareCampaign {
        return Err(Error::Invalid(
            "a firmware campaign's approval is asked by creating it with include_critical (POST /campaigns)".into(),
        ));
    }
    let reason = text(reason)?;
    let sim =
        store.sim_in(&actor.scope(), imsi).await?.ok_or_else(|| Error::NotFound(format!("SIM {imsi} not found")))?;
    if sim.sim.priority != Priority::Critical {
        return Err(Error::Refused(format!("SIM {imsi} is not critical: no approval is needed")));
    }
    match kind {
        Kind::Terminate => check_approved_transition(
            actor.into(),
            sim.sim.priority,
            sim.protection_lifted,
            sim.sim.status,
            SimStatus::Terminated,
        )?,
        Kind::LiftProtection if sim.protection_lifted => {
            return Err(Error::Refused(format!("the protection of SIM {imsi} is already lifted")))
        }
        Kind::LiftProtection | Kind::FirmwareCampaign => {}
    }
    let now = store::now();
    let mut tx = store.begin().await?;
    let approval = tx
        .insert_approval(&NewApproval {
            tenant: &sim.sim.tenant,
            action: kind.as_str(),
            imsi: imsi.as_str(),
            reason,
            requested_by: &actor.name(),
            requester_key: &actor.identity_key(),
            requested_factor: factor,
            at: now,
            ttl: TTL_SECS,
        })
        .await
        .map_err(|e| match e {
            store::StoreError::Conflict(m) => Error::Refused(m),
            other => other.into(),
        })?;
    let detail = format!("{} asked by {} (request {})", kind.as_str(), actor.name(), approval.id);
    tx.record_tenant_event(&sim.sim.tenant, Some(imsi.as_str()), &EventKind::ApprovalRequested.name(), &detail).await?;
    let after = json!({"status": "pending", "action": kind.as_str(), "imsi": imsi.as_str(), "reason": reason,
        "factor": factor, "expires_at": approval.expires_at});
    tx.append_audit(&actor.audit_entry(
        &sim.sim.tenant,
        "approval.request",
        &format!("approval/{}", approval.id),
        (),
        after,
    ))
    .await?;
    tx.commit().await?;
    Ok(approval)
}

/// Refuses credentials that are no person's: an API token issued by no one (`warden admin init`'s, or
/// one such a token issued) could be the requester's own second key, so neither asking nor deciding
/// is theirs. Tokens a person issued count as that person.
fn person(actor: &Actor) -> Result<()> {
    match actor.user_id() {
        Some(_) => Ok(()),
        None => Err(Error::Forbidden(
            "approvals are between two people: ask and decide from a person's login session (or a token a person issued)"
                .into(),
        )),
    }
}

/// The pending request `id` visible to `actor` that `actor` may decide.
async fn decidable(store: &Store, actor: &Actor, id: &str) -> Result<(Approval, Kind)> {
    let approval = store
        .approval_in(&actor.scope(), id, store::now())
        .await?
        .ok_or_else(|| Error::NotFound(format!("approval {id} not found")))?;
    let kind: Kind = approval.action.parse()?;
    actor.require(kind.right())?;
    person(actor)?;
    if approval.status != "pending" {
        return Err(Error::Refused(format!("approval {id} is {}", approval.status)));
    }
    if approval.requester_key == actor.identity_key() {
        return Err(Error::Forbidden("the requester cannot approve or reject their own request".into()));
    }
    Ok((approval, kind))
}

/// Approves the pending request `id` and makes the change, as `actor` (a second person, who must
/// hold the right the change takes). `factor`: the factor the approver proved.
pub async fn approve(
    store: &Store,
    hss: &dyn HssNotifier,
    actor: &Actor,
    id: &str,
    note: &str,
    factor: Option<&str>,
) -> Result<(Approval, Option<Changed>)> {
    let note = text(note)?;
    let (request, kind) = decidable(store, actor, id).await?;
    if kind == Kind::FirmwareCampaign {
        let name = actor.name();
        let decision =
            Decision { status: "approved", decided_by: &name, decided_factor: factor, note, at: store::now() };
        crate::campaigns::approve_critical(store, actor, &request, &decision).await?;
        let after = store.approval_in(&actor.scope(), id, store::now()).await?.unwrap_or(request);
        return Ok((after, None));
    }
    let imsi: Imsi = request.imsi.parse().map_err(|e: ids::IdError| Error::Internal(e.to_string()))?;
    let name = actor.name();
    let approved = Approved {
        request: &request,
        decision: Decision { status: "approved", decided_by: &name, decided_factor: factor, note, at: store::now() },
    };
    let changed = match kind {
        Kind::Terminate => {
            sims::change_status_as(store, hss, actor, &imsi, SimStatus::Terminated, Some(&approved)).await?
        }
        Kind::LiftProtection => sims::set_protection_as(store, actor, &imsi, true, Some(&approved)).await?,
        Kind::FirmwareCampaign => return Err(Error::Internal("campaign approvals are decided above".into())),
    };
    let after = store.approval_in(&actor.scope(), id, store::now()).await?.unwrap_or(request);
    Ok((after, Some(changed)))
}

/// Rejects the pending request `id` (a second person; the requester withdraws nothing this way).
pub async fn reject(store: &Store, actor: &Actor, id: &str, note: &str, factor: Option<&str>) -> Result<Approval> {
    let note = text(note)?;
    let (request, kind) = decidable(store, actor, id).await?;
    let subject = (kind != Kind::FirmwareCampaign).then_some(request.imsi.as_str());
    let name = actor.name();
    let decision = Decision { status: "rejected", decided_by: &name, decided_factor: factor, note, at: store::now() };
    let mut tx = store.begin().await?;
    if !tx.decide_approval(&actor.scope(), id, &decision).await? {
        return Err(Error::Refused(format!("approval {id} is no longer pending")));
    }
    let detail = format!("{} rejected by {} (asked by {}, request {id})", request.action, name, request.requested_by);
    tx.record_tenant_event(&request.tenant, subject, &EventKind::ApprovalRejected.name(), &detail).await?;
    let after = json!({"status": "rejected", "action": request.action, "note": note, "factor": factor});
    tx.append_audit(&actor.audit_entry(
        &request.tenant,
        "approval.reject",
        &format!("approval/{id}"),
        "pending",
        after,
    ))
    .await?;
    tx.commit().await?;
    store.approval_in(&actor.scope(), id, store::now()).await?.ok_or_else(|| Error::NotFound(format!("approval {id}")))
}
