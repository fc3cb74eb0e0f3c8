//! # cmp — the connectivity-management domain (issue #5)
//!
//! Pure domain rules, no HTTP and no SQL: who may do what ([`Role`], [`Action`]) and which SIM status
//! changes are allowed ([`check_transition`]), including the protection of critical SIMs (SUB-4):
//! a tenant cannot suspend or terminate a critical SIM until an operator admin lifts its termination
//! protection, and automated rules never act on critical SIMs.
//!
//! - [`sim_ops`]: one SIM changed for a caller (scoped write, event, HSS told through [`HssNotifier`]).
//! - [`jobs`]: bulk changes over lists, ranges and filters, in atomic batches with per-item results.
//! - [`rules`]: tenant rules (IMEI lock, signalling behaviour) and what they do when they fire.
//! - [`webhook`]: HMAC signatures of webhook deliveries.
//! - [`provisioning`]: SIM records from files and the API, validated into `store` types.
//! - [`breached`]: a breached-password corpus (SHA-1 list) checked when people choose passwords.
//! - [`password`]: NIST SP 800-63B password rules and argon2id hashing for people's logins.

pub mod breached;
pub mod jobs;
mod lifecycle;
mod notify;
pub mod password;
pub mod provisioning;
mod roles;
pub mod rules;
pub mod sim_ops;
pub mod webhook;

pub use lifecycle::{check_transition, Actor, TransitionError};
pub use notify::{HssNotifier, NoHss};
pub use roles::{Action, Role};
