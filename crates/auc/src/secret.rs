//! Key material: newtypes that zeroize their bytes on drop and print as `[redacted]`.
//!
//! Secrets are read only through `expose()`, which makes every use easy to find in review.

use core::fmt;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::error::{AucError, Result};

/// Up to `CAP` secret bytes of a length fixed at construction.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct SecretBytes<const CAP: usize> {
    bytes: [u8; CAP],
    len: usize,
}

impl<const CAP: usize> SecretBytes<CAP> {
    /// Copies `bytes` (at most `CAP` of them; longer input is a programming error and panics).
    pub fn new(bytes: &[u8]) -> Self {
        assert!(bytes.len() <= CAP, "secret longer than its capacity");
        let mut out = Self { bytes: [0; CAP], len: bytes.len() };
        out.bytes[..bytes.len()].copy_from_slice(bytes);
        out
    }

    /// The secret bytes. Every caller is a place where key material leaves its wrapper.
    pub fn expose(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when the secret holds no bytes.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl<const CAP: usize> PartialEq for SecretBytes<CAP> {
    /// Constant-time comparison.
    fn eq(&self, other: &Self) -> bool {
        self.len == other.len && bool::from(self.expose().ct_eq(other.expose()))
    }
}
impl<const CAP: usize> Eq for SecretBytes<CAP> {}

impl<const CAP: usize> fmt::Debug for SecretBytes<CAP> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Defines a secret newtype over [`SecretBytes`] with the lengths (in bytes) it accepts.
macro_rules! secret_type {
    ($(#[$doc:meta])* $name:ident, $cap:literal, $what:literal, $expected:literal, [$($len:literal),+]) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq)]
        pub struct $name(SecretBytes<$cap>);

        impl $name {
            /// Accepts only the lengths the specifications allow for this value.
            pub fn from_slice(bytes: &[u8]) -> Result<Self> {
                match bytes.len() {
                    $($len)|+ => Ok(Self(SecretBytes::new(bytes))),
                    got => Err(AucError::InvalidLength { what: $what, expected: $expected, got }),
                }
            }

            /// The secret bytes.
            pub fn expose(&self) -> &[u8] {
                self.0.expose()
            }

            /// Length in bytes.
            pub fn len(&self) -> usize {
                self.0.len()
            }

            /// Always false: every accepted length is non-zero.
            pub fn is_empty(&self) -> bool {
                self.0.is_empty()
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "([redacted])"))
            }
        }
    };
}

secret_type!(
    /// The subscriber key K: 128 bits (MILENAGE, TUAK) or 256 bits (TUAK).
    Key, 32, "K", "16 or 32 bytes", [16, 32]
);
secret_type!(
    /// The MILENAGE operator variant configuration field OP (128 bits).
    Op, 16, "OP", "16 bytes", [16]
);
secret_type!(
    /// OPc, derived from OP and K (TS 35.206 §4.1).
    Opc, 16, "OPc", "16 bytes", [16]
);
secret_type!(
    /// The TUAK operator variant configuration field TOP (256 bits).
    Top, 32, "TOP", "32 bytes", [32]
);
secret_type!(
    /// TOPc, derived from TOP and K (TS 35.231 §6.2).
    Topc, 32, "TOPc", "32 bytes", [32]
);
secret_type!(
    /// Cipher key CK (f3): 128 bits, or 256 bits with TUAK.
    Ck, 32, "CK", "16 or 32 bytes", [16, 32]
);
secret_type!(
    /// Integrity key IK (f4): 128 bits, or 256 bits with TUAK.
    Ik, 32, "IK", "16 or 32 bytes", [16, 32]
);
secret_type!(
    /// K_ASME, the E-UTRAN key derived from CK, IK and the serving network (TS 33.401 A.2).
    Kasme, 32, "KASME", "32 bytes", [32]
);
secret_type!(
    /// The GSM cipher key Kc (64 bits) derived from CK and IK by conversion function c3.
    Kc, 8, "Kc", "8 bytes", [8]
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print_their_bytes() {
        let k = Key::from_slice(&[0xAB; 16]).unwrap();
        let shown = format!("{k:?} {:?}", SecretBytes::<4>::new(&[0xAB; 4]));
        assert!(!shown.to_lowercase().contains("ab"), "{shown}");
        assert!(shown.contains("redacted"));
    }

    #[test]
    fn wrong_lengths_are_named() {
        let err = Key::from_slice(&[0; 20]).unwrap_err();
        assert_eq!(err.to_string(), "K must be 16 or 32 bytes, got 20 bytes");
        assert!(Opc::from_slice(&[0; 32]).is_err());
        assert!(Topc::from_slice(&[0; 32]).is_ok());
    }

    #[test]
    fn equality_compares_contents_and_length() {
        let a = Ck::from_slice(&[1; 16]).unwrap();
        assert_eq!(a, Ck::from_slice(&[1; 16]).unwrap());
        assert_ne!(a, Ck::from_slice(&[2; 16]).unwrap());
        assert_ne!(a, Ck::from_slice(&[1; 32]).unwrap());
    }
}
