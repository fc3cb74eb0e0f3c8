//! Recording command-line actions in the audit trail, and `warden audit-log verify|show`.

use store::audit::AuditEntry;
use store::Store;

use crate::Failure;

/// The actor of a command-line action: `cli:` and the operating-system user.
fn actor() -> String {
    format!("cli:{}", std::env::var("USER").or_else(|_| std::env::var("LOGNAME")).unwrap_or_else(|_| "unknown".into()))
}

/// Appends one entry for a successful command. The command line runs with the operator's rights.
pub async fn record(store: &Store, action: &str, resource: &str, before: &str, after: &str) -> Result<(), Failure> {
    let entry = AuditEntry {
        actor: actor(),
        role: "operator_admin".into(),
        tenant: "*".into(),
        source: "local".into(),
        action: action.into(),
        resource: resource.into(),
        before: before.into(),
        after: after.into(),
    };
    store
        .append_audit(&entry)
        .await
        .map(|_| ())
        .map_err(|e| Failure::Failed(format!("the change was made but the audit trail failed: {e}")))
}

/// `warden audit-log verify`.
pub async fn verify(store: &Store) -> Result<String, Failure> {
    match store.verify_audit().await.map_err(|e| Failure::Failed(e.to_string()))? {
        Ok(n) => {
            let head = store.audit_tail(1).await.map_err(|e| Failure::Failed(e.to_string()))?;
            let last = head.first().map_or(store::audit::GENESIS.to_string(), |r| r.hash.clone());
            Ok(format!("audit log intact: {n} entries, last hash {last}"))
        }
        Err(broken) => Err(Failure::Failed(broken.to_string())),
    }
}

/// `warden audit-log show`.
pub async fn show(store: &Store, limit: i64) -> Result<String, Failure> {
    let rows = store.audit_tail(limit.max(1)).await.map_err(|e| Failure::Failed(e.to_string()))?;
    Ok(rows
        .iter()
        .map(|r| {
            serde_json::json!({
                "id": r.id, "at": r.at, "actor": r.entry.actor, "role": r.entry.role, "tenant": r.entry.tenant,
                "source": r.entry.source, "action": r.entry.action, "resource": r.entry.resource,
                "before": r.entry.before, "after": r.entry.after, "hash": r.hash,
            })
            .to_string()
        })
        .collect::<Vec<_>>()
        .join("\n"))
}
