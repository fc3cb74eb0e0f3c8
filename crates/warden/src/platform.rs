//! Runs the connectivity-management API inside `warden serve`, wired to the HSS of the same process:
//! SIM changes made through the API drop the HSS's cached copy and wake its outbox, so the CLR/IDR
//! they queued leave at once, and the rule engine reads the HSS's signalling counters.

use std::sync::Arc;

use hss::Hss;
use store::model::{Sim, SimStatus};

use crate::config::Config;

/// The HSS as the platform sees it.
struct HssLink(Arc<Hss>);

impl cmp::HssNotifier for HssLink {
    fn status_changed(&self, before: &Sim, to: SimStatus) {
        self.0.status_changed(before, to);
    }

    fn profile_changed(&self, before: &Sim) {
        self.0.profile_changed(before);
    }
}

impl api::engine::SignallingSource for HssLink {
    fn at_least(&self, min: u32) -> Vec<(String, i64, u32)> {
        self.0.signalling().at_least(min, store::now())
    }
}

/// Binds the API listener and starts it with its background work; returns the bound address.
pub async fn start(
    config: &Config,
    hss: Arc<Hss>,
    shutdown: tokio::sync::watch::Receiver<bool>,
) -> Result<Option<std::net::SocketAddr>, String> {
    let h = &config.http;
    if !h.enabled {
        return Ok(None);
    }
    let tls = match &h.tls {
        Some(t) => {
            let cert = std::fs::read(&t.cert_file)
                .map_err(|e| format!("http.tls.cert_file {}: {e}", t.cert_file.display()))?;
            let key =
                std::fs::read(&t.key_file).map_err(|e| format!("http.tls.key_file {}: {e}", t.key_file.display()))?;
            Some(api::tls::server_config(&cert, &key).map_err(|e| format!("http.tls: {e}"))?)
        }
        None => None,
    };
    let settings = api::Settings {
        rate_per_sec: h.rate_per_sec,
        rate_burst: h.rate_burst,
        max_body: h.max_body_bytes,
        max_job_body: h.max_job_body_bytes,
        session_secs: i64::from(h.session_hours) * 3600,
        webhook_allow_private: h.webhook_allow_private,
        login_per_minute: h.login_per_minute,
        breached: match &h.breached_passwords_file {
            Some(path) => {
                let list = cmp::breached::BreachedList::load(path)
                    .map_err(|e| format!("http.breached_passwords_file: {e}"))?;
                eprintln!("warden: {} breached-password hashes loaded", list.len());
                Some(Arc::new(list))
            }
            None => None,
        },
    };
    let link = Arc::new(HssLink(hss.clone()));
    let state = api::AppState::new(hss.store().clone(), link.clone(), settings);
    let listener =
        tokio::net::TcpListener::bind(h.listen).await.map_err(|e| format!("http.listen {}: {e}", h.listen))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    api::start_background(&state, link).await;
    let app = api::router(state);
    let secure = tls.is_some();
    let mut stop = shutdown;
    tokio::spawn(async move {
        let wait = async move {
            while !*stop.borrow() {
                if stop.changed().await.is_err() {
                    break;
                }
            }
        };
        if let Err(e) = api::serve(listener, app, tls, wait).await {
            tracing::error!(error = %e, "API server stopped");
        }
    });
    let scheme = if secure { "https" } else { "http" };
    eprintln!("warden: API on {scheme}://{addr}/api/v1 (OpenAPI at /api/v1/openapi.json)");
    Ok(Some(addr))
}
