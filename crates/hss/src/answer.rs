//! Building S6a/S13 answers: the common AVPs, then Result-Code or Experimental-Result.

use diameter::dictionary::VENDOR_3GPP;
use diameter::{avp, Avp, Message};

/// How a request ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A base Result-Code (RFC 6733).
    Result(u32),
    /// A 3GPP Experimental-Result-Code (TS 29.272 §7.4).
    Experimental(u32),
}

/// The answer skeleton of TS 29.272: Session-Id, Auth-Session-State (NO_STATE_MAINTAINED),
/// Origin-Host, Origin-Realm and the outcome.
pub fn answer(request: &Message, origin_host: &str, origin_realm: &str, outcome: Outcome) -> Message {
    let mut a = Message::answer_to(&request.header, request.session_id());
    a.add(avp::AUTH_SESSION_STATE, 1u32);
    a.add(avp::ORIGIN_HOST, origin_host);
    a.add(avp::ORIGIN_REALM, origin_realm);
    match outcome {
        Outcome::Result(code) => a.add(avp::RESULT_CODE, code),
        Outcome::Experimental(code) => a.add(
            avp::EXPERIMENTAL_RESULT,
            vec![Avp::new(avp::VENDOR_ID, VENDOR_3GPP), Avp::new(avp::EXPERIMENTAL_RESULT_CODE, code)],
        ),
    };
    a
}
