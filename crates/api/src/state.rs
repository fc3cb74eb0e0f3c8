//! Shared state of the API: the store, the link to the HSS, limits and settings (the `[http]`
//! configuration section, [`Settings`]), the rate limiters, a wake-up for live event streams, the
//! bulk-job runner, and the token that stops the platform.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use cmp::HssNotifier;
use serde::Deserialize;
use store::Store;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::lifecycle::JobRunner;
use crate::ratelimit::RateLimiter;
use crate::tls::TlsFiles;

/// `[http]` in the configuration: the API's listener, limits and TLS. Every default is written
/// once, as the serde default of its field; `Settings::default()` is what an empty `[http]` gives.
/// Fields whose unit differs from the key's are converted as they are read (`session_hours` →
/// [`Settings::session_secs`], `session_idle_minutes` → [`Settings::session_idle_secs`]).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Listen address (loopback by default).
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// Serve the API at all.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Requests per second per token (average).
    #[serde(default = "default_rate")]
    pub rate_per_sec: f64,
    /// Burst per token.
    #[serde(default = "default_burst")]
    pub rate_burst: f64,
    /// Largest request body in bytes (`max_body_bytes`; bulk job requests may be larger, see `max_job_body`).
    #[serde(rename = "max_body_bytes", default = "default_max_body")]
    pub max_body: usize,
    /// Largest bulk-job request body in bytes (`max_job_body_bytes`; a list of a million IMSIs is about 18 MB).
    #[serde(rename = "max_job_body_bytes", default = "default_max_job_body")]
    pub max_job_body: usize,
    /// Lifetime of a login session token in seconds (configured in hours: `session_hours`).
    #[serde(rename = "session_hours", default = "default_session_secs", deserialize_with = "hours_as_secs")]
    pub session_secs: i64,
    /// Idle timeout of a portal cookie session in seconds (configured in minutes:
    /// `session_idle_minutes`, default 15); each authenticated request extends it.
    #[serde(
        rename = "session_idle_minutes",
        default = "default_session_idle_secs",
        deserialize_with = "minutes_as_secs"
    )]
    pub session_idle_secs: i64,
    /// Allow webhooks to loopback and private addresses and plain http (off by default: server-side
    /// request forgery).
    #[serde(default)]
    pub webhook_allow_private: bool,
    /// Most IMSIs in one bulk job's list (`jobs_max_items`).
    #[serde(default = "default_job_max_items")]
    pub jobs_max_items: usize,
    /// Bulk jobs over more IMSIs than this (and every job over a filter, whose size is known only as
    /// it runs, and every job that terminates) need a step-up from a person's session
    /// (`step_up_bulk_items`, default 100).
    #[serde(default = "default_step_up_bulk_items")]
    pub step_up_bulk_items: usize,
    /// Most bulk jobs one tenant may have queued or running (`jobs_per_tenant`).
    #[serde(default = "default_jobs_per_tenant")]
    pub jobs_per_tenant: u32,
    /// Login attempts per minute per source address.
    #[serde(default = "default_login_rate")]
    pub login_per_minute: f64,
    /// Password hashes (argon2id) computed at once, on blocking threads apart from the async workers
    /// that also serve Diameter (default: half the cores, at least one).
    #[serde(default)]
    pub password_hash_workers: Option<usize>,
    /// Password checks that may wait for a hashing thread; beyond that, logins are answered 503 at
    /// once (a login flood cannot queue without bound).
    #[serde(default = "default_hash_queue")]
    pub password_hash_queue: usize,
    /// Breached-password corpus (SHA-1 per line, Have I Been Pwned format) refused as new passwords;
    /// read by [`Settings::load_breached`] into [`Settings::breached`].
    #[serde(default)]
    pub breached_passwords_file: Option<PathBuf>,
    /// Seconds a client has to send a whole request head (also a TLS handshake, and the longest an
    /// idle keep-alive connection is kept); then the connection is closed.
    #[serde(default = "default_header_read_timeout", deserialize_with = "timeout_secs")]
    pub header_read_timeout_secs: u64,
    /// Seconds a client has to send a whole request body, from the end of its head; then 408.
    #[serde(default = "default_body_read_timeout", deserialize_with = "timeout_secs")]
    pub body_read_timeout_secs: u64,
    /// Connections open at once, from everyone; more are closed as they are accepted.
    #[serde(default = "default_max_connections", deserialize_with = "at_least_one")]
    pub max_connections: usize,
    /// Connections open at once from one source (an IPv4 address, an IPv6 /64); more are closed as
    /// they are accepted.
    #[serde(default = "default_max_connections_per_source", deserialize_with = "at_least_one")]
    pub max_connections_per_source: usize,
    /// HTTPS (`[http.tls]`).
    #[serde(default)]
    pub tls: Option<TlsFiles>,
    /// A reverse proxy in front terminates TLS: `warden serve` then accepts a non-loopback `listen`
    /// without `[http.tls]`, and responses carry HSTS as they would with TLS (off by default).
    #[serde(default)]
    pub behind_tls_proxy: bool,
    /// Login with an OpenID Connect provider (`[http.oidc]`; absent: none).
    #[serde(default)]
    pub oidc: Option<crate::oidc::OidcSettings>,
    /// The origin people reach the portal at (`https://portal.example.com`, `http://localhost:8080`):
    /// the WebAuthn relying party of passkeys. Its host must be a domain name. Default: derived from
    /// `listen` ([`Settings::public_origin`]).
    #[serde(default)]
    pub public_origin: Option<String>,
    /// Breached-password corpus checked when people choose passwords (besides the built-in list).
    #[serde(skip)]
    pub breached: Option<Arc<cmp::breached::BreachedList>>,
    /// How webhook deliveries resolve host names (`None`: the system's resolver). Tests put a
    /// resolver of their own here, so no real DNS is asked.
    #[serde(skip)]
    pub webhook_resolver: Option<Arc<dyn crate::egress::Resolver>>,
}

