//! Byte-exact examples: messages assembled by hand from the RFC 6733 §3 header layout and the §4.1
//! AVP layout, checked against what the API encodes and what it decodes.
//!
//! ```text
//! Header (§3)                                   AVP (§4.1)
//!  0: Version(1)  Message Length(3)              0: AVP Code(4)
//!  4: Flags R P E T r r r r (1) Command-Code(3)  4: Flags V M P r r r r r (1) AVP Length(3)
//!  8: Application-ID(4)                          8: Vendor-ID(4), only when V is set
//! 12: Hop-by-Hop Identifier(4)                  8|12: Data, then zero padding to 4 bytes
//! 16: End-to-End Identifier(4)                  (AVP Length excludes the padding)
//! ```

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use diameter::avp;
use diameter::dictionary::{app, VENDOR_3GPP};
use diameter::peer::Capabilities;
use diameter::result_code as rc;
use diameter::Command;
use diameter::{Address, Avp, Message, MessageView, Value};

/// `m` with the identifiers set.
fn message(mut m: Message, hop_by_hop: u32, end_to_end: u32) -> Message {
    m.header.hop_by_hop = hop_by_hop;
    m.header.end_to_end = end_to_end;
    m
}

/// Checks that the Message Length field matches the array (guards the hand arithmetic).
fn assert_framed(bytes: &[u8]) {
    let len = u32::from_be_bytes([0, bytes[1], bytes[2], bytes[3]]) as usize;
    assert_eq!(len, bytes.len(), "Message Length field");
    assert_eq!(len % 4, 0);
}

// ------------------------------------------------------------------------------------------------
// DWR
// ------------------------------------------------------------------------------------------------

#[rustfmt::skip]
const DWR: &[u8] = &[
    // Header
    0x01,                   // Version 1
    0x00, 0x00, 0x38,       // Message Length 56
    0x80,                   // Command Flags: R
    0x00, 0x01, 0x18,       // Command-Code 280 (Device-Watchdog)
    0x00, 0x00, 0x00, 0x00, // Application-ID 0 (common messages)
    0x12, 0x34, 0x56, 0x78, // Hop-by-Hop Identifier
    0x9a, 0xbc, 0xde, 0xf0, // End-to-End Identifier
    // Origin-Host
    0x00, 0x00, 0x01, 0x08, // AVP Code 264
    0x40,                   // Flags: M
    0x00, 0x00, 0x11,       // AVP Length 17 = 8 + 9
    b'a', b'.', b'e', b'x', b'a', b'm', b'p', b'l', b'e', // "a.example"
    0x00, 0x00, 0x00,       // padding to 20
    // Origin-Realm
    0x00, 0x00, 0x01, 0x28, // AVP Code 296
    0x40,                   // Flags: M
    0x00, 0x00, 0x0f,       // AVP Length 15 = 8 + 7
    b'e', b'x', b'a', b'm', b'p', b'l', b'e', // "example"
    0x00,                   // padding to 16
];

#[test]
fn dwr_encodes_and_decodes_byte_exactly() {
    assert_framed(DWR);
    let mut m = message(Message::request(Command::DWR), 0x1234_5678, 0x9abc_def0);
    m.add(avp::ORIGIN_HOST, "a.example");
    m.add(avp::ORIGIN_REALM, "example");
    assert_eq!(m.encode(), DWR);

    let d = Message::decode(DWR).unwrap();
    assert_eq!(d.abbrev(), Some("DWR"));
    assert!(d.is_request() && !d.header.is_proxiable() && !d.header.is_error() && !d.header.is_retransmit());
    assert_eq!((d.header.version, d.header.length, d.header.code, d.header.app_id), (1, 56, 280, 0));
    assert_eq!((d.header.hop_by_hop, d.header.end_to_end), (0x1234_5678, 0x9abc_def0));
    assert_eq!(d.avps[0].value, Value::DiameterIdentity("a.example".into()));
    assert_eq!(d.avps[1].value, Value::DiameterIdentity("example".into()));
    assert!(d.avps.iter().all(|a| a.is_mandatory() && a.vendor_id.is_none()));
    assert_eq!(d.encode(), DWR);

    // The zero-copy view: data without padding.
    let v = MessageView::parse(DWR).unwrap();
    let raws: Vec<_> = v.avps().map(Result::unwrap).collect();
    assert_eq!(raws.len(), 2);
    assert_eq!((raws[0].code, raws[0].flags, raws[0].data), (264, 0x40, &b"a.example"[..]));
    assert_eq!(v.find(avp::ORIGIN_REALM).unwrap().data, b"example");
}

