//! The 3GPP TS 23.040 TPDUs that SGd carries in SM-RP-UI: SMS-SUBMIT from the SIM (§9.2.2.2, every
//! field parsed and checked), SMS-DELIVER toward it (§9.2.2.1) and the SMS-DELIVER-REPORT it answers
//! with (§9.2.2.1a), with TP addresses (§9.1.2.5) and the user-data length rules of the data coding
//! scheme (TS 23.038 §4).
//!
//! Parsing never panics: every malformed input is a [`TpduError`] naming the field and what is wrong.

use std::fmt;

/// Octets of user data in one SMS (TS 23.040 §9.2.3.16: 140 octets, or 160 septets).
pub const MAX_USER_DATA_OCTETS: usize = 140;
/// Septets of GSM 7-bit user data in one SMS.
pub const MAX_USER_DATA_SEPTETS: usize = 160;
/// Digits of a TP address (§9.1.2.5: up to 20 semi-octets... of which E.164 uses 15).
pub const MAX_ADDRESS_DIGITS: usize = 20;

/// The TPDU field a [`TpduError`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// The first octet (TP-MTI and flags).
    FirstOctet,
    /// TP-MR.
    MessageReference,
    /// TP-DA (SMS-SUBMIT).
    DestinationAddress,
    /// TP-OA (SMS-DELIVER).
    OriginatingAddress,
    /// TP-PID.
    ProtocolIdentifier,
    /// TP-DCS.
    DataCodingScheme,
    /// TP-VP.
    ValidityPeriod,
    /// TP-SCTS.
    ServiceCentreTimeStamp,
    /// TP-FCS (SMS-DELIVER-REPORT for RP-ERROR).
    FailureCause,
    /// TP-PI (SMS-DELIVER-REPORT).
    ParameterIndicator,
    /// TP-UDL.
    UserDataLength,
    /// TP-UD (and its user-data header).
    UserData,
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Field::FirstOctet => "first octet",
            Field::MessageReference => "TP-MR",
            Field::DestinationAddress => "TP-DA",
            Field::OriginatingAddress => "TP-OA",
            Field::ProtocolIdentifier => "TP-PID",
            Field::DataCodingScheme => "TP-DCS",
            Field::ValidityPeriod => "TP-VP",
            Field::ServiceCentreTimeStamp => "TP-SCTS",
            Field::FailureCause => "TP-FCS",
            Field::ParameterIndicator => "TP-PI",
            Field::UserDataLength => "TP-UDL",
            Field::UserData => "TP-UD",
        })
    }
}

/// Why a TPDU cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TpduError {
    /// The TPDU ends inside a field.
    #[error("{field}: the TPDU ends after {got} octets, {need} needed")]
    Truncated {
        /// The field being read.
        field: Field,
        /// Octets needed up to the end of that field.
        need: usize,
        /// Octets there are.
        got: usize,
    },
    /// A field has a value the specification does not allow here.
    #[error("{field}: {reason}")]
    Invalid {
        /// The field.
        field: Field,
        /// What is wrong.
        reason: String,
    },
    /// Octets follow the last field.
    #[error("{extra} octets after TP-UD")]
    Trailing {
        /// How many.
        extra: usize,
    },
}

impl TpduError {
    /// The field the error is about (`None` for trailing octets).
    pub fn field(&self) -> Option<Field> {
        match self {
            TpduError::Truncated { field, .. } | TpduError::Invalid { field, .. } => Some(*field),
            TpduError::Trailing { .. } => None,
        }
    }

    fn invalid(field: Field, reason: impl Into<String>) -> Self {
        TpduError::Invalid { field, reason: reason.into() }
    }
}

/// Result of this module.
pub type Result<T> = std::result::Result<T, TpduError>;

/// Type of number of a TP address (§9.1.2.5, bits 6-4 of the type-of-address octet).
pub const TON_UNKNOWN: u8 = 0;
/// International number.
pub const TON_INTERNATIONAL: u8 = 1;
/// National number.
pub const TON_NATIONAL: u8 = 2;
/// Alphanumeric (GSM 7-bit packed).
pub const TON_ALPHANUMERIC: u8 = 5;

