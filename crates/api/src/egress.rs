//! Outbound HTTP on a tenant's behalf (webhook deliveries), with server-side request forgery
//! stopped at every delivery:
//!
//! - the target URL is checked again (`cmp::egress::check_webhook_url`: scheme, literal addresses,
//!   names of this host), since the operator may have turned `webhook_allow_private` off since;
//! - a host name is resolved by a [`Resolver`] (the system's by default; tests map names to loopback
//!   without real DNS) and **every** address it resolves to is checked against the one deny list,
//!   `cmp::egress::denied`: one denied address refuses the name. The client connects only to the
//!   addresses checked (reqwest asks this resolver and nothing else), so a second lookup cannot move
//!   the connection elsewhere (DNS rebinding);
//! - redirects are not followed (a 3xx is a failed delivery) and no proxy from the environment is
//!   used;
//! - the tenant sees "delivery failed", with the HTTP status when an allowed address answered; the
//!   cause (refused, timed out, TLS, denied address) goes to the operator's log only, so a tenant
//!   cannot use webhooks to tell closed ports from filtered ones.

use std::fmt;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

/// What the tenant sees of a failed delivery (followed by `: HTTP <status>` when one was answered).
pub const FAILED: &str = "delivery failed";

/// How long a delivery may take, from the connection to the end of the answer's head.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// Resolves a host name to its addresses.
pub trait Resolver: Send + Sync + fmt::Debug {
    /// The addresses of `host`.
    fn lookup<'a>(&'a self, host: &'a str) -> Pin<Box<dyn Future<Output = io::Result<Vec<IpAddr>>> + Send + 'a>>;
}

/// The operating system's resolver (`getaddrinfo`, through tokio).
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemResolver;

impl Resolver for SystemResolver {
    fn lookup<'a>(&'a self, host: &'a str) -> Pin<Box<dyn Future<Output = io::Result<Vec<IpAddr>>> + Send + 'a>> {
        Box::pin(async move { Ok(tokio::net::lookup_host((host, 0)).await?.map(|a| a.ip()).collect()) })
    }
}

/// The addresses of a name were refused.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Refused(String);

/// The addresses of `host` Warden may connect to: all of `addrs`, or none when one of them is
/// denied (unless `allow_private`) or there are none.
pub fn screen(host: &str, addrs: Vec<IpAddr>, allow_private: bool) -> Result<Vec<IpAddr>, Refused> {
    if addrs.is_empty() {
        return Err(Refused(format!("{host} has no address")));
    }
    if !allow_private {
        if let Some((ip, why)) = addrs.iter().find_map(|ip| cmp::egress::denied(*ip).map(|d| (*ip, d))) {
            return Err(Refused(format!("{host} resolves to {ip}, which is not a public address ({why})")));
        }
    }
    Ok(addrs)
}

/// reqwest's view of a [`Resolver`], screening what it answers.
struct Screened {
    resolver: Arc<dyn Resolver>,
    allow_private: bool,
}

impl reqwest::dns::Resolve for Screened {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let (resolver, allow_private) = (self.resolver.clone(), self.allow_private);
        Box::pin(async move {
            let host = name.as_str();
            let addrs = screen(host, resolver.lookup(host).await?, allow_private)?;
            // Port 0: reqwest puts the URL's port (or the scheme's) in its place.
            let addrs: reqwest::dns::Addrs = Box::new(addrs.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(addrs)
        })
    }
}

/// The HTTP client of webhook deliveries: names resolved by `resolver` and screened, no redirects,
/// no proxy, [`TIMEOUT`].
pub fn client(resolver: Arc<dyn Resolver>, allow_private: bool) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .dns_resolver(Arc::new(Screened { resolver, allow_private }))
        .build()
}

/// A failed delivery: what the tenant sees and what the operator's log gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// For the tenant: [`FAILED`], or `delivery failed: HTTP <status>`.
    pub public: String,
    /// For the operator's log: the cause.
    pub detail: String,
}

impl Failure {
    /// A failure whose cause only the operator sees.
    pub fn hidden(cause: &dyn std::error::Error) -> Self {
        let mut detail = cause.to_string();
        let mut source = cause.source();
        while let Some(s) = source {
            detail.push_str(": ");
            detail.push_str(&s.to_string());
            source = s.source();
        }
        Failure { public: FAILED.to_string(), detail }
    }
}

/// POSTs the JSON `body` with its `signature` to `url`, after checking the URL again.
pub async fn post(
    client: &reqwest::Client,
    url: &str,
    allow_private: bool,
    body: Vec<u8>,
    signature: String,
) -> Result<(), Failure> {
    cmp::egress::check_webhook_url(url, allow_private).map_err(|e| Failure::hidden(&e))?;
    let response = client
        .post(url)
        .header("content-type", "application/json")
        .header("warden-signature", signature)
        .body(body)
        .send()
        .await
        .map_err(|e| Failure::hidden(&e))?;
    let status = response.status();
    if status.is_success() {
        Ok(())
    } else {
        Err(Failure { public: format!("{FAILED}: HTTP {}", status.as_u16()), detail: format!("answered {status}") })
    }
}

/// What the tenant is shown of a recorded failure: the recorded text when it is one of the texts
/// above, otherwise [`FAILED`] (failures recorded by older versions held the HTTP client's words).
pub fn public_error(recorded: &str) -> String {
    let status = |s: &str| s.len() == 3 && s.bytes().all(|b| b.is_ascii_digit());
    if recorded.is_empty() || recorded == FAILED {
        return recorded.to_string();
    }
    let code = recorded.strip_prefix(FAILED).and_then(|r| r.strip_prefix(": HTTP ")).or(recorded.strip_prefix("HTTP "));
    match code {
        Some(code) if status(code) => format!("{FAILED}: HTTP {code}"),
        _ => FAILED.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorded_failures_are_shown_uniformly() {
        assert_eq!(public_error(""), "");
        assert_eq!(public_error("delivery failed"), "delivery failed");
        assert_eq!(public_error("delivery failed: HTTP 503"), "delivery failed: HTTP 503");
        assert_eq!(public_error("HTTP 404"), "delivery failed: HTTP 404", "as older versions recorded it");
        for detailed in [
            "error sending request for url (https://10.0.0.1:22/): connection refused",
            "operation timed out",
            "invalid peer certificate: UnknownIssuer",
            "HTTP 5033",
            "delivery failed: HTTP abc",
        ] {
            assert_eq!(public_error(detailed), "delivery failed", "{detailed}");
        }
    }
}
