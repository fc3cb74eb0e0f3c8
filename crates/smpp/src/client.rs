//! The ESME: one transceiver bind to the SMSC kept up by a background task, and the
//! [`sms::MtSender`] that submits through it.
//!
//! Behaviour (docs/sms.md, "SMPP"):
//! - connects over TCP, or TLS with rustls when `[sms.smpp.tls]` is set, and binds as a transceiver;
//! - sends `enquire_link` every `enquire_link_secs`; a link whose keep-alive or any response stays
//!   unanswered for `response_timeout_ms` is dropped;
//! - at most `window` `submit_sm` are outstanding at once;
//! - after a lost connection, a refused bind, or an `unbind` from the SMSC it reconnects after a
//!   delay that starts at `reconnect_min_ms` and doubles up to `reconnect_max_ms` (reset once a bind
//!   succeeds), so bad credentials never make a hot loop; each refusal is logged with its status,
//!   counted in `warden_smpp_binds_total{result}` and kept as [`LinkStatus::last_error`];
//! - a `submit_sm` answered with `ESME_RTHROTTLED`/`ESME_RMSGQFUL` is sent again after
//!   `throttle_delay_ms`, up to `throttle_retries` times, then the send fails with `retry: true`;
//! - `deliver_sm`: a delivery receipt goes to the [`ReportSink`], anything else to the
//!   [`MoHandler`], and the `deliver_sm_resp` carries the verdict.
//!
//! The password is read once at start, kept zeroized, and never logged.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use sms::{BoxFuture, MoHandler, MoMessage, MoVerdict, MtMessage, MtOutcome, MtSender, ReportSink};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::{timeout, Instant};
use zeroize::Zeroizing;

use crate::config::{ConfigError, SmppConfig};
use crate::mapping;
use crate::pdu::{self, Bind, Body, DecodeError, Header, MessageIdResp, Pdu, ShortMessage, HEADER_LEN};
use crate::receipt;
use crate::status::CommandStatus;

/// Bind attempts by result (`ok`, `refused`, `error`).
pub const BINDS_METRIC: &str = "warden_smpp_binds_total";
/// `submit_sm` responses by result (`ok`, `throttled`, `refused`, `lost`).
pub const SUBMITS_METRIC: &str = "warden_smpp_submits_total";
/// `deliver_sm` received by kind (`receipt`, `mo`, `malformed`).
pub const DELIVERS_METRIC: &str = "warden_smpp_deliver_sm_total";

/// Describes this crate's metrics to the installed recorder.
pub fn describe_metrics() {
    metrics::describe_counter!(BINDS_METRIC, "SMPP bind attempts toward the SMSC, by result (ok, refused, error).");
    metrics::describe_counter!(SUBMITS_METRIC, "SMPP submit_sm outcomes, by result (ok, throttled, refused, lost).");
    metrics::describe_counter!(DELIVERS_METRIC, "SMPP deliver_sm received, by kind (receipt, mo, malformed).");
}

/// The link's state, for health checks and tests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LinkStatus {
    /// Whether a transceiver bind is up now.
    pub bound: bool,
    /// TCP (and TLS) connections made.
    pub connects: u64,
    /// Binds accepted.
    pub binds: u64,
    /// Binds refused by the SMSC (bad credentials and the like).
    pub bind_refusals: u64,
    /// Why the link last went down or could not come up (never holds the password).
    pub last_error: Option<String>,
}

/// What a submit came back with from the link task.
type SubmitReply = Result<(CommandStatus, String), String>;

enum Command {
    Submit {
        sm: ShortMessage,
        reply: oneshot::Sender<SubmitReply>,
    },
    /// Unbind and end the link task.
    Stop,
}

/// The SMPP client: a background task keeping the bind up, and an [`MtSender`].
pub struct SmppClient {
    config: SmppConfig,
    commands: mpsc::Sender<Command>,
    status: watch::Receiver<LinkStatus>,
    task: Option<JoinHandle<()>>,
}

