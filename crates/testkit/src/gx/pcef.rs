//! The test P-GW itself: a Gx client that connects (CER with Gx, Origin-State-Id), opens, updates
//! and terminates IP-CAN sessions with CCR, applies what the CCA and every RAR install to its own
//! table, answers RAR with RAA and ASR with ASA, and hands every request it got to the test.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use diameter::header::{flags, Header, VERSION};
use diameter::peer::{Application, PeerAuthorizer, PeerConfig, PeerIdentity};
use diameter::transport::{connect_with, ConnectionLimits, Handler, PeerHandle};
use diameter::{Avp, Message};
use tokio::sync::mpsc;

use super::codes::{self, base, request_type, result, subscription_id_type, tgpp, GX_APPLICATION_ID, VENDOR_3GPP};
use super::raw::{child_u32, find, ietf, str_of, tgpp as t, u32_of};
use super::rules::{Direction, Installed, Packet, PccRule, RuleFailure, Verdict};

/// Gx as a CER advertises it: Vendor-Specific-Application-Id with Vendor-Id 10415.
pub const GX: Application = Application { id: GX_APPLICATION_ID, vendor: Some(VENDOR_3GPP) };

/// What the P-GW tells the PCRF about a new IP-CAN session (CCR-I, TS 29.212 §5.6.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionSpec {
    /// The IMSI (Subscription-Id END_USER_IMSI).
    pub imsi: String,
    /// The MSISDN (Subscription-Id END_USER_E164), when known.
    pub msisdn: Option<String>,
    /// The APN (Called-Station-Id).
    pub apn: String,
    /// The UE's IPv4 address (Framed-IP-Address).
    pub ue_ipv4: Ipv4Addr,
    /// The UE's IPv6 prefix and its length (Framed-IPv6-Prefix).
    pub ue_ipv6_prefix: Option<(Ipv6Addr, u8)>,
    /// RAT-Type (1004 EUTRAN).
    pub rat_type: u32,
    /// 3GPP-SGSN-MCC-MNC of the serving network ("00101").
    pub sgsn_mcc_mnc: String,
    /// IP-CAN-Type (5 3GPP-EPS).
    pub ip_can_type: u32,
    /// Supported-Features (Feature-List-ID, Feature-List) for Gx, when sent.
    pub supported_features: Option<(u32, u32)>,
}

impl SessionSpec {
    /// A session over E-UTRAN in PLMN 001 01 with IPv4 only and no MSISDN.
    pub fn new(imsi: &str, apn: &str, ue_ipv4: Ipv4Addr) -> Self {
        Self {
            imsi: imsi.to_string(),
            msisdn: None,
            apn: apn.to_string(),
            ue_ipv4,
            ue_ipv6_prefix: None,
            rat_type: codes::RAT_EUTRAN,
            sgsn_mcc_mnc: "00101".to_string(),
            ip_can_type: codes::IP_CAN_3GPP_EPS,
            supported_features: None,
        }
    }
}

/// Usage of one Monitoring-Key for a CCR-U (Usage-Monitoring-Information, TS 29.212 §5.3.60).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Usage {
    /// Monitoring-Key.
    pub monitoring_key: Vec<u8>,
    /// CC-Input-Octets (uplink).
    pub input_octets: u64,
    /// CC-Output-Octets (downlink).
    pub output_octets: u64,
    /// Usage-Monitoring-Level, when sent (0 session, 1 PCC rule).
    pub level: Option<u32>,
}

/// Where an IP-CAN session stands at the P-GW.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionState {
    /// Open.
    Active,
    /// The PCRF asked to release it (ASR, or RAR with Session-Release-Cause).
    ReleaseRequested,
    /// CCR-T sent.
    Terminated,
}

/// One IP-CAN session and the policy installed on it.
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    /// Session-Id.
    pub id: String,
    /// What the CCR-I said.
    pub spec: SessionSpec,
    /// Where it stands.
    pub state: SessionState,
    /// Rules, triggers, QoS and monitoring installed by CCA and RAR.
    pub installed: Installed,
    /// The next CC-Request-Number.
    next_number: u32,
}