/// A TP address: type of number, numbering plan and the digits (or, for alphanumeric addresses,
/// the text).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TpAddress {
    /// The type-of-address octet (bit 7 set; 0x91 international ISDN, 0x81 unknown ISDN).
    pub type_of_address: u8,
    /// Digits `0-9 * # a b c`, or the text of an alphanumeric address.
    pub digits: String,
}

/// The semi-octet values 0x0-0xE as address characters (§9.1.2.3); 0xF is the filler.
const SEMI_OCTETS: &[u8; 15] = b"0123456789*#abc";

fn nibble_of(c: char) -> Option<u8> {
    let c = u8::try_from(c.to_ascii_lowercase()).ok()?;
    SEMI_OCTETS.iter().position(|&d| d == c).map(|p| p as u8)
}

fn char_of(n: u8) -> Option<char> {
    SEMI_OCTETS.get(usize::from(n)).map(|&d| d as char)
}

impl TpAddress {
    /// `+4912345` is an international ISDN number (0x91); other digit strings are of unknown type
    /// (0x81).
    pub fn parse(s: &str, field: Field) -> Result<TpAddress> {
        let (toa, digits) = match s.strip_prefix('+') {
            Some(d) => (0x91, d),
            None => (0x81, s),
        };
        if digits.is_empty() || digits.len() > MAX_ADDRESS_DIGITS || digits.chars().any(|c| nibble_of(c).is_none()) {
            return Err(TpduError::invalid(field, format!("{s:?} is not 1-{MAX_ADDRESS_DIGITS} address digits")));
        }
        Ok(TpAddress { type_of_address: toa, digits: digits.to_ascii_lowercase() })
    }

    /// The type of number (bits 6-4).
    pub fn ton(&self) -> u8 {
        (self.type_of_address >> 4) & 0x07
    }

    /// The numbering plan (bits 3-0; 1 is E.164).
    pub fn npi(&self) -> u8 {
        self.type_of_address & 0x0F
    }

    /// Appends the address field: digit count, type of address, semi-octets (filled with 0xF).
    pub fn encode(&self, out: &mut Vec<u8>) {
        let n: Vec<u8> = self.digits.chars().filter_map(nibble_of).collect();
        out.push(n.len() as u8);
        out.push(self.type_of_address);
        out.extend(n.chunks(2).map(|p| p[0] | (p.get(1).copied().unwrap_or(0xF) << 4)));
    }

    /// Reads an address field at the start of `b`; returns it and the octets it took.
    pub fn decode(b: &[u8], field: Field) -> Result<(TpAddress, usize)> {
        if b.len() < 2 {
            return Err(TpduError::Truncated { field, need: 2, got: b.len() });
        }
        let len = usize::from(b[0]);
        let toa = b[1];
        if toa & 0x80 == 0 {
            return Err(TpduError::invalid(field, format!("type of address {toa:#04x} lacks bit 8")));
        }
        if len > MAX_ADDRESS_DIGITS {
            return Err(TpduError::invalid(field, format!("{len} digits, at most {MAX_ADDRESS_DIGITS}")));
        }
        let used = 2 + len.div_ceil(2);
        if b.len() < used {
            return Err(TpduError::Truncated { field, need: used, got: b.len() });
        }
        let value = &b[2..used];
        if (toa >> 4) & 0x07 == TON_ALPHANUMERIC {
            // The length counts semi-octets of the packed 7-bit text.
            let septets = len * 4 / 7;
            let text = unpack_septets(value, septets)
                .into_iter()
                .map(|s| gsm_basic_char(s).unwrap_or('?'))
                .collect::<String>();
            return Ok((TpAddress { type_of_address: toa, digits: text }, used));
        }
        let mut digits = String::with_capacity(len);
        for (i, byte) in value.iter().enumerate() {
            for (j, n) in [byte & 0x0F, byte >> 4].into_iter().enumerate() {
                let position = 2 * i + j;
                if position >= len {
                    if n != 0x0F {
                        return Err(TpduError::invalid(field, "the filler of an odd number of digits is not 0xF"));
                    }
                    continue;
                }
                digits.push(char_of(n).ok_or_else(|| {
                    TpduError::invalid(field, format!("digit {} is {n:#x}, not a semi-octet digit", position + 1))
                })?);
            }
        }
        if len == 0 {
            return Err(TpduError::invalid(field, "no digits"));
        }
        Ok((TpAddress { type_of_address: toa, digits }, used))
    }
}

