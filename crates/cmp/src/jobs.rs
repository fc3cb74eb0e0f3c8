//! Bulk jobs: one change (a status or a profile) applied to up to millions of SIMs chosen by a list,
//! an IMSI range or a filter. Jobs run in the background in batches; each batch is one transaction
//! with its per-item results, so one refused item never affects the others, progress is visible
//! while the job runs, a cancel stops it between batches, and a job interrupted by a restart resumes
//! after its last committed batch. Re-running the same change is harmless: items already in the
//! requested state are reported `unchanged`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use store::access::Scope;
use store::jobs::{Batch, ItemResult, JobChange, JobRow, RACE};
use store::model::SimStatus;
use store::sims_scoped::{ManagedSim, SimFilter};
use store::{Store, StoreError};

use crate::actor::Actor;
use crate::error::Error;
use crate::events::EventKind;
use crate::fair::FairSlots;
use crate::lifecycle::{check_transition, Authority};
use crate::notify::HssNotifier;
use crate::roles::{Action, Role};
use crate::sims::Notification;

/// Items per batch (one transaction each).
pub const BATCH: usize = 2000;
/// Most IMSIs a list selection may carry.
pub const MAX_LIST: usize = 1_000_000;

/// Which SIMs a job changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Selection {
    /// These IMSIs.
    List(Vec<String>),
    /// Every SIM in the range that matches the filter.
    Filter {
        /// First IMSI.
        imsi_from: Option<String>,
        /// Last IMSI.
        imsi_to: Option<String>,
        /// Only SIMs with this status.
        status: Option<SimStatus>,
        /// Only SIMs with this profile.
        profile: Option<String>,
    },
}

/// What a job does, as stored with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobPlan {
    /// New status, or
    pub status: Option<SimStatus>,
    /// new profile.
    pub profile: Option<String>,
    /// Which SIMs.
    pub selection: Selection,
    /// Role of the caller who created the job (the lifecycle rules apply as for them).
    pub role: String,
}

impl JobPlan {
    /// The change, or why the plan is unusable.
    pub fn change(&self) -> Result<JobChange, String> {
        match (&self.status, &self.profile) {
            (Some(s), None) => Ok(JobChange::Status(*s)),
            (None, Some(p)) => Ok(JobChange::Profile(p.clone())),
            _ => Err("a job sets exactly one of status or profile".into()),
        }
    }

    /// The action name recorded with the job.
    pub fn action(&self) -> &'static str {
        if self.status.is_some() {
            "set_status"
        } else {
            "set_profile"
        }
    }
}

/// Per-tenant quotas on bulk jobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobLimits {
    /// Most IMSIs a list selection may carry.
    pub max_items: usize,
    /// Most jobs a tenant may have queued or running at once.
    pub max_unfinished: i64,
}

impl Default for JobLimits {
    /// A million IMSIs per list, four unfinished jobs per tenant.
    fn default() -> Self {
        JobLimits { max_items: MAX_LIST, max_unfinished: 4 }
    }
}

/// Creates a queued bulk job for the actor (tenants: over their SIMs; the operator: over one tenant's
/// or, naming none, every tenant's), within the tenant's quotas. The caller starts it with
/// [`run_job`].
pub async fn create(
    store: &Store,
    actor: &Actor,
    tenant: Option<&str>,
    plan: &JobPlan,
    limits: JobLimits,
) -> crate::Result<JobRow> {
    actor.require(Action::ManageSims)?;
    let tenant = match tenant {
        Some(t) if actor.is_operator() && !store.tenant_exists(t).await? => {
            return Err(Error::Invalid(format!("tenant {t} does not exist")))
        }
        None if actor.is_operator() => "*".to_string(),
        requested => actor.target_tenant(requested)?,
    };
    if let Selection::List(list) = &plan.selection {
        let max = limits.max_items.min(MAX_LIST);
        if list.is_empty() || list.len() > max {
            return Err(Error::Invalid(format!("selection.imsis: give 1..={max} IMSIs")));
        }
    }
    if let Some(p) = &plan.profile {
        if store.profile(p).await?.is_none() {
            return Err(Error::Invalid(format!("profile {p:?} does not exist")));
        }
    }
    plan.change().map_err(Error::Invalid)?;
    let total = match &plan.selection {
        Selection::List(l) => l.len() as i64,
        Selection::Filter { .. } => 0,
    };
    let spec = serde_json::to_string(plan).map_err(|e| Error::Internal(e.to_string()))?;
    let mut tx = store.begin().await?;
    let unfinished = tx.count_unfinished_jobs(&tenant).await?;
    if unfinished >= limits.max_unfinished {
        return Err(Error::TooMany {
            reason: format!("{unfinished} jobs of this tenant are queued or running (at most {}); wait for one to end or cancel one", limits.max_unfinished),
            retry_after: 30,
        });
    }
    let job = tx.create_job(&tenant, plan.action(), &spec, &actor.name(), total).await?;
    let summary =
        serde_json::json!({"status": plan.status.map(|s| s.as_str()), "profile": plan.profile, "items": total});
    tx.append_audit(&actor.audit_entry(&tenant, "job.create", &format!("job/{}", job.id), (), summary)).await?;
    tx.commit().await?;
    Ok(job)
}

