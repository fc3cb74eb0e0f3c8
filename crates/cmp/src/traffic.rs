//! A SIM's traffic policy (SUB-2, AV-1): what it may reach, worked out from its status, its
//! profile's allowlists, its own overrides and its quarantine ([`effective`]), and the use cases that
//! change it — overrides ([`put_policy`]) and quarantine ([`quarantine`], [`lift_quarantine`]).
//!
//! Like every SIM change, each use case reads the SIM in the actor's scope, writes the change, its
//! event and its audit entry in one transaction, then tells the policy enforcers of this process
//! ([`HssNotifier::policy_changed`]: the PCRF pushes the new rules with RAR).

use ids::{DomainPattern, Imsi, PrefixRule};
use serde::Serialize;
use serde_json::json;
use store::model::{Priority, ServiceProfile, Sim, SimStatus, TrafficMode};
use store::traffic::{OverrideMode, Quarantine, SimPolicy};
use store::Store;

use crate::actor::Actor;
use crate::error::{Error, Result};
use crate::events::EventKind;
use crate::notify::HssNotifier;
use crate::roles::Action;

/// Most entries in one SIM's override lists (each becomes a PCC rule's Flow-Description).
pub const MAX_OVERRIDE_ENTRIES: usize = 256;

/// What a SIM may reach, in order of restriction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Access {
    /// Everything (`traffic = "open"` and no allowlist).
    Open,
    /// Its allowlists (and DNS).
    Restricted,
    /// Only its tenant's management platform (and DNS): quarantined.
    Quarantined,
    /// Only its tenant's management platform (and DNS): packet data barred.
    Barred,
    /// Nothing: the SIM is not active (its sessions are released).
    Blocked,
}

/// A SIM's traffic policy as the PCRF and the DNS firewall enforce it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EffectivePolicy {
    /// What the lists below mean.
    pub traffic: Access,
    /// Reachable prefixes (with [`Access::Open`], empty: everything).
    pub allow_prefixes: Vec<PrefixRule>,
    /// Resolvable names (with [`Access::Open`], empty: every name).
    pub allow_domains: Vec<DomainPattern>,
    /// Predefined PCC rules the profile asks for instead of dynamic ones.
    pub predefined_rules: Vec<String>,
    /// The SIM's priority class (QoS: ARP).
    #[serde(skip)]
    pub priority: Priority,
}

impl EffectivePolicy {
    /// True when every name may be resolved.
    pub fn any_domain(&self) -> bool {
        self.traffic == Access::Open
    }
}

fn merged<T: Clone + PartialEq>(base: Vec<T>, extra: &[T]) -> Vec<T> {
    let mut all = base;
    for e in extra {
        if !all.contains(e) {
            all.push(e.clone());
        }
    }
    all
}

/// The policy of `sim` with its profile and its own overrides.
pub fn effective(sim: &Sim, profile: Option<&ServiceProfile>, own: Option<&SimPolicy>) -> EffectivePolicy {
    let predefined_rules = profile.map(|p| p.predefined_rules.clone()).unwrap_or_default();
    let policy = |traffic, allow_prefixes, allow_domains| EffectivePolicy {
        traffic,
        allow_prefixes,
        allow_domains,
        predefined_rules: predefined_rules.clone(),
        priority: sim.priority,
    };
    if sim.status != SimStatus::Active {
        return policy(Access::Blocked, Vec::new(), Vec::new());
    }
    let quarantined = own.is_some_and(|o| o.quarantine.is_some());
    if quarantined || sim.data_barred {
        let (prefixes, domains) =
            profile.map(|p| (p.quarantine_prefixes.clone(), p.quarantine_domains.clone())).unwrap_or_default();
        let access = if quarantined { Access::Quarantined } else { Access::Barred };
        return policy(access, prefixes, domains);
    }
    let (base_p, base_d) = profile.map(|p| (p.prefixes(), p.domains())).unwrap_or_default();
    let (prefixes, domains) = match own {
        Some(o) if o.mode == OverrideMode::Replace => (o.allow_prefixes.clone(), o.allow_domains.clone()),
        Some(o) => (merged(base_p, &o.allow_prefixes), merged(base_d, &o.allow_domains)),
        None => (base_p, base_d),
    };
    let open = profile.is_some_and(|p| p.traffic == TrafficMode::Open) && prefixes.is_empty() && domains.is_empty();
    policy(if open { Access::Open } else { Access::Restricted }, prefixes, domains)
}

/// A SIM's policy as the platform shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyView {
    /// The SIM.
    pub sim: Sim,
    /// Its own overrides and quarantine (default when it has none).
    pub own: SimPolicy,
    /// What is enforced.
    pub effective: EffectivePolicy,
}

async fn load(store: &Store, actor: &Actor, imsi: &Imsi) -> Result<Sim> {
    Ok(store.sim_in(&actor.scope(), imsi).await?.ok_or_else(|| Error::NotFound(format!("SIM {imsi} not found")))?.sim)
}

async fn profile_of(store: &Store, sim: &Sim) -> Result<Option<ServiceProfile>> {
    Ok(match &sim.profile {
        Some(name) => store.profile(name).await?,
        None => None,
    })
}

