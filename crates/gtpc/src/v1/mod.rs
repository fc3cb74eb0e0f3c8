//! GTPv1-C (3GPP TS 29.060): header with the optional sequence number, N-PDU number and extension
//! headers, TV and TLV information elements, typed values, messages.

mod header;
mod ie;
mod message;

pub use header::{ExtensionHeader, Header};
pub use ie::{tv_len, Ie, IeType, Uli1};
pub use message::{Message, MessageType};
