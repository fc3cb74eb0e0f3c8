//! DPI for personal data sent in clear.
//!
//! [`Scanner::scan`] reads one payload and reports a [`Finding`] — kind, offset, length — for each:
//!
//! | kind | what is accepted |
//! |---|---|
//! | `card` | 13–19 digits, optionally in groups joined by single spaces or dashes, Luhn-valid, with an issuer prefix and length of a real scheme |
//! | `iban` | a country of the length table, its exact length, optional single spaces every four characters, ISO 7064 mod 97 check |
//! | `email` | local part, `@`, a domain of two or more labels ending in an alphabetic TLD |
//! | `gps` | NMEA GGA/GNS/RMC/GLL sentences with a valid checksum and a position; `lat, lon` decimal pairs (4+ decimals, in range); JSON `"lat"`/`"lon"` members (3+ decimals, in range) |
//! | `national_id:<format>` | the enabled [`NationalIdFormat`]s, each with its checksum or issuing rules |
//! | `pattern:<name>` | operator-supplied regular expressions ([`CustomPattern`]) |
//!
//! A finding **never carries the matched bytes**: callers that need to show evidence must go back to
//! the payload themselves, under their own access rules.
//!
//! Speed comes from never running a general regex over the payload for the built-in kinds: one skip
//! search for runs of digits and separators (word-wide classification, 64 bytes at a time) and `memchr`/`memmem` for `@`, `$G` and
//! `"lat`, each candidate then validated. Operator patterns run as one multi-pattern
//! `regex-automata` search and cost extra.

mod checks;
pub mod corpus;
mod digits;
mod text;

use std::fmt;
use std::sync::Arc;

use memchr::memmem;
use regex_automata::meta;
use serde::{Serialize, Serializer};

/// A national identity number format the scanner knows how to validate (configuration names
/// `us_ssn`, `se_personnummer`, `nl_bsn`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NationalIdFormat {
    /// US Social Security number written `AAA-GG-SSSS`, outside the never-issued ranges (area 000,
    /// 666, 900–999; group 00; serial 0000).
    UsSsn,
    /// Swedish personnummer `YYMMDD-NNNC`, `YYYYMMDD-NNNC` or `YYYYMMDDNNNC`: valid month and day
    /// (or day + 60, samordningsnummer) and Luhn check digit. The bare 10-digit form and the `+`
    /// separator (100 years and older) are not recognised.
    SePersonnummer,
    /// Dutch BSN: 9 digits passing the 11-proof. About one random 9-digit number in 11 passes, so it
    /// is off by default; enable it where payloads are known to carry Dutch identifiers.
    NlBsn,
}

impl NationalIdFormat {
    /// Every format.
    pub const ALL: [NationalIdFormat; 3] =
        [NationalIdFormat::UsSsn, NationalIdFormat::SePersonnummer, NationalIdFormat::NlBsn];

    /// The format's configuration name: `us_ssn`, `se_personnummer`, `nl_bsn`.
    pub fn name(self) -> &'static str {
        match self {
            NationalIdFormat::UsSsn => "us_ssn",
            NationalIdFormat::SePersonnummer => "se_personnummer",
            NationalIdFormat::NlBsn => "nl_bsn",
        }
    }

    /// The format with that configuration name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.name() == name)
    }

    /// The shortest text it can be (for the digit pass's skip distance).
    fn min_len(self) -> usize {
        match self {
            NationalIdFormat::UsSsn => 11,
            NationalIdFormat::SePersonnummer => 11,
            NationalIdFormat::NlBsn => 9,
        }
    }
}

/// What was found.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FindingKind {
    /// A payment card number.
    PaymentCard,
    /// An IBAN.
    Iban,
    /// An e-mail address.
    Email,
    /// A GPS position (NMEA sentence, decimal pair or JSON members).
    GpsPosition,
    /// A national identity number of the given format.
    NationalId(NationalIdFormat),
    /// A match of the operator pattern with this name.
    Pattern(Arc<str>),
}

impl fmt::Display for FindingKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FindingKind::PaymentCard => f.write_str("card"),
            FindingKind::Iban => f.write_str("iban"),
            FindingKind::Email => f.write_str("email"),
            FindingKind::GpsPosition => f.write_str("gps"),
            FindingKind::NationalId(format) => write!(f, "national_id:{}", format.name()),
            FindingKind::Pattern(name) => write!(f, "pattern:{name}"),
        }
    }
}