impl Settings {
    /// Whether clients reach the API over HTTPS: TLS here, or at a proxy in front.
    pub fn https(&self) -> bool {
        self.tls.is_some() || self.behind_tls_proxy
    }

    /// The portal's origin: `public_origin` when set; otherwise `http://` (`https://` with TLS here or
    /// at a proxy) and the listen address, a loopback address written `localhost` (browsers accept
    /// passkeys only for domain names; `localhost` counts as a secure context even over http).
    pub fn public_origin(&self) -> String {
        if let Some(o) = &self.public_origin {
            return o.trim_end_matches('/').to_string();
        }
        let scheme = if self.https() { "https" } else { "http" };
        let ip = self.listen.ip();
        let host = if ip.is_loopback() {
            "localhost".to_string()
        } else if ip.is_ipv6() {
            format!("[{ip}]")
        } else {
            ip.to_string()
        };
        format!("{scheme}://{host}:{}", self.listen.port())
    }

    /// The per-tenant quotas on bulk jobs.
    pub fn job_limits(&self) -> cmp::jobs::JobLimits {
        cmp::jobs::JobLimits { max_items: self.jobs_max_items, max_unfinished: i64::from(self.jobs_per_tenant) }
    }

    /// The password rules these settings ask for, with a new hashing pool of the configured size
    /// (make it once per process: the pool's bound holds only if everyone shares it).
    pub fn passwords(&self) -> cmp::access::PasswordRules {
        let workers = self.password_hash_workers.unwrap_or_else(cmp::hashing::default_workers);
        let hashing = cmp::hashing::HashPool::new(workers, self.password_hash_queue);
        cmp::access::PasswordRules { breached: self.breached.clone(), hashing }
    }
}

impl Default for Settings {
    fn default() -> Self {
        let empty =
            serde::de::value::MapDeserializer::<_, serde::de::value::Error>::new(std::iter::empty::<(&str, &str)>());
        Settings::deserialize(empty).expect("every [http] field has a default")
    }
}

/// The breached-password corpus could not be read.
#[derive(Debug, thiserror::Error)]
#[error("http.breached_passwords_file {}: {reason}", path.display())]
pub struct BreachedFileError {
    /// The file.
    pub path: PathBuf,
    /// Why (as the corpus loader says it).
    pub reason: String,
}

