//! The tokio shell: partner connections in, upstream HSS connections out, bytes relayed between them.
//!
//! Every connection runs on the Diameter stack's driver step ([`Driver::step_relay`]), which frames the
//! byte stream: base-protocol frames (application id 0: CER/CEA, DWR/DWA, DPR/DPA) and everything
//! before the capabilities exchange finishes go to the sans-IO [`Peer`], which answers them;
//! application frames come here. Application requests from a partner go to
//! [`Engine::screen`]; what passes is sent to an upstream connection with a new hop-by-hop identifier
//! and a Route-Record naming the partner node appended, and the answer comes back with the partner's
//! hop-by-hop identifier restored (and DOIC AVPs appended for partners that advertised DOIC). Every
//! other byte is the partner's, and the HSS's on the way back.
//!
//! Shutdown (a [`CancellationToken`]): the listener closes, each partner connection waits until the
//! requests it relayed are answered (at most [`DRAIN_TIMEOUT`]) and sends DPR, and once every partner
//! connection has ended the upstream links close.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use diameter::header::Header;
use diameter::peer::{Application, Event as PeerEvent, Peer, PeerAuthorizer, PeerConfig, PeerIdentity, PeerState};
use diameter::transport::{rand_seed, Driver, Stream};
use diameter::{avp, MessageView};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::answer::{append_avps, append_route_record, doic_avps, set_hop_by_hop, LocalAnswer};
use crate::engine::{Ctx, Engine, Meta, Now, Outcome};
use crate::observe::{Action, Event, PartnerStats};
use crate::rules::{Rule, Rules, OUTBOUND_COMMANDS};

/// Bytes read from a connection at a time.
const READ_BUFFER: usize = 32 * 1024;

/// Settings that need a restart to change.
#[derive(Debug, Clone)]
pub struct ProxySettings {
    /// Local identity and timers for partner connections.
    pub partner_peer: PeerConfig,
    /// Local identity and timers for upstream connections.
    pub upstream_peer: PeerConfig,
    /// Upstream address.
    pub upstream: SocketAddr,
    /// Upstream connections.
    pub upstream_connections: usize,
    /// Requests per partner connection in flight.
    pub max_in_flight: usize,
    /// Upstream answer timeout.
    pub request_timeout: Duration,
    /// TLS toward partners.
    pub tls: Option<Arc<rustls::ServerConfig>>,
}

/// Builds the peer configuration of either side.
pub fn peer_config(host: &str, realm: &str, apps: &[u32], watchdog: Duration, max_message: u32) -> PeerConfig {
    let apps = apps
        .iter()
        .map(|&id| Application { id, vendor: (id != 0).then_some(diameter::dictionary::VENDOR_3GPP) })
        .collect();
    let mut c = PeerConfig::new(host, realm, apps);
    c.product_name = "Warden firewall".into();
    c.watchdog_interval = watchdog;
    c.max_message_size = max_message;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    c.origin_state_id = now.as_secs() as u32;
    c.clock_low12 = (now.as_secs() & 0xfff) as u32;
    c.seed = now.as_nanos() as u64;
    c
}

/// A request on its way to the HSS.
struct Forward {
    bytes: Vec<u8>,
    partner_hop_by_hop: u32,
    meta: Meta,
    reply: mpsc::UnboundedSender<Reply>,
}

/// What comes back to a partner connection.
enum Reply {
    /// The HSS's answer, ready to write.
    Answer(Vec<u8>),
    /// No answer: the request (as forwarded) and why.
    Failed(Vec<u8>, Meta),
}

/// A request the HSS sends toward a partner node (CLR, IDR, DSR, RSR).
struct Outbound {
    bytes: Vec<u8>,
    upstream_hop_by_hop: u32,
    back: mpsc::UnboundedSender<Vec<u8>>,
}

/// Open partner connections by the Origin-Host of their CER (lower case), for outbound requests:
/// every live connection of a host, oldest first. A partner may open a second connection with the
/// same identity; it closing must not orphan the first, which still has to receive CLR/IDR.
type Registry = Arc<std::sync::Mutex<HashMap<String, Vec<mpsc::UnboundedSender<Outbound>>>>>;

struct Link {
    tx: mpsc::Sender<Forward>,
    up: Arc<AtomicBool>,
}

/// The upstream connections, used round-robin among those open.
pub(crate) struct Pool {
    links: Vec<Link>,
    next: AtomicUsize,
    /// Open partner connections, for requests of the HSS.
    registry: Registry,
}

