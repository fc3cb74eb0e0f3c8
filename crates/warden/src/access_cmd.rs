//! `warden admin init`, `warden tenant create`, `warden token issue|revoke`: the access model of the
//! connectivity-management platform from the command line, through the same `cmp` use cases as the
//! API (acting as an operator admin). Tokens are printed once, never stored.

use cmp::Actor;

use crate::cli::TokenCommand;
use crate::config::Config;
use crate::{storage, Failure};

/// Creates the first operator admin: a token (on the first line of the answer, for scripts) and a
/// person with a random initial password for the portal. Refused when an operator admin exists (no
/// default credentials).
pub async fn admin_init(config: &Config, token_name: &str, username: &str) -> Result<String, Failure> {
    let store = storage::open_store(config).await?;
    let rules = config.http.passwords();
    let admin = cmp::access::init_operator_admin(&store, &rules, &Actor::cli(), token_name, username).await?;
    let portal = if config.http.https() { "https" } else { "http" };
    Ok(format!(
        "{token}\n(this token is shown once; store it safely)\n\n\
         operator admin: {user}\n\
         initial password: {pw}\n\
         (shown once; open the portal at {portal}://{listen}/ and log in as {user} with it: operator staff \
         always need a second factor, so the first login enrols an authenticator app)",
        token = admin.token,
        user = admin.username,
        pw = admin.password.as_str(),
        listen = config.http.listen,
    ))
}

/// Creates a tenant.
pub async fn tenant_create(config: &Config, name: &str) -> Result<String, Failure> {
    let store = storage::open_store(config).await?;
    cmp::access::create_tenant(&store, &Actor::cli(), name).await?;
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
            let request = cmp::access::TokenRequest { name, role, tenant, expires_days, allowed_sources: allow_source };
            let (_, token) = cmp::access::issue_token(&store, &Actor::cli(), &request).await?;
            Ok(format!("{token}\n(this token is shown once; store it safely)"))
        }
        TokenCommand::Revoke { id } => {
            cmp::access::revoke_token(&store, &Actor::cli(), &id).await?;
            Ok(format!("revoked token {id}"))
        }
    }
}
