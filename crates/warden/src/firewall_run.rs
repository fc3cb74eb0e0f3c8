//! `warden serve` with a `[firewall]` section: starts the roaming signalling firewall (crate
//! `firewall`) in front of the HSS, adds its counters to `/metrics`, and reloads its rules from the
//! configuration file on SIGHUP without dropping connections.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use firewall::Firewall;

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

/// Starts the firewall when the configuration has one; it stops when `shutdown` turns true.
pub async fn start(
    config: &Config,
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
