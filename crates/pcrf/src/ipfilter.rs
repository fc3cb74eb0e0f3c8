//! IPFilterRule (RFC 6733 §4.3.1) as Gx uses it for Flow-Description, and Flow-Direction.
//!
//! TS 29.214 §5.3.8 and TS 29.212 §5.4.2 restrict the rule: action `permit` only, no options, no
//! `!`; on Gx the direction is always `out`, the source is the remote side (the network) and the
//! destination the UE side, and the Flow-Direction AVP beside it says whether the filter applies
//! downlink, uplink or both. The UE side is written `assigned` (the addresses assigned to the UE),
//! as P-GWs and SMFs expect it (Open5GS, free5GC and OAI write their own rules that way; the
//! independent test P-GW of `testkit::gx` refuses `any` there). So the rule
//! `permit out 6 from 203.0.113.7/32 443 to assigned` with Flow-Direction BIDIRECTIONAL lets the UE
//! talk to 203.0.113.7 on TCP port 443 and receive the answers.
//!
//! [`FlowFilter`] is written by [`std::fmt::Display`] and read back by [`std::str::FromStr`]: the
//! tests parse every Flow-Description the PCRF sends to check it is exactly the allowlist.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// Flow-Direction (TS 29.212 §5.3.65).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// DOWNLINK (1): network to UE.
    Downlink = 1,
    /// UPLINK (2): UE to network.
    Uplink = 2,
    /// BIDIRECTIONAL (3).
    Bidirectional = 3,
}

impl Direction {
    /// The AVP value.
    pub fn value(self) -> u32 {
        self as u32
    }

    /// The direction of an AVP value (UNSPECIFIED, 0, is not one).
    pub fn from_value(v: u32) -> Option<Self> {
        match v {
            1 => Some(Self::Downlink),
            2 => Some(Self::Uplink),
            3 => Some(Self::Bidirectional),
            _ => None,
        }
    }
}

/// One side of a filter: a prefix (or any address) and optionally a port range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Endpoint {
    /// The prefix (address with host bits zero, length); `None` is `any`.
    pub net: Option<(IpAddr, u8)>,
    /// Inclusive port range; `None` is every port.
    pub ports: Option<(u16, u16)>,
}

impl Endpoint {
    /// Any address, any port.
    pub const ANY: Endpoint = Endpoint { net: None, ports: None };
}

/// A Gx flow filter: `permit out <proto> from <remote> to <ue>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FlowFilter {
    /// IP protocol number; `None` is `ip` (every protocol).
    pub proto: Option<u8>,
    /// The network side (the IPFilterRule's source).
    pub remote: Endpoint,
    /// The UE side (the IPFilterRule's destination); no address is `assigned`, the UE's own.
    pub ue: Endpoint,
}

/// Why a Flow-Description was not understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError(pub String);

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IPFilterRule: {}", self.0)
    }
}

impl std::error::Error for ParseError {}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.net {
            None => f.write_str("any")?,
            Some((addr, len)) => write!(f, "{addr}/{len}")?,
        }
        match self.ports {
            None => Ok(()),
            Some((lo, hi)) if lo == hi => write!(f, " {lo}"),
            Some((lo, hi)) => write!(f, " {lo}-{hi}"),
        }
    }
}

impl fmt::Display for FlowFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("permit out ")?;
        match self.proto {
            None => f.write_str("ip")?,
            Some(p) => write!(f, "{p}")?,
        }
        write!(f, " from {} to ", self.remote)?;
        match self.ue.net {
            None => f.write_str("assigned")?,
            Some((addr, len)) => write!(f, "{addr}/{len}")?,
        }
        match self.ue.ports {
            None => Ok(()),
            Some((lo, hi)) if lo == hi => write!(f, " {lo}"),
            Some((lo, hi)) => write!(f, " {lo}-{hi}"),
        }
    }
}

fn bad(why: impl Into<String>) -> ParseError {
    ParseError(why.into())
}

fn parse_net(s: &str, ue_side: bool) -> Result<Option<(IpAddr, u8)>, ParseError> {
    match (s, ue_side) {
        ("any", false) | ("assigned", true) => return Ok(None),
        ("assigned", false) => return Err(bad("\"assigned\" names the UE: it is the destination on Gx")),
        ("any", true) => return Err(bad("the destination is the UE: \"assigned\" or its address, not \"any\"")),
        _ => {}
    }
    if s.starts_with('!') {
        return Err(bad(format!("{s:?}: the invert modifier is not used on Gx (TS 29.214 §5.3.8)")));
    }
    let (addr, len) = match s.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (s, None),
    };
    let addr: IpAddr = addr.parse().map_err(|_| bad(format!("{addr:?} is not an address")))?;
    let width = if addr.is_ipv4() { 32 } else { 128 };
    let len = match len {
        None => width,
        Some(l) => {
            l.parse::<u8>().ok().filter(|l| *l <= width).ok_or_else(|| bad(format!("bad prefix length {l:?}")))?
        }
    };
    Ok(Some((addr, len)))
}

