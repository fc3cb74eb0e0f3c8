//! The labelled evaluation: classic pcap files turned into flows and DNS observations, and
//! precision/recall of the detections against labelled attacks.
//!
//! This is the evaluation's own minimal reader (classic libpcap format, Ethernet or raw IP link types,
//! IPv4/IPv6 with TCP/UDP) and flow table (5-tuple, idle and active timeouts), kept small and separate
//! from the collector's so that the evaluation does not depend on the code it judges. Records cut short
//! at the end of a file are counted and dropped, never a panic.
//!
//! Scoring ([`evaluate`]): a labelled attack is *found* when a detection of one of its expected kinds
//! ([`AttackKind::expected`]) is raised on its device between its start and its end plus a grace period
//! (cohort models run periodically, so their verdict can come after the attack). A detection is *true*
//! when it falls in such an interval of any attack on its device, else it is a false alarm. With an
//! unbounded grace (`u64::MAX`), a device stays compromised from its first attack on — nothing in the
//! set cleans it up — and a false alarm is a detection on a clean device, or before the attack. Precision
//! per kind counts that kind's detections; recall per kind counts the attacks that expect it; false
//! alarms are reported per device-day of evaluated (post-learning) time.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::{Deserialize, Serialize};

use crate::detect::{Detection, DetectionKind};
use crate::observe::UnixMs;

/// Why a pcap could not be read at all.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PcapError {
    /// Shorter than the 24-byte global header.
    #[error("pcap shorter than its global header")]
    Short,
    /// Not a classic pcap magic number.
    #[error("not a classic pcap file (magic {0:#010x})")]
    Magic(u32),
    /// A link type this reader does not know.
    #[error("unsupported link type {0}")]
    LinkType(u32),
}

/// One captured packet.
#[derive(Debug, Clone, Copy)]
pub struct Packet<'a> {
    /// Capture time, unix ms.
    pub at: UnixMs,
    /// The captured bytes from the IP header on.
    pub ip: &'a [u8],
}

/// The packets of a classic pcap and how many records were cut short or not IP.
#[derive(Debug, Clone, Default)]
pub struct Capture<'a> {
    /// The IP packets.
    pub packets: Vec<Packet<'a>>,
    /// Records dropped: truncated at the end of the file, or not IPv4/IPv6.
    pub dropped: usize,
}

/// Reads a classic pcap (either byte order, micro- or nanosecond timestamps; link types 1 Ethernet,
/// 101 raw IP, 228 IPv4, 229 IPv6).
pub fn read_pcap(bytes: &[u8]) -> Result<Capture<'_>, PcapError> {
    if bytes.len() < 24 {
        return Err(PcapError::Short);
    }
    let magic = u32::from_le_bytes(bytes[..4].try_into().expect("4 bytes"));
    let (le, nanos) = match magic {
        0xa1b2_c3d4 => (true, false),
        0xa1b2_3c4d => (true, true),
        0xd4c3_b2a1 => (false, false),
        0x4d3c_b2a1 => (false, true),
        other => return Err(PcapError::Magic(other)),
    };
    let u32_at = |b: &[u8], at: usize| {
        let raw: [u8; 4] = b[at..at + 4].try_into().expect("4 bytes");
        if le {
            u32::from_le_bytes(raw)
        } else {
            u32::from_be_bytes(raw)
        }
    };
    let link = u32_at(bytes, 20);
    if ![1, 101, 228, 229].contains(&link) {
        return Err(PcapError::LinkType(link));
    }
    let mut capture = Capture::default();
    let mut at = 24;
    while at < bytes.len() {
        if bytes.len() - at < 16 {
            capture.dropped += 1;
            break;
        }
        let (secs, frac, caplen) = (u32_at(bytes, at), u32_at(bytes, at + 4), u32_at(bytes, at + 8) as usize);
        let body = at + 16;
        if bytes.len() - body < caplen {
            capture.dropped += 1;
            break;
        }
        let data = &bytes[body..body + caplen];
        at = body + caplen;
        let ms = u64::from(secs) * 1000 + if nanos { u64::from(frac) / 1_000_000 } else { u64::from(frac) / 1000 };
        let ip = if link == 1 {
            // Ethernet, with up to two VLAN tags.
            let mut off = 12;
            let mut ethertype = data.get(off..off + 2).map(|t| u16::from_be_bytes([t[0], t[1]]));
            while matches!(ethertype, Some(0x8100 | 0x88a8)) {
                off += 4;
                ethertype = data.get(off..off + 2).map(|t| u16::from_be_bytes([t[0], t[1]]));
            }
            match ethertype {
                Some(0x0800 | 0x86dd) => &data[off + 2..],
                _ => {
                    capture.dropped += 1;
                    continue;
                }
            }
        } else {
            data
        };
        capture.packets.push(Packet { at: ms, ip });
    }
    Ok(capture)
}

