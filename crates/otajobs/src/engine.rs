//! The job runner: items in sending order (each priority rank only after the previous one finished,
//! so critical SIMs go last), at most `window` SIMs in progress, every message within the global rate;
//! per item a secured packet under a fresh durable counter, sent, its PoR awaited and verified, the
//! outcome recorded in the history and the item; retries with doubling backoff up to `max_attempts`.
//! A restarted engine resumes unfinished jobs: items already done or failed are not sent again.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ids::Imsi;
use ota::sms::{user_data_segments, DCS_CLASS2_8BIT, PID_SIM_DATA_DOWNLOAD};
use ota::{build_command, build_script, parse_response, CommandHeader, Counter, KeySet, RemoteResponse};
use sms::{BoxFuture, DeliveryReport, MoHandler, MoMessage, MoVerdict, MtMessage, MtOutcome, MtSender, ReportSink};
use store::access::Scope;
use store::ota::{command_state, NewOtaCommand, OtaCommandUpdate, OtaItemRow, OtaJobRow};
use store::{Store, StoreError};
use tokio::sync::Notify;
use tokio::task::JoinSet;

use crate::payload::ItemPayload;
use crate::pors::{PorEvent, PorRegistry, PorStats, Refusal};
use crate::rate::RateLimiter;
use crate::settings::OtaSettings;

/// Engine failures.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// No such job.
    #[error("no OTA job {0}")]
    NoJob(String),
}

/// Where the risky networks come from (the firewall's marks), read every `steering_poll`.
pub type RiskySource = Arc<dyn Fn() -> BTreeSet<ids::Plmn> + Send + Sync>;

/// How one attempt ended, when not confirmed.
enum Miss {
    /// Trying again may help.
    Retry(String),
    /// It will not.
    Permanent(String),
}

/// The OTA engine (cheap to clone: one shared state).
#[derive(Clone)]
pub struct Engine {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) store: Store,
    sender: Arc<dyn MtSender>,
    pub(crate) settings: OtaSettings,
    limiter: RateLimiter,
    pors: PorRegistry,
    running: Mutex<HashSet<String>>,
    wake: Notify,
    /// Networks marked risky by an operator through the engine (API), with an optional end.
    pub(crate) manual: Mutex<BTreeMap<ids::Plmn, Option<std::time::Instant>>>,
    risky_source: Mutex<Option<RiskySource>>,
    /// The risky set the last steering plan was made for.
    pub(crate) applied: tokio::sync::Mutex<Option<BTreeSet<ids::Plmn>>>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").field("settings", &self.inner.settings).finish_non_exhaustive()
    }
}

/// The rank of a priority class: lower is sent first, critical last.
pub fn rank(p: store::model::Priority) -> i64 {
    match p {
        store::model::Priority::Low => 0,
        store::model::Priority::Standard => 1,
        store::model::Priority::Critical => 2,
    }
}

fn sw_ok(sw: [u8; 2]) -> bool {
    matches!(sw[0], 0x90..=0x92 | 0x61)
}

impl Engine {
    /// An engine sending through `sender`.
    pub fn new(store: Store, sender: Arc<dyn MtSender>, settings: OtaSettings) -> Engine {
        Engine {
            inner: Arc::new(Inner {
                store,
                sender,
                limiter: RateLimiter::new(settings.rate),
                settings,
                pors: PorRegistry::default(),
                running: Mutex::new(HashSet::new()),
                wake: Notify::new(),
                manual: Mutex::new(BTreeMap::new()),
                risky_source: Mutex::new(None),
                applied: tokio::sync::Mutex::new(None),
            }),
        }
    }

