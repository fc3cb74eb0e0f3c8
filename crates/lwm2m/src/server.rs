//! The LwM2M server state machine, free of I/O: [`Server::handle`] takes one datagram (with the peer
//! and its DTLS identity, if any) and returns what to send and what happened; [`Server::request`]
//! starts a device-management operation; [`Server::tick`] expires registrations and retransmits or
//! times out confirmable requests.
//!
//! Malformed datagrams: a confirmable one is answered with a Reset (RFC 7252 §4.2), anything else is
//! dropped. Requests with an unknown critical option or a bad option value get 4.02; block-wise
//! uploads out of order or cut get 4.08, oversized ones 4.13. None of them changes the registry.
//!
//! Firmware downloads (LwM2M object 5, pull mode): [`Server::offer_download`] makes an image
//! available at `/fw/{token}` to one registered device only — the same DTLS identity when it
//! registered over DTLS, else (lab, plain CoAP) the same IP address — and serves it with Block2
//! (RFC 7959, the block size the device asks for, at most 1024 bytes); [`Server::download`] tells
//! how far the device got, so a transfer cut off is told from a complete one.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use coap::block::{Block, BlockAssembler, BlockError, Progress};
use coap::dedup::{Dedup, Seen, EXCHANGE_LIFETIME};
use coap::metrics::{Refusal, Transport};
use coap::option::check_request_options;
use coap::ratelimit::SourceBuckets;
use coap::{Code, Message, MessageType, OptionNumber};

use crate::content;
use crate::link::{self, ObjectLink};
use crate::path::Path;
use crate::registration::{self, ParamError};
use crate::registry::{Device, Registry};

/// ACK_TIMEOUT (RFC 7252 §4.8): the first retransmission of a CON request after 2 s, then doubling.
pub const ACK_TIMEOUT: Duration = Duration::from_secs(2);
/// MAX_RETRANSMIT (RFC 7252 §4.8).
pub const MAX_RETRANSMIT: u8 = 4;
/// How long an unfinished block-wise upload is kept.
const UPLOAD_TTL: Duration = Duration::from_secs(60);
/// Source addresses the plain-CoAP registration limit tracks at once.
const UNSECURED_SOURCES: usize = 10_000;
/// Most concurrent block-wise uploads.
const MAX_UPLOADS: usize = 1024;
/// Most firmware downloads offered at once.
pub const MAX_DOWNLOADS: usize = 65_536;

/// A firmware image offered to one device at `/fw/{token}`.
struct Offer {
    endpoint: Box<str>,
    image: Arc<[u8]>,
    progress: DownloadProgress,
}

/// How far a device got with an offered image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DownloadProgress {
    /// The image's size.
    pub total: u64,
    /// Bytes served in order from the start (a block re-asked is not counted twice; one that
    /// skips ahead does not move this).
    pub served: u64,
    /// Blocks served (requests answered with image bytes).
    pub blocks: u64,
    /// Requests refused (wrong requester, a block past the end).
    pub refused: u64,
}

impl DownloadProgress {
    /// Every byte was served.
    pub fn complete(&self) -> bool {
        self.total > 0 && self.served >= self.total
    }
}

/// The server's settings.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Accept registrations over plain CoAP (no DTLS identity): a lab setting; such devices are
    /// marked unsecured. Off: they get 4.03.
    pub allow_unsecured: bool,
    /// Most devices registered at once (5.03 past it).
    pub max_devices: usize,
    /// Largest request body (a registration's link list), whole or reassembled from blocks.
    pub max_body: usize,
    /// Largest response body reassembled from Block2.
    pub max_response: usize,
    /// Longest lifetime accepted, seconds.
    pub max_lifetime: u32,
    /// How long a device has to answer an acknowledged request (separate response).
    pub response_timeout: Duration,
    /// Plain-CoAP (unsecured) registrations a second per source IP address (0: no limit); beyond,
    /// 5.03 with Max-Age, the seconds until the source may try again. DTLS registrations are
    /// limited by the DTLS listener's handshakes instead.
    pub unsecured_registrations_per_source_per_sec: u32,
    /// Plain-CoAP registrations a source may send at once before that rate applies.
    pub unsecured_registration_burst_per_source: u32,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            allow_unsecured: false,
            max_devices: 1_000_000,
            max_body: 16 * 1024,
            max_response: 256 * 1024,
            max_lifetime: 30 * 86_400,
            response_timeout: Duration::from_secs(60),
            unsecured_registrations_per_source_per_sec: 2,
            unsecured_registration_burst_per_source: 10,
        }
    }
}

/// The id of a device-management request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RequestId(pub u64);

/// A device-management operation (LwM2M Core §6.3, §6.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operation {
    /// Read: GET, with an Accept content format if given.
    Read {
        /// What.
        path: Path,
        /// Preferred format.
        accept: Option<u16>,
    },
    /// Discover: GET with Accept application/link-format.
    Discover {
        /// What.
        path: Path,
    },
    /// Write: PUT (replace) or POST (partial update).
    Write {
        /// What.
        path: Path,
        /// Content format of `payload`.
        format: u16,
        /// The encoded value(s).
        payload: Vec<u8>,
        /// PUT (true) or POST.
        replace: bool,
    },
    /// One block of a Write sent block-wise (RFC 7959 §2.3, Block1): the caller sends the blocks
    /// one after the other (see `coap::block1::Block1Sender`), each its own request.
    WriteBlock {
        /// What.
        path: Path,
        /// Content format of the whole body.
        format: u16,
        /// The Block1 option value.
        block: Block,
        /// Size1 (RFC 7959 §4): the whole body's size, sent with the first block.
        size1: Option<u32>,
        /// This block's bytes.
        payload: Vec<u8>,
        /// PUT (true) or POST.
        replace: bool,
    },
    /// Execute: POST to a resource, with optional arguments.
    Execute {
        /// The resource.
        path: Path,
        /// Arguments (`0='v'`), text.
        args: Option<String>,
    },
    /// Observe: GET with Observe 0.
    Observe {
        /// What.
        path: Path,
        /// Preferred format.
        accept: Option<u16>,
    },
    /// Cancel an observation of `path`: GET with Observe 1.
    CancelObserve {
        /// What was observed.
        path: Path,
    },
}

