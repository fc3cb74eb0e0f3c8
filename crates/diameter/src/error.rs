//! Decoding errors, each mapped to the Result-Code that RFC 6733 prescribes for it and to the AVP
//! that goes into Failed-AVP.

use crate::avp::Avp;
use crate::result_code as rc;

/// Why a message or AVP could not be decoded or is not acceptable.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DecodeError {
    /// Not enough bytes.
    #[error("truncated: need {need} bytes, have {have}")]
    Truncated {
        /// Bytes needed.
        need: usize,
        /// Bytes present.
        have: usize,
    },
    /// Version other than 1.
    #[error("unsupported Diameter version {0}")]
    UnsupportedVersion(u8),
    /// Header length field disagrees with the bytes or is not a multiple of 4.
    #[error("invalid message length {0}")]
    InvalidMessageLength(u32),
    /// Header flags invalid or inconsistent with the command.
    #[error("invalid header bits: {0}")]
    InvalidHeaderBits(&'static str),
    /// An AVP length below its header size or past the end of its container.
    #[error("AVP {code} has an invalid length")]
    InvalidAvpLength {
        /// AVP code.
        code: u32,
        /// What goes into Failed-AVP.
        failed: Box<Avp>,
    },
    /// Reserved AVP flag bits set, or flags inconsistent with the AVP.
    #[error("AVP {code} has invalid flag bits")]
    InvalidAvpBits {
        /// AVP code.
        code: u32,
        /// What goes into Failed-AVP.
        failed: Box<Avp>,
    },
    /// A value the AVP's type does not allow (e.g. invalid UTF-8).
    #[error("AVP {code} has an invalid value: {reason}")]
    InvalidAvpValue {
        /// AVP code.
        code: u32,
        /// Why.
        reason: &'static str,
        /// What goes into Failed-AVP.
        failed: Box<Avp>,
    },
    /// Grouped AVPs nested deeper than the limit.
    #[error("AVPs nested deeper than {0} levels")]
    NestingTooDeep(usize),
    /// An AVP with the M bit set that the dictionary does not know.
    #[error("unsupported mandatory AVP {code} (vendor {vendor})")]
    AvpUnsupported {
        /// AVP code.
        code: u32,
        /// Vendor id.
        vendor: u32,
        /// What goes into Failed-AVP.
        failed: Box<Avp>,
    },
    /// A required AVP is missing.
    #[error("missing required AVP {name}")]
    MissingAvp {
        /// Its name.
        name: &'static str,
        /// An example AVP of that code with a zero-filled value of its type's minimum length (RFC 6733
        /// §7.5), for Failed-AVP.
        failed: Box<Avp>,
    },
    /// An AVP appears more often than its command allows.
    #[error("AVP {name} occurs too many times")]
    AvpOccursTooManyTimes {
        /// Its name.
        name: &'static str,
        /// The second occurrence, for Failed-AVP.
        failed: Box<Avp>,
    },
}

impl DecodeError {
    /// The Result-Code to answer a request with.
    pub fn result_code(&self) -> u32 {
        match self {
            Self::Truncated { .. } | Self::InvalidMessageLength(_) => rc::INVALID_MESSAGE_LENGTH,
            Self::UnsupportedVersion(_) => rc::UNSUPPORTED_VERSION,
            Self::InvalidHeaderBits(_) => rc::INVALID_HDR_BITS,
            Self::InvalidAvpLength { .. } => rc::INVALID_AVP_LENGTH,
            Self::InvalidAvpBits { .. } => rc::INVALID_AVP_BITS,
            Self::InvalidAvpValue { .. } | Self::NestingTooDeep(_) => rc::INVALID_AVP_VALUE,
            Self::AvpUnsupported { .. } => rc::AVP_UNSUPPORTED,
            Self::MissingAvp { .. } => rc::MISSING_AVP,
            Self::AvpOccursTooManyTimes { .. } => rc::AVP_OCCURS_TOO_MANY_TIMES,
        }
    }

    /// The AVP for Failed-AVP, when there is one.
    pub fn failed_avp(&self) -> Option<&Avp> {
        match self {
            Self::InvalidAvpLength { failed, .. }
            | Self::InvalidAvpBits { failed, .. }
            | Self::InvalidAvpValue { failed, .. }
            | Self::AvpUnsupported { failed, .. }
            | Self::MissingAvp { failed, .. }
            | Self::AvpOccursTooManyTimes { failed, .. } => Some(failed),
            _ => None,
        }
    }
}
