//! IPFilterRule (RFC 6733 §4.3.1) parsed into a structure: `action dir proto from src [ports] to dst
//! [ports] [options]`, with `any`, `assigned`, `!`, addresses with `/bits`, port lists and ranges.
//! And the narrower Flow-Description profile of Gx (TS 29.212 §5.4.2): `permit out`, a protocol
//! number or `ip`, the remote side as source (`any` allowed), the UE as destination (`assigned`
//! allowed), one port or range per side, no options, no `!`.

use std::fmt;
use std::net::IpAddr;

/// A rule that is not an IPFilterRule, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterError(pub String);

impl fmt::Display for FilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid IPFilterRule: {}", self.0)
    }
}

impl std::error::Error for FilterError {}

fn err<T>(s: impl Into<String>) -> Result<T, FilterError> {
    Err(FilterError(s.into()))
}

/// `permit` or `deny`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Allow packets that match.
    Permit,
    /// Drop packets that match.
    Deny,
}

/// `in` (from the terminal) or `out` (to the terminal).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    /// Incoming to the NAS from the terminal: uplink on Gx.
    In,
    /// Outgoing from the NAS to the terminal: downlink on Gx.
    Out,
}

/// An address with a prefix length (`198.51.100.0/24`; a bare address is a full-length prefix).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Prefix {
    /// The address as written (bits past `len` are ignored when matching).
    pub addr: IpAddr,
    /// Prefix length in bits.
    pub len: u8,
}

impl Prefix {
    /// `addr/len`; fails when `len` exceeds the family's width.
    pub fn new(addr: IpAddr, len: u8) -> Result<Self, FilterError> {
        if len > max_len(addr) {
            return err(format!("prefix length {len} too long for {addr}"));
        }
        Ok(Self { addr, len })
    }

    /// Parses `a.b.c.d`, `a.b.c.d/n`, `x::y` or `x::y/n`.
    pub fn parse(s: &str) -> Result<Self, FilterError> {
        let (a, len) = match s.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (s, None),
        };
        let addr: IpAddr = a.parse().map_err(|_| FilterError(format!("bad address {a:?}")))?;
        let len = match len {
            Some(l) => l.parse::<u8>().map_err(|_| FilterError(format!("bad prefix length {l:?}")))?,
            None => max_len(addr),
        };
        Self::new(addr, len)
    }

    /// True when `ip` is inside this prefix (never across address families).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(p), IpAddr::V4(a)) => {
                masked(u32::from(p).into(), 32, self.len) == masked(u32::from(a).into(), 32, self.len)
            }
            (IpAddr::V6(p), IpAddr::V6(a)) => {
                masked(u128::from(p), 128, self.len) == masked(u128::from(a), 128, self.len)
            }
            _ => false,
        }
    }

    /// True for a host address (/32 or /128).
    pub fn is_host(&self) -> bool {
        self.len == max_len(self.addr)
    }
}

fn max_len(a: IpAddr) -> u8 {
    if a.is_ipv4() {
        32
    } else {
        128
    }
}

fn masked(v: u128, width: u32, len: u8) -> u128 {
    let keep = u32::from(len).min(width);
    if keep == 0 {
        0
    } else {
        v >> (width - keep)
    }
}

impl fmt::Display for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_host() {
            write!(f, "{}", self.addr)
        } else {
            write!(f, "{}/{}", self.addr, self.len)
        }
    }
}

/// The address part of a side of a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Addr {
    /// `any`: every address.
    Any,
    /// `assigned`: the address(es) assigned to the terminal.
    Assigned,
    /// An address or prefix.
    Net(Prefix),
}

/// An inclusive port range (`443` is 443-443).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PortRange {
    /// First port.
    pub lo: u16,
    /// Last port.
    pub hi: u16,
}

impl PortRange {
    /// One port.
    pub const fn one(p: u16) -> Self {
        Self { lo: p, hi: p }
    }

