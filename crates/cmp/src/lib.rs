//! # cmp — the connectivity-management domain (first part of issue #5)
//!
//! Pure domain rules, no HTTP and no SQL: who may do what ([`Role`], [`Action`]) and which SIM status
//! changes are allowed ([`check_transition`]), including the protection of critical SIMs (SUB-4):
//! a tenant cannot suspend or terminate a critical SIM until an operator admin lifts its termination
//! protection, and automated rules never act on critical SIMs.
//!
//! [`password`] holds the NIST SP 800-63B password rules and argon2id hashing for people's logins.
//!
//! The REST API, bulk jobs, rules and events of issue #5 build on these rules.

mod lifecycle;
pub mod password;
mod roles;

pub use lifecycle::{check_transition, Actor, TransitionError};
pub use roles::{Action, Role};
