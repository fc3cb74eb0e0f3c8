//! Sans-IO codec for GTP-C, the control plane of the GPRS Tunnelling Protocol that partners' S-GWs and
//! SGSNs speak to the home P-GW/GGSN (S8, Gp). It is the base of the GTP-C firewall (issue #20).
//!
//! - [`v2`]: GTPv2-C (3GPP TS 29.274 §5, §8): header with TEID, 24-bit sequence number and message
//!   priority, piggybacked messages, TLIV information elements with grouped IEs decoded recursively,
//!   typed accessors for the IEs the firewall screens, and a builder.
//! - [`v1`]: GTPv1-C (3GPP TS 29.060 §6, §7.7): header with the optional sequence number, N-PDU number and
//!   extension headers, TV and TLV information elements, typed accessors.
//!
//! Both decoders keep what they do not understand (unknown message types, unknown TLV IEs, spare bits)
//! so that `encode(decode(x)) == x` for every input that decodes, and they return a precise
//! [`DecodeError`] (what, at which offset) for everything else; no input makes them panic.

pub mod error;
mod octets;
pub mod tbcd;
pub mod v1;
pub mod v2;

pub use error::{DecodeError, ValueError};
pub use octets::Octets;
pub use tbcd::Plmn;

/// The GTP version of a datagram (the three high bits of its first octet), without decoding it.
///
/// GTP-C on UDP 2123 carries both versions; a receiver uses this to pick [`v1::Message`] or
/// [`v2::Message`]. `None` for an empty datagram.
pub fn version(datagram: &[u8]) -> Option<u8> {
    datagram.first().map(|b| b >> 5)
}