    /// True when `p` is in the range.
    pub fn contains(&self, p: u16) -> bool {
        self.lo <= p && p <= self.hi
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.lo == self.hi {
            write!(f, "{}", self.lo)
        } else {
            write!(f, "{}-{}", self.lo, self.hi)
        }
    }
}

/// One side of a rule: `[!]address [ports]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `!`: matches what the address does not.
    pub negated: bool,
    /// The address.
    pub addr: Addr,
    /// Ports; empty means every port.
    pub ports: Vec<PortRange>,
}

impl Endpoint {
    /// True when `ip` (an address of the terminal when `assigned` is to match, see `terminal`) and
    /// `port` match this side. A side with ports does not match a packet whose port is unknown.
    pub fn matches(&self, ip: IpAddr, port: Option<u16>, terminal: bool) -> bool {
        let hit = match self.addr {
            Addr::Any => true,
            Addr::Assigned => terminal,
            Addr::Net(p) => p.contains(ip),
        };
        if hit == self.negated {
            return false;
        }
        self.ports.is_empty() || port.is_some_and(|p| self.ports.iter().any(|r| r.contains(p)))
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.negated {
            f.write_str("!")?;
        }
        match self.addr {
            Addr::Any => f.write_str("any")?,
            Addr::Assigned => f.write_str("assigned")?,
            Addr::Net(p) => write!(f, "{p}")?,
        }
        if !self.ports.is_empty() {
            let ports: Vec<String> = self.ports.iter().map(ToString::to_string).collect();
            write!(f, " {}", ports.join(","))?;
        }
        Ok(())
    }
}

/// A parsed IPFilterRule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpFilterRule {
    /// `permit` or `deny`.
    pub action: Action,
    /// `in` or `out`.
    pub dir: Dir,
    /// The IP protocol number; `None` for `ip` (every protocol).
    pub proto: Option<u8>,
    /// `from` side.
    pub src: Endpoint,
    /// `to` side.
    pub dst: Endpoint,
    /// Options (`frag`, `established`, `tcpflags syn,!ack`, …) as written.
    pub options: Vec<String>,
}

/// RFC 6733 §4.3.1 options, and whether each takes an argument.
const OPTIONS: &[(&str, bool)] = &[
    ("frag", false),
    ("ipoptions", true),
    ("tcpoptions", true),
    ("established", false),
    ("setup", false),
    ("tcpflags", true),
    ("icmptypes", true),
];

fn parse_ports(s: &str) -> Result<Vec<PortRange>, FilterError> {
    s.split(',')
        .map(|p| {
            let num = |x: &str| x.parse::<u16>().map_err(|_| FilterError(format!("bad port {x:?}")));
            match p.split_once('-') {
                Some((a, b)) => {
                    let (lo, hi) = (num(a)?, num(b)?);
                    if lo > hi {
                        return err(format!("empty port range {p}"));
                    }
                    Ok(PortRange { lo, hi })
                }
                None => Ok(PortRange::one(num(p)?)),
            }
        })
        .collect()
}

fn looks_like_ports(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_digit() || c == ',' || c == '-')
}

