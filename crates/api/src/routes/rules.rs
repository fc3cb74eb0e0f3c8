//! `/rules`: a tenant's automated rules (IMEI lock, signalling behaviour; see `cmp::rules`).

use axum::http::StatusCode;
use cmp::rules::Rule as DomainRule;
use cmp::Action;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::IdempotencyKey;
use crate::auth::Ctx;
use crate::extract::{Json, Path};
use crate::problem::{ApiError, ApiResult, Problems};

/// What a rule does when it fires.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RuleAction {
    /// Record a `rule.hit` event only.
    Event,
    /// Suspend the SIM (critical SIMs: an alert instead).
    Suspend,
    /// Blacklist the IMSI–IMEI pair in the EIR (critical SIMs: an alert instead).
    BarData,
}

/// A rule definition.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    /// `imei_lock` or `signalling`.
    #[schema(pattern = "^(imei_lock|signalling)$")]
    pub kind: String,
    /// IMEI lock: `first_seen` or `list`.
    #[schema(pattern = "^(first_seen|list)$")]
    pub mode: Option<String>,
    /// IMEI lock `list`: allowed IMEIs.
    #[serde(default)]
    pub imeis: Vec<String>,
    /// Signalling: most AIR+ULR per SIM per hour.
    #[schema(minimum = 1, maximum = 1000000)]
    pub max_per_hour: Option<u32>,
    /// Only these IMSIs (empty: every SIM of the tenant).
    #[serde(default)]
    pub imsis: Vec<String>,
    /// Action.
    pub action: RuleAction,
    /// Operator admins: the tenant.
    pub tenant: Option<String>,
}

/// A stored rule.
#[derive(Debug, Serialize, ToSchema)]
pub struct Rule {
    /// Id.
    pub id: String,
    /// Tenant.
    pub tenant: String,
    /// Kind.
    pub kind: String,
    /// The rule.
    #[schema(value_type = Object)]
    pub rule: serde_json::Value,
    /// Unix seconds.
    pub created_at: i64,
}

/// Rules.
#[derive(Debug, Serialize, ToSchema)]
pub struct RuleList {
    /// Rules.
    pub items: Vec<Rule>,
}

fn view(r: store::platform::RuleRow) -> Rule {
    Rule {
        rule: serde_json::from_str(&r.body).unwrap_or_default(),
        id: r.id,
        tenant: r.tenant,
        kind: r.kind,
        created_at: r.created_at,
    }
}

fn domain(spec: &RuleSpec) -> ApiResult<DomainRule> {
    if spec.max_per_hour.is_some_and(|m| !(1..=1_000_000).contains(&m)) {
        return Err(ApiError::unprocessable("max_per_hour must be 1..=1000000"));
    }
    let mut v = serde_json::json!({ "kind": spec.kind, "imsis": spec.imsis, "action": spec.action });
    let o = v.as_object_mut().expect("object");
    match spec.kind.as_str() {
        "imei_lock" => {
            o.insert("mode".into(), serde_json::json!(spec.mode.clone().unwrap_or_default()));
            o.insert("imeis".into(), serde_json::json!(spec.imeis));
        }
        "signalling" => {
            o.insert("max_per_hour".into(), serde_json::json!(spec.max_per_hour.unwrap_or(0)));
        }
        k => return Err(ApiError::unprocessable(format!("kind must be imei_lock or signalling, got {k:?}"))),
    }
    serde_json::from_value(v).map_err(|e| ApiError::unprocessable(format!("rule: {e}")))
}

/// Lists rules.
#[utoipa::path(get, path = "/rules", tag = "rules", responses((status = 200, body = RuleList), Problems),
    security(("bearer" = [])))]
pub async fn list(Ctx { st, caller }: Ctx) -> ApiResult<axum::Json<RuleList>> {
    caller.require(Action::Read)?;
    Ok(axum::Json(RuleList { items: st.store().list_rules(&caller.scope()).await?.into_iter().map(view).collect() }))
}

/// Creates a rule.
#[utoipa::path(post, path = "/rules", tag = "rules", request_body = RuleSpec, params(IdempotencyKey),
    responses((status = 201, body = Rule), Problems), security(("bearer" = [])))]
pub async fn create(Ctx { st, caller }: Ctx, Json(spec): Json<RuleSpec>) -> ApiResult<(StatusCode, axum::Json<Rule>)> {
    caller.require(Action::ManageAccess)?;
    let rule = domain(&spec)?;
    let (actor, _) = caller.fresh(&st, "changing rules").await?;
    let row = cmp::catalogue::create_rule(st.store(), &actor, spec.tenant.as_deref(), &rule).await?;
    Ok((StatusCode::CREATED, axum::Json(view(row))))
}

/// Deletes a rule.
#[utoipa::path(delete, path = "/rules/{id}", tag = "rules", params(("id" = String, Path, description = "Rule id")),
    responses((status = 204, description = "Deleted"), Problems), security(("bearer" = [])))]
pub async fn delete(Ctx { st, caller }: Ctx, Path(id): Path<String>) -> ApiResult<StatusCode> {
    let (actor, _) = caller.fresh(&st, "changing rules").await?;
    cmp::catalogue::delete_rule(st.store(), &actor, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
