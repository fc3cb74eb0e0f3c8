//! The sans-IO peer state machine driven in memory: two peers wired back to back, and hand-made
//! malformed input, with the clock advanced by hand.

use std::sync::Arc;
use std::time::{Duration, Instant};

use diameter::avp;
use diameter::dictionary::app;
use diameter::peer::{Application, CloseReason, Event, Peer, PeerAuthorizer, PeerConfig, PeerIdentity, PeerState};
use diameter::result_code as rc;
use diameter::Command;
use diameter::{Avp, Message, Value};
use testkit::sansio::{allow_all, poll_message, pump};

fn config(host: &str, apps: Vec<Application>) -> PeerConfig {
    let mut c = PeerConfig::new(host, "epc.mnc001.mcc001.3gppnetwork.org", apps);
    c.watchdog_interval = Duration::from_secs(30);
    c
}

fn events(p: &mut Peer) -> Vec<Event> {
    std::iter::from_fn(|| p.poll_event()).collect()
}

fn open_pair(now: Instant) -> (Peer, Peer) {
    let mut mme = Peer::initiator(config("mme.example", vec![Application::S6A]), allow_all(), None, now);
    let mut hss =
        Peer::responder(config("hss.example", vec![Application::S6A, Application::S13]), allow_all(), None, now);
    pump(&mut mme, &mut hss, now);
    assert_eq!(mme.state(), PeerState::Open);
    assert_eq!(hss.state(), PeerState::Open);
    let ev = events(&mut hss);
    assert!(
        matches!(&ev[..], [Event::Open { applications, remote }] if applications == &vec![app::S6A] && remote.origin_host == "mme.example")
    );
    events(&mut mme);
    (mme, hss)
}

fn air() -> Message {
    let mut m = Message::request(Command::AIR);
    m.add(avp::SESSION_ID, "mme.example;1;2");
    m.add(avp::AUTH_SESSION_STATE, 1u32);
    m.add(avp::ORIGIN_HOST, "mme.example");
    m.add(avp::ORIGIN_REALM, "epc.mnc001.mcc001.3gppnetwork.org");
    m.add(avp::DESTINATION_REALM, "epc.mnc001.mcc001.3gppnetwork.org");
    m.add(avp::USER_NAME, "001010000000001");
    m.add(avp::VISITED_PLMN_ID, &[0x00u8, 0xf1, 0x10]);
    m
}

fn answer_of(bytes: &[u8]) -> Message {
    let m = Message::decode(bytes).unwrap_or_else(|e| panic!("peer sends well-formed answers: {e:?} {bytes:02x?}"));
    assert!(!m.is_request());
    m
}

#[test]
fn capabilities_request_answer_and_watchdog() {
    let now = Instant::now();
    let (mut mme, mut hss) = open_pair(now);
    let (hbh, _) = mme.send_request(air(), now).unwrap();
    pump(&mut mme, &mut hss, now);
    let Some(Event::Request(req)) = hss.poll_event() else { panic!("request expected") };
    assert_eq!(req.get_str(avp::USER_NAME), Some("001010000000001"));
    let mut ans = Message::answer_to(&req.header, req.session_id());
    ans.add(avp::RESULT_CODE, rc::SUCCESS);
    hss.send_answer(ans).unwrap();
    pump(&mut mme, &mut hss, now);
    let Some(Event::Answer(a)) = mme.poll_event() else { panic!("answer expected") };
    assert_eq!((a.header.hop_by_hop, a.result_code()), (hbh, Some(rc::SUCCESS)));
    assert_eq!(mme.pending_requests(), 0);

    // Watchdog: after Tw (± 2 s) of silence, DWR goes out and DWA comes back.
    let later = now + Duration::from_secs(33);
    mme.handle_timeout(later);
    let dwr = poll_message(&mut mme).expect("DWR after Tw");
    assert_eq!(Message::decode(&dwr).unwrap().abbrev(), Some("DWR"));
    hss.handle_input(&dwr, later);
    let dwa = answer_of(&poll_message(&mut hss).unwrap());
    assert_eq!((dwa.abbrev(), dwa.result_code()), (Some("DWA"), Some(rc::SUCCESS)));
}

