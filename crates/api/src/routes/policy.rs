//! A SIM's traffic policy (SUB-2, AV-1): its own allowlists on top of its profile's, its quarantine,
//! what is enforced (the effective policy, as the PCRF and the DNS firewall apply it), its data
//! sessions, its usage and its DNS queries. Changes are `cmp::traffic` use cases; the PCRF of this
//! process pushes them to the P-GW with RAR at once.

use cmp::traffic::{Access, Overrides, PolicyView};
use cmp::Action;
use serde::{Deserialize, Serialize};
use store::traffic::OverrideMode;
use utoipa::{IntoParams, ToSchema};

use super::imsi;
use crate::auth::Ctx;
use crate::extract::{Json, OptionalJson, Path, Query};
use crate::problem::{ApiError, ApiResult, Problems};

/// How a SIM's own lists combine with its profile's.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// The profile's entries and the SIM's (the default).
    #[default]
    Extend,
    /// The SIM's entries only.
    Replace,
}

impl From<Mode> for OverrideMode {
    fn from(m: Mode) -> Self {
        match m {
            Mode::Extend => OverrideMode::Extend,
            Mode::Replace => OverrideMode::Replace,
        }
    }
}

impl From<OverrideMode> for Mode {
    fn from(m: OverrideMode) -> Self {
        match m {
            OverrideMode::Extend => Mode::Extend,
            OverrideMode::Replace => Mode::Replace,
        }
    }
}

/// A SIM's own allowlists.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyBody {
    /// `extend` (default) or `replace` the profile's lists.
    #[serde(default)]
    pub mode: Mode,
    /// Prefixes as `198.51.100.0/24` or `203.0.113.7/32:443/tcp` (ports `LOW-HIGH`, protocol
    /// `tcp`, `udp`, `icmp`, `icmpv6` or a number).
    #[serde(default)]
    #[schema(max_items = 256)]
    pub allow_prefixes: Vec<String>,
    /// Names as `api.acme.example` or `*.ota.acme.example` (every name below the suffix).
    #[serde(default)]
    #[schema(max_items = 256)]
    pub allow_domains: Vec<String>,
}

/// What a SIM may reach.
#[derive(Debug, Serialize, ToSchema)]
pub struct Effective {
    /// `open`, `restricted`, `quarantined`, `barred` (packet data barred: like quarantined) or
    /// `blocked` (the SIM is not active).
    pub traffic: String,
    /// Reachable prefixes (with `open`, empty means everything).
    pub allow_prefixes: Vec<String>,
    /// Resolvable names.
    pub allow_domains: Vec<String>,
    /// Predefined PCC rules installed instead of dynamic allow rules.
    pub predefined_rules: Vec<String>,
}

/// A quarantine.
#[derive(Debug, Serialize, ToSchema)]
pub struct QuarantineView {
    /// Unix seconds.
    pub since: i64,
    /// Why.
    pub reason: String,
    /// Who.
    pub by: String,
}

/// A data session (Gx) of the SIM.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionView {
    /// Diameter Session-Id.
    pub session_id: String,
    /// APN.
    pub apn: String,
    /// The device's IPv4 address.
    pub framed_ip: Option<String>,
    /// The device's IPv6 prefix.
    pub framed_ipv6: Option<String>,
    /// RAT-Type (TS 29.212 §5.3.31).
    pub rat_type: Option<u32>,
    /// Serving PLMN (MCC MNC).
    pub plmn: Option<String>,
    /// The P-GW (PCEF) that holds it.
    pub pcef: String,
    /// PCC rules installed, by name.
    pub rules: Vec<String>,
    /// Unix seconds.
    pub since: i64,
}

/// A SIM's traffic policy.
#[derive(Debug, Serialize, ToSchema)]
pub struct Policy {
    /// The SIM.
    pub imsi: String,
    /// Its own allowlists.
    pub overrides: PolicyBody,
    /// Its quarantine, if any.
    pub quarantine: Option<QuarantineView>,
    /// What is enforced.
    pub effective: Effective,
    /// Its data sessions now.
    pub sessions: Vec<SessionView>,
}

fn traffic_name(a: Access) -> &'static str {
    match a {
        Access::Open => "open",
        Access::Restricted => "restricted",
        Access::Quarantined => "quarantined",
        Access::Barred => "barred",
        Access::Blocked => "blocked",
    }
}

