//! Traffic policy in `warden serve` (SUB-2): the PCRF, which answers Gx on the HSS's Diameter
//! listener, and with a `[dns]` section the DNS firewall beside it. [`Traffic::build`] loads the
//! PCRF's stored sessions and binds the DNS listener; [`Traffic::start`] hands the App
//! - the DNS server (edge: it stops accepting with the API);
//! - the query-log writer, which moves the firewall's bounded log into the store every 200 ms and
//!   writes what is left when it stops (flush);
//! - the retention sweep of the query log (`[dns] log_retention_hours`, shorter per tenant with
//!   `tenant_log_retention_hours`);
//! - the `dns.refused` event writer (at most once per SIM and name a minute, decided by the
//!   firewall; a full queue drops, the counters still count);
//! - on PostgreSQL, the follower of the database's change announcements, so that a SIM or profile
//!   changed by another instance or the command line reaches this PCRF's sessions (RAR/ASR); when
//!   announcements may have been missed (the feed reconnected, or this follower fell behind), every
//!   SIM with a session is read again ([`Pcrf::recheck_all`]);
//! - on SQLite (no announcements), the watcher of changes made by another process (the command
//!   line): every [`SQLITE_POLL`] it reads the events recorded since the last look (a SIM's status,
//!   profile, data barring, own policy, quarantine) and the profile catalogue, and tells the PCRF.
//!
//! The DNS firewall learns which SIM asks from the PCRF's sessions (Framed-IP-Address), and hands
//! it the addresses an allowed name resolved to, which the PCRF installs with RAR for their TTL. An
//! address that live sessions of several SIMs hold (pools overlapping across APNs or tenants) tells
//! it nothing: such queries are refused ([`dnsfw::Source::Ambiguous`]); `[dns] apn` restricts the
//! lookup to one APN's sessions.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use dnsfw::{Asker, DnsFirewall, DomainPolicy};
use pcrf::{AddressUser, Pcrf};
use store::Store;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::error::ServeError;
use crate::platform::Task;

/// A refused name to write as a `dns.refused` event: tenant, IMSI, name.
type Refused = (String, String, String);

/// The DNS firewall's view of the PCRF.
struct PcrfDirectory {
    pcrf: Arc<Pcrf>,
    /// `[dns] apn`: only this APN's sessions identify who asks.
    apn: Option<String>,
    refused: mpsc::Sender<Refused>,
}

impl dnsfw::Directory for PcrfDirectory {
    fn lookup(&self, ip: IpAddr) -> Option<Asker> {
        match self.source(ip) {
            dnsfw::Source::Sim(a) => Some(a),
            dnsfw::Source::Unknown | dnsfw::Source::Ambiguous => None,
        }
    }

    fn source(&self, ip: IpAddr) -> dnsfw::Source {
        match self.pcrf.lookup_address(ip, self.apn.as_deref()) {
            AddressUser::Sim(a) => {
                let policy = if a.any_domain { DomainPolicy::Open } else { DomainPolicy::Allow(a.domains.clone()) };
                dnsfw::Source::Sim(Asker { imsi: a.imsi, tenant: Some(a.tenant), policy })
            }
            AddressUser::Nobody => dnsfw::Source::Unknown,
            AddressUser::Ambiguous(_) => dnsfw::Source::Ambiguous,
        }
    }

    fn resolved(&self, imsi: &ids::Imsi, name: &str, addrs: &[IpAddr], ttl: Duration) {
        // Checked again against the policy now (it may have changed while the name was resolved).
        self.pcrf.allow_resolved(imsi, name, addrs, ttl);
    }

    fn refused(&self, asker: &Asker, name: &str) {
        let tenant = asker.tenant.clone().unwrap_or_default();
        let _ = self.refused.try_send((tenant, asker.imsi.to_string(), name.to_string()));
    }
}