impl fmt::Display for TpAddress {
    /// International numbers with a leading `+`, others as they are.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.ton() == TON_INTERNATIONAL {
            write!(f, "+{}", self.digits)
        } else {
            f.write_str(&self.digits)
        }
    }
}

/// Unpacks `n` GSM 7-bit septets (TS 23.038 §6.1.2.1.1).
fn unpack_septets(b: &[u8], n: usize) -> Vec<u8> {
    (0..n)
        .filter_map(|i| {
            let bit = i * 7;
            let (byte, shift) = (bit / 8, bit % 8);
            let lo = u16::from(*b.get(byte)?);
            let hi = u16::from(b.get(byte + 1).copied().unwrap_or(0));
            Some((((hi << 8 | lo) >> shift) & 0x7F) as u8)
        })
        .collect()
}

/// The printable ASCII subset of the GSM 7-bit default alphabet (enough for alphanumeric senders).
fn gsm_basic_char(s: u8) -> Option<char> {
    match s {
        0x20..=0x23 | 0x25..=0x3F | 0x41..=0x5A | 0x61..=0x7A => Some(s as char),
        0x00 => Some('@'),
        0x02 => Some('$'),
        _ => None,
    }
}

/// The alphabet of a data coding scheme (TS 23.038 §4), which sets what TP-UDL counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alphabet {
    /// GSM 7-bit default alphabet: TP-UDL counts septets.
    Gsm7,
    /// 8-bit data: TP-UDL counts octets.
    Eight,
    /// UCS2: TP-UDL counts octets.
    Ucs2,
    /// Compressed text (§4 bit 5): TP-UDL counts octets.
    Compressed,
}

impl Alphabet {
    /// The alphabet of TP-DCS `dcs`; reserved codings are read as the GSM 7-bit default alphabet, as
    /// TS 23.038 §4 says receivers shall.
    pub fn of(dcs: u8) -> Alphabet {
        match dcs >> 4 {
            0x0..=0x7 if dcs & 0x20 != 0 => Alphabet::Compressed,
            0x0..=0x7 => match (dcs >> 2) & 0x03 {
                1 => Alphabet::Eight,
                2 => Alphabet::Ucs2,
                _ => Alphabet::Gsm7,
            },
            0xE => Alphabet::Ucs2,
            0xF if dcs & 0x04 != 0 => Alphabet::Eight,
            _ => Alphabet::Gsm7,
        }
    }

    /// Octets taken by `udl` units of user data, or why `udl` is too large.
    fn octets(self, udl: usize) -> Result<usize> {
        match self {
            Alphabet::Gsm7 if udl > MAX_USER_DATA_SEPTETS => Err(TpduError::invalid(
                Field::UserDataLength,
                format!("{udl} septets, at most {MAX_USER_DATA_SEPTETS}"),
            )),
            Alphabet::Gsm7 => Ok((udl * 7).div_ceil(8)),
            _ if udl > MAX_USER_DATA_OCTETS => {
                Err(TpduError::invalid(Field::UserDataLength, format!("{udl} octets, at most {MAX_USER_DATA_OCTETS}")))
            }
            _ => Ok(udl),
        }
    }
}

/// One information element of a user-data header (TS 23.040 §9.2.3.24).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InformationElement {
    /// Its identifier (0x00 concatenation, 0x70 command packet, 0x71 response packet, …).
    pub iei: u8,
    /// Its data.
    pub data: Vec<u8>,
}

