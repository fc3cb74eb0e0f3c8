//! `warden audit …`: the network security audit of GSMA CLP.14 (crate `audit`, docs/audit.md).
//!
//! `run` checks a network description, optionally the configurations of the cores the operator runs,
//! Warden's own store (`--store`) and live TLS endpoints on loopback (`--probe-tls`), and prints or
//! writes the report. Exit status: 0 when no finding is at or above `--fail-on` (default `high`),
//! otherwise the code of the worst finding (3 info, 4 low, 5 medium, 6 high, 7 critical); 1 when the
//! audit could not run (unreadable or invalid input); 2 for a wrong command line.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use audit::render::Format;
use audit::Severity;
use clap::{Args, Subcommand};

/// `warden audit …`
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Audit the network: a description plus optional core configurations and live evidence.
    Run(Box<RunArgs>),
    /// Print `[[lpwa.lorawan.devices]]` tables with salted AppKey fingerprints for the description,
    /// reading `dev_eui,app_key[,activation]` lines from a file or standard input.
    Fingerprint(FingerprintArgs),
    /// List the catalogue of checks (ID, requirement, severity, area, title).
    Checks {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

/// `warden audit run` options.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The network description (TOML, `version = 1`; see docs/audit.md).
    #[arg(long, value_name = "FILE")]
    pub description: PathBuf,
    /// Open5GS MME configuration (mme.yaml); repeatable.
    #[arg(long, value_name = "FILE")]
    pub open5gs_mme: Vec<PathBuf>,
    /// Open5GS AMF configuration (amf.yaml); repeatable.
    #[arg(long, value_name = "FILE")]
    pub open5gs_amf: Vec<PathBuf>,
    /// Any Open5GS YAML (one network function's file or a combined one such as sample.yaml): every
    /// NF section in it (MME/AMF security orders, plain-HTTP SBI, inline Diameter peers); repeatable.
    #[arg(long, value_name = "FILE")]
    pub open5gs: Vec<PathBuf>,
    /// freeDiameter configuration (e.g. /etc/freeDiameter/mme.conf): peers with No_TLS; repeatable.
    #[arg(long, value_name = "FILE")]
    pub freediameter: Vec<PathBuf>,
    /// A configuration directory (e.g. /etc/open5gs) to scan for private keys; repeatable.
    #[arg(long, value_name = "DIR")]
    pub config_tree: Vec<PathBuf>,
    /// PyHSS config.yaml (provisioning lock and key, listeners); repeatable.
    #[arg(long, value_name = "FILE")]
    pub pyhss_config: Vec<PathBuf>,
    /// OsmoBSC configuration (osmo-bsc.cfg); repeatable.
    #[arg(long, value_name = "FILE")]
    pub osmo_bsc: Vec<PathBuf>,
    /// OsmoMSC configuration (osmo-msc.cfg); repeatable.
    #[arg(long, value_name = "FILE")]
    pub osmo_msc: Vec<PathBuf>,
    /// osmo-sgsn configuration (osmo-sgsn.cfg); repeatable.
    #[arg(long, value_name = "FILE")]
    pub osmo_sgsn: Vec<PathBuf>,
    /// osmo-hlr configuration (osmo-hlr.cfg: the GSUP bind address); repeatable.
    #[arg(long, value_name = "FILE")]
    pub osmo_hlr_cfg: Vec<PathBuf>,
    /// osmo-hlr database (hlr.db, read without changing it or its directory); repeatable.
    #[arg(long, value_name = "FILE")]
    pub osmo_hlr_db: Vec<PathBuf>,
    /// PyHSS `auc` export (JSON) or database (SQLite); repeatable.
    #[arg(long, value_name = "FILE")]
    pub pyhss: Vec<PathBuf>,
    /// Add evidence from Warden's own store (the `--config` storage).
    #[arg(long)]
    pub store: bool,
    /// Probe a TLS endpoint on loopback (HOST:PORT); repeatable.
    #[arg(long, value_name = "HOST:PORT")]
    pub probe_tls: Vec<String>,
    /// Output format: text, json, sarif, html.
    #[arg(long, default_value = "text", value_parser = parse_format)]
    pub format: Format,
    /// Write the report to this file instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Lowest severity that makes the exit status non-zero: info, low, medium, high, critical or never.
    #[arg(long, default_value = "high", value_name = "SEVERITY", value_parser = parse_fail_on)]
    pub fail_on: FailOn,
}

