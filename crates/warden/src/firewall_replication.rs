//! The roaming firewall's state shared by several `warden serve` instances on one PostgreSQL
//! (issue #14, docs/firewall.md "Several instances"). [`replicate`] runs beside the firewall: it
//! loads the shared state (registrations, risky marks) into the engine at start, writes the
//! engine's local changes every [`FLUSH_EVERY`] in one transaction (announced by `pg_notify` at
//! commit), applies the batches of the other instances as they are notified, reloads the state
//! when the notification connection was lost, prunes old rows, and splits the budgets by the number
//! of live instances. On SQLite it does nothing: one instance, nothing to share.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use firewall::engine::{unix_ms, RiskReason, SharedChange, SharedImsi, SHARED_QUEUE_CAPACITY};
use firewall::{Engine, Now};
use store::firewall_state::{FeedItem, FirewallFeed, FwChange, RiskReason as StoredReason};
use store::Store;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// How often local changes are written (and so, with the notification, the consistency window).
pub const FLUSH_EVERY: Duration = Duration::from_millis(100);

/// Registrations older than this are neither loaded nor kept in the database.
pub const RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);

/// How often old rows are pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// How long the last write at shutdown may take.
const LAST_FLUSH: Duration = Duration::from_secs(2);

/// Pause after a database error before trying again.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// This instance among those sharing the database, as the HSS's cluster registry knows it: its id (in
/// every notification it sends) and the number of live instances (the budgets are split by it).
#[derive(Debug, Clone)]
pub struct Membership {
    /// This instance's id.
    pub instance_id: String,
    /// Live instances, at least 1.
    pub live_instances: watch::Receiver<u32>,
}

fn clock() -> Now {
    Now { instant: std::time::Instant::now(), wall: SystemTime::now() }
}

fn ms(d: Duration) -> i64 {
    d.as_millis() as i64
}

/// An engine change as a row of the store.
fn to_row(c: SharedChange) -> FwChange {
    let reason = |r| match r {
        RiskReason::Auto => StoredReason::Auto,
        RiskReason::Manual => StoredReason::Manual,
    };
    match c {
        SharedChange::Registered { imsi, plmn, host, at_ms } => {
            FwChange::Registered { imsi: imsi.into(), plmn: plmn.to_string(), host: host as i64, at_ms: at_ms as i64 }
        }
        SharedChange::Deregistered { imsi, host, at_ms } => {
            FwChange::Deregistered { imsi: imsi.into(), host: host as i64, at_ms: at_ms as i64 }
        }
        SharedChange::Risky { plmn, until_ms, reason: r, at_ms } => FwChange::Risky {
            plmn: plmn.to_string(),
            until_ms: until_ms.map(|u| u as i64),
            reason: reason(r),
            at_ms: at_ms as i64,
        },
        SharedChange::RiskCleared { plmn, at_ms } => {
            FwChange::RiskCleared { plmn: plmn.to_string(), at_ms: at_ms as i64 }
        }
    }
}

/// A row of the store as an engine change; an error names what does not parse.
fn from_row(c: FwChange) -> Result<SharedChange, String> {
    let imsi = |s: String| SharedImsi::try_from(s);
    let plmn = |s: String| s.parse::<ids::Plmn>().map_err(|e| format!("PLMN {s:?}: {e}"));
    let time = |t: i64| u64::try_from(t).map_err(|_| format!("negative time {t}"));
    Ok(match c {
        FwChange::Registered { imsi: i, plmn: p, host, at_ms } => {
            SharedChange::Registered { imsi: imsi(i)?, plmn: plmn(p)?, host: host as u64, at_ms: time(at_ms)? }
        }
        FwChange::Deregistered { imsi: i, host, at_ms } => {
            SharedChange::Deregistered { imsi: imsi(i)?, host: host as u64, at_ms: time(at_ms)? }
        }
        FwChange::Risky { plmn: p, until_ms, reason, at_ms } => SharedChange::Risky {
            plmn: plmn(p)?,
            until_ms: until_ms.map(time).transpose()?,
            reason: match reason {
                StoredReason::Auto => RiskReason::Auto,
                StoredReason::Manual => RiskReason::Manual,
            },
            at_ms: time(at_ms)?,
        },
        FwChange::RiskCleared { plmn: p, at_ms } => SharedChange::RiskCleared { plmn: plmn(p)?, at_ms: time(at_ms)? },
    })
}

