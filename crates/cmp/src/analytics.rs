//! Security analytics, the durable side (issue #17, AV-1, PR-1, SUB-7): what the detection engine
//! found, what the tenant's policy does about it, and what the tenant sees.
//!
//! - [`record_detection`]: the engine's one entry point. Stores the detection (a repeat counts up),
//!   emits `analytics.detection` the first time and whenever the score rises a [`Band`], then applies
//!   the tenant's [`AnalyticsPolicy`]: an alert, a quarantine ([`crate::traffic::quarantine`], pushed
//!   to the PCRF), a suspension ([`crate::sims::change_status`]) or a firmware-update request. A
//!   tenant without a policy gets its detections recorded and nothing done (PR-1). **Critical SIMs
//!   are never cut off automatically: they get an alert instead (SUB-4, DM-5).** Every action is made
//!   by the automated actor `analytics`, audited, and can be undone ([`undo_action`]).
//! - [`set_status`]: acknowledge or resolve; [`policy`] / [`put_policy`]: the tenant's policy
//!   (tenant admins); [`apply_retention`]: deletes what the tenants' retention limits end.
//! - [`health`]: a 0–100 security score of a tenant with its reasons ([`health_score`] documents the
//!   formula); [`dashboard`]: counts for the portal; [`export_stix`]: a STIX 2.1 bundle ([`stix`]).
//!   The last three show devices by keyed [`pseudonym`]s unless the tenant opted out.

pub mod pseudonym;
pub mod stix;

use std::collections::BTreeMap;

use ids::Imsi;
use serde::Serialize;
use serde_json::json;
use store::access::Scope;
use store::analytics::{
    AnalyticsPolicy, Detection, DetectionAction, DetectionCursor, DetectionFilter, DetectionStatus, NewDetection,
};
use store::model::{Priority, SimStatus, TrafficMode};
use store::Store;

use crate::actor::Actor;
use crate::error::{Error, Result};
use crate::events::EventKind;
use crate::notify::HssNotifier;
use crate::roles::Action;
use pseudonym::Pseudonyms;

/// How the audit trail and events name the analytics engine's automated decisions.
pub const ACTOR: &str = "analytics";

/// The automated actor of analytics actions (`automated:analytics` in the audit trail).
pub fn actor() -> Actor {
    Actor::automated(ACTOR)
}

/// Largest evidence (bytes of JSON).
pub const MAX_EVIDENCE: usize = 4096;
/// Keys evidence may not hold, at any depth: payload values never leave the DPI.
pub const FORBIDDEN_EVIDENCE_KEYS: [&str; 5] = ["value", "payload", "match", "matched", "content"];
/// Detections a STIX export holds at most (the newest).
pub const MAX_EXPORT: i64 = 10_000;

/// Defaults of a new policy and of tenants without one.
pub mod defaults {
    /// Detections scoring below this are not acted on.
    pub const MIN_SCORE: f64 = 0.5;
    /// Days detections are kept after they were last seen.
    pub const DETECTIONS_DAYS: i64 = 90;
    /// Days flow summaries are kept.
    pub const FLOWS_DAYS: i64 = 30;
    /// Days the DNS query log is kept.
    pub const DNS_DAYS: i64 = 30;
    /// Longest retention a policy may ask for (about two years).
    pub const MAX_DAYS: i64 = 730;
}

/// A score band: an event is emitted when a detection enters a higher one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Band {
    /// Below 0.5.
    Low,
    /// 0.5 to below 0.75.
    Medium,
    /// 0.75 to below 0.9.
    High,
    /// 0.9 and above.
    Critical,
}

impl Band {
    /// The band of `score`.
    pub fn of(score: f64) -> Band {
        match score {
            s if s >= 0.9 => Band::Critical,
            s if s >= 0.75 => Band::High,
            s if s >= 0.5 => Band::Medium,
            _ => Band::Low,
        }
    }

    /// The name.
    pub fn as_str(self) -> &'static str {
        match self {
            Band::Low => "low",
            Band::Medium => "medium",
            Band::High => "high",
            Band::Critical => "critical",
        }
    }
}

/// What the engine found, as it reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// Stable id: the same finding again has the same id (1–128 of `A-Za-z0-9._:-`).
    pub id: String,
    /// The SIM's tenant (checked against the SIM).
    pub tenant: String,
    /// The SIM.
    pub imsi: Imsi,
    /// What was found (`[a-z0-9_]{1,48}`: `scanning`, `volume_spike`, `imei_change`, …).
    pub kind: String,
    /// How sure, 0.0–1.0.
    pub score: f64,
    /// What was seen (a JSON object, at most [`MAX_EVIDENCE`] bytes, none of
    /// [`FORBIDDEN_EVIDENCE_KEYS`]): counts, ports, destinations, positions of a DPI finding — never
    /// the matched value.
    pub evidence: serde_json::Value,
    /// Unix seconds.
    pub at: i64,
}