impl Serialize for FindingKind {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// One finding: what and where in the payload — never the bytes themselves.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Finding {
    /// What kind of personal data.
    pub kind: FindingKind,
    /// Offset of its first byte in the payload.
    pub offset: usize,
    /// Its length in bytes.
    pub len: usize,
}

/// An operator-supplied pattern: a name (reported as `pattern:<name>`) and a regular expression
/// (`regex` crate syntax, matched on bytes).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomPattern {
    /// `[a-z0-9_-]{1,64}`.
    pub name: String,
    /// The regular expression.
    pub regex: String,
}

/// Which kinds to look for. Also `[analytics.dpi]` of `warden serve` (every key optional, the
/// defaults of [`DpiConfig::default`]).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DpiConfig {
    /// Payment card numbers.
    pub cards: bool,
    /// IBANs.
    pub ibans: bool,
    /// E-mail addresses.
    pub emails: bool,
    /// GPS positions.
    pub gps: bool,
    /// National identity number formats.
    pub national_ids: Vec<NationalIdFormat>,
    /// Operator patterns.
    pub patterns: Vec<CustomPattern>,
}

impl Default for DpiConfig {
    /// Every built-in kind, with the US SSN and Swedish personnummer formats; no operator patterns.
    fn default() -> Self {
        DpiConfig {
            cards: true,
            ibans: true,
            emails: true,
            gps: true,
            national_ids: vec![NationalIdFormat::UsSsn, NationalIdFormat::SePersonnummer],
            patterns: Vec::new(),
        }
    }
}

/// Why a configuration was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DpiError {
    /// A pattern name outside `[a-z0-9_-]{1,64}`, or used twice.
    #[error("pattern name {0:?}: use 1 to 64 of a-z, 0-9, '_' and '-', once each")]
    BadPatternName(String),
    /// A pattern that does not compile (or is too large).
    #[error("pattern {name}: {reason}")]
    BadPattern {
        /// The pattern's name.
        name: String,
        /// What the regex compiler said.
        reason: String,
    },
}

/// The most an operator pattern set may compile to.
const PATTERN_SIZE_LIMIT: usize = 16 << 20;

/// The DPI scanner: built once from a [`DpiConfig`], then shared (it is `Send + Sync`).
#[derive(Debug)]
pub struct Scanner {
    config: DpiConfig,
    min_run: usize,
    digit_pass: bool,
    nmea: memmem::Finder<'static>,
    json_lat: memmem::Finder<'static>,
    json_lon: [memmem::Finder<'static>; 2],
    patterns: Option<meta::Regex>,
    pattern_kinds: Vec<FindingKind>,
}

impl Scanner {
    /// Compiles the configuration.
    pub fn new(config: DpiConfig) -> Result<Self, DpiError> {
        let mut names: Vec<&str> = Vec::new();
        for p in &config.patterns {
            let ok = (1..=64).contains(&p.name.len())
                && p.name.bytes().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_' || c == b'-')
                && !names.contains(&p.name.as_str());
            if !ok {
                return Err(DpiError::BadPatternName(p.name.clone()));
            }
            names.push(&p.name);
        }
        let patterns = if config.patterns.is_empty() {
            None
        } else {
            let regexes: Vec<&str> = config.patterns.iter().map(|p| p.regex.as_str()).collect();
            let built = meta::Builder::new()
                .configure(meta::Config::new().utf8_empty(false).nfa_size_limit(Some(PATTERN_SIZE_LIMIT)))
                .syntax(regex_automata::util::syntax::Config::new().utf8(false))
                .build_many(&regexes);
            match built {
                Ok(re) => Some(re),
                Err(e) => {
                    let name = e
                        .pattern()
                        .and_then(|id| config.patterns.get(id.as_usize()))
                        .map_or_else(|| "(set)".to_owned(), |p| p.name.clone());
                    return Err(DpiError::BadPattern { name, reason: e.to_string() });
                }
            }
        };
        let pattern_kinds = config.patterns.iter().map(|p| FindingKind::Pattern(Arc::from(p.name.as_str()))).collect();
        let mut min_run = usize::MAX;
        if config.cards || config.gps {
            min_run = 13; // 13 card digits; "d.dddd,d.dddd"
        }
        if config.ibans {
            min_run = min_run.min(10); // the shortest stretch of digits in the IBANs of the table
        }
        for f in &config.national_ids {
            min_run = min_run.min(f.min_len());
        }
        let digit_pass = min_run != usize::MAX;
        Ok(Scanner {
            config,
            min_run,
            digit_pass,
            nmea: memmem::Finder::new(b"$G").into_owned(),
            json_lat: memmem::Finder::new(b"\"lat").into_owned(),
            json_lon: [memmem::Finder::new(b"\"lon").into_owned(), memmem::Finder::new(b"\"lng").into_owned()],
            patterns,
            pattern_kinds,
        })
    }

