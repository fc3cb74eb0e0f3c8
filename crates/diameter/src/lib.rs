//! # diameter — Warden's Diameter stack (RFC 6733)
//!
//! - **Codec**: the header ([`Header`]), AVPs with every RFC 6733 base type ([`Avp`], [`Value`]), a
//!   zero-copy reader ([`MessageView`], [`RawAvps`]) and byte-exact encoding.
//! - **Dictionary** ([`dictionary`]): base protocol, S6a/S6d and S13 (TS 29.272), DOIC (RFC 7683),
//!   with typed handles generated from its tables: an AVP constant per AVP (`avp::ORIGIN_HOST`, typed
//!   by data format) and a [`Command`] per command. Messages are built and read through them, so a
//!   misspelt name or a value of the wrong format does not compile; unknown AVPs are kept.
//! - **Validation** ([`validate::check`]) and error answers carrying the RFC 6733 Result-Code and
//!   Failed-AVP ([`Message::error_answer`]).
//! - **Peer** ([`peer::Peer`]): the sans-IO peer state machine (capabilities exchange, watchdog,
//!   disconnection, identifiers, duplicates), in the manner of `quinn-proto`: bytes and time in,
//!   bytes (appended to the caller's buffer), events and deadlines out.
//! - **Transport** (`transport`, the default feature `transport`): the tokio TCP/TLS shell — a
//!   server with a `Handler`, a client, and the `Driver` step every connection runs on.
//!
//! With `default-features = false` the crate is the sans-IO core alone and depends on no async
//! runtime (`cargo tree -p diameter --no-default-features -e normal` lists no tokio; `.ci/run`
//! checks it).
//!
//! This crate depends on nothing else of Warden's. It never panics on input: every malformed byte
//! sequence becomes a [`DecodeError`] with the Result-Code to answer.

pub mod avp;
pub mod dictionary;
pub mod error;
pub mod header;
pub mod message;
pub mod peer;
pub mod result_code;
#[cfg(feature = "transport")]
pub mod transport;
pub mod validate;

pub use avp::{Address, Avp, BuildError, RawAvp, RawAvps, Value};
pub use dictionary::Command;
pub use error::DecodeError;
pub use header::{next_frame_len, FramingError, Header};
pub use message::{Message, MessageError, MessageView};