/// What [`record_detection`] did.
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    /// The detection as stored now.
    pub detection: Detection,
    /// True the first time this id was reported.
    pub new: bool,
    /// True when an `analytics.detection` event was emitted (new, or the score rose a band).
    pub announced: bool,
    /// The action taken by this report, if any.
    pub action: Option<DetectionAction>,
}

fn check_kind(kind: &str) -> Result<()> {
    let ok = (1..=48).contains(&kind.len())
        && kind.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(Error::Invalid(format!("detection kind {kind:?}: 1–48 of a-z, 0-9 and _")))
    }
}

fn check_id(id: &str) -> Result<()> {
    let ok = (1..=128).contains(&id.len())
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(Error::Invalid(format!("detection id {id:?}: 1–128 of A-Z, a-z, 0-9 and . _ : -")))
    }
}

fn forbidden_key(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::Object(o) => o.iter().find_map(|(k, x)| {
            if FORBIDDEN_EVIDENCE_KEYS.contains(&k.to_ascii_lowercase().as_str()) {
                Some(k.clone())
            } else {
                forbidden_key(x)
            }
        }),
        serde_json::Value::Array(a) => a.iter().find_map(forbidden_key),
        _ => None,
    }
}

fn check_finding(f: &Finding) -> Result<String> {
    check_id(&f.id)?;
    check_kind(&f.kind)?;
    if !(f.score.is_finite() && (0.0..=1.0).contains(&f.score)) {
        return Err(Error::Invalid(format!("score {} is not within 0.0–1.0", f.score)));
    }
    if !f.evidence.is_object() {
        return Err(Error::Invalid("evidence must be a JSON object".into()));
    }
    if let Some(k) = forbidden_key(&f.evidence) {
        return Err(Error::Invalid(format!("evidence may not hold {k:?}: payload values never leave the DPI")));
    }
    let text = f.evidence.to_string();
    if text.len() > MAX_EVIDENCE {
        return Err(Error::Invalid(format!("evidence of {} bytes (at most {MAX_EVIDENCE})", text.len())));
    }
    Ok(text)
}

/// Kinds a policy's `default_action` never blocks for: they say what a device sends, not that it is
/// compromised (personal data in clear). Unless the policy names the kind in `actions`, a blocking
/// default (quarantine, suspend, firmware update) becomes an alert.
pub const ALERT_UNLESS_NAMED: [&str; 1] = ["personal_data"];

/// The action a policy asks for `d` (before the critical-SIM rule).
fn wanted(policy: Option<&AnalyticsPolicy>, d: &Detection) -> DetectionAction {
    match policy {
        None => DetectionAction::None,
        Some(_) if d.status == DetectionStatus::Resolved => DetectionAction::None,
        Some(p) if d.score < p.min_score => DetectionAction::None,
        Some(p) => match p.actions.get(&d.kind) {
            Some(named) => *named,
            None if ALERT_UNLESS_NAMED.contains(&d.kind.as_str()) && p.default_action != DetectionAction::None => {
                DetectionAction::Alert
            }
            None => p.default_action,
        },
    }
}

/// Records what the engine found and applies the tenant's policy (see the module's documentation).
/// A detection is acted on once: a later report with a higher score acts only if the earlier ones
/// did not (their score was below the policy's threshold).
pub async fn record_detection(store: &Store, notifier: &dyn HssNotifier, f: &Finding) -> Result<Recorded> {
    let evidence = check_finding(f)?;
    let Some(managed) = store.sim_in(&Scope::Operator, &f.imsi).await? else {
        return Err(Error::NotFound(format!("SIM {} not found", f.imsi)));
    };
    let sim = managed.sim;
    if sim.tenant != f.tenant {
        return Err(Error::Invalid(format!("SIM {} is not of tenant {}", f.imsi, f.tenant)));
    }
    let report = NewDetection {
        id: f.id.clone(),
        tenant: f.tenant.clone(),
        imsi: f.imsi.to_string(),
        kind: f.kind.clone(),
        score: f.score,
        evidence,
        at: f.at,
    };
    let mut tx = store.begin().await?;
    let before = tx.detection(&f.id).await?;
    let d = tx.upsert_detection(&report).await.map_err(|e| match e {
        store::StoreError::Conflict(m) => Error::Conflict(m),
        other => other.into(),
    })?;
    let new = before.is_none();
    let announced = before.as_ref().is_none_or(|b| Band::of(d.score) > Band::of(b.score));
    if announced {
        let band = Band::of(d.score);
        let detail = format!("{} score {:.2} ({}), detection {} ({ACTOR})", d.kind, d.score, band.as_str(), d.id);
        tx.record_tenant_event(&d.tenant, Some(&d.imsi), &EventKind::AnalyticsDetection.name(), &detail).await?;
    }
    tx.commit().await?;

    let mut recorded = Recorded { detection: d, new, announced, action: None };
    if recorded.detection.action != DetectionAction::None {
        return Ok(recorded);
    }
    let policy = store.analytics_policy(&f.tenant).await?;
    let want = wanted(policy.as_ref(), &recorded.detection);
    if want == DetectionAction::None {
        return Ok(recorded);
    }
    let taken = act(store, notifier, &recorded.detection, &sim, want).await?;
    if let Some(d) = store.detection_in(&Scope::Operator, &f.id).await? {
        recorded.detection = d;
    }
    recorded.action = taken;
    Ok(recorded)
}