impl Drop for SmppClient {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

impl SmppClient {
    /// Checks the configuration, reads the password and the CA file, and starts the link task
    /// (inside a tokio runtime). MO messages go to `mo`, delivery receipts to `reports`.
    pub fn start(
        config: SmppConfig,
        mo: Arc<dyn MoHandler>,
        reports: Arc<dyn ReportSink>,
    ) -> Result<SmppClient, ConfigError> {
        config.validate()?;
        let password = config.read_password()?;
        let tls = config.tls.as_ref().map(|t| t.connector(&config.host)).transpose()?;
        let (commands, rx) = mpsc::channel(config.window.max(16));
        let (status_tx, status) = watch::channel(LinkStatus::default());
        let link = Link { config: config.clone(), password, tls, mo, reports, status: status_tx };
        let task = tokio::spawn(link.run(rx));
        Ok(SmppClient { config, commands, status, task: Some(task) })
    }

    /// Unbinds (waiting up to `response_timeout_ms` for `unbind_resp`) and stops the link task.
    /// Dropping the client instead stops the task at once, without an unbind.
    pub async fn shutdown(mut self) {
        let _ = self.commands.send(Command::Stop).await;
        if let Some(task) = self.task.take() {
            if timeout(self.config.response_timeout() * 2, task).await.is_err() {
                tracing::warn!("the SMPP link task did not stop in time");
            }
        }
    }

    /// The link's state now.
    pub fn status(&self) -> LinkStatus {
        self.status.borrow().clone()
    }

    /// Waits until the link is bound, at most `within`; says whether it is.
    pub async fn wait_bound(&self, within: Duration) -> bool {
        let mut rx = self.status.clone();
        timeout(within, rx.wait_for(|s| s.bound)).await.is_ok_and(|r| r.is_ok())
    }

