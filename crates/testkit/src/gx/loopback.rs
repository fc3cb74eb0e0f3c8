//! The P-GW over a real TCP connection against a scripted PCRF on a raw socket (no Diameter stack
//! on that side): what the CER and CCR carry on the wire, and what the P-GW makes of the CCA and a
//! RAR.

use std::net::Ipv4Addr;

use diameter::avp::{self as davp};
use diameter::header::{flags, Header, HEADER_LEN, VERSION};
use diameter::{Avp, Message};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::codes::{base, tgpp, GX_APPLICATION_ID, RE_AUTH, VENDOR_3GPP};
use super::raw::{avp_is_mandatory, bytes_of, child_u32, children, find, ietf, str_of, tgpp as t, u32_of};
use super::{Pgw, SessionSpec};

async fn read(s: &mut TcpStream) -> Message {
    let mut head = [0u8; HEADER_LEN];
    s.read_exact(&mut head).await.unwrap();
    let len = u32::from_be_bytes([0, head[1], head[2], head[3]]) as usize;
    let mut buf = head.to_vec();
    buf.resize(len, 0);
    s.read_exact(&mut buf[HEADER_LEN..]).await.unwrap();
    Message::decode(&buf).unwrap()
}

async fn write(s: &mut TcpStream, m: &Message) {
    s.write_all(&m.encode()).await.unwrap();
}

fn answer(req: &Message) -> Message {
    let mut a = Message::answer_to(&req.header, find(&req.avps, base::SESSION_ID, 0).and_then(str_of));
    a.add(davp::ORIGIN_HOST, "pcrf.test");
    a.add(davp::ORIGIN_REALM, "test");
    a.add(davp::RESULT_CODE, 2001u32);
    a
}

fn rule(name: &str, precedence: u32, status: u32, desc: &str) -> Avp {
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
            t(tgpp::FLOW_STATUS, true, status),
            t(tgpp::PRECEDENCE, true, precedence),
        ],
    )
}

