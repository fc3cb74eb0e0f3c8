//! Typed values of the GTPv2-C IEs a firewall screens (TS 29.274 §8): `Ie::as_*` reads one from an IE
//! (trailing octets of extendable IEs are ignored), `Ie::*` constructors make one for the builder.
//! Reading never changes the IE, so a relayed message stays byte-identical.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use crate::error::ValueError;
use crate::tbcd::{decode_apn, decode_digits, encode_apn, encode_digits};
use crate::v2::{Ie, IeType};
use crate::Plmn;

/// RAT Type values (§8.17).
pub mod rat {
    /// UTRAN.
    pub const UTRAN: u8 = 1;
    /// GERAN.
    pub const GERAN: u8 = 2;
    /// WLAN.
    pub const WLAN: u8 = 3;
    /// GAN.
    pub const GAN: u8 = 4;
    /// HSPA Evolution.
    pub const HSPA_EVOLUTION: u8 = 5;
    /// E-UTRAN (WB-E-UTRAN).
    pub const EUTRAN: u8 = 6;
    /// Virtual.
    pub const VIRTUAL: u8 = 7;
    /// E-UTRAN NB-IoT.
    pub const EUTRAN_NB_IOT: u8 = 8;
    /// LTE-M.
    pub const LTE_M: u8 = 9;
    /// NR.
    pub const NR: u8 = 10;
}

/// F-TEID interface types (§8.22) used on S5/S8 and S11.
pub mod interface {
    /// S1-U eNodeB GTP-U.
    pub const S1U_ENODEB: u8 = 0;
    /// S1-U SGW GTP-U.
    pub const S1U_SGW: u8 = 1;
    /// S5/S8 SGW GTP-U.
    pub const S5S8_SGW_GTPU: u8 = 4;
    /// S5/S8 PGW GTP-U.
    pub const S5S8_PGW_GTPU: u8 = 5;
    /// S5/S8 SGW GTP-C.
    pub const S5S8_SGW_GTPC: u8 = 6;
    /// S5/S8 PGW GTP-C.
    pub const S5S8_PGW_GTPC: u8 = 7;
    /// S11 MME GTP-C.
    pub const S11_MME_GTPC: u8 = 10;
    /// S11/S4 SGW GTP-C.
    pub const S11_SGW_GTPC: u8 = 11;
}

/// Cause values (§8.4, table 8.4-1) a firewall sends or looks for.
pub mod cause {
    /// Request accepted.
    pub const REQUEST_ACCEPTED: u8 = 16;
    /// Context Not Found.
    pub const CONTEXT_NOT_FOUND: u8 = 64;
    /// Invalid Message Format.
    pub const INVALID_MESSAGE_FORMAT: u8 = 65;
    /// Invalid length.
    pub const INVALID_LENGTH: u8 = 67;
    /// Mandatory IE incorrect.
    pub const MANDATORY_IE_INCORRECT: u8 = 69;
    /// Mandatory IE missing.
    pub const MANDATORY_IE_MISSING: u8 = 70;
    /// System failure.
    pub const SYSTEM_FAILURE: u8 = 72;
    /// No resources available.
    pub const NO_RESOURCES_AVAILABLE: u8 = 73;
    /// Missing or unknown APN.
    pub const MISSING_OR_UNKNOWN_APN: u8 = 78;
    /// User authentication failed.
    pub const USER_AUTHENTICATION_FAILED: u8 = 92;
    /// APN access denied – no subscription.
    pub const APN_ACCESS_DENIED: u8 = 93;
    /// Request rejected (reason not specified).
    pub const REQUEST_REJECTED: u8 = 94;
    /// IMSI/IMEI not known.
    pub const IMSI_IMEI_NOT_KNOWN: u8 = 96;
    /// APN Congestion.
    pub const APN_CONGESTION: u8 = 113;
    /// GTP-C Entity Congestion.
    pub const GTPC_ENTITY_CONGESTION: u8 = 120;
}

