//! # store — Warden's subscriber store
//!
//! Identities (IMSI, IMEI, PLMN, …) are the `ids` crate's; the store keeps them as their digit strings.
//! - [`model`]: SIMs, service profiles, EIR entries, serving nodes.
//! - [`Store`]: SQLite (embedded default) and PostgreSQL through one schema per backend with
//!   migrations; every multi-row write is one transaction.
//! - [`seal`]: K and OPc/TOPc sealed with AES-256-GCM under a key-encryption key, bound to the IMSI and
//!   column; several KEKs at once for rotation without downtime ([`Store::reseal_all`]).
//! - [`SqnAllocator`]: durable SQN reservation, so no SQN is reused after a crash: in blocks (no disk
//!   write per vector, one instance) or exactly (SEQ strictly increasing whichever instance answers).
//! - [`cluster`]: the registry of `warden serve` instances on one database, the nodes each reaches,
//!   and the outbox claimed by the instance holding the serving node's connection.
//! - [`changes`]: changes announced by PostgreSQL `NOTIFY` (cache coherence across instances).
//!
//! - [`access`]: tenants and API tokens (hashed, expiring, source-limited, revocable), tenant scopes.
//! - [`sims_scoped`], [`users`], [`jobs`], [`events`], [`platform`]: the connectivity-management
//!   platform's data, every query scoped to the caller's tenant.
//! - [`mfa`]: the second login factor: TOTP credentials (secret sealed like K/OPc), recovery codes,
//!   login tickets, the per-tenant `mfa_required` setting.
//! - [`webauthn`]: passkeys of the second factor and the WebAuthn ceremonies under way (shared by
//!   every instance on the database).
//! - [`sessions`]: login sessions as their owners see them: portal cookie sessions (sealed CSRF
//!   token, last use for the idle timeout), the list of one's sessions, revocation of one.
//! - [`approvals`]: requests to terminate or unprotect a critical SIM waiting for a second person.
//! - [`audit`]: the append-only, hash-chained audit trail and its verification.
//! - [`schema`]: the schema versions this binary knows and a database is at.
//! - [`copy`]: the whole store copied from SQLite into an empty PostgreSQL database, in one checked
//!   transaction (`warden storage migrate`).
//! - [`firewall_state`]: the roaming firewall's registrations and risky networks shared by several
//!   instances on one database, announced by PostgreSQL notifications.
//! - [`analytics`]: the analytics engine's detections and the actions taken on them, the tenants'
//!   analytics policies (PR-1) and the keys of their pseudonyms (sealed like K/OPc).
//! - [`ota`]: SIM over-the-air data: OTA key sets (keys sealed like K/OPc) with durable replay
//!   counters, the per-SIM OTA history with PoR results, OTA jobs and the file contents cards confirmed.
//! - [`device_psk`]: DTLS pre-shared keys of LwM2M endpoints (sealed like K/OPc, tenant from the SIM).
//! - [`audit_evidence`]: read-only SIM queries for the network audit (`warden audit run --store`).
//! - `sqlite_native`: on SQLite, the PCRF's hot operations (the session writer's batches, the load
//!   of a subscriber with its policy) on native connections with prepared statements.
//!
//! The store never returns K or OPc: [`Store::auth_material`] opens them straight into the zeroizing
//! key types of `auc` inside a keyed algorithm.

pub mod access;
pub mod analytics;
pub mod approvals;
pub mod audit;
pub mod audit_evidence;
pub mod campaigns;
pub mod changes;
pub mod cluster;
mod columns;
pub mod copy;
mod db;
pub mod devcerts;
pub mod device_psk;
pub mod device_snapshots;
mod devices;
mod error;
pub mod events;
pub mod firewall_state;
pub mod firmware;
pub mod fixed_dialling;
pub mod jobs;
pub mod mfa;
pub mod model;
pub mod oidc;
pub mod ota;
pub mod platform;
pub mod schema;
pub mod seal;
pub mod sessions;
pub mod sims_scoped;
mod sqlite_native;
mod sqn;
pub mod stats;
pub mod traffic;
mod tx;
pub mod users;
pub mod webauthn;

pub use db::{now, Backend, Store};
pub use error::{Result, StoreError};
pub use sqn::{Allocation, SqnAllocator};
pub use tx::Tx;
