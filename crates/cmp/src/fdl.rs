//! Fixed dialling lists (SUB-3): a SIM's own list on top of its profile's ([`view`], [`put`]),
//! what the SMS router screens with ([`effective`]), and the router's access to the store
//! ([`StoreSubscribers`]: the effective list of the sender, refusals in the tenant's event feed).
//!
//! Like every SIM change, [`put`] reads the SIM in the actor's scope and writes the list, its event
//! and its audit entry in one transaction. The meaning of entries, normalisation and what an empty
//! list means are `sms::fdl`'s (docs/sms.md).

use serde_json::json;
use sms::fdl::{parse_entries, Effective, Mode};
use sms::{BoxFuture, MoMessage, RefusalKind, Screening, Subscribers};
use store::fixed_dialling::SimFixedDialling;
use store::model::{ServiceProfile, Sim, TrafficMode};
use store::traffic::OverrideMode;
use store::Store;

use crate::actor::Actor;
use crate::error::{Error, Result};
use crate::events::EventKind;
use crate::roles::Action;
use ids::Imsi;

/// A SIM's fixed dialling list as the platform shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FdlView {
    /// The SIM.
    pub sim: Sim,
    /// Its own list (default: extend, empty).
    pub own: SimFixedDialling,
    /// Its profile's entries.
    pub profile: Vec<String>,
    /// What the SMS router screens with.
    pub effective: Effective,
}

fn mode(m: OverrideMode) -> Mode {
    match m {
        OverrideMode::Extend => Mode::Extend,
        OverrideMode::Replace => Mode::Replace,
    }
}

/// The list `sim` is screened against, from its profile and its own list. Entries that no longer
/// parse (written before the syntax was checked) are left out and logged.
pub fn effective(sim: &Sim, profile: Option<&ServiceProfile>, own: Option<&SimFixedDialling>) -> Effective {
    let parse = |items: &[String]| -> Vec<sms::fdl::Entry> {
        items
            .iter()
            .filter_map(|s| match s.parse() {
                Ok(e) => Some(e),
                Err(e) => {
                    tracing::warn!(imsi = %sim.imsi, error = %e, "fixed dialling entry ignored");
                    None
                }
            })
            .collect()
    };
    let base = profile.map(|p| parse(&p.fixed_dialling)).unwrap_or_default();
    let open = profile.is_some_and(|p| p.traffic == TrafficMode::Open);
    let mine = own.map(|o| (mode(o.mode), parse(&o.entries)));
    Effective::of(&base, open, mine.as_ref().map(|(m, e)| (*m, e.as_slice())))
}

async fn profile_of(store: &Store, sim: &Sim) -> Result<Option<ServiceProfile>> {
    Ok(match &sim.profile {
        Some(name) => store.profile(name).await?,
        None => None,
    })
}

/// A SIM's list, if the SIM is visible to `actor`.
pub async fn view(store: &Store, actor: &Actor, imsi: &Imsi) -> Result<FdlView> {
    actor.require(Action::Read)?;
    let sim =
        store.sim_in(&actor.scope(), imsi).await?.ok_or_else(|| Error::NotFound(format!("SIM {imsi} not found")))?.sim;
    let own = store.sim_fixed_dialling_in(&actor.scope(), imsi).await?;
    let profile = profile_of(store, &sim).await?;
    let effective = effective(&sim, profile.as_ref(), own.as_ref());
    Ok(FdlView {
        profile: profile.map(|p| p.fixed_dialling).unwrap_or_default(),
        own: own.unwrap_or_default(),
        sim,
        effective,
    })
}

/// Replaces a SIM's own list: `entries` extend or replace (`mode`) the profile's. Entries are
/// checked (the first bad one is named with its position) and kept as written, without duplicates.
pub async fn put(store: &Store, actor: &Actor, imsi: &Imsi, mode: OverrideMode, entries: &[String]) -> Result<FdlView> {
    actor.require(Action::ManageSims)?;
    let parsed = parse_entries(entries).map_err(|e| Error::Invalid(format!("entries{e}")))?;
    let before = view(store, actor, imsi).await?;
    let own =
        SimFixedDialling { mode, entries: parsed.iter().map(ToString::to_string).collect(), updated_at: store::now() };
    let word = |m: OverrideMode| if m == OverrideMode::Replace { "replace" } else { "extend" };
    let sim = &before.sim;
    let mut tx = store.begin().await?;
    tx.put_sim_fixed_dialling(imsi, &sim.tenant, &own).await?;
    let detail = format!("{} entries ({})", own.entries.len(), word(mode));
    tx.record_tenant_event(&sim.tenant, Some(imsi.as_str()), &EventKind::SimFixedDiallingChanged.name(), &detail)
        .await?;
    let entry = actor.audit_entry(
        &sim.tenant,
        "sim.set_fixed_dialling",
        &format!("sim/{imsi}"),
        Some(json!({"mode": word(before.own.mode), "entries": before.own.entries})),
        Some(json!({"mode": word(mode), "entries": own.entries})),
    );
    tx.append_audit(&entry).await?;
    tx.commit().await?;
    view(store, actor, imsi).await
}

/// The SMS router's view of the store: the sender's effective list, refusals in its tenant's feed.
#[derive(Debug, Clone)]
pub struct StoreSubscribers(pub Store);

impl StoreSubscribers {
    async fn lookup(&self, m: &MoMessage) -> store::Result<Option<Screening>> {
        let sim = match (&m.imsi, &m.msisdn) {
            (Some(imsi), _) => self.0.sim(imsi).await?,
            (None, Some(msisdn)) => self.0.sim_by_msisdn(msisdn).await?,
            (None, None) => None,
        };
        let Some(sim) = sim else { return Ok(None) };
        let imsi = &sim.imsi;
        let profile = match &sim.profile {
            Some(name) => self.0.profile(name).await?,
            None => None,
        };
        let own = self.0.sim_fixed_dialling(imsi).await?;
        let list = effective(&sim, profile.as_ref(), own.as_ref());
        Ok(Some(Screening { imsi: imsi.clone(), tenant: sim.tenant.clone(), list }))
    }
}

impl Subscribers for StoreSubscribers {
    fn screening<'a>(
        &'a self,
        message: &'a MoMessage,
    ) -> BoxFuture<'a, std::result::Result<Option<Screening>, String>> {
        Box::pin(async move { self.lookup(message).await.map_err(|e| e.to_string()) })
    }

    fn refused<'a>(&'a self, imsi: &'a Imsi, kind: RefusalKind, detail: &'a str) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let event = match kind {
                RefusalKind::Barred => EventKind::SmsMoBarred,
                RefusalKind::Malformed => EventKind::SmsMoRefused,
            };
            let tenant = match self.0.sim(imsi).await {
                Ok(Some(sim)) => sim.tenant,
                Ok(None) => return,
                Err(e) => return tracing::warn!(error = %e, "SMS refusal not recorded"),
            };
            if let Err(e) = self.0.record_tenant_event(&tenant, Some(imsi.as_str()), &event.name(), detail).await {
                tracing::warn!(error = %e, "SMS refusal not recorded");
            }
        })
    }
}
