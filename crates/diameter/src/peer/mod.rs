//! The Diameter peer state machine, sans-IO in the manner of `quinn-proto`: bytes and time go in
//! ([`Peer::handle_input`], [`Peer::handle_timeout`]); bytes to send, events and the next deadline come
//! out ([`Peer::poll_transmit`], [`Peer::poll_event`], [`Peer::poll_timeout`]). No sockets, no clock
//! reads, no tasks: the tokio transport is a thin shell around it.
//!
//! It implements capabilities exchange (CER/CEA with application negotiation, DIAMETER_UNKNOWN_PEER
//! through a [`PeerAuthorizer`], DIAMETER_NO_COMMON_APPLICATION), the device watchdog of RFC 3539
//! (DWR/DWA, suspect and down), disconnection (DPR/DPA), hop-by-hop and end-to-end identifiers,
//! duplicate detection, request/answer matching with timeouts, and the RFC 6733 error answers for
//! malformed requests.

mod capabilities;
mod dedup;
mod ids;

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use capabilities::{common_applications, Application, Capabilities};
pub use dedup::{DedupCache, Seen};
pub use ids::IdGenerator;

use crate::avp;
use crate::dictionary::{app, Command};
use crate::error::DecodeError;
use crate::header::{next_frame_len, FramingError, Header};
use crate::message::Message;
use crate::result_code as rc;
use crate::validate;

/// Local configuration of a peer connection.
#[derive(Debug, Clone)]
pub struct PeerConfig {
    /// Our Origin-Host.
    pub origin_host: String,
    /// Our Origin-Realm.
    pub origin_realm: String,
    /// Our Host-IP-Address values.
    pub host_ip_addresses: Vec<IpAddr>,
    /// Our Vendor-Id (0 for none).
    pub vendor_id: u32,
    /// Our Product-Name.
    pub product_name: String,
    /// Our Firmware-Revision.
    pub firmware_revision: u32,
    /// Our Origin-State-Id (changes on every restart).
    pub origin_state_id: u32,
    /// Applications we support.
    pub applications: Vec<Application>,
    /// Tw, the watchdog interval (RFC 3539; at least 6 s, default 30 s). Jitter of up to ±2 s is added.
    pub watchdog_interval: Duration,
    /// How long to wait for an answer to a request we send.
    pub request_timeout: Duration,
    /// How long to wait for CER (responder) or CEA (initiator), and for DPA.
    pub handshake_timeout: Duration,
    /// Largest message accepted; a longer length field closes the connection.
    pub max_message_size: u32,
    /// How many recent requests the duplicate detection remembers.
    pub dedup_capacity: usize,
    /// Random seed for identifiers and jitter (the caller draws it from the OS).
    pub seed: u64,
    /// Low 12 bits of the wall-clock seconds, for the first end-to-end identifier.
    pub clock_low12: u32,
}

impl PeerConfig {
    /// A configuration with RFC defaults for the timers and a 64 KiB message bound.
    pub fn new(origin_host: &str, origin_realm: &str, applications: Vec<Application>) -> Self {
        Self {
            origin_host: origin_host.to_string(),
            origin_realm: origin_realm.to_string(),
            host_ip_addresses: vec![IpAddr::from([127, 0, 0, 1])],
            vendor_id: 0,
            product_name: "Warden".to_string(),
            firmware_revision: 1,
            origin_state_id: 1,
            applications,
            watchdog_interval: Duration::from_secs(30),
            request_timeout: Duration::from_secs(10),
            handshake_timeout: Duration::from_secs(10),
            max_message_size: 64 * 1024,
            dedup_capacity: 4096,
            seed: 0x5eed,
            clock_low12: 0,
        }
    }
}

/// Who the remote peer claims to be, for the authorisation decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerIdentity {
    /// Origin-Host from CER/CEA.
    pub origin_host: String,
    /// Origin-Realm from CER/CEA.
    pub origin_realm: String,
    /// The transport source address, when known.
    pub address: Option<IpAddr>,
}

