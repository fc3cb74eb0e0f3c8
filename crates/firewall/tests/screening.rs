//! The firewall end to end on loopback: legitimate traffic arrives at the HSS byte-exact (modulo the
//! documented relay changes), forged and inconsistent messages of every category are answered by the
//! firewall with the documented code and never reach the HSS, unknown peers are refused at CER,
//! category 3 in enforce and detect modes, steering with the critical rescue, per-IMSI budgets,
//! sinkholes, DOIC reports, reload without dropping connections, and an unreachable HSS.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use diameter::avp;
use diameter::dictionary::{Accepts, AvpKey};
use diameter::header::flags;
use diameter::Command;
use diameter::{Avp, Message};
use firewall::answer::append_route_record;

/// The firewall's count of `warden_firewall_decisions_total{partner, rule, action}`.
fn rule_count(fw: &firewall::Firewall, partner: &str, rule: &str, action: &str) -> u64 {
    let rule = firewall::Rule::ALL.into_iter().find(|r| r.id() == rule).expect("a rule id");
    let action = firewall::Action::ALL.into_iter().find(|a| a.label() == action).expect("an action label");
    fw.engine().observer.partner(&partner.into()).get(rule, action)
}

#[tokio::test]
async fn legitimate_traffic_arrives_byte_exact() {
    let hss = start_upstream(None).await;
    let fw = start_firewall(base_config(hss.addr, "")).await;
    let mut p = connect(fw.addr, ALPHA.0, ALPHA.1).await.unwrap();
    let mut sent = Vec::new();
    // An AIR, a ULR with an AVP no dictionary knows (vendor 99999, no M bit) and a T-flagged copy.
    let a = air(ALPHA, "001010000000001", ALPHA_PLMN);
    sent.push(p.send(a).await);
    let mut u = ulr(ALPHA, "001010000000002", ALPHA_PLMN);
    u.push(Avp {
        code: 4242,
        flags: 0x80,
        vendor_id: Some(99_999),
        value: diameter::Value::OctetString(b"opaque\x00\x01".to_vec()),
    });
    sent.push(p.send(u).await);
    let mut answers = Vec::new();
    for _ in 0..2 {
        answers.push(p.recv_raw(Duration::from_secs(3)).await.expect("answer"));
    }
    let seen = hss.seen.lock().unwrap();
    assert_eq!(seen.requests.len(), 2);
    for (sent, got) in sent.iter().zip(&seen.requests) {
        // Documented changes only: the hop-by-hop identifier, and Route-Record naming the partner node.
        let mut expected = sent.clone();
        expected[12..16].copy_from_slice(&got[12..16]);
        append_route_record(&mut expected, ALPHA.0);
        assert_eq!(&expected, got, "forwarded bytes differ beyond the documented changes");
        assert_eq!(&sent[16..20], &got[16..20], "end-to-end identifier kept");
    }
    for (sent, a) in sent.iter().zip(&answers) {
        let m = Message::decode(a).unwrap();
        assert_eq!(code(&m), 2001);
        assert_eq!(m.get_str(avp::ORIGIN_HOST), Some("hss.home.example"), "the HSS's own answer");
        assert_eq!(&a[12..20], &sent[12..20], "partner's identifiers restored");
        assert!(m.get(avp::OC_SUPPORTED_FEATURES).is_none(), "no DOIC AVPs for a partner without DOIC");
    }
    assert_eq!(rule_count(&fw.fw, "alpha", "pass", "passed"), 2);
}

/// One forged or inconsistent request, the code it must get and the rule that must count it.
struct Case {
    what: &'static str,
    bytes: Vec<u8>,
    code: u32,
    experimental: bool,
    rule: &'static str,
}

fn encode(mut m: Message, id: u32) -> Vec<u8> {
    m.header.hop_by_hop = id;
    m.header.end_to_end = id;
    m.encode()
}

fn with<F: for<'a> Accepts<&'a str>>(mut m: Message, key: AvpKey<F>, value: &str) -> Message {
    m.avps.retain(|a| a.code != key.code());
    m.add(key, value);
    m
}