/// The PCRF as the HSS tells it of SIM changes — those the HSS makes itself (an IMEI lock barring a
/// SIM) and those the platform makes through it: the PCRF releases or narrows the SIM's sessions.
pub struct PcrfNotifier(pub Arc<Pcrf>);

impl cmp::HssNotifier for PcrfNotifier {
    fn status_changed(&self, before: &store::model::Sim, _to: store::model::SimStatus) {
        self.0.sim_changed(&before.imsi);
    }

    fn profile_changed(&self, before: &store::model::Sim) {
        self.0.sim_changed(&before.imsi);
    }
}

/// The PCRF and, when configured, the DNS firewall.
pub struct Traffic {
    pcrf: Arc<Pcrf>,
    dns: Option<(Arc<DnsFirewall>, dnsfw::Bound)>,
    refused: Option<mpsc::Receiver<Refused>>,
    /// The analytics' tap on the query log.
    analytics: Option<crate::analytics_run::DnsTap>,
}

impl Traffic {
    /// The PCRF over `store` (its sessions loaded), speaking as `origin_host`/`origin_realm` and
    /// letting a PCEF ask about the IMSIs `hss` lets it ask about; and the DNS firewall of `dns`,
    /// bound.
    pub async fn build(
        config: &crate::config::Config,
        store: &Store,
        hss: &Arc<hss::Hss>,
    ) -> Result<Traffic, ServeError> {
        let d = &config.diameter;
        let peers = hss.clone();
        let may_query: pcrf::MayQuery =
            Arc::new(move |peer: &str, imsi: &ids::Imsi| peers.config().may_query(peer, imsi.as_str()));
        let mut pcrf_config = config.pcrf.clone();
        if let Some(dns) = config.dns.as_ref().filter(|_| pcrf_config.dns_servers.is_empty()) {
            // DNS only to the firewall, unless the operator names the address devices reach it at.
            if dns.listen.ip().is_unspecified() {
                tracing::warn!(
                    "[dns] listens on every address and [pcrf] dns_servers is empty: devices may use any resolver"
                );
            } else {
                pcrf_config.dns_servers = vec![dns.listen.ip()];
            }
        }
        let pcrf = Pcrf::new(pcrf_config, store.clone(), &d.origin_host, &d.origin_realm, may_query)
            .await
            .map_err(ServeError::Pcrf)?;
        let (dns, refused) = match &config.dns {
            Some(c) => {
                c.validate().map_err(|e| ServeError::Dns(e.to_string()))?;
                if !c.listen.ip().is_loopback() && c.upstream.is_empty() {
                    return Err(ServeError::Dns("[dns] listens beyond loopback but names no upstream resolver".into()));
                }
                let (tx, rx) = mpsc::channel(10_000);
                let directory = Arc::new(PcrfDirectory { pcrf: pcrf.clone(), apn: c.apn.clone(), refused: tx });
                let fw = DnsFirewall::new(c.clone(), directory);
                let bound =
                    fw.bind().await.map_err(|source| ServeError::Bind { key: "dns.listen", addr: c.listen, source })?;
                eprintln!("warden: DNS firewall on {} (UDP and TCP)", bound.local_addr());
                (Some((fw, bound)), Some(rx))
            }
            None => (None, None),
        };
        Ok(Traffic { pcrf, dns, refused, analytics: None })
    }

    /// The PCRF.
    pub fn pcrf(&self) -> &Arc<Pcrf> {
        &self.pcrf
    }

    /// Hands every logged DNS query to the analytics too.
    pub fn tap_dns(&mut self, tap: crate::analytics_run::DnsTap) {
        self.analytics = Some(tap);
    }

