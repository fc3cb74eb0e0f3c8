//! Conformance with PyPI scapy (`scapy.contrib.gtp_v2`, `scapy.contrib.gtp`), an implementation nobody
//! on this project wrote, and with Wireshark's `tshark`:
//!
//! - messages scapy built (`tests/data/*.hex`, written by `scripts/scapy_vectors.py`, which the first
//!   test runs again to check the files) decode with every field as scapy encoded it, and re-encode
//!   byte-identically;
//! - messages the builder makes are dissected by scapy (`scripts/scapy_dissect.py`) with the fields
//!   the builder was given;
//! - tshark dissects both as GTP(v2) with no expert warning or error.
//!
//! Tests that need `python3` with scapy or `tshark` print `SKIPPED: …` when they are missing, unless
//! `CI` is set (`.ci/run` installs both), in which case they fail.

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use gtpc::v2::values::{self, Ambr, Cause, Ecgi, Fteid, Paa, Tai, UeTimeZone, Uli};
use gtpc::v2::{Ie, IeType, Message, MessageType};
use gtpc::{v1, Plmn};
use serde_json::Value;

/// The GTPv2 vectors scapy writes (`tests/data/<name>.hex`).
const V2_VECTORS: [&str; 6] = [
    "v2_create_session_request",
    "v2_create_session_response",
    "v2_echo_request",
    "v2_delete_session_request",
    "v2_delete_session_response",
    "v2_piggybacked",
];

/// The GTPv1 vectors scapy writes.
const V1_VECTORS: [&str; 5] = [
    "v1_create_pdp_context_request",
    "v1_create_pdp_context_response",
    "v1_update_pdp_context_request",
    "v1_echo_request",
    "v1_delete_pdp_context_request",
];

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn vector(name: &str) -> Vec<u8> {
    let text = std::fs::read_to_string(crate_dir().join("tests/data").join(format!("{name}.hex"))).unwrap();
    hex::decode(text.trim()).unwrap()
}

/// Whether python3 with scapy's GTP layers is here; `false` prints SKIPPED, CI set makes it a failure.
fn have_scapy() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import scapy.contrib.gtp_v2, scapy.contrib.gtp"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(std::env::var_os("CI").is_none(), "scapy is not installed but CI is set: .ci/run installs PyPI scapy");
        println!("SKIPPED: python3 with scapy is not installed");
    }
    ok
}

fn tshark() -> Option<PathBuf> {
    let found = Command::new("tshark").arg("--version").output().is_ok_and(|o| o.status.success());
    if !found {
        assert!(std::env::var_os("CI").is_none(), "tshark is not installed but CI is set: .ci/run installs it");
        println!("SKIPPED: tshark is not installed");
        return None;
    }
    Some(PathBuf::from("tshark"))
}

fn plmn() -> Plmn {
    Plmn::new("262", "01").unwrap()
}

