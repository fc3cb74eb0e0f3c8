//! Helpers shared by the process-level tests: run the `warden` binary in a working directory, and
//! prepare one with a known key-encryption key.

#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

/// Runs `warden --config warden.toml ARGS` in `dir`.
pub fn warden(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_warden"))
        .current_dir(dir)
        .args(["--config", "warden.toml"])
        .args(args)
        .output()
        .expect("run warden")
}

/// A temporary directory with `kek.hex` (the byte `kek_byte` repeated) and a `warden.toml` that stores
/// data under `data/` and reads that KEK.
pub fn workspace(kek_byte: &str) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("kek.hex"), kek_byte.repeat(32)).unwrap();
    std::fs::write(d.path().join("warden.toml"), "data_dir = \"data\"\n[keys]\nkek_file = \"kek.hex\"\n").unwrap();
    d
}
