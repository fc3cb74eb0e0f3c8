//! Building S6a/S13 answers: the common AVPs, Result-Code or Experimental-Result, and AVP helpers.

use diameter::dictionary::VENDOR_3GPP;
use diameter::{Avp, Message, Value};

/// How a request ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A base Result-Code (RFC 6733).
    Result(u32),
    /// A 3GPP Experimental-Result-Code (TS 29.272 §7.4).
    Experimental(u32),
}

/// Builds AVPs of the dictionary; names and types are fixed in code, so failure is a programming error.
pub fn avp(name: &str, value: impl Into<Value>) -> Avp {
    Avp::new(name, value).unwrap_or_else(|e| panic!("AVP {name}: {e}"))
}

/// A Grouped AVP.
pub fn group(name: &str, avps: Vec<Avp>) -> Avp {
    avp(name, Value::Grouped(avps))
}

/// The answer skeleton of TS 29.272: Session-Id, Auth-Session-State (NO_STATE_MAINTAINED),
/// Origin-Host, Origin-Realm and the outcome.
pub fn answer(request: &Message, origin_host: &str, origin_realm: &str, outcome: Outcome) -> Message {
    let mut a = Message::answer_to(&request.header, request.session_id());
    a.push(avp("Auth-Session-State", 1u32));
    a.push(avp("Origin-Host", origin_host));
    a.push(avp("Origin-Realm", origin_realm));
    match outcome {
        Outcome::Result(code) => {
            a.push(avp("Result-Code", code));
        }
        Outcome::Experimental(code) => {
            a.push(group(
                "Experimental-Result",
                vec![avp("Vendor-Id", VENDOR_3GPP), avp("Experimental-Result-Code", code)],
            ));
        }
    }
    a
}