/// A SIM's policy, if the SIM is visible to `actor`.
pub async fn view(store: &Store, actor: &Actor, imsi: &Imsi) -> Result<PolicyView> {
    actor.require(Action::Read)?;
    let sim = load(store, actor, imsi).await?;
    let own = store.sim_policy_in(&actor.scope(), imsi).await?.unwrap_or_default();
    let profile = profile_of(store, &sim).await?;
    let effective = effective(&sim, profile.as_ref(), Some(&own));
    Ok(PolicyView { sim, own, effective })
}

/// New overrides for a SIM.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overrides {
    /// How they combine with the profile's lists.
    pub mode: OverrideMode,
    /// Prefixes.
    pub allow_prefixes: Vec<PrefixRule>,
    /// Names.
    pub allow_domains: Vec<DomainPattern>,
}

/// Which part of the policy row a change writes: only that part, so that an allowlist edit and a
/// quarantine made at the same time do not undo each other.
enum Part {
    Lists,
    Quarantine,
}

/// What a change writes besides the policy row.
struct Change<'a> {
    part: Part,
    event: EventKind,
    detail: String,
    action: &'static str,
    before: serde_json::Value,
    after: serde_json::Value,
    sim: &'a Sim,
}

/// Writes `own` with its event and audit entry in one transaction, then tells the enforcers.
async fn commit(
    store: &Store,
    notifier: &dyn HssNotifier,
    actor: &Actor,
    own: &SimPolicy,
    c: Change<'_>,
) -> Result<()> {
    let imsi = &c.sim.imsi;
    let mut tx = store.begin().await?;
    match c.part {
        Part::Lists => tx.set_sim_lists(imsi, &c.sim.tenant, own).await?,
        Part::Quarantine => tx.set_sim_quarantine(imsi, &c.sim.tenant, own.quarantine.as_ref(), own.updated_at).await?,
    }
    tx.record_tenant_event(&c.sim.tenant, Some(imsi.as_str()), &c.event.name(), &c.detail).await?;
    let entry = actor.audit_entry(&c.sim.tenant, c.action, &format!("sim/{imsi}"), c.before, c.after);
    tx.append_audit(&entry).await?;
    tx.commit().await?;
    notifier.policy_changed(imsi);
    Ok(())
}

fn lists_json(p: &SimPolicy) -> serde_json::Value {
    json!({"mode": p.mode, "allow_prefixes": p.allow_prefixes, "allow_domains": p.allow_domains})
}

/// Replaces a SIM's own allowlists.
pub async fn put_policy(
    store: &Store,
    notifier: &dyn HssNotifier,
    actor: &Actor,
    imsi: &Imsi,
    overrides: Overrides,
) -> Result<PolicyView> {
    actor.require(Action::ManageSims)?;
    if overrides.allow_prefixes.len() + overrides.allow_domains.len() > MAX_OVERRIDE_ENTRIES {
        return Err(Error::Invalid(format!("at most {MAX_OVERRIDE_ENTRIES} allowlist entries per SIM")));
    }
    let sim = load(store, actor, imsi).await?;
    let before = store.sim_policy_in(&actor.scope(), imsi).await?.unwrap_or_default();
    let mut own = before.clone();
    own.mode = overrides.mode;
    own.allow_prefixes = overrides.allow_prefixes;
    own.allow_domains = overrides.allow_domains;
    own.updated_at = store::now();
    let detail = format!(
        "{} prefixes, {} names ({})",
        own.allow_prefixes.len(),
        own.allow_domains.len(),
        if own.mode == OverrideMode::Replace { "replace" } else { "extend" }
    );
    let change = Change {
        part: Part::Lists,
        event: EventKind::SimPolicyChanged,
        detail,
        action: "sim.set_policy",
        before: lists_json(&before),
        after: lists_json(&own),
        sim: &sim,
    };
    commit(store, notifier, actor, &own, change).await?;
    view(store, actor, imsi).await
}

/// Puts a SIM in quarantine: only its tenant's management platform stays reachable. Quarantining a
/// quarantined SIM changes and records nothing.
pub async fn quarantine(
    store: &Store,
    notifier: &dyn HssNotifier,
    actor: &Actor,
    imsi: &Imsi,
    reason: &str,
) -> Result<PolicyView> {
    actor.require(Action::ManageSims)?;
    crate::text::check_label("reason", reason, 500)?;
    let sim = load(store, actor, imsi).await?;
    let before = store.sim_policy_in(&actor.scope(), imsi).await?.unwrap_or_default();
    if before.quarantine.is_some() {
        return view(store, actor, imsi).await;
    }
    let mut own = before;
    let now = store::now();
    own.quarantine = Some(Quarantine { since: now, reason: reason.to_string(), by: actor.name() });
    own.updated_at = now;
    let change = Change {
        part: Part::Quarantine,
        event: EventKind::SimQuarantined,
        detail: reason.to_string(),
        action: "sim.quarantine",
        before: json!(null),
        after: json!({"reason": reason}),
        sim: &sim,
    };
    commit(store, notifier, actor, &own, change).await?;
    view(store, actor, imsi).await
}

