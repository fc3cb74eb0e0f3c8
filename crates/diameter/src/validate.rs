//! Checks a decoded request against the dictionary before an application sees it: header bits that
//! contradict the command, unknown AVPs marked mandatory (anywhere in the message), required AVPs
//! that are missing, and single-occurrence AVPs that repeat.

use crate::avp::{Avp, Value};
use crate::dictionary::{self, CommandDef};
use crate::error::DecodeError;
use crate::message::Message;

/// AVPs that may appear only once at the top level of any command that has them.
const SINGLE: &[&str] = &[
    "Session-Id",
    "Origin-Host",
    "Origin-Realm",
    "Destination-Host",
    "Destination-Realm",
    "User-Name",
    "Auth-Session-State",
    "Result-Code",
];

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
    for name in required {
        if msg.get(name).is_none() {
            let def = dictionary::avp_by_name(name).expect("required AVPs are in the dictionary");
            let failed = Avp {
                code: def.code,
                flags: 0,
                vendor_id: (def.vendor != 0).then_some(def.vendor),
                value: Value::OctetString(Vec::new()),
            };
            return Err(DecodeError::MissingAvp { name: def.name, failed: Box::new(failed) });
        }
    }
    for name in SINGLE {
        if let Some(second) = msg.get_all(name).nth(1) {
            return Err(DecodeError::AvpOccursTooManyTimes {
                name: dictionary::avp_by_name(name).map_or("?", |d| d.name),
                failed: Box::new(second.clone()),
            });
        }
    }
    Ok(())
}
