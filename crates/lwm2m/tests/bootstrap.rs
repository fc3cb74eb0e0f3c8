//! The sans-IO bootstrap server driven by a scripted client: the whole client-initiated sequence
//! (Bootstrap-Request, Delete /0 and /1, Write of the Security and Server instances in TLV checked
//! byte for byte, Bootstrap-Finish), separate responses and retransmissions, and each way it fails
//! (a Write answered 4.xx, a device that stops answering, a reset, the wrong endpoint name, plain
//! CoAP without the lab flag, a refused Bootstrap-Finish, too many at once) — none of which yields
//! a provisioned account.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use coap::{Code, Message, MessageType, OptionNumber};
use lwm2m::bootstrap::{Account, BootstrapConfig, BootstrapServer, BsEvent, BsOutput, SecurityMode};
use lwm2m::content::{self, Value};
use lwm2m::Path;

fn peer() -> SocketAddr {
    "127.0.0.1:41000".parse().unwrap()
}

fn config() -> BootstrapConfig {
    BootstrapConfig {
        secure_server_uri: "coaps://127.0.0.1:5684".into(),
        unsecured_server_uri: "coap://127.0.0.1:5683".into(),
        short_server_id: 1,
        lifetime: 300,
        binding: "U".into(),
        ..BootstrapConfig::default()
    }
}

fn bs_request(mid: u16, ep: &str, pct: Option<u16>) -> Vec<u8> {
    let mut m = Message::new(MessageType::Con, Code::POST, mid, vec![9, 9]);
    m.set_uri_path("/bs");
    m.push_option(OptionNumber::URI_QUERY, format!("ep={ep}").into_bytes());
    if let Some(p) = pct {
        m.push_option(OptionNumber::URI_QUERY, format!("pct={p}").into_bytes());
    }
    m.encode()
}

fn decoded(out: &BsOutput) -> Vec<Message> {
    out.transmits.iter().map(|t| Message::decode(&t.datagram).unwrap()).collect()
}

/// The piggybacked answer of the device to `req`.
fn answer(req: &Message, code: Code) -> Vec<u8> {
    Message::response_to(req, code, req.message_id).encode()
}

fn finished(out: &BsOutput) -> Option<Account> {
    out.events.iter().find_map(|e| match e {
        BsEvent::Finished { account, .. } => Some(account.clone()),
        _ => None,
    })
}

fn failed(out: &BsOutput) -> Option<(String, String)> {
    out.events.iter().find_map(|e| match e {
        BsEvent::Failed { step, reason, .. } => Some((step.clone(), reason.clone())),
        _ => None,
    })
}

