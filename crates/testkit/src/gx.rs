//! A test P-GW (PCEF) on Gx (TS 29.212), written from the specifications and independent of
//! Warden's PCRF and of the dictionary's Gx entries: AVPs are built and read by code and vendor
//! ([`codes`], [`raw`]).
//!
//! - [`Pgw`]: connects with Gx in its CER, sends CCR-I/U/T ([`SessionSpec`], [`Usage`]), answers
//!   RAR (RAA) and ASR (ASA), keeps each session's installed rules as a PCEF would ([`Session`],
//!   [`rules::Installed`]) and hands every RAR/ASR/release to the test.
//! - [`ipfilter`]: IPFilterRule (RFC 6733 §4.3.1) parsed into prefixes, ports and protocol, with the
//!   Flow-Description profile of Gx.
//! - [`rules`]: PCC rules, QoS, and the PCEF's evaluation of a packet (precedence, first match,
//!   Flow-Status).
//!
//! The P-GW's own connection is Warden's Diameter stack, whose peer layer answers
//! DIAMETER_COMMAND_UNSUPPORTED to requests of commands its dictionary lacks: RAR and ASR reach the
//! P-GW once the dictionary has them for Gx (application 16777238). CCAs need nothing of it.

pub mod codes;
pub mod ipfilter;
#[cfg(test)]
mod loopback;
mod pcef;
pub mod raw;
pub mod rules;

pub use ipfilter::{Action, Addr, Dir, Endpoint, FilterError, IpFilterRule, PortRange, Prefix};
pub use pcef::{Answer, Pgw, Release, ReleaseBy, Session, SessionSpec, SessionState, Usage, GX};
pub use rules::{
    Arp, Direction, Flow, FlowDirection, FlowStatus, Installed, Packet, PccRule, Qos, RuleFailure, Verdict,
};
