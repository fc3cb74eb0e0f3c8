//! The LwM2M bootstrap server of `warden serve` (`[devices] bootstrap_listen`, docs/devices.md):
//! the sans-IO [`lwm2m::bootstrap::BootstrapServer`] behind a DTLS-PSK listener ([`dtls`]) whose
//! keys are the bootstrap credentials of the store (`warden devices bootstrap add`, reloaded like the
//! CoAPs PSKs). Each decrypted datagram goes to the core with the endpoint the peer's bootstrap PSK
//! was stored for, so a device can only bootstrap under its own name. With `allow_unsecured` a lab
//! may add a plain-CoAP listener (`bootstrap_coap_listen`) that provisions NoSec accounts only.
//!
//! When a bootstrap finishes (the device answered Bootstrap-Finish 2.04), the LwM2M-server PSK it was
//! given replaces the device's CoAPs PSK in one transaction with its audit entry, the CoAPs
//! listener's key table is reloaded at once, and `device.bootstrapped` is recorded; a bootstrap that
//! fails or is refused is recorded as `device.bootstrap_failed` and stores nothing. Keys are never
//! logged nor put into events.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use cmp::EventKind;
use dtls::{DatagramHandler, DtlsConfig, DtlsServer};
use lwm2m::bootstrap::{Account, BootstrapConfig, BootstrapServer, BsEvent, SecurityMode};
use lwm2m::server::Transmit;
use store::device_psk::PskRole;
use store::Store;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::coaps_run::PskDirectory;
use crate::devices_metrics::{self, Bootstrap};
use crate::devices_run::DevicesConfig;
use crate::error::ServeError;
use crate::platform::Task;

/// The LwM2M server the bootstrap provisions accounts for.
pub struct Servers {
    /// The plain-CoAP listener (NoSec accounts).
    pub coap: SocketAddr,
    /// The CoAPs listener (PSK accounts).
    pub coaps: SocketAddr,
    /// The CoAPs listener's PSKs, reloaded when a bootstrap stores one.
    pub server_psks: Arc<PskDirectory>,
}

/// The core shared by the DTLS and plain transports.
struct Core {
    server: Mutex<BootstrapServer>,
    events: mpsc::Sender<BsEvent>,
    psks: Arc<PskDirectory>,
    dtls_out: OnceLock<dtls::Outbound>,
    plain: OnceLock<Arc<UdpSocket>>,
    plain_peers: Mutex<HashSet<SocketAddr>>,
}

impl Core {
    fn feed(&self, peer: SocketAddr, endpoint: Option<&str>, datagram: &[u8]) -> Vec<Transmit> {
        let out =
            self.server.lock().unwrap_or_else(|p| p.into_inner()).handle(Instant::now(), peer, endpoint, datagram);
        self.forward(out.events);
        out.transmits
    }

    fn forward(&self, events: Vec<BsEvent>) {
        for e in events {
            if let Err(e) = self.events.try_send(e) {
                tracing::error!(event = ?e.into_inner(), "bootstrap event dropped (recorder behind)");
            }
        }
    }

    fn send(&self, t: Transmit) {
        let plain = self.plain_peers.lock().unwrap_or_else(|p| p.into_inner()).contains(&t.peer);
        if plain {
            if let Some(s) = self.plain.get() {
                if let Err(e) = s.try_send_to(&t.datagram, t.peer) {
                    tracing::debug!(peer = %t.peer, error = %e, "bootstrap datagram not sent");
                }
            }
        } else if let Some(o) = self.dtls_out.get() {
            if !o.send(t.peer, t.datagram) {
                tracing::debug!(peer = %t.peer, "bootstrap datagram not queued (queue full or no session)");
            }
        }
    }

    fn tick(&self) {
        let out = self.server.lock().unwrap_or_else(|p| p.into_inner()).tick(Instant::now());
        self.forward(out.events);
        for t in out.transmits {
            self.send(t);
        }
    }
}

