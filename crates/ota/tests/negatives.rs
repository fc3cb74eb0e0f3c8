//! Refusals: wrong CC/RC, wrong key set, bad padding, truncated and inconsistent packets, counters
//! that are not higher, DS and unsupported algorithms; and parsing arbitrary bytes never panics.

use ota::sms::{parse_deliver, reassemble};
use ota::{
    build_command, build_response, parse_response, parse_script, CommandHeader, CommandPacket, Counter, CounterError,
    CounterMode, CounterPolicy, Field, KeySet, OtaError, RemoteResponse, ResponseStatus, ScriptFormat, Spi,
};
use proptest::prelude::*;

const APDU: [u8; 7] = [0x00, 0xA4, 0x00, 0x04, 0x02, 0x3F, 0x00];

fn aes() -> KeySet {
    KeySet::new(0x22, 0x22, &[0x20; 16], &[0x21; 16]).unwrap()
}

fn header(spi: [u8; 2], cntr: u64) -> CommandHeader {
    CommandHeader { spi: Spi::from_bytes(spi).unwrap(), tar: [0xB0, 0x00, 0x11], cntr: Counter::new(cntr).unwrap() }
}

fn open(packet: &[u8], keys: &KeySet) -> Result<ota::OpenedCommand, OtaError> {
    CommandPacket::parse(packet)?.open(keys)
}

#[test]
fn a_flipped_bit_anywhere_after_the_header_fails_the_cc() {
    for spi in [[0x06, 0x19], [0x02, 0x19]] {
        let packet = build_command(&header(spi, 1), &aes(), &APDU).unwrap();
        for i in 10..packet.len() {
            let mut bad = packet.clone();
            bad[i] ^= 0x01;
            let e = open(&bad, &aes()).unwrap_err();
            assert!(
                matches!(e, OtaError::Checksum { kind: "CC", .. } | OtaError::Padding { .. }),
                "spi {spi:02x?} byte {i}: {e}"
            );
            assert!(matches!(e.por_status(), ResponseStatus::RcCcDsFailed | ResponseStatus::CipheringError));
        }
        // The clear header is covered by the CC too (a TAR change fails, not just decryption).
        let mut bad = packet.clone();
        bad[9] ^= 0x01;
        assert!(matches!(open(&bad, &aes()).unwrap_err(), OtaError::Checksum { .. }));
    }
}

#[test]
fn a_wrong_rc_is_refused() {
    let keys = KeySet::new(0x22, 0x15, &[0x20; 16], &[]).unwrap();
    let mut packet = build_command(&header([0x01, 0x00], 1), &keys, &APDU).unwrap();
    assert!(open(&packet, &keys).is_ok());
    let last = packet.len() - 1;
    packet[last] ^= 0x80;
    assert!(matches!(open(&packet, &keys).unwrap_err(), OtaError::Checksum { kind: "RC", .. }));
}

#[test]
fn wrong_keys_and_wrong_key_sets_are_refused() {
    let packet = build_command(&header([0x06, 0x19], 1), &aes(), &APDU).unwrap();
    let other_mac = KeySet::new(0x22, 0x22, &[0x20; 16], &[0x22; 16]).unwrap();
    assert!(matches!(open(&packet, &other_mac).unwrap_err(), OtaError::Checksum { .. }));
    let other_enc = KeySet::new(0x22, 0x22, &[0x19; 16], &[0x21; 16]).unwrap();
    assert!(matches!(open(&packet, &other_enc).unwrap_err(), OtaError::Checksum { .. } | OtaError::Padding { .. }));
    let other_index = KeySet::new(0x32, 0x22, &[0x20; 16], &[0x21; 16]).unwrap();
    assert_eq!(open(&packet, &other_index).unwrap_err().field(), Field::Kic);
}

