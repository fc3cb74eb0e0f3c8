//! `warden`: the single binary of the Warden security core. Each capability is a subcommand;
//! today that is the authentication centre (`warden auc …`).
//!
//! Exit codes: 0 success, 1 the operation failed (for example an AUTS whose MAC-S does not verify),
//! 2 the command line was wrong (missing argument, bad hex, wrong length); errors are one line.

mod auc_cmd;
mod cli;
mod hexarg;

use std::process::ExitCode;

use clap::Parser;

/// A failure with the exit code it maps to.
#[derive(Debug)]
pub enum Failure {
    /// The command line was wrong (exit 2).
    Usage(String),
    /// The operation itself failed (exit 1).
    Failed(String),
}

fn main() -> ExitCode {
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            // --help and --version: print as clap formats them.
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) if e.kind() == clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = e.print();
            return ExitCode::from(2);
        }
        Err(e) => {
            eprintln!("{}", cli::one_line(&e));
            return ExitCode::from(2);
        }
    };
    let result = match cli.command {
        cli::Command::Auc(cmd) => auc_cmd::run(cmd),
    };
    match result {
        Ok(json) => {
            println!("{json}");
            ExitCode::SUCCESS
        }
        Err(Failure::Usage(msg)) => {
            eprintln!("error: {msg}");
            ExitCode::from(2)
        }
        Err(Failure::Failed(msg)) => {
            eprintln!("error: {msg}");
            ExitCode::from(1)
        }
    }
}