/// The same DWR with a non-zero padding byte: RFC 6733 §4.1 says padding "MUST" be zero on send, but
/// receivers ignore it; re-encoding gives the canonical zero padding.
#[test]
fn padding_content_is_ignored_on_receive() {
    let mut b = DWR.to_vec();
    b[20 + 17] = 0xff; // first padding byte of Origin-Host
    let d = Message::decode(&b).unwrap();
    assert_eq!(d.get_str(avp::ORIGIN_HOST), Some("a.example"));
    assert_eq!(d.encode(), DWR);
}

// ------------------------------------------------------------------------------------------------
// CER
// ------------------------------------------------------------------------------------------------

#[rustfmt::skip]
const CER: &[u8] = &[
    // Header
    0x01, 0x00, 0x00, 0x90, // Version 1, Message Length 144
    0x80, 0x00, 0x01, 0x01, // Flags R, Command-Code 257 (Capabilities-Exchange)
    0x00, 0x00, 0x00, 0x00, // Application-ID 0
    0xde, 0xad, 0xbe, 0xef, // Hop-by-Hop Identifier
    0x00, 0xc0, 0xff, 0xee, // End-to-End Identifier
    // Origin-Host (264), M, length 17, "a.example" + 3 padding bytes
    0x00, 0x00, 0x01, 0x08, 0x40, 0x00, 0x00, 0x11,
    b'a', b'.', b'e', b'x', b'a', b'm', b'p', b'l', b'e', 0x00, 0x00, 0x00,
    // Origin-Realm (296), M, length 15, "example" + 1 padding byte
    0x00, 0x00, 0x01, 0x28, 0x40, 0x00, 0x00, 0x0f,
    b'e', b'x', b'a', b'm', b'p', b'l', b'e', 0x00,
    // Host-IP-Address (257), M, length 14 = 8 + 2 (AddressType) + 4
    0x00, 0x00, 0x01, 0x01, 0x40, 0x00, 0x00, 0x0e,
    0x00, 0x01,             // AddressType 1 (IPv4, IANA address family numbers)
    192, 0, 2, 1,           // 192.0.2.1
    0x00, 0x00,             // padding to 16
    // Vendor-Id (266), M, length 12, Unsigned32 10415 (3GPP)
    0x00, 0x00, 0x01, 0x0a, 0x40, 0x00, 0x00, 0x0c,
    0x00, 0x00, 0x28, 0xaf,
    // Product-Name (269), no flags (M must not be set), length 14, "Warden" + 2 padding bytes
    0x00, 0x00, 0x01, 0x0d, 0x00, 0x00, 0x00, 0x0e,
    b'W', b'a', b'r', b'd', b'e', b'n', 0x00, 0x00,
    // Auth-Application-Id (258), M, length 12, 16777251 (S6a)
    0x00, 0x00, 0x01, 0x02, 0x40, 0x00, 0x00, 0x0c,
    0x01, 0x00, 0x00, 0x23,
    // Vendor-Specific-Application-Id (260), M, Grouped, length 32 = 8 + 12 + 12
    0x00, 0x00, 0x01, 0x04, 0x40, 0x00, 0x00, 0x20,
        // Vendor-Id (266), M, length 12, 10415
        0x00, 0x00, 0x01, 0x0a, 0x40, 0x00, 0x00, 0x0c,
        0x00, 0x00, 0x28, 0xaf,
        // Auth-Application-Id (258), M, length 12, 16777251
        0x00, 0x00, 0x01, 0x02, 0x40, 0x00, 0x00, 0x0c,
        0x01, 0x00, 0x00, 0x23,
];