/// A ciphered packet without RC/CC crafted by hand: AES-128-CBC with a zero IV over
/// `CNTR PCNTR data`, so that PCNTR and the padding octets can be anything.
fn crafted(pcntr: u8, tail: &[u8]) -> Vec<u8> {
    use cipher::{BlockModeEncrypt, KeyIvInit};
    let mut body = [&[0, 0, 0, 0, 1, pcntr][..], &APDU, &[0x11; 16], tail].concat();
    assert_eq!(body.len() % 16, 0);
    let mut enc = cbc::Encryptor::<aes::Aes128>::new_from_slices(&[0x20; 16], &[0; 16]).unwrap();
    for chunk in body.chunks_exact_mut(16) {
        let mut b = cipher::Block::<aes::Aes128>::try_from(&chunk[..]).unwrap();
        enc.encrypt_block(&mut b);
        chunk.copy_from_slice(&b);
    }
    let mut p = vec![0, 0, 13, 0x04, 0x00, 0x22, 0x22, 0xB0, 0x00, 0x11];
    p.extend_from_slice(&body);
    let cpl = (p.len() - 2) as u16;
    p[..2].copy_from_slice(&cpl.to_be_bytes());
    p
}

#[test]
fn bad_padding_is_refused() {
    assert_eq!(open(&crafted(3, &[0, 0, 0]), &aes()).unwrap().data, [&APDU[..], &[0x11; 16]].concat());
    let e = open(&crafted(3, &[0, 0, 1]), &aes()).unwrap_err();
    assert!(matches!(e, OtaError::Padding { .. }) && e.to_string().contains("not zeros"), "{e}");
    assert_eq!(e.por_status(), ResponseStatus::CipheringError);
    let e = open(&crafted(16, &[0, 0, 0]), &aes()).unwrap_err();
    assert!(e.to_string().contains("PCNTR 16 exceeds"), "{e}");
    // Unciphered packets have no padding: any PCNTR is refused.
    let plain = KeySet::new(0x22, 0x22, &[], &[]).unwrap();
    let mut p = build_command(&header([0x00, 0x00], 1), &plain, &APDU).unwrap();
    assert_eq!(open(&p, &plain).unwrap().pcntr, 0);
    p[15] = 1;
    assert!(matches!(open(&p, &plain).unwrap_err(), OtaError::Padding { .. }));
}

#[test]
fn truncated_and_inconsistent_packets_are_refused() {
    let packet = build_command(&header([0x06, 0x19], 1), &aes(), &APDU).unwrap();
    for n in 0..packet.len() {
        let e = open(&packet[..n], &aes()).unwrap_err();
        assert!(matches!(e, OtaError::Truncated { .. } | OtaError::Malformed { .. }), "{n}: {e}");
    }
    let mut cpl_fixed = packet[..packet.len() - 16].to_vec();
    let cpl = (cpl_fixed.len() - 2) as u16;
    cpl_fixed[..2].copy_from_slice(&cpl.to_be_bytes());
    assert!(matches!(open(&cpl_fixed, &aes()).unwrap_err(), OtaError::Checksum { .. }));
    let mut not_blocks = packet.clone();
    not_blocks.push(0);
    not_blocks[1] += 1;
    assert!(matches!(open(&not_blocks, &aes()).unwrap_err(), OtaError::Padding { .. }));
    let mut chl = packet.clone();
    chl[2] = 17;
    assert!(open(&chl, &aes()).unwrap_err().to_string().contains("CHL 17"));
}

#[test]
fn counters_that_are_not_higher_are_refused_with_their_por_status() {
    let keys = aes();
    let policy = CounterPolicy::new(CounterMode::MustBeHigher);
    let stored = Counter::new(10).unwrap();
    for (cntr, want) in [(10, Some(ResponseStatus::CntrLow)), (3, Some(ResponseStatus::CntrLow)), (11, None)] {
        let packet = build_command(&header([0x16, 0x19], cntr), &keys, &APDU).unwrap();
        let opened = open(&packet, &keys).unwrap();
        assert_eq!(opened.spi.counter, CounterMode::MustBeHigher);
        let r = policy.accept(stored, opened.cntr);
        assert_eq!(r.as_ref().err().map(CounterError::por_status), want, "{cntr}");
        if let Err(e) = r {
            assert_eq!(OtaError::from(e).por_status(), want.unwrap());
        }
    }
}

