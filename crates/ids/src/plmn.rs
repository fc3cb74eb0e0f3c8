//! The PLMN identity (MCC + MNC) and its three-octet BCD form, as Visited-PLMN-Id (TS 29.272
//! §7.3.9), the serving-network name of key derivation (TS 33.401 A.2) and GTP-C carry it
//! (TS 24.008 §10.5.1.13).

use std::fmt;

use crate::checks::{digits, err, IdError};

/// A PLMN: MCC (3 digits) and MNC (2 or 3 digits), written `MCCMNC` (`00101`, `310410`). Held in its
/// BCD form, so it is `Copy`, hashes as three bytes, and encodes without work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Plmn([u8; 3]);

fn digit(b: u8) -> u8 {
    b - b'0'
}

impl Plmn {
    /// Parses `MCC` and `MNC` given separately.
    pub fn new(mcc: &str, mnc: &str) -> Result<Self, IdError> {
        digits("MCC", mcc, 3..=3)?;
        digits("MNC", mnc, 2..=3)?;
        let (c, n) = (mcc.as_bytes(), mnc.as_bytes());
        let mnc3 = n.get(2).map_or(0xf, |b| digit(*b));
        Ok(Self([digit(c[1]) << 4 | digit(c[0]), mnc3 << 4 | digit(c[2]), digit(n[1]) << 4 | digit(n[0])]))
    }

    /// Reads the three BCD octets of TS 24.008 §10.5.1.13 (as in Visited-PLMN-Id): every nibble a
    /// decimal digit, except the third MNC digit, which may be the filler `F`.
    pub fn from_bcd(b: &[u8]) -> Result<Self, IdError> {
        let hex = || b.iter().map(|x| format!("{x:02x}")).collect::<String>();
        let Ok(octets) = <[u8; 3]>::try_from(b) else {
            return Err(err("PLMN id", &hex(), format!("must be 3 octets, has {}", b.len())));
        };
        let [a, m, n] = octets;
        let nibbles = [a & 0xf, a >> 4, m & 0xf, n & 0xf, n >> 4];
        if nibbles.iter().any(|d| *d > 9) || (m >> 4 > 9 && m >> 4 != 0xf) {
            return Err(err("PLMN id", &hex(), "contains a nibble that is not a digit"));
        }
        Ok(Self(octets))
    }

    /// The three BCD octets.
    pub fn to_bcd(self) -> [u8; 3] {
        self.0
    }

    /// The mobile country code as a number (`262`).
    pub fn mcc(self) -> u16 {
        let [a, m, _] = self.0;
        u16::from(a & 0xf) * 100 + u16::from(a >> 4) * 10 + u16::from(m & 0xf)
    }

    /// The mobile network code as a number (`1` for `01`); see [`Plmn::mnc_digits`] for its width.
    pub fn mnc(self) -> u16 {
        let [_, m, n] = self.0;
        let two = u16::from(n & 0xf) * 10 + u16::from(n >> 4);
        if self.mnc_digits() == 3 {
            two * 10 + u16::from(m >> 4)
        } else {
            two
        }
    }

    /// How many digits the MNC has (2 or 3).
    pub fn mnc_digits(self) -> usize {
        if self.0[1] >> 4 == 0xf {
            2
        } else {
            3
        }
    }
}

impl fmt::Display for Plmn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:03}{:0w$}", self.mcc(), self.mnc(), w = self.mnc_digits())
    }
}

impl std::str::FromStr for Plmn {
    type Err = IdError;
    /// `MCCMNC`: a 2-digit MNC when 5 digits, 3-digit when 6.
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
    use proptest::prelude::*;

    #[test]
    fn bcd_examples() {
        // TS 24.008 §10.5.1.13 digit order; the same bytes TS 33.401 A.2 feeds into KASME.
        assert_eq!("00101".parse::<Plmn>().unwrap().to_bcd(), [0x00, 0xf1, 0x10]);
        assert_eq!("310410".parse::<Plmn>().unwrap().to_bcd(), [0x13, 0x00, 0x14]);
        assert_eq!("26201".parse::<Plmn>().unwrap().to_bcd(), [0x62, 0xf2, 0x10]);
        assert_eq!("310260".parse::<Plmn>().unwrap().to_bcd(), [0x13, 0x00, 0x62]);
        let p: Plmn = "310260".parse().unwrap();
        assert_eq!((p.mcc(), p.mnc(), p.mnc_digits()), (310, 260, 3));
        let p: Plmn = "00101".parse().unwrap();
        assert_eq!((p.mcc(), p.mnc(), p.mnc_digits()), (1, 1, 2));
        assert_eq!(p.to_string(), "00101");
    }

    #[test]
    fn refusals() {
        assert!(Plmn::from_bcd(&[0xaa, 0xf1, 0x10]).unwrap_err().to_string().contains("not a digit"));
        assert!(Plmn::from_bcd(&[0x00, 0xf1]).unwrap_err().to_string().contains("3 octets"));
        assert!(Plmn::from_bcd(&[0x00, 0xe1, 0x10]).is_err(), "E is not the filler");
        assert!("2620".parse::<Plmn>().is_err());
        assert!("26a01".parse::<Plmn>().is_err());
        assert!(Plmn::new("26", "01").is_err());
    }

    proptest! {
        #[test]
        fn text_and_bcd_round_trip(mcc in 0u16..1000, mnc in 0u16..1000, three in any::<bool>()) {
            let mnc = if three { mnc } else { mnc % 100 };
            let text = if three { format!("{mcc:03}{mnc:03}") } else { format!("{mcc:03}{mnc:02}") };
            let p: Plmn = text.parse().unwrap();
            prop_assert_eq!(p.to_string(), text);
            prop_assert_eq!(Plmn::from_bcd(&p.to_bcd()).unwrap(), p);
        }

        #[test]
        fn any_bytes_decode_or_refuse(b in proptest::collection::vec(any::<u8>(), 0..5)) {
            if let Ok(p) = Plmn::from_bcd(&b) {
                prop_assert_eq!(p.to_bcd().to_vec(), b);
            }
        }
    }
}