#[test]
fn cer_encodes_and_decodes_byte_exactly() {
    assert_framed(CER);
    let mut m = message(Message::request(Command::CER), 0xdead_beef, 0x00c0_ffee);
    m.add(avp::ORIGIN_HOST, "a.example");
    m.add(avp::ORIGIN_REALM, "example");
    m.add(avp::HOST_IP_ADDRESS, IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)));
    m.add(avp::VENDOR_ID, VENDOR_3GPP);
    m.add(avp::PRODUCT_NAME, "Warden");
    m.add(avp::AUTH_APPLICATION_ID, app::S6A);
    m.push(Avp::grouped(
        avp::VENDOR_SPECIFIC_APPLICATION_ID,
        vec![Avp::new(avp::VENDOR_ID, VENDOR_3GPP), Avp::new(avp::AUTH_APPLICATION_ID, app::S6A)],
    ));
    assert_eq!(m.len(), CER.len());
    assert_eq!(m.encode(), CER);

    let d = Message::decode(CER).unwrap();
    assert_eq!(d, Message { header: diameter::Header { length: 144, ..m.header }, avps: m.avps.clone() });
    assert_eq!(d.abbrev(), Some("CER"));
    assert_eq!(
        d.get(avp::HOST_IP_ADDRESS).unwrap().as_address(),
        Some(&Address::Ip(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1))))
    );
    assert_eq!(d.get(avp::VENDOR_ID).unwrap().value, Value::Unsigned32(10415));
    assert_eq!(d.get(avp::PRODUCT_NAME).unwrap().value, Value::Utf8String("Warden".into()));
    assert!(!d.get(avp::PRODUCT_NAME).unwrap().is_mandatory());
    let vsai = d.get(avp::VENDOR_SPECIFIC_APPLICATION_ID).unwrap();
    assert_eq!(vsai.child(avp::VENDOR_ID).and_then(Avp::as_u32), Some(10415));
    assert_eq!(vsai.child(avp::AUTH_APPLICATION_ID).and_then(Avp::as_u32), Some(16_777_251));
    assert_eq!(d.encode(), CER);

    let caps = Capabilities::from_message(&d);
    assert_eq!((caps.origin_host.as_str(), caps.origin_realm.as_str()), ("a.example", "example"));
    assert_eq!(caps.host_ip_addresses, vec![IpAddr::from([192, 0, 2, 1])]);
    assert_eq!((caps.vendor_id, caps.product_name.as_str()), (10415, "Warden"));
    assert_eq!(caps.applications, vec![app::S6A, app::S6A]);
}

// ------------------------------------------------------------------------------------------------
// AIR: vendor-specific 3GPP AVPs (V bit and Vendor-ID field) and a vendor-specific Grouped AVP
// ------------------------------------------------------------------------------------------------

