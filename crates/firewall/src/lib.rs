//! # firewall — Warden's roaming signalling firewall (GSMA CLP.14 §5.6)
//!
//! A Diameter edge agent between roaming partners and an HSS (Warden's own or any other). Partners
//! connect to it; it screens every request and relays what passes to the upstream HSS byte for byte
//! (only the hop-by-hop identifier changes and a Route-Record is appended, RFC 6733 §6.1.9), and
//! answers the rest itself with the documented Result-Code or Experimental-Result.
//!
//! - [`FirewallConfig`]: the declarative rules (TOML), compiled into [`rules::Rules`].
//! - [`engine::Engine`]: the sans-IO screening core ([`engine::Engine::screen`], one function per
//!   category of checks) and its state: per-subscriber registrations and budgets, overload admission
//!   by device priority, DOIC reports, risky visited networks. It reads no clock: the time is an
//!   argument ([`engine::Now`]).
//! - [`Firewall`]: the engine with its tokio shell ([`Firewall::run`], stopped by a
//!   [`CancellationToken`]), hot reload ([`Firewall::reload`]), metrics through the [`metrics`]
//!   facade ([`observe::describe_metrics`], [`Firewall::publish_gauges`]) and decision events
//!   ([`Firewall::events`], [`observe::EventSink`]).
//!
//! It never answers on the HSS's behalf with success, never changes AVPs of a forwarded message, and
//! never panics on input: malformed requests get the RFC 6733 error answer. See docs/firewall.md.

pub mod answer;
pub mod config;
pub mod engine;
pub mod observe;
mod proxy;
pub mod rules;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use tokio_util::sync::CancellationToken;

pub use config::FirewallConfig;
pub use engine::{Ctx, Engine, Meta, Now, Outcome, PriorityLookup};
pub use observe::{Action, Event, EventSink};
pub use rules::{ConfigError, Priority, Rule, Rules};

/// Why the firewall cannot start.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration is wrong.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// TLS material could not be loaded.
    #[error("firewall.tls: {0}")]
    Tls(#[from] diameter::transport::TlsError),
    /// The listener could not be bound.
    #[error("firewall.listen {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// The firewall: engine, configuration and the relay.
pub struct Firewall {
    engine: Arc<Engine>,
    config: Mutex<FirewallConfig>,
}

impl std::fmt::Debug for Firewall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Firewall").field("engine", &self.engine).finish()
    }
}

impl Firewall {
    /// Checks and compiles the configuration.
    pub fn new(config: FirewallConfig) -> Result<Arc<Self>, ConfigError> {
        let rules = Rules::compile(&config)?;
        let engine = Arc::new(Engine::new(rules, config.event_capacity, config.max_subscribers, clock()));
        Ok(Arc::new(Self { engine, config: Mutex::new(config) }))
    }

    /// The screening engine.
    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    /// Replaces the rules without dropping connections: partners, home network, modes, answers,
    /// budgets, capacity, steering, priorities and sinkholes take effect with the next message.
    /// Listener, upstream, identity, TLS and timers keep their values until a restart (a warning
    /// says so when they differ). State (registrations, budgets) is kept.
    pub fn reload(&self, config: FirewallConfig) -> Result<(), ConfigError> {
        let rules = Rules::compile(&config)?;
        let mut current = self.config.lock().expect("config");
        if current.listen != config.listen
            || current.upstream != config.upstream
            || current.upstream_connections != config.upstream_connections
            || current.origin_host != config.origin_host
            || current.origin_realm != config.origin_realm
            || current.tls.is_some() != config.tls.is_some()
        {
            tracing::warn!(
                "firewall reload: listen, upstream, identity and TLS changes take effect at the next restart"
            );
        }
        self.engine.set_rules(rules);
        *current = config;
        tracing::info!("firewall rules reloaded");
        Ok(())
    }

    /// Sets the firewall's gauges in the metrics facade to their values now (call before rendering;
    /// the counters are published as decisions happen).
    pub fn publish_gauges(&self) {
        let e = &self.engine;
        let o = &e.observer;
        let values = [
            o.open_partners.load(std::sync::atomic::Ordering::Relaxed) as f64,
            o.open_upstreams.load(std::sync::atomic::Ordering::Relaxed) as f64,
            e.upstream_in_flight.load(std::sync::atomic::Ordering::Relaxed) as f64,
            e.upstream_latency().as_secs_f64(),
            e.offered_rate(Instant::now()),
            f64::from(e.reduction()),
            e.risky_plmns(Instant::now()).len() as f64,
        ];
        for ((name, _), value) in observe::GAUGES.iter().zip(values) {
            metrics::gauge!(*name).set(value);
        }
    }

    /// Decision events in the ring, oldest first.
    pub fn events(&self) -> Vec<Event> {
        self.engine.observer.events()
    }

    /// Sends every event to `sink` as well.
    pub fn set_event_sink(&self, sink: Arc<dyn EventSink>) {
        self.engine.observer.set_sink(sink);
    }

    /// Takes device priorities from `lookup` (falling back to the configured lists).
    pub fn set_priority_lookup(&self, lookup: Arc<dyn PriorityLookup>) {
        self.engine.set_priority_lookup(lookup);
    }

    /// Marks a visited PLMN (`"26201"`) risky by hand, for a time or until cleared; `Some(ZERO)` clears.
    pub fn mark_risky(&self, plmn: &str, for_how_long: Option<Duration>) -> Result<(), ConfigError> {
        let p = plmn
            .parse::<ids::Plmn>()
            .map_err(|e| ConfigError::Invalid { field: "plmn".into(), reason: e.to_string() })?;
        self.engine.mark_risky(p, for_how_long, clock());
        Ok(())
    }

    /// Binds the configured listener.
    pub async fn bind(&self) -> Result<tokio::net::TcpListener, Error> {
        let addr = self.config.lock().expect("config").listen;
        tokio::net::TcpListener::bind(addr).await.map_err(|source| Error::Bind { addr, source })
    }

    /// Relays between partners on `listener` and the HSS at the configured upstream (or
    /// `default_upstream`) until `shutdown` is cancelled. Then the listener closes, partners' requests
    /// being relayed get their answers, partners get DPR, and last the links to the HSS close; `run`
    /// returns when all of that is done.
    pub async fn run(
        &self,
        listener: tokio::net::TcpListener,
        default_upstream: SocketAddr,
        shutdown: CancellationToken,
    ) -> Result<(), Error> {
        let settings = {
            let c = self.config.lock().expect("config");
            let watchdog = Duration::from_secs(c.watchdog_secs);
            proxy::ProxySettings {
                partner_peer: proxy::peer_config(
                    &c.origin_host,
                    &c.origin_realm,
                    &c.applications,
                    watchdog,
                    c.max_message_size,
                ),
                upstream_peer: proxy::peer_config(
                    &c.origin_host,
                    &c.origin_realm,
                    &c.applications,
                    watchdog,
                    c.max_message_size,
                ),
                upstream: c.upstream.unwrap_or(default_upstream),
                upstream_connections: c.upstream_connections,
                max_in_flight: c.max_in_flight,
                request_timeout: Duration::from_millis(c.request_timeout_ms),
                tls: c.tls.as_ref().map(diameter::transport::TlsConfig::server_config).transpose()?,
            }
        };
        tracing::info!(upstream = %settings.upstream, "firewall relaying to the HSS");
        proxy::run(self.engine.clone(), settings, listener, shutdown).await;
        Ok(())
    }
}

/// The time now, for the engine (which reads no clock itself).
pub(crate) fn clock() -> Now {
    Now { instant: Instant::now(), wall: SystemTime::now() }
}
