//! `warden serve`: opens the store, builds the HSS and runs the Diameter server (and the metrics
//! endpoint) until SIGINT or SIGTERM, then disconnects every peer with DPR.

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use diameter::peer::{Application, CloseReason, PeerAuthorizer, PeerIdentity};
use diameter::transport::{serve, ConnectionLimits, Handler, PeerHandle, ServerConfig, TlsSettings};
use diameter::Message;
use hss::{ConfiguredPeers, CriticalBlacklist, Hss, HssConfig, PeerRule};
use store::seal::{Kek, Keyring};
use store::Store;

use crate::config::Config;
use crate::metrics::{self, Metrics};

/// The HSS with metrics around it.
struct Metered {
    hss: Arc<Hss>,
    metrics: Metrics,
}

impl Handler for Metered {
    async fn handle(&self, request: Message, peer: PeerHandle) -> Option<Message> {
        let start = Instant::now();
        let command = request.abbrev().unwrap_or("unknown");
        let answer = self.hss.dispatch(request, &peer).await;
        self.metrics.answered(command, answer.result_code().unwrap_or(0), start.elapsed());
        Some(answer)
    }

    fn peer_open(&self, peer: PeerHandle) {
        self.metrics.peers(1);
        self.hss.peer_open(peer);
    }

    fn peer_closed(&self, remote: Option<&diameter::peer::Capabilities>, reason: &CloseReason) {
        if remote.is_some() {
            self.metrics.peers(-1);
        }
        self.hss.peer_closed(remote, reason);
    }
}

/// Without configured peers: any identity, but only from loopback, may ask about any subscriber.
struct LoopbackOnly;
impl PeerAuthorizer for LoopbackOnly {
    fn authorize(&self, p: &PeerIdentity) -> bool {
        p.address.is_some_and(|a: IpAddr| a.is_loopback())
    }
}

fn read_kek(id: u32, path: &Path) -> Result<Kek, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("KEK file {}: {e}", path.display()))?;
    Kek::from_hex(id, &text).map_err(|e| format!("KEK file {}: {e}", path.display()))
}

/// The keyring from the configuration. With nothing configured and the embedded SQLite default, a
/// random KEK is created once in `<data_dir>/kek.hex` (mode 0600); any other storage requires a KEK.
pub fn keyring(config: &Config) -> Result<Keyring, String> {
    let k = &config.keys;
    let current = if let Some(path) = &k.kek_file {
        read_kek(k.kek_id, path)?
    } else if let Some(var) = &k.kek_env {
        let text = std::env::var(var).map_err(|_| format!("keys.kek_env: environment variable {var} is not set"))?;
        Kek::from_hex(k.kek_id, &text).map_err(|e| format!("{var}: {e}"))?
    } else if config.storage.url.is_none() {
        let path = config.data_dir.join("kek.hex");
        if !path.exists() {
            std::fs::create_dir_all(&config.data_dir).map_err(|e| format!("{}: {e}", config.data_dir.display()))?;
            let mut raw = [0u8; 32];
            auc::fill_random(&mut raw).map_err(|e| e.to_string())?;
            write_secret_file(&path, &hex::encode(raw))?;
            tracing::warn!(path = %path.display(), "created a key-encryption key for the embedded database; keep it apart from the database in production (keys.kek_file)");
        }
        read_kek(k.kek_id, &path)?
    } else {
        return Err("a key-encryption key is required with external storage: set keys.kek_file or keys.kek_env".into());
    };
    let older = k.previous.iter().map(|p| read_kek(p.id, &p.file)).collect::<Result<_, _>>()?;
    Ok(Keyring::new(current, older))
}

fn write_secret_file(path: &Path, text: &str) -> Result<(), String> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    f.write_all(text.as_bytes()).map_err(|e| format!("{}: {e}", path.display()))
}

/// Opens the store the configuration names.
pub async fn open_store(config: &Config) -> Result<Store, String> {
    let keys = keyring(config)?;
    Store::open(&config.storage_url(), keys).await.map_err(|e| format!("storage {}: {e}", config.storage_url()))
}

