//! Interoperability with two independent Diameter implementations, over loopback only.
//!
//! - **Wireshark reads what Warden writes** ([`tshark_dissects_what_warden_writes`]): two Warden peers
//!   (the sans-IO state machine, an MME side and an HSS side) hold a whole S6a/S13 conversation —
//!   CER/CEA, ULR/ULA with Subscription-Data, AIR/AIA with E-UTRAN vectors, ECR/ECA, an
//!   Experimental-Result, 5005 answers with Failed-AVP (a missing UTF8String, and a missing Unsigned32
//!   whose example RFC 6733 §7.5 wants zero-filled to 4 bytes), a 3008 protocol error with the E bit,
//!   DWR/DWA and DPR/DPA. The exact bytes Warden transmitted are written as Ethernet/IPv4/TCP frames
//!   (port 3868, correct checksums) into a pcap file, and `tshark` dissects it. Every frame must be
//!   Diameter with the command code, flags, application and identifiers we sent, answers must be
//!   paired with their requests, no frame may carry a malformed or error-severity expert marker,
//!   tshark's AVP tree (code, flags, length, vendor of every AVP at every depth) must equal ours, and
//!   the values of ~50 named AVPs (Session-Id, Origin-Host, User-Name, Result-Code, RAND, XRES, AUTN,
//!   KASME, …) as tshark decodes them must equal what we encoded.
//! - **freeDiameter talks to Warden** ([`freediameter_connects_to_warden`]): `freeDiameterd` connects
//!   to a Warden server over TCP. The CER/CEA exchange succeeds, freeDiameter's DWRs are answered and
//!   the connection survives longer than its Tw, and when freeDiameterd is stopped Warden receives its
//!   DPR and answers DPA. A tap between the two records every message, which Warden must decode.
//! - **Warden talks to freeDiameter** ([`warden_connects_to_freediameter`]): Warden's `connect()`
//!   opens a connection to a listening freeDiameterd, reads its CEA, reads its answer to an AIR it
//!   cannot serve, gets a DWA for its DWR, and disconnects with DPR/DPA.
//!
//! The two freeDiameter conversations are also dissected by tshark with the same checks, so Warden's
//! decoding of freeDiameter's messages is compared with Wireshark's.
//!
//! Tests that need `tshark` or `freeDiameterd` print `SKIPPED: …` when it is missing, unless `CI` is
//! set (CI installs both, see `.ci/run`), in which case they fail. Set `WARDEN_INTEROP_KEEP=1` to keep
//! the temporary directories (pcap files, freeDiameter configuration and log) for inspection.

// The tokio transport is behind the default `transport` feature.
#![cfg(feature = "transport")]

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use diameter::avp;
use diameter::dictionary::{self, app, AvpType, VENDOR_3GPP};
use diameter::header::flags;
use diameter::peer::{
    Application, Capabilities, CloseReason, Event, Peer, PeerAuthorizer, PeerConfig, PeerIdentity, PeerState,
};
use diameter::result_code as rc;
use diameter::transport::{connect, serve, ConnectionLimits, Handler, PeerHandle, ServerConfig};
use diameter::{next_frame_len, Address, Avp, Message, Value};
use testkit::sansio::poll_message;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::timeout;
use tokio_util::sync::CancellationToken;

const REALM: &str = "epc.mnc001.mcc001.3gppnetwork.org";
const MME: &str = "mme.warden.test";
const HSS: &str = "hss.warden.test";
/// freeDiameter's realm and identities (one per test, so the two daemons never mix).
const FD_REALM: &str = "interop.test";
const IMSI: &str = "001010123456789";
const UNKNOWN_IMSI: &str = "001010000000000";
/// The smallest TwTimer freeDiameter accepts.
const FD_TW: Duration = Duration::from_secs(6);

// ------------------------------------------------------------------------------------------------
// Shared helpers: tools, temporary directories, ports.
// ------------------------------------------------------------------------------------------------

fn on_path(name: &str) -> Option<PathBuf> {
    let paths = std::env::var_os("PATH")?;
    std::env::split_paths(&paths).map(|d| d.join(name)).find(|p| p.is_file())
}

/// The tool's path; `None` (and a `SKIPPED` line) when it is missing, a failure when `CI` is set.
fn require_tool(name: &str, package: &str) -> Option<PathBuf> {
    match on_path(name) {
        Some(p) => Some(p),
        None if std::env::var_os("CI").is_some() => {
            panic!("{name} is not installed but CI is set: .ci/run must install the Debian package {package}")
        }
        None => {
            println!("SKIPPED: {name} not found on PATH (Debian package {package}); interoperability not checked");
            None
        }
    }
}

