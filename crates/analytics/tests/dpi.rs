//! DPI vectors: every kind found where it is, with its exact span, and the near misses refused
//! (a 16-digit number failing Luhn is not a card, an IBAN with a wrong check is not an IBAN, an NMEA
//! sentence with a bad checksum is not a position). Check digits were computed independently
//! (Python) for the vectors made up here; the card numbers are the schemes' published test numbers.

use analytics::dpi::{CustomPattern, DpiConfig, DpiError, Finding, FindingKind, NationalIdFormat, Scanner};

fn scanner() -> Scanner {
    Scanner::new(DpiConfig { national_ids: NationalIdFormat::ALL.to_vec(), ..DpiConfig::default() }).unwrap()
}

/// The kinds and matched texts found in `text` (the test looks the text up; the scanner never
/// returns it).
fn found(text: &str) -> Vec<(String, String)> {
    scanner()
        .scan_to_vec(text.as_bytes())
        .into_iter()
        .map(|f| (f.kind.to_string(), text[f.offset..f.offset + f.len].to_string()))
        .collect()
}

fn one(kind: &str, text: &str, expected: &str) {
    assert_eq!(found(text), vec![(kind.to_string(), expected.to_string())], "in {text:?}");
}

fn none(text: &str) {
    assert_eq!(found(text), vec![], "in {text:?}");
}

#[test]
fn payment_cards() {
    one("card", "pan=4111111111111111&exp=12/29", "4111111111111111");
    one("card", "card: 4111 1111 1111 1111.", "4111 1111 1111 1111");
    one("card", "card 5555-5555-5555-4444 ok", "5555-5555-5555-4444");
    one("card", "{\"pan\":\"378282246310005\"}", "378282246310005"); // Amex test number, 15 digits
    one("card", "6011111111111117", "6011111111111117"); // Discover test number
    one("card", "paid with 3782 822463 10005 today", "3782 822463 10005");
}

#[test]
fn near_miss_cards_are_not_cards() {
    none("pan=4111111111111112"); // fails Luhn
    none("id=1234567812345670"); // passes Luhn, no scheme starts with 1
    none("imei=490154203237518"); // a Luhn-valid IMEI: 15 digits starting with 49 fit no scheme
    none("x4111111111111111"); // glued to a word
    none("4111111111111111234"); // a longer number that contains one
    none("3.4111111111111111"); // the fraction of a decimal number
    none("4111  1111 1111 1111"); // two spaces break the groups: 12 digits are not a card
    none("ts=1764000000000"); // a millisecond timestamp
}

#[test]
fn ibans() {
    one("iban", "IBAN DE89370400440532013000 ", "DE89370400440532013000");
    one("iban", "to GB29 NWBK 6016 1331 9268 19, thanks", "GB29 NWBK 6016 1331 9268 19");
    one("iban", "\"iban\":\"NL91ABNA0417164300\"", "NL91ABNA0417164300");
    one("iban", "FR1420041010050500013M02606", "FR1420041010050500013M02606");
}

#[test]
fn near_miss_ibans_are_not_ibans() {
    none("DE89370400440532013001"); // wrong check
    none("DE8937040044053201300"); // one character short for DE
    none("XX89370400440532013000"); // no such country in the table
    none("ADE89370400440532013000"); // glued to a letter
}

#[test]
fn emails() {
    one("email", "From: Jane Doe <jane.doe+iot@mail.example.org>\r\n", "jane.doe+iot@mail.example.org");
    one("email", "user=ops@example.com;", "ops@example.com");
    none("an @ sign alone");
    none("user@localhost");
    none("icon@2x.png");
    none("a@b.c1");
    none("@example.com");
}

#[test]
fn gps_positions() {
    let gga = "$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47";
    one("gps", &format!("\r\n{gga}\r\n"), gga);
    let rmc = "$GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W*6A";
    one("gps", rmc, rmc);
    let gn = "$GNGGA,092750.000,5321.6802,N,00630.3372,W,1,8,1.03,61.7,M,55.2,M,,*68";
    one("gps", gn, gn);
    one("gps", "pos=48.8584, 2.2945;", "48.8584, 2.2945");
    one("gps", "[-33.85678,151.21530]", "-33.85678,151.21530");
    one("gps", "{\"lat\": 48.858, \"lon\": 2.294, \"alt\": 35}", "\"lat\": 48.858, \"lon\": 2.294");
    one("gps", "{\"lng\":\"2.29448\",\"latitude\":\"48.85837\"}", "\"lng\":\"2.29448\",\"latitude\":\"48.85837\"");
}

