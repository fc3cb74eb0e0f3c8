//! `warden devices psk add|list|remove` and `warden devices bootstrap add|list|remove`: the DTLS-PSK
//! credentials of LwM2M endpoints towards the LwM2M server and towards the bootstrap server
//! (issue #19).
//! The key is given in hex, checked (hex digits, even count, 8 to 64 bytes: a bad one exits 2
//! naming `--key` and what is wrong), sealed like K/OPc, and never printed back; `list` shows
//! endpoints, identities, SIMs and tenants only. Every change is in the audit trail (without key).

use serde_json::json;
use store::access::Scope;
use store::device_psk::{NewDevicePsk, PskRole};
use store::{Store, StoreError};
use zeroize::{Zeroize, Zeroizing};

use crate::cli::PskCommand;
use crate::hexarg::parse_hex;
use crate::Failure;

/// Key length bounds, bytes.
const KEY_LEN: std::ops::RangeInclusive<usize> = 8..=64;
/// The longest identity (what the DTLS server accepts).
const MAX_IDENTITY: usize = dtls::psk::MAX_IDENTITY_LEN;

fn usage(flag: &str, msg: impl std::fmt::Display) -> Failure {
    Failure::Usage(format!("{flag}: {msg}"))
}

fn failed(e: StoreError) -> Failure {
    match e {
        StoreError::NotFound(m) | StoreError::Conflict(m) => Failure::Usage(m),
        other => Failure::Failed(other.to_string()),
    }
}

/// Checks a name given on the command line: not empty, not too long, no control characters.
fn check_name(flag: &str, s: &str, max: usize) -> Result<(), Failure> {
    if s.is_empty() {
        return Err(usage(flag, "must not be empty"));
    }
    if s.len() > max {
        return Err(usage(flag, format!("{} bytes, at most {max}", s.len())));
    }
    if let Some(c) = s.chars().find(|c| c.is_control()) {
        return Err(usage(flag, format!("control character {:?} not allowed", c)));
    }
    Ok(())
}

/// Parses the key: hex, of an accepted length, wiped after use.
pub fn parse_key(hex: &str) -> Result<Zeroizing<Vec<u8>>, Failure> {
    let key = Zeroizing::new(parse_hex(hex).map_err(|e| usage("--key", e))?);
    if !KEY_LEN.contains(&key.len()) {
        return Err(usage(
            "--key",
            format!("{} bytes, must be {} to {} bytes", key.len(), KEY_LEN.start(), KEY_LEN.end()),
        ));
    }
    Ok(key)
}

/// Runs one `warden devices psk` (`role` Server) or `warden devices bootstrap` (Bootstrap) command.
pub async fn psk(store: &Store, role: PskRole, cmd: PskCommand) -> Result<String, Failure> {
    let (what, action) = match role {
        PskRole::Server => ("PSK", "devices.psk"),
        PskRole::Bootstrap => ("bootstrap PSK", "devices.bootstrap"),
    };
    match cmd {
        PskCommand::Add { endpoint, identity, key: mut key_hex, imsi } => {
            let key = parse_key(&key_hex);
            key_hex.zeroize();
            let key = key?;
            check_name("ENDPOINT", &endpoint, 255)?;
            check_name("--identity", &identity, MAX_IDENTITY)?;
            let imsi = imsi.map(|i| i.parse::<ids::Imsi>().map_err(|e| usage("--imsi", e))).transpose()?;
            let new = NewDevicePsk { endpoint: endpoint.clone(), identity: identity.clone(), key, imsi };
            let mut tx = store.begin().await.map_err(failed)?;
            let tenant = match role {
                PskRole::Server => tx.put_device_psk(&new).await,
                PskRole::Bootstrap => tx.put_bootstrap_psk(&new).await,
            }
            .map_err(failed)?;
            let after = json!({"endpoint": endpoint, "identity": identity, "imsi": new.imsi.as_ref().map(|i| i.to_string()), "tenant": tenant});
            let entry = cmp::Actor::cli().audit_entry(&tenant, &format!("{action}.add"), &endpoint, (), &after);
            tx.append_audit(&entry).await.map_err(failed)?;
            tx.commit().await.map_err(failed)?;
            Ok(format!("stored the {what} of endpoint {endpoint} (identity {identity:?}, tenant {tenant})"))
        }
        PskCommand::List { tenant } => {
            let scope = tenant.map_or(Scope::Operator, Scope::Tenant);
            let list = match role {
                PskRole::Server => store.device_psks(&scope).await,
                PskRole::Bootstrap => store.bootstrap_psks(&scope).await,
            }
            .map_err(failed)?;
            let rows: Vec<_> = list
                .iter()
                .map(|p| {
                    json!({"endpoint": p.endpoint, "identity": p.identity, "imsi": p.imsi, "tenant": p.tenant,
                        "created_at": p.created_at, "updated_at": p.updated_at})
                })
                .collect();
            Ok(serde_json::Value::Array(rows).to_string())
        }
        PskCommand::Remove { endpoint } => {
            let mut tx = store.begin().await.map_err(failed)?;
            let gone = match role {
                PskRole::Server => tx.remove_device_psk(&Scope::Operator, &endpoint).await,
                PskRole::Bootstrap => tx.remove_bootstrap_psk(&Scope::Operator, &endpoint).await,
            }
            .map_err(failed)?;
            let Some(gone) = gone else {
                return Err(Failure::Failed(format!("no {what} for endpoint {endpoint}")));
            };
            let before = json!({"endpoint": gone.endpoint, "identity": gone.identity, "tenant": gone.tenant});
            let entry =
                cmp::Actor::cli().audit_entry(&gone.tenant, &format!("{action}.remove"), &endpoint, &before, ());
            tx.append_audit(&entry).await.map_err(failed)?;
            tx.commit().await.map_err(failed)?;
            Ok(format!("removed the {what} of endpoint {endpoint}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(r: Result<Zeroizing<Vec<u8>>, Failure>) -> String {
        match r {
            Err(Failure::Usage(m)) => m,
            other => panic!("{:?}", other.map(|k| k.len())),
        }
    }

    #[test]
    fn keys_are_checked_precisely() {
        assert_eq!(parse_key("00112233445566778899").unwrap().len(), 10);
        assert_eq!(msg(parse_key("0011223344556677zz")), "--key: 'z' at position 17 is not a hex digit");
        assert_eq!(msg(parse_key("001122334455667")), "--key: odd number of hex digits (15)");
        assert_eq!(msg(parse_key("0011")), "--key: 2 bytes, must be 8 to 64 bytes");
        assert_eq!(msg(parse_key("")), "--key: empty hex string");
    }
}
