//! Command-line definitions (clap). Names and flags here are an interface other tools drive: keep them.

use clap::{ArgGroup, Args, Parser, Subcommand};

use crate::hexarg::{hex_arg, HexBytes};

/// Warden: security core for IoT connectivity (HSS/AuC, EIR, roaming firewall, CMP, audits).
#[derive(Debug, Parser)]
#[command(name = "warden", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Top-level subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Authentication centre: run MILENAGE or TUAK on given inputs, or verify an AUTS.
    #[command(subcommand)]
    Auc(AucCommand),
}

/// `warden auc …`
#[derive(Debug, Subcommand)]
pub enum AucCommand {
    /// MILENAGE (TS 35.206): prints opc, mac_a, mac_s, res, ck, ik, ak, ak_star, autn as JSON.
    Milenage(MilenageArgs),
    /// TUAK (TS 35.231): prints topc, mac_a, mac_s, res, ck, ik, ak, ak_star, autn as JSON.
    Tuak(TuakArgs),
    /// Any other algorithm name: refused (COMP128, XOR) or unknown.
    #[command(external_subcommand)]
    Other(Vec<String>),
}

/// Inputs both algorithms share.
#[derive(Debug, Args)]
pub struct Common {
    /// Subscriber key K (hex).
    #[arg(long, value_name = "HEX", value_parser = hex_arg)]
    pub k: HexBytes,
    /// RAND, 16 bytes (hex).
    #[arg(long, value_name = "HEX", value_parser = hex_arg)]
    pub rand: HexBytes,
    /// SQN, 6 bytes (hex). Not needed with --auts.
    #[arg(long, value_name = "HEX", value_parser = hex_arg, required_unless_present = "auts")]
    pub sqn: Option<HexBytes>,
    /// AMF, 2 bytes (hex). Not needed with --auts.
    #[arg(long, value_name = "HEX", value_parser = hex_arg, required_unless_present = "auts")]
    pub amf: Option<HexBytes>,
    /// Verify this AUTS against RAND instead and print {"sqn_ms": "…"}.
    #[arg(long, value_name = "HEX", value_parser = hex_arg)]
    pub auts: Option<HexBytes>,
}

/// `warden auc milenage`
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("operator").required(true).args(["op", "opc"])))]
pub struct MilenageArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub common: Common,
    /// Operator variant OP, 16 bytes (hex); OPc is derived from it.
    #[arg(long, value_name = "HEX", value_parser = hex_arg)]
    pub op: Option<HexBytes>,
    /// OPc, 16 bytes (hex).
    #[arg(long, value_name = "HEX", value_parser = hex_arg)]
    pub opc: Option<HexBytes>,
}

/// `warden auc tuak`
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("operator").required(true).args(["top", "topc"])))]
pub struct TuakArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub common: Common,
    /// Operator variant TOP, 32 bytes (hex); TOPc is derived from it.
    #[arg(long, value_name = "HEX", value_parser = hex_arg)]
    pub top: Option<HexBytes>,
    /// TOPc, 32 bytes (hex).
    #[arg(long, value_name = "HEX", value_parser = hex_arg)]
    pub topc: Option<HexBytes>,
    /// MAC-A/MAC-S length in bits: 64, 128 or 256.
    #[arg(long, value_name = "N", default_value_t = 64)]
    pub mac_bits: u32,
    /// RES length in bits: 32, 64, 128 or 256.
    #[arg(long, value_name = "N", default_value_t = 64)]
    pub res_bits: u32,
    /// CK length in bits: 128 or 256.
    #[arg(long, value_name = "N", default_value_t = 128)]
    pub ck_bits: u32,
    /// IK length in bits: 128 or 256.
    #[arg(long, value_name = "N", default_value_t = 128)]
    pub ik_bits: u32,
    /// Number of Keccak-f[1600] iterations.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub iterations: u32,
}

/// Renders a clap error as one line: the message, with the argument names folded in, without
/// the usage block.
pub fn one_line(e: &clap::Error) -> String {
    let text = e.render().to_string();
    let body = text.split("\n\n").next().unwrap_or(&text);
    body.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" ")
}
