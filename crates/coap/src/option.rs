//! Options: numbers (RFC 7252 §5.10 and Table 4, RFC 7959 §2.1, RFC 7641 §2), whether they are
//! critical (odd numbers, §5.4.1), the value lengths each allows, and the unsigned-integer value
//! format (§3.2: big-endian, shortest form, zero as no bytes).

use std::fmt;

/// An option number.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OptionNumber(pub u16);

impl OptionNumber {
    /// If-Match.
    pub const IF_MATCH: OptionNumber = OptionNumber(1);
    /// Uri-Host.
    pub const URI_HOST: OptionNumber = OptionNumber(3);
    /// ETag.
    pub const ETAG: OptionNumber = OptionNumber(4);
    /// If-None-Match.
    pub const IF_NONE_MATCH: OptionNumber = OptionNumber(5);
    /// Observe (RFC 7641).
    pub const OBSERVE: OptionNumber = OptionNumber(6);
    /// Uri-Port.
    pub const URI_PORT: OptionNumber = OptionNumber(7);
    /// Location-Path.
    pub const LOCATION_PATH: OptionNumber = OptionNumber(8);
    /// Uri-Path.
    pub const URI_PATH: OptionNumber = OptionNumber(11);
    /// Content-Format.
    pub const CONTENT_FORMAT: OptionNumber = OptionNumber(12);
    /// Max-Age.
    pub const MAX_AGE: OptionNumber = OptionNumber(14);
    /// Uri-Query.
    pub const URI_QUERY: OptionNumber = OptionNumber(15);
    /// Accept.
    pub const ACCEPT: OptionNumber = OptionNumber(17);
    /// Location-Query.
    pub const LOCATION_QUERY: OptionNumber = OptionNumber(20);
    /// Block2 (RFC 7959).
    pub const BLOCK2: OptionNumber = OptionNumber(23);
    /// Block1 (RFC 7959).
    pub const BLOCK1: OptionNumber = OptionNumber(27);
    /// Size2 (RFC 7959).
    pub const SIZE2: OptionNumber = OptionNumber(28);
    /// Proxy-Uri.
    pub const PROXY_URI: OptionNumber = OptionNumber(35);
    /// Proxy-Scheme.
    pub const PROXY_SCHEME: OptionNumber = OptionNumber(39);
    /// Size1.
    pub const SIZE1: OptionNumber = OptionNumber(60);

    /// Critical options (odd numbers) must be understood by the receiver (§5.4.1).
    pub fn is_critical(self) -> bool {
        self.0 & 1 == 1
    }

    /// The value lengths a known option allows (min, max); `None` for unknown options.
    pub fn length_range(self) -> Option<(usize, usize)> {
        Some(match self.0 {
            1 => (0, 8),
            3 => (1, 255),
            4 => (1, 8),
            5 => (0, 0),
            6 => (0, 3),
            7 => (0, 2),
            8 => (0, 255),
            11 => (0, 255),
            12 => (0, 2),
            14 => (0, 4),
            15 => (0, 255),
            17 => (0, 2),
            20 => (0, 255),
            23 | 27 => (0, 3),
            28 | 60 => (0, 4),
            35 => (1, 1034),
            39 => (1, 255),
            _ => return None,
        })
    }

    /// Whether the option may appear more than once (Table 4's "R" column).
    pub fn repeatable(self) -> bool {
        matches!(self.0, 1 | 4 | 8 | 11 | 15 | 20)
    }
}

impl fmt::Debug for OptionNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Option({})", self.0)
    }
}

/// One option: its number and raw value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoapOption {
    /// Number.
    pub number: OptionNumber,
    /// Value bytes.
    pub value: Vec<u8>,
}

/// Why a request's options cannot be processed: the server answers 4.02 Bad Option (§5.4.1).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OptionError {
    /// A critical option the receiver does not know.
    #[error("unrecognised critical option {0}")]
    UnknownCritical(u16),
    /// A known option whose value length is outside its range.
    #[error("option {number}: value of {len} bytes outside {min}..={max}")]
    Length {
        /// Option number.
        number: u16,
        /// Its length.
        len: usize,
        /// Allowed minimum.
        min: usize,
        /// Allowed maximum.
        max: usize,
    },
    /// A non-repeatable critical option given twice.
    #[error("option {0} given more than once")]
    Repeated(u16),
}

/// Checks a request's options as a server must (§5.4.1, §5.4.3, §5.4.5): every critical option is
/// known (`understood` lists the critical numbers this server acts on), every known option has a
/// value length in range, and critical non-repeatable ones appear once. Elective options that are
/// unknown or malformed are to be ignored, so they pass.
pub fn check_request_options(options: &[CoapOption], understood: &[OptionNumber]) -> Result<(), OptionError> {
    for (i, o) in options.iter().enumerate() {
        let known = o.number.length_range();
        if o.number.is_critical() && (known.is_none() || !understood.contains(&o.number)) {
            return Err(OptionError::UnknownCritical(o.number.0));
        }
        if let Some((min, max)) = known {
            if (o.value.len() < min || o.value.len() > max) && o.number.is_critical() {
                return Err(OptionError::Length { number: o.number.0, len: o.value.len(), min, max });
            }
        }
        if o.number.is_critical() && !o.number.repeatable() && options[..i].iter().any(|p| p.number == o.number) {
            return Err(OptionError::Repeated(o.number.0));
        }
    }
    Ok(())
}

/// An unsigned integer in its shortest big-endian form (zero is no bytes).
pub fn encode_uint(v: u32) -> Vec<u8> {
    let bytes = v.to_be_bytes();
    let skip = bytes.iter().take_while(|b| **b == 0).count();
    bytes[skip..].to_vec()
}

/// Reads an unsigned-integer value of at most 4 bytes (leading zeros allowed).
pub fn decode_uint(value: &[u8]) -> Option<u32> {
    if value.len() > 4 {
        return None;
    }
    Some(value.iter().fold(0u32, |acc, b| (acc << 8) | u32::from(*b)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uint_shortest_form() {
        assert_eq!(encode_uint(0), Vec::<u8>::new());
        assert_eq!(encode_uint(60), vec![60]);
        assert_eq!(encode_uint(0x1234), vec![0x12, 0x34]);
        assert_eq!(decode_uint(&[0, 0, 1]), Some(1));
        assert_eq!(decode_uint(&[1, 2, 3, 4, 5]), None);
    }

    #[test]
    fn unknown_critical_refused_unknown_elective_passes() {
        let understood = [OptionNumber::URI_PATH];
        let crit = CoapOption { number: OptionNumber(2049), value: vec![] };
        assert_eq!(check_request_options(&[crit], &understood), Err(OptionError::UnknownCritical(2049)));
        let elective = CoapOption { number: OptionNumber(2048), value: vec![1; 40] };
        assert_eq!(check_request_options(&[elective], &understood), Ok(()));
        let long = CoapOption { number: OptionNumber::URI_PATH, value: vec![b'a'; 256] };
        assert!(matches!(check_request_options(&[long], &understood), Err(OptionError::Length { .. })));
    }
}
