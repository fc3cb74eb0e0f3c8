//! # audit — Warden's network security audit (GSMA CLP.14 as an executable checklist)
//!
//! The operator describes its network in a versioned TOML document ([`model`], `version = 1`) and may
//! point the audit at the configurations of the cores it runs ([`import`]: OsmoBSC/OsmoMSC/osmo-sgsn/
//! osmo-hlr VTY configuration ([`osmo_vty`], [`osmo_cfg`]), osmo-hlr subscriber data ([`osmo_hlr`]);
//! [`open5gs`] YAML; [`pyhss`] subscriber data and
//! `config.yaml`; [`freediameter`] configuration; private keys in a [`config_tree`]), with the
//! [`key_hygiene`] of every subscriber import. Warden adds live evidence
//! where it can get it: its own subscriber store ([`evidence`], fed by the `warden` binary) and a TLS
//! probe of a loopback endpoint ([`tls_probe`]).
//!
//! Every finding comes from the [`catalogue`]: a stable check ID tied to a requirement ID of
//! REQUIREMENTS.md, a severity, the risk and the remediation. The [`report::Report`] scores each area
//! and renders as text, JSON, SARIF 2.1.0 or self-contained HTML ([`render`]); its exit status follows
//! the worst finding so the audit can gate a change.
//!
//! What it never does: hold or print a subscriber key or AppKey (AppKeys are compared by salted
//! [`fingerprint`]s), probe anything but loopback, or change the audited configuration.

pub mod catalogue;
pub mod checks;
pub mod config_tree;
pub mod contradiction;
pub mod evidence;
pub mod fingerprint;
pub mod foreign;
pub mod freediameter;
pub mod import;
pub mod key_hygiene;
pub mod model;
pub mod open5gs;
pub mod osmo_cfg;
pub mod osmo_hlr;
pub mod osmo_vty;
pub mod pyhss;
pub mod render;
pub mod report;
pub mod tls_probe;
pub mod yaml_lines;

pub use catalogue::{Area, Check, Severity, CHECKS};
pub use report::{Finding, Location, Report};

/// Why an audit could not run.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The description is malformed.
    #[error("{origin}: {message}")]
    Description {
        /// The file.
        origin: String,
        /// What is wrong, with the key path.
        message: String,
    },
    /// A core configuration or database could not be read.
    #[error("{origin}: {message}")]
    Import {
        /// The file.
        origin: String,
        /// What is wrong.
        message: String,
    },
    /// The TLS probe target was refused or unreachable.
    #[error("TLS probe: {0}")]
    Probe(String),
    /// Reading a file failed.
    #[error("{0}: {1}")]
    Io(String, std::io::Error),
}

/// Reads a description file, runs the description checks and returns the description with the report
/// to add evidence to (the description's SHA-256 recorded). Once the evidence is in, run
/// [`contradiction::cross_check`] so that imported facts contradicting the description are raised.
pub fn audit_description_file(path: &std::path::Path) -> Result<(model::Description, Report), AuditError> {
    let origin = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| AuditError::Io(origin.clone(), e))?;
    let d = model::parse(&text, &origin)?;
    let mut report = Report::new();
    report.operator = d.operator.clone();
    checks::check_description(&d, &origin, &text, &mut report);
    report.record_input(&origin, text.as_bytes());
    report.description_text = Some(text);
    Ok((d, report))
}
