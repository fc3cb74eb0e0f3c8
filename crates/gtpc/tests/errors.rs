//! Precise decoding errors (what, where) for every way a datagram can be malformed, and what is kept
//! as it came (unknown message and IE types, spare bits).

use gtpc::v2::values::{EpcTimer, Fteid, LoadControl, OverloadControl};
use gtpc::v2::{BuildError, Ie, IeType, Message, MessageType, MAX_DEPTH};
use gtpc::{v1, DecodeError};

fn csr(ies: Vec<Ie>) -> Vec<u8> {
    Message::builder(MessageType::CREATE_SESSION_REQUEST).teid(1).sequence(2).ies(ies).build().unwrap().encode()
}

#[test]
fn gtpv2_header_errors_say_what_and_where() {
    assert_eq!(Message::decode(&[]), Err(DecodeError::TruncatedHeader { offset: 0, need: 4, have: 0 }));
    assert_eq!(Message::decode(&[0x48, 0x20]), Err(DecodeError::TruncatedHeader { offset: 0, need: 4, have: 2 }));
    assert_eq!(
        Message::decode(&[0x48, 0x20, 0, 8, 0, 0, 0, 1]),
        Err(DecodeError::TruncatedHeader { offset: 0, need: 12, have: 8 }),
        "T=1 needs 12 octets"
    );
    assert_eq!(
        Message::decode(&[0x28, 0x20, 0, 8, 0, 0, 0, 1, 0, 0, 0, 0]),
        Err(DecodeError::BadVersion { offset: 0, found: 1, expected: 2 })
    );
    assert_eq!(
        Message::decode(&[0x48, 0x20, 0, 4, 0, 0, 0, 1, 0, 0, 0, 0]),
        Err(DecodeError::LengthTooSmall { offset: 0, length: 4, min: 8 })
    );
    assert_eq!(
        Message::decode(&[0x48, 0x20, 0, 9, 0, 0, 0, 1, 0, 0, 0, 0]),
        Err(DecodeError::LengthOverrun { offset: 0, length: 9, available: 8 })
    );
    let mut b = csr(vec![Ie::recovery(1)]);
    b.push(0);
    assert_eq!(Message::decode(&b), Err(DecodeError::TrailingBytes { offset: 17, count: 1 }));
}

#[test]
fn piggyback_errors() {
    let mut b = csr(vec![]);
    b[0] |= 0x10;
    assert_eq!(Message::decode(&b), Err(DecodeError::MissingPiggyback { offset: 12 }));
    let second = csr(vec![]);
    let mut both = b.clone();
    both.extend_from_slice(&second);
    assert!(Message::decode(&both).unwrap().piggybacked.is_some());
    let mut nested = b.clone();
    nested.extend_from_slice(&b);
    assert_eq!(Message::decode(&nested), Err(DecodeError::NestedPiggyback { offset: 12 }));
    let inner = Message::decode(&both).unwrap();
    assert_eq!(
        Message::builder(MessageType::CREATE_SESSION_RESPONSE).piggyback(inner).build(),
        Err(BuildError::NestedPiggyback)
    );
}

#[test]
fn ie_errors_name_the_ie_its_parent_and_the_offset() {
    // A top-level Recovery claiming 2 octets where 1 is present.
    let mut b = csr(vec![Ie::ebi(5), Ie::recovery(1)]);
    b[18..20].copy_from_slice(&[0, 2]); // the Recovery's length field (its type is at 12 + 5 = 17)
    assert_eq!(
        Message::decode(&b),
        Err(DecodeError::IeOverrun { offset: 17, ie_type: 3, instance: 0, length: 2, available: 1, parent: None })
    );
    // Three octets where an IE header needs four.
    let mut b = csr(vec![Ie::recovery(1)]);
    b.truncate(15);
    b[3] = 11;
    assert_eq!(
        Message::decode(&b),
        Err(DecodeError::TruncatedIe { offset: 12, ie_type: Some(3), parent: None, need: 4, have: 3 })
    );
    // Inside a Bearer Context: the child header is cut.
    let b = csr(vec![Ie::grouped(IeType::BEARER_CONTEXT, 0, vec![]), Ie::raw(IeType(200), 0, vec![])]);
    let mut b2 = b.clone();
    b2[14] = 2; // the Bearer Context now swallows 2 octets of the next IE's header
    assert_eq!(
        Message::decode(&b2),
        Err(DecodeError::TruncatedIe { offset: 16, ie_type: Some(200), parent: Some(93), need: 4, have: 2 })
    );
    let e = Message::decode(&b2).unwrap_err();
    assert_eq!(e.offset(), 16);
    assert!(e.to_string().contains("offset 16"), "{e}");
}

#[test]
fn nesting_is_bounded() {
    let mut ie = Ie::ebi(5);
    for _ in 0..=MAX_DEPTH {
        ie = Ie::grouped(IeType::PDN_CONNECTION, 0, vec![ie]);
    }
    let b = csr(vec![ie]);
    assert!(matches!(Message::decode(&b), Err(DecodeError::NestingTooDeep { max: MAX_DEPTH, .. })));
}

#[test]
fn unknown_types_and_spare_bits_are_kept_as_they_came() {
    // Message type 250, T=0 with MP=1 (priority 5) and spare bits everywhere; an unknown IE type 250
    // with spare bits beside its instance, and a Private Extension.
    let b = [
        0x47, 250, 0, 17, 0x12, 0x34, 0x56, 0x5a, // header: flags V2|MP|spare 11, seq 0x123456, prio 5, spare a
        250, 0, 2, 0xa3, 0xde, 0xad, // unknown IE, instance 3, spare 0xa
        255, 0, 3, 0x00, 0x00, 0x0a, 0x99, // private extension
    ];
    let m = Message::decode(&b).unwrap();
    assert_eq!(m.message_type().name(), None);
    assert_eq!((m.header.teid, m.header.sequence, m.header.priority), (None, 0x12_3456, Some(5)));
    assert_eq!((m.header.spare_flags, m.header.spare_tail), (3, 0xa));
    assert_eq!((m.ies[0].ie_type, m.ies[0].instance, m.ies[0].spare), (IeType(250), 3, 0xa));
    assert_eq!(m.ies[0].bytes().unwrap(), [0xde, 0xad]);
    assert_eq!(m.encode(), b);
}

