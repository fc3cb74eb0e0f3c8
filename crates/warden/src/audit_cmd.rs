//! `warden audit-log verify|show`: checking and reading the audit trail (command-line actions are
//! recorded by the `cmp` use cases they run).

use store::Store;

use crate::Failure;

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