/// A directory under the system temporary directory, removed on drop unless `WARDEN_INTEROP_KEEP`.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
        let p = std::env::temp_dir().join(format!("warden-interop-{tag}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&p).unwrap();
        Self(p)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::env::var_os("WARDEN_INTEROP_KEEP").is_some() {
            println!("kept {}", self.0.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// A port nobody listens on right now (bound and released; fine for loopback tests).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A one-line summary of a message for logs: `CER 257 R--- app 0 [Origin-Host=…, Result-Code=…]`.
fn summary(m: &Message) -> String {
    let h = m.header;
    let f: String = [(flags::R, 'R'), (flags::P, 'P'), (flags::E, 'E'), (flags::T, 'T')]
        .iter()
        .map(|&(bit, c)| if h.flags & bit != 0 { c } else { '-' })
        .collect();
    let mut s = format!("{} {} {f} app {}", m.abbrev().unwrap_or("?"), h.code, h.app_id);
    for def in [avp::ORIGIN_HOST.def(), avp::PRODUCT_NAME.def(), avp::DISCONNECT_CAUSE.def()] {
        if let Some(a) = m.avps.iter().find(|a| a.code == def.code && a.vendor() == def.vendor) {
            s += &format!(" {}={}", def.name, render(a));
        }
    }
    if let Some(code) = m.result_code() {
        s += &format!(" result={code}");
    }
    s
}

// ------------------------------------------------------------------------------------------------
// pcap writing: Ethernet / IPv4 / TCP around the Diameter bytes.
// ------------------------------------------------------------------------------------------------

const CLIENT: ([u8; 4], u16) = ([127, 0, 0, 1], 49_152);
const SERVER: ([u8; 4], u16) = ([127, 0, 0, 1], 3868);
const TCP_FIN: u8 = 0x01;
const TCP_SYN: u8 = 0x02;
const TCP_PSH: u8 = 0x08;
const TCP_ACK: u8 = 0x10;

/// The Internet checksum (RFC 1071) of the concatenated parts.
fn internet_checksum(parts: &[&[u8]]) -> u16 {
    let bytes: Vec<u8> = parts.concat();
    let mut sum: u32 = bytes.chunks(2).map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]))).sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// A classic pcap file (microsecond timestamps, LINKTYPE_ETHERNET) of one TCP connection between
/// [`CLIENT`] and [`SERVER`], with sequence and acknowledgement numbers kept consistent.
struct Pcap {
    out: Vec<u8>,
    /// Next sequence number of the client (0) and the server (1).
    next_seq: [u32; 2],
    ip_id: u16,
    frames: u32,
}

impl Pcap {
    fn new() -> Self {
        let mut out = Vec::new();
        out.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes()); // magic, microseconds
        out.extend_from_slice(&2u16.to_le_bytes());
        out.extend_from_slice(&4u16.to_le_bytes());
        out.extend_from_slice(&0i32.to_le_bytes()); // GMT offset
        out.extend_from_slice(&0u32.to_le_bytes()); // timestamp accuracy
        out.extend_from_slice(&65_535u32.to_le_bytes()); // snap length
        out.extend_from_slice(&1u32.to_le_bytes()); // LINKTYPE_ETHERNET
        Self { out, next_seq: [1_000_000, 5_000_000], ip_id: 1, frames: 0 }
    }

    /// Appends one segment and returns its frame number (1-based, as tshark counts).
    fn segment(&mut self, from_client: bool, tcp_flags: u8, payload: &[u8], micros: u64) -> u32 {
        let (src, dst) = if from_client { (CLIENT, SERVER) } else { (SERVER, CLIENT) };
        let (me, peer) = if from_client { (0, 1) } else { (1, 0) };
        let seq = self.next_seq[me];
        let ack = if tcp_flags & TCP_ACK != 0 { self.next_seq[peer] } else { 0 };
        self.next_seq[me] = seq.wrapping_add(payload.len() as u32 + u32::from(tcp_flags & (TCP_SYN | TCP_FIN) != 0));

        let mut tcp = Vec::with_capacity(20 + payload.len());
        tcp.extend_from_slice(&src.1.to_be_bytes());
        tcp.extend_from_slice(&dst.1.to_be_bytes());
        tcp.extend_from_slice(&seq.to_be_bytes());
        tcp.extend_from_slice(&ack.to_be_bytes());
        tcp.push(5 << 4); // data offset: 20 bytes, no options
        tcp.push(tcp_flags);
        tcp.extend_from_slice(&65_535u16.to_be_bytes()); // window
        tcp.extend_from_slice(&[0, 0, 0, 0]); // checksum (below), urgent pointer
        tcp.extend_from_slice(payload);
        let tcp_len = (tcp.len() as u16).to_be_bytes();
        let pseudo = [&src.0[..], &dst.0[..], &[0, 6], &tcp_len[..]].concat();
        let sum = internet_checksum(&[&pseudo, &tcp]);
        tcp[16..18].copy_from_slice(&sum.to_be_bytes());

        let mut ip = Vec::with_capacity(20);
        ip.extend_from_slice(&[0x45, 0]);
        ip.extend_from_slice(&((20 + tcp.len()) as u16).to_be_bytes());
        ip.extend_from_slice(&self.ip_id.to_be_bytes());
        ip.extend_from_slice(&[0x40, 0, 64, 6, 0, 0]); // DF, TTL 64, TCP, checksum (below)
        ip.extend_from_slice(&src.0);
        ip.extend_from_slice(&dst.0);
        let sum = internet_checksum(&[&ip]);
        ip[10..12].copy_from_slice(&sum.to_be_bytes());
        self.ip_id = self.ip_id.wrapping_add(1);

        let mut frame = Vec::with_capacity(14 + ip.len() + tcp.len());
        let (smac, dmac) = if from_client {
            ([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
        } else {
            ([2, 0, 0, 0, 0, 2], [2, 0, 0, 0, 0, 1])
        };
        frame.extend_from_slice(&dmac);
        frame.extend_from_slice(&smac);
        frame.extend_from_slice(&0x0800u16.to_be_bytes());
        frame.extend_from_slice(&ip);
        frame.extend_from_slice(&tcp);

        self.out.extend_from_slice(&((micros / 1_000_000) as u32).to_le_bytes());
        self.out.extend_from_slice(&((micros % 1_000_000) as u32).to_le_bytes());
        self.out.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        self.out.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        self.out.extend_from_slice(&frame);
        self.frames += 1;
        self.frames
    }
}

/// One Diameter message as it crossed the wire.
#[derive(Debug, Clone)]
struct WireMessage {
    /// Sent by the TCP client (the side that opened the connection).
    from_client: bool,
    /// Microseconds since the start of the capture.
    micros: u64,
    bytes: Vec<u8>,
}

/// Writes a capture of the conversation: handshake, one PSH segment per message, FIN exchange.
/// Returns the frame number of each message.
fn write_pcap(path: &Path, messages: &[WireMessage]) -> Vec<u32> {
    let mut p = Pcap::new();
    p.segment(true, TCP_SYN, &[], 0);
    p.segment(false, TCP_SYN | TCP_ACK, &[], 10);
    p.segment(true, TCP_ACK, &[], 20);
    let mut last = 20;
    let frames = messages
        .iter()
        .map(|m| {
            last = m.micros.max(last + 1);
            p.segment(m.from_client, TCP_PSH | TCP_ACK, &m.bytes, last)
        })
        .collect();
    p.segment(true, TCP_FIN | TCP_ACK, &[], last + 100);
    p.segment(false, TCP_FIN | TCP_ACK, &[], last + 110);
    p.segment(true, TCP_ACK, &[], last + 120);
    std::fs::write(path, &p.out).unwrap();
    frames
}

// ------------------------------------------------------------------------------------------------
// tshark: run it and compare its dissection with Warden's own decoding.
// ------------------------------------------------------------------------------------------------

/// AVPs whose values are compared one by one (every occurrence, at every depth, in tree order).
/// The names are the dictionary's, which are also Wireshark's field names (`diameter.<name>`).
const NAMED: &[&str] = &[
    "Session-Id",
    "Origin-Host",
    "Origin-Realm",
    "Destination-Host",
    "Destination-Realm",
    "User-Name",
    "Result-Code",
    "Experimental-Result-Code",
    "Product-Name",
    "Vendor-Id",
    "Auth-Application-Id",
    "Acct-Application-Id",
    "Origin-State-Id",
    "Firmware-Revision",
    "Supported-Vendor-Id",
    "Inband-Security-Id",
    "Disconnect-Cause",
    "Error-Message",
    "Error-Reporting-Host",
    "Auth-Session-State",
    "Visited-PLMN-Id",
    "Number-Of-Requested-Vectors",
    "Immediate-Response-Preferred",
    "Item-Number",
    "RAND",
    "XRES",
    "AUTN",
    "KASME",
    "ULR-Flags",
    "ULA-Flags",
    "RAT-Type",
    "IMEI",
    "Software-Version",
    "Equipment-Status",
    "Feature-List-ID",
    "Feature-List",
    "MSISDN",
    "Subscriber-Status",
    "Network-Access-Mode",
    "Access-Restriction-Data",
    "Max-Requested-Bandwidth-UL",
    "Max-Requested-Bandwidth-DL",
    "Context-Identifier",
    "All-APN-Configurations-Included-Indicator",
    "PDN-Type",
    "Service-Selection",
    "QoS-Class-Identifier",
    "Priority-Level",
    "Pre-emption-Capability",
    "Pre-emption-Vulnerability",
];

const FIXED_FIELDS: &[&str] = &[
    "frame.number",
    "diameter.cmd.code",
    "diameter.flags",
    "diameter.applicationId",
    "diameter.hopbyhopid",
    "diameter.endtoendid",
    "diameter.length",
    "diameter.answer_to",
    "diameter.avp.code",
    "diameter.avp.flags",
    "diameter.avp.len",
    "diameter.avp.vendorId",
    "diameter.Host-IP-Address.IPv4",
    "_ws.malformed",
    "_ws.expert.severity",
    "_ws.expert.message",
    "ip.checksum.status",
    "tcp.checksum.status",
];

/// Expert severities (epan/proto.h).
const PI_WARN: u32 = 0x0060_0000;
const PI_ERROR: u32 = 0x0080_0000;

/// How long one tshark run may take (it takes well under a second here).
const TSHARK_LIMIT: Duration = Duration::from_secs(30);

/// Runs a command to completion and collects its output, killing it after `limit`.
fn output_within(mut cmd: Command, limit: Duration) -> std::process::Output {
    let mut child = cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn");
    // Drain both pipes on threads so that a chatty child never blocks on a full pipe.
    let drain = |mut r: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = r.read_to_end(&mut buf);
            buf
        })
    };
    let stdout = drain(Box::new(child.stdout.take().unwrap()));
    let stderr = drain(Box::new(child.stderr.take().unwrap()));
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{cmd:?} did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    std::process::Output { status, stdout: stdout.join().unwrap(), stderr: stderr.join().unwrap() }
}

