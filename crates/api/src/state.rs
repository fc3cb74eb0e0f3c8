//! Shared state of the API: the store, the link to the HSS, limits and settings, the rate limiters,
//! a wake-up for live event streams, and the background job runner.

use std::sync::Arc;

use cmp::HssNotifier;
use store::Store;
use tokio::sync::{watch, Semaphore};

use crate::ratelimit::RateLimiter;

/// Settings from `[http]` in the configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Requests per second per token (average).
    pub rate_per_sec: f64,
    /// Burst per token.
    pub rate_burst: f64,
    /// Largest request body in bytes (bulk job requests may be larger, see `max_job_body`).
    pub max_body: usize,
    /// Largest bulk-job request body in bytes.
    pub max_job_body: usize,
    /// Lifetime of a login session token in seconds.
    pub session_secs: i64,
    /// Allow webhooks to loopback and private addresses (off by default: server-side request forgery).
    pub webhook_allow_private: bool,
    /// Login attempts per minute per source address.
    pub login_per_minute: f64,
    /// Breached-password corpus checked when people choose passwords (besides the built-in list).
    pub breached: Option<Arc<cmp::breached::BreachedList>>,
}

impl Settings {
    /// The password rules these settings ask for.
    pub fn passwords(&self) -> cmp::access::PasswordRules {
        cmp::access::PasswordRules { breached: self.breached.clone() }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            rate_per_sec: 50.0,
            rate_burst: 100.0,
            max_body: 1 << 20,
            max_job_body: 32 << 20,
            session_secs: 8 * 3600,
            webhook_allow_private: false,
            login_per_minute: 10.0,
            breached: None,
        }
    }
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
    /// Bumped whenever the API records events (wakes live streams and webhook delivery).
    pub events: watch::Sender<u64>,
    /// At most two bulk jobs run at once.
    pub job_slots: Arc<Semaphore>,
}

impl AppState {
    /// State over `store`, telling `hss` about changes.
    pub fn new(store: Store, hss: Arc<dyn HssNotifier>, settings: Settings) -> Self {
        let limiter = RateLimiter::new(settings.rate_per_sec, settings.rate_burst);
        let login_limiter = RateLimiter::new(settings.login_per_minute / 60.0, settings.login_per_minute);
        AppState(Arc::new(Inner {
            store,
            hss,
            settings,
            limiter,
            login_limiter,
            events: watch::channel(0).0,
            job_slots: Arc::new(Semaphore::new(2)),
        }))
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.0.store
    }

    /// Wakes event streams.
    pub fn events_changed(&self) {
        self.0.events.send_modify(|n| *n += 1);
    }
}
