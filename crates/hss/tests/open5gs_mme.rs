//! The HSS as an Open5GS MME sees it, over a raw loopback TCP connection: every message is built
//! and read here, byte for byte, the way Open5GS's MME (freeDiameter underneath) sends and parses
//! them, so nothing of Warden's own peer layer stands between the two.
//!
//! - **CER** as freeDiameter sends it for an S6a-only MME: the application only inside
//!   Vendor-Specific-Application-Id {Vendor-Id 10415, Auth-Application-Id 16777251}, no bare
//!   Auth-Application-Id. The HSS must answer DIAMETER_SUCCESS and advertise S6a.
//! - **AIA** checked as Open5GS's `mme_s6a_aia_cb` (src/mme/mme-fd-path.c) checks it: Result-Code,
//!   Authentication-Info with an E-UTRAN-Vector holding XRES, KASME, RAND and AUTN.
//! - **Combined AIR** (a combined MME/SGSN, TS 29.272 §5.2.3.1.3): E-UTRAN and UTRAN/GERAN vectors
//!   in one answer, each part as many as it asked for, every vector recomputed with the AuC.
//! - **ULA** checked as Open5GS's `mme_s6a_ula_cb` and `mme_s6a_subscription_data_from_avp` check
//!   it: Origin-Host, Origin-Realm, ULA-Flags, Subscription-Data with AMBR (both directions; its
//!   absence is "no_AMBR" and the ULA is dropped), APN-Configuration-Profile, and in every
//!   APN-Configuration Service-Selection, Context-Identifier, PDN-Type, EPS-Subscribed-QoS-Profile
//!   with QoS-Class-Identifier and Allocation-Retention-Priority with Priority-Level; the profile's
//!   default Context-Identifier must name one of them (TS 29.272 §7.3.34). Read from Open5GS at
//!   commit 8f25f3bea (facts only, nothing copied).
//! - **Session-Ids**: hundreds of CLR and IDR for the same few IMSIs, each with its own RFC 6733
//!   §8.8 Session-Id that starts with the HSS's Origin-Host.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use diameter::dictionary::{app, VENDOR_3GPP};
use diameter::result_code as rc;
use diameter::{avp, next_frame_len, Avp, Command, Message};
use store::model::{Priority, ServingNode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

use common::{mme, new_sim, setup, REALM};
use testkit::keys::{hex as h, K, OPC};
use testkit::provision::{self, profile};
use testkit::s6a::PLMN_00101;

const MME: &str = "mme1.home.example";
/// A SIM of a profile with an APN but without `ambr_ul`/`ambr_dl`.
const NO_AMBR: &str = "001010000000010";

/// An Open5GS MME's end of a Diameter connection: frames in, frames out, identifiers its own.
struct Open5gsMme {
    tcp: TcpStream,
    buf: Vec<u8>,
    next_id: u32,
}

impl Open5gsMme {
    /// Connects and performs the capabilities exchange with a VSAI-only CER; returns the CEA too.
    async fn connect(addr: std::net::SocketAddr) -> (Self, Message) {
        let tcp = TcpStream::connect(addr).await.unwrap();
        let mut me = Self { tcp, buf: Vec::new(), next_id: 0x5000_0000 };
        let mut cer = Message::request(Command::CER);
        cer.add(avp::ORIGIN_HOST, MME);
        cer.add(avp::ORIGIN_REALM, REALM);
        cer.add(avp::HOST_IP_ADDRESS, std::net::IpAddr::from([127, 0, 0, 1]));
        cer.add(avp::VENDOR_ID, 0u32);
        cer.add(avp::PRODUCT_NAME, "freeDiameter");
        cer.add(avp::ORIGIN_STATE_ID, 1_700_000_000u32);
        cer.add(avp::SUPPORTED_VENDOR_ID, VENDOR_3GPP);
        cer.add(
            avp::VENDOR_SPECIFIC_APPLICATION_ID,
            vec![Avp::new(avp::VENDOR_ID, VENDOR_3GPP), Avp::new(avp::AUTH_APPLICATION_ID, app::S6A)],
        );
        cer.add(avp::FIRMWARE_REVISION, 10500u32);
        let cea = me.ask(cer).await;
        (me, cea)
    }

    async fn send(&mut self, m: &Message) {
        self.tcp.write_all(&m.encode()).await.unwrap();
    }

    async fn recv(&mut self) -> Message {
        loop {
            if let Some(n) = next_frame_len(&self.buf, 1 << 20).unwrap() {
                let frame: Vec<u8> = self.buf.drain(..n).collect();
                return Message::decode(&frame).expect("the HSS sends well-formed messages");
            }
            let mut chunk = [0u8; 4096];
            let n = timeout(Duration::from_secs(5), self.tcp.read(&mut chunk)).await.expect("data in time").unwrap();
            assert!(n > 0, "the HSS closed the connection");
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// Sends a request with fresh identifiers and returns the answer with the same ones.
    async fn ask(&mut self, mut req: Message) -> Message {
        self.next_id += 1;
        req.header.hop_by_hop = self.next_id;
        req.header.end_to_end = self.next_id;
        self.send(&req).await;
        let a = self.recv().await;
        assert!(!a.is_request(), "an answer, not {:?}", a.abbrev());
        assert_eq!((a.header.hop_by_hop, a.header.end_to_end), (self.next_id, self.next_id), "answer matched by ids");
        assert_eq!(a.header.code, req.header.code);
        a
    }
}

/// The common AVPs of an Open5GS MME's S6a request.
fn s6a_request(command: Command, imsi: &str, session: u32) -> Message {
    let mut m = Message::request(command);
    m.add(avp::SESSION_ID, format!("{MME};1700000000;{session};app_s6a"));
    m.add(avp::AUTH_SESSION_STATE, 1u32);
    m.add(avp::ORIGIN_HOST, MME);
    m.add(avp::ORIGIN_REALM, REALM);
    m.add(avp::DESTINATION_REALM, REALM);
    m.add(avp::USER_NAME, imsi);
    m
}

fn requested(n: u32, immediate: bool) -> Vec<Avp> {
    let mut v = vec![Avp::new(avp::NUMBER_OF_REQUESTED_VECTORS, n)];
    if immediate {
        v.push(Avp::new(avp::IMMEDIATE_RESPONSE_PREFERRED, 0u32));
    }
    v
}

/// An AIR asking for `eutran` E-UTRAN vectors and/or `utran_geran` UTRAN/GERAN vectors, with
/// Immediate-Response-Preferred in the E-UTRAN part, as a combined MME/SGSN sends it.
fn air(imsi: &str, session: u32, eutran: Option<u32>, utran_geran: Option<u32>, rat_type: Option<u32>) -> Message {
    let mut m = s6a_request(Command::AIR, imsi, session);
    m.add(avp::VISITED_PLMN_ID, &PLMN_00101);
    if let Some(r) = rat_type {
        m.add(avp::RAT_TYPE, r);
    }
    if let Some(n) = eutran {
        m.push(Avp::grouped(avp::REQUESTED_EUTRAN_AUTHENTICATION_INFO, requested(n, true)));
    }
    if let Some(n) = utran_geran {
        m.push(Avp::grouped(avp::REQUESTED_UTRAN_GERAN_AUTHENTICATION_INFO, requested(n, false)));
    }
    m
}

fn milenage() -> auc::AuthAlgorithm {
    auc::Milenage::new(&auc::Key::from_slice(&h(K)).unwrap(), &auc::Opc::from_slice(&h(OPC)).unwrap()).unwrap().into()
}

fn octets(v: &Avp, key: diameter::dictionary::AvpKey<diameter::dictionary::format::OctetString>) -> Vec<u8> {
    v.child(key).and_then(Avp::as_bytes).unwrap_or_else(|| panic!("no_{}", key.name())).to_vec()
}

/// The SQN an AUTN carries (SQN ⊕ AK, AK from the RAND).
fn sqn_of(alg: &auc::AuthAlgorithm, rand: &auc::Rand, autn: &[u8]) -> auc::Sqn {
    let (_, _, _, _, ak) = alg.vector_outputs(rand, auc::Sqn::new(0).unwrap(), auc::Amf([0, 0]));
    auc::Sqn::from_bytes(core::array::from_fn(|i| autn[i] ^ ak.0[i]))
}

/// Checks the Authentication-Info of an AIA as Open5GS reads it and every vector against the AuC;
/// returns (E-UTRAN, UTRAN, GERAN) counts and the SQNs used.
fn check_vectors(a: &Message) -> ((usize, usize, usize), Vec<u64>) {
    assert_eq!(a.result_code(), Some(rc::SUCCESS));
    let info = a.get(avp::AUTHENTICATION_INFO).and_then(Avp::as_grouped).expect("no_Authentication-Info");
    let alg = milenage();
    let scheme = auc::SqnScheme::default();
    let (mut counts, mut sqns) = ((0, 0, 0), Vec::new());
    let mut items: [Vec<u32>; 3] = Default::default();
    for v in info {
        let rand = auc::Rand::from_slice(&octets(v, avp::RAND)).unwrap();
        let item = v.child(avp::ITEM_NUMBER).and_then(Avp::as_u32).expect("Item-Number");
        if v.is(avp::E_UTRAN_VECTOR) {
            let autn = octets(v, avp::AUTN);
            let sqn = sqn_of(&alg, &rand, &autn);
            let want = alg.eutran_vector(rand, sqn, auc::Amf([0, 0]), &auc::ServingNetwork(PLMN_00101));
            assert_eq!(autn, want.autn.as_slice());
            assert_eq!(octets(v, avp::XRES), want.xres.as_slice());
            assert_eq!(octets(v, avp::KASME), want.kasme.expose());
            sqns.push(scheme.split(sqn).0);
            counts.0 += 1;
            items[0].push(item);
        } else if v.is(avp::UTRAN_VECTOR) {
            let autn = octets(v, avp::AUTN);
            let sqn = sqn_of(&alg, &rand, &autn);
            let want = alg.umts_vector(rand, sqn, auc::Amf([0, 0]));
            assert_eq!(autn, want.autn.as_slice());
            assert_eq!(octets(v, avp::XRES), want.xres.as_slice());
            assert_eq!(octets(v, avp::CONFIDENTIALITY_KEY), want.ck.expose());
            assert_eq!(octets(v, avp::INTEGRITY_KEY), want.ik.expose());
            sqns.push(scheme.split(sqn).0);
            counts.1 += 1;
            items[1].push(item);
        } else if v.is(avp::GERAN_VECTOR) {
            let t = alg.gsm_triplet(rand).unwrap();
            assert_eq!(octets(v, avp::SRES), t.sres);
            assert_eq!(octets(v, avp::KC), t.kc.expose());
            counts.2 += 1;
            items[2].push(item);
        } else {
            panic!("unexpected AVP in Authentication-Info: {v:?}");
        }
    }
    for each in &items {
        assert_eq!(*each, (1..=each.len() as u32).collect::<Vec<_>>(), "Item-Numbers of each kind count from 1");
    }
    (counts, sqns)
}

/// Subscription-Data checked field by field as Open5GS's MME parses it; every miss is an error that
/// makes the MME drop the ULA. Returns the UE-AMBR.
fn check_subscription_data_like_open5gs(sd: &Avp) -> (u32, u32) {
    let ambr = sd.child(avp::AMBR).expect("no_AMBR");
    let ul = ambr.child(avp::MAX_REQUESTED_BANDWIDTH_UL).and_then(Avp::as_u32).expect("no_Max-Bandwidth-UL");
    let dl = ambr.child(avp::MAX_REQUESTED_BANDWIDTH_DL).and_then(Avp::as_u32).expect("no_Max-Bandwidth-DL");
    let profile = sd.child(avp::APN_CONFIGURATION_PROFILE).expect("no_APN-Configuration-Profile");
    let default_context =
        profile.child(avp::CONTEXT_IDENTIFIER).and_then(Avp::as_u32).expect("default Context-Identifier");
    let apns: Vec<&Avp> = profile.as_grouped().unwrap().iter().filter(|a| a.is(avp::APN_CONFIGURATION)).collect();
    assert!(!apns.is_empty(), "no APN-Configuration: no session to set up");
    let mut contexts = Vec::new();
    for apn in apns {
        assert!(
            apn.child(avp::SERVICE_SELECTION).and_then(Avp::as_str).is_some_and(|s| !s.is_empty()),
            "no_Service-Selection"
        );
        let ctx = apn.child(avp::CONTEXT_IDENTIFIER).and_then(Avp::as_u32).expect("no_Context-Identifier");
        assert_ne!(ctx, 0, "a Context-Identifier is never zero (TS 29.272 §7.3.35)");
        contexts.push(ctx);
        let pdn = apn.child(avp::PDN_TYPE).and_then(Avp::as_u32).expect("no_PDN-Type");
        assert!(pdn <= 3, "PDN-Type IPv4/IPv6/IPv4v6/IPv4_OR_IPv6, not {pdn}");
        let qos = apn.child(avp::EPS_SUBSCRIBED_QOS_PROFILE).expect("no_EPS-Subscribed-QoS-Profile");
        qos.child(avp::QOS_CLASS_IDENTIFIER).and_then(Avp::as_u32).expect("no_QoS-Class-Identifier");
        let arp = qos.child(avp::ALLOCATION_RETENTION_PRIORITY).expect("no ARP");
        arp.child(avp::PRIORITY_LEVEL).and_then(Avp::as_u32).expect("no_ARP (Priority-Level)");
    }
    assert!(contexts.contains(&default_context), "the default Context-Identifier names an APN-Configuration");
    let unique: HashSet<u32> = contexts.iter().copied().collect();
    assert_eq!(unique.len(), contexts.len(), "Context-Identifiers unique per subscription");
    (ul, dl)
}

fn ulr(imsi: &str, session: u32) -> Message {
    let mut m = s6a_request(Command::ULR, imsi, session);
    m.add(avp::RAT_TYPE, 1004u32);
    m.add(avp::ULR_FLAGS, 0x22u32); // S6a/S6d-Indicator, Initial-Attach-Indicator
    m.add(avp::VISITED_PLMN_ID, &PLMN_00101);
    m
}

/// A profile with an APN but no UE-AMBR, and a SIM of it.
async fn provision_profile_without_ambr(store: &store::Store) {
    let p = profile(serde_json::json!({
        "name": "no-ambr", "services": ["data", "sms"],
        "apn": [{"name": "internet", "pdn_type": "ipv4v6", "qci": 9}, {"name": "ims", "pdn_type": "ipv4v6", "qci": 5}]
    }));
    provision::profiles(store, &[p]).await;
    provision::sims(store, &[new_sim(NO_AMBR, "no-ambr", Priority::Standard)]).await;
}

#[tokio::test]
async fn an_open5gs_mme_gets_what_it_requires() {
    let s = setup().await;
    provision_profile_without_ambr(s.hss.store()).await;
    let (mut mme, cea) = Open5gsMme::connect(s.addr).await;
    assert_eq!(cea.result_code(), Some(rc::SUCCESS), "VSAI-only CER accepted");
    let advertised = cea.get_all(avp::VENDOR_SPECIFIC_APPLICATION_ID).any(|v| {
        v.child(avp::VENDOR_ID).and_then(Avp::as_u32) == Some(VENDOR_3GPP)
            && v.child(avp::AUTH_APPLICATION_ID).and_then(Avp::as_u32) == Some(app::S6A)
    });
    assert!(advertised, "CEA advertises S6a inside Vendor-Specific-Application-Id");

    // Plain E-UTRAN AIR, as Open5GS sends it.
    let a = mme.ask(air(NO_AMBR, 1, Some(1), None, None)).await;
    assert_eq!(check_vectors(&a).0, (1, 0, 0));
    assert!(a.get_str(avp::ORIGIN_HOST).is_some() && a.get_str(avp::ORIGIN_REALM).is_some());

    // ULA: every field Open5GS requires, AMBR included although the profile has none (the
    // `[subscription]` default, 1 Gbit/s each way).
    let a = mme.ask(ulr(NO_AMBR, 2)).await;
    assert_eq!(a.result_code(), Some(rc::SUCCESS));
    assert_eq!((a.get_str(avp::ORIGIN_HOST), a.get_str(avp::ORIGIN_REALM)), (Some("hss.home.example"), Some(REALM)));
    a.get_u32(avp::ULA_FLAGS).expect("no_ULA-Flags");
    let sd = a.get(avp::SUBSCRIPTION_DATA).expect("no_Subscription-Data");
    assert_eq!(check_subscription_data_like_open5gs(sd), (1_000_000_000, 1_000_000_000));
    // A profile with its own AMBR keeps it.
    let a = mme.ask(ulr(common::IMSI, 3)).await;
    let sd = a.get(avp::SUBSCRIPTION_DATA).expect("no_Subscription-Data");
    assert_eq!(check_subscription_data_like_open5gs(sd), (64000, 128000));
}

#[tokio::test]
async fn the_ambr_default_is_configurable() {
    let s = common::setup_with(|c| {
        c.subscription = hss::SubscriptionConfig { ambr_ul: 2_000_000, ambr_dl: 10_000_000 };
    })
    .await;
    provision_profile_without_ambr(s.hss.store()).await;
    let (mut mme, _) = Open5gsMme::connect(s.addr).await;
    let a = mme.ask(ulr(NO_AMBR, 1)).await;
    let sd = a.get(avp::SUBSCRIPTION_DATA).expect("no_Subscription-Data");
    assert_eq!(check_subscription_data_like_open5gs(sd), (2_000_000, 10_000_000));
}

#[tokio::test]
async fn a_combined_air_gets_both_kinds_of_vectors() {
    let s = setup().await;
    let (mut mme, _) = Open5gsMme::connect(s.addr).await;
    let phone = common::STANDARD;
    // E-UTRAN and UTRAN: each part as many as it asked for, fresh SQNs throughout.
    let a = mme.ask(air(phone, 1, Some(2), Some(3), None)).await;
    let (counts, sqns) = check_vectors(&a);
    assert_eq!(counts, (2, 3, 0), "both parts answered");
    let distinct: HashSet<u64> = sqns.iter().copied().collect();
    assert_eq!(distinct.len(), 5, "no SQN used twice: {sqns:?}");
    // With RAT-Type GERAN the UTRAN/GERAN part gets triplets.
    let a = mme.ask(air(phone, 2, Some(1), Some(2), Some(1001))).await;
    assert_eq!(check_vectors(&a).0, (1, 0, 2));
    // The cap applies to each part.
    let a = mme.ask(air(phone, 3, Some(50), Some(50), None)).await;
    assert_eq!(check_vectors(&a).0, (5, 5, 0));
    // A meter may not use GERAN: the E-UTRAN part is still answered, the GERAN one left out.
    let a = mme.ask(air(common::IMSI, 4, Some(2), Some(2), Some(1001))).await;
    assert_eq!(check_vectors(&a).0, (2, 0, 0));
    // Only GERAN asked for, and GERAN forbidden: DIAMETER_ERROR_RAT_NOT_ALLOWED.
    let a = mme.ask(air(common::IMSI, 5, None, Some(2), Some(1001))).await;
    let exp =
        a.get(avp::EXPERIMENTAL_RESULT).and_then(|e| e.child(avp::EXPERIMENTAL_RESULT_CODE)).and_then(Avp::as_u32);
    assert_eq!(exp, Some(rc::EXP_RAT_NOT_ALLOWED));
    assert!(a.get(avp::AUTHENTICATION_INFO).is_none());
}

#[tokio::test]
async fn resynchronisation_in_the_utran_part_of_a_combined_air() {
    let s = setup().await;
    let (mut mme, _) = Open5gsMme::connect(s.addr).await;
    let alg = milenage();
    let scheme = auc::SqnScheme::default();
    let rand = auc::Rand([0x22; 16]);
    let auts = auc::build_auts(&alg, &rand, scheme.join(7000, 0).unwrap());
    let resync = [&rand.0[..], auts.as_slice()].concat();
    let mut m = air(common::STANDARD, 1, Some(1), None, None);
    m.push(Avp::grouped(
        avp::REQUESTED_UTRAN_GERAN_AUTHENTICATION_INFO,
        vec![Avp::new(avp::NUMBER_OF_REQUESTED_VECTORS, 1u32), Avp::new(avp::RE_SYNCHRONIZATION_INFO, resync.clone())],
    ));
    let (counts, sqns) = check_vectors(&mme.ask(m).await);
    assert_eq!(counts, (1, 1, 0));
    assert!(sqns.iter().all(|s| *s > 7000), "both parts after SEQ_MS: {sqns:?}");
    // A forged AUTS in either part: no vectors at all.
    let mut forged = resync;
    forged[20] ^= 1;
    let mut m = air(common::STANDARD, 2, Some(1), None, None);
    m.push(Avp::grouped(
        avp::REQUESTED_UTRAN_GERAN_AUTHENTICATION_INFO,
        vec![Avp::new(avp::NUMBER_OF_REQUESTED_VECTORS, 1u32), Avp::new(avp::RE_SYNCHRONIZATION_INFO, forged)],
    ));
    let a = mme.ask(m).await;
    assert_eq!(a.result_code(), Some(rc::EXP_AUTHENTICATION_DATA_UNAVAILABLE));
    assert!(a.get(avp::AUTHENTICATION_INFO).is_none());
}

/// Session-Id of RFC 6733 §8.8: `<DiameterIdentity>;<high 32 bits>;<low 32 bits>[;<optional>]`.
fn rfc6733_parts(id: &str) -> (u32, u32) {
    let parts: Vec<&str> = id.split(';').collect();
    assert!(parts.len() == 3 || parts.len() == 4, "{id}");
    assert_eq!(parts[0], "hss.home.example", "{id} starts with the HSS's Origin-Host");
    let high = parts[1].parse::<u32>().unwrap_or_else(|_| panic!("{id}: high 32 bits in decimal"));
    let low = parts[2].parse::<u32>().unwrap_or_else(|_| panic!("{id}: low 32 bits in decimal"));
    (high, low)
}

#[tokio::test]
async fn every_clr_and_idr_has_its_own_session_id() {
    let s = setup().await;
    let (_mme, mut inbox) = mme(s.addr, MME).await.unwrap();
    let node = ServingNode { origin_host: MME.into(), origin_realm: REALM.into(), plmn: None, since: 0 };
    let imsis: Vec<ids::Imsi> =
        [common::IMSI, common::STANDARD, common::LOW].iter().map(|i| i.parse().unwrap()).collect();
    const ROUNDS: usize = 120;
    for _ in 0..ROUNDS {
        for imsi in &imsis {
            s.hss.deliver(imsi, "clr", &node).await.unwrap();
            s.hss.deliver(imsi, "idr", &node).await.unwrap();
        }
    }
    let total = ROUNDS * imsis.len() * 2;
    let mut seen = HashSet::new();
    let (mut clrs, mut idrs) = (0, 0);
    for _ in 0..total {
        let req = timeout(Duration::from_secs(10), inbox.recv()).await.expect("CLR/IDR in time").unwrap();
        match req.abbrev() {
            Some("CLR") => clrs += 1,
            Some("IDR") => idrs += 1,
            other => panic!("unexpected {other:?}"),
        }
        let id = req.session_id().expect("Session-Id").to_string();
        rfc6733_parts(&id);
        assert!(seen.insert(id.clone()), "Session-Id {id} used twice");
    }
    assert_eq!((clrs, idrs, seen.len()), (total / 2, total / 2, total));
    // Every request got its answer (matched by its identifiers, not the Session-Id): none is left
    // waiting for the 10 s request timeout.
    timeout(Duration::from_secs(5), s.hss.settle()).await.expect("every CLR/IDR answered");
}
