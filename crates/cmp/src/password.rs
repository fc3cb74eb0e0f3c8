//! Passwords for people (SEC-6), following NIST SP 800-63B: a minimum length (15 characters when the
//! password is the only factor, 8 with a second factor), at least 64 characters accepted, every
//! printable character and space allowed, no composition rules, and a check against a blocklist of
//! common and compromised passwords, repetitive or sequential strings and context words (the user
//! name, the service name). Hashes are argon2id (19 MiB, 2 passes, OWASP's parameters), salted.

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::Argon2;

/// Longest password accepted (a bound on hashing cost; far above the 64 that NIST asks for).
pub const MAX_LEN: usize = 256;

/// Why a new password is refused; the message is shown to the person choosing it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    /// Shorter than the policy allows.
    #[error("use at least {min} characters (you used {len})")]
    TooShort {
        /// The minimum.
        min: usize,
        /// The length given.
        len: usize,
    },
    /// Longer than [`MAX_LEN`].
    #[error("use at most {MAX_LEN} characters")]
    TooLong,
    /// On the blocklist of common or compromised passwords.
    #[error("this password is commonly used or known from breaches; choose another")]
    Common,
    /// One character repeated, or a run like `abcdef` or `123456`.
    #[error("this password is a repetition or a sequence; choose another")]
    Pattern,
    /// Contains the user name or the service name.
    #[error("this password contains {0:?}; choose another")]
    Context(String),
    /// Hashing failed.
    #[error("password hashing failed")]
    Hash,
}

/// The length rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordPolicy {
    /// Minimum number of characters.
    pub min_len: usize,
}

impl PasswordPolicy {
    /// A password that is the only authentication factor: 15 characters (SP 800-63B-4).
    pub const SINGLE_FACTOR: Self = Self { min_len: 15 };
    /// A password used with a second factor: 8 characters.
    pub const WITH_SECOND_FACTOR: Self = Self { min_len: 8 };
}

/// Passwords seen most often in breach corpora and default credentials (a compact list; an operator
/// can extend the check with a full corpus later).
const COMMON: &[&str] = &[
    "password",
    "password1",
    "password123",
    "passw0rd",
    "p@ssw0rd",
    "p@ssword",
    "qwerty",
    "qwertyuiop",
    "qwerty123",
    "1q2w3e4r",
    "1q2w3e4r5t",
    "zaq12wsx",
    "iloveyou",
    "admin",
    "administrator",
    "admin123",
    "root",
    "toor",
    "letmein",
    "welcome",
    "welcome1",
    "monkey",
    "dragon",
    "football",
    "baseball",
    "sunshine",
    "princess",
    "master",
    "shadow",
    "superman",
    "trustno1",
    "whatever",
    "starwars",
    "changeme",
    "default",
    "secret",
    "login",
    "guest",
    "test",
    "test123",
    "abc123",
    "111111",
    "000000",
    "123123",
    "654321",
    "666666",
    "121212",
    "112233",
    "123qwe",
    "qazwsx",
    "asdfghjkl",
    "correcthorsebatterystaple",
    "passwordpassword",
    "iloveyouiloveyou",
    "administrator1",
];

fn is_pattern(s: &str) -> bool {
    let c: Vec<char> = s.chars().collect();
    if c.len() < 2 {
        return false;
    }
    let same = c.iter().all(|x| *x == c[0]);
    let step = |d: i32| c.windows(2).all(|w| w[1] as i32 - w[0] as i32 == d);
    same || step(1) || step(-1)
}