/// `warden audit fingerprint` options.
#[derive(Debug, Args)]
pub struct FingerprintArgs {
    /// The description's `lpwa.lorawan.fingerprint_salt` (hex, at least 16 bytes); without it a new salt
    /// is made and printed first.
    #[arg(long, value_name = "HEX")]
    pub salt: Option<String>,
    /// File of `dev_eui,app_key[,activation]` lines (default: standard input).
    #[arg(long, value_name = "FILE")]
    pub input: Option<PathBuf>,
}

/// The `--fail-on` threshold.
#[derive(Debug, Clone, Copy)]
pub struct FailOn(pub Option<Severity>);

fn parse_format(s: &str) -> Result<Format, String> {
    s.parse()
}

fn parse_fail_on(s: &str) -> Result<FailOn, String> {
    if s.eq_ignore_ascii_case("never") {
        return Ok(FailOn(None));
    }
    s.parse::<Severity>().map(|v| FailOn(Some(v))).map_err(|e| format!("{e} or never"))
}

/// Runs `warden audit …` and returns the process exit status.
pub fn main(config_path: Option<&Path>, cmd: AuditCommand) -> ExitCode {
    let (code, out, err) = match cmd {
        AuditCommand::Run(args) => match run(config_path, &args) {
            Ok((code, out, summary)) => (code, out, summary),
            Err((code, msg)) => (code, String::new(), format!("error: {msg}")),
        },
        AuditCommand::Fingerprint(args) => match fingerprint(&args) {
            Ok(out) => (0, out, String::new()),
            Err(msg) => (1, String::new(), format!("error: {msg}")),
        },
        AuditCommand::Checks { json } => (0, checks(json), String::new()),
    };
    if !out.is_empty() {
        print!("{out}");
        if !out.ends_with('\n') {
            println!();
        }
    }
    if !err.is_empty() {
        eprintln!("{err}");
    }
    ExitCode::from(code)
}

/// Removes `user:password@` from a database URL before it appears in a report.
pub(crate) fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}{}", &url[..s + 3], &url[at + 1..]),
        _ => url.to_string(),
    }
}

