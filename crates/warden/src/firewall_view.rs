//! The API's view of the signalling firewall running in this process (`GET /api/v1/firewall`, the
//! portal's "Roaming partners and firewall" page): the partners of the rules in force (a reload shows
//! at once), each partner's non-zero counters per rule and action, the storm admission per priority,
//! and the visited networks judged risky now. Read from the firewall's own in-memory counters, the
//! same ones `/metrics` publishes.

use std::sync::Arc;

use api::routes::firewall::{Admission, FirewallOverview, FirewallView, PartnerView, RuleCount};
use firewall::{Action, Firewall, Priority, Rule};

/// The view over one firewall.
pub struct View(pub Arc<Firewall>);

impl FirewallView for View {
    fn overview(&self) -> FirewallOverview {
        let engine = self.0.engine();
        let rules = engine.rules();
        let partners = rules
            .partners
            .iter()
            .map(|p| {
                let stats = engine.observer.partner(&p.name);
                let counters = Rule::ALL
                    .iter()
                    .flat_map(|&rule| Action::ALL.iter().map(move |&action| (rule, action)))
                    .filter_map(|(rule, action)| {
                        let count = stats.get(rule, action);
                        (count > 0).then(|| RuleCount { rule: rule.id().into(), action: action.label().into(), count })
                    })
                    .collect();
                PartnerView {
                    name: p.name.to_string(),
                    plmns: p.plmns.iter().map(ToString::to_string).collect(),
                    realms: p.realms.clone(),
                    origin_hosts: p.hosts.clone(),
                    addresses: p.addresses.iter().map(ToString::to_string).collect(),
                    rate_per_sec: p.budget.map(|(rate, _)| rate),
                    sinkhole: p.sinkhole,
                    counters,
                }
            })
            .collect();
        let admissions = [Priority::Critical, Priority::Standard, Priority::Low]
            .into_iter()
            .map(|p| Admission {
                priority: p.label().into(),
                admitted: engine.observer.admissions(p, true),
                refused: engine.observer.admissions(p, false),
            })
            .collect();
        FirewallOverview {
            origin_host: rules.origin_host.clone(),
            partners,
            admissions,
            risky_plmns: engine.risky_plmns(std::time::Instant::now()),
        }
    }
}
