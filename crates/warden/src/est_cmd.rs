//! `warden est …` (docs/est.md): one-time enrolment tokens (printed once), listing and revoking
//! device certificates. Each change is written to the audit trail (never the token itself).

use crate::cli::EstCommand;
use crate::config::Config;
use crate::Failure;

fn failed(e: impl std::fmt::Display) -> Failure {
    Failure::Failed(e.to_string())
}

/// Seconds of a TTL: a number of seconds, or a number with `s`, `m`, `h` or `d`.
pub fn parse_ttl(text: &str) -> Result<i64, String> {
    let t = text.trim();
    let (num, unit) = match t.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&t[..i], c),
        _ => (t, 's'),
    };
    let n: i64 = num.parse().map_err(|_| format!("--ttl {text:?}: a number with s, m, h or d expected"))?;
    let unit = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        other => return Err(format!("--ttl {text:?}: unit {other:?} is not s, m, h or d")),
    };
    n.checked_mul(unit).filter(|s| *s > 0).ok_or_else(|| format!("--ttl {text:?}: out of range"))
}

/// Runs a `warden est` command.
pub async fn run(config: &Config, cmd: EstCommand) -> Result<String, Failure> {
    let settings = config.devices.clone().map(|d| d.est).unwrap_or_default();
    settings.validate().map_err(Failure::Usage)?;
    let store = crate::storage::open_store(config).await?;
    let actor = cmp::Actor::cli();
    match cmd {
        EstCommand::Token(a) => {
            let ttl_secs = match &a.ttl {
                Some(t) => parse_ttl(t).map_err(Failure::Usage)?,
                None => i64::from(settings.token_hours) * 3600,
            };
            let enroller = est::Enroller::new(store.clone(), settings.policy());
            let req = est::tokens::TokenRequest {
                identity: est::identity::DeviceIdentity { endpoint: a.endpoint.clone(), imsi: a.imsi, imei: a.imei },
                tenant: a.tenant,
                ttl_secs,
            };
            let made = est::tokens::create(&enroller, &req, &actor.name()).await.map_err(|e| match e {
                est::EstError::BadRequest(m) | est::EstError::NotFound(m) => Failure::Usage(m),
                other => failed(other),
            })?;
            let summary = serde_json::json!({"endpoint": a.endpoint, "imsi": req.identity.imsi,
                "imei": req.identity.imei, "expires_at": made.expires_at});
            let entry =
                actor.audit_entry(&made.tenant, "est.token.create", &format!("devices/{}", a.endpoint), (), &summary);
            store.append_audit(&entry).await.map_err(failed)?;
            Ok(made.token.to_string())
        }
        EstCommand::Revoke { serial, reason } => {
            let serial = normalise_serial(&serial).map_err(Failure::Usage)?;
            let row = cmp::certificates::revoke(&store, &actor, &serial, Some(&reason)).await.map_err(|e| match e {
                cmp::Error::Invalid(m) => Failure::Usage(format!("--{m}")),
                other => failed(other),
            })?;
            let after = serde_json::json!({"serial": row.cert.serial, "status": row.status,
                "reason": row.revocation_reason, "revoked_at": row.revoked_at});
            Ok(after.to_string())
        }
        EstCommand::CaCerts { scope } => {
            let cas = store.device_ca_certs().await.map_err(failed)?;
            let pems: Vec<String> = cas
                .iter()
                .filter(|(s, _)| scope.as_ref().is_none_or(|want| want == s))
                .map(|(_, der)| pem_certificate(der))
                .collect();
            if pems.is_empty() {
                return Err(Failure::Failed(match scope {
                    Some(s) => format!("no device CA for scope {s:?} (it is made by the first `warden est token`)"),
                    None => "no device CA yet (it is made by the first `warden est token`)".into(),
                }));
            }
            Ok(pems.concat().trim_end().to_string())
        }
        EstCommand::List { endpoint, limit } => {
            let rows = store
                .device_certs(&store::access::Scope::Operator, endpoint.as_deref(), limit.clamp(1, 10_000))
                .await
                .map_err(failed)?;
            let lines: Vec<String> = rows
                .iter()
                .map(|r| {
                    serde_json::json!({"serial": r.cert.serial, "endpoint": r.cert.endpoint, "tenant": r.cert.tenant,
                        "subject": r.cert.subject, "san": r.cert.san, "not_before": r.cert.not_before, "not_after": r.cert.not_after,
                        "status": r.status, "revoked_at": r.revoked_at, "reason": r.revocation_reason})
                    .to_string()
                })
                .collect();
            Ok(lines.join("\n"))
        }
    }
}

/// A DER certificate as PEM (RFC 7468: base64 in lines of 64).
fn pem_certificate(der: &[u8]) -> String {
    let lines = est::pkcs7::base64_lines(der).replace("\r\n", "\n");
    format!("-----BEGIN CERTIFICATE-----\n{lines}-----END CERTIFICATE-----\n")
}

/// A serial as stored: lower-case hex without separators.
pub fn normalise_serial(text: &str) -> Result<String, String> {
    store::devcerts::normalise_serial(text).ok_or_else(|| format!("serial {text:?}: hex digits expected"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttls() {
        assert_eq!(parse_ttl("90").unwrap(), 90);
        assert_eq!(parse_ttl("30m").unwrap(), 1800);
        assert_eq!(parse_ttl("24h").unwrap(), 86_400);
        assert_eq!(parse_ttl("2d").unwrap(), 172_800);
        assert!(parse_ttl("1w").is_err());
        assert!(parse_ttl("-5").is_err());
        assert!(parse_ttl("h").is_err());
    }

    #[test]
    fn pem_lines_are_64_characters() {
        let pem = pem_certificate(&[0xab; 100]);
        let lines: Vec<&str> = pem.lines().collect();
        assert_eq!(lines.first(), Some(&"-----BEGIN CERTIFICATE-----"));
        assert_eq!(lines.last(), Some(&"-----END CERTIFICATE-----"));
        assert_eq!(lines[1].len(), 64);
        assert_eq!(lines[1..lines.len() - 1].concat().len(), 136, "100 bytes in base64");
    }
}