impl DatagramHandler for Core {
    fn handle(&self, peer: SocketAddr, identity: Option<String>, datagram: &[u8]) -> Vec<Vec<u8>> {
        // Only an authenticated peer reaches this; without an identity (a certificate session, which
        // the bootstrap listener does not offer) the core refuses as for plain CoAP.
        let endpoint = identity.map(|i| self.psks.endpoint_of(i));
        let mut back = Vec::new();
        for t in self.feed(peer, endpoint.as_deref(), datagram) {
            if t.peer == peer {
                back.push(t.datagram);
            } else {
                self.send(t);
            }
        }
        back
    }
}

/// The bootstrap server, bound.
pub struct BootstrapPart {
    core: Arc<Core>,
    dtls: DtlsServer,
    plain: Option<Arc<UdpSocket>>,
    events: mpsc::Receiver<BsEvent>,
    store: Store,
    server_psks: Arc<PskDirectory>,
    refresh: Duration,
}

impl BootstrapPart {
    /// Loads the bootstrap credentials and binds the listeners; `None` without `bootstrap_listen`.
    pub async fn build(
        section: &DevicesConfig,
        store: &Store,
        servers: Servers,
    ) -> Result<Option<BootstrapPart>, ServeError> {
        let Some(listen) = section.bootstrap_listen else { return Ok(None) };
        let config = BootstrapConfig {
            allow_unsecured: section.allow_unsecured && section.bootstrap_coap_listen.is_some(),
            max_sessions: section.bootstrap_max_sessions,
            secure_server_uri: section
                .bootstrap_server_uri
                .clone()
                .unwrap_or_else(|| format!("coaps://{}", servers.coaps)),
            unsecured_server_uri: format!("coap://{}", servers.coap),
            lifetime: section.bootstrap_lifetime,
            ..BootstrapConfig::default()
        };
        let psks = Arc::new(PskDirectory::new(PskRole::Bootstrap));
        psks.load(store).await.map_err(|e| ServeError::Devices(format!("bootstrap PSKs: {e}")))?;
        let (tx, events) = mpsc::channel(section.bootstrap_max_sessions.saturating_mul(4).max(1024));
        let core = Arc::new(Core {
            server: Mutex::new(BootstrapServer::new(config)),
            events: tx,
            psks: psks.clone(),
            dtls_out: OnceLock::new(),
            plain: OnceLock::new(),
            plain_peers: Mutex::new(HashSet::new()),
        });
        let dtls_config = DtlsConfig {
            listen,
            limits: section.coaps_limits(),
            psk: Some(psks.resolver()),
            x509: None,
            revoked: None,
        };
        let dtls =
            DtlsServer::bind(dtls_config, core.clone() as Arc<dyn DatagramHandler>).await.map_err(|e| match e {
                dtls::DtlsError::Bind { addr, source } => {
                    ServeError::Bind { key: "devices.bootstrap_listen", addr, source }
                }
                other => ServeError::Devices(format!("[devices] bootstrap: {other}")),
            })?;
        let _ = core.dtls_out.set(dtls.outbound());
        let plain = match section.bootstrap_coap_listen {
            Some(addr) if section.allow_unsecured => {
                let s = UdpSocket::bind(addr).await.map_err(|source| ServeError::Bind {
                    key: "devices.bootstrap_coap_listen",
                    addr,
                    source,
                })?;
                let s = Arc::new(s);
                let _ = core.plain.set(s.clone());
                Some(s)
            }
            _ => None,
        };
        eprintln!(
            "warden: LwM2M bootstrap server listening on {} (DTLS-PSK){}",
            dtls.local_addr().map(|a| a.to_string()).unwrap_or_else(|_| listen.to_string()),
            match &plain {
                Some(s) => format!(
                    " and on {} (plain CoAP, NoSec accounts only, lab)",
                    s.local_addr().map(|a| a.to_string()).unwrap_or_default()
                ),
                None => String::new(),
            }
        );
        Ok(Some(BootstrapPart {
            core,
            dtls,
            plain,
            events,
            store: store.clone(),
            server_psks: servers.server_psks,
            refresh: Duration::from_secs(section.coaps_psk_refresh_secs),
        }))
    }

