//! # ids — identities parsed once, then trusted
//!
//! The leaf crate every other Warden crate uses for the identities of mobile networks
//! (ARCHITECTURE principle 3): a value of these types has been checked completely — length, digits,
//! check digits, BCD nibbles — so no code downstream re-validates or re-encodes them.
//!
//! | type | what | rule |
//! |---|---|---|
//! | [`Imsi`] | subscriber identity | 6–15 digits (TS 23.003 §2.2) |
//! | [`Iccid`] | UICC serial number | 18–20 digits, Luhn check digit (ITU-T E.118) |
//! | [`Msisdn`] | phone number, E.164 without `+` | 1–15 digits |
//! | [`Eid`] | eUICC identifier | 32 digits, ISO/IEC 7064 MOD 97-10 check digits (GSMA SGP.29) |
//! | [`Imei`] | device identity | 14 digits, or 15 with its Luhn check digit (TS 23.003 §6.2.1) |
//! | [`Imeisv`] | device identity with software version | 16 digits (TS 23.003 §6.2.2) |
//! | [`Tac`] | type allocation code (device model) | 8 digits |
//! | [`Plmn`] | network: MCC + MNC | 3 + 2–3 digits, BCD as in TS 24.008 §10.5.1.13 |
//! | [`PrefixRule`] | allowlisted destination prefix | CIDR with zero host bits, optional ports and protocol |
//! | [`DomainPattern`] | allowlisted name | DNS name, or `*.` and a suffix of two labels or more |
//!
//! Every parser says exactly what is wrong with its input ([`IdError`]). The types serialise as
//! their digit strings. This crate depends on nothing of Warden's and never panics on input.

/// A digit-string identity: the newtype, `as_str`, `Display`, and serde as its digits through
/// `FromStr` (so a deserialised value has passed the same checks as a parsed one).
macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// The digits.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = $crate::IdError;
            fn try_from(s: String) -> Result<Self, $crate::IdError> {
                s.parse()
            }
        }

        impl From<$name> for String {
            fn from(x: $name) -> String {
                x.0
            }
        }
    };
}

mod allow;
mod checks;
mod device;
mod plmn;
mod subscriber;

pub use allow::{AllowError, DomainPattern, PrefixRule, Proto};
pub use checks::{luhn_check_digit, luhn_ok, IdError};
pub use device::{Imei, Imeisv, Tac};
pub use plmn::Plmn;
pub use subscriber::{Eid, Iccid, Imsi, Msisdn};
