//! The SIM-side simulator of `testkit::uicc` (built on the card-side API only), driven by the server
//! side: steering of roaming end to end (EF_OPLMNwAcT rewritten so a PLMN goes to the
//! end), concatenated SMS, and refusals with the right PoR status and no change to the files:
//! replays, counter rollback, wrong keys, unknown TAR, insufficient security level.

use std::collections::BTreeMap;

use testkit::uicc::Card;

use ota::plmn::{act, decode_list, demote, encode_list, rewrite_commands, Plmn, PlmnEntry, PlmnFile};
use ota::rfm::tar::USIM_RFM;
use ota::sms::user_data_segments;
use ota::{
    build_command, build_script, parse_response, Apdu, CommandHeader, Counter, KeySet, PendingPors, RemoteResponse,
    ResponseStatus, ScriptFormat, Spi,
};

fn keys() -> KeySet {
    KeySet::new(0x22, 0x22, &[0x20; 16], &[0x21; 16]).unwrap()
}

fn entry(p: &str) -> PlmnEntry {
    PlmnEntry { plmn: Some(Plmn::parse(p).unwrap()), act: act::E_UTRAN | act::UTRAN | act::GSM }
}

fn card() -> Card {
    let oplmn = vec![entry("26201"), entry("26202"), entry("23415"), PlmnEntry::UNUSED, PlmnEntry::UNUSED];
    Card {
        keys: keys(),
        tars: vec![USIM_RFM],
        counter: Counter::new(5).unwrap(),
        files: BTreeMap::from([(0x6F61, encode_list(&oplmn)), (0x6F60, vec![0xFF; 200])]),
    }
}

const SPI: [u8; 2] = [0x16, 0x19]; // counter must be higher, ciphered, CC; PoR ciphered with CC

fn send(
    card: &mut Card,
    keys: &KeySet,
    tar: [u8; 3],
    spi: [u8; 2],
    cntr: u64,
    apdus: &[Apdu],
) -> (Vec<Vec<u8>>, ota::ResponsePacket) {
    let spi = Spi::from_bytes(spi).unwrap();
    let header = CommandHeader { spi, tar, cntr: Counter::new(cntr).unwrap() };
    let packet = build_command(&header, keys, &build_script(ScriptFormat::Compact, apdus)).unwrap();
    let segments = user_data_segments(&packet, cntr as u8).unwrap();
    let por = card.receive(&segments);
    (segments, parse_response(&por, &spi, keys).unwrap())
}

#[test]
fn steering_rewrite_reaches_the_card_and_its_por_is_matched_once() {
    let mut card = card();
    let risky = Plmn::parse("26201").unwrap();
    let current = decode_list(&card.files[&0x6F61]).unwrap();
    let new = demote(&current, risky).expect("the PLMN is listed");
    let apdus = rewrite_commands(PlmnFile::Operator, &new).unwrap();
    let mut pending = PendingPors::default();
    let cntr = ota::next_counter(Some(card.counter)).unwrap();
    pending.sent(USIM_RFM, cntr).unwrap();
    let (_, por) = send(&mut card, &keys(), USIM_RFM, SPI, cntr.value(), &apdus);
    assert_eq!((por.status, por.protected), (ResponseStatus::PorOk, true));
    let RemoteResponse::Compact { commands, sw, .. } = RemoteResponse::parse(&por.data, ScriptFormat::Compact).unwrap()
    else {
        unreachable!()
    };
    assert_eq!((commands, sw), (2, [0x90, 0x00]));
    let on_card = decode_list(&card.files[&0x6F61]).unwrap();
    assert_eq!(on_card, vec![entry("26202"), entry("23415"), entry("26201"), PlmnEntry::UNUSED, PlmnEntry::UNUSED]);
    assert_eq!(pending.answer(por.tar, por.cntr), Ok(ota::PorOrder::InOrder));
    assert!(pending.answer(por.tar, por.cntr).is_err(), "a replayed PoR is detected");
}

#[test]
fn a_long_update_arrives_concatenated_and_is_applied() {
    let mut card = card();
    let content: Vec<u8> = (0..200u8).collect();
    let mut apdus = ota::rfm::select_path(ota::rfm::CardClass::Uicc, &[0x3F00, 0x7FFF, 0x6F60]).unwrap();
    apdus.extend(ota::rfm::update_binary(ota::rfm::CardClass::Uicc, 0, &content, 200).unwrap());
    let (segments, por) = send(&mut card, &keys(), USIM_RFM, SPI, 6, &apdus);
    assert!(segments.len() > 1);
    assert_eq!(por.status, ResponseStatus::PorOk);
    assert_eq!(card.files[&0x6F60], content);
}

#[test]
fn replays_rollbacks_wrong_keys_wrong_tar_and_weak_security_are_refused_without_change() {
    let mut card = card();
    let before = card.files.clone();
    let write = ota::rfm::update_binary(ota::rfm::CardClass::Uicc, 0, &[0x00; 5], 100).unwrap();
    let apdus: Vec<Apdu> = ota::rfm::select_path(ota::rfm::CardClass::Uicc, &[0x3F00, 0x7FFF, 0x6F61])
        .unwrap()
        .into_iter()
        .chain(write)
        .collect();

    // Counter rollback (5 is the card's; 3 is lower) and a replay of the card's own value.
    for cntr in [3, 5] {
        let (_, por) = send(&mut card, &keys(), USIM_RFM, SPI, cntr, &apdus);
        assert_eq!(por.status, ResponseStatus::CntrLow, "{cntr}");
        assert_eq!(por.cntr.value(), cntr);
    }
    // Exactly-one-higher mode: 7 skips 6.
    let (_, por) = send(&mut card, &keys(), USIM_RFM, [0x1E, 0x19], 7, &apdus);
    assert_eq!(por.status, ResponseStatus::CntrHigh);
    // Wrong CC key: the card answers in clear, the server sees it unprotected.
    let wrong = KeySet::new(0x22, 0x22, &[0x20; 16], &[0x99; 16]).unwrap();
    let (_, por) = send(&mut card, &wrong, USIM_RFM, SPI, 9, &apdus);
    assert_eq!((por.status, por.protected), (ResponseStatus::RcCcDsFailed, false));
    // Unknown TAR.
    let (_, por) = send(&mut card, &keys(), [0xB0, 0x00, 0x99], SPI, 9, &apdus);
    assert_eq!(por.status, ResponseStatus::TarUnknown);
    // No ciphering: below the card's minimum security level.
    let (_, por) = send(&mut card, &keys(), USIM_RFM, [0x12, 0x19], 9, &apdus);
    assert_eq!(por.status, ResponseStatus::InsufficientSecurityLevel);
    assert_eq!(card.files, before, "no refused command changed a file");
    assert_eq!(card.counter.value(), 5);

    // The same command with a fresh counter goes through, and replaying its SMS is refused.
    let spi = Spi::from_bytes(SPI).unwrap();
    let packet = build_command(
        &CommandHeader { spi, tar: USIM_RFM, cntr: Counter::new(6).unwrap() },
        &keys(),
        &build_script(ScriptFormat::Compact, &apdus),
    )
    .unwrap();
    let segments = user_data_segments(&packet, 6).unwrap();
    assert_eq!(parse_response(&card.receive(&segments), &spi, &keys()).unwrap().status, ResponseStatus::PorOk);
    assert_ne!(card.files, before);
    let after = card.files.clone();
    assert_eq!(parse_response(&card.receive(&segments), &spi, &keys()).unwrap().status, ResponseStatus::CntrLow);
    assert_eq!(card.files, after);
}
