//! What the operator and its tenants configure, each change audited in its own transaction: service
//! profiles and IMSI ranges (the operator's), EIR lists and device host reports (the operator's),
//! tenant rules, and webhooks with the policy on where they may point (no server-side request
//! forgery by default).

use ids::Imei;
use serde_json::json;
use store::model::{EirEntry, ServiceProfile};
use store::platform::{RuleRow, SimRange, Webhook};
use store::Store;

use crate::actor::Actor;
use crate::error::{Error, Result};
use crate::roles::Action;
use crate::rules::Rule;

/// Creates or replaces service profiles (operator only); `resource` names them in the audit trail
/// (a file, or `profile/<name>`). One audit entry records all of them.
pub async fn put_profiles(store: &Store, actor: &Actor, profiles: &[ServiceProfile], resource: &str) -> Result<usize> {
    actor.require(Action::Operate)?;
    for p in profiles {
        p.validate().map_err(|e| Error::Invalid(format!("profile {}: {e}", p.name)))?;
        sms::fdl::parse_entries(&p.fixed_dialling)
            .map_err(|e| Error::Invalid(format!("profile {}: fixed_dialling{e}", p.name)))?;
    }
    let before = match profiles {
        [one] => store.profile(&one.name).await?.and_then(|b| serde_json::to_value(b).ok()),
        _ => None,
    };
    let after = match profiles {
        [one] => serde_json::to_value(one).ok(),
        many => Some(json!({ "profiles": many.iter().map(|p| p.name.as_str()).collect::<Vec<_>>() })),
    };
    let mut tx = store.begin().await?;
    for p in profiles {
        tx.put_profile(p).await?;
    }
    tx.append_audit(&actor.audit_entry("*", "profile.put", resource, before, after)).await?;
    tx.commit().await?;
    Ok(profiles.len())
}

/// Segments an IMSI range may be marked with.
const SEGMENTS: [&str; 2] = ["iot", "handset"];

/// Marks an IMSI range as IoT or handset (operator only; SUB-5).
pub async fn create_range(
    store: &Store,
    actor: &Actor,
    from: &str,
    to: &str,
    segment: &str,
    note: &str,
) -> Result<SimRange> {
    actor.require(Action::Operate)?;
    let imsi = |name: &str, v: &str| v.parse::<ids::Imsi>().map_err(|e| Error::Invalid(format!("{name}: imsi: {e}")));
    let (from, to) = (imsi("imsi_from", from)?, imsi("imsi_to", to)?);
    if from.as_str().len() != to.as_str().len() || from.as_str() > to.as_str() {
        return Err(Error::Invalid("imsi_from must not be above imsi_to, and both the same length".into()));
    }
    if !SEGMENTS.contains(&segment) {
        return Err(Error::Invalid("segment must be iot or handset".into()));
    }
    crate::text::check_note("note", note, 200)?;
    let mut tx = store.begin().await?;
    let range = tx.create_range(from.as_str(), to.as_str(), segment, note).await?;
    let after = json!({"from": range.imsi_from, "to": range.imsi_to, "segment": range.segment});
    tx.append_audit(&actor.audit_entry("*", "range.create", &format!("range/{}", range.id), (), after)).await?;
    tx.commit().await?;
    Ok(range)
}

/// Stores EIR list entries (operator only), replacing entries with the same key; `resource` names
/// the list in the audit trail.
pub async fn import_eir(store: &Store, actor: &Actor, entries: &[EirEntry], resource: &str) -> Result<usize> {
    actor.require(Action::Operate)?;
    let mut tx = store.begin().await?;
    let n = tx.put_eir(entries).await?;
    tx.append_audit(&actor.audit_entry("*", "eir.import", resource, (), json!({ "entries": n }))).await?;
    tx.commit().await?;
    Ok(n)
}