/// Asks a queued or running job visible to the actor to stop after its current batch.
pub async fn cancel(store: &Store, actor: &Actor, id: &str) -> crate::Result<JobRow> {
    actor.require(Action::ManageSims)?;
    let scope = actor.scope();
    let not_found = || Error::NotFound(format!("job {id} not found"));
    let job = store.job_in(&scope, id).await?.ok_or_else(not_found)?;
    let mut tx = store.begin().await?;
    if !tx.request_job_cancel(&scope, id).await? {
        return Err(Error::Refused(format!("job {id} is {} and cannot be cancelled", job.state)));
    }
    let resource = format!("job/{id}");
    tx.append_audit(&actor.audit_entry(&job.tenant, "job.cancel", &resource, &job.state, "cancel requested")).await?;
    tx.commit().await?;
    store.job_in(&scope, id).await?.ok_or_else(not_found)
}

/// Decides what happens to one SIM.
fn decide(sim: &ManagedSim, change: &JobChange, role: Role) -> Result<bool, String> {
    match change {
        JobChange::Status(to) => {
            if sim.sim.status == *to {
                return Ok(false);
            }
            check_transition(Authority::Person(role), sim.sim.priority, sim.protection_lifted, sim.sim.status, *to)
                .map(|_| true)
                .map_err(|e| e.to_string())
        }
        JobChange::Profile(p) => {
            if sim.sim.status == SimStatus::Terminated {
                Err("SIM is terminated".into())
            } else {
                Ok(sim.sim.profile.as_deref() != Some(p.as_str()))
            }
        }
    }
}

/// Builds one batch from the SIMs read (and, for lists, the IMSIs asked for but not visible).
fn plan_batch(
    sims: &[ManagedSim],
    missing: &[String],
    change: &JobChange,
    role: Role,
    job_id: &str,
) -> (Batch, Vec<ManagedSim>) {
    let mut groups: BTreeMap<&'static str, (SimStatus, Vec<String>)> = BTreeMap::new();
    let mut batch = Batch::default();
    let mut changed = Vec::new();
    for s in sims {
        let imsi = s.sim.imsi.as_str().to_string();
        match decide(s, change, role) {
            Ok(true) => {
                groups.entry(s.sim.status.as_str()).or_insert_with(|| (s.sim.status, vec![])).1.push(imsi.clone());
                let (kind, detail, notification) = match change {
                    JobChange::Status(to) => (
                        EventKind::SimStatusChanged,
                        format!("{} → {to} (job {job_id})", s.sim.status),
                        Notification::for_status(&s.sim, *to),
                    ),
                    JobChange::Profile(p) => (
                        EventKind::SimProfileChanged,
                        format!("{} → {p} (job {job_id})", s.sim.profile.as_deref().unwrap_or("(none)")),
                        Notification::for_data(&s.sim),
                    ),
                };
                batch.events.push((imsi.clone(), kind.name().into_owned(), detail));
                // Only what reaches the network goes through the outbox: the job runs in the server,
                // whose HSS drops its cached copies when told below.
                match notification {
                    Notification::Cancel(node) => batch.notifications.push((s.sim.imsi.clone(), "clr", node)),
                    Notification::Update(node) => batch.notifications.push((s.sim.imsi.clone(), "idr", node)),
                    Notification::Refresh => {}
                }
                batch.results.push(ItemResult { imsi, outcome: "succeeded", detail: String::new() });
                changed.push(s.clone());
            }
            Ok(false) => batch.results.push(ItemResult { imsi, outcome: "unchanged", detail: String::new() }),
            Err(why) => batch.results.push(ItemResult { imsi, outcome: "failed", detail: why }),
        }
    }
    for m in missing {
        batch.results.push(ItemResult { imsi: m.clone(), outcome: "failed", detail: "SIM not found".into() });
    }
    batch.changes = groups.into_values().collect();
    (batch, changed)
}

