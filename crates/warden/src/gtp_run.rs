//! `warden serve` with a `[gtp]` section: the GTP-C firewall (crate `gtpfw`) in front of the home
//! P-GW. [`GtpPart::build`] compiles its configuration, binds its UDP listener and gives it the
//! subscriber store's view of each roamer — the S6a registration (serving node's visited PLMN and
//! since when) for the cross-check, the profile's APNs, the device priority — and
//! [`GtpPart::start`] hands the App the relay and the SIGHUP reloader, which stop on the edge token,
//! and the event writer ([`crate::gtp_events`]: decisions into the event feed, the action on
//! offending devices), which stops on the flush token. Its counters reach `/metrics` through the
//! metrics facade (`warden_gtp_*`).

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use firewall::{Priority, PriorityLookup};
use gtpfw::{ApnLookup, Gtp, RegistrationLookup, SubscriberCache};
use store::Store;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::error::ServeError;
use crate::platform::Task;

/// How long a subscriber's view read from the store is used before it is read again.
const FRESH_FOR: Duration = Duration::from_secs(2);
/// Subscribers kept in the view at once.
const MAX_CACHED: usize = 100_000;

/// What the firewall needs of one SIM.
#[derive(Debug, Clone, Default)]
struct Roamer {
    registration: Option<(gtpc::Plmn, SystemTime)>,
    apns: Option<Vec<String>>,
    priority: Option<Priority>,
}

/// The store's SIMs, kept in memory for [`FRESH_FOR`] per subscriber (a fresh S6a registration is
/// seen within that time). The lookups answer from memory only; the firewall parks a set-up whose
/// subscriber is not held (or is older than [`FRESH_FOR`]) and has it read with
/// [`SubscriberCache::load`] off its receive path, so a slow database read holds up that
/// subscriber's request only.
#[derive(Clone)]
struct StoreRoamers {
    store: Store,
    cache: Arc<Mutex<HashMap<String, (Instant, Roamer)>>>,
}

impl StoreRoamers {
    fn roamer(&self, imsi: &str) -> Roamer {
        self.cache.lock().expect("cache").get(imsi).map(|(_, r)| r.clone()).unwrap_or_default()
    }

    /// The SIM's view from the store; `None` when the database could not be read (nothing is
    /// cached then: the parked request is screened with no registration known).
    async fn read(&self, imsi: &str) -> Option<Roamer> {
        let Ok(key) = imsi.parse::<ids::Imsi>() else { return Some(Roamer::default()) };
        let sim = match self.store.sim(&key).await {
            Ok(Some(s)) => s,
            Ok(None) => return Some(Roamer::default()),
            Err(e) => {
                tracing::warn!(error = %e, "gtp: SIM not read");
                return None;
            }
        };
        let registration = sim.serving.as_ref().and_then(|n| {
            let plmn = gtpc::Plmn::from_bytes(n.plmn?.to_bcd()).ok()?;
            Some((plmn, SystemTime::UNIX_EPOCH + Duration::from_secs(u64::try_from(n.since).unwrap_or(0))))
        });
        let apns = match &sim.profile {
            Some(name) => match self.store.profile(name).await {
                Ok(Some(p)) => Some(p.apn.iter().map(|a| a.name.to_ascii_lowercase()).collect()),
                _ => None,
            },
            None => None,
        };
        let priority = match sim.priority {
            store::model::Priority::Critical => Some(Priority::Critical),
            store::model::Priority::Low => Some(Priority::Low),
            store::model::Priority::Standard => Some(Priority::Standard),
        };
        Some(Roamer { registration, apns, priority })
    }
}

impl SubscriberCache for StoreRoamers {
    fn cached(&self, imsi: &str) -> bool {
        self.cache.lock().expect("cache").get(imsi).is_some_and(|(at, _)| at.elapsed() < FRESH_FOR)
    }

    fn load(&self, imsi: &str) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>> {
        let (me, imsi) = (self.clone(), imsi.to_owned());
        Box::pin(async move {
            let Some(r) = me.read(&imsi).await else { return };
            let mut cache = me.cache.lock().expect("cache");
            if cache.len() >= MAX_CACHED {
                cache.retain(|_, (at, _)| at.elapsed() < FRESH_FOR);
            }
            cache.insert(imsi, (Instant::now(), r));
        })
    }
}

