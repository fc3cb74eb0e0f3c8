//! The Osmocom importers of VTY configuration files ([`crate::osmo_vty`]): OsmoBSC and OsmoMSC
//! (`network` node), osmo-sgsn (`sgsn` node) and osmo-hlr (`hlr` / `gsup` node).
//!
//! They audit the *effective* configuration: a security setting absent from the file is taken at the
//! program's default, read from its source for the versions named in [`defaults`], and the finding says
//! `implicit` (and `unverified` where the default changed between versions, so the running version
//! decides). An absent setting is never a silent pass nor a mere note.
//!
//! - OsmoBSC/OsmoMSC `encryption a5 <0-4>…`: the set the BSC/MSC may choose from (any weak member is
//!   offered to some phone). OsmoMSC `encryption uea <0-2>…` and `authentication optional|required`:
//!   OsmoMSC authenticates a 2G phone when authentication is required *or* when ciphering is (an A5 set
//!   with any A5/n, n ≥ 1, needs a key); 3G is always authenticated.
//! - osmo-sgsn `auth-policy accept-all|closed|acl-only|remote` (only `remote` authenticates, and only
//!   with `authentication required`), `encryption gea <0-4>…` (and the deprecated `encryption GEAn`,
//!   which adds GEAn to the set), `encryption uea <0-2>…`.
//! - osmo-hlr `hlr` / `gsup` / `bind ip A.B.C.D`: GSUP (unauthenticated: whoever reaches it can fetch
//!   authentication vectors) bound beyond loopback.

use std::net::Ipv4Addr;
use std::path::Path;

use crate::checks;
use crate::model::{Gea, Uea, A5};
use crate::osmo_vty::{self, Command};
use crate::report::{Location, Report};
use crate::AuditError;

/// Which Osmocom program a VTY configuration belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Osmo {
    /// OsmoBSC.
    Bsc,
    /// OsmoMSC.
    Msc,
    /// osmo-sgsn.
    Sgsn,
    /// osmo-hlr (its configuration file, not its database).
    Hlr,
}

impl Osmo {
    /// The report's source name.
    pub fn source(&self) -> &'static str {
        match self {
            Osmo::Bsc => "osmo-bsc",
            Osmo::Msc => "osmo-msc",
            Osmo::Sgsn => "osmo-sgsn",
            Osmo::Hlr => "osmo-hlr-cfg",
        }
    }

    /// The config node holding the audited settings.
    fn node(&self) -> &'static str {
        match self {
            Osmo::Bsc | Osmo::Msc => "network",
            Osmo::Sgsn => "sgsn",
            Osmo::Hlr => "hlr",
        }
    }
}

/// The program defaults the importers apply to absent settings, with the versions whose source they were
/// read from (Debian 12 "bookworm" ships OsmoBSC 1.9.0, OsmoMSC 1.9.0, osmo-sgsn 1.9.0, osmo-hlr 1.5.0).
pub mod defaults {
    /// OsmoBSC `encryption a5`: A5/1 and A5/3 (`net_init.c`, unchanged from 1.2.0 to 1.14.1).
    pub const BSC_A5: (&[u8], &str) = (&[1, 3], "OsmoBSC default since 1.2.0 (1.9.0 in Debian 12)");
    /// OsmoMSC `encryption a5`: A5/1 and A5/3 (`msc_net_init.c`, unchanged from 1.2.0 to 1.16.0).
    pub const MSC_A5: (&[u8], &str) = (&[1, 3], "OsmoMSC default since 1.2.0 (1.9.0 in Debian 12)");
    /// OsmoMSC `encryption uea`: UEA1 and UEA2.
    pub const MSC_UEA: (&[u8], &str) = (&[1, 2], "OsmoMSC default (1.9.0 in Debian 12)");
    /// OsmoMSC `authentication`: optional (zero-initialised `authentication_required`).
    pub const MSC_AUTH: &str = "OsmoMSC default: optional (1.9.0 in Debian 12, unchanged to 1.16.0)";
    /// osmo-sgsn `auth-policy`: closed (IMSIs of the home network or the ACL, never authenticated).
    pub const SGSN_POLICY: (&str, &str) = ("closed", "osmo-sgsn default (1.9.0 in Debian 12, unchanged to 1.13.0)");
    /// osmo-sgsn `authentication`: required since 1.5.0 (optional before); applies to `auth-policy remote`.
    pub const SGSN_AUTH: (&str, &str) = ("required", "osmo-sgsn default since 1.5.0 (optional before)");
    /// osmo-sgsn `encryption gea`: GEA0 only, i.e. no ciphering (all versions up to 1.13.0).
    pub const SGSN_GEA: (&[u8], &str) =
        (&[0], "osmo-sgsn default: GEA0 only (1.9.0 in Debian 12, unchanged to 1.13.0)");
    /// osmo-sgsn `encryption uea`: UEA0 only up to 1.11; UEA1 and UEA2 from 1.12.0. The 1.9.0 value is
    /// applied and the finding says `unverified`.
    pub const SGSN_UEA: (&[u8], &str) = (
        &[0],
        "unverified: osmo-sgsn up to 1.11 (1.9.0 in Debian 12) allows UEA0 only; 1.12.0 and later allow UEA1 and UEA2",
    );
    /// osmo-hlr `hlr` / `gsup` / `bind ip`: none, so GSUP listens on every address (`INADDR_ANY`).
    pub const HLR_GSUP: &str = "osmo-hlr default: no address, so GSUP listens on every interface (1.5.0 in Debian 12)";
}

