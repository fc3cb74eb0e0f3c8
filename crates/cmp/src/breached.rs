//! A breached-password corpus (NIST SP 800-63B §3.1.1.2: compare new passwords against values known
//! from previous breaches). The file holds one SHA-1 per line in the Have I Been Pwned download format
//! (`HEX40` or `HEX40:count`; blank lines and `#` comments ignored), so an operator can load as much
//! of that corpus as memory allows (20 bytes per entry) without Warden calling out at runtime.

use std::path::Path;

use sha1::{Digest, Sha1};

/// Sorted SHA-1 digests of breached passwords.
#[derive(Debug, Clone, Default)]
pub struct BreachedList(Vec<[u8; 20]>);

impl BreachedList {
    /// Reads a corpus file; a malformed line is an error naming the line.
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Self::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Parses corpus text.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut v = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let hex_part = line.split(':').next().unwrap_or("");
            let mut d = [0u8; 20];
            hex::decode_to_slice(hex_part, &mut d)
                .map_err(|_| format!("line {}: expected 40 hex characters (SHA-1), optionally ':count'", i + 1))?;
            v.push(d);
        }
        v.sort_unstable();
        v.dedup();
        Ok(BreachedList(v))
    }

    /// Entries loaded.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when nothing is loaded.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// True when `password` is in the corpus.
    pub fn contains(&self, password: &str) -> bool {
        let d: [u8; 20] = Sha1::digest(password.as_bytes()).into();
        self.0.binary_search(&d).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hibp_format_lookup_and_errors() {
        // SHA-1("password") = 5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8 (a well-known value).
        let l = BreachedList::parse("# corpus\n5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8:9545824\n\n").unwrap();
        assert_eq!(l.len(), 1);
        assert!(l.contains("password"));
        assert!(!l.contains("Password"));
        let e = BreachedList::parse("5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8\nnot-a-hash\n").unwrap_err();
        assert!(e.starts_with("line 2:"), "{e}");
    }
}
