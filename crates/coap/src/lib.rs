//! Sans-IO CoAP (RFC 7252), the transport of LwM2M: a codec that never panics and tells precisely
//! why a datagram is malformed, plus the pieces a server builds on.
//!
//! - [`message`]: the message — header (version 1, CON/NON/ACK/RST, code, message id), token of 0 to
//!   8 bytes, options with delta/length extensions (13 and 14; the reserved nibble 15 is refused),
//!   payload marker; [`Message::decode`] / [`Message::encode`] round trip.
//! - [`option`]: option numbers, their value formats and lengths (RFC 7252 Table 4, RFC 7959, RFC
//!   7641), unsigned-integer values, critical/elective.
//! - [`block`]: the Block1/Block2 option value (RFC 7959 §2.2) and a reassembly helper that bounds the
//!   total size and refuses out-of-order or cut transfers; [`block1`]: a sender of a request body in
//!   Block1 blocks (size negotiation, 2.31, 4.13, 4.08, retries, abandon).
//! - [`observe`]: the Observe option's sequence numbers and the freshness rule of RFC 7641 §3.4.
//! - [`dedup`]: a bounded cache of answers to confirmable requests, so a retransmitted CON gets the
//!   same answer and is not handled twice (RFC 7252 §4.5).
//! - [`ratelimit`]: token buckets per source address in a bounded map.

pub mod block;
pub mod block1;
pub mod dedup;
pub mod message;
pub mod metrics;
pub mod observe;
pub mod option;
pub mod ratelimit;

pub use block::{Block, BlockAssembler, BlockError};
pub use message::{Code, DecodeError, Message, MessageType};
pub use option::{CoapOption, OptionNumber};
