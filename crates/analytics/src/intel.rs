//! Threat-intelligence indicators: addresses, networks and domains known to be malicious.
//!
//! Two import formats:
//! - CSV, one `type,value` per line with `type` one of `ipv4`, `ipv6`, `cidr`, `domain`; an optional
//!   header line `type,value`, blank lines and `#` comments are skipped;
//! - STIX 2.1 bundles: every `indicator` object with `pattern_type` `stix` and a single comparison
//!   `[ipv4-addr:value = '…']`, `[ipv6-addr:value = '…']` (an address or a CIDR network) or
//!   `[domain-name:value = '…']`. Revoked indicators are skipped.
//!
//! An import is all or nothing: the first broken row or object is reported with its line or index and
//! id ([`IntelError`]) and nothing of that input is kept. A domain indicator matches the name and all
//! its subdomains.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::net::IpAddr;

/// Why an import was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IntelError {
    /// A CSV line is broken.
    #[error("CSV line {line}: {reason}")]
    Csv {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// The STIX input is not a bundle.
    #[error("not a STIX 2.1 bundle: {0}")]
    Bundle(String),
    /// A STIX object is broken or unsupported.
    #[error("STIX object {index} ({id}): {reason}")]
    Stix {
        /// 0-based index in the bundle's `objects`.
        index: usize,
        /// Its `id`, or `?`.
        id: String,
        /// What is wrong.
        reason: String,
    },
}

/// What an indicator designates.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum IndicatorValue {
    /// One address.
    Ip(IpAddr),
    /// A network: address with zero host bits, and prefix length.
    Cidr(IpAddr, u8),
    /// A domain and its subdomains (lowercase, no trailing dot).
    Domain(String),
}

impl fmt::Display for IndicatorValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IndicatorValue::Ip(ip) => write!(f, "{ip}"),
            IndicatorValue::Cidr(ip, len) => write!(f, "{ip}/{len}"),
            IndicatorValue::Domain(d) => f.write_str(d),
        }
    }
}

impl IndicatorValue {
    /// The STIX 2.1 pattern designating this value.
    pub fn stix_pattern(&self) -> String {
        match self {
            IndicatorValue::Ip(IpAddr::V4(_)) | IndicatorValue::Cidr(IpAddr::V4(_), _) => {
                format!("[ipv4-addr:value = '{self}']")
            }
            IndicatorValue::Ip(IpAddr::V6(_)) | IndicatorValue::Cidr(IpAddr::V6(_), _) => {
                format!("[ipv6-addr:value = '{self}']")
            }
            IndicatorValue::Domain(d) => format!("[domain-name:value = '{d}']"),
        }
    }
}

/// One indicator and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Indicator {
    /// What it designates.
    pub value: IndicatorValue,
    /// Its STIX id when imported from STIX.
    pub stix_id: Option<String>,
    /// Its STIX name when it had one.
    pub name: Option<String>,
}

/// A set of indicators, indexed for matching flows and DNS names.
#[derive(Debug, Clone, Default)]
pub struct IntelSet {
    indicators: Vec<Indicator>,
    seen: HashSet<IndicatorValue>,
    hosts: HashMap<IpAddr, usize>,
    v4_nets: HashMap<(u8, u32), usize>,
    v6_nets: HashMap<(u8, u128), usize>,
    v4_lens: Vec<u8>,
    v6_lens: Vec<u8>,
    domains: HashMap<String, usize>,
}