    /// The long-running work: `(edge tasks, flush tasks)`.
    pub fn start(
        self,
        store: Store,
        edge: CancellationToken,
        flush: CancellationToken,
        changes: Option<tokio::sync::broadcast::Receiver<store::changes::Change>>,
    ) -> (Vec<Task>, Vec<Task>) {
        let (mut edge_tasks, mut flush_tasks): (Vec<Task>, Vec<Task>) = (Vec::new(), Vec::new());
        if let Some(rx) = changes {
            edge_tasks.push(("PCRF change follower", Box::pin(follow_changes(self.pcrf.clone(), rx, edge.clone()))));
        } else if store.backend() == store::Backend::Sqlite {
            edge_tasks.push((
                "PCRF change watcher",
                Box::pin(watch_sqlite(self.pcrf.clone(), store.clone(), SQLITE_POLL, edge.clone())),
            ));
        }
        if let Some((fw, bound)) = self.dns {
            let stop = edge.clone();
            edge_tasks.push((
                "DNS firewall",
                Box::pin(async move {
                    if let Err(e) = bound.serve(stop).await {
                        tracing::error!(error = %e, "DNS firewall stopped");
                    }
                }),
            ));
            let retention = fw.config().clone();
            edge_tasks.push(("DNS log retention", Box::pin(prune_log(store.clone(), retention, edge.clone()))));
            let tap = self.analytics;
            flush_tasks.push(("DNS log writer", Box::pin(write_log(store.clone(), fw, tap, flush.clone()))));
        }
        if let Some(rx) = self.refused {
            flush_tasks.push(("DNS event writer", Box::pin(write_refusals(store, rx, flush))));
        }
        (edge_tasks, flush_tasks)
    }
}

/// What the change follower and watcher tell: the PCRF, or a recorder in tests.
trait PolicyChanges: Send + Sync + 'static {
    /// A SIM changed.
    fn sim(&self, imsi: &ids::Imsi);
    /// A profile changed.
    fn profile(&self, name: &str);
    /// Changes may have been missed: read everything again.
    fn recheck_all(&self) -> impl std::future::Future<Output = ()> + Send;
}

impl PolicyChanges for Pcrf {
    fn sim(&self, imsi: &ids::Imsi) {
        self.sim_announced(imsi);
    }

    fn profile(&self, name: &str) {
        self.profile_changed(name);
    }

    async fn recheck_all(&self) {
        Pcrf::recheck_all(self).await;
    }
}

/// Applies the database's change announcements (another instance, the command line) to the PCRF's
/// sessions until `stop`. When some may have been missed (the feed reconnected, or this receiver
/// fell behind) everything is read again, once however many such reports come in meanwhile.
async fn follow_changes<P: PolicyChanges>(
    pcrf: Arc<P>,
    mut rx: tokio::sync::broadcast::Receiver<store::changes::Change>,
    stop: CancellationToken,
) {
    use store::changes::Change;
    use tokio::sync::broadcast::error::RecvError;
    let missed = tokio::sync::Notify::new();
    let follow = async {
        loop {
            match rx.recv().await {
                Ok(Change::Sim(imsi)) => pcrf.sim(&imsi),
                Ok(Change::Profile(name)) => pcrf.profile(&name),
                Ok(Change::Resync) => missed.notify_one(),
                Err(RecvError::Lagged(n)) => {
                    tracing::warn!(
                        missed = n,
                        "PCRF missed change announcements; every SIM with a session is read again"
                    );
                    missed.notify_one();
                }
                Ok(Change::SimsInserted | Change::Outbox(_)) => {}
                Err(RecvError::Closed) => return,
            }
        }
    };
    let recheck = async {
        loop {
            missed.notified().await;
            pcrf.recheck_all().await;
        }
    };
    tokio::select! {
        _ = follow => {}
        _ = recheck => {}
        _ = stop.cancelled() => {}
    }
}

/// How often the SQLite watcher looks for changes made by another process.
const SQLITE_POLL: Duration = Duration::from_millis(500);

/// The events recorded by the use cases that change what the PCRF enforces for a SIM.
const SIM_EVENTS: [cmp::EventKind; 7] = [
    cmp::EventKind::SimStatusChanged,
    cmp::EventKind::SimProfileChanged,
    cmp::EventKind::SimDataBarred,
    cmp::EventKind::SimDataUnbarred,
    cmp::EventKind::SimPolicyChanged,
    cmp::EventKind::SimQuarantined,
    cmp::EventKind::SimQuarantineLifted,
];

