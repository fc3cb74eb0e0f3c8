//! Devices inside `warden serve` (`[devices]`, docs/devices-dtls.md): the CoAPs listener — DTLS 1.2
//! ([`dtls`]) with the device PSKs of the store (`warden devices psk add`) and, with
//! `coaps_cert`/`coaps_key`/`coaps_client_ca`, X.509 client certificates. Decrypted datagrams go with
//! the peer's authenticated identity to a [`DatagramHandler`]: the LwM2M core once it is wired in,
//! until then [`NoCore`], which drops them. The PSK table is reloaded from the store every
//! `coaps_psk_refresh_secs`, so keys added or removed by the CLI apply without a restart.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use dtls::{DatagramHandler, DtlsConfig, DtlsServer, Limits, PskTable, X509Credentials};
use serde::Deserialize;
use store::Store;
use tokio_util::sync::CancellationToken;
use zeroize::Zeroizing;

use crate::error::ServeError;

/// `[devices]`: the CoAPs (DTLS) listener's keys.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DevicesSection {
    /// The CoAPs listener (UDP), loopback by default.
    #[serde(default = "default_coaps_listen")]
    pub coaps_listen: SocketAddr,
    /// The server certificate chain (PEM) for the X.509 suites; with `coaps_key` and
    /// `coaps_client_ca`, or none of the three (PSK only).
    pub coaps_cert: Option<PathBuf>,
    /// The server's private key (PEM, EC P-256).
    pub coaps_key: Option<PathBuf>,
    /// The CAs (PEM) that issue device certificates.
    pub coaps_client_ca: Option<PathBuf>,
    /// Sessions at once.
    #[serde(default = "default_max_sessions")]
    pub coaps_max_sessions: usize,
    /// Handshakes in flight at once.
    #[serde(default = "default_max_handshakes")]
    pub coaps_max_handshakes: usize,
    /// Seconds without a datagram after which a session is dropped.
    #[serde(default = "default_idle_secs")]
    pub coaps_idle_timeout_secs: u64,
    /// Seconds between reloads of the PSKs from the store.
    #[serde(default = "default_refresh_secs")]
    pub coaps_psk_refresh_secs: u64,
}

fn default_coaps_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 5684))
}

fn default_max_sessions() -> usize {
    Limits::default().max_sessions
}

fn default_max_handshakes() -> usize {
    Limits::default().max_handshakes
}

fn default_idle_secs() -> u64 {
    Limits::default().idle_timeout.as_secs()
}

fn default_refresh_secs() -> u64 {
    5
}

impl DevicesSection {
    /// Checks what the types cannot.
    pub fn check(&self) -> Result<(), String> {
        let files = [&self.coaps_cert, &self.coaps_key, &self.coaps_client_ca];
        let given = files.iter().filter(|f| f.is_some()).count();
        if given != 0 && given != 3 {
            return Err("[devices] coaps_cert, coaps_key and coaps_client_ca go together (all three or none)".into());
        }
        if self.coaps_max_sessions == 0 || self.coaps_max_handshakes == 0 {
            return Err("[devices] coaps_max_sessions and coaps_max_handshakes must be at least 1".into());
        }
        if self.coaps_idle_timeout_secs == 0 || self.coaps_psk_refresh_secs == 0 {
            return Err("[devices] coaps_idle_timeout_secs and coaps_psk_refresh_secs must be at least 1".into());
        }
        Ok(())
    }

    fn limits(&self) -> Limits {
        Limits {
            max_sessions: self.coaps_max_sessions,
            max_handshakes: self.coaps_max_handshakes,
            idle_timeout: Duration::from_secs(self.coaps_idle_timeout_secs),
            ..Limits::default()
        }
    }
}

/// Stands in for the LwM2M core until it is wired in: takes nothing, answers nothing.
pub struct NoCore;

impl DatagramHandler for NoCore {
    fn handle(&self, peer: SocketAddr, identity: Option<String>, datagram: &[u8]) -> Vec<Vec<u8>> {
        tracing::debug!(%peer, ?identity, len = datagram.len(), "CoAPs datagram dropped: no LwM2M core");
        Vec::new()
    }
}

fn read(key: &str, path: &Path) -> Result<Vec<u8>, ServeError> {
    std::fs::read(path).map_err(|e| ServeError::Devices(format!("[devices] {key} {}: {e}", path.display())))
}

/// Loads the store's PSKs into `table`; returns how many.
async fn load_psks(store: &Store, table: &PskTable) -> Result<usize, store::StoreError> {
    let psks = store.device_psk_keys().await?;
    let n = psks.len();
    table.replace(psks.into_iter().map(|p| (p.identity, p.key)));
    Ok(n)
}

/// The CoAPs listener, bound.
pub struct DevicesPart {
    server: DtlsServer,
    store: Store,
    psks: Arc<PskTable>,
    refresh: Duration,
}

impl DevicesPart {
    /// Loads the credentials and binds the listener, handing datagrams to `handler`.
    pub async fn build(
        section: &DevicesSection,
        store: &Store,
        handler: Arc<dyn DatagramHandler>,
    ) -> Result<DevicesPart, ServeError> {
        section.check().map_err(ServeError::Devices)?;
        let psks = Arc::new(PskTable::default());
        load_psks(store, &psks).await.map_err(|e| ServeError::Devices(format!("device PSKs: {e}")))?;
        let x509 = match (&section.coaps_cert, &section.coaps_key, &section.coaps_client_ca) {
            (Some(c), Some(k), Some(ca)) => Some(X509Credentials {
                cert_chain_pem: read("coaps_cert", c)?,
                key_pem: Zeroizing::new(read("coaps_key", k)?),
                client_ca_pem: read("coaps_client_ca", ca)?,
            }),
            _ => None,
        };
        let config = DtlsConfig {
            listen: section.coaps_listen,
            limits: section.limits(),
            psk: Some(psks.clone() as Arc<dyn dtls::PskResolver>),
            x509,
        };
        let server = DtlsServer::bind(config, handler).await.map_err(|e| match e {
            dtls::DtlsError::Bind { addr, source } => ServeError::Bind { key: "devices.coaps_listen", addr, source },
            other => ServeError::Devices(format!("[devices] CoAPs: {other}")),
        })?;
        Ok(DevicesPart {
            server,
            store: store.clone(),
            psks,
            refresh: Duration::from_secs(section.coaps_psk_refresh_secs),
        })
    }

    /// Serves until `stop`, reloading the PSKs on the way.
    pub async fn run(self, stop: CancellationToken) {
        let DevicesPart { server, store, psks, refresh } = self;
        tracing::info!(listen = ?server.local_addr().ok(), identities = psks.len(), "CoAPs (DTLS) listening");
        let reload = {
            let stop = stop.clone();
            async move {
                let mut tick = tokio::time::interval(refresh);
                tick.tick().await;
                loop {
                    tokio::select! {
                        _ = stop.cancelled() => return,
                        _ = tick.tick() => {
                            if let Err(e) = load_psks(&store, &psks).await {
                                tracing::warn!(error = %e, "device PSKs not reloaded; the previous ones stay");
                            }
                        }
                    }
                }
            }
        };
        tokio::join!(server.run(stop), reload);
    }
}