fn need(ie: &Ie, n: usize) -> Result<&[u8], ValueError> {
    match ie.bytes() {
        Some(b) if b.len() >= n => Ok(b),
        Some(_) => Err(ValueError::new(ie.ie_type.0, "value shorter than its type")),
        None => Err(ValueError::new(ie.ie_type.0, "grouped where a value was expected")),
    }
}

fn plmn_at(ie: &Ie, b: &[u8]) -> Result<Plmn, ValueError> {
    Plmn::from_bytes([b[0], b[1], b[2]]).map_err(|r| ValueError::new(ie.ie_type.0, r))
}

fn digits_ie(t: IeType, digits: &str) -> Result<Ie, ValueError> {
    Ok(Ie::raw(t, 0, encode_digits(digits).map_err(|r| ValueError::new(t.0, r))?))
}

/// A Cause (§8.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cause {
    /// The cause value.
    pub value: u8,
    /// PDN Connection IE Error.
    pub pce: bool,
    /// Bearer Context IE Error.
    pub bce: bool,
    /// Cause Source: the error comes from the remote node.
    pub cs: bool,
    /// The offending IE's type and instance, when the cause names one.
    pub offending: Option<(IeType, u8)>,
}

impl Cause {
    /// A cause value with no flags and no offending IE.
    pub fn new(value: u8) -> Cause {
        Cause { value, pce: false, bce: false, cs: false, offending: None }
    }

    /// Whether the value is an acceptance (16-63, §8.4).
    pub fn is_accepted(&self) -> bool {
        (16..=63).contains(&self.value)
    }
}

/// A Fully Qualified TEID (§8.22).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fteid {
    /// The interface type (6 bits), see [`interface`].
    pub interface_type: u8,
    /// The TEID or GRE key.
    pub teid: u32,
    /// The IPv4 address (V4 flag).
    pub ipv4: Option<Ipv4Addr>,
    /// The IPv6 address (V6 flag).
    pub ipv6: Option<Ipv6Addr>,
}

/// Aggregate Maximum Bit Rate (§8.7), in kbit/s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ambr {
    /// APN-AMBR uplink.
    pub uplink: u32,
    /// APN-AMBR downlink.
    pub downlink: u32,
}

/// PDN types (§8.34, PAA §8.14).
pub mod pdn_type {
    /// IPv4.
    pub const IPV4: u8 = 1;
    /// IPv6.
    pub const IPV6: u8 = 2;
    /// IPv4v6.
    pub const IPV4V6: u8 = 3;
    /// Non-IP.
    pub const NON_IP: u8 = 4;
    /// Ethernet.
    pub const ETHERNET: u8 = 5;
}

/// PDN Address Allocation (§8.14).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paa {
    /// The PDN type (3 bits), see [`pdn_type`].
    pub pdn_type: u8,
    /// The IPv4 address (types IPv4 and IPv4v6).
    pub ipv4: Option<Ipv4Addr>,
    /// The IPv6 prefix length and address (types IPv6 and IPv4v6).
    pub ipv6: Option<(u8, Ipv6Addr)>,
}

/// UE Time Zone (§8.44): the offset from UTC in quarter hours (TS 24.008 §10.5.3.8 coding) and the
/// daylight-saving adjustment in hours (0-2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UeTimeZone {
    /// Offset from UTC in quarters of an hour (-79..=79).
    pub quarter_hours: i8,
    /// Daylight saving time adjustment (0, 1 or 2 hours).
    pub daylight_saving: u8,
}

/// Tracking Area Identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tai {
    /// The PLMN.
    pub plmn: Plmn,
    /// The Tracking Area Code.
    pub tac: u16,
}

/// E-UTRAN Cell Global Identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ecgi {
    /// The PLMN.
    pub plmn: Plmn,
    /// The E-UTRAN Cell Identifier (28 bits).
    pub eci: u32,
}