impl RegistrationLookup for StoreRoamers {
    fn registration(&self, imsi: &str) -> Option<(gtpc::Plmn, SystemTime)> {
        self.roamer(imsi).registration
    }
}

impl ApnLookup for StoreRoamers {
    fn apn_allowed(&self, imsi: &str, apn: &str) -> Option<bool> {
        let apns = self.roamer(imsi).apns?;
        Some(apns.iter().any(|a| a == "*" || a == apn))
    }
}

impl PriorityLookup for StoreRoamers {
    fn priority(&self, imsi: &str) -> Option<Priority> {
        self.roamer(imsi).priority
    }
}

/// The GTP-C firewall, built and bound.
pub struct GtpPart {
    gtp: Arc<Gtp>,
    socket: tokio::net::UdpSocket,
    store: Store,
    events: tokio::sync::mpsc::Receiver<gtpfw::observe::Event>,
    #[cfg(unix)]
    reload: Option<(std::path::PathBuf, tokio::signal::unix::Signal)>,
}

impl GtpPart {
    /// Compiles the configuration and binds the listener; `None` without `[gtp]`.
    pub async fn build(config: &Config, store: &Store) -> Result<Option<GtpPart>, ServeError> {
        let Some(gc) = config.gtp.clone() else { return Ok(None) };
        let addr = gc.listen;
        let gtp = Gtp::new(gc)?;
        let roamers = Arc::new(StoreRoamers { store: store.clone(), cache: Arc::new(Mutex::new(HashMap::new())) });
        gtp.engine().set_subscriber_cache(roamers.clone());
        gtp.engine().set_registration_lookup(roamers.clone());
        gtp.engine().set_apn_lookup(roamers.clone());
        gtp.engine().set_priority_lookup(roamers);
        let (sink, events) = crate::gtp_events::channel();
        gtp.engine().observer.set_sink(sink);
        let socket = gtp.bind().await.map_err(|source| ServeError::Bind { key: "gtp.listen", addr, source })?;
        gtpfw::observe::describe_metrics();
        eprintln!("warden: GTP-C firewall listening on {addr} (UDP), P-GW {}", gtp.config().upstream);
        #[cfg(unix)]
        let reload = match config.source.clone() {
            Some(path) => Some((
                path,
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
                    .map_err(|source| ServeError::Signal { signal: "SIGHUP", source })?,
            )),
            None => None,
        };
        Ok(Some(GtpPart {
            gtp,
            socket,
            store: store.clone(),
            events,
            #[cfg(unix)]
            reload,
        }))
    }

    /// The firewall.
    pub fn gtp(&self) -> &Arc<Gtp> {
        &self.gtp
    }

    /// The relay and the reloader, both stopping on `edge`, and the event writer (with the action on
    /// offending devices through `notifier`), stopping on `flush` after writing what is queued.
    pub fn start(
        self,
        edge: CancellationToken,
        flush: CancellationToken,
        notifier: Arc<dyn cmp::HssNotifier>,
    ) -> GtpTasks {
        let gtp = self.gtp.clone();
        let stop = edge.clone();
        let socket = self.socket;
        let writer = crate::gtp_events::write_events(self.gtp.clone(), self.store, notifier, self.events, flush);
        let mut tasks: Vec<Task> = vec![("GTP-C firewall", Box::pin(async move { gtp.run(socket, stop).await }))];
        #[cfg(unix)]
        if let Some((path, hup)) = self.reload {
            let gtp = self.gtp;
            let apply = move |c| {
                gtp.reload(c).map(|kept| {
                    for k in kept {
                        eprintln!("warden: [gtp] reload: {k}");
                    }
                })
            };
            let reload = crate::section_reload::on_hangup("gtp", |c| c.gtp, apply, path, hup, edge);
            tasks.push(("GTP-C firewall reload on SIGHUP", Box::pin(reload)));
        }
        GtpTasks { edge: tasks, writer: ("GTP-C firewall event writer", Box::pin(writer)) }
    }
}

/// What [`GtpPart::start`] hands the App.
pub struct GtpTasks {
    /// The relay and the reloader: they stop on the edge token.
    pub edge: Vec<Task>,
    /// The event writer: it stops on its own token, after the edge, and flushes its queue.
    pub writer: Task,
}