/// The parts of an IP packet the flow table needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpSummary<'a> {
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// IP protocol.
    pub proto: u8,
    /// Source port (0 without ports).
    pub sport: u16,
    /// Destination port.
    pub dport: u16,
    /// Length of the packet on the wire, from the IP header (captures may be cut short).
    pub wire_len: u32,
    /// The captured transport payload (UDP/TCP data).
    pub payload: &'a [u8],
}

/// Parses an IPv4 or IPv6 header and a TCP/UDP header; `None` for anything malformed or truncated.
pub fn parse_ip(ip: &[u8]) -> Option<IpSummary<'_>> {
    let version = ip.first()? >> 4;
    let (src, dst, proto, wire_len, rest) = match version {
        4 => {
            let ihl = usize::from(ip[0] & 0x0f) * 4;
            if ihl < 20 || ip.len() < ihl {
                return None;
            }
            let src = Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15]);
            let dst = Ipv4Addr::new(ip[16], ip[17], ip[18], ip[19]);
            let total = u32::from(u16::from_be_bytes([ip[2], ip[3]]));
            (IpAddr::V4(src), IpAddr::V4(dst), ip[9], total, &ip[ihl..])
        }
        6 => {
            if ip.len() < 40 {
                return None;
            }
            let src: [u8; 16] = ip[8..24].try_into().ok()?;
            let dst: [u8; 16] = ip[24..40].try_into().ok()?;
            let total = 40 + u32::from(u16::from_be_bytes([ip[4], ip[5]]));
            (IpAddr::V6(Ipv6Addr::from(src)), IpAddr::V6(Ipv6Addr::from(dst)), ip[6], total, &ip[40..])
        }
        _ => return None,
    };
    let (sport, dport, payload) = match proto {
        6 if rest.len() >= 20 => {
            let off = usize::from(rest[12] >> 4) * 4;
            (
                u16::from_be_bytes([rest[0], rest[1]]),
                u16::from_be_bytes([rest[2], rest[3]]),
                rest.get(off..).unwrap_or(&[]),
            )
        }
        17 if rest.len() >= 8 => {
            (u16::from_be_bytes([rest[0], rest[1]]), u16::from_be_bytes([rest[2], rest[3]]), &rest[8..])
        }
        6 | 17 => return None,
        _ => (0, 0, &[][..]),
    };
    Some(IpSummary { src, dst, proto, sport, dport, wire_len, payload })
}

/// One aggregated flow between a device address and a remote host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawFlow {
    /// First packet, unix ms.
    pub start: UnixMs,
    /// The device's address.
    pub device: IpAddr,
    /// The remote address.
    pub remote: IpAddr,
    /// The remote port.
    pub remote_port: u16,
    /// The IP protocol.
    pub proto: u8,
    /// Bytes from the device.
    pub up: u64,
    /// Bytes to the device.
    pub down: u64,
    /// Packets both ways.
    pub packets: u64,
}

type FlowKey = (IpAddr, u16, IpAddr, u16, u8);

/// A flow table with idle and active timeouts, as a flow exporter keeps one.
#[derive(Debug)]
pub struct FlowTable {
    idle_ms: u64,
    active_ms: u64,
    open: HashMap<FlowKey, (RawFlow, UnixMs)>,
    done: Vec<RawFlow>,
}