impl IntelSet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// All indicators, in import order.
    pub fn indicators(&self) -> &[Indicator] {
        &self.indicators
    }

    /// Number of indicators.
    pub fn len(&self) -> usize {
        self.indicators.len()
    }

    /// No indicators.
    pub fn is_empty(&self) -> bool {
        self.indicators.is_empty()
    }

    /// Adds one indicator (a value already present is kept once).
    pub fn insert(&mut self, indicator: Indicator) {
        if !self.seen.insert(indicator.value.clone()) {
            return;
        }
        let index = self.indicators.len();
        match &indicator.value {
            IndicatorValue::Ip(ip) => {
                self.hosts.insert(*ip, index);
            }
            IndicatorValue::Cidr(IpAddr::V4(net), len) => {
                self.v4_nets.insert((*len, u32::from(*net)), index);
                if !self.v4_lens.contains(len) {
                    self.v4_lens.push(*len);
                }
            }
            IndicatorValue::Cidr(IpAddr::V6(net), len) => {
                self.v6_nets.insert((*len, u128::from(*net)), index);
                if !self.v6_lens.contains(len) {
                    self.v6_lens.push(*len);
                }
            }
            IndicatorValue::Domain(d) => {
                self.domains.insert(d.clone(), index);
            }
        }
        self.indicators.push(indicator);
    }

    /// Adds every indicator of `other`.
    pub fn merge(&mut self, other: IntelSet) {
        for i in other.indicators {
            self.insert(i);
        }
    }

    /// The indicator matching `ip` (exact address first, then the networks).
    pub fn match_ip(&self, ip: IpAddr) -> Option<&Indicator> {
        if let Some(&i) = self.hosts.get(&ip) {
            return Some(&self.indicators[i]);
        }
        match ip {
            IpAddr::V4(v4) => {
                let a = u32::from(v4);
                self.v4_lens.iter().find_map(|&len| {
                    let mask = if len == 0 { 0 } else { u32::MAX << (32 - u32::from(len)) };
                    self.v4_nets.get(&(len, a & mask)).map(|&i| &self.indicators[i])
                })
            }
            IpAddr::V6(v6) => {
                let a = u128::from(v6);
                self.v6_lens.iter().find_map(|&len| {
                    let mask = if len == 0 { 0 } else { u128::MAX << (128 - u32::from(len)) };
                    self.v6_nets.get(&(len, a & mask)).map(|&i| &self.indicators[i])
                })
            }
        }
    }

    /// The indicator matching `name` or one of its parent domains.
    pub fn match_domain(&self, name: &str) -> Option<&Indicator> {
        if self.domains.is_empty() {
            return None;
        }
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        let mut rest = name.as_str();
        loop {
            if let Some(&i) = self.domains.get(rest) {
                return Some(&self.indicators[i]);
            }
            match rest.find('.') {
                Some(dot) => rest = &rest[dot + 1..],
                None => return None,
            }
        }
    }

    /// Imports CSV `type,value` lines (see the module documentation).
    pub fn from_csv(text: &str) -> Result<Self, IntelError> {
        let mut set = IntelSet::new();
        let mut first = true;
        for (n, raw) in text.lines().enumerate() {
            let line = n + 1;
            let row = raw.trim();
            if row.is_empty() || row.starts_with('#') {
                continue;
            }
            let err = |reason: String| IntelError::Csv { line, reason };
            let Some((kind, value)) = row.split_once(',') else {
                return Err(err("expected two columns `type,value`".into()));
            };
            let (kind, value) = (kind.trim().trim_matches('"'), value.trim().trim_matches('"'));
            if first && kind.eq_ignore_ascii_case("type") && value.eq_ignore_ascii_case("value") {
                first = false;
                continue;
            }
            first = false;
            if value.contains(',') {
                return Err(err("expected two columns `type,value`, found more".into()));
            }
            let parsed = match kind.to_ascii_lowercase().as_str() {
                "ipv4" => match value.parse::<IpAddr>() {
                    Ok(ip @ IpAddr::V4(_)) => IndicatorValue::Ip(ip),
                    _ => return Err(err(format!("`{value}` is not an IPv4 address"))),
                },
                "ipv6" => match value.parse::<IpAddr>() {
                    Ok(ip @ IpAddr::V6(_)) => IndicatorValue::Ip(ip),
                    _ => return Err(err(format!("`{value}` is not an IPv6 address"))),
                },
                "cidr" => parse_cidr(value).map_err(err)?,
                "domain" => IndicatorValue::Domain(parse_domain(value).map_err(err)?),
                other => return Err(err(format!("unknown type `{other}` (ipv4, ipv6, cidr, domain)"))),
            };
            set.insert(Indicator { value: parsed, stix_id: None, name: None });
        }
        Ok(set)
    }

    /// Imports the indicators of a STIX 2.1 bundle (see the module documentation).
    pub fn from_stix(json: &str) -> Result<Self, IntelError> {
        let doc: serde_json::Value = serde_json::from_str(json).map_err(|e| IntelError::Bundle(e.to_string()))?;
        if doc.get("type").and_then(|t| t.as_str()) != Some("bundle") {
            return Err(IntelError::Bundle("`type` is not `bundle`".into()));
        }
        let objects = doc
            .get("objects")
            .and_then(|o| o.as_array())
            .ok_or_else(|| IntelError::Bundle("no `objects` array".into()))?;
        let mut set = IntelSet::new();
        for (index, object) in objects.iter().enumerate() {
            let id = object.get("id").and_then(|i| i.as_str()).unwrap_or("?").to_string();
            let err = |reason: String| IntelError::Stix { index, id: id.clone(), reason };
            let Some(kind) = object.get("type").and_then(|t| t.as_str()) else {
                return Err(err("no `type`".into()));
            };
            if kind != "indicator" {
                continue;
            }
            if object.get("revoked").and_then(|r| r.as_bool()) == Some(true) {
                continue;
            }
            match object.get("pattern_type").and_then(|p| p.as_str()) {
                Some("stix") => {}
                Some(other) => return Err(err(format!("pattern_type `{other}` is not supported (stix only)"))),
                None => return Err(err("no `pattern_type`".into())),
            }
            let Some(pattern) = object.get("pattern").and_then(|p| p.as_str()) else {
                return Err(err("no `pattern`".into()));
            };
            let value = parse_stix_pattern(pattern).map_err(err)?;
            let name = object.get("name").and_then(|n| n.as_str()).map(str::to_string);
            set.insert(Indicator { value, stix_id: Some(id.clone()), name });
        }
        Ok(set)
    }
}