/// Runs the audit: (exit code, rendering for stdout, summary line for stderr) or (exit code, error).
fn run(config_path: Option<&Path>, a: &RunArgs) -> Result<(u8, String, String), (u8, String)> {
    // The command line first: a refused probe target is a usage error, before anything is read.
    for t in &a.probe_tls {
        audit::tls_probe::loopback_target(t).map_err(|e| (2, e.to_string()))?;
    }
    let failed = |e: audit::AuditError| (1u8, e.to_string());
    let (description, mut report) = audit::audit_description_file(&a.description).map_err(failed)?;
    use audit::import::{self, Open5gs, Osmo};
    for f in &a.open5gs_mme {
        import::open5gs(f, Open5gs::Mme, &mut report).map_err(failed)?;
    }
    for f in &a.open5gs_amf {
        import::open5gs(f, Open5gs::Amf, &mut report).map_err(failed)?;
    }
    for f in &a.open5gs {
        audit::open5gs::open5gs_any(f, &mut report).map_err(failed)?;
    }
    for f in &a.freediameter {
        audit::freediameter::freediameter(f, &mut report).map_err(failed)?;
    }
    for d in &a.config_tree {
        audit::config_tree::config_tree(d, &mut report).map_err(failed)?;
    }
    for f in &a.pyhss_config {
        audit::pyhss::pyhss_config(f, &mut report).map_err(failed)?;
    }
    for f in &a.osmo_bsc {
        import::osmo_vty(f, Osmo::Bsc, &mut report).map_err(failed)?;
    }
    for f in &a.osmo_msc {
        import::osmo_vty(f, Osmo::Msc, &mut report).map_err(failed)?;
    }
    for f in &a.osmo_sgsn {
        import::osmo_vty(f, Osmo::Sgsn, &mut report).map_err(failed)?;
    }
    for f in &a.osmo_hlr_cfg {
        import::osmo_vty(f, Osmo::Hlr, &mut report).map_err(failed)?;
    }
    if !a.osmo_hlr_db.is_empty() || !a.pyhss.is_empty() || a.store {
        let runtime =
            tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| (1, e.to_string()))?;
        runtime.block_on(async {
            for f in &a.osmo_hlr_db {
                import::osmo_hlr(f, &mut report).await.map_err(failed)?;
            }
            for f in &a.pyhss {
                import::pyhss(f, &mut report).await.map_err(failed)?;
            }
            if a.store {
                let config = crate::config::Config::load(config_path).map_err(|e| (2, e.to_string()))?;
                let store = crate::storage::open_store(&config).await.map_err(|e| (1, e.to_string()))?;
                let facts: Vec<audit::evidence::SimFact> =
                    store.audit_sims().await.map_err(|e| (1, format!("store: {e}")))?;
                let origin = redact(&config.storage_url());
                audit::evidence::check_store(&facts, &description.subscriptions, &origin, &mut report);
                let kek = crate::storage::kek_beside_database(&config).map(|p| p.display().to_string());
                audit::evidence::check_kek_placement(kek.as_deref(), &origin, &mut report);
            }
            Ok::<(), (u8, String)>(())
        })?;
    }
    for t in &a.probe_tls {
        let result = audit::tls_probe::probe(t, Duration::from_secs(5)).map_err(failed)?;
        result.raise(&mut report);
    }
    // Provenance and cross-checks once every input is in: the SHA-256 of each file read (the
    // description's is recorded as it is read), the Warden version, and description contradictions.
    report.record_file_inputs().map_err(failed)?;
    report.warden_version = env!("CARGO_PKG_VERSION").to_string();
    audit::contradiction::cross_check(&mut report);
    let rendered = audit::render::render(&report, a.format);
    let code = report.exit_code(a.fail_on.0) as u8;
    let worst = report.worst().map_or("none".to_string(), |w| w.to_string());
    let summary = format!(
        "audit: {} finding(s), worst {worst}, overall score {}/100, exit {code}",
        report.groups().len(),
        report.overall_score()
    );
    match &a.output {
        Some(path) => {
            std::fs::write(path, rendered).map_err(|e| (1, format!("{}: {e}", path.display())))?;
            Ok((code, String::new(), format!("{summary}; report written to {}", path.display())))
        }
        None if a.format == Format::Text => Ok((code, rendered, String::new())),
        None => Ok((code, rendered, summary)),
    }
}

fn fingerprint(a: &FingerprintArgs) -> Result<String, String> {
    let input = match &a.input {
        Some(p) => std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?,
        None => std::io::read_to_string(std::io::stdin()).map_err(|e| format!("standard input: {e}"))?,
    };
    let (salt, header) = match &a.salt {
        Some(s) => (s.clone(), String::new()),
        None => {
            let s = audit::fingerprint::new_salt()?;
            (s.clone(), format!("# put this salt in [lpwa.lorawan]:\n# fingerprint_salt = \"{s}\"\n\n"))
        }
    };
    Ok(format!("{header}{}", audit::fingerprint::devices_toml(&salt, &input)?))
}

fn checks(json: bool) -> String {
    if json {
        return serde_json::to_string_pretty(audit::CHECKS).expect("JSON");
    }
    let mut out = String::new();
    for c in audit::CHECKS {
        out.push_str(&format!(
            "{:<12} {:<7} {:<9} {:<15} {}\n",
            c.id,
            c.requirement,
            c.severity.as_str(),
            c.area.key(),
            c.title
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_credentials() {
        assert_eq!(redact("postgres://u:secret@db:5432/w"), "postgres://db:5432/w");
        assert_eq!(redact("sqlite://warden-data/warden.db"), "sqlite://warden-data/warden.db");
    }
}