/// Events read per query.
const EVENT_BATCH: i64 = 1_000;

/// The profile catalogue as last seen.
type Catalogue = std::collections::HashMap<String, store::model::ServiceProfile>;

/// What a SQLite database tells of changes since the last look: the events after the cursor and the
/// profile catalogue, compared with the one seen before.
struct SqliteWatch {
    store: Store,
    /// The last event seen.
    cursor: i64,
    profiles: Catalogue,
    kinds: Vec<String>,
}

impl SqliteWatch {
    /// Starts at the database as it is now.
    async fn new(store: Store) -> store::Result<SqliteWatch> {
        let cursor = store.last_event_id().await?;
        let profiles = catalogue(&store).await?;
        let kinds = SIM_EVENTS.iter().map(|k| k.name().into_owned()).collect();
        Ok(SqliteWatch { store, cursor, profiles, kinds })
    }

    /// Tells `to` of the SIMs and profiles changed since the last look.
    async fn look<P: PolicyChanges>(&mut self, to: &P) -> store::Result<()> {
        let scope = store::access::Scope::Operator;
        let filter = store::events::EventFilter::default();
        loop {
            let events = self.store.list_events(&scope, &filter, self.cursor, EVENT_BATCH).await?;
            let mut sims: Vec<ids::Imsi> = events
                .iter()
                .filter(|e| self.kinds.contains(&e.kind))
                .filter_map(|e| e.imsi.as_deref()?.parse().ok())
                .collect();
            sims.sort();
            sims.dedup();
            for imsi in &sims {
                to.sim(imsi);
            }
            let Some(last) = events.last() else { break };
            self.cursor = last.id;
            if (events.len() as i64) < EVENT_BATCH {
                break;
            }
        }
        let now = catalogue(&self.store).await?;
        let mut changed: Vec<&String> =
            now.iter().filter(|(n, p)| self.profiles.get(*n) != Some(*p)).map(|(n, _)| n).collect();
        changed.extend(self.profiles.keys().filter(|n| !now.contains_key(*n)));
        for name in changed {
            to.profile(name);
        }
        self.profiles = now;
        Ok(())
    }
}

async fn catalogue(store: &Store) -> store::Result<Catalogue> {
    Ok(store.list_profiles().await?.into_iter().map(|p| (p.name.clone(), p)).collect())
}

/// On SQLite, where the database announces nothing: looks every `every` for SIMs and profiles that
/// changed (made by the command line, another process), and tells the PCRF, until `stop`. Changes
/// made by this process are told twice (once by the use case): harmless, the second push finds
/// nothing to change. A look that fails is tried again at the next tick from the same point.
async fn watch_sqlite<P: PolicyChanges>(pcrf: Arc<P>, store: Store, every: Duration, stop: CancellationToken) {
    let mut watch = loop {
        match SqliteWatch::new(store.clone()).await {
            Ok(w) => break w,
            Err(e) => tracing::warn!(error = %e, "PCRF change watcher cannot read the database yet"),
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.cancelled() => return,
        }
    };
    let mut failing = false;
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.cancelled() => return,
        }
        match watch.look(pcrf.as_ref()).await {
            Ok(()) => failing = false,
            Err(e) if !failing => {
                failing = true;
                tracing::warn!(error = %e, "PCRF change watcher could not read the changes; retrying");
            }
            Err(_) => {}
        }
    }
}

/// The query log as stored.
fn stored(e: dnsfw::QueryLogEntry) -> store::traffic::DnsQuery {
    store::traffic::DnsQuery {
        at_ms: e.at_ms,
        tenant: e.tenant.unwrap_or_default(),
        imsi: e.imsi,
        name: e.name,
        qtype: e.qtype,
        verdict: e.verdict.as_str().to_string(),
        rcode: e.rcode,
        answers: e.answers.iter().map(ToString::to_string).collect(),
    }
}

