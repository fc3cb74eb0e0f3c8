//! What the PCRF's integration tests share: a store with profiles and SIMs of tenant `acme`, a PCRF
//! on it (sans-IO through `Pcrf::answer`, or served on loopback), a stand-in P-GW that connects over
//! Gx, records what the PCRF sends it (RAR, ASR) and answers as told, and CCR builders.
#![allow(dead_code)]

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use diameter::dictionary::app;
use diameter::peer::{Application, PeerAuthorizer, PeerConfig, PeerIdentity};
use diameter::result_code as rc;
use diameter::transport::{connect_with, serve, ConnectionLimits, Handler, PeerHandle, ServerConfig};
use diameter::{avp, Avp, Command, Message};
use ids::Imsi;
use pcrf::{Pcrf, PcrfConfig};
use store::model::{Priority, Sim, SimStatus};
use testkit::provision::{self, profile};
use testkit::TempStore;
use tokio::sync::mpsc;

pub const REALM: &str = "epc.mnc001.mcc001.3gppnetwork.org";
pub const PCRF: &str = "pcrf.warden.test";
pub const PGW: &str = "pgw1.warden.test";
/// A critical meter of profile `meter` (allowlist).
pub const METER: &str = "001010000000001";
/// A standard phone of profile `open`.
pub const PHONE: &str = "001010000000002";
/// A low-priority meter of profile `meter`.
pub const LOW: &str = "001010000000003";
/// A suspended SIM.
pub const SUSPENDED: &str = "001010000000004";
/// A SIM of profile `legacy` (predefined rules).
pub const PREDEFINED: &str = "001010000000005";
/// The allowlist of profile `meter`.
pub const METER_PREFIXES: [&str; 2] = ["198.51.100.0/24", "203.0.113.7/32:443/tcp"];
/// A name its allowlist has.
pub const NAME: &str = "api.acme.example";
/// Its management platform.
pub const MGMT: &str = "10.9.0.0/16:8443/tcp";

pub struct Setup {
    pub pcrf: Arc<Pcrf>,
    pub temp: TempStore,
}

pub fn imsi(s: &str) -> Imsi {
    s.parse().unwrap()
}

/// A store with the profiles and SIMs above.
pub async fn store() -> TempStore {
    let temp = TempStore::sqlite().await;
    let meter = profile(serde_json::json!({
        "name": "meter", "services": ["data"], "ambr_ul": 64000, "ambr_dl": 128000,
        "allow_prefixes": METER_PREFIXES, "allow_domains": ["api.acme.example"],
        "quarantine_prefixes": [MGMT],
        "apn": [{"name": "meters.example", "qci": 7, "ambr_ul": 32000, "ambr_dl": 96000}]
    }));
    let open = profile(serde_json::json!({"name": "open", "services": ["data"], "traffic": "open"}));
    let legacy = profile(serde_json::json!({
        "name": "legacy", "services": ["data"], "allow_prefixes": ["192.0.2.0/24"], "predefined_rules": ["gold-iot"]
    }));
    provision::profiles(&temp.store, &[meter, open, legacy]).await;
    let mut suspended = provision::sim(SUSPENDED, Some("meter"), Priority::Standard, "acme");
    suspended.status = SimStatus::Suspended;
    provision::sims(
        &temp.store,
        &[
            provision::sim(METER, Some("meter"), Priority::Critical, "acme"),
            provision::sim(PHONE, Some("open"), Priority::Standard, "acme"),
            provision::sim(LOW, Some("meter"), Priority::Low, "acme"),
            suspended,
            provision::sim(PREDEFINED, Some("legacy"), Priority::Standard, "acme"),
        ],
    )
    .await;
    temp
}

/// PCEFs may ask about `00101…` only.
pub fn home_only() -> pcrf::MayQuery {
    Arc::new(|_host: &str, imsi: &Imsi| imsi.as_str().starts_with("00101"))
}

pub async fn setup_with(config: PcrfConfig) -> Setup {
    let temp = store().await;
    let pcrf = Pcrf::new(config, temp.store.clone(), PCRF, REALM, home_only()).await.unwrap();
    Setup { pcrf, temp }
}

pub async fn setup() -> Setup {
    setup_with(fast()).await
}

/// Short RAR timeouts for tests.
pub fn fast() -> PcrfConfig {
    PcrfConfig {
        rar_timeout_ms: 300,
        rar_attempts: 2,
        dns_servers: vec!["192.0.2.53".parse().unwrap()],
        ..PcrfConfig::default()
    }
}