#[test]
fn watchdog_declares_silent_peer_down() {
    let now = Instant::now();
    let (mut mme, _hss) = open_pair(now);
    let mut t = now;
    let mut sent_dwr = 0;
    for _ in 0..4 {
        t += Duration::from_secs(33);
        mme.handle_timeout(t);
        while let Some(b) = poll_message(&mut mme) {
            sent_dwr += usize::from(Message::decode(&b).unwrap().abbrev() == Some("DWR"));
        }
    }
    assert_eq!(sent_dwr, 1);
    let ev = events(&mut mme);
    assert!(ev.contains(&Event::Suspect));
    assert!(ev.contains(&Event::Closed(CloseReason::WatchdogTimeout)));
    assert_eq!(mme.state(), PeerState::Closed);
}

#[test]
fn unknown_peer_is_refused_with_3010() {
    let now = Instant::now();
    let only_mme1: Arc<dyn PeerAuthorizer> = Arc::new(|p: &PeerIdentity| p.origin_host == "mme1.example");
    let mut intruder = Peer::initiator(config("evil.example", vec![Application::S6A]), allow_all(), None, now);
    let mut hss = Peer::responder(config("hss.example", vec![Application::S6A]), only_mme1, None, now);
    let cer = poll_message(&mut intruder).unwrap();
    hss.handle_input(&cer, now);
    let cea = answer_of(&poll_message(&mut hss).unwrap());
    assert_eq!(cea.result_code(), Some(rc::UNKNOWN_PEER));
    assert!(cea.header.is_error(), "3xxx answers carry the E bit");
    assert_eq!(hss.state(), PeerState::Closed);
    assert!(events(&mut hss).contains(&Event::Closed(CloseReason::UnknownPeer)));
    intruder.handle_input(&cea.encode(), now);
    assert!(events(&mut intruder).contains(&Event::Closed(CloseReason::CapabilitiesExchangeFailed(rc::UNKNOWN_PEER))));
}

#[test]
fn no_common_application_is_5010() {
    let now = Instant::now();
    let mut eir_client = Peer::initiator(config("mme.example", vec![Application::S13]), allow_all(), None, now);
    let mut hss = Peer::responder(config("hss.example", vec![Application::S6A]), allow_all(), None, now);
    pump(&mut eir_client, &mut hss, now);
    assert!(events(&mut hss).contains(&Event::Closed(CloseReason::NoCommonApplication)));
    assert!(events(&mut eir_client)
        .contains(&Event::Closed(CloseReason::CapabilitiesExchangeFailed(rc::NO_COMMON_APPLICATION))));
}

#[test]
fn disconnect_with_dpr_dpa() {
    let now = Instant::now();
    let (mut mme, mut hss) = open_pair(now);
    mme.disconnect(0, now);
    assert_eq!(mme.state(), PeerState::Closing);
    pump(&mut mme, &mut hss, now);
    assert_eq!(events(&mut hss), vec![Event::Closed(CloseReason::RemoteDisconnect(0))]);
    assert_eq!(events(&mut mme), vec![Event::Closed(CloseReason::LocalDisconnect)]);
}

#[test]
fn duplicate_requests_reach_the_application_once() {
    let now = Instant::now();
    let (mut mme, mut hss) = open_pair(now);
    mme.send_request(air(), now).unwrap();
    let bytes = poll_message(&mut mme).unwrap();
    hss.handle_input(&bytes, now);
    let Some(Event::Request(req)) = hss.poll_event() else { panic!() };
    // The same request again (a retransmission with the T bit) while the first is in progress: dropped.
    let mut again = bytes.clone();
    again[4] |= 0x10;
    hss.handle_input(&again, now);
    assert!(hss.poll_event().is_none());
    let mut ans = Message::answer_to(&req.header, req.session_id());
    ans.add(avp::RESULT_CODE, rc::SUCCESS);
    hss.send_answer(ans.clone()).unwrap();
    let first = poll_message(&mut hss).unwrap();
    // After the answer: the cached answer is sent again, the application sees nothing.
    hss.handle_input(&again, now);
    assert!(hss.poll_event().is_none());
    assert_eq!(poll_message(&mut hss).unwrap(), first);
}