/// Most queries written in one transaction.
const LOG_BATCH: usize = 5_000;

/// Moves the firewall's query log into the store every 200 ms until `stop`, then once more; with
/// `tap`, the analytics see each query too.
async fn write_log(
    store: Store,
    fw: Arc<DnsFirewall>,
    tap: Option<crate::analytics_run::DnsTap>,
    stop: CancellationToken,
) {
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    loop {
        let stopping = tokio::select! {
            _ = tick.tick() => false,
            _ = stop.cancelled() => true,
        };
        loop {
            let entries = fw.take_log(LOG_BATCH);
            for e in tap.iter().flat_map(|t| entries.iter().map(move |e| (t, e))) {
                e.0.logged(e.1);
            }
            let batch: Vec<_> = entries.into_iter().map(stored).collect();
            if batch.is_empty() {
                break;
            }
            let full = batch.len() == LOG_BATCH;
            if let Err(e) = store.insert_dns_queries(&batch).await {
                tracing::warn!(error = %e, dropped = batch.len(), "DNS query log not written");
            }
            if !full {
                break;
            }
        }
        if stopping {
            return;
        }
    }
}

/// Deletes logged queries older than their tenant's retention, every ten minutes until `stop`.
async fn prune_log(store: Store, c: dnsfw::DnsConfig, stop: CancellationToken) {
    let mut tick = tokio::time::interval(Duration::from_secs(600));
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.cancelled() => return,
        }
        let now_ms = store::cluster::now_ms();
        let hours_ms = |h: u64| (h.min(1 << 30) as i64) * 3_600_000;
        for (tenant, hours) in &c.tenant_log_retention_hours {
            if let Err(e) = store.prune_dns_queries(Some(tenant), now_ms - hours_ms(*hours)).await {
                tracing::warn!(error = %e, tenant, "DNS query log not pruned");
            }
        }
        // The default is the operator's ceiling: a tenant's own retention can only be shorter.
        if let Err(e) = store.prune_dns_queries(None, now_ms - hours_ms(c.log_retention_hours)).await {
            tracing::warn!(error = %e, "DNS query log not pruned");
        }
    }
}

