//! # testkit — what Warden's tests share (a dev-dependency only, never shipped)
//!
//! - [`keys`]: the 3GPP TS 35.208 test set 1 (K, OP, OPc, RAND, SQN, AMF) in one place.
//! - [`TempStore`], [`on_every_backend`]: a fresh store on SQLite in a temporary directory, and on
//!   the PostgreSQL named by `WARDEN_TEST_POSTGRES_URL` when set ([`postgres_url`]).
//! - [`provision`]: profiles, SIMs and EIR entries written through `cmp` (the one path of changes),
//!   as an operator at the command line would.
//!
//! Crates below `cmp` in the graph (`diameter`, `auc`, `store`) keep their own small helpers: a
//! dev-dependency on this crate would compile a second copy of them.

pub mod keys;
pub mod provision;
mod temp_store;

pub use temp_store::{keyring, on_every_backend, postgres_url, TempStore};
