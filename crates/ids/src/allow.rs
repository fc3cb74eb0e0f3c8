//! Traffic allowlist entries (CLP.14 SUB-2): the destinations a SIM may reach, written once in
//! profiles and per-SIM overrides and enforced by the PCRF (as IPFilterRules) and the DNS firewall.
//!
//! | type | text | meaning |
//! |---|---|---|
//! | [`PrefixRule`] | `198.51.100.0/24`, `203.0.113.7/32:443/tcp`, `2001:db8::/32:5683-5684/udp` | a CIDR prefix, optionally one port or a port range, optionally one protocol |
//! | [`DomainPattern`] | `api.acme.example`, `*.ota.acme.example` | an exact name, or every name strictly below a suffix |
//!
//! A prefix's host bits must be zero (`198.51.100.1/24` is refused, not silently widened); a bare
//! address is a host prefix (`/32`, `/128`). Names are compared in lower case without a trailing dot.
//! Both types serialise as their canonical text, so a stored value has passed these checks.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// Why an allowlist entry was refused; the message names the entry and the rule it breaks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AllowError {
    /// The address part is not an IPv4 or IPv6 address.
    #[error("{0:?}: not an IP address")]
    Address(String),
    /// The prefix length is not a number within the address family's width.
    #[error("{0:?}: prefix length must be 0-32 for IPv4 and 0-128 for IPv6")]
    Length(String),
    /// Bits set after the prefix length.
    #[error("{entry:?}: host bits are set after /{len} (did you mean {canonical}?)")]
    HostBits {
        /// The entry as given.
        entry: String,
        /// Its prefix length.
        len: u8,
        /// The prefix with its host bits cleared.
        canonical: String,
    },
    /// A port that is not 1-65535, or a range whose start is after its end.
    #[error("{0:?}: ports must be 1-65535, a range as LOW-HIGH with LOW <= HIGH")]
    Port(String),
    /// A protocol other than tcp, udp, icmp, icmpv6 or a number 0-255.
    #[error("{0:?}: protocol must be tcp, udp, icmp, icmpv6 or a number 0-255")]
    Protocol(String),
    /// A name that is not a valid DNS name (RFC 1035 letters, digits and hyphens per label).
    #[error("{name:?}: {why}")]
    Domain {
        /// The name as given.
        name: String,
        /// What is wrong with it.
        why: &'static str,
    },
}

/// An IP protocol a rule is limited to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Proto(pub u8);

impl Proto {
    /// ICMP (1).
    pub const ICMP: Proto = Proto(1);
    /// TCP (6).
    pub const TCP: Proto = Proto(6);
    /// UDP (17).
    pub const UDP: Proto = Proto(17);
    /// ICMPv6 (58).
    pub const ICMPV6: Proto = Proto(58);

    /// The name used in allowlists and IPFilterRules (`tcp`), or the number.
    pub fn name(self) -> Option<&'static str> {
        match self.0 {
            1 => Some("icmp"),
            6 => Some("tcp"),
            17 => Some("udp"),
            58 => Some("icmpv6"),
            _ => None,
        }
    }

    /// True for the protocols that have ports (TCP, UDP, SCTP 132, UDP-Lite 136).
    pub fn has_ports(self) -> bool {
        matches!(self.0, 6 | 17 | 132 | 136)
    }
}

impl fmt::Display for Proto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "{}", self.0),
        }
    }
}

impl FromStr for Proto {
    type Err = AllowError;
    fn from_str(s: &str) -> Result<Self, AllowError> {
        match s.to_ascii_lowercase().as_str() {
            "icmp" => Ok(Proto::ICMP),
            "tcp" => Ok(Proto::TCP),
            "udp" => Ok(Proto::UDP),
            "icmpv6" | "ipv6-icmp" => Ok(Proto::ICMPV6),
            n if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => {
                n.parse::<u8>().map(Proto).map_err(|_| AllowError::Protocol(s.into()))
            }
            _ => Err(AllowError::Protocol(s.into())),
        }
    }
}

/// A destination prefix, with an optional port range and protocol: `203.0.113.7/32:443/tcp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PrefixRule {
    /// The network address (host bits zero).
    pub addr: IpAddr,
    /// The prefix length.
    pub len: u8,
    /// The destination ports, inclusive (`None`: any port).
    pub ports: Option<(u16, u16)>,
    /// The protocol (`None`: any protocol).
    pub proto: Option<Proto>,
}

