//! The GTP-C firewall's decisions in the platform's event feed, and its action on offending devices
//! (ROAM-6 "profile changes for offending devices").
//!
//! The firewall hands every refusal, drop and detection to [`GtpEvents`], a bounded queue that drops
//! when full (the counters on `/metrics` still count every decision; drops are counted in
//! `warden_gtp_events_dropped_total`). The writer task stores them as `gtp.<rule>` events so that a
//! storm cannot flood the store:
//! - about a subscriber: at most once per subscriber and rule a minute, and at most
//!   [`MAX_PER_MINUTE`] a minute in all;
//! - everything else (no IMSI: unknown sources, malformed datagrams, unexpected responses; or over
//!   the limit) is summed per partner, rule and action and written once a minute as one summary
//!   event without IMSI ("partner alpha: 12000 dropped in the last minute").
//!
//! A device refused by `imsi-rate` `[gtp.offenders] refusals` times within `window_secs` gets
//! `action` — packet data barred, or moved to a restrictive profile — through the same use cases an
//! operator's API call runs (`cmp::sims::set_data_barring`, `cmp::sims::change_profile`) as an
//! automated actor: audited, a `sim.data_barred` / `sim.profile_changed` event with the reason, the
//! HSS told (IDR), and undone the same way (`PATCH /api/v1/sims/{imsi}` with `{"data_barred":
//! false}` or the previous `profile`, named in the event; `warden sim set-profile`). Critical SIMs are never acted on (and the use case refuses an automated actor
//! cutting one off anyway).

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use firewall::Action;
use gtpfw::observe::{Event, EventSink};
use gtpfw::{Gtp, Rule};
use store::Store;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Events queued for the writer, at most.
pub const QUEUE: usize = 10_000;
/// Events about subscribers written a minute, at most; the rest go into the summaries.
pub const MAX_PER_MINUTE: usize = 600;
/// One event per subscriber and rule in this time.
const PER_SUBSCRIBER: Duration = Duration::from_secs(60);
/// Offender strike lists kept at once.
const MAX_TRACKED: usize = 100_000;
/// Events the queue had no room for.
const DROPPED: &str = "warden_gtp_events_dropped_total";
/// Actions taken on offending devices, by action.
const OFFENDER_ACTIONS: &str = "warden_gtp_offender_actions_total";

/// The firewall's sink: a bounded queue to [`write_events`].
pub struct GtpEvents(mpsc::Sender<Event>);

impl EventSink for GtpEvents {
    fn record(&self, e: &Event) {
        if self.0.try_send(e.clone()).is_err() {
            metrics::counter!(DROPPED).increment(1);
        }
    }
}

/// A sink and the receiving end for [`write_events`].
pub fn channel() -> (Arc<GtpEvents>, mpsc::Receiver<Event>) {
    metrics::describe_counter!(DROPPED, "GTP-C firewall events not stored because the queue was full.");
    metrics::describe_counter!(
        OFFENDER_ACTIONS,
        "Actions the GTP-C firewall took on devices over their set-up budget."
    );
    let (tx, rx) = mpsc::channel(QUEUE);
    (Arc::new(GtpEvents(tx)), rx)
}

/// The event kind of a rule.
fn kind(rule: Rule) -> String {
    cmp::EventKind::Gtp(rule.id()).name().into_owned()
}

/// Writes the queued events until `stop` (then what is queued, and the summaries).
pub async fn write_events(
    gtp: Arc<Gtp>,
    store: Store,
    notifier: Arc<dyn cmp::HssNotifier>,
    mut rx: mpsc::Receiver<Event>,
    stop: CancellationToken,
) {
    let mut w = Writer::new(gtp, store, notifier);
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    tick.tick().await;
    loop {
        tokio::select! {
            e = rx.recv() => match e {
                Some(e) => w.take(e).await,
                None => break,
            },
            _ = tick.tick() => w.flush().await,
            _ = stop.cancelled() => break,
        }
    }
    rx.close();
    while let Some(e) = rx.recv().await {
        w.take(e).await;
    }
    w.flush().await;
}