/// Decides which peers may connect. Unknown peers get DIAMETER_UNKNOWN_PEER and are disconnected.
pub trait PeerAuthorizer: Send + Sync {
    /// True when this peer may talk to us.
    fn authorize(&self, peer: &PeerIdentity) -> bool;
}

impl<F: Fn(&PeerIdentity) -> bool + Send + Sync> PeerAuthorizer for F {
    fn authorize(&self, peer: &PeerIdentity) -> bool {
        self(peer)
    }
}

/// Which side opened the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// We connected and send CER.
    Initiator,
    /// The remote connected and must send CER.
    Responder,
}

/// Where the connection stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerState {
    /// Waiting for the remote's CER.
    WaitCer,
    /// Waiting for the remote's CEA.
    WaitCea,
    /// Capabilities agreed; application messages flow.
    Open,
    /// We sent DPR and wait for DPA.
    Closing,
    /// Finished: flush what is queued and close the transport.
    Closed,
}

/// Why a connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CloseReason {
    /// The remote sent DPR with this Disconnect-Cause.
    RemoteDisconnect(u32),
    /// We sent DPR (and got DPA or waited long enough).
    LocalDisconnect,
    /// The remote is not authorised (we answered DIAMETER_UNKNOWN_PEER).
    UnknownPeer,
    /// No application in common (DIAMETER_NO_COMMON_APPLICATION).
    NoCommonApplication,
    /// The capabilities exchange failed with this Result-Code, or its message was malformed.
    CapabilitiesExchangeFailed(u32),
    /// A message other than CER/CEA arrived before the exchange finished.
    UnexpectedMessage,
    /// CER, CEA or DPA did not arrive in time.
    HandshakeTimeout,
    /// The watchdog found the peer down (RFC 3539).
    WatchdogTimeout,
    /// The byte stream cannot be framed any more.
    Framing(FramingError),
    /// The transport closed.
    TransportClosed,
}

/// What the peer state machine reports to the application.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// Capabilities agreed.
    Open {
        /// The remote's capabilities.
        remote: Capabilities,
        /// Applications both sides support.
        applications: Vec<u32>,
    },
    /// An application request to answer with [`Peer::send_answer`].
    Request(Message),
    /// The answer to a request sent with [`Peer::send_request`].
    Answer(Message),
    /// No answer arrived in time for a request we sent.
    RequestTimedOut {
        /// Its hop-by-hop identifier.
        hop_by_hop: u32,
        /// Its end-to-end identifier.
        end_to_end: u32,
    },
    /// A malformed or refused request was answered with an error (for counters and logs).
    Rejected {
        /// The Result-Code sent.
        result_code: u32,
        /// Why.
        reason: String,
    },
    /// The watchdog found the peer unresponsive once (RFC 3539 SUSPECT).
    Suspect,
    /// The connection is finished.
    Closed(CloseReason),
}

/// Why a message could not be sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Not in the Open state.
    #[error("the peer connection is not open")]
    NotOpen,
    /// A request was given to `send_answer` or the reverse.
    #[error("wrong message kind: {0}")]
    WrongKind(&'static str),
    /// The answer matches no request received.
    #[error("no request with hop-by-hop id {0} awaits an answer")]
    UnknownRequest(u32),
    /// The message is longer than `max_message_size` (and than the 24-bit length field can carry,
    /// past 16 MiB).
    #[error("message of {0} bytes exceeds the configured maximum")]
    TooLarge(usize),
}

#[derive(Debug)]
struct Pending {
    deadline: Instant,
    end_to_end: u32,
}

