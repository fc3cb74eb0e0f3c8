//! `/stats`: read-only counts for the portal's dashboard, scoped to the caller's tenant in the data
//! layer — SIMs by status and priority class (one grouped query), and the event feed per minute over
//! a recent window with its newest events. Signalling message rates themselves are not stored (they
//! are metrics, see docs/operations.md); the event feed is what the store keeps.

use cmp::Action;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::Ctx;
use crate::extract::Query;
use crate::problem::{ApiError, ApiResult, Problems};

/// SIMs with one status and one priority class.
#[derive(Debug, Serialize, ToSchema)]
pub struct SimCount {
    /// Lifecycle status.
    pub status: String,
    /// Priority class: `critical`, `standard` or `low`.
    pub priority: String,
    /// SIMs.
    pub count: i64,
}

/// The caller's SIMs counted.
#[derive(Debug, Serialize, ToSchema)]
pub struct SimStats {
    /// All of them.
    pub total: i64,
    /// Per status and priority class (only the pairs that occur).
    pub items: Vec<SimCount>,
}

/// Counts the caller's SIMs by status and priority class.
#[utoipa::path(get, path = "/stats/sims", tag = "stats",
    responses((status = 200, body = SimStats), Problems), security(("bearer" = [])))]
pub async fn sims(Ctx { st, caller }: Ctx) -> ApiResult<axum::Json<SimStats>> {
    caller.require(Action::Read)?;
    let counts = st.store().count_sims(&caller.scope()).await?;
    let items: Vec<SimCount> =
        counts.into_iter().map(|c| SimCount { status: c.status, priority: c.priority, count: c.count }).collect();
    Ok(axum::Json(SimStats { total: items.iter().map(|c| c.count).sum(), items }))
}

/// The window of the event counts.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct EventStatsQuery {
    /// Minutes back from now (1–1440, default 60).
    #[param(minimum = 1, maximum = 1440)]
    pub minutes: Option<u32>,
}

/// Events of one kind in one minute.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventCount {
    /// Unix seconds of the minute's start.
    pub minute: i64,
    /// Event kind.
    pub kind: String,
    /// Events.
    pub count: i64,
}

/// The caller's events over a recent window.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventStats {
    /// Unix seconds where the window starts.
    pub since: i64,
    /// Per minute and kind (only the pairs that occur), oldest first.
    pub items: Vec<EventCount>,
    /// The newest events (at most 10), newest first.
    pub recent: Vec<super::events::Event>,
}

/// Counts the caller's events per minute and kind over the last `minutes`, with the newest events.
#[utoipa::path(get, path = "/stats/events", tag = "stats", params(EventStatsQuery),
    responses((status = 200, body = EventStats), Problems), security(("bearer" = [])))]
pub async fn events(Ctx { st, caller }: Ctx, Query(q): Query<EventStatsQuery>) -> ApiResult<axum::Json<EventStats>> {
    caller.require(Action::Read)?;
    let minutes = q.minutes.unwrap_or(60);
    if !(1..=1440).contains(&minutes) {
        return Err(ApiError::bad_request("minutes: give 1..=1440"));
    }
    let since = (store::now() / 60 - i64::from(minutes) + 1) * 60;
    let scope = caller.scope();
    let counts = st.store().count_events_per_minute(&scope, since).await?;
    let recent = st.store().recent_events(&scope, 10).await?;
    Ok(axum::Json(EventStats {
        since,
        items: counts.into_iter().map(|c| EventCount { minute: c.minute, kind: c.kind, count: c.count }).collect(),
        recent: recent.iter().map(super::events::view).collect(),
    }))
}
