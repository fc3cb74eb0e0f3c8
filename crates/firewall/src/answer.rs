//! Bytes the firewall writes itself: its own answers (Result-Code or Experimental-Result, with DOIC
//! AVPs for partners that support them), and the two changes relaying makes to forwarded messages —
//! the hop-by-hop identifier, and AVPs appended at the end (Route-Record on requests, DOIC on answers)
//! with the length field updated. Nothing else in a forwarded message is touched.

use diameter::avp::Avp;
use diameter::dictionary::VENDOR_3GPP;
use diameter::header::{flags, Header, HEADER_LEN};
use diameter::result_code as rc;
use diameter::{Message, Value};

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
    let mut v = vec![Avp::grouped(
        "OC-Supported-Features",
        vec![Avp::new("OC-Feature-Vector", OLR_DEFAULT_ALGO).expect("DOIC AVP")],
    )
    .expect("DOIC AVP")];
    if let Some(r) = report {
        v.push(
            Avp::grouped(
                "OC-OLR",
                vec![
                    Avp::new("OC-Sequence-Number", r.sequence).expect("DOIC AVP"),
                    Avp::new("OC-Report-Type", REALM_REPORT).expect("DOIC AVP"),
                    Avp::new("OC-Reduction-Percentage", r.reduction.min(100)).expect("DOIC AVP"),
                    Avp::new("OC-Validity-Duration", r.validity_secs).expect("DOIC AVP"),
                ],
            )
            .expect("DOIC AVP"),
        );
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
            m.avps.push(Avp { code: 263, flags: 0x40, vendor_id: None, value: Value::OctetString(s.to_vec()) });
        }
        if self.request.app_id != 0 {
            m.avps.push(Avp::new("Auth-Session-State", 1u32).expect("base AVP"));
        }
        m.avps.push(Avp::new("Origin-Host", self.origin_host).expect("base AVP"));
        m.avps.push(Avp::new("Origin-Realm", self.origin_realm).expect("base AVP"));
        match self.answer {
            Answer::Result(code) => {
                if rc::is_protocol_error(code) {
                    m.header.flags |= flags::E;
                }
                m.avps.push(Avp::new("Result-Code", code).expect("base AVP"));
            }
            Answer::Experimental(code) => m.avps.push(
                Avp::grouped(
                    "Experimental-Result",
                    vec![
                        Avp::new("Vendor-Id", VENDOR_3GPP).expect("base AVP"),
                        Avp::new("Experimental-Result-Code", code).expect("base AVP"),
                    ],
                )
                .expect("base AVP"),
            ),
        }
        if let Some(text) = self.message {
            m.avps.push(Avp::new("Error-Message", text).expect("base AVP"));
        }
        if let Some(f) = self.failed {
            m.avps.push(Avp::grouped("Failed-AVP", vec![f]).expect("base AVP"));
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
    debug_assert!(bytes.len() >= HEADER_LEN && bytes.len() % 4 == 0);
    for a in avps {
        a.encode(bytes);
    }
    let len = bytes.len() as u32;
    bytes[1..4].copy_from_slice(&len.to_be_bytes()[1..]);
}

/// Appends a Route-Record AVP (code 282, M bit, RFC 6733 §6.7.1) naming `host`, without an
/// intermediate `Avp`.
pub fn append_route_record(bytes: &mut Vec<u8>, host: &str) {
    let len = 8 + host.len();
    bytes.extend_from_slice(&282u32.to_be_bytes());
    bytes.extend_from_slice(&(0x4000_0000u32 | len as u32).to_be_bytes());
    bytes.extend_from_slice(host.as_bytes());
    bytes.resize(bytes.len() + ((4 - len % 4) % 4), 0);
    let total = bytes.len() as u32;
    bytes[1..4].copy_from_slice(&total.to_be_bytes()[1..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_record_matches_the_codec() {
        let mut req = Message::new("AIR").unwrap();
        req.add("Session-Id", "s").unwrap();
        let mut a = req.encode();
        append_route_record(&mut a, "mme1.visited.example");
        req.add("Route-Record", "mme1.visited.example").unwrap();
        assert_eq!(a, req.encode());
    }

    #[test]
    fn local_answer_experimental_with_doic() {
        let mut req = Message::new("ULR").unwrap();
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
        let olr = m.get("OC-OLR").unwrap();
        assert_eq!(olr.child("OC-Reduction-Percentage").unwrap().as_u32(), Some(40));
    }
}