async fn answer(
    st: &crate::state::AppState,
    caller: &crate::auth::Caller,
    v: PolicyView,
) -> ApiResult<axum::Json<Policy>> {
    let sessions = st.store().gx_sessions_in(&caller.scope(), &v.sim.imsi).await?;
    let strings = |xs: &[_]| -> Vec<String> { xs.iter().map(|x: &ids::PrefixRule| x.to_string()).collect() };
    let names = |xs: &[ids::DomainPattern]| -> Vec<String> { xs.iter().map(ToString::to_string).collect() };
    Ok(axum::Json(Policy {
        imsi: v.sim.imsi.to_string(),
        overrides: PolicyBody {
            mode: v.own.mode.into(),
            allow_prefixes: strings(&v.own.allow_prefixes),
            allow_domains: names(&v.own.allow_domains),
        },
        quarantine: v.own.quarantine.map(|q| QuarantineView { since: q.since, reason: q.reason, by: q.by }),
        effective: Effective {
            traffic: traffic_name(v.effective.traffic).into(),
            allow_prefixes: strings(&v.effective.allow_prefixes),
            allow_domains: names(&v.effective.allow_domains),
            predefined_rules: v.effective.predefined_rules,
        },
        sessions: sessions
            .into_iter()
            .map(|s| SessionView {
                session_id: s.session_id,
                apn: s.apn,
                framed_ip: s.framed_ip,
                framed_ipv6: s.framed_ipv6,
                rat_type: s.rat_type,
                plmn: s.plmn,
                pcef: s.pcef_host,
                rules: s.rules,
                since: s.created_at,
            })
            .collect(),
    }))
}

/// Parses every entry of a list, naming the first bad one with its position.
fn parse_all<T: std::str::FromStr>(field: &str, items: &[String]) -> ApiResult<Vec<T>>
where
    T::Err: std::fmt::Display,
{
    items
        .iter()
        .enumerate()
        .map(|(i, s)| s.parse::<T>().map_err(|e| ApiError::unprocessable(format!("{field}[{i}]: {e}"))))
        .collect()
}

/// A SIM's traffic policy: its own allowlists, its quarantine, what is enforced and its sessions.
#[utoipa::path(get, path = "/sims/{imsi}/policy", tag = "policy",
    params(("imsi" = String, Path, description = "IMSI", pattern = "^[0-9]{6,15}$")),
    responses((status = 200, body = Policy), Problems), security(("bearer" = [])))]
pub async fn get(Ctx { st, caller }: Ctx, Path(id): Path<String>) -> ApiResult<axum::Json<Policy>> {
    caller.require(Action::Read)?;
    let v = cmp::traffic::view(st.store(), &caller.actor(), &imsi(&id)?).await?;
    answer(&st, &caller, v).await
}

/// Replaces a SIM's own allowlists (they extend or replace its profile's). Widening what a device
/// may reach needs a step-up for people; the P-GW gets the new rules at once (RAR).
#[utoipa::path(put, path = "/sims/{imsi}/policy", tag = "policy",
    params(("imsi" = String, Path, description = "IMSI", pattern = "^[0-9]{6,15}$")), request_body = PolicyBody,
    responses((status = 200, body = Policy), Problems), security(("bearer" = [])))]
pub async fn put(
    Ctx { st, caller }: Ctx,
    Path(id): Path<String>,
    Json(body): Json<PolicyBody>,
) -> ApiResult<axum::Json<Policy>> {
    caller.require(Action::ManageSims)?;
    let imsi = imsi(&id)?;
    let overrides = Overrides {
        mode: body.mode.into(),
        allow_prefixes: parse_all("allow_prefixes", &body.allow_prefixes)?,
        allow_domains: parse_all("allow_domains", &body.allow_domains)?,
    };
    let (actor, _) = caller.fresh(&st, "changing a SIM's allowlist").await?;
    let v = cmp::traffic::put_policy(st.store(), st.0.hss.as_ref(), &actor, &imsi, overrides).await?;
    st.events_changed();
    answer(&st, &caller, v).await
}

/// Why a SIM is quarantined.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuarantineBody {
    /// Why (shown in the event feed and the audit trail; default "quarantined through the API").
    #[serde(default)]
    #[schema(max_length = 500)]
    pub reason: String,
}

/// Quarantines a SIM: only its tenant's management platform (the profile's `quarantine_prefixes`
/// and `quarantine_domains`) stays reachable, at once (RAR). Quarantining a quarantined SIM changes
/// nothing.
#[utoipa::path(post, path = "/sims/{imsi}/quarantine", tag = "policy",
    params(("imsi" = String, Path, description = "IMSI", pattern = "^[0-9]{6,15}$")), request_body = Option<QuarantineBody>,
    responses((status = 200, body = Policy), Problems), security(("bearer" = [])))]
pub async fn quarantine(
    Ctx { st, caller }: Ctx,
    Path(id): Path<String>,
    OptionalJson(body): OptionalJson<QuarantineBody>,
) -> ApiResult<axum::Json<Policy>> {
    caller.require(Action::ManageSims)?;
    let imsi = imsi(&id)?;
    let reason = if body.reason.is_empty() { "quarantined through the API".to_string() } else { body.reason };
    let v = cmp::traffic::quarantine(st.store(), st.0.hss.as_ref(), &caller.actor(), &imsi, &reason).await?;
    st.events_changed();
    answer(&st, &caller, v).await
}

/// Lifts a SIM's quarantine (a step-up for people); its allowlists apply again at once (RAR).
#[utoipa::path(delete, path = "/sims/{imsi}/quarantine", tag = "policy",
    params(("imsi" = String, Path, description = "IMSI", pattern = "^[0-9]{6,15}$")),
    responses((status = 200, body = Policy), Problems), security(("bearer" = [])))]
