//! The registration interface's parameters (LwM2M Core TS 1.1 §6.2.1 and Transport §6.4): `ep`
//! (endpoint client name, mandatory on register), `lt` (lifetime, seconds, default 86400), `lwm2m`
//! (version), `b` (binding: `U`, `UQ`, `S`, `SQ`, `US`, `UQS`, `N`, `T` …), `sms`, `Q` (queue mode).
//! Anything else is ignored as the specification allows; bad values are refused with 4.00, an
//! unsupported version with 4.12 Precondition Failed (§6.2.1.1).

/// Default lifetime (§E.2, Server object resource 1): 86400 s.
pub const DEFAULT_LIFETIME: u32 = 86_400;
/// Longest endpoint name accepted.
pub const MAX_ENDPOINT_LEN: usize = 128;

/// The LwM2M enabler versions accepted.
pub const VERSIONS: &[&str] = &["1.0", "1.1", "1.2"];

/// Registration or update parameters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params {
    /// `ep`.
    pub endpoint: Option<String>,
    /// `lt`.
    pub lifetime: Option<u32>,
    /// `lwm2m`.
    pub version: Option<String>,
    /// `b`.
    pub binding: Option<String>,
    /// `Q` present.
    pub queue_mode: bool,
    /// `sms`.
    pub sms: Option<String>,
}

/// Why parameters are refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamError {
    /// A value that is not what the parameter holds (4.00).
    #[error("query parameter {0}: {1}")]
    Bad(&'static str, String),
    /// A mandatory parameter is missing (4.00).
    #[error("query parameter {0} is missing")]
    Missing(&'static str),
    /// An LwM2M version this server does not speak (4.12).
    #[error("LwM2M version {0:?} is not supported (1.0, 1.1, 1.2)")]
    Version(String),
}

fn endpoint_ok(ep: &str) -> bool {
    !ep.is_empty()
        && ep.len() <= MAX_ENDPOINT_LEN
        && ep.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._:~@+".contains(&b))
}

/// Reads the Uri-Query items of a register (`register = true`) or update request.
pub fn parse(queries: &[&str], register: bool, max_lifetime: u32) -> Result<Params, ParamError> {
    let mut p = Params::default();
    for q in queries {
        let (k, v) = match q.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (*q, None),
        };
        match (k, v) {
            ("ep", Some(v)) if register => {
                if !endpoint_ok(v) {
                    return Err(ParamError::Bad("ep", "1 to 128 characters of letters, digits and -._:~@+".into()));
                }
                p.endpoint = Some(v.to_string());
            }
            ("lt", Some(v)) => {
                let lt: u32 =
                    v.parse().map_err(|_| ParamError::Bad("lt", format!("{v:?} is not a number of seconds")))?;
                if lt == 0 || lt > max_lifetime {
                    return Err(ParamError::Bad("lt", format!("{lt} is outside 1..={max_lifetime}")));
                }
                p.lifetime = Some(lt);
            }
            ("lwm2m", Some(v)) => {
                if !VERSIONS.contains(&v) {
                    return Err(ParamError::Version(v.chars().take(16).collect()));
                }
                p.version = Some(v.to_string());
            }
            ("b", Some(v)) => {
                if v.is_empty() || v.len() > 4 || !v.bytes().all(|b| b"UQSNT".contains(&b)) {
                    return Err(ParamError::Bad(
                        "b",
                        format!("{:?} is not a binding", v.chars().take(8).collect::<String>()),
                    ));
                }
                p.queue_mode |= v.contains('Q');
                p.binding = Some(v.to_string());
            }
            ("Q", None) => p.queue_mode = true,
            ("sms", Some(v)) => p.sms = Some(v.chars().take(32).collect()),
            ("ep" | "lt" | "lwm2m" | "b" | "sms", _) if !register && k == "ep" => {
                return Err(ParamError::Bad("ep", "the endpoint name cannot change in an update".into()))
            }
            ("lt" | "lwm2m" | "b" | "sms" | "ep", None) => {
                return Err(ParamError::Bad("value", format!("{k} without a value")))
            }
            _ => {}
        }
    }
    if register && p.endpoint.is_none() {
        return Err(ParamError::Missing("ep"));
    }
    if register && p.version.is_none() {
        // LwM2M 1.0 clients send it too; none at all is a 1.0-era client (accepted as 1.0).
        p.version = Some("1.0".into());
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn register_parameters() {
        let p = parse(&["ep=urn:imei:490154203237518", "lt=300", "lwm2m=1.1", "b=UQ"], true, 86400 * 30).unwrap();
        assert_eq!(p.endpoint.as_deref(), Some("urn:imei:490154203237518"));
        assert_eq!(p.lifetime, Some(300));
        assert!(p.queue_mode);
        assert_eq!(parse(&["lt=300"], true, 1000), Err(ParamError::Missing("ep")));
        assert!(matches!(parse(&["ep=a", "lt=0"], true, 1000), Err(ParamError::Bad("lt", _))));
        assert!(matches!(parse(&["ep=a", "lt=x"], true, 1000), Err(ParamError::Bad("lt", _))));
        assert!(matches!(parse(&["ep=a", "lwm2m=2.0"], true, 1000), Err(ParamError::Version(_))));
        assert!(matches!(parse(&["ep=a b"], true, 1000), Err(ParamError::Bad("ep", _))));
        assert!(matches!(parse(&["ep=a", "b=X"], true, 1000), Err(ParamError::Bad("b", _))));
        assert!(matches!(parse(&["ep=b"], false, 1000), Err(ParamError::Bad("ep", _))));
        assert_eq!(parse(&["lt=60", "foo=bar"], false, 1000).unwrap().lifetime, Some(60));
    }
}
