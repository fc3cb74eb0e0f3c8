//! The `warden serve` application: [`App::build`] opens the store and builds every component from
//! its configuration section — the HSS and its Diameter listener, the platform API, the roaming
//! firewall, the metrics endpoint — binding every listener before anything runs; [`App::run`] runs
//! every long-running task on one [`JoinSet`] under a [`CancellationToken`] (a child token per
//! stage, and per component within it) — the platform API's on a runtime of its own at a lower CPU
//! priority ([`crate::edge_runtime`]) — and on shutdown stops them in this order:
//!
//! 1. **edge** — everything that accepts work or originates it: the roaming firewall (stops
//!    accepting, answers what partners have in flight, DPR to partners, then closes its links to
//!    the HSS), the platform API (stops accepting, finishes the requests in flight, ends live event
//!    streams) with its background loops (webhook delivery, rule engine, purge) and bulk jobs, the
//!    outbox delivery, the firewall's priority refresher and SIGHUP reloader, the metrics endpoint;
//! 2. the CLR/IDR those sent get their answers over the still open Diameter connections;
//! 3. **core** — the HSS's Diameter server: stops accepting, each connection answers what it is
//!    handling, sends DPR and closes on DPA;
//! 4. **flush** — the firewall's event writer writes what is queued; the metrics upkeep stops.
//!
//! The firewall and the platform go first because they send their work through the Diameter
//! server. Each stage has a bounded grace period (together well under two seconds); a task still
//! running after it is aborted and named in a warning. Every stop is logged at info level, in order,
//! and `run` returns only when the set is empty.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use hss::{Hss, HssConfig};
use store::Store;
use tokio::task::{AbortHandle, JoinSet};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::analytics_run::AnalyticsPart;
use crate::config::Config;
use crate::edge_runtime::EdgeRuntime;
use crate::error::ServeError;
use crate::firewall_run::FirewallPart;
use crate::gtp_run::GtpPart;
use crate::hss_front::{self, Metered};
use crate::metrics::{self, Exporter};
use crate::platform::Platform;
use crate::traffic_run::Traffic;

/// Grace of the edge stage: the firewall's and the API's in-flight work.
const EDGE_GRACE: Duration = Duration::from_millis(600);
/// Grace for answers to CLR/IDR sent before the Diameter connections close.
const SETTLE_GRACE: Duration = Duration::from_millis(100);
/// Grace of the core stage: drain (`hss_front::DRAIN_TIMEOUT`), DPR and DPA.
const CORE_GRACE: Duration = Duration::from_millis(600);
/// Grace of the flush stage.
const FLUSH_GRACE: Duration = Duration::from_millis(200);

/// The name of the task whose early end stops the process.
const DIAMETER_SERVER: &str = "HSS Diameter server";

/// When a task stops, in the shutdown order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Edge,
    Core,
    Flush,
}

/// Every component, built and bound, ready to run.
pub struct App {
    store: Store,
    hss: Arc<Hss>,
    diameter: (tokio::net::TcpListener, diameter::transport::ServerConfig),
    platform: Option<Platform>,
    firewall: Option<FirewallPart>,
    gtp: Option<GtpPart>,
    /// The LwM2M server, with `[devices]`.
    devices: Option<crate::devices_run::DevicesPart>,
    traffic: Traffic,
    analytics: Option<AnalyticsPart>,
    /// SGd and the SMS router, with `[sms] sgd = true`.
    sgd: Option<Arc<crate::sgd_front::SgdFront>>,
    /// The OTA engine, with `[ota]`.
    ota: Option<crate::ota_run::OtaPart>,
    /// The EST server, with `[devices] est_listen`.
    est: Option<crate::est_run::EstPart>,
    metrics: Option<(tokio::net::TcpListener, Exporter)>,
    tokens: Tokens,
    /// Held while serving on SQLite: a second `warden serve` on the same file is refused.
    _sqlite_lock: Option<std::fs::File>,
}