#[tokio::test]
async fn forged_messages_of_every_category_are_blocked() {
    let hss = start_upstream(None).await;
    let fw = start_firewall(base_config(hss.addr, "")).await;
    let mut p = connect(fw.addr, ALPHA.0, ALPHA.1).await.unwrap();
    let imsi = "001010000000009";
    let good = || air(ALPHA, imsi, ALPHA_PLMN);
    let mut cases = Vec::new();
    let mut case =
        |what, m: Vec<u8>, code, experimental, rule| cases.push(Case { what, bytes: m, code, experimental, rule });
    // Category 1: applications and commands that never come in from partners.
    let mut ecr = Message::request(Command::ECR);
    for a in good().avps {
        ecr.push(a);
    }
    case("S13 ECR (application not allowed)", encode(ecr, 1), 3007, false, "c1-application");
    let mut slh = good();
    slh.header.app_id = 16_777_291; // SLh: location services
    case("SLh location request", encode(slh, 2), 3007, false, "c1-application");
    for (i, command) in [Command::CLR, Command::IDR, Command::DSR, Command::RSR].into_iter().enumerate() {
        let mut m = Message::request(command);
        for a in good().avps {
            m.push(a);
        }
        case(command.request_abbrev(), encode(m, 10 + i as u32), 3001, false, "c1-command");
    }
    let mut looped = good();
    looped.add(avp::ROUTE_RECORD, FW_HOST);
    case("own identity in Route-Record", encode(looped, 20), 3005, false, "c1-loop");
    // Category 2: home-network consistency.
    case(
        "Origin-Host of another partner",
        encode(with(good(), avp::ORIGIN_HOST, BRAVO.0), 30),
        5003,
        false,
        "c2-origin",
    );
    case(
        "Origin-Realm not the partner's",
        encode(with(good(), avp::ORIGIN_REALM, "evil.example"), 31),
        5003,
        false,
        "c2-origin",
    );
    case(
        "Origin-Host outside Origin-Realm",
        encode(with(with(good(), avp::ORIGIN_HOST, "mme1.alpha.example.evil"), avp::ORIGIN_REALM, ALPHA.1), 32),
        5003,
        false,
        "c2-origin",
    );
    case(
        "Destination-Realm not home",
        encode(with(good(), avp::DESTINATION_REALM, "other.example"), 33),
        3003,
        false,
        "c2-destination-realm",
    );
    case(
        "IMSI outside the home ranges",
        encode(air(ALPHA, "999990000000001", ALPHA_PLMN), 34),
        5001,
        true,
        "c2-home-imsi",
    );
    case(
        "Visited-PLMN-Id of another network",
        encode(air(ALPHA, imsi, BRAVO_PLMN), 35),
        5003,
        false,
        "c2-visited-plmn",
    );
    // Malformed: precise RFC 6733 answers.
    let mut no_user = good();
    no_user.avps.retain(|a| a.code != avp::USER_NAME.code());
    case("User-Name missing", encode(no_user, 40), 5005, false, "malformed");
    case("User-Name not an IMSI", encode(with(good(), avp::USER_NAME, "alice@example"), 41), 5004, false, "malformed");
    let not_bcd = air(ALPHA, imsi, &[0x62, 0xf2, 0x1a]); // MNC nibble 0xa: not a digit
    case("Visited-PLMN-Id not BCD digits", encode(not_bcd, 44), 5004, false, "malformed");
    let mut twice = good();
    twice.add(avp::USER_NAME, "001010000000010");
    case("User-Name twice", encode(twice, 42), 5009, false, "malformed");
    let mut bad_len = encode(good(), 43);
    bad_len.extend_from_slice(&[0, 0, 0x04, 0x00, 0x40, 0, 0, 0x40]); // AVP claims 64 bytes, has 8
    let total = bad_len.len() as u32;
    bad_len[1..4].copy_from_slice(&total.to_be_bytes()[1..]);
    case("AVP length past the message", bad_len, 5014, false, "malformed");

    for c in &cases {
        p.send_raw(&c.bytes).await;
        let a = p.recv_raw(Duration::from_secs(3)).await.unwrap_or_else(|| panic!("{}: no answer", c.what));
        let m = Message::decode(&a).unwrap_or_else(|e| panic!("{}: undecodable answer {e}", c.what));
        assert_eq!(&a[12..20], &c.bytes[12..20], "{}: identifiers", c.what);
        assert_eq!(code(&m), c.code, "{}", c.what);
        assert_eq!(m.get(avp::EXPERIMENTAL_RESULT).is_some(), c.experimental, "{}: AVP carrying the code", c.what);
        assert_eq!(m.header.flags & flags::E != 0, (3000..4000).contains(&c.code), "{}: E bit", c.what);
        assert_eq!(m.get_str(avp::ORIGIN_HOST), Some(FW_HOST), "{}: answered by the firewall", c.what);
    }
    assert!(hss.seen.lock().unwrap().requests.is_empty(), "nothing forged reached the HSS");
    // Every block is counted under its rule and reported as an event with the reason.
    for rule in [
        "c1-application",
        "c1-command",
        "c1-loop",
        "c2-origin",
        "c2-destination-realm",
        "c2-home-imsi",
        "c2-visited-plmn",
        "malformed",
    ] {
        let expected = cases.iter().filter(|c| c.rule == rule).count() as u64;
        assert_eq!(rule_count(&fw.fw, "alpha", rule, "blocked"), expected, "{rule}");
    }
    let events = fw.fw.events();
    assert_eq!(events.len(), cases.len());
    assert!(events
        .iter()
        .any(|e| e.rule.id() == "c2-visited-plmn" && e.to_string().contains("not one of the partner's")));
    // And the connection still carries good traffic.
    assert_eq!(p.request(good()).await.map(|m| code(&m)), Some(2001));
}