#[test]
fn ds_and_unsupported_algorithms_are_parameter_errors() {
    let e = build_command(&header([0x03, 0x00], 1), &aes(), &APDU).unwrap_err();
    assert!(e.is_parameter_error() && e.to_string().contains("digital signature"), "{e}");
    let e = build_command(&header([0x06, 0x00], 1), &KeySet::new(0x23, 0x22, &[0; 16], &[0; 16]).unwrap(), &APDU)
        .unwrap_err();
    assert_eq!((e.field(), e.is_parameter_error()), (Field::Kic, true), "{e}");
    let e = build_command(&header([0x06, 0x00], 1), &KeySet::new(0x35, 0x35, &[0; 24], &[0; 16]).unwrap(), &APDU)
        .unwrap_err();
    assert_eq!(e.to_string(), "enc-key: 3DES with 2 keys takes a key of 16 bytes, got 24 bytes");
}

#[test]
fn unprotected_error_pors_are_reported_as_such_and_unprotected_ok_pors_refused() {
    let spi = Spi::from_bytes([0x06, 0x19]).unwrap();
    let clear = Spi::from_bytes([0x06, 0x01]).unwrap();
    let tar = [0xB0, 0x00, 0x11];
    let cntr = Counter::new(5).unwrap();
    let tar_unknown = build_response(&clear, &aes(), tar, cntr, ResponseStatus::TarUnknown, &[]).unwrap();
    let r = parse_response(&tar_unknown, &spi, &aes()).unwrap();
    assert_eq!((r.status, r.protected), (ResponseStatus::TarUnknown, false));
    let forged_ok = build_response(&clear, &aes(), tar, cntr, ResponseStatus::PorOk, &[1, 0x90, 0]).unwrap();
    assert!(parse_response(&forged_ok, &spi, &aes()).is_err());
    let good = build_response(&spi, &aes(), tar, cntr, ResponseStatus::PorOk, &[1, 0x90, 0]).unwrap();
    let r = parse_response(&good, &spi, &aes()).unwrap();
    assert!(r.answers(tar, cntr).is_ok());
    assert!(matches!(r.answers(tar, Counter::new(4).unwrap()), Err(CounterError::Mismatch { .. })));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn parsing_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300), spi in any::<[u8; 2]>()) {
        let keys = aes();
        let des = KeySet::new(0x35, 0x15, &[1; 16], &[]).unwrap();
        if let Ok(p) = CommandPacket::parse(&bytes) {
            let _ = p.open(&keys);
            let _ = p.open(&des);
        }
        if let Ok(spi) = Spi::from_bytes(spi) {
            let _ = parse_response(&bytes, &spi, &keys);
            let _ = parse_response(&bytes, &spi, &des);
        }
        let _ = parse_script(&bytes);
        let _ = RemoteResponse::parse(&bytes, ScriptFormat::Compact);
        let _ = RemoteResponse::parse(&bytes, ScriptFormat::Expanded);
        let _ = parse_deliver(&bytes);
        let _ = reassemble(&[&bytes]);
        let _ = reassemble(&[&bytes, &bytes]);
        let _ = ota::plmn::decode_list(&bytes);
    }

    #[test]
    fn build_then_open_round_trips(
        data in proptest::collection::vec(any::<u8>(), 0..400),
        counter_mode in 0u8..4,
        ciphered in any::<bool>(),
        cc in any::<bool>(),
        cntr in 0u64..=Counter::MAX,
    ) {
        let spi1 = counter_mode << 3 | u8::from(ciphered) << 2 | if cc { 2 } else { 0 };
        let h = CommandHeader { spi: Spi::from_bytes([spi1, 0x19]).unwrap(), tar: [1, 2, 3], cntr: Counter::new(cntr).unwrap() };
        let packet = build_command(&h, &aes(), &data).unwrap();
        let opened = open(&packet, &aes()).unwrap();
        prop_assert_eq!(opened.data, data);
        prop_assert_eq!(opened.cntr, h.cntr);
    }
}