impl Session {
    /// True when `ip` is one of the UE's addresses (what `assigned` stands for).
    pub fn is_ue(&self, ip: IpAddr) -> bool {
        match ip {
            IpAddr::V4(a) => a == self.spec.ue_ipv4,
            IpAddr::V6(a) => self.spec.ue_ipv6_prefix.is_some_and(|(p, len)| {
                let keep = u32::from(len.min(128));
                keep == 0 || (u128::from(a) >> (128 - keep)) == (u128::from(p) >> (128 - keep))
            }),
        }
    }

    /// True when `rule` drops every packet of this UE (see [`PccRule::is_deny_all_for`]).
    pub fn is_deny_all(&self, rule: &PccRule) -> bool {
        rule.is_deny_all_for(&|ip| self.is_ue(ip))
    }

    /// What the rules do with an uplink packet from the UE to `remote` port `port` over `proto`.
    pub fn decide(&self, remote: IpAddr, port: Option<u16>, proto: u8) -> Verdict {
        let ue = match remote {
            IpAddr::V4(_) => IpAddr::V4(self.spec.ue_ipv4),
            IpAddr::V6(_) => IpAddr::V6(self.spec.ue_ipv6_prefix.map(|(p, _)| p).unwrap_or(Ipv6Addr::UNSPECIFIED)),
        };
        let p = Packet { direction: Direction::Uplink, ue, ue_port: None, remote, remote_port: port, proto };
        self.installed.decide(&p, &|ip| self.is_ue(ip))
    }

    /// True when the UE may send to `remote`:`port` over `proto` (6 TCP, 17 UDP, 1 ICMP): the
    /// first rule by precedence whose filter matches has its flows enabled uplink.
    pub fn allows(&self, remote: IpAddr, port: u16, proto: u8) -> bool {
        matches!(self.decide(remote, Some(port), proto), Verdict::Pass(_))
    }
}

/// How the PCRF asked to release a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReleaseBy {
    /// RAR with Session-Release-Cause (TS 29.212 §4.5.6, the Gx way).
    Rar {
        /// Session-Release-Cause.
        cause: u32,
    },
    /// ASR (RFC 6733 §8.5), with Auth-Session-State and so on as sent.
    Asr,
}

/// A release of an IP-CAN session the PCRF asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Release {
    /// Session-Id.
    pub session_id: String,
    /// By which request.
    pub by: ReleaseBy,
    /// True when the session was known to the P-GW.
    pub known: bool,
}

/// A CCA, with the Session-Id it answers.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// The Session-Id of the CCR.
    pub session_id: String,
    /// The CCA.
    pub message: Message,
}

impl Answer {
    /// Result-Code at the top level.
    pub fn result_code(&self) -> Option<u32> {
        find(&self.message.avps, base::RESULT_CODE, 0).and_then(u32_of)
    }

    /// Experimental-Result (Vendor-Id, Experimental-Result-Code).
    pub fn experimental_result(&self) -> Option<(u32, u32)> {
        let e = find(&self.message.avps, base::EXPERIMENTAL_RESULT, 0)?;
        Some((child_u32(e, base::VENDOR_ID, 0).unwrap_or(0), child_u32(e, base::EXPERIMENTAL_RESULT_CODE, 0)?))
    }

    /// Result-Code, or else the Experimental-Result-Code.
    pub fn code(&self) -> Option<u32> {
        self.result_code().or_else(|| self.experimental_result().map(|(_, c)| c))
    }

    /// True for DIAMETER_SUCCESS.
    pub fn is_success(&self) -> bool {
        self.result_code() == Some(result::SUCCESS)
    }

    /// The AVPs inside Failed-AVP.
    pub fn failed_avps(&self) -> Vec<Avp> {
        find(&self.message.avps, base::FAILED_AVP, 0).and_then(super::raw::children).unwrap_or_default()
    }
}