/// Why an action became an alert.
fn downgrade(sim: &store::model::Sim, want: DetectionAction, quarantined: bool) -> Option<String> {
    if want == DetectionAction::Alert {
        return None;
    }
    if sim.priority == Priority::Critical {
        return Some(format!("{} not taken: critical SIMs are never cut off automatically", want.as_str()));
    }
    match want {
        DetectionAction::Quarantine | DetectionAction::Suspend if sim.status != SimStatus::Active => {
            Some(format!("{} not taken: the SIM is {}", want.as_str(), sim.status))
        }
        DetectionAction::Quarantine if quarantined => {
            Some("quarantine not taken: the SIM is quarantined already".into())
        }
        _ => None,
    }
}

/// Takes `want` for `d` (or an alert instead), records it on the detection with its event and audit
/// entry; `None` when another instance acted first.
async fn act(
    store: &Store,
    notifier: &dyn HssNotifier,
    d: &Detection,
    sim: &store::model::Sim,
    want: DetectionAction,
) -> Result<Option<DetectionAction>> {
    let quarantined = store.sim_policy(&sim.imsi).await?.is_some_and(|p| p.quarantine.is_some());
    let why_not = downgrade(sim, want, quarantined);
    let action = if why_not.is_some() { DetectionAction::Alert } else { want };
    let who = actor();
    let reason = format!("analytics: {} score {:.2}, detection {}", d.kind, d.score, d.id);
    // The SIM change first, through its own use case (its event, audit entry and the PCRF or HSS
    // told); then the detection records it. Both changes are idempotent or guarded, so two instances
    // acting at once change the SIM once.
    let before = match action {
        DetectionAction::Quarantine => {
            crate::traffic::quarantine(store, notifier, &who, &sim.imsi, &reason).await?;
            Some(json!({"quarantined": false}))
        }
        DetectionAction::Suspend => {
            crate::sims::change_status(store, notifier, &who, &sim.imsi, SimStatus::Suspended).await?;
            Some(json!({"status": sim.status.as_str()}))
        }
        _ => None,
    };
    let now = store::now();
    let before_text = before.as_ref().map(ToString::to_string);
    let mut tx = store.begin().await?;
    if !tx.set_detection_action(&d.id, action, &who.name(), before_text.as_deref(), now).await? {
        return Ok(None);
    }
    let (kind, detail) = match (&why_not, action) {
        (Some(w), _) => (EventKind::AnalyticsAlert, format!("{w}; {reason}")),
        (None, DetectionAction::Alert) => (EventKind::AnalyticsAlert, reason.clone()),
        (None, DetectionAction::FirmwareUpdate) => {
            (EventKind::AnalyticsAction, format!("firmware update requested; {reason}"))
        }
        (None, a) => (EventKind::AnalyticsAction, format!("{}; {reason}", a.as_str())),
    };
    tx.record_tenant_event(&d.tenant, Some(&d.imsi), &kind.name(), &format!("{detail} ({ACTOR})")).await?;
    let after = json!({"action": action, "wanted": want, "not_taken": why_not, "score": d.score, "kind": d.kind});
    tx.append_audit(&who.audit_entry(&d.tenant, "analytics.act", &format!("detection/{}", d.id), before, after))
        .await?;
    tx.commit().await?;
    Ok(Some(action))
}

async fn visible(store: &Store, actor: &Actor, id: &str) -> Result<Detection> {
    store.detection_in(&actor.scope(), id).await?.ok_or_else(|| Error::NotFound(format!("detection {id} not found")))
}

/// A detection, if visible to `actor` (another tenant's reads as not found).
pub async fn get(store: &Store, actor: &Actor, id: &str) -> Result<Detection> {
    actor.require(Action::Read)?;
    visible(store, actor, id).await
}

/// Detections visible to `actor`, newest first (see [`Store::list_detections`]).
pub async fn list(
    store: &Store,
    actor: &Actor,
    filter: &DetectionFilter,
    cursor: Option<&DetectionCursor>,
    limit: i64,
) -> Result<Vec<Detection>> {
    actor.require(Action::Read)?;
    Ok(store.list_detections(&actor.scope(), filter, cursor, limit).await?)
}

