//! Check digits and plausibility rules the candidates must pass: Luhn (ISO/IEC 7812-1), card issuer
//! prefixes, IBAN lengths and ISO 7064 mod 97-10 (ISO 13616), the Dutch 11-proof, US SSN ranges.

/// Whether a string of ASCII digits passes the Luhn check (its last digit is the check digit).
pub(crate) fn luhn(digits: &[u8]) -> bool {
    let mut sum = 0u32;
    for (i, d) in digits.iter().rev().enumerate() {
        let mut v = u32::from(d - b'0');
        if i % 2 == 1 {
            v *= 2;
            if v > 9 {
                v -= 9;
            }
        }
        sum += v;
    }
    sum.is_multiple_of(10)
}

fn prefix(digits: &[u8], n: usize) -> u32 {
    digits.iter().take(n).fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0'))
}

/// Whether the issuer prefix (IIN) and the length fit a card scheme in use: Visa, Mastercard, American
/// Express, Diners, JCB, Discover, UnionPay, Maestro (ranges as the schemes publish them).
pub(crate) fn card_issuer_plausible(digits: &[u8]) -> bool {
    let len = digits.len();
    let (p2, p3, p4) = (prefix(digits, 2), prefix(digits, 3), prefix(digits, 4));
    match digits.first() {
        Some(b'4') => matches!(len, 13 | 16 | 19),
        Some(b'2') => (2221..=2720).contains(&p4) && len == 16,
        Some(b'5') => {
            ((51..=55).contains(&p2) && len == 16)
                || ((p2 == 50 || (56..=59).contains(&p2)) && (13..=19).contains(&len))
        }
        Some(b'3') => {
            ((p2 == 34 || p2 == 37) && len == 15)
                || ((p2 == 36 || p2 == 38 || p2 == 39 || (300..=305).contains(&p3)) && (14..=19).contains(&len))
                || ((3528..=3589).contains(&p4) && (16..=19).contains(&len))
        }
        Some(b'6') => {
            let fixed = p4 == 6011 || (644..=649).contains(&p3) || p2 == 65 || p2 == 62;
            if fixed {
                (16..=19).contains(&len)
            } else {
                (13..=19).contains(&len) // Maestro 6x
            }
        }
        _ => false,
    }
}

/// IBAN length by country (ISO 13616 registry), for the countries most often met in Europe and a
/// few beyond.
pub(crate) fn iban_length(country: [u8; 2]) -> Option<usize> {
    Some(match &country {
        b"AD" => 24,
        b"AE" => 23,
        b"AT" => 20,
        b"BE" => 16,
        b"BG" => 22,
        b"BH" => 22,
        b"BR" => 29,
        b"CH" => 21,
        b"CY" => 28,
        b"CZ" => 24,
        b"DE" => 22,
        b"DK" => 18,
        b"EE" => 20,
        b"ES" => 24,
        b"FI" => 18,
        b"FO" => 18,
        b"FR" => 27,
        b"GB" => 22,
        b"GI" => 23,
        b"GL" => 18,
        b"GR" => 27,
        b"HR" => 21,
        b"HU" => 28,
        b"IE" => 22,
        b"IL" => 23,
        b"IS" => 26,
        b"IT" => 27,
        b"LI" => 21,
        b"LT" => 20,
        b"LU" => 20,
        b"LV" => 21,
        b"MC" => 27,
        b"MT" => 31,
        b"NL" => 18,
        b"NO" => 15,
        b"PL" => 28,
        b"PT" => 25,
        b"RO" => 24,
        b"SA" => 24,
        b"SE" => 24,
        b"SI" => 19,
        b"SK" => 24,
        b"SM" => 27,
        b"TR" => 26,
        b"UA" => 29,
        _ => return None,
    })
}