/// Writes `dns.refused` events until `stop`, then what is still queued.
async fn write_refusals(store: Store, mut rx: mpsc::Receiver<Refused>, stop: CancellationToken) {
    let kind = cmp::EventKind::DnsRefused.name();
    loop {
        let next = tokio::select! {
            r = rx.recv() => r,
            _ = stop.cancelled() => None,
        };
        let Some((tenant, imsi, name)) = next else { break };
        if let Err(e) = store.record_tenant_event(&tenant, Some(&imsi), &kind, &format!("refused {name}")).await {
            tracing::warn!(error = %e, "dns.refused event not written");
        }
    }
    while let Ok((tenant, imsi, name)) = rx.try_recv() {
        let _ = store.record_tenant_event(&tenant, Some(&imsi), &kind, &format!("refused {name}")).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use store::changes::Change;

    /// What the PCRF was told.
    #[derive(Default)]
    struct Recorder {
        sims: Mutex<Vec<String>>,
        profiles: Mutex<Vec<String>>,
        rechecks: std::sync::atomic::AtomicUsize,
        rechecked: tokio::sync::Notify,
    }

    impl PolicyChanges for Recorder {
        fn sim(&self, imsi: &ids::Imsi) {
            self.sims.lock().unwrap().push(imsi.to_string());
        }
        fn profile(&self, name: &str) {
            self.profiles.lock().unwrap().push(name.to_string());
        }
        async fn recheck_all(&self) {
            self.rechecks.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            self.rechecked.notify_one();
        }
    }

    impl Recorder {
        fn rechecks(&self) -> usize {
            self.rechecks.load(std::sync::atomic::Ordering::SeqCst)
        }
    }

    const IMSI: &str = "001010000000001";

    #[tokio::test]
    async fn missed_announcements_make_the_pcrf_read_everything_again() {
        let (tx, rx) = tokio::sync::broadcast::channel(4);
        let rec = Arc::new(Recorder::default());
        let stop = CancellationToken::new();
        let task = tokio::spawn(follow_changes(rec.clone(), rx, stop.clone()));
        tx.send(Change::Sim(IMSI.parse().unwrap())).unwrap();
        tx.send(Change::Profile("meter".into())).unwrap();
        tx.send(Change::Resync).unwrap();
        tokio::time::timeout(Duration::from_secs(5), rec.rechecked.notified()).await.expect("recheck after Resync");
        assert_eq!(rec.sims.lock().unwrap().as_slice(), [IMSI]);
        assert_eq!(rec.profiles.lock().unwrap().as_slice(), ["meter"]);
        assert_eq!(rec.rechecks(), 1);
        task.abort();

        // A receiver that fell behind (Lagged) rechecks too.
        let (tx, rx) = tokio::sync::broadcast::channel(2);
        for _ in 0..5 {
            tx.send(Change::SimsInserted).unwrap();
        }
        let rec = Arc::new(Recorder::default());
        let task = tokio::spawn(follow_changes(rec.clone(), rx, stop.clone()));
        tokio::time::timeout(Duration::from_secs(5), rec.rechecked.notified()).await.expect("recheck after Lagged");
        assert_eq!(rec.rechecks(), 1);
        stop.cancel();
        tokio::time::timeout(Duration::from_secs(5), task).await.expect("stops").unwrap();
    }

    #[tokio::test]
    async fn the_sqlite_watcher_reports_sim_events_and_edited_profiles() {
        let temp = testkit::TempStore::sqlite().await;
        let store = temp.store.clone();
        let meter = |allow: &str| {
            testkit::provision::profile(serde_json::json!({
                "name": "meter", "services": ["data"], "allow_prefixes": [allow]
            }))
        };
        let other = testkit::provision::profile(serde_json::json!({"name": "other", "services": ["data"]}));
        testkit::provision::profiles(&store, &[meter("198.51.100.0/24"), other]).await;
        store.record_tenant_event("acme", Some(IMSI), "sim.policy_changed", "before the watcher").await.unwrap();
        let mut watch = SqliteWatch::new(store.clone()).await.unwrap();
        let rec = Recorder::default();
        watch.look(&rec).await.unwrap();
        assert!(rec.sims.lock().unwrap().is_empty() && rec.profiles.lock().unwrap().is_empty(), "nothing new yet");

        // Another process (a second handle on the file) changes a SIM's policy, a status, and a
        // profile's allowlist; other events are not the PCRF's business.
        let url = format!("sqlite://{}/warden.db", temp.dir.path().display());
        let other_process = store::Store::open(&url, testkit::keyring()).await.unwrap();
        for (imsi, kind) in [
            (IMSI, "sim.quarantined"),
            ("001010000000002", "sim.status_changed"),
            (IMSI, "sim.policy_changed"),
            ("001010000000003", "dns.refused"),
            ("001010000000004", "gx.session_released"),
        ] {
            other_process.record_tenant_event("acme", Some(imsi), kind, "test").await.unwrap();
        }
        testkit::provision::profiles(&other_process, &[meter("203.0.113.0/24")]).await;
        watch.look(&rec).await.unwrap();
        assert_eq!(rec.sims.lock().unwrap().as_slice(), [IMSI, "001010000000002"]);
        assert_eq!(rec.profiles.lock().unwrap().as_slice(), ["meter"]);
        // Told once.
        watch.look(&rec).await.unwrap();
        assert_eq!(rec.sims.lock().unwrap().len(), 2);
        assert_eq!(rec.profiles.lock().unwrap().len(), 1);
    }
}