#[tokio::test]
async fn unknown_and_inconsistent_peers_are_refused_at_cer() {
    let hss = start_upstream(None).await;
    let mut config = base_config(hss.addr, "");
    config.partners[1].addresses = vec!["192.0.2.7".parse().unwrap()];
    let fw = start_firewall(config).await;
    for (host, realm, why) in [
        ("mme.unknown.example", "unknown.example", "unknown Origin-Host"),
        (ALPHA.0, BRAVO.1, "another partner's realm"),
        (BRAVO.0, BRAVO.1, "wrong source address"),
    ] {
        let r = connect(fw.addr, host, realm).await;
        assert!(matches!(&r, Err(e) if e.contains("3010")), "{why}: {:?}", r.as_ref().err());
    }
    assert_eq!(rule_count(&fw.fw, "-", "peer-unknown", "blocked"), 1);
    assert_eq!(rule_count(&fw.fw, "alpha", "peer-unknown", "blocked"), 1);
    assert_eq!(rule_count(&fw.fw, "bravo", "peer-unknown", "blocked"), 1);
    assert!(connect(fw.addr, ALPHA.0, ALPHA.1).await.is_ok());
}

#[tokio::test]
async fn velocity_and_serving_node_enforced() {
    let hss = start_upstream(None).await;
    let fw = start_firewall(base_config(hss.addr, "[velocity]\nmin_minutes = 60")).await;
    let mut a = connect(fw.addr, ALPHA.0, ALPHA.1).await.unwrap();
    let mut a2 = connect(fw.addr, ALPHA2.0, ALPHA2.1).await.unwrap();
    let mut b = connect(fw.addr, BRAVO.0, BRAVO.1).await.unwrap();
    let imsi = "001010000000100";
    assert_eq!(a.request(ulr(ALPHA, imsi, ALPHA_PLMN)).await.map(|m| code(&m)), Some(2001));
    // Germany, then France a moment later: impossible travel.
    assert_eq!(b.request(ulr(BRAVO, imsi, BRAVO_PLMN)).await.map(|m| code(&m)), Some(5003));
    // Another MME of the same country is fine (no country change).
    assert_eq!(a2.request(ulr(ALPHA2, "001010000000101", ALPHA_PLMN)).await.map(|m| code(&m)), Some(2001));
    // PUR only from the MME where the device is registered.
    assert_eq!(b.request(pur(BRAVO, imsi)).await.map(|m| code(&m)), Some(5003));
    assert_eq!(a2.request(pur(ALPHA2, imsi)).await.map(|m| code(&m)), Some(5003));
    assert_eq!(a.request(pur(ALPHA, imsi)).await.map(|m| code(&m)), Some(2001));
    assert_eq!(hss.seen.lock().unwrap().requests.len(), 3);
    assert_eq!(rule_count(&fw.fw, "bravo", "c3-velocity", "blocked"), 1);
    assert_eq!(rule_count(&fw.fw, "bravo", "c3-serving-node", "blocked"), 1);
    assert_eq!(rule_count(&fw.fw, "alpha", "c3-serving-node", "blocked"), 1);
}