    /// The configuration it was built from.
    pub fn config(&self) -> &DpiConfig {
        &self.config
    }

    /// Appends the findings in `payload` to `out`, ordered by offset.
    pub fn scan(&self, payload: &[u8], out: &mut Vec<Finding>) {
        let first = out.len();
        let c = &self.config;
        if self.digit_pass {
            let mut skip_until = 0usize;
            digits::runs(payload, self.min_run, |start, end| self.digit_run(payload, start, end, &mut skip_until, out));
        }
        let at = |kind: FindingKind, s: usize, e: usize| Finding { kind, offset: s, len: e - s };
        if c.emails {
            text::emails(payload, |s, e| out.push(at(FindingKind::Email, s, e)));
        }
        if c.gps {
            text::nmea(payload, &self.nmea, |s, e| out.push(at(FindingKind::GpsPosition, s, e)));
            text::json_positions(payload, &self.json_lat, &self.json_lon, |s, e| {
                out.push(at(FindingKind::GpsPosition, s, e))
            });
        }
        if let Some(re) = &self.patterns {
            for m in re.find_iter(payload) {
                if !m.is_empty() {
                    let kind = self.pattern_kinds[m.pattern().as_usize()].clone();
                    out.push(Finding { kind, offset: m.start(), len: m.len() });
                }
            }
        }
        let found = &mut out[first..];
        if found.len() > 1 {
            found.sort_by(|a, b| a.offset.cmp(&b.offset).then(b.len.cmp(&a.len)));
            // A GPS position found both as a decimal pair and inside JSON members counts once.
            let mut kept: Vec<Finding> = Vec::with_capacity(found.len());
            for f in found.iter() {
                let overlaps = kept.iter().rev().take(4).any(|k| k.kind == f.kind && f.offset < k.offset + k.len);
                if !overlaps {
                    kept.push(f.clone());
                }
            }
            out.truncate(first);
            out.extend(kept);
        }
    }

    /// The findings in `payload`, ordered by offset.
    pub fn scan_to_vec(&self, payload: &[u8]) -> Vec<Finding> {
        let mut out = Vec::new();
        self.scan(payload, &mut out);
        out
    }

    /// Everything the digit pass reads out of one run.
    fn digit_run(&self, b: &[u8], start: usize, end: usize, skip_until: &mut usize, out: &mut Vec<Finding>) {
        let c = &self.config;
        let mut from = start.max(*skip_until);
        if from >= end {
            return;
        }
        // An IBAN's run starts right after a letter: the country code or a letter of the BBAN.
        if c.ibans && from == start && start > 0 && b[start - 1].is_ascii_uppercase() {
            if let Some((s, e)) = digits::iban_covering(b, from) {
                out.push(Finding { kind: FindingKind::Iban, offset: s, len: e - s });
                *skip_until = e;
                from = e;
                if from >= end {
                    return;
                }
            }
        }
        if c.gps {
            digits::decimal_pairs(b, from, end, |s, e| {
                out.push(Finding { kind: FindingKind::GpsPosition, offset: s, len: e - s })
            });
        }
        if !c.cards && c.national_ids.is_empty() {
            return;
        }
        digits::candidates(b, from, end, |groups| {
            if c.cards {
                digits::cards(b, groups, |s, e| {
                    out.push(Finding { kind: FindingKind::PaymentCard, offset: s, len: e - s })
                });
            }
            for &format in &c.national_ids {
                let mut add = |s: usize, e: usize| {
                    out.push(Finding { kind: FindingKind::NationalId(format), offset: s, len: e - s })
                };
                match format {
                    NationalIdFormat::UsSsn => digits::us_ssns(b, groups, &mut add),
                    NationalIdFormat::SePersonnummer => digits::se_personnummer(b, groups, &mut add),
                    NationalIdFormat::NlBsn => digits::nl_bsns(b, groups, &mut add),
                }
            }
        });
    }
}
