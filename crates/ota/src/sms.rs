//! SMS-PP download (3GPP TS 23.040 §9.2.2.1 with TS 31.115 §4): command packets as SMS-DELIVER
//! TPDUs with TP-PID 0x7F (USIM data download), TP-DCS 0xF6 (class 2, 8-bit data) and a user data
//! header carrying IEI 0x70 (command packet); packets longer than one SMS are split with the 8-bit
//! reference concatenation IEI 0x00, IEI 0x70 in the first segment only. Also the card side:
//! parsing an SMS-DELIVER and reassembling the packet.

use crate::error::{Field, OtaError, Result};

/// Octets of user data in one SMS.
pub const MAX_USER_DATA: usize = 140;
/// TP-PID: (U)SIM data download.
pub const PID_SIM_DATA_DOWNLOAD: u8 = 0x7F;
/// TP-DCS: class 2 (SIM specific), 8-bit data.
pub const DCS_CLASS2_8BIT: u8 = 0xF6;
/// IEI of a command packet.
pub const IEI_COMMAND_PACKET: u8 = 0x70;
/// IEI of 8-bit reference concatenation.
pub const IEI_CONCAT_8BIT: u8 = 0x00;

/// A TP address (TS 23.040 §9.1.2.5): semi-octet digits with type of number and numbering plan.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Address {
    /// Type of number and numbering plan octet (0x91 international ISDN, 0x81 unknown ISDN).
    pub ton_npi: u8,
    /// The digits (0-9, *, #, a, b, c).
    pub digits: String,
}

fn nibble(c: char) -> Option<u8> {
    match c {
        '0'..='9' => Some(c as u8 - b'0'),
        '*' => Some(0xA),
        '#' => Some(0xB),
        'a' | 'A' => Some(0xC),
        'b' | 'B' => Some(0xD),
        'c' | 'C' => Some(0xE),
        _ => None,
    }
}

fn digit(n: u8) -> Option<char> {
    match n {
        0..=9 => Some((b'0' + n) as char),
        0xA => Some('*'),
        0xB => Some('#'),
        0xC => Some('a'),
        0xD => Some('b'),
        0xE => Some('c'),
        _ => None,
    }
}

impl Address {
    /// "+4912345" is an international number (0x91); other digit strings are of unknown type (0x81).
    pub fn parse(s: &str) -> Result<Address> {
        let (ton_npi, digits) = match s.strip_prefix('+') {
            Some(d) => (0x91, d),
            None => (0x81, s),
        };
        if digits.is_empty() || digits.len() > 20 || digits.chars().any(|c| nibble(c).is_none()) {
            return Err(OtaError::invalid(Field::Originator, format!("{s:?} is not 1-20 address digits")));
        }
        Ok(Address { ton_npi, digits: digits.to_ascii_lowercase() })
    }

    fn encode(&self, out: &mut Vec<u8>) {
        out.push(self.digits.len() as u8);
        out.push(self.ton_npi);
        let n: Vec<u8> = self.digits.chars().filter_map(nibble).collect();
        out.extend(n.chunks(2).map(|p| p[0] | (p.get(1).copied().unwrap_or(0xF) << 4)));
    }
}

/// The service centre time stamp: 7 semi-octet bytes (year, month, day, hour, minute, second, zone).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Scts(pub [u8; 7]);

impl Scts {
    /// From the 7 bytes on the wire.
    pub fn from_slice(b: &[u8]) -> Result<Scts> {
        b.try_into().map(Scts).map_err(|_| OtaError::Length { field: Field::Scts, expected: "7 bytes", got: b.len() })
    }

    /// The time stamp of a UTC date and time (zone 00); the year is taken modulo 100.
    pub fn from_utc(year: u16, month: u8, day: u8, hour: u8, minute: u8, second: u8) -> Result<Scts> {
        if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 59 {
            return Err(OtaError::invalid(
                Field::Scts,
                format!("{year:04}-{month:02}-{day:02} {hour:02}:{minute:02}:{second:02} is not a date and time"),
            ));
        }
        let swap = |v: u8| ((v % 10) << 4) | (v / 10);
        Ok(Scts([swap((year % 100) as u8), swap(month), swap(day), swap(hour), swap(minute), swap(second), 0]))
    }
}

