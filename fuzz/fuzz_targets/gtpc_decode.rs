//! Fuzzes the GTP-C codec: the input is decoded as GTPv2-C and as GTPv1-C. Whatever decodes must
//! re-encode to exactly the input (the codec keeps unknown IEs and spare bits), its length must be what
//! `encoded_len` says, and every typed accessor must return a value or an error without panicking.

#![no_main]

use gtpc::v2::{Ie, IeType};
use gtpc::{v1, v2};
use libfuzzer_sys::fuzz_target;

fn read_all(ie: &Ie) {
    let _ = (ie.as_imsi(), ie.as_serving_network(), ie.as_rat_type(), ie.as_ebi(), ie.as_pdn_type());
    let _ = (ie.as_selection_mode(), ie.as_apn(), ie.indication_flag(5, 1), ie.as_cause(), ie.as_fteid());
    let _ = (ie.as_ambr(), ie.as_paa(), ie.as_ue_time_zone(), ie.as_uli(), ie.as_epc_timer());
    let _ = (ie.as_overload_control(), ie.as_load_control(), ie.as_bearer_context(), ie.find(IeType::EBI, 0));
    ie.children().iter().for_each(read_all);
}

fuzz_target!(|data: &[u8]| {
    let _ = gtpc::version(data);
    match v2::Message::decode(data) {
        Ok(m) => {
            assert_eq!(m.encoded_len(), data.len());
            assert_eq!(m.encode(), data, "GTPv2 re-encoding differs");
            let _ = (m.imsi(), m.serving_network(), m.apn(), m.cause(), m.sender_fteid(), m.recovery());
            m.ies.iter().for_each(read_all);
            if let Some(p) = &m.piggybacked {
                p.ies.iter().for_each(read_all);
            }
        }
        Err(e) => {
            let _ = (e.offset(), e.to_string());
        }
    }
    match v1::Message::decode(data) {
        Ok(m) => {
            assert_eq!(m.encoded_len(), data.len());
            assert_eq!(m.encode(), data, "GTPv1 re-encoding differs");
            for ie in &m.ies {
                let _ = (ie.as_imsi(), ie.as_u8(), ie.as_u32(), ie.as_apn(), ie.as_gsn_address(), ie.as_msisdn());
                let _ = (ie.as_end_user_address(), ie.as_uli(), ie.as_nsapi(), ie.as_selection_mode());
            }
        }
        Err(e) => {
            let _ = (e.offset(), e.to_string());
        }
    }
});