/// On PostgreSQL, block SQN allocation is for one instance only: refused when another instance is
/// live, and any instance refuses to join one that allocates in blocks (SEQ would go back between
/// their blocks). Two instances starting in the same second are not caught; docs/hss.md says so.
async fn refuse_shared_block_allocation(store: &Store, mine: store::Allocation) -> Result<(), ServeError> {
    if store.backend() != store::Backend::Postgres {
        return Ok(());
    }
    let now = store::cluster::now_ms();
    let live: Vec<_> = store
        .instances()
        .await
        .map_err(ServeError::Registry)?
        .into_iter()
        .filter(|i| i.is_live(now, hss::LIVE_WITHIN_MS))
        .collect();
    let block_elsewhere = live.iter().find(|i| i.info.sqn_allocation == "block");
    match (mine, block_elsewhere, live.first()) {
        (store::Allocation::Block(_), _, Some(other)) | (_, Some(other), _) => {
            Err(ServeError::SharedBlockAllocation(format!("{} ({})", other.info.id, other.info.diameter)))
        }
        _ => Ok(()),
    }
}

/// On SQLite, an exclusive lock on `<database>.serve-lock` for the life of the process (the kernel
/// releases it when the process ends, even by `kill -9`): SQLite serves one instance, whose
/// block-allocated SQNs and outbox assume no other `warden serve` on the file.
fn sqlite_serve_lock(url: &str) -> Result<Option<std::fs::File>, ServeError> {
    let Some(path) = url.strip_prefix("sqlite://") else { return Ok(None) };
    if path == ":memory:" {
        return Ok(None);
    }
    // The store created the file before this runs; its canonical path names the lock, so two
    // spellings of one file (`./x.db`, `x.db`, a symbolic link) share it.
    let canonical =
        std::fs::canonicalize(path).map_err(|source| ServeError::Lock { path: path.to_string(), source })?;
    let lock_path = format!("{}.serve-lock", canonical.display());
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|source| ServeError::Lock { path: lock_path.clone(), source })?;
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(std::fs::TryLockError::WouldBlock) => Err(ServeError::SqliteInUse(path.to_string())),
        Err(std::fs::TryLockError::Error(source)) => Err(ServeError::Lock { path: lock_path, source }),
    }
}

/// The root token and its children.
struct Tokens {
    root: CancellationToken,
    edge: CancellationToken,
    core: CancellationToken,
    flush: CancellationToken,
}

impl Tokens {
    fn new() -> Self {
        let root = CancellationToken::new();
        Self { edge: root.child_token(), core: root.child_token(), flush: root.child_token(), root }
    }
}

async fn bind(key: &'static str, addr: std::net::SocketAddr) -> Result<tokio::net::TcpListener, ServeError> {
    tokio::net::TcpListener::bind(addr).await.map_err(|source| ServeError::Bind { key, addr, source })
}