/// What the P-GW's connection handler shares with it.
struct Shared {
    host: String,
    realm: String,
    destination_realm: String,
    origin_state_id: AtomicU32,
    next_session: AtomicU64,
    sessions: Mutex<HashMap<String, Session>>,
    auto_terminate: AtomicBool,
    /// When not 0: the Result-Code every RAR and ASR is answered with, without acting on it (a
    /// PCEF that fails).
    refuse_with: AtomicU32,
    received: Mutex<Vec<Message>>,
    rars: mpsc::UnboundedSender<Message>,
    asrs: mpsc::UnboundedSender<Message>,
    releases: mpsc::UnboundedSender<Release>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn gx_message(code: u32, request: bool) -> Message {
    let r = if request { flags::R } else { 0 };
    Message {
        header: Header {
            version: VERSION,
            length: 0,
            flags: r | flags::P,
            code,
            app_id: GX_APPLICATION_ID,
            hop_by_hop: 0,
            end_to_end: 0,
        },
        avps: Vec::new(),
    }
}

impl Shared {
    /// Session-Id, Auth-Application-Id, Origin-*, Destination-Realm, CC-Request-Type and -Number:
    /// the head of every CCR (TS 29.212 §5.6.2).
    fn ccr_head(&self, session_id: &str, kind: u32, number: u32) -> Message {
        let mut m = gx_message(codes::CREDIT_CONTROL, true);
        m.push(ietf(base::SESSION_ID, session_id));
        m.push(ietf(base::AUTH_APPLICATION_ID, GX_APPLICATION_ID));
        m.push(ietf(base::ORIGIN_HOST, self.host.as_str()));
        m.push(ietf(base::ORIGIN_REALM, self.realm.as_str()));
        m.push(ietf(base::DESTINATION_REALM, self.destination_realm.as_str()));
        m.push(ietf(base::CC_REQUEST_TYPE, kind));
        m.push(ietf(base::CC_REQUEST_NUMBER, number));
        m
    }

    /// The next CC-Request-Number of a session (1 for one the P-GW does not know).
    fn next_number(&self, session_id: &str) -> u32 {
        let mut sessions = lock(&self.sessions);
        match sessions.get_mut(session_id) {
            Some(s) => {
                let n = s.next_number;
                s.next_number += 1;
                n
            }
            None => 1,
        }
    }

    fn ccr_terminate(&self, session_id: &str) -> Message {
        let mut m = self.ccr_head(session_id, request_type::TERMINATION, self.next_number(session_id));
        m.push(ietf(base::ORIGIN_STATE_ID, self.origin_state_id.load(Ordering::Relaxed)));
        m.push(ietf(base::TERMINATION_CAUSE, codes::TERMINATION_LOGOUT));
        m
    }

    fn answer(&self, req: &Message, code: u32) -> Message {
        let mut a = gx_message(req.header.code, false);
        a.header = Header { flags: req.header.flags & flags::P, ..req.header };
        if let Some(s) = find(&req.avps, base::SESSION_ID, 0).and_then(str_of) {
            a.push(ietf(base::SESSION_ID, s));
        }
        a.push(ietf(base::ORIGIN_HOST, self.host.as_str()));
        a.push(ietf(base::ORIGIN_REALM, self.realm.as_str()));
        a.push(ietf(base::RESULT_CODE, code));
        a
    }

    /// RAR: apply to the session, answer RAA (TS 29.212 §5.6.5) with a Charging-Rule-Report per
    /// rule that failed. Returns the answer and whether the PCRF asked for a release.
    fn on_rar(&self, req: &Message, sid: &str) -> (Message, Option<Release>) {
        let mut sessions = lock(&self.sessions);
        let Some(s) = sessions.get_mut(sid).filter(|s| s.state != SessionState::Terminated) else {
            return (self.answer(req, result::UNKNOWN_SESSION_ID), None);
        };
        let failed = s.installed.apply(&req.avps);
        let release = find(&req.avps, tgpp::SESSION_RELEASE_CAUSE, VENDOR_3GPP).and_then(u32_of).map(|cause| {
            s.state = SessionState::ReleaseRequested;
            Release { session_id: sid.to_string(), by: ReleaseBy::Rar { cause }, known: true }
        });
        let mut a = self.answer(req, result::SUCCESS);
        a.push(ietf(base::ORIGIN_STATE_ID, self.origin_state_id.load(Ordering::Relaxed)));
        for f in failed {
            a.push(rule_report(&f));
        }
        (a, release)
    }