/// A location area-based identity: CGI (LAC, CI), SAI (LAC, SAC), RAI (LAC, RAC) or LAI (LAC, 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AreaId {
    /// The PLMN.
    pub plmn: Plmn,
    /// The Location Area Code.
    pub lac: u16,
    /// The CI, SAC or RAC (0 for an LAI).
    pub code: u16,
}

/// User Location Information (§8.21). Macro eNodeB IDs are kept as (PLMN, ID).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Uli {
    /// Cell Global Identity.
    pub cgi: Option<AreaId>,
    /// Service Area Identity.
    pub sai: Option<AreaId>,
    /// Routing Area Identity.
    pub rai: Option<AreaId>,
    /// Tracking Area Identity.
    pub tai: Option<Tai>,
    /// E-UTRAN Cell Global Identifier.
    pub ecgi: Option<Ecgi>,
    /// Location Area Identity.
    pub lai: Option<AreaId>,
    /// Macro eNodeB ID (20 bits).
    pub macro_enb: Option<(Plmn, u32)>,
    /// Extended Macro eNodeB ID: the SMeNB flag as 0x80_0000 and the 21-bit ID below it.
    pub ext_macro_enb: Option<(Plmn, u32)>,
}

/// An EPC Timer (§8.87): unit and value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EpcTimer {
    /// The unit (3 bits): 0 two seconds, 1 one minute, 2 ten minutes, 3 one hour, 4 ten hours, 7
    /// infinite; 5 and 6 are read as one minute, as §8.87 says.
    pub unit: u8,
    /// The value (5 bits).
    pub value: u8,
}

impl EpcTimer {
    /// The period; `None` for infinite.
    pub fn duration(&self) -> Option<Duration> {
        let v = u64::from(self.value);
        Some(Duration::from_secs(match self.unit {
            0 => 2 * v,
            2 => 600 * v,
            3 => 3600 * v,
            4 => 36000 * v,
            7 => return None,
            _ => 60 * v,
        }))
    }

    fn octet(&self) -> u8 {
        (self.unit << 5) | (self.value & 0x1f)
    }
}

/// Overload Control Information (§8.111, procedures §12.3): what an overloaded node asks its peers to
/// shed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverloadControl {
    /// Overload Control Sequence Number (Sequence Number IE): a newer report has a larger one.
    pub sequence: u32,
    /// Overload Reduction Metric (Metric IE): the percentage of traffic to shed (0-100).
    pub reduction_metric: u8,
    /// Period of Validity (EPC Timer IE).
    pub validity: EpcTimer,
    /// The APNs the report is limited to (none: the whole node).
    pub apns: Vec<String>,
}

/// Load Control Information (§8.112, §12.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadControl {
    /// Load Control Sequence Number.
    pub sequence: u32,
    /// Load Metric (0-100 %).
    pub metric: u8,
    /// APN and Relative Capacity entries: (relative capacity 1-100, APN).
    pub apns: Vec<(u8, String)>,
}

/// What a Bearer Context (§8.28) carries that a firewall looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BearerContext {
    /// The EPS Bearer ID.
    pub ebi: Option<u8>,
    /// The F-TEIDs with their instances.
    pub fteids: Vec<(u8, Fteid)>,
    /// The Cause (in responses).
    pub cause: Option<Cause>,
}

impl Ie {
    /// IMSI (§8.3) digits.
    pub fn as_imsi(&self) -> Result<String, ValueError> {
        decode_digits(need(self, 1)?).map_err(|r| ValueError::new(self.ie_type.0, r))
    }

    /// MSISDN (§8.11) digits.
    pub fn as_msisdn(&self) -> Result<String, ValueError> {
        self.as_imsi()
    }

    /// MEI (§8.10): IMEI or IMEISV digits.
    pub fn as_mei(&self) -> Result<String, ValueError> {
        self.as_imsi()
    }

