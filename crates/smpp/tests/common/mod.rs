//! Generators shared by the codec tests.

use proptest::prelude::*;
use smpp::tlv::Tlvs;
use smpp::ShortMessage;

/// C-octet string text of up to `max` characters drawn from `chars`.
pub fn text(chars: std::ops::Range<u8>, max: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec(chars, 0..max).prop_map(|v| v.into_iter().map(char::from).collect())
}

/// `submit_sm`/`deliver_sm` fields: strings from `chars`, every octet field any value, the two time
/// fields from `times`, optional parameters from `tlvs`.
pub fn short_message(
    chars: std::ops::Range<u8>,
    times: impl Strategy<Value = (String, String)>,
    tlvs: impl Strategy<Value = Tlvs>,
) -> impl Strategy<Value = ShortMessage> {
    (
        (text(chars.clone(), 5), text(chars.clone(), 20), text(chars, 20)),
        (any::<[u8; 11]>(), times),
        (proptest::collection::vec(any::<u8>(), 0..=254), tlvs),
    )
        .prop_map(|((st, sa, da), (o, (sched, valid)), (sm, tlvs))| ShortMessage {
            service_type: st,
            source_addr_ton: o[0],
            source_addr_npi: o[1],
            source_addr: sa,
            dest_addr_ton: o[2],
            dest_addr_npi: o[3],
            destination_addr: da,
            esm_class: o[4],
            protocol_id: o[5],
            priority_flag: o[6],
            schedule_delivery_time: sched,
            validity_period: valid,
            registered_delivery: o[7],
            replace_if_present_flag: o[8],
            data_coding: o[9],
            sm_default_msg_id: o[10],
            short_message: sm,
            tlvs,
        })
}
