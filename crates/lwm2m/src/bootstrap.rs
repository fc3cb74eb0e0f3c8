//! The LwM2M bootstrap server (LwM2M Core TS 1.1 §5.2 and §6.1, Transport TS 1.1 §6.x), free of
//! I/O: client-initiated bootstrap only.
//!
//! 1. The device sends `POST /bs?ep={endpoint}[&pct={format}]` (Bootstrap-Request). Over DTLS the
//!    caller hands [`BootstrapServer::handle`] the endpoint the device's bootstrap PSK was stored
//!    for; any other `ep` is refused with 4.03. Without DTLS (`None`) the request is refused with 4.03
//!    unless `allow_unsecured` is set, and then only a NoSec account is provisioned: keys never go
//!    out in clear. A request accepted is answered 2.04 Changed.
//! 2. The server then drives the sequence, one confirmable request at a time: Bootstrap-Delete `/0`
//!    and `/1` (the client keeps its bootstrap-server account, §6.1.7.6), Bootstrap-Write (PUT) of
//!    the Security object instance (`/0/x`: 0 server URI, 1 Bootstrap-Server false, 2 security mode
//!    0 PSK or 3 NoSec, 3 PSK identity, 4 server public key (empty), 5 secret key, 10 Short Server
//!    ID) and of the Server object instance (`/1/y`: 0 Short Server ID, 1 lifetime, 6 notification
//!    storing, 7 binding), then Bootstrap-Finish `POST /bs`. Writes are LwM2M TLV (11542) unless the
//!    device asked for SenML-CBOR (`pct=112`) or SenML-JSON (`pct=110`).
//! 3. A step answered with anything but 2.xx, reset, or unanswered after the CoAP retransmissions
//!    (RFC 7252 §4.8, [`crate::server::ACK_TIMEOUT`], [`crate::server::MAX_RETRANSMIT`]) or the
//!    response timeout aborts the bootstrap with [`BsEvent::Failed`] and its reason. Only a
//!    Bootstrap-Finish answered 2.04 yields [`BsEvent::Finished`] with the account provisioned — the
//!    moment the caller may store the new credential.
//!
//! For a PSK account the server makes a fresh identity (`wd-` and 16 hex digits) and a 16-byte key
//! from the system's random source at each bootstrap; the key lives in [`Zeroizing`] memory and is
//! never printed (the [`Account`] `Debug` redacts it). At most `max_sessions` bootstraps run at once
//! (5.03 past it); a new request from the same peer or for the same endpoint replaces the one in
//! progress.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use coap::dedup::{Dedup, Seen, EXCHANGE_LIFETIME};
use coap::option::check_request_options;
use coap::{Code, Message, MessageType, OptionNumber};
use zeroize::{Zeroize, Zeroizing};

use crate::content::{self, Value};
use crate::path::Path;
use crate::registration;
use crate::server::{ACK_TIMEOUT, MAX_RETRANSMIT};
use crate::tlv::{self, Kind, Tlv};

/// Security Mode values of resource 0/x/2 (LwM2M Core §E.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecurityMode {
    /// 0: pre-shared key.
    Psk,
    /// 3: no security.
    NoSec,
}

impl SecurityMode {
    /// The resource value.
    pub fn value(self) -> i64 {
        match self {
            SecurityMode::Psk => 0,
            SecurityMode::NoSec => 3,
        }
    }
}

/// The bootstrap server's settings.
#[derive(Debug, Clone)]
pub struct BootstrapConfig {
    /// Accept Bootstrap-Requests without DTLS (a lab setting); they get NoSec accounts only.
    pub allow_unsecured: bool,
    /// Bootstraps in progress at once (5.03 past it).
    pub max_sessions: usize,
    /// How long a device has to send a separate response after acknowledging a request.
    pub response_timeout: Duration,
    /// The LwM2M server URI written into PSK accounts (`coaps://…`).
    pub secure_server_uri: String,
    /// The LwM2M server URI written into NoSec accounts (`coap://…`).
    pub unsecured_server_uri: String,
    /// Short Server ID of the account.
    pub short_server_id: u16,
    /// Registration lifetime written into the Server object, seconds.
    pub lifetime: u32,
    /// Binding written into the Server object.
    pub binding: String,
    /// The Security object instance written (the bootstrap account usually is `/0/0`).
    pub security_instance: u16,
    /// The Server object instance written.
    pub server_instance: u16,
    /// Send Bootstrap-Delete `/0` and `/1` before the writes.
    pub delete_first: bool,
}