/// One Diameter peer connection.
pub struct Peer {
    config: PeerConfig,
    authorizer: Arc<dyn PeerAuthorizer>,
    role: Role,
    remote_address: Option<IpAddr>,
    state: PeerState,
    rx: Vec<u8>,
    /// Encoded messages waiting to be transmitted, back to back, and how much of them was taken.
    tx: Vec<u8>,
    tx_taken: usize,
    events: VecDeque<Event>,
    ids: IdGenerator,
    jitter_seed: u64,
    pending: HashMap<u32, Pending>,
    /// Requests received and not answered yet: hop-by-hop → (Origin-Host, end-to-end).
    awaiting_answer: HashMap<u32, (std::sync::Arc<str>, u32)>,
    dedup: DedupCache,
    applications: Vec<u32>,
    remote: Option<Capabilities>,
    /// CER/CEA/DPA deadline.
    handshake_deadline: Option<Instant>,
    handshake_hop_by_hop: u32,
    watchdog_deadline: Instant,
    dwr_outstanding: bool,
    suspect: bool,
}

impl std::fmt::Debug for Peer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Peer")
            .field("role", &self.role)
            .field("state", &self.state)
            .field("remote", &self.remote)
            .finish()
    }
}

impl Peer {
    fn new(
        config: PeerConfig,
        authorizer: Arc<dyn PeerAuthorizer>,
        role: Role,
        remote_address: Option<IpAddr>,
        now: Instant,
    ) -> Self {
        let ids = IdGenerator::new(config.seed, config.clock_low12);
        let mut p = Self {
            dedup: DedupCache::new(config.dedup_capacity),
            jitter_seed: config.seed ^ 0xa5a5_a5a5,
            handshake_deadline: Some(now + config.handshake_timeout),
            watchdog_deadline: now + config.watchdog_interval,
            config,
            authorizer,
            role,
            remote_address,
            state: if role == Role::Initiator { PeerState::WaitCea } else { PeerState::WaitCer },
            rx: Vec::new(),
            tx: Vec::new(),
            tx_taken: 0,
            events: VecDeque::new(),
            ids,
            pending: HashMap::new(),
            awaiting_answer: HashMap::new(),
            applications: Vec::new(),
            remote: None,
            handshake_hop_by_hop: 0,
            dwr_outstanding: false,
            suspect: false,
        };
        if role == Role::Initiator {
            let mut cer = Message::request(Command::CER);
            capabilities::add_local_capabilities(&mut cer, &p.config);
            let (h, e) = p.ids.next_pair();
            cer.header.hop_by_hop = h;
            cer.header.end_to_end = e;
            p.handshake_hop_by_hop = h;
            p.queue(&cer);
        }
        p
    }

    /// A connection we opened: CER is queued at once.
    pub fn initiator(
        config: PeerConfig,
        authorizer: Arc<dyn PeerAuthorizer>,
        remote_address: Option<IpAddr>,
        now: Instant,
    ) -> Self {
        Self::new(config, authorizer, Role::Initiator, remote_address, now)
    }

    /// A connection the remote opened: we wait for its CER.
    pub fn responder(
        config: PeerConfig,
        authorizer: Arc<dyn PeerAuthorizer>,
        remote_address: Option<IpAddr>,
        now: Instant,
    ) -> Self {
        Self::new(config, authorizer, Role::Responder, remote_address, now)
    }

    /// The current state.
    pub fn state(&self) -> PeerState {
        self.state
    }

    /// The remote's capabilities once the exchange succeeded.
    pub fn remote(&self) -> Option<&Capabilities> {
        self.remote.as_ref()
    }

    /// The local configuration.
    pub fn config(&self) -> &PeerConfig {
        &self.config
    }

    /// Requests sent and not answered yet.
    pub fn pending_requests(&self) -> usize {
        self.pending.len()
    }