/// Acknowledges or resolves a detection (or opens it again), with its event and audit entry.
pub async fn set_status(store: &Store, actor: &Actor, id: &str, status: DetectionStatus) -> Result<Detection> {
    actor.require(Action::ManageSims)?;
    let d = visible(store, actor, id).await?;
    if d.status == status {
        return Ok(d);
    }
    let mut tx = store.begin().await?;
    if !tx.set_detection_status(&actor.scope(), id, status, &actor.name(), store::now()).await? {
        return Err(Error::NotFound(format!("detection {id} not found")));
    }
    let detail = format!("{} → {} ({}, detection {id})", d.status.as_str(), status.as_str(), d.kind);
    tx.record_tenant_event(&d.tenant, Some(&d.imsi), &EventKind::AnalyticsStatusChanged.name(), &detail).await?;
    let entry = actor.audit_entry(&d.tenant, "analytics.set_status", &format!("detection/{id}"), d.status, status);
    tx.append_audit(&entry).await?;
    tx.commit().await?;
    visible(store, actor, id).await
}

/// Undoes what the policy did about a detection: lifts the quarantine analytics put on the SIM,
/// restores the status it had before a suspension (if the SIM is still suspended), withdraws a
/// firmware-update request. The SIM changes are made by `actor` through their own use cases (their
/// events and audit entries); the undo itself is audited and announced (`analytics.action_undone`).
/// A quarantine or suspension someone else made since is left alone.
pub async fn undo_action(store: &Store, notifier: &dyn HssNotifier, actor: &Actor, id: &str) -> Result<Detection> {
    actor.require(Action::ManageSims)?;
    let d = visible(store, actor, id).await?;
    if matches!(d.action, DetectionAction::None | DetectionAction::Alert) {
        return Err(Error::Refused(format!("detection {id}: nothing to undo (action {})", d.action.as_str())));
    }
    if d.action_undone_at.is_some() {
        return Err(Error::Refused(format!("detection {id}: its action was undone already")));
    }
    let imsi: Imsi = d.imsi.parse().map_err(|e| Error::Internal(format!("stored IMSI {}: {e}", d.imsi)))?;
    let mut restored = json!(null);
    match d.action {
        DetectionAction::Quarantine => {
            let own = store.sim_policy_in(&actor.scope(), &imsi).await?;
            if own.and_then(|o| o.quarantine).is_some_and(|q| q.by == self::actor().name()) {
                crate::traffic::lift_quarantine(store, notifier, actor, &imsi).await?;
                restored = json!({"quarantined": false});
            }
        }
        DetectionAction::Suspend => {
            let previous = d
                .action_before
                .as_deref()
                .and_then(|b| serde_json::from_str::<serde_json::Value>(b).ok())
                .and_then(|v| v["status"].as_str().and_then(|s| s.parse::<SimStatus>().ok()))
                .unwrap_or(SimStatus::Active);
            let sim = store.sim_in(&actor.scope(), &imsi).await?.map(|m| m.sim);
            if sim.is_some_and(|s| s.status == SimStatus::Suspended) && previous != SimStatus::Suspended {
                crate::sims::change_status(store, notifier, actor, &imsi, previous).await?;
                restored = json!({"status": previous.as_str()});
            }
        }
        _ => {}
    }
    let mut tx = store.begin().await?;
    if !tx.set_detection_undone(&actor.scope(), id, &actor.name(), store::now()).await? {
        return Err(Error::Conflict(format!("detection {id}")));
    }
    let detail = format!("{} undone (detection {id}, {})", d.action.as_str(), d.kind);
    tx.record_tenant_event(&d.tenant, Some(&d.imsi), &EventKind::AnalyticsActionUndone.name(), &detail).await?;
    let before = json!({"action": d.action, "at": d.action_at, "by": d.action_by});
    let after = json!({"undone": true, "restored": restored});
    tx.append_audit(&actor.audit_entry(&d.tenant, "analytics.undo", &format!("detection/{id}"), before, after)).await?;
    tx.commit().await?;
    visible(store, actor, id).await
}

/// A tenant's policy as shown: the stored one, or — when the tenant agreed to none — what applies
/// without one (no action, pseudonyms, default retention, no payload inspection).
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyView {
    /// The policy in force.
    pub policy: AnalyticsPolicy,
    /// False when the tenant has no policy of its own.
    pub agreed: bool,
}

/// What applies to a tenant without a policy (PR-1): detections recorded, no automatic action,
/// pseudonymised views, default retention; the engine uses what the operator's network sees (flows,
/// DNS, signalling) but inspects no payload.
pub fn without_agreement(tenant: &str) -> AnalyticsPolicy {
    AnalyticsPolicy {
        tenant: tenant.to_string(),
        actions: BTreeMap::new(),
        default_action: DetectionAction::None,
        min_score: defaults::MIN_SCORE,
        pseudonymise: true,
        detections_days: defaults::DETECTIONS_DAYS,
        flows_days: defaults::FLOWS_DAYS,
        dns_days: defaults::DNS_DAYS,
        use_flows: true,
        use_dns: true,
        use_signalling: true,
        use_payload: false,
        updated_at: 0,
        updated_by: String::new(),
    }
}

