//! # analytics — what devices do, and which of them are compromised
//!
//! Sans-IO security analytics for cellular IoT (issue 17, CLP.14 SEC-2, AV-1, PR-1, SUB-7). The
//! server feeds observations in and gets detections out; nothing here opens a socket, reads a clock or
//! touches the store.
//!
//! | module | what |
//! |---|---|
//! | [`observe`] | the engine's inputs: flows, DNS queries, signalling and IMEIs per device |
//! | [`baseline`] | per-device behaviour learned online, in a fixed ~1 KiB per device |
//! | [`detect`] | the engine: detections with kind, score, evidence and a stable id, deduplicated |
//! | [`intel`] | threat-intelligence indicators imported from CSV or STIX 2.1 |
//! | [`cohort`] | isolation forest over the devices of one tenant/profile: cohort outliers |
//! | [`health`] | per-tenant security health score with reasons and top risks |
//! | [`stix`] | detections and indicators exported as a STIX 2.1 bundle |
//! | [`pseudonym`] | keyed pseudonyms (HMAC-SHA-256) for IMSIs and addresses in exports |
//! | [`eval`] | classic-pcap flows, labels and precision/recall for the labelled evaluation set |

pub mod baseline;
pub mod cohort;
pub mod detect;
pub mod eval;
pub mod health;
pub mod intel;
pub mod observe;
pub mod pseudonym;
pub mod stix;

pub use baseline::{DeviceBaseline, BASELINE_BYTES_PER_DEVICE};
pub use cohort::{CohortConfig, CohortModels, Features, IsolationForest, Outlier};
pub use detect::{Allowlist, Detection, DetectionKind, Engine, EngineConfig, Evidence, ENGINE_BYTES_PER_DEVICE};
pub use health::{health_check, HealthInputs, HealthReport};
pub use intel::{Indicator, IndicatorValue, IntelError, IntelSet};
pub use observe::{
    DeviceKey, DnsObservation, FlowObservation, ImeiObservation, Observation, SignallingKind, SignallingObservation,
};
pub use pseudonym::Pseudonymizer;
pub use stix::ExportOptions;
