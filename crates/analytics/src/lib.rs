//! # analytics — what devices do, and which of them are compromised
//!
//! Sans-IO security analytics for cellular IoT (issue 17, CLP.14 SEC-2, AV-1, PR-1, SUB-7). The
//! server feeds bytes and observations in and gets flows, findings and detections out; nothing here
//! opens a socket, reads a clock or touches the store, and nothing panics on input.
//!
//! | module | what |
//! |---|---|
//! | [`ipfix`] | IPFIX (RFC 7011) and NetFlow v9 (RFC 3954) datagrams from configured exporters in, [`Flow`] records out; templates bounded per (exporter, domain); malformed input dropped and counted |
//! | [`dpi`] | personal data sent in clear (cards, IBANs, e-mail, GPS, national ids, operator patterns): kind and position, **never the value** |
//! | [`mirror`] | mirrored packets over UDP (TZSP, or raw IP) down to TCP/UDP payloads, for live DPI |
//! | [`personal_data`] | DPI findings in a device's packets as `personal_data` detections, one per device, kind and hour |
//! | [`pcap`], [`packet`] | classic libpcap captures (both byte orders, µs/ns; not pcapng) down to TCP/UDP payloads and their [`FiveTuple`] |
//! | [`observe`] | the engine's inputs: flows, DNS queries, signalling and IMEIs per device |
//! | [`baseline`] | per-device behaviour learned online, in a fixed ~1 KiB per device |
//! | [`detect`] | the engine: detections with kind, score, evidence and a stable id, deduplicated |
//! | [`intel`] | threat-intelligence indicators imported from CSV or STIX 2.1 |
//! | [`cohort`] | isolation forest over the devices of one tenant/profile: cohort outliers |
//! | [`snapshot`] | the engine's learned state on disk (versioned, checksummed), so a restart does not relearn |
//! | [`eval`] | classic-pcap flows, labels and precision/recall for the labelled evaluation set |
//!
//! The durable side — detections stored per tenant, actions, health check, dashboard, keyed pseudonyms
//! and the STIX 2.1 export — is `cmp::analytics` (docs/analytics-actions.md).
//!
//! See docs/analytics.md and docs/analytics-detections.md.

pub mod baseline;
pub mod cohort;
pub mod detect;
pub mod dpi;
pub mod eval;
mod flow;
pub mod intel;
pub mod ipfix;
pub mod mirror;
pub mod observe;
pub mod packet;
pub mod pcap;
pub mod personal_data;
pub mod snapshot;

pub use baseline::{DeviceBaseline, BASELINE_BYTES_PER_DEVICE};
pub use cohort::{CohortConfig, CohortModels, Features, IsolationForest, Outlier};
pub use detect::{
    Allowlist, Detection, DetectionKind, Direction, Engine, EngineConfig, Evidence, ENGINE_BYTES_PER_DEVICE,
};
pub use flow::{FiveTuple, Flow};
pub use intel::{Indicator, IndicatorValue, IntelError, IntelSet};
pub use observe::{
    DeviceKey, DnsObservation, FlowObservation, ImeiObservation, Observation, SignallingKind, SignallingObservation,
};
