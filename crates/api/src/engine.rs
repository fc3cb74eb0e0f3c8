//! The rule engine: applies tenant rules to what the HSS sees. IMEI locks are checked against each new
//! registration (ULR with Terminal-Information); signalling rules against the HSS's per-IMSI AIR/ULR
//! counts. Hits become `rule.hit` events; actions go through the lifecycle as an automated actor, so
//! critical SIMs get a `rule.alert_critical` event instead (SUB-4). `bar_data` sets
//! Operator-Determined-Barring (packet services) and sends IDR. Runs every second; registrations
//! from before the server started are not re-judged.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use cmp::rules::{check_imei_lock, enforcement, Enforcement, LockVerdict, Rule};
use ids::{Imei, Imsi};
use store::access::Scope;
use store::model::SimStatus;

use crate::state::AppState;

/// Where the engine gets signalling counts: IMSIs with at least `min` AIR+ULR in their current hour
/// (IMSI, window start, count).
pub trait SignallingSource: Send + Sync + 'static {
    /// The busy subscribers.
    fn at_least(&self, min: u32) -> Vec<(String, i64, u32)>;
}

async fn tenant_rules(st: &AppState) -> store::Result<HashMap<String, Vec<Rule>>> {
    let mut out: HashMap<String, Vec<Rule>> = HashMap::new();
    for r in st.store().list_rules(&Scope::Operator).await? {
        match serde_json::from_str::<Rule>(&r.body) {
            Ok(rule) => out.entry(r.tenant).or_default().push(rule),
            Err(e) => tracing::warn!(rule = %r.id, error = %e, "stored rule unreadable; skipped"),
        }
    }
    Ok(out)
}

/// The tenant's own rules and the operator-wide ones (`*`).
fn rules_for<'a>(rules: &'a HashMap<String, Vec<Rule>>, tenant: &str) -> Vec<&'a Rule> {
    rules.get(tenant).into_iter().chain(rules.get("*")).flatten().collect()
}

async fn fire(st: &AppState, imsi: &Imsi, rule: &Rule, why: &str) -> store::Result<()> {
    let Some(m) = st.store().sim_in(&Scope::Operator, imsi).await? else { return Ok(()) };
    let tenant = m.sim.tenant.clone();
    let store = st.store();
    store
        .record_tenant_event(&tenant, Some(imsi.as_str()), "rule.hit", &format!("{} rule: {why}", rule.kind()))
        .await?;
    match enforcement(rule.action(), m.sim.priority, m.sim.status) {
        Enforcement::EventOnly => {}
        Enforcement::AlertCritical => {
            let detail = format!("critical SIM exempt from {:?}; operator attention needed: {why}", rule.action());
            store.record_tenant_event(&tenant, Some(imsi.as_str()), "rule.alert_critical", &detail).await?;
        }
        Enforcement::Suspend => {
            if store.set_status_in(&Scope::Operator, imsi, m.sim.status, SimStatus::Suspended).await? {
                let detail = format!("{} → suspended (rule)", m.sim.status);
                store.record_tenant_event(&tenant, Some(imsi.as_str()), cmp::sim_ops::STATUS_CHANGED, &detail).await?;
                st.0.hss.status_changed(&m.sim, SimStatus::Suspended);
            }
        }
        Enforcement::Bar => {
            if !m.sim.data_barred && store.set_data_barred(&Scope::Operator, imsi, true).await? {
                let detail = format!("packet data barred (Operator-Determined-Barring) by rule: {why}");
                store.record_tenant_event(&tenant, Some(imsi.as_str()), "sim.data_barred", &detail).await?;
                st.0.hss.profile_changed(&m.sim);
            }
        }
    }
    st.events_changed();
    Ok(())
}

async fn check_registrations(st: &AppState, rules: &HashMap<String, Vec<Rule>>, after: &mut i64) -> store::Result<()> {
    loop {
        let regs = st.store().registrations_after(*after, 500).await?;
        let Some(last) = regs.last() else { return Ok(()) };
        *after = last.id;
        for reg in &regs {
            let (Some(imei_text), Ok(imsi)) = (&reg.imei, reg.imsi.parse::<Imsi>()) else { continue };
            let Ok(imei) = imei_text.parse::<Imei>() else { continue };
            let Some(m) = st.store().sim_in(&Scope::Operator, &imsi).await? else { continue };
            let list = rules_for(rules, &m.sim.tenant);
            for rule in list.into_iter().filter(|r| r.kind() == "imei_lock" && r.covers(imsi.as_str())) {
                match check_imei_lock(rule, &m.sim.bound_imeis, imei.body()) {
                    LockVerdict::Ok => {}
                    LockVerdict::Bind => {
                        st.store().bind_imei(&imsi, &imei).await?;
                        st.0.hss.status_changed(&m.sim, m.sim.status);
                        st.store()
                            .record_tenant_event(
                                &m.sim.tenant,
                                Some(imsi.as_str()),
                                "imei.bound",
                                &format!("IMEI {imei}"),
                            )
                            .await?;
                    }
                    LockVerdict::Violation => {
                        let why = format!("IMEI {imei} is not allowed (bound: {})", m.sim.bound_imeis.join(","));
                        fire(st, &imsi, rule, &why).await?;
                    }
                }
            }
        }
        if regs.len() < 500 {
            return Ok(());
        }
    }
}

async fn check_signalling(
    st: &AppState,
    source: &dyn SignallingSource,
    rules: &HashMap<String, Vec<Rule>>,
    fired: &mut HashSet<(String, i64, String)>,
) -> store::Result<()> {
    let min = rules
        .values()
        .flatten()
        .filter_map(|r| match r {
            Rule::Signalling { max_per_hour, .. } => Some(*max_per_hour),
            _ => None,
        })
        .min();
    let Some(min) = min else { return Ok(()) };
    for (imsi_text, window, count) in source.at_least(min.saturating_add(1)) {
        let Ok(imsi) = imsi_text.parse::<Imsi>() else { continue };
        let Some(m) = st.store().sim_in(&Scope::Operator, &imsi).await? else { continue };
        for rule in rules_for(rules, &m.sim.tenant) {
            let Rule::Signalling { max_per_hour, .. } = rule else { continue };
            if count > *max_per_hour && rule.covers(&imsi_text) {
                let key = (imsi_text.clone(), window, serde_json::to_string(rule).unwrap_or_default());
                if fired.insert(key) {
                    let why = format!("{count} AIR/ULR this hour (limit {max_per_hour})");
                    fire(st, &imsi, rule, &why).await?;
                }
            }
        }
    }
    if fired.len() > 100_000 {
        fired.clear();
    }
    Ok(())
}

/// Runs the engine until the process ends, judging registrations with an id above `after` (the
/// caller reads it before spawning, so "from now on" is exact).
pub async fn run_forever(st: AppState, source: Arc<dyn SignallingSource>, after: i64) {
    let mut after = after;
    let mut fired = HashSet::new();
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let rules = match tenant_rules(&st).await {
            Ok(r) if !r.is_empty() => r,
            Ok(_) => {
                after = st.store().last_registration_id().await.unwrap_or(after);
                continue;
            }
            Err(e) => {
                tracing::warn!(error = %e, "rule engine: reading rules failed");
                continue;
            }
        };
        if let Err(e) = check_registrations(&st, &rules, &mut after).await {
            tracing::warn!(error = %e, "rule engine: IMEI locks");
        }
        if let Err(e) = check_signalling(&st, source.as_ref(), &rules, &mut fired).await {
            tracing::warn!(error = %e, "rule engine: signalling");
        }
    }
}
