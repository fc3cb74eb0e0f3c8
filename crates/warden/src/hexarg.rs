//! Hex arguments on the command line: parsed once, with errors that name what was wrong.

/// Bytes given in hex on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HexBytes(pub Vec<u8>);

impl core::ops::Deref for HexBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.0
    }
}

/// Parses a hex argument for clap.
pub fn hex_arg(s: &str) -> Result<HexBytes, String> {
    parse_hex(s).map(HexBytes)
}

/// Parses a hex string (an optional `0x` prefix, upper or lower case, no separators).
pub fn parse_hex(s: &str) -> Result<Vec<u8>, String> {
    let digits = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")).unwrap_or(s);
    if digits.is_empty() {
        return Err("empty hex string".into());
    }
    if let Some((i, c)) = digits.char_indices().find(|(_, c)| !c.is_ascii_hexdigit()) {
        return Err(format!("'{c}' at position {} is not a hex digit", i + 1));
    }
    if !digits.len().is_multiple_of(2) {
        return Err(format!("odd number of hex digits ({})", digits.len()));
    }
    hex::decode(digits).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_and_rejects() {
        assert_eq!(parse_hex("0A0b"), Ok(vec![0x0a, 0x0b]));
        assert_eq!(parse_hex("0xff"), Ok(vec![0xff]));
        assert_eq!(parse_hex("abc"), Err("odd number of hex digits (3)".into()));
        assert_eq!(parse_hex("zz"), Err("'z' at position 1 is not a hex digit".into()));
        assert!(parse_hex("").is_err());
    }
}
