//! Steering of roaming (ROAM-5): the PLMN list a SIM should hold is its profile's `oplmn` list with
//! every risky network demoted to the end or removed (`steering` of the profile), written into
//! EF_OPLMNwAcT (and EF_PLMNwAcT when `steer_plmnwact`). When the risky set changes, a steering job
//! goes to the SIMs (with an OTA key set and a profile list) whose desired content differs from the
//! content last confirmed on the card by a PoR without error (never confirmed: the profile's list
//! unchanged, as provisioned). When marks clear or expire, the same rule writes the list back.
//! A SIM whose pending item in an older steering job no longer matches is taken out of it
//! (superseded), so an older content never overwrites a newer one.

use std::collections::{BTreeSet, HashMap};

use ota::plmn::{act, demote, encode_list, remove, Plmn, PlmnEntry};
use store::access::Scope;
use store::model::{Rat, ServiceProfile, SteeringMode};
use store::ota::{NewOtaItem, OtaJobRow};

use crate::engine::{rank, Engine, EngineError};
use crate::payload::{FileWrite, ItemPayload};

/// EF_OPLMNwAcT under the USIM.
pub const OPLMN_PATH: &str = "3F00/7FFF/6F61";
/// EF_PLMNwAcT under the USIM.
pub const PLMN_PATH: &str = "3F00/7FFF/6F60";
/// The job kind.
pub const KIND: &str = "steering";

/// Files and their contents (path, hex).
type Files = Vec<(String, String)>;

fn act_bits(rats: &[Rat]) -> u16 {
    rats.iter().fold(0, |acc, r| {
        acc | match r {
            Rat::Geran => act::GSM,
            Rat::Utran => act::UTRAN,
            Rat::Eutran => act::E_UTRAN,
            Rat::Nbiot => act::E_UTRAN_NB_S1,
            Rat::Nr => act::NG_RAN,
        }
    })
}

fn ota_plmn(p: &ids::Plmn) -> Result<Plmn, String> {
    Plmn::parse(&p.to_string()).map_err(|e| e.to_string())
}

/// The files a SIM of `profile` should hold while `risky` networks are risky (path, content hex);
/// empty when the profile has no `oplmn` list.
pub fn desired_files(profile: &ServiceProfile, risky: &BTreeSet<ids::Plmn>) -> Result<Files, String> {
    let prefs = profile.preferred_plmns()?;
    if prefs.is_empty() {
        return Ok(vec![]);
    }
    let mut entries = prefs
        .iter()
        .map(|p| Ok(PlmnEntry { plmn: Some(ota_plmn(&p.plmn)?), act: act_bits(&p.rats) }))
        .collect::<Result<Vec<_>, String>>()?;
    let size = usize::from(profile.oplmn_file_entries.unwrap_or(0)).max(entries.len());
    entries.resize(size, PlmnEntry::UNUSED);
    for r in risky {
        let p = ota_plmn(r)?;
        let changed = match profile.steering {
            SteeringMode::Demote => demote(&entries, p),
            SteeringMode::Remove => remove(&entries, p),
        };
        if let Some(c) = changed {
            entries = c;
        }
    }
    let content = hex::encode(encode_list(&entries));
    let mut files = vec![(OPLMN_PATH.to_string(), content.clone())];
    if profile.steer_plmnwact {
        files.push((PLMN_PATH.to_string(), content));
    }
    Ok(files)
}

/// What changes for the SIMs: the items of a new job, and the SIMs whose pending items in older
/// steering jobs must be taken out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// New items.
    pub items: Vec<NewOtaItem>,
    /// SIMs whose older pending items no longer match.
    pub supersede: Vec<String>,
}

impl Engine {
    /// Plans steering for `risky`: every SIM with a key set and a profile list whose desired files
    /// differ from what its card holds (as last confirmed) and from what is already on its way.
    pub async fn plan_steering(&self, risky: &BTreeSet<ids::Plmn>) -> Result<Plan, EngineError> {
        let store = self.store();
        let profiles: HashMap<String, ServiceProfile> =
            store.list_profiles().await?.into_iter().map(|p| (p.name.clone(), p)).collect();
        let confirmed_o = store.ota_sim_files(OPLMN_PATH).await?;
        let confirmed_u = store.ota_sim_files(PLMN_PATH).await?;
        let in_flight = store.pending_ota_payloads(KIND).await?;
        let none = BTreeSet::new();
        let mut cache: HashMap<&str, (Files, Files)> = HashMap::new();
        let mut plan = Plan::default();
        for t in store.ota_targets(&Scope::Operator).await? {
            let Some(profile) = t.profile.as_deref().and_then(|p| profiles.get(p)) else { continue };
            if !cache.contains_key(profile.name.as_str()) {
                let desired = desired_files(profile, risky).unwrap_or_else(|e| {
                    tracing::warn!(profile = %profile.name, error = %e, "profile oplmn list unusable");
                    vec![]
                });
                let baseline = desired_files(profile, &none).unwrap_or_default();
                cache.insert(profile.name.as_str(), (desired, baseline));
            }
            let (desired, baseline) = &cache[profile.name.as_str()];
            let writes: Vec<FileWrite> = desired
                .iter()
                .zip(baseline)
                .filter(|((path, content), (_, base))| {
                    let confirmed = if path == OPLMN_PATH { &confirmed_o } else { &confirmed_u };
                    confirmed.get(&t.imsi).unwrap_or(base) != content
                })
                .map(|((path, content), _)| FileWrite { path: path.clone(), offset: 0, data: content.clone() })
                .collect();
            let payload = (!writes.is_empty())
                .then(|| serde_json::to_string(&ItemPayload { writes }).expect("payload serialises"));
            let pending = in_flight.get(&t.imsi);
            if pending.is_some() && pending != payload.as_ref() {
                plan.supersede.push(t.imsi.clone());
            }
            if let Some(payload) = payload.filter(|p| pending != Some(p)) {
                plan.items.push(NewOtaItem { imsi: t.imsi, rank: rank(t.priority), payload });
            }
        }
        Ok(plan)
    }