/// Starts a bootstrap of `dev-1` over DTLS: the 2.04 answer and the first request.
fn start(s: &mut BootstrapServer, now: Instant) -> Message {
    static MID: std::sync::atomic::AtomicU16 = std::sync::atomic::AtomicU16::new(100);
    start_mid(s, now, MID.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
}

/// [`start`] with the Bootstrap-Request's message id.
fn start_mid(s: &mut BootstrapServer, now: Instant, mid: u16) -> Message {
    let out = s.handle(now, peer(), Some("dev-1"), &bs_request(mid, "dev-1", None));
    let msgs = decoded(&out);
    assert_eq!(msgs.len(), 2, "{msgs:?}");
    assert_eq!((msgs[0].mtype, msgs[0].code), (MessageType::Ack, Code::CHANGED));
    assert!(matches!(&out.events[0], BsEvent::Started { endpoint, secure: true, .. } if endpoint == "dev-1"));
    msgs[1].clone()
}

/// Answers each request with `code` until the server sends `until` (path, method).
fn step(s: &mut BootstrapServer, now: Instant, req: &Message, code: Code) -> (BsOutput, Option<Message>) {
    let out = s.handle(now, peer(), Some("dev-1"), &answer(req, code));
    let next = decoded(&out).into_iter().find(|m| m.code.is_request());
    (out, next)
}

/// The TLV the Security instance must carry (LwM2M Core §7.4.3: type byte 0b11 resource, 8-bit id,
/// length in the low bits or one following byte, as in the §7.4.3.2 Device object example).
fn expected_security_tlv(identity: &str, key: &[u8]) -> Vec<u8> {
    let uri = b"coaps://127.0.0.1:5684";
    let mut v = vec![0xC8, 0x00, uri.len() as u8];
    v.extend_from_slice(uri);
    v.extend_from_slice(&[0xC1, 0x01, 0x00]); // Bootstrap-Server: false
    v.extend_from_slice(&[0xC1, 0x02, 0x00]); // Security Mode: 0 (PSK)
    v.extend_from_slice(&[0xC8, 0x03, identity.len() as u8]);
    v.extend_from_slice(identity.as_bytes());
    v.extend_from_slice(&[0xC0, 0x04]); // Server Public Key: empty
    v.extend_from_slice(&[0xC8, 0x05, key.len() as u8]);
    v.extend_from_slice(key);
    v.extend_from_slice(&[0xC1, 0x0A, 0x01]); // Short Server ID 1
    v
}

/// Server instance: SSID 1, lifetime 300 (two bytes 0x012C), notification storing true, binding U.
const SERVER_TLV: [u8; 13] = [0xC1, 0x00, 0x01, 0xC2, 0x01, 0x01, 0x2C, 0xC1, 0x06, 0x01, 0xC1, 0x07, b'U'];

#[test]
fn the_whole_sequence_provisions_a_fresh_psk_account_in_tlv() {
    let mut s = BootstrapServer::new(config());
    let now = Instant::now();
    let del0 = start(&mut s, now);
    assert_eq!((del0.code, del0.uri_path().unwrap().as_str()), (Code::DELETE, "/0"));
    let (_, del1) = step(&mut s, now, &del0, Code::DELETED);
    let del1 = del1.unwrap();
    assert_eq!((del1.code, del1.uri_path().unwrap().as_str()), (Code::DELETE, "/1"));
    let (_, w_sec) = step(&mut s, now, &del1, Code::DELETED);
    let w_sec = w_sec.unwrap();
    assert_eq!((w_sec.code, w_sec.uri_path().unwrap().as_str()), (Code::PUT, "/0/1"));
    assert_eq!(w_sec.content_format(), Some(content::TLV));
    let (out, w_srv) = step(&mut s, now, &w_sec, Code::CHANGED);
    assert!(finished(&out).is_none());
    let w_srv = w_srv.unwrap();
    assert_eq!((w_srv.code, w_srv.uri_path().unwrap().as_str()), (Code::PUT, "/1/0"));
    assert_eq!(w_srv.payload, SERVER_TLV);
    let (out, fin) = step(&mut s, now, &w_srv, Code::CHANGED);
    assert!(finished(&out).is_none(), "not before Bootstrap-Finish");
    let fin = fin.unwrap();
    assert_eq!((fin.code, fin.uri_path().unwrap().as_str()), (Code::POST, "/bs"));
    let (out, none) = step(&mut s, now, &fin, Code::CHANGED);
    assert!(none.is_none());
    let account = finished(&out).expect("finished");
    assert_eq!(account.endpoint, "dev-1");
    assert_eq!(account.mode, SecurityMode::Psk);
    assert_eq!(account.key.len(), 16);
    assert!(account.identity.starts_with("wd-") && account.identity.len() == 19, "{}", account.identity);
    assert_eq!(w_sec.payload, expected_security_tlv(&account.identity, &account.key));
    assert!(!format!("{account:?}").contains(&format!("{:?}", &account.key[..4])), "Debug hides the key");
    assert_eq!(s.in_progress(), 0);

    // The next bootstrap gets another identity and key.
    let del0 = start(&mut s, now);
    let mut req = del0;
    let mut out;
    loop {
        let code = if req.code == Code::DELETE { Code::DELETED } else { Code::CHANGED };
        let r = step(&mut s, now, &req, code);
        out = r.0;
        match r.1 {
            Some(n) => req = n,
            None => break,
        }
    }
    let again = finished(&out).unwrap();
    assert_ne!(again.identity, account.identity);
    assert_ne!(&**again.key, &**account.key);
}

#[test]
fn separate_responses_and_retransmissions_are_followed() {
    let mut s = BootstrapServer::new(BootstrapConfig { delete_first: false, ..config() });
    let now = Instant::now();
    let w_sec = start_mid(&mut s, now, 7);
    assert_eq!(w_sec.uri_path().unwrap(), "/0/1");
    // No answer: retransmitted after ACK_TIMEOUT, same message id.
    let out = s.tick(now + Duration::from_secs(3));
    let again = decoded(&out);
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].message_id, w_sec.message_id);
    // The client's Bootstrap-Request retransmitted: the same 2.04 again, no second sequence.
    let out = s.handle(now, peer(), Some("dev-1"), &bs_request(7, "dev-1", None));
    assert_eq!(decoded(&out).len(), 1);
    assert_eq!(decoded(&out)[0].code, Code::CHANGED);
    // An empty ACK, then the answer as a separate CON response: acknowledged, the sequence goes on.
    let t = now + Duration::from_secs(4);
    assert!(s.handle(t, peer(), Some("dev-1"), &Message::empty_ack(w_sec.message_id).encode()).transmits.is_empty());
    assert!(s.tick(t + Duration::from_secs(30)).transmits.is_empty(), "acknowledged: not retransmitted");
    let mut sep = Message::new(MessageType::Con, Code::CHANGED, 777, w_sec.token.clone());
    sep.payload.clear();
    let out = s.handle(t, peer(), Some("dev-1"), &sep.encode());
    let msgs = decoded(&out);
    assert_eq!((msgs[0].mtype, msgs[0].message_id), (MessageType::Ack, 777));
    assert_eq!(msgs[1].uri_path().unwrap(), "/1/0");
}

