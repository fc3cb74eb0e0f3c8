//! The HSS end to end over loopback Diameter: an MME provisions nothing, connects, and checks every
//! vector and AVP it gets against values computed independently with the `auc` crate from the known
//! K/OPc (3GPP TS 35.208 test set 1). Covers AIR (E-UTRAN, UTRAN, GERAN, resync, caps, IND), ULR
//! (Subscription-Data, forbidden PLMN and RAT, IMEI lock, CLR to the previous MME), PUR, NOR, S13 ECR,
//! peer authorisation (unknown peer, foreign IMSI range) and CLR/IDR on lifecycle changes.

mod common;

use std::time::Duration;

use cmp::Actor;
use diameter::avp;
use diameter::dictionary::{app, format, AvpKey};
use diameter::result_code as rc;
use diameter::{Avp, Command, Message};
use store::model::{Priority, SimStatus};
use tokio::time::timeout;

use common::{base, mme, new_sim, setup, ulr, IMSI};
use testkit::keys::{hex as h, K, OPC};
use testkit::provision::{self, profile};
use testkit::s6a::{ask, PLMN_00101};

fn air(host: &str, imsi: &str, plmn: [u8; 3], n: u32, resync: Option<Vec<u8>>) -> Message {
    let mut m = base(Command::AIR, host, imsi);
    m.add(avp::VISITED_PLMN_ID, &plmn);
    let mut req =
        vec![Avp::new(avp::NUMBER_OF_REQUESTED_VECTORS, n), Avp::new(avp::IMMEDIATE_RESPONSE_PREFERRED, 1u32)];
    if let Some(r) = resync {
        req.push(Avp::new(avp::RE_SYNCHRONIZATION_INFO, r));
    }
    m.push(Avp::grouped(avp::REQUESTED_EUTRAN_AUTHENTICATION_INFO, req));
    m
}

fn milenage() -> auc::AuthAlgorithm {
    auc::Milenage::new(&auc::Key::from_slice(&h(K)).unwrap(), &auc::Opc::from_slice(&h(OPC)).unwrap()).unwrap().into()
}

fn bytes(v: &Avp, key: AvpKey<format::OctetString>) -> Vec<u8> {
    v.child(key).and_then(Avp::as_bytes).unwrap_or_else(|| panic!("{} missing", key.name())).to_vec()
}

/// Checks an E-UTRAN-Vector bit by bit against the AuC and returns its SQN.
fn check_eutran(v: &Avp, plmn: [u8; 3]) -> auc::Sqn {
    let alg = milenage();
    let rand = auc::Rand::from_slice(&bytes(v, avp::RAND)).unwrap();
    let autn = bytes(v, avp::AUTN);
    let (_, _, _, _, ak) = alg.vector_outputs(&rand, auc::Sqn::new(0).unwrap(), auc::Amf([0, 0]));
    let sqn = auc::Sqn::from_bytes(core::array::from_fn(|i| autn[i] ^ ak.0[i]));
    let want = alg.eutran_vector(rand, sqn, auc::Amf([0, 0]), &auc::ServingNetwork(plmn));
    assert_eq!(autn, want.autn.as_slice());
    assert_eq!(autn[6] & 0x80, 0x80, "AMF separation bit");
    assert_eq!(bytes(v, avp::XRES), want.xres.as_slice());
    assert_eq!(bytes(v, avp::KASME), want.kasme.expose());
    sqn
}

fn vectors(a: &Message, kind: AvpKey<format::Grouped>) -> Vec<&Avp> {
    a.get(avp::AUTHENTICATION_INFO)
        .and_then(Avp::as_grouped)
        .unwrap_or_default()
        .iter()
        .filter(|v| v.is(kind))
        .collect()
}

