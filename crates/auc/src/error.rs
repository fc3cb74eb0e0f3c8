//! Errors of the authentication centre: each says precisely which input was wrong and why.

use thiserror::Error;

/// Everything that can go wrong when computing authentication data.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AucError {
    /// A value has a length the algorithm does not allow.
    #[error("{what} must be {expected}, got {got} bytes")]
    InvalidLength {
        /// Name of the value (for example `K` or `RAND`).
        what: &'static str,
        /// The lengths that are allowed, in words.
        expected: &'static str,
        /// The length that was given, in bytes.
        got: usize,
    },
    /// A TUAK output size or iteration count the specification does not define.
    #[error("{what} = {value} is not allowed by TS 35.231 (allowed: {allowed})")]
    InvalidParameter {
        /// Name of the parameter.
        what: &'static str,
        /// The value that was given.
        value: u32,
        /// The values that are allowed, in words.
        allowed: &'static str,
    },
    /// A sequence number does not fit in 48 bits.
    #[error("SQN {0:#x} does not fit in 48 bits")]
    SqnOutOfRange(u64),
    /// The SEQ counter has reached the largest value the IND length leaves room for.
    #[error("SEQ counter exhausted: no fresh SQN left with {ind_bits} IND bits")]
    SqnExhausted {
        /// The IND length in bits.
        ind_bits: u8,
    },
    /// The IND length is outside what TS 33.102 Annex C allows for a 48-bit SQN.
    #[error("IND length {0} bits is not allowed (0 to 10)")]
    InvalidIndLength(u8),
    /// An IND value is larger than the IND length allows.
    #[error("IND {ind} does not fit in {ind_bits} bits")]
    IndOutOfRange {
        /// The IND value.
        ind: u32,
        /// The IND length in bits.
        ind_bits: u8,
    },
    /// The MAC-S in an AUTS did not verify: the AUTS is forged, corrupted or for another RAND/key.
    #[error("AUTS rejected: MAC-S failed to verify")]
    MacSFailure,
    /// An algorithm that Warden refuses to run (COMP128 in any version, the XOR test algorithms).
    #[error("authentication algorithm {name:?} is refused: {reason}")]
    RefusedAlgorithm {
        /// The name or number as given.
        name: String,
        /// Why it is refused.
        reason: &'static str,
    },
    /// A name or number that denotes no authentication algorithm known to Warden.
    #[error("unknown authentication algorithm {0:?} (known: milenage, tuak)")]
    UnknownAlgorithm(String),
    /// A derivation that is not defined for the given sizes (for example GSM conversion of 256-bit keys).
    #[error("{0}")]
    Unsupported(&'static str),
    /// The operating system's random number generator failed.
    #[error("the OS random number generator failed: {0}")]
    Rng(String),
}

/// Shorthand for results of this crate.
pub type Result<T> = core::result::Result<T, AucError>;

/// Checks that `bytes` has exactly `N` bytes and returns them as an array.
pub(crate) fn fixed<const N: usize>(what: &'static str, expected: &'static str, bytes: &[u8]) -> Result<[u8; N]> {
    bytes.try_into().map_err(|_| AucError::InvalidLength { what, expected, got: bytes.len() })
}
