//! Helpers shared by the process-level tests: run the `warden` binary in a working directory, and
//! prepare one with a known key-encryption key.

#![allow(dead_code)]

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

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

/// A `warden serve` process, killed when dropped.
pub struct Server(pub Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Server {
    /// Starts `warden --config warden.toml serve` in `dir`, output discarded.
    pub fn start(dir: &Path) -> Server {
        Server(
            Command::new(env!("CARGO_BIN_EXE_warden"))
                .current_dir(dir)
                .args(["--config", "warden.toml", "serve"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start warden serve"),
        )
    }
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}
