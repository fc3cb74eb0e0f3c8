//! GTPv2-C (3GPP TS 29.274): header, TLIV information elements (grouped ones decoded recursively,
//! unknown ones kept), typed values for the IEs a GTP-C firewall screens, messages and a builder.

mod header;
mod ie;
mod message;
mod types;
pub mod values;

pub use header::Header;
pub use ie::{Ie, IeValue};
pub use message::{BuildError, Message, MessageBuilder};
pub use types::{IeType, MessageType};

/// How deep grouped IEs may nest (a Bearer Context inside a PDN Connection is depth 2); deeper input is
/// refused with [`crate::DecodeError::NestingTooDeep`].
pub const MAX_DEPTH: usize = 8;