impl Pool {
    fn send(&self, f: Forward) -> Result<(), Forward> {
        let n = self.links.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let mut f = f;
        for i in 0..n {
            let link = &self.links[(start + i) % n];
            if !link.up.load(Ordering::Relaxed) {
                continue;
            }
            match link.tx.try_send(f) {
                Ok(()) => return Ok(()),
                Err(mpsc::error::TrySendError::Full(back) | mpsc::error::TrySendError::Closed(back)) => f = back,
            }
        }
        Err(f)
    }
}

/// Admits partners by the registry: a known Origin-Host, a realm of the same partner that the host
/// lies in, and (when listed) one of its source addresses.
pub(crate) struct Authorizer(pub Arc<Engine>);

impl PeerAuthorizer for Authorizer {
    fn authorize(&self, p: &PeerIdentity) -> bool {
        let rules = self.0.rules();
        let (name, reason): (Arc<str>, Option<&'static str>) = match rules.partner_by_host(&p.origin_host) {
            None => ("-".into(), Some("CER from an Origin-Host that is no partner's")),
            Some(i) => {
                let part = &rules.partners[i];
                let realm = p.origin_realm.to_ascii_lowercase();
                let reason = if !part.realms.contains(&realm) {
                    Some("CER Origin-Realm is not the partner's")
                } else if rules.host_in_realm && !crate::engine::host_in_realm_str(&p.origin_host, &realm) {
                    Some("CER Origin-Host lies outside its Origin-Realm")
                } else if !part.addresses.is_empty() && !p.address.is_some_and(|a| part.addresses.contains(&a)) {
                    Some("CER from a source address that is not the partner's")
                } else {
                    None
                };
                (part.name.clone(), reason)
            }
        };
        match reason {
            None => true,
            Some(reason) => {
                self.0.observer.partner(&name).count(Rule::UnknownPeer, Action::Blocked);
                self.0.observer.event(Event {
                    at: std::time::SystemTime::now(),
                    rule: Rule::UnknownPeer,
                    action: Action::Blocked,
                    partner: name,
                    imsi: None,
                    plmn: None,
                    code: diameter::result_code::UNKNOWN_PEER,
                    reason: format!("{reason} ({} / {} from {:?})", p.origin_host, p.origin_realm, p.address).into(),
                });
                false
            }
        }
    }
}

/// Accepts the upstream's CEA whoever it is (the address is configured).
struct AnyUpstream;
impl PeerAuthorizer for AnyUpstream {
    fn authorize(&self, _p: &PeerIdentity) -> bool {
        true
    }
}

/// On shutdown, how long a partner connection waits for answers to what it relayed before DPR.
pub(crate) const DRAIN_TIMEOUT: Duration = Duration::from_millis(400);

/// Runs the listener and the upstream links until `shutdown` is cancelled, then winds them down in
/// order (see the module documentation).
pub(crate) async fn run(
    engine: Arc<Engine>,
    settings: ProxySettings,
    listener: TcpListener,
    shutdown: CancellationToken,
) {
    // The links to the HSS outlive the partner connections: they carry the last answers. Should this
    // future be dropped instead of finishing, the guard stops them too.
    let links_stop = CancellationToken::new();
    let _links_guard = links_stop.clone().drop_guard();
    let mut links = Vec::new();
    let mut tasks = Vec::new();
    let registry: Registry = Arc::default();
    for _ in 0..settings.upstream_connections {
        let (tx, rx) = mpsc::channel(settings.max_in_flight.max(1024));
        let up = Arc::new(AtomicBool::new(false));
        links.push(Link { tx, up: up.clone() });
        tasks.push(tokio::spawn(upstream_link(
            engine.clone(),
            settings.clone(),
            rx,
            up,
            registry.clone(),
            links_stop.clone(),
        )));
    }
    let pool = Arc::new(Pool { links, next: AtomicUsize::new(0), registry: registry.clone() });
    let authorizer: Arc<dyn PeerAuthorizer> = Arc::new(Authorizer(engine.clone()));
    let mut seed = settings.partner_peer.seed;
    let mut partners = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, addr)) = accepted else { continue };
                let _ = stream.set_nodelay(true);
                seed = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
                let mut config = settings.partner_peer.clone();
                config.seed = seed;
                let peer = Peer::responder(config, authorizer.clone(), Some(addr.ip()), Instant::now().into_std());
                let (engine, pool, shutdown, tls) = (engine.clone(), pool.clone(), shutdown.clone(), settings.tls.clone());
                let max_in_flight = settings.max_in_flight;
                partners.spawn(async move {
                    match tls {
                        None => partner_connection(stream, addr, peer, engine, pool, max_in_flight, shutdown).await,
                        Some(tls) => {
                            let accepted = tokio::select! {
                                accepted = tokio_rustls::TlsAcceptor::from(tls).accept(stream) => accepted,
                                _ = shutdown.cancelled() => return,
                            };
                            match accepted {
                                Ok(s) => partner_connection(s, addr, peer, engine, pool, max_in_flight, shutdown).await,
                                Err(e) => tracing::info!(%addr, error = %e, "firewall: TLS handshake failed"),
                            }
                        }
                    }
                });
            }
            Some(_) = partners.join_next(), if !partners.is_empty() => {}
            _ = shutdown.cancelled() => break,
        }
    }
    drop(listener);
    if !partners.is_empty() {
        tracing::info!(connections = partners.len(), "firewall: listener closed; disconnecting partners");
    }
    while partners.join_next().await.is_some() {}
    links_stop.cancel();
    for t in tasks {
        let _ = tokio::time::timeout(Duration::from_secs(2), t).await;
    }
}

