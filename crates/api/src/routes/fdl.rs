//! A SIM's fixed dialling list (SUB-3): its own entries on top of its profile's, and the list the
//! SMS router screens its MO short messages with. Changes are `cmp::fdl` use cases (one transaction
//! with their event and audit entry); the router reads the list afresh for every message.

use cmp::fdl::FdlView;
use cmp::Action;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::imsi;
use super::policy::Mode;
use crate::auth::Ctx;
use crate::extract::{Json, Path};
use crate::problem::{ApiResult, Problems};

/// A SIM's own fixed dialling list.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FdlBody {
    /// `extend` (default) or `replace` the profile's list.
    #[serde(default)]
    pub mode: Mode,
    /// Entries: `+491711234567` (an international number), `+4917*` (every international number
    /// starting so), `1234` or `1234*` (numbers dialled in national or short form).
    #[serde(default)]
    #[schema(max_items = 256, pattern = r"^\+?[0-9]{1,20}\*?$")]
    pub entries: Vec<String>,
}

/// What the SMS router screens with.
#[derive(Debug, Serialize, ToSchema)]
pub struct FdlEffective {
    /// `list` (only the entries), `open` (no entries; the profile's `traffic` is `open`: every
    /// destination) or `closed` (no entries: no destination).
    pub kind: String,
    /// The entries.
    pub entries: Vec<String>,
}

/// A SIM's fixed dialling list.
#[derive(Debug, Serialize, ToSchema)]
pub struct Fdl {
    /// The SIM.
    pub imsi: String,
    /// Its profile's entries (`fixed_dialling`).
    pub profile: Vec<String>,
    /// Its own list.
    pub overrides: FdlBody,
    /// What is enforced.
    pub effective: FdlEffective,
}

fn answer(v: FdlView) -> axum::Json<Fdl> {
    axum::Json(Fdl {
        imsi: v.sim.imsi.to_string(),
        profile: v.profile,
        overrides: FdlBody { mode: v.own.mode.into(), entries: v.own.entries },
        effective: FdlEffective {
            kind: v.effective.kind().to_string(),
            entries: v.effective.entries.iter().map(ToString::to_string).collect(),
        },
    })
}

/// A SIM's fixed dialling list: its own entries, its profile's and what the SMS router enforces.
#[utoipa::path(get, path = "/sims/{imsi}/fdl", tag = "policy",
    params(("imsi" = String, Path, description = "IMSI", pattern = "^[0-9]{6,15}$")),
    responses((status = 200, body = Fdl), Problems), security(("bearer" = [])))]
pub async fn get(Ctx { st, caller }: Ctx, Path(id): Path<String>) -> ApiResult<axum::Json<Fdl>> {
    caller.require(Action::Read)?;
    Ok(answer(cmp::fdl::view(st.store(), &caller.actor(), &imsi(&id)?).await?))
}

/// Replaces a SIM's own fixed dialling list (it extends or replaces its profile's). Takes effect for
/// the next MO short message.
#[utoipa::path(put, path = "/sims/{imsi}/fdl", tag = "policy",
    params(("imsi" = String, Path, description = "IMSI", pattern = "^[0-9]{6,15}$")), request_body = FdlBody,
    responses((status = 200, body = Fdl), Problems), security(("bearer" = [])))]
pub async fn put(
    Ctx { st, caller }: Ctx,
    Path(id): Path<String>,
    Json(body): Json<FdlBody>,
) -> ApiResult<axum::Json<Fdl>> {
    caller.require(Action::ManageSims)?;
    let imsi = imsi(&id)?;
    let v = cmp::fdl::put(st.store(), &caller.actor(), &imsi, body.mode.into(), &body.entries).await?;
    st.events_changed();
    Ok(answer(v))
}
