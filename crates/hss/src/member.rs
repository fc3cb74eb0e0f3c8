//! The HSS as one member of several `warden serve` instances on one database (issue #14):
//! - registers its instance and heartbeats every second; counts the live instances;
//! - publishes which Diameter nodes it reaches (its peers' identities, and nodes behind a relay) so
//!   that queued CLR/IDR are claimed by an instance that can send them;
//! - delivers the outbox: claims the rows for nodes it reaches, sends each over the node's newest
//!   open connection, deletes it when the node answered, releases it with a back-off when the send
//!   failed, and expires what waited too long with a `hss.notification_expired` event;
//! - applies the changes the database announces (cache coherence): a SIM or profile changed by any
//!   instance, the command line or SQL is dropped from this instance's cache within milliseconds.
//!
//! On SQLite the same loop runs for the one instance; without a change feed it polls.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use diameter::transport::{PeerHandle, RequestError};
use diameter::{result_code as rc, Message};
use store::changes::Change;
use store::cluster::{now_ms, InstanceInfo};
use tokio::sync::{broadcast, mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::Hss;

/// How often an instance heartbeats.
pub const HEARTBEAT: Duration = Duration::from_secs(1);
/// An instance is live while its last heartbeat is younger than this.
pub const LIVE_WITHIN_MS: i64 = 5_000;
/// Instances silent this long are deleted from the registry.
const PRUNE_AFTER_MS: i64 = 3_600_000;
/// A claim lasts this long: longer than a request's timeout (10 s), so a claim never ends while its
/// send may still be answered.
const LEASE_MS: i64 = 60_000;
/// A send of a queued notification gives up after this long (the request's own timeout is 10 s, but
/// a connection whose peer stops reading may never start it).
const SEND_TIMEOUT: Duration = Duration::from_secs(15);
/// Outbox rows claimed per query.
const CLAIM_BATCH: i64 = 500;
/// How often expiry runs.
const EXPIRY_EVERY: Duration = Duration::from_secs(5);
/// How often the recorded peers are replaced by the connected ones (whatever a lost write left).
const RECONCILE_EVERY: Duration = Duration::from_secs(60);

/// A change of what this instance reaches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PeerEvent {
    /// A first connection of peer `host` opened.
    Up { host: String },
    /// The last connection of peer `host` closed.
    Down { host: String },
    /// `node` registered through the relay `via` (shared by every instance: `relay_routes`).
    Route { node: String, via: String },
}

/// This instance's membership state.
pub(crate) struct Member {
    info: Mutex<InstanceInfo>,
    events: mpsc::UnboundedSender<PeerEvent>,
    pending: Mutex<Option<mpsc::UnboundedReceiver<PeerEvent>>>,
    live: watch::Sender<u32>,
    changes: broadcast::Sender<Change>,
}

impl Member {
    pub(crate) fn new(name: &str, allocation: store::Allocation) -> Self {
        let (events, rx) = mpsc::unbounded_channel();
        let mut id = [0u8; 8];
        // A random id per process start; the OS generator failing leaves the time as the id.
        if auc::fill_random(&mut id).is_err() {
            id = (now_ms() as u64).to_be_bytes();
        }
        Self {
            info: Mutex::new(InstanceInfo {
                id: format!("{:016x}", u64::from_be_bytes(id)),
                name: name.to_string(),
                diameter: String::new(),
                http: String::new(),
                version: env!("CARGO_PKG_VERSION").to_string(),
                sqn_allocation: match allocation {
                    store::Allocation::Exact => "exact".into(),
                    store::Allocation::Block(_) => "block".into(),
                },
            }),
            events,
            pending: Mutex::new(Some(rx)),
            live: watch::channel(1).0,
            changes: broadcast::channel(4096).0,
        }
    }

    pub(crate) fn id(&self) -> String {
        self.info.lock().expect("member").id.clone()
    }

    pub(crate) fn announce(&self, e: PeerEvent) {
        let _ = self.events.send(e);
    }
}

/// Exponential back-off of a failed send: 1 s, 2 s, 4 s … at most 60 s.
fn backoff_ms(attempts: i64) -> i64 {
    1000 * (1i64 << attempts.clamp(1, 7).saturating_sub(1)).min(60)
}

/// The outcome of one send of a queued notification.
enum Sent {
    /// The node answered (whatever it said, except "try again").
    Answered(Option<u32>),
    /// No connection took it, or the node asked to try later.
    Retry(String),
}