    /// Submits one `submit_sm`, sending it again while throttled (up to `throttle_retries`).
    async fn submit(&self, sm: &ShortMessage) -> Result<String, SubmitFailure> {
        let mut throttled = 0;
        loop {
            if !self.wait_bound(self.config.response_timeout()).await {
                let why = self.status().last_error.unwrap_or_else(|| "not bound yet".into());
                return Err(SubmitFailure { reason: format!("SMPP link to the SMSC is down: {why}"), retry: true });
            }
            let (reply, rx) = oneshot::channel();
            if self.commands.send(Command::Submit { sm: sm.clone(), reply }).await.is_err() {
                return Err(SubmitFailure { reason: "the SMPP client has stopped".into(), retry: true });
            }
            // The link task answers every submit it takes (response, timeout or lost link).
            let status = match rx.await {
                Ok(Ok((status, message_id))) if status.is_ok() => {
                    metrics::counter!(SUBMITS_METRIC, "result" => "ok").increment(1);
                    return Ok(message_id);
                }
                Ok(Ok((status, _))) => status,
                Ok(Err(reason)) => {
                    metrics::counter!(SUBMITS_METRIC, "result" => "lost").increment(1);
                    return Err(SubmitFailure { reason, retry: true });
                }
                Err(_) => {
                    metrics::counter!(SUBMITS_METRIC, "result" => "lost").increment(1);
                    return Err(SubmitFailure { reason: "the SMPP link task stopped".into(), retry: true });
                }
            };
            if status.is_throttling() {
                metrics::counter!(SUBMITS_METRIC, "result" => "throttled").increment(1);
                if throttled < self.config.throttle_retries {
                    throttled += 1;
                    tracing::debug!(%status, attempt = throttled, "SMSC throttled submit_sm; sending it again");
                    tokio::time::sleep(Duration::from_millis(self.config.throttle_delay_ms)).await;
                    continue;
                }
                return Err(SubmitFailure {
                    reason: format!("the SMSC still throttles after {throttled} retries: {status}"),
                    retry: true,
                });
            }
            metrics::counter!(SUBMITS_METRIC, "result" => "refused").increment(1);
            return Err(SubmitFailure {
                reason: format!("the SMSC refused submit_sm: {status}"),
                retry: mapping::retryable(status),
            });
        }
    }
}

/// Why a `submit_sm` did not go through, and whether trying again later may help.
struct SubmitFailure {
    reason: String,
    retry: bool,
}

impl MtSender for SmppClient {
    /// One `submit_sm` per segment, in order, each awaiting its response before the next; the
    /// outcome's `message_id` is the last segment's (the SIM acts on a concatenated message only
    /// once the last segment is there). A segment that fails stops the send: the outcome is that
    /// failure, and a retry sends every segment again (the SIM drops incomplete concatenations).
    fn send<'a>(&'a self, message: &'a MtMessage) -> BoxFuture<'a, MtOutcome> {
        Box::pin(async move {
            if message.segments.is_empty() {
                return MtOutcome::Failed { reason: "the message has no segment".into(), retry: false };
            }
            let mut message_id = String::new();
            for segment in &message.segments {
                let sm = match mapping::submit_sm(message, segment) {
                    Ok(sm) => sm,
                    Err(reason) => return MtOutcome::Failed { reason, retry: false },
                };
                if let Err(e) = Pdu::request(1, Body::SubmitSm(sm.clone())).encode() {
                    return MtOutcome::Failed { reason: format!("submit_sm cannot be encoded: {e}"), retry: false };
                }
                match self.submit(&sm).await {
                    Ok(id) => message_id = id,
                    Err(SubmitFailure { reason, retry }) => return MtOutcome::Failed { reason, retry },
                }
            }
            MtOutcome::Accepted { message_id }
        })
    }
}

impl MoHandler for SmppClient {
    /// Forwards an MO message from a SIM (arrived over SGd and screened) to the SMSC as a
    /// `submit_sm` from the SIM's MSISDN to its TP-DA: `Accepted` once the SMSC took it, `Failed`
    /// otherwise (throttling handled as for MT messages).
    fn received<'a>(&'a self, message: &'a MoMessage) -> BoxFuture<'a, MoVerdict> {
        Box::pin(async move {
            let sm = match mapping::forward_sm(message) {
                Ok(sm) => sm,
                Err(reason) => return MoVerdict::Failed { reason, retry: false },
            };
            if let Err(e) = Pdu::request(1, Body::SubmitSm(sm.clone())).encode() {
                return MoVerdict::Failed { reason: format!("submit_sm cannot be encoded: {e}"), retry: false };
            }
            match self.submit(&sm).await {
                Ok(_) => MoVerdict::Accepted,
                Err(SubmitFailure { reason, retry }) => MoVerdict::Failed { reason, retry },
            }
        })
    }
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

struct Link {
    config: SmppConfig,
    password: Zeroizing<String>,
    tls: Option<(tokio_rustls::TlsConnector, rustls::pki_types::ServerName<'static>)>,
    mo: Arc<dyn MoHandler>,
    reports: Arc<dyn ReportSink>,
    status: watch::Sender<LinkStatus>,
}

/// How a connection attempt or a session ended.
enum Ended {
    /// Keep reconnecting.
    Error(String),
    /// [`SmppClient::shutdown`] asked for it, or the client is gone.
    Stopped,
}

impl Link {
    async fn run(self, mut commands: mpsc::Receiver<Command>) {
        let min = Duration::from_millis(self.config.reconnect_min_ms);
        let max = Duration::from_millis(self.config.reconnect_max_ms);
        let mut delay = min;
        loop {
            let ended = match self.connect_and_bind().await {
                Ok((io, sequence)) => {
                    delay = min;
                    self.status.send_modify(|s| {
                        s.bound = true;
                        s.binds += 1;
                        s.last_error = None;
                    });
                    tracing::info!(host = %self.config.host, port = self.config.port, "SMPP transceiver bound");
                    let ended = Session::new(&self, io, sequence).run(&mut commands).await;
                    self.status.send_modify(|s| s.bound = false);
                    ended
                }
                Err(e) => e,
            };
            match ended {
                Ended::Stopped => return,
                Ended::Error(why) => {
                    tracing::warn!(host = %self.config.host, port = self.config.port, error = %why, retry_in_ms = delay.as_millis() as u64, "SMPP link down");
                    self.status.send_modify(|s| s.last_error = Some(why));
                }
            }
            // Submits queued while the link is down fail now rather than wait for the next bind.
            let deadline = Instant::now() + delay;
            loop {
                match tokio::time::timeout_at(deadline, commands.recv()).await {
                    Err(_) => break,
                    Ok(None | Some(Command::Stop)) => return,
                    Ok(Some(Command::Submit { reply, .. })) => {
                        let why = self.status.borrow().last_error.clone().unwrap_or_default();
                        let _ = reply.send(Err(format!("SMPP link to the SMSC is down: {why}")));
                    }
                }
            }
            delay = (delay * 2).min(max);
        }
    }