    /// Serving Network (§8.18) or PLMN ID (§8.50).
    pub fn as_serving_network(&self) -> Result<Plmn, ValueError> {
        plmn_at(self, need(self, 3)?)
    }

    /// RAT Type (§8.17), see [`rat`].
    pub fn as_rat_type(&self) -> Result<u8, ValueError> {
        Ok(need(self, 1)?[0])
    }

    /// Recovery restart counter (§8.5).
    pub fn as_recovery(&self) -> Result<u8, ValueError> {
        Ok(need(self, 1)?[0])
    }

    /// EPS Bearer ID (§8.8), 4 bits.
    pub fn as_ebi(&self) -> Result<u8, ValueError> {
        Ok(need(self, 1)?[0] & 0x0f)
    }

    /// PDN Type (§8.34), 3 bits.
    pub fn as_pdn_type(&self) -> Result<u8, ValueError> {
        Ok(need(self, 1)?[0] & 0x07)
    }

    /// Selection Mode (§8.58), 2 bits: 0 MS or network provided APN, subscription verified; 1 MS
    /// provided APN, not verified; 2 network provided APN, not verified.
    pub fn as_selection_mode(&self) -> Result<u8, ValueError> {
        Ok(need(self, 1)?[0] & 0x03)
    }

    /// APN (§8.6) as dotted text.
    pub fn as_apn(&self) -> Result<String, ValueError> {
        decode_apn(need(self, 0)?).map_err(|r| ValueError::new(self.ie_type.0, r))
    }

    /// Whether flag `bit` (1-8) of octet `octet` (5, 6, … as numbered in §8.12 figure 8.12-1) is set in
    /// an Indication IE; octets the sender left out read as unset.
    pub fn indication_flag(&self, octet: usize, bit: u8) -> Result<bool, ValueError> {
        let b = need(self, 0)?;
        Ok(octet >= 5 && (1..=8).contains(&bit) && b.get(octet - 5).is_some_and(|o| o & (1 << (bit - 1)) != 0))
    }

    /// Cause (§8.4).
    pub fn as_cause(&self) -> Result<Cause, ValueError> {
        let b = need(self, 2)?;
        let offending = if b.len() >= 6 { Some((IeType(b[2]), b[5] & 0x0f)) } else { None };
        Ok(Cause { value: b[0], pce: b[1] & 0x04 != 0, bce: b[1] & 0x02 != 0, cs: b[1] & 0x01 != 0, offending })
    }

    /// F-TEID (§8.22).
    pub fn as_fteid(&self) -> Result<Fteid, ValueError> {
        let b = need(self, 5)?;
        let (v4, v6) = (b[0] & 0x80 != 0, b[0] & 0x40 != 0);
        let want = 5 + if v4 { 4 } else { 0 } + if v6 { 16 } else { 0 };
        if b.len() < want {
            return Err(ValueError::new(self.ie_type.0, "F-TEID shorter than its V4/V6 flags say"));
        }
        let ipv4 = v4.then(|| Ipv4Addr::new(b[5], b[6], b[7], b[8]));
        let at = if v4 { 9 } else { 5 };
        let ipv6 = v6.then(|| {
            let mut a = [0u8; 16];
            a.copy_from_slice(&b[at..at + 16]);
            Ipv6Addr::from(a)
        });
        Ok(Fteid { interface_type: b[0] & 0x3f, teid: u32::from_be_bytes([b[1], b[2], b[3], b[4]]), ipv4, ipv6 })
    }

    /// AMBR (§8.7).
    pub fn as_ambr(&self) -> Result<Ambr, ValueError> {
        let b = need(self, 8)?;
        Ok(Ambr {
            uplink: u32::from_be_bytes([b[0], b[1], b[2], b[3]]),
            downlink: u32::from_be_bytes([b[4], b[5], b[6], b[7]]),
        })
    }