impl IpFilterRule {
    /// Parses one rule. Keywords are case-sensitive, as RFC 6733 writes them.
    pub fn parse(text: &str) -> Result<Self, FilterError> {
        let mut t = text.split_whitespace().peekable();
        let action = match t.next() {
            Some("permit") => Action::Permit,
            Some("deny") => Action::Deny,
            other => return err(format!("action must be permit or deny, not {other:?}")),
        };
        let dir = match t.next() {
            Some("in") => Dir::In,
            Some("out") => Dir::Out,
            other => return err(format!("direction must be in or out, not {other:?}")),
        };
        let proto = match t.next() {
            Some("ip") => None,
            Some(p) => {
                Some(p.parse::<u8>().map_err(|_| FilterError(format!("protocol must be a number or ip, not {p:?}")))?)
            }
            None => return err("no protocol"),
        };
        if t.next() != Some("from") {
            return err("expected `from`");
        }
        let endpoint = |t: &mut std::iter::Peekable<std::str::SplitWhitespace<'_>>, side: &str| {
            let mut a = t.next().ok_or_else(|| FilterError(format!("no {side} address")))?;
            let mut negated = false;
            if a == "!" {
                negated = true;
                a = t.next().ok_or_else(|| FilterError(format!("no {side} address after !")))?;
            } else if let Some(rest) = a.strip_prefix('!') {
                negated = true;
                a = rest;
            }
            let addr = match a {
                "any" => Addr::Any,
                "assigned" => Addr::Assigned,
                _ => Addr::Net(Prefix::parse(a)?),
            };
            let ports = match t.peek() {
                Some(p) if looks_like_ports(p) => parse_ports(t.next().unwrap_or_default())?,
                _ => Vec::new(),
            };
            Ok::<_, FilterError>(Endpoint { negated, addr, ports })
        };
        let src = endpoint(&mut t, "source")?;
        if t.next() != Some("to") {
            return err("expected `to`");
        }
        let dst = endpoint(&mut t, "destination")?;
        let mut options = Vec::new();
        while let Some(o) = t.next() {
            match OPTIONS.iter().find(|(name, _)| *name == o) {
                Some((_, false)) => options.push(o.to_string()),
                Some((_, true)) => {
                    let arg = t.next().ok_or_else(|| FilterError(format!("option {o} needs an argument")))?;
                    options.push(format!("{o} {arg}"));
                }
                None => return err(format!("unknown option or trailing text {o:?}")),
            }
        }
        Ok(Self { action, dir, proto, src, dst, options })
    }

    /// Where this rule departs from the Flow-Description profile of Gx (TS 29.212 §5.4.2); empty
    /// when it conforms.
    pub fn gx_violations(&self) -> Vec<String> {
        let mut v = Vec::new();
        if self.action != Action::Permit {
            v.push("action must be permit".to_string());
        }
        if self.dir != Dir::Out {
            v.push("direction must be out".to_string());
        }
        if self.src.negated || self.dst.negated {
            v.push("no ! (invert) modifier".to_string());
        }
        if self.src.addr == Addr::Assigned {
            v.push("source is the remote side: `assigned` is for the UE (destination)".to_string());
        }
        if self.dst.addr == Addr::Any {
            v.push("destination is the UE: an address or `assigned`, not `any`".to_string());
        }
        if self.src.ports.len() > 1 || self.dst.ports.len() > 1 {
            v.push("one port or port range per side, not a list".to_string());
        }
        if !self.options.is_empty() {
            v.push(format!("no options ({})", self.options.join(" ")));
        }
        v
    }
}

impl fmt::Display for IpFilterRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let action = if self.action == Action::Permit { "permit" } else { "deny" };
        let dir = if self.dir == Dir::In { "in" } else { "out" };
        write!(f, "{action} {dir} ")?;
        match self.proto {
            None => f.write_str("ip")?,
            Some(p) => write!(f, "{p}")?,
        }
        write!(f, " from {} to {}", self.src, self.dst)?;
        for o in &self.options {
            write!(f, " {o}")?;
        }
        Ok(())
    }
}