    /// The listeners, the retransmission clock and the recorder; all stop on `stop`.
    pub fn start(self, stop: CancellationToken) -> Vec<Task> {
        let BootstrapPart { core, dtls, plain, events, store, server_psks, refresh } = self;
        let listener = {
            let (core, store, stop) = (core.clone(), store.clone(), stop.clone());
            async move {
                let reload = core.psks.reload_every(&store, refresh, stop.clone());
                let clock = async {
                    let mut ticker = tokio::time::interval(Duration::from_millis(250));
                    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
                    loop {
                        tokio::select! {
                            _ = stop.cancelled() => return,
                            _ = ticker.tick() => core.tick(),
                        }
                    }
                };
                let udp = serve_plain(core.clone(), plain, stop.clone());
                tokio::join!(dtls.run(stop.clone()), reload, clock, udp);
            }
        };
        let recorder = record(events, store, server_psks, stop);
        vec![("LwM2M bootstrap server", Box::pin(listener)), ("LwM2M bootstrap recorder", Box::pin(recorder))]
    }
}

/// The lab's plain-CoAP bootstrap listener, when configured.
async fn serve_plain(core: Arc<Core>, socket: Option<Arc<UdpSocket>>, stop: CancellationToken) {
    let Some(socket) = socket else { return };
    let mut buf = vec![0u8; 65_535];
    loop {
        let (n, peer) = tokio::select! {
            _ = stop.cancelled() => return,
            r = socket.recv_from(&mut buf) => match r {
                Ok(x) => x,
                Err(e) => {
                    tracing::debug!(error = %e, "bootstrap CoAP receive failed");
                    continue;
                }
            },
        };
        {
            let mut peers = core.plain_peers.lock().unwrap_or_else(|p| p.into_inner());
            if peers.len() < 100_000 {
                peers.insert(peer);
            }
        }
        for t in core.feed(peer, None, &buf[..n]) {
            core.send(t);
        }
    }
}

/// Bootstraps in progress whose starting PSK identity is kept (past it, they are forgotten and
/// those bootstraps fail cleanly at the finish).
const BASELINES: usize = 65_536;

/// Stores provisioned credentials and records the outcome of each bootstrap.
struct Recorder {
    store: Store,
    server_psks: Arc<PskDirectory>,
    /// The LwM2M-server PSK identity each endpoint had when its bootstrap started here (`None`: it
    /// had none): what the finished bootstrap may replace ([`store::Tx::put_bootstrapped_psk`]).
    baselines: HashMap<String, Option<String>>,
}

impl Recorder {
    fn new(store: Store, server_psks: Arc<PskDirectory>) -> Self {
        Recorder { store, server_psks, baselines: HashMap::new() }
    }

    /// Keeps the PSK identity `endpoint` has as its bootstrap starts.
    async fn started(&mut self, endpoint: &str) {
        match self.store.device_psk_identity(endpoint).await {
            Ok(identity) => {
                if self.baselines.len() >= BASELINES {
                    self.baselines.clear();
                }
                self.baselines.insert(endpoint.to_string(), identity);
            }
            Err(e) => {
                self.baselines.remove(endpoint);
                tracing::warn!(error = %e, endpoint, "the PSK a bootstrap replaces was not read; it will not be stored");
            }
        }
    }

    async fn on(&mut self, e: BsEvent) {
        let store = &self.store;
        match e {
            BsEvent::Started { endpoint, peer, secure } => {
                devices_metrics::bootstrap(Bootstrap::Started);
                if secure {
                    self.started(&endpoint).await;
                }
                tracing::info!(endpoint, %peer, secure, "LwM2M bootstrap started");
            }
            BsEvent::Finished { peer, account } => {
                let baseline = self.baselines.remove(&account.endpoint);
                finished(store, &self.server_psks, peer, account, baseline).await
            }
            BsEvent::Failed { endpoint, peer, step, reason } => {
                self.baselines.remove(&endpoint);
                devices_metrics::bootstrap(Bootstrap::Failed);
                let detail =
                    serde_json::json!({"endpoint": endpoint, "peer": peer.to_string(), "step": step, "reason": reason});
                event(store, None, EventKind::DeviceBootstrapFailed, &detail).await;
            }
            BsEvent::Refused { peer, endpoint: Some(endpoint), code, reason } => {
                devices_metrics::bootstrap(Bootstrap::Refused);
                let detail = serde_json::json!({
                    "endpoint": endpoint, "peer": peer.to_string(), "step": "request",
                    "reason": format!("{code}: {reason}"),
                });
                event(store, None, EventKind::DeviceBootstrapFailed, &detail).await;
            }
            BsEvent::Refused { peer, endpoint: None, code, reason } => {
                devices_metrics::bootstrap(Bootstrap::Refused);
                tracing::debug!(%peer, %code, reason, "bootstrap request refused");
            }
            BsEvent::Malformed { peer, reason } => {
                coap::metrics::refused(coap::metrics::Refusal::Malformed);
                tracing::debug!(%peer, reason, "malformed bootstrap datagram")
            }
        }
    }
}

