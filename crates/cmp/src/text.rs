//! Free text that people type and other people read: token names, notes, host reports. It ends up in
//! the portal, the audit trail, CSV exports and operators' terminals, so characters that change how
//! the text around them is shown are refused: control characters (NUL, newline, escape sequences
//! that recolour a terminal), the Unicode bidirectional overrides and isolates that make text read
//! in a different order than it is stored (CVE-2021-42574, "Trojan Source"), line and paragraph
//! separators, and the byte-order mark.

use crate::error::{Error, Result};

/// True for characters that may not appear in a label.
fn is_disallowed(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{061C}' | '\u{200E}' | '\u{200F}'   // Arabic letter mark, left-to-right and right-to-left marks
            | '\u{202A}'..='\u{202E}'             // embeddings and overrides
            | '\u{2066}'..='\u{2069}'             // isolates
            | '\u{2028}' | '\u{2029}'             // line and paragraph separators
            | '\u{FEFF}')
}

/// Checks a label: at most `max` characters, not blank, no control or reordering characters.
/// `field` names the request field in the error.
pub fn check_label(field: &str, text: &str, max: usize) -> Result<()> {
    if text.trim().is_empty() {
        return Err(Error::Invalid(format!("{field}: must not be blank")));
    }
    check_note(field, text, max)
}

/// Like [`check_label`], but empty text is allowed (an optional note).
pub fn check_note(field: &str, text: &str, max: usize) -> Result<()> {
    if text.chars().count() > max {
        return Err(Error::Invalid(format!("{field}: at most {max} characters")));
    }
    if let Some((i, c)) = text.chars().enumerate().find(|(_, c)| is_disallowed(*c)) {
        return Err(Error::Invalid(format!(
            "{field}: character {} is U+{:04X}, a control or text-direction character; remove it",
            i + 1,
            u32::from(c)
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_controls_and_reordering() {
        for bad in
            ["a\0b", "line\nbreak", "tab\there", "\u{1b}[31mred", "abc\u{202E}fdp.exe", "x\u{2066}y", "\u{feff}x"]
        {
            let e = check_label("name", bad, 100).unwrap_err().to_string();
            assert!(e.starts_with("name: character "), "{bad:?}: {e}");
        }
        assert!(check_label("name", "   ", 100).is_err(), "blank");
        assert!(check_label("name", &"x".repeat(101), 100).is_err(), "too long");
        for good in ["CI deploy key", "Zähler Süd – Halle 3", "東京 meters", "emoji 📡 ok"] {
            check_label("name", good, 100).unwrap();
        }
        check_note("note", "", 10).unwrap();
    }
}