#[tokio::test]
async fn air_vectors_are_correct_and_sqn_fresh() {
    let s = setup().await;
    let (mme, _) = mme(s.addr, "mme1.home.example").await.unwrap();
    let a = ask(&mme, air("mme1.home.example", IMSI, PLMN_00101, 3, None)).await;
    assert_eq!(a.result_code(), Some(rc::SUCCESS));
    let v = vectors(&a, avp::E_UTRAN_VECTOR);
    assert_eq!(v.len(), 3);
    let scheme = auc::SqnScheme::default();
    let ind = scheme.ind_for_node("mme1.home.example");
    let sqns: Vec<auc::Sqn> = v.iter().map(|x| check_eutran(x, PLMN_00101)).collect();
    for (i, (sqn, avp)) in sqns.iter().zip(&v).enumerate() {
        assert_eq!(scheme.split(*sqn).1, ind, "IND of the serving node");
        assert_eq!(avp.child(avp::ITEM_NUMBER).unwrap().as_u32(), Some(i as u32 + 1));
    }
    assert!(sqns.windows(2).all(|w| scheme.split(w[1]).0 == scheme.split(w[0]).0 + 1));
    // Requests above the cap get the cap (5).
    let a = ask(&mme, air("mme1.home.example", IMSI, PLMN_00101, 50, None)).await;
    let more: Vec<auc::Sqn> = vectors(&a, avp::E_UTRAN_VECTOR).iter().map(|x| check_eutran(x, PLMN_00101)).collect();
    assert_eq!(more.len(), 5);
    assert!(scheme.split(more[0]).0 > scheme.split(*sqns.last().unwrap()).0, "never reused");
}

#[tokio::test]
async fn air_resync_and_forged_auts() {
    let s = setup().await;
    let (mme, _) = mme(s.addr, "mme1.home.example").await.unwrap();
    let alg = milenage();
    let scheme = auc::SqnScheme::default();
    // The USIM has seen SEQ 5000: AUTS carries it.
    let rand = auc::Rand([0x11; 16]);
    let sqn_ms = scheme.join(5000, 0).unwrap();
    let auts = auc::build_auts(&alg, &rand, sqn_ms);
    let resync = [&rand.0[..], auts.as_slice()].concat();
    let a = ask(&mme, air("mme1.home.example", IMSI, PLMN_00101, 1, Some(resync.clone()))).await;
    assert_eq!(a.result_code(), Some(rc::SUCCESS));
    let sqn = check_eutran(vectors(&a, avp::E_UTRAN_VECTOR)[0], PLMN_00101);
    assert_eq!(scheme.split(sqn).0, 5001, "SEQ_HE reset to SEQ_MS");
    // A forged AUTS: no vectors.
    let mut forged = resync;
    forged[20] ^= 1;
    let a = ask(&mme, air("mme1.home.example", IMSI, PLMN_00101, 1, Some(forged))).await;
    assert_eq!(a.result_code(), Some(rc::EXP_AUTHENTICATION_DATA_UNAVAILABLE));
    assert!(vectors(&a, avp::E_UTRAN_VECTOR).is_empty());
}

