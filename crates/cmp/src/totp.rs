//! One-time codes of the second login factor (SEC-8): HOTP (RFC 4226) and TOTP (RFC 6238) with
//! HMAC-SHA1 (what authenticator apps use by default), HMAC-SHA-256 and HMAC-SHA-512, 6 or 8 digits
//! and a 30-second step. Sans-IO: the time is an argument, and the last accepted step is the caller's
//! to keep. Verification accepts the current step and one step either side (clock drift), compares in
//! constant time, and refuses a code whose step is not after the last one accepted (replay).
//! Also the RFC 4648 base32 text of secrets and the `otpauth://` URI authenticator apps scan.

use hmac::{KeyInit, Mac};
use subtle::ConstantTimeEq;

/// Seconds per TOTP step.
pub const PERIOD: i64 = 30;
/// Steps accepted either side of the current one.
pub const DRIFT_STEPS: i64 = 1;
/// Bytes of a new secret (160 bits, the HMAC-SHA1 block-friendly size RFC 4226 recommends).
pub const SECRET_LEN: usize = 20;

/// The HMAC hash of a credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// HMAC-SHA1, the default of authenticator apps.
    Sha1,
    /// HMAC-SHA-256.
    Sha256,
    /// HMAC-SHA-512.
    Sha512,
}

impl Algorithm {
    /// The name used in `otpauth://` URIs and in the store.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Sha1 => "SHA1",
            Algorithm::Sha256 => "SHA256",
            Algorithm::Sha512 => "SHA512",
        }
    }
}

impl std::str::FromStr for Algorithm {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "SHA1" => Ok(Algorithm::Sha1),
            "SHA256" => Ok(Algorithm::Sha256),
            "SHA512" => Ok(Algorithm::Sha512),
            other => Err(format!("unknown TOTP algorithm {other:?} (SHA1, SHA256 or SHA512)")),
        }
    }
}

/// How codes of a credential are made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Params {
    /// The HMAC hash.
    pub algorithm: Algorithm,
    /// 6 or 8.
    pub digits: u32,
}

impl Params {
    /// What authenticator apps expect unless told otherwise: SHA1, 6 digits.
    pub const DEFAULT: Params = Params { algorithm: Algorithm::Sha1, digits: 6 };

    /// Checks the digit count (6 or 8).
    pub fn new(algorithm: Algorithm, digits: u32) -> Result<Self, String> {
        if digits != 6 && digits != 8 {
            return Err(format!("TOTP codes have 6 or 8 digits, not {digits}"));
        }
        Ok(Params { algorithm, digits })
    }
}

fn hmac(algorithm: Algorithm, key: &[u8], msg: &[u8]) -> Vec<u8> {
    fn run<M: Mac + KeyInit>(key: &[u8], msg: &[u8]) -> Vec<u8> {
        let mut m = <M as KeyInit>::new_from_slice(key).expect("HMAC takes any key length");
        m.update(msg);
        m.finalize().into_bytes().to_vec()
    }
    match algorithm {
        Algorithm::Sha1 => run::<hmac::Hmac<sha1::Sha1>>(key, msg),
        Algorithm::Sha256 => run::<hmac::Hmac<sha2::Sha256>>(key, msg),
        Algorithm::Sha512 => run::<hmac::Hmac<sha2::Sha512>>(key, msg),
    }
}

/// The HOTP value of `counter` (RFC 4226 §5.3: dynamic truncation, then modulo 10^digits), as text
/// with leading zeros.
pub fn hotp(params: Params, secret: &[u8], counter: u64) -> String {
    let mac = hmac(params.algorithm, secret, &counter.to_be_bytes());
    let offset = usize::from(mac[mac.len() - 1] & 0x0f);
    let bin = u32::from_be_bytes([mac[offset] & 0x7f, mac[offset + 1], mac[offset + 2], mac[offset + 3]]);
    let value = bin % 10u32.pow(params.digits);
    format!("{value:0width$}", width = params.digits as usize)
}

/// The TOTP step of Unix time `unix` (T0 = 0, 30-second steps; times before 1970 are step 0).
pub fn step_at(unix: i64) -> i64 {
    unix.max(0) / PERIOD
}