/// The writer's state: what was written lately, the summaries, the offenders' strikes.
pub struct Writer {
    gtp: Arc<Gtp>,
    store: Store,
    notifier: Arc<dyn cmp::HssNotifier>,
    offenders: gtpfw::config::OffenderConfig,
    /// The firewall's reload generation `offenders` was read at.
    generation: u64,
    last: HashMap<(String, Rule), Instant>,
    written: usize,
    summary: HashMap<(String, Rule, Action), u64>,
    strikes: HashMap<String, VecDeque<Instant>>,
}

impl Writer {
    /// A writer for this firewall's events.
    pub fn new(gtp: Arc<Gtp>, store: Store, notifier: Arc<dyn cmp::HssNotifier>) -> Writer {
        let generation = gtp.generation();
        let offenders = gtp.config().offenders;
        Writer {
            generation,
            gtp,
            store,
            notifier,
            offenders,
            last: HashMap::new(),
            written: 0,
            summary: HashMap::new(),
            strikes: HashMap::new(),
        }
    }

    /// One decision.
    pub async fn take(&mut self, e: Event) {
        let now = Instant::now();
        if self.gtp.generation() != self.generation {
            // `[gtp.offenders]` reloaded (SIGHUP): in force from this decision on.
            self.generation = self.gtp.generation();
            self.offenders = self.gtp.config().offenders;
        }
        if let Some(imsi) = &e.imsi {
            if e.rule == Rule::ImsiRate && e.action == Action::Blocked {
                self.strike(imsi, now).await;
            }
            let key = (imsi.clone(), e.rule);
            if self.last.get(&key).is_some_and(|t| now.duration_since(*t) < PER_SUBSCRIBER) {
                return;
            }
            if self.written < MAX_PER_MINUTE {
                if let Ok(parsed) = imsi.parse::<ids::Imsi>() {
                    let detail = format!("{} by the GTP-C firewall (partner {})", e.action.label(), e.partner);
                    if let Err(err) = self.store.record_event(Some(&parsed), &kind(e.rule), &detail).await {
                        tracing::warn!(error = %err, "gtp event not stored");
                    }
                    self.last.insert(key, now);
                    self.written += 1;
                    return;
                }
            }
        }
        *self.summary.entry((e.partner, e.rule, e.action)).or_default() += 1;
    }

    /// Writes the summaries and starts a new minute.
    pub async fn flush(&mut self) {
        let now = Instant::now();
        for ((partner, rule, action), n) in self.summary.drain() {
            let detail = format!("partner {partner}: {n} {} in the last minute (summary)", action.label());
            if let Err(err) = self.store.record_event(None, &kind(rule), &detail).await {
                tracing::warn!(error = %err, "gtp event summary not stored");
            }
        }
        self.written = 0;
        self.last.retain(|_, t| now.duration_since(*t) < PER_SUBSCRIBER);
        let window = Duration::from_secs(self.offenders.window_secs);
        self.strikes.retain(|_, q| q.back().is_some_and(|t| now.duration_since(*t) < window));
    }

    /// A set-up budget refusal of `imsi`: acts when it is the device's `refusals`-th in the window.
    async fn strike(&mut self, imsi: &str, now: Instant) {
        let o = &self.offenders;
        if o.action == "none" {
            return;
        }
        let window = Duration::from_secs(o.window_secs);
        if self.strikes.len() >= MAX_TRACKED && !self.strikes.contains_key(imsi) {
            self.strikes.retain(|_, q| q.back().is_some_and(|t| now.duration_since(*t) < window));
            if self.strikes.len() >= MAX_TRACKED {
                return;
            }
        }
        let q = self.strikes.entry(imsi.to_owned()).or_default();
        q.push_back(now);
        while q.front().is_some_and(|t| now.duration_since(*t) >= window) {
            q.pop_front();
        }
        if q.len() < o.refusals as usize {
            return;
        }
        q.clear();
        self.act(imsi).await;
    }

