//! SGd end to end (TS 29.338, docs/sms.md). An MME (a Diameter client on loopback, advertising SGd)
//! sends MO-Forward-Short-Message requests to `warden serve` with `[sms] sgd = true`: a destination
//! on the SIM's fixed dialling list passes screening (and, with no SMSC wired, is answered
//! SM_DELIVERY_FAILURE / UNKNOWN_SERVICE_CENTRE), one off the list is barred (SM_DELIVERY_FAILURE /
//! USER_NOT_SC_USER and an `sms.mo_barred` event) until the SIM's own list admits it through the
//! API, a malformed SMS-SUBMIT is answered DIAMETER_INVALID_AVP_VALUE naming the field, a malformed
//! TP-DA INVALID_SME_ADDRESS, an IMSI outside the MME's ranges DIAMETER_AUTHORIZATION_REJECTED, a SIM
//! Warden does not have DIAMETER_ERROR_USER_UNKNOWN, a peer without `sgd` gets
//! DIAMETER_APPLICATION_UNSUPPORTED and an unknown peer is refused at the capabilities exchange.
//! Then Warden's MT sender sends a concatenated OTA message as two MT-Forward-Short-Message requests
//! to the MME, whose SMS-DELIVERs the OTA crate's independent parser reads back, and an absent
//! subscriber is reported for retry.
//!
//! Every SGd message of the test is written into a pcapng (text2pcap, with each frame's direction)
//! and `tshark` must dissect each as the command we sent, read the SMS TPDU inside SM-RP-UI (GSM SMS
//! fields), and raise no expert warning or error (the TFA's SMS-DELIVER-REPORT aside: Wireshark 4.0
//! reads it as an SMS-DELIVER). Skipped (with a `SKIPPED` line) when tshark is missing, unless `CI` is set.

mod common;

use std::net::SocketAddr;
use std::process::Command as Process;
use std::sync::{Arc, Mutex};

use common::{http, node, sims_csv, REALM};
use diameter::dictionary::VENDOR_3GPP;
use diameter::peer::{Application, PeerAuthorizer, PeerConfig, PeerIdentity};
use diameter::transport::{connect_with, ConnectionLimits, Handler, PeerHandle, ServerConfig};
use diameter::{avp, Avp, Command, Message};
use serde_json::json;
use sms::sgd::{tbcd, Node, Serving};
use sms::{BoxFuture, MmeDirectory, MtMessage, MtOutcome, MtSender, SgdSender};

const MME: &str = "mme1.home.example";
const MME_NO_SGD: &str = "mme2.home.example";
const IMSI: &str = "001010000000001";
const ABSENT: &str = "001010000000002";

const PROFILES: &str = r#"
[[profile]]
name = "sms-meter"
services = ["data", "sms"]
fixed_dialling = ["+4917*"]
"#;

/// The test's record of every SGd message, in order, and whether the MME sent it.
type Trace = Arc<Mutex<Vec<(bool, Message)>>>;

/// The MME side: answers TFRs (success with an SMS-DELIVER-REPORT carrying a PoR, or absent user for
/// [`ABSENT`]) and records them.
struct MmeSide {
    trace: Trace,
}

impl Handler for MmeSide {
    async fn handle(&self, req: Message, _peer: PeerHandle) -> Option<Message> {
        let mut a = Message::answer_to(&req.header, req.session_id());
        a.add(avp::AUTH_SESSION_STATE, 1u32);
        a.add(avp::ORIGIN_HOST, MME);
        a.add(avp::ORIGIN_REALM, REALM);
        if req.get_str(avp::USER_NAME) == Some(ABSENT) {
            a.add(
                avp::EXPERIMENTAL_RESULT,
                vec![Avp::new(avp::VENDOR_ID, VENDOR_3GPP), Avp::new(avp::EXPERIMENTAL_RESULT_CODE, 5550u32)],
            );
            a.add(avp::ABSENT_USER_DIAGNOSTIC_SM, 1u32);
        } else {
            a.add(avp::RESULT_CODE, 2001u32);
            // SMS-DELIVER-REPORT for RP-ACK: UDHI, TP-PI with PID, DCS and UDL; a PoR header 0x71.
            a.add(avp::SM_RP_UI, hex::decode("40077ff60702710000aabbcc").unwrap());
        }
        let mut t = self.trace.lock().unwrap();
        t.push((false, req));
        t.push((true, a.clone()));
        Some(a)
    }
}

fn allow_all() -> Arc<dyn PeerAuthorizer> {
    Arc::new(|_: &PeerIdentity| true)
}

async fn connect(addr: SocketAddr, host: &'static str, trace: &Trace) -> std::io::Result<PeerHandle> {
    let cfg = PeerConfig::new(host, REALM, vec![Application::S6A, Application::S13, Application::SGD]);
    let handler = Arc::new(MmeSide { trace: trace.clone() });
    let (peer, _) = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        connect_with(addr, cfg, allow_all(), ConnectionLimits::default(), None, handler),
    )
    .await
    .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "no CEA"))??;
    Ok(peer)
}

