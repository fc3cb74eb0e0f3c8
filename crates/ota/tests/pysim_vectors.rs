//! Bit-exact agreement with the published pySim OTA vectors (tests/data/pysim_ota.json, see
//! tests/data/README.md): command packets built and opened, SMS-DELIVER TPDUs, PoRs parsed with
//! their status, command count, last SW and data, and a PoR with a bad CC refused.

use ota::sms::{deliver_tpdus, Address, Scts};
use ota::{
    build_command, parse_response, parse_script, Apdu, CommandHeader, CommandPacket, Counter, KeySet, OtaError,
    RemoteResponse, ScriptFormat, Spi,
};
use serde_json::Value;

fn data() -> Value {
    let path = format!("{}/tests/data/pysim_ota.json", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn h(v: &Value, key: &str) -> Vec<u8> {
    hex::decode(v[key].as_str().unwrap_or_else(|| panic!("missing {key} in {v}"))).unwrap()
}

fn keyset(d: &Value, case: &Value) -> KeySet {
    let k = &d["keysets"][case["keyset"].as_str().unwrap()];
    KeySet::new(h(k, "kic")[0], h(k, "kid")[0], &h(k, "enc_key"), &h(k, "mac_key")).unwrap()
}

fn spi(case: &Value) -> Spi {
    Spi::from_slice(&h(case, "spi")).unwrap()
}

#[test]
fn command_packets_are_bit_exact_and_open() {
    let d = data();
    let cases = d["commands"].as_array().unwrap();
    assert_eq!(cases.len(), 8);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let keys = keyset(&d, case);
        let apdu = h(case, "apdu");
        let header = CommandHeader {
            spi: spi(case),
            tar: h(case, "tar").try_into().unwrap(),
            cntr: Counter::from_slice(&h(case, "cntr")).unwrap(),
        };
        let data = ota::build_script(ScriptFormat::Compact, &[Apdu::parse(&apdu).unwrap()]);
        assert_eq!(data, apdu, "{name}: compact coding of one case-3 APDU is the APDU");
        let packet = build_command(&header, &keys, &data).unwrap();
        let want = match case.get("packet") {
            Some(_) => h(case, "packet"),
            None => {
                let bare = h(case, "packet_without_cpl");
                [&(bare.len() as u16).to_be_bytes()[..], &bare].concat()
            }
        };
        assert_eq!(hex::encode(&packet), hex::encode(&want), "{name}");
        let opened = CommandPacket::parse(&want).unwrap().open(&keys).unwrap();
        assert_eq!((opened.spi, opened.tar, opened.cntr), (header.spi, header.tar, header.cntr), "{name}");
        assert_eq!(
            parse_script(&opened.data).unwrap(),
            (ScriptFormat::Compact, vec![Apdu::parse(&apdu).unwrap()]),
            "{name}"
        );
    }
}

#[test]
fn sms_deliver_matches_but_for_pysims_udl_and_mms() {
    let d = data();
    let oa = Address::parse(d["sms_deliver"]["originator"].as_str().unwrap()).unwrap();
    let scts = Scts::from_slice(&h(&d["sms_deliver"], "scts")).unwrap();
    let mut checked = 0;
    for case in d["commands"].as_array().unwrap().iter().filter(|c| c.get("tpdu").is_some()) {
        let packet = h(case, "packet");
        let ours = deliver_tpdus(&oa, &scts, &packet, 0).unwrap();
        assert_eq!(ours.len(), 1);
        let (ours, theirs) = (&ours[0], h(case, "tpdu"));
        assert_eq!(ours.len(), theirs.len());
        // Octet 0: TP-MTI 00 and TP-UDHI 1 in both; TP-MMS 1 (no more messages) in ours.
        assert_eq!((ours[0], theirs[0]), (0x44, 0x40));
        // TP-UDL: pySim's test passes 3; TS 23.040 counts the UDH and the packet.
        let udl_at = 1 + 2 + 4 + 2 + 7;
        assert_eq!((ours[udl_at], theirs[udl_at]), (3 + packet.len() as u8, 3));
        assert_eq!(ours[1..udl_at], theirs[1..udl_at]);
        assert_eq!(ours[udl_at + 1..], theirs[udl_at + 1..]);
        checked += 1;
    }
    assert_eq!(checked, 4);
}

#[test]
fn pors_verify_and_report_status_and_response() {
    let d = data();
    let cases = d["responses"].as_array().unwrap();
    assert_eq!(cases.len(), 7);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let r = parse_response(&h(case, "response"), &spi(case), &keyset(&d, case))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(r.status.name(), case["status"].as_str().unwrap(), "{name}");
        assert!(r.protected, "{name}");
        let RemoteResponse::Compact { commands, sw, data } =
            RemoteResponse::parse(&r.data, ScriptFormat::Compact).unwrap()
        else {
            unreachable!()
        };
        assert_eq!(u64::from(commands), case["commands"].as_u64().unwrap(), "{name}");
        assert_eq!(hex::encode(sw), case["sw"].as_str().unwrap(), "{name}");
        assert_eq!(hex::encode(data), case["data"].as_str().unwrap(), "{name}");
        assert_eq!(hex::encode(r.tar), "b00011", "{name}");
    }
}

#[test]
fn por_with_bad_cc_is_refused() {
    let d = data();
    for case in d["bad_responses"].as_array().unwrap() {
        let e = parse_response(&h(case, "response"), &spi(case), &keyset(&d, case)).unwrap_err();
        assert!(matches!(e, OtaError::Checksum { kind: "CC", .. }), "{e}");
    }
}