    /// PAA (§8.14).
    pub fn as_paa(&self) -> Result<Paa, ValueError> {
        let b = need(self, 1)?;
        let t = b[0] & 0x07;
        let short = || ValueError::new(self.ie_type.0, "PAA shorter than its PDN type says");
        let v6 = |at: usize| -> Result<(u8, Ipv6Addr), ValueError> {
            let s = b.get(at..at + 17).ok_or_else(short)?;
            let mut a = [0u8; 16];
            a.copy_from_slice(&s[1..]);
            Ok((s[0], Ipv6Addr::from(a)))
        };
        let v4 = |at: usize| -> Result<Ipv4Addr, ValueError> {
            let s = b.get(at..at + 4).ok_or_else(short)?;
            Ok(Ipv4Addr::new(s[0], s[1], s[2], s[3]))
        };
        Ok(match t {
            pdn_type::IPV4 => Paa { pdn_type: t, ipv4: Some(v4(1)?), ipv6: None },
            pdn_type::IPV6 => Paa { pdn_type: t, ipv4: None, ipv6: Some(v6(1)?) },
            pdn_type::IPV4V6 => Paa { pdn_type: t, ipv6: Some(v6(1)?), ipv4: Some(v4(18)?) },
            _ => Paa { pdn_type: t, ipv4: None, ipv6: None },
        })
    }

    /// UE Time Zone (§8.44).
    pub fn as_ue_time_zone(&self) -> Result<UeTimeZone, ValueError> {
        let b = need(self, 2)?;
        let (tens, units) = (b[0] & 0x07, b[0] >> 4);
        if units > 9 {
            return Err(ValueError::new(self.ie_type.0, "time zone digit is not decimal"));
        }
        let q = (tens * 10 + units) as i8;
        Ok(UeTimeZone { quarter_hours: if b[0] & 0x08 != 0 { -q } else { q }, daylight_saving: b[1] & 0x03 })
    }

    /// ULI (§8.21).
    pub fn as_uli(&self) -> Result<Uli, ValueError> {
        let b = need(self, 1)?;
        let flags = b[0];
        let mut at = 1;
        let mut uli = Uli::default();
        let short = || ValueError::new(self.ie_type.0, "ULI shorter than its flags say");
        let mut take = |n: usize| -> Result<&[u8], ValueError> {
            let s = b.get(at..at + n).ok_or_else(short)?;
            at += n;
            Ok(s)
        };
        let u16at = |s: &[u8], i: usize| u16::from_be_bytes([s[i], s[i + 1]]);
        for bit in 0..8 {
            if flags & (1 << bit) == 0 {
                continue;
            }
            let len = [7, 7, 7, 5, 7, 5, 6, 6][bit];
            let s = take(len)?;
            let plmn = plmn_at(self, s)?;
            match bit {
                0 => uli.cgi = Some(AreaId { plmn, lac: u16at(s, 3), code: u16at(s, 5) }),
                1 => uli.sai = Some(AreaId { plmn, lac: u16at(s, 3), code: u16at(s, 5) }),
                2 => uli.rai = Some(AreaId { plmn, lac: u16at(s, 3), code: u16at(s, 5) }),
                3 => uli.tai = Some(Tai { plmn, tac: u16at(s, 3) }),
                4 => uli.ecgi = Some(Ecgi { plmn, eci: u32::from_be_bytes([s[3] & 0x0f, s[4], s[5], s[6]]) }),
                5 => uli.lai = Some(AreaId { plmn, lac: u16at(s, 3), code: 0 }),
                6 => uli.macro_enb = Some((plmn, u32::from_be_bytes([0, s[3] & 0x0f, s[4], s[5]]))),
                _ => uli.ext_macro_enb = Some((plmn, u32::from_be_bytes([0, s[3] & 0x9f, s[4], s[5]]))),
            }
        }
        Ok(uli)
    }

