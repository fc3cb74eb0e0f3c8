//! The PDU codec: round trips of generated PDUs, random octets never panic, examples built by hand
//! from SMPP v3.4 §4 field by field, and precise errors naming the field and the limit.

mod common;

use proptest::prelude::*;
use smpp::pdu::{self, frame_len, DecodeError, EncodeError, MAX_PDU_LEN};
use smpp::tlv::{tag, Tlv, Tlvs};
use smpp::{Bind, BindResp, Body, CommandStatus, MessageIdResp, Pdu, ShortMessage};
use zeroize::Zeroizing;

fn cstring(max: usize) -> impl Strategy<Value = String> {
    common::text(1..0x7F, max)
}

fn time() -> impl Strategy<Value = String> {
    prop_oneof![Just(String::new()), "[0-9]{12}[0-9]{3}[+-R]"]
}

fn tlvs() -> impl Strategy<Value = Tlvs> {
    let tlv = prop_oneof![
        // Unknown tags, kept as they are.
        (0x1400u16..0x3FFF, proptest::collection::vec(any::<u8>(), 0..40)).prop_map(|(tag, value)| Tlv { tag, value }),
        proptest::collection::vec(any::<u8>(), 0..300).prop_map(|v| Tlv { tag: tag::MESSAGE_PAYLOAD, value: v }),
        (1u8..=8).prop_map(|s| Tlv { tag: tag::MESSAGE_STATE, value: vec![s] }),
        cstring(64).prop_map(|s| {
            let mut v = s.into_bytes();
            v.push(0);
            Tlv { tag: tag::RECEIPTED_MESSAGE_ID, value: v }
        }),
        any::<u16>().prop_map(|r| Tlv { tag: tag::SAR_MSG_REF_NUM, value: r.to_be_bytes().to_vec() }),
        any::<u8>().prop_map(|n| Tlv { tag: tag::SAR_TOTAL_SEGMENTS, value: vec![n] }),
        any::<u8>().prop_map(|n| Tlv { tag: tag::SAR_SEGMENT_SEQNUM, value: vec![n] }),
    ];
    proptest::collection::vec(tlv, 0..4).prop_map(Tlvs)
}

fn bind() -> impl Strategy<Value = Bind> {
    (cstring(15), cstring(8), cstring(12), any::<u8>(), any::<u8>(), any::<u8>(), cstring(40)).prop_map(
        |(system_id, password, system_type, interface_version, addr_ton, addr_npi, address_range)| Bind {
            system_id,
            password: Zeroizing::new(password),
            system_type,
            interface_version,
            addr_ton,
            addr_npi,
            address_range,
        },
    )
}

fn short_message() -> impl Strategy<Value = ShortMessage> {
    common::short_message(1..0x7F, (time(), time()), tlvs())
}

fn bind_resp() -> impl Strategy<Value = BindResp> {
    (cstring(15), tlvs()).prop_map(|(system_id, tlvs)| BindResp { system_id, tlvs })
}

fn id() -> impl Strategy<Value = MessageIdResp> {
    cstring(64).prop_map(|message_id| MessageIdResp { message_id })
}