fn ofr(from: &str, session: &str, tpdu: &[u8]) -> Message {
    ofr_for(IMSI, from, session, tpdu)
}

fn ofr_for(imsi: &str, from: &str, session: &str, tpdu: &[u8]) -> Message {
    let mut m = Message::request(Command::OFR);
    m.add(avp::SESSION_ID, session);
    m.add(avp::AUTH_SESSION_STATE, 1u32);
    m.add(avp::ORIGIN_HOST, from);
    m.add(avp::ORIGIN_REALM, REALM);
    m.add(avp::DESTINATION_REALM, REALM);
    m.add(avp::SC_ADDRESS, tbcd("4910"));
    m.add(avp::USER_IDENTIFIER, vec![Avp::new(avp::USER_NAME, imsi), Avp::new(avp::MSISDN, tbcd("491700000001"))]);
    m.add(avp::SM_RP_UI, tpdu);
    m
}

/// An SMS-SUBMIT to the international number `digits` with 8-bit user data "hello".
fn submit(digits: &str) -> Vec<u8> {
    let mut t = vec![0x11, 0x07, digits.len() as u8, 0x91];
    let d: Vec<u8> = digits.bytes().map(|b| b - b'0').collect();
    t.extend(d.chunks(2).map(|c| c[0] | (c.get(1).copied().unwrap_or(0xF) << 4)));
    t.extend_from_slice(&[0x00, 0x04, 0xA7, 5]);
    t.extend_from_slice(b"hello");
    t
}

async fn ask(peer: &PeerHandle, trace: &Trace, m: Message) -> Message {
    let a = tokio::time::timeout(std::time::Duration::from_secs(5), peer.request(m.clone()))
        .await
        .expect("answer in time")
        .expect("answer");
    let mut t = trace.lock().unwrap();
    t.push((true, m));
    t.push((false, a.clone()));
    a
}

fn experimental(a: &Message) -> Option<u32> {
    a.get(avp::EXPERIMENTAL_RESULT)?.child(avp::EXPERIMENTAL_RESULT_CODE)?.as_u32()
}

fn cause(a: &Message) -> Option<u32> {
    a.get(avp::SM_DELIVERY_FAILURE_CAUSE)?.child(avp::SM_ENUMERATED_DELIVERY_FAILURE_CAUSE)?.as_u32()
}

/// A directory with one MME connection for every SIM.
struct OneMme(Arc<Mutex<Vec<PeerHandle>>>);

impl MmeDirectory for OneMme {
    fn serving<'a>(&'a self, _imsi: &'a ids::Imsi) -> BoxFuture<'a, Result<Serving, String>> {
        Box::pin(async { Ok(Serving::At { host: MME.into(), realm: REALM.into() }) })
    }
    fn connections(&self, _host: &str) -> Vec<PeerHandle> {
        self.0.lock().unwrap().clone()
    }
}

/// Keeps the handles of the connections it accepts (as the HSS does).
struct Registry(Arc<Mutex<Vec<PeerHandle>>>);

impl Handler for Registry {
    async fn handle(&self, _request: Message, _peer: PeerHandle) -> Option<Message> {
        None
    }
    fn peer_open(&self, peer: PeerHandle) {
        self.0.lock().unwrap().push(peer);
    }
}