    fn on_asr(&self, req: &Message, sid: &str) -> (Message, Release) {
        let mut sessions = lock(&self.sessions);
        let known = match sessions.get_mut(sid).filter(|s| s.state != SessionState::Terminated) {
            Some(s) => {
                s.state = SessionState::ReleaseRequested;
                true
            }
            None => false,
        };
        let code = if known { result::SUCCESS } else { result::UNKNOWN_SESSION_ID };
        (self.answer(req, code), Release { session_id: sid.to_string(), by: ReleaseBy::Asr, known })
    }
}

fn rule_report(f: &RuleFailure) -> Avp {
    t(
        tgpp::CHARGING_RULE_REPORT,
        true,
        vec![
            t(tgpp::CHARGING_RULE_NAME, true, f.name.as_bytes().to_vec()),
            t(tgpp::PCC_RULE_STATUS, true, codes::PCC_RULE_INACTIVE),
            t(tgpp::RULE_FAILURE_CODE, true, f.code),
        ],
    )
}

/// The connection handler: RAR and ASR from the PCRF.
struct Pcef {
    shared: Arc<Shared>,
}

impl Handler for Pcef {
    async fn handle(&self, req: Message, peer: PeerHandle) -> Option<Message> {
        let sh = &self.shared;
        lock(&sh.received).push(req.clone());
        let sid = find(&req.avps, base::SESSION_ID, 0).and_then(str_of).unwrap_or_default().to_string();
        let refuse = sh.refuse_with.load(Ordering::Relaxed);
        let (answer, release) = match (req.header.app_id, req.header.code) {
            (GX_APPLICATION_ID, code @ (codes::RE_AUTH | codes::ABORT_SESSION)) if refuse != 0 => {
                let a = sh.answer(&req, refuse);
                let _ = if code == codes::RE_AUTH { sh.rars.send(req) } else { sh.asrs.send(req) };
                (a, None)
            }
            (GX_APPLICATION_ID, codes::RE_AUTH) => {
                let (a, r) = sh.on_rar(&req, &sid);
                let _ = sh.rars.send(req);
                (a, r)
            }
            (GX_APPLICATION_ID, codes::ABORT_SESSION) => {
                let (a, r) = sh.on_asr(&req, &sid);
                let _ = sh.asrs.send(req);
                (a, Some(r).filter(|r| r.known))
            }
            _ => (sh.answer(&req, diameter::result_code::COMMAND_UNSUPPORTED), None),
        };
        if let Some(r) = release {
            let _ = sh.releases.send(r);
            if sh.auto_terminate.load(Ordering::Relaxed) {
                // As a PCEF does: the release is acknowledged first, then the session ends with CCR-T.
                let shared = self.shared.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    let m = shared.ccr_terminate(&sid);
                    if peer.request(m).await.is_ok() {
                        if let Some(s) = lock(&shared.sessions).get_mut(&sid) {
                            s.state = SessionState::Terminated;
                        }
                    }
                });
            }
        }
        Some(answer)
    }
}

/// A test P-GW (PCEF) on Gx.
pub struct Pgw {
    shared: Arc<Shared>,
    addr: SocketAddr,
    link: Mutex<PeerHandle>,
    rars: tokio::sync::Mutex<mpsc::UnboundedReceiver<Message>>,
    asrs: tokio::sync::Mutex<mpsc::UnboundedReceiver<Message>>,
    releases: tokio::sync::Mutex<mpsc::UnboundedReceiver<Release>>,
}

async fn open(addr: SocketAddr, shared: &Arc<Shared>) -> std::io::Result<PeerHandle> {
    let allow: Arc<dyn PeerAuthorizer> = Arc::new(|_: &PeerIdentity| true);
    let mut cfg = PeerConfig::new(&shared.host, &shared.realm, vec![GX]);
    cfg.origin_state_id = shared.origin_state_id.load(Ordering::Relaxed);
    cfg.product_name = "testkit P-GW".to_string();
    let handler = Arc::new(Pcef { shared: shared.clone() });
    let connecting = connect_with(addr, cfg, allow, ConnectionLimits::default(), None, handler);
    let (peer, _) = tokio::time::timeout(Duration::from_secs(5), connecting)
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "no CEA in 5 s"))??;
    Ok(peer)
}

fn wall_clock_state() -> u32 {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    now.as_secs() as u32
}

impl Pgw {
    /// Connects as `host` in `realm` to the PCRF at `addr` (whose realm is taken to be `realm` too):
    /// CER with Gx and an Origin-State-Id from the clock. Fails when refused or without CEA in 5 s.
    pub async fn connect(addr: SocketAddr, host: &str, realm: &str) -> std::io::Result<Pgw> {
        Self::connect_with_state(addr, host, realm, realm, wall_clock_state()).await
    }