/// The partner a connection belongs to, re-resolved when the rules are reloaded.
struct PartnerCtx {
    rules: Arc<Rules>,
    index: Option<usize>,
    stats: Arc<PartnerStats>,
    host: String,
}

impl PartnerCtx {
    fn resolve(engine: &Engine, host: &str) -> Self {
        let rules = engine.rules();
        let index = rules.partner_by_host(host);
        let name: Arc<str> = index.map_or_else(|| "-".into(), |i| rules.partners[i].name.clone());
        Self { stats: engine.observer.partner(&name), rules, index, host: host.to_string() }
    }

    fn refresh(&mut self, engine: &Engine) {
        let now = engine.rules();
        if !Arc::ptr_eq(&now, &self.rules) {
            *self = Self::resolve(engine, &self.host.clone());
        }
    }
}

/// Answers a request without screening it (upstream unavailable, partner removed by a reload).
fn local_answer(rules: &Rules, request: &[u8], answer: crate::rules::Answer, text: &str, out: &mut Vec<u8>) {
    let Ok(header) = Header::parse(request) else { return };
    let session = MessageView::parse(request)
        .ok()
        .and_then(|v| v.find(avp::SESSION_ID))
        .map(|a| a.data)
        .filter(|d| std::str::from_utf8(d).is_ok());
    LocalAnswer {
        request: header,
        session_id: session,
        origin_host: &rules.origin_host,
        origin_realm: &rules.origin_realm,
        answer,
        message: Some(text),
        failed: None,
        doic: None,
    }
    .encode_into(out);
}