impl PrefixRule {
    /// A rule for the single address `addr` (a /32 or /128), any port and protocol.
    pub fn host(addr: IpAddr) -> Self {
        let len = if addr.is_ipv4() { 32 } else { 128 };
        PrefixRule { addr, len, ports: None, proto: None }
    }

    /// True when `ip` is inside the prefix (an IPv4-mapped IPv6 address counts as its IPv4 address).
    pub fn contains_ip(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(a)) => masked(u32::from(a) as u128, 32, self.len) == u32::from(net) as u128,
            (IpAddr::V6(net), IpAddr::V6(a)) => masked(u128::from(a), 128, self.len) == u128::from(net),
            _ => false,
        }
    }

    /// True when a packet to `ip`, `port` over `proto` is allowed by this rule.
    pub fn allows(&self, ip: IpAddr, port: Option<u16>, proto: Proto) -> bool {
        self.contains_ip(ip)
            && self.proto.is_none_or(|p| p == proto)
            && match (self.ports, port) {
                (None, _) => true,
                (Some((lo, hi)), Some(p)) => (lo..=hi).contains(&p),
                (Some(_), None) => false,
            }
    }
}

/// `value` with the bits after `len` (of `width`) cleared.
fn masked(value: u128, width: u8, len: u8) -> u128 {
    if len == 0 {
        return 0;
    }
    let keep = u128::MAX << (128 - len as u32) >> (128 - width as u32);
    value & keep
}

impl fmt::Display for PrefixRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)?;
        match self.ports {
            Some((lo, hi)) if lo == hi => write!(f, ":{lo}")?,
            Some((lo, hi)) => write!(f, ":{lo}-{hi}")?,
            None => {}
        }
        if let Some(p) = self.proto {
            write!(f, "/{p}")?;
        }
        Ok(())
    }
}

impl FromStr for PrefixRule {
    type Err = AllowError;
    fn from_str(s: &str) -> Result<Self, AllowError> {
        let entry = s.trim();
        // ADDRESS[/LEN][:PORTS][/PROTO]: an IPv6 address has colons, so the port is only looked for
        // after the prefix length (or, for a bare IPv4 address, after the address).
        let (addr_text, rest) = match entry.find('/') {
            Some(i) => (&entry[..i], Some(&entry[i + 1..])),
            None => (entry, None),
        };
        let (addr_text, mut after_addr) = match addr_text.parse::<IpAddr>() {
            Ok(_) => (addr_text, None),
            Err(_) => match addr_text.rsplit_once(':') {
                // `192.0.2.1:443` (a bare IPv4 address with a port).
                Some((a, port)) if a.parse::<std::net::Ipv4Addr>().is_ok() => (a, Some(port)),
                _ => return Err(AllowError::Address(entry.into())),
            },
        };
        let addr: IpAddr = addr_text.parse().map_err(|_| AllowError::Address(entry.into()))?;
        let width = if addr.is_ipv4() { 32 } else { 128 };
        let mut len = width;
        let mut proto_text = None;
        if let Some(rest) = rest {
            if after_addr.is_some() {
                // `192.0.2.1:443/tcp`: what follows the slash is the protocol.
                proto_text = Some(rest);
            } else {
                let (len_part, tail) = match rest.find([':', '/']) {
                    Some(i) => (&rest[..i], Some(&rest[i..])),
                    None => (rest, None),
                };
                len = len_part
                    .parse::<u8>()
                    .ok()
                    .filter(|l| *l <= width && !len_part.is_empty() && len_part.bytes().all(|b| b.is_ascii_digit()))
                    .ok_or_else(|| AllowError::Length(entry.into()))?;
                match tail {
                    Some(t) if t.starts_with(':') => match t[1..].split_once('/') {
                        Some((ports, proto)) => {
                            after_addr = Some(ports);
                            proto_text = Some(proto);
                        }
                        None => after_addr = Some(&t[1..]),
                    },
                    Some(t) => proto_text = Some(&t[1..]),
                    None => {}
                }
            }
        }
        let ports = after_addr.map(|p| parse_ports(p).ok_or_else(|| AllowError::Port(entry.into()))).transpose()?;
        let proto = proto_text.map(str::parse::<Proto>).transpose().map_err(|_| AllowError::Protocol(entry.into()))?;
        if ports.is_some() && proto.is_some_and(|p| !p.has_ports()) {
            return Err(AllowError::Port(entry.into()));
        }
        let value = match addr {
            IpAddr::V4(a) => u32::from(a) as u128,
            IpAddr::V6(a) => u128::from(a),
        };
        let net = masked(value, width, len);
        if net != value {
            let canonical_addr = match addr {
                IpAddr::V4(_) => IpAddr::V4((net as u32).into()),
                IpAddr::V6(_) => IpAddr::V6(net.into()),
            };
            return Err(AllowError::HostBits {
                entry: entry.into(),
                len,
                canonical: format!("{canonical_addr}/{len}"),
            });
        }
        Ok(PrefixRule { addr, len, ports, proto })
    }
}