/// The user data of each SMS for a command packet (UDH included), split when it does not fit one SMS.
/// `reference` is the concatenation reference (unique among the SIM's recent concatenated messages).
pub fn user_data_segments(packet: &[u8], reference: u8) -> Result<Vec<Vec<u8>>> {
    if packet.len() + 3 <= MAX_USER_DATA {
        return Ok(vec![[&[0x02, IEI_COMMAND_PACKET, 0x00][..], packet].concat()]);
    }
    let first_room = MAX_USER_DATA - 8;
    let other_room = MAX_USER_DATA - 6;
    let total = 1 + (packet.len() - first_room).div_ceil(other_room);
    if total > 255 {
        return Err(OtaError::Length {
            field: Field::Apdu,
            expected: "a packet that fits 255 concatenated SMS",
            got: packet.len(),
        });
    }
    let mut out = Vec::with_capacity(total);
    let mut rest = packet;
    for seq in 1..=total {
        let room = if seq == 1 { first_room } else { other_room };
        let (part, tail) = rest.split_at(room.min(rest.len()));
        let mut ud = if seq == 1 {
            vec![0x07, IEI_CONCAT_8BIT, 0x03, reference, total as u8, 1, IEI_COMMAND_PACKET, 0x00]
        } else {
            vec![0x05, IEI_CONCAT_8BIT, 0x03, reference, total as u8, seq as u8]
        };
        ud.extend_from_slice(part);
        out.push(ud);
        rest = tail;
    }
    Ok(out)
}

/// One SMS-DELIVER TPDU: TP-MTI 00, TP-UDHI 1, TP-MMS 0 ("more messages waiting") unless `last`,
/// TP-PID 0x7F, TP-DCS 0xF6.
pub fn sms_deliver(originator: &Address, scts: &Scts, user_data: &[u8], last: bool) -> Vec<u8> {
    let mut out = vec![0x40 | if last { 0x04 } else { 0x00 }];
    originator.encode(&mut out);
    out.extend_from_slice(&[PID_SIM_DATA_DOWNLOAD, DCS_CLASS2_8BIT]);
    out.extend_from_slice(&scts.0);
    out.push(user_data.len() as u8);
    out.extend_from_slice(user_data);
    out
}

/// The SMS-DELIVER TPDUs carrying a command packet.
pub fn deliver_tpdus(originator: &Address, scts: &Scts, packet: &[u8], reference: u8) -> Result<Vec<Vec<u8>>> {
    let segments = user_data_segments(packet, reference)?;
    let n = segments.len();
    Ok(segments.iter().enumerate().map(|(i, ud)| sms_deliver(originator, scts, ud, i + 1 == n)).collect())
}

/// A parsed SMS-DELIVER.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deliver {
    /// First octet (MTI, MMS, UDHI, …).
    pub first_octet: u8,
    /// Originating address.
    pub originator: Address,
    /// TP-PID.
    pub pid: u8,
    /// TP-DCS.
    pub dcs: u8,
    /// Service centre time stamp.
    pub scts: Scts,
    /// User data (8-bit), UDH included.
    pub user_data: Vec<u8>,
}

fn short(what: &'static str, need: usize, got: usize) -> OtaError {
    OtaError::Truncated { field: Field::Packet, what, need, got }
}

/// Parses an SMS-DELIVER with 8-bit user data.
pub fn parse_deliver(tpdu: &[u8]) -> Result<Deliver> {
    if tpdu.len() < 2 {
        return Err(short("first octet and address length", 2, tpdu.len()));
    }
    if tpdu[0] & 0x03 != 0 {
        return Err(OtaError::malformed(Field::Packet, format!("TP-MTI {} is not SMS-DELIVER", tpdu[0] & 3)));
    }
    let n_digits = usize::from(tpdu[1]);
    let addr_end = 3 + n_digits.div_ceil(2);
    let fixed_end = addr_end + 2 + 7 + 1;
    if tpdu.len() < fixed_end {
        return Err(short("address, PID, DCS, SCTS and UDL", fixed_end, tpdu.len()));
    }
    let mut digits = String::new();
    for b in &tpdu[3..addr_end] {
        for n in [b & 0xF, b >> 4] {
            if digits.len() < n_digits {
                digits
                    .push(digit(n).ok_or_else(|| {
                        OtaError::malformed(Field::Packet, "address digit is not a semi-octet digit")
                    })?);
            }
        }
    }
    let (pid, dcs) = (tpdu[addr_end], tpdu[addr_end + 1]);
    if dcs & 0x0C != 0x04 {
        return Err(OtaError::malformed(Field::Packet, format!("TP-DCS {dcs:#04x} is not 8-bit data")));
    }
    let scts = Scts::from_slice(&tpdu[addr_end + 2..addr_end + 9])?;
    let udl = usize::from(tpdu[fixed_end - 1]);
    let ud = &tpdu[fixed_end..];
    if ud.len() != udl {
        return Err(OtaError::malformed(Field::Packet, format!("TP-UDL says {udl} octets, {} follow", ud.len())));
    }
    Ok(Deliver {
        first_octet: tpdu[0],
        originator: Address { ton_npi: tpdu[2], digits },
        pid,
        dcs,
        scts,
        user_data: ud.to_vec(),
    })
}

/// One SMS of a command: its concatenation IE (reference, total, sequence), whether it carries
/// IEI 0x70, and the data after the UDH.
type Segment<'a> = (Option<(u8, u8, u8)>, bool, &'a [u8]);