    /// Appends the next message to write to the transport to `buf` and returns its length, or
    /// `None` when nothing is waiting. Messages come out in order; a caller that writes everything
    /// at once calls it until `None`, into one buffer it reuses.
    pub fn poll_transmit(&mut self, buf: &mut Vec<u8>) -> Option<usize> {
        let rest = &self.tx[self.tx_taken..];
        if rest.is_empty() {
            return None;
        }
        // Every message was encoded here, so its length field is right; the bounds only keep a
        // mistake from looping or reading past the end.
        let len = if rest.len() >= 4 { u32::from_be_bytes([0, rest[1], rest[2], rest[3]]) as usize } else { 0 };
        let len = len.clamp(1, rest.len());
        buf.extend_from_slice(&rest[..len]);
        self.tx_taken += len;
        if self.tx_taken == self.tx.len() {
            self.tx.clear();
            self.tx_taken = 0;
        }
        Some(len)
    }

    /// The next event for the application.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`Peer::handle_timeout`] must be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.state == PeerState::Closed {
            return None;
        }
        let pending = self.pending.values().map(|p| p.deadline).min();
        let watchdog = (self.state == PeerState::Open).then_some(self.watchdog_deadline);
        [self.handshake_deadline, pending, watchdog].into_iter().flatten().min()
    }

    fn queue(&mut self, m: &Message) {
        m.encode_into(&mut self.tx);
    }

    fn close(&mut self, reason: CloseReason) {
        if self.state != PeerState::Closed {
            self.state = PeerState::Closed;
            self.pending.clear();
            self.events.push_back(Event::Closed(reason));
        }
    }

    /// The transport closed underneath us.
    pub fn transport_closed(&mut self) {
        self.close(CloseReason::TransportClosed);
    }

    /// Feeds bytes read from the transport. Whole messages are processed at once; a partial message
    /// waits for more bytes. A length field that breaks framing closes the connection.
    pub fn handle_input(&mut self, bytes: &[u8], now: Instant) {
        if self.rx.is_empty() {
            // Nothing left over: frame the bytes where they are, keep only a partial tail.
            let used = self.handle_frames(bytes, now);
            if self.state != PeerState::Closed {
                self.rx.extend_from_slice(&bytes[used..]);
            }
            return;
        }
        self.rx.extend_from_slice(bytes);
        let rx = std::mem::take(&mut self.rx);
        let used = self.handle_frames(&rx, now);
        self.rx = rx;
        self.rx.drain(..used);
        if self.state == PeerState::Closed {
            self.rx.clear();
        }
    }

    /// Handles every whole frame at the start of `buf`; returns how many bytes they took.
    fn handle_frames(&mut self, buf: &[u8], now: Instant) -> usize {
        let mut offset = 0;
        while self.state != PeerState::Closed {
            match next_frame_len(&buf[offset..], self.config.max_message_size) {
                Ok(Some(len)) if buf.len() - offset >= len => {
                    self.handle_frame(&buf[offset..offset + len], now);
                    offset += len;
                }
                Ok(_) => break,
                Err(e) => {
                    self.close(CloseReason::Framing(e));
                    break;
                }
            }
        }
        offset
    }

    fn reject(&mut self, header: &Header, session_id: Option<&str>, error: &DecodeError) {
        if header.is_request() {
            let answer =
                Message::error_answer(header, session_id, &self.config.origin_host, &self.config.origin_realm, error);
            self.queue(&answer);
            self.events.push_back(Event::Rejected { result_code: error.result_code(), reason: error.to_string() });
        }
    }

    fn answer_with(&mut self, request: &Message, code: u32, message: Option<&str>) {
        let mut a = Message::answer_to(&request.header, request.session_id());
        a.set_error(code, &self.config.origin_host, &self.config.origin_realm, None, message);
        self.queue(&a);
    }

    fn handle_frame(&mut self, frame: &[u8], now: Instant) {
        // The base commands by code alone, in whatever application id they arrive.
        const CER: u32 = Command::CER.code();
        const DWR: u32 = Command::DWR.code();
        const DPR: u32 = Command::DPR.code();
        self.watchdog_deadline = now + self.jittered_tw();
        let msg = match Message::decode(frame) {
            Ok(m) => m,
            Err(e) => {
                if let Some(h) = e.header {
                    self.reject(&h, e.session_id.as_deref(), &e.error);
                }
                if self.state != PeerState::Open {
                    self.close(CloseReason::CapabilitiesExchangeFailed(e.error.result_code()));
                }
                return;
            }
        };
        match (self.state, msg.header.code, msg.is_request()) {
            (PeerState::WaitCer, CER, true) => self.on_cer(&msg),
            (PeerState::WaitCea, CER, false) => self.on_cea(&msg),
            (PeerState::WaitCer | PeerState::WaitCea, _, _) => {
                if msg.is_request() {
                    self.answer_with(&msg, rc::UNABLE_TO_COMPLY, Some("capabilities exchange not finished"));
                }
                self.close(CloseReason::UnexpectedMessage);
            }
            (_, DWR, true) => self.on_dwr(&msg),
            (_, DWR, false) => {
                self.dwr_outstanding = false;
                self.suspect = false;
            }
            (_, DPR, true) => {
                let mut dpa = Message::answer_to(&msg.header, None);
                dpa.set_error(rc::SUCCESS, &self.config.origin_host, &self.config.origin_realm, None, None);
                self.queue(&dpa);
                self.close(CloseReason::RemoteDisconnect(msg.get_u32(avp::DISCONNECT_CAUSE).unwrap_or(0)));
            }
            (PeerState::Closing, DPR, false) => self.close(CloseReason::LocalDisconnect),
            (_, CER, true) => self.answer_with(&msg, rc::UNABLE_TO_COMPLY, Some("capabilities already exchanged")),
            (_, _, true) => self.on_request(msg),
            (_, _, false) => self.on_answer(msg),
        }
    }

    fn checked(&mut self, msg: &Message) -> bool {
        let cmd = msg.command().expect("base commands are in the dictionary");
        match validate::check(msg, cmd.def()) {
            Ok(()) => true,
            Err(e) => {
                self.reject(&msg.header, msg.session_id(), &e);
                false
            }
        }
    }

    fn on_cer(&mut self, cer: &Message) {
        if !self.checked(cer) {
            return self.close(CloseReason::CapabilitiesExchangeFailed(rc::MISSING_AVP));
        }
        let remote = Capabilities::from_message(cer);
        let identity = PeerIdentity {
            origin_host: remote.origin_host.clone(),
            origin_realm: remote.origin_realm.clone(),
            address: self.remote_address,
        };
        let mut cea = Message::answer_to(&cer.header, None);
        if !self.authorizer.authorize(&identity) {
            cea.set_error(
                rc::UNKNOWN_PEER,
                &self.config.origin_host,
                &self.config.origin_realm,
                None,
                Some("peer not configured"),
            );
            self.queue(&cea);
            self.events.push_back(Event::Rejected {
                result_code: rc::UNKNOWN_PEER,
                reason: format!("unknown peer {}", identity.origin_host),
            });
            return self.close(CloseReason::UnknownPeer);
        }
        let common = common_applications(&self.config.applications, &remote.applications);
        let code = if common.is_empty() { rc::NO_COMMON_APPLICATION } else { rc::SUCCESS };
        cea.add(avp::RESULT_CODE, code);
        capabilities::add_local_capabilities(&mut cea, &self.config);
        // Result-Code goes after Origin-Host/Realm in the usual layout; order is not significant.
        self.queue(&cea);
        if common.is_empty() {
            return self.close(CloseReason::NoCommonApplication);
        }
        self.open(remote, common);
    }

    fn on_cea(&mut self, cea: &Message) {
        if cea.header.hop_by_hop != self.handshake_hop_by_hop {
            return self.close(CloseReason::UnexpectedMessage);
        }
        let code = cea.result_code().unwrap_or(0);
        if code != rc::SUCCESS {
            return self.close(CloseReason::CapabilitiesExchangeFailed(code));
        }
        let remote = Capabilities::from_message(cea);
        let common = common_applications(&self.config.applications, &remote.applications);
        if common.is_empty() {
            return self.close(CloseReason::NoCommonApplication);
        }
        let identity = PeerIdentity {
            origin_host: remote.origin_host.clone(),
            origin_realm: remote.origin_realm.clone(),
            address: self.remote_address,
        };
        if !self.authorizer.authorize(&identity) {
            self.events.push_back(Event::Rejected {
                result_code: rc::UNKNOWN_PEER,
                reason: format!("unknown peer {}", identity.origin_host),
            });
            return self.close(CloseReason::UnknownPeer);
        }
        self.open(remote, common);
    }

    fn open(&mut self, remote: Capabilities, applications: Vec<u32>) {
        self.state = PeerState::Open;
        self.handshake_deadline = None;
        self.applications = applications.clone();
        self.remote = Some(remote.clone());
        self.events.push_back(Event::Open { remote, applications });
    }

    fn on_dwr(&mut self, dwr: &Message) {
        if !self.checked(dwr) {
            return;
        }
        let mut dwa = Message::answer_to(&dwr.header, None);
        dwa.set_error(rc::SUCCESS, &self.config.origin_host, &self.config.origin_realm, None, None);
        dwa.add(avp::ORIGIN_STATE_ID, self.config.origin_state_id);
        self.queue(&dwa);
    }

    fn on_request(&mut self, msg: Message) {
        let h = msg.header;
        let app_ok = self.applications.contains(&h.app_id) || self.applications.contains(&app::RELAY);
        if !app_ok || h.app_id == app::COMMON {
            let e = DecodeError::InvalidHeaderBits("application not negotiated");
            self.answer_with(&msg, rc::APPLICATION_UNSUPPORTED, Some("application not negotiated with this peer"));
            self.events.push_back(Event::Rejected { result_code: rc::APPLICATION_UNSUPPORTED, reason: e.to_string() });
            return;
        }
        // The base protocol's session commands (RAR, STR, ASR, ACR) are sent with the application id
        // of the session they belong to (RFC 6733 §8: a Gx RAR carries 16777238); CER, DWR and DPR
        // were handled above.
        if Command::from_code(h.app_id, h.code).is_none_or(|c| c.app() != h.app_id && c.app() != app::COMMON) {
            self.answer_with(&msg, rc::COMMAND_UNSUPPORTED, Some("command not supported in this application"));
            self.events.push_back(Event::Rejected {
                result_code: rc::COMMAND_UNSUPPORTED,
                reason: format!("command {}", h.code),
            });
            return;
        }
        if !self.checked(&msg) {
            return;
        }
        let origin = self.dedup.host(msg.get_str(avp::ORIGIN_HOST).unwrap_or_default());
        match self.dedup.check_host(origin.clone(), h.end_to_end) {
            Seen::New => {
                self.awaiting_answer.insert(h.hop_by_hop, (origin, h.end_to_end));
                self.events.push_back(Event::Request(msg));
            }
            Seen::InProgress => {}
            Seen::Answered(bytes) => {
                // Same answer, with this copy's hop-by-hop identifier.
                let start = self.tx.len();
                self.tx.extend_from_slice(&bytes);
                self.tx[start + 12..start + 16].copy_from_slice(&h.hop_by_hop.to_be_bytes());
            }
        }
    }

    fn on_answer(&mut self, msg: Message) {
        if self.pending.remove(&msg.header.hop_by_hop).is_some() {
            self.events.push_back(Event::Answer(msg));
        }
        // Answers that match no pending request are discarded (RFC 6733 §6.2).
    }

    /// Sends an application request; identifiers are assigned here and returned.
    pub fn send_request(&mut self, mut msg: Message, now: Instant) -> Result<(u32, u32), SendError> {
        if self.state != PeerState::Open {
            return Err(SendError::NotOpen);
        }
        if !msg.is_request() {
            return Err(SendError::WrongKind("send_request needs a request"));
        }
        if msg.len() > self.config.max_message_size as usize {
            return Err(SendError::TooLarge(msg.len()));
        }
        let (h, e) = self.ids.next_pair();
        msg.header.hop_by_hop = h;
        msg.header.end_to_end = e;
        self.pending.insert(h, Pending { deadline: now + self.config.request_timeout, end_to_end: e });
        self.queue(&msg);
        Ok((h, e))
    }

    /// Sends the answer to a request delivered as [`Event::Request`]; it is remembered for duplicate
    /// detection.
    pub fn send_answer(&mut self, msg: Message) -> Result<(), SendError> {
        if msg.is_request() {
            return Err(SendError::WrongKind("send_answer needs an answer"));
        }
        if msg.len() > self.config.max_message_size as usize {
            return Err(SendError::TooLarge(msg.len()));
        }
        let (origin, e2e) = self
            .awaiting_answer
            .remove(&msg.header.hop_by_hop)
            .ok_or(SendError::UnknownRequest(msg.header.hop_by_hop))?;
        if self.state == PeerState::Closed {
            return Err(SendError::NotOpen);
        }
        let start = self.tx.len();
        msg.encode_into(&mut self.tx);
        self.dedup.answered_host(origin, e2e, &self.tx[start..]);
        Ok(())
    }

    /// Starts an orderly disconnect: DPR now, closed on DPA or after the handshake timeout.
    pub fn disconnect(&mut self, cause: u32, now: Instant) {
        if self.state != PeerState::Open {
            return self.close(CloseReason::LocalDisconnect);
        }
        let mut dpr = Message::request(Command::DPR);
        dpr.add(avp::ORIGIN_HOST, self.config.origin_host.as_str());
        dpr.add(avp::ORIGIN_REALM, self.config.origin_realm.as_str());
        dpr.add(avp::DISCONNECT_CAUSE, cause);
        let (h, e) = self.ids.next_pair();
        dpr.header.hop_by_hop = h;
        dpr.header.end_to_end = e;
        self.queue(&dpr);
        self.state = PeerState::Closing;
        self.handshake_deadline = Some(now + self.config.handshake_timeout);
    }

    fn jittered_tw(&mut self) -> Duration {
        // RFC 3539 §3.4.1: jitter of up to ±2 s around Tw.
        let jitter_ms = (ids::mix(&mut self.jitter_seed) % 4001) as i64 - 2000;
        let base = self.config.watchdog_interval.as_millis() as i64;
        Duration::from_millis((base + jitter_ms).max(1000) as u64)
    }

    /// Advances timers to `now`: request timeouts, handshake timeout, watchdog.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.state == PeerState::Closed {
            return;
        }
        if self.handshake_deadline.is_some_and(|d| now >= d) {
            return self.close(if self.state == PeerState::Closing {
                CloseReason::LocalDisconnect
            } else {
                CloseReason::HandshakeTimeout
            });
        }
        let expired: Vec<u32> = self.pending.iter().filter(|(_, p)| now >= p.deadline).map(|(h, _)| *h).collect();
        for h in expired {
            if let Some(p) = self.pending.remove(&h) {
                self.events.push_back(Event::RequestTimedOut { hop_by_hop: h, end_to_end: p.end_to_end });
            }
        }
        if self.state == PeerState::Open && now >= self.watchdog_deadline {
            if self.dwr_outstanding {
                if self.suspect {
                    return self.close(CloseReason::WatchdogTimeout);
                }
                self.suspect = true;
                self.events.push_back(Event::Suspect);
            } else {
                let mut dwr = Message::request(Command::DWR);
                dwr.add(avp::ORIGIN_HOST, self.config.origin_host.as_str());
                dwr.add(avp::ORIGIN_REALM, self.config.origin_realm.as_str());
                dwr.add(avp::ORIGIN_STATE_ID, self.config.origin_state_id);
                let (h, e) = self.ids.next_pair();
                dwr.header.hop_by_hop = h;
                dwr.header.end_to_end = e;
                self.queue(&dwr);
                self.dwr_outstanding = true;
            }
            self.watchdog_deadline = now + self.jittered_tw();
        }
    }
}