#[rustfmt::skip]
const AIR: &[u8] = &[
    // Header
    0x01, 0x00, 0x00, 0xc0, // Version 1, Message Length 192
    0xc0, 0x00, 0x01, 0x3e, // Flags R P, Command-Code 318 (Authentication-Information)
    0x01, 0x00, 0x00, 0x23, // Application-ID 16777251 (S6a/S6d)
    0x00, 0x00, 0x00, 0x01, // Hop-by-Hop Identifier
    0x00, 0x00, 0x00, 0x02, // End-to-End Identifier
    // Session-Id (263), M, length 21, "a.example;1;1" + 3 padding bytes
    0x00, 0x00, 0x01, 0x07, 0x40, 0x00, 0x00, 0x15,
    b'a', b'.', b'e', b'x', b'a', b'm', b'p', b'l', b'e', b';', b'1', b';', b'1', 0x00, 0x00, 0x00,
    // Auth-Session-State (277), M, length 12, Enumerated 1 (NO_STATE_MAINTAINED)
    0x00, 0x00, 0x01, 0x15, 0x40, 0x00, 0x00, 0x0c,
    0x00, 0x00, 0x00, 0x01,
    // Origin-Host (264), M, length 17, "a.example" + 3 padding bytes
    0x00, 0x00, 0x01, 0x08, 0x40, 0x00, 0x00, 0x11,
    b'a', b'.', b'e', b'x', b'a', b'm', b'p', b'l', b'e', 0x00, 0x00, 0x00,
    // Origin-Realm (296), M, length 15, "example" + 1 padding byte
    0x00, 0x00, 0x01, 0x28, 0x40, 0x00, 0x00, 0x0f,
    b'e', b'x', b'a', b'm', b'p', b'l', b'e', 0x00,
    // Destination-Realm (283), M, length 15, "example" + 1 padding byte
    0x00, 0x00, 0x01, 0x1b, 0x40, 0x00, 0x00, 0x0f,
    b'e', b'x', b'a', b'm', b'p', b'l', b'e', 0x00,
    // User-Name (1), M, length 23, IMSI "001010123456789" + 1 padding byte
    0x00, 0x00, 0x00, 0x01, 0x40, 0x00, 0x00, 0x17,
    b'0', b'0', b'1', b'0', b'1', b'0', b'1', b'2', b'3', b'4', b'5', b'6', b'7', b'8', b'9', 0x00,
    // Visited-PLMN-Id (1407), V M, length 15 = 12 + 3, Vendor-ID 10415, MCC 001 MNC 01 + 1 padding byte
    0x00, 0x00, 0x05, 0x7f, 0xc0, 0x00, 0x00, 0x0f,
    0x00, 0x00, 0x28, 0xaf,
    0x00, 0xf1, 0x10, 0x00,
    // Requested-EUTRAN-Authentication-Info (1408), V M, Grouped, length 44 = 12 + 16 + 16, vendor 10415
    0x00, 0x00, 0x05, 0x80, 0xc0, 0x00, 0x00, 0x2c,
    0x00, 0x00, 0x28, 0xaf,
        // Number-Of-Requested-Vectors (1410), V M, length 16, vendor 10415, Unsigned32 1
        0x00, 0x00, 0x05, 0x82, 0xc0, 0x00, 0x00, 0x10,
        0x00, 0x00, 0x28, 0xaf,
        0x00, 0x00, 0x00, 0x01,
        // Immediate-Response-Preferred (1412), V M, length 16, vendor 10415, Unsigned32 0
        0x00, 0x00, 0x05, 0x84, 0xc0, 0x00, 0x00, 0x10,
        0x00, 0x00, 0x28, 0xaf,
        0x00, 0x00, 0x00, 0x00,
];

#[test]
fn air_with_3gpp_avps_encodes_and_decodes_byte_exactly() {
    assert_framed(AIR);
    let mut m = message(Message::request(Command::AIR), 1, 2);
    m.add(avp::SESSION_ID, "a.example;1;1");
    m.add(avp::AUTH_SESSION_STATE, 1u32);
    m.add(avp::ORIGIN_HOST, "a.example");
    m.add(avp::ORIGIN_REALM, "example");
    m.add(avp::DESTINATION_REALM, "example");
    m.add(avp::USER_NAME, "001010123456789");
    m.add(avp::VISITED_PLMN_ID, &[0x00u8, 0xf1, 0x10]);
    m.push(Avp::grouped(
        avp::REQUESTED_EUTRAN_AUTHENTICATION_INFO,
        vec![Avp::new(avp::NUMBER_OF_REQUESTED_VECTORS, 1u32), Avp::new(avp::IMMEDIATE_RESPONSE_PREFERRED, 0u32)],
    ));
    assert_eq!(m.encode(), AIR);

    let d = Message::decode(AIR).unwrap();
    assert_eq!((d.abbrev(), d.header.is_proxiable()), (Some("AIR"), true));
    assert_eq!(d.session_id(), Some("a.example;1;1"));
    assert_eq!(d.get(avp::AUTH_SESSION_STATE).unwrap().value, Value::Enumerated(1));
    assert_eq!(d.get_str(avp::USER_NAME), Some("001010123456789"));
    let plmn = d.get(avp::VISITED_PLMN_ID).unwrap();
    assert_eq!((plmn.code, plmn.flags, plmn.vendor_id), (1407, 0xc0, Some(10415)));
    assert_eq!(plmn.value, Value::OctetString(vec![0x00, 0xf1, 0x10]));
    let req = d.get(avp::REQUESTED_EUTRAN_AUTHENTICATION_INFO).unwrap();
    assert_eq!(req.vendor_id, Some(VENDOR_3GPP));
    assert_eq!(req.child(avp::NUMBER_OF_REQUESTED_VECTORS).and_then(Avp::as_u32), Some(1));
    assert_eq!(req.child(avp::IMMEDIATE_RESPONSE_PREFERRED).and_then(Avp::as_u32), Some(0));
    assert_eq!(d.encode(), AIR);

    // The zero-copy path finds the vendor AVP by (code, vendor) and not by code alone.
    let v = MessageView::parse(AIR).unwrap();
    assert_eq!(v.find(avp::VISITED_PLMN_ID).unwrap().data, &[0x00, 0xf1, 0x10]);
    assert!(v.find_code(avp::VISITED_PLMN_ID.code(), 0).is_none());
    assert_eq!(v.find(avp::USER_NAME).unwrap().data, b"001010123456789");
}