impl Default for BootstrapConfig {
    fn default() -> Self {
        BootstrapConfig {
            allow_unsecured: false,
            max_sessions: 1024,
            response_timeout: Duration::from_secs(60),
            secure_server_uri: "coaps://127.0.0.1:5684".into(),
            unsecured_server_uri: "coap://127.0.0.1:5683".into(),
            short_server_id: 1,
            lifetime: registration::DEFAULT_LIFETIME,
            binding: "U".into(),
            security_instance: 1,
            server_instance: 0,
            delete_first: true,
        }
    }
}

/// The LwM2M server account provisioned to a device.
#[derive(Clone)]
pub struct Account {
    /// The device's endpoint name.
    pub endpoint: String,
    /// Security mode.
    pub mode: SecurityMode,
    /// LwM2M server URI.
    pub server_uri: String,
    /// PSK identity (empty for NoSec).
    pub identity: String,
    /// PSK (empty for NoSec).
    pub key: Zeroizing<Vec<u8>>,
    /// Short Server ID.
    pub short_server_id: u16,
    /// Lifetime, seconds.
    pub lifetime: u32,
    /// Binding.
    pub binding: String,
}

impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Account({}, {:?}, {}, identity {:?}, key redacted, ssid {}, lifetime {}, binding {})",
            self.endpoint, self.mode, self.server_uri, self.identity, self.short_server_id, self.lifetime, self.binding
        )
    }
}

/// What happened.
#[derive(Debug, Clone)]
pub enum BsEvent {
    /// A Bootstrap-Request was accepted and the sequence started.
    Started {
        /// Endpoint name.
        endpoint: String,
        /// From.
        peer: SocketAddr,
        /// Over DTLS.
        secure: bool,
    },
    /// Bootstrap-Finish was answered 2.04: the device holds `account`.
    Finished {
        /// From.
        peer: SocketAddr,
        /// What it was given.
        account: Account,
    },
    /// A bootstrap in progress was aborted.
    Failed {
        /// Endpoint name.
        endpoint: String,
        /// From.
        peer: SocketAddr,
        /// The step that failed (`delete /0`, `write /0/1`, `finish`, …).
        step: String,
        /// Why.
        reason: String,
    },
    /// A request was refused.
    Refused {
        /// From.
        peer: SocketAddr,
        /// The endpoint name, when given.
        endpoint: Option<String>,
        /// The answer.
        code: Code,
        /// Why.
        reason: String,
    },
    /// A datagram that is not CoAP.
    Malformed {
        /// From.
        peer: SocketAddr,
        /// Why.
        reason: String,
    },
}

/// What to send and what happened.
#[derive(Debug, Default)]
pub struct BsOutput {
    /// Datagrams to send.
    pub transmits: Vec<crate::server::Transmit>,
    /// Events, in order.
    pub events: Vec<BsEvent>,
}

/// One step of the sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Delete(u16),
    WriteSecurity,
    WriteServer,
    Finish,
}

struct InFlight {
    step: Step,
    message: Message,
    acked: bool,
    attempts: u8,
    next_at: Instant,
    give_up_at: Instant,
}

impl Drop for InFlight {
    /// A Security write carries the key: wiped when the request is done with.
    fn drop(&mut self) {
        self.message.payload.zeroize();
    }
}

struct Session {
    peer: SocketAddr,
    account: Account,
    format: u16,
    steps: VecDeque<Step>,
    current: Option<InFlight>,
}

/// The bootstrap server.
pub struct BootstrapServer {
    config: BootstrapConfig,
    dedup: Dedup<SocketAddr>,
    /// By endpoint name.
    sessions: HashMap<String, Session>,
    next_mid: u16,
    next_token: u64,
}