    /// EPC Timer (§8.87).
    pub fn as_epc_timer(&self) -> Result<EpcTimer, ValueError> {
        let b = need(self, 1)?;
        Ok(EpcTimer { unit: b[0] >> 5, value: b[0] & 0x1f })
    }

    /// Overload Control Information (§8.111): its three mandatory IEs must be present.
    pub fn as_overload_control(&self) -> Result<OverloadControl, ValueError> {
        let missing = |r| ValueError::new(self.ie_type.0, r);
        let seq = self.find(IeType::SEQUENCE_NUMBER, 0).ok_or_else(|| missing("no Sequence Number"))?;
        let metric = self.find(IeType::METRIC, 0).ok_or_else(|| missing("no Metric"))?;
        let timer = self.find(IeType::EPC_TIMER, 0).ok_or_else(|| missing("no EPC Timer"))?;
        let s = need(seq, 4)?;
        Ok(OverloadControl {
            sequence: u32::from_be_bytes([s[0], s[1], s[2], s[3]]),
            reduction_metric: need(metric, 1)?[0],
            validity: timer.as_epc_timer()?,
            apns: self
                .children()
                .iter()
                .filter(|c| c.ie_type == IeType::APN)
                .map(Ie::as_apn)
                .collect::<Result<_, _>>()?,
        })
    }

    /// Load Control Information (§8.112).
    pub fn as_load_control(&self) -> Result<LoadControl, ValueError> {
        let missing = |r| ValueError::new(self.ie_type.0, r);
        let seq = self.find(IeType::SEQUENCE_NUMBER, 0).ok_or_else(|| missing("no Sequence Number"))?;
        let metric = self.find(IeType::METRIC, 0).ok_or_else(|| missing("no Metric"))?;
        let s = need(seq, 4)?;
        let mut apns = Vec::new();
        for c in self.children().iter().filter(|c| c.ie_type == IeType::APN_AND_RELATIVE_CAPACITY) {
            let b = need(c, 2)?;
            let n = b[1] as usize;
            let apn = b.get(2..2 + n).ok_or_else(|| ValueError::new(c.ie_type.0, "APN length runs past the value"))?;
            apns.push((b[0], decode_apn(apn).map_err(|r| ValueError::new(c.ie_type.0, r))?));
        }
        Ok(LoadControl { sequence: u32::from_be_bytes([s[0], s[1], s[2], s[3]]), metric: need(metric, 1)?[0], apns })
    }

    /// Bearer Context (§8.28): EBI, F-TEIDs and Cause.
    pub fn as_bearer_context(&self) -> Result<BearerContext, ValueError> {
        if self.bytes().is_some() {
            return Err(ValueError::new(self.ie_type.0, "not a grouped IE"));
        }
        let mut bc = BearerContext { ebi: None, fteids: Vec::new(), cause: None };
        for c in self.children() {
            match c.ie_type {
                IeType::EBI if c.instance == 0 => bc.ebi = Some(c.as_ebi()?),
                IeType::FTEID => bc.fteids.push((c.instance, c.as_fteid()?)),
                IeType::CAUSE if c.instance == 0 => bc.cause = Some(c.as_cause()?),
                _ => {}
            }
        }
        Ok(bc)
    }

    /// An IMSI IE.
    pub fn imsi(digits: &str) -> Result<Ie, ValueError> {
        digits_ie(IeType::IMSI, digits)
    }

    /// An MSISDN IE.
    pub fn msisdn(digits: &str) -> Result<Ie, ValueError> {
        digits_ie(IeType::MSISDN, digits)
    }

    /// A MEI IE (IMEI or IMEISV digits).
    pub fn mei(digits: &str) -> Result<Ie, ValueError> {
        digits_ie(IeType::MEI, digits)
    }

    /// A Serving Network IE.
    pub fn serving_network(plmn: Plmn) -> Ie {
        Ie::raw(IeType::SERVING_NETWORK, 0, plmn.to_bytes().to_vec())
    }

