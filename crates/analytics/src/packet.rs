//! From a captured frame to a TCP or UDP payload and its 5-tuple: Ethernet (with up to two VLAN
//! tags), Linux cooked capture (SLL, SLL2), raw IP and BSD loopback; IPv4 (non-first fragments
//! skipped) and IPv6 (hop-by-hop, routing, destination options and fragment headers walked).
//! No reassembly: each packet's payload is read on its own.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::FiveTuple;

/// A transport payload found in a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transport<'a> {
    /// Addresses, ports, protocol (6 or 17).
    pub tuple: FiveTuple,
    /// The TCP or UDP payload (possibly empty, possibly cut by the snapshot length).
    pub payload: &'a [u8],
}

/// Why a frame gave no payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Skip {
    /// A link type this parser does not read.
    LinkType,
    /// Not IPv4 or IPv6 (ARP, LLDP, …).
    NotIp,
    /// An IP protocol other than TCP and UDP.
    OtherProtocol,
    /// A non-first IPv4 or IPv6 fragment (its ports are in another packet).
    Fragment,
    /// Headers shorter than they say.
    Malformed,
}

/// Reads one frame of the given LINKTYPE down to its transport payload.
pub fn parse(link_type: u32, frame: &[u8]) -> Result<Transport<'_>, Skip> {
    let (ethertype, ip) = match link_type {
        1 => ethernet(frame)?,
        113 => (be16(frame, 14).ok_or(Skip::Malformed)?, frame.get(16..).ok_or(Skip::Malformed)?),
        276 => (be16(frame, 0).ok_or(Skip::Malformed)?, frame.get(20..).ok_or(Skip::Malformed)?),
        101 | 12 | 14 => (raw_ethertype(frame)?, frame),
        228 => (0x0800, frame),
        229 => (0x86dd, frame),
        0 | 108 => {
            let family = frame.get(..4).ok_or(Skip::Malformed)?;
            // Host byte order for DLT_NULL: look at whichever end is non-zero.
            let value = if family[0] != 0 { u32::from(family[0]) } else { u32::from(family[3]) };
            let ethertype = match value {
                2 => 0x0800,
                24 | 28 | 30 => 0x86dd,
                _ => return Err(Skip::NotIp),
            };
            (ethertype, &frame[4..])
        }
        _ => return Err(Skip::LinkType),
    };
    match ethertype {
        0x0800 => ipv4(ip),
        0x86dd => ipv6(ip),
        _ => Err(Skip::NotIp),
    }
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

fn raw_ethertype(frame: &[u8]) -> Result<u16, Skip> {
    match frame.first().map(|b| b >> 4) {
        Some(4) => Ok(0x0800),
        Some(6) => Ok(0x86dd),
        Some(_) => Err(Skip::NotIp),
        None => Err(Skip::Malformed),
    }
}

fn ethernet(frame: &[u8]) -> Result<(u16, &[u8]), Skip> {
    let mut at = 12;
    let mut ethertype = be16(frame, at).ok_or(Skip::Malformed)?;
    for _ in 0..2 {
        if ethertype == 0x8100 || ethertype == 0x88a8 {
            at += 4;
            ethertype = be16(frame, at).ok_or(Skip::Malformed)?;
        }
    }
    Ok((ethertype, frame.get(at + 2..).ok_or(Skip::Malformed)?))
}

fn ipv4(p: &[u8]) -> Result<Transport<'_>, Skip> {
    if p.len() < 20 || p[0] >> 4 != 4 {
        return Err(Skip::Malformed);
    }
    let header = usize::from(p[0] & 0x0f) * 4;
    let total = match usize::from(be16(p, 2).ok_or(Skip::Malformed)?) {
        // Captures taken before segmentation offload show a total length of 0: trust the capture.
        0 => p.len(),
        n => n,
    };
    if header < 20 || total < header || p.len() < header {
        return Err(Skip::Malformed);
    }
    let fragment_offset = be16(p, 6).ok_or(Skip::Malformed)? & 0x1fff;
    if fragment_offset != 0 {
        return Err(Skip::Fragment);
    }
    let src = IpAddr::V4(Ipv4Addr::new(p[12], p[13], p[14], p[15]));
    let dst = IpAddr::V4(Ipv4Addr::new(p[16], p[17], p[18], p[19]));
    // Ethernet padding after the datagram is not payload; a snapshot may have cut it shorter.
    let body = &p[header..total.min(p.len())];
    transport(p[9], src, dst, body)
}