async fn partner_connection<S: Stream>(
    stream: S,
    addr: SocketAddr,
    peer: Peer,
    engine: Arc<Engine>,
    pool: Arc<Pool>,
    max_in_flight: usize,
    shutdown: CancellationToken,
) {
    let mut driver = Driver::new(stream, peer, READ_BUFFER);
    let (reply_tx, mut reply_rx) = mpsc::unbounded_channel::<Reply>();
    let (outbound_tx, mut outbound_rx) = mpsc::unbounded_channel::<Outbound>();
    // Requests relayed to this partner and not answered yet: our hop-by-hop → (back channel, HSS's).
    let mut outbound_pending: HashMap<u32, (mpsc::UnboundedSender<Vec<u8>>, u32)> = HashMap::new();
    let mut next_outbound: u32 = rand_seed() as u32;
    let mut partner: Option<PartnerCtx> = None;
    let mut in_flight = 0usize;
    // The requests of one read, screened once the read is framed (critical first when there are several).
    let mut backlog: Vec<(Vec<u8>, Header, std::time::Instant)> = Vec::new();
    loop {
        driver.settle(in_flight > 0);
        driver.transmit().await;
        while let Some(ev) = driver.peer_mut().poll_event() {
            match ev {
                PeerEvent::Open { remote, .. } => {
                    engine.observer.open_partners.fetch_add(1, Ordering::Relaxed);
                    tracing::info!(%addr, origin_host = %remote.origin_host, "firewall: partner connected");
                    partner = Some(PartnerCtx::resolve(&engine, &remote.origin_host));
                    pool.registry
                        .lock()
                        .expect("registry")
                        .entry(remote.origin_host.to_ascii_lowercase())
                        .or_default()
                        .push(outbound_tx.clone());
                }
                PeerEvent::Closed(reason) => {
                    if let Some(p) = &partner {
                        engine.observer.open_partners.fetch_sub(1, Ordering::Relaxed);
                        let mut r = pool.registry.lock().expect("registry");
                        let host = p.host.to_ascii_lowercase();
                        if let Some(live) = r.get_mut(&host) {
                            live.retain(|tx| !tx.same_channel(&outbound_tx));
                            if live.is_empty() {
                                r.remove(&host);
                            }
                        }
                    }
                    tracing::info!(%addr, ?reason, "firewall: partner connection closed");
                }
                _ => {}
            }
        }
        if driver.peer().state() == PeerState::Closed {
            return driver.close().await;
        }
        let open = driver.peer().state() == PeerState::Open;
        tokio::select! {
            () = driver.step_relay(in_flight < max_in_flight, |frame, header, instant, _| {
                if !header.is_request() {
                    // The answer to a request the HSS sent this partner: back with the HSS's id.
                    if let Some((back, id)) = outbound_pending.remove(&header.hop_by_hop) {
                        let mut bytes = frame.to_vec();
                        set_hop_by_hop(&mut bytes, id);
                        let _ = back.send(bytes);
                    }
                    return;
                }
                backlog.push((frame.to_vec(), header, instant));
            }) => {
                if backlog.len() > 1 {
                    // A backlog read at once (the firewall fell behind): screened in priority order so
                    // that admission serves its critical requests before the rest, as it would have
                    // had they been read one by one.
                    if let Some(p) = partner.as_mut() {
                        p.refresh(&engine);
                        if let Some(index) = p.index {
                            let ctx = Ctx { rules: &p.rules, partner: index, stats: &p.stats };
                            backlog.sort_by_cached_key(|(frame, _, _)| engine.backlog_priority(&ctx, frame));
                        }
                    }
                }
                for (mut bytes, header, instant) in backlog.drain(..) {
                    let out = driver.out();
                    let Some(p) = partner.as_mut() else { continue };
                    p.refresh(&engine);
                    let Some(index) = p.index else {
                        let a = crate::rules::Answer::Result(diameter::result_code::UNKNOWN_PEER);
                        local_answer(&p.rules, &bytes, a, "partner no longer configured", out);
                        continue;
                    };
                    let ctx = Ctx { rules: &p.rules, partner: index, stats: &p.stats };
                    let now = Now { instant, wall: SystemTime::now() };
                    if let Outcome::Forward(meta) = engine.screen(&ctx, &bytes, now, out) {
                        append_route_record(&mut bytes, &p.host);
                        let f = Forward { bytes, partner_hop_by_hop: header.hop_by_hop, meta, reply: reply_tx.clone() };
                        match pool.send(f) {
                            Ok(()) => in_flight += 1,
                            Err(f) => {
                                engine.on_lost();
                                engine.upstream_unavailable(&ctx, &f.meta, now.wall);
                                let a = p.rules.answer(Rule::UpstreamUnavailable);
                                local_answer(&p.rules, &f.bytes, a, "HSS unreachable", out);
                            }
                        }
                    }
                }
            }
            Some(mut o) = outbound_rx.recv(), if open => {
                loop {
                    next_outbound = next_outbound.wrapping_add(1);
                    if !outbound_pending.contains_key(&next_outbound) {
                        break;
                    }
                }
                set_hop_by_hop(&mut o.bytes, next_outbound);
                driver.out().extend_from_slice(&o.bytes);
                outbound_pending.insert(next_outbound, (o.back, o.upstream_hop_by_hop));
                if outbound_pending.len() > 65_536 {
                    // Answers that never came: the HSS has long timed them out.
                    outbound_pending.clear();
                }
            }
            Some(reply) = reply_rx.recv() => {
                let mut next = Some(reply);
                while let Some(reply) = next {
                    in_flight -= 1;
                    match reply {
                        Reply::Answer(bytes) => driver.out().extend_from_slice(&bytes),
                        Reply::Failed(request, meta) => {
                            if let Some(p) = partner.as_ref() {
                                if let Some(index) = p.index {
                                    let ctx = Ctx { rules: &p.rules, partner: index, stats: &p.stats };
                                    engine.upstream_unavailable(&ctx, &meta, SystemTime::now());
                                }
                                let a = p.rules.answer(Rule::UpstreamUnavailable);
                                local_answer(&p.rules, &request, a, "no answer from the HSS", driver.out());
                            }
                        }
                    }
                    next = reply_rx.try_recv().ok();
                }
            }
            () = shutdown.cancelled(), if !driver.stopping() => driver.begin_shutdown(DRAIN_TIMEOUT),
        }
    }
}