fn parse_cidr(value: &str) -> Result<IndicatorValue, String> {
    let Some((addr, len)) = value.split_once('/') else {
        return Err(format!("`{value}` is not a CIDR network (address/length)"));
    };
    let ip: IpAddr = addr.parse().map_err(|_| format!("`{addr}` is not an IP address"))?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let len: u8 =
        len.parse().ok().filter(|l| *l <= max).ok_or_else(|| format!("`{len}` is not a prefix length 0–{max}"))?;
    let host_bits_zero = match ip {
        IpAddr::V4(v4) => len == 32 || u32::from(v4) & (u32::MAX >> len) == 0,
        IpAddr::V6(v6) => len == 128 || u128::from(v6) & (u128::MAX >> len) == 0,
    };
    if !host_bits_zero {
        return Err(format!("`{value}` has host bits set"));
    }
    if len == max {
        return Ok(IndicatorValue::Ip(ip));
    }
    Ok(IndicatorValue::Cidr(ip, len))
}

fn parse_domain(value: &str) -> Result<String, String> {
    let d = value.trim_end_matches('.').to_ascii_lowercase();
    if d.is_empty() || d.len() > 253 {
        return Err(format!("`{value}` is not a domain name (length)"));
    }
    for label in d.split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err(format!("`{value}` is not a domain name (empty or long label)"));
        }
        if !label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
            return Err(format!("`{value}` is not a domain name (characters)"));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(format!("`{value}` is not a domain name (label starts or ends with `-`)"));
        }
    }
    Ok(d)
}

