//! The driver of the tenant rules: each [`RuleEngine::tick`] reads what happened since the last one
//! (registrations from the store, busy subscribers from the HSS's counters), asks [`evaluate`] for
//! decisions and carries them out through the one path of SIM changes ([`crate::sims`]) as an
//! automated actor. `warden serve` ticks it every second; tests tick it themselves.

use std::collections::HashMap;

use ids::{Imei, Imsi};
use store::access::Scope;
use store::Store;

use super::evaluate::{evaluate, lowest_signalling_limit, Busy, Decision, Facts, Memory, Registered, SimFacts};
use super::{Enforcement, Rule};
use crate::actor::Actor;
use crate::error::Result;
use crate::events::EventKind;
use crate::notify::HssNotifier;
use crate::sims;

/// Where the engine gets signalling counts: IMSIs with at least `min` AIR+ULR in their current hour
/// (IMSI, window start, count).
pub trait SignallingSource: Send + Sync + 'static {
    /// The busy subscribers.
    fn at_least(&self, min: u32) -> Vec<(String, i64, u32)>;
}

/// Registrations read per query.
const PAGE: i64 = 500;

/// The rule engine's position and memory.
#[derive(Debug, Default)]
pub struct RuleEngine {
    after: i64,
    memory: Memory,
}

impl RuleEngine {
    /// An engine that judges registrations recorded after this moment (earlier ones are not re-judged).
    pub async fn starting_now(store: &Store) -> Result<Self> {
        Ok(Self { after: store.last_registration_id().await?, memory: Memory::default() })
    }

    /// An engine that judges registrations with an id above `after`.
    pub fn starting_after(after: i64) -> Self {
        Self { after, memory: Memory::default() }
    }

    /// One round: reads, evaluates, applies. Returns the decisions carried out.
    pub async fn tick(
        &mut self,
        store: &Store,
        hss: &dyn HssNotifier,
        source: &dyn SignallingSource,
    ) -> Result<Vec<Decision>> {
        let rules = tenant_rules(store).await?;
        if rules.is_empty() {
            // Nothing to judge: registrations until now need no rules.
            self.after = store.last_registration_id().await?;
            return Ok(vec![]);
        }
        let mut facts = Facts { rules, ..Facts::default() };
        loop {
            let regs = store.registrations_after(self.after, PAGE).await?;
            let Some(last) = regs.last() else { break };
            self.after = last.id;
            for r in &regs {
                let (Some(imei), Ok(imsi)) = (&r.imei, r.imsi.parse::<Imsi>()) else { continue };
                let Ok(imei) = imei.parse::<Imei>() else { continue };
                facts.registrations.push(Registered { imsi, imei });
            }
            if (regs.len() as i64) < PAGE {
                break;
            }
        }
        if let Some(min) = lowest_signalling_limit(&facts.rules) {
            for (imsi, window, count) in source.at_least(min.saturating_add(1)) {
                if let Ok(imsi) = imsi.parse() {
                    facts.busy.push(Busy { imsi, window, count });
                }
            }
        }
        let concerned: Vec<Imsi> = facts
            .registrations
            .iter()
            .map(|r| r.imsi.clone())
            .chain(facts.busy.iter().map(|b| b.imsi.clone()))
            .collect();
        for imsi in concerned {
            if facts.sims.contains_key(&imsi) {
                continue;
            }
            if let Some(m) = store.sim_in(&Scope::Operator, &imsi).await? {
                let s = m.sim;
                let facts_of =
                    SimFacts { tenant: s.tenant, priority: s.priority, status: s.status, bound_imeis: s.bound_imeis };
                facts.sims.insert(imsi, facts_of);
            }
        }
        let decisions = evaluate(&facts, &mut self.memory);
        for d in &decisions {
            apply(store, hss, d).await?;
        }
        Ok(decisions)
    }
}

async fn tenant_rules(store: &Store) -> Result<HashMap<String, Vec<Rule>>> {
    let mut out: HashMap<String, Vec<Rule>> = HashMap::new();
    for r in store.list_rules(&Scope::Operator).await? {
        match serde_json::from_str::<Rule>(&r.body) {
            Ok(rule) => out.entry(r.tenant).or_default().push(rule),
            Err(e) => tracing::warn!(rule = %r.id, error = %e, "stored rule unreadable; skipped"),
        }
    }
    Ok(out)
}

/// Carries out one decision. A change the lifecycle refuses by now (the SIM changed meanwhile) is
/// logged, not an error of the engine.
async fn apply(store: &Store, hss: &dyn HssNotifier, d: &Decision) -> Result<()> {
    match d {
        Decision::Bind { imsi, imei } => {
            sims::bind_imei(store, hss, &Actor::automated("imei_lock rule"), imsi, imei).await?;
        }
        Decision::Fire { imsi, tenant, rule, why, enforcement } => {
            let detail = format!("{rule} rule: {why}");
            store.record_tenant_event(tenant, Some(imsi.as_str()), &EventKind::RuleHit.name(), &detail).await?;
            let actor = Actor::automated(&detail);
            let done = match enforcement {
                Enforcement::EventOnly => Ok(()),
                Enforcement::AlertCritical => {
                    let text = format!("critical SIM exempt from the rule's action; operator attention needed: {why}");
                    let kind = EventKind::RuleAlertCritical.name();
                    store.record_tenant_event(tenant, Some(imsi.as_str()), &kind, &text).await.map_err(Into::into)
                }
                Enforcement::Suspend => {
                    sims::change_status(store, hss, &actor, imsi, store::model::SimStatus::Suspended).await.map(|_| ())
                }
                Enforcement::Bar => sims::set_data_barring(store, hss, &actor, imsi, true).await.map(|_| ()),
            };
            if let Err(e) = done {
                match e {
                    crate::Error::Store(_) => return Err(e),
                    other => tracing::info!(%imsi, error = %other, "rule action not carried out"),
                }
            }
        }
    }
    Ok(())
}
