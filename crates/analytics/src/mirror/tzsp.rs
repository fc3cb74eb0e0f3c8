//! TZSP, the TaZmen Sniffer Protocol: how MikroTik RouterOS (`/tool sniffer`, the `mirror` action of
//! its firewall) and other probes send mirrored frames over UDP (default port 37008).
//!
//! The layout, as Wireshark's `packet-tzsp.c` and scapy's `scapy.contrib.tzsp` read it:
//!
//! ```text
//! version (1 octet, = 1) | type (1 octet) | encapsulation (2 octets, big endian)
//! tagged fields: type (1 octet), then for every type but 0 (PADDING) and 1 (END) a length octet
//!                and that many octets; the list ends with tag 1 (END)
//! the encapsulated frame, to the end of the datagram
//! ```
//!
//! Types 0 ("received tag list") and 1 ("packet for transmit") carry a frame; 3 (configuration),
//! 4 (keepalive/NULL) and 5 (port opener) do not. Encapsulation 1 is Ethernet (others: 18 IEEE
//! 802.11, 119 Prism, 127 WLAN AVS). Sans-IO; never panics on any input.

/// The UDP port TZSP is sent to by default.
pub const DEFAULT_PORT: u16 = 37008;
/// The only protocol version.
pub const VERSION: u8 = 1;
/// Type 0: a received packet with its tag list.
pub const TYPE_RECEIVED: u8 = 0;
/// Type 1: a packet for transmit.
pub const TYPE_TRANSMIT: u8 = 1;
/// Encapsulation 1: an Ethernet frame.
pub const ENCAP_ETHERNET: u16 = 1;
/// Tag 0: one octet of padding, no length.
pub const TAG_PADDING: u8 = 0;
/// Tag 1: the end of the tag list, no length.
pub const TAG_END: u8 = 1;

/// The frame a TZSP datagram carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    /// [`TYPE_RECEIVED`] or [`TYPE_TRANSMIT`].
    pub kind: u8,
    /// The encapsulation ([`ENCAP_ETHERNET`] for Ethernet).
    pub encapsulation: u16,
    /// The frame, after the END tag.
    pub frame: &'a [u8],
}

/// Why a datagram gave no frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TzspError {
    /// Shorter than the 4-octet header.
    #[error("shorter than the TZSP header")]
    Short,
    /// A version other than 1.
    #[error("TZSP version {0} (only 1 exists)")]
    Version(u8),
    /// A type that carries no frame (configuration, keepalive, port opener) or is unknown.
    #[error("TZSP type {0} carries no packet")]
    NoPacket(u8),
    /// A tag whose length runs past the datagram, or a tag list without END.
    #[error("TZSP tag list cut short (a tag runs past the datagram, or no END tag)")]
    Tags,
}

impl TzspError {
    /// Whether the datagram is broken (as opposed to a well-formed one without a frame).
    pub fn is_malformed(self) -> bool {
        !matches!(self, TzspError::NoPacket(_))
    }
}

/// Reads one TZSP datagram down to the frame it carries.
pub fn decode(datagram: &[u8]) -> Result<Frame<'_>, TzspError> {
    let [version, kind, e0, e1, rest @ ..] = datagram else { return Err(TzspError::Short) };
    if *version != VERSION {
        return Err(TzspError::Version(*version));
    }
    if *kind != TYPE_RECEIVED && *kind != TYPE_TRANSMIT {
        return Err(TzspError::NoPacket(*kind));
    }
    let encapsulation = u16::from_be_bytes([*e0, *e1]);
    let mut at = 0usize;
    loop {
        match rest.get(at) {
            None => return Err(TzspError::Tags),
            Some(&TAG_END) => {
                let frame = rest.get(at + 1..).ok_or(TzspError::Tags)?;
                return Ok(Frame { kind: *kind, encapsulation, frame });
            }
            Some(&TAG_PADDING) => at += 1,
            Some(_) => {
                let len = usize::from(*rest.get(at + 1).ok_or(TzspError::Tags)?);
                at += 2 + len;
                if at > rest.len() {
                    return Err(TzspError::Tags);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An Ethernet frame's first octets (not parsed here).
    const FRAME: &[u8] = &[0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2, 0x08, 0x00, 0x45];

    fn datagram(header: &[u8], tags: &[u8], frame: &[u8]) -> Vec<u8> {
        [header, tags, frame].concat()
    }

    #[test]
    fn a_received_ethernet_frame_with_only_the_end_tag() {
        let d = datagram(&[1, 0, 0, 1], &[1], FRAME);
        assert_eq!(decode(&d), Ok(Frame { kind: TYPE_RECEIVED, encapsulation: ENCAP_ETHERNET, frame: FRAME }));
    }

    #[test]
    fn tags_with_lengths_and_padding_are_skipped() {
        // PADDING, RAW_RSSI (0x0a) of 1 octet, PADDING, RX_FRAME_LENGTH (0x29) of 2 octets whose value
        // is 0x01 0x01 (an END and a PADDING octet as data, not as tags), TIMESTAMP (0x0d) of 4, END.
        let tags = [0, 0x0a, 1, 0xc4, 0, 0x29, 2, 1, 0, 0x0d, 4, 0x61, 0x2a, 0x00, 0x01, 1];
        let d = datagram(&[1, 1, 0, 1], &tags, FRAME);
        let f = decode(&d).unwrap();
        assert_eq!((f.kind, f.encapsulation, f.frame), (TYPE_TRANSMIT, 1, FRAME));
    }

    #[test]
    fn a_tag_of_length_zero_and_an_empty_frame() {
        let d = datagram(&[1, 0, 0, 18], &[0x12, 0, 1], &[]);
        assert_eq!(decode(&d), Ok(Frame { kind: 0, encapsulation: 18, frame: &[] }));
    }

    #[test]
    fn types_without_a_packet_are_not_malformed() {
        for kind in [3u8, 4, 5, 2, 200] {
            let e = decode(&datagram(&[1, kind, 0, 1], &[1], FRAME)).unwrap_err();
            assert_eq!(e, TzspError::NoPacket(kind));
            assert!(!e.is_malformed());
        }
    }

    #[test]
    fn broken_datagrams_are_refused_with_their_reason() {
        let cases: [(&[u8], TzspError); 9] = [
            (&[], TzspError::Short),
            (&[1, 0, 0], TzspError::Short),
            (&[1, 0, 0, 1], TzspError::Tags),
            (&[2, 0, 0, 1, 1], TzspError::Version(2)),
            (&[0, 0, 0, 1, 1], TzspError::Version(0)),
            // A tag's length octet missing, a length past the end, padding only.
            (&[1, 0, 0, 1, 0x0a], TzspError::Tags),
            (&[1, 0, 0, 1, 0x0a, 5, 1, 1], TzspError::Tags),
            (&[1, 0, 0, 1, 0, 0, 0], TzspError::Tags),
            // The END octet is the data of the tag before it: no END follows.
            (&[1, 0, 0, 1, 0x0b, 1, 1], TzspError::Tags),
        ];
        for (d, want) in cases {
            assert_eq!(decode(d), Err(want), "{d:?}");
            assert!(want.is_malformed());
        }
    }

    #[test]
    fn a_tag_ending_exactly_at_the_end_needs_its_end_tag() {
        assert_eq!(decode(&[1, 0, 0, 1, 0x0b, 2, 7, 7]), Err(TzspError::Tags));
        assert_eq!(decode(&[1, 0, 0, 1, 0x0b, 2, 7, 7, 1]).map(|f| f.frame.len()), Ok(0));
    }
}