fn tshark_command(tshark: &Path, pcap: &Path) -> Command {
    let mut c = Command::new(tshark);
    c.arg("-r").arg(pcap).args(["-n", "-d", "tcp.port==3868,diameter"]).args([
        "-o",
        "tcp.check_checksum:TRUE",
        "-o",
        "ip.check_checksum:TRUE",
    ]);
    c
}

/// Runs tshark with `-T fields`; one map per frame, multiple occurrences joined by commas.
fn tshark_fields(tshark: &Path, pcap: &Path, fields: &[String]) -> Vec<HashMap<String, String>> {
    let mut c = tshark_command(tshark, pcap);
    c.args(["-T", "fields", "-E", "separator=/t", "-E", "occurrence=a", "-E", "aggregator=,"]);
    for f in fields {
        c.args(["-e", f]);
    }
    let out = output_within(c, TSHARK_LIMIT);
    assert!(out.status.success(), "tshark failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout)
        .expect("tshark prints UTF-8")
        .lines()
        .map(|line| {
            let mut cols = line.split('\t');
            fields.iter().map(|f| (f.clone(), cols.next().unwrap_or("").to_string())).collect()
        })
        .collect()
}

/// tshark's verbose dissection of some frames, for failure messages.
fn tshark_verbose(tshark: &Path, pcap: &Path, frames: &[u32]) -> String {
    let filter = frames.iter().map(|f| format!("frame.number=={f}")).collect::<Vec<_>>().join(" || ");
    let mut c = tshark_command(tshark, pcap);
    c.args(["-V", "-O", "diameter", "-Y", &filter]);
    let out = output_within(c, TSHARK_LIMIT);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// An AVP's value as tshark prints it in `-T fields`: text, decimal numbers, lowercase hex bytes.
fn render(a: &Avp) -> String {
    let ty = dictionary::avp_by_code(a.code, a.vendor()).map(|d| d.ty);
    match (&a.value, ty) {
        // Failed-AVP contents stay raw bytes in Warden; show them as their type would be.
        (Value::OctetString(b), Some(AvpType::Utf8String | AvpType::DiameterIdentity | AvpType::DiameterUri)) => {
            String::from_utf8_lossy(b).into_owned()
        }
        (Value::OctetString(b), Some(AvpType::Unsigned32)) if b.len() == 4 => {
            u32::from_be_bytes([b[0], b[1], b[2], b[3]]).to_string()
        }
        (Value::OctetString(b), Some(AvpType::Enumerated | AvpType::Integer32)) if b.len() == 4 => {
            i32::from_be_bytes([b[0], b[1], b[2], b[3]]).to_string()
        }
        (Value::OctetString(b), _) => hex(b),
        (Value::Integer32(n) | Value::Enumerated(n), _) => n.to_string(),
        (Value::Unsigned32(n) | Value::Time(n), _) => n.to_string(),
        (Value::Integer64(n), _) => n.to_string(),
        (Value::Unsigned64(n), _) => n.to_string(),
        (Value::Utf8String(s) | Value::DiameterIdentity(s) | Value::DiameterUri(s) | Value::IpFilterRule(s), _) => {
            s.clone()
        }
        (Value::Address(Address::Ip(ip)), _) => ip.to_string(),
        (v, _) => format!("{v:?}"),
    }
}

/// Every AVP in tree (pre-)order: the AVP, then its children.
fn preorder<'a>(avps: &'a [Avp], out: &mut Vec<&'a Avp>) {
    for a in avps {
        out.push(a);
        if let Value::Grouped(inner) = &a.value {
            preorder(inner, out);
        }
    }
}

fn parse_num(s: &str) -> u64 {
    match s.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16),
        None => s.parse(),
    }
    .unwrap_or_else(|_| panic!("tshark printed {s:?} where a number was expected"))
}

fn nums(s: &str) -> Vec<u64> {
    s.split(',').filter(|x| !x.is_empty()).map(parse_num).collect()
}

/// What tshark said about a capture beyond the comparison: expert warnings (not failures).
#[derive(Debug, Default)]
struct TsharkReport {
    frames: usize,
    warnings: Vec<String>,
}

/// Dissects `messages` with tshark and asserts it sees exactly what Warden sees. Panics with the
/// verbose dissection of the offending frames when it does not.
fn assert_tshark_agrees(tshark: &Path, dir: &TempDir, name: &str, messages: &[WireMessage]) -> TsharkReport {
    let pcap = dir.path(&format!("{name}.pcap"));
    let frame_of = write_pcap(&pcap, messages);
    let mut fields: Vec<String> = FIXED_FIELDS.iter().map(|s| s.to_string()).collect();
    fields.extend(NAMED.iter().map(|n| format!("diameter.{n}")));
    let rows = tshark_fields(tshark, &pcap, &fields);
    let by_frame: HashMap<u32, &HashMap<String, String>> =
        rows.iter().map(|r| (parse_num(&r["frame.number"]) as u32, r)).collect();

    let mut problems: Vec<(u32, String)> = Vec::new();
    let mut report = TsharkReport::default();
    for row in &rows {
        let frame = parse_num(&row["frame.number"]) as u32;
        for (field, good) in [("ip.checksum.status", "1"), ("tcp.checksum.status", "1")] {
            if row[field] != good {
                problems.push((frame, format!("{field} = {:?} (our pcap writer is wrong)", row[field])));
            }
        }
        if !row["_ws.malformed"].is_empty() {
            problems.push((frame, format!("malformed: {}", row["_ws.expert.message"])));
        }
        let severities = nums(&row["_ws.expert.severity"]);
        let messages: Vec<&str> = row["_ws.expert.message"].split(',').collect();
        for (i, sev) in severities.iter().enumerate() {
            let text = messages.get(i).copied().unwrap_or("?");
            if *sev as u32 >= PI_ERROR {
                problems.push((frame, format!("expert error: {text}")));
            } else if *sev as u32 >= PI_WARN {
                report.warnings.push(format!("{name} frame {frame}: {text}"));
            }
        }
    }

    for (i, (wire, &frame)) in messages.iter().zip(&frame_of).enumerate() {
        let mut bad = |what: String| problems.push((frame, what));
        let Some(row) = by_frame.get(&frame) else {
            bad("frame missing from tshark's output".into());
            continue;
        };
        let msg = Message::decode(&wire.bytes).expect("captured messages decode");
        let h = msg.header;
        let got = |f: &str| row[f].as_str();
        if got("diameter.cmd.code").is_empty() {
            bad("not dissected as Diameter".into());
            continue;
        }
        let header_checks = [
            ("diameter.cmd.code", u64::from(h.code)),
            ("diameter.flags", u64::from(h.flags)),
            ("diameter.applicationId", u64::from(h.app_id)),
            ("diameter.hopbyhopid", u64::from(h.hop_by_hop)),
            ("diameter.endtoendid", u64::from(h.end_to_end)),
            ("diameter.length", wire.bytes.len() as u64),
        ];
        for (field, want) in header_checks {
            if nums(got(field)) != [want] {
                bad(format!("{field}: tshark {:?}, Warden {want:#x}", got(field)));
            }
        }
        // Answers must be paired with the request carrying the same identifiers.
        if !h.is_request() {
            let request = messages[..i].iter().zip(&frame_of).rev().find(|(m, _)| {
                m.from_client != wire.from_client
                    && Message::decode(&m.bytes).is_ok_and(|r| {
                        r.is_request()
                            && r.header.code == h.code
                            && r.header.hop_by_hop == h.hop_by_hop
                            && r.header.end_to_end == h.end_to_end
                    })
            });
            let want: Vec<u64> = request.map(|(_, f)| u64::from(*f)).into_iter().collect();
            if nums(got("diameter.answer_to")) != want {
                bad(format!("answer_to: tshark {:?}, expected frame {want:?}", got("diameter.answer_to")));
            }
        }
        // The whole AVP tree: code, flags, length and vendor of every AVP at every depth.
        let mut all = Vec::new();
        preorder(&msg.avps, &mut all);
        let codes: Vec<u64> = all.iter().map(|a| u64::from(a.code)).collect();
        let avp_flags: Vec<u64> = all.iter().map(|a| u64::from(a.flags)).collect();
        let lens: Vec<u64> = all.iter().map(|a| a.len() as u64).collect();
        let vendors: Vec<u64> = all.iter().filter_map(|a| a.vendor_id.map(u64::from)).collect();
        for (field, want) in [
            ("diameter.avp.code", codes),
            ("diameter.avp.flags", avp_flags),
            ("diameter.avp.len", lens),
            ("diameter.avp.vendorId", vendors),
        ] {
            if nums(got(field)) != want {
                bad(format!("{field}: tshark {:?}, Warden {want:?}", got(field)));
            }
        }
        // Values of the named AVPs, every occurrence in tree order.
        for name in NAMED {
            let def = dictionary::avp_by_name(name).unwrap_or_else(|| panic!("{name} is in the dictionary"));
            let want: Vec<String> =
                all.iter().filter(|a| a.code == def.code && a.vendor() == def.vendor).map(|a| render(a)).collect();
            let field = format!("diameter.{name}");
            if got(&field) != want.join(",") {
                bad(format!("{field}: tshark {:?}, Warden {:?}", got(&field), want.join(",")));
            }
        }
        let ips: Vec<String> = all
            .iter()
            .filter(|a| avp::HOST_IP_ADDRESS.matches(a.code, a.vendor_id))
            .filter_map(|a| match a.as_address() {
                Some(Address::Ip(IpAddr::V4(v4))) => Some(v4.to_string()),
                _ => None,
            })
            .collect();
        if got("diameter.Host-IP-Address.IPv4") != ips.join(",") {
            bad(format!("Host-IP-Address: tshark {:?}, Warden {ips:?}", got("diameter.Host-IP-Address.IPv4")));
        }
        report.frames += 1;
    }

    if !problems.is_empty() {
        let mut frames: Vec<u32> = problems.iter().map(|(f, _)| *f).collect();
        frames.sort_unstable();
        frames.dedup();
        let list: Vec<String> = problems.iter().map(|(f, p)| format!("frame {f}: {p}")).collect();
        panic!(
            "tshark disagrees with Warden on {} (WARDEN_INTEROP_KEEP=1 keeps it):\n{}\n\n{}",
            pcap.display(),
            list.join("\n"),
            tshark_verbose(tshark, &pcap, &frames)
        );
    }
    assert_eq!(report.frames, messages.len());
    report
}

