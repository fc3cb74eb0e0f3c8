//! What the parsers share: the error type, digit and length checks, and the check-digit schemes
//! (Luhn for IMEI and ICCID, ISO/IEC 7064 MOD 97-10 for EID).

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

pub(crate) fn err(what: &'static str, value: &str, reason: impl Into<String>) -> IdError {
    IdError { what, value: value.to_string(), reason: reason.into() }
}

/// Checks that `s` is all ASCII digits with a length in `lens`.
pub(crate) fn digits(what: &'static str, s: &str, lens: std::ops::RangeInclusive<usize>) -> Result<(), IdError> {
    if let Some(c) = s.chars().find(|c| !c.is_ascii_digit()) {
        return Err(err(what, s, format!("'{c}' is not a digit")));
    }
    if !lens.contains(&s.len()) {
        return Err(if lens.start() == lens.end() {
            err(what, s, format!("must have {} digits, has {}", lens.start(), s.len()))
        } else {
            err(what, s, format!("must have {} to {} digits, has {}", lens.start(), lens.end(), s.len()))
        });
    }
    Ok(())
}

fn luhn_sum(digits: &str, double_first: bool) -> u32 {
    digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b.wrapping_sub(b'0'));
            if (i % 2 == 0) == double_first {
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
        .sum()
}

/// True when the last digit of `s` (ASCII digits) is the Luhn check digit of the others.
pub fn luhn_ok(s: &str) -> bool {
    luhn_sum(s, false).is_multiple_of(10)
}

/// The Luhn check digit to append to `body` (ASCII digits), as TS 23.003 Annex B computes it for
/// the IMEI.
pub fn luhn_check_digit(body: &str) -> u8 {
    ((10 - luhn_sum(body, true) % 10) % 10) as u8
}

/// True when the decimal number `s` is 1 modulo 97 (ISO/IEC 7064 MOD 97-10, as for EID check
/// digits).
pub(crate) fn mod97_ok(s: &str) -> bool {
    s.bytes().fold(0u32, |r, b| (r * 10 + u32::from(b.wrapping_sub(b'0'))) % 97) == 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luhn_examples() {
        // TS 23.003 Annex B: IMEI 35 209900 176148 has check digit 1.
        assert_eq!(luhn_check_digit("35209900176148"), 1);
        assert!(luhn_ok("352099001761481"));
        assert!(!luhn_ok("352099001761482"));
        // The IMEI of the TS 23.003 Annex B worked example, 49015420323751, has check digit 8.
        assert_eq!(luhn_check_digit("49015420323751"), 8);
    }

    #[test]
    fn mod97_examples() {
        // GSMA SGP.29 §2.2's example EID.
        assert!(mod97_ok("89049032123451234512345678901235"));
        assert!(!mod97_ok("89049032123451234512345678901234"));
    }

    #[test]
    fn length_messages() {
        assert_eq!(digits("X", "12", 3..=3).unwrap_err().reason, "must have 3 digits, has 2");
        assert_eq!(digits("X", "12", 3..=5).unwrap_err().reason, "must have 3 to 5 digits, has 2");
        assert_eq!(digits("X", "1a", 2..=2).unwrap_err().reason, "'a' is not a digit");
    }
}
