//! `warden bench dpi`: DPI throughput for personal data in clear (crate `analytics`, docs/analytics.md)
//! over the seeded mixed payload corpus of `analytics::dpi::corpus` (the one
//! `cargo bench -p analytics --bench dpi` scans) or over the TCP and UDP payloads of a pcap file.
//!
//! The scanner runs on this thread, pass after pass over the payloads held in memory, until it has
//! used `--seconds` of its own CPU time (`CLOCK_THREAD_CPUTIME_ID`: on a shared machine this leaves
//! out the time the thread waited for a core, so it says what one core does). Throughput is the
//! bytes scanned over that CPU time, in MiB/s and GiB/s per core; the wall-clock rate is printed
//! beside it. Findings are those of one pass, by kind.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use analytics::dpi::{corpus, DpiConfig, Finding, Scanner};
use analytics::packet;
use analytics::pcap::PcapReader;
use serde_json::json;

/// What `warden bench dpi` scans and for how long.
#[derive(Debug, Clone)]
pub struct Spec {
    /// A pcap file; `None` for the generated corpus.
    pub pcap: Option<PathBuf>,
    /// Bytes of generated payloads (ignored with a pcap).
    pub bytes: usize,
    /// The corpus seed (ignored with a pcap).
    pub seed: u64,
    /// Least thread CPU time to measure; at least one pass is made.
    pub seconds: f64,
}

/// What was measured.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// `corpus` or `pcap`.
    pub source: &'static str,
    /// Payloads in one pass.
    pub payloads: u64,
    /// Bytes in one pass.
    pub bytes: u64,
    /// Passes made.
    pub passes: u64,
    /// Findings in one pass.
    pub findings: u64,
    /// Findings of one pass by kind.
    pub by_kind: BTreeMap<String, u64>,
    /// Thread CPU time of all passes.
    pub cpu: Duration,
    /// Wall-clock time of all passes.
    pub wall: Duration,
}

const MIB: f64 = (1u64 << 20) as f64;
const GIB: f64 = (1u64 << 30) as f64;

impl Report {
    fn scanned(&self) -> f64 {
        (self.bytes * self.passes) as f64
    }

    /// MiB per second of thread CPU time (one core).
    pub fn mib_per_cpu_second(&self) -> f64 {
        self.scanned() / MIB / self.cpu.as_secs_f64().max(1e-9)
    }

    /// The report as JSON.
    pub fn to_json(&self) -> serde_json::Value {
        json!({
            "source": self.source,
            "payloads": self.payloads,
            "bytes": self.bytes,
            "passes": self.passes,
            "bytes_scanned": self.bytes * self.passes,
            "findings": self.findings,
            "findings_by_kind": self.by_kind,
            "cpu_seconds": self.cpu.as_secs_f64(),
            "wall_seconds": self.wall.as_secs_f64(),
            "mib_per_s": self.mib_per_cpu_second(),
            "gib_per_s_per_core": self.scanned() / GIB / self.cpu.as_secs_f64().max(1e-9),
            "wall_mib_per_s": self.scanned() / MIB / self.wall.as_secs_f64().max(1e-9),
        })
    }

    /// The report for people.
    pub fn to_text(&self) -> String {
        let kinds: Vec<String> = self.by_kind.iter().map(|(k, n)| format!("{k} {n}")).collect();
        format!(
            "DPI over {} payloads ({} bytes, {}) x {} passes\n\
             throughput: {:.1} MiB/s = {:.3} GiB/s per core (thread CPU time {:.2} s); wall clock {:.1} MiB/s\n\
             findings per pass: {}{}",
            self.payloads,
            self.bytes,
            self.source,
            self.passes,
            self.mib_per_cpu_second(),
            self.mib_per_cpu_second() / 1024.0,
            self.cpu.as_secs_f64(),
            self.scanned() / MIB / self.wall.as_secs_f64().max(1e-9),
            self.findings,
            if kinds.is_empty() { String::new() } else { format!(" ({})", kinds.join(", ")) },
        )
    }
}

/// This thread's CPU time.
fn thread_cpu() -> Duration {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    Duration::new(t.tv_sec.max(0) as u64, t.tv_nsec.clamp(0, 999_999_999) as u32)
}

