//! The sans-IO server driven datagram by datagram: registration interface (register, update,
//! de-register, expiry), identities and the lab flag, bad input (malformed CoAP, bad options, block
//! transfers out of order or too large) answered without a state change, CON de-duplication,
//! device-management operations with piggybacked, separate and block-wise answers, retransmission
//! and time-out, observe/notify/cancel.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use coap::block::Block;
use coap::{Code, Message, MessageType, OptionNumber};
use lwm2m::server::{Event, OpError, Operation, Server, ServerConfig};
use lwm2m::Path;

fn peer() -> SocketAddr {
    "127.0.0.1:40000".parse().unwrap()
}

fn server(allow_unsecured: bool) -> (Server, Instant) {
    let now = Instant::now();
    (Server::new(ServerConfig { allow_unsecured, ..ServerConfig::default() }, now), now)
}

fn register_msg(mid: u16, ep: &str, lt: u32) -> Message {
    let mut m = Message::new(MessageType::Con, Code::POST, mid, vec![1, 2, 3, 4]);
    m.set_uri_path("/rd");
    for q in [format!("ep={ep}"), format!("lt={lt}"), "lwm2m=1.1".into(), "b=U".into()] {
        m.push_option(OptionNumber::URI_QUERY, q.into_bytes());
    }
    m.payload = b"</1/0>,</3/0>,</4/0>,</5/0>".to_vec();
    m
}

fn only_answer(out: &lwm2m::Output) -> Message {
    assert_eq!(out.transmits.len(), 1, "{:?}", out.transmits);
    Message::decode(&out.transmits[0].datagram).unwrap()
}

fn location(ans: &Message) -> String {
    let segs: Vec<String> =
        ans.options_of(OptionNumber::LOCATION_PATH).map(|o| String::from_utf8(o.value.clone()).unwrap()).collect();
    assert_eq!(segs[0], "rd");
    format!("/rd/{}", segs[1])
}

/// Registers `ep` (lifetime 3600 s) with a fresh message id.
fn register(s: &mut Server, now: Instant, ep: &str, identity: Option<&str>) -> String {
    static MID: std::sync::atomic::AtomicU16 = std::sync::atomic::AtomicU16::new(1000);
    let mid = MID.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let out = s.handle(now, peer(), identity, &register_msg(mid, ep, 3600).encode());
    let ans = only_answer(&out);
    assert_eq!(ans.code, Code::CREATED, "{}", String::from_utf8_lossy(&ans.payload));
    location(&ans)
}

#[test]
fn plain_coap_registration_refused_unless_the_lab_flag_is_set() {
    let (mut s, now) = server(false);
    let out = s.handle(now, peer(), None, &register_msg(1, "dev-1", 60).encode());
    let ans = only_answer(&out);
    assert_eq!((ans.mtype, ans.code, ans.message_id), (MessageType::Ack, Code::FORBIDDEN, 1));
    assert!(s.registry().is_empty());
    assert!(matches!(out.events[0], Event::Refused { code: Code::FORBIDDEN, .. }));

    let (mut s, now) = server(true);
    let out = s.handle(now, peer(), None, &register_msg(1, "dev-1", 60).encode());
    assert_eq!(only_answer(&out).code, Code::CREATED);
    let d = s.registry().get("dev-1").unwrap();
    assert!(d.unsecured());
    assert_eq!(d.objects.len(), 4);
    assert!(matches!(&out.events[0], Event::Registered { unsecured: true, lifetime: 60, replaced: false, .. }));
}

#[test]
fn the_endpoint_name_must_match_the_dtls_identity() {
    let (mut s, now) = server(false);
    let out = s.handle(now, peer(), Some("other"), &register_msg(1, "dev-1", 60).encode());
    assert_eq!(only_answer(&out).code, Code::FORBIDDEN);
    assert!(s.registry().is_empty());
    register(&mut s, now, "dev-1", Some("dev-1"));
    assert!(!s.registry().get("dev-1").unwrap().unsecured());
}