/// The information elements of the user-data header at the start of `ud` (which starts with the
/// UDHL octet).
pub fn user_data_header(ud: &[u8]) -> Result<Vec<InformationElement>> {
    let (&udhl, rest) = ud.split_first().ok_or(TpduError::Truncated { field: Field::UserData, need: 1, got: 0 })?;
    let udhl = usize::from(udhl);
    if rest.len() < udhl {
        return Err(TpduError::invalid(
            Field::UserData,
            format!("the user-data header says {udhl} octets, {} follow", rest.len()),
        ));
    }
    let mut header = &rest[..udhl];
    let mut out = Vec::new();
    while !header.is_empty() {
        if header.len() < 2 || header.len() < 2 + usize::from(header[1]) {
            return Err(TpduError::invalid(Field::UserData, "an information element overruns the user-data header"));
        }
        let len = usize::from(header[1]);
        out.push(InformationElement { iei: header[0], data: header[2..2 + len].to_vec() });
        header = &header[2 + len..];
    }
    Ok(out)
}

/// TP-VP of an SMS-SUBMIT (§9.2.3.12).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValidityPeriod {
    /// TP-VPF 00: none.
    None,
    /// TP-VPF 10: relative, one octet.
    Relative(u8),
    /// TP-VPF 01: enhanced, seven octets.
    Enhanced([u8; 7]),
    /// TP-VPF 11: absolute, seven octets (a time stamp).
    Absolute([u8; 7]),
}

/// A parsed SMS-SUBMIT (TS 23.040 §9.2.2.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsSubmit {
    /// TP-RD: reject duplicates.
    pub reject_duplicates: bool,
    /// TP-SRR: status report requested.
    pub status_report_request: bool,
    /// TP-RP: reply path.
    pub reply_path: bool,
    /// TP-UDHI: the user data starts with a header.
    pub udhi: bool,
    /// TP-MR.
    pub message_reference: u8,
    /// TP-DA.
    pub destination: TpAddress,
    /// TP-PID.
    pub pid: u8,
    /// TP-DCS.
    pub dcs: u8,
    /// TP-VP.
    pub validity: ValidityPeriod,
    /// TP-UDL as sent (septets for the GSM 7-bit alphabet, else octets).
    pub udl: u8,
    /// TP-UD as sent (packed septets for GSM 7-bit, UDH included when `udhi`).
    pub user_data: Vec<u8>,
}

fn take(b: &[u8], at: usize, n: usize, field: Field) -> Result<&[u8]> {
    b.get(at..at + n).ok_or(TpduError::Truncated { field, need: at + n, got: b.len() })
}

impl SmsSubmit {
    /// Parses an SMS-SUBMIT TPDU, checking every field.
    pub fn parse(tpdu: &[u8]) -> Result<SmsSubmit> {
        let first = take(tpdu, 0, 1, Field::FirstOctet)?[0];
        if first & 0x03 != 0x01 {
            return Err(TpduError::invalid(
                Field::FirstOctet,
                format!("TP-MTI {} is not SMS-SUBMIT (1)", first & 0x03),
            ));
        }
        let message_reference = take(tpdu, 1, 1, Field::MessageReference)?[0];
        let (destination, used) = TpAddress::decode(tpdu.get(2..).unwrap_or_default(), Field::DestinationAddress)
            .map_err(|e| match e {
                TpduError::Truncated { field, need, got } => {
                    TpduError::Truncated { field, need: need + 2, got: got + 2 }
                }
                other => other,
            })?;
        if destination.ton() == TON_ALPHANUMERIC {
            return Err(TpduError::invalid(Field::DestinationAddress, "an alphanumeric address cannot be dialled"));
        }
        let mut at = 2 + used;
        let pid = take(tpdu, at, 1, Field::ProtocolIdentifier)?[0];
        if pid & 0xC0 == 0x80 {
            return Err(TpduError::invalid(
                Field::ProtocolIdentifier,
                format!("{pid:#04x} uses the reserved bits 7-6 = 10"),
            ));
        }
        let dcs = take(tpdu, at + 1, 1, Field::DataCodingScheme)?[0];
        at += 2;
        let validity = match (first >> 3) & 0x03 {
            0 => ValidityPeriod::None,
            2 => {
                at += 1;
                ValidityPeriod::Relative(take(tpdu, at - 1, 1, Field::ValidityPeriod)?[0])
            }
            vpf => {
                let mut v = [0u8; 7];
                v.copy_from_slice(take(tpdu, at, 7, Field::ValidityPeriod)?);
                at += 7;
                if vpf == 1 {
                    if v[0] & 0x07 > 3 {
                        return Err(TpduError::invalid(
                            Field::ValidityPeriod,
                            format!("enhanced format {} is reserved", v[0] & 0x07),
                        ));
                    }
                    ValidityPeriod::Enhanced(v)
                } else {
                    ValidityPeriod::Absolute(v)
                }
            }
        };
        let udl = take(tpdu, at, 1, Field::UserDataLength)?[0];
        at += 1;
        let octets = Alphabet::of(dcs).octets(usize::from(udl))?;
        let user_data = take(tpdu, at, octets, Field::UserData)?.to_vec();
        if tpdu.len() > at + octets {
            return Err(TpduError::Trailing { extra: tpdu.len() - at - octets });
        }
        let udhi = first & 0x40 != 0;
        if udhi {
            let udhl = user_data.first().map_or(0, |l| usize::from(*l) + 1);
            if udhl > octets {
                return Err(TpduError::invalid(
                    Field::UserData,
                    format!("the user-data header takes {udhl} octets, TP-UD has {octets}"),
                ));
            }
            user_data_header(&user_data)?;
        }
        Ok(SmsSubmit {
            reject_duplicates: first & 0x04 != 0,
            status_report_request: first & 0x20 != 0,
            reply_path: first & 0x80 != 0,
            udhi,
            message_reference,
            destination,
            pid,
            dcs,
            validity,
            udl,
            user_data,
        })
    }

