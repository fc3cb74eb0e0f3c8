//! `warden serve` with a `[firewall]` section: the roaming signalling firewall (crate `firewall`) in
//! front of the HSS. [`FirewallPart::build`] compiles its rules, binds its listener and gives it
//! device priorities from the subscriber store (critical and low-priority SIMs); [`FirewallPart::start`]
//! hands the App the relay, the priority refresher (every minute) and the SIGHUP reloader (rules
//! from the configuration file, without dropping connections), which stop on the edge token, and the
//! event writer, which stops on its own token after flushing its queue. The firewall's decisions
//! about subscribers are written to the platform's event feed (`firewall.<rule>`, docs/events.md), at most once per
//! subscriber and rule a minute, through a bounded queue that drops rather than slows the firewall.
//! Its counters reach `/metrics` through the metrics facade. On PostgreSQL, the firewall's state is
//! shared with the other instances on the database ([`crate::firewall_replication`]).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use firewall::{Firewall, Priority, PriorityLookup};
use store::Store;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::analytics_run::SignallingTap;
use crate::config::Config;
use crate::error::ServeError;
use crate::firewall_replication::{self, Membership};
use crate::platform::Task;

/// Where the firewall forwards by default: Warden's own Diameter listener (loopback when it listens
/// on every address).
fn own_hss(config: &Config) -> SocketAddr {
    let mut a = config.diameter.listen;
    if a.ip().is_unspecified() {
        a.set_ip(IpAddr::V4(Ipv4Addr::LOCALHOST));
    }
    a
}