#[test]
fn a_write_answered_4xx_aborts_without_an_account() {
    let mut s = BootstrapServer::new(config());
    let now = Instant::now();
    let del0 = start(&mut s, now);
    let (_, del1) = step(&mut s, now, &del0, Code::DELETED);
    let (_, w_sec) = step(&mut s, now, &del1.unwrap(), Code::DELETED);
    let w_sec = w_sec.unwrap();
    let mut refused = Message::response_to(&w_sec, Code::BAD_REQUEST, w_sec.message_id);
    refused.payload = b"bad TLV".to_vec();
    let out = s.handle(now, peer(), Some("dev-1"), &refused.encode());
    assert!(finished(&out).is_none());
    let (step_name, reason) = failed(&out).expect("failed");
    assert_eq!(step_name, "write /0/1");
    assert!(reason.contains("4.00") && reason.contains("bad TLV"), "{reason}");
    assert!(decoded(&out).iter().all(|m| !m.code.is_request()), "nothing sent after the failure");
    assert_eq!(s.in_progress(), 0);
    // A late answer to the aborted request is not taken for anything.
    let out = s.handle(now, peer(), Some("dev-1"), &answer(&w_sec, Code::CHANGED));
    assert!(out.events.is_empty() && out.transmits.is_empty());
}

#[test]
fn a_device_that_stops_answering_times_out() {
    let mut s = BootstrapServer::new(config());
    let now = Instant::now();
    let del0 = start(&mut s, now);
    let mut t = now;
    let mut sent = 0;
    let mut out = BsOutput::default();
    for _ in 0..200 {
        t += Duration::from_secs(1);
        out = s.tick(t);
        sent += out.transmits.len();
        if failed(&out).is_some() {
            break;
        }
    }
    assert_eq!(sent, 4, "MAX_RETRANSMIT retransmissions of {}", del0.uri_path().unwrap());
    let (step_name, reason) = failed(&out).expect("timed out");
    assert_eq!(step_name, "delete /0");
    assert!(reason.contains("did not answer"), "{reason}");
    assert!(finished(&out).is_none());
    assert!(t - now >= Duration::from_secs(2 + 4 + 8 + 16 + 32), "{:?}", t - now);

    // Acknowledged but never answered: the response timeout.
    let mut s = BootstrapServer::new(BootstrapConfig { response_timeout: Duration::from_secs(10), ..config() });
    let del0 = start(&mut s, now);
    s.handle(now, peer(), Some("dev-1"), &Message::empty_ack(del0.message_id).encode());
    assert!(failed(&s.tick(now + Duration::from_secs(9))).is_none());
    assert!(failed(&s.tick(now + Duration::from_secs(11))).is_some());

    // A reset aborts too.
    let mut s = BootstrapServer::new(config());
    let del0 = start(&mut s, now);
    let out = s.handle(now, peer(), Some("dev-1"), &Message::reset(del0.message_id).encode());
    assert!(failed(&out).unwrap().1.contains("reset"));
}

#[test]
fn a_refused_bootstrap_finish_provisions_nothing() {
    let mut s = BootstrapServer::new(BootstrapConfig { delete_first: false, ..config() });
    let now = Instant::now();
    let w_sec = start(&mut s, now);
    let (_, w_srv) = step(&mut s, now, &w_sec, Code::CHANGED);
    let (_, fin) = step(&mut s, now, &w_srv.unwrap(), Code::CHANGED);
    let (out, _) = step(&mut s, now, &fin.unwrap(), Code::NOT_ACCEPTABLE);
    assert!(finished(&out).is_none());
    let (step_name, reason) = failed(&out).unwrap();
    assert_eq!(step_name, "bootstrap-finish");
    assert!(reason.contains("4.06"), "{reason}");
}

fn refused(out: &BsOutput) -> (Code, String) {
    let msgs = decoded(out);
    assert_eq!(msgs.len(), 1, "only the refusal: {msgs:?}");
    let reason = out
        .events
        .iter()
        .find_map(|e| match e {
            BsEvent::Refused { reason, .. } => Some(reason.clone()),
            _ => None,
        })
        .expect("refused event");
    (msgs[0].code, reason)
}