#[test]
fn update_deregister_and_expiry() {
    let (mut s, now) = server(true);
    let loc = register(&mut s, now, "dev-1", None);
    // Update from another port with a new lifetime.
    let mut u = Message::new(MessageType::Con, Code::POST, 8, vec![9]);
    u.set_uri_path(&loc);
    u.push_option(OptionNumber::URI_QUERY, *b"lt=120");
    let other: SocketAddr = "127.0.0.1:40001".parse().unwrap();
    let out = s.handle(now + Duration::from_secs(30), other, None, &u.encode());
    assert_eq!(only_answer(&out).code, Code::CHANGED);
    let d = s.registry().get("dev-1").unwrap();
    assert_eq!((d.lifetime, d.peer), (120, other));
    // A DTLS identity may not update a plain registration.
    let mut u2 = u.clone();
    u2.message_id = 9;
    assert_eq!(only_answer(&s.handle(now, other, Some("dev-1"), &u2.encode())).code, Code::FORBIDDEN);
    // Unknown location.
    let mut u3 = u.clone();
    u3.message_id = 10;
    u3.set_uri_path("/rd/0000000000000000");
    assert_eq!(only_answer(&s.handle(now, other, None, &u3.encode())).code, Code::NOT_FOUND);
    assert_eq!(s.registry().get("dev-1").unwrap().lifetime, 120);
    // Not expired at 30 + 119 s, expired at 30 + 120 s.
    assert!(s.tick(now + Duration::from_secs(149)).events.is_empty());
    let out = s.tick(now + Duration::from_secs(150));
    assert_eq!(out.events, vec![Event::Expired { endpoint: "dev-1".into() }]);
    assert!(s.registry().is_empty());

    let loc = register(&mut s, now, "dev-2", None);
    let mut d = Message::new(MessageType::Con, Code::DELETE, 11, vec![]);
    d.set_uri_path(&loc);
    let out = s.handle(now, peer(), None, &d.encode());
    assert_eq!(only_answer(&out).code, Code::DELETED);
    assert_eq!(out.events, vec![Event::Deregistered { endpoint: "dev-2".into() }]);
    assert!(s.registry().is_empty());
}

#[test]
fn retransmitted_register_is_answered_once() {
    let (mut s, now) = server(true);
    let bytes = register_msg(5, "dev-1", 60).encode();
    let first = s.handle(now, peer(), None, &bytes);
    let again = s.handle(now + Duration::from_secs(2), peer(), None, &bytes);
    assert_eq!(first.transmits, again.transmits);
    assert!(again.events.is_empty());
    assert_eq!(s.registry().len(), 1);
}

