//! Property tests: the TPDU and SGd parsers never panic on any input, and what is built parses back.

use diameter::{avp, Avp, Command, Message};
use proptest::prelude::*;
use sms::sgd::{mo_request, tbcd};
use sms::tpdu::{DeliverReport, Field, SmsSubmit, TpAddress, ValidityPeriod};

fn ofr(tpdu: &[u8]) -> Message {
    let mut m = Message::request(Command::OFR);
    m.add(avp::SESSION_ID, "mme;1;1");
    m.add(avp::AUTH_SESSION_STATE, 1u32);
    m.add(avp::ORIGIN_HOST, "mme");
    m.add(avp::ORIGIN_REALM, "r");
    m.add(avp::DESTINATION_REALM, "h");
    m.add(avp::SC_ADDRESS, tbcd("4910"));
    m.add(avp::USER_IDENTIFIER, vec![Avp::new(avp::USER_NAME, "001010000000001")]);
    m.add(avp::SM_RP_UI, tpdu);
    m
}

fn validity() -> impl Strategy<Value = ValidityPeriod> {
    prop_oneof![
        Just(ValidityPeriod::None),
        any::<u8>().prop_map(ValidityPeriod::Relative),
        (0u8..4, any::<[u8; 6]>()).prop_map(|(f, r)| {
            let mut v = [f; 7];
            v[1..].copy_from_slice(&r);
            ValidityPeriod::Enhanced(v)
        }),
        any::<[u8; 7]>().prop_map(ValidityPeriod::Absolute),
    ]
}

proptest! {
    #[test]
    fn random_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..200), error in any::<bool>()) {
        let _ = SmsSubmit::parse(&b);
        let _ = DeliverReport::parse(&b, error);
        let _ = TpAddress::decode(&b, Field::DestinationAddress);
        let _ = sms::tpdu::user_data_header(&b);
        let _ = mo_request(&ofr(&b), "mme");
        let _ = sms::sgd::tbcd_digits(&b);
    }

    #[test]
    fn submits_round_trip(
        flags in any::<(bool, bool, bool)>(),
        mr in any::<u8>(),
        digits in "[0-9]{1,15}",
        international in any::<bool>(),
        pid in 0u8..0x80,
        ud in proptest::collection::vec(any::<u8>(), 0..140),
        validity in validity(),
    ) {
        let dest = if international { format!("+{digits}") } else { digits.clone() };
        let s = SmsSubmit {
            reject_duplicates: flags.0,
            status_report_request: flags.1,
            reply_path: flags.2,
            udhi: false,
            message_reference: mr,
            destination: TpAddress::parse(&dest, Field::DestinationAddress).unwrap(),
            pid,
            dcs: 0x04,
            validity,
            udl: ud.len() as u8,
            user_data: ud,
        };
        let wire = s.encode();
        prop_assert_eq!(SmsSubmit::parse(&wire).unwrap(), s.clone());
        let m = mo_request(&Message::decode(&ofr(&wire).encode()).unwrap(), "mme").unwrap();
        let expected = sms::fdl::normalise(if international { 1 } else { 0 }, &digits);
        prop_assert_eq!(m.destination, expected);
    }
}