fn parse_ports(p: &str) -> Option<(u16, u16)> {
    let digits = |x: &str| -> Option<u16> {
        (!x.is_empty() && x.bytes().all(|b| b.is_ascii_digit()))
            .then(|| x.parse::<u16>().ok())
            .flatten()
            .filter(|v| *v > 0)
    };
    match p.split_once('-') {
        Some((lo, hi)) => {
            let (lo, hi) = (digits(lo)?, digits(hi)?);
            (lo <= hi).then_some((lo, hi))
        }
        None => digits(p).map(|v| (v, v)),
    }
}

/// A domain name a SIM may resolve: exactly `name`, or (`*.name`) any name strictly below it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DomainPattern {
    /// The name in lower case, without a trailing dot or the `*.`.
    name: String,
    /// True for `*.name`.
    wildcard: bool,
}

impl DomainPattern {
    /// The name (without `*.`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// True for a `*.suffix` pattern.
    pub fn is_wildcard(&self) -> bool {
        self.wildcard
    }

    /// True when `query` (any case, with or without the trailing dot) is allowed by this pattern.
    pub fn matches(&self, query: &str) -> bool {
        let q = query.strip_suffix('.').unwrap_or(query);
        if !self.wildcard {
            return q.eq_ignore_ascii_case(&self.name);
        }
        q.len() > self.name.len() + 1 && {
            let (head, tail) = q.split_at(q.len() - self.name.len());
            head.ends_with('.') && tail.eq_ignore_ascii_case(&self.name)
        }
    }
}

impl fmt::Display for DomainPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.wildcard {
            f.write_str("*.")?;
        }
        f.write_str(&self.name)
    }
}

impl FromStr for DomainPattern {
    type Err = AllowError;
    fn from_str(s: &str) -> Result<Self, AllowError> {
        let bad = |why| AllowError::Domain { name: s.into(), why };
        let t = s.trim();
        let (wildcard, name) = match t.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, t),
        };
        let name = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
        if name.is_empty() {
            return Err(bad("empty name"));
        }
        if name.len() > 253 {
            return Err(bad("longer than 253 characters"));
        }
        if name.contains('*') {
            return Err(bad("a wildcard is only allowed as the whole first label (*.example.com)"));
        }
        for label in name.split('.') {
            if label.is_empty() || label.len() > 63 {
                return Err(bad("every label must be 1-63 characters"));
            }
            if !label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
                return Err(bad("labels may hold only letters, digits, '-' and '_'"));
            }
            if label.starts_with('-') || label.ends_with('-') {
                return Err(bad("a label may not start or end with '-'"));
            }
        }
        if wildcard && !name.contains('.') {
            return Err(bad("a wildcard needs a suffix of at least two labels (*.example.com)"));
        }
        Ok(DomainPattern { name, wildcard })
    }
}

