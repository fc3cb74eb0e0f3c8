//! # cmp — the connectivity-management domain
//!
//! Every change to the platform's data goes through a function of this crate, whoever makes it: the
//! REST API, the command line, a tenant rule, the HSS's IMEI lock. Each takes an [`Actor`] (who, in
//! which role, from where), checks what the actor may do, and writes the change together with its
//! event and its audit entry in **one transaction**. Domain rules only: no HTTP (the `api` crate
//! translates), no SQL (the `store` crate translates), no Diameter (the HSS hears of committed SIM
//! changes through [`HssNotifier`] and the store's outbox).
//!
//! - [`sims`]: SIM status, profile, data barring, critical-SIM protection, IMEI binding, import.
//! - [`jobs`]: bulk changes over lists, ranges and filters, in atomic batches with per-item results,
//!   taking [`fair`] turns between tenants.
//! - [`rules`]: tenant rules (IMEI lock, signalling behaviour): a pure evaluation and its driver.
//! - [`access`]: tenants, tokens, users, login with lockout, password rules — who may use the platform.
//! - [`catalogue`]: what the operator and tenants configure: profiles, IMSI ranges, EIR lists, rules,
//!   webhooks.
//! - [`events`]: the one event vocabulary.
//! - [`lifecycle`](check_transition): `inventory → active ⇄ suspended → terminated` and the
//!   protection of critical SIMs (SUB-4): tenants cannot suspend or terminate a critical SIM until an
//!   operator admin lifts its protection, and automated decisions never cut one off.
//! - [`provisioning`]: SIM records from files and the API, validated into store types.
//! - [`password`], [`breached`], [`hashing`]: NIST SP 800-63B rules, argon2id on a bounded pool, a
//!   breached-password corpus.
//! - [`totp`]: one-time codes (RFC 4226 HOTP, RFC 6238 TOTP) of the second login factor; [`mfa`]: enrolment,
//!   recovery codes and the two-step login.
//! - [`passkey`]: passkeys (WebAuthn) as a second factor: registration, login, step-up ceremonies.
//! - [`sessions`]: portal cookie sessions, signing out of one session or everywhere.
//! - [`stepup`]: a fresh second factor (≤ 5 minutes) for sensitive tasks; [`approvals`]: a second
//!   person's approval to terminate or unprotect a critical SIM.
//! - [`text`]: what free text (names, notes) may contain.
//! - [`analytics`]: security analytics' durable side: detections recorded, the tenant's policy applied
//!   (alert, quarantine, suspend, firmware update; never cutting off a critical SIM), undo, health
//!   score, dashboard, STIX 2.1 export, keyed pseudonyms (AV-1, PR-1, SUB-7).
//! - [`webhook`]: HMAC signatures of webhook deliveries; [`egress`]: where deliveries may go (the deny
//!   list of special-purpose addresses, checked at creation and at every delivery).

pub mod access;
mod actor;
pub mod analytics;
pub mod approvals;
pub mod breached;
pub mod campaigns;
pub mod catalogue;
pub mod certificates;
pub mod egress;
mod error;
pub mod events;
pub mod fair;
pub mod fdl;
pub mod firmware_images;
pub mod hashing;
pub mod jobs;
mod lifecycle;
pub mod mfa;
mod notify;
pub mod oidc;
pub mod passkey;
pub mod password;
pub mod provisioning;
mod roles;
pub mod rules;
pub mod sessions;
pub mod sims;
pub mod stepup;
pub mod text;
pub mod totp;
pub mod traffic;
pub mod webhook;

pub use actor::Actor;
pub use error::{Error, Result};
pub use events::EventKind;
pub use lifecycle::{check_approved_transition, check_data_barring, check_transition, Authority, TransitionError};
pub use notify::{HssNotifier, NoHss};
pub use roles::{Action, Role};
