//! Wireshark's `tshark` as an independent reader of what Warden writes: finding it (a test is
//! skipped with a `SKIPPED` line when it is missing, and fails instead when `CI` is set) and reading
//! fields of every Diameter frame of a capture (TCP port 3868 decoded as Diameter).

use std::path::{Path, PathBuf};
use std::process::Command;

/// The `tshark` on `PATH`; `None` (after printing why `what` is not checked) when there is none.
/// Panics when `CI` is set and tshark is missing (Debian package tshark).
pub fn find(what: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH")
        .and_then(|paths| std::env::split_paths(&paths).map(|d| d.join("tshark")).find(|p| p.is_file()));
    if found.is_none() {
        assert!(std::env::var_os("CI").is_none(), "tshark is not installed but CI is set (Debian package tshark)");
        println!("SKIPPED: tshark not found on PATH (Debian package tshark); {what} not checked");
    }
    found
}

/// The values of the fields `names` in every frame of `capture` (port 3868 read as Diameter), one
/// row per frame, a field's occurrences joined with `;`.
pub fn fields(tshark: &Path, capture: &Path, names: &[&str]) -> Vec<Vec<String>> {
    let mut c = Command::new(tshark);
    c.arg("-r").arg(capture);
    c.args(["-n", "-d", "tcp.port==3868,diameter", "-T", "fields", "-E", "separator=/t"]);
    c.args(["-E", "occurrence=a", "-E", "aggregator=;"]);
    for n in names {
        c.args(["-e", n]);
    }
    let out = c.output().expect("tshark runs");
    assert!(out.status.success(), "tshark failed: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).expect("tshark writes UTF-8");
    text.lines().map(|l| l.split('\t').map(str::to_string).collect()).collect()
}
