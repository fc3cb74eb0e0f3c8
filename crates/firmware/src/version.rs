//! Firmware versions and the update policy that refuses downgrades.
//!
//! A version is 1 to 4 dot-separated decimal numbers with an optional pre-release suffix after `-`
//! (`2.4`, `2.4.1`, `10.0.0.7`, `3.0.0-rc.2`); an optional leading `v` is ignored. Versions compare
//! number by number (missing numbers count as 0, so `2.4` equals `2.4.0`), and a pre-release sorts
//! before its release, with pre-release identifiers compared as in Semantic Versioning 2.0.0 §11.

use std::cmp::Ordering;
use std::fmt;

/// Why a version string was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VersionError {
    /// Not of the form `N[.N[.N[.N]]][-pre]`.
    #[error("{0:?} is not a version: expected 1 to 4 dot-separated numbers, optionally followed by -prerelease")]
    Syntax(String),
}

/// A firmware version.
#[derive(Debug, Clone)]
pub struct Version {
    text: String,
    numbers: [u64; 4],
    pre: Option<Vec<String>>,
}

fn identifier_ok(id: &str) -> bool {
    !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

impl Version {
    /// Parses a version.
    pub fn parse(text: &str) -> Result<Self, VersionError> {
        let bad = || VersionError::Syntax(text.chars().take(64).collect());
        if text.len() > 64 {
            return Err(bad());
        }
        let body = text.strip_prefix('v').unwrap_or(text);
        let (core, pre) = match body.split_once('-') {
            Some((core, pre)) => (core, Some(pre)),
            None => (body, None),
        };
        let parts: Vec<&str> = core.split('.').collect();
        if parts.is_empty() || parts.len() > 4 {
            return Err(bad());
        }
        let mut numbers = [0u64; 4];
        for (slot, part) in numbers.iter_mut().zip(&parts) {
            if part.is_empty() || part.len() > 9 || !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            *slot = part.parse().map_err(|_| bad())?;
        }
        let pre = match pre {
            Some(p) => {
                let ids: Vec<String> = p.split('.').map(str::to_string).collect();
                if !ids.iter().all(|id| identifier_ok(id)) {
                    return Err(bad());
                }
                Some(ids)
            }
            None => None,
        };
        Ok(Version { text: text.to_string(), numbers, pre })
    }

    /// The version as it was written.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

fn cmp_identifier(a: &str, b: &str) -> Ordering {
    let numeric = |s: &str| s.bytes().all(|c| c.is_ascii_digit());
    match (numeric(a), numeric(b)) {
        (true, true) => a.len().cmp(&b.len()).then_with(|| a.cmp(b)),
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        (false, false) => a.cmp(b),
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        self.numbers.cmp(&other.numbers).then_with(|| match (&self.pre, &other.pre) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Greater,
            (Some(_), None) => Ordering::Less,
            (Some(a), Some(b)) => {
                for (x, y) in a.iter().zip(b) {
                    let o = cmp_identifier(x.trim_start_matches('0'), y.trim_start_matches('0'))
                        .then_with(|| cmp_identifier(x, y));
                    if o != Ordering::Equal {
                        return o;
                    }
                }
                a.len().cmp(&b.len())
            }
        })
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Version {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Version {}

/// What a version change is allowed to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UpdatePolicy {
    /// Whether an image older than the device's current firmware may be installed (off by default:
    /// a downgrade can bring back a fixed vulnerability).
    pub allow_downgrade: bool,
    /// Whether the same version may be installed again.
    pub allow_reinstall: bool,
}

/// Why the policy refused a version change.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PolicyRefusal {
    /// The image is older than what the device runs.
    #[error("downgrade from {current} to {offered} is not allowed by the policy")]
    Downgrade {
        /// The device's version.
        current: String,
        /// The image's version.
        offered: String,
    },
    /// The device already runs this version.
    #[error("the device already runs {0}")]
    Reinstall(String),
}

impl UpdatePolicy {
    /// Checks moving from `current` (unknown: `None`) to `offered`.
    pub fn check(&self, current: Option<&Version>, offered: &Version) -> Result<(), PolicyRefusal> {
        let Some(current) = current else { return Ok(()) };
        match offered.cmp(current) {
            Ordering::Greater => Ok(()),
            Ordering::Equal if self.allow_reinstall => Ok(()),
            Ordering::Equal => Err(PolicyRefusal::Reinstall(current.to_string())),
            Ordering::Less if self.allow_downgrade => Ok(()),
            Ordering::Less => {
                Err(PolicyRefusal::Downgrade { current: current.to_string(), offered: offered.to_string() })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    #[test]
    fn versions_order_number_by_number_and_prereleases_first() {
        // The precedence example of Semantic Versioning 2.0.0 §11.
        let chain = [
            "1.0.0-alpha",
            "1.0.0-alpha.1",
            "1.0.0-alpha.beta",
            "1.0.0-beta",
            "1.0.0-beta.2",
            "1.0.0-beta.11",
            "1.0.0-rc.1",
            "1.0.0",
            "1.0.1",
            "1.2",
            "1.10",
            "v2.0.0.1",
        ];
        for pair in chain.windows(2) {
            assert!(v(pair[0]) < v(pair[1]), "{} < {}", pair[0], pair[1]);
        }
        assert_eq!(v("2.4"), v("2.4.0"));
        assert_eq!(v("2.4").as_str(), "2.4");
    }

    #[test]
    fn malformed_versions_are_refused() {
        for bad in ["", "1..2", "1.2.3.4.5", "a.b", "1.2-", "1.2-be ta", "-1", "1.2.3-rc..1", "1234567890"] {
            assert!(Version::parse(bad).is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn the_policy_refuses_downgrades_and_reinstalls_unless_allowed() {
        let strict = UpdatePolicy::default();
        assert_eq!(strict.check(Some(&v("2.0")), &v("2.1")), Ok(()));
        assert_eq!(strict.check(None, &v("0.1")), Ok(()));
        assert!(matches!(strict.check(Some(&v("2.0")), &v("1.9")), Err(PolicyRefusal::Downgrade { .. })));
        assert!(matches!(strict.check(Some(&v("2.0.0")), &v("2.0.0-rc.1")), Err(PolicyRefusal::Downgrade { .. })));
        assert!(matches!(strict.check(Some(&v("2.0")), &v("2.0.0")), Err(PolicyRefusal::Reinstall(_))));
        let lax = UpdatePolicy { allow_downgrade: true, allow_reinstall: true };
        assert_eq!(lax.check(Some(&v("2.0")), &v("1.9")), Ok(()));
        assert_eq!(lax.check(Some(&v("2.0")), &v("2.0")), Ok(()));
    }
}