    /// A RAT Type IE.
    pub fn rat_type(rat: u8) -> Ie {
        Ie::raw(IeType::RAT_TYPE, 0, vec![rat])
    }

    /// A Recovery IE.
    pub fn recovery(restart_counter: u8) -> Ie {
        Ie::raw(IeType::RECOVERY, 0, vec![restart_counter])
    }

    /// An EBI IE.
    pub fn ebi(ebi: u8) -> Ie {
        Ie::raw(IeType::EBI, 0, vec![ebi & 0x0f])
    }

    /// A PDN Type IE.
    pub fn pdn_type(t: u8) -> Ie {
        Ie::raw(IeType::PDN_TYPE, 0, vec![t & 0x07])
    }

    /// A Selection Mode IE.
    pub fn selection_mode(mode: u8) -> Ie {
        Ie::raw(IeType::SELECTION_MODE, 0, vec![mode & 0x03])
    }

    /// An APN IE.
    pub fn apn(apn: &str) -> Result<Ie, ValueError> {
        Ok(Ie::raw(IeType::APN, 0, encode_apn(apn).map_err(|r| ValueError::new(IeType::APN.0, r))?))
    }

    /// An Indication IE with these flag octets (octet 5 first).
    pub fn indication(octets: &[u8]) -> Ie {
        Ie::raw(IeType::INDICATION, 0, octets.to_vec())
    }

    /// A Cause IE.
    pub fn cause(c: &Cause) -> Ie {
        let mut v = vec![c.value, (u8::from(c.pce) << 2) | (u8::from(c.bce) << 1) | u8::from(c.cs)];
        if let Some((t, inst)) = c.offending {
            v.extend_from_slice(&[t.0, 0, 0, inst & 0x0f]);
        }
        Ie::raw(IeType::CAUSE, 0, v)
    }

    /// An F-TEID IE with this instance.
    pub fn fteid(instance: u8, f: &Fteid) -> Ie {
        let mut v = Vec::with_capacity(25);
        v.push((u8::from(f.ipv4.is_some()) << 7) | (u8::from(f.ipv6.is_some()) << 6) | (f.interface_type & 0x3f));
        v.extend_from_slice(&f.teid.to_be_bytes());
        if let Some(a) = f.ipv4 {
            v.extend_from_slice(&a.octets());
        }
        if let Some(a) = f.ipv6 {
            v.extend_from_slice(&a.octets());
        }
        Ie::raw(IeType::FTEID, instance, v)
    }

    /// An AMBR IE.
    pub fn ambr(a: Ambr) -> Ie {
        let mut v = a.uplink.to_be_bytes().to_vec();
        v.extend_from_slice(&a.downlink.to_be_bytes());
        Ie::raw(IeType::AMBR, 0, v)
    }

    /// A PAA IE.
    pub fn paa(p: &Paa) -> Ie {
        let mut v = vec![p.pdn_type & 0x07];
        if let Some((len, a)) = p.ipv6 {
            v.push(len);
            v.extend_from_slice(&a.octets());
        }
        if let Some(a) = p.ipv4 {
            v.extend_from_slice(&a.octets());
        }
        Ie::raw(IeType::PAA, 0, v)
    }

    /// A UE Time Zone IE.
    pub fn ue_time_zone(tz: UeTimeZone) -> Ie {
        let q = tz.quarter_hours.unsigned_abs().min(79);
        let sign = if tz.quarter_hours < 0 { 0x08 } else { 0 };
        Ie::raw(IeType::UE_TIME_ZONE, 0, vec![((q % 10) << 4) | sign | (q / 10), tz.daylight_saving & 0x03])
    }