impl FlowTable {
    /// A table expiring flows idle for `idle_ms` or open for `active_ms`.
    pub fn new(idle_ms: u64, active_ms: u64) -> Self {
        Self { idle_ms, active_ms, open: HashMap::new(), done: Vec::new() }
    }

    /// Adds a packet; `is_device` tells which side is the device. Packets between two non-devices are
    /// ignored.
    pub fn add(&mut self, at: UnixMs, p: &IpSummary<'_>, is_device: impl Fn(IpAddr) -> bool) {
        let (up, device, dport, remote, rport) = if is_device(p.src) {
            (true, p.src, p.sport, p.dst, p.dport)
        } else if is_device(p.dst) {
            (false, p.dst, p.dport, p.src, p.sport)
        } else {
            return;
        };
        let key = (device, dport, remote, rport, p.proto);
        if let Some((flow, last)) = self.open.get(&key) {
            if at.saturating_sub(*last) > self.idle_ms || at.saturating_sub(flow.start) > self.active_ms {
                let (flow, _) = self.open.remove(&key).expect("present");
                self.done.push(flow);
            }
        }
        let (flow, last) = self.open.entry(key).or_insert_with(|| {
            (RawFlow { start: at, device, remote, remote_port: rport, proto: p.proto, up: 0, down: 0, packets: 0 }, at)
        });
        *last = at;
        flow.packets += 1;
        if up {
            flow.up += u64::from(p.wire_len);
        } else {
            flow.down += u64::from(p.wire_len);
        }
    }

    /// Every flow, ended or not, ordered by start time.
    pub fn finish(mut self) -> Vec<RawFlow> {
        self.done.extend(self.open.into_values().map(|(f, _)| f));
        self.done.sort_by(|a, b| a.start.cmp(&b.start).then_with(|| format!("{a:?}").cmp(&format!("{b:?}"))));
        self.done
    }
}

/// The question and response code of a DNS message: `(name, qtype, rcode, is_response)`.
pub fn parse_dns(msg: &[u8]) -> Option<(String, u16, u8, bool)> {
    if msg.len() < 12 || u16::from_be_bytes([msg[4], msg[5]]) == 0 {
        return None;
    }
    let response = msg[2] & 0x80 != 0;
    let rcode = msg[3] & 0x0f;
    let mut at = 12;
    let mut name = String::new();
    loop {
        let len = usize::from(*msg.get(at)?);
        if len == 0 {
            at += 1;
            break;
        }
        if len > 63 {
            return None; // no compression in a question
        }
        let label = msg.get(at + 1..at + 1 + len)?;
        if !name.is_empty() {
            name.push('.');
        }
        name.push_str(std::str::from_utf8(label).ok()?);
        at += 1 + len;
    }
    let qtype = u16::from_be_bytes([*msg.get(at)?, *msg.get(at + 1)?]);
    Some((name, qtype, rcode, response))
}

/// The attacks of the evaluation set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttackKind {
    /// Mirai-style telnet scanning.
    TelnetScan,
    /// Bulk upload to a host the device never used.
    Exfiltration,
    /// Data carried in DNS query names.
    DnsTunnel,
    /// Periodic small connections to a command-and-control host on the threat list.
    C2Beacon,
    /// The SIM moved into a phone: another IMEI, phone-like traffic.
    SimSwap,
    /// A signalling storm from one device.
    SignallingStorm,
}

impl AttackKind {
    /// The detection kinds that count as finding this attack.
    pub fn expected(self) -> &'static [DetectionKind] {
        match self {
            AttackKind::TelnetScan => &[DetectionKind::Scanning],
            AttackKind::Exfiltration => &[DetectionKind::NewDestination, DetectionKind::VolumeSpike],
            AttackKind::DnsTunnel => &[DetectionKind::DnsTunnelling],
            AttackKind::C2Beacon => &[DetectionKind::ThreatIntel],
            AttackKind::SimSwap => &[DetectionKind::ImeiChange],
            AttackKind::SignallingStorm => &[DetectionKind::ExcessiveSignalling],
        }
    }
}