// ------------------------------------------------------------------------------------------------
// Answers: Result-Code and the E bit
// ------------------------------------------------------------------------------------------------

#[rustfmt::skip]
const DWA_3010: &[u8] = &[
    // Header
    0x01, 0x00, 0x00, 0x44, // Version 1, Message Length 68
    0x20, 0x00, 0x01, 0x18, // Flags E (protocol error, R clear), Command-Code 280
    0x00, 0x00, 0x00, 0x00, // Application-ID 0
    0x12, 0x34, 0x56, 0x78, // Hop-by-Hop Identifier (copied from the request)
    0x9a, 0xbc, 0xde, 0xf0, // End-to-End Identifier (copied from the request)
    // Origin-Host (264), M, length 19, "hss.example" + 1 padding byte
    0x00, 0x00, 0x01, 0x08, 0x40, 0x00, 0x00, 0x13,
    b'h', b's', b's', b'.', b'e', b'x', b'a', b'm', b'p', b'l', b'e', 0x00,
    // Origin-Realm (296), M, length 15, "example" + 1 padding byte
    0x00, 0x00, 0x01, 0x28, 0x40, 0x00, 0x00, 0x0f,
    b'e', b'x', b'a', b'm', b'p', b'l', b'e', 0x00,
    // Result-Code (268), M, length 12, 3010 (DIAMETER_UNKNOWN_PEER)
    0x00, 0x00, 0x01, 0x0c, 0x40, 0x00, 0x00, 0x0c,
    0x00, 0x00, 0x0b, 0xc2,
];

#[test]
fn protocol_error_answer_sets_the_e_bit() {
    assert_framed(DWA_3010);
    let request = Message::decode(DWR).unwrap();
    let mut a = Message::answer_to(&request.header, None);
    a.set_error(rc::UNKNOWN_PEER, "hss.example", "example", None, None);
    assert_eq!(a.encode(), DWA_3010);
    let d = Message::decode(DWA_3010).unwrap();
    assert_eq!((d.abbrev(), d.result_code(), d.header.is_error()), (Some("DWA"), Some(3010), true));
}

// ------------------------------------------------------------------------------------------------
// Base data formats (RFC 6733 §4.2, §4.3.1)
// ------------------------------------------------------------------------------------------------

/// Wraps AVP bytes in a header of an answer with no particular command.
fn wrap(avps: &[u8]) -> Vec<u8> {
    let mut b = vec![0x01, 0, 0, 0, 0x00, 0x00, 0x01, 0x18, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 9];
    b.extend_from_slice(avps);
    let n = (b.len() as u32).to_be_bytes();
    b[1..4].copy_from_slice(&n[1..]);
    b
}

/// Decodes one AVP from its bytes (inside a message) and checks that it encodes back to them.
fn one_avp(avp_bytes: &[u8]) -> Avp {
    let m = Message::decode(&wrap(avp_bytes)).unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(m.avps.len(), 1);
    let mut out = Vec::new();
    m.avps[0].encode(&mut out);
    assert_eq!(out, avp_bytes, "re-encoding {:?}", m.avps[0]);
    m.avps.into_iter().next().unwrap()
}