type Refusal = (Code, Option<String>, String);

fn step_name(step: Step, config: &BootstrapConfig) -> String {
    match step {
        Step::Delete(o) => format!("delete /{o}"),
        Step::WriteSecurity => format!("write /0/{}", config.security_instance),
        Step::WriteServer => format!("write /1/{}", config.server_instance),
        Step::Finish => "bootstrap-finish".into(),
    }
}

/// A fresh PSK identity and 16-byte key.
fn fresh_psk() -> Option<(String, Zeroizing<Vec<u8>>)> {
    let mut id = [0u8; 8];
    let mut key = Zeroizing::new(vec![0u8; 16]);
    getrandom::fill(&mut id).ok()?;
    getrandom::fill(&mut key).ok()?;
    Some((format!("wd-{}", id.iter().map(|b| format!("{b:02x}")).collect::<String>()), key))
}

/// The resources of the Security object instance for `account` (LwM2M Core §E.1).
pub fn security_values(account: &Account, instance: u16) -> Vec<(Path, Value)> {
    let r = |id| Path::resource(0, instance, id);
    vec![
        (r(0), Value::String(account.server_uri.clone())),
        (r(1), Value::Boolean(false)),
        (r(2), Value::Integer(account.mode.value())),
        (r(3), Value::Opaque(account.identity.as_bytes().to_vec())),
        (r(4), Value::Opaque(Vec::new())),
        (r(5), Value::Opaque(account.key.to_vec())),
        (r(10), Value::Integer(i64::from(account.short_server_id))),
    ]
}

/// The resources of the Server object instance for `account` (LwM2M Core §E.2).
pub fn server_values(account: &Account, instance: u16) -> Vec<(Path, Value)> {
    let r = |id| Path::resource(1, instance, id);
    vec![
        (r(0), Value::Integer(i64::from(account.short_server_id))),
        (r(1), Value::Integer(i64::from(account.lifetime))),
        (r(6), Value::Boolean(true)),
        (r(7), Value::String(account.binding.clone())),
    ]
}

/// Resource values as TLV resource entries (the payload of a write to an object instance).
pub fn tlv_resources(values: &[(Path, Value)]) -> Vec<u8> {
    let entries: Vec<Tlv> = values
        .iter()
        .map(|(p, v)| Tlv {
            kind: Kind::Resource,
            id: p.resource.unwrap_or(0),
            value: content::tlv_value(v),
            children: vec![],
        })
        .collect();
    tlv::encode(&entries)
}

fn encode_values(format: u16, values: &[(Path, Value)]) -> Zeroizing<Vec<u8>> {
    Zeroizing::new(match format {
        content::SENML_CBOR => crate::senml_cbor::encode(values),
        content::SENML_JSON => crate::senml::encode(values),
        _ => tlv_resources(values),
    })
}

impl BootstrapServer {
    /// A bootstrap server with nothing in progress.
    pub fn new(config: BootstrapConfig) -> BootstrapServer {
        let seed = crate::server::random_u64();
        BootstrapServer {
            config,
            dedup: Dedup::new(EXCHANGE_LIFETIME, 65_536),
            sessions: HashMap::new(),
            next_mid: seed as u16,
            next_token: seed,
        }
    }

    /// The settings.
    pub fn config(&self) -> &BootstrapConfig {
        &self.config
    }

    /// Bootstraps in progress.
    pub fn in_progress(&self) -> usize {
        self.sessions.len()
    }

    fn mid(&mut self) -> u16 {
        self.next_mid = self.next_mid.wrapping_add(1);
        self.next_mid
    }

    fn token(&mut self) -> Vec<u8> {
        self.next_token = self.next_token.wrapping_add(0x9e37_79b9_7f4a_7c15);
        self.next_token.to_be_bytes().to_vec()
    }