/// Applies rows of the store (another instance's batch, or the whole state) to the engine.
fn apply(engine: &Engine, rows: Vec<FwChange>) {
    let now = clock();
    for row in rows {
        match from_row(row) {
            Ok(c) => engine.apply_shared(c, now),
            Err(e) => tracing::warn!(error = %e, "firewall shared state: change skipped"),
        }
    }
}

/// Loads the shared state into the engine.
async fn load(store: &Store, engine: &Engine) -> Result<(), store::StoreError> {
    let now = unix_ms(SystemTime::now()) as i64;
    let rows = store.load_firewall_state(now, now - ms(RETENTION)).await?;
    let n = rows.len();
    apply(engine, rows);
    tracing::info!(rows = n, "firewall shared state loaded");
    Ok(())
}

/// Opens the notification feed and loads the state (in that order, so no batch falls between),
/// retrying until it works or `stop`; `None` on SQLite or when stopped.
async fn connect(store: &Store, engine: &Engine, stop: &CancellationToken) -> Option<FirewallFeed> {
    loop {
        let attempt = async {
            let Some(feed) = store.firewall_feed().await? else { return Ok(None) };
            load(store, engine).await?;
            Ok::<_, store::StoreError>(Some(feed))
        };
        match attempt.await {
            Ok(feed) => return feed,
            Err(e) => tracing::warn!(error = %e, "firewall shared state unavailable; retrying"),
        }
        tokio::select! {
            _ = tokio::time::sleep(RETRY_AFTER) => {}
            _ = stop.cancelled() => return None,
        }
    }
}

/// Writes what the engine changed since the last call (and what failed to be written before, the
/// oldest dropped beyond the engine's queue capacity).
async fn flush(store: &Store, engine: &Engine, instance: &str, pending: &mut Vec<FwChange>) {
    pending.extend(engine.take_shared_changes().into_iter().map(to_row));
    if pending.is_empty() {
        return;
    }
    if pending.len() > SHARED_QUEUE_CAPACITY {
        let over = pending.len() - SHARED_QUEUE_CAPACITY;
        pending.drain(..over);
        tracing::warn!(dropped = over, "firewall shared state: unwritten changes dropped");
    }
    match store.write_firewall_changes(instance, pending).await {
        Ok(()) => pending.clear(),
        Err(e) => tracing::warn!(error = %e, pending = pending.len(), "firewall shared state not written; retrying"),
    }
}