struct Pending {
    partner_hop_by_hop: u32,
    meta: Meta,
    reply: mpsc::UnboundedSender<Reply>,
    sent: std::time::Instant,
    request: Vec<u8>,
}

async fn upstream_link(
    engine: Arc<Engine>,
    settings: ProxySettings,
    mut rx: mpsc::Receiver<Forward>,
    up: Arc<AtomicBool>,
    registry: Registry,
    shutdown: CancellationToken,
) {
    let mut backoff = Duration::from_millis(100);
    loop {
        if shutdown.is_cancelled() {
            return;
        }
        match TcpStream::connect(settings.upstream).await {
            Ok(stream) => {
                let _ = stream.set_nodelay(true);
                let served =
                    upstream_connection(stream, &engine, &settings, &mut rx, &up, &registry, shutdown.clone()).await;
                up.store(false, Ordering::Relaxed);
                if served {
                    backoff = Duration::from_millis(100);
                }
            }
            Err(e) => tracing::warn!(upstream = %settings.upstream, error = %e, "firewall: cannot reach the HSS"),
        }
        // Whatever was queued while the link was going down gets an answer now.
        while let Ok(f) = rx.try_recv() {
            engine.on_lost();
            let _ = f.reply.send(Reply::Failed(f.bytes, f.meta));
        }
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = shutdown.cancelled() => return,
        }
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}

/// One upstream connection to its end; true when it got as far as open.
async fn upstream_connection(
    stream: TcpStream,
    engine: &Arc<Engine>,
    settings: &ProxySettings,
    rx: &mut mpsc::Receiver<Forward>,
    up: &AtomicBool,
    registry: &Registry,
    shutdown: CancellationToken,
) -> bool {
    let (back_tx, mut back_rx) = mpsc::unbounded_channel::<Vec<u8>>();
    let mut hss_host = String::new();
    let mut config = settings.upstream_peer.clone();
    config.seed ^= rand_seed();
    let peer = Peer::initiator(config, Arc::new(AnyUpstream), Some(settings.upstream.ip()), Instant::now().into_std());
    let mut driver = Driver::new(stream, peer, READ_BUFFER);
    let mut pending: HashMap<u32, Pending> = HashMap::new();
    let mut deadlines: VecDeque<(std::time::Instant, u32)> = VecDeque::new();
    let mut next_id: u32 = rand_seed() as u32;
    let mut opened = false;
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    loop {
        driver.settle(false);
        driver.transmit().await;
        while let Some(ev) = driver.peer_mut().poll_event() {
            match ev {
                PeerEvent::Open { remote, .. } => {
                    opened = true;
                    hss_host = remote.origin_host.clone();
                    up.store(true, Ordering::Relaxed);
                    engine.observer.open_upstreams.fetch_add(1, Ordering::Relaxed);
                    tracing::info!(upstream = %settings.upstream, hss = %remote.origin_host, "firewall: connected to the HSS");
                }
                PeerEvent::Closed(reason) => {
                    if opened {
                        engine.observer.open_upstreams.fetch_sub(1, Ordering::Relaxed);
                    }
                    tracing::warn!(upstream = %settings.upstream, ?reason, "firewall: HSS connection closed");
                }
                _ => {}
            }
        }
        if driver.peer().state() == PeerState::Closed {
            up.store(false, Ordering::Relaxed);
            for (_, p) in pending.drain() {
                engine.on_lost();
                let _ = p.reply.send(Reply::Failed(p.request, p.meta));
            }
            return opened;
        }
        let open = driver.peer().state() == PeerState::Open;
        tokio::select! {
            () = driver.step_relay(true, |frame, header, instant, out| {
                if header.is_request() {
                    relay_outbound(engine, registry, frame, header, &hss_host, &back_tx, out);
                    return;
                }
                let Some(p) = pending.remove(&header.hop_by_hop) else { return };
                let now = Now { instant, wall: SystemTime::now() };
                engine.on_answer(&p.meta, frame, instant.saturating_duration_since(p.sent), now);
                let mut bytes = Vec::with_capacity(frame.len() + 64);
                bytes.extend_from_slice(frame);
                set_hop_by_hop(&mut bytes, p.partner_hop_by_hop);
                if p.meta.doic && MessageView::parse(frame).ok().and_then(|v| v.find(avp::OC_SUPPORTED_FEATURES)).is_none() {
                    let rules = engine.rules();
                    append_avps(&mut bytes, &doic_avps(engine.overload_report(&rules, instant)));
                }
                let _ = p.reply.send(Reply::Answer(bytes));
            }) => {}
            Some(f) = rx.recv(), if open => {
                let now = Instant::now().into_std();
                let deadline = now + settings.request_timeout;
                let mut next = Some(f);
                let mut batch = 0;
                while let Some(mut f) = next {
                    loop {
                        next_id = next_id.wrapping_add(1);
                        if !pending.contains_key(&next_id) {
                            break;
                        }
                    }
                    set_hop_by_hop(&mut f.bytes, next_id);
                    driver.out().extend_from_slice(&f.bytes);
                    deadlines.push_back((deadline, next_id));
                    pending.insert(next_id, Pending { partner_hop_by_hop: f.partner_hop_by_hop, meta: f.meta, reply: f.reply, sent: now, request: f.bytes });
                    batch += 1;
                    next = if batch < 256 { rx.try_recv().ok() } else { None };
                }
            }
            Some(bytes) = back_rx.recv() => {
                driver.out().extend_from_slice(&bytes);
                while let Ok(bytes) = back_rx.try_recv() {
                    driver.out().extend_from_slice(&bytes);
                }
            }
            _ = tick.tick() => {
                let now = Instant::now().into_std();
                while let Some(&(deadline, id)) = deadlines.front() {
                    if deadline > now {
                        break;
                    }
                    deadlines.pop_front();
                    if let Some(p) = pending.remove(&id) {
                        engine.on_lost();
                        let _ = p.reply.send(Reply::Failed(p.request, p.meta));
                    }
                }
                // Keep the deadline queue from holding answered ids for long.
                if deadlines.len() > 4 * pending.len() + 1024 {
                    deadlines.retain(|(_, id)| pending.contains_key(id));
                }
            }
            // The links to the HSS close last, at once: what partners relayed was drained before.
            () = shutdown.cancelled(), if !driver.stopping() => driver.begin_shutdown(Duration::ZERO),
        }
    }
}

