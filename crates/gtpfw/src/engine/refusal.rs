//! The responses the firewall sends itself: the request's response type (its type + 1, TS 29.274
//! Table 6.1-1 and TS 29.060 Table 1), the request's sequence number, the peer's control TEID (0
//! when unknown, §5.5.2), a Cause naming the offending IE where there is one, and for "APN
//! congestion" in a Create Session Response the PGW Back-Off Time (EPC Timer, §7.2.2), and Overload
//! Control Information toward partners that support it (§12.3.5).

use std::time::Duration;

use gtpc::v2::values::{Cause, EpcTimer, OverloadControl};
use gtpc::v2::{Ie, IeType, Message, MessageType};

/// The EPC Timer (§8.87) closest above `d`: units of 2 s, 1 min, 10 min, 1 h, 10 h (value ≤ 31).
pub(crate) fn epc_timer(d: Duration) -> EpcTimer {
    let s = d.as_secs();
    for (unit, step) in [(0u8, 2u64), (1, 60), (2, 600), (3, 3600), (4, 36000)] {
        let v = s.div_ceil(step);
        if v <= 31 {
            return EpcTimer { unit, value: v as u8 };
        }
    }
    EpcTimer { unit: 4, value: 31 }
}

/// Indication flags (octets 5 to 9) with only AOPI set.
pub(crate) const AOPI: [u8; 5] = [0, 0, 0, 0, 0x01];

/// A GTPv2-C response refusing `req` with `cause` (and the offending IE), toward `teid`.
pub(crate) fn v2(
    req: &Message,
    teid: u32,
    cause: u8,
    offending: Option<IeType>,
    backoff: Option<Duration>,
    oci: Option<&OverloadControl>,
) -> Vec<u8> {
    let t = MessageType(req.header.message_type.0.wrapping_add(1));
    let mut c = Cause::new(cause);
    c.offending = offending.map(|i| (i, 0));
    let mut b = Message::builder(t).teid(teid).sequence(req.header.sequence).ie(Ie::cause(&c));
    if let Some(d) = backoff.filter(|_| req.header.message_type == MessageType::CREATE_SESSION_REQUEST) {
        // PGW Back-Off Time (EPC Timer, instance 0), with "APN congestion" only.
        b = b.ie(Ie::epc_timer(epc_timer(d)));
    }
    if let Some(oc) = oci {
        // PGW's Overload Control Information is instance 0 in the S5/S8 responses (TS 29.274
        // Table 7.2.2-1 and the other responses').
        if let Ok(ie) = Ie::overload_control(0, oc) {
            // With a rejection Cause the PGW sets "Associate OCI with PGW node's identity" (AOPI,
            // Indication octet 9 bit 1, §8.12), so the OCI applies to the P-GW node.
            b = b.ie(ie).ie(Ie::indication(&AOPI));
        }
    }
    // A response with three small IEs is far below the 16-bit length: `build` cannot fail here.
    b.build().map(|m| m.encode()).unwrap_or_default()
}

/// GTPv1-C Cause values (TS 29.060 §7.7.1, Table 38) the firewall answers with.
pub(crate) mod v1cause {
    /// Invalid message format.
    pub const INVALID_MESSAGE_FORMAT: u8 = 193;
    /// IMSI/IMEI not known.
    pub const IMSI_NOT_KNOWN: u8 = 194;
    /// No resources available.
    pub const NO_RESOURCES: u8 = 199;
    /// Mandatory IE missing.
    pub const MANDATORY_IE_MISSING: u8 = 202;
    /// Context not found.
    pub const CONTEXT_NOT_FOUND: u8 = 210;
}

/// A GTPv1-C response refusing `req` with `cause`, toward `teid`.
pub(crate) fn v1(req: &gtpc::v1::Message, teid: u32, cause: u8) -> Vec<u8> {
    let t = gtpc::v1::MessageType(req.header.message_type.0.wrapping_add(1));
    gtpc::v1::Message::new(t, teid, req.header.sequence, vec![gtpc::v1::Ie::cause(cause)]).encode()
}