    /// The TPDU (the inverse of [`SmsSubmit::parse`]).
    pub fn encode(&self) -> Vec<u8> {
        let vpf = match self.validity {
            ValidityPeriod::None => 0,
            ValidityPeriod::Enhanced(_) => 1,
            ValidityPeriod::Relative(_) => 2,
            ValidityPeriod::Absolute(_) => 3,
        };
        let first = 0x01
            | u8::from(self.reject_duplicates) << 2
            | vpf << 3
            | u8::from(self.status_report_request) << 5
            | u8::from(self.udhi) << 6
            | u8::from(self.reply_path) << 7;
        let mut out = vec![first, self.message_reference];
        self.destination.encode(&mut out);
        out.extend_from_slice(&[self.pid, self.dcs]);
        match self.validity {
            ValidityPeriod::None => {}
            ValidityPeriod::Relative(v) => out.push(v),
            ValidityPeriod::Enhanced(v) | ValidityPeriod::Absolute(v) => out.extend_from_slice(&v),
        }
        out.push(self.udl);
        out.extend_from_slice(&self.user_data);
        out
    }

    /// True when the user-data header carries an information element `iei`.
    pub fn has_iei(&self, iei: u8) -> bool {
        self.udhi && user_data_header(&self.user_data).is_ok_and(|ies| ies.iter().any(|ie| ie.iei == iei))
    }
}

/// The service centre time stamp of a UTC time (§9.2.3.11: swapped semi-octets, zone 00).
pub fn scts(t: time::OffsetDateTime) -> [u8; 7] {
    let swap = |v: u8| ((v % 10) << 4) | (v / 10);
    let t = t.to_offset(time::UtcOffset::UTC);
    [
        swap(t.year().rem_euclid(100) as u8),
        swap(u8::from(t.month())),
        swap(t.day()),
        swap(t.hour()),
        swap(t.minute()),
        swap(t.second()),
        0,
    ]
}

/// One SMS-DELIVER TPDU (§9.2.2.1) with 8-bit or UCS2 user data (`user_data` in octets, UDH
/// included when `udhi`); TP-MMS says more messages follow unless `last`.
#[allow(clippy::too_many_arguments)]
pub fn sms_deliver(
    originator: &TpAddress,
    pid: u8,
    dcs: u8,
    scts: [u8; 7],
    udhi: bool,
    user_data: &[u8],
    last: bool,
) -> Result<Vec<u8>> {
    if Alphabet::of(dcs) == Alphabet::Gsm7 {
        return Err(TpduError::invalid(Field::DataCodingScheme, format!("{dcs:#04x}: only octet user data is sent")));
    }
    if user_data.len() > MAX_USER_DATA_OCTETS {
        return Err(TpduError::invalid(
            Field::UserData,
            format!("{} octets, at most {MAX_USER_DATA_OCTETS}", user_data.len()),
        ));
    }
    let mut out = vec![u8::from(udhi) << 6 | if last { 0x04 } else { 0x00 }];
    originator.encode(&mut out);
    out.extend_from_slice(&[pid, dcs]);
    out.extend_from_slice(&scts);
    out.push(user_data.len() as u8);
    out.extend_from_slice(user_data);
    Ok(out)
}

