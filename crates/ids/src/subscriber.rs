//! Identities of a subscription: IMSI, ICCID, MSISDN and the EID of the eUICC that holds it.

use crate::checks::{digits, err, luhn_ok, mod97_ok, IdError};

id_type!(
    /// IMSI: MCC (3) + MNC (2–3) + MSIN, 6 to 15 digits (TS 23.003 §2.2).
    Imsi
);
id_type!(
    /// ICCID: 18 to 20 digits (ITU-T E.118) ending in a Luhn check digit.
    Iccid
);
id_type!(
    /// MSISDN in E.164 form: 1 to 15 digits, no `+`.
    Msisdn
);
id_type!(
    /// EID of an eUICC: 32 digits whose last two are ISO/IEC 7064 MOD 97-10 check digits, so the
    /// whole number is 1 modulo 97 (GSMA SGP.29 §2.2).
    Eid
);

impl std::str::FromStr for Imsi {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        digits("IMSI", s, 6..=15).map(|_| Self(s.to_string()))
    }
}

impl Imsi {
    /// The mobile country code (first 3 digits).
    pub fn mcc(&self) -> &str {
        &self.0[..3]
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

impl std::str::FromStr for Eid {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        digits("EID", s, 32..=32)?;
        if !mod97_ok(s) {
            return Err(err("EID", s, "check digits are wrong (the EID must be 1 modulo 97, GSMA SGP.29)"));
        }
        Ok(Self(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imsi() {
        let i: Imsi = "001010000000001".parse().unwrap();
        assert_eq!(i.mcc(), "001");
        assert!("00101000000000a".parse::<Imsi>().unwrap_err().to_string().contains("'a' is not a digit"));
        assert!("0010100000000011".parse::<Imsi>().is_err());
        assert!("00101".parse::<Imsi>().is_err());
    }

    #[test]
    fn iccid_needs_its_luhn_digit() {
        // 8944 1234 5678 9012 345 + Luhn digit.
        let body = "894412345678901234";
        let good = format!("{body}{}", crate::luhn_check_digit(body));
        assert!(good.parse::<Iccid>().is_ok());
        let bad = format!("{body}{}", (crate::luhn_check_digit(body) + 1) % 10);
        assert!(bad.parse::<Iccid>().unwrap_err().to_string().contains("Luhn"));
    }

    #[test]
    fn eid_check_digits() {
        assert!("89049032123451234512345678901235".parse::<Eid>().is_ok());
        let e = "89049032123451234512345678901234".parse::<Eid>().unwrap_err();
        assert!(e.to_string().contains("check digits"), "{e}");
        assert!("8904903212345123451234567890123".parse::<Eid>().is_err(), "31 digits");
    }

    #[test]
    fn serde_checks_like_parsing() {
        let i: Imsi = serde_json::from_str("\"001010000000001\"").unwrap();
        assert_eq!(serde_json::to_string(&i).unwrap(), "\"001010000000001\"");
        assert!(serde_json::from_str::<Imsi>("\"12x\"").is_err());
    }
}
