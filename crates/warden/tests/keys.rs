//! Key rotation from the command line: SIMs sealed under an old KEK are re-sealed under the new one
//! while both are configured, after which the old KEK can be removed; a missing or malformed KEK is a
//! clear error, and keys never appear in output.

mod common;

use common::warden;

use std::path::Path;

fn config(dir: &Path, text: &str) {
    std::fs::write(dir.join("warden.toml"), format!("data_dir = \"data\"\n{text}")).unwrap();
}

async fn opens(dir: &Path, kek_hex: &str) -> bool {
    let keys = store::seal::Keyring::new(store::seal::Kek::from_hex(2, kek_hex).unwrap(), vec![]);
    let s = store::Store::open(&format!("sqlite://{}/data/warden.db", dir.display()), keys).await.unwrap();
    s.auth_material(&"001010000000001".parse().unwrap()).await.is_ok()
}

#[tokio::test]
async fn rotate_then_retire_the_old_kek() {
    let d = tempfile::tempdir().unwrap();
    let (old, new) = ("aa".repeat(32), "bb".repeat(32));
    std::fs::write(d.path().join("old.hex"), &old).unwrap();
    std::fs::write(d.path().join("new.hex"), &new).unwrap();
    config(d.path(), "[keys]\nkek_file = \"old.hex\"\nkek_id = 1\n");
    let sims = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/sims.csv");
    let profiles = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/profiles.toml");
    assert!(warden(d.path(), &["profile", "import", profiles.to_str().unwrap()]).status.success());
    assert!(warden(d.path(), &["sim", "import", sims.to_str().unwrap()]).status.success());
    assert!(!opens(d.path(), &new).await, "sealed under the old KEK");

    config(d.path(), "[keys]\nkek_file = \"new.hex\"\nkek_id = 2\n[[keys.previous]]\nid = 1\nfile = \"old.hex\"\n");
    let out = warden(d.path(), &["keys", "reseal", "--batch", "2"]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(text.trim(), "re-sealed 3 SIMs with KEK 2");
    assert!(!text.contains(&old) && !text.contains(&new));
    assert!(opens(d.path(), &new).await, "the new KEK alone opens every SIM");

    // A malformed KEK file is refused with the reason, exit 1.
    std::fs::write(d.path().join("bad.hex"), "abcd").unwrap();
    config(d.path(), "[keys]\nkek_file = \"bad.hex\"\n");
    let out = warden(d.path(), &["keys", "reseal"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("64 hex characters"));
}

#[test]
fn external_storage_without_a_kek_is_refused() {
    let d = tempfile::tempdir().unwrap();
    config(d.path(), "[storage]\nurl = \"postgres://postgres@127.0.0.1:5432/test\"\n");
    let out = warden(d.path(), &["sim", "show", "001010000000001"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("key-encryption key is required"));
}