// ------------------------------------------------------------------------------------------------
// 1. tshark reads what Warden writes.
// ------------------------------------------------------------------------------------------------

// Test vector material (any 16/8/16/32 bytes do; these are recognisable in a hex dump).
const RAND: [u8; 16] = *b"\x23\x55\x3c\xbe\x96\x37\xa8\x9d\x21\x8a\xe6\x4d\xae\x47\xbf\x35";
const XRES: [u8; 8] = *b"\xa5\x42\x11\xd5\xe3\xba\x50\xbf";
const AUTN: [u8; 16] = *b"\x55\xf3\x28\xb4\x35\x77\xb9\x33\xab\x6b\x5d\x7a\x1f\x0b\x8e\x47";
const PLMN: [u8; 3] = [0x00, 0xf1, 0x10];

fn kasme(i: u8) -> Vec<u8> {
    (0..32u8).map(|b| b.wrapping_mul(7) ^ i).collect()
}

fn vsai(app_id: u32) -> Avp {
    Avp::new(
        avp::VENDOR_SPECIFIC_APPLICATION_ID,
        vec![Avp::new(avp::VENDOR_ID, VENDOR_3GPP), Avp::new(avp::AUTH_APPLICATION_ID, app_id)],
    )
}

fn supported_features() -> Avp {
    Avp::new(
        avp::SUPPORTED_FEATURES,
        vec![
            Avp::new(avp::VENDOR_ID, VENDOR_3GPP),
            Avp::new(avp::FEATURE_LIST_ID, 1u32),
            Avp::new(avp::FEATURE_LIST, 0x0000_000bu32),
        ],
    )
}

fn terminal() -> Avp {
    Avp::new(
        avp::TERMINAL_INFORMATION,
        vec![Avp::new(avp::IMEI, "35209900176148"), Avp::new(avp::SOFTWARE_VERSION, "23")],
    )
}

/// An S6a/S13 request from the MME with the usual leading AVPs.
fn mme_request(command: diameter::Command, app_id: u32, n: u32) -> Message {
    let mut m = Message::request(command);
    m.push(Avp::new(avp::SESSION_ID, format!("{MME};1700000000;{n}")));
    m.push(vsai(app_id));
    m.push(Avp::new(avp::AUTH_SESSION_STATE, 1u32)); // NO_STATE_MAINTAINED
    m.push(Avp::new(avp::ORIGIN_HOST, MME));
    m.push(Avp::new(avp::ORIGIN_REALM, REALM));
    m.push(Avp::new(avp::DESTINATION_HOST, HSS));
    m.push(Avp::new(avp::DESTINATION_REALM, REALM));
    m
}

fn air(n: u32, imsi: Option<&str>) -> Message {
    let mut m = mme_request(diameter::Command::AIR, app::S6A, n);
    if let Some(imsi) = imsi {
        m.push(Avp::new(avp::USER_NAME, imsi));
    }
    m.push(supported_features());
    m.push(Avp::new(
        avp::REQUESTED_EUTRAN_AUTHENTICATION_INFO,
        vec![Avp::new(avp::NUMBER_OF_REQUESTED_VECTORS, 2u32), Avp::new(avp::IMMEDIATE_RESPONSE_PREFERRED, 0u32)],
    ));
    m.push(Avp::new(avp::VISITED_PLMN_ID, &PLMN));
    m
}

fn ulr(n: u32) -> Message {
    let mut m = mme_request(diameter::Command::ULR, app::S6A, n);
    m.push(Avp::new(avp::USER_NAME, IMSI));
    m.push(supported_features());
    m.push(terminal());
    m.push(Avp::new(avp::RAT_TYPE, 1004u32)); // EUTRAN
    m.push(Avp::new(avp::ULR_FLAGS, 0x22u32)); // S6a/S6d-Indicator, Initial-Attach-Indicator
    m.push(Avp::new(avp::VISITED_PLMN_ID, &PLMN));
    m
}

fn ecr(n: u32) -> Message {
    let mut m = mme_request(diameter::Command::ECR, app::S13, n);
    m.push(Avp::new(avp::USER_NAME, IMSI));
    m.push(terminal());
    m
}

fn ambr() -> Avp {
    Avp::new(
        avp::AMBR,
        vec![
            Avp::new(avp::MAX_REQUESTED_BANDWIDTH_UL, 50_000_000u32),
            Avp::new(avp::MAX_REQUESTED_BANDWIDTH_DL, 100_000_000u32),
        ],
    )
}

fn subscription_data() -> Avp {
    let arp = Avp::new(
        avp::ALLOCATION_RETENTION_PRIORITY,
        vec![
            Avp::new(avp::PRIORITY_LEVEL, 8u32),
            Avp::new(avp::PRE_EMPTION_CAPABILITY, 1u32),
            Avp::new(avp::PRE_EMPTION_VULNERABILITY, 0u32),
        ],
    );
    let qos = Avp::new(avp::EPS_SUBSCRIBED_QOS_PROFILE, vec![Avp::new(avp::QOS_CLASS_IDENTIFIER, 9u32), arp]);
    let apn = Avp::new(
        avp::APN_CONFIGURATION,
        vec![
            Avp::new(avp::CONTEXT_IDENTIFIER, 1u32),
            Avp::new(avp::PDN_TYPE, 0u32), // IPv4
            Avp::new(avp::SERVICE_SELECTION, "internet"),
            qos,
            ambr(),
        ],
    );
    let profile = Avp::new(
        avp::APN_CONFIGURATION_PROFILE,
        vec![
            Avp::new(avp::CONTEXT_IDENTIFIER, 1u32),
            Avp::new(avp::ALL_APN_CONFIGURATIONS_INCLUDED_INDICATOR, 0u32),
            apn,
        ],
    );
    Avp::new(
        avp::SUBSCRIPTION_DATA,
        vec![
            Avp::new(avp::MSISDN, &[0x64u8, 0x07, 0x08, 0x09, 0x10, 0xf2]),
            Avp::new(avp::SUBSCRIBER_STATUS, 0u32),   // SERVICE_GRANTED
            Avp::new(avp::NETWORK_ACCESS_MODE, 2u32), // ONLY_PACKET
            Avp::new(avp::ACCESS_RESTRICTION_DATA, 0u32),
            ambr(),
            profile,
        ],
    )
}

