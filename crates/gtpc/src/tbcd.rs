//! Telephony BCD (TS 29.274 §8.3, TS 29.002 TBCD-STRING): IMSI, MSISDN and MEI digits two to an octet,
//! low nibble first, an odd count padded with 0xF; and the PLMN identity (MCC, MNC) coded the same way
//! in three octets (TS 24.008 §10.5.1.3). Also the APN's label encoding (TS 23.003 §9.1), shared by
//! both GTP versions.

use std::fmt;

/// Decodes TBCD digits. Only 0-9 are accepted; 0xF only as the very last nibble (odd digit count).
pub fn decode_digits(bytes: &[u8]) -> Result<String, &'static str> {
    let mut s = String::with_capacity(bytes.len() * 2);
    for (i, &b) in bytes.iter().enumerate() {
        let (lo, hi) = (b & 0x0f, b >> 4);
        if lo > 9 {
            return Err("non-decimal TBCD digit");
        }
        s.push((b'0' + lo) as char);
        if hi == 0x0f && i == bytes.len() - 1 {
            break;
        }
        if hi > 9 {
            return Err("non-decimal TBCD digit");
        }
        s.push((b'0' + hi) as char);
    }
    Ok(s)
}

/// Encodes decimal digits as TBCD (0xF filler for an odd count).
pub fn encode_digits(digits: &str) -> Result<Vec<u8>, &'static str> {
    if !digits.bytes().all(|c| c.is_ascii_digit()) {
        return Err("not a string of decimal digits");
    }
    Ok(digits
        .as_bytes()
        .chunks(2)
        .map(|p| {
            let lo = p[0] - b'0';
            let hi = p.get(1).map_or(0x0f, |c| c - b'0');
            (hi << 4) | lo
        })
        .collect())
}

/// A PLMN identity: MCC and a two- or three-digit MNC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Plmn {
    mcc: [u8; 3],
    mnc: [u8; 3],
    mnc_len: u8,
}

impl Plmn {
    /// From decimal strings: a three-digit MCC and a two- or three-digit MNC.
    pub fn new(mcc: &str, mnc: &str) -> Result<Plmn, &'static str> {
        let digits = |s: &str| s.bytes().all(|c| c.is_ascii_digit());
        if mcc.len() != 3 || !digits(mcc) {
            return Err("MCC must be three decimal digits");
        }
        if !(2..=3).contains(&mnc.len()) || !digits(mnc) {
            return Err("MNC must be two or three decimal digits");
        }
        let mut p = Plmn { mcc: [0; 3], mnc: [0; 3], mnc_len: mnc.len() as u8 };
        for (d, c) in p.mcc.iter_mut().zip(mcc.bytes()) {
            *d = c - b'0';
        }
        for (d, c) in p.mnc.iter_mut().zip(mnc.bytes()) {
            *d = c - b'0';
        }
        Ok(p)
    }

    /// From the three octets of TS 24.008 §10.5.1.3 (MNC digit 3 = 0xF for a two-digit MNC).
    pub fn from_bytes(b: [u8; 3]) -> Result<Plmn, &'static str> {
        let (mcc1, mcc2, mcc3, mnc3, mnc1, mnc2) =
            (b[0] & 0xf, b[0] >> 4, b[1] & 0xf, b[1] >> 4, b[2] & 0xf, b[2] >> 4);
        if [mcc1, mcc2, mcc3, mnc1, mnc2].iter().any(|&d| d > 9) || (mnc3 > 9 && mnc3 != 0xf) {
            return Err("PLMN digits are not decimal");
        }
        let mnc_len = if mnc3 == 0xf { 2 } else { 3 };
        Ok(Plmn { mcc: [mcc1, mcc2, mcc3], mnc: [mnc1, mnc2, if mnc_len == 3 { mnc3 } else { 0 }], mnc_len })
    }

    /// The three octets of TS 24.008 §10.5.1.3.
    pub fn to_bytes(self) -> [u8; 3] {
        let mnc3 = if self.mnc_len == 3 { self.mnc[2] } else { 0xf };
        [(self.mcc[1] << 4) | self.mcc[0], (mnc3 << 4) | self.mcc[2], (self.mnc[1] << 4) | self.mnc[0]]
    }

    /// The MCC as three digits.
    pub fn mcc(&self) -> String {
        self.mcc.iter().map(|d| (b'0' + d) as char).collect()
    }

    /// The MNC as two or three digits.
    pub fn mnc(&self) -> String {
        self.mnc[..self.mnc_len as usize].iter().map(|d| (b'0' + d) as char).collect()
    }
}

impl fmt::Display for Plmn {
    /// `MCC-MNC`, e.g. `001-01`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.mcc(), self.mnc())
    }
}

/// Decodes an APN from its labels (each a length octet and that many characters) to dotted text.
pub fn decode_apn(bytes: &[u8]) -> Result<String, &'static str> {
    let mut out = String::with_capacity(bytes.len());
    let mut rest = bytes;
    while let Some((&n, tail)) = rest.split_first() {
        let n = n as usize;
        if n == 0 || n > tail.len() {
            return Err("APN label length is zero or runs past the value");
        }
        let label = std::str::from_utf8(&tail[..n]).map_err(|_| "APN label is not text")?;
        if label.contains('.') {
            return Err("APN label contains a dot");
        }
        if !out.is_empty() {
            out.push('.');
        }
        out.push_str(label);
        rest = &tail[n..];
    }
    Ok(out)
}

/// Encodes a dotted APN as labels.
pub fn encode_apn(apn: &str) -> Result<Vec<u8>, &'static str> {
    let mut out = Vec::with_capacity(apn.len() + 1);
    if apn.is_empty() {
        return Ok(out);
    }
    for label in apn.split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err("APN label empty or longer than 63 characters");
        }
        out.push(label.len() as u8);
        out.extend_from_slice(label.as_bytes());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tbcd_digits_round_trip_and_odd_counts_are_padded() {
        assert_eq!(encode_digits("001010123456789").unwrap(), [0x00, 0x01, 0x01, 0x21, 0x43, 0x65, 0x87, 0xf9]);
        assert_eq!(decode_digits(&[0x00, 0x01, 0x01, 0x21, 0x43, 0x65, 0x87, 0xf9]).unwrap(), "001010123456789");
        assert_eq!(decode_digits(&[0x21, 0x43]).unwrap(), "1234");
        assert!(decode_digits(&[0xf1, 0x21]).is_err(), "filler only at the end");
        assert!(decode_digits(&[0x1a]).is_err());
    }

    #[test]
    fn plmn_two_and_three_digit_mnc() {
        // TS 24.008 figure 10.5.3: MCC 262, MNC 01 -> 62 F2 10.
        let p = Plmn::from_bytes([0x62, 0xf2, 0x10]).unwrap();
        assert_eq!((p.mcc().as_str(), p.mnc().as_str()), ("262", "01"));
        assert_eq!(p.to_bytes(), [0x62, 0xf2, 0x10]);
        let p = Plmn::new("310", "410").unwrap();
        assert_eq!(p.to_bytes(), [0x13, 0x00, 0x14]);
        assert_eq!(Plmn::from_bytes(p.to_bytes()).unwrap(), p);
        assert_eq!(p.to_string(), "310-410");
    }

    #[test]
    fn apn_labels() {
        assert_eq!(encode_apn("internet.mnc001.mcc001.gprs").unwrap()[..9], *b"\x08internet");
        assert_eq!(decode_apn(&encode_apn("ims.example").unwrap()).unwrap(), "ims.example");
        assert!(decode_apn(b"\x05abc").is_err());
    }
}
