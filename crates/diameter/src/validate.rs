//! Checks a decoded request against the dictionary before an application sees it: header bits that
//! contradict the command, unknown AVPs marked mandatory (anywhere in the message), required AVPs
//! that are missing, and single-occurrence AVPs that repeat.

use crate::avp::{self, Avp, Value};
use crate::dictionary::{self, AvpDef, AvpType, CommandDef};
use crate::error::DecodeError;
use crate::message::Message;

/// AVPs that may appear only once at the top level of any command that has them.
const SINGLE: &[AvpDef] = &[
    avp::SESSION_ID.def(),
    avp::ORIGIN_HOST.def(),
    avp::ORIGIN_REALM.def(),
    avp::DESTINATION_HOST.def(),
    avp::DESTINATION_REALM.def(),
    avp::USER_NAME.def(),
    avp::AUTH_SESSION_STATE.def(),
    avp::RESULT_CODE.def(),
];

fn occurrences<'a>(msg: &'a Message, def: &'a AvpDef) -> impl Iterator<Item = &'a Avp> + 'a {
    msg.avps.iter().filter(move |a| a.code == def.code && a.vendor() == def.vendor)
}

/// RFC 6733 §7.5: the Failed-AVP example of a missing AVP carries "a zero-filled payload of the
/// minimum required length for the omitted AVP": 4 or 8 bytes for numbers and Time, an IPv4-sized
/// Address, nothing for the variable-length types (strings, OctetString, Grouped).
fn zero_payload(ty: AvpType) -> Vec<u8> {
    match ty {
        AvpType::Integer32 | AvpType::Unsigned32 | AvpType::Float32 | AvpType::Enumerated | AvpType::Time => {
            vec![0; 4]
        }
        AvpType::Integer64 | AvpType::Unsigned64 | AvpType::Float64 => vec![0; 8],
        AvpType::Address => vec![0; 6],
        AvpType::OctetString
        | AvpType::Utf8String
        | AvpType::DiameterIdentity
        | AvpType::DiameterUri
        | AvpType::IpFilterRule
        | AvpType::Grouped => Vec::new(),
    }
}

fn first_unknown_mandatory(avps: &[Avp]) -> Option<&Avp> {
    avps.iter().find_map(|a| {
        if dictionary::avp_by_code(a.code, a.vendor()).is_none() {
            return a.is_mandatory().then_some(a);
        }
        match &a.value {
            Value::Grouped(inner) => first_unknown_mandatory(inner),
            _ => None,
        }
    })
}

/// Validates `msg` (a request or answer of command `cmd`) and returns the first problem found.
pub fn check(msg: &Message, cmd: &CommandDef) -> Result<(), DecodeError> {
    if msg.header.is_proxiable() != cmd.proxiable {
        return Err(DecodeError::InvalidHeaderBits("P bit inconsistent with the command"));
    }
    if let Some(a) = first_unknown_mandatory(&msg.avps) {
        return Err(DecodeError::AvpUnsupported { code: a.code, vendor: a.vendor(), failed: Box::new(a.clone()) });
    }
    let required = if msg.is_request() { cmd.request_required } else { cmd.answer_required };
    for def in required {
        if occurrences(msg, def).next().is_none() {
            let failed = Avp {
                code: def.code,
                flags: def.flags(),
                vendor_id: def.vendor_id(),
                value: Value::OctetString(zero_payload(def.ty)),
            };
            return Err(DecodeError::MissingAvp { name: def.name, failed: Box::new(failed) });
        }
    }
    for def in SINGLE {
        if let Some(second) = occurrences(msg, def).nth(1) {
            return Err(DecodeError::AvpOccursTooManyTimes { name: def.name, failed: Box::new(second.clone()) });
        }
    }
    Ok(())
}