#[tokio::test]
async fn air_refusals() {
    let s = setup().await;
    let (mme, _) = mme(s.addr, "mme1.home.example").await.unwrap();
    // Unknown IMSI: Experimental-Result 5001.
    let a = ask(&mme, air("mme1.home.example", "001019999999999", PLMN_00101, 1, None)).await;
    assert_eq!(
        a.get(avp::EXPERIMENTAL_RESULT).and_then(|e| e.child(avp::EXPERIMENTAL_RESULT_CODE)).and_then(Avp::as_u32),
        Some(rc::EXP_USER_UNKNOWN)
    );
    // A PLMN the profile does not allow: 5004 ROAMING_NOT_ALLOWED.
    let a = ask(&mme, air("mme1.home.example", IMSI, [0x62, 0xf2, 0x10], 1, None)).await;
    assert_eq!(a.result_code(), Some(rc::EXP_ROAMING_NOT_ALLOWED));
    // GERAN (RAT-Type 1001, TS 29.212 §5.3.31) is forbidden for meters: no triplets (5421), and no
    // UTRAN quintets instead.
    let mut m = base(Command::AIR, "mme1.home.example", IMSI);
    m.add(avp::VISITED_PLMN_ID, &PLMN_00101);
    m.add(avp::RAT_TYPE, 1001u32);
    m.push(Avp::grouped(
        avp::REQUESTED_UTRAN_GERAN_AUTHENTICATION_INFO,
        vec![Avp::new(avp::NUMBER_OF_REQUESTED_VECTORS, 1u32)],
    ));
    assert_eq!(ask(&mme, m).await.result_code(), Some(rc::EXP_RAT_NOT_ALLOWED));
    // Suspended SIM: no vectors.
    cmp::sims::change_status(
        s.hss.store(),
        s.hss.as_ref(),
        &Actor::cli(),
        &IMSI.parse().unwrap(),
        SimStatus::Suspended,
    )
    .await
    .unwrap();
    let a = ask(&mme, air("mme1.home.example", IMSI, PLMN_00101, 1, None)).await;
    assert_eq!(a.result_code(), Some(rc::AUTHORIZATION_REJECTED));
    assert!(a.get(avp::AUTHENTICATION_INFO).is_none());
}

#[tokio::test]
async fn utran_and_geran_vectors() {
    let s = setup().await;
    let (mme, _) = mme(s.addr, "mme1.home.example").await.unwrap();
    let alg = milenage();
    for (rat, kind) in [(1000u32, avp::UTRAN_VECTOR), (1001, avp::GERAN_VECTOR)] {
        let mut m = base(Command::AIR, "mme1.home.example", "001010000000002");
        m.add(avp::VISITED_PLMN_ID, &PLMN_00101);
        m.add(avp::RAT_TYPE, rat);
        m.push(Avp::grouped(
            avp::REQUESTED_UTRAN_GERAN_AUTHENTICATION_INFO,
            vec![Avp::new(avp::NUMBER_OF_REQUESTED_VECTORS, 2u32)],
        ));
        let a = ask(&mme, m).await;
        let v = vectors(&a, kind);
        assert_eq!(v.len(), 2, "{kind:?}");
        let rand = auc::Rand::from_slice(&bytes(v[0], avp::RAND)).unwrap();
        if kind == avp::GERAN_VECTOR {
            let t = alg.gsm_triplet(rand).unwrap();
            assert_eq!(bytes(v[0], avp::SRES), t.sres);
            assert_eq!(bytes(v[0], avp::KC), t.kc.expose());
        } else {
            let q = alg.umts_vector(rand, auc::Sqn::new(0).unwrap(), auc::Amf([0, 0]));
            assert_eq!(bytes(v[0], avp::CONFIDENTIALITY_KEY), q.ck.expose());
            assert_eq!(bytes(v[0], avp::INTEGRITY_KEY), q.ik.expose());
            assert_eq!(bytes(v[0], avp::XRES), q.xres.as_slice());
            assert_eq!(bytes(v[0], avp::AUTN)[6] & 0x80, 0, "UTRAN vectors keep the subscriber's AMF");
        }
    }
}