    async fn connect_and_bind(&self) -> Result<(Box<dyn Io>, u32), Ended> {
        let wait = self.config.response_timeout();
        let addr = (self.config.host.as_str(), self.config.port);
        let tcp = match timeout(wait, TcpStream::connect(addr)).await {
            Ok(Ok(tcp)) => tcp,
            Ok(Err(e)) => return Err(Ended::Error(format!("connecting to {}:{}: {e}", addr.0, addr.1))),
            Err(_) => return Err(Ended::Error(format!("connecting to {}:{}: timed out", addr.0, addr.1))),
        };
        let _ = tcp.set_nodelay(true);
        let mut io: Box<dyn Io> = match &self.tls {
            None => Box::new(tcp),
            Some((connector, name)) => match timeout(wait, connector.connect(name.clone(), tcp)).await {
                Ok(Ok(tls)) => Box::new(tls),
                Ok(Err(e)) => return Err(Ended::Error(format!("TLS handshake with {}: {e}", addr.0))),
                Err(_) => return Err(Ended::Error(format!("TLS handshake with {}: timed out", addr.0))),
            },
        };
        self.status.send_modify(|s| s.connects += 1);
        let bind = Bind {
            system_id: self.config.system_id.clone(),
            password: self.password.clone(),
            system_type: self.config.system_type.clone(),
            ..Bind::default()
        };
        let request = Pdu::request(1, Body::BindTransceiver(bind))
            .encode()
            .map_err(|e| Ended::Error(format!("bind_transceiver cannot be encoded: {e}")))?;
        let request = Zeroizing::new(request);
        let answer = timeout(wait, async {
            io.write_all(&request).await?;
            loop {
                let frame = read_frame(&mut io).await?;
                match frame.as_ref().map(|f| Header::decode(f)) {
                    Ok(Ok(h))
                        if h.command_id == (pdu::command_id::BIND_TRANSCEIVER | pdu::command_id::RESPONSE)
                            || h.command_id == pdu::command_id::GENERIC_NACK =>
                    {
                        // A generic_nack "OK" is no bind.
                        let nack_ok = h.command_id == pdu::command_id::GENERIC_NACK && h.command_status.is_ok();
                        return Ok::<_, std::io::Error>(if nack_ok {
                            CommandStatus::ESME_RUNKNOWNERR
                        } else {
                            h.command_status
                        });
                    }
                    // An enquire_link (or anything else) before the bind answer: not ours to answer yet.
                    Ok(_) => continue,
                    Err(e) => return Err(std::io::Error::other(e.to_string())),
                }
            }
        })
        .await;
        let status = match answer {
            Ok(Ok(status)) => status,
            Ok(Err(e)) => {
                metrics::counter!(BINDS_METRIC, "result" => "error").increment(1);
                return Err(Ended::Error(format!("bind_transceiver: {e}")));
            }
            Err(_) => {
                metrics::counter!(BINDS_METRIC, "result" => "error").increment(1);
                return Err(Ended::Error("bind_transceiver: no answer in time".into()));
            }
        };
        if !status.is_ok() {
            metrics::counter!(BINDS_METRIC, "result" => "refused").increment(1);
            self.status.send_modify(|s| s.bind_refusals += 1);
            tracing::error!(system_id = %self.config.system_id, %status, "the SMSC refused the bind (check system_id and the password file)");
            return Err(Ended::Error(format!(
                "the SMSC refused bind_transceiver as {:?}: {status}",
                self.config.system_id
            )));
        }
        metrics::counter!(BINDS_METRIC, "result" => "ok").increment(1);
        Ok((io, 2))
    }
}

/// Reads one PDU's octets (framing on `command_length`).
async fn read_frame<R: AsyncRead + Unpin + ?Sized>(r: &mut R) -> std::io::Result<Result<Vec<u8>, DecodeError>> {
    let mut len = [0u8; 4];
    r.read_exact(&mut len).await?;
    let n = match pdu::frame_len(&len) {
        Ok(Some(n)) => n,
        Ok(None) => return Ok(Err(DecodeError::LengthTooShort { length: 0 })),
        Err(e) => return Ok(Err(e)),
    };
    let mut frame = vec![0u8; n];
    frame[..4].copy_from_slice(&len);
    r.read_exact(&mut frame[4..]).await?;
    Ok(Ok(frame))
}

enum Pending {
    Submit(oneshot::Sender<SubmitReply>, Instant),
    EnquireLink(Instant),
}

struct Session<'a> {
    link: &'a Link,
    io: Option<Box<dyn Io>>,
    next_sequence: u32,
    pending: HashMap<u32, Pending>,
    /// Bounds the `deliver_sm` being handled at once.
    deliveries: Arc<tokio::sync::Semaphore>,
}

/// The most `deliver_sm` handled at once on one link; more are answered `ESME_RX_T_APPN` (the SMSC
/// delivers them again later).
pub const MAX_CONCURRENT_DELIVERIES: usize = 64;

impl<'a> Session<'a> {
    fn new(link: &'a Link, io: Box<dyn Io>, next_sequence: u32) -> Self {
        Session {
            link,
            io: Some(io),
            next_sequence,
            pending: HashMap::new(),
            deliveries: Arc::new(tokio::sync::Semaphore::new(MAX_CONCURRENT_DELIVERIES)),
        }
    }

