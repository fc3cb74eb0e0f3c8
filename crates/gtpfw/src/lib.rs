//! # gtpfw — Warden's GTP-C firewall (ROAM-6, issue #20)
//!
//! A screening UDP proxy on S8/Gp between roaming partners' S-GWs/SGSNs and the home P-GW/GGSN: it
//! relays what passes byte for byte and refuses the rest with the response type and Cause of TS
//! 29.274 / TS 29.060, or drops it where an answer would help an attacker. Built on the `gtpc`
//! codec, modelled on the Diameter roaming firewall (crate `firewall`), whose priority types and
//! admission it shares.
//!
//! - [`GtpConfig`]: the declarative configuration (`[gtp]`), compiled into [`rules::Rules`].
//! - [`engine::Engine`]: the sans-IO screening core ([`engine::Engine::uplink`],
//!   [`engine::Engine::downlink`]); it reads no clock.
//! - [`proxy`]: the tokio shell ([`Gtp::run`]), one upstream socket per partner node so that the
//!   P-GW's responses find their way back.
//! - [`observe`]: `warden_gtp_*` metrics and decision events.
//! - [`loadgen`]: a load generator and P-GW responder for end-to-end measurements.
//!
//! See docs/gtp.md.

pub mod config;
pub mod engine;
pub mod loadgen;
pub mod observe;
pub mod proxy;
pub mod rules;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

pub use config::GtpConfig;
pub use engine::{ApnLookup, Decision, Engine, RegistrationLookup, SubscriberCache, Verdict};
pub use rules::{ConfigError, Rule, Rules};

/// The GTP-C firewall: engine and configuration, run by [`Gtp::run`].
#[derive(Debug)]
pub struct Gtp {
    engine: Arc<Engine>,
    config: Mutex<GtpConfig>,
    /// Raised by every accepted reload (readers of the configuration re-read it when it moved).
    generation: AtomicU64,
}

impl Gtp {
    /// Checks and compiles the configuration.
    pub fn new(config: GtpConfig) -> Result<Arc<Gtp>, ConfigError> {
        let rules = Rules::compile(&config)?;
        Ok(Arc::new(Gtp {
            engine: Arc::new(Engine::new(rules, Instant::now())),
            config: Mutex::new(config),
            generation: AtomicU64::new(0),
        }))
    }

    /// The screening engine.
    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    /// The configuration in force.
    pub fn config(&self) -> GtpConfig {
        self.config.lock().expect("config").clone()
    }

    /// Hot reload: replaces partners, rule modes, home ranges, budgets, `[gtp.overload]`,
    /// `[gtp.priority]`, `[gtp.offenders]` and the timeouts the engine reads; tunnels, waiting
    /// requests, budgets' tokens and the socket are kept. A configuration that does not compile is
    /// refused whole (the one in force stays). The keys read only at start ([`RESTART_ONLY`]) keep
    /// their value in force when the new file changes them: each such change is returned (and
    /// logged) with the reason.
    pub fn reload(&self, mut config: GtpConfig) -> Result<Vec<String>, ConfigError> {
        let mut current = self.config.lock().expect("config");
        let kept = keep_restart_only(&current, &mut config);
        let rules = Rules::compile(&config)?;
        for k in &kept {
            tracing::warn!("gtp reload: {k}");
        }
        self.engine.set_rules(rules);
        *current = config;
        self.generation.fetch_add(1, Ordering::Release);
        tracing::info!("gtp rules reloaded");
        Ok(kept)
    }

    /// How many reloads were accepted: a reader of [`Gtp::config`] re-reads it when this moved.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Sets the gauges (tunnels per partner, overload reduction) to their values now.
    pub fn publish_gauges(&self) {
        self.engine.publish_gauges();
    }
}

/// The time now, for the engine.
pub(crate) fn clock() -> firewall::Now {
    firewall::Now { instant: Instant::now(), wall: SystemTime::now() }
}

/// `[gtp]` keys read only when the firewall starts: the listening socket, the P-GW the upstream
/// sockets talk to, the receiving tasks, and the parking of set-ups (sized at start).
pub const RESTART_ONLY: &[&str] = &["listen", "upstream", "workers", "lookup_timeout_ms", "max_parked"];

/// Puts back in `new` the values in force of the keys that cannot change while running, and says
/// which ones the new configuration tried to change.
fn keep_restart_only(current: &GtpConfig, new: &mut GtpConfig) -> Vec<String> {
    let mut kept = Vec::new();
    macro_rules! keep {
        ($($key:ident),*) => {$(
            if current.$key != new.$key {
                kept.push(format!(
                    "gtp.{} = {} refused: it cannot change while running (the {} is bound at start); \
                     {} kept until the next restart",
                    stringify!($key), new.$key, what(stringify!($key)), current.$key
                ));
                new.$key = current.$key;
            }
        )*};
    }
    keep!(listen, upstream, workers, lookup_timeout_ms, max_parked);
    kept
}

fn what(key: &str) -> &'static str {
    match key {
        "listen" => "listening socket",
        "upstream" => "P-GW of the upstream sockets",
        "workers" => "set of receiving tasks",
        _ => "parking of set-ups",
    }
}
