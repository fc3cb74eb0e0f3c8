//! `warden admin init`, `warden tenant create`, `warden token issue|revoke`: the access model of the
//! connectivity-management platform from the command line. Tokens are printed once, never stored.

use store::access::{NewToken, Scope};

use crate::cli::TokenCommand;
use crate::config::Config;
use crate::{audit_cmd, storage, Failure};

fn failed(e: impl std::fmt::Display) -> Failure {
    Failure::Failed(e.to_string())
}

/// Creates the first operator admin token; refused when a live one exists (no default credentials).
pub async fn admin_init(config: &Config, name: &str) -> Result<String, Failure> {
    let store = storage::open_store(config).await?;
    let role = cmp::Role::OperatorAdmin.as_str();
    if store.count_operator_tokens(role).await.map_err(failed)? > 0 {
        return Err(Failure::Failed(
            "an operator admin token already exists; issue more with `warden token issue`".into(),
        ));
    }
    let (info, token) = store
        .issue_token(&NewToken {
            name: name.into(),
            role: role.into(),
            tenant: None,
            expires_at: None,
            allowed_sources: vec![],
        })
        .await
        .map_err(failed)?;
    audit_cmd::record(&store, "admin.init", &format!("token/{}", info.id), "", role).await?;
    Ok(format!("{token}\n(this token is shown once; store it safely)"))
}

/// Creates a tenant.
pub async fn tenant_create(config: &Config, name: &str) -> Result<String, Failure> {
    let store = storage::open_store(config).await?;
    store.create_tenant(name).await.map_err(failed)?;
    audit_cmd::record(&store, "tenant.create", &format!("tenant/{name}"), "", name).await?;
    Ok(format!("created tenant {name}"))
}

/// Issues or revokes tokens.
pub async fn token(config: &Config, cmd: TokenCommand) -> Result<String, Failure> {
    let store = storage::open_store(config).await?;
    match cmd {
        TokenCommand::Issue { role, tenant, name, expires_days, allow_source } => {
            let role: cmp::Role = role.parse().map_err(Failure::Usage)?;
            match (role.is_operator(), &tenant) {
                (true, Some(_)) => {
                    return Err(Failure::Usage("operator_admin tokens belong to no tenant: drop --tenant".into()))
                }
                (false, None) => return Err(Failure::Usage(format!("{role} tokens need --tenant"))),
                _ => {}
            }
            let expires_at = expires_days.map(|d| store::now() + i64::from(d) * 86_400);
            let (info, token) = store
                .issue_token(&NewToken {
                    name,
                    role: role.as_str().into(),
                    tenant: tenant.clone(),
                    expires_at,
                    allowed_sources: allow_source,
                })
                .await
                .map_err(failed)?;
            audit_cmd::record(&store, "token.issue", &format!("token/{}", info.id), "", role.as_str()).await?;
            Ok(format!("{token}\n(this token is shown once; store it safely)"))
        }
        TokenCommand::Revoke { id } => {
            if !store.revoke_token(&Scope::Operator, &id).await.map_err(failed)? {
                return Err(Failure::Failed(format!("no live token with id {id}")));
            }
            audit_cmd::record(&store, "token.revoke", &format!("token/{id}"), "live", "revoked").await?;
            Ok(format!("revoked token {id}"))
        }
    }
}
