//! Why `warden serve` could not start or did not stop cleanly: one error type for the wiring
//! (configuration, storage, listeners, TLS material, components), each variant naming the setting or
//! the component concerned. The command line maps it to exit code 1 (`Failure` in main.rs).

use std::net::SocketAddr;

use crate::config::ConfigError;
use crate::metrics::MetricsError;
use crate::storage::StorageError;

/// Why serving failed.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The configuration file.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The store or its keys.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// Block SQN allocation with another live instance on the database.
    #[error("[sqn] allocation = \"block\" serves one instance only, and instance {0} is live on this database: use allocation = \"exact\" on every instance")]
    SharedBlockAllocation(String),
    /// The instance registry could not be read.
    #[error("cluster registry: {0}")]
    Registry(store::StoreError),
    /// Another `warden serve` runs on the same SQLite file.
    #[error("another warden serve is running on {0} (SQLite serves one instance; use PostgreSQL for several)")]
    SqliteInUse(String),
    /// The SQLite file's serve lock could not be taken.
    #[error("{path}: {source}")]
    Lock {
        /// The lock file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The CoAPs listener's credentials or settings (`[devices]`).
    #[error("{0}")]
    Devices(String),
    /// A public Diameter listener without an allow-list of peers.
    #[error("diameter.listen is not a loopback address but no [[diameter.peers]] are configured")]
    OpenListener,
    /// A platform API on an address other than loopback without TLS, and no TLS proxy declared.
    #[error(
        "http.listen {0} is not a loopback address but [http.tls] (cert_file, key_file) is not configured; \
         add [http.tls], or set [http] behind_tls_proxy = true if a reverse proxy terminates TLS in front"
    )]
    PlainHttp(SocketAddr),
    /// A listener could not be bound.
    #[error("{key} {addr}: {source}")]
    Bind {
        /// The configuration key of the address.
        key: &'static str,
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The Diameter listener's TLS material.
    #[error("diameter.tls: {0}")]
    DiameterTls(#[from] diameter::transport::TlsError),
    /// The API's TLS material.
    #[error(transparent)]
    HttpTls(#[from] api::tls::TlsError),
    /// `[devices]`: the EST server cannot start (a bad value, no TLS material).
    #[error("devices: {0}")]
    Est(String),
    /// The breached-password corpus.
    #[error(transparent)]
    Breached(#[from] api::BreachedFileError),
    /// `[http.oidc]` is unusable (the issuer's scheme, the client secret file).
    #[error("{0}")]
    Oidc(String),
    /// The platform API's own store connections could not be opened.
    #[error("platform API store connections: {0}")]
    ApiStore(store::StoreError),
    /// The platform API's runtime could not be built.
    #[error("platform API runtime: {0}")]
    Runtime(std::io::Error),
    /// The roaming firewall could not start.
    #[error(transparent)]
    Firewall(#[from] firewall::Error),
    /// The roaming firewall's rules do not compile.
    #[error(transparent)]
    FirewallRules(#[from] firewall::ConfigError),
    /// The GTP-C firewall's configuration does not compile.
    #[error(transparent)]
    GtpRules(#[from] gtpfw::ConfigError),
    /// The PCRF's stored Gx sessions could not be loaded.
    #[error("pcrf: stored sessions: {0}")]
    Pcrf(store::StoreError),
    /// `[analytics]` is unusable (an intelligence file that cannot be read or parsed).
    #[error("{0}")]
    Analytics(String),
    /// `[dns]` is unusable.
    #[error("dns: {0}")]
    Dns(String),
    /// The firewall's device priorities could not be read from the store.
    #[error("firewall: SIM priorities: {0}")]
    Priorities(store::StoreError),
    /// The metrics exporter.
    #[error(transparent)]
    Metrics(#[from] MetricsError),
    /// A signal handler could not be installed.
    #[error("{signal} handler: {source}")]
    Signal {
        /// The signal.
        signal: &'static str,
        /// Why.
        source: std::io::Error,
    },
    /// A component that runs until shutdown ended on its own.
    #[error("{0} stopped unexpectedly")]
    Stopped(&'static str),
    /// A component failed while running.
    #[error("{component}: {source}")]
    Failed {
        /// The component.
        component: &'static str,
        /// Why.
        source: std::io::Error,
    },
}
