//! GTPv1-C information elements (TS 29.060 §7.7). Types 1-127 are TV: a fixed length per type that the
//! message does not carry (table [`tv_len`]), so an unknown TV type makes the rest of the message
//! unreadable and is an error. Types 128-255 are TLV with a two-octet length and are kept as they came
//! when unknown; type 141 (Extension Header Type List, §7.7.40) has a one-octet length.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::error::{DecodeError, ValueError};
use crate::tbcd::{decode_apn, decode_digits, encode_apn, encode_digits};
use crate::{Octets, Plmn};

/// A GTPv1 IE type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IeType(pub u8);

impl IeType {
    /// Cause (§7.7.1), TV 1.
    pub const CAUSE: IeType = IeType(1);
    /// IMSI (§7.7.2), TV 8.
    pub const IMSI: IeType = IeType(2);
    /// Routeing Area Identity (§7.7.3), TV 6.
    pub const RAI: IeType = IeType(3);
    /// Recovery (§7.7.11), TV 1.
    pub const RECOVERY: IeType = IeType(14);
    /// Selection Mode (§7.7.12), TV 1.
    pub const SELECTION_MODE: IeType = IeType(15);
    /// TEID Data I (§7.7.13), TV 4.
    pub const TEID_DATA_I: IeType = IeType(16);
    /// TEID Control Plane (§7.7.14), TV 4.
    pub const TEID_CONTROL_PLANE: IeType = IeType(17);
    /// Teardown Ind (§7.7.16), TV 1.
    pub const TEARDOWN_IND: IeType = IeType(19);
    /// NSAPI (§7.7.17), TV 1.
    pub const NSAPI: IeType = IeType(20);
    /// Charging Characteristics (§7.7.23), TV 2.
    pub const CHARGING_CHARACTERISTICS: IeType = IeType(26);
    /// Charging ID (§7.7.26), TV 4.
    pub const CHARGING_ID: IeType = IeType(127);
    /// End User Address (§7.7.27).
    pub const END_USER_ADDRESS: IeType = IeType(128);
    /// Access Point Name (§7.7.30).
    pub const APN: IeType = IeType(131);
    /// Protocol Configuration Options (§7.7.31).
    pub const PCO: IeType = IeType(132);
    /// GSN Address (§7.7.32).
    pub const GSN_ADDRESS: IeType = IeType(133);
    /// MSISDN (§7.7.33).
    pub const MSISDN: IeType = IeType(134);
    /// Quality of Service Profile (§7.7.34), kept raw.
    pub const QOS_PROFILE: IeType = IeType(135);
    /// Extension Header Type List (§7.7.40), one-octet length.
    pub const EXTENSION_HEADER_TYPE_LIST: IeType = IeType(141);
    /// Common Flags (§7.7.48).
    pub const COMMON_FLAGS: IeType = IeType(148);
    /// RAT Type (§7.7.50).
    pub const RAT_TYPE: IeType = IeType(151);
    /// User Location Information (§7.7.51).
    pub const ULI: IeType = IeType(152);
    /// MS Time Zone (§7.7.52).
    pub const MS_TIME_ZONE: IeType = IeType(153);
    /// IMEI(SV) (§7.7.53).
    pub const IMEI: IeType = IeType(154);
    /// Private Extension (§7.7.46).
    pub const PRIVATE_EXTENSION: IeType = IeType(255);

    /// Whether this type is TV (1-127).
    pub fn is_tv(self) -> bool {
        self.0 < 128
    }
}

