//! `warden ota keys import FILE.csv`: OTA key sets per SIM from a CSV file with the header
//! `imsi,keyset,kic,kid,tar,enc_key,mac_key` (`tar`: one or more TARs of 6 hex digits separated by
//! `;`; `kic`, `kid`: one byte in hex whose key index, the high nibble, is the key-set number; keys in
//! hex, of the length the algorithm takes). The whole file is checked first — every row, every column,
//! and that every SIM exists — and a bad row exits 2 naming its line and column with nothing written;
//! then all rows are written in one transaction, the keys sealed like K/OPc. Keys are never printed.

use std::collections::HashSet;
use std::path::Path;

use ota::{kic_algorithm, kid_algorithm, Field, Integrity};
use store::ota::{NewOtaKeyset, OtaKeys};
use store::Store;
use zeroize::Zeroizing;

use crate::Failure;

/// The columns, in any order.
pub const COLUMNS: [&str; 7] = ["imsi", "keyset", "kic", "kid", "tar", "enc_key", "mac_key"];

fn hex_byte(col: &str, s: &str) -> Result<u8, String> {
    match hex::decode(s) {
        Ok(b) if b.len() == 1 => Ok(b[0]),
        _ => Err(format!("column {col}: {s:?} is not one byte of hex")),
    }
}

fn key(col: &str, s: &str) -> Result<Zeroizing<Vec<u8>>, String> {
    hex::decode(s).map(Zeroizing::new).map_err(|_| format!("column {col}: not hex"))
}

/// Parses one row (fields by column name).
fn row(fields: &std::collections::HashMap<&str, &str>) -> Result<NewOtaKeyset, String> {
    let get = |c: &str| fields.get(c).copied().unwrap_or("");
    let imsi = get("imsi").parse::<ids::Imsi>().map_err(|e| format!("column imsi: {e}"))?;
    let keyset: u8 = get("keyset")
        .parse()
        .ok()
        .filter(|n| (1..=15).contains(n))
        .ok_or_else(|| format!("column keyset: {:?} is not a key-set number 1-15", get("keyset")))?;
    let kic = hex_byte("kic", get("kic"))?;
    let kid = hex_byte("kid", get("kid"))?;
    for (col, b) in [("kic", kic), ("kid", kid)] {
        if b >> 4 != keyset {
            return Err(format!("column {col}: key index {} of {b:02x} is not key set {keyset}", b >> 4));
        }
    }
    let tars = get("tar")
        .split(';')
        .map(|t| {
            hex::decode(t.trim())
                .ok()
                .and_then(|b| <[u8; 3]>::try_from(b.as_slice()).ok())
                .ok_or_else(|| format!("column tar: {t:?} is not a TAR of 6 hex digits"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let enc = key("enc_key", get("enc_key"))?;
    let mac = key("mac_key", get("mac_key"))?;
    let cipher = kic_algorithm(kic).map_err(|e| format!("column kic: {e}"))?;
    cipher.check_key(&enc, Field::EncKey).map_err(|e| format!("column enc_key: {e}"))?;
    match kid_algorithm(kid, Integrity::Cc, Field::Kid).map_err(|e| format!("column kid: {e}"))? {
        Some(ota::CheckAlgorithm::Cc(alg)) => {
            alg.check_key(&mac, Field::MacKey).map_err(|e| format!("column mac_key: {e}"))?
        }
        _ => return Err("column kid: not a CC algorithm".into()),
    }
    Ok(NewOtaKeyset { imsi, keys: OtaKeys { keyset, kic, kid, tars, enc, mac } })
}

/// Reads and checks the whole file: the key sets, or the first bad row as `line N: column C: …`.
pub fn read(path: &Path) -> Result<Vec<(u64, NewOtaKeyset)>, String> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_path(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let headers = reader.headers().map_err(|e| format!("{}: {e}", path.display()))?.clone();
    let mut index = Vec::new();
    for c in COLUMNS {
        let i = headers
            .iter()
            .position(|h| h == c)
            .ok_or_else(|| format!("{}: header has no {c:?} column", path.display()))?;
        index.push((c, i));
    }
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| format!("line {}: {e}", e.position().map_or(0, |p| p.line())))?;
        let line = record.position().map_or(0, |p| p.line());
        let fields = index.iter().map(|(c, i)| (*c, record.get(*i).unwrap_or(""))).collect();
        let set = row(&fields).map_err(|e| format!("line {line}: {e}"))?;
        if !seen.insert((set.imsi.clone(), set.keys.keyset)) {
            return Err(format!(
                "line {line}: column keyset: key set {} of {} appears twice",
                set.keys.keyset, set.imsi
            ));
        }
        out.push((line, set));
    }
    if out.is_empty() {
        return Err(format!("{}: no key sets", path.display()));
    }
    Ok(out)
}

/// `warden ota keys import`: checks the file and that every SIM exists, then writes all in one
/// transaction with an audit entry.
pub async fn import(store: &Store, path: &Path) -> Result<String, Failure> {
    let rows = read(path).map_err(Failure::Usage)?;
    for (line, set) in &rows {
        if store.sim(&set.imsi).await.map_err(|e| Failure::Failed(e.to_string()))?.is_none() {
            return Err(Failure::Usage(format!("line {line}: column imsi: no SIM {} in the store", set.imsi)));
        }
    }
    let sets: Vec<NewOtaKeyset> = rows.into_iter().map(|(_, s)| s).collect();
    let mut tx = store.begin().await.map_err(|e| Failure::Failed(e.to_string()))?;
    let n = tx.put_ota_keysets(&sets).await.map_err(|e| Failure::Failed(format!("{e}; nothing was imported")))?;
    let summary = format!("imported {n} OTA key sets");
    let entry = cmp::Actor::cli().audit_entry("*", "ota.keys.import", &path.display().to_string(), (), &summary);
    tx.append_audit(&entry).await.map_err(|e| Failure::Failed(format!("{e}; nothing was imported")))?;
    tx.commit().await.map_err(|e| Failure::Failed(format!("{e}; nothing was imported")))?;
    Ok(summary)
}
