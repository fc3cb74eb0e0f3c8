//! Identities of a device: IMEI, IMEISV and the TAC (the device model) inside them.

use crate::checks::{digits, err, luhn_check_digit, luhn_ok, IdError};

id_type!(
    /// IMEI: 14 digits (TAC 8 + SNR 6), or 15 with the Luhn check digit (TS 23.003 §6.2.1).
    Imei
);
id_type!(
    /// IMEISV: TAC 8 + SNR 6 + software version number 2 = 16 digits, no check digit
    /// (TS 23.003 §6.2.2).
    Imeisv
);
id_type!(
    /// Type Allocation Code: the 8 digits that name a device model (TS 23.003 §6.2.1).
    Tac
);

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

impl Imei {
    /// The 14 digits without the check digit (TAC + SNR), the form lists are keyed by.
    pub fn body(&self) -> &str {
        &self.0[..14]
    }

    /// The Type Allocation Code (first 8 digits).
    pub fn tac(&self) -> Tac {
        Tac(self.0[..8].to_string())
    }

    /// The Luhn check digit of the body (TS 23.003 Annex B).
    pub fn check_digit(&self) -> u8 {
        luhn_check_digit(self.body())
    }

    /// The 15-digit form: body and check digit.
    pub fn with_check_digit(&self) -> String {
        format!("{}{}", self.body(), self.check_digit())
    }

    /// True when both name the same device (the check digit, present or not, does not matter).
    pub fn same_device(&self, other: &Imei) -> bool {
        self.body() == other.body()
    }
}

impl std::str::FromStr for Imeisv {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        digits("IMEISV", s, 16..=16).map(|_| Self(s.to_string()))
    }
}

impl Imeisv {
    /// From an IMEI and a software version number, as S6a's Terminal-Information carries them
    /// (IMEI and Software-Version, TS 29.272 §7.3.3–7.3.5).
    pub fn from_parts(imei: &Imei, svn: &str) -> Result<Self, IdError> {
        digits("software version number", svn, 2..=2)?;
        Ok(Self(format!("{}{svn}", imei.body())))
    }

    /// The IMEI (14-digit body) of this device.
    pub fn imei(&self) -> Imei {
        Imei(self.0[..14].to_string())
    }

    /// The software version number (last 2 digits).
    pub fn svn(&self) -> &str {
        &self.0[14..]
    }
}

impl std::str::FromStr for Tac {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        digits("TAC", s, 8..=8).map(|_| Self(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imei_with_and_without_check_digit() {
        // TS 23.003 Annex B: IMEI 35 209900 176148, check digit 1.
        let short: Imei = "35209900176148".parse().unwrap();
        assert_eq!(short.check_digit(), 1);
        assert_eq!(short.with_check_digit(), "352099001761481");
        let long: Imei = "352099001761481".parse().unwrap();
        assert!(long.same_device(&short));
        assert_eq!(long.body(), "35209900176148");
        assert_eq!(long.tac().as_str(), "35209900");
        assert!("352099001761482".parse::<Imei>().unwrap_err().to_string().contains("Luhn"));
        assert!("3520990017614".parse::<Imei>().is_err());
    }

    #[test]
    fn imeisv_parts() {
        let sv: Imeisv = "3520990017614823".parse().unwrap();
        assert_eq!(sv.imei().as_str(), "35209900176148");
        assert_eq!(sv.svn(), "23");
        let imei: Imei = "352099001761481".parse().unwrap();
        assert_eq!(Imeisv::from_parts(&imei, "23").unwrap(), sv);
        assert!(Imeisv::from_parts(&imei, "2").is_err());
        assert!("352099001761482".parse::<Imeisv>().is_err(), "15 digits is an IMEI, not an IMEISV");
    }

    #[test]
    fn tac() {
        assert!("35209900".parse::<Tac>().is_ok());
        assert!("3520990".parse::<Tac>().is_err());
    }
}