/// The value length of a TV IE type (TS 29.060 §7.7 and table 37), `None` for a TV type the
/// specification does not define (and for TLV types).
pub fn tv_len(t: u8) -> Option<usize> {
    Some(match t {
        1 => 1,   // Cause
        2 => 8,   // IMSI
        3 => 6,   // RAI
        4 => 4,   // TLLI
        5 => 4,   // P-TMSI
        8 => 1,   // Reordering Required
        9 => 28,  // Authentication Triplet
        11 => 1,  // MAP Cause
        12 => 3,  // P-TMSI Signature
        13 => 1,  // MS Validated
        14 => 1,  // Recovery
        15 => 1,  // Selection Mode
        16 => 4,  // TEID Data I
        17 => 4,  // TEID Control Plane
        18 => 5,  // TEID Data II
        19 => 1,  // Teardown Ind
        20 => 1,  // NSAPI
        21 => 1,  // RANAP Cause
        22 => 9,  // RAB Context
        23 => 1,  // Radio Priority SMS
        24 => 1,  // Radio Priority
        25 => 2,  // Packet Flow Id
        26 => 2,  // Charging Characteristics
        27 => 2,  // Trace Reference
        28 => 2,  // Trace Type
        29 => 1,  // MS Not Reachable Reason
        127 => 4, // Charging ID
        _ => return None,
    })
}

/// One GTPv1 IE: its type and value (for TV types exactly [`tv_len`] octets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ie {
    /// The type.
    pub ie_type: IeType,
    /// The value, as it came.
    pub value: Octets,
}

/// GTPv1 User Location Information (§7.7.51): the geographic location type (0 CGI, 1 SAI, 2 RAI) and
/// its identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Uli1 {
    /// Geographic Location Type.
    pub location_type: u8,
    /// The PLMN.
    pub plmn: Plmn,
    /// The Location Area Code.
    pub lac: u16,
    /// The CI, SAC or RAC (the RAC in the high octet, 0xFF low, as §7.7.51 codes it).
    pub code: u16,
}

fn header_len(t: IeType) -> usize {
    if t.is_tv() {
        1
    } else if t == IeType::EXTENSION_HEADER_TYPE_LIST {
        2
    } else {
        3
    }
}

impl Ie {
    /// An IE with this type and value. For a TV type the value must be its fixed length.
    pub fn new(ie_type: IeType, value: impl Into<Octets>) -> Result<Ie, ValueError> {
        let value = value.into();
        let max = match ie_type {
            t if t.is_tv() => {
                let n = tv_len(t.0).ok_or(ValueError::new(t.0, "TV type not defined by TS 29.060"))?;
                if value.len() != n {
                    return Err(ValueError::new(t.0, "TV value of the wrong length"));
                }
                n
            }
            IeType::EXTENSION_HEADER_TYPE_LIST => u8::MAX as usize,
            _ => u16::MAX as usize,
        };
        if value.len() > max {
            return Err(ValueError::new(ie_type.0, "value longer than its length field allows"));
        }
        Ok(Ie { ie_type, value })
    }

    /// The IE's size on the wire.
    pub fn encoded_len(&self) -> usize {
        header_len(self.ie_type) + self.value.len()
    }

