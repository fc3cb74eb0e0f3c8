//! `warden ota keys import`: a file with a bad row exits 2 naming the line and the column and writes
//! nothing; a good file imports every key set sealed (the key bytes never printed, never in the
//! database in clear); `warden keys reseal` re-seals them under a new KEK and they still open.

mod common;

use std::path::Path;

use common::warden;

const HEADER: &str = "imsi,keyset,kic,kid,tar,enc_key,mac_key\n";
const ENC: &str = "000102030405060708090a0b0c0d0e0f";
const MAC: &str = "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff";

fn config(dir: &Path, text: &str) {
    std::fs::write(dir.join("warden.toml"), format!("data_dir = \"data\"\n{text}")).unwrap();
}

async fn store(dir: &Path, kek: &str, id: u32) -> store::Store {
    let keys = store::seal::Keyring::new(store::seal::Kek::from_hex(id, kek).unwrap(), vec![]);
    store::Store::open(&format!("sqlite://{}/data/warden.db", dir.display()), keys).await.unwrap()
}

fn import(dir: &Path, name: &str, rows: &str) -> std::process::Output {
    let file = dir.join(name);
    std::fs::write(&file, format!("{HEADER}{rows}")).unwrap();
    warden(dir, &["ota", "keys", "import", file.to_str().unwrap()])
}

#[tokio::test]
async fn bad_rows_name_line_and_column_and_good_files_import_sealed() {
    let d = tempfile::tempdir().unwrap();
    let (old, new) = ("aa".repeat(32), "bb".repeat(32));
    std::fs::write(d.path().join("old.hex"), &old).unwrap();
    std::fs::write(d.path().join("new.hex"), &new).unwrap();
    config(d.path(), "[keys]\nkek_file = \"old.hex\"\nkek_id = 1\n");
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    assert!(warden(d.path(), &["profile", "import", examples.join("profiles.toml").to_str().unwrap()])
        .status
        .success());
    assert!(warden(d.path(), &["sim", "import", examples.join("sims.csv").to_str().unwrap()]).status.success());

    let good = format!("001010000000001,1,12,12,b00011;b00010,{ENC},{MAC}\n");
    for (rows, line, column) in [
        (format!("{good}001010000000002,1,12,12,b00011,{ENC},0011\n"), 3, "mac_key"),
        (format!("{good}001010000000002,1,22,12,b00011,{ENC},{MAC}\n"), 3, "kic"),
        (format!("001010000000002,1,12,12,b0001,{ENC},{MAC}\n{good}"), 2, "tar"),
        (format!("{good}001010000000002,16,12,12,b00011,{ENC},{MAC}\n"), 3, "keyset"),
        (format!("{good}001019999999999,1,12,12,b00011,{ENC},{MAC}\n"), 3, "imsi"),
        (format!("{good}{good}"), 3, "keyset"),
    ] {
        let out = import(d.path(), "bad.csv", &rows);
        let err = String::from_utf8_lossy(&out.stderr).to_string();
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains(&format!("line {line}: column {column}")), "{err}");
        assert!(!err.contains(ENC) && !err.contains(MAC), "keys never printed");
    }
    let s = store(d.path(), &old, 1).await;
    assert!(s.ota_keysets(&"001010000000001".parse().unwrap()).await.unwrap().is_empty(), "nothing was written");
    drop(s);

    let out = import(d.path(), "good.csv", &format!("{good}001010000000002,1,12,12,b00011,{ENC},{MAC}\n"));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "imported 2 OTA key sets");
    let raw = std::fs::read(d.path().join("data/warden.db")).unwrap();
    let enc = hex::decode(ENC).unwrap();
    assert!(!raw.windows(enc.len()).any(|w| w == enc), "the key is not in the database file in clear");

    // Rotation: re-sealed under the new KEK, and then the new KEK alone opens them.
    config(d.path(), "[keys]\nkek_file = \"new.hex\"\nkek_id = 2\n[[keys.previous]]\nid = 1\nfile = \"old.hex\"\n");
    let out = warden(d.path(), &["keys", "reseal"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let s = store(d.path(), &new, 2).await;
    let k = s.ota_keys(&"001010000000001".parse().unwrap(), 1).await.unwrap().unwrap();
    assert_eq!((hex::encode(&*k.enc), hex::encode(&*k.mac), k.tars.len()), (ENC.to_string(), MAC.to_string(), 2));
}