impl App {
    /// Opens the store and builds every component the configuration asks for; every listener is
    /// bound when this returns.
    pub async fn build(config: Config) -> Result<App, ServeError> {
        let d = &config.diameter;
        if !d.listen.ip().is_loopback() && d.peers.is_empty() {
            return Err(ServeError::OpenListener);
        }
        let h = &config.http;
        if h.enabled && !h.listen.ip().is_loopback() && !h.https() {
            return Err(ServeError::PlainHttp(h.listen));
        }
        // The recorder first: components register their series as they are built.
        let metrics = match config.metrics.listen {
            Some(addr) => {
                let exporter = metrics::install()?;
                firewall::observe::describe_metrics();
                hss::describe_metrics();
                if config.devices.is_some() {
                    crate::devices_metrics::describe();
                }
                Some((bind("metrics.listen", addr).await?, exporter))
            }
            None => None,
        };
        let store = crate::storage::open_store(&config).await?;
        let lock = sqlite_serve_lock(&config.storage_url())?;
        let mut hss_config = HssConfig::from_sections(d.clone(), config.sqn, config.eir);
        hss_config.subscription = config.subscription;
        if let Some(fw) = crate::firewall_run::relay_of_own_hss(&config) {
            hss_config.add_relay(fw);
        }
        let hss = Hss::new(hss_config, store.clone());
        refuse_shared_block_allocation(&store, hss.sqn_allocation()).await?;
        let http = if config.http.enabled { config.http.listen.to_string() } else { String::new() };
        hss.describe_instance(&d.origin_host, &d.listen.to_string(), &http);
        let server = hss_front::server_config(d, config.sms.sgd)?;
        let sms = crate::sms_run::SmsPart::build(&config, &hss)?;
        let sgd = sms.sgd();
        let listener = bind("diameter.listen", d.listen).await?;
        tracing::info!(listen = %d.listen, origin_host = %d.origin_host, storage = %config.storage_url(), "Warden HSS serving");
        eprintln!(
            "warden: HSS listening on {} (Diameter, {})",
            d.listen,
            if server.tls.is_some() { "TLS" } else { "TCP" }
        );
        if let Some((l, _)) = &metrics {
            if let Ok(addr) = l.local_addr() {
                eprintln!("warden: metrics on http://{addr}/metrics");
            }
        }
        let tokens = Tokens::new();
        let mut traffic = Traffic::build(&config, &store, &hss).await?;
        let analytics = match &config.analytics {
            Some(c) => Some(AnalyticsPart::build(c, traffic.pcrf().clone(), &config.data_dir).await?),
            None => None,
        };
        if let Some(a) = &analytics {
            traffic.tap_dns(a.dns_tap());
        }
        hss.also_notify(Arc::new(crate::traffic_run::PcrfNotifier(traffic.pcrf().clone())));
        let platform =
            Platform::build(&config.http, hss.clone(), traffic.pcrf().clone(), tokens.edge.child_token()).await?;
        let firewall =
            FirewallPart::build(&config, &store, analytics.as_ref().map(AnalyticsPart::signalling_tap)).await?;
        let gtp = GtpPart::build(&config, &store).await?;
        let devices = crate::devices_run::DevicesPart::build(&config, &store).await?;
        if let (Some(p), Some(d)) = (&platform, &devices) {
            p.state().set_devices(d.service());
            p.state().set_device_refresh(d.refresher());
        }
        if let (Some(p), Some(fw)) = (&platform, &firewall) {
            p.state().set_firewall(Arc::new(crate::firewall_view::View(fw.firewall().clone())));
        }
        let ota = match &config.ota {
            Some(section) => Some(crate::ota_run::OtaPart::build(
                section,
                &store,
                sms.mt_sender(),
                firewall.as_ref().map(|f| f.firewall().clone()),
            )?),
            None => None,
        };
        if let (Some(p), Some(o)) = (&platform, &ota) {
            p.state().set_ota(o.engine().clone());
        }
        if let Some(o) = &ota {
            sms.attach(o.engine());
        }
        let est = crate::est_run::EstPart::build(&config, &store).await?;
        let metrics = metrics.map(|(l, mut exporter)| {
            if let Some(fw) = &firewall {
                let fw = fw.firewall().clone();
                exporter.add_collector(Arc::new(move || fw.publish_gauges()));
            }
            if let Some(g) = &gtp {
                let g = g.gtp().clone();
                exporter.add_collector(Arc::new(move || g.publish_gauges()));
            }
            (l, exporter)
        });
        Ok(App {
            store,
            hss,
            diameter: (listener, server),
            platform,
            firewall,
            gtp,
            devices,
            traffic,
            analytics,
            sgd,
            ota,
            est,
            metrics,
            tokens,
            _sqlite_lock: lock,
        })
    }

