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
}

impl Gtp {
    /// Checks and compiles the configuration.
    pub fn new(config: GtpConfig) -> Result<Arc<Gtp>, ConfigError> {
        let rules = Rules::compile(&config)?;
        Ok(Arc::new(Gtp { engine: Arc::new(Engine::new(rules, Instant::now())), config: Mutex::new(config) }))
    }

    /// The screening engine.
    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    /// The configuration in force.
    pub fn config(&self) -> GtpConfig {
        self.config.lock().expect("config").clone()
    }

    /// Replaces rules, partners, budgets and capacity (hot reload); tunnels and pending requests are
    /// kept. `listen` and `upstream` take effect at the next restart.
    pub fn reload(&self, config: GtpConfig) -> Result<(), ConfigError> {
        let rules = Rules::compile(&config)?;
        let mut current = self.config.lock().expect("config");
        if current.listen != config.listen || current.upstream != config.upstream {
            tracing::warn!("gtp reload: listen and upstream changes take effect at the next restart");
        }
        self.engine.set_rules(rules);
        *current = config;
        Ok(())
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