/// The skeleton of a CCR (TS 29.212 §5.6.2).
pub fn ccr(pgw: &str, session: &str, kind: u32, number: u32) -> Message {
    let mut m = Message::request(Command::CCR);
    m.add(avp::SESSION_ID, session);
    m.add(avp::AUTH_APPLICATION_ID, app::GX);
    m.add(avp::ORIGIN_HOST, pgw);
    m.add(avp::ORIGIN_REALM, REALM);
    m.add(avp::DESTINATION_REALM, REALM);
    m.add(avp::CC_REQUEST_TYPE, kind);
    m.add(avp::CC_REQUEST_NUMBER, number);
    m
}

/// A CCR-Initial for `imsi` with UE address `ip` on APN `meters.example` over E-UTRAN.
pub fn ccr_i(pgw: &str, session: &str, imsi: &str, ip: [u8; 4]) -> Message {
    let mut m = ccr(pgw, session, 1, 0);
    m.add(
        avp::SUBSCRIPTION_ID,
        vec![Avp::new(avp::SUBSCRIPTION_ID_TYPE, 1u32), Avp::new(avp::SUBSCRIPTION_ID_DATA, imsi)],
    );
    m.add(
        avp::SUBSCRIPTION_ID,
        vec![Avp::new(avp::SUBSCRIPTION_ID_TYPE, 0u32), Avp::new(avp::SUBSCRIPTION_ID_DATA, "491701234567")],
    );
    m.add(avp::FRAMED_IP_ADDRESS, &ip);
    m.add(avp::IP_CAN_TYPE, 5u32);
    m.add(avp::RAT_TYPE, 1004u32);
    m.add(avp::THREE_GPP_SGSN_MCC_MNC, "00101");
    m.add(avp::CALLED_STATION_ID, "meters.example");
    m
}

/// A CCR-Update reporting `up`/`down` octets on the session-level monitoring key.
pub fn ccr_u_usage(pgw: &str, session: &str, number: u32, up: u64, down: u64) -> Message {
    let mut m = ccr(pgw, session, 2, number);
    m.add(avp::EVENT_TRIGGER, 33u32);
    m.add(
        avp::USAGE_MONITORING_INFORMATION,
        vec![
            Avp::new(avp::MONITORING_KEY, b"warden"),
            Avp::new(
                avp::USED_SERVICE_UNIT,
                vec![
                    Avp::new(avp::CC_TOTAL_OCTETS, up + down),
                    Avp::new(avp::CC_INPUT_OCTETS, up),
                    Avp::new(avp::CC_OUTPUT_OCTETS, down),
                ],
            ),
            Avp::new(avp::USAGE_MONITORING_LEVEL, 0u32),
        ],
    );
    m
}

/// The Experimental-Result-Code of an answer and its Vendor-Id.
pub fn experimental(a: &Message) -> Option<(u32, u32)> {
    let e = a.get(avp::EXPERIMENTAL_RESULT)?;
    Some((e.child(avp::VENDOR_ID)?.as_u32()?, e.child(avp::EXPERIMENTAL_RESULT_CODE)?.as_u32()?))
}

/// The Charging-Rule-Definitions and predefined Charging-Rule-Names of every Charging-Rule-Install,
/// as the PCEF reads them: from the message's bytes (a CCA's Charging-Rule-Install is made as
/// encoded bytes once per policy read, not as a tree).
pub fn installed(m: &Message) -> (Vec<Avp>, Vec<String>) {
    let m = Message::decode(&m.encode()).expect("the message decodes");
    let mut defs = Vec::new();
    let mut names = Vec::new();
    for i in m.get_all(avp::CHARGING_RULE_INSTALL) {
        for a in i.as_grouped().unwrap() {
            if a.is(avp::CHARGING_RULE_DEFINITION) {
                defs.push(a.clone());
            } else if a.is(avp::CHARGING_RULE_NAME) {
                names.push(String::from_utf8(a.as_bytes().unwrap().to_vec()).unwrap());
            }
        }
    }
    (defs, names)
}

/// The names of every Charging-Rule-Remove.
pub fn removed(m: &Message) -> Vec<String> {
    m.get_all(avp::CHARGING_RULE_REMOVE)
        .flat_map(|r| r.as_grouped().unwrap().iter())
        .map(|n| String::from_utf8(n.as_bytes().unwrap().to_vec()).unwrap())
        .collect()
}

/// A rule definition's name, precedence, Flow-Status and Flow-Descriptions.
pub fn rule(def: &Avp) -> (String, u32, u32, Vec<String>) {
    let name = String::from_utf8(def.child(avp::CHARGING_RULE_NAME).unwrap().as_bytes().unwrap().to_vec()).unwrap();
    let flows = def
        .as_grouped()
        .unwrap()
        .iter()
        .filter(|a| a.is(avp::FLOW_INFORMATION))
        .map(|f| f.child(avp::FLOW_DESCRIPTION).unwrap().as_str().unwrap().to_string())
        .collect();
    (
        name,
        def.child(avp::PRECEDENCE).unwrap().as_u32().unwrap(),
        def.child(avp::FLOW_STATUS).unwrap().as_u32().unwrap(),
        flows,
    )
}