#[test]
fn request_times_out() {
    let now = Instant::now();
    let (mut mme, _hss) = open_pair(now);
    let (hbh, e2e) = mme.send_request(air(), now).unwrap();
    assert!(mme.poll_timeout().unwrap() <= now + Duration::from_secs(10));
    mme.handle_timeout(now + Duration::from_secs(11));
    assert!(events(&mut mme).contains(&Event::RequestTimedOut { hop_by_hop: hbh, end_to_end: e2e }));
}

/// Sends raw bytes to an open HSS peer and returns its answer.
fn bad(hss: &mut Peer, bytes: &[u8]) -> Message {
    hss.handle_input(bytes, Instant::now());
    let ev = events(hss);
    assert!(matches!(&ev[..], [Event::Rejected { .. }]), "{ev:?}");
    answer_of(&poll_message(hss).expect("an error answer"))
}

fn failed_avp_code(m: &Message) -> Option<u32> {
    m.get(avp::FAILED_AVP)?.as_grouped()?.first().map(|a| a.code)
}

#[test]
fn malformed_requests_get_rfc_6733_answers() {
    let now = Instant::now();
    let (_mme, mut hss) = open_pair(now);
    let good = {
        let mut m = air();
        m.header.hop_by_hop = 7;
        m.header.end_to_end = 7;
        m.encode()
    };

    // Wrong version: 5011.
    let mut v = good.clone();
    v[0] = 2;
    assert_eq!(bad(&mut hss, &v).result_code(), Some(rc::UNSUPPORTED_VERSION));

    // E bit on a request: 3008, E bit on the answer.
    let mut e = good.clone();
    e[4] |= 0x20;
    let a = bad(&mut hss, &e);
    assert_eq!(a.result_code(), Some(rc::INVALID_HDR_BITS));
    assert!(a.header.is_error());

    // Reserved AVP flag bit: 3009 with Failed-AVP.
    let mut f = good.clone();
    f[20 + 4] |= 0x01; // first AVP (Session-Id) flags
    let a = bad(&mut hss, &f);
    assert_eq!((a.result_code(), failed_avp_code(&a)), (Some(rc::INVALID_AVP_BITS), Some(263)));

    // AVP length past the message end: 5014 with Failed-AVP.
    let mut l = good.clone();
    let n = l.len();
    l[20 + 5..20 + 8].copy_from_slice(&(n as u32).to_be_bytes()[1..]);
    let a = bad(&mut hss, &l);
    assert_eq!((a.result_code(), failed_avp_code(&a)), (Some(rc::INVALID_AVP_LENGTH), Some(263)));

    // Missing required AVP (User-Name): 5005 naming it in Failed-AVP.
    let mut m = air();
    m.avps.retain(|a| a.code != 1);
    m.header.hop_by_hop = 8;
    let a = bad(&mut hss, &m.encode());
    assert_eq!((a.result_code(), failed_avp_code(&a)), (Some(rc::MISSING_AVP), Some(1)));

    // Unknown AVP with the M bit: 5001 with it in Failed-AVP.
    let mut m = air();
    m.push(Avp { code: 65_000, flags: 0x40, vendor_id: None, value: Value::OctetString(vec![1, 2, 3]) });
    let a = bad(&mut hss, &m.encode());
    assert_eq!((a.result_code(), failed_avp_code(&a)), (Some(rc::AVP_UNSUPPORTED), Some(65_000)));
    // …while an unknown AVP without the M bit is kept and passed on.
    let mut m = air();
    m.header.end_to_end = 99;
    m.push(Avp { code: 65_001, flags: 0, vendor_id: Some(99), value: Value::OctetString(vec![9]) });
    hss.handle_input(&m.encode(), now);
    let ev = hss.poll_event();
    let Some(Event::Request(r)) = ev else { panic!("unknown optional AVP passes: {ev:?}") };
    assert!(r.avps.iter().any(|a| a.code == 65_001 && a.vendor_id == Some(99)));

    // Invalid UTF-8 in a UTF8String: 5004.
    let mut m = air();
    m.header.end_to_end = 100;
    m.avps[5] = Avp { code: 1, flags: 0x40, vendor_id: None, value: Value::OctetString(vec![0xff, 0xfe]) };
    assert_eq!(bad(&mut hss, &m.encode()).result_code(), Some(rc::INVALID_AVP_VALUE));

    // Absurd nesting: 5004.
    let mut nested = Avp::grouped(avp::EXPERIMENTAL_RESULT, vec![]);
    for _ in 0..40 {
        nested = Avp::grouped(avp::EXPERIMENTAL_RESULT, vec![nested]);
    }
    let mut m = air();
    m.header.end_to_end = 101;
    m.push(nested);
    assert_eq!(bad(&mut hss, &m.encode()).result_code(), Some(rc::INVALID_AVP_VALUE));

    // Application not negotiated: 3007; unknown command in S6a: 3001.
    let mut m = air();
    m.header.app_id = 4;
    assert_eq!(bad(&mut hss, &m.encode()).result_code(), Some(rc::APPLICATION_UNSUPPORTED));
    let mut m = air();
    m.header.code = 999;
    assert_eq!(bad(&mut hss, &m.encode()).result_code(), Some(rc::COMMAND_UNSUPPORTED));

    // Message length not a multiple of 4 (but framed): 5015.
    let mut m = good.clone();
    m.push(1);
    let len = m.len() as u32;
    m[1..4].copy_from_slice(&len.to_be_bytes()[1..]);
    assert_eq!(bad(&mut hss, &m).result_code(), Some(rc::INVALID_MESSAGE_LENGTH));

    // Through all of that the connection stayed open and still serves good requests.
    assert_eq!(hss.state(), PeerState::Open);
    hss.handle_input(&good, now);
    assert!(events(&mut hss).iter().any(|e| matches!(e, Event::Request(_))));
}