/// The TOTP code at Unix time `unix`.
pub fn totp(params: Params, secret: &[u8], unix: i64) -> String {
    hotp(params, secret, step_at(unix) as u64)
}

/// Why a code is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// Not of the expected number of digits.
    #[error("malformed code")]
    Malformed,
    /// No step in the window gives this code.
    #[error("wrong code")]
    Wrong,
    /// Right code, but its step was already used (or an earlier one was).
    #[error("code already used")]
    Replay,
}

/// Checks `code` at Unix time `now` against the steps `now ± 1`; `last_step` is the step of the last
/// code accepted for this credential (`None`: none yet). Returns the step to remember. Every
/// candidate is computed and compared in constant time whichever matches.
pub fn verify(params: Params, secret: &[u8], code: &str, now: i64, last_step: Option<i64>) -> Result<i64, Refusal> {
    if code.len() != params.digits as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Refusal::Malformed);
    }
    let current = step_at(now);
    let mut matched: Option<i64> = None;
    for step in (current - DRIFT_STEPS).max(0)..=current + DRIFT_STEPS {
        let candidate = hotp(params, secret, step as u64);
        if bool::from(candidate.as_bytes().ct_eq(code.as_bytes())) {
            matched = Some(step);
        }
    }
    let step = matched.ok_or(Refusal::Wrong)?;
    if last_step.is_some_and(|last| step <= last) {
        return Err(Refusal::Replay);
    }
    Ok(step)
}

const B32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// RFC 4648 base32 without padding (what `otpauth://` URIs carry).
pub fn base32_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    for chunk in bytes.chunks(5) {
        let mut buf = [0u8; 5];
        buf[..chunk.len()].copy_from_slice(chunk);
        let bits = u64::from_be_bytes([0, 0, 0, buf[0], buf[1], buf[2], buf[3], buf[4]]);
        let chars = (chunk.len() * 8).div_ceil(5);
        for i in 0..chars {
            out.push(char::from(B32[((bits >> (35 - 5 * i)) & 31) as usize]));
        }
    }
    out
}

/// Decodes RFC 4648 base32, case-insensitive, ignoring `=` padding, spaces and `-`.
pub fn base32_decode(text: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(text.len() * 5 / 8);
    let (mut acc, mut n) = (0u32, 0u32);
    for c in text.bytes().filter(|c| !matches!(c, b'=' | b' ' | b'-')) {
        let v = B32
            .iter()
            .position(|&x| x == c.to_ascii_uppercase())
            .ok_or_else(|| format!("{:?} is not a base32 character", char::from(c)))?;
        acc = (acc << 5) | v as u32;
        n += 5;
        if n >= 8 {
            n -= 8;
            out.push((acc >> n) as u8);
            acc &= (1 << n) - 1;
        }
    }
    Ok(out)
}

