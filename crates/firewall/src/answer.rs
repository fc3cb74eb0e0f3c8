//! Bytes the firewall writes itself: its own answers (Result-Code or Experimental-Result, with DOIC
//! AVPs for partners that support them), and the two changes relaying makes to forwarded messages —
//! the hop-by-hop identifier, and AVPs appended at the end (Route-Record on requests, DOIC on answers)
//! with the length field updated. Nothing else in a forwarded message is touched.

use diameter::avp::{self, Avp};
use diameter::dictionary::{app, VENDOR_3GPP};
use diameter::header::{flags, Header, HEADER_LEN};
use diameter::result_code as rc;
use diameter::Message;

use crate::rules::Answer;

/// The DOIC overload report to attach to answers, when there is one (RFC 7683 §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OverloadReport {
    /// OC-Sequence-Number: grows whenever the report changes.
    pub sequence: u64,
    /// OC-Reduction-Percentage (0–100).
    pub reduction: u32,
    /// OC-Validity-Duration, seconds; 0 ends an earlier report.
    pub validity_secs: u32,
}

/// OLR_DEFAULT_ALGO, the loss algorithm (RFC 7683 §7.2).
const OLR_DEFAULT_ALGO: u64 = 1;
/// REALM_REPORT (RFC 7683 §7.6): the report applies to requests sent to the home realm.
const REALM_REPORT: u32 = 1;

/// The DOIC AVPs a reporting node puts in an answer: OC-Supported-Features (the loss algorithm) and,
/// when a report is given, OC-OLR.
pub fn doic_avps(report: Option<OverloadReport>) -> Vec<Avp> {
    let mut v =
        vec![Avp::grouped(avp::OC_SUPPORTED_FEATURES, vec![Avp::new(avp::OC_FEATURE_VECTOR, OLR_DEFAULT_ALGO)])];
    if let Some(r) = report {
        v.push(Avp::grouped(
            avp::OC_OLR,
            vec![
                Avp::new(avp::OC_SEQUENCE_NUMBER, r.sequence),
                Avp::new(avp::OC_REPORT_TYPE, REALM_REPORT),
                Avp::new(avp::OC_REDUCTION_PERCENTAGE, r.reduction.min(100)),
                Avp::new(avp::OC_VALIDITY_DURATION, r.validity_secs),
            ],
        ));
    }
    v
}

/// Everything an answer of the firewall's own needs from the request and the decision.
#[derive(Debug)]
pub struct LocalAnswer<'a> {
    /// The request's header.
    pub request: Header,
    /// The request's Session-Id, when it had one.
    pub session_id: Option<&'a [u8]>,
    /// The firewall's identity.
    pub origin_host: &'a str,
    /// The firewall's realm.
    pub origin_realm: &'a str,
    /// The answer.
    pub answer: Answer,
    /// Error-Message (protocol errors only).
    pub message: Option<&'a str>,
    /// Failed-AVP content.
    pub failed: Option<Avp>,
    /// DOIC AVPs to add (the partner advertised OC-Supported-Features).
    pub doic: Option<Option<OverloadReport>>,
}

impl LocalAnswer<'_> {
    /// Encodes the answer into `out`: Session-Id, Auth-Session-State (NO_STATE_MAINTAINED) for
    /// application answers, Origin-Host, Origin-Realm, Result-Code or Experimental-Result,
    /// Error-Message and Failed-AVP when given, then the DOIC AVPs.
    pub fn encode_into(self, out: &mut Vec<u8>) {
        let mut m = Message {
            header: Header { version: 1, length: 0, flags: self.request.flags & flags::P, ..self.request },
            avps: Vec::with_capacity(8),
        };
        if let Some(s) = self.session_id {
            m.avps.push(Avp::with_bytes(avp::SESSION_ID, s));
        }
        if self.request.app_id != app::COMMON {
            m.avps.push(Avp::new(avp::AUTH_SESSION_STATE, 1u32));
        }
        m.avps.push(Avp::new(avp::ORIGIN_HOST, self.origin_host));
        m.avps.push(Avp::new(avp::ORIGIN_REALM, self.origin_realm));
        match self.answer {
            Answer::Result(code) => {
                if rc::is_protocol_error(code) {
                    m.header.flags |= flags::E;
                }
                m.avps.push(Avp::new(avp::RESULT_CODE, code));
            }
            Answer::Experimental(code) => m.avps.push(Avp::grouped(
                avp::EXPERIMENTAL_RESULT,
                vec![Avp::new(avp::VENDOR_ID, VENDOR_3GPP), Avp::new(avp::EXPERIMENTAL_RESULT_CODE, code)],
            )),
        }
        if let Some(text) = self.message {
            m.avps.push(Avp::new(avp::ERROR_MESSAGE, text));
        }
        if let Some(f) = self.failed {
            m.avps.push(Avp::grouped(avp::FAILED_AVP, vec![f]));
        }
        if let Some(report) = self.doic {
            m.avps.extend(doic_avps(report));
        }
        m.encode_into(out);
    }
}