/// The policy of `tenant` (for the engine: which inputs it may use, which retention applies).
pub async fn policy_of(store: &Store, tenant: &str) -> Result<PolicyView> {
    Ok(match store.analytics_policy(tenant).await? {
        Some(policy) => PolicyView { policy, agreed: true },
        None => PolicyView { policy: without_agreement(tenant), agreed: false },
    })
}

/// The caller's tenant's policy (tenant admins; operator admins name the tenant).
pub async fn policy(store: &Store, actor: &Actor, tenant: Option<&str>) -> Result<PolicyView> {
    actor.require(Action::ManageAccess)?;
    let tenant = actor.target_tenant(tenant)?;
    if !store.tenant_exists(&tenant).await? {
        return Err(Error::NotFound(format!("tenant {tenant} not found")));
    }
    policy_of(store, &tenant).await
}

/// A new policy; what is left out gets the default of a first agreement: alerts only, at score 0.5,
/// pseudonyms, default retention, no payload inspection.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PolicyInput {
    /// The action per detection kind.
    pub actions: BTreeMap<String, DetectionAction>,
    /// The action of other kinds (default `alert`).
    pub default_action: Option<DetectionAction>,
    /// Least score that acts (default 0.5).
    pub min_score: Option<f64>,
    /// Pseudonyms in dashboards and exports (default true).
    pub pseudonymise: Option<bool>,
    /// Days detections are kept (default 90).
    pub detections_days: Option<i64>,
    /// Days flow summaries are kept (default 30).
    pub flows_days: Option<i64>,
    /// Days the DNS log is kept (default 30).
    pub dns_days: Option<i64>,
    /// May the engine use flows (default true)?
    pub use_flows: Option<bool>,
    /// DNS queries (default true)?
    pub use_dns: Option<bool>,
    /// Signalling (default true)?
    pub use_signalling: Option<bool>,
    /// Payload samples (DPI; default false)?
    pub use_payload: Option<bool>,
}

/// Most kinds a policy names.
const MAX_POLICY_KINDS: usize = 64;

/// Sets the caller's tenant's policy (tenant admins; operator admins name the tenant), audited.
pub async fn put_policy(store: &Store, actor: &Actor, tenant: Option<&str>, input: PolicyInput) -> Result<PolicyView> {
    actor.require(Action::ManageAccess)?;
    let tenant = actor.target_tenant(tenant)?;
    if !store.tenant_exists(&tenant).await? {
        return Err(Error::NotFound(format!("tenant {tenant} not found")));
    }
    if input.actions.len() > MAX_POLICY_KINDS {
        return Err(Error::Invalid(format!("at most {MAX_POLICY_KINDS} kinds in a policy")));
    }
    for k in input.actions.keys() {
        check_kind(k)?;
    }
    let min_score = input.min_score.unwrap_or(defaults::MIN_SCORE);
    if !(min_score.is_finite() && (0.0..=1.0).contains(&min_score)) {
        return Err(Error::Invalid(format!("min_score {min_score} is not within 0.0–1.0")));
    }
    let days = |name: &str, v: Option<i64>, default: i64| -> Result<i64> {
        match v.unwrap_or(default) {
            d @ 1..=defaults::MAX_DAYS => Ok(d),
            d => Err(Error::Invalid(format!("{name} {d}: 1–{} days", defaults::MAX_DAYS))),
        }
    };
    let p = AnalyticsPolicy {
        tenant: tenant.clone(),
        actions: input.actions,
        default_action: input.default_action.unwrap_or(DetectionAction::Alert),
        min_score,
        pseudonymise: input.pseudonymise.unwrap_or(true),
        detections_days: days("detections_days", input.detections_days, defaults::DETECTIONS_DAYS)?,
        flows_days: days("flows_days", input.flows_days, defaults::FLOWS_DAYS)?,
        dns_days: days("dns_days", input.dns_days, defaults::DNS_DAYS)?,
        use_flows: input.use_flows.unwrap_or(true),
        use_dns: input.use_dns.unwrap_or(true),
        use_signalling: input.use_signalling.unwrap_or(true),
        use_payload: input.use_payload.unwrap_or(false),
        updated_at: store::now(),
        updated_by: actor.name(),
    };
    let before = store.analytics_policy(&tenant).await?;
    let mut tx = store.begin().await?;
    tx.put_analytics_policy(&p).await?;
    let shown = |p: &AnalyticsPolicy| {
        let mut v = serde_json::to_value(p).unwrap_or_default();
        if let Some(o) = v.as_object_mut() {
            o.remove("updated_at");
            o.remove("updated_by");
        }
        v
    };
    let entry = actor.audit_entry(
        &tenant,
        "analytics.set_policy",
        &format!("tenant/{tenant}"),
        before.as_ref().map(shown),
        shown(&p),
    );
    tx.append_audit(&entry).await?;
    tx.commit().await?;
    Ok(PolicyView { policy: p, agreed: true })
}

/// What [`apply_retention`] deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    /// Detections.
    pub detections: u64,
    /// DNS queries.
    pub dns_queries: u64,
}

