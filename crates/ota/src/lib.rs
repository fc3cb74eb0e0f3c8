//! # ota — Warden's SIM over-the-air core
//!
//! Sans-IO building and checking of what goes to and comes from a UICC over the air:
//!
//! - secured command packets of ETSI TS 102 225 §5.1 in the SMS-PP coding of 3GPP TS 31.115
//!   ([`build_command`], card side [`CommandPacket`]): [`Spi`], KIc/KID ([`KeySet`]), TAR,
//!   [`Counter`], PCNTR; ciphering with DES, 3DES (2 and 3 keys) or AES in CBC mode with a zero IV;
//!   RC (CRC32) or CC (DES/3DES CBC-MAC, AES-CMAC truncated to 8 bytes); DS is refused;
//! - proofs of receipt of §5.2 ([`parse_response`], card side [`build_response`]) with their
//!   [`ResponseStatus`] and the remote-command responses of TS 102 226 ([`RemoteResponse`]);
//! - counters: the next value to send, the card-side checks of the SPI counter modes and PoR matching
//!   that detects replayed and unknown PoRs ([`CounterPolicy`], [`PendingPors`]);
//! - remote commands of TS 102 226 in compact and expanded format ([`build_script`]): RFM file
//!   commands ([`rfm`]), RAM INSTALL/DELETE ([`gp`]), the REFRESH proactive command, PLMN list
//!   rewriting for steering of roaming ([`plmn`]);
//! - SMS-DELIVER TPDUs of TS 23.040 with the UDH of TS 31.115, concatenated when needed ([`sms`]).
//!
//! Keys live in [`OtaKey`], which zeroizes on drop and prints as `[redacted]`. Nothing here does I/O,
//! logs, or keeps state beyond what the caller holds (counter storage is the caller's).

mod apdu;
mod command;
mod counter;
mod crypto;
mod error;
pub mod gp;
mod keys;
pub mod plmn;
mod por;
pub mod rfm;
mod secured;
pub mod sms;
mod spi;
mod status;

pub use apdu::{build_script, parse_script, Apdu, Rapdu, RemoteResponse, ScriptFormat};
pub use command::{build_command, CommandHeader, CommandPacket, OpenedCommand};
pub use counter::{next_counter, Counter, CounterError, CounterPolicy, PendingPors, PorOrder};
pub use error::{Field, OtaError, Result};
pub use keys::{kic_algorithm, kid_algorithm, BlockAlgorithm, CheckAlgorithm, KeySet, OtaKey};
pub use por::{build_response, parse_response, ResponsePacket, RESPONSE_UDH};
pub use spi::{CounterMode, Integrity, PorRequest, Spi};
pub use status::ResponseStatus;