#[test]
fn framing_loss_closes_the_connection() {
    let now = Instant::now();
    let (_mme, mut hss) = open_pair(now);
    // A 16 MiB length field.
    hss.handle_input(&[1, 0xff, 0xff, 0xfc, 0x80, 0, 1, 62], now);
    assert_eq!(hss.state(), PeerState::Closed);
    assert!(matches!(events(&mut hss).last(), Some(Event::Closed(CloseReason::Framing(_)))));
    let (_mme, mut hss) = open_pair(now);
    hss.handle_input(&[1, 0, 0, 8, 0, 0, 0, 0], now);
    assert!(matches!(events(&mut hss).last(), Some(Event::Closed(CloseReason::Framing(_)))));
}

#[test]
fn partial_input_waits_for_the_rest() {
    let now = Instant::now();
    let (mut mme, mut hss) = open_pair(now);
    mme.send_request(air(), now).unwrap();
    let bytes = poll_message(&mut mme).unwrap();
    for chunk in bytes.chunks(3) {
        assert!(hss.poll_event().is_none());
        hss.handle_input(chunk, now);
    }
    assert!(matches!(hss.poll_event(), Some(Event::Request(_))));
}

#[test]
fn messages_before_capabilities_exchange_close_the_connection() {
    let now = Instant::now();
    let mut hss = Peer::responder(config("hss.example", vec![Application::S6A]), allow_all(), None, now);
    hss.handle_input(&air().encode(), now);
    assert_eq!(hss.state(), PeerState::Closed);
    let mut hss = Peer::responder(config("hss.example", vec![Application::S6A]), allow_all(), None, now);
    hss.handle_timeout(now + Duration::from_secs(11));
    assert!(events(&mut hss).contains(&Event::Closed(CloseReason::HandshakeTimeout)));
}