/// Deletes the detections each tenant's retention ends (tenants without a policy: the default
/// days), and the DNS queries of tenants whose policy names a DNS retention. Quarantines and
/// suspensions still in force keep their detection. Flow summaries belong to the engine, which reads
/// `flows_days` through [`policy_of`]. `warden serve` runs it hourly.
pub async fn apply_retention(store: &Store, now: i64) -> Result<Pruned> {
    let mut pruned = Pruned::default();
    let policies = store.analytics_policies().await?;
    let mut cursor: Option<String> = None;
    loop {
        let tenants = store.list_tenants(cursor.as_deref(), 500).await?;
        let Some((last, _)) = tenants.last() else { break };
        cursor = Some(last.clone());
        for (tenant, _) in &tenants {
            let p = policies.iter().find(|p| &p.tenant == tenant);
            let days = p.map_or(defaults::DETECTIONS_DAYS, |p| p.detections_days);
            pruned.detections += store.prune_detections(Some(tenant), now - days * 86_400).await?;
            if let Some(p) = p {
                pruned.dns_queries += store.prune_dns_queries(Some(tenant), (now - p.dns_days * 86_400) * 1000).await?;
            }
        }
    }
    Ok(pruned)
}

/// A reason of the health score.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reason {
    /// Stable code: `detections:<kind>`, `open_traffic`, `quarantined`.
    pub code: String,
    /// Points taken off.
    pub penalty: u32,
    /// In words.
    pub text: String,
}

/// A risk: detections of one kind not resolved.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Risk {
    /// The kind.
    pub kind: String,
    /// How many.
    pub detections: i64,
    /// Their highest score.
    pub max_score: f64,
}

/// A device with detections not resolved.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TopDevice {
    /// Its keyed pseudonym (or IMSI when the tenant opted out).
    pub device: String,
    /// Detections not resolved.
    pub detections: i64,
    /// Their highest score.
    pub max_score: f64,
}

/// A tenant's security health check.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Health {
    /// The tenant.
    pub tenant: String,
    /// 0 (bad) – 100 (nothing found, everything restricted).
    pub score: u32,
    /// Why points were taken off, largest first.
    pub reasons: Vec<Reason>,
    /// Detection kinds by the points they cost, at most five.
    pub top_risks: Vec<Risk>,
    /// Devices with the most serious detections, at most five.
    pub top_devices: Vec<TopDevice>,
    /// Active SIMs.
    pub active_sims: i64,
    /// Active SIMs whose effective traffic policy is `open`.
    pub open_sims: i64,
    /// Active SIMs in quarantine.
    pub quarantined_sims: i64,
    /// True when devices are shown by pseudonym.
    pub pseudonymised: bool,
}

/// Points per unit of score of a detection not resolved.
pub const POINTS_PER_SCORE: f64 = 10.0;
/// Most points one detection kind costs.
pub const MAX_KIND_PENALTY: f64 = 20.0;
/// Most points detections cost together.
pub const MAX_DETECTIONS_PENALTY: u32 = 60;
/// Points when every active SIM is open.
pub const OPEN_TRAFFIC_POINTS: f64 = 25.0;
/// Points when every active SIM is quarantined.
pub const QUARANTINE_POINTS: f64 = 15.0;

/// The health score (docs/analytics-actions.md): 100 less
/// - per detection kind not resolved: 10 × the sum of its scores, at most 20 a kind, at most 60 for
///   all kinds together;
/// - 25 × the share of active SIMs whose traffic is `open` (no allowlist at all);
/// - 15 × the share of active SIMs in quarantine (contained, but compromised);
///
/// rounded, never below 0. Returns the score, the reasons and the risks by penalty.
pub fn health_score(
    kinds: &[store::analytics::KindSummary],
    active: i64,
    open: i64,
    quarantined: i64,
) -> (u32, Vec<Reason>, Vec<Risk>) {
    let mut reasons = Vec::new();
    let mut risks: Vec<(u32, Risk)> = Vec::new();
    let mut detections = 0u32;
    for k in kinds {
        let penalty = (POINTS_PER_SCORE * k.score_sum).min(MAX_KIND_PENALTY).round() as u32;
        detections += penalty;
        risks.push((penalty, Risk { kind: k.kind.clone(), detections: k.count, max_score: k.max_score }));
        if penalty > 0 {
            reasons.push(Reason {
                code: format!("detections:{}", k.kind),
                penalty,
                text: format!("{} {} detection(s) not resolved, highest score {:.2}", k.count, k.kind, k.max_score),
            });
        }
    }
    if detections > MAX_DETECTIONS_PENALTY {
        // Scale each kind's share so the reasons add up to the cap.
        let scale = f64::from(MAX_DETECTIONS_PENALTY) / f64::from(detections);
        for r in &mut reasons {
            r.penalty = (f64::from(r.penalty) * scale).floor() as u32;
        }
        detections = reasons.iter().map(|r| r.penalty).sum();
    }
    let share = |n: i64| if active > 0 { n as f64 / active as f64 } else { 0.0 };
    let open_penalty = (OPEN_TRAFFIC_POINTS * share(open)).round() as u32;
    if open_penalty > 0 {
        reasons.push(Reason {
            code: "open_traffic".into(),
            penalty: open_penalty,
            text: format!("{open} of {active} active SIMs may reach any destination (no allowlist)"),
        });
    }
    let q_penalty = (QUARANTINE_POINTS * share(quarantined)).round() as u32;
    if q_penalty > 0 {
        reasons.push(Reason {
            code: "quarantined".into(),
            penalty: q_penalty,
            text: format!("{quarantined} of {active} active SIMs are quarantined"),
        });
    }
    reasons.sort_by(|a, b| b.penalty.cmp(&a.penalty).then_with(|| a.code.cmp(&b.code)));
    let score = 100u32.saturating_sub(detections + open_penalty + q_penalty);
    risks.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.kind.cmp(&b.1.kind)));
    (score, reasons, risks.into_iter().take(5).map(|(_, r)| r).collect())
}