fn import_error(path: &Path, message: impl Into<String>) -> AuditError {
    AuditError::Import { origin: path.display().to_string(), message: message.into() }
}

/// The setting's value: from a line of the file, or the program default.
#[derive(Debug, Clone)]
enum Origin {
    Line(u32),
    Default(&'static str),
}

impl Origin {
    fn line(&self, node_line: Option<u32>) -> Option<u32> {
        match self {
            Origin::Line(l) => Some(*l),
            Origin::Default(_) => node_line,
        }
    }

    /// Appended to a finding's detail.
    fn suffix(&self, what: &str) -> String {
        match self {
            Origin::Line(_) => String::new(),
            Origin::Default(why) => format!(" [implicit: no `{what}` line; {why}]"),
        }
    }
}

struct Raise<'a> {
    report: &'a mut Report,
    source: &'static str,
    file: String,
    node: &'static str,
    node_line: Option<u32>,
}

impl Raise<'_> {
    fn hit(&mut self, id: &str, setting: &str, origin: &Origin, detail: String) {
        let path = match origin {
            Origin::Line(_) => format!("{}.{setting}", self.node),
            Origin::Default(_) => format!("{}.{setting} (default)", self.node),
        };
        let location = Location { file: Some(self.file.clone()), line: origin.line(self.node_line), path };
        let detail = format!("{detail}{}", origin.suffix(setting));
        self.report.raise(id, self.source, location, detail);
    }
}