fn body() -> impl Strategy<Value = Body> {
    prop_oneof![
        Just(Body::GenericNack),
        Just(Body::Unbind),
        Just(Body::UnbindResp),
        Just(Body::EnquireLink),
        Just(Body::EnquireLinkResp),
        bind().prop_map(Body::BindTransceiver),
        bind().prop_map(Body::BindTransmitter),
        bind().prop_map(Body::BindReceiver),
        bind_resp().prop_map(Body::BindTransceiverResp),
        bind_resp().prop_map(Body::BindTransmitterResp),
        bind_resp().prop_map(Body::BindReceiverResp),
        short_message().prop_map(Body::SubmitSm),
        short_message().prop_map(Body::DeliverSm),
        id().prop_map(Body::SubmitSmResp),
        id().prop_map(Body::DeliverSmResp),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn every_pdu_round_trips(status in prop_oneof![Just(0u32), any::<u32>()], sequence in any::<u32>(), body in body()) {
        // Error responses may leave out their body; that decodes as the empty one.
        let body = match body {
            Body::BindTransceiverResp(r) if status != 0 && r.system_id.is_empty() => Body::BindTransceiverResp(BindResp::default()),
            b => b,
        };
        let pdu = Pdu { status: CommandStatus(status), sequence, body };
        let bytes = pdu.encode().unwrap();
        prop_assert_eq!(u32::from_be_bytes(bytes[..4].try_into().unwrap()) as usize, bytes.len());
        prop_assert_eq!(frame_len(&bytes).unwrap(), Some(bytes.len()));
        prop_assert_eq!(Pdu::decode(&bytes).unwrap(), pdu);
    }

    #[test]
    fn random_octets_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = frame_len(&bytes);
        let _ = Pdu::decode(&bytes);
        let _ = pdu::Header::decode(&bytes);
        if bytes.len() >= 4 {
            let id = u32::from_be_bytes(bytes[..4].try_into().unwrap());
            let _ = pdu::decode_body(id, &bytes[4..]);
        }
    }

    #[test]
    fn mutated_pdus_never_panic(body in body(), flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6), cut in any::<prop::sample::Index>()) {
        let mut bytes = Pdu::request(7, body).encode().unwrap();
        for (i, v) in flips {
            let i = i.index(bytes.len());
            bytes[i] = v;
        }
        let _ = Pdu::decode(&bytes);
        // The body parsers also see every prefix of a valid body.
        let cut = cut.index(bytes.len() - 15) + 16;
        let id = u32::from_be_bytes(bytes[4..8].try_into().unwrap());
        let _ = pdu::decode_body(id, &bytes[16..cut]);
    }
}

/// `enquire_link`, sequence 1: a bare header (SMPP v3.4 §4.11.1).
#[test]
fn enquire_link_is_a_bare_header() {
    let bytes = Pdu::request(1, Body::EnquireLink).encode().unwrap();
    assert_eq!(hex::encode(&bytes), "00000010000000150000000000000001");
}

/// `bind_transceiver` of system_id "warden", password "pw", system_type "", interface version
/// 0x34, TON/NPI 0, address_range "" (SMPP v3.4 §4.1.5), assembled field by field.
#[test]
fn bind_transceiver_matches_the_spec_layout() {
    let bind = Bind { system_id: "warden".into(), password: Zeroizing::new("pw".into()), ..Bind::default() };
    let bytes = Pdu::request(2, Body::BindTransceiver(bind.clone())).encode().unwrap();
    let mut expected = Vec::new();
    expected.extend(31u32.to_be_bytes()); // 16 + 7 + 3 + 1 + 3 + 1
    expected.extend(0x0000_0009u32.to_be_bytes());
    expected.extend(0u32.to_be_bytes());
    expected.extend(2u32.to_be_bytes());
    expected.extend(b"warden\0pw\0\0");
    expected.extend([0x34, 0, 0, 0]);
    assert_eq!(bytes, expected);
    assert_eq!(Pdu::decode(&expected).unwrap().body, Body::BindTransceiver(bind.clone()));
    assert!(!format!("{bind:?}").contains("pw\""), "Debug must not show the password: {bind:?}");
}

/// A `submit_sm_resp` with an error status and no body, as SMPP v3.4 §4.4.2 allows.
#[test]
fn an_error_response_may_have_no_body() {
    let bytes = hex::decode("00000010800000040000005800000003").unwrap();
    let pdu = Pdu::decode(&bytes).unwrap();
    assert_eq!(pdu.status, CommandStatus::ESME_RTHROTTLED);
    assert_eq!(pdu.body, Body::SubmitSmResp(MessageIdResp::default()));
    let encoded =
        Pdu { status: CommandStatus::ESME_RTHROTTLED, sequence: 3, body: Body::SubmitSmResp(MessageIdResp::default()) }
            .encode()
            .unwrap();
    assert_eq!(encoded, bytes);
}