/// A device's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Code.
    pub code: Code,
    /// Content format.
    pub content_format: Option<u16>,
    /// Body (reassembled when sent block-wise).
    pub payload: Vec<u8>,
    /// The answer's Block1 option (to a block of a [`Operation::WriteBlock`]), or why it did not
    /// decode.
    pub block1: Option<Result<Block, String>>,
}

/// Why an operation did not get an answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpError {
    /// No device with that endpoint name is registered.
    #[error("no device {0:?} is registered")]
    UnknownDevice(String),
    /// No observation of that path.
    #[error("no observation of {0}")]
    NotObserved(String),
    /// The device did not answer in time.
    #[error("the device did not answer in time")]
    Timeout,
    /// The device answered with a Reset.
    #[error("the device reset the request")]
    Reset,
    /// The device's block-wise answer was out of order or too large.
    #[error("the device's block-wise answer was refused: {0}")]
    Blocks(String),
    /// The device went away (de-registered or expired) before answering.
    #[error("the device de-registered")]
    Gone,
}

/// What happened.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A device registered.
    Registered {
        /// Endpoint name.
        endpoint: String,
        /// From.
        peer: SocketAddr,
        /// Over plain CoAP.
        unsecured: bool,
        /// Lifetime, s.
        lifetime: u32,
        /// Objects it has.
        objects: Vec<ObjectLink>,
        /// It was registered already (that registration is replaced).
        replaced: bool,
    },
    /// A device updated its registration.
    Updated {
        /// Endpoint name.
        endpoint: String,
        /// From.
        peer: SocketAddr,
    },
    /// A device de-registered.
    Deregistered {
        /// Endpoint name.
        endpoint: String,
    },
    /// A device's lifetime ran out.
    Expired {
        /// Endpoint name.
        endpoint: String,
    },
    /// A registration-interface request was refused.
    Refused {
        /// From.
        peer: SocketAddr,
        /// The endpoint name, when known.
        endpoint: Option<String>,
        /// The answer.
        code: Code,
        /// Why.
        reason: String,
    },
    /// A datagram that is not CoAP (answered with a Reset when confirmable).
    Malformed {
        /// From.
        peer: SocketAddr,
        /// Why.
        reason: String,
    },
    /// The outcome of a [`Server::request`].
    Response {
        /// The request.
        id: RequestId,
        /// Device.
        endpoint: String,
        /// Answer or failure.
        result: Result<Response, OpError>,
    },
    /// A notification of an observed path (RFC 7641).
    Notification {
        /// Device.
        endpoint: String,
        /// Observed path.
        path: Path,
        /// Observe sequence number.
        sequence: u32,
        /// The value.
        response: Response,
    },
}

/// A datagram to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// To.
    pub peer: SocketAddr,
    /// Bytes.
    pub datagram: Vec<u8>,
}

/// What to send and what happened.
#[derive(Debug, Default)]
pub struct Output {
    /// Datagrams to send.
    pub transmits: Vec<Transmit>,
    /// Events, in order.
    pub events: Vec<Event>,
}

struct Pending {
    id: RequestId,
    endpoint: Box<str>,
    peer: SocketAddr,
    message: Message,
    acked: bool,
    attempts: u8,
    next_at: Instant,
    give_up_at: Instant,
    path: Path,
    observe: bool,
    blocks: Option<BlockAssembler>,
}

struct Observation {
    endpoint: Box<str>,
    path: Path,
    last: Option<(u32, Instant)>,
}

/// The server.
pub struct Server {
    config: ServerConfig,
    unsecured_rate: SourceBuckets,
    epoch: Instant,
    registry: Registry,
    dedup: Dedup<SocketAddr>,
    pending: HashMap<Vec<u8>, Pending>,
    by_mid: HashMap<(SocketAddr, u16), Vec<u8>>,
    observations: HashMap<Vec<u8>, Observation>,
    uploads: HashMap<(SocketAddr, String), (Instant, BlockAssembler)>,
    downloads: HashMap<String, Offer>,
    next_mid: u16,
    next_token: u64,
    next_id: u64,
    /// Why the request being routed is refused, when the code alone does not tell
    /// ([`coap::metrics::Refusal`]); taken when the refusal is answered.
    refusal: Option<Refusal>,
}

/// The refusal reason a response code stands for when the site refusing did not say more.
fn refusal_of(code: Code) -> Refusal {
    match code {
        Code::REQUEST_ENTITY_TOO_LARGE => Refusal::Oversized,
        Code::SERVICE_UNAVAILABLE => Refusal::Busy,
        _ => Refusal::BadRequest,
    }
}