    /// Handles one datagram from `peer`; `identity` is the endpoint name its DTLS credential was
    /// stored for (`None` on plain CoAP).
    pub fn handle(&mut self, now: Instant, peer: SocketAddr, identity: Option<&str>, datagram: &[u8]) -> BsOutput {
        let mut out = BsOutput::default();
        let msg = match Message::decode(datagram) {
            Ok(m) => m,
            Err(e) => {
                if let Some(h) = e.header {
                    if h.mtype == MessageType::Con {
                        out.transmits.push(self.tx(peer, Message::reset(h.message_id)));
                    }
                }
                out.events.push(BsEvent::Malformed { peer, reason: e.to_string() });
                return out;
            }
        };
        match (msg.mtype, msg.code) {
            (MessageType::Con, Code::EMPTY) => out.transmits.push(self.tx(peer, Message::reset(msg.message_id))),
            (MessageType::Ack, Code::EMPTY) => {
                if let Some(f) = self.in_flight_mut(peer, |f| f.message.message_id == msg.message_id) {
                    f.acked = true;
                }
            }
            (MessageType::Rst, _) => {
                let ep = self.session_of(peer, |f| f.message.message_id == msg.message_id);
                if let Some(ep) = ep {
                    self.fail(&ep, "the device reset the request".into(), &mut out);
                }
            }
            (MessageType::Con | MessageType::Non, c) if c.is_request() => {
                self.on_request(now, peer, identity, msg, &mut out)
            }
            (_, c) if c.is_response() => self.on_response(now, peer, msg, &mut out),
            (MessageType::Con, _) => out.transmits.push(self.tx(peer, Message::reset(msg.message_id))),
            _ => {}
        }
        out
    }

    fn tx(&self, peer: SocketAddr, m: Message) -> crate::server::Transmit {
        crate::server::Transmit { peer, datagram: m.encode() }
    }

    /// The endpoint of the session with `peer` whose request in flight matches.
    fn session_of(&self, peer: SocketAddr, matches: impl Fn(&InFlight) -> bool) -> Option<String> {
        self.sessions
            .iter()
            .find(|(_, s)| s.peer == peer && s.current.as_ref().is_some_and(&matches))
            .map(|(ep, _)| ep.clone())
    }

    fn in_flight_mut(&mut self, peer: SocketAddr, matches: impl Fn(&InFlight) -> bool) -> Option<&mut InFlight> {
        self.sessions.values_mut().filter(|s| s.peer == peer).filter_map(|s| s.current.as_mut()).find(|f| matches(f))
    }

    fn on_request(&mut self, now: Instant, peer: SocketAddr, identity: Option<&str>, msg: Message, out: &mut BsOutput) {
        let con = msg.mtype == MessageType::Con;
        if con {
            if let Seen::Again(answer) = self.dedup.check(now, &peer, msg.message_id) {
                if let Some(a) = answer {
                    out.transmits.push(crate::server::Transmit { peer, datagram: a.to_vec() });
                }
                return;
            }
        }
        let mid = self.mid();
        let mut resp = Message::response_to(&msg, Code::CHANGED, mid);
        let started = match self.bootstrap_request(peer, identity, &msg) {
            Ok(started) => Some(started),
            Err((code, endpoint, reason)) => {
                resp.code = code;
                resp.payload = reason.clone().into_bytes();
                resp.push_uint(OptionNumber::CONTENT_FORMAT, u32::from(content::TEXT));
                out.events.push(BsEvent::Refused { peer, endpoint, code, reason });
                None
            }
        };
        let bytes = resp.encode();
        if con {
            self.dedup.answered(&peer, msg.message_id, &bytes);
        }
        out.transmits.push(crate::server::Transmit { peer, datagram: bytes });
        if let Some((endpoint, secure)) = started {
            out.events.push(BsEvent::Started { endpoint: endpoint.clone(), peer, secure });
            self.next_step(now, &endpoint, out);
        }
    }