/// The HSS side's answers.
fn hss_answer(req: &Message) -> Message {
    let mut a = Message::answer_to(&req.header, req.session_id());
    a.push(vsai(req.header.app_id));
    let unknown = req.get_str(avp::USER_NAME) == Some(UNKNOWN_IMSI);
    if unknown {
        a.push(Avp::new(
            avp::EXPERIMENTAL_RESULT,
            vec![Avp::new(avp::VENDOR_ID, VENDOR_3GPP), Avp::new(avp::EXPERIMENTAL_RESULT_CODE, rc::EXP_USER_UNKNOWN)],
        ));
    } else {
        a.push(Avp::new(avp::RESULT_CODE, rc::SUCCESS));
    }
    a.push(Avp::new(avp::AUTH_SESSION_STATE, 1u32));
    a.push(Avp::new(avp::ORIGIN_HOST, HSS));
    a.push(Avp::new(avp::ORIGIN_REALM, REALM));
    match req.abbrev() {
        Some("AIR") if !unknown => {
            a.push(supported_features());
            let vectors = (1..=2u8)
                .map(|i| {
                    Avp::new(
                        avp::E_UTRAN_VECTOR,
                        vec![
                            Avp::new(avp::ITEM_NUMBER, u32::from(i)),
                            Avp::new(avp::RAND, &RAND),
                            Avp::new(avp::XRES, &XRES),
                            Avp::new(avp::AUTN, &AUTN),
                            Avp::new(avp::KASME, kasme(i)),
                        ],
                    )
                })
                .collect();
            a.push(Avp::new(avp::AUTHENTICATION_INFO, vectors));
        }
        Some("ULR") => {
            a.push(supported_features());
            a.push(Avp::new(avp::ULA_FLAGS, 1u32)); // Separation-Indication
            a.push(subscription_data());
        }
        Some("ECR") => {
            a.push(Avp::new(avp::EQUIPMENT_STATUS, 0u32)); // WHITELISTED
        }
        _ => {}
    }
    a
}

/// Two Warden peers wired back to back in memory, recording every byte either one transmits.
struct Conversation {
    mme: Peer,
    hss: Peer,
    start: Instant,
    now: Instant,
    wire: Vec<WireMessage>,
    mme_events: Vec<Event>,
}

impl Conversation {
    fn new() -> Self {
        let allow: Arc<dyn PeerAuthorizer> = Arc::new(|_: &PeerIdentity| true);
        let apps = vec![Application::S6A, Application::S13];
        let lo = Some(IpAddr::from([127, 0, 0, 1]));
        let start = Instant::now();
        let mut mme_cfg = PeerConfig::new(MME, REALM, apps.clone());
        mme_cfg.product_name = "Warden MME simulator".into();
        let mut hss_cfg = PeerConfig::new(HSS, REALM, apps);
        hss_cfg.origin_state_id = 1_700_000_000;
        let mut c = Self {
            mme: Peer::initiator(mme_cfg, allow.clone(), lo, start),
            hss: Peer::responder(hss_cfg, allow, lo, start),
            start,
            now: start,
            wire: Vec::new(),
            mme_events: Vec::new(),
        };
        c.pump();
        assert_eq!((c.mme.state(), c.hss.state()), (PeerState::Open, PeerState::Open), "{:?}", c.mme_events);
        c
    }

    fn record(&mut self, from_client: bool, bytes: Vec<u8>) {
        let micros = (self.now - self.start).as_micros() as u64;
        self.wire.push(WireMessage { from_client, micros, bytes });
    }

    fn pump(&mut self) {
        loop {
            let mut moved = false;
            while let Some(b) = poll_message(&mut self.mme) {
                self.hss.handle_input(&b, self.now);
                self.record(true, b);
                moved = true;
            }
            while let Some(b) = poll_message(&mut self.hss) {
                self.mme.handle_input(&b, self.now);
                self.record(false, b);
                moved = true;
            }
            while let Some(ev) = self.hss.poll_event() {
                if let Event::Request(req) = ev {
                    self.hss.send_answer(hss_answer(&req)).unwrap();
                    moved = true;
                }
            }
            self.mme_events.extend(std::iter::from_fn(|| self.mme.poll_event()));
            if !moved {
                break;
            }
        }
    }

    fn advance(&mut self, d: Duration) {
        self.now += d;
    }

    /// Sends a request from the MME side and returns the answer the HSS side gave.
    fn request(&mut self, m: Message) -> Message {
        self.advance(Duration::from_millis(20));
        let (hop_by_hop, _) = self.mme.send_request(m, self.now).unwrap();
        self.pump();
        let i = self
            .mme_events
            .iter()
            .position(|e| matches!(e, Event::Answer(a) if a.header.hop_by_hop == hop_by_hop))
            .unwrap_or_else(|| panic!("no answer; events {:?}", self.mme_events));
        match self.mme_events.remove(i) {
            Event::Answer(a) => a,
            _ => unreachable!(),
        }
    }
}

/// Builds the conversation: every message kind Warden sends on S6a/S13, as it sends it.
fn warden_conversation() -> Vec<WireMessage> {
    let mut c = Conversation::new();

    let ula = c.request(ulr(1));
    assert_eq!(ula.result_code(), Some(rc::SUCCESS));

    let aia = c.request(air(2, Some(IMSI)));
    assert_eq!(aia.result_code(), Some(rc::SUCCESS));
    let vector = aia.get(avp::AUTHENTICATION_INFO).and_then(|a| a.child(avp::E_UTRAN_VECTOR)).unwrap();
    assert_eq!(vector.child(avp::RAND).and_then(Avp::as_bytes), Some(&RAND[..]));

    let unknown = c.request(air(3, Some(UNKNOWN_IMSI)));
    assert_eq!(unknown.result_code(), Some(rc::EXP_USER_UNKNOWN));

    // A request without its User-Name: Warden's validation answers 5005 with Failed-AVP itself.
    let missing = c.request(air(4, None));
    assert_eq!(missing.result_code(), Some(rc::MISSING_AVP));
    assert!(missing.get(avp::FAILED_AVP).is_some());

    // The same for a missing Unsigned32 (ULR-Flags): Failed-AVP must carry a zero-filled payload of the
    // type's minimum length (4 bytes), not an empty one (RFC 6733 §7.5).
    let mut no_flags = ulr(7);
    no_flags.avps.retain(|a| a.name() != Some("ULR-Flags"));
    let missing = c.request(no_flags);
    assert_eq!(missing.result_code(), Some(rc::MISSING_AVP));
    let failed = missing.get(avp::FAILED_AVP).and_then(|f| f.as_grouped()).and_then(|g| g.first()).unwrap();
    assert_eq!((failed.code, failed.as_bytes()), (1405, Some(&[0u8; 4][..])));

    // A request without the P bit that AIR must carry: 3008 with the E bit, again from validation.
    let mut no_p = air(5, Some(IMSI));
    no_p.header.flags &= !flags::P;
    let e_bit = c.request(no_p);
    assert_eq!(e_bit.result_code(), Some(rc::INVALID_HDR_BITS));
    assert!(e_bit.header.is_error());

    let eca = c.request(ecr(6));
    assert_eq!(eca.get_u32(avp::EQUIPMENT_STATUS), Some(0));

    // Quiet for longer than Tw: the MME side's watchdog sends DWR, the HSS side answers.
    c.advance(Duration::from_secs(40));
    c.mme.handle_timeout(c.now);
    c.pump();

    c.advance(Duration::from_millis(500));
    c.mme.disconnect(2, c.now); // DO_NOT_WANT_TO_TALK_TO_YOU
    c.pump();
    assert_eq!(c.mme.state(), PeerState::Closed);
    assert!(c.mme_events.contains(&Event::Closed(CloseReason::LocalDisconnect)), "{:?}", c.mme_events);

    let kinds: Vec<&str> = c.wire.iter().map(|w| Message::decode(&w.bytes).unwrap().abbrev().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "CER", "CEA", "ULR", "ULA", "AIR", "AIA", "AIR", "AIA", "AIR", "AIA", "ULR", "ULA", "AIR", "AIA", "ECR",
            "ECA", "DWR", "DWA", "DPR", "DPA"
        ]
    );
    c.wire
}

