//! Fixed dialling lists (SUB-3): which destinations a SIM's MO short messages may go to.
//!
//! **Entries** are written `+4917112345` (one international number: `+` and 1–15 digits, E.164),
//! `+4917*` (every international number starting with those digits), or without `+` for numbers
//! that are not international: `1234` (a short code or a national number as the device dials it)
//! and `1234*`. Entries are kept as written (trimmed); duplicates are dropped.
//!
//! **Destinations** (TP-DA) are normalised before matching ([`normalise`]): an international
//! number (TON 1) becomes `+digits`; a number of unknown or national type that starts with the ITU
//! international prefix `00` becomes `+` and the digits after it (so `0049171…` dialled as unknown
//! type matches `+49171…`); every other number stays as dialled and only matches entries without
//! `+`. A national number with a trunk prefix (`0171…`) is not turned into an international one:
//! Warden does not know the SIM's home country, so list such numbers as the device dials them.
//!
//! **An empty list** follows the profile's `traffic` convention of SUB-2: with `traffic =
//! "restricted"` (the default) an empty effective list bars every MO short message (PoRs to the OTA
//! address excepted, they never reach the list), with `traffic = "open"` it lets every destination
//! through. A non-empty list restricts either way.
//!
//! **Per SIM**, a list either extends the profile's (the default) or replaces it, as the SIM's own
//! allowlists do for data.

use std::fmt;
use std::str::FromStr;

/// Most entries in one list (a profile's or a SIM's).
pub const MAX_ENTRIES: usize = 256;

/// One entry of a fixed dialling list.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Entry {
    /// The digits, with a leading `+` for international numbers.
    number: String,
    /// True for `…*`: every number starting with `number`.
    prefix: bool,
}

/// Why an entry cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{entry:?}: {reason}")]
pub struct EntryError {
    /// The entry as given.
    pub entry: String,
    /// What is wrong.
    pub reason: &'static str,
}

impl FromStr for Entry {
    type Err = EntryError;

    fn from_str(s: &str) -> Result<Entry, EntryError> {
        let err = |reason| EntryError { entry: s.to_string(), reason };
        let t = s.trim();
        let (body, prefix) = match t.strip_suffix('*') {
            Some(b) => (b, true),
            None => (t, false),
        };
        let (international, digits) = match body.strip_prefix('+') {
            Some(d) => (true, d),
            None => (false, body),
        };
        if digits.is_empty() {
            return Err(err("no digits"));
        }
        if !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(err("only digits, a leading '+' and a trailing '*' are allowed"));
        }
        let max = if international { 15 } else { 20 };
        if digits.len() > max {
            return Err(err(if international { "an E.164 number has at most 15 digits" } else { "at most 20 digits" }));
        }
        Ok(Entry { number: body.to_string(), prefix })
    }
}

impl fmt::Display for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.number, if self.prefix { "*" } else { "" })
    }
}

impl Entry {
    /// True when the normalised destination `dest` ([`normalise`]) is this entry's.
    pub fn matches(&self, dest: &str) -> bool {
        if self.prefix {
            dest.starts_with(&self.number)
        } else {
            dest == self.number
        }
    }
}

/// Parses every entry, naming the first bad one with its position; drops duplicates.
pub fn parse_entries<S: AsRef<str>>(items: &[S]) -> Result<Vec<Entry>, String> {
    if items.len() > MAX_ENTRIES {
        return Err(format!("at most {MAX_ENTRIES} fixed dialling entries, got {}", items.len()));
    }
    let mut out: Vec<Entry> = Vec::with_capacity(items.len());
    for (i, s) in items.iter().enumerate() {
        let e = s.as_ref().parse::<Entry>().map_err(|e| format!("[{i}]: {e}"))?;
        if !out.contains(&e) {
            out.push(e);
        }
    }
    Ok(out)
}

/// A destination as dialled: the TP-DA's type of number (TS 23.040 §9.1.2.5) and digits.
pub fn normalise(ton: u8, digits: &str) -> String {
    use crate::tpdu::{TON_INTERNATIONAL, TON_NATIONAL, TON_UNKNOWN};
    match ton {
        TON_INTERNATIONAL => format!("+{digits}"),
        TON_UNKNOWN | TON_NATIONAL if digits.len() > 2 && digits.starts_with("00") => format!("+{}", &digits[2..]),
        _ => digits.to_string(),
    }
}

/// A destination written as text (`+4917…`, `004917…`, `1234`): the form [`normalise`] gives.
pub fn normalise_text(dest: &str) -> String {
    match dest.strip_prefix('+') {
        Some(d) => normalise(crate::tpdu::TON_INTERNATIONAL, d),
        None => normalise(crate::tpdu::TON_UNKNOWN, dest),
    }
}