    /// The configured action on an offending device, as an automated actor; never on a critical SIM.
    async fn act(&self, imsi: &str) {
        let o = &self.offenders;
        let Ok(parsed) = imsi.parse::<ids::Imsi>() else { return };
        match self.store.sim(&parsed).await {
            Ok(Some(sim)) if sim.priority == store::model::Priority::Critical => {
                tracing::warn!(imsi, "gtp: critical device over its set-up budget: no automatic action");
                return;
            }
            Ok(Some(_)) => {}
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(error = %e, "gtp: offender not read");
                return;
            }
        }
        let actor = cmp::Actor::automated(format!(
            "gtp firewall: {} set-up budget refusals within {} s",
            o.refusals, o.window_secs
        ));
        let notifier = self.notifier.as_ref();
        let done = match (o.action.as_str(), &o.profile) {
            ("bar-data", _) => cmp::sims::set_data_barring(&self.store, notifier, &actor, &parsed, true).await,
            ("profile", Some(p)) => cmp::sims::change_profile(&self.store, notifier, &actor, &parsed, p).await,
            _ => return,
        };
        match done {
            Ok(_) => {
                metrics::counter!(OFFENDER_ACTIONS, "action" => o.action.clone()).increment(1);
                tracing::info!(imsi, action = %o.action, "gtp: offending device acted on");
            }
            Err(e) => tracing::warn!(imsi, action = %o.action, error = %e, "gtp: offending device not acted on"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use store::access::Scope;
    use store::events::EventFilter;

    fn event(imsi: Option<String>, rule: Rule, action: Action) -> Event {
        Event { at: std::time::SystemTime::now(), partner: "alpha".into(), rule, action, imsi }
    }

    /// A storm of 5,000 drops without IMSI becomes one summary; a subscriber refused three times is
    /// told once; of 700 more subscribers in the same minute 599 are written (600 a minute in all)
    /// and the other 101 go into their rule's summary.
    #[tokio::test]
    async fn a_storm_cannot_flood_the_store() {
        let temp = testkit::TempStore::sqlite().await;
        let gtp = Gtp::new(gtpfw::GtpConfig::from_toml("[home]\nimsi_prefixes = [\"00101\"]\n").unwrap()).unwrap();
        let mut w = Writer::new(gtp, temp.store.clone(), Arc::new(cmp::NoHss));
        for _ in 0..5000 {
            w.take(event(None, Rule::UnknownSource, Action::Dropped)).await;
        }
        for _ in 0..3 {
            w.take(event(Some("001010000000001".into()), Rule::NotRegistered, Action::Blocked)).await;
        }
        for i in 0..700u32 {
            w.take(event(Some(format!("00101{:010}", 1000 + i)), Rule::Apn, Action::Blocked)).await;
        }
        w.flush().await;
        let all = temp.store.list_events(&Scope::Operator, &EventFilter::default(), 0, 10_000).await.unwrap();
        let of = |kind: &str| all.iter().filter(|e| e.kind == kind).collect::<Vec<_>>();
        assert_eq!(all.len(), 1 + 599 + 2, "{:?}", all.iter().take(5).collect::<Vec<_>>());
        let storm = of("gtp.unknown-source");
        assert_eq!(storm.len(), 1);
        assert!(storm[0].imsi.is_none() && storm[0].detail.contains("partner alpha: 5000 dropped"), "{:?}", storm[0]);
        let told = of("gtp.not-registered");
        assert_eq!((told.len(), told[0].imsi.as_deref()), (1, Some("001010000000001")));
        let apn = of("gtp.apn");
        assert_eq!(apn.iter().filter(|e| e.imsi.is_some()).count(), 599);
        let summary: Vec<_> = apn.iter().filter(|e| e.imsi.is_none()).collect();
        assert!(summary.len() == 1 && summary[0].detail.contains("101 blocked"), "{summary:?}");
    }
}