#[test]
fn malformed_coap_gets_a_reset_or_nothing_and_changes_nothing() {
    let (mut s, now) = server(true);
    // Token length 9 on a CON: Reset with its message id.
    let mut bad = register_msg(0x4242, "dev-1", 60).encode();
    bad[0] = (bad[0] & 0xf0) | 9;
    let ans = only_answer(&s.handle(now, peer(), None, &bad));
    assert_eq!((ans.mtype, ans.message_id), (MessageType::Rst, 0x4242));
    // The same as NON: dropped.
    bad[0] = (bad[0] & 0xcf) | 0x10;
    assert!(s.handle(now, peer(), None, &bad).transmits.is_empty());
    // Reserved option nibble 15.
    let out = s.handle(now, peer(), None, &[0x40, 0x02, 0x00, 0x07, 0xf1, 0x00]);
    assert_eq!(only_answer(&out).mtype, MessageType::Rst);
    // Random bytes, short datagrams.
    for d in [&[][..], &[0x40], &[0x00, 0x01, 0x02, 0x03]] {
        assert!(s.handle(now, peer(), None, d).transmits.is_empty());
    }
    // An unknown critical option: 4.02.
    let mut m = register_msg(3, "dev-1", 60);
    m.push_option(OptionNumber(9), *b"x");
    assert_eq!(only_answer(&s.handle(now, peer(), None, &m.encode())).code, Code::BAD_OPTION);
    // A Uri-Path segment of 256 bytes: 4.02.
    let mut m = register_msg(4, "dev-1", 60);
    m.push_option(OptionNumber::URI_PATH, vec![b'a'; 256]);
    assert_eq!(only_answer(&s.handle(now, peer(), None, &m.encode())).code, Code::BAD_OPTION);
    // Bad parameters and payloads: 4.00 / 4.12 / 4.15.
    for (mid, q, code) in [
        (20, "lt=abc", Code::BAD_REQUEST),
        (21, "lwm2m=9.9", Code::PRECONDITION_FAILED),
        (22, "b=XYZ", Code::BAD_REQUEST),
    ] {
        let mut m = register_msg(mid, "dev-1", 60);
        m.push_option(OptionNumber::URI_QUERY, q.as_bytes().to_vec());
        assert_eq!(only_answer(&s.handle(now, peer(), None, &m.encode())).code, code, "{q}");
    }
    let mut m = register_msg(23, "dev-1", 60);
    m.payload = b"not a link".to_vec();
    assert_eq!(only_answer(&s.handle(now, peer(), None, &m.encode())).code, Code::BAD_REQUEST);
    let mut m = register_msg(24, "dev-1", 60);
    m.push_uint(OptionNumber::CONTENT_FORMAT, 50);
    assert_eq!(only_answer(&s.handle(now, peer(), None, &m.encode())).code, Code::UNSUPPORTED_CONTENT_FORMAT);
    // Oversized payload: 4.13 with Size1.
    let mut m = register_msg(25, "dev-1", 60);
    m.payload = vec![b','; 20_000];
    let ans = only_answer(&s.handle(now, peer(), None, &m.encode()));
    assert_eq!(ans.code, Code::REQUEST_ENTITY_TOO_LARGE);
    assert_eq!(ans.uint(OptionNumber::SIZE1), Some(16 * 1024));
    // Wrong path and method.
    let mut m = register_msg(26, "dev-1", 60);
    m.set_uri_path("/bs");
    assert_eq!(only_answer(&s.handle(now, peer(), None, &m.encode())).code, Code::NOT_FOUND);
    let mut m = register_msg(27, "dev-1", 60);
    m.code = Code::PUT;
    assert_eq!(only_answer(&s.handle(now, peer(), None, &m.encode())).code, Code::METHOD_NOT_ALLOWED);
    assert!(s.registry().is_empty());
}

fn block1(mid: u16, num: u32, more: bool, payload: &[u8]) -> Vec<u8> {
    let mut m = register_msg(mid, "dev-b", 60);
    m.payload = payload.to_vec();
    m.push_option(OptionNumber::BLOCK1, Block { num, more, szx: 0 }.encode());
    m.encode()
}

#[test]
fn block1_registration_in_order_out_of_order_and_cut() {
    let (mut s, now) = server(true);
    let links = b"</1/0>,</3/0>,</4/0>,</5/0>,</3303/0>";
    let (a, b, c) = (&links[..16], &links[16..32], &links[32..]);
    assert_eq!(only_answer(&s.handle(now, peer(), None, &block1(1, 0, true, a))).code, Code::CONTINUE);
    // Block 2 before block 1: 4.08, transfer dropped.
    assert_eq!(
        only_answer(&s.handle(now, peer(), None, &block1(2, 2, false, c))).code,
        Code::REQUEST_ENTITY_INCOMPLETE
    );
    assert_eq!(only_answer(&s.handle(now, peer(), None, &block1(3, 1, true, b))).code, Code::REQUEST_ENTITY_INCOMPLETE);
    assert!(s.registry().is_empty());
    // A middle block that is short: 4.00.
    assert_eq!(only_answer(&s.handle(now, peer(), None, &block1(4, 0, true, a))).code, Code::CONTINUE);
    assert_eq!(only_answer(&s.handle(now, peer(), None, &block1(5, 1, true, &b[..10]))).code, Code::BAD_REQUEST);
    // In order: registered with all five objects.
    assert_eq!(only_answer(&s.handle(now, peer(), None, &block1(6, 0, true, a))).code, Code::CONTINUE);
    assert_eq!(only_answer(&s.handle(now, peer(), None, &block1(7, 1, true, b))).code, Code::CONTINUE);
    let ans = only_answer(&s.handle(now, peer(), None, &block1(8, 2, false, c)));
    assert_eq!(ans.code, Code::CREATED);
    assert_eq!(s.registry().get("dev-b").unwrap().objects.len(), 5);
    // Too large in total: 4.13.
    let (mut s, now) = server(true);
    let mut mid = 100;
    let mut last = Code::CONTINUE;
    for num in 0..2000 {
        mid += 1;
        last = only_answer(&s.handle(now, peer(), None, &block1(mid, num, true, &[b','; 16]))).code;
        if last != Code::CONTINUE {
            break;
        }
    }
    assert_eq!(last, Code::REQUEST_ENTITY_TOO_LARGE);
    assert!(s.registry().is_empty());
}

