//! What an item writes on its SIM ([`ItemPayload`], stored as JSON with the item) and the RFM
//! commands (TS 102 226 with TS 102 221 APDUs) that write it: per file a SELECT by path and UPDATE
//! BINARY in chunks.

use ota::rfm::{select_path, update_binary, CardClass};
use ota::Apdu;
use serde::{Deserialize, Serialize};

/// Largest UPDATE BINARY data per APDU.
const CHUNK: usize = 200;

/// One transparent-file write.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileWrite {
    /// The file's path from the MF, FIDs in hex joined by `/` (`3F00/7FFF/6F61`; 7FFF is the current
    /// ADF).
    pub path: String,
    /// Offset in the file.
    #[serde(default)]
    pub offset: u16,
    /// The bytes, hex.
    pub data: String,
}

/// What one SIM gets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItemPayload {
    /// The writes, in order, in one command packet.
    pub writes: Vec<FileWrite>,
}

/// A payload that cannot be coded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PayloadError(pub String);

/// Parses `3F00/7FFF/6F61` into FIDs; the path starts at the MF.
pub fn parse_path(path: &str) -> Result<Vec<u16>, PayloadError> {
    let fids = path
        .split('/')
        .map(|f| {
            if f.len() != 4 {
                return Err(PayloadError(format!("path {path:?}: {f:?} is not a 4-digit hex file identifier")));
            }
            u16::from_str_radix(f, 16).map_err(|_| PayloadError(format!("path {path:?}: {f:?} is not hex")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if fids.first() != Some(&0x3F00) || fids.len() < 2 || fids.len() > 8 {
        return Err(PayloadError(format!("path {path:?} must start at 3F00 and name 2 to 8 files")));
    }
    Ok(fids)
}

/// The canonical spelling of a path (upper-case hex), as confirmed contents are keyed.
pub fn path_key(fids: &[u16]) -> String {
    fids.iter().map(|f| format!("{f:04X}")).collect::<Vec<_>>().join("/")
}

impl FileWrite {
    /// The data's bytes, checked.
    pub fn bytes(&self) -> Result<Vec<u8>, PayloadError> {
        let b = hex::decode(&self.data).map_err(|e| PayloadError(format!("data of {}: {e}", self.path)))?;
        if b.is_empty() || usize::from(self.offset) + b.len() > 0x8000 {
            return Err(PayloadError(format!(
                "data of {}: {} bytes at offset {} do not fit a transparent file",
                self.path,
                b.len(),
                self.offset
            )));
        }
        Ok(b)
    }
}

impl ItemPayload {
    /// Checks the payload and builds its APDUs.
    pub fn apdus(&self) -> Result<Vec<Apdu>, PayloadError> {
        if self.writes.is_empty() {
            return Err(PayloadError("nothing to write".into()));
        }
        let mut out = Vec::new();
        for w in &self.writes {
            let path = parse_path(&w.path)?;
            out.extend(select_path(CardClass::Uicc, &path).map_err(|e| PayloadError(e.to_string()))?);
            out.extend(
                update_binary(CardClass::Uicc, w.offset, &w.bytes()?, CHUNK)
                    .map_err(|e| PayloadError(e.to_string()))?,
            );
        }
        Ok(out)
    }

    /// What is sent, for the history (no data bytes).
    pub fn summary(&self) -> String {
        self.writes
            .iter()
            .map(|w| format!("update {} at {} ({} bytes)", w.path, w.offset, w.data.len() / 2))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The whole-file contents this payload writes (offset 0), keyed by canonical path: what a
    /// PoR without error confirms.
    pub fn confirms(&self) -> Vec<(String, String)> {
        self.writes
            .iter()
            .filter(|w| w.offset == 0)
            .filter_map(|w| parse_path(&w.path).ok().map(|p| (path_key(&p), w.data.to_ascii_lowercase())))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_builds_select_and_update_and_refuses_bad_paths() {
        let p = ItemPayload {
            writes: vec![FileWrite { path: "3F00/7FFF/6F61".into(), offset: 0, data: "62F2104080".into() }],
        };
        let apdus = p.apdus().unwrap();
        assert_eq!(apdus[0].to_bytes(), vec![0x00, 0xA4, 0x08, 0x04, 0x04, 0x7F, 0xFF, 0x6F, 0x61]);
        assert_eq!(apdus[1].to_bytes(), vec![0x00, 0xD6, 0x00, 0x00, 0x05, 0x62, 0xF2, 0x10, 0x40, 0x80]);
        assert_eq!(p.confirms(), vec![("3F00/7FFF/6F61".to_string(), "62f2104080".to_string())]);
        assert_eq!(p.summary(), "update 3F00/7FFF/6F61 at 0 (5 bytes)");
        for bad in ["7FFF/6F61", "3F00/6F6", "3F00/XYZW", "3F00"] {
            assert!(parse_path(bad).is_err(), "{bad}");
        }
        let odd = ItemPayload { writes: vec![FileWrite { path: "3F00/2FE2".into(), offset: 0, data: "abc".into() }] };
        assert!(odd.apdus().is_err());
    }
}
