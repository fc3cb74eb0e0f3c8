//! The GTPv1 header (TS 29.060 §6): flags, type, length, TEID; when any of E, S, PN is set the
//! sequence number, N-PDU number and next-extension-header octets, then the extension headers.

use crate::error::DecodeError;
use crate::v1::MessageType;
use crate::Octets;

/// One extension header (TS 29.060 §6.1): its type (announced by the octet before it) and its content
/// (the octets between its length octet and its next-type octet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtensionHeader {
    /// The extension header type.
    pub ext_type: u8,
    /// The content: 4n-2 octets for a length of n.
    pub content: Octets,
}

/// A GTPv1 header. The length is derived when encoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The message type.
    pub message_type: MessageType,
    /// The TEID (0 for a peer's first message and Echo).
    pub teid: u32,
    /// The spare bit between PT and E (kept for byte-exact relay).
    pub spare: bool,
    /// The E flag: extension headers follow.
    pub e: bool,
    /// The S flag: the sequence number is meaningful (always set in GTP-C).
    pub s: bool,
    /// The PN flag: the N-PDU number is meaningful.
    pub pn: bool,
    /// The sequence number (present on the wire when any of E, S, PN is set).
    pub sequence: u16,
    /// The N-PDU number.
    pub npdu: u8,
    /// The next-extension-header octet when E=0 (normally 0; kept as it came). With E=1 the encoder
    /// writes the first extension header's type instead.
    pub next_ext_raw: u8,
    /// The extension headers (only with E=1).
    pub extensions: Vec<ExtensionHeader>,
}

impl Header {
    /// A GTP-C header: S=1 with this sequence number, no N-PDU number, no extension headers.
    pub fn new(message_type: MessageType, teid: u32, sequence: u16) -> Header {
        Header {
            message_type,
            teid,
            spare: false,
            e: false,
            s: true,
            pn: false,
            sequence,
            npdu: 0,
            next_ext_raw: 0,
            extensions: Vec::new(),
        }
    }

    fn has_optional(&self) -> bool {
        self.e || self.s || self.pn
    }

    /// The header's size with its optional part and extension headers.
    pub fn len(&self) -> usize {
        if !self.has_optional() {
            return 8;
        }
        12 + if self.e { self.extensions.iter().map(|x| x.content.len() + 2).sum() } else { 0 }
    }

    /// Never empty; here for the `len` convention.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Decodes the header; returns it and the message's total size (8 + the length field).
    pub(crate) fn decode(buf: &[u8]) -> Result<(Header, usize), DecodeError> {
        if buf.len() < 8 {
            return Err(DecodeError::TruncatedHeader { offset: 0, need: 8, have: buf.len() });
        }
        let flags = buf[0];
        let version = flags >> 5;
        if version != 1 {
            return Err(DecodeError::BadVersion { offset: 0, found: version, expected: 1 });
        }
        if flags & 0x10 == 0 {
            return Err(DecodeError::NotGtp { offset: 0 });
        }
        let (spare, e, s, pn) = (flags & 0x08 != 0, flags & 0x04 != 0, flags & 0x02 != 0, flags & 0x01 != 0);
        let length = u16::from_be_bytes([buf[2], buf[3]]) as usize;
        let total = length + 8;
        if total > buf.len() {
            return Err(DecodeError::LengthOverrun { offset: 0, length, available: buf.len() - 8 });
        }
        let mut h = Header {
            message_type: MessageType(buf[1]),
            teid: u32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]),
            spare,
            e,
            s,
            pn,
            sequence: 0,
            npdu: 0,
            next_ext_raw: 0,
            extensions: Vec::new(),
        };
        if !(e || s || pn) {
            return Ok((h, total));
        }
        if total < 12 {
            return Err(DecodeError::LengthTooSmall { offset: 0, length, min: 4 });
        }
        h.sequence = u16::from_be_bytes([buf[8], buf[9]]);
        h.npdu = buf[10];
        let mut next = buf[11];
        if !e {
            h.next_ext_raw = next;
            return Ok((h, total));
        }
        let mut at = 12;
        while next != 0 {
            let n = *buf
                .get(at)
                .filter(|_| at < total)
                .ok_or(DecodeError::BadExtensionHeader { ext_type: next, offset: at })? as usize;
            if n == 0 || at + 4 * n > total {
                return Err(DecodeError::BadExtensionHeader { ext_type: next, offset: at });
            }
            h.extensions.push(ExtensionHeader { ext_type: next, content: Octets::from(&buf[at + 1..at + 4 * n - 1]) });
            next = buf[at + 4 * n - 1];
            at += 4 * n;
        }
        Ok((h, total))
    }

    /// Appends the header with this length field.
    pub(crate) fn encode(&self, length: u16, out: &mut Vec<u8>) {
        let flags =
            0x30 | (u8::from(self.spare) << 3) | (u8::from(self.e) << 2) | (u8::from(self.s) << 1) | u8::from(self.pn);
        out.push(flags);
        out.push(self.message_type.0);
        out.extend_from_slice(&length.to_be_bytes());
        out.extend_from_slice(&self.teid.to_be_bytes());
        if !self.has_optional() {
            return;
        }
        out.extend_from_slice(&self.sequence.to_be_bytes());
        out.push(self.npdu);
        if !self.e {
            out.push(self.next_ext_raw);
            return;
        }
        out.push(self.extensions.first().map_or(0, |x| x.ext_type));
        for (i, x) in self.extensions.iter().enumerate() {
            out.push(((x.content.len() + 2) / 4) as u8);
            out.extend_from_slice(&x.content);
            out.push(self.extensions.get(i + 1).map_or(0, |n| n.ext_type));
        }
    }
}