fn device_answer(req: &Message, code: Code, cf: Option<u16>, payload: &[u8]) -> Vec<u8> {
    let mut a = Message::new(MessageType::Ack, code, req.message_id, req.token.clone());
    if let Some(cf) = cf {
        a.push_uint(OptionNumber::CONTENT_FORMAT, u32::from(cf));
    }
    a.payload = payload.to_vec();
    a.encode()
}

#[test]
fn read_write_execute_with_piggybacked_and_separate_answers() {
    let (mut s, now) = server(true);
    register(&mut s, now, "dev-1", None);
    let (id, t) = s.request(now, "dev-1", Operation::Read { path: Path::resource(3, 0, 9), accept: Some(0) }).unwrap();
    assert_eq!(t.peer, peer());
    let req = Message::decode(&t.datagram).unwrap();
    assert_eq!((req.mtype, req.code, req.uri_path().unwrap()), (MessageType::Con, Code::GET, "/3/0/9".into()));
    assert_eq!(req.uint(OptionNumber::ACCEPT), Some(0));
    let out = s.handle(now, peer(), None, &device_answer(&req, Code::CONTENT, Some(0), b"87"));
    match &out.events[..] {
        [Event::Response { id: got, result: Ok(r), .. }] => {
            assert_eq!((*got, r.code, r.payload.as_slice()), (id, Code::CONTENT, &b"87"[..]));
        }
        other => panic!("{other:?}"),
    }
    // Separate: empty ACK, then a CON response that the server acknowledges.
    let (id, t) = s
        .request(
            now,
            "dev-1",
            Operation::Write { path: Path::resource(1, 0, 1), format: 0, payload: b"300".to_vec(), replace: true },
        )
        .unwrap();
    let req = Message::decode(&t.datagram).unwrap();
    assert_eq!(req.code, Code::PUT);
    assert!(s.handle(now, peer(), None, &Message::empty_ack(req.message_id).encode()).events.is_empty());
    // Acknowledged: no retransmission.
    assert!(s.tick(now + Duration::from_secs(3)).transmits.is_empty());
    let mut sep = Message::new(MessageType::Con, Code::CHANGED, 0x7777, req.token.clone());
    sep.payload.clear();
    let out = s.handle(now, peer(), None, &sep.encode());
    assert_eq!(only_answer(&out), Message::empty_ack(0x7777));
    assert!(
        matches!(&out.events[..], [Event::Response { id: got, result: Ok(r), .. }] if *got == id && r.code == Code::CHANGED)
    );
    // Execute of an unknown device.
    assert!(matches!(
        s.request(now, "nobody", Operation::Execute { path: Path::resource(3, 0, 4), args: None }),
        Err(OpError::UnknownDevice(_))
    ));
}