/// Sends `msg` over the first of `connections` that takes it.
async fn send_over(connections: Vec<PeerHandle>, msg: Message) -> Sent {
    let mut why = "no open connection".to_string();
    for p in connections {
        match p.request(msg.clone()).await {
            Ok(a) => {
                let code = a.result_code();
                return match code {
                    Some(rc::TOO_BUSY | rc::UNABLE_TO_DELIVER) => {
                        Sent::Retry(format!("answered {}", code.unwrap_or(0)))
                    }
                    _ => Sent::Answered(code),
                };
            }
            Err(e @ (RequestError::Closed | RequestError::Refused(_))) => why = e.to_string(),
            Err(e) => return Sent::Retry(e.to_string()),
        }
    }
    Sent::Retry(why)
}

/// Forwards the database's change feed to `to` until `stop` (PostgreSQL; on SQLite it ends at once).
/// When the feed cannot be opened it is tried again every second; its first change is a
/// [`Change::Resync`] (announcements made before it listened were missed).
async fn forward_changes(store: store::Store, to: mpsc::Sender<Change>, stop: CancellationToken) {
    let mut missed = false;
    let mut feed = loop {
        match store.change_feed().await {
            Ok(Some(f)) => break f,
            Ok(None) => return,
            Err(e) => {
                if !missed {
                    tracing::warn!(error = %e, "no change feed yet: retrying every second");
                }
                missed = true;
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = stop.cancelled() => return,
                }
            }
        }
    };
    loop {
        tokio::select! {
            c = feed.next() => if to.send(c).await.is_err() { return },
            _ = stop.cancelled() => return,
        }
    }
}

impl Hss {
    /// Sets what this instance registers as (before [`Hss::run_outbox`]): its name, Diameter and
    /// HTTP listeners.
    pub fn describe_instance(&self, name: &str, diameter: &str, http: &str) {
        let mut info = self.member.info.lock().expect("member");
        info.name = name.to_string();
        info.diameter = diameter.to_string();
        info.http = http.to_string();
    }

    /// How this instance allocates SEQ values.
    pub fn sqn_allocation(&self) -> store::Allocation {
        self.sqn.allocation()
    }

    /// This instance's id in the registry (random per process start).
    pub fn instance_id(&self) -> String {
        self.member.id()
    }

    /// The number of live instances on the database (this one included), updated every heartbeat.
    pub fn live_instances(&self) -> watch::Receiver<u32> {
        self.member.live.subscribe()
    }

    /// The changes the database announced, as this instance applied them (for other caches of the
    /// process, such as the firewall's device priorities).
    pub fn changes(&self) -> broadcast::Receiver<Change> {
        self.member.changes.subscribe()
    }

    /// Applies an announced change to the caches.
    fn apply(&self, change: &Change) {
        match change {
            Change::Sim(imsi) => self.forget(imsi),
            Change::Profile(name) => self.cache.forget_profile(name),
            Change::Resync => self.cache.clear(),
            Change::Outbox(_) | Change::SimsInserted => {}
        }
        let _ = self.member.changes.send(change.clone());
    }

    /// Applies an announced change; true when it may have queued something this instance sends.
    fn wants_round(&self, c: &Change) -> bool {
        self.apply(c);
        match c {
            // A relayed node is not known here by name: one claim query answers whether it is ours.
            Change::Outbox(_) => true,
            Change::Resync => true,
            _ => false,
        }
    }

    /// Writes a reachability change to the registry.
    async fn publish(&self, id: &str, e: &PeerEvent) -> store::Result<()> {
        match e {
            PeerEvent::Up { host } => self.store.add_peer(id, host, "").await,
            PeerEvent::Down { host } => self.store.remove_peer(id, host).await,
            PeerEvent::Route { node, via } => self.store.set_relay_route(node, via).await,
        }
    }

    /// Registers (again: the row was pruned, the database came back, or it is time to reconcile)
    /// with exactly the peers connected now.
    async fn register(&self, id: &str) -> store::Result<()> {
        let info = self.member.info.lock().expect("member").clone();
        self.store.register_instance(&info).await?;
        self.store.replace_peers(id, &self.reachable_now()).await
    }