/// A request from the HSS: CLR, IDR, DSR and RSR go to the open connection of the partner node named
/// in Destination-Host (with a Route-Record naming the HSS appended); any other command gets
/// 3001, an unknown or disconnected node 3002.
fn relay_outbound(
    engine: &Engine,
    registry: &Registry,
    frame: &[u8],
    header: Header,
    hss_host: &str,
    back: &mpsc::UnboundedSender<Vec<u8>>,
    out: &mut Vec<u8>,
) {
    let rules = engine.rules();
    let fail = |code: u32, text: &str, out: &mut Vec<u8>| {
        local_answer(&rules, frame, crate::rules::Answer::Result(code), text, out);
    };
    if !OUTBOUND_COMMANDS.iter().any(|c| c.app() == header.app_id && c.code() == header.code) {
        engine.observer.partner(&"-".into()).count(Rule::Command, Action::Blocked);
        return fail(diameter::result_code::COMMAND_UNSUPPORTED, "command not relayed toward partners", out);
    }
    let destination =
        MessageView::parse(frame).ok().and_then(|v| v.find(avp::DESTINATION_HOST)).map(|a| a.data.to_ascii_lowercase());
    let target = destination.and_then(|d| String::from_utf8(d).ok()).and_then(|d| {
        // The newest connection still open.
        let live = registry.lock().expect("registry").get(&d)?.iter().rev().find(|tx| !tx.is_closed()).cloned();
        live.map(|tx| (d, tx))
    });
    let Some((host, tx)) = target else {
        return fail(diameter::result_code::UNABLE_TO_DELIVER, "partner node not connected", out);
    };
    let mut bytes = Vec::with_capacity(frame.len() + 12 + hss_host.len());
    bytes.extend_from_slice(frame);
    append_route_record(&mut bytes, hss_host);
    let name = rules.partner_by_host(&host).map_or_else(|| "-".into(), |i| rules.partners[i].name.clone());
    engine.observer.partner(&name).count(Rule::Outbound, Action::Passed);
    if tx.send(Outbound { bytes, upstream_hop_by_hop: header.hop_by_hop, back: back.clone() }).is_err() {
        fail(diameter::result_code::UNABLE_TO_DELIVER, "partner node not connected", out);
    }
}