#[tokio::test]
async fn ulr_subscription_data_clr_and_imei_lock() {
    let s = setup().await;
    let (mme1, mut clrs1) = mme(s.addr, "mme1.home.example").await.unwrap();
    let a = ask(&mme1, ulr("mme1.home.example", IMSI, PLMN_00101, Some("35693803564380"))).await;
    assert_eq!(a.result_code(), Some(rc::SUCCESS));
    let sd = a.get(avp::SUBSCRIPTION_DATA).expect("Subscription-Data");
    assert_eq!(sd.child(avp::NETWORK_ACCESS_MODE).unwrap().as_u32(), Some(2), "data-only: ONLY_PACKET");
    assert_eq!(sd.child(avp::ACCESS_RESTRICTION_DATA).unwrap().as_u32(), Some(2), "GERAN not allowed");
    assert_eq!(sd.child(avp::MSISDN).unwrap().as_bytes(), Some(&[0x94, 0x71, 0x10, 0x32, 0x54, 0x76][..]));
    assert_eq!(sd.child(avp::SUBSCRIBER_STATUS).unwrap().as_u32(), Some(0));
    assert!(sd.child(avp::OPERATOR_DETERMINED_BARRING).is_none());
    let ambr = sd.child(avp::AMBR).unwrap();
    assert_eq!(
        (
            ambr.child(avp::MAX_REQUESTED_BANDWIDTH_UL).unwrap().as_u32(),
            ambr.child(avp::MAX_REQUESTED_BANDWIDTH_DL).unwrap().as_u32()
        ),
        (Some(64000), Some(128000))
    );
    let apn = sd.child(avp::APN_CONFIGURATION_PROFILE).unwrap().child(avp::APN_CONFIGURATION).unwrap();
    assert_eq!(apn.child(avp::SERVICE_SELECTION).unwrap().as_str(), Some("meters.example"));
    let qos = apn.child(avp::EPS_SUBSCRIBED_QOS_PROFILE).unwrap();
    assert_eq!(qos.child(avp::QOS_CLASS_IDENTIFIER).unwrap().as_u32(), Some(9));
    let arp = qos.child(avp::ALLOCATION_RETENTION_PRIORITY).unwrap();
    assert_eq!(arp.child(avp::PRIORITY_LEVEL).unwrap().as_u32(), Some(1), "critical SIM: highest ARP");
    assert_eq!(arp.child(avp::PRE_EMPTION_CAPABILITY).unwrap().as_u32(), Some(0), "critical SIM may pre-empt");
    // The low-priority meter gets a low ARP.
    let a = ask(&mme1, ulr("mme1.home.example", "001010000000003", PLMN_00101, None)).await;
    let arp = a
        .get(avp::SUBSCRIPTION_DATA)
        .unwrap()
        .child(avp::APN_CONFIGURATION_PROFILE)
        .unwrap()
        .child(avp::APN_CONFIGURATION)
        .unwrap()
        .child(avp::EPS_SUBSCRIBED_QOS_PROFILE)
        .unwrap()
        .child(avp::ALLOCATION_RETENTION_PRIORITY)
        .unwrap()
        .clone();
    assert_eq!(arp.child(avp::PRIORITY_LEVEL).unwrap().as_u32(), Some(14));

    // The SIM moves to another MME: the first gets CLR (MME_UPDATE_PROCEDURE).
    let (mme2, _) = mme(s.addr, "mme2.home.example").await.unwrap();
    let a = ask(&mme2, ulr("mme2.home.example", IMSI, PLMN_00101, Some("35693803564380"))).await;
    assert_eq!(a.result_code(), Some(rc::SUCCESS));
    let clr = timeout(Duration::from_secs(5), clrs1.recv()).await.expect("CLR in time").unwrap();
    assert_eq!(clr.abbrev(), Some("CLR"));
    assert_eq!((clr.get_str(avp::USER_NAME), clr.get_u32(avp::CANCELLATION_TYPE)), (Some(IMSI), Some(0)));
    assert_eq!(clr.header.app_id, app::S6A);

    // IMEI lock (first IMEI bound): another device records an event but is served (action "event").
    let a = ask(&mme2, ulr("mme2.home.example", IMSI, PLMN_00101, Some("49015420323751"))).await;
    assert_eq!(a.result_code(), Some(rc::SUCCESS));
    let events = s.hss.store().events(&IMSI.parse().unwrap()).await.unwrap();
    assert!(events.iter().any(|(k, d)| k == "imei.lock_violation" && d.contains("49015420323751")), "{events:?}");

    // Visited PLMN not allowed: 5004, and a `roaming.rejected` event for the tenant's feed.
    let a = ask(&mme2, ulr("mme2.home.example", IMSI, [0x62, 0xf2, 0x10], None)).await;
    assert_eq!(a.result_code(), Some(rc::EXP_ROAMING_NOT_ALLOWED));
    let events = s.hss.store().events(&IMSI.parse().unwrap()).await.unwrap();
    assert!(events.iter().any(|(k, d)| k == "roaming.rejected" && d.contains("26201")), "{events:?}");
}