/// One labelled attack.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Label {
    /// The device's IMSI.
    pub imsi: String,
    /// The attack.
    pub attack: AttackKind,
    /// Start, unix ms.
    pub start_ms: UnixMs,
    /// End, unix ms.
    pub end_ms: UnixMs,
}

/// Precision and recall of one detection kind.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct KindScore {
    /// Detections of this kind inside an attack interval.
    pub true_positives: usize,
    /// Detections of this kind outside every attack interval.
    pub false_positives: usize,
    /// Attacks that expect this kind.
    pub attacks: usize,
    /// Of which this kind found.
    pub found: usize,
}

impl KindScore {
    /// TP / (TP + FP), or `None` without detections.
    pub fn precision(&self) -> Option<f64> {
        let n = self.true_positives + self.false_positives;
        (n > 0).then(|| self.true_positives as f64 / n as f64)
    }

    /// found / attacks, or `None` when no attack expects the kind.
    pub fn recall(&self) -> Option<f64> {
        (self.attacks > 0).then(|| self.found as f64 / self.attacks as f64)
    }
}

/// The evaluation's result.
#[derive(Debug, Clone, Default, Serialize)]
pub struct EvalReport {
    /// Per detection kind.
    pub kinds: BTreeMap<DetectionKind, KindScore>,
    /// Per attack kind: (attacks, found by an expected kind).
    pub attacks: BTreeMap<AttackKind, (usize, usize)>,
    /// Device-days evaluated.
    pub device_days: f64,
    /// Detections outside every attack interval.
    pub false_alarms: usize,
}

impl EvalReport {
    /// Found attacks / all attacks.
    pub fn attack_recall(&self) -> f64 {
        let (n, found) = self.attacks.values().fold((0, 0), |(n, f), (a, b)| (n + a, f + b));
        if n == 0 {
            1.0
        } else {
            found as f64 / n as f64
        }
    }

    /// False alarms per device-day.
    pub fn false_alarms_per_device_day(&self) -> f64 {
        if self.device_days <= 0.0 {
            0.0
        } else {
            self.false_alarms as f64 / self.device_days
        }
    }
}

fn pct(v: Option<f64>) -> String {
    v.map(|v| format!("{:.3}", v)).unwrap_or_else(|| "—".into())
}

impl fmt::Display for EvalReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "| detection kind | detections | true | false | precision | attacks expecting it | found | recall |"
        )?;
        writeln!(f, "|---|---|---|---|---|---|---|---|")?;
        for (kind, s) in &self.kinds {
            writeln!(
                f,
                "| {} | {} | {} | {} | {} | {} | {} | {} |",
                kind.as_str(),
                s.true_positives + s.false_positives,
                s.true_positives,
                s.false_positives,
                pct(s.precision()),
                s.attacks,
                s.found,
                pct(s.recall())
            )?;
        }
        writeln!(f)?;
        writeln!(f, "| attack | injected | found | recall |")?;
        writeln!(f, "|---|---|---|---|")?;
        for (attack, (n, found)) in &self.attacks {
            let name =
                serde_json::to_value(attack).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
            writeln!(f, "| {name} | {n} | {found} | {:.3} |", *found as f64 / (*n).max(1) as f64)?;
        }
        writeln!(
            f,
            "\nattacks found: {:.3}; false alarms: {} over {:.0} device-days = {:.4} per device-day",
            self.attack_recall(),
            self.false_alarms,
            self.device_days,
            self.false_alarms_per_device_day()
        )
    }
}

