//! Errors of the OTA crate, each naming the input it is about ([`Field`]) so that a command line or
//! an API can point at the argument, and mapping card-side failures to the PoR status a card answers.

use crate::status::ResponseStatus;

/// The input an error is about; its `Display` is the command-line flag name (`enc-key`, `tar`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// Security parameter indicator.
    Spi,
    /// Key and algorithm identifier for ciphering.
    Kic,
    /// Key and algorithm identifier for RC/CC/DS.
    Kid,
    /// Toolkit application reference.
    Tar,
    /// Replay counter.
    Cntr,
    /// The ciphering key.
    EncKey,
    /// The CC key.
    MacKey,
    /// A command packet.
    Packet,
    /// A response packet (PoR).
    Response,
    /// A command APDU.
    Apdu,
    /// An SMS address.
    Originator,
    /// The service centre time stamp.
    Scts,
    /// A remote-command or file parameter (AID, FID, record, offset, PLMN…).
    Parameter,
}

impl core::fmt::Display for Field {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Field::Spi => "spi",
            Field::Kic => "kic",
            Field::Kid => "kid",
            Field::Tar => "tar",
            Field::Cntr => "cntr",
            Field::EncKey => "enc-key",
            Field::MacKey => "mac-key",
            Field::Packet => "packet",
            Field::Response => "response",
            Field::Apdu => "apdu",
            Field::Originator => "originator",
            Field::Scts => "scts",
            Field::Parameter => "parameter",
        })
    }
}

/// Everything that can go wrong building or checking OTA data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OtaError {
    /// A parameter has the wrong size.
    #[error("{field}: must be {expected}, got {got} bytes")]
    Length {
        /// Which input.
        field: Field,
        /// What the specification asks for.
        expected: &'static str,
        /// What was given.
        got: usize,
    },
    /// A parameter's value is not allowed.
    #[error("{field}: {reason}")]
    Invalid {
        /// Which input.
        field: Field,
        /// Why.
        reason: String,
    },
    /// An algorithm that the KIc/KID codes is not implemented (or refused).
    #[error("{field}: {reason}")]
    Unsupported {
        /// Which input.
        field: Field,
        /// Why.
        reason: String,
    },
    /// A key whose length the algorithm does not take.
    #[error("{field}: {algorithm} takes a key of {expected} bytes, got {got} bytes")]
    KeyLength {
        /// Which key.
        field: Field,
        /// The algorithm it is for.
        algorithm: &'static str,
        /// The lengths the algorithm takes.
        expected: &'static str,
        /// The length given.
        got: usize,
    },
    /// A packet is shorter than its structure requires.
    #[error("{field}: truncated: {what} needs {need} bytes, {got} left")]
    Truncated {
        /// Which input.
        field: Field,
        /// The element that did not fit.
        what: &'static str,
        /// Bytes needed.
        need: usize,
        /// Bytes present.
        got: usize,
    },
    /// A packet's structure is wrong (length fields that disagree, reserved values…).
    #[error("{field}: {reason}")]
    Malformed {
        /// Which input.
        field: Field,
        /// What is wrong.
        reason: String,
    },
    /// The RC or CC of a packet is not the one computed with the key set.
    #[error("{field}: {kind} check failed (received {received}, computed with the key set differs)")]
    Checksum {
        /// Which input.
        field: Field,
        /// "CC" or "RC".
        kind: &'static str,
        /// The received value, hex (a checksum, not a secret).
        received: String,
    },
    /// Deciphered data whose padding (PCNTR or the padding octets) is inconsistent.
    #[error("{field}: bad padding: {reason}")]
    Padding {
        /// Which input.
        field: Field,
        /// What is wrong.
        reason: String,
    },
    /// A counter check failed (card side, or a PoR that does not answer the command).
    #[error("cntr: {0}")]
    Counter(#[from] crate::counter::CounterError),
}

impl OtaError {
    /// The input the error is about.
    pub fn field(&self) -> Field {
        match self {
            OtaError::Length { field, .. }
            | OtaError::Invalid { field, .. }
            | OtaError::Unsupported { field, .. }
            | OtaError::KeyLength { field, .. }
            | OtaError::Truncated { field, .. }
            | OtaError::Malformed { field, .. }
            | OtaError::Checksum { field, .. }
            | OtaError::Padding { field, .. } => *field,
            OtaError::Counter(_) => Field::Cntr,
        }
    }

    /// True for errors in the parameters themselves (wrong sizes, unknown algorithms, wrong key
    /// lengths): the caller asked for something impossible. False for failed checks of received data.
    pub fn is_parameter_error(&self) -> bool {
        matches!(
            self,
            OtaError::Length { .. }
                | OtaError::Invalid { .. }
                | OtaError::Unsupported { .. }
                | OtaError::KeyLength { .. }
        )
    }

    /// The PoR status a card answers when a command packet fails this way (TS 102 225 table 5.5).
    pub fn por_status(&self) -> ResponseStatus {
        match self {
            OtaError::Checksum { .. } => ResponseStatus::RcCcDsFailed,
            OtaError::Padding { .. } => ResponseStatus::CipheringError,
            OtaError::Counter(e) => e.por_status(),
            OtaError::Unsupported { .. } | OtaError::KeyLength { .. } => ResponseStatus::InsufficientSecurityLevel,
            _ => ResponseStatus::UnidentifiedSecurityError,
        }
    }

    pub(crate) fn invalid(field: Field, reason: impl Into<String>) -> Self {
        OtaError::Invalid { field, reason: reason.into() }
    }

    pub(crate) fn malformed(field: Field, reason: impl Into<String>) -> Self {
        OtaError::Malformed { field, reason: reason.into() }
    }
}

/// Result with [`OtaError`].
pub type Result<T> = core::result::Result<T, OtaError>;
