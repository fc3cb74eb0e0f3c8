//! Flow records and the 5-tuple shared by the collector, the packet parser and the DPI reports.

use std::fmt;
use std::net::IpAddr;

use serde::Serialize;

/// The 5-tuple of a packet or flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct FiveTuple {
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// Source port (0 for protocols without ports).
    pub sport: u16,
    /// Destination port (0 for protocols without ports).
    pub dport: u16,
    /// IP protocol number (6 TCP, 17 UDP, …).
    pub proto: u8,
}

impl FiveTuple {
    /// The protocol's usual name (`tcp`, `udp`, `icmp`, `icmpv6`, `sctp`) or its number.
    pub fn proto_name(&self) -> String {
        match self.proto {
            1 => "icmp".into(),
            6 => "tcp".into(),
            17 => "udp".into(),
            58 => "icmpv6".into(),
            132 => "sctp".into(),
            n => n.to_string(),
        }
    }
}

impl fmt::Display for FiveTuple {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let addr = |ip: &IpAddr, port: u16| match ip {
            IpAddr::V4(v4) => format!("{v4}:{port}"),
            IpAddr::V6(v6) => format!("[{v6}]:{port}"),
        };
        write!(f, "{} {} -> {}", self.proto_name(), addr(&self.src, self.sport), addr(&self.dst, self.dport))
    }
}

/// One flow record as an exporter reported it (IPFIX or NetFlow v9).
///
/// Counters are deltas for the reporting interval (octetDeltaCount, packetDeltaCount). Times are Unix
/// milliseconds, absent when the record carried none that could be placed in absolute time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Flow {
    /// The exporter the datagram came from.
    pub exporter: IpAddr,
    /// IPFIX observation domain ID or NetFlow v9 source ID.
    pub observation_domain: u32,
    /// Source and destination addresses, ports and protocol.
    pub tuple: FiveTuple,
    /// Bytes in the interval (octetDeltaCount, IE 1).
    pub octets: u64,
    /// Packets in the interval (packetDeltaCount, IE 2).
    pub packets: u64,
    /// First packet, Unix milliseconds.
    pub start_ms: Option<u64>,
    /// Last packet, Unix milliseconds.
    pub end_ms: Option<u64>,
    /// TCP flags seen, OR-ed (tcpControlBits, IE 6), when exported.
    pub tcp_flags: Option<u16>,
}
