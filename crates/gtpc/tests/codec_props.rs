//! Property tests: arbitrary messages round trip (structure and bytes), random and mutated bytes never
//! panic and re-encode byte-identically whenever they decode, and every truncation of a valid message
//! is an error.

use gtpc::v2::{Header, Ie, IeType, IeValue, Message, MessageType};
use gtpc::{v1, DecodeError};
use proptest::prelude::*;

fn v2_ie(depth: u32) -> BoxedStrategy<Ie> {
    let raw = (
        any::<u8>().prop_filter("not grouped", |t| !IeType(*t).is_grouped()),
        0u8..16,
        0u8..16,
        prop::collection::vec(any::<u8>(), 0..24),
    )
        .prop_map(|(t, instance, spare, v)| Ie {
            ie_type: IeType(t),
            instance,
            spare,
            value: IeValue::Raw(v.into()),
        });
    if depth == 0 {
        return raw.boxed();
    }
    let grouped = (
        prop::sample::select(vec![93u8, 109, 180, 181, 191, 195]),
        0u8..16,
        0u8..16,
        prop::collection::vec(v2_ie(depth - 1), 0..4),
    )
        .prop_map(|(t, instance, spare, c)| Ie { ie_type: IeType(t), instance, spare, value: IeValue::Grouped(c) });
    prop_oneof![3 => raw, 1 => grouped].boxed()
}

fn v2_header() -> impl Strategy<Value = Header> {
    (any::<u8>(), prop::option::of(any::<u32>()), 0u32..(1 << 24), prop::option::of(0u8..16), 0u8..4, any::<u8>())
        .prop_map(|(t, teid, sequence, priority, spare_flags, tail)| Header {
            message_type: MessageType(t),
            teid,
            sequence,
            priority,
            spare_flags,
            spare_tail: if priority.is_some() { tail & 0x0f } else { tail },
        })
}

fn v2_single() -> impl Strategy<Value = Message> {
    (v2_header(), prop::collection::vec(v2_ie(2), 0..10)).prop_map(|(header, ies)| Message {
        header,
        ies,
        piggybacked: None,
    })
}

fn v2_message() -> impl Strategy<Value = Message> {
    (v2_single(), prop::option::of(v2_single())).prop_map(|(mut m, p)| {
        m.piggybacked = p.map(Box::new);
        m
    })
}

const TV_TYPES: [u8; 27] =
    [1, 2, 3, 4, 5, 8, 9, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 127];

fn v1_ie() -> impl Strategy<Value = v1::Ie> {
    let tv = prop::sample::select(TV_TYPES.to_vec())
        .prop_flat_map(|t| prop::collection::vec(any::<u8>(), v1::tv_len(t).unwrap()).prop_map(move |v| (t, v)));
    let tlv = (128u8..=255, prop::collection::vec(any::<u8>(), 0..40));
    prop_oneof![tv, tlv].prop_map(|(t, v)| v1::Ie::new(v1::IeType(t), v).unwrap())
}

