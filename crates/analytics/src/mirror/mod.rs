//! Mirrored packets over UDP, for live DPI: each datagram carries one packet, either TZSP-encapsulated
//! ([`tzsp`], what MikroTik and other probes send) or as a bare IPv4/IPv6 packet ("raw IP in UDP").
//! [`decode`] takes a datagram down to the packet's TCP/UDP payload and 5-tuple with
//! [`crate::packet::parse`]. Sans-IO; never panics on any input.

pub mod tzsp;

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::packet::{self, Skip, Transport};

/// LINKTYPE_ETHERNET (tcpdump.org link-layer header types).
const LINKTYPE_ETHERNET: u32 = 1;
/// LINKTYPE_RAW: the packet begins with an IPv4 or IPv6 header.
const LINKTYPE_RAW: u32 = 101;

/// How mirrored packets are wrapped in the UDP datagrams.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MirrorFormat {
    /// TZSP (type 0 or 1, Ethernet encapsulation).
    #[default]
    Tzsp,
    /// One IPv4 or IPv6 packet per datagram.
    Ip,
}

/// Why a datagram gave no payload to scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Unscanned {
    /// Not what the format says: a broken TZSP header or tag list, a raw-IP datagram that is not an
    /// IP packet, IP or transport headers shorter than they claim.
    Malformed,
    /// Well formed but nothing to scan: a TZSP keepalive or configuration message, an encapsulation
    /// other than Ethernet, a frame that is not IP (ARP…), a protocol other than TCP and UDP, a
    /// non-first fragment.
    Unsupported,
}

impl Unscanned {
    /// The metrics label: `malformed` or `unsupported`.
    pub fn as_str(self) -> &'static str {
        match self {
            Unscanned::Malformed => "malformed",
            Unscanned::Unsupported => "unsupported",
        }
    }
}

impl fmt::Display for Unscanned {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The packet a datagram carries, down to its TCP or UDP payload.
pub fn decode(format: MirrorFormat, datagram: &[u8]) -> Result<Transport<'_>, Unscanned> {
    let parsed = match format {
        MirrorFormat::Tzsp => {
            let frame = tzsp::decode(datagram).map_err(|e| {
                if e.is_malformed() {
                    Unscanned::Malformed
                } else {
                    Unscanned::Unsupported
                }
            })?;
            if frame.encapsulation != tzsp::ENCAP_ETHERNET {
                return Err(Unscanned::Unsupported);
            }
            packet::parse(LINKTYPE_ETHERNET, frame.frame)
        }
        // A datagram that does not start with an IP header is not what the format promises.
        MirrorFormat::Ip => packet::parse(LINKTYPE_RAW, datagram).map_err(|s| match s {
            Skip::NotIp => Skip::Malformed,
            other => other,
        }),
    };
    parsed.map_err(|s| match s {
        Skip::Malformed => Unscanned::Malformed,
        Skip::LinkType | Skip::NotIp | Skip::OtherProtocol | Skip::Fragment => Unscanned::Unsupported,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// IPv4 (RFC 791) 10.45.0.2 → 198.51.100.20, UDP (RFC 768) 40000 → 5683, payload "hi".
    fn ipv4_udp() -> Vec<u8> {
        let mut p = vec![0x45, 0, 0, 30, 0, 1, 0, 0, 64, 17, 0, 0, 10, 45, 0, 2, 198, 51, 100, 20];
        p.extend_from_slice(&[0x9c, 0x40, 0x16, 0x33, 0, 10, 0, 0, b'h', b'i']);
        p
    }

    fn ethernet(ip: &[u8]) -> Vec<u8> {
        [&[0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2, 0x08, 0x00][..], ip].concat()
    }

    #[test]
    fn tzsp_ethernet_and_raw_ip_give_the_same_payload_and_tuple() {
        let tz = [&[1u8, 0, 0, 1, 0x0a, 1, 0xc4, 1][..], &ethernet(&ipv4_udp())].concat();
        let a = decode(MirrorFormat::Tzsp, &tz).unwrap();
        let ip = ipv4_udp();
        let b = decode(MirrorFormat::Ip, &ip).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.payload, b"hi");
        assert_eq!(a.tuple.to_string(), "udp 10.45.0.2:40000 -> 198.51.100.20:5683");
    }

    #[test]
    fn what_cannot_be_scanned_is_malformed_or_unsupported() {
        let eth = ethernet(&ipv4_udp());
        let cases: Vec<(MirrorFormat, Vec<u8>, Unscanned)> = vec![
            (MirrorFormat::Tzsp, b"garbage".to_vec(), Unscanned::Malformed),
            (MirrorFormat::Tzsp, [&[1u8, 4, 0, 1, 1][..], &eth].concat(), Unscanned::Unsupported),
            (MirrorFormat::Tzsp, [&[1u8, 0, 0, 18, 1][..], &eth].concat(), Unscanned::Unsupported),
            (MirrorFormat::Tzsp, [&[1u8, 0, 0, 1, 1][..], &eth[..20]].concat(), Unscanned::Malformed),
            // ARP in Ethernet.
            (
                MirrorFormat::Tzsp,
                [&[1u8, 0, 0, 1, 1][..], &eth[..12], &[0x08, 0x06, 0, 1]].concat(),
                Unscanned::Unsupported,
            ),
            (MirrorFormat::Ip, b"garbage".to_vec(), Unscanned::Malformed),
            (MirrorFormat::Ip, Vec::new(), Unscanned::Malformed),
            (MirrorFormat::Ip, ipv4_udp()[..24].to_vec(), Unscanned::Malformed),
        ];
        for (format, d, want) in cases {
            assert_eq!(decode(format, &d), Err(want), "{format:?} {d:?}");
        }
        // ICMP (protocol 1).
        let mut icmp = ipv4_udp();
        icmp[9] = 1;
        assert_eq!(decode(MirrorFormat::Ip, &icmp), Err(Unscanned::Unsupported));
    }
}
