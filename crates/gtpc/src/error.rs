//! Why a message or an IE value could not be decoded: each error names what was wrong and where (the
//! byte offset from the start of the datagram), so that a firewall can log it and refuse precisely.

/// Why a GTP-C message could not be decoded. Offsets count from the first octet of the datagram.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Fewer bytes than the header needs.
    #[error("truncated header at offset {offset}: need {need} bytes, have {have}")]
    TruncatedHeader {
        /// Where the header starts.
        offset: usize,
        /// Bytes the header needs (with the optional parts its flags announce).
        need: usize,
        /// Bytes present from `offset`.
        have: usize,
    },
    /// The version field is not the one this decoder handles.
    #[error("bad GTP version {found} at offset {offset} (expected {expected})")]
    BadVersion {
        /// Where the header starts.
        offset: usize,
        /// The version found.
        found: u8,
        /// The version expected.
        expected: u8,
    },
    /// GTPv1 with PT=0 (GTP', TS 32.295), which is not GTP-C.
    #[error("protocol type bit is 0 (GTP') at offset {offset}")]
    NotGtp {
        /// Where the header starts.
        offset: usize,
    },
    /// A GTPv1 message type that carries user data (G-PDU, 255), not GTP-C IEs.
    #[error("message type {0} is GTP-U user data, not GTP-C")]
    UserPlane(u8),
    /// The header's length field is smaller than the header's own fixed part after it.
    #[error("message length {length} at offset {offset} is shorter than the header ({min})")]
    LengthTooSmall {
        /// Where the header starts.
        offset: usize,
        /// The length field.
        length: usize,
        /// The smallest value the header's flags allow.
        min: usize,
    },
    /// The header's length field runs past the end of the datagram.
    #[error("message length {length} at offset {offset} runs past the datagram ({available} bytes left)")]
    LengthOverrun {
        /// Where the header starts.
        offset: usize,
        /// The length field.
        length: usize,
        /// Bytes present after the length field's reference point.
        available: usize,
    },
    /// Bytes after the message although the piggyback flag is not set (or after a piggybacked message).
    #[error("{count} trailing bytes at offset {offset} after the message")]
    TrailingBytes {
        /// Where they start.
        offset: usize,
        /// How many.
        count: usize,
    },
    /// The P flag is set but no message follows.
    #[error("piggyback flag set but no piggybacked message follows (offset {offset})")]
    MissingPiggyback {
        /// The end of the first message.
        offset: usize,
    },
    /// The piggybacked message itself has the P flag set (TS 29.274 §5.5.1 allows one piggybacked message).
    #[error("piggybacked message at offset {offset} has the piggyback flag set")]
    NestedPiggyback {
        /// Where the piggybacked message starts.
        offset: usize,
    },
    /// A GTPv1 extension header with length 0 or running past the message.
    #[error("extension header type {ext_type} at offset {offset} has a bad length")]
    BadExtensionHeader {
        /// Its type.
        ext_type: u8,
        /// Where it starts.
        offset: usize,
    },
    /// An IE header (type, length, instance) does not fit in what is left of its container.
    #[error(
        "truncated IE header at offset {offset} (type {ie_type:?}, inside {parent:?}): need {need} bytes, have {have}"
    )]
    TruncatedIe {
        /// Where the IE starts.
        offset: usize,
        /// The IE type, when at least its first octet is present.
        ie_type: Option<u8>,
        /// The grouped IE it is in (`None` at message level).
        parent: Option<u8>,
        /// Bytes the IE header (or a fixed-length TV IE) needs.
        need: usize,
        /// Bytes left in the container.
        have: usize,
    },
    /// An IE's length field runs past the end of its parent (the message or a grouped IE).
    #[error("IE type {ie_type} instance {instance} at offset {offset} declares {length} bytes but its parent ({parent:?}) has {available} left")]
    IeOverrun {
        /// Where the IE starts.
        offset: usize,
        /// The IE type.
        ie_type: u8,
        /// Its instance (0 for GTPv1).
        instance: u8,
        /// The length field.
        length: usize,
        /// Bytes left after the IE header in its container.
        available: usize,
        /// The grouped IE it is in (`None` at message level).
        parent: Option<u8>,
    },
    /// A GTPv1 TV IE whose type is not in TS 29.060 §7.7: its length cannot be known, so the rest of the
    /// message cannot be read.
    #[error("unknown GTPv1 TV IE type {ie_type} at offset {offset}")]
    UnknownTvIe {
        /// Where the IE starts.
        offset: usize,
        /// The type.
        ie_type: u8,
    },
    /// Grouped IEs nested deeper than [`crate::v2::MAX_DEPTH`].
    #[error("grouped IEs nested deeper than {max} levels at offset {offset}")]
    NestingTooDeep {
        /// Where the too-deep IE starts.
        offset: usize,
        /// The limit.
        max: usize,
    },
}

impl DecodeError {
    /// The byte offset the error refers to.
    pub fn offset(&self) -> usize {
        match *self {
            DecodeError::TruncatedHeader { offset, .. }
            | DecodeError::BadVersion { offset, .. }
            | DecodeError::NotGtp { offset }
            | DecodeError::LengthTooSmall { offset, .. }
            | DecodeError::LengthOverrun { offset, .. }
            | DecodeError::TrailingBytes { offset, .. }
            | DecodeError::MissingPiggyback { offset }
            | DecodeError::NestedPiggyback { offset }
            | DecodeError::BadExtensionHeader { offset, .. }
            | DecodeError::TruncatedIe { offset, .. }
            | DecodeError::IeOverrun { offset, .. }
            | DecodeError::UnknownTvIe { offset, .. }
            | DecodeError::NestingTooDeep { offset, .. } => offset,
            DecodeError::UserPlane(_) => 0,
        }
    }
}

/// Why an IE's value does not decode as its type (the message around it decoded fine).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("IE type {ie_type}: {reason}")]
pub struct ValueError {
    /// The IE type.
    pub ie_type: u8,
    /// What is wrong.
    pub reason: &'static str,
}

impl ValueError {
    pub(crate) fn new(ie_type: u8, reason: &'static str) -> Self {
        ValueError { ie_type, reason }
    }
}
