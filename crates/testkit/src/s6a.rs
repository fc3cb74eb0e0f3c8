//! S6a/S13 messages and a stand-in MME for tests: the request skeleton every MME sends (TS 29.272
//! §7.2), AIR, ULR, PUR and ECR built from typed AVP handles, and an MME that connects, records what
//! the HSS sends it (CLR, IDR, DSR) and answers DIAMETER_SUCCESS.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use diameter::peer::{Application, CloseReason, PeerAuthorizer, PeerConfig, PeerIdentity};
use diameter::result_code as rc;
use diameter::transport::{connect_with, ConnectionLimits, Handler, PeerHandle};
use diameter::{avp, Avp, Command, Message};
use tokio::sync::mpsc;

/// PLMN 001 01 (the test network) as Visited-PLMN-Id.
pub const PLMN_00101: [u8; 3] = [0x00, 0xf1, 0x10];
/// RAT-Type E-UTRAN (TS 29.212 §5.3.31).
pub const EUTRAN: u32 = 1004;

/// A Diameter node: its Origin-Host and Origin-Realm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Node<'a> {
    /// Origin-Host.
    pub host: &'a str,
    /// Origin-Realm.
    pub realm: &'a str,
}

impl<'a> Node<'a> {
    /// A node.
    pub const fn new(host: &'a str, realm: &'a str) -> Self {
        Self { host, realm }
    }
}

/// The common AVPs of an S6a/S13 request from `from` to the HSS of `to_realm`: Session-Id
/// `<host>;<session>`, Auth-Session-State NO_STATE_MAINTAINED, Origin-Host, Origin-Realm,
/// Destination-Realm, and User-Name unless `imsi` is empty.
pub fn request(command: Command, from: Node<'_>, to_realm: &str, imsi: &str, session: &str) -> Message {
    let mut m = Message::request(command);
    m.add(avp::SESSION_ID, format!("{};{session}", from.host));
    m.add(avp::AUTH_SESSION_STATE, 1u32);
    m.add(avp::ORIGIN_HOST, from.host);
    m.add(avp::ORIGIN_REALM, from.realm);
    m.add(avp::DESTINATION_REALM, to_realm);
    if !imsi.is_empty() {
        m.add(avp::USER_NAME, imsi);
    }
    m
}

/// An AIR for `n` E-UTRAN vectors (with Immediate-Response-Preferred) for a visit in `plmn`.
pub fn air(from: Node<'_>, to_realm: &str, imsi: &str, plmn: [u8; 3], n: u32, session: &str) -> Message {
    let mut m = request(Command::AIR, from, to_realm, imsi, session);
    m.add(avp::VISITED_PLMN_ID, &plmn);
    m.push(Avp::grouped(
        avp::REQUESTED_EUTRAN_AUTHENTICATION_INFO,
        vec![Avp::new(avp::NUMBER_OF_REQUESTED_VECTORS, n), Avp::new(avp::IMMEDIATE_RESPONSE_PREFERRED, 1u32)],
    ));
    m
}

/// A ULR over E-UTRAN (ULR-Flags S6a/S6d-Indicator and Initial-Attach-Indicator) for a visit in
/// `plmn`, with Terminal-Information when `imei` is given.
pub fn ulr(from: Node<'_>, to_realm: &str, imsi: &str, plmn: [u8; 3], imei: Option<&str>, session: &str) -> Message {
    let mut m = request(Command::ULR, from, to_realm, imsi, session);
    m.add(avp::RAT_TYPE, EUTRAN);
    m.add(avp::ULR_FLAGS, 0x22u32);
    m.add(avp::VISITED_PLMN_ID, &plmn);
    if let Some(i) = imei {
        m.push(Avp::grouped(
            avp::TERMINAL_INFORMATION,
            vec![Avp::new(avp::IMEI, i), Avp::new(avp::SOFTWARE_VERSION, "01")],
        ));
    }
    m
}

/// A PUR.
pub fn pur(from: Node<'_>, to_realm: &str, imsi: &str, session: &str) -> Message {
    request(Command::PUR, from, to_realm, imsi, session)
}

/// The answer a healthy MME gives to what the HSS sends it: DIAMETER_SUCCESS.
pub fn success(req: &Message, from: Node<'_>) -> Message {
    let mut a = Message::answer_to(&req.header, req.session_id());
    a.add(avp::AUTH_SESSION_STATE, 1u32);
    a.add(avp::ORIGIN_HOST, from.host);
    a.add(avp::ORIGIN_REALM, from.realm);
    a.add(avp::RESULT_CODE, rc::SUCCESS);
    a
}

/// A stand-in MME: answers every request with DIAMETER_SUCCESS and hands the request to the test;
/// tells the test how its connection ended.
pub struct Mme {
    me: Node<'static>,
    requests: mpsc::UnboundedSender<Message>,
    closed: mpsc::UnboundedSender<CloseReason>,
}

impl Handler for Mme {
    async fn handle(&self, req: Message, _peer: PeerHandle) -> Option<Message> {
        let a = success(&req, self.me);
        let _ = self.requests.send(req);
        Some(a)
    }

    fn peer_closed(&self, _remote: Option<&diameter::peer::Capabilities>, reason: &CloseReason) {
        let _ = self.closed.send(reason.clone());
    }
}

/// An MME's connection to a test server.
pub struct MmeLink {
    /// Sends requests over the connection.
    pub peer: PeerHandle,
    /// Requests the server sent (CLR, IDR, …), in order.
    pub inbox: mpsc::UnboundedReceiver<Message>,
    /// How the connection ended.
    pub closed: mpsc::UnboundedReceiver<CloseReason>,
}

/// Connects an MME named `me` (S6a and S13) to `addr`, trusting the server, with `max_in_flight`
/// requests at once. Fails when the server refuses the MME or does not answer in 5 s.
pub async fn connect_mme(addr: SocketAddr, me: Node<'static>, max_in_flight: usize) -> std::io::Result<MmeLink> {
    let (requests, inbox) = mpsc::unbounded_channel();
    let (closed_tx, closed) = mpsc::unbounded_channel();
    let allow: Arc<dyn PeerAuthorizer> = Arc::new(|_: &PeerIdentity| true);
    let cfg = PeerConfig::new(me.host, me.realm, vec![Application::S6A, Application::S13]);
    let limits = ConnectionLimits { max_in_flight, ..ConnectionLimits::default() };
    let handler = Arc::new(Mme { me, requests, closed: closed_tx });
    let (peer, _) = tokio::time::timeout(Duration::from_secs(5), connect_with(addr, cfg, allow, limits, None, handler))
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "no CEA in 5 s"))??;
    Ok(MmeLink { peer, inbox, closed })
}

/// Sends `m` and waits at most 5 s for its answer (panics otherwise: a test failure).
pub async fn ask(peer: &PeerHandle, m: Message) -> Message {
    tokio::time::timeout(Duration::from_secs(5), peer.request(m)).await.expect("answer in time").expect("answer")
}