#[test]
fn unanswered_requests_are_retransmitted_then_time_out() {
    let (mut s, now) = server(true);
    register(&mut s, now, "dev-1", None);
    let (id, t) = s.request(now, "dev-1", Operation::Discover { path: Path::object(3) }).unwrap();
    let mut at = now;
    let mut sent = 0;
    let mut outcome = None;
    for _ in 0..200 {
        at += Duration::from_secs(1);
        let out = s.tick(at);
        for x in &out.transmits {
            assert_eq!(x.datagram, t.datagram);
            sent += 1;
        }
        if let Some(e) = out.events.into_iter().next() {
            outcome = Some(e);
            break;
        }
    }
    assert_eq!(sent, 4);
    assert_eq!(outcome, Some(Event::Response { id, endpoint: "dev-1".into(), result: Err(OpError::Timeout) }));
    // A Reset fails a request at once.
    let (id, t) = s.request(now, "dev-1", Operation::Execute { path: Path::resource(3, 0, 4), args: None }).unwrap();
    let req = Message::decode(&t.datagram).unwrap();
    let out = s.handle(now, peer(), None, &Message::reset(req.message_id).encode());
    assert_eq!(out.events, vec![Event::Response { id, endpoint: "dev-1".into(), result: Err(OpError::Reset) }]);
}

#[test]
fn block2_answers_are_reassembled_and_bounded() {
    let (mut s, now) = server(true);
    register(&mut s, now, "dev-1", None);
    let body: Vec<u8> = (0..40u8).collect();
    let (id, t) = s.request(now, "dev-1", Operation::Read { path: Path::object(3), accept: None }).unwrap();
    let mut req = Message::decode(&t.datagram).unwrap();
    let mut events = Vec::new();
    for num in 0..3 {
        let (chunk, b) = Block::slice(&body, num, 0).unwrap();
        let mut a = Message::new(MessageType::Ack, Code::CONTENT, req.message_id, req.token.clone());
        a.push_option(OptionNumber::BLOCK2, b.encode());
        a.payload = chunk.to_vec();
        let out = s.handle(now, peer(), None, &a.encode());
        if b.more {
            req = only_answer(&out);
            assert_eq!(Block::decode(&req.option(OptionNumber::BLOCK2).unwrap().value).unwrap().num, num + 1);
        }
        events.extend(out.events);
    }
    assert!(matches!(&events[..], [Event::Response { id: got, result: Ok(r), .. }] if *got == id && r.payload == body));
    // Out of order: block 1 answered with block 2.
    let (_, t) = s.request(now, "dev-1", Operation::Read { path: Path::object(3), accept: None }).unwrap();
    let req = Message::decode(&t.datagram).unwrap();
    let mut a = Message::new(MessageType::Ack, Code::CONTENT, req.message_id, req.token.clone());
    a.push_option(OptionNumber::BLOCK2, Block { num: 2, more: false, szx: 0 }.encode());
    a.payload = vec![1; 4];
    let out = s.handle(now, peer(), None, &a.encode());
    assert!(matches!(&out.events[..], [Event::Response { result: Err(OpError::Blocks(_)), .. }]));
}

#[test]
fn observe_notify_and_cancel() {
    let (mut s, now) = server(true);
    register(&mut s, now, "dev-1", None);
    let path = Path::resource(3, 0, 9);
    let (_, t) = s.request(now, "dev-1", Operation::Observe { path, accept: None }).unwrap();
    let req = Message::decode(&t.datagram).unwrap();
    assert_eq!(req.uint(OptionNumber::OBSERVE), Some(0));
    let mut a = Message::new(MessageType::Ack, Code::CONTENT, req.message_id, req.token.clone());
    a.push_uint(OptionNumber::OBSERVE, 1);
    a.payload = b"90".to_vec();
    s.handle(now, peer(), None, &a.encode());
    assert_eq!(s.observations().count(), 1);
    // A NON notification, then an older one (dropped), then a CON one (acknowledged).
    let notify = |mtype, mid, seq: u32, v: &[u8]| {
        let mut n = Message::new(mtype, Code::CONTENT, mid, req.token.clone());
        n.push_uint(OptionNumber::OBSERVE, seq);
        n.payload = v.to_vec();
        n.encode()
    };
    let out = s.handle(now, peer(), None, &notify(MessageType::Non, 100, 2, b"80"));
    assert!(
        matches!(&out.events[..], [Event::Notification { sequence: 2, response, .. }] if response.payload == b"80")
    );
    assert!(s.handle(now, peer(), None, &notify(MessageType::Non, 101, 1, b"99")).events.is_empty());
    let out = s.handle(now, peer(), None, &notify(MessageType::Con, 102, 3, b"70"));
    assert_eq!(only_answer(&out), Message::empty_ack(102));
    assert_eq!(out.events.len(), 1);
    // Cancel: GET with Observe 1 and the same token; later notifications are reset.
    let (_, t) = s.request(now, "dev-1", Operation::CancelObserve { path }).unwrap();
    let c = Message::decode(&t.datagram).unwrap();
    assert_eq!((c.uint(OptionNumber::OBSERVE), c.token.clone()), (Some(1), req.token.clone()));
    s.handle(now, peer(), None, &device_answer(&c, Code::CONTENT, None, b"70"));
    let out = s.handle(now, peer(), None, &notify(MessageType::Con, 103, 4, b"60"));
    assert_eq!(only_answer(&out), Message::reset(103));
    assert!(out.events.is_empty());
    assert!(matches!(s.request(now, "dev-1", Operation::CancelObserve { path }), Err(OpError::NotObserved(_))));
}