    fn sequence(&mut self) -> u32 {
        let s = self.next_sequence;
        // Sequence numbers run 0x00000001..=0x7FFFFFFF (SMPP v3.4 §5.1.4).
        self.next_sequence = if s >= 0x7FFF_FFFF { 1 } else { s + 1 };
        s
    }

    fn outstanding_submits(&self) -> usize {
        self.pending.values().filter(|p| matches!(p, Pending::Submit(..))).count()
    }

    async fn run(mut self, commands: &mut mpsc::Receiver<Command>) -> Ended {
        let Some(io) = self.io.take() else { return Ended::Error("no connection".into()) };
        let (mut reader, mut writer) = tokio::io::split(io);
        let (frames_tx, mut frames) = mpsc::channel::<std::io::Result<Result<Vec<u8>, DecodeError>>>(64);
        let reader_task = tokio::spawn(async move {
            loop {
                let frame = read_frame(&mut reader).await;
                let stop = !matches!(frame, Ok(Ok(_)));
                if frames_tx.send(frame).await.is_err() || stop {
                    return;
                }
            }
        });
        let (answers_tx, mut answers) = mpsc::unbounded_channel::<Pdu>();
        let config = &self.link.config;
        let wait = config.response_timeout();
        let mut keepalive = tokio::time::interval(Duration::from_secs(config.enquire_link_secs));
        keepalive.reset();
        let mut check = tokio::time::interval(wait.min(Duration::from_millis(250)));
        let ended = loop {
            let window_open = self.outstanding_submits() < config.window;
            tokio::select! {
                command = commands.recv(), if window_open => {
                    let Some(Command::Submit { sm, reply }) = command else {
                        let seq = self.sequence();
                        if let Ok(unbind) = Pdu::request(seq, Body::Unbind).encode() {
                            let _ = timeout(wait, writer.write_all(&unbind)).await;
                            // Wait for unbind_resp (or anything final) before closing.
                            let _ = timeout(wait, async {
                                while let Some(Ok(Ok(frame))) = frames.recv().await {
                                    if Header::decode(&frame).is_ok_and(|h| h.command_id == pdu::command_id::UNBIND | pdu::command_id::RESPONSE) {
                                        return;
                                    }
                                }
                            })
                            .await;
                        }
                        let _ = writer.shutdown().await;
                        break Ended::Stopped;
                    };
                    if reply.is_closed() {
                        continue;
                    }
                    let seq = self.sequence();
                    match Pdu::request(seq, Body::SubmitSm(sm)).encode() {
                        Ok(bytes) => {
                            if let Err(e) = writer.write_all(&bytes).await {
                                let _ = reply.send(Err(format!("writing submit_sm: {e}")));
                                break Ended::Error(format!("writing to the SMSC: {e}"));
                            }
                            self.pending.insert(seq, Pending::Submit(reply, Instant::now() + wait));
                        }
                        Err(e) => {
                            let _ = reply.send(Err(format!("submit_sm cannot be encoded: {e}")));
                        }
                    }
                }
                frame = frames.recv() => {
                    let frame = match frame {
                        Some(Ok(Ok(frame))) => frame,
                        Some(Ok(Err(e))) => {
                            // The stream cannot be framed any more: say so and drop the link.
                            let nack = Pdu { status: e.status(), sequence: 0, body: Body::GenericNack };
                            if let Ok(bytes) = nack.encode() {
                                let _ = writer.write_all(&bytes).await;
                            }
                            break Ended::Error(format!("unframeable PDU from the SMSC: {e}"));
                        }
                        Some(Err(e)) => break Ended::Error(format!("reading from the SMSC: {e}")),
                        None => break Ended::Error("the SMSC closed the connection".into()),
                    };
                    match self.incoming(&frame, &answers_tx) {
                        Ok(Some(answer)) => {
                            if let Ok(bytes) = answer.encode() {
                                if let Err(e) = writer.write_all(&bytes).await {
                                    break Ended::Error(format!("writing to the SMSC: {e}"));
                                }
                            }
                        }
                        Ok(None) => {}
                        Err(ended) => {
                            let unbind_resp = Pdu { status: CommandStatus::ESME_ROK, sequence: ended.1, body: Body::UnbindResp };
                            if let Ok(bytes) = unbind_resp.encode() {
                                let _ = writer.write_all(&bytes).await;
                            }
                            break Ended::Error(ended.0);
                        }
                    }
                }
                Some(answer) = answers.recv() => {
                    if let Ok(bytes) = answer.encode() {
                        if let Err(e) = writer.write_all(&bytes).await {
                            break Ended::Error(format!("writing to the SMSC: {e}"));
                        }
                    }
                }
                _ = keepalive.tick() => {
                    let seq = self.sequence();
                    if let Ok(bytes) = Pdu::request(seq, Body::EnquireLink).encode() {
                        if let Err(e) = writer.write_all(&bytes).await {
                            break Ended::Error(format!("writing to the SMSC: {e}"));
                        }
                        self.pending.insert(seq, Pending::EnquireLink(Instant::now() + wait));
                    }
                }
                _ = check.tick() => {
                    if let Some(why) = self.expire() {
                        break Ended::Error(why);
                    }
                }
            }
        };
        reader_task.abort();
        for (_, p) in self.pending.drain() {
            if let Pending::Submit(reply, _) = p {
                let why = match &ended {
                    Ended::Error(why) => why.clone(),
                    Ended::Stopped => "the SMPP client stopped".into(),
                };
                let _ = reply.send(Err(format!("SMPP link lost before submit_sm_resp: {why}")));
            }
        }
        ended
    }