#[test]
fn address_families() {
    // IPv6: AddressType 2 and 16 bytes, length 26 + 2 padding bytes.
    #[rustfmt::skip]
    let v6 = [
        0x00, 0x00, 0x01, 0x01, 0x40, 0x00, 0x00, 0x1a, // Host-IP-Address, M, length 26
        0x00, 0x02,                                     // AddressType 2 (IPv6)
        0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, // 2001:db8::1
        0x00, 0x00,                                     // padding
    ];
    let ip6 = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1));
    assert_eq!(one_avp(&v6).value, Value::Address(Address::Ip(ip6)));
    let mut enc = Vec::new();
    Avp::new(avp::HOST_IP_ADDRESS, ip6).encode(&mut enc);
    assert_eq!(enc, v6);

    // IPv4: AddressType 1 and 4 bytes.
    #[rustfmt::skip]
    let v4 = [
        0x00, 0x00, 0x01, 0x01, 0x40, 0x00, 0x00, 0x0e, // Host-IP-Address, M, length 14
        0x00, 0x01, 10, 1, 2, 3,                        // AddressType 1, 10.1.2.3
        0x00, 0x00,                                     // padding
    ];
    assert_eq!(one_avp(&v4).value, Value::Address(Address::Ip(IpAddr::from([10, 1, 2, 3]))));

    // Another family (8, E.164) keeps its bytes.
    #[rustfmt::skip]
    let e164 = [
        0x00, 0x00, 0x01, 0x01, 0x40, 0x00, 0x00, 0x0f, // Host-IP-Address, M, length 15
        0x00, 0x08, b'3', b'1', b'6', b'1', b'2',       // AddressType 8, "31612"
        0x00,                                           // padding
    ];
    assert_eq!(one_avp(&e164).value, Value::Address(Address::Other { family: 8, bytes: b"31612".to_vec() }));

    // Family 1 with 16 bytes, family 2 with 4 bytes, or no family at all: DIAMETER_INVALID_AVP_LENGTH.
    #[rustfmt::skip]
    let bad: [&[u8]; 3] = [
        &[0x00, 0x00, 0x01, 0x01, 0x40, 0x00, 0x00, 0x1a, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        &[0x00, 0x00, 0x01, 0x01, 0x40, 0x00, 0x00, 0x0e, 0x00, 0x02, 1, 2, 3, 4, 0, 0],
        &[0x00, 0x00, 0x01, 0x01, 0x40, 0x00, 0x00, 0x09, 0x00, 0, 0, 0],
    ];
    for b in bad {
        let e = Message::decode(&wrap(b)).unwrap_err();
        assert_eq!(e.error.result_code(), rc::INVALID_AVP_LENGTH, "{b:02x?}");
        assert_eq!(e.error.failed_avp().map(|a| a.code), Some(257));
    }
}

#[test]
fn time_is_ntp_seconds_since_1900() {
    // Event-Timestamp (55), M, length 12.
    let avp = |t: [u8; 4]| [&[0x00, 0x00, 0x00, 0x37, 0x40, 0x00, 0x00, 0x0c][..], &t[..]].concat();
    // 1970-01-01T00:00:00Z is 2208988800 s after the NTP epoch (RFC 5905).
    assert_eq!(one_avp(&avp([0x83, 0xaa, 0x7e, 0x80])).value, Value::Time(2_208_988_800));
    // 2024-01-01T00:00:00Z = Unix 1704067200 + 2208988800.
    let t = one_avp(&avp([0xe9, 0x3c, 0x7f, 0x00]));
    assert_eq!(t.value, Value::Time(3_913_056_000));
    assert_eq!(t.as_u32(), Some(1_704_067_200 + 2_208_988_800));
    let mut enc = Vec::new();
    Avp::new(avp::EVENT_TIMESTAMP, 3_913_056_000u32).encode(&mut enc);
    assert_eq!(enc, avp([0xe9, 0x3c, 0x7f, 0x00]));
}

