//! # analytics — the sans-IO core of Warden's security analytics (issue #17)
//!
//! Three inputs, each a pure function of the bytes handed in (no sockets, no clock, no threads):
//!
//! - [`ipfix::Collector`]: IPFIX (RFC 7011) and NetFlow v9 (RFC 3954) datagrams from configured
//!   exporters in, [`Flow`] records out. Templates are cached per (exporter, observation domain /
//!   source id) within bounds; everything malformed is dropped and counted by [`ipfix::DropReason`].
//! - [`dpi::Scanner`]: finds personal data sent in clear in a payload (payment cards, IBANs, e-mail
//!   addresses, GPS positions, national identity numbers, operator patterns). A [`dpi::Finding`]
//!   says what kind and where; **it never carries the matched value**.
//! - [`pcap::PcapReader`] and [`packet::parse`]: classic libpcap captures (both byte orders,
//!   micro- and nanosecond timestamps; pcapng is not read) down to TCP/UDP payloads and their
//!   [`FiveTuple`].
//!
//! What it never does: panic on input, keep matched personal data, or read the network itself
//! (the binary's `warden analytics` and, later, `warden serve` do the I/O). See docs/analytics.md.

pub mod dpi;
mod flow;
pub mod ipfix;
pub mod packet;
pub mod pcap;

pub use flow::{FiveTuple, Flow};