#[tokio::test]
async fn velocity_in_detection_mode_counts_but_lets_pass() {
    let hss = start_upstream(None).await;
    let fw =
        start_firewall(base_config(hss.addr, "[rules]\nc3-velocity = \"detect\"\nc3-serving-node = \"detect\"")).await;
    let mut a = connect(fw.addr, ALPHA.0, ALPHA.1).await.unwrap();
    let mut b = connect(fw.addr, BRAVO.0, BRAVO.1).await.unwrap();
    let imsi = "001010000000200";
    assert_eq!(a.request(ulr(ALPHA, imsi, ALPHA_PLMN)).await.map(|m| code(&m)), Some(2001));
    assert_eq!(b.request(ulr(BRAVO, imsi, BRAVO_PLMN)).await.map(|m| code(&m)), Some(2001));
    assert_eq!(
        a.request(pur(ALPHA, imsi)).await.map(|m| code(&m)),
        Some(2001),
        "registered at Bravo now: detected only"
    );
    assert_eq!(hss.seen.lock().unwrap().requests.len(), 3);
    assert_eq!(rule_count(&fw.fw, "bravo", "c3-velocity", "detected"), 1);
    assert_eq!(rule_count(&fw.fw, "bravo", "c3-velocity", "blocked"), 0);
    assert_eq!(rule_count(&fw.fw, "alpha", "c3-serving-node", "detected"), 1);
    let e = fw.fw.events();
    assert!(e
        .iter()
        .any(|e| e.rule.id() == "c3-velocity" && e.action == firewall::Action::Detected && e.plmn.is_some()));
}

#[tokio::test]
async fn steering_rejects_risky_networks_but_never_strands_critical_devices() {
    let hss = start_upstream(None).await;
    let extra = "[steering]\nrisky_plmns = [\"20801\"]\ncritical_rescue_after = 2\n[priority]\ncritical_imsi_prefixes = [\"0010199\"]";
    let fw = start_firewall(base_config(hss.addr, extra)).await;
    let mut b = connect(fw.addr, BRAVO.0, BRAVO.1).await.unwrap();
    // A standard outbound roamer is rejected every time with Experimental 5004 (roaming not allowed).
    for _ in 0..4 {
        let m = b.request(ulr(BRAVO, "001010000000300", BRAVO_PLMN)).await.unwrap();
        assert_eq!(code(&m), 5004);
        assert!(m.get(avp::EXPERIMENTAL_RESULT).is_some());
    }
    // Authentication still passes (the device learns about the network from the ULR answer).
    assert_eq!(b.request(air(BRAVO, "001010000000300", BRAVO_PLMN)).await.map(|m| code(&m)), Some(2001));
    // A critical device is rejected twice, then admitted: it may have no other network.
    let critical = "001019900000001";
    assert_eq!(b.request(ulr(BRAVO, critical, BRAVO_PLMN)).await.map(|m| code(&m)), Some(5004));
    assert_eq!(b.request(ulr(BRAVO, critical, BRAVO_PLMN)).await.map(|m| code(&m)), Some(5004));
    assert_eq!(b.request(ulr(BRAVO, critical, BRAVO_PLMN)).await.map(|m| code(&m)), Some(2001));
    assert_eq!(rule_count(&fw.fw, "bravo", "steering-risky-plmn", "blocked"), 6);
    assert_eq!(rule_count(&fw.fw, "bravo", "steering-critical-rescue", "passed"), 1);
    // Alpha's network is not risky.
    let mut a = connect(fw.addr, ALPHA.0, ALPHA.1).await.unwrap();
    assert_eq!(a.request(ulr(ALPHA, "001010000000301", ALPHA_PLMN)).await.map(|m| code(&m)), Some(2001));
}