/// A parsed SMS-DELIVER-REPORT (§9.2.2.1a), for RP-ACK (no TP-FCS) or RP-ERROR (with it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliverReport {
    /// TP-FCS, for RP-ERROR.
    pub failure_cause: Option<u8>,
    /// TP-PID, when TP-PI says it is there.
    pub pid: Option<u8>,
    /// TP-DCS, when TP-PI says it is there.
    pub dcs: Option<u8>,
    /// TP-UD (UDH included when TP-UDHI), when TP-PI says it is there.
    pub user_data: Option<Vec<u8>>,
}

impl DeliverReport {
    /// Parses an SMS-DELIVER-REPORT; `error` says whether it came with RP-ERROR (then TP-FCS
    /// follows the first octet).
    pub fn parse(tpdu: &[u8], error: bool) -> Result<DeliverReport> {
        let first = take(tpdu, 0, 1, Field::FirstOctet)?[0];
        if first & 0x03 != 0 {
            return Err(TpduError::invalid(
                Field::FirstOctet,
                format!("TP-MTI {} is not SMS-DELIVER-REPORT (0)", first & 0x03),
            ));
        }
        let mut at = 1;
        let failure_cause = if error {
            at += 1;
            Some(take(tpdu, 1, 1, Field::FailureCause)?[0])
        } else {
            None
        };
        let pi = take(tpdu, at, 1, Field::ParameterIndicator)?[0];
        at += 1;
        let pid = if pi & 0x01 != 0 {
            at += 1;
            Some(take(tpdu, at - 1, 1, Field::ProtocolIdentifier)?[0])
        } else {
            None
        };
        let dcs = if pi & 0x02 != 0 {
            at += 1;
            Some(take(tpdu, at - 1, 1, Field::DataCodingScheme)?[0])
        } else {
            None
        };
        let user_data = if pi & 0x04 != 0 {
            let udl = usize::from(take(tpdu, at, 1, Field::UserDataLength)?[0]);
            at += 1;
            let octets = Alphabet::of(dcs.unwrap_or(0)).octets(udl)?;
            let ud = take(tpdu, at, octets, Field::UserData)?.to_vec();
            at += octets;
            if first & 0x40 != 0 {
                user_data_header(&ud)?;
            }
            Some(ud)
        } else {
            None
        };
        // TS 23.040 §9.2.3.27: octets after the last parameter the TP-PI announces are ignored.
        let _ = at;
        Ok(DeliverReport { failure_cause, pid, dcs, user_data })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An SMS-SUBMIT as a phone sends it: TP-MR 0x2A, to +491711234567, GSM 7-bit "hi" (2 septets),
    /// relative validity 0xA7 (24 hours).
    const SUBMIT: &str = "112a0c9194711132547600 00a702e834";

    fn hexb(s: &str) -> Vec<u8> {
        hex::decode(s.replace(' ', "")).unwrap()
    }

    #[test]
    fn parses_every_field_of_a_submit() {
        let s = SmsSubmit::parse(&hexb(SUBMIT)).unwrap();
        assert_eq!(s.message_reference, 0x2A);
        assert_eq!(s.destination.to_string(), "+491711234567");
        assert_eq!((s.pid, s.dcs, s.validity, s.udl), (0, 0, ValidityPeriod::Relative(0xA7), 2));
        assert_eq!(s.user_data, vec![0xE8, 0x34]);
        assert!(!s.udhi && !s.reject_duplicates && !s.status_report_request && !s.reply_path);
        assert_eq!(s.encode(), hexb(SUBMIT));
    }

    #[test]
    fn malformed_submits_name_their_field() {
        let err = |h: &str| SmsSubmit::parse(&hexb(h)).unwrap_err();
        assert_eq!(err("00").field(), Some(Field::FirstOctet), "SMS-DELIVER is not a submit");
        assert_eq!(err("01").field(), Some(Field::MessageReference));
        assert!(matches!(
            err("012a0c9194"),
            TpduError::Truncated { field: Field::DestinationAddress, need: 10, got: 5 }
        ));
        assert_eq!(
            err("012a0c1194711132547600").field(),
            Some(Field::DestinationAddress),
            "type of address without bit 8"
        );
        assert_eq!(err("012a159194711132547600").field(), Some(Field::DestinationAddress), "21 digits");
        assert_eq!(err("012a0b91947111325476").field(), Some(Field::DestinationAddress), "odd filler must be F");
        assert_eq!(err("012a04d0e834").field(), Some(Field::DestinationAddress), "alphanumeric");
        assert_eq!(err("012a0c9194711132547680").field(), Some(Field::ProtocolIdentifier));
        assert_eq!(err("112a0c919471113254760000").field(), Some(Field::ValidityPeriod));
        assert_eq!(err("012a0c91947111325476000404").field(), Some(Field::UserData), "UDL 4 octets, none follow");
        assert_eq!(err("012a0c919471113254760004ff").field(), Some(Field::UserDataLength), "255 octets");
        assert_eq!(err("012a0c9194711132547600 00a1").field(), Some(Field::UserDataLength), "161 septets");
        assert!(matches!(err("012a0c9194711132547600 0002e83400"), TpduError::Trailing { extra: 1 }));
        assert_eq!(err("412a0c9194711132547600 0403050000").field(), Some(Field::UserData), "UDH longer than TP-UD");
        assert_eq!(err("0d2a0c9194711132547600 00 0f00000000000000 00").field(), Some(Field::ValidityPeriod));
    }

    #[test]
    fn alphabets_set_what_udl_counts() {
        assert_eq!(Alphabet::of(0x00), Alphabet::Gsm7);
        assert_eq!(Alphabet::of(0x04), Alphabet::Eight);
        assert_eq!(Alphabet::of(0x08), Alphabet::Ucs2);
        assert_eq!(Alphabet::of(0x24), Alphabet::Compressed);
        assert_eq!(Alphabet::of(0xF6), Alphabet::Eight);
        assert_eq!(Alphabet::of(0xF0), Alphabet::Gsm7);
        assert_eq!(Alphabet::of(0xE0), Alphabet::Ucs2);
        assert_eq!(Alphabet::of(0x90), Alphabet::Gsm7, "reserved groups read as GSM 7-bit");
    }

    #[test]
    fn delivers_round_trip_through_the_ota_parser_layout() {
        let oa = TpAddress::parse("+4910", Field::OriginatingAddress).unwrap();
        let ud = [0x02, 0x70, 0x00, 0xAA, 0xBB];
        let t = sms_deliver(&oa, 0x7F, 0xF6, [0x62, 0x21, 0x40, 0x51, 0x52, 0x53, 0], true, &ud, true).unwrap();
        assert_eq!(hex::encode(&t), "440491940 17ff662214051525300 05027000aabb".replace(' ', ""));
        assert!(sms_deliver(&oa, 0x7F, 0x00, [0; 7], false, b"hi", true).is_err(), "GSM 7-bit not packed here");
    }

    #[test]
    fn deliver_reports_with_and_without_user_data() {
        let ack = DeliverReport::parse(&hexb("0000"), false).unwrap();
        assert_eq!(ack, DeliverReport { failure_cause: None, pid: None, dcs: None, user_data: None });
        let por = DeliverReport::parse(&hexb("4007 7f f6 05 02710000aa"), false).unwrap();
        assert_eq!((por.pid, por.dcs), (Some(0x7F), Some(0xF6)));
        assert_eq!(por.user_data.unwrap(), hexb("02710000aa"));
        let err = DeliverReport::parse(&hexb("00d000"), true).unwrap();
        assert_eq!(err.failure_cause, Some(0xD0));
        assert_eq!(DeliverReport::parse(&hexb("01"), false).unwrap_err().field(), Some(Field::FirstOctet));
        assert_eq!(DeliverReport::parse(&hexb("0004 09 aa"), false).unwrap_err().field(), Some(Field::UserData));
    }
}