#[test]
fn value_errors_are_precise() {
    let f = Ie::raw(IeType::FTEID, 0, vec![0x86, 0, 0, 0, 1, 192, 0]);
    assert_eq!(f.as_fteid().unwrap_err().reason, "F-TEID shorter than its V4/V6 flags say");
    assert_eq!(Ie::raw(IeType::IMSI, 0, vec![0x1a]).as_imsi().unwrap_err().ie_type, 1);
    assert!(Ie::imsi("00101x").is_err());
    assert!(Ie::grouped(IeType::OVERLOAD_CONTROL_INFORMATION, 0, vec![]).as_overload_control().is_err());
    let ok = Fteid { interface_type: 7, teid: 9, ipv4: None, ipv6: Some("2001:db8::1".parse().unwrap()) };
    assert_eq!(Ie::fteid(1, &ok).as_fteid().unwrap(), ok);
}

#[test]
fn overload_and_load_control_information_round_trip() {
    let oc = OverloadControl {
        sequence: 77,
        reduction_metric: 40,
        validity: EpcTimer { unit: 1, value: 5 },
        apns: vec!["internet".into()],
    };
    let ie = Ie::overload_control(0, &oc).unwrap();
    let lc = LoadControl { sequence: 9, metric: 70, apns: vec![(30, "ims".into())] };
    let b = Message::builder(MessageType::CREATE_SESSION_RESPONSE)
        .ie(ie)
        .ie(Ie::load_control(0, &lc).unwrap())
        .build()
        .unwrap()
        .encode();
    let m = Message::decode(&b).unwrap();
    let got = m.find(IeType::OVERLOAD_CONTROL_INFORMATION, 0).unwrap().as_overload_control().unwrap();
    assert_eq!(got, oc);
    assert_eq!(got.validity.duration(), Some(std::time::Duration::from_secs(300)));
    assert_eq!(EpcTimer { unit: 7, value: 1 }.duration(), None);
    assert_eq!(m.find(IeType::LOAD_CONTROL_INFORMATION, 0).unwrap().as_load_control().unwrap(), lc);
}

#[test]
fn gtpv1_errors() {
    let good = v1::Message::new(v1::MessageType::ECHO_REQUEST, 0, 1, vec![v1::Ie::recovery(3)]).encode();
    assert_eq!(good, [0x32, 1, 0, 6, 0, 0, 0, 0, 0, 1, 0, 0, 14, 3]);
    let mut pt0 = good.clone();
    pt0[0] &= !0x10;
    assert_eq!(v1::Message::decode(&pt0), Err(DecodeError::NotGtp { offset: 0 }));
    let mut v2 = good.clone();
    v2[0] = 0x52;
    assert_eq!(v1::Message::decode(&v2), Err(DecodeError::BadVersion { offset: 0, found: 2, expected: 1 }));
    let mut gpdu = good.clone();
    gpdu[1] = 255;
    assert_eq!(v1::Message::decode(&gpdu), Err(DecodeError::UserPlane(255)));
    // An unknown TV type (6): its length cannot be known.
    let mut tv = good.clone();
    tv[12] = 6;
    assert_eq!(v1::Message::decode(&tv), Err(DecodeError::UnknownTvIe { offset: 12, ie_type: 6 }));
    // A TLV running past the message.
    let b = [0x32, 16, 0, 7, 0, 0, 0, 0, 0, 1, 0, 0, 131, 0, 5];
    assert_eq!(
        v1::Message::decode(&b),
        Err(DecodeError::IeOverrun { offset: 12, ie_type: 131, instance: 0, length: 5, available: 0, parent: None })
    );
    // A TV IE cut short.
    let b = [0x32, 16, 0, 6, 0, 0, 0, 0, 0, 1, 0, 0, 16, 1];
    assert_eq!(
        v1::Message::decode(&b),
        Err(DecodeError::TruncatedIe { offset: 12, ie_type: Some(16), parent: None, need: 5, have: 2 })
    );
    // An extension header of length 0.
    let b = [0x36, 16, 0, 8, 0, 0, 0, 0, 0, 1, 0, 0xc0, 0, 0, 0, 0];
    assert_eq!(v1::Message::decode(&b), Err(DecodeError::BadExtensionHeader { ext_type: 0xc0, offset: 12 }));
    // One of length 1 (PDCP PDU number), then an unknown TLV and a one-octet-length Extension Header
    // Type List: kept as they came.
    let b = [0x36, 16, 0, 16, 0, 0, 0, 0, 0, 1, 0, 0xc0, 1, 0x12, 0x34, 0, 200, 0, 1, 0xee, 141, 2, 0x40, 0xc0];
    let m = v1::Message::decode(&b).unwrap();
    assert_eq!(m.header.extensions[0].content[..], [0x12, 0x34]);
    assert_eq!(m.ies.len(), 2);
    assert_eq!(m.ies[1].value[..], [0x40, 0xc0]);
    assert_eq!(m.encode(), b);
    assert!(v1::Ie::new(v1::IeType(6), vec![1]).is_err());
    assert!(v1::Ie::new(v1::IeType::CAUSE, vec![1, 2]).is_err());
}