    /// The open connections to `node`: its own, or those of the relay it last registered through —
    /// as this instance remembers it, else as the database does (another instance saw the
    /// registration, or this one restarted since).
    async fn connections_for(&self, node: &str) -> Vec<PeerHandle> {
        let direct = self.connections_to(node);
        if !direct.is_empty() {
            return direct;
        }
        match self.store.relay_route(node).await {
            Ok(Some(via)) => {
                self.learn_route(node, &via);
                self.connections_to(node)
            }
            Ok(None) => Vec::new(),
            Err(e) => {
                tracing::warn!(error = %e, "relay route not read");
                Vec::new()
            }
        }
    }

    /// Heartbeat, live count, and registration again when needed.
    async fn heartbeat(&self, id: &str) -> store::Result<()> {
        if !self.store.heartbeat(id).await? {
            self.register(id).await?;
        }
        let live = (self.store.count_live_instances(LIVE_WITHIN_MS).await?.max(1)) as u32;
        self.member.live.send_if_modified(|n| std::mem::replace(n, live) != live);
        Ok(())
    }

    /// Claims and sends what the outbox holds for nodes this instance reaches; returns how many
    /// rows were taken. Sends run in the background; each row is deleted when its node answered.
    pub async fn deliver_claimed(self: &Arc<Self>) -> store::Result<usize> {
        let id = self.member.id();
        let mut total = 0;
        loop {
            let items = self.store.claim_notifications(&id, CLAIM_BATCH, LEASE_MS).await?;
            total += items.len();
            for item in &items {
                self.forget(&item.imsi);
                // A row that cannot be prepared (its SIM unreadable, a store error) is released with
                // a back-off on its own: it never holds up the rest of the batch.
                let request = match self.notification(&item.imsi, &item.kind, &item.node).await {
                    Ok(Some(r)) => r,
                    Ok(None) => {
                        if let Err(e) = self.store.complete_notification(&id, item.id, item.attempts).await {
                            tracing::warn!(error = %e, "outbox row not removed; its claim ends by itself");
                        }
                        continue;
                    }
                    Err(e) => {
                        tracing::warn!(imsi = %item.imsi, kind = item.kind, error = %e, "notification not prepared; will retry");
                        let later = now_ms() + backoff_ms(item.attempts);
                        if let Err(e) = self.store.release_notification(&id, item.id, item.attempts, later).await {
                            tracing::warn!(error = %e, "outbox row not released; its claim ends by itself");
                        }
                        continue;
                    }
                };
                let connections = self.connections_for(&item.node.origin_host).await;
                let (hss, id, row, attempts) = (self.clone(), id.clone(), item.id, item.attempts);
                let (mme, kind) = (item.node.origin_host.clone(), item.kind.clone());
                self.originated.spawn(async move {
                    // Bounded even when the MME stops reading: the claim (60 s) outlives the send.
                    let sent = tokio::time::timeout(SEND_TIMEOUT, send_over(connections, request))
                        .await
                        .unwrap_or_else(|_| Sent::Retry("no answer in time".into()));
                    let result = match sent {
                        Sent::Answered(code) => {
                            tracing::debug!(%mme, kind, result = ?code, "notification delivered");
                            hss.store.complete_notification(&id, row, attempts).await.map(|_| ())
                        }
                        Sent::Retry(why) => {
                            tracing::info!(%mme, kind, attempts, why, "notification not delivered; will retry");
                            hss.store.release_notification(&id, row, attempts, now_ms() + backoff_ms(attempts)).await
                        }
                    };
                    if let Err(e) = result {
                        tracing::warn!(error = %e, "outbox row not updated; its claim ends by itself");
                    }
                });
            }
            if (items.len() as i64) < CLAIM_BATCH {
                return Ok(total);
            }
        }
    }

    /// Gives up the notifications that waited too long, with an event each.
    async fn expire(&self) -> store::Result<()> {
        let d = &self.config.diameter;
        let cut = store::now() - d.notification_expiry_secs as i64;
        for item in self.store.expire_notifications(cut, i64::from(d.notification_max_attempts)).await? {
            let detail = format!(
                "{} to {} not delivered after {} attempt(s): no instance reached the serving node in time",
                item.kind.to_ascii_uppercase(),
                item.node.origin_host,
                item.attempts
            );
            tracing::warn!(imsi = %item.imsi, detail, "notification expired");
            self.store.record_event(Some(&item.imsi), &cmp::EventKind::NotificationExpired.name(), &detail).await?;
        }
        Ok(())
    }

