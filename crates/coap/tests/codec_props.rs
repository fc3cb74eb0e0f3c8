//! Property tests: arbitrary messages round trip (structure and bytes), random and mutated bytes never
//! panic and re-encode byte-identically whenever they decode, every truncation of a message with
//! options is handled, and block reassembly never panics on arbitrary block sequences.

use coap::block::{Block, BlockAssembler, Progress};
use coap::message::DecodeErrorKind;
use coap::option::check_request_options;
use coap::{CoapOption, Code, Message, MessageType, OptionNumber};
use proptest::prelude::*;

fn mtype() -> impl Strategy<Value = MessageType> {
    prop_oneof![Just(MessageType::Con), Just(MessageType::Non), Just(MessageType::Ack), Just(MessageType::Rst)]
}

fn option() -> impl Strategy<Value = CoapOption> {
    let number = prop_oneof![0u16..30, 250u16..300, any::<u16>()];
    let len = prop_oneof![0usize..13, 13usize..270, 269usize..600];
    (number, len, any::<u8>()).prop_map(|(n, l, b)| CoapOption {
        number: OptionNumber(n),
        value: (0..l).map(|i| b.wrapping_add(i as u8)).collect(),
    })
}

fn message() -> impl Strategy<Value = Message> {
    (
        mtype(),
        1u8..=255,
        any::<u16>(),
        prop::collection::vec(any::<u8>(), 0..=8),
        prop::collection::vec(option(), 0..6),
        prop::collection::vec(any::<u8>(), 0..64),
    )
        .prop_map(|(mtype, code, message_id, token, mut options, payload)| {
            options.sort_by_key(|o| o.number);
            Message { mtype, code: Code(code), message_id, token, options, payload }
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn messages_round_trip(m in message()) {
        let bytes = m.encode();
        let back = Message::decode(&bytes).expect("an encoded message decodes");
        prop_assert_eq!(&back, &m);
        prop_assert_eq!(back.encode(), bytes);
    }

    #[test]
    fn random_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..200)) {
        if let Ok(m) = Message::decode(&data) {
            prop_assert_eq!(m.encode(), data);
            let _ = check_request_options(&m.options, &[OptionNumber::URI_PATH]);
            let _ = (m.uri_path(), m.uri_queries(), m.content_format(), m.uint(OptionNumber::OBSERVE));
            if let Some(o) = m.option(OptionNumber::BLOCK1) {
                let _ = Block::decode(&o.value);
            }
        }
    }

    #[test]
    fn mutated_messages_never_panic(m in message(), at in any::<prop::sample::Index>(), byte in any::<u8>(), cut in any::<prop::sample::Index>()) {
        let mut bytes = m.encode();
        let i = at.index(bytes.len());
        bytes[i] = byte;
        if let Ok(d) = Message::decode(&bytes) {
            prop_assert_eq!(d.encode(), bytes.clone());
        }
        let n = cut.index(bytes.len() + 1);
        let _ = Message::decode(&bytes[..n]);
    }

    #[test]
    fn block_values_round_trip(num in 0u32..(1 << 20), more in any::<bool>(), szx in 0u8..7) {
        let b = Block { num, more, szx };
        prop_assert_eq!(Block::decode(&b.encode()), Ok(b));
    }

    #[test]
    fn reassembly_never_panics_and_stays_bounded(
        blocks in prop::collection::vec((0u32..8, any::<bool>(), 0u8..3, 0usize..80), 0..12),
        max in 0usize..200,
    ) {
        let mut a = BlockAssembler::new(max);
        for (num, more, szx, len) in blocks {
            match a.push(Block { num, more, szx }, &vec![0; len]) {
                Ok(Progress::Complete(body)) => { prop_assert!(body.len() <= max); a = BlockAssembler::new(max); }
                Ok(Progress::Continue) => prop_assert!(a.received() <= max),
                Err(_) => a = BlockAssembler::new(max),
            }
        }
    }
}

#[test]
fn token_length_nine_is_a_format_error_with_the_header_kept() {
    // CON GET, TKL 9, message id 0x1234.
    let mut d = vec![0x49, 0x01, 0x12, 0x34];
    d.extend_from_slice(&[0; 9]);
    let e = Message::decode(&d).unwrap_err();
    assert_eq!(e.kind, DecodeErrorKind::TokenLength(9));
    assert_eq!(e.header.map(|h| (h.mtype, h.message_id)), Some((MessageType::Con, 0x1234)));
}

#[test]
fn reserved_option_nibble_15_and_empty_payload_refused() {
    // Option byte 0xF1: delta nibble 15 (reserved, not the payload marker).
    let e = Message::decode(&[0x40, 0x01, 0, 1, 0xf1, 0x00]).unwrap_err();
    assert_eq!(e.kind, DecodeErrorKind::ReservedNibble(4));
    // Length nibble 15.
    let e = Message::decode(&[0x40, 0x01, 0, 1, 0x1f]).unwrap_err();
    assert_eq!(e.kind, DecodeErrorKind::ReservedNibble(4));
    let e = Message::decode(&[0x40, 0x01, 0, 1, 0xff]).unwrap_err();
    assert_eq!(e.kind, DecodeErrorKind::EmptyPayload);
    // An Empty message with a token.
    let e = Message::decode(&[0x41, 0x00, 0, 1, 7]).unwrap_err();
    assert_eq!(e.kind, DecodeErrorKind::EmptyNotEmpty);
    assert!(matches!(Message::decode(&[0x80, 1, 0, 0]).unwrap_err().kind, DecodeErrorKind::Version(2)));
}

#[test]
fn extended_deltas_and_lengths_of_rfc_7252_section_3_1() {
    // Uri-Path (11) then Uri-Query (15) with a 20-byte value (length 13 + 7), then Size1 (60, delta
    // 45 = 13 + 32), and an option at 1000 (delta 940 = 269 + 671, two-byte extension).
    let mut m = Message::new(MessageType::Con, Code::POST, 0xbeef, vec![1, 2, 3]);
    m.push_option(OptionNumber::URI_PATH, *b"rd");
    m.push_option(OptionNumber::URI_QUERY, vec![b'q'; 20]);
    m.push_uint(OptionNumber::SIZE1, 300);
    m.push_option(OptionNumber(1000), vec![]);
    m.payload = b"</1/0>".to_vec();
    let bytes = m.encode();
    assert_eq!(&bytes[..7], &[0x43, 0x02, 0xbe, 0xef, 1, 2, 3]);
    assert_eq!(&bytes[7..10], &[0xb2, b'r', b'd']);
    assert_eq!(&bytes[10..12], &[0x4d, 7]);
    let size1 = 12 + 20;
    assert_eq!(&bytes[size1..size1 + 4], &[0xd2, 32, 0x01, 0x2c]);
    assert_eq!(&bytes[size1 + 4..size1 + 7], &[0xe0, 0x02, 0x9f]);
    assert_eq!(Message::decode(&bytes).unwrap(), m);
}