/// How a SIM's own list combines with its profile's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// The profile's entries and the SIM's (the default).
    #[default]
    Extend,
    /// The SIM's entries only.
    Replace,
}

impl Mode {
    /// The word stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Extend => "extend",
            Mode::Replace => "replace",
        }
    }
}

/// The list a SIM's MO short messages are screened against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Effective {
    /// The entries.
    pub entries: Vec<Entry>,
    /// What an empty list means: everything allowed (`traffic = "open"`) or nothing.
    pub open_when_empty: bool,
}

impl Effective {
    /// The effective list of a SIM: its profile's entries (`profile`), the profile's `traffic =
    /// "open"` (`open`), and its own list with its mode, if it has one.
    pub fn of(profile: &[Entry], open: bool, own: Option<(Mode, &[Entry])>) -> Effective {
        let entries = match own {
            Some((Mode::Replace, mine)) => mine.to_vec(),
            Some((Mode::Extend, mine)) => {
                let mut all = profile.to_vec();
                all.extend(mine.iter().filter(|e| !profile.contains(e)).cloned());
                all
            }
            None => profile.to_vec(),
        };
        Effective { entries, open_when_empty: open }
    }

    /// True when a message to the normalised destination `dest` may go.
    pub fn allows(&self, dest: &str) -> bool {
        if self.entries.is_empty() {
            return self.open_when_empty;
        }
        self.entries.iter().any(|e| e.matches(dest))
    }

    /// A word for documents and answers: `open` (empty and open), `closed` (empty and restricted) or
    /// `list`.
    pub fn kind(&self) -> &'static str {
        match (self.entries.is_empty(), self.open_when_empty) {
            (true, true) => "open",
            (true, false) => "closed",
            _ => "list",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(s: &str) -> Entry {
        s.parse().unwrap()
    }

    #[test]
    fn entries_parse_and_print_as_written() {
        for s in ["+4917112345", "+4917*", "1234", "1234*", "+1"] {
            assert_eq!(e(s).to_string(), s);
        }
        assert_eq!(e(" +49* ").to_string(), "+49*");
        for bad in ["", "+", "*", "+*", "+49 171", "49-171", "+1234567890123456", "abc", "+49*1", "++49"] {
            assert!(bad.parse::<Entry>().is_err(), "{bad:?} accepted");
        }
        let err = parse_entries(&["+49*", "x"]).unwrap_err();
        assert!(err.starts_with("[1]: \"x\""), "{err}");
        assert_eq!(parse_entries(&["+49*", "+49*"]).unwrap().len(), 1);
    }

    #[test]
    fn destinations_normalise_by_type_of_number() {
        assert_eq!(normalise(1, "491711234567"), "+491711234567");
        assert_eq!(normalise(0, "00491711234567"), "+491711234567");
        assert_eq!(normalise(2, "00491711234567"), "+491711234567");
        assert_eq!(normalise(2, "01711234567"), "01711234567", "no home country to add");
        assert_eq!(normalise(0, "1234"), "1234");
        assert_eq!(normalise(1, "00491"), "+00491", "international numbers keep their digits");
        assert_eq!(normalise_text("+49171"), "+49171");
        assert_eq!(normalise_text("0049171"), "+49171");
    }

    #[test]
    fn matching_prefixes_and_exact_numbers() {
        let list = Effective::of(&[e("+4917*"), e("1234")], false, None);
        assert!(list.allows("+491711234567"));
        assert!(!list.allows("+4930123"));
        assert!(list.allows("1234"));
        assert!(!list.allows("12345"), "exact entries match exactly");
        assert!(!list.allows("+1234"), "national entries never match international numbers");
        assert_eq!(list.kind(), "list");
    }

    #[test]
    fn empty_lists_follow_the_traffic_mode_and_sims_extend_or_replace() {
        assert!(!Effective::of(&[], false, None).allows("+49"));
        assert!(Effective::of(&[], true, None).allows("+49"));
        let profile = [e("+49*")];
        let own = [e("+33*")];
        let ext = Effective::of(&profile, true, Some((Mode::Extend, &own)));
        assert!(ext.allows("+491") && ext.allows("+331") && !ext.allows("+441"));
        let rep = Effective::of(&profile, true, Some((Mode::Replace, &own)));
        assert!(!rep.allows("+491") && rep.allows("+331"));
        let emptied = Effective::of(&profile, false, Some((Mode::Replace, &[])));
        assert_eq!(emptied.kind(), "closed");
        assert!(!emptied.allows("+491"));
    }
}