/// Counts what `out` says happened (`warden_devices_*`, [`coap::metrics`]); refusals are counted
/// where they are answered.
fn count_events(out: &Output) -> bool {
    let mut changed = false;
    for e in &out.events {
        match e {
            Event::Registered { unsecured, .. } => {
                coap::metrics::registered(if *unsecured { Transport::Coap } else { Transport::Coaps });
                changed = true;
            }
            Event::Updated { .. } => coap::metrics::updated(),
            Event::Deregistered { .. } => {
                coap::metrics::deregistered();
                changed = true;
            }
            Event::Expired { .. } => {
                coap::metrics::expired();
                changed = true;
            }
            Event::Malformed { .. } => coap::metrics::refused(Refusal::Malformed),
            _ => {}
        }
    }
    changed
}

/// A refusal: the code, the endpoint name when known, and why.
type RdRefusal = (Code, Option<String>, String);

/// A registration-interface request as routed: when, from whom, its query items and its body.
#[derive(Clone, Copy)]
struct RdRequest<'a> {
    now: Instant,
    peer: SocketAddr,
    identity: Option<&'a str>,
    queries: &'a [&'a str],
    body: &'a [u8],
}

/// Parses the query items; an unsupported version is 4.12, anything else wrong 4.00.
fn parse_params(
    queries: &[&str],
    register: bool,
    max_lifetime: u32,
    endpoint: Option<String>,
) -> Result<registration::Params, RdRefusal> {
    registration::parse(queries, register, max_lifetime).map_err(|e| {
        let code = if matches!(e, ParamError::Version(_)) { Code::PRECONDITION_FAILED } else { Code::BAD_REQUEST };
        (code, endpoint, e.to_string())
    })
}

/// A binding as at most 4 bytes, zero-padded.
fn binding_bytes(b: &str) -> [u8; 4] {
    let mut out = [0u8; 4];
    let n = b.len().min(4);
    out[..n].copy_from_slice(&b.as_bytes()[..n]);
    out
}

/// Critical options the server acts on in requests.
const UNDERSTOOD: &[OptionNumber] = &[
    OptionNumber::URI_HOST,
    OptionNumber::URI_PORT,
    OptionNumber::URI_PATH,
    OptionNumber::URI_QUERY,
    OptionNumber::ACCEPT,
    OptionNumber::BLOCK1,
    OptionNumber::BLOCK2,
];

pub(crate) fn random_u64() -> u64 {
    let mut b = [0u8; 8];
    if getrandom::fill(&mut b).is_err() {
        // No entropy source: fall back to the clock (locations stay unique, only less unguessable).
        let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        return t.as_nanos() as u64 ^ 0x9e37_79b9_7f4a_7c15;
    }
    u64::from_be_bytes(b)
}

impl Server {
    /// A server with an empty registry; `now` is its epoch.
    pub fn new(config: ServerConfig, now: Instant) -> Server {
        let seed = random_u64();
        Server {
            registry: Registry::with_capacity(config.max_devices.min(1 << 17)),
            unsecured_rate: SourceBuckets::new(
                config.unsecured_registrations_per_source_per_sec,
                config.unsecured_registration_burst_per_source,
                UNSECURED_SOURCES,
            ),
            config,
            epoch: now,
            dedup: Dedup::new(EXCHANGE_LIFETIME, 262_144),
            pending: HashMap::new(),
            by_mid: HashMap::new(),
            observations: HashMap::new(),
            uploads: HashMap::new(),
            downloads: HashMap::new(),
            next_mid: seed as u16,
            next_token: seed,
            next_id: 1,
            refusal: None,
        }
    }

    /// The settings.
    pub fn config(&self) -> &ServerConfig {
        &self.config
    }

    /// The registry.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The registry, to record what was learned of a device.
    pub fn registry_mut(&mut self) -> &mut Registry {
        &mut self.registry
    }

    /// Seconds since the epoch at `now`.
    fn secs(&self, now: Instant) -> u32 {
        u32::try_from(now.saturating_duration_since(self.epoch).as_secs()).unwrap_or(u32::MAX)
    }

    /// The instant of `secs` since the epoch.
    pub fn instant_of(&self, secs: u32) -> Instant {
        self.epoch + Duration::from_secs(u64::from(secs))
    }

    /// Observations in place.
    pub fn observations(&self) -> impl Iterator<Item = (&str, Path)> {
        self.observations.values().map(|o| (&*o.endpoint, o.path))
    }