#[tokio::test]
async fn mo_screening_mt_delivery_and_tshark() {
    let extra = format!(
        "[[diameter.peers]]\norigin_host = \"{MME}\"\norigin_realm = \"{REALM}\"\nimsi_prefixes = [\"00101\"]\n\
         applications = [\"s6a\", \"s13\", \"sgd\"]\n[sms]\nsgd = true\nsc_address = \"+4910\"\nota_address = \"+4911\"\n"
    );
    let n = node("5c", &[MME_NO_SGD], "", &extra);
    n.import(PROFILES, &sims_csv(&[(IMSI, "sms-meter", "acme")]));
    let token = n.admin_token();
    let _server = n.start().await;
    let trace: Trace = Arc::default();

    let mme = connect(n.diameter, MME, &trace).await.expect("the SGd MME is admitted");
    assert!(mme.remote().applications.contains(&16_777_313), "SGd in the CEA: {:?}", mme.remote().applications);
    // On the list: screened through; no SMSC is wired, so the router has no route for it.
    let a = ask(&mme, &trace, ofr(MME, "mme1;1", &submit("491711234567"))).await;
    assert_eq!((experimental(&a), cause(&a)), (Some(5555), Some(3)), "{a:?}");
    assert!(a.get_str(avp::ERROR_MESSAGE).unwrap().contains("no route toward an SMSC"));
    // Off the list: barred, USER_NOT_SC_USER.
    let a = ask(&mme, &trace, ofr(MME, "mme1;2", &submit("33612345678"))).await;
    assert_eq!((experimental(&a), cause(&a)), (Some(5555), Some(6)), "{a:?}");
    assert!(a.get_str(avp::ERROR_MESSAGE).unwrap().contains("+33612345678 is not on the SIM's fixed dialling list"));
    // Malformed: an SMS-DELIVER where an SMS-SUBMIT belongs; a TP-DA of 21 digits.
    let a = ask(&mme, &trace, ofr(MME, "mme1;3", &hex::decode("0000").unwrap())).await;
    assert_eq!(a.result_code(), Some(5004), "{a:?}");
    assert!(a.get_str(avp::ERROR_MESSAGE).unwrap().contains("TP-MTI 0 is not SMS-SUBMIT"));
    assert!(a.get(avp::FAILED_AVP).unwrap().as_grouped().unwrap()[0].is(avp::SM_RP_UI));
    let a = ask(&mme, &trace, ofr(MME, "mme1;4", &hex::decode("112a159194").unwrap())).await;
    assert_eq!((experimental(&a), cause(&a)), (Some(5555), Some(5)), "{a:?}");

    // An IMSI outside the MME's imsi_prefixes, and a SIM Warden does not have.
    let a = ask(&mme, &trace, ofr_for("001020000000001", MME, "mme1;6", &submit("491711234567"))).await;
    assert_eq!(a.result_code(), Some(5003), "{a:?}");
    let a = ask(&mme, &trace, ofr_for("001019999999999", MME, "mme1;7", &submit("491711234567"))).await;
    assert_eq!(experimental(&a), Some(5001), "{a:?}");

    // The SIM's own list admits +33…: the same message now passes screening.
    let url = format!("{}/sims/{IMSI}/fdl", n.api());
    let (status, v) = http("PUT", &url, &token, Some(json!({"entries": ["+33*"]}))).await;
    assert_eq!(status, 200, "{v}");
    let a = ask(&mme, &trace, ofr(MME, "mme1;5", &submit("33612345678"))).await;
    assert_eq!(cause(&a), Some(3), "admitted by the SIM's own list: {a:?}");

    let (_, events) = http("GET", &format!("{}/events", n.api()), &token, None).await;
    let kinds: Vec<&str> = events["items"].as_array().unwrap().iter().filter_map(|e| e["kind"].as_str()).collect();
    assert_eq!(kinds.iter().filter(|k| **k == "sms.mo_barred").count(), 1, "{kinds:?}");
    assert_eq!(kinds.iter().filter(|k| **k == "sms.mo_refused").count(), 2, "{kinds:?}");

    // A peer without `sgd`, and an unknown peer.
    let other = connect(n.diameter, MME_NO_SGD, &trace).await.expect("an S6a MME is admitted");
    let a = ask(&other, &trace, ofr(MME_NO_SGD, "mme2;1", &submit("491711234567"))).await;
    assert_eq!(a.result_code(), Some(3007), "{a:?}");
    assert!(connect(n.diameter, "stranger.home.example", &trace).await.is_err(), "unknown peers are refused");

    // MT: Warden's SGd sender toward an MME connected to it.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let handles: Arc<Mutex<Vec<PeerHandle>>> = Arc::default();
    let stop = tokio_util::sync::CancellationToken::new();
    let server = ServerConfig {
        peer: PeerConfig::new("hss.home.example", REALM, vec![Application::SGD]),
        authorizer: allow_all(),
        limits: ConnectionLimits::default(),
        tls: None,
    };
    tokio::spawn(diameter::transport::serve(listener, server, Arc::new(Registry(handles.clone())), stop.clone()));
    let _mme_link = connect(addr, MME, &trace).await.unwrap();
    for _ in 0..100 {
        if !handles.lock().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let node_id = Node { origin_host: "hss.home.example".into(), origin_realm: REALM.into() };
    let sender = SgdSender::new(node_id, "+4910", Arc::new(OneMme(handles.clone())));
    let packet: Vec<u8> = (0..200u8).collect();
    let segments = ota::sms::user_data_segments(&packet, 7).unwrap();
    assert_eq!(segments.len(), 2);
    let message = |imsi: &str| MtMessage {
        imsi: imsi.parse().unwrap(),
        msisdn: None,
        originator: "+4911".into(),
        pid: 0x7F,
        dcs: 0xF6,
        segments: segments.clone(),
        reference: "job-1".into(),
    };
    let before = trace.lock().unwrap().len();
    let outcome = sender.send(&message(IMSI)).await;
    assert_eq!(outcome, MtOutcome::Delivered { report_user_data: Some(hex::decode("02710000aabbcc").unwrap()) });
    let tfrs: Vec<Message> = trace.lock().unwrap()[before..]
        .iter()
        .filter(|(mme, m)| !mme && m.is_request())
        .map(|(_, m)| m.clone())
        .collect();
    assert_eq!(tfrs.len(), 2);
    let mut parts = Vec::new();
    for (i, tfr) in tfrs.iter().enumerate() {
        assert_eq!(tfr.command(), Some(Command::TFR));
        assert_eq!(tfr.get_str(avp::DESTINATION_HOST), Some(MME));
        assert_eq!(tfr.get_str(avp::USER_NAME), Some(IMSI));
        assert_eq!(tfr.get_u32(avp::TFR_FLAGS), if i == 0 { Some(1) } else { None }, "More-Messages-To-Send");
        let d = ota::sms::parse_deliver(tfr.get(avp::SM_RP_UI).unwrap().as_bytes().unwrap()).unwrap();
        assert_eq!((d.originator.digits.as_str(), d.pid, d.dcs), ("4911", 0x7F, 0xF6));
        parts.push(d.user_data);
    }
    let parts: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
    assert_eq!(ota::sms::reassemble(&parts).unwrap(), packet);
    let absent = sender.send(&message(ABSENT)).await;
    assert!(matches!(absent, MtOutcome::Failed { retry: true, .. }), "{absent:?}");
    stop.cancel();

    let trace = trace.lock().unwrap().clone();
    dissect(&trace);
}

/// Writes the messages as one TCP conversation (MME 127.0.0.1:40000, Warden 127.0.0.2:3868) with
/// text2pcap and checks tshark's reading of every frame.
fn dissect(trace: &[(bool, Message)]) {
    let Some(tshark) = testkit::tshark::find("SGd dissection") else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::new();
    for (from_mme, m) in trace {
        text += if *from_mme { "I" } else { "O" };
        for (i, chunk) in m.encode().chunks(16).enumerate() {
            let bytes: Vec<String> = chunk.iter().map(|b| format!("{b:02x}")).collect();
            text += &format!("{}{:06x} {}\n", if i == 0 { " " } else { "" }, i * 16, bytes.join(" "));
        }
    }
    let (txt, pcap) = (dir.path().join("sgd.txt"), dir.path().join("sgd.pcap"));
    std::fs::write(&txt, text).unwrap();
    let out = Process::new("text2pcap")
        .args(["-q", "-n", "-D", "-4", "127.0.0.1,127.0.0.2", "-T", "40000,3868"])
        .arg(&txt)
        .arg(&pcap)
        .output()
        .expect("text2pcap runs");
    assert!(out.status.success(), "text2pcap: {}", String::from_utf8_lossy(&out.stderr));
    if let Ok(keep) = std::env::var("WARDEN_SGD_PCAP") {
        std::fs::copy(&pcap, keep).unwrap();
    }
    let rows = testkit::tshark::fields(
        &tshark,
        &pcap,
        &["diameter.cmd.code", "diameter.flags.request", "_ws.expert.severity", "_ws.malformed", "gsm_sms.tp-mti"],
    );
    assert_eq!(rows.len(), trace.len(), "one frame per message: {rows:?}");
    for ((_, m), row) in trace.iter().zip(&rows) {
        assert_eq!(row[0], m.header.code.to_string(), "frame is not {:?}: {row:?}", m.abbrev());
        // The two TPDUs broken on purpose (2 and 5 octets) may be flagged; every other must not.
        let tpdu = m.get(avp::SM_RP_UI).and_then(Avp::as_bytes).map(<[u8]>::len);
        if tpdu.is_some_and(|n| n <= 5) {
            continue;
        }
        // Wireshark 4.0 reads every SM-RP-UI of MT-Forward-Short-Message as an SMS-DELIVER (SC to
        // MS), whatever the frame's direction, so the SMS-DELIVER-REPORT of a TFA comes out as a
        // short SMS-DELIVER; its Diameter layer is checked above, the TPDU by `sms::tpdu`'s tests.
        if m.command() == Some(Command::TFR) && !m.is_request() && tpdu.is_some() {
            continue;
        }
        assert!(row[3].is_empty(), "malformed frame for {:?}: {row:?}", m.abbrev());
        // Expert severities: 0x00200000 note and below are fine; warning (0x00600000) and error are not.
        for sev in row[2].split(';').filter(|s| !s.is_empty()) {
            let v = u32::from_str_radix(sev.trim_start_matches("0x"), 16).unwrap_or_else(|_| sev.parse().unwrap());
            assert!(v < 0x0060_0000, "expert {sev} on {:?}: {row:?}", m.abbrev());
        }
        if tpdu.is_some() {
            assert!(!row[4].is_empty(), "tshark did not read the TPDU of {:?}: {row:?}", m.abbrev());
        }
    }
}