    /// Checks a Bootstrap-Request and sets its session up: the endpoint and whether it is secure.
    fn bootstrap_request(
        &mut self,
        peer: SocketAddr,
        identity: Option<&str>,
        msg: &Message,
    ) -> Result<(String, bool), Refusal> {
        let refuse = |code, reason: String| (code, None, reason);
        check_request_options(
            &msg.options,
            &[OptionNumber::URI_HOST, OptionNumber::URI_PORT, OptionNumber::URI_PATH, OptionNumber::URI_QUERY],
        )
        .map_err(|e| refuse(Code::BAD_OPTION, e.to_string()))?;
        let segments =
            msg.uri_path_segments().ok_or_else(|| refuse(Code::BAD_REQUEST, "Uri-Path is not UTF-8".into()))?;
        if segments != ["bs"] {
            return Err(refuse(Code::NOT_FOUND, format!("no resource {}", msg.uri_path().unwrap_or_default())));
        }
        if msg.code != Code::POST {
            return Err(refuse(Code::METHOD_NOT_ALLOWED, format!("{} not allowed on /bs", msg.code)));
        }
        let queries = msg.uri_queries().ok_or_else(|| refuse(Code::BAD_REQUEST, "Uri-Query is not UTF-8".into()))?;
        let mut endpoint = None;
        let mut pct = None;
        for q in queries {
            match q.split_once('=') {
                Some(("ep", v)) => endpoint = Some(v.to_string()),
                Some(("pct", v)) => {
                    pct = Some(v.parse::<u16>().map_err(|_| {
                        refuse(
                            Code::BAD_REQUEST,
                            format!("pct {:?} is not a content format", v.chars().take(8).collect::<String>()),
                        )
                    })?)
                }
                _ => {}
            }
        }
        let endpoint = endpoint.ok_or_else(|| refuse(Code::BAD_REQUEST, "query parameter ep is missing".into()))?;
        registration::parse(&[&format!("ep={endpoint}")], true, u32::MAX)
            .map_err(|e| refuse(Code::BAD_REQUEST, e.to_string()))?;
        let fail = |code, reason: String| (code, Some(endpoint.clone()), reason);
        let mode = match identity {
            Some(id) if id != endpoint => {
                return Err(fail(
                    Code::FORBIDDEN,
                    format!("endpoint name {endpoint:?} is not the one the bootstrap credential {id:?} was stored for"),
                ))
            }
            Some(_) => SecurityMode::Psk,
            None if !self.config.allow_unsecured => {
                return Err(fail(
                    Code::FORBIDDEN,
                    "bootstrap without DTLS is not allowed (allow_unsecured is off)".into(),
                ))
            }
            None => SecurityMode::NoSec,
        };
        let replacing = self.sessions.contains_key(&endpoint) || self.sessions.values().any(|s| s.peer == peer);
        if !replacing && self.sessions.len() >= self.config.max_sessions {
            return Err(fail(
                Code::SERVICE_UNAVAILABLE,
                format!("{} bootstraps in progress, try later", self.sessions.len()),
            ));
        }
        let (identity, key, server_uri) = match mode {
            SecurityMode::Psk => {
                let (id, key) = fresh_psk()
                    .ok_or_else(|| fail(Code::INTERNAL_SERVER_ERROR, "no random source for a fresh PSK".into()))?;
                (id, key, self.config.secure_server_uri.clone())
            }
            SecurityMode::NoSec => {
                (String::new(), Zeroizing::new(Vec::new()), self.config.unsecured_server_uri.clone())
            }
        };
        self.sessions.retain(|ep, s| *ep != endpoint && s.peer != peer);
        let format = match pct {
            Some(f @ (content::SENML_CBOR | content::SENML_JSON)) => f,
            _ => content::TLV,
        };
        let mut steps = VecDeque::new();
        if self.config.delete_first {
            steps.extend([Step::Delete(0), Step::Delete(1)]);
        }
        steps.extend([Step::WriteSecurity, Step::WriteServer, Step::Finish]);
        let account = Account {
            endpoint: endpoint.clone(),
            mode,
            server_uri,
            identity,
            key,
            short_server_id: self.config.short_server_id,
            lifetime: self.config.lifetime,
            binding: self.config.binding.clone(),
        };
        self.sessions.insert(endpoint.clone(), Session { peer, account, format, steps, current: None });
        Ok((endpoint, identity_is_secure(mode)))
    }