/// The Origin-Host of the `[firewall]` that forwards to this process's HSS (no `upstream`, or
/// `upstream` is the HSS's own listener): the HSS takes it as a relay, so the partner nodes the
/// firewall speaks for are trusted by their Route-Record (`[diameter] relays`, docs/hss.md).
pub fn relay_of_own_hss(config: &Config) -> Option<&str> {
    let fw = config.firewall.as_ref()?;
    fw.upstream.is_none_or(|u| u == own_hss(config) || u == config.diameter.listen).then_some(fw.origin_host.as_str())
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

/// A firewall event about a subscriber: IMSI, kind (`firewall.<rule>`, docs/events.md), detail.
type StoredEvent = (String, String, String);

/// Persists firewall events about subscribers into the store's event feed, off the request path,
/// and tells the security analytics (with `[analytics]`) of every request it refused for a
/// subscriber: those never reach the HSS's own tap, yet they are that device's signalling (AV-1).
struct StoreEvents(mpsc::Sender<StoredEvent>, Option<SignallingTap>);

impl firewall::EventSink for StoreEvents {
    fn record(&self, e: &firewall::Event) {
        let Some(imsi) = e.imsi else { return };
        if let (Some(tap), firewall::Action::Blocked | firewall::Action::Dropped) = (&self.1, e.action) {
            tap.refused_upstream(firewall::rules::imsi_string(imsi));
        }
        // A full queue means a storm: the counters still count every decision.
        let _ = self.0.try_send((
            firewall::rules::imsi_string(imsi),
            cmp::EventKind::Firewall(e.rule.id()).name().into_owned(),
            e.to_string(),
        ));
    }
}

/// Writes queued firewall events, each (IMSI, kind) at most once a minute, until `stop`; then
/// writes what is still queued and returns.
async fn write_events(store: Store, mut rx: mpsc::Receiver<StoredEvent>, stop: CancellationToken) {
    let mut last: HashMap<(String, String), Instant> = HashMap::new();
    loop {
        let event = tokio::select! {
            event = rx.recv() => event,
            _ = stop.cancelled() => break,
        };
        let Some(event) = event else { return };
        write_event(&store, &mut last, event).await;
    }
    rx.close();
    let mut flushed = 0usize;
    while let Some(event) = rx.recv().await {
        write_event(&store, &mut last, event).await;
        flushed += 1;
    }
    if flushed > 0 {
        tracing::info!(flushed, "firewall events queued at shutdown written");
    }
}

async fn write_event(store: &Store, last: &mut HashMap<(String, String), Instant>, (imsi, kind, detail): StoredEvent) {
    let now = Instant::now();
    let key = (imsi, kind);
    if last.get(&key).is_some_and(|t| now.duration_since(*t) < Duration::from_secs(60)) {
        return;
    }
    if last.len() > 100_000 {
        last.retain(|_, t| now.duration_since(*t) < Duration::from_secs(60));
    }
    let Ok(parsed) = key.0.parse::<ids::Imsi>() else { return };
    if let Err(e) = store.record_event(Some(&parsed), &key.1, &detail).await {
        tracing::warn!(error = %e, "firewall event not stored");
    }
    last.insert(key, now);
}

/// Reads the SIMs whose priority class is not standard (one narrow query, not whole SIM rows).
async fn load_priorities(store: &Store) -> Result<HashMap<String, Priority>, store::StoreError> {
    Ok(store.priority_exceptions().await?.into_iter().filter_map(|(imsi, p)| class_of(p).map(|c| (imsi, c))).collect())
}

/// The firewall's class for a stored priority (`None`: standard, the default).
fn class_of(p: store::model::Priority) -> Option<Priority> {
    match p {
        store::model::Priority::Critical => Some(Priority::Critical),
        store::model::Priority::Low => Some(Priority::Low),
        store::model::Priority::Standard => None,
    }
}

/// Keeps the priorities current until `stop`: the SIM changes the HSS hears of (its own, other
/// instances' and the command line's, announced by the database) at once, and everything every minute
/// (and after the change feed missed announcements, or fell behind).
async fn refresh_priorities(
    store: Store,
    priorities: Arc<StorePriorities>,
    mut changes: tokio::sync::broadcast::Receiver<store::changes::Change>,
    stop: CancellationToken,
) {
    use store::changes::Change;
    use tokio::sync::broadcast::error::RecvError;
    let mut minute = tokio::time::interval(Duration::from_secs(60));
    minute.tick().await;
    loop {
        let reload_all = tokio::select! {
            _ = minute.tick() => true,
            c = changes.recv() => match c {
                Ok(Change::Sim(imsi)) => {
                    match store.sim(&imsi).await {
                        Ok(sim) => {
                            let class = sim.and_then(|s| class_of(s.priority));
                            let mut map = priorities.0.write().expect("priorities");
                            match class {
                                Some(c) => map.insert(imsi.to_string(), c),
                                None => map.remove(imsi.as_str()),
                            };
                            false
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "firewall: SIM priority not refreshed");
                            false
                        }
                    }
                }
                Ok(Change::Resync | Change::SimsInserted) | Err(RecvError::Lagged(_)) => true,
                Ok(_) => false,
                // The HSS is gone: the minute refresh goes on.
                Err(RecvError::Closed) => {
                    changes = tokio::sync::broadcast::channel(1).1;
                    false
                }
            },
            _ = stop.cancelled() => return,
        };
        if reload_all {
            match load_priorities(&store).await {
                Ok(map) => *priorities.0.write().expect("priorities") = map,
                Err(e) => tracing::warn!(error = %e, "firewall: SIM priorities not refreshed"),
            }
        }
    }
}

/// The firewall, built and bound.
pub struct FirewallPart {
    fw: Arc<Firewall>,
    listener: tokio::net::TcpListener,
    default_upstream: SocketAddr,
    store: Store,
    priorities: Arc<StorePriorities>,
    events: mpsc::Receiver<StoredEvent>,
    #[cfg(unix)]
    reload: Option<(std::path::PathBuf, tokio::signal::unix::Signal)>,
}

/// What [`FirewallPart::start`] hands the App.
pub struct FirewallTasks {
    /// The relay, the priority refresher and the reloader: they stop on the edge token.
    pub edge: Vec<Task>,
    /// The event writer: it stops on its own token, after the edge, and flushes its queue.
    pub writer: Task,
}