#[test]
fn integers_are_big_endian_twos_complement() {
    // Unsigned64: OC-Sequence-Number (624), no flags (M "may"), length 16.
    let u64_avp = [0x00, 0x00, 0x02, 0x70, 0x00, 0x00, 0x00, 0x10, 1, 2, 3, 4, 5, 6, 7, 8];
    assert_eq!(one_avp(&u64_avp).value, Value::Unsigned64(0x0102_0304_0506_0708));
    let mut enc = Vec::new();
    Avp::new(avp::OC_SEQUENCE_NUMBER, 0x0102_0304_0506_0708u64).encode(&mut enc);
    assert_eq!(enc, u64_avp);

    // Enumerated -1 (any 32-bit value is accepted on the wire).
    let enum_avp = [0x00, 0x00, 0x01, 0x15, 0x40, 0x00, 0x00, 0x0c, 0xff, 0xff, 0xff, 0xff];
    assert_eq!(one_avp(&enum_avp).value, Value::Enumerated(-1));

    // Integer32 and Integer64 through AVPs the dictionary does not know: the encoder writes two's
    // complement big-endian, the decoder hands the same bytes back as an OctetString.
    let cases: [(Value, &[u8]); 5] = [
        (Value::Integer32(-2), &[0xff, 0xff, 0xff, 0xfe]),
        (Value::Integer64(-1), &[0xff; 8]),
        (Value::Integer64(-2), &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe]),
        (Value::Integer64(i64::MIN), &[0x80, 0, 0, 0, 0, 0, 0, 0]),
        (Value::Integer64(0x0102_0304_0506_0708), &[1, 2, 3, 4, 5, 6, 7, 8]),
    ];
    for (value, data) in cases {
        let bytes = unknown_avp_bytes(data);
        let mut enc = Vec::new();
        Avp { code: 0xfff0, flags: 0, vendor_id: Some(99), value: value.clone() }.encode(&mut enc);
        assert_eq!(enc, bytes, "{value:?}");
        assert_eq!(one_avp(&bytes).value, Value::OctetString(data.to_vec()));
    }
    assert_eq!(i64::from_be_bytes([0x80, 0, 0, 0, 0, 0, 0, 0]), i64::MIN);
}

/// An unknown vendor AVP (code 0xfff0, vendor 99, no M) carrying `data`.
fn unknown_avp_bytes(data: &[u8]) -> Vec<u8> {
    let len = 12 + data.len();
    let mut b = vec![0x00, 0x00, 0xff, 0xf0, 0x80, 0x00, 0x00, len as u8, 0x00, 0x00, 0x00, 0x63];
    b.extend_from_slice(data);
    b.resize(b.len().next_multiple_of(4), 0);
    b
}

#[test]
fn floats_are_ieee_754_big_endian() {
    // Float32/Float64 (RFC 6733 §4.2): IEEE 754 binary32/binary64 in network byte order. No AVP of
    // the dictionary has these types, so they are checked through unknown AVPs: the bits the encoder
    // writes, and the same bytes back from the decoder.
    let cases: [(Value, &[u8]); 7] = [
        (Value::Float32(1.5), &[0x3f, 0xc0, 0x00, 0x00]),
        (Value::Float32(-0.0), &[0x80, 0x00, 0x00, 0x00]),
        (Value::Float32(f32::INFINITY), &[0x7f, 0x80, 0x00, 0x00]),
        (Value::Float32(f32::from_bits(0x7fc0_0001)), &[0x7f, 0xc0, 0x00, 0x01]), // NaN payload kept
        (Value::Float64(1.0), &[0x3f, 0xf0, 0, 0, 0, 0, 0, 0]),
        (Value::Float64(-2.5), &[0xc0, 0x04, 0, 0, 0, 0, 0, 0]),
        (Value::Float64(f64::MIN_POSITIVE), &[0x00, 0x10, 0, 0, 0, 0, 0, 0]),
    ];
    for (value, data) in cases {
        let bytes = unknown_avp_bytes(data);
        let mut enc = Vec::new();
        Avp { code: 0xfff0, flags: 0, vendor_id: Some(99), value: value.clone() }.encode(&mut enc);
        assert_eq!(enc, bytes, "{value:?}");
        let decoded = one_avp(&bytes);
        assert_eq!(decoded.as_bytes(), Some(data));
        match value {
            Value::Float32(f) => assert_eq!(f32::from_be_bytes(data.try_into().unwrap()).to_bits(), f.to_bits()),
            Value::Float64(f) => assert_eq!(f64::from_be_bytes(data.try_into().unwrap()).to_bits(), f.to_bits()),
            _ => unreachable!(),
        }
    }
}