#[test]
fn oversized_messages_are_refused_not_truncated() {
    let now = Instant::now();
    let (mut mme, _hss) = open_pair(now);
    let mut m = air();
    m.push(Avp { code: 65_010, flags: 0, vendor_id: None, value: Value::OctetString(vec![0; 70 * 1024]) });
    assert!(matches!(mme.send_request(m, now), Err(diameter::peer::SendError::TooLarge(_))));
    assert!(poll_message(&mut mme).is_none());
}

/// `poll_transmit` appends one whole message per call to the caller's buffer, in order, and never
/// touches what the buffer held before.
#[test]
fn transmit_appends_messages_to_the_callers_buffer() {
    let now = Instant::now();
    let (mut mme, _hss) = open_pair(now);
    let (first_id, _) = mme.send_request(air(), now).unwrap();
    let (second_id, _) = mme.send_request(air(), now).unwrap();
    let mut buf = b"kept".to_vec();
    let first = mme.poll_transmit(&mut buf).unwrap();
    let second = mme.poll_transmit(&mut buf).unwrap();
    assert_eq!(mme.poll_transmit(&mut buf), None);
    assert_eq!(&buf[..4], b"kept");
    assert_eq!(buf.len(), 4 + first + second);
    assert_eq!(Message::decode(&buf[4..4 + first]).unwrap().header.hop_by_hop, first_id);
    assert_eq!(Message::decode(&buf[4 + first..]).unwrap().header.hop_by_hop, second_id);
}

/// A Gx RAR and ASR (base commands sent with Gx's application id, TS 29.212 §5.6.4) reach the PCEF's
/// application and validate; a CCR goes the other way; a base command in an application that was not
/// negotiated is still refused with 3007.
#[test]
fn gx_re_auth_and_abort_session_carry_the_gx_application_id() {
    let now = Instant::now();
    let mut pcef = Peer::initiator(config("pgw.example", vec![Application::GX]), allow_all(), None, now);
    let mut pcrf =
        Peer::responder(config("pcrf.example", vec![Application::S6A, Application::GX]), allow_all(), None, now);
    pump(&mut pcef, &mut pcrf, now);
    assert_eq!(pcef.state(), PeerState::Open);
    events(&mut pcef);
    events(&mut pcrf);
    let realm = "epc.mnc001.mcc001.3gppnetwork.org";
    for command in [Command::RAR, Command::ASR] {
        let mut m = Message::request(command);
        m.header.app_id = app::GX;
        m.add(avp::SESSION_ID, "pgw.example;1;1");
        m.add(avp::ORIGIN_HOST, "pcrf.example");
        m.add(avp::ORIGIN_REALM, realm);
        m.add(avp::DESTINATION_REALM, realm);
        m.add(avp::DESTINATION_HOST, "pgw.example");
        m.add(avp::AUTH_APPLICATION_ID, app::GX);
        if command == Command::RAR {
            m.add(avp::RE_AUTH_REQUEST_TYPE, 0u32);
        }
        pcrf.send_request(m, now).unwrap();
        pump(&mut pcef, &mut pcrf, now);
        match pcef.poll_event() {
            Some(Event::Request(r)) => assert_eq!((r.command(), r.header.app_id), (Some(command), app::GX)),
            other => panic!("{command} expected at the PCEF, got {other:?}"),
        }
        let bytes = Message::request(command);
        let encoded = {
            let mut m = bytes;
            m.header.app_id = app::GX;
            m.encode()
        };
        assert_eq!(Message::decode(&encoded).unwrap().command(), Some(command), "round trip");
    }
    let mut ccr = Message::request(Command::CCR);
    ccr.add(avp::SESSION_ID, "pgw.example;2;1");
    ccr.add(avp::AUTH_APPLICATION_ID, app::GX);
    ccr.add(avp::ORIGIN_HOST, "pgw.example");
    ccr.add(avp::ORIGIN_REALM, realm);
    ccr.add(avp::DESTINATION_REALM, realm);
    ccr.add(avp::CC_REQUEST_TYPE, 1u32);
    ccr.add(avp::CC_REQUEST_NUMBER, 0u32);
    pcef.send_request(ccr.clone(), now).unwrap();
    pump(&mut pcef, &mut pcrf, now);
    assert!(matches!(pcrf.poll_event(), Some(Event::Request(r)) if r.command() == Some(Command::CCR)));
    // Without CC-Request-Number: 5005 with the missing AVP.
    ccr.avps.retain(|a| !a.is(avp::CC_REQUEST_NUMBER));
    ccr.avps[0] = Avp::new(avp::SESSION_ID, "pgw.example;2;2");
    pcef.send_request(ccr, now).unwrap();
    pump(&mut pcef, &mut pcrf, now);
    let Some(Event::Answer(a)) = pcef.poll_event() else { panic!("answer expected") };
    assert_eq!(a.result_code(), Some(rc::MISSING_AVP));
    let failed = a.get(avp::FAILED_AVP).and_then(|f| f.as_grouped()).unwrap();
    assert_eq!(failed[0].code, avp::CC_REQUEST_NUMBER.code());
    // A RAR in S13, which neither side negotiated: 3007.
    let mut rar = Message::request(Command::RAR);
    rar.header.app_id = app::S13;
    rar.add(avp::SESSION_ID, "pcrf.example;9");
    pcrf.send_request(rar, now).unwrap();
    pump(&mut pcef, &mut pcrf, now);
    let ev = events(&mut pcrf);
    let Some(Event::Answer(a)) = ev.iter().find(|e| matches!(e, Event::Answer(_))) else {
        panic!("answer expected: {ev:?}")
    };
    assert_eq!(a.result_code(), Some(rc::APPLICATION_UNSUPPORTED));
}

