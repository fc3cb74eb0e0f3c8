//! # testkit — what Warden's tests share (a dev-dependency only, never shipped)
//!
//! - [`keys`]: the 3GPP TS 35.208 test set 1 (K, OP, OPc, RAND, SQN, AMF) in one place.
//! - [`TempStore`], [`on_every_backend`]: a fresh store on SQLite in a temporary directory, and on
//!   the PostgreSQL named by `WARDEN_TEST_POSTGRES_URL` when set ([`postgres_url`]).
//! - [`provision`]: profiles, SIMs and EIR entries written through `cmp` (the one path of changes),
//!   as an operator at the command line would.
//! - [`s6a`]: S6a/S13 requests (AIR, ULR, PUR) from typed AVP handles, and a stand-in MME.
//! - [`gx`]: a test P-GW (PCEF) on Gx, written from TS 29.212 alone, and IPFilterRule parsing.
//! - [`roaming`]: two roaming partners of a firewall configuration, and their requests.
//! - [`sansio`]: moving messages between sans-IO peers without sockets.
//! - [`tls`]: a test CA and the certificates it signs.
//! - [`tshark`]: Wireshark's tshark reading the Diameter frames of a capture.
//! - [`uicc`]: a SIM-side OTA simulator (files, counter, key set) and an in-process SMS network of
//!   such cards with failure injection.
//!
//! Integration tests of any crate may use it; unit tests (`#[cfg(test)]` inside a crate this one
//! depends on) may not, since they would see a second copy of that crate.

pub mod gx;
pub mod keys;
pub mod provision;
pub mod roaming;
pub mod s6a;
pub mod sansio;
mod temp_store;
pub mod tls;
pub mod tshark;
pub mod uicc;

pub use temp_store::{
    keyring, on_every_backend, on_fresh_postgres, on_two_handles_of_every_backend, postgres_url, rotated_keyring,
    TempStore,
};