#[tokio::test]
async fn suspend_sends_clr_and_profile_change_sends_idr() {
    let s = setup().await;
    let (mme1, mut inbox) = mme(s.addr, "mme1.home.example").await.unwrap();
    assert_eq!(
        ask(&mme1, ulr("mme1.home.example", "001010000000002", PLMN_00101, None)).await.result_code(),
        Some(rc::SUCCESS)
    );
    let imsi = "001010000000002".parse().unwrap();
    cmp::sims::change_profile(s.hss.store(), s.hss.as_ref(), &Actor::cli(), &imsi, "meter").await.unwrap();
    let idr = timeout(Duration::from_secs(5), inbox.recv()).await.expect("IDR in time").unwrap();
    assert_eq!(idr.abbrev(), Some("IDR"));
    assert_eq!(idr.get(avp::SUBSCRIPTION_DATA).unwrap().child(avp::NETWORK_ACCESS_MODE).unwrap().as_u32(), Some(2));
    cmp::sims::change_status(s.hss.store(), s.hss.as_ref(), &Actor::cli(), &imsi, SimStatus::Suspended).await.unwrap();
    let clr = timeout(Duration::from_secs(5), inbox.recv()).await.expect("CLR in time").unwrap();
    assert_eq!((clr.abbrev(), clr.get_u32(avp::CANCELLATION_TYPE)), (Some("CLR"), Some(2)));
}

#[tokio::test]
async fn pur_nor_and_ecr() {
    let s = setup().await;
    let (mme1, _) = mme(s.addr, "mme1.home.example").await.unwrap();
    ask(&mme1, ulr("mme1.home.example", IMSI, PLMN_00101, None)).await;
    let a = ask(&mme1, base(Command::PUR, "mme1.home.example", IMSI)).await;
    assert_eq!((a.result_code(), a.get_u32(avp::PUA_FLAGS)), (Some(rc::SUCCESS), Some(1)));
    assert!(s.hss.store().sim(&IMSI.parse().unwrap()).await.unwrap().unwrap().serving.is_none());
    let mut nor = base(Command::NOR, "mme1.home.example", IMSI);
    nor.push(Avp::grouped(avp::TERMINAL_INFORMATION, vec![Avp::new(avp::IMEI, "35693803564380")]));
    assert_eq!(ask(&mme1, nor).await.result_code(), Some(rc::SUCCESS));

    let ecr = |imsi: &str, imei: &str| {
        let mut m = base(Command::ECR, "mme1.home.example", imsi);
        m.push(Avp::grouped(avp::TERMINAL_INFORMATION, vec![Avp::new(avp::IMEI, imei)]));
        m
    };
    // A blacklisted TAC: BLACKLISTED for a standard SIM, GREYLISTED (+ alert) for a critical one.
    assert_eq!(ask(&mme1, ecr("001010000000002", "35000000123456")).await.get_u32(avp::EQUIPMENT_STATUS), Some(1));
    assert_eq!(ask(&mme1, ecr(IMSI, "35000000123456")).await.get_u32(avp::EQUIPMENT_STATUS), Some(2));
    assert!(s
        .hss
        .store()
        .events(&IMSI.parse().unwrap())
        .await
        .unwrap()
        .iter()
        .any(|(k, _)| k == "eir.critical_blacklisted"));
    assert_eq!(ask(&mme1, ecr("", "49015420323751")).await.get_u32(avp::EQUIPMENT_STATUS), Some(0));
    // A malformed IMEI (bad Luhn on 15 digits): 5004.
    assert_eq!(ask(&mme1, ecr("", "490154203237517")).await.result_code(), Some(rc::INVALID_AVP_VALUE));
}