/// Shares the engine's state with the other instances on the store's PostgreSQL until `stop` (see
/// the module documentation); returns at once on SQLite.
pub async fn replicate(store: Store, engine: Arc<Engine>, membership: Membership, stop: CancellationToken) {
    let Membership { instance_id, mut live_instances } = membership;
    engine.set_instance_share(*live_instances.borrow_and_update());
    engine.share_changes(true);
    let Some(mut feed) = connect(&store, &engine, &stop).await else {
        engine.share_changes(false);
        return;
    };
    let mut pending = Vec::new();
    let mut tick = tokio::time::interval(FLUSH_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut prune = tokio::time::interval(PRUNE_EVERY);
    let mut membership_open = true;
    loop {
        tokio::select! {
            _ = tick.tick() => flush(&store, &engine, &instance_id, &mut pending).await,
            item = feed.next() => match item {
                Ok(FeedItem::Batch(b)) if b.instance != instance_id => apply(&engine, b.changes),
                Ok(FeedItem::Batch(_)) => {}
                Ok(FeedItem::Reconnected) => {
                    tracing::info!("firewall shared state: notifications back; reloading");
                    if let Err(e) = load(&store, &engine).await {
                        tracing::warn!(error = %e, "firewall shared state not reloaded");
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "firewall shared state: notifications lost; reconnecting");
                    tokio::select! {
                        _ = tokio::time::sleep(RETRY_AFTER) => {}
                        _ = stop.cancelled() => break,
                    }
                }
            },
            changed = live_instances.changed(), if membership_open => match changed {
                Ok(()) => engine.set_instance_share(*live_instances.borrow_and_update()),
                Err(_) => membership_open = false,
            },
            _ = prune.tick() => {
                let now = unix_ms(SystemTime::now()) as i64;
                match store.prune_firewall_state(now - ms(RETENTION), now).await {
                    Ok(n) => tracing::debug!(rows = n, "firewall shared state pruned"),
                    Err(e) => tracing::warn!(error = %e, "firewall shared state not pruned"),
                }
            }
            _ = stop.cancelled() => break,
        }
    }
    // The last changes, unless the database keeps the shutdown waiting.
    let last = flush(&store, &engine, &instance_id, &mut pending);
    if tokio::time::timeout(LAST_FLUSH, last).await.is_err() {
        tracing::warn!("firewall shared state: last changes not written at shutdown");
    }
}

#[cfg(test)]
mod tests {
    //! Two (then three) firewall engines, each with its replication task, on one fresh database.

    use std::time::Instant;

    use diameter::{avp, Command, Message};
    use firewall::{Ctx, FirewallConfig, Outcome, Rule};
    use testkit::roaming::{partner_of, request_bytes, two_partners, ALPHA, ALPHA2, BRAVO, FRANCE, GERMANY};

    use super::*;

    const IMSI: &str = "001010000000100";

    fn new_engine() -> Arc<Engine> {
        let budget = "[budgets]\nimsi_rate_per_sec = 1000.0\nimsi_burst = 1000.0";
        let config = FirewallConfig::from_toml(&two_partners(budget)).unwrap();
        firewall::Firewall::new(config).unwrap().engine().clone()
    }

    /// Screens a request from `from` (in `plmn`); with `learn`, a forwarded one gets a successful
    /// answer from the HSS, otherwise none (the engine learns nothing).
    fn screen(e: &Engine, command: Command, from: (&str, &str), plmn: Option<[u8; 3]>, learn: bool) -> Outcome {
        let bytes = request_bytes(command, from, IMSI, plmn);
        let rules = e.rules();
        let partner = partner_of(from);
        let stats = e.observer.partner(&rules.partners[partner].name);
        let ctx = Ctx { rules: &rules, partner, stats: &stats };
        let o = e.screen(&ctx, &bytes, clock(), &mut Vec::new());
        if let Outcome::Forward(meta) = o {
            if learn {
                let mut a = Message::answer(command);
                a.add(avp::RESULT_CODE, 2001u32);
                e.on_answer(&meta, &a.encode(), Duration::from_millis(1), clock());
            } else {
                e.on_lost();
            }
        }
        o
    }

    /// The category-3 decisions about IMSI: a ULR from France (velocity after Germany), a PUR from
    /// another German MME (not the serving node).
    fn category3(e: &Engine) -> (Outcome, Outcome) {
        (screen(e, Command::ULR, BRAVO, Some(FRANCE), false), screen(e, Command::PUR, ALPHA2, None, false))
    }

    const BLOCKED: (Outcome, Outcome) = (Outcome::Answered(Rule::Velocity), Outcome::Answered(Rule::ServingNode));

    /// Waits at most one second for `ok`.
    async fn within_a_second(mut ok: impl FnMut() -> bool) -> bool {
        let deadline = Instant::now() + Duration::from_secs(1);
        while Instant::now() < deadline {
            if ok() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        ok()
    }

    struct Instance {
        engine: Arc<Engine>,
        live: watch::Sender<u32>,
        stop: CancellationToken,
        task: tokio::task::JoinHandle<()>,
    }

    async fn start(url: &str, id: &str) -> Instance {
        let store = Store::open(url, testkit::keyring()).await.unwrap();
        let engine = new_engine();
        let (live, live_instances) = watch::channel(1);
        let stop = CancellationToken::new();
        let membership = Membership { instance_id: id.into(), live_instances };
        let task = tokio::spawn(replicate(store, engine.clone(), membership, stop.clone()));
        Instance { engine, live, stop, task }
    }

    impl Instance {
        async fn stop(self) {
            self.stop.cancel();
            self.task.await.unwrap();
        }
    }

    #[tokio::test]
    async fn instances_share_registrations_and_risky_marks_through_postgres() {
        testkit::on_every_backend(|store, url| async move {
            if store.backend() == store::Backend::Sqlite {
                // One instance: nothing runs, nothing is queued.
                let one = start(&url, "one").await;
                tokio::time::timeout(Duration::from_secs(1), one.task).await.expect("returns at once").unwrap();
                one.engine.mark_risky("20801".parse().unwrap(), None, clock());
                assert!(one.engine.take_shared_changes().is_empty());
                return;
            }
            let (one, two) = (start(&url, "one").await, start(&url, "two").await);
            assert!(matches!(category3(&two.engine), (Outcome::Forward(_), Outcome::Forward(_))), "not registered yet");
            // Registered in Germany through instance one: instance two decides as one does.
            assert!(matches!(screen(&one.engine, Command::ULR, ALPHA, Some(GERMANY), true), Outcome::Forward(_)));
            assert_eq!(category3(&one.engine), BLOCKED);
            assert!(within_a_second(|| category3(&two.engine) == BLOCKED).await, "{:?}", category3(&two.engine));
            // A risky mark on one is seen on two.
            let france: ids::Plmn = "20801".parse().unwrap();
            one.engine.mark_risky(france, None, clock());
            assert!(within_a_second(|| two.engine.risky_plmns(Instant::now()) == ["20801"]).await);
            // The number of live instances splits the budgets.
            two.live.send(2).unwrap();
            assert!(within_a_second(|| two.engine.instance_share() == 2).await);
            // Restarted, an instance loads the state back.
            two.stop().await;
            let three = start(&url, "three").await;
            assert!(within_a_second(|| category3(&three.engine) == BLOCKED).await);
            assert!(within_a_second(|| three.engine.risky_plmns(Instant::now()) == ["20801"]).await);
            // Cleared on the restarted one, cleared on the first.
            three.engine.mark_risky(france, Some(Duration::ZERO), clock());
            assert!(within_a_second(|| one.engine.risky_plmns(Instant::now()).is_empty()).await);
            one.stop().await;
            three.stop().await;
        })
        .await;
    }

    #[test]
    fn rows_and_changes_convert_both_ways() {
        let imsi = SharedImsi::try_from(IMSI.to_string()).unwrap();
        let plmn: ids::Plmn = "26201".parse().unwrap();
        for c in [
            SharedChange::Registered { imsi, plmn, host: u64::MAX, at_ms: 1 },
            SharedChange::Deregistered { imsi, host: 3, at_ms: 2 },
            SharedChange::Risky { plmn, until_ms: None, reason: RiskReason::Manual, at_ms: 3 },
            SharedChange::Risky { plmn, until_ms: Some(9), reason: RiskReason::Auto, at_ms: 4 },
            SharedChange::RiskCleared { plmn, at_ms: 5 },
        ] {
            assert_eq!(from_row(to_row(c)), Ok(c));
        }
        let bad = FwChange::Registered { imsi: "x".into(), plmn: "26201".into(), host: 0, at_ms: 0 };
        assert!(from_row(bad).unwrap_err().contains("not an IMSI"));
        let bad = FwChange::RiskCleared { plmn: "26201".into(), at_ms: -1 };
        assert_eq!(from_row(bad), Err("negative time -1".into()));
    }
}