#[test]
fn tshark_dissects_what_warden_writes() {
    let Some(tshark) = require_tool("tshark", "tshark") else { return };
    let started = Instant::now();
    let dir = TempDir::new("tshark");
    let conversation = warden_conversation();
    let report = assert_tshark_agrees(&tshark, &dir, "warden", &conversation);
    // One warning is expected and correct: the Failed-AVP of the 5005 answer to the AIR without
    // User-Name holds a User-Name with an empty value, which RFC 6733 §7.5 prescribes ("a zero-filled
    // payload of the minimum required length", 0 for a UTF8String); Wireshark notes "Data is empty".
    assert!(
        report.warnings.len() == 1 && report.warnings[0].ends_with("Data is empty"),
        "unexpected tshark expert warnings on Warden's messages: {:#?}",
        report.warnings
    );
    println!("tshark dissected {} Warden messages identically in {:?}", report.frames, started.elapsed());
}

// ------------------------------------------------------------------------------------------------
// 2. freeDiameter and Warden over loopback TCP.
// ------------------------------------------------------------------------------------------------

/// What the tests observe: messages through the tap, and the Warden handler's hooks.
#[derive(Debug)]
enum Seen {
    Message {
        from_warden: bool,
        at: Instant,
        msg: Box<Message>,
        raw: Vec<u8>,
    },
    /// Bytes Warden's decoder refused (a failure: every message must decode).
    Undecodable {
        from_warden: bool,
        error: String,
        raw: Vec<u8>,
    },
    /// One side closed its direction of the connection.
    Eof {
        from_warden: bool,
    },
    Open(Box<Capabilities>),
    Closed(CloseReason),
}

impl Seen {
    fn is(&self, from_warden: bool, code: u32, request: bool) -> bool {
        matches!(self, Seen::Message { from_warden: w, msg, .. }
            if *w == from_warden && msg.header.code == code && msg.is_request() == request)
    }

    fn msg(&self) -> &Message {
        match self {
            Seen::Message { msg, .. } => msg,
            other => panic!("not a message: {other:?}"),
        }
    }
}

/// Records the server connection's hooks.
struct Recorder(mpsc::UnboundedSender<Seen>);

impl Handler for Recorder {
    async fn handle(&self, _request: Message, _peer: PeerHandle) -> Option<Message> {
        None // freeDiameter sends no application requests here.
    }

    fn peer_open(&self, peer: PeerHandle) {
        let _ = self.0.send(Seen::Open(Box::new(peer.remote().clone())));
    }

    fn peer_closed(&self, _remote: Option<&Capabilities>, reason: &CloseReason) {
        let _ = self.0.send(Seen::Closed(reason.clone()));
    }
}

/// Copies one direction of the tapped connection, reporting each whole Diameter message (before
/// forwarding it, so a message is always reported before the answer it provokes).
async fn pipe(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, from_warden: bool, tx: mpsc::UnboundedSender<Seen>) {
    let mut buf = vec![0u8; 64 * 1024];
    let mut pending = Vec::new();
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        pending.extend_from_slice(&buf[..n]);
        loop {
            let len = match next_frame_len(&pending, 1 << 20) {
                Ok(Some(len)) if pending.len() >= len => len,
                Ok(_) => break,
                Err(e) => {
                    let raw = std::mem::take(&mut pending);
                    let _ = tx.send(Seen::Undecodable { from_warden, error: e.to_string(), raw });
                    break;
                }
            };
            let raw: Vec<u8> = pending.drain(..len).collect();
            let _ = tx.send(match Message::decode(&raw) {
                Ok(msg) => Seen::Message { from_warden, at: Instant::now(), msg: Box::new(msg), raw },
                Err(e) => Seen::Undecodable { from_warden, error: e.to_string(), raw },
            });
        }
        if to.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
    let _ = to.shutdown().await;
    let _ = tx.send(Seen::Eof { from_warden });
}

/// A TCP relay on 127.0.0.1 between the connecting side and `upstream`, for one connection.
async fn start_tap(upstream: SocketAddr, warden_is_upstream: bool, tx: mpsc::UnboundedSender<Seen>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let Ok((down, _)) = listener.accept().await else { return };
        let Ok(up) = TcpStream::connect(upstream).await else { return };
        let _ = (down.set_nodelay(true), up.set_nodelay(true));
        let (down_r, down_w) = down.into_split();
        let (up_r, up_w) = up.into_split();
        tokio::spawn(pipe(down_r, up_w, !warden_is_upstream, tx.clone()));
        tokio::spawn(pipe(up_r, down_w, warden_is_upstream, tx));
    });
    addr
}

/// Everything seen so far, and the wait for what comes next.
struct Observer {
    rx: mpsc::UnboundedReceiver<Seen>,
    seen: Vec<Seen>,
    log: PathBuf,
    start: Instant,
}

impl Observer {
    fn new(rx: mpsc::UnboundedReceiver<Seen>, log: PathBuf) -> Self {
        Self { rx, seen: Vec::new(), log, start: Instant::now() }
    }