#[test]
fn avp_lengths_and_flags_are_checked() {
    // AVP Length 7 (below the 8-byte header): DIAMETER_INVALID_AVP_LENGTH.
    let short = [0x00, 0x00, 0x01, 0x08, 0x40, 0x00, 0x00, 0x07, 0, 0, 0, 0];
    assert_eq!(Message::decode(&wrap(&short)).unwrap_err().error.result_code(), rc::INVALID_AVP_LENGTH);
    // V set but AVP Length 8 (below the 12-byte vendor header).
    let short_v = [0x00, 0x00, 0x05, 0x7f, 0xc0, 0x00, 0x00, 0x08, 0, 0, 0x28, 0xaf];
    assert_eq!(Message::decode(&wrap(&short_v)).unwrap_err().error.result_code(), rc::INVALID_AVP_LENGTH);
    // Unsigned32 with 3 bytes of data.
    let u32_3 = [0x00, 0x00, 0x01, 0x0c, 0x40, 0x00, 0x00, 0x0b, 0, 0, 1, 0];
    assert_eq!(Message::decode(&wrap(&u32_3)).unwrap_err().error.result_code(), rc::INVALID_AVP_LENGTH);
    // A reserved flag bit (0x01): DIAMETER_INVALID_AVP_BITS.
    let reserved = [0x00, 0x00, 0x01, 0x0c, 0x41, 0x00, 0x00, 0x0c, 0, 0, 0x07, 0xd1];
    assert_eq!(Message::decode(&wrap(&reserved)).unwrap_err().error.result_code(), rc::INVALID_AVP_BITS);
    // The P bit is kept as received and sent back.
    let p = [0x00, 0x00, 0x01, 0x0c, 0x60, 0x00, 0x00, 0x0c, 0, 0, 0x07, 0xd1];
    let a = one_avp(&p);
    assert_eq!((a.flags, a.as_u32()), (0x60, Some(2001)));
    // Invalid UTF-8 in a UTF8String (Product-Name): DIAMETER_INVALID_AVP_VALUE.
    let utf8 = [0x00, 0x00, 0x01, 0x0d, 0x00, 0x00, 0x00, 0x0a, 0xc3, 0x28, 0, 0];
    assert_eq!(Message::decode(&wrap(&utf8)).unwrap_err().error.result_code(), rc::INVALID_AVP_VALUE);
}

#[test]
fn header_fields_are_checked() {
    let mut b = DWR.to_vec();
    b[0] = 2;
    assert_eq!(Message::decode(&b).unwrap_err().error.result_code(), rc::UNSUPPORTED_VERSION);
    let mut b = DWR.to_vec();
    b[4] |= 0x01; // reserved command flag
    assert_eq!(Message::decode(&b).unwrap_err().error.result_code(), rc::INVALID_HDR_BITS);
    let mut b = DWR.to_vec();
    b[4] |= 0x20; // E on a request
    assert_eq!(Message::decode(&b).unwrap_err().error.result_code(), rc::INVALID_HDR_BITS);
    // Message Length disagreeing with the bytes.
    assert_eq!(Message::decode(&DWR[..52]).unwrap_err().error.result_code(), rc::INVALID_MESSAGE_LENGTH);
    // The T bit is carried through.
    let mut b = DWR.to_vec();
    b[4] |= 0x10;
    let d = Message::decode(&b).unwrap();
    assert!(d.header.is_retransmit());
    assert_eq!(d.encode(), b);
}