/// A `deliver_sm` receipt generated by PyPI smpplib 2.2.4 (`make_pdu("deliver_sm", …,
/// short_message=b"id:1 stat:DELIVRD", receipted_message_id="abc", message_state=2)`), TLVs kept.
#[test]
fn an_smpplib_receipt_decodes() {
    let bytes = hex::decode(concat!(
        "0000004600000005000000000000000200010134393137000000313233000400000000000000001169643a3120",
        "737461743a44454c495652440427000102001e000461626300"
    ))
    .unwrap();
    let Body::DeliverSm(sm) = Pdu::decode(&bytes).unwrap().body else { panic!() };
    assert_eq!((sm.source_addr.as_str(), sm.destination_addr.as_str(), sm.esm_class), ("4917", "123", 4));
    assert_eq!(sm.short_message, b"id:1 stat:DELIVRD");
    assert_eq!(sm.tlvs.message_state(), Some(2));
    assert_eq!(sm.tlvs.receipted_message_id().as_deref(), Some("abc"));
    assert_eq!(Pdu::decode(&bytes).unwrap().encode().unwrap(), bytes, "re-encoded octet for octet");
}

#[test]
fn unknown_tlvs_are_kept_in_order() {
    let mut sm = ShortMessage { short_message: vec![1, 2, 3], ..Default::default() };
    sm.tlvs.push(0x1403, vec![0xDE, 0xAD]);
    sm.tlvs.push(tag::SAR_MSG_REF_NUM, vec![0x01, 0x02]);
    sm.tlvs.push(tag::SAR_TOTAL_SEGMENTS, vec![3]);
    sm.tlvs.push(tag::SAR_SEGMENT_SEQNUM, vec![2]);
    sm.tlvs.push(0x2000, vec![]);
    let bytes = Pdu::request(9, Body::DeliverSm(sm.clone())).encode().unwrap();
    let Body::DeliverSm(back) = Pdu::decode(&bytes).unwrap().body else { panic!() };
    assert_eq!(back.tlvs, sm.tlvs);
    assert_eq!(back.tlvs.sar(), Some((0x0102, 3, 2)));
}

fn submit(sm: ShortMessage) -> Vec<u8> {
    Pdu::request(5, Body::SubmitSm(sm)).encode().unwrap()
}

/// Replaces the octets of `field` (its first occurrence) in a PDU and fixes command_length.
fn patched(mut bytes: Vec<u8>, from: &[u8], to: &[u8]) -> Vec<u8> {
    let at = bytes.windows(from.len()).position(|w| w == from).unwrap();
    bytes.splice(at..at + from.len(), to.iter().copied());
    let len = (bytes.len() as u32).to_be_bytes();
    bytes[..4].copy_from_slice(&len);
    bytes
}