#[test]
fn near_miss_positions_are_not_positions() {
    none("$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*48"); // bad checksum
    none("$GPGGA,,,,,,0,00,99.99,,,,,,*48"); // a valid sentence without a fix
    none("$GPGSV,3,1,11,03,03,111,00,04,15,270,00,06,01,010,00,13,06,292,00*74"); // no position in it
    none("version 1.2.3, build 4.5.6");
    none("t=21.5, h=40.25"); // too few decimals
    none("98.12345, 2.12345"); // latitude out of range
    none("{\"lat\": 48.8, \"lon\": 2.2}"); // too coarse
    none("{\"lat\": 48.858}"); // no longitude with it
}

#[test]
fn national_identity_numbers() {
    one("national_id:us_ssn", "SSN: 123-45-6789\n", "123-45-6789");
    one("national_id:se_personnummer", "pnr 811218-9876 ", "811218-9876");
    one("national_id:se_personnummer", "\"pnr\":\"196408233234\"", "196408233234");
    one("national_id:se_personnummer", "19640823-3234", "19640823-3234");
    one("national_id:nl_bsn", "bsn=111222333&", "111222333");
}

#[test]
fn near_miss_identity_numbers_are_not_identity_numbers() {
    for ssn in ["666-45-6789", "000-45-6789", "912-45-6789", "123-00-6789", "123-45-0000", "078-05-1120"] {
        none(ssn);
    }
    none("123-45-6789-1"); // part of a longer dashed number
    none("811218-9875"); // personnummer with a wrong check digit
    none("811318-9876"); // month 13
    none("bsn=111222334"); // fails the 11-proof
}

#[test]
fn the_default_set_leaves_out_the_bsn() {
    let s = Scanner::new(DpiConfig::default()).unwrap();
    assert!(s.scan_to_vec(b"bsn=111222333&").is_empty());
    assert_eq!(s.scan_to_vec(b"123-45-6789").len(), 1);
}

#[test]
fn operator_patterns_are_reported_by_name() {
    let mut config = DpiConfig::default();
    config.patterns.push(CustomPattern { name: "meter-id".into(), regex: r"MTR-[0-9]{8}".into() });
    config.patterns.push(CustomPattern { name: "plate".into(), regex: r"\b[A-Z]{2}-[0-9]{3}-[A-Z]{2}\b".into() });
    let s = Scanner::new(config).unwrap();
    let text = b"id MTR-00421337 car AB-123-CD \xff\xfe";
    let kinds: Vec<(String, usize, usize)> =
        s.scan_to_vec(text).into_iter().map(|f| (f.kind.to_string(), f.offset, f.len)).collect();
    assert_eq!(kinds, vec![("pattern:meter-id".into(), 3, 12), ("pattern:plate".into(), 20, 9)]);
}

#[test]
fn bad_operator_patterns_are_refused_with_their_name() {
    let bad = |name: &str, regex: &str| {
        let mut config = DpiConfig::default();
        config.patterns.push(CustomPattern { name: name.into(), regex: regex.into() });
        Scanner::new(config).unwrap_err()
    };
    assert!(matches!(bad("ok", "(unclosed"), DpiError::BadPattern { name, .. } if name == "ok"));
    assert!(matches!(bad("Bad Name", "x"), DpiError::BadPatternName(_)));
    assert!(matches!(bad("", "x"), DpiError::BadPatternName(_)));
}

#[test]
fn findings_carry_no_value_and_are_ordered() {
    let text = "mail a@example.com card 4111111111111111 at 48.8584, 2.2945 iban DE89370400440532013000";
    let findings = scanner().scan_to_vec(text.as_bytes());
    let kinds: Vec<FindingKind> = findings.iter().map(|f| f.kind.clone()).collect();
    assert_eq!(kinds, vec![FindingKind::Email, FindingKind::PaymentCard, FindingKind::GpsPosition, FindingKind::Iban]);
    assert!(findings.windows(2).all(|w| w[0].offset < w[1].offset));
    // The serialised form has kind, offset and length, and nothing of the text.
    let json = serde_json::to_string(&findings).unwrap();
    assert!(!json.contains("4111") && !json.contains("example") && !json.contains("DE89"), "{json}");
    let first: Finding = findings[0].clone();
    assert_eq!(serde_json::to_value(first).unwrap(), serde_json::json!({"kind": "email", "offset": 5, "len": 13}));
}

#[test]
fn several_findings_in_one_payload_are_all_found() {
    let text = "4111111111111111,5555555555554444 and 4111-1111-1111-1111";
    assert_eq!(found(text).len(), 3);
}