#[tokio::test]
async fn a_network_where_many_devices_fail_becomes_risky_automatically() {
    // The HSS rejects subscribers 0010188…: their failures in Alpha's network make it risky.
    let answer: AnswerFn =
        Arc::new(
            |m: &Message| if m.get_str(avp::USER_NAME).is_some_and(|u| u.starts_with("0010188")) { 5003 } else { 2001 },
        );
    let hss = start_upstream(Some(answer)).await;
    let extra = "[steering]\nmin_samples = 10\nfailure_ratio = 0.5\nwindow_secs = 60";
    let fw = start_firewall(base_config(hss.addr, extra)).await;
    let mut a = connect(fw.addr, ALPHA.0, ALPHA.1).await.unwrap();
    assert_eq!(a.request(ulr(ALPHA, "001010000000400", ALPHA_PLMN)).await.map(|m| code(&m)), Some(2001));
    for i in 0..10 {
        assert_eq!(
            a.request(air(ALPHA, &format!("00101880000{i:04}"), ALPHA_PLMN)).await.map(|m| code(&m)),
            Some(5003)
        );
    }
    assert_eq!(fw.fw.engine().risky_plmns(std::time::Instant::now()), vec!["26201".to_string()]);
    assert_eq!(a.request(ulr(ALPHA, "001010000000401", ALPHA_PLMN)).await.map(|m| code(&m)), Some(5004));
    // Cleared by hand.
    fw.fw.mark_risky("26201", Some(Duration::ZERO)).unwrap();
    assert_eq!(a.request(ulr(ALPHA, "001010000000401", ALPHA_PLMN)).await.map(|m| code(&m)), Some(2001));
}

#[tokio::test]
async fn a_device_retrying_in_a_loop_is_throttled_on_its_own() {
    let hss = start_upstream(None).await;
    let fw = start_firewall(base_config(hss.addr, "[budgets]\nimsi_rate_per_sec = 0.1\nimsi_burst = 3")).await;
    let mut a = connect(fw.addr, ALPHA.0, ALPHA.1).await.unwrap();
    let looping = "001010000000500";
    let mut codes = Vec::new();
    for _ in 0..6 {
        codes.push(a.request(air(ALPHA, looping, ALPHA_PLMN)).await.map(|m| code(&m)).unwrap());
    }
    assert_eq!(codes, [2001, 2001, 2001, 5012, 5012, 5012]);
    // Its neighbours are not affected.
    assert_eq!(a.request(air(ALPHA, "001010000000501", ALPHA_PLMN)).await.map(|m| code(&m)), Some(2001));
    assert_eq!(rule_count(&fw.fw, "alpha", "rate-imsi", "blocked"), 3);
    assert_eq!(hss.seen.lock().unwrap().requests.len(), 4);
}

#[tokio::test]
async fn reload_changes_rules_without_dropping_connections_and_sinkholes() {
    let hss = start_upstream(None).await;
    let fw = start_firewall(base_config(hss.addr, "")).await;
    let mut a = connect(fw.addr, ALPHA.0, ALPHA.1).await.unwrap();
    let imsi = "001010000000600";
    assert_eq!(a.request(air(ALPHA, imsi, ALPHA_PLMN)).await.map(|m| code(&m)), Some(2001));
    // Home range narrowed: the same connection now gets Experimental 5001.
    let mut narrowed = base_config(hss.addr, "");
    narrowed.home.imsi_prefixes = vec!["0010199".into()];
    fw.fw.reload(narrowed).unwrap();
    assert_eq!(a.request(air(ALPHA, imsi, ALPHA_PLMN)).await.map(|m| code(&m)), Some(5001));
    // Alpha sinkholed (answer mode): every request gets the one uniform answer.
    let mut sink = base_config(hss.addr, "[sinkhole]\nmode = \"answer\"");
    sink.partners[0].sinkhole = true;
    fw.fw.reload(sink).unwrap();
    let mut clr = Message::request(Command::CLR);
    clr.add(avp::SESSION_ID, "x;1");
    for m in [air(ALPHA, imsi, ALPHA_PLMN), clr] {
        assert_eq!(a.request(m).await.map(|m| code(&m)), Some(5012));
    }
    // Drop mode: nothing comes back.
    let mut drop = base_config(hss.addr, "");
    drop.partners[0].sinkhole = true;
    fw.fw.reload(drop).unwrap();
    a.send(air(ALPHA, imsi, ALPHA_PLMN)).await;
    assert!(a.recv_raw(Duration::from_millis(500)).await.is_none());
    assert_eq!(rule_count(&fw.fw, "alpha", "sinkhole", "dropped"), 1);
    // A bad configuration is refused and the rules in force stay.
    let mut bad = base_config(hss.addr, "");
    bad.inbound_commands = vec!["IDR".into()];
    assert!(fw.fw.reload(bad).is_err());
    // Back to the original: the same connection passes traffic again.
    fw.fw.reload(base_config(hss.addr, "")).unwrap();
    assert_eq!(a.request(air(ALPHA, imsi, ALPHA_PLMN)).await.map(|m| code(&m)), Some(2001));
    assert_eq!(hss.seen.lock().unwrap().opened, 1, "the upstream connection was kept too");
}

