//! The tokio transport over loopback TCP (and TLS): capabilities exchange, request/answer through a
//! handler, unknown peers refused, and a flood of malformed input that leaves the server answering
//! well-formed peers. Then what a connection writes, counted over an in-memory pipe: answers that
//! are ready at once for the requests of one read leave in one write; requests queued through a
//! [`PeerHandle`] leave together; an answer that has to wait holds a slot, and reading pauses while
//! `max_in_flight` of them wait (back-pressure). Every loop here is bounded and every wait has a
//! timeout.

// The tokio transport is behind the default `transport` feature.
#![cfg(feature = "transport")]

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use diameter::avp;
use diameter::peer::{Application, Event, Peer, PeerAuthorizer, PeerConfig, PeerIdentity, PeerState};
use diameter::result_code as rc;
use diameter::transport::{connect, drive, serve, ConnectionLimits, Driver, Handler, PeerHandle, ServerConfig};
use diameter::{Command, Message};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, DuplexStream, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::time::timeout;
use tokio_util::sync::CancellationToken;

const REALM: &str = "epc.mnc001.mcc001.3gppnetwork.org";

/// Answers every AIR with 2001 and echoes the User-Name in the Session-Id-bearing answer.
struct Echo;
impl Handler for Echo {
    async fn handle(&self, req: Message, _peer: PeerHandle) -> Option<Message> {
        let mut a = Message::answer_to(&req.header, req.session_id());
        a.add(avp::AUTH_SESSION_STATE, 1u32);
        a.add(avp::ORIGIN_HOST, "hss.example");
        a.add(avp::ORIGIN_REALM, REALM);
        a.add(avp::RESULT_CODE, rc::SUCCESS);
        a.add(avp::USER_NAME, req.get_str(avp::USER_NAME).unwrap_or_default());
        Some(a)
    }
}

fn only(host: &'static str) -> Arc<dyn PeerAuthorizer> {
    Arc::new(move |p: &PeerIdentity| p.origin_host.starts_with(host))
}

async fn start(tls: Option<Arc<rustls::ServerConfig>>) -> (SocketAddr, CancellationToken) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = CancellationToken::new();
    let shutdown = stop.clone();
    let config = ServerConfig {
        peer: PeerConfig::new("hss.example", REALM, vec![Application::S6A, Application::S13]),
        authorizer: only("mme"),
        limits: ConnectionLimits::default(),
        tls,
    };
    tokio::spawn(serve(listener, config, Arc::new(Echo), shutdown));
    (addr, stop)
}

fn air(imsi: &str) -> Message {
    let mut m = Message::request(Command::AIR);
    m.add(avp::SESSION_ID, format!("mme.example;{imsi}"));
    m.add(avp::AUTH_SESSION_STATE, 1u32);
    m.add(avp::ORIGIN_HOST, "mme.example");
    m.add(avp::ORIGIN_REALM, REALM);
    m.add(avp::DESTINATION_REALM, REALM);
    m.add(avp::USER_NAME, imsi);
    m.add(avp::VISITED_PLMN_ID, &[0x00u8, 0xf1, 0x10]);
    m
}

async fn client(addr: SocketAddr, host: &str) -> std::io::Result<PeerHandle> {
    let cfg = PeerConfig::new(host, REALM, vec![Application::S6A]);
    let allow: Arc<dyn PeerAuthorizer> = Arc::new(|_: &PeerIdentity| true);
    timeout(Duration::from_secs(5), connect(addr, cfg, allow, ConnectionLimits::default(), None))
        .await
        .expect("connect in time")
        .map(|(h, _)| h)
}

#[tokio::test]
async fn request_answer_over_tcp() {
    let (addr, _stop) = start(None).await;
    let mme = client(addr, "mme1.example").await.unwrap();
    assert_eq!(mme.remote().origin_host, "hss.example");
    for i in 0..20 {
        let imsi = format!("00101000000{i:04}");
        let a = timeout(Duration::from_secs(5), mme.request(air(&imsi))).await.unwrap().unwrap();
        assert_eq!(a.result_code(), Some(rc::SUCCESS));
        assert_eq!(a.get_str(avp::USER_NAME), Some(imsi.as_str()));
    }
}