/// How the stand-in P-GW answers what the PCRF sends.
pub const ANSWER_SUCCESS: u32 = 0;
pub const ANSWER_NOTHING: u32 = 1;
pub const ANSWER_UNKNOWN_SESSION: u32 = 2;
/// DIAMETER_TOO_BUSY once, then success.
pub const ANSWER_BUSY_ONCE: u32 = 3;

/// A stand-in P-GW: records every request and answers it as `mode` says.
pub struct Pgw {
    pub host: &'static str,
    pub mode: Arc<AtomicU32>,
    requests: mpsc::UnboundedSender<Message>,
}

impl Handler for Pgw {
    async fn handle(&self, req: Message, _peer: PeerHandle) -> Option<Message> {
        let _ = self.requests.send(req.clone());
        let code = match self.mode.load(Ordering::SeqCst) {
            ANSWER_NOTHING => return None,
            ANSWER_UNKNOWN_SESSION => rc::UNKNOWN_SESSION_ID,
            ANSWER_BUSY_ONCE => {
                self.mode.store(ANSWER_SUCCESS, Ordering::SeqCst);
                rc::TOO_BUSY
            }
            _ => rc::SUCCESS,
        };
        let mut a = Message::answer_to(&req.header, req.session_id());
        if rc::is_protocol_error(code) {
            a.header.flags |= diameter::header::flags::E;
        }
        a.add(avp::RESULT_CODE, code);
        a.add(avp::ORIGIN_HOST, self.host);
        a.add(avp::ORIGIN_REALM, REALM);
        Some(a)
    }
}

pub struct PgwLink {
    pub peer: PeerHandle,
    pub inbox: mpsc::UnboundedReceiver<Message>,
    pub mode: Arc<AtomicU32>,
}

impl PgwLink {
    /// Sends a request and waits at most 5 s for the answer.
    pub async fn ask(&self, m: Message) -> Message {
        tokio::time::timeout(Duration::from_secs(5), self.peer.request(m))
            .await
            .expect("answer in time")
            .expect("answer")
    }

    /// The next request the PCRF sent, within `within`.
    pub async fn next(&mut self, within: Duration) -> Option<Message> {
        tokio::time::timeout(within, self.inbox.recv()).await.ok().flatten()
    }
}

/// Serves `pcrf` on a loopback port (Gx only); the server stops when the token is cancelled.
pub async fn serve_pcrf(pcrf: Arc<Pcrf>) -> (SocketAddr, tokio_util::sync::CancellationToken) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = tokio_util::sync::CancellationToken::new();
    let allow: Arc<dyn PeerAuthorizer> = Arc::new(|_: &PeerIdentity| true);
    let server = ServerConfig {
        peer: PeerConfig::new(PCRF, REALM, vec![Application::GX]),
        authorizer: allow,
        limits: ConnectionLimits::default(),
        tls: None,
    };
    tokio::spawn(serve(listener, server, pcrf, stop.clone()));
    (addr, stop)
}

/// Connects a P-GW named `host` with Origin-State-Id `state`.
pub async fn connect_pgw(addr: SocketAddr, host: &'static str, state: u32) -> PgwLink {
    let (requests, inbox) = mpsc::unbounded_channel();
    let mode = Arc::new(AtomicU32::new(ANSWER_SUCCESS));
    let allow: Arc<dyn PeerAuthorizer> = Arc::new(|_: &PeerIdentity| true);
    let mut cfg = PeerConfig::new(host, REALM, vec![Application::GX]);
    cfg.origin_state_id = state;
    let handler = Arc::new(Pgw { host, mode: mode.clone(), requests });
    let (peer, _) = connect_with(addr, cfg, allow, ConnectionLimits::default(), None, handler).await.unwrap();
    PgwLink { peer, inbox, mode }
}

/// Forwards `cmp`'s notifications to the PCRF, as the `warden` binary does.
pub struct Notifier(pub Arc<Pcrf>);

impl cmp::HssNotifier for Notifier {
    fn status_changed(&self, before: &Sim, _to: SimStatus) {
        self.0.sim_changed(&before.imsi);
    }
    fn profile_changed(&self, before: &Sim) {
        self.0.sim_changed(&before.imsi);
    }
    fn policy_changed(&self, imsi: &Imsi) {
        self.0.policy_changed(imsi);
    }
}

pub fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}
