//! `/firewall` (operator admins): the roaming partners the signalling firewall of this process knows
//! (names, PLMNs, realms, hosts, addresses, budgets, sinkholing), its counters per partner, rule and
//! action since the process started, its admissions by priority, and the visited networks it judges
//! risky now — the portal's "Roaming partners and firewall" page. The firewall runs in `warden serve`
//! beside the API when `[firewall]` is configured; [`crate::AppState::set_firewall`] hands the API a
//! [`FirewallView`] of it. Without one the endpoint answers 404. The same counters are on `/metrics`
//! (`warden_firewall_*`) for Prometheus.

use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::Ctx;
use crate::problem::{ApiError, ApiResult, Problems};

/// What the firewall shows the API (implemented by `warden serve` over its firewall).
pub trait FirewallView: Send + Sync {
    /// The picture now.
    fn overview(&self) -> FirewallOverview;
}

/// The firewall now.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct FirewallOverview {
    /// The firewall's Origin-Host.
    pub origin_host: String,
    /// Roaming partners, with their counters.
    pub partners: Vec<PartnerView>,
    /// Requests admitted and refused by the storm admission, per priority class.
    pub admissions: Vec<Admission>,
    /// Visited PLMNs judged risky now (configured, marked by an operator, or by their behaviour).
    pub risky_plmns: Vec<String>,
}

/// One roaming partner.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct PartnerView {
    /// Name (as in metrics and events).
    pub name: String,
    /// Its PLMN ids.
    pub plmns: Vec<String>,
    /// Its Diameter realms.
    pub realms: Vec<String>,
    /// Origin-Host values of its nodes.
    pub origin_hosts: Vec<String>,
    /// Source addresses it may connect from (empty: any).
    pub addresses: Vec<String>,
    /// Requests per second it may send (non-critical devices), if budgeted.
    pub rate_per_sec: Option<f64>,
    /// Everything it sends is sinkholed.
    pub sinkhole: bool,
    /// Non-zero counters: requests per rule and action.
    pub counters: Vec<RuleCount>,
}

/// Requests one rule decided one way.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RuleCount {
    /// Rule id (docs/firewall.md), e.g. `c2-visited-plmn`; `pass` for forwarded requests.
    pub rule: String,
    /// `passed`, `blocked`, `detected` or `dropped`.
    pub action: String,
    /// Requests since the process started.
    pub count: u64,
}

/// Admissions of one priority class.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Admission {
    /// `critical`, `standard` or `low`.
    pub priority: String,
    /// Requests admitted.
    pub admitted: u64,
    /// Requests refused (shed) by the storm admission.
    pub refused: u64,
}

/// The roaming partners and the firewall's counters (operator admins; 404 when this process runs no
/// firewall).
#[utoipa::path(get, path = "/firewall", tag = "catalogue",
    responses((status = 200, body = FirewallOverview), Problems), security(("bearer" = [])))]
pub async fn overview(Ctx { st, caller }: Ctx) -> ApiResult<axum::Json<FirewallOverview>> {
    caller.require(cmp::Action::Operate)?;
    let view = st.0.firewall.get().ok_or_else(|| ApiError::not_found("this process runs no signalling firewall"))?;
    Ok(axum::Json(view.overview()))
}