fn ipv6(p: &[u8]) -> Result<Transport<'_>, Skip> {
    if p.len() < 40 || p[0] >> 4 != 6 {
        return Err(Skip::Malformed);
    }
    let payload_len = usize::from(be16(p, 4).ok_or(Skip::Malformed)?);
    let mut octets = [0u8; 16];
    octets.copy_from_slice(&p[8..24]);
    let src = IpAddr::V6(Ipv6Addr::from(octets));
    octets.copy_from_slice(&p[24..40]);
    let dst = IpAddr::V6(Ipv6Addr::from(octets));
    let mut next = p[6];
    let mut body = &p[40..(40 + payload_len).min(p.len())];
    for _ in 0..8 {
        match next {
            0 | 43 | 60 => {
                let len = (usize::from(*body.get(1).ok_or(Skip::Malformed)?) + 1) * 8;
                next = body[0];
                body = body.get(len..).ok_or(Skip::Malformed)?;
            }
            44 => {
                let fragment = body.get(..8).ok_or(Skip::Malformed)?;
                if be16(fragment, 2).ok_or(Skip::Malformed)? >> 3 != 0 {
                    return Err(Skip::Fragment);
                }
                next = fragment[0];
                body = &body[8..];
            }
            _ => break,
        }
    }
    transport(next, src, dst, body)
}

fn transport(proto: u8, src: IpAddr, dst: IpAddr, body: &[u8]) -> Result<Transport<'_>, Skip> {
    let (sport, dport) = (be16(body, 0), be16(body, 2));
    let payload = match proto {
        6 => {
            let offset = usize::from(*body.get(12).ok_or(Skip::Malformed)? >> 4) * 4;
            if offset < 20 {
                return Err(Skip::Malformed);
            }
            body.get(offset..).ok_or(Skip::Malformed)?
        }
        17 => {
            let length = usize::from(be16(body, 4).ok_or(Skip::Malformed)?);
            // A header cut short (fewer than 8 octets) is malformed whatever its length field says.
            if length < 8 || body.len() < 8 {
                return Err(Skip::Malformed);
            }
            &body[8..length.min(body.len())]
        }
        _ => return Err(Skip::OtherProtocol),
    };
    let (Some(sport), Some(dport)) = (sport, dport) else { return Err(Skip::Malformed) };
    Ok(Transport { tuple: FiveTuple { src, dst, sport, dport, proto }, payload })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn udp4(payload: &[u8]) -> Vec<u8> {
        let mut p = vec![0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2];
        let total = (20 + 8 + payload.len()) as u16;
        p[2..4].copy_from_slice(&total.to_be_bytes());
        p.extend(1234u16.to_be_bytes());
        p.extend(53u16.to_be_bytes());
        p.extend(((8 + payload.len()) as u16).to_be_bytes());
        p.extend([0, 0]);
        p.extend_from_slice(payload);
        p
    }

    #[test]
    fn a_udp_header_cut_after_its_length_field_is_malformed() {
        // Found by `never_panics.rs`: a 6-octet UDP header whose length field says 8 or more.
        let src = IpAddr::from([10, 0, 0, 1]);
        assert!(matches!(transport(17, src, src, &[0x04, 0xd2, 0, 53, 0, 8]), Err(Skip::Malformed)));
        assert!(matches!(transport(17, src, src, &[0x04, 0xd2, 0, 53, 0xff, 0xff]), Err(Skip::Malformed)));
        let ok = transport(17, src, src, &[0x04, 0xd2, 0, 53, 0, 10, 0, 0, 1, 2]).unwrap();
        assert_eq!(ok.payload, &[1, 2]);
    }

    #[test]
    fn ethernet_vlan_ipv4_udp() {
        let mut frame = vec![0u8; 12];
        frame.extend([0x81, 0x00, 0x00, 0x05, 0x08, 0x00]);
        frame.extend(udp4(b"hello"));
        frame.extend([0u8; 6]); // Ethernet padding
        let t = parse(1, &frame).unwrap();
        assert_eq!(t.payload, b"hello");
        assert_eq!(t.tuple.to_string(), "udp 10.0.0.1:1234 -> 10.0.0.2:53");
    }

    #[test]
    fn a_total_length_of_zero_means_the_captured_length() {
        let mut p = udp4(b"offloaded");
        p[2..4].copy_from_slice(&[0, 0]);
        assert_eq!(parse(228, &p).unwrap().payload, b"offloaded");
    }

    #[test]
    fn fragments_other_protocols_and_short_headers_are_skipped() {
        let mut frag = udp4(b"x");
        frag[6..8].copy_from_slice(&0x0010u16.to_be_bytes());
        assert_eq!(parse(101, &frag), Err(Skip::Fragment));
        let mut icmp = udp4(b"x");
        icmp[9] = 1;
        assert_eq!(parse(101, &icmp), Err(Skip::OtherProtocol));
        assert_eq!(parse(101, &udp4(b"x")[..24]), Err(Skip::Malformed));
        assert_eq!(parse(1, &[0u8; 10]), Err(Skip::Malformed));
        assert_eq!(parse(147, &[0u8; 10]), Err(Skip::LinkType));
    }
}