    /// Runs every component until `shutdown` resolves (or the Diameter server ends on its own),
    /// then stops them in order (see the module documentation) and returns once no task is left.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<(), ServeError> {
        let App {
            store,
            hss,
            diameter: (listener, server),
            platform,
            firewall,
            gtp,
            devices,
            traffic,
            analytics,
            sgd,
            ota,
            est,
            metrics,
            tokens,
            _sqlite_lock,
        } = self;
        let pcrf = traffic.pcrf().clone();
        let mut running = Running::default();
        let mut notifications = Vec::new();
        if let Some((l, exporter)) = metrics {
            let stop = tokens.edge.child_token();
            let endpoint = metrics::serve(l, exporter.clone(), stop);
            running.spawn(Stage::Edge, "metrics endpoint", async move {
                if let Err(e) = endpoint.await {
                    tracing::error!(error = %e, "metrics endpoint stopped");
                }
            });
            running.spawn(Stage::Flush, "metrics upkeep", metrics::upkeep(exporter, tokens.flush.child_token()));
        }
        running.spawn(
            Stage::Core,
            DIAMETER_SERVER,
            diameter::transport::serve(
                listener,
                server,
                Arc::new(Metered {
                    hss: hss.clone(),
                    pcrf: pcrf.clone(),
                    analytics: analytics.as_ref().map(AnalyticsPart::signalling_tap),
                    sgd,
                }),
                tokens.core.child_token(),
            ),
        );
        let changes = (store.backend() == store::Backend::Postgres).then(|| hss.changes());
        let (edge_tasks, flush_tasks) =
            traffic.start(store.clone(), tokens.edge.child_token(), tokens.flush.child_token(), changes);
        for (name, task) in edge_tasks {
            running.spawn(Stage::Edge, name, task);
        }
        for (name, task) in flush_tasks {
            running.spawn(Stage::Flush, name, task);
        }
        if let Some(mut a) = analytics {
            // Detections are stored and acted on by the tenants' policies (detection_record).
            let link = Arc::new(crate::platform::HssLink::new(hss.clone(), pcrf.clone()));
            let (sink, recorder) =
                crate::detection_record::connect(a.recent(), store.clone(), link, tokens.flush.child_token());
            a.set_sink(sink);
            running.spawn(Stage::Flush, "analytics detections", recorder);
            let (edge_tasks, flush_tasks) =
                a.start(store.clone(), tokens.edge.child_token(), tokens.flush.child_token());
            for (name, task) in edge_tasks {
                running.spawn(Stage::Edge, name, task);
            }
            for (name, task) in flush_tasks {
                running.spawn(Stage::Flush, name, task);
            }
        }
        running.spawn(Stage::Edge, "outbox delivery", deliver_outbox(hss.clone(), tokens.edge.child_token()));
        if let Some(o) = ota {
            running.spawn(Stage::Edge, "OTA engine", o.run(tokens.edge.child_token()));
        }
        if let Some(e) = est {
            for (name, task) in e.start(tokens.edge.child_token()) {
                running.spawn(Stage::Edge, name, task);
            }
        }
        // The platform on its own runtime at a lower priority, so it cannot starve Diameter.
        let edge = platform.as_ref().map(|_| EdgeRuntime::new()).transpose()?;
        if let (Some(p), Some(rt)) = (platform, &edge) {
            notifications.push(p.notifications());
            let tasks = rt.handle().spawn(p.start()).await.map_err(|e| ServeError::Runtime(e.into()))??;
            for (name, task) in tasks {
                running.spawn_on(Stage::Edge, name, task, rt.handle());
            }
        }
        if let Some(d) = devices {
            for (name, task) in d.start(tokens.edge.child_token()) {
                running.spawn(Stage::Edge, name, task);
            }
        }
        if let Some(g) = gtp {
            let link = Arc::new(crate::platform::HssLink::new(hss.clone(), pcrf.clone()));
            let tasks = g.start(tokens.edge.child_token(), tokens.flush.child_token(), link);
            for (name, task) in tasks.edge {
                running.spawn(Stage::Edge, name, task);
            }
            running.spawn(Stage::Flush, tasks.writer.0, tasks.writer.1);
        }
        if let Some(f) = firewall {
            let membership = crate::firewall_replication::Membership {
                instance_id: hss.instance_id(),
                live_instances: hss.live_instances(),
            };
            let tasks = f.start(tokens.edge.child_token(), tokens.flush.child_token(), membership, hss.changes());
            for (name, task) in tasks.edge {
                running.spawn(Stage::Edge, name, task);
            }
            running.spawn(Stage::Flush, tasks.writer.0, tasks.writer.1);
        }

        let outcome = tokio::select! {
            _ = shutdown => Ok(()),
            failed = running.watch_for_failure() => failed,
        };
        eprintln!("warden: shutting down (DPR to every peer)");
        let started = Instant::now();
        tracing::info!("shutdown: edge (firewall, platform API and background work, outbox, metrics endpoint)");
        tokens.edge.cancel();
        running.stop(Stage::Edge, EDGE_GRACE, started).await;
        // The membership loop marks the instance stopped as it ends; if it was aborted mid-round
        // after its grace, do it here, so other instances take over its peers' CLR/IDR at once.
        if let Err(e) = store.stop_instance(&hss.instance_id()).await {
            tracing::warn!(error = %e, "instance not marked stopped; it is seen as failed after its heartbeat ends");
        }
        settle(&notifications, &hss, SETTLE_GRACE).await;
        if tokio::time::timeout(SETTLE_GRACE, pcrf.settle()).await.is_err() {
            tracing::warn!("shutdown: RAR/ASR still waiting for answers; they are dropped");
        }
        tracing::info!("shutdown: core (Diameter server: stop accepting, drain, DPR)");
        tokens.core.cancel();
        running.stop(Stage::Core, CORE_GRACE, started).await;
        settle(&notifications, &hss, SETTLE_GRACE).await;
        tracing::info!("shutdown: flush (event writer, metrics upkeep)");
        tokens.flush.cancel();
        running.stop(Stage::Flush, FLUSH_GRACE, started).await;
        tokens.root.cancel();
        running.finish().await;
        drop((hss, pcrf, store, edge));
        tracing::info!(took_ms = started.elapsed().as_millis() as u64, "shutdown complete");
        outcome
    }
}

