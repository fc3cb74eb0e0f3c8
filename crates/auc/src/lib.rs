//! # auc — Warden's authentication centre
//!
//! Pure, synchronous computation of authentication data for 3GPP networks:
//!
//! - [`Milenage`] (TS 35.205/35.206) and [`Tuak`] (TS 35.231, every size the specification allows),
//!   behind one [`AuthAlgorithm`];
//! - authentication vectors: UMTS quintets ([`UmtsVector`]), E-UTRAN vectors with K_ASME
//!   ([`EutranVector`], TS 33.401 A.2) and GSM triplets converted by c2/c3 ([`GsmTriplet`]);
//! - SQN management per TS 33.102 Annex C ([`SqnScheme`], [`SqnCounter`]) and resynchronisation from
//!   AUTS ([`verify_auts`]);
//! - refusal of COMP128 and the XOR test algorithms wherever a name or number is accepted
//!   ([`AlgorithmKind`]).
//!
//! Key material lives in types that zeroize on drop and print as `[redacted]` ([`Key`], [`Opc`],
//! [`Topc`], [`Ck`], [`Ik`], [`Kasme`], [`Kc`]). RAND comes from the operating system's CSPRNG.
//!
//! This crate never does I/O, never logs, never stores state and never allocates per vector
//! (batches allocate their output).

mod algorithm;
mod auts;
mod error;
mod kdf;
mod milenage;
mod secret;
mod sqn;
mod tuak;
mod types;
mod vector;

pub use algorithm::{AlgorithmKind, AuthAlgorithm};
pub use auts::{build_auts, verify_auts};
pub use error::{AucError, Result};
pub use kdf::{c2, c3, kasme};
pub use milenage::{Milenage, MilenageOutputs};
pub use secret::{Ck, Ik, Kasme, Kc, Key, Op, Opc, SecretBytes, Top, Topc};
pub use sqn::{ResyncOutcome, SqnCounter, SqnScheme};
pub use tuak::{keccak_f1600_bytes, Tuak, TuakOutputs, TuakParams, MAX_ITERATIONS};
pub use types::{fill_random, Ak, Amf, Autn, Auts, Bytes, Mac, Rand, Res, ServingNetwork, Sqn};
pub use vector::{autn, eutran_batch, random_rands, EutranVector, GsmTriplet, UmtsVector};