/// The TCP and UDP payloads of a capture (packets that are not, or carry none, are left out).
fn pcap_payloads(path: &Path) -> Result<Vec<Vec<u8>>, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut reader = PcapReader::new(std::io::BufReader::with_capacity(1 << 16, file))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let link_type = reader.link_type();
    let mut out = Vec::new();
    while let Some(record) = reader.next_record().map_err(|e| format!("{}: {e}", path.display()))? {
        if let Ok(t) = packet::parse(link_type, record.data) {
            if !t.payload.is_empty() {
                out.push(t.payload.to_vec());
            }
        }
    }
    Ok(out)
}

/// Measures DPI throughput as `spec` says.
pub fn run(spec: &Spec) -> Result<Report, String> {
    if !(spec.seconds.is_finite() && spec.seconds >= 0.0 && spec.seconds <= 3600.0) {
        return Err(format!("--seconds {}: 0 to 3600", spec.seconds));
    }
    let (source, payloads) = match &spec.pcap {
        Some(path) => ("pcap", pcap_payloads(path)?),
        None => {
            if spec.bytes == 0 || spec.bytes > 1 << 30 {
                return Err(format!("--bytes {}: 1 to 1073741824", spec.bytes));
            }
            ("corpus", corpus::mixed(spec.seed, spec.bytes))
        }
    };
    let bytes: u64 = payloads.iter().map(|p| p.len() as u64).sum();
    if bytes == 0 {
        return Err("no payload bytes to scan (the capture holds no TCP or UDP payload)".into());
    }
    let scanner = Scanner::new(DpiConfig::default()).map_err(|e| e.to_string())?;
    let mut by_kind: BTreeMap<String, u64> = BTreeMap::new();
    let mut out: Vec<Finding> = Vec::new();
    for p in &payloads {
        out.clear();
        scanner.scan(p, &mut out);
        for f in &out {
            *by_kind.entry(f.kind.to_string()).or_default() += 1;
        }
    }
    let findings = by_kind.values().sum();
    let budget = Duration::from_secs_f64(spec.seconds);
    let (cpu_start, wall_start) = (thread_cpu(), Instant::now());
    let mut passes = 0u64;
    loop {
        for p in &payloads {
            out.clear();
            scanner.scan(std::hint::black_box(p), &mut out);
            std::hint::black_box(&out);
        }
        passes += 1;
        if thread_cpu().saturating_sub(cpu_start) >= budget {
            break;
        }
    }
    let (cpu, wall) = (thread_cpu().saturating_sub(cpu_start), wall_start.elapsed());
    Ok(Report { source, payloads: payloads.len() as u64, bytes, passes, findings, by_kind, cpu, wall })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(bytes: usize) -> Spec {
        Spec { pcap: None, bytes, seed: corpus::SEED, seconds: 0.0 }
    }

    #[test]
    fn the_corpus_holds_a_card_and_the_report_adds_up() {
        let r = run(&spec(64 << 10)).unwrap();
        assert_eq!(r.source, "corpus");
        assert!(r.bytes >= 64 << 10 && r.passes >= 1);
        assert!(r.by_kind.get("card").copied().unwrap_or(0) >= 1, "{:?}", r.by_kind);
        assert_eq!(r.findings, r.by_kind.values().sum::<u64>());
        let j = r.to_json();
        assert_eq!(j["bytes_scanned"].as_u64(), Some(r.bytes * r.passes));
        let per_core = j["gib_per_s_per_core"].as_f64().unwrap();
        assert!((j["mib_per_s"].as_f64().unwrap() / 1024.0 - per_core).abs() < 1e-9 * per_core.max(1.0));
        assert!(r.to_text().contains("GiB/s per core"));
        // The same seed and size, the same corpus.
        assert_eq!(
            (run(&spec(64 << 10)).unwrap().bytes, run(&spec(64 << 10)).unwrap().findings),
            (r.bytes, r.findings)
        );
    }

    #[test]
    fn bad_specs_are_refused() {
        assert!(run(&spec(0)).unwrap_err().contains("--bytes"));
        assert!(run(&Spec { seconds: -1.0, ..spec(10) }).unwrap_err().contains("--seconds"));
        assert!(run(&Spec { seconds: f64::NAN, ..spec(10) }).unwrap_err().contains("--seconds"));
        let missing = Spec { pcap: Some("/nonexistent/x.pcap".into()), ..spec(10) };
        assert!(run(&missing).unwrap_err().contains("/nonexistent/x.pcap"));
    }
}