/// Lifts a SIM's quarantine. Lifting when there is none changes and records nothing.
pub async fn lift_quarantine(
    store: &Store,
    notifier: &dyn HssNotifier,
    actor: &Actor,
    imsi: &Imsi,
) -> Result<PolicyView> {
    actor.require(Action::ManageSims)?;
    let sim = load(store, actor, imsi).await?;
    let before = store.sim_policy_in(&actor.scope(), imsi).await?.unwrap_or_default();
    let Some(q) = before.quarantine.clone() else { return view(store, actor, imsi).await };
    let mut own = before;
    own.quarantine = None;
    own.updated_at = store::now();
    let change = Change {
        part: Part::Quarantine,
        event: EventKind::SimQuarantineLifted,
        detail: format!("quarantined since {} for: {}", q.since, q.reason),
        action: "sim.lift_quarantine",
        before: json!({"reason": q.reason, "since": q.since, "by": q.by}),
        after: json!(null),
        sim: &sim,
    };
    commit(store, notifier, actor, &own, change).await?;
    view(store, actor, imsi).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sim(status: SimStatus, barred: bool) -> Sim {
        Sim {
            imsi: "001010000000001".parse().unwrap(),
            iccid: None,
            msisdn: None,
            eid: None,
            tenant: "acme".into(),
            status,
            priority: Priority::Standard,
            profile: Some("meters".into()),
            algorithm: store::model::AlgorithmSpec::Milenage,
            amf: [0x80, 0],
            bound_imeis: Vec::new(),
            serving: None,
            data_barred: barred,
        }
    }

    fn profile(extra: serde_json::Value) -> ServiceProfile {
        let mut body = json!({"name": "meters", "services": ["data"]});
        body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        serde_json::from_value(body).unwrap()
    }

    fn p(s: &str) -> PrefixRule {
        s.parse().unwrap()
    }

    #[test]
    fn restricted_is_the_default_and_open_needs_empty_lists() {
        let active = sim(SimStatus::Active, false);
        let e = effective(&active, Some(&profile(json!({}))), None);
        assert_eq!((e.traffic, e.allow_prefixes.len()), (Access::Restricted, 0));
        let e = effective(&active, None, None);
        assert_eq!(e.traffic, Access::Restricted);
        let open = profile(json!({"traffic": "open"}));
        assert_eq!(effective(&active, Some(&open), None).traffic, Access::Open);
        let own = SimPolicy { allow_prefixes: vec![p("192.0.2.0/24")], ..SimPolicy::default() };
        assert_eq!(effective(&active, Some(&open), Some(&own)).traffic, Access::Restricted);
    }

    #[test]
    fn overrides_extend_or_replace_and_legacy_entries_count() {
        let active = sim(SimStatus::Active, false);
        let prof = profile(
            json!({"allow_prefixes": ["198.51.100.0/24"], "ip_allowlist": ["203.0.113.7/32", "api.acme.example"]}),
        );
        let own = SimPolicy {
            allow_prefixes: vec![p("192.0.2.0/24:443/tcp"), p("198.51.100.0/24")],
            allow_domains: vec!["*.ota.acme.example".parse().unwrap()],
            ..SimPolicy::default()
        };
        let e = effective(&active, Some(&prof), Some(&own));
        let text: Vec<String> = e.allow_prefixes.iter().map(ToString::to_string).collect();
        assert_eq!(text, ["198.51.100.0/24", "203.0.113.7/32", "192.0.2.0/24:443/tcp"]);
        let names: Vec<String> = e.allow_domains.iter().map(ToString::to_string).collect();
        assert_eq!(names, ["api.acme.example", "*.ota.acme.example"]);
        let replace = SimPolicy { mode: OverrideMode::Replace, ..own };
        let e = effective(&active, Some(&prof), Some(&replace));
        assert_eq!(e.allow_prefixes.len(), 2);
        assert_eq!(e.allow_domains.len(), 1);
    }

    #[test]
    fn quarantine_barring_and_status_restrict_whatever_the_lists_say() {
        let prof = profile(json!({"traffic": "open", "quarantine_prefixes": ["10.9.0.0/16:8443/tcp"]}));
        let q = SimPolicy {
            quarantine: Some(Quarantine { since: 1, reason: "scan".into(), by: "t".into() }),
            allow_prefixes: vec![p("0.0.0.0/0")],
            ..SimPolicy::default()
        };
        let e = effective(&sim(SimStatus::Active, false), Some(&prof), Some(&q));
        assert_eq!(e.traffic, Access::Quarantined);
        assert_eq!(e.allow_prefixes, vec![p("10.9.0.0/16:8443/tcp")]);
        let e = effective(&sim(SimStatus::Active, true), Some(&prof), None);
        assert_eq!((e.traffic, e.allow_prefixes.len()), (Access::Barred, 1));
        let e = effective(&sim(SimStatus::Suspended, false), Some(&prof), None);
        assert_eq!((e.traffic, e.allow_prefixes.len()), (Access::Blocked, 0));
    }
}