/// Active SIMs of `tenant` whose effective traffic policy is `open`: on a profile with
/// `traffic = "open"` and no allowlist, without allowlists of their own, not barred, not quarantined.
async fn open_sims(store: &Store, counts: &store::analytics::PostureCounts) -> Result<i64> {
    let mut open = 0;
    for (profile, n) in &counts.unrestricted_by_profile {
        let Some(name) = profile else { continue };
        if let Some(p) = store.profile(name).await? {
            if p.traffic == TrafficMode::Open && p.prefixes().is_empty() && p.domains().is_empty() {
                open += n;
            }
        }
    }
    Ok(open)
}

/// The tenant a view is of: the caller's own; operator admins name one.
async fn view_tenant(store: &Store, actor: &Actor, tenant: Option<&str>) -> Result<String> {
    actor.require(Action::Read)?;
    let tenant = actor.target_tenant(tenant)?;
    if !store.tenant_exists(&tenant).await? {
        return Err(Error::NotFound(format!("tenant {tenant} not found")));
    }
    Ok(tenant)
}

/// The security health check of the caller's tenant (operator admins name one).
pub async fn health(store: &Store, actor: &Actor, tenant: Option<&str>) -> Result<Health> {
    let tenant = view_tenant(store, actor, tenant).await?;
    let scope = Scope::Tenant(tenant.clone());
    let kinds = store.unresolved_detections_by_kind(&scope).await?;
    let counts = store.posture_counts(&tenant).await?;
    let open = open_sims(store, &counts).await?;
    let (score, reasons, top_risks) = health_score(&kinds, counts.active, open, counts.quarantined);
    let names = Pseudonyms::of_tenant(store, &tenant).await?;
    let top_devices = store
        .top_detected_devices(&scope, 0, 5)
        .await?
        .into_iter()
        .map(|t| TopDevice { device: names.imsi(&t.imsi), detections: t.detections, max_score: t.max_score })
        .collect();
    Ok(Health {
        tenant,
        score,
        reasons,
        top_risks,
        top_devices,
        active_sims: counts.active,
        open_sims: open,
        quarantined_sims: counts.quarantined,
        pseudonymised: names.enabled(),
    })
}

/// Detections of one kind first seen on one day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DayCount {
    /// The day, `YYYY-MM-DD` (UTC).
    pub day: String,
    /// The kind.
    pub kind: String,
    /// How many.
    pub count: i64,
}

/// Actions of one kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ActionCount {
    /// The action.
    pub action: DetectionAction,
    /// Taken.
    pub count: i64,
    /// Of which undone.
    pub undone: i64,
}

/// The portal's analytics dashboard of a tenant.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Dashboard {
    /// The tenant.
    pub tenant: String,
    /// Days covered (up to today).
    pub days: i64,
    /// Detections first seen per day and kind.
    pub by_kind_day: Vec<DayCount>,
    /// Devices with the most serious detections not resolved (at most ten).
    pub top_devices: Vec<TopDevice>,
    /// Actions taken.
    pub actions: Vec<ActionCount>,
    /// True when devices are shown by pseudonym.
    pub pseudonymised: bool,
}

