//! # otajobs — Warden's OTA engine
//!
//! Runs OTA jobs (issue #18, SUB-6, ROAM-5) over any SMS transport that implements
//! [`sms::MtSender`]: each job is a set of per-SIM items; each item becomes a secured command packet
//! (`ota::build_command`) under the SIM's key set with a freshly reserved durable counter
//! (`store::Store::record_ota_command`), is sent within a global rate limit, and waits for its PoR,
//! which comes back as an MO message ([`Engine`] is an [`sms::MoHandler`]) or inside the delivery
//! report. PoRs are matched by TAR and counter (`ota::PendingPors`); replayed, unknown and late ones
//! are refused and counted. Failures and timeouts are retried with backoff up to a bound; critical
//! SIMs are sent last (each priority class only after the previous one finished); progress is in the
//! database, so a restarted engine resumes without resending confirmed items.
//!
//! - [`settings`]: the engine's settings (`[ota]` of the configuration).
//! - [`payload`]: what an item writes (files, offsets, data) and the RFM script built from it.
//! - [`rate`]: the global send rate limit.
//! - [`pors`]: commands waiting for their PoR and the matching of PoRs to them.
//! - [`engine`]: the job runner.
//! - [`steering`]: steering of roaming: the desired PLMN lists per SIM and the jobs that write them.
//! - [`request`]: job requests as the API takes them, validated and planned.

pub mod engine;
pub mod payload;
pub mod pors;
pub mod rate;
pub mod request;
pub mod settings;
pub mod steering;

pub use engine::{Engine, EngineError};
pub use payload::{FileWrite, ItemPayload};
pub use pors::PorStats;
pub use request::{JobRequest, RequestError};
pub use settings::{OtaSettings, SettingsError};