/// Delivers the outbox (the CLR/IDR every SIM change queues) until `stop`, finishing the round in
/// progress: at once after a change of this process, every half second for other processes'.
async fn deliver_outbox(hss: Arc<Hss>, stop: CancellationToken) {
    hss.run_outbox(Duration::from_millis(500), stop).await;
}

/// Waits (at most `grace`) for IDRs the platform started and for every CLR/IDR the HSS sent.
async fn settle(notifications: &[TaskTracker], hss: &Hss, grace: Duration) {
    let all = async {
        for n in notifications {
            n.close();
            n.wait().await;
        }
        hss.settle().await;
    };
    if tokio::time::timeout(grace, all).await.is_err() {
        tracing::warn!("shutdown: CLR/IDR still waiting for answers; they are dropped");
    }
}

/// The running tasks: one [`JoinSet`], each task named and assigned to a stage.
#[derive(Default)]
struct Running {
    set: JoinSet<()>,
    tasks: HashMap<tokio::task::Id, (&'static str, Stage, AbortHandle)>,
}

impl Running {
    fn spawn(&mut self, stage: Stage, name: &'static str, task: impl Future<Output = ()> + Send + 'static) {
        let handle = self.set.spawn(task);
        self.tasks.insert(handle.id(), (name, stage, handle));
    }

    /// Like [`Running::spawn`], on another runtime.
    fn spawn_on(
        &mut self,
        stage: Stage,
        name: &'static str,
        task: impl Future<Output = ()> + Send + 'static,
        runtime: &tokio::runtime::Handle,
    ) {
        let handle = self.set.spawn_on(task, runtime);
        self.tasks.insert(handle.id(), (name, stage, handle));
    }

    /// Takes one ended task off the set and logs it; `None` when the set is empty.
    async fn reap(&mut self, started: Instant) -> Option<(&'static str, Stage)> {
        let ended = self.set.join_next_with_id().await?;
        let id = match &ended {
            Ok((id, ())) => *id,
            Err(e) => e.id(),
        };
        let (name, stage, _) = self.tasks.remove(&id)?;
        let took_ms = started.elapsed().as_millis() as u64;
        match ended {
            Ok(_) => tracing::info!(task = name, ?stage, took_ms, "stopped"),
            Err(e) if e.is_cancelled() => {
                tracing::warn!(task = name, ?stage, took_ms, "aborted after its grace period")
            }
            Err(e) => tracing::error!(task = name, ?stage, error = %e, "panicked"),
        }
        Some((name, stage))
    }

    /// Before shutdown: resolves when the Diameter server ends on its own (the process cannot go on
    /// without it); other tasks that end early are logged and the rest keep running.
    async fn watch_for_failure(&mut self) -> Result<(), ServeError> {
        let started = Instant::now();
        loop {
            match self.reap(started).await {
                Some((DIAMETER_SERVER, _)) => return Err(ServeError::Stopped(DIAMETER_SERVER)),
                Some((name, _)) => tracing::error!(task = name, "stopped before shutdown"),
                None => return Err(ServeError::Stopped(DIAMETER_SERVER)),
            }
        }
    }

    /// Waits until no task of `stage` runs, at most `grace`; then aborts those left.
    async fn stop(&mut self, stage: Stage, grace: Duration, started: Instant) {
        let deadline = Instant::now() + grace;
        let mut aborted = false;
        while self.tasks.values().any(|(_, s, _)| *s == stage) {
            let reaped = tokio::select! {
                reaped = self.reap(started) => reaped.is_some(),
                _ = tokio::time::sleep_until(deadline), if !aborted => true,
            };
            if !reaped {
                break;
            }
            if !aborted && Instant::now() >= deadline {
                aborted = true;
                for (name, s, handle) in self.tasks.values() {
                    if *s == stage {
                        // Aborted tasks end at their next await point and are reaped above.
                        tracing::warn!(task = name, ?stage, "still running after its grace period; aborting");
                        handle.abort();
                    }
                }
            }
        }
    }

    /// Aborts and collects anything left (nothing, when every stage ended in time).
    async fn finish(&mut self) {
        for (name, stage, handle) in self.tasks.values() {
            tracing::warn!(task = name, ?stage, "still running at the end of shutdown; aborting");
            handle.abort();
        }
        while self.reap(Instant::now()).await.is_some() {}
    }
}