impl std::str::FromStr for IpFilterRule {
    type Err = FilterError;
    fn from_str(s: &str) -> Result<Self, FilterError> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> IpFilterRule {
        IpFilterRule::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn gx_flow_descriptions_parse_into_their_parts() {
        // The shape of TS 29.212 §5.4.2 / TS 29.214 §5.3.8 examples: remote as source, UE as
        // destination.
        let r = p("permit out 17 from 192.0.2.10 5060 to 10.45.0.2 49152-49200");
        assert_eq!((r.action, r.dir, r.proto), (Action::Permit, Dir::Out, Some(17)));
        assert_eq!(r.src.addr, Addr::Net(Prefix::parse("192.0.2.10/32").unwrap()));
        assert_eq!(r.src.ports, vec![PortRange::one(5060)]);
        assert_eq!(r.dst.ports, vec![PortRange { lo: 49152, hi: 49200 }]);
        assert!(r.gx_violations().is_empty(), "{:?}", r.gx_violations());

        let r = p("permit out ip from 198.51.100.0/24 to assigned");
        assert_eq!(r.proto, None);
        assert_eq!(r.dst.addr, Addr::Assigned);
        assert!(r.src.ports.is_empty() && r.dst.ports.is_empty());
        assert!(r.gx_violations().is_empty());

        let r = p("permit out 6 from 2001:db8::/32 443 to 2001:db8:1::1");
        assert_eq!(r.src.addr, Addr::Net(Prefix { addr: "2001:db8::".parse().unwrap(), len: 32 }));
        assert_eq!(r.to_string(), "permit out 6 from 2001:db8::/32 443 to 2001:db8:1::1");
    }

    #[test]
    fn rfc_6733_forms_parse_and_print_back() {
        for s in [
            "deny in ip from any to any",
            "permit in 6 from assigned 1024-65535 to 203.0.113.7 80,443,8000-8080 established",
            "deny out 1 from !10.0.0.0/8 to any icmptypes 0,8",
            "permit in 6 from any to any tcpflags syn,!ack setup",
            "permit out 17 from any 53 to assigned frag",
        ] {
            assert_eq!(p(s).to_string(), s);
        }
        let r = p("deny out 1 from ! 10.0.0.0/8 to any");
        assert!(r.src.negated);
        let r = p("permit in 6 from assigned 1024-65535 to 203.0.113.7 80,443,8000-8080 established");
        assert_eq!(r.dst.ports.len(), 3);
        assert_eq!(r.options, vec!["established"]);
        assert_eq!(r.gx_violations().len(), 4, "{:?}", r.gx_violations());
    }

    #[test]
    fn malformed_rules_are_refused_with_the_reason() {
        for (s, why) in [
            ("allow out ip from any to any", "action"),
            ("permit up ip from any to any", "direction"),
            ("permit out tcp from any to any", "protocol"),
            ("permit out 300 from any to any", "protocol"),
            ("permit out ip any to any", "from"),
            ("permit out ip from any any", "to"),
            ("permit out ip from 10.0.0.0/33 to any", "prefix length"),
            ("permit out ip from 10.0.0.300 to any", "address"),
            ("permit out 6 from any 99999 to any", "port"),
            ("permit out 6 from any 90-80 to any", "range"),
            ("permit out ip from any to any bogus", "trailing"),
            ("permit out ip from any to any tcpflags", "argument"),
            ("permit out ip from any to", "destination"),
            ("", "action"),
        ] {
            let e = IpFilterRule::parse(s).expect_err(s);
            assert!(e.0.contains(why), "{s}: {e}");
        }
    }

    #[test]
    fn endpoints_match_prefixes_ports_and_negation() {
        let r = p("permit out 6 from 198.51.100.0/24 443,8443 to assigned");
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(r.src.matches(ip("198.51.100.200"), Some(443), false));
        assert!(r.src.matches(ip("198.51.100.7"), Some(8443), false));
        assert!(!r.src.matches(ip("198.51.101.7"), Some(443), false));
        assert!(!r.src.matches(ip("198.51.100.7"), Some(80), false));
        assert!(!r.src.matches(ip("198.51.100.7"), None, false), "a port is required");
        assert!(!r.src.matches(ip("::ffff:198.51.100.7"), Some(443), false), "no cross-family match");
        assert!(r.dst.matches(ip("10.0.0.1"), None, true));
        assert!(!r.dst.matches(ip("10.0.0.1"), None, false), "assigned is the terminal only");
        let n = p("deny in ip from !10.0.0.0/8 to any");
        assert!(n.src.matches(ip("192.0.2.1"), None, false));
        assert!(!n.src.matches(ip("10.1.2.3"), None, false));
        assert!(Prefix::parse("0.0.0.0/0").unwrap().contains(ip("203.0.113.9")));
        assert!(Prefix::parse("2001:db8::/32").unwrap().contains(ip("2001:db8:ffff::1")));
        assert!(!Prefix::parse("2001:db8::/33").unwrap().contains(ip("2001:db8:ffff::1")));
    }
}