#[test]
fn a_ping_is_answered_with_a_reset() {
    let (mut s, now) = server(true);
    let out = s.handle(now, peer(), None, &Message::new(MessageType::Con, Code::EMPTY, 9, vec![]).encode());
    assert_eq!(only_answer(&out), Message::reset(9));
}

fn fw_get(mid: u16, token: &str, block: Option<Block>) -> Vec<u8> {
    let mut m = Message::new(MessageType::Con, Code::GET, mid, vec![9, mid as u8]);
    m.set_uri_path(&format!("/fw/{token}"));
    if let Some(b) = block {
        m.push_option(OptionNumber::BLOCK2, b.encode());
    }
    m.encode()
}

#[test]
fn an_offered_image_is_served_block_wise_to_its_device_only() {
    let (mut s, now) = server(true);
    register(&mut s, now, "dev-a", None);
    let image: Vec<u8> = (0..2500u32).map(|i| (i * 7 % 251) as u8).collect();
    assert!(!s.offer_download("t1", "nobody", image.clone().into()), "an unregistered device gets no offer");
    assert!(s.offer_download("t1", "dev-a", image.clone().into()));
    // An unknown token is 4.04.
    let ans = only_answer(&s.handle(now, peer(), None, &fw_get(1, "t2", None)));
    assert_eq!(ans.code, Code::NOT_FOUND);
    // Another address (plain CoAP), or a DTLS identity, is refused and gets nothing.
    let stranger: SocketAddr = "127.0.0.2:40000".parse().unwrap();
    let ans = only_answer(&s.handle(now, stranger, None, &fw_get(2, "t1", None)));
    assert_eq!(ans.code, Code::FORBIDDEN);
    let ans = only_answer(&s.handle(now, peer(), Some("dev-a"), &fw_get(3, "t1", None)));
    assert_eq!(ans.code, Code::FORBIDDEN);
    assert_eq!(s.download("t1").unwrap().served, 0);
    // The device asks with 512-byte blocks (SZX 5) from another port of the same address.
    let dev: SocketAddr = "127.0.0.1:40001".parse().unwrap();
    let mut got = Vec::new();
    for num in 0..5u32 {
        let out = s.handle(now, dev, None, &fw_get(10 + num as u16, "t1", Some(Block { num, more: false, szx: 5 })));
        let ans = only_answer(&out);
        assert_eq!(ans.code, Code::CONTENT);
        let b = Block::decode(&ans.option(OptionNumber::BLOCK2).unwrap().value).unwrap();
        assert_eq!((b.num, b.szx, b.more), (num, 5, num < 4));
        assert_eq!(ans.uint(OptionNumber::SIZE2), (num == 0).then_some(2500));
        got.extend_from_slice(&ans.payload);
        let p = s.download("t1").unwrap();
        assert_eq!(p.served, got.len() as u64);
        assert_eq!(p.complete(), num == 4);
    }
    assert_eq!(got, image);
    // A block past the end is refused.
    let ans = only_answer(&s.handle(now, dev, None, &fw_get(20, "t1", Some(Block { num: 5, more: false, szx: 5 }))));
    assert_eq!(ans.code, Code::BAD_OPTION);
    // Without Block2 the first 1024 bytes come; a larger SZX than 6 is impossible (7 is reserved).
    assert!(s.offer_download("t3", "dev-a", image.clone().into()));
    let ans = only_answer(&s.handle(now, dev, None, &fw_get(21, "t3", None)));
    assert_eq!(ans.payload.len(), 1024);
    let b = Block::decode(&ans.option(OptionNumber::BLOCK2).unwrap().value).unwrap();
    assert_eq!((b.num, b.szx, b.more), (0, 6, true));
    // Skipping ahead does not count as served; the transfer is cut off.
    let ans = only_answer(&s.handle(now, dev, None, &fw_get(22, "t3", Some(Block { num: 2, more: false, szx: 6 }))));
    assert_eq!(ans.payload.len(), 2500 - 2048);
    let p = s.download("t3").unwrap();
    assert_eq!((p.served, p.complete()), (1024, false));
    assert_eq!(s.withdraw_download("t3").unwrap().served, 1024);
    let ans = only_answer(&s.handle(now, dev, None, &fw_get(23, "t3", None)));
    assert_eq!(ans.code, Code::NOT_FOUND, "a withdrawn offer is gone");
}