#[tokio::test]
async fn unknown_peer_is_refused_over_tcp() {
    let (addr, _stop) = start(None).await;
    let err = client(addr, "intruder.example").await.unwrap_err();
    assert!(err.to_string().contains("3010"), "{err}");
}

/// Keeps the handle of every connection that opened and reports each close.
struct Keeper {
    opened: tokio::sync::mpsc::UnboundedSender<PeerHandle>,
    closed: tokio::sync::mpsc::UnboundedSender<()>,
}
impl Handler for Keeper {
    async fn handle(&self, req: Message, peer: PeerHandle) -> Option<Message> {
        Echo.handle(req, peer).await
    }
    fn peer_open(&self, peer: PeerHandle) {
        let _ = self.opened.send(peer);
    }
    fn peer_closed(&self, _remote: Option<&diameter::peer::Capabilities>, _reason: &diameter::peer::CloseReason) {
        let _ = self.closed.send(());
    }
}

#[tokio::test]
async fn handles_tell_connections_of_the_same_identity_apart() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (opened, mut opens) = tokio::sync::mpsc::unbounded_channel();
    let (closed, mut closes) = tokio::sync::mpsc::unbounded_channel();
    let config = ServerConfig {
        peer: PeerConfig::new("hss.example", REALM, vec![Application::S6A]),
        authorizer: only("mme"),
        limits: ConnectionLimits::default(),
        tls: None,
    };
    let stop = CancellationToken::new();
    tokio::spawn(serve(listener, config, Arc::new(Keeper { opened, closed }), stop.clone()));
    let wait = Duration::from_secs(5);
    let _first = client(addr, "mme1.example").await.unwrap();
    let first = timeout(wait, opens.recv()).await.expect("first open").unwrap();
    let second_client = client(addr, "mme1.example").await.unwrap();
    let second = timeout(wait, opens.recv()).await.expect("second open").unwrap();
    assert_eq!(first.remote().origin_host, second.remote().origin_host);
    assert!(!first.same_connection(&second) && first.same_connection(&first.clone()));
    assert!(first.is_open() && second.is_open());
    second_client.disconnect(0).await;
    timeout(wait, closes.recv()).await.expect("second closed").unwrap();
    assert!(!second.is_open(), "closed before peer_closed ran");
    assert!(first.is_open(), "the other connection of the same identity stays open");
    stop.cancel();
}