    /// Plans steering for `risky` and starts the job (none when nothing changes), taking superseded
    /// items out of older jobs in the same transaction.
    pub async fn steer(&self, risky: &BTreeSet<ids::Plmn>, created_by: &str) -> Result<Option<OtaJobRow>, EngineError> {
        let plan = self.plan_steering(risky).await?;
        if plan.items.is_empty() && plan.supersede.is_empty() {
            return Ok(None);
        }
        let spec = serde_json::json!({
            "risky": risky.iter().map(ToString::to_string).collect::<Vec<_>>(),
        })
        .to_string();
        let mut tx = self.store().begin().await?;
        tx.supersede_ota_items(KIND, &plan.supersede).await?;
        let job = if plan.items.is_empty() {
            None
        } else {
            Some(tx.create_ota_job("*", KIND, &spec, created_by, &plan.items).await?)
        };
        tx.commit().await?;
        if let Some(j) = &job {
            tracing::info!(job = %j.id, sims = j.total, risky = %spec, "steering job created");
        }
        self.wake();
        Ok(job)
    }

    /// Steers for the risky networks now when they differ from those of the last plan (the first call
    /// always plans: confirmed contents make a plan for an unchanged set empty).
    pub async fn follow_risky(&self, created_by: &str) -> Result<Option<OtaJobRow>, EngineError> {
        let risky = self.risky_now();
        let mut applied = self.inner.applied.lock().await;
        if applied.as_ref() == Some(&risky) {
            return Ok(None);
        }
        let job = self.steer(&risky, created_by).await?;
        *applied = Some(risky);
        Ok(job)
    }

    /// Marks networks risky by hand (for `for_how_long`, or until cleared) and clears others, then
    /// steers at once.
    pub async fn mark_risky(
        &self,
        mark: &[ids::Plmn],
        clear: &[ids::Plmn],
        for_how_long: Option<std::time::Duration>,
        created_by: &str,
    ) -> Result<Option<OtaJobRow>, EngineError> {
        {
            let mut manual = self.inner.manual.lock().expect("manual marks");
            let until = for_how_long.map(|d| std::time::Instant::now() + d);
            for p in mark {
                manual.insert(*p, until);
            }
            for p in clear {
                manual.remove(p);
            }
        }
        self.follow_risky(created_by).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(extra: serde_json::Value) -> ServiceProfile {
        let mut v = serde_json::json!({"name": "p", "services": ["data"], "oplmn": ["26201:eutran", "26202", "20801:eutran+nr"]});
        v.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn desired_lists_demote_or_remove_risky_networks() {
        let p = profile(serde_json::json!({"oplmn_file_entries": 4}));
        let risky: BTreeSet<ids::Plmn> = ["26201".parse().unwrap()].into();
        let base = desired_files(&p, &BTreeSet::new()).unwrap();
        assert_eq!(base.len(), 1);
        // 26201 E-UTRAN; 26202 GSM+UTRAN+E-UTRAN; 20801 E-UTRAN+NR; one unused entry.
        assert_eq!(base[0].1, "62f2104000".to_owned() + "62f220c080" + "02f8104800" + "ffffff0000");
        let steered = desired_files(&p, &risky).unwrap();
        assert_eq!(steered[0].1, "62f220c080".to_owned() + "02f8104800" + "62f2104000" + "ffffff0000");
        let removed =
            desired_files(&profile(serde_json::json!({"steering": "remove", "steer_plmnwact": true})), &risky).unwrap();
        assert_eq!(removed.len(), 2, "EF_PLMNwAcT too");
        assert_eq!(removed[0].1, "62f220c080".to_owned() + "02f8104800" + "ffffff0000");
        assert!(desired_files(&profile(serde_json::json!({"oplmn": []})), &risky).unwrap().is_empty());
        let bad: Result<ServiceProfile, _> =
            serde_json::from_value(serde_json::json!({"name": "p", "services": ["data"], "oplmn": ["2620:lte"]}));
        assert!(bad.unwrap().validate().is_err());
    }
}