#[test]
fn the_vectors_are_what_scapy_writes() {
    if !have_scapy() {
        return;
    }
    let out =
        Command::new("python3").arg(crate_dir().join("scripts/scapy_vectors.py")).arg("--check").output().unwrap();
    assert!(out.status.success(), "{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
}

#[test]
fn every_scapy_vector_reencodes_byte_identically() {
    for name in V2_VECTORS {
        let bytes = vector(name);
        let m = Message::decode(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(m.encode(), bytes, "{name}");
        assert_eq!(m.encoded_len(), bytes.len(), "{name}");
    }
    for name in V1_VECTORS {
        let bytes = vector(name);
        let m = v1::Message::decode(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(m.encode(), bytes, "{name}");
    }
}

#[test]
fn scapy_create_session_request_decodes_field_by_field() {
    let m = Message::decode(&vector("v2_create_session_request")).unwrap();
    assert_eq!(m.message_type(), MessageType::CREATE_SESSION_REQUEST);
    assert_eq!((m.header.teid, m.header.sequence, m.header.priority), (Some(0), 0xabcd, None));
    assert!(m.piggybacked.is_none());
    assert_eq!(m.imsi().unwrap().unwrap(), "001010123456789");
    assert_eq!(m.find(IeType::MSISDN, 0).unwrap().as_msisdn().unwrap(), "491711234567");
    assert_eq!(m.find(IeType::MEI, 0).unwrap().as_mei().unwrap(), "3569380356438091");
    assert_eq!(m.serving_network().unwrap().unwrap(), plmn());
    assert_eq!(m.find(IeType::RAT_TYPE, 0).unwrap().as_rat_type().unwrap(), values::rat::EUTRAN);
    let uli = m.find(IeType::ULI, 0).unwrap().as_uli().unwrap();
    assert_eq!(uli.tai, Some(Tai { plmn: plmn(), tac: 0x1234 }));
    assert_eq!(uli.ecgi, Some(Ecgi { plmn: plmn(), eci: 0x0abcdef }));
    assert_eq!((uli.cgi, uli.lai), (None, None));
    assert_eq!(
        m.sender_fteid().unwrap().unwrap(),
        Fteid {
            interface_type: values::interface::S5S8_SGW_GTPC,
            teid: 0x1122_3344,
            ipv4: Some(Ipv4Addr::new(192, 0, 2, 10)),
            ipv6: None
        }
    );
    let pgw = m.find(IeType::FTEID, 1).unwrap().as_fteid().unwrap();
    assert_eq!(
        (pgw.interface_type, pgw.ipv4),
        (values::interface::S5S8_PGW_GTPC, Some(Ipv4Addr::new(198, 51, 100, 1)))
    );
    assert_eq!(m.apn().unwrap().unwrap(), "internet.mnc001.mcc262.gprs");
    assert_eq!(m.find(IeType::SELECTION_MODE, 0).unwrap().as_selection_mode().unwrap(), 0);
    assert_eq!(m.find(IeType::PDN_TYPE, 0).unwrap().as_pdn_type().unwrap(), values::pdn_type::IPV4);
    assert_eq!(
        m.find(IeType::PAA, 0).unwrap().as_paa().unwrap(),
        Paa { pdn_type: 1, ipv4: Some(Ipv4Addr::UNSPECIFIED), ipv6: None }
    );
    assert_eq!(m.find(IeType::AMBR, 0).unwrap().as_ambr().unwrap(), Ambr { uplink: 50_000, downlink: 150_000 });
    let bc: Vec<_> = m.bearer_contexts().collect();
    assert_eq!(bc.len(), 1);
    assert_eq!(bc[0].children().len(), 3, "EBI, F-TEID and Bearer QoS decoded inside the grouped IE");
    let bc = bc[0].as_bearer_context().unwrap();
    assert_eq!(bc.ebi, Some(5));
    assert_eq!(bc.fteids.len(), 1);
    assert_eq!((bc.fteids[0].0, bc.fteids[0].1.teid, bc.fteids[0].1.interface_type), (2, 0x5566_7788, 4));
    assert_eq!(m.recovery().unwrap().unwrap(), 7);
    assert_eq!(
        m.find(IeType::UE_TIME_ZONE, 0).unwrap().as_ue_time_zone().unwrap(),
        UeTimeZone { quarter_hours: 4, daylight_saving: 1 }
    );
}

#[test]
fn scapy_responses_echo_delete_and_piggyback_decode() {
    let m = Message::decode(&vector("v2_create_session_response")).unwrap();
    assert_eq!(m.message_type(), MessageType::CREATE_SESSION_RESPONSE);
    assert!(m.message_type().is_response());
    assert_eq!(m.header.teid, Some(0x1122_3344));
    assert!(m.cause().unwrap().unwrap().is_accepted());
    assert_eq!(m.find(IeType::PAA, 0).unwrap().as_paa().unwrap().ipv4, Some(Ipv4Addr::new(10, 45, 0, 2)));
    let bc = m.bearer_contexts().next().unwrap().as_bearer_context().unwrap();
    assert_eq!(bc.cause.map(|c| c.value), Some(values::cause::REQUEST_ACCEPTED));
    assert_eq!(bc.fteids[0].1.teid, 0xbeef);

    let m = Message::decode(&vector("v2_echo_request")).unwrap();
    assert_eq!((m.message_type(), m.header.teid, m.header.sequence), (MessageType::ECHO_REQUEST, None, 0x102));
    assert_eq!(m.recovery().unwrap().unwrap(), 42);

    let m = Message::decode(&vector("v2_delete_session_request")).unwrap();
    assert_eq!(m.message_type(), MessageType::DELETE_SESSION_REQUEST);
    assert_eq!(m.header.teid, Some(0x99aa_bbcc));
    assert_eq!(m.find(IeType::EBI, 0).unwrap().as_ebi().unwrap(), 5);
    let ind = m.find(IeType::INDICATION, 0).unwrap();
    assert!(ind.indication_flag(5, 4).unwrap(), "OI is bit 4 of octet 5 (§8.12)");
    assert!(!ind.indication_flag(5, 5).unwrap());

    let m = Message::decode(&vector("v2_delete_session_response")).unwrap();
    assert_eq!(
        m.cause().unwrap().unwrap(),
        Cause { value: values::cause::CONTEXT_NOT_FOUND, pce: false, bce: false, cs: true, offending: None }
    );

    let m = Message::decode(&vector("v2_piggybacked")).unwrap();
    assert_eq!(m.message_type(), MessageType::CREATE_SESSION_RESPONSE);
    let p = m.piggybacked.as_ref().expect("the piggybacked Create Bearer Request");
    assert_eq!((p.message_type(), p.header.sequence), (MessageType::CREATE_BEARER_REQUEST, 0x301));
    assert_eq!(p.find(IeType::EBI, 0).unwrap().as_ebi().unwrap(), 5);
}

#[test]
fn scapy_gtpv1_create_pdp_context_request_decodes_field_by_field() {
    let m = v1::Message::decode(&vector("v1_create_pdp_context_request")).unwrap();
    assert_eq!(m.header.message_type, v1::MessageType::CREATE_PDP_CONTEXT_REQUEST);
    assert_eq!((m.header.teid, m.header.s, m.header.sequence), (0, true, 0x1234));
    assert_eq!(m.find(v1::IeType::IMSI).unwrap().as_imsi().unwrap(), "001010123456789");
    assert_eq!(m.find(v1::IeType::RECOVERY).unwrap().as_u8().unwrap(), 9);
    assert_eq!(m.find(v1::IeType::SELECTION_MODE).unwrap().as_selection_mode().unwrap(), 0);
    assert_eq!(m.find(v1::IeType::TEID_DATA_I).unwrap().as_u32().unwrap(), 0x0102_0304);
    assert_eq!(m.find(v1::IeType::TEID_CONTROL_PLANE).unwrap().as_u32().unwrap(), 0x0506_0708);
    assert_eq!(m.find(v1::IeType::NSAPI).unwrap().as_nsapi().unwrap(), 5);
    assert_eq!(m.find(v1::IeType::END_USER_ADDRESS).unwrap().as_end_user_address().unwrap(), (1, 0x21, None, None));
    assert_eq!(m.find(v1::IeType::APN).unwrap().as_apn().unwrap(), "internet");
    let gsns: Vec<_> = m.find_all(v1::IeType::GSN_ADDRESS).map(|ie| ie.as_gsn_address().unwrap()).collect();
    assert_eq!(gsns, [IpAddr::from([192, 0, 2, 20]), IpAddr::from([192, 0, 2, 21])]);
    assert_eq!(m.find(v1::IeType::MSISDN).unwrap().as_msisdn().unwrap(), "491711234567");
    assert_eq!(&m.find(v1::IeType::QOS_PROFILE).unwrap().value[..], [0x02, 0x1b, 0x92, 0x1f]);
    assert_eq!(m.find(v1::IeType::RAT_TYPE).unwrap().as_u8().unwrap(), 1);
    let uli = m.find(v1::IeType::ULI).unwrap().as_uli().unwrap();
    assert_eq!((uli.location_type, uli.plmn, uli.lac, uli.code), (0, plmn(), 0x0102, 0x0304));

    let m = v1::Message::decode(&vector("v1_create_pdp_context_response")).unwrap();
    assert_eq!(m.header.message_type, v1::MessageType::CREATE_PDP_CONTEXT_RESPONSE);
    assert_eq!((m.header.teid, m.header.sequence), (0x0506_0708, 0x1234));
    assert_eq!(m.find(v1::IeType::CAUSE).unwrap().as_u8().unwrap(), 128, "Request accepted");
    assert_eq!(m.find(v1::IeType::TEID_CONTROL_PLANE).unwrap().as_u32().unwrap(), 0x0e0f_1011);
    assert_eq!(m.find(v1::IeType::CHARGING_ID).unwrap().as_u32().unwrap(), 0x1234_5678);
    assert_eq!(
        m.find(v1::IeType::END_USER_ADDRESS).unwrap().as_end_user_address().unwrap(),
        (1, 0x21, Some(Ipv4Addr::new(10, 1, 2, 3)), None)
    );
    assert_eq!(m.find_all(v1::IeType::GSN_ADDRESS).count(), 2);

    let m = v1::Message::decode(&vector("v1_update_pdp_context_request")).unwrap();
    assert_eq!(m.header.message_type, v1::MessageType::UPDATE_PDP_CONTEXT_REQUEST);
    assert_eq!(m.header.teid, 0x0e0f_1011);
    assert_eq!(m.find(v1::IeType::TEID_DATA_I).unwrap().as_u32().unwrap(), 0x0102_0305);
    assert_eq!(m.find(v1::IeType::RAT_TYPE).unwrap().as_u8().unwrap(), 2);

    let m = v1::Message::decode(&vector("v1_delete_pdp_context_request")).unwrap();
    assert_eq!(m.header.teid, 0x0506_0708);
    assert_eq!(m.find(v1::IeType::NSAPI).unwrap().as_nsapi().unwrap(), 5);
    assert_eq!(m.find(v1::IeType::TEARDOWN_IND).unwrap().as_u8().unwrap(), 0xff);
    let m = v1::Message::decode(&vector("v1_echo_request")).unwrap();
    assert_eq!((m.header.message_type, m.header.sequence, m.ies.len()), (v1::MessageType::ECHO_REQUEST, 0x42, 0));
}

/// A Create Session Request as the builder makes it (shared with the tshark test).
fn built_create_session_request() -> Message {
    let uli = Uli {
        tai: Some(Tai { plmn: plmn(), tac: 0x4321 }),
        ecgi: Some(Ecgi { plmn: plmn(), eci: 0x0123_4567 }),
        ..Uli::default()
    };
    Message::builder(MessageType::CREATE_SESSION_REQUEST)
        .teid(0)
        .sequence(0x0102_0304)
        .ie(Ie::imsi("262019876543210").unwrap())
        .ie(Ie::msisdn("4915112345678").unwrap())
        .ie(Ie::mei("3569380356438091").unwrap())
        .ie(Ie::uli(&uli))
        .ie(Ie::serving_network(plmn()))
        .ie(Ie::rat_type(values::rat::EUTRAN))
        .ie(Ie::fteid(
            0,
            &Fteid {
                interface_type: values::interface::S5S8_SGW_GTPC,
                teid: 0xcafe_f00d,
                ipv4: Some(Ipv4Addr::new(192, 0, 2, 33)),
                ipv6: None,
            },
        ))
        .ie(Ie::apn("ims.mnc001.mcc262.gprs").unwrap())
        .ie(Ie::selection_mode(1))
        .ie(Ie::pdn_type(values::pdn_type::IPV4))
        .ie(Ie::paa(&Paa { pdn_type: 1, ipv4: Some(Ipv4Addr::UNSPECIFIED), ipv6: None }))
        .ie(Ie::ambr(Ambr { uplink: 1000, downlink: 2000 }))
        .ie(Ie::bearer_context(
            0,
            vec![
                Ie::ebi(6),
                Ie::fteid(
                    2,
                    &Fteid {
                        interface_type: values::interface::S5S8_SGW_GTPU,
                        teid: 0x0bad_cafe,
                        ipv4: Some(Ipv4Addr::new(192, 0, 2, 34)),
                        ipv6: None,
                    },
                ),
                // Bearer QoS (§8.15): ARP octet, QCI 5, four 5-octet bit rates.
                Ie::raw(IeType::BEARER_QOS, 0, {
                    let mut q = vec![0x24, 5];
                    q.extend([0u8; 20]);
                    q
                }),
            ],
        ))
        .ie(Ie::recovery(12))
        .ie(Ie::ue_time_zone(UeTimeZone { quarter_hours: -20, daylight_saving: 0 }))
        .build()
        .unwrap()
}

fn built_v1_create_pdp_context_request() -> v1::Message {
    v1::Message::new(
        v1::MessageType::CREATE_PDP_CONTEXT_REQUEST,
        0,
        0x2345,
        vec![
            v1::Ie::imsi("262019876543210").unwrap(),
            v1::Ie::recovery(4),
            v1::Ie::selection_mode(0),
            v1::Ie::teid_data_i(0x1111_2222),
            v1::Ie::teid_control_plane(0x3333_4444),
            v1::Ie::nsapi(5),
            v1::Ie::end_user_address_ipv4(None),
            v1::Ie::apn("internet").unwrap(),
            v1::Ie::gsn_address(IpAddr::from([192, 0, 2, 40])),
            v1::Ie::gsn_address(IpAddr::from([192, 0, 2, 41])),
            v1::Ie::msisdn("4915112345678").unwrap(),
            v1::Ie::qos_profile(vec![0x02, 0x1b, 0x92, 0x1f]),
            v1::Ie::rat_type(1),
            v1::Ie::uli(&v1::Uli1 { location_type: 0, plmn: plmn(), lac: 0x0a0b, code: 0x0c0d }),
        ],
    )
}

fn dissect(messages: &[Vec<u8>]) -> Vec<Value> {
    let mut child = Command::new("python3")
        .arg(crate_dir().join("scripts/scapy_dissect.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    for m in messages {
        writeln!(stdin, "{}", hex::encode(m)).unwrap();
    }
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "scapy_dissect.py: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn ie(ies: &Value, ietype: u8, instance: u8) -> &Value {
    let (t, n) = (ietype.to_string(), instance.to_string());
    ies.as_array()
        .unwrap()
        .iter()
        .find(|i| {
            i["ietype"].as_str() == Some(t.as_str()) && i.get("instance").is_none_or(|x| x.as_str() == Some(n.as_str()))
        })
        .unwrap_or_else(|| panic!("scapy found no IE {ietype}/{instance} in {ies}"))
}

#[test]
fn scapy_reads_what_the_builder_writes() {
    if !have_scapy() {
        return;
    }
    let echo = Message::builder(MessageType::ECHO_REQUEST).sequence(77).ie(Ie::recovery(200)).build().unwrap();
    let delete = Message::builder(MessageType::DELETE_SESSION_REQUEST)
        .teid(0xdead_beef)
        .sequence(78)
        .priority(3)
        .ie(Ie::ebi(6))
        .build()
        .unwrap();
    let out = dissect(&[
        built_create_session_request().encode(),
        echo.encode(),
        delete.encode(),
        built_v1_create_pdp_context_request().encode(),
    ]);

    let csr = &out[0];
    assert_eq!(csr["class"], "GTPV2CreateSessionRequest");
    assert_eq!((csr["header"]["version"].as_str(), csr["header"]["T"].as_str()), (Some("2"), Some("1")));
    assert_eq!(csr["header"]["seq"], (0x0102_0304u32 & 0xff_ffff).to_string());
    assert_eq!(csr["raw_left"], 0, "scapy consumed every octet");
    let ies = &csr["ies"];
    assert_eq!(ie(ies, 1, 0)["IMSI"], "262019876543210");
    assert_eq!(ie(ies, 76, 0)["digits"], "4915112345678");
    assert_eq!(ie(ies, 75, 0)["MEI"], "3569380356438091");
    let uli = ie(ies, 86, 0);
    assert_eq!((uli["TAI"]["MCC"].as_str(), uli["TAI"]["MNC"].as_str()), (Some("262"), Some("01")));
    assert_eq!(uli["TAI"]["TAC"], 0x4321.to_string());
    assert_eq!(uli["ECGI"]["ECI"], 0x0123_4567.to_string());
    assert_eq!((ie(ies, 83, 0)["MCC"].as_str(), ie(ies, 83, 0)["MNC"].as_str()), (Some("262"), Some("01")));
    assert_eq!(ie(ies, 82, 0)["RAT_type"], "6");
    let f = ie(ies, 87, 0);
    assert_eq!((f["InterfaceType"].as_str(), f["ipv4"].as_str()), (Some("6"), Some("192.0.2.33")));
    assert_eq!(f["GRE_Key"], 0xcafe_f00du32.to_string());
    assert_eq!(ie(ies, 71, 0)["APN"], "ims.mnc001.mcc262.gprs");
    assert_eq!(ie(ies, 128, 0)["SelectionMode"], "1");
    assert_eq!(ie(ies, 99, 0)["PDN_type"], "1");
    assert_eq!(ie(ies, 72, 0)["AMBR_Uplink"], "1000");
    assert_eq!(ie(ies, 72, 0)["AMBR_Downlink"], "2000");
    let bc = &ie(ies, 93, 0)["IE_list"];
    assert_eq!(ie(bc, 73, 0)["EBI"], "6");
    assert_eq!(ie(bc, 87, 2)["GRE_Key"], 0x0bad_cafe.to_string());
    assert_eq!(ie(bc, 80, 0)["QCI"], "5");
    assert_eq!(ie(ies, 3, 0)["restart_counter"], "12");
    assert_eq!(ie(ies, 114, 0)["Timezone"], 0x0a.to_string(), "-5 h: 20 quarters, sign bit 4 (TS 24.008 §10.5.3.8)");

    let echo = &out[1];
    assert_eq!(echo["class"], "GTPV2EchoRequest");
    assert_eq!((echo["header"]["T"].as_str(), echo["header"]["seq"].as_str()), (Some("0"), Some("77")));
    assert_eq!(ie(&echo["ies"], 3, 0)["restart_counter"], "200");

    let del = &out[2];
    assert_eq!(del["class"], "GTPV2DeleteSessionRequest");
    assert_eq!((del["header"]["MP"].as_str(), del["header"]["msg_priority"].as_str()), (Some("1"), Some("3")));
    assert_eq!(del["header"]["teid"], 0xdead_beefu32.to_string());
    assert_eq!(ie(&del["ies"], 73, 0)["EBI"], "6");

    let pdp = &out[3];
    assert_eq!(pdp["class"], "GTPCreatePDPContextRequest");
    assert_eq!((pdp["header"]["S"].as_str(), pdp["header"]["seq"].as_str()), (Some("1"), Some("9029")));
    assert_eq!(pdp["raw_left"], 0);
    let ies = &pdp["ies"];
    assert_eq!(ie(ies, 2, 0)["imsi"], "262019876543210");
    assert_eq!(ie(ies, 14, 0)["restart_counter"], "4");
    assert_eq!(ie(ies, 16, 0)["TEIDI"], 0x1111_2222.to_string());
    assert_eq!(ie(ies, 17, 0)["TEICI"], 0x3333_4444.to_string());
    assert_eq!(ie(ies, 20, 0)["NSAPI"], "5");
    assert_eq!(ie(ies, 128, 0)["PDPTypeNumber"], 0x21.to_string());
    assert_eq!(ie(ies, 131, 0)["APN"], "internet");
    assert_eq!(ie(ies, 133, 0)["ipv4_address"], "192.0.2.40");
    assert_eq!(ie(ies, 134, 0)["digits"], "4915112345678");
    assert_eq!(ie(ies, 151, 0)["RAT_Type"], "1");
    assert_eq!((ie(ies, 152, 0)["LAC"].as_str(), ie(ies, 152, 0)["SAC"].as_str()), (Some("2571"), Some("3085")));
}

/// Writes the datagrams as UDP 2123 over raw IPv4 (link type 101) into a pcap file.
fn write_pcap(path: &Path, datagrams: &[Vec<u8>]) {
    let mut f = Vec::new();
    f.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    f.extend_from_slice(&2u16.to_le_bytes());
    f.extend_from_slice(&4u16.to_le_bytes());
    f.extend_from_slice(&[0; 8]);
    f.extend_from_slice(&65535u32.to_le_bytes());
    f.extend_from_slice(&101u32.to_le_bytes());
    for (i, d) in datagrams.iter().enumerate() {
        let total = 20 + 8 + d.len();
        let mut ip = vec![0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 17, 0, 0, 127, 0, 0, 1, 127, 0, 0, 2];
        ip[2..4].copy_from_slice(&(total as u16).to_be_bytes());
        let sum = ip.chunks(2).map(|c| u32::from(u16::from_be_bytes([c[0], c[1]]))).sum::<u32>();
        let sum = !(((sum & 0xffff) + (sum >> 16)) as u16);
        ip[10..12].copy_from_slice(&sum.to_be_bytes());
        ip.extend_from_slice(&2123u16.to_be_bytes());
        ip.extend_from_slice(&2123u16.to_be_bytes());
        ip.extend_from_slice(&((8 + d.len()) as u16).to_be_bytes());
        ip.extend_from_slice(&[0, 0]);
        ip.extend_from_slice(d);
        f.extend_from_slice(&(i as u32 + 1).to_le_bytes());
        f.extend_from_slice(&0u32.to_le_bytes());
        f.extend_from_slice(&(ip.len() as u32).to_le_bytes());
        f.extend_from_slice(&(ip.len() as u32).to_le_bytes());
        f.extend_from_slice(&ip);
    }
    std::fs::write(path, f).unwrap();
}

fn tshark_lines(tshark: &Path, pcap: &Path, filter: &str, fields: &[&str]) -> Vec<String> {
    let mut c = Command::new(tshark);
    c.args(["-n", "-r"]).arg(pcap).args(["-Y", filter, "-T", "fields", "-E", "separator=|"]);
    for f in fields {
        c.args(["-e", f]);
    }
    let out = c.output().unwrap();
    assert!(out.status.success(), "tshark: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().lines().map(str::to_owned).collect()
}

#[test]
fn tshark_dissects_scapy_and_builder_messages_without_expert_warnings() {
    let Some(tshark) = tshark() else { return };
    let mut datagrams: Vec<Vec<u8>> = V2_VECTORS.iter().map(|n| vector(n)).collect();
    datagrams.push(built_create_session_request().encode());
    datagrams.extend(V1_VECTORS.iter().map(|n| vector(n)));
    datagrams.push(built_v1_create_pdp_context_request().encode());
    let dir = std::env::temp_dir().join(format!("gtpc-tshark-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pcap = dir.join("gtpc.pcap");
    write_pcap(&pcap, &datagrams);

    let v2 = tshark_lines(&tshark, &pcap, "gtpv2", &["frame.number"]);
    assert_eq!(v2.len(), 7, "every GTPv2 datagram is dissected as GTPv2: {v2:?}");
    let v1 = tshark_lines(&tshark, &pcap, "gtp && !gtpv2", &["frame.number"]);
    assert_eq!(v1.len(), 6, "every GTPv1 datagram is dissected as GTP: {v1:?}");
    let bad = tshark_lines(
        &tshark,
        &pcap,
        "_ws.malformed || _ws.expert.severity >= 0x00600000",
        &["frame.number", "_ws.expert.message"],
    );
    assert!(bad.is_empty(), "tshark expert warnings or errors: {bad:?}");

    // What tshark reads from the builder's Create Session Request (frame 7).
    let f = tshark_lines(
        &tshark,
        &pcap,
        "frame.number == 7",
        &["gtpv2.message_type", "gtpv2.seq", "e212.imsi", "gtpv2.apn", "gtpv2.f_teid_gre_key", "gtpv2.ebi"],
    );
    let cols: Vec<&str> = f[0].split('|').collect();
    assert_eq!(cols[0], "32");
    assert_eq!(cols[1], "0x020304");
    assert_eq!(cols[2], "262019876543210");
    assert_eq!(cols[3], "ims.mnc001.mcc262.gprs");
    assert!(cols[4].contains("0xcafef00d") && cols[4].contains("0x0badcafe"), "{}", cols[4]);
    assert_eq!(cols[5], "6");
    std::fs::remove_dir_all(&dir).ok();
}