/// Scores `detections` against `labels` (see the module documentation).
pub fn evaluate(detections: &[Detection], labels: &[Label], device_days: f64, grace_ms: u64) -> EvalReport {
    let mut report = EvalReport { device_days, ..Default::default() };
    for kind in DetectionKind::ALL {
        report.kinds.insert(kind, KindScore::default());
    }
    let inside = |d: &Detection, l: &Label| {
        *d.device.imsi == *l.imsi && d.at >= l.start_ms && d.at <= l.end_ms.saturating_add(grace_ms)
    };
    for d in detections {
        let s = report.kinds.get_mut(&d.kind).expect("every kind");
        if labels.iter().any(|l| inside(d, l)) {
            s.true_positives += 1;
        } else {
            s.false_positives += 1;
            report.false_alarms += 1;
        }
    }
    for l in labels {
        let expected = l.attack.expected();
        let mut any = false;
        for kind in expected {
            let found = detections.iter().any(|d| d.kind == *kind && inside(d, l));
            let s = report.kinds.get_mut(kind).expect("every kind");
            s.attacks += 1;
            s.found += usize::from(found);
            any |= found;
        }
        let e = report.attacks.entry(l.attack).or_default();
        e.0 += 1;
        e.1 += usize::from(any);
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pcap(records: &[(u32, &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
        out.extend_from_slice(&2u16.to_le_bytes());
        out.extend_from_slice(&4u16.to_le_bytes());
        out.extend_from_slice(&[0; 8]);
        out.extend_from_slice(&65535u32.to_le_bytes());
        out.extend_from_slice(&101u32.to_le_bytes());
        for (secs, data) in records {
            out.extend_from_slice(&secs.to_le_bytes());
            out.extend_from_slice(&500_000u32.to_le_bytes());
            out.extend_from_slice(&(data.len() as u32).to_le_bytes());
            out.extend_from_slice(&(data.len() as u32).to_le_bytes());
            out.extend_from_slice(data);
        }
        out
    }

    fn udp(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16, total: u16) -> Vec<u8> {
        let mut p = vec![0x45, 0, 0, 0, 0, 0, 0, 0, 64, 17, 0, 0];
        p[2..4].copy_from_slice(&total.to_be_bytes());
        p.extend_from_slice(&src);
        p.extend_from_slice(&dst);
        p.extend_from_slice(&sport.to_be_bytes());
        p.extend_from_slice(&dport.to_be_bytes());
        p.extend_from_slice(&[0, 8, 0, 0]);
        p
    }

    #[test]
    fn pcap_packets_aggregate_into_flows_and_truncation_is_counted() {
        let up = udp([10, 0, 0, 1], [192, 0, 2, 9], 5000, 443, 300);
        let down = udp([192, 0, 2, 9], [10, 0, 0, 1], 443, 5000, 100);
        let mut bytes = pcap(&[(10, &up), (11, &down), (200, &up)]);
        let full = read_pcap(&bytes).unwrap();
        assert_eq!((full.packets.len(), full.dropped), (3, 0));
        assert_eq!(full.packets[0].at, 10_500);
        let mut table = FlowTable::new(60_000, 3_600_000);
        for p in &full.packets {
            table.add(p.at, &parse_ip(p.ip).unwrap(), |ip| ip == IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)));
        }
        let flows = table.finish();
        assert_eq!(flows.len(), 2, "{flows:?}");
        assert_eq!((flows[0].up, flows[0].down, flows[0].packets, flows[0].remote_port), (300, 100, 2, 443));
        assert_eq!(flows[1].start, 200_500);
        bytes.truncate(bytes.len() - 5);
        let cut = read_pcap(&bytes).unwrap();
        assert_eq!((cut.packets.len(), cut.dropped), (2, 1));
        assert_eq!(read_pcap(&bytes[..10]).unwrap_err(), PcapError::Short);
        assert!(matches!(read_pcap(&[0u8; 24]), Err(PcapError::Magic(0))));
        assert!(parse_ip(&up[..20]).is_none());
    }

    #[test]
    fn dns_questions_parse() {
        let mut m = vec![0x12, 0x34, 0x81, 0x83, 0, 1, 0, 0, 0, 0, 0, 0];
        for l in ["abc", "example", "com"] {
            m.push(l.len() as u8);
            m.extend_from_slice(l.as_bytes());
        }
        m.extend_from_slice(&[0, 0, 16, 0, 1]);
        assert_eq!(parse_dns(&m), Some(("abc.example.com".into(), 16, 3, true)));
        assert_eq!(parse_dns(&m[..15]), None);
    }
}