    /// A ULI IE with the identities present in `uli`.
    pub fn uli(uli: &Uli) -> Ie {
        let mut flags = 0u8;
        let mut v = vec![0u8];
        let mut area = |bit: u8, a: &Option<AreaId>, with_code: bool, v: &mut Vec<u8>| {
            if let Some(a) = a {
                flags |= 1 << bit;
                v.extend_from_slice(&a.plmn.to_bytes());
                v.extend_from_slice(&a.lac.to_be_bytes());
                if with_code {
                    v.extend_from_slice(&a.code.to_be_bytes());
                }
            }
        };
        area(0, &uli.cgi, true, &mut v);
        area(1, &uli.sai, true, &mut v);
        area(2, &uli.rai, true, &mut v);
        if let Some(t) = uli.tai {
            flags |= 1 << 3;
            v.extend_from_slice(&t.plmn.to_bytes());
            v.extend_from_slice(&t.tac.to_be_bytes());
        }
        if let Some(e) = uli.ecgi {
            flags |= 1 << 4;
            v.extend_from_slice(&e.plmn.to_bytes());
            v.extend_from_slice(&(e.eci & 0x0fff_ffff).to_be_bytes());
        }
        let mut area2 = |bit: u8, a: &Option<AreaId>, v: &mut Vec<u8>| {
            if let Some(a) = a {
                flags |= 1 << bit;
                v.extend_from_slice(&a.plmn.to_bytes());
                v.extend_from_slice(&a.lac.to_be_bytes());
            }
        };
        area2(5, &uli.lai, &mut v);
        for (bit, id, mask) in [(6u8, uli.macro_enb, 0x000f_ffffu32), (7, uli.ext_macro_enb, 0x009f_ffff)] {
            if let Some((plmn, id)) = id {
                flags |= 1 << bit;
                v.extend_from_slice(&plmn.to_bytes());
                v.extend_from_slice(&(id & mask).to_be_bytes()[1..]);
            }
        }
        v[0] = flags;
        Ie::raw(IeType::ULI, 0, v)
    }

    /// An EPC Timer IE.
    pub fn epc_timer(t: EpcTimer) -> Ie {
        Ie::raw(IeType::EPC_TIMER, 0, vec![t.octet()])
    }

    /// An Overload Control Information IE (grouped) with this instance.
    pub fn overload_control(instance: u8, oc: &OverloadControl) -> Result<Ie, ValueError> {
        let mut c = vec![
            Ie::raw(IeType::SEQUENCE_NUMBER, 0, oc.sequence.to_be_bytes().to_vec()),
            Ie::raw(IeType::METRIC, 0, vec![oc.reduction_metric.min(100)]),
            Ie::epc_timer(oc.validity),
        ];
        for apn in &oc.apns {
            c.push(Ie::apn(apn)?);
        }
        Ok(Ie::grouped(IeType::OVERLOAD_CONTROL_INFORMATION, instance, c))
    }

    /// A Load Control Information IE (grouped) with this instance.
    pub fn load_control(instance: u8, lc: &LoadControl) -> Result<Ie, ValueError> {
        let mut c = vec![
            Ie::raw(IeType::SEQUENCE_NUMBER, 0, lc.sequence.to_be_bytes().to_vec()),
            Ie::raw(IeType::METRIC, 0, vec![lc.metric.min(100)]),
        ];
        for (cap, apn) in &lc.apns {
            let a = encode_apn(apn).map_err(|r| ValueError::new(IeType::APN_AND_RELATIVE_CAPACITY.0, r))?;
            let n = u8::try_from(a.len())
                .map_err(|_| ValueError::new(IeType::APN_AND_RELATIVE_CAPACITY.0, "APN too long"))?;
            let mut v = vec![*cap, n];
            v.extend_from_slice(&a);
            c.push(Ie::raw(IeType::APN_AND_RELATIVE_CAPACITY, 0, v));
        }
        Ok(Ie::grouped(IeType::LOAD_CONTROL_INFORMATION, instance, c))
    }

    /// A Bearer Context IE (grouped) with this instance.
    pub fn bearer_context(instance: u8, children: Vec<Ie>) -> Ie {
        Ie::grouped(IeType::BEARER_CONTEXT, instance, children)
    }
}
