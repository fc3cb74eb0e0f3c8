//! Identities, parsed once and then trusted (ARCHITECTURE principle 3): IMSI, ICCID, MSISDN, IMEI,
//! EID and PLMN. Each parser says exactly what is wrong with its input.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why an identity was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} {value:?}: {reason}")]
pub struct IdError {
    /// Which identity.
    pub what: &'static str,
    /// The input.
    pub value: String,
    /// What is wrong.
    pub reason: String,
}

fn err(what: &'static str, value: &str, reason: impl Into<String>) -> IdError {
    IdError { what, value: value.to_string(), reason: reason.into() }
}

fn digits(what: &'static str, s: &str, lens: std::ops::RangeInclusive<usize>) -> Result<(), IdError> {
    if let Some(c) = s.chars().find(|c| !c.is_ascii_digit()) {
        return Err(err(what, s, format!("'{c}' is not a digit")));
    }
    if !lens.contains(&s.len()) {
        return Err(err(what, s, format!("must have {} to {} digits, has {}", lens.start(), lens.end(), s.len())));
    }
    Ok(())
}

/// True when the last digit is the Luhn check digit of the others.
pub fn luhn_ok(s: &str) -> bool {
    let sum: u32 = s
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 1 {
                let x = d * 2;
                if x > 9 {
                    x - 9
                } else {
                    x
                }
            } else {
                d
            }
        })
        .sum();
    sum % 10 == 0
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// The digits.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(s: String) -> Result<Self, IdError> {
                s.parse()
            }
        }

        impl From<$name> for String {
            fn from(x: $name) -> String {
                x.0
            }
        }
    };
}

id_type!(
    /// IMSI: MCC (3) + MNC (2–3) + MSIN, 6 to 15 digits (TS 23.003 §2.2).
    Imsi
);
id_type!(
    /// ICCID: 18 to 20 digits (ITU-T E.118) with a Luhn check digit.
    Iccid
);
id_type!(
    /// MSISDN in E.164 form: 1 to 15 digits, no `+`.
    Msisdn
);
id_type!(
    /// IMEI: 14 digits (TAC 8 + SNR 6), or 15 with the Luhn check digit (TS 23.003 §6.2.1).
    Imei
);
id_type!(
    /// EID of an eUICC: 32 digits (GSMA SGP.02).
    Eid
);

impl std::str::FromStr for Imsi {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        digits("IMSI", s, 6..=15).map(|_| Self(s.to_string()))
    }
}

impl std::str::FromStr for Iccid {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        digits("ICCID", s, 18..=20)?;
        if !luhn_ok(s) {
            return Err(err("ICCID", s, "Luhn check digit is wrong"));
        }
        Ok(Self(s.to_string()))
    }
}

impl std::str::FromStr for Msisdn {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        digits("MSISDN", s, 1..=15).map(|_| Self(s.to_string()))
    }
}

impl std::str::FromStr for Imei {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        digits("IMEI", s, 14..=15)?;
        if s.len() == 15 && !luhn_ok(s) {
            return Err(err("IMEI", s, "Luhn check digit is wrong"));
        }
        Ok(Self(s.to_string()))
    }
}

impl std::str::FromStr for Eid {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        digits("EID", s, 32..=32).map(|_| Self(s.to_string()))
    }
}

impl Imei {
    /// The 14 digits without the check digit (TAC + SNR), the form lists are keyed by.
    pub fn body(&self) -> &str {
        &self.0[..14]
    }

    /// The Type Allocation Code (first 8 digits).
    pub fn tac(&self) -> &str {
        &self.0[..8]
    }
}

/// A PLMN: MCC (3 digits) and MNC (2 or 3 digits), written `MCCMNC` (e.g. `00101`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Plmn {
    mcc: String,
    mnc: String,
}

impl Plmn {
    /// Parses `MCC` + `MNC` given separately.
    pub fn new(mcc: &str, mnc: &str) -> Result<Self, IdError> {
        digits("MCC", mcc, 3..=3)?;
        digits("MNC", mnc, 2..=3)?;
        Ok(Self { mcc: mcc.to_string(), mnc: mnc.to_string() })
    }

    /// The three octets of TS 24.008 §10.5.1.13 (as in Visited-PLMN-Id).
    pub fn encode(&self) -> [u8; 3] {
        auc::ServingNetwork::from_mcc_mnc(&self.mcc, &self.mnc).expect("validated digits").0
    }

    /// Reads the three octets of Visited-PLMN-Id.
    pub fn decode(b: &[u8]) -> Result<Self, IdError> {
        let hex = b.iter().map(|x| format!("{x:02x}")).collect::<String>();
        if b.len() != 3 {
            return Err(err("PLMN id", &hex, "must be 3 octets"));
        }
        let d = |x: u8| char::from_digit(u32::from(x), 10);
        let parts = [b[0] & 0xf, b[0] >> 4, b[1] & 0xf, b[2] & 0xf, b[2] >> 4, b[1] >> 4];
        let mcc: Option<String> = parts[..3].iter().map(|x| d(*x)).collect();
        let mut mnc: Option<String> = parts[3..5].iter().map(|x| d(*x)).collect();
        if parts[5] != 0xf {
            mnc = mnc.and_then(|m| d(parts[5]).map(|c| format!("{m}{c}")));
        }
        match (mcc, mnc) {
            (Some(mcc), Some(mnc)) => Self::new(&mcc, &mnc),
            _ => Err(err("PLMN id", &hex, "contains a nibble that is not a digit")),
        }
    }

    /// MCC.
    pub fn mcc(&self) -> &str {
        &self.mcc
    }

    /// MNC.
    pub fn mnc(&self) -> &str {
        &self.mnc
    }
}

impl fmt::Display for Plmn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.mcc, self.mnc)
    }
}

impl std::str::FromStr for Plmn {
    type Err = IdError;
    /// `MCCMNC` with a 2-digit MNC when 5 digits, 3-digit when 6.
    fn from_str(s: &str) -> Result<Self, IdError> {
        digits("PLMN", s, 5..=6)?;
        Self::new(&s[..3], &s[3..])
    }
}

impl TryFrom<String> for Plmn {
    type Error = IdError;
    fn try_from(s: String) -> Result<Self, IdError> {
        s.parse()
    }
}

impl From<Plmn> for String {
    fn from(p: Plmn) -> String {
        p.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parsing() {
        assert!("001010000000001".parse::<Imsi>().is_ok());
        assert!("00101000000000a".parse::<Imsi>().unwrap_err().to_string().contains("'a' is not a digit"));
        assert!("0010100000000011".parse::<Imsi>().is_err());
        // IMEI 49015420323751 with check digit 8 (TS 23.003 Annex B example).
        assert!("490154203237518".parse::<Imei>().is_ok());
        assert!("490154203237517".parse::<Imei>().unwrap_err().to_string().contains("Luhn"));
        assert_eq!("49015420323751".parse::<Imei>().unwrap().tac(), "49015420");
        assert!("89882390000123456785".parse::<Iccid>().is_err() || luhn_ok("89882390000123456785"));
    }

    #[test]
    fn plmn_round_trip() {
        for s in ["00101", "310410", "26201"] {
            let p: Plmn = s.parse().unwrap();
            assert_eq!(Plmn::decode(&p.encode()).unwrap(), p);
            assert_eq!(p.to_string(), s);
        }
        assert_eq!("00101".parse::<Plmn>().unwrap().encode(), [0x00, 0xf1, 0x10]);
        assert!(Plmn::decode(&[0xaa, 0xf1, 0x10]).is_err());
    }
}
