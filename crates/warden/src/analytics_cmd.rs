//! `warden analytics dpi FILE [--json]`: offline DPI of a pcap capture (crate `analytics`,
//! docs/analytics.md).
//!
//! One line per finding on standard output — kind, packet number (1-based), offset in the TCP/UDP
//! payload and the flow's 5-tuple, never the matched value — and a summary on standard error.
//! Exit status: 0 no findings, 3 findings, 1 the capture could not be read (or was cut short and had
//! no findings before the cut), 2 a wrong command line.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use analytics::dpi::{CustomPattern, DpiConfig, NationalIdFormat, Scanner};
use analytics::packet::{self, Skip};
use analytics::pcap::{PcapError, PcapReader};
use clap::{Args, Subcommand};
use serde_json::json;

/// `warden analytics …`
#[derive(Debug, Subcommand)]
pub enum AnalyticsCommand {
    /// Look for personal data in clear (cards, IBANs, e-mail addresses, GPS positions, national
    /// identity numbers, your patterns) in the TCP and UDP payloads of a pcap capture.
    Dpi(DpiArgs),
}

/// `warden analytics dpi` options.
#[derive(Debug, Args)]
pub struct DpiArgs {
    /// The capture: libpcap format, Ethernet, Linux cooked, raw IP or loopback (pcapng is not read).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// One JSON object per line: kind, packet, offset, len, flow {src, dst, sport, dport, proto}.
    #[arg(long)]
    pub json: bool,
    /// National identity formats to look for (repeatable): us_ssn, se_personnummer, nl_bsn.
    /// Default: us_ssn and se_personnummer.
    #[arg(long = "national-id", value_name = "FORMAT")]
    pub national_ids: Vec<String>,
    /// An operator pattern, NAME=REGEX (repeatable); reported as `pattern:NAME`.
    #[arg(long = "pattern", value_name = "NAME=REGEX")]
    pub patterns: Vec<String>,
}

/// Runs `warden analytics …` and returns the exit code.
pub fn main(cmd: AnalyticsCommand) -> ExitCode {
    match cmd {
        AnalyticsCommand::Dpi(args) => dpi(args),
    }
}

fn config(args: &DpiArgs) -> Result<DpiConfig, String> {
    let mut config = DpiConfig::default();
    if !args.national_ids.is_empty() {
        config.national_ids = args
            .national_ids
            .iter()
            .map(|n| {
                NationalIdFormat::from_name(n).ok_or_else(|| {
                    let known: Vec<&str> = NationalIdFormat::ALL.iter().map(|f| f.name()).collect();
                    format!("--national-id {n:?}: not one of {}", known.join(", "))
                })
            })
            .collect::<Result<_, _>>()?;
    }
    for p in &args.patterns {
        let (name, regex) = p.split_once('=').ok_or_else(|| format!("--pattern {p:?}: write NAME=REGEX"))?;
        config.patterns.push(CustomPattern { name: name.to_owned(), regex: regex.to_owned() });
    }
    Ok(config)
}

fn skip_name(s: Skip) -> &'static str {
    match s {
        Skip::LinkType => "link_type",
        Skip::NotIp => "not_ip",
        Skip::OtherProtocol => "other_protocol",
        Skip::Fragment => "fragment",
        Skip::Malformed => "malformed",
    }
}

fn dpi(args: DpiArgs) -> ExitCode {
    let scanner = match config(&args).and_then(|c| Scanner::new(c).map_err(|e| e.to_string())) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let file = match std::fs::File::open(&args.file) {
        Ok(f) => std::io::BufReader::with_capacity(1 << 16, f),
        Err(e) => {
            eprintln!("error: {}: {e}", args.file.display());
            return ExitCode::from(1);
        }
    };
    let mut reader = match PcapReader::new(file) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {}: {e}", args.file.display());
            return ExitCode::from(1);
        }
    };
    let link_type = reader.link_type();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut findings = Vec::new();
    let mut total = 0u64;
    let mut scanned = 0u64;
    let mut skipped: BTreeMap<&'static str, u64> = BTreeMap::new();
    let mut packet_number = 0u64;
    let error: Option<PcapError> = loop {
        let record = match reader.next_record() {
            Ok(Some(r)) => r,
            Ok(None) => break None,
            Err(e) => break Some(e),
        };
        packet_number += 1;
        let transport = match packet::parse(link_type, record.data) {
            Ok(t) => t,
            Err(s) => {
                *skipped.entry(skip_name(s)).or_default() += 1;
                continue;
            }
        };
        scanned += 1;
        findings.clear();
        scanner.scan(transport.payload, &mut findings);
        for f in &findings {
            total += 1;
            let t = transport.tuple;
            let line = if args.json {
                json!({
                    "kind": f.kind.to_string(),
                    "packet": packet_number,
                    "offset": f.offset,
                    "len": f.len,
                    "flow": {"src": t.src.to_string(), "dst": t.dst.to_string(), "sport": t.sport, "dport": t.dport,
                             "proto": t.proto_name()},
                })
                .to_string()
            } else {
                format!("packet {packet_number} offset {} len {} {} {t}", f.offset, f.len, f.kind)
            };
            if writeln!(out, "{line}").is_err() {
                // A closed pipe (`| head`): stop quietly.
                return if total > 0 { ExitCode::from(3) } else { ExitCode::SUCCESS };
            }
        }
    };
    let _ = out.flush();
    let skipped: Vec<String> = skipped.iter().map(|(k, v)| format!("{k} {v}")).collect();
    eprintln!(
        "{packet_number} packets, {scanned} payloads scanned, {total} findings{}",
        if skipped.is_empty() { String::new() } else { format!("; skipped: {}", skipped.join(", ")) }
    );
    if let Some(e) = &error {
        eprintln!("error: {}: {e}", args.file.display());
    }
    match (total, error) {
        (0, None) => ExitCode::SUCCESS,
        (0, Some(_)) => ExitCode::from(1),
        _ => ExitCode::from(3),
    }
}