/// Parses `[ipv4-addr:value = '…']`, `[ipv6-addr:value = '…']` or `[domain-name:value = '…']`.
fn parse_stix_pattern(pattern: &str) -> Result<IndicatorValue, String> {
    let unsupported = || {
        format!("pattern `{pattern}` is not supported: one comparison `[ipv4-addr|ipv6-addr|domain-name:value = '…']`")
    };
    let inner = pattern.trim().strip_prefix('[').and_then(|p| p.strip_suffix(']')).ok_or_else(unsupported)?;
    let (path, literal) = inner.split_once('=').ok_or_else(unsupported)?;
    let literal = literal.trim();
    let value = literal.strip_prefix('\'').and_then(|l| l.strip_suffix('\'')).ok_or_else(unsupported)?;
    if value.contains('\'') {
        return Err(unsupported());
    }
    match path.trim() {
        "ipv4-addr:value" => {
            let parsed = if value.contains('/') {
                parse_cidr(value)?
            } else {
                IndicatorValue::Ip(value.parse().map_err(|_| format!("`{value}` is not an IPv4 address"))?)
            };
            match &parsed {
                IndicatorValue::Ip(IpAddr::V4(_)) | IndicatorValue::Cidr(IpAddr::V4(_), _) => Ok(parsed),
                _ => Err(format!("`{value}` is not an IPv4 address")),
            }
        }
        "ipv6-addr:value" => {
            let parsed = if value.contains('/') {
                parse_cidr(value)?
            } else {
                IndicatorValue::Ip(value.parse().map_err(|_| format!("`{value}` is not an IPv6 address"))?)
            };
            match &parsed {
                IndicatorValue::Ip(IpAddr::V6(_)) | IndicatorValue::Cidr(IpAddr::V6(_), _) => Ok(parsed),
                _ => Err(format!("`{value}` is not an IPv6 address")),
            }
        }
        "domain-name:value" => Ok(IndicatorValue::Domain(parse_domain(value)?)),
        _ => Err(unsupported()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_rows_of_every_type_match() {
        let set = IntelSet::from_csv(
            "type,value\n# comment\n\nipv4,203.0.113.5\nipv6,2001:db8::1\ncidr,198.51.100.0/24\ncidr,2001:db8:bad::/48\ndomain,Evil.Example.\n",
        )
        .unwrap();
        assert_eq!(set.len(), 5);
        assert!(set.match_ip("203.0.113.5".parse().unwrap()).is_some());
        assert!(set.match_ip("203.0.113.6".parse().unwrap()).is_none());
        assert!(set.match_ip("198.51.100.77".parse().unwrap()).is_some());
        assert!(set.match_ip("198.51.101.77".parse().unwrap()).is_none());
        assert!(set.match_ip("2001:db8:bad:1::9".parse().unwrap()).is_some());
        assert!(set.match_ip("2001:db8::1".parse().unwrap()).is_some());
        assert!(set.match_domain("evil.example").is_some());
        assert!(set.match_domain("a.b.EVIL.example.").is_some());
        assert!(set.match_domain("notevil.example").is_none());
    }

    #[test]
    fn broken_csv_rows_are_named_and_nothing_is_imported() {
        let cases = [
            ("ipv4,203.0.113.5\nipv4,300.1.1.1\n", 2, "not an IPv4"),
            ("ipv4,2001:db8::1\n", 1, "not an IPv4"),
            ("cidr,10.0.0.1/8\n", 1, "host bits"),
            ("cidr,10.0.0.0/33\n", 1, "prefix length"),
            ("domain,bad_host!.example\n", 1, "characters"),
            ("url,http://x\n", 1, "unknown type"),
            ("ipv4\n", 1, "two columns"),
            ("ipv4,1.2.3.4,extra\n", 1, "more"),
        ];
        for (csv, line, reason) in cases {
            match IntelSet::from_csv(csv) {
                Err(IntelError::Csv { line: l, reason: r }) => {
                    assert_eq!(l, line, "{csv}");
                    assert!(r.contains(reason), "{csv}: {r}");
                }
                other => panic!("{csv}: {other:?}"),
            }
        }
    }

    #[test]
    fn stix_indicators_import_and_unsupported_patterns_refuse_the_bundle() {
        let bundle = r#"{"type":"bundle","id":"bundle--5d0092c5-5f74-4287-9642-33f4c354e56d","objects":[
          {"type":"identity","spec_version":"2.1","id":"identity--1","name":"x"},
          {"type":"indicator","spec_version":"2.1","id":"indicator--a","pattern_type":"stix","pattern":"[ipv4-addr:value = '203.0.113.9']","name":"C2"},
          {"type":"indicator","spec_version":"2.1","id":"indicator--b","pattern_type":"stix","pattern":"[domain-name:value = 'c2.example']"},
          {"type":"indicator","spec_version":"2.1","id":"indicator--c","pattern_type":"stix","pattern":"[ipv6-addr:value = '2001:db8::/32']"},
          {"type":"indicator","spec_version":"2.1","id":"indicator--d","pattern_type":"stix","revoked":true,"pattern":"[file:hashes.MD5 = 'x']"}
        ]}"#;
        let set = IntelSet::from_stix(bundle).unwrap();
        assert_eq!(set.len(), 3);
        let hit = set.match_ip("203.0.113.9".parse().unwrap()).unwrap();
        assert_eq!(hit.stix_id.as_deref(), Some("indicator--a"));
        assert_eq!(hit.name.as_deref(), Some("C2"));
        assert!(set.match_domain("x.c2.example").is_some());
        assert!(set.match_ip("2001:db8:1::1".parse().unwrap()).is_some());

        let bad = bundle.replace("[domain-name:value = 'c2.example']", "[url:value = 'http://x']");
        match IntelSet::from_stix(&bad) {
            Err(IntelError::Stix { index, id, reason }) => {
                assert_eq!((index, id.as_str()), (2, "indicator--b"));
                assert!(reason.contains("not supported"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
        let bad = bundle.replace("'203.0.113.9'", "'203.0.113.999'");
        assert!(matches!(IntelSet::from_stix(&bad), Err(IntelError::Stix { index: 1, .. })));
        assert!(matches!(IntelSet::from_stix("[]"), Err(IntelError::Bundle(_))));
        assert!(matches!(IntelSet::from_stix("{\"type\":\"bundle\"}"), Err(IntelError::Bundle(_))));
    }

    #[test]
    fn patterns_round_trip() {
        for v in ["ipv4,203.0.113.5", "ipv6,2001:db8::1", "cidr,198.51.100.0/24", "domain,c2.example"] {
            let set = IntelSet::from_csv(v).unwrap();
            let pattern = set.indicators()[0].value.stix_pattern();
            assert_eq!(parse_stix_pattern(&pattern).unwrap(), set.indicators()[0].value);
        }
    }
}
