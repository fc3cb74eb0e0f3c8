//! The GTPv2-C header (TS 29.274 §5.1): flags, message type, length, the TEID when T=1, the 24-bit
//! sequence number and, when MP=1, the message priority.

use crate::error::DecodeError;
use crate::v2::MessageType;

/// A GTPv2-C header. The P flag and the length are not stored: the encoder derives them from the
/// message (whether it carries a piggybacked message, and its IEs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// The message type.
    pub message_type: MessageType,
    /// The TEID; `Some` exactly when the T flag is set.
    pub teid: Option<u32>,
    /// The sequence number (24 bits).
    pub sequence: u32,
    /// The message priority (4 bits, 0 highest); `Some` exactly when the MP flag is set.
    pub priority: Option<u8>,
    /// The two spare bits of the first octet, kept so that a relayed message stays byte-identical.
    pub spare_flags: u8,
    /// The spare bits of the last header octet (its low nibble when MP=1, the whole octet otherwise).
    pub spare_tail: u8,
}

impl Header {
    /// A header with the given type, TEID and sequence number, no priority and zero spare bits.
    pub fn new(message_type: MessageType, teid: Option<u32>, sequence: u32) -> Header {
        Header { message_type, teid, sequence: sequence & 0x00ff_ffff, priority: None, spare_flags: 0, spare_tail: 0 }
    }

    /// The header's size in octets: 12 with a TEID, 8 without.
    pub fn len(&self) -> usize {
        if self.teid.is_some() {
            12
        } else {
            8
        }
    }

    /// Never empty; here for the `len` convention.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Decodes the header at `buf[offset..]`. Returns it, the P flag and the message's total size
    /// (4 + the length field), checked against the bytes present.
    pub(crate) fn decode(buf: &[u8], offset: usize) -> Result<(Header, bool, usize), DecodeError> {
        let b = &buf[offset..];
        if b.len() < 4 {
            return Err(DecodeError::TruncatedHeader { offset, need: 4, have: b.len() });
        }
        let flags = b[0];
        let version = flags >> 5;
        if version != 2 {
            return Err(DecodeError::BadVersion { offset, found: version, expected: 2 });
        }
        let (p, t, mp) = (flags & 0x10 != 0, flags & 0x08 != 0, flags & 0x04 != 0);
        let hlen = if t { 12 } else { 8 };
        if b.len() < hlen {
            return Err(DecodeError::TruncatedHeader { offset, need: hlen, have: b.len() });
        }
        let length = u16::from_be_bytes([b[2], b[3]]) as usize;
        if length < hlen - 4 {
            return Err(DecodeError::LengthTooSmall { offset, length, min: hlen - 4 });
        }
        if length > b.len() - 4 {
            return Err(DecodeError::LengthOverrun { offset, length, available: b.len() - 4 });
        }
        let (teid, rest) =
            if t { (Some(u32::from_be_bytes([b[4], b[5], b[6], b[7]])), &b[8..12]) } else { (None, &b[4..8]) };
        let sequence = u32::from_be_bytes([0, rest[0], rest[1], rest[2]]);
        let (priority, spare_tail) = if mp { (Some(rest[3] >> 4), rest[3] & 0x0f) } else { (None, rest[3]) };
        let header =
            Header { message_type: MessageType(b[1]), teid, sequence, priority, spare_flags: flags & 0x03, spare_tail };
        Ok((header, p, length + 4))
    }

    /// Appends the header with the given P flag and length field.
    pub(crate) fn encode(&self, piggyback: bool, length: u16, out: &mut Vec<u8>) {
        let mut flags = 0x40 | (self.spare_flags & 0x03);
        if piggyback {
            flags |= 0x10;
        }
        if self.teid.is_some() {
            flags |= 0x08;
        }
        if self.priority.is_some() {
            flags |= 0x04;
        }
        out.push(flags);
        out.push(self.message_type.0);
        out.extend_from_slice(&length.to_be_bytes());
        if let Some(teid) = self.teid {
            out.extend_from_slice(&teid.to_be_bytes());
        }
        out.extend_from_slice(&self.sequence.to_be_bytes()[1..]);
        out.push(match self.priority {
            Some(p) => (p << 4) | (self.spare_tail & 0x0f),
            None => self.spare_tail,
        });
    }
}