fn hss_config(config: &Config) -> HssConfig {
    let d = &config.diameter;
    let mut h = HssConfig::new(&d.origin_host, &d.origin_realm);
    h.max_vectors = d.max_vectors;
    h.sqn = auc::SqnScheme::new(config.sqn.ind_bits, 1 << 28).expect("validated");
    h.sqn_block = config.sqn.block;
    h.critical_blacklist = if config.eir.critical_blacklisted == "blacklist" {
        CriticalBlacklist::Blacklist
    } else {
        CriticalBlacklist::Greylist
    };
    h.unknown_imei_whitelisted = config.eir.unknown == "white";
    h.peers = d
        .peers
        .iter()
        .map(|p| PeerRule {
            origin_host: p.origin_host.clone(),
            origin_realm: p.origin_realm.clone(),
            addresses: p.addresses.clone(),
            imsi_prefixes: p.imsi_prefixes.clone(),
        })
        .collect();
    h
}

fn tls(config: &Config) -> Result<Option<Arc<rustls::ServerConfig>>, String> {
    let Some(t) = &config.diameter.tls else { return Ok(None) };
    let settings = TlsSettings::from_pem_files(&t.cert_file, &t.key_file, t.client_ca_file.as_deref())?;
    diameter::transport::server_config(settings).map(Some).map_err(|e| format!("TLS: {e}"))
}

/// Runs the server until a signal arrives.
pub async fn run(config: Config) -> Result<(), String> {
    if !config.diameter.listen.ip().is_loopback() && config.diameter.peers.is_empty() {
        return Err("diameter.listen is not a loopback address but no [[diameter.peers]] are configured".into());
    }
    let store = open_store(&config).await?;
    let mut hcfg = hss_config(&config);
    let authorizer: Arc<dyn PeerAuthorizer> = if hcfg.peers.is_empty() {
        tracing::warn!("no [[diameter.peers]] configured: accepting loopback peers only, for any subscriber");
        Arc::new(LoopbackOnly)
    } else {
        Arc::new(ConfiguredPeers(hcfg.peers.clone()))
    };
    hcfg.open_imsi_access = hcfg.peers.is_empty();
    let hss = Hss::new(hcfg, store);
    let metrics = Metrics::default();
    let d = &config.diameter;
    let mut peer =
        diameter::peer::PeerConfig::new(&d.origin_host, &d.origin_realm, vec![Application::S6A, Application::S13]);
    peer.watchdog_interval = Duration::from_secs(d.watchdog_secs);
    peer.max_message_size = d.max_message_size;
    peer.origin_state_id = store::now() as u32;
    peer.clock_low12 = (store::now() & 0xfff) as u32;
    let server = ServerConfig {
        peer,
        authorizer,
        limits: ConnectionLimits { max_in_flight: d.max_in_flight, ..ConnectionLimits::default() },
        tls: tls(&config)?,
    };
    let listener =
        tokio::net::TcpListener::bind(d.listen).await.map_err(|e| format!("diameter.listen {}: {e}", d.listen))?;
    tracing::info!(listen = %d.listen, origin_host = %d.origin_host, storage = %config.storage_url(), "Warden HSS serving");
    eprintln!("warden: HSS listening on {} (Diameter, {})", d.listen, if server.tls.is_some() { "TLS" } else { "TCP" });
    if let Some(addr) = config.metrics.listen {
        let l = metrics::bind(addr).await.map_err(|e| format!("metrics.listen {addr}: {e}"))?;
        eprintln!("warden: metrics on http://{addr}/metrics");
        tokio::spawn(metrics::serve(l, metrics.clone()));
    }
    let handler = Arc::new(Metered { hss: hss.clone(), metrics });
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    crate::platform::start(&config, hss.clone(), shutdown.clone()).await?;
    crate::firewall_run::start(&config, hss.store(), &handler.metrics, shutdown.clone()).await?;
    let server_task = tokio::spawn(serve(listener, server, handler, shutdown));
    let outbox = tokio::spawn(hss.clone().run_outbox(Duration::from_millis(500)));
    wait_for_signal().await;
    eprintln!("warden: shutting down (DPR to every peer)");
    let _ = stop.send(true);
    outbox.abort();
    let _ = tokio::time::timeout(Duration::from_secs(3), server_task).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    Ok(())
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}
