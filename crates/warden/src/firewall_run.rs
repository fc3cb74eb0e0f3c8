//! `warden serve` with a `[firewall]` section: starts the roaming signalling firewall (crate
//! `firewall`) in front of the HSS, gives it device priorities from the subscriber store (critical
//! and low-priority SIMs, refreshed every minute), adds its counters to `/metrics`, and reloads its
//! rules from the configuration file on SIGHUP without dropping connections. Its decisions about
//! subscribers are written to the platform's event feed (`roaming.<rule>`), at most once per
//! subscriber and rule a minute, through a bounded queue that drops rather than slows the firewall.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use firewall::{Firewall, Priority, PriorityLookup};
use store::Store;

use crate::config::Config;
use crate::metrics::Metrics;

/// Where the firewall forwards by default: Warden's own Diameter listener (loopback when it listens
/// on every address).
fn own_hss(config: &Config) -> SocketAddr {
    let mut a = config.diameter.listen;
    if a.ip().is_unspecified() {
        a.set_ip(IpAddr::V4(Ipv4Addr::LOCALHOST));
    }
    a
}

/// Critical and low-priority SIMs of the store by IMSI (standard ones are absent: the firewall's
/// configured lists decide for them).
#[derive(Default)]
struct StorePriorities(RwLock<HashMap<String, Priority>>);

impl PriorityLookup for StorePriorities {
    fn priority(&self, imsi: &str) -> Option<Priority> {
        self.0.read().expect("priorities").get(imsi).copied()
    }
}

/// Persists firewall events about subscribers into the store's event feed, off the request path.
struct StoreEvents(tokio::sync::mpsc::Sender<(String, String, String)>);

impl firewall::EventSink for StoreEvents {
    fn record(&self, e: &firewall::Event) {
        let Some(imsi) = e.imsi else { return };
        // A full queue means a storm: the counters still count every decision.
        let _ =
            self.0.try_send((firewall::rules::imsi_string(imsi), format!("roaming.{}", e.rule.id()), e.to_string()));
    }
}

/// Writes queued firewall events, each (IMSI, kind) at most once a minute.
fn spawn_event_writer(store: Store) -> StoreEvents {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<(String, String, String)>(10_000);
    tokio::spawn(async move {
        let mut last: HashMap<(String, String), std::time::Instant> = HashMap::new();
        while let Some((imsi, kind, detail)) = rx.recv().await {
            let now = std::time::Instant::now();
            let key = (imsi, kind);
            if last.get(&key).is_some_and(|t| now.duration_since(*t) < Duration::from_secs(60)) {
                continue;
            }
            if last.len() > 100_000 {
                last.retain(|_, t| now.duration_since(*t) < Duration::from_secs(60));
            }
            let Ok(parsed) = key.0.parse::<ids::Imsi>() else { continue };
            if let Err(e) = store.record_event(Some(&parsed), &key.1, &detail).await {
                tracing::warn!(error = %e, "firewall event not stored");
            }
            last.insert(key, now);
        }
    });
    StoreEvents(tx)
}

/// Reads the SIMs whose priority class is not standard (one narrow query, not whole SIM rows).
async fn load_priorities(store: &Store) -> Result<HashMap<String, Priority>, store::StoreError> {
    Ok(store
        .priority_exceptions()
        .await?
        .into_iter()
        .filter_map(|(imsi, p)| match p {
            store::model::Priority::Critical => Some((imsi, Priority::Critical)),
            store::model::Priority::Low => Some((imsi, Priority::Low)),
            store::model::Priority::Standard => None,
        })
        .collect())
}

/// Starts the firewall when the configuration has one; it stops when `shutdown` turns true.
pub async fn start(
    config: &Config,
    store: &Store,
    metrics: &Metrics,
    shutdown: tokio::sync::watch::Receiver<bool>,
) -> Result<Option<Arc<Firewall>>, String> {
    let Some(fc) = config.firewall.clone() else { return Ok(None) };
    let upstream_is_own = fc.upstream.is_none();
    let fw_host = fc.origin_host.clone();
    let fw = Firewall::new(fc).map_err(|e| e.to_string())?;
    let listener = fw.bind().await.map_err(|e| e.to_string())?;
    let listen = listener.local_addr().map_err(|e| e.to_string())?;
    if upstream_is_own
        && !config.diameter.peers.is_empty()
        && !config.diameter.peers.iter().any(|p| p.origin_host.eq_ignore_ascii_case(&fw_host))
    {
        tracing::warn!(firewall = %fw_host, "the firewall's Origin-Host is not among [[diameter.peers]]: the HSS will refuse it");
    }
    eprintln!("warden: roaming firewall listening on {listen} (Diameter), forwarding to {}", own_hss(config));
    let priorities = Arc::new(StorePriorities::default());
    *priorities.0.write().expect("priorities") =
        load_priorities(store).await.map_err(|e| format!("SIM priorities: {e}"))?;
    fw.set_priority_lookup(priorities.clone());
    fw.set_event_sink(Arc::new(spawn_event_writer(store.clone())));
    let (s, mut stop) = (store.clone(), shutdown.clone());
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(60)) => {}
                _ = stop.changed() => return,
            }
            match load_priorities(&s).await {
                Ok(map) => *priorities.0.write().expect("priorities") = map,
                Err(e) => tracing::warn!(error = %e, "firewall: SIM priorities not refreshed"),
            }
        }
    });
    let f = fw.clone();
    metrics.add_source(Arc::new(move |out: &mut String| f.render_metrics(out)));
    let (f, default_upstream) = (fw.clone(), own_hss(config));
    let run_shutdown = shutdown.clone();
    tokio::spawn(async move {
        if let Err(e) = f.run(listener, default_upstream, run_shutdown).await {
            tracing::error!(error = %e, "roaming firewall stopped");
        }
    });
    #[cfg(unix)]
    if let Some(path) = config.source.clone() {
        let f = fw.clone();
        let mut shutdown = shutdown;
        let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
            .map_err(|e| format!("SIGHUP handler: {e}"))?;
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = hup.recv() => {}
                    _ = shutdown.changed() => return,
                }
                match Config::load(Some(&path)).map(|c| c.firewall) {
                    Ok(Some(new)) => match f.reload(new) {
                        Ok(()) => eprintln!("warden: firewall rules reloaded from {}", path.display()),
                        Err(e) => eprintln!("warden: firewall reload refused, rules unchanged: {e}"),
                    },
                    Ok(None) => eprintln!("warden: [firewall] removed from {}; restart to stop it", path.display()),
                    Err(e) => eprintln!("warden: firewall reload refused, rules unchanged: {e}"),
                }
            }
        });
    }
    Ok(Some(fw))
}