impl Settings {
    /// Reads the corpus `breached_passwords_file` names (if any) into `breached`; returns how many
    /// hashes it holds.
    pub fn load_breached(&mut self) -> Result<Option<usize>, BreachedFileError> {
        let Some(path) = &self.breached_passwords_file else { return Ok(None) };
        let list = cmp::breached::BreachedList::load(path)
            .map_err(|reason| BreachedFileError { path: path.clone(), reason })?;
        let n = list.len();
        self.breached = Some(Arc::new(list));
        Ok(Some(n))
    }
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8080))
}
fn yes() -> bool {
    true
}
fn default_rate() -> f64 {
    50.0
}
fn default_burst() -> f64 {
    100.0
}
fn default_max_body() -> usize {
    1 << 20
}
fn default_max_job_body() -> usize {
    32 << 20
}
fn default_session_secs() -> i64 {
    8 * 3600
}
fn default_session_idle_secs() -> i64 {
    15 * 60
}
fn default_step_up_bulk_items() -> usize {
    100
}

fn default_job_max_items() -> usize {
    cmp::jobs::JobLimits::default().max_items
}
fn default_jobs_per_tenant() -> u32 {
    cmp::jobs::JobLimits::default().max_unfinished as u32
}
fn default_hash_queue() -> usize {
    32
}
fn default_login_rate() -> f64 {
    10.0
}
fn default_header_read_timeout() -> u64 {
    10
}
fn default_body_read_timeout() -> u64 {
    60
}
fn default_max_connections() -> usize {
    512
}
fn default_max_connections_per_source() -> usize {
    64
}
/// A timeout in seconds: at least one, at most a day.
fn timeout_secs<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let v = u64::deserialize(d)?;
    if !(1..=86_400).contains(&v) {
        return Err(serde::de::Error::custom(format!("must be between 1 and 86400 seconds, not {v}")));
    }
    Ok(v)
}
fn at_least_one<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de> + PartialOrd + From<u8>,
{
    let v = T::deserialize(d)?;
    if v < T::from(1) {
        return Err(serde::de::Error::custom("must be at least 1"));
    }
    Ok(v)
}
fn minutes_as_secs<'de, D: serde::Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    let v = u32::deserialize(d)?;
    if !(1..=1440).contains(&v) {
        return Err(serde::de::Error::custom(format!("must be between 1 and 1440 minutes, not {v}")));
    }
    Ok(i64::from(v) * 60)
}
fn hours_as_secs<'de, D: serde::Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    Ok(i64::from(u32::deserialize(d)?) * 3600)
}

/// The state every handler sees.
#[derive(Clone)]
pub struct AppState(pub Arc<Inner>);

/// What [`AppState`] holds.
pub struct Inner {
    /// The store.
    pub store: Store,
    /// The HSS in this process.
    pub hss: Arc<dyn HssNotifier>,
    /// Settings.
    pub settings: Settings,
    /// Per-token limiter.
    pub limiter: RateLimiter,
    /// Per-source login limiter.
    pub login_limiter: RateLimiter,
    /// The WebAuthn relying party of passkeys, or why there is none (a `public_origin` without a
    /// domain name).
    pub passkeys: std::result::Result<Arc<cmp::passkey::RelyingParty>, String>,
    /// Password rules and the one hashing pool of the API.
    pub passwords: cmp::access::PasswordRules,
    /// Bumped whenever the API records events (wakes live streams and webhook delivery).
    pub events: watch::Sender<u64>,
    /// At most two bulk-job batches run at once, in fair turns between tenants.
    pub job_slots: cmp::fair::FairSlots,
    /// Where bulk jobs run (they stop with [`Inner::shutdown`] and resume at the next start).
    pub jobs: JobRunner,
    /// Cancelled when the platform stops: live event streams end, bulk jobs and the background
    /// work of [`crate::start_background`] stop.
    pub shutdown: CancellationToken,
    /// The signalling firewall of this process, once `warden serve` has built it (`/firewall`).
    pub firewall: std::sync::OnceLock<Arc<dyn crate::routes::firewall::FirewallView>>,
    /// The OTA engine of this process, once `warden serve` has built it (`/ota/jobs`).
    pub ota: std::sync::OnceLock<otajobs::Engine>,
    /// The LwM2M server of this process, once `warden serve` has built it (`/devices`).
    pub devices: std::sync::OnceLock<Arc<lwm2m::runtime::Service>>,
    /// What re-reads a device's objects 3/4 into its snapshot (`POST /devices/{endpoint}/refresh`).
    pub device_refresh: std::sync::OnceLock<Arc<dyn crate::routes::devices::DeviceRefresh>>,
}

