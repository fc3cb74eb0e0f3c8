//! `warden serve` with a `[gtp]` section: the GTP-C firewall (crate `gtpfw`) in front of the home
//! P-GW. [`GtpPart::build`] compiles its configuration, binds its UDP listener and gives it the
//! subscriber store's view of each roamer — the S6a registration (serving node's visited PLMN and
//! since when) for the cross-check, the profile's APNs, the device priority — and
//! [`GtpPart::start`] hands the App the relay and the SIGHUP reloader, which stop on the edge token.
//! Its counters reach `/metrics` through the metrics facade (`warden_gtp_*`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use firewall::{Priority, PriorityLookup};
use gtpfw::{ApnLookup, Gtp, RegistrationLookup};
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

/// The store's SIMs, read on the request path at most every [`FRESH_FOR`] per subscriber (a fresh
/// S6a registration is seen within that time), waiting for the database in place on the
/// multi-threaded runtime (`warden serve`'s); elsewhere only what is cached is answered.
struct StoreRoamers {
    store: Store,
    cache: Mutex<HashMap<String, (Instant, Roamer)>>,
}

impl StoreRoamers {
    fn roamer(&self, imsi: &str) -> Roamer {
        if let Some((at, r)) = self.cache.lock().expect("cache").get(imsi) {
            if at.elapsed() < FRESH_FOR {
                return r.clone();
            }
        }
        let multi = tokio::runtime::Handle::try_current()
            .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
        if !multi {
            return Roamer::default();
        }
        let r = tokio::task::block_in_place(|| tokio::runtime::Handle::current().block_on(self.read(imsi)));
        let mut cache = self.cache.lock().expect("cache");
        if cache.len() >= MAX_CACHED {
            cache.retain(|_, (at, _)| at.elapsed() < FRESH_FOR);
        }
        cache.insert(imsi.to_owned(), (Instant::now(), r.clone()));
        r
    }

    async fn read(&self, imsi: &str) -> Roamer {
        let Ok(key) = imsi.parse::<ids::Imsi>() else { return Roamer::default() };
        let sim = match self.store.sim(&key).await {
            Ok(Some(s)) => s,
            Ok(None) => return Roamer::default(),
            Err(e) => {
                tracing::warn!(error = %e, "gtp: SIM not read");
                return Roamer::default();
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
        Roamer { registration, apns, priority }
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
    #[cfg(unix)]
    reload: Option<(std::path::PathBuf, tokio::signal::unix::Signal)>,
}

impl GtpPart {
    /// Compiles the configuration and binds the listener; `None` without `[gtp]`.
    pub async fn build(config: &Config, store: &Store) -> Result<Option<GtpPart>, ServeError> {
        let Some(gc) = config.gtp.clone() else { return Ok(None) };
        let addr = gc.listen;
        let gtp = Gtp::new(gc)?;
        let roamers = Arc::new(StoreRoamers { store: store.clone(), cache: Mutex::new(HashMap::new()) });
        gtp.engine().set_registration_lookup(roamers.clone());
        gtp.engine().set_apn_lookup(roamers.clone());
        gtp.engine().set_priority_lookup(roamers);
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
            #[cfg(unix)]
            reload,
        }))
    }

    /// The firewall.
    pub fn gtp(&self) -> &Arc<Gtp> {
        &self.gtp
    }

    /// The relay and the reloader, both stopping on `edge`.
    pub fn start(self, edge: CancellationToken) -> Vec<Task> {
        let gtp = self.gtp.clone();
        let stop = edge.clone();
        let socket = self.socket;
        let mut tasks: Vec<Task> = vec![("GTP-C firewall", Box::pin(async move { gtp.run(socket, stop).await }))];
        #[cfg(unix)]
        if let Some((path, hup)) = self.reload {
            let gtp = self.gtp;
            let reload = crate::section_reload::on_hangup("gtp", |c| c.gtp, move |c| gtp.reload(c), path, hup, edge);
            tasks.push(("GTP-C firewall reload on SIGHUP", Box::pin(reload)));
        }
        tasks
    }
}
