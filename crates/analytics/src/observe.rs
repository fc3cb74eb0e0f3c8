//! The engine's inputs, independent of wire formats.
//!
//! The collector (IPFIX/NetFlow mapped to SIMs through the Gx sessions), the DNS firewall's query log
//! and Warden's own signalling events are turned into these observations before they reach the
//! [`Engine`](crate::detect::Engine). Times are unix milliseconds of the observed event ("device
//! time"); the engine never reads a clock.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

/// Unix time in milliseconds.
pub type UnixMs = u64;

/// IP protocol numbers the detections look at (IANA "Assigned Internet Protocol Numbers").
pub mod proto {
    /// ICMP.
    pub const ICMP: u8 = 1;
    /// TCP.
    pub const TCP: u8 = 6;
    /// UDP.
    pub const UDP: u8 = 17;
    /// ICMPv6.
    pub const ICMPV6: u8 = 58;
}

/// One device as the analytics see it: its SIM's IMSI, tenant and service profile.
///
/// The strings are shared (`Arc<str>`): cloning a key is three reference-count increments, and one
/// tenant or profile name is stored once for all its devices.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct DeviceKey {
    /// The SIM's IMSI (digits).
    pub imsi: Arc<str>,
    /// The tenant owning the SIM.
    pub tenant: Arc<str>,
    /// The SIM's service profile; cohorts are the devices of one tenant and profile.
    pub profile: Arc<str>,
}

impl DeviceKey {
    /// A key from its three parts.
    pub fn new(imsi: &str, tenant: &str, profile: &str) -> Self {
        Self { imsi: imsi.into(), tenant: tenant.into(), profile: profile.into() }
    }
}

/// Hashes the IMSI only: it identifies the SIM, and equal keys have equal IMSIs.
impl std::hash::Hash for DeviceKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.imsi.hash(state);
    }
}

impl fmt::Display for DeviceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.tenant, self.profile, self.imsi)
    }
}

/// A flow (one direction pair of a 5-tuple over an interval) between a device and a remote host.
#[derive(Debug, Clone, PartialEq)]
pub struct FlowObservation {
    /// When the flow started.
    pub at: UnixMs,
    /// The device.
    pub device: DeviceKey,
    /// The remote (non-device) address.
    pub remote: IpAddr,
    /// The remote port (0 for protocols without ports).
    pub remote_port: u16,
    /// IP protocol number ([`proto`]).
    pub proto: u8,
    /// Bytes from the device.
    pub octets_up: u64,
    /// Bytes to the device.
    pub octets_down: u64,
    /// Packets in both directions.
    pub packets: u64,
}

/// A DNS query of a device, as the DNS firewall saw and answered it.
#[derive(Debug, Clone, PartialEq)]
pub struct DnsObservation {
    /// When the query arrived.
    pub at: UnixMs,
    /// The device.
    pub device: DeviceKey,
    /// The queried name, without the trailing dot.
    pub name: String,
    /// The query type (1 A, 28 AAAA, 16 TXT…).
    pub qtype: u16,
    /// The answer was NXDOMAIN.
    pub nxdomain: bool,
    /// The firewall allowed the name (false: refused by the allowlist). Carried for the dashboard; the
    /// detections look at every query alike (a refused name is still a tunnel's query).
    pub allowed: bool,
}

/// Which signalling procedure a device caused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SignallingKind {
    /// Authentication-Information-Request (S6a).
    Air,
    /// Update-Location-Request (S6a).
    Ulr,
    /// Purge-UE-Request (S6a).
    Pur,
    /// Notify-Request (S6a).
    Nor,
    /// Gx Credit-Control-Request (session start, update, end).
    Ccr,
    /// Anything else counted per SIM.
    Other,
}

/// One signalling request about a device, from Warden's own events.
#[derive(Debug, Clone, PartialEq)]
pub struct SignallingObservation {
    /// When the request arrived.
    pub at: UnixMs,
    /// The device.
    pub device: DeviceKey,
    /// The procedure.
    pub kind: SignallingKind,
    /// It was refused (roaming not allowed, unknown, barred, firewall block…).
    pub rejected: bool,
}

/// The IMEI (or IMEISV) a device presented, from ULR or S13.
#[derive(Debug, Clone, PartialEq)]
pub struct ImeiObservation {
    /// When it was presented.
    pub at: UnixMs,
    /// The device (SIM).
    pub device: DeviceKey,
    /// 14 to 16 digits; the first 8 are the TAC (device model).
    pub imei: String,
}

/// Any observation, for callers that queue them together.
#[derive(Debug, Clone, PartialEq)]
pub enum Observation {
    /// A flow.
    Flow(FlowObservation),
    /// A DNS query.
    Dns(DnsObservation),
    /// A signalling request.
    Signalling(SignallingObservation),
    /// An IMEI presented.
    Imei(ImeiObservation),
}

impl Observation {
    /// When it happened.
    pub fn at(&self) -> UnixMs {
        match self {
            Observation::Flow(o) => o.at,
            Observation::Dns(o) => o.at,
            Observation::Signalling(o) => o.at,
            Observation::Imei(o) => o.at,
        }
    }

    /// Whose it is.
    pub fn device(&self) -> &DeviceKey {
        match self {
            Observation::Flow(o) => &o.device,
            Observation::Dns(o) => &o.device,
            Observation::Signalling(o) => &o.device,
            Observation::Imei(o) => &o.device,
        }
    }
}

impl serde::Serialize for DeviceKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("DeviceKey", 3)?;
        st.serialize_field("imsi", &*self.imsi)?;
        st.serialize_field("tenant", &*self.tenant)?;
        st.serialize_field("profile", &*self.profile)?;
        st.end()
    }
}