/// Replaces the hop-by-hop identifier of an encoded message.
pub fn set_hop_by_hop(bytes: &mut [u8], hop_by_hop: u32) {
    bytes[12..16].copy_from_slice(&hop_by_hop.to_be_bytes());
}

/// The hop-by-hop identifier of an encoded message (at least a header long).
pub fn hop_by_hop(bytes: &[u8]) -> u32 {
    u32::from_be_bytes([bytes[12], bytes[13], bytes[14], bytes[15]])
}

/// Appends AVPs to an encoded message and updates its length field; the bytes before are unchanged.
pub fn append_avps(bytes: &mut Vec<u8>, avps: &[Avp]) {
    debug_assert!(bytes.len() >= HEADER_LEN && bytes.len().is_multiple_of(4));
    for a in avps {
        a.encode(bytes);
    }
    let len = bytes.len() as u32;
    bytes[1..4].copy_from_slice(&len.to_be_bytes()[1..]);
}

/// Appends a Route-Record AVP (RFC 6733 §6.7.1; IETF, M bit) naming `host`, without an intermediate
/// `Avp`.
pub fn append_route_record(bytes: &mut Vec<u8>, host: &str) {
    let len = 8 + host.len();
    bytes.extend_from_slice(&avp::ROUTE_RECORD.code().to_be_bytes());
    bytes.extend_from_slice(&((u32::from(avp::ROUTE_RECORD.flags()) << 24) | len as u32).to_be_bytes());
    bytes.extend_from_slice(host.as_bytes());
    bytes.resize(bytes.len() + ((4 - len % 4) % 4), 0);
    let total = bytes.len() as u32;
    bytes[1..4].copy_from_slice(&total.to_be_bytes()[1..]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use diameter::Command;

    #[test]
    fn route_record_matches_the_codec() {
        let mut req = Message::request(Command::AIR);
        req.add(avp::SESSION_ID, "s");
        let mut a = req.encode();
        append_route_record(&mut a, "mme1.visited.example");
        req.add(avp::ROUTE_RECORD, "mme1.visited.example");
        assert_eq!(a, req.encode());
    }

    #[test]
    fn local_answer_experimental_with_doic() {
        let mut req = Message::request(Command::ULR);
        req.header.hop_by_hop = 7;
        req.header.end_to_end = 9;
        let mut out = Vec::new();
        LocalAnswer {
            request: req.header,
            session_id: Some(b"fw;1"),
            origin_host: "fw",
            origin_realm: "home",
            answer: Answer::Experimental(5004),
            message: None,
            failed: None,
            doic: Some(Some(OverloadReport { sequence: 3, reduction: 40, validity_secs: 5 })),
        }
        .encode_into(&mut out);
        let m = Message::decode(&out).unwrap();
        assert!(!m.is_request() && !m.header.is_error());
        assert_eq!((m.header.hop_by_hop, m.header.end_to_end), (7, 9));
        assert_eq!(m.result_code(), Some(5004));
        assert_eq!(m.session_id(), Some("fw;1"));
        let olr = m.get(avp::OC_OLR).unwrap();
        assert_eq!(olr.child(avp::OC_REDUCTION_PERCENTAGE).unwrap().as_u32(), Some(40));
    }
}