impl AppState {
    /// Hands the API a view of the signalling firewall running in this process (once; later calls
    /// are ignored).
    pub fn set_firewall(&self, view: Arc<dyn crate::routes::firewall::FirewallView>) {
        let _ = self.0.firewall.set(view);
    }

    /// Hands the API the OTA engine running in this process (once; later calls are ignored).
    pub fn set_ota(&self, engine: otajobs::Engine) {
        let _ = self.0.ota.set(engine);
    }

    /// Hands the API the LwM2M server running in this process (once; later calls are ignored).
    pub fn set_devices(&self, service: Arc<lwm2m::runtime::Service>) {
        let _ = self.0.devices.set(service);
    }

    /// Hands the API what refreshes device snapshots in this process (once; later calls are ignored).
    pub fn set_device_refresh(&self, refresh: Arc<dyn crate::routes::devices::DeviceRefresh>) {
        let _ = self.0.device_refresh.set(refresh);
    }

    /// State over `store`, telling `hss` about changes, with a shutdown token of its own.
    pub fn new(store: Store, hss: Arc<dyn HssNotifier>, settings: Settings) -> Self {
        Self::with_shutdown(store, hss, settings, CancellationToken::new())
    }

    /// State that stops when `shutdown` is cancelled (a host process's token for the platform).
    pub fn with_shutdown(
        store: Store,
        hss: Arc<dyn HssNotifier>,
        settings: Settings,
        shutdown: CancellationToken,
    ) -> Self {
        let limiter = RateLimiter::new(settings.rate_per_sec, settings.rate_burst);
        let login_limiter = RateLimiter::new(settings.login_per_minute / 60.0, settings.login_per_minute);
        let passwords = settings.passwords();
        let passkeys = cmp::passkey::RelyingParty::new(&settings.public_origin()).map(Arc::new);
        if let Err(e) = &passkeys {
            tracing::warn!(error = %e, "passkeys are unavailable; set [http] public_origin");
        }
        AppState(Arc::new(Inner {
            passkeys,
            store,
            hss,
            passwords,
            settings,
            limiter,
            login_limiter,
            events: watch::channel(0).0,
            job_slots: cmp::fair::FairSlots::new(2),
            jobs: JobRunner::new(shutdown.clone()),
            shutdown,
            firewall: std::sync::OnceLock::new(),
            ota: std::sync::OnceLock::new(),
            devices: std::sync::OnceLock::new(),
            device_refresh: std::sync::OnceLock::new(),
        }))
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.0.store
    }

    /// The token that stops the platform (see [`Inner::shutdown`]).
    pub fn shutdown_token(&self) -> &CancellationToken {
        &self.0.shutdown
    }

    /// Wakes event streams.
    pub fn events_changed(&self) {
        self.0.events.send_modify(|n| *n += 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_limits_are_checked_as_they_are_read() {
        let read = |v: serde_json::Value| serde_json::from_value::<Settings>(v).map_err(|e| e.to_string());
        let s = read(serde_json::json!({})).unwrap();
        assert_eq!(
            (s.header_read_timeout_secs, s.body_read_timeout_secs, s.max_connections, s.max_connections_per_source),
            (10, 60, 512, 64)
        );
        for key in
            ["header_read_timeout_secs", "body_read_timeout_secs", "max_connections", "max_connections_per_source"]
        {
            let e = read(serde_json::json!({ key: 0 })).unwrap_err();
            assert!(e.contains("at least 1") || e.contains("between 1 and 86400"), "{key}: {e}");
        }
        for key in ["header_read_timeout_secs", "body_read_timeout_secs"] {
            assert!(read(serde_json::json!({ key: u64::MAX })).is_err(), "{key}: a timeout no clock can add");
            assert!(read(serde_json::json!({ key: 86_400 })).is_ok(), "{key}");
        }
    }
}