impl FirewallPart {
    /// Compiles the rules, binds the listener and reads the device priorities; `None` without
    /// `[firewall]`.
    /// `signalling`: the security analytics' tap, told of every request refused for a subscriber.
    pub async fn build(
        config: &Config,
        store: &Store,
        signalling: Option<SignallingTap>,
    ) -> Result<Option<FirewallPart>, ServeError> {
        let Some(fc) = config.firewall.clone() else { return Ok(None) };
        let upstream_is_own = fc.upstream.is_none();
        let fw_host = fc.origin_host.clone();
        let fw = Firewall::new(fc)?;
        let listener = fw.bind().await?;
        if upstream_is_own
            && !config.diameter.peers.is_empty()
            && !config.diameter.peers.iter().any(|p| p.origin_host.eq_ignore_ascii_case(&fw_host))
        {
            tracing::warn!(firewall = %fw_host, "the firewall's Origin-Host is not among [[diameter.peers]]: the HSS will refuse it");
        }
        let priorities = Arc::new(StorePriorities::default());
        *priorities.0.write().expect("priorities") = load_priorities(store).await.map_err(ServeError::Priorities)?;
        fw.set_priority_lookup(priorities.clone());
        let (tx, events) = mpsc::channel(10_000);
        fw.set_event_sink(Arc::new(StoreEvents(tx, signalling)));
        #[cfg(unix)]
        let reload = match config.source.clone() {
            Some(path) => {
                let hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
                    .map_err(|source| ServeError::Signal { signal: "SIGHUP", source })?;
                Some((path, hup))
            }
            None => None,
        };
        Ok(Some(FirewallPart {
            fw,
            listener,
            default_upstream: own_hss(config),
            store: store.clone(),
            priorities,
            events,
            #[cfg(unix)]
            reload,
        }))
    }

    /// The firewall (for its metrics).
    pub fn firewall(&self) -> &Arc<Firewall> {
        &self.fw
    }

    /// The relay and its helpers, stopping on `edge`, and the event writer, stopping on `flush`;
    /// on PostgreSQL also the state replication, as the instance `membership` describes.
    pub fn start(
        self,
        edge: CancellationToken,
        flush: CancellationToken,
        membership: Membership,
        changes: tokio::sync::broadcast::Receiver<store::changes::Change>,
    ) -> FirewallTasks {
        let FirewallPart {
            fw,
            listener,
            default_upstream,
            store,
            priorities,
            events,
            #[cfg(unix)]
            reload,
        } = self;
        match listener.local_addr() {
            Ok(listen) => {
                eprintln!("warden: roaming firewall listening on {listen} (Diameter), forwarding to {default_upstream}")
            }
            Err(e) => tracing::warn!(error = %e, "firewall listener address unknown"),
        }
        let relay = {
            let (fw, stop) = (fw.clone(), edge.clone());
            async move {
                if let Err(e) = fw.run(listener, default_upstream, stop).await {
                    tracing::error!(error = %e, "roaming firewall stopped");
                }
            }
        };
        let mut tasks: Vec<Task> = vec![
            ("roaming firewall", Box::pin(relay)),
            (
                "firewall priority refresh",
                Box::pin(refresh_priorities(store.clone(), priorities, changes, edge.clone())),
            ),
        ];
        if store.backend() == store::Backend::Postgres {
            let replicate =
                firewall_replication::replicate(store.clone(), fw.engine().clone(), membership, edge.clone());
            tasks.push(("firewall state replication", Box::pin(replicate)));
        }
        #[cfg(unix)]
        if let Some((path, hup)) = reload {
            tasks.push((
                "firewall reload on SIGHUP",
                Box::pin(crate::section_reload::on_hangup(
                    "firewall",
                    |c| c.firewall,
                    move |c| fw.reload(c),
                    path,
                    hup,
                    edge,
                )),
            ));
        }
        FirewallTasks { edge: tasks, writer: ("firewall event writer", Box::pin(write_events(store, events, flush))) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(firewall: &str, home: &str) -> Config {
        toml::from_str(&format!("[diameter]\nlisten = \"127.0.0.1:3868\"\n{firewall}{home}")).unwrap()
    }

    #[test]
    fn the_firewall_that_forwards_to_this_hss_is_its_relay() {
        let home = "[firewall.home]\nrealms = [\"home.example\"]\nplmns = [\"00101\"]\nimsi_prefixes = [\"00101\"]\n";
        let fw = "[firewall]\norigin_host = \"fw.home.example\"\n";
        assert_eq!(relay_of_own_hss(&config("", "")), None, "no firewall, no relay");
        assert_eq!(relay_of_own_hss(&config(fw, home)), Some("fw.home.example"));
        let here = config(&format!("{fw}upstream = \"127.0.0.1:3868\"\n"), home);
        assert_eq!(relay_of_own_hss(&here), Some("fw.home.example"));
        let elsewhere = config(&format!("{fw}upstream = \"127.0.0.2:3868\"\n"), home);
        assert_eq!(relay_of_own_hss(&elsewhere), None, "it protects another HSS");
    }
}