/// Percent-encodes a URI component (unreserved characters kept).
fn uri_component(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The `otpauth://totp/<issuer>:<account>?secret=…&issuer=…&algorithm=…&digits=…&period=30` URI of a
/// credential (the Key Uri Format that authenticator apps scan).
pub fn otpauth_uri(issuer: &str, account: &str, secret: &[u8], params: Params) -> String {
    format!(
        "otpauth://totp/{i}:{a}?secret={s}&issuer={i}&algorithm={alg}&digits={d}&period={PERIOD}",
        i = uri_component(issuer),
        a = uri_component(account),
        s = base32_encode(secret),
        alg = params.algorithm.as_str(),
        d = params.digits,
    )
}

/// The QR code of `text` as a self-contained SVG document (rendered here, no external asset).
pub fn qr_svg(text: &str) -> Result<String, String> {
    let code = qrcode::QrCode::with_error_correction_level(text.as_bytes(), qrcode::EcLevel::M)
        .map_err(|e| format!("QR code: {e}"))?;
    Ok(code.render::<qrcode::render::svg::Color<'_>>().min_dimensions(200, 200).build())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED20: &[u8] = b"12345678901234567890";
    const SEED32: &[u8] = b"12345678901234567890123456789012";
    const SEED64: &[u8] = b"1234567890123456789012345678901234567890123456789012345678901234";

    #[test]
    fn rfc4226_appendix_d_hotp_values() {
        let expected =
            ["755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871", "520489"];
        for (counter, want) in expected.iter().enumerate() {
            assert_eq!(hotp(Params::DEFAULT, SEED20, counter as u64), *want, "counter {counter}");
        }
    }

    #[test]
    fn rfc6238_appendix_b_totp_values() {
        let rows: [(i64, &str, &str, &str); 6] = [
            (59, "94287082", "46119246", "90693936"),
            (1_111_111_109, "07081804", "68084774", "25091201"),
            (1_111_111_111, "14050471", "67062674", "99943326"),
            (1_234_567_890, "89005924", "91819424", "93441116"),
            (2_000_000_000, "69279037", "90698825", "38618901"),
            (20_000_000_000, "65353130", "77737706", "47863826"),
        ];
        for (t, sha1, sha256, sha512) in rows {
            for (alg, seed, want) in [
                (Algorithm::Sha1, SEED20, sha1),
                (Algorithm::Sha256, SEED32, sha256),
                (Algorithm::Sha512, SEED64, sha512),
            ] {
                assert_eq!(totp(Params::new(alg, 8).unwrap(), seed, t), want, "{alg:?} at {t}");
            }
        }
    }

    #[test]
    fn verification_window_and_replay() {
        let p = Params::DEFAULT;
        let now = 1_234_567_890;
        let code = totp(p, SEED20, now);
        let step = step_at(now);
        assert_eq!(verify(p, SEED20, &code, now, None), Ok(step));
        assert_eq!(verify(p, SEED20, &code, now + PERIOD, None), Ok(step), "one step late is accepted");
        assert_eq!(verify(p, SEED20, &code, now - PERIOD, None), Ok(step), "one step early is accepted");
        assert_eq!(verify(p, SEED20, &code, now + 2 * PERIOD, None), Err(Refusal::Wrong), "two steps is too far");
        assert_eq!(verify(p, SEED20, &code, now, Some(step)), Err(Refusal::Replay), "the same code twice");
        assert_eq!(verify(p, SEED20, &code, now, Some(step + 1)), Err(Refusal::Replay), "an older code");
        assert_eq!(verify(p, SEED20, &code, now, Some(step - 1)), Ok(step));
        let wrong = format!("{:06}", (code.parse::<u32>().unwrap() + 1) % 1_000_000);
        assert_eq!(verify(p, SEED20, &wrong, now, None), Err(Refusal::Wrong));
        for bad in ["", "12345", "1234567", "12a456", " 12345"] {
            assert_eq!(verify(p, SEED20, bad, now, None), Err(Refusal::Malformed), "{bad:?}");
        }
        assert!(Params::new(Algorithm::Sha1, 7).is_err());
    }

    #[test]
    fn base32_round_trips_rfc4648_vectors() {
        for (raw, text) in [
            ("", ""),
            ("f", "MY"),
            ("fo", "MZXQ"),
            ("foo", "MZXW6"),
            ("foob", "MZXW6YQ"),
            ("fooba", "MZXW6YTB"),
            ("foobar", "MZXW6YTBOI"),
        ] {
            assert_eq!(base32_encode(raw.as_bytes()), text);
            assert_eq!(base32_decode(text).unwrap(), raw.as_bytes());
        }
        assert_eq!(base32_decode("mzxw6ytboi======").unwrap(), b"foobar");
        assert!(base32_decode("MZ1W").is_err());
        assert_eq!(base32_encode(SEED20), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
    }

    #[test]
    fn uri_and_qr() {
        let uri = otpauth_uri("Warden", "alice@acme", SEED20, Params::DEFAULT);
        assert_eq!(
            uri,
            "otpauth://totp/Warden:alice%40acme?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Warden&algorithm=SHA1&digits=6&period=30"
        );
        let svg = qr_svg(&uri).unwrap();
        assert!(svg.contains("<svg") && svg.contains("</svg>"), "{svg}");
        assert!(!svg.contains("href"), "no external reference");
    }
}