/// Records which host device a module reported it sits in (DM-6; operator only).
pub async fn report_host(store: &Store, actor: &Actor, imei: &Imei, host: &str) -> Result<()> {
    actor.require(Action::Operate)?;
    crate::text::check_label("host", host, 200)?;
    let mut tx = store.begin().await?;
    tx.record_host_identity(imei, host).await?;
    tx.append_audit(&actor.audit_entry("*", "eir.host_report", &format!("imei/{imei}"), (), host)).await?;
    tx.commit().await?;
    Ok(())
}

/// Fails unless `tenant` is `*` or exists.
pub(crate) async fn tenant_must_exist(store: &Store, tenant: &str) -> Result<()> {
    if tenant != "*" && !store.tenant_exists(tenant).await? {
        return Err(Error::Invalid(format!("tenant {tenant} does not exist")));
    }
    Ok(())
}

/// Creates a tenant rule (tenant admins for their tenant; the operator for one or for all, `*`).
pub async fn create_rule(store: &Store, actor: &Actor, tenant: Option<&str>, rule: &Rule) -> Result<RuleRow> {
    actor.require(Action::ManageAccess)?;
    let tenant = actor.tenant_or_all(tenant)?;
    tenant_must_exist(store, &tenant).await?;
    rule.validate().map_err(Error::Invalid)?;
    let body = serde_json::to_string(rule).map_err(|e| Error::Internal(e.to_string()))?;
    let mut tx = store.begin().await?;
    let row = tx.create_rule(&tenant, rule.kind(), &body).await?;
    tx.append_audit(&actor.audit_entry(&tenant, "rule.create", &format!("rule/{}", row.id), (), &body)).await?;
    tx.commit().await?;
    Ok(row)
}

/// Deletes a rule visible to the actor.
pub async fn delete_rule(store: &Store, actor: &Actor, id: &str) -> Result<()> {
    actor.require(Action::ManageAccess)?;
    let scope = actor.scope();
    let Some(rule) = store.list_rules(&scope).await?.into_iter().find(|r| r.id == id) else {
        return Err(Error::NotFound(format!("rule {id} not found")));
    };
    let mut tx = store.begin().await?;
    tx.delete_rule(&scope, id).await?;
    tx.append_audit(&actor.audit_entry(&rule.tenant, "rule.delete", &format!("rule/{id}"), &rule.body, ())).await?;
    tx.commit().await?;
    Ok(())
}

/// Where webhooks may point (the one policy, [`crate::egress::check_webhook_url`]).
pub use crate::egress::check_webhook_url;

/// Registers a webhook signed with `secret`; deliveries start with the events after this moment.
pub async fn create_webhook(
    store: &Store,
    actor: &Actor,
    tenant: Option<&str>,
    url: &str,
    allow_private: bool,
    secret: &[u8],
) -> Result<Webhook> {
    actor.require(Action::ManageAccess)?;
    let tenant = actor.tenant_or_all(tenant)?;
    tenant_must_exist(store, &tenant).await?;
    check_webhook_url(url, allow_private)?;
    let cursor = store.last_event_id().await?;
    let mut tx = store.begin().await?;
    let hook = tx.create_webhook(&tenant, url, secret, cursor).await?;
    tx.append_audit(&actor.audit_entry(&tenant, "webhook.create", &format!("webhook/{}", hook.id), (), url)).await?;
    tx.commit().await?;
    Ok(hook)
}

/// Deletes a webhook visible to the actor.
pub async fn delete_webhook(store: &Store, actor: &Actor, id: &str) -> Result<()> {
    actor.require(Action::ManageAccess)?;
    let scope = actor.scope();
    let Some(hook) = store.list_webhooks(&scope).await?.into_iter().find(|w| w.id == id) else {
        return Err(Error::NotFound(format!("webhook {id} not found")));
    };
    let mut tx = store.begin().await?;
    tx.delete_webhook(&scope, id).await?;
    tx.append_audit(&actor.audit_entry(&hook.tenant, "webhook.delete", &format!("webhook/{id}"), &hook.url, ()))
        .await?;
    tx.commit().await?;
    Ok(())
}