/// Records the bootstraps' outcomes ([`Recorder`]) until `stop`.
async fn record(
    mut events: mpsc::Receiver<BsEvent>,
    store: Store,
    server_psks: Arc<PskDirectory>,
    stop: CancellationToken,
) {
    let mut recorder = Recorder::new(store, server_psks);
    loop {
        let e = tokio::select! {
            _ = stop.cancelled() => break,
            e = events.recv() => match e { Some(e) => e, None => break },
        };
        recorder.on(e).await;
    }
}

async fn event(store: &Store, imsi: Option<&ids::Imsi>, kind: EventKind, detail: &serde_json::Value) {
    if let Err(e) = store.record_event(imsi, &kind.name(), &detail.to_string()).await {
        tracing::warn!(error = %e, %kind, "bootstrap event not recorded");
    }
}

/// A finished bootstrap: the PSK account replaces the device's CoAPs PSK (with its audit entry, in
/// one transaction) if that is still the one it had when this bootstrap started (`baseline`; another
/// instance's bootstrap of the same endpoint may have finished first: then nothing is stored, the
/// bootstrap is recorded as failed and the device, whose new key is not accepted, bootstraps again),
/// the CoAPs keys are reloaded, and `device.bootstrapped` is recorded.
async fn finished(
    store: &Store,
    server_psks: &PskDirectory,
    peer: SocketAddr,
    account: Account,
    baseline: Option<Option<String>>,
) {
    let mut detail = serde_json::json!({
        "endpoint": account.endpoint, "peer": peer.to_string(),
        "security_mode": if account.mode == SecurityMode::Psk { "psk" } else { "nosec" },
        "server_uri": account.server_uri, "short_server_id": account.short_server_id,
        "lifetime": account.lifetime, "binding": account.binding,
    });
    if account.mode != SecurityMode::Psk {
        devices_metrics::bootstrap(Bootstrap::Provisioned);
        event(store, None, EventKind::DeviceBootstrapped, &detail).await;
        return;
    }
    detail["psk_identity"] = account.identity.clone().into();
    let stored = match &baseline {
        Some(previous) => store_psk(store, &account, previous.as_deref()).await,
        None => Err(store::StoreError::Conflict("the start of this bootstrap was not recorded".into())),
    };
    match stored {
        Ok(imsi) => {
            devices_metrics::bootstrap(Bootstrap::Provisioned);
            if let Err(e) = server_psks.load(store).await {
                tracing::warn!(error = %e, "CoAPs PSKs not reloaded after a bootstrap; the periodic reload will");
            }
            event(store, imsi.as_ref(), EventKind::DeviceBootstrapped, &detail).await;
        }
        Err(e) => {
            devices_metrics::bootstrap(if matches!(e, store::StoreError::Conflict(_)) {
                Bootstrap::Superseded
            } else {
                Bootstrap::NotStored
            });
            let detail = serde_json::json!({
                "endpoint": account.endpoint, "peer": peer.to_string(), "step": "store",
                "reason": format!("the provisioned PSK was not stored: {e}"),
            });
            event(store, None, EventKind::DeviceBootstrapFailed, &detail).await;
        }
    }
}

async fn store_psk(
    store: &Store,
    account: &Account,
    previous: Option<&str>,
) -> Result<Option<ids::Imsi>, store::StoreError> {
    let mut tx = store.begin().await?;
    let (tenant, imsi) =
        tx.put_bootstrapped_psk(&account.endpoint, &account.identity, account.key.clone(), previous).await?;
    let after = serde_json::json!({
        "endpoint": account.endpoint, "identity": account.identity, "server_uri": account.server_uri,
        "imsi": imsi.as_ref().map(|i| i.to_string()), "tenant": tenant,
    });
    let actor = cmp::Actor::Automated { by: "LwM2M bootstrap server".into() };
    tx.append_audit(&actor.audit_entry(&tenant, "devices.bootstrap.provision", &account.endpoint, (), &after)).await?;
    tx.commit().await?;
    Ok(imsi)
}