/// Input framing: several whole messages in one read, a message split across reads (also inside
/// its length field), and whole messages that follow a leftover partial one are each handled once,
/// in order.
#[test]
fn several_messages_per_read_and_messages_split_across_reads() {
    let now = Instant::now();
    let (mut mme, mut hss) = open_pair(now);
    let mut ids = Vec::new();
    let mut wire = Vec::new();
    for _ in 0..5 {
        ids.push(mme.send_request(air(), now).unwrap().0);
        wire.extend_from_slice(&poll_message(&mut mme).unwrap());
    }
    let len = wire.len() / 5;
    let requests = |hss: &mut Peer| -> Vec<u32> {
        events(hss)
            .into_iter()
            .map(|e| match e {
                Event::Request(m) => m.header.hop_by_hop,
                other => panic!("request expected, got {other:?}"),
            })
            .collect()
    };
    // Two whole messages and the first two bytes of the third (not even its length field).
    hss.handle_input(&wire[..2 * len + 2], now);
    assert_eq!(requests(&mut hss), ids[..2]);
    // The rest of the third but one byte.
    hss.handle_input(&wire[2 * len + 2..3 * len - 1], now);
    assert!(requests(&mut hss).is_empty());
    // Its last byte, the whole fourth and half of the fifth, in one read after a leftover.
    hss.handle_input(&wire[3 * len - 1..4 * len + len / 2], now);
    assert_eq!(requests(&mut hss), ids[2..4]);
    hss.handle_input(&wire[4 * len + len / 2..], now);
    assert_eq!(requests(&mut hss), ids[4..]);
    assert_eq!(hss.state(), PeerState::Open);
    // Framing that breaks after whole messages in the same read: those are handled, then the close.
    mme.send_request(air(), now).unwrap();
    let mut bytes = poll_message(&mut mme).unwrap();
    bytes.extend_from_slice(&[1, 0, 0, 8, 0, 0, 0, 0]);
    hss.handle_input(&bytes, now);
    let ev = events(&mut hss);
    assert!(matches!(&ev[..], [Event::Request(_), Event::Closed(CloseReason::Framing(_))]), "{ev:?}");
}