fn parse_port(s: &str) -> Result<u16, ParseError> {
    s.parse::<u16>().map_err(|_| bad(format!("bad port {s:?}")))
}

/// A port list with one element (`443` or `5683-5684`); several comma-separated ranges are valid
/// IPFilterRule but never written by Warden, so they are refused rather than half-read.
fn parse_ports(s: &str) -> Result<(u16, u16), ParseError> {
    if s.contains(',') {
        return Err(bad("port lists are not supported"));
    }
    let (lo, hi) = match s.split_once('-') {
        Some((a, b)) => (parse_port(a)?, parse_port(b)?),
        None => {
            let p = parse_port(s)?;
            (p, p)
        }
    };
    if lo > hi {
        return Err(bad(format!("port range {s:?} is reversed")));
    }
    Ok((lo, hi))
}

fn is_ports(s: &str) -> bool {
    s.bytes().next().is_some_and(|b| b.is_ascii_digit()) && !s.contains('.') && !s.contains(':') && !s.contains('/')
}

/// Reads `net [ports]` from `words`, leaving the iterator after it.
fn parse_endpoint<'a>(
    words: &mut std::iter::Peekable<impl Iterator<Item = &'a str>>,
    ue_side: bool,
) -> Result<Endpoint, ParseError> {
    let net = parse_net(words.next().ok_or_else(|| bad("address missing"))?, ue_side)?;
    let ports = match words.peek() {
        Some(w) if is_ports(w) => {
            let p = parse_ports(w)?;
            words.next();
            Some(p)
        }
        _ => None,
    };
    Ok(Endpoint { net, ports })
}

impl FromStr for FlowFilter {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, ParseError> {
        let mut words = s.split_ascii_whitespace().peekable();
        match words.next() {
            Some("permit") => {}
            other => return Err(bad(format!("action {other:?}: only \"permit\" is used on Gx"))),
        }
        match words.next() {
            Some("out") => {}
            other => return Err(bad(format!("direction {other:?}: only \"out\" is used on Gx"))),
        }
        let proto = match words.next() {
            Some("ip") => None,
            Some(p) => Some(p.parse::<u8>().map_err(|_| bad(format!("protocol {p:?} is not a number or \"ip\"")))?),
            None => return Err(bad("protocol missing")),
        };
        if words.next() != Some("from") {
            return Err(bad("\"from\" expected"));
        }
        let remote = parse_endpoint(&mut words, false)?;
        if words.next() != Some("to") {
            return Err(bad("\"to\" expected"));
        }
        let ue = parse_endpoint(&mut words, true)?;
        if let Some(rest) = words.next() {
            return Err(bad(format!("unexpected {rest:?} (options are not used on Gx)")));
        }
        Ok(FlowFilter { proto, remote, ue })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_gx_rules_and_reads_them_back() {
        let cases = [
            "permit out 6 from 203.0.113.7/32 443 to assigned",
            "permit out 17 from 2001:db8::/32 5683-5684 to assigned",
            "permit out ip from any to assigned",
            "permit out 17 from 192.0.2.53/32 53 to assigned",
            "permit out ip from 198.51.100.0/24 to 10.45.0.7/32 1000-2000",
        ];
        for text in cases {
            let f: FlowFilter = text.parse().unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(f.to_string(), text);
        }
        let f: FlowFilter = "permit out 6 from 203.0.113.7/32 443 to assigned".parse().unwrap();
        assert_eq!(f.proto, Some(6));
        assert_eq!(f.remote.net, Some(("203.0.113.7".parse().unwrap(), 32)));
        assert_eq!(f.remote.ports, Some((443, 443)));
        assert_eq!(f.ue, Endpoint::ANY);
        // A bare address is a host prefix.
        let f: FlowFilter = "permit out ip from 192.0.2.1 to assigned".parse().unwrap();
        assert_eq!(f.remote.net, Some(("192.0.2.1".parse().unwrap(), 32)));
    }

    #[test]
    fn refuses_what_gx_does_not_allow() {
        for text in [
            "deny out ip from any to any",
            "permit in ip from any to any",
            "permit out ip from any to any",
            "permit out ip from assigned to assigned",
            "permit out ip from !10.0.0.0/8 to assigned",
            "permit out ip from any to any frag",
            "permit out tcp from any to any",
            "permit out 6 from 10.0.0.0/33 to any",
            "permit out 6 from 10.0.0.0/8 2-1 to any",
            "permit out 6 from 10.0.0.0/8 1,2 to any",
            "permit out 6 from 10.0.0.0/8",
            "",
        ] {
            assert!(text.parse::<FlowFilter>().is_err(), "{text:?} accepted");
        }
    }

    #[test]
    fn directions_are_the_avp_values() {
        assert_eq!(Direction::Bidirectional.value(), 3);
        assert_eq!(Direction::from_value(2), Some(Direction::Uplink));
        assert_eq!(Direction::from_value(0), None);
    }
}