    /// Waits until a change of this process queued something in the outbox, or `poll` passed.
    pub async fn outbox_ready(&self, poll: Duration) {
        let _ = tokio::time::timeout(poll, self.outbox_wake.notified()).await;
    }

    /// Runs this instance's membership until `stop`, as three tasks that never wait for each other:
    /// the registry (registration, heartbeat every second, reachability changes, reconciliation,
    /// expiry), the change feed (applied to the caches as it arrives), and outbox delivery (at once
    /// after a change of this process, an announcement or a new peer, otherwise every `poll`). On
    /// `stop` the instance is marked stopped.
    pub async fn run_outbox(self: Arc<Self>, poll: Duration, stop: CancellationToken) {
        let id = self.member.id();
        let Some(events) = self.member.pending.lock().expect("member").take() else {
            tracing::error!("the membership loop runs once per HSS");
            return;
        };
        let (feed_tx, feed) = mpsc::channel::<Change>(4096);
        let forward = tokio::spawn(forward_changes(self.store.clone(), feed_tx, stop.clone()));
        let apply = tokio::spawn(self.clone().apply_feed(feed));
        let registry = tokio::spawn(self.clone().run_registry(id.clone(), events, stop.clone()));
        loop {
            tokio::select! {
                _ = self.outbox_wake.notified() => {}
                _ = tokio::time::sleep(poll) => {}
                _ = stop.cancelled() => break,
            }
            if let Err(e) = self.deliver_claimed().await {
                tracing::warn!(error = %e, "outbox delivery failed");
            }
        }
        let _ = forward.await;
        let _ = apply.await;
        let _ = registry.await;
        if let Err(e) = self.store.stop_instance(&id).await {
            tracing::warn!(error = %e, "instance not marked stopped; it is seen as failed after its heartbeat ends");
        }
    }

    /// Applies the change feed to the caches until it ends, waking delivery when a change may have
    /// queued something for this instance. Everything announced meanwhile is applied before one
    /// wake-up: a bulk job announcing thousands of notifications costs a few rounds, not one each.
    async fn apply_feed(self: Arc<Self>, mut feed: mpsc::Receiver<Change>) {
        while let Some(c) = feed.recv().await {
            let mut deliver = self.wants_round(&c);
            while let Ok(more) = feed.try_recv() {
                deliver |= self.wants_round(&more);
            }
            if deliver {
                self.outbox_wake.notify_one();
            }
        }
    }

    /// The registry until `stop`: registration, heartbeat, reachability changes (a new peer wakes
    /// delivery), reconciliation of the recorded peers every minute, expiry every 5 s.
    async fn run_registry(
        self: Arc<Self>,
        id: String,
        mut events: mpsc::UnboundedReceiver<PeerEvent>,
        stop: CancellationToken,
    ) {
        let mut republish = false;
        if let Err(e) = self.register(&id).await {
            tracing::warn!(error = %e, "instance not registered yet; retrying every heartbeat");
            republish = true;
        }
        let _ = self.store.prune_instances(PRUNE_AFTER_MS).await;
        let mut beat = tokio::time::interval(HEARTBEAT);
        beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_expiry = tokio::time::Instant::now();
        let mut last_reconcile = tokio::time::Instant::now();
        loop {
            tokio::select! {
                Some(e) = events.recv() => {
                    if let Err(err) = self.publish(&id, &e).await {
                        tracing::warn!(error = %err, "reachability not recorded; recorded again at the next heartbeat");
                        republish = true;
                    }
                    if !matches!(e, PeerEvent::Down { .. }) {
                        self.outbox_wake.notify_one();
                    }
                }
                _ = beat.tick() => {
                    if last_reconcile.elapsed() >= RECONCILE_EVERY {
                        last_reconcile = tokio::time::Instant::now();
                        republish = true;
                    }
                    let beat = if std::mem::take(&mut republish) { self.register(&id).await } else { self.heartbeat(&id).await };
                    if let Err(e) = beat {
                        tracing::warn!(error = %e, "heartbeat failed");
                        republish = true;
                    }
                    if last_expiry.elapsed() >= EXPIRY_EVERY {
                        last_expiry = tokio::time::Instant::now();
                        if let Err(e) = self.expire().await {
                            tracing::warn!(error = %e, "outbox expiry failed");
                        }
                    }
                }
                _ = stop.cancelled() => return,
            }
        }
    }
}