/// ISO 7064 mod 97-10 over an IBAN of upper-case letters and digits (no spaces): the first four
/// characters move to the end, letters count as 10–35, and the number must leave 1.
pub(crate) fn iban_mod97(iban: &[u8]) -> bool {
    if iban.len() < 5 {
        return false;
    }
    let mut rem = 0u32;
    for &c in iban[4..].iter().chain(&iban[..4]) {
        match c {
            b'0'..=b'9' => rem = (rem * 10 + u32::from(c - b'0')) % 97,
            b'A'..=b'Z' => rem = (rem * 100 + u32::from(c - b'A' + 10)) % 97,
            _ => return false,
        }
    }
    rem == 1
}

/// The Dutch BSN "11-proof": 9 digits, 9·d1 + 8·d2 + … + 2·d8 − d9 divisible by 11 and not zero.
pub(crate) fn eleven_proof(digits: &[u8]) -> bool {
    if digits.len() != 9 {
        return false;
    }
    let mut sum = 0i32;
    for (i, d) in digits.iter().enumerate() {
        let v = i32::from(d - b'0');
        sum += if i == 8 { -v } else { v * (9 - i as i32) };
    }
    sum != 0 && sum % 11 == 0
}

/// US Social Security number ranges never issued (SSA): area 000, 666 and 900–999, group 00,
/// serial 0000, and two numbers published in advertising (078-05-1120, 219-09-9999).
pub(crate) fn ssn_plausible(area: u32, group: u32, serial: u32) -> bool {
    area != 0
        && area != 666
        && area < 900
        && group != 0
        && serial != 0
        && (area, group, serial) != (78, 5, 1120)
        && (area, group, serial) != (219, 9, 9999)
}

/// Swedish personnummer: YYMMDDNNNC with a valid month, a day of 1–31 (or 61–91 for a
/// samordningsnummer) and a Luhn check digit over the ten digits.
pub(crate) fn personnummer(ten: &[u8]) -> bool {
    if ten.len() != 10 || !ten.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let month = prefix(&ten[2..], 2);
    let day = prefix(&ten[4..], 2);
    (1..=12).contains(&month) && ((1..=31).contains(&day) || (61..=91).contains(&day)) && luhn(ten)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luhn_accepts_the_well_known_test_numbers_and_refuses_a_changed_digit() {
        assert!(luhn(b"4111111111111111"));
        assert!(luhn(b"79927398713")); // the classic example of the Luhn algorithm
        assert!(!luhn(b"4111111111111112"));
        assert!(!luhn(b"79927398710"));
    }

    #[test]
    fn issuer_prefixes_and_lengths() {
        assert!(card_issuer_plausible(b"4111111111111111"));
        assert!(card_issuer_plausible(b"378282246310005"));
        assert!(!card_issuer_plausible(b"3782822463100050"), "Amex is 15 digits");
        assert!(card_issuer_plausible(b"2223000048400011"));
        assert!(!card_issuer_plausible(b"1234567812345670"), "no scheme starts with 1");
        assert!(!card_issuer_plausible(b"9999999999999995"));
    }

    #[test]
    fn iban_check_digits() {
        assert!(iban_mod97(b"DE89370400440532013000"));
        assert!(iban_mod97(b"GB29NWBK60161331926819"));
        assert!(!iban_mod97(b"DE88370400440532013000"));
        assert!(!iban_mod97(b"DE89 370400440532013000"));
        assert_eq!(iban_length(*b"NL"), Some(18));
        assert_eq!(iban_length(*b"XX"), None);
    }

    #[test]
    fn eleven_proof_and_ssn_ranges() {
        assert!(eleven_proof(b"111222333"));
        assert!(!eleven_proof(b"111222334"));
        assert!(!eleven_proof(b"000000000"));
        assert!(ssn_plausible(123, 45, 6789));
        assert!(!ssn_plausible(666, 45, 6789));
        assert!(!ssn_plausible(901, 45, 6789));
        assert!(!ssn_plausible(123, 0, 6789));
        assert!(!ssn_plausible(123, 45, 0));
        assert!(!ssn_plausible(78, 5, 1120));
    }
}