/// Checks a new password against the policy. `context` holds words it must not contain (the user
/// name, the service name), compared without case.
pub fn check_new_password(candidate: &str, policy: PasswordPolicy, context: &[&str]) -> Result<(), PasswordError> {
    let len = candidate.chars().count();
    if len < policy.min_len {
        return Err(PasswordError::TooShort { min: policy.min_len, len });
    }
    if len > MAX_LEN {
        return Err(PasswordError::TooLong);
    }
    let lower = candidate.to_lowercase();
    let squeezed: String = lower.chars().filter(|c| !c.is_whitespace()).collect();
    if COMMON.iter().any(|w| *w == lower || *w == squeezed) {
        return Err(PasswordError::Common);
    }
    // A short word repeated ("passwordpassword…", "abcabcabc…") is as weak as the word.
    let c: Vec<char> = squeezed.chars().collect();
    for unit in 1..=c.len() / 2 {
        if c.len().is_multiple_of(unit) && c.chunks(unit).all(|ch| ch == &c[..unit]) {
            return Err(PasswordError::Pattern);
        }
    }
    if is_pattern(&squeezed) {
        return Err(PasswordError::Pattern);
    }
    for word in context {
        let w = word.to_lowercase();
        if w.chars().count() >= 4 && lower.contains(&w) {
            return Err(PasswordError::Context(word.to_string()));
        }
    }
    Ok(())
}

/// Hashes a password with argon2id and a random salt (PHC string).
pub fn hash_password(password: &str) -> Result<String, PasswordError> {
    Argon2::default().hash_password(password.as_bytes()).map(|h| h.to_string()).map_err(|_| PasswordError::Hash)
}

/// True when `password` matches the PHC string `hash`.
pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: PasswordPolicy = PasswordPolicy::SINGLE_FACTOR;

    #[test]
    fn nist_rules() {
        assert!(check_new_password("purple walrus tango cellar", P, &[]).is_ok(), "spaces and words are fine");
        assert!(check_new_password("velvet-otter-harbour-92", P, &["alice"]).is_ok());
        assert!(check_new_password("ünïcödé påsswörd ✓ ok", P, &[]).is_ok(), "any printable character");
        assert_eq!(check_new_password("short", P, &[]), Err(PasswordError::TooShort { min: 15, len: 5 }));
        assert!(check_new_password("tr0ub4dor&3", PasswordPolicy::WITH_SECOND_FACTOR, &[]).is_ok());
        assert_eq!(check_new_password(&"x".repeat(300), P, &[]), Err(PasswordError::TooLong));
        assert_eq!(check_new_password("Correct Horse Battery Staple", P, &[]), Err(PasswordError::Common));
        assert_eq!(check_new_password("passwordpassword", P, &[]), Err(PasswordError::Common));
        assert_eq!(check_new_password("aaaaaaaaaaaaaaaa", P, &[]), Err(PasswordError::Pattern));
        assert_eq!(check_new_password("abcdefghijklmnopq", P, &[]), Err(PasswordError::Pattern));
        assert_eq!(check_new_password("123456789012345678901234567890", P, &[]), Err(PasswordError::Pattern));
        assert_eq!(check_new_password("abcabcabcabcabcabc", P, &[]), Err(PasswordError::Pattern));
        assert_eq!(
            check_new_password("my-name-is-alice-ok", P, &["Alice", "warden"]),
            Err(PasswordError::Context("Alice".into()))
        );
        assert_eq!(
            check_new_password("warden-rocks-forever", P, &["warden"]),
            Err(PasswordError::Context("warden".into()))
        );
        // No composition rules: lowercase letters only is fine when long and uncommon.
        assert!(check_new_password("quietmountainriverstone", P, &[]).is_ok());
    }

    #[test]
    fn argon2id_hashes_verify_and_are_salted() {
        let h1 = hash_password("velvet-otter-harbour-92").unwrap();
        let h2 = hash_password("velvet-otter-harbour-92").unwrap();
        assert!(h1.starts_with("$argon2id$"));
        assert_ne!(h1, h2, "salted");
        assert!(verify_password("velvet-otter-harbour-92", &h1));
        assert!(!verify_password("velvet-otter-harbour-93", &h1));
        assert!(!verify_password("anything", "not a hash"));
    }
}