macro_rules! serde_as_text {
    ($t:ty) => {
        impl serde::Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
        impl<'de> serde::Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}
serde_as_text!(PrefixRule);
serde_as_text!(DomainPattern);
serde_as_text!(Proto);

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> PrefixRule {
        s.parse().unwrap()
    }

    #[test]
    fn prefixes_parse_and_print_canonically() {
        for s in
            ["198.51.100.0/24", "203.0.113.7/32:443/tcp", "2001:db8::/32:5683-5684/udp", "0.0.0.0/0", "10.0.0.0/8/udp"]
        {
            assert_eq!(p(s).to_string(), s);
        }
        assert_eq!(p("192.0.2.1").to_string(), "192.0.2.1/32");
        assert_eq!(p("192.0.2.1:443/tcp").to_string(), "192.0.2.1/32:443/tcp");
        assert_eq!(p("2001:db8::1").to_string(), "2001:db8::1/128");
        assert_eq!(p("10.0.0.0/8/17").proto, Some(Proto::UDP));
    }

    #[test]
    fn bad_prefixes_say_what_is_wrong() {
        assert!(
            matches!("198.51.100.1/24".parse::<PrefixRule>(), Err(AllowError::HostBits { canonical, .. }) if canonical == "198.51.100.0/24")
        );
        assert!(matches!("198.51.100.0/33".parse::<PrefixRule>(), Err(AllowError::Length(_))));
        assert!(matches!("example.com".parse::<PrefixRule>(), Err(AllowError::Address(_))));
        assert!(matches!("192.0.2.0/24:0".parse::<PrefixRule>(), Err(AllowError::Port(_))));
        assert!(matches!("192.0.2.0/24:90-80".parse::<PrefixRule>(), Err(AllowError::Port(_))));
        assert!(matches!("192.0.2.0/24:443/gre".parse::<PrefixRule>(), Err(AllowError::Protocol(_))));
        assert!(matches!("192.0.2.0/24:443/icmp".parse::<PrefixRule>(), Err(AllowError::Port(_))));
        assert!(matches!("192.0.2.0/+8".parse::<PrefixRule>(), Err(AllowError::Length(_))));
    }

    #[test]
    fn prefixes_match_addresses_ports_and_protocols() {
        let r = p("203.0.113.0/24:443/tcp");
        assert!(r.allows("203.0.113.9".parse().unwrap(), Some(443), Proto::TCP));
        assert!(r.allows("::ffff:203.0.113.9".parse().unwrap(), Some(443), Proto::TCP));
        assert!(!r.allows("203.0.113.9".parse().unwrap(), Some(80), Proto::TCP));
        assert!(!r.allows("203.0.113.9".parse().unwrap(), Some(443), Proto::UDP));
        assert!(!r.allows("203.0.114.9".parse().unwrap(), Some(443), Proto::TCP));
        assert!(p("0.0.0.0/0").contains_ip("8.8.8.8".parse().unwrap()));
        assert!(!p("0.0.0.0/0").contains_ip("2001:db8::1".parse().unwrap()));
        assert!(p("2001:db8::/32").contains_ip("2001:db8:ffff::1".parse().unwrap()));
    }

    #[test]
    fn domains_match_exactly_or_strictly_below_a_wildcard() {
        let exact: DomainPattern = "API.acme.example.".parse().unwrap();
        assert_eq!(exact.to_string(), "api.acme.example");
        assert!(exact.matches("api.ACME.example."));
        assert!(!exact.matches("x.api.acme.example"));
        let wild: DomainPattern = "*.ota.acme.example".parse().unwrap();
        assert!(wild.matches("fw.ota.acme.example"));
        assert!(wild.matches("a.b.ota.acme.example."));
        assert!(!wild.matches("ota.acme.example"));
        assert!(!wild.matches("evilota.acme.example"));
        for bad in ["", "*", "*.com", "a..b", "-a.example", "a*.example", "bad name.example", &"a".repeat(64)] {
            assert!(bad.parse::<DomainPattern>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn serde_round_trips_through_the_text() {
        let r: PrefixRule = serde_json::from_str("\"203.0.113.7/32:443/tcp\"").unwrap();
        assert_eq!(serde_json::to_string(&r).unwrap(), "\"203.0.113.7/32:443/tcp\"");
        assert!(serde_json::from_str::<PrefixRule>("\"203.0.113.7/24\"").is_err());
        let d: DomainPattern = serde_json::from_str("\"*.ota.acme.example\"").unwrap();
        assert_eq!(serde_json::to_string(&d).unwrap(), "\"*.ota.acme.example\"");
    }

    proptest::proptest! {
        #[test]
        fn parsing_never_panics_and_printing_round_trips(s in "\\PC{0,40}") {
            if let Ok(r) = s.parse::<PrefixRule>() {
                proptest::prop_assert_eq!(r.to_string().parse::<PrefixRule>().unwrap(), r);
            }
            if let Ok(d) = s.parse::<DomainPattern>() {
                proptest::prop_assert_eq!(d.to_string().parse::<DomainPattern>().unwrap(), d);
            }
        }
    }
}