#[tokio::test]
async fn peer_authorisation() {
    let s = setup().await;
    assert!(mme(s.addr, "rogue.example").await.is_err(), "unknown peer refused at CER");
    // A partner allowed only for IMSIs 99999…: asking about ours is refused.
    let (partner, _) = mme(s.addr, "partner.example").await.unwrap();
    let a = ask(&partner, air("partner.example", IMSI, PLMN_00101, 1, None)).await;
    assert_eq!(a.result_code(), Some(rc::AUTHORIZATION_REJECTED));
    assert!(a.get(avp::AUTHENTICATION_INFO).is_none());
}

#[tokio::test]
async fn imei_lock_bars_standard_sims_but_only_alerts_for_critical_ones() {
    let s = setup().await;
    let store = s.hss.store();
    let locked = profile(serde_json::json!({
        "name": "locked", "services": ["data"], "imei_lock": "first", "imei_lock_action": "bar"
    }));
    provision::profiles(store, &[locked]).await;
    let sims = [
        new_sim("001010000000008", "locked", Priority::Standard),
        new_sim("001010000000009", "locked", Priority::Critical),
    ];
    provision::sims(store, &sims).await;
    let (mme1, _) = mme(s.addr, "mme1.home.example").await.unwrap();
    for imsi in ["001010000000008", "001010000000009"] {
        assert_eq!(
            ask(&mme1, ulr("mme1.home.example", imsi, PLMN_00101, Some("35693803564380"))).await.result_code(),
            Some(rc::SUCCESS)
        );
    }
    // Another device: the standard SIM is barred, the critical one keeps service and raises an alert.
    let a = ask(&mme1, ulr("mme1.home.example", "001010000000008", PLMN_00101, Some("49015420323751"))).await;
    assert_eq!(a.result_code(), Some(rc::AUTHORIZATION_REJECTED));
    assert_eq!(store.sim(&"001010000000008".parse().unwrap()).await.unwrap().unwrap().status, SimStatus::Suspended);
    let a = ask(&mme1, ulr("mme1.home.example", "001010000000009", PLMN_00101, Some("49015420323751"))).await;
    assert_eq!(a.result_code(), Some(rc::SUCCESS));
    let critical = "001010000000009".parse().unwrap();
    assert_eq!(store.sim(&critical).await.unwrap().unwrap().status, SimStatus::Active);
    assert!(store.events(&critical).await.unwrap().iter().any(|(k, _)| k == "imei.lock_violation"));
}

#[tokio::test]
async fn barred_data_is_sent_as_operator_determined_barring() {
    let s = setup().await;
    let (mme1, _) = mme(s.addr, "mme1.home.example").await.unwrap();
    let imsi: ids::Imsi = IMSI.parse().unwrap();
    cmp::sims::set_data_barring(s.hss.store(), s.hss.as_ref(), &Actor::cli(), &imsi, true).await.unwrap();
    let a = ask(&mme1, ulr("mme1.home.example", IMSI, PLMN_00101, None)).await;
    assert_eq!(a.result_code(), Some(rc::SUCCESS));
    let sd = a.get(avp::SUBSCRIPTION_DATA).expect("Subscription-Data");
    assert_eq!(sd.child(avp::SUBSCRIBER_STATUS).unwrap().as_u32(), Some(1), "OPERATOR_DETERMINED_BARRING");
    assert_eq!(sd.child(avp::OPERATOR_DETERMINED_BARRING).unwrap().as_u32(), Some(1), "all packet services barred");
}