    /// Fails submits past their deadline; says why the link is dead when a keep-alive went
    /// unanswered.
    fn expire(&mut self) -> Option<String> {
        let now = Instant::now();
        let expired: Vec<u32> = self
            .pending
            .iter()
            .filter(|(_, p)| match p {
                Pending::Submit(_, at) | Pending::EnquireLink(at) => *at <= now,
            })
            .map(|(s, _)| *s)
            .collect();
        let mut dead = None;
        for seq in expired {
            match self.pending.remove(&seq) {
                Some(Pending::Submit(reply, _)) => {
                    let _ = reply
                        .send(Err(format!("no submit_sm_resp within {} ms", self.link.config.response_timeout_ms)));
                }
                Some(Pending::EnquireLink(_)) => {
                    dead = Some(format!("no enquire_link_resp within {} ms", self.link.config.response_timeout_ms));
                }
                None => {}
            }
        }
        dead
    }

    /// Handles one PDU from the SMSC; returns what to answer now, or why (and the unbind's
    /// sequence) the session ends.
    fn incoming(&mut self, frame: &[u8], answers: &mpsc::UnboundedSender<Pdu>) -> Result<Option<Pdu>, (String, u32)> {
        let header = match Header::decode(frame) {
            Ok(h) => h,
            Err(e) => {
                return Ok(Some(Pdu { status: e.status(), sequence: 0, body: Body::GenericNack }));
            }
        };
        let seq = header.sequence_number;
        let body = match pdu::decode_body(header.command_id, &frame[HEADER_LEN..]) {
            Ok(body) => body,
            Err(e) => {
                tracing::warn!(command_id = header.command_id, sequence = seq, error = %e, "malformed PDU from the SMSC");
                if header.command_id & pdu::command_id::RESPONSE != 0 {
                    if let Some(Pending::Submit(reply, _)) = self.pending.remove(&seq) {
                        let _ = reply.send(Err(format!("malformed response from the SMSC: {e}")));
                    }
                    return Ok(None);
                }
                if header.command_id == pdu::command_id::DELIVER_SM {
                    metrics::counter!(DELIVERS_METRIC, "kind" => "malformed").increment(1);
                    return Ok(Some(Pdu {
                        status: e.status(),
                        sequence: seq,
                        body: Body::DeliverSmResp(MessageIdResp::default()),
                    }));
                }
                return Ok(Some(Pdu { status: e.status(), sequence: seq, body: Body::GenericNack }));
            }
        };
        match body {
            Body::SubmitSmResp(r) => {
                if let Some(Pending::Submit(reply, _)) = self.pending.remove(&seq) {
                    let _ = reply.send(Ok((header.command_status, r.message_id)));
                }
                Ok(None)
            }
            Body::GenericNack => {
                match self.pending.remove(&seq) {
                    Some(Pending::Submit(reply, _)) => {
                        let status = if header.command_status.is_ok() {
                            CommandStatus::ESME_RUNKNOWNERR
                        } else {
                            header.command_status
                        };
                        let _ = reply.send(Ok((status, String::new())));
                    }
                    Some(Pending::EnquireLink(_)) | None => {
                        tracing::warn!(sequence = seq, status = %header.command_status, "generic_nack from the SMSC");
                    }
                }
                Ok(None)
            }
            Body::EnquireLinkResp => {
                self.pending.remove(&seq);
                Ok(None)
            }
            Body::EnquireLink => {
                Ok(Some(Pdu { status: CommandStatus::ESME_ROK, sequence: seq, body: Body::EnquireLinkResp }))
            }
            Body::Unbind => Err(("the SMSC unbound".into(), seq)),
            Body::UnbindResp => Ok(None),
            Body::DeliverSm(sm) => {
                let Ok(permit) = self.deliveries.clone().try_acquire_owned() else {
                    tracing::warn!(sequence = seq, "too many deliver_sm in progress; answering ESME_RX_T_APPN");
                    return Ok(Some(Pdu {
                        status: CommandStatus::ESME_RX_T_APPN,
                        sequence: seq,
                        body: Body::DeliverSmResp(MessageIdResp::default()),
                    }));
                };
                let (mo, reports, answers) = (self.link.mo.clone(), self.link.reports.clone(), answers.clone());
                tokio::spawn(async move {
                    let status = deliver(&sm, mo.as_ref(), reports.as_ref()).await;
                    drop(permit);
                    let _ = answers.send(Pdu {
                        status,
                        sequence: seq,
                        body: Body::DeliverSmResp(MessageIdResp::default()),
                    });
                });
                Ok(None)
            }
            other if other.is_response() => Ok(None),
            // A bind or submit_sm from the SMSC: not something an SMSC sends to a bound ESME.
            _ => Ok(Some(Pdu { status: CommandStatus::ESME_RINVBNDSTS, sequence: seq, body: Body::GenericNack })),
        }
    }
}

/// Hands a `deliver_sm` to the report sink or the MO handler and says how to answer it.
async fn deliver(sm: &ShortMessage, mo: &dyn MoHandler, reports: &dyn ReportSink) -> CommandStatus {
    if receipt::is_delivery_receipt(sm) {
        match receipt::delivery_report(sm) {
            Ok(report) => {
                metrics::counter!(DELIVERS_METRIC, "kind" => "receipt").increment(1);
                reports.report(&report).await;
                CommandStatus::ESME_ROK
            }
            Err(e) => {
                metrics::counter!(DELIVERS_METRIC, "kind" => "malformed").increment(1);
                tracing::warn!(error = %e, "unreadable delivery receipt from the SMSC");
                CommandStatus::ESME_RX_P_APPN
            }
        }
    } else {
        metrics::counter!(DELIVERS_METRIC, "kind" => "mo").increment(1);
        let message = mapping::mo_message(sm);
        let verdict = mo.received(&message).await;
        mapping::deliver_status(&verdict)
    }
}