#[tokio::test]
async fn pgw_speaks_gx_on_the_wire_and_applies_the_cca() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let pcrf = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let cer = read(&mut s).await;
        let mut cea = answer(&cer);
        cea.add(davp::HOST_IP_ADDRESS, std::net::IpAddr::from([127, 0, 0, 1]));
        cea.add(davp::VENDOR_ID, 0u32);
        cea.add(davp::PRODUCT_NAME, "scripted PCRF");
        cea.add(
            davp::VENDOR_SPECIFIC_APPLICATION_ID,
            vec![Avp::new(davp::VENDOR_ID, VENDOR_3GPP), Avp::new(davp::AUTH_APPLICATION_ID, GX_APPLICATION_ID)],
        );
        write(&mut s, &cea).await;
        let ccr = read(&mut s).await;
        let mut cca = answer(&ccr);
        cca.push(ietf(base::AUTH_APPLICATION_ID, GX_APPLICATION_ID));
        cca.push(ietf(base::CC_REQUEST_TYPE, 1u32));
        cca.push(ietf(base::CC_REQUEST_NUMBER, 0u32));
        cca.push(t(
            tgpp::CHARGING_RULE_INSTALL,
            true,
            vec![
                rule("allow-1", 100, 2, "permit out ip from 198.51.100.0/24 to assigned"),
                rule("allow-2", 101, 2, "permit out 6 from 203.0.113.7 443 to assigned"),
                rule("deny-all", 65535, 3, "permit out ip from any to assigned"),
            ],
        ));
        write(&mut s, &cca).await;
        // A RAR that removes allow-1.
        let sid = find(&ccr.avps, base::SESSION_ID, 0).and_then(str_of).unwrap().to_string();
        let mut rar = Message {
            header: Header {
                version: VERSION,
                length: 0,
                flags: flags::R | flags::P,
                code: RE_AUTH,
                app_id: GX_APPLICATION_ID,
                hop_by_hop: 99,
                end_to_end: 99,
            },
            avps: vec![
                ietf(base::SESSION_ID, sid.as_str()),
                ietf(base::AUTH_APPLICATION_ID, GX_APPLICATION_ID),
                ietf(base::ORIGIN_HOST, "pcrf.test"),
                ietf(base::ORIGIN_REALM, "test"),
                ietf(base::DESTINATION_REALM, "test"),
                ietf(293, "pgw.test"),
                ietf(285, 0u32),
            ],
        };
        rar.push(t(tgpp::CHARGING_RULE_REMOVE, true, vec![t(tgpp::CHARGING_RULE_NAME, true, b"allow-1".to_vec())]));
        write(&mut s, &rar).await;
        let raa = loop {
            let m = read(&mut s).await;
            if !m.is_request() && m.header.hop_by_hop == 99 {
                break m;
            }
        };
        (cer, ccr, raa)
    });

    let pgw = Pgw::connect_with_state(addr, "pgw.test", "test", "test", 77).await.expect("CEA");
    let mut spec = SessionSpec::new("001010000000001", "meters.example", Ipv4Addr::new(10, 45, 0, 2));
    spec.msisdn = Some("491700000001".into());
    spec.ue_ipv6_prefix = Some(("2001:db8:1:2::".parse().unwrap(), 64));
    spec.supported_features = Some((1, 0b11));
    let cca = pgw.ccr_initial(&spec).await;
    assert!(cca.is_success(), "{:?}", cca.message);
    let s = pgw.session(&cca.session_id).unwrap();
    assert_eq!(s.installed.rules.len(), 3);
    assert!(s.allows("198.51.100.7".parse().unwrap(), 80, 6));
    assert!(s.allows("203.0.113.7".parse().unwrap(), 443, 6));
    assert!(!s.allows("203.0.113.7".parse().unwrap(), 443, 17));

    let (cer, ccr, raa) = tokio::time::timeout(std::time::Duration::from_secs(5), pcrf).await.unwrap().unwrap();
    // CER: Gx as a vendor-specific application, the Origin-State-Id given.
    assert_eq!(find(&cer.avps, base::ORIGIN_STATE_ID, 0).and_then(u32_of), Some(77));
    let vsai = find(&cer.avps, 260, 0).expect("Vendor-Specific-Application-Id");
    assert_eq!(
        (child_u32(vsai, base::VENDOR_ID, 0), child_u32(vsai, base::AUTH_APPLICATION_ID, 0)),
        (Some(VENDOR_3GPP), Some(GX_APPLICATION_ID))
    );
    // CCR-I: TS 29.212 §5.6.2, byte by byte where it matters.
    assert_eq!(
        (ccr.header.code, ccr.header.app_id, ccr.header.flags & (flags::R | flags::P)),
        (272, GX_APPLICATION_ID, flags::R | flags::P)
    );
    let a = &ccr.avps;
    assert_eq!(a[0].code, base::SESSION_ID, "Session-Id first");
    assert!(str_of(&a[0]).unwrap().starts_with("pgw.test;77;"));
    assert_eq!(find(a, base::CC_REQUEST_TYPE, 0).and_then(u32_of), Some(1));
    assert_eq!(find(a, base::CC_REQUEST_NUMBER, 0).and_then(u32_of), Some(0));
    let subs: Vec<(Option<u32>, Option<String>)> = a
        .iter()
        .filter(|x| x.code == base::SUBSCRIPTION_ID)
        .map(|x| {
            let k = children(x).unwrap();
            (
                find(&k, base::SUBSCRIPTION_ID_TYPE, 0).and_then(u32_of),
                find(&k, base::SUBSCRIPTION_ID_DATA, 0).and_then(str_of).map(String::from),
            )
        })
        .collect();
    assert_eq!(subs, [(Some(1), Some("001010000000001".into())), (Some(0), Some("491700000001".into()))]);
    assert_eq!(find(a, base::FRAMED_IP_ADDRESS, 0).and_then(bytes_of), Some(&[10, 45, 0, 2][..]));
    assert_eq!(
        find(a, base::FRAMED_IPV6_PREFIX, 0).and_then(bytes_of),
        Some(&[0, 64, 0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 2][..])
    );
    assert_eq!(find(a, base::CALLED_STATION_ID, 0).and_then(str_of), Some("meters.example"));
    assert_eq!(find(a, tgpp::IP_CAN_TYPE, VENDOR_3GPP).and_then(u32_of), Some(5));
    let rat = find(a, tgpp::RAT_TYPE, VENDOR_3GPP).unwrap();
    assert_eq!((u32_of(rat), avp_is_mandatory(rat)), (Some(1004), false), "RAT-Type is V only on Gx");
    assert_eq!(find(a, tgpp::SGSN_MCC_MNC, VENDOR_3GPP).and_then(str_of), Some("00101"));
    let sf = find(a, tgpp::SUPPORTED_FEATURES, VENDOR_3GPP).unwrap();
    assert_eq!(child_u32(sf, tgpp::FEATURE_LIST, VENDOR_3GPP), Some(3));

    // The stack's dictionary takes a RAR in Gx's application (the base command, TS 29.212 §5.6.4),
    // so it reaches the P-GW's handler, which applies it.
    let raa_code = find(&raa.avps, base::RESULT_CODE, 0).and_then(u32_of);
    assert_eq!(raa_code, Some(2001));
    let s = pgw.session(&cca.session_id).unwrap();
    assert!(!s.installed.rules.contains_key("allow-1"));
    assert!(!s.allows("198.51.100.7".parse().unwrap(), 80, 6));
    assert_eq!(pgw.next_rar(std::time::Duration::from_secs(1)).await.map(|m| m.header.code), Some(RE_AUTH));
}

#[tokio::test]
async fn a_restart_reconnects_with_a_higher_origin_state_id_and_forgets_sessions() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let pcrf = tokio::spawn(async move {
        let mut states = Vec::new();
        for _ in 0..2 {
            let (mut s, _) = listener.accept().await.unwrap();
            let cer = read(&mut s).await;
            states.push(find(&cer.avps, base::ORIGIN_STATE_ID, 0).and_then(u32_of));
            let mut cea = answer(&cer);
            cea.add(davp::HOST_IP_ADDRESS, std::net::IpAddr::from([127, 0, 0, 1]));
            cea.add(davp::VENDOR_ID, 0u32);
            cea.add(davp::PRODUCT_NAME, "scripted PCRF");
            cea.add(davp::AUTH_APPLICATION_ID, GX_APPLICATION_ID);
            write(&mut s, &cea).await;
            if states.len() == 1 {
                // The first connection ends with DPR, answered with DPA.
                let dpr = read(&mut s).await;
                assert_eq!(dpr.header.code, 282, "DPR");
                write(&mut s, &answer(&dpr)).await;
            } else {
                return (states, s);
            }
        }
        unreachable!()
    });
    let pgw = Pgw::connect_with_state(addr, "pgw.test", "test", "test", 77).await.expect("CEA");
    let first = pgw.peer();
    assert_eq!(pgw.reconnect_with_new_state().await.unwrap(), 78);
    assert_eq!(pgw.origin_state_id(), 78);
    assert!(!first.is_open() && pgw.peer().is_open());
    assert!(pgw.sessions().is_empty());
    assert!(pgw.new_session_id().starts_with("pgw.test;78;"));
    let (states, _conn) = pcrf.await.unwrap();
    assert_eq!(states, [Some(77), Some(78)]);
}
