//! The information elements the collector reads, and the lengths it accepts for each.
//!
//! Numbers are the IANA IPFIX registry's (RFC 7012 §5), which NetFlow v9 field types 1–79 share
//! (RFC 3954 §8). Every other element, and every enterprise-specific one, is skipped by its length.

/// A variable-length field (IPFIX only, RFC 7011 §7).
pub(crate) const VARIABLE_LENGTH: u16 = 65535;

/// What a field of a template means to the collector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Element {
    /// Not read: skipped by its length.
    Skip,
    /// octetDeltaCount (1).
    Octets,
    /// packetDeltaCount (2).
    Packets,
    /// protocolIdentifier (4).
    Protocol,
    /// tcpControlBits (6).
    TcpFlags,
    /// sourceTransportPort (7).
    SourcePort,
    /// destinationTransportPort (11).
    DestinationPort,
    /// sourceIPv4Address (8).
    SourceV4,
    /// destinationIPv4Address (12).
    DestinationV4,
    /// sourceIPv6Address (27).
    SourceV6,
    /// destinationIPv6Address (28).
    DestinationV6,
    /// flowStartSysUpTime (22), milliseconds since the exporter's boot.
    StartUptime,
    /// flowEndSysUpTime (21).
    EndUptime,
    /// flowStartSeconds (150).
    StartSeconds,
    /// flowEndSeconds (151).
    EndSeconds,
    /// flowStartMilliseconds (152).
    StartMilliseconds,
    /// flowEndMilliseconds (153).
    EndMilliseconds,
    /// systemInitTimeMilliseconds (160): the boot time that 21/22 count from, in IPFIX.
    SystemInit,
}

/// The element for a field specifier, or `None` when the length is not one its data type allows
/// (which makes the whole template unusable).
pub(crate) fn classify(id: u16, enterprise: bool, length: u16) -> Option<Element> {
    use Element::*;
    if enterprise {
        return Some(Skip);
    }
    // Unsigned integers may use reduced-size encoding (RFC 7011 §6.2); addresses and timestamps may not.
    let unsigned = |max: u16, e: Element| (1..=max).contains(&length).then_some(e);
    let exact = |n: u16, e: Element| (length == n).then_some(e);
    match id {
        1 => unsigned(8, Octets),
        2 => unsigned(8, Packets),
        4 => exact(1, Protocol),
        6 => unsigned(2, TcpFlags),
        7 => unsigned(2, SourcePort),
        11 => unsigned(2, DestinationPort),
        8 => exact(4, SourceV4),
        12 => exact(4, DestinationV4),
        27 => exact(16, SourceV6),
        28 => exact(16, DestinationV6),
        22 => exact(4, StartUptime),
        21 => exact(4, EndUptime),
        150 => exact(4, StartSeconds),
        151 => exact(4, EndSeconds),
        152 => exact(8, StartMilliseconds),
        153 => exact(8, EndMilliseconds),
        160 => exact(8, SystemInit),
        _ => Some(Skip),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_that_do_not_fit_the_type_are_refused() {
        assert_eq!(classify(8, false, 4), Some(Element::SourceV4));
        assert_eq!(classify(8, false, 16), None);
        assert_eq!(classify(27, false, 4), None);
        assert_eq!(classify(1, false, 4), Some(Element::Octets), "reduced-size encoding");
        assert_eq!(classify(1, false, 9), None);
        assert_eq!(classify(1, false, VARIABLE_LENGTH), None);
        assert_eq!(classify(152, false, 4), None);
        assert_eq!(classify(8, true, 1234), Some(Element::Skip), "enterprise elements are opaque");
        assert_eq!(classify(999, false, VARIABLE_LENGTH), Some(Element::Skip));
    }
}