#[test]
fn errors_name_the_command_the_field_and_the_limit() {
    let e = |b: &[u8]| Pdu::decode(b).unwrap_err();
    assert_eq!(
        e(&hex::decode("0000000f000000150000000000000001").unwrap()),
        DecodeError::LengthTooShort { length: 15 }
    );
    assert_eq!(
        e(&hex::decode("00010001000000150000000000000001").unwrap()),
        DecodeError::LengthTooLong { length: 65_537, max: MAX_PDU_LEN }
    );
    assert_eq!(e(&hex::decode("00000010000000990000000000000001").unwrap()), DecodeError::UnknownCommand(0x99));
    let sm = ShortMessage { source_addr: "SRC".into(), destination_addr: "4917".into(), ..Default::default() };
    // A source_addr of 21 characters has no NUL within its 21 octets.
    let long = patched(submit(sm.clone()), b"SRC\0", &[b'1'; 22]);
    let err = e(&long);
    assert_eq!(err, DecodeError::Unterminated { command: "submit_sm", field: "source_addr", max: 21 });
    assert_eq!(err.to_string(), "submit_sm: source_addr has no terminating NUL within its maximum of 21 octets");
    // sm_length 255.
    let mut bytes = submit(sm.clone());
    let n = bytes.len();
    bytes[n - 1] = 255;
    assert_eq!(e(&bytes), DecodeError::SmLengthTooLong { command: "submit_sm", sm_length: 255 });
    assert_eq!(e(&bytes).status(), CommandStatus::ESME_RINVMSGLEN);
    // sm_length 4 with no octets after it.
    bytes[n - 1] = 4;
    assert_eq!(e(&bytes), DecodeError::Truncated { command: "submit_sm", field: "short_message" });
    // A message_state TLV of length 2.
    let mut bad = sm.clone();
    bad.tlvs.push(tag::MESSAGE_STATE, vec![2, 2]);
    let err = e(&submit(bad));
    assert_eq!(err.to_string(), "submit_sm: TLV 0x0427 (message_state) has length 2, allowed 1..=1");
    assert_eq!(err.status(), CommandStatus::ESME_RINVPARLEN);
    // A TLV running past the body.
    let mut bytes = submit(sm.clone());
    bytes.extend([0x04, 0x24, 0x00, 0x10, 0xAA]);
    let len = (bytes.len() as u32).to_be_bytes();
    bytes[..4].copy_from_slice(&len);
    assert_eq!(e(&bytes).to_string(), "submit_sm: TLV 0x0424 (message_payload) is truncated: length 16, 1 octets left");
    // A schedule_delivery_time that is not 16 characters.
    let mut bytes = submit(sm.clone());
    let at = 16 + 1 + 2 + 4 + 2 + 5 + 3; // service_type NUL, TONs, "SRC\0", "4917\0", esm/pid/priority
    bytes.splice(at..at + 1, *b"2612\0");
    let len = (bytes.len() as u32).to_be_bytes();
    bytes[..4].copy_from_slice(&len);
    let err = e(&bytes);
    assert_eq!(err, DecodeError::BadTime { command: "submit_sm", field: "schedule_delivery_time", len: 4 });
    assert_eq!(err.status(), CommandStatus::ESME_RINVSCHED);
    // Octets after a body that takes none.
    let err = e(&hex::decode("0000001100000015000000000000000100").unwrap());
    assert_eq!(err, DecodeError::TrailingOctets { command: "enquire_link", extra: 1 });
    // A command_length that disagrees with the buffer.
    let err = e(&hex::decode("000000140000001500000000000000010000").unwrap());
    assert_eq!(err, DecodeError::LengthMismatch { length: 20, available: 18 });
    // A header cut short.
    let err = e(&hex::decode("000000140000001500000000000000").unwrap());
    assert_eq!(err, DecodeError::Truncated { command: "header", field: "sequence_number" });
}

#[test]
fn encoding_refuses_what_smpp_cannot_carry() {
    let sm = |f: &dyn Fn(&mut ShortMessage)| {
        let mut m = ShortMessage::default();
        f(&mut m);
        Pdu::request(1, Body::SubmitSm(m)).encode().unwrap_err()
    };
    assert_eq!(
        sm(&|m| m.destination_addr = "1".repeat(21)),
        EncodeError::TooLong { field: "destination_addr", len: 21, max: 20 }
    );
    assert_eq!(sm(&|m| m.short_message = vec![0; 255]), EncodeError::ShortMessageTooLong { len: 255 });
    assert_eq!(sm(&|m| m.validity_period = "1".into()), EncodeError::BadTime { field: "validity_period", len: 1 });
    assert_eq!(sm(&|m| m.source_addr = "a\0b".into()), EncodeError::BadChar { field: "source_addr" });
    assert_eq!(
        sm(&|m| m.tlvs.push(tag::MESSAGE_PAYLOAD, vec![0; 70_000])),
        EncodeError::TlvTooLong { tag: tag::MESSAGE_PAYLOAD, len: 70_000 }
    );
    let e = Pdu::request(
        1,
        Body::BindTransceiver(Bind { password: Zeroizing::new("123456789".into()), ..Bind::default() }),
    )
    .encode()
    .unwrap_err();
    assert_eq!(e.to_string(), "password has 9 characters, at most 8 are allowed");
}
