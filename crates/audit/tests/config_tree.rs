//! Private keys in a configuration tree: Open5GS's shipped `hnet/` SUCI keys and `tls/ca.key`
//! (tests/data/open5gs/etc-open5gs, see tests/data/README.md). No key content is ever reported.

use std::path::{Path, PathBuf};

use audit::Report;

fn data() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/open5gs/etc-open5gs")
}

/// Copies the shipped tree to `to` with explicit modes (a checkout's umask must not decide).
fn copy_tree(from: &Path, to: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &target, mode);
        } else {
            std::fs::copy(e.path(), &target).unwrap();
            std::fs::set_permissions(&target, std::fs::Permissions::from_mode(mode)).unwrap();
        }
    }
}

#[test]
fn shipped_open5gs_keys() {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&data(), dir.path(), 0o600);
    let mut r = Report::new();
    audit::config_tree::config_tree(dir.path(), &mut r).unwrap();
    let by = |id: &str| -> Vec<String> {
        r.findings.iter().filter(|f| f.check.id == id).map(|f| f.location.path.clone()).collect()
    };
    // Every shipped key is recognised as published, whatever its name or format (PKCS#8 X25519,
    // SEC1 P-256 after EC PARAMETERS, RSA); the certificates and the YAML are not keys.
    assert_eq!(
        by("WA-SEC-061"),
        [
            "hnet/curve25519-1.key",
            "hnet/curve25519-3.key",
            "hnet/curve25519-5.key",
            "hnet/secp256r1-2.key",
            "hnet/secp256r1-4.key",
            "hnet/secp256r1-6.key",
            "tls/amf.key",
            "tls/ca.key"
        ]
    );
    assert_eq!(by("WA-SEC-060"), ["tls/ca.key"]);
    assert!(by("WA-SEC-062").is_empty() && by("WA-SEC-063").is_empty());
    assert_eq!(r.worst(), Some(audit::Severity::Critical));
    for f in &r.findings {
        assert!(!f.detail.contains("BEGIN") && !f.detail.contains("MC4CAQAw"), "{}", f.detail);
    }
}

#[test]
fn readable_own_and_raw_keys() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&data().join("hnet"), &dir.path().join("hnet"), 0o644);
    // A key of the operator's own (not published), private, and a raw 32-byte key file.
    let own = rcgen::KeyPair::generate().unwrap().serialize_pem();
    std::fs::write(dir.path().join("own.pem"), own).unwrap();
    std::fs::set_permissions(dir.path().join("own.pem"), std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::write(dir.path().join("home.key"), [0x5au8; 32]).unwrap();
    std::fs::set_permissions(dir.path().join("home.key"), std::fs::Permissions::from_mode(0o640)).unwrap();
    let mut r = Report::new();
    audit::config_tree::config_tree(dir.path(), &mut r).unwrap();
    let readable: Vec<&str> =
        r.findings.iter().filter(|f| f.check.id == "WA-SEC-062").map(|f| f.location.path.as_str()).collect();
    assert_eq!(readable.len(), 6, "the six shipped hnet keys are world-readable: {readable:?}");
    let info: Vec<&str> =
        r.findings.iter().filter(|f| f.check.id == "WA-SEC-063").map(|f| f.location.path.as_str()).collect();
    assert_eq!(info, ["home.key", "own.pem"]);

    let empty = tempfile::tempdir().unwrap();
    let mut r = Report::new();
    audit::config_tree::config_tree(empty.path(), &mut r).unwrap();
    assert!(r.findings.is_empty() && r.notes[0].contains("no private key"));
    let e = audit::config_tree::config_tree(&empty.path().join("none"), &mut r).unwrap_err().to_string();
    assert!(e.contains("not a directory"), "{e}");
}
