//! The CoAPs listener of `warden serve` (`[devices]`, docs/devices-dtls.md): DTLS 1.2 ([`dtls`]) with
//! the device PSKs of the store (`warden devices psk add`) and, with
//! `coaps_cert`/`coaps_key`/`coaps_client_ca`, X.509 client certificates. Decrypted datagrams go with
//! the peer's authenticated identity to the LwM2M core ([`Lwm2mOverDtls`]). The PSK table is reloaded
//! from the store every `coaps_psk_refresh_secs`, so keys added or removed by the CLI apply without a
//! restart.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use dtls::{DatagramHandler, DtlsConfig, DtlsServer, PskTable, RevokedSerials, X509Credentials};
use store::device_psk::PskRole;
use store::Store;
use tokio_util::sync::CancellationToken;
use zeroize::Zeroizing;

use crate::devices_run::DevicesConfig;
use crate::error::ServeError;

/// The LwM2M core behind the DTLS listener: each decrypted datagram goes to the core with the
/// endpoint name the peer authenticated as — the endpoint a PSK identity was stored for
/// (`warden devices psk add ENDPOINT --identity ID`), or a certificate's name as it is (EST issues
/// `CN=<endpoint>`) — and the core refuses a registration under any other name. Answers to the same
/// peer go back through the session, anything for other peers through the listener's outbound queue.
pub struct Lwm2mOverDtls {
    service: Arc<lwm2m::runtime::Service>,
    outbound: std::sync::OnceLock<dtls::Outbound>,
    /// The device PSKs and the endpoint of each identity.
    psks: Arc<PskDirectory>,
}

impl Lwm2mOverDtls {
    /// Hands datagrams to `service`.
    pub fn new(service: Arc<lwm2m::runtime::Service>) -> Arc<Self> {
        Arc::new(Lwm2mOverDtls {
            service,
            outbound: std::sync::OnceLock::new(),
            psks: Arc::new(PskDirectory::new(PskRole::Server)),
        })
    }

    /// The LwM2M-server PSKs this listener serves (reloaded by the bootstrap after it provisions one).
    pub fn psks(&self) -> Arc<PskDirectory> {
        self.psks.clone()
    }
}

/// A DTLS listener's PSKs of one role ([`PskRole`]) as loaded from the store: the table OpenSSL's
/// handshake looks keys up in, and the endpoint name each identity was stored for.
pub struct PskDirectory {
    role: PskRole,
    table: Arc<PskTable>,
    /// PSK identity → endpoint name, reloaded with the keys.
    endpoints: std::sync::RwLock<Arc<HashMap<String, String>>>,
}

impl PskDirectory {
    /// An empty directory of `role`'s keys.
    pub fn new(role: PskRole) -> Self {
        PskDirectory { role, table: Arc::default(), endpoints: Default::default() }
    }

    /// The endpoint name `identity` stands for.
    pub fn endpoint_of(&self, identity: String) -> String {
        let map = self.endpoints.read().unwrap_or_else(|p| p.into_inner()).clone();
        map.get(&identity).cloned().unwrap_or(identity)
    }

    /// The key table, for the DTLS server.
    pub fn resolver(&self) -> Arc<dyn dtls::PskResolver> {
        self.table.clone()
    }

    /// Identities held.
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// Loads the store's PSKs of this role; returns how many.
    pub async fn load(&self, store: &Store) -> Result<usize, store::StoreError> {
        let psks = match self.role {
            PskRole::Server => store.device_psk_keys().await?,
            PskRole::Bootstrap => store.bootstrap_psk_keys().await?,
        };
        let n = psks.len();
        let names: HashMap<String, String> = psks.iter().map(|p| (p.identity.clone(), p.endpoint.clone())).collect();
        *self.endpoints.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(names);
        self.table.replace(psks.into_iter().map(|p| (p.identity, p.key)));
        Ok(n)
    }

    /// Reloads every `refresh` until `stop` (a failed reload keeps the previous keys).
    pub async fn reload_every(&self, store: &Store, refresh: Duration, stop: CancellationToken) {
        let what = match self.role {
            PskRole::Server => "device PSKs",
            PskRole::Bootstrap => "bootstrap PSKs",
        };
        every(refresh, stop, what, || self.load(store)).await
    }
}

impl DatagramHandler for Lwm2mOverDtls {
    fn handle(&self, peer: SocketAddr, identity: Option<String>, datagram: &[u8]) -> Vec<Vec<u8>> {
        let endpoint = identity.map(|i| self.psks.endpoint_of(i));
        let mut back = Vec::new();
        for t in self.service.handle_datagram(peer, endpoint.as_deref(), datagram) {
            if t.peer == peer {
                back.push(t.datagram);
            } else if let Some(out) = self.outbound.get() {
                out.send(t.peer, t.datagram);
            }
        }
        back
    }
}