/// The dashboard of the caller's tenant over the last `days` (1–366).
pub async fn dashboard(store: &Store, actor: &Actor, tenant: Option<&str>, days: i64) -> Result<Dashboard> {
    if !(1..=366).contains(&days) {
        return Err(Error::Invalid(format!("days {days}: 1–366")));
    }
    let tenant = view_tenant(store, actor, tenant).await?;
    let scope = Scope::Tenant(tenant.clone());
    let since = (store::now() / 86_400 - days + 1) * 86_400;
    let names = Pseudonyms::of_tenant(store, &tenant).await?;
    let by_kind_day = store
        .detections_by_kind_and_day(&scope, since)
        .await?
        .into_iter()
        .map(|k| DayCount { day: utc::date(k.day * 86_400).unwrap_or_default(), kind: k.kind, count: k.count })
        .collect();
    let top_devices = store
        .top_detected_devices(&scope, since, 10)
        .await?
        .into_iter()
        .map(|t| TopDevice { device: names.imsi(&t.imsi), detections: t.detections, max_score: t.max_score })
        .collect();
    let actions = store
        .detection_action_counts(&scope, since)
        .await?
        .into_iter()
        .map(|(action, count, undone)| ActionCount { action, count, undone })
        .collect();
    Ok(Dashboard { tenant, days, by_kind_day, top_devices, actions, pseudonymised: names.enabled() })
}

/// The caller's tenant's detections (the newest [`MAX_EXPORT`]) as a STIX 2.1 bundle, devices
/// pseudonymised unless the tenant opted out.
pub async fn export_stix(store: &Store, actor: &Actor, tenant: Option<&str>) -> Result<serde_json::Value> {
    let tenant = view_tenant(store, actor, tenant).await?;
    let scope = Scope::Tenant(tenant.clone());
    let mut all: Vec<Detection> = Vec::new();
    let mut cursor: Option<DetectionCursor> = None;
    while (all.len() as i64) < MAX_EXPORT {
        let page = store
            .list_detections(
                &scope,
                &DetectionFilter::default(),
                cursor.as_ref(),
                1000.min(MAX_EXPORT - all.len() as i64),
            )
            .await?;
        let Some(last) = page.last() else { break };
        cursor = Some(DetectionCursor { last_seen: last.last_seen, id: last.id.clone() });
        let full = page.len() == 1000;
        all.extend(page);
        if !full {
            break;
        }
    }
    let names = Pseudonyms::of_tenant(store, &tenant).await?;
    Ok(stix::bundle(&tenant, &all, &names, store::now()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use store::analytics::KindSummary;

    fn kind(k: &str, n: i64, sum: f64) -> KindSummary {
        KindSummary { kind: k.into(), count: n, max_score: sum.min(1.0), score_sum: sum }
    }

    #[test]
    fn bands_rise_at_documented_scores() {
        assert_eq!(Band::of(0.49), Band::Low);
        assert_eq!(Band::of(0.5), Band::Medium);
        assert_eq!(Band::of(0.75), Band::High);
        assert_eq!(Band::of(0.9), Band::Critical);
        assert!(Band::of(0.95) > Band::of(0.8));
    }

    #[test]
    fn health_is_100_less_documented_penalties() {
        assert_eq!(health_score(&[], 10, 0, 0).0, 100);
        assert_eq!(health_score(&[], 0, 0, 0).0, 100, "no SIMs: nothing to take off");
        // One scanning detection at 0.8: 8 points; 2 of 10 SIMs open: 5; 1 of 10 quarantined: 1.5 → 2.
        let (score, reasons, risks) = health_score(&[kind("scanning", 1, 0.8)], 10, 2, 1);
        assert_eq!(score, 100 - 8 - 5 - 2);
        let codes: Vec<(&str, u32)> = reasons.iter().map(|r| (r.code.as_str(), r.penalty)).collect();
        assert_eq!(codes, [("detections:scanning", 8), ("open_traffic", 5), ("quarantined", 2)]);
        assert_eq!(risks[0].kind, "scanning");
        // A kind costs at most 20; all detections together at most 60.
        let many: Vec<KindSummary> = (0..5).map(|i| kind(&format!("k{i}"), 9, 9.0)).collect();
        let (score, reasons, risks) = health_score(&many, 10, 10, 10);
        assert_eq!(reasons.iter().filter(|r| r.code.starts_with("detections:")).map(|r| r.penalty).sum::<u32>(), 60);
        assert_eq!(score, 0, "100 - 60 - 25 - 15");
        assert_eq!(risks.len(), 5);
    }

    #[test]
    fn findings_are_checked_before_anything_is_written() {
        let f = Finding {
            id: "d-1".into(),
            tenant: "acme".into(),
            imsi: "001010000000001".parse().unwrap(),
            kind: "personal_data".into(),
            score: 0.9,
            evidence: json!({"pattern": "card", "offset": 42}),
            at: 1,
        };
        assert!(check_finding(&f).is_ok());
        for bad in [
            Finding { id: "a b".into(), ..f.clone() },
            Finding { kind: "Scan".into(), ..f.clone() },
            Finding { score: 1.5, ..f.clone() },
            Finding { score: f64::NAN, ..f.clone() },
            Finding { evidence: json!([1]), ..f.clone() },
            Finding { evidence: json!({"hits": [{"Value": "4111111111111111"}]}), ..f.clone() },
            Finding { evidence: json!({"x": "y".repeat(MAX_EVIDENCE)}), ..f.clone() },
        ] {
            assert!(matches!(check_finding(&bad), Err(Error::Invalid(_))), "{bad:?}");
        }
    }
}