    /// Sends the next step of `endpoint`'s sequence, or finishes it.
    fn next_step(&mut self, now: Instant, endpoint: &str, out: &mut BsOutput) {
        let mid = self.mid();
        let token = self.token();
        let Some(s) = self.sessions.get_mut(endpoint) else { return };
        let Some(step) = s.steps.pop_front() else {
            if let Some(s) = self.sessions.remove(endpoint) {
                out.events.push(BsEvent::Finished { peer: s.peer, account: s.account });
            }
            return;
        };
        let mut m = Message::new(MessageType::Con, Code::PUT, mid, token);
        match step {
            Step::Delete(o) => {
                m.code = Code::DELETE;
                m.set_uri_path(&format!("/{o}"));
            }
            Step::WriteSecurity | Step::WriteServer => {
                let values = if step == Step::WriteSecurity {
                    m.set_uri_path(&format!("/0/{}", self.config.security_instance));
                    security_values(&s.account, self.config.security_instance)
                } else {
                    m.set_uri_path(&format!("/1/{}", self.config.server_instance));
                    server_values(&s.account, self.config.server_instance)
                };
                m.push_uint(OptionNumber::CONTENT_FORMAT, u32::from(s.format));
                m.payload = encode_values(s.format, &values).to_vec();
            }
            Step::Finish => {
                m.code = Code::POST;
                m.set_uri_path("/bs");
            }
        }
        out.transmits.push(crate::server::Transmit { peer: s.peer, datagram: m.encode() });
        s.current = Some(InFlight {
            step,
            message: m,
            acked: false,
            attempts: 0,
            next_at: now + ACK_TIMEOUT,
            give_up_at: now + self.config.response_timeout,
        });
    }

    fn fail(&mut self, endpoint: &str, reason: String, out: &mut BsOutput) {
        if let Some(s) = self.sessions.remove(endpoint) {
            let step = s.current.map(|f| step_name(f.step, &self.config)).unwrap_or_default();
            out.events.push(BsEvent::Failed { endpoint: endpoint.to_string(), peer: s.peer, step, reason });
        }
    }

    fn on_response(&mut self, now: Instant, peer: SocketAddr, msg: Message, out: &mut BsOutput) {
        if msg.mtype == MessageType::Con {
            out.transmits.push(self.tx(peer, Message::empty_ack(msg.message_id)));
        }
        let Some(endpoint) = self.session_of(peer, |f| f.message.token == msg.token) else {
            if msg.mtype == MessageType::Con {
                out.transmits.pop();
                out.transmits.push(self.tx(peer, Message::reset(msg.message_id)));
            }
            return;
        };
        if msg.code.is_success() {
            self.next_step(now, &endpoint, out);
        } else {
            let detail = String::from_utf8_lossy(&msg.payload).chars().take(200).collect::<String>();
            let reason = if detail.is_empty() {
                format!("the device answered {}", msg.code)
            } else {
                format!("the device answered {}: {detail}", msg.code)
            };
            self.fail(&endpoint, reason, out);
        }
    }

    /// Retransmits unacknowledged requests and aborts bootstraps whose device stopped answering.
    pub fn tick(&mut self, now: Instant) -> BsOutput {
        let mut out = BsOutput::default();
        let mut failed = Vec::new();
        for (ep, s) in self.sessions.iter_mut() {
            let Some(f) = s.current.as_mut() else { continue };
            if (f.acked && now >= f.give_up_at) || (!f.acked && now >= f.next_at && f.attempts >= MAX_RETRANSMIT) {
                failed.push(ep.clone());
            } else if !f.acked && now >= f.next_at {
                f.attempts += 1;
                f.next_at = now + ACK_TIMEOUT * (1 << f.attempts);
                out.transmits.push(crate::server::Transmit { peer: s.peer, datagram: f.message.encode() });
            }
        }
        for ep in failed {
            self.fail(&ep, "the device did not answer in time".into(), &mut out);
        }
        out
    }
}

fn identity_is_secure(mode: SecurityMode) -> bool {
    mode == SecurityMode::Psk
}