/// The DTLS listener's outbound queue as the LwM2M core's way to reach devices that came over DTLS
/// (requests from the API, notifications' acknowledgements).
struct DtlsOutbound(dtls::Outbound);

impl lwm2m::runtime::Outbound for DtlsOutbound {
    fn send(&self, peer: SocketAddr, datagram: &[u8]) {
        if !self.0.send(peer, datagram.to_vec()) {
            tracing::debug!(%peer, "CoAPs datagram not queued (queue full or no session)");
        }
    }
}

fn read(key: &str, path: &Path) -> Result<Vec<u8>, ServeError> {
    std::fs::read(path).map_err(|e| ServeError::Devices(format!("[devices] {key} {}: {e}", path.display())))
}

/// Loads the store's revoked device certificate serials into `set`.
async fn load_revoked(store: &Store, set: &RevokedSerials) -> Result<(), store::StoreError> {
    set.replace(store.revoked_device_cert_serials().await?);
    Ok(())
}

/// The CoAPs listener, bound.
pub struct CoapsPart {
    server: DtlsServer,
    store: Store,
    psks: Arc<PskDirectory>,
    refresh: Duration,
    revoked: Arc<RevokedSerials>,
    revoked_refresh: Duration,
}

impl CoapsPart {
    /// Loads the credentials and binds the listener, handing datagrams to `core` and giving the core
    /// the listener's outbound queue. `section` is the one [`crate::devices_run::DevicesPart::build`]
    /// checked (its only caller), so it is not checked again here.
    pub async fn build(
        section: &DevicesConfig,
        store: &Store,
        core: Arc<Lwm2mOverDtls>,
    ) -> Result<CoapsPart, ServeError> {
        let psks = core.psks();
        psks.load(store).await.map_err(|e| ServeError::Devices(format!("device PSKs: {e}")))?;
        let x509 = match (&section.coaps_cert, &section.coaps_key, &section.coaps_client_ca) {
            (Some(c), Some(k), Some(ca)) => Some(X509Credentials {
                cert_chain_pem: read("coaps_cert", c)?,
                key_pem: Zeroizing::new(read("coaps_key", k)?),
                client_ca_pem: read("coaps_client_ca", ca)?,
            }),
            _ => None,
        };
        let revoked = Arc::new(RevokedSerials::default());
        load_revoked(store, &revoked)
            .await
            .map_err(|e| ServeError::Devices(format!("revoked device certificates: {e}")))?;
        let config = DtlsConfig {
            listen: section.coaps_listen,
            limits: section.coaps_limits(),
            psk: Some(psks.resolver()),
            x509,
            revoked: Some(revoked.clone()),
        };
        let server = DtlsServer::bind(config, core.clone() as Arc<dyn DatagramHandler>).await.map_err(|e| match e {
            dtls::DtlsError::Bind { addr, source } => ServeError::Bind { key: "devices.coaps_listen", addr, source },
            other => ServeError::Devices(format!("[devices] CoAPs: {other}")),
        })?;
        let _ = core.outbound.set(server.outbound());
        core.service.set_secure_outbound(Arc::new(DtlsOutbound(server.outbound())));
        Ok(CoapsPart {
            server,
            store: store.clone(),
            psks,
            refresh: Duration::from_secs(section.coaps_psk_refresh_secs),
            revoked,
            revoked_refresh: Duration::from_secs(section.coaps_revocation_refresh_secs),
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.server.local_addr().ok()
    }

    /// Serves until `stop`, reloading the PSKs and the revocations on the way.
    pub async fn run(self, stop: CancellationToken) {
        let CoapsPart { server, store, psks, refresh, revoked, revoked_refresh } = self;
        tracing::info!(listen = ?server.local_addr().ok(), identities = psks.len(), "CoAPs (DTLS) listening");
        let reload = psks.reload_every(&store, refresh, stop.clone());
        let reload_revoked =
            every(revoked_refresh, stop.clone(), "revoked device certificates", || load_revoked(&store, &revoked));
        tokio::join!(server.run(stop), reload, reload_revoked);
    }
}

/// Runs `load` every `period` until `stop`; a failure is logged and what was loaded before stays.
async fn every<T, F, Fut>(period: Duration, stop: CancellationToken, what: &str, mut load: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, store::StoreError>>,
{
    let mut tick = tokio::time::interval(period);
    tick.tick().await;
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tick.tick() => {
                if let Err(e) = load().await {
                    tracing::warn!(error = %e, what, "not reloaded; the previous ones stay");
                }
            }
        }
    }
}