/// Card side: the command packet carried by the user data of one SMS or of all the segments of a
/// concatenated one (any order). Checks IEI 0x70, the references, the count and the sequence.
pub fn reassemble(segments: &[&[u8]]) -> Result<Vec<u8>> {
    let mut parts: Vec<Segment<'_>> = Vec::new();
    for ud in segments {
        let (&udhl, rest) = ud.split_first().ok_or_else(|| short("UDH", 1, 0))?;
        let udhl = usize::from(udhl);
        if rest.len() < udhl {
            return Err(short("UDH", udhl + 1, ud.len()));
        }
        let (mut udh, body) = rest.split_at(udhl);
        let (mut concat, mut cp) = (None, false);
        while !udh.is_empty() {
            if udh.len() < 2 || udh.len() < 2 + usize::from(udh[1]) {
                return Err(OtaError::malformed(Field::Packet, "UDH information element overruns the UDH"));
            }
            let (iei, value) = (udh[0], &udh[2..2 + usize::from(udh[1])]);
            match (iei, value) {
                (IEI_COMMAND_PACKET, _) => cp = true,
                (IEI_CONCAT_8BIT, [r, t, s]) => concat = Some((*r, *t, *s)),
                (IEI_CONCAT_8BIT, _) => {
                    return Err(OtaError::malformed(Field::Packet, "concatenation IE is not 3 bytes"))
                }
                _ => {}
            }
            udh = &udh[2 + value.len()..];
        }
        parts.push((concat, cp, body));
    }
    match parts.as_slice() {
        [] => Err(short("SMS", 1, 0)),
        [(None, true, body)] => Ok(body.to_vec()),
        [(None, false, _)] => Err(OtaError::malformed(Field::Packet, "no command packet IE (0x70) in the UDH")),
        _ => {
            let Some((reference, total, _)) = parts[0].0 else {
                return Err(OtaError::malformed(Field::Packet, "several SMS without concatenation IEs"));
            };
            if usize::from(total) != parts.len() {
                return Err(OtaError::malformed(Field::Packet, format!("{} of {total} segments present", parts.len())));
            }
            let mut ordered: Vec<Option<&[u8]>> = vec![None; parts.len()];
            for (c, cp, body) in &parts {
                let Some((r, t, s)) = *c else {
                    return Err(OtaError::malformed(Field::Packet, "a segment lacks the concatenation IE"));
                };
                if r != reference || t != total || s == 0 || s > total || ordered[usize::from(s) - 1].is_some() {
                    return Err(OtaError::malformed(
                        Field::Packet,
                        format!("segment {s}/{t} (reference {r}) does not belong"),
                    ));
                }
                if *cp != (s == 1) {
                    return Err(OtaError::malformed(Field::Packet, "IEI 0x70 must be in the first segment only"));
                }
                ordered[usize::from(s) - 1] = Some(body);
            }
            Ok(ordered.into_iter().flatten().flatten().copied().collect())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scts_is_semi_octets() {
        // 2022-07-25 00:00:00 UTC is pySim's test time stamp 22705200000000.
        assert_eq!(Scts::from_utc(2022, 7, 25, 0, 0, 0).unwrap().0, [0x22, 0x70, 0x52, 0, 0, 0, 0]);
        assert_eq!(Scts::from_utc(2000, 2, 29, 13, 5, 59).unwrap().0, [0x00, 0x20, 0x92, 0x31, 0x50, 0x95, 0]);
        assert!(Scts::from_utc(2026, 13, 1, 0, 0, 0).is_err());
    }

    #[test]
    fn long_packets_are_concatenated_and_reassembled() {
        let packet: Vec<u8> = (0..400u32).map(|i| i as u8).collect();
        let segs = user_data_segments(&packet, 7).unwrap();
        assert_eq!(segs.len(), 3);
        assert!(segs.iter().all(|s| s.len() <= MAX_USER_DATA));
        assert_eq!(&segs[0][..8], &[0x07, 0x00, 0x03, 7, 3, 1, 0x70, 0x00]);
        assert_eq!(&segs[2][..6], &[0x05, 0x00, 0x03, 7, 3, 3]);
        let mut refs: Vec<&[u8]> = segs.iter().map(Vec::as_slice).collect();
        refs.reverse();
        assert_eq!(reassemble(&refs).unwrap(), packet);
        assert!(reassemble(&refs[..2]).unwrap_err().to_string().contains("2 of 3"));
        let oa = Address::parse("+4912345").unwrap();
        let t = deliver_tpdus(&oa, &Scts([0; 7]), &packet, 7).unwrap();
        assert_eq!((t[0][0], t[2][0]), (0x40, 0x44));
        let d = parse_deliver(&t[1]).unwrap();
        assert_eq!((d.originator, d.pid, d.dcs, d.user_data), (oa, 0x7F, 0xF6, segs[1].clone()));
    }
}