    /// Waits up to `limit` for something matching `pred`; returns its index in `seen`.
    async fn poll_for(&mut self, limit: Duration, pred: impl Fn(&Seen) -> bool) -> Option<usize> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Some(s)) => {
                    if let Seen::Undecodable { from_warden, error, raw } = &s {
                        self.fail(&format!(
                            "Warden could not decode a message (from Warden: {from_warden}): {error}; bytes {}",
                            hex(raw)
                        ));
                    }
                    let hit = pred(&s);
                    self.seen.push(s);
                    if hit {
                        return Some(self.seen.len() - 1);
                    }
                }
                Ok(None) | Err(_) => return None,
            }
        }
    }

    /// The first thing seen so far, or arriving within `limit`, that matches `pred` (the handler's
    /// hooks and the tap race each other, so what is expected may already be there).
    async fn expect(&mut self, limit: Duration, what: &str, pred: impl Fn(&Seen) -> bool) -> &Seen {
        if let Some(i) = self.seen.iter().position(&pred) {
            return &self.seen[i];
        }
        match self.poll_for(limit, pred).await {
            Some(i) => &self.seen[i],
            None => self.fail(&format!("timed out after {limit:?} waiting for {what}")),
        }
    }

    fn history(&self) -> String {
        self.seen
            .iter()
            .map(|s| match s {
                Seen::Message { from_warden, at, msg, .. } => format!(
                    "  {:>6.2}s {} {}",
                    (*at - self.start).as_secs_f64(),
                    if *from_warden { "Warden       ->" } else { "freeDiameter ->" },
                    summary(msg)
                ),
                other => format!("  {other:?}"),
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn fail(&self, why: &str) -> ! {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(60).collect::<Vec<_>>().into_iter().rev().collect();
        panic!("{why}\nseen:\n{}\nfreeDiameterd log (tail):\n{}", self.history(), tail.join("\n"));
    }

    /// The messages seen, as a capture; `warden_is_client` when Warden opened the connection.
    fn messages(&self, warden_is_client: bool) -> Vec<WireMessage> {
        self.seen
            .iter()
            .filter_map(|s| match s {
                Seen::Message { from_warden, at, raw, .. } => Some((*from_warden, *at, raw.clone())),
                _ => None,
            })
            .map(|(from_warden, at, bytes)| WireMessage {
                from_client: from_warden == warden_is_client,
                micros: (at - self.start).as_micros() as u64,
                bytes,
            })
            .collect()
    }
}

/// A running freeDiameterd, killed on drop if still running.
struct Daemon {
    child: Child,
    log: PathBuf,
}

impl Daemon {
    fn start(bin: &Path, conf: &Path, log: &Path) -> Self {
        let out = std::fs::File::create(log).unwrap();
        let err = out.try_clone().unwrap();
        let child = Command::new(bin)
            .arg("-c")
            .arg(conf)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("start freeDiameterd");
        Self { child, log: log.to_path_buf() }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    async fn wait_log(&mut self, needle: &str, limit: Duration) {
        let deadline = Instant::now() + limit;
        while !self.log().contains(needle) {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("freeDiameterd exited ({status}) before {needle:?}:\n{}", self.log());
            }
            assert!(Instant::now() < deadline, "freeDiameterd did not log {needle:?} in {limit:?}:\n{}", self.log());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGTERM, freeDiameterd's orderly shutdown (it sends DPR to its open peers). Through `sh` so
    /// that no extra package (procps) or unsafe code is needed.
    fn terminate(&self) {
        let status = Command::new("sh").arg("-c").arg(format!("kill -TERM {}", self.child.id())).status();
        assert!(status.is_ok_and(|s| s.success()), "could not signal freeDiameterd");
    }

    async fn wait_exit(&mut self, limit: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "freeDiameterd did not exit within {limit:?}:\n{}", self.log());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A freeDiameterd configuration: TCP only, no extension loaded, listening on `port` (0: nowhere).
///
/// - freeDiameterd refuses to start without TLS credentials even when no connection uses TLS, so a
///   throwaway self-signed certificate is generated (with rcgen, no `openssl` needed); `SecPort = 0`
///   disables its TLS listener and peers are configured `No_TLS`.
/// - freeDiameter 1.2.1 silently ignores `ListenOn = "127.0.0.1"` (its endpoint code drops loopback
///   addresses), so a listening freeDiameterd binds its port on all IPv4 addresses; the test that
///   needs a listener uses a random free port for a few seconds and connects over 127.0.0.1 only.
/// - With no extension, freeDiameter supports no application of its own but runs as a relay and
///   advertises the Relay application (0xffffffff) in CER/CEA, as RFC 6733 §2.4 requires of relays.
///   Warden counts the relay id as matching every application (RFC 6733 §5.3), so the exchange
///   succeeds with Warden advertising only S6a; no `dict_*` extension is needed (Debian's
///   freediameter-extensions has no dict_s6a anyway).
fn fd_config(dir: &TempDir, identity: &str, port: u16, peer: &str) -> PathBuf {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(vec![identity.to_string()]).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let cert = params.self_signed(&key).unwrap();
    let (cert_path, key_path) = (dir.path("cert.pem"), dir.path("key.pem"));
    std::fs::write(&cert_path, cert.pem()).unwrap();
    std::fs::write(&key_path, key.serialize_pem()).unwrap();
    let conf = format!(
        "# freeDiameterd configuration written by crates/diameter/tests/interop.rs\n\
         Identity = \"{identity}\";\n\
         Realm = \"{FD_REALM}\";\n\
         Port = {port};\n\
         SecPort = 0;\n\
         No_SCTP;\n\
         No_IPv6;\n\
         TLS_Cred = \"{cert}\", \"{key}\";\n\
         TLS_CA = \"{cert}\";\n\
         {peer}\n",
        cert = cert_path.display(),
        key = key_path.display(),
    );
    let path = dir.path("freeDiameter.conf");
    std::fs::write(&path, conf).unwrap();
    path
}

fn allow(host: &'static str) -> Arc<dyn PeerAuthorizer> {
    Arc::new(move |p: &PeerIdentity| p.origin_host == host)
}

/// Dissects a freeDiameter conversation with tshark too, when tshark is installed.
fn tshark_check_if_available(dir: &TempDir, name: &str, messages: &[WireMessage]) {
    match on_path("tshark") {
        Some(tshark) => {
            let report = assert_tshark_agrees(&tshark, dir, name, messages);
            println!("tshark agrees with Warden on {} messages; expert warnings: {:?}", report.frames, report.warnings);
        }
        None => println!("tshark not installed: the {name} capture is not dissected"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn freediameter_connects_to_warden() {
    let Some(fd) = require_tool("freeDiameterd", "freediameter") else { return };
    let started = Instant::now();
    let dir = TempDir::new("fd-client");
    const FD: &str = "fd-client.interop.test";
    let (tx, rx) = mpsc::unbounded_channel();

    // Warden's server, allowing only freeDiameter's identity; its own Tw is long so that the
    // watchdog traffic seen is freeDiameter's.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let warden_addr = listener.local_addr().unwrap();
    let mut peer = PeerConfig::new(HSS, REALM, vec![Application::S6A]);
    peer.watchdog_interval = Duration::from_secs(30);
    let config = ServerConfig { peer, authorizer: allow(FD), limits: ConnectionLimits::default(), tls: None };
    let shutdown = CancellationToken::new();
    tokio::spawn(serve(listener, config, Arc::new(Recorder(tx.clone())), shutdown));
    let tap = start_tap(warden_addr, true, tx).await;

    let peer_block = format!(
        "ConnectPeer = \"{HSS}\" {{ ConnectTo = \"127.0.0.1\"; Port = {}; No_TLS; TwTimer = {}; }};",
        tap.port(),
        FD_TW.as_secs()
    );
    let conf = fd_config(&dir, FD, 0, &peer_block); // connects out, listens nowhere
    let mut daemon = Daemon::start(&fd, &conf, &dir.path("freeDiameterd.log"));
    let mut obs = Observer::new(rx, daemon.log.clone());

    // Capabilities exchange.
    let cer =
        obs.expect(Duration::from_secs(10), "CER from freeDiameter", |s| s.is(false, 257, true)).await.msg().clone();
    let cea = obs.expect(Duration::from_secs(5), "CEA from Warden", |s| s.is(true, 257, false)).await.msg().clone();
    assert_eq!(cea.result_code(), Some(rc::SUCCESS), "{}", obs.history());
    let remote = match obs.expect(Duration::from_secs(5), "peer_open", |s| matches!(s, Seen::Open(_))).await {
        Seen::Open(c) => c.clone(),
        _ => unreachable!(),
    };
    assert_eq!(remote.origin_host, FD);
    assert_eq!(remote.origin_realm, FD_REALM);
    assert_eq!(remote.product_name, "freeDiameter");
    assert!(remote.applications.contains(&app::RELAY), "freeDiameter advertises the relay application: {remote:?}");
    println!("freeDiameter's CER: {}; apps {:?}", summary(&cer), remote.applications);
    let opened = Instant::now();

    // Watchdog: freeDiameter sends DWR after Tw of silence and drops the connection when no DWA
    // comes within Tw. Two DWRs answered and the connection open more than Tw after the first DWA
    // prove Warden's DWAs are accepted.
    let mut answered = 0;
    let mut first_dwa: Option<Instant> = None;
    let watchdog_deadline = opened + 4 * FD_TW;
    while answered < 2 || first_dwa.is_some_and(|t| t.elapsed() < FD_TW + Duration::from_secs(1)) {
        let limit = if answered < 2 {
            watchdog_deadline.saturating_duration_since(Instant::now())
        } else {
            (FD_TW + Duration::from_secs(1)).saturating_sub(first_dwa.unwrap().elapsed())
        };
        let hit = obs
            .poll_for(limit, |s| {
                s.is(false, 280, true) || s.is(true, 280, false) || matches!(s, Seen::Eof { .. } | Seen::Closed(_))
            })
            .await;
        match hit.map(|i| &obs.seen[i]) {
            Some(s) if s.is(true, 280, false) => {
                let dwa = s.msg();
                let dwr = obs.seen.iter().rev().find(|x| x.is(false, 280, true)).map(Seen::msg);
                assert_eq!(dwr.map(|d| d.header.hop_by_hop), Some(dwa.header.hop_by_hop), "{}", obs.history());
                assert_eq!(dwa.result_code(), Some(rc::SUCCESS));
                answered += 1;
                first_dwa.get_or_insert_with(Instant::now);
            }
            Some(s) if s.is(false, 280, true) => {}
            Some(s) => obs.fail(&format!("connection closed during the watchdog phase: {s:?}")),
            None if answered >= 2 => break,
            None => obs.fail(&format!("only {answered} DWR/DWA exchanges within {:?}", 4 * FD_TW)),
        }
    }
    let open_for = opened.elapsed();
    assert!(first_dwa.unwrap().elapsed() > FD_TW, "{}", obs.history());

    // Orderly shutdown of freeDiameterd: DPR to Warden, DPA back, Warden reports RemoteDisconnect.
    daemon.terminate();
    let dpr =
        obs.expect(Duration::from_secs(5), "DPR from freeDiameter", |s| s.is(false, 282, true)).await.msg().clone();
    let cause = dpr.get_u32(avp::DISCONNECT_CAUSE);
    let dpa = obs.expect(Duration::from_secs(5), "DPA from Warden", |s| s.is(true, 282, false)).await.msg().clone();
    assert_eq!(dpa.result_code(), Some(rc::SUCCESS));
    assert_eq!(dpa.header.hop_by_hop, dpr.header.hop_by_hop);
    let closed = obs.expect(Duration::from_secs(5), "peer_closed", |s| matches!(s, Seen::Closed(_))).await;
    assert!(matches!(closed, Seen::Closed(CloseReason::RemoteDisconnect(c)) if Some(*c) == cause), "{closed:?}");
    let status = daemon.wait_exit(Duration::from_secs(10)).await;

    println!("freeDiameterd -> Warden conversation:\n{}", obs.history());
    println!(
        "{answered} DWR answered, open {open_for:?}, DPR cause {cause:?}, freeDiameterd exit {status}, total {:?}",
        started.elapsed()
    );
    tshark_check_if_available(&dir, "freediameter-to-warden", &obs.messages(false));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warden_connects_to_freediameter() {
    let Some(fd) = require_tool("freeDiameterd", "freediameter") else { return };
    let started = Instant::now();
    let dir = TempDir::new("fd-server");
    const FD: &str = "fd-server.interop.test";
    let (tx, rx) = mpsc::unbounded_channel();

    // freeDiameter accepts CER only from peers it knows: Warden is declared with ConnectPeer, with a
    // ConnectTo port where nothing listens, so freeDiameter's own attempts fail (it retries only
    // after TcTimer, 30 s) and Warden's incoming connection is the one used.
    let fd_port = free_port();
    let peer_block =
        format!("ConnectPeer = \"{MME}\" {{ ConnectTo = \"127.0.0.1\"; Port = {}; No_TLS; }};", free_port());
    let conf = fd_config(&dir, FD, fd_port, &peer_block);
    let mut daemon = Daemon::start(&fd, &conf, &dir.path("freeDiameterd.log"));
    daemon.wait_log("freeDiameterd daemon initialized", Duration::from_secs(10)).await;
    let fd_addr = SocketAddr::from(([127, 0, 0, 1], fd_port));
    let tap = start_tap(fd_addr, false, tx).await;
    let mut obs = Observer::new(rx, daemon.log.clone());

    // Warden's Tw is the 6 s minimum, so that Warden's watchdog speaks first (freeDiameter's is 30 s).
    let mut cfg = PeerConfig::new(MME, REALM, vec![Application::S6A]);
    cfg.watchdog_interval = Duration::from_secs(6);
    cfg.handshake_timeout = Duration::from_secs(5);
    cfg.request_timeout = Duration::from_secs(5);
    let connected = timeout(Duration::from_secs(10), connect(tap, cfg, allow(FD), ConnectionLimits::default(), None))
        .await
        .unwrap_or_else(|_| obs.fail("connect() timed out"));
    let (handle, task) = connected.unwrap_or_else(|e| obs.fail(&format!("connect() failed: {e}")));
    assert_eq!(handle.remote().origin_host, FD);
    assert_eq!(handle.remote().product_name, "freeDiameter");
    let cea =
        obs.expect(Duration::from_secs(5), "CEA from freeDiameter", |s| s.is(false, 257, false)).await.msg().clone();
    assert_eq!(cea.result_code(), Some(rc::SUCCESS));

    // An AIR freeDiameter cannot serve (no S6a application loaded, it is the final destination):
    // whatever error it answers, Warden must read it and match it to the request.
    let mut air = air(1, Some(IMSI));
    air.avps.retain(|a| a.name() != Some("Destination-Host") && a.name() != Some("Destination-Realm"));
    air.push(Avp::new(avp::DESTINATION_REALM, FD_REALM));
    let answer = timeout(Duration::from_secs(6), handle.request(air))
        .await
        .unwrap_or_else(|_| obs.fail("no answer to AIR"))
        .unwrap_or_else(|e| obs.fail(&format!("AIR failed: {e}")));
    let code = answer.result_code().unwrap_or_else(|| obs.fail("freeDiameter's answer has no Result-Code"));
    assert!((3000..6000).contains(&code), "{}", summary(&answer));
    assert_eq!(answer.header.is_error(), rc::is_protocol_error(code));
    println!("freeDiameter answered the AIR with {}", summary(&answer));

    // Warden's watchdog: DWR after Tw (±2 s) of silence, DWA from freeDiameter.
    obs.expect(Duration::from_secs(10), "DWR from Warden", |s| s.is(true, 280, true)).await;
    let dwa =
        obs.expect(Duration::from_secs(5), "DWA from freeDiameter", |s| s.is(false, 280, false)).await.msg().clone();
    assert_eq!(dwa.result_code(), Some(rc::SUCCESS));

    // Disconnect: DPR from Warden, DPA from freeDiameter, and the connection task ends well before
    // the 5 s DPA timeout would end it.
    let t = Instant::now();
    handle.disconnect(2).await; // DO_NOT_WANT_TO_TALK_TO_YOU: freeDiameter does not reconnect
    obs.expect(Duration::from_secs(5), "DPR from Warden", |s| s.is(true, 282, true)).await;
    let dpa =
        obs.expect(Duration::from_secs(5), "DPA from freeDiameter", |s| s.is(false, 282, false)).await.msg().clone();
    assert_eq!(dpa.result_code(), Some(rc::SUCCESS));
    timeout(Duration::from_secs(3), task).await.unwrap_or_else(|_| obs.fail("connection task still running")).unwrap();
    let disconnect_took = t.elapsed();
    obs.expect(Duration::from_secs(3), "Warden closing the connection", |s| {
        matches!(s, Seen::Eof { from_warden: true })
    })
    .await;

    daemon.terminate();
    let status = daemon.wait_exit(Duration::from_secs(10)).await;
    println!("Warden -> freeDiameterd conversation:\n{}", obs.history());
    println!("disconnect took {disconnect_took:?}, freeDiameterd exit {status}, total {:?}", started.elapsed());
    tshark_check_if_available(&dir, "warden-to-freediameter", &obs.messages(true));
}