    /// Requests waiting for an answer.
    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }

    fn mid(&mut self) -> u16 {
        self.next_mid = self.next_mid.wrapping_add(1);
        self.next_mid
    }

    /// Handles one datagram from `peer`; `identity` is its DTLS identity (`None` on plain CoAP).
    pub fn handle(&mut self, now: Instant, peer: SocketAddr, identity: Option<&str>, datagram: &[u8]) -> Output {
        let out = self.handle_datagram(now, peer, identity, datagram);
        if count_events(&out) {
            coap::metrics::registered_now(self.registry.len());
        }
        out
    }

    fn handle_datagram(&mut self, now: Instant, peer: SocketAddr, identity: Option<&str>, datagram: &[u8]) -> Output {
        let mut out = Output::default();
        let msg = match Message::decode(datagram) {
            Ok(m) => m,
            Err(e) => {
                if let Some(h) = e.header {
                    if h.mtype == MessageType::Con {
                        out.transmits.push(Transmit { peer, datagram: Message::reset(h.message_id).encode() });
                    }
                }
                out.events.push(Event::Malformed { peer, reason: e.to_string() });
                return out;
            }
        };
        match (msg.mtype, msg.code) {
            (MessageType::Con, Code::EMPTY) => {
                // CoAP ping.
                out.transmits.push(Transmit { peer, datagram: Message::reset(msg.message_id).encode() });
            }
            (MessageType::Ack, Code::EMPTY) => {
                if let Some(token) = self.by_mid.remove(&(peer, msg.message_id)) {
                    if let Some(p) = self.pending.get_mut(&token) {
                        p.acked = true;
                        p.give_up_at = now + self.config.response_timeout;
                    }
                }
            }
            (MessageType::Rst, _) => {
                if let Some(token) = self.by_mid.remove(&(peer, msg.message_id)) {
                    if let Some(p) = self.pending.remove(&token) {
                        out.events.push(Event::Response {
                            id: p.id,
                            endpoint: p.endpoint.into(),
                            result: Err(OpError::Reset),
                        });
                    }
                }
            }
            (MessageType::Con | MessageType::Non, c) if c.is_request() => {
                self.on_request(now, peer, identity, msg, &mut out)
            }
            (_, c) if c.is_response() => self.on_response(now, peer, msg, &mut out),
            (MessageType::Con, _) => {
                out.transmits.push(Transmit { peer, datagram: Message::reset(msg.message_id).encode() });
            }
            _ => {}
        }
        out
    }

    fn on_request(&mut self, now: Instant, peer: SocketAddr, identity: Option<&str>, msg: Message, out: &mut Output) {
        let con = msg.mtype == MessageType::Con;
        if con {
            match self.dedup.check(now, &peer, msg.message_id) {
                Seen::New => {}
                Seen::Again(answer) => {
                    if let Some(a) = answer {
                        out.transmits.push(Transmit { peer, datagram: a.to_vec() });
                    }
                    return;
                }
            }
        }
        let mid = self.mid();
        let mut resp = Message::response_to(&msg, Code::BAD_REQUEST, mid);
        self.refusal = None;
        let (code, endpoint, reason) = match self.route(now, peer, identity, &msg, &mut resp, out) {
            Ok(code) => (code, None, None),
            Err((code, endpoint, reason)) => {
                coap::metrics::refused(self.refusal.take().unwrap_or_else(|| refusal_of(code)));
                (code, endpoint, Some(reason))
            }
        };
        resp.code = code;
        if let Some(reason) = reason {
            if !code.is_success() {
                resp.options
                    .retain(|o| [OptionNumber::SIZE1, OptionNumber::BLOCK1, OptionNumber::MAX_AGE].contains(&o.number));
                resp.payload = reason.clone().into_bytes();
                resp.options.push(coap::CoapOption {
                    number: OptionNumber::CONTENT_FORMAT,
                    value: coap::option::encode_uint(u32::from(content::TEXT)),
                });
            }
            out.events.push(Event::Refused { peer, endpoint, code, reason });
        }
        let bytes = resp.encode();
        if con {
            self.dedup.answered(&peer, msg.message_id, &bytes);
        }
        out.transmits.push(Transmit { peer, datagram: bytes });
    }

    /// Routes a request; `Ok(code)` with `resp` filled, or the refusal.
    fn route(
        &mut self,
        now: Instant,
        peer: SocketAddr,
        identity: Option<&str>,
        msg: &Message,
        resp: &mut Message,
        out: &mut Output,
    ) -> Result<Code, RdRefusal> {
        let refuse = |code, reason: String| (code, None, reason);
        check_request_options(&msg.options, UNDERSTOOD).map_err(|e| refuse(Code::BAD_OPTION, e.to_string()))?;
        let segments =
            msg.uri_path_segments().ok_or_else(|| refuse(Code::BAD_REQUEST, "Uri-Path is not UTF-8".into()))?;
        let queries = msg.uri_queries().ok_or_else(|| refuse(Code::BAD_REQUEST, "Uri-Query is not UTF-8".into()))?;
        if segments.first() == Some(&"fw") && segments.len() == 2 {
            return self.serve_download(peer, identity, msg, segments[1], resp);
        }
        if segments.first() != Some(&"rd") || segments.len() > 2 {
            return Err(refuse(Code::NOT_FOUND, format!("no resource {}", msg.uri_path().unwrap_or_default())));
        }
        let body = self.body(now, peer, msg, resp)?;
        let Some(body) = body else { return Ok(Code::CONTINUE) };
        let req = RdRequest { now, peer, identity, queries: &queries, body: &body };
        match (segments.len(), msg.code) {
            (1, Code::POST) => self.register(&req, msg, resp, out),
            (2, Code::POST) => self.update(&req, segments[1], out).map(|()| Code::CHANGED),
            (2, Code::DELETE) => self.deregister(identity, segments[1], out).map(|()| Code::DELETED),
            _ => Err(refuse(Code::METHOD_NOT_ALLOWED, format!("{} not allowed here", msg.code))),
        }
    }

    /// Offers `image` to the registered device `endpoint` at `/fw/{token}` (replacing an offer under
    /// the same token). `false` when the device is not registered or too many offers are open.
    pub fn offer_download(&mut self, token: &str, endpoint: &str, image: Arc<[u8]>) -> bool {
        if self.registry.get(endpoint).is_none()
            || (self.downloads.len() >= MAX_DOWNLOADS && !self.downloads.contains_key(token))
        {
            return false;
        }
        let progress = DownloadProgress { total: image.len() as u64, ..DownloadProgress::default() };
        self.downloads.insert(token.to_string(), Offer { endpoint: endpoint.into(), image, progress });
        true
    }

    /// How far the device got with the offer `token`.
    pub fn download(&self, token: &str) -> Option<DownloadProgress> {
        self.downloads.get(token).map(|o| o.progress)
    }

    /// Withdraws the offer `token`; its last progress.
    pub fn withdraw_download(&mut self, token: &str) -> Option<DownloadProgress> {
        self.downloads.remove(token).map(|o| o.progress)
    }

    /// `GET /fw/{token}`: one Block2 block of an offered image, to the device it was offered to.
    fn serve_download(
        &mut self,
        peer: SocketAddr,
        identity: Option<&str>,
        msg: &Message,
        token: &str,
        resp: &mut Message,
    ) -> Result<Code, RdRefusal> {
        let refuse = |code, reason: String| (code, None, reason);
        let Some(offer) = self.downloads.get_mut(token) else {
            return Err(refuse(Code::NOT_FOUND, "no such firmware package".into()));
        };
        let endpoint = offer.endpoint.to_string();
        let allowed = match self.registry.get(&endpoint) {
            Some(d) => match (&d.identity, identity) {
                (Some(want), Some(got)) => **want == *got,
                (None, None) => d.peer.ip() == peer.ip(),
                _ => false,
            },
            None => false,
        };
        if !allowed {
            offer.progress.refused += 1;
            return Err((Code::FORBIDDEN, Some(endpoint), "this package was offered to another device".into()));
        }
        if msg.code != Code::GET {
            return Err(refuse(Code::METHOD_NOT_ALLOWED, format!("{} not allowed here", msg.code)));
        }
        let asked = match msg.option(OptionNumber::BLOCK2) {
            Some(o) => Block::decode(&o.value).map_err(|e| refuse(Code::BAD_OPTION, e.to_string()))?,
            None => Block { num: 0, more: false, szx: 6 },
        };
        let Some((bytes, block)) = Block::slice(&offer.image, asked.num, asked.szx.min(6)) else {
            offer.progress.refused += 1;
            return Err(refuse(Code::BAD_OPTION, format!("block {} starts past the package's end", asked.num)));
        };
        let start = block.offset();
        let end = start + bytes.len() as u64;
        if start <= offer.progress.served {
            offer.progress.served = offer.progress.served.max(end);
        }
        offer.progress.blocks += 1;
        resp.push_uint(OptionNumber::CONTENT_FORMAT, u32::from(content::OPAQUE));
        if block.more || block.num > 0 || msg.option(OptionNumber::BLOCK2).is_some() {
            resp.push_option(OptionNumber::BLOCK2, block.encode());
        }
        if block.num == 0 {
            resp.push_uint(OptionNumber::SIZE2, u32::try_from(offer.image.len()).unwrap_or(u32::MAX));
        }
        resp.payload = bytes.to_vec();
        Ok(Code::CONTENT)
    }

    /// The request body, reassembled from Block1 blocks: `Ok(None)` while more are expected (the
    /// answer 2.31 carries the Block1 echo).
    fn body(
        &mut self,
        now: Instant,
        peer: SocketAddr,
        msg: &Message,
        resp: &mut Message,
    ) -> Result<Option<Vec<u8>>, RdRefusal> {
        let refuse = |code, reason: String| (code, None, reason);
        let max = self.config.max_body;
        let Some(b1) = msg.option(OptionNumber::BLOCK1) else {
            if msg.payload.len() > max {
                resp.push_uint(OptionNumber::SIZE1, max as u32);
                return Err(refuse(
                    Code::REQUEST_ENTITY_TOO_LARGE,
                    format!("body of {} bytes, at most {max}", msg.payload.len()),
                ));
            }
            return Ok(Some(msg.payload.clone()));
        };
        let block = Block::decode(&b1.value).map_err(|e| refuse(Code::BAD_OPTION, e.to_string()))?;
        let key = (
            peer,
            format!("{}?{}", msg.uri_path().unwrap_or_default(), msg.uri_queries().unwrap_or_default().join("&")),
        );
        self.uploads.retain(|_, (at, _)| now.saturating_duration_since(*at) < UPLOAD_TTL);
        if block.num == 0 {
            if self.uploads.len() >= MAX_UPLOADS && !self.uploads.contains_key(&key) {
                return Err(refuse(Code::SERVICE_UNAVAILABLE, "too many block-wise uploads in progress".into()));
            }
            self.uploads.insert(key.clone(), (now, BlockAssembler::new(max)));
        }
        let Some((at, assembler)) = self.uploads.get_mut(&key) else {
            return Err(refuse(
                Code::REQUEST_ENTITY_INCOMPLETE,
                format!("block {} of a transfer whose block 0 was not received", block.num),
            ));
        };
        *at = now;
        match assembler.push(block, &msg.payload) {
            Ok(Progress::Continue) => {
                resp.push_option(OptionNumber::BLOCK1, Block { more: true, ..block }.encode());
                Ok(None)
            }
            Ok(Progress::Complete(body)) => {
                self.uploads.remove(&key);
                resp.push_option(OptionNumber::BLOCK1, block.encode());
                Ok(Some(body))
            }
            Err(e) => {
                self.uploads.remove(&key);
                let code = match e {
                    BlockError::OutOfOrder { .. } => Code::REQUEST_ENTITY_INCOMPLETE,
                    BlockError::TooLarge(_) => {
                        resp.push_uint(OptionNumber::SIZE1, max as u32);
                        Code::REQUEST_ENTITY_TOO_LARGE
                    }
                    _ => Code::BAD_REQUEST,
                };
                Err(refuse(code, e.to_string()))
            }
        }
    }

    fn register(
        &mut self,
        req: &RdRequest<'_>,
        msg: &Message,
        resp: &mut Message,
        out: &mut Output,
    ) -> Result<Code, RdRefusal> {
        let RdRequest { now, peer, identity, queries, body } = *req;
        let params = parse_params(queries, true, self.config.max_lifetime, None)?;
        let endpoint = params.endpoint.clone().unwrap_or_default();
        let refuse = |code, reason: String| (code, Some(endpoint.clone()), reason);
        match identity {
            Some(id) if id != endpoint => {
                self.refusal = Some(Refusal::EndpointMismatch);
                return Err(refuse(
                    Code::FORBIDDEN,
                    format!("endpoint name {endpoint:?} does not match the DTLS identity {id:?}"),
                ));
            }
            None if !self.config.allow_unsecured => {
                self.refusal = Some(Refusal::Unauthenticated);
                return Err(refuse(
                    Code::FORBIDDEN,
                    "registration without DTLS is not allowed (allow_unsecured is off)".into(),
                ));
            }
            None => {
                if let Err(wait) = self.unsecured_rate.check(peer.ip(), now) {
                    self.refusal = Some(Refusal::RateLimited);
                    let secs = wait.as_secs_f64().ceil().max(1.0) as u32;
                    resp.options.push(coap::CoapOption {
                        number: OptionNumber::MAX_AGE,
                        value: coap::option::encode_uint(secs),
                    });
                    return Err(refuse(
                        Code::SERVICE_UNAVAILABLE,
                        format!("too many registrations from {}: retry in {secs} s", peer.ip()),
                    ));
                }
            }
            _ => {}
        }
        if let Some(cf) = msg.content_format() {
            if cf != content::LINK_FORMAT {
                return Err(refuse(
                    Code::UNSUPPORTED_CONTENT_FORMAT,
                    format!("content format {cf}, expected 40 (link-format)"),
                ));
            }
        }
        let objects = link::parse_objects(body).map_err(|e| refuse(Code::BAD_REQUEST, e.to_string()))?;
        let replacing = self.registry.get(&endpoint).is_some();
        if !replacing && self.registry.len() >= self.config.max_devices {
            return Err(refuse(
                Code::SERVICE_UNAVAILABLE,
                format!("registry full ({} devices)", self.config.max_devices),
            ));
        }
        let mut location = random_u64();
        while self.registry.by_location(location).is_some() {
            location = random_u64();
        }
        let binding = binding_bytes(params.binding.as_deref().unwrap_or("U"));
        let version = params.version.as_deref().unwrap_or("1.0");
        let at = self.secs(now);
        let lifetime = params.lifetime.unwrap_or(registration::DEFAULT_LIFETIME);
        let device = Device {
            endpoint: endpoint.clone().into_boxed_str(),
            location,
            peer,
            identity: identity.map(Into::into),
            lifetime,
            registered_at: at,
            updated_at: at,
            version: registration::VERSIONS.iter().position(|v| *v == version).unwrap_or(0) as u8,
            binding,
            queue_mode: params.queue_mode,
            objects: objects.clone().into_boxed_slice(),
            profile: None,
        };
        let old = self.registry.insert(device);
        if let Some(old) = &old {
            self.forget_device(&old.endpoint, out);
        }
        resp.push_option(OptionNumber::LOCATION_PATH, *b"rd");
        resp.push_option(OptionNumber::LOCATION_PATH, format!("{location:016x}").into_bytes());
        out.events.push(Event::Registered {
            endpoint,
            peer,
            unsecured: identity.is_none(),
            lifetime,
            objects,
            replaced: old.is_some(),
        });
        Ok(Code::CREATED)
    }

    fn located(&mut self, identity: Option<&str>, loc: &str) -> Result<u64, RdRefusal> {
        let location = (loc.len() == 16)
            .then(|| u64::from_str_radix(loc, 16).ok())
            .flatten()
            .filter(|l| self.registry.by_location(*l).is_some())
            .ok_or_else(|| {
                (Code::NOT_FOUND, None, format!("no registration /rd/{}", loc.chars().take(20).collect::<String>()))
            })?;
        let d = self.registry.by_location(location).ok_or((Code::NOT_FOUND, None, String::new()))?;
        if d.identity.as_deref() != identity {
            let endpoint = d.endpoint.to_string();
            self.refusal = Some(Refusal::WrongIdentity);
            return Err((Code::FORBIDDEN, Some(endpoint), "the registration belongs to another identity".into()));
        }
        Ok(location)
    }

    fn update(&mut self, req: &RdRequest<'_>, loc: &str, out: &mut Output) -> Result<(), RdRefusal> {
        let RdRequest { now, peer, identity, queries, body } = *req;
        let location = self.located(identity, loc)?;
        let endpoint = self.registry.by_location(location).map(|d| d.endpoint.to_string());
        let params = parse_params(queries, false, self.config.max_lifetime, endpoint.clone())?;
        let objects = if body.is_empty() {
            None
        } else {
            Some(link::parse_objects(body).map_err(|e| (Code::BAD_REQUEST, endpoint.clone(), e.to_string()))?)
        };
        let at = self.secs(now);
        let endpoint = self
            .registry
            .update(location, |d| {
                d.peer = peer;
                d.updated_at = at;
                if let Some(lt) = params.lifetime {
                    d.lifetime = lt;
                }
                if let Some(b) = &params.binding {
                    d.binding = binding_bytes(b);
                    d.queue_mode = params.queue_mode;
                }
                if let Some(o) = objects {
                    d.objects = o.into_boxed_slice();
                }
                d.endpoint.to_string()
            })
            .unwrap_or_default();
        out.events.push(Event::Updated { endpoint, peer });
        Ok(())
    }

    fn deregister(&mut self, identity: Option<&str>, loc: &str, out: &mut Output) -> Result<(), RdRefusal> {
        let location = self.located(identity, loc)?;
        let endpoint = self.registry.by_location(location).map(|d| d.endpoint.to_string()).unwrap_or_default();
        if let Some(d) = self.registry.remove(&endpoint) {
            self.forget_device(&d.endpoint, out);
        }
        out.events.push(Event::Deregistered { endpoint });
        Ok(())
    }

    /// Drops a device's observations and fails its pending requests.
    fn forget_device(&mut self, endpoint: &str, out: &mut Output) {
        self.observations.retain(|_, o| &*o.endpoint != endpoint);
        let gone: Vec<Vec<u8>> =
            self.pending.iter().filter(|(_, p)| &*p.endpoint == endpoint).map(|(t, _)| t.clone()).collect();
        for t in gone {
            if let Some(p) = self.pending.remove(&t) {
                self.by_mid.remove(&(p.peer, p.message.message_id));
                out.events.push(Event::Response {
                    id: p.id,
                    endpoint: endpoint.to_string(),
                    result: Err(OpError::Gone),
                });
            }
        }
    }

    fn on_response(&mut self, now: Instant, peer: SocketAddr, msg: Message, out: &mut Output) {
        if msg.mtype == MessageType::Con {
            out.transmits.push(Transmit { peer, datagram: Message::empty_ack(msg.message_id).encode() });
        }
        if let Some(mut p) = self.pending.remove(&msg.token) {
            self.by_mid.remove(&(p.peer, p.message.message_id));
            let observe_seq = msg.uint(OptionNumber::OBSERVE);
            let block2 = msg.option(OptionNumber::BLOCK2).map(|o| Block::decode(&o.value));
            let mut payload = msg.payload.clone();
            if let Some(b2) = block2 {
                let max = self.config.max_response;
                let pushed = b2.map_err(|e| e.to_string()).and_then(|b| {
                    let assembler = p.blocks.get_or_insert_with(|| BlockAssembler::new(max));
                    assembler.push(b, &msg.payload).map(|progress| (b, progress)).map_err(|e| e.to_string())
                });
                match pushed {
                    Ok((b2, Progress::Continue)) => {
                        // Ask for the next block with the same token.
                        let mid = self.mid();
                        let mut next = p.message.clone();
                        next.message_id = mid;
                        next.set_option(
                            OptionNumber::BLOCK2,
                            Block { num: b2.num + 1, more: false, szx: b2.szx }.encode(),
                        );
                        next.options.retain(|o| o.number != OptionNumber::OBSERVE);
                        p.message = next;
                        p.acked = false;
                        p.attempts = 0;
                        p.next_at = now + ACK_TIMEOUT;
                        p.give_up_at = now + self.config.response_timeout;
                        out.transmits.push(Transmit { peer: p.peer, datagram: p.message.encode() });
                        self.by_mid.insert((p.peer, mid), msg.token.clone());
                        self.pending.insert(msg.token, p);
                        return;
                    }
                    Ok((_, Progress::Complete(body))) => payload = body,
                    Err(reason) => {
                        out.events.push(Event::Response {
                            id: p.id,
                            endpoint: p.endpoint.into(),
                            result: Err(OpError::Blocks(reason)),
                        });
                        return;
                    }
                }
            }
            let block1 = msg.option(OptionNumber::BLOCK1).map(|o| Block::decode(&o.value).map_err(|e| e.to_string()));
            let response = Response { code: msg.code, content_format: msg.content_format(), payload, block1 };
            if p.observe && msg.code.is_success() {
                if let Some(seq) = observe_seq {
                    self.observations.insert(
                        msg.token.clone(),
                        Observation { endpoint: p.endpoint.clone(), path: p.path, last: Some((seq, now)) },
                    );
                }
            }
            out.events.push(Event::Response { id: p.id, endpoint: p.endpoint.into(), result: Ok(response) });
            return;
        }
        if let Some(o) = self.observations.get_mut(&msg.token) {
            let seq = msg.uint(OptionNumber::OBSERVE).unwrap_or(0);
            if !msg.code.is_success() {
                // An error notification ends the observation (RFC 7641 §3.2).
                let o = self.observations.remove(&msg.token);
                if let Some(o) = o {
                    out.events.push(Event::Notification {
                        endpoint: o.endpoint.into(),
                        path: o.path,
                        sequence: seq,
                        response: Response {
                            code: msg.code,
                            content_format: msg.content_format(),
                            payload: msg.payload,
                            block1: None,
                        },
                    });
                }
                return;
            }
            let fresh = match o.last {
                Some((v, at)) => coap::observe::is_fresher(v, seq, now.saturating_duration_since(at)),
                None => true,
            };
            if fresh {
                o.last = Some((seq, now));
                out.events.push(Event::Notification {
                    endpoint: o.endpoint.to_string(),
                    path: o.path,
                    sequence: seq,
                    response: Response {
                        code: msg.code,
                        content_format: msg.content_format(),
                        payload: msg.payload,
                        block1: None,
                    },
                });
            }
            return;
        }
        // Nobody asked for this (an observation we no longer hold): reject it (RFC 7641 §3.6).
        if msg.mtype != MessageType::Ack {
            if msg.mtype == MessageType::Con {
                out.transmits.pop();
            }
            out.transmits.push(Transmit { peer, datagram: Message::reset(msg.message_id).encode() });
        }
    }

    /// Starts an operation on a registered device: the datagram to send, and the id its
    /// [`Event::Response`] will carry.
    pub fn request(&mut self, now: Instant, endpoint: &str, op: Operation) -> Result<(RequestId, Transmit), OpError> {
        let device =
            self.registry.get(endpoint).ok_or_else(|| OpError::UnknownDevice(endpoint.chars().take(128).collect()))?;
        let peer = device.peer;
        let mid = self.mid();
        let mut token = {
            self.next_token = self.next_token.wrapping_add(0x9e37_79b9_7f4a_7c15);
            self.next_token.to_be_bytes().to_vec()
        };
        let (code, path, observe) = match &op {
            Operation::Read { path, .. } | Operation::Discover { path } => (Code::GET, *path, false),
            Operation::Observe { path, .. } => (Code::GET, *path, true),
            Operation::CancelObserve { path } => (Code::GET, *path, false),
            Operation::Write { path, replace, .. } | Operation::WriteBlock { path, replace, .. } => {
                (if *replace { Code::PUT } else { Code::POST }, *path, false)
            }
            Operation::Execute { path, .. } => (Code::POST, *path, false),
        };
        let mut m = Message::new(MessageType::Con, code, mid, Vec::new());
        m.set_uri_path(&path.to_string());
        match op {
            Operation::Read { accept, .. } => {
                if let Some(a) = accept {
                    m.push_uint(OptionNumber::ACCEPT, u32::from(a));
                }
            }
            Operation::Discover { .. } => {
                m.push_uint(OptionNumber::ACCEPT, u32::from(content::LINK_FORMAT));
            }
            Operation::Observe { accept, .. } => {
                m.push_uint(OptionNumber::OBSERVE, coap::observe::REGISTER);
                if let Some(a) = accept {
                    m.push_uint(OptionNumber::ACCEPT, u32::from(a));
                }
            }
            Operation::CancelObserve { path } => {
                let found = self
                    .observations
                    .iter()
                    .find(|(_, o)| &*o.endpoint == endpoint && o.path == path)
                    .map(|(t, _)| t.clone());
                let t = found.ok_or_else(|| OpError::NotObserved(path.to_string()))?;
                self.observations.remove(&t);
                token = t;
                m.push_uint(OptionNumber::OBSERVE, coap::observe::DEREGISTER);
            }
            Operation::Write { format, payload, .. } => {
                m.push_uint(OptionNumber::CONTENT_FORMAT, u32::from(format));
                m.payload = payload;
            }
            Operation::WriteBlock { format, block, size1, payload, .. } => {
                m.push_uint(OptionNumber::CONTENT_FORMAT, u32::from(format));
                m.push_option(OptionNumber::BLOCK1, block.encode());
                if let Some(n) = size1 {
                    m.push_uint(OptionNumber::SIZE1, n);
                }
                m.payload = payload;
            }
            Operation::Execute { args, .. } => {
                if let Some(a) = args {
                    m.payload = a.into_bytes();
                }
            }
        }
        m.token = token.clone();
        let id = RequestId(self.next_id);
        self.next_id += 1;
        let datagram = m.encode();
        self.by_mid.insert((peer, mid), token.clone());
        self.pending.insert(
            token,
            Pending {
                id,
                endpoint: endpoint.into(),
                peer,
                message: m,
                acked: false,
                attempts: 0,
                next_at: now + ACK_TIMEOUT,
                give_up_at: now + self.config.response_timeout,
                path,
                observe,
                blocks: None,
            },
        );
        Ok((id, Transmit { peer, datagram }))
    }

    /// Expires registrations whose lifetime ended, retransmits unacknowledged requests and fails
    /// those that ran out of attempts or time.
    pub fn tick(&mut self, now: Instant) -> Output {
        let out = self.expire_and_retransmit(now);
        if count_events(&out) {
            coap::metrics::registered_now(self.registry.len());
        }
        out
    }

    fn expire_and_retransmit(&mut self, now: Instant) -> Output {
        let mut out = Output::default();
        let secs = u64::from(self.secs(now));
        for d in self.registry.expire(secs) {
            self.forget_device(&d.endpoint, &mut out);
            out.events.push(Event::Expired { endpoint: d.endpoint.into() });
        }
        let mut failed = Vec::new();
        for (token, p) in self.pending.iter_mut() {
            if (p.acked && now >= p.give_up_at) || (!p.acked && now >= p.next_at && p.attempts >= MAX_RETRANSMIT) {
                failed.push(token.clone());
            } else if !p.acked && now >= p.next_at {
                p.attempts += 1;
                p.next_at = now + ACK_TIMEOUT * (1 << p.attempts);
                out.transmits.push(Transmit { peer: p.peer, datagram: p.message.encode() });
            }
        }
        for t in failed {
            if let Some(p) = self.pending.remove(&t) {
                self.by_mid.remove(&(p.peer, p.message.message_id));
                out.events.push(Event::Response {
                    id: p.id,
                    endpoint: p.endpoint.into(),
                    result: Err(OpError::Timeout),
                });
            }
        }
        self.uploads.retain(|_, (at, _)| now.saturating_duration_since(*at) < UPLOAD_TTL);
        out
    }

    /// When [`Server::tick`] next has something to do (at the latest a second from now).
    pub fn next_tick(&self, now: Instant) -> Instant {
        let mut t = now + Duration::from_secs(1);
        if let Some(d) = self.registry.next_deadline() {
            t = t.min(self.epoch + Duration::from_secs(d));
        }
        t.max(now)
    }
}