/// Parses `<0-max>` algorithm numbers.
fn numbers(path: &Path, cmd: &Command, prefix: &[&str], max: u8) -> Result<Vec<u8>, AuditError> {
    let args = cmd.args(prefix);
    if args.is_empty() || args.len() > 5 {
        return Err(import_error(
            path,
            format!("line {}: `{}` takes 1 to 5 algorithm numbers", cmd.line, prefix.join(" ")),
        ));
    }
    let mut out: Vec<u8> = args
        .iter()
        .map(|w| match w.parse::<u8>() {
            Ok(n) if n <= max => Ok(n),
            _ => Err(import_error(path, format!("line {}: {w:?} is not an algorithm number 0..{max}", cmd.line))),
        })
        .collect::<Result<_, _>>()?;
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// The last command of `cmds` starting with `prefix` (a later command overrides an earlier one).
fn last<'a>(cmds: &'a [&'a Command], prefix: &[&str]) -> Option<&'a Command> {
    cmds.iter().rev().find(|c| c.starts_with(prefix)).copied()
}

/// A one-word choice among `allowed`.
fn choice(path: &Path, cmd: &Command, prefix: &[&str], allowed: &[&str]) -> Result<String, AuditError> {
    match cmd.args(prefix).as_slice() {
        [v] if allowed.contains(v) => Ok(v.to_string()),
        other => Err(import_error(
            path,
            format!("line {}: `{} {}` (expected {})", cmd.line, prefix.join(" "), other.join(" "), allowed.join("|")),
        )),
    }
}

/// Reads an OsmoBSC, OsmoMSC, osmo-sgsn or osmo-hlr configuration file.
pub fn osmo_vty(path: &Path, kind: Osmo, report: &mut Report) -> Result<(), AuditError> {
    let text = std::fs::read_to_string(path).map_err(|e| AuditError::Io(path.display().to_string(), e))?;
    let file = path.display().to_string();
    report.input(kind.source(), &file);
    let tree = osmo_vty::parse(&text).map_err(|e| import_error(path, e))?;
    let nodes: Vec<&Command> = tree.iter().filter(|c| c.words == [kind.node()]).collect();
    if nodes.is_empty() && kind != Osmo::Hlr {
        let program = match kind {
            Osmo::Bsc | Osmo::Msc => "an OsmoBSC/OsmoMSC",
            _ => "an osmo-sgsn",
        };
        return Err(import_error(path, format!("no `{}` node: is this {program} configuration?", kind.node())));
    }
    // A node entered twice accumulates its commands.
    let cmds: Vec<&Command> = nodes.iter().flat_map(|n| n.children.iter()).collect();
    let mut out =
        Raise { report, source: kind.source(), file, node: kind.node(), node_line: nodes.first().map(|n| n.line) };
    match kind {
        Osmo::Bsc => a5(path, &cmds, defaults::BSC_A5, &mut out).map(|_| ()),
        Osmo::Msc => msc(path, &cmds, &mut out),
        Osmo::Sgsn => sgsn(path, &cmds, &mut out),
        Osmo::Hlr => hlr(path, &cmds, &mut out),
    }
}

/// `encryption a5`: returns the effective set.
fn a5(path: &Path, cmds: &[&Command], default: (&[u8], &'static str), out: &mut Raise) -> Result<Vec<u8>, AuditError> {
    let prefix = ["encryption", "a5"];
    let (set, origin) = match last(cmds, &prefix) {
        Some(c) => (numbers(path, c, &prefix, 4)?, Origin::Line(c.line)),
        None => (default.0.to_vec(), Origin::Default(default.1)),
    };
    let algs: Vec<A5> = set.iter().map(|n| A5::ALL[*n as usize]).collect();
    for (id, detail) in checks::gsm_ciphering(&algs) {
        out.hit(id, "encryption a5", &origin, detail);
    }
    Ok(set)
}

/// `encryption uea` as a set (UEA0 alone: no ciphering at all).
fn uea(path: &Path, cmds: &[&Command], default: (&[u8], &'static str), out: &mut Raise) -> Result<(), AuditError> {
    let prefix = ["encryption", "uea"];
    let (set, origin) = match last(cmds, &prefix) {
        Some(c) => (numbers(path, c, &prefix, 2)?, Origin::Line(c.line)),
        None => (default.0.to_vec(), Origin::Default(default.1)),
    };
    let names = set.iter().map(|n| Uea::ALL[*n as usize].to_string()).collect::<Vec<_>>().join(", ");
    if set == [0] {
        out.hit("WA-ALG-010", "encryption uea", &origin, format!("UEA set [{names}]: UEA0 only, no 3G ciphering"));
    } else if set.contains(&0) {
        out.hit("WA-ALG-011", "encryption uea", &origin, format!("UEA set [{names}] includes UEA0"));
    }
    Ok(())
}

fn msc(path: &Path, cmds: &[&Command], out: &mut Raise) -> Result<(), AuditError> {
    let set = a5(path, cmds, defaults::MSC_A5, out)?;
    uea(path, cmds, defaults::MSC_UEA, out)?;
    let prefix = ["authentication"];
    let (required, origin) = match last(cmds, &prefix) {
        Some(c) => (choice(path, c, &prefix, &["optional", "required"])? == "required", Origin::Line(c.line)),
        None => (false, Origin::Default(defaults::MSC_AUTH)),
    };
    if required {
        return Ok(());
    }
    let names = set.iter().map(|n| A5::ALL[*n as usize].to_string()).collect::<Vec<_>>().join(", ");
    if set.iter().all(|n| *n == 0) {
        out.hit(
            "WA-ALG-009",
            "authentication",
            &origin,
            format!("authentication optional with A5 set [{names}]: 2G phones are neither authenticated nor ciphered"),
        );
    } else {
        out.hit(
            "WA-ALG-060",
            "authentication",
            &origin,
            format!(
                "authentication optional: 2G phones are authenticated only because the A5 set [{names}] needs a \
                 ciphering key"
            ),
        );
    }
    Ok(())
}

fn sgsn(path: &Path, cmds: &[&Command], out: &mut Raise) -> Result<(), AuditError> {
    let policy_prefix = ["auth-policy"];
    let (policy, p_origin) = match last(cmds, &policy_prefix) {
        Some(c) => {
            (choice(path, c, &policy_prefix, &["accept-all", "closed", "acl-only", "remote"])?, Origin::Line(c.line))
        }
        None => (defaults::SGSN_POLICY.0.to_string(), Origin::Default(defaults::SGSN_POLICY.1)),
    };
    let auth_prefix = ["authentication"];
    let (auth, a_origin) = match last(cmds, &auth_prefix) {
        Some(c) => (choice(path, c, &auth_prefix, &["optional", "required"])?, Origin::Line(c.line)),
        None => (defaults::SGSN_AUTH.0.to_string(), Origin::Default(defaults::SGSN_AUTH.1)),
    };
    match policy.as_str() {
        "accept-all" => {
            out.hit(
                "WA-ALG-062",
                "auth-policy",
                &p_origin,
                "auth-policy accept-all: every IMSI may attach to GPRS".to_string(),
            );
            out.hit(
                "WA-ALG-009",
                "auth-policy",
                &p_origin,
                "auth-policy accept-all: GPRS attach without authentication".to_string(),
            );
        }
        "closed" | "acl-only" => out.hit(
            "WA-ALG-009",
            "auth-policy",
            &p_origin,
            format!("auth-policy {policy}: subscribers are admitted by IMSI and never authenticated (only `remote` authenticates)"),
        ),
        _ if auth == "optional" => out.hit(
            "WA-ALG-009",
            "authentication",
            &a_origin,
            "auth-policy remote with authentication optional: GPRS attach without authentication".to_string(),
        ),
        _ => {}
    }
    // GEA: `encryption gea …` replaces the set, the deprecated `encryption GEAn` adds to it.
    let mut set: Vec<u8> = defaults::SGSN_GEA.0.to_vec();
    let mut origin = Origin::Default(defaults::SGSN_GEA.1);
    for c in cmds.iter().filter(|c| c.starts_with(&["encryption"])) {
        let args = c.args(&["encryption"]);
        match args.as_slice() {
            ["gea", ..] => {
                set = numbers(path, c, &["encryption", "gea"], 4)?;
                origin = Origin::Line(c.line);
            }
            [one] if one.len() == 4 && one.starts_with("GEA") => match one[3..].parse::<u8>() {
                Ok(n) if n <= 4 => {
                    set.push(n);
                    set.sort_unstable();
                    set.dedup();
                    origin = Origin::Line(c.line);
                }
                _ => return Err(import_error(path, format!("line {}: unknown cipher {one:?} (GEA0..GEA4)", c.line))),
            },
            _ => {}
        }
    }
    let algs: Vec<Gea> = set.iter().map(|n| Gea::ALL[*n as usize]).collect();
    for (id, detail) in checks::gprs_ciphering(&algs) {
        out.hit(id, "encryption gea", &origin, detail);
    }
    uea(path, cmds, defaults::SGSN_UEA, out)
}

fn hlr(path: &Path, cmds: &[&Command], out: &mut Raise) -> Result<(), AuditError> {
    let gsup: Vec<&Command> = cmds.iter().filter(|c| c.words == ["gsup"]).flat_map(|g| g.children.iter()).collect();
    if let Some(g) = cmds.iter().find(|c| c.words == ["gsup"]) {
        out.node_line = Some(g.line);
    }
    out.node = "hlr.gsup";
    let prefix = ["bind", "ip"];
    let (addr, origin) = match last(&gsup, &prefix) {
        Some(c) => {
            let arg = c.args(&prefix);
            let ip = match arg.as_slice() {
                [a] => a.parse::<Ipv4Addr>().ok(),
                _ => None,
            }
            .ok_or_else(|| {
                import_error(path, format!("line {}: `bind ip` takes one IPv4 address (A.B.C.D)", c.line))
            })?;
            (Some(ip), Origin::Line(c.line))
        }
        None => (None, Origin::Default(defaults::HLR_GSUP)),
    };
    let detail = match addr {
        Some(ip) if ip.is_loopback() => return Ok(()),
        Some(ip) if ip.is_unspecified() => format!("GSUP bound to {ip}: every interface"),
        Some(ip) => format!("GSUP bound to {ip}, not a loopback address"),
        None => "GSUP bound to every interface".to_string(),
    };
    out.hit("WA-NET-060", "bind ip", &origin, detail);
    Ok(())
}