    /// The settings.
    pub fn settings(&self) -> &OtaSettings {
        &self.inner.settings
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// PoRs matched and refused so far.
    pub fn por_stats(&self) -> PorStats {
        self.inner.pors.stats()
    }

    /// Takes the firewall's risky networks from `source` (steering follows them).
    pub fn set_risky_source(&self, source: RiskySource) {
        *self.inner.risky_source.lock().expect("risky source") = Some(source);
    }

    /// The risky networks now: the source's and the unexpired manual marks.
    pub fn risky_now(&self) -> BTreeSet<ids::Plmn> {
        let mut set = self.inner.risky_source.lock().expect("risky source").as_ref().map(|f| f()).unwrap_or_default();
        let now = std::time::Instant::now();
        let mut manual = self.inner.manual.lock().expect("manual marks");
        manual.retain(|_, until| until.is_none_or(|u| u > now));
        set.extend(manual.keys().copied());
        set
    }

    /// Asks the supervisor to look for work now.
    pub fn wake(&self) {
        self.inner.wake.notify_one();
    }

    /// Starts the engine: commands left waiting by an earlier process become `timeout`, then a
    /// supervisor resumes unfinished jobs, picks up new ones and follows the risky networks for
    /// steering. Abort the returned task to stop it.
    pub async fn start(&self) -> Result<tokio::task::JoinHandle<()>, EngineError> {
        let expired = self.inner.store.expire_waiting_ota_commands("the engine restarted before its PoR").await?;
        if expired > 0 {
            tracing::info!(expired, "OTA commands of an earlier run marked timed out");
        }
        let me = self.clone();
        Ok(tokio::spawn(async move { me.supervise().await }))
    }

    async fn supervise(&self) {
        let mut last_steer = tokio::time::Instant::now() - self.inner.settings.steering_poll;
        loop {
            if last_steer.elapsed() >= self.inner.settings.steering_poll {
                last_steer = tokio::time::Instant::now();
                if let Err(e) = self.follow_risky("firewall").await {
                    tracing::warn!(error = %e, "steering plan failed");
                }
            }
            match self.inner.store.unfinished_ota_jobs().await {
                Ok(jobs) => {
                    for job in jobs {
                        if self.inner.running.lock().expect("running").insert(job.id.clone()) {
                            let me = self.clone();
                            tokio::spawn(async move {
                                if let Err(e) = me.run_job(&job.id).await {
                                    tracing::warn!(job = %job.id, error = %e, "OTA job stopped; resumed later");
                                }
                                me.inner.running.lock().expect("running").remove(&job.id);
                            });
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "OTA jobs not readable"),
            }
            let wait = self.inner.settings.steering_poll.min(Duration::from_secs(5));
            let _ = tokio::time::timeout(wait, self.inner.wake.notified()).await;
        }
    }

    /// Runs a job until every item is done or failed (or the store fails: the job stays `running`
    /// and is resumed later). Returns the job as it ends.
    pub async fn run_job(&self, id: &str) -> Result<OtaJobRow, EngineError> {
        let store = &self.inner.store;
        let job = store.ota_job(&Scope::Operator, id).await?.ok_or_else(|| EngineError::NoJob(id.into()))?;
        if !matches!(job.state.as_str(), "queued" | "running") {
            return Ok(job);
        }
        store.set_ota_job_state(id, "running").await?;
        let mut tasks = JoinSet::new();
        let mut current_rank = None;
        let mut after: Option<(i64, String)> = None;
        loop {
            let page = store.pending_ota_items(id, after.as_ref().map(|(r, i)| (*r, i.as_str())), 500).await?;
            if page.is_empty() {
                break;
            }
            for item in page {
                after = Some((item.rank, item.imsi.clone()));
                if current_rank.is_some_and(|r| r != item.rank) {
                    // The next priority class starts when the previous one has finished.
                    while tasks.join_next().await.is_some() {}
                }
                current_rank = Some(item.rank);
                while tasks.len() >= self.inner.settings.window {
                    tasks.join_next().await;
                }
                let (me, job) = (self.clone(), job.clone());
                tasks.spawn(async move {
                    if let Err(e) = me.process_item(&job, item).await {
                        tracing::warn!(job = %job.id, error = %e, "OTA item left pending");
                    }
                });
            }
        }
        while tasks.join_next().await.is_some() {}
        let job = store.ota_job(&Scope::Operator, id).await?.ok_or_else(|| EngineError::NoJob(id.into()))?;
        if job.pending() > 0 {
            return Ok(job);
        }
        let state = if job.failed > 0 { "completed_with_errors" } else { "succeeded" };
        store.set_ota_job_state(id, state).await?;
        tracing::info!(job = %id, done = job.done, failed = job.failed, "OTA job finished");
        Ok(OtaJobRow { state: state.into(), ..job })
    }

    async fn process_item(&self, job: &OtaJobRow, item: OtaItemRow) -> Result<(), EngineError> {
        let store = &self.inner.store;
        let (imsi_text, tried) = (item.imsi.as_str(), item.attempts);
        let fail = |reason: String| async move {
            store.finish_ota_item(&job.id, imsi_text, "failed", tried, &reason, &[]).await.map(|_| ())
        };
        let payload: ItemPayload = match serde_json::from_str(&item.payload) {
            Ok(p) => p,
            Err(e) => return Ok(fail(format!("unreadable payload: {e}")).await?),
        };
        let apdus = match payload.apdus() {
            Ok(a) => a,
            Err(e) => return Ok(fail(e.to_string()).await?),
        };
        let Ok(imsi) = item.imsi.parse::<Imsi>() else { return Ok(fail("not an IMSI".into()).await?) };
        let script = build_script(self.inner.settings.format, &apdus);
        let command_id = format!("{}-{}", job.id, item.imsi);
        let mut attempts = item.attempts;
        let mut reason = format!("no attempt left of {}", self.inner.settings.max_attempts);
        let mut backoff = self.inner.settings.retry_backoff;
        let mut first = true;
        while attempts < i64::from(self.inner.settings.max_attempts) {
            if !first {
                tokio::time::sleep(backoff).await;
                backoff = backoff.saturating_mul(2);
            }
            first = false;
            if store.ota_item_state(&job.id, &item.imsi).await?.as_deref() != Some("pending") {
                return Ok(()); // superseded by a newer job
            }
            attempts += 1;
            let cmd = NewOtaCommand {
                id: command_id.clone(),
                job_id: Some(job.id.clone()),
                imsi: imsi.clone(),
                keyset: self.inner.settings.keyset,
                tar: hex::encode(self.inner.settings.tar),
                summary: payload.summary(),
                attempt: attempts,
            };
            match self.attempt(&cmd, &script, apdus.len()).await? {
                Ok(update) => {
                    let confirms = payload.confirms();
                    let command = Some((command_id.as_str(), &update));
                    store.finish_ota_item_with(&job.id, &item.imsi, "done", attempts, "", &confirms, command).await?;
                    return Ok(());
                }
                Err(Miss::Permanent(r)) => {
                    store.finish_ota_item(&job.id, &item.imsi, "failed", attempts, &r, &[]).await?;
                    return Ok(());
                }
                Err(Miss::Retry(r)) => {
                    tracing::debug!(imsi = %item.imsi, attempt = attempts, reason = %r, "OTA attempt missed");
                    reason = r;
                }
            }
        }
        // The card may hold the new content or the old one: its files are unknown (empty content), so
        // that every later plan writes them again.
        let unknown: Vec<(String, String)> = if attempts > 0 {
            payload.confirms().into_iter().map(|(k, _)| (k, String::new())).collect()
        } else {
            vec![]
        };
        store.finish_ota_item(&job.id, &item.imsi, "failed", attempts, &reason, &unknown).await?;
        Ok(())
    }

    /// One attempt: reserve a counter (recorded with the command), build, send, await the PoR. A
    /// confirmed attempt returns its history update for the caller to write with the item's end.
    async fn attempt(
        &self,
        cmd: &NewOtaCommand,
        script: &[u8],
        commands: usize,
    ) -> Result<Result<OtaCommandUpdate, Miss>, EngineError> {
        let (store, s) = (&self.inner.store, &self.inner.settings);
        let imsi = cmd.imsi.as_str();
        let Some(keys) = store.ota_keys(&cmd.imsi, s.keyset).await? else {
            return Ok(Err(Miss::Permanent(format!("no OTA key set {}", s.keyset))));
        };
        if !keys.tars.is_empty() && !keys.tars.contains(&s.tar) {
            return Ok(Err(Miss::Permanent(format!("key set {} does not cover TAR {}", s.keyset, cmd.tar))));
        }
        let keyset = match KeySet::new(keys.kic, keys.kid, &keys.enc, &keys.mac) {
            Ok(k) => k,
            Err(e) => return Ok(Err(Miss::Permanent(format!("key set {}: {e}", s.keyset)))),
        };
        drop(keys);
        let cntr = match store.record_ota_command(cmd).await {
            Ok(c) => c,
            Err(StoreError::Conflict(r)) | Err(StoreError::NotFound(r)) => return Ok(Err(Miss::Permanent(r))),
            Err(e) => return Err(e.into()),
        };
        let counter = Counter::new(cntr as u64).expect("the store keeps counters within 40 bits");
        let update = |state: &'static str, detail: String| OtaCommandUpdate { state, detail, ..Default::default() };
        let built = build_command(&CommandHeader { spi: s.spi, tar: s.tar, cntr: counter }, &keyset, script)
            .and_then(|packet| user_data_segments(&packet, (cntr & 0xFF) as u8));
        let segments = match built {
            Ok(seg) => seg,
            Err(e) => {
                store.update_ota_command(&cmd.id, &update(command_state::FAILED, e.to_string())).await?;
                return Ok(Err(Miss::Permanent(e.to_string())));
            }
        };
        let rx = match self.inner.pors.register(imsi, s.tar, counter) {
            Ok(rx) => rx,
            Err(e) => {
                store.update_ota_command(&cmd.id, &update(command_state::FAILED, e.to_string())).await?;
                return Ok(Err(Miss::Retry(e.to_string())));
            }
        };
        let msisdn = store.sim(&cmd.imsi).await?.and_then(|sim| sim.msisdn);
        let message = MtMessage {
            imsi: cmd.imsi.clone(),
            msisdn,
            originator: s.originator.clone(),
            pid: PID_SIM_DATA_DOWNLOAD,
            dcs: DCS_CLASS2_8BIT,
            reference: format!("{}:{}", cmd.id, counter),
            segments,
        };
        self.inner.limiter.acquire(message.segments.len()).await;
        match self.inner.sender.send(&message).await {
            MtOutcome::Delivered { report_user_data: Some(ud) } => {
                if let Err(r) = self.take_por(&cmd.imsi, &ud).await {
                    tracing::debug!(imsi, refusal = %r, "PoR in the delivery report refused");
                }
            }
            MtOutcome::Delivered { report_user_data: None } => {
                store.update_ota_command(&cmd.id, &update(command_state::DELIVERED, String::new())).await?;
            }
            MtOutcome::Accepted { message_id } => {
                self.inner.pors.accepted(&message_id, imsi, counter);
                store.update_ota_command(&cmd.id, &update(command_state::SENT, String::new())).await?;
            }
            MtOutcome::Failed { reason, retry } => {
                self.inner.pors.forget(imsi, s.tar, counter, false);
                store.update_ota_command(&cmd.id, &update(command_state::FAILED, reason.clone())).await?;
                let why = format!("not delivered: {reason}");
                return Ok(Err(if retry { Miss::Retry(why) } else { Miss::Permanent(why) }));
            }
        }
        let event = match tokio::time::timeout(s.por_timeout, rx).await {
            Ok(Ok(ev)) => ev,
            Ok(Err(_)) | Err(_) => {
                self.inner.pors.forget(imsi, s.tar, counter, true);
                let why = format!("no PoR within {} s", s.por_timeout.as_secs_f64());
                store.update_ota_command(&cmd.id, &update(command_state::TIMEOUT, why.clone())).await?;
                return Ok(Err(Miss::Retry(why)));
            }
        };
        let por = match event {
            PorEvent::Por(p) => p,
            PorEvent::Undelivered(state) => {
                let why = format!("SMSC reports {state}");
                store.update_ota_command(&cmd.id, &update(command_state::FAILED, why.clone())).await?;
                return Ok(Err(Miss::Retry(why)));
            }
        };
        let status = por.status.name();
        let remote = RemoteResponse::parse(&por.data, s.format);
        let (state, sw, outcome) = match (&por.status, &remote) {
            (ota::ResponseStatus::PorOk, Ok(r)) => {
                let (done, sw, _) = r.summary();
                match sw {
                    Some(sw) if usize::from(done) == commands && sw_ok(sw) => {
                        (command_state::POR_OK, Some(hex::encode(sw)), Ok(()))
                    }
                    _ => (
                        command_state::POR_ERROR,
                        sw.map(hex::encode),
                        Err(Miss::Retry(format!(
                            "{done} of {commands} commands executed, SW {}",
                            sw.map(hex::encode).unwrap_or_else(|| "none".into())
                        ))),
                    ),
                }
            }
            (ota::ResponseStatus::PorOk, Err(e)) => {
                (command_state::POR_ERROR, None, Err(Miss::Retry(format!("PoR data unreadable: {e}"))))
            }
            (st, _) => (command_state::POR_ERROR, None, Err(Miss::Retry(format!("PoR status {}", st.name())))),
        };
        let detail = match &outcome {
            Err(Miss::Retry(r)) | Err(Miss::Permanent(r)) => r.clone(),
            Ok(()) => String::new(),
        };
        let update = OtaCommandUpdate { state, por_status: Some(status), sw, detail };
        if outcome.is_ok() {
            return Ok(Ok(update));
        }
        store.update_ota_command(&cmd.id, &update).await?;
        Ok(outcome.map(|()| update))
    }

    /// Verifies a PoR's user data from `imsi` with its key set and hands it to its command.
    async fn take_por(&self, imsi: &Imsi, user_data: &[u8]) -> Result<(), Refusal> {
        let pors = &self.inner.pors;
        let s = &self.inner.settings;
        let keys = match self.inner.store.ota_keys(imsi, s.keyset).await {
            Ok(Some(k)) => k,
            Ok(None) => return Err(pors.refused(Refusal::Invalid(format!("IMSI {imsi} has no OTA key set")))),
            Err(e) => return Err(pors.refused(Refusal::Invalid(format!("key set not readable: {e}")))),
        };
        let keyset = KeySet::new(keys.kic, keys.kid, &keys.enc, &keys.mac)
            .map_err(|e| pors.refused(Refusal::Invalid(e.to_string())))?;
        let por =
            parse_response(user_data, &s.spi, &keyset).map_err(|e| pors.refused(Refusal::Invalid(e.to_string())))?;
        pors.deliver(imsi.as_str(), por)
    }

    async fn receive(&self, m: &MoMessage) -> MoVerdict {
        let refuse = |reason: String| MoVerdict::Failed { reason, retry: false };
        let wanted = self.inner.settings.originator.trim_start_matches('+');
        if m.destination.trim_start_matches('+') != wanted || m.pid != PID_SIM_DATA_DOWNLOAD || !m.udhi {
            return refuse(format!("not a PoR for the OTA address {}", self.inner.settings.originator));
        }
        let imsi = match (&m.imsi, &m.msisdn) {
            (Some(i), _) => i.clone(),
            (None, Some(msisdn)) => match self.inner.store.imsi_by_msisdn(msisdn).await {
                Ok(Some(i)) => i,
                Ok(None) => {
                    return refuse(
                        self.inner.pors.refused(Refusal::Invalid(format!("no SIM has MSISDN {msisdn}"))).to_string(),
                    )
                }
                Err(e) => return MoVerdict::Failed { reason: e.to_string(), retry: true },
            },
            (None, None) => {
                return refuse(self.inner.pors.refused(Refusal::Invalid("sender unknown".into())).to_string())
            }
        };
        match self.take_por(&imsi, &m.user_data).await {
            Ok(()) => MoVerdict::Accepted,
            Err(r) => {
                tracing::info!(%imsi, refusal = %r, "PoR refused");
                refuse(r.to_string())
            }
        }
    }
}

impl MoHandler for Engine {
    fn received<'a>(&'a self, message: &'a MoMessage) -> BoxFuture<'a, MoVerdict> {
        Box::pin(self.receive(message))
    }
}

impl ReportSink for Engine {
    fn report<'a>(&'a self, report: &'a DeliveryReport) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            self.inner.pors.report(&report.message_id, report.delivered, &report.state);
        })
    }
}