#[cfg(test)]
mod tests {
    use super::*;
    use store::events::EventFilter;
    use zeroize::Zeroizing;

    fn account(identity: &str, key: u8) -> Account {
        Account {
            endpoint: "meter-7".into(),
            mode: SecurityMode::Psk,
            server_uri: "coaps://127.0.0.1:5684".into(),
            identity: identity.into(),
            key: Zeroizing::new(vec![key; 16]),
            short_server_id: 1,
            lifetime: 300,
            binding: "U".into(),
        }
    }

    fn started() -> BsEvent {
        BsEvent::Started { endpoint: "meter-7".into(), peer: "127.0.0.1:40001".parse().unwrap(), secure: true }
    }

    fn finished(identity: &str, key: u8) -> BsEvent {
        BsEvent::Finished { peer: "127.0.0.1:40001".parse().unwrap(), account: account(identity, key) }
    }

    async fn kinds(store: &Store) -> Vec<(String, String)> {
        let events = store.list_events(&store::access::Scope::Operator, &EventFilter::default(), 0, 100).await.unwrap();
        events.into_iter().map(|e| (e.kind, e.detail)).collect()
    }

    /// Two instances (each its own store handle on one database) bootstrap one endpoint at the same
    /// time: the first Bootstrap-Finish recorded is stored, the other stores nothing and is recorded
    /// as failed (the device, whose key is then not accepted, bootstraps again); the retry, started
    /// after that finish, replaces the key. Both orders of the finishes, and finishes at once.
    #[tokio::test]
    async fn overlapping_bootstraps_of_one_endpoint_store_one_outcome() {
        async fn race(a: Store, b: Store) {
            let psks = || Arc::new(PskDirectory::new(PskRole::Server));
            let (mut one, mut two) = (Recorder::new(a.clone(), psks()), Recorder::new(b.clone(), psks()));
            // Both start from "no PSK", then finish at once.
            one.on(started()).await;
            two.on(started()).await;
            tokio::join!(one.on(finished("wd-one", 0x01)), two.on(finished("wd-two", 0x02)));
            let keys = a.device_psk_keys().await.unwrap();
            assert_eq!(keys.len(), 1);
            let winner = keys[0].identity.clone();
            let want: &[u8] = if winner == "wd-one" { &[0x01; 16] } else { &[0x02; 16] };
            assert!(["wd-one", "wd-two"].contains(&winner.as_str()) && &**keys[0].key == want, "{winner}");
            let seen = kinds(&a).await;
            let ok: Vec<_> = seen.iter().filter(|(k, _)| k == "device.bootstrapped").collect();
            let failed: Vec<_> = seen.iter().filter(|(k, _)| k == "device.bootstrap_failed").collect();
            assert_eq!((ok.len(), failed.len()), (1, 1), "{seen:?}");
            assert!(ok[0].1.contains(&winner), "{seen:?}");
            assert!(failed[0].1.contains("another bootstrap finished first"), "{seen:?}");
            assert!(!failed[0].1.contains(&winner), "the loser's detail: {seen:?}");

            // The loser's device bootstraps again (after the winner finished): its key replaces it.
            two.on(started()).await;
            // Meanwhile the winner's instance runs a bootstrap it started from the same state and
            // that finishes after the retry: refused, the retry's key stays.
            one.on(started()).await;
            two.on(finished("wd-retry", 0x03)).await;
            one.on(finished("wd-late", 0x04)).await;
            let keys = b.device_psk_keys().await.unwrap();
            assert_eq!((keys.len(), keys[0].identity.as_str(), &**keys[0].key), (1, "wd-retry", &[0x03; 16][..]));

            // A bootstrap whose start was not seen here (e.g. the recorder restarted) stores nothing.
            one.on(finished("wd-unknown", 0x05)).await;
            assert_eq!(a.device_psk_identity("meter-7").await.unwrap().as_deref(), Some("wd-retry"));
        }
        testkit::on_two_handles_of_every_backend(race).await;
    }
}