#[test]
fn a_secure_device_downloads_only_under_its_dtls_identity() {
    let (mut s, now) = server(false);
    register(&mut s, now, "dev-s", Some("dev-s"));
    assert!(s.offer_download("tok", "dev-s", vec![1u8; 100].into()));
    let other: SocketAddr = "127.0.0.9:5000".parse().unwrap();
    assert_eq!(only_answer(&s.handle(now, peer(), None, &fw_get(1, "tok", None))).code, Code::FORBIDDEN);
    assert_eq!(only_answer(&s.handle(now, other, Some("dev-x"), &fw_get(2, "tok", None))).code, Code::FORBIDDEN);
    let ans = only_answer(&s.handle(now, other, Some("dev-s"), &fw_get(3, "tok", None)));
    assert_eq!((ans.code, ans.payload.len()), (Code::CONTENT, 100));
    assert!(ans.option(OptionNumber::BLOCK2).is_none(), "one block needs no Block2");
    assert!(s.download("tok").unwrap().complete());
    assert_eq!(s.download("tok").unwrap().refused, 2);
}

/// Plain-CoAP registrations per source (lab mode): past the burst a source gets 5.03 with Max-Age
/// (the seconds until it may try again) and nothing is registered; another address still
/// registers, and the first one can again once its bucket refilled.
#[test]
fn plain_coap_registrations_per_source_are_rate_limited() {
    let now = Instant::now();
    let config = ServerConfig {
        allow_unsecured: true,
        unsecured_registrations_per_source_per_sec: 1,
        unsecured_registration_burst_per_source: 3,
        ..ServerConfig::default()
    };
    let mut s = Server::new(config, now);
    let flood = peer();
    let codes: Vec<Code> = (0..6u16)
        .map(|i| only_answer(&s.handle(now, flood, None, &register_msg(100 + i, &format!("ep-{i}"), 60).encode())).code)
        .collect();
    assert_eq!(codes[..3], [Code::CREATED; 3]);
    assert_eq!(codes[3..], [Code::SERVICE_UNAVAILABLE; 3]);
    let refused = only_answer(&s.handle(now, flood, None, &register_msg(200, "ep-x", 60).encode()));
    let max_age = refused.options.iter().find(|o| o.number == OptionNumber::MAX_AGE).expect("Max-Age");
    assert_eq!(max_age.value, [1], "one second at 1/s");
    assert!(s.registry().get("ep-x").is_none(), "nothing registered");
    let other: SocketAddr = "127.0.0.2:5683".parse().unwrap();
    let ok = only_answer(&s.handle(now, other, None, &register_msg(300, "ep-other", 60).encode()));
    assert_eq!(ok.code, Code::CREATED, "a well-behaved device at another address is served");
    let later = now + Duration::from_millis(1100);
    let again = only_answer(&s.handle(later, flood, None, &register_msg(400, "ep-y", 60).encode()));
    assert_eq!(again.code, Code::CREATED, "after the refill");
}