#[tokio::test]
async fn doic_partners_get_overload_reports() {
    let hss = start_upstream(None).await;
    let extra = "[overload]\ncapacity_per_sec = 100\nburst = 5\nhigh_water = 0.5\n[budgets]\nimsi_rate_per_sec = 100\nimsi_burst = 100";
    let fw = start_firewall(base_config(hss.addr, extra)).await;
    let mut a = connect(fw.addr, ALPHA.0, ALPHA.1).await.unwrap();
    let doic = |i: u32| {
        let mut m = air(ALPHA, &format!("0010100000{i:05}"), ALPHA_PLMN);
        m.push(Avp::grouped(avp::OC_SUPPORTED_FEATURES, vec![Avp::new(avp::OC_FEATURE_VECTOR, 1u64)]));
        m
    };
    // Pipelined well above 100/s for half a second.
    let mut reports = Vec::new();
    for round in 0..25u32 {
        for i in 0..20 {
            a.send(doic(round * 20 + i)).await;
        }
        for _ in 0..20 {
            let m = Message::decode(&a.recv_raw(Duration::from_secs(3)).await.unwrap()).unwrap();
            assert!(m.get(avp::OC_SUPPORTED_FEATURES).is_some(), "reporting node answers with OC-Supported-Features");
            if let Some(olr) = m.get(avp::OC_OLR) {
                reports.push(olr.child(avp::OC_REDUCTION_PERCENTAGE).unwrap().as_u32().unwrap());
                assert_eq!(olr.child(avp::OC_REPORT_TYPE).unwrap().as_u32(), Some(1));
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(reports.iter().any(|&r| r >= 50), "reduction reported: {reports:?}");
}

#[tokio::test]
async fn an_unreachable_hss_gets_unable_to_deliver() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let fw = start_firewall(base_config(closed, "")).await;
    let mut a = connect(fw.addr, ALPHA.0, ALPHA.1).await.unwrap();
    let m = a.request(air(ALPHA, "001010000000700", ALPHA_PLMN)).await.unwrap();
    assert_eq!(code(&m), 3002);
    assert!(m.header.flags & flags::E != 0);
}

fn hss_request(command: Command, destination: &str) -> Message {
    let mut m = Message::request(command);
    m.add(avp::SESSION_ID, format!("hss.home.example;{command}"));
    m.add(avp::AUTH_SESSION_STATE, 1u32);
    m.add(avp::ORIGIN_HOST, "hss.home.example");
    m.add(avp::ORIGIN_REALM, HOME);
    m.add(avp::DESTINATION_HOST, destination);
    m.add(avp::DESTINATION_REALM, ALPHA.1);
    m.add(avp::USER_NAME, "001010000000900");
    if command == Command::CLR {
        m.add(avp::CANCELLATION_TYPE, 0u32);
    }
    m
}

#[tokio::test]
async fn requests_of_the_hss_reach_the_partner_node_and_their_answers_come_back() {
    let hss = start_upstream(None).await;
    let fw = start_firewall(base_config(hss.addr, "")).await;
    let mut a = connect(fw.addr, ALPHA.0, ALPHA.1).await.unwrap();
    // The upstream connection is open once a request has passed.
    assert_eq!(a.request(air(ALPHA, "001010000000900", ALPHA_PLMN)).await.map(|m| code(&m)), Some(2001));
    hss.seen.lock().unwrap().outbox.extend([
        hss_request(Command::CLR, ALPHA.0),
        hss_request(Command::CLR, "mme9.nowhere.example"),
        hss_request(Command::ULR, ALPHA.0),
    ]);
    // The CLR arrives at the MME named in Destination-Host, with a Route-Record naming the HSS last.
    let clr = a.recv_raw(Duration::from_secs(3)).await.expect("CLR relayed");
    let m = Message::decode(&clr).unwrap();
    assert_eq!(m.abbrev(), Some("CLR"));
    assert_eq!(m.avps.last().and_then(|r| r.as_str()), Some("hss.home.example"));
    assert_eq!(m.avps.last().map(|r| r.code), Some(282));
    let mut cla = Message::answer_to(&m.header, m.session_id());
    cla.add(avp::AUTH_SESSION_STATE, 1u32);
    cla.set_error(2001, ALPHA.0, ALPHA.1, None, None);
    let mut bytes = cla.encode();
    bytes[12..16].copy_from_slice(&clr[12..16]);
    a.send_raw(&bytes).await;
    // Nothing else reaches the partner: the unknown node and the ULR are answered by the firewall.
    assert!(a.recv_raw(Duration::from_millis(400)).await.is_none());
    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    while hss.seen.lock().unwrap().answers.len() < 3 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let answers = hss.seen.lock().unwrap().answers.clone();
    let mut codes: Vec<(String, u32, String)> = answers
        .iter()
        .map(|m| (m.abbrev().unwrap().to_string(), code(m), m.get_str(avp::ORIGIN_HOST).unwrap().to_string()))
        .collect();
    codes.sort();
    assert_eq!(
        codes,
        [
            ("CLA".to_string(), 2001, ALPHA.0.to_string()),
            ("CLA".to_string(), 3002, FW_HOST.to_string()),
            ("ULA".to_string(), 3001, FW_HOST.to_string()),
        ]
    );
    assert_eq!(rule_count(&fw.fw, "alpha", "outbound", "passed"), 1);
}

#[tokio::test]
async fn node_names_outside_the_realm_only_when_allowed() {
    let hss = start_upstream(None).await;
    let outside = ("mme7.ipx-hosting.example", ALPHA.1);
    for (required, expect_open) in [(true, false), (false, true)] {
        let mut config = base_config(hss.addr, "");
        config.partners[0].origin_hosts.push(outside.0.into());
        config.host_in_realm = required;
        let fw = start_firewall(config).await;
        let c = connect(fw.addr, outside.0, outside.1).await;
        assert_eq!(c.is_ok(), expect_open, "host_in_realm = {required}");
        if let Ok(mut p) = c {
            assert_eq!(p.request(air(outside, "001010000001000", ALPHA_PLMN)).await.map(|m| code(&m)), Some(2001));
        }
    }
}

#[tokio::test]
async fn a_second_connection_of_a_partner_node_closing_leaves_the_first_reachable() {
    let hss = start_upstream(None).await;
    let fw = start_firewall(base_config(hss.addr, "")).await;
    let mut first = connect(fw.addr, ALPHA.0, ALPHA.1).await.unwrap();
    assert_eq!(first.request(air(ALPHA, "001010000000900", ALPHA_PLMN)).await.map(|m| code(&m)), Some(2001));
    // The same node opens a second connection (a restart it has not noticed, a second process) and
    // closes it again. Before, the second took the first's place and its close removed both.
    let second = connect(fw.addr, ALPHA.0, ALPHA.1).await.unwrap();
    second.close().await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    hss.seen.lock().unwrap().outbox.push(hss_request(Command::CLR, ALPHA.0));
    let clr = first.recv_raw(Duration::from_secs(3)).await.expect("the CLR reaches the connection still open");
    assert_eq!(Message::decode(&clr).unwrap().abbrev(), Some("CLR"));
}