#[tokio::test]
async fn malformed_flood_leaves_good_peers_served() {
    let (addr, _stop) = start(None).await;
    let good = client(addr, "mme-good.example").await.unwrap();
    let mut attackers = Vec::new();
    for kind in 0..40u32 {
        attackers.push(tokio::spawn(async move {
            let Ok(mut s) = TcpStream::connect(addr).await else { return };
            let junk: Vec<u8> = match kind % 4 {
                // A 16 MiB length field.
                0 => vec![1, 0xff, 0xff, 0xfc, 0x80, 0, 1, 1, 0, 0, 0, 0],
                // Random bytes.
                1 => (0..4096u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect(),
                // An AIR before the capabilities exchange.
                2 => air("001010000000001").encode(),
                // A CER truncated mid-way, then silence.
                _ => {
                    let mut m = Message::request(Command::CER);
                    m.add(avp::ORIGIN_HOST, "mme-x.example");
                    m.encode()[..10].to_vec()
                }
            };
            let _ = s.write_all(&junk).await;
            let mut sink = [0u8; 512];
            let _ = timeout(Duration::from_millis(300), s.read(&mut sink)).await;
        }));
    }
    for i in 0..50 {
        let a =
            timeout(Duration::from_secs(5), good.request(air(&format!("0010100000{i:05}")))).await.unwrap().unwrap();
        assert_eq!(a.result_code(), Some(rc::SUCCESS));
    }
    for a in attackers {
        let _ = timeout(Duration::from_secs(5), a).await;
    }
    let late = client(addr, "mme-late.example").await.unwrap();
    assert_eq!(late.request(air("001010000099999")).await.unwrap().result_code(), Some(rc::SUCCESS));
}

#[tokio::test]
async fn mutual_tls_between_operators() {
    let ca = testkit::tls::Ca::new();
    let server_tls = diameter::transport::server_config(ca.leaf("hss.example").settings(&ca)).unwrap();
    let client_tls = diameter::transport::client_config(ca.leaf("mme.example").settings(&ca)).unwrap();
    let (addr, _stop) = start(Some(server_tls)).await;
    let cfg = PeerConfig::new("mme.example", REALM, vec![Application::S6A]);
    let allow: Arc<dyn PeerAuthorizer> = Arc::new(|_: &PeerIdentity| true);
    let name = rustls::pki_types::ServerName::try_from("hss.example").unwrap();
    let (mme, _) = timeout(
        Duration::from_secs(5),
        connect(addr, cfg, allow, ConnectionLimits::default(), Some((client_tls, name))),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(mme.request(air("001010000000042")).await.unwrap().result_code(), Some(rc::SUCCESS));

    // A plain-TCP client against the TLS listener never gets a capabilities exchange.
    assert!(timeout(Duration::from_secs(3), client(addr, "mme2.example")).await.map_or(true, |r| r.is_err()));
}

/// A handler whose answer is larger than the message bound.
struct Huge;
impl Handler for Huge {
    async fn handle(&self, req: Message, _peer: PeerHandle) -> Option<Message> {
        let mut a = Message::answer_to(&req.header, req.session_id());
        a.add(avp::ORIGIN_HOST, "hss.example");
        a.add(avp::ORIGIN_REALM, REALM);
        a.add(avp::RESULT_CODE, rc::SUCCESS);
        a.push(diameter::Avp {
            code: 65_020,
            flags: 0,
            vendor_id: None,
            value: diameter::Value::OctetString(vec![7; 100 * 1024]),
        });
        Some(a)
    }
}

#[tokio::test]
async fn oversized_answers_become_unable_to_comply() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let shutdown = CancellationToken::new();
    let config = ServerConfig {
        peer: PeerConfig::new("hss.example", REALM, vec![Application::S6A]),
        authorizer: only("mme"),
        limits: ConnectionLimits::default(),
        tls: None,
    };
    tokio::spawn(serve(listener, config, Arc::new(Huge), shutdown));
    let mme = client(addr, "mme1.example").await.unwrap();
    let a = timeout(Duration::from_secs(5), mme.request(air("001010000000001"))).await.unwrap().unwrap();
    assert_eq!(a.result_code(), Some(rc::UNABLE_TO_COMPLY));
}

/// Answers after `0` (a slow HSS).
struct Slow(Duration);
impl Handler for Slow {
    async fn handle(&self, req: Message, peer: PeerHandle) -> Option<Message> {
        tokio::time::sleep(self.0).await;
        Echo.handle(req, peer).await
    }
}

/// A client side that reports how its connection ended.
struct Watcher(tokio::sync::mpsc::UnboundedSender<diameter::peer::CloseReason>);
impl Handler for Watcher {
    async fn handle(&self, _req: Message, _peer: PeerHandle) -> Option<Message> {
        None
    }
    fn peer_closed(&self, _remote: Option<&diameter::peer::Capabilities>, reason: &diameter::peer::CloseReason) {
        let _ = self.0.send(reason.clone());
    }
}

#[tokio::test]
async fn shutdown_answers_requests_in_flight_then_sends_dpr_and_closes_the_listener() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = CancellationToken::new();
    let config = ServerConfig {
        peer: PeerConfig::new("hss.example", REALM, vec![Application::S6A]),
        authorizer: only("mme"),
        limits: ConnectionLimits::default(),
        tls: None,
    };
    let server = tokio::spawn(serve(listener, config, Arc::new(Slow(Duration::from_millis(300))), stop.clone()));
    let (closed_tx, mut closed) = tokio::sync::mpsc::unbounded_channel();
    let cfg = PeerConfig::new("mme1.example", REALM, vec![Application::S6A]);
    let allow: Arc<dyn PeerAuthorizer> = Arc::new(|_: &PeerIdentity| true);
    let (mme, _) = timeout(
        Duration::from_secs(5),
        diameter::transport::connect_with(
            addr,
            cfg,
            allow,
            ConnectionLimits::default(),
            None,
            Arc::new(Watcher(closed_tx)),
        ),
    )
    .await
    .unwrap()
    .unwrap();
    let requests: Vec<_> = (0..5)
        .map(|i| {
            let mme = mme.clone();
            tokio::spawn(async move { mme.request(air(&format!("00101000000000{i}"))).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(100)).await;
    stop.cancel();
    // Every request sent before the shutdown is answered by the handler, not dropped.
    for r in requests {
        let a = timeout(Duration::from_secs(5), r).await.unwrap().unwrap().unwrap();
        assert_eq!(a.result_code(), Some(rc::SUCCESS));
    }
    // Then DPR with Disconnect-Cause REBOOTING (0), and the server returns once the connection ended.
    let reason = timeout(Duration::from_secs(5), closed.recv()).await.unwrap().unwrap();
    assert_eq!(reason, diameter::peer::CloseReason::RemoteDisconnect(0));
    timeout(Duration::from_secs(5), server).await.expect("serve returns after the last connection").unwrap();
    assert!(TcpStream::connect(addr).await.is_err(), "the listener is closed");
}

/// Reads whatever arrives within a short time.
async fn read_some(s: &mut tokio::io::DuplexStream) -> Vec<u8> {
    let mut buf = vec![0u8; 64 * 1024];
    let n = timeout(Duration::from_secs(2), s.read(&mut buf)).await.expect("bytes in time").unwrap();
    buf.truncate(n);
    buf
}

/// The relay step of the driver: before the connection is open every frame goes to the peer; once
/// open, application frames go to the caller, in order with base-protocol frames (which the peer
/// answers), a partial frame waits for its rest, and what the caller appends is written in the same
/// write as the peer's own messages.
#[tokio::test]
async fn relay_step_hands_application_frames_to_the_caller() {
    let now = std::time::Instant::now();
    let allow: Arc<dyn PeerAuthorizer> = Arc::new(|_: &PeerIdentity| true);
    let (mut client, server) = tokio::io::duplex(64 * 1024);
    let hss = Peer::responder(PeerConfig::new("hss.example", REALM, vec![Application::S6A]), allow.clone(), None, now);
    let mut driver = Driver::new(server, hss, 1024);
    let mut mme = Peer::initiator(PeerConfig::new("mme.example", REALM, vec![Application::S6A]), allow, None, now);
    let mut cer = Vec::new();
    mme.poll_transmit(&mut cer).unwrap();
    client.write_all(&cer).await.unwrap();
    let mut seen: Vec<u32> = Vec::new();
    driver.step_relay(true, |_, h, _, _| seen.push(h.code)).await;
    driver.transmit().await;
    assert_eq!(driver.peer().state(), PeerState::Open);
    assert!(seen.is_empty(), "CER went to the peer");
    mme.handle_input(&read_some(&mut client).await, now);
    assert!(matches!(mme.poll_event(), Some(Event::Open { .. })));

    // An AIR, a DWR and the first half of another AIR in one write.
    let (air1, air2) = (air("001010000000001").encode(), air("001010000000002").encode());
    let mut dwr = Message::request(Command::DWR);
    dwr.add(avp::ORIGIN_HOST, "mme.example").add(avp::ORIGIN_REALM, REALM);
    let mut bytes = air1.clone();
    bytes.extend_from_slice(&dwr.encode());
    bytes.extend_from_slice(&air2[..30]);
    client.write_all(&bytes).await.unwrap();
    let mut frames: Vec<Vec<u8>> = Vec::new();
    while frames.is_empty() {
        driver
            .step_relay(true, |frame, h, _, out| {
                assert_eq!(h.code, Command::AIR.code());
                frames.push(frame.to_vec());
                out.extend_from_slice(b"relayed");
            })
            .await;
    }
    driver.transmit().await;
    let written = read_some(&mut client).await;
    assert_eq!(frames, vec![air1]);
    assert_eq!(&written[..7], b"relayed", "the caller's bytes, then the peer's messages");
    let dwa = Message::decode(&written[7..]).unwrap();
    assert_eq!((dwa.abbrev(), dwa.result_code()), (Some("DWA"), Some(rc::SUCCESS)), "the peer answered the DWR");

    client.write_all(&air2[30..]).await.unwrap();
    driver.step_relay(true, |frame, _, _, _| frames.push(frame.to_vec())).await;
    assert_eq!(frames.len(), 2);
    assert_eq!(frames[1], air2, "the partial frame was kept for its rest");
}

/// A stream that counts the writes that reached it.
struct Counted {
    inner: DuplexStream,
    writes: Arc<AtomicUsize>,
}

impl AsyncRead for Counted {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for Counted {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        let me = self.get_mut();
        let r = Pin::new(&mut me.inner).poll_write(cx, buf);
        if matches!(r, Poll::Ready(Ok(_))) {
            me.writes.fetch_add(1, Ordering::SeqCst);
        }
        r
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

fn allow() -> Arc<dyn PeerAuthorizer> {
    Arc::new(|_: &PeerIdentity| true)
}

/// Answers at once, except requests for users named `slow…`, which wait for a permit of `gate`.
struct Gated {
    gate: Arc<Semaphore>,
    waiting: Arc<AtomicUsize>,
}

impl Handler for Gated {
    async fn handle(&self, req: Message, _peer: PeerHandle) -> Option<Message> {
        let user = req.get_str(avp::USER_NAME).unwrap_or_default().to_string();
        if user.starts_with("slow") {
            self.waiting.fetch_add(1, Ordering::SeqCst);
            self.gate.acquire().await.expect("the gate stays open").forget();
        }
        let mut a = Message::answer_to(&req.header, req.session_id());
        a.add(avp::AUTH_SESSION_STATE, 1u32);
        a.add(avp::ORIGIN_HOST, "hss.example");
        a.add(avp::ORIGIN_REALM, REALM);
        a.add(avp::RESULT_CODE, rc::SUCCESS);
        a.add(avp::USER_NAME, user.as_str());
        Some(a)
    }
}

/// A server connection (the [`Gated`] handler) over a counted stream, and the MME's side of the
/// pipe with its sans-IO peer, open.
struct Rig {
    mme: Peer,
    pipe: DuplexStream,
    writes: Arc<AtomicUsize>,
    gate: Arc<Semaphore>,
    waiting: Arc<AtomicUsize>,
}

impl Rig {
    async fn open(max_in_flight: usize) -> Rig {
        let (pipe, server) = tokio::io::duplex(1 << 20);
        let writes = Arc::new(AtomicUsize::new(0));
        let (gate, waiting) = (Arc::new(Semaphore::new(0)), Arc::new(AtomicUsize::new(0)));
        let hss = Peer::responder(PeerConfig::new("hss.example", REALM, vec![Application::S6A]), allow(), None, now());
        let limits = ConnectionLimits { max_in_flight, ..ConnectionLimits::default() };
        let handler = Arc::new(Gated { gate: gate.clone(), waiting: waiting.clone() });
        let stream = Counted { inner: server, writes: writes.clone() };
        tokio::spawn(drive(stream, hss, None, handler, limits, CancellationToken::new(), None));
        let mme = Peer::initiator(PeerConfig::new("mme.example", REALM, vec![Application::S6A]), allow(), None, now());
        let mut rig = Rig { mme, pipe, writes, gate, waiting };
        rig.flush().await;
        while rig.mme.state() != PeerState::Open {
            rig.read().await;
        }
        while rig.mme.poll_event().is_some() {}
        rig
    }

    /// Sends what the MME queued, in one write.
    async fn flush(&mut self) {
        let mut out = Vec::new();
        while self.mme.poll_transmit(&mut out).is_some() {}
        self.pipe.write_all(&out).await.unwrap();
    }

    async fn read(&mut self) {
        let mut buf = vec![0u8; 64 * 1024];
        let n = timeout(Duration::from_secs(5), self.pipe.read(&mut buf)).await.expect("bytes in time").unwrap();
        self.mme.handle_input(&buf[..n], now());
    }

    /// Reads until `n` answers came; returns their User-Names.
    async fn answers(&mut self, n: usize) -> Vec<String> {
        let mut users = Vec::new();
        while users.len() < n {
            self.read().await;
            while let Some(e) = self.mme.poll_event() {
                if let Event::Answer(a) = e {
                    assert_eq!(a.result_code(), Some(rc::SUCCESS));
                    users.push(a.get_str(avp::USER_NAME).unwrap().to_string());
                }
            }
        }
        users
    }
}

fn now() -> Instant {
    Instant::now()
}

#[tokio::test]
async fn answers_ready_for_one_read_leave_in_one_write() {
    let mut rig = Rig::open(256).await;
    let before = rig.writes.load(Ordering::SeqCst);
    let users: Vec<String> = (0..20).map(|i| format!("user{i}")).collect();
    for u in &users {
        rig.mme.send_request(air(u), now()).unwrap();
    }
    rig.flush().await;
    assert_eq!(rig.answers(20).await, users, "every request answered, in order");
    assert_eq!(rig.writes.load(Ordering::SeqCst) - before, 1, "twenty answers, one write");
}

#[tokio::test]
async fn answers_that_wait_hold_a_slot_and_pause_reading() {
    let mut rig = Rig::open(2).await;
    rig.mme.send_request(air("slow1"), now()).unwrap();
    rig.mme.send_request(air("slow2"), now()).unwrap();
    rig.flush().await;
    timeout(Duration::from_secs(5), async {
        while rig.waiting.load(Ordering::SeqCst) < 2 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("both slow requests reach the handler");
    // Both slots are taken: the next request is not read, so not answered, though it could be at once.
    rig.mme.send_request(air("fast"), now()).unwrap();
    rig.flush().await;
    let mut buf = [0u8; 1024];
    assert!(timeout(Duration::from_millis(200), rig.pipe.read(&mut buf)).await.is_err(), "nothing answered yet");
    rig.gate.add_permits(2);
    let mut got = rig.answers(3).await;
    got.sort();
    assert_eq!(got, ["fast", "slow1", "slow2"]);
}

/// Answers nothing (a client's connection).
struct Silent;
impl Handler for Silent {
    async fn handle(&self, _req: Message, _peer: PeerHandle) -> Option<Message> {
        None
    }
}

#[tokio::test]
async fn requests_queued_through_a_handle_leave_together() {
    let (client, server) = tokio::io::duplex(1 << 20);
    let writes = Arc::new(AtomicUsize::new(0));
    let hss = Peer::responder(PeerConfig::new("hss.example", REALM, vec![Application::S6A]), allow(), None, now());
    let gated = Arc::new(Gated { gate: Arc::new(Semaphore::new(0)), waiting: Arc::new(AtomicUsize::new(0)) });
    let limits = ConnectionLimits::default();
    tokio::spawn(drive(server, hss, None, gated, limits, CancellationToken::new(), None));
    let mme = Peer::initiator(PeerConfig::new("mme.example", REALM, vec![Application::S6A]), allow(), None, now());
    let (opened_tx, opened) = tokio::sync::oneshot::channel();
    let stream = Counted { inner: client, writes: writes.clone() };
    tokio::spawn(drive(stream, mme, None, Arc::new(Silent), limits, CancellationToken::new(), Some(opened_tx)));
    let handle = timeout(Duration::from_secs(5), opened).await.unwrap().unwrap().expect("open");
    let before = writes.load(Ordering::SeqCst);
    // Sixteen requests queued before the connection's task runs again.
    let asks: Vec<_> = (0..16)
        .map(|i| {
            let h = handle.clone();
            tokio::spawn(async move { h.request(air(&format!("user{i}"))).await })
        })
        .collect();
    for (i, ask) in asks.into_iter().enumerate() {
        let a = timeout(Duration::from_secs(5), ask).await.unwrap().unwrap().unwrap();
        assert_eq!(a.get_str(avp::USER_NAME), Some(format!("user{i}").as_str()));
    }
    let sent = writes.load(Ordering::SeqCst) - before;
    assert!(sent <= 2, "sixteen requests took {sent} writes");
}