/// Why a job stopped early.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// The stored plan is unusable.
    #[error("job plan: {0}")]
    Plan(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Runs (or resumes) a job to its end, taking a fair turn among tenants for each batch; returns the
/// final row.
pub async fn run_job(
    store: &Store,
    hss: &dyn HssNotifier,
    slots: &FairSlots,
    job_id: &str,
) -> Result<JobRow, JobError> {
    let job = store.job(job_id).await?.ok_or_else(|| JobError::Plan(format!("job {job_id} not found")))?;
    let plan: JobPlan = serde_json::from_str(&job.spec).map_err(|e| JobError::Plan(e.to_string()))?;
    let change = plan.change().map_err(JobError::Plan)?;
    let role: Role = plan.role.parse().map_err(JobError::Plan)?;
    let scope = if job.tenant == "*" { Scope::Operator } else { Scope::Tenant(job.tenant.clone()) };
    loop {
        let _turn = slots.turn(&job.tenant).await;
        // Read afresh after the wait: a cancel may have come meanwhile.
        let job = store.job(job_id).await?.ok_or_else(|| JobError::Plan(format!("job {job_id} vanished")))?;
        let started = std::time::Instant::now();
        if job.cancel {
            store.set_job_state(&job.id, "cancelled").await?;
            break;
        }
        let (sims, missing, next_cursor, add_total) = match &plan.selection {
            Selection::List(imsis) => {
                let start: usize = job.cursor.parse().unwrap_or(0);
                if start >= imsis.len() {
                    break;
                }
                let end = (start + BATCH).min(imsis.len());
                let chunk = &imsis[start..end];
                let valid: Vec<String> = chunk.iter().filter(|i| i.parse::<ids::Imsi>().is_ok()).cloned().collect();
                let sims = store.sims_among(&scope, &valid).await?;
                let found: std::collections::HashSet<&str> = sims.iter().map(|s| s.sim.imsi.as_str()).collect();
                let missing: Vec<String> = chunk.iter().filter(|i| !found.contains(i.as_str())).cloned().collect();
                (sims, missing, end.to_string(), 0)
            }
            Selection::Filter { imsi_from, imsi_to, status, profile } => {
                let filter = SimFilter {
                    status: *status,
                    profile: profile.clone(),
                    imsi_from: imsi_from.clone(),
                    imsi_to: imsi_to.clone(),
                    ..SimFilter::default()
                };
                let cursor = Some(job.cursor.as_str()).filter(|c| !c.is_empty());
                let sims = store.list_sims(&scope, &filter, cursor, BATCH as i64).await?;
                let Some(last) = sims.last() else { break };
                let next = last.sim.imsi.as_str().to_string();
                let n = sims.len() as i64;
                (sims, vec![], next, n)
            }
        };
        let read = started.elapsed();
        let (mut batch, changed) = plan_batch(&sims, &missing, &change, role, &job.id);
        batch.cursor = next_cursor;
        batch.add_total = add_total;
        let planned = started.elapsed();
        match store.apply_job_batch(&job, &change, &batch).await {
            Ok(()) => {
                tracing::debug!(job = %job.id, items = batch.results.len(), ?read, ?planned, written = ?started.elapsed(), "batch")
            }
            // Someone changed a SIM of this batch meanwhile: read it again and decide afresh.
            Err(StoreError::Conflict(m)) if m == RACE => continue,
            Err(e) => return Err(e.into()),
        }
        for s in &changed {
            match &change {
                JobChange::Status(to) => hss.status_changed(&s.sim, *to),
                JobChange::Profile(_) => hss.profile_changed(&s.sim),
            }
        }
    }
    let job = store.job(job_id).await?.ok_or_else(|| JobError::Plan(format!("job {job_id} vanished")))?;
    if job.state != "cancelled" {
        let state = if job.failed == 0 { "succeeded" } else { "completed_with_errors" };
        store.set_job_state(&job.id, state).await?;
    }
    Ok(store.job(job_id).await?.expect("job exists"))
}
