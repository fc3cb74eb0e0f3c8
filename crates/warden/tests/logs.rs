//! Logs written to a pipe or a file are plain text: no ANSI colour codes (colour only on a terminal).

use std::process::Command;

#[test]
fn logs_to_a_pipe_have_no_colour_codes() {
    // No kek_file: the first command creates a key-encryption key and logs a warning about it.
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("warden.toml"), "data_dir = \"data\"\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_warden"))
        .current_dir(d.path())
        .args(["--config", "warden.toml", "sim", "show", "001010000000001"])
        .env("RUST_LOG", "info")
        .env_remove("NO_COLOR")
        .output()
        .expect("run warden");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("created a key-encryption key"), "the warning is logged: {err}");
    assert!(err.contains("WARN"), "with its level: {err}");
    assert!(!out.stderr.contains(&0x1b), "no ESC byte in piped logs: {err:?}");
}