    /// Like [`Pgw::connect`] with the PCRF's realm and the Origin-State-Id given.
    pub async fn connect_with_state(
        addr: SocketAddr,
        host: &str,
        realm: &str,
        destination_realm: &str,
        origin_state_id: u32,
    ) -> std::io::Result<Pgw> {
        let (rars_tx, rars) = mpsc::unbounded_channel();
        let (asrs_tx, asrs) = mpsc::unbounded_channel();
        let (releases_tx, releases) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            host: host.to_string(),
            realm: realm.to_string(),
            destination_realm: destination_realm.to_string(),
            origin_state_id: AtomicU32::new(origin_state_id),
            next_session: AtomicU64::new(1),
            sessions: Mutex::new(HashMap::new()),
            auto_terminate: AtomicBool::new(true),
            refuse_with: AtomicU32::new(0),
            received: Mutex::new(Vec::new()),
            rars: rars_tx,
            asrs: asrs_tx,
            releases: releases_tx,
        });
        let peer = open(addr, &shared).await?;
        Ok(Pgw {
            shared,
            addr,
            link: Mutex::new(peer),
            rars: tokio::sync::Mutex::new(rars),
            asrs: tokio::sync::Mutex::new(asrs),
            releases: tokio::sync::Mutex::new(releases),
        })
    }

    /// A PCEF restart: the connection is closed (DPR), every session forgotten, and a new
    /// connection opened with a higher Origin-State-Id, which tells the PCRF that the sessions of
    /// the old state are gone (RFC 6733 §8.16).
    pub async fn reconnect_with_new_state(&self) -> std::io::Result<u32> {
        let old = self.peer();
        old.disconnect(0).await;
        for _ in 0..100 {
            if !old.is_open() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let state = self.shared.origin_state_id.fetch_add(1, Ordering::Relaxed) + 1;
        lock(&self.shared.sessions).clear();
        let peer = open(self.addr, &self.shared).await?;
        *lock(&self.link) = peer;
        Ok(state)
    }

    /// A lost connection: it is closed (DPR) and opened again with the same Origin-State-Id, so
    /// the P-GW keeps its sessions and the PCRF its own of them.
    pub async fn reconnect(&self) -> std::io::Result<()> {
        let old = self.peer();
        old.disconnect(0).await;
        for _ in 0..100 {
            if !old.is_open() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let peer = open(self.addr, &self.shared).await?;
        *lock(&self.link) = peer;
        Ok(())
    }

    /// Answers every RAR and ASR with `code` without acting on it (a failing PCEF), or again as a
    /// PCEF does with `None`. Such requests are still handed to the test ([`Pgw::next_rar`],
    /// [`Pgw::next_asr`], [`Pgw::received`]).
    pub fn refuse_with(&self, code: Option<u32>) {
        self.shared.refuse_with.store(code.unwrap_or(0), Ordering::Relaxed);
    }

    /// The Origin-State-Id now in use.
    pub fn origin_state_id(&self) -> u32 {
        self.shared.origin_state_id.load(Ordering::Relaxed)
    }

    /// Whether the P-GW ends a session with CCR-T by itself when the PCRF asks for its release
    /// (default: yes, as a PCEF does).
    pub fn set_auto_terminate(&self, on: bool) {
        self.shared.auto_terminate.store(on, Ordering::Relaxed);
    }

    /// The connection (to send anything, or to disconnect).
    pub fn peer(&self) -> PeerHandle {
        lock(&self.link).clone()
    }

    /// A new Session-Id: `<host>;<origin-state-id>;<n>` (RFC 6733 §8.8).
    pub fn new_session_id(&self) -> String {
        let n = self.shared.next_session.fetch_add(1, Ordering::Relaxed);
        format!("{};{};{n}", self.shared.host, self.origin_state_id())
    }

    /// The CCR-I for `s` on session `session_id`, as [`Pgw::ccr_initial`] sends it (tests remove
    /// or spoil AVPs of it and send it with [`Pgw::send`]).
    pub fn build_ccr_initial(&self, session_id: &str, s: &SessionSpec) -> Message {
        let mut m = self.shared.ccr_head(session_id, request_type::INITIAL, 0);
        m.push(ietf(base::ORIGIN_STATE_ID, self.origin_state_id()));
        let sub = |kind: u32, data: &str| {
            ietf(
                base::SUBSCRIPTION_ID,
                vec![ietf(base::SUBSCRIPTION_ID_TYPE, kind), ietf(base::SUBSCRIPTION_ID_DATA, data)],
            )
        };
        m.push(sub(subscription_id_type::IMSI, &s.imsi));
        if let Some(msisdn) = &s.msisdn {
            m.push(sub(subscription_id_type::E164, msisdn));
        }
        if let Some((list_id, list)) = s.supported_features {
            m.push(t(
                tgpp::SUPPORTED_FEATURES,
                false,
                vec![
                    ietf(base::VENDOR_ID, VENDOR_3GPP),
                    t(tgpp::FEATURE_LIST_ID, false, list_id),
                    t(tgpp::FEATURE_LIST, false, list),
                ],
            ));
        }
        m.push(t(tgpp::IP_CAN_TYPE, true, s.ip_can_type));
        m.push(t(tgpp::RAT_TYPE, false, s.rat_type));
        m.push(ietf(base::FRAMED_IP_ADDRESS, s.ue_ipv4.octets().to_vec()));
        if let Some((prefix, len)) = s.ue_ipv6_prefix {
            // RFC 3162 §2.3: Reserved, Prefix-Length, then the prefix bytes that the length covers.
            let mut b = vec![0, len];
            b.extend_from_slice(&prefix.octets()[..usize::from(len.min(128)).div_ceil(8)]);
            m.push(ietf(base::FRAMED_IPV6_PREFIX, b));
        }
        m.push(t(tgpp::SGSN_MCC_MNC, false, s.sgsn_mcc_mnc.as_str()));
        m.push(ietf(base::CALLED_STATION_ID, s.apn.as_str()));
        m
    }

    /// Opens an IP-CAN session: CCR-I, and on DIAMETER_SUCCESS the session with what the CCA
    /// installed (see [`Pgw::session`]).
    pub async fn ccr_initial(&self, s: &SessionSpec) -> Answer {
        let sid = self.new_session_id();
        let cca = self.send(self.build_ccr_initial(&sid, s)).await;
        let answer = Answer { session_id: sid.clone(), message: cca };
        if answer.is_success() {
            let mut installed = Installed::default();
            installed.apply(&answer.message.avps);
            let session =
                Session { id: sid.clone(), spec: s.clone(), state: SessionState::Active, installed, next_number: 1 };
            lock(&self.shared.sessions).insert(sid, session);
        }
        answer
    }

    /// Reports usage with CCR-U (Event-Trigger USAGE_REPORT and a Usage-Monitoring-Information per
    /// key) and applies what the CCA installs.
    pub async fn ccr_update(&self, session_id: &str, usage: &[Usage]) -> Answer {
        let number = self.shared.next_number(session_id);
        let mut m = self.shared.ccr_head(session_id, request_type::UPDATE, number);
        m.push(ietf(base::ORIGIN_STATE_ID, self.origin_state_id()));
        if !usage.is_empty() {
            m.push(t(tgpp::EVENT_TRIGGER, true, codes::EVENT_USAGE_REPORT));
        }
        for u in usage {
            let used = vec![
                ietf(base::CC_TOTAL_OCTETS, u.input_octets + u.output_octets),
                ietf(base::CC_INPUT_OCTETS, u.input_octets),
                ietf(base::CC_OUTPUT_OCTETS, u.output_octets),
            ];
            let mut umi =
                vec![t(tgpp::MONITORING_KEY, true, u.monitoring_key.clone()), ietf(base::USED_SERVICE_UNIT, used)];
            if let Some(level) = u.level {
                umi.push(t(tgpp::USAGE_MONITORING_LEVEL, true, level));
            }
            m.push(t(tgpp::USAGE_MONITORING_INFORMATION, true, umi));
        }
        let answer = Answer { session_id: session_id.to_string(), message: self.send(m).await };
        if answer.is_success() {
            if let Some(s) = lock(&self.shared.sessions).get_mut(session_id) {
                s.installed.apply(&answer.message.avps);
            }
        }
        answer
    }

    /// Ends an IP-CAN session with CCR-T (Termination-Cause DIAMETER_LOGOUT).
    pub async fn ccr_terminate(&self, session_id: &str) -> Answer {
        let m = self.shared.ccr_terminate(session_id);
        let answer = Answer { session_id: session_id.to_string(), message: self.send(m).await };
        if let Some(s) = lock(&self.shared.sessions).get_mut(session_id) {
            s.state = SessionState::Terminated;
        }
        answer
    }

    /// Sends any request and waits at most 5 s for its answer (panics otherwise: a test failure).
    pub async fn send(&self, m: Message) -> Message {
        let peer = self.peer();
        match tokio::time::timeout(Duration::from_secs(5), peer.request(m)).await {
            Ok(Ok(a)) => a,
            Ok(Err(e)) => panic!("Gx request failed: {e}"),
            Err(_) => panic!("no Gx answer within 5 s"),
        }
    }

    /// A copy of one session.
    pub fn session(&self, session_id: &str) -> Option<Session> {
        lock(&self.shared.sessions).get(session_id).cloned()
    }

    /// Copies of every session the P-GW knows.
    pub fn sessions(&self) -> Vec<Session> {
        lock(&self.shared.sessions).values().cloned().collect()
    }

    /// The next RAR the PCRF sent (already applied to the session and answered), waiting at most
    /// `wait`.
    pub async fn next_rar(&self, wait: Duration) -> Option<Message> {
        tokio::time::timeout(wait, self.rars.lock().await.recv()).await.ok().flatten()
    }

    /// The next ASR the PCRF sent (already answered), waiting at most `wait`.
    pub async fn next_asr(&self, wait: Duration) -> Option<Message> {
        tokio::time::timeout(wait, self.asrs.lock().await.recv()).await.ok().flatten()
    }

    /// The next release of a known session the PCRF asked for (by ASR or by RAR with
    /// Session-Release-Cause), waiting at most `wait`.
    pub async fn next_release(&self, wait: Duration) -> Option<Release> {
        tokio::time::timeout(wait, self.releases.lock().await.recv()).await.ok().flatten()
    }

    /// Every request the PCRF sent, in order.
    pub fn received(&self) -> Vec<Message> {
        lock(&self.shared.received).clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shared() -> (Arc<Shared>, mpsc::UnboundedReceiver<Message>) {
        let (rars, rx) = mpsc::unbounded_channel();
        let (asrs, _) = mpsc::unbounded_channel();
        let (releases, _) = mpsc::unbounded_channel();
        let sh = Shared {
            host: "pgw.home.example".into(),
            realm: "home.example".into(),
            destination_realm: "home.example".into(),
            origin_state_id: AtomicU32::new(7),
            next_session: AtomicU64::new(1),
            sessions: Mutex::new(HashMap::new()),
            auto_terminate: AtomicBool::new(false),
            refuse_with: AtomicU32::new(0),
            received: Mutex::new(Vec::new()),
            rars,
            asrs,
            releases,
        };
        let spec = SessionSpec::new("001010000000001", "internet", Ipv4Addr::new(10, 45, 0, 2));
        let s = Session {
            id: "s1".into(),
            spec,
            state: SessionState::Active,
            installed: Installed::default(),
            next_number: 1,
        };
        lock(&sh.sessions).insert("s1".into(), s);
        (Arc::new(sh), rx)
    }

    fn rar(sid: &str, extra: Vec<Avp>) -> Message {
        let mut m = gx_message(codes::RE_AUTH, true);
        m.header.hop_by_hop = 42;
        m.push(ietf(base::SESSION_ID, sid));
        m.push(ietf(base::ORIGIN_HOST, "hss.home.example"));
        m.avps.extend(extra);
        m
    }

    fn def(name: &str, desc: &str) -> Avp {
        t(
            tgpp::CHARGING_RULE_DEFINITION,
            true,
            vec![
                t(tgpp::CHARGING_RULE_NAME, true, name.as_bytes().to_vec()),
                t(
                    tgpp::FLOW_INFORMATION,
                    true,
                    vec![t(tgpp::FLOW_DESCRIPTION, true, desc), t(tgpp::FLOW_DIRECTION, true, 3u32)],
                ),
                t(tgpp::PRECEDENCE, true, 10u32),
            ],
        )
    }

    #[test]
    fn rar_installs_rules_and_is_answered_with_raa() {
        let (sh, _) = shared();
        let install = t(
            tgpp::CHARGING_RULE_INSTALL,
            true,
            vec![
                def("web", "permit out 6 from 198.51.100.0/24 443 to assigned"),
                def("bad", "permit out tcp from any to assigned"),
            ],
        );
        let (raa, release) = sh.on_rar(&rar("s1", vec![install]), "s1");
        assert!(release.is_none());
        assert!(!raa.is_request());
        assert_eq!(
            (raa.header.code, raa.header.app_id, raa.header.hop_by_hop),
            (codes::RE_AUTH, GX_APPLICATION_ID, 42)
        );
        assert_eq!(find(&raa.avps, base::RESULT_CODE, 0).and_then(u32_of), Some(result::SUCCESS));
        assert_eq!(find(&raa.avps, base::SESSION_ID, 0).and_then(str_of), Some("s1"));
        let report = find(&raa.avps, tgpp::CHARGING_RULE_REPORT, VENDOR_3GPP).expect("the bad rule is reported");
        assert_eq!(
            child_u32(report, tgpp::RULE_FAILURE_CODE, VENDOR_3GPP),
            Some(codes::rule_failure::INCORRECT_FLOW_INFORMATION)
        );
        let s = lock(&sh.sessions)["s1"].clone();
        assert!(s.allows("198.51.100.1".parse().unwrap(), 443, 6));
        assert!(!s.allows("198.51.100.1".parse().unwrap(), 443, 17));
        assert!(!s.allows("198.51.100.1".parse().unwrap(), 80, 6));
        assert!(!s.allows("192.0.2.1".parse().unwrap(), 443, 6));
        // Encodes and decodes as a well-formed answer.
        let bytes = raa.encode();
        assert_eq!(Message::decode(&bytes).unwrap().avps.len(), raa.avps.len());
    }

    #[test]
    fn unknown_sessions_get_5002_and_release_requests_are_seen() {
        let (sh, _) = shared();
        let (raa, _) = sh.on_rar(&rar("nope", vec![]), "nope");
        assert_eq!(find(&raa.avps, base::RESULT_CODE, 0).and_then(u32_of), Some(result::UNKNOWN_SESSION_ID));
        let (raa, release) = sh.on_rar(&rar("s1", vec![t(tgpp::SESSION_RELEASE_CAUSE, true, 1u32)]), "s1");
        assert_eq!(find(&raa.avps, base::RESULT_CODE, 0).and_then(u32_of), Some(result::SUCCESS));
        assert_eq!(release.unwrap().by, ReleaseBy::Rar { cause: 1 });
        assert_eq!(lock(&sh.sessions)["s1"].state, SessionState::ReleaseRequested);
        let mut asr = rar("s1", vec![]);
        asr.header.code = codes::ABORT_SESSION;
        let (asa, r) = sh.on_asr(&asr, "s1");
        assert_eq!((asa.header.code, r.known), (codes::ABORT_SESSION, true));
        let ccr_t = sh.ccr_terminate("s1");
        assert_eq!(find(&ccr_t.avps, base::CC_REQUEST_TYPE, 0).and_then(u32_of), Some(request_type::TERMINATION));
        assert_eq!(find(&ccr_t.avps, base::CC_REQUEST_NUMBER, 0).and_then(u32_of), Some(1));
        assert_eq!(sh.next_number("s1"), 2);
    }

    #[test]
    fn session_decides_for_ipv6_with_its_prefix() {
        let (sh, _) = shared();
        let mut s = lock(&sh.sessions)["s1"].clone();
        s.spec.ue_ipv6_prefix = Some(("2001:db8:1::".parse().unwrap(), 64));
        s.installed.apply(&[t(
            tgpp::CHARGING_RULE_INSTALL,
            true,
            vec![def("v6", "permit out 17 from 2001:db8:53::/48 53 to assigned")],
        )]);
        assert!(s.allows("2001:db8:53::1".parse().unwrap(), 53, 17));
        assert!(!s.allows("2001:db8:54::1".parse().unwrap(), 53, 17));
        assert!(s.is_ue("2001:db8:1::abcd".parse().unwrap()));
        assert!(!s.is_ue("2001:db8:2::1".parse().unwrap()));
    }
}
