//! The connectivity-management API inside `warden serve`, wired to the HSS and the PCRF of the same
//! process: SIM changes made through the API drop the HSS's cached copy and wake its outbox, so the
//! CLR/IDR they queued leave at once, and reach the PCRF, which pushes the SIM's new rules (RAR) or
//! releases its sessions (ASR); the rule engine reads the HSS's signalling counters.
//! [`Platform::build`] loads what `[http]` names (TLS material, the breached-password corpus) and
//! binds the listener; [`Platform::start`] hands the server and the platform's background work to the
//! App. Everything stops on the platform's shutdown token: the server stops accepting and finishes
//! the requests in flight, live event streams end, background loops and bulk jobs stop.

use std::net::SocketAddr;
use std::sync::Arc;

use hss::Hss;
use store::model::{Sim, SimStatus};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::error::ServeError;

/// The HSS as the platform sees it. IDRs it starts run on `sending`, so shutdown can wait for them.
/// The PCRF hears of every change too: it pushes new rules (RAR) or releases sessions (ASR).
pub(crate) struct HssLink {
    hss: Arc<Hss>,
    pcrf: Arc<pcrf::Pcrf>,
    sending: TaskTracker,
}

impl HssLink {
    /// A link for a use case run outside the platform API (the analytics' actions).
    pub(crate) fn new(hss: Arc<Hss>, pcrf: Arc<pcrf::Pcrf>) -> Self {
        Self { hss, pcrf, sending: TaskTracker::new() }
    }
}

impl cmp::HssNotifier for HssLink {
    /// The HSS passes it on to the PCRF ([`crate::traffic_run::PcrfNotifier`]).
    fn status_changed(&self, before: &Sim, to: SimStatus) {
        self.hss.status_changed(before, to);
    }

    fn profile_changed(&self, before: &Sim) {
        self.hss.profile_changed(before);
    }

    fn policy_changed(&self, imsi: &ids::Imsi) {
        self.pcrf.policy_changed(imsi);
    }

    fn profile_edited(&self, name: &str) {
        self.pcrf.profile_changed(name);
    }
}

impl api::engine::SignallingSource for HssLink {
    fn at_least(&self, min: u32) -> Vec<(String, i64, u32)> {
        self.hss.signalling().at_least(min, store::now())
    }
}

/// Store connections of the platform API, apart from the HSS's.
const API_CONNECTIONS: u32 = 4;

/// The platform API, built and bound.
pub struct Platform {
    state: api::AppState,
    link: Arc<HssLink>,
    listener: std::net::TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    addr: SocketAddr,
}

/// A named long-running future of the platform.
pub type Task = (&'static str, std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>);

impl Platform {
    /// The API's state (to hand it a view of the firewall built after it).
    pub fn state(&self) -> &api::AppState {
        &self.state
    }

    /// Loads what `settings` names and binds its listener; `None` when the API is disabled.
    pub async fn build(
        settings: &api::Settings,
        hss: Arc<Hss>,
        pcrf: Arc<pcrf::Pcrf>,
        shutdown: CancellationToken,
    ) -> Result<Option<Platform>, ServeError> {
        if !settings.enabled {
            return Ok(None);
        }
        let tls = settings.tls.as_ref().map(api::tls::TlsFiles::server_config).transpose()?;
        let mut settings = settings.clone();
        if let Some(n) = settings.load_breached()? {
            eprintln!("warden: {n} breached-password hashes loaded");
        }
        if let Some(oidc) = &settings.oidc {
            oidc.validate().map_err(ServeError::Oidc)?;
        }
        let listen = settings.listen;
        let bind_error = |source| ServeError::Bind { key: "http.listen", addr: listen, source };
        // Bound here, registered with the platform's own runtime in `start`.
        let listener = tokio::net::TcpListener::bind(listen).await.and_then(|l| l.into_std()).map_err(bind_error)?;
        let addr = listener.local_addr().map_err(bind_error)?;
        let link = Arc::new(HssLink::new(hss.clone(), pcrf));
        // Connections of its own: a flood of API requests must not hold those the HSS answers with.
        let store = hss.store().with_own_pool(API_CONNECTIONS).await.map_err(ServeError::ApiStore)?;
        let state = api::AppState::with_shutdown(store, link.clone(), settings, shutdown);
        Ok(Some(Platform { state, link, listener, tls, addr }))
    }

    /// IDRs the platform started, for shutdown to wait for.
    pub fn notifications(&self) -> TaskTracker {
        self.link.sending.clone()
    }

    /// Resumes unfinished bulk jobs and returns the server and the background work, each ending
    /// once the platform's shutdown token is cancelled. Run it on the runtime the tasks will run on
    /// (`crate::edge_runtime`): the listener and the resumed jobs belong to the runtime it runs on.
    pub async fn start(self) -> Result<Vec<Task>, ServeError> {
        let Platform { state, link, listener, tls, addr } = self;
        let listener = tokio::net::TcpListener::from_std(listener).map_err(|source| ServeError::Bind {
            key: "http.listen",
            addr,
            source,
        })?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        let mut tasks: Vec<Task> =
            api::start_background(&state, link).await.into_iter().map(|t| (t.name, t.future)).collect();
        let stop = state.shutdown_token().clone();
        let limits = api::server::Limits::from(&state.0.settings);
        let app = api::router(state);
        tasks.push((
            "platform API server",
            Box::pin(async move {
                if let Err(e) = api::serve(listener, app, tls, limits, stop.cancelled_owned()).await {
                    tracing::error!(error = %e, "API server stopped");
                }
            }),
        ));
        eprintln!("warden: API on {scheme}://{addr}/api/v1 (OpenAPI at /api/v1/openapi.json)");
        Ok(tasks)
    }
}
