//! Changing one SIM on behalf of a caller: the lifecycle and critical-SIM rules, a write scoped to the
//! caller's tenant that only succeeds if nobody changed the SIM meanwhile, an event, and the HSS told.

use ids::Imsi;
use store::access::Scope;
use store::model::SimStatus;
use store::sims_scoped::ManagedSim;
use store::Store;

use crate::lifecycle::{check_transition, Actor, TransitionError};
use crate::notify::HssNotifier;
use crate::roles::{Action, Role};

/// Why a change did not happen.
#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    /// No such SIM in the caller's scope.
    #[error("SIM {0} not found")]
    NotFound(String),
    /// The lifecycle or protection refuses it.
    #[error(transparent)]
    Transition(#[from] TransitionError),
    /// Something else refuses it (unknown profile, terminated SIM, …).
    #[error("{0}")]
    Refused(String),
    /// The role may not do this.
    #[error("role {0} may not do this")]
    Forbidden(Role),
    /// The SIM changed at the same moment; retry.
    #[error("SIM {0} changed concurrently; retry")]
    Conflict(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] store::StoreError),
}

/// The event kind of a status change.
pub const STATUS_CHANGED: &str = "sim.status_changed";
/// The event kind of a profile change.
pub const PROFILE_CHANGED: &str = "sim.profile_changed";

async fn load(store: &Store, scope: &Scope, imsi: &Imsi) -> Result<ManagedSim, ChangeError> {
    store.sim_in(scope, imsi).await?.ok_or_else(|| ChangeError::NotFound(imsi.to_string()))
}

/// Changes a SIM's status; returns the SIM before and after.
pub async fn change_status(
    store: &Store,
    hss: &dyn HssNotifier,
    scope: &Scope,
    role: Role,
    imsi: &Imsi,
    to: SimStatus,
) -> Result<(ManagedSim, ManagedSim), ChangeError> {
    let before = load(store, scope, imsi).await?;
    check_transition(Actor::Person(role), before.sim.priority, before.protection_lifted, before.sim.status, to)?;
    if !store.set_status_in(scope, imsi, before.sim.status, to).await? {
        return Err(ChangeError::Conflict(imsi.to_string()));
    }
    let detail = format!("{} → {}", before.sim.status, to);
    store.record_tenant_event(&before.sim.tenant, Some(imsi.as_str()), STATUS_CHANGED, &detail).await?;
    hss.status_changed(&before.sim, to);
    let after = load(store, scope, imsi).await?;
    Ok((before, after))
}

/// Assigns an existing service profile to a SIM (profiles are the operator's; tenants pick them).
pub async fn change_profile(
    store: &Store,
    hss: &dyn HssNotifier,
    scope: &Scope,
    role: Role,
    imsi: &Imsi,
    profile: &str,
) -> Result<(ManagedSim, ManagedSim), ChangeError> {
    if !role.allows(Action::ManageSims) {
        return Err(ChangeError::Forbidden(role));
    }
    let before = load(store, scope, imsi).await?;
    if before.sim.status == SimStatus::Terminated {
        return Err(ChangeError::Refused(format!("SIM {imsi} is terminated")));
    }
    if store.profile(profile).await?.is_none() {
        return Err(ChangeError::Refused(format!("profile {profile:?} does not exist")));
    }
    if !store.set_profile_in(scope, imsi, profile).await? {
        return Err(ChangeError::NotFound(imsi.to_string()));
    }
    let detail = format!("{} → {profile}", before.sim.profile.as_deref().unwrap_or("(none)"));
    store.record_tenant_event(&before.sim.tenant, Some(imsi.as_str()), PROFILE_CHANGED, &detail).await?;
    hss.profile_changed(&before.sim);
    let after = load(store, scope, imsi).await?;
    Ok((before, after))
}

/// Bars or unbars packet data of a SIM (Operator-Determined-Barring); the MME gets IDR. Barring is
/// how an investigation starts (DM-4); unbarring ends it.
pub async fn set_data_barring(
    store: &Store,
    hss: &dyn HssNotifier,
    scope: &Scope,
    role: Role,
    imsi: &Imsi,
    barred: bool,
) -> Result<(ManagedSim, ManagedSim), ChangeError> {
    if !role.allows(Action::ManageSims) {
        return Err(ChangeError::Forbidden(role));
    }
    let before = load(store, scope, imsi).await?;
    if before.sim.data_barred == barred {
        return Ok((before.clone(), before));
    }
    if !store.set_data_barred(scope, imsi, barred).await? {
        return Err(ChangeError::NotFound(imsi.to_string()));
    }
    let kind = if barred { "sim.data_barred" } else { "sim.data_unbarred" };
    store
        .record_tenant_event(&before.sim.tenant, Some(imsi.as_str()), kind, "packet data (Operator-Determined-Barring)")
        .await?;
    hss.profile_changed(&before.sim);
    let after = load(store, scope, imsi).await?;
    Ok((before, after))
}

/// Lifts or restores the termination protection of a critical SIM (operator admins only).
pub async fn set_protection(
    store: &Store,
    role: Role,
    imsi: &Imsi,
    lifted: bool,
) -> Result<(ManagedSim, ManagedSim), ChangeError> {
    if !role.allows(Action::ProtectCritical) {
        return Err(ChangeError::Forbidden(role));
    }
    let before = load(store, &Scope::Operator, imsi).await?;
    store.set_protection_lifted(imsi, lifted).await?;
    let kind = if lifted { "sim.protection_lifted" } else { "sim.protection_restored" };
    store.record_tenant_event(&before.sim.tenant, Some(imsi.as_str()), kind, "by operator admin").await?;
    let after = load(store, &Scope::Operator, imsi).await?;
    Ok((before, after))
}