    /// Appends the IE.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        out.push(self.ie_type.0);
        match header_len(self.ie_type) {
            1 => {}
            2 => out.push(self.value.len() as u8),
            _ => out.extend_from_slice(&(self.value.len() as u16).to_be_bytes()),
        }
        out.extend_from_slice(&self.value);
    }

    fn need(&self, n: usize) -> Result<&[u8], ValueError> {
        if self.value.len() < n {
            return Err(ValueError::new(self.ie_type.0, "value shorter than its type"));
        }
        Ok(&self.value)
    }

    /// IMSI digits (§7.7.2).
    pub fn as_imsi(&self) -> Result<String, ValueError> {
        decode_digits(self.need(1)?).map_err(|r| ValueError::new(self.ie_type.0, r))
    }

    /// A one-octet value: Cause, Recovery, RAT Type, …
    pub fn as_u8(&self) -> Result<u8, ValueError> {
        Ok(self.need(1)?[0])
    }

    /// NSAPI (§7.7.17), 4 bits.
    pub fn as_nsapi(&self) -> Result<u8, ValueError> {
        Ok(self.need(1)?[0] & 0x0f)
    }

    /// Selection Mode (§7.7.12), 2 bits.
    pub fn as_selection_mode(&self) -> Result<u8, ValueError> {
        Ok(self.need(1)?[0] & 0x03)
    }

    /// A four-octet value: TEID Data I, TEID Control Plane, Charging ID.
    pub fn as_u32(&self) -> Result<u32, ValueError> {
        let b = self.need(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// APN (§7.7.30) as dotted text.
    pub fn as_apn(&self) -> Result<String, ValueError> {
        decode_apn(&self.value).map_err(|r| ValueError::new(self.ie_type.0, r))
    }

    /// GSN Address (§7.7.32): IPv4 or IPv6.
    pub fn as_gsn_address(&self) -> Result<IpAddr, ValueError> {
        let b = &self.value;
        match b.len() {
            4 => Ok(IpAddr::V4(Ipv4Addr::new(b[0], b[1], b[2], b[3]))),
            16 => {
                let mut a = [0u8; 16];
                a.copy_from_slice(b);
                Ok(IpAddr::V6(Ipv6Addr::from(a)))
            }
            _ => Err(ValueError::new(self.ie_type.0, "GSN address is neither 4 nor 16 octets")),
        }
    }

    /// MSISDN (§7.7.33) digits, after the extension/numbering-plan octet.
    pub fn as_msisdn(&self) -> Result<String, ValueError> {
        decode_digits(&self.need(2)?[1..]).map_err(|r| ValueError::new(self.ie_type.0, r))
    }

    /// End User Address (§7.7.27): PDP type organisation, PDP type number and the addresses present.
    pub fn as_end_user_address(&self) -> Result<(u8, u8, Option<Ipv4Addr>, Option<Ipv6Addr>), ValueError> {
        let b = self.need(2)?;
        let (org, num, a) = (b[0] & 0x0f, b[1], &b[2..]);
        let v6 = |s: &[u8]| {
            let mut x = [0u8; 16];
            x.copy_from_slice(s);
            Ipv6Addr::from(x)
        };
        let v4 = |s: &[u8]| Ipv4Addr::new(s[0], s[1], s[2], s[3]);
        Ok(match a.len() {
            0 => (org, num, None, None),
            4 => (org, num, Some(v4(a)), None),
            16 => (org, num, None, Some(v6(a))),
            20 => (org, num, Some(v4(&a[..4])), Some(v6(&a[4..]))),
            _ => return Err(ValueError::new(self.ie_type.0, "End User Address of an unexpected length")),
        })
    }

    /// User Location Information (§7.7.51).
    pub fn as_uli(&self) -> Result<Uli1, ValueError> {
        let b = self.need(8)?;
        Ok(Uli1 {
            location_type: b[0],
            plmn: Plmn::from_bytes([b[1], b[2], b[3]]).map_err(|r| ValueError::new(self.ie_type.0, r))?,
            lac: u16::from_be_bytes([b[4], b[5]]),
            code: u16::from_be_bytes([b[6], b[7]]),
        })
    }

    fn fixed(t: IeType, v: Vec<u8>) -> Ie {
        Ie { ie_type: t, value: v.into() }
    }

    /// An IMSI IE (at most 15 digits, padded with 0xF to 8 octets).
    pub fn imsi(digits: &str) -> Result<Ie, ValueError> {
        let mut v = encode_digits(digits).map_err(|r| ValueError::new(2, r))?;
        if v.len() > 8 {
            return Err(ValueError::new(2, "IMSI longer than 16 digits"));
        }
        v.resize(8, 0xff);
        Ok(Ie::fixed(IeType::IMSI, v))
    }

    /// A Cause IE.
    pub fn cause(value: u8) -> Ie {
        Ie::fixed(IeType::CAUSE, vec![value])
    }

    /// A Recovery IE.
    pub fn recovery(restart_counter: u8) -> Ie {
        Ie::fixed(IeType::RECOVERY, vec![restart_counter])
    }

    /// A Selection Mode IE (spare bits set to 1, as §7.7.12 codes them).
    pub fn selection_mode(mode: u8) -> Ie {
        Ie::fixed(IeType::SELECTION_MODE, vec![0xfc | (mode & 0x03)])
    }

    /// A TEID Data I IE.
    pub fn teid_data_i(teid: u32) -> Ie {
        Ie::fixed(IeType::TEID_DATA_I, teid.to_be_bytes().to_vec())
    }

    /// A TEID Control Plane IE.
    pub fn teid_control_plane(teid: u32) -> Ie {
        Ie::fixed(IeType::TEID_CONTROL_PLANE, teid.to_be_bytes().to_vec())
    }

    /// An NSAPI IE.
    pub fn nsapi(nsapi: u8) -> Ie {
        Ie::fixed(IeType::NSAPI, vec![nsapi & 0x0f])
    }

    /// An End User Address IE for IETF IPv4 (0x21), with the address if one is allocated.
    pub fn end_user_address_ipv4(addr: Option<Ipv4Addr>) -> Ie {
        let mut v = vec![0xf1, 0x21];
        if let Some(a) = addr {
            v.extend_from_slice(&a.octets());
        }
        Ie::fixed(IeType::END_USER_ADDRESS, v)
    }

    /// An APN IE.
    pub fn apn(apn: &str) -> Result<Ie, ValueError> {
        Ok(Ie::fixed(IeType::APN, encode_apn(apn).map_err(|r| ValueError::new(131, r))?))
    }

    /// A GSN Address IE.
    pub fn gsn_address(addr: IpAddr) -> Ie {
        Ie::fixed(
            IeType::GSN_ADDRESS,
            match addr {
                IpAddr::V4(a) => a.octets().to_vec(),
                IpAddr::V6(a) => a.octets().to_vec(),
            },
        )
    }

    /// An MSISDN IE: international number, ISDN numbering plan (0x91), then the digits.
    pub fn msisdn(digits: &str) -> Result<Ie, ValueError> {
        let mut v = vec![0x91];
        v.extend(encode_digits(digits).map_err(|r| ValueError::new(134, r))?);
        Ok(Ie::fixed(IeType::MSISDN, v))
    }

    /// A RAT Type IE (1 UTRAN, 2 GERAN, …).
    pub fn rat_type(rat: u8) -> Ie {
        Ie::fixed(IeType::RAT_TYPE, vec![rat])
    }

    /// A User Location Information IE.
    pub fn uli(u: &Uli1) -> Ie {
        let mut v = vec![u.location_type];
        v.extend_from_slice(&u.plmn.to_bytes());
        v.extend_from_slice(&u.lac.to_be_bytes());
        v.extend_from_slice(&u.code.to_be_bytes());
        Ie::fixed(IeType::ULI, v)
    }

    /// A Quality of Service Profile IE, kept as given (allocation/retention priority octet first).
    pub fn qos_profile(raw: impl Into<Octets>) -> Ie {
        Ie { ie_type: IeType::QOS_PROFILE, value: raw.into() }
    }
}

/// Decodes the IEs in `buf[start..end]`.
pub(crate) fn decode_list(buf: &[u8], start: usize, end: usize) -> Result<Vec<Ie>, DecodeError> {
    let mut ies = Vec::with_capacity(((end - start) / 4).min(64));
    let mut at = start;
    while at < end {
        let t = IeType(buf[at]);
        let left = end - at;
        let (hlen, len) = if t.is_tv() {
            (1, tv_len(t.0).ok_or(DecodeError::UnknownTvIe { offset: at, ie_type: t.0 })?)
        } else {
            let hlen = header_len(t);
            if left < hlen {
                return Err(DecodeError::TruncatedIe {
                    offset: at,
                    ie_type: Some(t.0),
                    parent: None,
                    need: hlen,
                    have: left,
                });
            }
            let len =
                if hlen == 2 { buf[at + 1] as usize } else { u16::from_be_bytes([buf[at + 1], buf[at + 2]]) as usize };
            (hlen, len)
        };
        if hlen + len > left {
            if t.is_tv() {
                return Err(DecodeError::TruncatedIe {
                    offset: at,
                    ie_type: Some(t.0),
                    parent: None,
                    need: 1 + len,
                    have: left,
                });
            }
            return Err(DecodeError::IeOverrun {
                offset: at,
                ie_type: t.0,
                instance: 0,
                length: len,
                available: left - hlen,
                parent: None,
            });
        }
        ies.push(Ie { ie_type: t, value: Octets::from_window(buf, at + hlen, len) });
        at += hlen + len;
    }
    Ok(ies)
}