#[test]
fn wrong_endpoint_plain_coap_bad_requests_and_too_many_are_refused() {
    let now = Instant::now();
    let mut s = BootstrapServer::new(config());
    // The bootstrap credential was stored for dev-1; it asks for dev-2.
    let (code, reason) = refused(&s.handle(now, peer(), Some("dev-1"), &bs_request(1, "dev-2", None)));
    assert_eq!(code, Code::FORBIDDEN);
    assert!(reason.contains("dev-2"), "{reason}");
    // Plain CoAP without the lab flag.
    let (code, reason) = refused(&s.handle(now, peer(), None, &bs_request(2, "dev-1", None)));
    assert_eq!(code, Code::FORBIDDEN);
    assert!(reason.contains("allow_unsecured"), "{reason}");
    // No ep, a bad pct, a bad name, another path, another method.
    let mut m = Message::new(MessageType::Con, Code::POST, 3, vec![]);
    m.set_uri_path("/bs");
    assert_eq!(refused(&s.handle(now, peer(), Some("dev-1"), &m.encode())).0, Code::BAD_REQUEST);
    let mut m = Message::decode(&bs_request(4, "dev-1", None)).unwrap();
    m.push_option(OptionNumber::URI_QUERY, b"pct=x".to_vec());
    assert_eq!(refused(&s.handle(now, peer(), Some("dev-1"), &m.encode())).0, Code::BAD_REQUEST);
    assert_eq!(refused(&s.handle(now, peer(), Some("a b"), &bs_request(5, "a b", None))).0, Code::BAD_REQUEST);
    let mut m = Message::decode(&bs_request(6, "dev-1", None)).unwrap();
    m.set_uri_path("/rd");
    assert_eq!(refused(&s.handle(now, peer(), Some("dev-1"), &m.encode())).0, Code::NOT_FOUND);
    m.set_uri_path("/bs");
    m.code = Code::GET;
    m.message_id = 7;
    assert_eq!(refused(&s.handle(now, peer(), Some("dev-1"), &m.encode())).0, Code::METHOD_NOT_ALLOWED);
    // Garbage: a confirmable header gets a reset, nothing starts.
    let out = s.handle(now, peer(), Some("dev-1"), &[0x40, 0x02, 0x00, 0x08, 0xff]);
    assert!(matches!(out.events[0], BsEvent::Malformed { .. }));
    assert_eq!(s.in_progress(), 0);

    // Bounded: one at a time here; a second endpoint gets 5.03, the first one may restart.
    let mut s = BootstrapServer::new(BootstrapConfig { max_sessions: 1, ..config() });
    start(&mut s, now);
    let other: SocketAddr = "127.0.0.1:41001".parse().unwrap();
    let out = s.handle(now, other, Some("dev-9"), &bs_request(1, "dev-9", None));
    assert_eq!(refused(&out).0, Code::SERVICE_UNAVAILABLE);
    let out = s.handle(now, peer(), Some("dev-1"), &bs_request(2, "dev-1", None));
    assert_eq!(decoded(&out)[0].code, Code::CHANGED);
    assert_eq!(s.in_progress(), 1);
}

#[test]
fn the_lab_flag_provisions_nosec_accounts_without_keys() {
    let mut s = BootstrapServer::new(BootstrapConfig { allow_unsecured: true, delete_first: false, ..config() });
    let now = Instant::now();
    let out = s.handle(now, peer(), None, &bs_request(1, "lab-1", Some(content::SENML_CBOR)));
    let msgs = decoded(&out);
    assert_eq!(msgs[0].code, Code::CHANGED);
    let w_sec = &msgs[1];
    assert_eq!(w_sec.content_format(), Some(content::SENML_CBOR), "pct=112 honoured");
    let values = content::decode(Some(content::SENML_CBOR), &"/0/1".parse::<Path>().unwrap(), &w_sec.payload).unwrap();
    let get = |r| values.iter().find(|(p, _)| *p == Path::resource(0, 1, r)).map(|(_, v)| v.clone());
    assert_eq!(get(0), Some(Value::String("coap://127.0.0.1:5683".into())));
    assert_eq!(get(2), Some(Value::Integer(3)), "NoSec");
    assert_eq!(get(5), Some(Value::Opaque(vec![])), "no key in clear");
    let mut req = w_sec.clone();
    let mut out;
    loop {
        let r = s.handle(now, peer(), None, &answer(&req, Code::CHANGED));
        let next = decoded(&r).into_iter().find(|m| m.code.is_request());
        out = r;
        match next {
            Some(n) => req = n,
            None => break,
        }
    }
    let account = finished(&out).unwrap();
    assert_eq!((account.mode, account.key.len(), account.identity.as_str()), (SecurityMode::NoSec, 0, ""));
}