fn v1_message() -> impl Strategy<Value = v1::Message> {
    let ext = (1u8..=255, 1usize..4).prop_flat_map(|(t, n)| {
        prop::collection::vec(any::<u8>(), 4 * n - 2)
            .prop_map(move |c| v1::ExtensionHeader { ext_type: t, content: c.into() })
    });
    (
        (0u8..255, any::<u32>(), any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>()),
        (any::<u16>(), any::<u8>(), any::<u8>(), prop::collection::vec(ext, 0..3)),
        prop::collection::vec(v1_ie(), 0..12),
    )
        .prop_map(|((t, teid, spare, e, s, pn), (seq, npdu, next, exts), ies)| {
            let optional = e || s || pn;
            let header = v1::Header {
                message_type: v1::MessageType(t),
                teid,
                spare,
                e,
                s,
                pn,
                sequence: if optional { seq } else { 0 },
                npdu: if optional { npdu } else { 0 },
                next_ext_raw: if optional && !e { next } else { 0 },
                extensions: if e { exts } else { Vec::new() },
            };
            v1::Message { header, ies }
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn v2_messages_round_trip(m in v2_message()) {
        let bytes = m.encode();
        prop_assert_eq!(bytes.len(), m.encoded_len());
        let d = Message::decode(&bytes).unwrap();
        prop_assert_eq!(&d, &m);
        prop_assert_eq!(d.encode(), bytes);
    }

    #[test]
    fn v1_messages_round_trip(m in v1_message()) {
        let bytes = m.encode();
        prop_assert_eq!(bytes.len(), m.encoded_len());
        let d = v1::Message::decode(&bytes).unwrap();
        prop_assert_eq!(&d, &m);
        prop_assert_eq!(d.encode(), bytes);
    }

    #[test]
    fn random_bytes_never_panic_and_what_decodes_reencodes_identically(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        if let Ok(m) = Message::decode(&bytes) {
            prop_assert_eq!(m.encode(), bytes.clone());
        }
        if let Ok(m) = v1::Message::decode(&bytes) {
            prop_assert_eq!(m.encode(), bytes);
        }
    }

    #[test]
    fn damaged_messages_never_panic_and_what_decodes_reencodes_identically(
        m in v2_message(), m1 in v1_message(), edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6)
    ) {
        for mut bytes in [m.encode(), m1.encode()] {
            for (i, b) in &edits {
                let i = i.index(bytes.len());
                bytes[i] = *b;
            }
            if let Ok(d) = Message::decode(&bytes) {
                prop_assert_eq!(d.encode(), bytes.clone());
            }
            if let Ok(d) = v1::Message::decode(&bytes) {
                prop_assert_eq!(d.encode(), bytes.clone());
            }
        }
    }

    #[test]
    fn every_truncation_is_an_error(m in v2_message(), m1 in v1_message()) {
        let bytes = m.encode();
        for n in 0..bytes.len() {
            prop_assert!(Message::decode(&bytes[..n]).is_err(), "v2 prefix of {} bytes decoded", n);
        }
        let bytes = m1.encode();
        for n in 0..bytes.len() {
            prop_assert!(v1::Message::decode(&bytes[..n]).is_err(), "v1 prefix of {} bytes decoded", n);
        }
    }

    #[test]
    fn a_grouped_child_running_past_its_parent_is_an_ie_overrun(extra in 1u16..200, ebi in any::<u8>()) {
        // A Bearer Context whose EBI child claims `1 + extra` octets: more than the Bearer Context holds.
        let mut bytes = Message::builder(MessageType::CREATE_SESSION_REQUEST)
            .ie(Ie::bearer_context(0, vec![Ie::ebi(ebi)]))
            .ie(Ie::recovery(1))
            .build()
            .unwrap()
            .encode();
        // Header 12, Bearer Context header 4, then the EBI's length field at 17..19.
        bytes[17..19].copy_from_slice(&(1 + extra).to_be_bytes());
        match Message::decode(&bytes) {
            Err(DecodeError::IeOverrun { offset: 16, ie_type: 73, parent: Some(93), available: 1, .. }) => {}
            other => prop_assert!(false, "{:?}", other),
        }
    }
}

mod typed {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use gtpc::v2::values::{AreaId, Cause, Ecgi, Fteid, Paa, Tai, UeTimeZone, Uli};
    use gtpc::v2::{Ie, IeType};
    use gtpc::Plmn;
    use proptest::prelude::*;

    fn plmn() -> impl Strategy<Value = Plmn> {
        ("[0-9]{3}", "[0-9]{2,3}").prop_map(|(mcc, mnc)| Plmn::new(&mcc, &mnc).unwrap())
    }

    fn area(with_code: bool) -> impl Strategy<Value = AreaId> {
        (plmn(), any::<u16>(), any::<u16>()).prop_map(move |(plmn, lac, code)| AreaId {
            plmn,
            lac,
            code: if with_code { code } else { 0 },
        })
    }

    fn uli() -> impl Strategy<Value = Uli> {
        (
            (prop::option::of(area(true)), prop::option::of(area(true)), prop::option::of(area(true))),
            prop::option::of((plmn(), any::<u16>()).prop_map(|(plmn, tac)| Tai { plmn, tac })),
            prop::option::of((plmn(), 0u32..(1 << 28)).prop_map(|(plmn, eci)| Ecgi { plmn, eci })),
            prop::option::of(area(false)),
            prop::option::of((plmn(), 0u32..(1 << 20))),
            prop::option::of(
                (plmn(), 0u32..(1 << 21), any::<bool>())
                    .prop_map(|(p, id, sm)| (p, id | if sm { 0x80_0000 } else { 0 })),
            ),
        )
            .prop_map(|((cgi, sai, rai), tai, ecgi, lai, macro_enb, ext_macro_enb)| Uli {
                cgi,
                sai,
                rai,
                tai,
                ecgi,
                lai,
                macro_enb,
                ext_macro_enb,
            })
    }

    proptest! {
        #[test]
        fn typed_values_read_back_what_was_built(
            digits in "[0-9]{1,16}",
            plmn in plmn(),
            uli in uli(),
            teid in any::<u32>(), itype in 0u8..64, v4 in prop::option::of(any::<[u8; 4]>()), v6 in prop::option::of(any::<[u8; 16]>()),
            pdn in 1u8..=3, prefix in 0u8..=128,
            quarter_hours in -79i8..=79, dst in 0u8..3,
            cause in any::<u8>(), flags in any::<[bool; 3]>(), offending in prop::option::of((any::<u8>(), 0u8..16)),
        ) {
            prop_assert_eq!(Ie::imsi(&digits).unwrap().as_imsi().unwrap(), digits.clone());
            prop_assert_eq!(Ie::serving_network(plmn).as_serving_network().unwrap(), plmn);
            prop_assert_eq!(Ie::uli(&uli).as_uli().unwrap(), uli);
            let f = Fteid { interface_type: itype, teid, ipv4: v4.map(Ipv4Addr::from), ipv6: v6.map(Ipv6Addr::from) };
            prop_assert_eq!(Ie::fteid(3, &f).as_fteid().unwrap(), f);
            let paa = Paa {
                pdn_type: pdn,
                ipv4: (pdn != 2).then(|| Ipv4Addr::from(v4.unwrap_or([10, 0, 0, 1]))),
                ipv6: (pdn != 1).then(|| (prefix, Ipv6Addr::from(v6.unwrap_or([1; 16])))),
            };
            prop_assert_eq!(Ie::paa(&paa).as_paa().unwrap(), paa);
            let tz = UeTimeZone { quarter_hours, daylight_saving: dst };
            prop_assert_eq!(Ie::ue_time_zone(tz).as_ue_time_zone().unwrap(), tz);
            let c = Cause { value: cause, pce: flags[0], bce: flags[1], cs: flags[2], offending: offending.map(|(t, i)| (IeType(t), i)) };
            prop_assert_eq!(Ie::cause(&c).as_cause().unwrap(), c);
        }
    }
}