pub async fn lift(Ctx { st, caller }: Ctx, Path(id): Path<String>) -> ApiResult<axum::Json<Policy>> {
    caller.require(Action::ManageSims)?;
    let imsi = imsi(&id)?;
    let (actor, _) = caller.fresh(&st, "lifting a quarantine").await?;
    let v = cmp::traffic::lift_quarantine(st.store(), st.0.hss.as_ref(), &actor, &imsi).await?;
    st.events_changed();
    answer(&st, &caller, v).await
}

/// How far back to look.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct UsageQuery {
    /// Hours before now (1–2160, default 24).
    #[param(minimum = 1, maximum = 2160)]
    pub hours: Option<u32>,
}

/// Octets of one hour.
#[derive(Debug, Serialize, ToSchema)]
pub struct UsageHour {
    /// Unix seconds of the hour's start.
    pub hour_start: i64,
    /// Uplink octets (from the device).
    pub octets_up: i64,
    /// Downlink octets (to the device).
    pub octets_down: i64,
}

/// A SIM's usage.
#[derive(Debug, Serialize, ToSchema)]
pub struct UsageAnswer {
    /// The SIM.
    pub imsi: String,
    /// Hours with traffic, oldest first.
    pub items: Vec<UsageHour>,
}

/// A SIM's data usage per hour, as its P-GW reported it (Gx usage monitoring).
#[utoipa::path(get, path = "/sims/{imsi}/usage", tag = "policy",
    params(("imsi" = String, Path, description = "IMSI", pattern = "^[0-9]{6,15}$"), UsageQuery),
    responses((status = 200, body = UsageAnswer), Problems), security(("bearer" = [])))]
pub async fn usage(
    Ctx { st, caller }: Ctx,
    Path(id): Path<String>,
    Query(q): Query<UsageQuery>,
) -> ApiResult<axum::Json<UsageAnswer>> {
    caller.require(Action::Read)?;
    let imsi = imsi(&id)?;
    let hours = match q.hours.unwrap_or(24) {
        h @ 1..=2160 => i64::from(h),
        h => return Err(ApiError::bad_request(format!("hours must be 1..=2160, got {h}"))),
    };
    if st.store().sim_in(&caller.scope(), &imsi).await?.is_none() {
        return Err(ApiError::from(cmp::Error::NotFound(format!("SIM {imsi} not found"))));
    }
    let since = store::now() / 3600 - hours + 1;
    let items = st.store().usage_in(&caller.scope(), &imsi, since).await?;
    Ok(axum::Json(UsageAnswer {
        imsi: imsi.to_string(),
        items: items
            .into_iter()
            .map(|u| UsageHour { hour_start: u.hour * 3600, octets_up: u.octets_up, octets_down: u.octets_down })
            .collect(),
    }))
}

/// Which queries.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DnsQueryFilter {
    /// Only this SIM's.
    #[param(pattern = "^[0-9]{6,15}$")]
    pub imsi: Option<String>,
    /// At most this many (1–1000, default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
}

/// One DNS query.
#[derive(Debug, Serialize, ToSchema)]
pub struct DnsQueryView {
    /// Unix milliseconds.
    pub at_ms: i64,
    /// The SIM.
    pub imsi: String,
    /// The name asked.
    pub name: String,
    /// The query type (1 A, 28 AAAA, …).
    pub qtype: u16,
    /// `allowed`, `refused`, `rate_limited` or `upstream_failed`.
    pub verdict: String,
    /// The answer's RCODE.
    pub rcode: u16,
    /// Addresses answered.
    pub answers: Vec<String>,
}

/// DNS queries.
#[derive(Debug, Serialize, ToSchema)]
pub struct DnsQueryList {
    /// Newest first.
    pub items: Vec<DnsQueryView>,
}

/// The newest DNS queries of the caller's SIMs, as the DNS firewall logged them.
#[utoipa::path(get, path = "/dns/queries", tag = "policy", params(DnsQueryFilter),
    responses((status = 200, body = DnsQueryList), Problems), security(("bearer" = [])))]
pub async fn dns_queries(
    Ctx { st, caller }: Ctx,
    Query(q): Query<DnsQueryFilter>,
) -> ApiResult<axum::Json<DnsQueryList>> {
    caller.require(Action::Read)?;
    let limit = super::PageQuery { cursor: None, limit: q.limit }.limit()?;
    let imsi = q.imsi.as_deref().map(imsi).transpose()?;
    let rows = st.store().dns_queries_in(&caller.scope(), imsi.as_ref(), limit).await?;
    Ok(axum::Json(DnsQueryList {
        items: rows
            .into_iter()
            .map(|r| DnsQueryView {
                at_ms: r.at_ms,
                imsi: r.imsi,
                name: r.name,
                qtype: r.qtype,
                verdict: r.verdict,
                rcode: r.rcode,
                answers: r.answers,
            })
            .collect(),
    }))
}
